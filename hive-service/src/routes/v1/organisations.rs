//! Organisations: created and changed by platform administrators, seen by their members.

use crate::audit::{Action, ObjectType};
use crate::auth::{Caller, ADMIN_ORG};
use crate::db::models::OrganisationRow;
use crate::db::schema::organisations;
use crate::db::{duplicate_as, next_id, now_ms, Db};
use crate::routes::audit_admin;
use crate::routes::{check_name, check_text, find_organisation, not_found, render_organisation};
use actix_web::{delete, get, patch, post, put, web, HttpResponse};
use diesel::prelude::*;
use serde_json::json;
use service_kit::error::ApiError;
use service_kit::extract::JsonBody;
use shared_models::hive::{
    InputOrganisation, InputOrganisationLink, InputOrganisationLinks, InputUpdateOrganisation,
    OutputOrganisation, SharingRule,
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
    let audit_caller = caller.clone();
    db.write(move |c| {
        audit_admin(
            &audit_caller,
            Action::Create,
            ObjectType::Organisation,
            row.id,
            json!(crate::audit::fields_of(&row)),
        );
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
    crate::auth::changed();
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
        audit_admin(
            &caller,
            Action::Update,
            ObjectType::Organisation,
            org.id,
            json!({"name": name, "description": description,
                   "taskRule": input.task_rule.map(|r| r.as_str()),
                   "observableRule": input.observable_rule.map(|r| r.as_str()),
                   "locked": input.locked}),
        );
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
    crate::auth::changed();
    Ok(HttpResponse::NoContent().finish())
}

fn link_org(c: &mut crate::db::DbConn, key: &str) -> Result<OrganisationRow, ApiError> {
    find_organisation(c, key)?
        .filter(|o| o.name != ADMIN_ORG)
        .ok_or_else(|| not_found("Organisation", key))
}

fn put_link(
    c: &mut crate::db::DbConn,
    from: &OrganisationRow,
    to: &OrganisationRow,
    link_type: &str,
    other_link_type: &str,
) -> Result<(), ApiError> {
    use crate::db::casework::OrganisationLinkRow;
    use crate::db::schema::organisation_links as l;
    if from.id == to.id {
        return Err(ApiError::BadRequest(
            "an organisation cannot be linked to itself".into(),
        ));
    }
    for (a, b, t) in [
        (from.id, to.id, link_type),
        (to.id, from.id, other_link_type),
    ] {
        diesel::delete(
            l::table
                .filter(l::organisation_id.eq(a))
                .filter(l::other_id.eq(b)),
        )
        .execute(c)?;
        diesel::insert_into(l::table)
            .values(OrganisationLinkRow {
                organisation_id: a,
                other_id: b,
                link_type: check_text("linkType", t, 64)?,
            })
            .execute(c)?;
    }
    Ok(())
}

fn drop_links(c: &mut crate::db::DbConn, a: i64, b: Option<i64>) -> Result<usize, ApiError> {
    use crate::db::schema::organisation_links as l;
    Ok(match b {
        Some(b) => diesel::delete(
            l::table.filter(
                (l::organisation_id.eq(a).and(l::other_id.eq(b)))
                    .or(l::organisation_id.eq(b).and(l::other_id.eq(a))),
            ),
        )
        .execute(c)?,
        None => diesel::delete(l::table.filter(l::organisation_id.eq(a).or(l::other_id.eq(a))))
            .execute(c)?,
    })
}

/// The two link types (default `default`, at most 128 characters each).
fn link_types(
    link_type: &Option<String>,
    other: &Option<String>,
) -> Result<(String, String), ApiError> {
    let or_default = |name: &str, t: &Option<String>| match t {
        Some(t) => crate::domain::values::text(name, t, 128),
        None => Ok("default".to_string()),
    };
    Ok((
        or_default("linkType", link_type)?,
        or_default("otherLinkType", other)?,
    ))
}

/// Links two organisations (`{linkType, otherLinkType}`, default `default`).
#[utoipa::path(tag = "organisation", request_body = InputOrganisationLink, responses((status = 204), (status = 403), (status = 404)))]
#[put("/api/v1/organisation/{id}/link/{other}")]
pub async fn link(
    db: web::Data<Db>,
    caller: Caller,
    path: web::Path<(String, String)>,
    body: JsonBody<InputOrganisationLink>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&caller)?;
    let (id, other) = path.into_inner();
    db.write(move |c| {
        let (from, to) = (link_org(c, &id)?, link_org(c, &other)?);
        let (t, o) = link_types(&body.0.link_type, &body.0.other_link_type)?;
        audit_admin(
            &caller,
            Action::Update,
            ObjectType::Organisation,
            from.id,
            json!({"link": {"organisation": to.name, "linkType": t, "otherLinkType": o}}),
        );
        put_link(c, &from, &to, &t, &o)
    })
    .await?;
    crate::auth::changed();
    Ok(HttpResponse::NoContent().finish())
}

/// Unlinks two organisations.
#[utoipa::path(tag = "organisation", responses((status = 204), (status = 403), (status = 404)))]
#[delete("/api/v1/organisation/{id}/link/{other}")]
pub async fn unlink(
    db: web::Data<Db>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&caller)?;
    let (id, other) = path.into_inner();
    db.write(move |c| {
        let (from, to) = (link_org(c, &id)?, link_org(c, &other)?);
        if drop_links(c, from.id, Some(to.id))? == 0 {
            return Err(ApiError::NotFound(format!(
                "Organisations {id} and {other} are not linked"
            )));
        }
        audit_admin(
            &caller,
            Action::Update,
            ObjectType::Organisation,
            from.id,
            json!({"unlink": {"organisation": to.name}}),
        );
        Ok(())
    })
    .await?;
    crate::auth::changed();
    Ok(HttpResponse::NoContent().finish())
}

/// The organisations linked to one: `[{linkType, otherLinkType, organisation}]`.
#[utoipa::path(tag = "organisation", responses((status = 200, body = Vec<Object>), (status = 404)))]
#[get("/api/v1/organisation/{id}/links")]
pub async fn links(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let out = db
        .read(move |c| {
            let org = link_org(c, &id)?;
            if !(caller.is_platform_admin("manageOrganisation") || caller.is_member_of(org.id)) {
                return Err(not_found("Organisation", &id));
            }
            crate::casework::shares::links_of(c, &org)
        })
        .await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Sets all the links of an organisation (`{links: [{toOrganisation, linkType,
/// otherLinkType}]}`).
#[utoipa::path(tag = "organisation", request_body = InputOrganisationLinks, responses((status = 204), (status = 403), (status = 404)))]
#[put("/api/v1/organisation/{id}/links")]
pub async fn set_links(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<InputOrganisationLinks>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&caller)?;
    db.write(move |c| {
        let from = link_org(c, &id)?;
        let wanted = &body.0.links;
        if wanted.len() > 1000 {
            return Err(ApiError::attribute("links", "at most 1000 links"));
        }
        audit_admin(
            &caller,
            Action::Update,
            ObjectType::Organisation,
            from.id,
            json!({"links": wanted.iter().map(|l| l.to_organisation.clone()).collect::<Vec<_>>()}),
        );
        drop_links(c, from.id, None)?;
        for l in wanted {
            let to = link_org(c, &l.to_organisation)?;
            let (t, o) = link_types(&l.link_type, &l.other_link_type)?;
            put_link(c, &from, &to, &t, &o)?;
        }
        Ok(())
    })
    .await?;
    crate::auth::changed();
    Ok(HttpResponse::NoContent().finish())
}
