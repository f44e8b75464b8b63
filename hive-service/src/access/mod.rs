//! The access layer: what a caller may see and do, decided in one place.
//!
//! Visibility is one SQL predicate per entity kind ([`visible`]): the rows of that kind a
//! user acting in an organisation may see. Every reader uses it: the finders of
//! [`crate::casework`], the Query API's SQL selections and traversals (and, after every
//! step, [`visible_ids`] on what a step produced), the renderers' counts, exports,
//! timelines, similarity, downloads and the Cortex connector. A path that reads case work
//! without it is a bug the access-matrix test (tests/python/v2/test_access_matrix.py) finds.
//!
//! The rules, as TheHive's:
//! - a case is seen by its organisation and by the organisations it is shared with, and,
//!   when restricted to named users (`UserAccessKind`), only by those users;
//! - a task or an observable of a case is seen by those who see the case, when their
//!   organisation owns the case or the item, or the item is shared with it; an observable of
//!   an alert by the alert's organisation; a log through its task;
//! - comments, procedures, pages and custom events of a case by those who see the case; of
//!   an alert by the alert's organisation;
//! - a stored file by those who see one of its holders (observable, log, case, alert, or
//!   their organisation for its own files);
//! - an analyzer job or a responder action by those who see the object it ran on;
//! - a share of a case by the case's organisation, and by the organisation it is with.
//!
//! Who may act on which account is [`accounts`]; what a share lets a partner change is
//! [`check_share_permission`].

pub mod accounts;

use crate::auth::Caller;
use crate::db::casework::CaseRow;
use crate::db::raw::{like_escape, Bind, Cond, IdRow, Sql};
use crate::db::DbConn;
use diesel::prelude::*;
use service_kit::error::ApiError;
use std::collections::HashSet;

/// Who acts: a user in one organisation (a request's caller, or the user a Cortex job runs
/// for).
#[derive(Debug, Clone)]
pub struct Actor {
    /// Login, recorded in `_createdBy`/`_updatedBy`.
    pub login: String,
    /// Organisation acted in.
    pub org_id: i64,
    /// Its name.
    pub org_name: String,
}

impl Actor {
    /// The actor of a request.
    pub fn of(caller: &Caller) -> Actor {
        Actor {
            login: caller.login().to_string(),
            org_id: caller.organisation.id,
            org_name: caller.organisation.name.clone(),
        }
    }
}

/// The kinds of entity the access layer decides on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    /// Alerts.
    Alert,
    /// Cases.
    Case,
    /// Observables of cases and alerts.
    Observable,
    /// Tasks.
    Task,
    /// Task logs.
    Log,
    /// Comments of cases and alerts.
    Comment,
    /// Procedures (TTPs) of cases and alerts.
    Procedure,
    /// Pages of cases.
    Page,
    /// Page templates of the organisation.
    PageTemplate,
    /// Custom events of case timelines.
    CustomEvent,
    /// Stored files (attachments rows).
    Attachment,
    /// Shares of cases.
    Share,
    /// Analyzer jobs and responder actions.
    CortexJob,
    /// Case templates.
    CaseTemplate,
    /// Audit records.
    Audit,
}

impl Entity {
    /// The table holding this kind.
    pub fn table(self) -> &'static str {
        match self {
            Entity::Alert => "alerts",
            Entity::Case => "cases",
            Entity::Observable => "observables",
            Entity::Task => "tasks",
            Entity::Log => "logs",
            Entity::Comment => "comments",
            Entity::Procedure => "procedures",
            Entity::Page | Entity::PageTemplate => "pages",
            Entity::CustomEvent => "custom_events",
            Entity::Attachment => "attachments",
            Entity::Share => "shares",
            Entity::CortexJob => "cortex_jobs",
            Entity::CaseTemplate => "case_templates",
            Entity::Audit => "audits",
        }
    }
}

/// The rows of `entity`, in the table named (or aliased) `t`, that `who` may see.
///
/// Every test on a related row is written `column IN (SELECT id FROM table WHERE ...)` with
/// an uncorrelated subquery: the databases then compute each set once per statement (or look
/// rows up one by one when that is cheaper) instead of running a nested subquery per row.
pub fn visible(entity: Entity, who: &Actor, t: &str) -> Cond {
    match entity {
        Entity::Alert | Entity::CaseTemplate => owned(who, t),
        Entity::Case => case(who, t),
        Entity::Observable => observable(who, t),
        Entity::Task => task(who, t),
        Entity::Log => log(who, t),
        Entity::Comment | Entity::Procedure => case_or_alert_child(who, t),
        Entity::Page => Cond::default()
            .sql(&format!("{t}.case_id IS NOT NULL AND "))
            .cond(in_visible_case(who, t, "case_id")),
        Entity::PageTemplate => Cond::default()
            .sql(&format!("{t}.case_id IS NULL AND "))
            .cond(owned(who, t)),
        Entity::CustomEvent => in_visible_case(who, t, "case_id"),
        Entity::Attachment => attachment(who, t),
        Entity::Share => {
            // The owner sees every share of its case; a partner only its own.
            let o = format!("{t}_o");
            Cond::default()
                .cond(in_visible_case(who, t, "case_id"))
                .sql(&format!(" AND ({t}.organisation_id = "))
                .int(who.org_id)
                .sql(&format!(
                    " OR {t}.case_id IN (SELECT {o}.id FROM cases {o} WHERE {o}.organisation_id = "
                ))
                .int(who.org_id)
                .sql("))")
        }
        Entity::CortexJob => cortex_job(who, t),
        Entity::Audit => audit(who, t),
    }
}

/// An audit record: of a case `who` sees, when their organisation owns the case or did the
/// change, or the record is about the case itself or an item shared with them (a log
/// through its task); of an alert of their organisation; else (accounts, settings) of their
/// organisation.
fn audit(who: &Actor, t: &str) -> Cond {
    let (o, i, l) = (format!("{t}_o"), format!("{t}_i"), format!("{t}_l"));
    let a = format!("{t}_a");
    Cond::default()
        .sql(&format!("(({t}.root_type = 'Case' AND "))
        .cond(in_visible_case(who, t, "root_id"))
        .sql(&format!(" AND ({t}.organisation_id = "))
        .int(who.org_id)
        .sql(" OR ")
        .cond(among(
            &format!("{t}.root_id"),
            "cases",
            &o,
            "id",
            owned(who, &o),
        ))
        .sql(&format!(" OR {t}.object_type IN ('Case', 'Share') OR "))
        .cond(among(
            &format!("{t}.object_id"),
            "shared_items",
            &i,
            "entity_id",
            owned(who, &i),
        ))
        .sql(" OR ")
        .cond(among(
            &format!("{t}.object_id"),
            "logs",
            &l,
            "id",
            log(who, &l),
        ))
        .sql(&format!(")) OR ({t}.root_type = 'Alert' AND "))
        .cond(among(
            &format!("{t}.root_id"),
            "alerts",
            &a,
            "id",
            owned(who, &a),
        ))
        .sql(&format!(") OR ({t}.root_type IS NULL AND "))
        .cond(owned(who, t))
        .sql("))")
}

fn owned(who: &Actor, t: &str) -> Cond {
    in_organisation(who.org_id, t)
}

/// The rows, in the table named (or aliased) `t`, of a kind that only its own organisation
/// sees (alerts, case templates) for the members of `org_id`: what [`visible`] decides for
/// these kinds, for finders that know the organisation acted in but not the user.
pub fn in_organisation(org_id: i64, t: &str) -> Cond {
    Cond::default()
        .sql(&format!("{t}.organisation_id = "))
        .int(org_id)
}

/// `expr IN (SELECT <alias>.<column> FROM <table> <alias> WHERE <rows>)`.
fn among(expr: &str, table: &str, alias: &str, column: &str, rows: Cond) -> Cond {
    Cond::default()
        .sql(&format!(
            "{expr} IN (SELECT {alias}.{column} FROM {table} {alias} WHERE "
        ))
        .cond(rows)
        .sql(")")
}

/// A case: owned by or shared with the organisation, and not restricted to other users.
fn case(who: &Actor, t: &str) -> Cond {
    let s = format!("{t}_s");
    let login = format!(
        "%{}%",
        like_escape(&serde_json::to_string(&who.login).unwrap_or_default())
    );
    let shared = Cond::default()
        .sql(&format!("{s}.organisation_id = "))
        .int(who.org_id);
    Cond::default()
        .sql(&format!("({t}.organisation_id = "))
        .int(who.org_id)
        .sql(" OR ")
        .cond(among(&format!("{t}.id"), "shares", &s, "case_id", shared))
        .sql(&format!(
            ") AND ({t}.access_kind <> 'UserAccessKind' OR {t}.access_users LIKE "
        ))
        .text(&login)
        .sql(" ESCAPE '\\')")
}

/// `t.<column>` is a case `who` sees.
fn in_visible_case(who: &Actor, t: &str, column: &str) -> Cond {
    let k = format!("{t}_k");
    among(&format!("{t}.{column}"), "cases", &k, "id", case(who, &k))
}

/// Whose a task or an observable is: the organisation owns it or its case, or it is shared
/// with the organisation.
fn held(who: &Actor, t: &str) -> Cond {
    let (i, o) = (format!("{t}_i"), format!("{t}_o"));
    Cond::default()
        .cond(owned(who, t))
        .sql(" OR ")
        .cond(among(
            &format!("{t}.id"),
            "shared_items",
            &i,
            "entity_id",
            owned(who, &i),
        ))
        .sql(" OR ")
        .cond(among(
            &format!("{t}.case_id"),
            "cases",
            &o,
            "id",
            owned(who, &o),
        ))
}

/// A task: held by the organisation (see [`held`]), in a case it sees.
fn task(who: &Actor, t: &str) -> Cond {
    Cond::default()
        .cond(held(who, t))
        .sql(" AND ")
        .cond(in_visible_case(who, t, "case_id"))
}

/// An observable: of an alert of the organisation, or held by it in a case it sees.
fn observable(who: &Actor, t: &str) -> Cond {
    Cond::default()
        .cond(held(who, t))
        .sql(&format!(" AND ({t}.case_id IS NULL OR "))
        .cond(in_visible_case(who, t, "case_id"))
        .sql(")")
}

/// A log: of a task `who` sees.
fn log(who: &Actor, t: &str) -> Cond {
    let k = format!("{t}_t");
    among(&format!("{t}.task_id"), "tasks", &k, "id", task(who, &k))
}

/// A comment or a procedure: of a visible case, or of an alert of the organisation.
fn case_or_alert_child(who: &Actor, t: &str) -> Cond {
    let a = format!("{t}_a");
    Cond::default()
        .sql(&format!("({t}.case_id IS NOT NULL AND "))
        .cond(in_visible_case(who, t, "case_id"))
        .sql(&format!(") OR ({t}.case_id IS NULL AND "))
        .cond(among(
            &format!("{t}.alert_id"),
            "alerts",
            &a,
            "id",
            owned(who, &a),
        ))
        .sql(")")
}

/// A stored file: held by a visible observable, log, case or alert, or by the organisation.
fn attachment(who: &Actor, t: &str) -> Cond {
    let (o, l, a) = (format!("{t}_o"), format!("{t}_l"), format!("{t}_a"));
    let held_file = Cond::default()
        .sql(&format!("{o}.attachment_id IS NOT NULL AND "))
        .cond(observable(who, &o));
    Cond::default()
        .sql(&format!("({t}.owner_id = "))
        .int(who.org_id)
        .sql(&format!(" AND {t}.organisation_id = "))
        .int(who.org_id)
        .sql(") OR ")
        .cond(in_visible_case(who, t, "owner_id"))
        .sql(" OR ")
        .cond(among(
            &format!("{t}.owner_id"),
            "alerts",
            &a,
            "id",
            owned(who, &a),
        ))
        .sql(" OR ")
        .cond(among(
            &format!("{t}.owner_id"),
            "logs",
            &l,
            "id",
            log(who, &l),
        ))
        .sql(" OR ")
        .cond(among(
            &format!("{t}.id"),
            "observables",
            &o,
            "attachment_id",
            held_file,
        ))
}

/// A job or an action: on an object `who` sees.
fn cortex_job(who: &Actor, t: &str) -> Cond {
    let on = |kind: &str, table: &str, e: Entity| {
        let x = format!("{t}_{}", &table[..1]);
        Cond::default()
            .sql(&format!("{t}.object_type = '{kind}' AND "))
            .cond(among(
                &format!("{t}.object_id"),
                table,
                &x,
                "id",
                visible(e, who, &x),
            ))
    };
    Cond::default()
        .cond(on("case_artifact", "observables", Entity::Observable))
        .sql(" OR ")
        .cond(on("case", "cases", Entity::Case))
        .sql(" OR ")
        .cond(on("case_task", "tasks", Entity::Task))
        .sql(" OR ")
        .cond(on("case_task_log", "logs", Entity::Log))
        .sql(" OR ")
        .cond(on("alert", "alerts", Entity::Alert))
}

/// The ids among `ids` of `entity` that `who` may see.
pub fn visible_ids(
    c: &mut DbConn,
    entity: Entity,
    who: &Actor,
    ids: &[i64],
) -> QueryResult<HashSet<i64>> {
    let pg = matches!(c, DbConn::Postgresql(_));
    let table = entity.table();
    let mut out = HashSet::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let mut q = Sql::new(pg);
        q.push(&format!(
            "SELECT {table}.id AS id FROM {table} WHERE {table}.id IN ("
        ));
        for (n, id) in chunk.iter().enumerate() {
            if n > 0 {
                q.push(", ");
            }
            q.bind(Bind::I(*id));
        }
        q.push(") AND ");
        visible(entity, who, table).write(&mut q);
        out.extend(q.load::<IdRow>(c)?.into_iter().map(|r| r.id));
    }
    Ok(out)
}

/// Whether `who` may see the `entity` with this id.
pub fn sees(c: &mut DbConn, entity: Entity, who: &Actor, id: i64) -> QueryResult<bool> {
    Ok(visible_ids(c, entity, who, &[id])?.contains(&id))
}

/// 403 unless `who`'s organisation owns the case (deleting, merging, sharing it).
pub fn require_owner(who: &Actor, k: &CaseRow, what: &str) -> Result<(), ApiError> {
    if k.organisation_id == who.org_id {
        Ok(())
    } else {
        Err(ApiError::Authorization(format!(
            "only the organisation owning the case {what}"
        )))
    }
}

/// Checks a write on a case by an organisation it is shared with: the share's profile must
/// grant `permission` (the owner's members are checked by their own profile).
pub fn check_share_permission(
    c: &mut DbConn,
    who: &Actor,
    case: &CaseRow,
    permission: &str,
) -> Result<(), ApiError> {
    use crate::db::schema::{profiles, shares};
    if case.organisation_id == who.org_id {
        return Ok(());
    }
    let perms: Option<String> = shares::table
        .inner_join(profiles::table.on(profiles::id.eq(shares::profile_id)))
        .filter(shares::case_id.eq(case.id))
        .filter(shares::organisation_id.eq(who.org_id))
        .select(profiles::permissions)
        .first(c)
        .optional()?;
    let perms: Vec<String> = perms
        .and_then(|p| serde_json::from_str(&p).ok())
        .unwrap_or_default();
    if crate::domain::permissions::grants(&perms, permission) {
        Ok(())
    } else {
        Err(ApiError::Authorization(format!(
            "The case is shared with {} under a profile without {permission}",
            who.org_name
        )))
    }
}

/// As [`check_share_permission`], for something of the case `case_id`.
pub fn check_write(
    c: &mut DbConn,
    who: &Actor,
    case_id: i64,
    permission: &str,
) -> Result<(), ApiError> {
    use crate::db::schema::cases;
    let k: CaseRow = cases::table
        .find(case_id)
        .select(CaseRow::as_select())
        .first(c)?;
    check_share_permission(c, who, &k, permission)
}
