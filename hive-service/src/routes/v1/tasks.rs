//! `/api/v1/task` and `/api/v1/log`: tasks, task logs and their attachments.

use crate::auth::Caller;
use crate::casework::observables::NewFile;
use crate::casework::tasks::{add_log, log_input, store_attachments, update_one, writable_log};
use crate::casework::{find_log, find_task, tasks, Actor};
use crate::db::casework::LogRow;
use crate::db::schema::{attachments, logs, tasks as task_t};
use crate::db::{now_ms, parse_id, Db, DbConn};
use crate::domain::values::{self, Patch};
use crate::render;
use actix_web::{delete, get, patch, post, web, HttpResponse};
use diesel::prelude::*;
use serde_json::Value;
use service_kit::body::Upload;
use service_kit::error::ApiError;
use service_kit::extract::JsonBody;
use shared_models::casework::{InputLog, OutputLog, OutputTask};

/// One task.
#[utoipa::path(tag = "task", responses((status = 200, body = OutputTask), (status = 404)))]
#[get("/api/v1/task/{id}")]
pub async fn get(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let who = Actor::of(&caller);
    let t = db.read(move |c| find_task(c, &who, &id)).await?;
    Ok(HttpResponse::Ok().json(render::task(&t)))
}

/// Updates a task.
#[utoipa::path(tag = "task", request_body = Object, responses((status = 204), (status = 400), (status = 404)))]
#[patch("/api/v1/task/{id}")]
pub async fn update(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<Value>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageTask")?;
    let actor = Actor::of(&caller);
    db.write(move |c| update_one(c, &actor, &id, &body.0, Some(&["OutputTask"])).map(|_| ()))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Updates several tasks (all or none).
#[utoipa::path(tag = "task", request_body = Object, responses((status = 204), (status = 400), (status = 404)))]
#[patch("/api/v1/task/_bulk")]
pub async fn bulk_update(
    db: web::Data<Db>,
    caller: Caller,
    body: JsonBody<Value>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageTask")?;
    let actor = Actor::of(&caller);
    let mut patch = body.0;
    let ids = crate::routes::take_ids(&mut patch)?;
    db.write(move |c| {
        for id in &ids {
            update_one(c, &actor, id, &patch, Some(&["OutputTask"]))?;
        }
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Deletes a task with its logs.
#[utoipa::path(tag = "task", responses((status = 204), (status = 404)))]
#[delete("/api/v1/task/{id}")]
pub async fn remove(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageTask")?;
    let who = Actor::of(&caller);
    db.write(move |c| {
        let t = find_task(c, &who, &id)?;
        crate::casework::check_write(c, &who, t.case_id, "manageTask")?;
        Ok(tasks::remove_task(c, &who, &t)?)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

fn rendered_log(c: &mut DbConn, l: &LogRow) -> Result<OutputLog, ApiError> {
    render::logs(c, std::slice::from_ref(l))?
        .pop()
        .ok_or_else(|| ApiError::internal("log vanished"))
}

/// Adds a log to a task (JSON, or multipart `_json` + `attachments` files); a waiting task
/// starts.
#[utoipa::path(tag = "task", request_body = InputLog, responses((status = 201, body = OutputLog), (status = 400), (status = 404)))]
#[post("/api/v1/task/{id}/log")]
pub async fn create_log(
    db: web::Data<Db>,
    state: web::Data<crate::ServiceState>,
    caller: Caller,
    id: web::Path<String>,
    mut body: Upload,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageTask")?;
    let (input, message, files) = log_input(&body)?;
    let actor = Actor::of(&caller);
    let staged = body.take_staged();
    let out = service_kit::body::write_keeping(&db, &state.uploads.datastore, staged, move |c| {
        let l = add_log(c, &actor, &id, message, &input, &files)?;
        rendered_log(c, &l)
    })
    .await?;
    Ok(HttpResponse::Created().json(out))
}

/// Updates a log (`message`, `includeInTimeline`).
#[utoipa::path(tag = "task", request_body = Object, responses((status = 204), (status = 400), (status = 404)))]
#[patch("/api/v1/log/{id}")]
pub async fn update_log(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<Value>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageTask")?;
    let actor = Actor::of(&caller);
    db.write(move |c| {
        let mut l = find_log(c, &actor, &id)?;
        let case_id: i64 = task_t::table
            .find(l.task_id)
            .select(task_t::case_id)
            .first(c)?;
        crate::casework::check_write(c, &actor, case_id, "manageTask")?;
        let p = Patch::new(&body.0)?;
        let before = l.clone();
        if let Some(m) = p.string("message")? {
            l.message = values::text("message", m, values::MAX_DESCRIPTION)?;
        }
        if let Some(d) = p.nullable_int("includeInTimeline")? {
            l.include_in_timeline = d;
        }
        p.finish(&["OutputLog"])?;
        l.updated_by = Some(actor.login.clone());
        l.updated_at = Some(now_ms());
        diesel::update(logs::table.find(l.id)).set(&l).execute(c)?;
        crate::audit::updated(
            &actor,
            crate::audit::ObjectType::Log,
            l.id,
            &before,
            &l,
            Some(crate::audit::Root::Case(case_id)),
        );
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Deletes a log.
#[utoipa::path(tag = "task", responses((status = 204), (status = 404)))]
#[delete("/api/v1/log/{id}")]
pub async fn remove_log(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageTask")?;
    let who = Actor::of(&caller);
    db.write(move |c| {
        let l = writable_log(c, &who, &id)?;
        Ok(tasks::remove_log(c, &who, &l)?)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Adds files to a log (multipart, repeated `attachments`).
#[utoipa::path(tag = "task", responses((status = 204), (status = 400), (status = 404)))]
#[post("/api/v1/log/{id}/attachments")]
pub async fn add_log_attachments(
    db: web::Data<Db>,
    state: web::Data<crate::ServiceState>,
    caller: Caller,
    id: web::Path<String>,
    mut body: Upload,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageTask")?;
    let files: Vec<NewFile> = body.files.iter().map(NewFile::from).collect();
    if files.is_empty() {
        return Err(ApiError::BadRequest(
            "no file in the request (multipart part `attachments`)".into(),
        ));
    }
    let actor = Actor::of(&caller);
    let staged = body.take_staged();
    service_kit::body::write_keeping(&db, &state.uploads.datastore, staged, move |c| {
        let l = find_log(c, &actor, &id)?;
        let case_id: i64 = task_t::table
            .find(l.task_id)
            .select(task_t::case_id)
            .first(c)?;
        crate::casework::check_write(c, &actor, case_id, "manageTask")?;
        let names: Vec<String> = files.iter().map(|f| f.name.clone()).collect();
        let mut details = serde_json::Map::new();
        details.insert("addAttachments".into(), serde_json::json!(names));
        crate::audit::updated_with(
            &actor,
            crate::audit::ObjectType::Log,
            l.id,
            details,
            Some(crate::audit::Root::Case(case_id)),
        );
        Ok(store_attachments(c, &actor, l.id, &files)?)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Removes a file from a log.
#[utoipa::path(tag = "task", responses((status = 204), (status = 404)))]
#[delete("/api/v1/log/{id}/attachments/{att_id}")]
pub async fn remove_log_attachment(
    db: web::Data<Db>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageTask")?;
    let who = Actor::of(&caller);
    let (id, att) = path.into_inner();
    db.write(move |c| {
        let l = writable_log(c, &who, &id)?;
        let n = diesel::delete(
            attachments::table
                .filter(attachments::owner_id.eq(l.id))
                .filter(
                    attachments::id
                        .eq(parse_id(&att).unwrap_or(-1))
                        .or(attachments::sha256.eq(&att)),
                ),
        )
        .execute(c)?;
        if n == 0 {
            return Err(ApiError::NotFound(format!("Attachment {att} not found")));
        }
        let case_id: i64 = task_t::table
            .find(l.task_id)
            .select(task_t::case_id)
            .first(c)?;
        let mut details = serde_json::Map::new();
        details.insert("removeAttachment".into(), serde_json::json!(att));
        crate::audit::updated_with(
            &who,
            crate::audit::ObjectType::Log,
            l.id,
            details,
            Some(crate::audit::Root::Case(case_id)),
        );
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
