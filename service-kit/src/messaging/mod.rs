//! RabbitMQ (optional), for both services: one connection per process, kept up by a
//! supervisor, shared by every publisher and consumer of the process.
//!
//! When `amqp.url` is set the service connects at start (a broker that cannot be reached
//! stops start-up with a clear message) and declares its part of the [`topology`]. When the
//! connection drops (broker restart, network), the supervisor reconnects with backoff
//! (0.5 s doubling to 30 s), declares the topology again and hands the new connection to the
//! consumers ([`consumer`]), which resume by themselves; publishing fails fast meanwhile
//! (callers keep what they could not publish and try again). Messages are persistent and
//! confirmed. Without a broker every publish is a no-op and the same flows run in process.

pub mod consumer;
pub mod topology;

pub use consumer::{spawn_consumer, ConsumerSpec, Delivery, Outcome, RetryPolicy};
pub use topology::{Topology, WorkQueue};

use crate::error::ApiError;
use futures_util::StreamExt;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use serde::Serialize;
use shared_models::envelope::{Envelope, SCHEMA_VERSION};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// Longest wait for the broker to take and confirm one message.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(10);
/// First and longest pause between two reconnection attempts.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(500), Duration::from_secs(30));

/// The process's broker connection, or none.
#[derive(Clone, Default)]
pub struct Broker {
    inner: Option<Arc<Inner>>,
}

struct Inner {
    url: String,
    name: String,
    /// The service's own event exchange.
    exchange: String,
    /// The live connection and its generation (bumped at each reconnection); `None` while
    /// disconnected.
    live: watch::Sender<Option<Live>>,
    /// The publishing channel (confirms on) of a generation.
    publisher: tokio::sync::Mutex<Option<(u64, Channel)>>,
    /// What this process declares, again on every reconnection.
    topology: Mutex<Topology>,
    closing: std::sync::atomic::AtomicBool,
}

/// A connection of the supervisor.
#[derive(Clone)]
pub struct Live {
    /// Counts reconnections.
    pub generation: u64,
    /// The connection.
    pub connection: Arc<Connection>,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.state())
    }
}

impl Broker {
    /// No broker: publishing does nothing.
    pub fn none() -> Broker {
        Broker { inner: None }
    }

    /// Connects within `timeout`, declares `exchange` (the service's events) and starts the
    /// supervisor. `name` names the connection in RabbitMQ's management view.
    pub async fn connect(
        url: &str,
        timeout: Duration,
        name: &str,
        exchange: &str,
    ) -> Result<Broker, String> {
        // Probe the socket first: a refused connection is said at once, clearly.
        let uri: lapin::uri::AMQPUri = url
            .parse()
            .map_err(|e| format!("amqp.url is not a valid AMQP URL: {e}"))?;
        let (host, port) = (uri.authority.host.clone(), uri.authority.port);
        tokio::time::timeout(
            timeout,
            tokio::net::TcpStream::connect((host.as_str(), port)),
        )
        .await
        .map_err(|_| {
            format!(
                "RabbitMQ at {host}:{port} did not answer within {}s",
                timeout.as_secs()
            )
        })?
        .map_err(|e| format!("cannot connect to RabbitMQ at {host}:{port}: {e}"))?;
        let topology = Topology::default().events_exchange(exchange);
        let connection = open(url, name, timeout, &topology).await?;
        let (live, _) = watch::channel(Some(Live {
            generation: 1,
            connection: Arc::new(connection),
        }));
        let inner = Arc::new(Inner {
            url: url.to_string(),
            name: name.to_string(),
            exchange: exchange.to_string(),
            live,
            publisher: tokio::sync::Mutex::new(None),
            topology: Mutex::new(topology),
            closing: std::sync::atomic::AtomicBool::new(false),
        });
        tokio::spawn(supervise(inner.clone()));
        Ok(Broker { inner: Some(inner) })
    }

    /// Whether a broker is configured.
    pub fn enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// `none`, `connected` or `disconnected`.
    pub fn state(&self) -> &'static str {
        match &self.inner {
            None => "none",
            Some(i) => match &*i.live.borrow() {
                Some(l) if l.connection.status().connected() => "connected",
                _ => "disconnected",
            },
        }
    }

    /// Adds to what this process declares, and declares it now when connected.
    pub async fn declare(&self, more: &Topology) -> Result<(), String> {
        let Some(inner) = &self.inner else {
            return Ok(());
        };
        {
            let mut t = inner.topology.lock().unwrap_or_else(|p| p.into_inner());
            *t = t.clone().merge(more);
        }
        let live = inner.live.borrow().clone();
        match live {
            Some(l) => {
                let ch = l
                    .connection
                    .create_channel()
                    .await
                    .map_err(|e| e.to_string())?;
                let declared = more.declare(&ch).await;
                let _ = ch.close(200, "declared".into()).await;
                declared
            }
            // Declared by the supervisor once connected.
            None => Ok(()),
        }
    }

    /// The connection of the moment and its later ones (for consumers).
    pub fn connections(&self) -> Option<watch::Receiver<Option<Live>>> {
        self.inner.as_ref().map(|i| i.live.subscribe())
    }

    /// Publishes an event of this service on its exchange, in the shared [`Envelope`];
    /// returns once the broker has confirmed it.
    pub async fn publish<T: Serialize>(
        &self,
        routing_key: &str,
        payload: &T,
        correlation_id: Option<String>,
    ) -> Result<(), ApiError> {
        let Some(inner) = &self.inner else {
            return Ok(());
        };
        let exchange = inner.exchange.clone();
        self.publish_envelope(&exchange, routing_key, routing_key, payload, correlation_id)
            .await
            .map_err(|e| ApiError::Unavailable(format!("broker: {e}")))
    }

    /// Publishes `payload` in an [`Envelope`] of type `kind` to `exchange` (`""`: the queue
    /// named `routing_key`); returns once confirmed.
    pub async fn publish_envelope<T: Serialize>(
        &self,
        exchange: &str,
        routing_key: &str,
        kind: &str,
        payload: &T,
        correlation_id: Option<String>,
    ) -> Result<(), String> {
        let envelope = Envelope {
            message_id: crate::auth::secrets::random_token(16),
            kind: kind.to_string(),
            schema_version: SCHEMA_VERSION,
            correlation_id,
            occurred_at: crate::db::now_ms(),
            payload,
        };
        let body = serde_json::to_vec(&envelope).map_err(|e| e.to_string())?;
        let mut props = BasicProperties::default()
            .with_message_id(envelope.message_id.clone().into())
            .with_type(kind.into());
        if let Some(c) = &envelope.correlation_id {
            props = props.with_correlation_id(c.as_str().into());
        }
        self.publish_raw(exchange, routing_key, &body, props).await
    }

    /// Publishes `body` (JSON, persistent) to `exchange` with `routing_key`; returns once
    /// the broker has confirmed it.
    pub async fn publish_raw(
        &self,
        exchange: &str,
        routing_key: &str,
        body: &[u8],
        props: BasicProperties,
    ) -> Result<(), String> {
        let Some(inner) = &self.inner else {
            return Ok(());
        };
        let channel = inner.publisher().await?;
        let props = props
            .with_delivery_mode(2)
            .with_content_type("application/json".into());
        let sent = tokio::time::timeout(PUBLISH_TIMEOUT, async {
            channel
                .basic_publish(
                    exchange.into(),
                    routing_key.into(),
                    BasicPublishOptions::default(),
                    body,
                    props,
                )
                .await?
                .await
        })
        .await;
        match sent {
            Ok(Ok(c)) if c.is_nack() => Err("the broker refused the message".into()),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => {
                inner.drop_publisher().await;
                Err(e.to_string())
            }
            Err(_) => {
                inner.drop_publisher().await;
                Err("the broker did not confirm the message in time".into())
            }
        }
    }

    /// Closes the connection (at shutdown); the supervisor stops.
    pub async fn close(&self) {
        if let Some(i) = &self.inner {
            i.closing.store(true, std::sync::atomic::Ordering::SeqCst);
            let live = i.live.borrow().clone();
            if let Some(l) = live {
                let _ = l.connection.close(200, "shutdown".into()).await;
            }
        }
    }
}

impl Inner {
    /// The publishing channel of the current connection, opened on first use.
    async fn publisher(&self) -> Result<Channel, String> {
        let live = self
            .live
            .borrow()
            .clone()
            .ok_or("the broker is not connected")?;
        let mut slot = self.publisher.lock().await;
        if let Some((generation, ch)) = &*slot {
            if *generation == live.generation && ch.status().connected() {
                return Ok(ch.clone());
            }
        }
        let ch = live
            .connection
            .create_channel()
            .await
            .map_err(|e| e.to_string())?;
        ch.confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(|e| e.to_string())?;
        *slot = Some((live.generation, ch.clone()));
        Ok(ch)
    }

    async fn drop_publisher(&self) {
        *self.publisher.lock().await = None;
    }
}

/// Opens a connection and declares `topology` on it.
async fn open(
    url: &str,
    name: &str,
    timeout: Duration,
    topology: &Topology,
) -> Result<Connection, String> {
    let props = ConnectionProperties::default().with_connection_name(name.into());
    let connection = tokio::time::timeout(timeout, Connection::connect(url, props))
        .await
        .map_err(|_| format!("RabbitMQ did not answer within {}s", timeout.as_secs()))?
        .map_err(|e| format!("cannot connect to RabbitMQ: {e}"))?;
    let ch = connection
        .create_channel()
        .await
        .map_err(|e| format!("cannot open a RabbitMQ channel: {e}"))?;
    topology.declare(&ch).await?;
    let _ = ch.close(200, "declared".into()).await;
    Ok(connection)
}

/// Watches the connection; when it is lost, reconnects with backoff and hands the new one
/// over.
async fn supervise(inner: Arc<Inner>) {
    let mut generation = 1;
    loop {
        let live = inner.live.borrow().clone();
        if let Some(l) = live {
            let mut events = l.connection.events_listener();
            loop {
                if inner.closing.load(std::sync::atomic::Ordering::SeqCst) {
                    return;
                }
                if !l.connection.status().connected() {
                    break;
                }
                tokio::select! {
                    e = events.next() => match e {
                        Some(lapin::Event::Error(err)) => {
                            tracing::warn!(error = %err, "broker connection error");
                        }
                        Some(_) => {}
                        None => break,
                    },
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
            if inner.closing.load(std::sync::atomic::Ordering::SeqCst) {
                return;
            }
            tracing::warn!("broker connection lost; reconnecting");
            let _ = inner.live.send(None);
            *inner.publisher.lock().await = None;
        }
        let mut backoff = BACKOFF.0;
        loop {
            if inner.closing.load(std::sync::atomic::Ordering::SeqCst) {
                return;
            }
            let topology = inner
                .topology
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            match open(&inner.url, &inner.name, Duration::from_secs(10), &topology).await {
                Ok(connection) => {
                    generation += 1;
                    tracing::info!(generation, "broker connection back");
                    let _ = inner.live.send(Some(Live {
                        generation,
                        connection: Arc::new(connection),
                    }));
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "broker unreachable");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(BACKOFF.1);
                }
            }
        }
    }
}
