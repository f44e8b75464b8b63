//! Analyzers and responders: the definitions installed, the workers an organization enabled
//! from them (with a configuration validated as Cortex does), base configurations, and the
//! obsolete-worker alert. The same handlers serve `/api/analyzer...` and `/api/responder...`.

use super::{list_response, to_value, ListParams, SearchBody};
use crate::auth::Caller;
use crate::base_configs;
pub use crate::base_configs::InputBaseConfig;
pub use crate::base_configs::OutputBaseConfig;
use crate::db::schema::workers;
use crate::db::{duplicate_as, now_ms, Db, WorkerRow};
pub use crate::workers::InputWorker;
use crate::workers::{
    check_limits, data_types_for, items_of, new_worker, validate_configuration, Definition,
};
use crate::ServiceState;
use actix_web::{delete, get, patch, post, web, HttpResponse};
use diesel::prelude::*;
use serde::Deserialize;
use serde_json::{Map, Value};
use service_kit::error::ApiError;
use service_kit::extract::JsonBody;
use shared_models::cortex::{OutputDefinition, OutputWorker, Role, WorkerKind};

/// `{kind}` in paths.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct KindPath {
    /// `analyzer` or `responder`.
    pub kind: WorkerKind,
}

/// `{kind}/{id}` in paths.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct KindIdPath {
    /// `analyzer` or `responder`.
    pub kind: WorkerKind,
    /// The worker id, data type or definition id.
    pub id: String,
}

pub use crate::workers::render_worker;

async fn org_workers(db: &Db, org: String, kind: WorkerKind) -> Result<Vec<WorkerRow>, ApiError> {
    db.read(move |c| {
        Ok(workers::table
            .filter(workers::organization_id.eq(org))
            .filter(workers::kind.eq(kind.as_str()))
            .order(workers::name.asc())
            .select(WorkerRow::as_select())
            .load(c)?)
    })
    .await
}

async fn find_worker(
    db: &Db,
    org: String,
    kind: WorkerKind,
    id: String,
) -> Result<WorkerRow, ApiError> {
    db.read(move |c| {
        workers::table
            .find(&id)
            .filter(workers::organization_id.eq(org))
            .filter(workers::kind.eq(kind.as_str()))
            .select(WorkerRow::as_select())
            .first(c)
            .optional()?
            .ok_or_else(|| ApiError::NotFound(format!("worker {id} not found")))
    })
    .await
}

fn rendered(rows: &[WorkerRow], caller: &Caller) -> Result<Vec<Value>, ApiError> {
    let admin = caller.has(Role::Orgadmin);
    rows.iter()
        .map(|w| to_value(&render_worker(w, admin)))
        .collect()
}

/// The organization's workers of a kind.
#[utoipa::path(tag = "worker", params(KindPath, ListParams), responses((status = 200, body = Vec<OutputWorker>)))]
#[get("/api/{kind:analyzer|responder}")]
pub async fn list(
    db: web::Data<Db>,
    caller: Caller,
    path: web::Path<KindPath>,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    list_workers(db, caller, path, params).await
}

async fn list_workers(
    db: web::Data<Db>,
    caller: Caller,
    path: web::Path<KindPath>,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require_any(&[Role::Read])?;
    let rows = org_workers(&db, caller.organization.id.clone(), path.kind).await?;
    list_response(rendered(&rows, &caller)?, &Value::Null, &params, None)
}

/// The same list, as the UI asks for it.
#[utoipa::path(tag = "worker", params(KindPath, ListParams), responses((status = 200, body = Vec<OutputWorker>)))]
#[get("/api/organization/{kind:analyzer|responder}")]
pub async fn list_in_org(
    db: web::Data<Db>,
    caller: Caller,
    path: web::Path<KindPath>,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    list_workers(db, caller, path, params).await
}

/// Searches the organization's workers.
#[utoipa::path(tag = "worker", params(KindPath, ListParams), request_body = SearchBody, responses((status = 200, body = Vec<OutputWorker>)))]
#[post("/api/{kind:analyzer|responder}/_search")]
pub async fn search(
    db: web::Data<Db>,
    caller: Caller,
    path: web::Path<KindPath>,
    params: web::Query<ListParams>,
    body: JsonBody<SearchBody>,
) -> Result<HttpResponse, ApiError> {
    search_workers(db, caller, path, params, body).await
}

async fn search_workers(
    db: web::Data<Db>,
    caller: Caller,
    path: web::Path<KindPath>,
    params: web::Query<ListParams>,
    body: JsonBody<SearchBody>,
) -> Result<HttpResponse, ApiError> {
    caller.require_any(&[Role::Read])?;
    let rows = org_workers(&db, caller.organization.id.clone(), path.kind).await?;
    list_response(
        rendered(&rows, &caller)?,
        &body.0.query,
        &params,
        Some(&body.0),
    )
}

/// The same search, as the UI asks for it.
#[utoipa::path(tag = "worker", params(KindPath, ListParams), request_body = SearchBody, responses((status = 200, body = Vec<OutputWorker>)))]
#[post("/api/organization/{kind:analyzer|responder}/_search")]
pub async fn search_in_org(
    db: web::Data<Db>,
    caller: Caller,
    path: web::Path<KindPath>,
    params: web::Query<ListParams>,
    body: JsonBody<SearchBody>,
) -> Result<HttpResponse, ApiError> {
    search_workers(db, caller, path, params, body).await
}

/// The workers accepting a data type (never with their configuration).
#[utoipa::path(tag = "worker", params(KindIdPath), responses((status = 200, body = Vec<OutputWorker>)))]
#[get("/api/{kind:analyzer|responder}/type/{id}")]
pub async fn by_type(
    db: web::Data<Db>,
    caller: Caller,
    path: web::Path<KindIdPath>,
) -> Result<HttpResponse, ApiError> {
    caller.require_any(&[Role::Read])?;
    let rows = org_workers(&db, caller.organization.id.clone(), path.kind).await?;
    let items: Vec<Value> = rows
        .iter()
        .filter(|w| {
            serde_json::from_str::<Vec<String>>(&w.data_types)
                .unwrap_or_default()
                .contains(&path.id)
        })
        .map(|w| to_value(&render_worker(w, false)))
        .collect::<Result<_, _>>()?;
    Ok(HttpResponse::Ok()
        .insert_header(("X-Total", items.len().to_string()))
        .json(items))
}

/// One worker of the organization.
#[utoipa::path(tag = "worker", params(KindIdPath), responses((status = 200, body = OutputWorker), (status = 404)))]
#[get("/api/{kind:analyzer|responder}/{id}")]
pub async fn get(
    db: web::Data<Db>,
    caller: Caller,
    path: web::Path<KindIdPath>,
) -> Result<HttpResponse, ApiError> {
    caller.require_any(&[Role::Read])?;
    let w = find_worker(
        &db,
        caller.organization.id.clone(),
        path.kind,
        path.id.clone(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(render_worker(&w, caller.has(Role::Orgadmin))))
}

/// Enables a definition in the caller's organization.
#[utoipa::path(tag = "worker", params(KindIdPath), request_body = InputWorker, responses((status = 201, body = OutputWorker), (status = 400), (status = 404)))]
#[post("/api/organization/{kind:analyzer|responder}/{id}")]
pub async fn enable(
    db: web::Data<Db>,
    state: web::Data<ServiceState>,
    caller: Caller,
    path: web::Path<KindIdPath>,
    body: JsonBody<InputWorker>,
) -> Result<HttpResponse, ApiError> {
    caller.require_any(&[Role::Orgadmin])?;
    let kind = path.kind;
    let def = state
        .catalog
        .get(kind, &path.id)
        .ok_or_else(|| ApiError::NotFound(format!("worker definition {} not found", path.id)))?;
    let items = items_of(&def, &state.jobs);
    let mut input = body.0;
    // What the configuration leaves out comes from the organization's base configurations.
    let base =
        base_configs::defaults_for(&db, caller.organization.id.clone(), &def, &items).await?;
    let given_apart = [
        ("jobCache", input.job_cache.is_some()),
        ("jobTimeout", input.job_timeout.is_some()),
    ];
    let cfg = input.configuration.get_or_insert_with(Map::new);
    for (k, v) in base {
        let apart = given_apart.iter().any(|(n, given)| *n == k && *given);
        if !apart && cfg.get(&k).is_none_or(Value::is_null) {
            cfg.insert(k, v);
        }
    }
    let row = new_worker(&def, &items, input, &caller.organization.id, caller.login())?;
    let r = row.clone();
    db.write(move |c| {
        diesel::insert_into(workers::table)
            .values(&r)
            .execute(c)
            .map_err(|e| {
                duplicate_as(e, || {
                    ApiError::Create(format!(
                        "{} is already enabled in this organization",
                        r.name
                    ))
                })
            })?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::Created().json(render_worker(&row, true)))
}

/// Changes a worker: configuration (merged over the current one, then validated), rate,
/// cache, timeout.
#[utoipa::path(tag = "worker", params(KindIdPath), request_body = InputWorker, responses((status = 200, body = OutputWorker), (status = 400), (status = 404)))]
#[patch("/api/{kind:analyzer|responder}/{id}")]
pub async fn update(
    db: web::Data<Db>,
    state: web::Data<ServiceState>,
    caller: Caller,
    path: web::Path<KindIdPath>,
    body: JsonBody<InputWorker>,
) -> Result<HttpResponse, ApiError> {
    caller.require_any(&[Role::Orgadmin])?;
    let kind = path.kind;
    let mut w = find_worker(&db, caller.organization.id.clone(), kind, path.id.clone()).await?;
    let input = body.0;
    check_limits(&input)?;
    if let Some(given) = &input.configuration {
        let mut merged: Map<String, Value> =
            serde_json::from_str(&w.configuration).unwrap_or_default();
        merged.extend(given.clone());
        let items = match state.catalog.get(kind, &w.name) {
            Some(def) => items_of(&def, &state.jobs),
            None => {
                return Err(ApiError::BadRequest(format!(
                    "the definition {} is no longer installed",
                    w.name
                )))
            }
        };
        w.configuration =
            Value::Object(validate_configuration(&items, &merged, false)?).to_string();
    }
    if let Some(types) = input.data_type_list {
        if let Some(def) = state.catalog.get(kind, &w.name) {
            w.data_types = serde_json::to_string(&data_types_for(&def, Some(types))?)
                .map_err(ApiError::internal)?;
        }
    }
    if input.rate.is_some() {
        w.rate = input.rate;
    }
    if input.rate_unit.is_some() {
        w.rate_unit = input.rate_unit;
    }
    if input.job_cache.is_some() {
        w.job_cache = input.job_cache;
    }
    if input.job_timeout.is_some() {
        w.job_timeout = input.job_timeout;
    }
    w.updated_at = Some(now_ms());
    w.updated_by = Some(caller.login().to_string());
    let row = w.clone();
    db.write(move |c| {
        diesel::update(workers::table.find(&row.id))
            .set(&row)
            .execute(c)?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::Ok().json(render_worker(&w, true)))
}

/// Disables a worker (its jobs stay).
#[utoipa::path(tag = "worker", params(KindIdPath), responses((status = 204), (status = 404)))]
#[delete("/api/{kind:analyzer|responder}/{id}")]
pub async fn disable(
    db: web::Data<Db>,
    caller: Caller,
    path: web::Path<KindIdPath>,
) -> Result<HttpResponse, ApiError> {
    caller.require_any(&[Role::Orgadmin, Role::Superadmin])?;
    let w = find_worker(
        &db,
        caller.organization.id.clone(),
        path.kind,
        path.id.clone(),
    )
    .await?;
    db.write(move |c| {
        diesel::delete(workers::table.find(&w.id)).execute(c)?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

fn definitions(state: &ServiceState, kind: WorkerKind) -> Vec<OutputDefinition> {
    state
        .catalog
        .all(kind)
        .iter()
        .map(Definition::render)
        .collect()
}

/// Analyzer definitions installed.
#[utoipa::path(tag = "worker", responses((status = 200, body = Vec<OutputDefinition>)))]
#[get("/api/analyzerdefinition")]
pub async fn analyzer_definitions(
    state: web::Data<ServiceState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    caller.require_any(&[Role::Orgadmin, Role::Superadmin])?;
    let d = definitions(&state, WorkerKind::Analyzer);
    Ok(HttpResponse::Ok()
        .insert_header(("X-Total", d.len().to_string()))
        .json(d))
}

/// Responder definitions installed.
#[utoipa::path(tag = "worker", responses((status = 200, body = Vec<OutputDefinition>)))]
#[get("/api/responderdefinition")]
pub async fn responder_definitions(
    state: web::Data<ServiceState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    caller.require_any(&[Role::Orgadmin, Role::Superadmin])?;
    let d = definitions(&state, WorkerKind::Responder);
    Ok(HttpResponse::Ok()
        .insert_header(("X-Total", d.len().to_string()))
        .json(d))
}

async fn rescan(state: web::Data<ServiceState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    caller.require_any(&[Role::Orgadmin, Role::Superadmin])?;
    let catalog = state.catalog.clone();
    web::block(move || catalog.scan())
        .await
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::NoContent().finish())
}

/// Reads the analyzer (and responder) definitions again.
#[utoipa::path(tag = "worker", responses((status = 204)))]
#[post("/api/analyzerdefinition/scan")]
pub async fn scan_analyzers(
    state: web::Data<ServiceState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    rescan(state, caller).await
}

/// Reads the responder (and analyzer) definitions again.
#[utoipa::path(tag = "worker", responses((status = 204)))]
#[post("/api/responderdefinition/scan")]
pub async fn scan_responders(
    state: web::Data<ServiceState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    rescan(state, caller).await
}

async fn list_configs(
    db: web::Data<Db>,
    state: web::Data<ServiceState>,
    caller: Caller,
    kind: WorkerKind,
) -> Result<HttpResponse, ApiError> {
    caller.require_any(&[Role::Orgadmin])?;
    let out = base_configs::of(
        &db,
        &state.catalog,
        &state.jobs,
        caller.organization.id.clone(),
        kind,
    )
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("X-Total", out.len().to_string()))
        .json(out))
}

async fn get_config(
    db: web::Data<Db>,
    state: web::Data<ServiceState>,
    caller: Caller,
    kind: WorkerKind,
    name: String,
) -> Result<HttpResponse, ApiError> {
    caller.require_any(&[Role::Orgadmin])?;
    base_configs::of(
        &db,
        &state.catalog,
        &state.jobs,
        caller.organization.id.clone(),
        kind,
    )
    .await?
    .into_iter()
    .find(|b| b.name == name)
    .map(|b| HttpResponse::Ok().json(b))
    .ok_or_else(|| ApiError::NotFound(format!("base config {name} not found")))
}

async fn set_config(
    db: web::Data<Db>,
    state: web::Data<ServiceState>,
    caller: Caller,
    kind: WorkerKind,
    name: String,
    body: InputBaseConfig,
) -> Result<HttpResponse, ApiError> {
    caller.require_any(&[Role::Orgadmin])?;
    base_configs::set(
        &db,
        &state.catalog,
        &state.jobs,
        &caller.organization.id,
        caller.login(),
        kind,
        &name,
        body.config,
    )
    .await?;
    get_config(db, state, caller, kind, name).await
}

/// Base configurations of analyzers (`global` first).
#[utoipa::path(tag = "worker", responses((status = 200, body = Vec<OutputBaseConfig>)))]
#[get("/api/analyzerconfig")]
pub async fn analyzer_configs(
    db: web::Data<Db>,
    state: web::Data<ServiceState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    list_configs(db, state, caller, WorkerKind::Analyzer).await
}

/// Base configurations of responders (`global` first).
#[utoipa::path(tag = "worker", responses((status = 200, body = Vec<OutputBaseConfig>)))]
#[get("/api/responderconfig")]
pub async fn responder_configs(
    db: web::Data<Db>,
    state: web::Data<ServiceState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    list_configs(db, state, caller, WorkerKind::Responder).await
}

/// One base configuration of analyzers.
#[utoipa::path(tag = "worker", responses((status = 200, body = OutputBaseConfig), (status = 404)))]
#[get("/api/analyzerconfig/{name}")]
pub async fn analyzer_config(
    db: web::Data<Db>,
    state: web::Data<ServiceState>,
    caller: Caller,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    get_config(db, state, caller, WorkerKind::Analyzer, name.into_inner()).await
}

/// One base configuration of responders.
#[utoipa::path(tag = "worker", responses((status = 200, body = OutputBaseConfig), (status = 404)))]
#[get("/api/responderconfig/{name}")]
pub async fn responder_config(
    db: web::Data<Db>,
    state: web::Data<ServiceState>,
    caller: Caller,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    get_config(db, state, caller, WorkerKind::Responder, name.into_inner()).await
}

/// Sets a base configuration of analyzers.
#[utoipa::path(tag = "worker", request_body = InputBaseConfig, responses((status = 200, body = OutputBaseConfig), (status = 400), (status = 404)))]
#[patch("/api/analyzerconfig/{name}")]
pub async fn set_analyzer_config(
    db: web::Data<Db>,
    state: web::Data<ServiceState>,
    caller: Caller,
    name: web::Path<String>,
    body: JsonBody<InputBaseConfig>,
) -> Result<HttpResponse, ApiError> {
    set_config(
        db,
        state,
        caller,
        WorkerKind::Analyzer,
        name.into_inner(),
        body.0,
    )
    .await
}

/// Sets a base configuration of responders.
#[utoipa::path(tag = "worker", request_body = InputBaseConfig, responses((status = 200, body = OutputBaseConfig), (status = 400), (status = 404)))]
#[patch("/api/responderconfig/{name}")]
pub async fn set_responder_config(
    db: web::Data<Db>,
    state: web::Data<ServiceState>,
    caller: Caller,
    name: web::Path<String>,
    body: JsonBody<InputBaseConfig>,
) -> Result<HttpResponse, ApiError> {
    set_config(
        db,
        state,
        caller,
        WorkerKind::Responder,
        name.into_inner(),
        body.0,
    )
    .await
}

/// `ObsoleteAnalyzers` / `ObsoleteResponders` when enabled workers lost their definition.
#[utoipa::path(tag = "worker", responses((status = 200, body = Vec<String>)))]
#[get("/api/alert")]
pub async fn alerts(
    db: web::Data<Db>,
    state: web::Data<ServiceState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    caller.require_any(&[Role::Read])?;
    let org = caller.organization.id.clone();
    let rows: Vec<(String, String)> = db
        .read(move |c| {
            Ok(workers::table
                .filter(workers::organization_id.eq(org))
                .select((workers::kind, workers::name))
                .load(c)?)
        })
        .await?;
    let mut out = Vec::new();
    for (kind, label) in [
        (WorkerKind::Analyzer, "ObsoleteAnalyzers"),
        (WorkerKind::Responder, "ObsoleteResponders"),
    ] {
        if rows
            .iter()
            .any(|(k, n)| k == kind.as_str() && state.catalog.get(kind, n).is_none())
        {
            out.push(label);
        }
    }
    Ok(HttpResponse::Ok().json(out))
}
