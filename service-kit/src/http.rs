//! HTTP plumbing of both services: errors as HTTP answers (and actix's own errors as ours),
//! the access log with request ids, echoed as `X-Request-Id` (query values that may be
//! secrets are never logged), the client address behind trusted proxies, the security
//! headers of every answer, and the JSON 404 for unknown routes.

use crate::error::ApiError;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::ResponseError;
use actix_web::{HttpMessage, HttpRequest, HttpResponse};
use tracing_actix_web::RequestId;

/// An error answers with its status and TheHive's body; what the client is not shown is
/// logged.
impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        self.log();
        HttpResponse::build(self.status_code()).json(self.body())
    }
}

/// Maps actix's own extractor errors (path, query, payload) to TheHive's body.
pub fn from_actix(err: actix_web::Error) -> ApiError {
    let status = err.as_response_error().status_code();
    let text = err.to_string();
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(format!(
            "request body too large ({text}); see http.max_json_bytes"
        )),
        s if s.is_client_error() => ApiError::BadRequest(text),
        _ => ApiError::internal(text),
    }
}

/// Who made a request, as the access log names them: left in the request's extensions once
/// the caller is authenticated.
#[derive(Debug, Clone)]
pub struct RequestIdentity {
    /// The login.
    pub user: String,
    /// The organisation the request acts in.
    pub organisation: String,
}

/// Logs one line per request (request id, method, path with secret query values masked,
/// status, duration, user and organisation, client address) and returns the request id in
/// `X-Request-Id`. Use with `App::wrap_fn`, outside `TracingLogger` (whose request id it
/// reads back), so that the line carries each field once.
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
    let method = req.method().to_string();
    let path = loggable_target(req.path(), req.query_string());
    let client = client_ip(req.request())
        .map(|ip| ip.to_string())
        .unwrap_or_default();
    let started = std::time::Instant::now();
    let fut = srv.call(req);
    async move {
        let mut res = fut.await?;
        let (id, who) = {
            let ext = res.request().extensions();
            (
                ext.get::<RequestId>().map(|r| r.to_string()),
                ext.get::<RequestIdentity>().cloned(),
            )
        };
        let (user, organisation) =
            who.map_or((String::new(), String::new()), |w| (w.user, w.organisation));
        tracing::info!(
            request_id = id.as_deref().unwrap_or(""),
            method = %method,
            path = %path,
            status = res.status().as_u16(),
            elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            user = %user,
            organisation = %organisation,
            client = %client,
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

/// The span of a request (`tracing-actix-web`): its id and route only, so that what a
/// handler logs names its request; the rest is in the access log line ([`access_log`]).
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
        tracing::info_span!("request", request_id = %id, route = %route)
    }

    fn on_request_end<B: MessageBody>(
        _span: tracing::Span,
        _outcome: &Result<ServiceResponse<B>, actix_web::Error>,
    ) {
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

/// The CSP of the interactive API reference (`/api-docs/`): its own scripts and styles
/// only, nothing from elsewhere (it works offline); calls to this API only.
pub const DOCS_CSP: &str =
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; \
     base-uri 'none'; form-action 'none'";

/// Whether a path is the API reference's (public, documentation only).
pub fn is_docs(path: &str) -> bool {
    path == "/api-docs" || path.starts_with("/api-docs/")
}

/// Adds [`SECURITY_HEADERS`] to every answer that did not set them itself (the API
/// reference pages get [`DOCS_CSP`]). Use with `middleware::from_fn`.
pub async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let docs = is_docs(req.path()) && !req.path().ends_with(".json");
    let mut res = next.call(req).await?;
    let headers = res.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        let value = if docs && *name == "Content-Security-Policy" {
            DOCS_CSP
        } else {
            value
        };
        let name = HeaderName::from_static(name_lower(name));
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
    Ok(res)
}

fn name_lower(name: &'static str) -> &'static str {
    match name {
        "X-Content-Type-Options" => "x-content-type-options",
        "Content-Security-Policy" => "content-security-policy",
        "X-Frame-Options" => "x-frame-options",
        "Referrer-Policy" => "referrer-policy",
        "Cross-Origin-Resource-Policy" => "cross-origin-resource-policy",
        "Cache-Control" => "cache-control",
        other => other,
    }
}

/// A trailing slash is not part of a route: `POST /api/alert/` is `POST /api/alert` (scripts
/// written against TheHive send both). The API reference's pages keep theirs. Use with
/// `middleware::from_fn`, outside the routes.
pub async fn trim_trailing_slash(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let path = req.path();
    if path.len() > 1 && path.ends_with('/') && !is_docs(path) {
        let trimmed = path.trim_end_matches('/');
        let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
        let target = match req.query_string() {
            "" => trimmed.to_string(),
            q => format!("{trimmed}?{q}"),
        };
        if let Ok(pq) = actix_web::http::uri::PathAndQuery::try_from(target) {
            let mut parts = req.head().uri.clone().into_parts();
            parts.path_and_query = Some(pq);
            if let Ok(uri) = actix_web::http::Uri::from_parts(parts) {
                req.match_info_mut().get_mut().update(&uri);
                req.head_mut().uri = uri;
            }
        }
    }
    next.call(req).await
}
