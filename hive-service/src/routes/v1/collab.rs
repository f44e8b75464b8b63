//! Comments, procedures, case pages and page templates, custom events and the timeline,
//! links between cases, attachments of cases, alerts and organisations, required actions
//! on tasks.

use super::observables::send_file;
use crate::access::{self, Entity};
use crate::audit::{self, ObjectType, Root};
use crate::auth::Caller;
use crate::casework::collab::downloadable;
use crate::casework::collab::{self, NewProcedure};
use crate::casework::collab::{required_actions, similar_cases};
use crate::casework::observables::NewFile;
use crate::casework::{find_alert, find_case, find_task, Actor};
use crate::db::casework::*;
use crate::db::schema::{
    action_required, attachments, case_links, cases, comments, custom_events, pages, procedures,
};
use crate::db::{next_id, now_ms, parse_id, Db, DbConn};
use crate::domain::values::{self, Patch};
use crate::render;
use crate::render::rendered_case;
use crate::ServiceState;
use actix_web::{delete, get, patch, post, put, web, HttpResponse};
use diesel::prelude::*;
use serde_json::{json, Value};
use service_kit::body::Upload;
use service_kit::error::ApiError;
use service_kit::extract::JsonBody;
use shared_models::casework::*;

fn by_id<T>(
    key: &str,
    kind: &str,
    load: impl FnOnce(i64) -> QueryResult<Option<T>>,
) -> Result<T, ApiError> {
    parse_id(key)
        .map(load)
        .transpose()?
        .flatten()
        .ok_or_else(|| ApiError::NotFound(format!("{kind} {key} not found")))
}

/// Finds a comment of the organisation, in a case or alert `who` sees (to change it).
pub fn find_comment(c: &mut DbConn, who: &Actor, key: &str) -> Result<CommentRow, ApiError> {
    by_id(key, "Comment", |id| {
        comments::table
            .filter(comments::id.eq(id))
            .filter(comments::organisation_id.eq(who.org_id))
            .filter(access::visible(Entity::Comment, who, "comments"))
            .select(CommentRow::as_select())
            .first(c)
            .optional()
    })
}

/// Finds a procedure of the organisation, in a case or alert `who` sees (to change it).
pub fn find_procedure(c: &mut DbConn, who: &Actor, key: &str) -> Result<ProcedureRow, ApiError> {
    by_id(key, "Procedure", |id| {
        procedures::table
            .filter(procedures::id.eq(id))
            .filter(procedures::organisation_id.eq(who.org_id))
            .filter(access::visible(Entity::Procedure, who, "procedures"))
            .select(ProcedureRow::as_select())
            .first(c)
            .optional()
    })
}

/// Finds a page (`template`: a page template, else a case page) of the organisation that
/// `who` sees (to change it).
pub fn find_page(
    c: &mut DbConn,
    who: &Actor,
    key: &str,
    template: bool,
) -> Result<PageRow, ApiError> {
    let kind = if template { "PageTemplate" } else { "Page" };
    let entity = if template {
        Entity::PageTemplate
    } else {
        Entity::Page
    };
    let row = by_id(key, kind, |id| {
        pages::table
            .filter(pages::id.eq(id))
            .filter(pages::organisation_id.eq(who.org_id))
            .filter(access::visible(entity, who, "pages"))
            .select(PageRow::as_select())
            .first(c)
            .optional()
    })?;
    if row.case_id.is_some() == template {
        return Err(ApiError::NotFound(format!("{kind} {key} not found")));
    }
    Ok(row)
}

fn message_of(body: &InputComment) -> Result<String, ApiError> {
    values::text("message", &body.message, values::MAX_DESCRIPTION)
}

fn new_comment(
    actor: &Actor,
    case_id: Option<i64>,
    alert_id: Option<i64>,
    message: String,
) -> CommentRow {
    CommentRow {
        id: next_id(),
        organisation_id: actor.org_id,
        case_id,
        alert_id,
        message,
        is_edited: false,
        created_by: actor.login.clone(),
        created_at: now_ms(),
        updated_by: None,
        updated_at: None,
    }
}

/// Comments on a case.
#[utoipa::path(tag = "comment", request_body = InputComment, responses((status = 201, body = OutputComment), (status = 400), (status = 404)))]
#[post("/api/v1/case/{id}/comment")]
pub async fn comment_case(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<InputComment>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageComment")?;
    let message = message_of(&body.0)?;
    let actor = Actor::of(&caller);
    let row = db
        .write(move |c| {
            let k = find_case(c, &actor, &id)?;
            crate::casework::check_write(c, &actor, k.id, "manageComment")?;
            let row = new_comment(&actor, Some(k.id), None, message);
            diesel::insert_into(comments::table)
                .values(&row)
                .execute(c)?;
            audit::created(
                &actor,
                ObjectType::Comment,
                row.id,
                &row,
                Root::of(row.case_id, row.alert_id),
            );
            Ok(row)
        })
        .await?;
    Ok(HttpResponse::Created().json(collab::comment(&row)))
}

/// Comments on an alert.
#[utoipa::path(tag = "comment", request_body = InputComment, responses((status = 201, body = OutputComment), (status = 400), (status = 404)))]
#[post("/api/v1/alert/{id}/comment")]
pub async fn comment_alert(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<InputComment>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageComment")?;
    let message = message_of(&body.0)?;
    let actor = Actor::of(&caller);
    let row = db
        .write(move |c| {
            let a = find_alert(c, actor.org_id, &id)?;
            let row = new_comment(&actor, None, Some(a.id), message);
            diesel::insert_into(comments::table)
                .values(&row)
                .execute(c)?;
            audit::created(
                &actor,
                ObjectType::Comment,
                row.id,
                &row,
                Root::of(row.case_id, row.alert_id),
            );
            Ok(row)
        })
        .await?;
    Ok(HttpResponse::Created().json(collab::comment(&row)))
}

/// Edits a comment (`isEdited` becomes true).
#[utoipa::path(tag = "comment", request_body = InputComment, responses((status = 204), (status = 400), (status = 404)))]
#[patch("/api/v1/comment/{id}")]
pub async fn update_comment(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<InputComment>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageComment")?;
    let message = message_of(&body.0)?;
    let actor = Actor::of(&caller);
    db.write(move |c| {
        let mut row = find_comment(c, &actor, &id)?;
        let before = row.clone();
        row.message = message;
        row.is_edited = true;
        row.updated_by = Some(actor.login.clone());
        row.updated_at = Some(now_ms());
        diesel::update(comments::table.find(row.id))
            .set(&row)
            .execute(c)?;
        audit::updated(
            &actor,
            ObjectType::Comment,
            row.id,
            &before,
            &row,
            Root::of(row.case_id, row.alert_id),
        );
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Deletes a comment.
#[utoipa::path(tag = "comment", responses((status = 204), (status = 404)))]
#[delete("/api/v1/comment/{id}")]
pub async fn delete_comment(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageComment")?;
    let who = Actor::of(&caller);
    db.write(move |c| {
        let row = find_comment(c, &who, &id)?;
        audit::deleted(
            &who,
            ObjectType::Comment,
            row.id,
            Default::default(),
            Root::of(row.case_id, row.alert_id),
        );
        diesel::delete(comments::table.find(row.id)).execute(c)?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

enum Parent {
    Case(String),
    Alert(String),
}

async fn add_procedures(
    db: web::Data<Db>,
    caller: Caller,
    parent: Parent,
    inputs: Vec<InputProcedure>,
    many: bool,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageProcedure")?;
    if inputs.len() > 1000 {
        return Err(ApiError::attribute("procedures", "at most 1000 procedures"));
    }
    let checked = inputs
        .iter()
        .enumerate()
        .map(|(i, p)| {
            NewProcedure::check(
                p,
                &if many {
                    format!("procedures[{i}].")
                } else {
                    String::new()
                },
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    let actor = Actor::of(&caller);
    let rows = db
        .write(move |c| {
            let (case_id, alert_id) = match &parent {
                Parent::Case(k) => {
                    let id = find_case(c, &actor, k)?.id;
                    crate::casework::check_write(c, &actor, id, "manageProcedure")?;
                    (Some(id), None)
                }
                Parent::Alert(k) => (None, Some(find_alert(c, actor.org_id, k)?.id)),
            };
            checked
                .iter()
                .map(|p| {
                    p.insert(c, &actor, case_id, alert_id)
                        .map_err(ApiError::from)
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .await?;
    let out: Vec<OutputProcedure> = rows.iter().map(collab::procedure).collect();
    Ok(if many {
        HttpResponse::Created().json(out)
    } else {
        HttpResponse::Created().json(&out[0])
    })
}

/// Adds a procedure to a case.
#[utoipa::path(tag = "procedure", request_body = InputProcedure, responses((status = 201, body = OutputProcedure), (status = 400), (status = 404)))]
#[post("/api/v1/case/{id}/procedure")]
pub async fn procedure_case(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<InputProcedure>,
) -> Result<HttpResponse, ApiError> {
    add_procedures(
        db,
        caller,
        Parent::Case(id.into_inner()),
        vec![body.0],
        false,
    )
    .await
}

/// Adds several procedures to a case.
#[utoipa::path(tag = "procedure", request_body = InputProcedures, responses((status = 201, body = Vec<OutputProcedure>), (status = 400), (status = 404)))]
#[post("/api/v1/case/{id}/procedures")]
pub async fn procedures_case(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<InputProcedures>,
) -> Result<HttpResponse, ApiError> {
    add_procedures(
        db,
        caller,
        Parent::Case(id.into_inner()),
        body.0.procedures,
        true,
    )
    .await
}

/// Adds a procedure to an alert.
#[utoipa::path(tag = "procedure", request_body = InputProcedure, responses((status = 201, body = OutputProcedure), (status = 400), (status = 404)))]
#[post("/api/v1/alert/{id}/procedure")]
pub async fn procedure_alert(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<InputProcedure>,
) -> Result<HttpResponse, ApiError> {
    add_procedures(
        db,
        caller,
        Parent::Alert(id.into_inner()),
        vec![body.0],
        false,
    )
    .await
}

/// Adds several procedures to an alert.
#[utoipa::path(tag = "procedure", request_body = InputProcedures, responses((status = 201, body = Vec<OutputProcedure>), (status = 400), (status = 404)))]
#[post("/api/v1/alert/{id}/procedures")]
pub async fn procedures_alert(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<InputProcedures>,
) -> Result<HttpResponse, ApiError> {
    add_procedures(
        db,
        caller,
        Parent::Alert(id.into_inner()),
        body.0.procedures,
        true,
    )
    .await
}

/// Updates a procedure.
#[utoipa::path(tag = "procedure", request_body = Object, responses((status = 204), (status = 400), (status = 404)))]
#[patch("/api/v1/procedure/{id}")]
pub async fn update_procedure(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<Value>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageProcedure")?;
    let actor = Actor::of(&caller);
    db.write(move |c| {
        let mut row = find_procedure(c, &actor, &id)?;
        let before = row.clone();
        let b = Patch::new(&body.0)?;
        let mut input = InputProcedure {
            pattern_id: row.pattern_id.clone(),
            occur_date: row.occur_date,
            tactic: row.tactic.clone(),
            description: row.description.clone(),
        };
        if let Some(v) = b.string("patternId")? {
            // Another pattern: the former tactic may not be one of its.
            input.pattern_id = v.to_string();
            input.tactic = None;
        }
        if let Some(v) = b.int("occurDate")? {
            input.occur_date = v;
        }
        if let Some(v) = b.nullable_string("tactic")? {
            input.tactic = v.map(str::to_string);
        }
        if let Some(v) = b.nullable_string("description")? {
            input.description = v.map(str::to_string);
        }
        b.finish(&["OutputProcedure"])?;
        let p = NewProcedure::check(&input, "")?;
        row.pattern_id = p.pattern_id;
        row.occur_date = p.occur_date;
        row.tactic = p.tactic;
        row.description = p.description;
        row.updated_by = Some(actor.login.clone());
        row.updated_at = Some(now_ms());
        diesel::update(procedures::table.find(row.id))
            .set(&row)
            .execute(c)?;
        audit::updated(
            &actor,
            ObjectType::Procedure,
            row.id,
            &before,
            &row,
            Root::of(row.case_id, row.alert_id),
        );
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Deletes a procedure.
#[utoipa::path(tag = "procedure", responses((status = 204), (status = 404)))]
#[delete("/api/v1/procedure/{id}")]
pub async fn delete_procedure(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageProcedure")?;
    let who = Actor::of(&caller);
    db.write(move |c| {
        let row = find_procedure(c, &who, &id)?;
        audit::deleted(
            &who,
            ObjectType::Procedure,
            row.id,
            Default::default(),
            Root::of(row.case_id, row.alert_id),
        );
        diesel::delete(procedures::table.find(row.id)).execute(c)?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Deletes several procedures (all or none).
#[utoipa::path(tag = "procedure", request_body = InputBulkIds, responses((status = 204), (status = 404)))]
#[post("/api/v1/procedure/delete/_bulk")]
pub async fn bulk_delete_procedures(
    db: web::Data<Db>,
    caller: Caller,
    body: JsonBody<InputBulkIds>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageProcedure")?;
    let who = Actor::of(&caller);
    let ids = crate::routes::bulk_ids(body.0)?;
    db.write(move |c| {
        for id in &ids {
            let row = find_procedure(c, &who, id)?;
            audit::deleted(
                &who,
                ObjectType::Procedure,
                row.id,
                Default::default(),
                Root::of(row.case_id, row.alert_id),
            );
            diesel::delete(procedures::table.find(row.id)).execute(c)?;
        }
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

fn page_row(actor: &Actor, case_id: Option<i64>, input: &InputPage) -> Result<PageRow, ApiError> {
    Ok(PageRow {
        id: next_id(),
        organisation_id: actor.org_id,
        case_id,
        title: values::text("title", &input.title, 512)?,
        content: values::long_text(
            "content",
            input.content.as_deref().unwrap_or_default(),
            values::MAX_DESCRIPTION,
        )?,
        category: values::text("category", &input.category, 128)?,
        page_order: input.order.unwrap_or(0),
        created_by: actor.login.clone(),
        created_at: now_ms(),
        updated_by: None,
        updated_at: None,
    })
}

/// Applies a PATCH body to a page, stores it and records the change.
fn save_patched_page(
    c: &mut DbConn,
    actor: &Actor,
    row: &mut PageRow,
    body: &Value,
) -> Result<(), ApiError> {
    let before = row.clone();
    patch_page(row, actor, body)?;
    diesel::update(pages::table.find(row.id))
        .set(&*row)
        .execute(c)?;
    audit::updated(
        actor,
        ObjectType::Page,
        row.id,
        &before,
        &*row,
        row.case_id.map(Root::Case),
    );
    Ok(())
}

fn patch_page(row: &mut PageRow, actor: &Actor, body: &Value) -> Result<(), ApiError> {
    let p = Patch::new(body)?;
    if let Some(v) = p.string("title")? {
        row.title = values::text("title", v, 512)?;
    }
    if let Some(v) = p.string("content")? {
        row.content = values::long_text("content", v, values::MAX_DESCRIPTION)?;
    }
    if let Some(v) = p.string("category")? {
        row.category = values::text("category", v, 128)?;
    }
    if let Some(v) = p.int("order")? {
        row.page_order = v;
    }
    p.finish(&["OutputPage"])?;
    row.updated_by = Some(actor.login.clone());
    row.updated_at = Some(now_ms());
    Ok(())
}

/// Creates pages in a case (from `InputCase.pages` as well).
pub fn insert_pages(
    c: &mut DbConn,
    actor: &Actor,
    case_id: i64,
    inputs: &[InputPage],
) -> Result<(), ApiError> {
    for v in inputs {
        let row = page_row(actor, Some(case_id), v)?;
        diesel::insert_into(pages::table).values(&row).execute(c)?;
        audit::created(
            actor,
            ObjectType::Page,
            row.id,
            &row,
            row.case_id.map(Root::Case),
        );
    }
    Ok(())
}

/// Adds a page to a case.
#[utoipa::path(tag = "page", request_body = InputPage, responses((status = 201, body = OutputPage), (status = 400), (status = 404)))]
#[post("/api/v1/case/{id}/page")]
pub async fn create_page(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<InputPage>,
) -> Result<HttpResponse, ApiError> {
    caller.require("managePage")?;
    let actor = Actor::of(&caller);
    let row = db
        .write(move |c| {
            let k = find_case(c, &actor, &id)?;
            crate::casework::check_write(c, &actor, k.id, "managePage")?;
            let row = page_row(&actor, Some(k.id), &body.0)?;
            diesel::insert_into(pages::table).values(&row).execute(c)?;
            audit::created(
                &actor,
                ObjectType::Page,
                row.id,
                &row,
                row.case_id.map(Root::Case),
            );
            Ok(row)
        })
        .await?;
    Ok(HttpResponse::Created().json(collab::page(&row)))
}

/// Updates a page of a case.
#[utoipa::path(tag = "page", request_body = Object, responses((status = 204), (status = 400), (status = 404)))]
#[patch("/api/v1/case/{id}/page/{page_id}")]
pub async fn update_page(
    db: web::Data<Db>,
    caller: Caller,
    path: web::Path<(String, String)>,
    body: JsonBody<Value>,
) -> Result<HttpResponse, ApiError> {
    caller.require("managePage")?;
    let actor = Actor::of(&caller);
    let (id, page_id) = path.into_inner();
    db.write(move |c| {
        let k = find_case(c, &actor, &id)?;
        crate::casework::check_write(c, &actor, k.id, "managePage")?;
        let mut row = find_page(c, &actor, &page_id, false)?;
        if row.case_id != Some(k.id) {
            return Err(ApiError::NotFound(format!("Page {page_id} not found")));
        }
        save_patched_page(c, &actor, &mut row, &body.0)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Deletes a page of a case.
#[utoipa::path(tag = "page", responses((status = 204), (status = 404)))]
#[delete("/api/v1/case/{id}/page/{page_id}")]
pub async fn delete_page(
    db: web::Data<Db>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    caller.require("managePage")?;
    let who = Actor::of(&caller);
    let (id, page_id) = path.into_inner();
    db.write(move |c| {
        let k = find_case(c, &who, &id)?;
        let row = find_page(c, &who, &page_id, false)?;
        if row.case_id != Some(k.id) {
            return Err(ApiError::NotFound(format!("Page {page_id} not found")));
        }
        audit::deleted(
            &who,
            ObjectType::Page,
            row.id,
            Default::default(),
            row.case_id.map(Root::Case),
        );
        diesel::delete(pages::table.find(row.id)).execute(c)?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Creates a page template.
#[utoipa::path(tag = "page", request_body = InputPage, responses((status = 201, body = OutputPage), (status = 400)))]
#[post("/api/v1/pageTemplate")]
pub async fn create_page_template(
    db: web::Data<Db>,
    caller: Caller,
    body: JsonBody<InputPage>,
) -> Result<HttpResponse, ApiError> {
    caller.require("managePageTemplate")?;
    let actor = Actor::of(&caller);
    let row = page_row(&actor, None, &body.0)?;
    let saved = row.clone();
    db.write(move |c| {
        diesel::insert_into(pages::table).values(&row).execute(c)?;
        audit::created(
            &actor,
            ObjectType::Page,
            row.id,
            &row,
            row.case_id.map(Root::Case),
        );
        Ok(())
    })
    .await?;
    Ok(HttpResponse::Created().json(collab::page(&saved)))
}

/// Updates a page template.
#[utoipa::path(tag = "page", request_body = Object, responses((status = 204), (status = 400), (status = 404)))]
#[patch("/api/v1/pageTemplate/{id}")]
pub async fn update_page_template(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<Value>,
) -> Result<HttpResponse, ApiError> {
    caller.require("managePageTemplate")?;
    let actor = Actor::of(&caller);
    db.write(move |c| {
        let mut row = find_page(c, &actor, &id, true)?;
        save_patched_page(c, &actor, &mut row, &body.0)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Deletes a page template.
#[utoipa::path(tag = "page", responses((status = 204), (status = 404)))]
#[delete("/api/v1/pageTemplate/{id}")]
pub async fn delete_page_template(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require("managePageTemplate")?;
    let who = Actor::of(&caller);
    db.write(move |c| {
        let row = find_page(c, &who, &id, true)?;
        audit::deleted(
            &who,
            ObjectType::Page,
            row.id,
            Default::default(),
            row.case_id.map(Root::Case),
        );
        diesel::delete(pages::table.find(row.id)).execute(c)?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

fn find_event(c: &mut DbConn, who: &Actor, key: &str) -> Result<CustomEventRow, ApiError> {
    by_id(key, "CustomEvent", |id| {
        custom_events::table
            .filter(custom_events::id.eq(id))
            .filter(custom_events::organisation_id.eq(who.org_id))
            .filter(access::visible(Entity::CustomEvent, who, "custom_events"))
            .select(CustomEventRow::as_select())
            .first(c)
            .optional()
    })
}

/// Adds an event to a case's timeline.
#[utoipa::path(tag = "timeline", request_body = InputCustomEvent, responses((status = 201, body = OutputCustomEvent), (status = 400), (status = 404)))]
#[post("/api/v1/case/{id}/customEvent")]
pub async fn create_event(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<InputCustomEvent>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageCustomEvent")?;
    let actor = Actor::of(&caller);
    let row = db
        .write(move |c| {
            let k = find_case(c, &actor, &id)?;
            crate::casework::check_write(c, &actor, k.id, "manageCustomEvent")?;
            let e = &body.0;
            let row = CustomEventRow {
                id: next_id(),
                organisation_id: actor.org_id,
                case_id: k.id,
                date: e.date,
                end_date: e.end_date,
                title: values::text("title", &e.title, 128)?,
                description: values::opt_text(
                    "description",
                    e.description.as_deref(),
                    values::MAX_DESCRIPTION,
                )?,
                created_by: actor.login.clone(),
                created_at: now_ms(),
                updated_by: None,
                updated_at: None,
            };
            diesel::insert_into(custom_events::table)
                .values(&row)
                .execute(c)?;
            audit::created(
                &actor,
                ObjectType::CustomEvent,
                row.id,
                &row,
                Some(Root::Case(row.case_id)),
            );
            Ok(row)
        })
        .await?;
    Ok(HttpResponse::Created().json(collab::custom_event(&row)))
}

/// Updates a custom event.
#[utoipa::path(tag = "timeline", request_body = Object, responses((status = 204), (status = 400), (status = 404)))]
#[patch("/api/v1/customEvent/{id}")]
pub async fn update_event(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<Value>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageCustomEvent")?;
    let actor = Actor::of(&caller);
    db.write(move |c| {
        let mut row = find_event(c, &actor, &id)?;
        let before = row.clone();
        let p = Patch::new(&body.0)?;
        if let Some(v) = p.int("date")? {
            row.date = v;
        }
        if let Some(v) = p.nullable_int("endDate")? {
            row.end_date = v;
        }
        if let Some(v) = p.string("title")? {
            row.title = values::text("title", v, 128)?;
        }
        if let Some(v) = p.nullable_string("description")? {
            row.description = values::opt_text("description", v, values::MAX_DESCRIPTION)?;
        }
        p.finish(&["OutputCustomEvent"])?;
        row.updated_by = Some(actor.login.clone());
        row.updated_at = Some(now_ms());
        diesel::update(custom_events::table.find(row.id))
            .set(&row)
            .execute(c)?;
        audit::updated(
            &actor,
            ObjectType::CustomEvent,
            row.id,
            &before,
            &row,
            Some(Root::Case(row.case_id)),
        );
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Deletes a custom event.
#[utoipa::path(tag = "timeline", responses((status = 204), (status = 404)))]
#[delete("/api/v1/customEvent/{id}")]
pub async fn delete_event(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageCustomEvent")?;
    let who = Actor::of(&caller);
    db.write(move |c| {
        let row = find_event(c, &who, &id)?;
        audit::deleted(
            &who,
            ObjectType::CustomEvent,
            row.id,
            Default::default(),
            Some(Root::Case(row.case_id)),
        );
        diesel::delete(custom_events::table.find(row.id)).execute(c)?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The timeline of a case: its dates, its alerts, tasks, logs shown in the timeline,
/// observables, procedures, custom events and its audit trail, oldest first.
#[utoipa::path(tag = "timeline", responses((status = 200, description = "`{events: [...]}`"), (status = 404)))]
#[get("/api/v1/case/{id}/timeline")]
pub async fn timeline(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let who = Actor::of(&caller);
    let out = db.read(move |c| collab::timeline(c, &who, &id)).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// The other end of a case link.
enum LinkTo {
    Case(String),
    Url(String),
}

async fn link_change(
    db: web::Data<Db>,
    caller: Caller,
    id: String,
    link_type: String,
    to: LinkTo,
    add: bool,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageCase/update")?;
    let actor = Actor::of(&caller);
    db.write(move |c| {
        let k = find_case(c, &actor, &id)?;
        crate::casework::check_write(c, &actor, k.id, "manageCase/update")?;
        let link_type = values::text("type", &link_type, 128)?;
        let (other, url) = match to {
            LinkTo::Url(url) => (None, Some(values::text("url", &url, 2048)?)),
            LinkTo::Case(key) => {
                let other = find_case(c, &actor, &key)?;
                if other.id == k.id {
                    return Err(ApiError::BadRequest(
                        "a case cannot be linked to itself".into(),
                    ));
                }
                (Some(other.id), None)
            }
        };
        let mut existing = case_links::table
            .filter(case_links::case_id.eq(k.id))
            .filter(case_links::link_type.eq(&link_type))
            .into_boxed();
        existing = match (other, &url) {
            (Some(o), _) => existing.filter(case_links::linked_case_id.eq(o)),
            (None, Some(u)) => existing.filter(case_links::url.eq(u.clone())),
            _ => existing,
        };
        let found: Vec<i64> = existing.select(case_links::id).load(c)?;
        let link = match (other, &url) {
            (Some(o), _) => json!({"type": link_type, "caseId": crate::db::format_id(o)}),
            (None, Some(u)) => json!({"type": link_type, "url": u}),
            _ => json!({"type": link_type}),
        };
        if add {
            if found.is_empty() {
                diesel::insert_into(case_links::table)
                    .values(CaseLinkRow {
                        id: next_id(),
                        case_id: k.id,
                        link_type,
                        linked_case_id: other,
                        url,
                        created_by: actor.login.clone(),
                        created_at: now_ms(),
                    })
                    .execute(c)?;
            }
        } else {
            if found.is_empty() {
                return Err(ApiError::NotFound("no such link".into()));
            }
            diesel::delete(case_links::table.filter(case_links::id.eq_any(&found))).execute(c)?;
        }
        if add == found.is_empty() {
            let mut details = serde_json::Map::new();
            details.insert(if add { "addLink" } else { "removeLink" }.into(), link);
            audit::updated_with(
                &actor,
                ObjectType::Case,
                k.id,
                details,
                Some(Root::Case(k.id)),
            );
        }
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Links the case to another case (`{type, caseId}`).
#[utoipa::path(tag = "case", request_body = InputCaseLink, responses((status = 204), (status = 404)))]
#[post("/api/v1/case/{id}/link/case/add")]
pub async fn link_case(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<InputCaseLink>,
) -> Result<HttpResponse, ApiError> {
    let b = body.0;
    link_change(
        db,
        caller,
        id.into_inner(),
        b.link_type,
        LinkTo::Case(b.case_id),
        true,
    )
    .await
}

/// Removes a link to another case.
#[utoipa::path(tag = "case", request_body = InputCaseLink, responses((status = 204), (status = 404)))]
#[post("/api/v1/case/{id}/link/case/remove")]
pub async fn unlink_case(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<InputCaseLink>,
) -> Result<HttpResponse, ApiError> {
    let b = body.0;
    link_change(
        db,
        caller,
        id.into_inner(),
        b.link_type,
        LinkTo::Case(b.case_id),
        false,
    )
    .await
}

/// Links the case to a URL (`{type, url}`).
#[utoipa::path(tag = "case", request_body = InputUrlLink, responses((status = 204), (status = 404)))]
#[post("/api/v1/case/{id}/link/external/add")]
pub async fn link_url(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<InputUrlLink>,
) -> Result<HttpResponse, ApiError> {
    let b = body.0;
    link_change(
        db,
        caller,
        id.into_inner(),
        b.link_type,
        LinkTo::Url(b.url),
        true,
    )
    .await
}

/// Removes a link to a URL.
#[utoipa::path(tag = "case", request_body = InputUrlLink, responses((status = 204), (status = 404)))]
#[post("/api/v1/case/{id}/link/external/remove")]
pub async fn unlink_url(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<InputUrlLink>,
) -> Result<HttpResponse, ApiError> {
    let b = body.0;
    link_change(
        db,
        caller,
        id.into_inner(),
        b.link_type,
        LinkTo::Url(b.url),
        false,
    )
    .await
}

/// Types of the links between cases of the organisation.
#[utoipa::path(tag = "case", responses((status = 200, body = Vec<String>)))]
#[get("/api/v1/case/link/types")]
pub async fn link_types(db: web::Data<Db>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let who = Actor::of(&caller);
    let out = db
        .read(move |c| {
            // Of the cases the caller sees (a restricted case's links stay its own).
            let mut types: Vec<String> = case_links::table
                .inner_join(cases::table.on(cases::id.eq(case_links::case_id)))
                .filter(access::visible(Entity::Case, &who, "cases"))
                .filter(case_links::linked_case_id.is_not_null())
                .select(case_links::link_type)
                .distinct()
                .load(c)?;
            types.sort();
            Ok(types)
        })
        .await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Cases of the organisation sharing observables with this one (`linkedWith`: the shared
/// observables, `linksCount`: how many).
#[utoipa::path(tag = "case", responses((status = 200, body = Vec<Object>), (status = 404)))]
#[get("/api/v1/case/{id}/links")]
pub async fn linked_cases(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let who = Actor::of(&caller);
    let out = db
        .read(move |c| {
            let k = find_case(c, &who, &id)?;
            similar_cases(c, &who, Some(k.id), None)?
                .into_iter()
                .map(|(other, theirs, _)| {
                    let mut v = render::to_value(&rendered_case(c, &other)?);
                    let rendered = render::observables(c, &theirs)?;
                    if let Value::Object(o) = &mut v {
                        o.insert("linksCount".into(), json!(rendered.len()));
                        o.insert("linkedWith".into(), render::to_value(&rendered));
                    }
                    Ok(v)
                })
                .collect::<Result<Vec<_>, ApiError>>()
        })
        .await?;
    Ok(HttpResponse::Ok().json(out))
}

fn store_files(
    c: &mut DbConn,
    actor: &Actor,
    owner: i64,
    root: Option<Root>,
    files: &[NewFile],
) -> Result<Vec<OutputAttachment>, ApiError> {
    let now = now_ms();
    let mut out = Vec::new();
    for f in files {
        let row = AttachmentRow {
            id: next_id(),
            organisation_id: actor.org_id,
            owner_id: Some(owner),
            name: f.name.clone(),
            content_type: f.content_type.clone(),
            size: f.size,
            sha256: f.sha256.clone(),
            sha1: f.sha1.clone(),
            md5: f.md5.clone(),
            created_by: actor.login.clone(),
            created_at: now,
        };
        diesel::insert_into(attachments::table)
            .values(&row)
            .execute(c)?;
        audit::created(actor, ObjectType::Attachment, row.id, &row, root);
        out.push(render::attachment(&row));
    }
    Ok(out)
}

#[derive(Clone, Copy)]
enum Holder {
    Case,
    Alert,
    Organisation,
}

impl Holder {
    /// The audit root of the files of `owner`.
    fn root(self, owner: i64) -> Option<Root> {
        match self {
            Holder::Case => Some(Root::Case(owner)),
            Holder::Alert => Some(Root::Alert(owner)),
            Holder::Organisation => None,
        }
    }
}

/// The id of the holder of attachments named by `key`, that `who` sees (and, to `write`,
/// may change).
fn holder_id(
    c: &mut DbConn,
    who: &Actor,
    holder: Holder,
    key: &str,
    write: bool,
) -> Result<i64, ApiError> {
    Ok(match holder {
        Holder::Case => {
            let id = find_case(c, who, key)?.id;
            if write {
                crate::casework::check_write(c, who, id, "manageCase/update")?;
            }
            id
        }
        Holder::Alert => find_alert(c, who.org_id, key)?.id,
        Holder::Organisation => who.org_id,
    })
}

async fn add_files(
    db: web::Data<Db>,
    state: web::Data<ServiceState>,
    caller: Caller,
    holder: Holder,
    key: String,
    mut body: Upload,
) -> Result<HttpResponse, ApiError> {
    caller
        .require(match holder {
            Holder::Case => "manageCase/update",
            Holder::Alert => "manageAlert/update",
            Holder::Organisation => "manageOrganisation",
        })
        .or_else(|e| match holder {
            Holder::Organisation => caller.require("manageConfig"),
            _ => Err(e),
        })?;
    let files: Vec<NewFile> = body.files.iter().map(NewFile::from).collect();
    if files.is_empty() {
        return Err(ApiError::BadRequest(
            "no file in the request (multipart parts `attachments`)".into(),
        ));
    }
    let actor = Actor::of(&caller);
    let staged = body.take_staged();
    let out = service_kit::body::write_keeping(&db, &state.uploads.datastore, staged, move |c| {
        let owner = holder_id(c, &actor, holder, &key, true)?;
        store_files(c, &actor, owner, holder.root(owner), &files)
    })
    .await?;
    Ok(HttpResponse::Created().json(json!({ "attachments": out })))
}

/// Attaches files to a case (multipart, repeated `attachments`).
#[utoipa::path(tag = "attachment", responses((status = 201, description = "`{attachments: [...]}`"), (status = 400), (status = 404)))]
#[post("/api/v1/case/{id}/attachments")]
pub async fn add_case_attachments(
    db: web::Data<Db>,
    state: web::Data<ServiceState>,
    caller: Caller,
    id: web::Path<String>,
    body: Upload,
) -> Result<HttpResponse, ApiError> {
    add_files(db, state, caller, Holder::Case, id.into_inner(), body).await
}

/// Attaches files to an alert.
#[utoipa::path(tag = "attachment", responses((status = 201, description = "`{attachments: [...]}`"), (status = 400), (status = 404)))]
#[post("/api/v1/alert/{id}/attachments")]
pub async fn add_alert_attachments(
    db: web::Data<Db>,
    state: web::Data<ServiceState>,
    caller: Caller,
    id: web::Path<String>,
    body: Upload,
) -> Result<HttpResponse, ApiError> {
    add_files(db, state, caller, Holder::Alert, id.into_inner(), body).await
}

/// Attaches files to the organisation.
#[utoipa::path(tag = "attachment", responses((status = 201, description = "`{attachments: [...]}`"), (status = 400)))]
#[post("/api/v1/attachment")]
pub async fn add_org_attachments(
    db: web::Data<Db>,
    state: web::Data<ServiceState>,
    caller: Caller,
    body: Upload,
) -> Result<HttpResponse, ApiError> {
    add_files(db, state, caller, Holder::Organisation, String::new(), body).await
}

/// An attachment visible in the organisation, by `_id` or content hash, optionally held by
/// `owner`.
pub fn find_attachment(
    c: &mut DbConn,
    who: &Actor,
    key: &str,
    owner: Option<i64>,
) -> Result<AttachmentRow, ApiError> {
    let mut q = attachments::table
        .filter(access::visible(Entity::Attachment, who, "attachments"))
        .select(AttachmentRow::as_select())
        .into_boxed();
    q = match parse_id(key) {
        Some(id) => q.filter(attachments::id.eq(id)),
        None => q.filter(attachments::sha256.eq(key.to_string())),
    };
    if let Some(o) = owner {
        q = q.filter(attachments::owner_id.eq(o));
    }
    q.first(c)
        .optional()?
        .ok_or_else(|| ApiError::NotFound(format!("Attachment {key} not found")))
}

async fn download(
    db: web::Data<Db>,
    state: web::Data<ServiceState>,
    caller: Caller,
    holder: Option<Holder>,
    key: String,
    att: String,
) -> Result<HttpResponse, ApiError> {
    let who = Actor::of(&caller);
    let a = db
        .read(move |c| match holder {
            Some(h) => {
                let owner = holder_id(c, &who, h, &key, false)?;
                find_attachment(c, &who, &att, Some(owner))
            }
            None => downloadable(c, &who, &att),
        })
        .await?;
    send_file(&state, &a.sha256, &a.name, &a.content_type, false).await
}

async fn remove(
    db: web::Data<Db>,
    caller: Caller,
    holder: Holder,
    key: String,
    att: String,
) -> Result<HttpResponse, ApiError> {
    let who = Actor::of(&caller);
    db.write(move |c| {
        let owner = holder_id(c, &who, holder, &key, true)?;
        let a = find_attachment(c, &who, &att, Some(owner))?;
        diesel::delete(attachments::table.find(a.id)).execute(c)?;
        let mut details = serde_json::Map::new();
        details.insert("name".into(), a.name.clone().into());
        audit::deleted(
            &who,
            ObjectType::Attachment,
            a.id,
            details,
            holder.root(owner),
        );
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Downloads a file of a case.
#[utoipa::path(tag = "attachment", responses((status = 200, description = "the file"), (status = 404)))]
#[get("/api/v1/case/{id}/attachment/{att_id}/download")]
pub async fn download_case_attachment(
    db: web::Data<Db>,
    state: web::Data<ServiceState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, att) = path.into_inner();
    download(db, state, caller, Some(Holder::Case), id, att).await
}

/// Downloads a file of an alert.
#[utoipa::path(tag = "attachment", responses((status = 200, description = "the file"), (status = 404)))]
#[get("/api/v1/alert/{id}/attachment/{att_id}/download")]
pub async fn download_alert_attachment(
    db: web::Data<Db>,
    state: web::Data<ServiceState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, att) = path.into_inner();
    download(db, state, caller, Some(Holder::Alert), id, att).await
}

/// Downloads any file of the organisation (its own, or one of its cases, alerts, logs or
/// observables).
#[utoipa::path(tag = "attachment", responses((status = 200, description = "the file"), (status = 404)))]
#[get("/api/v1/attachment/{id}/download")]
pub async fn download_attachment(
    db: web::Data<Db>,
    state: web::Data<ServiceState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    download(db, state, caller, None, String::new(), id.into_inner()).await
}

/// Removes a file from a case.
#[utoipa::path(tag = "attachment", responses((status = 204), (status = 404)))]
#[delete("/api/v1/case/{id}/attachment/{att_id}")]
pub async fn delete_case_attachment(
    db: web::Data<Db>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageCase/update")?;
    let (id, att) = path.into_inner();
    remove(db, caller, Holder::Case, id, att).await
}

/// Removes a file from an alert.
#[utoipa::path(tag = "attachment", responses((status = 204), (status = 404)))]
#[delete("/api/v1/alert/{id}/attachment/{att_id}")]
pub async fn delete_alert_attachment(
    db: web::Data<Db>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageAlert/update")?;
    let (id, att) = path.into_inner();
    remove(db, caller, Holder::Alert, id, att).await
}

/// Removes a file of the organisation.
#[utoipa::path(tag = "attachment", responses((status = 204), (status = 404)))]
#[delete("/api/v1/attachment/{id}")]
pub async fn delete_org_attachment(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    if caller.require("manageOrganisation").is_err() {
        caller.require("manageConfig")?;
    }
    remove(
        db,
        caller,
        Holder::Organisation,
        String::new(),
        id.into_inner(),
    )
    .await
}

/// Which organisations must act on a task.
#[utoipa::path(tag = "task", responses((status = 200, description = "`{organisation: bool}`"), (status = 404)))]
#[get("/api/v1/task/{id}/actionRequired")]
pub async fn get_required(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let who = Actor::of(&caller);
    let out = db
        .read(move |c| {
            let t = find_task(c, &who, &id)?;
            required_actions(c, &t, who.org_id)
        })
        .await?;
    Ok(HttpResponse::Ok().json(out))
}

async fn set_required(
    db: web::Data<Db>,
    caller: Caller,
    id: String,
    org_key: String,
    required: bool,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageTask")?;
    let who = Actor::of(&caller);
    db.write(move |c| {
        let t = find_task(c, &who, &id)?;
        crate::casework::check_write(c, &who, t.case_id, "manageTask")?;
        let map = required_actions(c, &t, who.org_id)?;
        let target = crate::routes::find_organisation(c, &org_key)?
            .filter(|o| map.contains_key(&o.name))
            .ok_or_else(|| {
                ApiError::NotFound(format!("Organisation {org_key} not found for this task"))
            })?;
        diesel::delete(
            action_required::table
                .filter(action_required::task_id.eq(t.id))
                .filter(action_required::organisation_id.eq(target.id)),
        )
        .execute(c)?;
        diesel::insert_into(action_required::table)
            .values(ActionRequiredRow {
                task_id: t.id,
                organisation_id: target.id,
                required,
            })
            .execute(c)?;
        let mut details = serde_json::Map::new();
        details.insert(
            "actionRequired".into(),
            json!({"organisation": target.name, "required": required}),
        );
        audit::updated_with(
            &who,
            ObjectType::Task,
            t.id,
            details,
            Some(Root::Case(t.case_id)),
        );
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Asks an organisation to act on a task.
#[utoipa::path(tag = "task", responses((status = 204), (status = 404)))]
#[put("/api/v1/task/{id}/actionRequired/{org}")]
pub async fn set_action_required(
    db: web::Data<Db>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, org) = path.into_inner();
    set_required(db, caller, id, org, true).await
}

/// Records that an organisation has acted on a task.
#[utoipa::path(tag = "task", responses((status = 204), (status = 404)))]
#[put("/api/v1/task/{id}/actionDone/{org}")]
pub async fn set_action_done(
    db: web::Data<Db>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, org) = path.into_inner();
    set_required(db, caller, id, org, false).await
}
