//! Tasks and task logs.

use super::observables::NewFile;
use super::Actor;
use super::{find_log, find_task};
use crate::audit::{self, ObjectType, Root};
use crate::db::casework::AttachmentRow;
use crate::db::casework::{LogRow, TaskRow};
use crate::db::schema::{attachments, logs, tasks};
use crate::db::{next_id, now_ms, DbConn};
use crate::domain::values::{self, Patch, TASK_STATUSES};
use diesel::prelude::*;
use serde_json::Value;
use service_kit::body::Upload;
use service_kit::error::ApiError;
use shared_models::casework::InputLog;
use shared_models::casework::{InputTask, OutputTask};

/// Checks the tasks of a new case (`tasks[i].` in errors), at most 1,000.
pub fn check_list(inputs: Option<&[InputTask]>) -> Result<Vec<InputTask>, ApiError> {
    let inputs = inputs.unwrap_or_default();
    if inputs.len() > 1000 {
        return Err(ApiError::attribute("tasks", "at most 1000 tasks"));
    }
    inputs
        .iter()
        .enumerate()
        .map(|(i, t)| check(t, &format!("tasks[{i}].")))
        .collect()
}

/// Checks a task input (`at` prefixes attribute names, e.g. `tasks[2].`).
pub fn check(input: &InputTask, at: &str) -> Result<InputTask, ApiError> {
    let f = |n: &str| format!("{at}{n}");
    let status = match input.status.as_deref() {
        Some(s) => values::one_of(&f("status"), s, TASK_STATUSES)?,
        None => "Waiting".into(),
    };
    Ok(InputTask {
        title: values::text(&f("title"), &input.title, 128)?,
        group: Some(
            values::opt_text(&f("group"), input.group.as_deref(), 128)?
                .unwrap_or_else(|| "default".into()),
        ),
        description: values::opt_text(
            &f("description"),
            input.description.as_deref(),
            values::MAX_DESCRIPTION,
        )?,
        status: Some(status),
        flag: Some(input.flag.unwrap_or(false)),
        start_date: input.start_date,
        end_date: input.end_date,
        order: Some(input.order.unwrap_or(0)),
        due_date: input.due_date,
        assignee: input.assignee.clone().filter(|a| !a.trim().is_empty()),
        mandatory: Some(input.mandatory.unwrap_or(false)),
    })
}

/// Creates a task in a case from a checked input.
pub fn insert(
    c: &mut DbConn,
    actor: &Actor,
    case_id: i64,
    t: &InputTask,
) -> Result<TaskRow, ApiError> {
    let assignee = match &t.assignee {
        Some(a) => Some(super::check_assignee(c, actor.org_id, a)?),
        None => None,
    };
    let now = now_ms();
    let status = t.status.clone().unwrap_or_else(|| "Waiting".into());
    let row = TaskRow {
        id: next_id(),
        case_id,
        organisation_id: actor.org_id,
        title: t.title.clone(),
        group_name: t.group.clone().unwrap_or_else(|| "default".into()),
        description: t.description.clone(),
        start_date: t
            .start_date
            .or((status == "InProgress" || status == "Completed").then_some(now)),
        end_date: t.end_date.or((status == "Completed").then_some(now)),
        status,
        flag: t.flag.unwrap_or(false),
        task_order: t.order.unwrap_or(0),
        due_date: t.due_date,
        assignee,
        mandatory: t.mandatory.unwrap_or(false),
        created_by: actor.login.clone(),
        created_at: now,
        updated_by: None,
        updated_at: None,
    };
    diesel::insert_into(tasks::table).values(&row).execute(c)?;
    crate::casework::shares::auto_share(c, case_id, row.id, true)?;
    audit::created(
        actor,
        ObjectType::Task,
        row.id,
        &row,
        Some(Root::Case(case_id)),
    );
    Ok(row)
}

/// A template task as stored in the template (rendered once, at template creation).
pub fn template_task(actor: &Actor, t: &InputTask) -> OutputTask {
    OutputTask {
        meta: shared_models::casework::Meta {
            id: crate::db::format_id(next_id()),
            kind: "Task".into(),
            created_by: actor.login.clone(),
            created_at: now_ms(),
            updated_by: None,
            updated_at: None,
        },
        title: t.title.clone(),
        group: t.group.clone().unwrap_or_else(|| "default".into()),
        description: t.description.clone(),
        status: t.status.clone().unwrap_or_else(|| "Waiting".into()),
        flag: t.flag.unwrap_or(false),
        start_date: t.start_date,
        end_date: t.end_date,
        assignee: t.assignee.clone(),
        order: t.order.unwrap_or(0),
        due_date: t.due_date,
        mandatory: t.mandatory.unwrap_or(false),
        extra_data: Default::default(),
    }
}

/// A template's task back as an input.
pub fn as_input(t: &OutputTask) -> InputTask {
    InputTask {
        title: t.title.clone(),
        group: Some(t.group.clone()),
        description: t.description.clone(),
        status: Some(t.status.clone()),
        flag: Some(t.flag),
        start_date: t.start_date,
        end_date: t.end_date,
        order: Some(t.order),
        due_date: t.due_date,
        assignee: t.assignee.clone(),
        mandatory: Some(t.mandatory),
    }
}

/// Applies a PATCH body to a task.
pub fn apply_patch(
    c: &mut DbConn,
    actor: &Actor,
    t: &mut TaskRow,
    p: &Patch<'_>,
) -> Result<(), ApiError> {
    let before = t.clone();
    let org = actor.org_id;
    let now = now_ms();
    if let Some(v) = p.string("title")? {
        t.title = values::text("title", v, 128)?;
    }
    if let Some(v) = p.string("group")? {
        t.group_name = values::text("group", v, 128)?;
    }
    if let Some(v) = p.nullable_string("description")? {
        t.description = values::opt_text("description", v, values::MAX_DESCRIPTION)?;
    }
    if let Some(v) = p.string("status")? {
        let s = values::one_of("status", v, TASK_STATUSES)?;
        if s == "InProgress" && t.start_date.is_none() {
            t.start_date = Some(now);
        }
        if s == "Completed" && t.end_date.is_none() {
            t.end_date = Some(now);
        }
        t.status = s;
    }
    if let Some(v) = p.bool("flag")? {
        t.flag = v;
    }
    if let Some(v) = p.nullable_int("startDate")? {
        t.start_date = v;
    }
    if let Some(v) = p.nullable_int("endDate")? {
        t.end_date = v;
    }
    if let Some(v) = p.int("order")? {
        t.task_order = v;
    }
    if let Some(v) = p.nullable_int("dueDate")? {
        t.due_date = v;
    }
    if let Some(v) = p.nullable_string("assignee")? {
        t.assignee = match v.map(str::trim).filter(|s| !s.is_empty()) {
            Some(a) => Some(super::check_assignee(c, org, a)?),
            None => None,
        };
    }
    if let Some(v) = p.bool("mandatory")? {
        t.mandatory = v;
    }
    audit::updated(
        actor,
        ObjectType::Task,
        t.id,
        &before,
        &*t,
        Some(Root::Case(t.case_id)),
    );
    Ok(())
}

/// The tasks of a case, in TheHive's order (group, order, creation).
pub fn of_case(c: &mut DbConn, case_id: i64) -> QueryResult<Vec<TaskRow>> {
    tasks::table
        .filter(tasks::case_id.eq(case_id))
        .order(tasks::id.asc())
        .select(TaskRow::as_select())
        .load(c)
}

/// Deletes a task `actor` may change, with its logs.
pub fn remove_task(c: &mut DbConn, actor: &Actor, t: &TaskRow) -> QueryResult<()> {
    let mut details = serde_json::Map::new();
    details.insert("title".into(), t.title.clone().into());
    audit::deleted(
        actor,
        ObjectType::Task,
        t.id,
        details,
        Some(Root::Case(t.case_id)),
    );
    delete(c, &[t.id])
}

/// Deletes a log `actor` may change.
pub fn remove_log(c: &mut DbConn, actor: &Actor, l: &LogRow) -> QueryResult<()> {
    let case_id: i64 = tasks::table
        .find(l.task_id)
        .select(tasks::case_id)
        .first(c)?;
    audit::deleted(
        actor,
        ObjectType::Log,
        l.id,
        serde_json::Map::new(),
        Some(Root::Case(case_id)),
    );
    delete_logs(c, &[l.id])
}

/// Deletes tasks with their logs and the logs' attachment rows.
pub fn delete(c: &mut DbConn, task_ids: &[i64]) -> QueryResult<()> {
    for chunk in task_ids.chunks(500) {
        let log_ids: Vec<i64> = logs::table
            .filter(logs::task_id.eq_any(chunk))
            .select(logs::id)
            .load(c)?;
        delete_logs(c, &log_ids)?;
        diesel::delete(tasks::table.filter(tasks::id.eq_any(chunk))).execute(c)?;
        super::collab::delete_for_items(c, chunk)?;
    }
    Ok(())
}

/// Deletes logs and their attachment rows.
pub fn delete_logs(c: &mut DbConn, log_ids: &[i64]) -> QueryResult<()> {
    for chunk in log_ids.chunks(500) {
        diesel::delete(attachments::table.filter(attachments::owner_id.eq_any(chunk)))
            .execute(c)?;
        diesel::delete(logs::table.filter(logs::id.eq_any(chunk))).execute(c)?;
    }
    Ok(())
}

/// Creates a log in a task.
pub fn insert_log(
    c: &mut DbConn,
    actor: &Actor,
    task: &TaskRow,
    message: String,
    date: Option<i64>,
    include_in_timeline: Option<i64>,
) -> QueryResult<LogRow> {
    let now = now_ms();
    let row = LogRow {
        id: next_id(),
        task_id: task.id,
        organisation_id: actor.org_id,
        message,
        date: date.unwrap_or(now),
        owner: actor.login.clone(),
        include_in_timeline,
        created_by: actor.login.clone(),
        created_at: now,
        updated_by: None,
        updated_at: None,
    };
    diesel::insert_into(logs::table).values(&row).execute(c)?;
    audit::created(
        actor,
        ObjectType::Log,
        row.id,
        &row,
        Some(Root::Case(task.case_id)),
    );
    Ok(row)
}

/// Adds a log with its files to the task `key`; a waiting task starts.
pub fn add_log(
    c: &mut DbConn,
    actor: &Actor,
    key: &str,
    message: String,
    input: &InputLog,
    files: &[NewFile],
) -> Result<LogRow, ApiError> {
    let mut t = find_task(c, actor, key)?;
    crate::casework::check_write(c, actor, t.case_id, "manageTask")?;
    let l = insert_log(
        c,
        actor,
        &t,
        message,
        input.start_date,
        input.include_in_timeline,
    )?;
    store_attachments(c, actor, l.id, files)?;
    if t.status == "Waiting" {
        let before = t.clone();
        t.status = "InProgress".into();
        t.start_date = t.start_date.or(Some(now_ms()));
        diesel::update(tasks::table.find(t.id)).set(&t).execute(c)?;
        audit::updated(
            actor,
            ObjectType::Task,
            t.id,
            &before,
            &t,
            Some(Root::Case(t.case_id)),
        );
    }
    Ok(l)
}

/// The input of a new log (JSON, or multipart `_json` and files): the request, its checked
/// message and its files.
pub fn log_input(body: &Upload) -> Result<(InputLog, String, Vec<NewFile>), ApiError> {
    let input: InputLog = body.parse()?;
    let message = values::long_text("message", &input.message, values::MAX_DESCRIPTION)?;
    if message.trim().is_empty() {
        return Err(ApiError::attribute("message", "must not be empty"));
    }
    let files = body.files.iter().map(NewFile::from).collect();
    Ok((input, message, files))
}

pub fn update_one(
    c: &mut DbConn,
    actor: &Actor,
    key: &str,
    body: &Value,
    strict: Option<&[&str]>,
) -> Result<crate::db::casework::TaskRow, ApiError> {
    let mut t = find_task(c, actor, key)?;
    crate::casework::check_write(c, actor, t.case_id, "manageTask")?;
    let p = Patch::new(body)?;
    apply_patch(c, actor, &mut t, &p)?;
    if let Some(rendered) = strict {
        p.finish(rendered)?;
    }
    t.updated_by = Some(actor.login.clone());
    t.updated_at = Some(now_ms());
    diesel::update(tasks::table.find(t.id)).set(&t).execute(c)?;
    Ok(t)
}

/// The log `key`, once `who` may change the logs of its case.
pub fn writable_log(c: &mut DbConn, who: &Actor, key: &str) -> Result<LogRow, ApiError> {
    let l = find_log(c, who, key)?;
    let case_id: i64 = tasks::table
        .find(l.task_id)
        .select(tasks::case_id)
        .first(c)?;
    crate::casework::check_write(c, who, case_id, "manageTask")?;
    Ok(l)
}

pub fn store_attachments(
    c: &mut DbConn,
    actor: &Actor,
    owner: i64,
    files: &[NewFile],
) -> QueryResult<()> {
    let now = now_ms();
    for f in files {
        diesel::insert_into(attachments::table)
            .values(AttachmentRow {
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
            })
            .execute(c)?;
    }
    Ok(())
}
