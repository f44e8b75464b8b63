//! Who is calling, and in which organisation.
//!
//! Credentials, tried in this order: `Authorization: Bearer <session token or API key>`,
//! `Authorization: Basic` (login and password; a successful check is remembered briefly,
//! keyed by a digest of the credentials, and forgotten as soon as the password changes, on
//! any instance), then the `THEHIVE-SESSION` cookie set by the login endpoint. The
//! organisation comes from `X-Organisation` (name or id), else the user's default one.
//! Unknown users and wrong passwords get the same answer after the same work.

pub mod credential;
pub mod password;
pub mod secrets;
pub mod session;

use credential::{credential_of, Credential};
pub use password::auth_failure;

use crate::db::models::{memberships_of, Membership, OrganisationRow, ProfileRow, UserRow};
use crate::db::schema::users;
use crate::db::{format_id, now_ms, parse_id, Db};
use crate::domain::permissions;
use crate::error::ApiError;
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use diesel::prelude::*;
use futures_util::future::LocalBoxFuture;
use std::sync::Arc;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "THEHIVE-SESSION";
/// Login of the account that owns built-in data.
pub const SYSTEM_LOGIN: &str = "system@thehive.local";
/// Name of the platform administration organisation.
pub const ADMIN_ORG: &str = "admin";

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The account.
    pub user: UserRow,
    /// Every organisation the user belongs to.
    pub memberships: Vec<Membership>,
    /// The organisation this request acts in.
    pub organisation: OrganisationRow,
    /// The user's profile in that organisation.
    pub profile: ProfileRow,
    /// That profile's permissions.
    pub permissions: Vec<String>,
}

impl Caller {
    /// The caller's login.
    pub fn login(&self) -> &str {
        &self.user.login
    }

    /// Whether the caller holds `permission` in the current organisation.
    pub fn has(&self, permission: &str) -> bool {
        permissions::grants(&self.permissions, permission)
    }

    /// 403 unless the caller holds `permission` in the current organisation.
    pub fn require(&self, permission: &str) -> Result<(), ApiError> {
        if self.has(permission) {
            Ok(())
        } else {
            Err(ApiError::Authorization(format!(
                "User {} does not have permission {permission} in organisation {}",
                self.user.login, self.organisation.name
            )))
        }
    }

    /// Whether the caller administers the platform (acting in the `admin` organisation
    /// with `permission`).
    pub fn is_platform_admin(&self, permission: &str) -> bool {
        self.organisation.name == ADMIN_ORG && self.has(permission)
    }

    /// Whether the caller administers the platform through any of their memberships (a
    /// profile granting `permission` in the `admin` organisation), whichever organisation
    /// the request acts in.
    pub fn holds_platform_permission(&self, permission: &str) -> bool {
        self.memberships.iter().any(|m| {
            m.organisation.name == ADMIN_ORG
                && permissions::grants(&m.profile.permission_list(), permission)
        })
    }

    /// Whether the caller is a member of the organisation with this id.
    pub fn is_member_of(&self, organisation_id: i64) -> bool {
        self.memberships
            .iter()
            .any(|m| m.organisation.id == organisation_id)
    }
}

/// Bumped whenever users, memberships, profiles or organisations change on this instance;
/// cached API-key lookups older than the last change are ignored.
static GENERATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Records a change to users, memberships, profiles or organisations (API keys, locks...).
pub fn changed() {
    GENERATION.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
}

/// How long an API-key lookup is reused: another instance's change to that user (revoked
/// key, lock, membership) takes effect at most this late; this instance's at once.
const KEY_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(1);
const KEY_CACHE_MAX: usize = 10_000;

type KeyCache = std::sync::Mutex<
    std::collections::HashMap<String, (std::time::Instant, u64, UserRow, Vec<Membership>)>,
>;

/// Authentication settings and state shared by all workers.
pub struct Authenticator {
    keys: KeyCache,
    db: Db,
    sessions: session::SessionKeys,
    basic_enabled: bool,
    passwords: password::PasswordChecker,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("basic_enabled", &self.basic_enabled)
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    /// Builds the authenticator; `secret` signs sessions.
    pub fn new(db: Db, secret: &[u8], settings: &crate::config::AuthSettings) -> Self {
        Authenticator {
            keys: KeyCache::default(),
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

    /// Checks a login and password (login endpoint and Basic auth). Returns the user.
    pub async fn check_password(&self, login: &str, password: &str) -> Result<UserRow, ApiError> {
        let login = login.trim().to_lowercase();
        let lookup = login.clone();
        let user: Option<UserRow> = self
            .db
            .read(move |c| {
                Ok(users::table
                    .filter(users::login.eq(lookup))
                    .select(UserRow::as_select())
                    .first(c)
                    .optional()?)
            })
            .await?;
        let stored = user.as_ref().and_then(|u| u.password_hash.as_deref());
        self.passwords.verify(&login, password, stored).await?;
        user.ok_or_else(auth_failure)
    }

    /// The user holding an API key, with their memberships (one query).
    async fn user_by_api_key(&self, key: &str) -> Result<(UserRow, Vec<Membership>), ApiError> {
        use crate::db::models::MembershipRow;
        use crate::db::schema::{memberships, organisations, profiles};
        let digest = secrets::sha256_hex(key.as_bytes());
        let generation = GENERATION.load(std::sync::atomic::Ordering::SeqCst);
        if let Ok(cache) = self.keys.lock() {
            if let Some((at, g, user, memberships)) = cache.get(&digest) {
                if *g == generation && at.elapsed() < KEY_CACHE_TTL {
                    return Ok((user.clone(), memberships.clone()));
                }
            }
        }
        let key_digest = digest.clone();
        let found = self
            .db
            .read(move |c| {
                let digest = key_digest;
                // On the concrete connection: its statement is prepared once.
                let rows: Vec<(UserRow, MembershipRow, OrganisationRow, ProfileRow)> =
                    crate::on_backend!(c, conn => memberships::table
                        .inner_join(users::table)
                        .inner_join(organisations::table)
                        .inner_join(profiles::table)
                        .filter(users::api_key_hash.eq(&digest))
                        .order(organisations::name.asc())
                        .select((
                            UserRow::as_select(),
                            MembershipRow::as_select(),
                            OrganisationRow::as_select(),
                            ProfileRow::as_select(),
                        ))
                        .load(conn)?);
                let mut user = None;
                let mut list = Vec::with_capacity(rows.len());
                for (u, m, organisation, profile) in rows {
                    list.push(Membership {
                        organisation,
                        profile,
                        is_default: m.is_default,
                    });
                    user = Some(u);
                }
                if user.is_none() {
                    // A key of a user without any membership.
                    user = users::table
                        .filter(users::api_key_hash.eq(&digest))
                        .select(UserRow::as_select())
                        .first(c)
                        .optional()?;
                }
                Ok(user.map(|u| (u, list)))
            })
            .await?
            .ok_or_else(auth_failure)?;
        if let Ok(mut cache) = self.keys.lock() {
            if cache.len() >= KEY_CACHE_MAX {
                cache.clear();
            }
            cache.insert(
                digest,
                (
                    std::time::Instant::now(),
                    generation,
                    found.0.clone(),
                    found.1.clone(),
                ),
            );
        }
        Ok(found)
    }

    async fn user_by_session(&self, token: &str) -> Result<(UserRow, Option<String>), ApiError> {
        let claims = self.sessions.verify(token).ok_or_else(auth_failure)?;
        let id = parse_id(&claims.sub).ok_or_else(auth_failure)?;
        let user = self
            .db
            .read(move |c| {
                Ok(users::table
                    .find(id)
                    .select(UserRow::as_select())
                    .first(c)
                    .optional()?)
            })
            .await?
            .ok_or_else(auth_failure)?;
        // A password change ends every session opened before it.
        if user.password_changed_at != claims.pwd {
            return Err(auth_failure());
        }
        Ok((user, claims.org))
    }

    /// Resolves the caller of a request.
    async fn authenticate(
        &self,
        credential: Credential,
        organisation: Option<String>,
    ) -> Result<Caller, ApiError> {
        let (user, session_org) = match credential {
            Credential::Bearer(token) => {
                if session::looks_like_token(&token) {
                    self.user_by_session(&token).await?
                } else {
                    let (user, memberships) = self.user_by_api_key(&token).await?;
                    if user.locked {
                        return Err(ApiError::Authentication(format!(
                            "User {} is locked",
                            user.login
                        )));
                    }
                    return caller_in(user, memberships, organisation.as_deref());
                }
            }
            Credential::Basic { login, password } => {
                if !self.basic_enabled {
                    return Err(ApiError::Authentication(
                        "Basic authentication is disabled (auth.basic)".into(),
                    ));
                }
                (self.check_password(&login, &password).await?, None)
            }
            Credential::Cookie(token) => self.user_by_session(&token).await?,
        };
        if user.locked {
            return Err(ApiError::Authentication(format!(
                "User {} is locked",
                user.login
            )));
        }
        let uid = user.id;
        let memberships = self.db.read(move |c| Ok(memberships_of(c, uid)?)).await?;
        caller_in(user, memberships, organisation.or(session_org).as_deref())
    }
}

/// Builds the caller for `user` acting in `organisation` (name or `~id`), else in their
/// default organisation.
pub fn caller_in(
    user: UserRow,
    memberships: Vec<Membership>,
    organisation: Option<&str>,
) -> Result<Caller, ApiError> {
    let chosen = match organisation.map(str::trim).filter(|o| !o.is_empty()) {
        Some(wanted) => {
            let id = parse_id(wanted);
            memberships
                .iter()
                .find(|m| Some(m.organisation.id) == id || m.organisation.name == wanted)
                .ok_or_else(|| {
                    ApiError::Authorization(format!(
                        "User {} is not a member of organisation {wanted}",
                        user.login
                    ))
                })?
        }
        None => memberships
            .iter()
            .find(|m| m.is_default)
            .or_else(|| memberships.first())
            .ok_or_else(|| {
                ApiError::Authorization(format!(
                    "User {} is not a member of any organisation",
                    user.login
                ))
            })?,
    };
    let organisation = chosen.organisation.clone();
    let profile = chosen.profile.clone();
    let permissions = profile.permission_list();
    Ok(Caller {
        user,
        memberships,
        organisation,
        profile,
        permissions,
    })
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let auth = req.app_data::<web::Data<Arc<Authenticator>>>().cloned();
        let credential = credential_of(req, SESSION_COOKIE);
        let organisation = req
            .headers()
            .get("X-Organisation")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        Box::pin(async move {
            let auth = auth.ok_or_else(|| ApiError::internal("authenticator missing"))?;
            let credential = credential?.ok_or_else(auth_failure)?;
            auth.authenticate(credential, organisation).await
        })
    }
}

/// The `_id` of a user as shown on the wire.
pub fn user_wire_id(user: &UserRow) -> String {
    format_id(user.id)
}

/// Milliseconds now, for audit fields.
pub fn stamp() -> i64 {
    now_ms()
}
