//! Organisations: created and changed by platform administrators, seen by their members.

use super::{check_name, check_text, find_organisation, not_found, render_organisation};
use crate::auth::{Caller, ADMIN_ORG};
use crate::db::models::OrganisationRow;
use crate::db::schema::organisations;
use crate::db::{duplicate_as, next_id, now_ms, Db};
use crate::error::ApiError;
use crate::extract::JsonBody;
use actix_web::{get, patch, post, web, HttpResponse};
use diesel::prelude::*;
use shared_models::hive::{
    InputOrganisation, InputUpdateOrganisation, OutputOrganisation, SharingRule,
};

fn require_admin(caller: &Caller) -> Result<(), ApiError> {
    if caller.is_platform_admin("manageOrganisation") {
        Ok(())
    } else {
        Err(ApiError::Authorization(format!(
            "User {} cannot manage organisations (needs manageOrganisation in {ADMIN_ORG})",
            caller.login()
        )))
    }
}

/// Creates an organisation.
#[utoipa::path(tag = "organisation", request_body = InputOrganisation, responses((status = 201, body = OutputOrganisation), (status = 400), (status = 403)))]
#[post("/api/v1/organisation")]
pub async fn create_organisation(
    db: web::Data<Db>,
    caller: Caller,
    body: JsonBody<InputOrganisation>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&caller)?;
    let input = body.0;
    let now = now_ms();
    let row = OrganisationRow {
        id: next_id(),
        name: check_name("name", &input.name, 64)?,
        description: check_text("description", &input.description, 1024)?,
        task_rule: input
            .task_rule
            .unwrap_or(SharingRule::Manual)
            .as_str()
            .into(),
        observable_rule: input
            .observable_rule
            .unwrap_or(SharingRule::Manual)
            .as_str()
            .into(),
        locked: input.locked.unwrap_or(false),
        created_by: caller.login().into(),
        created_at: now,
        updated_by: None,
        updated_at: None,
    };
    let saved = row.clone();
    db.write(move |c| {
        diesel::insert_into(organisations::table)
            .values(&row)
            .execute(c)
            .map_err(|e| {
                duplicate_as(e, || {
                    ApiError::Create(format!("Organisation {} already exists", row.name))
                })
            })
    })
    .await?;
    Ok(HttpResponse::Created().json(render_organisation(&saved)))
}

/// One organisation, by `~id` or name (platform administrators, or members).
#[utoipa::path(tag = "organisation", responses((status = 200, body = OutputOrganisation), (status = 404)))]
#[get("/api/v1/organisation/{id}")]
pub async fn get_organisation(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let key = id.into_inner();
    let org = db
        .read(move |c| {
            let org = find_organisation(c, &key)?.ok_or_else(|| not_found("Organisation", &key))?;
            if caller.is_platform_admin("manageOrganisation") || caller.is_member_of(org.id) {
                Ok(org)
            } else {
                Err(not_found("Organisation", &key))
            }
        })
        .await?;
    Ok(HttpResponse::Ok().json(render_organisation(&org)))
}

/// Updates an organisation. The `admin` organisation cannot be renamed or locked.
#[utoipa::path(tag = "organisation", request_body = InputUpdateOrganisation, responses((status = 204), (status = 400), (status = 403), (status = 404)))]
#[patch("/api/v1/organisation/{id}")]
pub async fn update_organisation(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<InputUpdateOrganisation>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&caller)?;
    let input = body.0;
    let name = input
        .name
        .as_deref()
        .map(|n| check_name("name", n, 64))
        .transpose()?;
    let description = input
        .description
        .as_deref()
        .map(|d| check_text("description", d, 1024))
        .transpose()?;
    let key = id.into_inner();
    db.write(move |c| {
        let org = find_organisation(c, &key)?.ok_or_else(|| not_found("Organisation", &key))?;
        if org.name == ADMIN_ORG
            && (name.as_deref().is_some_and(|n| n != ADMIN_ORG) || input.locked == Some(true))
        {
            return Err(ApiError::BadRequest(format!(
                "Organisation {ADMIN_ORG} cannot be renamed or locked"
            )));
        }
        let target = organisations::table.find(org.id);
        diesel::update(target)
            .set((
                organisations::updated_by.eq(caller.login()),
                organisations::updated_at.eq(now_ms()),
            ))
            .execute(c)?;
        if let Some(n) = &name {
            diesel::update(target)
                .set(organisations::name.eq(n))
                .execute(c)
                .map_err(|e| {
                    duplicate_as(e, || {
                        ApiError::BadRequest(format!("Organisation {n} already exists"))
                    })
                })?;
        }
        if let Some(d) = description {
            diesel::update(target)
                .set(organisations::description.eq(d))
                .execute(c)?;
        }
        if let Some(r) = input.task_rule {
            diesel::update(target)
                .set(organisations::task_rule.eq(r.as_str()))
                .execute(c)?;
        }
        if let Some(r) = input.observable_rule {
            diesel::update(target)
                .set(organisations::observable_rule.eq(r.as_str()))
                .execute(c)?;
        }
        if let Some(l) = input.locked {
            diesel::update(target)
                .set(organisations::locked.eq(l))
                .execute(c)?;
        }
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
