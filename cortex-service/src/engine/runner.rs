//! The process runner: Cortex's job-folder protocol. A private folder
//! `cortex-job-<id>-<random>/` gets `input/input.json` (and the attachment), the worker runs
//! as `<command> <folder>` from the workers' root in its own process group, and its
//! `output/output.json` (plus the files it names) is read back. Every way a worker can go
//! wrong ends as a failure with its own words (stderr, stdout) as the message: a missing
//! program, a crash, no or bad output, too much output, or a timeout (SIGTERM to the whole
//! group, SIGKILL after the grace period).

use serde_json::{Map, Value};
use service_kit::datastore::{Datastore, Stored};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;

/// Bytes of stdout and of stderr kept for the failure message.
const KEPT_STREAM_BYTES: usize = 64 * 1024;

/// What to run.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// The job.
    pub job_id: String,
    /// The program (absolute).
    pub program: PathBuf,
    /// Its working directory (the workers' root).
    pub root: PathBuf,
    /// `input/input.json`, without the file keys (added here).
    pub input: Map<String, Value>,
    /// The attachment: path in the datastore, original name, content type.
    pub attachment: Option<(PathBuf, String, String)>,
    /// PEM written to `input/cacerts` (then `REQUESTS_CA_BUNDLE`).
    pub cacerts: Option<String>,
    /// Hard limit on the run.
    pub timeout: Duration,
    /// Between SIGTERM and SIGKILL.
    pub kill_grace: Duration,
    /// Most bytes in `output/` (and per file written).
    pub max_output_bytes: u64,
    /// Leave the folder in place.
    pub keep_folder: bool,
    /// Where job folders are made.
    pub jobs_dir: PathBuf,
}

/// A file artifact, stored.
#[derive(Debug, Clone)]
pub struct StoredFile {
    /// Hashes and size.
    pub stored: Stored,
    /// The original file name.
    pub filename: String,
    /// MIME type.
    pub content_type: String,
}

/// An artifact from `output.json`.
#[derive(Debug, Clone)]
pub struct Artifact {
    /// Observable type.
    pub data_type: String,
    /// The value (non-file).
    pub data: Option<String>,
    /// The file (file artifacts).
    pub file: Option<StoredFile>,
    /// 0 to 3.
    pub tlp: i32,
    /// Tags.
    pub tags: Vec<String>,
    /// Free text.
    pub message: Option<String>,
}

/// How a run ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// A report.
    Success {
        /// `summary` (default `{}`).
        summary: Value,
        /// `full` (an object).
        full: Value,
        /// `operations` (default `[]`).
        operations: Value,
        /// Artifacts.
        artifacts: Vec<Artifact>,
    },
    /// No report.
    Failure {
        /// Why.
        message: String,
        /// The input the worker echoed back, if any.
        input: Option<Value>,
    },
}

impl Outcome {
    fn fail(message: impl Into<String>) -> Outcome {
        Outcome::Failure {
            message: message.into(),
            input: None,
        }
    }
}

/// Runs one job; never panics, never hangs past `timeout + kill_grace` (+ a second).
pub async fn run(spec: RunSpec, datastore: &Datastore) -> Outcome {
    let folder = match make_folder(&spec) {
        Ok(f) => f,
        Err(e) => return Outcome::fail(format!("cannot prepare the job folder: {e}")),
    };
    let outcome = run_in(&spec, &folder, datastore).await;
    if !spec.keep_folder {
        let f = folder.clone();
        let _ = tokio::task::spawn_blocking(move || std::fs::remove_dir_all(f)).await;
    }
    outcome
}

fn make_folder(spec: &RunSpec) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(&spec.jobs_dir)?;
    let folder = spec.jobs_dir.join(format!(
        "cortex-job-{}-{}",
        spec.job_id,
        crate::auth::secrets::random_token(6).replace(['-', '_'], "x")
    ));
    let mut b = std::fs::DirBuilder::new();
    b.mode(0o700);
    b.create(&folder)?;
    b.create(folder.join("input"))?;
    b.create(folder.join("output"))?;
    let mut input = spec.input.clone();
    if let Some((path, name, content_type)) = &spec.attachment {
        let file = format!(
            "attachment{}",
            crate::auth::secrets::random_token(8).replace(['-', '_'], "x")
        );
        std::fs::copy(path, folder.join("input").join(&file))?;
        let mut with_file = Map::new();
        with_file.insert("file".into(), Value::String(file));
        with_file.insert("filename".into(), Value::String(name.clone()));
        with_file.insert("contentType".into(), Value::String(content_type.clone()));
        with_file.extend(input);
        input = with_file;
    }
    if let Some(pem) = &spec.cacerts {
        std::fs::write(folder.join("input").join("cacerts"), pem)?;
    }
    std::fs::write(
        folder.join("input").join("input.json"),
        serde_json::to_vec(&Value::Object(input)).map_err(std::io::Error::other)?,
    )?;
    Ok(folder)
}

/// Reads a stream, keeping the first bytes and draining the rest.
async fn keep_head<R: tokio::io::AsyncRead + Unpin>(mut r: R) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => return kept,
            Ok(n) => {
                let room = KEPT_STREAM_BYTES.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
        }
    }
}

/// The only unsafe code of the workspace: three system calls the standard library does not
/// wrap.
#[allow(unsafe_code)]
mod sys {
    /// Sends `signal` to every process of the group `pgid`.
    pub fn signal_group(pgid: i32, signal: i32) {
        if pgid > 0 {
            // SAFETY: kill(2) with a negative pid signals a process group; it reads no memory.
            unsafe {
                libc::kill(-pgid, signal);
            }
        }
    }

    /// Makes the child die with the thread that starts it, so that a service killed with
    /// SIGKILL leaves no orphan to finish a job another instance will run again.
    pub fn die_with_parent(cmd: &mut tokio::process::Command) {
        // SAFETY: between fork and exec the closure makes one async-signal-safe system call
        // (prctl) and allocates nothing.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
    }

    /// Caps the size of any file the process `pid` writes (it gets SIGXFSZ / EFBIG past it).
    pub fn limit_file_size(pid: i32, max_bytes: u64) {
        let limit = libc::rlimit {
            rlim_cur: max_bytes as libc::rlim_t,
            rlim_max: max_bytes as libc::rlim_t,
        };
        // SAFETY: prlimit(2) reads `limit`, a valid local, and writes nothing (null old).
        unsafe {
            libc::prlimit(pid, libc::RLIMIT_FSIZE, &limit, std::ptr::null_mut());
        }
    }
}
use sys::signal_group;

fn dir_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => stack.push(e.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

enum Ended {
    Exited(Option<i32>),
    TimedOut,
    TooMuchOutput,
}

async fn run_in(spec: &RunSpec, folder: &Path, datastore: &Datastore) -> Outcome {
    let command_name = spec
        .program
        .strip_prefix(&spec.root)
        .unwrap_or(&spec.program)
        .display()
        .to_string();
    use std::os::unix::fs::PermissionsExt;
    match std::fs::metadata(&spec.program) {
        Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => {}
        Ok(m) if m.is_file() => {
            return Outcome::fail(format!(
                "Worker cannot be run: {command_name}: the program is not executable"
            ))
        }
        _ => {
            return Outcome::fail(format!(
                "Worker cannot be run: {command_name}: the program does not exist"
            ))
        }
    }
    // With setpriv (util-linux) the worker is started by posix_spawn and dies with the
    // thread that started it; without it, a fork sets the same up (slower: ~2 ms).
    let mut cmd = match setpriv() {
        Some(setpriv) => {
            let mut c = tokio::process::Command::new(setpriv);
            c.args(["--pdeathsig", "KILL", "--"]).arg(&spec.program);
            c
        }
        None => {
            let mut c = tokio::process::Command::new(&spec.program);
            sys::die_with_parent(&mut c);
            c
        }
    };
    cmd.arg(folder)
        .current_dir(&spec.root)
        .env("LANG", "C.UTF-8")
        .env("LC_ALL", "C.UTF-8")
        .env("PYTHONIOENCODING", "utf-8")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if spec.cacerts.is_some() {
        cmd.env("REQUESTS_CA_BUNDLE", folder.join("input").join("cacerts"));
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return Outcome::fail(format!("Worker cannot be run: {command_name}: {e}"));
        }
    };
    if let Some(pid) = child.id() {
        sys::limit_file_size(pid as i32, spec.max_output_bytes);
    }
    let pgid = child.id().map_or(0, |p| p as i32);
    let out = tokio::spawn(keep_head(child.stdout.take().expect("piped stdout")));
    let err = tokio::spawn(keep_head(child.stderr.take().expect("piped stderr")));
    let started = Instant::now();
    let output_dir = folder.join("output");
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    tick.tick().await;
    let ended = loop {
        let remaining = spec.timeout.saturating_sub(started.elapsed());
        tokio::select! {
            status = child.wait() => break Ended::Exited(status.ok().and_then(|s| s.code())),
            _ = tokio::time::sleep(remaining) => break Ended::TimedOut,
            _ = tick.tick() => {
                let dir = output_dir.clone();
                let size = tokio::task::spawn_blocking(move || dir_size(&dir)).await.unwrap_or(0);
                if size > spec.max_output_bytes {
                    break Ended::TooMuchOutput;
                }
            }
        }
    };
    if !matches!(ended, Ended::Exited(_)) {
        signal_group(pgid, libc::SIGTERM);
        if tokio::time::timeout(spec.kill_grace, child.wait())
            .await
            .is_err()
        {
            signal_group(pgid, libc::SIGKILL);
            let _ = child.wait().await;
        }
    }
    // Whatever the worker left running in its group goes too.
    signal_group(pgid, libc::SIGKILL);
    let grab = |h: tokio::task::JoinHandle<Vec<u8>>| async move {
        match tokio::time::timeout(Duration::from_secs(1), h).await {
            Ok(Ok(v)) => String::from_utf8_lossy(&v).into_owned(),
            _ => String::new(),
        }
    };
    let (stdout, stderr) = (grab(out).await, grab(err).await);
    let said = [stderr.trim(), stdout.trim()]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    match ended {
        Ended::TimedOut => {
            return Outcome::fail(format!(
                "Timeout: the job ran longer than {} and was killed{}{}",
                human(spec.timeout),
                if said.is_empty() { "" } else { "\n" },
                said
            ))
        }
        Ended::TooMuchOutput => {
            return Outcome::fail(format!(
                "The worker wrote more than {} bytes and was killed (jobs.max_output_bytes)",
                spec.max_output_bytes
            ))
        }
        Ended::Exited(_) => {}
    }
    let code = match ended {
        Ended::Exited(c) => c,
        _ => None,
    };
    let output = output_dir.join("output.json");
    let ds = datastore.clone();
    let max = spec.max_output_bytes;
    let read = tokio::task::spawn_blocking(move || read_output(&output, max, &ds)).await;
    match read {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(why)) => {
            let mut message = why;
            if !said.is_empty() {
                message = format!("{message}\n{said}");
            } else if let Some(c) = code.filter(|c| *c != 0) {
                message = format!("{message} (exit status {c})");
            }
            Outcome::fail(message)
        }
        Err(e) => Outcome::fail(format!("cannot read the report: {e}")),
    }
}

/// `setpriv` when installed.
fn setpriv() -> Option<&'static Path> {
    static FOUND: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    FOUND
        .get_or_init(|| {
            ["/usr/bin/setpriv", "/bin/setpriv", "/usr/sbin/setpriv"]
                .iter()
                .map(PathBuf::from)
                .find(|p| p.is_file())
        })
        .as_deref()
}

fn human(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 60.0 {
        format!("{:.1} minutes", s / 60.0)
    } else {
        format!("{s:.1} seconds")
    }
}

/// Reads `output.json`; `Err` when there is none or it is unusable.
fn read_output(path: &Path, max: u64, datastore: &Datastore) -> Result<Outcome, String> {
    let meta =
        std::fs::symlink_metadata(path).map_err(|_| "The worker wrote no report".to_string())?;
    if !meta.is_file() {
        return Err("output/output.json is not a file".into());
    }
    if meta.len() > max {
        return Err(format!("output/output.json is larger than {max} bytes"));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read output/output.json: {e}"))?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err("The worker wrote an empty report".into());
    }
    let v: Value = serde_json::from_slice(&bytes)
        .map_err(|e| format!("output/output.json is not valid JSON: {e}"))?;
    let o = v.as_object().ok_or("output/output.json is not an object")?;
    let success = o.get("success").and_then(Value::as_bool).unwrap_or(false);
    if !success {
        let message = match o.get("errorMessage") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => "The worker reported a failure without a message".into(),
            Some(other) => other.to_string(),
        };
        return Ok(Outcome::Failure {
            message,
            input: o.get("input").cloned().filter(|i| !i.is_null()),
        });
    }
    let full = o.get("full").cloned().unwrap_or(Value::Null);
    if !full.is_object() {
        return Err("Invalid report: `full` must be an object".into());
    }
    let summary = match o.get("summary") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(s @ Value::Object(_)) => s.clone(),
        Some(_) => return Err("Invalid report: `summary` must be an object".into()),
    };
    let operations = match o.get("operations") {
        None | Some(Value::Null) => Value::Array(Vec::new()),
        Some(ops @ Value::Array(a)) if a.iter().all(Value::is_object) => ops.clone(),
        Some(_) => return Err("Invalid report: `operations` must be a list of objects".into()),
    };
    let artifacts = match o.get("artifacts") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .filter_map(|(i, a)| {
                artifact(a, path.parent().unwrap_or(Path::new(".")), datastore)
                    .map_err(|e| format!("Invalid report: artifacts[{i}]: {e}"))
                    .transpose()
            })
            .collect::<Result<Vec<_>, String>>()?,
        Some(_) => return Err("Invalid report: `artifacts` must be a list".into()),
    };
    Ok(Outcome::Success {
        summary,
        full,
        operations,
        artifacts,
    })
}

/// One artifact; `Ok(None)` for a file artifact whose file is missing or outside `output/`
/// (dropped, as Cortex does).
fn artifact(a: &Value, output: &Path, datastore: &Datastore) -> Result<Option<Artifact>, String> {
    let o = a.as_object().ok_or("not an object")?;
    let data_type = o
        .get("dataType")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty() && t.len() <= 128)
        .ok_or("dataType is missing")?
        .to_string();
    let tlp = match o.get("tlp") {
        None | Some(Value::Null) => 2,
        Some(t) => match t.as_i64() {
            Some(t @ 0..=3) => t as i32,
            _ => return Err("tlp must be 0 to 3".into()),
        },
    };
    let tags = match o.get("tags") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(t)) => t
            .iter()
            .map(|t| t.as_str().map(str::to_string).ok_or("tags must be strings"))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err("tags must be a list".into()),
    };
    let message = match o.get("message") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    };
    if let Some(file) = o.get("file").and_then(Value::as_str) {
        let p = Path::new(file);
        if p.components().count() != 1 || file.contains('/') || file == ".." || file == "." {
            return Ok(None);
        }
        let path = output.join(file);
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.is_file() => {}
            _ => return Ok(None),
        }
        let filename = o
            .get("filename")
            .and_then(Value::as_str)
            .map(service_kit::body::base_name)
            .unwrap_or_else(|| file.to_string());
        let content_type = o
            .get("contentType")
            .and_then(Value::as_str)
            .unwrap_or("application/octet-stream")
            .to_string();
        let stored =
            store_file(&path, datastore).map_err(|e| format!("cannot store {file}: {e}"))?;
        return Ok(Some(Artifact {
            data_type,
            data: None,
            file: Some(StoredFile {
                stored,
                filename,
                content_type,
            }),
            tlp,
            tags,
            message,
        }));
    }
    let data = match o.get("data") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => return Err("data is missing".into()),
        Some(other) => other.to_string(),
    };
    Ok(Some(Artifact {
        data_type,
        data: Some(data),
        file: None,
        tlp,
        tags,
        message,
    }))
}

fn store_file(path: &Path, datastore: &Datastore) -> std::io::Result<Stored> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut up = datastore.begin()?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        up.write(&buf[..n])?;
    }
    datastore.commit(up)
}
