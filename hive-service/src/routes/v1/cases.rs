//! `/api/v1/case`: cases, their tasks and observables, merging, alert links.

use super::alerts::{other_parent, similar};
use crate::audit::{self, ObjectType, Root};
use crate::auth::Caller;
use crate::casework::cases::{add_observables, add_task, delete_one, update_one};
use crate::casework::observables::{self as obs, Parent};
use crate::casework::{alerts, cases, find_alert, find_case, tasks, Actor};
use crate::db::schema::{custom_values, observables};
use crate::db::{parse_id, Db};
use crate::render;
use crate::render::rendered_case;
use actix_web::{delete, get, patch, post, web, HttpResponse};
use diesel::prelude::*;
use serde_json::{json, Value};
use service_kit::body::Upload;
use service_kit::error::ApiError;
use service_kit::extract::JsonBody;
use shared_models::casework::{
    InputCase, InputObservable, InputTask, OutputCase, OutputObservable, OutputTask,
};

/// Creates a case (from a template when `caseTemplate` is given).
#[utoipa::path(tag = "case", request_body = InputCase, responses((status = 201, body = OutputCase), (status = 400), (status = 403), (status = 404)))]
#[post("/api/v1/case")]
pub async fn create(
    db: web::Data<Db>,
    caller: Caller,
    body: JsonBody<InputCase>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageCase/create")?;
    let actor = Actor::of(&caller);
    let out = db
        .write(move |c| {
            let spec = alerts::case_spec(c, &actor, &body.0)?;
            let k = cases::create(c, &actor, spec)?;
            super::collab::insert_pages(
                c,
                &actor,
                k.id,
                body.0.pages.as_deref().unwrap_or_default(),
            )?;
            rendered_case(c, &k)
        })
        .await?;
    Ok(HttpResponse::Created().json(out))
}

/// One case, by `~id` or number.
#[utoipa::path(tag = "case", responses((status = 200, body = OutputCase), (status = 404)))]
#[get("/api/v1/case/{id}")]
pub async fn get(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let who = Actor::of(&caller);
    let out = db
        .read(move |c| {
            let k = find_case(c, &who, &id)?;
            rendered_case(c, &k)
        })
        .await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Updates a case; a closed status closes it (mandatory custom fields and tasks checked),
/// `New`/`InProgress` reopens it.
#[utoipa::path(tag = "case", request_body = Object, responses((status = 204), (status = 400), (status = 404)))]
#[patch("/api/v1/case/{id}")]
pub async fn update(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<Value>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageCase/update")?;
    let actor = Actor::of(&caller);
    db.write(move |c| update_one(c, &actor, &id, &body.0, Some(&["OutputCase"])).map(|_| ()))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Updates several cases (all or none).
#[utoipa::path(tag = "case", request_body = Object, responses((status = 204), (status = 400), (status = 404)))]
#[patch("/api/v1/case/_bulk")]
pub async fn bulk_update(
    db: web::Data<Db>,
    caller: Caller,
    body: JsonBody<Value>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageCase/update")?;
    let actor = Actor::of(&caller);
    let mut patch = body.0;
    let ids = crate::routes::take_ids(&mut patch)?;
    db.write(move |c| {
        for id in &ids {
            update_one(c, &actor, id, &patch, Some(&["OutputCase"]))?;
        }
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Deletes a case with its tasks, logs and observables; its alerts return to `New`.
#[utoipa::path(tag = "case", responses((status = 204), (status = 404)))]
#[delete("/api/v1/case/{id}")]
pub async fn remove(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageCase/delete")?;
    let who = Actor::of(&caller);
    db.write(move |c| delete_one(c, &who, &id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Merges cases (`/case/_merge/~1,~2`) into a new one; the sources are deleted.
#[utoipa::path(tag = "case", responses((status = 201, body = OutputCase), (status = 400), (status = 404)))]
#[post("/api/v1/case/_merge/{ids}")]
pub async fn merge(
    db: web::Data<Db>,
    caller: Caller,
    ids: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageCase/merge")?;
    let actor = Actor::of(&caller);
    let keys: Vec<String> = ids
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    if keys.len() < 2 {
        return Err(ApiError::BadRequest(
            "merging needs at least two cases".into(),
        ));
    }
    if keys.len() > 100 {
        return Err(ApiError::BadRequest(
            "at most 100 cases in one merge".into(),
        ));
    }
    let out = db
        .write(move |c| {
            let mut sources = Vec::new();
            for k in &keys {
                let found = find_case(c, &actor, k)?;
                crate::casework::require_owner(&actor, &found, "merges it")?;
                if sources
                    .iter()
                    .any(|s: &crate::db::casework::CaseRow| s.id == found.id)
                {
                    return Err(ApiError::BadRequest(format!("case {k} is named twice")));
                }
                sources.push(found);
            }
            let merged = cases::merge(c, &actor, &sources)?;
            rendered_case(c, &merged)
        })
        .await?;
    Ok(HttpResponse::Created().json(out))
}

/// Unlinks an alert from the case.
#[utoipa::path(tag = "case", responses((status = 204), (status = 404)))]
#[delete("/api/v1/case/{id}/alert/{alert_id}")]
pub async fn unlink_alert(
    db: web::Data<Db>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageCase/update")?;
    let actor = Actor::of(&caller);
    let (id, alert_id) = path.into_inner();
    db.write(move |c| {
        let k = find_case(c, &actor, &id)?;
        let mut a = find_alert(c, actor.org_id, &alert_id)?;
        if a.case_id != Some(k.id) {
            return Err(ApiError::NotFound(format!(
                "Alert {alert_id} is not linked to case {id}"
            )));
        }
        Ok(alerts::unlink(c, &actor, &mut a)?)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Observables of a case sharing (type, value or file hash).
type ObservableGroup = ((String, String), Vec<crate::db::casework::ObservableRow>);

/// Creates observables in a case (JSON, or multipart `_json` + `attachment` files).
#[utoipa::path(tag = "case", request_body = InputObservable, responses((status = 201, body = Vec<OutputObservable>), (status = 400), (status = 404)))]
#[post("/api/v1/case/{id}/observable")]
pub async fn create_observable(
    db: web::Data<Db>,
    state: web::Data<crate::ServiceState>,
    caller: Caller,
    id: web::Path<String>,
    body: Upload,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageObservable")?;
    let mut input: InputObservable = body.parse()?;
    let mut body = body;
    if input.is_zip.unwrap_or(false) {
        let part = input
            .attachment
            .as_ref()
            .and_then(Value::as_str)
            .unwrap_or("attachment")
            .to_string();
        body =
            service_kit::body::expand_zip(&state.uploads, body, part, input.zip_password.clone())
                .await?;
        input.is_zip = Some(false);
    }
    let actor = Actor::of(&caller);
    let staged = body.take_staged();
    let out = service_kit::body::write_keeping(&db, &state.uploads.datastore, staged, move |c| {
        let rows = add_observables(c, &actor, &id, &input, &body.files)?;
        Ok(render::observables(c, &rows)?)
    })
    .await?;
    Ok(HttpResponse::Created().json(out))
}

/// Creates a task in a case.
#[utoipa::path(tag = "case", request_body = InputTask, responses((status = 201, body = OutputTask), (status = 400), (status = 404)))]
#[post("/api/v1/case/{id}/task")]
pub async fn create_task(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<InputTask>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageTask")?;
    let input = tasks::check(&body.0, "")?;
    let actor = Actor::of(&caller);
    let out = db
        .write(move |c| Ok(render::task(&add_task(c, &actor, &id, &input)?)))
        .await?;
    Ok(HttpResponse::Created().json(out))
}

/// Collapses duplicate observables of a case (same type and value): tags merged into the
/// oldest.
#[utoipa::path(tag = "case", responses((status = 200, description = "`{untouched, updated, deleted}`"), (status = 404)))]
#[post("/api/v1/case/{id}/observable/_merge")]
pub async fn merge_observables(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageObservable")?;
    let actor = Actor::of(&caller);
    let out = db
        .write(move |c| {
            let k = find_case(c, &actor, &id)?;
            crate::casework::check_write(c, &actor, k.id, "manageObservable")?;
            let rows = obs::visible_children(c, &actor, Parent::Case(k.id))?;
            let mut groups: Vec<ObservableGroup> = Vec::new();
            for o in rows {
                let key = (o.data_type.clone(), o.data_hash.clone());
                match groups.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, g)) => g.push(o),
                    None => groups.push((key, vec![o])),
                }
            }
            let (mut untouched, mut updated, mut deleted) = (0, 0, 0);
            for (_, mut g) in groups {
                if g.len() == 1 {
                    untouched += 1;
                    continue;
                }
                let mut keep = g.remove(0);
                let before = keep.clone();
                let mut tags = crate::domain::values::tags_of(&keep.tags);
                for d in &g {
                    tags = crate::domain::values::union(
                        &tags,
                        &crate::domain::values::tags_of(&d.tags),
                    );
                    keep.ioc |= d.ioc;
                    keep.sighted |= d.sighted;
                }
                keep.tags = crate::domain::values::tags_json(&tags);
                keep.updated_by = Some(actor.login.clone());
                keep.updated_at = Some(crate::db::now_ms());
                diesel::update(observables::table.find(keep.id))
                    .set(&keep)
                    .execute(c)?;
                let mut details = audit::changes(&before, &keep);
                details.insert(
                    "merged".into(),
                    json!(g
                        .iter()
                        .map(|d| crate::db::format_id(d.id))
                        .collect::<Vec<_>>()),
                );
                audit::merged(
                    &actor,
                    ObjectType::Observable,
                    keep.id,
                    details,
                    Some(Root::Case(k.id)),
                );
                obs::delete(c, &g)?;
                updated += 1;
                deleted += g.len();
            }
            Ok(json!({ "untouched": untouched, "updated": updated, "deleted": deleted }))
        })
        .await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Observables of this case also found in another alert or case.
#[utoipa::path(tag = "case", responses((status = 200, body = Vec<OutputObservable>), (status = 404)))]
#[get("/api/v1/case/{id}/similar/{other}/observables")]
pub async fn similar_observables(
    db: web::Data<Db>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let who = Actor::of(&caller);
    let (id, other) = path.into_inner();
    let out = db
        .read(move |c| {
            let k = find_case(c, &who, &id)?;
            let mine = obs::visible_children(c, &who, Parent::Case(k.id))?;
            let theirs = other_parent(c, &who, &other)?;
            similar(c, mine, theirs)
        })
        .await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Removes one custom field value (`customFields[i]._id`) from a case.
#[utoipa::path(tag = "case", responses((status = 204), (status = 404)))]
#[delete("/api/v1/case/customField/{id}")]
pub async fn delete_custom_value(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageCase/update")?;
    let actor = Actor::of(&caller);
    db.write(move |c| {
        let value_id = parse_id(&id)
            .ok_or_else(|| ApiError::NotFound(format!("CustomField {id} not found")))?;
        let owner: Option<i64> = custom_values::table
            .find(value_id)
            .select(custom_values::entity_id)
            .first(c)
            .optional()?;
        // The value of a case the caller sees and may change.
        let case = owner
            .and_then(|k| find_case(c, &actor, &crate::db::format_id(k)).ok())
            .ok_or_else(|| ApiError::NotFound(format!("CustomField {id} not found")))?;
        crate::casework::check_share_permission(c, &actor, &case, "manageCase/update")?;
        diesel::delete(custom_values::table.find(value_id)).execute(c)?;
        let mut details = serde_json::Map::new();
        details.insert(
            "removeCustomField".into(),
            json!(crate::db::format_id(value_id)),
        );
        audit::updated_with(
            &actor,
            ObjectType::Case,
            case.id,
            details,
            Some(Root::Case(case.id)),
        );
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
