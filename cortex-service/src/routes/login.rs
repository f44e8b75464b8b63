//! Login and logout: a server-side session, its signed token as the `CORTEX_SESSION` cookie
//! (also usable as Bearer). Logout ends the session on the server.

use crate::auth::session;
use crate::auth::{caller_for, load_user, Authenticator, SESSION_COOKIE};
use crate::db::Db;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde_json::json;
use service_kit::error::ApiError;
use service_kit::extract::JsonBody;
use shared_models::cortex::InputLogin;
use std::sync::Arc;

/// Opens a session: answers `{id, name, roles, token}` and sets the cookie.
#[utoipa::path(tag = "login", request_body = InputLogin, responses((status = 200), (status = 401), (status = 429)))]
#[post("/api/login")]
pub async fn login(
    db: web::Data<Db>,
    auth: web::Data<Arc<Authenticator>>,
    req: HttpRequest,
    body: JsonBody<InputLogin>,
) -> Result<HttpResponse, ApiError> {
    let source = service_kit::http::client_ip(&req);
    let user = auth
        .base()
        .check_password(&body.0.user, &body.0.password, source, load_user)
        .await?;
    let caller = caller_for(&db, user).await?;
    let token = auth.open_session(&caller.user).await?;
    tracing::info!(login = %caller.user.id, source = ?source, "login");
    let cookie = session::cookie(
        SESSION_COOKIE,
        token.clone(),
        auth.base().sessions.ttl_secs(),
    );
    Ok(HttpResponse::Ok().cookie(cookie).json(json!({
        "id": caller.user.id, "name": caller.user.name, "roles": caller.roles, "token": token,
    })))
}

/// Ends the session of the request (cookie or session token) and clears the cookie.
#[utoipa::path(tag = "login", responses((status = 204)))]
#[get("/api/logout")]
pub async fn logout(
    db: web::Data<Db>,
    auth: web::Data<Arc<Authenticator>>,
    req: HttpRequest,
) -> HttpResponse {
    session::logout(&db, &auth.base().sessions, &req, SESSION_COOKIE).await
}
