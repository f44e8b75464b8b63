//! One error type for every handler, answered with TheHive's body
//! `{"type": "...", "message": "..."}` and the status TheHive gives that type.
//! Client mistakes are 4xx (thehive4py retries 5xx, even POSTs); internal errors log their
//! cause and answer a generic 500.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
pub use shared_models::error::AttributeError;
use shared_models::error::ErrorBody;

/// Everything a handler can fail with.
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

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Authentication(_) => StatusCode::UNAUTHORIZED,
            ApiError::MultiFactorRequired(_) => StatusCode::PAYMENT_REQUIRED,
            ApiError::Authorization(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_)
            | ApiError::Create(_)
            | ApiError::Attribute { .. }
            | ApiError::Search(_) => StatusCode::BAD_REQUEST,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::TooManyRequests(_) | ApiError::RateLimit(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let message = match self {
            ApiError::Internal(cause) => {
                tracing::error!(error = %cause, "internal error");
                "An internal error occurred; see the service log".to_string()
            }
            ApiError::Unavailable(cause) => {
                tracing::warn!(error = %cause, "dependency unavailable");
                cause.clone()
            }
            other => other.to_string(),
        };
        let mut body = ErrorBody::new(self.kind(), message);
        if let ApiError::Attribute { errors, .. } = self {
            body.errors = errors.clone();
        }
        HttpResponse::build(self.status_code()).json(body)
    }
}

/// Maps actix's own extractor errors (path, query, payload) to TheHive's body.
pub fn from_actix(err: actix_web::Error) -> ApiError {
    let status = err.as_response_error().status_code();
    let text = err.to_string();
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(format!(
            "request body too large ({text}); see http.max_json_bytes"
        )),
        s if s.is_client_error() => ApiError::BadRequest(text),
        _ => ApiError::internal(text),
    }
}
