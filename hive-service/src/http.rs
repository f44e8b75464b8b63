//! HTTP plumbing shared by both services (cortex-service compiles this file too): the access
//! log with request ids, echoed as `X-Request-Id` (query values that may be secrets are
//! never logged), the client address behind trusted proxies, the security headers of every
//! answer, and the JSON 404 for unknown routes.

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

/// Reverse proxies whose `X-Forwarded-For` is believed (`http.trusted_proxies`).
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<ipnet::IpNet>);

impl TrustedProxies {
    /// Parses a comma-separated list of addresses and CIDR blocks.
    pub fn parse(list: &str) -> Result<TrustedProxies, String> {
        let mut out = Vec::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let net = item
                .parse::<ipnet::IpNet>()
                .or_else(|_| item.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| format!("{item} is not an address or a CIDR block"))?;
            out.push(net);
        }
        Ok(TrustedProxies(out))
    }

    fn contains(&self, ip: &std::net::IpAddr) -> bool {
        self.0.iter().any(|n| n.contains(ip))
    }
}

/// The client's address: the peer's, or, when the peer is a trusted proxy, the last address
/// of `X-Forwarded-For` that is not one.
pub fn client_ip(req: &HttpRequest) -> Option<std::net::IpAddr> {
    let peer = req.peer_addr()?.ip();
    let Some(trusted) = req.app_data::<actix_web::web::Data<TrustedProxies>>() else {
        return Some(peer);
    };
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let forwarded: Vec<std::net::IpAddr> = req
        .headers()
        .get_all("X-Forwarded-For")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    forwarded
        .into_iter()
        .rev()
        .find(|a| !trusted.contains(a))
        .or(Some(peer))
}

/// Query parameters whose values are never logged.
const SECRET_PARAMS: &[&str] = &[
    "password", "pwd", "key", "api_key", "apikey", "token", "secret", "code",
];

/// The request target as logged: the path, and the query with the values of parameters
/// that may be secrets replaced by `***`.
pub fn loggable_target(path: &str, query: &str) -> String {
    if query.is_empty() {
        return path.to_string();
    }
    let parts: Vec<String> = query
        .split('&')
        .map(|pair| {
            let (name, _) = pair.split_once('=').unwrap_or((pair, ""));
            let lower = name.to_ascii_lowercase();
            if SECRET_PARAMS.iter().any(|s| lower.contains(s)) {
                format!("{name}=***")
            } else {
                pair.to_string()
            }
        })
        .collect();
    format!("{path}?{}", parts.join("&"))
}

/// The request span of `tracing-actix-web`, without the raw query string (which may carry
/// an export password) and with the client address as [`client_ip`] finds it.
#[derive(Debug)]
pub struct RequestSpan;

impl tracing_actix_web::RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> tracing::Span {
        let id = request
            .extensions()
            .get::<RequestId>()
            .map(|r| r.to_string())
            .unwrap_or_default();
        let route = request.match_pattern().unwrap_or_else(|| "default".into());
        let client = client_ip(request.request())
            .map(|ip| ip.to_string())
            .unwrap_or_default();
        tracing::info_span!(
            "HTTP request",
            http.method = %request.method(),
            http.route = %route,
            http.target = %loggable_target(request.path(), request.query_string()),
            http.client_ip = %client,
            http.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
            request_id = %id,
        )
    }

    fn on_request_end<B: MessageBody>(
        span: tracing::Span,
        outcome: &Result<ServiceResponse<B>, actix_web::Error>,
    ) {
        tracing_actix_web::DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

/// Headers every answer carries unless it set its own: no content sniffing, no framing, no
/// referrer, nothing cached, and a CSP that lets an API answer load nothing.
pub const SECURITY_HEADERS: &[(&str, &str)] = &[
    ("X-Content-Type-Options", "nosniff"),
    (
        "Content-Security-Policy",
        "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    ),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
    ("Cache-Control", "no-store"),
];
