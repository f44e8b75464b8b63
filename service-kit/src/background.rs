//! A runtime for background work that must not slow the requests down: its own threads
//! (workers and blocking pool, where its database calls run) at a lower OS priority, so that
//! when the CPU is saturated the scheduler serves the request path first and the background
//! work (durable, in the database) catches up after the burst. With idle CPU it runs as fast
//! as at normal priority.

use tokio::runtime::{Builder, Handle};

/// Starts a runtime of `workers` threads named `name`, each thread (blocking ones included)
/// `nice` steps nicer than the process (0 to 19, at most 19 in all; 0 leaves the priority alone; Linux only, elsewhere ignored).
/// It lives as long as the process.
pub fn runtime(name: &str, workers: usize, nice: u8) -> std::io::Result<Handle> {
    let target = (current_niceness() + i32::from(nice)).min(19);
    let rt = Builder::new_multi_thread()
        .worker_threads(workers.max(1))
        .max_blocking_threads(16)
        .thread_name(name)
        .on_thread_start(move || lower_priority(target))
        .enable_all()
        .build()?;
    let handle = rt.handle().clone();
    // Dropped never: its tasks run until the process ends (a runtime may not be dropped
    // from async code anyway).
    Box::leak(Box::new(rt));
    Ok(handle)
}

/// The calling thread's niceness.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn current_niceness() -> i32 {
    // SAFETY: gettid and getpriority take and return plain integers.
    unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) }
}

#[cfg(not(target_os = "linux"))]
fn current_niceness() -> i32 {
    0
}

/// Sets the calling thread's niceness to `target` unless it is already that nice (a thread
/// inherits its creator's).
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn lower_priority(target: i32) {
    if current_niceness() >= target {
        return;
    }
    // SAFETY: as above; on Linux PRIO_PROCESS with a thread id sets that thread's niceness
    // only. Raising one's own niceness needs no privilege; a failure leaves it as it was.
    let r = unsafe { libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, target) };
    if r != 0 {
        tracing::debug!(error = %std::io::Error::last_os_error(), "thread priority not lowered");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority(_target: i32) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_os = "linux")]
    fn the_runtime_threads_run_at_the_lower_priority() {
        let handle = runtime("kit-bg-test", 1, 7).expect("runtime");
        let (tx, rx) = std::sync::mpsc::channel();
        handle.spawn(async move {
            // SAFETY: plain integer calls, as above.
            #[allow(unsafe_code)]
            let nice =
                unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) };
            let blocking = tokio::task::spawn_blocking(|| {
                #[allow(unsafe_code)]
                unsafe {
                    libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t)
                }
            })
            .await
            .expect("blocking");
            let _ = tx.send((nice, blocking));
        });
        let (worker, blocking) = rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("ran");
        // Relative to the test process's own niceness (0 unless the runner is niced).
        #[allow(unsafe_code)]
        let base = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
        assert_eq!(worker, (base + 7).min(19));
        assert_eq!(blocking, (base + 7).min(19));
    }
}
