//! TheHive's Cortex connector: analyzers run on observables and responders on cases, tasks,
//! logs, observables and alerts, on the Cortex servers of `cortex.*`, with their results
//! brought back into the case. [`connector`] moves jobs (RabbitMQ or REST), [`apply`] writes
//! their results, [`client`] speaks Cortex's REST API.

pub mod apply;
pub mod client;
pub mod connector;
pub mod render;

pub use connector::Connector;

/// Where a Cortex job stands in this service's outbox (`cortex_jobs.dispatch`): accepted,
/// handed to its server, or its result applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dispatch {
    /// Recorded; not yet handed to its Cortex server.
    Pending,
    /// Handed over (REST or RabbitMQ); its end is awaited.
    Sent,
    /// Ended and applied.
    Done,
}

impl Dispatch {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Dispatch::Pending => "pending",
            Dispatch::Sent => "sent",
            Dispatch::Done => "done",
        }
    }
}
