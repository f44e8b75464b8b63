//! v0 alerts: `/api/alert`, with their artifacts embedded and their files inline.

use super::search::{self, V0};
use crate::auth::Caller;
use crate::casework::observables::{self as obs, Parent};
use crate::casework::{alerts, find_alert, find_case, Actor};
use crate::db::casework::AlertRow;
use crate::db::schema::alerts as alert_t;
use crate::db::{now_ms, Db, DbConn};
use crate::ServiceState;
use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use base64::Engine;
use diesel::prelude::*;
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{json, Value};
use service_kit::body::{base_name, Upload};
use service_kit::datastore::FilePart;
use service_kit::error::ApiError;
use service_kit::extract::{parse_json, JsonBody};
use shared_models::casework::{InputAlert, InputAlertCase, InputObservable};
use std::collections::HashMap;

/// Reads a JSON body of up to `limit` bytes (v0 alerts carry their files in base64, so the
/// limit is the upload one, not the JSON one).
async fn read_json(mut payload: web::Payload, limit: usize) -> Result<Value, ApiError> {
    let mut buf = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::BadRequest(format!("request body: {e}")))?;
        if buf.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge(format!(
                "request body larger than {limit} bytes; see datastore.max_upload_bytes"
            )));
        }
        buf.extend_from_slice(&chunk);
    }
    parse_json(&buf)
}

/// A JSON body that may be absent (null then).
pub fn optional_json(bytes: &[u8]) -> Result<Value, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        Ok(Value::Null)
    } else {
        parse_json(bytes)
    }
}

/// Largest v0 alert body: files in base64 up to the upload limit, plus the JSON limit.
fn alert_body_limit(state: &ServiceState) -> usize {
    let files = usize::try_from(state.uploads.max_upload_bytes / 3 * 4).unwrap_or(usize::MAX);
    files.saturating_add(state.uploads.max_json_bytes)
}

/// Decodes the inline files of v0 artifacts (`data: "filename;contentType;base64"`) into
/// staged datastore files (kept by the handler once the request is accepted). Each artifact then names its file part in `attachment`, as the v1 multipart
/// form does, and `data` is dropped. A full local path as file name keeps only its last
/// part; `filename;contentType` alone is an empty file.
pub fn decode_artifacts(
    store: &service_kit::datastore::Datastore,
    max_bytes: u64,
    file_types: &HashMap<String, bool>,
    artifacts: &mut [Value],
    at: &str,
) -> Result<(Vec<FilePart>, Vec<service_kit::datastore::Staged>), ApiError> {
    let mut files = Vec::new();
    let mut staged = Vec::new();
    let mut total: u64 = 0;
    for (i, a) in artifacts.iter_mut().enumerate() {
        let Value::Object(o) = a else {
            return Err(ApiError::attribute(
                &format!("{at}[{i}]"),
                "expected an object",
            ));
        };
        let is_file = o
            .get("dataType")
            .and_then(Value::as_str)
            .and_then(|t| file_types.get(t.trim()))
            .copied()
            .unwrap_or(false);
        if !is_file {
            continue;
        }
        let Some(Value::String(data)) = o.get("data") else {
            continue;
        };
        let field = format!("{at}[{i}].data");
        let expected = "expected filename;contentType;base64value";
        let mut parts = data.splitn(3, ';');
        let (Some(name), Some(content_type)) = (parts.next(), parts.next()) else {
            return Err(ApiError::attribute(&field, expected));
        };
        let encoded: String = parts
            .next()
            .unwrap_or("")
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded.as_bytes())
            .map_err(|e| ApiError::attribute(&field, format!("{expected} ({e})")))?;
        total += bytes.len() as u64;
        if total > max_bytes {
            return Err(ApiError::PayloadTooLarge(format!(
                "files larger than {max_bytes} bytes; see datastore.max_upload_bytes"
            )));
        }
        let content_type = content_type.trim();
        let filename = base_name(name);
        let kept = store.stage(&bytes).map_err(ApiError::internal)?;
        let stored = kept.stored.clone();
        staged.push(kept);
        let part = format!("v0-artifact-{i}");
        files.push(FilePart {
            field: part.clone(),
            content_type: service_kit::datastore::content_type(content_type, &filename),
            filename,
            stored,
        });
        o.remove("data");
        o.insert("attachment".into(), part.into());
    }
    Ok((files, staged))
}

/// Inline files of a v0 body: their parts and their staged content.
type Inline = (Vec<FilePart>, Vec<service_kit::datastore::Staged>);

/// Takes the artifacts out of a v0 body and stores their inline files.
async fn take_artifacts(
    db: &Db,
    state: &web::Data<ServiceState>,
    body: &mut Value,
) -> Result<(Option<Vec<Value>>, Inline), ApiError> {
    let Some(artifacts) = body.as_object_mut().and_then(|o| o.remove("artifacts")) else {
        return Ok((None, (Vec::new(), Vec::new())));
    };
    let mut artifacts = match artifacts {
        Value::Array(a) => a,
        Value::Null => return Ok((None, (Vec::new(), Vec::new()))),
        _ => {
            return Err(ApiError::attribute(
                "artifacts",
                "expected a list of artifacts",
            ))
        }
    };
    if artifacts.len() > obs::MAX_PER_REQUEST {
        return Err(ApiError::attribute(
            "artifacts",
            format!("at most {} artifacts", obs::MAX_PER_REQUEST),
        ));
    }
    let types = db.read(|c| Ok(obs::types(c)?)).await?;
    let st = state.clone();
    let (artifacts, inline) = web::block(move || {
        let files = decode_artifacts(
            &st.uploads.datastore,
            st.uploads.max_upload_bytes,
            &types,
            &mut artifacts,
            "artifacts",
        )?;
        Ok::<_, ApiError>((artifacts, files))
    })
    .await
    .map_err(ApiError::internal)??;
    Ok((Some(artifacts), inline))
}

fn observable_inputs(artifacts: &[Value]) -> Result<Vec<InputObservable>, ApiError> {
    artifacts
        .iter()
        .enumerate()
        .map(|(i, a)| {
            serde_json::from_value(a.clone())
                .map_err(|e| ApiError::attribute(&format!("artifacts[{i}]"), e.to_string()))
        })
        .collect()
}

fn load(c: &mut DbConn, id: i64) -> Result<AlertRow, ApiError> {
    Ok(alert_t::table
        .find(id)
        .select(AlertRow::as_select())
        .first(c)?)
}

/// Creates an alert with its artifacts (files inline as `filename;contentType;base64`).
#[utoipa::path(tag = "legacy", request_body = Object, responses((status = 201, description = "the v0 alert with its artifacts"), (status = 400), (status = 403), (status = 413)))]
#[post("/api/alert")]
pub async fn create(
    db: web::Data<Db>,
    state: web::Data<ServiceState>,
    caller: Caller,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageAlert/create")?;
    let mut body = read_json(payload, alert_body_limit(&state)).await?;
    if !body.is_object() {
        return Err(ApiError::BadRequest(
            "the body must be a JSON object".into(),
        ));
    }
    let (artifacts, (files, staged)) = take_artifacts(&db, &state, &mut body).await?;
    if let (Some(a), Value::Object(o)) = (artifacts, &mut body) {
        o.insert("observables".into(), Value::Array(a));
    }
    if let Value::Object(o) = &mut body {
        // v0 has no alert status on creation; its `status` is computed.
        o.remove("status");
    }
    let input: InputAlert = serde_json::from_value(body)
        .map_err(|e| ApiError::BadRequest(format!("invalid alert: {e}")))?;
    let actor = Actor::of(&caller);
    let out = service_kit::body::write_keeping(&db, &state.uploads.datastore, staged, move |c| {
        let new = alerts::check(c, &actor, &input, &files)?;
        let id = new.row.id;
        alerts::insert(c, &actor, new)?;
        let a = load(c, id)?;
        super::alert_row(c, &a)
    })
    .await?;
    Ok(HttpResponse::Created().json(out))
}

/// Query of `GET /api/alert/{id}`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct GetParams {
    /// `1`: also the cases with observables in common (`similarCases`).
    pub similarity: Option<String>,
}

/// Cases holding observables of this alert (same type and value, or same file).
fn similar_cases(c: &mut DbConn, who: &Actor, a: &AlertRow) -> Result<Vec<Value>, ApiError> {
    let mine = obs::visible_children(c, who, Parent::Alert(a.id))?;
    let found = super::cases::cases_sharing(c, who, &mine, None)?;
    let mut out = Vec::new();
    for (k, theirs, matched) in found {
        let v0 = super::case_row(c, &k)?;
        let pick = |key: &str| v0.get(key).cloned().unwrap_or(Value::Null);
        out.push(json!({
            "_id": pick("_id"), "id": pick("id"), "caseId": pick("caseId"),
            "title": pick("title"), "status": pick("status"),
            "resolutionStatus": pick("resolutionStatus"), "tags": pick("tags"),
            "tlp": pick("tlp"), "severity": pick("severity"),
            "startDate": pick("startDate"), "endDate": pick("endDate"),
            "similarArtifactCount": matched.len(),
            "artifactCount": theirs.len(),
            "similarIocCount": matched.iter().filter(|o| o.ioc).count(),
            "iocCount": theirs.iter().filter(|o| o.ioc).count(),
        }));
    }
    Ok(out)
}

/// One alert with its artifacts (`similarity=1`: and `similarCases`).
#[utoipa::path(tag = "legacy", params(GetParams), responses((status = 200, description = "the v0 alert"), (status = 404)))]
#[get("/api/alert/{id}")]
pub async fn get(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
    params: web::Query<GetParams>,
) -> Result<HttpResponse, ApiError> {
    let who = Actor::of(&caller);
    let similarity = crate::routes::flag(params.similarity.as_deref());
    let out = db
        .read(move |c| {
            let a = find_alert(c, who.org_id, &id)?;
            let mut v = super::alert_row(c, &a)?;
            if similarity {
                let similar = similar_cases(c, &who, &a)?;
                if let Value::Object(o) = &mut v {
                    o.insert("similarCases".into(), Value::Array(similar));
                }
            }
            Ok(v)
        })
        .await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Updates an alert (`tlp`, `pap`, `severity`, `tags`, `caseTemplate`, `title`,
/// `description`, `customFields`, `follow`...); `artifacts` not yet in the alert are added.
#[utoipa::path(tag = "legacy", request_body = Object, responses((status = 200, description = "the updated v0 alert"), (status = 400), (status = 404)))]
#[patch("/api/alert/{id}")]
pub async fn update(
    db: web::Data<Db>,
    state: web::Data<ServiceState>,
    caller: Caller,
    id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageAlert/update")?;
    let mut body = read_json(payload, alert_body_limit(&state)).await?;
    if !body.is_object() {
        return Err(ApiError::BadRequest(
            "the body must be a JSON object".into(),
        ));
    }
    let (artifacts, (files, staged)) = take_artifacts(&db, &state, &mut body).await?;
    let inputs = observable_inputs(artifacts.as_deref().unwrap_or_default())?;
    if let Value::Object(o) = &mut body {
        o.remove("status");
    }
    let actor = Actor::of(&caller);
    let out = service_kit::body::write_keeping(&db, &state.uploads.datastore, staged, move |c| {
        let a = crate::casework::alerts::update_one(c, &actor, &id, &body, None)?;
        if !inputs.is_empty() {
            let types = obs::types(c)?;
            let mut news = Vec::new();
            for (i, input) in inputs.iter().enumerate() {
                news.extend(obs::expand(
                    c,
                    &actor,
                    &types,
                    input,
                    &files,
                    None,
                    &format!("artifacts[{i}]."),
                )?);
            }
            obs::insert(c, &actor, Parent::Alert(a.id), news)?;
        }
        super::alert_row(c, &a)
    })
    .await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Deletes an alert and its artifacts (`force=1` is what thehive4py sends; it changes
/// nothing here).
#[utoipa::path(tag = "legacy", responses((status = 204), (status = 404)))]
#[delete("/api/alert/{id}")]
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

/// Answers a v0 search of `kind`.
pub async fn run_search(
    db: web::Data<Db>,
    caller: Caller,
    req: HttpRequest,
    body: web::Bytes,
    kind: V0,
) -> Result<HttpResponse, ApiError> {
    let body = optional_json(&body)?;
    let (range, sort) = search::params(req.query_string(), &body)?;
    let filter = search::filter_of(&body)?;
    let (items, total) = db
        .read(move |c| search::search(c, &caller, kind, filter, range, &sort))
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("X-Total", total.to_string()))
        .json(items))
}

/// Searches alerts (`range`, `sort`, `{"query": ...}`); `X-Total` counts every match.
#[utoipa::path(tag = "legacy", request_body = Object, responses((status = 200, description = "v0 alerts; X-Total"), (status = 400)))]
#[post("/api/alert/_search")]
pub async fn find(
    db: web::Data<Db>,
    caller: Caller,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    run_search(db, caller, req, body, V0::Alert).await
}

async fn set_read(
    db: web::Data<Db>,
    caller: Caller,
    id: String,
    read: bool,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageAlert/update")?;
    let actor = Actor::of(&caller);
    let out = db
        .write(move |c| {
            let mut a = find_alert(c, actor.org_id, &id)?;
            let before = a.clone();
            a.is_read = read;
            a.updated_by = Some(actor.login.clone());
            a.updated_at = Some(now_ms());
            diesel::update(alert_t::table.find(a.id))
                .set(&a)
                .execute(c)?;
            crate::audit::updated(
                &actor,
                crate::audit::ObjectType::Alert,
                a.id,
                &before,
                &a,
                Some(crate::audit::Root::Alert(a.id)),
            );
            super::alert_row(c, &a)
        })
        .await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Marks an alert as read (v0 status `Ignored`, or `Imported` once in a case).
#[utoipa::path(tag = "legacy", responses((status = 200, description = "the v0 alert"), (status = 404)))]
#[post("/api/alert/{id}/markAsRead")]
pub async fn mark_read(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    set_read(db, caller, id.into_inner(), true).await
}

/// Marks an alert as unread (v0 status `New`, or `Updated` once in a case).
#[utoipa::path(tag = "legacy", responses((status = 200, description = "the v0 alert"), (status = 404)))]
#[post("/api/alert/{id}/markAsUnread")]
pub async fn mark_unread(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    set_read(db, caller, id.into_inner(), false).await
}

async fn set_follow(
    db: web::Data<Db>,
    caller: Caller,
    id: String,
    on: bool,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageAlert/update")?;
    let actor = Actor::of(&caller);
    let out = db
        .write(move |c| {
            let a = crate::casework::alerts::update_one(
                c,
                &actor,
                &id,
                &json!({ "follow": on }),
                None,
            )?;
            super::alert_row(c, &a)
        })
        .await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Follows the alert's source.
#[utoipa::path(tag = "legacy", responses((status = 200, description = "the v0 alert"), (status = 404)))]
#[post("/api/alert/{id}/follow")]
pub async fn follow(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    set_follow(db, caller, id.into_inner(), true).await
}

/// Stops following the alert's source.
#[utoipa::path(tag = "legacy", responses((status = 200, description = "the v0 alert"), (status = 404)))]
#[post("/api/alert/{id}/unfollow")]
pub async fn unfollow(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    set_follow(db, caller, id.into_inner(), false).await
}

/// Promotes an alert to a case: the body's `caseTemplate`, else the alert's; the caller
/// becomes the case's owner when the alert names no assignee.
#[utoipa::path(tag = "legacy", request_body = Object, responses((status = 201, description = "the v0 case"), (status = 400), (status = 404)))]
#[post("/api/alert/{id}/createCase")]
pub async fn create_case(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageAlert/import")?;
    caller.require("manageCase/create")?;
    let mut body = optional_json(&body)?;
    if body.is_null() {
        body = json!({});
    }
    let actor = Actor::of(&caller);
    let out = db
        .write(move |c| {
            let mut a = find_alert(c, actor.org_id, &id)?;
            if let Value::Object(o) = &mut body {
                if let Some(owner) = o.remove("owner") {
                    o.entry("assignee").or_insert(owner);
                }
                if a.assignee.is_none() {
                    o.entry("assignee").or_insert(actor.login.clone().into());
                }
            }
            // Read as the v1 body is, the attribute at fault named.
            let input: InputAlertCase =
                parse_json(&serde_json::to_vec(&body).map_err(ApiError::internal)?)?;
            let k = alerts::promote(c, &actor, &mut a, &input)?;
            super::case_row(c, &k)
        })
        .await?;
    Ok(HttpResponse::Created().json(out))
}

/// Merges an alert into a case.
#[utoipa::path(tag = "legacy", responses((status = 200, description = "the v0 case"), (status = 400), (status = 404)))]
#[post("/api/alert/{id}/merge/{case_id}")]
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
            super::case_row(c, &k)
        })
        .await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Adds artifacts to an alert: JSON (files inline as `filename;contentType;base64`), or
/// multipart `_json` + `attachment`.
#[utoipa::path(tag = "legacy", request_body = Object, responses((status = 201, description = "the new v0 artifacts"), (status = 400), (status = 404)))]
#[post("/api/alert/{id}/artifact")]
pub async fn create_artifact(
    db: web::Data<Db>,
    state: web::Data<ServiceState>,
    caller: Caller,
    id: web::Path<String>,
    body: Upload,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageAlert/update")?;
    let (input, files, staged) = super::cases::artifact_input(&db, &state, body).await?;
    let actor = Actor::of(&caller);
    let out = service_kit::body::write_keeping(&db, &state.uploads.datastore, staged, move |c| {
        let rows = crate::casework::alerts::add_observables(c, &actor, &id, &input, &files)?;
        super::observable_rows(c, &rows)
    })
    .await?;
    Ok(HttpResponse::Created().json(out))
}

fn alert_artifact(
    c: &mut DbConn,
    who: &Actor,
    key: &str,
) -> Result<crate::db::casework::ObservableRow, ApiError> {
    super::cases::artifact(c, who, key, true)
}

/// Updates an alert's artifact (`message`, `tlp`, `tags`, `ioc`, `sighted`,
/// `ignoreSimilarity`).
#[utoipa::path(tag = "legacy", request_body = Object, responses((status = 200, description = "the v0 artifact"), (status = 400), (status = 404)))]
#[patch("/api/alert/artifact/{id}")]
pub async fn update_artifact(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<Value>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageAlert/update")?;
    let actor = Actor::of(&caller);
    let out = db
        .write(move |c| {
            alert_artifact(c, &actor, &id)?;
            let o = crate::casework::observables::update_one(c, &actor, &id, &body.0, None)?;
            Ok(super::observable_rows(c, &[o])?.pop())
        })
        .await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Deletes an alert's artifact.
#[utoipa::path(tag = "legacy", responses((status = 204), (status = 404)))]
#[delete("/api/alert/artifact/{id}")]
pub async fn delete_artifact(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageAlert/update")?;
    let actor = Actor::of(&caller);
    db.write(move |c| {
        let o = alert_artifact(c, &actor, &id)?;
        obs::delete_row(c, &actor, o)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, service_kit::datastore::Datastore) {
        let dir = tempfile::tempdir().expect("ok");
        let store = service_kit::datastore::Datastore::open(dir.path()).expect("ok");
        (dir, store)
    }

    #[test]
    fn inline_files_are_decoded_and_named_by_their_base_name() {
        let (_d, st) = store();
        let types = HashMap::from([("file".to_string(), true), ("mail".to_string(), false)]);
        let mut arts = vec![
            json!({"dataType": "mail", "data": "a@b.c"}),
            json!({"dataType": "file", "data": "/tmp/feeder/Invoice.eml;message/rfc822;aGVsbG8="}),
            json!({"dataType": "file", "data": "empty.txt;text/plain"}),
        ];
        let (files, staged) =
            decode_artifacts(&st, 1024, &types, &mut arts, "artifacts").expect("ok");
        assert_eq!(files.len(), 2);
        assert_eq!(staged.len(), 2);
        assert!(
            !st.path_of(&files[0].stored.sha256).exists(),
            "staged, not yet in the datastore"
        );
        assert_eq!(files[0].filename, "Invoice.eml");
        assert_eq!(files[0].content_type, "message/rfc822");
        assert_eq!(files[0].stored.size, 5);
        assert_eq!(files[1].stored.size, 0);
        assert_eq!(arts[1]["attachment"], "v0-artifact-1");
        assert!(arts[1].get("data").is_none());
        assert_eq!(arts[0]["data"], "a@b.c");
    }

    #[test]
    fn a_bad_inline_file_names_the_expected_form() {
        let (_d, st) = store();
        let types = HashMap::from([("file".to_string(), true)]);
        for bad in ["justtext", "a.txt;text/plain;not base64!"] {
            let mut arts = vec![json!({"dataType": "file", "data": bad})];
            let err =
                decode_artifacts(&st, 1024, &types, &mut arts, "artifacts").expect_err("an error");
            assert!(
                err.to_string()
                    .contains("expected filename;contentType;base64value"),
                "{err}"
            );
        }
        let mut big = vec![json!({"dataType": "file", "data": format!("a;b;{}",
            base64::engine::general_purpose::STANDARD.encode(vec![0u8; 2048]))})];
        assert!(matches!(
            decode_artifacts(&st, 1024, &types, &mut big, "artifacts"),
            Err(ApiError::PayloadTooLarge(_))
        ));
    }
}
