//! Login and logout: a signed session, as a cookie and in the body (usable as a Bearer token).

use super::render_user;
use crate::auth::{caller_in, Authenticator, SESSION_COOKIE};
use crate::db::models::memberships_of;
use crate::db::{format_id, Db};
use crate::error::ApiError;
use crate::extract::JsonBody;
use actix_web::cookie::{time::Duration, Cookie, SameSite};
use actix_web::{get, post, web, HttpResponse};
use shared_models::hive::{InputLogin, OutputUser};
use std::sync::Arc;

async fn login(
    db: web::Data<Db>,
    auth: web::Data<Arc<Authenticator>>,
    input: InputLogin,
) -> Result<HttpResponse, ApiError> {
    if input.code.as_deref().is_some_and(|c| !c.is_empty()) {
        return Err(ApiError::BadRequest(
            "Multi-factor authentication is not enabled".into(),
        ));
    }
    let user = auth.check_password(&input.user, &input.password).await?;
    if user.locked {
        return Err(ApiError::Authentication(format!(
            "User {} is locked",
            user.login
        )));
    }
    let uid = user.id;
    let memberships = db.read(move |c| Ok(memberships_of(c, uid)?)).await?;
    let caller = caller_in(user, memberships, input.organisation.as_deref())?;
    let token = auth
        .sessions()
        .issue(
            &format_id(caller.user.id),
            caller.user.password_changed_at,
            Some(caller.organisation.name.clone()),
        )
        .map_err(ApiError::internal)?;
    let cookie = Cookie::build(SESSION_COOKIE, token.clone())
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .max_age(Duration::seconds(
            i64::try_from(auth.sessions().ttl_secs()).unwrap_or(i64::MAX),
        ))
        .finish();
    let mut body = serde_json::to_value(render_user(&caller.user, &caller.memberships, &caller))
        .map_err(ApiError::internal)?;
    body["token"] = serde_json::Value::String(token);
    Ok(HttpResponse::Ok().cookie(cookie).json(body))
}

/// Opens a session. The answer is the user plus `token`; the same token is set as the
/// `THEHIVE-SESSION` cookie and is accepted as `Authorization: Bearer`.
#[utoipa::path(tag = "login", request_body = InputLogin, responses((status = 200, body = OutputUser), (status = 401)))]
#[post("/api/v1/login")]
pub async fn login_v1(
    db: web::Data<Db>,
    auth: web::Data<Arc<Authenticator>>,
    body: JsonBody<InputLogin>,
) -> Result<HttpResponse, ApiError> {
    login(db, auth, body.0).await
}

/// Opens a session (legacy path).
#[utoipa::path(tag = "login", request_body = InputLogin, responses((status = 200, body = OutputUser), (status = 401)))]
#[post("/api/login")]
pub async fn login_v0(
    db: web::Data<Db>,
    auth: web::Data<Arc<Authenticator>>,
    body: JsonBody<InputLogin>,
) -> Result<HttpResponse, ApiError> {
    login(db, auth, body.0).await
}

fn logout() -> HttpResponse {
    let mut cookie = Cookie::build(SESSION_COOKIE, "").path("/").finish();
    cookie.make_removal();
    HttpResponse::NoContent().cookie(cookie).finish()
}

/// Ends the session cookie.
#[utoipa::path(tag = "login", responses((status = 204)))]
#[get("/api/v1/logout")]
pub async fn logout_v1() -> HttpResponse {
    logout()
}

/// Ends the session cookie (legacy path).
#[utoipa::path(tag = "login", responses((status = 204)))]
#[get("/api/logout")]
pub async fn logout_v0() -> HttpResponse {
    logout()
}
