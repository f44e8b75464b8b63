//! Alert benchmark (issue 3), on PostgreSQL:
//!
//! 1. raw: the same rows `POST /api/v1/alert` writes (an alert and its 4 observables, one
//!    transaction each) inserted straight into a scratch database with hive's schema by
//!    `--conns` clients (plain diesel PostgreSQL connections, prepared statements, the 4
//!    observables in one multi-row INSERT);
//! 2. http: `POST /api/v1/alert` with 4 observables and a new sourceRef each time, over
//!    `--conns` keep-alive connections, against a hive-service binary started on its own
//!    fresh database; throughput and latency percentiles;
//! 3. v0: `POST /api/alert` as a thehive4py 1.x feeder sends it: 4 artifacts, one of them a
//!    4 KiB .eml inline as `filename;contentType;base64` (a different file each time);
//! 4. query: 1,000,000 alerts seeded in that database, then a sorted, filtered page of 15
//!    through `POST /api/v1/query`, and the same page through the v0 search
//!    `POST /api/alert/_search`.
//!
//! ```sh
//! cargo build --release --bin hive-service --example alert_bench
//! target/release/examples/alert_bench --bin target/release/hive-service \
//!     --pg postgres://postgres@127.0.0.1:5432/postgres --conns 8 --secs 10 --rows 1000000
//! ```

use diesel::prelude::*;
use diesel::sql_query;
use hive_service::db::casework::{AlertRow, ObservableRow};
use hive_service::db::schema::{alerts, observables};
use hive_service::db::{next_id, now_ms, Db};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const KEY: &str = "alert-bench-admin-key-0123456789abcdefghij";

struct Args {
    bin: String,
    pg: String,
    conns: usize,
    secs: u64,
    rows: u64,
}

fn args() -> Args {
    let mut a = Args {
        bin: "target/release/hive-service".into(),
        pg: "postgres://postgres@127.0.0.1:5432/postgres".into(),
        conns: 8,
        secs: 10,
        rows: 1_000_000,
    };
    let v: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i + 1 < v.len() {
        match v[i].as_str() {
            "--bin" => a.bin = v[i + 1].clone(),
            "--pg" => a.pg = v[i + 1].clone(),
            "--conns" => a.conns = v[i + 1].parse().expect("--conns N"),
            "--secs" => a.secs = v[i + 1].parse().expect("--secs N"),
            "--rows" => a.rows = v[i + 1].parse().expect("--rows N"),
            other => panic!("unknown argument {other}"),
        }
        i += 2;
    }
    a
}

fn fresh_database(admin_url: &str, name: &str) -> String {
    let mut c = diesel::PgConnection::establish(admin_url).expect("connect to PostgreSQL");
    sql_query(format!("DROP DATABASE IF EXISTS {name}"))
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
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn observable(alert: i64, org: i64, i: usize, n: u64) -> ObservableRow {
    let data = format!("198.51.{}.{}", n % 250, i);
    ObservableRow {
        id: next_id(),
        organisation_id: org,
        case_id: None,
        alert_id: Some(alert),
        data_type: "ip".into(),
        data_hash: format!("{:x}", n * 4 + i as u64),
        data: Some(data),
        attachment_id: None,
        tlp: 2,
        pap: 2,
        tags: "[]".into(),
        ioc: false,
        sighted: false,
        sighted_at: None,
        ignore_similarity: false,
        message: None,
        reports: "{}".into(),
        created_by: "bench".into(),
        created_at: now_ms(),
        updated_by: None,
        updated_at: None,
    }
}

fn raw(url: &str, conns: usize, secs: u64) -> f64 {
    // hive's tables, created by its migrations; then plain diesel PostgreSQL connections
    // (prepared statements cached), the observables in one multi-row INSERT.
    let db = Db::connect(url, 1, Duration::from_secs(10)).expect("scratch db");
    db.migrate_then(hive_service::db::MIGRATIONS, |_| Ok(()))
        .expect("migrations");
    let url = url.to_string();
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let handles: Vec<_> = (0..conns)
        .map(|t| {
            let url = url.clone();
            let stop = stop.clone();
            let done = done.clone();
            std::thread::spawn(move || {
                let mut conn = diesel::PgConnection::establish(&url).expect("connection");
                let c = &mut conn;
                let mut n = t as u64 * 1_000_000_000;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let id = next_id();
                    c.transaction::<_, diesel::result::Error, _>(|c| {
                        diesel::insert_into(alerts::table)
                            .values(AlertRow {
                                id,
                                organisation_id: 1,
                                alert_type: "bench".into(),
                                source: "raw".into(),
                                source_ref: format!("ref-{n}"),
                                external_link: None,
                                title: "Suspicious mail".into(),
                                description: "A user reported a suspicious e-mail".into(),
                                severity: 2,
                                date: now_ms(),
                                tags: "[\"bench\"]".into(),
                                flag: false,
                                tlp: 2,
                                pap: 2,
                                follow: true,
                                status: "New".into(),
                                stage: "New".into(),
                                summary: None,
                                assignee: None,
                                case_template: None,
                                case_id: None,
                                is_read: false,
                                last_sync_date: None,
                                in_progress_date: None,
                                closed_date: None,
                                imported_date: None,
                                created_by: "bench".into(),
                                created_at: now_ms(),
                                updated_by: None,
                                updated_at: None,
                            })
                            .execute(c)?;
                        let rows: Vec<ObservableRow> =
                            (0..4).map(|i| observable(id, 1, i, n)).collect();
                        diesel::insert_into(observables::table)
                            .values(&rows)
                            .execute(c)?;
                        Ok(())
                    })
                    .expect("insert");
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(secs));
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().expect("thread");
    }
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

/// A v0 alert as thehive4py 1.x's `create_alert` sends it, with an inline 4 KiB .eml.
fn v0_alert_body(n: u64) -> Value {
    use base64::Engine;
    let mut eml = format!("From: billing{n}@evil.example\r\nSubject: Overdue payment {n}\r\n\r\n")
        .into_bytes();
    eml.resize(4096, b'x');
    let data = format!(
        "/tmp/feeder/report-{n}.eml;message/rfc822;{}",
        base64::engine::general_purpose::STANDARD.encode(&eml)
    );
    json!({
        "type": "email report",
        "source": "bench-v0",
        "sourceRef": format!("v0-mail-{n}"),
        "title": "Suspicious e-mail reported by a user",
        "description": "The user received an invoice from an unknown sender.",
        "severity": 2, "tlp": 2, "tags": ["phishing", "bench"], "caseTemplate": null,
        "date": now_ms(), "customFields": {},
        "artifacts": [
            {"dataType": "mail", "data": format!("sender{n}@evil.example"), "message": null, "tlp": 2, "tags": [], "ioc": false, "sighted": false},
            {"dataType": "mail-subject", "data": format!("Overdue payment {n}"), "message": null, "tlp": 2, "tags": [], "ioc": false, "sighted": false},
            {"dataType": "file", "data": data, "message": null, "tlp": 2, "tags": [], "ioc": false, "sighted": false},
            {"dataType": "ip", "data": format!("203.0.113.{}", n % 250), "message": null, "tlp": 2, "tags": [], "ioc": false, "sighted": false}
        ]
    })
}

/// Posts `body(n)` to `path` from `conns` connections for `secs` seconds; the latencies.
async fn load(
    http: &reqwest::Client,
    base: &str,
    path: &'static str,
    conns: usize,
    secs: u64,
    body: fn(u64) -> Value,
) -> (Vec<Duration>, f64) {
    let stop = Arc::new(AtomicBool::new(false));
    let counter = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = (0..conns)
        .map(|_| {
            let (http, base, stop, counter) = (
                http.clone(),
                base.to_string(),
                stop.clone(),
                counter.clone(),
            );
            tokio::spawn(async move {
                let mut lat = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let n = counter.fetch_add(1, Ordering::Relaxed);
                    let t = Instant::now();
                    let r = http
                        .post(format!("{base}{path}"))
                        .bearer_auth(KEY)
                        .header("X-Organisation", "soc")
                        .json(&body(n))
                        .send()
                        .await
                        .expect("post");
                    let status = r.status().as_u16();
                    let text = r.text().await.unwrap_or_default();
                    assert_eq!(status, 201, "{text}");
                    lat.push(t.elapsed());
                }
                lat
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.expect("task"));
    }
    let elapsed = start.elapsed().as_secs_f64();
    lat.sort();
    let rate = lat.len() as f64 / elapsed;
    (lat, rate)
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

#[tokio::main]
async fn main() {
    let a = args();
    println!(
        "# alert benchmark: {} connections, {} s per phase",
        a.conns, a.secs
    );

    let raw_url = fresh_database(&a.pg, "alert_bench_raw");
    let raw_rate = tokio::task::spawn_blocking({
        let (u, n, s) = (raw_url.clone(), a.conns, a.secs);
        move || raw(&u, n, s)
    })
    .await
    .expect("raw");
    println!(
        "raw PostgreSQL: {raw_rate:.0} alerts/s (alert + 4 observables, one transaction each)"
    );

    let hive_url = fresh_database(&a.pg, "alert_bench_hive");
    let dir = tempfile::tempdir().expect("tempdir");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
        l.local_addr().expect("addr").port()
    };
    let mut child = std::process::Command::new(&a.bin)
        .env("HIVE__HTTP__BIND", format!("127.0.0.1:{port}"))
        .env("HIVE__DATA_DIR", dir.path())
        .env("HIVE__DATABASE__URL", &hive_url)
        .env("HIVE__DATABASE__POOL_SIZE", "16")
        .env("HIVE__BOOTSTRAP__ADMIN_PASSWORD", "secret")
        .env("HIVE__BOOTSTRAP__ADMIN_API_KEY", KEY)
        .env("HIVE__LOG__LEVEL", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start hive-service");
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(a.conns * 2)
        .build()
        .expect("client");
    for _ in 0..200 {
        if http.get(format!("{base}/api/status")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let org: Value = http
        .post(format!("{base}/api/v1/organisation"))
        .bearer_auth(KEY)
        .json(&json!({"name": "soc", "description": "bench"}))
        .send()
        .await
        .expect("org")
        .json()
        .await
        .expect("org json");
    let me: Value = http
        .get(format!("{base}/api/v1/user/current"))
        .bearer_auth(KEY)
        .send()
        .await
        .expect("me")
        .json()
        .await
        .expect("me json");
    let me_id = me["_id"].as_str().expect("user id").to_string();
    let set = http
        .put(format!("{base}/api/v1/user/{me_id}/organisations"))
        .bearer_auth(KEY)
        .json(&json!({"organisations": [
            {"organisation": "soc", "profile": "org-admin", "default": true},
            {"organisation": "admin", "profile": "admin"}]}))
        .send()
        .await
        .expect("memberships");
    assert!(set.status().is_success(), "memberships: {}", set.status());

    // Warm-up, then the measured run.
    for n in 0..50u64 {
        let r = http
            .post(format!("{base}/api/v1/alert"))
            .bearer_auth(KEY)
            .header("X-Organisation", "soc")
            .json(&alert_body(10_000_000_000 + n))
            .send()
            .await
            .expect("warm-up");
        assert_eq!(
            r.status().as_u16(),
            201,
            "{}",
            r.text().await.unwrap_or_default()
        );
    }
    let (lat, rate) = load(&http, &base, "/api/v1/alert", a.conns, a.secs, alert_body).await;
    println!(
        "http POST /api/v1/alert: {rate:.0} alerts/s, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} requests)",
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        percentile(&lat, 1.0),
        lat.len()
    );
    println!("ratio http/raw: {:.2}", rate / raw_rate);
    let (v0_lat, v0_rate) = load(&http, &base, "/api/alert", a.conns, a.secs, v0_alert_body).await;
    println!(
        "http POST /api/alert (v0, 4 artifacts, one a 4 KiB file inline): {v0_rate:.0} alerts/s, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} requests)",
        percentile(&v0_lat, 0.5),
        percentile(&v0_lat, 0.99),
        percentile(&v0_lat, 1.0),
        v0_lat.len()
    );
    if let Ok(s) = std::fs::read_to_string(format!("/proc/{}/status", child.id())) {
        if let Some(l) = s.lines().find(|l| l.starts_with("VmRSS")) {
            println!("hive-service {l}");
        }
    }

    // Query phase: seed alerts straight into hive's database.
    let org_id: i64 = org["_id"]
        .as_str()
        .and_then(|s| s.strip_prefix('~'))
        .and_then(|s| s.parse().ok())
        .expect("org id");
    let seeded = Instant::now();
    let rows = a.rows;
    tokio::task::spawn_blocking({
        let url = hive_url.clone();
        move || {
            let mut c = diesel::PgConnection::establish(&url).expect("seed connection");
            let now = now_ms();
            sql_query(format!(
                "INSERT INTO alerts (id, organisation_id, alert_type, source, source_ref, title, description, \
                 severity, date, tags, flag, tlp, pap, follow, status, stage, is_read, created_by, created_at) \
                 SELECT g, {org_id}, 'seed', 'siem', 'seed-' || g, 'Alert ' || g, 'seeded', \
                 1 + g % 4, {now} - g * 1000, CASE WHEN g % 3 = 0 THEN '[\"phishing\"]' ELSE '[\"malware\"]' END, \
                 false, 2, 2, true, CASE WHEN g % 5 = 0 THEN 'Ignored' ELSE 'New' END, \
                 CASE WHEN g % 5 = 0 THEN 'Closed' ELSE 'New' END, false, 'seed', {now} - g * 1000 \
                 FROM generate_series(1, {rows}) g"
            ))
            .execute(&mut c)
            .expect("seed");
            sql_query("ANALYZE").execute(&mut c).expect("analyze");
        }
    })
    .await
    .expect("seed task");
    println!(
        "seeded {rows} alerts in {:.1} s",
        seeded.elapsed().as_secs_f64()
    );
    let query = json!({"query": [
        {"_name": "listAlert"},
        {"_name": "filter", "_and": [
            {"_eq": {"_field": "status", "_value": "New"}},
            {"_gte": {"_field": "severity", "_value": 3}},
            {"_eq": {"_field": "tags", "_value": "phishing"}}
        ]},
        {"_name": "sort", "_fields": [{"_createdAt": "desc"}]},
        {"_name": "page", "from": 0, "to": 15, "extraData": []}
    ]});
    let mut qlat = Vec::new();
    for i in 0..60 {
        let t = Instant::now();
        let r = http
            .post(format!("{base}/api/v1/query?name=alerts"))
            .bearer_auth(KEY)
            .header("X-Organisation", "soc")
            .json(&query)
            .send()
            .await
            .expect("query");
        let status = r.status().as_u16();
        let body: Value = r.json().await.expect("json");
        assert_eq!(status, 200, "{body}");
        assert_eq!(body.as_array().map(Vec::len), Some(15));
        if i >= 10 {
            qlat.push(t.elapsed());
        }
    }
    qlat.sort();
    println!(
        "query: page of 15 among {} alerts (status New, severity >= 3, tag phishing, newest first): p50 {:.1} ms, p99 {:.1} ms",
        rows + lat.len() as u64,
        percentile(&qlat, 0.5),
        percentile(&qlat, 0.99)
    );
    let mut v0lat = Vec::new();
    for i in 0..60 {
        let t = Instant::now();
        let r = http
            .post(format!(
                "{base}/api/alert/_search?range=0-15&sort=-createdAt"
            ))
            .bearer_auth(KEY)
            .header("X-Organisation", "soc")
            .json(&json!({"query": {"_and": [
                {"status": "New"}, {"_gte": {"severity": 3}}, {"tags": "phishing"}
            ]}}))
            .send()
            .await
            .expect("v0 search");
        let status = r.status().as_u16();
        let total = r
            .headers()
            .get("X-Total")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body: Value = r.json().await.expect("json");
        assert_eq!(status, 200, "{body}");
        assert_eq!(body.as_array().map(Vec::len), Some(15));
        assert!(total.is_some(), "X-Total");
        if i >= 10 {
            v0lat.push(t.elapsed());
        }
    }
    v0lat.sort();
    println!(
        "v0 search: a page of 15 (v0 status New, severity >= 3, tag phishing, newest first, X-Total) through POST /api/alert/_search: p50 {:.1} ms, p99 {:.1} ms",
        percentile(&v0lat, 0.5),
        percentile(&v0lat, 0.99)
    );
    if let Ok(s) = std::fs::read_to_string(format!("/proc/{}/status", child.id())) {
        if let Some(l) = s.lines().find(|l| l.starts_with("VmRSS")) {
            println!("hive-service after the queries {l}");
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}
