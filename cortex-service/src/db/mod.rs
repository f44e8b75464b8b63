//! cortex-service's database: the pool, ids and migration runner of [`service_kit::db`], and
//! this service's migrations, schema and rows.

pub mod schema;

pub use service_kit::db::*;

/// This service's migrations, under the advisory lock "CRTX".
pub const MIGRATIONS: Migrations = Migrations {
    postgres: diesel_migrations::embed_migrations!("migrations/postgres"),
    sqlite: diesel_migrations::embed_migrations!("migrations/sqlite"),
    lock_key: 0x4352_5458,
};

use diesel::prelude::*;
use schema::*;
use service_kit::error::ApiError;

service_kit::row! {
    /// An organization.
    #[derive(Debug, Clone, Queryable, Selectable, Insertable, Identifiable)]
    #[diesel(table_name = organizations)]
    pub struct OrganizationRow {
        pub id: String,
        pub description: String,
        pub status: String,
        audit_fields,
    }
}

impl OrganizationRow {
    /// A new active organization.
    pub fn new(name: &str, description: &str, created_by: &str) -> OrganizationRow {
        OrganizationRow {
            id: name.into(),
            description: description.into(),
            status: "Active".into(),
            created_by: created_by.into(),
            created_at: now_ms(),
            updated_by: None,
            updated_at: None,
        }
    }
}

service_kit::row! {
    /// A user; `id` is the login.
    #[derive(Debug, Clone, Queryable, Selectable, Insertable, Identifiable)]
    #[diesel(table_name = users)]
    pub struct UserRow {
        pub id: String,
        pub name: String,
        pub organization_id: String,
        /// JSON array of role names.
        pub roles: String,
        pub status: String,
        pub password_hash: Option<String>,
        pub password_changed_at: i64,
        pub api_key_hash: Option<String>,
        audit_fields,
        /// The API key sealed under the server key (`auth::vault`), so that
        /// `GET /api/user/{id}/key` can show it again.
        pub api_key_secret: Option<String>,
    }
}

service_kit::account_row!(UserRow);

impl UserRow {
    /// A new active user of `organization`, without roles, password or key.
    pub fn new(login: &str, name: &str, organization: &str, created_by: &str) -> UserRow {
        let now = now_ms();
        UserRow {
            id: login.into(),
            name: name.into(),
            organization_id: organization.into(),
            roles: "[]".into(),
            status: "Ok".into(),
            created_by: created_by.into(),
            created_at: now,
            updated_by: None,
            updated_at: None,
            // No password nor key yet.
            password_hash: None,
            password_changed_at: now,
            api_key_hash: None,
            api_key_secret: None,
        }
    }

    /// The roles.
    pub fn role_list(&self) -> Vec<shared_models::cortex::Role> {
        serde_json::from_str(&self.roles).unwrap_or_default()
    }
}

service_kit::row! {
    /// A worker (an analyzer or responder definition enabled in an organization).
    #[derive(Debug, Clone, Queryable, Selectable, Insertable, Identifiable, AsChangeset)]
    #[diesel(table_name = workers, treat_none_as_null = true)]
    pub struct WorkerRow {
        /// md5 of `{organization}_{name}_{kind}`.
        pub id: String,
        pub organization_id: String,
        /// `analyzer` or `responder`.
        pub kind: String,
        /// The definition id (`Name_1_0`).
        pub name: String,
        pub definition_id: String,
        /// JSON copy of the definition when enabled.
        pub definition: String,
        /// JSON array.
        pub data_types: String,
        /// JSON object: every configuration item.
        pub configuration: String,
        pub rate: Option<i64>,
        pub rate_unit: Option<String>,
        /// Minutes.
        pub job_cache: Option<f64>,
        /// Minutes.
        pub job_timeout: Option<f64>,
        audit_fields,
    }
}

service_kit::row! {
    /// A job.
    #[derive(Debug, Clone, Queryable, Selectable, Insertable, Identifiable)]
    #[diesel(table_name = jobs)]
    pub struct JobRow {
        pub id: String,
        pub organization_id: String,
        pub worker_id: String,
        pub worker_name: String,
        pub worker_definition_id: String,
        pub kind: String,
        pub status: String,
        pub data_type: String,
        /// The observable (analyzers) or the JSON text of the object (responders).
        pub data: Option<String>,
        /// JSON of the attachment (file jobs).
        pub attachment: Option<String>,
        pub tlp: i32,
        pub pap: i32,
        pub message: String,
        /// JSON object.
        pub parameters: String,
        pub label: Option<String>,
        pub cache_tag: String,
        pub start_date: Option<i64>,
        pub end_date: Option<i64>,
        pub error_message: Option<String>,
        /// JSON text of the input, on failures.
        pub input: Option<String>,
        /// JSON `{summary, full, operations}` on success.
        pub report: Option<String>,
        /// The instance running it.
        pub runner: Option<String>,
        pub attempts: i32,
        /// Whether the broker confirmed the job's message.
        pub published: bool,
        audit_fields,
        /// The submitter's own id of the job (RabbitMQ submissions, REST `requestId`).
        pub request_id: Option<String>,
        /// The final status whose event the broker confirmed (jobs with a `request_id`).
        pub announced: Option<String>,
    }
}

/// An artifact a job reported.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, Identifiable)]
#[diesel(table_name = artifacts)]
pub struct ArtifactRow {
    pub id: String,
    pub job_id: String,
    /// Order in the report.
    pub position: i32,
    pub data_type: String,
    pub data: Option<String>,
    /// JSON of the attachment (file artifacts).
    pub attachment: Option<String>,
    pub tlp: i32,
    /// JSON array.
    pub tags: String,
    pub message: Option<String>,
    pub created_by: String,
    pub created_at: i64,
}

/// Checks a name used as an id: trimmed, 1 to `max` characters, no `/` nor control characters.
pub fn check_name(name: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let v = value.trim();
    if v.is_empty() || v.chars().count() > max || v.contains('/') || v.chars().any(char::is_control)
    {
        return Err(ApiError::attribute(
            name,
            format!("must be 1 to {max} characters, without / or control characters"),
        ));
    }
    Ok(v.to_string())
}
