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
