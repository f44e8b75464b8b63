//! When a notification fires: TheHive 4's and 5's triggers, and `FilteredEvent`'s filter
//! over the event (the audit's fields, `details.*` and `object.*` paths).

use crate::audit::{Action, ObjectType, Root, Stored};
use serde_json::Value;
use service_kit::error::ApiError;

/// A trigger of an organisation's notification list.
#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    /// Every event.
    AnyEvent,
    /// Events the filter accepts.
    FilteredEvent(Value),
    /// A new alert.
    AlertCreated,
    /// An alert imported into a case.
    AlertImported,
    /// An alert closed.
    AlertClosed,
    /// An alert given an assignee.
    AlertAssigned,
    /// A new observable in an alert.
    AlertObservableCreated,
    /// A new case.
    CaseCreated,
    /// A case closed.
    CaseClosed,
    /// A case flagged.
    CaseFlagged,
    /// A case shared with an organisation.
    CaseShared,
    /// A new observable in a case.
    CaseObservableCreated,
    /// A new observable.
    ObservableCreated,
    /// A task given an assignee.
    TaskAssigned,
    /// A task completed.
    TaskClosed,
    /// A task made mandatory.
    TaskMandatory,
    /// A log added to a task that has an assignee, by someone else.
    LogInMyTask,
    /// An analyzer job ended.
    JobFinished,
    /// A responder action ended.
    ActionFinished,
}

/// Deepest filter, and most members of one `_and`/`_or`.
const MAX_DEPTH: usize = 16;
const MAX_MEMBERS: usize = 100;

impl Trigger {
    /// Reads `{"name": "...", "filter"?: {...}}`.
    pub fn parse(v: &Value) -> Result<Trigger, ApiError> {
        let name = v
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::missing("trigger.name"))?;
        Ok(match name {
            "AnyEvent" => Trigger::AnyEvent,
            "FilteredEvent" => {
                let f = v
                    .get("filter")
                    .cloned()
                    .ok_or_else(|| ApiError::missing("trigger.filter"))?;
                check_filter(&f, 0)?;
                Trigger::FilteredEvent(f)
            }
            "AlertCreated" => Trigger::AlertCreated,
            "AlertImported" => Trigger::AlertImported,
            "AlertClosed" => Trigger::AlertClosed,
            "AlertAssigned" => Trigger::AlertAssigned,
            "AlertObservableCreated" => Trigger::AlertObservableCreated,
            "CaseCreated" => Trigger::CaseCreated,
            "CaseClosed" => Trigger::CaseClosed,
            "CaseFlagged" => Trigger::CaseFlagged,
            "CaseShared" => Trigger::CaseShared,
            "CaseObservableCreated" => Trigger::CaseObservableCreated,
            "ObservableCreated" => Trigger::ObservableCreated,
            "TaskAssigned" => Trigger::TaskAssigned,
            "TaskClosed" => Trigger::TaskClosed,
            "TaskMandatory" => Trigger::TaskMandatory,
            "LogInMyTask" => Trigger::LogInMyTask,
            "JobFinished" => Trigger::JobFinished,
            "ActionFinished" => Trigger::ActionFinished,
            other => {
                return Err(ApiError::attribute(
                    "trigger.name",
                    format!("unknown trigger {other}"),
                ))
            }
        })
    }

    /// Whether it fires on `a`, judged from the record alone; `FilteredEvent` and
    /// `LogInMyTask` answer `None` (they need the event's payload).
    pub fn fires_on_record(&self, a: &Stored) -> Option<bool> {
        let d = |k: &str| a.details.get(k);
        let is = |t: ObjectType, act: Action| a.object_type == t && a.action == act;
        let truthy = |k: &str| d(k).is_some_and(|v| !v.is_null() && v != &Value::Bool(false));
        Some(match self {
            Trigger::AnyEvent => true,
            Trigger::FilteredEvent(_) | Trigger::LogInMyTask => return None,
            Trigger::AlertCreated => is(ObjectType::Alert, Action::Create),
            Trigger::AlertImported => {
                is(ObjectType::Alert, Action::Update)
                    && d("status").and_then(Value::as_str) == Some("Imported")
            }
            Trigger::AlertClosed => {
                is(ObjectType::Alert, Action::Update)
                    && d("stage").and_then(Value::as_str) == Some("Closed")
            }
            Trigger::AlertAssigned => is(ObjectType::Alert, Action::Update) && truthy("assignee"),
            Trigger::AlertObservableCreated => {
                is(ObjectType::Observable, Action::Create) && matches!(a.root, Some(Root::Alert(_)))
            }
            Trigger::CaseCreated => is(ObjectType::Case, Action::Create),
            Trigger::CaseClosed => {
                is(ObjectType::Case, Action::Update)
                    && d("stage").and_then(Value::as_str) == Some("Closed")
            }
            Trigger::CaseFlagged => {
                is(ObjectType::Case, Action::Update) && d("flag") == Some(&Value::Bool(true))
            }
            Trigger::CaseShared => is(ObjectType::Case, Action::Update) && d("share").is_some(),
            Trigger::CaseObservableCreated => {
                is(ObjectType::Observable, Action::Create) && matches!(a.root, Some(Root::Case(_)))
            }
            Trigger::ObservableCreated => is(ObjectType::Observable, Action::Create),
            Trigger::TaskAssigned => {
                a.object_type == ObjectType::Task
                    && matches!(a.action, Action::Update | Action::Create)
                    && truthy("assignee")
            }
            Trigger::TaskClosed => {
                is(ObjectType::Task, Action::Update)
                    && d("status").and_then(Value::as_str) == Some("Completed")
            }
            Trigger::TaskMandatory => {
                a.object_type == ObjectType::Task
                    && matches!(a.action, Action::Update | Action::Create)
                    && d("mandatory") == Some(&Value::Bool(true))
            }
            Trigger::JobFinished => {
                is(ObjectType::Job, Action::Update)
                    && matches!(
                        d("status").and_then(Value::as_str),
                        Some("Success" | "Failure")
                    )
            }
            Trigger::ActionFinished => {
                is(ObjectType::Action, Action::Update)
                    && matches!(
                        d("status").and_then(Value::as_str),
                        Some("Success" | "Failure")
                    )
            }
        })
    }

    /// Whether it fires on the event whose version 1 payload is `event` (the audit's
    /// fields, `details`, `object`).
    pub fn fires_on_event(&self, event: &Value) -> bool {
        match self {
            Trigger::FilteredEvent(f) => matches(f, event, 0),
            Trigger::LogInMyTask => {
                let assignee = event
                    .pointer("/object/case_task/assignee")
                    .and_then(Value::as_str);
                let by = event.get("_createdBy").and_then(Value::as_str);
                event.get("objectType").and_then(Value::as_str) == Some("Log")
                    && event.get("action").and_then(Value::as_str) == Some("create")
                    && assignee.is_some_and(|a| Some(a) != by)
            }
            _ => false,
        }
    }
}

fn check_filter(f: &Value, depth: usize) -> Result<(), ApiError> {
    let bad = |m: String| Err(ApiError::attribute("trigger.filter", m));
    if depth > MAX_DEPTH {
        return bad(format!("nested deeper than {MAX_DEPTH}"));
    }
    let Value::Object(m) = f else {
        return bad("a filter is an object".into());
    };
    let Some((op, arg)) = m.iter().next().filter(|_| m.len() == 1) else {
        return bad("a filter has one operator".into());
    };
    match op.as_str() {
        "_any" => Ok(()),
        "_and" | "_or" => match arg {
            Value::Array(items) if items.len() <= MAX_MEMBERS => {
                items.iter().try_for_each(|i| check_filter(i, depth + 1))
            }
            _ => bad(format!("{op}: a list of at most {MAX_MEMBERS} filters")),
        },
        "_not" => check_filter(arg, depth + 1),
        "_is" | "_lt" | "_gt" | "_lte" | "_gte" | "_contains" | "_startsWith" | "_endsWith"
        | "_like" => match arg {
            Value::Object(f) if f.len() == 1 => Ok(()),
            _ => bad(format!("{op}: {{field: value}}")),
        },
        "_between" => match (arg.get("_field"), arg.get("_from"), arg.get("_to")) {
            (Some(Value::String(_)), Some(_), Some(_)) => Ok(()),
            _ => bad("_between: {_field, _from, _to}".into()),
        },
        "_in" => match (arg.get("_field"), arg.get("_values")) {
            (Some(Value::String(_)), Some(Value::Array(v))) if v.len() <= 1000 => Ok(()),
            _ => bad("_in: {_field, _values: [...]}".into()),
        },
        other => bad(format!("unknown operator {other}")),
    }
}

/// The value at a dotted path (`details.status`, `object.severity`).
fn at<'a>(event: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(event, |v, k| match v {
        Value::Object(m) => m.get(k),
        Value::Array(a) => k.parse::<usize>().ok().and_then(|i| a.get(i)),
        _ => None,
    })
}

/// The one `{field: value}` of an operator.
fn field_value(arg: &Value) -> Option<(&str, &Value)> {
    arg.as_object()?.iter().next().map(|(k, v)| (k.as_str(), v))
}

fn number(v: &Value) -> Option<f64> {
    v.as_f64()
}

/// Whether `event` passes filter `f`. A missing field or a value of another type does not
/// pass (as in TheHive).
pub fn matches(f: &Value, event: &Value, depth: usize) -> bool {
    if depth > MAX_DEPTH {
        return false;
    }
    let Some((op, arg)) = f.as_object().and_then(|m| m.iter().next()) else {
        return false;
    };
    let cmp = |test: fn(f64, f64) -> bool| {
        field_value(arg)
            .and_then(|(k, want)| Some(test(number(at(event, k)?)?, number(want)?)))
            .unwrap_or(false)
    };
    let text = |test: fn(&str, &str) -> bool| {
        field_value(arg)
            .and_then(|(k, want)| {
                let have = at(event, k)?;
                let want = want.as_str()?;
                Some(match have {
                    Value::String(s) => test(s, want),
                    // A list holds the text (tags).
                    Value::Array(items) => items
                        .iter()
                        .filter_map(Value::as_str)
                        .any(|s| test(s, want)),
                    _ => false,
                })
            })
            .unwrap_or(false)
    };
    match op.as_str() {
        "_any" => true,
        "_and" => arg
            .as_array()
            .is_some_and(|a| a.iter().all(|i| matches(i, event, depth + 1))),
        "_or" => arg
            .as_array()
            .is_some_and(|a| a.iter().any(|i| matches(i, event, depth + 1))),
        "_not" => !matches(arg, event, depth + 1),
        "_is" => field_value(arg)
            .and_then(|(k, want)| {
                let have = at(event, k)?;
                Some(match (have, want) {
                    (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
                    // Equality with a list member, as the Query API reads tags.
                    (Value::Array(items), w) if !w.is_array() => items.contains(w),
                    (a, b) => a == b,
                })
            })
            .unwrap_or(false),
        "_lt" => cmp(|a, b| a < b),
        "_gt" => cmp(|a, b| a > b),
        "_lte" => cmp(|a, b| a <= b),
        "_gte" => cmp(|a, b| a >= b),
        "_contains" => text(|a, b| a.contains(b)),
        "_startsWith" => text(|a, b| a.starts_with(b)),
        "_endsWith" => text(|a, b| a.ends_with(b)),
        "_like" => text(|a, pattern| {
            // `*` stands for any text.
            let parts: Vec<&str> = pattern.split('*').collect();
            if parts.len() == 1 {
                return a == pattern;
            }
            let (first, last) = (parts[0], parts[parts.len() - 1]);
            if !a.starts_with(first) || !a.ends_with(last) || a.len() < first.len() + last.len() {
                return false;
            }
            let mut rest = &a[first.len()..a.len() - last.len()];
            for p in &parts[1..parts.len() - 1] {
                match rest.find(p) {
                    Some(i) => rest = &rest[i + p.len()..],
                    None => return false,
                }
            }
            true
        }),
        "_between" => {
            let (Some(k), Some(from), Some(to)) = (
                arg.get("_field").and_then(Value::as_str),
                arg.get("_from").and_then(number),
                arg.get("_to").and_then(number),
            ) else {
                return false;
            };
            at(event, k)
                .and_then(number)
                .is_some_and(|v| from <= v && v < to)
        }
        "_in" => {
            let (Some(k), Some(values)) = (
                arg.get("_field").and_then(Value::as_str),
                arg.get("_values").and_then(Value::as_array),
            ) else {
                return false;
            };
            at(event, k).is_some_and(|v| values.contains(v))
        }
        _ => false,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn filters_read_audit_fields_details_and_object() {
        let ev = json!({"action": "update", "objectType": "Case", "details": {"severity": 3,
            "status": "TruePositive"}, "object": {"tags": ["phishing", "mail"], "title":
            "Suspicious mail"}});
        let f = json!({"_and": [{"_is": {"objectType": "Case"}}, {"_is": {"action": "update"}},
            {"_gte": {"details.severity": 3}}]});
        assert!(matches(&f, &ev, 0));
        assert!(!matches(&json!({"_gt": {"details.severity": 3}}), &ev, 0));
        assert!(matches(
            &json!({"_is": {"object.tags": "phishing"}}),
            &ev,
            0
        ));
        assert!(matches(
            &json!({"_like": {"object.title": "Susp*mail"}}),
            &ev,
            0
        ));
        assert!(matches(
            &json!({"_like": {"object.title": "*mail"}}),
            &ev,
            0
        ));
        assert!(!matches(
            &json!({"_like": {"object.title": "mail*"}}),
            &ev,
            0
        ));
        assert!(matches(
            &json!({"_in": {"_field": "details.status", "_values": ["TruePositive", "Other"]}}),
            &ev,
            0
        ));
        assert!(matches(
            &json!({"_between": {"_field": "details.severity", "_from": 2, "_to": 4}}),
            &ev,
            0
        ));
        assert!(matches(
            &json!({"_not": {"_is": {"objectType": "Alert"}}}),
            &ev,
            0
        ));
        assert!(!matches(&json!({"_is": {"missing.path": 1}}), &ev, 0));
        assert!(matches(
            &json!({"_startsWith": {"object.title": "Susp"}}),
            &ev,
            0
        ));
        assert!(matches(
            &json!({"_or": [{"_is": {"action": "create"}}, {"_any": {}}]}),
            &ev,
            0
        ));
    }

    #[test]
    fn bad_filters_and_triggers_are_refused() {
        assert!(Trigger::parse(&json!({"name": "Nope"})).is_err());
        assert!(Trigger::parse(&json!({"name": "FilteredEvent"})).is_err());
        assert!(Trigger::parse(&json!({"name": "FilteredEvent", "filter": {"_bad": {}}})).is_err());
        let mut deep = json!({"_any": {}});
        for _ in 0..20 {
            deep = json!({"_not": deep});
        }
        assert!(Trigger::parse(&json!({"name": "FilteredEvent", "filter": deep})).is_err());
        assert_eq!(
            Trigger::parse(&json!({"name": "CaseCreated"})).unwrap(),
            Trigger::CaseCreated
        );
    }
}
