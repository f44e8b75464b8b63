//! What a service gives the kit to be run: its settings, routes and OpenAPI document,
//! migrations, bootstrap, authentication, state and background tasks. The kit does the rest
//! ([`crate::startup`], [`crate::cli`]): database pool and migrations under the instance
//! lock, the vault of secrets at rest, the broker connection, the datastore and its sweeper,
//! the HTTP server with its middleware (request ids, access log, security headers,
//! authentication before any handler), and the command line.

use crate::auth::vault::Vault;
use crate::auth::Authenticate;
use crate::body::Uploads;
use crate::bootstrap::Seed;
use crate::datastore::Datastore;
use crate::db::{Db, Migrations};
use crate::messaging::Broker;
use crate::settings::{CommonSettings, LoadSettings};
use actix_web::web;
use std::future::Future;
use std::sync::Arc;

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
    /// What the service's authenticator is built on: its session signer (with the secret
    /// the bootstrap keeps, the same on every instance), password checks and the vault of
    /// secrets at rest.
    pub auth: crate::auth::AuthBase,
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
    /// The paths of the service's console (browser pages and their files): they are
    /// authenticated by the session cookie when one comes, and a page without a caller
    /// answers itself (the login page) instead of the API's 401. The API keeps its rule.
    pub pages: fn(&str) -> bool,
}

/// [`Routes::pages`] of a service without a console.
pub fn no_pages(_path: &str) -> bool {
    false
}

/// A service run by the kit.
pub trait Service: 'static {
    /// The binary's name, for messages (`hive-service`).
    const NAME: &'static str;
    /// The version shown in the OpenAPI document and `--version`.
    const VERSION: &'static str;
    /// The topic exchange the service publishes its events on.
    const EVENTS_EXCHANGE: &'static str;

    /// The migrations and the instance lock key.
    const MIGRATIONS: Migrations;
    /// The routes and the OpenAPI document.
    const ROUTES: Routes;

    /// Its settings (declared with [`service_settings!`](crate::service_settings)).
    type Settings: LoadSettings;
    /// What its handlers are given (`web::Data<State>`), made by [`Service::start`].
    type State: Send + Sync + 'static;
    /// Its authenticator ([`Authenticate`]), kept in its state.
    type Auth: Authenticate;

    /// Login of the administrator an empty database gets (who receives the first-start
    /// password).
    const ADMIN_LOGIN: &'static str;

    /// What an empty database gets and what every start applies, run by
    /// [`crate::bootstrap::first_start`] under the instance lock.
    fn seed<'a>(settings: &'a Self::Settings, vault: &'a Vault) -> impl Seed + 'a;

    /// The service's OpenAPI document ([`crate::startup::openapi`]).
    fn openapi() -> serde_json::Value
    where
        Self: Sized,
    {
        crate::startup::openapi::<Self>()
    }

    /// Prepares the state and starts the background tasks.
    fn start(
        started: Started<'_, Self::Settings>,
    ) -> impl Future<Output = Result<Self::State, String>>;

    /// The authenticator in the service's state.
    fn auth(state: &Self::State) -> &Arc<Self::Auth>;

    /// Registers what handlers extract besides the state, the database, the broker, the
    /// uploads and the authenticator (run for each HTTP worker); nothing by default.
    fn configure(_state: &web::Data<Self::State>, _cfg: &mut web::ServiceConfig) {}

    /// Of a batch of SHA-256s, those the service's rows reference (the datastore sweeper
    /// removes the others); `pass` is this sweep pass's own memory (a service may load every
    /// reference once per pass there).
    fn referenced_files(
        c: &mut crate::db::DbConn,
        batch: &[String],
        pass: &mut Option<std::collections::HashSet<String>>,
    ) -> Result<std::collections::HashSet<String>, String>;

    /// At shutdown, once the HTTP server stopped.
    fn shutdown(state: &Self::State) -> impl Future<Output = ()>;
}
