//! Users: create, get, update, lock, delete, memberships, passwords and API keys.

use super::{
    check_name, check_text, find_organisation, find_profile, find_user, not_found, render_user,
};
use crate::auth::{secrets, Authenticator, Caller, ADMIN_ORG};
use crate::db::models::{memberships_of, Membership, MembershipRow, UserRow};
use crate::db::schema::*;
use crate::db::{next_id, now_ms, Db, DbConn};
use crate::domain::permissions;
use crate::error::ApiError;
use crate::extract::JsonBody;
use actix_web::{delete, get, patch, post, put, web, HttpResponse};
use diesel::prelude::*;
use serde::Deserialize;
use serde_json::json;
use shared_models::hive::*;
use std::sync::Arc;

/// Whether `caller` may manage `target` (given its memberships): platform administrators
/// manage everyone; an organisation's user managers manage its members.
fn can_manage(caller: &Caller, memberships: &[Membership]) -> bool {
    caller.is_platform_admin("manageUser")
        || (caller.has("manageUser")
            && memberships
                .iter()
                .any(|m| m.organisation.id == caller.organisation.id))
}

/// Whether `caller` may see `target`.
pub(crate) fn can_see(caller: &Caller, target: &UserRow, memberships: &[Membership]) -> bool {
    caller.user.id == target.id
        || caller.is_platform_admin("manageUser")
        || memberships
            .iter()
            .any(|m| m.organisation.id == caller.organisation.id)
}

/// Loads a user and its memberships if the caller may see it, else 404.
fn load_visible(
    c: &mut DbConn,
    caller: &Caller,
    key: &str,
) -> Result<(UserRow, Vec<Membership>), ApiError> {
    let user = find_user(c, key)?.ok_or_else(|| not_found("User", key))?;
    let memberships = memberships_of(c, user.id)?;
    if !can_see(caller, &user, &memberships) {
        return Err(not_found("User", key));
    }
    Ok((user, memberships))
}

/// Loads a user the caller may manage (self counts when `self_ok`), else 404/403.
fn load_managed(
    c: &mut DbConn,
    caller: &Caller,
    key: &str,
    self_ok: bool,
) -> Result<(UserRow, Vec<Membership>), ApiError> {
    let (user, memberships) = load_visible(c, caller, key)?;
    if (self_ok && user.id == caller.user.id) || can_manage(caller, &memberships) {
        Ok((user, memberships))
    } else {
        Err(ApiError::Authorization(format!(
            "User {} cannot manage user {}",
            caller.login(),
            user.login
        )))
    }
}

/// An admin profile belongs in the admin organisation and nowhere else.
fn check_profile_fits(
    profile: &crate::db::models::ProfileRow,
    org_name: &str,
) -> Result<(), ApiError> {
    let admin_profile = permissions::is_admin_profile(&profile.permission_list());
    if admin_profile != (org_name == ADMIN_ORG) {
        return Err(ApiError::BadRequest(if admin_profile {
            format!(
                "Profile {} can only be given in organisation {ADMIN_ORG}",
                profile.name
            )
        } else {
            format!(
                "Profile {} cannot be given in organisation {ADMIN_ORG}",
                profile.name
            )
        }));
    }
    Ok(())
}

fn check_login(login: &str) -> Result<String, ApiError> {
    let login = check_name("login", login, 128)?.to_lowercase();
    if login.chars().any(char::is_whitespace) {
        return Err(ApiError::attribute("login", "must not contain spaces"));
    }
    Ok(login)
}

fn hash_new_password(password: &str) -> Result<String, ApiError> {
    secrets::check_password_rules(password).map_err(|m| ApiError::attribute("password", m))?;
    secrets::hash_password(password).map_err(ApiError::internal)
}

/// The current user, in the organisation of the request.
#[utoipa::path(tag = "user", responses((status = 200, body = OutputUser)))]
#[get("/api/v1/user/current")]
pub async fn current_user(caller: Caller) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(render_user(&caller.user, &caller.memberships, &caller)))
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

/// Creates a user, or adds an existing one to the organisation (idempotent).
#[utoipa::path(tag = "user", request_body = InputUser, responses((status = 201, body = OutputUser), (status = 400), (status = 403)))]
#[post("/api/v1/user")]
pub async fn create_user(
    db: web::Data<Db>,
    caller: Caller,
    body: JsonBody<InputUser>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageUser")?;
    let input = body.0;
    let login = check_login(&input.login)?;
    let name = check_text("name", &input.name, 512)?;
    let email = match input.email.as_deref().map(str::trim) {
        Some(e) if !e.is_empty() => Some(check_text("email", e, 256)?),
        _ => None,
    };
    let password_hash = match &input.password {
        Some(p) => Some(hash_new_password(p)?),
        None => None,
    };
    let org_key = input
        .organisation
        .clone()
        .unwrap_or_else(|| caller.organisation.name.clone());
    let profile_key = input.profile.clone();
    let user_type = input.user_type.unwrap_or(UserType::Normal);
    let caller2 = caller.clone();
    let (user, memberships) = db
        .write(move |c| {
            let org = find_organisation(c, &org_key)?
                .ok_or_else(|| not_found("Organisation", &org_key))?;
            if org.id != caller2.organisation.id && !caller2.is_platform_admin("manageUser") {
                return Err(ApiError::Authorization(format!(
                    "User {} cannot create users in organisation {}",
                    caller2.login(),
                    org.name
                )));
            }
            let profile =
                find_profile(c, &profile_key)?.ok_or_else(|| not_found("Profile", &profile_key))?;
            check_profile_fits(&profile, &org.name)?;
            if !caller2.is_platform_admin("manageUser") && profile.name == "admin" {
                return Err(ApiError::Authorization(
                    "Only platform administrators give profile admin".into(),
                ));
            }
            let now = now_ms();
            let user = match find_user(c, &login)? {
                Some(existing) => existing,
                None => {
                    let row = UserRow {
                        id: next_id(),
                        login: login.clone(),
                        name,
                        email,
                        user_type: user_type.as_str().into(),
                        avatar: None,
                        locked: false,
                        password_hash,
                        password_changed_at: now,
                        api_key_hash: None,
                        created_by: caller2.login().into(),
                        created_at: now,
                        updated_by: None,
                        updated_at: None,
                    };
                    diesel::insert_into(users::table).values(&row).execute(c)?;
                    row
                }
            };
            let existing = memberships_of(c, user.id)?;
            if !existing.iter().any(|m| m.organisation.id == org.id) {
                diesel::insert_into(memberships::table)
                    .values(&MembershipRow {
                        user_id: user.id,
                        organisation_id: org.id,
                        profile_id: profile.id,
                        is_default: existing.is_empty(),
                    })
                    .execute(c)?;
            }
            Ok((user.clone(), memberships_of(c, user.id)?))
        })
        .await?;
    crate::auth::changed();
    Ok(HttpResponse::Created().json(render_user(&user, &memberships, &caller)))
}

/// One user, by `~id` or login.
#[utoipa::path(tag = "user", responses((status = 200, body = OutputUser), (status = 404)))]
#[get("/api/v1/user/{id}")]
pub async fn get_user(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let caller2 = caller.clone();
    let (user, memberships) = db.read(move |c| load_visible(c, &caller2, &id)).await?;
    Ok(HttpResponse::Ok().json(render_user(&user, &memberships, &caller)))
}

/// Updates a user. Name, e-mail, avatar and default organisation: the user or a manager;
/// profile, lock and type: a manager.
#[utoipa::path(tag = "user", request_body = InputUpdateUser, responses((status = 204), (status = 403), (status = 404)))]
#[patch("/api/v1/user/{id}")]
pub async fn update_user(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<InputUpdateUser>,
) -> Result<HttpResponse, ApiError> {
    let input = body.0;
    let name = input
        .name
        .as_deref()
        .map(|n| check_text("name", n, 512))
        .transpose()?;
    let email = match &input.email {
        Some(Some(e)) if !e.trim().is_empty() => Some(Some(check_text("email", e, 256)?)),
        Some(_) => Some(None),
        None => None,
    };
    let avatar = match &input.avatar {
        Some(Some(a)) => Some(Some(check_text("avatar", a, 64 * 1024)?)),
        Some(None) => Some(None),
        None => None,
    };
    db.write(move |c| {
        let privileged =
            input.profile.is_some() || input.locked.is_some() || input.user_type.is_some();
        let (user, memberships) = load_managed(c, &caller, &id, !privileged)?;
        if input.locked == Some(true) && user.id == caller.user.id {
            return Err(ApiError::BadRequest(
                "You cannot lock your own account".into(),
            ));
        }
        let now = now_ms();
        let target = users::table.find(user.id);
        diesel::update(target)
            .set((
                users::updated_by.eq(caller.login()),
                users::updated_at.eq(now),
            ))
            .execute(c)?;
        if let Some(n) = name {
            diesel::update(target).set(users::name.eq(n)).execute(c)?;
        }
        if let Some(e) = email {
            diesel::update(target).set(users::email.eq(e)).execute(c)?;
        }
        if let Some(a) = avatar {
            diesel::update(target).set(users::avatar.eq(a)).execute(c)?;
        }
        if let Some(l) = input.locked {
            diesel::update(target).set(users::locked.eq(l)).execute(c)?;
        }
        if let Some(t) = input.user_type {
            diesel::update(target)
                .set(users::user_type.eq(t.as_str()))
                .execute(c)?;
        }
        if let Some(profile_key) = &input.profile {
            let org_key = input
                .organisation
                .clone()
                .unwrap_or_else(|| caller.organisation.name.clone());
            let m = memberships
                .iter()
                .find(|m| {
                    m.organisation.name == org_key
                        || crate::db::format_id(m.organisation.id) == org_key
                })
                .ok_or_else(|| {
                    ApiError::BadRequest(format!(
                        "User {} is not a member of {org_key}",
                        user.login
                    ))
                })?;
            if m.organisation.id != caller.organisation.id
                && !caller.is_platform_admin("manageUser")
            {
                return Err(ApiError::Authorization(format!(
                    "Cannot change profiles in {org_key}"
                )));
            }
            let profile =
                find_profile(c, profile_key)?.ok_or_else(|| not_found("Profile", profile_key))?;
            check_profile_fits(&profile, &m.organisation.name)?;
            if user.id == caller.user.id && profile.id != m.profile.id {
                return Err(ApiError::BadRequest(
                    "You cannot change your own profile".into(),
                ));
            }
            diesel::update(
                memberships::table
                    .filter(memberships::user_id.eq(user.id))
                    .filter(memberships::organisation_id.eq(m.organisation.id)),
            )
            .set(memberships::profile_id.eq(profile.id))
            .execute(c)?;
        }
        if let Some(org_key) = &input.default_organisation {
            let m = memberships
                .iter()
                .find(|m| {
                    &m.organisation.name == org_key
                        || &crate::db::format_id(m.organisation.id) == org_key
                })
                .ok_or_else(|| {
                    ApiError::BadRequest(format!(
                        "User {} is not a member of {org_key}",
                        user.login
                    ))
                })?;
            diesel::update(memberships::table.filter(memberships::user_id.eq(user.id)))
                .set(memberships::is_default.eq(false))
                .execute(c)?;
            diesel::update(
                memberships::table
                    .filter(memberships::user_id.eq(user.id))
                    .filter(memberships::organisation_id.eq(m.organisation.id)),
            )
            .set(memberships::is_default.eq(true))
            .execute(c)?;
        }
        Ok(())
    })
    .await?;
    crate::auth::changed();
    Ok(HttpResponse::NoContent().finish())
}

/// Legacy delete: locks the user.
#[utoipa::path(tag = "user", responses((status = 204), (status = 403), (status = 404)))]
#[delete("/api/v1/user/{id}")]
pub async fn lock_user(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    db.write(move |c| {
        let (user, _) = load_managed(c, &caller, &id, false)?;
        if user.id == caller.user.id {
            return Err(ApiError::BadRequest(
                "You cannot lock your own account".into(),
            ));
        }
        diesel::update(users::table.find(user.id))
            .set((
                users::locked.eq(true),
                users::updated_by.eq(caller.login()),
                users::updated_at.eq(now_ms()),
            ))
            .execute(c)?;
        Ok(())
    })
    .await?;
    crate::auth::changed();
    Ok(HttpResponse::NoContent().finish())
}

/// Query of `DELETE /user/{id}/force`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct DeleteParams {
    /// Organisation to remove the user from (default: the current one).
    pub organisation: Option<String>,
}

/// Deletes a user: platform administrators delete the account; an organisation's user
/// managers remove it from their organisation (the account goes when it has none left).
#[utoipa::path(tag = "user", params(DeleteParams), responses((status = 204), (status = 403), (status = 404)))]
#[delete("/api/v1/user/{id}/force")]
pub async fn delete_user(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
    params: web::Query<DeleteParams>,
) -> Result<HttpResponse, ApiError> {
    let org_param = params.into_inner().organisation;
    db.write(move |c| {
        let (user, memberships) = load_managed(c, &caller, &id, false)?;
        if user.id == caller.user.id {
            return Err(ApiError::BadRequest(
                "You cannot delete your own account".into(),
            ));
        }
        let whole = caller.is_platform_admin("manageUser")
            && org_param.as_deref().is_none_or(|o| o == ADMIN_ORG);
        if whole {
            diesel::delete(users::table.find(user.id)).execute(c)?;
            return Ok(());
        }
        let org_key = org_param.unwrap_or_else(|| caller.organisation.name.clone());
        let m = memberships
            .iter()
            .find(|m| {
                m.organisation.name == org_key || crate::db::format_id(m.organisation.id) == org_key
            })
            .ok_or_else(|| {
                ApiError::NotFound(format!(
                    "User {} is not in organisation {org_key}",
                    user.login
                ))
            })?;
        if m.organisation.id != caller.organisation.id && !caller.is_platform_admin("manageUser") {
            return Err(ApiError::Authorization(format!(
                "Cannot remove users from {org_key}"
            )));
        }
        diesel::delete(
            memberships::table
                .filter(memberships::user_id.eq(user.id))
                .filter(memberships::organisation_id.eq(m.organisation.id)),
        )
        .execute(c)?;
        if memberships.len() == 1 {
            diesel::delete(users::table.find(user.id)).execute(c)?;
        }
        Ok(())
    })
    .await?;
    crate::auth::changed();
    Ok(HttpResponse::NoContent().finish())
}

/// Replaces the memberships of a user (platform administrators).
#[utoipa::path(tag = "user", request_body = InputUserOrganisations, responses((status = 200, body = InputUserOrganisations), (status = 403)))]
#[put("/api/v1/user/{id}/organisations")]
pub async fn set_organisations(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<InputUserOrganisations>,
) -> Result<HttpResponse, ApiError> {
    if !caller.holds_platform_permission("manageUser") {
        return Err(ApiError::Authorization(
            "Only platform administrators set organisations".into(),
        ));
    }
    let wanted = body.0.organisations;
    if wanted.is_empty() {
        return Err(ApiError::attribute("organisations", "must not be empty"));
    }
    if wanted.len() > 1000 {
        return Err(ApiError::attribute("organisations", "at most 1000"));
    }
    let out = db
        .write(move |c| {
            let (user, _) = load_managed(c, &caller, &id, false)?;
            let mut rows = Vec::new();
            let mut echo = Vec::new();
            let any_default = wanted.iter().any(|w| w.default);
            for (i, w) in wanted.iter().enumerate() {
                let org = find_organisation(c, &w.organisation)?
                    .ok_or_else(|| not_found("Organisation", &w.organisation))?;
                let profile =
                    find_profile(c, &w.profile)?.ok_or_else(|| not_found("Profile", &w.profile))?;
                check_profile_fits(&profile, &org.name)?;
                if rows
                    .iter()
                    .any(|r: &MembershipRow| r.organisation_id == org.id)
                {
                    return Err(ApiError::BadRequest(format!(
                        "Organisation {} given twice",
                        org.name
                    )));
                }
                let is_default = if any_default { w.default } else { i == 0 };
                rows.push(MembershipRow {
                    user_id: user.id,
                    organisation_id: org.id,
                    profile_id: profile.id,
                    is_default,
                });
                echo.push(InputUserOrganisation {
                    organisation: org.name.clone(),
                    profile: profile.name.clone(),
                    default: is_default,
                });
            }
            if user.id == caller.user.id
                && !rows
                    .iter()
                    .any(|r| r.organisation_id == caller.organisation.id)
            {
                return Err(ApiError::BadRequest(
                    "You cannot remove yourself from this organisation".into(),
                ));
            }
            diesel::delete(memberships::table.filter(memberships::user_id.eq(user.id)))
                .execute(c)?;
            for row in &rows {
                diesel::insert_into(memberships::table)
                    .values(row)
                    .execute(c)?;
            }
            Ok(echo)
        })
        .await?;
    crate::auth::changed();
    Ok(HttpResponse::Ok().json(InputUserOrganisations { organisations: out }))
}

/// Sets a user's password (user managers).
#[utoipa::path(tag = "user", request_body = InputSetPassword, responses((status = 204), (status = 403)))]
#[post("/api/v1/user/{id}/password/set")]
pub async fn set_password(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<InputSetPassword>,
) -> Result<HttpResponse, ApiError> {
    let hash = web::block(move || hash_new_password(&body.0.password))
        .await
        .map_err(ApiError::internal)??;
    db.write(move |c| {
        let (user, memberships) = load_visible(c, &caller, &id)?;
        if !can_manage(&caller, &memberships) {
            return Err(ApiError::Authorization(format!(
                "Cannot set the password of {}",
                user.login
            )));
        }
        store_password(c, &user, &hash, caller.login())
    })
    .await?;
    crate::auth::changed();
    Ok(HttpResponse::NoContent().finish())
}

fn store_password(c: &mut DbConn, user: &UserRow, hash: &str, by: &str) -> Result<(), ApiError> {
    let now = now_ms();
    // Strictly later than before, so sessions issued in the same millisecond die too.
    let changed = now.max(user.password_changed_at + 1);
    diesel::update(users::table.find(user.id))
        .set((
            users::password_hash.eq(hash),
            users::password_changed_at.eq(changed),
            users::updated_by.eq(by),
            users::updated_at.eq(now),
        ))
        .execute(c)?;
    Ok(())
}

/// Changes one's own password, given the current one.
#[utoipa::path(tag = "user", request_body = InputChangePassword, responses((status = 204), (status = 401), (status = 403)))]
#[post("/api/v1/user/{id}/password/change")]
pub async fn change_password(
    db: web::Data<Db>,
    auth: web::Data<Arc<Authenticator>>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<InputChangePassword>,
) -> Result<HttpResponse, ApiError> {
    let caller2 = caller.clone();
    let (user, _) = db.read(move |c| load_visible(c, &caller2, &id)).await?;
    if user.id != caller.user.id {
        return Err(ApiError::Authorization(
            "Users change only their own password".into(),
        ));
    }
    auth.check_password(&user.login, &body.0.current_password)
        .await?;
    let new = body.0.password.clone();
    let hash = web::block(move || hash_new_password(&new))
        .await
        .map_err(ApiError::internal)??;
    db.write(move |c| store_password(c, &user, &hash, caller.login()))
        .await?;
    crate::auth::changed();
    Ok(HttpResponse::NoContent().finish())
}

/// API keys are stored as digests: they cannot be shown again.
#[utoipa::path(tag = "user", responses((status = 400, description = "keys are shown once, at renewal"), (status = 404)))]
#[get("/api/v1/user/{id}/key")]
pub async fn get_key(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (user, _) = db
        .read(move |c| load_managed(c, &caller, &id, true))
        .await?;
    Err(if user.api_key_hash.is_some() {
        ApiError::BadRequest(format!(
            "The API key of {} is stored as a digest and was shown once, when issued; renew it \
             (POST /api/v1/user/{}/key/renew) to get a new one",
            user.login, user.login
        ))
    } else {
        ApiError::NotFound(format!("User {} has no API key", user.login))
    })
}

/// Issues a new API key (text/plain), replacing the old one.
#[utoipa::path(tag = "user", responses((status = 200, content_type = "text/plain", body = String), (status = 403)))]
#[post("/api/v1/user/{id}/key/renew")]
pub async fn renew_key(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let key = secrets::new_api_key();
    let digest = secrets::sha256_hex(key.as_bytes());
    db.write(move |c| {
        let (user, _) = load_managed(c, &caller, &id, true)?;
        diesel::update(users::table.find(user.id))
            .set((
                users::api_key_hash.eq(digest),
                users::updated_by.eq(caller.login()),
                users::updated_at.eq(now_ms()),
            ))
            .execute(c)?;
        Ok(())
    })
    .await?;
    crate::auth::changed();
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(key))
}

/// Revokes a user's API key.
#[utoipa::path(tag = "user", responses((status = 204), (status = 403)))]
#[delete("/api/v1/user/{id}/key")]
pub async fn delete_key(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    db.write(move |c| {
        let (user, _) = load_managed(c, &caller, &id, true)?;
        diesel::update(users::table.find(user.id))
            .set((
                users::api_key_hash.eq(None::<String>),
                users::updated_by.eq(caller.login()),
                users::updated_at.eq(now_ms()),
            ))
            .execute(c)?;
        Ok(())
    })
    .await?;
    crate::auth::changed();
    Ok(HttpResponse::NoContent().finish())
}
