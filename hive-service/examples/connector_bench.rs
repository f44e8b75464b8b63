//! Connector benchmark (issue 5): analyzer jobs created through hive-service, against
//! cortex-service alone running the same jobs.
//!
//! One cortex-service (a trivial bash analyzer, `jobs.concurrency` slots) and one
//! hive-service wired to it as Cortex server `local`, both on SQLite (or PostgreSQL with
//! `--pg`), over RabbitMQ with `--amqp` (REST without).
//!
//! 1. cortex alone: `--jobs` jobs submitted to `POST /api/analyzer/{id}/run` by `--clients`
//!    concurrent clients, then awaited (`waitreport`): jobs/s from the first submission to the
//!    last end;
//! 2. through hive: as many jobs created with `POST /api/connector/cortex/job` on as many
//!    observables of a case, by as many clients, until all are `Success` in hive (Query API
//!    `listJob` count): jobs/s, and the ratio to (1);
//! 3. latency on the idle pair, 30 jobs one after the other each way: from the client's request
//!    to the job's `startDate` in cortex (the runner claiming it), direct and through hive; the
//!    difference of the medians is what hive adds.
//!
//! ```sh
//! cargo build --release --bins --example connector_bench
//! target/release/examples/connector_bench --amqp amqp://guest:guest@127.0.0.1:5672/%2f
//! ```
//! (`--hive-bin`, `--cortex-bin` default to target/release; `--jobs 1000`, `--clients 16`,
//! `--concurrency 4`; `--worker-ms N` makes the worker wait N ms, so that the slots and not
//! the CPU bound the throughput.)

use serde_json::{json, Value};
use service_kit::test_support::cpu_secs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const ADMIN_KEY: &str = "connector-bench-superadmin-key-0123456789";
const SERVICE_KEY: &str = "connector-bench-service-key-0123456789abc";

struct Args {
    hive_bin: String,
    cortex_bin: String,
    amqp: Option<String>,
    pg: Option<String>,
    jobs: usize,
    clients: usize,
    concurrency: usize,
    worker_ms: u64,
}

fn args() -> Args {
    let mut a = Args {
        hive_bin: "target/release/hive-service".into(),
        cortex_bin: "target/release/cortex-service".into(),
        amqp: None,
        pg: None,
        jobs: 1000,
        clients: 16,
        concurrency: 4,
        worker_ms: 0,
    };
    let v: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i + 1 < v.len() {
        match v[i].as_str() {
            "--hive-bin" => a.hive_bin = v[i + 1].clone(),
            "--cortex-bin" => a.cortex_bin = v[i + 1].clone(),
            "--amqp" => a.amqp = Some(v[i + 1].clone()),
            "--pg" => a.pg = Some(v[i + 1].clone()),
            "--jobs" => a.jobs = v[i + 1].parse().expect("--jobs N"),
            "--clients" => a.clients = v[i + 1].parse().expect("--clients N"),
            "--concurrency" => a.concurrency = v[i + 1].parse().expect("--concurrency N"),
            "--worker-ms" => a.worker_ms = v[i + 1].parse().expect("--worker-ms N"),
            other => panic!("unknown argument {other}"),
        }
        i += 2;
    }
    a
}

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_micros() as f64
        / 1000.0
}

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port()
}

fn db_url(a: &Args, dir: &Path, name: &str) -> String {
    match &a.pg {
        None => format!("sqlite://{}/{name}.db", dir.display()),
        Some(admin) => {
            let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(admin);
            let db = format!("connector_bench_{name}_{}", std::process::id());
            for sql in [
                format!("DROP DATABASE IF EXISTS {db}"),
                format!("CREATE DATABASE {db}"),
            ] {
                let ok = Command::new("psql")
                    .args([admin.as_str(), "-q", "-c", &sql])
                    .status()
                    .expect("psql");
                assert!(ok.success(), "{sql}");
            }
            format!("{base}/{db}")
        }
    }
}

async fn wait_up(http: &reqwest::Client, base: &str) {
    for _ in 0..400 {
        if http
            .get(format!("{base}/api/status"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{base} did not start");
}

async fn call(req: reqwest::RequestBuilder, body: Option<Value>) -> Value {
    let req = match body {
        Some(b) => req.json(&b),
        None => req,
    };
    let r = req.send().await.expect("request");
    let status = r.status();
    let text = r.text().await.expect("body");
    assert!(status.is_success(), "{status}: {text}");
    serde_json::from_str(&text).unwrap_or(Value::String(text))
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

/// Runs `n` async jobs, `clients` at a time.
async fn fan_out<F, Fut>(n: usize, clients: usize, f: F) -> Vec<Value>
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Value> + Send,
{
    use futures_util::StreamExt;
    let mut out: Vec<(usize, Value)> = futures_util::stream::iter(0..n)
        .map(|i| {
            let f = f.clone();
            async move { (i, f(i).await) }
        })
        .buffer_unordered(clients)
        .collect()
        .await;
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, v)| v).collect()
}

#[tokio::main]
async fn main() {
    let a = args();
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("analyzers");
    std::fs::create_dir_all(root.join("Trivial")).expect("mkdir");
    std::fs::write(
        root.join("Trivial/Trivial.json"),
        json!({"name": "Trivial", "version": "1.0", "author": "bench", "url": "http://localhost",
            "license": "AGPL-V3", "description": "benchmark", "dataTypeList": ["domain"],
            "command": "Trivial/trivial.sh", "baseConfig": "Trivial", "configurationItems": []})
        .to_string(),
    )
    .expect("definition");
    let script = root.join("Trivial/trivial.sh");
    let pause = if a.worker_ms > 0 {
        format!("sleep {:.3}\n", a.worker_ms as f64 / 1000.0)
    } else {
        String::new()
    };
    std::fs::write(
        &script,
        format!("#!/bin/bash\n{pause}printf '{{\"success\":true,\"full\":{{\"ok\":true}},\"summary\":{{\"taxonomies\":[]}}}}' > \"$1/output/output.json\"\n"),
    )
    .expect("script");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");

    let tag = std::process::id();
    let (cport, hport) = (port(), port());
    let cbase = format!("http://127.0.0.1:{cport}");
    let hbase = format!("http://127.0.0.1:{hport}");
    let mut cortex = Command::new(&a.cortex_bin);
    cortex
        .env("CORTEX__HTTP__BIND", format!("127.0.0.1:{cport}"))
        .env("CORTEX__DATA_DIR", dir.path().join("cortex"))
        .env("CORTEX__DATABASE__URL", db_url(&a, dir.path(), "cortex"))
        .env("CORTEX__BOOTSTRAP__ADMIN_API_KEY", ADMIN_KEY)
        .env("CORTEX__SERVICE_ACCOUNT__API_KEY", SERVICE_KEY)
        .env("CORTEX__ANALYZERS__PATHS", &root)
        .env("CORTEX__JOBS__CONCURRENCY", a.concurrency.to_string())
        .env("CORTEX__JOBS__QUEUE", format!("bench.jobs.{tag}"))
        .env(
            "CORTEX__JOBS__SUBMISSIONS_QUEUE",
            format!("bench.requests.{tag}"),
        )
        .env("CORTEX__LOG__LEVEL", "warn")
        .stdout(Stdio::null());
    let mut hive = Command::new(&a.hive_bin);
    hive.env("HIVE__HTTP__BIND", format!("127.0.0.1:{hport}"))
        .env("HIVE__DATA_DIR", dir.path().join("hive"))
        .env("HIVE__DATABASE__URL", db_url(&a, dir.path(), "hive"))
        .env("HIVE__BOOTSTRAP__ADMIN_PASSWORD", "secret")
        .env("HIVE__CORTEX__URL", &cbase)
        .env("HIVE__CORTEX__API_KEY", SERVICE_KEY)
        .env(
            "HIVE__CORTEX__SUBMISSIONS_QUEUE",
            format!("bench.requests.{tag}"),
        )
        .env("HIVE__CORTEX__EVENTS_QUEUE", format!("bench.events.{tag}"))
        .env("HIVE__LOG__LEVEL", "warn")
        .stdout(Stdio::null());
    if let Some(url) = &a.amqp {
        cortex.env("CORTEX__AMQP__URL", url);
        hive.env("HIVE__AMQP__URL", url);
    }
    std::fs::create_dir_all(dir.path().join("cortex")).expect("mkdir");
    std::fs::create_dir_all(dir.path().join("hive")).expect("mkdir");
    let cortex = Proc(cortex.spawn().expect("start cortex-service"));
    let cortex_pid = cortex.0.id();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .expect("client");
    wait_up(&http, &cbase).await;
    let hive = Proc(hive.spawn().expect("start hive-service"));
    let hive_pid = hive.0.id();
    wait_up(&http, &hbase).await;

    // Cortex: an orgadmin of `thehive` enables the analyzer (no cache).
    call(
        http.post(format!("{cbase}/api/user"))
            .bearer_auth(ADMIN_KEY),
        Some(
            json!({"login": "bench-admin", "name": "Bench", "organization": "thehive",
            "roles": ["read", "analyze", "orgadmin"]}),
        ),
    )
    .await;
    let org_key = call(
        http.post(format!("{cbase}/api/user/bench-admin/key/renew"))
            .bearer_auth(ADMIN_KEY),
        None,
    )
    .await;
    let org_key = org_key.as_str().expect("key").to_string();
    let worker = call(
        http.post(format!("{cbase}/api/organization/analyzer/Trivial_1_0"))
            .bearer_auth(&org_key),
        Some(json!({"name": "Trivial_1_0", "configuration": {}, "jobCache": 0})),
    )
    .await;
    let wid = worker["id"].as_str().expect("worker id").to_string();

    // hive: organisation `bench`, the admin org-admin there, a case with the observables.
    let admin = |r: reqwest::RequestBuilder| {
        r.basic_auth("admin@thehive.local", Some("secret"))
            .header("X-Organisation", "bench")
    };
    call(
        http.post(format!("{hbase}/api/v1/organisation"))
            .basic_auth("admin@thehive.local", Some("secret")),
        Some(json!({"name": "bench", "description": "benchmark"})),
    )
    .await;
    let me = call(
        http.get(format!("{hbase}/api/v1/user/current"))
            .basic_auth("admin@thehive.local", Some("secret")),
        None,
    )
    .await;
    call(
        http.put(format!(
            "{hbase}/api/v1/user/{}/organisations",
            me["_id"].as_str().expect("id")
        ))
        .basic_auth("admin@thehive.local", Some("secret")),
        Some(json!({"organisations": [
            {"organisation": "bench", "profile": "org-admin", "default": true},
            {"organisation": "admin", "profile": "admin"}]})),
    )
    .await;
    let case = call(
        admin(http.post(format!("{hbase}/api/v1/case"))),
        Some(json!({"title": "benchmark", "description": "connector benchmark"})),
    )
    .await;
    let case_id = case["_id"].as_str().expect("case").to_string();
    let domains: Vec<String> = (0..a.jobs + 60)
        .map(|i| format!("bench-{i}.example"))
        .collect();
    let obs = call(
        admin(http.post(format!("{hbase}/api/v1/case/{case_id}/observable"))),
        Some(json!({"dataType": "domain", "data": domains})),
    )
    .await;
    let obs: Vec<String> = obs
        .as_array()
        .expect("observables")
        .iter()
        .map(|o| o["_id"].as_str().expect("id").to_string())
        .collect();
    // The connector learns the analyzer once (as a user listing analyzers would).
    call(
        admin(http.get(format!("{hbase}/api/connector/cortex/analyzer"))),
        None,
    )
    .await;

    let mode = if a.amqp.is_some() { "RabbitMQ" } else { "REST" };
    let db = if a.pg.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    println!(
        "connector benchmark: {} jobs, {} clients, {} cortex slots, worker {} ms, {mode}, {db}",
        a.jobs, a.clients, a.concurrency, a.worker_ms
    );

    // 1. cortex alone.
    let cpu0 = (cpu_secs(cortex_pid), cpu_secs(hive_pid));
    let started = Instant::now();
    let (h, b, w) = (http.clone(), cbase.clone(), wid.clone());
    let direct = fan_out(a.jobs, a.clients, move |i| {
        let (h, b, w) = (h.clone(), b.clone(), w.clone());
        async move {
            call(
                h.post(format!("{b}/api/analyzer/{w}/run"))
                    .bearer_auth(SERVICE_KEY),
                Some(json!({"dataType": "domain", "data": format!("direct-{i}.example")})),
            )
            .await
        }
    })
    .await;
    let (h, b) = (http.clone(), cbase.clone());
    let ids: Vec<String> = direct
        .iter()
        .map(|j| j["id"].as_str().expect("job id").to_string())
        .collect();
    let ends = fan_out(ids.len(), 64, move |i| {
        let (h, b, id) = (h.clone(), b.clone(), ids[i].clone());
        async move {
            call(
                h.get(format!("{b}/api/job/{id}/waitreport?atMost=10minutes"))
                    .bearer_auth(SERVICE_KEY),
                None,
            )
            .await
        }
    })
    .await;
    let cortex_secs = started.elapsed().as_secs_f64();
    assert!(
        ends.iter().all(|j| j["status"] == "Success"),
        "direct jobs failed"
    );
    let cortex_rate = a.jobs as f64 / cortex_secs;
    let cpu1 = (cpu_secs(cortex_pid), cpu_secs(hive_pid));
    println!(
        "1. cortex alone:   {cortex_secs:7.2} s   {cortex_rate:7.1} jobs/s   CPU: cortex {:.2} s",
        cpu1.0 - cpu0.0
    );

    // 2. through hive, until every job is Success in hive.
    let started = Instant::now();
    let (h, b, w, o) = (http.clone(), hbase.clone(), wid.clone(), obs.clone());
    let created = fan_out(a.jobs, a.clients, move |i| {
        let (h, b, w, o) = (h.clone(), b.clone(), w.clone(), o[i].clone());
        async move {
            call(
                h.post(format!("{b}/api/connector/cortex/job"))
                    .basic_auth("admin@thehive.local", Some("secret"))
                    .header("X-Organisation", "bench"),
                Some(json!({"analyzerId": w, "cortexId": "local", "artifactId": o})),
            )
            .await
        }
    })
    .await;
    let submitted_secs = started.elapsed().as_secs_f64();
    assert!(created.iter().all(|j| j["_type"] == "case_artifact_job"));
    let count_query = json!({"query": [
        {"_name": "listJob"},
        {"_name": "filter", "_eq": {"_field": "status", "_value": "Success"}},
        {"_name": "count"}]});
    loop {
        let n = call(
            admin(http.post(format!("{hbase}/api/v1/query"))),
            Some(count_query.clone()),
        )
        .await;
        if n.as_u64().unwrap_or(0) >= a.jobs as u64 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "jobs not done in hive after 10 minutes ({n} Success)"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let hive_secs = started.elapsed().as_secs_f64();
    let hive_rate = a.jobs as f64 / hive_secs;
    let cpu2 = (cpu_secs(cortex_pid), cpu_secs(hive_pid));
    println!(
        "2. through hive:   {hive_secs:7.2} s   {hive_rate:7.1} jobs/s   (all created in {submitted_secs:.2} s)   hive/cortex throughput {:.3}   CPU: cortex {:.2} s, hive {:.2} s",
        hive_rate / cortex_rate,
        cpu2.0 - cpu1.0,
        cpu2.1 - cpu1.1
    );

    // 3. latency, idle, one job at a time.
    let mut direct_ms = Vec::new();
    let mut hive_ms = Vec::new();
    for i in 0..30 {
        let t0 = now_ms();
        let j = call(
            http.post(format!("{cbase}/api/analyzer/{wid}/run"))
                .bearer_auth(SERVICE_KEY),
            Some(json!({"dataType": "domain", "data": format!("idle-{i}.example")})),
        )
        .await;
        let id = j["id"].as_str().expect("id").to_string();
        let done = call(
            http.get(format!("{cbase}/api/job/{id}/waitreport?atMost=1minute"))
                .bearer_auth(SERVICE_KEY),
            None,
        )
        .await;
        direct_ms.push(done["startDate"].as_f64().expect("startDate") - t0);

        let t0 = now_ms();
        let j = call(
            admin(http.post(format!("{hbase}/api/connector/cortex/job"))),
            Some(json!({"analyzerId": wid, "cortexId": "local", "artifactId": obs[a.jobs + i]})),
        )
        .await;
        let id = j["_id"].as_str().expect("id").to_string();
        let job = loop {
            let job = call(
                admin(http.get(format!("{hbase}/api/connector/cortex/job/{id}"))),
                None,
            )
            .await;
            if job["status"] == "Success" {
                break job;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        let cjob = call(
            http.get(format!(
                "{cbase}/api/job/{}",
                job["cortexJobId"].as_str().expect("cortexJobId")
            ))
            .bearer_auth(SERVICE_KEY),
            None,
        )
        .await;
        hive_ms.push(cjob["startDate"].as_f64().expect("startDate") - t0);
    }
    let (d50, d95) = (pct(&mut direct_ms, 0.5), pct(&mut direct_ms, 0.95));
    let (h50, h95) = (pct(&mut hive_ms, 0.5), pct(&mut hive_ms, 0.95));
    println!(
        "3. request -> job started in cortex (ms, 30 idle jobs; startDate has ms resolution):"
    );
    println!("   direct to cortex   p50 {d50:6.1}   p95 {d95:6.1}");
    println!("   through hive       p50 {h50:6.1}   p95 {h95:6.1}");
    println!("   added by hive      p50 {:6.1}", h50 - d50);
}
