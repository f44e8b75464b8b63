//! TheHive 5's API (`/api/v1`, thehive4py 2.x): one file per resource group. Handlers
//! only: what both APIs do lives in [`crate::casework`], [`crate::query`] and
//! [`crate::render`].

pub mod alerts;
pub mod case_templates;
pub mod cases;
pub mod collab;
pub mod connectors;
pub mod custom_fields;
pub mod exchange;
pub mod observable_types;
pub mod observables;
pub mod organisations;
pub mod profiles;
pub mod query;
pub mod shares;
pub mod tasks;
pub mod totp;
pub mod users;
