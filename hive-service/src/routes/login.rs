//! Login and logout: a server-side session, its signed token as a cookie and in the body
//! (usable as a Bearer token). Logout ends the session on the server.

use super::render_user;
use crate::auth::session;
use crate::auth::{caller_in, Authenticator, SESSION_COOKIE};
use crate::db::models::memberships_of;
use crate::db::Db;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use service_kit::error::ApiError;
use service_kit::extract::JsonBody;
use shared_models::hive::{InputLogin, OutputUser};
use std::sync::Arc;

async fn login(
    db: web::Data<Db>,
    auth: web::Data<Arc<Authenticator>>,
    req: HttpRequest,
    input: InputLogin,
) -> Result<HttpResponse, ApiError> {
    let source = service_kit::http::client_ip(&req);
    let user = auth
        .check_password(&input.user, &input.password, source)
        .await?;
    auth.check_code(&user, input.code.as_deref()).await?;
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
        .open_session(&caller.user, Some(caller.organisation.name.clone()))
        .await?;
    tracing::info!(login = %caller.user.login, source = ?source, "login");
    let cookie = session::cookie(
        SESSION_COOKIE,
        token.clone(),
        auth.base().sessions.ttl_secs(),
    );
    let mut body = serde_json::to_value(render_user(&caller.user, &caller.memberships, &caller))
        .map_err(ApiError::internal)?;
    body["token"] = serde_json::Value::String(token);
    Ok(HttpResponse::Ok().cookie(cookie).json(body))
}

/// Opens a session. The answer is the user plus `token`; the same token is set as the
/// `THEHIVE-SESSION` cookie and is accepted as `Authorization: Bearer`. An account with
/// TOTP needs `code` (402 `MultiFactorCodeRequired` without it).
#[utoipa::path(tag = "login", request_body = InputLogin, responses((status = 200, body = OutputUser), (status = 401), (status = 402), (status = 429)))]
#[post("/api/v1/login")]
pub async fn login_v1(
    db: web::Data<Db>,
    auth: web::Data<Arc<Authenticator>>,
    req: HttpRequest,
    body: JsonBody<InputLogin>,
) -> Result<HttpResponse, ApiError> {
    login(db, auth, req, body.0).await
}

/// Opens a session (legacy path).
#[utoipa::path(tag = "login", request_body = InputLogin, responses((status = 200, body = OutputUser), (status = 401), (status = 402), (status = 429)))]
#[post("/api/login")]
pub async fn login_v0(
    db: web::Data<Db>,
    auth: web::Data<Arc<Authenticator>>,
    req: HttpRequest,
    body: JsonBody<InputLogin>,
) -> Result<HttpResponse, ApiError> {
    login(db, auth, req, body.0).await
}

/// Ends the session of the request (cookie or session token) on the server and clears the
/// cookie; a request without one is answered the same.
async fn logout(auth: web::Data<Arc<Authenticator>>, req: HttpRequest) -> HttpResponse {
    auth.logout(&req).await
}

/// Ends the session.
#[utoipa::path(tag = "login", responses((status = 204)))]
#[get("/api/v1/logout")]
pub async fn logout_v1(auth: web::Data<Arc<Authenticator>>, req: HttpRequest) -> HttpResponse {
    logout(auth, req).await
}

/// Ends the session (as TheHive 4's web interface posts it).
#[utoipa::path(tag = "login", responses((status = 204)))]
#[post("/api/v1/logout")]
pub async fn logout_v1_post(auth: web::Data<Arc<Authenticator>>, req: HttpRequest) -> HttpResponse {
    logout(auth, req).await
}

/// Ends the session (legacy path).
#[utoipa::path(tag = "login", responses((status = 204)))]
#[get("/api/logout")]
pub async fn logout_v0(auth: web::Data<Arc<Authenticator>>, req: HttpRequest) -> HttpResponse {
    logout(auth, req).await
}

/// Ends the session (legacy path, POST).
#[utoipa::path(tag = "login", responses((status = 204)))]
#[post("/api/logout")]
pub async fn logout_v0_post(auth: web::Data<Arc<Authenticator>>, req: HttpRequest) -> HttpResponse {
    logout(auth, req).await
}
