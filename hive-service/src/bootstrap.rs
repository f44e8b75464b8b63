//! First start on an empty database: organisation `admin`, the four built-in profiles, the
//! built-in observable types and `admin@thehive.local`, all created by `system@thehive.local`;
//! and the instance secret that signs sessions. Runs under the instance lock and checks
//! before it writes, so several instances may start at once.

use crate::auth::{ADMIN_ORG, SYSTEM_LOGIN};
use crate::db::models::*;
use crate::db::schema::*;
use crate::db::DbConn;
use crate::db::{next_id, now_ms};
use crate::domain::permissions::BUILT_IN_PROFILES;
use diesel::prelude::*;
use service_kit::bootstrap::{FirstPassword, Seed};
use service_kit::error::ApiError;

/// Login of the built-in administrator.
pub const ADMIN_LOGIN: &str = "admin@thehive.local";

/// Observable types every instance starts with; `file` holds attachments.
pub const BUILT_IN_OBSERVABLE_TYPES: &[(&str, bool)] = &[
    ("url", false),
    ("other", false),
    ("user-agent", false),
    ("regexp", false),
    ("mail-subject", false),
    ("registry", false),
    ("mail", false),
    ("autonomous-system", false),
    ("domain", false),
    ("ip", false),
    ("uri_path", false),
    ("filename", false),
    ("hash", false),
    ("file", true),
    ("fqdn", false),
    ("hostname", false),
];

/// What an empty database gets, and what every start applies.
pub struct HiveSeed<'a> {
    pub(crate) vault: &'a crate::auth::vault::Vault,
}

impl Seed for HiveSeed<'_> {
    fn is_empty(&self, c: &mut DbConn) -> QueryResult<bool> {
        let n: i64 = organisations::table
            .filter(organisations::name.eq(ADMIN_ORG))
            .count()
            .get_result(c)?;
        Ok(n == 0)
    }

    /// Seeds an empty database.
    fn seed(&self, c: &mut DbConn, first: &FirstPassword) -> Result<(), ApiError> {
        let now = now_ms();
        let org = OrganisationRow {
            id: next_id(),
            name: ADMIN_ORG.into(),
            description: "Organisation for platform administration".into(),
            task_rule: "manual".into(),
            observable_rule: "manual".into(),
            locked: false,
            created_by: SYSTEM_LOGIN.into(),
            created_at: now,
            updated_by: None,
            updated_at: None,
        };
        diesel::insert_into(organisations::table)
            .values(&org)
            .execute(c)?;
        let mut admin_profile = 0;
        for (name, perms) in BUILT_IN_PROFILES {
            let row = ProfileRow {
                id: next_id(),
                name: (*name).into(),
                permissions: serde_json::to_string(perms).map_err(ApiError::internal)?,
                created_by: SYSTEM_LOGIN.into(),
                created_at: now,
                updated_by: None,
                updated_at: None,
            };
            if *name == "admin" {
                admin_profile = row.id;
            }
            diesel::insert_into(profiles::table)
                .values(&row)
                .execute(c)?;
        }
        for (name, is_attachment) in BUILT_IN_OBSERVABLE_TYPES {
            diesel::insert_into(observable_types::table)
                .values(&ObservableTypeRow {
                    id: next_id(),
                    name: (*name).into(),
                    is_attachment: *is_attachment,
                    created_by: SYSTEM_LOGIN.into(),
                    created_at: now,
                })
                .execute(c)?;
        }
        let user = UserRow {
            password_hash: Some(first.hash()?),
            ..UserRow::new(ADMIN_LOGIN, "Administrator", SYSTEM_LOGIN)
        };
        diesel::insert_into(users::table).values(&user).execute(c)?;
        diesel::insert_into(memberships::table)
            .values(&MembershipRow {
                user_id: user.id,
                organisation_id: org.id,
                profile_id: admin_profile,
                is_default: true,
            })
            .execute(c)?;
        tracing::info!("bootstrapped an empty database: organisation admin, profiles, observable types, {ADMIN_LOGIN}");
        Ok(())
    }

    /// The fixed key of the administrator, when configured.
    fn every_start(&self, c: &mut DbConn, api_key: Option<&str>) -> Result<(), ApiError> {
        let Some(key) = api_key else {
            return Ok(());
        };
        let admin: Option<i64> = users::table
            .filter(users::login.eq(ADMIN_LOGIN))
            .select(users::id)
            .first(c)
            .optional()?;
        if let Some(id) = admin {
            let (digest, sealed) = self
                .vault
                .key_columns(&crate::auth::key_context(id), Some(key))
                .map_err(ApiError::internal)?;
            diesel::update(users::table.find(id))
                .set((
                    users::api_key_hash.eq(digest),
                    users::api_key_secret.eq(sealed),
                ))
                .execute(c)?;
        }
        Ok(())
    }
}
