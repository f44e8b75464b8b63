//! Notification settings and state, as TheHive 4 sets them (`/api/config/...`, answered on
//! both API versions' clients), and the delivery state of each endpoint (`/api/v1/...`).

use crate::audit::{Action, ObjectType};
use crate::auth::{Caller, ADMIN_ORG};
use crate::db::Db;
use crate::notify::{self, config as ncfg};
use crate::routes::audit_admin;
use crate::ServiceState;
use actix_web::{get, post, put, web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};
use service_kit::error::ApiError;
use service_kit::extract::JsonBody;

/// The body of `PUT /api/config/...`: `{"value": ...}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct InputConfigValue {
    /// The new value.
    #[schema(value_type = Object)]
    pub value: Value,
}

shared_models::inputs! { InputConfigValue => [] }

fn require_platform_admin(caller: &Caller) -> Result<(), ApiError> {
    if caller.is_platform_admin("manageConfig") {
        Ok(())
    } else {
        Err(ApiError::Authorization(format!(
            "manageConfig in organisation {ADMIN_ORG} is needed"
        )))
    }
}

/// The organisation's notification list (`{path, defaultValue, value}`).
#[utoipa::path(tag = "notification", responses((status = 200, description = "`{path, defaultValue, value}`")))]
#[get("/api/config/organisation/notification")]
pub async fn get_org_notification(
    db: web::Data<Db>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let org = caller.organisation.id;
    let value = db.read(move |c| Ok(notify::org_list(c, org)?)).await?;
    Ok(
        HttpResponse::Ok()
            .json(json!({"path": "notification", "defaultValue": [], "value": value})),
    )
}

/// Sets the organisation's notification list (`manageConfig`); applies at once.
#[utoipa::path(tag = "notification", request_body = InputConfigValue, responses((status = 200, description = "`{path, defaultValue, value}`"), (status = 400), (status = 403)))]
#[put("/api/config/organisation/notification")]
pub async fn set_org_notification(
    db: web::Data<Db>,
    state: web::Data<ServiceState>,
    caller: Caller,
    body: JsonBody<InputConfigValue>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageConfig")?;
    let value = body.0.value;
    let list = ncfg::parse_notifications(&value)?;
    for n in list.iter() {
        if let ncfg::Notifier::Webhook { endpoint } = &n.notifier {
            if state.notifier.endpoint(endpoint).is_none() {
                return Err(ApiError::attribute(
                    "notifier.endpoint",
                    format!("Webhook configuration `{endpoint}` not found"),
                ));
            }
        }
    }
    let text = value.to_string();
    let org = caller.organisation.id;
    let login = caller.login().to_string();
    let shown = value.clone();
    db.write(move |c| {
        audit_admin(
            &caller,
            Action::Update,
            ObjectType::Config,
            org,
            json!({"path": notify::ORG_PATH, "value": value}),
        );
        notify::store(c, org, notify::ORG_PATH, &text, &login)?;
        Ok(())
    })
    .await?;
    state.notifier.changed().await?;
    Ok(
        HttpResponse::Ok()
            .json(json!({"path": "notification", "defaultValue": [], "value": shown})),
    )
}

/// The webhook endpoints (platform administrators): the configuration file's as
/// `defaultValue`, those set through the API as `value`; secrets masked.
#[utoipa::path(tag = "notification", responses((status = 200, description = "`{path, description, defaultValue, value}`"), (status = 403)))]
#[get("/api/config/notification.webhook.endpoints")]
pub async fn get_endpoints(
    state: web::Data<ServiceState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    require_platform_admin(&caller)?;
    let n = &state.notifier;
    let value: Vec<Value> = n
        .api_endpoints()
        .iter()
        .map(ncfg::ApiEndpoint::shown)
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "path": notify::ENDPOINTS_PATH,
        "description": "webhook configuration list",
        "defaultValue": n.file_endpoints_shown(),
        "value": value,
    })))
}

/// Sets the webhook endpoints of the API (platform administrators); a masked secret keeps
/// the stored one. Addresses inside the organisation's networks are refused unless
/// `notification.allowed_networks` lists them.
#[utoipa::path(tag = "notification", request_body = InputConfigValue, responses((status = 204), (status = 400), (status = 403)))]
#[put("/api/config/notification.webhook.endpoints")]
pub async fn set_endpoints(
    db: web::Data<Db>,
    state: web::Data<ServiceState>,
    caller: Caller,
    body: JsonBody<InputConfigValue>,
) -> Result<HttpResponse, ApiError> {
    require_platform_admin(&caller)?;
    let n = state.notifier.clone();
    let parsed = ncfg::parse_api_endpoints(&body.0.value, &n.api_endpoints())?;
    for (_, e) in &parsed {
        n.check_egress(e).await?;
    }
    let stored: Vec<ncfg::ApiEndpoint> = parsed.into_iter().map(|(a, _)| a).collect();
    let sealed = n.seal_endpoints(&stored)?;
    let names: Vec<String> = stored.iter().map(|e| e.name.clone()).collect();
    let login = caller.login().to_string();
    db.write(move |c| {
        audit_admin(
            &caller,
            Action::Update,
            ObjectType::Config,
            0,
            json!({"path": notify::ENDPOINTS_PATH, "endpoints": names}),
        );
        notify::store(c, 0, notify::ENDPOINTS_PATH, &sealed, &login)?;
        Ok(())
    })
    .await?;
    n.changed().await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Whose deliveries a caller sees and retries: every organisation's for a platform
/// administrator; its own organisation's (on the endpoints that serve it) for a holder of
/// `manageConfig` there; else 403.
fn delivery_scope(caller: &Caller) -> Result<Option<(i64, String)>, ApiError> {
    if caller.is_platform_admin("manageConfig") {
        return Ok(None);
    }
    caller.require("manageConfig")?;
    Ok(Some((
        caller.organisation.id,
        caller.organisation.name.clone(),
    )))
}

/// Each endpoint's deliveries: pending, delivered, dead, and the last error (a platform
/// administrator: every organisation's; `manageConfig` in an organisation: its own).
#[utoipa::path(tag = "notification", responses((status = 200, description = "`[{name, type, pending, delivered, dead, lastError}]`"), (status = 403)))]
#[get("/api/v1/notification/endpoint")]
pub async fn endpoint_stats(
    state: web::Data<ServiceState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let scope = delivery_scope(&caller)?;
    Ok(HttpResponse::Ok().json(state.notifier.endpoint_stats(scope).await?))
}

/// The latest 100 dead deliveries, newest first (who sees which as for the endpoints):
/// `[{id, endpoint, organisation, objectType, operation, objectId, attempts, createdAt,
/// lastError}]`.
#[utoipa::path(tag = "notification", responses((status = 200, description = "`[{id, endpoint, organisation, objectType, operation, objectId, attempts, createdAt, lastError}]`"), (status = 403)))]
#[get("/api/v1/notification/dead")]
pub async fn dead_deliveries(
    state: web::Data<ServiceState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let scope = delivery_scope(&caller)?.map(|(id, _)| id);
    Ok(HttpResponse::Ok().json(state.notifier.dead_deliveries(scope, 100).await?))
}

/// Puts an endpoint's dead deliveries back in its queue (a platform administrator: every
/// organisation's; `manageConfig` in an organisation: its own).
#[utoipa::path(tag = "notification", responses((status = 200, description = "`{requeued}`"), (status = 403), (status = 404)))]
#[post("/api/v1/notification/endpoint/{name}/retry")]
pub async fn retry_endpoint(
    state: web::Data<ServiceState>,
    caller: Caller,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let scope = delivery_scope(&caller)?;
    let name = name.into_inner();
    let n = &state.notifier;
    let known = match &scope {
        None => n.endpoint(&name).is_some(),
        Some((_, org)) => n.endpoint(&name).is_some_and(|e| e.serves(org)),
    } || name == notify::AMQP_ENDPOINT
        || name == notify::EMAIL_ENDPOINT;
    if !known {
        return Err(ApiError::NotFound(format!("Endpoint {name} not found")));
    }
    let requeued = n.retry_dead(name.clone(), scope.map(|(id, _)| id)).await?;
    // The retry is an administrator's change: in the trail too.
    let db = n.db.clone();
    db.write(move |_| {
        audit_admin(
            &caller,
            Action::Update,
            ObjectType::Config,
            0,
            json!({"path": notify::ENDPOINTS_PATH, "retry": name, "requeued": requeued}),
        );
        Ok(())
    })
    .await?;
    Ok(HttpResponse::Ok().json(json!({ "requeued": requeued })))
}
