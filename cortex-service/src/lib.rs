//! cortex-service: runs analyzers and responders for SOC teams, compatible with Cortex.
//!
//! This crate serves Cortex's API (`/api`, for cortex4py 2.x and TheHive's Cortex connector)
//! over SQLite by default or PostgreSQL (`database.url`), with RabbitMQ optional
//! (`amqp.url`). Organizations and users carry Cortex's literal roles (`read`, `analyze`,
//! `orgadmin`, `superadmin`). Infrastructure that both services need (error body, JSON
//! extraction, database pool, secrets, sessions, broker, logging) is compiled from
//! hive-service's sources with `#[path]`, so that it exists once.

/// PostgreSQL advisory lock taken while migrating and bootstrapping ("CRTX").
pub const INSTANCE_LOCK_KEY: i64 = 0x4352_5458;

/// The topic exchange this service publishes its events on.
pub const EVENTS_EXCHANGE: &str = "cortex.events";

pub mod auth;
pub mod bootstrap;
#[path = "../../hive-service/src/cli.rs"]
pub mod cli;
pub mod config;
#[path = "../../hive-service/src/datastore.rs"]
pub mod datastore;
pub mod db;
pub mod engine;
#[path = "../../hive-service/src/error.rs"]
pub mod error;
#[path = "../../hive-service/src/extract.rs"]
pub mod extract;
#[path = "../../hive-service/src/http.rs"]
pub mod http;
#[path = "../../hive-service/src/messaging/mod.rs"]
pub mod messaging;
pub mod routes;
#[path = "../../hive-service/src/settings.rs"]
pub mod settings;
#[path = "../../hive-service/src/startup.rs"]
pub mod startup;
pub mod submissions;
#[path = "../../hive-service/src/telemetry.rs"]
pub mod telemetry;
pub mod workers;

/// State of this service handed to every request, beside the database and the broker.
#[derive(Debug)]
pub struct ServiceState {
    /// Where uploaded observables and file artifacts are stored.
    pub datastore: datastore::Datastore,
    /// Largest multipart upload, bytes.
    pub max_upload_bytes: u64,
    /// Largest JSON document, also inside a multipart body.
    pub max_json_bytes: usize,
    /// The worker definitions installed.
    pub catalog: std::sync::Arc<workers::Catalog>,
    /// The job engine.
    pub engine: std::sync::Arc<engine::Engine>,
    /// How jobs run.
    pub jobs: config::JobSettings,
}

impl ServiceState {
    /// At shutdown, once the HTTP server stopped: nothing to hand over (jobs left running
    /// are recovered by the other instances, or at the next start).
    pub async fn shutdown(&self) {}

    /// Opens the datastore, reads the worker definitions and starts the job engine.
    pub async fn start(
        settings: &config::Settings,
        db: &db::Db,
        broker: &messaging::Broker,
    ) -> Result<ServiceState, String> {
        let path = settings
            .datastore
            .path
            .clone()
            .unwrap_or_else(|| settings.data_dir.join("datastore"));
        let datastore = datastore::Datastore::open(&path)
            .map_err(|e| format!("datastore.path: {}: {e}", path.display()))?;
        let jobs_dir = settings
            .jobs
            .directory
            .clone()
            .unwrap_or_else(|| settings.data_dir.join("jobs"));
        std::fs::create_dir_all(&jobs_dir)
            .map_err(|e| format!("jobs.directory: {}: {e}", jobs_dir.display()))?;
        // Workers run from their own root: the job folder they are given must be absolute.
        let jobs_dir = std::path::absolute(&jobs_dir)
            .map_err(|e| format!("jobs.directory: {}: {e}", jobs_dir.display()))?;
        let mut job_settings = settings.jobs.clone();
        job_settings.directory = Some(jobs_dir);
        let (analyzers, responders) = (settings.analyzers.entries(), settings.responders.entries());
        let catalog = std::sync::Arc::new(
            tokio::task::spawn_blocking(move || workers::Catalog::new(analyzers, responders))
                .await
                .map_err(|e| e.to_string())?,
        );
        let amqp = settings.amqp.url.as_ref().map(|u| {
            use secrecy::ExposeSecret;
            u.expose_secret().to_string()
        });
        let engine = engine::Engine::start(
            db.clone(),
            broker.clone(),
            job_settings.clone(),
            catalog.clone(),
            datastore.clone(),
            amqp,
        )
        .await?;
        if let Some(url) = settings.amqp.url.as_ref() {
            use secrecy::ExposeSecret;
            let subs = std::sync::Arc::new(submissions::Submissions {
                db: db.clone(),
                catalog: catalog.clone(),
                engine: engine.clone(),
                datastore: datastore.clone(),
                default_cache: job_settings.cache,
                queue: job_settings.submissions_queue.clone(),
                url: url.expose_secret().to_string(),
            });
            tokio::spawn(subs.run());
        }
        datastore::start_sweeper(
            db.clone(),
            datastore.clone(),
            settings.datastore.sweep_interval_secs,
            settings.datastore.sweep_grace_secs,
            datastore::SweepQueries {
                referenced: referenced_files,
                purge_sessions: auth::purge_sessions,
            },
        );
        Ok(ServiceState {
            datastore,
            max_upload_bytes: settings.datastore.max_upload_bytes,
            max_json_bytes: settings.http.max_json_bytes,
            catalog,
            engine,
            jobs: job_settings,
        })
    }
}

/// Of a batch of SHA-256s, those a job or an artifact references (their `attachment.id`,
/// read once per pass into `pass`).
fn referenced_files(
    c: &mut db::DbConn,
    batch: &[String],
    pass: &mut Option<std::collections::HashSet<String>>,
) -> Result<std::collections::HashSet<String>, String> {
    use db::schema::{artifacts, jobs};
    use diesel::prelude::*;
    if pass.is_none() {
        let mut all = std::collections::HashSet::new();
        let mut add = |rows: Vec<Option<String>>| {
            for a in rows.into_iter().flatten() {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&a) {
                    if let Some(id) = v.get("id").and_then(serde_json::Value::as_str) {
                        all.insert(id.to_string());
                    }
                }
            }
        };
        add(jobs::table
            .filter(jobs::attachment.is_not_null())
            .select(jobs::attachment)
            .load(c)
            .map_err(|e| e.to_string())?);
        add(artifacts::table
            .filter(artifacts::attachment.is_not_null())
            .select(artifacts::attachment)
            .load(c)
            .map_err(|e| e.to_string())?);
        *pass = Some(all);
    }
    Ok(pass.as_ref().map_or_else(Default::default, |all| {
        batch.iter().filter(|s| all.contains(*s)).cloned().collect()
    }))
}
