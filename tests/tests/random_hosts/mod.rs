//! Shared by `random_hosts_clap.rs` and `random_hosts_vst3.rs`: the engine's random host
//! scripts ([`antiphon_engine::host_script`]) played through a built plugin binary, every block
//! checked by the same [`OutputChecker`] the engine's property tests use.
//!
//! A format's test implements [`ScriptedPlugin`] (how its host sends a block, a parameter
//! change, a reset and a reactivation, and what the plugin's engine then sees of the
//! transport); [`drive`] does the rest, the same for both formats:
//!
//! - the script's plugin settings (MIDI thru, output channel, interrupt, bypass, fallback
//!   tempo, listen channel, Continue key) and the case's [`JamSetup`] become parameter changes
//!   at the start of the block they apply to, as normalized values computed the way nice-plug
//!   computes them ([`Param`]);
//! - a momentary control of the script (End Call, Mutate, Continue, Panic) switches its
//!   parameter on at the start of its block and off at the start of the next (the plugin acts
//!   when the parameter switches on; a press in the block right after a press of the same
//!   control is not seen, as with a button held down);
//! - `reset()` and reactivation are the format's own calls;
//! - where each block sat on the plugin's beat timeline is worked out by [`ClockModel`], the
//!   engine's reference model of its musical clock (the one its property tests check the engine
//!   against) fed with the transport as the plugin's engine receives it and the fallback tempo
//!   as the plugin holds it, so the grid and jump rules are checked in every block.
//!
//! The plugin renders offline (CLAP `render` / VST3 `kOffline`): it then waits for its worker
//! after each block, so a case plays the same way every time (the answers are seeded by the
//! case) and shrinks cleanly.

// Each test crate uses the helpers it needs.
#![allow(dead_code)]

use std::cell::Cell;
use std::fmt::Debug;
use std::time::Instant;

use antiphon_engine::host_script::{
    self, ClockModel, HostBlock, HostScript, OutputChecker, ScriptEvent, ScriptLimits, Seen, Sent,
    cases, host_script,
};
use antiphon_engine::{AudioSettings, HostTransport, JamControl};
use antiphon_tests::events::{OutEvent, OutKind};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

/// Cases in a CI run.
pub const DEFAULT_CASES: u32 = 256;
/// Runs of at least this many cases must have answers (a short run may have none).
pub const MIN_CASES_FOR_ANSWERS: u32 = 64;
/// The longest block a script uses.
pub const MAX_BLOCK_SAMPLES: u32 = 8192;

/// A proptest configuration for a test whose every case loads a model: [`host_script::config`]
/// with shrinking bounded to `max_shrink_iters` steps and five minutes.
pub fn config(cases: u32, regressions: &'static str, max_shrink_iters: u32) -> Config {
    Config {
        max_shrink_time: 300_000,
        ..host_script::config(cases, regressions, max_shrink_iters)
    }
}

/// How a parameter's plain values map to nice-plug's normalized ones.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Range {
    /// On (1) or off (0).
    Bool,
    /// Whole numbers `min..=max` (enums are 0..=variants-1).
    Int {
        /// Lowest value.
        min: i32,
        /// Highest value.
        max: i32,
    },
    /// A linear float range with a step.
    Float {
        /// Lowest value.
        min: f32,
        /// Highest value.
        max: f32,
        /// Values snap to multiples of it.
        step: f32,
    },
}

/// The plugin parameters the driver sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Param {
    /// MIDI Thru.
    MidiThru,
    /// Output Channel, 1..=16.
    OutputChannel,
    /// Interrupt.
    Interrupt,
    /// Bypass (VST3: the `kIsBypass` parameter).
    Bypass,
    /// Tempo used when the host gives none, 30..=300 BPM in steps of 0.1.
    Tempo,
    /// Listen Channel: 0 = Omni, 1..=16.
    ListenChannel,
    /// Continue Key: -1 = off, else a key.
    ContinueKey,
    /// Momentary End Call.
    EndCall,
    /// Momentary Mutate.
    Mutate,
    /// Momentary Continue.
    Continue,
    /// Momentary Panic.
    Panic,
    /// Mode (Call and Response, Trade, Accompany, Continue).
    Mode,
    /// Loop Answer.
    LoopAnswer,
    /// Answer Start (Next Bar, Next Beat).
    AnswerStart,
    /// Answer Length in bars, 0 = as long as the call.
    AnswerLength,
    /// Silence that ends a call, 0.25..=8 beats in steps of 0.25.
    Silence,
    /// Trade Bars, 1..=16.
    TradeBars,
    /// Seed, 0..=1,000,000 (0: fresh each time).
    Seed,
}

impl Param {
    /// Every parameter the driver sets.
    pub const ALL: [Param; 18] = [
        Param::MidiThru,
        Param::OutputChannel,
        Param::Interrupt,
        Param::Bypass,
        Param::Tempo,
        Param::ListenChannel,
        Param::ContinueKey,
        Param::EndCall,
        Param::Mutate,
        Param::Continue,
        Param::Panic,
        Param::Mode,
        Param::LoopAnswer,
        Param::AnswerStart,
        Param::AnswerLength,
        Param::Silence,
        Param::TradeBars,
        Param::Seed,
    ];

    /// The parameter's name (its CLAP name and VST3 title).
    pub fn name(self) -> &'static str {
        match self {
            Param::MidiThru => "MIDI Thru",
            Param::OutputChannel => "Output Channel",
            Param::Interrupt => "Interrupt",
            Param::Bypass => "Bypass",
            Param::Tempo => "Tempo",
            Param::ListenChannel => "Listen Channel",
            Param::ContinueKey => "Continue Key",
            Param::EndCall => "End Call",
            Param::Mutate => "Mutate",
            Param::Continue => "Continue",
            Param::Panic => "Panic",
            Param::Mode => "Mode",
            Param::LoopAnswer => "Loop Answer",
            Param::AnswerStart => "Answer Start",
            Param::AnswerLength => "Answer Length",
            Param::Silence => "Silence",
            Param::TradeBars => "Trade Bars",
            Param::Seed => "Seed",
        }
    }

    /// The parameter's range, as the plugin declares it.
    pub fn range(self) -> Range {
        match self {
            Param::MidiThru
            | Param::Interrupt
            | Param::Bypass
            | Param::EndCall
            | Param::Mutate
            | Param::Continue
            | Param::Panic
            | Param::LoopAnswer => Range::Bool,
            Param::OutputChannel => Range::Int { min: 1, max: 16 },
            Param::Tempo => Range::Float {
                min: 30.0,
                max: 300.0,
                step: 0.1,
            },
            Param::ListenChannel => Range::Int { min: 0, max: 16 },
            Param::ContinueKey => Range::Int { min: -1, max: 127 },
            Param::Mode => Range::Int { min: 0, max: 3 },
            Param::AnswerStart => Range::Int { min: 0, max: 1 },
            Param::AnswerLength => Range::Int { min: 0, max: 16 },
            Param::Silence => Range::Float {
                min: 0.25,
                max: 8.0,
                step: 0.25,
            },
            Param::TradeBars => Range::Int { min: 1, max: 16 },
            Param::Seed => Range::Int {
                min: 0,
                max: 1_000_000,
            },
        }
    }

    /// The momentary parameter of a jam control.
    pub fn of_control(control: JamControl) -> Self {
        match control {
            JamControl::EndCall => Param::EndCall,
            JamControl::Mutate => Param::Mutate,
            JamControl::Continue => Param::Continue,
            JamControl::Panic => Param::Panic,
        }
    }

    /// The normalized value of `plain`, computed in `f32` as nice-plug's ranges do (clamped).
    pub fn normalized(self, plain: f64) -> f32 {
        match self.range() {
            Range::Bool => f32::from(u8::from(plain >= 0.5)),
            Range::Int { min, max } => {
                let v = (plain.round() as i32).clamp(min, max);
                ((v - min) as f32 / (max - min) as f32).clamp(0.0, 1.0)
            }
            Range::Float { min, max, .. } => ((plain as f32).clamp(min, max) - min) / (max - min),
        }
    }

    /// Steps of a stepped parameter (the CLAP value is the step index); `None` for a float.
    pub fn step_count(self) -> Option<u32> {
        match self.range() {
            Range::Bool => Some(1),
            Range::Int { min, max } => Some((max - min) as u32),
            Range::Float { .. } => None,
        }
    }

    /// The value a CLAP host sends for `plain`: nice-plug's CLAP values are the normalized
    /// value times the step count (the step index), or the normalized value for a float.
    pub fn clap_value(self, plain: f64) -> f64 {
        let normalized = f64::from(self.normalized(plain));
        match self.step_count() {
            Some(steps) => (normalized * f64::from(steps)).round(),
            None => normalized,
        }
    }

    /// The plain value the plugin holds after receiving `normalized` (float parameters: the
    /// range's `unnormalize` then the step snap, in `f32`, as nice-plug does).
    pub fn held_value(self, normalized: f32) -> f64 {
        match self.range() {
            Range::Bool => f64::from(u8::from(normalized >= 0.5)),
            Range::Int { min, max } => {
                f64::from((normalized.clamp(0.0, 1.0) * (max - min) as f32).round() as i32 + min)
            }
            Range::Float { min, max, step } => {
                let value = (normalized.clamp(0.0, 1.0) * (max - min)) + min;
                f64::from(((value / step).round() * step).clamp(min, max))
            }
        }
    }
}

/// The parameter values (plain) of the engine settings `s`.
pub fn settings_params(s: &AudioSettings) -> [(Param, f64); 7] {
    [
        (Param::MidiThru, f64::from(u8::from(s.midi_thru))),
        (Param::OutputChannel, f64::from(s.out_channel) + 1.0),
        (Param::Interrupt, f64::from(u8::from(s.interrupt))),
        (Param::Bypass, f64::from(u8::from(s.bypassed))),
        (Param::Tempo, s.fallback_tempo_bpm),
        (
            Param::ListenChannel,
            s.listen_channel.map_or(0.0, |c| f64::from(c) + 1.0),
        ),
        (Param::ContinueKey, s.continue_key.map_or(-1.0, f64::from)),
    ]
}

/// The jam settings of a case (set once, before the first block).
#[derive(Debug, Clone, PartialEq)]
pub struct JamSetup {
    /// Mode: 0 Call and Response, 1 Trade, 2 Accompany, 3 Continue.
    pub mode: u8,
    /// Answers repeat until the player plays again.
    pub loop_answer: bool,
    /// Answers start on the next beat.
    pub answer_on_beat: bool,
    /// Fixed answer length in bars (0: as long as the call).
    pub answer_bars: u8,
    /// Beats of silence that end a call (a multiple of 0.25).
    pub silence_beats: f64,
    /// Bars per Trade turn.
    pub trade_bars: u8,
    /// Answer seed, 1..=1,000,000 (never 0: a case must play the same way each time).
    pub seed: u32,
}

/// A case's jam settings: mostly Call and Response with its defaults.
pub fn jam_setup() -> impl Strategy<Value = JamSetup> {
    (
        prop_oneof![4 => Just(0u8), 1 => Just(1u8), 1 => Just(2u8), 1 => Just(3u8)],
        proptest::bool::weighted(0.2),
        proptest::bool::weighted(0.2),
        prop_oneof![2 => Just(0u8), 1 => 1u8..=4],
        prop_oneof![Just(1.0f64), (1u32..=12).prop_map(|q| f64::from(q) * 0.25)],
        1u8..=4,
        1u32..=1_000_000,
    )
        .prop_map(
            |(mode, loop_answer, answer_on_beat, answer_bars, silence_beats, trade_bars, seed)| {
                JamSetup {
                    mode,
                    loop_answer,
                    answer_on_beat,
                    answer_bars,
                    silence_beats,
                    trade_bars,
                    seed,
                }
            },
        )
}

impl JamSetup {
    /// The parameter values (plain) of the setup.
    pub fn params(&self) -> [(Param, f64); 7] {
        [
            (Param::Mode, f64::from(self.mode)),
            (Param::LoopAnswer, f64::from(u8::from(self.loop_answer))),
            (Param::AnswerStart, f64::from(u8::from(self.answer_on_beat))),
            (Param::AnswerLength, f64::from(self.answer_bars)),
            (Param::Silence, self.silence_beats),
            (Param::TradeBars, f64::from(self.trade_bars)),
            (Param::Seed, f64::from(self.seed)),
        ]
    }
}

/// What a plugin's process call gave back, for the checker.
#[derive(Debug, Clone, PartialEq)]
pub struct Processed {
    /// Note events in the order the plugin sent them, with their offsets in the block.
    pub sent: Vec<Sent>,
    /// The transport as the plugin's engine received it (after the format's conversions).
    pub transport_seen: HostTransport,
}

/// The note events of a block that started at `block_start_sample`, as the checker takes them.
pub fn sent(notes: &[OutEvent], block_start_sample: u64) -> Vec<Sent> {
    notes
        .iter()
        .map(|n| Sent {
            offset: (n.sample - block_start_sample) as u32,
            kind: match n.kind {
                OutKind::On => antiphon_engine::OutKind::On,
                OutKind::Off => antiphon_engine::OutKind::Off,
            },
            channel: n.channel,
            key: n.key,
        })
        .collect()
}

/// One format's host, as [`drive`] uses it.
pub trait ScriptedPlugin {
    /// Sends `param` at `plain` at the start of the next block.
    fn queue_param(&mut self, param: Param, plain: f64) -> Result<(), String>;
    /// What the format's host does for `reset()`.
    fn reset(&mut self) -> Result<(), String>;
    /// Deactivates and activates again at `sample_rate_hz`.
    fn reactivate(&mut self, sample_rate_hz: f64) -> Result<(), String>;
    /// Processes `block`: its transport, its notes and CCs (controls are parameters, sent by
    /// [`drive`]), and the queued parameter changes.
    fn process(&mut self, block: &HostBlock) -> Result<Processed, String>;
}

/// What one case drove through, for the run's summary.
#[derive(Debug, Clone, Copy, Default)]
pub struct CaseSummary {
    /// What the checker checked.
    pub seen: Seen,
    /// Controls sent as parameter pulses.
    pub controls: u64,
    /// Resets and reactivations.
    pub restarts: u64,
}

/// Plays `script` with `setup` through `plugin` and checks every block (see the module docs).
/// The plugin is active and processing; the error names the block and what broke.
pub fn drive(
    plugin: &mut impl ScriptedPlugin,
    script: &HostScript,
    setup: &JamSetup,
) -> Result<CaseSummary, String> {
    let mut checker = OutputChecker::new(script);
    let mut clock = ClockModel::default();
    let mut summary = CaseSummary::default();
    // What was sent last, per parameter (plain values).
    let mut sent: Vec<(Param, f64)> = Vec::new();
    let mut send = |plugin: &mut dyn FnMut(Param, f64) -> Result<(), String>,
                    param: Param,
                    plain: f64|
     -> Result<(), String> {
        match sent.iter_mut().find(|(p, _)| *p == param) {
            Some((_, last)) if *last == plain => return Ok(()),
            Some((_, last)) => *last = plain,
            None => sent.push((param, plain)),
        }
        plugin(param, plain)
    };
    let mut fallback_tempo_bpm = Param::Tempo.held_value(Param::Tempo.normalized(120.0));
    let mut pressed: Vec<Param> = Vec::new();
    for block in script.render() {
        if block.reactivated {
            plugin.reactivate(block.sample_rate_hz)?;
            summary.restarts += 1;
        } else if block.reset {
            plugin.reset()?;
            summary.restarts += 1;
        }
        let mut queue = |param: Param, plain: f64| plugin.queue_param(param, plain);
        if block.index == 0 {
            for (param, plain) in setup.params() {
                send(&mut queue, param, plain)?;
            }
        }
        for (param, plain) in settings_params(&block.settings) {
            send(&mut queue, param, plain)?;
            if param == Param::Tempo {
                fallback_tempo_bpm = param.held_value(param.normalized(plain));
            }
        }
        let mut releases: Vec<Param> = std::mem::take(&mut pressed);
        for e in &block.events {
            if let ScriptEvent::Control(control) = e.event {
                let param = Param::of_control(control);
                releases.retain(|p| *p != param);
                if !pressed.contains(&param) {
                    pressed.push(param);
                    summary.controls += 1;
                }
            }
        }
        for &param in &releases {
            send(&mut queue, param, 0.0)?;
        }
        for &param in &pressed {
            send(&mut queue, param, 1.0)?;
        }
        let processed = plugin.process(&block)?;
        let rate = f64::from(block.sample_rate_hz as f32);
        let beats = clock
            .block(&block, &processed.transport_seen, fallback_tempo_bpm, rate)
            .beats();
        checker
            .block(&block, Some(beats), &processed.sent)
            .map_err(|e| {
                format!(
                    "{e}\n  sent: {:?}\n  the plugin's timeline (modelled): {beats:?}\n  transport \
                     seen: {:?}",
                    processed.sent, processed.transport_seen
                )
            })?;
    }
    checker.finish()?;
    summary.seen = checker.seen();
    Ok(summary)
}

/// Runs the random-host cases through one format's binary: `ANTIPHON_BINARY_CASES` (else
/// `PROPTEST_CASES`, else [`DEFAULT_CASES`]) scripts with their [`JamSetup`] and a `variant`
/// of the format's own (how its host sends notes, or `()`), each case started by `start` (a
/// plugin active and processing at the script's rate) and played by [`drive`]; failures are kept
/// in `regressions`. Prints what the run went through (`binary` names it) and panics on a failing
/// case, or when a run of at least [`MIN_CASES_FOR_ANSWERS`] cases has too few answer notes.
/// The caller bundles the plugin first, so the bundling is not timed.
pub fn run_binary_cases<V, P>(
    binary: &str,
    regressions: &'static str,
    variant: impl Strategy<Value = V>,
    start: impl Fn(&HostScript, V) -> Result<P, String>,
) where
    V: Debug,
    P: ScriptedPlugin,
{
    let cases = cases("ANTIPHON_BINARY_CASES", DEFAULT_CASES);
    let mut runner = TestRunner::new(config(cases, regressions, 64));
    let total = Cell::new(CaseSummary::default());
    let answered = Cell::new(0u64);
    let started = Instant::now();
    let strategy = (host_script(ScriptLimits::WITH_MODEL), jam_setup(), variant);
    let result = runner.run(&strategy, |(script, setup, variant)| {
        let mut plugin = start(&script, variant).map_err(TestCaseError::fail)?;
        let summary = drive(&mut plugin, &script, &setup).map_err(TestCaseError::fail)?;
        let mut sum = total.get();
        sum.seen += summary.seen;
        sum.controls += summary.controls;
        sum.restarts += summary.restarts;
        total.set(sum);
        answered.set(answered.get() + u64::from(summary.seen.answer_notes > 0));
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}\n{runner}");
    }
    let total = total.get();
    eprintln!(
        "{cases} random hosts through {binary} in {:.1} s ({} cases with answer notes, {} \
         controls, {} resets and reactivations): {}",
        started.elapsed().as_secs_f64(),
        answered.get(),
        total.controls,
        total.restarts,
        total.seen
    );
    // A run long enough to say something has answers in it (about 1.6 answer notes a case).
    if cases >= MIN_CASES_FOR_ANSWERS {
        assert!(
            total.seen.answer_notes > u64::from(cases / 4),
            "too few answer notes in {cases} cases: {}",
            total.seen
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalized_values_follow_nice_plug_ranges() {
        assert_eq!(Param::OutputChannel.normalized(1.0), 0.0);
        assert_eq!(Param::OutputChannel.normalized(16.0), 1.0);
        assert_eq!(Param::OutputChannel.clap_value(10.0), 9.0);
        assert_eq!(Param::ContinueKey.clap_value(-1.0), 0.0);
        assert_eq!(Param::ContinueKey.clap_value(60.0), 61.0);
        assert_eq!(Param::Bypass.clap_value(1.0), 1.0);
        // Below the Tempo range: clamped to 30.
        assert_eq!(Param::Tempo.held_value(Param::Tempo.normalized(20.0)), 30.0);
        let held = Param::Tempo.held_value(Param::Tempo.normalized(123.456));
        assert!((held - 123.5).abs() < 1e-4, "{held}");
        assert_eq!(
            Param::Silence.held_value(Param::Silence.normalized(1.0)),
            1.0
        );
        for plain in [0.0, 7.0, 16.0] {
            let n = Param::AnswerLength.normalized(plain);
            assert_eq!(Param::AnswerLength.held_value(n), plain);
        }
    }
}
