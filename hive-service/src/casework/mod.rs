//! Case work: the rules of alerts, cases, observables, tasks, logs and case templates, as
//! synchronous functions over one database connection (each route runs them inside one
//! transaction, so that a failed request leaves nothing half-written). Everything is scoped
//! to the caller's current organisation.

pub mod alerts;
pub mod cases;
pub mod collab;
pub mod custom;
pub mod fields;
pub mod observables;
pub mod shares;
pub mod sql;
pub mod tasks;
pub mod templates;

use crate::db::casework::*;
use crate::db::schema::{
    alerts as alert_t, case_templates, cases as case_t, logs, observables as obs_t, tasks as task_t,
};
use crate::db::{parse_id, DbConn};
use diesel::prelude::*;
use service_kit::error::ApiError;

use crate::access::{self, Entity};
pub use crate::access::{check_share_permission, check_write, require_owner, Actor};

/// Finds an alert of the organisation by `~id` or `type;source;sourceRef`.
pub fn find_alert(c: &mut DbConn, org: i64, key: &str) -> Result<AlertRow, ApiError> {
    let q = alert_t::table
        .filter(access::in_organisation(org, "alerts"))
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

/// Whether `who` may see a case (the access layer's case predicate).
pub fn can_see_case(c: &mut DbConn, who: &Actor, k: &CaseRow) -> QueryResult<bool> {
    access::sees(c, Entity::Case, who, k.id)
}

/// Finds a case visible to `who` by `~id` or number.
pub fn find_case(c: &mut DbConn, who: &Actor, key: &str) -> Result<CaseRow, ApiError> {
    let q = case_t::table
        .filter(access::visible(Entity::Case, who, "cases"))
        .select(CaseRow::as_select());
    let key = key.trim();
    let found = if let Some(id) = parse_id(key) {
        q.filter(case_t::id.eq(id)).first(c).optional()?
    } else if let Ok(n) = key.trim_start_matches('#').parse::<i64>() {
        q.filter(case_t::number.eq(n)).first(c).optional()?
    } else {
        None
    };
    found.ok_or_else(|| ApiError::NotFound(format!("Case {key} not found")))
}

/// Whether an observable is visible to `who` (the access layer's observable predicate).
pub fn observable_visible(c: &mut DbConn, who: &Actor, id: i64) -> QueryResult<bool> {
    access::sees(c, Entity::Observable, who, id)
}

/// Finds an observable visible to `who`.
pub fn find_observable(c: &mut DbConn, who: &Actor, key: &str) -> Result<ObservableRow, ApiError> {
    let row: Option<ObservableRow> = match parse_id(key) {
        Some(id) => obs_t::table
            .filter(obs_t::id.eq(id))
            .filter(access::visible(Entity::Observable, who, "observables"))
            .select(ObservableRow::as_select())
            .first(c)
            .optional()?,
        None => None,
    };
    row.ok_or_else(|| ApiError::NotFound(format!("Observable {key} not found")))
}

/// Finds a task visible to `who`.
pub fn find_task(c: &mut DbConn, who: &Actor, key: &str) -> Result<TaskRow, ApiError> {
    let row: Option<TaskRow> = match parse_id(key) {
        Some(id) => task_t::table
            .filter(task_t::id.eq(id))
            .filter(access::visible(Entity::Task, who, "tasks"))
            .select(TaskRow::as_select())
            .first(c)
            .optional()?,
        None => None,
    };
    row.ok_or_else(|| ApiError::NotFound(format!("Task {key} not found")))
}

/// Finds a task log visible to `who` (through its task).
pub fn find_log(c: &mut DbConn, who: &Actor, key: &str) -> Result<LogRow, ApiError> {
    let row: Option<LogRow> = match parse_id(key) {
        Some(id) => logs::table
            .filter(logs::id.eq(id))
            .filter(access::visible(Entity::Log, who, "logs"))
            .select(LogRow::as_select())
            .first(c)
            .optional()?,
        None => None,
    };
    row.ok_or_else(|| ApiError::NotFound(format!("Log {key} not found")))
}

/// Finds a case template of the organisation by `~id` or name.
pub fn find_template(c: &mut DbConn, org: i64, key: &str) -> Result<CaseTemplateRow, ApiError> {
    let q = case_templates::table
        .filter(access::in_organisation(org, "case_templates"))
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
