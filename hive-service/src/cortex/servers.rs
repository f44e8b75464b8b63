//! The Cortex servers as the connector sees them: their checks for `/api/status` and the
//! analyzers and responders each offers, cached and merged by name.

use super::client::Server;
use super::connector::{Connector, CHECK_TTL, WORKERS_TTL};
use shared_models::cortex::{OutputWorker, WorkerKind};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// When a server was checked, and its version or why it failed.
pub(super) type Checked = (Instant, Result<String, String>);
/// When a server's workers were listed, and the list.
pub(super) type Listed = (Instant, Vec<OutputWorker>);

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
    /// The configured servers' names.
    pub fn server_names(&self) -> Vec<String> {
        self.servers.iter().map(|s| s.name.clone()).collect()
    }

    pub(super) fn server(&self, name: &str) -> Option<Arc<Server>> {
        self.servers.iter().find(|s| s.name == name).cloned()
    }

    pub(super) async fn check(&self, s: &Server) -> Result<String, String> {
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

    /// Forgets the worker lists read from the servers: the next read asks them again (the
    /// platform page shows what the servers have now, not what they had up to 30 s ago).
    pub fn forget_workers(&self) {
        self.workers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
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

    /// The id on `server` of the worker `key` (an id or a name), from that server's list.
    pub(super) async fn server_worker_id(
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
}

/// Worker lists of several servers merged by name, each with the servers that have it.
pub(super) fn merge_workers(
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
