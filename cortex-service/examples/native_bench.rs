//! Built-in workers benchmark (issue 16).
//!
//! 1. latency: on an idle cortex-service (in-process queue), `--latency-jobs` jobs one after
//!    the other of `Native_IocExtract` on a small `other` observable: from the client sending
//!    `POST /api/analyzer/{id}/run` to `GET /api/job/{id}/waitreport` answering with the report
//!    stored (end to end), p50 / p99;
//! 2. throughput: `--jobs` jobs of `Native_Reputation` on distinct IPs, submitted by
//!    `--clients` concurrent clients over REST (`POST .../run`, then `waitreport`), in process
//!    and, with `--amqp`, through RabbitMQ, until the last report is stored: jobs/s; then, with
//!    `--amqp`, the same jobs submitted as messages on the submissions queue (hive-service's
//!    connector path: signed submissions in, `job.Success` events out), from the first
//!    message published to the last `job.Success` event received;
//! 3. e-mail parsing side by side, when `--emlparser` names Cortex-Analyzers' `analyzers`
//!    folder (holding `EmlParser/`) and `--emlparser-python` the `bin` folder of a virtualenv
//!    with its requirements: the same service runs `Native_EmlParser_1_0` and `EmlParser_2_1`
//!    on each message of `--messages` (default tests/fixtures/mail/*.eml), `--eml-rounds` times
//!    each, alternately; the time of each job from start to end (`endDate - startDate`), and the
//!    ratio.
//!
//! ```sh
//! cargo build --release --bin cortex-service --example native_bench
//! target/release/examples/native_bench --bin target/release/cortex-service \
//!     --amqp amqp://guest:guest@127.0.0.1:5672/%2f \
//!     --emlparser /tmp/ca/analyzers --emlparser-python .venv-eml/bin
//! ```
//! (`--pg postgres://postgres@127.0.0.1:5432/postgres` runs on fresh PostgreSQL databases
//! instead of SQLite.)

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const KEY: &str = "native-bench-superadmin-key-0123456789abc";

struct Args {
    bin: String,
    amqp: Option<String>,
    pg: Option<String>,
    latency_jobs: usize,
    jobs: usize,
    clients: usize,
    concurrency: usize,
    emlparser: Option<PathBuf>,
    emlparser_python: Option<PathBuf>,
    messages: PathBuf,
    eml_rounds: usize,
}

fn args() -> Args {
    let mut a = Args {
        bin: "target/release/cortex-service".into(),
        amqp: None,
        pg: None,
        latency_jobs: 300,
        jobs: 5000,
        clients: 32,
        concurrency: 8,
        emlparser: None,
        emlparser_python: None,
        messages: PathBuf::from("tests/fixtures/mail"),
        eml_rounds: 10,
    };
    let v: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i + 1 < v.len() {
        let x = v[i + 1].clone();
        match v[i].as_str() {
            "--bin" => a.bin = x,
            "--amqp" => a.amqp = Some(x),
            "--pg" => a.pg = Some(x),
            "--latency-jobs" => a.latency_jobs = x.parse().expect("--latency-jobs N"),
            "--jobs" => a.jobs = x.parse().expect("--jobs N"),
            "--clients" => a.clients = x.parse().expect("--clients N"),
            "--concurrency" => a.concurrency = x.parse().expect("--concurrency N"),
            "--emlparser" => a.emlparser = Some(x.into()),
            "--emlparser-python" => a.emlparser_python = Some(x.into()),
            "--messages" => a.messages = x.into(),
            "--eml-rounds" => a.eml_rounds = x.parse().expect("--eml-rounds N"),
            other => panic!("unknown argument {other}"),
        }
        i += 2;
    }
    a
}

struct Service {
    child: Child,
    base: String,
    key: String,
    http: reqwest::Client,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Service {
    async fn start(a: &Args, dir: &Path, amqp: Option<&str>) -> Service {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("port")
            .local_addr()
            .expect("addr")
            .port();
        let data = dir.join(format!("service-{port}"));
        let db = match &a.pg {
            Some(pg) => {
                service_kit::test_support::recreate_pg_database(pg, &format!("native_bench_{port}"))
            }
            None => format!("sqlite://{}/cortex.db", data.display()),
        };
        let mut path = std::env::var("PATH").unwrap_or_default();
        if let Some(py) = &a.emlparser_python {
            path = format!(
                "{}:{path}",
                std::fs::canonicalize(py).expect("python dir").display()
            );
        }
        let mut cmd = Command::new(&a.bin);
        cmd.env("CORTEX__HTTP__BIND", format!("127.0.0.1:{port}"))
            .env("CORTEX__DATA_DIR", &data)
            .env("CORTEX__DATABASE__URL", db)
            .env("CORTEX__BOOTSTRAP__ADMIN_API_KEY", KEY)
            .env("CORTEX__JOBS__CONCURRENCY", a.concurrency.to_string())
            .env("CORTEX__JOBS__QUEUE", format!("cortex.jobs.nbench.{port}"))
            .env(
                "CORTEX__JOBS__SUBMISSIONS_QUEUE",
                format!("cortex.submit.nbench.{port}"),
            )
            .env("CORTEX__LOG__LEVEL", "warn")
            .env("PATH", path)
            .stdout(Stdio::null());
        if let Some(p) = &a.emlparser {
            cmd.env("CORTEX__ANALYZERS__PATHS", p);
        }
        if let Some(url) = amqp {
            cmd.env("CORTEX__AMQP__URL", url);
        }
        let child = cmd.spawn().expect("start cortex-service");
        let mut s = Service {
            child,
            base: format!("http://127.0.0.1:{port}"),
            key: KEY.into(),
            http: reqwest::Client::new(),
        };
        for _ in 0..300 {
            if s.http
                .get(format!("{}/api/status", s.base))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        s.call(
            "POST",
            "/api/organization",
            json!({"name": "bench", "description": "b"}),
        )
        .await;
        s.call(
            "POST",
            "/api/user",
            json!({"login": "bench", "name": "B", "roles": ["read", "analyze", "orgadmin"],
                   "organization": "bench"}),
        )
        .await;
        let key = s.call("POST", "/api/user/bench/key/renew", json!({})).await;
        s.key = key.as_str().expect("key").to_string();
        s
    }

    async fn call(&self, method: &str, path: &str, body: Value) -> Value {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let r = self
            .http
            .request(m, format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .json(&body)
            .send()
            .await
            .expect("request");
        let status = r.status();
        let text = r.text().await.expect("body");
        assert!(status.is_success(), "{method} {path}: {status}: {text}");
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    }

    /// Enables `name` without cache; returns the worker id.
    async fn enable(&self, name: &str, configuration: Value) -> String {
        let w = self
            .call(
                "POST",
                &format!("/api/organization/analyzer/{name}"),
                json!({"name": name, "configuration": configuration, "jobCache": 0}),
            )
            .await;
        w["id"].as_str().expect("worker id").to_string()
    }

    async fn run(&self, worker: &str, data_type: &str, data: &str) -> String {
        let j = self
            .call(
                "POST",
                &format!("/api/analyzer/{worker}/run"),
                json!({"data": data, "dataType": data_type, "tlp": 2}),
            )
            .await;
        j["id"].as_str().expect("job id").to_string()
    }

    async fn run_file(&self, worker: &str, name: &str, bytes: &[u8]) -> String {
        let form = reqwest::multipart::Form::new()
            .text("_json", json!({"dataType": "file", "tlp": 2}).to_string())
            .part(
                "attachment",
                reqwest::multipart::Part::bytes(bytes.to_vec()).file_name(name.to_string()),
            );
        let r = self
            .http
            .post(format!("{}/api/analyzer/{worker}/run", self.base))
            .bearer_auth(&self.key)
            .multipart(form)
            .send()
            .await
            .expect("run file");
        let status = r.status();
        let v: Value = r.json().await.expect("json");
        assert!(status.is_success(), "{status}: {v}");
        v["id"].as_str().expect("job id").to_string()
    }

    /// The job once it ended (its report stored), with its status.
    async fn wait(&self, job: &str) -> Value {
        loop {
            let j = self
                .call(
                    "GET",
                    &format!("/api/job/{job}/waitreport?atMost=1minute"),
                    Value::Null,
                )
                .await;
            if matches!(j["status"].as_str(), Some("Success" | "Failure")) {
                return j;
            }
        }
    }
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn latency(a: &Args, dir: &Path) {
    let s = Service::start(a, dir, None).await;
    let w = s.enable("Native_IocExtract_1_0", json!({})).await;
    let mut took = Vec::new();
    for i in 0..a.latency_jobs + 20 {
        let t = Instant::now();
        let id = s
            .run(
                &w,
                "other",
                &format!(
                    "beacon to hxxp://c2-{i}[.]example/x from 198.51.100.{}",
                    i % 250
                ),
            )
            .await;
        let j = s.wait(&id).await;
        assert_eq!(j["status"], "Success", "{j}");
        if i >= 20 {
            took.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    took.sort_by(f64::total_cmp);
    println!(
        "latency, Native_IocExtract end to end (submit → report stored), {} jobs one by one: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        took.len(),
        pct(&took, 0.5),
        pct(&took, 0.99),
        took[took.len() - 1]
    );
}

async fn throughput(a: &Args, dir: &Path, amqp: Option<&str>) {
    let s = Arc::new(Service::start(a, dir, amqp).await);
    let w = Arc::new(s.enable("Native_Reputation_1_0", json!({})).await);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..a.clients {
        let (s, w, next, n) = (s.clone(), w.clone(), next.clone(), a.jobs);
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let ip = format!("10.{}.{}.{}", i / 65536 % 256, i / 256 % 256, i % 256);
                ids.push(s.run(&w, "ip", &ip).await);
            }
            let submitted = Instant::now();
            for id in &ids {
                let j = s.wait(id).await;
                assert_eq!(j["status"], "Success", "{j}");
            }
            submitted
        }));
    }
    let mut last_submit = started;
    for t in tasks {
        last_submit = last_submit.max(t.await.expect("client"));
    }
    let total = started.elapsed().as_secs_f64();
    println!(
        "throughput, Native_Reputation, {} jobs by {} clients, {}: {:.0} jobs/s (submitted in {:.2} s, all reports stored after {:.2} s)",
        a.jobs,
        a.clients,
        if amqp.is_some() { "through RabbitMQ" } else { "in process" },
        a.jobs as f64 / total,
        (last_submit - started).as_secs_f64(),
        total
    );
}

/// Jobs submitted as RabbitMQ messages, their ends heard as `job.Success` events.
async fn submissions(a: &Args, dir: &Path, url: &str) {
    use futures_util::StreamExt;
    use hmac::{Hmac, Mac};
    use lapin::options::BasicPublishOptions;
    use sha2::{Digest, Sha256};
    let s = Service::start(a, dir, Some(url)).await;
    let w = s.enable("Native_Reputation_1_0", json!({})).await;
    let submit_queue = format!(
        "cortex.submit.nbench.{}",
        s.base.rsplit(':').next().expect("port")
    );
    // Every event of cortex.events; the ends of this run's jobs are counted below.
    let (conn, mut events) = service_kit::test_support::listen_on(url, "cortex.events", "#").await;
    let digest = hex::encode(Sha256::digest(s.key.as_bytes()));
    let run = format!("nb-{}-", std::process::id());
    let bodies: Vec<Vec<u8>> = (0..a.jobs)
        .map(|i| {
            let text = json!({
                "requestId": format!("{run}{i}"), "kind": "analyzer", "worker": w,
                "dataType": "ip", "data": format!("10.{}.{}.{}", i / 65536 % 256, i / 256 % 256, i % 256),
                "tlp": 2, "pap": 2, "message": "", "parameters": {},
            })
            .to_string();
            let mut mac = Hmac::<Sha256>::new_from_slice(digest.as_bytes()).expect("key");
            mac.update(text.as_bytes());
            let envelope = shared_models::envelope::Envelope {
                message_id: format!("{run}m{i}"),
                kind: shared_models::cortex::MessageKind::Submit.as_str().to_string(),
                schema_version: shared_models::envelope::SCHEMA_VERSION,
                correlation_id: Some(format!("{run}{i}")),
                occurred_at: 0,
                payload: shared_models::cortex::SignedSubmission {
                    user: "bench".into(),
                    signature: hex::encode(mac.finalize().into_bytes()),
                    submission: text,
                },
            };
            serde_json::to_vec(&envelope).expect("json")
        })
        .collect();
    let started = Instant::now();
    let publisher = conn.create_channel().await.expect("channel");
    for body in &bodies {
        publisher
            .basic_publish(
                "".into(),
                submit_queue.as_str().into(),
                BasicPublishOptions::default(),
                body,
                lapin::BasicProperties::default().with_delivery_mode(2),
            )
            .await
            .expect("publish");
    }
    let published = started.elapsed();
    let (mut ok, mut other) = (0usize, 0usize);
    while ok + other < a.jobs {
        let Ok(Some(Ok(d))) = tokio::time::timeout(Duration::from_secs(60), events.next()).await
        else {
            panic!(
                "no event for 60 s: {ok} successes, {other} other ends of {}",
                a.jobs
            );
        };
        let v: Value = serde_json::from_slice(&d.data).unwrap_or(Value::Null);
        let mine = v["payload"]["requestId"]
            .as_str()
            .is_some_and(|r| r.starts_with(&run));
        match v["type"].as_str() {
            Some("job.Success") if mine => ok += 1,
            Some("job.Failure" | "request.rejected") if mine => other += 1,
            _ => {}
        }
    }
    let total = started.elapsed().as_secs_f64();
    assert_eq!(other, 0, "jobs that did not succeed");
    println!(
        "throughput, Native_Reputation, {} jobs submitted as RabbitMQ messages (published in {:.2} s), last job.Success after {:.2} s: {:.0} jobs/s",
        a.jobs,
        published.as_secs_f64(),
        total,
        a.jobs as f64 / total
    );
}

async fn emlparser(a: &Args, dir: &Path) {
    let s = Service::start(a, dir, None).await;
    let native = s.enable("Native_EmlParser_1_0", json!({})).await;
    let python = s
        .enable("EmlParser_2_1", json!({"email_visualisation": false}))
        .await;
    let mut messages: Vec<PathBuf> = std::fs::read_dir(&a.messages)
        .expect("messages folder")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    messages.sort();
    let (mut n_total, mut p_total) = (0.0, 0.0);
    for m in &messages {
        let name = m.file_name().expect("name").to_string_lossy().to_string();
        let bytes = std::fs::read(m).expect("message");
        let (mut n, mut p) = (Vec::new(), Vec::new());
        for _ in 0..a.eml_rounds {
            for (worker, out) in [(&native, &mut n), (&python, &mut p)] {
                let id = s.run_file(worker, &name, &bytes).await;
                let j = s.wait(&id).await;
                assert_eq!(j["status"], "Success", "{name}: {j}");
                let ms = (j["endDate"].as_f64().expect("end")
                    - j["startDate"].as_f64().expect("start"))
                .max(0.0);
                out.push(ms);
            }
        }
        n.sort_by(f64::total_cmp);
        p.sort_by(f64::total_cmp);
        let (nm, pm) = (pct(&n, 0.5), pct(&p, 0.5));
        n_total += nm;
        p_total += pm;
        println!(
            "{name} ({} KiB): Native_EmlParser p50 {nm:.1} ms, EmlParser 2.1 (Python) p50 {pm:.1} ms: {:.0}× faster",
            bytes.len() / 1024,
            pm / nm.max(0.1)
        );
    }
    println!(
        "e-mail parsing, {} messages × {} rounds, job start → end: Native {n_total:.1} ms, Python {p_total:.1} ms ({:.0}×)",
        messages.len(),
        a.eml_rounds,
        p_total / n_total.max(0.1)
    );
}

#[tokio::main]
async fn main() {
    let a = args();
    let dir = tempfile::tempdir().expect("temp dir");
    println!(
        "# native workers benchmark: {} on {}",
        a.bin,
        if a.pg.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    );
    latency(&a, dir.path()).await;
    throughput(&a, dir.path(), None).await;
    if let Some(url) = a.amqp.clone() {
        throughput(&a, dir.path(), Some(&url)).await;
        submissions(&a, dir.path(), &url).await;
    }
    if a.emlparser.is_some() {
        emlparser(&a, dir.path()).await;
    } else {
        println!("(no --emlparser: the side-by-side e-mail parsing comparison is skipped)");
    }
}
