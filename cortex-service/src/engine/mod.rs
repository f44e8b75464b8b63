//! The job engine. A job is a row first: accepted jobs are stored `Waiting`, then handed to
//! a runner, through RabbitMQ when `amqp.url` is set (durable queue `cortex.jobs`, shared by
//! every instance on the database) or an in-process queue otherwise. A runner claims a job
//! with a conditional update (`Waiting` → `InProgress`, naming itself), so a job is run by
//! one instance at a time however often its message is delivered, and a job that already
//! ended is never run again. Instances beat a heartbeat; the jobs of an instance whose
//! heartbeat stopped go back to `Waiting` (or fail after `jobs.max_attempts` runs).
//!
//! Broker topology (`jobs.queue`, default `cortex.jobs`, see
//! [`service_kit::messaging::topology::cortex`]): the work queue, consumed in the kit's
//! harness (manual acks, prefetch = 2 × `jobs.concurrency`, dead-letters to `<queue>.dead`),
//! `<queue>.retry` (messages wait 5 s there, then return to the work queue: transient
//! failures such as the database being away; dead-lettered after 10 tries). Every change of
//! a job is published on `cortex.events` as `job.<status>`.

pub mod runner;

use crate::config::JobSettings;
use crate::db::schema::{artifacts, instances, jobs, workers};
use crate::db::{now_ms, ArtifactRow, Db, DbConn, JobRow, WorkerRow};
use crate::workers::{runtime_config, Catalog};
use diesel::prelude::*;
use serde_json::{Map, Value};
use service_kit::datastore::Datastore;
use service_kit::error::ApiError;
use service_kit::messaging::{
    spawn_consumer, topology, Broker, ConsumerSpec, Delivery, Outcome, RetryPolicy, WorkQueue,
};
use shared_models::cortex::{JobEvent, JobRequest, JobStatus, MessageKind, WorkerKind};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, Semaphore};

/// Deliveries of one message before it is dead-lettered.
const MAX_DELIVERIES: i64 = 10;
/// Heartbeat period.
const HEARTBEAT: Duration = Duration::from_secs(2);
/// An instance silent this long is dead, ms.
const STALE_MS: i64 = 10_000;

/// The engine of one instance.
pub struct Engine {
    db: Db,
    events: Broker,
    settings: JobSettings,
    catalog: Arc<Catalog>,
    datastore: Datastore,
    natives: Arc<crate::native::Natives>,
    instance: String,
    local: mpsc::UnboundedSender<String>,
    queue: Option<WorkQueue>,
    ended: broadcast::Sender<String>,
    slots: Arc<Semaphore>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("instance", &self.instance)
            .field("broker", &self.queue.is_some())
            .finish()
    }
}

impl Engine {
    /// Starts the engine: registers the instance, starts the runners, the heartbeat and the
    /// recovery of jobs left behind.
    pub async fn start(
        db: Db,
        events: Broker,
        settings: JobSettings,
        catalog: Arc<Catalog>,
        datastore: Datastore,
        natives: Arc<crate::native::Natives>,
    ) -> Result<Arc<Engine>, String> {
        let instance = crate::auth::secrets::random_token(12);
        let now = now_ms();
        let me = instance.clone();
        db.write(move |c| {
            diesel::insert_into(instances::table)
                .values((
                    instances::id.eq(&me),
                    instances::started_at.eq(now),
                    instances::heartbeat_at.eq(now),
                ))
                .execute(c)?;
            Ok(())
        })
        .await
        .map_err(|e| format!("cannot register this instance: {e}"))?;
        let (local, rx) = mpsc::unbounded_channel();
        let (ended, _) = broadcast::channel(1024);
        let queue = events.enabled().then(|| WorkQueue::new(&settings.queue));
        if let Some(q) = &queue {
            events
                .declare(&topology::cortex(q, &settings.submissions_queue))
                .await?;
        }
        let engine = Arc::new(Engine {
            db,
            events,
            slots: Arc::new(Semaphore::new(settings.concurrency)),
            settings,
            catalog,
            datastore,
            natives,
            instance,
            local,
            queue,
            ended,
        });
        tokio::spawn(engine.clone().local_dispatcher(rx));
        if let Some(q) = &engine.queue {
            let me = engine.clone();
            let ready = spawn_consumer(
                &engine.events,
                ConsumerSpec {
                    queue: q.name.clone(),
                    tag: format!("cortex-{}", engine.instance),
                    // Twice the slots: the next jobs are at hand when a slot frees; a job is
                    // claimed (`InProgress`) only once it has a slot.
                    prefetch: u16::try_from(engine.settings.concurrency * 2).unwrap_or(u16::MAX),
                    retry: RetryPolicy::RetryQueue {
                        queue: q.retry.clone(),
                        max_deliveries: MAX_DELIVERIES,
                    },
                },
                move |d| {
                    let me = me.clone();
                    async move { me.on_job_message(d).await }
                },
            );
            // Start-up waits (briefly) for the queue, so that the first jobs go through it.
            let _ = tokio::time::timeout(Duration::from_secs(10), ready.notified()).await;
        }
        engine.requeue_waiting().await;
        tokio::spawn(engine.clone().heartbeat_loop());
        Ok(engine)
    }

    /// This instance's id.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Whether jobs go through RabbitMQ.
    pub fn uses_broker(&self) -> bool {
        self.queue.is_some()
    }

    /// Ids of jobs as they end on this instance (for `waitreport`).
    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.ended.subscribe()
    }

    /// Hands an accepted (committed, `Waiting`) job to a runner.
    pub async fn dispatch(&self, job_id: &str) {
        match &self.queue {
            None => {
                let _ = self.local.send(job_id.to_string());
            }
            Some(q) => {
                if self.publish_job(q, job_id).await.is_ok() {
                    let id = job_id.to_string();
                    let _ = self
                        .db
                        .write(move |c| {
                            diesel::update(jobs::table.find(&id))
                                .set(jobs::published.eq(true))
                                .execute(c)?;
                            Ok(())
                        })
                        .await;
                }
                // Else the job stays unpublished: the heartbeat publishes it once the
                // broker is back.
            }
        }
    }

    async fn publish_job(&self, q: &WorkQueue, job_id: &str) -> Result<(), String> {
        let body = serde_json::to_vec(&JobRequest {
            job_id: job_id.to_string(),
        })
        .map_err(|e| e.to_string())?;
        self.events
            .publish_raw("", &q.name, &body, lapin::BasicProperties::default())
            .await
    }

    /// Publishes the job's current state on `cortex.events` (`job.<status>`). The final
    /// event of a job with a `request_id` is recorded once the broker confirmed it; until
    /// then the heartbeat publishes it again (see [`Engine::announce_pending`]).
    pub async fn announce(&self, job: &JobRow) {
        if self.events.state() == "none" {
            return;
        }
        let status = job.status.clone();
        let ended = JobStatus::parse(&status).is_some_and(JobStatus::is_final);
        match self.announce_as(job, job.request_id.clone()).await {
            Ok(()) if ended && job.request_id.is_some() => {
                let id = job.id.clone();
                let _ = self
                    .db
                    .write(move |c| {
                        diesel::update(jobs::table.find(&id).filter(jobs::status.eq(&status)))
                            .set(jobs::announced.eq(&status))
                            .execute(c)?;
                        Ok(())
                    })
                    .await;
            }
            Ok(()) => {}
            Err(e) => tracing::warn!(job = %job.id, error = %e, "job event not published"),
        }
    }

    /// Publishes `job.<status>` for `job` on behalf of the submission `request_id` (the job's
    /// own, or that of a submission the cache answered with this job).
    pub async fn announce_as(
        &self,
        job: &JobRow,
        request_id: Option<String>,
    ) -> Result<(), ApiError> {
        if self.events.state() == "none" {
            return Ok(());
        }
        let arts = match job.status.as_str() {
            "Success" => {
                let id = job.id.clone();
                self.db
                    .read(move |c| {
                        Ok(artifacts::table
                            .filter(artifacts::job_id.eq(id))
                            .order(artifacts::position.asc())
                            .select(ArtifactRow::as_select())
                            .load(c)?)
                    })
                    .await?
            }
            _ => Vec::new(),
        };
        let event = JobEvent {
            job: crate::jobs::render_job(job, Some(&arts)),
            request_id,
        };
        let status = JobStatus::parse(&job.status).ok_or_else(|| {
            ApiError::internal(format!("job {} has no status: {}", job.id, job.status))
        })?;
        self.events
            .publish(
                &MessageKind::Job(status).as_str(),
                &event,
                Some(job.id.clone()),
            )
            .await
    }

    /// The broker side of submissions: the events channel.
    pub fn events(&self) -> &Broker {
        &self.events
    }

    /// Publishes again the final events of submitted jobs that the broker has not confirmed
    /// (the broker was away when they ended), oldest first, a batch per heartbeat.
    async fn announce_pending(&self) {
        if self.events.state() != "connected" {
            return;
        }
        let before = now_ms() - 2_000;
        let pending: Vec<JobRow> = self
            .db
            .read(move |c| {
                Ok(jobs::table
                    .filter(jobs::request_id.is_not_null())
                    .filter(jobs::announced.is_null())
                    .filter(jobs::end_date.lt(before))
                    .filter(jobs::status.eq_any([
                        JobStatus::Success.as_str(),
                        JobStatus::Failure.as_str(),
                        JobStatus::Deleted.as_str(),
                    ]))
                    .order(jobs::end_date.asc())
                    .limit(200)
                    .select(JobRow::as_select())
                    .load(c)?)
            })
            .await
            .unwrap_or_default();
        for job in pending {
            self.announce(&job).await;
        }
    }

    async fn local_dispatcher(self: Arc<Self>, mut rx: mpsc::UnboundedReceiver<String>) {
        while let Some(id) = rx.recv().await {
            let Ok(permit) = self.slots.clone().acquire_owned().await else {
                return;
            };
            let engine = self.clone();
            tokio::spawn(async move {
                if let Err(RunError::Transient(e)) = engine.run_job(&id, permit).await {
                    // The database is away: try again in a while (the job stays Waiting).
                    tracing::warn!(job = %id, error = %e, "job not started; retried in 5 s");
                    tokio::time::sleep(Duration::from_millis(topology::RETRY_DELAY_MS as u64))
                        .await;
                    let _ = engine.local.send(id);
                }
            });
        }
    }

    /// One message of the job queue: runs its job in a free slot.
    async fn on_job_message(self: &Arc<Self>, delivery: Delivery) -> Outcome {
        let Ok(request) = serde_json::from_slice::<JobRequest>(&delivery.data) else {
            return Outcome::Reject("poison message: not a job request".into());
        };
        let Ok(permit) = self.slots.clone().acquire_owned().await else {
            return Outcome::Retry("shutting down".into());
        };
        match self.run_job(&request.job_id, permit).await {
            Ok(_) => Outcome::Ack,
            Err(RunError::Unknown) => {
                Outcome::Reject(format!("message for an unknown job {}", request.job_id))
            }
            Err(RunError::Transient(e)) => Outcome::Retry(format!("job {}: {e}", request.job_id)),
        }
    }

    /// Claims and runs a job in the slot `permit`, freed as soon as the worker has exited.
    /// `Ok(false)` when there was nothing to do (ended, deleted, or running elsewhere).
    async fn run_job(
        self: &Arc<Self>,
        job_id: &str,
        permit: tokio::sync::OwnedSemaphorePermit,
    ) -> Result<bool, RunError> {
        let me = self.instance.clone();
        let id = job_id.to_string();
        let claimed = self
            .db
            .write(move |c| {
                let now = now_ms();
                let n = diesel::update(
                    jobs::table
                        .find(&id)
                        .filter(jobs::status.eq(JobStatus::Waiting.as_str())),
                )
                .set((
                    jobs::status.eq(JobStatus::InProgress.as_str()),
                    jobs::runner.eq(&me),
                    jobs::start_date.eq(now),
                    jobs::attempts.eq(jobs::attempts + 1),
                    jobs::updated_at.eq(now),
                ))
                .execute(c)?;
                let job: Option<JobRow> = jobs::table
                    .find(&id)
                    .select(JobRow::as_select())
                    .first(c)
                    .optional()?;
                Ok((n == 1, job))
            })
            .await
            .map_err(|e| RunError::Transient(e.to_string()))?;
        let job = match claimed {
            (_, None) => return Err(RunError::Unknown),
            (false, Some(_)) => return Ok(false),
            (true, Some(job)) => job,
        };
        // `job.InProgress` goes out while the worker starts, and before `job.<end>`.
        let announced = {
            let (engine, job) = (self.clone(), job.clone());
            tokio::spawn(async move { engine.announce(&job).await })
        };
        let outcome = match self.prepare(&job).await {
            Ok((spec, Some(native))) => self.natives.run(native, spec, &self.datastore).await,
            Ok((spec, None)) => runner::run(spec, &self.datastore).await,
            Err(message) => runner::Outcome::Failure {
                message,
                input: None,
            },
        };
        drop(permit);
        let _ = announced.await;
        self.finish(&job, outcome).await;
        Ok(true)
    }

    /// The run specification of a claimed job; `Err` is the failure message.
    async fn prepare(
        &self,
        job: &JobRow,
    ) -> Result<(runner::RunSpec, Option<crate::native::Native>), String> {
        let wid = job.worker_id.clone();
        let worker: Option<WorkerRow> = self
            .db
            .read(move |c| {
                Ok(workers::table
                    .find(wid)
                    .select(WorkerRow::as_select())
                    .first(c)
                    .optional()?)
            })
            .await
            .map_err(|e| format!("cannot read the worker: {e}"))?;
        let worker = worker.ok_or_else(|| {
            format!(
                "The worker {} was disabled before the job ran",
                job.worker_name
            )
        })?;
        let kind = WorkerKind::parse(&worker.kind).unwrap_or(WorkerKind::Analyzer);
        let def = self.catalog.get(kind, &worker.name).ok_or_else(|| {
            format!(
                "The definition {} is no longer installed (see analyzers.paths / responders.paths)",
                worker.name
            )
        })?;
        let configuration: Map<String, Value> =
            serde_json::from_str(&worker.configuration).unwrap_or_default();
        let config = runtime_config(&def.config, &configuration);
        let parameters: Value =
            serde_json::from_str(&job.parameters).unwrap_or(Value::Object(Map::new()));
        let mut input = Map::new();
        if let Some(data) = &job.data {
            let data = if kind == WorkerKind::Responder {
                serde_json::from_str(data).unwrap_or_else(|_| Value::String(data.clone()))
            } else {
                Value::String(data.clone())
            };
            input.insert("data".into(), data);
        }
        input.insert("dataType".into(), Value::String(job.data_type.clone()));
        input.insert("tlp".into(), Value::from(job.tlp));
        input.insert("pap".into(), Value::from(job.pap));
        input.insert("message".into(), Value::String(job.message.clone()));
        input.insert("parameters".into(), parameters.clone());
        let cacerts = config
            .get("cacerts")
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
            .map(str::to_string);
        input.insert("config".into(), Value::Object(config));
        let attachment = match &job.attachment {
            None => None,
            Some(a) => {
                let a: shared_models::cortex::JobAttachment =
                    serde_json::from_str(a).map_err(|e| format!("bad attachment: {e}"))?;
                Some((self.datastore.path_of(&a.id), a.name, a.content_type))
            }
        };
        let minutes = worker
            .job_timeout
            .or_else(|| configuration.get("jobTimeout").and_then(Value::as_f64))
            .filter(|m| *m > 0.0)
            .unwrap_or(self.settings.timeout);
        let keep = self.settings.keep_job_folder
            || parameters.get("keepJobFolder").and_then(Value::as_bool) == Some(true);
        Ok((
            runner::RunSpec {
                job_id: job.id.clone(),
                program: def.program(),
                root: def.root.clone(),
                input,
                attachment,
                cacerts,
                timeout: Duration::from_secs_f64((minutes * 60.0).min(7.0 * 86400.0)),
                kill_grace: Duration::from_secs(self.settings.kill_grace_secs),
                max_output_bytes: self.settings.max_output_bytes,
                keep_folder: keep,
                jobs_dir: self
                    .settings
                    .directory
                    .clone()
                    .unwrap_or_else(|| "jobs".into()),
            },
            def.native,
        ))
    }

    /// Stores the outcome, if the job is still this instance's to finish.
    async fn finish(&self, job: &JobRow, outcome: runner::Outcome) {
        let me = self.instance.clone();
        let id = job.id.clone();
        let owner = job.created_by.clone();
        // The result is kept until the database takes it (the job stays InProgress under this
        // live instance meanwhile, so no one else runs it).
        let mut delay = Duration::from_millis(250);
        let stored = loop {
            let (jid, me, owner, outcome) =
                (id.clone(), me.clone(), owner.clone(), outcome.clone());
            match self
                .db
                .write(move |c| finish_in(c, &jid, &me, &owner, outcome))
                .await
            {
                Ok(row) => break row,
                Err(e) => {
                    tracing::warn!(job = %id, error = %e, "cannot store the job's result; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(30));
                }
            }
        };
        let _ = self.ended.send(id.clone());
        match stored {
            Some(row) => {
                let took_ms = row
                    .end_date
                    .zip(row.start_date)
                    .map_or(0, |(end, start)| end - start);
                match row.error_message.as_deref() {
                    Some(reason) if row.status == JobStatus::Failure.as_str() => tracing::warn!(
                        job = %row.id,
                        worker = %row.worker_name,
                        organization = %row.organization_id,
                        status = %row.status,
                        took_ms,
                        reason,
                        "job ended"
                    ),
                    _ => tracing::info!(
                        job = %row.id,
                        worker = %row.worker_name,
                        organization = %row.organization_id,
                        status = %row.status,
                        took_ms,
                        "job ended"
                    ),
                }
                self.announce(&row).await
            }
            None => {
                tracing::warn!(job = %id, "result discarded: the job was deleted, taken over, or the database is away")
            }
        }
    }

    async fn heartbeat_loop(self: Arc<Self>) {
        let mut tick = tokio::time::interval(HEARTBEAT);
        loop {
            tick.tick().await;
            if let Err(e) = self.heartbeat().await {
                tracing::warn!(error = %e, "heartbeat failed");
            }
            self.announce_pending().await;
        }
    }

    async fn heartbeat(&self) -> Result<(), ApiError> {
        let me = self.instance.clone();
        let max_attempts = self.settings.max_attempts;
        let (requeued, failed) = self
            .db
            .write(move |c| {
                let now = now_ms();
                let n = diesel::update(instances::table.find(&me))
                    .set(instances::heartbeat_at.eq(now))
                    .execute(c)?;
                if n == 0 {
                    diesel::insert_into(instances::table)
                        .values((
                            instances::id.eq(&me),
                            instances::started_at.eq(now),
                            instances::heartbeat_at.eq(now),
                        ))
                        .execute(c)?;
                }
                diesel::delete(instances::table.filter(instances::heartbeat_at.lt(now - 3_600_000)))
                    .execute(c)?;
                let live: Vec<String> = instances::table
                    .filter(instances::heartbeat_at.ge(now - STALE_MS))
                    .select(instances::id)
                    .load(c)?;
                let orphans: Vec<(String, Option<String>, i32)> = jobs::table
                    .filter(jobs::status.eq(JobStatus::InProgress.as_str()))
                    .filter(
                        jobs::runner
                            .is_null()
                            .or(diesel::dsl::not(jobs::runner.assume_not_null().eq_any(&live))),
                    )
                    .select((jobs::id, jobs::runner, jobs::attempts))
                    .load(c)?;
                let mut requeued = Vec::new();
                let mut failed = Vec::new();
                for (id, runner, attempts) in orphans {
                    // Only if it is still the dead runner's (another instance may be first).
                    let still = jobs::status
                        .eq(JobStatus::InProgress.as_str())
                        .and(jobs::runner.eq(runner.clone().unwrap_or_default()).or(
                            jobs::runner.is_null().and(diesel::dsl::sql::<diesel::sql_types::Bool>(
                                if runner.is_none() { "1=1" } else { "1=0" },
                            )),
                        ));
                    if attempts >= max_attempts {
                        let n = diesel::update(jobs::table.find(&id).filter(still))
                            .set((
                                jobs::status.eq(JobStatus::Failure.as_str()),
                                jobs::error_message.eq(format!(
                                    "The instance running this job stopped, {attempts} times; the job is not run again"
                                )),
                                jobs::end_date.eq(now),
                                jobs::runner.eq(None::<String>),
                                jobs::updated_at.eq(now),
                            ))
                            .execute(c)?;
                        if n == 1 {
                            failed.push(id);
                        }
                    } else {
                        let n = diesel::update(jobs::table.find(&id).filter(still))
                            .set((
                                jobs::status.eq(JobStatus::Waiting.as_str()),
                                jobs::runner.eq(None::<String>),
                                jobs::start_date.eq(None::<i64>),
                                jobs::published.eq(false),
                                jobs::updated_at.eq(now),
                            ))
                            .execute(c)?;
                        if n == 1 {
                            requeued.push(id);
                        }
                    }
                }
                if !requeued.is_empty() || !failed.is_empty() {
                    tracing::warn!(?requeued, ?failed, "jobs of a stopped instance recovered");
                }
                Ok((requeued, failed))
            })
            .await?;
        for id in &failed {
            let _ = self.ended.send(id.clone());
            if let Some(row) = self.load(id).await {
                self.announce(&row).await;
            }
        }
        for id in requeued {
            if let Some(row) = self.load(&id).await {
                self.announce(&row).await;
            }
            self.dispatch(&id).await;
        }
        if self.queue.is_some() {
            // Jobs accepted while the broker was away.
            let unpublished: Vec<String> = self
                .db
                .read(|c| {
                    Ok(jobs::table
                        .filter(jobs::status.eq(JobStatus::Waiting.as_str()))
                        .filter(jobs::published.eq(false))
                        .filter(jobs::created_at.lt(now_ms() - 2_000))
                        .select(jobs::id)
                        .order(jobs::created_at.asc())
                        .limit(1000)
                        .load(c)?)
                })
                .await?;
            for id in unpublished {
                self.dispatch(&id).await;
            }
        }
        Ok(())
    }

    /// At start: every `Waiting` job is handed out again (a duplicate message is harmless).
    async fn requeue_waiting(&self) {
        let waiting: Vec<String> = self
            .db
            .read(|c| {
                Ok(jobs::table
                    .filter(jobs::status.eq(JobStatus::Waiting.as_str()))
                    .order(jobs::created_at.asc())
                    .select(jobs::id)
                    .load(c)?)
            })
            .await
            .unwrap_or_default();
        if !waiting.is_empty() {
            tracing::info!(jobs = waiting.len(), "waiting jobs queued again");
        }
        for id in waiting {
            self.dispatch(&id).await;
        }
    }

    async fn load(&self, id: &str) -> Option<JobRow> {
        let id = id.to_string();
        self.db
            .read(move |c| {
                Ok(jobs::table
                    .find(id)
                    .select(JobRow::as_select())
                    .first(c)
                    .optional()?)
            })
            .await
            .ok()
            .flatten()
    }
}

/// Why a job message could not be handled.
#[derive(Debug)]
enum RunError {
    /// No such job.
    Unknown,
    /// Try again later.
    Transient(String),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Unknown => f.write_str("unknown job"),
            RunError::Transient(e) => f.write_str(e),
        }
    }
}

/// Writes the outcome of a run if the job is still `InProgress` on this instance.
fn finish_in(
    c: &mut DbConn,
    id: &str,
    me: &str,
    owner: &str,
    outcome: runner::Outcome,
) -> Result<Option<JobRow>, ApiError> {
    let now = now_ms();
    let target = jobs::table
        .find(id)
        .filter(jobs::status.eq(JobStatus::InProgress.as_str()))
        .filter(jobs::runner.eq(me));
    let n = match &outcome {
        runner::Outcome::Success {
            summary,
            full,
            operations,
            ..
        } => {
            let report =
                serde_json::json!({"summary": summary, "full": full, "operations": operations});
            diesel::update(target)
                .set((
                    jobs::status.eq(JobStatus::Success.as_str()),
                    jobs::report.eq(report.to_string()),
                    jobs::end_date.eq(now),
                    jobs::updated_at.eq(now),
                ))
                .execute(c)?
        }
        runner::Outcome::Failure { message, input } => diesel::update(target)
            .set((
                jobs::status.eq(JobStatus::Failure.as_str()),
                jobs::error_message.eq(no_nul(message)),
                jobs::input.eq(input.as_ref().map(Value::to_string)),
                jobs::end_date.eq(now),
                jobs::updated_at.eq(now),
            ))
            .execute(c)?,
    };
    if n == 0 {
        return Ok(None);
    }
    if let runner::Outcome::Success {
        artifacts: arts, ..
    } = outcome
    {
        let rows: Vec<ArtifactRow> = arts
            .into_iter()
            .enumerate()
            .map(|(i, a)| ArtifactRow {
                id: crate::auth::secrets::random_token(15),
                job_id: id.to_string(),
                position: i32::try_from(i).unwrap_or(i32::MAX),
                data_type: no_nul(&a.data_type),
                data: a.data.as_deref().map(no_nul),
                attachment: a.file.map(|f| {
                    serde_json::to_string(&shared_models::cortex::JobAttachment {
                        id: f.stored.sha256.clone(),
                        name: f.filename,
                        hashes: vec![f.stored.sha256, f.stored.sha1, f.stored.md5],
                        size: f.stored.size,
                        content_type: f.content_type,
                    })
                    .unwrap_or_default()
                }),
                tlp: a.tlp,
                tags: serde_json::to_string(&a.tags).unwrap_or_else(|_| "[]".into()),
                message: a.message.as_deref().map(no_nul),
                created_by: owner.to_string(),
                created_at: now,
            })
            .collect();
        for row in &rows {
            diesel::insert_into(artifacts::table)
                .values(row)
                .execute(c)?;
        }
    }
    Ok(jobs::table
        .find(id)
        .select(JobRow::as_select())
        .first(c)
        .optional()?)
}

/// Text a worker wrote, without NUL characters (PostgreSQL refuses them in TEXT).
fn no_nul(s: &str) -> String {
    s.replace('\0', "")
}
