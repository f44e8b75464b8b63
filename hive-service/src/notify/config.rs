//! What notifies whom: the webhook endpoints (configuration file, and TheHive 4's
//! `notification.webhook.endpoints` set through the API) and each organisation's
//! notification list (`[{delegate, trigger, notifier}]`).

use super::trigger::Trigger;
use crate::config::{NotificationSettings, WebhookSettings};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use service_kit::error::ApiError;
use std::time::Duration;

/// How a webhook's receiver is authenticated.
#[derive(Debug, Clone)]
pub enum Auth {
    /// Nothing.
    None,
    /// HTTP Basic.
    Basic {
        /// Login.
        username: String,
        /// Password.
        password: SecretString,
    },
    /// `Authorization: Bearer <key>`.
    Bearer(SecretString),
    /// `Authorization: <key>`.
    Key(SecretString),
}

/// A webhook endpoint.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Its name (what organisations' notifiers refer to).
    pub name: String,
    /// Where events are POSTed.
    pub url: reqwest::Url,
    /// Payload version, 0 or 1.
    pub version: u8,
    /// The receiver's authentication.
    pub auth: Auth,
    /// More headers.
    pub headers: Vec<(String, String)>,
    /// Organisations whose events go there (empty: all).
    pub include: Vec<String>,
    /// Organisations whose events never go there.
    pub exclude: Vec<String>,
    /// Timeout of one call.
    pub timeout: Duration,
    /// Key of the body's HMAC-SHA256 signature.
    pub secret: Option<SecretString>,
    /// Set through the API (its address is checked against the egress rules); the
    /// configuration file's are trusted.
    pub from_api: bool,
}

impl Endpoint {
    /// Whether the events of `organisation` go to this endpoint.
    pub fn serves(&self, organisation: &str) -> bool {
        (self.include.is_empty() || self.include.iter().any(|o| o == "*" || o == organisation))
            && !self.exclude.iter().any(|o| o == organisation)
    }

    /// From the configuration file.
    pub fn from_settings(name: &str, w: &WebhookSettings) -> Result<Endpoint, String> {
        let secret = |s: &Option<SecretString>, what: &str| {
            s.clone()
                .ok_or_else(|| format!("notification.webhooks.{name}.auth.{what} is missing"))
        };
        let auth = match w.auth.kind.as_deref().unwrap_or("none") {
            "none" => Auth::None,
            "basic" => Auth::Basic {
                username: w.auth.username.clone().unwrap_or_default(),
                password: secret(&w.auth.password, "password")?,
            },
            "bearer" => Auth::Bearer(secret(&w.auth.key, "key")?),
            "key" => Auth::Key(secret(&w.auth.key, "key")?),
            other => return Err(format!("unknown authentication type {other}")),
        };
        Ok(Endpoint {
            name: name.to_string(),
            url: reqwest::Url::parse(&w.url).map_err(|e| e.to_string())?,
            version: w.version,
            auth,
            headers: w
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            include: w.include_organisations.clone(),
            exclude: w.exclude_organisations.clone(),
            timeout: Duration::from_millis(w.timeout_ms),
            secret: w.secret.clone(),
            from_api: false,
        })
    }
}

/// The masked value of a secret in what the API shows; given back unchanged, it keeps the
/// stored secret.
pub const HIDDEN: &str = "<hidden>";

/// One endpoint as TheHive 4's `notification.webhook.endpoints` writes it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiEndpoint {
    /// Name.
    pub name: String,
    /// URL.
    pub url: String,
    /// 0 or 1.
    #[serde(default)]
    pub version: u8,
    /// `{type: none|basic|bearer|key, username?, password?, key?}`.
    #[serde(default)]
    pub auth: Option<Value>,
    /// TheHive 4's HTTP client settings (kept, not used but for `timeout.request`).
    #[serde(default)]
    pub ws_config: Option<Value>,
    /// Organisations served (`["*"]`: all).
    #[serde(default)]
    pub included_the_hive_organisations: Option<Vec<String>>,
    /// Organisations never served.
    #[serde(default)]
    pub excluded_the_hive_organisations: Option<Vec<String>>,
    /// More headers (our addition).
    #[serde(default)]
    pub headers: Option<Map<String, Value>>,
    /// Key of the body's signature (our addition).
    #[serde(default)]
    pub secret: Option<String>,
    /// Timeout of one call, ms (our addition; default 5 s).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

/// Most endpoints set through the API, and their sizes.
const MAX_API_ENDPOINTS: usize = 100;
/// Extra headers one endpoint set through the API may have.
const MAX_HEADERS: usize = 32;
/// Organisations an endpoint's include or exclude list may name.
const MAX_ORGANISATIONS: usize = 1_000;
/// Headers the deliverer sets itself.
const SERVICE_HEADERS: [&str; 8] = [
    "authorization",
    "host",
    "content-type",
    "content-length",
    "transfer-encoding",
    "x-hive-signature",
    "x-hive-delivery",
    "x-hive-event",
];

impl ApiEndpoint {
    /// Checks an endpoint given through the API; `stored` gives the secrets a masked value
    /// keeps.
    pub fn to_endpoint(&self, stored: Option<&ApiEndpoint>) -> Result<Endpoint, ApiError> {
        let name = self.name.trim();
        if name.is_empty()
            || name.len() > 64
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        {
            return Err(ApiError::attribute(
                "name",
                "1 to 64 letters, digits, -, _ or .",
            ));
        }
        let url = reqwest::Url::parse(&self.url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
            .ok_or_else(|| ApiError::attribute("url", "must be http(s)://host/..."))?;
        if self.url.len() > 2048 {
            return Err(ApiError::attribute("url", "at most 2048 characters"));
        }
        if self.version > 1 {
            return Err(ApiError::attribute("version", "0 or 1"));
        }
        let kept = |field: &str| -> Option<String> {
            stored
                .and_then(|s| s.auth.as_ref())
                .and_then(|a| a.get(field))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let secret_field = |a: &Value, field: &str| -> Result<SecretString, ApiError> {
            match a.get(field).and_then(Value::as_str) {
                Some(HIDDEN) => kept(field)
                    .map(SecretString::from)
                    .ok_or_else(|| ApiError::missing(&format!("auth.{field}"))),
                Some(v) if !v.is_empty() && v.len() <= 4096 => {
                    Ok(SecretString::from(v.to_string()))
                }
                _ => Err(ApiError::missing(&format!("auth.{field}"))),
            }
        };
        let auth = match &self.auth {
            None | Some(Value::Null) => Auth::None,
            Some(a) => match a.get("type").and_then(Value::as_str).unwrap_or("none") {
                "none" => Auth::None,
                "basic" => Auth::Basic {
                    username: a
                        .get("username")
                        .and_then(Value::as_str)
                        .map_or(Ok(""), |u| {
                            if u.len() <= 256 {
                                Ok(u)
                            } else {
                                Err(ApiError::attribute(
                                    "auth.username",
                                    "at most 256 characters",
                                ))
                            }
                        })?
                        .to_string(),
                    password: secret_field(a, "password")?,
                },
                "bearer" => Auth::Bearer(secret_field(a, "key")?),
                "key" => Auth::Key(secret_field(a, "key")?),
                other => {
                    return Err(ApiError::attribute(
                        "auth.type",
                        format!("Unknown authentication type {other}"),
                    ))
                }
            },
        };
        let mut headers = Vec::new();
        if self.headers.as_ref().is_some_and(|h| h.len() > MAX_HEADERS) {
            return Err(ApiError::attribute(
                "headers",
                format!("at most {MAX_HEADERS} headers"),
            ));
        }
        for (k, v) in self.headers.iter().flatten() {
            let v = v.as_str().filter(|v| v.len() <= 4096).ok_or_else(|| {
                ApiError::attribute("headers", "values are texts of at most 4096 characters")
            })?;
            reqwest::header::HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| ApiError::attribute("headers", format!("{k} is not a header name")))?;
            reqwest::header::HeaderValue::from_str(v)
                .map_err(|_| ApiError::attribute("headers", format!("bad value for {k}")))?;
            if SERVICE_HEADERS.iter().any(|h| k.eq_ignore_ascii_case(h)) {
                return Err(ApiError::attribute(
                    "headers",
                    format!("{k} is set by the service"),
                ));
            }
            headers.push((k.clone(), v.to_string()));
        }
        let secret = match self.secret.as_deref() {
            None | Some("") => None,
            Some(HIDDEN) => stored
                .and_then(|s| s.secret.clone())
                .map(SecretString::from),
            Some(s) if s.len() <= 4096 => Some(SecretString::from(s.to_string())),
            Some(_) => return Err(ApiError::attribute("secret", "at most 4096 characters")),
        };
        for (field, list) in [
            (
                "includedTheHiveOrganisations",
                &self.included_the_hive_organisations,
            ),
            (
                "excludedTheHiveOrganisations",
                &self.excluded_the_hive_organisations,
            ),
        ] {
            if list.as_ref().is_some_and(|l| l.len() > MAX_ORGANISATIONS) {
                return Err(ApiError::attribute(
                    field,
                    format!("at most {MAX_ORGANISATIONS} organisations"),
                ));
            }
        }
        let request_timeout = self
            .ws_config
            .as_ref()
            .and_then(|w| {
                w.pointer("/timeout/request")
                    .or_else(|| w.get("timeout.request"))
            })
            .and_then(Value::as_u64);
        Ok(Endpoint {
            name: name.to_string(),
            url,
            version: self.version,
            auth,
            headers,
            include: self
                .included_the_hive_organisations
                .clone()
                .unwrap_or_default(),
            exclude: self
                .excluded_the_hive_organisations
                .clone()
                .unwrap_or_default(),
            timeout: Duration::from_millis(
                self.timeout_ms
                    .or(request_timeout)
                    .unwrap_or(5_000)
                    .clamp(100, 600_000),
            ),
            secret,
            from_api: true,
        })
    }

    /// As stored: the secrets given (or kept) in clear, encrypted with the whole value.
    pub fn stored_form(&self, e: &Endpoint) -> ApiEndpoint {
        let mut out = self.clone();
        out.name = e.name.clone();
        out.auth = Some(match &e.auth {
            Auth::None => json!({"type": "none"}),
            Auth::Basic { username, password } => {
                json!({"type": "basic", "username": username, "password": password.expose_secret()})
            }
            Auth::Bearer(k) => json!({"type": "bearer", "key": k.expose_secret()}),
            Auth::Key(k) => json!({"type": "key", "key": k.expose_secret()}),
        });
        out.secret = e.secret.as_ref().map(|s| s.expose_secret().to_string());
        out
    }

    /// As the API shows it: secrets masked.
    pub fn shown(&self) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Some(Value::Object(a)) = v.get_mut("auth") {
            for f in ["password", "key"] {
                if a.contains_key(f) {
                    a.insert(f.into(), HIDDEN.into());
                }
            }
        }
        if v.get("secret").is_some_and(|s| !s.is_null()) {
            v["secret"] = HIDDEN.into();
        }
        if v.get("includedTheHiveOrganisations")
            .is_none_or(Value::is_null)
        {
            v["includedTheHiveOrganisations"] = json!(["*"]);
        }
        if v.get("excludedTheHiveOrganisations")
            .is_none_or(Value::is_null)
        {
            v["excludedTheHiveOrganisations"] = json!([]);
        }
        v
    }
}

/// Reads the `value` of `PUT /api/config/notification.webhook.endpoints`.
pub fn parse_api_endpoints(
    value: &Value,
    stored: &[ApiEndpoint],
) -> Result<Vec<(ApiEndpoint, Endpoint)>, ApiError> {
    let list: Vec<ApiEndpoint> = serde_json::from_value(value.clone())
        .map_err(|e| ApiError::attribute("value", e.to_string()))?;
    if list.len() > MAX_API_ENDPOINTS {
        return Err(ApiError::attribute(
            "value",
            format!("at most {MAX_API_ENDPOINTS} endpoints"),
        ));
    }
    let mut out: Vec<(ApiEndpoint, Endpoint)> = Vec::with_capacity(list.len());
    for (i, a) in list.iter().enumerate() {
        let old = stored.iter().find(|s| s.name == a.name);
        let e = a.to_endpoint(old).map_err(|e| match e {
            ApiError::Attribute { message, errors } => ApiError::Attribute {
                message: format!("value[{i}].{message}"),
                errors,
            },
            other => other,
        })?;
        if out.iter().any(|(_, o)| o.name == e.name) {
            return Err(ApiError::attribute(
                "value",
                format!("endpoint {} given twice", e.name),
            ));
        }
        out.push((a.stored_form(&e), e));
    }
    Ok(out)
}

/// What a notification does when its trigger fires.
#[derive(Debug, Clone, PartialEq)]
pub enum Notifier {
    /// POSTs the event to a webhook endpoint.
    Webhook {
        /// The endpoint's name.
        endpoint: String,
    },
    /// Runs an analyzer on the event's observables.
    RunAnalyzer {
        /// Analyzer name (or id).
        analyzer: String,
        /// Job parameters.
        parameters: Map<String, Value>,
    },
    /// Runs a responder on the event's object.
    RunResponder {
        /// Responder name (or id).
        responder: String,
        /// Job parameters.
        parameters: Map<String, Value>,
    },
    /// Sends a mail.
    EmailToAddr {
        /// Recipients.
        to: Vec<String>,
        /// Subject template.
        subject: String,
        /// Body template.
        template: String,
    },
}

/// One entry of an organisation's notification list.
#[derive(Debug, Clone)]
pub struct Notification {
    /// Run once per user of the organisation (TheHive's `delegate`): webhooks, analyzers
    /// and responders refuse it, as in TheHive.
    pub delegate: bool,
    /// When.
    pub trigger: Trigger,
    /// What.
    pub notifier: Notifier,
}

/// Most notifications in one organisation's list.
pub const MAX_NOTIFICATIONS: usize = 100;

/// Reads and checks an organisation's notification list (the `value` of `PUT
/// /api/config/organisation/notification`).
pub fn parse_notifications(value: &Value) -> Result<Vec<Notification>, ApiError> {
    let list = value
        .as_array()
        .ok_or_else(|| ApiError::attribute("value", "a list of notifications"))?;
    if list.len() > MAX_NOTIFICATIONS {
        return Err(ApiError::attribute(
            "value",
            format!("at most {MAX_NOTIFICATIONS} notifications"),
        ));
    }
    list.iter()
        .enumerate()
        .map(|(i, n)| parse_notification(n).map_err(|e| prefix(e, &format!("value[{i}]."))))
        .collect()
}

fn prefix(e: ApiError, at: &str) -> ApiError {
    match e {
        ApiError::Attribute { message, errors } => ApiError::Attribute {
            message: format!("{at}{message}"),
            errors,
        },
        other => other,
    }
}

fn parse_notification(n: &Value) -> Result<Notification, ApiError> {
    let delegate = match n.get("delegate") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(ApiError::attribute("delegate", "true or false")),
    };
    let trigger = Trigger::parse(
        n.get("trigger")
            .ok_or_else(|| ApiError::missing("trigger"))?,
    )?;
    let nv = n
        .get("notifier")
        .ok_or_else(|| ApiError::missing("notifier"))?;
    let text = |field: &str| -> Result<String, ApiError> {
        match nv.get(field).and_then(Value::as_str) {
            Some(s) if !s.trim().is_empty() && s.len() <= 4096 => Ok(s.trim().to_string()),
            _ => Err(ApiError::missing(&format!("notifier.{field}"))),
        }
    };
    let parameters = || -> Result<Map<String, Value>, ApiError> {
        match nv.get("parameters") {
            None | Some(Value::Null) => Ok(Map::new()),
            Some(Value::Object(m)) => Ok(m.clone()),
            Some(_) => Err(ApiError::attribute("notifier.parameters", "an object")),
        }
    };
    let notifier = match nv.get("name").and_then(Value::as_str).unwrap_or_default() {
        "webhook" => Notifier::Webhook {
            endpoint: text("endpoint")?,
        },
        "RunAnalyzer" => Notifier::RunAnalyzer {
            analyzer: text("analyzerName")?,
            parameters: parameters()?,
        },
        "RunResponder" => Notifier::RunResponder {
            responder: text("responderName")?,
            parameters: parameters()?,
        },
        "EmailToAddr" => {
            let to: Vec<String> = match nv.get("to") {
                Some(Value::String(s)) => s.split(',').map(|a| a.trim().to_string()).collect(),
                Some(Value::Array(a)) => a
                    .iter()
                    .filter_map(Value::as_str)
                    .map(|a| a.trim().to_string())
                    .collect(),
                _ => Vec::new(),
            };
            let to: Vec<String> = to.into_iter().filter(|a| !a.is_empty()).collect();
            if to.is_empty()
                || to.len() > 50
                || to.iter().any(|a| !a.contains('@') || a.len() > 254)
            {
                return Err(ApiError::attribute(
                    "notifier.to",
                    "one to 50 mail addresses",
                ));
            }
            Notifier::EmailToAddr {
                to,
                subject: nv
                    .get("subject")
                    .and_then(Value::as_str)
                    .unwrap_or("[TheHive] {{objectType}} {{operation}}")
                    .chars()
                    .take(512)
                    .collect(),
                template: nv
                    .get("template")
                    .or_else(|| nv.get("message"))
                    .and_then(Value::as_str)
                    .unwrap_or(super::payload::DEFAULT_MAIL_TEMPLATE)
                    .chars()
                    .take(64 * 1024)
                    .collect(),
            }
        }
        "" => return Err(ApiError::missing("notifier.name")),
        other => {
            return Err(ApiError::attribute(
                "notifier.name",
                format!("{other}: webhook, RunAnalyzer, RunResponder or EmailToAddr"),
            ))
        }
    };
    if delegate && !matches!(notifier, Notifier::EmailToAddr { .. }) {
        return Err(ApiError::attribute(
            "delegate",
            "a webhook, an analyzer or a responder is not run per user (delegate: false)",
        ));
    }
    Ok(Notification {
        delegate,
        trigger,
        notifier,
    })
}

/// The configuration file's endpoints.
pub fn settings_endpoints(s: &NotificationSettings) -> Result<Vec<Endpoint>, String> {
    s.webhooks
        .iter()
        .map(|(name, w)| Endpoint::from_settings(name, w))
        .collect()
}
