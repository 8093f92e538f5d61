//! The answer lands on the host's grid, and stops cleanly with the transport.
//!
//! Antiphon.clap (built with `assert_process_allocs`: any allocation in `process()` aborts this
//! process) is activated at 48 kHz with blocks of 512, the transport plays at 120 BPM in 4/4 from
//! beat 0 (24,000 samples per beat, a 16th = 6,000 samples), "Output Channel" = 2 and
//! "MIDI Thru" on. The call is C4 D4 E4 F4 as quarter notes at beats 4..7, each half a beat.
//!
//! By the design the call ends after "Silence" (1 beat) with no key down, at beat 8.5; the answer
//! starts on the next bar line (beat 12) and lasts the call's length rounded up to whole bars
//! (beats 12..16).

use antiphon_tests::antiphon::{
    ANSWER_CHANNEL, AnswerWindow, BEATS_PER_BAR, BLOCK_SAMPLES, CALL_CHANNEL,
    DEFAULT_SILENCE_BEATS, SAMPLE_RATE, SAMPLES_PER_BEAT, assert_balanced, assert_clean_blocks,
    assert_on_the_grid, assert_only_call_and_answer_channels, check_thru, describe,
    expected_answer_window, load_with_channel_2_thru, one_bar_call, ons_from, param, start_jam,
};
use antiphon_tests::events::{OutEvent, OutKind};
use antiphon_tests::host::PluginInstance;
use antiphon_tests::jam::{JamDriver, NoteDialect};

/// How many calls a test plays before it gives up on getting an answer with notes.
const MAX_CALLS: usize = 5;

/// Loads the bundled plugin, sets "Output Channel" = 2 and "MIDI Thru" on, activates it and
/// starts processing.
fn open_plugin() -> PluginInstance {
    let mut plugin = load_with_channel_2_thru();
    eprintln!(
        "Silence = {:?}, Answer Length = {:?}",
        plugin.param_display(param::SILENCE),
        plugin.param_display(param::ANSWER_LENGTH)
    );

    plugin.activate(SAMPLE_RATE, 1, BLOCK_SAMPLES).unwrap();
    plugin.start_processing().unwrap();
    plugin
}

/// What [`play_calls`] is after.
#[derive(Clone, Copy)]
enum Goal {
    /// A call whose answer has notes; each call runs until this many beats past its window's
    /// start.
    Answer {
        /// Beats past the window start to run each call for.
        run_past_start_beats: f64,
    },
    /// A moment, from `from_beats` past the window start until the window's end, at a block
    /// boundary where an answer note is sounding.
    SoundingAnswer {
        /// Beats past the window start to begin looking.
        from_beats: f64,
    },
}

/// Plays calls (the first at beat 4, each next one a bar after the previous answer window)
/// until `goal` is met; returns the window of the call that met it. Fails after `MAX_CALLS`.
fn play_calls(jam: &mut JamDriver<'_>, goal: Goal) -> AnswerWindow {
    let mut call_start = 4.0;
    for attempt in 1..=MAX_CALLS {
        let call = one_bar_call(call_start);
        let call_start_sample = jam.sample_at_beats(call_start).unwrap();
        jam.schedule_phrase(&call, NoteDialect::Clap).unwrap();
        let window = expected_answer_window(&call, DEFAULT_SILENCE_BEATS, BEATS_PER_BAR);
        eprintln!(
            "call {attempt} in beats {call_start}..{}: the answer should come in beats {}..{}",
            call_start + 3.5,
            window.start_beats,
            window.end_beats
        );
        match goal {
            Goal::Answer {
                run_past_start_beats,
            } => {
                jam.run_until_beats(window.start_beats + run_past_start_beats)
                    .unwrap();
                if !ons_from(jam.outputs(), ANSWER_CHANNEL, call_start_sample).is_empty() {
                    return window;
                }
                eprintln!("call {attempt} got an answer without notes");
            }
            Goal::SoundingAnswer { from_beats } => {
                jam.run_until_beats(window.start_beats + from_beats)
                    .unwrap();
                let end = jam.sample_at_beats(window.end_beats).unwrap();
                if jam.run_until_sounding(ANSWER_CHANNEL, end).unwrap() {
                    return window;
                }
                eprintln!("no answer note sounded in that part of call {attempt}'s answer");
            }
        }
        call_start = window.end_beats + BEATS_PER_BAR;
    }
    panic!(
        "no call of {MAX_CALLS} got what the test needs; everything the plugin sent:\n{}",
        describe(jam.outputs(), SAMPLES_PER_BEAT)
    );
}

#[test]
fn answer_comes_on_the_next_bar_line_on_the_16th_grid() {
    let mut plugin = open_plugin();
    let mut jam = start_jam(&mut plugin).unwrap();

    // Run each call a bar past its window's end, so late notes and note-offs would show.
    let window = play_calls(
        &mut jam,
        Goal::Answer {
            run_past_start_beats: 8.0,
        },
    );
    let outputs = jam.outputs().to_vec();
    let stats = jam.stats();
    eprintln!(
        "answer expected in beats {}..{}; stats {stats:?}; the plugin sent:\n{}",
        window.start_beats,
        window.end_beats,
        describe(&outputs, SAMPLES_PER_BEAT)
    );

    assert_clean_blocks(&stats);
    assert_eq!(stats.output_peak, 0.0, "the audio output should be silent");

    check_thru(jam.sent(), &outputs, CALL_CHANNEL).unwrap();

    let ons = ons_from(&outputs, ANSWER_CHANNEL, 0);
    assert_on_the_grid(&ons, window, "Melody");
    let (_, end) = window.samples(SAMPLES_PER_BEAT);

    let ledger = jam.ledger(ANSWER_CHANNEL);
    assert!(
        ledger.unpaired_ons.is_empty(),
        "answer notes left sounding: {:?}",
        ledger.unpaired_ons
    );
    assert!(
        ledger.offs_without_on.is_empty(),
        "answer note-offs without a note-on: {:?}",
        ledger.offs_without_on
    );
    let not_later: Vec<_> = ledger
        .notes
        .iter()
        .filter(|n| n.off_sample <= n.on_sample)
        .collect();
    assert!(
        not_later.is_empty(),
        "note-offs not after their note-on: {not_later:?}"
    );
    let past_end: Vec<_> = ledger.notes.iter().filter(|n| n.off_sample > end).collect();
    assert!(
        past_end.is_empty(),
        "answer notes sounding past the window's end (sample {end}): {past_end:?}"
    );

    assert_only_call_and_answer_channels(&outputs, ANSWER_CHANNEL, "Melody");
}

#[test]
fn stopping_the_transport_ends_the_answer_in_the_next_block() {
    let mut plugin = open_plugin();
    let mut jam = start_jam(&mut plugin).unwrap();

    // From one beat into the answer (beat 13.0 for the first call), stop at the first block
    // boundary where an answer note sounds.
    let window = play_calls(&mut jam, Goal::SoundingAnswer { from_beats: 1.0 });
    let sounding = jam.ledger(ANSWER_CHANNEL).sounding_before(jam.now_sample());
    let stop_sample = jam.stop();
    eprintln!(
        "stopped at sample {stop_sample} (beat {:.4}), inside the answer of beats {}..{}, \
         with (channel, key, on sample) {sounding:?} sounding",
        stop_sample as f64 / SAMPLES_PER_BEAT,
        window.start_beats,
        window.end_beats
    );
    jam.run_for_seconds(2.0).unwrap();
    let outputs = jam.outputs().to_vec();
    eprintln!("the plugin sent:\n{}", describe(&outputs, SAMPLES_PER_BEAT));

    assert_eq!(
        jam.stats().error_blocks,
        0,
        "process returned CLAP_PROCESS_ERROR"
    );
    check_thru(jam.sent(), &outputs, CALL_CHANNEL).unwrap();

    let first_block = stop_sample..stop_sample + u64::from(BLOCK_SAMPLES);
    for &(channel, key, on_sample) in &sounding {
        let off = outputs.iter().find(|e| {
            e.kind == OutKind::Off
                && e.channel == channel
                && e.key == key
                && e.sample >= stop_sample
        });
        match off {
            Some(off) => assert!(
                first_block.contains(&off.sample),
                "the note ch{channel} key {key} (on at {on_sample}) ended at sample {}, \
                 not in the first block after the stop ({first_block:?})",
                off.sample
            ),
            None => panic!(
                "the note ch{channel} key {key} (on at {on_sample}) got no note-off after the stop"
            ),
        }
    }
    let late_ons: Vec<OutEvent> = outputs
        .iter()
        .filter(|e| e.kind == OutKind::On && e.sample >= stop_sample)
        .copied()
        .collect();
    assert!(late_ons.is_empty(), "note-ons after the stop: {late_ons:?}");
    assert_balanced(&jam, &[CALL_CHANNEL, ANSWER_CHANNEL], "after the stop");
}
