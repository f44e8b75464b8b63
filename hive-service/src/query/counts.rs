//! The upkeep of `alert_tag_counts` (migration `alert_tag_counts`): the triggers insert one
//! delta row (+1 or -1) per change of an alert's tag row, so that writers never wait on a
//! shared counter; [`compact`] merges the deltas of each combination into one row, every
//! [`EVERY`] while the service runs. Totals read the sum of the rows, merged or not, so they
//! are exact at any time; merging only keeps them cheap.

use crate::db::{Db, DbConn};
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use service_kit::error::ApiError;
use std::time::Duration;

/// How often the deltas are merged.
pub const EVERY: Duration = Duration::from_secs(5);

/// Deltas merged in one pass beyond which PostgreSQL's table is rewritten ([`shrink`]).
pub const SHRINK_AFTER: usize = 50_000;

const KEY: &str = "organisation_id, tag, status, severity, is_read, imported";

#[derive(QueryableByName)]
struct Top {
    #[diesel(sql_type = diesel::sql_types::Nullable<BigInt>)]
    top: Option<i64>,
}

/// Merges the delta rows of every combination that has more than one (and drops those that
/// sum to 0), in one transaction: the rows present when it starts become one row each. Rows
/// written meanwhile by other transactions are left for the next pass (on PostgreSQL the pass
/// reads one snapshot, so a delta committed during it is neither summed nor deleted).
/// Answers how many rows it removed.
pub fn compact(c: &mut DbConn) -> Result<usize, ApiError> {
    let pg = matches!(c, DbConn::Postgresql(_));
    if pg {
        diesel::sql_query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ").execute(c)?;
    }
    let top = diesel::sql_query("SELECT MAX(id) AS top FROM alert_tag_counts")
        .get_result::<Top>(c)?
        .top;
    let Some(top) = top else { return Ok(0) };
    // Bound values: $1, $2 on PostgreSQL, ? on SQLite.
    let (p1, p2) = if pg { ("$1", "$2") } else { ("?", "?") };
    let merge = format!(
        "INSERT INTO alert_tag_counts ({KEY}, n) SELECT {KEY}, SUM(n) FROM alert_tag_counts \
         WHERE id <= {p1} GROUP BY {KEY} HAVING COUNT(*) > 1 AND SUM(n) <> 0"
    );
    let delete = format!(
        "DELETE FROM alert_tag_counts WHERE id <= {p1} AND ({KEY}) IN (SELECT {KEY} \
         FROM alert_tag_counts WHERE id <= {p2} GROUP BY {KEY} HAVING COUNT(*) > 1 OR SUM(n) = 0)"
    );
    diesel::sql_query(merge).bind::<BigInt, _>(top).execute(c)?;
    let removed = diesel::sql_query(delete)
        .bind::<BigInt, _>(top)
        .bind::<BigInt, _>(top)
        .execute(c)?;
    Ok(removed)
}

/// Merges now, then every [`EVERY`], for as long as the runtime runs. A failed pass (a
/// concurrent pass of another instance on the same database, the database away) is retried
/// at the next tick.
pub fn keep_compact(db: Db) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match db.write(compact).await {
                Ok(0) => {}
                Ok(n) => {
                    tracing::debug!(removed = n, "alert_tag_counts merged");
                    if n >= SHRINK_AFTER && !db.is_sqlite() {
                        shrink(&db).await;
                    }
                }
                Err(e) => tracing::debug!(error = %e, "alert_tag_counts not merged this time"),
            }
        }
    });
}

/// After a burst (a feeder's bulk of alerts, a migration), PostgreSQL's table holds a few live
/// rows in the pages of every merged delta: its planner then prices the index by those pages
/// and reads the whole table instead (35 ms for a million merged deltas, against 0.3 ms). The
/// table is rewritten to its live rows (an exclusive lock for the few milliseconds the copy of
/// a few rows takes; given up after 2 s of waiting behind another transaction, and tried again
/// after the next burst).
async fn shrink(db: &Db) {
    let done = db
        .read(|c| {
            diesel::sql_query("SET lock_timeout = '2s'").execute(c)?;
            let out = diesel::sql_query("VACUUM (FULL, ANALYZE) alert_tag_counts").execute(c);
            diesel::sql_query("RESET lock_timeout").execute(c)?;
            out?;
            Ok(())
        })
        .await;
    if let Err(e) = done {
        tracing::info!(error = %e, "alert_tag_counts not rewritten after a burst");
    }
}
