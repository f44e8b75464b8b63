//! Collaboration on cases and alerts: comments, procedures with the ATT&CK catalogue,
//! pages, custom timeline events; their renderers and clean-up.

use crate::access::{self, Entity};
use crate::casework::Actor;
use crate::db::casework::*;
use crate::db::parse_id;
use crate::db::schema::{
    action_required, attachments, case_links, cases, comments, custom_events, observables,
    organisations, pages, procedures, shared_items, shares,
};
use crate::db::{format_id, DbConn};
use diesel::prelude::*;
use serde::Deserialize;
use serde_json::Map;
use serde_json::{json, Value};
use service_kit::error::ApiError;
use shared_models::casework::*;
use std::collections::HashMap;
use std::sync::OnceLock;

/// An ATT&CK technique.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pattern {
    /// `T1059.006`.
    pub pattern_id: String,
    /// `Python`.
    pub name: String,
    /// Tactics (`execution`).
    pub tactics: Vec<String>,
}

#[derive(Deserialize)]
struct Catalogue {
    patterns: Vec<Pattern>,
}

/// The ATT&CK Enterprise catalogue shipped with the service (data/attack-patterns.json).
pub fn patterns() -> &'static HashMap<String, Pattern> {
    static CATALOGUE: OnceLock<HashMap<String, Pattern>> = OnceLock::new();
    CATALOGUE.get_or_init(|| {
        let c: Catalogue = serde_json::from_str(include_str!("../../data/attack-patterns.json"))
            .unwrap_or(Catalogue {
                patterns: Vec::new(),
            });
        c.patterns
            .into_iter()
            .map(|p| (p.pattern_id.clone(), p))
            .collect()
    })
}

/// `initial-access` → `Initial Access`.
pub fn tactic_label(tactic: &str) -> String {
    tactic
        .split(['-', '_', ' '])
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn meta(kind: &str, id: i64, cb: &str, ca: i64, ub: &Option<String>, ua: Option<i64>) -> Meta {
    Meta {
        id: format_id(id),
        kind: kind.into(),
        created_by: cb.into(),
        created_at: ca,
        updated_by: ub.clone(),
        updated_at: ua,
    }
}

/// Renders a comment.
pub fn comment(r: &CommentRow) -> OutputComment {
    OutputComment {
        id: format_id(r.id),
        kind: "Comment".into(),
        created_by: r.created_by.clone(),
        created_at: r.created_at,
        updated_by: r.updated_by.clone(),
        updated_at: r.updated_at,
        message: r.message.clone(),
        is_edited: r.is_edited,
        extra_data: Map::new(),
        external: false,
    }
}

/// Renders a procedure.
pub fn procedure(r: &ProcedureRow) -> OutputProcedure {
    OutputProcedure {
        meta: meta(
            "Procedure",
            r.id,
            &r.created_by,
            r.created_at,
            &r.updated_by,
            r.updated_at,
        ),
        description: r.description.clone(),
        occur_date: r.occur_date,
        pattern_name: patterns()
            .get(&r.pattern_id)
            .map(|p| p.name.clone())
            .unwrap_or_default(),
        pattern_id: r.pattern_id.clone(),
        tactic_label: r.tactic.as_deref().map(tactic_label),
        tactic: r.tactic.clone(),
        extra_data: Map::new(),
    }
}

/// Renders a page or a page template.
pub fn page(r: &PageRow) -> OutputPage {
    let kind = if r.case_id.is_some() {
        "Page"
    } else {
        "PageTemplate"
    };
    OutputPage {
        meta: meta(
            kind,
            r.id,
            &r.created_by,
            r.created_at,
            &r.updated_by,
            r.updated_at,
        ),
        title: r.title.clone(),
        content: r.content.clone(),
        order: r.page_order,
        category: r.category.clone(),
        extra_data: Map::new(),
    }
}

/// Renders a custom event.
pub fn custom_event(r: &CustomEventRow) -> OutputCustomEvent {
    OutputCustomEvent {
        meta: meta(
            "CustomEvent",
            r.id,
            &r.created_by,
            r.created_at,
            &r.updated_by,
            r.updated_at,
        ),
        date: r.date,
        end_date: r.end_date,
        title: r.title.clone(),
        description: r.description.clone(),
    }
}

/// Deletes what hangs off a case: comments, procedures, pages, events, links, shares.
pub fn delete_for_case(c: &mut DbConn, case_id: i64) -> QueryResult<()> {
    diesel::delete(comments::table.filter(comments::case_id.eq(case_id))).execute(c)?;
    diesel::delete(procedures::table.filter(procedures::case_id.eq(case_id))).execute(c)?;
    diesel::delete(pages::table.filter(pages::case_id.eq(case_id))).execute(c)?;
    diesel::delete(custom_events::table.filter(custom_events::case_id.eq(case_id))).execute(c)?;
    diesel::delete(
        case_links::table.filter(
            case_links::case_id
                .eq(case_id)
                .or(case_links::linked_case_id.eq(case_id)),
        ),
    )
    .execute(c)?;
    diesel::delete(shares::table.filter(shares::case_id.eq(case_id))).execute(c)?;
    Ok(())
}

/// Deletes what hangs off an alert: comments and procedures.
pub fn delete_for_alert(c: &mut DbConn, alert_id: i64) -> QueryResult<()> {
    diesel::delete(comments::table.filter(comments::alert_id.eq(alert_id))).execute(c)?;
    diesel::delete(procedures::table.filter(procedures::alert_id.eq(alert_id))).execute(c)?;
    Ok(())
}

/// Forgets the shares and required actions of tasks or observables being deleted.
pub fn delete_for_items(c: &mut DbConn, ids: &[i64]) -> QueryResult<()> {
    for chunk in ids.chunks(500) {
        diesel::delete(shared_items::table.filter(shared_items::entity_id.eq_any(chunk)))
            .execute(c)?;
        diesel::delete(action_required::table.filter(action_required::task_id.eq_any(chunk)))
            .execute(c)?;
    }
    Ok(())
}

/// Copies the procedures of an alert into a case.
pub fn copy_procedures(
    c: &mut DbConn,
    actor: &super::Actor,
    alert_id: i64,
    case_id: i64,
) -> QueryResult<()> {
    let rows: Vec<ProcedureRow> = procedures::table
        .filter(procedures::alert_id.eq(alert_id))
        .order(procedures::id.asc())
        .select(ProcedureRow::as_select())
        .load(c)?;
    let now = crate::db::now_ms();
    for p in rows {
        let row = ProcedureRow {
            id: crate::db::next_id(),
            alert_id: None,
            case_id: Some(case_id),
            created_by: actor.login.clone(),
            created_at: now,
            updated_by: None,
            updated_at: None,
            ..p
        };
        diesel::insert_into(procedures::table)
            .values(&row)
            .execute(c)?;
        crate::audit::created(
            actor,
            crate::audit::ObjectType::Procedure,
            row.id,
            &row,
            Some(crate::audit::Root::Case(case_id)),
        );
    }
    Ok(())
}

/// A checked procedure.
#[derive(Debug, Clone)]
pub struct NewProcedure {
    /// ATT&CK id.
    pub pattern_id: String,
    /// When.
    pub occur_date: i64,
    /// Tactic.
    pub tactic: Option<String>,
    /// Description.
    pub description: Option<String>,
}

impl NewProcedure {
    /// Checks a procedure (`at` prefixes the attribute names in errors: `procedures[2].`);
    /// an unknown pattern is a 404.
    pub fn check(
        input: &shared_models::casework::InputProcedure,
        at: &str,
    ) -> Result<NewProcedure, service_kit::error::ApiError> {
        use service_kit::error::ApiError;
        let f = |n: &str| format!("{at}{n}");
        let pattern_id = input.pattern_id.trim().to_string();
        let pattern = patterns()
            .get(&pattern_id)
            .ok_or_else(|| ApiError::NotFound(format!("Pattern {pattern_id} not found")))?;
        let tactic = match input.tactic.as_deref().map(str::trim) {
            Some(t) if !t.is_empty() => {
                let t = t.to_lowercase().replace(' ', "-");
                if !pattern.tactics.contains(&t) {
                    return Err(ApiError::attribute(
                        &f("tactic"),
                        format!(
                            "{} is not a tactic of {pattern_id} ({})",
                            t,
                            pattern.tactics.join(", ")
                        ),
                    ));
                }
                Some(t)
            }
            _ => None,
        };
        let description = crate::domain::values::opt_text(
            &f("description"),
            input.description.as_deref(),
            crate::domain::values::MAX_DESCRIPTION,
        )?;
        Ok(NewProcedure {
            pattern_id,
            occur_date: input.occur_date,
            tactic,
            description,
        })
    }

    /// Stores it under a case or an alert.
    pub fn insert(
        &self,
        c: &mut DbConn,
        actor: &super::Actor,
        case_id: Option<i64>,
        alert_id: Option<i64>,
    ) -> QueryResult<ProcedureRow> {
        let row = ProcedureRow {
            id: crate::db::next_id(),
            organisation_id: actor.org_id,
            case_id,
            alert_id,
            pattern_id: self.pattern_id.clone(),
            tactic: self.tactic.clone(),
            description: self.description.clone(),
            occur_date: self.occur_date,
            created_by: actor.login.clone(),
            created_at: crate::db::now_ms(),
            updated_by: None,
            updated_at: None,
        };
        diesel::insert_into(procedures::table)
            .values(&row)
            .execute(c)?;
        crate::audit::created(
            actor,
            crate::audit::ObjectType::Procedure,
            row.id,
            &row,
            crate::audit::Root::of(case_id, alert_id),
        );
        Ok(row)
    }
}

/// Most cases one similarity answer lists.
pub const MAX_SIMILAR: usize = 1_000;

/// The cases `who` sees, other than `except`, holding observables it sees like `mine` (rows
/// it sees: same type and value, similarity-ignored ones left out), oldest case first and at
/// most [`MAX_SIMILAR`], each with the observables that matched. A few queries whatever the
/// number of cases.
pub fn cases_holding(
    c: &mut DbConn,
    who: &Actor,
    mine: &[ObservableRow],
    except: Option<i64>,
) -> Result<Vec<(CaseRow, Vec<ObservableRow>)>, ApiError> {
    use std::collections::{BTreeMap, HashMap, HashSet};
    let keys: HashSet<(&str, &str)> = mine
        .iter()
        .filter(|o| !o.ignore_similarity)
        .map(|o| (o.data_type.as_str(), o.data_hash.as_str()))
        .collect();
    let hashes: Vec<String> = keys
        .iter()
        .map(|(_, h)| *h)
        .collect::<HashSet<_>>()
        .into_iter()
        .map(str::to_string)
        .collect();
    let mut matched: BTreeMap<i64, Vec<ObservableRow>> = BTreeMap::new();
    for chunk in hashes.chunks(500) {
        let rows: Vec<ObservableRow> = observables::table
            .filter(observables::data_hash.eq_any(chunk))
            .filter(observables::case_id.is_not_null())
            .filter(observables::ignore_similarity.eq(false))
            .filter(access::visible(Entity::Observable, who, "observables"))
            .order(observables::id.asc())
            .select(ObservableRow::as_select())
            .load(c)?;
        for r in rows {
            if !keys.contains(&(r.data_type.as_str(), r.data_hash.as_str())) {
                continue;
            }
            if let Some(k) = r.case_id.filter(|k| Some(*k) != except) {
                matched.entry(k).or_default().push(r);
            }
        }
    }
    let ids: Vec<i64> = matched.keys().copied().collect();
    let mut seen: HashMap<i64, CaseRow> = HashMap::new();
    for chunk in ids.chunks(500) {
        let rows: Vec<CaseRow> = cases::table
            .filter(cases::id.eq_any(chunk))
            .filter(access::visible(Entity::Case, who, "cases"))
            .select(CaseRow::as_select())
            .load(c)?;
        seen.extend(rows.into_iter().map(|k| (k.id, k)));
    }
    Ok(matched
        .into_iter()
        .filter_map(|(id, found)| Some((seen.remove(&id)?, found)))
        .take(MAX_SIMILAR)
        .collect())
}

/// Cases `who` sees holding observables (that it sees) similar to those it sees of a case or
/// an alert: (case, its similar observables, its visible observable count).
pub fn similar_cases(
    c: &mut DbConn,
    who: &Actor,
    case_id: Option<i64>,
    alert_id: Option<i64>,
) -> Result<Vec<(CaseRow, Vec<ObservableRow>, i64)>, ApiError> {
    use crate::casework::observables::{visible_children, Parent};
    let parent = match (case_id, alert_id) {
        (Some(k), _) => Parent::Case(k),
        (_, Some(a)) => Parent::Alert(a),
        _ => return Ok(Vec::new()),
    };
    let mine = visible_children(c, who, parent)?;
    let found = cases_holding(c, who, &mine, case_id)?;
    let ids: Vec<i64> = found.iter().map(|(k, _)| k.id).collect();
    let mut totals = std::collections::HashMap::new();
    for chunk in ids.chunks(500) {
        let counts: Vec<(Option<i64>, i64)> = observables::table
            .filter(observables::case_id.eq_any(chunk))
            .filter(access::visible(Entity::Observable, who, "observables"))
            .group_by(observables::case_id)
            .select((observables::case_id, diesel::dsl::count_star()))
            .load(c)?;
        totals.extend(counts.into_iter().filter_map(|(k, n)| Some((k?, n))));
    }
    Ok(found
        .into_iter()
        .map(|(k, obs)| {
            let total = totals.get(&k.id).copied().unwrap_or(0);
            (k, obs, total)
        })
        .collect())
}

/// `extraData.links` of a case: `{caseLinks, externalLinks}` (links to cases `who` sees).
pub fn links_of(c: &mut DbConn, who: &Actor, case_id: i64) -> Result<Value, ApiError> {
    let mut rows: Vec<CaseLinkRow> = case_links::table
        .filter(case_links::case_id.eq(case_id))
        .order(case_links::id.asc())
        .select(CaseLinkRow::as_select())
        .load(c)?;
    let linked: Vec<i64> = rows.iter().filter_map(|l| l.linked_case_id).collect();
    let seen = access::visible_ids(c, Entity::Case, who, &linked)?;
    rows.retain(|l| l.linked_case_id.is_none_or(|k| seen.contains(&k)));
    let mut case_links = Vec::new();
    let mut external = Vec::new();
    for l in rows {
        match (l.linked_case_id, l.url) {
            (Some(o), _) => {
                let number: Option<i64> = cases::table.find(o).select(cases::number).first(c).optional()?;
                case_links.push(json!({"caseId": format_id(o), "type": l.link_type, "number": number, "createdBy": l.created_by, "createdAt": l.created_at}));
            }
            (None, Some(u)) => external.push(json!({"url": u, "type": l.link_type, "createdBy": l.created_by, "createdAt": l.created_at})),
            _ => {}
        }
    }
    Ok(json!({"caseLinks": case_links, "externalLinks": external}))
}

/// Attachments held by these entities (cases, alerts, logs, organisations) that `who` sees,
/// rendered.
pub fn attachments_held_by(
    c: &mut DbConn,
    who: &Actor,
    owners: &[i64],
) -> Result<Vec<Value>, ApiError> {
    let mut out = Vec::new();
    for chunk in owners.chunks(500) {
        let rows: Vec<AttachmentRow> = attachments::table
            .filter(attachments::owner_id.eq_any(chunk))
            .filter(access::visible(Entity::Attachment, who, "attachments"))
            .order(attachments::id.asc())
            .select(AttachmentRow::as_select())
            .load(c)?;
        out.extend(
            rows.iter()
                .map(|a| crate::render::to_value(&crate::render::attachment(a))),
        );
    }
    Ok(out)
}

/// Organisations that may be asked to act on a task: the case's owner and the
/// organisations the task is shared with; `{name: required}`.
pub fn required_actions(
    c: &mut DbConn,
    task: &TaskRow,
    viewer: i64,
) -> Result<Map<String, Value>, ApiError> {
    use crate::db::schema::shared_items;
    let owner: i64 = cases::table
        .find(task.case_id)
        .select(cases::organisation_id)
        .first(c)?;
    let mut orgs = vec![owner];
    let shared: Vec<i64> = shared_items::table
        .filter(shared_items::entity_id.eq(task.id))
        .select(shared_items::organisation_id)
        .load(c)?;
    for o in shared {
        // A partner sees the owner and itself, not the case's other partners.
        if !orgs.contains(&o) && (viewer == owner || o == viewer) {
            orgs.push(o);
        }
    }
    let flags: Vec<(i64, bool)> = action_required::table
        .filter(action_required::task_id.eq(task.id))
        .select((action_required::organisation_id, action_required::required))
        .load(c)?;
    let names: Vec<(i64, String)> = organisations::table
        .filter(organisations::id.eq_any(&orgs))
        .select((organisations::id, organisations::name))
        .load(c)?;
    let mut out = Map::new();
    for (id, name) in names {
        let flag = flags
            .iter()
            .find(|(o, _)| *o == id)
            .map(|(_, r)| *r)
            .unwrap_or(false);
        out.insert(name, Value::Bool(flag));
    }
    Ok(out)
}

/// A stored file `who` may download, by `~id` or content hash: the access layer's
/// attachment predicate (a visible holder: observable, log, case, alert, or its
/// organisation).
pub fn downloadable(c: &mut DbConn, who: &Actor, key: &str) -> Result<AttachmentRow, ApiError> {
    let q = attachments::table
        .filter(access::visible(Entity::Attachment, who, "attachments"))
        .select(AttachmentRow::as_select())
        .into_boxed();
    let q = match parse_id(key) {
        Some(id) => q.filter(attachments::id.eq(id)),
        None => q.filter(attachments::sha256.eq(key.to_string())),
    };
    q.order(attachments::id.asc())
        .first(c)
        .optional()?
        .ok_or_else(|| ApiError::NotFound(format!("Attachment {key} not found")))
}

/// The timeline of a case: its dates, its alerts, tasks, logs shown in the timeline,
/// observables, procedures, custom events and its audit trail, oldest first (`{events}`),
/// each through the access layer (a partner sees what is shared with it).
pub fn timeline(c: &mut DbConn, who: &Actor, id: &str) -> Result<Value, ApiError> {
    use crate::db::schema::{alerts, audits, custom_events, logs, observables, procedures, tasks};
    let who = who.clone();
    let k = super::find_case(c, &who, id)?;
    let mut ev = vec![event(
        k.created_at,
        "CaseCreated",
        "Case",
        k.id,
        json!({"title": k.title}),
        None,
    )];
    if let Some(d) = k.closed_date {
        ev.push(event(
            d,
            "CaseClosed",
            "Case",
            k.id,
            json!({"status": k.status}),
            None,
        ));
    }
    // Everything through the access layer: a partner sees what is shared with it.
    let sees = |e: Entity, t: &str| access::visible(e, &who, t);
    let al: Vec<AlertRow> = alerts::table
        .filter(alerts::case_id.eq(k.id))
        .filter(sees(Entity::Alert, "alerts"))
        .select(AlertRow::as_select())
        .load(c)?;
    for a in al {
        ev.push(event(
            a.date,
            "AlertDate",
            "Alert",
            a.id,
            json!({"title": a.title, "source": a.source, "sourceRef": a.source_ref}),
            None,
        ));
    }
    let ts: Vec<TaskRow> = tasks::table
        .filter(tasks::case_id.eq(k.id))
        .filter(sees(Entity::Task, "tasks"))
        .select(TaskRow::as_select())
        .load(c)?;
    for t in &ts {
        ev.push(event(
            t.created_at,
            "TaskCreated",
            "Task",
            t.id,
            json!({"title": t.title, "group": t.group_name}),
            None,
        ));
        if let Some(s) = t.start_date {
            ev.push(event(
                s,
                "TaskStarted",
                "Task",
                t.id,
                json!({"title": t.title}),
                t.end_date,
            ));
        }
        if let (Some(e), "Completed") = (t.end_date, t.status.as_str()) {
            ev.push(event(
                e,
                "TaskCompleted",
                "Task",
                t.id,
                json!({"title": t.title}),
                None,
            ));
        }
    }
    let task_ids: Vec<i64> = ts.iter().map(|t| t.id).collect();
    let ls: Vec<LogRow> = logs::table
        .filter(logs::task_id.eq_any(&task_ids))
        .filter(logs::include_in_timeline.is_not_null())
        .filter(sees(Entity::Log, "logs"))
        .select(LogRow::as_select())
        .load(c)?;
    for l in ls {
        ev.push(event(
            l.include_in_timeline.unwrap_or(l.date),
            "LogInTimeline",
            "Log",
            l.id,
            json!({"message": l.message}),
            None,
        ));
    }
    let os: Vec<ObservableRow> = observables::table
        .filter(observables::case_id.eq(k.id))
        .filter(sees(Entity::Observable, "observables"))
        .select(ObservableRow::as_select())
        .load(c)?;
    for o in os {
        if o.ioc || o.sighted {
            ev.push(event(
                o.sighted_at.unwrap_or(o.created_at),
                if o.sighted {
                    "ObservableSighted"
                } else {
                    "IocCreated"
                },
                "Observable",
                o.id,
                json!({"dataType": o.data_type, "data": o.data}),
                None,
            ));
        }
    }
    let ps: Vec<ProcedureRow> = procedures::table
        .filter(procedures::case_id.eq(k.id))
        .filter(sees(Entity::Procedure, "procedures"))
        .select(ProcedureRow::as_select())
        .load(c)?;
    for p in ps {
        ev.push(event(
            p.occur_date,
            "ProcedureOccurred",
            "Procedure",
            p.id,
            json!({"patternId": p.pattern_id, "tactic": p.tactic}),
            None,
        ));
    }
    let cs: Vec<CustomEventRow> = custom_events::table
        .filter(custom_events::case_id.eq(k.id))
        .filter(sees(Entity::CustomEvent, "custom_events"))
        .select(CustomEventRow::as_select())
        .load(c)?;
    for e in cs {
        ev.push(event(
            e.date,
            "CustomEvent",
            "Custom",
            e.id,
            json!({"title": e.title, "description": e.description}),
            e.end_date,
        ));
    }
    // The audit trail's entries of the case (the newest 1,000 the caller may see).
    let au: Vec<crate::audit::AuditRow> = audits::table
        .filter(audits::root_type.eq("Case"))
        .filter(audits::root_id.eq(k.id))
        .filter(sees(Entity::Audit, "audits"))
        .order((audits::created_at.desc(), audits::id.desc()))
        .limit(1000)
        .select(crate::audit::AuditRow::as_select())
        .load(c)?;
    for a in au {
        let details: Value = serde_json::from_str(&a.details).unwrap_or(json!({}));
        // An entry of its own (entity `Audit`), beside the object's events.
        ev.push(event(
            a.created_at,
            "Audit",
            "Audit",
            a.id,
            json!({"action": a.action, "objectType": a.object_type,
                   "objectId": a.object_id.map(format_id), "mainAction": a.main_action,
                   "by": a.created_by, "requestId": a.request_id, "details": details}),
            None,
        ));
    }
    ev.sort_by_key(|e| e.get("date").and_then(Value::as_i64).unwrap_or(0));
    Ok(json!({ "events": ev }))
}

fn event(date: i64, kind: &str, entity: &str, id: i64, details: Value, end: Option<i64>) -> Value {
    let mut e = json!({
        "date": date,
        "kind": kind,
        "entity": entity,
        "entityId": format_id(id),
        "details": details,
    });
    if let (Some(end), Value::Object(o)) = (end, &mut e) {
        o.insert("endDate".into(), json!(end));
    }
    e
}
