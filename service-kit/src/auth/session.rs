//! Sessions (both services): a signed token (JWT,
//! HS256) returned by the login endpoint and accepted as the session cookie or a Bearer
//! token. The token names a session id (`sid`) that the service keeps in its `sessions`
//! table, by digest: logout, a lock, a password change or a removed membership deletes the
//! row and the token stops working at once, though its signature is still good.
//!
//! Each service's migrations create its `sessions` table with at least the columns of
//! [`sessions`] (and its own user column): what opening, ending and purging sessions share
//! lives here.

use crate::db::{Db, DbConn};
use crate::error::ApiError;
use diesel::prelude::*;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

diesel::table! {
    /// The columns of a service's `sessions` table every service has.
    sessions (id) {
        /// [`session_key`] of the session id.
        id -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
    }
}

/// A session just signed, to be stored by the service with its user.
#[derive(Debug)]
pub struct NewSession {
    /// The token handed to the client.
    pub token: String,
    /// The row's `id`.
    pub key: String,
    /// Now, epoch ms.
    pub created_at: i64,
    /// Its end, epoch ms.
    pub expires_at: i64,
}

/// Ends the session a token names, if it is a valid one.
pub async fn close(db: &Db, keys: &SessionKeys, token: &str) -> Result<(), ApiError> {
    if let Some(claims) = keys.verify(token) {
        let key = session_key(&claims.sid);
        db.write(move |c| {
            diesel::delete(sessions::table.find(key)).execute(c)?;
            Ok(())
        })
        .await?;
    }
    Ok(())
}

/// The answer to a logout: the request's session (cookie or session token) ended on the
/// server, the cookie cleared; a request without one is answered the same (204).
pub async fn logout(
    db: &Db,
    keys: &SessionKeys,
    req: &actix_web::HttpRequest,
    cookie_name: &str,
) -> actix_web::HttpResponse {
    if let Some(t) = super::credential::session_token_of(req, cookie_name) {
        if let Err(e) = close(db, keys, &t).await {
            tracing::warn!(error = %e, "could not end a session at logout");
        }
    }
    actix_web::HttpResponse::NoContent()
        .cookie(removal(cookie_name))
        .finish()
}

/// Removes the expired sessions; answers how many (the sweeper's pass).
pub fn purge_expired(c: &mut DbConn) -> QueryResult<usize> {
    diesel::delete(sessions::table.filter(sessions::expires_at.lt(crate::db::now_ms()))).execute(c)
}

/// The session cookie: HTTP-only, same-site strict, for the session's lifetime.
pub fn cookie(name: &str, token: String, ttl_secs: u64) -> actix_web::cookie::Cookie<'static> {
    actix_web::cookie::Cookie::build(name.to_string(), token)
        .path("/")
        .http_only(true)
        .same_site(actix_web::cookie::SameSite::Strict)
        .max_age(actix_web::cookie::time::Duration::seconds(
            i64::try_from(ttl_secs).unwrap_or(i64::MAX),
        ))
        .finish()
}

/// A cookie that removes the session cookie.
pub fn removal(name: &str) -> actix_web::cookie::Cookie<'static> {
    let mut c = actix_web::cookie::Cookie::build(name.to_string(), "")
        .path("/")
        .finish();
    c.make_removal();
    c
}

/// What a session token says.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// User id (`~123`).
    pub sub: String,
    /// Issued at, seconds.
    pub iat: i64,
    /// Expires at, seconds.
    pub exp: i64,
    /// The user's `password_changed_at` when issued: a later change voids the session.
    pub pwd: i64,
    /// Organisation chosen at login, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    /// The session id, kept by the service as [`session_key`].
    #[serde(default)]
    pub sid: String,
}

/// A new session: its id (in the token) and the key the service stores it under.
pub fn new_session_id() -> (String, String) {
    let sid = super::secrets::random_token(32);
    let key = session_key(&sid);
    (sid, key)
}

/// The key a session id is stored under (its SHA-256, so the table alone opens nothing).
pub fn session_key(sid: &str) -> String {
    super::secrets::sha256_hex(sid.as_bytes())
}

/// Keys that sign and check sessions.
pub struct SessionKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    ttl_secs: u64,
    /// Key of the sessions' CSRF tokens (derived from the instance secret).
    csrf_key: [u8; 32],
}

impl SessionKeys {
    /// Keys from the instance secret.
    pub fn new(secret: &[u8], ttl_secs: u64) -> Self {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(b"csrf-token-key\0");
        h.update(secret);
        SessionKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            ttl_secs,
            csrf_key: h.finalize().into(),
        }
    }

    /// Session lifetime in seconds.
    pub fn ttl_secs(&self) -> u64 {
        self.ttl_secs
    }

    /// When a session issued now expires, epoch ms.
    pub fn expires_at_ms(&self) -> i64 {
        crate::db::now_ms()
            .saturating_add(i64::try_from(self.ttl_secs).unwrap_or(i64::MAX / 2000) * 1000)
    }

    /// Signs a new session for a user (`user_id` as the API shows it).
    pub fn open(
        &self,
        user_id: &str,
        password_changed_at: i64,
        org: Option<String>,
    ) -> Result<NewSession, ApiError> {
        let (sid, key) = new_session_id();
        let token = self
            .issue(user_id, password_changed_at, org, &sid)
            .map_err(ApiError::internal)?;
        Ok(NewSession {
            token,
            key,
            created_at: crate::db::now_ms(),
            expires_at: self.expires_at_ms(),
        })
    }

    /// Signs a new session for a user and stores it with `store` (the service's insert of
    /// its own `sessions` row, given the session's key and times); answers the token.
    pub async fn open_stored<F>(
        &self,
        db: &Db,
        user_id: &str,
        password_changed_at: i64,
        org: Option<String>,
        store: F,
    ) -> Result<String, ApiError>
    where
        F: FnOnce(&mut DbConn, &NewSession) -> QueryResult<usize> + Send + 'static,
    {
        let s = self.open(user_id, password_changed_at, org)?;
        db.write(move |c| {
            store(c, &s)?;
            Ok(s.token)
        })
        .await
    }

    /// The account of a live session and the session's claims: a good signature, not
    /// expired, its row still in the service's `sessions` table (logout, a lock or a removed
    /// membership deletes it), the account `load` finds for the claims, and no password change
    /// since the session opened (a change ends every session opened before it). The row check
    /// and the load run on one connection, in one trip to the blocking pool.
    pub async fn live_user<U, F>(
        &self,
        db: &Db,
        token: &str,
        load: F,
    ) -> Result<(U, Claims), ApiError>
    where
        U: super::Account,
        F: FnOnce(&mut DbConn, &Claims) -> QueryResult<Option<U>> + Send + 'static,
    {
        let claims = self
            .verify(token)
            .ok_or_else(crate::auth::password::auth_failure)?;
        let key = session_key(&claims.sid);
        let (user, claims) = db
            .read(move |c| {
                let open: i64 = sessions::table
                    .find(key)
                    .filter(sessions::expires_at.gt(crate::db::now_ms()))
                    .count()
                    .get_result(c)?;
                let user = if open == 0 { None } else { load(c, &claims)? };
                Ok((user, claims))
            })
            .await?;
        match user {
            Some(u) if u.password_changed_at() == claims.pwd => Ok((u, claims)),
            _ => Err(crate::auth::password::auth_failure()),
        }
    }

    /// Signs a session for a user.
    pub fn issue(
        &self,
        user_id: &str,
        password_changed_at: i64,
        org: Option<String>,
        sid: &str,
    ) -> Result<String, String> {
        let now = crate::db::now_ms() / 1000;
        let claims = Claims {
            sub: user_id.to_string(),
            iat: now,
            exp: now + i64::try_from(self.ttl_secs).unwrap_or(i64::MAX / 2),
            pwd: password_changed_at,
            org,
            sid: sid.to_string(),
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| format!("cannot sign session: {e}"))
    }

    /// The CSRF token of the session a (validly signed) session token names: an HMAC of the
    /// session id, the same for the session's whole life on every instance, useless for
    /// another session. Pages carry it; a request that changes data with the session
    /// cookie must send it back as `X-CSRF-Token` ([`super::credential::credential_of`]).
    pub fn csrf_token(&self, session_token: &str) -> Option<String> {
        use hmac::Mac;
        let claims = self.verify(session_token)?;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.csrf_key).ok()?;
        mac.update(claims.sid.as_bytes());
        Some(hex::encode(mac.finalize().into_bytes()))
    }

    /// Whether `given` is the CSRF token of the session `session_token` (constant time).
    pub fn csrf_matches(&self, session_token: &str, given: &str) -> bool {
        use hmac::Mac;
        let (Some(claims), Ok(given)) = (self.verify(session_token), hex::decode(given.trim()))
        else {
            return false;
        };
        let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.csrf_key) else {
            return false;
        };
        mac.update(claims.sid.as_bytes());
        mac.verify_slice(&given).is_ok()
    }

    /// Checks a token's signature and expiry (a token without a session id is refused).
    pub fn verify(&self, token: &str) -> Option<Claims> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        decode::<Claims>(token, &self.decoding, &validation)
            .ok()
            .map(|d| d.claims)
            .filter(|c| !c.sid.is_empty())
    }
}

/// Whether a Bearer credential is a session token rather than an API key.
pub fn looks_like_token(s: &str) -> bool {
    s.starts_with("eyJ") && s.matches('.').count() == 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_and_verify() {
        let keys = SessionKeys::new(b"0123456789abcdef0123456789abcdef", 60);
        let (sid, key) = new_session_id();
        assert_eq!(key, session_key(&sid));
        let t = keys
            .issue("~1", 7, Some("org".into()), &sid)
            .expect("signs");
        assert!(looks_like_token(&t));
        let c = keys.verify(&t).expect("valid");
        assert_eq!(
            (c.sub.as_str(), c.pwd, c.org.as_deref(), c.sid.as_str()),
            ("~1", 7, Some("org"), sid.as_str())
        );
        let other = SessionKeys::new(b"another-secret-another-secret-xx", 60);
        assert!(other.verify(&t).is_none());
    }
}
