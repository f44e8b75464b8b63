//! The case list and the case page (Details, Tasks, Observables, TTPs, Timeline, Comments,
//! Pages).

use super::{
    clean, field_filters, list_page, page, query, query_one, sort_of, workers_for, PageError,
    Paging, Viewer,
};
use crate::db::Db;
use crate::ServiceState;
use actix_web::{web, HttpResponse};
use serde_json::{json, Value};
use shared_models::cortex::WorkerKind;
use std::collections::{BTreeMap, HashMap};

const SORTS: &[&str] = &[
    "number",
    "_createdAt",
    "startDate",
    "severity",
    "title",
    "status",
    "assignee",
];

const QUICK: &[(&str, &str)] = &[
    ("all", "All"),
    ("mine", "My open cases"),
    ("open", "Open"),
    ("closed", "Closed"),
    ("shared", "Shared with us"),
];

const TABS: &[(&str, &str)] = &[
    ("details", "Details"),
    ("tasks", "Tasks"),
    ("observables", "Observables"),
    ("ttps", "TTPs"),
    ("timeline", "Timeline"),
    ("comments", "Comments"),
    ("pages", "Pages"),
];

fn eq(field: &str, value: Value) -> Value {
    json!({"_eq": {"_field": field, "_value": value}})
}

/// `GET /cases`.
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
    let quick = clean(p.get("quick"))
        .filter(|q| QUICK.iter().any(|(k, _)| k == q))
        .unwrap_or_else(|| "all".into());
    let open = json!({"_not": {"_eq": {"_field": "stage", "_value": "Closed"}}});
    let mut filters = Vec::new();
    match quick.as_str() {
        "mine" => {
            filters.push(eq("assignee", viewer.caller.login().into()));
            filters.push(open.clone());
        }
        "open" => filters.push(open.clone()),
        "closed" => filters.push(eq("stage", "Closed".into())),
        _ => {}
    }
    let mut active = serde_json::Map::new();
    field_filters(
        &p,
        &["tag", "assignee", "status"],
        &mut filters,
        &mut active,
    );
    let (sort, dir) = sort_of(&p, SORTS, "number");
    let mut ops = vec![json!({"_name": "listCase"})];
    if !filters.is_empty() {
        ops.push(json!({"_name": "filter", "_and": filters}));
    }
    ops.push(json!({"_name": "sort", "_fields": [{ sort.clone(): dir }]}));
    let mut page_op = paging.op();
    page_op["extraData"] = json!(["total", "taskStats", "isOwner"]);
    ops.push(page_op);
    let caller = viewer.caller.clone();
    let shared_only = quick == "shared";
    let (mut items, total) = db
        .read(move |c| {
            if shared_only {
                // Cases of other organisations shared with ours: not owned by us.
                let last = ops.last().cloned().unwrap_or(Value::Null);
                let (mut all, _) = query(
                    c,
                    &caller,
                    json!([{"_name": "listCase"}, {"_name": "page", "from": 0, "to": 10_000,
                            "extraData": ["isOwner", "taskStats"]}]),
                )?;
                all.retain(|k| k.pointer("/extraData/isOwner") == Some(&Value::Bool(false)));
                let total = all.len();
                let from = last.get("from").and_then(Value::as_u64).unwrap_or(0) as usize;
                let to = last.get("to").and_then(Value::as_u64).unwrap_or(15) as usize;
                let items = all
                    .into_iter()
                    .skip(from)
                    .take(to.saturating_sub(from))
                    .collect();
                Ok((items, Some(total)))
            } else {
                list_page(c, &caller, Value::Array(ops))
            }
        })
        .await?;
    for k in &mut items {
        let stats = k
            .pointer("/extraData/taskStats")
            .cloned()
            .unwrap_or(json!({}));
        let all = stats.get("total").and_then(Value::as_i64).unwrap_or(0);
        let done = stats.get("Completed").and_then(Value::as_i64).unwrap_or(0);
        k["progress"] = json!({"done": done, "all": all});
    }
    let total = total.unwrap_or(items.len());
    page(
        &viewer,
        "cases",
        "cases.html",
        json!({
            "cases": items,
            "pager": paging.view(total),
            "state": {
                "quick": quick,
                "quicks": QUICK.iter().map(|(k, l)| json!({"key": k, "label": l})).collect::<Vec<_>>(),
                "sort": sort, "dir": dir, "active": active,
            },
            "params": p,
            "can_manage": viewer.can("manageCase"),
        }),
    )
}

/// `GET /cases/{id}?tab=...`: a case, by id or number, with the data of one tab.
pub async fn page_of(
    db: web::Data<Db>,
    state: web::Data<ServiceState>,
    viewer: Viewer,
    id: String,
    p: HashMap<String, String>,
) -> Result<HttpResponse, PageError> {
    let tab = clean(p.get("tab"))
        .filter(|t| TABS.iter().any(|(k, _)| k == t))
        .unwrap_or_else(|| "details".into());
    let task_key = clean(p.get("task"));
    let caller = viewer.caller.clone();
    let tab2 = tab.clone();
    let mut data = db
        .read(move |c| {
            let get = json!({"_name": "getCase", "idOrName": id});
            let (mut items, _) = query(
                c,
                &caller,
                json!([get.clone(), {"_name": "page", "from": 0, "to": 1,
                                      "extraData": ["taskStats", "isOwner", "shareCount"]}]),
            )?;
            let case = items.pop().ok_or_else(|| {
                service_kit::error::ApiError::NotFound("Case not found".into())
            })?;
            let mut out = json!({"case": case});
            let sub = |name: &str, sort: Value, n: usize| {
                json!([get.clone(), {"_name": name}, {"_name": "sort", "_fields": sort},
                       {"_name": "page", "from": 0, "to": n}])
            };
            match tab2.as_str() {
                "details" => {
                    out["attachments"] = json!(query(c, &caller, sub("attachments", json!([{"_createdAt": "desc"}]), 200))?.0);
                    out["alerts"] = json!(query(c, &caller, sub("alerts", json!([{"_createdAt": "desc"}]), 200))?.0);
                    out["similar"] = json!(query(c, &caller, json!([get.clone(), {"_name": "similarCases"}, {"_name": "page", "from": 0, "to": 20}])).map(|r| r.0).unwrap_or_default());
                    out["shares"] = json!(query(c, &caller, json!([get.clone(), {"_name": "shares"}])).map(|r| r.0).unwrap_or_default());
                }
                "tasks" => {
                    let (tasks, _) = query(c, &caller, json!([get.clone(), {"_name": "tasks"},
                        {"_name": "sort", "_fields": [{"order": "asc"}, {"_createdAt": "asc"}]},
                        {"_name": "page", "from": 0, "to": 1_000, "extraData": ["actionRequired"]}]))?;
                    let mut groups: BTreeMap<String, Vec<Value>> = BTreeMap::new();
                    for t in &tasks {
                        let g = t.get("group").and_then(Value::as_str).unwrap_or("default");
                        groups.entry(g.to_string()).or_default().push(t.clone());
                    }
                    out["groups"] = json!(groups.into_iter().map(|(g, ts)| json!({"name": g, "tasks": ts})).collect::<Vec<_>>());
                    let open = task_key.clone().or_else(|| {
                        tasks.first().and_then(|t| t.get("_id")).and_then(Value::as_str).map(str::to_string)
                    });
                    if let Some(tk) = open {
                        let gt = json!({"_name": "getTask", "idOrName": tk});
                        if let Ok(task) = query_one(c, &caller, json!([gt.clone()]), "Task") {
                            let (logs, _) = query(c, &caller, json!([gt, {"_name": "logs"},
                                {"_name": "sort", "_fields": [{"date": "asc"}]},
                                {"_name": "page", "from": 0, "to": 500}]))?;
                            out["task"] = task;
                            out["logs"] = json!(logs);
                        }
                    }
                    out["users"] = json!(query(c, &caller, json!([get.clone(), {"_name": "assignableUsers"}])).map(|r| r.0).unwrap_or_default());
                }
                "observables" => {
                    let (obs, _) = query(c, &caller, json!([get.clone(), {"_name": "observables"},
                        {"_name": "sort", "_fields": [{"dataType": "asc"}, {"_createdAt": "desc"}]},
                        {"_name": "page", "from": 0, "to": 2_000}]))?;
                    out["observables"] = json!(obs);
                    let (types, _) = query(c, &caller, json!([{"_name": "listObservableType"},
                        {"_name": "page", "from": 0, "to": 500}]))?;
                    out["types"] = json!(types);
                }
                "ttps" => {
                    out["procedures"] = json!(query(c, &caller, sub("procedures", json!([{"occurDate": "desc"}]), 500))?.0);
                }
                "timeline" => {
                    let k = out["case"]["_id"].as_str().unwrap_or_default().to_string();
                    let who = crate::casework::Actor::of(&caller);
                    out["events"] = crate::casework::collab::timeline(c, &who, &k)?["events"].take();
                }
                "comments" => {
                    out["comments"] = json!(query(c, &caller, sub("comments", json!([{"_createdAt": "asc"}]), 1_000))?.0);
                }
                "pages" => {
                    out["pages"] = json!(query(c, &caller, sub("pages", json!([{"title": "asc"}]), 500))?.0);
                }
                _ => {}
            }
            Ok(out)
        })
        .await?;
    let stats = data
        .pointer("/case/extraData/taskStats")
        .cloned()
        .unwrap_or(json!({}));
    data["progress"] = json!({
        "done": stats.get("Completed").and_then(Value::as_i64).unwrap_or(0),
        "all": stats.get("total").and_then(Value::as_i64).unwrap_or(0),
    });
    data["responders"] = json!(
        workers_for(
            &state,
            WorkerKind::Responder,
            &["thehive:case", "thehive:case_task"]
        )
        .await
    );
    if tab == "details" || tab == "observables" {
        let k = data["case"]["_id"].as_str().unwrap_or_default().to_string();
        let caller = viewer.caller.clone();
        data["actions"] = json!(db
            .read(move |c| crate::render::jobs::actions_on(
                c,
                &crate::casework::Actor::of(&caller),
                "case",
                &k
            ))
            .await
            .unwrap_or_default());
    }
    data["tab"] = json!(tab);
    data["tabs"] = json!(TABS
        .iter()
        .map(|(k, l)| json!({"key": k, "label": l}))
        .collect::<Vec<_>>());
    data["statuses"] = json!(crate::domain::values::CASE_STATUSES
        .iter()
        .filter(|(_, s)| *s == "Closed")
        .map(|(v, _)| v)
        .collect::<Vec<_>>());
    data["impacts"] = json!(crate::domain::values::IMPACT_STATUSES);
    data["can_manage"] = json!(viewer.can("manageCase"));
    data["can_task"] = json!(viewer.can("manageTask"));
    data["can_obs"] = json!(viewer.can("manageObservable"));
    data["can_act"] = json!(viewer.can("manageAction"));
    data["can_comment"] = json!(viewer.can("manageComment"));
    data["can_page"] = json!(viewer.can("managePage"));
    data["can_share"] = json!(viewer.can("manageShare"));
    data["can_ttp"] = json!(viewer.can("manageProcedure"));
    page(&viewer, "cases", "case.html", data)
}

/// `GET /cases/{id}`.
pub async fn show(
    db: web::Data<Db>,
    state: web::Data<ServiceState>,
    viewer: Viewer,
    id: web::Path<String>,
    params: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, PageError> {
    page_of(db, state, viewer, id.into_inner(), params.into_inner()).await
}
