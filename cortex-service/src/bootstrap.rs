//! First start on an empty database: organization `cortex` and its superadmin `admin`, and
//! the instance secret that signs sessions. Runs under the instance lock and checks before
//! it writes, so several instances may start at once.

use crate::auth::{secrets, ADMIN_ORG};
use crate::config::Settings;
use crate::db::schema::*;
use crate::db::{now_ms, Db, OrganizationRow, UserRow};
use crate::error::ApiError;
use diesel::prelude::*;
use secrecy::ExposeSecret;

/// Login of the built-in superadmin.
pub const ADMIN_LOGIN: &str = "admin";
/// Who created built-in data.
pub const SYSTEM: &str = "init";

/// What start-up needs from the bootstrap.
#[derive(Debug)]
pub struct Bootstrapped {
    /// Signs sessions; the same on every instance.
    pub session_secret: Vec<u8>,
}

/// Creates what an empty database lacks and returns the instance secret.
pub fn run(
    db: &Db,
    settings: &Settings,
    vault: &crate::auth::vault::Vault,
) -> Result<Bootstrapped, ApiError> {
    let configured = settings
        .bootstrap
        .admin_password
        .as_ref()
        .map(|p| p.expose_secret().to_string());
    let api_key = settings
        .bootstrap
        .admin_api_key
        .as_ref()
        .map(|k| k.expose_secret().to_string());
    let service_key = settings
        .service_account
        .api_key
        .as_ref()
        .map(|k| k.expose_secret().to_string());
    let (secret, generated) = db.write_blocking(|c| {
        let existing: Option<String> = settings::table
            .find("session_secret")
            .select(settings::value)
            .first(c)
            .optional()?;
        let secret = match existing {
            Some(s) => s,
            None => {
                let s = secrets::random_token(48);
                diesel::insert_into(settings::table)
                    .values((settings::name.eq("session_secret"), settings::value.eq(&s)))
                    .execute(c)?;
                s
            }
        };
        let empty = organizations::table
            .filter(organizations::id.eq(ADMIN_ORG))
            .count()
            .get_result::<i64>(c)?
            == 0;
        let mut generated = None;
        if empty {
            let now = now_ms();
            diesel::insert_into(organizations::table)
                .values(&OrganizationRow {
                    id: ADMIN_ORG.into(),
                    description: "Organization of the superadmins".into(),
                    status: "Active".into(),
                    created_by: SYSTEM.into(),
                    created_at: now,
                    updated_by: None,
                    updated_at: None,
                })
                .execute(c)?;
            let password = match &configured {
                Some(p) => p.clone(),
                None => {
                    let p = secrets::random_token(18);
                    generated = Some(p.clone());
                    p
                }
            };
            diesel::insert_into(users::table)
                .values(&UserRow {
                    id: ADMIN_LOGIN.into(),
                    name: "Administrator".into(),
                    organization_id: ADMIN_ORG.into(),
                    roles: r#"["superadmin"]"#.into(),
                    status: "Ok".into(),
                    password_hash: Some(
                        secrets::hash_password(&password).map_err(ApiError::internal)?,
                    ),
                    password_changed_at: now,
                    api_key_hash: None,
                    created_by: SYSTEM.into(),
                    created_at: now,
                    updated_by: None,
                    updated_at: None,
                    api_key_secret: None,
                })
                .execute(c)?;
            tracing::info!("bootstrapped an empty database: organization cortex, superadmin admin");
        }
        if let Some(key) = &api_key {
            crate::routes::users::store_key_row(c, vault, ADMIN_LOGIN, Some(key), SYSTEM)?;
        }
        if let Some(key) = &service_key {
            service_account(c, vault, &settings.service_account, key)?;
        }
        Ok((secret, generated))
    })?;
    if let Some(password) = generated {
        let path = settings.data_dir.join("initial-admin-password");
        secrets::write_private(&path, &password)
            .map_err(|e| ApiError::internal(format!("cannot write {}: {e}", path.display())))?;
        // The password itself never goes to the log: logs travel further than a 0600 file.
        tracing::warn!(
            login = ADMIN_LOGIN,
            file = %path.display(),
            "generated the initial superadmin password; it is in the file (mode 0600)"
        );
    }
    Ok(Bootstrapped {
        session_secret: secret.into_bytes(),
    })
}

/// Makes the service account's organization and user if missing, and sets its key.
fn service_account(
    c: &mut crate::db::DbConn,
    vault: &crate::auth::vault::Vault,
    sa: &crate::config::ServiceAccountSettings,
    key: &str,
) -> Result<(), ApiError> {
    let now = now_ms();
    let org_exists = organizations::table
        .find(&sa.organization)
        .count()
        .get_result::<i64>(c)?
        > 0;
    if !org_exists {
        diesel::insert_into(organizations::table)
            .values(&OrganizationRow {
                id: sa.organization.clone(),
                description: "Organization of hive-service's Cortex connector".into(),
                status: "Active".into(),
                created_by: SYSTEM.into(),
                created_at: now,
                updated_by: None,
                updated_at: None,
            })
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
                    id: sa.login.clone(),
                    name: "hive-service".into(),
                    organization_id: sa.organization.clone(),
                    roles: r#"["read","analyze"]"#.into(),
                    status: "Ok".into(),
                    password_hash: None,
                    password_changed_at: now,
                    api_key_hash: None,
                    created_by: SYSTEM.into(),
                    created_at: now,
                    updated_by: None,
                    updated_at: None,
                    api_key_secret: None,
                })
                .execute(c)?;
            tracing::info!(organization = %sa.organization, login = %sa.login, "made the service account for hive-service");
        }
    }
    crate::routes::users::store_key_row(c, vault, &sa.login, Some(key), SYSTEM)?;
    Ok(())
}
