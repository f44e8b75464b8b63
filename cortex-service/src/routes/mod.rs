//! HTTP routes, one file per resource group, with the list/search conventions of Cortex:
//! JSON arrays with `X-Total`, `range` (`all`, `from-to`, default the first 10) and `sort`
//! (`+field`, `-field`), filters in Cortex's query DSL.

pub mod datastore;
pub mod jobs;
pub mod login;
pub mod organizations;
pub mod status;
pub mod users;
pub mod workers;

use crate::db::OrganizationRow;
use actix_web::HttpResponse;
use serde::Deserialize;
use serde_json::Value;
use service_kit::error::ApiError;
use shared_models::cortex::{OrganizationStatus, OutputOrganization};
use shared_models::query::{Filter, Range, Sort};

/// The routes and the OpenAPI document of this service.
pub const ROUTES: service_kit::service::Routes = service_kit::service::Routes {
    title: "cortex-service",
    description: "Analysis and response API compatible with Cortex 3/4.",
    register,
    finish: finish_doc,
    policy: DOC_POLICY,
    pages: crate::console::is_page,
};

/// Completes the generated document (nothing to add here).
pub fn finish_doc(_doc: &mut utoipa::openapi::OpenApi) {}

/// Registers every route, so that the server and the OpenAPI document come from one list.
/// Literal segments come before `{id}` ones.
pub fn register(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(status::status)
        .service(status::current_user)
        .service(login::login)
        .service(login::logout)
        .service(workers::analyzer_definitions)
        .service(workers::responder_definitions)
        .service(workers::scan_analyzers)
        .service(workers::scan_responders)
        .service(workers::analyzer_configs)
        .service(workers::responder_configs)
        .service(workers::analyzer_config)
        .service(workers::responder_config)
        .service(workers::set_analyzer_config)
        .service(workers::set_responder_config)
        .service(workers::alerts)
        .service(workers::list_in_org)
        .service(workers::search_in_org)
        .service(workers::enable)
        .service(workers::list)
        .service(workers::search)
        .service(workers::by_type)
        .service(jobs::run)
        .service(workers::get)
        .service(workers::update)
        .service(workers::disable)
        .service(jobs::list)
        .service(jobs::search)
        .service(jobs::status)
        .service(jobs::report)
        .service(jobs::wait_report)
        .service(jobs::job_artifacts)
        .service(jobs::get)
        .service(jobs::remove)
        .service(datastore::download)
        .service(datastore::download_zip)
        .service(organizations::list)
        .service(organizations::search)
        .service(organizations::stats)
        .service(users::search_in_org)
        .service(organizations::get)
        .service(organizations::create)
        .service(organizations::update)
        .service(organizations::remove)
        .service(users::list)
        .service(users::search)
        .service(users::create)
        .service(users::set_password)
        .service(users::change_password)
        .service(users::get_key)
        .service(users::renew_key)
        .service(users::set_key)
        .service(users::revoke_key)
        .service(users::get)
        .service(users::update)
        .service(users::remove);
}

/// Routes reachable without credentials.
pub const PUBLIC_ROUTES: &[&str] = &[
    "/api/status",
    "/api/login",
    "/api/logout",
    "/api-docs/openapi.json",
];

/// `range` and `sort` from the query string.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct ListParams {
    /// `all`, `from-to`, default the first 10.
    pub range: Option<String>,
    /// `+field` / `-field`, comma-separated.
    pub sort: Option<String>,
}

/// Body of a `_search`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct SearchBody {
    /// A filter in Cortex's query DSL; `{}` matches everything.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub query: Value,
    /// Range (the query string wins).
    #[serde(default)]
    pub range: Option<String>,
    /// Sort, a string or a list (the query string wins).
    #[serde(default)]
    #[schema(value_type = serde_json::Value)]
    pub sort: Value,
}

/// Body of a `_stats`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct StatsBody {
    /// A filter.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub query: Value,
    /// Aggregations; only `{"_agg": "count"}` is computed.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub stats: Vec<Value>,
}

/// Filters, sorts and pages rendered entities; answers the list with `X-Total`.
pub fn list_response(
    mut items: Vec<Value>,
    filter: &Value,
    params: &ListParams,
    body: Option<&SearchBody>,
) -> Result<HttpResponse, ApiError> {
    let filter =
        Filter::parse(filter).map_err(|e| ApiError::BadRequest(format!("Invalid query: {e}")))?;
    items.retain(|i| filter.matches(i));
    let sort = match (&params.sort, body.map(|b| &b.sort)) {
        (Some(s), _) => Sort::from_signed([s.as_str()]),
        (None, Some(Value::String(s))) => Sort::from_signed([s.as_str()]),
        (None, Some(Value::Array(a))) => Sort::from_signed(a.iter().filter_map(Value::as_str)),
        _ => Sort::default(),
    };
    items.sort_by(|a, b| sort.compare(a, b));
    let total = items.len();
    let range = Range::parse(
        params
            .range
            .as_deref()
            .or(body.and_then(|b| b.range.as_deref())),
    );
    Ok(HttpResponse::Ok()
        .insert_header(("X-Total", total.to_string()))
        .json(range.apply(items)))
}

/// Counts matching entities for `_stats`.
pub fn stats_response(items: Vec<Value>, body: &StatsBody) -> Result<HttpResponse, ApiError> {
    let filter = Filter::parse(&body.query)
        .map_err(|e| ApiError::BadRequest(format!("Invalid query: {e}")))?;
    let count = items.iter().filter(|i| filter.matches(i)).count();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "count": count })))
}

/// Renders an organization.
pub fn render_organization(o: &OrganizationRow) -> OutputOrganization {
    OutputOrganization {
        id: o.id.clone(),
        underscore_id: o.id.clone(),
        kind: "organization".into(),
        name: o.id.clone(),
        description: o.description.clone(),
        status: if o.status == "Active" {
            OrganizationStatus::Active
        } else {
            OrganizationStatus::Locked
        },
        created_at: o.created_at,
        created_by: o.created_by.clone(),
        updated_at: o.updated_at,
        updated_by: o.updated_by.clone(),
    }
}

pub use crate::auth::render_user;

/// JSON of a renderable value.
pub fn to_value<T: serde::Serialize>(v: &T) -> Result<Value, ApiError> {
    serde_json::to_value(v).map_err(ApiError::internal)
}

/// What the OpenAPI document says beyond the handlers' own annotations.
pub const DOC_POLICY: service_kit::openapi::DocPolicy = service_kit::openapi::DocPolicy {
    public: PUBLIC_ROUTES,
    legacy: None,
    headers: &[],
    uploads: &[service_kit::openapi::Upload {
        method: "post",
        path: "/api/{kind}/{id}/run",
        file_field: "data",
    }],
    session_cookie: crate::auth::SESSION_COOKIE,
};

pub use crate::db::check_name;

// Request bodies of this crate, and the rendered objects whose fields they ignore when posted
// back (`shared_models::input::Input`, where the wire types declare theirs); any other unknown
// field is a 400 naming it.
shared_models::inputs! {
    workers::InputWorker => ["OutputWorker"],
    workers::InputBaseConfig => ["OutputBaseConfig"],
    SearchBody => [],
    StatsBody => [],
    jobs::StatusBody => [],
}
