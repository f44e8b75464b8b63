//! cortex-service: runs analyzers and responders for SOC teams, compatible with Cortex.
//!
//! This crate serves Cortex's API (`/api`, for cortex4py 2.x and TheHive's Cortex connector)
//! over SQLite by default or PostgreSQL (`database.url`), with RabbitMQ optional
//! (`amqp.url`). Organizations and users carry Cortex's literal roles (`read`, `analyze`,
//! `orgadmin`, `superadmin`). What both services run on (server, error body, JSON
//! extraction, database pool, secrets, sessions, broker, logging) is [`service_kit`];
//! [`Cortex`] is what this crate gives it.

pub mod auth;
pub mod base_configs;
pub mod bootstrap;
pub mod config;
pub mod console;
pub mod db;
pub mod engine;
pub mod jobs;
pub mod native;
pub mod routes;
pub mod submissions;
pub mod workers;

use service_kit::body::Uploads;
use service_kit::service::Routes;
use service_kit::{Service, Started};
use std::sync::Arc;

/// cortex-service, as run by [`service_kit`].
#[derive(Debug)]
pub struct Cortex;

/// cortex-service's application (see [`service_kit::startup::Application`]).
pub type Application = service_kit::startup::Application<Cortex>;

/// State of this service handed to every request, beside the database and the broker.
#[derive(Debug)]
pub struct ServiceState {
    /// Where uploaded observables and file artifacts are stored, and the upload limits.
    pub uploads: Uploads,
    /// The worker definitions installed.
    pub catalog: Arc<workers::Catalog>,
    /// The job engine.
    pub engine: Arc<engine::Engine>,
    /// How jobs run.
    pub jobs: config::JobSettings,
    /// Who is calling.
    pub auth: Arc<auth::Authenticator>,
}

impl Service for Cortex {
    type Settings = config::Settings;
    type State = ServiceState;
    type Auth = auth::Authenticator;
    const NAME: &'static str = "cortex-service";
    const ADMIN_LOGIN: &'static str = bootstrap::ADMIN_LOGIN;
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const EVENTS_EXCHANGE: &'static str = "cortex.events";
    const MIGRATIONS: db::Migrations = db::MIGRATIONS;
    const ROUTES: Routes = routes::ROUTES;

    fn seed<'a>(
        settings: &'a config::Settings,
        vault: &'a auth::vault::Vault,
    ) -> impl service_kit::bootstrap::Seed + 'a {
        bootstrap::CortexSeed { settings, vault }
    }

    /// Reads the worker definitions and starts the job engine and the submissions consumer.
    async fn start(s: Started<'_, config::Settings>) -> Result<ServiceState, String> {
        let settings = s.settings;
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
        let catalog = Arc::new(
            tokio::task::spawn_blocking(move || workers::Catalog::new(analyzers, responders))
                .await
                .map_err(|e| e.to_string())?,
        );
        let enabled = bootstrap::enable_workers(s.db, &catalog, settings).await?;
        if enabled > 0 {
            tracing::info!(enabled, organization = %settings.service_account.organization, "workers of service_account.workers enabled");
        }
        let natives = native::Natives::new(settings.native.clone(), job_settings.concurrency)?;
        let engine = engine::Engine::start(
            s.db.clone(),
            s.broker.clone(),
            job_settings.clone(),
            catalog.clone(),
            s.datastore.clone(),
            natives,
        )
        .await?;
        if s.broker.enabled() {
            Arc::new(submissions::Submissions {
                db: s.db.clone(),
                catalog: catalog.clone(),
                engine: engine.clone(),
                datastore: s.datastore.clone(),
                default_cache: job_settings.cache,
                queue: job_settings.submissions_queue.clone(),
            })
            .start(s.broker);
        }
        Ok(ServiceState {
            uploads: s.uploads,
            catalog,
            engine,
            jobs: job_settings,
            auth: Arc::new(auth::Authenticator::new(s.auth)),
        })
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

    /// The console's pages and files (not part of the API document).
    fn configure(
        _state: &actix_web::web::Data<ServiceState>,
        cfg: &mut actix_web::web::ServiceConfig,
    ) {
        console::register(cfg);
    }

    fn auth(state: &ServiceState) -> &Arc<auth::Authenticator> {
        &state.auth
    }

    /// Nothing to hand over: jobs left running are recovered by the other instances, or at
    /// the next start.
    async fn shutdown(_state: &ServiceState) {}
}
