//! Wire types shared by `hive-service` and `cortex-service`.
//!
//! Only what crosses a process boundary lives here: the JSON error body both services answer
//! with, the filter language of TheHive's and Cortex's search APIs (a wire format in its own
//! right), paging and sorting parameters, and the envelope of every message published on the
//! broker. No database, HTTP-server or broker code: CI checks that `diesel`, `actix-web` and
//! `lapin` are not in this crate's dependency tree.

pub mod casework;
pub mod cortex;
pub mod envelope;
pub mod error;
pub mod hive;
pub mod input;
pub mod query;

pub use envelope::Envelope;
pub use error::ErrorBody;
