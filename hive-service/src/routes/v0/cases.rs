//! v0 cases and what they hold: `/api/case`, `/api/case/artifact`, `/api/case/task`,
//! `/api/case/task/log`, `/api/case/template`.

use super::alerts::run_search;
use super::rename;
use super::search::V0;
use crate::auth::Caller;
use crate::casework::observables::{self as obs, Parent};
use crate::casework::{
    alerts, cases, find_case, find_log, find_observable, find_task, tasks, Actor,
};
use crate::db::casework::{CaseRow, ObservableRow};
use crate::db::schema::observables;
use crate::db::{Db, DbConn};
use crate::render;
use crate::ServiceState;
use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use diesel::prelude::*;
use serde_json::{Map, Value};
use service_kit::body::Upload;
use service_kit::datastore::FilePart;
use service_kit::datastore::Staged;
use service_kit::error::ApiError;
use service_kit::extract::JsonBody;
use shared_models::casework::{InputCase, InputCaseTemplate, InputObservable, InputTask};
use std::collections::HashMap;

/// A v0 task body as v1 reads it: `owner` is `assignee`; `id` is dropped.
fn v1_task(mut t: Value) -> Value {
    if let Value::Object(o) = &mut t {
        rename(o, "owner", "assignee");
        o.remove("id");
    }
    t
}

fn v1_tasks(o: &mut Map<String, Value>) {
    if let Some(Value::Array(list)) = o.remove("tasks") {
        o.insert(
            "tasks".into(),
            Value::Array(list.into_iter().map(v1_task).collect()),
        );
    }
}

fn object(body: Value) -> Result<Map<String, Value>, ApiError> {
    match body {
        Value::Object(o) => Ok(o),
        _ => Err(ApiError::BadRequest(
            "the body must be a JSON object".into(),
        )),
    }
}

fn parse<T: serde::de::DeserializeOwned>(what: &str, o: Map<String, Value>) -> Result<T, ApiError> {
    serde_json::from_value(Value::Object(o))
        .map_err(|e| ApiError::BadRequest(format!("invalid {what}: {e}")))
}

// ---------------------------------------------------------------------------------------
// cases

/// Creates a case: `template` names its case template, `owner` (or TheHive 4's `user`) its
/// assignee, the caller by default; `tasks` are added after the template's.
#[utoipa::path(tag = "legacy", request_body = Object, responses((status = 201, description = "the v0 case"), (status = 400), (status = 403), (status = 404)))]
#[post("/api/case")]
pub async fn create(
    db: web::Data<Db>,
    caller: Caller,
    body: JsonBody<Value>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageCase/create")?;
    let mut o = object(body.0)?;
    rename(&mut o, "template", "caseTemplate");
    rename(&mut o, "user", "assignee");
    rename(&mut o, "owner", "assignee");
    o.entry("assignee")
        .or_insert_with(|| caller.login().to_string().into());
    o.remove("status");
    o.remove("metrics");
    o.remove("pages");
    v1_tasks(&mut o);
    let input: InputCase = parse("case", o)?;
    let actor = Actor::of(&caller);
    let out = db
        .write(move |c| {
            let spec = alerts::case_spec(c, &actor, &input)?;
            let k = cases::create(c, &actor, spec)?;
            super::case_row(c, &k)
        })
        .await?;
    Ok(HttpResponse::Created().json(out))
}

/// One case, by `~id` or number.
#[utoipa::path(tag = "legacy", responses((status = 200, description = "the v0 case"), (status = 404)))]
#[get("/api/case/{id}")]
pub async fn get(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let who = Actor::of(&caller);
    let out = db
        .read(move |c| {
            let k = find_case(c, &who, &id)?;
            super::case_row(c, &k)
        })
        .await?;
    Ok(HttpResponse::Ok().json(out))
}

/// The v1 patch of a v0 case update. v0 closes a case with `status: Resolved` and a
/// `resolutionStatus` (v1's closing statuses), reopens it with `status: Open`.
fn v1_case_patch(current: &str, stage: &str, body: Value) -> Result<Value, ApiError> {
    let mut o = object(body)?;
    rename(&mut o, "owner", "assignee");
    o.remove("metrics");
    let resolution = match o.remove("resolutionStatus") {
        Some(Value::String(r)) => Some(r),
        Some(Value::Null) | None => None,
        Some(other) => {
            return Err(ApiError::attribute(
                "resolutionStatus",
                format!("{other} is not a status"),
            ))
        }
    };
    let closed = stage == "Closed";
    let status = match o.remove("status") {
        Some(Value::String(s)) => Some(s),
        Some(Value::Null) | None => None,
        Some(other) => {
            return Err(ApiError::attribute(
                "status",
                format!("{other} is not a status"),
            ))
        }
    };
    let v1_status = match status.as_deref() {
        Some("Resolved") => Some(resolution.unwrap_or_else(|| {
            if closed {
                current.to_string()
            } else {
                "Other".into()
            }
        })),
        Some("Duplicated") => Some("Duplicated".into()),
        Some("Open") if closed => Some("InProgress".into()),
        Some("Open") => None,
        Some(other) => {
            return Err(ApiError::attribute(
                "status",
                format!("{other} is not one of Open, Resolved, Duplicated"),
            ))
        }
        None if closed => resolution,
        None => None,
    };
    if let Some(s) = v1_status {
        o.insert("status".into(), s.into());
    }
    Ok(Value::Object(o))
}

/// Updates a case; closing is `status: Resolved` with `resolutionStatus`, `impactStatus`
/// and `summary`.
#[utoipa::path(tag = "legacy", request_body = Object, responses((status = 200, description = "the updated v0 case"), (status = 400), (status = 404)))]
#[patch("/api/case/{id}")]
pub async fn update(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<Value>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageCase/update")?;
    let actor = Actor::of(&caller);
    let out = db
        .write(move |c| {
            let k = find_case(c, &actor, &id)?;
            let patch = v1_case_patch(&k.status, &k.stage, body.0)?;
            let k = crate::casework::cases::update_one(c, &actor, &id, &patch, None)?;
            super::case_row(c, &k)
        })
        .await?;
    Ok(HttpResponse::Ok().json(out))
}

async fn delete_case(
    db: web::Data<Db>,
    caller: Caller,
    id: String,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageCase/delete")?;
    let who = Actor::of(&caller);
    db.write(move |c| crate::casework::cases::delete_one(c, &who, &id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Deletes a case with everything in it (TheHive 4 only marked it `Deleted`).
#[utoipa::path(tag = "legacy", responses((status = 204), (status = 404)))]
#[delete("/api/case/{id}")]
pub async fn remove(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    delete_case(db, caller, id.into_inner()).await
}

/// Deletes a case with everything in it.
#[utoipa::path(tag = "legacy", responses((status = 204), (status = 404)))]
#[delete("/api/case/{id}/force")]
pub async fn remove_force(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    delete_case(db, caller, id.into_inner()).await
}

/// Searches cases.
#[utoipa::path(tag = "legacy", request_body = Object, responses((status = 200, description = "v0 cases; X-Total"), (status = 400)))]
#[post("/api/case/_search")]
pub async fn find(
    db: web::Data<Db>,
    caller: Caller,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    run_search(db, caller, req, body, V0::Case).await
}

/// The visible cases (other than `except`) holding observables like `mine` (same type and
/// value, or same file; similarity-ignored ones left out): each case with all its
/// observables and those that matched.
pub type Sharing = Vec<(CaseRow, Vec<ObservableRow>, Vec<ObservableRow>)>;

/// Finds the cases sharing observables with `mine` (observables `who` sees): the cases of
/// [`crate::casework::collab::cases_holding`], each with every observable of it `who` sees.
pub fn cases_sharing(
    c: &mut DbConn,
    who: &Actor,
    mine: &[ObservableRow],
    except: Option<i64>,
) -> Result<Sharing, ApiError> {
    let found = crate::casework::collab::cases_holding(c, who, mine, except)?;
    let ids: Vec<i64> = found.iter().map(|(k, _)| k.id).collect();
    let mut all: HashMap<i64, Vec<ObservableRow>> = HashMap::new();
    for chunk in ids.chunks(500) {
        let rows: Vec<ObservableRow> = observables::table
            .filter(observables::case_id.eq_any(chunk))
            .filter(crate::access::visible(
                crate::access::Entity::Observable,
                who,
                "observables",
            ))
            .order(observables::id.asc())
            .select(ObservableRow::as_select())
            .load(c)?;
        for o in rows {
            all.entry(o.case_id.unwrap_or_default())
                .or_default()
                .push(o);
        }
    }
    Ok(found
        .into_iter()
        .map(|(k, matched)| {
            let theirs = all.remove(&k.id).unwrap_or_default();
            (k, theirs, matched)
        })
        .collect())
}

/// The cases sharing observables with this one, each with `linkedWith` (its observables
/// in common) and `linksCount`.
#[utoipa::path(tag = "legacy", responses((status = 200, description = "v0 cases"), (status = 404)))]
#[get("/api/case/{id}/links")]
pub async fn links(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let who = Actor::of(&caller);
    let out = db
        .read(move |c| {
            let k = find_case(c, &who, &id)?;
            let mine = obs::visible_children(c, &who, Parent::Case(k.id))?;
            let mut out = Vec::new();
            for (other, _, matched) in cases_sharing(c, &who, &mine, Some(k.id))? {
                let mut v = super::case_row(c, &other)?;
                let linked = super::observable_rows(c, &matched)?;
                if let Value::Object(o) = &mut v {
                    o.insert("linksCount".into(), linked.len().into());
                    o.insert("linkedWith".into(), Value::Array(linked));
                }
                out.push(v);
            }
            Ok(out)
        })
        .await?;
    Ok(HttpResponse::Ok().json(out))
}

// ---------------------------------------------------------------------------------------
// observables (artifacts)

/// The observable input of a v0 artifact request (JSON, or multipart `_json` with its file
/// in `attachment`); a file given inline as `filename;contentType;base64` is stored.
pub async fn artifact_input(
    db: &Db,
    state: &web::Data<ServiceState>,
    mut body: Upload,
) -> Result<(InputObservable, Vec<FilePart>, Vec<Staged>), ApiError> {
    let mut json: Value = body.parse()?;
    let mut staged = body.take_staged();
    let mut files = body.files;
    let inline = json
        .get("data")
        .and_then(Value::as_str)
        .is_some_and(|d| d.contains(';'));
    if inline {
        let types = db.read(|c| Ok(obs::types(c)?)).await?;
        let st = state.clone();
        let (j, (decoded, decoded_staged)) = web::block(move || {
            let mut one = [json];
            let files = super::alerts::decode_artifacts(
                &st.uploads.datastore,
                st.uploads.max_upload_bytes,
                &types,
                &mut one,
                "artifact",
            )?;
            let [json] = one;
            Ok::<_, ApiError>((json, files))
        })
        .await
        .map_err(ApiError::internal)??;
        json = j;
        files.extend(decoded);
        staged.extend(decoded_staged);
    }
    let input: InputObservable = serde_json::from_value(json)
        .map_err(|e| ApiError::BadRequest(format!("invalid artifact: {e}")))?;
    Ok((input, files, staged))
}

/// Adds observables to a case: JSON, or multipart `_json` + `attachment`; answers the list.
#[utoipa::path(tag = "legacy", request_body = Object, responses((status = 201, description = "the new v0 artifacts"), (status = 400), (status = 404)))]
#[post("/api/case/{id}/artifact")]
pub async fn create_artifact(
    db: web::Data<Db>,
    state: web::Data<ServiceState>,
    caller: Caller,
    id: web::Path<String>,
    body: Upload,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageObservable")?;
    let (input, files, staged) = artifact_input(&db, &state, body).await?;
    let actor = Actor::of(&caller);
    let out = service_kit::body::write_keeping(&db, &state.uploads.datastore, staged, move |c| {
        let rows = crate::casework::cases::add_observables(c, &actor, &id, &input, &files)?;
        super::observable_rows(c, &rows)
    })
    .await?;
    Ok(HttpResponse::Created().json(out))
}

/// An observable of a case (`in_alert`: of an alert) visible to `who`.
pub fn artifact(
    c: &mut DbConn,
    who: &Actor,
    key: &str,
    in_alert: bool,
) -> Result<ObservableRow, ApiError> {
    let o = find_observable(c, who, key)?;
    let held = if in_alert {
        o.alert_id.is_some()
    } else {
        o.case_id.is_some()
    };
    if !held {
        return Err(ApiError::NotFound(format!("Artifact {key} not found")));
    }
    Ok(o)
}

fn case_artifact(c: &mut DbConn, who: &Actor, key: &str) -> Result<ObservableRow, ApiError> {
    artifact(c, who, key, false)
}

/// One case observable.
#[utoipa::path(tag = "legacy", responses((status = 200, description = "the v0 artifact"), (status = 404)))]
#[get("/api/case/artifact/{id}")]
pub async fn get_artifact(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let who = Actor::of(&caller);
    let out = db
        .read(move |c| {
            let o = case_artifact(c, &who, &id)?;
            Ok(super::observable_rows(c, &[o])?.pop())
        })
        .await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Updates a case observable (`message`, `tlp`, `tags`, `ioc`, `sighted`,
/// `ignoreSimilarity`).
#[utoipa::path(tag = "legacy", request_body = Object, responses((status = 200, description = "the v0 artifact"), (status = 400), (status = 404)))]
#[patch("/api/case/artifact/{id}")]
pub async fn update_artifact(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<Value>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageObservable")?;
    let actor = Actor::of(&caller);
    let out = db
        .write(move |c| {
            case_artifact(c, &actor, &id)?;
            let o = crate::casework::observables::update_one(c, &actor, &id, &body.0, None)?;
            Ok(super::observable_rows(c, &[o])?.pop())
        })
        .await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Deletes a case observable.
#[utoipa::path(tag = "legacy", responses((status = 204), (status = 404)))]
#[delete("/api/case/artifact/{id}")]
pub async fn delete_artifact(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageObservable")?;
    let who = Actor::of(&caller);
    db.write(move |c| {
        let o = case_artifact(c, &who, &id)?;
        crate::casework::observables::delete_row(c, &who, o)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Searches case observables (`_parent` case filters name their case).
#[utoipa::path(tag = "legacy", request_body = Object, responses((status = 200, description = "v0 artifacts; X-Total"), (status = 400)))]
#[post("/api/case/artifact/_search")]
pub async fn find_artifacts(
    db: web::Data<Db>,
    caller: Caller,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    run_search(db, caller, req, body, V0::Artifact).await
}

// ---------------------------------------------------------------------------------------
// tasks and logs

/// Adds a task to a case (`owner` is its assignee).
#[utoipa::path(tag = "legacy", request_body = Object, responses((status = 201, description = "the v0 task"), (status = 400), (status = 404)))]
#[post("/api/case/{id}/task")]
pub async fn create_task(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<Value>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageTask")?;
    let input: InputTask = parse("task", object(v1_task(body.0))?)?;
    let input = tasks::check(&input, "")?;
    let actor = Actor::of(&caller);
    let out = db
        .write(move |c| {
            let t = crate::casework::cases::add_task(c, &actor, &id, &input)?;
            Ok(super::task(render::to_value(&render::task(&t))))
        })
        .await?;
    Ok(HttpResponse::Created().json(out))
}

/// One task.
#[utoipa::path(tag = "legacy", responses((status = 200, description = "the v0 task"), (status = 404)))]
#[get("/api/case/task/{id}")]
pub async fn get_task(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let who = Actor::of(&caller);
    let t = db.read(move |c| find_task(c, &who, &id)).await?;
    Ok(HttpResponse::Ok().json(super::task(render::to_value(&render::task(&t)))))
}

/// Updates a task (`status: Cancel` is how thehive4py 1.x deletes one).
#[utoipa::path(tag = "legacy", request_body = Object, responses((status = 200, description = "the v0 task"), (status = 400), (status = 404)))]
#[patch("/api/case/task/{id}")]
pub async fn update_task(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<Value>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageTask")?;
    let patch = v1_task(body.0);
    let actor = Actor::of(&caller);
    let out = db
        .write(move |c| crate::casework::tasks::update_one(c, &actor, &id, &patch, None))
        .await?;
    Ok(HttpResponse::Ok().json(super::task(render::to_value(&render::task(&out)))))
}

/// Searches tasks.
#[utoipa::path(tag = "legacy", request_body = Object, responses((status = 200, description = "v0 tasks; X-Total"), (status = 400)))]
#[post("/api/case/task/_search")]
pub async fn find_tasks(
    db: web::Data<Db>,
    caller: Caller,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    run_search(db, caller, req, body, V0::Task).await
}

fn log_out(c: &mut DbConn, l: &crate::db::casework::LogRow) -> Result<Value, ApiError> {
    Ok(render::logs(c, std::slice::from_ref(l))?
        .pop()
        .map(|v| super::log(render::to_value(&v)))
        .unwrap_or(Value::Null))
}

/// Adds a log to a task: JSON `{message}`, or multipart `_json` + `attachment`.
#[utoipa::path(tag = "legacy", request_body = Object, responses((status = 201, description = "the v0 log"), (status = 400), (status = 404)))]
#[post("/api/case/task/{id}/log")]
pub async fn create_log(
    db: web::Data<Db>,
    state: web::Data<ServiceState>,
    caller: Caller,
    id: web::Path<String>,
    mut body: Upload,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageTask")?;
    let (input, message, files) = crate::casework::tasks::log_input(&body)?;
    let actor = Actor::of(&caller);
    let staged = body.take_staged();
    let out = service_kit::body::write_keeping(&db, &state.uploads.datastore, staged, move |c| {
        let l = crate::casework::tasks::add_log(c, &actor, &id, message, &input, &files)?;
        log_out(c, &l)
    })
    .await?;
    Ok(HttpResponse::Created().json(out))
}

/// One task log.
#[utoipa::path(tag = "legacy", responses((status = 200, description = "the v0 log"), (status = 404)))]
#[get("/api/case/task/log/{id}")]
pub async fn get_log(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let who = Actor::of(&caller);
    let out = db
        .read(move |c| {
            let l = find_log(c, &who, &id)?;
            log_out(c, &l)
        })
        .await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Deletes a task log.
#[utoipa::path(tag = "legacy", responses((status = 204), (status = 404)))]
#[delete("/api/case/task/log/{id}")]
pub async fn delete_log(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageTask")?;
    let who = Actor::of(&caller);
    db.write(move |c| {
        let l = crate::casework::tasks::writable_log(c, &who, &id)?;
        Ok(tasks::remove_log(c, &who, &l)?)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Searches task logs.
#[utoipa::path(tag = "legacy", request_body = Object, responses((status = 200, description = "v0 logs; X-Total"), (status = 400)))]
#[post("/api/case/task/log/_search")]
pub async fn find_logs(
    db: web::Data<Db>,
    caller: Caller,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    run_search(db, caller, req, body, V0::Log).await
}

// ---------------------------------------------------------------------------------------
// case templates

fn template_out(
    c: &mut DbConn,
    t: &crate::db::casework::CaseTemplateRow,
) -> Result<Value, ApiError> {
    Ok(render::templates(c, std::slice::from_ref(t))?
        .pop()
        .map(|v| super::template(render::to_value(&v)))
        .unwrap_or(Value::Null))
}

fn v1_template(body: Value) -> Result<Map<String, Value>, ApiError> {
    let mut o = object(body)?;
    o.remove("status");
    o.remove("metrics");
    o.remove("id");
    v1_tasks(&mut o);
    Ok(o)
}

/// Creates a case template.
#[utoipa::path(tag = "legacy", request_body = Object, responses((status = 201, description = "the v0 case template"), (status = 400), (status = 403)))]
#[post("/api/case/template")]
pub async fn create_template(
    db: web::Data<Db>,
    caller: Caller,
    body: JsonBody<Value>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageCaseTemplate")?;
    let input: InputCaseTemplate = parse("case template", v1_template(body.0)?)?;
    let actor = Actor::of(&caller);
    let out = db
        .write(move |c| {
            let t = crate::casework::templates::create(c, &actor, &input)?;
            template_out(c, &t)
        })
        .await?;
    Ok(HttpResponse::Created().json(out))
}

/// One case template, by `~id` or name.
#[utoipa::path(tag = "legacy", responses((status = 200, description = "the v0 case template"), (status = 404)))]
#[get("/api/case/template/{id}")]
pub async fn get_template(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let org = caller.organisation.id;
    let out = db
        .read(move |c| {
            let t = crate::casework::find_template(c, org, &id)?;
            template_out(c, &t)
        })
        .await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Updates a case template.
#[utoipa::path(tag = "legacy", request_body = Object, responses((status = 200, description = "the v0 case template"), (status = 400), (status = 404)))]
#[patch("/api/case/template/{id}")]
pub async fn update_template(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<Value>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageCaseTemplate")?;
    let patch = Value::Object(v1_template(body.0)?);
    let actor = Actor::of(&caller);
    let out = db
        .write(move |c| {
            let t = crate::casework::templates::update_one(c, &actor, &id, &patch, None)?;
            template_out(c, &t)
        })
        .await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Deletes a case template.
#[utoipa::path(tag = "legacy", responses((status = 204), (status = 404)))]
#[delete("/api/case/template/{id}")]
pub async fn delete_template(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageCaseTemplate")?;
    let actor = Actor::of(&caller);
    db.write(move |c| crate::casework::templates::delete_one(c, &actor, &id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Searches case templates.
#[utoipa::path(tag = "legacy", request_body = Object, responses((status = 200, description = "v0 case templates; X-Total"), (status = 400)))]
#[post("/api/case/template/_search")]
pub async fn find_templates(
    db: web::Data<Db>,
    caller: Caller,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    run_search(db, caller, req, body, V0::Template).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn closing_and_reopening_translate_to_v1_statuses() {
        let p = v1_case_patch(
            "New",
            "New",
            json!({"status": "Resolved", "resolutionStatus": "TruePositive", "owner": "bob"}),
        )
        .expect("ok");
        assert_eq!(p, json!({"status": "TruePositive", "assignee": "bob"}));
        let p = v1_case_patch("New", "New", json!({"status": "Resolved"})).expect("ok");
        assert_eq!(p["status"], "Other");
        let closed = |body| v1_case_patch("TruePositive", "Closed", body);
        assert_eq!(
            closed(json!({"status": "Open"})).expect("ok")["status"],
            "InProgress"
        );
        assert_eq!(
            closed(json!({"resolutionStatus": "FalsePositive"})).expect("ok")["status"],
            "FalsePositive"
        );
        assert!(closed(json!({"status": "Deleted"})).is_err());
    }
}
