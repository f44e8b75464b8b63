//! cortex-service's own console (issue 18), at `/` on its own port: log in; the
//! organization's analyzers and responders catalogue (search, data type filter), each one's
//! form to enable, edit or disable it (typed configuration items, secrets masked once saved,
//! TLP/PAP checks and maxima, proxies, CA certificates, cache, timeout, extraction, rate
//! limit); the jobs (filters, paging) and a job's input, status, error, report and artifacts,
//! followed while it runs; the users (a superadmin's organizations and every user, an
//! orgadmin's own users: roles, lock, password, API key). Pages are rendered on the server from templates compiled into the
//! binary with the shared console kit ([`service_kit::console`]); every change is a call of
//! cortex-service's API from the shared script, with the session's CSRF token. A page needs
//! the role the API asks for the same reads (`read` for jobs, `orgadmin` for workers,
//! `superadmin` or `orgadmin` for users) and
//! answers 403 otherwise.

mod jobs;
mod users;
mod workers;

use crate::auth::{Authenticator, Caller, SESSION_COOKIE};
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use minijinja::Environment;
use serde_json::{json, Value};
use service_kit::console::{html, PageError};
use service_kit::error::ApiError;
use shared_models::cortex::Role;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

/// The console's top-level paths (besides `/`).
const SECTIONS: &[&str] = &["/login", "/ui", "/workers", "/configs", "/jobs", "/users"];

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
    cfg.route("/", web::get().to(home))
        .route("/login", web::get().to(login))
        .route("/ui/{file}", web::get().to(static_file))
        .route("/workers", web::get().to(workers::list))
        .route("/workers/{kind}/{id}", web::get().to(workers::form))
        .route("/configs", web::get().to(workers::configs))
        .route("/jobs", web::get().to(jobs::list))
        .route("/jobs/{id}", web::get().to(jobs::show))
        .route("/users", web::get().to(users::list));
}

const TEMPLATES: &[(&str, &str)] = &[
    (
        "base.html",
        include_str!("../../console/templates/base.html"),
    ),
    (
        "login.html",
        include_str!("../../console/templates/login.html"),
    ),
    (
        "workers.html",
        include_str!("../../console/templates/workers.html"),
    ),
    (
        "worker.html",
        include_str!("../../console/templates/worker.html"),
    ),
    (
        "jobs.html",
        include_str!("../../console/templates/jobs.html"),
    ),
    ("job.html", include_str!("../../console/templates/job.html")),
    (
        "users.html",
        include_str!("../../console/templates/users.html"),
    ),
    (
        "fields.html",
        include_str!("../../console/templates/fields.html"),
    ),
    (
        "configs.html",
        include_str!("../../console/templates/configs.html"),
    ),
];

static ENV: LazyLock<Environment<'static>> =
    LazyLock::new(|| service_kit::console::environment(TEMPLATES));

/// The viewer of a page: the session's caller and the session's CSRF token.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// Who is looking, in which organization.
    pub caller: Caller,
    /// The token the page's script sends back with every change.
    pub csrf: String,
}

impl Viewer {
    /// 403 unless the viewer holds `role` (what the API asks for the same calls).
    pub fn require(&self, role: Role) -> Result<(), PageError> {
        self.caller.require_any(&[role]).map_err(PageError::Api)
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

/// Renders the template `name` for `viewer` with the layout's frame.
pub fn page(
    viewer: &Viewer,
    section: &str,
    name: &str,
    mut ctx: Value,
) -> Result<HttpResponse, PageError> {
    let c = &viewer.caller;
    ctx["frame"] = json!({
        "user": {"login": c.login(), "name": c.user.name},
        "org": c.organization.id,
        "roles": c.roles,
        "csrf": viewer.csrf,
        "section": section,
        "orgadmin": c.has(Role::Orgadmin),
        "admin": c.has(Role::Orgadmin) || c.has(Role::Superadmin),
    });
    Ok(html(
        StatusCode::OK,
        service_kit::console::render(&ENV, name, &ctx)?,
    ))
}

/// `GET /`: the jobs (the login page first without a session).
async fn home(viewer: Viewer) -> HttpResponse {
    let c = &viewer.caller;
    let to = if c.has(Role::Read) {
        "/jobs"
    } else if c.has(Role::Orgadmin) {
        "/workers"
    } else {
        "/users"
    };
    HttpResponse::SeeOther()
        .insert_header(("Location", to))
        .finish()
}

/// `GET /login`: the form posts to `POST /api/login`, then goes on to `next`.
async fn login(params: web::Query<HashMap<String, String>>) -> Result<HttpResponse, PageError> {
    let next = service_kit::console::safe_next(params.get("next"), "/");
    let body = service_kit::console::render(&ENV, "login.html", &json!({ "next": next }))?;
    Ok(html(StatusCode::OK, body))
}

async fn static_file(file: web::Path<String>) -> HttpResponse {
    service_kit::console::static_file(&file)
}

use service_kit::console::clean;

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
    fn pages_are_the_console_paths_only() {
        for p in [
            "/",
            "/login",
            "/jobs",
            "/jobs/x",
            "/workers/analyzer/x",
            "/ui/app.js",
        ] {
            assert!(is_page(p), "{p}");
        }
        for p in ["/api/job", "/api/login", "/jobsx", "/index.html"] {
            assert!(!is_page(p), "{p}");
        }
    }
}
