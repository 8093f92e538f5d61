//! The worker fails on purpose ([`FaultPlan`]) in a jam driven in memory with the shipped model:
//! a panic while sampling, or a model run that fails like an ONNX Runtime error. The sounding
//! answer notes end at the next block, MIDI thru goes on, the failure is reported, and the
//! restarted worker answers the next call. A worker that fails as it starts backs off, and
//! still stops when told to.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use antiphon_engine::worker::fault::{Fault, FaultPlan};
use antiphon_engine::{
    AudioSettings, JamControl, ModelChoice, OutKind, Shared, WorkerConfig, WorkerStatus,
};

mod support;

use support::{Heard, Jam, pairs, runtime_dir, wait_until};

/// The channel the answers play on (the jam's Output Channel).
const ANSWER_CHANNEL: u8 = 1;
/// The channel the player plays on (and thru notes come back on).
const PLAYER_CHANNEL: u8 = 0;

/// A jam with the shipped default model whose worker follows `plan`, once the model is ready
/// (after any restarts the plan causes).
fn jam_with_faults(plan: &Arc<FaultPlan>) -> Jam {
    let shared = Arc::new(Shared::default());
    let config = WorkerConfig {
        model: ModelChoice::Default,
        custom_file: None,
        runtime_dirs: vec![runtime_dir()],
        seed: Some(7),
    };
    let instance = antiphon_engine::instance::start_with_faults(shared, config, Some(plan.clone()))
        .expect("worker starts");
    let jam = Jam {
        instance,
        settings: AudioSettings {
            out_channel: ANSWER_CHANNEL,
            ..AudioSettings::default()
        },
        sample: 0,
        tempo_bpm: 120.0,
        pos_beats: Some(0.0),
        heard: Vec::new(),
        queued: Vec::new(),
    };
    wait_until_ready(&jam);
    jam
}

/// Waits until the worker is ready (its model loaded), failing with the status text if it
/// ends up anywhere else.
fn wait_until_ready(jam: &Jam) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while jam.shared().status() != WorkerStatus::Ready {
        assert!(
            Instant::now() < deadline,
            "model not ready: {:?} {:?} (is ONNX Runtime in {}? run `cargo xtask fetch-ort`)",
            jam.shared().status(),
            jam.shared().status_text(),
            runtime_dir().display()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The events heard on `channel`.
fn heard_on(jam: &Jam, channel: u8) -> Vec<Heard> {
    jam.on_channel(channel)
}

/// What the failure tests saw.
struct Recovery {
    /// The answer notes sounding when the worker failed (key, sample of their note-on).
    sounding: Vec<Heard>,
    /// First sample of the first block after the failure.
    first_block_after: u64,
}

/// Plays a one-note call, lets its answer start sounding, then (with `fault` armed for the next
/// answer) sends Mutate and presses key 48 at the start of the next block, so the worker fails
/// generating the mutation while the answer sounds; processes the first block after the
/// failure. Key 48 goes up a beat later (after the failure).
fn fail_while_an_answer_sounds(jam: &mut Jam, plan: &FaultPlan, fault: Fault) -> Recovery {
    jam.note(60, 0.0, 3.9);
    jam.run_to(4.0);
    jam.wait_for_answers(1);
    // The answer: bar 8..12 (the call ended at 4.9).
    assert!(
        jam.run_until_sounding(ANSWER_CHANNEL, 12.0),
        "no answer note sounded"
    );
    // The note that just started lasts at least a 16th of a grid step (1500 samples, about
    // three blocks), so it still sounds after the next block.
    plan.fail_next_answer(fault);
    let trigger_beats = jam.pos_beats.unwrap();
    jam.control(trigger_beats, JamControl::Mutate);
    jam.note(48, trigger_beats, trigger_beats + 1.0);
    // The block with Mutate waits for the worker: it takes the control, fails, is restarted,
    // and the restarted worker has looked at the input before the block returns.
    jam.block();
    assert_eq!(plan.fired(), 1, "the fault did not fire");
    assert_eq!(jam.shared().worker_failures.load(Ordering::Acquire), 1);
    let sounding = pairs(&heard_on(jam, ANSWER_CHANNEL)).1;
    let first_block_after = jam.sample;
    jam.block();
    Recovery {
        sounding,
        first_block_after,
    }
}

/// Checks what a failure must leave: answer notes ended at the first block after it, nothing
/// stuck, key 48 passed through across it, a report naming `what`, and the restarted worker
/// answering the next call.
fn check_recovery(jam: &mut Jam, recovery: &Recovery, what: &str) {
    // Every answer note that sounded ended at the very start of the first block after.
    assert!(
        !recovery.sounding.is_empty(),
        "no answer note sounded when the worker failed"
    );
    let (_, open) = pairs(&heard_on(jam, ANSWER_CHANNEL));
    assert!(open.is_empty(), "answer notes left sounding: {open:?}");
    for note in &recovery.sounding {
        assert!(
            jam.heard.iter().any(|h| h.kind == OutKind::Off
                && h.channel == note.channel
                && h.key == note.key
                && h.sample == recovery.first_block_after),
            "answer note {} did not end at sample {}: {:?}",
            note.key,
            recovery.first_block_after,
            heard_on(jam, ANSWER_CHANNEL)
        );
    }
    // Nothing of the failed worker's answers plays afterwards.
    jam.run_to(14.0);
    let after: Vec<Heard> = heard_on(jam, ANSWER_CHANNEL)
        .into_iter()
        .filter(|h| h.sample > recovery.first_block_after)
        .collect();
    assert!(
        after.is_empty(),
        "answer notes after the failure: {after:?}"
    );

    // MIDI thru went on: key 48 went down before the failure and up after it.
    let key_48: Vec<(OutKind, u64)> = heard_on(jam, PLAYER_CHANNEL)
        .iter()
        .filter(|h| h.key == 48)
        .map(|h| (h.kind, h.sample))
        .collect();
    assert_eq!(key_48.len(), 2, "key 48 thru: {key_48:?}");
    assert_eq!(key_48[0].0, OutKind::On);
    assert!(key_48[0].1 < recovery.first_block_after);
    assert_eq!(key_48[1].0, OutKind::Off);
    assert!(key_48[1].1 > recovery.first_block_after);

    // The report: counted, logged for people, and kept once the worker is ready again.
    wait_until_ready(jam);
    let text = jam.shared().status_text();
    assert!(
        text.failure.contains(what) && text.failure.contains("failure 1"),
        "report: {text:?}"
    );
    assert!(text.failure.contains("injected fault"), "report: {text:?}");
    assert!(
        text.error.is_empty(),
        "a ready worker shows no error: {text:?}"
    );

    // The restarted worker answers the next call, with thru as usual.
    let generated = jam.generated();
    let played = jam.played();
    jam.call(16.0);
    jam.run_to(19.6);
    jam.wait_for_answers(generated + 1);
    jam.run_to(29.0);
    assert!(jam.played() > played, "the next call was not answered");
    let answer: Vec<Heard> = heard_on(jam, ANSWER_CHANNEL)
        .into_iter()
        .filter(|h| h.sample > recovery.first_block_after)
        .collect();
    let (notes, open) = pairs(&answer);
    assert!(open.is_empty(), "answer notes left sounding: {open:?}");
    assert!(!notes.is_empty(), "the restarted worker answered nothing");
    let spb = jam.samples_per_beat();
    for &(on, _, key) in &notes {
        assert!(
            on >= (24.0 * spb) as u64 && on < (28.0 * spb) as u64,
            "answer note {key} at {on} outside bar 24..28"
        );
    }
    let thru_ons = heard_on(jam, PLAYER_CHANNEL)
        .iter()
        .filter(|h| h.kind == OutKind::On && h.key != 48)
        .count();
    assert_eq!(thru_ons, 1 + 4, "thru of the first call and the next one");
    let (_, open_thru) = pairs(&heard_on(jam, PLAYER_CHANNEL));
    assert!(
        open_thru.is_empty(),
        "thru notes left sounding: {open_thru:?}"
    );
}

#[test]
fn given_an_answer_sounding_when_the_worker_panics_then_its_notes_end_thru_goes_on_and_the_restarted_worker_answers()
 {
    let plan = Arc::new(FaultPlan::new());
    let mut jam = jam_with_faults(&plan);
    let recovery = fail_while_an_answer_sounds(&mut jam, &plan, Fault::Panic);
    check_recovery(&mut jam, &recovery, "the worker panicked");
}

#[test]
fn given_an_answer_sounding_when_the_model_run_fails_then_its_notes_end_thru_goes_on_and_the_restarted_worker_answers()
 {
    let plan = Arc::new(FaultPlan::new());
    let mut jam = jam_with_faults(&plan);
    let recovery = fail_while_an_answer_sounds(&mut jam, &plan, Fault::InferenceError);
    check_recovery(&mut jam, &recovery, "inference failed");
}

#[test]
fn given_a_worker_that_panics_as_it_starts_when_it_keeps_failing_then_it_backs_off_and_recovers() {
    let plan = Arc::new(FaultPlan::parse("panic-on-start:2").unwrap());
    let mut jam = jam_with_faults(&plan);
    assert_eq!(plan.fired(), 2);
    assert_eq!(jam.shared().worker_failures.load(Ordering::Acquire), 2);
    let text = jam.shared().status_text();
    // The first failure restarts at once, the second (right after) waits a second.
    assert!(
        text.failure.contains("failure 2") && text.failure.contains("restarting in 1 s"),
        "report: {text:?}"
    );
    assert!(text.failure.contains("panics as it starts"), "{text:?}");
    // It answers like any worker.
    jam.call(4.0);
    jam.run_to(7.6);
    jam.wait_for_answers(1);
    jam.run_to(17.0);
    let (notes, open) = pairs(&jam.answer_notes());
    assert!(open.is_empty() && !notes.is_empty(), "{notes:?} {open:?}");
}

#[test]
fn given_a_worker_waiting_to_restart_when_the_instance_is_dropped_then_its_thread_ends() {
    let plan = Arc::new(FaultPlan::parse("panic-on-start:10").unwrap());
    let shared = Arc::new(Shared::default());
    let config = WorkerConfig {
        model: ModelChoice::Default,
        custom_file: None,
        runtime_dirs: vec![runtime_dir()],
        seed: Some(7),
    };
    let instance =
        antiphon_engine::instance::start_with_faults(shared.clone(), config, Some(plan.clone()))
            .expect("worker starts");
    // The second failure in a row waits a second before the third start.
    wait_until("the second failure", || {
        shared.worker_failures.load(Ordering::Acquire) >= 2
            && shared.status() == WorkerStatus::Failed
    });
    drop(instance);
    assert_eq!(shared.status(), WorkerStatus::Stopped);
    assert!(plan.fired() < 10, "it kept restarting: {}", plan.fired());
}
