//! The RabbitMQ transport: signed job submissions published (confirmed) on the submissions
//! queue, and cortex-service's job events consumed from this service's events queue.

use super::apply::Ended;
use super::client::{CallError, Server};
use super::connector::Connector;
use super::Dispatch;
use crate::db::casework::*;
use crate::db::now_ms;
use crate::db::schema::cortex_jobs;
use base64::Engine as _;
use diesel::prelude::*;
use hmac::{Hmac, Mac};
use serde_json::Value;
use shared_models::cortex::{
    InlineAttachment, JobEvent, JobStatus, JobSubmission, MessageKind, OutputJob, RunRequest,
    SignedSubmission, SubmissionRejected, WorkerKind,
};
use shared_models::envelope::Envelope;
use std::sync::Arc;
use std::time::Instant;

use super::outbox::FileToSend;
use super::results::wants_files;

impl Connector {
    /// RabbitMQ submission, confirmed by the broker.
    pub(super) async fn publish(
        &self,
        server: &Arc<Server>,
        job: &CortexJobRow,
        kind: WorkerKind,
        run: RunRequest,
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
            run,
            attachment: file.map(|f| InlineAttachment {
                name: f.name,
                content_type: f.content_type,
                content: base64::engine::general_purpose::STANDARD.encode(&f.bytes),
            }),
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

    /// Applies one event; `Err` when it should come again.
    pub(super) async fn handle_event(&self, body: &[u8]) -> Result<(), String> {
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
    pub(super) async fn progress_by_request(&self, rid: String, out: &OutputJob) {
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

    pub(super) async fn by_request(&self, rid: String) -> Result<Option<CortexJobRow>, String> {
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
