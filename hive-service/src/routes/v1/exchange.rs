//! Cases in and out: export to a password-protected `.thar` archive and import from it, and
//! import of a MISP event as a case.
//!
//! A `.thar` made here is a zip encrypted with the given password (ZipCrypto, the only
//! scheme every unzip tool reads) holding `case.json` (the case, its tasks with their logs,
//! observables, procedures and pages in their v1 shapes) and `files/<sha256>` for every file.
//! It round-trips through this service; TheHive 5's own archives are not read.
//!
//! An export holds what the caller sees of the case, as the access layer decides (a partner
//! gets only the tasks, logs, observables and files shared with it). An import reads at most
//! 10,000 entries and `datastore.max_upload_bytes` once inflated (413 past it); its files are
//! staged and kept only with the case, and a file the archive names must be in the archive.

use crate::access::{self, Entity};
use crate::auth::Caller;
use crate::casework::cases::{self, CaseSpec};
use crate::casework::collab::{self, NewProcedure};
use crate::casework::observables::{self as obs, NewFile, NewObservable, Parent};
use crate::casework::{custom, find_case, find_template, tasks, Actor};
use crate::db::casework::*;
use crate::db::schema::{attachments, logs, pages, procedures, tasks as task_t};
use crate::db::{next_id, now_ms, Db, DbConn};
use crate::domain::values;
use crate::render;
use crate::ServiceState;
use actix_web::{get, post, web, HttpResponse};
use diesel::prelude::*;
use serde::Deserialize;
use serde_json::{json, Value};
use service_kit::body::Upload;
use service_kit::error::ApiError;
use shared_models::casework::{InputPage, InputTask};
use std::io::{Read, Write};

/// Query of the export route.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ExportParams {
    /// Password of the archive.
    pub password: String,
}

fn file_entry(a: &AttachmentRow) -> Value {
    json!({"name": a.name, "contentType": a.content_type, "sha256": a.sha256, "sha1": a.sha1, "md5": a.md5, "size": a.size})
}

/// Exports a case as a password-protected `.thar` archive.
#[utoipa::path(tag = "case", params(ExportParams), responses((status = 200, description = "the archive"), (status = 400), (status = 404)))]
#[get("/api/v1/case/{id}/export")]
pub async fn export(
    db: web::Data<Db>,
    state: web::Data<ServiceState>,
    caller: Caller,
    id: web::Path<String>,
    params: web::Query<ExportParams>,
) -> Result<HttpResponse, ApiError> {
    let password = params.into_inner().password;
    if password.is_empty() || password.len() > 256 {
        return Err(ApiError::attribute(
            "password",
            "must be 1 to 256 characters",
        ));
    }
    let who = Actor::of(&caller);
    let (doc, files) = db
        .read(move |c| {
            let k = find_case(c, &who, &id)?;
            let case = render::to_value(&crate::render::rendered_case(c, &k)?);
            let mut files: Vec<String> = Vec::new();
            let sees = |e: Entity, t: &str| access::visible(e, &who, t);
            let ts: Vec<TaskRow> = task_t::table.filter(task_t::case_id.eq(k.id)).filter(sees(Entity::Task, "tasks")).order(task_t::id.asc()).select(TaskRow::as_select()).load(c)?;
            let mut task_docs = Vec::new();
            for t in &ts {
                let ls: Vec<LogRow> = logs::table.filter(logs::task_id.eq(t.id)).filter(sees(Entity::Log, "logs")).order(logs::id.asc()).select(LogRow::as_select()).load(c)?;
                let mut log_docs = Vec::new();
                for l in &ls {
                    let atts: Vec<AttachmentRow> = attachments::table.filter(attachments::owner_id.eq(l.id)).filter(sees(Entity::Attachment, "attachments")).select(AttachmentRow::as_select()).load(c)?;
                    files.extend(atts.iter().map(|a| a.sha256.clone()));
                    log_docs.push(json!({"message": l.message, "date": l.date, "includeInTimeline": l.include_in_timeline, "files": atts.iter().map(file_entry).collect::<Vec<_>>()}));
                }
                task_docs.push(json!({"task": render::to_value(&render::task(t)), "logs": log_docs}));
            }
            let os = obs::visible_children(c, &who, Parent::Case(k.id))?;
            let atts = obs::attachments_of(c, &os)?;
            let mut obs_docs = Vec::new();
            for o in &os {
                let mut v = render::to_value(&render::observable(o, o.attachment_id.and_then(|a| atts.get(&a))));
                if let Some(a) = o.attachment_id.and_then(|a| atts.get(&a)) {
                    files.push(a.sha256.clone());
                    v["file"] = file_entry(a);
                }
                obs_docs.push(v);
            }
            let ps: Vec<ProcedureRow> = procedures::table.filter(procedures::case_id.eq(k.id)).filter(sees(Entity::Procedure, "procedures")).select(ProcedureRow::as_select()).load(c)?;
            let pg: Vec<PageRow> = pages::table.filter(pages::case_id.eq(k.id)).filter(sees(Entity::Page, "pages")).select(PageRow::as_select()).load(c)?;
            let doc = json!({
                "version": 1,
                "case": case,
                "tasks": task_docs,
                "observables": obs_docs,
                "procedures": ps.iter().map(|p| render::to_value(&collab::procedure(p))).collect::<Vec<_>>(),
                "pages": pg.iter().map(|p| render::to_value(&collab::page(p))).collect::<Vec<_>>(),
            });
            files.sort();
            files.dedup();
            Ok((doc, files))
        })
        .await?;
    let store = state.uploads.datastore.clone();
    let archive = web::block(move || -> Result<Vec<u8>, String> {
        use zip::unstable::write::FileOptionsExt;
        let mut out = std::io::Cursor::new(Vec::new());
        let mut w = zip::ZipWriter::new(&mut out);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .with_deprecated_encryption(password.as_bytes());
        w.start_file("case.json", options)
            .map_err(|e| e.to_string())?;
        w.write_all(doc.to_string().as_bytes())
            .map_err(|e| e.to_string())?;
        for f in files {
            let bytes = std::fs::read(store.path_of(&f)).map_err(|e| format!("file {f}: {e}"))?;
            w.start_file(format!("files/{f}"), options)
                .map_err(|e| e.to_string())?;
            w.write_all(&bytes).map_err(|e| e.to_string())?;
        }
        w.finish().map_err(|e| e.to_string())?;
        Ok(out.into_inner())
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .insert_header(("Content-Type", "application/octet-stream"))
        .insert_header(("Content-Disposition", "attachment; filename=\"case.thar\""))
        .body(archive))
}

/// What a `.thar` holds: `case.json`, and its files staged (by SHA-256).
struct Archive {
    doc: Value,
    files: std::collections::HashMap<String, service_kit::datastore::Staged>,
}

/// Reads a `.thar`: `case.json` and its files, staged, within the limits (entries, and
/// `datastore.max_upload_bytes` inflated in all, counted as read, not as declared).
fn read_archive(
    state: &ServiceState,
    path: &std::path::Path,
    password: &str,
) -> Result<Archive, ApiError> {
    use service_kit::datastore::{StageError, MAX_ARCHIVE_ENTRIES};
    let bad = |e: String| ApiError::BadRequest(format!("Invalid case archive: {e}"));
    let limit = state.uploads.max_upload_bytes;
    let too_large = || {
        ApiError::PayloadTooLarge(format!(
            "the archive holds more than {limit} bytes once inflated (datastore.max_upload_bytes)"
        ))
    };
    let f = std::fs::File::open(path).map_err(ApiError::internal)?;
    let mut zip = zip::ZipArchive::new(f).map_err(|e| bad(e.to_string()))?;
    if zip.len() > MAX_ARCHIVE_ENTRIES {
        return Err(bad(format!("more than {MAX_ARCHIVE_ENTRIES} entries")));
    }
    let mut doc = None;
    let mut files = std::collections::HashMap::new();
    let mut budget = limit;
    for i in 0..zip.len() {
        let mut entry = zip
            .by_index_decrypt(i, password.as_bytes())
            .map_err(|e| bad(format!("{e} (wrong password?)")))?;
        let name = entry.name().to_string();
        if entry.size() > budget {
            return Err(too_large());
        }
        if name == "case.json" {
            let max_doc = state.uploads.max_json_bytes as u64;
            let mut bytes = Vec::new();
            (&mut entry)
                .take(max_doc.min(budget) + 1)
                .read_to_end(&mut bytes)
                .map_err(|e| bad(format!("{e} (wrong password?)")))?;
            let read = bytes.len() as u64;
            if read > budget {
                return Err(too_large());
            }
            if read > max_doc {
                return Err(ApiError::PayloadTooLarge(format!(
                    "case.json is larger than {max_doc} bytes (http.max_json_bytes)"
                )));
            }
            budget -= read;
            doc = Some(serde_json::from_slice::<Value>(&bytes).map_err(|e| bad(e.to_string()))?);
        } else if let Some(expected) = name.strip_prefix("files/") {
            let staged = state
                .uploads
                .datastore
                .stage_reader(&mut entry, &mut budget)
                .map_err(|e| match e {
                    StageError::TooLarge => too_large(),
                    StageError::Read(e) => bad(e.to_string()),
                    StageError::Store(e) => ApiError::internal(e),
                })?;
            if staged.stored.sha256 != expected {
                return Err(bad(format!("file {expected} does not match its hash")));
            }
            files.insert(staged.stored.sha256.clone(), staged);
        }
    }
    let doc = doc.ok_or_else(|| bad("no case.json".into()))?;
    Ok(Archive { doc, files })
}

/// The files of an archive, by SHA-256: their hashes and sizes as read, not as claimed.
type Held = std::collections::HashMap<String, service_kit::datastore::Stored>;

/// A file `case.json` names, as the archive holds it (its name and type checked).
fn file_of(v: &Value, held: &Held) -> Option<NewFile> {
    let stored = held.get(v.get("sha256")?.as_str()?)?;
    let name = service_kit::body::base_name(v.get("name")?.as_str()?);
    Some(NewFile {
        content_type: service_kit::datastore::content_type(
            v.get("contentType").and_then(Value::as_str).unwrap_or(""),
            &name,
        ),
        name,
        sha256: stored.sha256.clone(),
        sha1: stored.sha1.clone(),
        md5: stored.md5.clone(),
        size: i64::try_from(stored.size).unwrap_or(i64::MAX),
    })
}

fn str_of(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_string)
}

/// Every file `case.json` names (log files, file observables) must be in the archive:
/// an import never links the case to a file the datastore holds for someone else.
fn check_files(doc: &Value, present: &std::collections::HashSet<String>) -> Result<(), ApiError> {
    let logs = doc
        .get("tasks")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| t.get("logs").and_then(Value::as_array))
        .flatten()
        .filter_map(|l| l.get("files").and_then(Value::as_array))
        .flatten();
    let observables = doc
        .get("observables")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|o| o.get("file"));
    for f in logs.chain(observables) {
        let sha = f.get("sha256").and_then(Value::as_str).unwrap_or("");
        if !present.contains(sha) {
            return Err(ApiError::BadRequest(format!(
                "Invalid case archive: file {sha} is named in case.json but not in the archive"
            )));
        }
    }
    Ok(())
}

fn import_doc(c: &mut DbConn, actor: &Actor, doc: &Value, held: &Held) -> Result<Value, ApiError> {
    let k = doc
        .get("case")
        .ok_or_else(|| ApiError::BadRequest("Invalid case archive: no case".into()))?;
    let mut errors = Vec::new();
    let cfs = match k.get("customFields") {
        Some(v @ Value::Array(_)) => {
            let list: Vec<Value> = v
                .as_array()
                .into_iter()
                .flatten()
                .map(|f| json!({"name": f.get("name"), "value": f.get("value"), "order": f.get("order")}))
                .collect();
            match custom::parse(c, &Value::Array(list)) {
                Ok(x) => x,
                Err(e) => {
                    errors.push(json!({"type": "customFields", "message": e.to_string()}));
                    Vec::new()
                }
            }
        }
        _ => Vec::new(),
    };
    let spec = CaseSpec {
        title: values::text("title", &str_of(k, "title").unwrap_or_default(), 512)?,
        description: str_of(k, "description").unwrap_or_default(),
        severity: k
            .get("severity")
            .and_then(Value::as_i64)
            .map(|s| s.clamp(1, 4) as i32),
        start_date: k.get("startDate").and_then(Value::as_i64),
        tags: values::tags(
            "tags",
            &serde_json::from_value::<Vec<String>>(k.get("tags").cloned().unwrap_or(json!([])))
                .unwrap_or_default(),
        )?,
        flag: k.get("flag").and_then(Value::as_bool),
        tlp: k
            .get("tlp")
            .and_then(Value::as_i64)
            .map(|s| s.clamp(0, 4) as i32),
        pap: k
            .get("pap")
            .and_then(Value::as_i64)
            .map(|s| s.clamp(0, 3) as i32),
        summary: str_of(k, "summary"),
        custom_fields: cfs,
        ..CaseSpec::default()
    };
    let mut case = cases::create(c, actor, spec)?;
    if let Some(status) = str_of(k, "status") {
        if values::stage_of(values::CASE_STATUSES, "status", &status)? == "Closed" {
            case.status = status;
            case.stage = "Closed".into();
            case.impact_status = str_of(k, "impactStatus");
            case.end_date = k.get("endDate").and_then(Value::as_i64).or(Some(now_ms()));
            case.closed_date = Some(now_ms());
            diesel::update(crate::db::schema::cases::table.find(case.id))
                .set(&case)
                .execute(c)?;
        }
    }
    for t in doc
        .get("tasks")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let input: InputTask = match t.get("task").cloned().map(serde_json::from_value) {
            Some(Ok(i)) => i,
            _ => {
                errors.push(json!({"type": "task", "message": "unreadable task"}));
                continue;
            }
        };
        let mut input = tasks::check(&input, "task.")?;
        input.assignee = None;
        let row = tasks::insert(c, actor, case.id, &input)?;
        for l in t
            .get("logs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let msg = str_of(l, "message").unwrap_or_default();
            let log = tasks::insert_log(
                c,
                actor,
                &row,
                msg,
                l.get("date").and_then(Value::as_i64),
                l.get("includeInTimeline").and_then(Value::as_i64),
            )?;
            for f in l
                .get("files")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|f| file_of(f, held))
            {
                diesel::insert_into(attachments::table)
                    .values(AttachmentRow {
                        id: next_id(),
                        organisation_id: actor.org_id,
                        owner_id: Some(log.id),
                        name: f.name,
                        content_type: f.content_type,
                        size: f.size,
                        sha256: f.sha256,
                        sha1: f.sha1,
                        md5: f.md5,
                        created_by: actor.login.clone(),
                        created_at: now_ms(),
                    })
                    .execute(c)?;
            }
        }
    }
    let types = obs::types(c)?;
    let mut news = Vec::new();
    for o in doc
        .get("observables")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let data_type = str_of(o, "dataType").unwrap_or_default();
        if !types.contains_key(&data_type) {
            errors.push(json!({"type": "observable", "message": format!("observable type {data_type} does not exist")}));
            continue;
        }
        news.push(NewObservable {
            data_type,
            data: str_of(o, "data"),
            file: o.get("file").and_then(|f| file_of(f, held)),
            message: str_of(o, "message"),
            tlp: o
                .get("tlp")
                .and_then(Value::as_i64)
                .unwrap_or(2)
                .clamp(0, 4) as i32,
            pap: o
                .get("pap")
                .and_then(Value::as_i64)
                .unwrap_or(2)
                .clamp(0, 3) as i32,
            tags: serde_json::from_value(o.get("tags").cloned().unwrap_or(json!([])))
                .unwrap_or_default(),
            ioc: o.get("ioc").and_then(Value::as_bool).unwrap_or(false),
            sighted: o.get("sighted").and_then(Value::as_bool).unwrap_or(false),
            sighted_at: o.get("sightedAt").and_then(Value::as_i64),
            ignore_similarity: o
                .get("ignoreSimilarity")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            reports: o
                .get("reports")
                .map(Value::to_string)
                .unwrap_or_else(|| "{}".into()),
        });
    }
    let rows = obs::insert(c, actor, Parent::Case(case.id), news)?;
    let mut procs = Vec::new();
    for p in doc
        .get("procedures")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let checked = serde_json::from_value(p.clone())
            .map_err(|e| ApiError::attribute("procedure", e.to_string()))
            .and_then(|p| NewProcedure::check(&p, "procedure."));
        match checked {
            Ok(np) => procs.push(np.insert(c, actor, Some(case.id), None)?),
            Err(e) => errors.push(json!({"type": "procedure", "message": e.to_string()})),
        }
    }
    let page_inputs: Vec<InputPage> = match doc.get("pages") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|e| ApiError::attribute("pages", e.to_string()))?,
    };
    super::collab::insert_pages(c, actor, case.id, &page_inputs)?;
    Ok(json!({
        "case": render::to_value(&crate::render::rendered_case(c, &case)?),
        "observables": render::to_value(&render::observables(c, &rows)?),
        "procedures": procs.iter().map(|p| render::to_value(&collab::procedure(p))).collect::<Vec<_>>(),
        "errors": errors,
    }))
}

/// Imports a case from a `.thar` archive (multipart: `_json` `{password}` and `file`).
#[utoipa::path(tag = "case", responses((status = 201, description = "`{case, observables, procedures, errors}`"), (status = 400)))]
#[post("/api/v1/case/import")]
pub async fn import(
    db: web::Data<Db>,
    state: web::Data<ServiceState>,
    caller: Caller,
    mut body: Upload,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageCase/create")?;
    let meta: Value = body.parse()?;
    let password = meta
        .get("password")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::missing("password"))?
        .to_string();
    let file = body
        .files_named("file")
        .next()
        .cloned()
        .ok_or_else(|| ApiError::missing("file"))?;
    let path = body
        .staged_path(&file.stored.sha256)
        .ok_or_else(|| ApiError::missing("file"))?
        .to_path_buf();
    let st = state.clone();
    // The archive itself is read, not kept: `staged` goes when this handler returns.
    let staged = body.take_staged();
    let archive = web::block(move || {
        let a = read_archive(&st, &path, &password);
        drop(staged);
        a
    })
    .await
    .map_err(ApiError::internal)??;
    let present = archive.files.keys().cloned().collect();
    check_files(&archive.doc, &present)?;
    let actor = Actor::of(&caller);
    let doc = archive.doc;
    let held: Held = archive
        .files
        .iter()
        .map(|(k, f)| (k.clone(), f.stored.clone()))
        .collect();
    let files: Vec<service_kit::datastore::Staged> = archive.files.into_values().collect();
    let out = service_kit::body::write_keeping(&db, &state.uploads.datastore, files, move |c| {
        import_doc(c, &actor, &doc, &held)
    })
    .await?;
    Ok(HttpResponse::Created().json(out))
}

fn misp_type(t: &str) -> &'static str {
    match t {
        "ip-src" | "ip-dst" | "ip-src|port" | "ip-dst|port" => "ip",
        "domain" => "domain",
        "hostname" => "fqdn",
        "url" | "link" | "uri" => "url",
        "email" | "email-src" | "email-dst" | "email-reply-to" => "mail",
        "email-subject" => "mail-subject",
        "md5" | "sha1" | "sha256" | "sha512" | "ssdeep" | "imphash" | "tlsh" => "hash",
        "filename" => "filename",
        "regkey" | "regkey|value" => "registry",
        "user-agent" => "user-agent",
        "AS" => "autonomous-system",
        _ => "other",
    }
}

/// Imports a MISP event as a case (multipart: `_json` with the case's template, tasks...,
/// and `file`, the event's JSON).
#[utoipa::path(tag = "connector", responses((status = 201, description = "the case"), (status = 400)))]
#[post("/api/v1/connector/misp/case/import")]
pub async fn misp_import(
    db: web::Data<Db>,
    caller: Caller,
    body: Upload,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageCase/create")?;
    let meta: Value = body.parse()?;
    let file = body
        .files_named("file")
        .next()
        .cloned()
        .ok_or_else(|| ApiError::missing("file"))?;
    // The event is read, not kept (its staged copy goes with the request).
    let path = body
        .staged_path(&file.stored.sha256)
        .ok_or_else(|| ApiError::missing("file"))?;
    let bytes = tokio::fs::read(path).await.map_err(ApiError::internal)?;
    let invalid = || ApiError::BadRequest("Could not convert json to MISP event".into());
    let doc: Value = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    let event = doc.get("Event").unwrap_or(&doc).clone();
    let info = event
        .get("info")
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(invalid)?
        .to_string();
    let actor = Actor::of(&caller);
    let out = db
        .write(move |c| {
            let mut attributes: Vec<Value> = event
                .get("Attribute")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for o in event
                .get("Object")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                attributes.extend(
                    o.get("Attribute")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default(),
                );
            }
            let mut tags: Vec<String> = event
                .get("Tag")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|t| t.get("name").and_then(Value::as_str).map(str::to_string))
                .collect();
            let tlp = tags.iter().find_map(|t| match t.to_lowercase().as_str() {
                "tlp:white" | "tlp:clear" => Some(0),
                "tlp:green" => Some(1),
                "tlp:amber" => Some(2),
                "tlp:amber+strict" => Some(3),
                "tlp:red" => Some(4),
                _ => None,
            });
            tags = values::tags("tags", &tags)?;
            let severity = match event
                .get("threat_level_id")
                .and_then(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .or_else(|| v.as_i64().map(|i| i.to_string()))
                })
                .as_deref()
            {
                Some("1") => 3,
                Some("3") => 1,
                _ => 2,
            };
            let template = match meta.get("caseTemplate").and_then(Value::as_str) {
                Some(t) => Some(find_template(c, actor.org_id, t)?),
                None => None,
            };
            let tasks: Vec<InputTask> = match meta.get("tasks") {
                Some(v) => serde_json::from_value::<Vec<InputTask>>(v.clone())
                    .map_err(|e| ApiError::attribute("tasks", e.to_string()))?
                    .iter()
                    .map(|t| tasks::check(t, "tasks[]."))
                    .collect::<Result<_, _>>()?,
                None => Vec::new(),
            };
            let spec = CaseSpec {
                title: values::text("title", &info, 512)?,
                description: format!(
                    "Imported from MISP event {}",
                    event.get("uuid").and_then(Value::as_str).unwrap_or("")
                ),
                severity: Some(severity),
                tags,
                tlp,
                assignee: meta
                    .get("assignee")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                custom_fields: match meta.get("customFields") {
                    Some(v) => custom::parse(c, v)?,
                    None => Vec::new(),
                },
                template,
                tasks,
                ..CaseSpec::default()
            };
            let k = cases::create(c, &actor, spec)?;
            let news: Vec<NewObservable> = attributes
                .iter()
                .filter_map(|a| {
                    let value = a.get("value").and_then(Value::as_str)?.trim().to_string();
                    if value.is_empty() {
                        return None;
                    }
                    Some(NewObservable {
                        data_type: misp_type(a.get("type").and_then(Value::as_str).unwrap_or(""))
                            .into(),
                        data: Some(value),
                        file: None,
                        message: a
                            .get("comment")
                            .and_then(Value::as_str)
                            .filter(|s| !s.is_empty())
                            .map(str::to_string),
                        tlp: tlp.unwrap_or(2),
                        pap: 2,
                        tags: a
                            .get("category")
                            .and_then(Value::as_str)
                            .map(|c| vec![format!("misp:category={c}")])
                            .unwrap_or_default(),
                        ioc: a.get("to_ids").and_then(Value::as_bool).unwrap_or(false),
                        sighted: false,
                        sighted_at: None,
                        ignore_similarity: false,
                        reports: "{}".into(),
                    })
                })
                .collect();
            obs::insert(c, &actor, Parent::Case(k.id), news)?;
            crate::render::rendered_case(c, &k)
        })
        .await?;
    Ok(HttpResponse::Created().json(out))
}
