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
pub mod db;
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
#[path = "../../hive-service/src/telemetry.rs"]
pub mod telemetry;

/// State of this service handed to every request, beside the database and the broker.
#[derive(Debug)]
pub struct ServiceState;

impl ServiceState {
    /// Nothing to prepare yet.
    pub fn new(_settings: &config::Settings) -> Result<ServiceState, String> {
        Ok(ServiceState)
    }
}
