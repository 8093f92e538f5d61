//! Property tests of the whole engine: random hosts from [`antiphon_engine::host_script`] drive an
//! instance with the real worker thread and the shipped `melody_basic` model (ONNX Runtime from
//! `target/onnxruntime`, `cargo xtask fetch-ort`), in every jam mode with random jam settings.
//! Every block is checked by `props::drive` (the same invariants as the scheduler tier).
//!
//! The worker runs as it does for an offline render: after each block the test waits until it
//! has taken in the block's input and looked at the clock again (what a real-time host's pace
//! gives it), so a case plays the same way each time it runs and shrinks cleanly.
//!
//! 256 cases by default, each with real inference; `ANTIPHON_ENGINE_CASES` (or proptest's
//! `PROPTEST_CASES`) sets another number, e.g. for a long nightly run. A failure prints the
//! shrunk host script and jam setup and is kept in `proptest-regressions/prop_engine.txt`,
//! replayed first from then on.

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use antiphon_engine::host_script::{ScriptLimits, Seen, host_script};
use antiphon_engine::{JamMode, ModelChoice, Shared, WorkerConfig, WorkerStatus};
use proptest::prelude::*;
use proptest::test_runner::{TestCaseError, TestRunner};

mod props;
mod support;

/// Cases in a CI run.
const DEFAULT_CASES: u32 = 256;
/// How long the test waits for the worker after a block before going on without it.
const WORKER_WAIT: Duration = Duration::from_secs(10);

/// The jam settings of a case.
#[derive(Debug, Clone, PartialEq)]
struct JamSetup {
    /// The mode at the start.
    mode: JamMode,
    /// Answers repeat until the player plays again.
    loop_answer: bool,
    /// Answers start on the next beat.
    answer_on_beat: bool,
    /// Fixed answer length in bars (0: as long as the call).
    answer_bars: u32,
    /// Beats of silence that end a call.
    silence_beats: f32,
    /// Bars per Trade turn.
    trade_bars: u32,
    /// Answer seed (0: fresh).
    seed: u64,
    /// Sampling temperature.
    temperature: f32,
    /// The player switches the mode after these blocks (block index, new mode).
    mode_changes: Vec<(usize, JamMode)>,
}

fn jam_mode() -> impl Strategy<Value = JamMode> {
    prop_oneof![
        4 => Just(JamMode::CallResponse),
        1 => Just(JamMode::Trade),
        1 => Just(JamMode::Accompany),
        1 => Just(JamMode::Continue),
    ]
}

fn jam_setup() -> impl Strategy<Value = JamSetup> {
    (
        jam_mode(),
        proptest::bool::weighted(0.2),
        proptest::bool::weighted(0.2),
        prop_oneof![2 => Just(0u32), 1 => 1u32..=4],
        prop_oneof![Just(1.0f32), 0.25f32..3.0],
        1u32..=4,
        prop_oneof![Just(0u64), any::<u64>()],
        0.5f32..1.5,
        prop_oneof![
            3 => Just(Vec::new()),
            1 => proptest::collection::vec((0usize..400, jam_mode()), 1..4),
        ],
    )
        .prop_map(
            |(
                mode,
                loop_answer,
                answer_on_beat,
                answer_bars,
                silence_beats,
                trade_bars,
                seed,
                temperature,
                mode_changes,
            )| JamSetup {
                mode,
                loop_answer,
                answer_on_beat,
                answer_bars,
                silence_beats,
                trade_bars,
                seed,
                temperature,
                mode_changes,
            },
        )
}

impl JamSetup {
    /// Writes the settings where the worker reads them.
    fn apply(&self, shared: &Shared) {
        let s = &shared.settings;
        s.set_mode(self.mode);
        s.loop_answer.store(self.loop_answer, Ordering::Relaxed);
        s.answer_on_beat
            .store(self.answer_on_beat, Ordering::Relaxed);
        s.answer_bars.store(self.answer_bars, Ordering::Relaxed);
        s.silence_beats.store(self.silence_beats, Ordering::Relaxed);
        s.trade_bars.store(self.trade_bars, Ordering::Relaxed);
        s.seed.store(self.seed, Ordering::Relaxed);
        s.temperature.store(self.temperature, Ordering::Relaxed);
        shared.offline.store(true, Ordering::Relaxed);
    }
}

/// Starts an instance with `melody_basic` and waits until the model is ready.
fn start(setup: &JamSetup) -> Result<antiphon_engine::Instance, TestCaseError> {
    let shared = Arc::new(Shared::default());
    setup.apply(&shared);
    let config = WorkerConfig {
        model: ModelChoice::Shipped("melody_basic"),
        custom_file: None,
        runtime_dirs: vec![support::runtime_dir()],
        seed: Some(7),
    };
    let instance = antiphon_engine::start(shared, config)
        .map_err(|e| TestCaseError::fail(format!("the worker did not start: {e}")))?;
    support::wait_until("the model", || {
        instance.shared.status() != WorkerStatus::Loading
    });
    if instance.shared.status() != WorkerStatus::Ready {
        return Err(TestCaseError::fail(format!(
            "model not ready: {:?} (is ONNX Runtime in {}? run `cargo xtask fetch-ort`)",
            instance.shared.status_text(),
            support::runtime_dir().display()
        )));
    }
    Ok(instance)
}

#[test]
fn given_random_hosts_and_players_when_the_model_answers_then_every_block_keeps_the_invariants() {
    let cases = props::cases("ANTIPHON_ENGINE_CASES", DEFAULT_CASES);
    let mut config = props::config(
        cases,
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/proptest-regressions/prop_engine.txt"
        ),
        256,
    );
    // Shrinking runs real inference too: keep it bounded (seconds).
    config.max_shrink_time = 300_000;
    let mut runner = TestRunner::new(config);
    let total = Cell::new(Seen::default());
    let answered = Cell::new(0u64);
    let generated = Cell::new(0u64);
    let waits_missed = Cell::new(0u64);
    let strategy = (host_script(ScriptLimits::WITH_MODEL), jam_setup());
    let started = Cell::new(Duration::ZERO);
    let result = runner.run(&strategy, |(script, setup)| {
        let t0 = std::time::Instant::now();
        let mut instance = start(&setup)?;
        started.set(started.get() + t0.elapsed());
        let shared = instance.shared.clone();
        let seen = props::drive(&mut instance.audio, &script, |audio, block| {
            for &(_, mode) in setup.mode_changes.iter().filter(|c| c.0 == block.index) {
                shared.settings.set_mode(mode);
            }
            if !shared.wait_for_worker(audio.captured_events(), WORKER_WAIT) {
                waits_missed.set(waits_missed.get() + 1);
            }
        })?;
        let mut sum = total.get();
        sum += seen;
        total.set(sum);
        answered.set(answered.get() + u64::from(seen.answer_notes > 0));
        generated.set(generated.get() + shared.answers_generated.load(Ordering::Acquire));
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}\n{runner}");
    }
    let total = total.get();
    eprintln!(
        "{cases} random hosts with melody_basic ({} answers generated, {} cases with answer \
         notes, {} waits for the worker given up): {total}",
        generated.get(),
        answered.get(),
        waits_missed.get()
    );
    eprintln!("starting the instances took {:?}", started.get());
    // The invariants are only worth something if the model played: most random scripts never
    // let a call end and its answer sound (a stop, a jump, bypass or a mode change comes
    // first), but a sixth to a quarter do (39 to 65 of 256 in nine runs, with 238 to 801
    // answer notes); a sixteenth is the floor.
    assert!(
        answered.get() >= u64::from(cases) / 16,
        "too few cases with answer notes ({} of {cases}): {total}",
        answered.get()
    );
}
