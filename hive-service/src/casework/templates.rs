//! Case templates: what a new case built from them gets (section 7.7 of the spec).

use super::find_template;
use super::{custom, tasks, Actor};
use crate::audit::{self, ObjectType};
use crate::db::casework::CaseTemplateRow;
use crate::db::schema::case_templates;
use crate::db::{duplicate_as, next_id, now_ms, DbConn};
use crate::domain::values::{self, Patch};
use diesel::prelude::*;
use serde_json::Value;
use service_kit::error::ApiError;
use shared_models::casework::{InputCaseTemplate, InputTask, OutputTask};

fn check_tasks(actor: &Actor, input: &[InputTask]) -> Result<String, ApiError> {
    if input.len() > 1000 {
        return Err(ApiError::attribute("tasks", "at most 1000 tasks"));
    }
    let tasks: Vec<OutputTask> = input
        .iter()
        .enumerate()
        .map(|(i, t)| {
            tasks::check(t, &format!("tasks[{i}].")).map(|t| tasks::template_task(actor, &t))
        })
        .collect::<Result<_, _>>()?;
    serde_json::to_string(&tasks).map_err(ApiError::internal)
}

/// Creates a template.
pub fn create(
    c: &mut DbConn,
    actor: &Actor,
    input: &InputCaseTemplate,
) -> Result<CaseTemplateRow, ApiError> {
    let name = values::text("name", &input.name, 128)?;
    if name.starts_with('~') {
        return Err(ApiError::attribute("name", "must not start with ~"));
    }
    let page_template_ids = check_page_templates(
        c,
        actor.org_id,
        input.page_template_ids.as_deref().unwrap_or_default(),
    )?;
    let cfs = match &input.custom_fields {
        Some(v) => custom::parse(c, v)?,
        None => Vec::new(),
    };
    let row = CaseTemplateRow {
        id: next_id(),
        organisation_id: actor.org_id,
        display_name: values::opt_text("displayName", input.display_name.as_deref(), 256)?
            .unwrap_or_else(|| name.clone()),
        name,
        title_prefix: values::opt_text("titlePrefix", input.title_prefix.as_deref(), 64)?,
        description: values::opt_text(
            "description",
            input.description.as_deref(),
            values::MAX_DESCRIPTION,
        )?,
        severity: input.severity.map(values::severity).transpose()?,
        tags: values::tags_json(&values::tags(
            "tags",
            input.tags.as_deref().unwrap_or_default(),
        )?),
        flag: input.flag.unwrap_or(false),
        tlp: input.tlp.map(values::tlp).transpose()?,
        pap: input.pap.map(values::pap).transpose()?,
        summary: values::opt_text("summary", input.summary.as_deref(), values::MAX_DESCRIPTION)?,
        tasks: check_tasks(actor, input.tasks.as_deref().unwrap_or_default())?,
        page_template_ids,
        created_by: actor.login.clone(),
        created_at: now_ms(),
        updated_by: None,
        updated_at: None,
    };
    diesel::insert_into(case_templates::table)
        .values(&row)
        .execute(c)
        .map_err(|e| {
            duplicate_as(e, || {
                ApiError::Create(format!("Case template {} already exists", row.name))
            })
        })?;
    let stored = custom::insert(c, row.id, &cfs)?;
    let mut details = audit::created_fields(&row);
    details.insert("customFields".into(), crate::render::to_value(&stored));
    audit::record(audit::Record::new(
        actor,
        audit::Action::Create,
        ObjectType::CaseTemplate,
        Some(row.id),
        details,
        None,
    ));
    Ok(row)
}

/// Applies a PATCH body to a template.
pub fn apply_patch(
    c: &mut DbConn,
    actor: &Actor,
    t: &mut CaseTemplateRow,
    p: &Patch<'_>,
) -> Result<(), ApiError> {
    let before = t.clone();
    let mut extra = serde_json::Map::new();
    if let Some(v) = p.string("name")? {
        t.name = values::text("name", v, 128)?;
    }
    if let Some(v) = p.nullable_string("displayName")? {
        t.display_name = values::opt_text("displayName", v, 256)?.unwrap_or_else(|| t.name.clone());
    }
    if let Some(v) = p.nullable_string("titlePrefix")? {
        t.title_prefix = values::opt_text("titlePrefix", v, 64)?;
    }
    if let Some(v) = p.nullable_string("description")? {
        t.description = values::opt_text("description", v, values::MAX_DESCRIPTION)?;
    }
    if let Some(v) = p.nullable_string("summary")? {
        t.summary = values::opt_text("summary", v, values::MAX_DESCRIPTION)?;
    }
    if p.has("severity") {
        t.severity = p.int_in("severity", 1, 4)?;
    }
    if p.has("tlp") {
        t.tlp = p.int_in("tlp", 0, 4)?;
    }
    if p.has("pap") {
        t.pap = p.int_in("pap", 0, 3)?;
    }
    if let Some(v) = p.bool("flag")? {
        t.flag = v;
    }
    if let Some(v) = p.strings("tags")? {
        t.tags = values::tags_json(&values::tags("tags", &v)?);
    }
    if let Some(v) = p.raw("tasks") {
        let input: Vec<InputTask> = serde_json::from_value(v.clone())
            .map_err(|e| ApiError::attribute("tasks", e.to_string()))?;
        t.tasks = check_tasks(actor, &input)?;
    }
    if let Some(v) = p.raw("customFields") {
        let cfs = custom::parse(c, v)?;
        custom::delete_all(c, &[t.id])?;
        custom::insert(c, t.id, &cfs)?;
        extra.insert("customFields".into(), v.clone());
    }
    if let Some(v) = p.strings("pageTemplateIds")? {
        t.page_template_ids = check_page_templates(c, actor.org_id, &v)?;
    }
    t.updated_by = Some(actor.login.clone());
    t.updated_at = Some(now_ms());
    audit::updated_plus(
        actor,
        ObjectType::CaseTemplate,
        t.id,
        &before,
        &*t,
        extra,
        None,
    );
    Ok(())
}

/// Checks page template ids of the organisation; stores them as a JSON array of `~id`s.
pub fn check_page_templates(c: &mut DbConn, org: i64, ids: &[String]) -> Result<String, ApiError> {
    use crate::db::schema::pages;
    if ids.len() > 100 {
        return Err(ApiError::attribute(
            "pageTemplateIds",
            "at most 100 page templates",
        ));
    }
    let mut out = Vec::new();
    for key in ids {
        let id = crate::db::parse_id(key).unwrap_or(-1);
        let found: i64 = pages::table
            .filter(pages::id.eq(id))
            .filter(pages::organisation_id.eq(org))
            .filter(pages::case_id.is_null())
            .count()
            .get_result(c)?;
        if found == 0 {
            return Err(ApiError::NotFound(format!("PageTemplate {key} not found")));
        }
        let id = crate::db::format_id(id);
        if !out.contains(&id) {
            out.push(id);
        }
    }
    serde_json::to_string(&out).map_err(ApiError::internal)
}

/// The page templates linked to a template.
pub fn page_templates(t: &CaseTemplateRow) -> Vec<String> {
    serde_json::from_str(&t.page_template_ids).unwrap_or_default()
}

/// The tasks of a template as inputs.
pub fn task_inputs(t: &CaseTemplateRow) -> Vec<InputTask> {
    serde_json::from_str::<Vec<OutputTask>>(&t.tasks)
        .unwrap_or_default()
        .iter()
        .map(tasks::as_input)
        .collect()
}

/// Deletes the template `key` of organisation `org` with its custom values.
pub fn delete_one(c: &mut DbConn, actor: &Actor, key: &str) -> Result<(), ApiError> {
    let t = find_template(c, actor.org_id, key)?;
    let mut details = serde_json::Map::new();
    details.insert("name".into(), t.name.clone().into());
    audit::deleted(actor, ObjectType::CaseTemplate, t.id, details, None);
    custom::delete_all(c, &[t.id])?;
    diesel::delete(case_templates::table.find(t.id)).execute(c)?;
    Ok(())
}

/// Applies a patch to the template `key`; answers it updated.
pub fn update_one(
    c: &mut DbConn,
    actor: &Actor,
    key: &str,
    patch: &Value,
    strict: Option<&[&str]>,
) -> Result<CaseTemplateRow, ApiError> {
    let mut t = find_template(c, actor.org_id, key)?;
    let p = Patch::new(patch)?;
    apply_patch(c, actor, &mut t, &p)?;
    if let Some(rendered) = strict {
        p.finish(rendered)?;
    }
    diesel::update(case_templates::table.find(t.id))
        .set(&t)
        .execute(c)
        .map_err(|e| {
            duplicate_as(e, || {
                ApiError::Create(format!("Case template {} already exists", t.name))
            })
        })?;
    Ok(t)
}
