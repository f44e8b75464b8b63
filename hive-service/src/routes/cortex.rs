//! TheHive's Cortex connector API, under `/api/connector/cortex` and
//! `/api/v1/connector/cortex`: analyzers and responders of the configured servers (merged by
//! name, with `cortexIds`), analyzer jobs on observables, responder actions on cases, tasks,
//! logs, observables and alerts. A job is stored and answered at once (201); the connector
//! submits it and applies its result (see [`crate::cortex`]). A job for an unknown server is
//! stored too, as a Failure naming the reason, as thehive4py expects.

use crate::access::{self, Entity};
use crate::auth::Caller;
use crate::casework::{self as cw, Actor};
use crate::cortex::jobs::{fail_unknown, insert, servers_known};
use crate::cortex::outbox::prepare_new;
use crate::cortex::Dispatch;
use crate::db::casework::CortexJobRow;
use crate::db::schema::cortex_jobs;
use crate::db::{format_id, parse_id, Db, DbConn};
pub use crate::render::jobs::{org_jobs, render_action, render_job};
use crate::ServiceState;
use actix_web::{get, post, web, HttpResponse};
use diesel::prelude::*;
use serde::Deserialize;
use serde_json::{json, Value};
use service_kit::error::ApiError;
use service_kit::extract::JsonBody;
use shared_models::cortex::WorkerKind;

/// Most jobs in one bulk request.
const MAX_BULK: usize = 1_000;

/// `range` of the analyzer list: `all` or `from-to`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct RangeParams {
    /// `all` (default) or `from-to`.
    pub range: Option<String>,
}

fn ranged<T>(items: Vec<T>, range: Option<&str>) -> Vec<T> {
    match range.and_then(|r| r.split_once('-')) {
        Some((a, b)) => {
            let (a, b) = (
                a.trim().parse().unwrap_or(0),
                b.trim().parse().unwrap_or(usize::MAX),
            );
            items
                .into_iter()
                .skip(a)
                .take(b.saturating_sub(a))
                .collect()
        }
        None => items,
    }
}

/// The analyzers of every reachable server, merged by name (`[]` without Cortex).
#[utoipa::path(tag = "cortex", params(("v" = String, Path, description = "empty (TheHive 4's path) or `/v1`"), RangeParams), responses((status = 200, description = "`[{id, name, version, description, dataTypeList, cortexIds}]`")))]
#[get("/api{v:(/v1)?}/connector/cortex/analyzer")]
pub async fn analyzers(
    state: web::Data<ServiceState>,
    caller: Caller,
    params: web::Query<RangeParams>,
) -> Result<HttpResponse, ApiError> {
    let _ = caller;
    let list = state.cortex.workers(WorkerKind::Analyzer).await;
    Ok(HttpResponse::Ok().json(ranged(list, params.range.as_deref())))
}

/// The analyzers that accept a data type.
#[utoipa::path(tag = "cortex", responses((status = 200, description = "analyzers")))]
#[get("/api{v:(/v1)?}/connector/cortex/analyzer/type/{data_type}")]
pub async fn analyzers_by_type(
    state: web::Data<ServiceState>,
    _caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let dt = path.into_inner().1;
    let list: Vec<_> = state
        .cortex
        .workers(WorkerKind::Analyzer)
        .await
        .into_iter()
        .filter(|w| w.data_type_list.contains(&dt))
        .collect();
    Ok(HttpResponse::Ok().json(list))
}

/// One analyzer, by id or name.
#[utoipa::path(tag = "cortex", responses((status = 200, description = "analyzer"), (status = 404)))]
#[get("/api{v:(/v1)?}/connector/cortex/analyzer/{id}")]
pub async fn analyzer(
    state: web::Data<ServiceState>,
    _caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner().1;
    state
        .cortex
        .workers(WorkerKind::Analyzer)
        .await
        .into_iter()
        .find(|w| w.id == id || w.name == id)
        .map(|w| HttpResponse::Ok().json(w))
        .ok_or_else(|| ApiError::NotFound(format!("Analyzer {id} not found")))
}

/// The responders that can act on an entity (`case`, `case_task`, `case_task_log`,
/// `case_artifact`, `alert`; also `task`, `log`, `observable`).
#[utoipa::path(tag = "cortex", responses((status = 200, description = "responders"), (status = 404)))]
#[get("/api{v:(/v1)?}/connector/cortex/responder/{entity_type}/{entity_id}")]
pub async fn responders(
    db: web::Data<Db>,
    state: web::Data<ServiceState>,
    caller: Caller,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (_, entity_type, entity_id) = path.into_inner();
    let object_type = object_type(&entity_type)?;
    let actor = Actor::of(&caller);
    db.read(move |c| object_id(c, &actor, object_type, &entity_id))
        .await?;
    let wanted = format!("thehive:{object_type}");
    let list: Vec<_> = state
        .cortex
        .workers(WorkerKind::Responder)
        .await
        .into_iter()
        .filter(|w| w.data_type_list.contains(&wanted))
        .collect();
    Ok(HttpResponse::Ok().json(list))
}

/// An analyzer job to create.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InputAnalyzerJob {
    /// The analyzer's id (or name).
    pub analyzer_id: String,
    /// The server (default: the first one that has the analyzer).
    #[serde(default)]
    pub cortex_id: Option<String>,
    /// The observable.
    pub artifact_id: String,
    /// Job parameters.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub parameters: Option<Value>,
}

/// Runs an analyzer on an observable: 201 with the job (Waiting; Failure when the server is
/// unknown).
#[utoipa::path(tag = "cortex", params(("v" = String, Path, description = "empty (TheHive 4's path) or `/v1`")), request_body = InputAnalyzerJob, responses((status = 201, description = "the job"), (status = 400), (status = 404)))]
#[post("/api{v:(/v1)?}/connector/cortex/job")]
pub async fn create_job(
    db: web::Data<Db>,
    state: web::Data<ServiceState>,
    caller: Caller,
    body: JsonBody<InputAnalyzerJob>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageAnalyse")?;
    let jobs = create_jobs(&db, &state, &caller, vec![body.0]).await?;
    Ok(HttpResponse::Created().json(render_job(&jobs[0])))
}

/// Several analyzer jobs.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct InputBulkJobs {
    /// The jobs.
    pub jobs: Vec<InputAnalyzerJob>,
}

/// Runs analyzers on several observables (all are checked before any is stored).
#[utoipa::path(tag = "cortex", params(("v" = String, Path, description = "empty (TheHive 4's path) or `/v1`")), request_body = InputBulkJobs, responses((status = 201, description = "the jobs"), (status = 400), (status = 404)))]
#[post("/api{v:(/v1)?}/connector/cortex/job/_bulk")]
pub async fn bulk_jobs(
    db: web::Data<Db>,
    state: web::Data<ServiceState>,
    caller: Caller,
    body: JsonBody<InputBulkJobs>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageAnalyse")?;
    if body.0.jobs.len() > MAX_BULK {
        return Err(ApiError::BadRequest(format!(
            "at most {MAX_BULK} jobs per request"
        )));
    }
    let jobs = create_jobs(&db, &state, &caller, body.0.jobs).await?;
    Ok(HttpResponse::Created().json(jobs.iter().map(render_job).collect::<Vec<_>>()))
}

async fn create_jobs(
    db: &Db,
    state: &ServiceState,
    caller: &Caller,
    inputs: Vec<InputAnalyzerJob>,
) -> Result<Vec<CortexJobRow>, ApiError> {
    let servers = state.cortex.server_names();
    // The server is asked only when a job names none; else the names come from what the
    // connector already knows (the result brings the server's own).
    let needs_lookup = inputs.iter().any(|i| i.cortex_id.is_none());
    let known = if needs_lookup {
        state.cortex.workers(WorkerKind::Analyzer).await
    } else {
        state.cortex.cached_workers(WorkerKind::Analyzer)
    };
    let mut planned = Vec::with_capacity(inputs.len());
    for (n, i) in inputs.into_iter().enumerate() {
        let at = |f: &str| format!("jobs[{n}].{f}");
        if i.analyzer_id.trim().is_empty() || i.analyzer_id.len() > 256 {
            return Err(ApiError::attribute(
                &at("analyzerId"),
                "1 to 256 characters",
            ));
        }
        if i.cortex_id.as_ref().is_some_and(|c| c.len() > 64) {
            return Err(ApiError::attribute(
                &at("cortexId"),
                "at most 64 characters",
            ));
        }
        let parameters = match &i.parameters {
            None | Some(Value::Null) => json!({}),
            Some(p @ Value::Object(_)) if p.to_string().len() <= 1024 * 1024 => p.clone(),
            Some(_) => return Err(ApiError::attribute(&at("parameters"), "must be an object")),
        };
        let found = known
            .iter()
            .find(|w| w.id == i.analyzer_id || w.name == i.analyzer_id);
        let cortex_id = match (&i.cortex_id, found) {
            (Some(c), _) => c.clone(),
            (None, Some(w)) => w.cortex_ids[0].clone(),
            (None, None) => servers.first().cloned().unwrap_or_default(),
        };
        let name = found.map_or(i.analyzer_id.clone(), |w| w.name.clone());
        planned.push((i, cortex_id, name, parameters));
    }
    let actor = Actor::of(caller);
    let transport = state.cortex.transport();
    let known = servers_known(&servers);
    let (rows, prepared) = db
        .write(move |c| {
            let mut rows = Vec::new();
            for (i, cortex_id, name, parameters) in planned {
                let o = cw::find_observable(c, &actor, &i.artifact_id)?;
                // Through a share, the share's profile must allow analyses.
                if let Some(k) = o.case_id {
                    cw::check_write(c, &actor, k, "manageAnalyse")?;
                }
                let row = insert(
                    c,
                    &actor,
                    "analyzer",
                    "case_artifact",
                    o.id,
                    &cortex_id,
                    &i.analyzer_id,
                    &name,
                    parameters,
                    None,
                    transport,
                    known.contains(&cortex_id),
                )?;
                rows.push(row);
            }
            let rows = fail_unknown(c, rows, &known)?;
            let prepared = rows
                .iter()
                .filter(|r| r.dispatch == Dispatch::Pending.as_str())
                .map(|r| prepare_new(c, &actor, r.clone()))
                .collect::<Result<Vec<_>, _>>()?;
            Ok((rows, prepared))
        })
        .await?;
    for p in prepared {
        state.cortex.submit_soon(p);
    }
    Ok(rows)
}

/// Finds a job or action visible to `actor` (the access layer: its object must be).
fn find(c: &mut DbConn, actor: &Actor, id: &str, kind: &str) -> Result<CortexJobRow, ApiError> {
    let what = if kind == "analyzer" { "Job" } else { "Action" };
    parse_id(id)
        .map(|i| {
            cortex_jobs::table
                .find(i)
                .filter(cortex_jobs::kind.eq(kind))
                .filter(access::visible(Entity::CortexJob, actor, "cortex_jobs"))
                .select(CortexJobRow::as_select())
                .first(c)
                .optional()
        })
        .transpose()?
        .flatten()
        .ok_or_else(|| ApiError::NotFound(format!("{what} {id} not found")))
}

/// An analyzer job.
#[utoipa::path(tag = "cortex", responses((status = 200, description = "the job"), (status = 404)))]
#[get("/api{v:(/v1)?}/connector/cortex/job/{id}")]
pub async fn get_job(
    db: web::Data<Db>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner().1;
    let actor = Actor::of(&caller);
    let row = db.read(move |c| find(c, &actor, &id, "analyzer")).await?;
    Ok(HttpResponse::Ok().json(render_job(&row)))
}

/// A responder action to create.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InputAction {
    /// The responder's id (or name).
    pub responder_id: String,
    /// The server (default: the first one that has the responder).
    #[serde(default)]
    pub cortex_id: Option<String>,
    /// `case`, `case_task`, `case_task_log`, `case_artifact`, `alert`.
    pub object_type: String,
    /// The object's id.
    pub object_id: String,
    /// Job parameters.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub parameters: Option<Value>,
    /// TLP given to the responder (default: the object's).
    #[serde(default)]
    pub tlp: Option<i32>,
}

use crate::render::jobs::{object_id, object_type};

/// The case an object belongs to, if any.
fn case_of(
    c: &mut DbConn,
    actor: &Actor,
    object_type: &str,
    oid: i64,
) -> Result<Option<i64>, ApiError> {
    let id = format_id(oid);
    Ok(match object_type {
        "case" => Some(oid),
        "case_task" => Some(cw::find_task(c, actor, &id)?.case_id),
        "case_task_log" => {
            let l = cw::find_log(c, actor, &id)?;
            Some(cw::find_task(c, actor, &format_id(l.task_id))?.case_id)
        }
        "case_artifact" => cw::find_observable(c, actor, &id)?.case_id,
        _ => None,
    })
}

/// Runs a responder on an object: 201 with the action.
#[utoipa::path(tag = "cortex", params(("v" = String, Path, description = "empty (TheHive 4's path) or `/v1`")), request_body = InputAction, responses((status = 201, description = "the action"), (status = 400), (status = 404)))]
#[post("/api{v:(/v1)?}/connector/cortex/action")]
pub async fn create_action(
    db: web::Data<Db>,
    state: web::Data<ServiceState>,
    caller: Caller,
    body: JsonBody<InputAction>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageAction")?;
    let input = body.0;
    let object_type = object_type(&input.object_type)?;
    if input.responder_id.trim().is_empty() || input.responder_id.len() > 256 {
        return Err(ApiError::attribute("responderId", "1 to 256 characters"));
    }
    if input.cortex_id.as_ref().is_some_and(|c| c.len() > 64) {
        return Err(ApiError::attribute("cortexId", "at most 64 characters"));
    }
    if let Some(t) = input.tlp {
        crate::domain::values::check_range("tlp", t, 0, 3)?;
    }
    let parameters = match &input.parameters {
        None | Some(Value::Null) => json!({}),
        Some(p @ Value::Object(_)) if p.to_string().len() <= 1024 * 1024 => p.clone(),
        Some(_) => return Err(ApiError::attribute("parameters", "must be an object")),
    };
    let known = state.cortex.workers(WorkerKind::Responder).await;
    let found = known
        .iter()
        .find(|w| w.id == input.responder_id || w.name == input.responder_id)
        .cloned();
    let cortex_id = match (&input.cortex_id, &found) {
        (Some(c), _) => c.clone(),
        (None, Some(w)) => w.cortex_ids[0].clone(),
        (None, None) => {
            return Err(ApiError::NotFound(format!(
                "Responder {} not found",
                input.responder_id
            )))
        }
    };
    let name = found.map_or(input.responder_id.clone(), |w| w.name);
    let actor = Actor::of(&caller);
    let servers = servers_known(&state.cortex.server_names());
    let transport = state.cortex.transport();
    let (row, prepared) = db
        .write(move |c| {
            let oid = object_id(c, &actor, object_type, &input.object_id)?;
            // Through a share, the share's profile must allow actions.
            if let Some(k) = case_of(c, &actor, object_type, oid)? {
                cw::check_write(c, &actor, k, "manageAction")?;
            }
            let row = insert(
                c,
                &actor,
                "responder",
                object_type,
                oid,
                &cortex_id,
                &input.responder_id,
                &name,
                parameters,
                input.tlp,
                transport,
                servers.contains(&cortex_id),
            )?;
            let row = fail_unknown(c, vec![row], &servers)?.remove(0);
            let prepared = if row.dispatch == Dispatch::Pending.as_str() {
                Some(prepare_new(c, &actor, row.clone())?)
            } else {
                None
            };
            Ok((row, prepared))
        })
        .await?;
    if let Some(p) = prepared {
        state.cortex.submit_soon(p);
    }
    Ok(HttpResponse::Created().json(render_action(&row)))
}

/// The actions run on an object, newest first.
#[utoipa::path(tag = "cortex", responses((status = 200, description = "actions"), (status = 404)))]
#[get("/api{v:(/v1)?}/connector/cortex/action/{object_type}/{object_id}")]
pub async fn actions_of(
    db: web::Data<Db>,
    caller: Caller,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (_, t, id) = path.into_inner();
    let actor = Actor::of(&caller);
    let list = db
        .read(move |c| crate::render::jobs::actions_on(c, &actor, &t, &id))
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

/// One action.
#[utoipa::path(tag = "cortex", responses((status = 200, description = "the action"), (status = 404)))]
#[get("/api{v:(/v1)?}/connector/cortex/action/{id}")]
pub async fn get_action(
    db: web::Data<Db>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner().1;
    let actor = Actor::of(&caller);
    let row = db.read(move |c| find(c, &actor, &id, "responder")).await?;
    Ok(HttpResponse::Ok().json(render_action(&row)))
}
