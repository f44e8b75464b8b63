//! Observables: expansion of an input (several `data` values, several files) into new
//! observables, insertion under a case or an alert with TheHive's uniqueness rule
//! ((dataType, data), or the file's hash, once per case or alert), updates and copies.

use super::find_observable;
use super::Actor;
use crate::audit::{self, ObjectType, Root};
use crate::db::casework::{AttachmentRow, ObservableRow};
use crate::db::schema::{attachments, observable_types, observables};
use crate::db::{next_id, now_ms, DbConn};
use crate::domain::values::{self, Patch};
use diesel::prelude::*;
use serde_json::Value;
use service_kit::datastore::FilePart;
use service_kit::error::ApiError;
use shared_models::casework::InputObservable;
use std::collections::HashMap;

/// Where an observable lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parent {
    /// In a case.
    Case(i64),
    /// In an alert.
    Alert(i64),
}

impl Parent {
    /// The audit root of what it holds.
    pub fn root(self) -> Option<Root> {
        Some(match self {
            Parent::Case(id) => Root::Case(id),
            Parent::Alert(id) => Root::Alert(id),
        })
    }
}

/// A file for a new observable.
#[derive(Debug, Clone)]
pub struct NewFile {
    /// File name.
    pub name: String,
    /// MIME type.
    pub content_type: String,
    /// SHA-256, SHA-1, MD5 (hex) and size.
    pub sha256: String,
    /// SHA-1.
    pub sha1: String,
    /// MD5.
    pub md5: String,
    /// Size.
    pub size: i64,
}

impl From<&FilePart> for NewFile {
    fn from(f: &FilePart) -> Self {
        NewFile {
            name: f.filename.clone(),
            content_type: f.content_type.clone(),
            sha256: f.stored.sha256.clone(),
            sha1: f.stored.sha1.clone(),
            md5: f.stored.md5.clone(),
            size: i64::try_from(f.stored.size).unwrap_or(i64::MAX),
        }
    }
}

impl From<&AttachmentRow> for NewFile {
    fn from(a: &AttachmentRow) -> Self {
        NewFile {
            name: a.name.clone(),
            content_type: a.content_type.clone(),
            sha256: a.sha256.clone(),
            sha1: a.sha1.clone(),
            md5: a.md5.clone(),
            size: a.size,
        }
    }
}

/// A checked observable, not stored yet.
#[derive(Debug, Clone)]
pub struct NewObservable {
    /// Type.
    pub data_type: String,
    /// Value (none for files).
    pub data: Option<String>,
    /// File.
    pub file: Option<NewFile>,
    /// Description.
    pub message: Option<String>,
    /// TLP.
    pub tlp: i32,
    /// PAP.
    pub pap: i32,
    /// Tags.
    pub tags: Vec<String>,
    /// IOC flag.
    pub ioc: bool,
    /// Sighted flag.
    pub sighted: bool,
    /// Sighting date.
    pub sighted_at: Option<i64>,
    /// Excluded from similarity.
    pub ignore_similarity: bool,
    /// Analyzer summaries (kept when copied).
    pub reports: String,
}

impl NewObservable {
    /// What similarity compares: the SHA-256 of the value, or of the file.
    pub fn data_hash(&self) -> String {
        match &self.file {
            Some(f) => f.sha256.clone(),
            None => {
                use sha2::{Digest, Sha256};
                hex::encode(Sha256::digest(self.data.as_deref().unwrap_or_default()))
            }
        }
    }

    /// The uniqueness key inside a case or an alert.
    pub fn key(&self) -> (String, String) {
        (self.data_type.clone(), self.data_hash())
    }
}

/// Most observables created by one request.
pub const MAX_PER_REQUEST: usize = 10_000;

/// How long this process trusts its copy of the observable types. Another instance's new
/// or deleted type is seen at most this late; this instance's own changes at once.
const TYPES_TTL: std::time::Duration = std::time::Duration::from_secs(10);

type TypeCache = std::sync::RwLock<Option<(std::time::Instant, HashMap<String, bool>)>>;

fn type_cache() -> &'static TypeCache {
    static CACHE: std::sync::OnceLock<TypeCache> = std::sync::OnceLock::new();
    CACHE.get_or_init(|| std::sync::RwLock::new(None))
}

/// Forgets the cached observable types (after a change).
pub fn forget_types() {
    if let Ok(mut g) = type_cache().write() {
        *g = None;
    }
}

/// Observable types: name → holds a file.
pub fn types(c: &mut DbConn) -> QueryResult<HashMap<String, bool>> {
    if let Ok(g) = type_cache().read() {
        if let Some((at, map)) = g.as_ref() {
            if at.elapsed() < TYPES_TTL {
                return Ok(map.clone());
            }
        }
    }
    let map: HashMap<String, bool> = observable_types::table
        .select((observable_types::name, observable_types::is_attachment))
        .load::<(String, bool)>(c)?
        .into_iter()
        .collect();
    if let Ok(mut g) = type_cache().write() {
        *g = Some((std::time::Instant::now(), map.clone()));
    }
    Ok(map)
}

/// A file already stored, named by its SHA-256, that `who` may see (the access layer).
fn file_from_reference(c: &mut DbConn, who: &Actor, v: &Value) -> Result<NewFile, ApiError> {
    use crate::access::{visible, Entity};
    let id = v.get("id").and_then(Value::as_str).unwrap_or_default();
    let found: Option<AttachmentRow> = attachments::table
        .filter(visible(Entity::Attachment, who, "attachments"))
        .filter(attachments::sha256.eq(id))
        .select(AttachmentRow::as_select())
        .first(c)
        .optional()?;
    let mut f = NewFile::from(
        &found.ok_or_else(|| ApiError::NotFound(format!("Attachment {id} not found")))?,
    );
    if let Some(name) = v.get("name").and_then(Value::as_str) {
        f.name = service_kit::body::base_name(name);
    }
    if let Some(ct) = v.get("contentType").and_then(Value::as_str) {
        f.content_type = service_kit::datastore::content_type(ct, &f.name);
    }
    Ok(f)
}

/// Expands one input into new observables. `files` are the multipart files; `default_part`
/// names the part whose files become observables when the input names none (`attachment`
/// for the observable routes).
pub fn expand(
    c: &mut DbConn,
    who: &Actor,
    types: &HashMap<String, bool>,
    input: &InputObservable,
    files: &[FilePart],
    default_part: Option<&str>,
    at: &str,
) -> Result<Vec<NewObservable>, ApiError> {
    let field = |f: &str| format!("{at}{f}");
    let data_type = input.data_type.trim().to_string();
    let is_file = *types.get(&data_type).ok_or_else(|| {
        ApiError::attribute(
            &field("dataType"),
            format!("observable type {data_type} does not exist"),
        )
    })?;
    let base = NewObservable {
        data_type: data_type.clone(),
        data: None,
        file: None,
        message: values::opt_text(
            &field("message"),
            input.message.as_deref(),
            values::MAX_DESCRIPTION,
        )?,
        tlp: values::check_range(&field("tlp"), input.tlp.unwrap_or(2), 0, 4)?,
        pap: values::check_range(&field("pap"), input.pap.unwrap_or(2), 0, 3)?,
        tags: values::tags(&field("tags"), input.tags.as_deref().unwrap_or_default())?,
        ioc: input.ioc.unwrap_or(false),
        sighted: input.sighted.unwrap_or(false),
        sighted_at: input.sighted_at,
        ignore_similarity: input.ignore_similarity.unwrap_or(false),
        reports: "{}".into(),
    };
    let mut out = Vec::new();
    if is_file {
        let mut found: Vec<NewFile> = Vec::new();
        match &input.attachment {
            Some(Value::String(part)) => {
                found.extend(files.iter().filter(|f| &f.field == part).map(NewFile::from));
                if found.is_empty() {
                    return Err(ApiError::attribute(
                        &field("attachment"),
                        format!("no file part named {part}"),
                    ));
                }
            }
            Some(Value::Array(items)) => {
                for item in items {
                    match item {
                        Value::String(part) => {
                            let before = found.len();
                            found.extend(
                                files.iter().filter(|f| &f.field == part).map(NewFile::from),
                            );
                            if found.len() == before {
                                return Err(ApiError::attribute(
                                    &field("attachment"),
                                    format!("no file part named {part}"),
                                ));
                            }
                        }
                        other => found.push(file_from_reference(c, who, other)?),
                    }
                }
            }
            Some(obj @ Value::Object(_)) => found.push(file_from_reference(c, who, obj)?),
            Some(Value::Null) | None => {
                if let Some(part) = default_part {
                    found.extend(files.iter().filter(|f| f.field == part).map(NewFile::from));
                }
            }
            Some(other) => {
                return Err(ApiError::attribute(
                    &field("attachment"),
                    format!("expected a part name or an attachment, got {other}"),
                ))
            }
        }
        if found.is_empty() {
            return Err(ApiError::attribute(
                &field("attachment"),
                format!("an observable of type {data_type} needs a file"),
            ));
        }
        for f in found {
            out.push(NewObservable {
                file: Some(f),
                ..base.clone()
            });
        }
    } else {
        let data = input.data.clone().map(|d| d.into_vec()).unwrap_or_default();
        if data.is_empty() {
            return Err(ApiError::missing(&field("data")));
        }
        for d in data {
            let d = values::text(&field("data"), &d, 1024 * 1024)?;
            out.push(NewObservable {
                data: Some(d),
                ..base.clone()
            });
        }
    }
    Ok(out)
}

/// Inserts observables under `parent`; returns the stored rows, in input order. A duplicate
/// (same type and value or file) is not an error, as in TheHive: its tags are merged into the
/// existing observable, which is returned in its place.
pub fn insert(
    c: &mut DbConn,
    actor: &Actor,
    parent: Parent,
    news: Vec<NewObservable>,
) -> Result<Vec<ObservableRow>, ApiError> {
    if news.len() > MAX_PER_REQUEST {
        return Err(ApiError::BadRequest(format!(
            "at most {MAX_PER_REQUEST} observables per request"
        )));
    }
    insert_into(c, actor, parent, news, false)
}

/// As [`insert`]; `fresh` says the parent was just created (no observables to compare with).
pub fn insert_into(
    c: &mut DbConn,
    actor: &Actor,
    parent: Parent,
    news: Vec<NewObservable>,
    fresh: bool,
) -> Result<Vec<ObservableRow>, ApiError> {
    // Only what the actor sees can be merged into (and answered): a partner adding a value
    // the owner holds unshared gets an observable of its own.
    let existing = if fresh {
        Vec::new()
    } else {
        visible_children(c, actor, parent)?
    };
    let mut by_key: HashMap<(String, String), ObservableRow> = existing
        .into_iter()
        .map(|o| ((o.data_type.clone(), o.data_hash.clone()), o))
        .collect();
    let now = now_ms();
    let mut out = Vec::with_capacity(news.len());
    let mut pending: Vec<ObservableRow> = Vec::with_capacity(news.len());
    for n in news {
        let key = n.key();
        if let Some(found) = by_key.get_mut(&key) {
            let tags = values::union(&values::tags_of(&found.tags), &n.tags);
            let new_tags = values::tags_json(&tags);
            // Analyzer summaries merge too (a case merge must not lose them): the existing
            // entries stay, the copy's other analyzers are added.
            let new_reports = merge_reports(&found.reports, &n.reports);
            if new_tags != found.tags || new_reports != found.reports {
                found.tags = new_tags;
                found.reports = new_reports;
                if let Some(p) = pending.iter_mut().find(|p| p.id == found.id) {
                    // Not stored yet: the merged tags go in with it.
                    p.tags = found.tags.clone();
                    p.reports = found.reports.clone();
                } else {
                    found.updated_by = Some(actor.login.clone());
                    found.updated_at = Some(now);
                    diesel::update(observables::table.find(found.id))
                        .set(&*found)
                        .execute(c)?;
                    let mut details = serde_json::Map::new();
                    details.insert(
                        "tags".into(),
                        serde_json::json!(values::tags_of(&found.tags)),
                    );
                    audit::updated_with(
                        actor,
                        ObjectType::Observable,
                        found.id,
                        details,
                        parent.root(),
                    );
                }
            }
            out.push(found.clone());
            continue;
        }
        let attachment_id = match &n.file {
            Some(f) => {
                let id = next_id();
                diesel::insert_into(attachments::table)
                    .values(AttachmentRow {
                        id,
                        organisation_id: actor.org_id,
                        owner_id: None,
                        name: f.name.clone(),
                        content_type: f.content_type.clone(),
                        size: f.size,
                        sha256: f.sha256.clone(),
                        sha1: f.sha1.clone(),
                        md5: f.md5.clone(),
                        created_by: actor.login.clone(),
                        created_at: now,
                    })
                    .execute(c)?;
                Some(id)
            }
            None => None,
        };
        let row = ObservableRow {
            id: next_id(),
            organisation_id: actor.org_id,
            case_id: match parent {
                Parent::Case(id) => Some(id),
                Parent::Alert(_) => None,
            },
            alert_id: match parent {
                Parent::Alert(id) => Some(id),
                Parent::Case(_) => None,
            },
            data_type: n.data_type.clone(),
            data: n.data.clone(),
            attachment_id,
            data_hash: n.data_hash(),
            tlp: n.tlp,
            pap: n.pap,
            tags: values::tags_json(&n.tags),
            ioc: n.ioc,
            sighted: n.sighted,
            sighted_at: n.sighted_at,
            ignore_similarity: n.ignore_similarity,
            message: n.message.clone(),
            reports: n.reports.clone(),
            created_by: actor.login.clone(),
            created_at: now,
            updated_by: None,
            updated_at: None,
        };
        pending.push(row.clone());
        by_key.insert(key, row.clone());
        out.push(row);
    }
    insert_rows(c, &pending)?;
    for row in &pending {
        audit::created(actor, ObjectType::Observable, row.id, row, parent.root());
    }
    if let Parent::Case(case_id) = parent {
        for row in &pending {
            crate::casework::shares::auto_share(c, case_id, row.id, false)?;
        }
    }
    Ok(out)
}

/// Inserts rows in statements of up to 100 rows each.
fn insert_rows(c: &mut DbConn, rows: &[ObservableRow]) -> QueryResult<()> {
    for chunk in rows.chunks(100) {
        // One statement per chunk; batch inserts go through the concrete connection.
        service_kit::on_backend!(c, conn => diesel::insert_into(observables::table)
            .values(chunk)
            .execute(conn)?);
    }
    Ok(())
}

/// The observables of a case or an alert, oldest first.
pub fn children(c: &mut DbConn, parent: Parent) -> QueryResult<Vec<ObservableRow>> {
    let q = observables::table
        .select(ObservableRow::as_select())
        .order(observables::id.asc());
    match parent {
        Parent::Case(id) => q.filter(observables::case_id.eq(id)).load(c),
        Parent::Alert(id) => q.filter(observables::alert_id.eq(id)).load(c),
    }
}

/// The observables of a case or an alert that `who` sees (the access layer's predicate),
/// oldest first: what every reader shows, exports or compares.
pub fn visible_children(
    c: &mut DbConn,
    who: &crate::access::Actor,
    parent: Parent,
) -> QueryResult<Vec<ObservableRow>> {
    use crate::access::{visible, Entity};
    let q = observables::table
        .filter(visible(Entity::Observable, who, "observables"))
        .select(ObservableRow::as_select())
        .order(observables::id.asc());
    match parent {
        Parent::Case(id) => q.filter(observables::case_id.eq(id)).load(c),
        Parent::Alert(id) => q.filter(observables::alert_id.eq(id)).load(c),
    }
}

/// The attachments of these observables, by id.
pub fn attachments_of(
    c: &mut DbConn,
    rows: &[ObservableRow],
) -> QueryResult<HashMap<i64, AttachmentRow>> {
    let ids: Vec<i64> = rows.iter().filter_map(|r| r.attachment_id).collect();
    let mut out = HashMap::new();
    for chunk in ids.chunks(500) {
        let found: Vec<AttachmentRow> = attachments::table
            .filter(attachments::id.eq_any(chunk))
            .select(AttachmentRow::as_select())
            .load(c)?;
        out.extend(found.into_iter().map(|a| (a.id, a)));
    }
    Ok(out)
}

/// Stored observables as new ones (to copy them into a case).
pub fn as_new(c: &mut DbConn, rows: &[ObservableRow]) -> QueryResult<Vec<NewObservable>> {
    let atts = attachments_of(c, rows)?;
    Ok(rows
        .iter()
        .map(|o| NewObservable {
            data_type: o.data_type.clone(),
            data: o.data.clone(),
            file: o
                .attachment_id
                .and_then(|a| atts.get(&a))
                .map(NewFile::from),
            message: o.message.clone(),
            tlp: o.tlp,
            pap: o.pap,
            tags: values::tags_of(&o.tags),
            ioc: o.ioc,
            sighted: o.sighted,
            sighted_at: o.sighted_at,
            ignore_similarity: o.ignore_similarity,
            reports: o.reports.clone(),
        })
        .collect())
}

/// Applies a PATCH body to an observable.
pub fn apply_patch(
    o: &mut ObservableRow,
    p: &Patch<'_>,
    types: &HashMap<String, bool>,
) -> Result<(), ApiError> {
    if let Some(dt) = p.string("dataType")? {
        let is_file = types.get(dt).ok_or_else(|| {
            ApiError::attribute("dataType", format!("observable type {dt} does not exist"))
        })?;
        if *is_file != o.attachment_id.is_some() {
            return Err(ApiError::attribute(
                "dataType",
                "cannot change between file and non-file types",
            ));
        }
        o.data_type = dt.to_string();
    }
    if let Some(m) = p.nullable_string("message")? {
        o.message = values::opt_text("message", m, values::MAX_DESCRIPTION)?;
    }
    if let Some(t) = p.int_in("tlp", 0, 4)? {
        o.tlp = t;
    }
    if let Some(t) = p.int_in("pap", 0, 3)? {
        o.pap = t;
    }
    let mut tags = values::tags_of(&o.tags);
    if let Some(t) = p.strings("tags")? {
        tags = values::tags("tags", &t)?;
    }
    if let Some(add) = p.strings("addTags")? {
        tags = values::union(&tags, &values::tags("addTags", &add)?);
    }
    if let Some(rm) = p.strings("removeTags")? {
        tags.retain(|t| !rm.contains(t));
    }
    o.tags = values::tags_json(&tags);
    if let Some(b) = p.bool("ioc")? {
        o.ioc = b;
    }
    if let Some(b) = p.bool("sighted")? {
        o.sighted = b;
    }
    if let Some(d) = p.nullable_int("sightedAt")? {
        o.sighted_at = d;
    }
    if let Some(b) = p.bool("ignoreSimilarity")? {
        o.ignore_similarity = b;
    }
    Ok(())
}

/// Deletes observables and their attachment rows (files stay in the datastore: other
/// observables may share them).
pub fn delete(c: &mut DbConn, rows: &[ObservableRow]) -> QueryResult<()> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let atts: Vec<i64> = rows.iter().filter_map(|r| r.attachment_id).collect();
    for chunk in ids.chunks(500) {
        diesel::delete(observables::table.filter(observables::id.eq_any(chunk))).execute(c)?;
    }
    super::collab::delete_for_items(c, &ids)?;
    for chunk in atts.chunks(500) {
        diesel::delete(attachments::table.filter(attachments::id.eq_any(chunk))).execute(c)?;
    }
    Ok(())
}

/// `existing` analyzer summaries (JSON object text) with those of `added` it lacks.
fn merge_reports(existing: &str, added: &str) -> String {
    let mut mine: serde_json::Map<String, Value> =
        serde_json::from_str(existing).unwrap_or_default();
    let theirs: serde_json::Map<String, Value> = serde_json::from_str(added).unwrap_or_default();
    if theirs.keys().all(|k| mine.contains_key(k)) {
        return existing.to_string();
    }
    for (k, v) in theirs {
        mine.entry(k).or_insert(v);
    }
    Value::Object(mine).to_string()
}

/// Deletes an observable `who` found (its case must let `who` change observables).
pub fn delete_row(
    c: &mut DbConn,
    who: &Actor,
    o: crate::db::casework::ObservableRow,
) -> Result<(), ApiError> {
    if let Some(k) = o.case_id {
        crate::casework::check_write(c, who, k, "manageObservable")?;
    }
    let mut details = serde_json::Map::new();
    details.insert("dataType".into(), o.data_type.clone().into());
    if let Some(d) = &o.data {
        details.insert("data".into(), d.clone().into());
    }
    audit::deleted(
        who,
        ObjectType::Observable,
        o.id,
        details,
        Root::of(o.case_id, o.alert_id),
    );
    Ok(delete(c, &[o])?)
}

pub fn update_one(
    c: &mut DbConn,
    actor: &Actor,
    key: &str,
    body: &Value,
    strict: Option<&[&str]>,
) -> Result<crate::db::casework::ObservableRow, ApiError> {
    let mut o = find_observable(c, actor, key)?;
    if let Some(k) = o.case_id {
        crate::casework::check_write(c, actor, k, "manageObservable")?;
    }
    let types = types(c)?;
    let p = Patch::new(body)?;
    let before = o.clone();
    apply_patch(&mut o, &p, &types)?;
    audit::updated(
        actor,
        ObjectType::Observable,
        o.id,
        &before,
        &o,
        Root::of(o.case_id, o.alert_id),
    );
    if let Some(rendered) = strict {
        p.finish(rendered)?;
    }
    o.updated_by = Some(actor.login.clone());
    o.updated_at = Some(now_ms());
    diesel::update(observables::table.find(o.id))
        .set(&o)
        .execute(c)?;
    Ok(o)
}
