//! How the console's pages are made: the templates (compiled into the binary, parsed once,
//! every value auto-escaped) with the filters of the services' shared console kit
//! ([`service_kit::console`]: dates, labels, Markdown, the CSP) and hive's own (severity,
//! progress).

use minijinja::Environment;
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
    (
        "admin_platform.html",
        include_str!("../../console/templates/admin_platform.html"),
    ),
    (
        "admin_page_templates.html",
        include_str!("../../console/templates/admin_page_templates.html"),
    ),
    (
        "admin_notifications.html",
        include_str!("../../console/templates/admin_notifications.html"),
    ),
    (
        "admin_sharing.html",
        include_str!("../../console/templates/admin_sharing.html"),
    ),
    (
        "admin_organisations.html",
        include_str!("../../console/templates/admin_organisations.html"),
    ),
    (
        "admin_profiles.html",
        include_str!("../../console/templates/admin_profiles.html"),
    ),
    (
        "admin_fields.html",
        include_str!("../../console/templates/admin_fields.html"),
    ),
    (
        "admin_observable_types.html",
        include_str!("../../console/templates/admin_observable_types.html"),
    ),
    (
        "attack.html",
        include_str!("../../console/templates/attack.html"),
    ),
];

pub use service_kit::console::{date, markdown, tlp_label, CSP, STATIC};

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = service_kit::console::environment(TEMPLATES);
    env.add_filter("severity", |v: i64| severity_label(v).to_string());
    env.add_filter("pct", |done: i64, all: i64| {
        if all <= 0 {
            0
        } else {
            (done * 100 / all).clamp(0, 100)
        }
    });
    env
});

/// Renders a page.
pub fn render(name: &str, ctx: &Value) -> Result<String, ApiError> {
    service_kit::console::render(&ENV, name, ctx)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses() {
        for (name, _) in TEMPLATES {
            ENV.get_template(name).expect("the template parses");
        }
    }

    #[test]
    fn every_template_file_is_compiled_in() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("console/templates");
        let missing = service_kit::console::uncompiled_templates(&dir, TEMPLATES);
        assert!(missing.is_empty(), "not in TEMPLATES: {missing:?}");
    }

    #[test]
    fn values_are_escaped() {
        let html = render(
            "login.html",
            &serde_json::json!({"next": "/alerts\"><script>alert(1)</script>"}),
        )
        .expect("the login page renders");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(!html.contains("<script>alert"), "{html}");
    }
}
