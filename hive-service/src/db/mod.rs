//! hive-service's database: the shared pool and migrations ([`pool`]), the schema, rows and
//! ids.

pub mod casework;
pub mod ids;
pub mod models;
mod pool;
pub mod raw;
pub mod schema;

pub use ids::{format_id, next_id, now_ms, parse_id};
pub use pool::*;
