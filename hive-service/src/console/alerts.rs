//! The alert list (the analyst's inbox) and an alert's preview.

use super::{
    clean, field_filters, list_page, page, query, query_one, sort_of, workers_for, PageError,
    Paging, Viewer,
};
use crate::db::Db;
use crate::ServiceState;
use actix_web::{web, HttpResponse};
use serde_json::{json, Value};
use shared_models::cortex::WorkerKind;
use std::collections::HashMap;

/// Columns the list sorts by, as the Query API names them.
const SORTS: &[&str] = &[
    "_createdAt",
    "date",
    "severity",
    "title",
    "type",
    "source",
    "sourceRef",
    "status",
];

/// The list's quick filters.
const QUICK: &[(&str, &str)] = &[
    ("all", "All"),
    ("new", "New"),
    ("unread", "Unread"),
    ("read", "Read"),
    ("imported", "Imported"),
    ("followed", "Followed"),
    ("mine", "Assigned to me"),
];

fn eq(field: &str, value: Value) -> Value {
    json!({"_eq": {"_field": field, "_value": value}})
}

/// The Query API operations of the alert list for these parameters, and what the page
/// shows of them.
pub fn list_query(viewer: &Viewer, p: &HashMap<String, String>, paging: Paging) -> (Value, Value) {
    let quick = clean(p.get("quick"))
        .filter(|q| QUICK.iter().any(|(k, _)| k == q))
        .unwrap_or_else(|| "all".into());
    let mut filters = Vec::new();
    match quick.as_str() {
        "new" => filters.push(eq("status", "New".into())),
        "unread" => filters.push(eq("read", false.into())),
        "read" => filters.push(eq("read", true.into())),
        "imported" => filters.push(eq("imported", true.into())),
        "followed" => filters.push(eq("follow", true.into())),
        "mine" => filters.push(eq("assignee", viewer.caller.login().into())),
        _ => {}
    }
    let mut active = serde_json::Map::new();
    field_filters(
        p,
        &["type", "source", "tag", "sourceRef", "status"],
        &mut filters,
        &mut active,
    );
    if let Some(t) = clean(p.get("title")) {
        filters.push(json!({"_like": {"_field": "title", "_value": format!("*{t}*")}}));
        active.insert("title".into(), t.into());
    }
    let (sort, dir) = sort_of(p, SORTS, "_createdAt");
    let mut ops = vec![json!({"_name": "listAlert"})];
    match filters.len() {
        0 => {}
        1 => ops.push(json!({"_name": "filter", "_and": [filters[0].clone()]})),
        _ => ops.push(json!({"_name": "filter", "_and": filters})),
    }
    ops.push(json!({"_name": "sort", "_fields": [{ sort.clone(): dir }]}));
    ops.push(paging.op());
    let state = json!({
        "quick": quick,
        "quicks": QUICK.iter().map(|(k, l)| json!({"key": k, "label": l})).collect::<Vec<_>>(),
        "sort": sort,
        "dir": dir,
        "active": active,
    });
    (Value::Array(ops), state)
}

/// `GET /alerts`: the list, or only its rows (`?rows=1`, what the live update fetches).
pub async fn list(
    db: web::Data<Db>,
    viewer: Viewer,
    params: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, PageError> {
    let p = params.into_inner();
    let paging = Paging::of(
        p.get("page").and_then(|v| v.parse().ok()),
        p.get("per").and_then(|v| v.parse().ok()),
    );
    let (ops, state) = list_query(&viewer, &p, paging);
    let caller = viewer.caller.clone();
    let (items, total) = db.read(move |c| list_page(c, &caller, ops)).await?;
    let total = total.unwrap_or(items.len());
    page(
        &viewer,
        "alerts",
        "alerts.html",
        json!({
            "alerts": items,
            "pager": paging.view(total),
            "state": state,
            "params": p,
            "can_manage": viewer.can("manageAlert"),
            "can_case": viewer.can("manageCase"),
        }),
    )
}

/// `GET /alerts/{id}`: an alert's preview with its observables, similar cases, the case
/// templates to import it with, and the responders that act on alerts.
pub async fn preview(
    db: web::Data<Db>,
    state: web::Data<ServiceState>,
    viewer: Viewer,
    id: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let id = id.into_inner();
    let caller = viewer.caller.clone();
    let data = db
        .read(move |c| {
            let get = json!({"_name": "getAlert", "idOrName": id});
            let mut alert = query_one(c, &caller, json!([get.clone()]), "Alert")?;
            // The case it went into, only when the viewer may see that case too.
            if let Some(k) = alert
                .get("caseId")
                .and_then(Value::as_str)
                .map(str::to_string)
            {
                let seen = query(c, &caller, json!([{"_name": "getCase", "idOrName": k}]))
                    .is_ok_and(|(items, _)| !items.is_empty());
                if !seen {
                    alert["caseId"] = Value::Null;
                    alert["caseHidden"] = Value::Bool(true);
                }
            }
            let (observables, _) = query(
                c,
                &caller,
                json!([get.clone(), {"_name": "observables"},
                       {"_name": "sort", "_fields": [{"dataType": "asc"}]},
                       {"_name": "page", "from": 0, "to": 500}]),
            )?;
            let (similar, _) = query(
                c,
                &caller,
                json!([get.clone(), {"_name": "similarCases"},
                       {"_name": "page", "from": 0, "to": 20}]),
            )
            .unwrap_or_default();
            let (templates, _) = query(
                c,
                &caller,
                json!([{"_name": "listCaseTemplate"},
                       {"_name": "sort", "_fields": [{"displayName": "asc"}]},
                       {"_name": "page", "from": 0, "to": 200}]),
            )?;
            Ok((alert, observables, similar, templates))
        })
        .await?;
    let (alert, observables, similar, templates) = data;
    let responders = workers_for(&state, WorkerKind::Responder, &["thehive:alert"]).await;
    page(
        &viewer,
        "alerts",
        "alert.html",
        json!({
            "alert": alert,
            "observables": observables,
            "similar": similar,
            "templates": templates,
            "responders": responders,
            "can_manage": viewer.can("manageAlert"),
            "can_case": viewer.can("manageCase"),
            "can_act": viewer.can("manageAction"),
        }),
    )
}
