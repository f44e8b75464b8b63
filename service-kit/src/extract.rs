//! Request-body extraction with TheHive's error answers: a body over the configured limit is a 413, malformed JSON a 400
//! `BadRequest`, a wrong or missing field a 400 `AttributeCheckingError` naming the field in
//! the API's own words (`tlp: expected a number 0-4`, not a deserializer's type names).
//!
//! A field the body type does not know is refused (400 naming it), so that a typo (`tpl` for
//! `tlp`) cannot create an object with defaults silently, unless it is a field of the object
//! as the API renders it ([`Input::RENDERED`], read from the OpenAPI document's schemas, which
//! the server hands over at start with [`learn_rendered`]): tools
//! that back up and restore through the API post whole objects back, with `_id`,
//! `createdAt`, `stats`... which are ignored. Free-form bodies (`serde_json::Value`) take
//! anything; their handlers check their fields themselves.

use crate::error::{ApiError, AttributeError};
use crate::http::from_actix;
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

pub use shared_models::input::Input;

/// Server-owned fields every rendered object may carry.
const META: &[&str] = &[
    "_id",
    "id",
    "_type",
    "_createdAt",
    "_createdBy",
    "_updatedAt",
    "_updatedBy",
    "createdAt",
    "createdBy",
    "updatedAt",
    "updatedBy",
    "extraData",
    "stats",
];

/// Field names of every schema of the service's OpenAPI document (following `allOf` and
/// references), and the union of all of them.
struct Rendered {
    by_schema: HashMap<String, HashSet<String>>,
    all: HashSet<String>,
}

static RENDERED: OnceLock<Rendered> = OnceLock::new();

/// What is known before [`learn_rendered`]: the server-owned fields only.
fn rendered() -> &'static Rendered {
    static NONE: OnceLock<Rendered> = OnceLock::new();
    RENDERED.get().unwrap_or_else(|| {
        NONE.get_or_init(|| Rendered {
            by_schema: HashMap::new(),
            all: META.iter().map(|s| s.to_string()).collect(),
        })
    })
}

/// Reads the fields of every schema of the service's OpenAPI document (following `allOf`
/// and references); the first call wins.
pub fn learn_rendered(doc: &serde_json::Value) {
    use serde_json::{Map, Value};
    fn fields(schemas: &Map<String, Value>, s: &Value, out: &mut HashSet<String>, depth: usize) {
        if depth > 8 {
            return;
        }
        if let Some(r) = s.get("$ref").and_then(Value::as_str) {
            let name = r.rsplit('/').next().unwrap_or_default();
            if let Some(s) = schemas.get(name) {
                fields(schemas, s, out, depth + 1);
            }
        }
        if let Some(props) = s.get("properties").and_then(Value::as_object) {
            out.extend(props.keys().cloned());
        }
        for item in s
            .get("allOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            fields(schemas, item, out, depth + 1);
        }
    }
    RENDERED.get_or_init(|| {
        let empty = Map::new();
        let schemas = doc
            .pointer("/components/schemas")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let mut by_schema = HashMap::new();
        let mut all: HashSet<String> = META.iter().map(|s| s.to_string()).collect();
        for (name, s) in schemas {
            let mut f = HashSet::new();
            fields(schemas, s, &mut f, 0);
            if name.starts_with("Output") {
                all.extend(f.iter().cloned());
            }
            by_schema.insert(name.clone(), f);
        }
        Rendered { by_schema, all }
    });
}

/// The segments of an ignored path (`observables`, `[0]`, `dta`), options unwrapped.
fn segments(path: &serde_ignored::Path<'_>, out: &mut Vec<String>) {
    use serde_ignored::Path;
    match path {
        Path::Root => {}
        Path::Seq { parent, index } => {
            segments(parent, out);
            out.push(format!("[{index}]"));
        }
        Path::Map { parent, key } => {
            segments(parent, out);
            out.push(key.clone());
        }
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => segments(parent, out),
    }
}

fn display(segs: &[String]) -> String {
    let mut s = String::new();
    for seg in segs {
        if !s.is_empty() && !seg.starts_with('[') {
            s.push('.');
        }
        s.push_str(seg);
    }
    s
}

/// What a field is expected to be, in the API's words, from its name and serde's type.
fn expected(field: &str, serde_text: &str) -> String {
    let last = field
        .rsplit(['.', '['])
        .next()
        .unwrap_or(field)
        .trim_end_matches(']');
    let by_name = match last {
        "tlp" => Some("a number 0-4"),
        "pap" => Some("a number 0-3"),
        "severity" => Some("a number 1-4"),
        "tags" => Some("a list of texts"),
        f if f == "date" || f.ends_with("Date") || f.ends_with("At") => {
            Some("a date (milliseconds since 1970)")
        }
        _ => None,
    };
    if let Some(w) = by_name {
        return w.to_string();
    }
    let exp = serde_text
        .split(", expected ")
        .nth(1)
        .unwrap_or(serde_text)
        .trim();
    let words = match exp {
        e if [
            "i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "usize", "isize", "f32", "f64",
        ]
        .contains(&e)
            || e.contains("integer")
            || e.contains("number") =>
        {
            "a number"
        }
        e if e.contains("string") || e.contains("str") => "a text",
        e if e.contains("boolean") || e == "bool" => "true or false",
        e if e.contains("sequence") || e.contains("Vec") => "a list",
        e if e.starts_with("struct") || e.contains("map") => "an object",
        e => return e.to_string(),
    };
    words.to_string()
}

/// Deserializes JSON as `T`, naming the offending field on failure, and collecting the
/// paths of the fields `T` ignored into `unknown`. An empty body reads as `{}`.
fn decode<T: DeserializeOwned>(
    bytes: &[u8],
    unknown: &mut Vec<Vec<String>>,
) -> Result<T, ApiError> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let mut note = |p: serde_ignored::Path<'_>| {
        let mut segs = Vec::new();
        segments(&p, &mut segs);
        unknown.push(segs);
    };
    let de = serde_ignored::Deserializer::new(de, &mut note);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::BadRequest(format!("Invalid JSON: {inner}"));
        }
        let text = inner.to_string();
        if let Some(field) = text
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next())
        {
            let name = if path == "." {
                field.to_string()
            } else {
                format!("{path}.{field}")
            };
            return ApiError::missing(&name);
        }
        let field = if path == "." {
            "body".to_string()
        } else {
            path
        };
        if text.starts_with("invalid type") || text.starts_with("invalid value") {
            return ApiError::attribute(&field, format!("expected {}", expected(&field, &text)));
        }
        // serde's message ends with " at line L column C"; the path says it better.
        let text = text.split(" at line ").next().unwrap_or(&text).to_string();
        ApiError::attribute(&field, text)
    })
}

/// The top-level fields ignored without a word: those of the `rendered` schemas and the
/// server-owned ones.
fn ignorable(rendered_schemas: &[&str]) -> HashSet<&'static str> {
    let r = rendered();
    rendered_schemas
        .iter()
        .filter_map(|s| r.by_schema.get(*s))
        .flatten()
        .map(String::as_str)
        .chain(META.iter().copied())
        .collect()
}

/// Parses JSON as `T`, naming the offending field on failure; unknown fields are refused
/// unless rendered (see the module documentation) or `T` is [`Input::OPEN`]. An empty body
/// reads as `{}`.
pub fn parse_input<T: Input>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut unknown: Vec<Vec<String>> = Vec::new();
    let value = decode(bytes, &mut unknown)?;
    if T::OPEN {
        return Ok(value);
    }
    let own = ignorable(T::RENDERED);
    let all = &rendered().all;
    let refused: Vec<Vec<String>> = unknown
        .into_iter()
        .filter(|segs| match segs.as_slice() {
            [] => false,
            [top] => !own.contains(top.as_str()),
            [.., last] => !last.starts_with('[') && !all.contains(last),
        })
        .collect();
    unknown_error(&refused)?;
    Ok(value)
}

/// 400 naming the top-level `fields` that are neither fields of the `rendered` schemas nor
/// server-owned ones (for bodies read field by field).
pub fn refuse_unknown<'a>(
    fields: impl IntoIterator<Item = &'a str>,
    rendered_schemas: &[&str],
) -> Result<(), ApiError> {
    let own = ignorable(rendered_schemas);
    let refused: Vec<Vec<String>> = fields
        .into_iter()
        .filter(|f| !own.contains(f))
        .map(|f| vec![f.to_string()])
        .collect();
    unknown_error(&refused)
}

fn unknown_error(refused: &[Vec<String>]) -> Result<(), ApiError> {
    if refused.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = refused.iter().map(|s| display(s)).collect();
    let errors: Vec<AttributeError> = names
        .iter()
        .map(|name| AttributeError {
            name: name.clone(),
            kind: "UnknownAttributeError".into(),
            message: format!("{name}: unknown field"),
        })
        .collect();
    Err(ApiError::Attribute {
        message: format!(
            "{}: unknown field{}",
            names.join(", "),
            if names.len() > 1 { "s" } else { "" }
        ),
        errors,
    })
}

/// Parses JSON as `T`, taking fields it does not know (payloads that are not an API
/// object's input: v0 bodies reshaped by their handlers, stored documents).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    decode(bytes, &mut Vec::new())
}

/// A JSON request body of type `T`.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: Input + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let bytes = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            let bytes = bytes.await.map_err(from_actix)?;
            parse_input(&bytes).map(JsonBody)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Input1 {
        login: String,
        tlp: u8,
        #[serde(default)]
        items: Vec<Item>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Item {
        name: String,
    }

    impl Input for Input1 {}

    #[test]
    fn errors_name_the_field_in_the_apis_words() {
        let e = parse_input::<Input1>(br#"{"login": "a", "tlp": "x"}"#).expect_err("bad type");
        assert!(
            matches!(&e, ApiError::Attribute { errors, message } if errors[0].name == "tlp" && message == "tlp: expected a number 0-4"),
            "{e:?}"
        );
        let e = parse_input::<Input1>(br#"{"tlp": 1}"#).expect_err("missing");
        assert!(
            matches!(&e, ApiError::Attribute { errors, .. } if errors[0].name == "login"),
            "{e:?}"
        );
        let e = parse_input::<Input1>(b"{nope").expect_err("syntax");
        assert!(matches!(e, ApiError::BadRequest(_)));
    }

    #[test]
    fn unknown_fields_are_refused_but_meta_ones_ignored() {
        let e = parse_input::<Input1>(br#"{"login": "a", "tlp": 1, "tpl": 2}"#).expect_err("typo");
        assert!(
            matches!(&e, ApiError::Attribute { errors, .. } if errors[0].name == "tpl"),
            "{e:?}"
        );
        let e = parse_input::<Input1>(
            br#"{"login": "a", "tlp": 1, "items": [{"name": "x", "nmae": 1}]}"#,
        )
        .expect_err("nested typo");
        assert!(
            matches!(&e, ApiError::Attribute { errors, .. } if errors[0].name == "items[0].nmae"),
            "{e:?}"
        );
        parse_input::<Input1>(br#"{"login": "a", "tlp": 1, "_id": "~1", "createdAt": 1}"#)
            .expect("server-owned fields are ignored");
        parse_json::<Input1>(br#"{"login": "a", "tlp": 1, "anything": true}"#)
            .expect("lenient parsing takes extras");
    }
}
