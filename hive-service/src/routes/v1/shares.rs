//! Sharing cases with other organisations (under a profile), sharing their tasks and
//! observables, restricting a case to some users, handing a case to another organisation.

use crate::audit::{self, ObjectType, Root};
use crate::auth::Caller;
use crate::casework::shares::*;
use crate::casework::{find_case, find_observable, find_task, Actor};
use crate::db::casework::{CaseRow, ShareRow};
use crate::db::schema::{cases, observables, shared_items, shares, tasks};
use crate::db::{format_id, now_ms, parse_id, Db, DbConn};
use actix_web::{delete, get, patch, post, put, web, HttpResponse};
use diesel::prelude::*;
use serde_json::json;
use service_kit::error::ApiError;
use service_kit::extract::JsonBody;
use shared_models::casework::{
    InputCaseAccess, InputCaseOwner, InputOrganisations, InputShare, InputShareProfile,
    InputShares, OutputShare,
};

/// Organisations the case is shared with (other than the caller's); an unknown id lists
/// none, as thehive4py lists an observable's shares through this route.
#[utoipa::path(tag = "share", responses((status = 200, body = Vec<OutputShare>)))]
#[get("/api/v1/case/{id}/shares")]
pub async fn list_shares(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let actor = Actor::of(&caller);
    let out = db
        .read(move |c| match find_case(c, &actor, &id) {
            Ok(k) => shares_of(c, k.id, actor.org_id),
            Err(ApiError::NotFound(_)) => Ok(Vec::new()),
            Err(e) => Err(e),
        })
        .await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Shares the case with organisations (`{shares: [{organisation, profile?, taskRule?,
/// observableRule?}]}`).
#[utoipa::path(tag = "share", request_body = InputShares, responses((status = 201, body = Vec<OutputShare>), (status = 400), (status = 403), (status = 404)))]
#[post("/api/v1/case/{id}/shares")]
pub async fn share(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<InputShares>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageShare")?;
    let wanted = share_list(body.0)?;
    let actor = Actor::of(&caller);
    let out = db
        .write(move |c| {
            let k = owned_case(c, &actor, &id)?;
            let rows = wanted
                .iter()
                .map(|s| upsert(c, &actor, &k, s))
                .collect::<Result<Vec<_>, _>>()?;
            rows.iter()
                .map(|s| render(c, s))
                .collect::<Result<Vec<_>, _>>()
        })
        .await?;
    Ok(HttpResponse::Created().json(out))
}

/// Sets the case's shares to exactly these.
#[utoipa::path(tag = "share", request_body = InputShares, responses((status = 200, body = Vec<OutputShare>), (status = 400), (status = 403), (status = 404)))]
#[put("/api/v1/case/{id}/shares")]
pub async fn set(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<InputShares>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageShare")?;
    let wanted = share_list(body.0)?;
    let actor = Actor::of(&caller);
    let out = db
        .write(move |c| {
            let k = owned_case(c, &actor, &id)?;
            let kept = wanted
                .iter()
                .map(|s| upsert(c, &actor, &k, s))
                .collect::<Result<Vec<_>, _>>()?;
            let current: Vec<i64> = shares::table
                .filter(shares::case_id.eq(k.id))
                .select(shares::organisation_id)
                .load(c)?;
            for org in current {
                if !kept.iter().any(|s| s.organisation_id == org) {
                    unshare(c, &actor, k.id, org)?;
                }
            }
            shares_of(c, k.id, actor.org_id)
        })
        .await?;
    Ok(HttpResponse::Ok().json(out))
}

fn organisations_of(body: InputOrganisations) -> Result<Vec<String>, ApiError> {
    if body.organisations.len() > 1000 {
        return Err(ApiError::attribute(
            "organisations",
            "at most 1000 organisations",
        ));
    }
    Ok(body.organisations)
}

/// Stops sharing the case with organisations (`{organisations: [...]}`).
#[utoipa::path(tag = "share", request_body = InputOrganisations, responses((status = 204), (status = 403), (status = 404)))]
#[delete("/api/v1/case/{id}/shares")]
pub async fn remove(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<InputOrganisations>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageShare")?;
    let orgs = organisations_of(body.0)?;
    let actor = Actor::of(&caller);
    db.write(move |c| {
        let k = owned_case(c, &actor, &id)?;
        for key in &orgs {
            let org = organisation(c, key)?;
            unshare(c, &actor, k.id, org.id)?;
        }
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

fn find_share(c: &mut DbConn, actor: &Actor, key: &str) -> Result<ShareRow, ApiError> {
    let row: Option<ShareRow> = match parse_id(key) {
        Some(id) => shares::table
            .find(id)
            .select(ShareRow::as_select())
            .first(c)
            .optional()?,
        None => None,
    };
    let row = row.ok_or_else(|| ApiError::NotFound(format!("Share {key} not found")))?;
    owned_case(c, actor, &format_id(row.case_id))
        .map_err(|_| ApiError::NotFound(format!("Share {key} not found")))?;
    Ok(row)
}

/// Removes one share.
#[utoipa::path(tag = "share", responses((status = 204), (status = 404)))]
#[delete("/api/v1/case/share/{id}")]
pub async fn remove_one(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageShare")?;
    let actor = Actor::of(&caller);
    db.write(move |c| {
        let s = find_share(c, &actor, &id)?;
        unshare(c, &actor, s.case_id, s.organisation_id)?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Changes the profile of a share (`{profile}`).
#[utoipa::path(tag = "share", request_body = InputShareProfile, responses((status = 204), (status = 404)))]
#[patch("/api/v1/case/share/{id}")]
pub async fn update_one(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<InputShareProfile>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageShare")?;
    let actor = Actor::of(&caller);
    db.write(move |c| {
        let mut s = find_share(c, &actor, &id)?;
        let p = profile(c, &body.0.profile)?;
        s.profile_id = p.id;
        s.updated_by = Some(actor.login.clone());
        s.updated_at = Some(now_ms());
        diesel::update(shares::table.find(s.id))
            .set(&s)
            .execute(c)?;
        let org = organisation(c, &format_id(s.organisation_id))?;
        let mut details = serde_json::Map::new();
        details.insert(
            "share".into(),
            json!({"organisation": org.name, "profile": p.name}),
        );
        audit::updated_with(
            &actor,
            ObjectType::Case,
            s.case_id,
            details,
            Some(Root::Case(s.case_id)),
        );
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

enum Item {
    Task,
    Observable,
}

fn item_case(
    c: &mut DbConn,
    actor: &Actor,
    item: &Item,
    key: &str,
) -> Result<(i64, i64), ApiError> {
    Ok(match item {
        Item::Task => {
            let t = find_task(c, actor, key)?;
            (t.id, t.case_id)
        }
        Item::Observable => {
            let o = find_observable(c, actor, key)?;
            let case_id = o.case_id.ok_or_else(|| {
                ApiError::BadRequest("only observables of cases are shared".into())
            })?;
            (o.id, case_id)
        }
    })
}

async fn share_item(
    db: web::Data<Db>,
    caller: Caller,
    item: Item,
    key: String,
    body: InputOrganisations,
    add: bool,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageShare")?;
    let orgs = organisations_of(body)?;
    let actor = Actor::of(&caller);
    db.write(move |c| {
        let (id, case_id) = item_case(c, &actor, &item, &key)?;
        owned_case(c, &actor, &format_id(case_id))?;
        for o in &orgs {
            let org = organisation(c, o)?;
            if org.id == actor.org_id {
                continue;
            }
            let shared: i64 = shares::table
                .filter(shares::case_id.eq(case_id))
                .filter(shares::organisation_id.eq(org.id))
                .count()
                .get_result(c)?;
            if shared == 0 {
                return Err(ApiError::NotFound(format!(
                    "The case is not shared with organisation {}",
                    org.name
                )));
            }
            let mut details = serde_json::Map::new();
            details.insert(
                if add { "share" } else { "unshare" }.into(),
                json!({"organisation": org.name}),
            );
            let kind = match item {
                Item::Task => ObjectType::Task,
                Item::Observable => ObjectType::Observable,
            };
            audit::updated_with(&actor, kind, id, details, Some(Root::Case(case_id)));
            if add {
                share_items(c, &[id], org.id)?;
            } else {
                diesel::delete(
                    shared_items::table
                        .filter(shared_items::entity_id.eq(id))
                        .filter(shared_items::organisation_id.eq(org.id)),
                )
                .execute(c)?;
            }
        }
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn item_shares(
    db: web::Data<Db>,
    caller: Caller,
    item: Item,
    key: String,
) -> Result<HttpResponse, ApiError> {
    let actor = Actor::of(&caller);
    let out = db
        .read(move |c| {
            let (id, case_id) = item_case(c, &actor, &item, &key)?;
            item_shares_of(c, id, case_id, actor.org_id)
        })
        .await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Shares a task with organisations the case is shared with.
#[utoipa::path(tag = "share", request_body = InputOrganisations, responses((status = 204), (status = 404)))]
#[post("/api/v1/task/{id}/shares")]
pub async fn share_task(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<InputOrganisations>,
) -> Result<HttpResponse, ApiError> {
    share_item(db, caller, Item::Task, id.into_inner(), body.0, true).await
}

/// Stops sharing a task.
#[utoipa::path(tag = "share", request_body = InputOrganisations, responses((status = 204), (status = 404)))]
#[delete("/api/v1/task/{id}/shares")]
pub async fn unshare_task(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<InputOrganisations>,
) -> Result<HttpResponse, ApiError> {
    share_item(db, caller, Item::Task, id.into_inner(), body.0, false).await
}

/// Organisations a task is shared with (other than the caller's).
#[utoipa::path(tag = "share", responses((status = 200, body = Vec<OutputShare>), (status = 404)))]
#[get("/api/v1/task/{id}/shares")]
pub async fn task_shares(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    item_shares(db, caller, Item::Task, id.into_inner()).await
}

/// Shares an observable with organisations the case is shared with.
#[utoipa::path(tag = "share", request_body = InputOrganisations, responses((status = 204), (status = 404)))]
#[post("/api/v1/observable/{id}/shares")]
pub async fn share_observable(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<InputOrganisations>,
) -> Result<HttpResponse, ApiError> {
    share_item(db, caller, Item::Observable, id.into_inner(), body.0, true).await
}

/// Stops sharing an observable.
#[utoipa::path(tag = "share", request_body = InputOrganisations, responses((status = 204), (status = 404)))]
#[delete("/api/v1/observable/{id}/shares")]
pub async fn unshare_observable(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<InputOrganisations>,
) -> Result<HttpResponse, ApiError> {
    share_item(db, caller, Item::Observable, id.into_inner(), body.0, false).await
}

/// Organisations an observable is shared with (other than the caller's).
#[utoipa::path(tag = "share", responses((status = 200, body = Vec<OutputShare>), (status = 404)))]
#[get("/api/v1/observable/{id}/shares")]
pub async fn observable_shares(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    item_shares(db, caller, Item::Observable, id.into_inner()).await
}

/// Restricts a case to some users (`{access: {_kind: "UserAccessKind", users: [...]}}`) or
/// opens it to its organisations again (`OrganisationAccessKind`).
#[utoipa::path(tag = "case", request_body = InputCaseAccess, responses((status = 204), (status = 400), (status = 404)))]
#[post("/api/v1/case/{id}/access")]
pub async fn access(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<InputCaseAccess>,
) -> Result<HttpResponse, ApiError> {
    // Restricting a case hides it from the rest of the organisation: not for every analyst.
    caller.require("manageCaseAccess/restrict")?;
    let actor = Actor::of(&caller);
    db.write(move |c| {
        let mut k = owned_case(c, &actor, &id)?;
        let before = k.clone();
        let access = body.0.into_access();
        let kind = access
            .kind
            .ok_or_else(|| ApiError::missing("access._kind"))?;
        match kind.as_str() {
            "OrganisationAccessKind" => {
                k.access_kind = kind;
                k.access_users = None;
            }
            "UserAccessKind" => {
                let users: Vec<String> = access
                    .users
                    .ok_or_else(|| ApiError::missing("access.users"))?
                    .iter()
                    .map(|u| u.trim().to_lowercase())
                    .collect();
                if users.len() > 1000 {
                    return Err(ApiError::attribute("access.users", "at most 1000 users"));
                }
                for u in &users {
                    crate::casework::check_assignee(c, actor.org_id, u)?;
                }
                k.access_kind = kind;
                k.access_users = Some(serde_json::to_string(&users).map_err(ApiError::internal)?);
            }
            other => {
                return Err(ApiError::attribute(
                    "access._kind",
                    format!("{other} is not OrganisationAccessKind nor UserAccessKind"),
                ))
            }
        }
        k.updated_by = Some(actor.login.clone());
        k.updated_at = Some(now_ms());
        diesel::update(cases::table.find(k.id)).set(&k).execute(c)?;
        audit::updated(
            &actor,
            ObjectType::Case,
            k.id,
            &before,
            &k,
            Some(Root::Case(k.id)),
        );
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Hands the case to another organisation (`{organisation, keepProfile?}`); the former owner
/// keeps a share under `keepProfile` if given.
#[utoipa::path(tag = "case", request_body = InputCaseOwner, responses((status = 204), (status = 400), (status = 404)))]
#[post("/api/v1/case/{id}/owner")]
pub async fn change_owner(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<InputCaseOwner>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageCase/changeOwnership")?;
    let actor = Actor::of(&caller);
    db.write(move |c| {
        let k = owned_case(c, &actor, &id)?;
        let to = organisation(c, &body.0.organisation)?;
        if to.id == k.organisation_id {
            return Ok(());
        }
        let mut details = serde_json::Map::new();
        details.insert(
            "owner".into(),
            json!({"organisation": to.name, "from": actor.org_name}),
        );
        audit::updated_with(
            &actor,
            ObjectType::Case,
            k.id,
            details,
            Some(Root::Case(k.id)),
        );
        unshare(c, &actor, k.id, to.id)?;
        diesel::update(cases::table.find(k.id))
            .set(cases::organisation_id.eq(to.id))
            .execute(c)?;
        diesel::update(tasks::table.filter(tasks::case_id.eq(k.id)))
            .set(tasks::organisation_id.eq(to.id))
            .execute(c)?;
        diesel::update(observables::table.filter(observables::case_id.eq(k.id)))
            .set(observables::organisation_id.eq(to.id))
            .execute(c)?;
        if let Some(p) = &body.0.keep_profile {
            let moved = CaseRow {
                organisation_id: to.id,
                ..k.clone()
            };
            let mover = Actor {
                org_id: to.id,
                ..actor.clone()
            };
            let rule = |r: &Option<String>| Some(r.clone().unwrap_or_else(|| "autoShare".into()));
            let keep = InputShare {
                organisation: actor.org_name.clone(),
                profile: Some(p.clone()),
                task_rule: rule(&body.0.task_rule),
                observable_rule: rule(&body.0.observable_rule),
            };
            upsert(c, &mover, &moved, &keep)?;
        }
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Sharing profiles: the profiles a case can be shared under.
#[utoipa::path(tag = "share", responses((status = 200, body = Vec<Object>)))]
#[get("/api/v1/sharingProfile")]
pub async fn sharing_profiles(
    db: web::Data<Db>,
    _caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let out = db.read(crate::casework::shares::sharing_profiles).await?;
    Ok(HttpResponse::Ok().json(out))
}
