//! Case work: the rules of alerts, cases, observables, tasks, logs and case templates, as
//! synchronous functions over one database connection (each route runs them inside one
//! transaction, so that a failed request leaves nothing half-written). Everything is scoped
//! to the caller's current organisation.

pub mod alerts;
pub mod cases;
pub mod collab;
pub mod custom;
pub mod observables;
pub mod render;
pub mod sql;
pub mod tasks;
pub mod templates;
pub mod values;

use crate::auth::Caller;
use crate::db::casework::*;
use crate::db::schema::{
    alerts as alert_t, case_templates, cases as case_t, logs, observables as obs_t, tasks as task_t,
};
use crate::db::{parse_id, DbConn};
use crate::error::ApiError;
use diesel::prelude::*;

/// What a write needs to know of its author.
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

/// Finds an alert of the organisation by `~id` or `type;source;sourceRef`.
pub fn find_alert(c: &mut DbConn, org: i64, key: &str) -> Result<AlertRow, ApiError> {
    let q = alert_t::table
        .filter(alert_t::organisation_id.eq(org))
        .select(AlertRow::as_select());
    let found = if let Some(id) = parse_id(key) {
        q.filter(alert_t::id.eq(id)).first(c).optional()?
    } else {
        let parts: Vec<&str> = key.splitn(3, ';').collect();
        if parts.len() == 3 {
            q.filter(alert_t::alert_type.eq(parts[0]))
                .filter(alert_t::source.eq(parts[1]))
                .filter(alert_t::source_ref.eq(parts[2]))
                .first(c)
                .optional()?
        } else {
            None
        }
    };
    found.ok_or_else(|| ApiError::NotFound(format!("Alert {key} not found")))
}

/// Whether `who` may see a case: its organisation owns it or it is shared with it, and,
/// when the case is restricted to some users, `who` is one of them.
pub fn can_see_case(c: &mut DbConn, who: &Actor, k: &CaseRow) -> QueryResult<bool> {
    use crate::db::schema::shares;
    if k.access_kind == "UserAccessKind" {
        let users: Vec<String> = k
            .access_users
            .as_deref()
            .and_then(|u| serde_json::from_str(u).ok())
            .unwrap_or_default();
        if !users.contains(&who.login) {
            return Ok(false);
        }
    }
    if k.organisation_id == who.org_id {
        return Ok(true);
    }
    let n: i64 = shares::table
        .filter(shares::case_id.eq(k.id))
        .filter(shares::organisation_id.eq(who.org_id))
        .count()
        .get_result(c)?;
    Ok(n > 0)
}

/// Finds a case visible to `who` by `~id` or number.
pub fn find_case(c: &mut DbConn, who: &Actor, key: &str) -> Result<CaseRow, ApiError> {
    let q = case_t::table.select(CaseRow::as_select());
    let key = key.trim();
    let found = if let Some(id) = parse_id(key) {
        q.filter(case_t::id.eq(id)).first(c).optional()?
    } else if let Ok(n) = key.trim_start_matches('#').parse::<i64>() {
        q.filter(case_t::number.eq(n)).first(c).optional()?
    } else {
        None
    };
    match found {
        Some(k) if can_see_case(c, who, &k)? => Ok(k),
        _ => Err(ApiError::NotFound(format!("Case {key} not found"))),
    }
}

/// Whether a task or an observable (of a case `who` sees) is visible to `who`: owned by its
/// organisation, or shared with it.
pub fn item_shared_with(c: &mut DbConn, who: &Actor, id: i64, owner: i64) -> QueryResult<bool> {
    use crate::db::schema::shared_items;
    if owner == who.org_id {
        return Ok(true);
    }
    let n: i64 = shared_items::table
        .filter(shared_items::entity_id.eq(id))
        .filter(shared_items::organisation_id.eq(who.org_id))
        .count()
        .get_result(c)?;
    Ok(n > 0)
}

/// Whether a task or an observable of a case is visible to `who`: owned by its
/// organisation or shared with it, in a case it may see.
fn can_see_item(
    c: &mut DbConn,
    who: &Actor,
    id: i64,
    owner: i64,
    case_id: Option<i64>,
) -> QueryResult<bool> {
    if !item_shared_with(c, who, id, owner)? {
        return Ok(false);
    }
    match case_id {
        Some(k) => {
            let row: Option<CaseRow> = case_t::table
                .find(k)
                .select(CaseRow::as_select())
                .first(c)
                .optional()?;
            match row {
                Some(row) => can_see_case(c, who, &row),
                None => Ok(false),
            }
        }
        None => Ok(true),
    }
}

/// Finds an observable visible to `who`.
pub fn find_observable(c: &mut DbConn, who: &Actor, key: &str) -> Result<ObservableRow, ApiError> {
    let row: Option<ObservableRow> = match parse_id(key) {
        Some(id) => obs_t::table
            .filter(obs_t::id.eq(id))
            .select(ObservableRow::as_select())
            .first(c)
            .optional()?,
        None => None,
    };
    match row {
        Some(o) if can_see_item(c, who, o.id, o.organisation_id, o.case_id)? => Ok(o),
        _ => Err(ApiError::NotFound(format!("Observable {key} not found"))),
    }
}

/// Finds a task visible to `who`.
pub fn find_task(c: &mut DbConn, who: &Actor, key: &str) -> Result<TaskRow, ApiError> {
    let row: Option<TaskRow> = match parse_id(key) {
        Some(id) => task_t::table
            .filter(task_t::id.eq(id))
            .select(TaskRow::as_select())
            .first(c)
            .optional()?,
        None => None,
    };
    match row {
        Some(t) if can_see_item(c, who, t.id, t.organisation_id, Some(t.case_id))? => Ok(t),
        _ => Err(ApiError::NotFound(format!("Task {key} not found"))),
    }
}

/// Finds a task log visible to `who` (through its task).
pub fn find_log(c: &mut DbConn, who: &Actor, key: &str) -> Result<LogRow, ApiError> {
    let row: Option<LogRow> = match parse_id(key) {
        Some(id) => logs::table
            .filter(logs::id.eq(id))
            .select(LogRow::as_select())
            .first(c)
            .optional()?,
        None => None,
    };
    if let Some(l) = row {
        if find_task(c, who, &crate::db::format_id(l.task_id)).is_ok() {
            return Ok(l);
        }
    }
    Err(ApiError::NotFound(format!("Log {key} not found")))
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

/// As [`check_share_permission`], for something of the case `case_id`.
pub fn check_write(
    c: &mut DbConn,
    who: &Actor,
    case_id: i64,
    permission: &str,
) -> Result<(), ApiError> {
    let k: CaseRow = case_t::table
        .find(case_id)
        .select(CaseRow::as_select())
        .first(c)?;
    check_share_permission(c, who, &k, permission)
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

/// Finds a case template of the organisation by `~id` or name.
pub fn find_template(c: &mut DbConn, org: i64, key: &str) -> Result<CaseTemplateRow, ApiError> {
    let q = case_templates::table
        .filter(case_templates::organisation_id.eq(org))
        .select(CaseTemplateRow::as_select());
    let found = match parse_id(key) {
        Some(id) => q.filter(case_templates::id.eq(id)).first(c).optional()?,
        None => q.filter(case_templates::name.eq(key)).first(c).optional()?,
    };
    found.ok_or_else(|| ApiError::NotFound(format!("CaseTemplate {key} not found")))
}

/// Checks that a login may be assigned work in the organisation.
pub fn check_assignee(c: &mut DbConn, org: i64, login: &str) -> Result<String, ApiError> {
    use crate::db::schema::{memberships, users};
    let login = login.trim().to_lowercase();
    let found: Option<i64> = users::table
        .inner_join(memberships::table.on(memberships::user_id.eq(users::id)))
        .filter(users::login.eq(&login))
        .filter(memberships::organisation_id.eq(org))
        .select(users::id)
        .first(c)
        .optional()?;
    match found {
        Some(_) => Ok(login),
        None => Err(ApiError::NotFound(format!(
            "User {login} not found in the organisation"
        ))),
    }
}
