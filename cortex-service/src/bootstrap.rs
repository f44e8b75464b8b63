//! First start on an empty database: organization `cortex` and its superadmin `admin`, and
//! the instance secret that signs sessions. Runs under the instance lock and checks before
//! it writes, so several instances may start at once.

use crate::auth::{store_key_row, ADMIN_ORG};
use crate::config::Settings;
use crate::db::schema::*;
use crate::db::DbConn;
use crate::db::{now_ms, OrganizationRow, UserRow};
use diesel::prelude::*;
use secrecy::ExposeSecret;
use service_kit::bootstrap::{FirstPassword, Seed};
use service_kit::error::ApiError;

/// Login of the built-in superadmin.
pub const ADMIN_LOGIN: &str = "admin";
/// Who created built-in data.
pub const SYSTEM: &str = "init";

/// What an empty database gets, and what every start applies.
pub struct CortexSeed<'a> {
    pub(crate) settings: &'a Settings,
    pub(crate) vault: &'a crate::auth::vault::Vault,
}

impl Seed for CortexSeed<'_> {
    fn is_empty(&self, c: &mut DbConn) -> QueryResult<bool> {
        let n: i64 = organizations::table
            .filter(organizations::id.eq(ADMIN_ORG))
            .count()
            .get_result(c)?;
        Ok(n == 0)
    }

    /// Seeds an empty database: organization `cortex` and its superadmin.
    fn seed(&self, c: &mut DbConn, first: &FirstPassword) -> Result<(), ApiError> {
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

    /// The superadmin's fixed key and the service account, when configured.
    fn every_start(&self, c: &mut DbConn, api_key: Option<&str>) -> Result<(), ApiError> {
        if let Some(key) = api_key {
            store_key_row(c, self.vault, ADMIN_LOGIN, Some(key), SYSTEM)?;
        }
        let sa = &self.settings.service_account;
        if let Some(key) = sa.api_key.as_ref() {
            service_account(c, self.vault, sa, key.expose_secret())?;
        }
        Ok(())
    }
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

/// Most entries of `service_account.workers`.
const MAX_START_WORKERS: usize = 200;

/// Enables the workers of `service_account.workers` in the service account's organization,
/// those not enabled there yet; each is checked as `POST /api/organization/{kind}/{id}`
/// checks it, and an entry that is not valid stops the start with its reason.
pub async fn enable_workers(
    db: &crate::db::Db,
    catalog: &crate::workers::Catalog,
    settings: &Settings,
) -> Result<usize, String> {
    let sa = &settings.service_account;
    let Some(path) = sa.workers.as_ref().filter(|_| sa.api_key.is_some()) else {
        return Ok(0);
    };
    let what = format!("service_account.workers: {}", path.display());
    let size = std::fs::metadata(path)
        .map_err(|e| format!("{what}: {e}"))?
        .len();
    if size > 1024 * 1024 {
        return Err(format!("{what}: larger than 1 MiB"));
    }
    let text = std::fs::read(path).map_err(|e| format!("{what}: {e}"))?;
    let entries: Vec<crate::workers::InputWorker> =
        serde_json::from_slice(&text).map_err(|e| format!("{what}: {e}"))?;
    if entries.len() > MAX_START_WORKERS {
        return Err(format!("{what}: more than {MAX_START_WORKERS} workers"));
    }
    let mut rows = Vec::new();
    for input in entries {
        let name = input.name.clone().unwrap_or_default();
        let def = catalog
            .get(shared_models::cortex::WorkerKind::Analyzer, &name)
            .or_else(|| catalog.get(shared_models::cortex::WorkerKind::Responder, &name))
            .ok_or_else(|| format!("{what}: no worker definition {name}"))?;
        let items = crate::workers::items_of(&def, &settings.jobs);
        let row = crate::workers::new_worker(&def, &items, input, &sa.organization, SYSTEM)
            .map_err(|e| format!("{what}: {name}: {e}"))?;
        rows.push(row);
    }
    db.write(move |c| {
        let mut n = 0;
        for row in &rows {
            let there: i64 = workers::table.find(&row.id).count().get_result(c)?;
            if there == 0 {
                n += diesel::insert_into(workers::table).values(row).execute(c)?;
            }
        }
        Ok(n)
    })
    .await
    .map_err(|e| format!("{what}: {e}"))
}
