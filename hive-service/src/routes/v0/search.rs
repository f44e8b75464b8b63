//! The v0 search protocol: `POST /api/<kind>/_search` with a filter in `query`, `range`
//! (`all`, `from-to`, TheHive's default `0-10`) and `sort` (`-field`, `+field`) read from the
//! URL or the body; the answer is a JSON array with the number of matches in `X-Total`.
//!
//! Filters name v0 fields (`caseId`, `owner`, `status: Open`, `customFields.<name>.<type>`).
//! `_parent`, `_child` and `_type` are resolved first, by searching the related kind. When
//! the whole filter and the sort translate exactly into v1 terms, the search (page and
//! `X-Total`) runs in SQL ([`in_sql`]). Otherwise the conjuncts that translate pre-select in
//! the database, and the whole v0 filter, the sort and the range are applied in memory on
//! the v0 objects ([`matching`]); at most [`MAX_CANDIDATES`] objects are pre-selected.

use crate::auth::Caller;
use crate::db::schema::{logs, observables, tasks};
use crate::db::{format_id, parse_id, DbConn};
use diesel::prelude::*;
use serde_json::{json, Map, Value};
use service_kit::error::ApiError;
use shared_models::query::{CmpOp, Filter, Sort, TextOp};
use std::collections::HashMap;

/// The kinds v0 searches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum V0 {
    /// Alerts.
    Alert,
    /// Cases.
    Case,
    /// Case observables.
    Artifact,
    /// Tasks.
    Task,
    /// Task logs.
    Log,
    /// Case templates.
    Template,
}

/// The key under which an item's parent id is kept while filtering.
const PARENT: &str = "__parent";

/// Most parents a `_parent` filter walks one by one before listing everything instead.
const MAX_NARROW: usize = 100;

/// Most `_parent`/`_child` clauses in one filter (each is a search of its own).
const MAX_RELATIONS: usize = 8;

/// Most objects a search evaluates in memory (after the database's pre-selection).
pub const MAX_CANDIDATES: usize = 50_000;

impl V0 {
    /// The kind named by a `_type` (`case`, `case_artifact`...).
    pub fn from_type(name: &str) -> Option<V0> {
        Some(match name {
            "alert" => V0::Alert,
            "case" => V0::Case,
            "case_artifact" => V0::Artifact,
            "case_task" => V0::Task,
            "case_task_log" => V0::Log,
            "caseTemplate" | "case_template" => V0::Template,
            _ => return None,
        })
    }

    /// Its `_type`.
    pub fn type_name(self) -> &'static str {
        match self {
            V0::Alert => "alert",
            V0::Case => "case",
            V0::Artifact => "case_artifact",
            V0::Task => "case_task",
            V0::Log => "case_task_log",
            V0::Template => "caseTemplate",
        }
    }

    fn selection(self) -> &'static str {
        match self {
            V0::Alert => "listAlert",
            V0::Case => "listCase",
            V0::Artifact => "listObservable",
            V0::Task => "listTask",
            V0::Log => "listLog",
            V0::Template => "listCaseTemplate",
        }
    }

    fn parent(self) -> Option<V0> {
        match self {
            V0::Artifact | V0::Task => Some(V0::Case),
            V0::Log => Some(V0::Task),
            _ => None,
        }
    }

    /// The Query API walk from one parent to its children of this kind.
    fn walk(self) -> Option<(&'static str, &'static str)> {
        match self {
            V0::Artifact => Some(("getCase", "observables")),
            V0::Task => Some(("getCase", "tasks")),
            V0::Log => Some(("getTask", "logs")),
            _ => None,
        }
    }

    /// The v1 name of a v0 field, for fields that mean the same in both APIs.
    fn v1_field(self, field: &str) -> Option<&'static str> {
        let common = match field {
            "_id" => Some("_id"),
            "createdAt" => Some("_createdAt"),
            "createdBy" => Some("_createdBy"),
            "updatedAt" => Some("_updatedAt"),
            "updatedBy" => Some("_updatedBy"),
            _ => None,
        };
        if common.is_some() {
            return common;
        }
        let same: &[&'static str] = match self {
            V0::Alert => &[
                "type",
                "source",
                "sourceRef",
                "externalLink",
                "title",
                "description",
                "severity",
                "date",
                "tags",
                "tlp",
                "pap",
                "follow",
                "caseTemplate",
            ],
            V0::Case => &[
                "title",
                "description",
                "severity",
                "startDate",
                "endDate",
                "tags",
                "flag",
                "tlp",
                "pap",
                "summary",
                "impactStatus",
            ],
            V0::Artifact => &[
                "dataType",
                "data",
                "startDate",
                "tags",
                "tlp",
                "pap",
                "ioc",
                "sighted",
                "message",
                "ignoreSimilarity",
            ],
            V0::Task => &[
                "title",
                "group",
                "description",
                "status",
                "flag",
                "startDate",
                "endDate",
                "order",
            ],
            V0::Log => &["message", "owner"],
            V0::Template => &["name", "displayName", "titlePrefix", "description"],
        };
        if let Some(f) = same.iter().find(|f| **f == field) {
            return Some(f);
        }
        match (self, field) {
            (V0::Case, "caseId") => Some("number"),
            (V0::Alert, "case") => Some("caseId"),
            (V0::Case | V0::Task, "owner") => Some("assignee"),
            (V0::Log, "startDate") => Some("date"),
            _ => None,
        }
    }
}

/// Which rows to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    /// Every match.
    All,
    /// `from` (included) to `to` (excluded).
    Slice(usize, usize),
}

impl Range {
    /// Parses `all` or `from-to`; TheHive answers the first 10 when no range is given.
    pub fn parse(v: Option<&str>) -> Result<Range, ApiError> {
        let Some(v) = v.map(str::trim).filter(|v| !v.is_empty()) else {
            return Ok(Range::Slice(0, 10));
        };
        if v.eq_ignore_ascii_case("all") {
            return Ok(Range::All);
        }
        let bad = || ApiError::Search(format!("range {v}: expected `all` or `from-to`"));
        let (a, b) = v.split_once('-').ok_or_else(bad)?;
        let from: usize = a.trim().parse().map_err(|_| bad())?;
        let to: usize = b.trim().parse().map_err(|_| bad())?;
        if to < from {
            return Err(bad());
        }
        Ok(Range::Slice(from, to))
    }
}

/// The search parameters of a request: `range` and `sort` from the URL, else from the body.
pub fn params(query_string: &str, body: &Value) -> Result<(Range, Sort), ApiError> {
    let pairs = actix_web::web::Query::<Vec<(String, String)>>::from_query(query_string)
        .map(|q| q.into_inner())
        .unwrap_or_default();
    let mut range = pairs
        .iter()
        .find(|(k, _)| k == "range")
        .map(|(_, v)| v.clone());
    let mut sorts: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "sort")
        .map(|(_, v)| v.clone())
        .collect();
    if range.is_none() {
        range = match body.get("range") {
            Some(Value::String(s)) => Some(s.clone()),
            _ => None,
        };
    }
    if sorts.is_empty() {
        match body.get("sort") {
            Some(Value::String(s)) => sorts.push(s.clone()),
            Some(Value::Array(items)) => {
                sorts.extend(items.iter().filter_map(Value::as_str).map(str::to_string))
            }
            _ => {}
        }
    }
    let fields: Vec<String> = sorts
        .iter()
        .flat_map(|s| s.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if fields.len() > 16 {
        return Err(ApiError::Search("at most 16 sort fields".into()));
    }
    Ok((
        Range::parse(range.as_deref())?,
        Sort::from_signed(fields.iter().map(String::as_str)),
    ))
}

/// The filter of a search body (`{"query": ...}`; none matches everything).
pub fn filter_of(body: &Value) -> Result<Filter, ApiError> {
    match body.get("query") {
        None | Some(Value::Null) => Ok(Filter::Any),
        Some(q) => Filter::parse(q).map_err(|e| ApiError::Search(e.to_string())),
    }
}

/// Deepest chain of `_parent`/`_child` filters.
const MAX_HOPS: usize = 4;

/// The number of `_parent`/`_child` clauses of a filter.
fn relations(f: &Filter) -> usize {
    match f {
        Filter::And(v) | Filter::Or(v) => v.iter().map(relations).sum(),
        Filter::Not(x) => relations(x),
        Filter::Parent { filter, .. } | Filter::Child { filter, .. } => 1 + relations(filter),
        _ => 0,
    }
}

/// Replaces `_parent`, `_child` and `_type` by plain filters on ids.
fn resolve(
    c: &mut DbConn,
    caller: &Caller,
    kind: V0,
    f: Filter,
    hops: usize,
) -> Result<Filter, ApiError> {
    Ok(match f {
        Filter::And(v) => Filter::And(
            v.into_iter()
                .map(|x| resolve(c, caller, kind, x, hops))
                .collect::<Result<_, _>>()?,
        ),
        Filter::Or(v) => Filter::Or(
            v.into_iter()
                .map(|x| resolve(c, caller, kind, x, hops))
                .collect::<Result<_, _>>()?,
        ),
        Filter::Not(x) => Filter::Not(Box::new(resolve(c, caller, kind, *x, hops)?)),
        Filter::Type(t) => {
            if V0::from_type(&t) == Some(kind) {
                Filter::Any
            } else {
                Filter::Not(Box::new(Filter::Any))
            }
        }
        Filter::Parent { kind: pk, filter } => {
            let parent = V0::from_type(&pk)
                .filter(|p| kind.parent() == Some(*p))
                .ok_or_else(|| {
                    ApiError::Search(format!("{} has no parent of type {pk}", kind.type_name()))
                })?;
            if hops >= MAX_HOPS {
                return Err(ApiError::Search("too many _parent/_child hops".into()));
            }
            let parents = matching(c, caller, parent, *filter, hops + 1)?;
            Filter::In {
                field: PARENT.into(),
                values: parents
                    .iter()
                    .filter_map(|p| p.get("_id").cloned())
                    .collect(),
            }
        }
        Filter::Child { kind: ck, filter } => {
            let child = V0::from_type(&ck)
                .filter(|ch| ch.parent() == Some(kind))
                .ok_or_else(|| {
                    ApiError::Search(format!("{} has no child of type {ck}", kind.type_name()))
                })?;
            if hops >= MAX_HOPS {
                return Err(ApiError::Search("too many _parent/_child hops".into()));
            }
            let children = matching(c, caller, child, *filter, hops + 1)?;
            let mut values: Vec<Value> = children
                .iter()
                .filter_map(|ch| ch.get(PARENT).cloned())
                .collect();
            values.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
            values.dedup();
            Filter::In {
                field: "_id".into(),
                values,
            }
        }
        other => other,
    })
}

fn text_op(op: TextOp) -> &'static str {
    match op {
        TextOp::StartsWith => "_startsWith",
        TextOp::EndsWith => "_endsWith",
        TextOp::Like => "_like",
        TextOp::Match => "_match",
    }
}

fn cmp_op(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Eq => "_eq",
        CmpOp::Ne => "_ne",
        CmpOp::Lt => "_lt",
        CmpOp::Gt => "_gt",
        CmpOp::Lte => "_lte",
        CmpOp::Gte => "_gte",
    }
}

/// The v1 form of a v0 case status (`Open`, `Resolved`, `Duplicated`) or resolution status
/// (v1's closing statuses).
fn case_status(field: &str, value: &Value) -> Option<Value> {
    let v = value.as_str()?;
    let closed = json!({"_eq": {"_field": "stage", "_value": "Closed"}});
    Some(match (field, v) {
        ("status", "Open") => json!({ "_not": closed }),
        ("status", "Resolved") => {
            json!({"_and": [closed, {"_not": {"_eq": {"_field": "status", "_value": "Duplicated"}}}]})
        }
        ("status", "Duplicated") | ("resolutionStatus", _) => {
            json!({"_and": [closed, {"_eq": {"_field": "status", "_value": v}}]})
        }
        // Any other status matches no case.
        ("status", _) => json!({"_not": {"_any": null}}),
        _ => return None,
    })
}

/// A v1 filter selecting at least the alerts of a v0 status: `New` and `Ignored` ones have no
/// case, `Updated` and `Imported` ones have one (the read flag is checked afterwards).
fn alert_status(value: &Value) -> Option<Value> {
    let imported = match value.as_str()? {
        "New" | "Ignored" => false,
        "Updated" | "Imported" => true,
        _ => return Some(json!({"_not": {"_any": null}})),
    };
    Some(json!({"_eq": {"_field": "imported", "_value": imported}}))
}

/// An alert status filter in SQL terms: TheHive 4's status is whether the alert is in a case
/// and whether it was read (`read` is a column the SQL translation knows, not a rendered
/// field). `None` when `f` is not a status filter; `Some(None)` when it cannot translate.
fn alert_status_sql(f: &Filter) -> Option<Option<Value>> {
    fn one(v: &Value) -> Option<Value> {
        let (imported, read) = match v.as_str()? {
            "New" => (false, false),
            "Ignored" => (false, true),
            "Updated" => (true, false),
            "Imported" => (true, true),
            _ => return Some(json!({"_not": {"_any": null}})),
        };
        Some(json!({"_and": [
            {"_eq": {"_field": "imported", "_value": imported}},
            {"_eq": {"_field": "read", "_value": read}}
        ]}))
    }
    Some(match f {
        Filter::Cmp {
            op: CmpOp::Eq,
            field,
            value,
        } if field == "status" => one(value),
        Filter::Cmp {
            op: CmpOp::Ne,
            field,
            value,
        } if field == "status" => one(value).map(|v| json!({ "_not": v })),
        Filter::In { field, values } if field == "status" => values
            .iter()
            .map(one)
            .collect::<Option<Vec<_>>>()
            .map(|v| json!({ "_or": v })),
        _ => return None,
    })
}

/// The v1 form of a filter whose every field means the same in v1, else `None`. With `sql`,
/// the form is for the SQL translation only (`try_sql`), which knows more fields.
fn exact(kind: V0, f: &Filter, sql: bool) -> Option<Value> {
    if sql && kind == V0::Alert {
        if let Some(v) = alert_status_sql(f) {
            return v;
        }
    }
    if kind == V0::Case {
        match f {
            Filter::Cmp {
                op: op @ (CmpOp::Eq | CmpOp::Ne),
                field,
                value,
            } if field == "status" || field == "resolutionStatus" => {
                let eq = case_status(field, value)?;
                return Some(if *op == CmpOp::Eq {
                    eq
                } else {
                    json!({ "_not": eq })
                });
            }
            Filter::In { field, values } if field == "status" || field == "resolutionStatus" => {
                return Some(json!({"_or": values
                    .iter()
                    .map(|v| case_status(field, v))
                    .collect::<Option<Vec<_>>>()?}));
            }
            _ => {}
        }
    }
    // A comparison with null is not handed over: v1 objects leave out what v0 shows as null.
    let has_null = match f {
        Filter::Cmp { value, .. } => value.is_null(),
        Filter::In { values, .. } => values.iter().any(Value::is_null),
        Filter::Between { from, to, .. } => from.is_null() || to.is_null(),
        _ => false,
    };
    if has_null {
        return None;
    }
    // TheHive 4's `customFields.<name>.<type>`: the SQL translation reads it as v0 does.
    let v1_name = |name: &str| -> Option<String> {
        if sql && name.starts_with("customFields.") && name.split('.').count() == 3 {
            return Some(name.to_string());
        }
        kind.v1_field(name).map(str::to_string)
    };
    Some(match f {
        Filter::Any => json!({"_any": null}),
        Filter::Id(id) => json!({ "_id": id }),
        Filter::And(v) => {
            json!({"_and": v.iter().map(|x| exact(kind, x, sql)).collect::<Option<Vec<_>>>()?})
        }
        Filter::Or(v) => {
            json!({"_or": v.iter().map(|x| exact(kind, x, sql)).collect::<Option<Vec<_>>>()?})
        }
        Filter::Not(x) => json!({"_not": exact(kind, x, sql)?}),
        Filter::Cmp { op, field, value } => {
            json!({ cmp_op(*op): {"_field": v1_name(field)?, "_value": value} })
        }
        Filter::In { field, values } => {
            json!({"_in": {"_field": v1_name(field)?, "_values": values}})
        }
        Filter::Between { field, from, to } => {
            json!({"_between": {"_field": v1_name(field)?, "_from": from, "_to": to}})
        }
        Filter::Text { op, field, value } => {
            json!({ text_op(*op): {"_field": v1_name(field)?, "_value": value} })
        }
        Filter::Has(field) => json!({"_has": v1_name(field)?}),
        Filter::Parent { .. } | Filter::Child { .. } | Filter::Type(_) => return None,
    })
}

/// A v1 filter that selects at least what `f` selects (the conjuncts it can translate).
fn relaxed(kind: V0, f: &Filter) -> Option<Value> {
    match f {
        Filter::Cmp {
            op: CmpOp::Eq,
            field,
            value,
        } if kind == V0::Alert && field == "status" => alert_status(value),
        Filter::In { field, values } if kind == V0::Alert && field == "status" => {
            Some(json!({"_or": values.iter().map(alert_status).collect::<Option<Vec<_>>>()?}))
        }
        Filter::And(v) => {
            let parts: Vec<Value> = v.iter().filter_map(|x| relaxed(kind, x)).collect();
            (!parts.is_empty()).then(|| json!({ "_and": parts }))
        }
        Filter::Or(v) => {
            Some(json!({"_or": v.iter().map(|x| relaxed(kind, x)).collect::<Option<Vec<_>>>()?}))
        }
        other => exact(kind, other, false),
    }
}

/// The parent ids a filter restricts to, when it does at its top level.
fn parent_ids(f: &Filter) -> Option<Vec<String>> {
    match f {
        Filter::In { field, values } if field == PARENT => Some(
            values
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
        ),
        Filter::And(v) => v.iter().find_map(parent_ids),
        _ => None,
    }
}

fn with_filter(mut ops: Vec<Value>, pushed: Option<Value>) -> Vec<Value> {
    if let Some(Value::Object(f)) = pushed {
        let mut op = Map::new();
        op.insert("_name".into(), "filter".into());
        op.extend(f);
        ops.push(Value::Object(op));
    }
    ops
}

/// Loads the parent ids of observables, tasks or logs.
fn parents_of(c: &mut DbConn, kind: V0, ids: &[i64]) -> QueryResult<HashMap<i64, i64>> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(500) {
        let found: Vec<(i64, Option<i64>)> = match kind {
            V0::Artifact => observables::table
                .filter(observables::id.eq_any(chunk))
                .select((observables::id, observables::case_id))
                .load(c)?,
            V0::Task => tasks::table
                .filter(tasks::id.eq_any(chunk))
                .select((tasks::id, tasks::case_id.nullable()))
                .load(c)?,
            V0::Log => logs::table
                .filter(logs::id.eq_any(chunk))
                .select((logs::id, logs::task_id.nullable()))
                .load(c)?,
            _ => Vec::new(),
        };
        out.extend(found.into_iter().filter_map(|(id, p)| p.map(|p| (id, p))));
    }
    Ok(out)
}

/// The visible entities of `kind` in v0 shape (alerts without their artifacts), each with
/// its parent's id under `__parent`, that match `filter`.
fn matching(
    c: &mut DbConn,
    caller: &Caller,
    kind: V0,
    filter: Filter,
    hops: usize,
) -> Result<Vec<Value>, ApiError> {
    let filter = resolve(c, caller, kind, filter, hops)?;
    let pushed = relaxed(kind, &filter);
    let bounded = |mut ops: Vec<Value>| {
        ops.push(json!({"_name": "page", "from": 0, "to": MAX_CANDIDATES + 1, "extraData": []}));
        ops
    };
    let mut v1: Vec<Value> = Vec::new();
    match (parent_ids(&filter), kind.walk()) {
        (Some(parents), Some((get, walk))) if parents.len() <= MAX_NARROW => {
            for p in parents {
                let ops = with_filter(
                    vec![
                        json!({"_name": get, "idOrName": p}),
                        json!({ "_name": walk }),
                    ],
                    pushed.clone(),
                );
                v1.extend(crate::query::run::run(c, caller, &bounded(ops), &[])?.0);
                if v1.len() > MAX_CANDIDATES {
                    break;
                }
            }
        }
        _ => {
            let ops = with_filter(vec![json!({"_name": kind.selection()})], pushed);
            v1 = crate::query::run::run(c, caller, &bounded(ops), &[])?.0;
        }
    }
    if v1.len() > MAX_CANDIDATES {
        return Err(ApiError::Search(format!(
            "this search selects more than {MAX_CANDIDATES} {}s before conditions only the \
             v0 objects can answer; narrow it with conditions on their own fields",
            kind.type_name()
        )));
    }
    let ids: Vec<i64> = v1
        .iter()
        .filter_map(|i| i.get("_id").and_then(Value::as_str).and_then(parse_id))
        .collect();
    let parents = match kind {
        V0::Artifact | V0::Task | V0::Log => Some(parents_of(c, kind, &ids)?),
        _ => None,
    };
    let reads = match kind {
        V0::Alert => super::read_flags(c, &ids)?,
        _ => HashMap::new(),
    };
    let mut out = Vec::with_capacity(v1.len());
    for (item, id) in v1.into_iter().zip(ids) {
        let mut v = match kind {
            V0::Alert => super::alert_head(item, reads.get(&id).copied().unwrap_or(false)),
            V0::Case => super::case(item),
            V0::Artifact => super::observable(item),
            V0::Task => super::task(item),
            V0::Log => super::log(item),
            V0::Template => super::template(item),
        };
        if let Some(parents) = &parents {
            // Observables of alerts are not case artifacts.
            let Some(p) = parents.get(&id) else { continue };
            if let Value::Object(o) = &mut v {
                o.insert(PARENT.into(), format_id(*p).into());
            }
        }
        if filter.matches(&v) {
            out.push(v);
        }
    }
    Ok(out)
}

/// The whole search in SQL, when the filter and the sort translate exactly: alerts, cases,
/// tasks and logs (case observables and templates always go through [`matching`]).
fn in_sql(
    c: &mut DbConn,
    caller: &Caller,
    kind: V0,
    filter: &Filter,
    range: Range,
    sort: &Sort,
) -> Result<Option<(Vec<Value>, usize)>, ApiError> {
    use shared_models::query::Direction;
    if !matches!(kind, V0::Alert | V0::Case | V0::Task | V0::Log) {
        return Ok(None);
    }
    let Some(f) = exact(kind, filter, true) else {
        return Ok(None);
    };
    let mut fields = Vec::new();
    for (field, dir) in &sort.0 {
        let Some(v1) = kind.v1_field(field) else {
            return Ok(None);
        };
        let dir = if *dir == Direction::Desc {
            "desc"
        } else {
            "asc"
        };
        fields.push(json!({ v1: dir }));
    }
    let mut ops = with_filter(Vec::new(), Some(f));
    if !fields.is_empty() {
        ops.push(json!({"_name": "sort", "_fields": fields}));
    }
    if let Range::Slice(from, to) = range {
        ops.push(json!({"_name": "page", "from": from, "to": to, "extraData": ["total"]}));
    }
    let outcome = crate::query::try_sql(c, caller, kind.selection(), &ops)?;
    let Some(crate::query::SqlOutcome::Items(items, total)) = outcome else {
        return Ok(None);
    };
    let total = total.unwrap_or(items.len());
    let items = match kind {
        V0::Alert => super::alerts_full(c, items)?,
        V0::Case => items.into_iter().map(super::case).collect(),
        V0::Task => items.into_iter().map(super::task).collect(),
        _ => items.into_iter().map(super::log).collect(),
    };
    Ok(Some((items, total)))
}

/// Runs a v0 search: the matching page, in v0 shape, and the number of matches.
pub fn search(
    c: &mut DbConn,
    caller: &Caller,
    kind: V0,
    filter: Filter,
    range: Range,
    sort: &Sort,
) -> Result<(Vec<Value>, usize), ApiError> {
    if relations(&filter) > MAX_RELATIONS {
        return Err(ApiError::Search(format!(
            "at most {MAX_RELATIONS} _parent/_child clauses"
        )));
    }
    if let Some(done) = in_sql(c, caller, kind, &filter, range, sort)? {
        return Ok(done);
    }
    let mut items = matching(c, caller, kind, filter, 0)?;
    if !sort.0.is_empty() {
        // Stable: ties keep the selection's (creation) order.
        items.sort_by(|a, b| sort.compare(a, b));
    }
    let total = items.len();
    let page: Vec<Value> = match range {
        Range::All => items,
        Range::Slice(from, to) => items
            .into_iter()
            .skip(from)
            .take(to.saturating_sub(from))
            .collect(),
    };
    let mut page: Vec<Value> = page
        .into_iter()
        .map(|mut v| {
            if let Value::Object(o) = &mut v {
                o.remove(PARENT);
            }
            v
        })
        .collect();
    if kind == V0::Alert {
        super::embed_artifacts(c, &mut page)?;
    }
    Ok((page, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_default_to_the_first_ten() {
        assert_eq!(Range::parse(None).expect("ok"), Range::Slice(0, 10));
        assert_eq!(Range::parse(Some("all")).expect("ok"), Range::All);
        assert_eq!(
            Range::parse(Some("10-20")).expect("ok"),
            Range::Slice(10, 20)
        );
        assert!(Range::parse(Some("20-10")).is_err());
        assert!(Range::parse(Some("x")).is_err());
    }

    #[test]
    fn sort_and_range_come_from_the_url_or_the_body() {
        let (r, s) = params("range=0-5&sort=-title&sort=%2BcaseId", &Value::Null).expect("ok");
        assert_eq!(r, Range::Slice(0, 5));
        assert_eq!(s.0.len(), 2);
        let (r, s) = params("", &json!({"range": "all", "sort": ["-createdAt"]})).expect("ok");
        assert_eq!(r, Range::All);
        assert_eq!(s.0.len(), 1);
    }

    #[test]
    fn only_fields_with_the_same_meaning_are_handed_to_v1() {
        let f = Filter::parse(&json!({"_and": [{"title": "x"}, {"customFields.a.string": "b"}]}))
            .expect("ok");
        let pushed = relaxed(V0::Case, &f).expect("ok");
        assert_eq!(
            pushed,
            json!({"_and": [{"_eq": {"_field": "title", "_value": "x"}}]})
        );
        // A negation is handed over only when it translates whole.
        let f = Filter::parse(&json!({"_not": {"_and": [{"title": "x"}, {"metrics.a": 1}]}}))
            .expect("ok");
        assert_eq!(relaxed(V0::Case, &f), None);
        // v0 statuses: exact for cases, a superset (whether imported) for alerts.
        let f = Filter::parse(&json!({"status": "Open"})).expect("ok");
        assert_eq!(
            relaxed(V0::Case, &f).expect("ok"),
            json!({"_not": {"_eq": {"_field": "stage", "_value": "Closed"}}})
        );
        let f = Filter::parse(&json!({"_not": {"status": "New"}})).expect("ok");
        assert_eq!(relaxed(V0::Alert, &f), None);
        let f = Filter::parse(&json!({"status": "New"})).expect("ok");
        assert_eq!(
            relaxed(V0::Alert, &f).expect("ok"),
            json!({"_eq": {"_field": "imported", "_value": false}})
        );
        // Nulls are not handed over (v1 leaves out what v0 shows as null).
        let f = Filter::parse(&json!({"case": null})).expect("ok");
        assert_eq!(relaxed(V0::Alert, &f), None);
        let f = Filter::parse(&json!({"caseId": 3})).expect("ok");
        assert_eq!(
            relaxed(V0::Case, &f).expect("ok"),
            json!({"_eq": {"_field": "number", "_value": 3}})
        );
    }
}
