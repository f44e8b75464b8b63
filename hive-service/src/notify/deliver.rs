//! The deliverer: works through each endpoint's deliveries in id order, one at a time per
//! endpoint (so a receiver gets an endpoint's events in the order they happened), retrying
//! a failed one with exponential backoff (1 s doubling to 5 min) before any later one,
//! until `dead_after_secs` after its event, then marking it dead with its last error.

use super::config::{Auth, Endpoint};
use super::dispatch::hold;
use super::{Notifier, AMQP_ENDPOINT, EMAIL_ENDPOINT};
use crate::db::now_ms;
use crate::db::schema::notification_deliveries as nd;
use diesel::prelude::*;
use hmac::{Hmac, Mac};
use secrecy::ExposeSecret;
use serde_json::Value;
use service_kit::error::ApiError;
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A dead delivery as read: id, endpoint, organisation, payload, attempts, created, error.
type DeadRow = (i64, String, String, String, i32, i64, Option<String>);

/// Deliveries one endpoint worker takes at once.
const BATCH: i64 = 200;
/// Longest wait between two attempts of one delivery.
const MAX_BACKOFF_MS: i64 = 300_000;
/// Delivered ids are recorded by groups of this many (a crash may repeat them: the same
/// `X-Hive-Delivery` tells).
const FLUSH_EVERY: usize = 50;

/// `status = 'pending'` written as a literal, so that the partial index of pending
/// deliveries serves it whatever plan the database caches.
fn pending() -> diesel::expression::SqlLiteral<diesel::sql_types::Bool> {
    diesel::dsl::sql::<diesel::sql_types::Bool>("notification_deliveries.status = 'pending'")
}

/// One pending delivery.
#[derive(Debug, Clone, Queryable)]
struct Pending {
    id: i64,
    payload: String,
    attempts: i32,
    next_attempt_at: i64,
    created_at: i64,
}

/// Starts the deliverer.
pub fn spawn(rt: &tokio::runtime::Handle, n: Arc<Notifier>) {
    rt.spawn(async move {
        let mut held_until = 0_i64;
        let mut workers: HashMap<String, tokio::task::JoinHandle<()>> = HashMap::new();
        let mut last_sweep = Instant::now();
        loop {
            tokio::select! {
                _ = n.delivered.notified() => {
                    tokio::time::sleep(super::dispatch::COALESCE).await;
                }
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
            if !matches!(hold(&n, "notification", &mut held_until).await, Ok(true)) {
                continue;
            }
            workers.retain(|_, h| !h.is_finished());
            let now = now_ms();
            let due =
                n.db.read(move |c| {
                    Ok(nd::table
                        .filter(pending())
                        .filter(nd::next_attempt_at.le(now))
                        .select(nd::endpoint)
                        .distinct()
                        .load::<String>(c)?)
                })
                .await;
            match due {
                Ok(names) => {
                    for name in names {
                        if workers.contains_key(&name) {
                            continue;
                        }
                        let (n2, name2) = (n.clone(), name.clone());
                        workers.insert(name, tokio::spawn(async move { work(n2, name2).await }));
                    }
                }
                Err(e) => tracing::warn!(error = %e, "deliveries not read"),
            }
            if last_sweep.elapsed() > Duration::from_secs(600) {
                last_sweep = Instant::now();
                let keep = n.settings.keep_delivered_days as i64 * 86_400_000;
                let before = now_ms() - keep;
                let _ =
                    n.db.write(move |c| {
                        Ok(diesel::delete(
                            nd::table
                                .filter(nd::status.eq("delivered"))
                                .filter(nd::created_at.lt(before)),
                        )
                        .execute(c)?)
                    })
                    .await;
            }
        }
    });
}

/// A reusable client for an endpoint (re-checked against the egress rules every 30 s for
/// endpoints set through the API).
struct Client {
    http: reqwest::Client,
    made: Instant,
}

/// How long an endpoint worker with nothing to send waits for new deliveries before it
/// ends (while it waits, a new delivery goes out without a round through the loop above).
const LINGER: Duration = Duration::from_secs(2);
/// How often an endpoint worker reads its queue again from the oldest pending delivery.
const RESTART_READING: Duration = Duration::from_secs(5);

/// Delivers the deliveries of one endpoint until none is due for `LINGER`; then waits for
/// its last record of delivered ones, so that the next worker does not send them again.
async fn work(n: Arc<Notifier>, endpoint: String) {
    let mut recording: Option<tokio::task::JoinHandle<()>> = None;
    deliver(&n, &endpoint, &mut recording).await;
    if let Some(h) = recording {
        let _ = h.await;
    }
}

async fn deliver(
    n: &Arc<Notifier>,
    endpoint: &str,
    recording: &mut Option<tokio::task::JoinHandle<()>>,
) {
    let mut client: Option<Client> = None;
    // The last one sent by this worker: the next reads start after it, so the record of
    // the delivered ones is written beside the sending instead of before the next read.
    // Dead deliveries put back in the queue (older ids) start the reading over.
    let mut after = i64::MIN;
    let mut requeued = n.requeued.load(std::sync::atomic::Ordering::Acquire);
    let mut started = Instant::now();
    loop {
        // Listening before reading: deliveries written after the read wake this worker.
        let fresh = n.fresh.notified();
        tokio::pin!(fresh);
        fresh.as_mut().enable();
        let now_requeued = n.requeued.load(std::sync::atomic::Ordering::Acquire);
        if now_requeued != requeued || started.elapsed() > RESTART_READING {
            // (Another instance's requeue is not counted here: reading over from the oldest
            // every few seconds finds it.) The record of the sent ones first.
            if let Some(h) = recording.take() {
                let _ = h.await;
            }
            requeued = now_requeued;
            started = Instant::now();
            after = i64::MIN;
        }
        let name = endpoint.to_string();
        let batch =
            n.db.read(move |c| {
                Ok(nd::table
                    .filter(nd::endpoint.eq(&name))
                    .filter(pending())
                    .filter(nd::id.gt(after))
                    .order(nd::id.asc())
                    .limit(BATCH)
                    .select((
                        nd::id,
                        nd::payload,
                        nd::attempts,
                        nd::next_attempt_at,
                        nd::created_at,
                    ))
                    .load::<Pending>(c)?)
            })
            .await;
        let batch = match batch {
            Ok(b) if !b.is_empty() => b,
            Ok(_) => {
                if tokio::time::timeout(LINGER, fresh).await.is_err() {
                    return;
                }
                continue;
            }
            Err(e) => {
                tracing::warn!(endpoint = %endpoint, error = %e, "deliveries not read");
                return;
            }
        };
        let mut done: Vec<i64> = Vec::new();
        for d in batch {
            let wait = d.next_attempt_at - now_ms();
            if wait > 0 {
                // The first pending one waits: those after it wait behind it.
                flush(n, &mut done, recording).await;
                if wait > 5_000 {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(wait as u64)).await;
            }
            match send(n, endpoint, &d, &mut client).await {
                Ok(()) => {
                    after = d.id;
                    done.push(d.id);
                    if done.len() >= FLUSH_EVERY {
                        flush(n, &mut done, recording).await;
                    }
                }
                Err(Failure::Permanent(e)) | Err(Failure::Retry(e))
                    if now_ms() - d.created_at >= n.settings.dead_after_secs as i64 * 1000 =>
                {
                    after = d.id;
                    flush(n, &mut done, recording).await;
                    mark(n, d.id, "dead", d.attempts + 1, 0, Some(e)).await;
                }
                Err(Failure::Permanent(e)) => {
                    after = d.id;
                    flush(n, &mut done, recording).await;
                    mark(n, d.id, "dead", d.attempts + 1, 0, Some(e)).await;
                }
                Err(Failure::Retry(e)) => {
                    flush(n, &mut done, recording).await;
                    let backoff = (1000_i64 << d.attempts.clamp(0, 20)).min(MAX_BACKOFF_MS);
                    tracing::info!(endpoint = %endpoint, delivery = d.id, attempts = d.attempts + 1, error = %e, "delivery failed; retrying");
                    mark(
                        n,
                        d.id,
                        "pending",
                        d.attempts + 1,
                        now_ms() + backoff,
                        Some(e),
                    )
                    .await;
                    return;
                }
            }
        }
        flush(n, &mut done, recording).await;
    }
}

/// Records delivered ones in the background, one record at a time (the previous one is
/// waited for first).
async fn flush(
    n: &Arc<Notifier>,
    done: &mut Vec<i64>,
    recording: &mut Option<tokio::task::JoinHandle<()>>,
) {
    if done.is_empty() {
        return;
    }
    if let Some(h) = recording.take() {
        let _ = h.await;
    }
    let ids = std::mem::take(done);
    let n = n.clone();
    *recording = Some(tokio::spawn(async move {
        let now = now_ms();
        let r =
            n.db.write(move |c| {
                Ok(diesel::update(nd::table.filter(nd::id.eq_any(&ids)))
                    .set((
                        nd::status.eq("delivered"),
                        nd::delivered_at.eq(now),
                        nd::last_error.eq(None::<String>),
                    ))
                    .execute(c)?)
            })
            .await;
        if let Err(e) = r {
            tracing::warn!(error = %e, "delivered deliveries not recorded (they will be sent again)");
        }
    }));
}

async fn mark(
    n: &Notifier,
    id: i64,
    status: &str,
    attempts: i32,
    next: i64,
    error: Option<String>,
) {
    let status = status.to_string();
    let error = error.map(|e| e.chars().take(1000).collect::<String>());
    let r =
        n.db.write(move |c| {
            Ok(diesel::update(nd::table.find(id))
                .set((
                    nd::status.eq(&status),
                    nd::attempts.eq(attempts),
                    nd::next_attempt_at.eq(next),
                    nd::last_error.eq(&error),
                ))
                .execute(c)?)
        })
        .await;
    if let Err(e) = r {
        tracing::warn!(error = %e, delivery = id, "delivery state not recorded");
    }
}

/// Why a delivery did not go.
enum Failure {
    /// Try again later.
    Retry(String),
    /// It never will (the endpoint is gone): dead now.
    Permanent(String),
}

/// The routing key of an event on RabbitMQ: `<organisation>.<objectType>.<action>`, each
/// part without dots.
pub fn routing_key(event: &Value) -> String {
    let part = |k: &str| {
        event
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .replace(['.', '*', '#'], "_")
    };
    format!(
        "{}.{}.{}",
        part("organisation"),
        part("objectType"),
        part("action")
    )
}

/// The signature of a body (`X-Hive-Signature: sha256=<hex>`).
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

async fn send(
    n: &Notifier,
    endpoint: &str,
    d: &Pending,
    client: &mut Option<Client>,
) -> Result<(), Failure> {
    match endpoint {
        AMQP_ENDPOINT => {
            let event: Value = serde_json::from_str(&d.payload).unwrap_or(Value::Null);
            let props = lapin::BasicProperties::default()
                .with_message_id(d.id.to_string().into())
                .with_type(
                    format!(
                        "{}.{}",
                        event
                            .get("objectType")
                            .and_then(Value::as_str)
                            .unwrap_or(""),
                        event.get("action").and_then(Value::as_str).unwrap_or("")
                    )
                    .into(),
                );
            n.broker
                .publish_raw(
                    &n.settings.amqp_exchange,
                    &routing_key(&event),
                    d.payload.as_bytes(),
                    props,
                )
                .await
                .map_err(Failure::Retry)
        }
        EMAIL_ENDPOINT => {
            let v: Value = serde_json::from_str(&d.payload).unwrap_or(Value::Null);
            let mail = service_kit::mail::Mail {
                to: v
                    .get("to")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(String::from)
                            .collect()
                    })
                    .unwrap_or_default(),
                subject: v
                    .get("subject")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .into(),
                body: v.get("body").and_then(Value::as_str).unwrap_or("").into(),
            };
            n.smtp().send(&mail).await.map_err(Failure::Retry)
        }
        name => {
            let Some(e) = n.endpoint(name) else {
                return Err(Failure::Permanent(format!(
                    "webhook endpoint {name} is no longer configured"
                )));
            };
            post(n, &e, d, client).await
        }
    }
}

async fn post(
    n: &Notifier,
    e: &Endpoint,
    d: &Pending,
    client: &mut Option<Client>,
) -> Result<(), Failure> {
    let stale = client
        .as_ref()
        .is_none_or(|c| e.from_api && c.made.elapsed() > Duration::from_secs(30));
    if stale {
        let http = if e.from_api {
            n.egress
                .client_for(&e.url, e.timeout)
                .await
                .map_err(|r| Failure::Retry(r.0))?
        } else {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(e.timeout)
                .build()
                .map_err(|err| Failure::Retry(err.to_string()))?
        };
        *client = Some(Client {
            http,
            made: Instant::now(),
        });
    }
    let Some(c) = client.as_ref() else {
        return Err(Failure::Retry("no client".into()));
    };
    let event: Value = serde_json::from_str(&d.payload).unwrap_or(Value::Null);
    let kind = format!(
        "{}.{}",
        event
            .get("objectType")
            .and_then(Value::as_str)
            .unwrap_or(""),
        event.get("operation").and_then(Value::as_str).unwrap_or("")
    );
    let mut req = c
        .http
        .post(e.url.clone())
        .header("Content-Type", "application/json")
        .header(
            "User-Agent",
            concat!("hive-service/", env!("CARGO_PKG_VERSION")),
        )
        .header("X-Hive-Delivery", d.id.to_string())
        .header("X-Hive-Event", kind);
    for (k, v) in &e.headers {
        req = req.header(k, v);
    }
    req = match &e.auth {
        Auth::None => req,
        Auth::Basic { username, password } => {
            req.basic_auth(username, Some(password.expose_secret()))
        }
        Auth::Bearer(k) => req.header("Authorization", format!("Bearer {}", k.expose_secret())),
        Auth::Key(k) => req.header("Authorization", k.expose_secret()),
    };
    if let Some(s) = &e.secret {
        req = req.header(
            "X-Hive-Signature",
            signature(s.expose_secret(), d.payload.as_bytes()),
        );
    }
    let resp = req
        .body(d.payload.clone())
        .send()
        .await
        .map_err(|err| Failure::Retry(failure_text(err)))?;
    let status = resp.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(Failure::Retry(format!("the receiver answered {status}")))
    }
}

/// What a failed request is recorded as: the error and its causes, without the endpoint's
/// URL (a webhook URL often holds a secret token, and an organisation's administrators see
/// the errors of their own deliveries).
fn failure_text(err: reqwest::Error) -> String {
    let err = err.without_url();
    let mut text = err.to_string();
    let mut cause = std::error::Error::source(&err);
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text.chars().take(500).collect()
}

impl Notifier {
    /// The SMTP server of `notification.smtp`.
    pub(crate) fn smtp(&self) -> service_kit::mail::Smtp {
        let s = &self.settings.smtp;
        service_kit::mail::Smtp {
            host: s.host.clone(),
            port: s.port,
            security: service_kit::mail::Security::parse(&s.security)
                .unwrap_or(service_kit::mail::Security::StartTls),
            login: s.username.clone().zip(s.password.clone()),
            from: s.from.clone(),
            timeout: Duration::from_secs(s.timeout_secs),
            // The operator's own relay (notification.smtp.*): resolved as configured.
            connect_to: None,
        }
    }

    /// Each endpoint's pending, delivered and dead counts and last error: of every
    /// organisation's deliveries, or of `org`'s only (then only the endpoints that serve it).
    pub async fn endpoint_stats(&self, org: Option<(i64, String)>) -> Result<Vec<Value>, ApiError> {
        let mut names = self.endpoint_names();
        if let Some((_, name)) = &org {
            names.retain(|e| self.endpoint(e).is_some_and(|e| e.serves(name)));
        }
        // One organisation's rows, or every organisation's (no boxing: the query stays one
        // statement for both databases).
        let (lo, hi) = org.map_or((i64::MIN, i64::MAX), |(id, _)| (id, id));
        if self.amqp_on() {
            names.push(AMQP_ENDPOINT.into());
        }
        names.push(EMAIL_ENDPOINT.into());
        let rows = self
            .db
            .read(move |c| {
                let counts: Vec<(String, String, i64)> = nd::table
                    .filter(nd::organisation_id.between(lo, hi))
                    .group_by((nd::endpoint, nd::status))
                    .select((nd::endpoint, nd::status, diesel::dsl::count_star()))
                    .load(c)?;
                let errors: Vec<(String, Option<String>, i64)> = nd::table
                    .filter(nd::organisation_id.between(lo, hi))
                    .filter(nd::last_error.is_not_null())
                    .order(nd::id.desc())
                    .limit(1000)
                    .select((nd::endpoint, nd::last_error, nd::id))
                    .load(c)?;
                Ok((counts, errors))
            })
            .await?;
        let (counts, errors) = rows;
        let mut out = Vec::new();
        for name in names {
            let count = |st: &str| {
                counts
                    .iter()
                    .find(|(e, s, _)| e == &name && s == st)
                    .map_or(0, |c| c.2)
            };
            let last_error = errors
                .iter()
                .find(|(e, _, _)| e == &name)
                .and_then(|e| e.1.clone());
            let kind = match name.as_str() {
                AMQP_ENDPOINT => "amqp",
                EMAIL_ENDPOINT => "email",
                _ => "webhook",
            };
            if kind == "email" && count("pending") + count("delivered") + count("dead") == 0 {
                continue;
            }
            out.push(serde_json::json!({
                "name": name,
                "type": kind,
                "pending": count("pending"),
                "delivered": count("delivered"),
                "dead": count("dead"),
                "lastError": last_error,
            }));
        }
        Ok(out)
    }

    /// The latest dead deliveries (at most `limit`), of `org` or of every organisation:
    /// `[{id, endpoint, organisation, objectType, operation, objectId, attempts, createdAt,
    /// lastError}]`, newest first. The payload itself is not shown.
    pub async fn dead_deliveries(
        &self,
        org: Option<i64>,
        limit: i64,
    ) -> Result<Vec<Value>, ApiError> {
        use crate::db::schema::organisations as o;
        let rows: Vec<DeadRow> = self
            .db
            .read(move |c| {
                let (lo, hi) = org.map_or((i64::MIN, i64::MAX), |id| (id, id));
                Ok(nd::table
                    .inner_join(o::table.on(o::id.eq(nd::organisation_id)))
                    .filter(nd::status.eq("dead"))
                    .filter(nd::organisation_id.between(lo, hi))
                    .order(nd::id.desc())
                    .limit(limit)
                    .select((
                        nd::id,
                        nd::endpoint,
                        o::name,
                        nd::payload,
                        nd::attempts,
                        nd::created_at,
                        nd::last_error,
                    ))
                    .load(c)?)
            })
            .await?;
        Ok(rows
            .into_iter()
            .map(
                |(id, endpoint, organisation, payload, attempts, created, error)| {
                    let p: Value = serde_json::from_str(&payload).unwrap_or(Value::Null);
                    let field = |k: &str| p.get(k).cloned().unwrap_or(Value::Null);
                    serde_json::json!({
                        "id": id, "endpoint": endpoint, "organisation": organisation,
                        "objectType": field("objectType"), "operation": field("operation"),
                        "objectId": field("objectId"), "attempts": attempts,
                        "createdAt": created, "lastError": error,
                    })
                },
            )
            .collect())
    }

    /// Puts an endpoint's dead deliveries (of `org`, or of every organisation) back in its
    /// queue; answers how many.
    pub async fn retry_dead(&self, endpoint: String, org: Option<i64>) -> Result<usize, ApiError> {
        let now = now_ms();
        let n = self
            .db
            .write(move |c| {
                let set = (
                    nd::status.eq("pending"),
                    nd::attempts.eq(0),
                    nd::next_attempt_at.eq(now),
                    // A fresh time to live from now.
                    nd::created_at.eq(now),
                );
                let (lo, hi) = org.map_or((i64::MIN, i64::MAX), |id| (id, id));
                let dead = nd::table
                    .filter(nd::endpoint.eq(&endpoint))
                    .filter(nd::status.eq("dead"))
                    .filter(nd::organisation_id.between(lo, hi));
                Ok(diesel::update(dead).set(set).execute(c)?)
            })
            .await?;
        self.requeued
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        self.fresh.notify_waiters();
        self.delivered.notify_one();
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_failure_does_not_record_the_endpoint_url() {
        // Nothing listens on the discard port of loopback.
        let err = reqwest::Client::new()
            .post("http://127.0.0.1:9/services/T0/B0/secret-token")
            .send()
            .await
            .expect_err("nothing listens there");
        let text = failure_text(err);
        assert!(!text.contains("secret-token"), "{text}");
        assert!(text.contains("error sending request"), "{text}");
    }

    #[test]
    fn signatures_and_routing_keys() {
        assert_eq!(
            signature("key", b"The quick brown fox jumps over the lazy dog"),
            "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
        let ev =
            serde_json::json!({"organisation": "soc.eu", "objectType": "Case", "action": "create"});
        assert_eq!(routing_key(&ev), "soc_eu.Case.create");
    }
}
