//! Objects in TheHive's legacy (v0) shapes: `id` beside `_id`, `_type` names (`alert`,
//! `case`, `case_artifact`, `case_task`, `case_task_log`), `createdBy`/`createdAt`, alert
//! `artifacts` embedded, case `caseId` and `owner`, custom fields as `{name: {type: value,
//! order}}`, and the statuses TheHive 4 computed (alert New/Updated/Ignored/Imported, case
//! Open/Resolved/Duplicated). Every object is rendered by the v1 renderer first, then
//! reshaped here, so that the two APIs (and the webhooks of either version) cannot disagree
//! on a value.

use crate::db::casework::{AlertRow, ObservableRow};
use crate::db::schema::{alerts as alert_t, observables};
use crate::db::{parse_id, DbConn};
use crate::render;
use diesel::prelude::*;
use serde_json::{Map, Value};
use service_kit::error::ApiError;
use std::collections::HashMap;

/// v1 meta fields and their v0 names.
const META: &[(&str, &str)] = &[
    ("_createdBy", "createdBy"),
    ("_createdAt", "createdAt"),
    ("_updatedBy", "updatedBy"),
    ("_updatedAt", "updatedAt"),
];

/// v1 fields that v0 objects do not have.
const V1_ONLY: &[&str] = &[
    "extraData",
    "severityLabel",
    "tlpLabel",
    "papLabel",
    "external",
    "stage",
    "newDate",
    "inProgressDate",
    "closedDate",
    "importedDate",
    "alertDate",
    "alertNewDate",
    "alertImportedDate",
    "timeToDetect",
    "timeToTriage",
    "timeToQualify",
    "timeToAcknowledge",
    "timeToResolve",
    "handlingDuration",
    "observableCount",
    "access",
];

/// Reshapes a v1 object's meta fields: `id` beside `_id`, the v0 `_type`, `createdBy`...
pub fn meta(v: Value, kind: &str) -> Map<String, Value> {
    let mut o = match v {
        Value::Object(o) => o,
        _ => Map::new(),
    };
    let id = o.get("_id").cloned().unwrap_or(Value::Null);
    o.insert("id".into(), id);
    o.insert("_type".into(), kind.into());
    for (from, to) in META {
        if let Some(x) = o.remove(*from) {
            if !x.is_null() {
                o.insert((*to).into(), x);
            }
        }
    }
    for k in V1_ONLY {
        o.remove(*k);
    }
    o
}

/// Moves a field to its other API's name (a null is dropped; an existing field is kept).
pub fn rename(o: &mut Map<String, Value>, from: &str, to: &str) {
    if let Some(v) = o.remove(from) {
        if !v.is_null() {
            o.entry(to).or_insert(v);
        }
    }
}

/// Custom values, v1 list `[{name, type, value, order}]` → v0 `{name: {type: value, order}}`.
pub fn custom_fields(v: Option<Value>) -> Value {
    let mut out = Map::new();
    if let Some(Value::Array(items)) = v {
        for cf in items {
            let (Some(name), Some(t)) = (
                cf.get("name").and_then(Value::as_str),
                cf.get("type").and_then(Value::as_str),
            ) else {
                continue;
            };
            let mut entry = Map::new();
            entry.insert(t.into(), cf.get("value").cloned().unwrap_or(Value::Null));
            entry.insert(
                "order".into(),
                cf.get("order").cloned().unwrap_or(Value::Null),
            );
            out.insert(name.into(), Value::Object(entry));
        }
    }
    Value::Object(out)
}

/// A v1 attachment as v0 shows it: `{name, hashes, size, contentType, id}`, `id` being the
/// content hash that `/api/datastore/{id}` serves.
pub fn attachment(v: &Value) -> Value {
    let mut out = Map::new();
    for k in ["name", "hashes", "size", "contentType", "id"] {
        if let Some(x) = v.get(k) {
            out.insert(k.into(), x.clone());
        }
    }
    Value::Object(out)
}

/// An observable (`case_artifact`).
pub fn observable(v: Value) -> Value {
    let mut o = meta(v, "case_artifact");
    if let Some(a) = o.remove("attachment") {
        if !a.is_null() {
            o.insert("attachment".into(), attachment(&a));
        }
    }
    if o.get("data").is_some_and(Value::is_null) {
        o.remove("data");
    }
    o.remove("sightedAt");
    o.insert("status".into(), "Ok".into());
    o.entry("stats")
        .or_insert_with(|| Value::Object(Map::new()));
    Value::Object(o)
}

/// A task (`case_task`): `assignee` is `owner`.
pub fn task(v: Value) -> Value {
    let mut o = meta(v, "case_task");
    rename(&mut o, "assignee", "owner");
    Value::Object(o)
}

/// A task log (`case_task_log`): `date` is `startDate`, the first file is `attachment`.
pub fn log(v: Value) -> Value {
    let mut o = meta(v, "case_task_log");
    rename(&mut o, "date", "startDate");
    if let Some(Value::Array(atts)) = o.remove("attachments") {
        if let Some(a) = atts.first() {
            o.insert("attachment".into(), attachment(a));
        }
    }
    o.remove("includeInTimeline");
    o.insert("status".into(), "Ok".into());
    Value::Object(o)
}

/// The v0 status of a case: `Open`, or `Resolved`/`Duplicated` once closed, with the v1
/// closing status as `resolutionStatus`.
pub fn case_status(v1_status: &str, stage: &str) -> (&'static str, Option<String>) {
    if stage != "Closed" {
        return ("Open", None);
    }
    if v1_status == "Duplicated" {
        ("Duplicated", Some("Duplicated".into()))
    } else {
        ("Resolved", Some(v1_status.to_string()))
    }
}

/// A case: `caseId` is its number, `owner` its assignee.
pub fn case(v: Value) -> Value {
    let v1_status = v
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or("New")
        .to_string();
    let stage = v
        .get("stage")
        .and_then(Value::as_str)
        .unwrap_or("New")
        .to_string();
    let mut o = meta(v, "case");
    rename(&mut o, "number", "caseId");
    rename(&mut o, "assignee", "owner");
    let cfs = o.remove("customFields");
    o.insert("customFields".into(), custom_fields(cfs));
    let (status, resolution) = case_status(&v1_status, &stage);
    o.insert("status".into(), status.into());
    if let Some(r) = resolution {
        o.insert("resolutionStatus".into(), r.into());
    }
    o.insert("metrics".into(), Value::Object(Map::new()));
    o.insert("stats".into(), Value::Object(Map::new()));
    Value::Object(o)
}

/// A case template.
pub fn template(v: Value) -> Value {
    let mut o = meta(v, "caseTemplate");
    let cfs = o.remove("customFields");
    o.insert("customFields".into(), custom_fields(cfs));
    if let Some(Value::Array(tasks)) = o.get_mut("tasks") {
        for t in tasks.iter_mut() {
            if let Value::Object(t) = t {
                rename(t, "assignee", "owner");
                for k in META.iter().map(|(k, _)| *k).chain(["_id", "_type"]) {
                    t.remove(k);
                }
                t.remove("extraData");
            }
        }
    }
    o.remove("pageTemplateIds");
    o.insert("status".into(), "Ok".into());
    o.insert("metrics".into(), Value::Object(Map::new()));
    Value::Object(o)
}

/// The v0 status of an alert, as TheHive 4 computed it from its case and its read flag.
pub fn alert_status(imported: bool, read: bool) -> &'static str {
    match (imported, read) {
        (true, true) => "Imported",
        (true, false) => "Updated",
        (false, true) => "Ignored",
        (false, false) => "New",
    }
}

/// An alert without its artifacts; `read` is its read flag.
pub fn alert_head(v: Value, read: bool) -> Value {
    let mut o = meta(v, "alert");
    let case = o.remove("caseId").filter(|c| !c.is_null());
    o.insert("status".into(), alert_status(case.is_some(), read).into());
    o.insert("case".into(), case.unwrap_or(Value::Null));
    let cfs = o.remove("customFields");
    o.insert("customFields".into(), custom_fields(cfs));
    o.remove("assignee");
    o.remove("summary");
    o.remove("flag");
    Value::Object(o)
}

pub fn ids_of(items: &[Value]) -> Vec<i64> {
    items
        .iter()
        .filter_map(|i| i.get("_id").and_then(Value::as_str).and_then(parse_id))
        .collect()
}

/// The read flags of alerts.
pub fn read_flags(c: &mut DbConn, ids: &[i64]) -> QueryResult<HashMap<i64, bool>> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(500) {
        let found: Vec<(i64, bool)> = alert_t::table
            .filter(alert_t::id.eq_any(chunk))
            .select((alert_t::id, alert_t::is_read))
            .load(c)?;
        out.extend(found);
    }
    Ok(out)
}

/// Adds `artifacts` (the alerts' observables, v0 shape) to v0 alerts.
pub fn embed_artifacts(c: &mut DbConn, items: &mut [Value]) -> Result<(), ApiError> {
    let ids = ids_of(items);
    let mut by_alert: HashMap<i64, Vec<Value>> = HashMap::new();
    for chunk in ids.chunks(500) {
        let rows: Vec<ObservableRow> = observables::table
            .filter(observables::alert_id.eq_any(chunk))
            .order(observables::id.asc())
            .select(ObservableRow::as_select())
            .load(c)?;
        let rendered = render::observables(c, &rows)?;
        for (row, out) in rows.iter().zip(rendered) {
            if let Some(a) = row.alert_id {
                by_alert
                    .entry(a)
                    .or_default()
                    .push(observable(render::to_value(&out)));
            }
        }
    }
    for item in items.iter_mut() {
        let id = item.get("_id").and_then(Value::as_str).and_then(parse_id);
        if let (Some(id), Value::Object(o)) = (id, item) {
            o.insert(
                "artifacts".into(),
                Value::Array(by_alert.remove(&id).unwrap_or_default()),
            );
        }
    }
    Ok(())
}

/// v1-rendered alerts → v0 alerts with their artifacts.
pub fn alerts_full(c: &mut DbConn, v1: Vec<Value>) -> Result<Vec<Value>, ApiError> {
    let reads = read_flags(c, &ids_of(&v1))?;
    alerts_full_read(c, v1, &reads)
}

/// [`alerts_full`] with the alerts' read flags known (read with the rows the v1 values were
/// rendered from: a flag read later may belong to a newer state, as an import between the two
/// reads would show an alert "Ignored" instead of "New" or "Imported").
pub fn alerts_full_read(
    c: &mut DbConn,
    v1: Vec<Value>,
    reads: &HashMap<i64, bool>,
) -> Result<Vec<Value>, ApiError> {
    let mut out: Vec<Value> = v1
        .into_iter()
        .map(|v| {
            let read = v
                .get("_id")
                .and_then(Value::as_str)
                .and_then(parse_id)
                .and_then(|id| reads.get(&id).copied())
                .unwrap_or(false);
            alert_head(v, read)
        })
        .collect();
    embed_artifacts(c, &mut out)?;
    Ok(out)
}

/// One alert row in v0 shape, with its artifacts.
pub fn alert_row(c: &mut DbConn, a: &AlertRow) -> Result<Value, ApiError> {
    let v1 = render::to_value(&crate::render::rendered_alert(c, a)?);
    Ok(alerts_full(c, vec![v1])?.pop().unwrap_or(Value::Null))
}

/// One case row in v0 shape.
pub fn case_row(c: &mut DbConn, k: &crate::db::casework::CaseRow) -> Result<Value, ApiError> {
    Ok(case(render::to_value(&crate::render::rendered_case(c, k)?)))
}

/// Observable rows in v0 shape.
pub fn observable_rows(c: &mut DbConn, rows: &[ObservableRow]) -> Result<Vec<Value>, ApiError> {
    Ok(render::observables(c, rows)?
        .iter()
        .map(|o| observable(render::to_value(o)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn custom_fields_take_the_v0_form() {
        let v1 = json!([{"_id": "~1", "name": "reportedBy", "type": "string", "value": "bob", "order": 0}]);
        assert_eq!(
            custom_fields(Some(v1)),
            json!({"reportedBy": {"string": "bob", "order": 0}})
        );
    }

    #[test]
    fn statuses_are_computed_as_thehive_4_did() {
        assert_eq!(alert_status(false, false), "New");
        assert_eq!(alert_status(false, true), "Ignored");
        assert_eq!(alert_status(true, true), "Imported");
        assert_eq!(alert_status(true, false), "Updated");
        assert_eq!(case_status("InProgress", "InProgress"), ("Open", None));
        assert_eq!(
            case_status("TruePositive", "Closed"),
            ("Resolved", Some("TruePositive".into()))
        );
        assert_eq!(case_status("Duplicated", "Closed").0, "Duplicated");
    }

    #[test]
    fn meta_fields_are_renamed() {
        let v = json!({"_id": "~7", "_type": "Task", "_createdBy": "a", "_createdAt": 5,
                       "_updatedBy": null, "title": "t", "assignee": "bob", "extraData": {}});
        let t = task(v);
        assert_eq!(
            t,
            json!({"_id": "~7", "id": "~7", "_type": "case_task", "createdBy": "a",
                   "createdAt": 5, "title": "t", "owner": "bob"})
        );
    }

    #[test]
    fn logs_show_their_first_file_as_attachment() {
        let v = json!({"_id": "~8", "_type": "Log", "_createdBy": "a", "_createdAt": 5,
                       "message": "m", "date": 9, "owner": "a",
                       "attachments": [{"_id": "~9", "name": "f.txt", "hashes": ["h"], "size": 3,
                                        "contentType": "text/plain", "id": "h"}]});
        let l = log(v);
        assert_eq!(l["startDate"], 9);
        assert_eq!(
            l["attachment"],
            json!({"name": "f.txt", "hashes": ["h"], "size": 3, "contentType": "text/plain", "id": "h"})
        );
        assert_eq!(l["status"], "Ok");
    }
}
