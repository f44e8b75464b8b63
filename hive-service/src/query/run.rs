//! TheHive's Query API, `POST /api/v1/query`: a selection (`listCase`, `getAlert`...),
//! then traversals, filters, sorts, a page or a count. Case-work selections and traversals
//! run as SQL through the access layer ([`crate::query`]); the administration entities
//! (users, organisations, profiles, observable types, custom fields) are filtered in memory
//! on the same renderers as the REST routes. Every step keeps only what the caller sees.

use crate::auth::Caller;
use crate::db::models::{
    find_organisation, find_profile, find_user, memberships_of, memberships_of_users,
    OrganisationRow, ProfileRow, UserRow,
};
use crate::db::schema::*;
use crate::db::DbConn;
use crate::render::{render_organisation, render_profile, render_user};
use diesel::prelude::*;
use serde_json::Value;
use service_kit::error::ApiError;
use shared_models::query::{Filter, Sort};

const META: &[&str] = &[
    "_id",
    "_type",
    "_createdBy",
    "_createdAt",
    "_updatedBy",
    "_updatedAt",
];
const USER_FIELDS: &[&str] = &[
    "login",
    "name",
    "email",
    "hasKey",
    "hasPassword",
    "hasMFA",
    "locked",
    "profile",
    "permissions",
    "organisation",
    "avatar",
    "type",
    "defaultOrganisation",
];
const ORG_FIELDS: &[&str] = &[
    "name",
    "description",
    "taskRule",
    "observableRule",
    "locked",
];
const OBSERVABLE_TYPE_FIELDS: &[&str] = &["name", "isAttachment"];
const CUSTOM_FIELD_FIELDS: &[&str] = &[
    "name",
    "displayName",
    "group",
    "description",
    "type",
    "options",
    "mandatory",
];
const PROFILE_FIELDS: &[&str] = &[
    "name",
    "permissions",
    "editable",
    "isAdmin",
    "forAdmin",
    "forOrg",
    "forExternal",
    "consumesLicense",
    "type",
];

/// Every selection of the Query API (the access-matrix test has a row for each, read from
/// the OpenAPI document's `x-query-operations`).
pub const SELECTIONS: &[&str] = &[
    "listAlert",
    "getAlert",
    "listCase",
    "getCase",
    "listObservable",
    "getObservable",
    "listTask",
    "getTask",
    "listLog",
    "getLog",
    "listCaseTemplate",
    "getCaseTemplate",
    "listComment",
    "getComment",
    "listProcedure",
    "getProcedure",
    "listPageTemplate",
    "getPageTemplate",
    "listShare",
    "getShare",
    "listJob",
    "getJob",
    "listAlertStatus",
    "listCaseStatus",
    "listUser",
    "getUser",
    "listOrganisation",
    "getOrganisation",
    "listProfile",
    "getProfile",
    "listObservableType",
    "getObservableType",
    "listCustomField",
    "getCustomField",
    "listAudit",
    "getAudit",
];

/// The Query API's operations as the OpenAPI document lists them (`x-query-operations` of
/// `POST /api/v1/query`): selections, traversals by the kind they start from, and the
/// operations that apply to any list.
pub fn operations() -> Value {
    let mut traversals = serde_json::Map::new();
    for (kind, name) in super::TRAVERSALS {
        if let Some(a) = traversals
            .entry(kind.wire_name())
            .or_insert_with(|| Value::Array(Vec::new()))
            .as_array_mut()
        {
            a.push(Value::from(*name));
        }
    }
    traversals.insert("organisation".into(), serde_json::json!(["attachments"]));
    serde_json::json!({
        "selections": SELECTIONS,
        "traversals": traversals,
        "steps": ["filter", "sort", "page", "count", "limitedCount"],
    })
}

/// Most operations in one query.
pub const MAX_OPS: usize = 32;

fn op_name(op: &Value) -> Result<&str, ApiError> {
    op.get("_name")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::Search("every query operation needs `_name`".into()))
}

fn id_or_name(op: &Value) -> Result<String, ApiError> {
    match op.get("idOrName") {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        _ => Err(ApiError::Search("`idOrName` is required".into())),
    }
}

fn users_visible(c: &mut DbConn, caller: &Caller) -> Result<Vec<UserRow>, ApiError> {
    let q = users::table
        .select(UserRow::as_select())
        .order(users::id.asc());
    Ok(if caller.is_platform_admin("manageUser") {
        q.load(c)?
    } else {
        q.filter(
            users::id.eq_any(
                memberships::table
                    .filter(memberships::organisation_id.eq(caller.organisation.id))
                    .select(memberships::user_id),
            ),
        )
        .load(c)?
    })
}

fn render_users(
    c: &mut DbConn,
    caller: &Caller,
    rows: Vec<UserRow>,
) -> Result<Vec<Value>, ApiError> {
    let ids: Vec<i64> = rows.iter().map(|u| u.id).collect();
    let mut memberships = memberships_of_users(c, &ids)?;
    rows.into_iter()
        .map(|u| {
            let m = memberships.remove(&u.id).unwrap_or_default();
            serde_json::to_value(render_user(&u, &m, caller)).map_err(ApiError::internal)
        })
        .collect()
}

/// Runs the selection; returns the entities and the fields they may be filtered on.
fn select(
    c: &mut DbConn,
    caller: &Caller,
    op: &Value,
) -> Result<(Vec<Value>, &'static [&'static str]), ApiError> {
    let to_values = |items: Vec<Value>| items;
    let name = op_name(op)?;
    if !SELECTIONS.contains(&name) {
        return Err(ApiError::Search(format!(
            "Query operation {name} is not available in this version of hive-service"
        )));
    }
    if name == "listCaseStatus" || name == "listAlertStatus" {
        return Ok((
            super::statuses(name == "listCaseStatus"),
            super::Kind::Status.fields(),
        ));
    }
    if let Some(kind) = super::Kind::of_selection(name) {
        let key = name
            .starts_with("get")
            .then(|| id_or_name(op))
            .transpose()?;
        let items = super::select(c, caller, kind, key.as_deref())?;
        return Ok((items, kind.fields()));
    }
    match name {
        "listUser" => {
            let rows = users_visible(c, caller)?;
            Ok((render_users(c, caller, rows)?, USER_FIELDS))
        }
        "getUser" => {
            let key = id_or_name(op)?;
            let found = match find_user(c, &key)? {
                Some(u) => {
                    let m = memberships_of(c, u.id)?;
                    crate::access::accounts::may_see(caller, &u, &m).then_some(u)
                }
                None => None,
            };
            Ok((
                render_users(c, caller, found.into_iter().collect())?,
                USER_FIELDS,
            ))
        }
        "listOrganisation" => {
            let rows: Vec<OrganisationRow> = organisations::table
                .select(OrganisationRow::as_select())
                .order(organisations::id.asc())
                .load(c)?;
            let items = rows
                .iter()
                .filter(|o| {
                    caller.is_platform_admin("manageOrganisation") || caller.is_member_of(o.id)
                })
                .map(|o| serde_json::to_value(render_organisation(o)).map_err(ApiError::internal))
                .collect::<Result<Vec<_>, _>>()?;
            Ok((to_values(items), ORG_FIELDS))
        }
        "getOrganisation" => {
            let key = id_or_name(op)?;
            let items = find_organisation(c, &key)?
                .filter(|o| {
                    caller.is_platform_admin("manageOrganisation") || caller.is_member_of(o.id)
                })
                .map(|o| serde_json::to_value(render_organisation(&o)).map_err(ApiError::internal))
                .transpose()?;
            Ok((items.into_iter().collect(), ORG_FIELDS))
        }
        "listProfile" => {
            let rows: Vec<ProfileRow> = profiles::table
                .select(ProfileRow::as_select())
                .order(profiles::id.asc())
                .load(c)?;
            let items = rows
                .iter()
                .map(|p| serde_json::to_value(render_profile(p)).map_err(ApiError::internal))
                .collect::<Result<Vec<_>, _>>()?;
            Ok((items, PROFILE_FIELDS))
        }
        "getProfile" => {
            let key = id_or_name(op)?;
            let items = find_profile(c, &key)?
                .map(|p| serde_json::to_value(render_profile(&p)).map_err(ApiError::internal))
                .transpose()?;
            Ok((items.into_iter().collect(), PROFILE_FIELDS))
        }
        "listObservableType" => {
            let rows: Vec<crate::db::models::ObservableTypeRow> = observable_types::table
                .select(crate::db::models::ObservableTypeRow::as_select())
                .order(observable_types::id.asc())
                .load(c)?;
            let items = rows
                .iter()
                .map(|t| {
                    serde_json::to_value(crate::render::render_observable_type(t))
                        .map_err(ApiError::internal)
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok((items, OBSERVABLE_TYPE_FIELDS))
        }
        "getObservableType" => {
            let key = id_or_name(op)?;
            let items = crate::db::models::find_observable_type(c, &key)?
                .map(|t| {
                    serde_json::to_value(crate::render::render_observable_type(&t))
                        .map_err(ApiError::internal)
                })
                .transpose()?;
            Ok((items.into_iter().collect(), OBSERVABLE_TYPE_FIELDS))
        }
        "listCustomField" => {
            let items = crate::casework::fields::all(c)?
                .iter()
                .map(|f| {
                    serde_json::to_value(crate::render::render_custom_field(f))
                        .map_err(ApiError::internal)
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok((items, CUSTOM_FIELD_FIELDS))
        }
        "getCustomField" => {
            let key = id_or_name(op)?;
            let items = crate::casework::fields::find(c, &key)?
                .map(|f| {
                    serde_json::to_value(crate::render::render_custom_field(&f))
                        .map_err(ApiError::internal)
                })
                .transpose()?;
            Ok((items.into_iter().collect(), CUSTOM_FIELD_FIELDS))
        }
        other => Err(ApiError::Search(format!(
            "Query operation {other} is not available in this version of hive-service"
        ))),
    }
}

pub(crate) type Outcome = (Vec<Value>, Option<usize>, Option<usize>);

/// Runs the operations after the selection: filters, sorts, traversals, a page or a count.
pub fn run(
    c: &mut DbConn,
    caller: &Caller,
    ops: &[Value],
    exclude_fields: &[String],
) -> Result<Outcome, ApiError> {
    // thehive4py puts the filters of `find_page_templates` before the traversal they apply
    // to: move the traversal right after the selection.
    let mut ops = ops.to_vec();
    if let Some(i) = ops
        .iter()
        .position(|o| o.get("_name") == Some(&Value::from("pageTemplates")))
    {
        if i > 1 {
            let t = ops.remove(i);
            ops.insert(1, t);
        }
    }
    let ops = &ops[..];
    let first = &ops[0];
    if let Some(done) = super::try_sql(c, caller, op_name(first)?, &ops[1..])? {
        return Ok(match done {
            super::SqlOutcome::Count(n) => (Vec::new(), None, Some(n)),
            super::SqlOutcome::Items(mut items, total) => {
                exclude(&mut items, exclude_fields);
                (items, total, None)
            }
        });
    }
    let (mut items, mut known) = select(c, caller, first)?;
    let mut kind = super::Kind::of_selection(op_name(first)?);
    if let Some(k) = kind {
        items = super::retain_visible(c, caller, k, items)?;
    }
    let mut total = None;
    let view = |kind: Option<super::Kind>, v: &Value| match kind {
        Some(k) => super::filter_view(k, v),
        None => v.clone(),
    };
    for op in &ops[1..] {
        match op_name(op)? {
            "filter" | "_filter" => {
                let f = Filter::parse(op).map_err(|e| ApiError::Search(e.to_string()))?;
                check_fields(&f, known)?;
                items.retain(|i| f.matches(&view(kind, i)));
            }
            "sort" | "_sort" => {
                let fields = op
                    .get("_fields")
                    .or_else(|| op.get("fields"))
                    .unwrap_or(&Value::Null);
                let sort =
                    Sort::from_fields(fields).map_err(|e| ApiError::Search(e.to_string()))?;
                for (f, _) in &sort.0 {
                    check_fields(&Filter::Has(f.clone()), known)?;
                }
                let mut keyed: Vec<(Value, Value)> =
                    items.into_iter().map(|i| (view(kind, &i), i)).collect();
                // Stable: ties keep the selection's order (creation order).
                keyed.sort_by(|a, b| sort.compare(&a.0, &b.0));
                items = keyed.into_iter().map(|(_, i)| i).collect();
            }
            "page" => {
                let from = op.get("from").and_then(Value::as_u64).unwrap_or(0) as usize;
                let to = op.get("to").and_then(Value::as_u64).map(|t| t as usize);
                let (wants_total, extras) = super::page_extra_data(op);
                if wants_total {
                    total = Some(items.len());
                }
                let end = to.unwrap_or(usize::MAX).min(items.len());
                items = if from < end {
                    items.drain(from..end).collect()
                } else {
                    Vec::new()
                };
                if let Some(k) = kind {
                    super::add_extra(c, caller, k, &mut items, &extras)?;
                }
            }
            "count" | "limitedCount" => return Ok((Vec::new(), None, Some(items.len()))),
            other => {
                let next = match kind {
                    Some(k) => super::traverse(c, caller, k, other, &items)?,
                    None if other == "attachments"
                        && matches!(op_name(first)?, "getOrganisation" | "listOrganisation") =>
                    {
                        let owners: Vec<i64> = items
                            .iter()
                            .filter_map(|i| {
                                i.get("_id")
                                    .and_then(Value::as_str)
                                    .and_then(crate::db::parse_id)
                            })
                            .filter(|id| *id == caller.organisation.id)
                            .collect();
                        Some((
                            super::Kind::Attachment,
                            crate::casework::collab::attachments_held_by(
                                c,
                                &crate::access::Actor::of(caller),
                                &owners,
                            )?,
                        ))
                    }
                    None => None,
                };
                match next {
                    Some((k, next_items)) => {
                        kind = Some(k);
                        known = k.fields();
                        items = super::retain_visible(c, caller, k, next_items)?;
                        total = None;
                    }
                    None => {
                        return Err(ApiError::Search(format!(
                            "Query operation {other} is not available here"
                        )))
                    }
                }
            }
        }
    }
    exclude(&mut items, exclude_fields);
    Ok((items, total, None))
}

fn exclude(items: &mut [Value], fields: &[String]) {
    for item in items {
        if let Value::Object(o) = item {
            for f in fields {
                o.remove(f);
            }
        }
    }
}

fn check_fields(filter: &Filter, known: &[&str]) -> Result<(), ApiError> {
    for f in filter.fields() {
        let root = f.split('.').next().unwrap_or(f);
        if !META.contains(&root) && !known.contains(&root) {
            return Err(ApiError::Search(format!("Unknown field {f}")));
        }
    }
    Ok(())
}
