//! Every service's start-up protocol, under the instance lock ([`first_start`]): the
//! instance secret that signs sessions (kept in the `settings` table every service's
//! migrations create), the service's own seed when the database is empty with the
//! administrator's password (configured, or made up and handed over once), and what is
//! applied at every start (the configured fixed API key...).

use crate::auth::secrets;
use crate::db::{Db, DbConn};
use crate::error::ApiError;
use crate::settings::BootstrapSettings;
use diesel::prelude::*;
use secrecy::ExposeSecret;
use std::io::IsTerminal;
use std::path::Path;

diesel::table! {
    /// Instance-wide values (`name` → `value`); each service's migrations create it.
    settings (name) {
        name -> Text,
        value -> Text,
    }
}

const SECRET_KEY: &str = "session_secret";

/// What a service's start-up does to its database.
pub trait Seed {
    /// Whether the database is still empty (its administrator's organisation is missing).
    fn is_empty(&self, c: &mut DbConn) -> QueryResult<bool>;
    /// Fills an empty database; the administrator gets `first`.
    fn seed(&self, c: &mut DbConn, first: &FirstPassword) -> Result<(), ApiError>;
    /// At every start: `api_key` is `bootstrap.admin_api_key`, when configured.
    fn every_start(&self, c: &mut DbConn, api_key: Option<&str>) -> Result<(), ApiError>;
}

/// Runs the start-up protocol in one transaction: the session secret, the seed of an empty
/// database, what every start applies; then hands a generated password over to the
/// operator ([`hand_over`]). Answers the session secret.
pub fn first_start(
    db: &Db,
    settings: &impl crate::settings::CommonSettings,
    admin_login: &str,
    service: &impl Seed,
) -> Result<Vec<u8>, ApiError> {
    let first = FirstPassword::from_settings(settings.bootstrap());
    let api_key = fixed_api_key(settings.bootstrap());
    let data_dir = settings.data_dir();
    let (secret, seeded) = db.write_blocking(|c| {
        let secret = session_secret(c)?;
        let seeded = service.is_empty(c)?;
        if seeded {
            service.seed(c, &first)?;
        }
        service.every_start(c, api_key.as_deref())?;
        Ok((secret, seeded))
    })?;
    if seeded {
        hand_over(data_dir, admin_login, &first)?;
    }
    Ok(secret)
}

/// The instance secret signing sessions, made at the first start; the same on every
/// instance sharing the database.
pub fn session_secret(c: &mut DbConn) -> Result<Vec<u8>, ApiError> {
    let existing: Option<String> = settings::table
        .find(SECRET_KEY)
        .select(settings::value)
        .first(c)
        .optional()?;
    if let Some(s) = existing {
        return Ok(s.into_bytes());
    }
    let secret = secrets::random_token(48);
    diesel::insert_into(settings::table)
        .values((settings::name.eq(SECRET_KEY), settings::value.eq(&secret)))
        .execute(c)?;
    Ok(secret.into_bytes())
}

/// The administrator's first password.
#[derive(Debug)]
pub struct FirstPassword {
    /// The password.
    pub password: String,
    /// Whether it was made up here (then [`hand_over`] must tell it to the operator).
    pub generated: bool,
}

impl FirstPassword {
    /// `bootstrap.admin_password`, else a random one.
    pub fn from_settings(b: &BootstrapSettings) -> FirstPassword {
        match &b.admin_password {
            Some(p) => FirstPassword {
                password: p.expose_secret().to_string(),
                generated: false,
            },
            None => FirstPassword {
                password: secrets::random_token(18),
                generated: true,
            },
        }
    }

    /// Its argon2 hash, to store.
    pub fn hash(&self) -> Result<String, ApiError> {
        secrets::hash_password(&self.password).map_err(ApiError::internal)
    }
}

/// `bootstrap.admin_api_key`, applied at every start.
fn fixed_api_key(b: &BootstrapSettings) -> Option<String> {
    b.admin_api_key
        .as_ref()
        .map(|k| k.expose_secret().to_string())
}

/// Hands a generated password over to the operator: into `<data_dir>/initial-admin-password`
/// (mode 0600) and, when standard error is a terminal, onto it once. Never into the log:
/// logs travel further than a private file (the log line names the file only).
fn hand_over(data_dir: &Path, login: &str, first: &FirstPassword) -> Result<(), ApiError> {
    if !first.generated {
        return Ok(());
    }
    let path = data_dir.join("initial-admin-password");
    secrets::write_private(&path, &first.password)
        .map_err(|e| ApiError::internal(format!("cannot write {}: {e}", path.display())))?;
    tracing::warn!(
        login,
        file = %path.display(),
        "generated the initial administrator password; it is in the file (mode 0600)"
    );
    if std::io::stderr().is_terminal() {
        eprintln!(
            "\n  Initial password of {login}: {}\n  (also in {}; change it after the first login)\n",
            first.password,
            path.display()
        );
    }
    Ok(())
}
