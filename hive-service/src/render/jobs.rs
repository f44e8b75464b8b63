//! How Cortex jobs and actions of hive-service look through its API (`listJob`, the case's
//! analyzer jobs, responder actions).

use crate::access::{self, Entity};
use crate::casework::Actor;
use crate::db::casework::CortexJobRow;
use crate::db::schema::cortex_jobs;
use crate::db::{format_id, DbConn};
use diesel::prelude::*;
use serde_json::{json, Value};
use service_kit::error::ApiError;

/// Renders an analyzer job as TheHive does (`_type` `case_artifact_job`, `operations` as
/// JSON text).
pub fn render_job(j: &CortexJobRow) -> Value {
    let mut v = json!({
        "_id": format_id(j.id),
        "id": format_id(j.id),
        "_type": "case_artifact_job",
        "_createdBy": j.created_by,
        "_createdAt": j.created_at,
        "analyzerId": j.worker_id,
        "analyzerName": j.worker_name,
        "analyzerDefinition": j.worker_definition,
        "status": j.status,
        "startDate": j.start_date,
        "cortexId": j.cortex_id,
        "cortexJobId": j.cortex_job_id.clone().unwrap_or_default(),
        "operations": j.operations,
    });
    common(j, &mut v);
    v
}

/// The fields of a job or an action its audit records carry (TheHive's job details: the
/// worker, the server, the status, the object it runs on).
pub fn audit_details(j: &CortexJobRow) -> serde_json::Map<String, Value> {
    let (id_key, name_key) = if j.kind == "analyzer" {
        ("analyzerId", "analyzerName")
    } else {
        ("responderId", "responderName")
    };
    let mut m = serde_json::Map::new();
    m.insert(id_key.into(), j.worker_id.clone().into());
    m.insert(name_key.into(), j.worker_name.clone().into());
    m.insert("cortexId".into(), j.cortex_id.clone().into());
    m.insert("status".into(), j.status.clone().into());
    m.insert("startDate".into(), j.start_date.into());
    if let Some(end) = j.end_date {
        m.insert("endDate".into(), end.into());
    }
    m.insert("objectType".into(), j.object_type.clone().into());
    m.insert("objectId".into(), format_id(j.object_id).into());
    m
}

/// Renders a responder action as TheHive does (`_type` `action`).
pub fn render_action(j: &CortexJobRow) -> Value {
    let mut v = json!({
        "_id": format_id(j.id),
        "id": format_id(j.id),
        "_type": "action",
        "_createdBy": j.created_by,
        "_createdAt": j.created_at,
        "responderId": j.worker_id,
        "responderName": j.worker_name,
        "responderDefinition": j.worker_definition,
        "cortexId": j.cortex_id,
        "cortexJobId": j.cortex_job_id.clone().unwrap_or_default(),
        "objectType": j.object_type,
        "objectId": format_id(j.object_id),
        "status": j.status,
        "startDate": j.start_date,
        "operations": j.operations,
        "report": {},
    });
    common(j, &mut v);
    v
}

/// The analyzer jobs of the organisation, newest first, for the Query API (`listJob`):
/// only those the access layer lets the caller see (restricted cases stay hidden).
pub fn org_jobs(c: &mut DbConn, actor: &Actor) -> Result<Vec<Value>, ApiError> {
    let rows: Vec<CortexJobRow> = cortex_jobs::table
        .filter(cortex_jobs::organisation_id.eq(actor.org_id))
        .filter(cortex_jobs::kind.eq("analyzer"))
        .filter(access::visible(Entity::CortexJob, actor, "cortex_jobs"))
        .order(cortex_jobs::id.desc())
        .limit(10_000)
        .select(CortexJobRow::as_select())
        .load(c)?;
    Ok(rows.iter().map(render_job).collect())
}

fn common(j: &CortexJobRow, v: &mut Value) {
    if let Some(u) = &j.updated_by {
        v["_updatedBy"] = json!(u);
    }
    if let Some(u) = j.updated_at {
        v["_updatedAt"] = json!(u);
    }
    if let Some(e) = j.end_date {
        v["endDate"] = json!(e);
    }
    if let Some(r) = j
        .report
        .as_deref()
        .and_then(|r| serde_json::from_str::<Value>(r).ok())
    {
        v["report"] = r;
    }
}

/// The object type of a connector path (`case`, `case_task`/`task`, `case_task_log`/`log`,
/// `case_artifact`/`observable`, `alert`), as jobs store it.
pub fn object_type(t: &str) -> Result<&'static str, ApiError> {
    Ok(match t {
        "case" => "case",
        "case_task" | "task" => "case_task",
        "case_task_log" | "log" => "case_task_log",
        "case_artifact" | "observable" => "case_artifact",
        "alert" => "alert",
        other => {
            return Err(ApiError::attribute(
                "objectType",
                format!("{other}: expected case, case_task, case_task_log, case_artifact or alert"),
            ))
        }
    })
}

/// The row id of the object a job or an action runs on, found through the access layer
/// (404 for what the caller cannot see).
pub fn object_id(
    c: &mut DbConn,
    actor: &Actor,
    object_type: &str,
    id: &str,
) -> Result<i64, ApiError> {
    use crate::casework as cw;
    Ok(match object_type {
        "case" => cw::find_case(c, actor, id)?.id,
        "case_task" => cw::find_task(c, actor, id)?.id,
        "case_task_log" => cw::find_log(c, actor, id)?.id,
        "case_artifact" => cw::find_observable(c, actor, id)?.id,
        "alert" => cw::find_alert(c, actor.org_id, id)?.id,
        other => return Err(ApiError::NotFound(format!("{other} {id} not found"))),
    })
}

/// The jobs (`responder`: actions) run on an object the caller can see, newest first.
fn runs_on(
    c: &mut DbConn,
    actor: &Actor,
    object_type: &str,
    id: &str,
    kind: &str,
) -> Result<Vec<CortexJobRow>, ApiError> {
    let object_type = self::object_type(object_type)?;
    let oid = object_id(c, actor, object_type, id)?;
    Ok(cortex_jobs::table
        .filter(cortex_jobs::object_type.eq(object_type))
        .filter(cortex_jobs::object_id.eq(oid))
        .filter(cortex_jobs::kind.eq(kind))
        .order(cortex_jobs::id.desc())
        .limit(1_000)
        .select(CortexJobRow::as_select())
        .load::<CortexJobRow>(c)?)
}

/// The responder actions run on an object, newest first, rendered.
pub fn actions_on(
    c: &mut DbConn,
    actor: &Actor,
    object_type: &str,
    id: &str,
) -> Result<Vec<Value>, ApiError> {
    Ok(runs_on(c, actor, object_type, id, "responder")?
        .iter()
        .map(render_action)
        .collect())
}

/// The analyzer jobs run on an observable, newest first, rendered.
pub fn jobs_on(c: &mut DbConn, actor: &Actor, observable: &str) -> Result<Vec<Value>, ApiError> {
    Ok(runs_on(c, actor, "case_artifact", observable, "analyzer")?
        .iter()
        .map(render_job)
        .collect())
}
