//! Notification benchmark (issue 15), on PostgreSQL, release build:
//!
//! 1. off: `POST /api/v1/alert` (4 observables each) over `--conns` keep-alive connections for
//!    `--secs`, against hive-service on a fresh database with no notification configured;
//! 2. on: the same against a fresh hive-service whose organisation sends every event
//!    (`AnyEvent`) to one webhook endpoint: a receiver in this process (actix-web) that answers
//!    200 at once. Ingestion throughput beside phase 1's, then the deliveries: how many the
//!    receiver got per second from the first to the last (every alert is 5 events: the alert
//!    and its 4 observables);
//! 3. latency: on that service, alerts paced at `--rate` per second for `--secs` (so
//!    `5 x rate` deliveries per second), and for each the time from its `201` to the receiver
//!    getting its `alert create` event: p50, p99, max.
//!
//! ```sh
//! cargo build --release --bin hive-service --example notify_bench
//! target/release/examples/notify_bench --bin target/release/hive-service \
//!     --pg postgres://postgres@127.0.0.1:5432/postgres --conns 8 --secs 10 --rate 400
//! ```

use actix_web::{web, App, HttpResponse, HttpServer};
use diesel::prelude::*;
use diesel::sql_query;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const KEY: &str = "notify-bench-admin-key-0123456789abcdefghi";

struct Args {
    bin: String,
    pg: String,
    conns: usize,
    secs: u64,
    rate: u64,
    only_latency: bool,
}

fn args() -> Args {
    let mut a = Args {
        bin: "target/release/hive-service".into(),
        pg: "postgres://postgres@127.0.0.1:5432/postgres".into(),
        conns: 8,
        secs: 10,
        rate: 400,
        only_latency: false,
    };
    let v: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i + 1 < v.len() {
        match v[i].as_str() {
            "--bin" => a.bin = v[i + 1].clone(),
            "--pg" => a.pg = v[i + 1].clone(),
            "--conns" => a.conns = v[i + 1].parse().expect("--conns N"),
            "--secs" => a.secs = v[i + 1].parse().expect("--secs N"),
            "--rate" => a.rate = v[i + 1].parse().expect("--rate N"),
            "--only-latency" => a.only_latency = v[i + 1] == "1",
            other => panic!("unknown argument {other}"),
        }
        i += 2;
    }
    a
}

fn fresh_database(admin_url: &str, name: &str) -> String {
    let mut c = diesel::PgConnection::establish(admin_url).expect("connect to PostgreSQL");
    sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut c)
        .expect("drop");
    sql_query(format!("CREATE DATABASE {name}"))
        .execute(&mut c)
        .expect("create");
    let base = admin_url
        .rsplit_once('/')
        .map(|(b, _)| b)
        .unwrap_or(admin_url);
    format!("{base}/{name}")
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn alert_body(n: u64) -> Value {
    json!({
        "type": "email report",
        "source": "bench",
        "sourceRef": format!("mail-{n}"),
        "title": "Suspicious e-mail reported by a user",
        "description": "The user received an invoice from an unknown sender.",
        "severity": 2,
        "tags": ["phishing", "bench"],
        "observables": [
            {"dataType": "mail", "data": format!("sender{n}@evil.example")},
            {"dataType": "mail-subject", "data": "Overdue payment"},
            {"dataType": "ip", "data": format!("203.0.113.{}", n % 250)},
            {"dataType": "domain", "data": format!("evil{}.example", n % 1000)}
        ]
    })
}

/// What the receiver got: (when, objectType, operation, objectId).
type Got = Arc<Mutex<Vec<(Instant, String, String, String)>>>;

async fn receiver() -> (u16, Got) {
    let got: Got = Arc::new(Mutex::new(Vec::new()));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let g = got.clone();
    let server = HttpServer::new(move || {
        let g = g.clone();
        App::new()
            .app_data(web::PayloadConfig::new(16 * 1024 * 1024))
            .default_service(web::to(move |body: web::Bytes| {
                let g = g.clone();
                async move {
                    let at = Instant::now();
                    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                    if let Ok(mut g) = g.lock() {
                        g.push((at, s("objectType"), s("operation"), s("objectId")));
                    }
                    HttpResponse::Ok().finish()
                }
            }))
    })
    .workers(2)
    .listen(listener)
    .expect("listen")
    .run();
    tokio::spawn(server);
    (port, got)
}

struct Hive {
    child: std::process::Child,
    base: String,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Drop for Hive {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start(a: &Args, db: &str, webhook: Option<u16>) -> Hive {
    let url = fresh_database(&a.pg, db);
    let dir = tempfile::tempdir().expect("tempdir");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
        l.local_addr().expect("addr").port()
    };
    let mut cmd = std::process::Command::new(&a.bin);
    cmd.env("HIVE__HTTP__BIND", format!("127.0.0.1:{port}"))
        .env("HIVE__DATA_DIR", dir.path())
        .env("HIVE__DATABASE__URL", &url)
        .env("HIVE__DATABASE__POOL_SIZE", "16")
        .env("HIVE__BOOTSTRAP__ADMIN_PASSWORD", "secret")
        .env("HIVE__BOOTSTRAP__ADMIN_API_KEY", KEY)
        .env("HIVE__LOG__LEVEL", "warn")
        .stdout(std::process::Stdio::null());
    if let Some(p) = webhook {
        cmd.env(
            "HIVE__NOTIFICATION__WEBHOOKS__BENCH__URL",
            format!("http://127.0.0.1:{p}/hook"),
        );
    }
    let child = cmd.spawn().expect("start hive-service");
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .expect("client");
    for _ in 0..400 {
        if http.get(format!("{base}/api/status")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let post = |path: &str, body: Value| {
        http.post(format!("{base}{path}"))
            .bearer_auth(KEY)
            .json(&body)
    };
    post(
        "/api/v1/organisation",
        json!({"name": "soc", "description": "bench"}),
    )
    .send()
    .await
    .expect("org");
    let me: Value = http
        .get(format!("{base}/api/v1/user/current"))
        .bearer_auth(KEY)
        .send()
        .await
        .expect("me")
        .json()
        .await
        .expect("me json");
    let id = me["_id"].as_str().expect("id").to_string();
    let r = http
        .put(format!("{base}/api/v1/user/{id}/organisations"))
        .bearer_auth(KEY)
        .json(&json!({"organisations": [
            {"organisation": "soc", "profile": "org-admin", "default": true},
            {"organisation": "admin", "profile": "admin"}]}))
        .send()
        .await
        .expect("memberships");
    assert!(r.status().is_success());
    if webhook.is_some() {
        let r = http
            .put(format!("{base}/api/config/organisation/notification"))
            .bearer_auth(KEY)
            .header("X-Organisation", "soc")
            .json(
                &json!({"value": [{"delegate": false, "trigger": {"name": "AnyEvent"},
                                     "notifier": {"name": "webhook", "endpoint": "bench"}}]}),
            )
            .send()
            .await
            .expect("notification");
        assert!(
            r.status().is_success(),
            "{}",
            r.text().await.unwrap_or_default()
        );
    }
    Hive {
        child,
        base,
        http,
        _dir: dir,
    }
}

/// CPU seconds (user + system) the process has used.
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

async fn post_alert(h: &Hive, n: u64) -> String {
    let r = h
        .http
        .post(format!("{}/api/v1/alert", h.base))
        .bearer_auth(KEY)
        .header("X-Organisation", "soc")
        .json(&alert_body(n))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 201);
    let v: Value = r.json().await.expect("json");
    v["_id"].as_str().unwrap_or_default().to_string()
}

/// Alerts/s over `conns` connections for `secs`.
async fn load(h: &Arc<Hive>, conns: usize, secs: u64, from: u64) -> (u64, f64) {
    let stop = Arc::new(AtomicBool::new(false));
    let counter = Arc::new(AtomicU64::new(from));
    let start = Instant::now();
    let tasks: Vec<_> = (0..conns)
        .map(|_| {
            let (h, stop, counter) = (h.clone(), stop.clone(), counter.clone());
            tokio::spawn(async move {
                let mut done = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    post_alert(&h, counter.fetch_add(1, Ordering::Relaxed)).await;
                    done += 1;
                }
                done
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let mut total = 0;
    for t in tasks {
        total += t.await.expect("task");
    }
    (total, total as f64 / start.elapsed().as_secs_f64())
}

#[tokio::main]
async fn main() {
    let a = args();
    println!(
        "# notification benchmark: {} connections, {} s per phase, latency at {} alerts/s",
        a.conns, a.secs, a.rate
    );
    // 1. No notification.
    let (port, got) = receiver().await;
    if a.only_latency {
        let on = Arc::new(start(&a, "notify_bench_on", Some(port)).await);
        latency(&a, &on, &got).await;
        return;
    }
    let off = Arc::new(start(&a, "notify_bench_off", None).await);
    for n in 0..50 {
        post_alert(&off, 1_000_000_000 + n).await;
    }
    let cpu0 = cpu_secs(off.child.id());
    let (made_off, rate_off) = load(&off, a.conns, a.secs, 0).await;
    // The queue drains (nobody listens): its work belongs to the alerts too.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let cpu_off = (cpu_secs(off.child.id()) - cpu0) / made_off as f64 * 1e6;
    drop(off);
    println!(
        "ingestion, no notification: {rate_off:.0} alerts/s, hive-service CPU {cpu_off:.0} us per alert"
    );

    // 2. One webhook on every event.
    let on = Arc::new(start(&a, "notify_bench_on", Some(port)).await);
    for n in 0..50 {
        post_alert(&on, 1_000_000_000 + n).await;
    }
    let cpu0 = cpu_secs(on.child.id());
    let (made, rate_on) = load(&on, a.conns, a.secs, 0).await;
    println!(
        "ingestion, one webhook on every event: {rate_on:.0} alerts/s ({:+.1} %)",
        (rate_on / rate_off - 1.0) * 100.0
    );
    let expected = (made + 50) as usize * 5;
    let deadline = Instant::now() + Duration::from_secs(300);
    while got.lock().map(|g| g.len()).unwrap_or(0) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (count, first, last) = {
        let g = got.lock().expect("lock");
        (g.len(), g.first().map(|x| x.0), g.last().map(|x| x.0))
    };
    if let (Some(f), Some(l)) = (first, last) {
        let secs = (l - f).as_secs_f64().max(0.001);
        println!(
            "deliveries: {count} of {expected} received, {:.0} deliveries/s from the first to the last",
            count as f64 / secs
        );
    }
    let cpu_on = (cpu_secs(on.child.id()) - cpu0) / made as f64 * 1e6;
    println!(
        "hive-service CPU per alert, its 5 deliveries included: {cpu_on:.0} us ({:+.0} us for the notifications)",
        cpu_on - cpu_off
    );
    drop(on);
    // 3. On a fresh service and database (phase 2 left ~{expected} deliveries behind and a
    // database busy writing them out).
    tokio::time::sleep(Duration::from_secs(5)).await;
    let on = Arc::new(start(&a, "notify_bench_latency", Some(port)).await);

    latency(&a, &on, &got).await;
}

/// 3. Latency at a fixed rate.
async fn latency(a: &Args, on: &Arc<Hive>, got: &Got) {
    got.lock().expect("lock").clear();
    let period = Duration::from_secs_f64(1.0 / a.rate as f64);
    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::new(Mutex::new(HashMap::new()));
    let start_at = Instant::now();
    let mut handles = Vec::new();
    let mut n = 2_000_000_000u64;
    let mut next = Instant::now();
    while start_at.elapsed() < Duration::from_secs(a.secs) {
        let (h, sent) = (on.clone(), sent.clone());
        n += 1;
        let k = n;
        handles.push(tokio::spawn(async move {
            let id = post_alert(&h, k).await;
            sent.lock().expect("lock").insert(id, Instant::now());
        }));
        next += period;
        tokio::time::sleep_until(next.into()).await;
    }
    for h in handles {
        h.await.expect("post");
    }
    let want = sent.lock().expect("lock").len();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let creates = got
            .lock()
            .map(|g| {
                g.iter()
                    .filter(|x| x.1 == "alert" && x.2 == "create")
                    .count()
            })
            .unwrap_or(0);
        if creates >= want || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let sent = sent.lock().expect("lock").clone();
    let mut lat: Vec<Duration> = got
        .lock()
        .expect("lock")
        .iter()
        .filter(|x| x.1 == "alert" && x.2 == "create")
        .filter_map(|(at, _, _, id)| sent.get(id).map(|s| at.saturating_duration_since(*s)))
        .collect();
    lat.sort();
    println!(
        "commit -> receiver at {} alerts/s ({} deliveries/s): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} alerts)",
        a.rate,
        a.rate * 5,
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        percentile(&lat, 1.0),
        lat.len()
    );
    if let Ok(s) = std::fs::read_to_string(format!("/proc/{}/status", on.child.id())) {
        if let Some(l) = s.lines().find(|l| l.starts_with("VmRSS")) {
            println!("hive-service {l}");
        }
    }
}
