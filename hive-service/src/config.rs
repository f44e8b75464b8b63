//! hive-service's settings: the shared sections of [`service_kit::settings`] under the prefix
//! `HIVE` (`HIVE__SECTION__KEY`). Every key is in docs/CONFIGURATION.md.

use serde::Deserialize;
pub use service_kit::settings::*;
use std::path::Path;

/// Prefix of the environment variables read by this service.
pub const ENV_PREFIX: &str = "HIVE";

service_kit::service_settings! {
    /// All settings of hive-service.
    pub struct Settings {
        /// The Cortex servers analyzers and responders run on.
        pub cortex: CortexSettings,
        /// Notifications: webhooks, mail, events on RabbitMQ.
        pub notification: NotificationSettings,
    }
}

/// Notifications (TheHive 4's `notification.*`): webhook endpoints, the SMTP server of
/// `EmailToAddr`, the events on RabbitMQ, and how deliveries are retried.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationSettings {
    /// Webhook endpoints by name (`notification.webhooks.<name>.url`...; env
    /// `HIVE__NOTIFICATION__WEBHOOKS__<NAME>__URL`, the name lower-cased).
    #[serde(default)]
    pub webhooks: std::collections::BTreeMap<String, WebhookSettings>,
    /// The SMTP server `EmailToAddr` sends through.
    pub smtp: SmtpSettings,
    /// Networks (CIDRs, comma-separated) that endpoints set through the API may reach
    /// although private, loopback or link-local; configuration-file endpoints are trusted.
    pub allowed_networks: String,
    /// A delivery still failing this long after its event is dead (seconds).
    pub dead_after_secs: u64,
    /// The topic exchange the events go to when `amqp.url` is set (empty: none).
    pub amqp_exchange: String,
    /// Delivered deliveries are forgotten after this many days.
    pub keep_delivered_days: u64,
    /// How much nicer (0-19, Linux) than the requests the dispatcher and deliverer threads
    /// run: on a saturated CPU the requests go first and the outbox catches up after.
    pub nice: u8,
}

/// One webhook endpoint of the configuration file or the environment.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// Where events are POSTed (http or https).
    pub url: String,
    /// Payload version: 0 (TheHive 4's v0 names, the default) or 1.
    #[serde(default)]
    pub version: u8,
    /// How the receiver is authenticated.
    #[serde(default)]
    pub auth: WebhookAuthSettings,
    /// More headers sent with every call.
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
    /// Organisations whose events go there (names, comma-separated or a list; empty or
    /// `*`: all).
    #[serde(default, deserialize_with = "names")]
    pub include_organisations: Vec<String>,
    /// Organisations whose events never go there.
    #[serde(default, deserialize_with = "names")]
    pub exclude_organisations: Vec<String>,
    /// Timeout of one call, milliseconds.
    #[serde(default = "default_webhook_timeout")]
    pub timeout_ms: u64,
    /// Key of the HMAC-SHA256 signature of each body, sent as `X-Hive-Signature:
    /// sha256=<hex>`.
    #[serde(default)]
    pub secret: Option<secrecy::SecretString>,
}

fn default_webhook_timeout() -> u64 {
    5_000
}

/// A webhook's authentication, as TheHive 4 configures it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookAuthSettings {
    /// `none` (default), `basic`, `bearer` (`Authorization: Bearer <key>`) or `key`
    /// (`Authorization: <key>`).
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// Login of `basic`.
    #[serde(default)]
    pub username: Option<String>,
    /// Password of `basic`.
    #[serde(default)]
    pub password: Option<secrecy::SecretString>,
    /// Key of `bearer` and `key`.
    #[serde(default)]
    pub key: Option<secrecy::SecretString>,
}

/// The SMTP server of `EmailToAddr` notifications.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    /// Host (empty: no mail is sent; such notifications fail with that reason).
    pub host: String,
    /// Port.
    pub port: u16,
    /// `starttls` (default), `tls` or `none`.
    pub security: String,
    /// Login, if the server wants one.
    #[serde(default)]
    pub username: Option<String>,
    /// Password.
    #[serde(default)]
    pub password: Option<secrecy::SecretString>,
    /// Sender address.
    pub from: String,
    /// Timeout of one mail, seconds.
    pub timeout_secs: u64,
}

/// A list of names given as a list or as one comma-separated text (environment).
fn names<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Names {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Names::deserialize(d)? {
        Names::One(s) => s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        Names::Many(v) => v,
    })
}

impl NotificationSettings {
    fn validate(&self) -> Result<(), ConfigError> {
        for (name, w) in &self.webhooks {
            if name.is_empty() || name.len() > 64 {
                return Err(ConfigError(format!(
                    "notification.webhooks: bad name {name:?}"
                )));
            }
            match reqwest::Url::parse(&w.url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                _ => {
                    return Err(ConfigError(format!(
                        "notification.webhooks.{name}.url: must be http(s)://..."
                    )))
                }
            }
            if w.version > 1 {
                return Err(ConfigError(format!(
                    "notification.webhooks.{name}.version: 0 or 1"
                )));
            }
            if !matches!(
                w.auth.kind.as_deref().unwrap_or("none"),
                "none" | "basic" | "bearer" | "key"
            ) {
                return Err(ConfigError(format!(
                    "notification.webhooks.{name}.auth.type: none, basic, bearer or key"
                )));
            }
            if w.timeout_ms == 0 || w.timeout_ms > 600_000 {
                return Err(ConfigError(format!(
                    "notification.webhooks.{name}.timeout_ms: 1 to 600000"
                )));
            }
        }
        if !matches!(self.smtp.security.as_str(), "starttls" | "tls" | "none") {
            return Err(ConfigError(
                "notification.smtp.security: starttls, tls or none".into(),
            ));
        }
        service_kit::http::TrustedProxies::parse(&self.allowed_networks)
            .map_err(|e| ConfigError(format!("notification.allowed_networks: {e}")))?;
        if self.dead_after_secs == 0 {
            return Err(ConfigError(
                "notification.dead_after_secs: at least 1".into(),
            ));
        }
        if self.nice > 19 {
            return Err(ConfigError("notification.nice: 0 to 19".into()));
        }
        Ok(())
    }
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
    /// Whether an analyzer's artifacts tagged `autoImport:true` become observables as soon
    /// as the job ends (TheHive 5); off, analysts import them from the report (TheHive 4).
    pub auto_import: bool,
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

impl LoadSettings for Settings {
    fn load_with_env(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, ConfigError> {
        let mut defaults = common_defaults("127.0.0.1:9000", "./data/hive", true);
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
            ("cortex.auto_import", true.into()),
            ("notification.smtp.host", "".into()),
            ("notification.smtp.port", 587.into()),
            ("notification.smtp.security", "starttls".into()),
            ("notification.smtp.from", "thehive@localhost".into()),
            ("notification.smtp.timeout_secs", 30.into()),
            ("notification.allowed_networks", "".into()),
            ("notification.dead_after_secs", (24 * 3600).into()),
            ("notification.amqp_exchange", crate::EVENTS_EXCHANGE.into()),
            ("notification.keep_delivered_days", 7.into()),
            ("notification.nice", 10.into()),
        ]);
        let s: Settings = load(ENV_PREFIX, &defaults, "hive.db", file, env)?;
        s.cortex.validate()?;
        s.notification.validate()?;
        Ok(s)
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
