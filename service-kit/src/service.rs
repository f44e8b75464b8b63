//! What a service gives the kit to be run: its settings, routes and OpenAPI document,
//! migrations, bootstrap, authentication, state and background tasks. The kit does the rest
//! ([`crate::startup`], [`crate::cli`]): database pool and migrations under the instance
//! lock, the vault of secrets at rest, the broker connection, the datastore and its sweeper,
//! the HTTP server with its middleware (request ids, access log, security headers,
//! authentication before any handler), and the command line.

use crate::auth::vault::Vault;
use crate::body::Uploads;
use crate::datastore::{Datastore, SweepQueries};
use crate::db::{Db, Migrations};
use crate::error::ApiError;
use crate::http::RequestIdentity;
use crate::messaging::Broker;
use crate::settings::{CommonSettings, LoadSettings};
use actix_web::{web, HttpRequest};
use std::future::Future;

/// What [`Service::start`] is given.
#[derive(Debug)]
pub struct Started<'a, S: CommonSettings> {
    /// The settings.
    pub settings: &'a S,
    /// The database, migrated and bootstrapped.
    pub db: &'a Db,
    /// The process's one broker connection (or none).
    pub broker: &'a Broker,
    /// The datastore, opened.
    pub datastore: &'a Datastore,
    /// The secret signing sessions, the same on every instance (from the bootstrap).
    pub session_secret: &'a [u8],
    /// The key encrypting secrets at rest.
    pub vault: Vault,
    /// Where uploads go and their limits (also given to every handler).
    pub uploads: Uploads,
}

/// A service's routes and OpenAPI document.
#[derive(Debug, Clone, Copy)]
pub struct Routes {
    /// The document's title (the service's name).
    pub title: &'static str,
    /// What the API is.
    pub description: &'static str,
    /// Registers the handlers and their OpenAPI paths.
    pub register: fn(&mut utoipa_actix_web::service_config::ServiceConfig),
    /// Last touches to the document once the routes are in.
    pub finish: fn(&mut utoipa::openapi::OpenApi),
    /// What the last pass over the document adds ([`crate::openapi::polish`]).
    pub policy: crate::openapi::DocPolicy,
}

/// A service run by the kit.
pub trait Service: 'static {
    /// The binary's name, for messages (`hive-service`).
    const NAME: &'static str;
    /// The version shown in the OpenAPI document and `--version`.
    const VERSION: &'static str;
    /// The topic exchange the service publishes its events on.
    const EVENTS_EXCHANGE: &'static str;
    /// Paths answered without a credential (login, status...); every other request is
    /// authenticated before its handler runs.
    const PUBLIC_ROUTES: &'static [&'static str];

    /// The migrations and the instance lock key.
    const MIGRATIONS: Migrations;
    /// The routes and the OpenAPI document.
    const ROUTES: Routes;
    /// What the datastore sweeper asks the service's database.
    const SWEEP: SweepQueries;

    /// Its settings (declared with [`service_settings!`](crate::service_settings)).
    type Settings: LoadSettings;
    /// What its handlers are given (`web::Data<State>`), made by [`Service::start`].
    type State: Send + Sync + 'static;
    /// Who calls, as the service's handlers extract it from the request's extensions.
    type Caller: Send + Sync + 'static;

    /// Creates what an empty database lacks, under the instance lock; answers the session
    /// secret.
    fn bootstrap(db: &Db, settings: &Self::Settings, vault: &Vault) -> Result<Vec<u8>, ApiError>;

    /// Prepares the state and starts the background tasks.
    fn start(
        started: Started<'_, Self::Settings>,
    ) -> impl Future<Output = Result<Self::State, String>>;

    /// Registers what handlers extract besides the state (run for each HTTP worker).
    fn configure(state: &web::Data<Self::State>, cfg: &mut web::ServiceConfig);

    /// Authenticates a request (not one of [`Service::PUBLIC_ROUTES`]) before its handler
    /// runs; the kit leaves the caller in the request's extensions. A refusal is answered.
    fn authenticate(req: &HttpRequest) -> impl Future<Output = Result<Self::Caller, ApiError>>;

    /// Who the caller is, for the access log.
    fn identity(caller: &Self::Caller) -> RequestIdentity;

    /// At shutdown, once the HTTP server stopped.
    fn shutdown(state: &Self::State) -> impl Future<Output = ()>;
}
