//! The failures of both services, in the API's own words: each variant is one of TheHive's
//! and Cortex's error types (`NotFoundError`, `AttributeCheckingError`...), with the status
//! those give it and the body `{"type": "...", "message": "..."}` a client reads, whatever
//! carries it: an HTTP answer (`crate::http` renders it for actix) or a rejection on the
//! broker. Nothing here knows the web framework, so use cases, the job engine and queue
//! consumers return it without depending on HTTP.
//!
//! Client mistakes are 4xx (thehive4py retries 5xx, even POSTs); internal errors keep their
//! cause for the log and show a generic message.

pub use shared_models::error::AttributeError;
use shared_models::error::ErrorBody;

/// Everything a use case or a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 401 `AuthenticationError`: no, bad or expired credentials, locked account.
    #[error("{0}")]
    Authentication(String),
    /// 402 `MultiFactorCodeRequired`: the password was right, the second factor is missing.
    #[error("{0}")]
    MultiFactorRequired(String),
    /// 403 `AuthorizationError`: authenticated but not allowed.
    #[error("{0}")]
    Authorization(String),
    /// 404 `NotFoundError`.
    #[error("{0}")]
    NotFound(String),
    /// 400 `BadRequest`.
    #[error("{0}")]
    BadRequest(String),
    /// 400 `CreateError`: e.g. a duplicate.
    #[error("{0}")]
    Create(String),
    /// 400 `AttributeCheckingError`, naming the attribute.
    #[error("{message}")]
    Attribute {
        /// Summary.
        message: String,
        /// One entry per bad attribute.
        errors: Vec<AttributeError>,
    },
    /// 400 `SearchError`: a query the engine cannot run.
    #[error("{0}")]
    Search(String),
    /// 413 `PayloadTooLarge`.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 429 `TooManyRequests`.
    #[error("{0}")]
    TooManyRequests(String),
    /// 429 `RateLimitExceeded`: a worker's rate limit (Cortex).
    #[error("{0}")]
    RateLimit(String),
    /// 503 `ServiceUnavailable`: the database or broker is out of reach.
    #[error("{0}")]
    Unavailable(String),
    /// 500 `InternalError`: a bug or an unexpected failure; details go to the log only.
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// An internal error with its cause (logged, not shown).
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        ApiError::Internal(cause.to_string())
    }

    /// A 400 `AttributeCheckingError` for one attribute.
    pub fn attribute(name: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        ApiError::Attribute {
            message: format!("{name}: {message}"),
            errors: vec![AttributeError {
                name: name.to_string(),
                kind: "InvalidFormatAttributeError".into(),
                message,
            }],
        }
    }

    /// A 400 `AttributeCheckingError` for a missing attribute.
    pub fn missing(name: &str) -> Self {
        ApiError::Attribute {
            message: format!("{name}: attribute is missing"),
            errors: vec![AttributeError {
                name: name.to_string(),
                kind: "MissingAttributeError".into(),
                message: format!("Attribute {name} is missing"),
            }],
        }
    }

    /// TheHive's / Cortex's name of this error (`type` of the body).
    pub fn kind(&self) -> &'static str {
        match self {
            ApiError::Authentication(_) => "AuthenticationError",
            ApiError::MultiFactorRequired(_) => "MultiFactorCodeRequired",
            ApiError::Authorization(_) => "AuthorizationError",
            ApiError::NotFound(_) => "NotFoundError",
            ApiError::BadRequest(_) => "BadRequest",
            ApiError::Create(_) => "CreateError",
            ApiError::Attribute { .. } => "AttributeCheckingError",
            ApiError::Search(_) => "SearchError",
            ApiError::PayloadTooLarge(_) => "PayloadTooLarge",
            ApiError::TooManyRequests(_) => "TooManyRequests",
            ApiError::RateLimit(_) => "RateLimitExceeded",
            ApiError::Unavailable(_) => "ServiceUnavailable",
            ApiError::Internal(_) => "InternalError",
        }
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        ApiError::internal(format!("database error: {e}"))
    }
}

impl ApiError {
    /// The HTTP status TheHive gives this error type (also carried by broker rejections).
    pub fn status(&self) -> u16 {
        match self {
            ApiError::Authentication(_) => 401,
            ApiError::MultiFactorRequired(_) => 402,
            ApiError::Authorization(_) => 403,
            ApiError::NotFound(_) => 404,
            ApiError::BadRequest(_)
            | ApiError::Create(_)
            | ApiError::Attribute { .. }
            | ApiError::Search(_) => 400,
            ApiError::PayloadTooLarge(_) => 413,
            ApiError::TooManyRequests(_) | ApiError::RateLimit(_) => 429,
            ApiError::Unavailable(_) => 503,
            ApiError::Internal(_) => 500,
        }
    }

    /// What the client is shown: an internal error's cause stays out of it (see
    /// [`ApiError::log`]).
    pub fn body(&self) -> ErrorBody {
        let message = match self {
            ApiError::Internal(_) => "An internal error occurred; see the service log".to_string(),
            other => other.to_string(),
        };
        let mut body = ErrorBody::new(self.kind(), message);
        if let ApiError::Attribute { errors, .. } = self {
            body.errors = errors.clone();
        }
        body
    }

    /// Logs what the client is not shown: an internal error's cause, a dependency out of
    /// reach.
    pub fn log(&self) {
        match self {
            ApiError::Internal(cause) => tracing::error!(error = %cause, "internal error"),
            ApiError::Unavailable(cause) => {
                tracing::warn!(error = %cause, "dependency unavailable")
            }
            _ => {}
        }
    }
}
