//! cortex-service's settings: the shared sections of [`crate::settings`] under the prefix
//! `CORTEX` (`CORTEX__SECTION__KEY`). Every key is in docs/CONFIGURATION.md.

pub use crate::settings::*;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Prefix of the environment variables read by this service.
pub const ENV_PREFIX: &str = "CORTEX";

/// All settings of cortex-service.
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
        let defaults = common_defaults("127.0.0.1:9001", "./data/cortex", false);
        let mut s: Settings = load_layers(ENV_PREFIX, &defaults, file, env)?;
        validate_common(&s.http, &s.database, &s.amqp, &s.bootstrap)?;
        default_database(&mut s.database.url, &s.data_dir, "cortex.db");
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

    #[test]
    fn cortex_defaults_and_prefix() {
        let s = Settings::load_with_env(None, Vec::new()).expect("defaults load");
        assert_eq!(s.http.bind, "127.0.0.1:9001");
        assert_eq!(s.database_url(), "sqlite://./data/cortex/cortex.db");
        assert!(!s.auth.basic, "Basic auth is off by default, as in Cortex");
        let env = vec![
            ("CORTEX__AUTH__BASIC".to_string(), "true".to_string()),
            ("HIVE__X".to_string(), "ignored".to_string()),
        ];
        assert!(
            Settings::load_with_env(None, env)
                .expect("loads")
                .auth
                .basic
        );
        let e = Settings::load_with_env(None, vec![("CORTEX__NOPE".to_string(), "1".to_string())])
            .expect_err("unknown");
        assert!(e.to_string().contains("nope"), "{e}");
    }
}
