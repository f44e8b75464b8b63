//! Jobs, as both the REST routes and the RabbitMQ submissions consumer use them: a run
//! request checked completely before anything is written (the worker in the caller's
//! organization, `dataType` in its list, TLP/PAP 0-3 and under the worker's `max_tlp` /
//! `max_pap` when checked), then the cache lookup, the rate limit and the insert in one
//! transaction that first locks the worker's row, so two concurrent submissions cannot both
//! slip under a limit; and the rendering of jobs and artifacts as Cortex shows them.

pub mod listing;

use crate::db::schema::{artifacts, jobs, workers};
use crate::db::{now_ms, ArtifactRow, Db, DbConn, JobRow, WorkerRow};
use crate::workers::runtime_config;
use diesel::prelude::*;
use serde_json::{Map, Value};
use service_kit::error::ApiError;
use shared_models::cortex::{
    JobAttachment, JobStatus, OutputArtifact, OutputJob, RunBody, RunRequest, WorkerKind,
};

/// Longest `data` of an analyzer job, and largest responder object (bytes).
pub const MAX_DATA_BYTES: usize = 1024 * 1024;
/// Longest `message`.
pub const MAX_MESSAGE_CHARS: usize = 10_000;

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
        JobStatus::Waiting | JobStatus::Deleted => Value::String(st.as_str().into()),
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

pub fn report_artifact(a: &ArtifactRow) -> Value {
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

pub fn artifacts_of(c: &mut DbConn, job: &str) -> Result<Vec<ArtifactRow>, ApiError> {
    Ok(artifacts::table
        .filter(artifacts::job_id.eq(job))
        .order(artifacts::position.asc())
        .select(ArtifactRow::as_select())
        .load(c)?)
}

pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
        Value::String(s) => matches!(s.trim(), "1" | "true" | "True" | "yes"),
        _ => false,
    }
}

pub fn level(fields: &Map<String, Value>, name: &str) -> Result<i32, ApiError> {
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
                _ => Err(bad_level(name, v)),
            }
        }
    }
}

/// A typed TLP or PAP: 0 to 3.
fn check_level(name: &str, n: i32) -> Result<i32, ApiError> {
    if (0..=3).contains(&n) {
        Ok(n)
    } else {
        Err(bad_level(name, &Value::from(n)))
    }
}

fn bad_level(name: &str, v: &Value) -> ApiError {
    ApiError::Attribute {
        message: format!("{name}: must be 0, 1, 2 or 3"),
        errors: vec![service_kit::error::AttributeError {
            name: name.into(),
            kind: "InvalidFormatAttributeError".into(),
            message: format!("Invalid format for {name}: {v}, expected 0 to 3"),
        }],
    }
}

/// Reads the run body the clients send as Cortex reads it: TLP and PAP as numbers or numeric
/// strings (multipart fields are text), `parameters` as an object or its JSON text, `force`
/// as any truthy value, a non-string `message` as its JSON text, Cortex 1's
/// `{"data", "attributes": {...}}` form. Only the shape is checked here; [`submit`] checks the
/// values against the worker.
pub fn read_run_body(mut fields: Map<String, Value>) -> Result<RunBody, ApiError> {
    if let Some(Value::Object(attrs)) = fields.remove("attributes") {
        for (k, v) in attrs {
            fields.entry(k).or_insert(v);
        }
    }
    let data_type = match fields.remove("dataType") {
        Some(Value::String(s)) => s,
        Some(Value::Null) | None => String::new(),
        Some(_) => return Err(ApiError::attribute("dataType", "must be a string")),
    };
    let tlp = level(&fields, "tlp")?;
    let pap = level(&fields, "pap")?;
    let message = match fields.remove("message") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s,
        Some(other) => other.to_string(),
    };
    let parameters = match fields.remove("parameters") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(p)) => p,
        Some(Value::String(s)) => match serde_json::from_str::<Value>(&s) {
            Ok(Value::Object(p)) => p,
            _ => return Err(ApiError::attribute("parameters", "must be an object")),
        },
        Some(_) => return Err(ApiError::attribute("parameters", "must be an object")),
    };
    let label = match fields.remove("label") {
        Some(Value::String(s)) => Some(s),
        _ => None,
    };
    let request_id = match fields.remove("requestId") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 128 && !s.contains('\0') => Some(s),
        Some(_) => {
            return Err(ApiError::attribute(
                "requestId",
                "must be a string of 1 to 128 characters",
            ))
        }
    };
    let force = fields.get("force").is_some_and(truthy);
    Ok(RunBody {
        run: RunRequest {
            data_type,
            data: fields.remove("data"),
            tlp,
            pap,
            message,
            parameters,
            label,
        },
        request_id,
        force,
    })
}

pub use crate::workers::rate_unit_ms;

pub struct NewJob {
    row: JobRow,
    force: bool,
    cache_minutes: f64,
    rate: Option<(i64, String)>,
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
    pub stored: service_kit::datastore::Stored,
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
    run: RunRequest,
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
    let RunRequest {
        data_type,
        data,
        tlp,
        pap,
        message,
        parameters,
        label,
    } = run;
    let data_type = data_type.trim().to_string();
    if data_type.is_empty() {
        return Err(ApiError::missing("dataType"));
    }
    if data_type.len() > 128 {
        return Err(ApiError::attribute("dataType", "longer than 128 bytes"));
    }
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
    let tlp = check_level("tlp", tlp)?;
    let pap = check_level("pap", pap)?;
    let data = match (&file, data) {
        (Some(_), _) => None,
        (None, None | Some(Value::Null)) => {
            return Err(ApiError::missing("data/attachment"));
        }
        (None, Some(v)) => {
            let text = match (kind, v) {
                (WorkerKind::Analyzer, Value::String(s)) => s,
                (WorkerKind::Analyzer, v @ (Value::Number(_) | Value::Bool(_))) => v.to_string(),
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
    if message.chars().count() > MAX_MESSAGE_CHARS {
        return Err(ApiError::attribute(
            "message",
            format!("longer than {MAX_MESSAGE_CHARS} characters"),
        ));
    }
    let parameters = Value::Object(parameters);
    if parameters.to_string().len() > MAX_DATA_BYTES {
        return Err(ApiError::attribute("parameters", "must be an object"));
    }
    for (name, text) in [
        ("dataType", Some(data_type.as_str())),
        ("data", data.as_deref()),
        ("message", Some(message.as_str())),
    ] {
        if text.is_some_and(|t| t.contains('\0')) {
            return Err(ApiError::attribute(name, "must not contain NUL characters"));
        }
    }
    let label = label.map(|s| s.chars().filter(|c| *c != '\0').take(512).collect());
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
pub fn create_job(c: &mut DbConn, new: NewJob) -> Result<(JobRow, bool), ApiError> {
    let job = new.row;
    // With a rate limit, taking the worker's row lock first serialises submissions to it
    // (PostgreSQL: row lock; SQLite: the write lock), so the count below cannot be raced.
    // Without one nothing needs it, and submissions to one worker go side by side (two
    // identical ones at the same instant may both miss the cache, as in Cortex).
    if new.rate.is_some() {
        diesel::update(workers::table.find(&job.worker_id))
            .set(workers::rate.eq(workers::rate))
            .execute(c)?;
    }
    if !new.force && new.cache_minutes > 0.0 && job.kind == "analyzer" {
        let since = job.created_at - (new.cache_minutes * 60_000.0) as i64;
        let hit: Option<JobRow> = jobs::table
            .filter(jobs::cache_tag.eq(&job.cache_tag))
            .filter(jobs::organization_id.eq(&job.organization_id))
            .filter(jobs::status.ne_all([JobStatus::Failure.as_str(), JobStatus::Deleted.as_str()]))
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
