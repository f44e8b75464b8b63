//! Jobs: run a worker (`POST /api/analyzer|responder/{id}/run`), read jobs, their reports
//! (also waiting for them) and artifacts, search, delete, and the bulk status call.
//!
//! A run request is checked completely before anything is written: the worker in the
//! caller's organization (404), `dataType` in its list, TLP/PAP 0-3 and under the worker's
//! `max_tlp`/`max_pap` when checked (400). The cache lookup, the rate limit and the insert
//! run in one transaction that first locks the worker's row, so two concurrent submissions
//! cannot both slip under a limit.

use super::{list_response, to_value, ListParams, SearchBody};
use crate::auth::Caller;
use crate::db::schema::jobs;
use crate::db::{now_ms, Db};
use crate::jobs::*;
use crate::ServiceState;
use actix_web::{delete, get, post, web, HttpResponse};
use diesel::prelude::*;
use serde::Deserialize;
use serde_json::{Map, Value};
use service_kit::body::Upload;
use service_kit::error::ApiError;
use shared_models::cortex::{
    JobAttachment, JobStatus, OutputArtifact, OutputJob, Role, RunBody, WorkerKind,
};
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::broadcast;

/// Longest wait of one `waitreport` (also for `Inf`): the job's own timeout ends it sooner.
const MAX_WAIT: Duration = Duration::from_secs(3600);
/// Most ids in one status call.
const MAX_STATUS_IDS: usize = 10_000;

/// `{kind}` in worker paths.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct WorkerPath {
    /// `analyzer` or `responder`.
    #[param(inline)]
    pub kind: WorkerKind,
    /// The worker id.
    pub id: String,
}

/// `?force=1` and the other query parameters of a run.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct RunParams {
    /// Skip the cache.
    pub force: Option<String>,
}

/// Runs a worker on an observable (analyzers) or a TheHive object (responders).
#[utoipa::path(
    tag = "job",
    params(WorkerPath, RunParams),
    request_body(content = RunBody, description = "As JSON, or multipart: the same object in part `_json` and the file in part `data` or `attachment`. TLP and PAP may be numeric strings, `parameters` its JSON text"),
    responses((status = 200, body = OutputJob), (status = 400), (status = 404), (status = 429))
)]
#[post("/api/{kind:analyzer|responder}/{id}/run")]
pub async fn run(
    db: web::Data<Db>,
    state: web::Data<ServiceState>,
    caller: Caller,
    path: web::Path<WorkerPath>,
    params: web::Query<RunParams>,
    mut body: Upload,
) -> Result<HttpResponse, ApiError> {
    caller.require_any(&[Role::Analyze])?;
    let mut fields: Map<String, Value> = match body.parse::<Value>()? {
        Value::Object(o) => o,
        Value::Null => Map::new(),
        _ => {
            return Err(ApiError::BadRequest(
                "the body must be a JSON object".into(),
            ))
        }
    };
    for (k, v) in &body.fields {
        if k.starts_with('_') {
            return Err(ApiError::BadRequest(format!("field {k} is not allowed")));
        }
        fields.insert(k.clone(), Value::String(v.clone()));
    }
    let RunBody {
        run,
        request_id,
        force,
    } = read_run_body(fields)?;
    let force = force
        || params
            .force
            .as_deref()
            .is_some_and(|f| truthy(&Value::String(f.into())));
    let file = body
        .files
        .iter()
        .find(|f| f.field == "data" || f.field == "attachment")
        .map(|f| SubmitFile {
            stored: f.stored.clone(),
            filename: f.filename.clone(),
            content_type: f.content_type.clone(),
        });
    let who = Submitter {
        organization: caller.organization.id.clone(),
        login: caller.login().to_string(),
    };
    let submitted = submit(
        &db,
        &state.catalog,
        state.jobs.cache,
        &who,
        path.kind,
        &path.id,
        run,
        file,
        force,
        request_id,
    )
    .await?;
    let row = match submitted {
        Submitted::Cached(row) => {
            let mut out = render_job(&row, None);
            out.from_cache = Some(true);
            return Ok(HttpResponse::Ok().json(out));
        }
        Submitted::Existing(row) => return Ok(HttpResponse::Ok().json(render_job(&row, None))),
        Submitted::New(row) => row,
    };
    // The file goes into the datastore only now that a job needs it, and before any runner
    // can start that job (a refused run leaves no file behind).
    if let Some(a) = row
        .attachment
        .as_deref()
        .and_then(|a| serde_json::from_str::<JobAttachment>(a).ok())
    {
        let staged: Vec<_> = body
            .take_staged()
            .into_iter()
            .filter(|s| s.stored.sha256 == a.id)
            .take(1)
            .collect();
        let ds = state.uploads.datastore.clone();
        web::block(move || ds.keep_all(staged))
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::internal)?;
    }
    // The `job.Waiting` event is sent first, on the events channel, while the job is
    // dispatched; `job.InProgress` follows on that same channel only once a runner has
    // received and claimed the job, so the events stay in order.
    tokio::join!(state.engine.announce(&row), state.engine.dispatch(&row.id));
    Ok(HttpResponse::Ok().json(render_job(&row, None)))
}

/// One job.
#[utoipa::path(tag = "job", responses((status = 200, body = OutputJob), (status = 404)))]
#[get("/api/job/{id}")]
pub async fn get(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require_any(&[Role::Read])?;
    let org = caller.organization.id.clone();
    let row = db.read(move |c| find_job(c, &org, &id)).await?;
    Ok(HttpResponse::Ok().json(render_job(&row, None)))
}

async fn with_report(db: &Db, org: String, id: String) -> Result<OutputJob, ApiError> {
    db.read(move |c| {
        let row = find_job(c, &org, &id)?;
        let arts = if row.status == JobStatus::Success.as_str() {
            artifacts_of(c, &row.id)?
        } else {
            Vec::new()
        };
        Ok(render_job(&row, Some(&arts)))
    })
    .await
}

/// A job with its report (a string while it has not ended).
#[utoipa::path(tag = "job", responses((status = 200, body = OutputJob), (status = 404)))]
#[get("/api/job/{id}/report")]
pub async fn report(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require_any(&[Role::Read])?;
    let out = with_report(&db, caller.organization.id.clone(), id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// `atMost` of `waitreport`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
pub struct WaitParams {
    /// A Scala duration: `1minute`, `1 second`, `500ms`, `Inf`... (default 1 minute).
    pub at_most: Option<String>,
}

/// Parses a Scala-style duration; `Inf` and friends give `None` (no limit).
pub fn parse_duration(s: &str) -> Result<Option<Duration>, String> {
    let t: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    if matches!(t.as_str(), "Inf" | "PlusInf" | "+Inf") {
        return Ok(None);
    }
    if matches!(t.as_str(), "MinusInf" | "-Inf") {
        return Ok(Some(Duration::ZERO));
    }
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
        .ok_or_else(|| format!("Invalid duration {s}: no unit"))?;
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("Invalid format for duration {s}"))?;
    let unit_secs = match unit {
        "d" | "day" | "days" => 86_400.0,
        "h" | "hour" | "hours" => 3_600.0,
        "min" | "mins" | "minute" | "minutes" => 60.0,
        "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
        "ms" | "milli" | "millis" | "millisecond" | "milliseconds" => 1e-3,
        "µs" | "micro" | "micros" | "microsecond" | "microseconds" => 1e-6,
        "ns" | "nano" | "nanos" | "nanosecond" | "nanoseconds" => 1e-9,
        _ => return Err(format!("Invalid duration {s}: unknown unit {unit}")),
    };
    if !n.is_finite() || n < 0.0 {
        return Ok(Some(Duration::ZERO));
    }
    Ok(Some(Duration::from_secs_f64((n * unit_secs).min(1e9))))
}

/// Waits until the job ends or `atMost` passes, then answers as `/report`.
#[utoipa::path(tag = "job", params(WaitParams), responses((status = 200, body = OutputJob), (status = 400), (status = 404)))]
#[get("/api/job/{id}/waitreport")]
pub async fn wait_report(
    db: web::Data<Db>,
    state: web::Data<ServiceState>,
    caller: Caller,
    id: web::Path<String>,
    params: web::Query<WaitParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require_any(&[Role::Read])?;
    let org = caller.organization.id.clone();
    let id = id.into_inner();
    let mut ended = state.engine.subscribe();
    let out = with_report(&db, org.clone(), id.clone()).await?;
    if out.status.is_final() {
        return Ok(HttpResponse::Ok().json(out));
    }
    let wait = parse_duration(params.at_most.as_deref().unwrap_or("1minute"))
        .map_err(ApiError::BadRequest)?
        .unwrap_or(MAX_WAIT)
        .min(MAX_WAIT);
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        // Woken by this instance's runners; jobs run by another instance are seen by
        // looking again every second.
        let step = tokio::time::sleep_until(
            deadline.min(tokio::time::Instant::now() + Duration::from_secs(1)),
        );
        tokio::pin!(step);
        loop {
            tokio::select! {
                got = ended.recv() => match got {
                    Ok(done) if done == id => break,
                    Ok(_) => continue,
                    Err(broadcast::error::RecvError::Lagged(_)) => break,
                    Err(broadcast::error::RecvError::Closed) => { (&mut step).await; break }
                },
                _ = &mut step => break,
            }
        }
        let out = with_report(&db, org.clone(), id.clone()).await?;
        if out.status.is_final() || tokio::time::Instant::now() >= deadline {
            return Ok(HttpResponse::Ok().json(out));
        }
    }
}

/// The artifacts a job reported (default range: 10, as Cortex).
#[utoipa::path(tag = "job", params(ListParams), responses((status = 200, body = Vec<OutputArtifact>), (status = 404)))]
#[get("/api/job/{id}/artifacts")]
pub async fn job_artifacts(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require_any(&[Role::Read])?;
    let org = caller.organization.id.clone();
    let rows = db
        .read(move |c| {
            let job = find_job(c, &org, &id)?;
            artifacts_of(c, &job.id)
        })
        .await?;
    let items = rows
        .iter()
        .map(|a| to_value(&render_artifact(a)))
        .collect::<Result<Vec<_>, _>>()?;
    list_response(items, &Value::Null, &params, None)
}

/// Deletes a job (it stays, marked `Deleted`).
#[utoipa::path(tag = "job", responses((status = 204), (status = 404)))]
#[delete("/api/job/{id}")]
pub async fn remove(
    db: web::Data<Db>,
    state: web::Data<ServiceState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require_any(&[Role::Analyze, Role::Orgadmin])?;
    let org = caller.organization.id.clone();
    let who = caller.login().to_string();
    let row = db
        .write(move |c| {
            let job = find_job(c, &org, &id)?;
            diesel::update(jobs::table.find(&job.id))
                .set((
                    jobs::status.eq(JobStatus::Deleted.as_str()),
                    jobs::updated_at.eq(now_ms()),
                    jobs::updated_by.eq(who),
                ))
                .execute(c)?;
            find_job(c, &org, &job.id)
        })
        .await?;
    state.engine.announce(&row).await;
    Ok(HttpResponse::NoContent().finish())
}

async fn org_jobs(db: &Db, org: String, hide_deleted: bool) -> Result<Vec<Value>, ApiError> {
    let filter = listing::JobFilter {
        hide_deleted,
        ..Default::default()
    };
    let rows = db
        .read(move |c| listing::jobs_of(c, &org, &filter, None))
        .await?;
    rows.iter()
        .map(|r| to_value(&render_job(r, None)))
        .collect()
}

/// Filters of `GET /api/job`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
pub struct JobListParams {
    /// Only this data type.
    pub data_type_filter: Option<String>,
    /// Only data containing this.
    pub data_filter: Option<String>,
    /// Only this worker (id or name).
    pub analyzer_filter: Option<String>,
    /// `all`, `from-to`, default the first 10.
    pub range: Option<String>,
    /// `+field` / `-field`.
    pub sort: Option<String>,
}

/// The organization's jobs, newest first (`Deleted` ones included, as Cortex).
#[utoipa::path(tag = "job", params(JobListParams), responses((status = 200, body = Vec<OutputJob>)))]
#[get("/api/job")]
pub async fn list(
    db: web::Data<Db>,
    caller: Caller,
    params: web::Query<JobListParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require_any(&[Role::Read])?;
    let mut items = org_jobs(&db, caller.organization.id.clone(), false).await?;
    let p = params.into_inner();
    items.retain(|j| {
        p.data_type_filter
            .as_ref()
            .is_none_or(|t| j["dataType"] == Value::String(t.clone()))
            && p.data_filter
                .as_ref()
                .is_none_or(|d| j["data"].as_str().is_some_and(|x| x.contains(d.as_str())))
            && p.analyzer_filter.as_ref().is_none_or(|a| {
                j["workerId"] == Value::String(a.clone())
                    || j["workerName"] == Value::String(a.clone())
            })
    });
    let lp = ListParams {
        range: p.range,
        sort: p.sort,
    };
    list_response(items, &Value::Null, &lp, None)
}

/// Searches the organization's jobs with Cortex's query DSL (`Deleted` ones hidden).
#[utoipa::path(tag = "job", params(ListParams), request_body = SearchBody, responses((status = 200, body = Vec<OutputJob>)))]
#[post("/api/job/_search")]
pub async fn search(
    db: web::Data<Db>,
    caller: Caller,
    params: web::Query<ListParams>,
    body: service_kit::extract::JsonBody<SearchBody>,
) -> Result<HttpResponse, ApiError> {
    caller.require_any(&[Role::Read])?;
    let items = org_jobs(&db, caller.organization.id.clone(), true).await?;
    list_response(items, &body.0.query, &params, Some(&body.0))
}

/// Body of the status call.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusBody {
    /// The jobs.
    pub job_ids: Vec<String>,
}

/// The status of many jobs at once: `{id: status | "NotFound"}`.
#[utoipa::path(tag = "job", request_body = StatusBody, responses((status = 200, body = Object)))]
#[post("/api/job/status")]
pub async fn status(
    db: web::Data<Db>,
    caller: Caller,
    body: service_kit::extract::JsonBody<StatusBody>,
) -> Result<HttpResponse, ApiError> {
    caller.require_any(&[Role::Read])?;
    let ids = body.0.job_ids;
    if ids.len() > MAX_STATUS_IDS {
        return Err(ApiError::attribute(
            "jobIds",
            format!("at most {MAX_STATUS_IDS} ids"),
        ));
    }
    let org = caller.organization.id.clone();
    let asked = ids.clone();
    let found: HashMap<String, String> = db
        .read(move |c| {
            let mut out = HashMap::new();
            for chunk in asked.chunks(500) {
                let rows: Vec<(String, String)> = jobs::table
                    .filter(jobs::organization_id.eq(&org))
                    .filter(jobs::id.eq_any(chunk))
                    .select((jobs::id, jobs::status))
                    .load(c)?;
                out.extend(rows);
            }
            Ok(out)
        })
        .await?;
    let out: Map<String, Value> = ids
        .into_iter()
        .map(|id| {
            let s = found.get(&id).cloned().unwrap_or_else(|| "NotFound".into());
            (id, Value::String(s))
        })
        .collect();
    Ok(HttpResponse::Ok().json(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scala_durations() {
        let d = |s: &str| parse_duration(s).expect(s);
        assert_eq!(d("1minute"), Some(Duration::from_secs(60)));
        assert_eq!(d("1 second"), Some(Duration::from_secs(1)));
        assert_eq!(d("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(d("2 hours"), Some(Duration::from_secs(7200)));
        assert_eq!(d("1.5 s"), Some(Duration::from_millis(1500)));
        assert_eq!(d("Inf"), None);
        assert_eq!(d("+Inf"), None);
        assert_eq!(d("MinusInf"), Some(Duration::ZERO));
        assert!(parse_duration("3 fortnights").is_err());
        assert!(parse_duration("soon").is_err());
    }
}
