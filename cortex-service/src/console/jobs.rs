//! The organization's jobs (filters, paging; new ones show up, running ones are followed) and
//! a job's page: input, status, error, report and artifacts, followed while it runs (the
//! `read` role, as the API).

use super::{clean, page, Viewer};
use crate::db::Db;
use crate::jobs::listing::{self, JobFilter};
use crate::jobs::{artifacts_of, find_job, render_job};
use actix_web::{web, HttpResponse};
use serde_json::{json, Value};
use service_kit::console::PageError;
use shared_models::cortex::{JobStatus, Role};
use std::collections::HashMap;

/// Rows per page of the job list.
const PER: i64 = 25;

/// `GET /jobs?worker=&type=&status=&data=&page=`.
pub async fn list(
    db: web::Data<Db>,
    viewer: Viewer,
    params: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, PageError> {
    viewer.require(Role::Read)?;
    let p = params.into_inner();
    let filter = JobFilter {
        hide_deleted: true,
        data_type: clean(p.get("type")),
        status: clean(p.get("status")),
        worker: clean(p.get("worker")),
        data: clean(p.get("data")),
    };
    let page_no = clean(p.get("page"))
        .and_then(|s| s.parse::<i64>().ok())
        .unwrap_or(0)
        .clamp(0, 100_000);
    let org = viewer.caller.organization.id.clone();
    let f = filter.clone();
    let (rows, total) = db
        .read(move |c| {
            let rows = listing::jobs_of(c, &org, &f, Some((page_no * PER, PER)))?;
            Ok((rows, listing::count_jobs(c, &org, &f)?))
        })
        .await?;
    let jobs: Vec<Value> = rows
        .iter()
        .map(|r| serde_json::to_value(render_job(r, None)).unwrap_or(Value::Null))
        .collect();
    let running = rows.iter().any(|r| {
        r.status == JobStatus::Waiting.as_str() || r.status == JobStatus::InProgress.as_str()
    });
    let pages = (total + PER - 1) / PER;
    page(
        &viewer,
        "jobs",
        "jobs.html",
        json!({"jobs": jobs, "total": total, "page": page_no, "pages": pages.max(1),
               "filter": {"worker": filter.worker, "type": filter.data_type, "status": filter.status,
                          "data": filter.data},
               "statuses": ["Waiting", "InProgress", "Success", "Failure"],
               // New jobs show up within 10 s; running ones are followed every 2 s.
               "poll": if running { 2000 } else { 10_000 }}),
    )
}

/// `GET /jobs/{id}`: a job of the organization with its report and artifacts; 404 for
/// another organization's.
pub async fn show(
    db: web::Data<Db>,
    viewer: Viewer,
    id: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    viewer.require(Role::Read)?;
    let org = viewer.caller.organization.id.clone();
    let id = id.into_inner();
    let job = db
        .read(move |c| {
            let row = find_job(c, &org, &id)?;
            let arts = if row.status == JobStatus::Success.as_str() {
                artifacts_of(c, &row.id)?
            } else {
                Vec::new()
            };
            Ok(serde_json::to_value(render_job(&row, Some(&arts))).unwrap_or(Value::Null))
        })
        .await?;
    let running = matches!(
        job.get("status").and_then(Value::as_str),
        Some("Waiting" | "InProgress")
    );
    page(
        &viewer,
        "jobs",
        "job.html",
        json!({"job": job, "poll": if running { 2000 } else { 0 }}),
    )
}
