//! The last pass over a service's OpenAPI document, so that client generators and
//! orchestration tools read it as it is meant: one unique, meaningful `operationId` per
//! operation (`similarCases`, `removeCase`, `legacySearchAlert`...), the security
//! requirement of every authenticated operation (and its 401), the headers a service reads
//! ([`DocPolicy::headers`], `X-Organisation` on hive-service), the multipart bodies of the
//! upload operations ([`Upload`]), TheHive's error body on every error answer, a schema for
//! every answer and no empty description.

use serde_json::{json, Map, Value};
use std::collections::HashSet;

/// An operation that takes a multipart body: `_json` (the JSON body as text) and files.
#[derive(Debug, Clone, Copy)]
pub struct Upload {
    /// `post`, `put`...
    pub method: &'static str,
    /// The path as the document names it (`/api/v1/case/{id}/observable`).
    pub path: &'static str,
    /// The part the file goes in (others are accepted too).
    pub file_field: &'static str,
}

/// A request header some operations read.
#[derive(Debug, Clone, Copy)]
pub struct HeaderParam {
    /// Its name.
    pub name: &'static str,
    /// What it does.
    pub description: &'static str,
}

/// What a service says of its document.
#[derive(Debug, Clone, Copy)]
pub struct DocPolicy {
    /// Paths answered without a credential.
    pub public: &'static [&'static str],
    /// Paths whose operations are TheHive 4's legacy API (`/api/...` beside `/api/v1/...`):
    /// their ids start with `legacy`. `None`: the service has one API.
    pub legacy: Option<fn(&str) -> bool>,
    /// Headers every authenticated operation reads.
    pub headers: &'static [HeaderParam],
    /// The operations taking multipart bodies.
    pub uploads: &'static [Upload],
    /// The session cookie set by the login operation.
    pub session_cookie: &'static str,
}

const METHODS: &[&str] = &["get", "post", "put", "patch", "delete"];

/// The frame of a service's document: title, description, licence, TheHive's error body
/// and the security schemes (Bearer, Basic; the session cookie is added by [`polish`]).
pub fn frame(title: &str, description: &str) -> utoipa::openapi::OpenApi {
    use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
    use utoipa::openapi::{ComponentsBuilder, InfoBuilder, LicenseBuilder, OpenApiBuilder};
    use utoipa::{PartialSchema, ToSchema};
    let mut referenced = Vec::new();
    shared_models::ErrorBody::schemas(&mut referenced);
    let components = ComponentsBuilder::new()
        .schema("ErrorBody", shared_models::ErrorBody::schema())
        .schemas_from_iter(referenced)
        .security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        )
        .security_scheme(
            "basic",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).build()),
        )
        .build();
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title(title)
                .description(Some(description))
                .license(Some(LicenseBuilder::new().name("AGPL-3.0-only").build()))
                .build(),
        )
        .components(Some(components))
        .build()
}

/// Applies the policy to a document (its JSON form).
pub fn polish(doc: &mut Value, policy: &DocPolicy) {
    if let Some(schemes) = doc
        .as_object_mut()
        .map(|d| d.entry("components").or_insert_with(|| json!({})))
        .and_then(Value::as_object_mut)
        .map(|c| c.entry("securitySchemes").or_insert_with(|| json!({})))
        .and_then(Value::as_object_mut)
    {
        schemes.insert(
            "session".into(),
            json!({"type": "apiKey", "in": "cookie", "name": policy.session_cookie,
                   "description": "The session cookie the login operation sets"}),
        );
    }
    let mut taken = HashSet::new();
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    let mut handlers: std::collections::HashMap<String, usize> = Default::default();
    for item in paths.values() {
        for method in METHODS {
            if let Some(id) = item.get(*method).and_then(|o| o["operationId"].as_str()) {
                *handlers.entry(id.to_string()).or_default() += 1;
            }
        }
    }
    // Sorted, so that the ids do not depend on the order of registration.
    let mut keys: Vec<String> = paths.keys().cloned().collect();
    keys.sort();
    for path in keys {
        let Some(item) = paths.get_mut(&path).and_then(Value::as_object_mut) else {
            continue;
        };
        for method in METHODS {
            let Some(op) = item.get_mut(*method).and_then(Value::as_object_mut) else {
                continue;
            };
            let legacy = policy.legacy.is_some_and(|f| f(&path));
            let handler = op
                .get("operationId")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let shared = handlers.get(&handler).copied().unwrap_or(0) > 1;
            let id = unique_id(&handler, method, &path, shared, legacy, &mut taken);
            op.insert("operationId".into(), Value::String(id));
            let public = policy.public.contains(&path.as_str());
            if !public {
                op.insert(
                    "security".into(),
                    json!([{"bearer": []}, {"basic": []}, {"session": []}]),
                );
                add_headers(op, policy.headers);
            }
            if let Some(u) = policy
                .uploads
                .iter()
                .find(|u| u.method == *method && u.path == path)
            {
                add_multipart(op, u.file_field);
            }
            complete_responses(op, &path, public);
        }
    }
}

/// An operation's id: its handler's name when no other handler has it (`similarCases`,
/// `run`, `waitReport`), else the name qualified by the path's words (`removeCase`,
/// `getJob`, `listOrganization`), then by its parameters; `legacy...` on the legacy API.
fn unique_id(
    handler: &str,
    method: &str,
    path: &str,
    shared: bool,
    legacy: bool,
    taken: &mut HashSet<String>,
) -> String {
    let segments: Vec<&str> = path
        .split('/')
        .filter(|s| !s.is_empty() && *s != "api" && *s != "v1" && *s != "api{v}")
        .collect();
    let base = if handler.is_empty() {
        method.to_string()
    } else {
        camel(handler)
    };
    let base_words = pascal(&base);
    let words = |with_params: bool| -> String {
        let mut out = String::new();
        for s in &segments {
            if let Some(name) = s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                if with_params {
                    out.push_str("By");
                    out.push_str(&pascal(name));
                }
            } else {
                let w = pascal(s);
                // `search` on `.../_search`, `bulkUpdate` on `.../_bulk`: said once.
                if !base_words.to_lowercase().contains(&w.to_lowercase()) {
                    out.push_str(&w);
                }
            }
        }
        out
    };
    let finish = |id: String| -> String {
        if legacy {
            format!("legacy{}", pascal(&id))
        } else {
            id
        }
    };
    let mut candidates = Vec::new();
    if !shared {
        candidates.push(finish(base.clone()));
    }
    candidates.push(finish(format!("{base}{}", words(false))));
    candidates.push(finish(format!("{base}{}", words(true))));
    for c in &candidates {
        if taken.insert(c.clone()) {
            return c.clone();
        }
    }
    let last = candidates.pop().unwrap_or(base);
    let mut n = 2;
    loop {
        let c = format!("{last}{n}");
        if taken.insert(c.clone()) {
            return c;
        }
        n += 1;
    }
}

/// `wait_report` → `waitReport`.
fn camel(s: &str) -> String {
    let p = pascal(s);
    let mut chars = p.chars();
    match chars.next() {
        Some(f) => f.to_ascii_lowercase().to_string() + chars.as_str(),
        None => p,
    }
}

/// `case_template`, `_search`, `markAsRead`, `analyzer|responder` → `CaseTemplate`, `Search`,
/// `MarkAsRead`, `AnalyzerOrResponder`.
fn pascal(s: &str) -> String {
    let s = s.split(':').next().unwrap_or(s);
    let mut out = String::new();
    let mut up = true;
    for c in s.chars() {
        if c == '|' {
            out.push_str("Or");
            up = true;
        } else if !c.is_ascii_alphanumeric() {
            up = true;
        } else if up {
            out.push(c.to_ascii_uppercase());
            up = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn add_headers(op: &mut Map<String, Value>, headers: &[HeaderParam]) {
    if headers.is_empty() {
        return;
    }
    let params = op
        .entry("parameters")
        .or_insert_with(|| Value::Array(Vec::new()));
    let Some(list) = params.as_array_mut() else {
        return;
    };
    for h in headers {
        let present = list.iter().any(|p| {
            p["name"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(h.name))
        });
        if !present {
            list.push(json!({
                "name": h.name,
                "in": "header",
                "required": false,
                "description": h.description,
                "schema": {"type": "string"}
            }));
        }
    }
}

fn add_multipart(op: &mut Map<String, Value>, file_field: &str) {
    let body = op
        .entry("requestBody")
        .or_insert_with(|| json!({"content": {}}));
    let Some(body) = body.as_object_mut() else {
        return;
    };
    let content = body
        .entry("content")
        .or_insert_with(|| Value::Object(Map::new()));
    let Some(content) = content.as_object_mut() else {
        return;
    };
    let json_schema = content
        .get("application/json")
        .and_then(|c| c.get("schema"))
        .cloned();
    let mut described = "The JSON body, as text".to_string();
    if let Some(r) = json_schema
        .as_ref()
        .and_then(|s| s.get("$ref"))
        .and_then(Value::as_str)
    {
        described.push_str(&format!(
            " (a {})",
            r.rsplit('/').next().unwrap_or_default()
        ));
    }
    content.insert(
        "multipart/form-data".into(),
        json!({
            "schema": {
                "type": "object",
                "properties": {
                    "_json": {"type": "string", "description": described},
                    file_field: {"type": "string", "format": "binary", "description": "The file"}
                },
                "additionalProperties": {"type": "string", "format": "binary"}
            }
        }),
    );
}

fn reason(code: &str) -> &'static str {
    match code {
        "200" => "OK",
        "201" => "Created",
        "204" => "Done; no content",
        "400" => "Bad request: the error body says which field and why",
        "401" => "No valid credential",
        "402" => "A second-factor code is needed",
        "403" => "Not allowed for this caller",
        "404" => "No such object (or not visible to the caller)",
        "409" => "Conflicts with the current state",
        "413" => "Too large",
        "429" => "Too many requests; retry later",
        "503" => "A backing service is unavailable",
        _ => "Answer",
    }
}

fn complete_responses(op: &mut Map<String, Value>, path: &str, public: bool) {
    let responses = op
        .entry("responses")
        .or_insert_with(|| Value::Object(Map::new()));
    let Some(responses) = responses.as_object_mut() else {
        return;
    };
    if !public && !responses.contains_key("401") {
        responses.insert("401".into(), json!({"description": reason("401")}));
    }
    if responses.is_empty() {
        responses.insert("200".into(), json!({"description": reason("200")}));
    }
    let download = path.contains("download") || path.contains("datastore");
    for (code, r) in responses.iter_mut() {
        let Some(r) = r.as_object_mut() else {
            continue;
        };
        let empty = r
            .get("description")
            .and_then(Value::as_str)
            .is_none_or(|d| d.trim().is_empty());
        if empty {
            r.insert("description".into(), Value::String(reason(code).into()));
        }
        if r.contains_key("content") || code == "204" {
            continue;
        }
        let content = if code.starts_with('4') || code.starts_with('5') {
            json!({"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}})
        } else if download {
            json!({"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}})
        } else {
            // A JSON answer whose shape the API leaves open (TheHive 4's legacy objects).
            json!({"application/json": {"schema": {}}})
        };
        r.insert("content".into(), content);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_read_as_what_the_operation_does() {
        let mut taken = HashSet::new();
        let mut id = |h, m, p, shared, legacy| unique_id(h, m, p, shared, legacy, &mut taken);
        assert_eq!(
            id(
                "wait_report",
                "get",
                "/api/job/{id}/waitreport",
                false,
                false
            ),
            "waitReport"
        );
        assert_eq!(
            id("remove", "delete", "/api/v1/case/{id}", true, false),
            "removeCase"
        );
        assert_eq!(
            id("remove", "delete", "/api/v1/case/{id}/shares", true, false),
            "removeCaseShares"
        );
        assert_eq!(
            id("search", "post", "/api/job/_search", true, false),
            "searchJob"
        );
        assert_eq!(
            id("create", "post", "/api/case", true, true),
            "legacyCreateCase"
        );
        assert_eq!(
            id("remove", "delete", "/api/v1/case/{id}", true, false),
            "removeCaseById"
        );
        assert_eq!(
            id("remove", "delete", "/api/v1/case/{id}", true, false),
            "removeCaseById2"
        );
    }

    #[test]
    fn the_policy_adds_security_headers_multipart_and_error_bodies() {
        let mut doc = json!({"paths": {
            "/api/v1/login": {"post": {"operationId": "login", "responses": {"200": {"description": ""}}}},
            "/api/v1/alert": {"post": {"operationId": "create", "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/InputAlert"}}}}, "responses": {"201": {"description": "the alert"}, "400": {"description": ""}}}}
        }});
        polish(
            &mut doc,
            &DocPolicy {
                public: &["/api/v1/login"],
                legacy: None,
                headers: &[HeaderParam {
                    name: "X-Organisation",
                    description: "acts in this organisation",
                }],
                uploads: &[Upload {
                    method: "post",
                    path: "/api/v1/alert",
                    file_field: "attachment",
                }],
                session_cookie: "THEHIVE-SESSION",
            },
        );
        let login = &doc["paths"]["/api/v1/login"]["post"];
        assert!(login.get("security").is_none());
        assert_eq!(login["responses"]["200"]["description"], "OK");
        let create = &doc["paths"]["/api/v1/alert"]["post"];
        assert_eq!(
            create["operationId"], "create",
            "a handler name no other has"
        );
        assert_eq!(create["security"][0], json!({"bearer": []}));
        assert_eq!(create["parameters"][0]["name"], "X-Organisation");
        assert_eq!(
            create["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"]
                ["attachment"]["format"],
            "binary"
        );
        assert_eq!(
            create["responses"]["400"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ErrorBody"
        );
        assert!(create["responses"]["401"].is_object());
        assert!(create["responses"]["201"]["content"]["application/json"].is_object());
    }
}
