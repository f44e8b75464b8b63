//! The credential a request carries, for both services: `Authorization: Bearer` (API key or session token), `Authorization: Basic`, or the
//! session cookie. A browser sends a cookie, and Basic credentials it remembers, with
//! cross-site requests too (CVE-2025-48740 in TheHive), so for the credentials a browser adds
//! by itself a request that changes data is refused when the browser says it comes from
//! another site (`Sec-Fetch-Site`, `Origin`), and a cookie-authenticated one must also carry
//! the session's CSRF token as `X-CSRF-Token` (a header a cross-site form cannot set, with a
//! value another site cannot know: the console's pages hold it). Scripts (thehive4py,
//! cortex4py, feeders) use API keys or Basic and are not affected.

use super::auth_failure;
use crate::error::ApiError;
use actix_web::http::header;
use actix_web::HttpRequest;
use base64::Engine;

/// Longest Bearer credential accepted.
const MAX_BEARER: usize = 4096;

/// A credential found in a request.
#[derive(Debug)]
pub enum Credential {
    /// An API key or a session token.
    Bearer(String),
    /// Login and password.
    Basic {
        /// Login.
        login: String,
        /// Password.
        password: String,
    },
    /// The session cookie's token.
    Cookie(String),
}

/// Whether a request that changes data comes, as its browser says, from another site.
fn cross_site_write(req: &HttpRequest) -> bool {
    if matches!(req.method().as_str(), "GET" | "HEAD" | "OPTIONS") {
        return false;
    }
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = header("Sec-Fetch-Site") {
        return !matches!(site, "same-origin" | "none");
    }
    match (header("Origin"), header("Host")) {
        (Some("null"), _) => true,
        (Some(origin), Some(host)) => {
            let origin_host = origin.split("://").nth(1).unwrap_or(origin);
            !origin_host.eq_ignore_ascii_case(host)
        }
        _ => false,
    }
}

fn cross_site_refused() -> ApiError {
    ApiError::Authorization(
        "A request from another site cannot change data with the browser's credentials".into(),
    )
}

/// Name of the header carrying the session's CSRF token.
pub const CSRF_HEADER: &str = "X-CSRF-Token";

/// Reads the credential of `req` (`None`: it carries none); `cookie` names the session cookie,
/// `sessions` checks the CSRF token of cookie-authenticated writes.
pub fn credential_of(
    req: &HttpRequest,
    cookie: &str,
    sessions: &super::session::SessionKeys,
) -> Result<Option<Credential>, ApiError> {
    if let Some(value) = req.headers().get(header::AUTHORIZATION) {
        let value = value.to_str().map_err(|_| auth_failure())?.trim();
        let (scheme, rest) = value.split_once(' ').ok_or_else(auth_failure)?;
        let rest = rest.trim();
        return match scheme.to_ascii_lowercase().as_str() {
            "bearer" if !rest.is_empty() && rest.len() <= MAX_BEARER => {
                Ok(Some(Credential::Bearer(rest.to_string())))
            }
            "basic" => {
                if cross_site_write(req) {
                    return Err(cross_site_refused());
                }
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(rest)
                    .map_err(|_| auth_failure())?;
                let text = String::from_utf8(decoded).map_err(|_| auth_failure())?;
                let (login, password) = text.split_once(':').ok_or_else(auth_failure)?;
                Ok(Some(Credential::Basic {
                    login: login.to_string(),
                    password: password.to_string(),
                }))
            }
            _ => Err(auth_failure()),
        };
    }
    if let Some(cookie) = req.cookie(cookie) {
        if cross_site_write(req) {
            return Err(cross_site_refused());
        }
        let safe = matches!(req.method().as_str(), "GET" | "HEAD" | "OPTIONS");
        let token_ok = || {
            req.headers()
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|given| sessions.csrf_matches(cookie.value(), given))
        };
        if !safe && !token_ok() {
            return Err(ApiError::Authorization(
                "Requests authenticated by the session cookie that change data must carry the \
                 session's CSRF token (X-CSRF-Token)"
                    .into(),
            ));
        }
        return Ok(Some(Credential::Cookie(cookie.value().to_string())));
    }
    Ok(None)
}

/// The session token a request carries (cookie, or a session token as Bearer), whatever its
/// method: what logout ends.
pub fn session_token_of(req: &HttpRequest, cookie: &str) -> Option<String> {
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_string())
        .filter(|t| super::session::looks_like_token(t));
    bearer.or_else(|| req.cookie(cookie).map(|c| c.value().to_string()))
}
