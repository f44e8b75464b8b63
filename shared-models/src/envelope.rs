//! The envelope of every message the services publish on RabbitMQ: events on `hive.events`
//! and `cortex.events`, and the submissions hive-service sends to Cortex's submissions
//! queue. Its `type` is a [`crate::cortex::MessageKind`] (or an event name of hive-service).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Version of the envelope layout; bumped on incompatible changes.
pub const SCHEMA_VERSION: u32 = 1;

/// A message on the broker: routing metadata around a typed payload.
///
/// Consumers are idempotent on `message_id`; `correlation_id` carries the HTTP request id
/// that caused the message, so one request can be followed across both services' logs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Envelope<T> {
    /// Unique id of this message (consumers de-duplicate on it).
    pub message_id: String,
    /// Message type, e.g. `organisation.created` or `job.Success`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Layout version, [`SCHEMA_VERSION`] when published by this build.
    pub schema_version: u32,
    /// The request id that caused this message, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// When the event happened, epoch milliseconds.
    pub occurred_at: i64,
    /// The event itself.
    pub payload: T,
}
