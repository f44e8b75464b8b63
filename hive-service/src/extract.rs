//! Request-body extraction with TheHive's error answers: a body over the configured limit is
//! a 413, malformed JSON a 400 `BadRequest`, a wrong or missing field a 400
//! `AttributeCheckingError` naming the field.

use crate::error::{from_actix, ApiError};
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

/// A JSON request body of type `T`.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let bytes = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            let bytes = bytes.await.map_err(from_actix)?;
            parse_json(&bytes).map(JsonBody)
        })
    }
}

/// Parses JSON, naming the offending field on failure. An empty body reads as `{}`.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::BadRequest(format!("Invalid JSON: {inner}"));
        }
        let text = inner.to_string();
        if let Some(field) = text
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next())
        {
            let name = if path == "." {
                field.to_string()
            } else {
                format!("{path}.{field}")
            };
            return ApiError::missing(&name);
        }
        // serde's message ends with " at line L column C"; the path says it better.
        let text = text.split(" at line ").next().unwrap_or(&text).to_string();
        ApiError::attribute(if path == "." { "body" } else { &path }, text)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Input {
        login: String,
        tlp: u8,
    }

    #[test]
    fn errors_name_the_field() {
        let e = parse_json::<Input>(br#"{"login": "a", "tlp": "x"}"#).expect_err("bad type");
        assert!(
            matches!(&e, ApiError::Attribute { errors, .. } if errors[0].name == "tlp"),
            "{e:?}"
        );
        let e = parse_json::<Input>(br#"{"tlp": 1}"#).expect_err("missing");
        assert!(
            matches!(&e, ApiError::Attribute { errors, .. } if errors[0].name == "login"),
            "{e:?}"
        );
        let e = parse_json::<Input>(b"{nope").expect_err("syntax");
        assert!(matches!(e, ApiError::BadRequest(_)));
    }
}
