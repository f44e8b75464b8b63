//! TheHive's Cortex connector: analyzers run on observables and responders on cases, tasks,
//! logs, observables and alerts, on the Cortex servers of `cortex.*`, with their results
//! brought back into the case. [`connector`] moves jobs (RabbitMQ or REST), [`apply`] writes
//! their results, [`client`] speaks Cortex's REST API.

pub mod apply;
pub mod client;
pub mod connector;
pub mod render;

pub use connector::Connector;
