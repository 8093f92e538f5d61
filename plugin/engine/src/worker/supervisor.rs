//! The worker's supervisor: the worker thread's body. It runs the worker under
//! [`std::panic::catch_unwind`], so a panic in planning, encoding, inference or sampling, or a
//! model whose run fails, ends one run of the worker and never the thread (nor the host).
//!
//! After a failure it:
//! 1. counts it in [`crate::shared::Shared::worker_failures`]: the audio thread, which polls
//!    that counter every block, ends every sounding answer note at its next block and drops
//!    the answers it holds (a new timeline epoch); MIDI thru never stops;
//! 2. writes the report where people see it (the log, [`crate::shared::StatusText::failure`],
//!    and status [`WorkerStatus::Failed`] while it waits before a restart);
//! 3. starts a fresh worker with the same model choice and settings (it reloads the model).
//!    The worker's ring ends and control channel belong to the worker value the supervisor
//!    owns and lends to each run (`&mut`), so unwinding leaves them intact and the audio
//!    thread never learns of new ones.
//!
//! A failure soon after a restart waits before the next one ([`backoff`]: at once, then 1 s,
//! 2 s, 4 s … up to 30 s), so a model that fails at every step cannot make a restart storm.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::{Exit, Worker};
use crate::shared::WorkerStatus;

/// A run that lasted at least this long counts as healthy: a failure after it restarts at once.
pub const HEALTHY_RUN: Duration = Duration::from_secs(30);
/// The wait before the second restart of a streak (failures each within [`HEALTHY_RUN`] of
/// the last restart); it doubles with each further one.
pub const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The longest wait before a restart.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The wait before restarting after failure number `streak` of a streak (1 = the first after a
/// healthy run): none for the first, then [`FIRST_BACKOFF`] doubling up to [`MAX_BACKOFF`].
pub fn backoff(streak: u32) -> Duration {
    match streak {
        0 | 1 => Duration::ZERO,
        n => FIRST_BACKOFF
            .saturating_mul(1 << (n - 2).min(16))
            .min(MAX_BACKOFF),
    }
}

/// The worker thread's body: runs `worker` until it is told to stop, restarting it after each
/// failure.
pub(super) fn supervise(mut worker: Worker) {
    let mut streak = 0;
    loop {
        let started = Instant::now();
        let exit = catch_unwind(AssertUnwindSafe(|| worker.run())).unwrap_or_else(|payload| {
            Exit::Failed(format!(
                "the worker panicked: {}",
                panic_text(payload.as_ref())
            ))
        });
        let Exit::Failed(what) = exit else {
            break;
        };
        streak = if started.elapsed() >= HEALTHY_RUN {
            1
        } else {
            streak + 1
        };
        let wait = backoff(streak);
        worker = Worker::after_failure(worker);
        report(&worker, &what, wait);
        if !worker.back_off(wait) {
            break;
        }
    }
    worker.finish();
}

/// Tells the audio thread and people that a run of `worker` failed with `what`, and that it
/// restarts after `wait`.
fn report(worker: &Worker, what: &str, wait: Duration) {
    let shared = &worker.shared;
    // The audio thread ends the answer notes at its next block.
    let failures = shared.worker_failures.fetch_add(1, Ordering::AcqRel) + 1;
    let restart = if wait.is_zero() {
        String::from("restarting now")
    } else {
        format!(
            "failing again soon after a restart, so restarting in {} s",
            wait.as_secs()
        )
    };
    tracing::error!(
        "Antiphon: {what}; sounding answer notes ended, MIDI thru goes on; failure {failures}, \
         {restart}"
    );
    shared.edit_text(|text| {
        text.failure = format!("{what} (failure {failures}; {restart} with the same model)");
        text.error = text.failure.clone();
    });
    // Restarting at once, it is loading its model again; otherwise it waits, failed.
    shared.set_status(if wait.is_zero() {
        WorkerStatus::Loading
    } else {
        WorkerStatus::Failed
    });
}

/// The message a panic carried.
fn panic_text(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic with no message")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_failures_in_a_row_when_restarting_then_the_wait_doubles_up_to_its_cap() {
        let secs: Vec<u64> = (1..=8).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(secs, vec![0, 1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(backoff(1_000), MAX_BACKOFF);
    }

    #[test]
    fn given_panic_payloads_when_read_then_their_message_comes_out() {
        let text = catch_unwind(|| panic!("plain")).unwrap_err();
        assert_eq!(panic_text(text.as_ref()), "plain");
        let formatted = catch_unwind(|| panic!("step {}", 3)).unwrap_err();
        assert_eq!(panic_text(formatted.as_ref()), "step 3");
        let other = catch_unwind(|| std::panic::panic_any(7_u8)).unwrap_err();
        assert_eq!(panic_text(other.as_ref()), "a panic with no message");
    }
}
