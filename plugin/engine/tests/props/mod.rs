//! Shared by the property tests: how many cases to run, where failures are kept, and the driver
//! that plays a [`HostScript`] through an [`AudioEngine`] and checks every block — the host-level
//! invariants of [`OutputChecker`] and the musical clock against a reference model of it.

// Each test crate uses the helpers it needs.
#![allow(dead_code)]

use antiphon_engine::host_script::{BlockBeats, HostBlock, HostScript, OutputChecker, Seen, Sent};
use antiphon_engine::{AudioEngine, BlockTime};
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError};

/// The number of cases for a tier: `tier_env` if set, else `PROPTEST_CASES` if set, else
/// `default_cases`.
pub fn cases(tier_env: &str, default_cases: u32) -> u32 {
    let read = |name: &str| std::env::var(name).ok().and_then(|v| v.trim().parse().ok());
    read(tier_env)
        .or_else(|| read("PROPTEST_CASES"))
        .unwrap_or(default_cases)
}

/// A proptest configuration with `cases` cases whose failures are kept in `regressions` (a path
/// under `proptest-regressions/`, replayed first on the next run) and shrunk for at most
/// `max_shrink_iters` steps.
pub fn config(cases: u32, regressions: &'static str, max_shrink_iters: u32) -> Config {
    Config {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(regressions))),
        max_shrink_iters,
        ..Config::default()
    }
}

/// What the clock should make of a block: a reference model of [`antiphon_engine::MusicalClock`]
/// written from its documentation.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClockModel {
    /// End of the previous block in beats, unless the clock was reset.
    prev_end_beats: Option<f64>,
    /// Whether the previous block followed the host.
    prev_host_playing: bool,
    /// Bar length in beats.
    bar_len_beats: Option<f64>,
}

impl ClockModel {
    /// Checks the engine's `time` for `block`, then moves on past it.
    pub fn check(&mut self, block: &HostBlock, time: &BlockTime) -> Result<(), String> {
        if block.releases_all() {
            self.prev_end_beats = None;
        }
        let t = &block.transport;
        let tempo = t
            .tempo_bpm
            .filter(|b| b.is_finite() && *b > 0.0)
            .unwrap_or(block.settings.fallback_tempo_bpm)
            .clamp(1.0, 1000.0);
        let samples_per_beat = block.sample_rate_hz * 60.0 / tempo;
        let host_playing = t.playing && t.pos_beats.is_some();
        let (start, jumped) = match (host_playing, t.pos_beats, self.prev_end_beats) {
            (true, Some(pos), Some(prev)) => (
                pos,
                !self.prev_host_playing || (pos - prev).abs() > 1.0 / 64.0,
            ),
            (true, Some(pos), None) => (pos, true),
            (_, _, Some(prev)) => (prev, self.prev_host_playing),
            (_, _, None) => (0.0, true),
        };
        if let Some((n, d)) = t.time_sig {
            self.bar_len_beats = Some(f64::from(n) * 4.0 / f64::from(d));
        }
        let bar_len = self.bar_len_beats.unwrap_or(4.0);
        let end = start + f64::from(block.len_samples) / samples_per_beat;
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0);
        let problems = [
            (time.start_beats == start, "start"),
            (
                close(time.samples_per_beat, samples_per_beat),
                "samples per beat",
            ),
            (close(time.end_beats, end), "end"),
            (time.len_samples == block.len_samples, "length"),
            (time.host_playing == host_playing, "host playing"),
            (time.jumped == jumped, "jump"),
            (close(time.bar_len_beats, bar_len), "bar length"),
        ];
        if let Some((_, what)) = problems.iter().find(|(ok, _)| !ok) {
            return Err(format!(
                "block {}: the clock's {what} is wrong: {time:?} (expected start {start}, \
                 {samples_per_beat} samples per beat, end {end}, host playing {host_playing}, \
                 jumped {jumped}, bar {bar_len})",
                block.index
            ));
        }
        self.prev_end_beats = Some(time.end_beats);
        self.prev_host_playing = host_playing;
        Ok(())
    }
}

/// Plays `script` through `engine`, calling `between(engine, block)` after every block (where a
/// worker takes its turn), and checks every block. Returns what was checked.
pub fn drive(
    engine: &mut AudioEngine,
    script: &HostScript,
    mut between: impl FnMut(&mut AudioEngine, &HostBlock),
) -> Result<Seen, TestCaseError> {
    let mut checker = OutputChecker::new(script);
    let mut clock = ClockModel::default();
    let mut sent = Vec::new();
    for block in script.render() {
        if block.releases_all() {
            engine.release_all_next_block();
        }
        let out = engine.process_block(
            &block.transport,
            block.len_samples,
            block.sample_rate_hz,
            &block.settings,
            block.input_events(),
        );
        let time = out.time;
        sent.clear();
        sent.extend(out.events.iter().map(|e| Sent {
            offset: e.offset,
            kind: e.kind,
            channel: e.channel,
            key: e.key,
        }));
        clock.check(&block, &time).map_err(TestCaseError::fail)?;
        let beats = BlockBeats {
            start_beats: time.start_beats,
            samples_per_beat: time.samples_per_beat,
            jumped: time.jumped,
        };
        checker
            .block(&block, Some(beats), &sent)
            .map_err(|e| TestCaseError::fail(format!("{e}\n  sent: {sent:?}")))?;
        between(engine, &block);
    }
    checker.finish().map_err(TestCaseError::fail)?;
    if engine.any_sounding() {
        return Err(TestCaseError::fail(
            "the engine says a note still sounds after the closing blocks",
        ));
    }
    Ok(checker.seen())
}
