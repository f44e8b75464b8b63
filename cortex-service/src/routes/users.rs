//! Users: superadmins manage everyone, an orgadmin the users of its organization, a user
//! its own name, password and key.

use super::{check_name, list_response, render_user, to_value, ListParams, SearchBody};
use crate::auth::{secrets, Authenticator, Caller, ADMIN_ORG};
use crate::db::schema::{organizations, users};
use crate::db::{duplicate_as, now_ms, Db, DbConn, OrganizationRow, UserRow};
use actix_web::{delete, get, patch, post, web, HttpResponse};
use diesel::prelude::*;
use serde_json::Value;
use service_kit::error::ApiError;
use service_kit::extract::JsonBody;
use shared_models::cortex::*;
use std::sync::Arc;

fn load(c: &mut DbConn, login: &str) -> Result<UserRow, ApiError> {
    users::table
        .find(login)
        .select(UserRow::as_select())
        .first(c)
        .optional()?
        .ok_or_else(|| ApiError::NotFound(format!("user {login} not found")))
}

/// Whether the caller administers `target`: a superadmin, or an orgadmin of its organization
/// (superadmin accounts only by superadmins).
fn administers(caller: &Caller, target: &UserRow) -> bool {
    caller.has(Role::Superadmin)
        || (caller.has(Role::Orgadmin)
            && target.organization_id == caller.organization.id
            && !target.role_list().contains(&Role::Superadmin))
}

/// Loads a user the caller may see (same organization, or superadmin), else 404.
fn load_visible(c: &mut DbConn, caller: &Caller, login: &str) -> Result<UserRow, ApiError> {
    let user = load(c, login)?;
    if caller.has(Role::Superadmin) || user.organization_id == caller.organization.id {
        Ok(user)
    } else {
        Err(ApiError::NotFound(format!("user {login} not found")))
    }
}

fn load_administered(
    c: &mut DbConn,
    caller: &Caller,
    login: &str,
    self_ok: bool,
) -> Result<UserRow, ApiError> {
    let user = load_visible(c, caller, login)?;
    if (self_ok && user.id == caller.user.id) || administers(caller, &user) {
        Ok(user)
    } else {
        Err(ApiError::Authorization(format!(
            "User {} cannot manage user {}",
            caller.login(),
            user.id
        )))
    }
}

fn roles_json(roles: &[Role]) -> Result<String, ApiError> {
    let mut r = roles.to_vec();
    r.dedup();
    serde_json::to_string(&r).map_err(ApiError::internal)
}

/// Superadmins live in organization `cortex` and nowhere else.
fn check_roles(roles: &[Role], org: &str) -> Result<(), ApiError> {
    let superadmin = roles.contains(&Role::Superadmin);
    if superadmin != (org == ADMIN_ORG) {
        return Err(ApiError::attribute(
            "roles",
            format!("the superadmin role is given in organization {ADMIN_ORG}, and only there"),
        ));
    }
    Ok(())
}

async fn users_of(db: &Db, org: Option<String>) -> Result<Vec<Value>, ApiError> {
    let rows: Vec<UserRow> = db
        .read(move |c| {
            let q = users::table
                .select(UserRow::as_select())
                .order(users::id.asc());
            Ok(match org {
                Some(o) => q.filter(users::organization_id.eq(o)).load(c)?,
                None => q.load(c)?,
            })
        })
        .await?;
    rows.iter().map(|u| to_value(&render_user(u))).collect()
}

/// All users (superadmin).
#[utoipa::path(tag = "user", params(ListParams), responses((status = 200, body = Vec<OutputUser>)))]
#[get("/api/user")]
pub async fn list(
    db: web::Data<Db>,
    caller: Caller,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require_any(&[Role::Superadmin])?;
    list_response(users_of(&db, None).await?, &Value::Null, &params, None)
}

/// Searches all users (superadmin).
#[utoipa::path(tag = "user", params(ListParams), request_body = SearchBody, responses((status = 200, body = Vec<OutputUser>)))]
#[post("/api/user/_search")]
pub async fn search(
    db: web::Data<Db>,
    caller: Caller,
    params: web::Query<ListParams>,
    body: JsonBody<SearchBody>,
) -> Result<HttpResponse, ApiError> {
    caller.require_any(&[Role::Superadmin])?;
    list_response(
        users_of(&db, None).await?,
        &body.0.query,
        &params,
        Some(&body.0),
    )
}

/// Searches the users of an organization (its orgadmins, superadmins).
#[utoipa::path(tag = "user", params(ListParams), request_body = SearchBody, responses((status = 200, body = Vec<OutputUser>)))]
#[post("/api/organization/{org}/user/_search")]
pub async fn search_in_org(
    db: web::Data<Db>,
    caller: Caller,
    org: web::Path<String>,
    params: web::Query<ListParams>,
    body: JsonBody<SearchBody>,
) -> Result<HttpResponse, ApiError> {
    let org = org.into_inner();
    if !(caller.has(Role::Superadmin)
        || (caller.has(Role::Orgadmin) && caller.organization.id == org))
    {
        return Err(ApiError::Authorization(format!(
            "Cannot list the users of {org}"
        )));
    }
    list_response(
        users_of(&db, Some(org)).await?,
        &body.0.query,
        &params,
        Some(&body.0),
    )
}

/// Creates a user.
#[utoipa::path(tag = "user", request_body = InputUser, responses((status = 201, body = OutputUser), (status = 400), (status = 403)))]
#[post("/api/user")]
pub async fn create(
    db: web::Data<Db>,
    caller: Caller,
    body: JsonBody<InputUser>,
) -> Result<HttpResponse, ApiError> {
    caller.require_any(&[Role::Superadmin, Role::Orgadmin])?;
    let input = body.0;
    let login = check_name("login", &input.login, 128)?;
    let name = check_name("name", &input.name, 512)?;
    let org = input
        .organization
        .clone()
        .unwrap_or_else(|| caller.organization.id.clone());
    if !caller.has(Role::Superadmin) && org != caller.organization.id {
        return Err(ApiError::Authorization(format!(
            "Cannot create users in organization {org}"
        )));
    }
    check_roles(&input.roles, &org)?;
    if input.roles.contains(&Role::Superadmin) && !caller.has(Role::Superadmin) {
        return Err(ApiError::Authorization(
            "Only superadmins give the superadmin role".into(),
        ));
    }
    let password_hash = match &input.password {
        Some(p) => {
            secrets::check_password_rules(p).map_err(|m| ApiError::attribute("password", m))?;
            let p = p.clone();
            Some(
                web::block(move || secrets::hash_password(&p))
                    .await
                    .map_err(ApiError::internal)?
                    .map_err(ApiError::internal)?,
            )
        }
        None => None,
    };
    let row = UserRow {
        roles: roles_json(&input.roles)?,
        password_hash,
        ..UserRow::new(&login, &name, &org, caller.login())
    };
    let saved = row.clone();
    db.write(move |c| {
        let target: Option<OrganizationRow> = organizations::table
            .find(&org)
            .select(OrganizationRow::as_select())
            .first(c)
            .optional()?;
        match target {
            None => return Err(ApiError::NotFound(format!("organization {org} not found"))),
            Some(o) if o.status != "Active" => {
                return Err(ApiError::BadRequest(format!(
                    "organization {org} is locked"
                )))
            }
            Some(_) => {}
        }
        diesel::insert_into(users::table)
            .values(&row)
            .execute(c)
            .map_err(|e| {
                duplicate_as(e, || {
                    ApiError::Create(format!("user {} already exists", row.id))
                })
            })
    })
    .await?;
    Ok(HttpResponse::Created().json(render_user(&saved)))
}

/// One user.
#[utoipa::path(tag = "user", responses((status = 200, body = OutputUser), (status = 404)))]
#[get("/api/user/{login}")]
pub async fn get(
    db: web::Data<Db>,
    caller: Caller,
    login: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user = db.read(move |c| load_visible(c, &caller, &login)).await?;
    Ok(HttpResponse::Ok().json(render_user(&user)))
}

/// Updates a user: its name (self), roles and status (administrators), organization
/// (superadmins). Passwords and keys have their own routes.
#[utoipa::path(tag = "user", request_body = InputUpdateUser, responses((status = 200, body = OutputUser), (status = 403), (status = 404)))]
#[patch("/api/user/{login}")]
pub async fn update(
    db: web::Data<Db>,
    caller: Caller,
    login: web::Path<String>,
    body: JsonBody<InputUpdateUser>,
) -> Result<HttpResponse, ApiError> {
    let input = body.0;
    if input.password.is_some() || input.key.is_some() {
        return Err(ApiError::Authorization(
            "password and key cannot be changed here; use password/set or key/renew".into(),
        ));
    }
    let name = input
        .name
        .as_deref()
        .map(|n| check_name("name", n, 512))
        .transpose()?;
    let user = db
        .write(move |c| {
            let privileged =
                input.roles.is_some() || input.status.is_some() || input.organization.is_some();
            let user = load_administered(c, &caller, &login, !privileged)?;
            if input.organization.is_some() && !caller.has(Role::Superadmin) {
                return Err(ApiError::Authorization(
                    "Only superadmins move users".into(),
                ));
            }
            if user.id == caller.user.id && input.status == Some(UserStatus::Locked) {
                return Err(ApiError::BadRequest(
                    "You cannot lock your own account".into(),
                ));
            }
            let org = input
                .organization
                .clone()
                .unwrap_or_else(|| user.organization_id.clone());
            let roles = input.roles.clone().unwrap_or_else(|| user.role_list());
            check_roles(&roles, &org)?;
            if roles.contains(&Role::Superadmin) && !caller.has(Role::Superadmin) {
                return Err(ApiError::Authorization(
                    "Only superadmins give the superadmin role".into(),
                ));
            }
            let target = users::table.find(&user.id);
            diesel::update(target)
                .set((
                    users::updated_by.eq(caller.login()),
                    users::updated_at.eq(now_ms()),
                ))
                .execute(c)?;
            if let Some(n) = name {
                diesel::update(target).set(users::name.eq(n)).execute(c)?;
            }
            if input.roles.is_some() {
                diesel::update(target)
                    .set(users::roles.eq(roles_json(&roles)?))
                    .execute(c)?;
            }
            if let Some(s) = input.status {
                let s = if s == UserStatus::Ok { "Ok" } else { "Locked" };
                diesel::update(target).set(users::status.eq(s)).execute(c)?;
                if s == "Locked" {
                    crate::auth::end_sessions(c, &user.id)?;
                }
            }
            if input.organization.is_some() {
                let exists: i64 = organizations::table
                    .filter(organizations::id.eq(&org))
                    .count()
                    .get_result(c)?;
                if exists == 0 {
                    return Err(ApiError::NotFound(format!("organization {org} not found")));
                }
                diesel::update(target)
                    .set(users::organization_id.eq(&org))
                    .execute(c)?;
            }
            load(c, &user.id)
        })
        .await?;
    Ok(HttpResponse::Ok().json(render_user(&user)))
}

/// "Deletes" a user: locks it, as Cortex's UI does.
#[utoipa::path(tag = "user", responses((status = 204), (status = 403), (status = 404)))]
#[delete("/api/user/{login}")]
pub async fn remove(
    db: web::Data<Db>,
    caller: Caller,
    login: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    db.write(move |c| {
        let user = load_administered(c, &caller, &login, false)?;
        if user.id == caller.user.id {
            return Err(ApiError::BadRequest(
                "You cannot lock your own account".into(),
            ));
        }
        diesel::update(users::table.find(&user.id))
            .set((
                users::status.eq("Locked"),
                users::updated_by.eq(caller.login()),
                users::updated_at.eq(now_ms()),
            ))
            .execute(c)?;
        crate::auth::end_sessions(c, &user.id)?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn store_password(
    db: &Db,
    login: String,
    by: String,
    password: String,
) -> Result<(), ApiError> {
    secrets::check_password_rules(&password).map_err(|m| ApiError::attribute("password", m))?;
    let hash = web::block(move || secrets::hash_password(&password))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    db.write(move |c| {
        let user = load(c, &login)?;
        let now = now_ms();
        diesel::update(users::table.find(&user.id))
            .set((
                users::password_hash.eq(hash),
                users::password_changed_at.eq(now.max(user.password_changed_at + 1)),
                users::updated_by.eq(by),
                users::updated_at.eq(now),
            ))
            .execute(c)?;
        crate::auth::end_sessions(c, &user.id)?;
        Ok(())
    })
    .await
}

/// Sets a user's password (orgadmin, superadmin).
#[utoipa::path(tag = "user", request_body = InputSetPassword, responses((status = 204), (status = 403)))]
#[post("/api/user/{login}/password/set")]
pub async fn set_password(
    db: web::Data<Db>,
    caller: Caller,
    login: web::Path<String>,
    body: JsonBody<InputSetPassword>,
) -> Result<HttpResponse, ApiError> {
    let c2 = caller.clone();
    let user = db
        .read(move |c| load_administered(c, &c2, &login, false))
        .await?;
    store_password(&db, user.id, caller.login().into(), body.0.password).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Changes one's own password, given the current one.
#[utoipa::path(tag = "user", request_body = InputChangePassword, responses((status = 204), (status = 401), (status = 403)))]
#[post("/api/user/{login}/password/change")]
pub async fn change_password(
    db: web::Data<Db>,
    auth: web::Data<Arc<Authenticator>>,
    req: actix_web::HttpRequest,
    caller: Caller,
    login: web::Path<String>,
    body: JsonBody<InputChangePassword>,
) -> Result<HttpResponse, ApiError> {
    if login.as_str() != caller.user.id {
        return Err(ApiError::Authorization(
            "Users change only their own password".into(),
        ));
    }
    auth.base()
        .check_password(
            &caller.user.id,
            &body.0.current_password,
            service_kit::http::client_ip(&req),
            crate::auth::load_user,
        )
        .await?;
    store_password(
        &db,
        caller.user.id.clone(),
        caller.login().into(),
        body.0.password,
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

use crate::auth::{key_context, store_key_row};

/// The API key of a user (text/plain, as cortex4py's `users.get_key` reads it): the user
/// itself, its orgadmins, superadmins. Keys are kept encrypted under the server key; one
/// issued before they were (a digest only) cannot be shown and must be renewed.
#[utoipa::path(tag = "user", responses((status = 200, content_type = "text/plain", body = String), (status = 403), (status = 404)))]
#[get("/api/user/{login}/key")]
pub async fn get_key(
    db: web::Data<Db>,
    auth: web::Data<Arc<Authenticator>>,
    caller: Caller,
    login: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user = db
        .read(move |c| load_administered(c, &caller, &login, true))
        .await?;
    match (&user.api_key_hash, &user.api_key_secret) {
        (None, _) => Err(ApiError::NotFound(format!("user {} has no key", user.id))),
        (Some(_), Some(sealed)) => {
            let key = auth
                .base()
                .vault
                .open(&key_context(&user.id), sealed)
                .ok_or_else(|| ApiError::internal("the API key does not open with this key"))?;
            Ok(HttpResponse::Ok()
                .content_type("text/plain; charset=utf-8")
                .body(key))
        }
        (Some(_), None) => Err(ApiError::NotFound(format!(
            "the key of {} was issued before keys were kept and cannot be shown; renew it",
            user.id
        ))),
    }
}

async fn store_key(
    db: &Db,
    auth: &Authenticator,
    caller: Caller,
    login: String,
    key: Option<String>,
    self_ok: bool,
) -> Result<(), ApiError> {
    let vault = auth.base().vault.clone();
    db.write(move |c| {
        let user = load_administered(c, &caller, &login, self_ok)?;
        store_key_row(c, &vault, &user.id, key.as_deref(), caller.login())
    })
    .await
}

/// Issues a new key (text/plain): the user itself, its orgadmins, superadmins.
#[utoipa::path(tag = "user", responses((status = 200, content_type = "text/plain", body = String), (status = 403)))]
#[post("/api/user/{login}/key/renew")]
pub async fn renew_key(
    db: web::Data<Db>,
    auth: web::Data<Arc<Authenticator>>,
    caller: Caller,
    login: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let key = secrets::new_api_key();
    store_key(
        &db,
        &auth,
        caller,
        login.into_inner(),
        Some(key.clone()),
        true,
    )
    .await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(key))
}

/// Sets a given key, at least 32 characters (orgadmin, superadmin).
#[utoipa::path(tag = "user", request_body = InputSetKey, responses((status = 200, content_type = "text/plain", body = String), (status = 400), (status = 403)))]
#[post("/api/user/{login}/key/set")]
pub async fn set_key(
    db: web::Data<Db>,
    auth: web::Data<Arc<Authenticator>>,
    caller: Caller,
    login: web::Path<String>,
    body: JsonBody<InputSetKey>,
) -> Result<HttpResponse, ApiError> {
    let key = body.0.key;
    if key.len() < 32 || key.len() > 512 || key.chars().any(char::is_whitespace) {
        return Err(ApiError::attribute(
            "key",
            "must be 32 to 512 characters without spaces",
        ));
    }
    store_key(
        &db,
        &auth,
        caller,
        login.into_inner(),
        Some(key.clone()),
        false,
    )
    .await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(key))
}

/// Revokes a key (orgadmin, superadmin).
#[utoipa::path(tag = "user", responses((status = 204), (status = 403)))]
#[delete("/api/user/{login}/key")]
pub async fn revoke_key(
    db: web::Data<Db>,
    auth: web::Data<Arc<Authenticator>>,
    caller: Caller,
    login: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    store_key(&db, &auth, caller, login.into_inner(), None, false).await?;
    Ok(HttpResponse::NoContent().finish())
}
