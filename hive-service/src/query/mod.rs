//! Query API selections and traversals over case work: alerts, cases, observables, tasks,
//! logs and case templates of the caller's organisation, rendered by the same renderers as
//! the REST routes.

pub mod counts;
pub mod run;

use crate::access::{self, Entity};
use crate::auth::Caller;
use crate::casework::{self as cw};
use crate::db::casework::*;
use crate::db::schema::{
    alerts, case_templates, cases, comments, logs, observables, pages, procedures, tasks,
};
use crate::db::{parse_id, DbConn};
use crate::render;
use diesel::prelude::*;
use serde_json::Value;
use service_kit::error::ApiError;

/// An entity kind the Query API walks through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Alerts.
    Alert,
    /// Cases.
    Case,
    /// Observables.
    Observable,
    /// Tasks.
    Task,
    /// Tasks of a case template (not rows of their own).
    TemplateTask,
    /// Task logs.
    Log,
    /// Case templates.
    CaseTemplate,
    /// Comments.
    Comment,
    /// Procedures.
    Procedure,
    /// Case pages.
    Page,
    /// Page templates.
    PageTemplate,
    /// Attachments.
    Attachment,
    /// Shares.
    Share,
    /// Cortex analyzer jobs.
    Job,
    /// Statuses of cases or alerts.
    Status,
    /// Rows of a similarity traversal.
    Similar,
    /// Organisations (from a case).
    Organisation,
    /// Users (assignable ones of a case).
    User,
    /// Audit records.
    Audit,
}

const ALERT_FIELDS: &[&str] = &[
    "type",
    "source",
    "sourceRef",
    "externalLink",
    "title",
    "description",
    "severity",
    "severityLabel",
    "date",
    "tags",
    "tlp",
    "tlpLabel",
    "pap",
    "papLabel",
    "follow",
    "flag",
    "customFields",
    "caseTemplate",
    "observableCount",
    "caseId",
    "status",
    "stage",
    "assignee",
    "summary",
    "newDate",
    "inProgressDate",
    "closedDate",
    "importedDate",
    "timeToDetect",
    "timeToTriage",
    "timeToQualify",
    "timeToAcknowledge",
    "imported",
    "read",
];
const CASE_FIELDS: &[&str] = &[
    "number",
    "title",
    "description",
    "severity",
    "severityLabel",
    "startDate",
    "endDate",
    "tags",
    "flag",
    "tlp",
    "tlpLabel",
    "pap",
    "papLabel",
    "status",
    "stage",
    "summary",
    "impactStatus",
    "assignee",
    "access",
    "customFields",
    "caseTemplate",
    "newDate",
    "inProgressDate",
    "closedDate",
    "alertDate",
    "alertNewDate",
    "alertImportedDate",
    "timeToDetect",
    "timeToTriage",
    "timeToResolve",
    "handlingDuration",
    "owningOrganisation",
];
const OBSERVABLE_FIELDS: &[&str] = &[
    "dataType",
    "data",
    "startDate",
    "attachment",
    "tlp",
    "tlpLabel",
    "pap",
    "papLabel",
    "tags",
    "ioc",
    "sighted",
    "sightedAt",
    "reports",
    "message",
    "ignoreSimilarity",
    "external",
];
const TASK_FIELDS: &[&str] = &[
    "title",
    "group",
    "description",
    "status",
    "flag",
    "startDate",
    "endDate",
    "assignee",
    "order",
    "dueDate",
    "mandatory",
];
const LOG_FIELDS: &[&str] = &[
    "message",
    "date",
    "attachments",
    "owner",
    "includeInTimeline",
];
const TEMPLATE_FIELDS: &[&str] = &[
    "name",
    "displayName",
    "titlePrefix",
    "description",
    "severity",
    "tags",
    "flag",
    "tlp",
    "pap",
    "summary",
    "customFields",
    "tasks",
];

impl Kind {
    /// The access layer's entity of this kind, when its items are rows checked by id.
    pub fn entity(self) -> Option<Entity> {
        Some(match self {
            Kind::Alert => Entity::Alert,
            Kind::Case => Entity::Case,
            Kind::Observable => Entity::Observable,
            Kind::Task => Entity::Task,
            Kind::Log => Entity::Log,
            Kind::CaseTemplate => Entity::CaseTemplate,
            Kind::Comment => Entity::Comment,
            Kind::Procedure => Entity::Procedure,
            Kind::Page => Entity::Page,
            Kind::PageTemplate => Entity::PageTemplate,
            Kind::Attachment => Entity::Attachment,
            Kind::Share => Entity::Share,
            Kind::Job => Entity::CortexJob,
            Kind::Audit => Entity::Audit,
            Kind::TemplateTask | Kind::Status | Kind::Similar | Kind::Organisation | Kind::User => {
                return None
            }
        })
    }

    /// The kind a selection (`listAlert`, `getCase`...) starts from.
    pub fn of_selection(name: &str) -> Option<Kind> {
        Some(match name {
            "listAlert" | "getAlert" => Kind::Alert,
            "listCase" | "getCase" => Kind::Case,
            "listObservable" | "getObservable" => Kind::Observable,
            "listTask" | "getTask" => Kind::Task,
            "listLog" | "getLog" => Kind::Log,
            "listCaseTemplate" | "getCaseTemplate" => Kind::CaseTemplate,
            "listComment" | "getComment" => Kind::Comment,
            "listProcedure" | "getProcedure" => Kind::Procedure,
            "listPageTemplate" | "getPageTemplate" => Kind::PageTemplate,
            "listAlertStatus" | "listCaseStatus" => Kind::Status,
            "listShare" | "getShare" => Kind::Share,
            "listJob" | "getJob" => Kind::Job,
            "listAudit" | "getAudit" => Kind::Audit,
            _ => return None,
        })
    }

    /// Fields a filter or sort may name.
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            Kind::Alert => ALERT_FIELDS,
            Kind::Case => CASE_FIELDS,
            Kind::Observable => OBSERVABLE_FIELDS,
            Kind::Task | Kind::TemplateTask => TASK_FIELDS,
            Kind::Log => LOG_FIELDS,
            Kind::CaseTemplate => TEMPLATE_FIELDS,
            Kind::Comment => &[
                "createdBy",
                "createdAt",
                "updatedBy",
                "updatedAt",
                "message",
                "isEdited",
                "external",
            ],
            Kind::Procedure => &[
                "description",
                "occurDate",
                "patternId",
                "patternName",
                "tactic",
                "tacticLabel",
            ],
            Kind::Page | Kind::PageTemplate => &["title", "content", "order", "category"],
            Kind::Attachment => &["name", "hashes", "size", "contentType", "id", "external"],
            Kind::Job => &[
                "analyzerId",
                "analyzerName",
                "analyzerDefinition",
                "status",
                "startDate",
                "endDate",
                "cortexId",
                "cortexJobId",
            ],
            Kind::Share => &[
                "caseId",
                "profileName",
                "organisationName",
                "owner",
                "taskRule",
                "observableRule",
            ],
            Kind::Status => &["value", "stage", "order", "description", "colour", "hidden"],
            Kind::Audit => &[
                "action",
                "operation",
                "mainAction",
                "base",
                "requestId",
                "objectType",
                "objectId",
                "rootType",
                "rootId",
                "details",
            ],
            Kind::Organisation => &[
                "name",
                "description",
                "taskRule",
                "observableRule",
                "locked",
            ],
            Kind::User => &[
                "login",
                "name",
                "email",
                "locked",
                "profile",
                "organisation",
                "type",
            ],
            Kind::Similar => &[
                "case",
                "alert",
                "similarObservableCount",
                "observableCount",
                "similarIocCount",
                "iocCount",
            ],
        }
    }
}

fn values<T: serde::Serialize>(items: &[T]) -> Vec<Value> {
    items.iter().map(render::to_value).collect()
}

/// Renders rows of a kind.
fn alerts_out(c: &mut DbConn, rows: &[AlertRow]) -> Result<Vec<Value>, ApiError> {
    Ok(values(&render::alerts(c, rows)?))
}
fn cases_out(c: &mut DbConn, rows: &[CaseRow]) -> Result<Vec<Value>, ApiError> {
    Ok(values(&render::cases(c, rows)?))
}
fn observables_out(c: &mut DbConn, rows: &[ObservableRow]) -> Result<Vec<Value>, ApiError> {
    Ok(values(&render::observables(c, rows)?))
}
fn tasks_out(rows: &[TaskRow]) -> Vec<Value> {
    rows.iter()
        .map(|t| render::to_value(&render::task(t)))
        .collect()
}
fn logs_out(c: &mut DbConn, rows: &[LogRow]) -> Result<Vec<Value>, ApiError> {
    Ok(values(&render::logs(c, rows)?))
}

/// Runs a selection; `key` is the `idOrName` of a `get*` selection. An unknown or foreign
/// key selects nothing.
pub fn select(
    c: &mut DbConn,
    caller: &Caller,
    kind: Kind,
    key: Option<&str>,
) -> Result<Vec<Value>, ApiError> {
    let org = caller.organisation.id;
    let who = cw::Actor::of(caller);
    let not_found_is_empty = |r: Result<Vec<Value>, ApiError>| match r {
        Err(ApiError::NotFound(_)) => Ok(Vec::new()),
        other => other,
    };
    match (kind, key) {
        (Kind::Alert, Some(k)) => {
            not_found_is_empty(cw::find_alert(c, org, k).and_then(|a| alerts_out(c, &[a])))
        }
        (Kind::Alert, None) => match try_sql(c, caller, "listAlert", &[])? {
            Some(SqlOutcome::Items(items, _)) => Ok(items),
            _ => Ok(Vec::new()),
        },
        (Kind::Case, Some(k)) => {
            not_found_is_empty(cw::find_case(c, &who, k).and_then(|r| cases_out(c, &[r])))
        }
        (Kind::Case, None) => match try_sql(c, caller, "listCase", &[])? {
            Some(SqlOutcome::Items(items, _)) => Ok(items),
            _ => Ok(Vec::new()),
        },
        (Kind::Observable, Some(k)) => not_found_is_empty(
            cw::find_observable(c, &who, k).and_then(|r| observables_out(c, &[r])),
        ),
        (Kind::Observable, None) => match try_sql(c, caller, "listObservable", &[])? {
            Some(SqlOutcome::Items(items, _)) => Ok(items),
            _ => Ok(Vec::new()),
        },
        (Kind::Task, Some(k)) => {
            not_found_is_empty(cw::find_task(c, &who, k).map(|r| tasks_out(&[r])))
        }
        (Kind::Task, None) => match try_sql(c, caller, "listTask", &[])? {
            Some(SqlOutcome::Items(items, _)) => Ok(items),
            _ => Ok(Vec::new()),
        },
        (Kind::Log, Some(k)) => {
            not_found_is_empty(cw::find_log(c, &who, k).and_then(|r| logs_out(c, &[r])))
        }
        (Kind::Log, None) => match try_sql(c, caller, "listLog", &[])? {
            Some(SqlOutcome::Items(items, _)) => Ok(items),
            _ => Ok(Vec::new()),
        },
        (Kind::CaseTemplate, Some(k)) => not_found_is_empty(
            cw::find_template(c, org, k).and_then(|r| Ok(values(&render::templates(c, &[r])?))),
        ),
        (Kind::Comment, key) => {
            let mut q = comments::table
                .filter(access::visible(Entity::Comment, &who, "comments"))
                .order(comments::id.asc())
                .select(CommentRow::as_select())
                .into_boxed();
            if let Some(k) = key {
                q = q.filter(comments::id.eq(parse_id(k).unwrap_or(-1)));
            }
            let rows: Vec<CommentRow> = q.load(c)?;
            Ok(rows
                .iter()
                .map(|r| render::to_value(&cw::collab::comment(r)))
                .collect())
        }
        (Kind::Procedure, key) => {
            let mut q = procedures::table
                .filter(access::visible(Entity::Procedure, &who, "procedures"))
                .order(procedures::id.asc())
                .select(ProcedureRow::as_select())
                .into_boxed();
            if let Some(k) = key {
                q = q.filter(procedures::id.eq(parse_id(k).unwrap_or(-1)));
            }
            let rows: Vec<ProcedureRow> = q.load(c)?;
            Ok(rows
                .iter()
                .map(|r| render::to_value(&cw::collab::procedure(r)))
                .collect())
        }
        (Kind::PageTemplate, key) | (Kind::Page, key) => {
            let mut q = pages::table
                .filter(access::visible(Entity::PageTemplate, &who, "pages"))
                .order(pages::id.asc())
                .select(PageRow::as_select())
                .into_boxed();
            if let Some(k) = key {
                q = q.filter(pages::id.eq(parse_id(k).unwrap_or(-1)));
            }
            let rows: Vec<PageRow> = q.load(c)?;
            Ok(rows
                .iter()
                .map(|r| render::to_value(&cw::collab::page(r)))
                .collect())
        }
        (Kind::Status, _) => Ok(Vec::new()),
        (Kind::Audit, key) => {
            use crate::db::schema::audits;
            // Newest first, and at most MAX_AUDITS of them (filter on `objectId`,
            // `rootId` or `requestId` in the next steps for older ones: the record of an
            // object is found by its traversal-free filter below).
            let mut q = audits::table
                .filter(access::visible(Entity::Audit, &who, "audits"))
                .order((audits::created_at.desc(), audits::id.desc()))
                .limit(MAX_AUDITS)
                .select(crate::audit::AuditRow::as_select())
                .into_boxed();
            if let Some(k) = key {
                q = q.filter(audits::id.eq(parse_id(k).unwrap_or(-1)));
            }
            let rows: Vec<crate::audit::AuditRow> = q.load(c)?;
            Ok(rows.iter().map(render::audit).collect())
        }
        (Kind::Job, key) => {
            let all = crate::render::jobs::org_jobs(c, &who)?;
            Ok(match key {
                Some(k) => all.into_iter().filter(|j| j["_id"] == k).collect(),
                None => all,
            })
        }
        (Kind::Share, key) => {
            use crate::db::schema::shares;
            // Shares of the cases the caller sees.
            let mut q = shares::table
                .filter(access::visible(Entity::Share, &who, "shares"))
                .order(shares::id.asc())
                .select(crate::db::casework::ShareRow::as_select())
                .into_boxed();
            if let Some(k) = key {
                q = q.filter(shares::id.eq(parse_id(k).unwrap_or(-1)));
            }
            let rows: Vec<crate::db::casework::ShareRow> = q.load(c)?;
            rows.iter()
                .map(|s| crate::casework::shares::render(c, s).map(|o| render::to_value(&o)))
                .collect()
        }
        (
            Kind::Attachment | Kind::Similar | Kind::Organisation | Kind::User | Kind::TemplateTask,
            _,
        ) => Ok(Vec::new()),
        (Kind::CaseTemplate, None) => {
            let rows: Vec<CaseTemplateRow> = case_templates::table
                .filter(access::visible(
                    Entity::CaseTemplate,
                    &who,
                    "case_templates",
                ))
                .order(case_templates::id.asc())
                .select(CaseTemplateRow::as_select())
                .load(c)?;
            Ok(values(&render::templates(c, &rows)?))
        }
    }
}

/// Most audit records one `listAudit` reads (newest first).
pub const MAX_AUDITS: i64 = 10_000;

fn ids(items: &[Value]) -> Vec<i64> {
    items
        .iter()
        .filter_map(|i| i.get("_id").and_then(Value::as_str).and_then(parse_id))
        .collect()
}

fn ref_ids(items: &[Value], field: &str) -> Vec<i64> {
    items
        .iter()
        .filter_map(|i| i.get(field).and_then(Value::as_str).and_then(parse_id))
        .collect()
}

/// Every traversal of the Query API: (the kind it starts from, its name). The access-matrix
/// test reads this list from the OpenAPI document (`x-query-operations`) and has a row for
/// each; [`traverse`] answers only these.
pub const TRAVERSALS: &[(Kind, &str)] = &[
    (Kind::Alert, "observables"),
    (Kind::Case, "observables"),
    (Kind::Alert, "case"),
    (Kind::Case, "tasks"),
    (Kind::Case, "alerts"),
    (Kind::Task, "logs"),
    (Kind::Task, "case"),
    (Kind::Observable, "case"),
    (Kind::Observable, "alert"),
    (Kind::CaseTemplate, "pageTemplates"),
    (Kind::CaseTemplate, "tasks"),
    (Kind::Alert, "comments"),
    (Kind::Case, "comments"),
    (Kind::Alert, "allComments"),
    (Kind::Case, "allComments"),
    (Kind::Alert, "procedures"),
    (Kind::Case, "procedures"),
    (Kind::Case, "pages"),
    (Kind::Case, "attachments"),
    (Kind::Alert, "attachments"),
    (Kind::Log, "attachments"),
    (Kind::Case, "shares"),
    (Kind::Task, "shares"),
    (Kind::Observable, "shares"),
    (Kind::Case, "organisations"),
    (Kind::Case, "assignableUsers"),
    (Kind::Alert, "similarAlerts"),
    (Kind::Case, "similarAlerts"),
    (Kind::Alert, "similarAlertsLight"),
    (Kind::Case, "similarAlertsLight"),
    (Kind::Alert, "similarCases"),
    (Kind::Case, "similarCases"),
    (Kind::Alert, "similarCasesLight"),
    (Kind::Case, "similarCasesLight"),
];

impl Kind {
    /// The name of the kind in `x-query-operations` (as its `get` selection names it).
    pub fn wire_name(self) -> &'static str {
        match self {
            Kind::Alert => "alert",
            Kind::Case => "case",
            Kind::Observable => "observable",
            Kind::Task => "task",
            Kind::TemplateTask => "templateTask",
            Kind::Log => "log",
            Kind::CaseTemplate => "caseTemplate",
            Kind::Comment => "comment",
            Kind::Procedure => "procedure",
            Kind::Page => "page",
            Kind::PageTemplate => "pageTemplate",
            Kind::Attachment => "attachment",
            Kind::Share => "share",
            Kind::Job => "job",
            Kind::Status => "status",
            Kind::Similar => "similar",
            Kind::Organisation => "organisation",
            Kind::User => "user",
            Kind::Audit => "audit",
        }
    }
}

/// Follows a traversal (`observables`, `tasks`, `case`...) from a set of entities. Every
/// target is read through the access layer's predicate of its kind (and the Query API keeps
/// only visible items after each step anyway, [`retain_visible`]).
pub fn traverse(
    c: &mut DbConn,
    caller: &Caller,
    from: Kind,
    name: &str,
    items: &[Value],
) -> Result<Option<(Kind, Vec<Value>)>, ApiError> {
    if !TRAVERSALS.contains(&(from, name)) {
        return Ok(None);
    }
    let who = cw::Actor::of(caller);
    let org = who.org_id;
    let ids = ids(items);
    let sees = |e: Entity, t: &str| access::visible(e, &who, t);
    Ok(Some(match (from, name) {
        (Kind::Alert, "observables") | (Kind::Case, "observables") => {
            let q = observables::table
                .filter(sees(Entity::Observable, "observables"))
                .order(observables::id.asc())
                .select(ObservableRow::as_select());
            let rows: Vec<ObservableRow> = if from == Kind::Alert {
                q.filter(observables::alert_id.eq_any(&ids)).load(c)?
            } else {
                q.filter(observables::case_id.eq_any(&ids)).load(c)?
            };
            (Kind::Observable, observables_out(c, &rows)?)
        }
        (Kind::Alert, "case") => {
            let case_ids = ref_ids(items, "caseId");
            let rows: Vec<CaseRow> = cases::table
                .filter(cases::id.eq_any(&case_ids))
                .filter(sees(Entity::Case, "cases"))
                .order(cases::id.asc())
                .select(CaseRow::as_select())
                .load(c)?;
            (Kind::Case, cases_out(c, &rows)?)
        }
        (Kind::Case, "tasks") => {
            let rows: Vec<TaskRow> = tasks::table
                .filter(tasks::case_id.eq_any(&ids))
                .filter(sees(Entity::Task, "tasks"))
                .order(tasks::id.asc())
                .select(TaskRow::as_select())
                .load(c)?;
            (Kind::Task, tasks_out(&rows))
        }
        (Kind::Case, "alerts") => {
            let rows: Vec<AlertRow> = alerts::table
                .filter(alerts::case_id.eq_any(&ids))
                .filter(sees(Entity::Alert, "alerts"))
                .order(alerts::id.asc())
                .select(AlertRow::as_select())
                .load(c)?;
            (Kind::Alert, alerts_out(c, &rows)?)
        }
        (Kind::Task, "logs") => {
            let rows: Vec<LogRow> = logs::table
                .filter(logs::task_id.eq_any(&ids))
                .filter(sees(Entity::Log, "logs"))
                .order(logs::id.asc())
                .select(LogRow::as_select())
                .load(c)?;
            (Kind::Log, logs_out(c, &rows)?)
        }
        (Kind::Task, "case") | (Kind::Observable, "case") => {
            let parent: Vec<i64> = if from == Kind::Task {
                tasks::table
                    .filter(tasks::id.eq_any(&ids))
                    .select(tasks::case_id)
                    .load(c)?
            } else {
                observables::table
                    .filter(observables::id.eq_any(&ids))
                    .select(observables::case_id)
                    .load::<Option<i64>>(c)?
                    .into_iter()
                    .flatten()
                    .collect()
            };
            let rows: Vec<CaseRow> = cases::table
                .filter(cases::id.eq_any(&parent))
                .filter(sees(Entity::Case, "cases"))
                .order(cases::id.asc())
                .select(CaseRow::as_select())
                .load(c)?;
            (Kind::Case, cases_out(c, &rows)?)
        }
        (Kind::Observable, "alert") => {
            let parent: Vec<i64> = observables::table
                .filter(observables::id.eq_any(&ids))
                .select(observables::alert_id)
                .load::<Option<i64>>(c)?
                .into_iter()
                .flatten()
                .collect();
            let rows: Vec<AlertRow> = alerts::table
                .filter(alerts::id.eq_any(&parent))
                .filter(sees(Entity::Alert, "alerts"))
                .order(alerts::id.asc())
                .select(AlertRow::as_select())
                .load(c)?;
            (Kind::Alert, alerts_out(c, &rows)?)
        }
        (Kind::CaseTemplate, "pageTemplates") => {
            let wanted: Vec<i64> = items
                .iter()
                .filter_map(|t| t.get("pageTemplateIds").and_then(Value::as_array))
                .flatten()
                .filter_map(|v| v.as_str().and_then(parse_id))
                .collect();
            let rows: Vec<PageRow> = pages::table
                .filter(pages::id.eq_any(&wanted))
                .filter(sees(Entity::PageTemplate, "pages"))
                .order(pages::id.asc())
                .select(PageRow::as_select())
                .load(c)?;
            (
                Kind::PageTemplate,
                rows.iter()
                    .map(|r| render::to_value(&cw::collab::page(r)))
                    .collect(),
            )
        }
        (Kind::CaseTemplate, "tasks") => {
            let tasks: Vec<Value> = items
                .iter()
                .filter_map(|t| t.get("tasks").and_then(Value::as_array))
                .flatten()
                .cloned()
                .collect();
            (Kind::TemplateTask, tasks)
        }
        (Kind::Alert | Kind::Case, "comments" | "allComments") => {
            let q = comments::table
                .filter(sees(Entity::Comment, "comments"))
                .order(comments::id.asc())
                .select(CommentRow::as_select());
            let rows: Vec<CommentRow> = if from == Kind::Alert {
                q.filter(comments::alert_id.eq_any(&ids)).load(c)?
            } else {
                q.filter(comments::case_id.eq_any(&ids)).load(c)?
            };
            (
                Kind::Comment,
                rows.iter()
                    .map(|r| render::to_value(&cw::collab::comment(r)))
                    .collect(),
            )
        }
        (Kind::Alert | Kind::Case, "procedures") => {
            let q = procedures::table
                .filter(sees(Entity::Procedure, "procedures"))
                .order(procedures::id.asc())
                .select(ProcedureRow::as_select());
            let rows: Vec<ProcedureRow> = if from == Kind::Alert {
                q.filter(procedures::alert_id.eq_any(&ids)).load(c)?
            } else {
                q.filter(procedures::case_id.eq_any(&ids)).load(c)?
            };
            (
                Kind::Procedure,
                rows.iter()
                    .map(|r| render::to_value(&cw::collab::procedure(r)))
                    .collect(),
            )
        }
        (Kind::Case, "pages") => {
            let rows: Vec<PageRow> = pages::table
                .filter(pages::case_id.eq_any(&ids))
                .filter(sees(Entity::Page, "pages"))
                .order(pages::id.asc())
                .select(PageRow::as_select())
                .load(c)?;
            (
                Kind::Page,
                rows.iter()
                    .map(|r| render::to_value(&cw::collab::page(r)))
                    .collect(),
            )
        }
        (Kind::Case | Kind::Alert | Kind::Log, "attachments") => (
            Kind::Attachment,
            crate::casework::collab::attachments_held_by(c, &who, &ids)?,
        ),
        (Kind::Case, "shares") => {
            let mut out = Vec::new();
            for id in &ids {
                out.extend(
                    crate::casework::shares::shares_of(c, *id, org)?
                        .iter()
                        .map(render::to_value),
                );
            }
            (Kind::Share, out)
        }
        (Kind::Task | Kind::Observable, "shares") => {
            let mut out = Vec::new();
            for id in &ids {
                let case_id: Option<i64> = if from == Kind::Task {
                    tasks::table
                        .find(id)
                        .select(tasks::case_id)
                        .first(c)
                        .optional()?
                } else {
                    observables::table
                        .find(id)
                        .select(observables::case_id)
                        .first::<Option<i64>>(c)
                        .optional()?
                        .flatten()
                };
                if let Some(k) = case_id {
                    out.extend(
                        crate::casework::shares::item_shares_of(c, *id, k, org)?
                            .iter()
                            .map(render::to_value),
                    );
                }
            }
            (Kind::Share, out)
        }
        (Kind::Case, "organisations") => {
            use crate::db::models::OrganisationRow;
            use crate::db::schema::{organisations, shares};
            let visible: Vec<i64> = access::visible_ids(c, Entity::Case, &who, &ids)?
                .into_iter()
                .collect();
            let mut org_ids: Vec<i64> = cases::table
                .filter(cases::id.eq_any(&visible))
                .select(cases::organisation_id)
                .load(c)?;
            // The owner sees every organisation of its cases; a partner the owner and itself.
            let owned: Vec<i64> = cases::table
                .filter(cases::id.eq_any(&visible))
                .filter(cases::organisation_id.eq(org))
                .select(cases::id)
                .load(c)?;
            org_ids.extend(
                shares::table
                    .filter(shares::case_id.eq_any(&owned))
                    .select(shares::organisation_id)
                    .load::<i64>(c)?,
            );
            if owned.len() < visible.len() {
                org_ids.push(org);
            }
            let rows: Vec<OrganisationRow> = organisations::table
                .filter(organisations::id.eq_any(&org_ids))
                .order(organisations::id.asc())
                .select(OrganisationRow::as_select())
                .load(c)?;
            (
                Kind::Organisation,
                rows.iter()
                    .map(|o| render::to_value(&crate::render::render_organisation(o)))
                    .collect(),
            )
        }
        (Kind::Case, "assignableUsers") => {
            use crate::db::models::UserRow;
            use crate::db::schema::{memberships, users};
            let rows: Vec<UserRow> = users::table
                .filter(users::locked.eq(false))
                .filter(
                    users::id.eq_any(
                        memberships::table
                            .filter(memberships::organisation_id.eq(org))
                            .select(memberships::user_id),
                    ),
                )
                .order(users::login.asc())
                .select(UserRow::as_select())
                .load(c)?;
            let uids: Vec<i64> = rows.iter().map(|u| u.id).collect();
            let mut ms = crate::db::models::memberships_of_users(c, &uids)?;
            (
                Kind::User,
                rows.iter()
                    .map(|u| {
                        let m = ms.remove(&u.id).unwrap_or_default();
                        render::to_value(&crate::render::render_user(u, &m, caller))
                    })
                    .collect(),
            )
        }
        (Kind::Alert | Kind::Case, "similarAlertsLight" | "similarAlerts") => {
            let mut rows = Vec::new();
            for id in &ids {
                // Only observables the caller sees are compared, with those of its alerts.
                let mine: Vec<(String, String)> = {
                    let q = observables::table
                        .filter(observables::ignore_similarity.eq(false))
                        .filter(sees(Entity::Observable, "observables"))
                        .select((observables::data_type, observables::data_hash));
                    if from == Kind::Case {
                        q.filter(observables::case_id.eq(id)).load(c)?
                    } else {
                        q.filter(observables::alert_id.eq(id)).load(c)?
                    }
                };
                let hashes: Vec<String> = mine.iter().map(|(_, h)| h.clone()).collect();
                let mut theirs: Vec<ObservableRow> = Vec::new();
                for chunk in hashes.chunks(500) {
                    theirs.extend(
                        observables::table
                            .filter(observables::data_hash.eq_any(chunk))
                            .filter(observables::alert_id.is_not_null())
                            .filter(observables::ignore_similarity.eq(false))
                            .filter(sees(Entity::Observable, "observables"))
                            .select(ObservableRow::as_select())
                            .load::<ObservableRow>(c)?,
                    );
                }
                let mut by_alert: Vec<(i64, Vec<ObservableRow>)> = Vec::new();
                for o in theirs {
                    let a = o.alert_id.unwrap_or_default();
                    if (from == Kind::Alert && a == *id)
                        || !mine.contains(&(o.data_type.clone(), o.data_hash.clone()))
                    {
                        continue;
                    }
                    match by_alert.iter_mut().find(|(x, _)| *x == a) {
                        Some((_, v)) => v.push(o),
                        None => by_alert.push((a, vec![o])),
                    }
                }
                for (a, obs) in by_alert {
                    let row: Option<AlertRow> = alerts::table
                        .find(a)
                        .filter(sees(Entity::Alert, "alerts"))
                        .select(AlertRow::as_select())
                        .first(c)
                        .optional()?;
                    if let Some(row) = row {
                        let total: i64 = observables::table
                            .filter(observables::alert_id.eq(a))
                            .count()
                            .get_result(c)?;
                        let alert = alerts_out(c, &[row])?.pop().unwrap_or(Value::Null);
                        rows.push(serde_json::json!({
                            "alert": alert,
                            "similarObservableCount": obs.len(),
                            "observableCount": total,
                            "similarIocCount": obs.iter().filter(|o| o.ioc).count(),
                        }));
                    }
                }
            }
            (Kind::Similar, rows)
        }
        (Kind::Alert | Kind::Case, "similarCasesLight" | "similarCases") => {
            let mut rows = Vec::new();
            for id in &ids {
                let (case_id, alert_id) = if from == Kind::Case {
                    (Some(*id), None)
                } else {
                    (None, Some(*id))
                };
                for (k, obs, total) in
                    crate::casework::collab::similar_cases(c, &who, case_id, alert_id)?
                {
                    let case = render::to_value(&crate::render::rendered_case(c, &k)?);
                    let ioc = obs.iter().filter(|o| o.ioc).count();
                    rows.push(serde_json::json!({
                        "case": case,
                        "similarObservableCount": obs.len(),
                        "observableCount": total,
                        "similarIocCount": ioc,
                        "observableTypes": obs.iter().map(|o| o.data_type.clone()).collect::<std::collections::BTreeSet<_>>(),
                    }));
                }
            }
            (Kind::Similar, rows)
        }
        _ => return Ok(None),
    }))
}

/// Keeps, of the items a selection or a traversal produced, those `caller` may see, as the
/// access layer decides for their kind (similarity rows by the case or alert they show).
/// The Query API runs it after every step, so that no step decides visibility alone.
pub fn retain_visible(
    c: &mut DbConn,
    caller: &Caller,
    kind: Kind,
    items: Vec<Value>,
) -> Result<Vec<Value>, ApiError> {
    let who = cw::Actor::of(caller);
    let id_of = |v: &Value, key: Option<&str>| {
        let v = match key {
            Some(k) => v.get(k)?,
            None => v,
        };
        v.get("_id").and_then(Value::as_str).and_then(parse_id)
    };
    match kind.entity() {
        Some(entity) => {
            let ids: Vec<i64> = items.iter().filter_map(|i| id_of(i, None)).collect();
            let seen = access::visible_ids(c, entity, &who, &ids)?;
            Ok(items
                .into_iter()
                .filter(|i| id_of(i, None).is_some_and(|id| seen.contains(&id)))
                .collect())
        }
        None if kind == Kind::Similar => {
            let of = |e: Entity, key: &str, c: &mut DbConn| {
                let ids: Vec<i64> = items.iter().filter_map(|i| id_of(i, Some(key))).collect();
                access::visible_ids(c, e, &who, &ids)
            };
            let cases = of(Entity::Case, "case", c)?;
            let alerts = of(Entity::Alert, "alert", c)?;
            Ok(items
                .into_iter()
                .filter(|i| {
                    id_of(i, Some("case")).is_some_and(|id| cases.contains(&id))
                        || id_of(i, Some("alert")).is_some_and(|id| alerts.contains(&id))
                })
                .collect())
        }
        None => Ok(items),
    }
}

/// The default statuses (`listCaseStatus`, `listAlertStatus`).
pub fn statuses(case: bool) -> Vec<Value> {
    let table = if case {
        crate::domain::values::CASE_STATUSES
    } else {
        crate::domain::values::ALERT_STATUSES
    };
    let kind = if case { "CaseStatus" } else { "AlertStatus" };
    table
        .iter()
        .enumerate()
        .map(|(i, (value, stage))| {
            serde_json::json!({
                "_id": format!("~{}", 1000 + i + if case { 0 } else { 100 }),
                "_type": kind,
                "_createdBy": crate::auth::SYSTEM_LOGIN,
                "_createdAt": 0,
                "value": value,
                "stage": stage,
                "order": i,
                "hidden": false,
            })
        })
        .collect()
}

/// Adds the `extraData` a page asked for.
pub fn add_extra(
    c: &mut DbConn,
    caller: &Caller,
    kind: Kind,
    items: &mut [Value],
    keys: &[String],
) -> Result<(), ApiError> {
    use crate::db::schema::{attachments, shares};
    use serde_json::json;
    let org = caller.organisation.id;
    let who = cw::Actor::of(caller);
    if keys.is_empty() {
        return Ok(());
    }
    // What a list of cases asks for on every row (task progress, ownership), read for the
    // whole page at once rather than per row.
    let ids: Vec<i64> = items
        .iter()
        .filter_map(|i| i.get("_id").and_then(Value::as_str).and_then(parse_id))
        .collect();
    let wants = |k: &str| kind == Kind::Case && keys.iter().any(|key| key == k);
    let mut task_stats: std::collections::HashMap<i64, serde_json::Map<String, Value>> =
        Default::default();
    if wants("taskStats") {
        let rows: Vec<(i64, String, i64)> = tasks::table
            .filter(tasks::case_id.eq_any(&ids))
            .filter(access::visible(Entity::Task, &who, "tasks"))
            .group_by((tasks::case_id, tasks::status))
            .select((tasks::case_id, tasks::status, diesel::dsl::count_star()))
            .load(c)?;
        for (case_id, status, n) in rows {
            let m = task_stats.entry(case_id).or_default();
            m.insert(status, json!(n));
        }
    }
    let owners: std::collections::HashMap<i64, i64> = if wants("isOwner") {
        cases::table
            .filter(cases::id.eq_any(&ids))
            .select((cases::id, cases::organisation_id))
            .load::<(i64, i64)>(c)?
            .into_iter()
            .collect()
    } else {
        Default::default()
    };
    // Whether the caller's organisation is asked to act on each task (the items are tasks it
    // sees: it owns their case or the task is shared with it).
    let required: std::collections::HashSet<i64> =
        if kind == Kind::Task && keys.iter().any(|k| k == "actionRequired") {
            use crate::db::schema::action_required;
            action_required::table
                .filter(action_required::task_id.eq_any(&ids))
                .filter(action_required::organisation_id.eq(org))
                .filter(action_required::required.eq(true))
                .select(action_required::task_id)
                .load::<i64>(c)?
                .into_iter()
                .collect()
        } else {
            Default::default()
        };
    for item in items.iter_mut() {
        let Some(id) = item.get("_id").and_then(Value::as_str).and_then(parse_id) else {
            continue;
        };
        let mut extra = serde_json::Map::new();
        for key in keys {
            let v = match (kind, key.as_str()) {
                (Kind::Case, "isOwner") => json!(owners.get(&id) == Some(&org)),
                (Kind::Case, "taskStats") => {
                    let mut m = task_stats.remove(&id).unwrap_or_default();
                    let total: i64 = m.values().filter_map(Value::as_i64).sum();
                    m.insert("total".into(), json!(total));
                    Value::Object(m)
                }
                (Kind::Alert | Kind::Case, "status") => json!({
                    "value": item.get("status"),
                    "stage": item.get("stage"),
                }),
                (Kind::Alert, "importDate") => {
                    item.get("importedDate").cloned().unwrap_or(Value::Null)
                }
                (Kind::Alert, "procedureCount") | (Kind::Case, "procedureCount") => {
                    let q = procedures::table.filter(access::visible(
                        Entity::Procedure,
                        &who,
                        "procedures",
                    ));
                    let n: i64 = if kind == Kind::Alert {
                        q.filter(procedures::alert_id.eq(id))
                            .count()
                            .get_result(c)?
                    } else {
                        q.filter(procedures::case_id.eq(id)).count().get_result(c)?
                    };
                    json!(n)
                }
                (Kind::Alert, "relatedCase") => match item
                    .get("caseId")
                    .and_then(Value::as_str)
                    .and_then(parse_id)
                {
                    Some(case_id) => {
                        let row: Option<(i64, String)> = cases::table
                            .find(case_id)
                            .select((cases::number, cases::access_kind))
                            .first(c)
                            .optional()?;
                        match row {
                            Some((number, kind_of_access)) => {
                                if access::sees(c, Entity::Case, &who, case_id)? {
                                    json!({"number": number, "accessKind": kind_of_access, "isVisible": true})
                                } else {
                                    json!({"isVisible": false})
                                }
                            }
                            None => Value::Null,
                        }
                    }
                    None => Value::Null,
                },
                (Kind::Case, "alertCount") => {
                    let n: i64 = alerts::table
                        .filter(alerts::case_id.eq(id))
                        .filter(access::visible(Entity::Alert, &who, "alerts"))
                        .count()
                        .get_result(c)?;
                    json!(n)
                }
                (Kind::Task | Kind::Observable, "isOwner") => {
                    let owner: Option<i64> = match kind {
                        Kind::Task => tasks::table
                            .find(id)
                            .select(tasks::organisation_id)
                            .first(c)
                            .optional()?,
                        _ => observables::table
                            .find(id)
                            .select(observables::organisation_id)
                            .first(c)
                            .optional()?,
                    };
                    json!(owner == Some(org))
                }
                (Kind::Case, "shareCount") => {
                    let n: i64 = shares::table
                        .filter(shares::case_id.eq(id))
                        .count()
                        .get_result(c)?;
                    json!(n)
                }
                (Kind::Case, "links") => crate::casework::collab::links_of(c, &who, id)?,
                (Kind::Case, "attachmentCount") => {
                    let n: i64 = attachments::table
                        .filter(attachments::owner_id.eq(id))
                        .filter(access::visible(Entity::Attachment, &who, "attachments"))
                        .count()
                        .get_result(c)?;
                    json!(n)
                }
                (Kind::Case, "observableStats") => {
                    let total: i64 = observables::table
                        .filter(observables::case_id.eq(id))
                        .filter(access::visible(Entity::Observable, &who, "observables"))
                        .count()
                        .get_result(c)?;
                    json!({ "total": total })
                }
                (_, "permissions") => json!(caller.permissions),
                (Kind::Task, "caseId") | (Kind::Task, "case") => {
                    let case_id: Option<i64> = tasks::table
                        .find(id)
                        .select(tasks::case_id)
                        .first(c)
                        .optional()?;
                    match (key.as_str(), case_id) {
                        ("caseId", Some(k)) => json!(crate::db::format_id(k)),
                        ("case", Some(k)) => {
                            match cw::find_case(c, &who, &crate::db::format_id(k)) {
                                Ok(row) => {
                                    render::to_value(&crate::render::rendered_case(c, &row)?)
                                }
                                Err(_) => Value::Null,
                            }
                        }
                        _ => Value::Null,
                    }
                }
                (Kind::Task, "actionRequired") => json!(required.contains(&id)),
                (Kind::Task, "actionRequiredMap") => {
                    let t = cw::find_task(c, &who, &crate::db::format_id(id))?;
                    Value::Object(crate::casework::collab::required_actions(
                        c, &t, who.org_id,
                    )?)
                }
                (Kind::Log, "taskId") => {
                    let t: Option<i64> = logs::table
                        .find(id)
                        .select(logs::task_id)
                        .first(c)
                        .optional()?;
                    t.map(|t| json!(crate::db::format_id(t)))
                        .unwrap_or(Value::Null)
                }
                _ => continue,
            };
            extra.insert(key.clone(), v);
        }
        if let Value::Object(o) = item {
            o.insert("extraData".into(), Value::Object(extra));
        }
    }
    Ok(())
}

/// The form of an entity filters and sorts look at: custom fields as
/// `customFields.<name>` (and TheHive 4's `customFields.<name>.<type>`), `imported` and
/// `read` for alerts.
pub fn filter_view(kind: Kind, item: &Value) -> Value {
    let mut view = item.clone();
    if let Value::Object(o) = &mut view {
        if let Some(Value::Array(cfs)) = o.get("customFields") {
            let mut map = serde_json::Map::new();
            for cf in cfs {
                if let (Some(name), Some(t)) = (
                    cf.get("name").and_then(Value::as_str),
                    cf.get("type").and_then(Value::as_str),
                ) {
                    let v = cf.get("value").cloned().unwrap_or(Value::Null);
                    map.insert(name.to_string(), v.clone());
                    map.insert(format!("{name}.{t}"), v);
                }
            }
            o.insert("customFields".into(), Value::Object(map));
        }
        if kind == Kind::Alert {
            let imported = o.contains_key("caseId");
            o.insert("imported".into(), Value::Bool(imported));
        }
    }
    view
}

#[derive(diesel::QueryableByName)]
struct IdRow {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
}

#[derive(diesel::QueryableByName)]
struct CountRow {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// What a query pushed down to SQL answers: the page (or all) and the total if asked, or a
/// count.
pub enum SqlOutcome {
    /// Entities, and the total when the page asked for it.
    Items(Vec<Value>, Option<usize>),
    /// A count.
    Count(usize),
}

/// Most values bound in one translated query.
const MAX_BINDS: usize = 30_000;

/// Runs `list<Kind>` followed only by filters, sorts and a final page or count in SQL.
/// `None` when the chain holds anything else or a filter the SQL translation does not
/// cover; the caller then evaluates it in memory.
pub fn try_sql(
    c: &mut DbConn,
    caller: &Caller,
    selection: &str,
    ops: &[Value],
) -> Result<Option<SqlOutcome>, ApiError> {
    try_sql_capped(c, caller, selection, ops, None)
}

/// [`try_sql`], with the total (or count) counted up to `cap + 1` matches only when `cap` is
/// set: a total above `cap` means "more than `cap`". The console's lists show totals so, which
/// stay cheap among millions of rows; the API's totals are exact.
pub fn try_sql_capped(
    c: &mut DbConn,
    caller: &Caller,
    selection: &str,
    ops: &[Value],
    cap: Option<usize>,
) -> Result<Option<SqlOutcome>, ApiError> {
    use crate::casework::sql::{self, Bind, Sql};
    use shared_models::query::{Filter, Sort};
    let (kind, table) = match selection {
        "listAlert" => (Kind::Alert, sql::ALERTS),
        "listCase" => (Kind::Case, sql::CASES),
        "listObservable" => (Kind::Observable, sql::OBSERVABLES),
        "listTask" => (Kind::Task, sql::TASKS),
        "listLog" => (Kind::Log, sql::LOGS),
        _ => return Ok(None),
    };
    let mut filters = Vec::new();
    let mut sort = Sort(Vec::new());
    let mut page: Option<(usize, Option<usize>, bool)> = None;
    let mut count = false;
    let mut extras: Vec<String> = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        let last = i + 1 == ops.len();
        match op.get("_name").and_then(Value::as_str) {
            Some("filter" | "_filter") => match Filter::parse(op) {
                Ok(f) => filters.push(f),
                Err(_) => return Ok(None),
            },
            Some("sort" | "_sort") => {
                let fields = op
                    .get("_fields")
                    .or_else(|| op.get("fields"))
                    .unwrap_or(&Value::Null);
                match Sort::from_fields(fields) {
                    Ok(s) => sort = s,
                    Err(_) => return Ok(None),
                }
            }
            Some("page") if last => {
                let from = op.get("from").and_then(Value::as_u64).unwrap_or(0) as usize;
                let to = op.get("to").and_then(Value::as_u64).map(|t| t as usize);
                let (total, more) = page_extra_data(op);
                extras = more;
                page = Some((from, to, total));
            }
            Some("count" | "limitedCount") if last => count = true,
            _ => return Ok(None),
        }
    }
    for f in &filters {
        for field in f.fields() {
            let root = field.split('.').next().unwrap_or(field);
            if !kind.fields().contains(&root) && !root.starts_with('_') {
                return Ok(None);
            }
        }
    }
    let pg = matches!(c, DbConn::Postgresql(_));
    let mut wh = Sql::new(pg);
    wh.push(&format!(" FROM {} WHERE ", table.name));
    crate::access::visible(
        kind.entity().ok_or(ApiError::internal("no access rule"))?,
        &cw::Actor::of(caller),
        table.name,
    )
    .write(&mut wh);
    for f in &filters {
        wh.push(" AND ");
        if sql::filter(&mut wh, &table, f).is_err() {
            return Ok(None);
        }
    }
    // PostgreSQL takes at most 65,535 bound values in a statement (SQLite about 250,000).
    if wh.binds.len() > MAX_BINDS {
        return Err(ApiError::Search(format!(
            "this query holds more than {MAX_BINDS} values; split it"
        )));
    }
    let order = match sql::order_by(&table, &sort) {
        Ok(o) => o,
        Err(_) => return Ok(None),
    };
    let by_tag = if kind == Kind::Alert {
        alert_count_by_tag(pg, caller, &filters)
    } else {
        None
    };
    let count_of = |c: &mut DbConn| -> Result<usize, ApiError> {
        let mut q = match &by_tag {
            Some(TagCount::Sum(q)) => {
                // A sum of a few counter rows: exact and cheap, whatever the cap.
                let mut q = q.clone();
                q.text = format!("SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) AS n{}", q.text);
                let rows: Vec<CountRow> = q.load(c)?;
                return Ok(rows.first().map(|r| r.n.max(0) as usize).unwrap_or(0));
            }
            Some(TagCount::Rows(q)) => q.clone(),
            None => wh.clone(),
        };
        q.text = match cap {
            None => format!("SELECT COUNT(*) AS n{}", q.text),
            Some(cap) => format!(
                "SELECT COUNT(*) AS n FROM (SELECT 1 AS one{} LIMIT {}) AS capped",
                q.text,
                cap.saturating_add(1)
            ),
        };
        let rows: Vec<CountRow> = q.load(c)?;
        Ok(rows.first().map(|r| r.n.max(0) as usize).unwrap_or(0))
    };
    if count {
        return Ok(Some(SqlOutcome::Count(count_of(c)?)));
    }
    let mut q = wh.clone();
    q.text = format!("SELECT {}.id AS id{} ORDER BY {order}", table.name, q.text);
    let mut total = None;
    if let Some((from, to, with_total)) = page {
        let limit = to
            .map(|t| t.saturating_sub(from))
            .unwrap_or(i64::MAX as usize);
        q.push(" LIMIT ");
        q.bind(Bind::I(limit.min(i64::MAX as usize) as i64));
        q.push(" OFFSET ");
        q.bind(Bind::I(from.min(i64::MAX as usize) as i64));
        if with_total {
            total = Some(count_of(c)?);
        }
    }
    let ids: Vec<i64> = q.load::<IdRow>(c)?.into_iter().map(|r| r.id).collect();
    let mut items = load_in_order(c, kind, &ids)?;
    add_extra(c, caller, kind, &mut items, &extras)?;
    Ok(Some(SqlOutcome::Items(items, total)))
}

/// How a count of alerts is read without the alerts table (see [`alert_count_by_tag`]).
enum TagCount {
    /// `FROM alert_tag_counts WHERE ...`: the sum of the counter rows' `n`.
    Sum(crate::casework::sql::Sql),
    /// `FROM alert_tags WHERE ...`: the number of rows.
    Rows(crate::casework::sql::Sql),
}

/// The count of alerts matching `filters` read from the tag tables alone, when the filters
/// are one conjunction holding exactly one tag equality and otherwise only fields those
/// tables keep: each alert then has exactly one row of `alert_tags` that matches, so counting
/// rows counts alerts. With status, severity, read flag and "in a case" only (the analyst's
/// inbox: status New, a tag, severity at least 3; v0's status New: unread, in no case), the
/// count is a sum over the few rows of `alert_tag_counts` for that tag, whatever the number
/// of alerts; with a case id, a range of `alert_tags`'s index. `None`: count the alerts.
fn alert_count_by_tag(
    pg: bool,
    caller: &Caller,
    filters: &[shared_models::query::Filter],
) -> Option<TagCount> {
    alert_count_on(pg, caller, filters, &crate::casework::sql::ALERT_TAG_COUNTS)
        .map(TagCount::Sum)
        .or_else(|| {
            alert_count_on(pg, caller, filters, &crate::casework::sql::ALERT_TAGS)
                .map(TagCount::Rows)
        })
}

/// The `FROM table WHERE ...` of [`alert_count_by_tag`] on one of the tag tables.
fn alert_count_on(
    pg: bool,
    caller: &Caller,
    filters: &[shared_models::query::Filter],
    table: &crate::casework::sql::Table,
) -> Option<crate::casework::sql::Sql> {
    use crate::casework::sql::{self, Sql};
    use shared_models::query::{CmpOp, Filter};
    fn conjuncts<'a>(f: &'a Filter, out: &mut Vec<&'a Filter>) {
        match f {
            Filter::And(items) => items.iter().for_each(|i| conjuncts(i, out)),
            Filter::Any => {}
            other => out.push(other),
        }
    }
    let mut all = Vec::new();
    filters.iter().for_each(|f| conjuncts(f, &mut all));
    let is_tag_eq = |f: &Filter| matches!(f, Filter::Cmp { op: CmpOp::Eq, field, value: Value::String(_) } if field == "tags");
    if all.iter().filter(|f| is_tag_eq(f)).count() != 1 {
        return None;
    }
    let mut q = Sql::new(pg);
    q.push(&format!(" FROM {} WHERE ", table.name));
    crate::access::visible(Entity::Alert, &cw::Actor::of(caller), table.name).write(&mut q);
    for f in &all {
        if !is_tag_eq(f)
            && f.fields()
                .iter()
                .any(|field| field.split('.').next() == Some("tags"))
        {
            return None;
        }
        q.push(" AND ");
        sql::filter(&mut q, table, f).ok()?;
    }
    Some(q)
}

fn load_in_order(c: &mut DbConn, kind: Kind, ids: &[i64]) -> Result<Vec<Value>, ApiError> {
    fn order<T>(rows: Vec<T>, ids: &[i64], id: impl Fn(&T) -> i64) -> Vec<T> {
        let mut by_id: std::collections::HashMap<i64, T> =
            rows.into_iter().map(|r| (id(&r), r)).collect();
        ids.iter().filter_map(|i| by_id.remove(i)).collect()
    }
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        out.extend(match kind {
            Kind::Alert => {
                let rows: Vec<AlertRow> = alerts::table
                    .filter(alerts::id.eq_any(chunk))
                    .select(AlertRow::as_select())
                    .load(c)?;
                alerts_out(c, &order(rows, chunk, |r| r.id))?
            }
            Kind::Case => {
                let rows: Vec<CaseRow> = cases::table
                    .filter(cases::id.eq_any(chunk))
                    .select(CaseRow::as_select())
                    .load(c)?;
                cases_out(c, &order(rows, chunk, |r| r.id))?
            }
            Kind::Observable => {
                let rows: Vec<ObservableRow> = observables::table
                    .filter(observables::id.eq_any(chunk))
                    .select(ObservableRow::as_select())
                    .load(c)?;
                observables_out(c, &order(rows, chunk, |r| r.id))?
            }
            Kind::Task => {
                let rows: Vec<TaskRow> = tasks::table
                    .filter(tasks::id.eq_any(chunk))
                    .select(TaskRow::as_select())
                    .load(c)?;
                tasks_out(&order(rows, chunk, |r| r.id))
            }
            Kind::Log => {
                let rows: Vec<LogRow> = logs::table
                    .filter(logs::id.eq_any(chunk))
                    .select(LogRow::as_select())
                    .load(c)?;
                logs_out(c, &order(rows, chunk, |r| r.id))?
            }
            _ => Vec::new(),
        });
    }
    Ok(out)
}

/// A `page` step's `extraData`: whether it asks for the total, and the other names.
pub fn page_extra_data(op: &Value) -> (bool, Vec<String>) {
    let names: Vec<&str> = op
        .get("extraData")
        .and_then(Value::as_array)
        .map(|e| e.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let total = names.contains(&"total");
    let extras = names
        .into_iter()
        .filter(|x| *x != "total")
        .map(str::to_string)
        .collect();
    (total, extras)
}
