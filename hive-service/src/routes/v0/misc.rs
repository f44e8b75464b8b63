//! v0 downloads (`/api/datastore`, `/api/datastorezip`) and TheHive 3's custom field list
//! (`/api/list/custom_fields`), which thehive4py 1.x still calls.

use crate::auth::Caller;
use crate::casework::collab::downloadable;
use crate::db::Db;
use crate::ServiceState;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde_json::{json, Value};
use service_kit::error::ApiError;
use service_kit::extract::JsonBody;
use shared_models::hive::InputCustomField;

/// The field name TheHive 3's `reference` stands for: thehive4py 1.x sends the display
/// name there ("Business unit"), which becomes `businessUnit`.
fn field_name(reference: &str) -> String {
    let mut out = String::new();
    for (i, word) in reference
        .split(|c: char| c.is_whitespace() || c == '.' || c == '-' || c == '_')
        .filter(|w| !w.is_empty())
        .enumerate()
    {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            if i == 0 {
                out.extend(first.to_lowercase());
            } else {
                out.extend(first.to_uppercase());
            }
            out.push_str(chars.as_str());
        }
    }
    out
}

fn name_param(req: &HttpRequest) -> Option<String> {
    web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .ok()?
        .into_inner()
        .into_iter()
        .find(|(k, v)| k == "name" && !v.trim().is_empty())
        .map(|(_, v)| service_kit::body::base_name(&v))
}

async fn download(
    db: web::Data<Db>,
    state: web::Data<ServiceState>,
    caller: Caller,
    req: HttpRequest,
    id: String,
    as_zip: bool,
) -> Result<HttpResponse, ApiError> {
    let who = crate::casework::Actor::of(&caller);
    let a = db.read(move |c| downloadable(c, &who, &id)).await?;
    let name = name_param(&req).unwrap_or_else(|| a.name.clone());
    service_kit::datastore::send_file(
        &state.uploads.datastore,
        &a.sha256,
        &name,
        &a.content_type,
        as_zip,
    )
    .await
}

/// Downloads a file of the organisation by its id (the content hash v0 objects show in
/// `attachment.id`); `name` names the download.
#[utoipa::path(tag = "legacy", responses((status = 200, description = "the file"), (status = 404)))]
#[get("/api/datastore/{id}")]
pub async fn datastore(
    db: web::Data<Db>,
    state: web::Data<ServiceState>,
    caller: Caller,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    download(db, state, caller, req, id.into_inner(), false).await
}

/// Downloads a file zipped with the password `malware`.
#[utoipa::path(tag = "legacy", responses((status = 200, description = "a zip (ZipCrypto, password `malware`)"), (status = 404)))]
#[get("/api/datastorezip/{id}")]
pub async fn datastore_zip(
    db: web::Data<Db>,
    state: web::Data<ServiceState>,
    caller: Caller,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    download(db, state, caller, req, id.into_inner(), true).await
}

/// TheHive 3's existence check of a custom field: `{"key": "reference", "value": name}`
/// answers `{"found": bool}`.
#[utoipa::path(tag = "legacy", request_body = Object, responses((status = 200, description = "`{found}`"), (status = 400)))]
#[post("/api/list/custom_fields/_exists")]
pub async fn custom_field_exists(
    db: web::Data<Db>,
    _caller: Caller,
    body: JsonBody<Value>,
) -> Result<HttpResponse, ApiError> {
    let name = body
        .0
        .get("value")
        .and_then(Value::as_str)
        .map(field_name)
        .ok_or_else(|| ApiError::missing("value"))?;
    let found = db
        .read(move |c| Ok(crate::casework::fields::find(c, &name)?.is_some()))
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "found": found })))
}

/// TheHive 3's custom field creation: `{"value": {name, reference, description, type,
/// options, mandatory}}`; `reference` is the field's name, `name` its display name, and
/// TheHive 3's `number` is an integer field.
#[utoipa::path(tag = "legacy", request_body = Object, responses((status = 201, description = "the custom field"), (status = 400), (status = 403)))]
#[post("/api/list/custom_fields")]
pub async fn create_custom_field(
    db: web::Data<Db>,
    caller: Caller,
    body: JsonBody<Value>,
) -> Result<HttpResponse, ApiError> {
    let v = body
        .0
        .get("value")
        .cloned()
        .ok_or_else(|| ApiError::missing("value"))?;
    let field = |k: &str| v.get(k).cloned().unwrap_or(Value::Null);
    let kind = match field("type").as_str() {
        Some("number") => "integer".to_string(),
        Some(t) => t.to_string(),
        None => return Err(ApiError::missing("value.type")),
    };
    let reference = field("reference");
    let name = field_name(
        reference
            .as_str()
            .ok_or_else(|| ApiError::missing("value.reference"))?,
    );
    let input: InputCustomField = serde_json::from_value(json!({
        "name": name,
        "displayName": field("name"),
        "description": field("description"),
        "type": kind,
        "mandatory": field("mandatory").as_bool().unwrap_or(false),
        "options": field("options").as_array().cloned().unwrap_or_default(),
    }))
    .map_err(|e| ApiError::BadRequest(format!("invalid custom field: {e}")))?;
    let saved = crate::casework::fields::insert(&db, &caller, input).await?;
    Ok(HttpResponse::Created().json(crate::render::render_custom_field(&saved)))
}

#[cfg(test)]
mod tests {
    use super::field_name;

    #[test]
    fn references_become_field_names() {
        assert_eq!(field_name("Business unit"), "businessUnit");
        assert_eq!(field_name("reportedBy"), "reportedBy");
        assert_eq!(field_name("incident.type-code"), "incidentTypeCode");
    }
}

/// The current user in TheHive's legacy (v0) shape.
#[utoipa::path(tag = "user", responses((status = 200, description = "v0 user")))]
#[get("/api/user/current")]
pub async fn current_user_v0(caller: Caller) -> Result<HttpResponse, ApiError> {
    let u = &caller.user;
    let mut roles = vec!["read"];
    if [
        "manageCase",
        "manageAlert",
        "manageObservable",
        "manageTask",
    ]
    .iter()
    .any(|p| caller.has(p))
    {
        roles.push("write");
    }
    if caller.has("manageUser") || caller.has("manageOrganisation") {
        roles.push("admin");
    }
    let mut body = json!({
        "id": u.login, "_id": crate::db::format_id(u.id), "_type": "user",
        "login": u.login, "name": u.name, "roles": roles,
        "status": if u.locked { "Locked" } else { "Ok" },
        "organisation": caller.organisation.name, "profile": caller.profile.name,
        "permissions": caller.permissions,
        "hasKey": u.api_key_hash.is_some(), "hasPassword": u.password_hash.is_some(),
        "createdBy": u.created_by, "createdAt": u.created_at,
    });
    if let (Some(by), Some(at)) = (&u.updated_by, u.updated_at) {
        body["updatedBy"] = json!(by);
        body["updatedAt"] = json!(at);
    }
    Ok(HttpResponse::Ok().json(body))
}
