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
    /// The Cortex servers analyzers and responders run on.
    pub cortex: CortexSettings,
}

/// The Cortex connector. The usual single server is `name`/`url`/`api_key` (env
/// `HIVE__CORTEX__URL`...); a configuration file may list more under `servers`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CortexSettings {
    /// Name of the single server (its `cortexId`).
    pub name: String,
    /// Its base URL (`http://cortex:9001`); unset: no single server.
    pub url: Option<String>,
    /// Its API key (a user with roles `read` and `analyze`).
    pub api_key: Option<secrecy::SecretString>,
    /// The login of that key's user, used to sign RabbitMQ submissions; unset: learnt from
    /// the server (`GET /api/user/current`).
    pub login: Option<String>,
    /// More servers, each `{name, url, api_key, login?}` (configuration file only).
    #[serde(default)]
    pub servers: Vec<CortexServerSettings>,
    /// `auto` (RabbitMQ when `amqp.url` is set, else REST) or `rest`.
    pub transport: String,
    /// The queue cortex-service takes submissions from (its `jobs.submissions_queue`).
    pub submissions_queue: String,
    /// This service's durable queue for Cortex's job events (bound to `cortex.events`).
    pub events_queue: String,
    /// Files up to this size travel inside the RabbitMQ submission; larger ones are uploaded
    /// over REST.
    pub max_inline_bytes: u64,
    /// Timeout of one REST call, seconds.
    pub timeout_secs: u64,
    /// How long a job whose server cannot be reached keeps being submitted before it
    /// fails, seconds.
    pub submit_retry_secs: u64,
}

/// One Cortex server of `cortex.servers`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CortexServerSettings {
    /// Its `cortexId`.
    pub name: String,
    /// Base URL.
    pub url: String,
    /// API key.
    pub api_key: secrecy::SecretString,
    /// Login of the key's user (see [`CortexSettings::login`]).
    #[serde(default)]
    pub login: Option<String>,
}

impl CortexSettings {
    /// Every configured server, the single one first.
    pub fn all(&self) -> Vec<CortexServerSettings> {
        let mut out = Vec::new();
        if let (Some(url), Some(key)) = (&self.url, &self.api_key) {
            out.push(CortexServerSettings {
                name: self.name.clone(),
                url: url.clone(),
                api_key: key.clone(),
                login: self.login.clone(),
            });
        }
        out.extend(self.servers.iter().cloned());
        out
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.url.is_some() != self.api_key.is_some() {
            return Err(ConfigError(
                "cortex.url and cortex.api_key go together".into(),
            ));
        }
        let mut names = std::collections::HashSet::new();
        for s in self.all() {
            if s.name.trim().is_empty() || s.name.len() > 64 || s.name.contains('/') {
                return Err(ConfigError(format!("cortex: bad server name {:?}", s.name)));
            }
            if !names.insert(s.name.clone()) {
                return Err(ConfigError(format!(
                    "cortex: server {} listed twice",
                    s.name
                )));
            }
            match reqwest::Url::parse(&s.url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                _ => {
                    return Err(ConfigError(format!(
                        "cortex: server {}: url must be http(s)://...",
                        s.name
                    )))
                }
            }
        }
        if !matches!(self.transport.as_str(), "auto" | "rest") {
            return Err(ConfigError("cortex.transport: auto or rest".into()));
        }
        if self.submissions_queue.is_empty() || self.events_queue.is_empty() {
            return Err(ConfigError(
                "cortex.submissions_queue and cortex.events_queue must not be empty".into(),
            ));
        }
        if self.timeout_secs == 0 {
            return Err(ConfigError("cortex.timeout_secs: at least 1".into()));
        }
        Ok(())
    }
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
        defaults.push(("datastore.sweep_interval_secs", 3600.into()));
        defaults.push(("datastore.sweep_grace_secs", 3600.into()));
        defaults.extend([
            ("cortex.name", "local".into()),
            ("cortex.transport", "auto".into()),
            (
                "cortex.submissions_queue",
                shared_models::cortex::SUBMISSIONS_QUEUE.into(),
            ),
            ("cortex.events_queue", "hive.cortex-events".into()),
            ("cortex.max_inline_bytes", (1024_i64 * 1024).into()),
            ("cortex.timeout_secs", 30.into()),
            ("cortex.submit_retry_secs", 600.into()),
        ]);
        let mut s: Settings = load_layers(ENV_PREFIX, &defaults, file, env)?;
        validate_common(&s.http, &s.database, &s.amqp, &s.bootstrap)?;
        default_database(&mut s.database.url, &s.data_dir, "hive.db");
        s.datastore.finish(&s.data_dir)?;
        s.cortex.validate()?;
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
