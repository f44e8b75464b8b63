//! Status: what TheHive's health check and cortex4py's `status()` read.

use crate::auth::Caller;
use crate::db::Db;
use actix_web::{get, web, HttpResponse};
use serde_json::json;
use service_kit::messaging::Broker;

/// Versions and configuration (no credentials needed). TheHive reads `versions.Cortex`.
#[utoipa::path(tag = "status", responses((status = 200, description = "versions and configuration")))]
#[get("/api/status")]
pub async fn status(db: web::Data<Db>, broker: web::Data<Broker>) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "versions": {"Cortex": "3.1.8", "cortex-service": env!("CARGO_PKG_VERSION")},
        "config": {
            "protectDownloadsWith": "malware",
            "authType": ["key", "session"],
            "capabilities": ["setPassword", "changePassword", "authByKey"],
            "ssoAutoLogin": false,
        },
        "cortex-service": {
            "database": if db.is_sqlite() { "sqlite" } else { "postgresql" },
            "broker": broker.state(),
        },
    }))
}

/// The current user, with `preferences`.
#[utoipa::path(tag = "user", responses((status = 200, body = shared_models::cortex::OutputUser), (status = 401)))]
#[get("/api/user/current")]
pub async fn current_user(caller: Caller) -> HttpResponse {
    let mut body = serde_json::to_value(super::render_user(&caller.user)).unwrap_or_default();
    body["preferences"] = json!({});
    HttpResponse::Ok().json(body)
}
