//! Notifications: every committed change reaches the orchestrators that asked for it.
//!
//! The audit trail ([`crate::audit`]) is the source: each transaction's records are also
//! queued, in that transaction (`notification_queue`, one row listing them). One instance at a time (a
//! lease in the database) runs the [`dispatch`]er: it takes the queue in order, finds the
//! organisations that should hear of each event (the one it happened in, and those its
//! case is shared with), runs their triggers ([`trigger`]) and turns what fires into
//! deliveries (`notification_deliveries`: the outbox, one row per event and endpoint, its
//! payload rendered once) or Cortex jobs. The [`deliver`]er works through each endpoint's
//! deliveries in order, retrying with exponential backoff until `dead_after_secs`; a
//! delivery keeps its id (`X-Hive-Delivery`) across retries, so a receiver that sees it
//! twice knows.
//!
//! Endpoints come from the configuration file (trusted) and from TheHive 4's
//! `PUT /api/config/notification.webhook.endpoints` (checked against the egress rules on
//! every call, their secrets encrypted at rest); organisations switch them on with
//! `PUT /api/config/organisation/notification`. Changes apply at once.

pub mod config;
pub mod deliver;
pub mod dispatch;
pub mod payload;
pub mod streams;
pub mod trigger;

use crate::audit;
use crate::config::NotificationSettings;
use crate::db::schema::config_items;
use crate::db::{now_ms, Db, DbConn};
use config::{ApiEndpoint, Endpoint, Notification};
use diesel::prelude::*;
use service_kit::auth::vault::Vault;
use service_kit::error::ApiError;
use service_kit::messaging::Broker;
use service_kit::net::Egress;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// `config_items.path` of the endpoints set through the API (organisation 0).
pub const ENDPOINTS_PATH: &str = "notification.webhook.endpoints";
/// `config_items.path` of an organisation's notification list.
pub const ORG_PATH: &str = "notification";
/// The pseudo-endpoint of the events on RabbitMQ.
pub const AMQP_ENDPOINT: &str = "amqp";
/// The pseudo-endpoint of `EmailToAddr` mails.
pub const EMAIL_ENDPOINT: &str = "email";

/// What the notifications run on (shared by the dispatcher, the deliverer and the routes).
#[derive(Debug)]
pub struct Notifier {
    pub(crate) db: Db,
    pub(crate) hooks: Arc<audit::Hooks>,
    pub(crate) settings: NotificationSettings,
    pub(crate) egress: Egress,
    pub(crate) broker: Broker,
    pub(crate) cortex: Arc<crate::cortex::Connector>,
    pub(crate) auth: Arc<crate::auth::Authenticator>,
    /// This process, as lease owner.
    pub(crate) owner: String,
    file_endpoints: Vec<Endpoint>,
    state: RwLock<Loaded>,
    /// Woken when deliveries were written (the deliverer's loop).
    pub(crate) delivered: tokio::sync::Notify,
    /// Wakes every endpoint worker waiting for new deliveries.
    pub(crate) fresh: tokio::sync::Notify,
    /// Counts the times dead deliveries were put back (endpoint workers read again from
    /// the oldest pending one).
    pub(crate) requeued: std::sync::atomic::AtomicU64,
}

/// The configuration set through the API, as last read.
#[derive(Debug, Default)]
struct Loaded {
    /// Latest `updated_at` of `config_items` seen (what tells a change).
    stamp: Option<(i64, i64)>,
    api_endpoints: Vec<(ApiEndpoint, Endpoint)>,
    org: HashMap<i64, Arc<Vec<Notification>>>,
}

impl Notifier {
    /// Reads the configuration and starts the dispatcher and the deliverer.
    pub async fn start(
        db: Db,
        hooks: Arc<audit::Hooks>,
        settings: NotificationSettings,
        broker: Broker,
        cortex: Arc<crate::cortex::Connector>,
        auth: Arc<crate::auth::Authenticator>,
    ) -> Result<Arc<Notifier>, String> {
        let file_endpoints = config::settings_endpoints(&settings)?;
        let egress = Egress::parse(&settings.allowed_networks)?;
        if broker.enabled() && !settings.amqp_exchange.is_empty() {
            broker
                .declare(
                    &service_kit::messaging::topology::Topology::default()
                        .events_exchange(&settings.amqp_exchange),
                )
                .await?;
        }
        let n = Arc::new(Notifier {
            db,
            hooks,
            settings,
            egress,
            broker,
            cortex,
            auth,
            owner: format!("{}-{}", std::process::id(), crate::db::next_id()),
            file_endpoints,
            state: RwLock::new(Loaded::default()),
            delivered: tokio::sync::Notify::new(),
            fresh: tokio::sync::Notify::new(),
            requeued: std::sync::atomic::AtomicU64::new(0),
        });
        n.reload_if_changed().await.map_err(|e| e.to_string())?;
        // Their own threads, at a lower priority than the requests'.
        let rt = service_kit::background::runtime("hive-notify", 1, n.settings.nice)
            .map_err(|e| format!("notification runtime: {e}"))?;
        dispatch::spawn(&rt, n.clone());
        deliver::spawn(&rt, n.clone());
        Ok(n)
    }

    /// Whether the events also go to RabbitMQ.
    pub fn amqp_on(&self) -> bool {
        self.broker.enabled() && !self.settings.amqp_exchange.is_empty()
    }

    /// Re-reads the configuration set through the API when it changed (one query when it
    /// did not).
    pub(crate) async fn reload_if_changed(&self) -> Result<(), ApiError> {
        let known = self.state.read().map(|s| s.stamp).unwrap_or(None);
        let auth = self.auth.clone();
        let loaded = self
            .db
            .read(move |c| {
                let vault = &auth.base().vault;
                let stamp: (Option<i64>, i64) = config_items::table
                    .select((
                        diesel::dsl::max(config_items::updated_at),
                        diesel::dsl::count_star(),
                    ))
                    .first(c)?;
                let stamp = (stamp.0.unwrap_or(0), stamp.1);
                if known == Some(stamp) {
                    return Ok(None);
                }
                load(c, vault).map(|l| Some((stamp, l)))
            })
            .await?;
        if let Some((stamp, (api, org))) = loaded {
            if let Ok(mut s) = self.state.write() {
                *s = Loaded {
                    stamp: Some(stamp),
                    api_endpoints: api,
                    org,
                };
            }
        }
        Ok(())
    }

    /// Forces a re-read after a change made here.
    pub(crate) async fn changed(&self) -> Result<(), ApiError> {
        if let Ok(mut s) = self.state.write() {
            s.stamp = None;
        }
        self.reload_if_changed().await
    }

    /// Whether any record may be heard: an organisation has a notification list, or the
    /// events go to RabbitMQ.
    pub(crate) fn anyone_listens(&self) -> bool {
        self.amqp_on()
            || self
                .state
                .read()
                .map(|s| s.org.values().any(|l| !l.is_empty()))
                .unwrap_or(true)
    }

    /// The notification list of an organisation.
    pub(crate) fn notifications_of(&self, org: i64) -> Arc<Vec<Notification>> {
        self.state
            .read()
            .ok()
            .and_then(|s| s.org.get(&org).cloned())
            .unwrap_or_default()
    }

    /// An endpoint by name: the configuration file's first, then the API's.
    pub(crate) fn endpoint(&self, name: &str) -> Option<Endpoint> {
        self.file_endpoints
            .iter()
            .find(|e| e.name == name)
            .cloned()
            .or_else(|| {
                self.state.read().ok().and_then(|s| {
                    s.api_endpoints
                        .iter()
                        .find(|(_, e)| e.name == name)
                        .map(|(_, e)| e.clone())
                })
            })
    }

    /// Every endpoint name (configuration file, then API).
    pub(crate) fn endpoint_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.file_endpoints.iter().map(|e| e.name.clone()).collect();
        if let Ok(s) = self.state.read() {
            for (_, e) in &s.api_endpoints {
                if !names.contains(&e.name) {
                    names.push(e.name.clone());
                }
            }
        }
        names
    }

    /// The endpoints set through the API, as stored (secrets in clear: for the routes
    /// that mask them).
    pub(crate) fn api_endpoints(&self) -> Vec<ApiEndpoint> {
        self.state
            .read()
            .map(|s| s.api_endpoints.iter().map(|(a, _)| a.clone()).collect())
            .unwrap_or_default()
    }

    /// The configuration file's endpoints, as TheHive shows them (secrets masked).
    pub(crate) fn file_endpoints_shown(&self) -> Vec<serde_json::Value> {
        self.file_endpoints
            .iter()
            .map(|e| {
                serde_json::json!({
                    "name": e.name,
                    "url": e.url.as_str(),
                    "version": e.version,
                    "auth": match &e.auth {
                        config::Auth::None => serde_json::json!({"type": "none"}),
                        config::Auth::Basic { username, .. } =>
                            serde_json::json!({"type": "basic", "username": username, "password": config::HIDDEN}),
                        config::Auth::Bearer(_) => serde_json::json!({"type": "bearer", "key": config::HIDDEN}),
                        config::Auth::Key(_) => serde_json::json!({"type": "key", "key": config::HIDDEN}),
                    },
                    "includedTheHiveOrganisations": if e.include.is_empty() { vec!["*".to_string()] } else { e.include.clone() },
                    "excludedTheHiveOrganisations": e.exclude,
                })
            })
            .collect()
    }
}

/// The vault context of the stored endpoints.
const ENDPOINTS_CONTEXT: &str = "notification.webhook.endpoints";

/// Reads the configuration set through the API.
#[allow(clippy::type_complexity)]
fn load(
    c: &mut DbConn,
    vault: &Vault,
) -> Result<
    (
        Vec<(ApiEndpoint, Endpoint)>,
        HashMap<i64, Arc<Vec<Notification>>>,
    ),
    ApiError,
> {
    let rows: Vec<(i64, String, String)> = config_items::table
        .filter(config_items::path.eq_any([ENDPOINTS_PATH, ORG_PATH]))
        .select((
            config_items::organisation_id,
            config_items::path,
            config_items::value,
        ))
        .load(c)?;
    let mut api = Vec::new();
    let mut org = HashMap::new();
    for (org_id, path, value) in rows {
        if path == ENDPOINTS_PATH && org_id == 0 {
            let Some(text) = vault.open(ENDPOINTS_CONTEXT, &value) else {
                tracing::error!("the stored webhook endpoints do not open with this server key");
                continue;
            };
            let list: Vec<ApiEndpoint> = serde_json::from_str(&text).unwrap_or_default();
            for a in list {
                match a.to_endpoint(None) {
                    Ok(e) => api.push((a, e)),
                    Err(e) => {
                        tracing::warn!(endpoint = %a.name, error = %e, "stored webhook endpoint skipped")
                    }
                }
            }
        } else if path == ORG_PATH {
            let v: serde_json::Value = serde_json::from_str(&value).unwrap_or_default();
            match config::parse_notifications(&v) {
                Ok(list) => {
                    org.insert(org_id, Arc::new(list));
                }
                Err(e) => {
                    tracing::warn!(organisation = org_id, error = %e, "stored notification list skipped")
                }
            }
        }
    }
    Ok((api, org))
}

/// An organisation's notification list as stored (`[]` when it has none).
pub fn org_list(c: &mut DbConn, organisation_id: i64) -> QueryResult<serde_json::Value> {
    Ok(config_items::table
        .filter(config_items::organisation_id.eq(organisation_id))
        .filter(config_items::path.eq(ORG_PATH))
        .select(config_items::value)
        .first::<String>(c)
        .optional()?
        .and_then(|v| serde_json::from_str(&v).ok())
        .unwrap_or_else(|| serde_json::json!([])))
}

/// Stores a configuration item (organisation 0: the platform's).
pub fn store(
    c: &mut DbConn,
    organisation_id: i64,
    path: &str,
    value: &str,
    by: &str,
) -> QueryResult<()> {
    let now = now_ms();
    diesel::delete(
        config_items::table
            .filter(config_items::organisation_id.eq(organisation_id))
            .filter(config_items::path.eq(path)),
    )
    .execute(c)?;
    diesel::insert_into(config_items::table)
        .values((
            config_items::organisation_id.eq(organisation_id),
            config_items::path.eq(path),
            config_items::value.eq(value),
            config_items::updated_by.eq(by),
            config_items::updated_at.eq(now),
        ))
        .execute(c)?;
    Ok(())
}

impl Notifier {
    /// Seals the endpoints list for storage.
    pub(crate) fn seal_endpoints(&self, list: &[ApiEndpoint]) -> Result<String, ApiError> {
        let text = serde_json::to_string(list).map_err(ApiError::internal)?;
        self.auth
            .base()
            .vault
            .seal(ENDPOINTS_CONTEXT, &text)
            .map_err(ApiError::internal)
    }

    /// Checks the addresses of endpoints set through the API.
    pub(crate) async fn check_egress(&self, e: &Endpoint) -> Result<(), ApiError> {
        self.egress
            .resolve(&e.url)
            .await
            .map(|_| ())
            .map_err(|r| ApiError::attribute("url", r.0))
    }
}
