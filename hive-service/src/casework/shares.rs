//! Sharing cases with other organisations (under a profile) and their tasks and
//! observables: the use cases behind both APIs' share routes, and the `autoShare` rule
//! applied when a task or observable is added to a shared case.

use crate::audit::{self, ObjectType, Root};
use crate::casework::{find_case, Actor};
use crate::db::casework::{CaseRow, ShareRow, SharedItemRow};
use crate::db::models::{OrganisationRow, ProfileRow};
use crate::db::schema::{cases, observables, organisations, profiles, shared_items, shares, tasks};
use crate::db::{format_id, next_id, now_ms, DbConn};
use diesel::prelude::*;
use service_kit::error::ApiError;
use shared_models::casework::{InputShare, InputShares, Meta, OutputShare};

/// The rules of a share for new tasks and observables.
pub const RULES: &[&str] = &["manual", "autoShare", "existingOnly", "upcomingOnly"];

/// Renders a share.
pub fn render(c: &mut DbConn, s: &ShareRow) -> Result<OutputShare, ApiError> {
    let org: String = organisations::table
        .find(s.organisation_id)
        .select(organisations::name)
        .first(c)?;
    let profile: String = profiles::table
        .find(s.profile_id)
        .select(profiles::name)
        .first(c)?;
    Ok(OutputShare {
        meta: Meta {
            id: format_id(s.id),
            kind: "Share".into(),
            created_by: s.created_by.clone(),
            created_at: s.created_at,
            updated_by: s.updated_by.clone(),
            updated_at: s.updated_at,
        },
        case_id: format_id(s.case_id),
        profile_name: profile,
        organisation_name: org,
        owner: false,
        task_rule: s.task_rule.clone(),
        observable_rule: s.observable_rule.clone(),
    })
}

/// The shares of a case other than with `except` (the caller's organisation). An
/// organisation the case is shared with sees none of them: the case's other partners are
/// the owner's business.
pub fn shares_of(c: &mut DbConn, case_id: i64, except: i64) -> Result<Vec<OutputShare>, ApiError> {
    let owner: Option<i64> = cases::table
        .find(case_id)
        .select(cases::organisation_id)
        .first(c)
        .optional()?;
    if owner != Some(except) {
        return Ok(Vec::new());
    }
    let rows: Vec<ShareRow> = shares::table
        .filter(shares::case_id.eq(case_id))
        .filter(shares::organisation_id.ne(except))
        .order(shares::id.asc())
        .select(ShareRow::as_select())
        .load(c)?;
    rows.iter().map(|s| render(c, s)).collect()
}

/// The shares of a case through which a task or an observable of it is shared (other than
/// with `except`).
pub fn item_shares_of(
    c: &mut DbConn,
    entity_id: i64,
    case_id: i64,
    except: i64,
) -> Result<Vec<OutputShare>, ApiError> {
    let orgs: Vec<i64> = shared_items::table
        .filter(shared_items::entity_id.eq(entity_id))
        .select(shared_items::organisation_id)
        .load(c)?;
    let names: Vec<String> = organisations::table
        .filter(organisations::id.eq_any(&orgs))
        .select(organisations::name)
        .load(c)?;
    Ok(shares_of(c, case_id, except)?
        .into_iter()
        .filter(|s| names.contains(&s.organisation_name))
        .collect())
}

pub fn organisation(c: &mut DbConn, key: &str) -> Result<OrganisationRow, ApiError> {
    crate::db::models::find_organisation(c, key)?
        .filter(|o| o.name != crate::auth::ADMIN_ORG)
        .ok_or_else(|| ApiError::NotFound(format!("Organisation {key} not found")))
}

pub fn profile(c: &mut DbConn, key: &str) -> Result<ProfileRow, ApiError> {
    let p = crate::db::models::find_profile(c, key)?
        .ok_or_else(|| ApiError::NotFound(format!("Profile {key} not found")))?;
    if crate::domain::permissions::is_admin_profile(&p.permission_list()) {
        return Err(ApiError::BadRequest(format!(
            "Profile {key} is an administration profile"
        )));
    }
    Ok(p)
}

pub fn share_items(c: &mut DbConn, ids: &[i64], org: i64) -> QueryResult<()> {
    for id in ids {
        let exists: i64 = shared_items::table
            .filter(shared_items::entity_id.eq(id))
            .filter(shared_items::organisation_id.eq(org))
            .count()
            .get_result(c)?;
        if exists == 0 {
            diesel::insert_into(shared_items::table)
                .values(SharedItemRow {
                    entity_id: *id,
                    organisation_id: org,
                })
                .execute(c)?;
        }
    }
    Ok(())
}

/// Shares a new task or observable of a case with the organisations whose share of the case
/// has the `autoShare` rule for it.
pub fn auto_share(c: &mut DbConn, case_id: i64, entity_id: i64, is_task: bool) -> QueryResult<()> {
    let rows: Vec<ShareRow> = shares::table
        .filter(shares::case_id.eq(case_id))
        .select(ShareRow::as_select())
        .load(c)?;
    for s in rows {
        let rule = if is_task {
            &s.task_rule
        } else {
            &s.observable_rule
        };
        if rule == "autoShare" || rule == "upcomingOnly" {
            share_items(c, &[entity_id], s.organisation_id)?;
        }
    }
    Ok(())
}

pub fn upsert(
    c: &mut DbConn,
    actor: &Actor,
    k: &CaseRow,
    input: &InputShare,
) -> Result<ShareRow, ApiError> {
    let org = organisation(c, &input.organisation)?;
    if org.id == k.organisation_id {
        return Err(ApiError::BadRequest(format!(
            "Organisation {} owns the case",
            org.name
        )));
    }
    let prof = profile(c, input.profile.as_deref().unwrap_or("analyst"))?;
    let rule = |name: &str, given: &Option<String>, default: &str| -> Result<String, ApiError> {
        match given {
            Some(r) => crate::domain::values::one_of(name, r, RULES),
            None => Ok(default.to_string()),
        }
    };
    let task_rule = rule("taskRule", &input.task_rule, &org.task_rule)?;
    let observable_rule = rule(
        "observableRule",
        &input.observable_rule,
        &org.observable_rule,
    )?;
    let existing: Option<ShareRow> = shares::table
        .filter(shares::case_id.eq(k.id))
        .filter(shares::organisation_id.eq(org.id))
        .select(ShareRow::as_select())
        .first(c)
        .optional()?;
    let now = now_ms();
    let mut share = serde_json::Map::new();
    share.insert("organisation".into(), org.name.clone().into());
    share.insert("profile".into(), prof.name.clone().into());
    share.insert("taskRule".into(), task_rule.clone().into());
    share.insert("observableRule".into(), observable_rule.clone().into());
    let mut details = serde_json::Map::new();
    details.insert("share".into(), serde_json::Value::Object(share));
    audit::updated_with(
        actor,
        ObjectType::Case,
        k.id,
        details,
        Some(Root::Case(k.id)),
    );
    let row = match existing {
        Some(mut s) => {
            s.profile_id = prof.id;
            s.task_rule = task_rule;
            s.observable_rule = observable_rule;
            s.updated_by = Some(actor.login.clone());
            s.updated_at = Some(now);
            diesel::update(shares::table.find(s.id))
                .set(&s)
                .execute(c)?;
            s
        }
        None => {
            let s = ShareRow {
                id: next_id(),
                case_id: k.id,
                organisation_id: org.id,
                profile_id: prof.id,
                task_rule,
                observable_rule,
                created_by: actor.login.clone(),
                created_at: now,
                updated_by: None,
                updated_at: None,
            };
            diesel::insert_into(shares::table).values(&s).execute(c)?;
            s
        }
    };
    if row.task_rule == "autoShare" || row.task_rule == "existingOnly" {
        let ids: Vec<i64> = tasks::table
            .filter(tasks::case_id.eq(k.id))
            .select(tasks::id)
            .load(c)?;
        share_items(c, &ids, org.id)?;
    }
    if row.observable_rule == "autoShare" || row.observable_rule == "existingOnly" {
        let ids: Vec<i64> = observables::table
            .filter(observables::case_id.eq(k.id))
            .select(observables::id)
            .load(c)?;
        share_items(c, &ids, org.id)?;
    }
    Ok(row)
}

/// Stops sharing a case with an organisation (its shared tasks and observables too).
pub fn unshare(c: &mut DbConn, actor: &Actor, case_id: i64, org: i64) -> QueryResult<usize> {
    let items: Vec<i64> = tasks::table
        .filter(tasks::case_id.eq(case_id))
        .select(tasks::id)
        .load::<i64>(c)?
        .into_iter()
        .chain(
            observables::table
                .filter(observables::case_id.eq(case_id))
                .select(observables::id)
                .load::<i64>(c)?,
        )
        .collect();
    for chunk in items.chunks(500) {
        diesel::delete(
            shared_items::table
                .filter(shared_items::entity_id.eq_any(chunk))
                .filter(shared_items::organisation_id.eq(org)),
        )
        .execute(c)?;
    }
    let gone = diesel::delete(
        shares::table
            .filter(shares::case_id.eq(case_id))
            .filter(shares::organisation_id.eq(org)),
    )
    .execute(c)?;
    if gone > 0 {
        let name: String = organisations::table
            .find(org)
            .select(organisations::name)
            .first(c)?;
        let mut details = serde_json::Map::new();
        details.insert(
            "unshare".into(),
            serde_json::json!({ "organisation": name }),
        );
        audit::updated_with(
            actor,
            ObjectType::Case,
            case_id,
            details,
            Some(Root::Case(case_id)),
        );
    }
    Ok(gone)
}

pub fn owned_case(c: &mut DbConn, actor: &Actor, key: &str) -> Result<CaseRow, ApiError> {
    let k = find_case(c, actor, key)?;
    crate::casework::require_owner(actor, &k, "manages its shares")?;
    Ok(k)
}

/// The shares of a body, at most 1,000.
pub fn share_list(body: InputShares) -> Result<Vec<InputShare>, ApiError> {
    if body.shares.len() > 1000 {
        return Err(ApiError::attribute("shares", "at most 1000 shares"));
    }
    Ok(body.shares)
}

/// The organisations linked to `org`: `[{linkType, otherLinkType, organisation}]` (the
/// caller's right to see `org` is checked before).
pub fn links_of(c: &mut DbConn, org: &OrganisationRow) -> Result<Vec<serde_json::Value>, ApiError> {
    use crate::db::schema::organisation_links as l;
    let rows: Vec<(i64, String)> = l::table
        .filter(l::organisation_id.eq(org.id))
        .select((l::other_id, l::link_type))
        .load(c)?;
    let mut out = Vec::new();
    for (other, t) in rows {
        let back: Option<String> = l::table
            .filter(l::organisation_id.eq(other))
            .filter(l::other_id.eq(org.id))
            .select(l::link_type)
            .first(c)
            .optional()?;
        let o: OrganisationRow = organisations::table
            .find(other)
            .select(OrganisationRow::as_select())
            .first(c)?;
        out.push(serde_json::json!({
            "linkType": t,
            "otherLinkType": back.unwrap_or_else(|| "default".into()),
            "organisation": crate::render::render_organisation(&o),
        }));
    }
    Ok(out)
}

/// The sharing profiles: for each profile an organisation may hold, a manual one (tasks and
/// observables shared by hand) and an automatic one (`<profile>-auto`, everything shared).
pub fn sharing_profiles(c: &mut DbConn) -> Result<Vec<serde_json::Value>, ApiError> {
    let rows: Vec<ProfileRow> = profiles::table
        .order(profiles::id.asc())
        .select(ProfileRow::as_select())
        .load(c)?;
    Ok(rows
        .iter()
        .filter(|p| !crate::domain::permissions::is_admin_profile(&p.permission_list()))
        .flat_map(|p| {
            [
                serde_json::json!({"name": p.name, "description": format!("Share under the {} profile, tasks and observables by hand", p.name), "autoShare": false, "editable": false, "permissionProfile": p.name, "taskRule": "manual", "observableRule": "manual"}),
                serde_json::json!({"name": format!("{}-auto", p.name), "description": format!("Share under the {} profile with every task and observable", p.name), "autoShare": true, "editable": false, "permissionProfile": p.name, "taskRule": "autoShare", "observableRule": "autoShare"}),
            ]
        })
        .collect())
}
