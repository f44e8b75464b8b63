//! HTTP plumbing shared by both services (cortex-service compiles this file too): the access
//! log with request ids, echoed as `X-Request-Id`, and the JSON 404 for unknown routes.

use crate::error::ApiError;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{HttpMessage, HttpRequest, HttpResponse};
use tracing_actix_web::RequestId;

/// Logs one line per request (method, path, status, duration, request id) and returns the
/// request id in `X-Request-Id`. Use with `App::wrap_fn`, inside `TracingLogger`.
pub fn access_log<S, B>(
    req: ServiceRequest,
    srv: &S,
) -> impl std::future::Future<Output = Result<ServiceResponse<B>, actix_web::Error>>
where
    S: actix_web::dev::Service<
        ServiceRequest,
        Response = ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: MessageBody,
{
    let id = req.extensions().get::<RequestId>().map(|r| r.to_string());
    let method = req.method().to_string();
    let path = req.path().to_string();
    let started = std::time::Instant::now();
    let fut = srv.call(req);
    async move {
        let mut res = fut.await?;
        tracing::info!(
            request_id = id.as_deref().unwrap_or(""),
            method = %method,
            path = %path,
            status = res.status().as_u16(),
            elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "request"
        );
        if let Some(id) = id.and_then(|i| HeaderValue::from_str(&i).ok()) {
            res.headers_mut()
                .insert(HeaderName::from_static("x-request-id"), id);
        }
        Ok(res)
    }
}

/// The answer for a route that does not exist: 404 `NotFoundError` with the path.
pub async fn unknown_route(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound(req.path().to_string()))
}
