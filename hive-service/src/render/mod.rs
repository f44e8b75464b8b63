//! One renderer per entity, used by the REST routes and the Query API alike, so that
//! `create == get == find`. Renderers load what rows do not hold (custom values,
//! attachments, observable counts) for a whole batch at once.

pub mod jobs;
pub mod v0;

use crate::auth::Caller;
use crate::casework::custom;
use crate::db::casework::*;
use crate::db::models::{CustomFieldRow, ProfileRow};
use crate::db::models::{Membership, OrganisationRow, UserRow};
use crate::db::schema::{attachments, observables};
use crate::db::{format_id, DbConn};
use crate::domain::permissions;
use crate::domain::values::{pap_label, severity_label, tags_of, tlp_label};
use diesel::prelude::*;
use serde_json::{Map, Value};
use service_kit::error::ApiError;
use shared_models::casework::*;
use shared_models::hive::{
    CustomFieldType, OutputCustomField, OutputOrganisation, OutputOrganisationProfile,
    OutputProfile, OutputUser,
};
use std::collections::HashMap;

fn meta(
    kind: &str,
    id: i64,
    created_by: &str,
    created_at: i64,
    updated_by: &Option<String>,
    updated_at: Option<i64>,
) -> Meta {
    Meta {
        id: format_id(id),
        kind: kind.into(),
        created_by: created_by.into(),
        created_at,
        updated_by: updated_by.clone(),
        updated_at,
    }
}

/// Renders an attachment.
pub fn attachment(a: &AttachmentRow) -> OutputAttachment {
    OutputAttachment {
        meta: meta("Attachment", a.id, &a.created_by, a.created_at, &None, None),
        name: a.name.clone(),
        hashes: vec![a.sha256.clone(), a.sha1.clone(), a.md5.clone()],
        size: a.size,
        content_type: a.content_type.clone(),
        content_id: a.sha256.clone(),
        extra_data: Map::new(),
        external: false,
    }
}

/// Renders alerts.
pub fn alerts(c: &mut DbConn, rows: &[AlertRow]) -> QueryResult<Vec<OutputAlert>> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut cfs = custom::load(c, &ids)?;
    let mut counts: HashMap<i64, i64> = HashMap::new();
    for chunk in ids.chunks(500) {
        let found: Vec<(Option<i64>, i64)> = observables::table
            .filter(observables::alert_id.eq_any(chunk))
            .group_by(observables::alert_id)
            .select((observables::alert_id, diesel::dsl::count_star()))
            .load(c)?;
        for (id, n) in found {
            if let Some(id) = id {
                counts.insert(id, n);
            }
        }
    }
    Ok(rows
        .iter()
        .map(|r| {
            let mut out = alert(r, cfs.remove(&r.id).unwrap_or_default());
            out.observable_count = counts.get(&r.id).copied().unwrap_or(0);
            out
        })
        .collect())
}

/// Renders one alert with its custom values (observable count left at 0).
pub fn alert(r: &AlertRow, custom_fields: Vec<OutputCustomFieldValue>) -> OutputAlert {
    let acknowledged = r.imported_date.or(r.closed_date);
    OutputAlert {
        meta: meta(
            "Alert",
            r.id,
            &r.created_by,
            r.created_at,
            &r.updated_by,
            r.updated_at,
        ),
        alert_type: r.alert_type.clone(),
        source: r.source.clone(),
        source_ref: r.source_ref.clone(),
        external_link: r.external_link.clone(),
        title: r.title.clone(),
        description: r.description.clone(),
        severity: r.severity,
        severity_label: severity_label(r.severity).into(),
        date: r.date,
        tags: tags_of(&r.tags),
        tlp: r.tlp,
        tlp_label: tlp_label(r.tlp).into(),
        pap: r.pap,
        pap_label: pap_label(r.pap).into(),
        follow: r.follow,
        flag: r.flag,
        custom_fields,
        case_template: r.case_template.clone(),
        observable_count: 0,
        case_id: r.case_id.map(format_id),
        status: r.status.clone(),
        stage: r.stage.clone(),
        assignee: r.assignee.clone(),
        summary: r.summary.clone(),
        extra_data: Map::new(),
        new_date: r.created_at,
        in_progress_date: r.in_progress_date,
        closed_date: r.closed_date,
        imported_date: r.imported_date,
        time_to_detect: (r.created_at - r.date).max(0),
        time_to_triage: r.in_progress_date.map(|d| d - r.created_at),
        time_to_qualify: acknowledged.map(|d| d - r.created_at),
        time_to_acknowledge: r.imported_date.map(|d| d - r.created_at),
    }
}

/// Renders cases.
pub fn cases(c: &mut DbConn, rows: &[CaseRow]) -> QueryResult<Vec<OutputCase>> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut cfs = custom::load(c, &ids)?;
    Ok(rows
        .iter()
        .map(|r| case(r, cfs.remove(&r.id).unwrap_or_default()))
        .collect())
}

/// Renders one case.
pub fn case(r: &CaseRow, custom_fields: Vec<OutputCustomFieldValue>) -> OutputCase {
    OutputCase {
        meta: meta(
            "Case",
            r.id,
            &r.created_by,
            r.created_at,
            &r.updated_by,
            r.updated_at,
        ),
        number: r.number,
        title: r.title.clone(),
        description: r.description.clone(),
        severity: r.severity,
        severity_label: severity_label(r.severity).into(),
        start_date: r.start_date,
        end_date: r.end_date,
        tags: tags_of(&r.tags),
        flag: r.flag,
        tlp: r.tlp,
        tlp_label: tlp_label(r.tlp).into(),
        pap: r.pap,
        pap_label: pap_label(r.pap).into(),
        status: r.status.clone(),
        stage: r.stage.clone(),
        summary: r.summary.clone(),
        impact_status: r.impact_status.clone(),
        assignee: r.assignee.clone(),
        access: CaseAccess {
            kind: r.access_kind.clone(),
            users: r
                .access_users
                .as_deref()
                .and_then(|u| serde_json::from_str(u).ok()),
        },
        custom_fields,
        case_template: r.case_template.clone(),
        extra_data: Map::new(),
        new_date: r.created_at,
        in_progress_date: r.in_progress_date,
        closed_date: r.closed_date,
        alert_date: r.alert_date,
        alert_new_date: r.alert_new_date,
        alert_imported_date: r.alert_imported_date,
        time_to_detect: match (r.alert_new_date, r.alert_date) {
            (Some(n), Some(d)) => (n - d).max(0),
            _ => 0,
        },
        time_to_triage: match (r.alert_imported_date, r.alert_new_date) {
            (Some(i), Some(n)) => Some(i - n),
            _ => None,
        },
        time_to_resolve: r.closed_date.map(|d| d - r.created_at),
        handling_duration: r.end_date.map(|e| e - r.start_date),
    }
}

/// Renders observables with their attachments.
pub fn observables(c: &mut DbConn, rows: &[ObservableRow]) -> QueryResult<Vec<OutputObservable>> {
    let atts = crate::casework::observables::attachments_of(c, rows)?;
    Ok(rows
        .iter()
        .map(|r| observable(r, r.attachment_id.and_then(|a| atts.get(&a))))
        .collect())
}

/// Renders one observable.
pub fn observable(r: &ObservableRow, att: Option<&AttachmentRow>) -> OutputObservable {
    OutputObservable {
        meta: meta(
            "Observable",
            r.id,
            &r.created_by,
            r.created_at,
            &r.updated_by,
            r.updated_at,
        ),
        data_type: r.data_type.clone(),
        data: r.data.clone(),
        start_date: r.created_at,
        attachment: att.map(attachment),
        tlp: r.tlp,
        tlp_label: tlp_label(r.tlp).into(),
        pap: r.pap,
        pap_label: pap_label(r.pap).into(),
        tags: tags_of(&r.tags),
        ioc: r.ioc,
        sighted: r.sighted,
        sighted_at: r.sighted_at,
        reports: serde_json::from_str(&r.reports).unwrap_or_default(),
        message: r.message.clone(),
        extra_data: Map::new(),
        ignore_similarity: r.ignore_similarity,
        external: false,
    }
}

/// Renders one task.
pub fn task(r: &TaskRow) -> OutputTask {
    OutputTask {
        meta: meta(
            "Task",
            r.id,
            &r.created_by,
            r.created_at,
            &r.updated_by,
            r.updated_at,
        ),
        title: r.title.clone(),
        group: r.group_name.clone(),
        description: r.description.clone(),
        status: r.status.clone(),
        flag: r.flag,
        start_date: r.start_date,
        end_date: r.end_date,
        assignee: r.assignee.clone(),
        order: r.task_order,
        due_date: r.due_date,
        mandatory: r.mandatory,
        extra_data: Map::new(),
    }
}

/// Renders logs with their attachments.
pub fn logs(c: &mut DbConn, rows: &[LogRow]) -> QueryResult<Vec<OutputLog>> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut atts: HashMap<i64, Vec<OutputAttachment>> = HashMap::new();
    for chunk in ids.chunks(500) {
        let found: Vec<AttachmentRow> = attachments::table
            .filter(attachments::owner_id.eq_any(chunk))
            .order(attachments::id.asc())
            .select(AttachmentRow::as_select())
            .load(c)?;
        for a in found {
            if let Some(owner) = a.owner_id {
                atts.entry(owner).or_default().push(attachment(&a));
            }
        }
    }
    Ok(rows
        .iter()
        .map(|r| {
            let files = atts.remove(&r.id).unwrap_or_default();
            OutputLog {
                meta: meta(
                    "Log",
                    r.id,
                    &r.created_by,
                    r.created_at,
                    &r.updated_by,
                    r.updated_at,
                ),
                message: r.message.clone(),
                date: r.date,
                attachment: files.first().cloned(),
                attachments: files,
                owner: r.owner.clone(),
                include_in_timeline: r.include_in_timeline,
                extra_data: Map::new(),
            }
        })
        .collect())
}

/// Renders case templates.
pub fn templates(c: &mut DbConn, rows: &[CaseTemplateRow]) -> QueryResult<Vec<OutputCaseTemplate>> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut cfs = custom::load(c, &ids)?;
    Ok(rows
        .iter()
        .map(|r| OutputCaseTemplate {
            meta: meta(
                "CaseTemplate",
                r.id,
                &r.created_by,
                r.created_at,
                &r.updated_by,
                r.updated_at,
            ),
            name: r.name.clone(),
            display_name: r.display_name.clone(),
            title_prefix: r.title_prefix.clone(),
            description: r.description.clone(),
            severity: r.severity,
            severity_label: r.severity.map(|s| severity_label(s).into()),
            tags: tags_of(&r.tags),
            flag: r.flag,
            tlp: r.tlp,
            tlp_label: r.tlp.map(|t| tlp_label(t).into()),
            pap: r.pap,
            pap_label: r.pap.map(|p| pap_label(p).into()),
            summary: r.summary.clone(),
            custom_fields: cfs.remove(&r.id).unwrap_or_default(),
            tasks: serde_json::from_str(&r.tasks).unwrap_or_default(),
            page_template_ids: serde_json::from_str(&r.page_template_ids).unwrap_or_default(),
            extra_data: Map::new(),
        })
        .collect())
}

/// An audit record as the API shows it (TheHive 5's `Audit`: the action, the object and
/// its root, the fields set).
pub fn audit(a: &crate::audit::AuditRow) -> Value {
    let details: Value = serde_json::from_str(&a.details).unwrap_or(Value::Object(Map::new()));
    serde_json::json!({
        "_id": format_id(a.id),
        "_type": "Audit",
        "_createdBy": a.created_by,
        "_createdAt": a.created_at,
        "action": a.action,
        "operation": a.action,
        "mainAction": a.main_action,
        "base": a.main_action,
        "requestId": a.request_id,
        "objectType": a.object_type,
        "objectId": a.object_id.map(format_id),
        "rootType": a.root_type,
        "rootId": a.root_id.map(format_id),
        "organisationId": format_id(a.organisation_id),
        "details": details,
        "extraData": {},
    })
}

/// Serialises a rendered entity.
pub fn to_value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// Renders one alert with its counts and custom values.
pub fn rendered_alert(c: &mut DbConn, a: &AlertRow) -> Result<OutputAlert, ApiError> {
    alerts(c, std::slice::from_ref(a))?
        .pop()
        .ok_or_else(|| ApiError::internal("alert vanished"))
}

/// Renders one case.
pub fn rendered_case(
    c: &mut DbConn,
    k: &crate::db::casework::CaseRow,
) -> Result<OutputCase, ApiError> {
    cases(c, std::slice::from_ref(k))?
        .pop()
        .ok_or_else(|| ApiError::internal("case vanished"))
}

/// Renders an organisation.
pub fn render_organisation(o: &OrganisationRow) -> OutputOrganisation {
    OutputOrganisation {
        id: format_id(o.id),
        kind: "Organisation".into(),
        created_by: o.created_by.clone(),
        created_at: o.created_at,
        updated_by: o.updated_by.clone(),
        updated_at: o.updated_at,
        name: o.name.clone(),
        description: o.description.clone(),
        task_rule: o.task_rule.clone(),
        observable_rule: o.observable_rule.clone(),
        locked: o.locked,
        extra_data: Map::new(),
    }
}

/// Renders a user as seen by `caller`: `organisation` and `profile` are those of the caller's
/// current organisation when the user belongs to it, else of the user's default one.
pub fn render_user(user: &UserRow, memberships: &[Membership], caller: &Caller) -> OutputUser {
    // Only platform administrators and the user see memberships the caller does not share.
    let sees_all = crate::access::accounts::is_platform_admin(caller) || caller.user.id == user.id;
    let shown = |m: &&Membership| sees_all || caller.is_member_of(m.organisation.id);
    let view = memberships
        .iter()
        .find(|m| m.organisation.id == caller.organisation.id)
        .or_else(|| memberships.iter().filter(shown).find(|m| m.is_default))
        .or_else(|| memberships.iter().find(shown));
    OutputUser {
        id: format_id(user.id),
        created_by: user.created_by.clone(),
        created_at: user.created_at,
        updated_by: user.updated_by.clone(),
        updated_at: user.updated_at,
        login: user.login.clone(),
        name: user.name.clone(),
        email: user.email.clone(),
        has_key: user.api_key_hash.is_some(),
        has_password: user.password_hash.is_some(),
        has_mfa: user.totp_secret.is_some(),
        locked: user.locked,
        profile: view.map(|m| m.profile.name.clone()).unwrap_or_default(),
        permissions: view
            .map(|m| m.profile.permission_list())
            .unwrap_or_default(),
        organisation: view
            .map(|m| m.organisation.name.clone())
            .unwrap_or_default(),
        avatar: user.avatar.clone(),
        organisations: memberships
            .iter()
            .filter(|m| sees_all || caller.is_member_of(m.organisation.id))
            .map(|m| OutputOrganisationProfile {
                organisation_id: format_id(m.organisation.id),
                organisation: m.organisation.name.clone(),
                profile: m.profile.name.clone(),
            })
            .collect(),
        user_type: user.user_type.clone(),
        default_organisation: memberships
            .iter()
            .find(|m| m.is_default)
            .filter(|m| sees_all || caller.is_member_of(m.organisation.id))
            .map(|m| m.organisation.name.clone()),
        extra_data: Map::new(),
    }
}

/// Renders a profile.
pub fn render_profile(p: &ProfileRow) -> OutputProfile {
    let perms = p.permission_list();
    let for_admin = permissions::is_admin_profile(&perms);
    OutputProfile {
        id: format_id(p.id),
        kind: "Profile".into(),
        created_by: p.created_by.clone(),
        created_at: p.created_at,
        updated_by: p.updated_by.clone(),
        updated_at: p.updated_at,
        name: p.name.clone(),
        consumes_license: !perms.is_empty(),
        permissions: perms,
        editable: permissions::is_editable(&p.name),
        is_admin: for_admin,
        for_admin,
        for_org: !for_admin,
        for_external: false,
        profile_type: if for_admin { "Admin" } else { "Organisation" }.into(),
    }
}

/// Renders a custom field definition.
pub fn render_custom_field(f: &CustomFieldRow) -> OutputCustomField {
    OutputCustomField {
        id: format_id(f.id),
        kind: "CustomField".into(),
        created_by: f.created_by.clone(),
        created_at: f.created_at,
        updated_by: f.updated_by.clone(),
        updated_at: f.updated_at,
        name: f.name.clone(),
        display_name: f.display_name.clone(),
        group: f.group_name.clone(),
        description: f.description.clone(),
        field_type: CustomFieldType::parse(&f.field_type).unwrap_or(CustomFieldType::String),
        options: serde_json::from_str(&f.options).unwrap_or_default(),
        mandatory: f.mandatory,
        extra_data: Map::new(),
    }
}

/// Renders an observable type.
pub fn render_observable_type(
    t: &crate::db::models::ObservableTypeRow,
) -> shared_models::hive::OutputObservableType {
    shared_models::hive::OutputObservableType {
        id: format_id(t.id),
        kind: "ObservableType".into(),
        created_by: t.created_by.clone(),
        created_at: t.created_at,
        name: t.name.clone(),
        is_attachment: t.is_attachment,
    }
}
