//! hive-service against real databases (SQLite and PostgreSQL) and RabbitMQ, over HTTP.

use service_kit::test_support as common;

use common::Backend;
use hive_service::config::Settings;
use hive_service::{Application, Hive};
use reqwest::StatusCode;
use serde_json::{json, Value};
use service_kit::settings::LoadSettings;
use service_kit::Service;

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
    let doc = serde_json::to_value(Hive::openapi()).expect("doc");
    for backend in common::backends("hive_deny") {
        let s = start(&backend, &[]).await;
        let public = hive_service::routes::PUBLIC_ROUTES;
        common::check_credentials_required(&s.base, &doc, public, backend.name).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn openapi_export_is_current() {
    let doc = serde_json::to_value(Hive::openapi()).expect("doc");
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

/// Case work refuses client mistakes with TheHive's 4xx bodies and leaves nothing behind:
/// an upload over the limit (413), a TLP out of range, an unknown observable type in the
/// middle of an alert, an unknown custom field, a filter on an unknown field, an unknown
/// case, an unknown status, a duplicate alert.
#[tokio::test(flavor = "multi_thread")]
async fn case_work_refuses_bad_input_and_writes_nothing() {
    for backend in common::backends("hive_casework_bad") {
        let s = start(&backend, &[("HIVE__DATASTORE__MAX_UPLOAD_BYTES", "2048")]).await;
        let post = |path: &str, body: Value| {
            s.admin(reqwest::Method::POST, path)
                .header("X-Organisation", "soc")
                .json(&body)
        };
        let r = s
            .admin(reqwest::Method::POST, "/api/v1/organisation")
            .json(&json!({"name": "soc", "description": "SOC"}))
            .send()
            .await
            .expect("org");
        assert_eq!(r.status(), StatusCode::CREATED);
        let r = s
            .admin(
                reqwest::Method::PUT,
                "/api/v1/user/admin@thehive.local/organisations",
            )
            .json(&json!({"organisations": [
                {"organisation": "soc", "profile": "org-admin", "default": true},
                {"organisation": "admin", "profile": "admin"}]}))
            .send()
            .await
            .expect("memberships");
        assert!(r.status().is_success());
        let count = || async {
            let r = post(
                "/api/v1/query",
                json!({"query": [{"_name": "listAlert"}, {"_name": "count"}]}),
            )
            .send()
            .await
            .expect("count");
            r.json::<Value>().await.expect("count body")
        };
        let alert = |r: &str| json!({"type": "mail", "source": "feeder", "sourceRef": r, "title": "t", "description": "d"});

        // A file part over datastore.max_upload_bytes: 413, no alert.
        let boundary = "XbOuNdArY";
        let mut body = Vec::new();
        body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"obs1\"; filename=\"big.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes());
        body.extend_from_slice(&vec![b'x'; 4096]);
        let mut json_alert = alert("big");
        json_alert["observables"] = json!([{"dataType": "file", "attachment": "obs1"}]);
        body.extend_from_slice(format!("\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"_json\"\r\n\r\n{json_alert}\r\n--{boundary}--\r\n").as_bytes());
        let r = s
            .admin(reqwest::Method::POST, "/api/v1/alert")
            .header("X-Organisation", "soc")
            .header(
                "Content-Type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body)
            .send()
            .await
            .expect("upload");
        assert_eq!(
            r.status(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "{}",
            backend.name
        );
        assert_eq!(count().await, json!(0));

        // TLP out of range: 400 naming the field.
        let mut bad = alert("tlp");
        bad["tlp"] = json!(9);
        let r = post("/api/v1/alert", bad).send().await.expect("tlp");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let e: Value = r.json().await.expect("body");
        assert_eq!(e["type"], "AttributeCheckingError");
        assert_eq!(e["errors"][0]["name"], "tlp");

        // An unknown observable type after a good one: 400, and no alert at all.
        let mut bad = alert("obs");
        bad["observables"] =
            json!([{"dataType": "ip", "data": "10.0.0.1"}, {"dataType": "nope", "data": "x"}]);
        let r = post("/api/v1/alert", bad).send().await.expect("obs");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let e: Value = r.json().await.expect("body");
        assert_eq!(e["errors"][0]["name"], "observables[1].dataType");
        assert_eq!(count().await, json!(0));

        // An unknown custom field: 404 as TheHive.
        let mut bad = alert("cf");
        bad["customFields"] = json!({"nope": "x"});
        let r = post("/api/v1/alert", bad).send().await.expect("cf");
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert_eq!(count().await, json!(0));

        // A duplicate: 400 CreateError, one alert.
        assert_eq!(
            post("/api/v1/alert", alert("dup"))
                .send()
                .await
                .expect("a")
                .status(),
            StatusCode::CREATED
        );
        let r = post("/api/v1/alert", alert("dup"))
            .send()
            .await
            .expect("dup");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let e: Value = r.json().await.expect("body");
        assert_eq!(e["type"], "CreateError");
        assert_eq!(count().await, json!(1));

        // A filter on an unknown field: 400 SearchError.
        let r = post("/api/v1/query", json!({"query": [{"_name": "listAlert"}, {"_name": "filter", "_eq": {"_field": "nope", "_value": 1}}]}))
            .send()
            .await
            .expect("search");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            r.json::<Value>().await.expect("body")["type"],
            "SearchError"
        );

        // Unknown case: 404; unknown status: 400 and the case unchanged.
        let r = s
            .admin(reqwest::Method::GET, "/api/v1/case/4242")
            .header("X-Organisation", "soc")
            .send()
            .await
            .expect("case");
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            r.json::<Value>().await.expect("body")["type"],
            "NotFoundError"
        );
        let case: Value = post("/api/v1/case", json!({"title": "c", "description": "d"}))
            .send()
            .await
            .expect("case")
            .json()
            .await
            .expect("case body");
        let id = case["_id"].as_str().expect("id").to_string();
        let r = s
            .admin(reqwest::Method::PATCH, &format!("/api/v1/case/{id}"))
            .header("X-Organisation", "soc")
            .json(&json!({"title": "changed", "status": "Bogus"}))
            .send()
            .await
            .expect("patch");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let after: Value = s
            .admin(reqwest::Method::GET, &format!("/api/v1/case/{id}"))
            .header("X-Organisation", "soc")
            .send()
            .await
            .expect("get")
            .json()
            .await
            .expect("get body");
        assert_eq!(
            (after["title"].as_str(), after["status"].as_str()),
            (Some("c"), Some("New"))
        );
    }
}
