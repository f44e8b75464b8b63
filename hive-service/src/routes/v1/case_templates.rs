//! `/api/v1/caseTemplate`: case templates of the organisation.

use crate::auth::Caller;
use crate::casework::templates::{delete_one, update_one};
use crate::casework::{custom, find_template, templates, Actor};
use crate::db::casework::CaseTemplateRow;
use crate::db::schema::case_templates;
use crate::db::{Db, DbConn};
use crate::render;
use actix_web::{delete, get, patch, post, put, web, HttpResponse};
use diesel::prelude::*;
use serde_json::Value;
use service_kit::error::ApiError;
use service_kit::extract::JsonBody;
use shared_models::casework::{
    InputApplyCaseTemplate, InputCaseTemplate, InputPageTemplateLinks, OutputCaseTemplate,
};

fn rendered(c: &mut DbConn, t: &CaseTemplateRow) -> Result<OutputCaseTemplate, ApiError> {
    render::templates(c, std::slice::from_ref(t))?
        .pop()
        .ok_or_else(|| ApiError::internal("template vanished"))
}

/// Creates a case template.
#[utoipa::path(tag = "case template", request_body = InputCaseTemplate, responses((status = 201, body = OutputCaseTemplate), (status = 400), (status = 403)))]
#[post("/api/v1/caseTemplate")]
pub async fn create(
    db: web::Data<Db>,
    caller: Caller,
    body: JsonBody<InputCaseTemplate>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageCaseTemplate")?;
    let actor = Actor::of(&caller);
    let out = db
        .write(move |c| {
            let t = templates::create(c, &actor, &body.0)?;
            rendered(c, &t)
        })
        .await?;
    Ok(HttpResponse::Created().json(out))
}

/// One case template, by `~id` or name.
#[utoipa::path(tag = "case template", responses((status = 200, body = OutputCaseTemplate), (status = 404)))]
#[get("/api/v1/caseTemplate/{id}")]
pub async fn get(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let org = caller.organisation.id;
    let out = db
        .read(move |c| {
            let t = find_template(c, org, &id)?;
            rendered(c, &t)
        })
        .await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Updates a case template.
#[utoipa::path(tag = "case template", request_body = Object, responses((status = 204), (status = 400), (status = 404)))]
#[patch("/api/v1/caseTemplate/{id}")]
pub async fn update(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<Value>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageCaseTemplate")?;
    let actor = Actor::of(&caller);
    db.write(move |c| {
        update_one(c, &actor, &id, &body.0, Some(&["OutputCaseTemplate"])).map(|_| ())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Deletes a case template (cases built from it keep its name).
#[utoipa::path(tag = "case template", responses((status = 204), (status = 404)))]
#[delete("/api/v1/caseTemplate/{id}")]
pub async fn remove(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageCaseTemplate")?;
    let actor = Actor::of(&caller);
    db.write(move |c| delete_one(c, &actor, &id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Links page templates to a case template (`{pageTemplateIds}`), replacing the former ones.
#[utoipa::path(tag = "case template", request_body = InputPageTemplateLinks, responses((status = 204), (status = 400), (status = 404)))]
#[put("/api/v1/caseTemplate/{id}/pageTemplate/link")]
pub async fn link_page_templates(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<InputPageTemplateLinks>,
) -> Result<HttpResponse, ApiError> {
    caller.require("manageCaseTemplate")?;
    let actor = Actor::of(&caller);
    db.write(move |c| {
        let mut t = find_template(c, actor.org_id, &id)?;
        let before = t.clone();
        t.page_template_ids =
            templates::check_page_templates(c, actor.org_id, &body.0.page_template_ids)?;
        t.updated_by = Some(actor.login.clone());
        t.updated_at = Some(crate::db::now_ms());
        diesel::update(case_templates::table.find(t.id))
            .set(&t)
            .execute(c)?;
        crate::audit::updated(
            &actor,
            crate::audit::ObjectType::CaseTemplate,
            t.id,
            &before,
            &t,
            None,
        );
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Applies parts of a case template to existing cases (`{ids, caseTemplate,
/// updateTitlePrefix?, updateDescription?, updateTags?, updateSeverity?, updateFlag?,
/// updateTlp?, updatePap?, updateCustomFields?, importTasks?, importPages?}`).
#[utoipa::path(tag = "case", request_body = InputApplyCaseTemplate, responses((status = 204), (status = 400), (status = 404)))]
#[post("/api/v1/case/_bulk/caseTemplate")]
pub async fn apply_to_cases(
    db: web::Data<Db>,
    caller: Caller,
    body: JsonBody<InputApplyCaseTemplate>,
) -> Result<HttpResponse, ApiError> {
    use crate::casework::{find_case, tasks};
    use crate::db::schema::cases;
    use crate::domain::values;
    caller.require("manageCase/update")?;
    let actor = Actor::of(&caller);
    db.write(move |c| {
        let p = &body.0;
        if p.ids.len() > 10_000 {
            return Err(ApiError::attribute("ids", "at most 10000 ids"));
        }
        let t = find_template(c, actor.org_id, &p.case_template)?;
        let import_tasks = p.import_tasks.clone().unwrap_or_default();
        let import_pages = p.import_pages.clone().unwrap_or_default();
        let flag = |f: Option<bool>| f.unwrap_or(false);
        for id in &p.ids {
            let mut k = find_case(c, &actor, id)?;
            crate::casework::check_share_permission(c, &actor, &k, "manageCase/update")?;
            let before = k.clone();
            if flag(p.update_title_prefix) {
                if let Some(prefix) = t
                    .title_prefix
                    .as_deref()
                    .map(str::trim_end)
                    .filter(|x| !x.is_empty())
                {
                    if !k.title.starts_with(prefix) {
                        k.title = values::text("title", &format!("{prefix} {}", k.title), 512)?;
                    }
                }
            }
            if flag(p.update_description) {
                if let Some(d) = &t.description {
                    k.description = d.clone();
                }
            }
            if flag(p.update_tags) {
                k.tags = values::tags_json(&values::union(
                    &values::tags_of(&k.tags),
                    &values::tags_of(&t.tags),
                ));
            }
            if flag(p.update_severity) {
                k.severity = t.severity.unwrap_or(k.severity);
            }
            if flag(p.update_flag) {
                k.flag = t.flag;
            }
            if flag(p.update_tlp) {
                k.tlp = t.tlp.unwrap_or(k.tlp);
            }
            if flag(p.update_pap) {
                k.pap = t.pap.unwrap_or(k.pap);
            }
            if flag(p.update_custom_fields) {
                let cfs = custom::inputs_of(c, t.id)?;
                custom::add_missing(c, k.id, &cfs)?;
            }
            for task in templates::task_inputs(&t) {
                if import_tasks.contains(&task.title) {
                    tasks::insert(c, &actor, k.id, &task)?;
                }
            }
            let pages: Vec<String> = templates::page_templates(&t)
                .into_iter()
                .filter(|pid| import_pages.contains(pid))
                .collect();
            crate::casework::cases::copy_page_templates(c, &actor, k.id, &pages)?;
            k.updated_by = Some(actor.login.clone());
            k.updated_at = Some(crate::db::now_ms());
            diesel::update(cases::table.find(k.id)).set(&k).execute(c)?;
            let mut extra = serde_json::Map::new();
            extra.insert("caseTemplate".into(), serde_json::json!(t.name));
            crate::audit::updated_plus(
                &actor,
                crate::audit::ObjectType::Case,
                k.id,
                &before,
                &k,
                extra,
                Some(crate::audit::Root::Case(k.id)),
            );
        }
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
