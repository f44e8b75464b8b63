//! What a finished Cortex job changes in the case, as synchronous functions run in one
//! transaction (see [`finish`]): the job's status and report; for an analyzer, the
//! observable's `reports` entry (the summary taxonomies, keyed by the analyzer's name) and
//! the artifacts tagged `autoImport:true` made observables of the observable's case or alert;
//! then the operations the worker returned (responders, and analyzers as TheHive 4 does),
//! each in its own savepoint and recorded with its outcome on the job.

use super::Dispatch;
use crate::casework::observables::{self as obs, NewFile, NewObservable, Parent};
use crate::casework::{self as cw, Actor};
use crate::db::casework::*;
use crate::db::schema::{alerts, cases, cortex_jobs, observables, organisations, tasks};
use crate::db::{format_id, now_ms, DbConn};
use crate::domain::values::{self, Patch};
use diesel::prelude::*;
use serde_json::{json, Map, Value};
use service_kit::error::ApiError;
use shared_models::casework::InputTask;
use shared_models::cortex::JobStatus;
use std::collections::HashMap;

/// The tag that asks for an artifact to be imported.
pub const AUTO_IMPORT: &str = "autoImport:true";

/// What Cortex said of an ended job.
#[derive(Debug, Clone)]
pub struct Ended {
    /// `Success`, `Failure` or `Deleted`.
    pub status: String,
    /// The job's id on the server, when it has one.
    pub cortex_job_id: Option<String>,
    /// The worker as the server names it.
    pub worker: Option<(String, String, String)>,
    /// When it started there.
    pub start_date: Option<i64>,
    /// The report as TheHive stores it: `{success, summary, full, artifacts, operations}` or
    /// `{success: false, errorMessage}`.
    pub report: Value,
    /// File artifacts already copied into this service's datastore, by Cortex attachment id.
    pub files: HashMap<String, NewFile>,
    /// Whether the artifacts tagged `autoImport:true` become observables now
    /// (`cortex.auto_import`); otherwise analysts import them from the report.
    pub auto_import: bool,
}

impl Ended {
    /// A failure that never reached a worker (unknown server, refused request...).
    pub fn failure(message: impl Into<String>) -> Ended {
        Ended {
            status: JobStatus::Failure.as_str().into(),
            cortex_job_id: None,
            worker: None,
            start_date: None,
            report: json!({"success": false, "errorMessage": message.into()}),
            files: HashMap::new(),
            auto_import: true,
        }
    }
}

/// Records the end of job `id` and applies it, unless it was already applied (a repeated
/// answer changes nothing). Returns the stored job when this call applied it.
pub fn finish(c: &mut DbConn, id: i64, ended: Ended) -> Result<Option<CortexJobRow>, ApiError> {
    let Some(mut job) = cortex_jobs::table
        .find(id)
        .select(CortexJobRow::as_select())
        .first(c)
        .optional()?
    else {
        return Ok(None);
    };
    if job.dispatch == Dispatch::Done.as_str() {
        return Ok(None);
    }
    // Taken first, atomically: of two finishers of one job (a repeated event, another
    // instance), the second waits for this transaction, then finds nothing to do.
    let taken = diesel::update(
        cortex_jobs::table
            .find(id)
            .filter(cortex_jobs::dispatch.ne(Dispatch::Done.as_str())),
    )
    .set(cortex_jobs::dispatch.eq(Dispatch::Done.as_str()))
    .execute(c)?;
    if taken == 0 {
        return Ok(None);
    }
    let now = now_ms();
    let actor = actor_of(c, &job)?;
    let mut operations: Vec<Value> = Vec::new();
    // What the job changes is written as its user: only while that user still sees the
    // object (the access layer), else the report is kept and nothing is applied.
    let allowed = crate::access::sees(c, crate::access::Entity::CortexJob, &actor, job.id)?;
    if ended.status == JobStatus::Success.as_str() && !allowed {
        operations.push(json!({
            "status": "Failure",
            "message": format!(
                "{} no longer sees the {} the job ran on; nothing applied",
                actor.login, job.object_type
            ),
        }));
    }
    let mark = crate::audit::pending_len();
    if ended.status == JobStatus::Success.as_str() && allowed {
        if job.kind == "analyzer" {
            analyzer_results(c, &actor, &job, &ended)?;
        }
        let ops = ended
            .report
            .get("operations")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for op in ops.into_iter().take(1_000) {
            operations.push(run_operation(c, &actor, &job, op));
        }
    }
    if let Some((wid, name, def)) = ended.worker {
        job.worker_id = wid;
        job.worker_name = name;
        job.worker_definition = def;
    }
    job.status = ended.status;
    job.cortex_job_id = ended.cortex_job_id.or(job.cortex_job_id);
    if let Some(s) = ended.start_date {
        job.start_date = s;
    }
    job.end_date = Some(now);
    job.report = Some(ended.report.to_string());
    job.operations = Value::Array(operations).to_string();
    job.dispatch = Dispatch::Done.as_str().into();
    job.updated_at = Some(now);
    job.updated_by = Some(job.created_by.clone());
    diesel::update(cortex_jobs::table.find(job.id))
        .set(&job)
        .execute(c)?;
    // The job's end, and what it changed, are its worker's doing.
    let root = crate::audit::root_of(c, &job.object_type, job.object_id)?;
    crate::audit::record(
        crate::audit::Record::new(
            &actor,
            crate::audit::Action::Update,
            if job.kind == "analyzer" {
                crate::audit::ObjectType::Job
            } else {
                crate::audit::ObjectType::Action
            },
            Some(job.id),
            crate::render::jobs::audit_details(&job),
            root,
        )
        .main(),
    );
    crate::audit::attribute_since(mark, &job.worker_name, job.id);
    Ok(Some(job))
}

/// [`finish`] for the job of submission `request_id`.
pub fn finish_request(
    c: &mut DbConn,
    request_id: &str,
    ended: Ended,
) -> Result<Option<CortexJobRow>, ApiError> {
    let id: Option<i64> = cortex_jobs::table
        .filter(cortex_jobs::request_id.eq(request_id))
        .select(cortex_jobs::id)
        .first(c)
        .optional()?;
    match id {
        Some(id) => finish(c, id, ended),
        None => Ok(None),
    }
}

/// The author of what a job changes: the user who ran it, in its organisation.
pub fn actor_of(c: &mut DbConn, job: &CortexJobRow) -> Result<Actor, ApiError> {
    let org_name: String = organisations::table
        .find(job.organisation_id)
        .select(organisations::name)
        .first(c)?;
    Ok(Actor {
        login: job.created_by.clone(),
        org_id: job.organisation_id,
        org_name,
    })
}

/// The observable's summary and the imported artifacts.
fn analyzer_results(
    c: &mut DbConn,
    actor: &Actor,
    job: &CortexJobRow,
    ended: &Ended,
) -> Result<(), ApiError> {
    let Some(mut o) = observables::table
        .find(job.object_id)
        .select(ObservableRow::as_select())
        .first(c)
        .optional()?
    else {
        return Ok(());
    };
    let name = ended
        .worker
        .as_ref()
        .map_or(job.worker_name.clone(), |w| w.1.clone());
    let mut reports: Map<String, Value> = serde_json::from_str(&o.reports).unwrap_or_default();
    let taxonomies = ended
        .report
        .pointer("/summary/taxonomies")
        .cloned()
        .unwrap_or_else(|| json!([]));
    reports.insert(name.clone(), json!({ "taxonomies": taxonomies }));
    o.reports = Value::Object(reports).to_string();
    diesel::update(observables::table.find(o.id))
        .set(observables::reports.eq(&o.reports))
        .execute(c)?;
    let parent = match (o.case_id, o.alert_id) {
        (Some(k), _) => Parent::Case(k),
        (None, Some(a)) => Parent::Alert(a),
        (None, None) => return Ok(()),
    };
    let types = obs::types(c)?;
    let artifacts = ended
        .report
        .get("artifacts")
        .and_then(Value::as_array)
        .filter(|_| ended.auto_import)
        .cloned()
        .unwrap_or_default();
    let mut news = Vec::new();
    for a in artifacts.iter().take(obs::MAX_PER_REQUEST) {
        let tags: Vec<String> = a
            .get("tags")
            .and_then(Value::as_array)
            .map(|t| {
                t.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        if !tags.iter().any(|t| t == AUTO_IMPORT) {
            continue;
        }
        let Some(data_type) = a.get("dataType").and_then(Value::as_str) else {
            continue;
        };
        let Some(is_file) = types.get(data_type).copied() else {
            tracing::info!(job = %format_id(job.id), data_type, "artifact of an unknown observable type not imported");
            continue;
        };
        let mut tags: Vec<String> = tags.into_iter().filter(|t| t != AUTO_IMPORT).collect();
        tags.push(name.clone());
        let Ok(tags) = values::tags("tags", &tags) else {
            continue;
        };
        let file = if is_file {
            let id = a.pointer("/attachment/id").and_then(Value::as_str);
            match id.and_then(|id| ended.files.get(id)) {
                Some(f) => Some(f.clone()),
                None => continue,
            }
        } else {
            None
        };
        let data = match (&file, a.get("data")) {
            (Some(_), _) => None,
            (None, Some(Value::String(s))) if !s.is_empty() && s.len() <= 1024 * 1024 => {
                Some(s.clone())
            }
            _ => continue,
        };
        news.push(NewObservable {
            data_type: data_type.to_string(),
            data,
            file,
            message: a
                .get("message")
                .and_then(Value::as_str)
                .map(|m| m.chars().take(values::MAX_DESCRIPTION).collect()),
            tlp: a
                .get("tlp")
                .and_then(Value::as_i64)
                .and_then(|t| i32::try_from(t).ok())
                .filter(|t| (0..=4).contains(t))
                .unwrap_or(o.tlp),
            pap: o.pap,
            tags,
            ioc: false,
            sighted: false,
            sighted_at: None,
            ignore_similarity: false,
            reports: "{}".into(),
        });
    }
    if !news.is_empty() {
        obs::insert_into(c, actor, parent, news, false)?;
    }
    Ok(())
}

/// Runs one operation in its own savepoint; returns it with `status` and `message`.
fn run_operation(c: &mut DbConn, actor: &Actor, job: &CortexJobRow, op: Value) -> Value {
    let Value::Object(mut op) = op else {
        return json!({"status": "Failure", "message": "an operation must be an object"});
    };
    let kind = op
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let mark = crate::audit::pending_len();
    let outcome = c.transaction(|c| operation(c, actor, job, &kind, &op));
    if outcome.is_err() {
        crate::audit::forget_since(mark);
    }
    match outcome {
        Ok(message) => {
            op.insert("status".into(), "Success".into());
            op.insert("message".into(), message.into());
        }
        Err(e) => {
            tracing::info!(job = %format_id(job.id), operation = %kind, error = %e, "operation not applied");
            op.insert("status".into(), "Failure".into());
            op.insert("message".into(), e.to_string().into());
        }
    }
    Value::Object(op)
}

fn text<'a>(op: &'a Map<String, Value>, name: &str) -> Result<&'a str, ApiError> {
    match op.get(name) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s),
        _ => Err(ApiError::missing(name)),
    }
}

fn operation(
    c: &mut DbConn,
    actor: &Actor,
    job: &CortexJobRow,
    kind: &str,
    op: &Map<String, Value>,
) -> Result<String, ApiError> {
    let by = format!("by {} ({})", job.worker_name, job.kind);
    match kind {
        "AddTagToCase" => {
            let tag = text(op, "tag")?;
            let mut k = related_case(c, actor, job)?;
            patch_case(c, actor, &mut k, json!({ "addTags": [tag] }))?;
            Ok(format!("tag {tag} added to case #{} {by}", k.number))
        }
        "AssignCase" => {
            let owner = text(op, "owner")?;
            let mut k = related_case(c, actor, job)?;
            patch_case(c, actor, &mut k, json!({ "assignee": owner }))?;
            Ok(format!("case #{} assigned to {owner} {by}", k.number))
        }
        "AddCustomFields" => {
            let name = text(op, "name")?;
            let value = op.get("value").cloned().unwrap_or(Value::Null);
            let mut k = related_case(c, actor, job)?;
            patch_case(
                c,
                actor,
                &mut k,
                json!({ "customFields": [{ "name": name, "value": value }] }),
            )?;
            Ok(format!(
                "custom field {name} set on case #{} {by}",
                k.number
            ))
        }
        "CreateTask" => {
            let title = text(op, "title")?;
            let k = related_case(c, actor, job)?;
            let input = InputTask {
                title: title.to_string(),
                group: op.get("group").and_then(Value::as_str).map(str::to_string),
                description: op
                    .get("description")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                status: None,
                flag: None,
                start_date: None,
                end_date: None,
                order: None,
                due_date: None,
                assignee: None,
                mandatory: None,
            };
            let t = cw::tasks::check(&input, "")?;
            let row = cw::tasks::insert(c, actor, k.id, &t)?;
            Ok(format!(
                "task {} created in case #{} {by}",
                format_id(row.id),
                k.number
            ))
        }
        "CloseTask" => {
            let mut t = related_task(c, actor, job, op)?;
            let body = json!({"status": "Completed"});
            cw::tasks::apply_patch(c, actor, &mut t, &Patch::new(&body)?)?;
            diesel::update(tasks::table.find(t.id)).set(&t).execute(c)?;
            Ok(format!("task {} closed {by}", t.title))
        }
        "AddLogToTask" => {
            let content = text(op, "content")?;
            let t = related_task(c, actor, job, op)?;
            let log = cw::tasks::insert_log(
                c,
                actor,
                &t,
                values::long_text("content", content, values::MAX_DESCRIPTION)?,
                None,
                None,
            )?;
            Ok(format!(
                "log {} added to task {} {by}",
                format_id(log.id),
                t.title
            ))
        }
        "AddTagToArtifact" => {
            let tag = text(op, "tag")?;
            let mut o = related_observable(c, actor, job)?;
            let before = o.clone();
            let tags = values::union(
                &values::tags_of(&o.tags),
                &values::tags("tag", &[tag.to_string()])?,
            );
            o.tags = values::tags_json(&tags);
            o.updated_at = Some(now_ms());
            o.updated_by = Some(actor.login.clone());
            diesel::update(observables::table.find(o.id))
                .set(&o)
                .execute(c)?;
            crate::audit::updated(
                actor,
                crate::audit::ObjectType::Observable,
                o.id,
                &before,
                &o,
                crate::audit::Root::of(o.case_id, o.alert_id),
            );
            Ok(format!(
                "tag {tag} added to observable {} {by}",
                format_id(o.id)
            ))
        }
        "AddTagToAlert" => {
            let tag = text(op, "tag")?;
            let mut a = related_alert(c, actor, job)?;
            let before = a.clone();
            let tags = values::union(
                &values::tags_of(&a.tags),
                &values::tags("tag", &[tag.to_string()])?,
            );
            a.tags = values::tags_json(&tags);
            a.updated_at = Some(now_ms());
            a.updated_by = Some(actor.login.clone());
            diesel::update(alerts::table.find(a.id))
                .set(&a)
                .execute(c)?;
            alert_updated(actor, &before, &a);
            Ok(format!("tag {tag} added to alert {} {by}", format_id(a.id)))
        }
        "MarkAlertAsRead" => {
            let mut a = related_alert(c, actor, job)?;
            let before = a.clone();
            a.is_read = true;
            a.updated_at = Some(now_ms());
            a.updated_by = Some(actor.login.clone());
            diesel::update(alerts::table.find(a.id))
                .set(&a)
                .execute(c)?;
            alert_updated(actor, &before, &a);
            Ok(format!("alert {} marked as read {by}", format_id(a.id)))
        }
        "AddArtifactToCase" => {
            let data_type = text(op, "dataType")?;
            let data = text(op, "data")?;
            let k = related_case(c, actor, job)?;
            let types = obs::types(c)?;
            match types.get(data_type) {
                Some(false) => {}
                Some(true) => {
                    return Err(ApiError::attribute(
                        "dataType",
                        "file observables cannot be added by an operation",
                    ))
                }
                None => {
                    return Err(ApiError::attribute(
                        "dataType",
                        format!("observable type {data_type} does not exist"),
                    ))
                }
            }
            let tags: Vec<String> = op
                .get("tags")
                .and_then(Value::as_array)
                .map(|t| {
                    t.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            let level = |name: &str, max: i32| -> Result<i32, ApiError> {
                match op.get(name) {
                    None | Some(Value::Null) => Ok(2),
                    Some(v) => values::check_range(
                        name,
                        v.as_i64().and_then(|n| i32::try_from(n).ok()).unwrap_or(-1),
                        0,
                        max,
                    ),
                }
            };
            let new = NewObservable {
                data_type: data_type.to_string(),
                data: Some(values::text("data", data, 1024 * 1024)?),
                file: None,
                message: op
                    .get("message")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                tlp: level("tlp", 4)?,
                pap: level("pap", 3)?,
                tags: values::tags("tags", &tags)?,
                ioc: op.get("ioc").and_then(Value::as_bool).unwrap_or(false),
                sighted: op.get("sighted").and_then(Value::as_bool).unwrap_or(false),
                sighted_at: None,
                ignore_similarity: op
                    .get("ignoreSimilarity")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                reports: "{}".into(),
            };
            let rows = obs::insert(c, actor, Parent::Case(k.id), vec![new])?;
            Ok(format!(
                "observable {} added to case #{} {by}",
                rows.first().map(|r| format_id(r.id)).unwrap_or_default(),
                k.number
            ))
        }
        "" => Err(ApiError::missing("type")),
        other => Err(ApiError::BadRequest(format!("unknown operation {other}"))),
    }
}

fn alert_updated(actor: &Actor, before: &AlertRow, after: &AlertRow) {
    crate::audit::updated(
        actor,
        crate::audit::ObjectType::Alert,
        after.id,
        before,
        after,
        Some(crate::audit::Root::Alert(after.id)),
    );
}

fn patch_case(c: &mut DbConn, actor: &Actor, k: &mut CaseRow, body: Value) -> Result<(), ApiError> {
    cw::cases::apply_patch(c, actor, k, &Patch::new(&body)?)?;
    diesel::update(cases::table.find(k.id))
        .set(&*k)
        .execute(c)?;
    Ok(())
}

/// The case of the job's object: the case itself, a task's, a log's, an observable's, or
/// the case an alert was imported into.
fn related_case(c: &mut DbConn, actor: &Actor, job: &CortexJobRow) -> Result<CaseRow, ApiError> {
    let id = format_id(job.object_id);
    let case_id = match job.object_type.as_str() {
        "case" => Some(job.object_id),
        "case_task" => Some(cw::find_task(c, actor, &id)?.case_id),
        "case_task_log" => {
            let l = cw::find_log(c, actor, &id)?;
            Some(cw::find_task(c, actor, &format_id(l.task_id))?.case_id)
        }
        "case_artifact" => cw::find_observable(c, actor, &id)?.case_id,
        "alert" => cw::find_alert(c, actor.org_id, &id)?.case_id,
        _ => None,
    };
    match case_id {
        Some(k) => cw::find_case(c, actor, &format_id(k)),
        None => Err(ApiError::BadRequest(format!(
            "the {} {id} is not in a case",
            job.object_type
        ))),
    }
}

/// The task of the job's object: the task itself, a log's, or (on a case) the task named by
/// the operation's `task` (title or id).
fn related_task(
    c: &mut DbConn,
    actor: &Actor,
    job: &CortexJobRow,
    op: &Map<String, Value>,
) -> Result<TaskRow, ApiError> {
    let id = format_id(job.object_id);
    match job.object_type.as_str() {
        "case_task" => cw::find_task(c, actor, &id),
        "case_task_log" => {
            let l = cw::find_log(c, actor, &id)?;
            cw::find_task(c, actor, &format_id(l.task_id))
        }
        _ => {
            let Some(name) = op.get("task").and_then(Value::as_str) else {
                return Err(ApiError::BadRequest(format!(
                    "{} needs a task: run it on a task, or name one in `task`",
                    op.get("type")
                        .and_then(Value::as_str)
                        .unwrap_or("the operation")
                )));
            };
            let k = related_case(c, actor, job)?;
            let found = cw::tasks::of_case(c, k.id)?
                .into_iter()
                .find(|t| t.title == name || format_id(t.id) == name);
            found.ok_or_else(|| {
                ApiError::NotFound(format!("Task {name} not found in case #{}", k.number))
            })
        }
    }
}

fn related_observable(
    c: &mut DbConn,
    actor: &Actor,
    job: &CortexJobRow,
) -> Result<ObservableRow, ApiError> {
    if job.object_type != "case_artifact" {
        return Err(ApiError::BadRequest(format!(
            "the operation needs an observable, not a {}",
            job.object_type
        )));
    }
    cw::find_observable(c, actor, &format_id(job.object_id))
}

fn related_alert(c: &mut DbConn, actor: &Actor, job: &CortexJobRow) -> Result<AlertRow, ApiError> {
    match job.object_type.as_str() {
        "alert" => cw::find_alert(c, actor.org_id, &format_id(job.object_id)),
        "case_artifact" => {
            let o = cw::find_observable(c, actor, &format_id(job.object_id))?;
            match o.alert_id {
                Some(a) => cw::find_alert(c, actor.org_id, &format_id(a)),
                None => Err(ApiError::BadRequest(
                    "the observable is not in an alert".into(),
                )),
            }
        }
        other => Err(ApiError::BadRequest(format!(
            "the operation needs an alert, not a {other}"
        ))),
    }
}
