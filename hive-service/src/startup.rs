//! Builds the application, for both services (cortex-service compiles this file too):
//! database (migrated, bootstrapped), broker, authenticator, the routes of
//! `crate::routes::register` and the HTTP server on its listener (port 0 in tests).
//!
//! Every request but those of `crate::routes::PUBLIC_ROUTES` is authenticated by
//! [`require_caller`] before its handler runs (so before its path, query or body is read),
//! and every answer carries [`crate::http::SECURITY_HEADERS`].

use crate::auth::Authenticator;
use crate::config::Settings;
use crate::db::Db;
use crate::error::from_actix;
use crate::messaging::Broker;
use crate::routes;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::middleware::{from_fn, DefaultHeaders, Next};
use actix_web::{web, App, HttpMessage, HttpResponse, HttpServer};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;
use tracing_actix_web::TracingLogger;
use utoipa_actix_web::AppExt;

/// Why the service could not start; printed for the operator, exit code 1.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The database is unreachable or broken.
    #[error("database: {0}")]
    Database(String),
    /// The broker is unreachable.
    #[error("broker: {0}")]
    Broker(String),
    /// The listener could not be bound.
    #[error("http.bind: {0}")]
    Bind(String),
    /// The service's own state (datastore...) could not be prepared.
    #[error("{0}")]
    State(String),
}

/// Declares the security schemes (Bearer and Basic) in an OpenAPI document.
#[derive(Debug)]
pub struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).build()),
        );
    }
}

/// The OpenAPI document of this service, from the same route list the server uses.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, mut doc) = App::new()
        .into_utoipa_app()
        .openapi(routes::api_doc())
        .configure(routes::register)
        .split_for_parts();
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    routes::finish_doc(&mut doc);
    doc
}

/// A running service.
pub struct Application {
    port: u16,
    server: Server,
    broker: Broker,
    state: web::Data<crate::ServiceState>,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("port", &self.port)
            .finish()
    }
}

/// Opens the database, applies migrations and the bootstrap under the instance lock; the
/// vault of secrets at rest comes with it (the bootstrap stores keys in it).
pub async fn prepare_database(
    settings: &Settings,
) -> Result<(Db, Vec<u8>, crate::auth::vault::Vault), StartupError> {
    let s = settings.clone();
    tokio::task::spawn_blocking(move || {
        use secrecy::ExposeSecret;
        let vault = crate::auth::vault::Vault::load(
            s.auth.encryption_key.as_ref().map(|k| k.expose_secret()),
            &s.data_dir,
        )
        .map_err(StartupError::State)?;
        let db = Db::connect(
            &s.database_url(),
            s.database.pool_size,
            Duration::from_secs(s.database.connect_timeout_secs),
        )
        .map_err(|e| StartupError::Database(e.to_string()))?;
        let boot = db
            .migrate_then(|db| crate::bootstrap::run(db, &s, &vault))
            .map_err(|e| StartupError::Database(e.to_string()))?;
        Ok((db, boot.session_secret, vault))
    })
    .await
    .map_err(|e| StartupError::Database(e.to_string()))?
}

/// Authenticates every request before its handler, except those of
/// `crate::routes::PUBLIC_ROUTES`: a missing or bad credential is answered (401, or 403 for
/// an organisation the user is not in) before anything reads the path, query or body. The
/// caller is left in the request's extensions for the handler's `Caller` extractor.
pub async fn require_caller<B: MessageBody>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    if !crate::routes::PUBLIC_ROUTES.contains(&req.path()) {
        match crate::auth::authenticate_request(req.request()).await {
            Ok(caller) => {
                req.extensions_mut().insert(caller);
            }
            Err(e) => return Ok(req.error_response(e).map_into_right_body()),
        }
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

impl Application {
    /// Prepares everything and binds the listener; the server runs once awaited.
    pub async fn build(settings: Settings) -> Result<Application, StartupError> {
        let (db, secret, vault) = prepare_database(&settings).await?;
        let broker = match settings.amqp.url.as_ref() {
            Some(url) => {
                use secrecy::ExposeSecret;
                Broker::connect(
                    url.expose_secret(),
                    Duration::from_secs(10),
                    crate::EVENTS_EXCHANGE,
                )
                .await
                .map_err(StartupError::Broker)?
            }
            None => Broker::none(),
        };
        let auth = Arc::new(Authenticator::new(
            db.clone(),
            &secret,
            &settings.auth,
            vault,
        ));
        let proxies = web::Data::new(
            crate::http::TrustedProxies::parse(&settings.http.trusted_proxies)
                .map_err(|e| StartupError::State(format!("http.trusted_proxies: {e}")))?,
        );
        let state = web::Data::new(
            crate::ServiceState::start(&settings, &db, &broker)
                .await
                .map_err(StartupError::State)?,
        );
        let app_state = state.clone();
        let listener = TcpListener::bind(
            settings
                .bind_addr()
                .map_err(|e| StartupError::Bind(e.to_string()))?,
        )
        .map_err(|e| StartupError::Bind(format!("{}: {e}", settings.http.bind)))?;
        let port = listener
            .local_addr()
            .map_err(|e| StartupError::Bind(e.to_string()))?
            .port();
        let doc = Arc::new(
            serde_json::to_string(&openapi()).map_err(|e| StartupError::Bind(e.to_string()))?,
        );
        let max_json = settings.http.max_json_bytes;
        let db_data = web::Data::new(db);
        let auth_data = web::Data::new(auth);
        let broker_data = web::Data::new(broker.clone());
        let mut server = HttpServer::new(move || {
            let doc = doc.clone();
            let (app, _) = App::new()
                .into_utoipa_app()
                .configure(routes::register)
                .split_for_parts();
            app.app_data(db_data.clone())
                .app_data(auth_data.clone())
                .app_data(broker_data.clone())
                .app_data(proxies.clone())
                .app_data(state.clone())
                .app_data(web::PayloadConfig::new(max_json))
                .app_data(
                    web::PathConfig::default().error_handler(|e, _| from_actix(e.into()).into()),
                )
                .app_data(
                    web::QueryConfig::default().error_handler(|e, _| from_actix(e.into()).into()),
                )
                .route(
                    "/api-docs/openapi.json",
                    web::get().to(move || {
                        let doc = doc.clone();
                        async move {
                            HttpResponse::Ok()
                                .content_type("application/json")
                                .body(doc.as_str().to_owned())
                        }
                    }),
                )
                .default_service(web::to(crate::http::unknown_route))
                .wrap(from_fn(require_caller))
                .wrap(
                    crate::http::SECURITY_HEADERS
                        .iter()
                        .fold(DefaultHeaders::new(), |h, (k, v)| h.add((*k, *v))),
                )
                .wrap_fn(crate::http::access_log)
                .wrap(TracingLogger::<crate::http::RequestSpan>::new())
        })
        .listen(listener)
        .map_err(|e| StartupError::Bind(e.to_string()))?
        .shutdown_timeout(settings.http.shutdown_timeout_secs);
        if settings.http.workers > 0 {
            server = server.workers(settings.http.workers);
        }
        Ok(Application {
            port,
            server: server.run(),
            broker,
            state: app_state,
        })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGTERM/SIGINT, then finishes in-flight requests and returns.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        self.state.shutdown().await;
        self.broker.close().await;
        result
    }
}
