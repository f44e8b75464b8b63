//! Files of jobs and artifacts, by SHA-256 (TheHive downloads file artifacts from here).
//! A caller only reaches files that a job or an artifact of its organization refers to.

use crate::auth::Caller;
use crate::db::schema::{artifacts, jobs};
use crate::db::Db;
use crate::ServiceState;
use actix_web::{get, web, HttpResponse};
use diesel::prelude::*;
use serde::Deserialize;
use service_kit::error::ApiError;
use shared_models::cortex::{JobAttachment, Role};

/// `?name=` of a download.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct NameParam {
    /// File name to answer with.
    pub name: Option<String>,
}

/// The attachment record of a hash in the caller's organization, or 404.
async fn attachment_in_org(db: &Db, org: String, hash: String) -> Result<JobAttachment, ApiError> {
    if hash.len() != 64 || !hash.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(ApiError::NotFound(format!("file {hash} not found")));
    }
    let hash = hash.to_ascii_lowercase();
    let pattern = format!("%\"id\":\"{hash}\"%");
    db.read(move |c| {
        let from_job: Option<Option<String>> = jobs::table
            .filter(jobs::organization_id.eq(&org))
            .filter(jobs::attachment.like(&pattern))
            .select(jobs::attachment)
            .first(c)
            .optional()?;
        let found = match from_job.flatten() {
            Some(a) => Some(a),
            None => artifacts::table
                .inner_join(jobs::table)
                .filter(jobs::organization_id.eq(&org))
                .filter(artifacts::attachment.like(&pattern))
                .select(artifacts::attachment)
                .first::<Option<String>>(c)
                .optional()?
                .flatten(),
        };
        found
            .and_then(|a| serde_json::from_str::<JobAttachment>(&a).ok())
            .filter(|a| a.id == hash)
            .ok_or_else(|| ApiError::NotFound(format!("file {hash} not found")))
    })
    .await
}

async fn serve(
    db: &Db,
    state: &ServiceState,
    caller: &Caller,
    hash: String,
    name: Option<String>,
    as_zip: bool,
) -> Result<HttpResponse, ApiError> {
    caller.require_any(&[Role::Read])?;
    let a = attachment_in_org(db, caller.organization.id.clone(), hash).await?;
    let name = name.unwrap_or(a.name);
    service_kit::datastore::send_file(
        &state.uploads.datastore,
        &a.id,
        &name,
        &a.content_type,
        as_zip,
    )
    .await
}

/// A file, as is.
#[utoipa::path(tag = "datastore", params(NameParam), responses((status = 200, description = "the file"), (status = 404)))]
#[get("/api/datastore/{hash}")]
pub async fn download(
    db: web::Data<Db>,
    state: web::Data<ServiceState>,
    caller: Caller,
    hash: web::Path<String>,
    params: web::Query<NameParam>,
) -> Result<HttpResponse, ApiError> {
    let name = params.into_inner().name;
    serve(&db, &state, &caller, hash.into_inner(), name, false).await
}

/// A file in a zip encrypted with the password `malware`.
#[utoipa::path(tag = "datastore", params(NameParam), responses((status = 200, description = "a zip with the password `malware`"), (status = 404)))]
#[get("/api/datastorezip/{hash}")]
pub async fn download_zip(
    db: web::Data<Db>,
    state: web::Data<ServiceState>,
    caller: Caller,
    hash: web::Path<String>,
    params: web::Query<NameParam>,
) -> Result<HttpResponse, ApiError> {
    let name = params.into_inner().name;
    serve(&db, &state, &caller, hash.into_inner(), name, true).await
}
