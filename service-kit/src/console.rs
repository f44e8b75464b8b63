//! What the services' consoles share: pages rendered on the server from templates compiled into
//! the binary (minijinja, every value auto-escaped) with the filters both use, Markdown made
//! safe, the one script and style sheet (`/ui/app.js`, `/ui/app.css`), the pages' headers (a
//! CSP without inline script), the session's CSRF token, and the answer of a page that cannot
//! be shown (to the login page without a session, else the API's refusal as a page).

use crate::auth::session::SessionKeys;
use crate::error::ApiError;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use minijinja::value::Value as J;
use minijinja::Environment;
use serde_json::Value;

/// The consoles' own files: `/ui/<name>`, with their type. The script calls the service's API
/// with the session cookie and the page's CSRF token; the same file serves both services.
pub const STATIC: &[(&str, &str, &str)] = &[
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../console/static/app.js"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../console/static/app.css"),
    ),
];

/// The pages' Content-Security-Policy: scripts, styles and connections from this service
/// only, no inline script or style, no framing, forms nowhere (actions go through the API
/// from the console's script).
pub const CSP: &str =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// An HTML answer with the console's headers.
pub fn html(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("Content-Security-Policy", CSP))
        .insert_header(("Cache-Control", "no-store"))
        .body(body)
}

/// `GET /ui/{file}`: the consoles' script and style sheet.
pub fn static_file(file: &str) -> HttpResponse {
    match STATIC.iter().find(|(name, _, _)| *name == file) {
        Some((_, kind, body)) => HttpResponse::Ok()
            .content_type(*kind)
            .insert_header(("Cache-Control", "private, max-age=300"))
            .body(*body),
        None => HttpResponse::NotFound().finish(),
    }
}

/// The CSRF token of the request's session cookie `cookie`, when it holds a session.
pub fn session_csrf(req: &HttpRequest, cookie: &str, sessions: &SessionKeys) -> Option<String> {
    let c = req.cookie(cookie)?;
    sessions.csrf_token(c.value())
}

/// Who looks at a page and the session's CSRF token: the caller the service's middleware put
/// in the request's extensions, authenticated by the session cookie `cookie` (pages are for
/// browsers: an API key alone opens none). Else the login page, then back here.
pub fn session_viewer<C: Clone + 'static>(
    req: &HttpRequest,
    cookie: &str,
    sessions: &SessionKeys,
) -> Result<(C, String), PageError> {
    use actix_web::HttpMessage;
    let login = || PageError::Login(login_target(req));
    let caller = req.extensions().get::<C>().cloned().ok_or_else(login)?;
    let csrf = session_csrf(req, cookie, sessions).ok_or_else(login)?;
    Ok((caller, csrf))
}

/// A value of the query string kept when it is short (200 characters) and plain text.
pub fn clean(v: Option<&String>) -> Option<String> {
    v.map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty() && s.len() <= 200 && !s.chars().any(char::is_control))
}

/// The files of a console's template folder that are not in its compiled-in `templates`
/// (each service's unit test asserts there is none: a file left out answers 500).
pub fn uncompiled_templates(dir: &std::path::Path, templates: &[(&str, &str)]) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|name| !templates.iter().any(|(n, _)| n == name))
                .collect()
        })
        .unwrap_or_else(|e| vec![format!("{}: {e}", dir.display())])
}

/// `/login?next=<this page>`.
pub fn login_target(req: &HttpRequest) -> String {
    let here = match req.query_string() {
        "" => req.path().to_string(),
        q => format!("{}?{q}", req.path()),
    };
    format!(
        "/login?next={}",
        percent_encoding::utf8_percent_encode(&here, percent_encoding::NON_ALPHANUMERIC)
    )
}

/// A `next` of the login page kept when it is a path of this console only (never another
/// site), else `default`.
pub fn safe_next(next: Option<&String>, default: &str) -> String {
    next.map(|n| n.trim().to_string())
        .filter(|n| {
            n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && n.len() <= 2000
                && !n.chars().any(char::is_control)
        })
        .unwrap_or_else(|| default.into())
}

/// Why a page is not shown: no session (to the login page), or the API's refusal shown as
/// a page with the API's status.
#[derive(Debug)]
pub enum PageError {
    /// To the login page, then back to this address.
    Login(String),
    /// What the API would have answered.
    Api(ApiError),
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PageError::Login(to) => write!(f, "login first ({to})"),
            PageError::Api(e) => write!(f, "{e}"),
        }
    }
}

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> Self {
        PageError::Api(e)
    }
}

const ERROR_PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ status }}</title><link rel="stylesheet" href="/ui/app.css"></head>
<body class="bare"><main class="narrow"><h1>{{ status }}</h1><p class="error">{{ message }}</p><p><a href="/">Back</a></p></main></body></html>"#;

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            PageError::Login(_) => StatusCode::SEE_OTHER,
            PageError::Api(e) => e.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            PageError::Login(to) => HttpResponse::SeeOther()
                .insert_header(("Location", to.as_str()))
                .insert_header(("Content-Security-Policy", CSP))
                .finish(),
            PageError::Api(e) => {
                if e.status() >= 500 {
                    e.log();
                }
                let mut env = Environment::new();
                env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
                let body = env
                    .render_str(
                        ERROR_PAGE,
                        minijinja::context! {status => e.status(), message => e.to_string()},
                    )
                    .unwrap_or_else(|_| "<!doctype html><title>Error</title>".into());
                html(e.status_code(), body)
            }
        }
    }
}

/// What `urlencode` escapes: everything but letters, digits and RFC 3986's unreserved
/// `-._~` (a query value or a path segment either way).
const COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// An environment of the console templates `templates` (name, source; `.html` ones are
/// auto-escaped) with the filters both consoles use: `md` (Markdown made safe), `text` (a
/// value as one line), `fromjson`, `date` and `ago` (epoch ms), `tlp`, `json_pretty`,
/// `tojson`, `urlencode`. Panics on a template that does not parse (they are compiled in;
/// a unit test of each service renders them).
pub fn environment(templates: &[(&'static str, &'static str)]) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Lenient);
    for (name, source) in templates {
        if let Err(e) = env.add_template(name, source) {
            panic!("console template {name}: {e:#}");
        }
    }
    env.add_filter("md", |v: J| match v.as_str() {
        Some(s) => J::from_safe_string(markdown(s)),
        None => J::from(""),
    });
    env.add_filter("text", text_filter);
    // A JSON text (an action's operations) as a list; anything else as an empty one.
    env.add_filter("fromjson", |v: J| {
        let parsed = v
            .as_str()
            .and_then(|s| serde_json::from_str::<Value>(s).ok())
            .filter(Value::is_array)
            .unwrap_or_else(|| Value::Array(Vec::new()));
        J::from_serialize(&parsed)
    });
    env.add_filter("date", |v: J| match i64::try_from(v) {
        Ok(ms) if ms > 0 => date(ms),
        _ => String::new(),
    });
    env.add_filter("ago", ago_filter);
    env.add_filter("tlp", |v: i64| tlp_label(v).to_string());
    env.add_filter("json_pretty", |v: J| {
        let v: Value = serde_json::to_value(&v).unwrap_or(Value::Null);
        serde_json::to_string_pretty(&v).unwrap_or_default()
    });
    env.add_filter("tojson", |v: J| {
        let v: Value = serde_json::to_value(&v).unwrap_or(Value::Null);
        v.to_string()
    });
    env.add_filter("urlencode", |s: String| {
        percent_encoding::utf8_percent_encode(&s, COMPONENT).to_string()
    });
    env
}

/// Renders the template `name` of `env`.
pub fn render(env: &Environment<'static>, name: &str, ctx: &Value) -> Result<String, ApiError> {
    let t = env.get_template(name).map_err(ApiError::internal)?;
    t.render(ctx)
        .map_err(|e| ApiError::internal(format!("{e:#}")))
}

/// TLP and PAP names.
pub fn tlp_label(v: i64) -> &'static str {
    match v {
        0 => "WHITE",
        1 => "GREEN",
        2 => "AMBER",
        3 => "RED",
        _ => "?",
    }
}

/// Longest text rendered as Markdown; the rest is cut (the APIs bound texts too).
const MAX_MARKDOWN: usize = 256 * 1024;

/// Markdown to HTML: rendered by pulldown-cmark, then cleaned by ammonia (no script, no
/// style, no event attribute, links only to http(s) and mailto, `rel="noopener noreferrer"`),
/// so what a feeder or an analyst writes can never run in another analyst's browser.
pub fn markdown(text: &str) -> String {
    let text = match text.char_indices().nth(MAX_MARKDOWN) {
        Some((i, _)) => &text[..i],
        None => text,
    };
    let mut opts = pulldown_cmark::Options::empty();
    opts.insert(pulldown_cmark::Options::ENABLE_TABLES);
    opts.insert(pulldown_cmark::Options::ENABLE_STRIKETHROUGH);
    opts.insert(pulldown_cmark::Options::ENABLE_TASKLISTS);
    let parser = pulldown_cmark::Parser::new_ext(text, opts);
    let mut html = String::with_capacity(text.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, parser);
    ammonia::Builder::default()
        .url_schemes(["http", "https", "mailto"].into_iter().collect())
        .link_rel(Some("noopener noreferrer nofollow"))
        .add_generic_attributes(["align"])
        .clean(&html)
        .to_string()
}

/// A value as one line of text: a list's items joined by commas.
fn text_filter(v: J) -> String {
    let v: Value = serde_json::to_value(&v).unwrap_or(Value::Null);
    match v {
        Value::Null => String::new(),
        Value::String(s) => s,
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}

/// Epoch milliseconds as `YYYY-MM-DD HH:MM` (UTC).
pub fn date(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        rem / 3600,
        (rem % 3600) / 60
    )
}

fn ago_filter(v: J) -> String {
    let Ok(ms) = i64::try_from(v) else {
        return String::new();
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let s = (now - ms).max(0) / 1000;
    match s {
        0..=59 => "just now".into(),
        60..=3599 => format!("{} min ago", s / 60),
        3600..=86_399 => format!("{} h ago", s / 3600),
        _ => format!("{} d ago", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_keeps_formatting_and_drops_scripts() {
        let html = markdown(
            "**bold** <script>alert(1)</script> <img src=x onerror=alert(2)> \
             [x](javascript:alert(3)) [ok](https://example.org)",
        );
        assert!(html.contains("<strong>bold</strong>"), "{html}");
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("onerror"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
        assert!(html.contains("href=\"https://example.org\""), "{html}");
    }

    #[test]
    fn dates_are_utc_minutes() {
        assert_eq!(date(0), "1970-01-01 00:00");
        assert_eq!(date(1_700_000_000_000), "2023-11-14 22:13");
    }

    #[test]
    fn the_error_page_escapes_the_message() {
        let r = PageError::Api(ApiError::NotFound("<script>x</script>".into())).error_response();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert!(r.headers().get("Content-Security-Policy").is_some());
    }

    #[test]
    fn next_stays_on_this_console() {
        let d = "/home";
        for bad in ["//evil.example/x", "https://evil.example", "/\\evil", "x"] {
            assert_eq!(safe_next(Some(&bad.to_string()), d), d, "{bad}");
        }
        assert_eq!(safe_next(Some(&"/jobs?x=1".to_string()), d), "/jobs?x=1");
    }
}
