//! How the console's pages are made: the templates (compiled into the binary, parsed once,
//! every value auto-escaped), their filters (dates, labels, Markdown) and the headers every
//! page carries (a CSP without inline scripts or styles).

use minijinja::{Environment, Value as J};
use serde_json::Value;
use service_kit::error::ApiError;
use std::sync::LazyLock;

/// The console's templates, by name (the `.html` ones are auto-escaped).
const TEMPLATES: &[(&str, &str)] = &[
    (
        "base.html",
        include_str!("../../console/templates/base.html"),
    ),
    (
        "macros.html",
        include_str!("../../console/templates/macros.html"),
    ),
    (
        "login.html",
        include_str!("../../console/templates/login.html"),
    ),
    (
        "error.html",
        include_str!("../../console/templates/error.html"),
    ),
    (
        "alerts.html",
        include_str!("../../console/templates/alerts.html"),
    ),
    (
        "alert.html",
        include_str!("../../console/templates/alert.html"),
    ),
    (
        "cases.html",
        include_str!("../../console/templates/cases.html"),
    ),
    (
        "case.html",
        include_str!("../../console/templates/case.html"),
    ),
    (
        "observable.html",
        include_str!("../../console/templates/observable.html"),
    ),
    (
        "tasks.html",
        include_str!("../../console/templates/tasks.html"),
    ),
    (
        "search.html",
        include_str!("../../console/templates/search.html"),
    ),
    (
        "account.html",
        include_str!("../../console/templates/account.html"),
    ),
    (
        "new_case.html",
        include_str!("../../console/templates/new_case.html"),
    ),
    (
        "admin_menu.html",
        include_str!("../../console/templates/admin_menu.html"),
    ),
    (
        "admin_templates.html",
        include_str!("../../console/templates/admin_templates.html"),
    ),
    (
        "admin_template.html",
        include_str!("../../console/templates/admin_template.html"),
    ),
    (
        "admin_users.html",
        include_str!("../../console/templates/admin_users.html"),
    ),
];

/// The console's own files: `/ui/<name>`, with their type.
pub const STATIC: &[(&str, &str, &str)] = &[
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/static/app.js"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../../console/static/app.css"),
    ),
];

/// The console pages' Content-Security-Policy: scripts, styles and connections from this
/// service only, no inline script or style, no framing, forms nowhere (actions go through
/// the API from the console's script).
pub const CSP: &str =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Lenient);
    for (name, source) in TEMPLATES {
        if let Err(e) = env.add_template(name, source) {
            panic!("console template {name}: {e:#}");
        }
    }
    env.add_filter("md", markdown_filter);
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
    env.add_filter("date", date_filter);
    env.add_filter("ago", ago_filter);
    env.add_filter("severity", |v: i64| severity_label(v).to_string());
    env.add_filter("tlp", |v: i64| tlp_label(v).to_string());
    env.add_filter("pct", |done: i64, all: i64| {
        if all <= 0 {
            0
        } else {
            (done * 100 / all).clamp(0, 100)
        }
    });
    env.add_filter("json_pretty", |v: J| {
        let v: Value = serde_json::to_value(&v).unwrap_or(Value::Null);
        serde_json::to_string_pretty(&v).unwrap_or_default()
    });
    env.add_filter("tojson", |v: J| {
        let v: Value = serde_json::to_value(&v).unwrap_or(Value::Null);
        v.to_string()
    });
    env.add_filter("urlencode", |s: String| {
        percent_encoding::utf8_percent_encode(&s, percent_encoding::NON_ALPHANUMERIC).to_string()
    });
    env
});

/// Renders a page.
pub fn render(name: &str, ctx: &Value) -> Result<String, ApiError> {
    let t = ENV.get_template(name).map_err(ApiError::internal)?;
    t.render(ctx)
        .map_err(|e| ApiError::internal(format!("{e:#}")))
}

/// TheHive's severity names.
pub fn severity_label(v: i64) -> &'static str {
    match v {
        1 => "LOW",
        2 => "MEDIUM",
        3 => "HIGH",
        4 => "CRITICAL",
        _ => "?",
    }
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

/// Longest text rendered as Markdown; the rest is cut (the API bounds texts too).
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

fn markdown_filter(v: J) -> J {
    match v.as_str() {
        Some(s) => J::from_safe_string(markdown(s)),
        None => J::from(""),
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

fn date_filter(v: J) -> String {
    match i64::try_from(v) {
        Ok(ms) if ms > 0 => date(ms),
        _ => String::new(),
    }
}

fn ago_filter(v: J) -> String {
    let Ok(ms) = i64::try_from(v) else {
        return String::new();
    };
    let s = (crate::db::now_ms() - ms).max(0) / 1000;
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
    fn every_template_parses() {
        for (name, _) in TEMPLATES {
            ENV.get_template(name).expect("the template parses");
        }
    }

    #[test]
    fn values_are_escaped() {
        let html = render(
            "error.html",
            &serde_json::json!({"status": 404, "message": "<script>alert(1)</script>"}),
        )
        .expect("the error page renders");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(!html.contains("<script>alert"), "{html}");
    }
}
