//! Property tests of the audio side's scheduling (clock, player, tracker, output) with the real
//! phrase detection and answer planning but no model: random hosts from
//! [`antiphon_engine::host_script`] drive an [`AudioEngine`], and a model-free worker in this file
//! answers every call the way the real one does (speculatively, through `plan_answer_from`, with
//! random notes on the answer's 16th grid), some blocks late, sometimes continuing an answer from
//! a later step. Every block is checked by `props::drive`.
//!
//! 10,000 cases by default; `ANTIPHON_SCHEDULER_CASES` (or proptest's `PROPTEST_CASES`) sets
//! another number, e.g. for a long nightly run. A failure prints the shrunk host script and is
//! kept in `proptest-regressions/prop_scheduler.txt`, replayed first from then on.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use antiphon_engine::host_script::{HostScript, ScriptLimits, Seen, host_script};
use antiphon_engine::phrase::{Call, CallEnd, CallLimits, PhraseDetector};
use antiphon_engine::plan::{AnswerPlan, AnswerStart, plan_answer_from};
use antiphon_engine::queues::{
    AnswerHeader, AnswerMsg, AnswerNote, AnswerProducer, CaptureConsumer, answer_queue,
    capture_queue,
};
use antiphon_engine::{AudioEngine, BarGrid, Shared};
use antiphon_models::Rng;
use proptest::prelude::*;
use proptest::test_runner::TestRunner;

mod props;

/// Cases in a CI run.
const DEFAULT_CASES: u32 = 10_000;

/// How the model-free worker answers, drawn once per case.
#[derive(Debug, Clone, Copy, PartialEq)]
struct WorkerStyle {
    /// Seed of its random notes.
    seed: u64,
    /// Blocks between planning an answer and its messages reaching the ring (a slow model).
    lag_blocks: usize,
    /// Fixed answer length in bars (0: as long as the call).
    answer_bars: u32,
    /// Answers start on the next beat instead of the next bar line.
    on_beat: bool,
    /// Beats of silence that end a call.
    silence_beats: f64,
    /// Chance, per tick with an answer playing, of sending the rest of it again from a later
    /// step (as a chord change makes the real worker do).
    continue_chance: f64,
}

fn worker_style() -> impl Strategy<Value = WorkerStyle> {
    (
        any::<u64>(),
        prop_oneof![3 => Just(0usize), 1 => 0usize..4, 1 => 0usize..64],
        prop_oneof![2 => Just(0u32), 1 => 1u32..=4],
        proptest::bool::weighted(0.2),
        prop_oneof![Just(1.0), 0.25..4.0f64],
        prop_oneof![Just(0.0), 0.0..0.2f64],
    )
        .prop_map(
            |(seed, lag_blocks, answer_bars, on_beat, silence_beats, continue_chance)| {
                WorkerStyle {
                    seed,
                    lag_blocks,
                    answer_bars,
                    on_beat,
                    silence_beats,
                    continue_chance,
                }
            },
        )
}

/// An answer the worker sent, which it may continue.
#[derive(Debug, Clone)]
struct Sent {
    /// Its identifier.
    answer_id: u32,
    /// Its header.
    header: AnswerHeader,
    /// Its plan.
    plan: AnswerPlan,
}

/// The worker's side, with no model: it follows the captured input with the real phrase
/// detector, plans with the real planner and fills the answer with random notes on its grid.
struct FakeWorker {
    /// Shared with the audio side.
    shared: Arc<Shared>,
    /// Captured input.
    capture: CaptureConsumer,
    /// Answers out.
    answers: AnswerProducer,
    /// Calls.
    detector: PhraseDetector,
    /// Random notes.
    rng: Rng,
    /// How it answers.
    style: WorkerStyle,
    /// Messages and the block from which they may go into the ring.
    outbox: VecDeque<(usize, AnswerMsg)>,
    /// Blocks so far.
    blocks: usize,
    /// The `seen` count the current speculative answer was planned at.
    planned_at: Option<u64>,
    /// Next answer id.
    next_id: u32,
    /// The last answer sent.
    last: Option<Sent>,
}

impl FakeWorker {
    fn new(
        shared: Arc<Shared>,
        capture: CaptureConsumer,
        answers: AnswerProducer,
        style: WorkerStyle,
    ) -> Self {
        let epoch = shared.epoch.load(Ordering::Acquire);
        Self {
            shared,
            capture,
            answers,
            detector: PhraseDetector::new(epoch),
            rng: Rng::seeded(style.seed),
            style,
            outbox: VecDeque::new(),
            blocks: 0,
            planned_at: None,
            next_id: 1,
            last: None,
        }
    }

    fn limits(&self) -> CallLimits {
        let bar = self.shared.bar_len_beats.load(Ordering::Relaxed).max(0.25);
        CallLimits {
            silence_beats: self.style.silence_beats,
            max_call_beats: 8.0 * bar,
            min_call_beats: 0.0,
        }
    }

    fn grid(&self) -> BarGrid {
        BarGrid {
            origin_beats: self.shared.bar_origin_beats.load(Ordering::Relaxed),
            bar_len_beats: self.shared.bar_len_beats.load(Ordering::Relaxed).max(0.25),
        }
    }

    fn pick(&mut self, n: u64) -> u64 {
        self.rng.next_u64() % n.max(1)
    }

    /// One look at the input and the clock, after a block.
    fn tick(&mut self) {
        self.blocks += 1;
        let limits = self.limits();
        let playhead = self.shared.playhead_beats.load(Ordering::Acquire);
        while let Some(event) = self.capture.pop() {
            if event.epoch != self.detector.epoch() {
                self.detector.reset(event.epoch);
                self.planned_at = None;
            }
            let seen_before = self.detector.seen();
            if let Some(call) = self.detector.feed(&event, &limits) {
                self.close(&call, seen_before);
            }
        }
        let epoch = self.shared.epoch.load(Ordering::Acquire);
        if epoch != self.detector.epoch() {
            self.detector.reset(epoch);
            self.planned_at = None;
        }
        // Speculative answer once every key is up, as the real worker does.
        if let Some(CallEnd::Silence { at_beats }) = self.detector.projected_end(&limits)
            && self.planned_at != Some(self.detector.seen())
            && let Some(call) = self.detector.snapshot(at_beats)
        {
            let seen = self.detector.seen();
            self.answer(&call, seen);
            self.planned_at = Some(seen);
        }
        let seen = self.detector.seen();
        if let Some(call) = self.detector.poll(playhead, &limits) {
            self.close(&call, seen);
        }
        self.maybe_continue(playhead);
        while let Some(&(ready, msg)) = self.outbox.front() {
            if ready > self.blocks || self.answers.push(msg).is_err() {
                break;
            }
            self.outbox.pop_front();
        }
    }

    /// A call ended: its speculative answer stands if nothing came since, else answer now.
    fn close(&mut self, call: &Call, seen: u64) {
        if self.planned_at != Some(seen) {
            self.answer(call, seen);
        }
        self.planned_at = None;
    }

    /// Plans and sends an answer to `call`, planned having seen `seen` events.
    fn answer(&mut self, call: &Call, seen: u64) {
        let start = if self.style.on_beat {
            AnswerStart::NextBeat
        } else {
            AnswerStart::NextBar
        };
        let Some(plan) = plan_answer_from(call, self.grid(), 4, self.style.answer_bars, 8, start)
        else {
            return;
        };
        let header = AnswerHeader {
            answer_id: self.next_id,
            epoch: self.detector.epoch(),
            input_seen: seen,
            call_end_beats: call.end_beats,
            start_beats: plan.answer_start_beats,
            end_beats: plan.answer_end_beats,
            resume_from_beats: None,
        };
        self.next_id += 1;
        self.send(header, &plan, 0);
        self.last = Some(Sent {
            answer_id: header.answer_id,
            header,
            plan,
        });
    }

    /// Sends `header` and random notes of `plan` from answer step `from_step` on.
    fn send(&mut self, header: AnswerHeader, plan: &AnswerPlan, from_step: usize) {
        let ready = self.blocks + self.style.lag_blocks;
        self.outbox.push_back((ready, AnswerMsg::Begin(header)));
        let mut step = from_step;
        while step < plan.answer_steps {
            step += self.pick(4) as usize;
            if step >= plan.answer_steps {
                break;
            }
            let len = 1 + self.pick(8) as usize;
            let end = (step + len).min(plan.answer_steps);
            let note = AnswerNote {
                answer_id: header.answer_id,
                key: 48 + self.pick(36) as u8,
                velocity: 1 + self.pick(127) as u8,
                channel: AnswerNote::OUTPUT_CHANNEL,
                start_beats: plan.answer_step_beats(step as i64),
                end_beats: plan.answer_step_beats(end as i64),
            };
            self.outbox.push_back((ready, AnswerMsg::Note(note)));
            // Sometimes a chord-like second note at the same step.
            if self.pick(6) != 0 {
                step = end;
            }
        }
    }

    /// Sometimes sends the rest of the last answer again, from a step after the playhead.
    fn maybe_continue(&mut self, playhead: f64) {
        let Some(last) = self.last.clone() else {
            return;
        };
        if last.plan.answer_end_beats <= playhead
            || (self.rng.next_f64() >= self.style.continue_chance)
        {
            return;
        }
        let step_now = ((playhead - last.plan.answer_start_beats) / last.plan.step_beats)
            .ceil()
            .max(0.0) as usize;
        let from_step = step_now + self.pick(8) as usize;
        if from_step >= last.plan.answer_steps {
            return;
        }
        let header = AnswerHeader {
            resume_from_beats: Some(last.plan.answer_step_beats(from_step as i64)),
            ..last.header
        };
        debug_assert_eq!(header.answer_id, last.answer_id);
        self.send(header, &last.plan, from_step);
    }
}

/// An audio side and the model-free worker over the two rings between them.
fn engine_with_worker(style: WorkerStyle) -> (AudioEngine, FakeWorker) {
    let shared = Arc::new(Shared::default());
    let (capture_tx, capture_rx) = capture_queue();
    let (answer_tx, answer_rx) = answer_queue();
    let engine = AudioEngine::new(shared.clone(), capture_tx, answer_rx);
    (
        engine,
        FakeWorker::new(shared, capture_rx, answer_tx, style),
    )
}

fn run_case(script: &HostScript, style: WorkerStyle) -> Result<Seen, TestCaseError> {
    let (mut engine, mut worker) = engine_with_worker(style);
    props::drive(&mut engine, script, |_, _| worker.tick())
}

#[test]
fn given_random_hosts_and_players_when_a_model_free_worker_answers_then_every_block_keeps_the_invariants()
 {
    let cases = props::cases("ANTIPHON_SCHEDULER_CASES", DEFAULT_CASES);
    let config = props::config(
        cases,
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/proptest-regressions/prop_scheduler.txt"
        ),
        4096,
    );
    let mut runner = TestRunner::new(config);
    let total = std::cell::Cell::new(Seen::default());
    let answered = std::cell::Cell::new(0u64);
    let strategy = (host_script(ScriptLimits::DEFAULT), worker_style());
    let result = runner.run(&strategy, |(script, style)| {
        let seen = run_case(&script, style)?;
        let mut sum = total.get();
        sum += seen;
        total.set(sum);
        answered.set(answered.get() + u64::from(seen.answer_notes > 0));
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}\n{runner}");
    }
    let total = total.get();
    eprintln!(
        "{cases} random hosts ({} with answer notes): {total}",
        answered.get()
    );
    // The cases must have exercised what they check (a generator gone dull would pass vacuously).
    assert!(
        total.answer_notes > u64::from(cases),
        "too few answer notes: {total}"
    );
    assert!(
        total.thru_notes > u64::from(cases),
        "too few thru notes: {total}"
    );
    assert!(
        total.ended_by_jump > 0,
        "no answer note was ended by a jump: {total}"
    );
    assert!(total.bypassed_blocks > 0, "no block was bypassed: {total}");
}
