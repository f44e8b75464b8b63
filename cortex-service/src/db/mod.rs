//! cortex-service's database: the pool and migrations shared with hive-service, the schema
//! and rows.

#[path = "../../../hive-service/src/db/ids.rs"]
pub mod ids;
#[path = "../../../hive-service/src/db/pool.rs"]
mod pool;
pub mod schema;

pub use ids::now_ms;
pub use pool::*;

use diesel::prelude::*;
use schema::*;

/// An organization.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, Identifiable)]
#[diesel(table_name = organizations)]
pub struct OrganizationRow {
    pub id: String,
    pub description: String,
    pub status: String,
    pub created_by: String,
    pub created_at: i64,
    pub updated_by: Option<String>,
    pub updated_at: Option<i64>,
}

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
    pub created_by: String,
    pub created_at: i64,
    pub updated_by: Option<String>,
    pub updated_at: Option<i64>,
}

impl UserRow {
    /// The roles.
    pub fn role_list(&self) -> Vec<shared_models::cortex::Role> {
        serde_json::from_str(&self.roles).unwrap_or_default()
    }
}
