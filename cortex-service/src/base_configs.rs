//! Base configurations: the values an organization shares between the workers of one family
//! (the definitions that name the same `baseConfig`, e.g. every flavor of one analyzer), and
//! `global` for every worker of a kind (cache, timeout, TLP/PAP checks, proxies). Cortex's UI
//! pre-fills a worker's form from them; here the console does the same, and enabling a worker
//! takes from them each item its configuration leaves out (family first, then `global`).

use crate::config::JobSettings;
use crate::db::schema::base_configs;
use crate::db::{now_ms, Db};
use crate::workers::{global_items, validate_configuration, Catalog, Definition};
use diesel::prelude::*;
use serde::Deserialize;
use serde_json::{Map, Value};
use service_kit::error::ApiError;
use shared_models::cortex::{ConfigurationItem, WorkerKind};
use std::collections::BTreeMap;

/// A base configuration: values shared by the flavors of one worker, for the UI to pre-fill.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutputBaseConfig {
    /// `global` or a `baseConfig` name.
    pub name: String,
    /// Definitions sharing it.
    pub workers: Vec<String>,
    /// Items (none required).
    pub configuration_items: Vec<ConfigurationItem>,
    /// Values stored.
    #[schema(value_type = Object)]
    pub config: Value,
}

/// Body of a base-configuration update: the values to change (an item left out keeps its
/// saved value, `null` removes it).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InputBaseConfig {
    /// Values of its items.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub config: Map<String, Value>,
}

/// Each family's definitions and the union of their items (none required).
fn family_items(
    catalog: &Catalog,
    kind: WorkerKind,
) -> BTreeMap<String, (Vec<String>, Vec<ConfigurationItem>)> {
    let mut out: BTreeMap<String, (Vec<String>, Vec<ConfigurationItem>)> = BTreeMap::new();
    for d in catalog.all(kind) {
        let e = out.entry(d.base_config.clone()).or_default();
        e.0.push(d.id.clone());
        for i in &d.items {
            if !e.1.iter().any(|x| x.name == i.name) {
                let mut i = i.clone();
                i.required = false;
                e.1.push(i);
            }
        }
    }
    out
}

/// The values an organization stored, by base configuration name.
async fn stored(
    db: &Db,
    org: String,
    kind: WorkerKind,
) -> Result<BTreeMap<String, Map<String, Value>>, ApiError> {
    let rows: Vec<(String, String)> = db
        .read(move |c| {
            Ok(base_configs::table
                .filter(base_configs::organization_id.eq(org))
                .filter(base_configs::kind.eq(kind.as_str()))
                .select((base_configs::name, base_configs::config))
                .load(c)?)
        })
        .await?;
    Ok(rows
        .into_iter()
        .map(|(n, c)| (n, serde_json::from_str(&c).unwrap_or_default()))
        .collect())
}

/// An organization's base configurations of a kind, `global` first.
pub async fn of(
    db: &Db,
    catalog: &Catalog,
    jobs: &JobSettings,
    org: String,
    kind: WorkerKind,
) -> Result<Vec<OutputBaseConfig>, ApiError> {
    let stored = stored(db, org, kind).await?;
    let value = |n: &str| Value::Object(stored.get(n).cloned().unwrap_or_default());
    let mut out = vec![OutputBaseConfig {
        name: "global".into(),
        workers: Vec::new(),
        configuration_items: global_items(kind, jobs.cache, jobs.timeout),
        config: value("global"),
    }];
    for (name, (workers, items)) in family_items(catalog, kind) {
        out.push(OutputBaseConfig {
            config: value(&name),
            name,
            workers,
            configuration_items: items,
        });
    }
    Ok(out)
}

/// Changes a base configuration: `given` merged over the saved values (`null` removes one),
/// then checked against its items.
#[allow(clippy::too_many_arguments)]
pub async fn set(
    db: &Db,
    catalog: &Catalog,
    jobs: &JobSettings,
    org: &str,
    who: &str,
    kind: WorkerKind,
    name: &str,
    given: Map<String, Value>,
) -> Result<(), ApiError> {
    let items = if name == "global" {
        global_items(kind, jobs.cache, jobs.timeout)
    } else {
        family_items(catalog, kind)
            .remove(name)
            .map(|(_, items)| items)
            .ok_or_else(|| ApiError::NotFound(format!("base config {name} not found")))?
    };
    let mut merged = stored(db, org.to_string(), kind)
        .await?
        .remove(name)
        .unwrap_or_default();
    for (k, v) in given {
        if v.is_null() {
            merged.remove(&k);
        } else {
            merged.insert(k, v);
        }
    }
    let config = Value::Object(validate_configuration(&items, &merged, true)?).to_string();
    let (org, who, n) = (org.to_string(), who.to_string(), name.to_string());
    db.write(move |c| {
        diesel::delete(
            base_configs::table
                .filter(base_configs::organization_id.eq(&org))
                .filter(base_configs::kind.eq(kind.as_str()))
                .filter(base_configs::name.eq(&n)),
        )
        .execute(c)?;
        diesel::insert_into(base_configs::table)
            .values((
                base_configs::organization_id.eq(&org),
                base_configs::kind.eq(kind.as_str()),
                base_configs::name.eq(&n),
                base_configs::config.eq(&config),
                base_configs::updated_by.eq(&who),
                base_configs::updated_at.eq(now_ms()),
            ))
            .execute(c)?;
        Ok(())
    })
    .await
}

/// The values a new worker of `def` takes from the organization's base configurations for
/// each of `items` it was not given: its family's first, then `global`.
pub async fn defaults_for(
    db: &Db,
    org: String,
    def: &Definition,
    items: &[ConfigurationItem],
) -> Result<Map<String, Value>, ApiError> {
    let mut stored = stored(db, org, def.kind).await?;
    let family = stored.remove(&def.base_config).unwrap_or_default();
    let global = stored.remove("global").unwrap_or_default();
    let mut out = Map::new();
    for item in items {
        if let Some(v) = family
            .get(&item.name)
            .or_else(|| global.get(&item.name))
            .filter(|v| !v.is_null())
        {
            out.insert(item.name.clone(), v.clone());
        }
    }
    Ok(out)
}
