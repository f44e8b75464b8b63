//! `/api/v1/caseTemplate`: case templates of the organisation.

use crate::auth::Caller;
use crate::casework::values::Patch;
use crate::casework::{custom, find_template, render, templates, Actor};
use crate::db::casework::CaseTemplateRow;
use crate::db::schema::case_templates;
use crate::db::{duplicate_as, Db, DbConn};
use crate::error::ApiError;
use crate::extract::JsonBody;
use actix_web::{delete, get, patch, post, web, HttpResponse};
use diesel::prelude::*;
use serde_json::Value;
use shared_models::casework::{InputCaseTemplate, OutputCaseTemplate};

fn rendered(c: &mut DbConn, t: &CaseTemplateRow) -> Result<OutputCaseTemplate, ApiError> {
    render::templates(c, std::slice::from_ref(t))?
        .pop()
        .ok_or_else(|| ApiError::internal("template vanished"))
}

/// Creates a case template.
#[utoipa::path(tag = "case template", request_body = InputCaseTemplate, responses((status = 201, body = OutputCaseTemplate), (status = 400), (status = 403)))]
#[post("/api/v1/caseTemplate")]
pub async fn create(
    db: web::Data<Db>,
    caller: Caller,
    body: JsonBody<InputCaseTemplate>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageCaseTemplate")?;
    let actor = Actor::of(&caller);
    let out = db
        .write(move |c| {
            let t = templates::create(c, &actor, &body.0)?;
            rendered(c, &t)
        })
        .await?;
    Ok(HttpResponse::Created().json(out))
}

/// One case template, by `~id` or name.
#[utoipa::path(tag = "case template", responses((status = 200, body = OutputCaseTemplate), (status = 404)))]
#[get("/api/v1/caseTemplate/{id}")]
pub async fn get(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let org = caller.organisation.id;
    let out = db
        .read(move |c| {
            let t = find_template(c, org, &id)?;
            rendered(c, &t)
        })
        .await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Updates a case template.
#[utoipa::path(tag = "case template", request_body = Object, responses((status = 204), (status = 400), (status = 404)))]
#[patch("/api/v1/caseTemplate/{id}")]
pub async fn update(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<Value>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageCaseTemplate")?;
    let actor = Actor::of(&caller);
    db.write(move |c| {
        let mut t = find_template(c, actor.org_id, &id)?;
        templates::apply_patch(c, &actor, &mut t, &Patch::new(&body.0)?)?;
        diesel::update(case_templates::table.find(t.id))
            .set(&t)
            .execute(c)
            .map_err(|e| {
                duplicate_as(e, || {
                    ApiError::Create(format!("Case template {} already exists", t.name))
                })
            })?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Deletes a case template (cases built from it keep its name).
#[utoipa::path(tag = "case template", responses((status = 204), (status = 404)))]
#[delete("/api/v1/caseTemplate/{id}")]
pub async fn remove(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageCaseTemplate")?;
    let org = caller.organisation.id;
    db.write(move |c| {
        let t = find_template(c, org, &id)?;
        custom::delete_all(c, &[t.id])?;
        diesel::delete(case_templates::table.find(t.id)).execute(c)?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
