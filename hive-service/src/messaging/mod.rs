//! RabbitMQ (optional), shared by both services (cortex-service compiles this file too).
//! When `amqp.url` is set the service connects at start (a broker that cannot be reached
//! stops start-up with a clear message), declares its durable topic exchange
//! (`hive.events`, `cortex.events`) and publishes persistent, confirmed messages in the shared
//! [`Envelope`]. The connection recovers by itself after a broker restart. Without a broker
//! every publish is a no-op and the same flows run in process.

use crate::error::ApiError;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};
use serde::Serialize;
use shared_models::envelope::{Envelope, SCHEMA_VERSION};
use std::sync::Arc;
use std::time::Duration;

/// The broker connection, or none.
#[derive(Clone, Default)]
pub struct Broker {
    inner: Option<Arc<Inner>>,
}

struct Inner {
    connection: Connection,
    channel: Channel,
    exchange: String,
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

    /// Connects within `timeout` and declares the topology.
    pub async fn connect(url: &str, timeout: Duration, exchange: &str) -> Result<Broker, String> {
        // Probe the socket first: the client retries a refused connection for a long time
        // (it is built to ride out broker restarts), but at start-up an operator wants to know.
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
        let props = ConnectionProperties::default()
            .with_connection_name(env!("CARGO_PKG_NAME").into())
            .enable_auto_recover();
        let connection = tokio::time::timeout(timeout, Connection::connect(url, props))
            .await
            .map_err(|_| format!("RabbitMQ did not answer within {}s", timeout.as_secs()))?
            .map_err(|e| format!("cannot connect to RabbitMQ: {e}"))?;
        let channel = connection
            .create_channel()
            .await
            .map_err(|e| format!("cannot open a RabbitMQ channel: {e}"))?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(|e| format!("cannot enable publisher confirms: {e}"))?;
        channel
            .exchange_declare(
                exchange.into(),
                ExchangeKind::Topic,
                ExchangeDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .map_err(|e| format!("cannot declare exchange {exchange}: {e}"))?;
        Ok(Broker {
            inner: Some(Arc::new(Inner {
                connection,
                channel,
                exchange: exchange.to_string(),
            })),
        })
    }

    /// `none`, `connected` or `disconnected`.
    pub fn state(&self) -> &'static str {
        match &self.inner {
            None => "none",
            Some(i) if i.connection.status().connected() => "connected",
            Some(_) => "disconnected",
        }
    }

    /// Publishes an event; returns once the broker has confirmed it.
    pub async fn publish<T: Serialize>(
        &self,
        routing_key: &str,
        payload: &T,
        correlation_id: Option<String>,
    ) -> Result<(), ApiError> {
        let Some(inner) = &self.inner else {
            return Ok(());
        };
        let envelope = Envelope {
            message_id: crate::auth::secrets::random_token(16),
            kind: routing_key.to_string(),
            schema_version: SCHEMA_VERSION,
            correlation_id,
            occurred_at: crate::db::now_ms(),
            payload,
        };
        let body = serde_json::to_vec(&envelope).map_err(ApiError::internal)?;
        let props = BasicProperties::default()
            .with_delivery_mode(2)
            .with_content_type("application/json".into())
            .with_message_id(envelope.message_id.clone().into())
            .with_type(routing_key.into());
        let confirm = inner
            .channel
            .basic_publish(
                inner.exchange.as_str().into(),
                routing_key.into(),
                BasicPublishOptions::default(),
                &body,
                props,
            )
            .await
            .map_err(|e| ApiError::Unavailable(format!("broker: {e}")))?;
        let confirmation = confirm
            .await
            .map_err(|e| ApiError::Unavailable(format!("broker: {e}")))?;
        if confirmation.is_nack() {
            return Err(ApiError::Unavailable("broker refused the message".into()));
        }
        Ok(())
    }

    /// Closes the connection (at shutdown).
    pub async fn close(&self) {
        if let Some(i) = &self.inner {
            let _ = i.connection.close(200, "shutdown".into()).await;
        }
    }
}
