//! service-kit: what hive-service and cortex-service run on.
//!
//! A service implements [`Service`] (its settings, routes and OpenAPI document, migrations,
//! bootstrap, authentication, state and background tasks) and hands it to [`cli::run`] or
//! [`startup::Application::build`]; the kit brings the rest: settings layering
//! ([`settings`]), logging ([`telemetry`]), the HTTP server and its middleware ([`startup`],
//! [`http`]), TheHive's and Cortex's error body ([`error`]), body extraction ([`extract`],
//! [`body`]), the datastore ([`datastore`]), the database pool, ids and migrations ([`db`]),
//! authentication primitives ([`auth`]), the broker ([`messaging`]) and a runtime for
//! background work at a lower OS priority ([`background`]).
//!
//! Layering: the kit knows no service; services depend on it, never the reverse.

pub mod auth;
pub mod background;
pub mod body;
pub mod bootstrap;
pub mod cli;
pub mod console;
pub mod datastore;
pub mod db;
pub mod error;
pub mod extract;
pub mod http;
pub mod mail;
pub mod messaging;
pub mod net;
pub mod openapi;
pub mod service;
pub mod settings;
pub mod startup;
pub mod telemetry;

pub use service::{Service, Started};
#[cfg(feature = "test-support")]
pub mod test_support;
