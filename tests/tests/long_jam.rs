//! A long jam through the built plugin: call and response at 180 BPM for a simulated hour
//! (`ANTIPHON_LONG_JAM_MINUTES` sets another span, at least 2 minutes), rendered offline so it
//! runs as fast as the plugin allows: the hour took 77–128 s on a shared 2-core machine with
//! the debug plugin the tests build.
//!
//! The player repeats a pattern a musician might: a one-bar call, silence while it is answered,
//! a two-bar call, silence while that is answered; each call a little different from the last
//! (transposed, rhythm kept). Antiphon.clap (built with `assert_process_allocs`) runs at 48 kHz
//! in blocks of [`BLOCK_SAMPLES`], switched to offline rendering through `clap.render`, blocks
//! back to back: the plugin waits for its worker after each block, as in a bounce. "Seed" is
//! fixed, so a run repeats.
//!
//! At the end:
//! - no stuck notes: every note-on on the call's and the answer's channel has its note-off,
//!   and nothing sounds after the last block;
//! - the call came through unchanged (MIDI thru), and no note on any other channel;
//! - every answer note-on lies in its call's answer window (the design's: the next bar line
//!   after the call's end, as many bars as the call) and on the 16th-note grid;
//! - no late steps: the plugin's own count of answer notes that were due but not ready (or
//!   had no room), which it logs when it is deactivated, is 0, and no input event was dropped;
//! - memory stays flat: the resident set of this process (plugin, ONNX Runtime and host) after
//!   the first [`WARM_UP_MINUTES`] and at the end, printed both, grew by less than
//!   [`RSS_GROWTH_LIMIT_KIB`]; open file descriptors did not grow.
//!
//! `NICE_LOG` is set before the plugin loads; this file holds one test so no other test shares
//! the process.

use std::time::Instant;

use antiphon_tests::antiphon::{
    ANSWER_CHANNEL, AnswerWindow, BEATS_PER_BAR, CALL_CHANNEL, DEFAULT_SILENCE_BEATS, LOG_TIMEOUT,
    assert_clean_blocks, check_thru, expected_answer_window, load_for_render, log_into, param,
    wait_for_log,
};
use antiphon_tests::events::{OutEvent, OutKind};
use antiphon_tests::jam::{JamConfig, JamDriver, NoteDialect, PhraseNote};
use antiphon_tests::util::{TempDir, lines_with_all, open_fds, resident_kib};

/// The jam's tempo, in BPM.
const TEMPO_BPM: f64 = 180.0;
/// Samples per second.
const SAMPLE_RATE: f64 = 48_000.0;
/// Samples per process call (a common bounce block size).
const BLOCK_SAMPLES: u32 = 1024;
/// Samples per beat at 180 BPM and 48 kHz.
const SAMPLES_PER_BEAT: f64 = 16_000.0;
/// Samples per 16th note: the answer's grid.
const SIXTEENTH_SAMPLES: u64 = 4_000;
/// Simulated minutes when `ANTIPHON_LONG_JAM_MINUTES` is not set: the hour (about two minutes
/// of a debug build of the plugin on two cores).
const DEFAULT_MINUTES: f64 = 60.0;
/// The environment variable that sets the simulated minutes (60 for the full hour).
const MINUTES_ENV: &str = "ANTIPHON_LONG_JAM_MINUTES";
/// Simulated minutes before the first RSS reading (every path has run by then: both call
/// lengths, their answers, the allocator's arenas).
const WARM_UP_MINUTES: f64 = 1.0;
/// How much the resident set may grow between the readings, in KiB (64 MiB: generous; a leak of
/// one answer's buffers per call would pass it within the hour).
const RSS_GROWTH_LIMIT_KIB: u64 = 64 * 1024;
/// The "Seed" of the jam.
const SEED: &str = "1234";

/// Simulated minutes of this run.
fn minutes() -> f64 {
    match std::env::var(MINUTES_ENV) {
        Ok(text) => text
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|m| *m >= 2.0 * WARM_UP_MINUTES)
            .unwrap_or_else(|| {
                panic!("{MINUTES_ENV}={text:?}: give a number of minutes, at least 2")
            }),
        Err(_) => DEFAULT_MINUTES,
    }
}

/// One call of the pattern, starting at bar line `start_beats`; call `index` alternates between
/// a one-bar and a two-bar phrase, transposed by a step of the cycle C D F G A♭. No pause inside
/// a phrase is as long as "Silence" (1 beat), so each phrase is one call.
fn call(index: usize, start_beats: f64) -> Vec<PhraseNote> {
    const TRANSPOSE: [i8; 5] = [0, 2, 5, 7, -4];
    let shift = TRANSPOSE[(index / 2) % TRANSPOSE.len()];
    // (beat in the phrase, length in beats, semitones above C4)
    let one_bar: &[(f64, f64, i8)] = &[(0.0, 0.5, 0), (1.0, 0.5, 2), (2.0, 0.5, 4), (3.0, 0.5, 5)];
    let two_bars: &[(f64, f64, i8)] = &[
        (0.0, 0.5, 7),
        (1.0, 0.5, 5),
        (1.5, 0.5, 4),
        (2.0, 1.5, 2),
        (4.0, 0.5, 0),
        (5.0, 0.5, 4),
        (6.0, 0.75, 7),
    ];
    let phrase = if index.is_multiple_of(2) {
        one_bar
    } else {
        two_bars
    };
    phrase
        .iter()
        .map(|&(beat, length_beats, semitones)| PhraseNote {
            channel: CALL_CHANNEL,
            key: (60 + semitones + shift) as u8,
            velocity_midi: 90 + (index % 3) as u8 * 10,
            start_beats: start_beats + beat,
            length_beats,
        })
        .collect()
}

/// The late notes, answers played and dropped input events in the plugin's deactivation line
/// ("… answers played N, late notes N, dropped input events N").
fn counters(line: &str) -> Option<(u64, u64, u64, u64)> {
    let after = |label: &str| -> Option<u64> {
        let rest = &line[line.find(label)? + label.len()..];
        rest.trim_start()
            .split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    };
    Some((
        after("answers generated")?,
        after("answers played")?,
        after("late notes")?,
        after("dropped input events")?,
    ))
}

/// Answer note-ons outside every window or off the 16th grid, as descriptions.
fn misplaced_answer_notes(outputs: &[OutEvent], windows: &[AnswerWindow]) -> Vec<String> {
    let in_window = |sample: u64| {
        windows.iter().any(|w| {
            let start = (w.start_beats * SAMPLES_PER_BEAT).round() as u64;
            let end = (w.end_beats * SAMPLES_PER_BEAT).round() as u64;
            (start..end).contains(&sample)
        })
    };
    outputs
        .iter()
        .filter(|e| e.channel == ANSWER_CHANNEL && e.kind == OutKind::On)
        .filter(|e| !in_window(e.sample) || e.sample % SIXTEENTH_SAMPLES != 0)
        .map(|e| {
            format!(
                "key {} at beat {:.4}",
                e.key,
                e.sample as f64 / SAMPLES_PER_BEAT
            )
        })
        .collect()
}

#[test]
fn a_long_call_and_response_jam_keeps_memory_flat_with_no_stuck_notes_and_no_late_steps() {
    let minutes = minutes();
    let dir = TempDir::new("antiphon-long-jam").unwrap();
    let nice_log = log_into(&dir);
    let mut plugin = load_for_render(&[(param::SEED, SEED)], true, BLOCK_SAMPLES);
    let config = JamConfig::unpaced(SAMPLE_RATE, BLOCK_SAMPLES, TEMPO_BPM);
    assert_eq!(config.samples_per_beat(), SAMPLES_PER_BEAT);
    let mut jam = JamDriver::new(&mut plugin, config).unwrap();
    jam.play_from(0.0);

    let end_beats = minutes * TEMPO_BPM;
    let warm_up_beats = WARM_UP_MINUTES * TEMPO_BPM;
    let started = Instant::now();
    let mut windows: Vec<AnswerWindow> = Vec::new();
    let mut baseline: Option<(u64, usize, f64)> = None;
    // The first call starts on bar 2; each next one on the bar line where the last answer ends.
    let mut next_call_beats = BEATS_PER_BAR;
    loop {
        let phrase = call(windows.len(), next_call_beats);
        let window = expected_answer_window(&phrase, DEFAULT_SILENCE_BEATS, BEATS_PER_BAR);
        if window.end_beats > end_beats {
            break;
        }
        // Schedule each call a beat before it starts, so the host's queue stays short.
        jam.run_until_beats(next_call_beats - 1.0).unwrap();
        if baseline.is_none() && jam.now_beats() >= warm_up_beats {
            let kib = resident_kib().expect("/proc/self/status has VmRSS");
            let fds = open_fds().unwrap_or(0);
            eprintln!(
                "after {:.1} simulated minutes ({:.1} s): RSS {kib} KiB, {fds} open files",
                jam.now_beats() / TEMPO_BPM,
                started.elapsed().as_secs_f64()
            );
            baseline = Some((kib, fds, jam.now_beats()));
        }
        jam.schedule_phrase(&phrase, NoteDialect::Clap).unwrap();
        next_call_beats = window.end_beats;
        windows.push(window);
    }
    // A bar past the last answer, so its note-offs are in.
    jam.run_until_beats(next_call_beats + BEATS_PER_BAR)
        .unwrap();
    let wall_s = started.elapsed().as_secs_f64();
    let (start_kib, start_fds, start_beats) = baseline.expect("the jam outlasted its warm-up");
    let end_kib = resident_kib().unwrap();
    let end_fds = open_fds().unwrap_or(0);
    let simulated_s = jam.now_beats() * 60.0 / TEMPO_BPM;
    let stats = jam.stats();
    let outputs = jam.outputs().to_vec();
    let sent = jam.sent().to_vec();
    let answer_ons = outputs
        .iter()
        .filter(|e| e.channel == ANSWER_CHANNEL && e.kind == OutKind::On)
        .count();
    let answered = windows
        .iter()
        .filter(|w| {
            outputs.iter().any(|e| {
                e.channel == ANSWER_CHANNEL
                    && e.kind == OutKind::On
                    && (w.start_beats * SAMPLES_PER_BEAT..w.end_beats * SAMPLES_PER_BEAT)
                        .contains(&(e.sample as f64))
            })
        })
        .count();
    let ledgers = [jam.ledger(CALL_CHANNEL), jam.ledger(ANSWER_CHANNEL)];
    let last_sample = jam.now_sample();
    drop(jam);
    plugin.stop_processing().unwrap();
    plugin.deactivate().unwrap();

    eprintln!(
        "simulated {:.1} min ({:.0} beats at {TEMPO_BPM} BPM) in {wall_s:.1} s ({:.0}x real \
         time), {} blocks of {BLOCK_SAMPLES}; {} calls, {answered} answered with notes, \
         {answer_ons} answer notes",
        simulated_s / 60.0,
        simulated_s * TEMPO_BPM / 60.0,
        simulated_s / wall_s,
        stats.blocks,
        windows.len()
    );
    eprintln!(
        "RSS {start_kib} KiB at {:.1} min, {end_kib} KiB at the end ({:+} KiB); open files \
         {start_fds} then {end_fds}; the host kept {} output and {} input events",
        start_beats / TEMPO_BPM,
        end_kib as i64 - start_kib as i64,
        outputs.len(),
        sent.len()
    );
    let (log, found) = wait_for_log(&nice_log, &plugin, LOG_TIMEOUT, |t| {
        lines_with_all(t, &["deactivated", "late notes"])
            .iter()
            .any(|l| counters(l).is_some())
    });
    assert!(
        found,
        "no deactivation line with the counters in the log:\n{log}"
    );
    let line = lines_with_all(&log, &["deactivated", "late notes"])
        .into_iter()
        .rev()
        .find(|l| counters(l).is_some())
        .unwrap();
    eprintln!("the plugin: {line}");
    let (generated, played, late, dropped) = counters(line).unwrap();

    assert_clean_blocks(&stats);
    for ledger in &ledgers {
        assert!(
            ledger.is_balanced(),
            "stuck notes: note-ons without note-off {:?}, note-offs without note-on {:?}",
            ledger.unpaired_ons,
            ledger.offs_without_on
        );
        let sounding = ledger.sounding_before(last_sample);
        assert!(
            sounding.is_empty(),
            "sounding after the last block: {sounding:?}"
        );
    }
    check_thru(&sent, &outputs, CALL_CHANNEL).unwrap();
    let elsewhere: Vec<&OutEvent> = outputs
        .iter()
        .filter(|e| e.channel != CALL_CHANNEL && e.channel != ANSWER_CHANNEL)
        .collect();
    assert!(
        elsewhere.is_empty(),
        "notes on other channels: {elsewhere:?}"
    );
    let misplaced = misplaced_answer_notes(&outputs, &windows);
    assert!(
        misplaced.is_empty(),
        "{} answer notes outside their window or off the grid: {:?}",
        misplaced.len(),
        &misplaced[..misplaced.len().min(20)]
    );
    assert_eq!(late, 0, "late notes (due but not ready): {line}");
    assert_eq!(dropped, 0, "dropped input events: {line}");
    assert!(
        generated >= windows.len() as u64,
        "{generated} answers generated for {} calls",
        windows.len()
    );
    assert_eq!(
        played, answered as u64,
        "answers the plugin started vs windows with answer notes"
    );
    assert!(
        answered * 2 > windows.len(),
        "only {answered} of {} calls were answered with notes",
        windows.len()
    );
    assert!(
        end_kib < start_kib + RSS_GROWTH_LIMIT_KIB,
        "RSS grew from {start_kib} KiB to {end_kib} KiB"
    );
    assert!(
        end_fds <= start_fds,
        "open files grew from {start_fds} to {end_fds}"
    );
}
