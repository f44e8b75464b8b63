//! hive-service against real databases (SQLite and PostgreSQL) and RabbitMQ, over HTTP.

mod common;

use common::Backend;
use hive_service::config::Settings;
use hive_service::startup::{openapi, Application};
use reqwest::StatusCode;
use serde_json::{json, Value};

struct Running {
    base: String,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

async fn start(backend: &Backend, extra: &[(&str, &str)]) -> Running {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut env = common::env("HIVE", dir.path(), &backend.url);
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let settings = Settings::load_with_env(None, env).expect("settings");
    let app = Application::build(settings).await.expect("service starts");
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    Running {
        base,
        http: reqwest::Client::new(),
        _dir: dir,
    }
}

impl Running {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
    fn admin(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .basic_auth("admin@thehive.local", Some("secret"))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_route_but_the_public_ones_needs_credentials() {
    let doc = serde_json::to_value(openapi()).expect("doc");
    for backend in common::backends("hive_deny") {
        let s = start(&backend, &[]).await;
        let routes = common::routes(&doc);
        assert!(routes.len() > 20, "the document lists the routes");
        for (method, path) in routes {
            let public = hive_service::routes::PUBLIC_ROUTES.contains(&path.as_str());
            let resp = s
                .http
                .request(method.parse().expect("method"), s.url(&path))
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .expect("request");
            if public {
                assert_ne!(
                    resp.status(),
                    StatusCode::UNAUTHORIZED,
                    "{method} {path} is public"
                );
            } else {
                assert_eq!(
                    resp.status(),
                    StatusCode::UNAUTHORIZED,
                    "{method} {path} on {}",
                    backend.name
                );
                let body: Value = resp.json().await.expect("json error");
                assert_eq!(body["type"], "AuthenticationError");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn openapi_export_is_current() {
    let doc = serde_json::to_value(openapi()).expect("doc");
    common::check_openapi_export(&doc, "hive-service.json");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_gets_thehive_errors_and_writes_nothing() {
    for backend in common::backends("hive_bad") {
        let s = start(&backend, &[("HIVE__HTTP__MAX_JSON_BYTES", "4096")]).await;
        // Same answer for an unknown user and a wrong password.
        for (login, pw) in [("nobody@x", "secret"), ("admin@thehive.local", "wrong")] {
            let r = s
                .http
                .get(s.url("/api/v1/user/current"))
                .basic_auth(login, Some(pw))
                .send()
                .await
                .expect("req");
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
            assert_eq!(
                r.text().await.expect("body"),
                r#"{"type":"AuthenticationError","message":"Authentication failure"}"#
            );
        }
        // Oversized body: 413.
        let big = json!({"name": "x".repeat(10_000), "description": "d"});
        let r = s
            .admin(reqwest::Method::POST, "/api/v1/organisation")
            .json(&big)
            .send()
            .await
            .expect("req");
        assert_eq!(
            r.status(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "{}",
            backend.name
        );
        // Malformed JSON and wrong types: 400 naming the field.
        let r = s
            .admin(reqwest::Method::POST, "/api/v1/organisation")
            .body("{oops")
            .send()
            .await
            .expect("req");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let r = s
            .admin(reqwest::Method::POST, "/api/v1/organisation")
            .json(&json!({"name": "o", "description": 3}))
            .send()
            .await
            .expect("req");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let body: Value = r.json().await.expect("json");
        assert_eq!(body["type"], "AttributeCheckingError");
        assert_eq!(body["errors"][0]["name"], "description");
        let r = s
            .admin(reqwest::Method::POST, "/api/v1/organisation")
            .json(&json!({"name": "o", "description": "d", "taskRule": "sometimes"}))
            .send()
            .await
            .expect("req");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        // Nothing was half-written: the organisation does not exist.
        let r = s
            .admin(reqwest::Method::GET, "/api/v1/organisation/o")
            .send()
            .await
            .expect("req");
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        // A user that fails validation leaves no account behind.
        let r = s
            .admin(reqwest::Method::POST, "/api/v1/user")
            .json(&json!({"login": "a@b", "name": "A", "profile": "no-such-profile"}))
            .send()
            .await
            .expect("req");
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let r = s
            .admin(reqwest::Method::GET, "/api/v1/user/a@b")
            .send()
            .await
            .expect("req");
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        // A read-only user lacks manageUser: 403.
        let r = s
            .admin(reqwest::Method::POST, "/api/v1/organisation")
            .json(&json!({"name": "soc", "description": "d"}))
            .send()
            .await
            .expect("req");
        assert_eq!(r.status(), StatusCode::CREATED);
        let r = s
            .admin(reqwest::Method::POST, "/api/v1/user")
            .json(&json!({"login": "ro@soc", "name": "RO", "profile": "read-only", "organisation": "soc", "password": "pw-ro-123"}))
            .send()
            .await
            .expect("req");
        assert_eq!(r.status(), StatusCode::CREATED);
        let r = s
            .http
            .post(s.url("/api/v1/user"))
            .basic_auth("ro@soc", Some("pw-ro-123"))
            .json(&json!({"login": "x@soc", "name": "X", "profile": "analyst"}))
            .send()
            .await
            .expect("req");
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        // An organisation the user is not in: 403.
        let r = s
            .http
            .get(s.url("/api/v1/user/current"))
            .basic_auth("ro@soc", Some("pw-ro-123"))
            .header("X-Organisation", "admin")
            .send()
            .await
            .expect("req");
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        // Locked: 401, even with a valid password.
        let r = s
            .admin(reqwest::Method::PATCH, "/api/v1/user/ro@soc")
            .json(&json!({"locked": true}))
            .send()
            .await
            .expect("req");
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        let r = s
            .http
            .get(s.url("/api/v1/user/current"))
            .basic_auth("ro@soc", Some("pw-ro-123"))
            .send()
            .await
            .expect("req");
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        // Unknown route: 404 with TheHive's body.
        let r = s
            .admin(reqwest::Method::GET, "/api/v1/nothing-here")
            .send()
            .await
            .expect("req");
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let body: Value = r.json().await.expect("json");
        assert_eq!(body["type"], "NotFoundError");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_work_as_cookie_and_bearer_and_die_with_the_password() {
    for backend in common::backends("hive_session") {
        let s = start(&backend, &[]).await;
        let r = s
            .http
            .post(s.url("/api/v1/login"))
            .json(&json!({"user": "admin@thehive.local", "password": "secret"}))
            .send()
            .await
            .expect("login");
        assert_eq!(r.status(), StatusCode::OK);
        let cookie = r
            .headers()
            .get("set-cookie")
            .expect("cookie")
            .to_str()
            .expect("text")
            .to_string();
        assert!(
            cookie.starts_with("THEHIVE-SESSION=") && cookie.contains("HttpOnly"),
            "{cookie}"
        );
        let body: Value = r.json().await.expect("json");
        let token = body["token"].as_str().expect("token").to_string();
        let r = s
            .http
            .get(s.url("/api/v1/user/current"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("req");
        assert_eq!(r.status(), StatusCode::OK);
        let r = s
            .http
            .get(s.url("/api/v1/user/current"))
            .header("cookie", format!("THEHIVE-SESSION={token}"))
            .send()
            .await
            .expect("req");
        assert_eq!(r.status(), StatusCode::OK);
        // A cookie alone cannot change data (CSRF).
        let r = s
            .http
            .post(s.url("/api/v1/organisation"))
            .header("cookie", format!("THEHIVE-SESSION={token}"))
            .json(&json!({"name": "csrf", "description": "d"}))
            .send()
            .await
            .expect("req");
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        // Changing the password ends the session and the old Basic credentials.
        let r = s
            .http
            .post(s.url("/api/v1/user/admin@thehive.local/password/change"))
            .bearer_auth(&token)
            .json(&json!({"currentPassword": "secret", "password": "n3w-secret"}))
            .send()
            .await
            .expect("req");
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        let r = s
            .http
            .get(s.url("/api/v1/user/current"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("req");
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let r = s
            .admin(reqwest::Method::GET, "/api/v1/user/current")
            .send()
            .await
            .expect("req");
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let r = s
            .http
            .get(s.url("/api/v1/user/current"))
            .basic_auth("admin@thehive.local", Some("n3w-secret"))
            .send()
            .await
            .expect("req");
        assert_eq!(r.status(), StatusCode::OK);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_instances_start_together_on_one_postgres_database() {
    let Some(url) = common::fresh_pg_database("hive_twin") else {
        return;
    };
    let backend = common::backend_for("postgres", url);
    let (a, b) = tokio::join!(start(&backend, &[]), start(&backend, &[]));
    for s in [&a, &b] {
        let r = s
            .admin(reqwest::Method::POST, "/api/v1/query")
            .json(&json!({"query": [{"_name": "listUser"}, {"_name": "count"}]}))
            .send()
            .await
            .expect("req");
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            r.json::<Value>().await.expect("json"),
            json!(1),
            "exactly one admin was bootstrapped"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_broker_receives_confirmed_events() {
    if !common::amqp_available().await {
        return;
    }
    use futures::StreamExt;
    use lapin::options::*;
    let broker = hive_service::messaging::Broker::connect(
        &common::amqp_url(),
        std::time::Duration::from_secs(5),
        "hive.events",
    )
    .await
    .expect("connect");
    assert_eq!(broker.state(), "connected");
    let conn =
        lapin::Connection::connect(&common::amqp_url(), lapin::ConnectionProperties::default())
            .await
            .expect("conn");
    let ch = conn.create_channel().await.expect("channel");
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
        "hive.events".into(),
        "test.#".into(),
        Default::default(),
        Default::default(),
    )
    .await
    .expect("bind");
    let mut consumer = ch
        .basic_consume(
            q.name().clone(),
            "t".into(),
            BasicConsumeOptions {
                no_ack: true,
                ..Default::default()
            },
            Default::default(),
        )
        .await
        .expect("consume");
    broker
        .publish("test.hello", &json!({"n": 1}), Some("req-1".into()))
        .await
        .expect("publish");
    let delivery = tokio::time::timeout(std::time::Duration::from_secs(5), consumer.next())
        .await
        .expect("delivered in time")
        .expect("a delivery")
        .expect("ok");
    let env: Value = serde_json::from_slice(&delivery.data).expect("json");
    assert_eq!(env["type"], "test.hello");
    assert_eq!(env["payload"]["n"], 1);
    assert_eq!(env["correlation_id"], "req-1");
    assert_eq!(env["schema_version"], 1);
}
