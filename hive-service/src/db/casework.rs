//! Rows of the case-work tables (alerts, cases, observables, tasks...). Tags, tasks of
//! templates and template custom fields are JSON text.

use super::schema::*;
use diesel::prelude::*;

/// A row of `attachments`.
#[derive(
    Debug, Clone, Queryable, Selectable, Insertable, Identifiable, AsChangeset, serde::Serialize,
)]
#[diesel(table_name = attachments, treat_none_as_null = true)]
#[serde(rename_all = "camelCase")]
pub struct AttachmentRow {
    pub id: i64,
    pub organisation_id: i64,
    pub owner_id: Option<i64>,
    pub name: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub sha1: String,
    pub md5: String,
    pub created_by: String,
    pub created_at: i64,
}

service_kit::row! {
    /// A row of `case_templates`.
    #[derive(Debug, Clone, Queryable, Selectable, Insertable, Identifiable, AsChangeset, serde::Serialize)]
    #[diesel(table_name = case_templates, treat_none_as_null = true)]
    #[serde(rename_all = "camelCase")]
    pub struct CaseTemplateRow {
        pub id: i64,
        pub organisation_id: i64,
        pub name: String,
        pub display_name: String,
        pub title_prefix: Option<String>,
        pub description: Option<String>,
        pub severity: Option<i32>,
        pub tags: String,
        pub flag: bool,
        pub tlp: Option<i32>,
        pub pap: Option<i32>,
        pub summary: Option<String>,
        pub tasks: String,
        audit_fields,
        pub page_template_ids: String,
    }
}

service_kit::row! {
    /// A row of `cases`.
    #[derive(Debug, Clone, Queryable, Selectable, Insertable, Identifiable, AsChangeset, serde::Serialize)]
    #[diesel(table_name = cases, treat_none_as_null = true)]
    #[serde(rename_all = "camelCase")]
    pub struct CaseRow {
        pub id: i64,
        pub number: i64,
        pub organisation_id: i64,
        pub title: String,
        pub description: String,
        pub severity: i32,
        pub start_date: i64,
        pub end_date: Option<i64>,
        pub tags: String,
        pub flag: bool,
        pub tlp: i32,
        pub pap: i32,
        pub status: String,
        pub stage: String,
        pub summary: Option<String>,
        pub impact_status: Option<String>,
        pub assignee: Option<String>,
        pub case_template: Option<String>,
        pub access_kind: String,
        pub access_users: Option<String>,
        pub in_progress_date: Option<i64>,
        pub closed_date: Option<i64>,
        pub alert_date: Option<i64>,
        pub alert_new_date: Option<i64>,
        pub alert_imported_date: Option<i64>,
        audit_fields,
    }
}

service_kit::row! {
    /// A row of `alerts`.
    #[derive(Debug, Clone, Queryable, Selectable, Insertable, Identifiable, AsChangeset, serde::Serialize)]
    #[diesel(table_name = alerts, treat_none_as_null = true)]
    #[serde(rename_all = "camelCase")]
    pub struct AlertRow {
        pub id: i64,
        pub organisation_id: i64,
        #[serde(rename = "type")]
        pub alert_type: String,
        pub source: String,
        pub source_ref: String,
        pub external_link: Option<String>,
        pub title: String,
        pub description: String,
        pub severity: i32,
        pub date: i64,
        pub tags: String,
        pub flag: bool,
        pub tlp: i32,
        pub pap: i32,
        pub follow: bool,
        pub status: String,
        pub stage: String,
        pub summary: Option<String>,
        pub assignee: Option<String>,
        pub case_template: Option<String>,
        pub case_id: Option<i64>,
        #[serde(rename = "read")]
        pub is_read: bool,
        pub last_sync_date: Option<i64>,
        pub in_progress_date: Option<i64>,
        pub closed_date: Option<i64>,
        pub imported_date: Option<i64>,
        audit_fields,
    }
}

/// A row of `custom_values`.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, Identifiable, AsChangeset)]
#[diesel(table_name = custom_values, treat_none_as_null = true)]
pub struct CustomValueRow {
    pub id: i64,
    pub entity_id: i64,
    pub field_id: i64,
    pub position: i32,
    pub value: String,
}

service_kit::row! {
    /// A row of `observables`.
    #[derive(Debug, Clone, Queryable, Selectable, Insertable, Identifiable, AsChangeset, serde::Serialize)]
    #[diesel(table_name = observables, treat_none_as_null = true)]
    #[serde(rename_all = "camelCase")]
    pub struct ObservableRow {
        pub id: i64,
        pub organisation_id: i64,
        pub case_id: Option<i64>,
        pub alert_id: Option<i64>,
        pub data_type: String,
        pub data: Option<String>,
        pub attachment_id: Option<i64>,
        #[serde(skip)]
        pub data_hash: String,
        pub tlp: i32,
        pub pap: i32,
        pub tags: String,
        pub ioc: bool,
        pub sighted: bool,
        pub sighted_at: Option<i64>,
        pub ignore_similarity: bool,
        pub message: Option<String>,
        #[serde(skip)]
        pub reports: String,
        audit_fields,
    }
}

service_kit::row! {
    /// A row of `tasks`.
    #[derive(Debug, Clone, Queryable, Selectable, Insertable, Identifiable, AsChangeset, serde::Serialize)]
    #[diesel(table_name = tasks, treat_none_as_null = true)]
    #[serde(rename_all = "camelCase")]
    pub struct TaskRow {
        pub id: i64,
        pub case_id: i64,
        pub organisation_id: i64,
        pub title: String,
        #[serde(rename = "group")]
        pub group_name: String,
        pub description: Option<String>,
        pub status: String,
        pub flag: bool,
        pub start_date: Option<i64>,
        pub end_date: Option<i64>,
        #[serde(rename = "order")]
        pub task_order: i64,
        pub due_date: Option<i64>,
        pub assignee: Option<String>,
        pub mandatory: bool,
        audit_fields,
    }
}

service_kit::row! {
    /// A row of `logs`.
    #[derive(Debug, Clone, Queryable, Selectable, Insertable, Identifiable, AsChangeset, serde::Serialize)]
    #[diesel(table_name = logs, treat_none_as_null = true)]
    #[serde(rename_all = "camelCase")]
    pub struct LogRow {
        pub id: i64,
        pub task_id: i64,
        pub organisation_id: i64,
        pub message: String,
        pub date: i64,
        pub owner: String,
        pub include_in_timeline: Option<i64>,
        audit_fields,
    }
}

service_kit::row! {
    /// A row of `comments`.
    #[derive(Debug, Clone, Queryable, Selectable, Insertable, Identifiable, AsChangeset, serde::Serialize)]
    #[diesel(table_name = comments, treat_none_as_null = true)]
    #[serde(rename_all = "camelCase")]
    pub struct CommentRow {
        pub id: i64,
        pub organisation_id: i64,
        pub case_id: Option<i64>,
        pub alert_id: Option<i64>,
        pub message: String,
        pub is_edited: bool,
        audit_fields,
    }
}

service_kit::row! {
    /// A row of `procedures`.
    #[derive(Debug, Clone, Queryable, Selectable, Insertable, Identifiable, AsChangeset, serde::Serialize)]
    #[diesel(table_name = procedures, treat_none_as_null = true)]
    #[serde(rename_all = "camelCase")]
    pub struct ProcedureRow {
        pub id: i64,
        pub organisation_id: i64,
        pub case_id: Option<i64>,
        pub alert_id: Option<i64>,
        pub pattern_id: String,
        pub tactic: Option<String>,
        pub description: Option<String>,
        pub occur_date: i64,
        audit_fields,
    }
}

service_kit::row! {
    /// A row of `pages`.
    #[derive(Debug, Clone, Queryable, Selectable, Insertable, Identifiable, AsChangeset, serde::Serialize)]
    #[diesel(table_name = pages, treat_none_as_null = true)]
    #[serde(rename_all = "camelCase")]
    pub struct PageRow {
        pub id: i64,
        pub organisation_id: i64,
        pub case_id: Option<i64>,
        pub title: String,
        pub content: String,
        pub category: String,
        #[serde(rename = "order")]
        pub page_order: i64,
        audit_fields,
    }
}

service_kit::row! {
    /// A row of `custom_events`.
    #[derive(Debug, Clone, Queryable, Selectable, Insertable, Identifiable, AsChangeset, serde::Serialize)]
    #[diesel(table_name = custom_events, treat_none_as_null = true)]
    #[serde(rename_all = "camelCase")]
    pub struct CustomEventRow {
        pub id: i64,
        pub organisation_id: i64,
        pub case_id: i64,
        pub date: i64,
        pub end_date: Option<i64>,
        pub title: String,
        pub description: Option<String>,
        audit_fields,
    }
}

/// A row of `case_links`.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, Identifiable, AsChangeset)]
#[diesel(table_name = case_links, treat_none_as_null = true)]
pub struct CaseLinkRow {
    pub id: i64,
    pub case_id: i64,
    pub link_type: String,
    pub linked_case_id: Option<i64>,
    pub url: Option<String>,
    pub created_by: String,
    pub created_at: i64,
}

service_kit::row! {
    /// A row of `shares`.
    #[derive(Debug, Clone, Queryable, Selectable, Insertable, Identifiable, AsChangeset, serde::Serialize)]
    #[diesel(table_name = shares, treat_none_as_null = true)]
    #[serde(rename_all = "camelCase")]
    pub struct ShareRow {
        pub id: i64,
        pub case_id: i64,
        pub organisation_id: i64,
        pub profile_id: i64,
        pub task_rule: String,
        pub observable_rule: String,
        audit_fields,
    }
}

/// A row of `shared_items`.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = shared_items, primary_key(entity_id, organisation_id))]
pub struct SharedItemRow {
    pub entity_id: i64,
    pub organisation_id: i64,
}

/// A row of `action_required`.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = action_required, primary_key(task_id, organisation_id))]
pub struct ActionRequiredRow {
    pub task_id: i64,
    pub organisation_id: i64,
    pub required: bool,
}

/// A row of `organisation_links`.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = organisation_links, primary_key(organisation_id, other_id))]
pub struct OrganisationLinkRow {
    pub organisation_id: i64,
    pub other_id: i64,
    pub link_type: String,
}

service_kit::row! {
    /// A row of `cortex_jobs`: an analyzer job (`kind` `analyzer`, on an observable) or a
    /// responder action (`kind` `responder`, on a case, task, log, observable or alert).
    #[derive(Debug, Clone, Queryable, Selectable, Insertable, Identifiable, AsChangeset)]
    #[diesel(table_name = cortex_jobs, treat_none_as_null = true)]
    pub struct CortexJobRow {
        pub id: i64,
        pub organisation_id: i64,
        /// `analyzer` or `responder`.
        pub kind: String,
        /// `case_artifact` (analyzers), `case`, `case_task`, `case_task_log`, `alert`.
        pub object_type: String,
        pub object_id: i64,
        /// The server's name.
        pub cortex_id: String,
        /// The worker's id on that server (or its name until the server answered).
        pub worker_id: String,
        pub worker_name: String,
        pub worker_definition: String,
        /// This job's id in the submission (unique; answers are matched on it).
        pub request_id: String,
        pub cortex_job_id: Option<String>,
        pub status: String,
        pub start_date: i64,
        pub end_date: Option<i64>,
        /// JSON of the report once ended.
        pub report: Option<String>,
        /// JSON array of the operations with their outcome.
        pub operations: String,
        /// JSON object of the job parameters.
        pub parameters: String,
        pub tlp: Option<i32>,
        /// `pending`, `sent` or `done`.
        pub dispatch: String,
        /// `rest` or `amqp`.
        pub transport: String,
        pub attempts: i32,
        pub next_attempt: i64,
        audit_fields,
    }
}
