//! cortex-service's wire shapes (Cortex 3/4 `/api`), as cortex4py 2.x and TheHive send and read
//! them. Cortex entities carry `id` and `_id`; dates are epoch milliseconds.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A Cortex role. Roles are literal: `orgadmin` does not imply `analyze`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// See workers, jobs, reports.
    Read,
    /// Run jobs.
    Analyze,
    /// Manage the organization's users and workers.
    Orgadmin,
    /// Manage organizations (only in org `cortex`; cannot run jobs).
    Superadmin,
}

impl Role {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Read => "read",
            Role::Analyze => "analyze",
            Role::Orgadmin => "orgadmin",
            Role::Superadmin => "superadmin",
        }
    }
}

/// Organization status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum OrganizationStatus {
    /// Usable.
    Active,
    /// Its users are refused.
    Locked,
}

/// User status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum UserStatus {
    /// Usable.
    Ok,
    /// Refused.
    Locked,
}

/// `POST /api/organization`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct InputOrganization {
    /// Unique name (also its id).
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Status (default `Active`).
    #[serde(default)]
    pub status: Option<OrganizationStatus>,
}

/// `PATCH /api/organization/{id}`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct InputUpdateOrganization {
    /// New description.
    #[serde(default)]
    pub description: Option<String>,
    /// New status.
    #[serde(default)]
    pub status: Option<OrganizationStatus>,
}

/// An organization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutputOrganization {
    /// Id (= name).
    pub id: String,
    /// Id (= name).
    #[serde(rename = "_id")]
    pub underscore_id: String,
    /// Always `organization`.
    #[serde(rename = "_type")]
    pub kind: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// `Active` or `Locked`.
    pub status: OrganizationStatus,
    /// When, epoch ms.
    pub created_at: i64,
    /// Who.
    pub created_by: String,
    /// Last change, epoch ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<i64>,
    /// By whom.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<String>,
}

/// `POST /api/user`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct InputUser {
    /// Login (also the id).
    pub login: String,
    /// Display name.
    pub name: String,
    /// Roles.
    #[serde(default)]
    pub roles: Vec<Role>,
    /// Organization (default: the caller's).
    #[serde(default)]
    pub organization: Option<String>,
    /// Initial password.
    #[serde(default)]
    pub password: Option<String>,
}

/// `PATCH /api/user/{login}`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct InputUpdateUser {
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Roles.
    #[serde(default)]
    pub roles: Option<Vec<Role>>,
    /// Status.
    #[serde(default)]
    pub status: Option<UserStatus>,
    /// Move to another organization (superadmin only).
    #[serde(default)]
    pub organization: Option<String>,
    /// Refused: use `password/set`.
    #[serde(default)]
    pub password: Option<serde_json::Value>,
    /// Refused: use `key/renew`.
    #[serde(default)]
    pub key: Option<serde_json::Value>,
    /// Ignored.
    #[serde(default)]
    pub avatar: Option<serde_json::Value>,
    /// Ignored.
    #[serde(default)]
    pub preferences: Option<serde_json::Value>,
}

/// A user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutputUser {
    /// Id (= login).
    pub id: String,
    /// Id (= login).
    #[serde(rename = "_id")]
    pub underscore_id: String,
    /// Always `user`.
    #[serde(rename = "_type")]
    pub kind: String,
    /// Display name.
    pub name: String,
    /// Roles.
    pub roles: Vec<Role>,
    /// `Ok` or `Locked`.
    pub status: UserStatus,
    /// Organization.
    pub organization: String,
    /// Whether an API key is set.
    pub has_key: bool,
    /// Whether a password is set.
    pub has_password: bool,
    /// When, epoch ms.
    pub created_at: i64,
    /// Who.
    pub created_by: String,
    /// Last change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<i64>,
    /// By whom.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<String>,
}

/// `POST /api/user/{login}/password/set`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct InputSetPassword {
    /// The new password.
    pub password: String,
}

/// `POST /api/user/{login}/password/change`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InputChangePassword {
    /// The current password.
    pub current_password: String,
    /// The new password.
    pub password: String,
}

/// `POST /api/user/{login}/key/set`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct InputSetKey {
    /// The key, at least 32 characters.
    pub key: String,
}

/// `POST /api/login`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct InputLogin {
    /// Login.
    pub user: String,
    /// Password.
    pub password: String,
}

/// `analyzer` or `responder`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum WorkerKind {
    /// Studies one observable and reports.
    Analyzer,
    /// Acts on a case, alert, task or observable.
    Responder,
}

impl WorkerKind {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkerKind::Analyzer => "analyzer",
            WorkerKind::Responder => "responder",
        }
    }

    /// From the wire name.
    pub fn parse(s: &str) -> Option<WorkerKind> {
        match s {
            "analyzer" => Some(WorkerKind::Analyzer),
            "responder" => Some(WorkerKind::Responder),
            _ => None,
        }
    }
}

/// The status of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum JobStatus {
    /// Accepted, waiting for a free runner.
    Waiting,
    /// Running.
    InProgress,
    /// Ended with a report.
    Success,
    /// Ended without one.
    Failure,
    /// Deleted by a user.
    Deleted,
}

impl JobStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Waiting => "Waiting",
            JobStatus::InProgress => "InProgress",
            JobStatus::Success => "Success",
            JobStatus::Failure => "Failure",
            JobStatus::Deleted => "Deleted",
        }
    }

    /// From the wire name.
    pub fn parse(s: &str) -> Option<JobStatus> {
        [
            JobStatus::Waiting,
            JobStatus::InProgress,
            JobStatus::Success,
            JobStatus::Failure,
            JobStatus::Deleted,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }

    /// Whether the job has ended.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobStatus::Success | JobStatus::Failure | JobStatus::Deleted
        )
    }
}

/// A file of a job or an artifact, in the datastore.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobAttachment {
    /// The SHA-256 of the content: `GET /api/datastore/{id}` serves it.
    pub id: String,
    /// File name.
    pub name: String,
    /// `[sha256, sha1, md5]`.
    pub hashes: Vec<String>,
    /// Bytes.
    pub size: u64,
    /// MIME type.
    pub content_type: String,
}

/// A job, as Cortex answers it (both `worker*` and the legacy `analyzer*` names).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutputJob {
    /// Id.
    pub id: String,
    /// Id.
    #[serde(rename = "_id")]
    pub underscore_id: String,
    /// Always `job`.
    #[serde(rename = "_type")]
    pub entity: String,
    /// `analyzer` or `responder`.
    #[serde(rename = "type")]
    pub kind: WorkerKind,
    /// The organization.
    pub organization: String,
    /// The worker's id.
    pub worker_id: String,
    /// The worker's name (its definition id).
    pub worker_name: String,
    /// The definition id.
    pub worker_definition_id: String,
    /// Same as `workerId`.
    pub analyzer_id: String,
    /// Same as `workerName`.
    pub analyzer_name: String,
    /// Same as `workerDefinitionId`.
    pub analyzer_definition_id: String,
    /// Status.
    pub status: JobStatus,
    /// The observable's type (`thehive:case`... for responders).
    pub data_type: String,
    /// The observable (a string for analyzers, the object for responders); absent for files.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = serde_json::Value)]
    pub data: Option<serde_json::Value>,
    /// The file (file jobs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachment: Option<JobAttachment>,
    /// 0 white, 1 green, 2 amber, 3 red.
    pub tlp: i32,
    /// 0 to 3.
    pub pap: i32,
    /// Free text (TheHive puts the case number here).
    pub message: String,
    /// Free-form parameters.
    #[schema(value_type = Object)]
    pub parameters: serde_json::Value,
    /// A label (TheHive responders).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The cache key.
    pub cache_tag: String,
    /// When it started, epoch ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_date: Option<i64>,
    /// When it ended, epoch ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_date: Option<i64>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// The input given to the worker (failures).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub input: Option<serde_json::Value>,
    /// Set on a reply served from the cache.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_cache: Option<bool>,
    /// = `createdAt`.
    pub date: i64,
    /// When, epoch ms.
    pub created_at: i64,
    /// Who.
    pub created_by: String,
    /// Last change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<i64>,
    /// By whom.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<String>,
    /// `/report` and `/waitreport` only: the report object once ended, else the status as a
    /// string (`Waiting`, `Running`, `Deleted`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub report: Option<serde_json::Value>,
}

/// An artifact a job reported (`/api/job/{id}/artifacts`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutputArtifact {
    /// Id.
    pub id: String,
    /// Id.
    #[serde(rename = "_id")]
    pub underscore_id: String,
    /// Always `artifact`.
    #[serde(rename = "_type")]
    pub entity: String,
    /// The job.
    #[serde(rename = "_parent")]
    pub parent: String,
    /// Observable type.
    pub data_type: String,
    /// The value (not for files).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// The file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachment: Option<JobAttachment>,
    /// 0 to 3.
    pub tlp: i32,
    /// Tags (`autoImport:true` asks TheHive to import it).
    pub tags: Vec<String>,
    /// Free text.
    pub message: Option<String>,
    /// When, epoch ms.
    pub created_at: i64,
    /// Who.
    pub created_by: String,
}

/// The message on the job queue (`cortex.jobs`): a job to run, by id (the row holds the rest).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobRequest {
    /// The job.
    pub job_id: String,
}

/// Published on `cortex.events` with routing key `job.<status>` at each change of a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobEvent {
    /// The job as it is now (with its report once it ended).
    pub job: OutputJob,
    /// The submitter's own id of the job ([`JobSubmission::request_id`], or `requestId` of a
    /// REST run), when it gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// Name of the queue cortex-service takes [`SignedSubmission`]s from, unless configured.
pub const SUBMISSIONS_QUEUE: &str = "cortex.requests";

/// The topic exchange cortex-service publishes its events on.
pub const EVENTS_EXCHANGE: &str = "cortex.events";

/// The kinds of messages between the services (an [`crate::Envelope`]'s `type`, and the
/// routing key on [`EVENTS_EXCHANGE`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// `job.submit`: a [`SignedSubmission`] on the submissions queue.
    Submit,
    /// `job.<status>`: a [`JobEvent`] as a job changes.
    Job(JobStatus),
    /// `request.rejected`: a [`SubmissionRejected`].
    RequestRejected,
}

impl MessageKind {
    /// The routing keys hive-service's event queue is bound with.
    pub const EVENT_BINDINGS: &'static [&'static str] = &["job.*", "request.rejected"];

    /// The wire name.
    pub fn as_str(self) -> std::borrow::Cow<'static, str> {
        match self {
            MessageKind::Submit => "job.submit".into(),
            MessageKind::Job(s) => format!("job.{}", s.as_str()).into(),
            MessageKind::RequestRejected => "request.rejected".into(),
        }
    }

    /// From the wire name.
    pub fn parse(s: &str) -> Option<MessageKind> {
        match s {
            "job.submit" => Some(MessageKind::Submit),
            "request.rejected" => Some(MessageKind::RequestRejected),
            _ => s
                .strip_prefix("job.")
                .and_then(JobStatus::parse)
                .map(MessageKind::Job),
        }
    }
}

/// What a worker is given to study (analyzers) or act on (responders): the body of `POST
/// /api/{analyzer|responder}/{id}/run` (JSON, or the `_json` part beside a file, see
/// [`RunBody`]) and the heart of a [`JobSubmission`]. hive-service builds it once from the
/// observable or the object; cortex-service checks it against the worker and stores it as the
/// job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunRequest {
    /// Observable type (analyzers) or `thehive:<entity>` (responders).
    #[serde(default)]
    pub data_type: String,
    /// The observable (a string) or the TheHive object (responders); absent for files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<serde_json::Value>)]
    pub data: Option<serde_json::Value>,
    /// 0 to 3 (default 2).
    #[serde(default = "amber")]
    pub tlp: i32,
    /// 0 to 3 (default 2).
    #[serde(default = "amber")]
    pub pap: i32,
    /// Free text handed to the worker.
    #[serde(default)]
    pub message: String,
    /// Job parameters handed to the worker (`null` reads as none).
    #[serde(default, deserialize_with = "null_is_empty")]
    #[schema(value_type = Object)]
    pub parameters: serde_json::Map<String, serde_json::Value>,
    /// A label shown with the job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

fn amber() -> i32 {
    2
}

fn null_is_empty<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<serde_json::Map<String, serde_json::Value>, D::Error> {
    Ok(Option::deserialize(d)?.unwrap_or_default())
}

/// The JSON body of `POST /api/{analyzer|responder}/{id}/run`: a [`RunRequest`] and the
/// submitter's own id of the job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunBody {
    /// What the worker is given.
    #[serde(flatten)]
    pub run: RunRequest,
    /// The submitter's id for this job: a second run with the same id in the same
    /// organization answers the first job instead of making another (1 to 128 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Skip the cache (also `?force=true`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub force: bool,
}

/// A run request sent over RabbitMQ instead of `POST /api/{kind}/{id}/run` (hive-service's
/// connector does so when both services have a broker). It is answered on `cortex.events`:
/// `job.<status>` events carrying `request_id`, or one [`SubmissionRejected`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobSubmission {
    /// The submitter's id for this job: a redelivered submission with the same id in the same
    /// organization does not make a second job.
    pub request_id: String,
    /// Analyzer or responder.
    pub kind: WorkerKind,
    /// The worker's id, or its name.
    pub worker: String,
    /// What the worker is given.
    #[serde(flatten)]
    pub run: RunRequest,
    /// A file, carried inline (small files only: larger ones go through the REST API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment: Option<InlineAttachment>,
    /// Skip the cache.
    #[serde(default)]
    pub force: bool,
}

/// A file inside a [`JobSubmission`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InlineAttachment {
    /// The file's name.
    pub name: String,
    /// Its MIME type.
    pub content_type: String,
    /// The content, base64 (standard alphabet, padded).
    pub content: String,
}

/// The payload of a message on the submissions queue: `submission` is the JSON text of a
/// [`JobSubmission`], `signature` the hex HMAC-SHA256 of that text keyed with the SHA-256 hex
/// digest of `user`'s API key (what cortex-service stores), so that no key travels or rests
/// in the broker and only holders of the key can submit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignedSubmission {
    /// Login of the cortex user submitting (the organization is the user's).
    pub user: String,
    /// Hex HMAC-SHA256 of `submission`.
    pub signature: String,
    /// JSON text of the [`JobSubmission`].
    pub submission: String,
}

/// Published on `cortex.events` with routing key `request.rejected` when a submission cannot
/// become a job (unknown worker, bad input, TLP above the worker's maximum, rate limit...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubmissionRejected {
    /// [`JobSubmission::request_id`].
    pub request_id: String,
    /// The HTTP status the same request would have had over REST.
    pub status: u16,
    /// Cortex's error type (`NotFoundError`, `BadRequest`, `RateLimitExceeded`...).
    #[serde(rename = "type")]
    pub kind: String,
    /// Why.
    pub message: String,
}

/// A configuration item of a worker definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfigurationItem {
    /// Key in the configuration.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// `string`, `text`, `number` or `boolean`.
    #[serde(rename = "type")]
    pub kind: String,
    /// A list of values.
    #[serde(default)]
    pub multi: bool,
    /// Must be given.
    #[serde(default)]
    pub required: bool,
    /// Used when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = serde_json::Value)]
    pub default_value: Option<serde_json::Value>,
}

/// A worker definition (`GET /api/analyzerdefinition`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutputDefinition {
    /// `Name_version` with dots as underscores.
    pub id: String,
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Description.
    pub description: String,
    /// Observable types it accepts.
    pub data_type_list: Vec<String>,
    /// Author.
    pub author: String,
    /// Home page.
    pub url: String,
    /// License.
    pub license: String,
    /// The shared configuration group.
    pub base_config: String,
    /// What may be configured.
    pub configuration_items: Vec<ConfigurationItem>,
    /// The image (docker runner; not run by this service).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub docker_image: Option<String>,
    /// The program's file name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// `analyzer` or `responder`.
    #[serde(rename = "type")]
    pub kind: WorkerKind,
}

/// A worker: a definition enabled in an organization (`/api/analyzer`, `/api/responder`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutputWorker {
    /// md5 of `{organization}_{name}_{type}`.
    pub id: String,
    /// Id.
    #[serde(rename = "_id")]
    pub underscore_id: String,
    /// Always `worker`.
    #[serde(rename = "_type")]
    pub entity: String,
    /// The definition id (`Name_1_0`).
    pub name: String,
    /// Version.
    pub version: String,
    /// Description.
    pub description: String,
    /// Author.
    pub author: String,
    /// Home page.
    pub url: String,
    /// License.
    pub license: String,
    /// Observable types it accepts.
    pub data_type_list: Vec<String>,
    /// The shared configuration group.
    pub base_config: String,
    /// The definition id.
    pub worker_definition_id: String,
    /// The definition id (analyzers only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub analyzer_definition_id: Option<String>,
    /// The program run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// The image (not run by this service).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub docker_image: Option<String>,
    /// Jobs allowed per `rateUnit`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<i64>,
    /// `Second`, `Minute`, `Hour`, `Day` or `Month`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_unit: Option<String>,
    /// Cache window, minutes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_cache: Option<f64>,
    /// Timeout, minutes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_timeout: Option<f64>,
    /// Highest TLP accepted when checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tlp: Option<i64>,
    /// Highest PAP accepted when checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_pap: Option<i64>,
    /// `analyzer` or `responder`.
    #[serde(rename = "type")]
    pub kind: WorkerKind,
    /// The configuration (only for an orgadmin).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub configuration: Option<serde_json::Value>,
    /// When, epoch ms.
    pub created_at: i64,
    /// Who.
    pub created_by: String,
    /// Last change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<i64>,
    /// By whom.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<String>,
}

#[cfg(test)]
mod message_kind_tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_wire_names() {
        for k in [
            MessageKind::Submit,
            MessageKind::RequestRejected,
            MessageKind::Job(JobStatus::Waiting),
            MessageKind::Job(JobStatus::Success),
        ] {
            assert_eq!(MessageKind::parse(&k.as_str()), Some(k));
        }
        assert_eq!(
            MessageKind::Job(JobStatus::InProgress).as_str(),
            "job.InProgress"
        );
        assert_eq!(MessageKind::parse("job.Nope"), None);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod run_request_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_submission_is_one_flat_object_with_the_run_request_inside() {
        let sub = JobSubmission {
            request_id: "r1".into(),
            kind: WorkerKind::Analyzer,
            worker: "EmlParser_2_1".into(),
            run: RunRequest {
                data_type: "ip".into(),
                data: Some(json!("10.0.0.1")),
                tlp: 1,
                pap: 3,
                message: "from case #4".into(),
                parameters: json!({"depth": 2}).as_object().unwrap().clone(),
                label: None,
            },
            attachment: None,
            force: false,
        };
        let wire = serde_json::to_value(&sub).unwrap();
        assert_eq!(
            wire,
            json!({"requestId": "r1", "kind": "analyzer", "worker": "EmlParser_2_1",
                   "dataType": "ip", "data": "10.0.0.1", "tlp": 1, "pap": 3,
                   "message": "from case #4", "parameters": {"depth": 2}, "force": false})
        );
        assert_eq!(serde_json::from_value::<JobSubmission>(wire).unwrap(), sub);
    }

    #[test]
    fn a_run_body_without_levels_is_amber() {
        let body: RunBody =
            serde_json::from_value(json!({"dataType": "domain", "data": "example.org"})).unwrap();
        assert_eq!((body.run.tlp, body.run.pap), (2, 2));
        assert_eq!(body.request_id, None);
        assert!(!body.force);
        assert!(body.run.parameters.is_empty());
    }

    #[test]
    fn a_submission_with_null_parameters_has_none() {
        let sub: JobSubmission =
            serde_json::from_value(json!({"requestId": "r", "kind": "analyzer",
            "worker": "w", "dataType": "ip", "data": "10.0.0.1", "tlp": 2, "pap": 2,
            "parameters": null}))
            .unwrap();
        assert!(sub.run.parameters.is_empty());
    }
}
