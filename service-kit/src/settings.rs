//! Settings sections both services share, and the layering: built-in defaults < optional
//! file (`--config PATH`) < environment variables `PREFIX__SECTION__KEY`. Each service
//! declares its `Settings` with [`service_settings!`](crate::service_settings): these
//! sections and its own, with `deny_unknown_fields`, so that an unknown key or a bad value
//! stops start-up with a message naming the key; [`load`] reads and checks them.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

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
    /// Reverse proxies, comma-separated addresses or CIDR blocks, whose `X-Forwarded-For`
    /// names the client; from anywhere else the peer address is the client (login
    /// throttling, logs). Empty: none.
    pub trusted_proxies: String,
    /// HTTP worker threads; 0 = one per CPU.
    pub workers: usize,
}

/// Database settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://PATH` or `postgres://...`; default `sqlite://<data_dir>/<service>.db`.
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
    /// Password of the built-in administrator; unset = a random one, printed once.
    pub admin_password: Option<SecretString>,
    /// A fixed API key for the built-in administrator (at least 32 characters), applied at
    /// every start.
    pub admin_api_key: Option<SecretString>,
}

/// Authentication settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// Accept `Authorization: Basic` (login and password on every request).
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
    /// The key that encrypts API keys and TOTP secrets at rest: 32 bytes in base64; unset:
    /// the file `<data_dir>/encryption.key`, made at first start.
    pub encryption_key: Option<SecretString>,
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

/// Loads the layers: `defaults`, then `file`, then the `PREFIX__*` variables of `env`.
pub fn load_layers<T: serde::de::DeserializeOwned>(
    prefix: &str,
    defaults: &[(&str, config::Value)],
    file: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<T, ConfigError> {
    let map: config::Map<String, String> = env
        .into_iter()
        .filter(|(k, _)| k.starts_with(&format!("{prefix}__")))
        .collect();
    let mut builder = config::Config::builder();
    for (key, value) in defaults {
        builder = builder
            .set_default(*key, value.clone())
            .map_err(|e| ConfigError(e.to_string()))?;
    }
    if let Some(path) = file {
        builder = builder.add_source(config::File::from(path).required(true));
    }
    builder
        .add_source(
            config::Environment::with_prefix(prefix)
                .prefix_separator("__")
                .separator("__")
                .source(Some(map)),
        )
        .build()
        .map_err(|e| ConfigError(e.to_string()))?
        .try_deserialize()
        .map_err(|e| ConfigError(e.to_string()))
}

/// The defaults of the shared sections.
pub fn common_defaults(
    bind: &str,
    data_dir: &str,
    basic: bool,
) -> Vec<(&'static str, config::Value)> {
    let empty = config::Value::from(config::Map::<String, String>::new());
    vec![
        ("http.bind", bind.into()),
        ("http.max_json_bytes", (10 * 1024 * 1024).into()),
        ("http.shutdown_timeout_secs", 30.into()),
        ("http.workers", 0.into()),
        ("http.trusted_proxies", "".into()),
        ("data_dir", data_dir.into()),
        ("database.pool_size", 16.into()),
        ("database.connect_timeout_secs", 10.into()),
        ("amqp", empty.clone()),
        ("bootstrap", empty),
        ("auth.basic", basic.into()),
        ("auth.basic_cache_secs", 300.into()),
        ("auth.session_ttl_secs", (8 * 3600).into()),
        ("auth.max_failed_logins", 10.into()),
        ("auth.lockout_window_secs", 600.into()),
        ("log.format", "pretty".into()),
        ("log.level", "info".into()),
        ("datastore.max_upload_bytes", (100_i64 * 1024 * 1024).into()),
        ("datastore.sweep_interval_secs", 3600.into()),
        ("datastore.sweep_grace_secs", 3600.into()),
    ]
}

/// Checks the values of the shared sections, naming the key of the first bad one.
pub fn validate_common(
    http: &HttpSettings,
    database: &DatabaseSettings,
    amqp: &AmqpSettings,
    bootstrap: &BootstrapSettings,
) -> Result<(), ConfigError> {
    bind_addr(http)?;
    crate::http::TrustedProxies::parse(&http.trusted_proxies)
        .map_err(|e| ConfigError(format!("http.trusted_proxies: {e}")))?;
    if let Some(url) = &database.url {
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
    if let Some(url) = &amqp.url {
        let url = url.expose_secret();
        if !(url.starts_with("amqp://") || url.starts_with("amqps://")) {
            return Err(ConfigError(
                "amqp.url: must start with amqp:// or amqps://".into(),
            ));
        }
    }
    if let Some(key) = &bootstrap.admin_api_key {
        if key.expose_secret().len() < 32 {
            return Err(ConfigError(
                "bootstrap.admin_api_key: must be at least 32 characters".into(),
            ));
        }
    }
    if let Some(pw) = &bootstrap.admin_password {
        if pw.expose_secret().trim().is_empty() {
            return Err(ConfigError(
                "bootstrap.admin_password: must not be empty".into(),
            ));
        }
    }
    if database.pool_size == 0 {
        return Err(ConfigError("database.pool_size: must be at least 1".into()));
    }
    if http.max_json_bytes < 1024 {
        return Err(ConfigError(
            "http.max_json_bytes: must be at least 1024".into(),
        ));
    }
    Ok(())
}

/// The parsed listen address.
pub fn bind_addr(http: &HttpSettings) -> Result<SocketAddr, ConfigError> {
    http.bind
        .parse()
        .map_err(|e| ConfigError(format!("http.bind: `{}` is not host:port ({e})", http.bind)))
}

/// `sqlite://<data_dir>/<file>` when `url` is unset.
pub fn default_database(url: &mut Option<SecretString>, data_dir: &Path, file: &str) {
    if url.is_none() {
        *url = Some(SecretString::from(format!(
            "sqlite://{}",
            data_dir.join(file).display()
        )));
    }
}

/// The datastore: files stored by SHA-256 (attachments, uploads, file artifacts).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatastoreSettings {
    /// Directory (default `<data_dir>/datastore`); instances sharing a database must share it.
    pub path: Option<PathBuf>,
    /// Largest multipart upload accepted, in bytes (larger: 413); also the most an archive
    /// or a zip observable may hold once inflated.
    pub max_upload_bytes: u64,
    /// Seconds between two passes of the sweeper (files no row references); 0 = never.
    pub sweep_interval_secs: u64,
    /// Age, in seconds, a file must have before the sweeper removes it unreferenced.
    pub sweep_grace_secs: u64,
}

impl DatastoreSettings {
    /// Fills the default path and checks the limit.
    pub fn finish(&mut self, data_dir: &Path) -> Result<(), ConfigError> {
        if self.path.is_none() {
            self.path = Some(data_dir.join("datastore"));
        }
        if self.max_upload_bytes == 0 {
            return Err(ConfigError(
                "datastore.max_upload_bytes: must be greater than 0".into(),
            ));
        }
        Ok(())
    }
}

/// What every service's settings hold: the shared sections (implemented by
/// [`service_settings!`](crate::service_settings)).
pub trait CommonSettings:
    serde::de::DeserializeOwned + Clone + Send + Sync + std::fmt::Debug + 'static
{
    /// HTTP listener.
    fn http(&self) -> &HttpSettings;
    /// Where the embedded database and other files live.
    fn data_dir(&self) -> &Path;
    /// The database.
    fn database(&self) -> &DatabaseSettings;
    /// The RabbitMQ broker.
    fn amqp(&self) -> &AmqpSettings;
    /// First-start values.
    fn bootstrap(&self) -> &BootstrapSettings;
    /// Authentication.
    fn auth(&self) -> &AuthSettings;
    /// Logging.
    fn log(&self) -> &LogSettings;
    /// The datastore.
    fn datastore(&self) -> &DatastoreSettings;
    /// The database and datastore sections, to fill their defaults.
    fn defaults_mut(&mut self) -> (&Path, &mut DatabaseSettings, &mut DatastoreSettings);

    /// The parsed listen address.
    fn bind_addr(&self) -> Result<SocketAddr, ConfigError> {
        bind_addr(self.http())
    }

    /// The database URL (always set after [`load`]).
    fn database_url(&self) -> String {
        self.database()
            .url
            .as_ref()
            .map(|u| u.expose_secret().to_string())
            .unwrap_or_default()
    }

    /// The broker URL, when one is configured.
    fn amqp_url(&self) -> Option<String> {
        self.amqp()
            .url
            .as_ref()
            .map(|u| u.expose_secret().to_string())
    }
}

/// How a service reads its settings.
pub trait LoadSettings: CommonSettings {
    /// Loads defaults, then `file` if given, then `env` (with [`load`]), and checks the
    /// service's own sections.
    fn load_with_env(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError>;

    /// Loads defaults, then `file` if given, then the process's environment.
    fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_with_env(file, std::env::vars())
    }
}

/// Declares a service's settings: the shared sections of [`CommonSettings`] and the
/// service's own fields, refusing unknown keys.
#[macro_export]
macro_rules! service_settings {
    ($(#[$m:meta])* pub struct $name:ident { $($(#[$fm:meta])* pub $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            /// HTTP listener.
            pub http: $crate::settings::HttpSettings,
            /// Where the embedded database and other files live.
            pub data_dir: std::path::PathBuf,
            /// The database.
            pub database: $crate::settings::DatabaseSettings,
            /// The RabbitMQ broker (optional).
            pub amqp: $crate::settings::AmqpSettings,
            /// First-start values.
            pub bootstrap: $crate::settings::BootstrapSettings,
            /// Authentication.
            pub auth: $crate::settings::AuthSettings,
            /// Logging.
            pub log: $crate::settings::LogSettings,
            /// Where files are stored.
            pub datastore: $crate::settings::DatastoreSettings,
            $($(#[$fm])* pub $field: $ty,)*
        }

        impl $crate::settings::CommonSettings for $name {
            fn http(&self) -> &$crate::settings::HttpSettings { &self.http }
            fn data_dir(&self) -> &std::path::Path { &self.data_dir }
            fn database(&self) -> &$crate::settings::DatabaseSettings { &self.database }
            fn amqp(&self) -> &$crate::settings::AmqpSettings { &self.amqp }
            fn bootstrap(&self) -> &$crate::settings::BootstrapSettings { &self.bootstrap }
            fn auth(&self) -> &$crate::settings::AuthSettings { &self.auth }
            fn log(&self) -> &$crate::settings::LogSettings { &self.log }
            fn datastore(&self) -> &$crate::settings::DatastoreSettings { &self.datastore }
            fn defaults_mut(
                &mut self,
            ) -> (
                &std::path::Path,
                &mut $crate::settings::DatabaseSettings,
                &mut $crate::settings::DatastoreSettings,
            ) {
                (&self.data_dir, &mut self.database, &mut self.datastore)
            }
        }
    };
}

/// Loads a service's settings: `defaults` (after [`common_defaults`]), then `file`, then the
/// `PREFIX__*` variables of `env`; checks the shared sections and fills the database
/// (`sqlite://<data_dir>/<db_file>`) and datastore defaults.
pub fn load<T: CommonSettings>(
    prefix: &str,
    defaults: &[(&str, config::Value)],
    db_file: &str,
    file: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<T, ConfigError> {
    let mut s: T = load_layers(prefix, defaults, file, env)?;
    validate_common(s.http(), s.database(), s.amqp(), s.bootstrap())?;
    let (data_dir, database, datastore) = s.defaults_mut();
    let data_dir = data_dir.to_path_buf();
    default_database(&mut database.url, &data_dir, db_file);
    datastore.finish(&data_dir)?;
    Ok(s)
}
