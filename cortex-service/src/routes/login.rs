//! Login and logout: a signed session as the `CORTEX_SESSION` cookie (also usable as Bearer).

use crate::auth::{caller_for, Authenticator, SESSION_COOKIE};
use crate::db::Db;
use crate::error::ApiError;
use crate::extract::JsonBody;
use actix_web::cookie::{time::Duration, Cookie, SameSite};
use actix_web::{get, post, web, HttpResponse};
use serde_json::json;
use shared_models::cortex::InputLogin;
use std::sync::Arc;

/// Opens a session: answers `{id, name, roles, token}` and sets the cookie.
#[utoipa::path(tag = "login", request_body = InputLogin, responses((status = 200), (status = 401)))]
#[post("/api/login")]
pub async fn login(
    db: web::Data<Db>,
    auth: web::Data<Arc<Authenticator>>,
    body: JsonBody<InputLogin>,
) -> Result<HttpResponse, ApiError> {
    let user = auth.check_password(&body.0.user, &body.0.password).await?;
    let caller = caller_for(&db, user).await?;
    let token = auth
        .sessions()
        .issue(&caller.user.id, caller.user.password_changed_at, None)
        .map_err(ApiError::internal)?;
    let cookie = Cookie::build(SESSION_COOKIE, token.clone())
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .max_age(Duration::seconds(
            i64::try_from(auth.sessions().ttl_secs()).unwrap_or(i64::MAX),
        ))
        .finish();
    Ok(HttpResponse::Ok().cookie(cookie).json(json!({
        "id": caller.user.id, "name": caller.user.name, "roles": caller.roles, "token": token,
    })))
}

/// Ends the session cookie.
#[utoipa::path(tag = "login", responses((status = 204)))]
#[get("/api/logout")]
pub async fn logout() -> HttpResponse {
    let mut cookie = Cookie::build(SESSION_COOKIE, "").path("/").finish();
    cookie.make_removal();
    HttpResponse::NoContent().cookie(cookie).finish()
}
