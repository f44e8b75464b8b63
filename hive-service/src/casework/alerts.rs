//! Alerts: creation with observables in one transaction, deduplication on
//! (type, source, sourceRef) per organisation, updates, and the alert → case flows of
//! section 7.8 (promote, merge, import, unlink).

use super::cases::{self, CaseSpec};
use super::custom::{self, CfInput};
use super::find_alert;
use super::observables::{self as obs, NewObservable, Parent};
use super::{find_template, Actor};
use crate::audit::{self, ObjectType, Root};
use crate::db::casework::{AlertRow, CaseRow};
use crate::db::schema::{alerts, cases as case_t};
use crate::db::{duplicate_as, next_id, now_ms, DbConn};
use crate::domain::values::{self, Patch, ALERT_STATUSES};
use diesel::prelude::*;
use serde_json::{Map, Value};
use service_kit::error::ApiError;
use shared_models::casework::InputObservable;
use shared_models::casework::{InputAlert, InputAlertCase, InputCase, OutputAlert};

/// A checked alert, observables expanded.
#[derive(Debug, Clone)]
pub struct NewAlert {
    /// The row to insert.
    pub row: AlertRow,
    /// Custom values.
    pub custom_fields: Vec<CfInput>,
    /// Observables (duplicates merged on insertion).
    pub observables: Vec<NewObservable>,
    /// Procedures.
    pub procedures: Vec<super::collab::NewProcedure>,
}

fn duplicate(actor: &Actor, r: &AlertRow) -> ApiError {
    ApiError::Create(format!(
        "Alert {}:{}:{} already exist in organisation {}",
        r.alert_type, r.source, r.source_ref, actor.org_name
    ))
}

/// Checks an alert input (custom fields and observable types need the database).
pub fn check(
    c: &mut DbConn,
    actor: &Actor,
    input: &InputAlert,
    files: &[service_kit::datastore::FilePart],
) -> Result<NewAlert, ApiError> {
    let now = now_ms();
    let status = input.status.clone().unwrap_or_else(|| "New".into());
    let stage = values::stage_of(ALERT_STATUSES, "status", &status)?;
    if stage == "Imported" {
        return Err(ApiError::attribute(
            "status",
            "Imported is set by promotion only",
        ));
    }
    let assignee = match input.assignee.as_deref().filter(|a| !a.trim().is_empty()) {
        Some(a) => Some(super::check_assignee(c, actor.org_id, a)?),
        None => None,
    };
    let row = AlertRow {
        id: next_id(),
        organisation_id: actor.org_id,
        alert_type: values::text("type", &input.alert_type, 32)?,
        source: values::text("source", &input.source, 32)?,
        source_ref: values::text("sourceRef", &input.source_ref, 128)?,
        external_link: values::opt_text("externalLink", input.external_link.as_deref(), 512)?,
        title: values::text("title", &input.title, 512)?,
        description: values::long_text("description", &input.description, values::MAX_DESCRIPTION)?,
        severity: values::severity(input.severity.unwrap_or(2))?,
        date: input.date.unwrap_or(now),
        tags: values::tags_json(&values::tags(
            "tags",
            input.tags.as_deref().unwrap_or_default(),
        )?),
        flag: input.flag.unwrap_or(false),
        tlp: values::tlp(input.tlp.unwrap_or(2))?,
        pap: values::pap(input.pap.unwrap_or(2))?,
        follow: true,
        in_progress_date: (stage == "InProgress").then_some(now),
        closed_date: (stage == "Closed").then_some(now),
        status,
        stage: stage.into(),
        summary: values::opt_text("summary", input.summary.as_deref(), values::MAX_DESCRIPTION)?,
        assignee,
        case_template: input
            .case_template
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string),
        case_id: None,
        is_read: false,
        last_sync_date: None,
        imported_date: None,
        created_by: actor.login.clone(),
        created_at: now,
        updated_by: None,
        updated_at: None,
    };
    let custom_fields = match &input.custom_fields {
        Some(v) => custom::parse(c, v)?,
        None => Vec::new(),
    };
    let inputs = input.observables.as_deref().unwrap_or_default();
    if inputs.len() > obs::MAX_PER_REQUEST {
        return Err(ApiError::attribute(
            "observables",
            format!("at most {} observables", obs::MAX_PER_REQUEST),
        ));
    }
    let types = obs::types(c)?;
    let mut observables = Vec::new();
    for (i, o) in inputs.iter().enumerate() {
        observables.extend(obs::expand(
            c,
            actor,
            &types,
            o,
            files,
            None,
            &format!("observables[{i}]."),
        )?);
    }
    let procedures = input
        .procedures
        .as_deref()
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(i, p)| super::collab::NewProcedure::check(p, &format!("procedures[{i}].")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(NewAlert {
        row,
        custom_fields,
        observables,
        procedures,
    })
}

/// Stores a checked alert with its observables. Returns the alert as its creator sees it:
/// without the update that adding observables records (a later read shows it).
pub fn insert(c: &mut DbConn, actor: &Actor, new: NewAlert) -> Result<OutputAlert, ApiError> {
    let NewAlert {
        mut row,
        custom_fields,
        observables,
        procedures,
    } = new;
    if !observables.is_empty() {
        row.updated_by = Some(actor.login.clone());
        row.updated_at = Some(row.created_at);
    }
    // The unique index on (organisation, type, source, sourceRef) catches duplicates.
    service_kit::on_backend!(c, conn => diesel::insert_into(alerts::table)
        .values(&row)
        .execute(conn))
    .map_err(|e| duplicate_as(e, || duplicate(actor, &row)))?;
    let cfs = custom::insert(c, row.id, &custom_fields)?;
    let mut details = audit::created_fields(&row);
    details.insert("customFields".into(), crate::render::to_value(&cfs));
    audit::record(
        audit::Record::new(
            actor,
            audit::Action::Create,
            ObjectType::Alert,
            Some(row.id),
            details,
            Some(Root::Alert(row.id)),
        )
        .main(),
    );
    for p in &procedures {
        p.insert(c, actor, None, Some(row.id))?;
    }
    let stored = obs::insert_into(c, actor, Parent::Alert(row.id), observables, true)?;
    let mut out = crate::render::alert(&row, cfs);
    let distinct: std::collections::HashSet<i64> = stored.iter().map(|o| o.id).collect();
    out.observable_count = distinct.len() as i64;
    out.meta.updated_by = None;
    out.meta.updated_at = None;
    Ok(out)
}

/// Applies a PATCH body to an alert.
pub fn apply_patch(
    c: &mut DbConn,
    actor: &Actor,
    a: &mut AlertRow,
    p: &Patch<'_>,
) -> Result<(), ApiError> {
    let before = a.clone();
    let mut extra = Map::new();
    let now = now_ms();
    if let Some(v) = p.string("type")? {
        a.alert_type = values::text("type", v, 32)?;
    }
    if let Some(v) = p.string("source")? {
        a.source = values::text("source", v, 32)?;
    }
    if let Some(v) = p.string("sourceRef")? {
        a.source_ref = values::text("sourceRef", v, 128)?;
    }
    if let Some(v) = p.nullable_string("externalLink")? {
        a.external_link = values::opt_text("externalLink", v, 512)?;
    }
    if let Some(v) = p.string("title")? {
        a.title = values::text("title", v, 512)?;
    }
    if let Some(v) = p.string("description")? {
        a.description = values::long_text("description", v, values::MAX_DESCRIPTION)?;
    }
    if let Some(v) = p.int_in("severity", 1, 4)? {
        a.severity = v;
    }
    if let Some(v) = p.int("date")? {
        a.date = v;
    }
    if let Some(v) = p.nullable_int("lastSyncDate")? {
        a.last_sync_date = v;
    }
    let mut tags = values::tags_of(&a.tags);
    if let Some(v) = p.strings("tags")? {
        tags = values::tags("tags", &v)?;
    }
    if let Some(v) = p.strings("addTags")? {
        tags = values::union(&tags, &values::tags("addTags", &v)?);
    }
    if let Some(v) = p.strings("removeTags")? {
        tags.retain(|t| !v.contains(t));
    }
    a.tags = values::tags_json(&tags);
    if let Some(v) = p.bool("flag")? {
        a.flag = v;
    }
    if let Some(v) = p.int_in("tlp", 0, 4)? {
        a.tlp = v;
    }
    if let Some(v) = p.int_in("pap", 0, 3)? {
        a.pap = v;
    }
    if let Some(v) = p.bool("follow")? {
        a.follow = v;
    }
    if let Some(v) = p.nullable_string("summary")? {
        a.summary = values::opt_text("summary", v, values::MAX_DESCRIPTION)?;
    }
    if let Some(v) = p.nullable_string("caseTemplate")? {
        a.case_template = v
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string);
    }
    if let Some(v) = p.nullable_string("assignee")? {
        a.assignee = match v.map(str::trim).filter(|s| !s.is_empty()) {
            Some(l) => Some(super::check_assignee(c, actor.org_id, l)?),
            None => None,
        };
    }
    if let Some(v) = p.raw("customFields") {
        let cfs = custom::parse(c, v)?;
        custom::replace(c, a.id, &cfs)?;
        extra.insert("customFields".into(), v.clone());
    }
    if let Some(status) = p.string("status")? {
        let stage = values::stage_of(ALERT_STATUSES, "status", status)?;
        if stage == "Imported" && a.case_id.is_none() {
            return Err(ApiError::attribute(
                "status",
                "Imported is set by promotion only",
            ));
        }
        if stage == "InProgress" && a.in_progress_date.is_none() {
            a.in_progress_date = Some(now);
        }
        if stage == "Closed" {
            a.closed_date = Some(now);
            a.is_read = true;
        } else {
            a.closed_date = None;
        }
        a.status = status.to_string();
        a.stage = stage.into();
    }
    a.updated_by = Some(actor.login.clone());
    a.updated_at = Some(now);
    audit::updated_plus(
        actor,
        ObjectType::Alert,
        a.id,
        &before,
        &*a,
        extra,
        Some(Root::Alert(a.id)),
    );
    Ok(())
}

/// What identifies a deleted alert in its audit record.
fn identity(a: &AlertRow) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("type".into(), a.alert_type.clone().into());
    m.insert("source".into(), a.source.clone().into());
    m.insert("sourceRef".into(), a.source_ref.clone().into());
    m.insert("title".into(), a.title.clone().into());
    m
}

/// Deletes an alert with its observables and custom values.
pub fn delete(c: &mut DbConn, actor: &Actor, a: &AlertRow) -> QueryResult<()> {
    audit::deleted(actor, ObjectType::Alert, a.id, identity(a), None);
    let rows = obs::children(c, Parent::Alert(a.id))?;
    obs::delete(c, &rows)?;
    custom::delete_all(c, &[a.id])?;
    super::collab::delete_for_alert(c, a.id)?;
    diesel::delete(
        crate::db::schema::attachments::table
            .filter(crate::db::schema::attachments::owner_id.eq(a.id)),
    )
    .execute(c)?;
    diesel::delete(alerts::table.find(a.id)).execute(c)?;
    Ok(())
}

fn mark_imported(c: &mut DbConn, actor: &Actor, a: &mut AlertRow, case_id: i64) -> QueryResult<()> {
    let before = a.clone();
    let now = now_ms();
    a.case_id = Some(case_id);
    a.status = "Imported".into();
    a.stage = "Imported".into();
    a.imported_date = Some(now);
    a.is_read = true;
    a.updated_by = Some(actor.login.clone());
    a.updated_at = Some(now);
    diesel::update(alerts::table.find(a.id))
        .set(&*a)
        .execute(c)?;
    audit::updated(
        actor,
        ObjectType::Alert,
        a.id,
        &before,
        &*a,
        Some(Root::Alert(a.id)),
    );
    Ok(())
}

fn copy_observables(
    c: &mut DbConn,
    actor: &Actor,
    a: &AlertRow,
    case_id: i64,
) -> Result<(), ApiError> {
    let rows = obs::children(c, Parent::Alert(a.id))?;
    let news = obs::as_new(c, &rows)?;
    obs::insert(c, actor, Parent::Case(case_id), news)?;
    Ok(())
}

/// Promotes an alert to a case (`body` overrides the alert's values); an alert already
/// imported answers its case.
pub fn promote(
    c: &mut DbConn,
    actor: &Actor,
    a: &mut AlertRow,
    input: &InputAlertCase,
) -> Result<CaseRow, ApiError> {
    if let Some(case_id) = a.case_id {
        let exists: i64 = case_t::table.find(case_id).count().get_result(c)?;
        if exists > 0 {
            // Its case, if the caller sees it (a case restricted or handed away stays hidden).
            return super::find_case(c, actor, &crate::db::format_id(case_id));
        }
    }
    let template_name = input
        .case_template
        .clone()
        .or_else(|| a.case_template.clone());
    let template = match template_name.as_deref().filter(|t| !t.trim().is_empty()) {
        Some(t) => Some(find_template(c, actor.org_id, t)?),
        None => None,
    };
    let mut cfs = custom::inputs_of(c, a.id)?;
    if let Some(v) = &input.custom_fields {
        let over = custom::parse(c, v)?;
        cfs.retain(|f| !over.iter().any(|o| o.field.id == f.field.id));
        cfs.extend(over);
    }
    let tasks = super::tasks::check_list(input.tasks.as_deref())?;
    let now = now_ms();
    let tags = match &input.tags {
        Some(v) => values::tags("tags", v)?,
        None => values::tags_of(&a.tags),
    };
    let level = |name: &str, v: Option<i32>, lo: i32, hi: i32, default: i32| match v {
        Some(v) => values::check_range(name, v, lo, hi),
        None => Ok(default),
    };
    let spec = CaseSpec {
        title: match &input.title {
            Some(t) => values::text("title", t, 512)?,
            None => a.title.clone(),
        },
        description: match &input.description {
            Some(d) => values::long_text("description", d, values::MAX_DESCRIPTION)?,
            None => a.description.clone(),
        },
        severity: Some(level("severity", input.severity, 1, 4, a.severity)?),
        start_date: Some(input.start_date.unwrap_or(now)),
        end_date: input.end_date,
        tags,
        flag: Some(input.flag.unwrap_or(a.flag)),
        tlp: Some(level("tlp", input.tlp, 0, 4, a.tlp)?),
        pap: Some(level("pap", input.pap, 0, 3, a.pap)?),
        status: input.status.clone(),
        summary: input.summary.clone().or_else(|| a.summary.clone()),
        assignee: input.assignee.clone().or_else(|| a.assignee.clone()),
        custom_fields: cfs,
        template,
        tasks,
        alert_dates: Some((a.date, a.created_at, now)),
    };
    let k = cases::create_from(c, actor, spec, Some(from_alert(a)))?;
    copy_observables(c, actor, a, k.id)?;
    super::collab::copy_procedures(c, actor, a.id, k.id)?;
    mark_imported(c, actor, a, k.id)?;
    Ok(k)
}

/// Merges an alert into a case: observables (duplicates merged), custom fields, tags, and
/// a paragraph appended to the description.
pub fn merge_into(
    c: &mut DbConn,
    actor: &Actor,
    a: &mut AlertRow,
    k: &mut CaseRow,
) -> Result<(), ApiError> {
    // Into a case shared with the actor's organisation: as far as the share's profile lets it.
    super::check_share_permission(c, actor, k, "manageCase/update")?;
    super::check_share_permission(c, actor, k, "manageObservable")?;
    if a.case_id.is_some() {
        return Err(ApiError::BadRequest(format!(
            "Alert {} is already imported",
            crate::db::format_id(a.id)
        )));
    }
    let before = k.clone();
    copy_observables(c, actor, a, k.id)?;
    let cfs = custom::inputs_of(c, a.id)?;
    custom::add_missing(c, k.id, &cfs)?;
    k.tags = values::tags_json(&values::union(
        &values::tags_of(&k.tags),
        &values::tags_of(&a.tags),
    ));
    k.description = format!(
        "{}\n  \n#### Merged with alert #{} {}\n\n{}",
        k.description, a.source_ref, a.title, a.description
    );
    k.updated_by = Some(actor.login.clone());
    k.updated_at = Some(now_ms());
    diesel::update(case_t::table.find(k.id))
        .set(&*k)
        .execute(c)?;
    let mut details = audit::changes(&before, &*k);
    details.insert("fromAlert".into(), from_alert(a));
    audit::merged(
        actor,
        ObjectType::Case,
        k.id,
        details,
        Some(Root::Case(k.id)),
    );
    mark_imported(c, actor, a, k.id)?;
    Ok(())
}

/// The alert a case came from or took in, as its audit record names it.
fn from_alert(a: &AlertRow) -> Value {
    serde_json::json!({
        "_id": crate::db::format_id(a.id),
        "type": a.alert_type,
        "source": a.source,
        "sourceRef": a.source_ref,
    })
}

/// Imports an alert's observables into a case and links them (TheHive 5's import).
pub fn import_into(
    c: &mut DbConn,
    actor: &Actor,
    a: &mut AlertRow,
    k: &CaseRow,
) -> Result<(), ApiError> {
    // Into a case shared with the actor's organisation: as far as the share's profile lets it.
    super::check_share_permission(c, actor, k, "manageCase/update")?;
    super::check_share_permission(c, actor, k, "manageObservable")?;
    if a.case_id.is_some() {
        return Err(ApiError::BadRequest(format!(
            "Alert {} is already imported",
            crate::db::format_id(a.id)
        )));
    }
    copy_observables(c, actor, a, k.id)?;
    super::collab::copy_procedures(c, actor, a.id, k.id)?;
    mark_imported(c, actor, a, k.id).map_err(ApiError::from)
}

/// Unlinks an alert from its case.
pub fn unlink(c: &mut DbConn, actor: &Actor, a: &mut AlertRow) -> QueryResult<()> {
    let before = a.clone();
    a.case_id = None;
    a.status = "New".into();
    a.stage = "New".into();
    a.imported_date = None;
    a.updated_by = Some(actor.login.clone());
    a.updated_at = Some(now_ms());
    diesel::update(alerts::table.find(a.id))
        .set(&*a)
        .execute(c)?;
    audit::updated(
        actor,
        ObjectType::Alert,
        a.id,
        &before,
        &*a,
        Some(Root::Alert(a.id)),
    );
    Ok(())
}

/// A checked case input (used by `POST /case`).
pub fn case_spec(c: &mut DbConn, actor: &Actor, input: &InputCase) -> Result<CaseSpec, ApiError> {
    let template = match input
        .case_template
        .as_deref()
        .filter(|t| !t.trim().is_empty())
    {
        Some(t) => Some(find_template(c, actor.org_id, t)?),
        None => None,
    };
    let tasks = super::tasks::check_list(input.tasks.as_deref())?;
    Ok(CaseSpec {
        title: values::text("title", &input.title, 512)?,
        description: values::long_text("description", &input.description, values::MAX_DESCRIPTION)?,
        severity: input.severity.map(values::severity).transpose()?,
        start_date: input.start_date,
        end_date: input.end_date,
        tags: values::tags("tags", input.tags.as_deref().unwrap_or_default())?,
        flag: input.flag,
        tlp: input.tlp.map(values::tlp).transpose()?,
        pap: input.pap.map(values::pap).transpose()?,
        status: input.status.clone(),
        summary: values::opt_text("summary", input.summary.as_deref(), values::MAX_DESCRIPTION)?,
        assignee: input.assignee.clone().filter(|a| !a.trim().is_empty()),
        custom_fields: match &input.custom_fields {
            Some(v) => custom::parse(c, v)?,
            None => Vec::new(),
        },
        template,
        tasks,
        alert_dates: None,
    })
}

pub fn update_one(
    c: &mut DbConn,
    actor: &Actor,
    key: &str,
    body: &Value,
    strict: Option<&[&str]>,
) -> Result<AlertRow, ApiError> {
    let mut a = find_alert(c, actor.org_id, key)?;
    let p = Patch::new(body)?;
    apply_patch(c, actor, &mut a, &p)?;
    if let Some(rendered) = strict {
        p.finish(rendered)?;
    }
    diesel::update(alerts::table.find(a.id))
        .set(&a)
        .execute(c)
        .map_err(|e| {
            crate::db::duplicate_as(e, || {
                ApiError::Create(format!(
                    "Alert {}:{}:{} already exist in organisation {}",
                    a.alert_type, a.source, a.source_ref, actor.org_name
                ))
            })
        })?;
    Ok(a)
}

/// Adds observables to the alert `key` (files from `files`, the `attachment` part by
/// default); the alert records the update.
pub fn add_observables(
    c: &mut DbConn,
    actor: &Actor,
    key: &str,
    input: &InputObservable,
    files: &[service_kit::body::FilePart],
) -> Result<Vec<crate::db::casework::ObservableRow>, ApiError> {
    let mut a = find_alert(c, actor.org_id, key)?;
    let types = obs::types(c)?;
    let news = obs::expand(c, actor, &types, input, files, Some("attachment"), "")?;
    let rows = obs::insert(c, actor, Parent::Alert(a.id), news)?;
    a.updated_by = Some(actor.login.clone());
    a.updated_at = Some(crate::db::now_ms());
    diesel::update(alerts::table.find(a.id))
        .set(&a)
        .execute(c)?;
    Ok(rows)
}
