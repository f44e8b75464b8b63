//! The platform's catalogues, for its administrators (issue 18): organisations and their
//! links, profiles and their permissions, custom fields (type, options, mandatory) and
//! observable types; and the ATT&CK catalogue every user may browse. Each administration page
//! opens only for the permission the API asks in the `admin` organisation; every change is
//! the API's call.

use super::admin::{menu, require};
use super::{clean, page, query, PageError, Viewer};
use crate::casework::collab::{patterns, tactic_label};
use crate::db::Db;
use actix_web::{web, HttpResponse};
use serde_json::{json, Value};
use service_kit::error::ApiError;
use std::collections::{BTreeSet, HashMap};

/// Reads one `list...` selection as the viewer, sorted on `field` (at most 5,000 items).
pub(super) async fn list(
    db: &Db,
    viewer: &Viewer,
    name: &str,
    field: &str,
) -> Result<Vec<Value>, ApiError> {
    let caller = viewer.caller.clone();
    let ops = json!([{"_name": name},
                     {"_name": "sort", "_fields": [{field: "asc"}]},
                     {"_name": "page", "from": 0, "to": 5000}]);
    db.read(move |c| Ok(query(c, &caller, ops)?.0)).await
}

/// `GET /admin/fields`: the custom fields (name, label, type, options, mandatory), with the
/// forms that create, change and delete them.
pub async fn fields(db: web::Data<Db>, viewer: Viewer) -> Result<HttpResponse, PageError> {
    require(&viewer, "platform:manageCustomField")?;
    let items = list(&db, &viewer, "listCustomField", "name").await?;
    page(
        &viewer,
        "admin",
        "admin_fields.html",
        json!({"items": items, "menu": menu(&viewer), "here": "/admin/fields",
               "types": ["string", "integer", "float", "boolean", "date", "url"]}),
    )
}

/// `GET /admin/observable-types`: the observable types (and whether they hold a file).
pub async fn observable_types(
    db: web::Data<Db>,
    viewer: Viewer,
) -> Result<HttpResponse, PageError> {
    require(&viewer, "platform:manageObservableTemplate")?;
    let items = list(&db, &viewer, "listObservableType", "name").await?;
    page(
        &viewer,
        "admin",
        "admin_observable_types.html",
        json!({"items": items, "menu": menu(&viewer), "here": "/admin/observable-types"}),
    )
}

/// `GET /admin/profiles`: the profiles with their permissions (the editable ones as forms).
pub async fn profiles(db: web::Data<Db>, viewer: Viewer) -> Result<HttpResponse, PageError> {
    require(&viewer, "platform:manageProfile")?;
    let items = list(&db, &viewer, "listProfile", "name").await?;
    page(
        &viewer,
        "admin",
        "admin_profiles.html",
        json!({"items": items, "menu": menu(&viewer), "here": "/admin/profiles",
               "permissions": crate::domain::permissions::all()}),
    )
}

/// `GET /admin/organisations`: every organisation with its links (and the link types both
/// ways), with the forms that create and change organisations and link or unlink two.
pub async fn organisations(db: web::Data<Db>, viewer: Viewer) -> Result<HttpResponse, PageError> {
    require(&viewer, "platform:manageOrganisation")?;
    let caller = viewer.caller.clone();
    let items = db
        .read(move |c| {
            let (orgs, _) = query(
                c,
                &caller,
                json!([{"_name": "listOrganisation"},
                       {"_name": "sort", "_fields": [{"name": "asc"}]},
                       {"_name": "page", "from": 0, "to": 5000}]),
            )?;
            let mut out = Vec::with_capacity(orgs.len());
            for mut o in orgs {
                let name = o.get("name").and_then(Value::as_str).unwrap_or_default();
                let links = match crate::db::models::find_organisation(c, name)? {
                    Some(row) if row.name != crate::auth::ADMIN_ORG => {
                        crate::casework::shares::links_of(c, &row)?
                    }
                    _ => Vec::new(),
                };
                o["links"] = Value::Array(links);
                out.push(o);
            }
            Ok::<_, ApiError>(out)
        })
        .await?;
    page(
        &viewer,
        "admin",
        "admin_organisations.html",
        json!({"items": items, "menu": menu(&viewer), "here": "/admin/organisations",
               "admin_org": crate::auth::ADMIN_ORG}),
    )
}

/// Most techniques one catalogue page lists.
const ATTACK_PAGE: usize = 200;

/// `GET /attack?q=&tactic=`: the ATT&CK Enterprise catalogue shipped with the service (the
/// techniques a case's TTPs name), searched by id or name and filtered by tactic. Every
/// signed-in user may browse it: it holds no data of any organisation.
pub async fn attack(
    viewer: Viewer,
    params: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, PageError> {
    let q = clean(params.get("q")).map(|s| s.to_lowercase());
    let tactic = clean(params.get("tactic"));
    let catalogue = patterns();
    let tactics: BTreeSet<&str> = catalogue
        .values()
        .flat_map(|p| p.tactics.iter().map(String::as_str))
        .collect();
    let mut found: Vec<_> = catalogue
        .values()
        .filter(|p| {
            q.as_ref().is_none_or(|q| {
                p.pattern_id.to_lowercase().contains(q) || p.name.to_lowercase().contains(q)
            }) && tactic.as_ref().is_none_or(|t| p.tactics.contains(t))
        })
        .collect();
    found.sort_by(|a, b| a.pattern_id.cmp(&b.pattern_id));
    let total = found.len();
    let items: Vec<Value> = found
        .into_iter()
        .take(ATTACK_PAGE)
        .map(|p| {
            json!({"patternId": p.pattern_id, "name": p.name,
                   "tactics": p.tactics.iter().map(|t| json!({"name": t, "label": tactic_label(t)}))
                       .collect::<Vec<_>>(),
                   "parent": p.pattern_id.split_once('.').map(|(parent, _)| parent)})
        })
        .collect();
    let tactics: Vec<Value> = tactics
        .into_iter()
        .map(|t| json!({"name": t, "label": tactic_label(t)}))
        .collect();
    page(
        &viewer,
        "admin",
        "attack.html",
        json!({"items": items, "total": total, "shown": ATTACK_PAGE.min(total),
               "tactics": tactics, "q": clean(params.get("q")), "tactic": tactic,
               "menu": menu(&viewer), "here": "/attack", "size": catalogue.len()}),
    )
}
