//! Status, health and licence: what probes and the clients' start-up checks read.

use crate::auth::Caller;
use crate::db::Db;
use crate::error::ApiError;
use crate::messaging::Broker;
use actix_web::{get, web, HttpResponse};
use diesel::prelude::*;
use serde_json::json;

fn status_body(db: &Db, broker: &Broker) -> serde_json::Value {
    json!({
        "versions": {
            "TheHive": "5.5.0",
            "hive-service": env!("CARGO_PKG_VERSION"),
        },
        "config": {
            "protectDownloadsWith": "malware",
            "authType": ["session", "key", "basic"],
            "capabilities": ["changePassword", "setPassword", "authByKey"],
            "ssoAutoLogin": false,
            "pollingDuration": 1000,
        },
        "hive-service": {
            "database": if db.is_sqlite() { "sqlite" } else { "postgresql" },
            "broker": broker.state(),
        },
    })
}

/// Instance status (no credentials needed).
#[utoipa::path(tag = "status", responses((status = 200, description = "versions and configuration")))]
#[get("/api/status")]
pub async fn status(db: web::Data<Db>, broker: web::Data<Broker>) -> HttpResponse {
    HttpResponse::Ok().json(status_body(&db, &broker))
}

/// Instance status, v1 path (no credentials needed).
#[utoipa::path(tag = "status", responses((status = 200, description = "versions and configuration")))]
#[get("/api/v1/status")]
pub async fn status_v1(db: web::Data<Db>, broker: web::Data<Broker>) -> HttpResponse {
    HttpResponse::Ok().json(status_body(&db, &broker))
}

/// Health: 200 when the database answers, 503 otherwise (no credentials needed).
#[utoipa::path(tag = "status", responses((status = 200), (status = 503)))]
#[get("/api/health")]
pub async fn health(db: web::Data<Db>) -> Result<HttpResponse, ApiError> {
    db.read(|c| {
        diesel::sql_query("SELECT 1").execute(c)?;
        Ok(())
    })
    .await
    .map_err(|e| ApiError::Unavailable(format!("database: {e}")))?;
    Ok(HttpResponse::Ok().json(json!({"status": "OK"})))
}

/// The licence: an open-source build has no limits and never expires.
#[utoipa::path(tag = "status", responses((status = 200, description = "licence")))]
#[get("/api/v1/license/current")]
pub async fn license(_caller: Caller) -> HttpResponse {
    // 2100-01-01T00:00:00Z
    let never = 4_102_444_800_000_i64;
    let limits = json!({"organisation": null, "user": null, "case": null, "alert": null});
    HttpResponse::Ok().json(json!({
        "current": {"type": "Community", "expiresAt": never, "limits": limits, "features": []},
        "fallback": {"type": "Community", "expiresAt": never, "limits": limits, "features": []},
        "status": "Valid",
    }))
}
