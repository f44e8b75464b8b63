//! Status, health and licence: what probes and the clients' start-up checks read.

use crate::auth::Caller;
use crate::db::Db;
use actix_web::{get, web, HttpResponse};
use diesel::prelude::*;
use serde_json::json;
use service_kit::error::ApiError;
use service_kit::messaging::Broker;

/// The `connectors.cortex` part: each server checked (at most every 10 s), and an overall
/// status as TheHive reports it (`OK`, `WARNING` when some are down, `ERROR` when all are).
async fn cortex_status(state: &crate::ServiceState) -> serde_json::Value {
    if !state.cortex.enabled() {
        return json!({"enabled": false, "status": "OK", "servers": []});
    }
    let servers = state.cortex.status().await;
    let up = servers.iter().filter(|s| s.status == "OK").count();
    let overall = match up {
        0 => "ERROR",
        n if n == servers.len() => "OK",
        _ => "WARNING",
    };
    json!({
        "enabled": true,
        "status": overall,
        "servers": servers.iter().map(|s| {
            let mut v = json!({"name": s.name, "status": s.status});
            if let Some(version) = &s.version {
                v["version"] = json!(version);
            }
            v
        }).collect::<Vec<_>>(),
    })
}

async fn status_body(db: &Db, broker: &Broker, state: &crate::ServiceState) -> serde_json::Value {
    json!({
        "connectors": {"cortex": cortex_status(state).await},
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
pub async fn status(
    db: web::Data<Db>,
    broker: web::Data<Broker>,
    state: web::Data<crate::ServiceState>,
) -> HttpResponse {
    HttpResponse::Ok().json(status_body(&db, &broker, &state).await)
}

/// Instance status, v1 path (no credentials needed).
#[utoipa::path(tag = "status", responses((status = 200, description = "versions and configuration")))]
#[get("/api/v1/status")]
pub async fn status_v1(
    db: web::Data<Db>,
    broker: web::Data<Broker>,
    state: web::Data<crate::ServiceState>,
) -> HttpResponse {
    HttpResponse::Ok().json(status_body(&db, &broker, &state).await)
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
