//! The console's administration pages (issue 18): the organisation's case templates (list,
//! the template form, duplicate, import and export as JSON), its users (create, profile,
//! lock, password, API key, TOTP reset, remove), and for the platform's administrators the
//! platform's state (database, broker, Cortex servers, notification deliveries). The other
//! organisation pages are in `admin_org`, the platform's catalogues in `admin_catalogue`. Each page reads through the Query API's
//! operations as the viewer and opens only for a viewer whose profile holds the permission the
//! API asks for the same writes (else 403, as the API answers); every change is the API's call.

use super::{page, query, PageError, Viewer};
use crate::db::Db;
use actix_web::{web, HttpResponse};
use serde_json::{json, Value};
use service_kit::error::ApiError;
use std::collections::HashMap;

/// The administration pages, each with the permission it needs (`platform:` a permission
/// held in the platform's `admin` organisation, acting there) and its label in the menu.
pub const PAGES: &[(&str, &str, &str)] = &[
    ("/admin/templates", "manageCaseTemplate", "Case templates"),
    (
        "/admin/page-templates",
        "managePageTemplate",
        "Page templates",
    ),
    ("/admin/users", "manageUser", "Users"),
    ("/admin/notifications", "manageConfig", "Notifications"),
    ("/admin/sharing", "manageConfig", "Sharing profiles"),
    (
        "/admin/organisations",
        "platform:manageOrganisation",
        "Organisations",
    ),
    ("/admin/profiles", "platform:manageProfile", "Profiles"),
    (
        "/admin/fields",
        "platform:manageCustomField",
        "Custom fields",
    ),
    (
        "/admin/observable-types",
        "platform:manageObservableTemplate",
        "Observable types",
    ),
    ("/admin/platform", "platform:manageConfig", "Platform"),
];

/// Whether `viewer` holds `perm` as [`PAGES`] states it.
pub(super) fn allowed(viewer: &Viewer, perm: &str) -> bool {
    match perm.strip_prefix("platform:") {
        Some(p) => viewer.caller.is_platform_admin(p),
        None => viewer.can(perm),
    }
}

/// The administration pages `viewer` may open (the menu), and the ATT&CK catalogue (open
/// to every user) when there is any.
pub fn menu(viewer: &Viewer) -> Vec<Value> {
    let mut out: Vec<Value> = PAGES
        .iter()
        .filter(|(_, perm, _)| allowed(viewer, perm))
        .map(|(path, _, label)| json!({"path": path, "label": label}))
        .collect();
    if !out.is_empty() {
        out.push(json!({"path": "/attack", "label": "ATT&CK catalogue"}));
    }
    out
}

/// 403 unless `viewer` holds `permission` as [`PAGES`] states it.
pub(super) fn require(viewer: &Viewer, permission: &str) -> Result<(), PageError> {
    match permission.strip_prefix("platform:") {
        Some(p) if !allowed(viewer, permission) => Err(PageError::Api(ApiError::Authorization(
            format!("{p} in organisation admin is needed"),
        ))),
        Some(_) => Ok(()),
        None => viewer.caller.require(permission).map_err(PageError::Api),
    }
}

/// `GET /admin`: the first administration page the viewer may open, else 403.
pub async fn index(viewer: Viewer) -> Result<HttpResponse, PageError> {
    match PAGES.iter().find(|(_, perm, _)| allowed(&viewer, perm)) {
        Some((path, _, _)) => Ok(HttpResponse::SeeOther()
            .insert_header(("Location", *path))
            .finish()),
        None => Err(PageError::Api(ApiError::Authorization(
            "Your profile administers nothing in this organisation".into(),
        ))),
    }
}

/// `GET /admin/templates`: the organisation's case templates, with the import form.
pub async fn templates(db: web::Data<Db>, viewer: Viewer) -> Result<HttpResponse, PageError> {
    require(&viewer, "manageCaseTemplate")?;
    let caller = viewer.caller.clone();
    let (items, _) = db
        .read(move |c| {
            query(
                c,
                &caller,
                json!([{"_name": "listCaseTemplate"},
                       {"_name": "sort", "_fields": [{"displayName": "asc"}]},
                       {"_name": "page", "from": 0, "to": 1000}]),
            )
        })
        .await?;
    page(
        &viewer,
        "admin",
        "admin_templates.html",
        json!({"templates": items, "menu": menu(&viewer), "here": "/admin/templates"}),
    )
}

/// What a template's form exports and imports: the template without its ids and dates.
fn exported(t: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for k in [
        "name",
        "displayName",
        "titlePrefix",
        "severity",
        "tlp",
        "pap",
        "tags",
        "flag",
        "description",
        "summary",
        "tasks",
        "customFields",
    ] {
        if let Some(v) = t.get(k).filter(|v| !v.is_null()) {
            out.insert(k.into(), v.clone());
        }
    }
    // Of a task and of a custom field, what the template's own input takes.
    let keep = |key: &str, fields: &[&str], out: &mut serde_json::Map<String, Value>| {
        if let Some(Value::Array(items)) = out.get_mut(key) {
            for item in items.iter_mut() {
                if let Value::Object(m) = item {
                    m.retain(|k, v| fields.contains(&k.as_str()) && !v.is_null());
                }
            }
        }
    };
    keep(
        "tasks",
        &[
            "title",
            "group",
            "description",
            "order",
            "mandatory",
            "assignee",
            "flag",
            "dueDate",
        ],
        &mut out,
    );
    keep("customFields", &["name", "value", "order"], &mut out);
    Value::Object(out)
}

/// `GET /admin/templates/{id}`: the template form, empty for `new`, or filled from the
/// template `?from=` for a duplicate.
pub async fn template(
    db: web::Data<Db>,
    viewer: Viewer,
    id: web::Path<String>,
    params: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, PageError> {
    require(&viewer, "manageCaseTemplate")?;
    let id = id.into_inner();
    let from = super::clean(params.get("from"));
    let caller = viewer.caller.clone();
    let key = if id == "new" {
        from.clone()
    } else {
        Some(id.clone())
    };
    let (found, fields, users) = db
        .read(move |c| {
            let found = match key {
                Some(k) => Some(super::query_one(
                    c,
                    &caller,
                    json!([{"_name": "getCaseTemplate", "idOrName": k}]),
                    "case template",
                )?),
                None => None,
            };
            let (fields, _) = query(
                c,
                &caller,
                json!([{"_name": "listCustomField"},
                       {"_name": "sort", "_fields": [{"name": "asc"}]},
                       {"_name": "page", "from": 0, "to": 1000}]),
            )?;
            let (users, _) = query(
                c,
                &caller,
                json!([{"_name": "listUser"}, {"_name": "page", "from": 0, "to": 1000}]),
            )?;
            Ok::<_, ApiError>((found, fields, users))
        })
        .await?;
    let editing = id != "new";
    let mut t = found.map(|t| {
        let mut e = exported(&t);
        e["_id"] = t.get("_id").cloned().unwrap_or(Value::Null);
        e
    });
    if let (false, Some(t)) = (editing, t.as_mut()) {
        // A duplicate: a new template with the copy's fields and a name of its own.
        let name = t.get("name").and_then(Value::as_str).unwrap_or("template");
        t["name"] = json!(format!("{name} (copy)"));
        t["_id"] = Value::Null;
    }
    let export = t.as_ref().map(|t| {
        let mut e = t.clone();
        if let Value::Object(m) = &mut e {
            m.remove("_id");
        }
        serde_json::to_string_pretty(&e).unwrap_or_default()
    });
    let org = viewer.caller.organisation.name.clone();
    let users: Vec<Value> = users
        .into_iter()
        .filter(|u| u.get("organisation").and_then(Value::as_str) == Some(org.as_str()))
        .collect();
    page(
        &viewer,
        "admin",
        "admin_template.html",
        json!({"t": t, "editing": editing, "fields": fields, "users": users,
               "export": export, "menu": menu(&viewer), "here": "/admin/templates"}),
    )
}

/// `GET /admin/users`: the organisation's users (every user for a platform administrator),
/// with the forms that create, change and remove them.
pub async fn users(db: web::Data<Db>, viewer: Viewer) -> Result<HttpResponse, PageError> {
    require(&viewer, "manageUser")?;
    let caller = viewer.caller.clone();
    let (users, profiles) = db
        .read(move |c| {
            let (users, _) = query(
                c,
                &caller,
                json!([{"_name": "listUser"},
                       {"_name": "sort", "_fields": [{"login": "asc"}]},
                       {"_name": "page", "from": 0, "to": 5000}]),
            )?;
            let (profiles, _) = query(
                c,
                &caller,
                json!([{"_name": "listProfile"}, {"_name": "page", "from": 0, "to": 200}]),
            )?;
            Ok::<_, ApiError>((users, profiles))
        })
        .await?;
    // Profiles of an organisation (the admin organisation's are the platform's).
    let platform = viewer.caller.organisation.name == "admin";
    let profiles: Vec<Value> = profiles
        .into_iter()
        .filter(|p| p.get("isAdmin").and_then(Value::as_bool).unwrap_or(false) == platform)
        .collect();
    page(
        &viewer,
        "admin",
        "admin_users.html",
        json!({"users": users, "profiles": profiles, "menu": menu(&viewer),
               "here": "/admin/users", "me": viewer.caller.login()}),
    )
}

/// `GET /admin/platform`: the platform's state for its administrators: versions, the
/// database (and how long it takes to answer), the broker, each Cortex server (status,
/// version, analyzers and responders), and each notification endpoint's deliveries (pending,
/// delivered, dead, last error) with a retry of the dead ones.
pub async fn platform(
    db: web::Data<Db>,
    broker: web::Data<service_kit::messaging::Broker>,
    state: web::Data<crate::ServiceState>,
    viewer: Viewer,
) -> Result<HttpResponse, PageError> {
    require(&viewer, "platform:manageConfig")?;
    let started = std::time::Instant::now();
    let database = db
        .read(|c| {
            use diesel::RunQueryDsl;
            diesel::sql_query("SELECT 1").execute(c)?;
            Ok(())
        })
        .await;
    let ping_ms = started.elapsed().as_secs_f64() * 1000.0;
    let mut servers = Vec::new();
    if state.cortex.enabled() {
        state.cortex.forget_workers();
        let analyzers = state
            .cortex
            .workers(shared_models::cortex::WorkerKind::Analyzer)
            .await;
        let responders = state
            .cortex
            .workers(shared_models::cortex::WorkerKind::Responder)
            .await;
        for s in state.cortex.status().await {
            let count = |ws: &[crate::cortex::servers::MergedWorker]| {
                ws.iter().filter(|w| w.cortex_ids.contains(&s.name)).count()
            };
            servers.push(
                json!({"name": s.name, "status": s.status, "version": s.version,
                                "error": s.error, "analyzers": count(&analyzers),
                                "responders": count(&responders)}),
            );
        }
    }
    let endpoints = state
        .notifier
        .endpoint_stats(None)
        .await
        .unwrap_or_default();
    page(
        &viewer,
        "admin",
        "admin_platform.html",
        json!({"menu": menu(&viewer), "here": "/admin/platform",
               "version": env!("CARGO_PKG_VERSION"),
               "database": {"kind": if db.is_sqlite() { "SQLite" } else { "PostgreSQL" },
                            "ok": database.is_ok(), "ms": format!("{ping_ms:.1}"),
                            "error": database.err().map(|e| e.to_string())},
               "broker": broker.state(), "cortex": state.cortex.enabled(), "servers": servers,
               "endpoints": endpoints}),
    )
}
