//! Translation of the Query API's filters, sorts and pages into SQL, so that a page of a
//! large table is found by the database (with its indexes) instead of in memory.
//!
//! The translation covers the columns of each entity, tags (a JSON array in the row,
//! matched as a quoted element) and custom field values (an `EXISTS` on `custom_values`).
//! Anything it does not cover (labels, computed fields, v0 parent/child filters) makes
//! [`translate`] answer `None`, and the caller evaluates the query in memory on the rendered
//! entities instead: same answers, only slower.
//!
//! Text operators use `instr`/`strpos` and `substr` rather than `LIKE`, so that they are
//! case-sensitive on both backends as in memory (`_match` is case-insensitive everywhere).

use serde_json::Value;
use shared_models::query::{CmpOp, Direction, Filter, Sort, TextOp};

/// How a field is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Col {
    /// An integer column (dates are epoch ms).
    Int(&'static str),
    /// A text column.
    Text(&'static str),
    /// A boolean column.
    Bool(&'static str),
    /// An id column shown as `~<n>`.
    Id(&'static str),
    /// The JSON array of tags.
    Tags(&'static str),
    /// A boolean computed by an SQL expression.
    Expr(&'static str),
}

/// The table of an entity kind and its fields.
#[derive(Debug, Clone, Copy)]
pub struct Table {
    /// Table name.
    pub name: &'static str,
    /// Field → column.
    pub columns: &'static [(&'static str, Col)],
}

impl Table {
    fn col(&self, field: &str) -> Option<Col> {
        self.columns
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, c)| *c)
    }
}

macro_rules! meta {
    () => {
        [
            ("_id", Col::Id("id")),
            ("_createdAt", Col::Int("created_at")),
            ("_createdBy", Col::Text("created_by")),
            ("_updatedAt", Col::Int("updated_at")),
            ("_updatedBy", Col::Text("updated_by")),
        ]
    };
}

const fn cat<const A: usize, const B: usize, const N: usize>(
    a: [(&'static str, Col); A],
    b: [(&'static str, Col); B],
) -> [(&'static str, Col); N] {
    let mut out = [("", Col::Int("")); N];
    let mut i = 0;
    while i < A {
        out[i] = a[i];
        i += 1;
    }
    let mut j = 0;
    while j < B {
        out[A + j] = b[j];
        j += 1;
    }
    out
}

const ALERT_COLS: [(&str, Col); 30] = cat(
    meta!(),
    [
        ("type", Col::Text("alert_type")),
        ("source", Col::Text("source")),
        ("sourceRef", Col::Text("source_ref")),
        ("externalLink", Col::Text("external_link")),
        ("title", Col::Text("title")),
        ("description", Col::Text("description")),
        ("severity", Col::Int("severity")),
        ("date", Col::Int("date")),
        ("tags", Col::Tags("tags")),
        ("tlp", Col::Int("tlp")),
        ("pap", Col::Int("pap")),
        ("follow", Col::Bool("follow")),
        ("flag", Col::Bool("flag")),
        ("caseTemplate", Col::Text("case_template")),
        ("caseId", Col::Id("case_id")),
        ("status", Col::Text("status")),
        ("stage", Col::Text("stage")),
        ("assignee", Col::Text("assignee")),
        ("summary", Col::Text("summary")),
        ("newDate", Col::Int("created_at")),
        ("inProgressDate", Col::Int("in_progress_date")),
        ("closedDate", Col::Int("closed_date")),
        ("importedDate", Col::Int("imported_date")),
        ("read", Col::Bool("is_read")),
        ("imported", Col::Expr("(alerts.case_id IS NOT NULL)")),
    ],
);

const CASE_COLS: [(&str, Col); 24] = cat(
    meta!(),
    [
        ("number", Col::Int("number")),
        ("title", Col::Text("title")),
        ("description", Col::Text("description")),
        ("severity", Col::Int("severity")),
        ("startDate", Col::Int("start_date")),
        ("endDate", Col::Int("end_date")),
        ("tags", Col::Tags("tags")),
        ("flag", Col::Bool("flag")),
        ("tlp", Col::Int("tlp")),
        ("pap", Col::Int("pap")),
        ("status", Col::Text("status")),
        ("stage", Col::Text("stage")),
        ("summary", Col::Text("summary")),
        ("impactStatus", Col::Text("impact_status")),
        ("assignee", Col::Text("assignee")),
        ("caseTemplate", Col::Text("case_template")),
        ("newDate", Col::Int("created_at")),
        ("inProgressDate", Col::Int("in_progress_date")),
        ("closedDate", Col::Int("closed_date")),
    ],
);

const OBSERVABLE_COLS: [(&str, Col); 16] = cat(
    meta!(),
    [
        ("dataType", Col::Text("data_type")),
        ("data", Col::Text("data")),
        ("startDate", Col::Int("created_at")),
        ("tlp", Col::Int("tlp")),
        ("pap", Col::Int("pap")),
        ("tags", Col::Tags("tags")),
        ("ioc", Col::Bool("ioc")),
        ("sighted", Col::Bool("sighted")),
        ("sightedAt", Col::Int("sighted_at")),
        ("message", Col::Text("message")),
        ("ignoreSimilarity", Col::Bool("ignore_similarity")),
    ],
);

const TASK_COLS: [(&str, Col); 16] = cat(
    meta!(),
    [
        ("title", Col::Text("title")),
        ("group", Col::Text("group_name")),
        ("description", Col::Text("description")),
        ("status", Col::Text("status")),
        ("flag", Col::Bool("flag")),
        ("startDate", Col::Int("start_date")),
        ("endDate", Col::Int("end_date")),
        ("assignee", Col::Text("assignee")),
        ("order", Col::Int("task_order")),
        ("dueDate", Col::Int("due_date")),
        ("mandatory", Col::Bool("mandatory")),
    ],
);

const LOG_COLS: [(&str, Col); 9] = cat(
    meta!(),
    [
        ("message", Col::Text("message")),
        ("date", Col::Int("date")),
        ("owner", Col::Text("owner")),
        ("includeInTimeline", Col::Int("include_in_timeline")),
    ],
);

/// Alerts.
pub const ALERTS: Table = Table {
    name: "alerts",
    columns: &ALERT_COLS,
};
/// `alert_tags`: one row per tag of each alert with the alert's fields below, kept by
/// triggers (migration `alert_tags`). Counts of a tag plus these fields read only its index.
pub const ALERT_TAGS: Table = Table {
    name: "alert_tags",
    columns: &[
        ("tags", Col::Text("tag")),
        ("status", Col::Text("status")),
        ("severity", Col::Int("severity")),
        ("read", Col::Bool("is_read")),
        ("imported", Col::Expr("(alert_tags.case_id IS NOT NULL)")),
        ("caseId", Col::Id("case_id")),
    ],
};
/// `alert_tag_counts`: how many rows of `alert_tags` each combination of organisation, tag,
/// status, severity, read flag and "in a case" has, as delta rows summed on reading (kept by
/// triggers on `alert_tags`, merged by [`crate::query::counts::compact`]).
pub const ALERT_TAG_COUNTS: Table = Table {
    name: "alert_tag_counts",
    columns: &[
        ("tags", Col::Text("tag")),
        ("status", Col::Text("status")),
        ("severity", Col::Int("severity")),
        ("read", Col::Bool("is_read")),
        ("imported", Col::Bool("imported")),
    ],
};
/// Cases.
pub const CASES: Table = Table {
    name: "cases",
    columns: &CASE_COLS,
};
/// Observables.
pub const OBSERVABLES: Table = Table {
    name: "observables",
    columns: &OBSERVABLE_COLS,
};
/// Tasks.
pub const TASKS: Table = Table {
    name: "tasks",
    columns: &TASK_COLS,
};
/// Logs.
pub const LOGS: Table = Table {
    name: "logs",
    columns: &LOG_COLS,
};

pub use crate::db::raw::{Bind, Sql};

/// Not translatable: evaluate in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Untranslatable;

/// Most values of one `_in` translated as an `IN` list (bind parameters are limited).
const MAX_IN: usize = 10_000;

/// Most values of one `_in` translated as an `OR` chain (SQLite's expression depth is 1000).
const MAX_OR: usize = 200;

type R = Result<(), Untranslatable>;

fn number(v: &Value) -> Option<Bind> {
    match v {
        Value::Number(n) => n.as_i64().map(Bind::I).or_else(|| n.as_f64().map(Bind::F)),
        Value::String(s) => s
            .parse::<i64>()
            .map(Bind::I)
            .ok()
            .or_else(|| s.parse::<f64>().ok().map(Bind::F)),
        Value::Bool(b) => Some(Bind::I(i64::from(*b))),
        _ => None,
    }
}

fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn bind_for(col: Col, v: &Value) -> Option<Bind> {
    match col {
        Col::Int(_) => number(v),
        Col::Text(_) => text_of(v).map(Bind::S),
        Col::Bool(_) | Col::Expr(_) => match v {
            Value::Bool(b) => Some(Bind::B(*b)),
            Value::String(s) if s == "true" || s == "false" => Some(Bind::B(s == "true")),
            _ => None,
        },
        Col::Id(_) => match v {
            Value::String(s) => s
                .strip_prefix('~')
                .unwrap_or(s)
                .parse::<i64>()
                .ok()
                .map(Bind::I)
                .or(Some(Bind::I(-1))),
            Value::Number(n) => n.as_i64().map(Bind::I),
            _ => None,
        },
        Col::Tags(_) => None,
    }
}

fn col_expr(table: &Table, col: Col) -> String {
    match col {
        Col::Int(c) | Col::Text(c) | Col::Bool(c) | Col::Id(c) | Col::Tags(c) => {
            format!("{}.{}", table.name, c)
        }
        Col::Expr(e) => e.to_string(),
    }
}

fn tag_contains(out: &mut Sql, table: &Table, col: &str, v: &Value) -> R {
    let tag = v.as_str().ok_or(Untranslatable)?;
    let quoted = serde_json::to_string(tag).map_err(|_| Untranslatable)?;
    // Case-sensitive, as the in-memory evaluator (SQLite's LIKE is not).
    let f = if out.pg { "strpos" } else { "instr" };
    out.push(&format!("{f}({}.{}, ", table.name, col));
    out.bind(Bind::S(quoted));
    out.push(") > 0");
    Ok(())
}

const CF_TYPES: &[&str] = &[
    "string", "integer", "float", "boolean", "date", "url", "number",
];

/// The custom field a path names (`customFields.<name>`, or TheHive 4's
/// `customFields.<name>.<type>`, which also requires that type).
fn custom_field(field: &str) -> Option<(&str, Option<&str>)> {
    let rest = field.strip_prefix("customFields.")?;
    Some(match rest.rsplit_once('.') {
        Some((name, t)) if CF_TYPES.contains(&t) => (name, Some(t).filter(|t| *t != "number")),
        _ => (rest, None),
    })
}

fn custom_exists(
    out: &mut Sql,
    table: &Table,
    (name, field_type): (&str, Option<&str>),
    cond: impl FnOnce(&mut Sql) -> R,
) -> R {
    out.push(&format!(
        "EXISTS (SELECT 1 FROM custom_values cv JOIN custom_fields cf ON cf.id = cv.field_id \
         WHERE cv.entity_id = {}.id AND cf.name = ",
        table.name
    ));
    out.bind(Bind::S(name.to_string()));
    if let Some(t) = field_type {
        out.push(" AND cf.field_type = ");
        out.bind(Bind::S(t.to_string()));
    }
    out.push(" AND ");
    cond(out)?;
    out.push(")");
    Ok(())
}

fn numeric_value(out: &Sql) -> &'static str {
    if out.pg {
        "(CASE WHEN cf.field_type IN ('integer', 'float', 'date') AND cv.value <> 'null' \
         THEN CAST(cv.value AS DOUBLE PRECISION) END)"
    } else {
        "(CASE WHEN cf.field_type IN ('integer', 'float', 'date') AND cv.value <> 'null' \
         THEN CAST(cv.value AS REAL) END)"
    }
}

fn op_sql(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Eq => "=",
        CmpOp::Ne => "<>",
        CmpOp::Lt => "<",
        CmpOp::Lte => "<=",
        CmpOp::Gt => ">",
        CmpOp::Gte => ">=",
    }
}

fn cmp(out: &mut Sql, table: &Table, op: CmpOp, field: &str, value: &Value) -> R {
    if let Some(name) = custom_field(field) {
        if op == CmpOp::Ne {
            out.push("NOT ");
            return cmp(out, table, CmpOp::Eq, field, value);
        }
        if op == CmpOp::Eq {
            if value.is_null() {
                return Err(Untranslatable);
            }
            let json = value.to_string();
            let num = number(value).filter(|_| value.is_number());
            return custom_exists(out, table, name, |o| {
                o.push("(cv.value = ");
                o.bind(Bind::S(json));
                if let Some(n) = num {
                    o.push(" OR ");
                    o.push(numeric_value(o));
                    o.push(" = ");
                    o.bind(match n {
                        Bind::I(i) => Bind::F(i as f64),
                        other => other,
                    });
                }
                o.push(")");
                Ok(())
            });
        }
        let n = match number(value).ok_or(Untranslatable)? {
            Bind::I(i) => Bind::F(i as f64),
            other => other,
        };
        return custom_exists(out, table, name, |o| {
            o.push(numeric_value(o));
            o.push(&format!(" {} ", op_sql(op)));
            o.bind(n);
            Ok(())
        });
    }
    let col = table.col(field).ok_or(Untranslatable)?;
    if let Col::Tags(c) = col {
        return match op {
            CmpOp::Eq => tag_contains(out, table, c, value),
            CmpOp::Ne => {
                out.push("NOT (");
                tag_contains(out, table, c, value)?;
                out.push(")");
                Ok(())
            }
            _ => Err(Untranslatable),
        };
    }
    let b = bind_for(col, value).ok_or(Untranslatable)?;
    let expr = col_expr(table, col);
    if op == CmpOp::Ne {
        out.push(&format!("({expr} IS NULL OR {expr} <> "));
        out.bind(b);
        out.push(")");
    } else {
        out.push(&format!("{expr} {} ", op_sql(op)));
        out.bind(b);
    }
    Ok(())
}

fn text_op(out: &mut Sql, table: &Table, op: TextOp, field: &str, pattern: &str) -> R {
    let col = table.col(field).ok_or(Untranslatable)?;
    let Col::Text(_) = col else {
        return Err(Untranslatable);
    };
    let expr = col_expr(table, col);
    let contains = |o: &mut Sql, e: &str, p: String, lower: bool| {
        let (e, f) = if lower {
            (format!("lower({e})"), "lower(")
        } else {
            (e.to_string(), "(")
        };
        if o.pg {
            o.push(&format!("strpos({e}, {f}"));
        } else {
            o.push(&format!("instr({e}, {f}"));
        }
        o.bind(Bind::S(p));
        o.push(")) > 0");
    };
    let prefix = |o: &mut Sql, e: &str, p: String| {
        o.push(&format!("substr({e}, 1, length("));
        o.bind(Bind::S(p.clone()));
        o.push(")) = ");
        o.bind(Bind::S(p));
    };
    let suffix = |o: &mut Sql, e: &str, p: String| {
        if o.pg {
            o.push(&format!("right({e}, length("));
        } else {
            o.push(&format!("substr({e}, -length("));
        }
        o.bind(Bind::S(p.clone()));
        o.push(")) = ");
        o.bind(Bind::S(p));
    };
    match op {
        TextOp::StartsWith => prefix(out, &expr, pattern.to_string()),
        TextOp::EndsWith => suffix(out, &expr, pattern.to_string()),
        TextOp::Match => contains(out, &expr, pattern.to_string(), true),
        TextOp::Like => {
            let starts = pattern.starts_with('*');
            let ends = pattern.ends_with('*') && pattern.len() > 1;
            let core = pattern.trim_matches('*').to_string();
            if core.is_empty() && starts {
                // `*` alone: any value (SQLite's substr(x, -0) is not the empty suffix).
                out.push(&format!("{expr} IS NOT NULL"));
                return Ok(());
            }
            match (starts, ends) {
                (true, true) => contains(out, &expr, core, false),
                (true, false) => suffix(out, &expr, core),
                (false, true) => prefix(out, &expr, core),
                (false, false) => {
                    out.push(&format!("{expr} = "));
                    out.bind(Bind::S(core));
                }
            }
        }
    }
    Ok(())
}

/// Appends `items` joined by `sep` as a balanced tree of parentheses, so that a long list
/// nests only logarithmically (SQLite refuses expressions deeper than 1,000).
fn balanced(out: &mut Sql, table: &Table, items: &[Filter], sep: &str) -> R {
    if items.len() == 1 {
        return filter(out, table, &items[0]);
    }
    let (left, right) = items.split_at(items.len() / 2);
    out.push("(");
    balanced(out, table, left, sep)?;
    out.push(sep);
    balanced(out, table, right, sep)?;
    out.push(")");
    Ok(())
}

/// Appends the SQL of a filter.
pub fn filter(out: &mut Sql, table: &Table, f: &Filter) -> R {
    match f {
        Filter::Any => {
            out.push("1 = 1");
        }
        Filter::And(items) | Filter::Or(items) => {
            if items.is_empty() {
                // As the evaluator: all of nothing holds, one of nothing does not.
                out.push(if matches!(f, Filter::And(_)) {
                    "1 = 1"
                } else {
                    "1 = 0"
                });
                return Ok(());
            }
            let sep = if matches!(f, Filter::And(_)) {
                " AND "
            } else {
                " OR "
            };
            balanced(out, table, items, sep)?;
        }
        Filter::Not(inner) => {
            // `IS NOT TRUE`, not `NOT`: a comparison with a missing value is NULL in SQL and
            // false for the evaluator, so its negation must hold.
            out.push("((");
            filter(out, table, inner)?;
            out.push(") IS NOT TRUE)");
        }
        Filter::Cmp { op, field, value } => cmp(out, table, *op, field, value)?,
        Filter::In { field, values } => {
            if values.is_empty() {
                out.push("1 = 0");
                return Ok(());
            }
            if values.len() > MAX_IN {
                return Err(Untranslatable);
            }
            if let Some(col @ (Col::Int(_) | Col::Text(_) | Col::Id(_) | Col::Bool(_))) =
                table.col(field)
            {
                // One `IN` list: an `OR` chain this long would exceed SQLite's expression
                // depth.
                let binds = values
                    .iter()
                    .map(|v| bind_for(col, v))
                    .collect::<Option<Vec<_>>>()
                    .ok_or(Untranslatable)?;
                out.push(&format!("{} IN (", col_expr(table, col)));
                for (i, b) in binds.into_iter().enumerate() {
                    if i > 0 {
                        out.push(", ");
                    }
                    out.bind(b);
                }
                out.push(")");
                return Ok(());
            }
            if values.len() > MAX_OR {
                return Err(Untranslatable);
            }
            out.push("(");
            for (i, v) in values.iter().enumerate() {
                if i > 0 {
                    out.push(" OR ");
                }
                cmp(out, table, CmpOp::Eq, field, v)?;
            }
            out.push(")");
        }
        Filter::Between { field, from, to } => {
            out.push("(");
            cmp(out, table, CmpOp::Gte, field, from)?;
            out.push(" AND ");
            cmp(out, table, CmpOp::Lt, field, to)?;
            out.push(")");
        }
        Filter::Text { op, field, value } => text_op(out, table, *op, field, value)?,
        Filter::Has(field) => {
            if let Some(name) = custom_field(field) {
                return custom_exists(out, table, name, |o| {
                    o.push("cv.value <> 'null'");
                    Ok(())
                });
            }
            match table.col(field).ok_or(Untranslatable)? {
                Col::Tags(c) => {
                    out.push(&format!("{}.{} <> '[]'", table.name, c));
                }
                Col::Expr(_) => {
                    out.push("1 = 1");
                }
                col => {
                    out.push(&format!("{} IS NOT NULL", col_expr(table, col)));
                }
            }
        }
        Filter::Id(id) => {
            out.push(&format!("{}.id = ", table.name));
            out.bind(Bind::I(
                id.strip_prefix('~').unwrap_or(id).parse().unwrap_or(-1),
            ));
        }
        Filter::Parent { .. } | Filter::Child { .. } | Filter::Type(_) => {
            return Err(Untranslatable)
        }
    }
    Ok(())
}

/// The `ORDER BY` list of a sort (the id breaks ties, so pages are stable).
pub fn order_by(table: &Table, sort: &Sort) -> Result<String, Untranslatable> {
    let mut parts = Vec::new();
    for (field, dir) in &sort.0 {
        let col = table.col(field).ok_or(Untranslatable)?;
        if matches!(col, Col::Tags(_)) {
            return Err(Untranslatable);
        }
        let d = match dir {
            Direction::Asc => "ASC",
            Direction::Desc => "DESC",
        };
        parts.push(format!("{} {d}", col_expr(table, col)));
    }
    let last = sort.0.last().map(|(_, d)| *d);
    parts.push(format!(
        "{}.id {}",
        table.name,
        if last == Some(Direction::Desc) {
            "DESC"
        } else {
            "ASC"
        }
    ));
    Ok(parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sql(pg: bool, f: Value) -> Result<Sql, Untranslatable> {
        let f = Filter::parse(&json!({ "_name": "filter", "x": f })["x"]).expect("filter");
        let mut s = Sql::new(pg);
        filter(&mut s, &ALERTS, &f)?;
        Ok(s)
    }

    #[test]
    fn translates_columns_tags_and_custom_fields() {
        let s = sql(
            true,
            json!({"_and": [
                {"_eq": {"_field": "status", "_value": "New"}},
                {"_gte": {"_field": "severity", "_value": 2}},
                {"_eq": {"_field": "tags", "_value": "phishing"}},
                {"_eq": {"_field": "customFields.reportedBy", "_value": "alice"}}
            ]}),
        )
        .expect("translatable");
        assert!(s.text.contains("alerts.status = $1"), "{}", s.text);
        assert!(s.text.contains("alerts.severity >= $2"), "{}", s.text);
        assert!(s.text.contains("strpos(alerts.tags, $3) > 0"), "{}", s.text);
        assert!(s.text.contains("cf.name = $4"), "{}", s.text);
        assert_eq!(s.binds[2], Bind::S("\"phishing\"".into()));
        let lite = sql(
            false,
            json!({"_like": {"_field": "title", "_value": "*mail*"}}),
        )
        .expect("ok");
        assert!(lite.text.starts_with("instr(alerts.title"), "{}", lite.text);
    }

    #[test]
    fn leaves_what_it_cannot_translate_to_memory() {
        assert!(sql(
            true,
            json!({"_eq": {"_field": "severityLabel", "_value": "HIGH"}})
        )
        .is_err());
        assert!(sql(true, json!({"_like": {"_field": "tags", "_value": "a*"}})).is_err());
    }

    #[test]
    fn negations_empty_lists_and_long_lists_answer_as_the_evaluator() {
        // NULL compared is false for the evaluator, so its negation holds.
        let s = sql(
            true,
            json!({"_not": {"_lt": {"_field": "closedDate", "_value": 5}}}),
        )
        .expect("ok");
        assert_eq!(s.text, "((alerts.closed_date < $1) IS NOT TRUE)");
        assert_eq!(sql(true, json!({"_or": []})).expect("ok").text, "1 = 0");
        assert_eq!(sql(true, json!({"_and": []})).expect("ok").text, "1 = 1");
        let many: Vec<String> = (0..1500).map(|i| format!("t{i}")).collect();
        let s = sql(false, json!({"_in": {"_field": "title", "_values": many}})).expect("ok");
        assert!(
            s.text.starts_with("alerts.title IN (?, ?"),
            "{}",
            &s.text[..40]
        );
        assert_eq!(s.binds.len(), 1500);
        let tags: Vec<String> = (0..1500).map(|i| format!("t{i}")).collect();
        assert!(sql(false, json!({"_in": {"_field": "tags", "_values": tags}})).is_err());
        // TheHive 4's typed path also requires the field's type.
        let s = sql(
            true,
            json!({"_eq": {"_field": "customFields.reportedBy.string", "_value": "a"}}),
        )
        .expect("ok");
        assert!(
            s.text.contains("cf.name = $1 AND cf.field_type = $2"),
            "{}",
            s.text
        );
    }
}
