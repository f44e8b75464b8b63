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

use super::client::Server;
use super::servers::{Checked, Listed};
use crate::config::CortexSettings;
use crate::db::Db;
use service_kit::datastore::Datastore;
use service_kit::messaging::{
    spawn_consumer, topology, Broker, ConsumerSpec, Outcome, RetryPolicy,
};
use shared_models::cortex::WorkerKind;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long one submission attempt holds its job, ms.
pub const CLAIM_MS: i64 = 15_000;
/// Period of the outbox sweep.
pub(super) const SWEEP: Duration = Duration::from_secs(1);
/// How long a server's check is remembered for `/api/status`.
pub(super) const CHECK_TTL: Duration = Duration::from_secs(10);
/// How long worker lists are remembered.
pub(super) const WORKERS_TTL: Duration = Duration::from_secs(30);
/// Sweeps between two reconciliations of quiet RabbitMQ jobs.
pub(super) const RECONCILE_TICKS: u64 = 30;

/// The Cortex connector of this instance.
pub struct Connector {
    pub(super) db: Db,
    pub(super) datastore: Datastore,
    pub(super) servers: Vec<Arc<Server>>,
    pub(super) settings: CortexSettings,
    pub(super) max_file_bytes: u64,
    /// The process's broker, when jobs go through RabbitMQ.
    pub(super) amqp: Option<Broker>,
    pub(super) checks: Mutex<HashMap<String, Checked>>,
    pub(super) workers: Mutex<HashMap<(String, WorkerKind), Listed>>,
    pub(super) watching: Mutex<HashSet<i64>>,
    pub(super) in_flight: std::sync::atomic::AtomicUsize,
    pub(super) attempts: tokio::sync::Semaphore,
    /// The service's main runtime: work started from a request must not run on (and die
    /// with) the HTTP worker's own runtime.
    pub(super) rt: tokio::runtime::Handle,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("servers", &self.servers)
            .field("broker", &self.amqp.is_some())
            .finish()
    }
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

    /// The transport a new job will use.
    pub fn transport(&self) -> &'static str {
        if self.amqp.is_some() {
            "amqp"
        } else {
            "rest"
        }
    }

    // --- RabbitMQ ---------------------------------------------------------------------------
}

/// A job, by id or by request id.
#[derive(Debug, Clone)]
pub(super) enum Key {
    Id(i64),
    Request(String),
}

/// Counts a submission under way (for [`Connector::drain`]) until dropped.
pub(super) struct InFlight<'a>(pub(super) &'a std::sync::atomic::AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}
