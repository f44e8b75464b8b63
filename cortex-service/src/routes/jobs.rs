//! Jobs: run a worker (`POST /api/analyzer|responder/{id}/run`), read jobs, their reports
//! (also waiting for them) and artifacts, search, delete, and the bulk status call.
//!
//! A run request is checked completely before anything is written: the worker in the
//! caller's organization (404), `dataType` in its list, TLP/PAP 0-3 and under the worker's
//! `max_tlp`/`max_pap` when checked (400). The cache lookup, the rate limit and the insert
//! run in one transaction that first locks the worker's row, so two concurrent submissions
//! cannot both slip under a limit.

use super::body::Upload;
use super::{list_response, to_value, ListParams, SearchBody};
use crate::auth::Caller;
use crate::db::schema::{artifacts, jobs, workers};
use crate::db::{now_ms, ArtifactRow, Db, DbConn, JobRow, WorkerRow};
use crate::error::ApiError;
use crate::workers::runtime_config;
use crate::ServiceState;
use actix_web::{delete, get, post, web, HttpResponse};
use diesel::prelude::*;
use serde::Deserialize;
use serde_json::{Map, Value};
use shared_models::cortex::{
    JobAttachment, JobStatus, OutputArtifact, OutputJob, Role, WorkerKind,
};
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::broadcast;

/// Longest `data` of an analyzer job, and largest responder object (bytes).
const MAX_DATA_BYTES: usize = 1024 * 1024;
/// Longest `message`.
const MAX_MESSAGE_CHARS: usize = 10_000;
/// Longest wait of one `waitreport` (also for `Inf`): the job's own timeout ends it sooner.
const MAX_WAIT: Duration = Duration::from_secs(3600);
/// Most ids in one status call.
const MAX_STATUS_IDS: usize = 10_000;

/// Renders a job; `report` given (the job's artifacts) adds the `report` key.
pub fn render_job(j: &JobRow, with_report: Option<&[ArtifactRow]>) -> OutputJob {
    let kind = WorkerKind::parse(&j.kind).unwrap_or(WorkerKind::Analyzer);
    let st = JobStatus::parse(&j.status).unwrap_or(JobStatus::Failure);
    let data = j.data.as_ref().map(|d| match kind {
        WorkerKind::Responder => {
            serde_json::from_str(d).unwrap_or_else(|_| Value::String(d.clone()))
        }
        WorkerKind::Analyzer => Value::String(d.clone()),
    });
    let job_report = with_report.map(|arts| match st {
        JobStatus::Success => {
            let stored: Value = j
                .report
                .as_deref()
                .and_then(|r| serde_json::from_str(r).ok())
                .unwrap_or_else(|| serde_json::json!({}));
            serde_json::json!({
                "summary": stored.get("summary").cloned().unwrap_or_else(|| serde_json::json!({})),
                "full": stored.get("full").cloned().unwrap_or_else(|| serde_json::json!({})),
                "success": true,
                "artifacts": arts.iter().map(report_artifact).collect::<Vec<_>>(),
                "operations": stored.get("operations").cloned().unwrap_or_else(|| serde_json::json!([])),
            })
        }
        JobStatus::Failure => serde_json::json!({
            "errorMessage": j.error_message,
            "input": j.input,
            "success": false,
        }),
        JobStatus::InProgress => Value::String("Running".into()),
        JobStatus::Waiting => Value::String("Waiting".into()),
        JobStatus::Deleted => Value::String("Deleted".into()),
    });
    OutputJob {
        id: j.id.clone(),
        underscore_id: j.id.clone(),
        entity: "job".into(),
        kind,
        organization: j.organization_id.clone(),
        worker_id: j.worker_id.clone(),
        worker_name: j.worker_name.clone(),
        worker_definition_id: j.worker_definition_id.clone(),
        analyzer_id: j.worker_id.clone(),
        analyzer_name: j.worker_name.clone(),
        analyzer_definition_id: j.worker_definition_id.clone(),
        status: st,
        data_type: j.data_type.clone(),
        data,
        attachment: j
            .attachment
            .as_deref()
            .and_then(|a| serde_json::from_str(a).ok()),
        tlp: j.tlp,
        pap: j.pap,
        message: j.message.clone(),
        parameters: serde_json::from_str(&j.parameters).unwrap_or_else(|_| serde_json::json!({})),
        label: j.label.clone(),
        cache_tag: j.cache_tag.clone(),
        start_date: j.start_date,
        end_date: j.end_date,
        error_message: j.error_message.clone(),
        input: j
            .input
            .as_deref()
            .map(|i| serde_json::from_str(i).unwrap_or_else(|_| Value::String(i.into()))),
        from_cache: None,
        date: j.created_at,
        created_at: j.created_at,
        created_by: j.created_by.clone(),
        updated_at: j.updated_at,
        updated_by: j.updated_by.clone(),
        report: job_report,
    }
}

fn report_artifact(a: &ArtifactRow) -> Value {
    let tags: Vec<String> = serde_json::from_str(&a.tags).unwrap_or_default();
    let mut v = serde_json::json!({
        "dataType": a.data_type, "message": a.message, "tags": tags, "tlp": a.tlp,
    });
    match a
        .attachment
        .as_deref()
        .and_then(|x| serde_json::from_str::<JobAttachment>(x).ok())
    {
        Some(att) => {
            v["attachment"] = serde_json::json!({
                "contentType": att.content_type, "id": att.id, "name": att.name,
                "size": att.size, "hashes": att.hashes,
            });
        }
        None => v["data"] = Value::from(a.data.clone()),
    }
    v
}

/// Renders an artifact entity.
pub fn render_artifact(a: &ArtifactRow) -> OutputArtifact {
    OutputArtifact {
        id: a.id.clone(),
        underscore_id: a.id.clone(),
        entity: "artifact".into(),
        parent: a.job_id.clone(),
        data_type: a.data_type.clone(),
        data: a.data.clone(),
        attachment: a
            .attachment
            .as_deref()
            .and_then(|x| serde_json::from_str(x).ok()),
        tlp: a.tlp,
        tags: serde_json::from_str(&a.tags).unwrap_or_default(),
        message: a.message.clone(),
        created_at: a.created_at,
        created_by: a.created_by.clone(),
    }
}

/// A job of the caller's organization, or 404.
pub fn find_job(c: &mut DbConn, org: &str, id: &str) -> Result<JobRow, ApiError> {
    jobs::table
        .find(id)
        .filter(jobs::organization_id.eq(org))
        .select(JobRow::as_select())
        .first(c)
        .optional()?
        .ok_or_else(|| ApiError::NotFound(format!("job {id} not found")))
}

fn artifacts_of(c: &mut DbConn, job: &str) -> Result<Vec<ArtifactRow>, ApiError> {
    Ok(artifacts::table
        .filter(artifacts::job_id.eq(job))
        .order(artifacts::position.asc())
        .select(ArtifactRow::as_select())
        .load(c)?)
}

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

fn truthy(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
        Value::String(s) => matches!(s.trim(), "1" | "true" | "True" | "yes"),
        _ => false,
    }
}

fn level(fields: &Map<String, Value>, name: &str) -> Result<i32, ApiError> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(2),
        Some(v) => {
            let n = match v {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            };
            match n {
                Some(n @ 0..=3) => Ok(n as i32),
                _ => Err(ApiError::Attribute {
                    message: format!("{name}: must be 0, 1, 2 or 3"),
                    errors: vec![crate::error::AttributeError {
                        name: name.into(),
                        kind: "InvalidFormatAttributeError".into(),
                        message: format!("Invalid format for {name}: {v}, expected 0 to 3"),
                    }],
                }),
            }
        }
    }
}

/// `rateUnit` in milliseconds.
pub fn rate_unit_ms(unit: &str) -> Option<i64> {
    Some(match unit {
        "Second" => 1_000,
        "Minute" => 60_000,
        "Hour" => 3_600_000,
        "Day" => 86_400_000,
        "Month" => 2_592_000_000,
        _ => return None,
    })
}

struct NewJob {
    row: JobRow,
    force: bool,
    cache_minutes: f64,
    rate: Option<(i64, String)>,
}

/// Runs a worker on an observable (analyzers) or a TheHive object (responders).
#[utoipa::path(
    tag = "job",
    params(WorkerPath, RunParams),
    request_body(content = Object, description = "`{dataType, data, tlp, pap, message, parameters, label, requestId}` as JSON, or multipart `_json` plus the file in part `data` or `attachment`"),
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
    // Cortex 1's form: {"data": .., "attributes": {"dataType", "tlp", ...}}.
    if let Some(Value::Object(attrs)) = fields.remove("attributes") {
        for (k, v) in attrs {
            fields.entry(k).or_insert(v);
        }
    }
    for (k, v) in &body.fields {
        if k.starts_with('_') {
            return Err(ApiError::BadRequest(format!("field {k} is not allowed")));
        }
        fields.insert(k.clone(), Value::String(v.clone()));
    }
    let force = params
        .force
        .as_deref()
        .is_some_and(|f| truthy(&Value::String(f.into())))
        || fields.get("force").is_some_and(truthy);
    let request_id = match fields.get("requestId") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 128 && !s.contains('\0') => {
            Some(s.clone())
        }
        Some(_) => {
            return Err(ApiError::attribute(
                "requestId",
                "must be a string of 1 to 128 characters",
            ))
        }
    };
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
        fields,
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
        let ds = state.datastore.clone();
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

/// Who submits a job.
#[derive(Debug, Clone)]
pub struct Submitter {
    /// The organization whose worker runs.
    pub organization: String,
    /// The user, recorded as the job's creator.
    pub login: String,
}

/// A file to analyze, already in the datastore.
#[derive(Debug, Clone)]
pub struct SubmitFile {
    /// Its hashes and size.
    pub stored: crate::datastore::Stored,
    /// Its name.
    pub filename: String,
    /// Its MIME type.
    pub content_type: String,
}

/// What a submission became.
#[derive(Debug)]
pub enum Submitted {
    /// A new job, `Waiting`: to be announced and dispatched.
    New(JobRow),
    /// The cache answered with this earlier job.
    Cached(JobRow),
    /// A job with the same `requestId` already exists.
    Existing(JobRow),
}

/// Checks a run request completely, then answers it from the cache or records a new job (in
/// one transaction, see [`create_job`]). Shared by the REST route and the RabbitMQ
/// submissions. `worker` is the worker's id, or its name in the organization.
#[allow(clippy::too_many_arguments)]
pub async fn submit(
    db: &Db,
    catalog: &crate::workers::Catalog,
    default_cache: f64,
    who: &Submitter,
    kind: WorkerKind,
    worker: &str,
    fields: Map<String, Value>,
    file: Option<SubmitFile>,
    force: bool,
    request_id: Option<String>,
) -> Result<Submitted, ApiError> {
    let org = who.organization.clone();
    if let Some(rid) = request_id.clone() {
        let org = org.clone();
        let existing: Option<JobRow> = db
            .read(move |c| {
                Ok(jobs::table
                    .filter(jobs::organization_id.eq(org))
                    .filter(jobs::request_id.eq(rid))
                    .select(JobRow::as_select())
                    .first(c)
                    .optional()?)
            })
            .await?;
        if let Some(row) = existing {
            return Ok(Submitted::Existing(row));
        }
    }
    let wid = worker.to_string();
    let worker: WorkerRow = {
        let (org, wid, kind) = (org.clone(), wid.clone(), kind.as_str());
        db.read(move |c| {
            let by_id = workers::table
                .find(&wid)
                .filter(workers::organization_id.eq(&org))
                .filter(workers::kind.eq(kind))
                .select(WorkerRow::as_select())
                .first(c)
                .optional()?;
            let found = match by_id {
                Some(w) => Some(w),
                None => workers::table
                    .filter(workers::name.eq(&wid))
                    .filter(workers::organization_id.eq(&org))
                    .filter(workers::kind.eq(kind))
                    .select(WorkerRow::as_select())
                    .first(c)
                    .optional()?,
            };
            found.ok_or_else(|| ApiError::NotFound(format!("worker {wid} not found")))
        })
        .await?
    };
    let data_type = match fields.get("dataType") {
        Some(Value::String(s)) if !s.trim().is_empty() && s.len() <= 128 => s.trim().to_string(),
        Some(Value::Null) | None => return Err(ApiError::missing("dataType")),
        Some(_) => return Err(ApiError::attribute("dataType", "must be a string")),
    };
    let data_types: Vec<String> = serde_json::from_str(&worker.data_types).unwrap_or_default();
    if !data_types.contains(&data_type) {
        return Err(ApiError::attribute(
            "dataType",
            format!(
                "{} {} does not accept {data_type} (it accepts {})",
                kind.as_str(),
                worker.name,
                data_types.join(", ")
            ),
        ));
    }
    let tlp = level(&fields, "tlp")?;
    let pap = level(&fields, "pap")?;
    let data = match (&file, fields.get("data")) {
        (Some(_), _) => None,
        (None, None | Some(Value::Null)) => {
            return Err(ApiError::missing("data/attachment"));
        }
        (None, Some(v)) => {
            let text = match (kind, v) {
                (WorkerKind::Analyzer, Value::String(s)) => s.clone(),
                (WorkerKind::Analyzer, Value::Number(_) | Value::Bool(_)) => v.to_string(),
                (WorkerKind::Analyzer, _) => {
                    return Err(ApiError::attribute("data", "must be a string"))
                }
                (WorkerKind::Responder, v) => v.to_string(),
            };
            if text.len() > MAX_DATA_BYTES {
                return Err(ApiError::attribute(
                    "data",
                    format!("larger than {MAX_DATA_BYTES} bytes"),
                ));
            }
            Some(text)
        }
    };
    let message = match fields.get("message") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) if s.chars().count() <= MAX_MESSAGE_CHARS => s.clone(),
        Some(Value::String(_)) => {
            return Err(ApiError::attribute(
                "message",
                format!("longer than {MAX_MESSAGE_CHARS} characters"),
            ))
        }
        Some(other) => other.to_string(),
    };
    let parameters = match fields.get("parameters") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(p @ Value::Object(_)) if p.to_string().len() <= MAX_DATA_BYTES => p.clone(),
        Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
            Ok(p @ Value::Object(_)) => p,
            _ => return Err(ApiError::attribute("parameters", "must be an object")),
        },
        Some(_) => return Err(ApiError::attribute("parameters", "must be an object")),
    };
    for (name, text) in [
        ("dataType", Some(data_type.as_str())),
        ("data", data.as_deref()),
        ("message", Some(message.as_str())),
    ] {
        if text.is_some_and(|t| t.contains('\0')) {
            return Err(ApiError::attribute(name, "must not contain NUL characters"));
        }
    }
    let label = match fields.get("label") {
        Some(Value::String(s)) => Some(s.chars().filter(|c| *c != '\0').take(512).collect()),
        _ => None,
    };
    let definition = catalog.get(kind, &worker.name).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "the definition {} is no longer installed; this worker cannot run",
            worker.name
        ))
    })?;
    let configuration: Map<String, Value> =
        serde_json::from_str(&worker.configuration).unwrap_or_default();
    let config = runtime_config(&definition.config, &configuration);
    for (name, value, check, max) in [
        ("tlp", tlp, "check_tlp", "max_tlp"),
        ("pap", pap, "check_pap", "max_pap"),
    ] {
        if config.get(check).and_then(Value::as_bool) == Some(true) {
            let max = config.get(max).and_then(Value::as_i64).unwrap_or(2);
            if i64::from(value) > max {
                return Err(ApiError::attribute(
                    name,
                    format!(
                        "{} is higher than allowed ({value} > {max} for {})",
                        name.to_uppercase(),
                        worker.name
                    ),
                ));
            }
        }
    }
    let attachment = file.map(|f| JobAttachment {
        id: f.stored.sha256.clone(),
        name: f.filename.clone(),
        hashes: vec![
            f.stored.sha256.clone(),
            f.stored.sha1.clone(),
            f.stored.md5.clone(),
        ],
        size: f.stored.size,
        content_type: f.content_type.clone(),
    });
    let observed = data
        .clone()
        .or_else(|| attachment.as_ref().map(|a| a.id.clone()))
        .unwrap_or_default();
    let cache_tag = {
        use md5::{Digest, Md5};
        hex::encode(Md5::digest(format!(
            "{}|{data_type}|{tlp}|{observed}|{parameters}",
            worker.id
        )))
    };
    let cache_minutes = match kind {
        WorkerKind::Responder => 0.0,
        WorkerKind::Analyzer => worker
            .job_cache
            .or_else(|| configuration.get("jobCache").and_then(Value::as_f64))
            .unwrap_or(default_cache),
    };
    let now = now_ms();
    let new = NewJob {
        row: JobRow {
            id: crate::auth::secrets::random_token(15),
            organization_id: org.clone(),
            worker_id: worker.id.clone(),
            worker_name: worker.name.clone(),
            worker_definition_id: worker.definition_id.clone(),
            kind: kind.as_str().into(),
            status: JobStatus::Waiting.as_str().into(),
            data_type,
            data,
            attachment: attachment
                .as_ref()
                .map(|a| serde_json::to_string(a).unwrap_or_default()),
            tlp,
            pap,
            message,
            parameters: parameters.to_string(),
            label,
            cache_tag,
            start_date: None,
            end_date: None,
            error_message: None,
            input: None,
            report: None,
            runner: None,
            attempts: 0,
            published: false,
            created_by: who.login.clone(),
            created_at: now,
            updated_by: None,
            updated_at: None,
            request_id,
            announced: None,
        },
        force,
        cache_minutes,
        rate: worker.rate.zip(worker.rate_unit.clone()),
    };
    let (row, cached) = db.write(move |c| create_job(c, new)).await?;
    Ok(if cached {
        Submitted::Cached(row)
    } else {
        Submitted::New(row)
    })
}

/// In one transaction: lock the worker, answer from the cache, check the rate, insert.
fn create_job(c: &mut DbConn, new: NewJob) -> Result<(JobRow, bool), ApiError> {
    let job = new.row;
    // Taking the worker's row lock first serialises submissions to one worker (PostgreSQL:
    // row lock; SQLite: the write lock), so the count below cannot be raced.
    diesel::update(workers::table.find(&job.worker_id))
        .set(workers::rate.eq(workers::rate))
        .execute(c)?;
    if !new.force && new.cache_minutes > 0.0 && job.kind == "analyzer" {
        let since = job.created_at - (new.cache_minutes * 60_000.0) as i64;
        let hit: Option<JobRow> = jobs::table
            .filter(jobs::cache_tag.eq(&job.cache_tag))
            .filter(jobs::organization_id.eq(&job.organization_id))
            .filter(jobs::status.ne_all(["Failure", "Deleted"]))
            .filter(jobs::start_date.ge(since))
            .order(jobs::start_date.desc())
            .select(JobRow::as_select())
            .first(c)
            .optional()?;
        if let Some(hit) = hit {
            return Ok((hit, true));
        }
    }
    if let Some((rate, unit)) = &new.rate {
        if let Some(ms) = rate_unit_ms(unit) {
            let count: i64 = jobs::table
                .filter(jobs::worker_id.eq(&job.worker_id))
                .filter(jobs::created_at.ge(job.created_at - ms))
                .count()
                .get_result(c)?;
            if count >= *rate {
                return Err(ApiError::RateLimit(format!(
                    "Rate limit of {rate} per {unit} reached for the {} {}. Job cannot be started",
                    job.kind, job.worker_name
                )));
            }
        }
    }
    diesel::insert_into(jobs::table).values(&job).execute(c)?;
    Ok((job, false))
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
        let arts = if row.status == "Success" {
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
    let rows: Vec<JobRow> = db
        .read(move |c| {
            let mut q = jobs::table
                .filter(jobs::organization_id.eq(org))
                .into_boxed();
            if hide_deleted {
                q = q.filter(jobs::status.ne(JobStatus::Deleted.as_str()));
            }
            // Every column but the report, which lists never show.
            use diesel::dsl::sql;
            use diesel::sql_types::{Nullable, Text};
            Ok(q.order(jobs::created_at.desc())
                .select((
                    (
                        jobs::id,
                        jobs::organization_id,
                        jobs::worker_id,
                        jobs::worker_name,
                        jobs::worker_definition_id,
                        jobs::kind,
                        jobs::status,
                        jobs::data_type,
                        jobs::data,
                        jobs::attachment,
                        jobs::tlp,
                        jobs::pap,
                        jobs::message,
                        jobs::parameters,
                    ),
                    (
                        jobs::label,
                        jobs::cache_tag,
                        jobs::start_date,
                        jobs::end_date,
                        jobs::error_message,
                        jobs::input,
                        sql::<Nullable<Text>>("NULL"),
                        jobs::runner,
                        jobs::attempts,
                        jobs::published,
                        jobs::created_by,
                        jobs::created_at,
                        jobs::updated_by,
                        jobs::updated_at,
                        jobs::request_id,
                    ),
                ))
                .load::<(JobHead, JobTail)>(c)?
                .into_iter()
                .map(JobRow::from)
                .collect())
        })
        .await?;
    rows.iter()
        .map(|r| to_value(&render_job(r, None)))
        .collect()
}

type JobHead = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    i32,
    i32,
    String,
    String,
);
type JobTail = (
    Option<String>,
    String,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    i32,
    bool,
    String,
    i64,
    Option<String>,
    Option<i64>,
    Option<String>,
);

impl From<(JobHead, JobTail)> for JobRow {
    fn from((h, t): (JobHead, JobTail)) -> JobRow {
        JobRow {
            id: h.0,
            organization_id: h.1,
            worker_id: h.2,
            worker_name: h.3,
            worker_definition_id: h.4,
            kind: h.5,
            status: h.6,
            data_type: h.7,
            data: h.8,
            attachment: h.9,
            tlp: h.10,
            pap: h.11,
            message: h.12,
            parameters: h.13,
            label: t.0,
            cache_tag: t.1,
            start_date: t.2,
            end_date: t.3,
            error_message: t.4,
            input: t.5,
            report: t.6,
            runner: t.7,
            attempts: t.8,
            published: t.9,
            created_by: t.10,
            created_at: t.11,
            updated_by: t.12,
            updated_at: t.13,
            request_id: t.14,
            // Not shown by lists.
            announced: None,
        }
    }
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
    body: crate::extract::JsonBody<SearchBody>,
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
    body: crate::extract::JsonBody<StatusBody>,
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
