//! An observable: its details, the analyzers that fit its type with their jobs (status
//! live, reports readable, extracted artifacts to import), and the responders that act on
//! it.

use super::{clean, page, query, query_one, workers_for, PageError, Viewer};
use crate::casework::Actor;
use crate::db::Db;
use crate::ServiceState;
use actix_web::{web, HttpResponse};
use serde_json::{json, Value};
use shared_models::cortex::WorkerKind;
use std::collections::{HashMap, HashSet};

/// Most other cases an observable's page lists as holding it (the newest first).
const SIMILAR_SHOWN: usize = 50;

/// `GET /observables/{id}?job=<job id>`.
pub async fn page_handler(
    db: web::Data<Db>,
    state: web::Data<ServiceState>,
    viewer: Viewer,
    id: web::Path<String>,
    params: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, PageError> {
    let id = id.into_inner();
    let wanted_job = clean(params.get("job"));
    let caller = viewer.caller.clone();
    let mut data = db
        .read(move |c| {
            let get = json!({"_name": "getObservable", "idOrName": id});
            let obs = query_one(c, &caller, json!([get.clone()]), "Observable")?;
            let case = query(c, &caller, json!([get.clone(), {"_name": "case"}]))?.0.into_iter().next();
            let alert = query(c, &caller, json!([get, {"_name": "alert"}]))?.0.into_iter().next();
            let key = obs["_id"].as_str().unwrap_or_default().to_string();
            let jobs = crate::render::jobs::jobs_on(c, &Actor::of(&caller), &key)?;
            // The other cases holding the same observable (same type and value, or file), that
            // the viewer may see; none when it is left out of the similarity.
            let actor = Actor::of(&caller);
            let row = crate::casework::find_observable(c, &actor, &key)?;
            let except = row.case_id;
            let holding = crate::casework::collab::cases_holding(c, &actor, &[row], except)?;
            let similar_more = holding.len() > SIMILAR_SHOWN;
            let similar: Vec<Value> = holding
                .into_iter()
                .rev()
                .take(SIMILAR_SHOWN)
                .map(|(k, found)| json!({"_id": crate::db::format_id(k.id), "number": k.number,
                                         "title": k.title, "status": k.status,
                                         "ioc": found.iter().any(|o| o.ioc)}))
                .collect();
            let actions = crate::render::jobs::actions_on(c, &Actor::of(&caller), "case_artifact", &key)?;
            // What the case already holds, to mark the artifacts imported already.
            let known: HashSet<(String, String)> = match &case {
                Some(k) => {
                    let kid = k["_id"].as_str().unwrap_or_default();
                    query(c, &caller, json!([{"_name": "getCase", "idOrName": kid},
                        {"_name": "observables"}, {"_name": "page", "from": 0, "to": 10_000}]))?
                        .0
                        .iter()
                        .map(|o| (o["dataType"].as_str().unwrap_or_default().to_string(),
                                  o["data"].as_str().unwrap_or_default().to_string()))
                        .collect()
                }
                None => HashSet::new(),
            };
            Ok(json!({"observable": obs, "case": case, "alert": alert, "jobs": jobs,
                      "similar": similar, "similar_more": similar_more,
                      "actions": actions, "known": known.into_iter().map(|(t, d)| format!("{t}\u{1f}{d}")).collect::<Vec<_>>()}))
        })
        .await?;
    // The job shown: the one asked for, else the newest.
    let jobs = data["jobs"].as_array().cloned().unwrap_or_default();
    let shown = match &wanted_job {
        Some(j) => jobs
            .iter()
            .find(|x| x["_id"].as_str() == Some(j.as_str()))
            .cloned(),
        None => jobs.first().cloned(),
    };
    if let Some(job) = shown {
        let known: HashSet<String> = data["known"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
        let artifacts: Vec<Value> = job
            .pointer("/report/artifacts")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .take(2_000)
            .map(|a| {
                let dt = a["dataType"].as_str().unwrap_or_default();
                let d = a["data"].as_str().unwrap_or_default();
                let tags: Vec<Value> = a["tags"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|t| t.as_str().is_some_and(|t| !t.starts_with("autoImport:")))
                    .cloned()
                    .collect();
                let file = a.get("attachment").is_some_and(|x| !x.is_null()) || d.is_empty();
                json!({
                    "dataType": dt, "data": d, "tags": tags, "file": file,
                    "name": a.pointer("/attachment/name").or_else(|| a.get("filename")),
                    "imported": known.contains(&format!("{dt}\u{1f}{d}")),
                    "value": json!({"dataType": dt, "data": d, "tags": tags,
                                    "message": a.get("message").cloned().unwrap_or(Value::Null)}).to_string(),
                })
            })
            .collect();
        data["job"] = job;
        data["artifacts"] = json!(artifacts);
    }
    let data_type = data["observable"]["dataType"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    data["analyzers"] = json!(workers_for(&state, WorkerKind::Analyzer, &[&data_type]).await);
    data["responders"] =
        json!(workers_for(&state, WorkerKind::Responder, &["thehive:case_artifact"]).await);
    data["pending"] = json!(jobs
        .iter()
        .chain(data["actions"].as_array().into_iter().flatten())
        .any(|j| matches!(j["status"].as_str(), Some("Waiting" | "InProgress"))));
    data["can_obs"] = json!(viewer.can("manageObservable"));
    data["can_analyse"] = json!(viewer.can("manageAnalyse"));
    data["can_act"] = json!(viewer.can("manageAction"));
    page(&viewer, "cases", "observable.html", data)
}
