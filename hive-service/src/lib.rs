//! hive-service: case management for SOC teams, compatible with TheHive.
//!
//! Alerts arrive from feeders, analysts triage them into cases, work through tasks and
//! observables, and share cases across organisations. This crate serves TheHive 5's API
//! (`/api/v1`, for thehive4py 2.x) and its legacy API (`/api`, for thehive4py 1.x) over one
//! store: SQLite by default, PostgreSQL in production (`database.url`). RabbitMQ
//! (`amqp.url`) is optional. It runs on [`service_kit`] ([`Hive`] is what it gives the kit):
//! start with [`Application::build`]; settings are in [`config::Settings`]; the HTTP
//! handlers in [`routes`] stay thin over [`casework`], [`access`] and [`db`].

pub mod access;
pub mod audit;
pub mod auth;
pub mod bootstrap;
pub mod casework;
pub mod config;
pub mod console;
pub mod cortex;
pub mod db;
pub mod domain;
pub mod notify;
pub mod query;
pub mod render;
pub mod routes;

use service_kit::body::Uploads;
use service_kit::service::Routes;
use service_kit::{Service, Started};
use std::sync::Arc;

/// The topic exchange this service publishes its events on (routing key
/// `<organisation>.<objectType>.<action>`, TheHive 5's webhook payload).
pub const EVENTS_EXCHANGE: &str = "thehive.events";

/// hive-service, as run by [`service_kit`].
#[derive(Debug)]
pub struct Hive;

/// hive-service's application (see [`service_kit::startup::Application`]).
pub type Application = service_kit::startup::Application<Hive>;

/// State of this service handed to every request, beside the database and the broker.
#[derive(Debug)]
pub struct ServiceState {
    /// Where files are stored, and the upload limits.
    pub uploads: Uploads,
    /// The Cortex connector.
    pub cortex: Arc<cortex::Connector>,
    /// Who is calling.
    pub auth: Arc<auth::Authenticator>,
    /// The audit trail's transaction hook (and its feed of committed records).
    pub audit: Arc<audit::Hooks>,
    /// Notifications: webhooks, mails, events on RabbitMQ, automation.
    pub notifier: Arc<notify::Notifier>,
    /// TheHive 4's long-polled event streams.
    pub streams: Arc<notify::streams::Streams>,
}

impl Service for Hive {
    type Settings = config::Settings;
    type State = ServiceState;
    type Auth = auth::Authenticator;
    const NAME: &'static str = "hive-service";
    const ADMIN_LOGIN: &'static str = bootstrap::ADMIN_LOGIN;
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const EVENTS_EXCHANGE: &'static str = EVENTS_EXCHANGE;
    const MIGRATIONS: db::Migrations = db::MIGRATIONS;
    const ROUTES: Routes = routes::ROUTES;

    fn seed<'a>(
        _settings: &'a config::Settings,
        vault: &'a auth::vault::Vault,
    ) -> impl service_kit::bootstrap::Seed + 'a {
        bootstrap::HiveSeed { vault }
    }

    /// Registers the audit trail on the pool; starts the Cortex connector and the
    /// notifications.
    async fn start(s: Started<'_, config::Settings>) -> Result<ServiceState, String> {
        let audit = audit::Hooks::new();
        s.db.set_hooks(audit.clone());
        let cortex = cortex::Connector::start(
            &s.settings.cortex,
            s.broker,
            s.db.clone(),
            s.datastore.clone(),
            s.settings.datastore.max_upload_bytes,
        )
        .await?;
        let auth = Arc::new(auth::Authenticator::new(s.auth));
        let notifier = notify::Notifier::start(
            s.db.clone(),
            audit.clone(),
            s.settings.notification.clone(),
            s.broker.clone(),
            cortex.clone(),
            auth.clone(),
        )
        .await?;
        let streams = notify::streams::Streams::start(&audit.feed);
        query::counts::keep_compact(s.db.clone());
        Ok(ServiceState {
            uploads: s.uploads,
            cortex,
            auth,
            audit,
            notifier,
            streams,
        })
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

    /// The Cortex jobs accepted but not yet handed to their server are handed over (for up
    /// to 10 s).
    async fn shutdown(state: &ServiceState) {
        state.cortex.drain(std::time::Duration::from_secs(10)).await;
    }
}
