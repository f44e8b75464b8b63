//! Users: create, get, update, lock, delete, memberships, passwords and API keys. Who may do
//! what to which account is decided by [`crate::access::accounts`], for every route here.

use crate::access::accounts;
use crate::audit::{Action, ObjectType};
use crate::auth::{secrets, Authenticator, Caller, ADMIN_ORG};
use crate::db::models::{memberships_of, Membership, MembershipRow, UserRow};
use crate::db::schema::*;
use crate::db::{format_id, now_ms, Db, DbConn};
use crate::domain::permissions;
use crate::routes::{
    check_name, check_text, find_organisation, find_profile, find_user, not_found, render_user,
};
use actix_web::{delete, get, patch, post, put, web, HttpRequest, HttpResponse};
use diesel::prelude::*;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use service_kit::error::ApiError;
use service_kit::extract::JsonBody;
use shared_models::hive::*;
use std::sync::Arc;

use crate::auth::key_context;

/// Loads a user and its memberships if the caller may see it, else 404.
fn load_visible(
    c: &mut DbConn,
    caller: &Caller,
    key: &str,
) -> Result<(UserRow, Vec<Membership>), ApiError> {
    let user = find_user(c, key)?.ok_or_else(|| not_found("User", key))?;
    let memberships = memberships_of(c, user.id)?;
    if !accounts::may_see(caller, &user, &memberships) {
        return Err(not_found("User", key));
    }
    Ok((user, memberships))
}

/// Loads a user whose whole account the caller may manage (itself too when `self_ok`),
/// else 404 (not visible) or 403; `what` names the change in the refusal.
fn load_managed(
    c: &mut DbConn,
    caller: &Caller,
    key: &str,
    self_ok: bool,
    what: &str,
) -> Result<(UserRow, Vec<Membership>), ApiError> {
    let (user, memberships) = load_visible(c, caller, key)?;
    if !(self_ok && user.id == caller.user.id) {
        accounts::require_manage_account(caller, &user, &memberships, what)?;
    }
    Ok((user, memberships))
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

/// Records a change of `user`'s account by the caller.
fn record(caller: &Caller, action: Action, user: &UserRow, details: Value) {
    crate::routes::audit_admin(caller, action, ObjectType::User, user.id, details);
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

/// Creates a user in an organisation the caller administers. A login that exists already
/// is refused (`CreateError`) whatever organisation holds it: an existing account joins
/// another organisation only through `PUT /api/v1/user/{id}/organisations`.
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
    let password = input.password.clone();
    if let Some(p) = &password {
        secrets::check_password_rules(p).map_err(|m| ApiError::attribute("password", m))?;
    }
    let org_key = input
        .organisation
        .clone()
        .unwrap_or_else(|| caller.organisation.name.clone());
    let profile_key = input.profile.clone();
    let user_type = input.user_type.unwrap_or(UserType::Normal);
    let caller2 = caller.clone();
    // Checked before the (slow) password hash, and again in the transaction. Creating
    // again a user the caller sees in that organisation answers it unchanged (as TheHive's
    // create is idempotent); any other existing login is refused without saying where it is.
    let (taken_login, caller3, org3) = (login.clone(), caller.clone(), org_key.clone());
    let taken = db
        .read(move |c| {
            let Some(user) = find_user(c, &taken_login)? else {
                return Ok(None);
            };
            let memberships = memberships_of(c, user.id)?;
            let here = memberships
                .iter()
                .any(|m| m.organisation.name == org3 || format_id(m.organisation.id) == org3);
            Ok(Some(
                (here && accounts::may_see(&caller3, &user, &memberships))
                    .then_some((user, memberships)),
            ))
        })
        .await?;
    match taken {
        Some(Some((user, memberships))) => {
            return Ok(HttpResponse::Created().json(render_user(&user, &memberships, &caller)))
        }
        Some(None) => return Err(ApiError::Create(format!("User {login} already exists"))),
        None => {}
    }
    let password_hash = match password {
        Some(p) => Some(
            web::block(move || secrets::hash_password(&p))
                .await
                .map_err(ApiError::internal)?
                .map_err(ApiError::internal)?,
        ),
        None => None,
    };
    let login2 = login.clone();
    let (user, memberships) = db
        .write(move |c| {
            let org = find_organisation(c, &org_key)?
                .ok_or_else(|| not_found("Organisation", &org_key))?;
            accounts::require_administers(&caller2, org.id, &org_key)?;
            let profile =
                find_profile(c, &profile_key)?.ok_or_else(|| not_found("Profile", &profile_key))?;
            check_profile_fits(&profile, &org.name)?;
            if !accounts::may_give_profile(&caller2, &profile.name) {
                return Err(ApiError::Authorization(
                    "Only platform administrators give profile admin".into(),
                ));
            }
            if find_user(c, &login2)?.is_some() {
                return Err(ApiError::Create(format!("User {login2} already exists")));
            }
            let row = UserRow {
                email,
                user_type: user_type.as_str().into(),
                password_hash,
                ..UserRow::new(&login2, &name, caller2.login())
            };
            diesel::insert_into(users::table)
                .values(&row)
                .execute(c)
                .map_err(|e| {
                    crate::db::duplicate_as(e, || {
                        ApiError::Create(format!("User {login2} already exists"))
                    })
                })?;
            diesel::insert_into(memberships::table)
                .values(&MembershipRow {
                    user_id: row.id,
                    organisation_id: org.id,
                    profile_id: profile.id,
                    is_default: true,
                })
                .execute(c)?;
            record(
                &caller2,
                Action::Create,
                &row,
                json!({"login": row.login, "name": row.name, "email": row.email,
                       "type": row.user_type, "organisation": org.name, "profile": profile.name}),
            );
            Ok((row.clone(), memberships_of(c, row.id)?))
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

/// Updates a user. Name, e-mail, avatar and default organisation: the user, or who manages
/// the whole account; lock and type: who manages the whole account; the profile of a
/// membership: who administers that organisation.
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
    let details = json!({
        "name": name, "email": email, "locked": input.locked,
        "type": input.user_type.map(|t| t.as_str()), "profile": input.profile,
        "organisation": input.organisation, "defaultOrganisation": input.default_organisation,
    });
    let avatar_changed = avatar.is_some();
    db.write(move |c| {
        let (user, memberships) = load_visible(c, &caller, &id)?;
        let mut set: Map<String, Value> = details
            .as_object()
            .map(|m| {
                m.iter()
                    .filter(|(_, v)| !v.is_null())
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default();
        if avatar_changed {
            set.insert("avatar".into(), "<changed>".into());
        }
        record(&caller, Action::Update, &user, Value::Object(set));
        let is_self = user.id == caller.user.id;
        let account_wide = name.is_some()
            || email.is_some()
            || avatar.is_some()
            || input.default_organisation.is_some();
        if (account_wide && !is_self) || input.locked.is_some() || input.user_type.is_some() {
            accounts::require_manage_account(&caller, &user, &memberships, "change the account")?;
        }
        if input.locked == Some(true) && is_self {
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
            if l {
                crate::auth::end_sessions(c, user.id)?;
            }
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
            let m = membership_in(&user, &memberships, &org_key)?;
            accounts::require_administers(&caller, m.organisation.id, &org_key)?;
            let profile =
                find_profile(c, profile_key)?.ok_or_else(|| not_found("Profile", profile_key))?;
            check_profile_fits(&profile, &m.organisation.name)?;
            if !accounts::may_give_profile(&caller, &profile.name) {
                return Err(ApiError::Authorization(
                    "Only platform administrators give profile admin".into(),
                ));
            }
            if is_self && profile.id != m.profile.id {
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
            let m = membership_in(&user, &memberships, org_key)?;
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

/// The membership of `user` in the organisation named (or `~id`) `org_key`, else 400.
fn membership_in<'a>(
    user: &UserRow,
    memberships: &'a [Membership],
    org_key: &str,
) -> Result<&'a Membership, ApiError> {
    memberships
        .iter()
        .find(|m| m.organisation.name == org_key || format_id(m.organisation.id) == org_key)
        .ok_or_else(|| {
            ApiError::BadRequest(format!("User {} is not a member of {org_key}", user.login))
        })
}

/// Legacy delete: locks the user (and ends its sessions).
#[utoipa::path(tag = "user", responses((status = 204), (status = 403), (status = 404)))]
#[delete("/api/v1/user/{id}")]
pub async fn lock_user(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    db.write(move |c| {
        let (user, _) = load_managed(c, &caller, &id, false, "lock the account")?;
        if user.id == caller.user.id {
            return Err(ApiError::BadRequest(
                "You cannot lock your own account".into(),
            ));
        }
        record(&caller, Action::Update, &user, json!({"locked": true}));
        diesel::update(users::table.find(user.id))
            .set((
                users::locked.eq(true),
                users::updated_by.eq(caller.login()),
                users::updated_at.eq(now_ms()),
            ))
            .execute(c)?;
        crate::auth::end_sessions(c, user.id)?;
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
/// The user's sessions end either way.
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
        let (user, memberships) = load_visible(c, &caller, &id)?;
        if user.id == caller.user.id {
            return Err(ApiError::BadRequest(
                "You cannot delete your own account".into(),
            ));
        }
        record(
            &caller,
            Action::Delete,
            &user,
            json!({"login": user.login, "organisation": org_param}),
        );
        let whole = accounts::is_platform_admin(&caller)
            && org_param.as_deref().is_none_or(|o| o == ADMIN_ORG);
        if whole {
            diesel::delete(users::table.find(user.id)).execute(c)?;
            return Ok(());
        }
        let org_key = org_param.unwrap_or_else(|| caller.organisation.name.clone());
        let m = memberships
            .iter()
            .find(|m| m.organisation.name == org_key || format_id(m.organisation.id) == org_key)
            .ok_or_else(|| {
                ApiError::NotFound(format!(
                    "User {} is not in organisation {org_key}",
                    user.login
                ))
            })?;
        accounts::require_administers(&caller, m.organisation.id, &org_key)?;
        diesel::delete(
            memberships::table
                .filter(memberships::user_id.eq(user.id))
                .filter(memberships::organisation_id.eq(m.organisation.id)),
        )
        .execute(c)?;
        if memberships.len() == 1 {
            diesel::delete(users::table.find(user.id)).execute(c)?;
        } else {
            crate::auth::end_sessions(c, user.id)?;
        }
        Ok(())
    })
    .await?;
    crate::auth::changed();
    Ok(HttpResponse::NoContent().finish())
}

/// Replaces the memberships of a user: by someone who administers every organisation the
/// account belongs to and every one it is given (a platform administrator for the `admin`
/// organisation). The user's sessions end.
#[utoipa::path(tag = "user", request_body = InputUserOrganisations, responses((status = 200, body = InputUserOrganisations), (status = 403)))]
#[put("/api/v1/user/{id}/organisations")]
pub async fn set_organisations(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<InputUserOrganisations>,
) -> Result<HttpResponse, ApiError> {
    let wanted = body.0.organisations;
    if wanted.is_empty() {
        return Err(ApiError::attribute("organisations", "must not be empty"));
    }
    if wanted.len() > 1000 {
        return Err(ApiError::attribute("organisations", "at most 1000"));
    }
    let out = db
        .write(move |c| {
            let (user, _) = load_managed(c, &caller, &id, false, "change the memberships")?;
            let mut rows = Vec::new();
            let mut echo = Vec::new();
            let any_default = wanted.iter().any(|w| w.default);
            for (i, w) in wanted.iter().enumerate() {
                let org = find_organisation(c, &w.organisation)?
                    .ok_or_else(|| not_found("Organisation", &w.organisation))?;
                accounts::require_administers(&caller, org.id, &w.organisation)?;
                let profile =
                    find_profile(c, &w.profile)?.ok_or_else(|| not_found("Profile", &w.profile))?;
                check_profile_fits(&profile, &org.name)?;
                if !accounts::may_give_profile(&caller, &profile.name) {
                    return Err(ApiError::Authorization(
                        "Only platform administrators give profile admin".into(),
                    ));
                }
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
            record(
                &caller,
                Action::Update,
                &user,
                json!({"organisations": echo}),
            );
            diesel::delete(memberships::table.filter(memberships::user_id.eq(user.id)))
                .execute(c)?;
            for row in &rows {
                diesel::insert_into(memberships::table)
                    .values(row)
                    .execute(c)?;
            }
            if user.id != caller.user.id {
                crate::auth::end_sessions(c, user.id)?;
            }
            Ok(echo)
        })
        .await?;
    crate::auth::changed();
    Ok(HttpResponse::Ok().json(InputUserOrganisations { organisations: out }))
}

/// Sets a user's password (who manages the whole account). The user's sessions end.
#[utoipa::path(tag = "user", request_body = InputSetPassword, responses((status = 204), (status = 403)))]
#[post("/api/v1/user/{id}/password/set")]
pub async fn set_password(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<InputSetPassword>,
) -> Result<HttpResponse, ApiError> {
    let (caller2, id2) = (caller.clone(), id.clone());
    db.read(move |c| load_managed(c, &caller2, &id2, false, "set the password"))
        .await?;
    let hash = web::block(move || hash_new_password(&body.0.password))
        .await
        .map_err(ApiError::internal)??;
    db.write(move |c| {
        let (user, _) = load_managed(c, &caller, &id, false, "set the password")?;
        store_password(c, &caller, &user, &hash)?;
        crate::auth::end_sessions(c, user.id)?;
        Ok(())
    })
    .await?;
    crate::auth::changed();
    Ok(HttpResponse::NoContent().finish())
}

fn store_password(
    c: &mut DbConn,
    caller: &Caller,
    user: &UserRow,
    hash: &str,
) -> Result<(), ApiError> {
    record(
        caller,
        Action::Update,
        user,
        json!({"password": "<hidden>"}),
    );
    let by = caller.login();
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

/// Changes one's own password, given the current one. Other sessions end.
#[utoipa::path(tag = "user", request_body = InputChangePassword, responses((status = 204), (status = 401), (status = 403)))]
#[post("/api/v1/user/{id}/password/change")]
pub async fn change_password(
    db: web::Data<Db>,
    auth: web::Data<Arc<Authenticator>>,
    req: HttpRequest,
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
    auth.check_password(
        &user.login,
        &body.0.current_password,
        service_kit::http::client_ip(&req),
    )
    .await?;
    let new = body.0.password.clone();
    let hash = web::block(move || hash_new_password(&new))
        .await
        .map_err(ApiError::internal)??;
    db.write(move |c| {
        store_password(c, &caller, &user, &hash)?;
        crate::auth::end_sessions(c, user.id)
            .map_err(ApiError::from)
            .map(|_| ())
    })
    .await?;
    crate::auth::changed();
    Ok(HttpResponse::NoContent().finish())
}

/// The API key of a user (text/plain), for the user itself and who manages its account, as
/// TheHive answers it. Keys are kept encrypted under the server key; a key issued before
/// they were (stored as a digest only) cannot be shown and must be renewed.
#[utoipa::path(tag = "user", responses((status = 200, content_type = "text/plain", body = String), (status = 403), (status = 404)))]
#[get("/api/v1/user/{id}/key")]
pub async fn get_key(
    db: web::Data<Db>,
    auth: web::Data<Arc<Authenticator>>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (user, _) = db
        .read(move |c| load_managed(c, &caller, &id, true, "read the API key"))
        .await?;
    match (&user.api_key_hash, &user.api_key_secret) {
        (None, _) => Err(ApiError::NotFound(format!(
            "User {} hasn't key",
            user.login
        ))),
        (Some(_), Some(sealed)) => {
            let key = auth
                .base()
                .vault
                .open(&key_context(user.id), sealed)
                .ok_or_else(|| ApiError::internal("the API key does not open with this key"))?;
            Ok(HttpResponse::Ok()
                .content_type("text/plain; charset=utf-8")
                .body(key))
        }
        (Some(_), None) => Err(ApiError::NotFound(format!(
            "The API key of {} was issued before keys were kept and cannot be shown; renew it",
            user.login
        ))),
    }
}

/// Issues a new API key (text/plain), replacing the old one: the user itself, or who
/// manages its account.
#[utoipa::path(tag = "user", responses((status = 200, content_type = "text/plain", body = String), (status = 403)))]
#[post("/api/v1/user/{id}/key/renew")]
pub async fn renew_key(
    db: web::Data<Db>,
    auth: web::Data<Arc<Authenticator>>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let key = secrets::new_api_key();
    let (auth2, key2) = (auth.clone(), key.clone());
    db.write(move |c| {
        let (user, _) = load_managed(c, &caller, &id, true, "renew the API key")?;
        let (digest, sealed) = auth2
            .base()
            .vault
            .key_columns(&key_context(user.id), Some(&key2))
            .map_err(ApiError::internal)?;
        record(&caller, Action::Update, &user, json!({"key": "<hidden>"}));
        diesel::update(users::table.find(user.id))
            .set((
                users::api_key_hash.eq(digest),
                users::api_key_secret.eq(sealed),
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
        let (user, _) = load_managed(c, &caller, &id, true, "revoke the API key")?;
        record(&caller, Action::Update, &user, json!({"key": null}));
        diesel::update(users::table.find(user.id))
            .set((
                users::api_key_hash.eq(None::<String>),
                users::api_key_secret.eq(None::<String>),
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
