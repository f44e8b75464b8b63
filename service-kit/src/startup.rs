//! Builds a [`Service`]: database (migrated, bootstrapped), broker, datastore, the service's
//! state and routes, and the HTTP server on its listener (port 0 in tests).
//!
//! Every request but those of the service's public routes
//! ([`crate::openapi::DocPolicy::public`]) is authenticated by [`require_caller`] before its
//! handler runs (so before its path, query or body is read);
//! a trailing slash is ignored (`POST /api/alert/` is `POST /api/alert`); every answer
//! carries [`crate::http::SECURITY_HEADERS`].

use crate::auth::Authenticate;
use crate::body::Uploads;
use crate::datastore::{start_sweeper, Datastore};
use crate::db::Db;
use crate::http::from_actix;
use crate::messaging::Broker;
use crate::service::{Service, Started};
use crate::settings::CommonSettings;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, App, HttpMessage, HttpResponse, HttpServer};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;
use tracing_actix_web::TracingLogger;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

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

/// The OpenAPI document of a service (JSON), from the same route list the server uses.
pub fn openapi<S: Service>() -> serde_json::Value {
    let (_, mut doc) = App::new()
        .into_utoipa_app()
        .openapi(crate::openapi::frame(
            S::ROUTES.title,
            S::ROUTES.description,
        ))
        .configure(S::ROUTES.register)
        .split_for_parts();
    doc.info.version = S::VERSION.to_string();
    (S::ROUTES.finish)(&mut doc);
    let mut doc = serde_json::to_value(&doc).unwrap_or_default();
    crate::openapi::polish(&mut doc, &S::ROUTES.policy);
    doc
}

/// A running service.
pub struct Application<S: Service> {
    port: u16,
    server: Server,
    broker: Broker,
    state: web::Data<S::State>,
}

impl<S: Service> std::fmt::Debug for Application<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("port", &self.port)
            .finish()
    }
}

/// Opens the database, applies migrations and the bootstrap under the instance lock; the
/// vault of secrets at rest comes with it (the bootstrap stores keys in it).
pub async fn prepare_database<S: Service>(
    settings: &S::Settings,
) -> Result<(Db, Vec<u8>, crate::auth::vault::Vault), StartupError> {
    let s = settings.clone();
    tokio::task::spawn_blocking(move || {
        use secrecy::ExposeSecret;
        let vault = crate::auth::vault::Vault::load(
            s.auth().encryption_key.as_ref().map(|k| k.expose_secret()),
            s.data_dir(),
        )
        .map_err(StartupError::State)?;
        let db = Db::connect(
            &s.database_url(),
            s.database().pool_size,
            Duration::from_secs(s.database().connect_timeout_secs),
        )
        .map_err(|e| StartupError::Database(e.to_string()))?;
        let secret = db
            .migrate_then(S::MIGRATIONS, |db| {
                crate::bootstrap::first_start(db, &s, S::ADMIN_LOGIN, &S::seed(&s, &vault))
            })
            .map_err(|e| StartupError::Database(e.to_string()))?;
        Ok((db, secret, vault))
    })
    .await
    .map_err(|e| StartupError::Database(e.to_string()))?
}

/// Authenticates every request before its handler, except those of the service's public
/// routes ([`crate::openapi::DocPolicy::public`]): a missing or bad credential is answered
/// (401, or 403 for an organisation the user is not in) before anything reads the path,
/// query or body. The
/// service leaves the caller in the request's extensions for its handlers' extractor.
pub async fn require_caller<S: Service, B: MessageBody>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    if (S::ROUTES.pages)(req.path()) {
        // A console page: its caller when the request has a good credential; the page
        // decides what to show without one (the login page).
        if let Ok(caller) = authenticate::<S::Auth>(req.request()).await {
            let who = S::Auth::identity(&caller);
            let mut ext = req.extensions_mut();
            ext.insert(who);
            ext.insert(caller);
        }
    } else if !S::ROUTES.policy.public.contains(&req.path()) && !crate::http::is_docs(req.path()) {
        match authenticate::<S::Auth>(req.request()).await {
            Ok(caller) => {
                let who = S::Auth::identity(&caller);
                let mut ext = req.extensions_mut();
                ext.insert(who);
                ext.insert(caller);
            }
            Err(e) => return Ok(req.error_response(e).map_into_right_body()),
        }
    }
    // The handler's transactions carry the request id the access log prints.
    let request_id = req
        .extensions()
        .get::<tracing_actix_web::RequestId>()
        .map(ToString::to_string)
        .unwrap_or_else(|| crate::db::next_id().to_string());
    crate::db::tx::scope(request_id, next.call(req))
        .await
        .map(ServiceResponse::map_into_left_body)
}

/// `impl FromRequest for $caller` (the caller of the authenticator `$auth`) through
/// [`caller`]: handlers take the service's caller as an argument (`caller: Caller`).
#[macro_export]
macro_rules! caller_from_request {
    ($caller:ty, $auth:ty) => {
        impl ::actix_web::FromRequest for $caller {
            type Error = $crate::error::ApiError;
            type Future = ::futures_util::future::LocalBoxFuture<
                'static,
                Result<Self, $crate::error::ApiError>,
            >;

            fn from_request(
                req: &::actix_web::HttpRequest,
                _: &mut ::actix_web::dev::Payload,
            ) -> Self::Future {
                $crate::startup::caller::<$auth>(req)
            }
        }
    };
}

/// The caller of a request, for the `FromRequest` impl of a service's caller type: the one
/// [`require_caller`] authenticated, or, on a public route, authenticated now.
pub fn caller<A: Authenticate>(
    req: &actix_web::HttpRequest,
) -> futures_util::future::LocalBoxFuture<'static, Result<A::Caller, crate::error::ApiError>> {
    if let Some(caller) = req.extensions().get::<A::Caller>().cloned() {
        return Box::pin(std::future::ready(Ok(caller)));
    }
    let req = req.clone();
    Box::pin(async move { authenticate::<A>(&req).await })
}

/// Runs the authenticator the kit registered for the handlers on `req`.
async fn authenticate<A: Authenticate>(
    req: &actix_web::HttpRequest,
) -> Result<A::Caller, crate::error::ApiError> {
    let auth = req
        .app_data::<web::Data<Arc<A>>>()
        .cloned()
        .ok_or_else(|| crate::error::ApiError::internal("the authenticator is missing"))?;
    auth.authenticate_request(req).await
}

impl<S: Service> Application<S> {
    /// Prepares everything and binds the listener; the server runs once awaited.
    pub async fn build(settings: S::Settings) -> Result<Application<S>, StartupError> {
        let (db, secret, vault) = prepare_database::<S>(&settings).await?;
        let broker = match settings.amqp_url() {
            Some(url) => {
                Broker::connect(&url, Duration::from_secs(10), S::NAME, S::EVENTS_EXCHANGE)
                    .await
                    .map_err(StartupError::Broker)?
            }
            None => Broker::none(),
        };
        let proxies = web::Data::new(
            crate::http::TrustedProxies::parse(&settings.http().trusted_proxies)
                .map_err(|e| StartupError::State(format!("http.trusted_proxies: {e}")))?,
        );
        let store = settings.datastore();
        let path = store
            .path
            .clone()
            .unwrap_or_else(|| settings.data_dir().join("datastore"));
        let datastore = Datastore::open(&path)
            .map_err(|e| StartupError::State(format!("datastore.path: {}: {e}", path.display())))?;
        let uploads = Uploads {
            datastore: datastore.clone(),
            max_upload_bytes: store.max_upload_bytes,
            max_json_bytes: settings.http().max_json_bytes,
        };
        let state = web::Data::new(
            S::start(Started {
                settings: &settings,
                db: &db,
                broker: &broker,
                datastore: &datastore,
                auth: crate::auth::AuthBase::new(db.clone(), &secret, settings.auth(), vault),
                uploads: uploads.clone(),
            })
            .await
            .map_err(StartupError::State)?,
        );
        start_sweeper(
            db.clone(),
            datastore,
            store.sweep_interval_secs,
            store.sweep_grace_secs,
            crate::datastore::SweepQueries::new(S::referenced_files),
        );
        let document = openapi::<S>();
        crate::extract::learn_rendered(&document);
        let app_state = state.clone();
        let listener = TcpListener::bind(
            settings
                .bind_addr()
                .map_err(|e| StartupError::Bind(e.to_string()))?,
        )
        .map_err(|e| StartupError::Bind(format!("{}: {e}", settings.http().bind)))?;
        let port = listener
            .local_addr()
            .map_err(|e| StartupError::Bind(e.to_string()))?
            .port();
        let doc = Arc::new(
            serde_json::to_string(&document).map_err(|e| StartupError::Bind(e.to_string()))?,
        );
        let max_json = settings.http().max_json_bytes;
        let uploads = web::Data::new(uploads);
        let db_data = web::Data::new(db);
        let broker_data = web::Data::new(broker.clone());
        let mut server = HttpServer::new(move || {
            let doc = doc.clone();
            let (app, _) = App::new()
                .into_utoipa_app()
                .configure(S::ROUTES.register)
                .split_for_parts();
            let auth = web::Data::new(S::auth(&state).clone());
            let state = state.clone();
            app.app_data(db_data.clone())
                .app_data(auth)
                .app_data(broker_data.clone())
                .app_data(proxies.clone())
                .app_data(uploads.clone())
                .app_data(state.clone())
                .configure(move |cfg| S::configure(&state, cfg))
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
                .service(
                    SwaggerUi::new("/api-docs/{_:.*}")
                        .config(utoipa_swagger_ui::Config::from("/api-docs/openapi.json")),
                )
                .default_service(web::to(crate::http::unknown_route))
                .wrap(from_fn(require_caller::<S, _>))
                .wrap(from_fn(crate::http::trim_trailing_slash))
                .wrap(from_fn(crate::http::security_headers))
                .wrap(TracingLogger::<crate::http::RequestSpan>::new())
                .wrap_fn(crate::http::access_log)
        })
        .listen(listener)
        .map_err(|e| StartupError::Bind(e.to_string()))?
        .shutdown_timeout(settings.http().shutdown_timeout_secs);
        if settings.http().workers > 0 {
            server = server.workers(settings.http().workers);
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
        S::shutdown(&self.state).await;
        self.broker.close().await;
        result
    }
}
