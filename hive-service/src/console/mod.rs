//! The analyst console, served by hive-service itself at `/`: pages rendered on the server
//! from the templates of [`view`], made live by one small script (`/ui/app.js`).
//!
//! What a page shows comes from the same Query API operations, case-work and access functions
//! as the API ([`crate::query::run::run`], [`crate::casework`]), with the caller of the
//! session: a page never shows what its viewer could not read through the API. A page
//! changes nothing: every action of the console is a call of the API itself from the
//! script (same permissions, audit and webhooks), with the session cookie and the session's
//! CSRF token (`X-CSRF-Token`, which every cookie-authenticated write must carry). Live
//! updates follow the organisation's event stream (`/api/v1/events`, SSE).
//!
//! Pages are reached with the session cookie only; without a live session a page sends
//! the browser to the login page. The organisation is the session's, or the one the
//! organisation switch keeps in the `THEHIVE-ORGANISATION` cookie (a membership is still
//! required, as with `X-Organisation`).

mod admin;
mod admin_catalogue;
mod admin_org;
mod alerts;
mod cases;
mod misc;
mod observables;
pub mod view;

use crate::auth::{Authenticator, Caller, SESSION_COOKIE};
use crate::db::DbConn;
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use serde_json::{json, Value};
use service_kit::error::ApiError;
use std::sync::Arc;

pub use crate::auth::ORG_COOKIE;
pub use service_kit::console::{html, PageError};

/// The console's top-level paths (besides `/`).
const SECTIONS: &[&str] = &[
    "/login",
    "/alerts",
    "/cases",
    "/tasks",
    "/search",
    "/account",
    "/ui",
    "/observables",
    "/new-case",
    "/admin",
    "/attack",
];

/// Whether a path is one of the console's (see [`service_kit::service::Routes::pages`]).
pub fn is_page(path: &str) -> bool {
    path == "/"
        || SECTIONS.iter().any(|s| {
            path.strip_prefix(s)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })
}

/// Registers the console's pages and files.
pub fn register(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(misc::home))
        .route("/login", web::get().to(misc::login))
        .route("/ui/{file}", web::get().to(misc::static_file))
        .route("/alerts", web::get().to(alerts::list))
        .route("/alerts/{id}", web::get().to(alerts::preview))
        .route("/cases", web::get().to(cases::list))
        .route("/cases/{id}", web::get().to(cases::show))
        .route(
            "/observables/{id}",
            web::get().to(observables::page_handler),
        )
        .route("/tasks/{which}", web::get().to(misc::tasks))
        .route("/search", web::get().to(misc::search))
        .route("/account", web::get().to(misc::account))
        .route("/new-case", web::get().to(misc::new_case))
        .route("/admin", web::get().to(admin::index))
        .route("/admin/templates", web::get().to(admin::templates))
        .route("/admin/templates/{id}", web::get().to(admin::template))
        .route("/admin/users", web::get().to(admin::users))
        .route("/admin/platform", web::get().to(admin::platform))
        .route(
            "/admin/page-templates",
            web::get().to(admin_org::page_templates),
        )
        .route(
            "/admin/notifications",
            web::get().to(admin_org::notifications),
        )
        .route("/admin/sharing", web::get().to(admin_org::sharing))
        .route("/admin/fields", web::get().to(admin_catalogue::fields))
        .route(
            "/admin/observable-types",
            web::get().to(admin_catalogue::observable_types),
        )
        .route("/admin/profiles", web::get().to(admin_catalogue::profiles))
        .route(
            "/admin/organisations",
            web::get().to(admin_catalogue::organisations),
        )
        .route("/attack", web::get().to(admin_catalogue::attack));
}

/// The viewer of a page: the session's caller and the session's CSRF token.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// Who is looking, in which organisation.
    pub caller: Caller,
    /// The token the page's script sends back with every change.
    pub csrf: String,
}

impl Viewer {
    /// Whether the viewer's profile has a permission (a page shows the controls of what the
    /// API would let the viewer do; the API checks again).
    pub fn can(&self, permission: &str) -> bool {
        self.caller.has(permission)
    }

    /// What every page's layout reads: the user, the organisations, the token, the
    /// permissions.
    pub fn frame(&self, section: &str) -> Value {
        let c = &self.caller;
        json!({
            "user": {"login": c.user.login, "name": c.user.name},
            "org": c.organisation.name,
            "orgs": c.memberships.iter().map(|m| m.organisation.name.clone()).collect::<Vec<_>>(),
            "profile": c.profile.name,
            "csrf": self.csrf,
            "perms": c.permissions,
            "section": section,
            "admin": !admin::menu(self).is_empty(),
        })
    }
}

impl FromRequest for Viewer {
    type Error = PageError;
    type Future = std::future::Ready<Result<Self, PageError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(viewer_of(req))
    }
}

fn viewer_of(req: &HttpRequest) -> Result<Viewer, PageError> {
    let auth = req
        .app_data::<web::Data<Arc<Authenticator>>>()
        .ok_or_else(|| PageError::Api(ApiError::internal("the authenticator is missing")))?;
    let (caller, csrf) =
        service_kit::console::session_viewer::<Caller>(req, SESSION_COOKIE, &auth.base().sessions)?;
    Ok(Viewer { caller, csrf })
}

/// Renders a page for `viewer`: the template `name` with `ctx` plus the layout's frame.
pub fn page(
    viewer: &Viewer,
    section: &str,
    name: &str,
    mut ctx: Value,
) -> Result<HttpResponse, PageError> {
    ctx["frame"] = viewer.frame(section);
    Ok(html(StatusCode::OK, view::render(name, &ctx)?))
}

/// Runs Query API operations for the caller, as `POST /api/v1/query` runs them: the items
/// and the total when the page asked for it.
pub fn query(
    c: &mut DbConn,
    caller: &Caller,
    ops: Value,
) -> Result<(Vec<Value>, Option<usize>), ApiError> {
    let Value::Array(ops) = ops else {
        return Err(ApiError::internal(
            "a console query is a list of operations",
        ));
    };
    let (items, total, count) = crate::query::run::run(c, caller, &ops, &[])?;
    Ok((items, total.or(count)))
}

/// Most rows a list's total counts: beyond it the page says "more than 10,000" (counting a
/// million alerts exactly costs PostgreSQL about 100 ms; the API's totals stay exact).
pub const TOTAL_CAP: usize = 10_000;

/// A list's page and its total counted up to [`TOTAL_CAP`] (`ops`: a `list...` selection,
/// filters, a sort and a page with `extraData: ["total"]`); lists the SQL path cannot run go
/// through [`query`] (exact).
pub fn list_page(
    c: &mut DbConn,
    caller: &Caller,
    ops: Value,
) -> Result<(Vec<Value>, Option<usize>), ApiError> {
    let Value::Array(list) = &ops else {
        return Err(ApiError::internal(
            "a console query is a list of operations",
        ));
    };
    let selection = list
        .first()
        .and_then(|o| o.get("_name"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    match crate::query::try_sql_capped(c, caller, &selection, &list[1..], Some(TOTAL_CAP))? {
        Some(crate::query::SqlOutcome::Items(items, total)) => Ok((items, total)),
        _ => query(c, caller, ops),
    }
}

/// The one item of a `get...` query, or 404.
pub fn query_one(
    c: &mut DbConn,
    caller: &Caller,
    ops: Value,
    what: &str,
) -> Result<Value, ApiError> {
    query(c, caller, ops)?
        .0
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::NotFound(format!("{what} not found")))
}

/// Paging of a list: `page` (from 0) and `per` (15 by default, at most 100).
#[derive(Debug, Clone, Copy)]
pub struct Paging {
    /// The page, from 0.
    pub page: usize,
    /// Rows per page.
    pub per: usize,
}

impl Paging {
    /// From the query string's values.
    pub fn of(page: Option<usize>, per: Option<usize>) -> Paging {
        Paging {
            page: page.unwrap_or(0).min(100_000),
            per: per.unwrap_or(15).clamp(5, 100),
        }
    }

    /// The Query API's `page` operation, with the total.
    pub fn op(&self) -> Value {
        json!({"_name": "page", "from": self.page * self.per, "to": (self.page + 1) * self.per,
               "extraData": ["total"]})
    }

    /// What the pager shows (a total above [`TOTAL_CAP`] is "more than" it).
    pub fn view(&self, total: usize) -> Value {
        let more = total > TOTAL_CAP;
        let total = total.min(TOTAL_CAP);
        let pages = total.div_ceil(self.per).max(1);
        let shown = if more {
            format!("{total}+")
        } else {
            total.to_string()
        };
        json!({"page": self.page, "per": self.per, "total": total, "shown": shown, "more": more,
               "pages": pages, "first": (self.page * self.per + 1).min(total),
               "last": ((self.page + 1) * self.per).min(total)})
    }
}

/// The filters the list pages share: an equality per plain field of `fields` the query
/// string holds (`tag` filters `tags`), and `severity` as a minimum. Each is also recorded in
/// `active` (what the page shows as removable filters).
pub fn field_filters(
    p: &std::collections::HashMap<String, String>,
    fields: &[&str],
    filters: &mut Vec<Value>,
    active: &mut serde_json::Map<String, Value>,
) {
    for field in fields {
        if let Some(v) = clean(p.get(*field)) {
            let name = if *field == "tag" { "tags" } else { field };
            filters.push(json!({"_eq": {"_field": name, "_value": v}}));
            active.insert((*field).into(), v.into());
        }
    }
    if let Some(s) = clean(p.get("severity")).and_then(|s| s.parse::<i64>().ok()) {
        filters.push(json!({"_gte": {"_field": "severity", "_value": s.clamp(1, 4)}}));
        active.insert("severity".into(), s.clamp(1, 4).into());
    }
}

/// The list's sort: `sort` when it is one of `allowed`, else `default`; `dir` asc or desc.
pub fn sort_of(
    p: &std::collections::HashMap<String, String>,
    allowed: &[&str],
    default: &str,
) -> (String, &'static str) {
    let sort = clean(p.get("sort"))
        .filter(|s| allowed.contains(&s.as_str()))
        .unwrap_or_else(|| default.into());
    let dir = if clean(p.get("dir")).as_deref() == Some("asc") {
        "asc"
    } else {
        "desc"
    };
    (sort, dir)
}

/// The workers of the Cortex servers of `kind` that accept one of `types` (a data type, or
/// `thehive:<object>` for responders).
pub async fn workers_for(
    state: &crate::ServiceState,
    kind: shared_models::cortex::WorkerKind,
    types: &[&str],
) -> Vec<Value> {
    state
        .cortex
        .workers(kind)
        .await
        .into_iter()
        .filter(|w| w.data_type_list.iter().any(|t| types.contains(&t.as_str())))
        .filter_map(|w| serde_json::to_value(w).ok())
        .collect()
}

pub use service_kit::console::clean;
