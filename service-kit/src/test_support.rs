//! Test support for both services' integration tests (feature `test-support`): backends to
//! run against, fresh PostgreSQL databases, temp folders.
//!
//! SQLite always runs. PostgreSQL runs against `TEST_DATABASE_URL` (default: the local
//! server as `postgres`); when it cannot be reached the tests say so loudly and skip it,
//! except with `CI=true`, where a missing server fails the run.

use diesel::{Connection, PgConnection, RunQueryDsl};

/// A database to run a test against.
#[derive(Debug, Clone)]
pub struct Backend {
    /// `sqlite` or `postgres`.
    pub name: &'static str,
    /// The `database.url` to give the service.
    pub url: String,
    _dir: std::sync::Arc<tempfile::TempDir>,
}

/// The PostgreSQL server URL for tests.
pub fn pg_server_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

/// The RabbitMQ URL for tests.
pub fn amqp_url() -> String {
    std::env::var("TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_string())
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Creates an empty PostgreSQL database and returns its URL, or `None` (loudly) when no
/// server answers outside CI.
pub fn fresh_pg_database(prefix: &str) -> Option<String> {
    let server = pg_server_url();
    let mut admin = match PgConnection::establish(&server) {
        Ok(c) => c,
        Err(e) if !in_ci() => {
            eprintln!("\n*** SKIPPED: PostgreSQL tests: cannot connect to {server}: {e} ***\n");
            return None;
        }
        Err(e) => panic!("CI=true but PostgreSQL is unreachable at {server}: {e}"),
    };
    let name = format!("{prefix}_{:016x}", rand::random::<u64>());
    diesel::sql_query(format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .expect("create test database");
    let base = server
        .rsplit_once('/')
        .map(|(b, _)| b.to_string())
        .unwrap_or(server.clone());
    Some(format!("{base}/{name}"))
}

/// Drops the database `name` on the PostgreSQL server `server` (a URL of one of its
/// databases) if it exists, creates it empty and returns its URL (the benchmarks' databases).
pub fn recreate_pg_database(server: &str, name: &str) -> String {
    let mut admin = PgConnection::establish(server).expect("connect to PostgreSQL");
    for sql in [
        format!("DROP DATABASE IF EXISTS {name}"),
        format!("CREATE DATABASE {name}"),
    ] {
        diesel::sql_query(&sql).execute(&mut admin).expect(&sql);
    }
    let base = server.rsplit_once('/').map_or(server, |(b, _)| b);
    format!("{base}/{name}")
}

/// A backend for an existing database URL.
pub fn backend_for(name: &'static str, url: String) -> Backend {
    Backend {
        name,
        url,
        _dir: std::sync::Arc::new(tempfile::tempdir().expect("temp dir")),
    }
}

/// SQLite, and PostgreSQL when reachable.
pub fn backends(prefix: &str) -> Vec<Backend> {
    let dir = std::sync::Arc::new(tempfile::tempdir().expect("temp dir"));
    let mut out = vec![Backend {
        name: "sqlite",
        url: format!("sqlite://{}", dir.path().join("test.db").display()),
        _dir: dir.clone(),
    }];
    if let Some(url) = fresh_pg_database(prefix) {
        out.push(Backend {
            name: "postgres",
            url,
            _dir: dir,
        });
    }
    out
}

/// Whether RabbitMQ answers (loudly skipped outside CI when not).
pub async fn amqp_available() -> bool {
    let url = amqp_url();
    match tokio::time::timeout(
        std::time::Duration::from_secs(5),
        lapin::Connection::connect(&url, lapin::ConnectionProperties::default()),
    )
    .await
    {
        Ok(Ok(c)) => {
            let _ = c.close(200, "probe".into()).await;
            true
        }
        _ if !in_ci() => {
            eprintln!("\n*** SKIPPED: RabbitMQ tests: cannot connect to {url} ***\n");
            false
        }
        _ => panic!("CI=true but RabbitMQ is unreachable at {url}"),
    }
}

/// The settings environment for a service under test.
pub fn env(prefix: &str, data_dir: &std::path::Path, url: &str) -> Vec<(String, String)> {
    [
        ("HTTP__BIND", "127.0.0.1:0".to_string()),
        ("HTTP__WORKERS", "2".to_string()),
        ("DATA_DIR", data_dir.display().to_string()),
        ("DATABASE__URL", url.to_string()),
        ("DATABASE__POOL_SIZE", "4".to_string()),
        ("BOOTSTRAP__ADMIN_PASSWORD", "secret".to_string()),
        ("AUTH__BASIC", "true".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (format!("{prefix}__{k}"), v))
    .collect()
}

/// Every (method, path) of an OpenAPI document, with path parameters filled in.
pub fn routes(doc: &serde_json::Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        let concrete: String = path
            .split('/')
            .map(|s| match s {
                "{kind}" => "analyzer",
                // `/api{v}/connector/...`: the route serves both `/api` and `/api/v1`.
                "api{v}" => "api/v1",
                s if s.starts_with('{') => "x",
                s => s,
            })
            .collect::<Vec<_>>()
            .join("/");
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                out.push((method.to_uppercase(), concrete.clone()));
            }
        }
    }
    out
}

/// Compares a generated OpenAPI document with its export in docs/openapi (rewrites the
/// export when `UPDATE_OPENAPI=1`).
pub fn check_openapi_export(doc: &serde_json::Value, file: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../docs/openapi")
        .join(file);
    let text = serde_json::to_string_pretty(doc).expect("serialise") + "\n";
    if std::env::var("UPDATE_OPENAPI").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &text).expect("write export");
        return;
    }
    let exported = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        exported == text,
        "docs/openapi/{file} is out of date: run `UPDATE_OPENAPI=1 cargo test --workspace openapi` and commit it"
    );
}

/// Calls every operation of `doc` on the service at `base` without a credential: the
/// `public` paths answer (not 401), every other one is refused 401 with TheHive's
/// `AuthenticationError` body.
pub async fn check_credentials_required(
    base: &str,
    doc: &serde_json::Value,
    public: &[&str],
    on: &str,
) {
    let http = reqwest::Client::new();
    let routes = routes(doc);
    assert!(routes.len() > 20, "the document lists the routes");
    for (method, path) in routes {
        let resp = http
            .request(method.parse().expect("method"), format!("{base}{path}"))
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .expect("request");
        if public.contains(&path.as_str()) {
            assert_ne!(
                resp.status(),
                reqwest::StatusCode::UNAUTHORIZED,
                "{method} {path} is public"
            );
        } else {
            assert_eq!(
                resp.status(),
                reqwest::StatusCode::UNAUTHORIZED,
                "{method} {path} on {on}"
            );
            let body: serde_json::Value = resp.json().await.expect("json error");
            assert_eq!(body["type"], "AuthenticationError", "{method} {path}");
        }
    }
}

/// A connection of the test's own and a consumer (no acks) of an exclusive queue bound to
/// `exchange` with `pattern`: what a service publishes there.
pub async fn listen(exchange: &str, pattern: &str) -> (lapin::Connection, lapin::Consumer) {
    listen_on(&amqp_url(), exchange, pattern).await
}

/// [`listen`] on the broker at `url`.
pub async fn listen_on(
    url: &str,
    exchange: &str,
    pattern: &str,
) -> (lapin::Connection, lapin::Consumer) {
    use lapin::options::{BasicConsumeOptions, ExchangeDeclareOptions, QueueDeclareOptions};
    let conn = lapin::Connection::connect(url, lapin::ConnectionProperties::default())
        .await
        .expect("conn");
    let ch = conn.create_channel().await.expect("channel");
    ch.exchange_declare(
        exchange.into(),
        lapin::ExchangeKind::Topic,
        ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        },
        Default::default(),
    )
    .await
    .expect("exchange");
    let q = ch
        .queue_declare(
            "".into(),
            QueueDeclareOptions {
                exclusive: true,
                ..Default::default()
            },
            Default::default(),
        )
        .await
        .expect("queue");
    ch.queue_bind(
        q.name().clone(),
        exchange.into(),
        pattern.into(),
        Default::default(),
        Default::default(),
    )
    .await
    .expect("bind");
    let consumer = ch
        .basic_consume(
            q.name().clone(),
            "test".into(),
            BasicConsumeOptions {
                no_ack: true,
                ..Default::default()
            },
            Default::default(),
        )
        .await
        .expect("consume");
    (conn, consumer)
}

/// User + system CPU seconds of a process.
pub fn cpu_secs(pid: u32) -> f64 {
    let Ok(t) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    let fields: Vec<&str> = t
        .rsplit_once(')')
        .map(|(_, r)| r)
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (tick(11) + tick(12)) / 100.0
}
