//! The console's other pages: the way in (`/`, the login page, the console's files), the
//! task lists (My tasks, Waiting tasks), the search box's results, the account page and the
//! New case form.

use super::{clean, html, list_page, page, query, view, PageError, Paging, Viewer};
use crate::db::Db;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde_json::{json, Value};
use std::collections::HashMap;

/// `GET /`: the alert list (the login page first without a session).
pub async fn home(_viewer: Viewer) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("Location", "/alerts"))
        .finish()
}

/// `GET /login`: the login form (it posts to the API's login, then goes on to `next`, a
/// path of this console only).
pub async fn login(params: web::Query<HashMap<String, String>>) -> Result<HttpResponse, PageError> {
    let next = service_kit::console::safe_next(params.get("next"), "/alerts");
    let body = view::render("login.html", &json!({ "next": next }))?;
    Ok(html(StatusCode::OK, body))
}

/// `GET /ui/{file}`: the console's script and style sheet (compiled in).
pub async fn static_file(file: web::Path<String>) -> HttpResponse {
    service_kit::console::static_file(&file)
}

/// `GET /tasks/mine` (the open tasks assigned to the viewer) and `GET /tasks/waiting` (the
/// organisation's tasks nobody started), with their cases.
pub async fn tasks(
    db: web::Data<Db>,
    viewer: Viewer,
    which: web::Path<String>,
    params: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, PageError> {
    let which = which.into_inner();
    let filter = match which.as_str() {
        "mine" => json!({"_and": [
            {"_eq": {"_field": "assignee", "_value": viewer.caller.login()}},
            {"_in": {"_field": "status", "_values": ["Waiting", "InProgress"]}}]}),
        "waiting" => json!({"_eq": {"_field": "status", "_value": "Waiting"}}),
        _ => {
            return Err(PageError::Api(service_kit::error::ApiError::NotFound(
                "no such task list".into(),
            )))
        }
    };
    let paging = Paging::of(
        params.get("page").and_then(|v| v.parse().ok()),
        params.get("per").and_then(|v| v.parse().ok()),
    );
    let mut page_op = paging.op();
    page_op["extraData"] = json!(["total", "case"]);
    let ops = json!([{"_name": "listTask"}, {"_name": "filter", "_and": [filter]},
                     {"_name": "sort", "_fields": [{"_createdAt": "desc"}]}, page_op]);
    let caller = viewer.caller.clone();
    let (items, total) = db.read(move |c| list_page(c, &caller, ops)).await?;
    let total = total.unwrap_or(items.len());
    page(
        &viewer,
        &format!("tasks-{which}"),
        "tasks.html",
        json!({"which": which, "tasks": items, "pager": paging.view(total),
               "can_task": viewer.can("manageTask")}),
    )
}

/// `GET /search?q=`: a case number goes to its case; otherwise cases and alerts whose title
/// holds the text, and observables of that value.
pub async fn search(
    db: web::Data<Db>,
    viewer: Viewer,
    params: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, PageError> {
    let q = clean(params.get("q")).unwrap_or_default();
    let caller = viewer.caller.clone();
    let q2 = q.clone();
    let found = db
        .read(move |c| {
            if q2.is_empty() {
                return Ok(json!({}));
            }
            let number = q2.trim_start_matches('#').parse::<i64>().ok();
            if let Some(n) = number {
                let (hit, _) = query(
                    c,
                    &caller,
                    json!([{"_name": "listCase"},
                    {"_name": "filter", "_and": [{"_eq": {"_field": "number", "_value": n}}]},
                    {"_name": "page", "from": 0, "to": 1}]),
                )?;
                if let Some(k) = hit.first() {
                    return Ok(
                        json!({"go": format!("/cases/{}", k["_id"].as_str().unwrap_or_default())}),
                    );
                }
            }
            let like = json!({"_like": {"_field": "title", "_value": format!("*{q2}*")}});
            let page = json!({"_name": "page", "from": 0, "to": 50});
            let (cases, _) = query(
                c,
                &caller,
                json!([{"_name": "listCase"},
                {"_name": "filter", "_and": [like.clone()]},
                {"_name": "sort", "_fields": [{"number": "desc"}]}, page.clone()]),
            )?;
            let (alerts, _) = query(
                c,
                &caller,
                json!([{"_name": "listAlert"},
                {"_name": "filter", "_and": [like]},
                {"_name": "sort", "_fields": [{"_createdAt": "desc"}]}, page.clone()]),
            )?;
            let (observables, _) = query(
                c,
                &caller,
                json!([{"_name": "listObservable"},
                {"_name": "filter", "_and": [{"_eq": {"_field": "data", "_value": q2}}]},
                {"_name": "sort", "_fields": [{"_createdAt": "desc"}]}, page]),
            )?;
            Ok(json!({"cases": cases, "alerts": alerts, "observables": observables}))
        })
        .await?;
    if let Some(go) = found.get("go").and_then(Value::as_str) {
        return Ok(HttpResponse::SeeOther()
            .insert_header(("Location", go))
            .finish());
    }
    page(
        &viewer,
        "search",
        "search.html",
        json!({"q": q, "found": found}),
    )
}

/// `GET /account`: password, API key, TOTP, logout.
pub async fn account(viewer: Viewer) -> Result<HttpResponse, PageError> {
    let u = &viewer.caller.user;
    page(
        &viewer,
        "account",
        "account.html",
        json!({"account": {"id": crate::db::format_id(u.id), "login": u.login, "name": u.name,
                           "totp": u.totp_secret.is_some()}}),
    )
}

/// `GET /new-case`: a blank case, or one from a template.
pub async fn new_case(db: web::Data<Db>, viewer: Viewer) -> Result<HttpResponse, PageError> {
    let caller = viewer.caller.clone();
    let (templates, _) = db
        .read(move |c| {
            query(
                c,
                &caller,
                json!([{"_name": "listCaseTemplate"},
            {"_name": "sort", "_fields": [{"displayName": "asc"}]},
            {"_name": "page", "from": 0, "to": 200}]),
            )
        })
        .await?;
    page(
        &viewer,
        "cases",
        "new_case.html",
        json!({"templates": templates,
        "can_manage": viewer.can("manageCase")}),
    )
}
