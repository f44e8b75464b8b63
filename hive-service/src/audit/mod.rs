//! The audit trail: one record for every change, written in the change's own transaction.
//!
//! A use case states what it changed ([`created`], [`updated`], [`deleted`], [`merged`],
//! [`record`]) as it changes it; the records wait on the transaction's thread and the
//! service's transaction hook ([`Hooks`], registered on the pool at start) stores them just
//! before the commit, so they commit or roll back with the change. One request's records
//! share its request id (the access log's); the first record of a transaction, or the one
//! marked with [`Record::main`], is its main action (TheHive's `mainAction`).
//!
//! What a record says, as TheHive's audit does: `action` (create, update, delete, merge),
//! `objectType` (TheHive 5's entity names: `Case`, `Task`, `Observable`...), `objectId`,
//! `details` (the fields set, in the API's names; for a creation, the object's fields),
//! the root (the case or the alert the object belongs to), the organisation it happened
//! in, who did it and when. After the commit the hook hands the stored records to
//! [`Feed`] subscribers (the event streams) and wakes the notification dispatcher.

use crate::access::Actor;
use crate::db::schema::{audits, notification_queue};
use crate::db::{next_id, now_ms, DbConn};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::{Map, Value};
use service_kit::db::TxHooks;
use service_kit::error::ApiError;
use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// What happened to the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Created.
    Create,
    /// Changed.
    Update,
    /// Deleted.
    Delete,
    /// Others merged into it.
    Merge,
}

impl Action {
    /// The stored and v1 name.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
            Action::Merge => "merge",
        }
    }

    /// Reads a stored name.
    pub fn parse(s: &str) -> Option<Action> {
        Some(match s {
            "create" => Action::Create,
            "update" => Action::Update,
            "delete" => Action::Delete,
            "merge" => Action::Merge,
            _ => return None,
        })
    }
}

/// The kinds of object the trail records, by TheHive 5's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjectType {
    /// An alert.
    Alert,
    /// A case.
    Case,
    /// A task.
    Task,
    /// A task log.
    Log,
    /// An observable of a case or an alert.
    Observable,
    /// An analyzer job.
    Job,
    /// A responder action.
    Action,
    /// A comment.
    Comment,
    /// A case page or page template.
    Page,
    /// An ATT&CK procedure.
    Procedure,
    /// A timeline event.
    CustomEvent,
    /// A case's share with an organisation.
    Share,
    /// A file of a case, an alert or an organisation.
    Attachment,
    /// A case template.
    CaseTemplate,
    /// A custom field definition.
    CustomField,
    /// An observable type.
    ObservableType,
    /// A user account.
    User,
    /// An organisation.
    Organisation,
    /// A permission profile.
    Profile,
    /// A configuration item (notifications).
    Config,
}

impl ObjectType {
    /// Every kind.
    pub const ALL: [ObjectType; 20] = [
        ObjectType::Alert,
        ObjectType::Case,
        ObjectType::Task,
        ObjectType::Log,
        ObjectType::Observable,
        ObjectType::Job,
        ObjectType::Action,
        ObjectType::Comment,
        ObjectType::Page,
        ObjectType::Procedure,
        ObjectType::CustomEvent,
        ObjectType::Share,
        ObjectType::Attachment,
        ObjectType::CaseTemplate,
        ObjectType::CustomField,
        ObjectType::ObservableType,
        ObjectType::User,
        ObjectType::Organisation,
        ObjectType::Profile,
        ObjectType::Config,
    ];

    /// TheHive 5's name (stored, and the v1 payloads').
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectType::Alert => "Alert",
            ObjectType::Case => "Case",
            ObjectType::Task => "Task",
            ObjectType::Log => "Log",
            ObjectType::Observable => "Observable",
            ObjectType::Job => "Job",
            ObjectType::Action => "Action",
            ObjectType::Comment => "Comment",
            ObjectType::Page => "Page",
            ObjectType::Procedure => "Procedure",
            ObjectType::CustomEvent => "CustomEvent",
            ObjectType::Share => "Share",
            ObjectType::Attachment => "Attachment",
            ObjectType::CaseTemplate => "CaseTemplate",
            ObjectType::CustomField => "CustomField",
            ObjectType::ObservableType => "ObservableType",
            ObjectType::User => "User",
            ObjectType::Organisation => "Organisation",
            ObjectType::Profile => "Profile",
            ObjectType::Config => "Config",
        }
    }

    /// TheHive 4's v0 name (its webhooks' and stream's `objectType`): the case-work kinds
    /// renamed, the others lower-cased.
    pub fn v0_name(self) -> &'static str {
        match self {
            ObjectType::Task => "case_task",
            ObjectType::Log => "case_task_log",
            ObjectType::Observable => "case_artifact",
            ObjectType::Job => "case_artifact_job",
            ObjectType::Alert => "alert",
            ObjectType::Case => "case",
            ObjectType::Action => "action",
            ObjectType::Comment => "comment",
            ObjectType::Page => "page",
            ObjectType::Procedure => "procedure",
            ObjectType::CustomEvent => "customevent",
            ObjectType::Share => "share",
            ObjectType::Attachment => "attachment",
            ObjectType::CaseTemplate => "casetemplate",
            ObjectType::CustomField => "customfield",
            ObjectType::ObservableType => "observabletype",
            ObjectType::User => "user",
            ObjectType::Organisation => "organisation",
            ObjectType::Profile => "profile",
            ObjectType::Config => "config",
        }
    }

    /// Reads a stored name.
    pub fn parse(s: &str) -> Option<ObjectType> {
        ObjectType::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Reads a v1 or a v0 name (query filters take either).
    pub fn parse_any(s: &str) -> Option<ObjectType> {
        ObjectType::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s) || t.v0_name() == s)
    }
}

/// The case or the alert a record belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Root {
    /// A case.
    Case(i64),
    /// An alert.
    Alert(i64),
}

impl Root {
    /// The root of an object held by a case or an alert.
    pub fn of(case_id: Option<i64>, alert_id: Option<i64>) -> Option<Root> {
        case_id.map(Root::Case).or(alert_id.map(Root::Alert))
    }

    fn parts(self) -> (&'static str, i64) {
        match self {
            Root::Case(id) => ("Case", id),
            Root::Alert(id) => ("Alert", id),
        }
    }
}

/// One change, as a use case states it.
#[derive(Debug, Clone)]
pub struct Record {
    /// What happened.
    pub action: Action,
    /// To what kind of object.
    pub object_type: ObjectType,
    /// Its id.
    pub object_id: Option<i64>,
    /// The fields set, in the API's names.
    pub details: Map<String, Value>,
    /// Its case or alert.
    pub root: Option<Root>,
    /// The organisation it happened in.
    pub organisation_id: i64,
    /// Who did it: a login, or the analyzer or responder whose results made the change.
    pub by: String,
    /// The Cortex job whose results made the change.
    pub by_job: Option<i64>,
    /// The request's main action.
    pub main: bool,
}

impl Record {
    /// A record of `actor`'s change.
    pub fn new(
        actor: &Actor,
        action: Action,
        object_type: ObjectType,
        object_id: Option<i64>,
        details: Map<String, Value>,
        root: Option<Root>,
    ) -> Record {
        Record {
            action,
            object_type,
            object_id,
            details,
            root,
            organisation_id: actor.org_id,
            by: actor.login.clone(),
            by_job: None,
            main: false,
        }
    }

    /// Makes it the main action of its transaction.
    pub fn main(mut self) -> Record {
        self.main = true;
        self
    }
}

thread_local! {
    static PENDING: RefCell<Vec<Record>> = const { RefCell::new(Vec::new()) };
    static STORED: RefCell<Vec<Stored>> = const { RefCell::new(Vec::new()) };
}

/// Records a change of the running transaction (see the module documentation).
pub fn record(r: Record) {
    PENDING.with(|p| p.borrow_mut().push(r));
}

/// How many records the running transaction holds so far (see [`attribute_since`]).
pub fn pending_len() -> usize {
    PENDING.with(|p| p.borrow().len())
}

/// Forgets the records made since `mark` (the savepoint that made them rolled back).
pub fn forget_since(mark: usize) {
    PENDING.with(|p| p.borrow_mut().truncate(mark));
}

/// Attributes the records made since `mark` to the worker `by` of job `job` (what a
/// Cortex job's results changed is recorded as its analyzer's or responder's doing).
pub fn attribute_since(mark: usize, by: &str, job: i64) {
    PENDING.with(|p| {
        for r in p.borrow_mut().iter_mut().skip(mark) {
            r.by = by.to_string();
            r.by_job = Some(job);
        }
    });
}

/// Fields that are not an object's own data (ids, the audit columns).
const NOT_DETAILS: &[&str] = &[
    "id",
    "organisationId",
    "createdBy",
    "createdAt",
    "updatedBy",
    "updatedAt",
];

/// Columns stored as JSON text, shown as JSON.
const JSON_TEXT: &[&str] = &[
    "tags",
    "tasks",
    "pageTemplateIds",
    "accessUsers",
    "permissions",
    "options",
    "parameters",
    "operations",
];

/// An object's fields as the API names them (a row serialized, ids and audit columns
/// left out, JSON text read back).
pub fn fields_of<T: Serialize>(row: &T) -> Map<String, Value> {
    let mut out = match serde_json::to_value(row) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    for k in NOT_DETAILS {
        out.remove(*k);
    }
    for k in JSON_TEXT {
        if let Some(Value::String(s)) = out.get(*k) {
            if let Ok(v) = serde_json::from_str::<Value>(s) {
                out.insert((*k).to_string(), v);
            }
        }
    }
    // References to other objects in the API's id form (`caseId: "~123"`).
    for (k, v) in out.iter_mut() {
        if k.ends_with("Id") && k != "sourceId" {
            if let Some(n) = v.as_i64() {
                *v = Value::String(crate::db::format_id(n));
            }
        }
    }
    out
}

/// The fields of a new object (those without a value left out).
pub fn created_fields<T: Serialize>(row: &T) -> Map<String, Value> {
    let mut details = fields_of(row);
    details.retain(|_, v| !v.is_null());
    details
}

/// The fields that differ from `before` to `after`, with their new values.
pub fn changes<T: Serialize>(before: &T, after: &T) -> Map<String, Value> {
    let old = fields_of(before);
    fields_of(after)
        .into_iter()
        .filter(|(k, v)| old.get(k) != Some(v))
        .collect()
}

/// `actor` created an object: its fields are the details.
pub fn created<T: Serialize>(
    actor: &Actor,
    object_type: ObjectType,
    id: i64,
    row: &T,
    root: Option<Root>,
) {
    let details = created_fields(row);
    record(Record::new(
        actor,
        Action::Create,
        object_type,
        Some(id),
        details,
        root,
    ));
}

/// `actor` changed an object from `before` to `after` (nothing is recorded when no field
/// changed).
pub fn updated<T: Serialize>(
    actor: &Actor,
    object_type: ObjectType,
    id: i64,
    before: &T,
    after: &T,
    root: Option<Root>,
) {
    let details = changes(before, after);
    if !details.is_empty() {
        record(Record::new(
            actor,
            Action::Update,
            object_type,
            Some(id),
            details,
            root,
        ));
    }
}

/// `actor` changed an object from `before` to `after`, and what `extra` says besides (custom
/// field values, tags...); nothing is recorded when nothing changed.
pub fn updated_plus<T: Serialize>(
    actor: &Actor,
    object_type: ObjectType,
    id: i64,
    before: &T,
    after: &T,
    extra: Map<String, Value>,
    root: Option<Root>,
) {
    let mut details = changes(before, after);
    details.extend(extra);
    if !details.is_empty() {
        record(Record::new(
            actor,
            Action::Update,
            object_type,
            Some(id),
            details,
            root,
        ));
    }
}

/// `actor` changed an object as `details` says.
pub fn updated_with(
    actor: &Actor,
    object_type: ObjectType,
    id: i64,
    details: Map<String, Value>,
    root: Option<Root>,
) {
    record(Record::new(
        actor,
        Action::Update,
        object_type,
        Some(id),
        details,
        root,
    ));
}

/// `actor` deleted an object (`details`: what identified it).
pub fn deleted(
    actor: &Actor,
    object_type: ObjectType,
    id: i64,
    details: Map<String, Value>,
    root: Option<Root>,
) {
    record(Record::new(
        actor,
        Action::Delete,
        object_type,
        Some(id),
        details,
        root,
    ));
}

/// `actor` merged others into an object.
pub fn merged(
    actor: &Actor,
    object_type: ObjectType,
    id: i64,
    details: Map<String, Value>,
    root: Option<Root>,
) {
    record(Record::new(actor, Action::Merge, object_type, Some(id), details, root).main());
}

/// The case or alert of a Cortex job's object (`case`, `case_task`, `case_task_log`,
/// `case_artifact`, `alert`, as the connector names them).
pub fn root_of(c: &mut DbConn, object_type: &str, id: i64) -> QueryResult<Option<Root>> {
    use crate::db::schema::{logs, observables, tasks};
    Ok(match object_type {
        "case" => Some(Root::Case(id)),
        "alert" => Some(Root::Alert(id)),
        "case_task" => tasks::table
            .find(id)
            .select(tasks::case_id)
            .first::<i64>(c)
            .optional()?
            .map(Root::Case),
        "case_task_log" => logs::table
            .inner_join(tasks::table.on(tasks::id.eq(logs::task_id)))
            .filter(logs::id.eq(id))
            .select(tasks::case_id)
            .first::<i64>(c)
            .optional()?
            .map(Root::Case),
        "case_artifact" | "observable" => observables::table
            .find(id)
            .select((observables::case_id, observables::alert_id))
            .first::<(Option<i64>, Option<i64>)>(c)
            .optional()?
            .and_then(|(k, a)| Root::of(k, a)),
        _ => None,
    })
}

/// A stored record, as the streams and the dispatcher see it.
#[derive(Debug, Clone)]
pub struct Stored {
    /// The audit row's id.
    pub id: i64,
    /// Its request.
    pub request_id: String,
    /// What happened.
    pub action: Action,
    /// Main action of its request.
    pub main: bool,
    /// Object kind.
    pub object_type: ObjectType,
    /// Object id.
    pub object_id: Option<i64>,
    /// Details.
    pub details: Map<String, Value>,
    /// Case or alert.
    pub root: Option<Root>,
    /// Organisation.
    pub organisation_id: i64,
    /// Who.
    pub by: String,
    /// The Cortex job whose results made the change.
    pub by_job: Option<i64>,
    /// When, epoch ms.
    pub at: i64,
}

/// The stored audit rows.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = audits)]
pub struct AuditRow {
    /// Id.
    pub id: i64,
    /// The request it came from.
    pub request_id: String,
    /// create, update, delete, merge.
    pub action: String,
    /// The request's main action.
    pub main_action: bool,
    /// TheHive 5's object name.
    pub object_type: String,
    /// The object.
    pub object_id: Option<i64>,
    /// JSON object of the fields set.
    pub details: String,
    /// `Case` or `Alert`.
    pub root_type: Option<String>,
    /// The case or alert.
    pub root_id: Option<i64>,
    /// Where it happened.
    pub organisation_id: i64,
    /// Who did it.
    pub created_by: String,
    /// When.
    pub created_at: i64,
    /// The Cortex job whose results made the change.
    pub job_id: Option<i64>,
}

impl AuditRow {
    /// The record it stores.
    pub fn stored(&self) -> Stored {
        Stored {
            id: self.id,
            request_id: self.request_id.clone(),
            action: Action::parse(&self.action).unwrap_or(Action::Update),
            main: self.main_action,
            object_type: ObjectType::parse(&self.object_type).unwrap_or(ObjectType::Config),
            object_id: self.object_id,
            details: serde_json::from_str(&self.details).unwrap_or_default(),
            root: match (self.root_type.as_deref(), self.root_id) {
                (Some("Case"), Some(id)) => Some(Root::Case(id)),
                (Some("Alert"), Some(id)) => Some(Root::Alert(id)),
                _ => None,
            },
            organisation_id: self.organisation_id,
            by: self.created_by.clone(),
            by_job: self.job_id,
            at: self.created_at,
        }
    }
}

/// A committed transaction whose records wait for the notification dispatcher.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = notification_queue)]
pub struct QueueRow {
    /// Id (dispatch order).
    pub id: i64,
    /// Its audit records' ids, a JSON array in the order they were recorded.
    pub audit_ids: String,
}

/// Subscribers to the records of committed transactions (the event streams).
#[derive(Debug)]
pub struct Feed {
    tx: tokio::sync::broadcast::Sender<Arc<Stored>>,
}

impl Feed {
    fn new() -> Feed {
        Feed {
            tx: tokio::sync::broadcast::channel(4096).0,
        }
    }

    /// Every record committed from now on (a slow subscriber misses what overflows).
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Arc<Stored>> {
        self.tx.subscribe()
    }
}

/// The transaction hook that stores the records (see the module documentation).
#[derive(Debug)]
pub struct Hooks {
    /// Committed records, for the event streams.
    pub feed: Feed,
    /// Whether records are queued for the notification dispatcher (one row per transaction).
    /// On from the start: an organisation's notification list set on another instance must
    /// find every record of this one queued at once (the dispatcher drops what no one
    /// listens to).
    pub queue_on: AtomicBool,
    /// Woken after a commit that queued records.
    pub queued: tokio::sync::Notify,
}

impl Hooks {
    /// The hook, queueing records.
    pub fn new() -> Arc<Hooks> {
        Arc::new(Hooks {
            feed: Feed::new(),
            queue_on: AtomicBool::new(true),
            queued: tokio::sync::Notify::new(),
        })
    }
}

/// Who wrote a transaction without a request (start-up, background work): its own id.
fn background_request() -> String {
    format!("hive:{}", next_id())
}

impl TxHooks for Hooks {
    fn begin(&self) {
        PENDING.with(|p| p.borrow_mut().clear());
        STORED.with(|s| s.borrow_mut().clear());
    }

    fn before_commit(&self, c: &mut DbConn) -> Result<(), ApiError> {
        let records = PENDING.with(|p| std::mem::take(&mut *p.borrow_mut()));
        if records.is_empty() {
            return Ok(());
        }
        let request_id = service_kit::db::tx::request_id().unwrap_or_else(background_request);
        let main = records.iter().position(|r| r.main).unwrap_or(0);
        let now = now_ms();
        let mut rows = Vec::with_capacity(records.len());
        let mut stored = Vec::with_capacity(records.len());
        for (i, r) in records.into_iter().enumerate() {
            let (root_type, root_id) = match r.root.map(Root::parts) {
                Some((t, id)) => (Some(t.to_string()), Some(id)),
                None => (None, None),
            };
            let row = AuditRow {
                id: next_id(),
                request_id: request_id.clone(),
                action: r.action.as_str().into(),
                main_action: i == main,
                object_type: r.object_type.as_str().into(),
                object_id: r.object_id,
                details: Value::Object(r.details.clone()).to_string(),
                root_type,
                root_id,
                organisation_id: r.organisation_id,
                created_by: r.by.clone(),
                created_at: now,
                job_id: r.by_job,
            };
            stored.push(Stored {
                id: row.id,
                request_id: request_id.clone(),
                action: r.action,
                main: row.main_action,
                object_type: r.object_type,
                object_id: r.object_id,
                details: r.details,
                root: r.root,
                organisation_id: r.organisation_id,
                by: r.by,
                by_job: r.by_job,
                at: now,
            });
            rows.push(row);
        }
        service_kit::on_backend!(c, conn => {
            for chunk in rows.chunks(500) {
                diesel::insert_into(audits::table).values(chunk).execute(conn)?;
            }
            if self.queue_on.load(Ordering::Relaxed) {
                let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
                diesel::insert_into(notification_queue::table)
                    .values(QueueRow {
                        id: next_id(),
                        audit_ids: serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into()),
                    })
                    .execute(conn)?;
            }
        });
        STORED.with(|s| *s.borrow_mut() = stored);
        Ok(())
    }

    fn end(&self, committed: bool) {
        PENDING.with(|p| p.borrow_mut().clear());
        let stored = STORED.with(|s| std::mem::take(&mut *s.borrow_mut()));
        if !committed || stored.is_empty() {
            return;
        }
        if self.queue_on.load(Ordering::Relaxed) {
            self.queued.notify_one();
        }
        for s in stored {
            // No subscriber is not an error.
            let _ = self.feed.tx.send(Arc::new(s));
        }
    }
}
