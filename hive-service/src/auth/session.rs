//! Signed sessions (JWT, HS256) returned by the login endpoint and accepted as the
//! `THEHIVE-SESSION` cookie or a Bearer token.

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

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
}

/// Keys that sign and check sessions.
pub struct SessionKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    ttl_secs: u64,
}

impl SessionKeys {
    /// Keys from the instance secret.
    pub fn new(secret: &[u8], ttl_secs: u64) -> Self {
        SessionKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            ttl_secs,
        }
    }

    /// Session lifetime in seconds.
    pub fn ttl_secs(&self) -> u64 {
        self.ttl_secs
    }

    /// Signs a session for a user.
    pub fn issue(
        &self,
        user_id: &str,
        password_changed_at: i64,
        org: Option<String>,
    ) -> Result<String, String> {
        let now = crate::db::now_ms() / 1000;
        let claims = Claims {
            sub: user_id.to_string(),
            iat: now,
            exp: now + i64::try_from(self.ttl_secs).unwrap_or(i64::MAX / 2),
            pwd: password_changed_at,
            org,
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| format!("cannot sign session: {e}"))
    }

    /// Checks a token's signature and expiry.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        decode::<Claims>(token, &self.decoding, &validation)
            .ok()
            .map(|d| d.claims)
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
        let t = keys.issue("~1", 7, Some("org".into())).expect("signs");
        assert!(looks_like_token(&t));
        let c = keys.verify(&t).expect("valid");
        assert_eq!(
            (c.sub.as_str(), c.pwd, c.org.as_deref()),
            ("~1", 7, Some("org"))
        );
        let other = SessionKeys::new(b"another-secret-another-secret-xx", 60);
        assert!(other.verify(&t).is_none());
    }
}
