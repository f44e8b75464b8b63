//! The `hive-service` binary as an operator runs it: start-up failures, JSON logs, graceful
//! shutdown on SIGTERM.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_hive-service");

fn run_to_exit(envs: &[(&str, &str)]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().expect("dir");
    let out = Command::new(BIN)
        .env("HIVE__DATA_DIR", dir.path())
        .env("HIVE__HTTP__BIND", "127.0.0.1:0")
        .envs(envs.iter().copied())
        .output()
        .expect("runs");
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    (out.status.code(), text)
}

#[test]
fn a_database_that_is_down_stops_start_up_with_a_clear_message() {
    let (code, text) = run_to_exit(&[(
        "HIVE__DATABASE__URL",
        "postgres://postgres@127.0.0.1:1/none",
    )]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("cannot connect to PostgreSQL"), "{text}");
    assert!(!text.contains("panicked"), "{text}");
}

#[test]
fn a_broker_that_is_down_stops_start_up_with_a_clear_message() {
    let (code, text) = run_to_exit(&[("HIVE__AMQP__URL", "amqp://guest:guest@127.0.0.1:1/%2f")]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("RabbitMQ"), "{text}");
    assert!(!text.contains("panicked"), "{text}");
}

#[test]
fn a_bad_setting_stops_start_up_naming_the_key() {
    let (code, text) = run_to_exit(&[("HIVE__HTTP__BIND", "not-an-address")]);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("http.bind"), "{text}");
    let (code, text) = run_to_exit(&[("HIVE__DATABSE__URL", "sqlite://x")]);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("databse"), "{text}");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

#[test]
fn sigterm_lets_the_request_in_flight_finish_and_logs_are_json() {
    let dir = tempfile::tempdir().expect("dir");
    let port = free_port();
    let mut child = Command::new(BIN)
        .env("HIVE__DATA_DIR", dir.path())
        .env("HIVE__HTTP__BIND", format!("127.0.0.1:{port}"))
        .env("HIVE__BOOTSTRAP__ADMIN_PASSWORD", "secret")
        .env("HIVE__LOG__FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut stream = loop {
        if let Ok(s) = TcpStream::connect(("127.0.0.1", port)) {
            break s;
        }
        assert!(Instant::now() < deadline, "service did not start");
        std::thread::sleep(Duration::from_millis(20));
    };
    // Half a request, then SIGTERM, then the rest: the answer must still come.
    let body = r#"{"name":"late-org","description":"sent across a shutdown"}"#;
    let head = format!(
        "POST /api/v1/organisation HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        "YWRtaW5AdGhlaGl2ZS5sb2NhbDpzZWNyZXQ=",
        body.len()
    );
    stream.write_all(head.as_bytes()).expect("head");
    stream.write_all(&body.as_bytes()[..10]).expect("part");
    std::thread::sleep(Duration::from_millis(200));
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    std::thread::sleep(Duration::from_millis(300));
    stream.write_all(&body.as_bytes()[10..]).expect("rest");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("answer");
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err() || child.try_wait().is_ok());
    let status = child.wait().expect("exits");
    assert!(status.success(), "{status}");
    let mut logs = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut logs)
        .expect("logs");
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect();
    assert!(
        lines.iter().any(|l| l["request_id"].is_string()),
        "request ids are logged: {logs}"
    );
    assert!(
        lines.iter().any(|l| l["message"] == "hive-service stopped"),
        "{logs}"
    );
}
