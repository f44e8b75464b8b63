//! Live events: TheHive 4's long-polled streams and a Server-Sent Events stream, each
//! limited to what the caller may see.

use crate::auth::Caller;
use crate::casework::Actor;
use crate::db::Db;
use crate::notify::streams;
use crate::ServiceState;
use actix_web::{get, post, web, HttpResponse};
use service_kit::error::ApiError;

/// Opens a stream of the caller's events: its id (text/plain), to poll.
#[utoipa::path(tag = "stream", responses((status = 200, content_type = "text/plain", body = String), (status = 429)))]
#[post("/api/stream")]
pub async fn create_stream(
    state: web::Data<ServiceState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let id = state.streams.create(caller.login())?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(id))
}

/// Whether the caller's session ends soon (`{warning, remaining}`, ms).
#[utoipa::path(tag = "stream", responses((status = 200, description = "`{warning, remaining}`")))]
#[get("/api/stream/status")]
pub async fn stream_status(_caller: Caller) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(serde_json::json!({ "warning": false, "remaining": 3_600_000 })))
}

/// Query of `GET /api/stream/{id}`.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub struct PollParams {
    /// Longest wait for a first event, seconds (0 to 60, default 60).
    pub wait: Option<u64>,
}

/// Waits (up to a minute) for the stream's next events: TheHive 4's audit items
/// (`{base, summary, _type}`), newest first; `[]` when none came.
#[utoipa::path(tag = "stream", params(PollParams), responses((status = 200, description = "the events"), (status = 404)))]
#[get("/api/stream/{id}")]
pub async fn poll_stream(
    db: web::Data<Db>,
    state: web::Data<ServiceState>,
    caller: Caller,
    id: web::Path<String>,
    params: web::Query<PollParams>,
) -> Result<HttpResponse, ApiError> {
    let wait = params.wait.map_or(streams::POLL_WAIT, |s| {
        std::time::Duration::from_secs(s.min(60))
    });
    let items = state
        .streams
        .poll(&db, Actor::of(&caller), &id, wait)
        .await?;
    Ok(HttpResponse::Ok().json(items))
}

/// The caller's organisation's events as Server-Sent Events (`event:
/// <objectType>.<action>`, `data:` the version 1 webhook payload), as they happen.
#[utoipa::path(tag = "stream", responses((status = 200, content_type = "text/event-stream", body = String), (status = 429)))]
#[get("/api/v1/events")]
pub async fn events(
    db: web::Data<Db>,
    state: web::Data<ServiceState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let rx = streams::follow(db.get_ref().clone(), &state.audit.feed, Actor::of(&caller))?;
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|chunk| (Ok::<_, actix_web::Error>(web::Bytes::from(chunk)), rx))
    });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body))
}
