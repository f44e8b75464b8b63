//! The REST transport: `POST /api/{kind}/{id}/run` on the server, then `waitreport` until
//! the job ends, as TheHive does; watches resume at start for jobs still running.

use super::apply::Ended;
use super::client::{CallError, Server};
use super::connector::Connector;
use super::Dispatch;
use crate::db::casework::*;
use crate::db::format_id;
use crate::db::schema::cortex_jobs;
use diesel::prelude::*;
use shared_models::cortex::{RunBody, RunRequest, WorkerKind};
use std::sync::Arc;
use std::time::Duration;

use super::outbox::FileToSend;

impl Connector {
    /// REST submission; the answer is recorded, and watched until it ends unless the
    /// broker brings it.
    pub(super) async fn post(
        self: &Arc<Self>,
        server: &Arc<Server>,
        job: &CortexJobRow,
        kind: WorkerKind,
        run: RunRequest,
        file: Option<FileToSend>,
    ) -> Result<(), CallError> {
        let body = RunBody {
            run,
            request_id: Some(job.request_id.clone()),
            force: false,
        };
        let body = &body;
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

    /// REST: waits for the end of a sent job (once per job and instance).
    pub(super) fn watch(self: &Arc<Self>, id: i64) {
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

    pub(super) async fn watch_until_done(&self, id: i64) {
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
    pub(super) async fn resume_watches(self: Arc<Self>) {
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
}
