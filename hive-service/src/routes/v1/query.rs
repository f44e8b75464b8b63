//! `POST /api/v1/query`: TheHive's Query API ([`crate::query::run`]).

use crate::auth::Caller;
use crate::db::Db;
use crate::query::run::{run, MAX_OPS};
use actix_web::{post, web, HttpResponse};
use serde::Deserialize;
use serde_json::Value;
use service_kit::error::ApiError;
use service_kit::extract::JsonBody;

/// Body of a query.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct QueryBody {
    /// Operations: a selection (`listUser`, `getProfile`...), then `filter`, `sort`, `page`,
    /// `count`.
    #[schema(value_type = Vec<Object>)]
    pub query: Vec<Value>,
    /// Fields to leave out of each result.
    #[serde(default, rename = "excludeFields")]
    pub exclude_fields: Vec<String>,
}

/// Runs a query.
#[utoipa::path(tag = "query", request_body = QueryBody, responses((status = 200, description = "a list of entities, or a number after `count`"), (status = 400)))]
#[post("/api/v1/query")]
pub async fn query(
    db: web::Data<Db>,
    caller: Caller,
    body: JsonBody<QueryBody>,
) -> Result<HttpResponse, ApiError> {
    let QueryBody {
        query: ops,
        exclude_fields,
    } = body.0;
    if ops.is_empty() {
        return Err(ApiError::Search("the query is empty".into()));
    }
    if ops.len() > MAX_OPS {
        return Err(ApiError::Search(format!("at most {MAX_OPS} operations")));
    }
    let (items, total, count) = db
        .read(move |c| run(c, &caller, &ops, &exclude_fields))
        .await?;
    if let Some(n) = count {
        return Ok(HttpResponse::Ok().json(n));
    }
    let mut resp = HttpResponse::Ok();
    if let Some(t) = total {
        resp.insert_header(("X-Total", t.to_string()));
    }
    Ok(resp.json(items))
}
