//! `/api/v1/observable`: one observable, its updates and its file.

use crate::auth::Caller;
use crate::casework::observables::attachments_of;
use crate::casework::observables::{delete_row, update_one};
use crate::casework::{find_observable, Actor};
use crate::db::{parse_id, Db};
use crate::render;
use crate::routes::flag;
use crate::ServiceState;
use actix_web::{delete, get, patch, web, HttpResponse};
use serde::Deserialize;
use serde_json::Value;
use service_kit::error::ApiError;
use service_kit::extract::JsonBody;
use shared_models::casework::OutputObservable;

/// One observable.
#[utoipa::path(tag = "observable", responses((status = 200, body = OutputObservable), (status = 404)))]
#[get("/api/v1/observable/{id}")]
pub async fn get(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let who = Actor::of(&caller);
    let out = db
        .read(move |c| {
            let o = find_observable(c, &who, &id)?;
            Ok(render::observables(c, &[o])?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(&out[0]))
}

/// Updates an observable (`message`, `tlp`, `pap`, `tags`, `addTags`, `removeTags`, `ioc`,
/// `sighted`, `sightedAt`, `ignoreSimilarity`).
#[utoipa::path(tag = "observable", request_body = Object, responses((status = 204), (status = 400), (status = 404)))]
#[patch("/api/v1/observable/{id}")]
pub async fn update(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<Value>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageObservable")?;
    let actor = Actor::of(&caller);
    db.write(move |c| update_one(c, &actor, &id, &body.0, Some(&["OutputObservable"])).map(|_| ()))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Updates several observables (all or none).
#[utoipa::path(tag = "observable", request_body = Object, responses((status = 204), (status = 400), (status = 404)))]
#[patch("/api/v1/observable/_bulk")]
pub async fn bulk_update(
    db: web::Data<Db>,
    caller: Caller,
    body: JsonBody<Value>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageObservable")?;
    let actor = Actor::of(&caller);
    let mut patch = body.0;
    let ids = crate::routes::take_ids(&mut patch)?;
    db.write(move |c| {
        for id in &ids {
            update_one(c, &actor, id, &patch, Some(&["OutputObservable"]))?;
        }
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Deletes an observable.
#[utoipa::path(tag = "observable", responses((status = 204), (status = 404)))]
#[delete("/api/v1/observable/{id}")]
pub async fn remove(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageObservable")?;
    let who = Actor::of(&caller);
    db.write(move |c| {
        let o = find_observable(c, &who, &id)?;
        delete_row(c, &who, o)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Query of the download route.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
pub struct DownloadParams {
    /// `True`: a zip encrypted with the password `malware` (ZipCrypto).
    pub as_zip: Option<String>,
}

/// Answers a stored file, as is or zipped with the password `malware`.
pub async fn send_file(
    state: &ServiceState,
    sha256: &str,
    name: &str,
    content_type: &str,
    as_zip: bool,
) -> Result<HttpResponse, ApiError> {
    service_kit::datastore::send_file(&state.uploads.datastore, sha256, name, content_type, as_zip)
        .await
}

/// Downloads an observable's file (`attId` is the attachment's `_id` or its content hash).
#[utoipa::path(tag = "observable", params(DownloadParams), responses((status = 200, description = "the file, or a zip with the password `malware`"), (status = 404)))]
#[get("/api/v1/observable/{id}/attachment/{att_id}/download")]
pub async fn download(
    db: web::Data<Db>,
    state: web::Data<ServiceState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    params: web::Query<DownloadParams>,
) -> Result<HttpResponse, ApiError> {
    let who = Actor::of(&caller);
    let (id, att) = path.into_inner();
    let a = db
        .read(move |c| {
            let o = find_observable(c, &who, &id)?;
            let atts = attachments_of(c, std::slice::from_ref(&o))?;
            o.attachment_id
                .and_then(|a| atts.get(&a).cloned())
                .filter(|a| parse_id(&att) == Some(a.id) || att == a.sha256)
                .ok_or_else(|| ApiError::NotFound(format!("Attachment {att} not found")))
        })
        .await?;
    send_file(
        &state,
        &a.sha256,
        &a.name,
        &a.content_type,
        flag(params.as_zip.as_deref()),
    )
    .await
}
