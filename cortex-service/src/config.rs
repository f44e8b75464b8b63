//! cortex-service's settings: the shared sections of [`service_kit::settings`] under the prefix
//! `CORTEX` (`CORTEX__SECTION__KEY`). Every key is in docs/CONFIGURATION.md.

use serde::Deserialize;
pub use service_kit::settings::*;
use std::path::{Path, PathBuf};

/// Prefix of the environment variables read by this service.
pub const ENV_PREFIX: &str = "CORTEX";

service_kit::service_settings! {
    /// All settings of cortex-service.
    pub struct Settings {
        /// Where analyzer definitions are found.
        pub analyzers: WorkerSettings,
        /// Where responder definitions are found.
        pub responders: WorkerSettings,
        /// How jobs run.
        pub jobs: JobSettings,
        /// The account hive-service uses (made at start when `api_key` is set).
        pub service_account: ServiceAccountSettings,
        /// The built-in workers (`Native_*`).
        pub native: NativeSettings,
    }
}

/// Limits and resources of the built-in workers (see `native/`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NativeSettings {
    /// Largest file a built-in analyzer reads; a larger one ends its job as a failure.
    pub max_input_bytes: u64,
    /// Most bytes unpacked from one file (attachments, embedded files, archive members).
    pub max_unpacked_bytes: u64,
    /// Networks (comma-separated CIDRs or addresses) `Native_Webhook` may reach besides
    /// public addresses.
    pub egress_allow: String,
    /// Networks (comma-separated CIDRs or addresses) of the SMTP relays `Native_Mailer` may
    /// reach besides public addresses (a relay is usually internal: name its network).
    pub smtp_allow: String,
    /// Folder of `Native_Reputation`'s lists (`<name>.txt`; default `<data_dir>/lists`).
    pub lists_dir: Option<PathBuf>,
}

/// An organization and a user for hive-service, made (if missing) at every start when
/// `api_key` is set, and given that key: how `deploy/quickstart` and docker-compose wire
/// hive-service to this service without anyone logging in.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceAccountSettings {
    /// The organization (made Active if missing).
    pub organization: String,
    /// The user's login (roles `read` and `analyze`).
    pub login: String,
    /// Its API key (at least 32 characters); unset: no service account is made.
    pub api_key: Option<secrecy::SecretString>,
    /// A JSON file of workers to enable in the organization at start when they are not
    /// enabled yet: `[{"name": "Native_EmlParser_1_0", "configuration": {...}, "rate": ...}]`
    /// (the body of `POST /api/organization/analyzer/{id}`, with `name`). Workers already
    /// enabled are left as they are (`deploy/quickstart` enables the built-in ones this way).
    pub workers: Option<PathBuf>,
}

/// Sources of worker definitions.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerSettings {
    /// Comma-separated folders (one directory per worker holding its JSON definitions, as in
    /// Cortex-Analyzers) or catalog files (a JSON array of definitions).
    pub paths: String,
}

impl WorkerSettings {
    /// The configured entries, trimmed, without empty ones.
    pub fn entries(&self) -> Vec<PathBuf> {
        self.paths
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .collect()
    }
}

/// The job runner.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSettings {
    /// Jobs running at once on this instance (0: the number of CPUs).
    pub concurrency: usize,
    /// Where job folders are made (default `<data_dir>/jobs`).
    pub directory: Option<PathBuf>,
    /// Default job timeout in minutes, for workers that set none.
    pub timeout: f64,
    /// Default cache window in minutes, for analyzers that set none (0: no cache).
    pub cache: f64,
    /// Most bytes a worker may write: in its output folder, and in any one file.
    pub max_output_bytes: u64,
    /// Seconds between SIGTERM and SIGKILL when a job times out.
    pub kill_grace_secs: u64,
    /// Runs of one job before it is failed (a runner that died counts as a run).
    pub max_attempts: i32,
    /// Keep every job folder (also per job with `parameters.keepJobFolder`).
    pub keep_job_folder: bool,
    /// The RabbitMQ work queue (`<queue>.retry` and `<queue>.dead` beside it); every instance
    /// on one database must use the same, and deployments sharing a broker different ones.
    pub queue: String,
    /// The RabbitMQ queue run requests are taken from (hive-service's connector sends its
    /// jobs there when both services have a broker).
    pub submissions_queue: String,
}

impl LoadSettings for Settings {
    fn load_with_env(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, ConfigError> {
        let mut defaults = common_defaults("127.0.0.1:9001", "./data/cortex", false);
        defaults.extend([
            ("analyzers.paths", "".into()),
            ("responders.paths", "".into()),
            ("jobs.concurrency", 0.into()),
            ("jobs.timeout", 30.0.into()),
            ("jobs.cache", 10.0.into()),
            ("jobs.max_output_bytes", (256_i64 * 1024 * 1024).into()),
            ("jobs.kill_grace_secs", 5.into()),
            ("jobs.max_attempts", 3.into()),
            ("jobs.keep_job_folder", false.into()),
            ("jobs.queue", "cortex.jobs".into()),
            (
                "jobs.submissions_queue",
                shared_models::cortex::SUBMISSIONS_QUEUE.into(),
            ),
            ("service_account.organization", "thehive".into()),
            ("service_account.login", "thehive".into()),
            ("native.max_input_bytes", (32_i64 * 1024 * 1024).into()),
            ("native.max_unpacked_bytes", (64_i64 * 1024 * 1024).into()),
            ("native.egress_allow", "".into()),
            ("native.smtp_allow", "".into()),
        ]);
        let mut s: Settings = load(ENV_PREFIX, &defaults, "cortex.db", file, env)?;
        if s.jobs.concurrency == 0 {
            s.jobs.concurrency = std::thread::available_parallelism().map_or(2, usize::from);
        }
        if s.native.lists_dir.is_none() {
            s.native.lists_dir = Some(s.data_dir.join("lists"));
        }
        if s.native.max_input_bytes == 0 || s.native.max_unpacked_bytes == 0 {
            return Err(ConfigError(
                "native.max_input_bytes and native.max_unpacked_bytes must be at least 1".into(),
            ));
        }
        if let Err(e) = service_kit::net::Egress::parse(&s.native.egress_allow) {
            return Err(ConfigError(format!("native.egress_allow: {e}")));
        }
        if let Err(e) = service_kit::net::Egress::parse(&s.native.smtp_allow) {
            return Err(ConfigError(format!("native.smtp_allow: {e}")));
        }
        if s.jobs.directory.is_none() {
            s.jobs.directory = Some(s.data_dir.join("jobs"));
        }
        if !(s.jobs.timeout.is_finite()
            && s.jobs.timeout > 0.0
            && s.jobs.cache.is_finite()
            && s.jobs.cache >= 0.0)
        {
            return Err(ConfigError(
                "jobs.timeout must be > 0 and jobs.cache >= 0 (minutes)".into(),
            ));
        }
        if s.jobs.queue.is_empty() || s.jobs.queue.len() > 200 {
            return Err(ConfigError("jobs.queue: 1 to 200 characters".into()));
        }
        if s.jobs.submissions_queue.is_empty()
            || s.jobs.submissions_queue.len() > 200
            || s.jobs.submissions_queue == s.jobs.queue
        {
            return Err(ConfigError(
                "jobs.submissions_queue: 1 to 200 characters, not jobs.queue".into(),
            ));
        }
        {
            use secrecy::ExposeSecret;
            let sa = &s.service_account;
            if sa
                .api_key
                .as_ref()
                .is_some_and(|k| k.expose_secret().len() < 32)
            {
                return Err(ConfigError(
                    "service_account.api_key: at least 32 characters".into(),
                ));
            }
            if crate::db::check_name("organization", &sa.organization, 64).is_err()
                || crate::db::check_name("login", &sa.login, 128).is_err()
            {
                return Err(ConfigError(
                    "service_account.organization / login: not a valid name".into(),
                ));
            }
        }
        if s.jobs.max_output_bytes == 0 || s.jobs.max_attempts < 1 {
            return Err(ConfigError(
                "jobs.max_output_bytes and jobs.max_attempts must be at least 1".into(),
            ));
        }
        Ok(s)
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
