//! Custom field definitions: platform administrators define them, everyone reads them.

use crate::audit::{Action, ObjectType};
use crate::auth::Caller;
use crate::casework::fields::{all, check_options, find, insert, optional_text, require_admin};
use crate::db::schema::custom_fields;
use crate::db::{now_ms, Db};
use crate::render::render_custom_field as render;
use crate::routes::audit_admin;
use crate::routes::{check_text, not_found};
use actix_web::{delete, get, patch, post, web, HttpResponse};
use diesel::prelude::*;
use serde::Deserialize;
use serde_json::json;
use serde_json::Value;
use service_kit::error::ApiError;
use service_kit::extract::JsonBody;
use shared_models::hive::{
    CustomFieldType, InputCustomField, InputUpdateCustomField, OutputCustomField,
};

/// All custom field definitions.
#[utoipa::path(tag = "custom field", responses((status = 200, body = Vec<OutputCustomField>)))]
#[get("/api/v1/customField")]
pub async fn list(db: web::Data<Db>, _caller: Caller) -> Result<HttpResponse, ApiError> {
    let rows = db.read(|c| Ok(all(c)?)).await?;
    Ok(HttpResponse::Ok().json(rows.iter().map(render).collect::<Vec<_>>()))
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
        audit_admin(
            &caller,
            Action::Update,
            ObjectType::CustomField,
            f.id,
            json!({"type": input.field_type.map(|t| t.as_str()), "options": input.options,
                   "mandatory": input.mandatory, "displayName": display,
                   "group": group, "description": description}),
        );
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
        audit_admin(
            &caller,
            Action::Delete,
            ObjectType::CustomField,
            f.id,
            json!({"name": f.name}),
        );
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
