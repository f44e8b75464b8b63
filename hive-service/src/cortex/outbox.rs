//! The outbox: a job is a `cortex_jobs` row first (`dispatch` pending → sent → done); the
//! immediate attempt and the periodic sweep hand each job to its server once, with backoff
//! while the server cannot be reached, and reconcile RabbitMQ jobs that went quiet.

use super::apply::{self, Ended};
use super::client::CallError;
use super::connector::{Connector, InFlight, CLAIM_MS, RECONCILE_TICKS, SWEEP};
use super::Dispatch;
use crate::casework::{self as cw, Actor};
use crate::db::casework::*;
use crate::db::schema::{attachments, cortex_jobs};
use crate::db::{format_id, now_ms, DbConn};
use crate::render;
use diesel::prelude::*;
use serde_json::{json, Value};
use service_kit::error::ApiError;
use shared_models::cortex::{RunRequest, WorkerKind};
use std::sync::Arc;
use std::time::{Duration, Instant};

impl Connector {
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

    pub(super) async fn sweep_loop(self: Arc<Self>) {
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
    pub(super) async fn reconcile(&self) {
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
    pub(super) async fn submit(self: Arc<Self>, id: i64) {
        use std::sync::atomic::Ordering;
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        let _guard = InFlight(&self.in_flight);
        self.clone().submit_once(id).await;
    }

    pub(super) async fn submit_once(self: Arc<Self>, id: i64) {
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
    pub(super) async fn attempt(self: Arc<Self>, prepared: Prepared) {
        let Ok(_slot) = self.attempts.acquire().await else {
            return;
        };
        let Prepared {
            job,
            run,
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
            self.publish(&server, &job, kind, run, file).await
        } else {
            self.post(&server, &job, kind, run, file).await
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

    pub(super) async fn still_pending(&self, id: i64) -> bool {
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
}

/// A claimed job with what its worker is given.
#[derive(Debug)]
pub struct Prepared {
    pub(super) job: CortexJobRow,
    pub(super) run: RunRequest,
    pub(super) attachment: Option<AttachmentRow>,
}

/// Inside the transaction that created (or claimed) `job`: what its worker is given (the
/// observable or the object, parameters, `requestId`).
pub fn prepare_new(c: &mut DbConn, actor: &Actor, job: CortexJobRow) -> Result<Prepared, ApiError> {
    let (mut run, attachment) = run_request(c, actor, &job)?;
    run.parameters = serde_json::from_str(&job.parameters).unwrap_or_default();
    Ok(Prepared {
        job,
        run,
        attachment,
    })
}

/// A file to hand to a worker.
pub(super) struct FileToSend {
    pub(super) name: String,
    pub(super) content_type: String,
    pub(super) bytes: Vec<u8>,
}

/// What the worker of a job is given (`dataType`, `data`, `tlp`, `pap`, `message`; the
/// parameters are the job's), and the attachment of a file observable.
pub(super) fn run_request(
    c: &mut DbConn,
    actor: &Actor,
    job: &CortexJobRow,
) -> Result<(RunRequest, Option<AttachmentRow>), ApiError> {
    let id = format_id(job.object_id);
    if job.kind == WorkerKind::Analyzer.as_str() {
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
        let run = RunRequest {
            data: att.is_none().then(|| json!(o.data)),
            data_type: o.data_type,
            tlp: o.tlp.min(3),
            pap: o.pap,
            message: o.message.unwrap_or_default(),
            parameters: Default::default(),
            label: None,
        };
        return Ok((run, att));
    }
    let (entity, tlp, pap) = entity(c, actor, &job.object_type, job.object_id)?;
    let tlp = job.tlp.unwrap_or(tlp);
    let run = RunRequest {
        data_type: format!("thehive:{}", job.object_type),
        data: Some(entity),
        tlp: tlp.min(3),
        pap: pap.min(3),
        message: String::new(),
        parameters: Default::default(),
        label: None,
    };
    Ok((run, None))
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
