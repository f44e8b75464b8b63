//! Multi-factor login (TOTP), as TheHive 4 and 5 offer it:
//!
//! - TheHive 5: `GET /api/v1/auth/totp/get` hands out a new secret `{secret, uri}`, then
//!   `POST /api/v1/auth/totp/set` `{code, secret}` switches it on with a valid code (204);
//! - TheHive 4: `POST /api/v1/auth/totp/set` without a pending secret answers `{secret,
//!   uri}`; called again with `{code}` it switches the pending secret on (204), 402 without a
//!   code, 401 for a wrong one;
//! - `POST /api/v1/auth/totp/unset` (oneself) and `/unset/{user}` (who manages the whole
//!   account, [`crate::access::accounts`]) switch it off.
//!
//! Then `POST /api/v1/login` needs `code`, and Basic auth takes `password:code`. The pending
//! and the active secret are kept encrypted; a wrong code counts towards the account's
//! limit of wrong codes (429 past it).

use crate::access::accounts;
use crate::audit::{Action, ObjectType};
use crate::auth::{totp, Authenticator, Caller};
use crate::db::models::{memberships_of, UserRow};
use crate::db::schema::users;
use crate::db::{now_ms, Db};
use crate::routes::audit_admin;
use crate::routes::{find_user, not_found};
use actix_web::{get, post, web, HttpResponse};
use diesel::prelude::*;
use serde::Deserialize;
use serde_json::{json, Value};
use service_kit::error::ApiError;
use service_kit::extract::JsonBody;
use std::sync::Arc;

/// Body of `POST /api/v1/auth/totp/set`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InputTotpSet {
    /// The current code (a number, or digits as a string).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub code: Option<Value>,
    /// The secret handed out by `GET /api/v1/auth/totp/get` (TheHive 5).
    #[serde(default)]
    pub secret: Option<String>,
}

fn code_of(v: &Option<Value>) -> Result<Option<String>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_u64().map(|n| format!("{n:06}"))),
        Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
        Some(_) => Err(ApiError::attribute("code", "expected the 6-digit code")),
    }
}

fn already(user: &UserRow) -> Result<(), ApiError> {
    if user.totp_secret.is_some() {
        Err(ApiError::BadRequest("TOTP is already configured".into()))
    } else {
        Ok(())
    }
}

/// Stores a new pending secret for the caller and answers it with its URI.
async fn hand_out(
    db: &Db,
    auth: &Authenticator,
    caller: &Caller,
) -> Result<HttpResponse, ApiError> {
    let secret = totp::new_secret();
    let sealed = auth
        .base()
        .vault
        .seal(&totp::context(caller.user.id), &secret)
        .map_err(ApiError::internal)?;
    let uid = caller.user.id;
    let audit_caller = caller.clone();
    db.write(move |c| {
        audit_admin(
            &audit_caller,
            Action::Update,
            ObjectType::User,
            uid,
            json!({"mfa": "pending"}),
        );
        diesel::update(users::table.find(uid).filter(users::totp_secret.is_null()))
            .set(users::totp_pending.eq(sealed))
            .execute(c)?;
        Ok(())
    })
    .await?;
    crate::auth::changed();
    let uri = totp::uri("TheHive", caller.login(), &secret);
    Ok(HttpResponse::Ok().json(json!({ "secret": secret, "uri": uri })))
}

/// A new TOTP secret for the caller to confirm (TheHive 5).
#[utoipa::path(tag = "auth", responses((status = 200, description = "`{secret, uri}`"), (status = 400)))]
#[get("/api/v1/auth/totp/get")]
pub async fn get_secret(
    db: web::Data<Db>,
    auth: web::Data<Arc<Authenticator>>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    already(&caller.user)?;
    hand_out(&db, &auth, &caller).await
}

/// Switches TOTP on for the caller (see the module documentation for both forms).
#[utoipa::path(tag = "auth", request_body = InputTotpSet, responses((status = 200, description = "`{secret, uri}` (first call without a secret)"), (status = 204), (status = 400), (status = 401), (status = 402), (status = 429)))]
#[post("/api/v1/auth/totp/set")]
pub async fn set_secret(
    db: web::Data<Db>,
    auth: web::Data<Arc<Authenticator>>,
    caller: Caller,
    body: JsonBody<InputTotpSet>,
) -> Result<HttpResponse, ApiError> {
    already(&caller.user)?;
    let input = body.0;
    let code = code_of(&input.code)?;
    let context = totp::context(caller.user.id);
    let secret = match input.secret.as_deref().map(str::trim) {
        Some(s) => {
            if s.len() < 16 || s.len() > 128 || totp::code_at(s, 0).is_none() {
                return Err(ApiError::attribute("secret", "expected a base32 secret"));
            }
            s.to_string()
        }
        None => match caller.user.totp_pending.as_deref() {
            Some(sealed) => auth
                .base()
                .vault
                .open(&context, sealed)
                .ok_or_else(|| ApiError::internal("the pending TOTP secret does not open"))?,
            None => return hand_out(&db, &auth, &caller).await,
        },
    };
    let Some(code) = code else {
        return Err(ApiError::MultiFactorRequired("MFA code is required".into()));
    };
    auth.refuse_if_codes_exhausted(&caller.user.login)?;
    let now = u64::try_from(now_ms() / 1000).unwrap_or(0);
    let Some(step) = totp::accept(&secret, &code, now, None) else {
        auth.note_wrong_code(&caller.user.login);
        return Err(ApiError::Authentication("MFA code is invalid".into()));
    };
    let sealed = auth
        .base()
        .vault
        .seal(&context, &secret)
        .map_err(ApiError::internal)?;
    let uid = caller.user.id;
    let audit_caller = caller.clone();
    db.write(move |c| {
        audit_admin(
            &audit_caller,
            Action::Update,
            ObjectType::User,
            uid,
            json!({"mfa": true}),
        );
        diesel::update(users::table.find(uid))
            .set((
                users::totp_secret.eq(Some(sealed)),
                users::totp_pending.eq(None::<String>),
                users::totp_last_step.eq(Some(step)),
            ))
            .execute(c)?;
        Ok(())
    })
    .await?;
    crate::auth::changed();
    tracing::info!(login = %caller.user.login, "TOTP switched on");
    Ok(HttpResponse::NoContent().finish())
}

async fn unset(db: &Db, caller: Caller, target: Option<String>) -> Result<HttpResponse, ApiError> {
    db.write(move |c| {
        let user = match &target {
            None => caller.user.clone(),
            Some(key) => {
                let user = find_user(c, key)?.ok_or_else(|| not_found("User", key))?;
                let memberships = memberships_of(c, user.id)?;
                if !accounts::may_see(&caller, &user, &memberships) {
                    return Err(not_found("User", key));
                }
                if user.id != caller.user.id {
                    accounts::require_manage_account(
                        &caller,
                        &user,
                        &memberships,
                        "unset the TOTP secret",
                    )?;
                }
                user
            }
        };
        audit_admin(
            &caller,
            Action::Update,
            ObjectType::User,
            user.id,
            json!({"mfa": false}),
        );
        diesel::update(users::table.find(user.id))
            .set((
                users::totp_secret.eq(None::<String>),
                users::totp_pending.eq(None::<String>),
                users::totp_last_step.eq(None::<i64>),
            ))
            .execute(c)?;
        tracing::info!(login = %user.login, by = %caller.user.login, "TOTP switched off");
        Ok(())
    })
    .await?;
    crate::auth::changed();
    Ok(HttpResponse::NoContent().finish())
}

/// Switches TOTP off for the caller.
#[utoipa::path(tag = "auth", responses((status = 204)))]
#[post("/api/v1/auth/totp/unset")]
pub async fn unset_own(db: web::Data<Db>, caller: Caller) -> Result<HttpResponse, ApiError> {
    unset(&db, caller, None).await
}

/// Switches TOTP off for a user (itself, or who manages its whole account).
#[utoipa::path(tag = "auth", responses((status = 204), (status = 403), (status = 404)))]
#[post("/api/v1/auth/totp/unset/{user}")]
pub async fn unset_user(
    db: web::Data<Db>,
    caller: Caller,
    user: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    unset(&db, caller, Some(user.into_inner())).await
}
