//! The error body of TheHive and Cortex: `{"type": "...", "message": "..."}`.
//!
//! thehive4py formats errors as `"<type> - <message>"`, cortex4py only looks at the status,
//! so `type` and `message` are always present; `errors` carries per-attribute details for
//! `AttributeCheckingError`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The JSON body of every error answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// TheHive/Cortex error type, e.g. `NotFoundError`, `AuthenticationError`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Human-readable explanation.
    pub message: String,
    /// Per-attribute problems (for `AttributeCheckingError`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<AttributeError>,
}

/// One problem with one attribute of a request body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AttributeError {
    /// The attribute, e.g. `tlp` or `organisation`.
    pub name: String,
    /// `MissingAttributeError`, `InvalidFormatAttributeError`, `UnknownAttributeError`...
    #[serde(rename = "type")]
    pub kind: String,
    /// What is wrong with it.
    pub message: String,
}

impl ErrorBody {
    /// An error body without attribute details.
    pub fn new(kind: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            message: message.into(),
            errors: Vec::new(),
        }
    }
}
