//! The filter language of TheHive's Query API (v1), TheHive's legacy `_search` (v0) and
//! Cortex's `_search`, parsed into one typed tree, plus the paging and sorting parameters that
//! go with it.
//!
//! The same JSON forms are accepted everywhere (`{"_eq": {"_field": f, "_value": v}}`, the
//! deprecated `{"_gt": {"field": v}}`, the shorthand `{"field": v}`, ...). Services translate a
//! [`Filter`] to SQL for large tables, or evaluate it in memory on the rendered JSON of small
//! ones with [`Filter::matches`]; both give the same answers.

use serde_json::{Map, Value};
use std::cmp::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `_eq`, `_is`, shorthand forms. On a list field: the list contains the value.
    Eq,
    /// `_ne`
    Ne,
    /// `_lt`
    Lt,
    /// `_gt`
    Gt,
    /// `_lte`
    Lte,
    /// `_gte`
    Gte,
}

/// A string-matching operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextOp {
    /// `_startsWith`
    StartsWith,
    /// `_endsWith`
    EndsWith,
    /// `_like` / `_wildcard`: `*` wildcards; no wildcard means equality.
    Like,
    /// `_match`: the value appears in the field (case-insensitive, word or substring).
    Match,
}

/// One node of a filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// Matches everything (`{}`, `{"_any": ...}`).
    Any,
    /// All of them.
    And(Vec<Filter>),
    /// One of them.
    Or(Vec<Filter>),
    /// Negation.
    Not(Box<Filter>),
    /// Field compared with a value.
    Cmp {
        /// The operator.
        op: CmpOp,
        /// Field path, dotted (`customFields.reportedBy`).
        field: String,
        /// The value (relative dates already resolved to epoch milliseconds).
        value: Value,
    },
    /// Field is one of the values.
    In {
        /// Field path.
        field: String,
        /// Accepted values.
        values: Vec<Value>,
    },
    /// `from <= field < to`.
    Between {
        /// Field path.
        field: String,
        /// Inclusive lower bound.
        from: Value,
        /// Exclusive upper bound.
        to: Value,
    },
    /// String matching.
    Text {
        /// The operator.
        op: TextOp,
        /// Field path.
        field: String,
        /// The pattern.
        value: String,
    },
    /// The field is defined (`_has`, `_contains`).
    Has(String),
    /// By entity id (`_id`).
    Id(String),
    /// v0/Cortex: the entity's parent of type `kind` matches `filter`.
    Parent {
        /// Parent entity type (`case`, `case_task`...).
        kind: String,
        /// Filter on the parent.
        filter: Box<Filter>,
    },
    /// v0/Cortex: one child of type `kind` matches `filter`.
    Child {
        /// Child entity type.
        kind: String,
        /// Filter on the child.
        filter: Box<Filter>,
    },
    /// v0/Cortex: the entity is of this type.
    Type(String),
}

/// Why a filter could not be parsed; services answer it as a 400 `SearchError`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError(pub String);

impl std::fmt::Display for FilterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FilterError {}

fn err<T>(msg: impl Into<String>) -> Result<T, FilterError> {
    Err(FilterError(msg.into()))
}

/// Deepest nesting accepted, so that a hostile query cannot exhaust the stack.
pub const MAX_DEPTH: usize = 32;

/// Most conditions one filter may hold (a list of 10,000 values in `_in` counts as one).
pub const MAX_CONDITIONS: usize = 10_000;

impl Filter {
    /// Parses a filter from its JSON form.
    pub fn parse(value: &Value) -> Result<Filter, FilterError> {
        let f = parse_at(value, 0)?;
        if f.size() > MAX_CONDITIONS {
            return err(format!("filter of more than {MAX_CONDITIONS} conditions"));
        }
        Ok(f)
    }

    /// How many conditions it holds.
    pub fn size(&self) -> usize {
        match self {
            Filter::And(v) | Filter::Or(v) => 1 + v.iter().map(Filter::size).sum::<usize>(),
            Filter::Not(f) => 1 + f.size(),
            _ => 1,
        }
    }

    /// Every field path this filter reads, so that callers can refuse unknown fields.
    pub fn fields(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.collect_fields(&mut out);
        out
    }

    fn collect_fields<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Filter::And(v) | Filter::Or(v) => v.iter().for_each(|f| f.collect_fields(out)),
            Filter::Not(f) => f.collect_fields(out),
            Filter::Cmp { field, .. }
            | Filter::In { field, .. }
            | Filter::Between { field, .. }
            | Filter::Text { field, .. }
            | Filter::Has(field) => out.push(field),
            Filter::Any
            | Filter::Id(_)
            | Filter::Parent { .. }
            | Filter::Child { .. }
            | Filter::Type(_) => {}
        }
    }

    /// Evaluates the filter on a rendered entity. `_id` filters compare with the `_id` key;
    /// parent, child and type filters are the caller's to resolve and match nothing here.
    pub fn matches(&self, entity: &Value) -> bool {
        match self {
            Filter::Any => true,
            Filter::And(v) => v.iter().all(|f| f.matches(entity)),
            Filter::Or(v) => v.iter().any(|f| f.matches(entity)),
            Filter::Not(f) => !f.matches(entity),
            Filter::Cmp { op, field, value } => {
                let found = lookup(entity, field);
                match op {
                    CmpOp::Eq => found.is_some_and(|v| value_eq(v, value)),
                    CmpOp::Ne => !found.is_some_and(|v| value_eq(v, value)),
                    _ => found.is_some_and(|v| {
                        scalars(v).any(|s| {
                            compare(s, value).is_some_and(|o| match op {
                                CmpOp::Lt => o == Ordering::Less,
                                CmpOp::Gt => o == Ordering::Greater,
                                CmpOp::Lte => o != Ordering::Greater,
                                CmpOp::Gte => o != Ordering::Less,
                                CmpOp::Eq | CmpOp::Ne => false,
                            })
                        })
                    }),
                }
            }
            Filter::In { field, values } => {
                lookup(entity, field).is_some_and(|v| values.iter().any(|x| value_eq(v, x)))
            }
            Filter::Between { field, from, to } => lookup(entity, field).is_some_and(|v| {
                scalars(v).any(|s| {
                    compare(s, from).is_some_and(|o| o != Ordering::Less)
                        && compare(s, to) == Some(Ordering::Less)
                })
            }),
            Filter::Text { op, field, value } => lookup(entity, field).is_some_and(|v| {
                scalars(v)
                    .filter_map(Value::as_str)
                    .any(|s| text_matches(*op, s, value))
            }),
            Filter::Has(field) => lookup(entity, field).is_some_and(|v| !v.is_null()),
            Filter::Id(id) => entity.get("_id").and_then(Value::as_str) == Some(id.as_str()),
            Filter::Parent { .. } | Filter::Child { .. } | Filter::Type(_) => false,
        }
    }
}

/// Whether `text` matches `pattern` under `op`.
pub fn text_matches(op: TextOp, text: &str, pattern: &str) -> bool {
    match op {
        TextOp::StartsWith => text.starts_with(pattern),
        TextOp::EndsWith => text.ends_with(pattern),
        TextOp::Match => text.to_lowercase().contains(&pattern.to_lowercase()),
        TextOp::Like => {
            let starts = pattern.starts_with('*');
            let ends = pattern.ends_with('*') && pattern.len() > 1;
            let core = pattern.trim_matches('*');
            match (starts, ends) {
                (true, true) => text.contains(core),
                (true, false) => text.ends_with(core),
                (false, true) => text.starts_with(core),
                (false, false) => text == core,
            }
        }
    }
}

fn parse_at(value: &Value, depth: usize) -> Result<Filter, FilterError> {
    if depth > MAX_DEPTH {
        return err(format!("filter nested deeper than {MAX_DEPTH} levels"));
    }
    let obj = match value {
        Value::Object(o) => o,
        Value::Null => return Ok(Filter::Any),
        other => return err(format!("a filter must be an object, not {other}")),
    };
    // The query API merges the operator into the op object ({"_name": "filter", "_eq": ..}).
    let keys: Vec<&String> = obj.keys().filter(|k| k.as_str() != "_name").collect();
    if keys.is_empty() {
        return Ok(Filter::Any);
    }
    if obj.contains_key("_field") && obj.contains_key("_value") {
        return Ok(Filter::Cmp {
            op: CmpOp::Eq,
            field: field_name(obj.get("_field"))?,
            value: resolve(obj.get("_value").cloned().unwrap_or(Value::Null))?,
        });
    }
    if keys.len() != 1 {
        // Several plain keys: each one an equality, all required (v0 shorthand).
        let mut parts = Vec::new();
        for k in keys {
            let mut single = Map::new();
            single.insert(k.clone(), obj[k.as_str()].clone());
            parts.push(parse_at(&Value::Object(single), depth + 1)?);
        }
        return Ok(Filter::And(parts));
    }
    let key = keys[0].as_str();
    let arg = &obj[key];
    let list = |arg: &Value| -> Result<Vec<Filter>, FilterError> {
        match arg {
            Value::Array(items) => items.iter().map(|i| parse_at(i, depth + 1)).collect(),
            other => Ok(vec![parse_at(other, depth + 1)?]),
        }
    };
    Ok(match key {
        "_any" => Filter::Any,
        "_and" => Filter::And(list(arg)?),
        "_or" => Filter::Or(list(arg)?),
        "_not" => Filter::Not(Box::new(parse_at(arg, depth + 1)?)),
        "_eq" | "_is" => cmp(CmpOp::Eq, arg)?,
        "_ne" => cmp(CmpOp::Ne, arg)?,
        "_lt" => cmp(CmpOp::Lt, arg)?,
        "_gt" => cmp(CmpOp::Gt, arg)?,
        "_lte" => cmp(CmpOp::Lte, arg)?,
        "_gte" => cmp(CmpOp::Gte, arg)?,
        "_in" => {
            let o = as_obj(key, arg)?;
            let values = match o.get("_values") {
                Some(Value::Array(v)) => {
                    v.iter().cloned().map(resolve).collect::<Result<_, _>>()?
                }
                _ => return err("_in needs `_values`, a list"),
            };
            Filter::In {
                field: field_name(o.get("_field"))?,
                values,
            }
        }
        "_between" => {
            let o = as_obj(key, arg)?;
            Filter::Between {
                field: field_name(o.get("_field"))?,
                from: resolve(o.get("_from").cloned().unwrap_or(Value::Null))?,
                to: resolve(o.get("_to").cloned().unwrap_or(Value::Null))?,
            }
        }
        "_startsWith" => text(TextOp::StartsWith, key, arg)?,
        "_endsWith" => text(TextOp::EndsWith, key, arg)?,
        "_like" | "_wildcard" => text(TextOp::Like, key, arg)?,
        "_match" => text(TextOp::Match, key, arg)?,
        "_has" | "_contains" => match arg {
            Value::String(s) => Filter::Has(s.clone()),
            Value::Object(o) => Filter::Has(field_name(o.get("_field"))?),
            _ => return err(format!("{key} needs a field name")),
        },
        "_id" => match arg {
            Value::String(s) => Filter::Id(s.clone()),
            Value::Number(n) => Filter::Id(n.to_string()),
            _ => return err("_id needs an id"),
        },
        "_type" => match arg {
            Value::String(s) => Filter::Type(s.clone()),
            _ => return err("_type needs a type name"),
        },
        "_string" => Filter::Any,
        "_parent" | "_child" => {
            let o = as_obj(key, arg)?;
            let kind = match o.get("_type") {
                Some(Value::String(s)) => s.clone(),
                _ => return err(format!("{key} needs `_type`")),
            };
            let filter = if let Some(q) = o.get("_query") {
                parse_at(q, depth + 1)?
            } else if let Some(id) = o.get("_id") {
                parse_at(&serde_json::json!({ "_id": id }), depth + 1)?
            } else {
                return err(format!("{key} needs `_query` or `_id`"));
            };
            let filter = Box::new(filter);
            if key == "_parent" {
                Filter::Parent { kind, filter }
            } else {
                Filter::Child { kind, filter }
            }
        }
        k if k.starts_with('_') => return err(format!("unknown filter operator {k}")),
        field => Filter::Cmp {
            op: CmpOp::Eq,
            field: field.to_string(),
            value: resolve(arg.clone())?,
        },
    })
}

fn as_obj<'a>(key: &str, v: &'a Value) -> Result<&'a Map<String, Value>, FilterError> {
    v.as_object()
        .ok_or_else(|| FilterError(format!("{key} needs an object")))
}

fn field_name(v: Option<&Value>) -> Result<String, FilterError> {
    match v {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        _ => err("missing `_field`"),
    }
}

fn cmp(op: CmpOp, arg: &Value) -> Result<Filter, FilterError> {
    let o = arg
        .as_object()
        .ok_or_else(|| FilterError("a comparison needs an object".into()))?;
    if o.contains_key("_field") {
        return Ok(Filter::Cmp {
            op,
            field: field_name(o.get("_field"))?,
            value: resolve(o.get("_value").cloned().unwrap_or(Value::Null))?,
        });
    }
    // Deprecated form {"_gt": {"field": value}}.
    match o.iter().next() {
        Some((field, value)) if o.len() == 1 => Ok(Filter::Cmp {
            op,
            field: field.clone(),
            value: resolve(value.clone())?,
        }),
        _ => err("a comparison needs `_field` and `_value`"),
    }
}

fn text(op: TextOp, key: &str, arg: &Value) -> Result<Filter, FilterError> {
    let o = as_obj(key, arg)?;
    let value = match o.get("_value") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return err(format!("{key} needs a string `_value`")),
    };
    Ok(Filter::Text {
        op,
        field: field_name(o.get("_field"))?,
        value,
    })
}

/// Resolves a relative date (`{"amount": 2, "unit": "days", "look": "behind"}`) to epoch
/// milliseconds; other values are returned as they are.
fn resolve(v: Value) -> Result<Value, FilterError> {
    let Value::Object(o) = &v else { return Ok(v) };
    let (Some(amount), Some(unit)) = (o.get("amount"), o.get("unit")) else {
        return Ok(v);
    };
    let amount = amount
        .as_i64()
        .ok_or_else(|| FilterError("relative date: `amount` must be an integer".into()))?;
    let unit_ms: i64 = match unit.as_str().unwrap_or_default() {
        "minutes" | "minute" => 60_000,
        "hours" | "hour" => 3_600_000,
        "days" | "day" => 86_400_000,
        "weeks" | "week" => 7 * 86_400_000,
        "months" | "month" => 30 * 86_400_000,
        "years" | "year" => 365 * 86_400_000,
        other => return err(format!("relative date: unknown unit {other}")),
    };
    let ahead = o.get("look").and_then(Value::as_str) == Some("ahead");
    let delta = amount.saturating_mul(unit_ms);
    let now = now_ms();
    let mut at = if ahead { now + delta } else { now - delta };
    match o.get("modifier").and_then(Value::as_str) {
        Some("startOfDay") => at -= at.rem_euclid(86_400_000),
        Some("endOfDay") => at += 86_400_000 - 1 - at.rem_euclid(86_400_000),
        _ => {}
    }
    Ok(Value::from(at))
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Looks a dotted path up in a JSON object.
pub fn lookup<'a>(entity: &'a Value, path: &str) -> Option<&'a Value> {
    if let Some(v) = entity.get(path) {
        return Some(v);
    }
    let mut cur = entity;
    let mut rest = path;
    loop {
        let o = cur.as_object()?;
        if let Some(v) = o.get(rest) {
            return Some(v);
        }
        let (head, tail) = rest.split_once('.')?;
        cur = o.get(head)?;
        rest = tail;
    }
}

fn scalars(v: &Value) -> Box<dyn Iterator<Item = &Value> + '_> {
    match v {
        Value::Array(items) => Box::new(items.iter()),
        other => Box::new(std::iter::once(other)),
    }
}

fn value_eq(field: &Value, wanted: &Value) -> bool {
    scalars(field).any(|s| compare(s, wanted) == Some(Ordering::Equal))
}

/// Orders two JSON scalars: numbers numerically, strings lexicographically, booleans false
/// first. A number and a numeric string compare as numbers. Other pairs do not compare.
pub fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Number(x), Value::String(y)) => x.as_f64()?.partial_cmp(&y.parse::<f64>().ok()?),
        (Value::String(x), Value::Number(y)) => x.parse::<f64>().ok()?.partial_cmp(&y.as_f64()?),
        (Value::Null, Value::Null) => Some(Ordering::Equal),
        _ => None,
    }
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Ascending.
    Asc,
    /// Descending.
    Desc,
}

/// A multi-key sort.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sort(pub Vec<(String, Direction)>);

impl Sort {
    /// Parses TheHive v1 `_fields: [{"field": "asc"}, ...]`.
    pub fn from_fields(fields: &Value) -> Result<Sort, FilterError> {
        let items = fields
            .as_array()
            .ok_or_else(|| FilterError("sort `_fields` must be a list".into()))?;
        let mut out = Vec::new();
        for item in items {
            let o = item
                .as_object()
                .ok_or_else(|| FilterError("sort field must be an object".into()))?;
            for (field, dir) in o {
                let dir = match dir.as_str() {
                    Some("asc") | Some("ASC") => Direction::Asc,
                    Some("desc") | Some("DESC") => Direction::Desc,
                    _ => return err(format!("sort direction of {field} must be asc or desc")),
                };
                out.push((field.clone(), dir));
            }
        }
        Ok(Sort(out))
    }

    /// Parses the v0/Cortex form: `-field`, `+field` or `field`, one per item.
    pub fn from_signed<'a>(items: impl IntoIterator<Item = &'a str>) -> Sort {
        let mut out = Vec::new();
        for item in items.into_iter().flat_map(|s| s.split(',')) {
            let item = item.trim();
            if let Some(f) = item.strip_prefix('-') {
                out.push((f.to_string(), Direction::Desc));
            } else if let Some(f) = item.strip_prefix('+') {
                out.push((f.to_string(), Direction::Asc));
            } else if !item.is_empty() {
                out.push((item.to_string(), Direction::Asc));
            }
        }
        Sort(out)
    }

    /// Orders two rendered entities; missing values sort last, ties keep input order.
    pub fn compare(&self, a: &Value, b: &Value) -> Ordering {
        for (field, dir) in &self.0 {
            let ord = match (lookup(a, field), lookup(b, field)) {
                (Some(x), Some(y)) => compare(x, y).unwrap_or(Ordering::Equal),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            };
            let ord = if *dir == Direction::Desc {
                ord.reverse()
            } else {
                ord
            };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        Ordering::Equal
    }
}

/// The `range` parameter of v0 and Cortex list endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// First item, from 0.
    pub offset: usize,
    /// How many items at most; `None` = all.
    pub limit: Option<usize>,
}

impl Range {
    /// The default when no range is given: the first 10 items.
    pub const DEFAULT: Range = Range {
        offset: 0,
        limit: Some(10),
    };

    /// Parses `all`, `from-to` (to exclusive) or nothing (first 10). Malformed ranges fall
    /// back to 10 items from the given offset, as Cortex does.
    pub fn parse(s: Option<&str>) -> Range {
        let Some(s) = s.map(str::trim).filter(|s| !s.is_empty()) else {
            return Range::DEFAULT;
        };
        if s == "all" {
            return Range {
                offset: 0,
                limit: None,
            };
        }
        let mut parts = s.splitn(2, '-');
        let from = parts
            .next()
            .and_then(|p| p.trim().parse::<usize>().ok())
            .unwrap_or(0);
        let to = parts.next().and_then(|p| p.trim().parse::<usize>().ok());
        match to {
            Some(to) if to > from => Range {
                offset: from,
                limit: Some(to - from),
            },
            _ => Range {
                offset: from,
                limit: Some(10),
            },
        }
    }

    /// Applies the range to a list.
    pub fn apply<T>(&self, items: Vec<T>) -> Vec<T> {
        let it = items.into_iter().skip(self.offset);
        match self.limit {
            Some(n) => it.take(n).collect(),
            None => it.collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_every_form_thehive4py_sends() {
        let f = Filter::parse(&json!({"_name": "filter", "_and": [
            {"_eq": {"_field": "name", "_value": "x"}},
            {"_not": {"_like": {"_field": "login", "_value": "*adm*"}}},
            {"_gt": {"_createdAt": 5}},
            {"_in": {"_field": "type", "_values": ["Normal", "Service"]}}
        ]}))
        .expect("parses");
        let entity = json!({"name": "x", "login": "bob@x", "_createdAt": 6, "type": "Normal"});
        assert!(f.matches(&entity));
        let other = json!({"name": "x", "login": "admin@x", "_createdAt": 6, "type": "Normal"});
        assert!(!f.matches(&other));
        assert_eq!(f.fields(), vec!["name", "login", "_createdAt", "type"]);
    }

    #[test]
    fn equality_on_a_list_means_contains() {
        let f = Filter::parse(&json!({"roles": "analyze"})).expect("parses");
        assert!(f.matches(&json!({"roles": ["read", "analyze"]})));
        assert!(!f.matches(&json!({"roles": ["read"]})));
    }

    #[test]
    fn between_is_half_open_and_relative_dates_resolve() {
        let f = Filter::parse(&json!({"_between": {"_field": "n", "_from": 1, "_to": 3}}))
            .expect("parses");
        assert!(f.matches(&json!({"n": 1})) && f.matches(&json!({"n": 2})));
        assert!(!f.matches(&json!({"n": 3})));
        let r = Filter::parse(
            &json!({"_gt": {"_field": "d", "_value": {"amount": 1, "unit": "days", "look": "behind"}}}),
        )
        .expect("parses");
        assert!(r.matches(&json!({"d": now_ms()})));
        assert!(!r.matches(&json!({"d": now_ms() - 2 * 86_400_000})));
    }

    #[test]
    fn rejects_unknown_operators_and_deep_nesting() {
        assert!(Filter::parse(&json!({"_bogus": 1})).is_err());
        let mut deep = json!({"_any": null});
        for _ in 0..40 {
            deep = json!({ "_not": deep });
        }
        assert!(Filter::parse(&deep).is_err());
    }

    #[test]
    fn ranges_and_sorts() {
        assert_eq!(Range::parse(None), Range::DEFAULT);
        assert_eq!(Range::parse(Some("all")).limit, None);
        assert_eq!(
            Range::parse(Some("5-7")),
            Range {
                offset: 5,
                limit: Some(2)
            }
        );
        assert_eq!(Range::parse(Some("5-2")).limit, Some(10));
        let s = Sort::from_signed(["-n", "+name"]);
        let mut v = [
            json!({"n": 1, "name": "b"}),
            json!({"n": 2}),
            json!({"n": 1, "name": "a"}),
        ];
        v.sort_by(|a, b| s.compare(a, b));
        assert_eq!(v[0]["n"], 2);
        assert_eq!(v[1]["name"], "a");
    }
}
