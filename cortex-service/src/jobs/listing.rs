//! Lists of an organization's jobs (every column but the report, which lists never show),
//! filtered and paged in SQL: what `GET /api/job` and the console's job list read.

use crate::db::schema::jobs;
use crate::db::{DbConn, JobRow};
use diesel::prelude::*;
use service_kit::error::ApiError;
use shared_models::cortex::JobStatus;

/// Which jobs a list holds.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    /// Leave out `Deleted` jobs.
    pub hide_deleted: bool,
    /// Only this data type.
    pub data_type: Option<String>,
    /// Only this status.
    pub status: Option<String>,
    /// Only this worker (its id or its name).
    pub worker: Option<String>,
    /// Only data holding this text.
    pub data: Option<String>,
}

type Backend = <DbConn as diesel::Connection>::Backend;

fn filtered<'a>(org: &'a str, f: &'a JobFilter) -> jobs::BoxedQuery<'a, Backend> {
    let mut q = jobs::table
        .filter(jobs::organization_id.eq(org))
        .into_boxed();
    if f.hide_deleted {
        q = q.filter(jobs::status.ne(JobStatus::Deleted.as_str()));
    }
    if let Some(t) = &f.data_type {
        q = q.filter(jobs::data_type.eq(t));
    }
    if let Some(s) = &f.status {
        q = q.filter(jobs::status.eq(s));
    }
    if let Some(w) = &f.worker {
        q = q.filter(jobs::worker_id.eq(w).or(jobs::worker_name.eq(w)));
    }
    if let Some(d) = &f.data {
        let escaped = d
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        q = q.filter(jobs::data.like(format!("%{escaped}%")).escape('\\'));
    }
    q
}

/// How many of the organization's jobs `f` keeps.
pub fn count_jobs(c: &mut DbConn, org: &str, f: &JobFilter) -> Result<i64, ApiError> {
    Ok(filtered(org, f).count().get_result(c)?)
}

/// The organization's jobs `f` keeps, newest first, without their reports; `page`: offset and
/// limit.
pub fn jobs_of(
    c: &mut DbConn,
    org: &str,
    f: &JobFilter,
    page: Option<(i64, i64)>,
) -> Result<Vec<JobRow>, ApiError> {
    let mut q = filtered(org, f);
    if let Some((offset, limit)) = page {
        q = q.offset(offset).limit(limit);
    }
    // Every column but the report, which lists never show.
    use diesel::dsl::sql;
    use diesel::sql_types::{Nullable, Text};
    Ok(q.order(jobs::created_at.desc())
        .select((
            (
                jobs::id,
                jobs::organization_id,
                jobs::worker_id,
                jobs::worker_name,
                jobs::worker_definition_id,
                jobs::kind,
                jobs::status,
                jobs::data_type,
                jobs::data,
                jobs::attachment,
                jobs::tlp,
                jobs::pap,
                jobs::message,
                jobs::parameters,
            ),
            (
                jobs::label,
                jobs::cache_tag,
                jobs::start_date,
                jobs::end_date,
                jobs::error_message,
                jobs::input,
                sql::<Nullable<Text>>("NULL"),
                jobs::runner,
                jobs::attempts,
                jobs::published,
                jobs::created_by,
                jobs::created_at,
                jobs::updated_by,
                jobs::updated_at,
                jobs::request_id,
            ),
        ))
        .load::<(JobHead, JobTail)>(c)?
        .into_iter()
        .map(JobRow::from)
        .collect())
}

type JobHead = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    i32,
    i32,
    String,
    String,
);
type JobTail = (
    Option<String>,
    String,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    i32,
    bool,
    String,
    i64,
    Option<String>,
    Option<i64>,
    Option<String>,
);

impl From<(JobHead, JobTail)> for JobRow {
    fn from((h, t): (JobHead, JobTail)) -> JobRow {
        JobRow {
            id: h.0,
            organization_id: h.1,
            worker_id: h.2,
            worker_name: h.3,
            worker_definition_id: h.4,
            kind: h.5,
            status: h.6,
            data_type: h.7,
            data: h.8,
            attachment: h.9,
            tlp: h.10,
            pap: h.11,
            message: h.12,
            parameters: h.13,
            label: t.0,
            cache_tag: t.1,
            start_date: t.2,
            end_date: t.3,
            error_message: t.4,
            input: t.5,
            report: t.6,
            runner: t.7,
            attempts: t.8,
            published: t.9,
            created_by: t.10,
            created_at: t.11,
            updated_by: t.12,
            updated_at: t.13,
            request_id: t.14,
            // Not shown by lists.
            announced: None,
        }
    }
}
