//! Every choice of the Model parameter answers through the real plugin, and a Custom File that is
//! not a contract model is refused while MIDI still passes through.
//!
//! Antiphon.clap (built with `assert_process_allocs`) is loaded, "Output Channel" = 2 and "MIDI
//! Thru" on, "Model" is set before activation, and the test call C4 D4 E4 F4 (beats 4..7.5) is
//! played in real time at 120 BPM, 48 kHz, 512-sample blocks. The answer must come in the bar
//! the design gives it (beats 12..16), on the 16th grid, every note-on with its note-off: on
//! channel 2, or on channel 10 for Drums. For Improv, A minor (A1 C2 E2) is held below the split
//! key (C3, the default) from just before the call to the end of the answer window: the chord is
//! not part of the call (else the call would run to its maximum length and nothing would answer
//! in that bar), and the answer stays at or above the split key.
//!
//! The same runs with tiny contract models (random weights) of the Improv and Drums encodings
//! as the Custom File check the chord and drum paths through the binary before trained models
//! ship.
//!
//! A shipped model this build does not embed yet (see `models/src/shipped.rs`) fails its test
//! with "not shipped", quoting the plugin's refusal from the log.
//!
//! `NICE_LOG` points to one file for the whole process (set before the first plugin loads); the
//! tests take turns, so real-time pacing is not shared.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use antiphon_models::test_support::{DRUM_KIT, IMPROV_PITCH, TinyEncoding, identity_model_bytes};
use antiphon_tests::antiphon::{
    ANSWER_CHANNEL, BEATS_PER_BAR, BLOCK_SAMPLES, CALL_CHANNEL, DEFAULT_SILENCE_BEATS,
    ENV_NICE_LOG, SAMPLE_RATE, SAMPLES_PER_BEAT, SIXTEENTH_SAMPLES, assert_balanced,
    assert_clean_blocks, assert_on_grid, assert_only_call_and_answer_channels, check_thru,
    describe, expected_answer_window, load_with_channel_2_thru, one_bar_call, ons_from, param,
    play_call_expect_thru_only, set_model_path, start_jam, wait_for_log,
};
use antiphon_tests::events::OutEvent;
use antiphon_tests::host::PluginInstance;
use antiphon_tests::jam::{NoteDialect, PhraseNote};
use antiphon_tests::util::{TempDir, lines_with_all};

/// The GM drum channel index (MIDI channel 10).
const DRUM_CHANNEL: u8 = 9;
/// "Split Key" at its default, C3.
const SPLIT_KEY: u8 = 48;
/// A minor below the split key (A1 C2 E2).
const A_MINOR: [u8; 3] = [33, 36, 40];
/// How many calls a test plays before it gives up on an answer with notes.
const MAX_CALLS: usize = 4;
/// How long loading a model may take.
const LOAD_TIMEOUT: Duration = Duration::from_secs(60);

/// One test at a time: each paces its blocks in real time.
fn take_turn() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The NICE_LOG file of this process, set before the first plugin loads.
fn nice_log() -> &'static Path {
    static LOG: OnceLock<PathBuf> = OnceLock::new();
    LOG.get_or_init(|| {
        let dir =
            std::env::temp_dir().join(format!("antiphon-model-families-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("nice.log");
        // SAFETY: set while holding the turn, before any plugin is loaded in this process; no
        // other thread reads the environment then.
        unsafe { std::env::set_var(ENV_NICE_LOG, &file) };
        file
    })
}

/// A Model choice and what its answer looks like.
struct Family {
    /// The Model parameter's text.
    model: &'static str,
    /// The shipped model it loads (the Custom File's card name and file stem for a tiny model).
    shipped: &'static str,
    /// For Model = Custom File: the encoding of the tiny contract model (random weights) the
    /// project's `model_path` names.
    tiny: Option<TinyEncoding>,
    /// The channel index of the answer.
    answer_channel: u8,
    /// Hold A minor below the split key with each call (Improv).
    with_chord: bool,
    /// Other parameters to set before activation, as (name, text).
    params: &'static [(&'static str, &'static str)],
    /// The keys the answer may play, and what they are.
    allowed_keys: (fn(u8) -> bool, &'static str),
    /// The answer's grid in samples at 120 BPM, 48 kHz.
    grid_samples: u64,
}

/// Any key.
const ANY_KEY: (fn(u8) -> bool, &str) = (|_| true, "any key");
/// At or above the split key (Improv).
const ABOVE_SPLIT: (fn(u8) -> bool, &str) = (|k| k >= SPLIT_KEY, "at or above the split key C3");

impl Family {
    /// Model = `model`, answered by the shipped model `shipped` on the answer channel in any key,
    /// with no chord and no other parameters.
    fn shipped(model: &'static str, shipped: &'static str) -> Self {
        Self {
            model,
            shipped,
            tiny: None,
            answer_channel: ANSWER_CHANNEL,
            with_chord: false,
            params: &[],
            allowed_keys: ANY_KEY,
            grid_samples: SIXTEENTH_SAMPLES,
        }
    }

    /// Model = Custom File, a tiny model of `encoding` named `name`.
    fn tiny(name: &'static str, encoding: TinyEncoding) -> Self {
        Self {
            tiny: Some(encoding),
            ..Self::shipped("Custom File", name)
        }
    }

    /// The same, with A minor held below the split key and the answer at or above it (Improv).
    fn over_a_held_chord(self) -> Self {
        Self {
            with_chord: true,
            allowed_keys: ABOVE_SPLIT,
            ..self
        }
    }

    /// The same, answering on the drum channel.
    fn on_the_drum_channel(self) -> Self {
        Self {
            answer_channel: DRUM_CHANNEL,
            ..self
        }
    }

    /// The same, on a grid of `grid_samples`.
    fn on_a_grid_of(self, grid_samples: u64) -> Self {
        Self {
            grid_samples,
            ..self
        }
    }
}

/// A quarter note in samples (Pianoroll's frames).
const QUARTER_SAMPLES: u64 = SIXTEENTH_SAMPLES * 4;
/// Performance's 10 ms step at 120 BPM: 50 steps a beat, 480 samples.
const PERFORMANCE_STEP_SAMPLES: u64 = 480;

/// Model = Melody, the shipped `melody_basic`.
fn melody() -> Family {
    Family::shipped("Melody", "melody_basic")
}

/// Loads the plugin with "Model" = `model` (and channel 2, thru; a tiny model written into
/// `dir` as the Custom File), activates it and waits until the log says the model loaded;
/// panics with "not shipped" when the build does not have it.
fn open_with_model(family: &Family, dir: &TempDir) -> PluginInstance {
    let log = nice_log();
    let mut plugin = load_with_channel_2_thru();
    plugin.set_param_text(param::MODEL, family.model).unwrap();
    for (name, text) in family.params {
        plugin.set_param_text(name, text).unwrap();
        eprintln!("{name} = {:?}", plugin.param_display(name).unwrap());
    }
    if let Some(encoding) = &family.tiny {
        let model = encoding.write(dir.path(), family.shipped);
        set_model_path(&mut plugin, &model);
    }
    assert_eq!(
        plugin.param_display(param::MODEL).unwrap().trim(),
        family.model,
        "\"{}\" reads back",
        param::MODEL
    );
    plugin.activate(SAMPLE_RATE, 1, BLOCK_SAMPLES).unwrap();
    plugin.start_processing().unwrap();
    // "model NAME loaded (Shipped(\"NAME\"))", "model refused: built-in model NAME: …"
    let loaded_as = match family.tiny {
        Some(_) => format!("model {} loaded", family.shipped),
        None => format!("Shipped(\"{}\")", family.shipped),
    };
    let refused_as = format!("built-in model {}:", family.shipped);
    let loaded = |t: &str| !lines_with_all(t, &[&loaded_as, "loaded"]).is_empty();
    let refused = |t: &str| !lines_with_all(t, &[&refused_as, "refused"]).is_empty();
    let (text, found) = wait_for_log(log, &plugin, LOAD_TIMEOUT, |t| loaded(t) || refused(t));
    if refused(&text) && !loaded(&text) {
        let why = lines_with_all(&text, &[&refused_as, "refused"]).join("\n");
        if why.contains("not shipped") {
            panic!(
                "Model = {}: {} is not shipped in this build yet (models/src/shipped.rs does \
                 not embed it; expected until its training finishes). The plugin said:\n{why}",
                family.model, family.shipped
            );
        }
        panic!(
            "Model = {}: {} was refused:\n{why}",
            family.model, family.shipped
        );
    }
    assert!(
        found,
        "Model = {}: no log line says {} loaded within {LOAD_TIMEOUT:?}:\n{text}",
        family.model, family.shipped
    );
    plugin
}

/// The notes of one call attempt: the test call from `start`, and for Improv A minor held
/// from a 16th before it to `hold_until`.
fn call_notes(start: f64, with_chord: bool, hold_until: f64) -> Vec<PhraseNote> {
    let mut notes = one_bar_call(start);
    if with_chord {
        let chord_start = start - 0.25;
        notes.extend(A_MINOR.map(|key| PhraseNote {
            channel: CALL_CHANNEL,
            key,
            velocity_midi: 80,
            start_beats: chord_start,
            length_beats: hold_until - chord_start,
        }));
    }
    notes
}

/// Plays calls until one gets an answer with notes on the family's channel, then checks it.
fn answers_on_the_grid(family: &Family) -> Vec<OutEvent> {
    let _turn = take_turn();
    let dir = TempDir::new("antiphon-model-families").unwrap();
    let mut plugin = open_with_model(family, &dir);
    let mut jam = start_jam(&mut plugin).unwrap();

    let mut call_start = 4.0;
    let mut answered = None;
    let mut answered_call_sample = 0;
    for attempt in 1..=MAX_CALLS {
        let call = one_bar_call(call_start);
        let window = expected_answer_window(&call, DEFAULT_SILENCE_BEATS, BEATS_PER_BAR);
        let notes = call_notes(call_start, family.with_chord, window.end_beats);
        jam.schedule_phrase(&notes, NoteDialect::Clap).unwrap();
        let call_sample = jam.sample_at_beats(call_start).unwrap();
        eprintln!(
            "{}: call {attempt} at beat {call_start}, answer expected in beats {}..{}",
            family.model, window.start_beats, window.end_beats
        );
        jam.run_until_beats(window.end_beats + BEATS_PER_BAR)
            .unwrap();
        if !ons_from(jam.outputs(), family.answer_channel, call_sample).is_empty() {
            answered = Some(window);
            answered_call_sample = call_sample;
            break;
        }
        eprintln!(
            "{}: call {attempt} got an answer without notes",
            family.model
        );
        // The run went a block past the bar after the window: start a bar later still.
        call_start = window.end_beats + 2.0 * BEATS_PER_BAR;
    }
    let outputs = jam.outputs().to_vec();
    let stats = jam.stats();
    let Some(window) = answered else {
        panic!(
            "Model = {}: no call of {MAX_CALLS} got an answer on channel index {}; the plugin \
             sent:\n{}",
            family.model,
            family.answer_channel,
            describe(&outputs, SAMPLES_PER_BEAT)
        );
    };
    eprintln!(
        "{}: stats {stats:?}; the plugin sent:\n{}",
        family.model,
        describe(&outputs, SAMPLES_PER_BEAT)
    );

    assert_clean_blocks(&stats);
    check_thru(jam.sent(), &outputs, CALL_CHANNEL).unwrap();

    let ons = ons_from(&outputs, family.answer_channel, answered_call_sample);
    assert_on_grid(&ons, window, family.grid_samples, family.model);
    let (allowed, what) = family.allowed_keys;
    let not_allowed: Vec<&OutEvent> = ons.iter().filter(|e| !allowed(e.key)).collect();
    assert!(
        not_allowed.is_empty(),
        "{}: answer notes not {what}: {not_allowed:?}",
        family.model
    );
    assert_balanced(
        &jam,
        &[CALL_CHANNEL, ANSWER_CHANNEL, DRUM_CHANNEL],
        family.model,
    );
    assert_only_call_and_answer_channels(&outputs, family.answer_channel, family.model);
    drop(jam);
    plugin.stop_processing().unwrap();
    plugin.deactivate().unwrap();
    ons
}

#[test]
fn melody_answers_on_the_grid() {
    answers_on_the_grid(&melody());
}

#[test]
fn melody_with_beam_search_answers_inside_the_range_and_scale() {
    answers_on_the_grid(&Family {
        params: &[
            (param::BEAM_SIZE, "2"),
            (param::BRANCH_FACTOR, "2"),
            (param::STEPS_PER_ITERATION, "2"),
            (param::SCALE, "Pentatonic Minor"),
            (param::KEY, "A"),
            (param::RANGE_LOW, "C4"),
            (param::RANGE_HIGH, "C5"),
        ],
        // A C D E G from C4 (60) to C5 (72).
        allowed_keys: (
            |k| (60..=72).contains(&k) && [0, 2, 4, 7, 9].contains(&(k % 12)),
            "in A pentatonic minor within C4..C5",
        ),
        ..melody()
    });
}

#[test]
fn melody_lookback_answers_on_the_grid() {
    answers_on_the_grid(&Family::shipped("Melody Lookback", "melody_lookback"));
}

#[test]
fn melody_attention_answers_on_the_grid() {
    answers_on_the_grid(&Family::shipped("Melody Attention", "melody_attention"));
}

#[test]
fn drums_answer_on_channel_10() {
    answers_on_the_grid(&Family::shipped("Drums", "drums_kit").on_the_drum_channel());
}

#[test]
fn improv_answers_over_a_held_chord_above_the_split_key() {
    answers_on_the_grid(&Family::shipped("Improv", "improv_chord_pitches").over_a_held_chord());
}

#[test]
fn polyphony_answers_on_the_grid() {
    answers_on_the_grid(&Family::shipped("Polyphony", "polyphony_bach"));
}

#[test]
fn polyphony_harmonizing_answers_with_the_call_as_its_top_voice() {
    let ons = answers_on_the_grid(&Family {
        params: &[(param::HARMONIZE, "On")],
        ..Family::shipped("Polyphony", "polyphony_bach")
    });
    // The call C4 D4 E4 F4 on beats 4, 5, 6, 7 comes back a bar after its own bar (the answer
    // starts on a bar line), as the highest note of its beat.
    let first = ons.iter().map(|e| e.sample).min().unwrap();
    let answer_start = (first / (4 * QUARTER_SAMPLES)) * 4 * QUARTER_SAMPLES;
    for (beat, key) in [(0u64, 60u8), (1, 62), (2, 64), (3, 65)] {
        let at = answer_start + beat * QUARTER_SAMPLES;
        let here: Vec<u8> = ons
            .iter()
            .filter(|e| e.sample == at)
            .map(|e| e.key)
            .collect();
        assert_eq!(
            here.iter().max(),
            Some(&key),
            "beat {beat} of the harmonised answer should have key {key} on top: {here:?}; \
             all: {ons:?}"
        );
    }
}

#[test]
fn pianoroll_answers_on_the_quarter_grid() {
    answers_on_the_grid(
        &Family::shipped("Pianoroll", "pianoroll_nade_bach").on_a_grid_of(QUARTER_SAMPLES),
    );
}

#[test]
fn pianoroll_with_threshold_sampling_answers_on_the_quarter_grid() {
    answers_on_the_grid(&Family {
        params: &[(param::THRESHOLD_SAMPLING, "On")],
        ..Family::shipped("Pianoroll", "pianoroll_nade_bach").on_a_grid_of(QUARTER_SAMPLES)
    });
}

#[test]
fn performance_answers_on_channel_10_on_its_10_ms_grid() {
    answers_on_the_grid(
        &Family::shipped("Performance", "performance_groove")
            .on_the_drum_channel()
            .on_a_grid_of(PERFORMANCE_STEP_SAMPLES),
    );
}

#[test]
fn a_tiny_improv_model_as_custom_file_answers_over_a_held_chord_above_the_split_key() {
    answers_on_the_grid(&Family::tiny("tiny_improv_pitch", IMPROV_PITCH).over_a_held_chord());
}

#[test]
fn a_tiny_drum_model_as_custom_file_answers_on_channel_10() {
    answers_on_the_grid(&Family::tiny("tiny_drum_kit", DRUM_KIT).on_the_drum_channel());
}

#[test]
fn a_custom_file_that_is_not_a_contract_model_is_refused_and_thru_goes_on() {
    let _turn = take_turn();
    let log = nice_log();
    let dir = TempDir::new("antiphon-model-families-custom").unwrap();
    let model = dir.path().join("identity_not_a_contract_model.onnx");
    std::fs::write(&model, identity_model_bytes()).unwrap();

    let mut plugin = load_with_channel_2_thru();
    plugin.set_param_text(param::MODEL, "Custom File").unwrap();
    set_model_path(&mut plugin, &model);
    assert_eq!(
        plugin.param_display(param::MODEL).unwrap().trim(),
        "Custom File"
    );

    play_call_expect_thru_only(&mut plugin, NoteDialect::Clap, "with a refused Custom File");
    let file_name = model.file_name().unwrap().to_string_lossy().into_owned();
    let (text, found) = wait_for_log(log, &plugin, LOAD_TIMEOUT, |t| {
        !lines_with_all(t, &[&file_name, "refused", "expected"]).is_empty()
    });
    assert!(
        found,
        "no log line refuses {file_name} saying what was expected:\n{text}"
    );
    eprintln!(
        "the refusal:\n{}",
        lines_with_all(&text, &[&file_name, "refused"]).join("\n")
    );
    plugin.stop_processing().unwrap();
    plugin.deactivate().unwrap();
}

#[test]
fn switching_the_model_while_an_answer_plays_ends_every_note_and_thru_goes_on() {
    let _turn = take_turn();
    let dir = TempDir::new("antiphon-model-families-switch").unwrap();
    let mut plugin = open_with_model(&melody(), &dir);
    let model = plugin.param(param::MODEL).unwrap();
    let custom_file = plugin.text_to_value(model.id, "Custom File").unwrap();
    let mut jam = start_jam(&mut plugin).unwrap();

    // Call 1 from beat 4: its answer plays in 12..16. At the first block boundary inside it
    // where an answer note sounds, the host switches Model to Custom File (no file: refused).
    jam.schedule_phrase(&one_bar_call(4.0), NoteDialect::Clap)
        .unwrap();
    jam.run_until_beats(12.0).unwrap();
    let end = jam.sample_at_beats(16.0).unwrap();
    assert!(
        jam.run_until_sounding(ANSWER_CHANNEL, end).unwrap(),
        "no answer note sounded in beats 12..16"
    );
    let switch_sample = jam.now_sample();
    jam.schedule_param(switch_sample, model.id, custom_file)
        .unwrap();
    // Call 2 from beat 20 comes back through MIDI thru, with no answer in 28..32.
    jam.schedule_phrase(&one_bar_call(20.0), NoteDialect::Clap)
        .unwrap();
    jam.run_until_beats(36.0).unwrap();
    let outputs = jam.outputs().to_vec();
    eprintln!(
        "switched at sample {switch_sample}; the plugin sent:\n{}",
        describe(&outputs, SAMPLES_PER_BEAT)
    );

    assert_eq!(jam.stats().error_blocks, 0);
    check_thru(jam.sent(), &outputs, CALL_CHANNEL).unwrap();
    assert_balanced(&jam, &[ANSWER_CHANNEL], "after the switch");
    let second = ons_from(&outputs, ANSWER_CHANNEL, jam.sample_at_beats(20.0).unwrap());
    assert!(second.is_empty(), "answered without a model: {second:?}");
    let (text, found) = wait_for_log(nice_log(), jam.plugin(), LOAD_TIMEOUT, |t| {
        !lines_with_all(t, &["Custom File", "refused", "no model file"]).is_empty()
    });
    assert!(
        found,
        "no log line says why Custom File was refused:\n{text}"
    );
    drop(jam);
    plugin.stop_processing().unwrap();
    plugin.deactivate().unwrap();
}
