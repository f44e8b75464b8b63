//! The organisation's own administration pages beside the templates and users (issue 18):
//! its page templates, its notification list (triggers and notifiers, edited as JSON and
//! checked by the API) with the deliveries of its events per endpoint and its dead ones, and
//! the sharing profiles its cases may be shared under. Same rules as `admin`: each page opens
//! only for the permission the API asks for the same writes, and every change is the API's.

use super::admin::{menu, require};
use super::{page, PageError, Viewer};
use crate::db::Db;
use crate::ServiceState;
use actix_web::{web, HttpResponse};
use serde_json::{json, Value};
use service_kit::error::ApiError;

/// The triggers a notification may name, each with what it fires on (the form's help).
const TRIGGERS: &[(&str, &str)] = &[
    ("AnyEvent", "every event"),
    (
        "FilteredEvent",
        "events its filter accepts (_and, _or, _not, _is, _in, _like, _contains, _gt, _lt…)",
    ),
    ("AlertCreated", "a new alert"),
    ("AlertImported", "an alert imported into a case"),
    ("AlertClosed", "an alert closed"),
    ("AlertAssigned", "an alert given an assignee"),
    ("AlertObservableCreated", "a new observable in an alert"),
    ("CaseCreated", "a new case"),
    ("CaseClosed", "a case closed"),
    ("CaseFlagged", "a case flagged"),
    ("CaseShared", "a case shared with an organisation"),
    ("CaseObservableCreated", "a new observable in a case"),
    ("ObservableCreated", "a new observable"),
    ("TaskAssigned", "a task given an assignee"),
    ("TaskClosed", "a task completed"),
    ("TaskMandatory", "a task made mandatory"),
    (
        "LogInMyTask",
        "a log added by someone else to a task that has an assignee",
    ),
    ("JobFinished", "an analyzer job ended"),
    ("ActionFinished", "a responder action ended"),
];

/// The notifiers, each with its fields.
const NOTIFIERS: &[(&str, &str)] = &[
    ("webhook", "endpoint: the name of a webhook endpoint below"),
    (
        "RunAnalyzer",
        "analyzerName, parameters: runs on the event's observables",
    ),
    ("RunResponder", "responderName, parameters"),
    (
        "EmailToAddr",
        "to: [addresses], subject, template ({{objectType}}, {{object.title}}…); delegate may be true",
    ),
];

/// An example list for an organisation that has none yet.
const EXAMPLE: &str = r#"[
  {
    "delegate": false,
    "trigger": {"name": "FilteredEvent",
                "filter": {"_and": [{"_is": {"objectType": "Case"}},
                                    {"_is": {"action": "create"}}]}},
    "notifier": {"name": "webhook", "endpoint": "ENDPOINT"}
  }
]"#;

/// `GET /admin/notifications`: the organisation's notification list as JSON (saved through
/// `PUT /api/config/organisation/notification`, which checks it and answers what is wrong),
/// the triggers and notifiers it may use, the webhook endpoints that serve the organisation
/// with the deliveries of its events (pending, delivered, dead, last error; a retry of the
/// dead ones), and its latest dead deliveries.
pub async fn notifications(
    db: web::Data<Db>,
    state: web::Data<ServiceState>,
    viewer: Viewer,
) -> Result<HttpResponse, PageError> {
    require(&viewer, "manageConfig")?;
    let org = viewer.caller.organisation.id;
    let org_name = viewer.caller.organisation.name.clone();
    let list = db
        .read(move |c| Ok(crate::notify::org_list(c, org)?))
        .await?;
    let n = &state.notifier;
    // The dead ones first: a delivery that dies between the two reads is then counted dead
    // in its endpoint's row too (a delivery only goes from pending to dead, or back by a retry).
    let dead = n.dead_deliveries(Some(org), 50).await?;
    let endpoints = n.endpoint_stats(Some((org, org_name.clone()))).await?;
    let empty = list.as_array().is_none_or(Vec::is_empty);
    let text = if empty {
        String::new()
    } else {
        serde_json::to_string_pretty(&list).unwrap_or_default()
    };
    let webhooks: Vec<&Value> = endpoints
        .iter()
        .filter(|e| e.get("type").and_then(Value::as_str) == Some("webhook"))
        .collect();
    let example = EXAMPLE.replace(
        "ENDPOINT",
        webhooks
            .first()
            .and_then(|e| e.get("name"))
            .and_then(Value::as_str)
            .unwrap_or("my-endpoint"),
    );
    let triggers: Vec<Value> = TRIGGERS
        .iter()
        .map(|(name, what)| json!({"name": name, "what": what}))
        .collect();
    let notifiers: Vec<Value> = NOTIFIERS
        .iter()
        .map(|(name, what)| json!({"name": name, "what": what}))
        .collect();
    page(
        &viewer,
        "admin",
        "admin_notifications.html",
        json!({"menu": menu(&viewer), "here": "/admin/notifications", "text": text,
               "count": list.as_array().map_or(0, Vec::len), "example": example,
               "triggers": triggers, "notifiers": notifiers, "endpoints": endpoints,
               "dead": dead}),
    )
}

/// `GET /admin/page-templates`: the organisation's page templates (the pages a case made
/// from a case template starts with), with their forms.
pub async fn page_templates(db: web::Data<Db>, viewer: Viewer) -> Result<HttpResponse, PageError> {
    require(&viewer, "managePageTemplate")?;
    let items = super::admin_catalogue::list(&db, &viewer, "listPageTemplate", "title").await?;
    page(
        &viewer,
        "admin",
        "admin_page_templates.html",
        json!({"items": items, "menu": menu(&viewer), "here": "/admin/page-templates"}),
    )
}

/// `GET /admin/sharing`: the sharing profiles (what a share gives the other organisation,
/// and whether tasks and observables follow by themselves) and the organisations this one
/// is linked to, with whom its cases may be shared.
pub async fn sharing(db: web::Data<Db>, viewer: Viewer) -> Result<HttpResponse, PageError> {
    require(&viewer, "manageConfig")?;
    let caller = viewer.caller.clone();
    let (profiles, links) = db
        .read(move |c| {
            let profiles = crate::casework::shares::sharing_profiles(c)?;
            let org = crate::db::models::find_organisation(c, &caller.organisation.name)?
                .ok_or_else(|| ApiError::NotFound("organisation not found".into()))?;
            let links = crate::casework::shares::links_of(c, &org)?;
            Ok::<_, ApiError>((profiles, links))
        })
        .await?;
    page(
        &viewer,
        "admin",
        "admin_sharing.html",
        json!({"profiles": profiles, "links": links, "menu": menu(&viewer),
               "here": "/admin/sharing"}),
    )
}
