//! hive-service's settings: the shared sections of [`crate::settings`] under the prefix
//! `HIVE` (`HIVE__SECTION__KEY`). Every key is in docs/CONFIGURATION.md.

pub use crate::settings::*;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Prefix of the environment variables read by this service.
pub const ENV_PREFIX: &str = "HIVE";

/// All settings of hive-service.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// HTTP listener.
    pub http: HttpSettings,
    /// Where the embedded database and other files live.
    pub data_dir: PathBuf,
    /// The database.
    pub database: DatabaseSettings,
    /// The RabbitMQ broker (optional).
    pub amqp: AmqpSettings,
    /// First-start values.
    pub bootstrap: BootstrapSettings,
    /// Authentication.
    pub auth: AuthSettings,
    /// Logging.
    pub log: LogSettings,
    /// Where attachments are stored.
    pub datastore: DatastoreSettings,
}

impl Settings {
    /// Loads defaults, then `file` if given, then the environment.
    pub fn load(file: Option<&Path>) -> Result<Settings, ConfigError> {
        Self::load_with_env(file, std::env::vars())
    }

    /// As [`Settings::load`], with the environment given explicitly (for tests).
    pub fn load_with_env(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, ConfigError> {
        let mut defaults = common_defaults("127.0.0.1:9000", "./data/hive", true);
        defaults.push(("datastore.max_upload_bytes", (100_i64 * 1024 * 1024).into()));
        let mut s: Settings = load_layers(ENV_PREFIX, &defaults, file, env)?;
        validate_common(&s.http, &s.database, &s.amqp, &s.bootstrap)?;
        default_database(&mut s.database.url, &s.data_dir, "hive.db");
        s.datastore.finish(&s.data_dir)?;
        Ok(s)
    }

    /// The parsed listen address.
    pub fn bind_addr(&self) -> Result<SocketAddr, ConfigError> {
        bind_addr(&self.http)
    }

    /// The database URL (always set after loading).
    pub fn database_url(&self) -> String {
        use secrecy::ExposeSecret;
        self.database
            .url
            .as_ref()
            .map(|u| u.expose_secret().to_string())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_then_env_override() {
        let s = Settings::load_with_env(None, env(&[])).expect("defaults load");
        assert_eq!(s.http.bind, "127.0.0.1:9000");
        assert_eq!(s.database_url(), "sqlite://./data/hive/hive.db");
        assert!(s.amqp.url.is_none());
        let s = Settings::load_with_env(
            None,
            env(&[
                ("HIVE__DATABASE__URL", "postgres://u@h/db"),
                ("HIVE__HTTP__BIND", "0.0.0.0:9100"),
                ("HIVE__DATA_DIR", "/var/lib/hive"),
                ("HIVE__LOG__FORMAT", "json"),
            ]),
        )
        .expect("env loads");
        assert_eq!(s.database_url(), "postgres://u@h/db");
        assert_eq!(s.http.bind, "0.0.0.0:9100");
        assert_eq!(s.log.format, LogFormat::Json);
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_key() {
        let e = Settings::load_with_env(None, env(&[("HIVE__HTTP__BINDD", "x")]))
            .expect_err("unknown key refused");
        assert!(e.to_string().contains("bindd"), "{e}");
        let e = Settings::load_with_env(None, env(&[("HIVE__HTTP__BIND", "nope")]))
            .expect_err("bad bind refused");
        assert!(e.to_string().contains("http.bind"), "{e}");
        let e = Settings::load_with_env(None, env(&[("HIVE__DATABASE__URL", "mysql://x")]))
            .expect_err("bad url refused");
        assert!(e.to_string().contains("database.url"), "{e}");
        let e = Settings::load_with_env(None, env(&[("HIVE__DATABASE__POOL_SIZE", "many")]))
            .expect_err("bad number refused");
        assert!(e.to_string().contains("pool_size"), "{e}");
    }
}
