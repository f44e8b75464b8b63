//! What a service attaches to every write transaction, and the request a transaction works
//! for.
//!
//! A service registers [`TxHooks`] once ([`super::Db::set_hooks`]); every [`super::Db::write`]
//! then calls them on the blocking thread that runs the transaction: `begin` before the
//! work, `before_commit` inside the transaction after it (what it writes commits or rolls
//! back with the work; an error rolls everything back), and `end` once the transaction is
//! over. hive-service writes its audit trail this way: each use case states what it changed,
//! and the hook stores it with the change, so no write path can commit without its record.
//!
//! The request id (the one the access log prints and `X-Request-Id` returns) follows the
//! request into its transactions: the kit's middleware sets it for the handler
//! ([`scope`]), [`super::Db::write`] carries it to the blocking thread, and
//! [`request_id`] reads it there.

use super::DbConn;
use crate::error::ApiError;
use std::cell::RefCell;

/// Work a service does around each write transaction (see the module documentation).
pub trait TxHooks: Send + Sync + 'static {
    /// Before the transaction's work, on its thread.
    fn begin(&self);
    /// Inside the transaction, after its work succeeded: may write; an error rolls back.
    fn before_commit(&self, c: &mut DbConn) -> Result<(), ApiError>;
    /// After the transaction, committed or rolled back.
    fn end(&self, committed: bool);
}

tokio::task_local! {
    static REQUEST: String;
}

thread_local! {
    static TX_REQUEST: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Runs `fut` (a request's handling) with `request_id` as its request id.
pub async fn scope<F: std::future::Future>(request_id: String, fut: F) -> F::Output {
    REQUEST.scope(request_id, fut).await
}

/// The request id of the task this is called from, if it handles a request.
pub fn current_request() -> Option<String> {
    REQUEST.try_with(Clone::clone).ok()
}

/// The request id of the transaction running on this thread: the request's, or none for
/// background work.
pub fn request_id() -> Option<String> {
    TX_REQUEST.with(|r| r.borrow().clone())
}

/// Runs `f` on this thread with `request_id` as the transaction's request id.
pub(super) fn with_request<T>(request_id: Option<String>, f: impl FnOnce() -> T) -> T {
    let before = TX_REQUEST.with(|r| r.replace(request_id));
    let out = f();
    TX_REQUEST.with(|r| *r.borrow_mut() = before);
    out
}
