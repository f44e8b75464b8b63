//! Analyzer jobs and responder actions created: by the REST routes and by notifications
//! alike. A job is a row first (the outbox of its submission), recorded in the audit trail
//! in the same transaction.

use super::apply::{self, Ended};
use super::Dispatch;
use crate::casework::Actor;
use crate::db::casework::CortexJobRow;
use crate::db::schema::cortex_jobs;
use crate::db::{now_ms, DbConn};
use diesel::prelude::*;
use serde_json::Value;
use service_kit::error::ApiError;

/// The set of configured server names.
pub fn servers_known(names: &[String]) -> std::collections::HashSet<String> {
    names.iter().cloned().collect()
}

/// Jobs for servers that are not configured end at once, as failures naming the reason.
pub fn fail_unknown(
    c: &mut DbConn,
    rows: Vec<CortexJobRow>,
    known: &std::collections::HashSet<String>,
) -> Result<Vec<CortexJobRow>, ApiError> {
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        if known.contains(&r.cortex_id) {
            out.push(r);
            continue;
        }
        let reason = if r.cortex_id.is_empty() {
            "no Cortex server is configured".to_string()
        } else {
            format!("Cortex server {} is not configured", r.cortex_id)
        };
        match apply::finish(c, r.id, Ended::failure(reason))? {
            Some(done) => out.push(done),
            None => out.push(r),
        }
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
pub fn insert(
    c: &mut DbConn,
    actor: &Actor,
    kind: &str,
    object_type: &str,
    object_id: i64,
    cortex_id: &str,
    worker: &str,
    name: &str,
    parameters: Value,
    tlp: Option<i32>,
    transport: &str,
    claimed: bool,
) -> Result<CortexJobRow, ApiError> {
    let now = now_ms();
    let row = CortexJobRow {
        id: crate::db::next_id(),
        organisation_id: actor.org_id,
        kind: kind.into(),
        object_type: object_type.into(),
        object_id,
        cortex_id: cortex_id.into(),
        worker_id: worker.into(),
        worker_name: name.into(),
        worker_definition: name.into(),
        request_id: crate::auth::secrets::random_token(24),
        cortex_job_id: None,
        status: "Waiting".into(),
        start_date: now,
        end_date: None,
        report: None,
        operations: "[]".into(),
        parameters: parameters.to_string(),
        tlp,
        dispatch: Dispatch::Pending.as_str().into(),
        transport: transport.into(),
        attempts: 0,
        // Claimed at birth when it is submitted right away (the sweep leaves it alone).
        next_attempt: if claimed {
            now + crate::cortex::connector::CLAIM_MS
        } else {
            now
        },
        created_by: actor.login.clone(),
        created_at: now,
        updated_by: None,
        updated_at: None,
    };
    diesel::insert_into(cortex_jobs::table)
        .values(&row)
        .execute(c)?;
    let root = crate::audit::root_of(c, object_type, object_id)?;
    crate::audit::record(crate::audit::Record::new(
        actor,
        crate::audit::Action::Create,
        if kind == "analyzer" {
            crate::audit::ObjectType::Job
        } else {
            crate::audit::ObjectType::Action
        },
        Some(row.id),
        crate::render::jobs::audit_details(&row),
        root,
    ));
    Ok(row)
}
