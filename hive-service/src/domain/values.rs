//! TheHive's enumerations and the checks every case-work input goes through: severities,
//! TLP/PAP, statuses and their stages, tags, texts.

use serde_json::Value;
use service_kit::error::ApiError;

/// Label of a severity.
pub fn severity_label(s: i32) -> &'static str {
    match s {
        1 => "LOW",
        2 => "MEDIUM",
        3 => "HIGH",
        _ => "CRITICAL",
    }
}

/// Label of a TLP level (TLP 2.0).
pub fn tlp_label(t: i32) -> &'static str {
    match t {
        0 => "CLEAR",
        1 => "GREEN",
        2 => "AMBER",
        3 => "AMBER+STRICT",
        _ => "RED",
    }
}

/// Label of a PAP level.
pub fn pap_label(p: i32) -> &'static str {
    match p {
        0 => "CLEAR",
        1 => "GREEN",
        2 => "AMBER",
        _ => "RED",
    }
}

/// Checks an integer attribute against an inclusive range.
pub fn check_range(name: &str, v: i32, lo: i32, hi: i32) -> Result<i32, ApiError> {
    if (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        Err(ApiError::attribute(
            name,
            format!("{v} is not between {lo} and {hi}"),
        ))
    }
}

/// Severity 1..4.
pub fn severity(v: i32) -> Result<i32, ApiError> {
    check_range("severity", v, 1, 4)
}
/// TLP 0..4.
pub fn tlp(v: i32) -> Result<i32, ApiError> {
    check_range("tlp", v, 0, 4)
}
/// PAP 0..3.
pub fn pap(v: i32) -> Result<i32, ApiError> {
    check_range("pap", v, 0, 3)
}

/// Case statuses and their stages.
pub const CASE_STATUSES: &[(&str, &str)] = &[
    ("New", "New"),
    ("InProgress", "InProgress"),
    ("TruePositive", "Closed"),
    ("FalsePositive", "Closed"),
    ("Indeterminate", "Closed"),
    ("Duplicated", "Closed"),
    ("Other", "Closed"),
];

/// Alert statuses and their stages.
pub const ALERT_STATUSES: &[(&str, &str)] = &[
    ("New", "New"),
    ("InProgress", "InProgress"),
    ("Imported", "Imported"),
    ("TruePositive", "Closed"),
    ("FalsePositive", "Closed"),
    ("Ignored", "Closed"),
    ("Duplicated", "Closed"),
    ("Other", "Closed"),
];

/// Impact statuses of a case.
pub const IMPACT_STATUSES: &[&str] = &["NotApplicable", "WithImpact", "NoImpact"];

/// Task statuses.
pub const TASK_STATUSES: &[&str] = &["Waiting", "InProgress", "Completed", "Cancel"];

/// The stage of a status in `table`, or a 400 naming the attribute.
pub fn stage_of(
    table: &[(&str, &'static str)],
    name: &str,
    status: &str,
) -> Result<&'static str, ApiError> {
    table
        .iter()
        .find(|(s, _)| *s == status)
        .map(|(_, stage)| *stage)
        .ok_or_else(|| {
            ApiError::attribute(
                name,
                format!(
                    "{status} is not one of {}",
                    table.iter().map(|(s, _)| *s).collect::<Vec<_>>().join(", ")
                ),
            )
        })
}

/// Checks a value against a fixed list.
pub fn one_of(name: &str, v: &str, allowed: &[&str]) -> Result<String, ApiError> {
    if allowed.contains(&v) {
        Ok(v.to_string())
    } else {
        Err(ApiError::attribute(
            name,
            format!("{v} is not one of {}", allowed.join(", ")),
        ))
    }
}

/// Most tags on one entity.
pub const MAX_TAGS: usize = 256;

/// Normalises tags: trimmed, non-empty, at most 256 characters, first occurrence kept.
pub fn tags(name: &str, input: &[String]) -> Result<Vec<String>, ApiError> {
    let mut out: Vec<String> = Vec::with_capacity(input.len());
    for t in input {
        let t = t.trim();
        if t.is_empty() {
            continue;
        }
        if t.chars().count() > 256 {
            return Err(ApiError::attribute(
                name,
                "a tag is longer than 256 characters",
            ));
        }
        if !out.iter().any(|o| o == t) {
            out.push(t.to_string());
        }
    }
    if out.len() > MAX_TAGS {
        return Err(ApiError::attribute(
            name,
            format!("at most {MAX_TAGS} tags"),
        ));
    }
    Ok(out)
}

/// Tags as stored.
pub fn tags_json(tags: &[String]) -> String {
    serde_json::to_string(tags).unwrap_or_else(|_| "[]".into())
}

/// Tags from storage.
pub fn tags_of(json: &str) -> Vec<String> {
    serde_json::from_str(json).unwrap_or_default()
}

/// Union of two tag lists, order kept.
pub fn union(a: &[String], b: &[String]) -> Vec<String> {
    let mut out = a.to_vec();
    for t in b {
        if !out.contains(t) {
            out.push(t.clone());
        }
    }
    out
}

/// A required text: trimmed, not empty, at most `max` bytes.
pub fn text(name: &str, v: &str, max: usize) -> Result<String, ApiError> {
    let t = v.trim();
    if t.is_empty() {
        return Err(ApiError::attribute(name, "must not be empty"));
    }
    long_text(name, t, max)
}

/// A text that may be empty: at most `max` bytes, no NUL.
pub fn long_text(name: &str, v: &str, max: usize) -> Result<String, ApiError> {
    if v.len() > max {
        return Err(ApiError::attribute(
            name,
            format!("must be at most {max} bytes"),
        ));
    }
    if v.contains('\0') {
        return Err(ApiError::attribute(name, "must not contain NUL characters"));
    }
    Ok(v.to_string())
}

/// An optional text: blank means absent.
pub fn opt_text(name: &str, v: Option<&str>, max: usize) -> Result<Option<String>, ApiError> {
    match v.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => long_text(name, s, max).map(Some),
        None => Ok(None),
    }
}

/// 1 MiB: the longest description or message.
pub const MAX_DESCRIPTION: usize = 1024 * 1024;

/// Reads the fields of a PATCH body one by one: absent = unchanged, `null` = unset. It
/// remembers which fields were read, so that [`Patch::finish`] refuses the others (a typo)
/// unless they are fields of the object as rendered.
#[derive(Debug)]
pub struct Patch<'a> {
    map: &'a serde_json::Map<String, Value>,
    read: std::cell::RefCell<std::collections::HashSet<String>>,
}

impl<'a> Patch<'a> {
    /// Wraps a JSON object; anything else is a 400.
    pub fn new(v: &'a Value) -> Result<Patch<'a>, ApiError> {
        match v {
            Value::Object(map) => Ok(Patch {
                map,
                read: Default::default(),
            }),
            _ => Err(ApiError::BadRequest(
                "the body must be a JSON object".into(),
            )),
        }
    }

    fn get(&self, name: &str) -> Option<&'a Value> {
        self.read.borrow_mut().insert(name.to_string());
        self.map.get(name)
    }

    /// 400 naming the fields that were not read, unless they are fields of the `rendered`
    /// schemas (the object posted back) or server-owned ones.
    pub fn finish(&self, rendered: &[&str]) -> Result<(), ApiError> {
        let read = self.read.borrow();
        service_kit::extract::refuse_unknown(
            self.map
                .keys()
                .filter(|k| !read.contains(*k))
                .map(String::as_str),
            rendered,
        )
    }

    /// The raw value, if present.
    pub fn raw(&self, name: &str) -> Option<&'a Value> {
        self.get(name)
    }

    /// Whether the field is present.
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// A required string when present (null is a 400).
    pub fn string(&self, name: &str) -> Result<Option<&'a str>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(ApiError::attribute(
                name,
                format!("expected a string, got {other}"),
            )),
        }
    }

    /// An optional string: `Some(None)` when null (unset).
    pub fn nullable_string(&self, name: &str) -> Result<Option<Option<&'a str>>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            Some(Value::String(s)) => Ok(Some(Some(s))),
            Some(other) => Err(ApiError::attribute(
                name,
                format!("expected a string, got {other}"),
            )),
        }
    }

    /// An integer when present.
    pub fn int(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| ApiError::attribute(name, format!("expected an integer, got {v}"))),
        }
    }

    /// An optional integer: `Some(None)` when null.
    pub fn nullable_int(&self, name: &str) -> Result<Option<Option<i64>>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            Some(v) => v
                .as_i64()
                .map(|i| Some(Some(i)))
                .ok_or_else(|| ApiError::attribute(name, format!("expected an integer, got {v}"))),
        }
    }

    /// A small integer in a range when present.
    pub fn int_in(&self, name: &str, lo: i32, hi: i32) -> Result<Option<i32>, ApiError> {
        match self.int(name)? {
            None => Ok(None),
            Some(v) => {
                let v = i32::try_from(v).unwrap_or(i32::MAX);
                check_range(name, v, lo, hi).map(Some)
            }
        }
    }

    /// A boolean when present.
    pub fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(ApiError::attribute(
                name,
                format!("expected a boolean, got {other}"),
            )),
        }
    }

    /// A list of strings when present (null = empty).
    pub fn strings(&self, name: &str) -> Result<Option<Vec<String>>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(Vec::new())),
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| {
                    i.as_str().map(str::to_string).ok_or_else(|| {
                        ApiError::attribute(name, format!("expected strings, got {i}"))
                    })
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(other) => Err(ApiError::attribute(
                name,
                format!("expected a list of strings, got {other}"),
            )),
        }
    }
}

/// Checks a free-text attribute: trimmed, not empty, at most `max` characters.
pub fn check_text(name: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(ApiError::attribute(name, "must not be empty"));
    }
    if v.chars().count() > max {
        return Err(ApiError::attribute(
            name,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(v.to_string())
}

/// Checks a name that may also be used in paths: no leading `~`, no `/`, no control
/// characters.
pub fn check_name(name: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let v = check_text(name, value, max)?;
    if v.starts_with('~') || v.contains('/') || v.chars().any(char::is_control) {
        return Err(ApiError::attribute(
            name,
            "must not start with ~ nor contain / or control characters",
        ));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_stages() {
        assert_eq!(tlp_label(3), "AMBER+STRICT");
        assert_eq!(severity_label(2), "MEDIUM");
        assert_eq!(
            stage_of(CASE_STATUSES, "status", "TruePositive").ok(),
            Some("Closed")
        );
        assert!(stage_of(CASE_STATUSES, "status", "Resolved").is_err());
        assert!(tlp(5).is_err());
    }

    #[test]
    fn tags_are_trimmed_and_unique() {
        let t = tags("tags", &[" a ".into(), "b".into(), "a".into(), "".into()]).expect("ok");
        assert_eq!(t, vec!["a", "b"]);
        assert_eq!(union(&t, &["c".into(), "a".into()]), vec!["a", "b", "c"]);
    }
}
