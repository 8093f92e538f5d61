//! A project saved before the jam-mode parameters existed still loads: every old setting comes
//! back, every newer parameter is at its default, and the plugin answers by the old settings.
//!
//! The fixture `tests/fixtures/state-v0.1.0-2026-11-24-81ea33e.json` is the state the build of
//! commit 81ea33e saved (see `tests/fixtures/README.md`).

use antiphon_tests::antiphon::{
    BEATS_PER_BAR, BLOCK_SAMPLES, CALL_CHANNEL, PLUGIN_ID, SAMPLE_RATE, SAMPLES_PER_BEAT,
    assert_balanced, assert_clean_blocks, check_thru, describe, expected_answer_window,
    one_bar_call, ons_from, param, start_jam,
};
use antiphon_tests::bundle::{bundle_plugin, workspace_root};
use antiphon_tests::host::PluginInstance;
use antiphon_tests::jam::NoteDialect;
use antiphon_tests::nice_state;

/// The old state's JSON.
const FIXTURE: &str = "tests/fixtures/state-v0.1.0-2026-11-24-81ea33e.json";
/// The answer's channel index in the old state (Output Channel 5).
const OLD_ANSWER_CHANNEL: u8 = 4;
/// Silence in the old state, in beats.
const OLD_SILENCE_BEATS: f64 = 2.0;
/// Pitch classes of D natural minor (the old Scale and Key).
const D_MINOR: [u8; 7] = [2, 4, 5, 7, 9, 10, 0];
/// The old range, C3..=C6.
const OLD_RANGE: std::ops::RangeInclusive<u8> = 48..=84;
/// How many calls before giving up on an answer with notes.
const MAX_CALLS: usize = 5;

/// The parameters the old build did not have.
const NEW_PARAMS: [&str; 15] = [
    param::MODE,
    param::TRADE_BARS,
    param::LOOP_ANSWER,
    param::MIN_CALL_LENGTH,
    param::ANSWER_START,
    param::SEED,
    param::END_CALL,
    param::MUTATE,
    param::CONTINUE,
    param::PANIC,
    param::LISTEN_CHANNEL,
    param::CONTINUE_KEY,
    param::DENSITY,
    param::NOTE_OUTPUT,
    param::MIDI_LEARN,
];

/// The fixture as the state blob the old build's CLAP wrapper wrote (length, then JSON).
fn old_state() -> Vec<u8> {
    let json = std::fs::read(workspace_root().join(FIXTURE)).unwrap();
    let mut bytes = (json.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(&json);
    bytes
}

#[test]
fn a_state_from_before_the_mode_parameters_loads_and_the_plugin_answers_by_it() {
    let path = bundle_plugin();
    let mut plugin = PluginInstance::load(&path, PLUGIN_ID).unwrap();
    plugin.load_state(&old_state()).unwrap();

    // What the old build showed for the values it saved.
    for (name, shown) in [
        (param::TEMPERATURE, "1.50"),
        (param::ANSWER_LENGTH, "as call"),
        (param::OUTPUT_CHANNEL, "5"),
        (param::MIDI_THRU, "On"),
        (param::SILENCE, "2.0 beats"),
        (param::MAX_CALL_LENGTH, "4 bars"),
        (param::TEMPO, "100.0 BPM"),
        (param::INTERRUPT, "On"),
        (param::BYPASS, "Off"),
        (param::MODEL, "Melody"),
        (param::BEAM_SIZE, "1"),
        (param::SCALE, "Minor"),
        (param::KEY, "D"),
        (param::RANGE_LOW, "C3"),
        (param::RANGE_HIGH, "C6"),
        (param::CHORD_SOURCE, "Split Key"),
        (param::SPLIT_KEY, "E3"),
        (param::CHORD_CHANNEL, "3"),
        (param::HARMONIZE, "On"),
        (param::THRESHOLD_SAMPLING, "Off"),
    ] {
        assert_eq!(plugin.param_display(name).unwrap(), shown, "{name}");
    }
    for name in NEW_PARAMS {
        let info = plugin.param(name).unwrap();
        assert_eq!(
            plugin.param_value(info.id).unwrap(),
            info.default_value,
            "{name} is at its default"
        );
    }
    let state = nice_state::decode(&plugin.save_state().unwrap()).unwrap();
    assert_eq!(
        nice_state::persisted_field(&state, "model_path").unwrap(),
        Some(serde_json::json!(""))
    );
    for field in ["cc_end_call", "cc_mutate", "cc_continue", "cc_panic"] {
        assert_eq!(
            nice_state::persisted_field(&state, field).unwrap(),
            Some(serde_json::json!(255)),
            "{field}: nothing learned"
        );
    }

    // The plugin answers, on channel 5, in D minor between C3 and C6, after 2 beats of silence.
    plugin.activate(SAMPLE_RATE, 1, BLOCK_SAMPLES).unwrap();
    plugin.start_processing().unwrap();
    let mut jam = start_jam(&mut plugin).unwrap();
    let mut call_start = 4.0;
    let mut answer = None;
    for attempt in 1..=MAX_CALLS {
        let call = one_bar_call(call_start);
        jam.schedule_phrase(&call, NoteDialect::Clap).unwrap();
        let window = expected_answer_window(&call, OLD_SILENCE_BEATS, BEATS_PER_BAR);
        let from = jam.sample_at_beats(call_start).unwrap();
        jam.run_until_beats(window.end_beats + BEATS_PER_BAR)
            .unwrap();
        let ons = ons_from(jam.outputs(), OLD_ANSWER_CHANNEL, from);
        if !ons.is_empty() {
            answer = Some((window, ons));
            break;
        }
        eprintln!("call {attempt} got an answer without notes");
        call_start = window.end_beats + BEATS_PER_BAR;
    }
    let outputs = jam.outputs().to_vec();
    eprintln!("the plugin sent:\n{}", describe(&outputs, SAMPLES_PER_BEAT));
    let (window, ons) = answer.expect("an answer with notes on channel 5");
    let (start, end) = window.samples(SAMPLES_PER_BEAT);
    for on in &ons {
        assert!(
            (start..end).contains(&on.sample),
            "answer note {on:?} outside samples {start}..{end} (Silence 2 beats)"
        );
        assert!(OLD_RANGE.contains(&on.key), "{on:?} outside C3..C6");
        assert!(D_MINOR.contains(&(on.key % 12)), "{on:?} is not in D minor");
    }
    assert_clean_blocks(&jam.stats());
    assert_balanced(&jam, &[CALL_CHANNEL, OLD_ANSWER_CHANNEL], "old state");
    check_thru(jam.sent(), &outputs, CALL_CHANNEL).unwrap();
}
