//! Password checks for both services.
//!
//! A check costs an argon2 hash (7 MiB, a few milliseconds of CPU), so: checks run on a few
//! dedicated threads, one per CPU, each reusing one block of argon2 memory (a flood of logins
//! queues instead of exhausting memory); a successful check is remembered for a while, keyed
//! by a digest of the credentials, and forgotten as soon as the stored hash changes (any
//! instance may change it); unknown accounts are checked against a dummy hash so that they
//! take as long as known ones.
//!
//! Guessing is slowed without locking the rightful owner out ([`Throttle`]): a source address
//! past `auth.max_failed_logins` failures within `auth.lockout_window_secs` must wait, after
//! each further failure, twice as long as before (5 s, 10 s, 20 s... up to 15 minutes) and is
//! answered 429 until then, whatever account it tries; an account past that many failures
//! from anywhere gets its *failed* answers delayed progressively (up to 3 s), while its right
//! password still opens at once, from any address that is not itself throttled. A remembered
//! success (a Basic-auth feeder) skips the throttle. Every failure and every refusal is
//! logged with the login and the source address.

use crate::auth::secrets;
use crate::error::ApiError;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// One check for the hashing threads: password, stored hash, where to answer.
type Job = (String, String, oneshot::Sender<bool>);

/// Entries kept at most in each map; beyond that, expired ones go, then all.
const MAX_ENTRIES: usize = 10_000;

/// Longest wait imposed on a source address.
const MAX_SOURCE_DELAY: Duration = Duration::from_secs(15 * 60);

/// Longest delay added to a failed answer for an account under attack.
const MAX_ACCOUNT_DELAY: Duration = Duration::from_secs(3);

#[derive(Debug, Clone)]
struct Remembered {
    /// The stored hash that was checked.
    hash: String,
    expires: Instant,
}

/// Failures counted for one key (a source address, an account).
#[derive(Debug, Clone, Copy)]
struct Strikes {
    count: u32,
    first: Instant,
    last: Instant,
}

/// Failure counts per source address and per account, with progressive delays.
#[derive(Debug)]
pub struct Throttle {
    free: u32,
    window: Duration,
    sources: Mutex<HashMap<IpAddr, Strikes>>,
    accounts: Mutex<HashMap<String, Strikes>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The key of a source address: IPv6 addresses by their /64 (one host holds a whole /64).
fn source_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        v4 => v4,
    }
}

/// Adds a strike to `key` (a new window once the last one is over); returns the count.
fn strike<K: std::hash::Hash + Eq + Clone>(
    map: &mut HashMap<K, Strikes>,
    key: &K,
    window: Duration,
) -> u32 {
    let now = Instant::now();
    if map.len() >= MAX_ENTRIES && !map.contains_key(key) {
        map.retain(|_, s| s.last.elapsed() < window);
        // Still full: the stalest entry goes (never all of them, which would forgive every
        // attacker at once).
        if map.len() >= MAX_ENTRIES {
            if let Some(oldest) = map
                .iter()
                .min_by_key(|(_, s)| s.last)
                .map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
        }
    }
    let s = map.entry(key.clone()).or_insert(Strikes {
        count: 0,
        first: now,
        last: now,
    });
    if s.first.elapsed() >= window && s.last.elapsed() >= window {
        *s = Strikes {
            count: 0,
            first: now,
            last: now,
        };
    }
    s.count += 1;
    s.last = now;
    s.count
}

impl Throttle {
    /// `free` failures within `window` before delays start (0 = never throttle).
    pub fn new(free: u32, window: Duration) -> Throttle {
        Throttle {
            free,
            window,
            sources: Mutex::new(HashMap::new()),
            accounts: Mutex::new(HashMap::new()),
        }
    }

    /// The wait before the next attempt from a source with `count` failures.
    fn source_delay(&self, count: u32) -> Duration {
        if count < self.free {
            Duration::ZERO
        } else {
            Duration::from_secs(5u64 << (count - self.free).min(18)).min(MAX_SOURCE_DELAY)
        }
    }

    /// Admits an attempt from `source` or answers 429 while it must wait; an admitted
    /// attempt is counted at once (under the same lock), so that parallel guesses cannot all
    /// be admitted together, and given back by [`Throttle::succeed`]. `what` names the check
    /// in the log.
    pub fn admit(&self, source: Option<IpAddr>, login: &str, what: &str) -> Result<(), ApiError> {
        let (Some(ip), true) = (source, self.free > 0) else {
            return Ok(());
        };
        let key = source_key(ip);
        let mut sources = lock(&self.sources);
        if let Some(s) = sources.get(&key).copied() {
            let since = s.last.elapsed();
            let wait = self.source_delay(s.count);
            if since < self.window && wait > since {
                let retry = (wait - since).as_secs().max(1);
                tracing::warn!(login, source = %ip, failures = s.count, retry_after_secs = retry, "{what} throttled");
                return Err(ApiError::TooManyRequests(format!(
                    "Too many failed attempts from this address; retry in {retry} s"
                )));
            }
        }
        strike(&mut sources, &key, self.window);
        Ok(())
    }

    /// Records a failure of `login` from `source` (whose attempt [`Throttle::admit`]
    /// counted); returns how long to hold the answer.
    pub fn fail(&self, source: Option<IpAddr>, login: &str, what: &str) -> Duration {
        if self.free == 0 {
            tracing::warn!(login, source = ?source, "{what} failed");
            return Duration::ZERO;
        }
        let from_source = source
            .and_then(|ip| lock(&self.sources).get(&source_key(ip)).map(|s| s.count))
            .unwrap_or(0);
        let on_account = strike(&mut lock(&self.accounts), &login.to_string(), self.window);
        tracing::warn!(
            login,
            source = %source.map(|s| s.to_string()).unwrap_or_default(),
            failures_from_source = from_source,
            failures_of_account = on_account,
            "{what} failed"
        );
        let over = on_account.saturating_sub(self.free);
        if over == 0 {
            Duration::ZERO
        } else {
            (Duration::from_millis(100) * (1u32 << (over - 1).min(10))).min(MAX_ACCOUNT_DELAY)
        }
    }

    /// Forgets the failures of `login` (its right password was given) and gives back the
    /// attempt [`Throttle::admit`] counted for `source`.
    pub fn succeed(&self, source: Option<IpAddr>, login: &str) {
        lock(&self.accounts).remove(login);
        if let Some(ip) = source {
            if let Some(s) = lock(&self.sources).get_mut(&source_key(ip)) {
                s.count = s.count.saturating_sub(1);
            }
        }
    }

    /// Failures of an account in the current window.
    pub fn account_failures(&self, login: &str) -> u32 {
        lock(&self.accounts)
            .get(login)
            .filter(|s| s.last.elapsed() < self.window)
            .map_or(0, |s| s.count)
    }
}

/// Checks passwords; one per service, shared by all workers.
#[derive(Debug)]
pub struct PasswordChecker {
    remember_for: Duration,
    remembered: Mutex<HashMap<[u8; 32], Remembered>>,
    throttle: Throttle,
    dummy_hash: String,
    jobs: Mutex<mpsc::Sender<Job>>,
}

/// The one answer for every credential problem.
pub fn auth_failure() -> ApiError {
    ApiError::Authentication("Authentication failure".into())
}

impl PasswordChecker {
    /// `remember_secs`: how long a success is remembered; `max_failures` within
    /// `window_secs` before attempts are slowed (0 = never).
    pub fn new(remember_secs: u64, max_failures: u32, window_secs: u64) -> Self {
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..cpus {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("password-{i}"))
                .spawn(move || {
                    // argon2's working memory, allocated once per thread and reused.
                    let mut memory = Vec::new();
                    loop {
                        let job = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                        let Ok((password, hash, answer)) = job else {
                            return;
                        };
                        let _ = answer.send(secrets::verify_password_with(
                            &password,
                            &hash,
                            &mut memory,
                        ));
                    }
                });
            if let Err(e) = spawned {
                tracing::error!("cannot start a password thread: {e}");
            }
        }
        PasswordChecker {
            remember_for: Duration::from_secs(remember_secs),
            remembered: Mutex::new(HashMap::new()),
            throttle: Throttle::new(max_failures, Duration::from_secs(window_secs)),
            dummy_hash: secrets::hash_password(&secrets::random_token(16)).unwrap_or_default(),
            jobs: Mutex::new(tx),
        }
    }

    /// The failure counts (also used for second factors).
    pub fn throttle(&self) -> &Throttle {
        &self.throttle
    }

    /// Checks `password` for `login`, whose stored hash is `stored` (`None`: unknown account
    /// or no password), from `source`. Any failure is the same 401; a throttled source 429.
    pub async fn verify(
        &self,
        login: &str,
        password: &str,
        stored: Option<&str>,
        source: Option<IpAddr>,
    ) -> Result<(), ApiError> {
        let key = secrets::sha256(format!("{login}\0{password}").as_bytes());
        if stored.is_some_and(|h| self.is_remembered(&key, h)) {
            return Ok(());
        }
        self.throttle.admit(source, login, "login")?;
        let hash = stored.unwrap_or(&self.dummy_hash).to_string();
        let (answer, checked) = oneshot::channel();
        lock(&self.jobs)
            .send((password.to_string(), hash, answer))
            .map_err(|_| ApiError::internal("password threads stopped"))?;
        let ok = checked.await.unwrap_or(false) && !password.is_empty();
        match stored {
            Some(h) if ok => {
                self.throttle.succeed(source, login);
                let mut remembered = lock(&self.remembered);
                if remembered.len() >= MAX_ENTRIES {
                    let now = Instant::now();
                    remembered.retain(|_, r| r.expires > now);
                    if remembered.len() >= MAX_ENTRIES {
                        remembered.clear();
                    }
                }
                remembered.insert(
                    key,
                    Remembered {
                        hash: h.to_string(),
                        expires: Instant::now() + self.remember_for,
                    },
                );
                Ok(())
            }
            _ => {
                let hold = self.throttle.fail(source, login, "login");
                if !hold.is_zero() {
                    tokio::time::sleep(hold).await;
                }
                Err(auth_failure())
            }
        }
    }

    fn is_remembered(&self, key: &[u8; 32], stored: &str) -> bool {
        lock(&self.remembered)
            .get(key)
            .is_some_and(|r| r.expires > Instant::now() && r.hash == stored)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn remembers_success_until_the_hash_changes_and_throttles_sources_not_owners() {
        let checker = PasswordChecker::new(60, 3, 60);
        let h1 = secrets::hash_password("pw").expect("hash");
        let home: Option<IpAddr> = "10.0.0.1".parse().ok();
        let attacker: Option<IpAddr> = "10.0.0.2".parse().ok();
        checker
            .verify("a", "pw", Some(&h1), home)
            .await
            .expect("right password");
        let key = secrets::sha256(b"a\0pw");
        assert!(checker.is_remembered(&key, &h1));
        let h2 = secrets::hash_password("pw").expect("hash");
        assert!(
            !checker.is_remembered(&key, &h2),
            "a new hash is checked again"
        );
        assert!(checker.verify("ghost", "pw", None, home).await.is_err());
        for _ in 0..3 {
            assert!(matches!(
                checker.verify("a", "bad", Some(&h1), attacker).await,
                Err(ApiError::Authentication(_))
            ));
        }
        // The attacker's address must wait; the owner, elsewhere, is not locked out.
        assert!(matches!(
            checker.verify("a", "bad", Some(&h1), attacker).await,
            Err(ApiError::TooManyRequests(_))
        ));
        assert!(matches!(
            checker.verify("b", "x", None, attacker).await,
            Err(ApiError::TooManyRequests(_))
        ));
        checker
            .verify("a", "pw", Some(&h2), home)
            .await
            .expect("the owner logs in");
        assert_eq!(checker.throttle().account_failures("a"), 0);
    }
}
