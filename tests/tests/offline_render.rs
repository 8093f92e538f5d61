//! An offline bounce has the answer in it, and with a seed the same bounce twice has the same
//! answer.
//!
//! The host switches the plugin to offline rendering through `clap.render` and then processes
//! blocks of 16,384 samples back to back, with no pause between them (unpaced: a bounce runs as
//! fast as the plugin allows, nothing like the real-time pacing of the other jams that gives the
//! worker time between blocks). Each call ends a quarter beat before a bar line, so its answer
//! is due in the block after the call's last note-off, and answers are 16 bars long ("Answer
//! Length" 16), so they are still being generated while the render races on. The plugin waits
//! for its worker after each offline block, so the whole answer to every call is in the render,
//! on the grid, where the design puts it.
//!
//! NOTE: in this host the melody model mostly keeps up even when the plugin does not wait
//! (checked by hand: answers of 37, 22 and 18 note-ons without the wait, 55, 40 and 36 with it),
//! so this test shows that the offline path works and allocates nothing; `offline_slow_model.rs`
//! shows that the wait is needed, with a model slowed on purpose.

use std::time::Instant;

use antiphon_tests::antiphon::{
    ANSWER_CHANNEL, AnswerWindow, BEATS_PER_BAR, CALL_CHANNEL, SAMPLE_RATE, SAMPLES_PER_BEAT,
    TEMPO_BPM, assert_balanced, assert_clean_blocks, assert_on_the_grid, check_thru, describe,
    expected_answer_window, load_for_render, one_bar_call, ons_from, param,
};
use antiphon_tests::events::OutEvent;
use antiphon_tests::jam::{JamConfig, JamDriver, NoteDialect};

/// Calls in one render: a model may answer one call with rests only, not three.
const CALLS: usize = 3;
/// Samples per block of the render.
const RENDER_BLOCK_SAMPLES: u32 = 16_384;
/// "Answer Length" of the render, in bars.
const ANSWER_BARS: f64 = 16.0;
/// "Silence" of the render, in beats (its minimum): each call ends a quarter beat before a bar
/// line, where its answer starts.
const SILENCE_BEATS: f64 = 0.25;
/// Where each call starts after a bar line: its last note-off plus the silence then falls a
/// quarter beat before the next bar line but one.
const CALL_OFFSET_BEATS: f64 = 0.25;

/// What one render gave.
struct Render {
    /// Every note event the plugin sent.
    outputs: Vec<OutEvent>,
    /// The answer window of each call.
    windows: Vec<AnswerWindow>,
}

/// Renders [`CALLS`] calls (the test call at beat 4, each next one a bar after the previous
/// answer window) offline, with blocks back to back, and "Seed" set to `seed`.
fn render_offline(seed: u32) -> Render {
    let (seed, silence) = (seed.to_string(), SILENCE_BEATS.to_string());
    let settings = [
        (param::SEED, seed.as_str()),
        (param::ANSWER_LENGTH, "16"),
        (param::SILENCE, silence.as_str()),
    ];
    let mut plugin = load_for_render(&settings, true, RENDER_BLOCK_SAMPLES);
    let config = JamConfig::unpaced(SAMPLE_RATE, RENDER_BLOCK_SAMPLES, TEMPO_BPM);
    let mut jam = JamDriver::new(&mut plugin, config).unwrap();
    jam.play_from(0.0);
    let mut windows = Vec::new();
    let mut call_start = 2.0 * BEATS_PER_BAR + CALL_OFFSET_BEATS;
    for _ in 0..CALLS {
        let call = one_bar_call(call_start);
        jam.schedule_phrase(&call, NoteDialect::Clap).unwrap();
        let start_beats = expected_answer_window(&call, SILENCE_BEATS, BEATS_PER_BAR).start_beats;
        let window = AnswerWindow {
            start_beats,
            end_beats: start_beats + ANSWER_BARS * BEATS_PER_BAR,
        };
        call_start = window.end_beats + BEATS_PER_BAR + CALL_OFFSET_BEATS;
        windows.push(window);
    }
    let end_beats = call_start;
    let started = Instant::now();
    jam.run_until_beats(end_beats).unwrap();
    let took = started.elapsed().as_secs_f64();
    let audio_seconds = end_beats * 60.0 / TEMPO_BPM;
    eprintln!(
        "rendered {audio_seconds:.1} s of audio in {took:.2} s ({:.1}x real time), {} blocks",
        audio_seconds / took,
        jam.stats().blocks
    );
    assert_clean_blocks(&jam.stats());
    assert_balanced(&jam, &[CALL_CHANNEL, ANSWER_CHANNEL], "offline render");
    check_thru(jam.sent(), jam.outputs(), CALL_CHANNEL).unwrap();
    Render {
        outputs: jam.outputs().to_vec(),
        windows,
    }
}

/// The answer's note events (on and off) of `render`.
fn answer_events(render: &Render) -> Vec<OutEvent> {
    render
        .outputs
        .iter()
        .filter(|e| e.channel == ANSWER_CHANNEL)
        .copied()
        .collect()
}

/// Asserts every answer note-on lies in a call's window, on the grid, and some answer has notes
/// in the last quarter of its window (which comes too late unless the plugin waits).
fn assert_answers_in_windows(render: &Render) {
    let ons = ons_from(&render.outputs, ANSWER_CHANNEL, 0);
    eprintln!(
        "the plugin sent:\n{}",
        describe(&render.outputs, SAMPLES_PER_BEAT)
    );
    assert!(!ons.is_empty(), "no answer note in the offline render");
    let mut answered = 0;
    let mut in_windows = 0;
    let mut late_in_window = 0;
    for window in &render.windows {
        let (start, end) = window.samples(SAMPLES_PER_BEAT);
        let inside: Vec<OutEvent> = ons
            .iter()
            .filter(|e| (start..end).contains(&e.sample))
            .copied()
            .collect();
        assert_on_the_grid(&inside, *window, "offline render");
        answered += usize::from(!inside.is_empty());
        in_windows += inside.len();
        let last_quarter = start + (end - start) * 3 / 4;
        let late = inside.iter().filter(|e| e.sample >= last_quarter).count();
        eprintln!(
            "window beats {}..{}: {} note-ons, {late} in its last quarter, the first at beat {:?}",
            window.start_beats,
            window.end_beats,
            inside.len(),
            inside.first().map(|e| e.sample as f64 / SAMPLES_PER_BEAT)
        );
        late_in_window += late;
    }
    assert!(
        late_in_window > 0,
        "no answer has a note in the last quarter of its 16 bars: the ends came too late"
    );
    assert_eq!(
        in_windows,
        ons.len(),
        "every answer note-on is in an answer window"
    );
    eprintln!("{answered} of {CALLS} calls were answered with notes");
}

#[test]
fn an_offline_render_with_back_to_back_blocks_has_the_answers() {
    let render = render_offline(0);
    assert_answers_in_windows(&render);
}

#[test]
fn two_offline_renders_with_seed_42_have_the_same_answers() {
    let first = render_offline(42);
    assert_answers_in_windows(&first);
    let second = render_offline(42);
    let (a, b) = (answer_events(&first), answer_events(&second));
    assert_eq!(
        a,
        b,
        "Seed = 42: the second render's answers differ from the first's:\nfirst:\n{}\nsecond:\n{}",
        describe(&a, SAMPLES_PER_BEAT),
        describe(&b, SAMPLES_PER_BEAT)
    );
}
