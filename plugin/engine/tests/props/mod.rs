//! Shared by the property tests: how many cases to run, where failures are kept, and the driver
//! that plays a [`HostScript`] through an [`AudioEngine`] and checks every block — the host-level
//! invariants of [`OutputChecker`] and the musical clock against the reference model of it
//! ([`ClockModel`]).

// Each test crate uses the helpers it needs.
#![allow(dead_code)]

use antiphon_engine::host_script::{
    BlockBeats, ClockModel, HostBlock, HostScript, OutputChecker, Seen, Sent,
};
use antiphon_engine::{AudioEngine, BlockTime};
use proptest::test_runner::TestCaseError;

pub use antiphon_engine::host_script::{cases, config};

/// Checks the engine's `time` for `block` against the reference model `clock` (fed the block's
/// own transport, fallback tempo and rate), then moves the model on from the engine's end.
pub fn check_clock(
    clock: &mut ClockModel,
    block: &HostBlock,
    time: &BlockTime,
) -> Result<(), String> {
    let m = clock.block(
        block,
        &block.transport,
        block.settings.fallback_tempo_bpm,
        block.sample_rate_hz,
    );
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0);
    let problems = [
        (time.start_beats == m.start_beats, "start"),
        (
            close(time.samples_per_beat, m.samples_per_beat),
            "samples per beat",
        ),
        (close(time.end_beats, m.end_beats), "end"),
        (time.len_samples == block.len_samples, "length"),
        (time.host_playing == m.host_playing, "host playing"),
        (time.jumped == m.jumped, "jump"),
        (close(time.bar_len_beats, m.bar_len_beats), "bar length"),
    ];
    if let Some((_, what)) = problems.iter().find(|(ok, _)| !ok) {
        return Err(format!(
            "block {}: the clock's {what} is wrong: {time:?} (expected start {}, {} samples per \
             beat, end {}, host playing {}, jumped {}, bar {})",
            block.index,
            m.start_beats,
            m.samples_per_beat,
            m.end_beats,
            m.host_playing,
            m.jumped,
            m.bar_len_beats
        ));
    }
    clock.continue_from(time.end_beats);
    Ok(())
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
        check_clock(&mut clock, &block, &time).map_err(TestCaseError::fail)?;
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
