//! Password checks for both services (cortex-service compiles this file too).
//!
//! A check costs an argon2 hash (7 MiB, a few milliseconds of CPU), so: checks run on a few
//! dedicated threads, one per CPU, each reusing one block of argon2 memory (a flood of logins
//! queues instead of exhausting memory); a successful
//! check is remembered for a while, keyed by a digest of the credentials, and forgotten as
//! soon as the stored hash changes (any instance may change it); unknown accounts are checked
//! against a dummy hash so that they take as long as known ones; and an account with too many
//! recent failures is refused without checking until its window passes.

use crate::auth::secrets;
use crate::error::ApiError;
use std::collections::HashMap;
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// One check for the hashing threads: password, stored hash, where to answer.
type Job = (String, String, oneshot::Sender<bool>);

/// Entries kept at most in each map; beyond that, expired ones go, then all.
const MAX_ENTRIES: usize = 10_000;

#[derive(Debug, Clone)]
struct Remembered {
    /// The stored hash that was checked.
    hash: String,
    expires: Instant,
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    since: Instant,
}

/// Checks passwords; one per service, shared by all workers.
#[derive(Debug)]
pub struct PasswordChecker {
    remember_for: Duration,
    max_failures: u32,
    window: Duration,
    remembered: Mutex<HashMap<[u8; 32], Remembered>>,
    failures: Mutex<HashMap<String, Failures>>,
    dummy_hash: String,
    jobs: Mutex<mpsc::Sender<Job>>,
}

/// The one answer for every credential problem.
pub fn auth_failure() -> ApiError {
    ApiError::Authentication("Authentication failure".into())
}

impl PasswordChecker {
    /// `remember_secs`: how long a success is remembered; `max_failures` within
    /// `window_secs` before an account is throttled (0 = never).
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
            max_failures,
            window: Duration::from_secs(window_secs),
            remembered: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
            dummy_hash: secrets::hash_password(&secrets::random_token(16)).unwrap_or_default(),
            jobs: Mutex::new(tx),
        }
    }

    /// Checks `password` for `login`, whose stored hash is `stored` (`None`: unknown account
    /// or no password). Any failure is the same 401.
    pub async fn verify(
        &self,
        login: &str,
        password: &str,
        stored: Option<&str>,
    ) -> Result<(), ApiError> {
        self.refuse_if_throttled(login)?;
        let key = secrets::sha256(format!("{login}\0{password}").as_bytes());
        if stored.is_some_and(|h| self.is_remembered(&key, h)) {
            return Ok(());
        }
        let hash = stored.unwrap_or(&self.dummy_hash).to_string();
        let (answer, checked) = oneshot::channel();
        self.jobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send((password.to_string(), hash, answer))
            .map_err(|_| ApiError::internal("password threads stopped"))?;
        let ok = checked.await.unwrap_or(false) && !password.is_empty();
        match stored {
            Some(h) if ok => {
                self.lock_failures().remove(login);
                let mut remembered = self.lock_remembered();
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
                self.record_failure(login);
                Err(auth_failure())
            }
        }
    }

    fn lock_remembered(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Remembered>> {
        self.remembered.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_failures(&self) -> std::sync::MutexGuard<'_, HashMap<String, Failures>> {
        self.failures.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn is_remembered(&self, key: &[u8; 32], stored: &str) -> bool {
        self.lock_remembered()
            .get(key)
            .is_some_and(|r| r.expires > Instant::now() && r.hash == stored)
    }

    fn refuse_if_throttled(&self, login: &str) -> Result<(), ApiError> {
        if self.max_failures == 0 {
            return Ok(());
        }
        match self.lock_failures().get(login) {
            Some(f) if f.count >= self.max_failures && f.since.elapsed() < self.window => {
                Err(ApiError::TooManyRequests(
                    "Too many failed logins for this account; try again later".into(),
                ))
            }
            _ => Ok(()),
        }
    }

    fn record_failure(&self, login: &str) {
        let mut failures = self.lock_failures();
        if failures.len() >= MAX_ENTRIES {
            let window = self.window;
            failures.retain(|_, f| f.since.elapsed() < window);
            if failures.len() >= MAX_ENTRIES {
                failures.clear();
            }
        }
        let entry = failures.entry(login.to_string()).or_insert(Failures {
            count: 0,
            since: Instant::now(),
        });
        if entry.since.elapsed() >= self.window {
            *entry = Failures {
                count: 0,
                since: Instant::now(),
            };
        }
        entry.count += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn remembers_success_until_the_hash_changes_and_throttles_failures() {
        let checker = PasswordChecker::new(60, 3, 60);
        let h1 = secrets::hash_password("pw").expect("hash");
        checker
            .verify("a", "pw", Some(&h1))
            .await
            .expect("right password");
        let key = secrets::sha256(b"a\0pw");
        assert!(checker.is_remembered(&key, &h1));
        let h2 = secrets::hash_password("pw").expect("hash");
        assert!(
            !checker.is_remembered(&key, &h2),
            "a new hash is checked again"
        );
        assert!(checker.verify("ghost", "pw", None).await.is_err());
        for _ in 0..3 {
            assert!(matches!(
                checker.verify("a", "bad", Some(&h1)).await,
                Err(ApiError::Authentication(_))
            ));
        }
        assert!(matches!(
            checker.verify("a", "pw", Some(&h1)).await,
            Err(ApiError::TooManyRequests(_))
        ));
    }
}
