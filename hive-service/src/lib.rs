//! hive-service: case management for SOC teams, compatible with TheHive.
//!
//! Alerts arrive from feeders, analysts triage them into cases, work through tasks and
//! observables, and share cases across organisations. This crate serves TheHive 5's API
//! (`/api/v1`, for thehive4py 2.x) and its legacy API (`/api`, for thehive4py 1.x) over one
//! store: SQLite by default, PostgreSQL in production (`database.url`). RabbitMQ
//! (`amqp.url`) is optional. Start with [`startup::Application::build`]; settings are in
//! [`config::Settings`]; the HTTP handlers in [`routes`] stay thin over [`db`] and [`auth`].

/// PostgreSQL advisory lock taken while migrating and bootstrapping ("HIVE").
pub const INSTANCE_LOCK_KEY: i64 = 0x4849_5645;

/// The topic exchange this service publishes its events on.
pub const EVENTS_EXCHANGE: &str = "hive.events";

pub mod access;
pub mod auth;
pub mod bootstrap;
pub mod casework;
pub mod cli;
pub mod config;
pub mod cortex;
pub mod datastore;
pub mod db;
pub mod domain;
pub mod error;
pub mod extract;
pub mod http;
pub mod messaging;
pub mod routes;
pub mod settings;
pub mod startup;
pub mod telemetry;

/// State of this service handed to every request, beside the database and the broker.
#[derive(Debug)]
pub struct ServiceState {
    /// Where files are stored.
    pub datastore: datastore::Datastore,
    /// Largest multipart upload, bytes.
    pub max_upload_bytes: u64,
    /// Largest JSON document, also inside a multipart body.
    pub max_json_bytes: usize,
    /// The Cortex connector.
    pub cortex: std::sync::Arc<cortex::Connector>,
}

impl ServiceState {
    /// At shutdown, once the HTTP server stopped: the Cortex jobs accepted but not yet handed
    /// to their server are handed over (for up to 10 s).
    pub async fn shutdown(&self) {
        self.cortex.drain(std::time::Duration::from_secs(10)).await;
    }

    /// Prepares the datastore directory.
    pub async fn start(
        settings: &config::Settings,
        db: &db::Db,
        _broker: &messaging::Broker,
    ) -> Result<ServiceState, String> {
        let path = settings
            .datastore
            .path
            .clone()
            .unwrap_or_else(|| settings.data_dir.join("datastore"));
        let datastore = datastore::Datastore::open(&path)
            .map_err(|e| format!("datastore.path: {}: {e}", path.display()))?;
        let amqp = settings.amqp.url.as_ref().map(|u| {
            use secrecy::ExposeSecret;
            u.expose_secret().to_string()
        });
        let cortex = cortex::Connector::start(
            &settings.cortex,
            amqp,
            db.clone(),
            datastore.clone(),
            settings.datastore.max_upload_bytes,
        );
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
            cortex,
            datastore,
            max_upload_bytes: settings.datastore.max_upload_bytes,
            max_json_bytes: settings.http.max_json_bytes,
        })
    }
}

/// Of a batch of SHA-256s, those an attachment row references.
fn referenced_files(
    c: &mut db::DbConn,
    batch: &[String],
    _pass: &mut Option<std::collections::HashSet<String>>,
) -> Result<std::collections::HashSet<String>, String> {
    use db::schema::attachments;
    use diesel::prelude::*;
    let found: Vec<String> = attachments::table
        .filter(attachments::sha256.eq_any(batch))
        .select(attachments::sha256)
        .distinct()
        .load(c)
        .map_err(|e| e.to_string())?;
    Ok(found.into_iter().collect())
}
