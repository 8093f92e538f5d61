//! The audio thread's cost per block: `AudioEngine::process_block` on 512-sample blocks at
//! 48 kHz, with a real worker thread and the shipped default model behind it.
//!
//! Three kinds of block:
//! - idle, transport playing: no input, no answer;
//! - idle, transport stopped: the same on the engine's own clock;
//! - busy: 16 MIDI events in every block (8 keys up, 8 keys down; MIDI thru sends all 16 out),
//!   a call always coming in and, once the first answer starts, an answer always playing. The
//!   player never stops, so each call ends at the maximum call length (8 bars) and its 8-bar
//!   answer plays under the next call (Interrupt is off).
//!
//! First, 100,000 blocks of each kind are timed one by one with `Instant` and summarised
//! (median, p99, p99.9, max: the goal is a median of at most 5 µs and a p99.9 of at most 50 µs);
//! then criterion measures the mean and median block.
//!
//! Busy blocks give the worker time between stretches of [`SYNC_EVERY_BLOCKS`] blocks (untimed),
//! as a real-time host's pace would: the blocks themselves run back to back. The worker looks
//! every 100 µs during the busy run (the engine's offline-render pace) so that those waits are
//! short; the audio side does not read that setting.

mod support;

use std::hint::black_box;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use antiphon_engine::{AudioSettings, HostTransport, InputEvent, Instance, ModelChoice};
use criterion::Criterion;

use support::{BLOCK_SAMPLES, SAMPLE_RATE_HZ, Summary, TEMPO_BPM, bench_mode, start_ready, wanted};

/// Busy blocks between two waits for the worker: 128 input events, fewer than the audio side
/// remembers (`input_log.rs`'s 256) to check the answers planned from them, as in real time
/// where the worker looks every 2 ms and a block lasts 10.7 ms.
const SYNC_EVERY_BLOCKS: u64 = 8;
/// The answer's MIDI channel index (the player's notes are on channel 0).
const ANSWER_CHANNEL: u8 = 1;
/// Keys of the even busy blocks.
const KEYS_EVEN: [u8; 8] = [60, 62, 64, 65, 67, 69, 71, 72];
/// Keys of the odd busy blocks (none in common with the even ones).
const KEYS_ODD: [u8; 8] = [48, 50, 52, 53, 55, 57, 59, 74];
/// Busy blocks played before anything is measured: past the first call (8 bars) and into its
/// answer.
const BUSY_WARM_UP_BLOCKS: u64 = 2 * 750 + 100;

/// What kind of block a [`Rig`] processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Load {
    /// No input; the host's transport plays.
    IdlePlaying,
    /// No input; the host's transport is stopped.
    IdleStopped,
    /// 16 input events per block, a call coming in and an answer playing.
    Busy,
}

/// One engine instance driven block by block.
struct Rig {
    /// The engine (audio side and worker).
    instance: Instance,
    /// The audio settings of every block.
    settings: AudioSettings,
    /// What kind of block it processes.
    load: Load,
    /// Host position of the next block, in beats.
    pos_beats: f64,
    /// Blocks processed so far.
    blocks: u64,
    /// Blocks processed since the last wait for the worker.
    since_sync: u64,
    /// Input of the even busy blocks: the odd keys go up, the even keys go down.
    input_even: [InputEvent; 16],
    /// Input of the odd busy blocks: the even keys go up, the odd keys go down.
    input_odd: [InputEvent; 16],
    /// Output events so far.
    out_events: u64,
    /// Output events on the answer's channel so far.
    answer_events: u64,
}

/// Sixteen events across a block: for each `i`, `up[i]` goes up at `64·i` and `down[i]` goes
/// down at `64·i + 32`, so seven or eight keys are always down.
fn block_input(up: [u8; 8], down: [u8; 8]) -> [InputEvent; 16] {
    std::array::from_fn(|j| {
        let i = j / 2;
        let base = 64 * i as u32;
        if j % 2 == 0 {
            InputEvent::NoteOff {
                offset: base,
                channel: 0,
                key: up[i],
            }
        } else {
            InputEvent::NoteOn {
                offset: base + 32,
                channel: 0,
                key: down[i],
                velocity: 100,
            }
        }
    })
}

impl Rig {
    /// An instance of the shipped default model, ready, at beat 0.
    fn new(load: Load) -> Self {
        let instance = start_ready(ModelChoice::Default, |shared| {
            shared.offline.store(load == Load::Busy, Ordering::Relaxed);
        });
        let mut rig = Self {
            instance,
            settings: AudioSettings {
                out_channel: ANSWER_CHANNEL,
                ..AudioSettings::default()
            },
            load,
            pos_beats: 0.0,
            blocks: 0,
            since_sync: 0,
            input_even: block_input(KEYS_ODD, KEYS_EVEN),
            input_odd: block_input(KEYS_EVEN, KEYS_ODD),
            out_events: 0,
            answer_events: 0,
        };
        if load == Load::Busy {
            rig.run(BUSY_WARM_UP_BLOCKS);
        } else {
            rig.run(1000);
        }
        rig
    }

    /// Processes one block.
    fn step(&mut self) {
        let playing = self.load != Load::IdleStopped;
        let transport = HostTransport {
            playing,
            tempo_bpm: Some(TEMPO_BPM),
            pos_beats: playing.then_some(self.pos_beats),
            time_sig: Some((4, 4)),
            bar_start_beats: None,
        };
        let input: &[InputEvent] = match self.load {
            Load::Busy if self.blocks.is_multiple_of(2) => &self.input_even,
            Load::Busy => &self.input_odd,
            Load::IdlePlaying | Load::IdleStopped => &[],
        };
        let out = self.instance.audio.process_block(
            &transport,
            BLOCK_SAMPLES,
            SAMPLE_RATE_HZ,
            &self.settings,
            input.iter().copied(),
        );
        let events = black_box(out.events);
        self.out_events += events.len() as u64;
        self.answer_events += events
            .iter()
            .filter(|e| e.channel == ANSWER_CHANNEL)
            .count() as u64;
        self.blocks += 1;
        self.since_sync += 1;
        self.pos_beats += f64::from(BLOCK_SAMPLES) * TEMPO_BPM / (60.0 * SAMPLE_RATE_HZ);
    }

    /// Busy blocks: waits (untimed) until the worker has taken in every captured event, once
    /// every [`SYNC_EVERY_BLOCKS`] blocks.
    fn sync_if_due(&mut self) {
        if self.load == Load::Busy && self.since_sync >= SYNC_EVERY_BLOCKS {
            let captured = self.instance.audio.captured_events();
            assert!(
                self.instance
                    .shared
                    .wait_for_worker(captured, Duration::from_secs(20)),
                "the worker fell behind"
            );
            self.since_sync = 0;
        }
    }

    /// Processes `blocks` blocks; returns the time they took, timed in stretches between the
    /// waits for the worker (which are not counted).
    fn run(&mut self, blocks: u64) -> Duration {
        let mut total = Duration::ZERO;
        let mut left = blocks;
        while left > 0 {
            self.sync_if_due();
            let stretch = match self.load {
                Load::Busy => left.min(SYNC_EVERY_BLOCKS - self.since_sync),
                Load::IdlePlaying | Load::IdleStopped => left,
            };
            let start = Instant::now();
            for _ in 0..stretch {
                self.step();
            }
            total += start.elapsed();
            left -= stretch;
        }
        total
    }

    /// Times `blocks` blocks one by one.
    fn time_each(&mut self, blocks: u64) -> Vec<Duration> {
        (0..blocks)
            .map(|_| {
                self.sync_if_due();
                let start = Instant::now();
                self.step();
                start.elapsed()
            })
            .collect()
    }

    /// A counter of the shared state.
    fn counter(&self, read: impl Fn(&antiphon_engine::Shared) -> u64) -> u64 {
        read(&self.instance.shared)
    }
}

/// Times 100,000 blocks of each kind one by one and prints their distribution.
fn percentiles(blocks: u64) {
    println!(
        "process_block: {blocks} blocks of {BLOCK_SAMPLES} samples at {} kHz, {TEMPO_BPM} BPM, \
         each timed with Instant (goal: median <= 5 µs, p99.9 <= 50 µs)",
        SAMPLE_RATE_HZ / 1000.0
    );
    for (load, label) in [
        (Load::IdlePlaying, "idle, transport playing"),
        (Load::IdleStopped, "idle, transport stopped"),
        (Load::Busy, "busy: 16 events in, call + answer"),
    ] {
        let mut rig = Rig::new(load);
        let (out_before, answer_before) = (rig.out_events, rig.answer_events);
        let played = |r: &Rig| r.counter(|s| s.answers_played.load(Ordering::Relaxed));
        let late = |r: &Rig| r.counter(|s| s.late_notes.load(Ordering::Relaxed));
        let dropped = |r: &Rig| r.counter(|s| s.dropped_events.load(Ordering::Relaxed));
        let (played_before, late_before, dropped_before) =
            (played(&rig), late(&rig), dropped(&rig));
        let mut times = rig.time_each(blocks);
        if let Some(summary) = Summary::of(&mut times) {
            println!("  {}", summary.line(label));
        }
        if load == Load::Busy {
            let n = blocks as f64;
            println!(
                "    per block: {:.1} events out ({:.2} answer notes on/off); answers started: \
                 {}, late answer notes: {}, input events dropped: {}",
                (rig.out_events - out_before) as f64 / n,
                (rig.answer_events - answer_before) as f64 / n,
                played(&rig) - played_before,
                late(&rig) - late_before,
                dropped(&rig) - dropped_before,
            );
        }
    }
}

/// Criterion's measurement of the mean block of each kind. Busy blocks get a short measurement
/// time: every 8 of them wait for the worker (about 0.3 ms, not counted), so their wall time is
/// far longer than what is measured.
fn criterion_blocks(c: &mut Criterion) {
    let mut group = c.benchmark_group("process_block_512");
    for (load, name) in [
        (Load::IdlePlaying, "idle_playing"),
        (Load::IdleStopped, "idle_stopped"),
        (Load::Busy, "busy_16_events_answer_playing"),
    ] {
        if load == Load::Busy {
            group.warm_up_time(Duration::from_millis(20));
            group.measurement_time(Duration::from_millis(150));
        }
        let mut rig = Rig::new(load);
        group.bench_function(name, |b| b.iter_custom(|iters| rig.run(iters)));
    }
    group.finish();
}

/// Runs the hand-made distributions, then criterion.
fn main() {
    let full = bench_mode();
    if wanted("process_block_512/percentiles") {
        percentiles(if full { 100_000 } else { 2_000 });
    }
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    criterion_blocks(&mut criterion);
    criterion.final_summary();
}
