//! Case work in TheHive 5's shapes (`/api/v1`): alerts, cases, observables, attachments,
//! tasks, task logs, case templates and custom field values, as thehive4py 2.x sends and
//! reads them.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// The meta fields every v1 entity carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Meta {
    /// Id, `~<number>`.
    #[serde(rename = "_id")]
    pub id: String,
    /// Entity type (`Alert`, `Case`...).
    #[serde(rename = "_type")]
    pub kind: String,
    /// Login of the creator.
    #[serde(rename = "_createdBy")]
    pub created_by: String,
    /// Creation, epoch ms.
    #[serde(rename = "_createdAt")]
    pub created_at: i64,
    /// Login of the last updater (absent until the first update).
    #[serde(
        rename = "_updatedBy",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub updated_by: Option<String>,
    /// Last update, epoch ms.
    #[serde(
        rename = "_updatedAt",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub updated_at: Option<i64>,
}

/// A string or a list of strings (`data` of an observable, `attachment`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    /// One value.
    One(T),
    /// Several values.
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    /// The values as a list.
    pub fn into_vec(self) -> Vec<T> {
        match self {
            OneOrMany::One(v) => vec![v],
            OneOrMany::Many(v) => v,
        }
    }
}

/// A custom field value as TheHive 5 shows it; multi-valued fields repeat the name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OutputCustomFieldValue {
    /// Id of this value (for `DELETE /api/v1/case/customField/{id}`).
    #[serde(rename = "_id")]
    pub id: String,
    /// Field name.
    pub name: String,
    /// Field type.
    #[serde(rename = "type")]
    pub field_type: String,
    /// Value (null when unset).
    pub value: Value,
    /// Position.
    pub order: i64,
}

/// A file stored by content hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutputAttachment {
    /// Meta fields (`_type` is `Attachment`).
    #[serde(flatten)]
    pub meta: Meta,
    /// File name.
    pub name: String,
    /// SHA-256, SHA-1 and MD5 of the content, hex.
    pub hashes: Vec<String>,
    /// Size in bytes.
    pub size: i64,
    /// MIME type.
    pub content_type: String,
    /// Storage id: the SHA-256 of the content.
    #[serde(rename = "id")]
    pub content_id: String,
    /// Always empty.
    pub extra_data: Map<String, Value>,
    /// Whether the file lives outside TheHive (never).
    pub external: bool,
}

/// An alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutputAlert {
    /// Meta fields (`_type` is `Alert`).
    #[serde(flatten)]
    pub meta: Meta,
    /// Alert type (`email report`...).
    #[serde(rename = "type")]
    pub alert_type: String,
    /// Feeder (`Internal mail Server`...).
    pub source: String,
    /// The feeder's reference; (type, source, sourceRef) is unique per organisation.
    pub source_ref: String,
    /// Link to the source.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub external_link: Option<String>,
    /// Title.
    pub title: String,
    /// Description (markdown).
    pub description: String,
    /// 1 LOW .. 4 CRITICAL.
    pub severity: i32,
    /// Label of `severity`.
    pub severity_label: String,
    /// When the event happened, epoch ms.
    pub date: i64,
    /// Tags.
    pub tags: Vec<String>,
    /// Traffic Light Protocol, 0 CLEAR .. 4 RED.
    pub tlp: i32,
    /// Label of `tlp`.
    pub tlp_label: String,
    /// Permissible Actions Protocol, 0 CLEAR .. 3 RED.
    pub pap: i32,
    /// Label of `pap`.
    pub pap_label: String,
    /// Whether updates of the source reopen the alert.
    pub follow: bool,
    /// Flagged.
    pub flag: bool,
    /// Custom field values.
    pub custom_fields: Vec<OutputCustomFieldValue>,
    /// Case template applied on promotion.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub case_template: Option<String>,
    /// Number of observables.
    pub observable_count: i64,
    /// The case it was imported into.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub case_id: Option<String>,
    /// Status (`New`, `InProgress`, `Imported`, or a closed one).
    pub status: String,
    /// Stage of the status (`New`, `InProgress`, `Imported`, `Closed`).
    pub stage: String,
    /// Login of the assignee.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub assignee: Option<String>,
    /// Summary.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub summary: Option<String>,
    /// Extra data asked for in a query.
    pub extra_data: Map<String, Value>,
    /// When it arrived.
    pub new_date: i64,
    /// When it went InProgress.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub in_progress_date: Option<i64>,
    /// When it was closed.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub closed_date: Option<i64>,
    /// When it was imported into a case.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub imported_date: Option<i64>,
    /// `newDate - date`, ms.
    pub time_to_detect: i64,
    /// `inProgressDate - newDate`, ms.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub time_to_triage: Option<i64>,
    /// `closedDate or importedDate - newDate`, ms.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub time_to_qualify: Option<i64>,
    /// `importedDate - newDate`, ms.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub time_to_acknowledge: Option<i64>,
}

/// Who may see a case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CaseAccess {
    /// `OrganisationAccessKind` (everyone in the organisations it is shared with) or
    /// `UserAccessKind` (only `users`).
    #[serde(rename = "_kind")]
    pub kind: String,
    /// Logins allowed, for `UserAccessKind`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub users: Option<Vec<String>>,
}

/// A case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutputCase {
    /// Meta fields (`_type` is `Case`).
    #[serde(flatten)]
    pub meta: Meta,
    /// Instance-wide number; usable wherever a case id is.
    pub number: i64,
    /// Title.
    pub title: String,
    /// Description (markdown).
    pub description: String,
    /// 1 LOW .. 4 CRITICAL.
    pub severity: i32,
    /// Label of `severity`.
    pub severity_label: String,
    /// Start, epoch ms.
    pub start_date: i64,
    /// End (set on closing), epoch ms.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub end_date: Option<i64>,
    /// Tags.
    pub tags: Vec<String>,
    /// Flagged.
    pub flag: bool,
    /// TLP 0..4.
    pub tlp: i32,
    /// Label of `tlp`.
    pub tlp_label: String,
    /// PAP 0..3.
    pub pap: i32,
    /// Label of `pap`.
    pub pap_label: String,
    /// `New`, `InProgress` or a closed status (`TruePositive`...).
    pub status: String,
    /// `New`, `InProgress` or `Closed`.
    pub stage: String,
    /// Summary (on closing).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub summary: Option<String>,
    /// `NotApplicable`, `WithImpact` or `NoImpact`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub impact_status: Option<String>,
    /// Login of the assignee.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub assignee: Option<String>,
    /// Who may see it.
    pub access: CaseAccess,
    /// Custom field values.
    pub custom_fields: Vec<OutputCustomFieldValue>,
    /// Name of the template it was built from.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub case_template: Option<String>,
    /// Extra data asked for in a query.
    pub extra_data: Map<String, Value>,
    /// Creation, epoch ms.
    pub new_date: i64,
    /// When it went InProgress.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub in_progress_date: Option<i64>,
    /// When it was closed.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub closed_date: Option<i64>,
    /// Date of the alert it came from.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub alert_date: Option<i64>,
    /// Arrival of that alert.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub alert_new_date: Option<i64>,
    /// When that alert was imported.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub alert_imported_date: Option<i64>,
    /// `alertNewDate - alertDate`, else 0, ms.
    pub time_to_detect: i64,
    /// `alertImportedDate - alertNewDate`, ms.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub time_to_triage: Option<i64>,
    /// `closedDate - newDate`, ms.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub time_to_resolve: Option<i64>,
    /// `endDate - startDate`, ms.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub handling_duration: Option<i64>,
}

/// An observable of a case or an alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutputObservable {
    /// Meta fields (`_type` is `Observable`).
    #[serde(flatten)]
    pub meta: Meta,
    /// Observable type (`ip`, `file`...).
    pub data_type: String,
    /// Value (absent for files).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub data: Option<String>,
    /// Creation, epoch ms.
    pub start_date: i64,
    /// The file, for attachment types.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub attachment: Option<OutputAttachment>,
    /// TLP 0..4.
    pub tlp: i32,
    /// Label of `tlp`.
    pub tlp_label: String,
    /// PAP 0..3.
    pub pap: i32,
    /// Label of `pap`.
    pub pap_label: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Indicator of compromise.
    pub ioc: bool,
    /// Seen in the organisation.
    pub sighted: bool,
    /// When it was seen.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sighted_at: Option<i64>,
    /// Analyzer summaries, by analyzer name.
    pub reports: Map<String, Value>,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub message: Option<String>,
    /// Extra data asked for in a query.
    pub extra_data: Map<String, Value>,
    /// Left out of similarity.
    pub ignore_similarity: bool,
    /// Whether it comes from another platform (never).
    pub external: bool,
}

/// A task of a case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutputTask {
    /// Meta fields (`_type` is `Task`).
    #[serde(flatten)]
    pub meta: Meta,
    /// Title.
    pub title: String,
    /// Group (`default`).
    pub group: String,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub description: Option<String>,
    /// `Waiting`, `InProgress`, `Completed` or `Cancel`.
    pub status: String,
    /// Flagged.
    pub flag: bool,
    /// Start, epoch ms.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub start_date: Option<i64>,
    /// End, epoch ms.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub end_date: Option<i64>,
    /// Login of the assignee.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub assignee: Option<String>,
    /// Position in its group.
    pub order: i64,
    /// Due date, epoch ms.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub due_date: Option<i64>,
    /// Must be completed before the case closes.
    pub mandatory: bool,
    /// Extra data asked for in a query.
    pub extra_data: Map<String, Value>,
}

/// A task log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutputLog {
    /// Meta fields (`_type` is `Log`).
    #[serde(flatten)]
    pub meta: Meta,
    /// Text (markdown).
    pub message: String,
    /// Date, epoch ms.
    pub date: i64,
    /// Attached files.
    pub attachments: Vec<OutputAttachment>,
    /// The first file, as TheHive 4 showed a log's one file (thehive4py 1.x reads it to
    /// download it).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub attachment: Option<OutputAttachment>,
    /// Author login.
    pub owner: String,
    /// Date under which it shows in the timeline.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub include_in_timeline: Option<i64>,
    /// Extra data asked for in a query.
    pub extra_data: Map<String, Value>,
}

/// A case template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutputCaseTemplate {
    /// Meta fields (`_type` is `CaseTemplate`).
    #[serde(flatten)]
    pub meta: Meta,
    /// Unique name in the organisation.
    pub name: String,
    /// Display name.
    pub display_name: String,
    /// Prefix of the titles of cases built from it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub title_prefix: Option<String>,
    /// Description of the cases.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub description: Option<String>,
    /// Severity of the cases.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub severity: Option<i32>,
    /// Label of `severity`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub severity_label: Option<String>,
    /// Tags added to the cases.
    pub tags: Vec<String>,
    /// Flag of the cases.
    pub flag: bool,
    /// TLP of the cases.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub tlp: Option<i32>,
    /// Label of `tlp`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub tlp_label: Option<String>,
    /// PAP of the cases.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pap: Option<i32>,
    /// Label of `pap`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pap_label: Option<String>,
    /// Summary of the cases.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub summary: Option<String>,
    /// Custom field values of the cases.
    pub custom_fields: Vec<OutputCustomFieldValue>,
    /// Tasks of the cases.
    pub tasks: Vec<OutputTask>,
    /// Page templates linked to it.
    pub page_template_ids: Vec<String>,
    /// Extra data asked for in a query.
    pub extra_data: Map<String, Value>,
}

/// `POST /api/v1/case/{id}/task`, and tasks inside cases and templates.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InputTask {
    /// Title (at most 128 characters).
    pub title: String,
    /// Group (default `default`).
    #[serde(default)]
    pub group: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// `Waiting` (default), `InProgress`, `Completed` or `Cancel`.
    #[serde(default)]
    pub status: Option<String>,
    /// Flagged (default false).
    #[serde(default)]
    pub flag: Option<bool>,
    /// Start, epoch ms.
    #[serde(default)]
    pub start_date: Option<i64>,
    /// End, epoch ms.
    #[serde(default)]
    pub end_date: Option<i64>,
    /// Position (default: after the others).
    #[serde(default)]
    pub order: Option<i64>,
    /// Due date, epoch ms.
    #[serde(default)]
    pub due_date: Option<i64>,
    /// Login of the assignee.
    #[serde(default)]
    pub assignee: Option<String>,
    /// Must be completed before the case closes (default false).
    #[serde(default)]
    pub mandatory: Option<bool>,
}

/// An observable to create (in a case, an alert, or inside a new alert).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InputObservable {
    /// Observable type; must exist.
    pub data_type: String,
    /// One value, or several (one observable each).
    #[serde(default)]
    #[schema(schema_with = one_or_many_strings)]
    pub data: Option<OneOrMany<String>>,
    /// Description.
    #[serde(default)]
    pub message: Option<String>,
    /// Ignored (the creation date is used).
    #[serde(default)]
    pub start_date: Option<i64>,
    /// Name of a multipart file part, or several.
    #[serde(default)]
    #[schema(value_type = serde_json::Value)]
    pub attachment: Option<Value>,
    /// TLP 0..4 (default 2).
    #[serde(default)]
    pub tlp: Option<i32>,
    /// PAP 0..3 (default 2).
    #[serde(default)]
    pub pap: Option<i32>,
    /// Tags.
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// Indicator of compromise (default false).
    #[serde(default)]
    pub ioc: Option<bool>,
    /// Seen (default false).
    #[serde(default)]
    pub sighted: Option<bool>,
    /// When it was seen.
    #[serde(default)]
    pub sighted_at: Option<i64>,
    /// Leave out of similarity (default false).
    #[serde(default)]
    pub ignore_similarity: Option<bool>,
    /// Files inside a zip (not supported: 400).
    #[serde(default)]
    pub is_zip: Option<bool>,
    /// Password of that zip.
    #[serde(default)]
    pub zip_password: Option<String>,
}

/// `POST /api/v1/alert`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InputAlert {
    /// Type (at most 32 characters).
    #[serde(rename = "type")]
    pub alert_type: String,
    /// Source (at most 32 characters).
    pub source: String,
    /// Reference in the source (at most 128 characters).
    pub source_ref: String,
    /// Link to the source.
    #[serde(default)]
    pub external_link: Option<String>,
    /// Title (at most 512 characters).
    pub title: String,
    /// Description (at most 1 MiB).
    pub description: String,
    /// 1..4 (default 2).
    #[serde(default)]
    pub severity: Option<i32>,
    /// Event date (default now).
    #[serde(default)]
    pub date: Option<i64>,
    /// Tags.
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// Flagged.
    #[serde(default)]
    pub flag: Option<bool>,
    /// TLP 0..4 (default 2).
    #[serde(default)]
    pub tlp: Option<i32>,
    /// PAP 0..3 (default 2).
    #[serde(default)]
    pub pap: Option<i32>,
    /// `{name: value}` or `[{name, value, order}]`.
    #[serde(default)]
    #[schema(value_type = serde_json::Value)]
    pub custom_fields: Option<Value>,
    /// Summary.
    #[serde(default)]
    pub summary: Option<String>,
    /// Status (`New` default).
    #[serde(default)]
    pub status: Option<String>,
    /// Login of the assignee.
    #[serde(default)]
    pub assignee: Option<String>,
    /// Case template for promotion (name or id).
    #[serde(default)]
    pub case_template: Option<String>,
    /// Observables, created with the alert in one transaction.
    #[serde(default)]
    pub observables: Option<Vec<InputObservable>>,
    /// Procedures (ATT&CK patterns seen).
    #[serde(default)]
    pub procedures: Option<Vec<InputProcedure>>,
}

/// `POST /api/v1/case`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InputCase {
    /// Title (at most 512 characters).
    pub title: String,
    /// Description (at most 1 MiB).
    pub description: String,
    /// 1..4 (default 2, or the template's).
    #[serde(default)]
    pub severity: Option<i32>,
    /// Start (default now).
    #[serde(default)]
    pub start_date: Option<i64>,
    /// End.
    #[serde(default)]
    pub end_date: Option<i64>,
    /// Tags (added to the template's).
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// Flagged.
    #[serde(default)]
    pub flag: Option<bool>,
    /// TLP 0..4 (default 2, or the template's).
    #[serde(default)]
    pub tlp: Option<i32>,
    /// PAP 0..3 (default 2, or the template's).
    #[serde(default)]
    pub pap: Option<i32>,
    /// `New` (default) or `InProgress`.
    #[serde(default)]
    pub status: Option<String>,
    /// Summary.
    #[serde(default)]
    pub summary: Option<String>,
    /// Login of the assignee.
    #[serde(default)]
    pub assignee: Option<String>,
    /// `{name: value}` or `[{name, value, order}]`.
    #[serde(default)]
    #[schema(value_type = serde_json::Value)]
    pub custom_fields: Option<Value>,
    /// Case template (name or id).
    #[serde(default)]
    pub case_template: Option<String>,
    /// Tasks (after the template's).
    #[serde(default)]
    pub tasks: Option<Vec<InputTask>>,
    /// Pages.
    #[serde(default)]
    pub pages: Option<Vec<InputPage>>,
}

/// `POST /api/v1/alert/{id}/case`: the case an alert becomes; what is given replaces the
/// alert's own.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InputAlertCase {
    /// Case template (name or id; default: the alert's).
    #[serde(default)]
    pub case_template: Option<String>,
    /// Title (default: the alert's).
    #[serde(default)]
    pub title: Option<String>,
    /// Description (default: the alert's).
    #[serde(default)]
    pub description: Option<String>,
    /// 1..4 (default: the alert's).
    #[serde(default)]
    pub severity: Option<i32>,
    /// Start (default now).
    #[serde(default)]
    pub start_date: Option<i64>,
    /// End.
    #[serde(default)]
    pub end_date: Option<i64>,
    /// Tags (default: the alert's).
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// Flagged (default: the alert's).
    #[serde(default)]
    pub flag: Option<bool>,
    /// TLP 0..4 (default: the alert's).
    #[serde(default)]
    pub tlp: Option<i32>,
    /// PAP 0..3 (default: the alert's).
    #[serde(default)]
    pub pap: Option<i32>,
    /// `New` (default) or `InProgress`.
    #[serde(default)]
    pub status: Option<String>,
    /// Summary (default: the alert's).
    #[serde(default)]
    pub summary: Option<String>,
    /// Login of the assignee (default: the alert's).
    #[serde(default)]
    pub assignee: Option<String>,
    /// `{name: value}` or `[{name, value, order}]`, over the alert's.
    #[serde(default)]
    #[schema(value_type = serde_json::Value)]
    pub custom_fields: Option<Value>,
    /// Tasks (after the template's).
    #[serde(default)]
    pub tasks: Option<Vec<InputTask>>,
}

/// `POST /api/v1/caseTemplate`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InputCaseTemplate {
    /// Unique name in the organisation.
    pub name: String,
    /// Display name (default: the name).
    #[serde(default)]
    pub display_name: Option<String>,
    /// Title prefix (at most 64 characters).
    #[serde(default)]
    pub title_prefix: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Severity 1..4.
    #[serde(default)]
    pub severity: Option<i32>,
    /// Tags.
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// Flag.
    #[serde(default)]
    pub flag: Option<bool>,
    /// TLP 0..4.
    #[serde(default)]
    pub tlp: Option<i32>,
    /// PAP 0..3.
    #[serde(default)]
    pub pap: Option<i32>,
    /// Summary.
    #[serde(default)]
    pub summary: Option<String>,
    /// Tasks.
    #[serde(default)]
    pub tasks: Option<Vec<InputTask>>,
    /// Page templates (not served yet: must be empty).
    #[serde(default)]
    pub page_template_ids: Option<Vec<String>>,
    /// `{name: value}` or `[{name, value, order}]`.
    #[serde(default)]
    #[schema(value_type = serde_json::Value)]
    pub custom_fields: Option<Value>,
}

/// `POST /api/v1/task/{id}/log`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InputLog {
    /// Text (at most 1 MiB).
    pub message: String,
    /// Date (default now).
    #[serde(default)]
    pub start_date: Option<i64>,
    /// Show in the timeline under this date.
    #[serde(default)]
    pub include_in_timeline: Option<i64>,
}

/// An entity id in a list: `~123`, or a bare number (read as its text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct EntityId(pub String);

impl<'de> Deserialize<'de> for EntityId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Id;
        impl serde::de::Visitor<'_> for Id {
            type Value = EntityId;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an id")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<EntityId, E> {
                Ok(EntityId(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<EntityId, E> {
                Ok(EntityId(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<EntityId, E> {
                Ok(EntityId(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<EntityId, E> {
                Ok(EntityId(v.to_string()))
            }
        }
        d.deserialize_any(Id)
    }
}

/// The schema of a list of [`EntityId`]s.
fn entity_ids() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, Type};
    Schema::Array(
        ArrayBuilder::new()
            .items(
                OneOfBuilder::new()
                    .item(ObjectBuilder::new().schema_type(Type::String))
                    .item(ObjectBuilder::new().schema_type(Type::Integer)),
            )
            .description(Some("Ids (`~123` or 123)."))
            .build(),
    )
}

/// `POST /api/v1/alert/delete/_bulk`, `POST /api/v1/procedure/delete/_bulk`: the entities
/// to delete, all or none.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct InputBulkIds {
    /// Ids (at most 10,000).
    #[schema(schema_with = entity_ids)]
    pub ids: Vec<EntityId>,
}

/// `POST /api/v1/case/{id}/comment`, `POST /api/v1/alert/{id}/comment`, `PATCH
/// /api/v1/comment/{id}`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct InputComment {
    /// Text (markdown, at most 1 MiB).
    pub message: String,
}

/// An ATT&CK pattern seen in a case or an alert: `POST /api/v1/case/{id}/procedure`, and
/// the procedures of a new alert.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InputProcedure {
    /// ATT&CK pattern id (`T1566.001`); must be known.
    pub pattern_id: String,
    /// When it happened, epoch ms.
    pub occur_date: i64,
    /// One of the pattern's tactics (`initial-access`).
    #[serde(default)]
    pub tactic: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
}

/// `POST /api/v1/case/{id}/procedures`, `POST /api/v1/alert/{id}/procedures`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct InputProcedures {
    /// The procedures (at most 1,000).
    pub procedures: Vec<InputProcedure>,
}

/// A case page or a page template: `POST /api/v1/case/{id}/page`, `POST
/// /api/v1/pageTemplate`, the pages of a new case.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InputPage {
    /// Title (at most 512 characters).
    pub title: String,
    /// Content (markdown, at most 1 MiB; default empty).
    #[serde(default)]
    pub content: Option<String>,
    /// Category (at most 128 characters).
    pub category: String,
    /// Position (default 0).
    #[serde(default)]
    pub order: Option<i64>,
}

/// `POST /api/v1/case/{id}/customEvent`: an event of the case's timeline.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InputCustomEvent {
    /// When, epoch ms.
    pub date: i64,
    /// Until, epoch ms.
    #[serde(default)]
    pub end_date: Option<i64>,
    /// Title (at most 128 characters).
    pub title: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
}

/// `POST /api/v1/case/{id}/link/case/add` and `.../remove`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InputCaseLink {
    /// Link type (at most 128 characters).
    #[serde(rename = "type")]
    pub link_type: String,
    /// The other case (`~id` or number).
    pub case_id: String,
}

/// `POST /api/v1/case/{id}/link/external/add` and `.../remove`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct InputUrlLink {
    /// Link type (at most 128 characters).
    #[serde(rename = "type")]
    pub link_type: String,
    /// The URL (at most 2,048 characters).
    pub url: String,
}

/// A share of a case with an organisation, created or changed.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InputShare {
    /// Organisation (name or id).
    pub organisation: String,
    /// Profile it works on the case with (default `analyst`).
    #[serde(default)]
    pub profile: Option<String>,
    /// `manual`, `existingOnly`, `upcomingOnly` or `autoShare` (default: the organisation's).
    #[serde(default)]
    pub task_rule: Option<String>,
    /// Same for observables.
    #[serde(default)]
    pub observable_rule: Option<String>,
}

/// `POST` and `PUT /api/v1/case/{id}/shares`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct InputShares {
    /// The shares (at most 1,000).
    pub shares: Vec<InputShare>,
}

/// `DELETE /api/v1/case/{id}/shares`, and the organisations a task or an observable is
/// shared with or taken from.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct InputOrganisations {
    /// Organisations (names or ids, at most 1,000).
    pub organisations: Vec<String>,
}

/// `PATCH /api/v1/case/share/{id}`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct InputShareProfile {
    /// The share's new profile.
    pub profile: String,
}

/// Who may see a case: its organisations (`OrganisationAccessKind`), or some users only
/// (`UserAccessKind`).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct InputAccessKind {
    /// `OrganisationAccessKind` or `UserAccessKind`.
    #[serde(rename = "_kind", default)]
    pub kind: Option<String>,
    /// The users (logins, at most 1,000) of a `UserAccessKind`.
    #[serde(default)]
    pub users: Option<Vec<String>>,
}

/// `POST /api/v1/case/{id}/access`: `{access: {_kind, users?}}` (or the access itself).
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct InputCaseAccess {
    /// The access.
    #[serde(default)]
    pub access: Option<InputAccessKind>,
    /// The access's kind, when given without `access`.
    #[serde(rename = "_kind", default)]
    pub kind: Option<String>,
    /// Its users, when given without `access`.
    #[serde(default)]
    pub users: Option<Vec<String>>,
}

impl InputCaseAccess {
    /// The access asked for, wrapped or not.
    pub fn into_access(self) -> InputAccessKind {
        self.access.unwrap_or(InputAccessKind {
            kind: self.kind,
            users: self.users,
        })
    }
}

/// `POST /api/v1/case/{id}/owner`: hands the case to another organisation.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InputCaseOwner {
    /// The new owner (name or id).
    pub organisation: String,
    /// The former owner keeps a share under this profile.
    #[serde(default)]
    pub keep_profile: Option<String>,
    /// Task rule of that share (default `autoShare`).
    #[serde(default)]
    pub task_rule: Option<String>,
    /// Observable rule of that share (default `autoShare`).
    #[serde(default)]
    pub observable_rule: Option<String>,
}

/// `PUT /api/v1/caseTemplate/{id}/pageTemplate/link`: the page templates of a case
/// template, replacing the former ones.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InputPageTemplateLinks {
    /// Page template ids.
    pub page_template_ids: Vec<String>,
}

/// `POST /api/v1/case/_bulk/caseTemplate`: parts of a case template applied to cases.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InputApplyCaseTemplate {
    /// The cases (at most 10,000).
    pub ids: Vec<String>,
    /// The case template (name or id).
    pub case_template: String,
    /// Prefix titles with the template's prefix.
    #[serde(default)]
    pub update_title_prefix: Option<bool>,
    /// Replace descriptions with the template's.
    #[serde(default)]
    pub update_description: Option<bool>,
    /// Add the template's tags.
    #[serde(default)]
    pub update_tags: Option<bool>,
    /// Take the template's severity.
    #[serde(default)]
    pub update_severity: Option<bool>,
    /// Take the template's flag.
    #[serde(default)]
    pub update_flag: Option<bool>,
    /// Take the template's TLP.
    #[serde(default)]
    pub update_tlp: Option<bool>,
    /// Take the template's PAP.
    #[serde(default)]
    pub update_pap: Option<bool>,
    /// Add the template's custom fields the cases lack.
    #[serde(default)]
    pub update_custom_fields: Option<bool>,
    /// Titles of the template's tasks to add.
    #[serde(default)]
    pub import_tasks: Option<Vec<String>>,
    /// Ids of the template's page templates to copy.
    #[serde(default)]
    pub import_pages: Option<Vec<String>>,
}

/// A comment on a case or an alert (meta fields without underscore, as TheHive 5 shows).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutputComment {
    /// Id.
    #[serde(rename = "_id")]
    pub id: String,
    /// Always `Comment`.
    #[serde(rename = "_type")]
    pub kind: String,
    /// Author login.
    pub created_by: String,
    /// Creation, epoch ms.
    pub created_at: i64,
    /// Last editor.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub updated_by: Option<String>,
    /// Last edit, epoch ms.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub updated_at: Option<i64>,
    /// Text (markdown).
    pub message: String,
    /// Whether it was edited.
    pub is_edited: bool,
    /// Extra data asked for in a query.
    pub extra_data: Map<String, Value>,
    /// Whether it comes from another platform (never).
    pub external: bool,
}

/// An ATT&CK pattern seen in a case or an alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutputProcedure {
    /// Meta fields (`_type` is `Procedure`).
    #[serde(flatten)]
    pub meta: Meta,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub description: Option<String>,
    /// When it happened, epoch ms.
    pub occur_date: i64,
    /// ATT&CK id (`T1059.006`).
    pub pattern_id: String,
    /// ATT&CK name.
    pub pattern_name: String,
    /// Tactic (`execution`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub tactic: Option<String>,
    /// Tactic label (`Execution`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub tactic_label: Option<String>,
    /// Extra data asked for in a query.
    pub extra_data: Map<String, Value>,
}

/// A case page or a page template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutputPage {
    /// Meta fields (`_type` is `Page` or `PageTemplate`).
    #[serde(flatten)]
    pub meta: Meta,
    /// Title.
    pub title: String,
    /// Markdown content.
    pub content: String,
    /// Position.
    pub order: i64,
    /// Category.
    pub category: String,
    /// Extra data asked for in a query.
    pub extra_data: Map<String, Value>,
}

/// An event added by hand to a case's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutputCustomEvent {
    /// Meta fields (`_type` is `CustomEvent`).
    #[serde(flatten)]
    pub meta: Meta,
    /// Date, epoch ms.
    pub date: i64,
    /// End, epoch ms.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub end_date: Option<i64>,
    /// Title.
    pub title: String,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub description: Option<String>,
}

/// A share of a case with an organisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutputShare {
    /// Meta fields (`_type` is `Share`).
    #[serde(flatten)]
    pub meta: Meta,
    /// The case.
    pub case_id: String,
    /// Profile the organisation works on the case with.
    pub profile_name: String,
    /// The organisation.
    pub organisation_name: String,
    /// Whether this organisation owns the case.
    pub owner: bool,
    /// `manual` or `autoShare`: how tasks are shared.
    pub task_rule: String,
    /// `manual` or `autoShare`: how observables are shared.
    pub observable_rule: String,
}

/// The schema of a [`OneOrMany<String>`]: a string, or an array of strings.
fn one_or_many_strings() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, Type};
    Schema::OneOf(
        OneOfBuilder::new()
            .item(ObjectBuilder::new().schema_type(Type::String))
            .item(ArrayBuilder::new().items(ObjectBuilder::new().schema_type(Type::String)))
            .description(Some("One value, or several (one observable each)."))
            .build(),
    )
}
