//! HTTP routes, handlers only: [`v1`] (TheHive 5's API), [`v0`] (its legacy API), and at this
//! level the routes both answer (status, login and logout, the Cortex connector), the route
//! table ([`ROUTES`]) and the few helpers handlers share (query flags, bulk ids, 404s).
//! What the two APIs do is below them: [`crate::casework`], [`crate::query`], [`crate::render`].

pub mod cortex;
pub mod events;
pub mod login;
pub mod notifications;
pub mod status;
pub mod v0;
pub mod v1;

pub use crate::domain::values::{check_name, check_text};
pub use crate::render::{render_organisation, render_profile, render_user};
use service_kit::error::ApiError;
use v1::{
    alerts, case_templates, cases, collab, connectors, custom_fields, exchange, observable_types,
    observables, organisations, profiles, query, shares, tasks, totp, users,
};

/// The routes and the OpenAPI document of this service.
pub const ROUTES: service_kit::service::Routes = service_kit::service::Routes {
    title: "hive-service",
    description:
        "Case management API compatible with TheHive 5 (v1) and TheHive's legacy API (v0).",
    register,
    finish: finish_doc,
    policy: DOC_POLICY,
    pages: crate::console::is_page,
};

/// Completes the generated document: the Query API's operations as `x-query-operations` of
/// `POST /api/v1/query` (what the access-matrix test enumerates).
pub fn finish_doc(doc: &mut utoipa::openapi::OpenApi) {
    if let Some(op) = doc
        .paths
        .paths
        .get_mut("/api/v1/query")
        .and_then(|p| p.post.as_mut())
    {
        op.extensions
            .get_or_insert_with(Default::default)
            .insert("x-query-operations".into(), crate::query::run::operations());
    }
}

/// Registers every route, so that the server and the OpenAPI document come from one list.
/// Literal segments come before `{id}` ones.
pub fn register(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(status::status)
        .service(notifications::get_org_notification)
        .service(notifications::set_org_notification)
        .service(notifications::get_endpoints)
        .service(notifications::set_endpoints)
        .service(notifications::endpoint_stats)
        .service(notifications::retry_endpoint)
        .service(notifications::dead_deliveries)
        .service(events::create_stream)
        .service(events::stream_status)
        .service(events::poll_stream)
        .service(events::events)
        .service(status::status_v1)
        .service(status::health)
        .service(status::license)
        .service(login::login_v1)
        .service(login::login_v0)
        .service(login::logout_v1)
        .service(login::logout_v1_post)
        .service(login::logout_v0)
        .service(login::logout_v0_post)
        .service(totp::get_secret)
        .service(totp::set_secret)
        .service(totp::unset_own)
        .service(totp::unset_user)
        .service(users::current_user)
        .service(v0::misc::current_user_v0)
        .service(users::create_user)
        .service(users::set_organisations)
        .service(users::set_password)
        .service(users::change_password)
        .service(users::get_key)
        .service(users::renew_key)
        .service(users::delete_key)
        .service(users::delete_user)
        .service(users::get_user)
        .service(users::update_user)
        .service(users::lock_user)
        .service(organisations::create_organisation)
        .service(organisations::get_organisation)
        .service(organisations::update_organisation)
        .service(organisations::link)
        .service(organisations::unlink)
        .service(organisations::links)
        .service(organisations::set_links)
        .service(profiles::create_profile)
        .service(profiles::get_profile)
        .service(profiles::update_profile)
        .service(profiles::delete_profile)
        .service(observable_types::create)
        .service(observable_types::get)
        .service(observable_types::remove)
        .service(custom_fields::list)
        .service(custom_fields::create)
        .service(custom_fields::get)
        .service(custom_fields::update)
        .service(custom_fields::remove)
        .service(alerts::bulk_update)
        .service(alerts::bulk_delete)
        .service(alerts::bulk_merge)
        .service(alerts::create)
        .service(alerts::get)
        .service(alerts::update)
        .service(alerts::remove)
        .service(alerts::follow)
        .service(alerts::unfollow)
        .service(alerts::promote)
        .service(alerts::merge)
        .service(alerts::import)
        .service(alerts::create_observable)
        .service(alerts::similar_observables)
        .service(cases::bulk_update)
        .service(case_templates::apply_to_cases)
        .service(cases::merge)
        .service(exchange::import)
        .service(exchange::export)
        .service(shares::remove_one)
        .service(shares::update_one)
        .service(collab::link_types)
        .service(collab::bulk_delete_procedures)
        .service(collab::add_org_attachments)
        .service(collab::download_attachment)
        .service(collab::delete_org_attachment)
        .service(collab::comment_case)
        .service(collab::comment_alert)
        .service(collab::update_comment)
        .service(collab::delete_comment)
        .service(collab::procedure_case)
        .service(collab::procedures_case)
        .service(collab::procedure_alert)
        .service(collab::procedures_alert)
        .service(collab::update_procedure)
        .service(collab::delete_procedure)
        .service(collab::create_page)
        .service(collab::update_page)
        .service(collab::delete_page)
        .service(collab::create_page_template)
        .service(collab::update_page_template)
        .service(collab::delete_page_template)
        .service(collab::create_event)
        .service(collab::update_event)
        .service(collab::delete_event)
        .service(collab::timeline)
        .service(collab::link_case)
        .service(collab::unlink_case)
        .service(collab::link_url)
        .service(collab::unlink_url)
        .service(collab::linked_cases)
        .service(collab::add_case_attachments)
        .service(collab::add_alert_attachments)
        .service(collab::download_case_attachment)
        .service(collab::download_alert_attachment)
        .service(collab::delete_case_attachment)
        .service(collab::delete_alert_attachment)
        .service(collab::get_required)
        .service(collab::set_action_required)
        .service(collab::set_action_done)
        .service(cases::delete_custom_value)
        .service(cases::create)
        .service(cases::get)
        .service(cases::update)
        .service(cases::remove)
        .service(cases::unlink_alert)
        .service(cases::merge_observables)
        .service(cases::create_observable)
        .service(cases::create_task)
        .service(cases::similar_observables)
        .service(shares::list_shares)
        .service(shares::share)
        .service(shares::set)
        .service(shares::remove)
        .service(shares::access)
        .service(shares::change_owner)
        .service(shares::share_task)
        .service(shares::unshare_task)
        .service(shares::task_shares)
        .service(shares::share_observable)
        .service(shares::unshare_observable)
        .service(shares::observable_shares)
        .service(shares::sharing_profiles)
        .service(observables::bulk_update)
        .service(observables::get)
        .service(observables::update)
        .service(observables::remove)
        .service(observables::download)
        .service(tasks::bulk_update)
        .service(tasks::get)
        .service(tasks::update)
        .service(tasks::remove)
        .service(tasks::create_log)
        .service(tasks::update_log)
        .service(tasks::remove_log)
        .service(tasks::add_log_attachments)
        .service(tasks::remove_log_attachment)
        .service(case_templates::create)
        .service(case_templates::get)
        .service(case_templates::update)
        .service(case_templates::remove)
        .service(case_templates::link_page_templates)
        .service(cortex::analyzers)
        .service(cortex::analyzers_by_type)
        .service(cortex::analyzer)
        .service(cortex::responders)
        .service(cortex::bulk_jobs)
        .service(cortex::create_job)
        .service(cortex::get_job)
        .service(cortex::create_action)
        .service(cortex::actions_of)
        .service(cortex::get_action)
        .service(connectors::misp_status)
        .service(connectors::misp_sync)
        .service(connectors::misp_export)
        .service(exchange::misp_import)
        .service(query::query);
    register_legacy(cfg);
}

/// TheHive's legacy API (v0) routes; literal segments before `{id}` ones.
fn register_legacy(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    use v0::{alerts, cases, misc};
    cfg.service(alerts::find)
        .service(alerts::update_artifact)
        .service(alerts::delete_artifact)
        .service(alerts::create)
        .service(alerts::get)
        .service(alerts::update)
        .service(alerts::remove)
        .service(alerts::mark_read)
        .service(alerts::mark_unread)
        .service(alerts::follow)
        .service(alerts::unfollow)
        .service(alerts::create_case)
        .service(alerts::merge)
        .service(alerts::create_artifact)
        .service(cases::find)
        .service(cases::find_artifacts)
        .service(cases::get_artifact)
        .service(cases::update_artifact)
        .service(cases::delete_artifact)
        .service(cases::find_tasks)
        .service(cases::find_logs)
        .service(cases::get_log)
        .service(cases::delete_log)
        .service(cases::get_task)
        .service(cases::update_task)
        .service(cases::create_log)
        .service(cases::find_templates)
        .service(cases::create_template)
        .service(cases::get_template)
        .service(cases::update_template)
        .service(cases::delete_template)
        .service(cases::create)
        .service(cases::get)
        .service(cases::update)
        .service(cases::remove)
        .service(cases::remove_force)
        .service(cases::links)
        .service(cases::create_artifact)
        .service(cases::create_task)
        .service(misc::datastore)
        .service(misc::datastore_zip)
        .service(misc::custom_field_exists)
        .service(misc::create_custom_field);
}

/// Routes reachable without credentials; every other route answers 401 without them.
pub const PUBLIC_ROUTES: &[&str] = &[
    "/api/status",
    "/api/v1/status",
    "/api/health",
    "/api/v1/login",
    "/api/login",
    "/api/v1/logout",
    "/api/logout",
    "/api-docs/openapi.json",
];

pub use crate::db::models::{find_organisation, find_profile, find_user};

/// What the OpenAPI document says beyond the handlers' own annotations.
pub const DOC_POLICY: service_kit::openapi::DocPolicy = service_kit::openapi::DocPolicy {
    public: PUBLIC_ROUTES,
    legacy: Some(is_legacy),
    headers: &[service_kit::openapi::HeaderParam {
        name: "X-Organisation",
        description: "The organisation the request acts in (name or id); default: the \
                      session's, else the user's default organisation",
    }],
    uploads: &UPLOADS,
    session_cookie: crate::auth::SESSION_COOKIE,
};

/// TheHive 4's legacy API: `/api/...` beside `/api/v1/...`.
fn is_legacy(path: &str) -> bool {
    !path.starts_with("/api/v1/") && !path.starts_with("/api{v}/")
}

/// The operations taking `_json` plus files (thehive4py's uploads).
const UPLOADS: [service_kit::openapi::Upload; 13] = {
    use service_kit::openapi::Upload;
    const fn up(path: &'static str, file_field: &'static str) -> Upload {
        Upload {
            method: "post",
            path,
            file_field,
        }
    }
    [
        up("/api/v1/alert", "attachment"),
        up("/api/v1/alert/{id}/observable", "attachment"),
        up("/api/v1/case/{id}/observable", "attachment"),
        up("/api/v1/task/{id}/log", "attachments"),
        up("/api/v1/log/{id}/attachments", "attachments"),
        up("/api/v1/case/{id}/attachments", "attachment"),
        up("/api/v1/alert/{id}/attachments", "attachment"),
        up("/api/v1/attachment", "attachment"),
        up("/api/v1/case/import", "file"),
        up("/api/v1/connector/misp/case/import", "file"),
        up("/api/case/{id}/artifact", "attachment"),
        up("/api/alert/{id}/artifact", "attachment"),
        up("/api/case/task/{id}/log", "attachment"),
    ]
};

/// Whether a query flag is set (`True`, `true`, `1`).
pub fn flag(v: Option<&str>) -> bool {
    matches!(
        v.map(str::to_ascii_lowercase).as_deref(),
        Some("true" | "1" | "yes")
    )
}

/// 404 for an unknown entity.
pub fn not_found(kind: &str, key: &str) -> ApiError {
    ApiError::NotFound(format!("{kind} {key} not found"))
}

/// Records a change to the platform's or the organisation's settings (accounts,
/// organisations, profiles, catalogues) made by the caller; `details` is a JSON object of
/// what was set (null members left out).
pub fn audit_admin(
    caller: &crate::auth::Caller,
    action: crate::audit::Action,
    object_type: crate::audit::ObjectType,
    id: i64,
    details: serde_json::Value,
) {
    let details = match details {
        serde_json::Value::Object(m) => m.into_iter().filter(|(_, v)| !v.is_null()).collect(),
        _ => serde_json::Map::new(),
    };
    crate::audit::record(crate::audit::Record::new(
        &crate::access::Actor::of(caller),
        action,
        object_type,
        Some(id),
        details,
        None,
    ));
}

/// Most ids in one bulk request.
pub const MAX_BULK_IDS: usize = 10_000;

/// The ids of a bulk body, at most [`MAX_BULK_IDS`].
pub fn bulk_ids(body: shared_models::casework::InputBulkIds) -> Result<Vec<String>, ApiError> {
    if body.ids.len() > MAX_BULK_IDS {
        return Err(ApiError::attribute(
            "ids",
            format!("at most {MAX_BULK_IDS} ids"),
        ));
    }
    Ok(body.ids.into_iter().map(|id| id.0).collect())
}

/// Takes the `ids` list out of a bulk body (`{ids: [...], ...fields}`), leaving the fields.
pub fn take_ids(body: &mut serde_json::Value) -> Result<Vec<String>, ApiError> {
    use serde_json::Value;
    let ids = match body.as_object_mut().and_then(|m| m.remove("ids")) {
        Some(Value::Array(ids)) => ids,
        Some(_) => return Err(ApiError::attribute("ids", "expected a list of ids")),
        None => return Err(ApiError::missing("ids")),
    };
    if ids.len() > MAX_BULK_IDS {
        return Err(ApiError::attribute(
            "ids",
            format!("at most {MAX_BULK_IDS} ids"),
        ));
    }
    ids.into_iter()
        .map(|v| match v {
            Value::String(s) => Ok(s),
            Value::Number(n) => Ok(n.to_string()),
            other => Err(ApiError::attribute("ids", format!("{other} is not an id"))),
        })
        .collect()
}

// Request bodies of this crate, and the rendered objects whose fields they ignore when posted
// back (`shared_models::input::Input`, where the wire types declare theirs); any other unknown
// field is a 400 naming it.
shared_models::inputs! {
    query::QueryBody => [],
    totp::InputTotpSet => [],
    cortex::InputAnalyzerJob => [],
    cortex::InputBulkJobs => [],
    cortex::InputAction => [],
    alerts::BulkMerge => [],
}
