//! First start on an empty database: organisation `admin`, the four built-in profiles, the
//! built-in observable types and `admin@thehive.local`, all created by `system@thehive.local`;
//! and the instance secret that signs sessions. Runs under the instance lock and checks
//! before it writes, so several instances may start at once.

use crate::auth::{secrets, ADMIN_ORG, SYSTEM_LOGIN};
use crate::config::Settings;
use crate::db::models::*;
use crate::db::schema::*;
use crate::db::{next_id, now_ms, Db};
use crate::domain::permissions::BUILT_IN_PROFILES;
use crate::error::ApiError;
use diesel::prelude::*;
use secrecy::ExposeSecret;

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

/// What start-up needs from the bootstrap.
#[derive(Debug)]
pub struct Bootstrapped {
    /// Signs sessions; the same on every instance.
    pub session_secret: Vec<u8>,
}

const SECRET_KEY: &str = "session_secret";

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
    let (secret, generated) = db.write_blocking(|c| {
        let secret = ensure_secret(c)?;
        let generated = if organisations::table
            .filter(organisations::name.eq(ADMIN_ORG))
            .count()
            .get_result::<i64>(c)?
            == 0
        {
            seed(c, configured.as_deref())?
        } else {
            None
        };
        if let Some(key) = &api_key {
            let admin: Option<i64> = users::table
                .filter(users::login.eq(ADMIN_LOGIN))
                .select(users::id)
                .first(c)
                .optional()?;
            if let Some(id) = admin {
                let sealed = vault
                    .seal(&crate::routes::users::key_context(id), key)
                    .map_err(ApiError::internal)?;
                diesel::update(users::table.find(id))
                    .set((
                        users::api_key_hash.eq(secrets::sha256_hex(key.as_bytes())),
                        users::api_key_secret.eq(sealed),
                    ))
                    .execute(c)?;
            }
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
            "generated the initial admin password; it is in the file (mode 0600)"
        );
    }
    Ok(Bootstrapped {
        session_secret: secret.into_bytes(),
    })
}

fn ensure_secret(c: &mut crate::db::DbConn) -> Result<String, ApiError> {
    let existing: Option<String> = settings::table
        .find(SECRET_KEY)
        .select(settings::value)
        .first(c)
        .optional()?;
    if let Some(s) = existing {
        return Ok(s);
    }
    let secret = secrets::random_token(48);
    diesel::insert_into(settings::table)
        .values((settings::name.eq(SECRET_KEY), settings::value.eq(&secret)))
        .execute(c)?;
    Ok(secret)
}

/// Seeds an empty database; returns the generated admin password, if one was generated.
fn seed(c: &mut crate::db::DbConn, password: Option<&str>) -> Result<Option<String>, ApiError> {
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
    let (password, generated) = match password {
        Some(p) => (p.to_string(), None),
        None => {
            let p = secrets::random_token(18);
            (p.clone(), Some(p))
        }
    };
    let user = UserRow {
        password_hash: Some(secrets::hash_password(&password).map_err(ApiError::internal)?),
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
    Ok(generated)
}
