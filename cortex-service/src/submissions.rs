//! Run requests over RabbitMQ: the queue `jobs.submissions_queue` (default `cortex.requests`)
//! takes [`SignedSubmission`]s, which become jobs exactly as `POST /api/{kind}/{id}/run`
//! would make them (same checks, cache, rate limit; [`crate::jobs::submit`]).
//!
//! A submission names a cortex user and carries the HMAC-SHA256 of its text keyed with the
//! digest of that user's API key: no key travels through or rests in the broker, and only a
//! holder of the key can submit. Answers go out on `cortex.events`: the `job.<status>` events
//! of the job, carrying the submission's `requestId`, or one `request.rejected`
//! ([`SubmissionRejected`]) when the request cannot become a job. A message is acknowledged
//! only once its job is recorded (or its rejection published), and a redelivered submission
//! finds its job by `requestId` instead of making a second one.

use crate::db::schema::{organizations, users};
use crate::db::{Db, UserRow};
use crate::engine::Engine;
use crate::jobs::{submit, SubmitFile, Submitted, Submitter};
use crate::workers::Catalog;
use base64::Engine as _;
use diesel::prelude::*;
use hmac::{Hmac, Mac};
use service_kit::datastore::Datastore;
use service_kit::error::ApiError;
use service_kit::messaging::{
    spawn_consumer, Broker, ConsumerSpec, Delivery, Outcome, RetryPolicy,
};
use shared_models::cortex::{
    JobSubmission, MessageKind, Role, SignedSubmission, SubmissionRejected,
};
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
    /// Consumes the queue on `broker`'s connection (the kit's consumer harness).
    pub fn start(self: Arc<Self>, broker: &Broker) {
        let spec = ConsumerSpec {
            queue: self.queue.clone(),
            tag: format!("cortex-submissions-{}", self.engine.instance()),
            prefetch: 64,
            retry: RetryPolicy::Requeue {
                delay: Duration::from_secs(1),
            },
        };
        spawn_consumer(broker, spec, move |d| {
            let me = self.clone();
            async move { me.handle(d).await }
        });
    }

    async fn handle(&self, delivery: Delivery) -> Outcome {
        match self.take(&delivery.data).await {
            Ok(()) => Outcome::Ack,
            Err(Refusal::Client(request_id, e)) => {
                tracing::info!(request = %request_id, error = %e, "submission rejected");
                e.log();
                let body = e.body();
                let rejected = SubmissionRejected {
                    request_id: request_id.clone(),
                    status: e.status(),
                    kind: body.kind,
                    message: body.message,
                };
                match self
                    .engine
                    .events()
                    .publish(
                        &MessageKind::RequestRejected.as_str(),
                        &rejected,
                        Some(request_id),
                    )
                    .await
                {
                    Ok(()) => Outcome::Ack,
                    Err(e) => Outcome::Retry(format!("rejection not published: {e}")),
                }
            }
            Err(Refusal::Transient(e)) => Outcome::Retry(e),
            // Not a submission at all: it would never become one.
            Err(Refusal::Poison(e)) => Outcome::Reject(format!("not a submission: {e}")),
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
                let name = service_kit::body::base_name(&a.name);
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
            sub.run.clone(),
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
                    sub.run,
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
