//! First start on an empty database: organization `cortex` and its superadmin `admin`, and
//! the instance secret that signs sessions. Runs under the instance lock and checks before
//! it writes, so several instances may start at once.

use crate::auth::{store_key_row, ADMIN_ORG};
use crate::config::Settings;
use crate::db::schema::*;
use crate::db::{now_ms, Db, OrganizationRow, UserRow};
use diesel::prelude::*;
use secrecy::ExposeSecret;
use service_kit::bootstrap::{fixed_api_key, hand_over, session_secret, FirstPassword};
use service_kit::error::ApiError;

/// Login of the built-in superadmin.
pub const ADMIN_LOGIN: &str = "admin";
/// Who created built-in data.
pub const SYSTEM: &str = "init";

/// Creates what an empty database lacks and returns the instance secret.
pub fn run(
    db: &Db,
    settings: &Settings,
    vault: &crate::auth::vault::Vault,
) -> Result<Vec<u8>, ApiError> {
    let first = FirstPassword::from_settings(&settings.bootstrap);
    let api_key = fixed_api_key(&settings.bootstrap);
    let service_key = settings
        .service_account
        .api_key
        .as_ref()
        .map(|k| k.expose_secret().to_string());
    let (secret, seeded) = db.write_blocking(|c| {
        let secret = session_secret(c)?;
        let seeded = organizations::table
            .filter(organizations::id.eq(ADMIN_ORG))
            .count()
            .get_result::<i64>(c)?
            == 0;
        if seeded {
            seed(c, &first)?;
        }
        if let Some(key) = &api_key {
            store_key_row(c, vault, ADMIN_LOGIN, Some(key), SYSTEM)?;
        }
        if let Some(key) = &service_key {
            service_account(c, vault, &settings.service_account, key)?;
        }
        Ok((secret, seeded))
    })?;
    if seeded {
        hand_over(&settings.data_dir, ADMIN_LOGIN, &first)?;
    }
    Ok(secret)
}

/// Seeds an empty database: organization `cortex` and its superadmin.
fn seed(c: &mut crate::db::DbConn, first: &FirstPassword) -> Result<(), ApiError> {
    let now = now_ms();
    diesel::insert_into(organizations::table)
        .values(&OrganizationRow::new(
            ADMIN_ORG,
            "Organization of the superadmins",
            SYSTEM,
        ))
        .execute(c)?;
    diesel::insert_into(users::table)
        .values(&UserRow {
            roles: r#"["superadmin"]"#.into(),
            password_hash: Some(first.hash()?),
            password_changed_at: now,
            ..UserRow::new(ADMIN_LOGIN, "Administrator", ADMIN_ORG, SYSTEM)
        })
        .execute(c)?;
    tracing::info!("bootstrapped an empty database: organization cortex, superadmin admin");
    Ok(())
}

/// Makes the service account's organization and user if missing, and sets its key.
fn service_account(
    c: &mut crate::db::DbConn,
    vault: &crate::auth::vault::Vault,
    sa: &crate::config::ServiceAccountSettings,
    key: &str,
) -> Result<(), ApiError> {
    let org_exists = organizations::table
        .find(&sa.organization)
        .count()
        .get_result::<i64>(c)?
        > 0;
    if !org_exists {
        diesel::insert_into(organizations::table)
            .values(&OrganizationRow::new(
                &sa.organization,
                "Organization of hive-service's Cortex connector",
                SYSTEM,
            ))
            .execute(c)?;
    }
    let user: Option<UserRow> = users::table
        .find(&sa.login)
        .select(UserRow::as_select())
        .first(c)
        .optional()?;
    match user {
        Some(u) if u.organization_id != sa.organization => {
            return Err(ApiError::internal(format!(
                "service_account.login {} already exists in organization {}",
                sa.login, u.organization_id
            )))
        }
        Some(_) => {}
        None => {
            diesel::insert_into(users::table)
                .values(&UserRow {
                    roles: r#"["read","analyze"]"#.into(),
                    ..UserRow::new(&sa.login, "hive-service", &sa.organization, SYSTEM)
                })
                .execute(c)?;
            tracing::info!(organization = %sa.organization, login = %sa.login, "made the service account for hive-service");
        }
    }
    store_key_row(c, vault, &sa.login, Some(key), SYSTEM)?;
    Ok(())
}
