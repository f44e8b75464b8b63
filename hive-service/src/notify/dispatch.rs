//! The dispatcher: one instance at a time (the `notification` lease) turns queued audit
//! records into deliveries and Cortex jobs, in queue order.

use super::config::{Notification, Notifier as Kind};
use super::{payload, Notifier, AMQP_ENDPOINT, EMAIL_ENDPOINT};
use crate::audit::{AuditRow, ObjectType, Root, Stored};
use crate::casework::Actor;
use crate::cortex::jobs::{fail_unknown, insert, servers_known};
use crate::cortex::outbox::{prepare_new, Prepared};
use crate::cortex::Dispatch;
use crate::db::schema::{
    alerts, audits, cases, leases, notification_deliveries, notification_queue, observables,
    organisations, shares,
};
use crate::db::{next_id, now_ms, DbConn};
use diesel::prelude::*;
use serde_json::{json, Map, Value};
use service_kit::error::ApiError;
use shared_models::cortex::WorkerKind;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Queued transactions taken at once.
const BATCH: i64 = 100;
/// How long the dispatcher waits after a commit for the next ones (one batch, not one
/// round of queries per commit).
pub(crate) const COALESCE: Duration = Duration::from_millis(2);
/// How long a lease lasts without renewal.
const LEASE_MS: i64 = 15_000;
/// Observables one `RunAnalyzer` runs on at most (an alert's, a case's).
const MAX_OBSERVABLES: i64 = 100;

/// Starts the dispatcher.
pub fn spawn(rt: &tokio::runtime::Handle, n: Arc<Notifier>) {
    rt.spawn(async move {
        let mut held_until = 0_i64;
        let mut last_reload = std::time::Instant::now();
        loop {
            tokio::select! {
                _ = n.hooks.queued.notified() => {
                    // Commits come in bursts: a few milliseconds gather them in one batch.
                    tokio::time::sleep(COALESCE).await;
                }
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
            if last_reload.elapsed() >= Duration::from_millis(500) {
                last_reload = std::time::Instant::now();
                if let Err(e) = n.reload_if_changed().await {
                    tracing::warn!(error = %e, "notification configuration not read");
                    continue;
                }
            }
            match hold(&n, "notification", &mut held_until).await {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "notification lease not taken");
                    continue;
                }
            }
            loop {
                match batch(&n).await {
                    Ok(taken) if taken >= BATCH as usize => continue,
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "notification dispatch failed; retrying");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        break;
                    }
                }
            }
        }
    });
}

/// Takes or renews the lease `name` for this process (renewed when less than 10 s are
/// left); answers whether this process holds it.
pub(crate) async fn hold(n: &Notifier, name: &str, held_until: &mut i64) -> Result<bool, ApiError> {
    let now = now_ms();
    if *held_until - now > 10_000 {
        return Ok(true);
    }
    let (owner, name) = (n.owner.clone(), name.to_string());
    let until = now + LEASE_MS;
    let got =
        n.db.write(move |c| {
            let taken = diesel::update(
                leases::table
                    .find(&name)
                    .filter(leases::owner.eq(&owner).or(leases::expires_at.lt(now))),
            )
            .set((leases::owner.eq(&owner), leases::expires_at.eq(until)))
            .execute(c)?;
            if taken > 0 {
                return Ok(true);
            }
            let exists: i64 = leases::table.find(&name).count().get_result(c)?;
            if exists > 0 {
                return Ok(false);
            }
            diesel::insert_into(leases::table)
                .values((
                    leases::name.eq(&name),
                    leases::owner.eq(&owner),
                    leases::expires_at.eq(until),
                ))
                .execute(c)?;
            Ok(true)
        })
        .await
        .unwrap_or(false);
    *held_until = if got { until } else { 0 };
    Ok(got)
}

/// A delivery to write.
#[derive(Insertable)]
#[diesel(table_name = notification_deliveries)]
struct NewDelivery {
    id: i64,
    endpoint: String,
    audit_id: i64,
    organisation_id: i64,
    payload: String,
    status: String,
    attempts: i32,
    next_attempt_at: i64,
    created_at: i64,
}

/// What the dispatcher decided for one batch.
#[derive(Default)]
struct Plan {
    deliveries: Vec<(String, i64, i64, String)>,
    jobs: Vec<JobPlan>,
}

/// A job a notification asks for.
struct JobPlan {
    kind: WorkerKind,
    organisation: (i64, String),
    object_type: &'static str,
    object_id: i64,
    worker: String,
    parameters: Map<String, Value>,
}

/// Dispatches one batch; answers how many queued transactions it took.
async fn batch(n: &Arc<Notifier>) -> Result<usize, ApiError> {
    let me = n.clone();
    let (queue_ids, plan) =
        n.db.read(move |c| {
            let queued: Vec<(i64, String)> = notification_queue::table
                .order(notification_queue::id.asc())
                .limit(BATCH)
                .select((notification_queue::id, notification_queue::audit_ids))
                .load(c)?;
            let ids: Vec<i64> = queued.iter().map(|q| q.0).collect();
            if !me.anyone_listens() {
                // Nothing to read: the queue is only emptied.
                return Ok((ids, Plan::default()));
            }
            // The records in queue order, then in the order each transaction made them.
            let wanted: Vec<i64> = queued
                .iter()
                .flat_map(|(_, a)| serde_json::from_str::<Vec<i64>>(a).unwrap_or_default())
                .collect();
            let mut rows: HashMap<i64, AuditRow> = HashMap::new();
            for chunk in wanted.chunks(1000) {
                for r in audits::table
                    .filter(audits::id.eq_any(chunk))
                    .select(AuditRow::as_select())
                    .load::<AuditRow>(c)?
                {
                    rows.insert(r.id, r);
                }
            }
            let stored: Vec<Stored> = wanted
                .iter()
                .filter_map(|id| rows.get(id).map(AuditRow::stored))
                .collect();
            let plan = plan(c, &me, &stored)?;
            Ok((ids, plan))
        })
        .await?;
    if queue_ids.is_empty() {
        return Ok(0);
    }
    // Workers named by name are looked up on the servers (cached) before the write.
    let mut workers: HashMap<(WorkerKind, String), (String, String, String)> = HashMap::new();
    for j in &plan.jobs {
        let key = (j.kind, j.worker.clone());
        if workers.contains_key(&key) {
            continue;
        }
        let known = n.cortex.workers(j.kind).await;
        if let Some(w) = known
            .iter()
            .find(|w| w.id == j.worker || w.name == j.worker)
        {
            workers.insert(key, (w.id.clone(), w.name.clone(), w.cortex_ids[0].clone()));
        }
    }
    let servers = servers_known(&n.cortex.server_names());
    let transport = n.cortex.transport();
    let taken = queue_ids.len();
    let prepared: Vec<Prepared> =
        n.db.write(move |c| {
            let gone = diesel::delete(
                notification_queue::table.filter(notification_queue::id.eq_any(&queue_ids)),
            )
            .execute(c)?;
            if gone != queue_ids.len() {
                // Another dispatcher took them (a lease that changed hands): leave them.
                return Err(ApiError::internal(
                    "queued records taken by another instance",
                ));
            }
            let now = now_ms();
            let rows: Vec<NewDelivery> = plan
                .deliveries
                .iter()
                .map(|(endpoint, audit, org, payload)| NewDelivery {
                    id: next_id(),
                    endpoint: endpoint.clone(),
                    audit_id: *audit,
                    organisation_id: *org,
                    payload: payload.clone(),
                    status: "pending".into(),
                    attempts: 0,
                    next_attempt_at: now,
                    created_at: now,
                })
                .collect();
            service_kit::on_backend!(c, conn => {
                for chunk in rows.chunks(200) {
                    diesel::insert_into(notification_deliveries::table)
                        .values(chunk)
                        .execute(conn)?;
                }
            });
            let mut prepared = Vec::new();
            for j in plan.jobs {
                let Some((worker_id, name, cortex_id)) =
                    workers.get(&(j.kind, j.worker.clone())).cloned()
                else {
                    tracing::warn!(worker = %j.worker, "notification: no such Cortex worker");
                    continue;
                };
                let actor = Actor {
                    login: crate::auth::SYSTEM_LOGIN.into(),
                    org_id: j.organisation.0,
                    org_name: j.organisation.1.clone(),
                };
                let row = insert(
                    c,
                    &actor,
                    if j.kind == WorkerKind::Analyzer {
                        "analyzer"
                    } else {
                        "responder"
                    },
                    j.object_type,
                    j.object_id,
                    &cortex_id,
                    &worker_id,
                    &name,
                    Value::Object(j.parameters),
                    None,
                    transport,
                    servers.contains(&cortex_id),
                )?;
                let row = fail_unknown(c, vec![row], &servers)?.remove(0);
                if row.dispatch == Dispatch::Pending.as_str() {
                    prepared.push(prepare_new(c, &actor, row)?);
                }
            }
            Ok(prepared)
        })
        .await?;
    for p in prepared {
        n.cortex.submit_soon(p);
    }
    n.fresh.notify_waiters();
    n.delivered.notify_one();
    Ok(taken)
}

/// The organisations that hear of a record: its own, and those its case is shared with
/// (a case's read once per batch: `cases_seen` keeps them).
fn notified(
    c: &mut DbConn,
    a: &Stored,
    cases_seen: &mut HashMap<i64, Vec<i64>>,
) -> QueryResult<Vec<i64>> {
    let mut out = vec![a.organisation_id];
    if let Some(Root::Case(k)) = a.root {
        if let std::collections::hash_map::Entry::Vacant(e) = cases_seen.entry(k) {
            let mut orgs: Vec<i64> = cases::table
                .find(k)
                .select(cases::organisation_id)
                .first(c)
                .optional()?
                .into_iter()
                .collect();
            orgs.extend(
                shares::table
                    .filter(shares::case_id.eq(k))
                    .select(shares::organisation_id)
                    .load::<i64>(c)?,
            );
            e.insert(orgs);
        }
        out.extend(cases_seen[&k].iter().copied());
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// Decides, for each record of a batch, its deliveries and jobs.
fn plan(c: &mut DbConn, n: &Notifier, records: &[Stored]) -> Result<Plan, ApiError> {
    let mut plan = Plan::default();
    // Who hears of what, first; then the objects of the records someone hears of are
    // rendered together.
    let mut heard: Vec<(&Stored, Vec<i64>)> = Vec::with_capacity(records.len());
    let mut cases_seen = HashMap::new();
    for a in records {
        let orgs: Vec<i64> = notified(c, a, &mut cases_seen)?
            .into_iter()
            .filter(|o| n.amqp_on() || !n.notifications_of(*o).is_empty())
            .collect();
        if !orgs.is_empty() {
            heard.push((a, orgs));
        }
    }
    if heard.is_empty() {
        return Ok(plan);
    }
    let names: HashMap<i64, String> = organisations::table
        .select((organisations::id, organisations::name))
        .load::<(i64, String)>(c)?
        .into_iter()
        .collect();
    let types = payload::custom_types(c)?;
    let custom_types = |name: &str| types.get(name).cloned();
    let listened: Vec<&Stored> = heard.iter().map(|(a, _)| *a).collect();
    let batch = payload::Batch::load(c, &listened)?;
    for (a, orgs) in heard {
        // Rendered once, when something needs it.
        let mut rendered: Option<(Value, Value, Value)> = None;
        let mut render = |c: &mut DbConn| -> Result<(Value, Value, Value), ApiError> {
            if rendered.is_none() {
                let (v1, v0) = batch.object(c, a)?;
                let ctx = batch.context(c, a.root)?;
                rendered = Some((v1, v0, ctx));
            }
            Ok(rendered.clone().unwrap_or_default())
        };
        for org in orgs {
            let Some(org_name) = names.get(&org) else {
                continue;
            };
            let list = n.notifications_of(org);
            let automated =
                a.by_job.is_some() || matches!(a.object_type, ObjectType::Job | ObjectType::Action);
            if n.amqp_on() {
                let (v1, _, ctx) = render(c)?;
                let body = payload::payload(a, (org, org_name), 1, &v1, &ctx, &custom_types);
                plan.deliveries
                    .push((AMQP_ENDPOINT.into(), a.id, org, body.to_string()));
            }
            for notification in list.iter() {
                let fires = match notification.trigger.fires_on_record(a) {
                    Some(f) => f,
                    None => {
                        let (v1, _, ctx) = render(c)?;
                        let event =
                            payload::payload(a, (org, org_name), 1, &v1, &ctx, &custom_types);
                        notification.trigger.fires_on_event(&event)
                    }
                };
                if !fires {
                    continue;
                }
                act(
                    c,
                    n,
                    notification,
                    a,
                    (org, org_name),
                    automated,
                    &mut render,
                    &custom_types,
                    &mut plan,
                )?;
            }
        }
    }
    Ok(plan)
}

/// Renders a record's object (v1, v0) and context once, when first asked.
type Render<'a> = dyn FnMut(&mut DbConn) -> Result<(Value, Value, Value), ApiError> + 'a;

#[allow(clippy::too_many_arguments)]
fn act(
    c: &mut DbConn,
    n: &Notifier,
    notification: &Notification,
    a: &Stored,
    org: (i64, &str),
    automated: bool,
    render: &mut Render<'_>,
    custom_types: &dyn Fn(&str) -> Option<String>,
    plan: &mut Plan,
) -> Result<(), ApiError> {
    match &notification.notifier {
        Kind::Webhook { endpoint } => {
            let Some(e) = n.endpoint(endpoint) else {
                tracing::warn!(endpoint = %endpoint, organisation = %org.1, "notification: no such webhook endpoint");
                return Ok(());
            };
            if !e.serves(org.1) {
                return Ok(());
            }
            let (v1, v0, ctx) = render(c)?;
            let object = if e.version == 0 { &v0 } else { &v1 };
            let body = payload::payload(a, org, e.version, object, &ctx, custom_types);
            plan.deliveries
                .push((e.name.clone(), a.id, org.0, body.to_string()));
        }
        Kind::EmailToAddr {
            to,
            subject,
            template,
        } => {
            let (v1, _, ctx) = render(c)?;
            let event = payload::payload(a, org, 1, &v1, &ctx, custom_types);
            let mail = json!({
                "to": to,
                "subject": payload::fill(subject, &event).chars().take(512).collect::<String>(),
                "body": payload::fill(template, &event),
            });
            plan.deliveries
                .push((EMAIL_ENDPOINT.into(), a.id, org.0, mail.to_string()));
        }
        // What jobs change does not start more jobs (no loops between notifications).
        Kind::RunAnalyzer { .. } | Kind::RunResponder { .. } if automated => {}
        Kind::RunAnalyzer {
            analyzer,
            parameters,
        } => {
            let ids: Vec<i64> = match (a.object_type, a.object_id, a.action) {
                (
                    ObjectType::Observable,
                    Some(id),
                    crate::audit::Action::Create | crate::audit::Action::Update,
                ) => vec![id],
                (ObjectType::Alert, Some(id), _) => observables::table
                    .filter(observables::alert_id.eq(id))
                    .select(observables::id)
                    .order(observables::id.asc())
                    .limit(MAX_OBSERVABLES)
                    .load(c)?,
                (ObjectType::Case, Some(id), _) => observables::table
                    .filter(observables::case_id.eq(id))
                    .select(observables::id)
                    .order(observables::id.asc())
                    .limit(MAX_OBSERVABLES)
                    .load(c)?,
                _ => Vec::new(),
            };
            for id in ids {
                plan.jobs.push(JobPlan {
                    kind: WorkerKind::Analyzer,
                    organisation: (org.0, org.1.to_string()),
                    object_type: "case_artifact",
                    object_id: id,
                    worker: analyzer.clone(),
                    parameters: parameters.clone(),
                });
            }
        }
        Kind::RunResponder {
            responder,
            parameters,
        } => {
            let target = match (a.object_type, a.object_id) {
                (ObjectType::Case, Some(id)) => Some(("case", id)),
                (ObjectType::Alert, Some(id)) => {
                    let exists: i64 = alerts::table.find(id).count().get_result(c)?;
                    (exists > 0).then_some(("alert", id))
                }
                (ObjectType::Task, Some(id)) => Some(("case_task", id)),
                (ObjectType::Log, Some(id)) => Some(("case_task_log", id)),
                (ObjectType::Observable, Some(id)) => Some(("case_artifact", id)),
                _ => None,
            };
            if let (Some((object_type, object_id)), false) =
                (target, a.action == crate::audit::Action::Delete)
            {
                plan.jobs.push(JobPlan {
                    kind: WorkerKind::Responder,
                    organisation: (org.0, org.1.to_string()),
                    object_type,
                    object_id,
                    worker: responder.clone(),
                    parameters: parameters.clone(),
                });
            }
        }
    }
    Ok(())
}
