//! The connector: hands jobs to Cortex servers and brings their results back.
//!
//! A job is a `cortex_jobs` row first (the route answers at once), and the row is also the
//! outbox of its submission (`dispatch`: `pending` → `sent` → `done`). Submitting claims the
//! row for a while (`next_attempt`), so the immediate attempt and the periodic sweep never
//! submit one job twice, and a server that cannot be reached is tried again with backoff for
//! `cortex.submit_retry_secs` before the job fails with the reason.
//!
//! Transport, per job:
//! - **RabbitMQ** (`amqp.url` set, `cortex.transport = auto`): a signed [`JobSubmission`] on
//!   the durable queue `cortex.submissions_queue`, confirmed by the broker; answers come back
//!   on this service's durable queue `cortex.events_queue`, bound to `cortex.events`, and are
//!   applied as they arrive (no polling). Results that arrive while this service is down wait
//!   in that queue. Files above `cortex.max_inline_bytes` are uploaded over REST instead, with
//!   the same `requestId`, so their answers come back the same way.
//! - **REST** (no broker): `POST /api/{kind}/{id}/run`, then `waitreport` until the job ends,
//!   as TheHive does; watches resume at start for jobs still running.

use super::apply::{self, Ended};
use super::client::{CallError, Server};
use super::Dispatch;
use crate::casework::observables::NewFile;
use crate::casework::{self as cw, render, Actor};
use crate::config::CortexSettings;
use crate::db::casework::*;
use crate::db::schema::{attachments, cortex_jobs};
use crate::db::{format_id, now_ms, Db, DbConn};
use base64::Engine as _;
use diesel::prelude::*;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use service_kit::datastore::Datastore;
use service_kit::error::ApiError;
use service_kit::messaging::{
    spawn_consumer, topology, Broker, ConsumerSpec, Outcome, RetryPolicy,
};
use shared_models::cortex::{
    InlineAttachment, JobEvent, JobStatus, JobSubmission, MessageKind, OutputJob, OutputWorker,
    SignedSubmission, SubmissionRejected, WorkerKind,
};
use shared_models::envelope::Envelope;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long one submission attempt holds its job, ms.
pub const CLAIM_MS: i64 = 15_000;
/// Period of the outbox sweep.
const SWEEP: Duration = Duration::from_secs(1);
/// How long a server's check is remembered for `/api/status`.
const CHECK_TTL: Duration = Duration::from_secs(10);
/// How long worker lists are remembered.
const WORKERS_TTL: Duration = Duration::from_secs(30);
/// Sweeps between two reconciliations of quiet RabbitMQ jobs.
const RECONCILE_TICKS: u64 = 30;

/// The Cortex connector of this instance.
pub struct Connector {
    db: Db,
    datastore: Datastore,
    servers: Vec<Arc<Server>>,
    settings: CortexSettings,
    max_file_bytes: u64,
    /// The process's broker, when jobs go through RabbitMQ.
    amqp: Option<Broker>,
    checks: Mutex<HashMap<String, Checked>>,
    workers: Mutex<HashMap<(String, WorkerKind), Listed>>,
    watching: Mutex<HashSet<i64>>,
    in_flight: std::sync::atomic::AtomicUsize,
    attempts: tokio::sync::Semaphore,
    /// The service's main runtime: work started from a request must not run on (and die
    /// with) the HTTP worker's own runtime.
    rt: tokio::runtime::Handle,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("servers", &self.servers)
            .field("broker", &self.amqp.is_some())
            .finish()
    }
}

/// When a server was checked, and its version or why it failed.
type Checked = (Instant, Result<String, String>);
/// When a server's workers were listed, and the list.
type Listed = (Instant, Vec<OutputWorker>);

/// A server's state as `/api/status` shows it.
#[derive(Debug, Clone)]
pub struct ServerStatus {
    /// `cortexId`.
    pub name: String,
    /// Cortex version, when it answered.
    pub version: Option<String>,
    /// `OK` or `ERROR`.
    pub status: &'static str,
    /// Why not OK.
    pub error: Option<String>,
}

/// A worker as the connector lists it, merged across servers.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MergedWorker {
    /// The worker id on the first server that has it.
    pub id: String,
    /// Its name (`MailParser_1_0`).
    pub name: String,
    /// Version.
    pub version: String,
    /// Description.
    pub description: String,
    /// Data types.
    pub data_type_list: Vec<String>,
    /// The servers that have it.
    pub cortex_ids: Vec<String>,
}

impl Connector {
    /// Builds the connector and starts its background work: the first check of each server,
    /// the outbox sweep, the watches of running REST jobs, and the broker side when used.
    pub async fn start(
        settings: &CortexSettings,
        broker: &Broker,
        db: Db,
        datastore: Datastore,
        max_file_bytes: u64,
    ) -> Result<Arc<Connector>, String> {
        let timeout = Duration::from_secs(settings.timeout_secs);
        let servers: Vec<Arc<Server>> = settings
            .all()
            .iter()
            .map(|s| Arc::new(Server::new(s, timeout)))
            .collect();
        let amqp = (settings.transport == "auto" && broker.enabled() && !servers.is_empty())
            .then(|| broker.clone());
        if let Some(b) = &amqp {
            // The submissions queue is declared here too, so that jobs wait in it even
            // before cortex-service first started.
            b.declare(&topology::hive(
                crate::EVENTS_EXCHANGE,
                &settings.submissions_queue,
                &settings.events_queue,
            ))
            .await
            .map_err(|e| format!("cortex: broker topology: {e}"))?;
        }
        let me = Arc::new(Connector {
            db,
            datastore,
            servers,
            settings: settings.clone(),
            max_file_bytes,
            amqp,
            checks: Mutex::new(HashMap::new()),
            workers: Mutex::new(HashMap::new()),
            watching: Mutex::new(HashSet::new()),
            in_flight: std::sync::atomic::AtomicUsize::new(0),
            attempts: tokio::sync::Semaphore::new(32),
            rt: tokio::runtime::Handle::current(),
        });
        for s in me.servers.clone() {
            let me = me.clone();
            tokio::spawn(async move {
                match me.check(&s).await {
                    Ok(v) => {
                        tracing::info!(cortex = %s.name, version = %v, "Cortex server reachable")
                    }
                    Err(e) => {
                        tracing::warn!(cortex = %s.name, error = %e, "Cortex server not reachable (jobs wait for it)")
                    }
                }
            });
        }
        if let Some(b) = &me.amqp {
            let spec = ConsumerSpec {
                queue: me.settings.events_queue.clone(),
                tag: "hive-cortex-events".into(),
                prefetch: 64,
                retry: RetryPolicy::Requeue {
                    delay: Duration::from_secs(1),
                },
            };
            let c = me.clone();
            spawn_consumer(b, spec, move |d| {
                let c = c.clone();
                async move {
                    match c.handle_event(&d.data).await {
                        Ok(()) => Outcome::Ack,
                        Err(e) => Outcome::Retry(format!("Cortex event not applied yet: {e}")),
                    }
                }
            });
        }
        tokio::spawn(me.clone().sweep_loop());
        tokio::spawn(me.clone().resume_watches());
        Ok(me)
    }

    /// Whether any server is configured.
    pub fn enabled(&self) -> bool {
        !self.servers.is_empty()
    }

    /// The configured servers' names.
    pub fn server_names(&self) -> Vec<String> {
        self.servers.iter().map(|s| s.name.clone()).collect()
    }

    fn server(&self, name: &str) -> Option<Arc<Server>> {
        self.servers.iter().find(|s| s.name == name).cloned()
    }

    async fn check(&self, s: &Server) -> Result<String, String> {
        let r = s.check().await.map_err(|e| e.to_string());
        if let Err(e) = &r {
            tracing::warn!(cortex = %s.name, error = %e, "Cortex server check failed");
        }
        self.checks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(s.name.clone(), (Instant::now(), r.clone()));
        r
    }

    /// Each server's state, checked again when the last check is older than 10 s (2 s after
    /// a failure).
    pub async fn status(&self) -> Vec<ServerStatus> {
        let mut out = Vec::new();
        let checks = self.servers.iter().map(|s| async move {
            let cached = self
                .checks
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(&s.name)
                // A failure is checked again sooner: the server may just be starting.
                .filter(|(at, r)| at.elapsed() < if r.is_ok() { CHECK_TTL } else { CHECK_TTL / 5 })
                .map(|(_, r)| r.clone());
            let r = match cached {
                Some(r) => r,
                // `/api/status` is a probe: it does not wait for a server that hangs.
                None => tokio::time::timeout(Duration::from_secs(3), self.check(s))
                    .await
                    .unwrap_or_else(|_| Err("no answer within 3 s".into())),
            };
            (s.name.clone(), r)
        });
        for (name, r) in futures_util::future::join_all(checks).await {
            out.push(match r {
                Ok(v) => ServerStatus {
                    name,
                    version: Some(v),
                    status: "OK",
                    error: None,
                },
                Err(e) => ServerStatus {
                    name,
                    version: None,
                    status: "ERROR",
                    error: Some(e),
                },
            });
        }
        out
    }

    /// The workers of `kind` of every reachable server, merged by name (a server that does
    /// not answer is left out and logged).
    pub async fn workers(&self, kind: WorkerKind) -> Vec<MergedWorker> {
        let lists = self.servers.iter().map(|s| async move {
            let key = (s.name.clone(), kind);
            let cached = self
                .workers
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(&key)
                .filter(|(at, _)| at.elapsed() < WORKERS_TTL)
                .map(|(_, l)| l.clone());
            let list = match cached {
                Some(l) => Some(l),
                None => match s.workers(kind).await {
                    Ok(l) => {
                        self.workers
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .insert(key, (Instant::now(), l.clone()));
                        Some(l)
                    }
                    Err(e) => {
                        tracing::warn!(cortex = %s.name, error = %e, "cannot list the {}s", kind.as_str());
                        // Not asked again for 5 s: a server that is down does not slow
                        // every request down.
                        let retry_at = Instant::now()
                            .checked_sub(WORKERS_TTL - Duration::from_secs(5))
                            .unwrap_or_else(Instant::now);
                        self.workers
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .insert(key, (retry_at, Vec::new()));
                        None
                    }
                },
            };
            (s.name.clone(), list.unwrap_or_default())
        });
        merge_workers(futures_util::future::join_all(lists).await)
    }

    /// The workers of `kind` already known (merged), without asking any server.
    pub fn cached_workers(&self, kind: WorkerKind) -> Vec<MergedWorker> {
        let cache = self.workers.lock().unwrap_or_else(|p| p.into_inner());
        merge_workers(self.servers.iter().map(|s| {
            let list = cache
                .get(&(s.name.clone(), kind))
                .map(|(_, l)| l.clone())
                .unwrap_or_default();
            (s.name.clone(), list)
        }))
    }

    /// The transport a new job will use.
    pub fn transport(&self) -> &'static str {
        if self.amqp.is_some() {
            "amqp"
        } else {
            "rest"
        }
    }

    /// Submits a just-created job now, in the background. `prepared` comes from the
    /// transaction that created the job ([`prepare_new`]), which also claimed it.
    pub fn submit_soon(self: &Arc<Self>, prepared: Prepared) {
        use std::sync::atomic::Ordering;
        let me = self.clone();
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        self.rt.spawn(async move {
            let _guard = InFlight(&me.in_flight);
            me.clone().attempt(prepared).await;
        });
    }

    async fn sweep_loop(self: Arc<Self>) {
        let mut tick = tokio::time::interval(SWEEP);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut ticks: u64 = 0;
        loop {
            tick.tick().await;
            ticks += 1;
            if ticks.is_multiple_of(RECONCILE_TICKS) {
                let me = self.clone();
                self.rt.spawn(async move { me.reconcile().await });
            }
            let now = now_ms();
            let due: Vec<i64> = self
                .db
                .read(move |c| {
                    Ok(cortex_jobs::table
                        .filter(cortex_jobs::dispatch.eq(Dispatch::Pending.as_str()))
                        .filter(cortex_jobs::next_attempt.le(now))
                        .order(cortex_jobs::next_attempt.asc())
                        .limit(200)
                        .select(cortex_jobs::id)
                        .load(c)?)
                })
                .await
                .unwrap_or_default();
            for id in due {
                let me = self.clone();
                self.rt.spawn(async move { me.submit(id).await });
            }
        }
    }

    /// A safety net under the events and the watches: jobs running in Cortex without news
    /// for 2 minutes (events lost, or the instance watching them stopped) are asked about over
    /// REST, and applied if they ended.
    async fn reconcile(&self) {
        // A RabbitMQ submission with no news at all for 10 minutes (its message lost, or
        // dropped by cortex-service) is published again: cortex-service finds the job it
        // already has for that request id, or makes it.
        let silent = now_ms() - 600_000;
        let _ = self
            .db
            .write(move |c| {
                diesel::update(
                    cortex_jobs::table
                        .filter(cortex_jobs::dispatch.eq(Dispatch::Sent.as_str()))
                        .filter(cortex_jobs::transport.eq("amqp"))
                        .filter(cortex_jobs::cortex_job_id.is_null())
                        .filter(
                            cortex_jobs::updated_at
                                .lt(silent)
                                .or(cortex_jobs::updated_at
                                    .is_null()
                                    .and(cortex_jobs::created_at.lt(silent))),
                        ),
                )
                .set((
                    cortex_jobs::dispatch.eq(Dispatch::Pending.as_str()),
                    cortex_jobs::next_attempt.eq(now_ms()),
                    cortex_jobs::updated_at.eq(Some(now_ms())),
                ))
                .execute(c)?;
                Ok(())
            })
            .await;
        let before = now_ms() - 120_000;
        let quiet: Vec<CortexJobRow> = self
            .db
            .read(move |c| {
                Ok(cortex_jobs::table
                    .filter(cortex_jobs::dispatch.eq(Dispatch::Sent.as_str()))
                    .filter(cortex_jobs::cortex_job_id.is_not_null())
                    .filter(cortex_jobs::updated_at.lt(before))
                    .order(cortex_jobs::updated_at.asc())
                    .limit(100)
                    .select(CortexJobRow::as_select())
                    .load(c)?)
            })
            .await
            .unwrap_or_default();
        for job in quiet {
            let Some(cid) = job.cortex_job_id.clone() else {
                continue;
            };
            let Some(server) = self.server(&job.cortex_id) else {
                let msg = format!("Cortex server {} is no longer configured", job.cortex_id);
                self.end(job.id, Ended::failure(msg)).await;
                continue;
            };
            match server.report(&cid).await {
                Ok(out) if out.status.is_final() => {
                    tracing::info!(job = %format_id(job.id), "job ended without news reaching this service; applied from Cortex's REST API");
                    let ended = self.ended_from(Some(&server), out).await;
                    self.end(job.id, ended).await;
                }
                Err(CallError::Refused { status: 404, .. }) => {
                    let msg = format!(
                        "job {cid} no longer exists on Cortex server {}",
                        server.name
                    );
                    self.end(job.id, Ended::failure(msg)).await;
                }
                // Still running, or the server is away: asked again in 2 minutes.
                _ => {
                    let id = job.id;
                    let _ = self
                        .db
                        .write(move |c| {
                            diesel::update(cortex_jobs::table.find(id))
                                .set(cortex_jobs::updated_at.eq(Some(now_ms())))
                                .execute(c)?;
                            Ok(())
                        })
                        .await;
                }
            }
        }
    }

    /// Hands over, within `limit`, the jobs accepted but not submitted yet, and lets the
    /// submissions under way finish (at shutdown).
    pub async fn drain(self: &Arc<Self>, limit: Duration) {
        use std::sync::atomic::Ordering;
        let until = Instant::now() + limit;
        let now = now_ms();
        let due: Vec<i64> = self
            .db
            .read(move |c| {
                Ok(cortex_jobs::table
                    .filter(cortex_jobs::dispatch.eq(Dispatch::Pending.as_str()))
                    .filter(cortex_jobs::next_attempt.le(now))
                    .limit(1_000)
                    .select(cortex_jobs::id)
                    .load(c)?)
            })
            .await
            .unwrap_or_default();
        let all = futures_util::future::join_all(due.into_iter().map(|id| self.clone().submit(id)));
        let _ = tokio::time::timeout_at(until.into(), all).await;
        while self.in_flight.load(Ordering::SeqCst) > 0 && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// One submission attempt of job `id`.
    async fn submit(self: Arc<Self>, id: i64) {
        use std::sync::atomic::Ordering;
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        let _guard = InFlight(&self.in_flight);
        self.clone().submit_once(id).await;
    }

    async fn submit_once(self: Arc<Self>, id: i64) {
        let now = now_ms();
        let prepared = self
            .db
            .write(move |c| {
                let n = diesel::update(
                    cortex_jobs::table
                        .find(id)
                        .filter(cortex_jobs::dispatch.eq(Dispatch::Pending.as_str()))
                        .filter(cortex_jobs::next_attempt.le(now)),
                )
                .set(cortex_jobs::next_attempt.eq(now + CLAIM_MS))
                .execute(c)?;
                if n == 0 {
                    return Ok(None);
                }
                let job: CortexJobRow = cortex_jobs::table
                    .find(id)
                    .select(CortexJobRow::as_select())
                    .first(c)?;
                let actor = apply::actor_of(c, &job)?;
                Ok(Some(match prepare_new(c, &actor, job.clone()) {
                    Ok(p) => Ok(p),
                    Err(e) => Err((job, e)),
                }))
            })
            .await;
        match prepared {
            Ok(Some(Ok(p))) => self.attempt(p).await,
            Ok(Some(Err((job, e)))) => self.end(job.id, Ended::failure(e.to_string())).await,
            Ok(None) => {}
            Err(e) => tracing::warn!(job = %format_id(id), error = %e, "submission postponed"),
        }
    }

    /// One attempt at handing a claimed job to its server (at most 32 at once).
    async fn attempt(self: Arc<Self>, prepared: Prepared) {
        let Ok(_slot) = self.attempts.acquire().await else {
            return;
        };
        let Prepared {
            job,
            body,
            attachment,
        } = prepared;
        let Some(server) = self.server(&job.cortex_id) else {
            let msg = format!("Cortex server {} is not configured", job.cortex_id);
            self.end(job.id, Ended::failure(msg)).await;
            return;
        };
        let file = match attachment {
            None => None,
            Some(a) => match tokio::fs::read(self.datastore.path_of(&a.sha256)).await {
                Ok(bytes) => Some(FileToSend {
                    name: a.name,
                    content_type: a.content_type,
                    bytes,
                }),
                Err(e) => {
                    let msg = format!("the observable's file cannot be read: {e}");
                    self.end(job.id, Ended::failure(msg)).await;
                    return;
                }
            },
        };
        let id = job.id;
        let kind = WorkerKind::parse(&job.kind).unwrap_or(WorkerKind::Analyzer);
        // The worker as the target server knows it: ids differ between servers, and a user
        // may have given the name.
        let mut job = job;
        if let Some(wid) = self.server_worker_id(&server, kind, &job.worker_id).await {
            job.worker_id = wid;
        }
        let inline = file
            .as_ref()
            .is_none_or(|f| f.bytes.len() as u64 <= self.settings.max_inline_bytes);
        let by_broker = self.amqp.is_some() && server.name == self.settings.name && inline;
        let result = if by_broker {
            self.publish(&server, &job, kind, &body, file).await
        } else {
            self.post(&server, &job, kind, &body, file).await
        };
        match result {
            Ok(()) => {}
            Err(CallError::Unreachable(e)) => {
                let age = now_ms() - job.created_at;
                if age > i64::try_from(self.settings.submit_retry_secs).unwrap_or(i64::MAX) * 1000 {
                    let msg = format!(
                        "Cortex server {} could not be reached for {} s: {e}",
                        server.name, self.settings.submit_retry_secs
                    );
                    // Only if no other attempt got it going meanwhile.
                    if self.still_pending(id).await {
                        self.end(job.id, Ended::failure(msg)).await;
                    }
                    return;
                }
                let backoff = 1_000_i64 << job.attempts.clamp(0, 5);
                tracing::info!(job = %format_id(job.id), cortex = %server.name, error = %e, "submission retried in {} ms", backoff);
                let attempts = job.attempts + 1;
                let _ = self
                    .db
                    .write(move |c| {
                        diesel::update(cortex_jobs::table.find(id))
                            .set((
                                cortex_jobs::attempts.eq(attempts),
                                cortex_jobs::next_attempt.eq(now_ms() + backoff),
                            ))
                            .execute(c)?;
                        Ok(())
                    })
                    .await;
            }
            Err(CallError::Refused { message, .. }) => {
                let msg = format!("Cortex server {} refused the job: {message}", server.name);
                self.end(job.id, Ended::failure(msg)).await;
            }
        }
    }

    async fn still_pending(&self, id: i64) -> bool {
        self.db
            .read(move |c| {
                Ok(cortex_jobs::table
                    .find(id)
                    .select(cortex_jobs::dispatch)
                    .first::<String>(c)
                    .optional()?)
            })
            .await
            .ok()
            .flatten()
            .is_some_and(|d| d == Dispatch::Pending.as_str())
    }

    /// The id on `server` of the worker `key` (an id or a name), from that server's list.
    async fn server_worker_id(
        &self,
        server: &Server,
        kind: WorkerKind,
        key: &str,
    ) -> Option<String> {
        let cached = self
            .workers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(server.name.clone(), kind))
            .filter(|(at, _)| at.elapsed() < WORKERS_TTL)
            .map(|(_, l)| l.clone());
        let list = match cached {
            Some(l) => l,
            None => {
                let l = server.workers(kind).await.ok()?;
                self.workers
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert((server.name.clone(), kind), (Instant::now(), l.clone()));
                l
            }
        };
        list.iter()
            .find(|w| w.id == key)
            .or_else(|| list.iter().find(|w| w.name == key))
            .map(|w| w.id.clone())
    }

    /// REST submission; the answer is recorded, and watched until it ends unless the
    /// broker brings it.
    async fn post(
        self: &Arc<Self>,
        server: &Arc<Server>,
        job: &CortexJobRow,
        kind: WorkerKind,
        body: &Value,
        file: Option<FileToSend>,
    ) -> Result<(), CallError> {
        let out = match file {
            Some(f) => {
                server
                    .run_file(&job.worker_id, body, &f.name, &f.content_type, f.bytes)
                    .await?
            }
            None => server.run_json(kind, &job.worker_id, body).await?,
        };
        let id = job.id;
        // Over the broker's server, a file posted over REST still has its events come back
        // through the broker (same request id); any other server is watched over REST.
        let transport = if self.amqp.is_some() && server.name == self.settings.name {
            "amqp"
        } else {
            "rest"
        };
        self.record_progress(id, &out, transport).await;
        if out.status.is_final() {
            // A cached or earlier job comes without its report.
            let out = match out.report {
                Some(_) => out,
                None => server.report(&out.id).await?,
            };
            let ended = self.ended_from(Some(server), out).await;
            self.end(id, ended).await;
        } else if transport == "rest" {
            self.watch(id);
        }
        Ok(())
    }

    /// RabbitMQ submission, confirmed by the broker.
    async fn publish(
        &self,
        server: &Arc<Server>,
        job: &CortexJobRow,
        kind: WorkerKind,
        body: &Value,
        file: Option<FileToSend>,
    ) -> Result<(), CallError> {
        let Some(amqp) = &self.amqp else {
            return Err(CallError::Unreachable("no broker".into()));
        };
        let login = match server.login() {
            Some(l) => l,
            None => {
                // A key the server refuses fails the job at once; a server away is retried.
                let checked = server.check().await;
                self.checks
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(
                        server.name.clone(),
                        (Instant::now(), checked.clone().map_err(|e| e.to_string())),
                    );
                checked?;
                server
                    .login()
                    .ok_or_else(|| CallError::Unreachable("the key's user is unknown".into()))?
            }
        };
        let submission = JobSubmission {
            request_id: job.request_id.clone(),
            kind,
            worker: job.worker_id.clone(),
            data_type: body["dataType"].as_str().unwrap_or_default().to_string(),
            data: body.get("data").cloned(),
            attachment: file.map(|f| InlineAttachment {
                name: f.name,
                content_type: f.content_type,
                content: base64::engine::general_purpose::STANDARD.encode(&f.bytes),
            }),
            tlp: body["tlp"].as_i64().unwrap_or(2) as i32,
            pap: body["pap"].as_i64().unwrap_or(2) as i32,
            message: body["message"].as_str().unwrap_or_default().to_string(),
            parameters: body["parameters"].clone(),
            force: false,
        };
        let text = serde_json::to_string(&submission)
            .map_err(|e| CallError::Unreachable(e.to_string()))?;
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(server.key_digest().as_bytes())
            .map_err(|e| CallError::Unreachable(e.to_string()))?;
        mac.update(text.as_bytes());
        let signed = SignedSubmission {
            user: login,
            signature: hex::encode(mac.finalize().into_bytes()),
            submission: text,
        };
        amqp.publish_envelope(
            "",
            &self.settings.submissions_queue,
            &MessageKind::Submit.as_str(),
            &signed,
            Some(job.request_id.clone()),
        )
        .await
        .map_err(|e| CallError::Unreachable(format!("broker: {e}")))?;
        let id = job.id;
        let _ = self
            .db
            .write(move |c| {
                diesel::update(
                    cortex_jobs::table
                        .find(id)
                        .filter(cortex_jobs::dispatch.eq(Dispatch::Pending.as_str())),
                )
                .set((
                    cortex_jobs::dispatch.eq(Dispatch::Sent.as_str()),
                    cortex_jobs::transport.eq("amqp"),
                ))
                .execute(c)?;
                Ok(())
            })
            .await;
        Ok(())
    }

    /// Records what the server said of a job still running (or just accepted).
    async fn record_progress(&self, id: i64, out: &OutputJob, transport: &'static str) {
        let (cortex_job_id, status) = (out.id.clone(), out.status);
        let worker = (
            out.worker_id.clone(),
            out.worker_name.clone(),
            out.worker_definition_id.clone(),
        );
        let start = out.start_date;
        let _ = self
            .db
            .write(move |c| {
                let Some(job) = cortex_jobs::table
                    .find(id)
                    .select(CortexJobRow::as_select())
                    .first(c)
                    .optional()?
                else {
                    return Ok(());
                };
                if job.dispatch == Dispatch::Done.as_str() {
                    return Ok(());
                }
                // Forward only: an InProgress seen first is not undone by a late Waiting.
                let status = if status.is_final()
                    || job.status == JobStatus::InProgress.as_str() && status == JobStatus::Waiting
                {
                    job.status.clone()
                } else {
                    status.as_str().to_string()
                };
                // Conditional: a result applied meanwhile (events are handled concurrently)
                // is never overwritten by progress.
                diesel::update(
                    cortex_jobs::table
                        .find(id)
                        .filter(cortex_jobs::dispatch.ne(Dispatch::Done.as_str())),
                )
                .set((
                    cortex_jobs::cortex_job_id.eq(Some(cortex_job_id)),
                    cortex_jobs::status.eq(status),
                    cortex_jobs::dispatch.eq(Dispatch::Sent.as_str()),
                    cortex_jobs::transport.eq(transport),
                    cortex_jobs::worker_id.eq(worker.0),
                    cortex_jobs::worker_name.eq(worker.1),
                    cortex_jobs::worker_definition.eq(worker.2),
                    cortex_jobs::start_date.eq(start.unwrap_or(job.start_date)),
                    cortex_jobs::updated_at.eq(Some(now_ms())),
                ))
                .execute(c)?;
                Ok(())
            })
            .await;
    }

    /// The end of a job as Cortex reported it, with its file artifacts fetched when they are
    /// to be imported.
    async fn ended_from(&self, server: Option<&Server>, out: OutputJob) -> Ended {
        let report = match out.status {
            JobStatus::Success => out.report.clone().unwrap_or_else(|| json!({})),
            JobStatus::Deleted => {
                json!({"success": false, "errorMessage": "the job was deleted on Cortex"})
            }
            _ => {
                let message = out
                    .report
                    .as_ref()
                    .and_then(|r| r.get("errorMessage"))
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .or_else(|| out.error_message.clone())
                    .unwrap_or_else(|| "the job failed".into());
                json!({"success": false, "errorMessage": message})
            }
        };
        // PostgreSQL text takes no NUL; a worker's output may hold some.
        let report = if report.to_string().contains("\\u0000") {
            serde_json::from_str(&report.to_string().replace("\\u0000", ""))
                .unwrap_or_else(|_| json!({"success": false, "errorMessage": "unreadable report"}))
        } else {
            report
        };
        let mut files = HashMap::new();
        if out.status == JobStatus::Success && out.kind == WorkerKind::Analyzer {
            for a in report
                .get("artifacts")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let wanted = a
                    .get("tags")
                    .and_then(Value::as_array)
                    .is_some_and(|t| t.iter().any(|t| t == apply::AUTO_IMPORT));
                let (Some(id), true) =
                    (a.pointer("/attachment/id").and_then(Value::as_str), wanted)
                else {
                    continue;
                };
                let Some(server) = server else {
                    continue;
                };
                match self.fetch_file(server, id, a).await {
                    Ok(f) => {
                        files.insert(id.to_string(), f);
                    }
                    Err(e) => {
                        tracing::warn!(cortex = %server.name, artifact = id, error = %e, "file artifact not imported")
                    }
                }
            }
        }
        Ended {
            status: match out.status {
                JobStatus::Success => JobStatus::Success.as_str(),
                JobStatus::Deleted => JobStatus::Deleted.as_str(),
                _ => JobStatus::Failure.as_str(),
            }
            .into(),
            cortex_job_id: Some(out.id.clone()),
            worker: Some((
                out.worker_id.clone(),
                out.worker_name.clone(),
                out.worker_definition_id.clone(),
            )),
            start_date: out.start_date,
            report,
            files,
        }
    }

    async fn fetch_file(&self, server: &Server, id: &str, a: &Value) -> Result<NewFile, String> {
        let bytes = server
            .download(id, self.max_file_bytes)
            .await
            .map_err(|e| e.to_string())?;
        let ds = self.datastore.clone();
        let stored = tokio::task::spawn_blocking(move || ds.put(&bytes))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        let name = a
            .pointer("/attachment/name")
            .and_then(Value::as_str)
            .map(service_kit::body::base_name)
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| stored.sha256.clone());
        Ok(NewFile {
            content_type: service_kit::datastore::content_type(
                a.pointer("/attachment/contentType")
                    .and_then(Value::as_str)
                    .unwrap_or(""),
                &name,
            ),
            name,
            sha256: stored.sha256,
            sha1: stored.sha1,
            md5: stored.md5,
            size: i64::try_from(stored.size).unwrap_or(i64::MAX),
        })
    }

    /// Applies the end of a job, retrying while the database is away.
    async fn end(&self, id: i64, ended: Ended) {
        self.end_with(Key::Id(id), ended).await;
    }

    /// As [`Connector::end`], for the job of a request id.
    async fn end_request(&self, rid: String, ended: Ended) {
        self.end_with(Key::Request(rid), ended).await;
    }

    /// Applies a result. While the database is away it is retried; a result that cannot be
    /// applied (its organisation is gone, a value the database refuses...) ends the job as a
    /// Failure naming the reason, without its effects, rather than being retried for ever.
    async fn end_with(&self, key: Key, ended: Ended) {
        let mut wait = Duration::from_millis(200);
        let mut ended = ended;
        let mut fallback = false;
        loop {
            let (k, e) = (key.clone(), ended.clone());
            let r = self
                .db
                .write(move |c| match &k {
                    Key::Id(id) => apply::finish(c, *id, e),
                    Key::Request(rid) => apply::finish_request(c, rid, e),
                })
                .await;
            match r {
                Ok(Some(job)) => {
                    tracing::info!(job = %format_id(job.id), status = %job.status, cortex = %job.cortex_id, worker = %job.worker_name, "Cortex job ended");
                    return;
                }
                Ok(None) => return,
                Err(e @ ApiError::Unavailable(_)) => {
                    tracing::warn!(job = ?key, error = %e, "job result not stored yet (database away); retrying");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(10));
                }
                Err(e) if !fallback => {
                    tracing::error!(job = ?key, error = %e, "job result cannot be applied; the job fails");
                    fallback = true;
                    ended = Ended {
                        files: HashMap::new(),
                        ..Ended::failure(format!("the result could not be applied: {e}"))
                    };
                }
                Err(e) => {
                    tracing::warn!(job = ?key, error = %e, "job failure not stored yet; retrying");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(10));
                }
            }
        }
    }

    /// REST: waits for the end of a sent job (once per job and instance).
    fn watch(self: &Arc<Self>, id: i64) {
        if !self
            .watching
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id)
        {
            return;
        }
        let me = self.clone();
        self.rt.spawn(async move {
            me.watch_until_done(id).await;
            me.watching
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&id);
        });
    }

    async fn watch_until_done(&self, id: i64) {
        let mut backoff = Duration::from_millis(500);
        loop {
            let job: Option<CortexJobRow> = self
                .db
                .read(move |c| {
                    Ok(cortex_jobs::table
                        .find(id)
                        .select(CortexJobRow::as_select())
                        .first(c)
                        .optional()?)
                })
                .await
                .unwrap_or(None);
            let Some(job) = job else { return };
            if job.dispatch != Dispatch::Sent.as_str() {
                return;
            }
            let (Some(server), Some(cortex_job)) =
                (self.server(&job.cortex_id), job.cortex_job_id.clone())
            else {
                return;
            };
            match server.wait_report(&cortex_job, 60).await {
                Ok(out) if out.status.is_final() => {
                    let ended = self.ended_from(Some(&server), out).await;
                    self.end(id, ended).await;
                    return;
                }
                Ok(out) => {
                    self.record_progress(id, &out, "rest").await;
                    backoff = Duration::from_millis(500);
                }
                Err(CallError::Refused { status: 404, .. }) => {
                    let msg = format!(
                        "job {cortex_job} no longer exists on Cortex server {}",
                        server.name
                    );
                    self.end(id, Ended::failure(msg)).await;
                    return;
                }
                Err(e) => {
                    tracing::info!(job = %format_id(id), cortex = %server.name, error = %e, "waiting for the job's report; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(15));
                }
            }
        }
    }

    /// At start: watch again the REST jobs that were running.
    async fn resume_watches(self: Arc<Self>) {
        let ids: Vec<i64> = self
            .db
            .read(|c| {
                Ok(cortex_jobs::table
                    .filter(cortex_jobs::dispatch.eq(Dispatch::Sent.as_str()))
                    .filter(cortex_jobs::transport.eq("rest"))
                    .select(cortex_jobs::id)
                    .load(c)?)
            })
            .await
            .unwrap_or_default();
        for id in ids {
            self.watch(id);
        }
    }

    // --- RabbitMQ ---------------------------------------------------------------------------

    /// Applies one event; `Err` when it should come again.
    async fn handle_event(&self, body: &[u8]) -> Result<(), String> {
        let Ok(envelope) = serde_json::from_slice::<Envelope<Value>>(body) else {
            tracing::warn!("Cortex event that is not an envelope; dropped");
            return Ok(());
        };
        if MessageKind::parse(&envelope.kind) == Some(MessageKind::RequestRejected) {
            let Ok(r) = serde_json::from_value::<SubmissionRejected>(envelope.payload) else {
                return Ok(());
            };
            let Some(job) = self.by_request(r.request_id.clone()).await? else {
                return Ok(());
            };
            let msg = format!(
                "Cortex server {} refused the job ({} {}): {}",
                job.cortex_id, r.status, r.kind, r.message
            );
            self.end(job.id, Ended::failure(msg)).await;
            return Ok(());
        }
        let Ok(event) = serde_json::from_value::<JobEvent>(envelope.payload) else {
            return Ok(());
        };
        let Some(rid) = event.request_id.clone() else {
            return Ok(());
        };
        let out = event.job;
        match out.status {
            // `Waiting` tells nothing new: the job is Waiting since it was made.
            JobStatus::Waiting => Ok(()),
            JobStatus::InProgress => {
                self.progress_by_request(rid, &out).await;
                Ok(())
            }
            _ => {
                // Files to import need the server; everything else is applied directly.
                let server = if wants_files(&out) {
                    let Some(job) = self.by_request(rid.clone()).await? else {
                        return Ok(());
                    };
                    if job.dispatch == Dispatch::Done.as_str() {
                        return Ok(());
                    }
                    self.server(&job.cortex_id)
                } else {
                    None
                };
                let ended = self.ended_from(server.as_deref(), out).await;
                self.end_request(rid, ended).await;
                Ok(())
            }
        }
    }

    /// `InProgress` from an event: one conditional UPDATE (never over a result).
    async fn progress_by_request(&self, rid: String, out: &OutputJob) {
        let (cortex_job_id, start) = (out.id.clone(), out.start_date);
        let worker = (
            out.worker_id.clone(),
            out.worker_name.clone(),
            out.worker_definition_id.clone(),
        );
        let r = self
            .db
            .write(move |c| {
                let target = cortex_jobs::table
                    .filter(cortex_jobs::request_id.eq(&rid))
                    .filter(cortex_jobs::dispatch.ne(Dispatch::Done.as_str()));
                let now = now_ms();
                diesel::update(target)
                    .set((
                        cortex_jobs::status.eq(JobStatus::InProgress.as_str()),
                        cortex_jobs::cortex_job_id.eq(Some(cortex_job_id)),
                        cortex_jobs::dispatch.eq(Dispatch::Sent.as_str()),
                        cortex_jobs::worker_id.eq(worker.0),
                        cortex_jobs::worker_name.eq(worker.1),
                        cortex_jobs::worker_definition.eq(worker.2),
                        cortex_jobs::start_date.eq(start.unwrap_or(now)),
                        cortex_jobs::updated_at.eq(Some(now)),
                    ))
                    .execute(c)?;
                Ok(())
            })
            .await;
        if let Err(e) = r {
            tracing::warn!(error = %e, "job progress not recorded");
        }
    }

    async fn by_request(&self, rid: String) -> Result<Option<CortexJobRow>, String> {
        self.db
            .read(move |c| {
                Ok(cortex_jobs::table
                    .filter(cortex_jobs::request_id.eq(rid))
                    .select(CortexJobRow::as_select())
                    .first(c)
                    .optional()?)
            })
            .await
            .map_err(|e| e.to_string())
    }
}

/// Worker lists of several servers merged by name, each with the servers that have it.
fn merge_workers(
    lists: impl IntoIterator<Item = (String, Vec<OutputWorker>)>,
) -> Vec<MergedWorker> {
    let mut merged: Vec<MergedWorker> = Vec::new();
    for (server, list) in lists {
        for w in list {
            match merged.iter_mut().find(|m| m.name == w.name) {
                Some(m) => {
                    if !m.cortex_ids.contains(&server) {
                        m.cortex_ids.push(server.clone());
                    }
                }
                None => merged.push(MergedWorker {
                    id: w.id,
                    name: w.name,
                    version: w.version,
                    description: w.description,
                    data_type_list: w.data_type_list,
                    cortex_ids: vec![server.clone()],
                }),
            }
        }
    }
    merged
}

/// A job, by id or by request id.
#[derive(Debug, Clone)]
enum Key {
    Id(i64),
    Request(String),
}

/// Whether an ended job has file artifacts to import (they are fetched from the server).
fn wants_files(out: &OutputJob) -> bool {
    out.status == JobStatus::Success
        && out.kind == WorkerKind::Analyzer
        && out
            .report
            .as_ref()
            .and_then(|r| r.get("artifacts"))
            .and_then(Value::as_array)
            .is_some_and(|arts| {
                arts.iter().any(|a| {
                    a.pointer("/attachment/id").is_some()
                        && a.get("tags")
                            .and_then(Value::as_array)
                            .is_some_and(|t| t.iter().any(|t| t == apply::AUTO_IMPORT))
                })
            })
}

/// Counts a submission under way (for [`Connector::drain`]) until dropped.
struct InFlight<'a>(&'a std::sync::atomic::AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A claimed job with what its worker is given.
#[derive(Debug)]
pub struct Prepared {
    job: CortexJobRow,
    body: Value,
    attachment: Option<AttachmentRow>,
}

/// Inside the transaction that created (or claimed) `job`: what its worker is given (the
/// observable or the object, parameters, `requestId`).
pub fn prepare_new(c: &mut DbConn, actor: &Actor, job: CortexJobRow) -> Result<Prepared, ApiError> {
    let (mut body, attachment) = run_body(c, actor, &job)?;
    body["parameters"] = serde_json::from_str(&job.parameters).unwrap_or_else(|_| json!({}));
    body["requestId"] = json!(job.request_id);
    Ok(Prepared {
        job,
        body,
        attachment,
    })
}

/// A file to hand to a worker.
struct FileToSend {
    name: String,
    content_type: String,
    bytes: Vec<u8>,
}

/// The run body of a job (`dataType`, `data`, `tlp`, `pap`, `message`), and the attachment
/// of a file observable.
fn run_body(
    c: &mut DbConn,
    actor: &Actor,
    job: &CortexJobRow,
) -> Result<(Value, Option<AttachmentRow>), ApiError> {
    let id = format_id(job.object_id);
    if job.kind == "analyzer" {
        let o = cw::find_observable(c, actor, &id)?;
        let att = match o.attachment_id {
            Some(a) => Some(
                attachments::table
                    .find(a)
                    .select(AttachmentRow::as_select())
                    .first(c)?,
            ),
            None => None,
        };
        let mut body = json!({
            "dataType": o.data_type,
            "tlp": o.tlp.min(3),
            "pap": o.pap,
            "message": o.message.clone().unwrap_or_default(),
        });
        if att.is_none() {
            body["data"] = json!(o.data);
        }
        return Ok((body, att));
    }
    let (entity, tlp, pap) = entity(c, actor, &job.object_type, job.object_id)?;
    let tlp = job.tlp.unwrap_or(tlp);
    Ok((
        json!({
            "dataType": format!("thehive:{}", job.object_type),
            "data": entity,
            "tlp": tlp.min(3),
            "pap": pap.min(3),
            "message": "",
        }),
        None,
    ))
}

/// The object a responder acts on, as JSON (TheHive 5's shape with TheHive 4's `id`,
/// `caseId` and `owner` beside it, which community responders read), with its TLP and PAP.
pub fn entity(
    c: &mut DbConn,
    actor: &Actor,
    object_type: &str,
    object_id: i64,
) -> Result<(Value, i32, i32), ApiError> {
    let id = format_id(object_id);
    let case_levels = |c: &mut DbConn, case_id: i64| -> Result<(i32, i32), ApiError> {
        let k = cw::find_case(c, actor, &format_id(case_id))?;
        Ok((k.tlp, k.pap))
    };
    let (mut v, tlp, pap) = match object_type {
        "case" => {
            let k = cw::find_case(c, actor, &id)?;
            let mut v = render::to_value(&render::cases(c, std::slice::from_ref(&k))?[0]);
            v["caseId"] = json!(k.number);
            v["owner"] = json!(k.assignee);
            (v, k.tlp, k.pap)
        }
        "case_task" => {
            let t = cw::find_task(c, actor, &id)?;
            let (tlp, pap) = case_levels(c, t.case_id)?;
            let mut v = render::to_value(&render::task(&t));
            v["owner"] = json!(t.assignee);
            v["_parent"] = json!(format_id(t.case_id));
            (v, tlp, pap)
        }
        "case_task_log" => {
            let l = cw::find_log(c, actor, &id)?;
            let t = cw::find_task(c, actor, &format_id(l.task_id))?;
            let (tlp, pap) = case_levels(c, t.case_id)?;
            let mut v = render::to_value(&render::logs(c, std::slice::from_ref(&l))?[0]);
            v["_parent"] = json!(format_id(l.task_id));
            (v, tlp, pap)
        }
        "case_artifact" => {
            let o = cw::find_observable(c, actor, &id)?;
            let v = render::to_value(&render::observables(c, std::slice::from_ref(&o))?[0]);
            (v, o.tlp, o.pap)
        }
        "alert" => {
            let a = cw::find_alert(c, actor.org_id, &id)?;
            let v = render::to_value(&render::alerts(c, std::slice::from_ref(&a))?[0]);
            (v, a.tlp, a.pap)
        }
        other => return Err(ApiError::BadRequest(format!("unknown object type {other}"))),
    };
    v["id"] = json!(id);
    v["_type"] = json!(object_type);
    Ok((v, tlp, pap))
}
