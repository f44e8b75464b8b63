//! Authentication primitives both services build their callers from: the credential a
//! request carries, password checks and login throttling, secrets and digests, signed
//! sessions, and the vault of secrets at rest. Who a caller is (users, organisations,
//! roles or permissions) is each service's own.

pub mod credential;
pub mod password;
pub mod secrets;
pub mod session;
pub mod vault;

pub use password::auth_failure;

use crate::db::Db;
use crate::error::ApiError;
use crate::http::RequestIdentity;
use crate::settings::AuthSettings;
use std::future::Future;

/// A service's authenticator: who a request's credential is. The kit runs it before any
/// handler of a route that is not public, keeps the caller in the request's extensions for
/// the handlers (see [`crate::caller_from_request!`]) and hands the handlers the
/// authenticator itself as `web::Data<Arc<Self>>`.
pub trait Authenticate: Send + Sync + 'static {
    /// Who calls, as the service's handlers take it.
    type Caller: Clone + Send + Sync + 'static;

    /// Resolves the caller of a request from its credential (and whatever else the service
    /// reads: an organisation header, the source address); a refusal is answered as is.
    fn authenticate_request(
        &self,
        req: &actix_web::HttpRequest,
    ) -> impl Future<Output = Result<Self::Caller, ApiError>>;

    /// Who the caller is, for the access log.
    fn identity(caller: &Self::Caller) -> RequestIdentity;
}

/// What both services' authenticators are built on: the database, the session signer, the
/// password checker (with its per-account lockout), whether Basic is accepted, and the vault
/// of secrets at rest. Each service adds its own caller resolution on top.
pub struct AuthBase {
    /// The service's database.
    pub db: Db,
    /// Signs and checks session tokens.
    pub sessions: session::SessionKeys,
    /// Checks passwords off the async threads, with the login lockout.
    pub passwords: password::PasswordChecker,
    /// `auth.basic`.
    pub basic_enabled: bool,
    /// Opens API keys and other secrets stored encrypted.
    pub vault: vault::Vault,
}

impl std::fmt::Debug for AuthBase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthBase")
            .field("basic_enabled", &self.basic_enabled)
            .finish_non_exhaustive()
    }
}

/// An account row as the kit's password and session checks read it.
pub trait Account: Send + 'static {
    /// The stored password hash (argon2 PHC string), if the account has a password.
    fn password_hash(&self) -> Option<&str>;
    /// When the password last changed, epoch ms: sessions opened before are void.
    fn password_changed_at(&self) -> i64;
}

/// Implements [`Account`] for a row struct with the kit's credential columns
/// (`password_hash: Option<String>`, `password_changed_at: i64`).
#[macro_export]
macro_rules! account_row {
    ($row:ty) => {
        impl $crate::auth::Account for $row {
            fn password_hash(&self) -> Option<&str> {
                self.password_hash.as_deref()
            }

            fn password_changed_at(&self) -> i64 {
                self.password_changed_at
            }
        }
    };
}

impl AuthBase {
    /// Checks a login and password (the login route, Basic, a password change) from
    /// `source`: the login trimmed, its account loaded by `find`, the password verified as
    /// [`AuthBase::verify_password`] does; an empty or over-long login is refused after the
    /// same work. Answers the account.
    pub async fn check_password<U: Account>(
        &self,
        login: &str,
        password: &str,
        source: Option<std::net::IpAddr>,
        find: fn(&mut crate::db::DbConn, &str) -> diesel::QueryResult<Option<U>>,
    ) -> Result<U, ApiError> {
        let login = login.trim().to_string();
        let user = if login.is_empty() || login.len() > 512 {
            None
        } else {
            let lookup = login.clone();
            self.db.read(move |c| Ok(find(c, &lookup)?)).await?
        };
        self.verify_password(&login, user, password, source).await
    }

    /// Checks `password` for the account found under `login`, or for none (the same work is
    /// done, then refused), throttled per account and `source` ([`password::PasswordChecker`]);
    /// answers the account.
    pub async fn verify_password<U: Account>(
        &self,
        login: &str,
        user: Option<U>,
        password: &str,
        source: Option<std::net::IpAddr>,
    ) -> Result<U, ApiError> {
        let stored = user.as_ref().and_then(U::password_hash);
        self.passwords
            .verify(login, password, stored, source)
            .await?;
        user.ok_or_else(auth_failure)
    }

    /// Refuses Basic authentication when `auth.basic` is off (401).
    pub fn require_basic(&self) -> Result<(), ApiError> {
        if self.basic_enabled {
            Ok(())
        } else {
            Err(ApiError::Authentication(
                "Basic authentication is disabled (auth.basic)".into(),
            ))
        }
    }

    /// `secret` signs sessions; `settings` are the service's `auth` section.
    pub fn new(db: Db, secret: &[u8], settings: &AuthSettings, vault: vault::Vault) -> Self {
        AuthBase {
            db,
            sessions: session::SessionKeys::new(secret, settings.session_ttl_secs),
            passwords: password::PasswordChecker::new(
                settings.basic_cache_secs,
                settings.max_failed_logins,
                settings.lockout_window_secs,
            ),
            basic_enabled: settings.basic,
            vault,
        }
    }
}
