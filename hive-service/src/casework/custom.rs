//! Custom field values of cases, alerts and case templates.
//!
//! Accepted inputs: `{"name": value}` (a list value = several values), TheHive 4's
//! `{"name": {"<type>": value, "order": n}}`, or `[{"name", "value", "order"?}]`. Each value
//! must match its field's type and options; an unknown field is a 404 as in TheHive.

use crate::db::casework::CustomValueRow;
use crate::db::models::CustomFieldRow;
use crate::db::schema::{custom_fields, custom_values};
use crate::db::{format_id, next_id, DbConn};
use diesel::prelude::*;
use serde_json::Value;
use service_kit::error::ApiError;
use shared_models::casework::OutputCustomFieldValue;
use shared_models::hive::CustomFieldType;
use std::collections::HashMap;

/// One value to store.
#[derive(Debug, Clone)]
pub struct CfInput {
    /// The field's definition.
    pub field: CustomFieldRow,
    /// The value (null = set but empty).
    pub value: Value,
    /// Position.
    pub order: i64,
}

const TYPE_KEYS: &[&str] = &[
    "string", "integer", "float", "boolean", "date", "number", "url",
];

fn field_by_name(
    c: &mut DbConn,
    cache: &mut HashMap<String, CustomFieldRow>,
    name: &str,
) -> Result<CustomFieldRow, ApiError> {
    if let Some(f) = cache.get(name) {
        return Ok(f.clone());
    }
    let f: Option<CustomFieldRow> = custom_fields::table
        .filter(custom_fields::name.eq(name))
        .select(CustomFieldRow::as_select())
        .first(c)
        .optional()?;
    let f = f.ok_or_else(|| ApiError::NotFound(format!("CustomField {name} not found")))?;
    cache.insert(name.to_string(), f.clone());
    Ok(f)
}

fn check_value(f: &CustomFieldRow, v: Value) -> Result<Value, ApiError> {
    if v.is_null() {
        return Ok(v);
    }
    let t = CustomFieldType::parse(&f.field_type).unwrap_or(CustomFieldType::String);
    // 1.x sends dates and numbers as floats sometimes; whole floats are integers.
    let v = match (&v, t) {
        (Value::Number(n), CustomFieldType::Integer | CustomFieldType::Date)
            if n.as_f64()
                .is_some_and(|x| x.fract() == 0.0 && x.abs() < 9.0e15) =>
        {
            Value::from(n.as_f64().unwrap_or_default() as i64)
        }
        _ => v,
    };
    if !t.accepts(&v) {
        return Err(ApiError::attribute(
            &format!("customFields.{}", f.name),
            format!("{v} is not a {} value", t.as_str()),
        ));
    }
    let options: Vec<Value> = serde_json::from_str(&f.options).unwrap_or_default();
    if !options.is_empty() && !options.contains(&v) {
        return Err(ApiError::attribute(
            &format!("customFields.{}", f.name),
            format!("{v} is not one of the field's options"),
        ));
    }
    Ok(v)
}

/// Parses and checks custom field input.
pub fn parse(c: &mut DbConn, input: &Value) -> Result<Vec<CfInput>, ApiError> {
    let mut cache = HashMap::new();
    let mut out = Vec::new();
    match input {
        Value::Null => {}
        Value::Object(map) => {
            if map.len() > 256 {
                return Err(ApiError::attribute("customFields", "at most 256 fields"));
            }
            for (i, (name, v)) in map.iter().enumerate() {
                let f = field_by_name(c, &mut cache, name)?;
                let default_order = i as i64;
                match v {
                    Value::Object(o) => {
                        let order = o
                            .get("order")
                            .and_then(Value::as_i64)
                            .unwrap_or(default_order);
                        let value = TYPE_KEYS
                            .iter()
                            .find_map(|k| o.get(*k))
                            .cloned()
                            .or_else(|| o.get("value").cloned())
                            .unwrap_or(Value::Null);
                        out.push(CfInput {
                            value: check_value(&f, value)?,
                            field: f,
                            order,
                        });
                    }
                    Value::Array(items) => {
                        for item in items {
                            out.push(CfInput {
                                value: check_value(&f, item.clone())?,
                                field: f.clone(),
                                order: default_order,
                            });
                        }
                    }
                    other => out.push(CfInput {
                        value: check_value(&f, other.clone())?,
                        field: f,
                        order: default_order,
                    }),
                }
            }
        }
        Value::Array(items) => {
            if items.len() > 256 {
                return Err(ApiError::attribute("customFields", "at most 256 values"));
            }
            for (i, item) in items.iter().enumerate() {
                let name = item
                    .get("name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| ApiError::missing(&format!("customFields[{i}].name")))?;
                let f = field_by_name(c, &mut cache, name)?;
                let order = item
                    .get("order")
                    .and_then(Value::as_i64)
                    .unwrap_or(i as i64);
                out.push(CfInput {
                    value: check_value(&f, item.get("value").cloned().unwrap_or(Value::Null))?,
                    field: f,
                    order,
                });
            }
        }
        other => {
            return Err(ApiError::attribute(
                "customFields",
                format!("expected an object or a list, got {other}"),
            ))
        }
    }
    Ok(out)
}

/// Adds values to an entity; returns them as rendered, in the order renderers list them.
pub fn insert(
    c: &mut DbConn,
    entity_id: i64,
    items: &[CfInput],
) -> QueryResult<Vec<OutputCustomFieldValue>> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let row = CustomValueRow {
            id: next_id(),
            entity_id,
            field_id: item.field.id,
            position: i32::try_from(item.order).unwrap_or(0),
            value: item.value.to_string(),
        };
        diesel::insert_into(custom_values::table)
            .values(&row)
            .execute(c)?;
        out.push(OutputCustomFieldValue {
            id: format_id(row.id),
            name: item.field.name.clone(),
            field_type: item.field.field_type.clone(),
            value: item.value.clone(),
            order: i64::from(row.position),
        });
    }
    out.sort_by_key(|v| v.order);
    Ok(out)
}

/// Sets the values of the fields named in `items`, keeping the others.
pub fn replace(c: &mut DbConn, entity_id: i64, items: &[CfInput]) -> QueryResult<()> {
    let field_ids: Vec<i64> = items.iter().map(|i| i.field.id).collect();
    diesel::delete(
        custom_values::table
            .filter(custom_values::entity_id.eq(entity_id))
            .filter(custom_values::field_id.eq_any(&field_ids)),
    )
    .execute(c)?;
    insert(c, entity_id, items).map(|_| ())
}

/// Adds the values of fields the entity does not have yet (merges).
pub fn add_missing(c: &mut DbConn, entity_id: i64, items: &[CfInput]) -> QueryResult<()> {
    let have: Vec<i64> = custom_values::table
        .filter(custom_values::entity_id.eq(entity_id))
        .select(custom_values::field_id)
        .load(c)?;
    let new: Vec<CfInput> = items
        .iter()
        .filter(|i| !have.contains(&i.field.id))
        .cloned()
        .collect();
    insert(c, entity_id, &new).map(|_| ())
}

/// The stored values of an entity as inputs (to copy them elsewhere).
pub fn inputs_of(c: &mut DbConn, entity_id: i64) -> QueryResult<Vec<CfInput>> {
    let rows: Vec<(CustomValueRow, CustomFieldRow)> = custom_values::table
        .inner_join(custom_fields::table.on(custom_fields::id.eq(custom_values::field_id)))
        .filter(custom_values::entity_id.eq(entity_id))
        .order((custom_values::position.asc(), custom_values::id.asc()))
        .select((CustomValueRow::as_select(), CustomFieldRow::as_select()))
        .load(c)?;
    Ok(rows
        .into_iter()
        .map(|(v, f)| CfInput {
            value: serde_json::from_str(&v.value).unwrap_or(Value::Null),
            field: f,
            order: i64::from(v.position),
        })
        .collect())
}

/// The values of several entities, for rendering.
pub fn load(
    c: &mut DbConn,
    entity_ids: &[i64],
) -> QueryResult<HashMap<i64, Vec<OutputCustomFieldValue>>> {
    let mut out: HashMap<i64, Vec<OutputCustomFieldValue>> = HashMap::new();
    for chunk in entity_ids.chunks(500) {
        let rows: Vec<(CustomValueRow, String, String)> = custom_values::table
            .inner_join(custom_fields::table.on(custom_fields::id.eq(custom_values::field_id)))
            .filter(custom_values::entity_id.eq_any(chunk))
            .order((custom_values::position.asc(), custom_values::id.asc()))
            .select((
                CustomValueRow::as_select(),
                custom_fields::name,
                custom_fields::field_type,
            ))
            .load(c)?;
        for (v, name, field_type) in rows {
            out.entry(v.entity_id)
                .or_default()
                .push(OutputCustomFieldValue {
                    id: format_id(v.id),
                    name,
                    field_type,
                    value: serde_json::from_str(&v.value).unwrap_or(Value::Null),
                    order: i64::from(v.position),
                });
        }
    }
    Ok(out)
}

/// Removes every value of these entities.
pub fn delete_all(c: &mut DbConn, entity_ids: &[i64]) -> QueryResult<()> {
    for chunk in entity_ids.chunks(500) {
        diesel::delete(custom_values::table.filter(custom_values::entity_id.eq_any(chunk)))
            .execute(c)?;
    }
    Ok(())
}

/// Names of the mandatory fields the entity has no value for.
pub fn missing_mandatory(c: &mut DbConn, entity_id: i64) -> QueryResult<Vec<String>> {
    let mandatory: Vec<(i64, String)> = custom_fields::table
        .filter(custom_fields::mandatory.eq(true))
        .select((custom_fields::id, custom_fields::name))
        .load(c)?;
    if mandatory.is_empty() {
        return Ok(Vec::new());
    }
    let set: Vec<(i64, String)> = custom_values::table
        .filter(custom_values::entity_id.eq(entity_id))
        .select((custom_values::field_id, custom_values::value))
        .load(c)?;
    Ok(mandatory
        .into_iter()
        .filter(|(id, _)| !set.iter().any(|(f, v)| f == id && v != "null"))
        .map(|(_, name)| name)
        .collect())
}
