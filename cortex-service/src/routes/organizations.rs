//! Organizations: superadmins manage them; an orgadmin sees its own.

use super::{
    check_name, list_response, render_organization, stats_response, to_value, ListParams,
    SearchBody, StatsBody,
};
use crate::auth::{Caller, ADMIN_ORG};
use crate::db::schema::organizations;
use crate::db::{duplicate_as, now_ms, Db, OrganizationRow};
use actix_web::{delete, get, patch, post, web, HttpResponse};
use diesel::prelude::*;
use serde_json::Value;
use service_kit::error::ApiError;
use service_kit::extract::JsonBody;
use shared_models::cortex::{
    InputOrganization, InputUpdateOrganization, OrganizationStatus, OutputOrganization, Role,
};

async fn all(db: &Db) -> Result<Vec<Value>, ApiError> {
    let rows: Vec<OrganizationRow> = db
        .read(|c| {
            Ok(organizations::table
                .select(OrganizationRow::as_select())
                .load(c)?)
        })
        .await?;
    rows.iter()
        .map(|o| to_value(&render_organization(o)))
        .collect()
}

fn status_str(s: OrganizationStatus) -> &'static str {
    match s {
        OrganizationStatus::Active => "Active",
        OrganizationStatus::Locked => "Locked",
    }
}

/// All organizations (superadmin).
#[utoipa::path(tag = "organization", params(ListParams), responses((status = 200, body = Vec<OutputOrganization>)))]
#[get("/api/organization")]
pub async fn list(
    db: web::Data<Db>,
    caller: Caller,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require_any(&[Role::Superadmin])?;
    list_response(all(&db).await?, &Value::Null, &params, None)
}

/// Searches organizations (superadmin).
#[utoipa::path(tag = "organization", params(ListParams), request_body = SearchBody, responses((status = 200, body = Vec<OutputOrganization>)))]
#[post("/api/organization/_search")]
pub async fn search(
    db: web::Data<Db>,
    caller: Caller,
    params: web::Query<ListParams>,
    body: JsonBody<SearchBody>,
) -> Result<HttpResponse, ApiError> {
    caller.require_any(&[Role::Superadmin])?;
    list_response(all(&db).await?, &body.0.query, &params, Some(&body.0))
}

/// Counts organizations (superadmin).
#[utoipa::path(tag = "organization", request_body = StatsBody, responses((status = 200)))]
#[post("/api/organization/_stats")]
pub async fn stats(
    db: web::Data<Db>,
    caller: Caller,
    body: JsonBody<StatsBody>,
) -> Result<HttpResponse, ApiError> {
    caller.require_any(&[Role::Superadmin])?;
    stats_response(all(&db).await?, &body.0)
}

/// One organization (superadmin, or a member).
#[utoipa::path(tag = "organization", responses((status = 200, body = OutputOrganization), (status = 404)))]
#[get("/api/organization/{id}")]
pub async fn get(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    if !caller.has(Role::Superadmin) && caller.organization.id != id {
        return Err(ApiError::NotFound(format!("organization {id} not found")));
    }
    let key = id.clone();
    let org = db
        .read(move |c| {
            Ok(organizations::table
                .find(key)
                .select(OrganizationRow::as_select())
                .first(c)
                .optional()?)
        })
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("organization {id} not found")))?;
    Ok(HttpResponse::Ok().json(render_organization(&org)))
}

/// Creates an organization (superadmin).
#[utoipa::path(tag = "organization", request_body = InputOrganization, responses((status = 201, body = OutputOrganization), (status = 400), (status = 403)))]
#[post("/api/organization")]
pub async fn create(
    db: web::Data<Db>,
    caller: Caller,
    body: JsonBody<InputOrganization>,
) -> Result<HttpResponse, ApiError> {
    caller.require_any(&[Role::Superadmin])?;
    let input = body.0;
    let description: String = input
        .description
        .unwrap_or_default()
        .chars()
        .take(1024)
        .collect();
    let row = OrganizationRow {
        status: status_str(input.status.unwrap_or(OrganizationStatus::Active)).into(),
        ..OrganizationRow::new(
            &check_name("name", &input.name, 64)?,
            &description,
            caller.login(),
        )
    };
    let saved = row.clone();
    db.write(move |c| {
        diesel::insert_into(organizations::table)
            .values(&row)
            .execute(c)
            .map_err(|e| {
                duplicate_as(e, || {
                    ApiError::Create(format!("organization {} already exists", row.id))
                })
            })
    })
    .await?;
    Ok(HttpResponse::Created().json(render_organization(&saved)))
}

async fn set(
    db: &Db,
    caller: &Caller,
    id: String,
    input: InputUpdateOrganization,
) -> Result<OrganizationRow, ApiError> {
    caller.require_any(&[Role::Superadmin])?;
    if id == ADMIN_ORG {
        return Err(ApiError::BadRequest(format!(
            "organization {ADMIN_ORG} cannot be changed"
        )));
    }
    let by = caller.login().to_string();
    db.write(move |c| {
        let target = || organizations::table.find(id.clone());
        let n = diesel::update(target())
            .set((
                organizations::updated_by.eq(&by),
                organizations::updated_at.eq(now_ms()),
            ))
            .execute(c)?;
        if n == 0 {
            return Err(ApiError::NotFound(format!("organization {id} not found")));
        }
        if let Some(d) = &input.description {
            let d: String = d.chars().take(1024).collect();
            diesel::update(target())
                .set(organizations::description.eq(d))
                .execute(c)?;
        }
        if let Some(s) = input.status {
            diesel::update(target())
                .set(organizations::status.eq(status_str(s)))
                .execute(c)?;
        }
        Ok(target().select(OrganizationRow::as_select()).first(c)?)
    })
    .await
}

/// Updates an organization's description or status (superadmin; not `cortex`).
#[utoipa::path(tag = "organization", request_body = InputUpdateOrganization, responses((status = 200, body = OutputOrganization), (status = 400), (status = 404)))]
#[patch("/api/organization/{id}")]
pub async fn update(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<InputUpdateOrganization>,
) -> Result<HttpResponse, ApiError> {
    let org = set(&db, &caller, id.into_inner(), body.0).await?;
    Ok(HttpResponse::Ok().json(render_organization(&org)))
}

/// "Deletes" an organization: locks it, as Cortex does (superadmin; not `cortex`).
#[utoipa::path(tag = "organization", responses((status = 204), (status = 400), (status = 404)))]
#[delete("/api/organization/{id}")]
pub async fn remove(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let input = InputUpdateOrganization {
        description: None,
        status: Some(OrganizationStatus::Locked),
    };
    set(&db, &caller, id.into_inner(), input).await?;
    Ok(HttpResponse::NoContent().finish())
}
