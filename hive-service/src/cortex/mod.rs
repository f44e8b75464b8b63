//! TheHive's Cortex connector: analyzers run on observables and responders on cases, tasks,
//! logs, observables and alerts, on the Cortex servers of `cortex.*`, with their results
//! brought back into the case. [`connector`] holds the state and starts the background work;
//! [`outbox`] hands each job to its server once; the transports are REST (`rest`: run, then
//! wait for the report) and RabbitMQ (`amqp`: publish, consume the job events); `results`
//! records a job's end and [`apply`] writes its result into the case; [`servers`] checks the
//! servers and lists their workers; [`client`] speaks Cortex's REST API.

mod amqp;
pub mod apply;
pub mod client;
pub mod connector;
pub mod jobs;
pub mod outbox;
mod rest;
mod results;
pub mod servers;

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
