//! Cases: creation (with a template), updates with TheHive's status/stage rules, closing
//! checks, deletion and merging.

use super::custom::{self, CfInput};
use super::find_case;
use super::observables::{self as obs, Parent};
use super::{tasks, templates, Actor};
use crate::audit::{self, ObjectType, Root};
use crate::db::casework::{CaseRow, CaseTemplateRow};
use crate::db::schema::{alerts, attachments, cases, counters, tasks as task_t};
use crate::db::{next_id, now_ms, DbConn};
use crate::domain::values::{self, Patch, CASE_STATUSES, IMPACT_STATUSES};
use diesel::prelude::*;
use serde_json::Value;
use service_kit::error::ApiError;
use shared_models::casework::InputObservable;
use shared_models::casework::InputTask;

/// Everything a new case is made of, checked.
#[derive(Debug, Clone, Default)]
pub struct CaseSpec {
    /// Title (before the template's prefix).
    pub title: String,
    /// Description.
    pub description: String,
    /// Severity (else the template's, else 2).
    pub severity: Option<i32>,
    /// Start date (else now).
    pub start_date: Option<i64>,
    /// End date.
    pub end_date: Option<i64>,
    /// Tags (the template's are added).
    pub tags: Vec<String>,
    /// Flag (else the template's).
    pub flag: Option<bool>,
    /// TLP (else the template's, else 2).
    pub tlp: Option<i32>,
    /// PAP (else the template's, else 2).
    pub pap: Option<i32>,
    /// `New` or `InProgress`.
    pub status: Option<String>,
    /// Summary (else the template's).
    pub summary: Option<String>,
    /// Assignee login.
    pub assignee: Option<String>,
    /// Custom field values (override the template's).
    pub custom_fields: Vec<CfInput>,
    /// Template.
    pub template: Option<CaseTemplateRow>,
    /// Tasks after the template's.
    pub tasks: Vec<InputTask>,
    /// The alert it comes from: (date, arrival, import).
    pub alert_dates: Option<(i64, i64, i64)>,
}

/// Takes the next case number (one counter for the whole instance).
pub fn next_number(c: &mut DbConn) -> QueryResult<i64> {
    diesel::update(counters::table.find("case_number"))
        .set(counters::value.eq(counters::value + 1))
        .execute(c)?;
    counters::table
        .find("case_number")
        .select(counters::value)
        .first(c)
}

/// Creates a case with its tasks and custom values.
pub fn create(c: &mut DbConn, actor: &Actor, spec: CaseSpec) -> Result<CaseRow, ApiError> {
    create_from(c, actor, spec, None)
}

/// Creates a case, from an alert when `from_alert` names it (its audit record says so).
pub fn create_from(
    c: &mut DbConn,
    actor: &Actor,
    spec: CaseSpec,
    from_alert: Option<Value>,
) -> Result<CaseRow, ApiError> {
    let t = spec.template.as_ref();
    let title = match t.and_then(|t| t.title_prefix.as_deref()).map(str::trim_end) {
        Some(prefix) if !prefix.is_empty() => format!("{prefix} {}", spec.title),
        _ => spec.title.clone(),
    };
    let title = values::text("title", &title, 512)?;
    let status = spec.status.clone().unwrap_or_else(|| "New".into());
    let stage = values::stage_of(CASE_STATUSES, "status", &status)?;
    if stage == "Closed" {
        return Err(ApiError::attribute(
            "status",
            "a case is created New or InProgress; close it afterwards",
        ));
    }
    let assignee = match &spec.assignee {
        Some(a) => Some(super::check_assignee(c, actor.org_id, a)?),
        None => None,
    };
    let now = now_ms();
    let template_tags = t.map(|t| values::tags_of(&t.tags)).unwrap_or_default();
    let row = CaseRow {
        id: next_id(),
        number: next_number(c)?,
        organisation_id: actor.org_id,
        title,
        description: spec.description.clone(),
        severity: spec.severity.or(t.and_then(|t| t.severity)).unwrap_or(2),
        start_date: spec.start_date.unwrap_or(now),
        end_date: spec.end_date,
        tags: values::tags_json(&values::union(&spec.tags, &template_tags)),
        flag: spec.flag.or(t.map(|t| t.flag)).unwrap_or(false),
        tlp: spec.tlp.or(t.and_then(|t| t.tlp)).unwrap_or(2),
        pap: spec.pap.or(t.and_then(|t| t.pap)).unwrap_or(2),
        in_progress_date: (stage == "InProgress").then_some(now),
        status,
        stage: stage.into(),
        summary: spec.summary.clone().or(t.and_then(|t| t.summary.clone())),
        impact_status: None,
        assignee,
        case_template: t.map(|t| t.name.clone()),
        access_kind: "OrganisationAccessKind".into(),
        access_users: None,
        closed_date: None,
        alert_date: spec.alert_dates.map(|a| a.0),
        alert_new_date: spec.alert_dates.map(|a| a.1),
        alert_imported_date: spec.alert_dates.map(|a| a.2),
        created_by: actor.login.clone(),
        created_at: now,
        updated_by: None,
        updated_at: None,
    };
    diesel::insert_into(cases::table).values(&row).execute(c)?;
    let mut cfs: Vec<CfInput> = match t {
        Some(t) => custom::inputs_of(c, t.id)?,
        None => Vec::new(),
    };
    cfs.retain(|f| !spec.custom_fields.iter().any(|s| s.field.id == f.field.id));
    cfs.extend(spec.custom_fields.iter().cloned());
    let stored_cfs = custom::insert(c, row.id, &cfs)?;
    let mut details = audit::created_fields(&row);
    details.insert("customFields".into(), crate::render::to_value(&stored_cfs));
    if let Some(a) = from_alert {
        details.insert("fromAlert".into(), a);
    }
    audit::record(
        audit::Record::new(
            actor,
            audit::Action::Create,
            ObjectType::Case,
            Some(row.id),
            details,
            Some(Root::Case(row.id)),
        )
        .main(),
    );
    let mut all_tasks = t.map(templates::task_inputs).unwrap_or_default();
    all_tasks.extend(spec.tasks.iter().cloned());
    for task in &all_tasks {
        tasks::insert(c, actor, row.id, task)?;
    }
    if let Some(t) = t {
        copy_page_templates(c, actor, row.id, &templates::page_templates(t))?;
    }
    Ok(row)
}

/// Gives a case pages made from page templates.
pub fn copy_page_templates(
    c: &mut DbConn,
    actor: &Actor,
    case_id: i64,
    ids: &[String],
) -> QueryResult<()> {
    use crate::db::casework::PageRow;
    use crate::db::schema::pages;
    for key in ids {
        let Some(id) = crate::db::parse_id(key) else {
            continue;
        };
        let found: Option<PageRow> = pages::table
            .filter(pages::id.eq(id))
            .filter(pages::case_id.is_null())
            .select(PageRow::as_select())
            .first(c)
            .optional()?;
        if let Some(p) = found {
            let row = PageRow {
                id: next_id(),
                organisation_id: actor.org_id,
                case_id: Some(case_id),
                created_by: actor.login.clone(),
                created_at: now_ms(),
                updated_by: None,
                updated_at: None,
                ..p
            };
            diesel::insert_into(pages::table).values(&row).execute(c)?;
            audit::created(
                actor,
                ObjectType::Page,
                row.id,
                &row,
                Some(Root::Case(case_id)),
            );
        }
    }
    Ok(())
}

/// Applies a PATCH body to a case (status and stage rules, closing checks).
pub fn apply_patch(
    c: &mut DbConn,
    actor: &Actor,
    k: &mut CaseRow,
    p: &Patch<'_>,
) -> Result<(), ApiError> {
    let before = k.clone();
    let mut extra = serde_json::Map::new();
    let now = now_ms();
    if let Some(v) = p.string("title")? {
        k.title = values::text("title", v, 512)?;
    }
    if let Some(v) = p.string("description")? {
        k.description = values::long_text("description", v, values::MAX_DESCRIPTION)?;
    }
    if let Some(v) = p.int_in("severity", 1, 4)? {
        k.severity = v;
    }
    if let Some(v) = p.int("startDate")? {
        k.start_date = v;
    }
    if let Some(v) = p.nullable_int("endDate")? {
        k.end_date = v;
    }
    let mut tags = values::tags_of(&k.tags);
    if let Some(v) = p.strings("tags")? {
        tags = values::tags("tags", &v)?;
    }
    if let Some(v) = p.strings("addTags")? {
        tags = values::union(&tags, &values::tags("addTags", &v)?);
    }
    if let Some(v) = p.strings("removeTags")? {
        tags.retain(|t| !v.contains(t));
    }
    k.tags = values::tags_json(&tags);
    if let Some(v) = p.bool("flag")? {
        k.flag = v;
    }
    if let Some(v) = p.int_in("tlp", 0, 4)? {
        k.tlp = v;
    }
    if let Some(v) = p.int_in("pap", 0, 3)? {
        k.pap = v;
    }
    if let Some(v) = p.nullable_string("summary")? {
        k.summary = values::opt_text("summary", v, values::MAX_DESCRIPTION)?;
    }
    if let Some(v) = p.nullable_string("impactStatus")? {
        k.impact_status = match v {
            Some(s) => Some(values::one_of("impactStatus", s, IMPACT_STATUSES)?),
            None => None,
        };
    }
    if let Some(v) = p.nullable_string("assignee")? {
        k.assignee = match v.map(str::trim).filter(|s| !s.is_empty()) {
            Some(a) => Some(super::check_assignee(c, actor.org_id, a)?),
            None => None,
        };
    }
    if let Some(v) = p.raw("customFields") {
        let cfs = custom::parse(c, v)?;
        custom::replace(c, k.id, &cfs)?;
        extra.insert("customFields".into(), v.clone());
    }
    if let Some(status) = p.string("status")? {
        let stage = values::stage_of(CASE_STATUSES, "status", status)?;
        let was_closed = k.stage == "Closed";
        if stage == "Closed" && !was_closed {
            let missing = custom::missing_mandatory(c, k.id)?;
            if !missing.is_empty() {
                return Err(ApiError::attribute(
                    "customFields",
                    format!(
                        "mandatory custom fields must be set before closing: {}",
                        missing.join(", ")
                    ),
                ));
            }
            let open: Vec<String> = task_t::table
                .filter(task_t::case_id.eq(k.id))
                .filter(task_t::mandatory.eq(true))
                .filter(task_t::status.ne_all(["Completed", "Cancel"]))
                .select(task_t::title)
                .load(c)?;
            if !open.is_empty() {
                return Err(ApiError::BadRequest(format!(
                    "mandatory tasks must be completed before closing: {}",
                    open.join(", ")
                )));
            }
            if !p.has("endDate") || k.end_date.is_none() {
                k.end_date = Some(now);
            }
            k.closed_date = Some(now);
        }
        if stage != "Closed" && was_closed {
            k.end_date = None;
            k.closed_date = None;
        }
        if stage == "InProgress" && k.in_progress_date.is_none() {
            k.in_progress_date = Some(now);
        }
        k.status = status.to_string();
        k.stage = stage.into();
    }
    k.updated_by = Some(actor.login.clone());
    k.updated_at = Some(now);
    audit::updated_plus(
        actor,
        ObjectType::Case,
        k.id,
        &before,
        &*k,
        extra,
        Some(Root::Case(k.id)),
    );
    Ok(())
}

/// Deletes a case and everything in it; its alerts go back to `New`.
pub fn delete(c: &mut DbConn, actor: &Actor, k: &CaseRow) -> QueryResult<()> {
    let mut details = serde_json::Map::new();
    details.insert("number".into(), k.number.into());
    details.insert("title".into(), k.title.clone().into());
    audit::deleted(actor, ObjectType::Case, k.id, details, None);
    let task_ids: Vec<i64> = task_t::table
        .filter(task_t::case_id.eq(k.id))
        .select(task_t::id)
        .load(c)?;
    tasks::delete(c, &task_ids)?;
    let observables = obs::children(c, Parent::Case(k.id))?;
    obs::delete(c, &observables)?;
    super::collab::delete_for_case(c, k.id)?;
    custom::delete_all(c, &[k.id])?;
    diesel::delete(attachments::table.filter(attachments::owner_id.eq(k.id))).execute(c)?;
    diesel::update(alerts::table.filter(alerts::case_id.eq(k.id)))
        .set((
            alerts::case_id.eq(None::<i64>),
            alerts::status.eq("New"),
            alerts::stage.eq("New"),
            alerts::imported_date.eq(None::<i64>),
        ))
        .execute(c)?;
    diesel::delete(cases::table.find(k.id)).execute(c)?;
    Ok(())
}

/// Merges cases into a new one titled `A / B / ...`; the sources are deleted.
pub fn merge(c: &mut DbConn, actor: &Actor, sources: &[CaseRow]) -> Result<CaseRow, ApiError> {
    // The merged case is open to the organisation: what was restricted to named users must
    // not become visible through it.
    if let Some(r) = sources.iter().find(|s| s.access_kind == "UserAccessKind") {
        return Err(ApiError::BadRequest(format!(
            "Case #{} is restricted to named users; open it to the organisation before merging",
            r.number
        )));
    }
    let mut tags: Vec<String> = Vec::new();
    for s in sources {
        tags = values::union(&tags, &values::tags_of(&s.tags));
    }
    let mut cfs: Vec<CfInput> = Vec::new();
    for s in sources {
        for f in custom::inputs_of(c, s.id)? {
            if !cfs.iter().any(|x| x.field.id == f.field.id) {
                cfs.push(f);
            }
        }
    }
    let spec = CaseSpec {
        title: sources
            .iter()
            .map(|s| s.title.as_str())
            .collect::<Vec<_>>()
            .join(" / "),
        description: sources
            .iter()
            .map(|s| s.description.as_str())
            .collect::<Vec<_>>()
            .join("\n\n"),
        severity: sources.iter().map(|s| s.severity).max(),
        start_date: sources.iter().map(|s| s.start_date).min(),
        tags,
        flag: Some(sources.iter().any(|s| s.flag)),
        tlp: sources.iter().map(|s| s.tlp).max(),
        pap: sources.iter().map(|s| s.pap).max(),
        summary: None,
        custom_fields: cfs,
        ..CaseSpec::default()
    };
    let mut merged = create(c, actor, spec)?;
    audit::merged(
        actor,
        ObjectType::Case,
        merged.id,
        serde_json::Map::from_iter([(
            "cases".to_string(),
            serde_json::json!(sources
                .iter()
                .map(|s| serde_json::json!({
                    "_id": crate::db::format_id(s.id),
                    "number": s.number,
                    "title": s.title,
                }))
                .collect::<Vec<_>>()),
        )]),
        Some(Root::Case(merged.id)),
    );
    if let Some(first) = sources.first() {
        merged.case_template = first.case_template.clone();
        merged.assignee = first.assignee.clone();
        diesel::update(cases::table.find(merged.id))
            .set(&merged)
            .execute(c)?;
    }
    for s in sources {
        diesel::update(task_t::table.filter(task_t::case_id.eq(s.id)))
            .set(task_t::case_id.eq(merged.id))
            .execute(c)?;
        let rows = obs::children(c, Parent::Case(s.id))?;
        let news = obs::as_new(c, &rows)?;
        obs::insert(c, actor, Parent::Case(merged.id), news)?;
        diesel::update(alerts::table.filter(alerts::case_id.eq(s.id)))
            .set(alerts::case_id.eq(merged.id))
            .execute(c)?;
        delete(c, actor, s)?;
    }
    Ok(merged)
}

/// Adds observables to the case `key` (files from `files`, the `attachment` part by default).
pub fn add_observables(
    c: &mut DbConn,
    actor: &Actor,
    key: &str,
    input: &InputObservable,
    files: &[service_kit::body::FilePart],
) -> Result<Vec<crate::db::casework::ObservableRow>, ApiError> {
    let k = find_case(c, actor, key)?;
    crate::casework::check_write(c, actor, k.id, "manageObservable")?;
    let types = obs::types(c)?;
    let news = obs::expand(c, actor, &types, input, files, Some("attachment"), "")?;
    obs::insert(c, actor, Parent::Case(k.id), news)
}

/// Adds a checked task to the case `key`.
pub fn add_task(
    c: &mut DbConn,
    actor: &Actor,
    key: &str,
    input: &InputTask,
) -> Result<crate::db::casework::TaskRow, ApiError> {
    let k = find_case(c, actor, key)?;
    crate::casework::check_write(c, actor, k.id, "manageTask")?;
    tasks::insert(c, actor, k.id, input)
}

/// Deletes the case `key` with everything in it (its owner organisation only).
pub fn delete_one(c: &mut DbConn, who: &Actor, key: &str) -> Result<(), ApiError> {
    let k = find_case(c, who, key)?;
    crate::casework::require_owner(who, &k, "deletes it")?;
    Ok(delete(c, who, &k)?)
}

pub fn update_one(
    c: &mut DbConn,
    actor: &Actor,
    key: &str,
    body: &Value,
    strict: Option<&[&str]>,
) -> Result<crate::db::casework::CaseRow, ApiError> {
    let mut k = find_case(c, actor, key)?;
    crate::casework::check_share_permission(c, actor, &k, "manageCase/update")?;
    let p = Patch::new(body)?;
    apply_patch(c, actor, &mut k, &p)?;
    if let Some(rendered) = strict {
        p.finish(rendered)?;
    }
    diesel::update(cases::table.find(k.id)).set(&k).execute(c)?;
    Ok(k)
}
