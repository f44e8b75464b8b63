//! Connector routes as an instance without connectors answers them: MISP is not configured.

use crate::auth::Caller;
use actix_web::{get, post, web, HttpResponse};
use serde_json::json;
use service_kit::error::ApiError;

/// MISP connector status: no server configured.
#[utoipa::path(tag = "connector", responses((status = 200, description = "`{status: {}, syncInProgress: false}`")))]
#[get("/api/v1/connector/misp/status")]
pub async fn misp_status(_caller: Caller) -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": {}, "syncInProgress": false}))
}

/// MISP synchronisation: no MISP server is configured, so there is nothing to synchronise
/// (empty answer, for any authenticated caller).
#[utoipa::path(tag = "connector", responses((status = 200, description = "empty")))]
#[get("/api/v1/connector/misp/_syncAlerts")]
pub async fn misp_sync(_caller: Caller) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().finish())
}

/// Export of a case to a MISP server: no server of that name is configured.
/// Also answered on the legacy path `/api/connector/misp/export/...` (thehive4py 1.x).
#[utoipa::path(tag = "connector", params(("v" = String, Path, description = "empty, or `/v1`")), responses((status = 404, description = "MISP server <name> not found")))]
#[post("/api{v:(/v1)?}/connector/misp/export/{case_id}/{misp_name}")]
pub async fn misp_export(
    _caller: Caller,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (_, _, name) = path.into_inner();
    Err(ApiError::NotFound(format!("MISP server {name} not found")))
}
