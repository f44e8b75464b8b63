//! The analyzers and responders catalogue of the viewer's organization and the form that
//! enables, edits or disables one (orgadmin only, as the API).

use super::{clean, page, Viewer};
use crate::db::schema::workers;
use crate::db::{Db, WorkerRow};
use crate::workers::{items_of, render_worker};
use crate::ServiceState;
use actix_web::{web, HttpResponse};
use diesel::prelude::*;
use serde_json::{json, Map, Value};
use service_kit::console::PageError;
use service_kit::error::ApiError;
use shared_models::cortex::{ConfigurationItem, Role, WorkerKind};
use std::collections::HashMap;

fn kind_of(s: &str) -> Result<WorkerKind, PageError> {
    match s {
        "analyzer" => Ok(WorkerKind::Analyzer),
        "responder" => Ok(WorkerKind::Responder),
        _ => Err(PageError::Api(ApiError::NotFound(
            "no such kind of worker".into(),
        ))),
    }
}

async fn enabled(db: &Db, org: String, kind: WorkerKind) -> Result<Vec<WorkerRow>, ApiError> {
    db.read(move |c| {
        Ok(workers::table
            .filter(workers::organization_id.eq(org))
            .filter(workers::kind.eq(kind.as_str()))
            .select(WorkerRow::as_select())
            .load(c)?)
    })
    .await
}

/// Whether a configuration item holds a secret: its value is never sent back to the page,
/// which keeps the saved one when left empty.
pub fn secret(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["key", "password", "secret", "token", "passwd", "pwd"]
        .iter()
        .any(|s| n.contains(s))
        && !n.starts_with("max_")
}

/// `GET /workers?kind=analyzer|responder&q=&type=`: the definitions installed, each with
/// its state in the organization.
pub async fn list(
    db: web::Data<Db>,
    state: web::Data<ServiceState>,
    viewer: Viewer,
    params: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, PageError> {
    viewer.require(Role::Orgadmin)?;
    let kind = kind_of(clean(params.get("kind")).as_deref().unwrap_or("analyzer"))?;
    let q = clean(params.get("q")).map(|s| s.to_lowercase());
    let data_type = clean(params.get("type"));
    let rows = enabled(&db, viewer.caller.organization.id.clone(), kind).await?;
    let mut types = std::collections::BTreeSet::new();
    let defs: Vec<Value> = state
        .catalog
        .all(kind)
        .iter()
        .inspect(|d| types.extend(d.data_types.iter().cloned()))
        .filter(|d| {
            q.as_ref().is_none_or(|q| {
                d.id.to_lowercase().contains(q) || d.description.to_lowercase().contains(q)
            }) && data_type.as_ref().is_none_or(|t| d.data_types.contains(t))
        })
        .map(|d| {
            let w = rows.iter().find(|w| w.definition_id == d.id);
            json!({"def": d.render(), "worker": w.map(|w| render_worker(w, false))})
        })
        .collect();
    page(
        &viewer,
        kind.as_str(),
        "workers.html",
        json!({"kind": kind.as_str(), "defs": defs, "types": types, "q": clean(params.get("q")),
               "type": data_type, "enabled": rows.len()}),
    )
}

/// The items the worker form puts apart under "Options".
const COMMON: &[&str] = &[
    "check_tlp",
    "max_tlp",
    "check_pap",
    "max_pap",
    "auto_extract_artifacts",
    "jobCache",
    "jobTimeout",
    "proxy_http",
    "proxy_https",
    "cacerts",
];

/// A configuration item as the form's field: its current value from `config` (else its
/// default), secrets never sent back (`saved` tells one is).
fn item_field(i: &ConfigurationItem, config: &Map<String, Value>) -> Value {
    let hidden = secret(&i.name) && i.kind == "string";
    let current = config.get(&i.name).filter(|v| !v.is_null()).cloned();
    let value = if hidden {
        Value::Null
    } else {
        current
            .clone()
            .or(i.default_value.clone())
            .unwrap_or(Value::Null)
    };
    json!({"name": i.name, "description": i.description, "type": i.kind, "multi": i.multi,
           "required": i.required, "value": value, "secret": hidden,
           "saved": hidden && current.as_ref().is_some_and(|v| v.as_str() != Some("")),
           "common": COMMON.contains(&i.name.as_str())})
}

/// `GET /configs?kind=analyzer|responder&q=`: the organization's base configurations of a
/// kind (`global` first, then one per family of workers), each as a form of its items.
pub async fn configs(
    db: web::Data<Db>,
    state: web::Data<ServiceState>,
    viewer: Viewer,
    params: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, PageError> {
    viewer.require(Role::Orgadmin)?;
    let kind = kind_of(clean(params.get("kind")).as_deref().unwrap_or("analyzer"))?;
    let q = clean(params.get("q")).map(|s| s.to_lowercase());
    let all = crate::base_configs::of(
        &db,
        &state.catalog,
        &state.jobs,
        viewer.caller.organization.id.clone(),
        kind,
    )
    .await?;
    let configs: Vec<Value> = all
        .iter()
        .filter(|b| {
            q.as_ref().is_none_or(|q| {
                b.name.to_lowercase().contains(q)
                    || b.workers.iter().any(|w| w.to_lowercase().contains(q))
            })
        })
        .map(|b| {
            let config = b.config.as_object().cloned().unwrap_or_default();
            json!({"name": b.name, "workers": b.workers, "set": !config.is_empty(),
                   "open": q.is_some(),
                   "items": b.configuration_items.iter().map(|i| item_field(i, &config))
                       .collect::<Vec<_>>()})
        })
        .collect();
    page(
        &viewer,
        kind.as_str(),
        "configs.html",
        json!({"kind": kind.as_str(), "configs": configs, "q": clean(params.get("q"))}),
    )
}

/// `GET /workers/{kind}/{definition}`: the form of a definition: its configuration items
/// (typed; secrets masked once saved), TLP/PAP checks, proxies, CA certificates, cache,
/// timeout, extraction and rate limit; the current values when it is enabled.
pub async fn form(
    db: web::Data<Db>,
    state: web::Data<ServiceState>,
    viewer: Viewer,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    viewer.require(Role::Orgadmin)?;
    let (kind, id) = path.into_inner();
    let kind = kind_of(&kind)?;
    let def = state.catalog.get(kind, &id).ok_or_else(|| {
        PageError::Api(ApiError::NotFound(format!(
            "worker definition {id} not found"
        )))
    })?;
    let rows = enabled(&db, viewer.caller.organization.id.clone(), kind).await?;
    let worker = rows.iter().find(|w| w.definition_id == def.id);
    let items = items_of(&def, &state.jobs);
    // A worker not enabled yet starts from the organization's base configurations.
    let config: Map<String, Value> = match worker {
        Some(w) => serde_json::from_str(&w.configuration).unwrap_or_default(),
        None => {
            let org = viewer.caller.organization.id.clone();
            crate::base_configs::defaults_for(&db, org, &def, &items).await?
        }
    };
    let items: Vec<Value> = items.iter().map(|i| item_field(i, &config)).collect();
    page(
        &viewer,
        kind.as_str(),
        "worker.html",
        json!({"kind": kind.as_str(), "def": def.render(), "items": items,
               "worker": worker.map(|w| render_worker(w, false)),
               "units": ["Second", "Minute", "Hour", "Day", "Month"]}),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn secrets_are_told_by_their_names() {
        for s in ["key", "api_key", "password", "smtp_pwd", "token", "secret"] {
            assert!(super::secret(s), "{s}");
        }
        for s in ["from", "smtp_host", "max_tlp", "url", "check_tlp"] {
            assert!(!super::secret(s), "{s}");
        }
    }
}
