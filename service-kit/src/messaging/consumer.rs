//! The one consumer harness every queue consumer of both services runs in: it consumes on
//! the process's connection (a new channel each time the connection comes back), with a
//! prefetch, manual acknowledgement, and the handler's [`Outcome`] settled the same way
//! everywhere:
//!
//! - acknowledged on [`Outcome::Ack`];
//! - tried again on [`Outcome::Retry`] (a database or a server away): with
//!   [`RetryPolicy::Requeue`] the message goes back to its queue after a pause; with
//!   [`RetryPolicy::RetryQueue`] a copy waits in the retry queue (its TTL sends it back) with
//!   its delivery count in a header, and past `max_deliveries` it is dead-lettered;
//! - rejected on [`Outcome::Reject`] (a poison message): dead-lettered where the queue has
//!   a dead-letter queue, else dropped, and logged either way.
//!
//! A message whose handler had not settled it when the connection or the process died is
//! redelivered by RabbitMQ to the next consumer (at-least-once): handlers are idempotent.

use super::{Broker, Live};
use futures_util::StreamExt;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions, BasicRejectOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::BasicProperties;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};

/// Header counting the deliveries of a message through the retry queue.
pub const DELIVERIES_HEADER: &str = "x-deliveries";
/// The same header as cortex-service wrote it before.
const LEGACY_DELIVERIES_HEADER: &str = "x-cortex-deliveries";

/// What to do with a message its handler could not take now.
#[derive(Debug, Clone)]
pub enum RetryPolicy {
    /// Back to its queue after `delay` (the queue has no retry queue).
    Requeue {
        /// Pause before the message is requeued.
        delay: Duration,
    },
    /// Through `queue` (a TTL queue dead-lettering back), at most `max_deliveries` times,
    /// then dead-lettered.
    RetryQueue {
        /// The retry queue.
        queue: String,
        /// Deliveries before the message is dead-lettered.
        max_deliveries: i64,
    },
}

/// A queue to consume.
#[derive(Debug, Clone)]
pub struct ConsumerSpec {
    /// The queue (declared in the broker's [`super::Topology`]).
    pub queue: String,
    /// Consumer tag prefix (a random suffix is added).
    pub tag: String,
    /// Messages handed over before acknowledgement.
    pub prefetch: u16,
    /// What [`Outcome::Retry`] does.
    pub retry: RetryPolicy,
}

/// A handler's verdict on one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Handled.
    Ack,
    /// Not now: try again later (see [`RetryPolicy`]).
    Retry(String),
    /// Never: dead-letter it.
    Reject(String),
}

/// One message handed to a handler.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The body.
    pub data: Vec<u8>,
    /// Deliveries through the retry queue before this one.
    pub attempts: i64,
    /// Whether RabbitMQ delivered it before (to a consumer that did not acknowledge it).
    pub redelivered: bool,
    /// Its `correlation_id`, if any.
    pub correlation_id: Option<String>,
}

/// Consumes `spec.queue` on `broker`'s connection for ever (resuming on every new
/// connection), running `handler` on each message in its own task. The returned [`Notify`]
/// is notified each time consuming (re)starts. Without a broker nothing runs.
pub fn spawn_consumer<H, F>(broker: &Broker, spec: ConsumerSpec, handler: H) -> Arc<Notify>
where
    H: Fn(Delivery) -> F + Send + Sync + 'static,
    F: Future<Output = Outcome> + Send + 'static,
{
    let ready = Arc::new(Notify::new());
    if let Some(connections) = broker.connections() {
        tokio::spawn(run(
            broker.clone(),
            connections,
            spec,
            Arc::new(handler),
            ready.clone(),
        ));
    }
    ready
}

async fn run<H, F>(
    broker: Broker,
    mut connections: watch::Receiver<Option<Live>>,
    spec: ConsumerSpec,
    handler: Arc<H>,
    ready: Arc<Notify>,
) where
    H: Fn(Delivery) -> F + Send + Sync + 'static,
    F: Future<Output = Outcome> + Send + 'static,
{
    let mut pause = Duration::from_millis(500);
    loop {
        let live = connections.borrow_and_update().clone();
        let Some(live) = live else {
            if connections.changed().await.is_err() {
                return; // The broker is gone (shutdown).
            }
            continue;
        };
        match consume(&broker, &live, &spec, &handler, &ready).await {
            Ok(()) => pause = Duration::from_millis(500),
            Err(e) => tracing::warn!(queue = %spec.queue, error = %e, "consumer stopped"),
        }
        // The same connection still up (a channel error): pause, then again; else wait for
        // the supervisor's next connection.
        if live.connection.status().connected() {
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(30));
        } else {
            let _ = tokio::time::timeout(Duration::from_secs(30), connections.changed()).await;
        }
    }
}

async fn consume<H, F>(
    broker: &Broker,
    live: &Live,
    spec: &ConsumerSpec,
    handler: &Arc<H>,
    ready: &Notify,
) -> Result<(), String>
where
    H: Fn(Delivery) -> F + Send + Sync + 'static,
    F: Future<Output = Outcome> + Send + 'static,
{
    let ch = live
        .connection
        .create_channel()
        .await
        .map_err(|e| e.to_string())?;
    ch.basic_qos(spec.prefetch.max(1), BasicQosOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    let tag = format!("{}-{}", spec.tag, crate::auth::secrets::random_token(6));
    let mut stream = ch
        .basic_consume(
            spec.queue.as_str().into(),
            tag.as_str().into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(queue = %spec.queue, "consuming");
    ready.notify_waiters();
    ready.notify_one();
    while let Some(delivery) = stream.next().await {
        let delivery = delivery.map_err(|e| e.to_string())?;
        let (broker, spec, handler) = (broker.clone(), spec.clone(), handler.clone());
        tokio::spawn(async move {
            let message = Delivery {
                attempts: attempts_of(&delivery.properties),
                redelivered: delivery.redelivered,
                correlation_id: delivery
                    .properties
                    .correlation_id()
                    .as_ref()
                    .map(|c| c.to_string()),
                data: delivery.data.clone(),
            };
            let attempts = message.attempts;
            let outcome = handler(message).await;
            if let Err(e) = settle(&broker, &spec, &delivery, attempts, outcome).await {
                tracing::warn!(queue = %spec.queue, error = %e, "message not settled; it will come again");
            }
        });
    }
    Err("the broker ended the consumer".into())
}

fn attempts_of(props: &BasicProperties) -> i64 {
    let Some(headers) = props.headers().as_ref() else {
        return 0;
    };
    let h = headers.inner();
    h.get(DELIVERIES_HEADER)
        .or_else(|| h.get(LEGACY_DELIVERIES_HEADER))
        .and_then(|v| match v {
            AMQPValue::LongLongInt(n) => Some(*n),
            AMQPValue::LongInt(n) => Some(i64::from(*n)),
            AMQPValue::ShortInt(n) => Some(i64::from(*n)),
            _ => None,
        })
        .unwrap_or(0)
}

async fn settle(
    broker: &Broker,
    spec: &ConsumerSpec,
    delivery: &lapin::message::Delivery,
    attempts: i64,
    outcome: Outcome,
) -> Result<(), String> {
    let reject = |requeue: bool| delivery.acker.reject(BasicRejectOptions { requeue });
    match outcome {
        Outcome::Ack => delivery
            .acker
            .ack(BasicAckOptions::default())
            .await
            .map(|_| ())
            .map_err(|e| e.to_string()),
        Outcome::Reject(why) => {
            tracing::error!(queue = %spec.queue, reason = %why, "message rejected (dead-lettered)");
            reject(false).await.map(|_| ()).map_err(|e| e.to_string())
        }
        Outcome::Retry(why) => match &spec.retry {
            RetryPolicy::Requeue { delay } => {
                tracing::warn!(queue = %spec.queue, reason = %why, retry_in_ms = delay.as_millis() as u64, "message retried");
                tokio::time::sleep(*delay).await;
                reject(true).await.map(|_| ()).map_err(|e| e.to_string())
            }
            RetryPolicy::RetryQueue {
                queue,
                max_deliveries,
            } if attempts + 1 < *max_deliveries => {
                tracing::warn!(queue = %spec.queue, reason = %why, attempt = attempts + 1, "message retried through {queue}");
                let mut headers = FieldTable::default();
                headers.insert(
                    DELIVERIES_HEADER.into(),
                    AMQPValue::LongLongInt(attempts + 1),
                );
                let mut props = BasicProperties::default().with_headers(headers);
                if let Some(c) = delivery.properties.correlation_id() {
                    props = props.with_correlation_id(c.clone());
                }
                match broker.publish_raw("", queue, &delivery.data, props).await {
                    Ok(()) => delivery
                        .acker
                        .ack(BasicAckOptions::default())
                        .await
                        .map(|_| ())
                        .map_err(|e| e.to_string()),
                    Err(e) => {
                        reject(true).await.map_err(|e| e.to_string())?;
                        Err(format!("retry queue unavailable ({e}); requeued"))
                    }
                }
            }
            RetryPolicy::RetryQueue { max_deliveries, .. } => {
                tracing::error!(queue = %spec.queue, reason = %why, "message dead-lettered after {max_deliveries} tries");
                reject(false).await.map(|_| ()).map_err(|e| e.to_string())
            }
        },
    }
}
