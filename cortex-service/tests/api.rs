//! cortex-service against real databases (SQLite and PostgreSQL), over HTTP.

use service_kit::test_support as common;

use common::Backend;
use cortex_service::config::Settings;
use cortex_service::{Application, Cortex};
use reqwest::StatusCode;
use serde_json::{json, Value};
use service_kit::settings::LoadSettings;
use service_kit::Service;

async fn start(backend: &Backend) -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = Settings::load_with_env(None, common::env("CORTEX", dir.path(), &backend.url))
        .expect("settings");
    let app = Application::build(settings).await.expect("service starts");
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    (base, dir)
}

#[tokio::test(flavor = "multi_thread")]
async fn every_route_but_the_public_ones_needs_credentials() {
    let doc = serde_json::to_value(Cortex::openapi()).expect("doc");
    for backend in common::backends("cortex_deny") {
        let (base, _dir) = start(&backend).await;
        let public = cortex_service::routes::PUBLIC_ROUTES;
        common::check_credentials_required(&base, &doc, public, backend.name).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn openapi_export_is_current() {
    let doc = serde_json::to_value(Cortex::openapi()).expect("doc");
    common::check_openapi_export(&doc, "cortex-service.json");
}

#[tokio::test(flavor = "multi_thread")]
async fn roles_are_literal_and_locked_users_are_refused() {
    let http = reqwest::Client::new();
    for backend in common::backends("cortex_roles") {
        let (base, _dir) = start(&backend).await;
        let admin = |m: reqwest::Method, p: &str| {
            http.request(m, format!("{base}{p}"))
                .basic_auth("admin", Some("secret"))
        };
        let r = admin(reqwest::Method::POST, "/api/organization")
            .json(&json!({"name": "soc", "description": "d"}))
            .send()
            .await
            .expect("req");
        assert_eq!(r.status(), StatusCode::CREATED);
        // superadmin only in org cortex
        let r = admin(reqwest::Method::POST, "/api/user")
            .json(&json!({"login": "boss", "name": "B", "roles": ["superadmin"], "organization": "soc"}))
            .send().await.expect("req");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let r = admin(reqwest::Method::POST, "/api/user")
            .json(&json!({"login": "ana", "name": "A", "roles": ["read", "analyze"], "organization": "soc"}))
            .send().await.expect("req");
        assert_eq!(r.status(), StatusCode::CREATED);
        let key = admin(reqwest::Method::POST, "/api/user/ana/key/renew")
            .send()
            .await
            .expect("req")
            .text()
            .await
            .expect("key");
        assert!(key.len() >= 32);
        // analyze does not grant orgadmin
        let r = http
            .post(format!("{base}/api/user"))
            .bearer_auth(&key)
            .json(&json!({"login": "x", "name": "X", "roles": ["read"]}))
            .send()
            .await
            .expect("req");
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let r = http
            .get(format!("{base}/api/user/current"))
            .bearer_auth(&key)
            .send()
            .await
            .expect("req");
        assert_eq!(r.status(), StatusCode::OK);
        let me: Value = r.json().await.expect("json");
        assert_eq!(me["id"], "ana");
        assert_eq!(me["organization"], "soc");
        // a duplicate login is a 4xx, never a 5xx
        let r = admin(reqwest::Method::POST, "/api/user")
            .json(&json!({"login": "ana", "name": "A", "roles": ["read"], "organization": "soc"}))
            .send()
            .await
            .expect("req");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        // lock: 401 with the same key
        let r = admin(reqwest::Method::PATCH, "/api/user/ana")
            .json(&json!({"status": "Locked"}))
            .send()
            .await
            .expect("req");
        assert_eq!(r.status(), StatusCode::OK);
        let r = http
            .get(format!("{base}/api/user/current"))
            .bearer_auth(&key)
            .send()
            .await
            .expect("req");
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        // wrong password and unknown user look the same
        for (u, p) in [("admin", "nope"), ("ghost", "secret")] {
            let r = http
                .get(format!("{base}/api/user/current"))
                .basic_auth(u, Some(p))
                .send()
                .await
                .expect("req");
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
            assert_eq!(
                r.text().await.expect("b"),
                r#"{"type":"AuthenticationError","message":"Authentication failure"}"#
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_instances_start_together_on_one_postgres_database() {
    let Some(url) = common::fresh_pg_database("cortex_twin") else {
        return;
    };
    let backend = common::backend_for("postgres", url);
    let ((a, _da), (b, _db)) = tokio::join!(start(&backend), start(&backend));
    let http = reqwest::Client::new();
    for base in [a, b] {
        let r = http
            .post(format!("{base}/api/user/_search?range=all"))
            .basic_auth("admin", Some("secret"))
            .json(&json!({"query": {}}))
            .send()
            .await
            .expect("req");
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            r.headers()["x-total"],
            "1",
            "exactly one superadmin was bootstrapped"
        );
    }
}
