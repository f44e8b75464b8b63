//! Run requests over RabbitMQ: the queue `jobs.submissions_queue` (default `cortex.requests`)
//! takes [`SignedSubmission`]s, which become jobs exactly as `POST /api/{kind}/{id}/run`
//! would make them (same checks, cache, rate limit; [`crate::routes::jobs::submit`]).
//!
//! A submission names a cortex user and carries the HMAC-SHA256 of its text keyed with the
//! digest of that user's API key: no key travels through or rests in the broker, and only a
//! holder of the key can submit. Answers go out on `cortex.events`: the `job.<status>` events
//! of the job, carrying the submission's `requestId`, or one `request.rejected`
//! ([`SubmissionRejected`]) when the request cannot become a job. A message is acknowledged
//! only once its job is recorded (or its rejection published), and a redelivered submission
//! finds its job by `requestId` instead of making a second one.

use crate::datastore::Datastore;
use crate::db::schema::{organizations, users};
use crate::db::{Db, UserRow};
use crate::engine::Engine;
use crate::error::ApiError;
use crate::routes::jobs::{submit, SubmitFile, Submitted, Submitter};
use crate::workers::Catalog;
use actix_web::ResponseError;
use base64::Engine as _;
use diesel::prelude::*;
use futures_util::StreamExt;
use hmac::{Hmac, Mac};
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicQosOptions, BasicRejectOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};
use serde_json::{Map, Value};
use shared_models::cortex::{JobSubmission, Role, SignedSubmission, SubmissionRejected};
use shared_models::envelope::Envelope;
use std::sync::Arc;
use std::time::Duration;

/// Largest inline file, decoded (larger files go through the REST API).
pub const MAX_INLINE_BYTES: usize = 8 * 1024 * 1024;

/// What a submission needs to become a job.
pub struct Submissions {
    /// The database.
    pub db: Db,
    /// Worker definitions.
    pub catalog: Arc<Catalog>,
    /// The engine (announces and dispatches).
    pub engine: Arc<Engine>,
    /// Where inline files are stored.
    pub datastore: Datastore,
    /// Default cache window, minutes.
    pub default_cache: f64,
    /// The queue consumed.
    pub queue: String,
    /// The broker.
    pub url: String,
}

/// Why a submission was not taken.
enum Refusal {
    /// Answered with `request.rejected`.
    Client(String, ApiError),
    /// Retried later (the database or the broker is away).
    Transient(String),
    /// Not a submission at all: dropped.
    Poison(String),
}

impl Submissions {
    /// Consumes the queue for ever, reconnecting with backoff.
    pub async fn run(self: Arc<Self>) {
        let mut backoff = Duration::from_millis(500);
        loop {
            match self.consume().await {
                Ok(()) => backoff = Duration::from_millis(500),
                Err(e) => {
                    tracing::warn!(error = %e, queue = %self.queue, "submissions: connection lost or refused")
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(30));
        }
    }

    async fn consume(self: &Arc<Self>) -> Result<(), String> {
        let props = ConnectionProperties::default()
            .with_connection_name("cortex-service submissions".into());
        let conn = tokio::time::timeout(
            Duration::from_secs(10),
            Connection::connect(&self.url, props),
        )
        .await
        .map_err(|_| "RabbitMQ did not answer".to_string())?
        .map_err(|e| e.to_string())?;
        let ch = conn.create_channel().await.map_err(|e| e.to_string())?;
        ch.queue_declare(
            self.queue.as_str().into(),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .map_err(|e| e.to_string())?;
        ch.basic_qos(64, BasicQosOptions::default())
            .await
            .map_err(|e| e.to_string())?;
        let mut consumer = ch
            .basic_consume(
                self.queue.as_str().into(),
                format!("cortex-submissions-{}", self.engine.instance())
                    .as_str()
                    .into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(|e| e.to_string())?;
        tracing::info!(queue = %self.queue, "submissions consumed");
        while let Some(delivery) = consumer.next().await {
            let delivery = delivery.map_err(|e| e.to_string())?;
            let me = self.clone();
            tokio::spawn(async move { me.handle(delivery).await });
        }
        let _ = conn.close(200, "consumer ended".into()).await;
        Err("the consumer stopped".into())
    }

    async fn handle(&self, delivery: lapin::message::Delivery) {
        let outcome = self.take(&delivery.data).await;
        let acked = match outcome {
            Ok(()) => delivery
                .acker
                .ack(BasicAckOptions::default())
                .await
                .map(|_| ()),
            Err(Refusal::Client(request_id, e)) => {
                tracing::info!(request = %request_id, error = %e, "submission rejected");
                let rejected = SubmissionRejected {
                    request_id: request_id.clone(),
                    status: e.status_code().as_u16(),
                    kind: e.kind().into(),
                    message: e.to_string(),
                };
                match self
                    .engine
                    .events()
                    .publish("request.rejected", &rejected, Some(request_id))
                    .await
                {
                    Ok(()) => delivery
                        .acker
                        .ack(BasicAckOptions::default())
                        .await
                        .map(|_| ()),
                    Err(_) => requeue(&delivery).await,
                }
            }
            Err(Refusal::Transient(e)) => {
                tracing::warn!(error = %e, "submission retried in 1 s");
                requeue(&delivery).await
            }
            Err(Refusal::Poison(e)) => {
                tracing::error!(error = %e, "not a submission; dropped");
                delivery
                    .acker
                    .reject(BasicRejectOptions { requeue: false })
                    .await
                    .map(|_| ())
            }
        };
        if let Err(e) = acked {
            tracing::warn!(error = %e, "submission not acknowledged; it will come again");
        }
    }

    /// Verifies, records and dispatches one submission.
    async fn take(&self, body: &[u8]) -> Result<(), Refusal> {
        let envelope: Envelope<SignedSubmission> =
            serde_json::from_slice(body).map_err(|e| Refusal::Poison(e.to_string()))?;
        let signed = envelope.payload;
        let sub: JobSubmission = serde_json::from_str(&signed.submission)
            .map_err(|e| Refusal::Poison(format!("submission: {e}")))?;
        let rid = sub.request_id.clone();
        if rid.is_empty() || rid.len() > 128 || rid.contains('\0') {
            return Err(Refusal::Poison("requestId: 1 to 128 characters".into()));
        }
        let client = |e: ApiError| Refusal::Client(rid.clone(), e);
        let login = signed.user.clone();
        let user: Option<(UserRow, String)> = self
            .db
            .read(move |c| {
                Ok(users::table
                    .find(&login)
                    .inner_join(
                        organizations::table.on(organizations::id.eq(users::organization_id)),
                    )
                    .select((UserRow::as_select(), organizations::status))
                    .first(c)
                    .optional()?)
            })
            .await
            .map_err(|e| Refusal::Transient(e.to_string()))?;
        let denied = || {
            client(ApiError::Authentication(
                "submission not signed with a valid API key".into(),
            ))
        };
        let Some((user, org_status)) = user else {
            return Err(denied());
        };
        let Some(key_digest) = user.api_key_hash.as_deref() else {
            return Err(denied());
        };
        let mut mac =
            Hmac::<sha2::Sha256>::new_from_slice(key_digest.as_bytes()).map_err(|_| denied())?;
        mac.update(signed.submission.as_bytes());
        let signature = hex::decode(signed.signature.trim()).map_err(|_| denied())?;
        mac.verify_slice(&signature).map_err(|_| denied())?;
        let roles: Vec<Role> = serde_json::from_str(&user.roles).unwrap_or_default();
        if user.status != "Ok" || org_status != "Active" || !roles.contains(&Role::Analyze) {
            return Err(client(ApiError::Authorization(format!(
                "user {} may not run jobs",
                user.id
            ))));
        }
        let mut fields = Map::new();
        fields.insert("dataType".into(), Value::String(sub.data_type.clone()));
        if let Some(d) = sub.data.clone() {
            fields.insert("data".into(), d);
        }
        fields.insert("tlp".into(), sub.tlp.into());
        fields.insert("pap".into(), sub.pap.into());
        fields.insert("message".into(), Value::String(sub.message.clone()));
        fields.insert("parameters".into(), sub.parameters.clone());
        let file = match &sub.attachment {
            None => None,
            Some(a) => {
                if a.content.len() > MAX_INLINE_BYTES / 3 * 4 + 4 {
                    return Err(client(ApiError::PayloadTooLarge(format!(
                        "inline files are limited to {MAX_INLINE_BYTES} bytes"
                    ))));
                }
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(a.content.as_bytes())
                    .map_err(|_| client(ApiError::attribute("attachment", "not base64")))?;
                let ds = self.datastore.clone();
                let stored = tokio::task::spawn_blocking(move || ds.put(&bytes))
                    .await
                    .map_err(|e| Refusal::Transient(e.to_string()))?
                    .map_err(|e| Refusal::Transient(format!("datastore: {e}")))?;
                let name = crate::routes::body::base_name(&a.name);
                if name.is_empty() || name.len() > 512 || a.content_type.len() > 255 {
                    return Err(client(ApiError::attribute(
                        "attachment",
                        "name (1 to 512) or contentType (up to 255) too long",
                    )));
                }
                Some(SubmitFile {
                    stored,
                    filename: name,
                    content_type: a.content_type.clone(),
                })
            }
        };
        let who = Submitter {
            organization: user.organization_id.clone(),
            login: user.id.clone(),
        };
        let transient = |e: ApiError| match e {
            ApiError::Internal(m) => Refusal::Transient(m),
            ApiError::Unavailable(m) => Refusal::Transient(m),
            other => client(other),
        };
        let mut submitted = submit(
            &self.db,
            &self.catalog,
            self.default_cache,
            &who,
            sub.kind,
            &sub.worker,
            fields.clone(),
            file.clone(),
            sub.force,
            Some(rid.clone()),
        )
        .await
        .map_err(transient)?;
        // The cache answers a submission only with a job that has ended: the events of a job
        // still running carry that job's own request id, so this submission would never hear
        // of its end. It runs as a job of its own instead.
        if let Submitted::Cached(row) = &submitted {
            let ended = shared_models::cortex::JobStatus::parse(&row.status)
                .is_some_and(shared_models::cortex::JobStatus::is_final);
            if !ended {
                submitted = submit(
                    &self.db,
                    &self.catalog,
                    self.default_cache,
                    &who,
                    sub.kind,
                    &sub.worker,
                    fields,
                    file,
                    true,
                    Some(rid.clone()),
                )
                .await
                .map_err(transient)?;
            }
        }
        match submitted {
            Submitted::New(row) => {
                tokio::join!(self.engine.announce(&row), self.engine.dispatch(&row.id));
            }
            Submitted::Cached(row) => {
                // Answered at once; acknowledged only once the answer is out.
                self.engine
                    .announce_as(&row, Some(rid.clone()))
                    .await
                    .map_err(|e| Refusal::Transient(e.to_string()))?;
            }
            Submitted::Existing(row) => {
                // A redelivery: the job's events follow (its final one is kept until
                // confirmed); say where it stands now.
                self.engine
                    .announce_as(&row, Some(rid.clone()))
                    .await
                    .map_err(|e| Refusal::Transient(e.to_string()))?;
            }
        }
        Ok(())
    }
}

async fn requeue(delivery: &lapin::message::Delivery) -> lapin::Result<()> {
    tokio::time::sleep(Duration::from_secs(1)).await;
    delivery
        .acker
        .reject(BasicRejectOptions { requeue: true })
        .await
        .map(|_| ())
}
