//! Job benchmark (issue 4): what the service adds to running analyzers.
//!
//! 1. shell: 200 job folders of a trivial cortexutils analyzer (`input/input.json` as the
//!    service writes it) run straight from a shell, 4 at a time (`xargs -P4`);
//! 2. service: the same 200 jobs submitted through `POST /api/analyzer/{id}/run` to a
//!    cortex-service binary with `jobs.concurrency = 4`, then awaited with `waitreport`;
//!    wall time from the first submission to the last job's end, and the ratio to (1);
//! 3. latency: on the idle service, 30 jobs one after the other of a worker that notes the
//!    time its first instruction runs (bash `$EPOCHREALTIME`): from the client sending the
//!    request to the job's `startDate` (the runner claiming it) and to the worker running.
//!
//! Each service run is done without a broker and, with `--amqp`, through RabbitMQ.
//!
//! ```sh
//! cargo build --release --bin cortex-service --example job_bench
//! target/release/examples/job_bench --bin target/release/cortex-service \
//!     --python .venv-th2/bin/python3 --amqp amqp://guest:guest@127.0.0.1:5672/%2f
//! ```
//! (`--pg postgres://postgres@127.0.0.1:5432/postgres` runs on a fresh PostgreSQL database
//! instead of SQLite; `--jobs` and `--concurrency` change the batch.)

use serde_json::{json, Value};
use service_kit::test_support::cpu_secs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const KEY: &str = "job-bench-superadmin-key-0123456789abcdef";

struct Args {
    bin: String,
    python: String,
    amqp: Option<String>,
    pg: Option<String>,
    jobs: usize,
    concurrency: usize,
    rounds: usize,
}

fn args() -> Args {
    let mut a = Args {
        bin: "target/release/cortex-service".into(),
        python: "python3".into(),
        amqp: None,
        pg: None,
        jobs: 200,
        concurrency: 4,
        rounds: 3,
    };
    let v: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i + 1 < v.len() {
        match v[i].as_str() {
            "--bin" => a.bin = v[i + 1].clone(),
            "--python" => a.python = v[i + 1].clone(),
            "--amqp" => a.amqp = Some(v[i + 1].clone()),
            "--pg" => a.pg = Some(v[i + 1].clone()),
            "--jobs" => a.jobs = v[i + 1].parse().expect("--jobs N"),
            "--concurrency" => a.concurrency = v[i + 1].parse().expect("--concurrency N"),
            "--rounds" => a.rounds = v[i + 1].parse().expect("--rounds N"),
            other => panic!("unknown argument {other}"),
        }
        i += 2;
    }
    a
}

fn write_exec(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// The analyzers: a trivial cortexutils one, and a bash one noting when it starts.
fn workers(root: &Path) {
    for (name, command, types) in [
        ("Trivial", "Trivial/trivial.py", json!(["domain"])),
        ("Stamp", "Stamp/stamp.sh", json!(["domain"])),
    ] {
        let def = json!({"name": name, "version": "1.0", "author": "bench", "url": "http://localhost",
            "license": "AGPL-V3", "description": "benchmark", "dataTypeList": types,
            "command": command, "baseConfig": name, "configurationItems": []});
        std::fs::create_dir_all(root.join(name)).expect("mkdir");
        std::fs::write(
            root.join(name).join(format!("{name}.json")),
            def.to_string(),
        )
        .expect("def");
    }
    write_exec(
        &root.join("Trivial/trivial.py"),
        "#!/usr/bin/env python3\nfrom cortexutils.analyzer import Analyzer\n\n\
         class Trivial(Analyzer):\n    def run(self):\n        self.report({'data': self.get_data()})\n\n\
         if __name__ == '__main__':\n    Trivial().run()\n",
    );
    write_exec(
        &root.join("Stamp/stamp.sh"),
        "#!/bin/bash\nT=$EPOCHREALTIME\nprintf '{\"success\":true,\"full\":{\"t\":\"%s\"}}' \"$T\" > \"$1/output/output.json\"\n",
    );
}

fn now_us() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_micros() as f64
}

/// 200 job folders run from a shell, `concurrency` at a time.
fn shell_run(root: &Path, dir: &Path, jobs: usize, concurrency: usize, path_env: &str) -> Duration {
    let jobs_dir = dir.join(format!("shell-jobs-{}", now_us()));
    for i in 0..jobs {
        let job = jobs_dir.join(format!("job-{i:04}"));
        std::fs::create_dir_all(job.join("input")).expect("mkdir");
        std::fs::create_dir_all(job.join("output")).expect("mkdir");
        let input = json!({"data": format!("bench-{i}.example"), "dataType": "domain", "tlp": 2,
            "pap": 2, "message": "", "parameters": {}, "config": {"jobCache": 0, "jobTimeout": 30,
            "auto_extract_artifacts": false, "check_tlp": null, "max_tlp": null, "check_pap": null,
            "max_pap": null, "proxy_http": null, "proxy_https": null, "cacerts": null}});
        std::fs::write(job.join("input/input.json"), input.to_string()).expect("input");
    }
    let script = format!(
        "ls -d {}/job-* | xargs -P{concurrency} -n1 {}",
        jobs_dir.display(),
        root.join("Trivial/trivial.py").display()
    );
    let started = Instant::now();
    let status = Command::new("sh")
        .arg("-c")
        .arg(&script)
        .current_dir(root)
        .env("PATH", path_env)
        .env("LANG", "C.UTF-8")
        .status()
        .expect("sh");
    let took = started.elapsed();
    assert!(status.success(), "the shell run failed");
    for i in 0..jobs {
        let out = jobs_dir.join(format!("job-{i:04}/output/output.json"));
        let v: Value = serde_json::from_slice(&std::fs::read(&out).expect("output")).expect("json");
        assert_eq!(v["success"], true, "shell job {i}: {v}");
    }
    took
}

struct Service {
    child: Child,
    base: String,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start(a: &Args, root: &Path, dir: &Path, amqp: Option<&str>, path_env: &str) -> Service {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let mode = if amqp.is_some() { "amqp" } else { "inproc" };
    let data = dir.join(format!("service-{mode}-{port}"));
    let db = match &a.pg {
        Some(pg) => {
            service_kit::test_support::recreate_pg_database(pg, &format!("job_bench_{mode}_{port}"))
        }
        None => format!("sqlite://{}/cortex.db", data.display()),
    };
    let mut cmd = Command::new(&a.bin);
    cmd.env("CORTEX__HTTP__BIND", format!("127.0.0.1:{port}"))
        .env("CORTEX__DATA_DIR", &data)
        .env("CORTEX__DATABASE__URL", db)
        .env("CORTEX__BOOTSTRAP__ADMIN_API_KEY", KEY)
        .env("CORTEX__ANALYZERS__PATHS", root)
        .env("CORTEX__JOBS__CONCURRENCY", a.concurrency.to_string())
        .env("CORTEX__JOBS__QUEUE", format!("cortex.jobs.bench.{port}"))
        .env("CORTEX__LOG__LEVEL", "warn")
        .env("PATH", path_env)
        .stdout(Stdio::null());
    if let Some(url) = amqp {
        cmd.env("CORTEX__AMQP__URL", url);
    }
    let child = cmd.spawn().expect("start cortex-service");
    let s = Service {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let http = reqwest::Client::new();
    for _ in 0..300 {
        if http
            .get(format!("{}/api/status", s.base))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("cortex-service did not start");
}

async fn call(
    http: &reqwest::Client,
    key: &str,
    m: reqwest::Method,
    url: String,
    body: Value,
) -> Value {
    let r = http
        .request(m, url)
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = r.status();
    let text = r.text().await.expect("body");
    assert!(status.is_success(), "{status}: {text}");
    serde_json::from_str(&text).unwrap_or(Value::String(text))
}

/// RabbitMQ's Erlang VM, if it runs here.
fn broker_pid() -> Option<u32> {
    let out = Command::new("pgrep")
        .args(["-o", "beam.smp"])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let a = args();
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("analyzers");
    workers(&root);
    let python_dir = std::fs::canonicalize(
        Path::new(&a.python)
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("/usr/bin")),
    )
    .expect("python dir");
    let path_env = format!(
        "{}:{}",
        python_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    println!(
        "# {} jobs, concurrency {}, {} rounds",
        a.jobs, a.concurrency, a.rounds
    );
    let mut summary: std::collections::BTreeMap<&str, Vec<(f64, f64, f64, f64)>> =
        Default::default();
    for round in 1..=a.rounds {
        println!("\n# round {round}");
        let shell = shell_run(&root, dir.path(), a.jobs, a.concurrency, &path_env);
        println!(
            "shell: {:.2} s ({:.1} ms per job per slot)",
            shell.as_secs_f64(),
            shell.as_secs_f64() * 1000.0 * a.concurrency as f64 / a.jobs as f64
        );
        let floor = bash_floor(&root, dir.path());
        println!(
            "bash alone, spawn → first instruction: p50 {:.1} ms, p95 {:.1} ms",
            pct(&floor, 0.5),
            pct(&floor, 0.95)
        );
        let modes: Vec<Option<&str>> = std::iter::once(None)
            .chain(a.amqp.as_deref().map(Some))
            .collect();
        let http = reqwest::Client::new();
        for amqp in modes {
            let mode = if amqp.is_some() {
                "RabbitMQ"
            } else {
                "in process"
            };
            let broker_before = broker_pid().map(cpu_secs).unwrap_or(0.0);
            let s = start(&a, &root, dir.path(), amqp, &path_env).await;
            let b = &s.base;
            call(
                &http,
                KEY,
                reqwest::Method::POST,
                format!("{b}/api/organization"),
                json!({"name": "bench", "description": "b"}),
            )
            .await;
            call(&http, KEY, reqwest::Method::POST, format!("{b}/api/user"),
            json!({"login": "bench", "name": "B", "roles": ["read", "analyze", "orgadmin"], "organization": "bench"})).await;
            let key = call(
                &http,
                KEY,
                reqwest::Method::POST,
                format!("{b}/api/user/bench/key/renew"),
                json!({}),
            )
            .await;
            let key = key.as_str().expect("key").to_string();
            let mut ids = std::collections::HashMap::new();
            for name in ["Trivial_1_0", "Stamp_1_0"] {
                let w = call(
                    &http,
                    &key,
                    reqwest::Method::POST,
                    format!("{b}/api/organization/analyzer/{name}"),
                    json!({"configuration": {}, "jobCache": 0}),
                )
                .await;
                ids.insert(name, w["id"].as_str().expect("id").to_string());
            }

            // Latency on the idle service.
            let (mut to_claim, mut to_worker) = (Vec::new(), Vec::new());
            for i in 0..30 {
                let t0 = now_us();
                let job = call(
                    &http,
                    &key,
                    reqwest::Method::POST,
                    format!("{b}/api/analyzer/{}/run", ids["Stamp_1_0"]),
                    json!({"dataType": "domain", "data": format!("latency-{i}.example")}),
                )
                .await;
                let id = job["id"].as_str().expect("id");
                let done = call(
                    &http,
                    &key,
                    reqwest::Method::GET,
                    format!("{b}/api/job/{id}/waitreport?atMost=Inf"),
                    Value::Null,
                )
                .await;
                assert_eq!(done["status"], "Success", "{done}");
                let start_ms = done["startDate"].as_i64().expect("startDate") as f64;
                let ran: f64 = done["report"]["full"]["t"]
                    .as_str()
                    .expect("t")
                    .parse()
                    .expect("float");
                to_claim.push(start_ms - t0 / 1000.0);
                to_worker.push((ran * 1e6 - t0) / 1000.0);
            }
            to_claim.sort_by(f64::total_cmp);
            to_worker.sort_by(f64::total_cmp);

            // Throughput: the batch.
            let started = Instant::now();
            let mut submitted = Vec::new();
            let mut tasks = tokio::task::JoinSet::new();
            for i in 0..a.jobs {
                let (http, key, url) = (
                    http.clone(),
                    key.clone(),
                    format!("{b}/api/analyzer/{}/run", ids["Trivial_1_0"]),
                );
                tasks.spawn(async move {
                    let job = call(
                        &http,
                        &key,
                        reqwest::Method::POST,
                        url,
                        json!({"dataType": "domain", "data": format!("bench-{i}.example")}),
                    )
                    .await;
                    job["id"].as_str().expect("id").to_string()
                });
                if tasks.len() >= 8 {
                    submitted.push(tasks.join_next().await.expect("task").expect("submit"));
                }
            }
            while let Some(id) = tasks.join_next().await {
                submitted.push(id.expect("submit"));
            }
            let submit_time = started.elapsed();
            for id in &submitted {
                let done = call(
                    &http,
                    &key,
                    reqwest::Method::GET,
                    format!("{b}/api/job/{id}/waitreport?atMost=Inf"),
                    Value::Null,
                )
                .await;
                assert_eq!(done["status"], "Success", "{done}");
            }
            let took = started.elapsed();
            let cpu = cpu_secs(s.child.id());
            let broker_cpu = broker_pid().map(cpu_secs).unwrap_or(0.0) - broker_before;
            let rss = std::fs::read_to_string(format!("/proc/{}/status", s.child.id()))
                .ok()
                .and_then(|t| {
                    t.lines()
                        .find(|l| l.starts_with("VmRSS"))
                        .map(|l| l.to_string())
                })
                .unwrap_or_default();
            summary.entry(mode).or_default().push((
                took.as_secs_f64() / shell.as_secs_f64(),
                pct(&to_claim, 0.5),
                pct(&to_worker, 0.5),
                pct(&to_worker, 0.95),
            ));
            println!("\n## service, {mode}");
            println!("| measure | value |\n|---|---|");
            println!(
                "| {} jobs, wall time | {:.2} s (submitting took {:.2} s) |",
                a.jobs,
                took.as_secs_f64(),
                submit_time.as_secs_f64()
            );
            println!(
                "| ratio to the shell | **{:.3}** |",
                took.as_secs_f64() / shell.as_secs_f64()
            );
            println!(
                "| submit → claimed (startDate), ms | p50 {:.1}, p95 {:.1}, max {:.1} |",
                pct(&to_claim, 0.5),
                pct(&to_claim, 0.95),
                to_claim[to_claim.len() - 1]
            );
            println!(
                "| submit → worker's first instruction, ms | p50 {:.1}, p95 {:.1}, max {:.1} |",
                pct(&to_worker, 0.5),
                pct(&to_worker, 0.95),
                to_worker[to_worker.len() - 1]
            );
            println!("| CPU used by the whole run (incl. 30 latency jobs): service | {cpu:.2} s |");
            if amqp.is_some() {
                println!("| CPU used by RabbitMQ meanwhile | {broker_cpu:.2} s |");
            }
            println!(
                "| service {} after the run | |",
                rss.split_whitespace().collect::<Vec<_>>().join(" ")
            );
            drop(s);
        }
    }
    println!("\n# summary: median of {} rounds", a.rounds);
    println!("| mode | ratio service / shell | submit → claimed p50 (ms) | submit → worker running p50 / p95 (ms) |\n|---|---|---|---|");
    for (mode, rows) in summary {
        let med = |f: fn(&(f64, f64, f64, f64)) -> f64| {
            let mut v: Vec<f64> = rows.iter().map(f).collect();
            v.sort_by(f64::total_cmp);
            pct(&v, 0.5)
        };
        let all: Vec<String> = rows.iter().map(|r| format!("{:.3}", r.0)).collect();
        println!(
            "| {mode} | **{:.3}** ({}) | {:.1} | {:.1} / {:.1} |",
            med(|r| r.0),
            all.join(", "),
            med(|r| r.1),
            med(|r| r.2),
            med(|r| r.3)
        );
    }
}

/// How long bash alone takes from spawn to the worker's first instruction (the floor of the
/// latency measured through the service).
fn bash_floor(root: &Path, dir: &Path) -> Vec<f64> {
    let job = dir.join("floor-job");
    std::fs::create_dir_all(job.join("output")).expect("mkdir");
    let mut out = Vec::new();
    for _ in 0..30 {
        let t0 = now_us();
        let ok = Command::new(root.join("Stamp/stamp.sh"))
            .arg(&job)
            .status()
            .expect("bash");
        assert!(ok.success());
        let v: Value =
            serde_json::from_slice(&std::fs::read(job.join("output/output.json")).expect("out"))
                .expect("json");
        let ran: f64 = v["full"]["t"].as_str().expect("t").parse().expect("float");
        out.push((ran * 1e6 - t0) / 1000.0);
    }
    out.sort_by(f64::total_cmp);
    out
}
