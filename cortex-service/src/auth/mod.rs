//! Who is calling. Credentials, in order: `Authorization: Bearer <API key or session token>`
//! (what cortex4py and TheHive send), `Authorization: Basic` when `auth.basic` is on, then
//! the `CORTEX_SESSION` cookie from `POST /api/login`. A user is in one organization; roles
//! are literal (`orgadmin` does not imply `analyze`). Unknown users and wrong passwords get
//! the same answer after the same work; a successful password check is remembered briefly;
//! failed logins are throttled per source address and per account without locking the owner
//! out. Sessions live in the `sessions` table: logout, a lock or a password change ends them.
//! The service's middleware resolves the caller ([`authenticate_request`]) before any
//! handler reads the request.

pub use service_kit::auth::{credential, password, secrets, session, vault};

use crate::db::schema::{organizations, sessions, users};
use crate::db::{now_ms, Db, DbConn, OrganizationRow, UserRow};
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use diesel::prelude::*;
use futures_util::future::LocalBoxFuture;
use service_kit::error::ApiError;
use shared_models::cortex::Role;
use std::net::IpAddr;
use std::sync::Arc;

use credential::{credential_of, Credential};
pub use password::auth_failure;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "CORTEX_SESSION";
/// The organization of superadmins.
pub const ADMIN_ORG: &str = "cortex";

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The account (`id` is the login).
    pub user: UserRow,
    /// Its organization.
    pub organization: OrganizationRow,
    /// Its roles.
    pub roles: Vec<Role>,
}

impl Caller {
    /// The caller's login.
    pub fn login(&self) -> &str {
        &self.user.id
    }

    /// Whether the caller holds `role`.
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// 403 unless the caller holds one of `roles`.
    pub fn require_any(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.iter().any(|r| self.has(*r)) {
            Ok(())
        } else {
            let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
            Err(ApiError::Authorization(format!(
                "User {} needs one of the roles {}",
                self.login(),
                names.join(", ")
            )))
        }
    }
}

/// Authentication settings and state shared by all workers.
pub struct Authenticator {
    db: Db,
    sessions: session::SessionKeys,
    basic_enabled: bool,
    passwords: password::PasswordChecker,
    vault: vault::Vault,
}

/// Ends every session of a user (lock, password change).
pub fn end_sessions(c: &mut DbConn, login: &str) -> QueryResult<usize> {
    diesel::delete(sessions::table.filter(sessions::user_id.eq(login))).execute(c)
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator").finish_non_exhaustive()
    }
}

fn load_user(c: &mut crate::db::DbConn, login: &str) -> QueryResult<Option<UserRow>> {
    users::table
        .find(login)
        .select(UserRow::as_select())
        .first(c)
        .optional()
}

impl Authenticator {
    /// Builds the authenticator; `secret` signs sessions, `vault` opens stored keys.
    pub fn new(
        db: Db,
        secret: &[u8],
        settings: &crate::config::AuthSettings,
        vault: vault::Vault,
    ) -> Self {
        Authenticator {
            vault,
            db,
            sessions: session::SessionKeys::new(secret, settings.session_ttl_secs),
            basic_enabled: settings.basic,
            passwords: password::PasswordChecker::new(
                settings.basic_cache_secs,
                settings.max_failed_logins,
                settings.lockout_window_secs,
            ),
        }
    }

    /// The session signer.
    pub fn sessions(&self) -> &session::SessionKeys {
        &self.sessions
    }

    /// What encrypts API keys at rest.
    pub fn vault(&self) -> &vault::Vault {
        &self.vault
    }

    /// Checks a login and password from `source`; returns the user.
    pub async fn check_password(
        &self,
        login: &str,
        password: &str,
        source: Option<IpAddr>,
    ) -> Result<UserRow, ApiError> {
        let login = login.trim().to_string();
        if login.is_empty() || login.len() > 512 {
            return Err(auth_failure());
        }
        let lookup = login.clone();
        let user = self.db.read(move |c| Ok(load_user(c, &lookup)?)).await?;
        let stored = user.as_ref().and_then(|u| u.password_hash.as_deref());
        self.passwords
            .verify(&login, password, stored, source)
            .await?;
        user.ok_or_else(auth_failure)
    }

    /// Opens a session for `user`: stores it and signs its token.
    pub async fn open_session(&self, user: &UserRow) -> Result<String, ApiError> {
        let s = self
            .sessions
            .open(&user.id, user.password_changed_at, None)?;
        let login = user.id.clone();
        self.db
            .write(move |c| {
                diesel::insert_into(sessions::table)
                    .values((
                        sessions::id.eq(s.key),
                        sessions::user_id.eq(login),
                        sessions::created_at.eq(s.created_at),
                        sessions::expires_at.eq(s.expires_at),
                    ))
                    .execute(c)?;
                Ok(())
            })
            .await?;
        Ok(s.token)
    }

    /// Ends the request's session and clears its cookie (logout).
    pub async fn logout(&self, req: &HttpRequest) -> actix_web::HttpResponse {
        session::logout(&self.db, &self.sessions, req, SESSION_COOKIE).await
    }

    async fn authenticate(
        &self,
        req: Credential,
        source: Option<IpAddr>,
    ) -> Result<Caller, ApiError> {
        let user = match req {
            Credential::Bearer(token) if session::looks_like_token(&token) => {
                self.user_by_session(&token).await?
            }
            Credential::Bearer(key) => {
                let digest = secrets::sha256_hex(key.as_bytes());
                self.db
                    .read(move |c| {
                        Ok(users::table
                            .filter(users::api_key_hash.eq(digest))
                            .select(UserRow::as_select())
                            .first(c)
                            .optional()?)
                    })
                    .await?
                    .ok_or_else(auth_failure)?
            }
            Credential::Basic { login, password } => {
                if !self.basic_enabled {
                    return Err(ApiError::Authentication(
                        "Basic authentication is disabled (auth.basic)".into(),
                    ));
                }
                self.check_password(&login, &password, source).await?
            }
            Credential::Cookie(token) => self.user_by_session(&token).await?,
        };
        caller_for(&self.db, user).await
    }

    async fn user_by_session(&self, token: &str) -> Result<UserRow, ApiError> {
        let claims = self.sessions.verify(token).ok_or_else(auth_failure)?;
        let login = claims.sub.clone();
        let key = session::session_key(&claims.sid);
        let user = self
            .db
            .read(move |c| {
                Ok(sessions::table
                    .inner_join(users::table)
                    .filter(sessions::id.eq(key))
                    .filter(sessions::user_id.eq(login))
                    .filter(sessions::expires_at.gt(now_ms()))
                    .select(UserRow::as_select())
                    .first(c)
                    .optional()?)
            })
            .await?
            .ok_or_else(auth_failure)?;
        if user.password_changed_at != claims.pwd {
            return Err(auth_failure());
        }
        Ok(user)
    }
}

/// Builds the caller for a user: refuses locked users and locked organizations.
pub async fn caller_for(db: &Db, user: UserRow) -> Result<Caller, ApiError> {
    if user.status != "Ok" {
        return Err(ApiError::Authentication(format!(
            "User {} is locked",
            user.id
        )));
    }
    let org_id = user.organization_id.clone();
    let organization = db
        .read(move |c| {
            Ok(organizations::table
                .find(org_id)
                .select(OrganizationRow::as_select())
                .first(c)?)
        })
        .await?;
    if organization.status != "Active" {
        return Err(ApiError::Authorization(format!(
            "Organization {} is locked",
            organization.id
        )));
    }
    let roles = user.role_list();
    Ok(Caller {
        user,
        organization,
        roles,
    })
}

/// Resolves the caller of a request from its credential and source address. The service's
/// middleware runs it before any handler (and keeps the caller in the request's extensions),
/// so that a request is refused before its body is read.
pub async fn authenticate_request(req: &HttpRequest) -> Result<Caller, ApiError> {
    let auth = req
        .app_data::<web::Data<Arc<Authenticator>>>()
        .cloned()
        .ok_or_else(|| ApiError::internal("authenticator missing"))?;
    let credential = credential_of(req, SESSION_COOKIE)?.ok_or_else(auth_failure)?;
    auth.authenticate(credential, service_kit::http::client_ip(req))
        .await
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        if let Some(caller) = req.extensions().get::<Caller>().cloned() {
            return Box::pin(async move { Ok(caller) });
        }
        let req = req.clone();
        Box::pin(async move { authenticate_request(&req).await })
    }
}

/// The vault context of a user's API key.
pub fn key_context(login: &str) -> String {
    format!("api_key:{login}")
}

/// Stores (or, `None`, revokes) the API key of `login`: its digest for lookups and the key
/// encrypted for reading it back.
pub fn store_key_row(
    c: &mut DbConn,
    vault: &crate::auth::vault::Vault,
    login: &str,
    key: Option<&str>,
    by: &str,
) -> Result<(), ApiError> {
    let (digest, sealed) = vault
        .key_columns(&key_context(login), key)
        .map_err(ApiError::internal)?;
    diesel::update(users::table.find(login))
        .set((
            users::api_key_hash.eq(digest),
            users::api_key_secret.eq(sealed),
            users::updated_by.eq(by),
            users::updated_at.eq(now_ms()),
        ))
        .execute(c)?;
    Ok(())
}
