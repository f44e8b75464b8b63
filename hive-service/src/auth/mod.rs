//! Who is calling, and in which organisation.
//!
//! Credentials, tried in this order: `Authorization: Bearer <session token or API key>`,
//! `Authorization: Basic` (login and password, `password:code` for accounts with TOTP; a
//! successful check is remembered briefly, keyed by a digest of the credentials, and
//! forgotten as soon as the password changes, on any instance), then the `THEHIVE-SESSION`
//! cookie set by the login endpoint. The organisation comes from `X-Organisation` (name or
//! id), else the session's, else the user's default one.
//!
//! The caller is resolved by [`authenticate_request`], which the service's middleware runs
//! before any handler reads the path, the query or the body: a request without a valid
//! credential is answered 401 whatever it carries. Unknown users and wrong passwords get the
//! same answer after the same work; failed logins are throttled per source address and per
//! account without locking the rightful owner out ([`password::Throttle`]).

pub mod totp;

pub use service_kit::auth::{credential, password, secrets, session, vault};

use credential::{credential_of, Credential};
pub use password::auth_failure;

use crate::db::models::{memberships_of, Membership, OrganisationRow, ProfileRow, UserRow};
use crate::db::schema::{sessions, users};
use crate::db::{format_id, now_ms, parse_id, DbConn};
use crate::domain::permissions;
use actix_web::HttpRequest;
use diesel::prelude::*;
use service_kit::auth::{AuthBase, Authenticate};
use service_kit::error::ApiError;
use service_kit::http::RequestIdentity;
use std::net::IpAddr;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "THEHIVE-SESSION";
/// The cookie of the console's organisation switch: the organisation a cookie-authenticated
/// request acts in when it names none in `X-Organisation`.
pub const ORG_COOKIE: &str = "THEHIVE-ORGANISATION";
/// Login of the account that owns built-in data.
pub const SYSTEM_LOGIN: &str = "system@thehive.local";
/// Name of the platform administration organisation.
pub const ADMIN_ORG: &str = "admin";

/// Wrong TOTP codes for one account within the window before codes are refused (429).
const MAX_MFA_FAILURES: u32 = 5;
/// The window of [`MAX_MFA_FAILURES`].
const MFA_WINDOW: std::time::Duration = std::time::Duration::from_secs(15 * 60);

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
    base: AuthBase,
    mfa: password::Throttle,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("basic_enabled", &self.base.basic_enabled)
            .finish_non_exhaustive()
    }
}

/// Stores a session just opened for the user `uid` acting in `org`.
fn store_session(
    c: &mut DbConn,
    s: &session::NewSession,
    uid: i64,
    org: Option<String>,
) -> QueryResult<usize> {
    diesel::insert_into(sessions::table)
        .values((
            sessions::id.eq(&s.key),
            sessions::user_id.eq(uid),
            sessions::organisation.eq(org),
            sessions::created_at.eq(s.created_at),
            sessions::expires_at.eq(s.expires_at),
        ))
        .execute(c)
}

/// Ends every session of a user (lock, password change, removed membership).
pub fn end_sessions(c: &mut DbConn, user_id: i64) -> QueryResult<usize> {
    diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id))).execute(c)
}

impl Authenticator {
    /// Builds the authenticator on the kit's credentials (`base`).
    pub fn new(base: AuthBase) -> Self {
        Authenticator {
            keys: KeyCache::default(),
            base,
            mfa: password::Throttle::new(MAX_MFA_FAILURES, MFA_WINDOW),
        }
    }

    /// The database, the session signer and the vault of API keys and TOTP secrets.
    pub fn base(&self) -> &AuthBase {
        &self.base
    }

    /// The login as stored (trimmed, lower case) and its account, if any.
    async fn find_login(&self, login: &str) -> Result<(String, Option<UserRow>), ApiError> {
        let login = login.trim().to_lowercase();
        if login.is_empty() || login.len() > 512 {
            return Ok((login, None));
        }
        let lookup = login.clone();
        let user = self
            .base
            .db
            .read(move |c| {
                Ok(users::table
                    .filter(users::login.eq(lookup))
                    .select(UserRow::as_select())
                    .first(c)
                    .optional()?)
            })
            .await?;
        Ok((login, user))
    }

    /// Checks a login and password (login endpoint and Basic auth) from `source`. Returns
    /// the user.
    pub async fn check_password(
        &self,
        login: &str,
        password: &str,
        source: Option<IpAddr>,
    ) -> Result<UserRow, ApiError> {
        let (login, user) = self.find_login(login).await?;
        self.base
            .verify_password(&login, user, password, source)
            .await
    }

    /// Checks the second factor of `user` (who has TOTP set up): 402 without a code, 401
    /// for a wrong one, 429 after [`MAX_MFA_FAILURES`] wrong codes in a while. A code is
    /// accepted once.
    pub async fn check_code(&self, user: &UserRow, code: Option<&str>) -> Result<(), ApiError> {
        let Some(sealed) = user.totp_secret.as_deref() else {
            return Ok(());
        };
        let code = code
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .ok_or_else(|| ApiError::MultiFactorRequired("MFA code is required".into()))?;
        self.refuse_if_codes_exhausted(&user.login)?;
        let secret = self
            .base
            .vault
            .open(&totp::context(user.id), sealed)
            .ok_or_else(|| ApiError::internal("the TOTP secret does not open with this key"))?;
        let now = u64::try_from(now_ms() / 1000).unwrap_or(0);
        match totp::accept(&secret, code, now, user.totp_last_step) {
            Some(step) => {
                let (uid, previous) = (user.id, user.totp_last_step);
                // Taken once: a concurrent login with the same code loses the race.
                let taken = self
                    .base
                    .db
                    .write(move |c| {
                        let q = users::table.find(uid);
                        let n = match previous {
                            Some(p) => diesel::update(q.filter(users::totp_last_step.eq(p)))
                                .set(users::totp_last_step.eq(step))
                                .execute(c)?,
                            None => diesel::update(q.filter(users::totp_last_step.is_null()))
                                .set(users::totp_last_step.eq(step))
                                .execute(c)?,
                        };
                        Ok(n == 1)
                    })
                    .await?;
                if !taken {
                    return Err(ApiError::Authentication("Invalid MFA code".into()));
                }
                self.mfa.succeed(None, &user.login);
                Ok(())
            }
            None => {
                self.note_wrong_code(&user.login);
                Err(ApiError::Authentication("Invalid MFA code".into()))
            }
        }
    }

    /// 429 once an account gave [`MAX_MFA_FAILURES`] wrong codes within the window.
    pub fn refuse_if_codes_exhausted(&self, login: &str) -> Result<(), ApiError> {
        if self.mfa.account_failures(login) >= MAX_MFA_FAILURES {
            tracing::warn!(login, "MFA code throttled");
            return Err(ApiError::TooManyRequests(
                "Too many wrong MFA codes for this account; try again later".into(),
            ));
        }
        Ok(())
    }

    /// Counts a wrong code for an account (logged).
    pub fn note_wrong_code(&self, login: &str) {
        self.mfa.fail(None, login, "MFA code");
    }

    /// Opens a session for `user` acting in `org`: stores it and signs its token.
    pub async fn open_session(
        &self,
        user: &UserRow,
        org: Option<String>,
    ) -> Result<String, ApiError> {
        let uid = user.id;
        let user_id = format_id(uid);
        let claimed = org.clone();
        self.base
            .sessions
            .open_stored(
                &self.base.db,
                &user_id,
                user.password_changed_at,
                claimed,
                move |c, s| store_session(c, s, uid, org),
            )
            .await
    }

    /// Ends the request's session and clears its cookie (the four logout routes).
    pub async fn logout(&self, req: &HttpRequest) -> actix_web::HttpResponse {
        session::logout(&self.base.db, &self.base.sessions, req, SESSION_COOKIE).await
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
            .base.db
            .read(move |c| {
                let digest = key_digest;
                // On the concrete connection: its statement is prepared once.
                let rows: Vec<(UserRow, MembershipRow, OrganisationRow, ProfileRow)> =
                    service_kit::on_backend!(c, conn => memberships::table
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

    /// The user of a live session, and the organisation chosen at login.
    async fn user_by_session(&self, token: &str) -> Result<(UserRow, Option<String>), ApiError> {
        let (user, claims) = self
            .base
            .sessions
            .live_user(&self.base.db, token, |c, claims| {
                let Some(id) = parse_id(&claims.sub) else {
                    return Ok(None);
                };
                users::table
                    .find(id)
                    .select(UserRow::as_select())
                    .first(c)
                    .optional()
            })
            .await?;
        Ok((user, claims.org))
    }

    async fn authenticate(
        &self,
        credential: Credential,
        organisation: Option<String>,
        source: Option<IpAddr>,
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
                self.base.require_basic()?;
                (self.check_basic(&login, &password, source).await?, None)
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
        let memberships = self
            .base
            .db
            .read(move |c| Ok(memberships_of(c, uid)?))
            .await?;
        caller_in(user, memberships, organisation.or(session_org).as_deref())
    }

    /// Basic auth: `password`, or `password:code` for an account with TOTP (as TheHive).
    async fn check_basic(
        &self,
        login: &str,
        password: &str,
        source: Option<IpAddr>,
    ) -> Result<UserRow, ApiError> {
        let (login, user) = self.find_login(login).await?;
        let split = password
            .rsplit_once(':')
            .filter(|(_, code)| code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()));
        match (
            user.as_ref().is_some_and(|u| u.totp_secret.is_some()),
            split,
        ) {
            (true, Some((head, code))) => {
                let user = self
                    .base
                    .verify_password(&login, user, head, source)
                    .await?;
                self.check_code(&user, Some(code)).await?;
                Ok(user)
            }
            (has_totp, _) => {
                let user = self
                    .base
                    .verify_password(&login, user, password, source)
                    .await?;
                if has_totp {
                    self.check_code(&user, None).await?;
                }
                Ok(user)
            }
        }
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
    if chosen.organisation.locked {
        return Err(ApiError::Authorization(format!(
            "Organisation {} is locked",
            chosen.organisation.name
        )));
    }
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

impl Authenticate for Authenticator {
    type Caller = Caller;

    /// Resolves the caller of a request from its credential, organisation header and source
    /// address. The service's middleware runs it before any handler (and keeps the caller in
    /// the request's extensions), so that a request is refused before its body is read.
    async fn authenticate_request(&self, req: &HttpRequest) -> Result<Caller, ApiError> {
        let credential =
            credential_of(req, SESSION_COOKIE, &self.base.sessions)?.ok_or_else(auth_failure)?;
        let organisation = req
            .headers()
            .get("X-Organisation")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .or_else(|| match credential {
                // The console's organisation switch (a membership is still required).
                Credential::Cookie(_) => req.cookie(ORG_COOKIE).and_then(|c| {
                    percent_encoding::percent_decode_str(c.value())
                        .decode_utf8()
                        .ok()
                        .map(|s| s.into_owned())
                        .filter(|s| !s.is_empty() && s.len() <= 256)
                }),
                _ => None,
            });
        let source = service_kit::http::client_ip(req);
        self.authenticate(credential, organisation, source).await
    }

    fn identity(caller: &Caller) -> RequestIdentity {
        RequestIdentity {
            user: caller.login().to_string(),
            organisation: caller.organisation.name.clone(),
        }
    }
}

service_kit::caller_from_request!(Caller, Authenticator);

/// The `_id` of a user as shown on the wire.
pub fn user_wire_id(user: &UserRow) -> String {
    format_id(user.id)
}

/// Milliseconds now, for audit fields.
pub fn stamp() -> i64 {
    now_ms()
}

/// The vault context of a user's API key.
pub fn key_context(user_id: i64) -> String {
    format!("api_key:{}", format_id(user_id))
}
