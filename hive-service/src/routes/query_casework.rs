//! Query API selections and traversals over case work: alerts, cases, observables, tasks,
//! logs and case templates of the caller's organisation, rendered by the same renderers as
//! the REST routes.

use crate::auth::Caller;
use crate::casework::{self as cw, render};
use crate::db::casework::*;
use crate::db::schema::{alerts, case_templates, cases, logs, observables, tasks};
use crate::db::{parse_id, DbConn};
use crate::error::ApiError;
use diesel::prelude::*;
use serde_json::Value;

/// An entity kind the Query API walks through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Alerts.
    Alert,
    /// Cases.
    Case,
    /// Observables.
    Observable,
    /// Tasks.
    Task,
    /// Task logs.
    Log,
    /// Case templates.
    CaseTemplate,
}

const ALERT_FIELDS: &[&str] = &[
    "type",
    "source",
    "sourceRef",
    "externalLink",
    "title",
    "description",
    "severity",
    "severityLabel",
    "date",
    "tags",
    "tlp",
    "tlpLabel",
    "pap",
    "papLabel",
    "follow",
    "flag",
    "customFields",
    "caseTemplate",
    "observableCount",
    "caseId",
    "status",
    "stage",
    "assignee",
    "summary",
    "newDate",
    "inProgressDate",
    "closedDate",
    "importedDate",
    "timeToDetect",
    "timeToTriage",
    "timeToQualify",
    "timeToAcknowledge",
    "imported",
    "read",
];
const CASE_FIELDS: &[&str] = &[
    "number",
    "title",
    "description",
    "severity",
    "severityLabel",
    "startDate",
    "endDate",
    "tags",
    "flag",
    "tlp",
    "tlpLabel",
    "pap",
    "papLabel",
    "status",
    "stage",
    "summary",
    "impactStatus",
    "assignee",
    "access",
    "customFields",
    "caseTemplate",
    "newDate",
    "inProgressDate",
    "closedDate",
    "alertDate",
    "alertNewDate",
    "alertImportedDate",
    "timeToDetect",
    "timeToTriage",
    "timeToResolve",
    "handlingDuration",
    "owningOrganisation",
];
const OBSERVABLE_FIELDS: &[&str] = &[
    "dataType",
    "data",
    "startDate",
    "attachment",
    "tlp",
    "tlpLabel",
    "pap",
    "papLabel",
    "tags",
    "ioc",
    "sighted",
    "sightedAt",
    "reports",
    "message",
    "ignoreSimilarity",
    "external",
];
const TASK_FIELDS: &[&str] = &[
    "title",
    "group",
    "description",
    "status",
    "flag",
    "startDate",
    "endDate",
    "assignee",
    "order",
    "dueDate",
    "mandatory",
];
const LOG_FIELDS: &[&str] = &[
    "message",
    "date",
    "attachments",
    "owner",
    "includeInTimeline",
];
const TEMPLATE_FIELDS: &[&str] = &[
    "name",
    "displayName",
    "titlePrefix",
    "description",
    "severity",
    "tags",
    "flag",
    "tlp",
    "pap",
    "summary",
    "customFields",
    "tasks",
];

impl Kind {
    /// The kind a selection (`listAlert`, `getCase`...) starts from.
    pub fn of_selection(name: &str) -> Option<Kind> {
        Some(match name {
            "listAlert" | "getAlert" => Kind::Alert,
            "listCase" | "getCase" => Kind::Case,
            "listObservable" | "getObservable" => Kind::Observable,
            "listTask" | "getTask" => Kind::Task,
            "listLog" | "getLog" => Kind::Log,
            "listCaseTemplate" | "getCaseTemplate" => Kind::CaseTemplate,
            _ => return None,
        })
    }

    /// Fields a filter or sort may name.
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            Kind::Alert => ALERT_FIELDS,
            Kind::Case => CASE_FIELDS,
            Kind::Observable => OBSERVABLE_FIELDS,
            Kind::Task => TASK_FIELDS,
            Kind::Log => LOG_FIELDS,
            Kind::CaseTemplate => TEMPLATE_FIELDS,
        }
    }
}

fn values<T: serde::Serialize>(items: &[T]) -> Vec<Value> {
    items.iter().map(render::to_value).collect()
}

/// Renders rows of a kind.
fn alerts_out(c: &mut DbConn, rows: &[AlertRow]) -> Result<Vec<Value>, ApiError> {
    Ok(values(&render::alerts(c, rows)?))
}
fn cases_out(c: &mut DbConn, rows: &[CaseRow]) -> Result<Vec<Value>, ApiError> {
    Ok(values(&render::cases(c, rows)?))
}
fn observables_out(c: &mut DbConn, rows: &[ObservableRow]) -> Result<Vec<Value>, ApiError> {
    Ok(values(&render::observables(c, rows)?))
}
fn tasks_out(rows: &[TaskRow]) -> Vec<Value> {
    rows.iter()
        .map(|t| render::to_value(&render::task(t)))
        .collect()
}
fn logs_out(c: &mut DbConn, rows: &[LogRow]) -> Result<Vec<Value>, ApiError> {
    Ok(values(&render::logs(c, rows)?))
}

/// Runs a selection; `key` is the `idOrName` of a `get*` selection. An unknown or foreign
/// key selects nothing.
pub fn select(
    c: &mut DbConn,
    caller: &Caller,
    kind: Kind,
    key: Option<&str>,
) -> Result<Vec<Value>, ApiError> {
    let org = caller.organisation.id;
    let not_found_is_empty = |r: Result<Vec<Value>, ApiError>| match r {
        Err(ApiError::NotFound(_)) => Ok(Vec::new()),
        other => other,
    };
    match (kind, key) {
        (Kind::Alert, Some(k)) => {
            not_found_is_empty(cw::find_alert(c, org, k).and_then(|a| alerts_out(c, &[a])))
        }
        (Kind::Alert, None) => {
            let rows: Vec<AlertRow> = alerts::table
                .filter(alerts::organisation_id.eq(org))
                .order(alerts::id.asc())
                .select(AlertRow::as_select())
                .load(c)?;
            alerts_out(c, &rows)
        }
        (Kind::Case, Some(k)) => {
            not_found_is_empty(cw::find_case(c, org, k).and_then(|r| cases_out(c, &[r])))
        }
        (Kind::Case, None) => {
            let rows: Vec<CaseRow> = cases::table
                .filter(cases::organisation_id.eq(org))
                .order(cases::id.asc())
                .select(CaseRow::as_select())
                .load(c)?;
            cases_out(c, &rows)
        }
        (Kind::Observable, Some(k)) => not_found_is_empty(
            cw::find_observable(c, org, k).and_then(|r| observables_out(c, &[r])),
        ),
        (Kind::Observable, None) => {
            let rows: Vec<ObservableRow> = observables::table
                .filter(observables::organisation_id.eq(org))
                .order(observables::id.asc())
                .select(ObservableRow::as_select())
                .load(c)?;
            observables_out(c, &rows)
        }
        (Kind::Task, Some(k)) => {
            not_found_is_empty(cw::find_task(c, org, k).map(|r| tasks_out(&[r])))
        }
        (Kind::Task, None) => {
            let rows: Vec<TaskRow> = tasks::table
                .filter(tasks::organisation_id.eq(org))
                .order(tasks::id.asc())
                .select(TaskRow::as_select())
                .load(c)?;
            Ok(tasks_out(&rows))
        }
        (Kind::Log, Some(k)) => {
            not_found_is_empty(cw::find_log(c, org, k).and_then(|r| logs_out(c, &[r])))
        }
        (Kind::Log, None) => {
            let rows: Vec<LogRow> = logs::table
                .filter(logs::organisation_id.eq(org))
                .order(logs::id.asc())
                .select(LogRow::as_select())
                .load(c)?;
            logs_out(c, &rows)
        }
        (Kind::CaseTemplate, Some(k)) => not_found_is_empty(
            cw::find_template(c, org, k).and_then(|r| Ok(values(&render::templates(c, &[r])?))),
        ),
        (Kind::CaseTemplate, None) => {
            let rows: Vec<CaseTemplateRow> = case_templates::table
                .filter(case_templates::organisation_id.eq(org))
                .order(case_templates::id.asc())
                .select(CaseTemplateRow::as_select())
                .load(c)?;
            Ok(values(&render::templates(c, &rows)?))
        }
    }
}

fn ids(items: &[Value]) -> Vec<i64> {
    items
        .iter()
        .filter_map(|i| i.get("_id").and_then(Value::as_str).and_then(parse_id))
        .collect()
}

fn ref_ids(items: &[Value], field: &str) -> Vec<i64> {
    items
        .iter()
        .filter_map(|i| i.get(field).and_then(Value::as_str).and_then(parse_id))
        .collect()
}

/// Follows a traversal (`observables`, `tasks`, `case`...) from a set of entities.
pub fn traverse(
    c: &mut DbConn,
    caller: &Caller,
    from: Kind,
    name: &str,
    items: &[Value],
) -> Result<Option<(Kind, Vec<Value>)>, ApiError> {
    let org = caller.organisation.id;
    let ids = ids(items);
    Ok(Some(match (from, name) {
        (Kind::Alert, "observables") | (Kind::Case, "observables") => {
            let rows: Vec<ObservableRow> = if from == Kind::Alert {
                observables::table
                    .filter(observables::alert_id.eq_any(&ids))
                    .filter(observables::organisation_id.eq(org))
                    .order(observables::id.asc())
                    .select(ObservableRow::as_select())
                    .load(c)?
            } else {
                observables::table
                    .filter(observables::case_id.eq_any(&ids))
                    .filter(observables::organisation_id.eq(org))
                    .order(observables::id.asc())
                    .select(ObservableRow::as_select())
                    .load(c)?
            };
            (Kind::Observable, observables_out(c, &rows)?)
        }
        (Kind::Alert, "case") => {
            let case_ids = ref_ids(items, "caseId");
            let rows: Vec<CaseRow> = cases::table
                .filter(cases::id.eq_any(&case_ids))
                .filter(cases::organisation_id.eq(org))
                .order(cases::id.asc())
                .select(CaseRow::as_select())
                .load(c)?;
            (Kind::Case, cases_out(c, &rows)?)
        }
        (Kind::Case, "tasks") => {
            let rows: Vec<TaskRow> = tasks::table
                .filter(tasks::case_id.eq_any(&ids))
                .filter(tasks::organisation_id.eq(org))
                .order(tasks::id.asc())
                .select(TaskRow::as_select())
                .load(c)?;
            (Kind::Task, tasks_out(&rows))
        }
        (Kind::Case, "alerts") => {
            let rows: Vec<AlertRow> = alerts::table
                .filter(alerts::case_id.eq_any(&ids))
                .filter(alerts::organisation_id.eq(org))
                .order(alerts::id.asc())
                .select(AlertRow::as_select())
                .load(c)?;
            (Kind::Alert, alerts_out(c, &rows)?)
        }
        (Kind::Task, "logs") => {
            let rows: Vec<LogRow> = logs::table
                .filter(logs::task_id.eq_any(&ids))
                .filter(logs::organisation_id.eq(org))
                .order(logs::id.asc())
                .select(LogRow::as_select())
                .load(c)?;
            (Kind::Log, logs_out(c, &rows)?)
        }
        (Kind::Task, "case") | (Kind::Observable, "case") => {
            let parent: Vec<i64> = if from == Kind::Task {
                tasks::table
                    .filter(tasks::id.eq_any(&ids))
                    .select(tasks::case_id)
                    .load(c)?
            } else {
                observables::table
                    .filter(observables::id.eq_any(&ids))
                    .select(observables::case_id)
                    .load::<Option<i64>>(c)?
                    .into_iter()
                    .flatten()
                    .collect()
            };
            let rows: Vec<CaseRow> = cases::table
                .filter(cases::id.eq_any(&parent))
                .filter(cases::organisation_id.eq(org))
                .order(cases::id.asc())
                .select(CaseRow::as_select())
                .load(c)?;
            (Kind::Case, cases_out(c, &rows)?)
        }
        (Kind::Observable, "alert") => {
            let parent: Vec<i64> = observables::table
                .filter(observables::id.eq_any(&ids))
                .select(observables::alert_id)
                .load::<Option<i64>>(c)?
                .into_iter()
                .flatten()
                .collect();
            let rows: Vec<AlertRow> = alerts::table
                .filter(alerts::id.eq_any(&parent))
                .filter(alerts::organisation_id.eq(org))
                .order(alerts::id.asc())
                .select(AlertRow::as_select())
                .load(c)?;
            (Kind::Alert, alerts_out(c, &rows)?)
        }
        (Kind::CaseTemplate, "tasks") => {
            let tasks: Vec<Value> = items
                .iter()
                .filter_map(|t| t.get("tasks").and_then(Value::as_array))
                .flatten()
                .cloned()
                .collect();
            (Kind::Task, tasks)
        }
        _ => return Ok(None),
    }))
}

/// The form of an entity filters and sorts look at: custom fields as
/// `customFields.<name>` (and TheHive 4's `customFields.<name>.<type>`), `imported` and
/// `read` for alerts.
pub fn filter_view(kind: Kind, item: &Value) -> Value {
    let mut view = item.clone();
    if let Value::Object(o) = &mut view {
        if let Some(Value::Array(cfs)) = o.get("customFields") {
            let mut map = serde_json::Map::new();
            for cf in cfs {
                if let (Some(name), Some(t)) = (
                    cf.get("name").and_then(Value::as_str),
                    cf.get("type").and_then(Value::as_str),
                ) {
                    let v = cf.get("value").cloned().unwrap_or(Value::Null);
                    map.insert(name.to_string(), v.clone());
                    map.insert(format!("{name}.{t}"), v);
                }
            }
            o.insert("customFields".into(), Value::Object(map));
        }
        if kind == Kind::Alert {
            let imported = o.contains_key("caseId");
            o.insert("imported".into(), Value::Bool(imported));
        }
    }
    view
}
