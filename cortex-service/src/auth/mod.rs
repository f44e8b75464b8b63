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
use actix_web::HttpRequest;
use diesel::prelude::*;
use service_kit::auth::{AuthBase, Authenticate};
use service_kit::error::ApiError;
use service_kit::http::RequestIdentity;
use shared_models::cortex::Role;
use std::net::IpAddr;

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
#[derive(Debug)]
pub struct Authenticator {
    base: AuthBase,
}

/// Renders a user (no secrets).
pub fn render_user(u: &UserRow) -> shared_models::cortex::OutputUser {
    shared_models::cortex::OutputUser {
        id: u.id.clone(),
        underscore_id: u.id.clone(),
        kind: "user".into(),
        name: u.name.clone(),
        roles: u.role_list(),
        status: if u.status == "Ok" {
            shared_models::cortex::UserStatus::Ok
        } else {
            shared_models::cortex::UserStatus::Locked
        },
        organization: u.organization_id.clone(),
        has_key: u.api_key_hash.is_some(),
        has_password: u.password_hash.is_some(),
        created_at: u.created_at,
        created_by: u.created_by.clone(),
        updated_at: u.updated_at,
        updated_by: u.updated_by.clone(),
    }
}

/// Ends every session of a user (lock, password change).
pub fn end_sessions(c: &mut DbConn, login: &str) -> QueryResult<usize> {
    diesel::delete(sessions::table.filter(sessions::user_id.eq(login))).execute(c)
}

/// The user `login`, if any.
pub fn load_user(c: &mut crate::db::DbConn, login: &str) -> QueryResult<Option<UserRow>> {
    users::table
        .find(login)
        .select(UserRow::as_select())
        .first(c)
        .optional()
}

impl Authenticator {
    /// Builds the authenticator on the kit's credentials (`base`).
    pub fn new(base: AuthBase) -> Self {
        Authenticator { base }
    }

    /// The database, the session signer and the vault of API keys.
    pub fn base(&self) -> &AuthBase {
        &self.base
    }

    /// Opens a session for `user`: stores it and signs its token.
    pub async fn open_session(&self, user: &UserRow) -> Result<String, ApiError> {
        let login = user.id.clone();
        self.base
            .sessions
            .open_stored(
                &self.base.db,
                &user.id,
                user.password_changed_at,
                None,
                move |c, s| {
                    diesel::insert_into(sessions::table)
                        .values((
                            sessions::user_id.eq(login),
                            sessions::id.eq(&s.key),
                            sessions::created_at.eq(s.created_at),
                            sessions::expires_at.eq(s.expires_at),
                        ))
                        .execute(c)
                },
            )
            .await
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
                self.base
                    .db
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
                self.base.require_basic()?;
                self.base
                    .check_password(&login, &password, source, load_user)
                    .await?
            }
            Credential::Cookie(token) => self.user_by_session(&token).await?,
        };
        caller_for(&self.base.db, user).await
    }

    /// The user of a live session.
    async fn user_by_session(&self, token: &str) -> Result<UserRow, ApiError> {
        let (user, _) = self
            .base
            .sessions
            .live_user(&self.base.db, token, |c, claims| load_user(c, &claims.sub))
            .await?;
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

impl Authenticate for Authenticator {
    type Caller = Caller;

    /// Resolves the caller of a request from its credential and source address. The service's
    /// middleware runs it before any handler (and keeps the caller in the request's extensions),
    /// so that a request is refused before its body is read.
    async fn authenticate_request(&self, req: &HttpRequest) -> Result<Caller, ApiError> {
        let credential =
            credential_of(req, SESSION_COOKIE, &self.base.sessions)?.ok_or_else(auth_failure)?;
        self.authenticate(credential, service_kit::http::client_ip(req))
            .await
    }

    fn identity(caller: &Caller) -> RequestIdentity {
        RequestIdentity {
            user: caller.login().to_string(),
            organisation: caller.organization.id.clone(),
        }
    }
}

service_kit::caller_from_request!(Caller, Authenticator);

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
