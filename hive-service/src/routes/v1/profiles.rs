//! Profiles: named permission sets, managed by platform administrators, readable by all.

use crate::audit::{Action, ObjectType};
use crate::auth::{Caller, SYSTEM_LOGIN};
use crate::db::models::ProfileRow;
use crate::db::schema::{memberships, profiles};
use crate::db::{duplicate_as, next_id, now_ms, Db};
use crate::domain::permissions;
use crate::routes::audit_admin;
use crate::routes::{check_name, find_profile, not_found, render_profile};
use actix_web::{delete, get, patch, post, web, HttpResponse};
use diesel::prelude::*;
use serde_json::json;
use service_kit::error::ApiError;
use service_kit::extract::JsonBody;
use shared_models::hive::{InputProfile, InputUpdateProfile, OutputProfile};

fn require_admin(caller: &Caller) -> Result<(), ApiError> {
    if caller.is_platform_admin("manageProfile") {
        Ok(())
    } else {
        Err(ApiError::Authorization(format!(
            "User {} cannot manage profiles (needs manageProfile in admin)",
            caller.login()
        )))
    }
}

fn check_permissions(perms: &[String]) -> Result<String, ApiError> {
    if perms.len() > 100 {
        return Err(ApiError::attribute("permissions", "at most 100"));
    }
    if let Some(bad) = perms.iter().find(|p| !permissions::is_known(p)) {
        return Err(ApiError::attribute(
            "permissions",
            format!("unknown permission {bad}"),
        ));
    }
    let mut sorted = perms.to_vec();
    sorted.sort();
    sorted.dedup();
    serde_json::to_string(&sorted).map_err(ApiError::internal)
}

/// Creates a profile.
#[utoipa::path(tag = "profile", request_body = InputProfile, responses((status = 201, body = OutputProfile), (status = 400), (status = 403)))]
#[post("/api/v1/profile")]
pub async fn create_profile(
    db: web::Data<Db>,
    caller: Caller,
    body: JsonBody<InputProfile>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&caller)?;
    let row = ProfileRow {
        id: next_id(),
        name: check_name("name", &body.0.name, 64)?,
        permissions: check_permissions(&body.0.permissions)?,
        created_by: caller.login().into(),
        created_at: now_ms(),
        updated_by: None,
        updated_at: None,
    };
    let saved = row.clone();
    let audit_caller = caller.clone();
    db.write(move |c| {
        audit_admin(
            &audit_caller,
            Action::Create,
            ObjectType::Profile,
            row.id,
            json!(crate::audit::fields_of(&row)),
        );
        diesel::insert_into(profiles::table)
            .values(&row)
            .execute(c)
            .map_err(|e| {
                duplicate_as(e, || {
                    ApiError::Create(format!("Profile {} already exists", row.name))
                })
            })
    })
    .await?;
    crate::auth::changed();
    Ok(HttpResponse::Created().json(render_profile(&saved)))
}

/// One profile, by `~id` or name.
#[utoipa::path(tag = "profile", responses((status = 200, body = OutputProfile), (status = 404)))]
#[get("/api/v1/profile/{id}")]
pub async fn get_profile(
    db: web::Data<Db>,
    _caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let key = id.into_inner();
    let p = db
        .read(move |c| find_profile(c, &key)?.ok_or_else(|| not_found("Profile", &key)))
        .await?;
    Ok(HttpResponse::Ok().json(render_profile(&p)))
}

/// Updates a profile; `admin` and `org-admin` are not editable.
#[utoipa::path(tag = "profile", request_body = InputUpdateProfile, responses((status = 204), (status = 400), (status = 403), (status = 404)))]
#[patch("/api/v1/profile/{id}")]
pub async fn update_profile(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<InputUpdateProfile>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&caller)?;
    let name = body
        .0
        .name
        .as_deref()
        .map(|n| check_name("name", n, 64))
        .transpose()?;
    let perms = body
        .0
        .permissions
        .as_deref()
        .map(check_permissions)
        .transpose()?;
    let key = id.into_inner();
    db.write(move |c| {
        let p = find_profile(c, &key)?.ok_or_else(|| not_found("Profile", &key))?;
        if !permissions::is_editable(&p.name) {
            return Err(ApiError::BadRequest(format!(
                "Profile {} is not editable",
                p.name
            )));
        }
        audit_admin(
            &caller,
            Action::Update,
            ObjectType::Profile,
            p.id,
            json!({"name": name, "permissions": perms.as_deref().map(|t| serde_json::from_str::<serde_json::Value>(t).unwrap_or_default())}),
        );
        let target = profiles::table.find(p.id);
        diesel::update(target)
            .set((
                profiles::updated_by.eq(caller.login()),
                profiles::updated_at.eq(now_ms()),
            ))
            .execute(c)?;
        if let Some(n) = &name {
            diesel::update(target)
                .set(profiles::name.eq(n))
                .execute(c)
                .map_err(|e| {
                    duplicate_as(e, || {
                        ApiError::BadRequest(format!("Profile {n} already exists"))
                    })
                })?;
        }
        if let Some(perms) = perms {
            diesel::update(target)
                .set(profiles::permissions.eq(perms))
                .execute(c)?;
        }
        Ok(())
    })
    .await?;
    crate::auth::changed();
    Ok(HttpResponse::NoContent().finish())
}

/// Deletes a profile that no membership uses; built-in profiles stay.
#[utoipa::path(tag = "profile", responses((status = 204), (status = 400), (status = 403), (status = 404)))]
#[delete("/api/v1/profile/{id}")]
pub async fn delete_profile(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&caller)?;
    let key = id.into_inner();
    db.write(move |c| {
        let p = find_profile(c, &key)?.ok_or_else(|| not_found("Profile", &key))?;
        if p.created_by == SYSTEM_LOGIN {
            return Err(ApiError::BadRequest(format!(
                "Profile {} is built in",
                p.name
            )));
        }
        let used: i64 = memberships::table
            .filter(memberships::profile_id.eq(p.id))
            .count()
            .get_result(c)?;
        if used > 0 {
            return Err(ApiError::BadRequest(format!(
                "Profile {} is given to {used} membership(s); change them first",
                p.name
            )));
        }
        audit_admin(
            &caller,
            Action::Delete,
            ObjectType::Profile,
            p.id,
            json!({"name": p.name}),
        );
        diesel::delete(profiles::table.find(p.id)).execute(c)?;
        Ok(())
    })
    .await?;
    crate::auth::changed();
    Ok(HttpResponse::NoContent().finish())
}
