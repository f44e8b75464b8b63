//! The REST side of one Cortex server: its API as TheHive calls it (`/api/analyzer`,
//! `/api/{kind}/{id}/run`, `/api/job/{id}/waitreport`, `/api/datastore/{id}`...), with the
//! server's API key, a timeout on every call, and errors sorted into what a retry may cure
//! (the server is away) and what it may not (the server refused).

use crate::config::CortexServerSettings;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use shared_models::cortex::{OutputJob, OutputWorker, RunBody, WorkerKind};
use std::sync::Mutex;
use std::time::Duration;

/// Largest answer read from a server (a report, a list of workers): 64 MiB.
const MAX_ANSWER_BYTES: usize = 64 * 1024 * 1024;

/// Why a call failed.
#[derive(Debug, Clone)]
pub enum CallError {
    /// The server could not be reached, timed out, or answered 5xx: worth retrying.
    Unreachable(String),
    /// The server refused the request (4xx): not worth retrying.
    Refused {
        /// HTTP status.
        status: u16,
        /// Cortex's error type, when it sent one.
        kind: String,
        /// Its message.
        message: String,
    },
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Unreachable(m) => write!(f, "unreachable: {m}"),
            CallError::Refused {
                status,
                kind,
                message,
            } => write!(f, "refused ({status} {kind}): {message}"),
        }
    }
}

/// One Cortex server.
pub struct Server {
    /// Its `cortexId`.
    pub name: String,
    base: String,
    key: SecretString,
    login: Mutex<Option<String>>,
    http: reqwest::Client,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("name", &self.name)
            .field("url", &self.base)
            .finish()
    }
}

impl Server {
    /// A client for the server of `settings`.
    pub fn new(settings: &CortexServerSettings, timeout: Duration) -> Server {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(5).min(timeout))
            .pool_max_idle_per_host(32)
            .build()
            .unwrap_or_default();
        Server {
            name: settings.name.clone(),
            base: settings.url.trim_end_matches('/').to_string(),
            key: settings.api_key.clone(),
            login: Mutex::new(settings.login.clone()),
            http,
        }
    }

    /// The SHA-256 hex digest of the key: what signs RabbitMQ submissions.
    pub fn key_digest(&self) -> String {
        crate::auth::secrets::sha256_hex(self.key.expose_secret().as_bytes())
    }

    /// The login of the key's user, once known (configured or learnt by [`Server::check`]).
    pub fn login(&self) -> Option<String> {
        self.login.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<reqwest::Response, CallError> {
        let resp = req
            .bearer_auth(self.key.expose_secret())
            .send()
            .await
            .map_err(|e| CallError::Unreachable(e.to_string()))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        let message = body
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if status.is_server_error() || status.as_u16() == 429 && message.is_empty() {
            return Err(CallError::Unreachable(format!("{status}: {message}")));
        }
        Err(CallError::Refused {
            status: status.as_u16(),
            kind: body
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            message: if message.is_empty() {
                status.to_string()
            } else {
                message
            },
        })
    }

    async fn json<T: serde::de::DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<T, CallError> {
        let resp = self.send(req).await?;
        if resp
            .content_length()
            .is_some_and(|n| n > MAX_ANSWER_BYTES as u64)
        {
            return Err(CallError::Unreachable("answer too large".into()));
        }
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| CallError::Unreachable(e.to_string()))?;
        if bytes.len() > MAX_ANSWER_BYTES {
            return Err(CallError::Unreachable("answer too large".into()));
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| CallError::Unreachable(format!("unexpected answer: {e}")))
    }

    /// `GET /api/status`, then (once) `GET /api/user/current` to learn the key's login.
    /// Returns the server's Cortex version.
    pub async fn check(&self) -> Result<String, CallError> {
        let status: Value = self.json(self.http.get(self.url("/api/status"))).await?;
        let version = status
            .pointer("/versions/Cortex")
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .to_string();
        let user: Value = self
            .json(self.http.get(self.url("/api/user/current")))
            .await?;
        if let Some(login) = user
            .get("id")
            .or_else(|| user.get("_id"))
            .and_then(Value::as_str)
        {
            *self.login.lock().unwrap_or_else(|p| p.into_inner()) = Some(login.to_string());
        }
        Ok(version)
    }

    /// The workers of `kind` enabled for the key's organization.
    pub async fn workers(&self, kind: WorkerKind) -> Result<Vec<OutputWorker>, CallError> {
        self.json(
            self.http
                .get(self.url(&format!("/api/{}?range=all", kind.as_str()))),
        )
        .await
    }

    /// Runs a worker (by id or name) with a JSON body.
    pub async fn run_json(
        &self,
        kind: WorkerKind,
        worker: &str,
        body: &RunBody,
    ) -> Result<OutputJob, CallError> {
        let path = format!("/api/{}/{}/run", kind.as_str(), enc(worker));
        self.json(self.http.post(self.url(&path)).json(body)).await
    }

    /// Runs an analyzer on a file: multipart `_json` and `attachment`.
    pub async fn run_file(
        &self,
        worker: &str,
        body: &RunBody,
        name: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> Result<OutputJob, CallError> {
        let path = format!("/api/analyzer/{}/run", enc(worker));
        let part = reqwest::multipart::Part::bytes(bytes)
            .file_name(name.to_string())
            .mime_str(content_type)
            .or_else(|_| {
                reqwest::multipart::Part::bytes(Vec::new()).mime_str("application/octet-stream")
            })
            .map_err(|e| CallError::Unreachable(e.to_string()))?;
        let form = reqwest::multipart::Form::new()
            .text(
                "_json",
                serde_json::to_string(body).map_err(|e| CallError::Unreachable(e.to_string()))?,
            )
            .part("attachment", part);
        // A large upload may take longer than one call's timeout.
        self.json(
            self.http
                .post(self.url(&path))
                .timeout(Duration::from_secs(600))
                .multipart(form),
        )
        .await
    }

    /// `GET /api/job/{id}/waitreport?atMost=<secs>second`: the job with its report once
    /// ended, or as it stands after the wait.
    pub async fn wait_report(&self, job: &str, secs: u64) -> Result<OutputJob, CallError> {
        let path = format!("/api/job/{}/waitreport?atMost={secs}second", enc(job));
        self.json(
            self.http
                .get(self.url(&path))
                .timeout(Duration::from_secs(secs + 30)),
        )
        .await
    }

    /// `GET /api/job/{id}/report`.
    pub async fn report(&self, job: &str) -> Result<OutputJob, CallError> {
        let path = format!("/api/job/{}/report", enc(job));
        self.json(self.http.get(self.url(&path))).await
    }

    /// A file of the server's datastore (a file artifact), at most `max` bytes.
    pub async fn download(&self, id: &str, max: u64) -> Result<Vec<u8>, CallError> {
        let path = format!("/api/datastore/{}", enc(id));
        let resp = self
            .send(
                self.http
                    .get(self.url(&path))
                    .timeout(Duration::from_secs(600)),
            )
            .await?;
        if resp.content_length().is_some_and(|n| n > max) {
            return Err(CallError::Refused {
                status: 413,
                kind: "PayloadTooLarge".into(),
                message: format!("file artifact larger than {max} bytes"),
            });
        }
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| CallError::Unreachable(e.to_string()))?;
        if bytes.len() as u64 > max {
            return Err(CallError::Refused {
                status: 413,
                kind: "PayloadTooLarge".into(),
                message: format!("file artifact larger than {max} bytes"),
            });
        }
        Ok(bytes.to_vec())
    }
}

/// What a path segment keeps as is: RFC 3986's unreserved characters.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes a path segment (ids and names are plain; anything else is escaped).
fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, SEGMENT).to_string()
}
