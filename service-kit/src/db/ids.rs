//! Entity ids and timestamps.
//!
//! Ids are 63-bit integers shown as `~<decimal>` as TheHive does. They are time-ordered
//! (milliseconds since 2024, a random 10-bit node number chosen at start, a 12-bit sequence),
//! so that sorting by id reproduces creation order and several instances can allocate ids
//! without asking the database.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

const EPOCH_MS: i64 = 1_704_067_200_000; // 2024-01-01T00:00:00Z

static LAST: AtomicI64 = AtomicI64::new(0);
static NODE: OnceLock<i64> = OnceLock::new();

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A new id, greater than every id this process allocated before.
pub fn next_id() -> i64 {
    let node = *NODE.get_or_init(|| i64::from(rand::random::<u16>() & 0x3ff));
    let base = ((now_ms() - EPOCH_MS).max(0) << 22) | (node << 12);
    let mut last = LAST.load(Ordering::Relaxed);
    loop {
        let candidate = base.max(last + 1);
        match LAST.compare_exchange_weak(last, candidate, Ordering::SeqCst, Ordering::Relaxed) {
            Ok(_) => return candidate,
            Err(actual) => last = actual,
        }
    }
}

/// The wire form of an id: `~123`.
pub fn format_id(id: i64) -> String {
    format!("~{id}")
}

/// Parses `~123` (or a bare number) into an id; anything else is a name, not an id.
pub fn parse_id(s: &str) -> Option<i64> {
    s.strip_prefix('~').and_then(|n| n.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_increase_and_round_trip() {
        let a = next_id();
        let b = next_id();
        assert!(b > a);
        assert_eq!(parse_id(&format_id(a)), Some(a));
        assert_eq!(parse_id("admin"), None);
    }
}
