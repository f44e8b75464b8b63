//! Custom field definitions: platform administrators define them, everyone reads them.

use super::{check_name, check_text, not_found};
use crate::auth::{Caller, ADMIN_ORG};
use crate::db::models::CustomFieldRow;
use crate::db::schema::custom_fields;
use crate::db::{duplicate_as, format_id, next_id, now_ms, parse_id, Db, DbConn};
use actix_web::{delete, get, patch, post, web, HttpResponse};
use diesel::prelude::*;
use serde::Deserialize;
use serde_json::{Map, Value};
use service_kit::error::ApiError;
use service_kit::extract::JsonBody;
use shared_models::hive::{
    CustomFieldType, InputCustomField, InputUpdateCustomField, OutputCustomField,
};

/// Renders a custom field definition.
pub fn render(f: &CustomFieldRow) -> OutputCustomField {
    OutputCustomField {
        id: format_id(f.id),
        kind: "CustomField".into(),
        created_by: f.created_by.clone(),
        created_at: f.created_at,
        updated_by: f.updated_by.clone(),
        updated_at: f.updated_at,
        name: f.name.clone(),
        display_name: f.display_name.clone(),
        group: f.group_name.clone(),
        description: f.description.clone(),
        field_type: CustomFieldType::parse(&f.field_type).unwrap_or(CustomFieldType::String),
        options: serde_json::from_str(&f.options).unwrap_or_default(),
        mandatory: f.mandatory,
        extra_data: Map::new(),
    }
}

/// Finds a definition by `~id` or name.
pub fn find(c: &mut DbConn, key: &str) -> QueryResult<Option<CustomFieldRow>> {
    let q = custom_fields::table.select(CustomFieldRow::as_select());
    match parse_id(key) {
        Some(id) => q.find(id).first(c).optional(),
        None => q.filter(custom_fields::name.eq(key)).first(c).optional(),
    }
}

/// All definitions, oldest first.
pub fn all(c: &mut DbConn) -> QueryResult<Vec<CustomFieldRow>> {
    custom_fields::table
        .select(CustomFieldRow::as_select())
        .order(custom_fields::id.asc())
        .load(c)
}

fn require_admin(caller: &Caller) -> Result<(), ApiError> {
    if caller.is_platform_admin("manageCustomField") {
        Ok(())
    } else {
        Err(ApiError::Authorization(format!(
            "User {} cannot manage custom fields (needs manageCustomField in {ADMIN_ORG})",
            caller.login()
        )))
    }
}

fn check_options(field_type: CustomFieldType, options: &[Value]) -> Result<String, ApiError> {
    if options.len() > 1000 {
        return Err(ApiError::attribute("options", "at most 1000 values"));
    }
    if let Some(bad) = options.iter().find(|o| !field_type.accepts(o)) {
        return Err(ApiError::attribute(
            "options",
            format!("{bad} is not a {} value", field_type.as_str()),
        ));
    }
    serde_json::to_string(options).map_err(ApiError::internal)
}

fn optional_text(name: &str, v: Option<&str>, max: usize) -> Result<String, ApiError> {
    match v.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => check_text(name, s, max),
        None => Ok(String::new()),
    }
}

/// All custom field definitions.
#[utoipa::path(tag = "custom field", responses((status = 200, body = Vec<OutputCustomField>)))]
#[get("/api/v1/customField")]
pub async fn list(db: web::Data<Db>, _caller: Caller) -> Result<HttpResponse, ApiError> {
    let rows = db.read(|c| Ok(all(c)?)).await?;
    Ok(HttpResponse::Ok().json(rows.iter().map(render).collect::<Vec<_>>()))
}

/// Checks and stores a custom field definition (platform administrators only).
pub async fn insert(
    db: &Db,
    caller: &Caller,
    input: InputCustomField,
) -> Result<CustomFieldRow, ApiError> {
    require_admin(caller)?;
    let name = check_name("name", &input.name, 64)?;
    if name.contains('.') || name.chars().any(char::is_whitespace) {
        return Err(ApiError::attribute(
            "name",
            "must not contain dots or spaces",
        ));
    }
    let row = CustomFieldRow {
        id: next_id(),
        display_name: match input
            .display_name
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            Some(d) => check_text("displayName", d, 128)?,
            None => name.clone(),
        },
        name,
        group_name: optional_text("group", input.group.as_deref(), 128)?,
        description: optional_text("description", input.description.as_deref(), 1024)?,
        field_type: input.field_type.as_str().into(),
        options: check_options(input.field_type, &input.options)?,
        mandatory: input.mandatory,
        created_by: caller.login().into(),
        created_at: now_ms(),
        updated_by: None,
        updated_at: None,
    };
    let saved = row.clone();
    db.write(move |c| {
        diesel::insert_into(custom_fields::table)
            .values(&row)
            .execute(c)
            .map_err(|e| {
                duplicate_as(e, || {
                    ApiError::Create(format!("Custom field {} already exists", row.name))
                })
            })
    })
    .await?;
    Ok(saved)
}

/// Defines a custom field.
#[utoipa::path(tag = "custom field", request_body = InputCustomField, responses((status = 201, body = OutputCustomField), (status = 400), (status = 403)))]
#[post("/api/v1/customField")]
pub async fn create(
    db: web::Data<Db>,
    caller: Caller,
    body: JsonBody<InputCustomField>,
) -> Result<HttpResponse, ApiError> {
    let saved = insert(&db, &caller, body.0).await?;
    Ok(HttpResponse::Created().json(render(&saved)))
}

/// One custom field definition, by `~id` or name.
#[utoipa::path(tag = "custom field", responses((status = 200, body = OutputCustomField), (status = 404)))]
#[get("/api/v1/customField/{id}")]
pub async fn get(
    db: web::Data<Db>,
    _caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let key = id.into_inner();
    let f = db
        .read(move |c| find(c, &key)?.ok_or_else(|| not_found("CustomField", &key)))
        .await?;
    Ok(HttpResponse::Ok().json(render(&f)))
}

/// Updates a custom field definition.
#[utoipa::path(tag = "custom field", request_body = InputUpdateCustomField, responses((status = 204), (status = 400), (status = 403), (status = 404)))]
#[patch("/api/v1/customField/{id}")]
pub async fn update(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<InputUpdateCustomField>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&caller)?;
    let input = body.0;
    let display = input
        .display_name
        .as_deref()
        .map(|d| check_text("displayName", d, 128))
        .transpose()?;
    let group = input
        .group
        .as_deref()
        .map(|g| optional_text("group", Some(g), 128))
        .transpose()?;
    let description = input
        .description
        .as_deref()
        .map(|d| optional_text("description", Some(d), 1024))
        .transpose()?;
    let key = id.into_inner();
    db.write(move |c| {
        let f = find(c, &key)?.ok_or_else(|| not_found("CustomField", &key))?;
        let field_type = input
            .field_type
            .or_else(|| CustomFieldType::parse(&f.field_type))
            .unwrap_or(CustomFieldType::String);
        let current: Vec<Value> = serde_json::from_str(&f.options).unwrap_or_default();
        let options = check_options(field_type, input.options.as_deref().unwrap_or(&current))?;
        let target = custom_fields::table.find(f.id);
        diesel::update(target)
            .set((
                custom_fields::field_type.eq(field_type.as_str()),
                custom_fields::options.eq(options),
                custom_fields::mandatory.eq(input.mandatory.unwrap_or(f.mandatory)),
                custom_fields::display_name.eq(display.unwrap_or(f.display_name)),
                custom_fields::group_name.eq(group.unwrap_or(f.group_name)),
                custom_fields::description.eq(description.unwrap_or(f.description)),
                custom_fields::updated_by.eq(caller.login()),
                custom_fields::updated_at.eq(now_ms()),
            ))
            .execute(c)?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Query of `DELETE /customField/{id}`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct DeleteParams {
    /// Also remove the values that use the field (`True`/`False`).
    pub force: Option<String>,
}

/// Deletes a custom field definition.
#[utoipa::path(tag = "custom field", params(DeleteParams), responses((status = 204), (status = 403), (status = 404)))]
#[delete("/api/v1/customField/{id}")]
pub async fn remove(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
    _params: web::Query<DeleteParams>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&caller)?;
    let key = id.into_inner();
    db.write(move |c| {
        let f = find(c, &key)?.ok_or_else(|| not_found("CustomField", &key))?;
        diesel::delete(
            crate::db::schema::custom_values::table
                .filter(crate::db::schema::custom_values::field_id.eq(f.id)),
        )
        .execute(c)?;
        diesel::delete(custom_fields::table.find(f.id)).execute(c)?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
