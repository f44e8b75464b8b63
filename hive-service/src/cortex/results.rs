//! A job's end, whichever transport brought it: progress recorded, the report and its
//! artifact files fetched, and the result applied to the case ([`super::apply`]).

use super::apply::{self, Ended};
use super::client::Server;
use super::connector::{Connector, Key};
use super::Dispatch;
use crate::casework::observables::NewFile;
use crate::db::casework::*;
use crate::db::schema::cortex_jobs;
use crate::db::{format_id, now_ms};
use diesel::prelude::*;
use serde_json::{json, Value};
use service_kit::error::ApiError;
use shared_models::cortex::{JobStatus, OutputJob, WorkerKind};
use std::collections::HashMap;
use std::time::Duration;

impl Connector {
    /// Records what the server said of a job still running (or just accepted).
    pub(super) async fn record_progress(&self, id: i64, out: &OutputJob, transport: &'static str) {
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
    pub(super) async fn ended_from(&self, server: Option<&Server>, out: OutputJob) -> Ended {
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
        let auto_import = self.settings.auto_import;
        if auto_import && out.status == JobStatus::Success && out.kind == WorkerKind::Analyzer {
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
            auto_import,
        }
    }

    pub(super) async fn fetch_file(
        &self,
        server: &Server,
        id: &str,
        a: &Value,
    ) -> Result<NewFile, String> {
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
    pub(super) async fn end(&self, id: i64, ended: Ended) {
        self.end_with(Key::Id(id), ended).await;
    }

    /// As [`Connector::end`], for the job of a request id.
    pub(super) async fn end_request(&self, rid: String, ended: Ended) {
        self.end_with(Key::Request(rid), ended).await;
    }

    /// Applies a result. While the database is away it is retried; a result that cannot be
    /// applied (its organisation is gone, a value the database refuses...) ends the job as a
    /// Failure naming the reason, without its effects, rather than being retried for ever.
    pub(super) async fn end_with(&self, key: Key, ended: Ended) {
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
}

/// Whether an ended job has file artifacts to import (they are fetched from the server).
pub(super) fn wants_files(out: &OutputJob) -> bool {
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
