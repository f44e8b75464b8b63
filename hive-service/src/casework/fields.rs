//! Custom field definitions: platform administrators define them (name, type, options,
//! whether mandatory); cases and alerts carry their values ([`super::custom`]).

use crate::auth::{Caller, ADMIN_ORG};
use crate::db::models::CustomFieldRow;
use crate::db::schema::custom_fields;
use crate::db::{duplicate_as, next_id, now_ms, parse_id, Db, DbConn};
use crate::domain::values::{check_name, check_text};
use diesel::prelude::*;
use serde_json::Value;
use service_kit::error::ApiError;
use shared_models::hive::{CustomFieldType, InputCustomField};

/// Finds a definition by `~id` or name.
pub fn find(c: &mut DbConn, key: &str) -> QueryResult<Option<CustomFieldRow>> {
    let q = custom_fields::table.select(CustomFieldRow::as_select());
    match parse_id(key) {
        Some(id) => q.find(id).first(c).optional(),
        None => q.filter(custom_fields::name.eq(key)).first(c).optional(),
    }
}

/// All definitions, oldest first.
pub fn all(c: &mut DbConn) -> QueryResult<Vec<CustomFieldRow>> {
    custom_fields::table
        .select(CustomFieldRow::as_select())
        .order(custom_fields::id.asc())
        .load(c)
}

pub fn require_admin(caller: &Caller) -> Result<(), ApiError> {
    if caller.is_platform_admin("manageCustomField") {
        Ok(())
    } else {
        Err(ApiError::Authorization(format!(
            "User {} cannot manage custom fields (needs manageCustomField in {ADMIN_ORG})",
            caller.login()
        )))
    }
}

pub fn check_options(field_type: CustomFieldType, options: &[Value]) -> Result<String, ApiError> {
    if options.len() > 1000 {
        return Err(ApiError::attribute("options", "at most 1000 values"));
    }
    if let Some(bad) = options.iter().find(|o| !field_type.accepts(o)) {
        return Err(ApiError::attribute(
            "options",
            format!("{bad} is not a {} value", field_type.as_str()),
        ));
    }
    serde_json::to_string(options).map_err(ApiError::internal)
}

pub fn optional_text(name: &str, v: Option<&str>, max: usize) -> Result<String, ApiError> {
    match v.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => check_text(name, s, max),
        None => Ok(String::new()),
    }
}

/// Checks and stores a custom field definition (platform administrators only).
pub async fn insert(
    db: &Db,
    caller: &Caller,
    input: InputCustomField,
) -> Result<CustomFieldRow, ApiError> {
    require_admin(caller)?;
    let name = check_name("name", &input.name, 64)?;
    if name.contains('.') || name.chars().any(char::is_whitespace) {
        return Err(ApiError::attribute(
            "name",
            "must not contain dots or spaces",
        ));
    }
    let row = CustomFieldRow {
        id: next_id(),
        display_name: match input
            .display_name
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            Some(d) => check_text("displayName", d, 128)?,
            None => name.clone(),
        },
        name,
        group_name: optional_text("group", input.group.as_deref(), 128)?,
        description: optional_text("description", input.description.as_deref(), 1024)?,
        field_type: input.field_type.as_str().into(),
        options: check_options(input.field_type, &input.options)?,
        mandatory: input.mandatory,
        created_by: caller.login().into(),
        created_at: now_ms(),
        updated_by: None,
        updated_at: None,
    };
    let saved = row.clone();
    let actor = crate::access::Actor::of(caller);
    db.write(move |c| {
        crate::audit::created(
            &actor,
            crate::audit::ObjectType::CustomField,
            row.id,
            &row,
            None,
        );
        diesel::insert_into(custom_fields::table)
            .values(&row)
            .execute(c)
            .map_err(|e| {
                duplicate_as(e, || {
                    ApiError::Create(format!("Custom field {} already exists", row.name))
                })
            })
    })
    .await?;
    Ok(saved)
}
