//! Typed settings, layered: built-in defaults < optional file (`--config PATH`) < environment
//! variables `CORTEX__SECTION__KEY`. Unknown keys and bad values stop start-up with a message
//! naming the key (see docs/CONFIGURATION.md for every key).

use secrecy::{ExposeSecret, SecretString};
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
    /// Where the embedded database and attachments live.
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

/// HTTP listener settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    /// `host:port` to listen on.
    pub bind: String,
    /// Largest JSON body accepted, in bytes (larger: 413).
    pub max_json_bytes: usize,
    /// Seconds given to in-flight requests on shutdown.
    pub shutdown_timeout_secs: u64,
    /// HTTP worker threads; 0 = one per CPU.
    pub workers: usize,
}

/// Database settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://PATH` or `postgres://...`; default `sqlite://<data_dir>/cortex.db`.
    pub url: Option<SecretString>,
    /// Connections in the pool.
    pub pool_size: u32,
    /// Seconds to wait for a connection at start before giving up.
    pub connect_timeout_secs: u64,
}

/// RabbitMQ settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmqpSettings {
    /// `amqp://user:pass@host:port/vhost`; unset = no broker.
    pub url: Option<SecretString>,
}

/// Values used when the database is empty.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BootstrapSettings {
    /// Password of `the superadmin `admin``; unset = a random one, printed once.
    pub admin_password: Option<SecretString>,
    /// A fixed API key for `the superadmin `admin`` (at least 32 characters), applied at start.
    pub admin_api_key: Option<SecretString>,
}

/// Authentication settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// Accept `Authorization: Basic` (off by default, as in Cortex).
    pub basic: bool,
    /// Seconds a successful password check is remembered for Basic auth.
    pub basic_cache_secs: u64,
    /// Lifetime of a session (login endpoint), seconds.
    pub session_ttl_secs: u64,
    /// Failed logins for one account within `lockout_window_secs` before further attempts
    /// are refused without checking (429) until the window passes.
    pub max_failed_logins: u32,
    /// The window of `max_failed_logins`, seconds.
    pub lockout_window_secs: u64,
}

/// Log output.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// `pretty` or `json`.
    pub format: LogFormat,
    /// Default filter (overridden by `RUST_LOG`).
    pub level: String,
}

/// Log format.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// A configuration problem, naming the key.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {0}")]
pub struct ConfigError(pub String);

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
        let map: config::Map<String, String> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with(&format!("{ENV_PREFIX}__")))
            .collect();
        let mut builder = config::Config::builder()
            .set_default("http.bind", "127.0.0.1:9001")
            .and_then(|b| b.set_default("http.max_json_bytes", 10 * 1024 * 1024))
            .and_then(|b| b.set_default("http.shutdown_timeout_secs", 30))
            .and_then(|b| b.set_default("http.workers", 0))
            .and_then(|b| b.set_default("data_dir", "./data/cortex"))
            .and_then(|b| b.set_default("database.pool_size", 16))
            .and_then(|b| b.set_default("database.connect_timeout_secs", 10))
            .and_then(|b| b.set_default("auth.basic", false))
            .and_then(|b| b.set_default("auth.basic_cache_secs", 300))
            .and_then(|b| b.set_default("auth.session_ttl_secs", 8 * 3600))
            .and_then(|b| b.set_default("auth.max_failed_logins", 10))
            .and_then(|b| b.set_default("auth.lockout_window_secs", 600))
            .and_then(|b| b.set_default("log.format", "pretty"))
            .and_then(|b| b.set_default("log.level", "info"))
            .map_err(|e| ConfigError(e.to_string()))?;
        // Sections must exist even when all their keys are optional.
        for section in ["amqp", "bootstrap"] {
            builder = builder
                .set_default(section, config::Map::<String, String>::new())
                .map_err(|e| ConfigError(e.to_string()))?;
        }
        if let Some(path) = file {
            builder = builder.add_source(config::File::from(path).required(true));
        }
        let cfg = builder
            .add_source(
                config::Environment::with_prefix(ENV_PREFIX)
                    .prefix_separator("__")
                    .separator("__")
                    .source(Some(map)),
            )
            .build()
            .map_err(|e| ConfigError(e.to_string()))?;
        let mut settings: Settings = cfg
            .try_deserialize()
            .map_err(|e| ConfigError(e.to_string()))?;
        settings.validate()?;
        if settings.database.url.is_none() {
            let url = format!("sqlite://{}", settings.data_dir.join("cortex.db").display());
            settings.database.url = Some(SecretString::from(url));
        }
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        self.bind_addr()?;
        if let Some(url) = &self.database.url {
            let url = url.expose_secret();
            if !(url.starts_with("sqlite://")
                || url.starts_with("postgres://")
                || url.starts_with("postgresql://"))
            {
                return Err(ConfigError(
                    "database.url: must start with sqlite://, postgres:// or postgresql://".into(),
                ));
            }
        }
        if let Some(url) = &self.amqp.url {
            let url = url.expose_secret();
            if !(url.starts_with("amqp://") || url.starts_with("amqps://")) {
                return Err(ConfigError(
                    "amqp.url: must start with amqp:// or amqps://".into(),
                ));
            }
        }
        if let Some(key) = &self.bootstrap.admin_api_key {
            if key.expose_secret().len() < 32 {
                return Err(ConfigError(
                    "bootstrap.admin_api_key: must be at least 32 characters".into(),
                ));
            }
        }
        if let Some(pw) = &self.bootstrap.admin_password {
            if pw.expose_secret().trim().is_empty() {
                return Err(ConfigError(
                    "bootstrap.admin_password: must not be empty".into(),
                ));
            }
        }
        if self.database.pool_size == 0 {
            return Err(ConfigError("database.pool_size: must be at least 1".into()));
        }
        if self.http.max_json_bytes < 1024 {
            return Err(ConfigError(
                "http.max_json_bytes: must be at least 1024".into(),
            ));
        }
        Ok(())
    }

    /// The parsed listen address.
    pub fn bind_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.http.bind.parse().map_err(|e| {
            ConfigError(format!(
                "http.bind: `{}` is not host:port ({e})",
                self.http.bind
            ))
        })
    }

    /// The database URL (always set after loading).
    pub fn database_url(&self) -> String {
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
        assert_eq!(s.http.bind, "127.0.0.1:9001");
        assert_eq!(s.database_url(), "sqlite://./data/cortex/cortex.db");
        assert!(s.amqp.url.is_none());
        let s = Settings::load_with_env(
            None,
            env(&[
                ("CORTEX__DATABASE__URL", "postgres://u@h/db"),
                ("CORTEX__HTTP__BIND", "0.0.0.0:9101"),
                ("CORTEX__DATA_DIR", "/var/lib/cortex"),
                ("CORTEX__LOG__FORMAT", "json"),
            ]),
        )
        .expect("env loads");
        assert_eq!(s.database_url(), "postgres://u@h/db");
        assert_eq!(s.http.bind, "0.0.0.0:9101");
        assert_eq!(s.log.format, LogFormat::Json);
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_key() {
        let e = Settings::load_with_env(None, env(&[("CORTEX__HTTP__BINDD", "x")]))
            .expect_err("unknown key refused");
        assert!(e.to_string().contains("bindd"), "{e}");
        let e = Settings::load_with_env(None, env(&[("CORTEX__HTTP__BIND", "nope")]))
            .expect_err("bad bind refused");
        assert!(e.to_string().contains("http.bind"), "{e}");
        let e = Settings::load_with_env(None, env(&[("CORTEX__DATABASE__URL", "mysql://x")]))
            .expect_err("bad url refused");
        assert!(e.to_string().contains("database.url"), "{e}");
        let e = Settings::load_with_env(None, env(&[("CORTEX__DATABASE__POOL_SIZE", "many")]))
            .expect_err("bad number refused");
        assert!(e.to_string().contains("pool_size"), "{e}");
    }
}
