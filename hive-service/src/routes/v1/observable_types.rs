//! Observable types (`ip`, `domain`, `file`...): platform administrators add and remove them.

use crate::audit::{Action, ObjectType};
use crate::auth::{Caller, ADMIN_ORG};
use crate::db::models::find_observable_type;
use crate::db::models::ObservableTypeRow;
use crate::db::schema::observable_types;
use crate::db::{duplicate_as, next_id, now_ms, Db};
use crate::render::render_observable_type;
use crate::routes::audit_admin;
use crate::routes::{check_name, not_found};
use actix_web::{delete, get, post, web, HttpResponse};
use diesel::prelude::*;
use serde_json::json;
use service_kit::error::ApiError;
use service_kit::extract::JsonBody;
use shared_models::hive::{InputObservableType, OutputObservableType};

fn require_admin(caller: &Caller) -> Result<(), ApiError> {
    if caller.is_platform_admin("manageObservableTemplate") {
        Ok(())
    } else {
        Err(ApiError::Authorization(format!(
            "User {} cannot manage observable types (needs manageObservableTemplate in {ADMIN_ORG})",
            caller.login()
        )))
    }
}

/// Creates an observable type.
#[utoipa::path(tag = "observable type", request_body = InputObservableType, responses((status = 201, body = OutputObservableType), (status = 400), (status = 403)))]
#[post("/api/v1/observable/type")]
pub async fn create(
    db: web::Data<Db>,
    caller: Caller,
    body: JsonBody<InputObservableType>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&caller)?;
    let row = ObservableTypeRow {
        id: next_id(),
        name: check_name("name", &body.0.name, 64)?,
        is_attachment: body.0.is_attachment,
        created_by: caller.login().into(),
        created_at: now_ms(),
    };
    let saved = row.clone();
    let audit_caller = caller.clone();
    db.write(move |c| {
        audit_admin(
            &audit_caller,
            Action::Create,
            ObjectType::ObservableType,
            row.id,
            json!({"name": row.name, "isAttachment": row.is_attachment}),
        );
        diesel::insert_into(observable_types::table)
            .values(&row)
            .execute(c)
            .map_err(|e| {
                duplicate_as(e, || {
                    ApiError::Create(format!("Observable type {} already exists", row.name))
                })
            })
    })
    .await?;
    crate::casework::observables::forget_types();
    Ok(HttpResponse::Created().json(render_observable_type(&saved)))
}

/// One observable type, by `~id` or name.
#[utoipa::path(tag = "observable type", responses((status = 200, body = OutputObservableType), (status = 404)))]
#[get("/api/v1/observable/type/{id}")]
pub async fn get(
    db: web::Data<Db>,
    _caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let key = id.into_inner();
    let t = db
        .read(move |c| {
            find_observable_type(c, &key)?.ok_or_else(|| not_found("ObservableType", &key))
        })
        .await?;
    Ok(HttpResponse::Ok().json(render_observable_type(&t)))
}

/// Deletes an observable type.
#[utoipa::path(tag = "observable type", responses((status = 204), (status = 403), (status = 404)))]
#[delete("/api/v1/observable/type/{id}")]
pub async fn remove(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&caller)?;
    let key = id.into_inner();
    db.write(move |c| {
        let t = find_observable_type(c, &key)?.ok_or_else(|| not_found("ObservableType", &key))?;
        audit_admin(
            &caller,
            Action::Delete,
            ObjectType::ObservableType,
            t.id,
            json!({"name": t.name}),
        );
        diesel::delete(observable_types::table.find(t.id)).execute(c)?;
        Ok(())
    })
    .await?;
    crate::casework::observables::forget_types();
    Ok(HttpResponse::NoContent().finish())
}
