//! The job engine with workers written as shell scripts (no Python needed): the report and
//! artifacts of a well-behaved worker, the events on `cortex.events`, and every way a worker
//! can misbehave ending as a Failure with a telling message, on SQLite and PostgreSQL.

use service_kit::test_support as common;

use cortex_service::config::Settings;
use cortex_service::Application;
use reqwest::StatusCode;
use serde_json::{json, Value};
use service_kit::settings::LoadSettings;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

const ADMIN_KEY: &str = "engine-test-superadmin-key-0123456789abcdef";

/// A worker folder with one analyzer per (name, script); every script gets `$1` = job folder.
fn workers(dir: &Path, scripts: &[(&str, &str)]) -> String {
    let root = dir.join("analyzers");
    for (name, script) in scripts {
        let d = root.join(name);
        std::fs::create_dir_all(&d).expect("mkdir");
        let def = json!({
            "name": name, "version": "1.0", "author": "tests", "url": "http://localhost",
            "license": "AGPL-V3", "description": "shell worker", "dataTypeList": ["ip", "domain"],
            "command": format!("{name}/run.sh"), "baseConfig": name,
            "configurationItems": [], "config": {"service": "t"}
        });
        std::fs::write(d.join(format!("{name}.json")), def.to_string()).expect("def");
        let run = d.join("run.sh");
        std::fs::write(&run, format!("#!/bin/sh\nset -u\nJOB=\"$1\"\n{script}\n")).expect("script");
        std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    root.display().to_string()
}

struct Svc {
    base: String,
    http: reqwest::Client,
    key: String,
    _dir: tempfile::TempDir,
}

impl Svc {
    fn req(&self, m: reqwest::Method, p: &str) -> reqwest::RequestBuilder {
        self.http
            .request(m, format!("{}{p}", self.base))
            .bearer_auth(&self.key)
    }

    async fn json(&self, m: reqwest::Method, p: &str, body: Value) -> (StatusCode, Value) {
        let r = self.req(m, p).json(&body).send().await.expect("send");
        let s = r.status();
        (s, r.json().await.unwrap_or(Value::Null))
    }
}

async fn start(backend: &common::Backend, scripts: &[(&str, &str)], extra: &[(&str, &str)]) -> Svc {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut env = common::env("CORTEX", dir.path(), &backend.url);
    env.push(("CORTEX__BOOTSTRAP__ADMIN_API_KEY".into(), ADMIN_KEY.into()));
    env.push((
        "CORTEX__ANALYZERS__PATHS".into(),
        workers(dir.path(), scripts),
    ));
    env.push(("CORTEX__JOBS__KILL_GRACE_SECS".into(), "1".into()));
    for (k, v) in extra {
        env.push(((*k).into(), (*v).into()));
    }
    let settings = Settings::load_with_env(None, env).expect("settings");
    let app = Application::build(settings).await.expect("service starts");
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let http = reqwest::Client::new();
    let admin = |m: reqwest::Method, p: &str, b: Value| {
        http.request(m, format!("{base}{p}"))
            .bearer_auth(ADMIN_KEY)
            .json(&b)
            .send()
    };
    let r = admin(
        reqwest::Method::POST,
        "/api/organization",
        json!({"name": "soc", "description": "d"}),
    )
    .await
    .expect("org");
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = admin(
        reqwest::Method::POST,
        "/api/user",
        json!({"login": "lead", "name": "L", "roles": ["read", "analyze", "orgadmin"], "organization": "soc"}),
    )
    .await
    .expect("user");
    assert_eq!(r.status(), StatusCode::CREATED);
    let key = admin(reqwest::Method::POST, "/api/user/lead/key/renew", json!({}))
        .await
        .expect("key")
        .text()
        .await
        .expect("text");
    Svc {
        base,
        http,
        key,
        _dir: dir,
    }
}

/// Enables `name` and runs it on `data`; answers the finished job with its report.
async fn run_to_end(s: &Svc, worker_id: &str, data: &str) -> Value {
    let (st, job) = s
        .json(
            reqwest::Method::POST,
            &format!("/api/analyzer/{worker_id}/run"),
            json!({"dataType": "ip", "data": data, "tlp": 1}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{job}");
    let id = job["id"].as_str().expect("id").to_string();
    let (st, done) = s
        .json(
            reqwest::Method::GET,
            &format!("/api/job/{id}/waitreport?atMost=30%20seconds"),
            Value::Null,
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    done
}

async fn enable(s: &Svc, name: &str, body: Value) -> String {
    let (st, w) = s
        .json(
            reqwest::Method::POST,
            &format!("/api/organization/analyzer/{name}_1_0"),
            body,
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{w}");
    w["id"].as_str().expect("worker id").to_string()
}

const GOOD: &str = r#"cat > "$JOB/output/x.txt" <<EOF
extracted
EOF
ln -s /etc/passwd "$JOB/output/escape"
printf '{"success":true,"summary":{"taxonomies":[{"level":"malicious","namespace":"T","predicate":"p","value":1}]},"full":{"input":%s},"artifacts":[{"dataType":"domain","data":"evil.example","tags":["autoImport:true"]},{"dataType":"file","file":"x.txt","filename":"found.txt"},{"dataType":"file","file":"escape","filename":"passwd"},{"dataType":"file","file":"../input/input.json"}],"operations":[{"type":"AddTagToArtifact","tag":"t"}]}' "$(cat "$JOB/input/input.json")" > "$JOB/output/output.json""#;

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_reports_taxonomies_artifacts_and_events() {
    let with_broker = common::amqp_available().await;
    for backend in common::backends("cortex_engine_good") {
        let queue = format!("cortex.jobs.test.{}", backend.name);
        let mut extra = vec![("CORTEX__JOBS__QUEUE", queue.as_str())];
        let url = common::amqp_url();
        if with_broker {
            extra.push(("CORTEX__AMQP__URL", url.as_str()));
        }
        let s = start(&backend, &[("Good", GOOD)], &extra).await;
        let events = if with_broker {
            Some(listen("job.#").await)
        } else {
            None
        };
        let wid = enable(
            &s,
            "Good",
            json!({"configuration": {"check_tlp": true, "max_tlp": 2}}),
        )
        .await;
        let done = run_to_end(&s, &wid, "10.0.0.1").await;
        assert_eq!(done["status"], "Success", "{done}");
        let report = &done["report"];
        let input = &report["full"]["input"];
        assert_eq!(input["data"], "10.0.0.1");
        assert_eq!(input["dataType"], "ip");
        assert_eq!(input["tlp"], 1);
        assert_eq!(input["config"]["service"], "t", "definition config merged");
        assert_eq!(input["config"]["max_tlp"], 2, "worker config merged");
        assert_eq!(report["summary"]["taxonomies"][0]["level"], "malicious");
        assert_eq!(report["operations"][0]["type"], "AddTagToArtifact");
        let arts = report["artifacts"].as_array().expect("artifacts");
        assert_eq!(
            arts.len(),
            2,
            "the symlink and the path outside output/ are dropped: {arts:?}"
        );
        assert_eq!(arts[0]["data"], "evil.example");
        assert_eq!(arts[0]["tlp"], 2);
        let file = &arts[1]["attachment"];
        assert_eq!(file["name"], "found.txt");
        assert_eq!(file["size"], 10);
        let r = s
            .req(
                reqwest::Method::GET,
                &format!("/api/datastore/{}", file["id"].as_str().expect("id")),
            )
            .send()
            .await
            .expect("download");
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.text().await.expect("body"), "extracted\n");
        let r = s
            .req(
                reqwest::Method::GET,
                &format!("/api/datastore/{}", "ab".repeat(32)),
            )
            .send()
            .await
            .expect("download");
        assert_eq!(
            r.status(),
            StatusCode::NOT_FOUND,
            "only files of the organization's jobs"
        );

        // TLP above the worker's max: refused before anything runs.
        let (st, body) = s
            .json(
                reqwest::Method::POST,
                &format!("/api/analyzer/{wid}/run"),
                json!({"dataType": "ip", "data": "10.0.0.2", "tlp": 3}),
            )
            .await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
        assert!(body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("TLP is higher than allowed"));

        if let Some(mut events) = events {
            let mut seen = Vec::new();
            while !seen
                .iter()
                .any(|(k, _): &(String, Value)| k == "job.Success")
            {
                let d = tokio::time::timeout(std::time::Duration::from_secs(10), events.1.next())
                    .await
                    .expect("events in time")
                    .expect("a delivery")
                    .expect("ok");
                let env: Value = serde_json::from_slice(&d.data).expect("json");
                if env["payload"]["job"]["id"] == done["id"] {
                    seen.push((d.routing_key.to_string(), env));
                }
            }
            let keys: Vec<&str> = seen.iter().map(|(k, _)| k.as_str()).collect();
            assert_eq!(keys, ["job.Waiting", "job.InProgress", "job.Success"]);
            let last = &seen[2].1["payload"]["job"];
            assert_eq!(
                last["report"]["artifacts"].as_array().map(Vec::len),
                Some(2)
            );
            let _ = events.0.close(200, "done".into()).await;
        }
    }
}

use futures::StreamExt;

async fn listen(pattern: &str) -> (lapin::Connection, lapin::Consumer) {
    let exchange = <cortex_service::Cortex as service_kit::Service>::EVENTS_EXCHANGE;
    common::listen(exchange, pattern).await
}

#[tokio::test(flavor = "multi_thread")]
async fn misbehaving_workers_end_as_failures_with_their_words() {
    let scripts = [
        (
            "Silent",
            "echo 'boom: no module named cortexutils' >&2; exit 1",
        ),
        (
            "NotObject",
            r#"echo '{"success":true,"full":"text"}' > "$JOB/output/output.json""#,
        ),
        ("Garbage", r#"echo 'not json' > "$JOB/output/output.json""#),
        (
            "Says",
            r#"echo '{"success":false,"errorMessage":"TLP is higher than allowed.","input":{"x":1}}' > "$JOB/output/output.json""#,
        ),
        (
            "Flood",
            r#"head -c 600000 /dev/zero > "$JOB/output/a"; head -c 600000 /dev/zero > "$JOB/output/b"; sleep 5; echo '{"success":true,"full":{}}' > "$JOB/output/output.json""#,
        ),
        (
            "BadArtifact",
            r#"echo '{"success":true,"full":{},"artifacts":[{"dataType":"ip","data":"1.2.3.4","tlp":9}]}' > "$JOB/output/output.json""#,
        ),
        ("Sleepy", "trap '' TERM; sleep 30"),
        ("Nul", r"printf 'bad\000byte' >&2; exit 1"),
    ];
    for backend in common::backends("cortex_engine_bad") {
        let s = start(
            &backend,
            &scripts,
            &[("CORTEX__JOBS__MAX_OUTPUT_BYTES", "1000000")],
        )
        .await;
        let expect = [
            ("Silent", "boom: no module named cortexutils"),
            ("NotObject", "`full` must be an object"),
            ("Garbage", "not valid JSON"),
            ("Says", "TLP is higher than allowed."),
            ("Flood", "wrote more than 1000000 bytes"),
            ("BadArtifact", "artifacts[0]: tlp must be 0 to 3"),
            ("Nul", "badbyte"),
        ];
        for (name, message) in expect {
            let wid = enable(&s, name, json!({"configuration": {}})).await;
            let done = run_to_end(&s, &wid, "10.0.0.1").await;
            assert_eq!(done["status"], "Failure", "{name}: {done}");
            let got = done["report"]["errorMessage"].as_str().unwrap_or_default();
            assert!(got.contains(message), "{name}: {got:?} lacks {message:?}");
            assert_eq!(done["report"]["success"], false);
        }
        // Ignoring SIGTERM does not help: SIGKILL follows the grace period.
        let wid = enable(
            &s,
            "Sleepy",
            json!({"configuration": {}, "jobTimeout": 0.02}),
        )
        .await;
        let started = std::time::Instant::now();
        let done = run_to_end(&s, &wid, "10.0.0.1").await;
        assert_eq!(done["status"], "Failure", "{done}");
        assert!(done["report"]["errorMessage"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Timeout"));
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );

        // Bad requests: unknown worker, data type not accepted, TLP out of range, no data.
        let (st, body) = s
            .json(
                reqwest::Method::POST,
                "/api/analyzer/nope/run",
                json!({"dataType": "ip", "data": "x"}),
            )
            .await;
        assert_eq!(
            (st, body["type"].as_str()),
            (StatusCode::NOT_FOUND, Some("NotFoundError"))
        );
        for (bad, field) in [
            (json!({"dataType": "url", "data": "http://x"}), "dataType"),
            (
                json!({"dataType": "ip", "data": "1.1.1.1", "tlp": 4}),
                "tlp",
            ),
            (
                json!({"dataType": "ip", "data": "1.1.1.1", "pap": -1}),
                "pap",
            ),
            (json!({"dataType": "ip"}), "data/attachment"),
            (json!({"data": "1.1.1.1"}), "dataType"),
            (json!({"dataType": "ip", "data": "1.1\u{0}1.1"}), "data"),
        ] {
            let (st, body) = s
                .json(
                    reqwest::Method::POST,
                    &format!("/api/analyzer/{wid}/run"),
                    bad.clone(),
                )
                .await;
            assert_eq!(st, StatusCode::BAD_REQUEST, "{bad}: {body}");
            assert_eq!(body["errors"][0]["name"], field, "{bad}: {body}");
        }
        let (_, jobs) = s
            .json(
                reqwest::Method::POST,
                "/api/job/_search?range=all",
                json!({"query": {}}),
            )
            .await;
        assert_eq!(
            jobs.as_array().map(Vec::len),
            Some(8),
            "refused runs left no job"
        );
    }
}
