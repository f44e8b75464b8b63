//! `/api/v1/alert`: alerts, their observables, and the alert → case flows.

use crate::auth::Caller;
use crate::casework::alerts::{add_observables, update_one};
use crate::casework::observables::{self as obs, Parent};
use crate::casework::{alerts, find_alert, find_case, Actor};
use crate::db::{Db, DbConn};
use crate::render;
use crate::render::rendered_case;
use actix_web::{delete, get, patch, post, web, HttpResponse};
use serde::Deserialize;
use serde_json::Value;
use service_kit::body::Upload;
use service_kit::error::ApiError;
use service_kit::extract::JsonBody;
use shared_models::casework::{
    InputAlert, InputAlertCase, InputBulkIds, InputObservable, OutputAlert, OutputCase,
    OutputObservable,
};

/// Creates an alert with its observables (JSON, or multipart with `_json` and file parts
/// named by `observables[].attachment`).
#[utoipa::path(tag = "alert", request_body = InputAlert, responses((status = 201, body = OutputAlert), (status = 400), (status = 403), (status = 413)))]
#[post("/api/v1/alert")]
pub async fn create(
    db: web::Data<Db>,
    state: web::Data<crate::ServiceState>,
    caller: Caller,
    mut body: Upload,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageAlert/create")?;
    let input: InputAlert = body.parse()?;
    let actor = Actor::of(&caller);
    let staged = body.take_staged();
    let out = service_kit::body::write_keeping(&db, &state.uploads.datastore, staged, move |c| {
        let new = alerts::check(c, &actor, &input, &body.files)?;
        alerts::insert(c, &actor, new)
    })
    .await?;
    Ok(HttpResponse::Created().json(out))
}

/// One alert, by `~id` or `type;source;sourceRef`.
#[utoipa::path(tag = "alert", responses((status = 200, body = OutputAlert), (status = 404)))]
#[get("/api/v1/alert/{id}")]
pub async fn get(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let org = caller.organisation.id;
    let out = db
        .read(move |c| {
            let a = find_alert(c, org, &id)?;
            crate::render::rendered_alert(c, &a)
        })
        .await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Updates an alert (`null` unsets a field; `addTags`/`removeTags`).
#[utoipa::path(tag = "alert", request_body = Object, responses((status = 204), (status = 400), (status = 404)))]
#[patch("/api/v1/alert/{id}")]
pub async fn update(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<Value>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageAlert/update")?;
    let actor = Actor::of(&caller);
    db.write(move |c| update_one(c, &actor, &id, &body.0, Some(&["OutputAlert"])).map(|_| ()))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Updates several alerts at once (all or none).
#[utoipa::path(tag = "alert", request_body = Object, responses((status = 204), (status = 400), (status = 404)))]
#[patch("/api/v1/alert/_bulk")]
pub async fn bulk_update(
    db: web::Data<Db>,
    caller: Caller,
    body: JsonBody<Value>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageAlert/update")?;
    let actor = Actor::of(&caller);
    let mut patch = body.0;
    let ids = crate::routes::take_ids(&mut patch)?;
    db.write(move |c| {
        for id in &ids {
            update_one(c, &actor, id, &patch, Some(&["OutputAlert"]))?;
        }
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Deletes an alert and its observables.
#[utoipa::path(tag = "alert", responses((status = 204), (status = 404)))]
#[delete("/api/v1/alert/{id}")]
pub async fn remove(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageAlert/delete")?;
    let actor = Actor::of(&caller);
    db.write(move |c| {
        let a = find_alert(c, actor.org_id, &id)?;
        Ok(alerts::delete(c, &actor, &a)?)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Deletes several alerts (all or none).
#[utoipa::path(tag = "alert", request_body = InputBulkIds, responses((status = 204), (status = 404)))]
#[post("/api/v1/alert/delete/_bulk")]
pub async fn bulk_delete(
    db: web::Data<Db>,
    caller: Caller,
    body: JsonBody<InputBulkIds>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageAlert/delete")?;
    let actor = Actor::of(&caller);
    let ids = crate::routes::bulk_ids(body.0)?;
    db.write(move |c| {
        for id in &ids {
            let a = find_alert(c, actor.org_id, id)?;
            alerts::delete(c, &actor, &a)?;
        }
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn set_follow(
    db: web::Data<Db>,
    caller: Caller,
    id: String,
    on: bool,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageAlert/update")?;
    let actor = Actor::of(&caller);
    db.write(move |c| {
        update_one(c, &actor, &id, &serde_json::json!({ "follow": on }), None).map(|_| ())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Follows the alert's source.
#[utoipa::path(tag = "alert", responses((status = 204), (status = 404)))]
#[post("/api/v1/alert/{id}/follow")]
pub async fn follow(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    set_follow(db, caller, id.into_inner(), true).await
}

/// Stops following the alert's source.
#[utoipa::path(tag = "alert", responses((status = 204), (status = 404)))]
#[post("/api/v1/alert/{id}/unfollow")]
pub async fn unfollow(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    set_follow(db, caller, id.into_inner(), false).await
}

/// Promotes an alert to a case (the body's case template, else the alert's).
#[utoipa::path(tag = "alert", request_body = InputAlertCase, responses((status = 201, body = OutputCase), (status = 400), (status = 404)))]
#[post("/api/v1/alert/{id}/case")]
pub async fn promote(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<InputAlertCase>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageAlert/import")?;
    caller.require("manageCase/create")?;
    let actor = Actor::of(&caller);
    let out = db
        .write(move |c| {
            let mut a = find_alert(c, actor.org_id, &id)?;
            let k = alerts::promote(c, &actor, &mut a, &body.0)?;
            rendered_case(c, &k)
        })
        .await?;
    Ok(HttpResponse::Created().json(out))
}

/// Merges an alert into a case.
#[utoipa::path(tag = "alert", responses((status = 200, body = OutputCase), (status = 400), (status = 404)))]
#[post("/api/v1/alert/{id}/merge/{case_id}")]
pub async fn merge(
    db: web::Data<Db>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageAlert/import")?;
    let actor = Actor::of(&caller);
    let (id, case_id) = path.into_inner();
    let out = db
        .write(move |c| {
            let mut a = find_alert(c, actor.org_id, &id)?;
            let mut k = find_case(c, &actor, &case_id)?;
            alerts::merge_into(c, &actor, &mut a, &mut k)?;
            rendered_case(c, &k)
        })
        .await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Imports an alert's observables into a case and links them.
#[utoipa::path(tag = "alert", responses((status = 200, body = OutputCase), (status = 400), (status = 404)))]
#[post("/api/v1/alert/{id}/import/{case_id}")]
pub async fn import(
    db: web::Data<Db>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageAlert/import")?;
    let actor = Actor::of(&caller);
    let (id, case_id) = path.into_inner();
    let out = db
        .write(move |c| {
            let mut a = find_alert(c, actor.org_id, &id)?;
            let k = find_case(c, &actor, &case_id)?;
            alerts::import_into(c, &actor, &mut a, &k)?;
            rendered_case(c, &k)
        })
        .await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Body of `POST /api/v1/alert/merge/_bulk`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BulkMerge {
    /// Target case.
    pub case_id: String,
    /// Alerts to merge.
    pub alert_ids: Vec<String>,
}

/// Merges several alerts into a case (all or none).
#[utoipa::path(tag = "alert", request_body = BulkMerge, responses((status = 200, body = OutputCase), (status = 400), (status = 404)))]
#[post("/api/v1/alert/merge/_bulk")]
pub async fn bulk_merge(
    db: web::Data<Db>,
    caller: Caller,
    body: JsonBody<BulkMerge>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageAlert/import")?;
    let actor = Actor::of(&caller);
    let BulkMerge { case_id, alert_ids } = body.0;
    if alert_ids.len() > 10_000 {
        return Err(ApiError::attribute("alertIds", "at most 10000 ids"));
    }
    let out = db
        .write(move |c| {
            let mut k = find_case(c, &actor, &case_id)?;
            for id in &alert_ids {
                let mut a = find_alert(c, actor.org_id, id)?;
                alerts::merge_into(c, &actor, &mut a, &mut k)?;
            }
            rendered_case(c, &k)
        })
        .await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Creates observables in an alert (JSON, or multipart `_json` + `attachment` files).
#[utoipa::path(tag = "alert", request_body = InputObservable, responses((status = 201, body = Vec<OutputObservable>), (status = 400), (status = 404)))]
#[post("/api/v1/alert/{id}/observable")]
pub async fn create_observable(
    db: web::Data<Db>,
    state: web::Data<crate::ServiceState>,
    caller: Caller,
    id: web::Path<String>,
    body: Upload,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageAlert/update")?;
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

/// Observables of this alert also found (same type and value, or same file) in another
/// alert or case.
#[utoipa::path(tag = "alert", responses((status = 200, body = Vec<OutputObservable>), (status = 404)))]
#[get("/api/v1/alert/{id}/similar/{other}/observables")]
pub async fn similar_observables(
    db: web::Data<Db>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let org = caller.organisation.id;
    let who = Actor::of(&caller);
    let (id, other) = path.into_inner();
    let out = db
        .read(move |c| {
            let a = find_alert(c, org, &id)?;
            let mine = obs::visible_children(c, &who, Parent::Alert(a.id))?;
            let theirs = other_parent(c, &who, &other)?;
            similar(c, mine, theirs)
        })
        .await?;
    Ok(HttpResponse::Ok().json(out))
}

/// The observables of an alert or a case named by `key`.
pub fn other_parent(
    c: &mut DbConn,
    who: &Actor,
    key: &str,
) -> Result<Vec<crate::db::casework::ObservableRow>, ApiError> {
    if let Ok(a) = find_alert(c, who.org_id, key) {
        return Ok(obs::visible_children(c, who, Parent::Alert(a.id))?);
    }
    let k = find_case(c, who, key)?;
    Ok(obs::visible_children(c, who, Parent::Case(k.id))?)
}

/// The observables of `mine` that have a twin in `theirs` (similarity ignored ones left out).
pub fn similar(
    c: &mut DbConn,
    mine: Vec<crate::db::casework::ObservableRow>,
    theirs: Vec<crate::db::casework::ObservableRow>,
) -> Result<Vec<OutputObservable>, ApiError> {
    let keys: std::collections::HashSet<(String, String)> = theirs
        .iter()
        .filter(|o| !o.ignore_similarity)
        .map(|o| (o.data_type.clone(), o.data_hash.clone()))
        .collect();
    let found: Vec<_> = mine
        .into_iter()
        .filter(|o| {
            !o.ignore_similarity && keys.contains(&(o.data_type.clone(), o.data_hash.clone()))
        })
        .collect();
    Ok(render::observables(c, &found)?)
}
