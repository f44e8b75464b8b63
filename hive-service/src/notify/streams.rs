//! Live events for clients: TheHive 4's long-polled streams (`/api/stream`, for its
//! scripts) and a Server-Sent Events stream (`/api/v1/events`, for browsers). Both follow
//! the audit feed of this instance and show each caller only the records the access layer
//! lets them see.

use crate::access::{self, Actor, Entity};
use crate::audit::Stored;
use crate::db::schema::audits;
use crate::db::{Db, DbConn};
use diesel::prelude::*;
use serde_json::{json, Map, Value};
use service_kit::error::ApiError;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Longest a poll waits for a first event.
pub const POLL_WAIT: Duration = Duration::from_secs(60);
/// After a first event, how long a poll waits for more (and at most).
const GRACE: Duration = Duration::from_millis(100);
const MAX_WAIT_AFTER_FIRST: Duration = Duration::from_secs(1);
/// A stream nobody polled for this long is gone.
const IDLE: Duration = Duration::from_secs(300);
/// Records kept per stream between two polls.
const MAX_QUEUED: usize = 5_000;
/// Streams per user (a new one replaces the user's oldest), and in all.
const MAX_PER_USER: usize = 10;
const MAX_STREAMS: usize = 2_000;

/// One long-polled stream.
#[derive(Debug)]
struct Stream {
    login: String,
    queue: Mutex<VecDeque<Arc<Stored>>>,
    arrived: tokio::sync::Notify,
    polled: Mutex<Instant>,
}

/// The streams of this instance.
#[derive(Debug, Default)]
pub struct Streams {
    map: Mutex<HashMap<String, Arc<Stream>>>,
}

impl Streams {
    /// Starts following `feed`.
    pub fn start(feed: &crate::audit::Feed) -> Arc<Streams> {
        let me = Arc::new(Streams::default());
        let mut rx = feed.subscribe();
        let s = me.clone();
        tokio::spawn(async move {
            loop {
                match rx.recv().await {
                    // All of them: the others of a request make its main one's summary.
                    Ok(rec) => s.push(rec),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                }
            }
        });
        me
    }

    fn push(&self, rec: Arc<Stored>) {
        let Ok(mut map) = self.map.lock() else { return };
        map.retain(|_, s| s.polled.lock().map(|p| p.elapsed() < IDLE).unwrap_or(false));
        for s in map.values() {
            if let Ok(mut q) = s.queue.lock() {
                if q.len() >= MAX_QUEUED {
                    q.pop_front();
                }
                q.push_back(rec.clone());
            }
            s.arrived.notify_one();
        }
    }

    /// A new stream for `login`: its id.
    pub fn create(&self, login: &str) -> Result<String, ApiError> {
        let mut map = self
            .map
            .lock()
            .map_err(|_| ApiError::internal("streams lock"))?;
        map.retain(|_, s| s.polled.lock().map(|p| p.elapsed() < IDLE).unwrap_or(false));
        // A user's oldest stream (least recently polled) makes room for the new one.
        let mine: Vec<(String, Instant)> = map
            .iter()
            .filter(|(_, s)| s.login == login)
            .map(|(id, s)| {
                let at = s
                    .polled
                    .lock()
                    .map(|p| *p)
                    .unwrap_or_else(|_| Instant::now());
                (id.clone(), at)
            })
            .collect();
        if mine.len() >= MAX_PER_USER {
            if let Some((oldest, _)) = mine.iter().min_by_key(|(_, at)| *at) {
                map.remove(oldest);
            }
        }
        if map.len() >= MAX_STREAMS {
            return Err(ApiError::TooManyRequests("too many open streams".into()));
        }
        let id: String = service_kit::auth::secrets::random_token(15)
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .chain(std::iter::repeat('x'))
            .take(20)
            .collect();
        map.insert(
            id.clone(),
            Arc::new(Stream {
                login: login.to_string(),
                queue: Mutex::new(VecDeque::new()),
                arrived: tokio::sync::Notify::new(),
                polled: Mutex::new(Instant::now()),
            }),
        );
        Ok(id)
    }

    /// Waits for the stream's next events (see the module documentation); `[]` after
    /// `wait` without any.
    pub async fn poll(
        &self,
        db: &Db,
        actor: Actor,
        id: &str,
        wait: Duration,
    ) -> Result<Vec<Value>, ApiError> {
        let stream = self
            .map
            .lock()
            .ok()
            .and_then(|m| m.get(id).cloned())
            .filter(|s| s.login == actor.login)
            .ok_or_else(|| ApiError::NotFound(format!("Stream {id} not found")))?;
        if let Ok(mut p) = stream.polled.lock() {
            *p = Instant::now();
        }
        let start = Instant::now();
        let mut first: Option<Instant> = None;
        loop {
            let have = stream.queue.lock().map(|q| !q.is_empty()).unwrap_or(false);
            if have && first.is_none() {
                first = Some(Instant::now());
            }
            let deadline = match first {
                Some(f) => {
                    if f.elapsed() >= MAX_WAIT_AFTER_FIRST {
                        break;
                    }
                    GRACE
                }
                None => match wait.checked_sub(start.elapsed()) {
                    Some(left) => left,
                    None => break,
                },
            };
            if tokio::time::timeout(deadline, stream.arrived.notified())
                .await
                .is_err()
                && first.is_some()
            {
                break;
            }
        }
        if let Ok(mut p) = stream.polled.lock() {
            *p = Instant::now();
        }
        let records: Vec<Arc<Stored>> = stream
            .queue
            .lock()
            .map(|mut q| q.drain(..).collect())
            .unwrap_or_default();
        if records.is_empty() {
            return Ok(Vec::new());
        }
        db.read(move |c| render_stream(c, &actor, &records)).await
    }
}

/// The records of `ids` that `who` may see.
pub fn visible_ids(c: &mut DbConn, who: &Actor, ids: &[i64]) -> QueryResult<Vec<i64>> {
    audits::table
        .filter(audits::id.eq_any(ids))
        .filter(access::visible(Entity::Audit, who, "audits"))
        .select(audits::id)
        .load(c)
}

/// TheHive 4's operation names.
fn operation(action: &str) -> &'static str {
    match action {
        "create" => "Creation",
        "update" | "merge" => "Update",
        "delete" => "Delete",
        _ => "Unknown",
    }
}

/// Stream items, newest first: TheHive 4's `{base, summary, _type: "audit"}`.
fn render_stream(
    c: &mut DbConn,
    who: &Actor,
    records: &[Arc<Stored>],
) -> Result<Vec<Value>, ApiError> {
    let ids: Vec<i64> = records.iter().map(|r| r.id).collect();
    let seen = visible_ids(c, who, &ids)?;
    // What else each request did (its other records the caller sees), for `summary`: a
    // transaction's records arrive together.
    let others: Vec<&Arc<Stored>> = records
        .iter()
        .filter(|r| !r.main && seen.contains(&r.id))
        .collect();
    let mut out = Vec::new();
    for r in records
        .iter()
        .rev()
        .filter(|r| r.main && seen.contains(&r.id))
    {
        let (_, object) = super::payload::objects(c, r)?;
        let mut summary: Map<String, Value> = Map::new();
        let mut count = |t: &str, op: &str| {
            let e = summary.entry(t.to_string()).or_insert_with(|| json!({}));
            let n = e.get(op).and_then(Value::as_i64).unwrap_or(0);
            e[op] = json!(n + 1);
        };
        count(r.object_type.v0_name(), operation(r.action.as_str()));
        for o in others.iter().filter(|o| o.request_id == r.request_id) {
            count(o.object_type.v0_name(), operation(o.action.as_str()));
        }
        let root = match r.root {
            Some(crate::audit::Root::Case(id)) | Some(crate::audit::Root::Alert(id)) => id,
            None => r.organisation_id,
        };
        out.push(json!({
            "base": {
                "_id": crate::db::format_id(r.id),
                "id": crate::db::format_id(r.id),
                "_type": "audit",
                "createdBy": r.by,
                "createdAt": r.at,
                "base": true,
                "details": Value::Object(r.details.clone()),
                "objectId": r.object_id.map(crate::db::format_id),
                "objectType": r.object_type.v0_name(),
                "operation": operation(r.action.as_str()),
                "requestId": r.request_id,
                "rootId": crate::db::format_id(root),
                "startDate": r.at,
                "object": object,
            },
            "summary": Value::Object(summary),
            "_type": "audit",
        }));
    }
    Ok(out)
}

/// Most Server-Sent Events connections of one instance.
pub const MAX_SSE: usize = 500;

/// Live Server-Sent Events connections.
static SSE_OPEN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Follows the feed for `who`: the chunks of a `text/event-stream` answer (`id`, `event`
/// `<objectType>.<action>`, `data` the version 1 webhook payload), a comment every 15 s to
/// keep the connection open. Ends when the receiver is dropped (the client left).
pub fn follow(
    db: Db,
    feed: &crate::audit::Feed,
    who: Actor,
) -> Result<tokio::sync::mpsc::Receiver<String>, ApiError> {
    use std::sync::atomic::Ordering;
    if SSE_OPEN.fetch_add(1, Ordering::SeqCst) >= MAX_SSE {
        SSE_OPEN.fetch_sub(1, Ordering::SeqCst);
        return Err(ApiError::TooManyRequests(
            "too many open event streams".into(),
        ));
    }
    let (tx, out) = tokio::sync::mpsc::channel::<String>(64);
    let mut rx = feed.subscribe();
    tokio::spawn(async move {
        struct Open;
        impl Drop for Open {
            fn drop(&mut self) {
                SSE_OPEN.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            }
        }
        let _open = Open;
        if tx.send(": connected\n\n".into()).await.is_err() {
            return;
        }
        loop {
            let first = tokio::select! {
                r = rx.recv() => r,
                _ = tokio::time::sleep(Duration::from_secs(15)) => {
                    if tx.send(": keep-alive\n\n".into()).await.is_err() {
                        return;
                    }
                    continue;
                }
                _ = tx.closed() => return,
            };
            let mut batch = match first {
                Ok(r) => vec![r],
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    let note = format!(": {n} events were missed (too slow)\n\n");
                    if tx.send(note).await.is_err() {
                        return;
                    }
                    continue;
                }
                Err(_) => return,
            };
            while batch.len() < 200 {
                match rx.try_recv() {
                    Ok(r) => batch.push(r),
                    Err(_) => break,
                }
            }
            let who2 = who.clone();
            let chunks = db
                .read(move |c| {
                    let ids: Vec<i64> = batch.iter().map(|r| r.id).collect();
                    let seen = visible_ids(c, &who2, &ids)?;
                    let mut out = Vec::new();
                    for r in batch.iter().filter(|r| seen.contains(&r.id)) {
                        let (v1, _) = super::payload::objects(c, r)?;
                        let ctx = super::payload::context(c, r.root)?;
                        let ev = super::payload::payload(
                            r,
                            (who2.org_id, &who2.org_name),
                            1,
                            &v1,
                            &ctx,
                            &|_| None,
                        );
                        out.push(format!(
                            "id: {}\nevent: {}.{}\ndata: {}\n\n",
                            r.id,
                            r.object_type.as_str(),
                            r.action.as_str(),
                            ev
                        ));
                    }
                    Ok(out)
                })
                .await;
            match chunks {
                Ok(chunks) => {
                    for ch in chunks {
                        if tx.send(ch).await.is_err() {
                            return;
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "event stream: records not read"),
            }
        }
    });
    Ok(out)
}
