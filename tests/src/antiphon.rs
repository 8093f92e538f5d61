//! What the binary-level tests know about Antiphon itself: its id, its parameter names, the
//! test call, where the design says the answer goes, and checks shared by several tests.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::events::{InputKind, OutEvent, OutKind, normalise_midi};
use crate::host::{HostResult, PluginInstance};
use crate::jam::{JamConfig, JamDriver, JamStats, NoteDialect, PhraseNote, SentInput};
use crate::util::{TempDir, lines_with_all};

/// The plugin's CLAP id.
pub const PLUGIN_ID: &str = "dev.antiphon.antiphon";

/// The plugin's display name.
pub const PLUGIN_NAME: &str = "Antiphon";

/// Display names of the plugin's parameters.
pub mod param {
    /// Sampling temperature.
    pub const TEMPERATURE: &str = "Temperature";
    /// Answer length in bars (0 = as long as the call).
    pub const ANSWER_LENGTH: &str = "Answer Length";
    /// MIDI channel of the answer, 1..=16.
    pub const OUTPUT_CHANNEL: &str = "Output Channel";
    /// Whether the call is passed through.
    pub const MIDI_THRU: &str = "MIDI Thru";
    /// Beats without a key down that end a call.
    pub const SILENCE: &str = "Silence";
    /// The longest call, in bars.
    pub const MAX_CALL_LENGTH: &str = "Max Call Length";
    /// Tempo used when the host gives none.
    pub const TEMPO: &str = "Tempo";
    /// Which model answers (Melody, Melody Lookback, Melody Attention, Drums, Improv, Custom
    /// File).
    pub const MODEL: &str = "Model";
    /// Beam search: entries kept per iteration, 1..=8.
    pub const BEAM_SIZE: &str = "Beam Size";
    /// Beam search: copies of each entry per iteration, 1..=8.
    pub const BRANCH_FACTOR: &str = "Branch Factor";
    /// Beam search: steps per iteration, 1..=16.
    pub const STEPS_PER_ITERATION: &str = "Steps per Iteration";
    /// The scale answers keep to (Off, Major, Minor, …).
    pub const SCALE: &str = "Scale";
    /// Root of the scale, C..B.
    pub const KEY: &str = "Key";
    /// Lowest key of an answer, as a note name.
    pub const RANGE_LOW: &str = "Range Low";
    /// Highest key of an answer, as a note name.
    pub const RANGE_HIGH: &str = "Range High";
    /// Where Improv chords come from (Split Key, Chord Channel).
    pub const CHORD_SOURCE: &str = "Chord Source";
    /// Notes below it are Improv chords, as a note name (C4 = 60).
    pub const SPLIT_KEY: &str = "Split Key";
    /// The MIDI channel of Improv chords, 1..=16.
    pub const CHORD_CHANNEL: &str = "Chord Channel";
    /// Polyphony answers harmonise the call (On/Off).
    pub const HARMONIZE: &str = "Harmonize";
    /// Pianoroll answers choose keys by the 0.5 threshold (On/Off).
    pub const THRESHOLD_SAMPLING: &str = "Threshold Sampling";
    /// New input cuts a playing answer short (On/Off).
    pub const INTERRUPT: &str = "Interrupt";
    /// Input passes unchanged, no answers (On/Off).
    pub const BYPASS: &str = "Bypass";
    /// How Antiphon plays along (Call and Response, Trade, Accompany, Continue).
    pub const MODE: &str = "Mode";
    /// Trade: bars in each turn, 1..=16.
    pub const TRADE_BARS: &str = "Trade Bars";
    /// Call and response: the answer repeats until the player plays again (On/Off).
    pub const LOOP_ANSWER: &str = "Loop Answer";
    /// Silence does not end a call shorter than this, in beats.
    pub const MIN_CALL_LENGTH: &str = "Min Call Length";
    /// Where an answer begins (Next Bar, Next Beat).
    pub const ANSWER_START: &str = "Answer Start";
    /// Seed of the answers' randomness (0: fresh each time).
    pub const SEED: &str = "Seed";
    /// Momentary: ends the call in progress.
    pub const END_CALL: &str = "End Call";
    /// Momentary: answers again, seeded by the last answer.
    pub const MUTATE: &str = "Mutate";
    /// Momentary: one continuation of the last phrase.
    pub const CONTINUE: &str = "Continue";
    /// Momentary: every note off, and the jam starts over.
    pub const PANIC: &str = "Panic";
    /// The channel the jam listens to (Omni, 1..16).
    pub const LISTEN_CHANNEL: &str = "Listen Channel";
    /// A key that acts as Continue (Off, or a key).
    pub const CONTINUE_KEY: &str = "Continue Key";
    /// Note-start bias, -100 %..+100 %.
    pub const DENSITY: &str = "Density";
    /// How notes leave the plugin (Auto, CLAP Notes, MIDI).
    pub const NOTE_OUTPUT: &str = "Note Output";
    /// MIDI learn, hidden: switching it to a control (End Call, Mutate, Continue, Panic) arms
    /// learning for it.
    pub const MIDI_LEARN: &str = "MIDI Learn";

    /// Every parameter, in the plugin's order.
    pub const ALL: [&str; 37] = [
        TEMPERATURE,
        ANSWER_LENGTH,
        OUTPUT_CHANNEL,
        MIDI_THRU,
        SILENCE,
        MAX_CALL_LENGTH,
        TEMPO,
        INTERRUPT,
        BYPASS,
        MODEL,
        BEAM_SIZE,
        BRANCH_FACTOR,
        STEPS_PER_ITERATION,
        SCALE,
        KEY,
        RANGE_LOW,
        RANGE_HIGH,
        CHORD_SOURCE,
        SPLIT_KEY,
        CHORD_CHANNEL,
        HARMONIZE,
        THRESHOLD_SAMPLING,
        MODE,
        TRADE_BARS,
        LOOP_ANSWER,
        MIN_CALL_LENGTH,
        ANSWER_START,
        SEED,
        END_CALL,
        MUTATE,
        CONTINUE,
        PANIC,
        LISTEN_CHANNEL,
        CONTINUE_KEY,
        DENSITY,
        NOTE_OUTPUT,
        MIDI_LEARN,
    ];
}

/// The sample rate the scenario tests use.
pub const SAMPLE_RATE: f64 = 48_000.0;
/// The block size the scenario tests use, in samples.
pub const BLOCK_SAMPLES: u32 = 512;
/// The tempo the scenario tests use, in BPM (24,000 samples per beat at 48 kHz).
pub const TEMPO_BPM: f64 = 120.0;
/// "Silence" at its default, in beats.
pub const DEFAULT_SILENCE_BEATS: f64 = 1.0;
/// Samples per beat at [`SAMPLE_RATE`] and [`TEMPO_BPM`].
pub const SAMPLES_PER_BEAT: f64 = 24_000.0;
/// Samples per 16th note at [`SAMPLE_RATE`] and [`TEMPO_BPM`].
pub const SIXTEENTH_SAMPLES: u64 = 6_000;
/// Beats per bar (4/4).
pub const BEATS_PER_BAR: f64 = 4.0;
/// The call's channel index.
pub const CALL_CHANNEL: u8 = 0;
/// The answer's channel index ("Output Channel" 2, see [`configure_channel_2_with_thru`]).
pub const ANSWER_CHANNEL: u8 = 1;

/// The env var that points the plugin at an ONNX Runtime library.
pub const ENV_ORT_LIB: &str = "ANTIPHON_ORT_LIB";
/// The env var that points the plugin at a model file.
pub const ENV_MODEL: &str = "ANTIPHON_MODEL";
/// nice-plug's log target env var (a file path, `stderr`, …).
pub const ENV_NICE_LOG: &str = "NICE_LOG";

/// The test call: quarter notes C4 D4 E4 F4 (60, 62, 64, 65) on channel index 0 starting at
/// `start_beats`, one per beat, each half a beat long, velocity 100.
pub fn one_bar_call(start_beats: f64) -> Vec<PhraseNote> {
    [60u8, 62, 64, 65]
        .iter()
        .enumerate()
        .map(|(i, &key)| PhraseNote {
            channel: 0,
            key,
            velocity_midi: 100,
            start_beats: start_beats + i as f64,
            length_beats: 0.5,
        })
        .collect()
}

/// Where an answer should sound, in beats: `start_beats..end_beats`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AnswerWindow {
    /// The first beat of the answer (a bar line).
    pub start_beats: f64,
    /// The beat where the answer is over (a bar line).
    pub end_beats: f64,
}

impl AnswerWindow {
    /// The window in absolute samples, for a transport that played beat 0 at sample 0.
    pub fn samples(&self, samples_per_beat: f64) -> (u64, u64) {
        (
            (self.start_beats * samples_per_beat).round() as u64,
            (self.end_beats * samples_per_beat).round() as u64,
        )
    }
}

/// Where the design puts the answer to `call` (with "Answer Length" 0): the call ends
/// `silence_beats` after its last note-off; the answer starts on the next bar line (or on that
/// beat, when it is one) and lasts the call's length (first note-on to last note-off) rounded
/// up to whole bars, at least one.
pub fn expected_answer_window(
    call: &[PhraseNote],
    silence_beats: f64,
    beats_per_bar: f64,
) -> AnswerWindow {
    let first_on = call
        .iter()
        .map(|n| n.start_beats)
        .fold(f64::INFINITY, f64::min);
    let last_off = call
        .iter()
        .map(|n| n.start_beats + n.length_beats)
        .fold(f64::NEG_INFINITY, f64::max);
    let call_end = last_off + silence_beats;
    let start_beats = (call_end / beats_per_bar).ceil() * beats_per_bar;
    let bars = ((last_off - first_on) / beats_per_bar).ceil().max(1.0);
    AnswerWindow {
        start_beats,
        end_beats: start_beats + bars * beats_per_bar,
    }
}

/// Sets "Output Channel" to 2 (answers on channel index 1) and "MIDI Thru" on, and checks both
/// read back.
pub fn configure_channel_2_with_thru(plugin: &mut PluginInstance) -> HostResult<()> {
    plugin.set_param_text(param::OUTPUT_CHANNEL, "2")?;
    let shown = plugin.param_display(param::OUTPUT_CHANNEL)?;
    if shown.trim() != "2" {
        return Err(crate::host::HostError(format!(
            "\"{}\" reads {shown:?} after setting it to 2",
            param::OUTPUT_CHANNEL
        )));
    }
    let thru = plugin.param(param::MIDI_THRU)?;
    plugin.set_param(thru.id, thru.max_value)?;
    let value = plugin.param_value(thru.id)?;
    if value != thru.max_value {
        return Err(crate::host::HostError(format!(
            "\"{}\" reads {value} after setting it to {}",
            param::MIDI_THRU,
            thru.max_value
        )));
    }
    Ok(())
}

/// Loads the bundled plugin (building it when needed) and sets "Output Channel" to 2 and "MIDI
/// Thru" on ([`configure_channel_2_with_thru`]).
///
/// # Panics
///
/// When the plugin does not load or the parameters do not read back.
pub fn load_with_channel_2_thru() -> PluginInstance {
    let path = crate::bundle::bundle_plugin();
    let mut plugin = PluginInstance::load(&path, PLUGIN_ID)
        .unwrap_or_else(|e| panic!("loading {}: {e}", path.display()));
    configure_channel_2_with_thru(&mut plugin).unwrap();
    plugin
}

/// The bundled plugin loaded as for a render: "Output Channel" 2 and thru on, then each
/// parameter of `settings` set by its text, the CLAP render mode offline or real time
/// (`clap.render`; panics if the plugin refuses it), activated at [`SAMPLE_RATE`] for blocks of
/// up to `block_samples`, and processing.
pub fn load_for_render(
    settings: &[(&str, &str)],
    offline: bool,
    block_samples: u32,
) -> PluginInstance {
    let mut plugin = load_with_channel_2_thru();
    for &(name, text) in settings {
        plugin
            .set_param_text(name, text)
            .unwrap_or_else(|e| panic!("setting {name:?} to {text:?}: {e}"));
    }
    assert!(
        plugin.set_render_offline(offline).unwrap(),
        "the plugin takes the render mode (offline: {offline})"
    );
    plugin.activate(SAMPLE_RATE, 1, block_samples).unwrap();
    plugin.start_processing().unwrap();
    plugin
}

/// A jam driver over a processing `plugin` at [`SAMPLE_RATE`], [`BLOCK_SAMPLES`] and
/// [`TEMPO_BPM`], paced in real time, with the transport playing from beat 0.
pub fn start_jam(plugin: &mut PluginInstance) -> HostResult<JamDriver<'_>> {
    let mut jam = JamDriver::new(
        plugin,
        JamConfig::new(SAMPLE_RATE, BLOCK_SAMPLES, TEMPO_BPM),
    )?;
    jam.play_from(0.0);
    Ok(jam)
}

/// Note-ons on `channel` at or after `from_sample`.
pub fn ons_from(outputs: &[OutEvent], channel: u8, from_sample: u64) -> Vec<OutEvent> {
    outputs
        .iter()
        .filter(|e| e.channel == channel && e.kind == OutKind::On && e.sample >= from_sample)
        .copied()
        .collect()
}

/// Asserts that no block returned `CLAP_PROCESS_ERROR` and no event was pushed past its block.
pub fn assert_clean_blocks(stats: &JamStats) {
    assert_eq!(stats.error_blocks, 0, "process returned CLAP_PROCESS_ERROR");
    assert_eq!(
        stats.out_of_block_events, 0,
        "events pushed past their block"
    );
}

/// Asserts that every answer note-on in `ons` lies in `window` and on the 16th grid;
/// `who` (the model) starts the messages.
pub fn assert_on_the_grid(ons: &[OutEvent], window: AnswerWindow, who: &str) {
    assert_on_grid(ons, window, SIXTEENTH_SAMPLES, who);
}

/// Asserts that every note-on of `ons` falls inside `window` and on a grid of `grid_samples`.
pub fn assert_on_grid(ons: &[OutEvent], window: AnswerWindow, grid_samples: u64, who: &str) {
    let (start, end) = window.samples(SAMPLES_PER_BEAT);
    let outside: Vec<&OutEvent> = ons
        .iter()
        .filter(|e| e.sample < start || e.sample >= end)
        .collect();
    assert!(
        outside.is_empty(),
        "{who}: answer note-ons outside samples {start}..{end}: {outside:?}"
    );
    let off_grid: Vec<&OutEvent> = ons
        .iter()
        .filter(|e| e.sample % grid_samples != 0)
        .collect();
    assert!(
        off_grid.is_empty(),
        "{who}: answer note-ons off the grid of {grid_samples} samples: {off_grid:?}"
    );
}

/// Asserts that `outputs` holds notes on the call's channel and `answer_channel` only.
pub fn assert_only_call_and_answer_channels(outputs: &[OutEvent], answer_channel: u8, who: &str) {
    let other: Vec<&OutEvent> = outputs
        .iter()
        .filter(|e| e.channel != CALL_CHANNEL && e.channel != answer_channel)
        .collect();
    assert!(
        other.is_empty(),
        "{who}: notes on channels other than the call's and the answer's: {other:?}"
    );
}

/// Asserts that on each of `channels` every note-on the plugin sent so far got its note-off and
/// every note-off ended a note; `who` starts the message.
pub fn assert_balanced(jam: &JamDriver<'_>, channels: &[u8], who: &str) {
    for &channel in channels {
        let ledger = jam.ledger(channel);
        assert!(
            ledger.is_balanced(),
            "{who}: channel index {channel}: note-ons without note-off {:?}, note-offs without \
             note-on {:?}",
            ledger.unpaired_ons,
            ledger.offs_without_on
        );
    }
}

/// What [`play_one_call`] saw.
#[derive(Debug, Clone)]
pub struct CallRun {
    /// Where the design puts the answer.
    pub window: AnswerWindow,
    /// What went in.
    pub sent: Vec<SentInput>,
    /// What came out.
    pub outputs: Vec<OutEvent>,
    /// Run statistics.
    pub stats: JamStats,
}

/// Plays the test call ([`one_bar_call`] at beat 4, in `dialect`) into a processing plugin at
/// 48 kHz, 512-sample blocks, 120 BPM from beat 0, paced in real time, and runs until a bar
/// after the answer window's end.
pub fn play_one_call(plugin: &mut PluginInstance, dialect: NoteDialect) -> HostResult<CallRun> {
    let mut jam = start_jam(plugin)?;
    let call = one_bar_call(4.0);
    jam.schedule_phrase(&call, dialect)?;
    let window = expected_answer_window(&call, DEFAULT_SILENCE_BEATS, BEATS_PER_BAR);
    jam.run_until_beats(window.end_beats + BEATS_PER_BAR)?;
    Ok(CallRun {
        window,
        sent: jam.sent().to_vec(),
        outputs: jam.outputs().to_vec(),
        stats: jam.stats(),
    })
}

/// `notes` as the note-on and note-off inputs a host sends, at session samples (beats ×
/// `samples_per_beat`, rounded), in time order.
pub fn phrase_inputs(notes: &[PhraseNote], samples_per_beat: f64) -> Vec<SentInput> {
    let at = |beats: f64| (beats * samples_per_beat).round() as u64;
    let mut inputs = Vec::new();
    for n in notes {
        inputs.push(SentInput {
            sample: at(n.start_beats),
            kind: InputKind::NoteOn {
                channel: n.channel,
                key: n.key,
                velocity: f32::from(n.velocity_midi) / 127.0,
            },
        });
        inputs.push(SentInput {
            sample: at(n.start_beats + n.length_beats),
            kind: InputKind::NoteOff {
                channel: n.channel,
                key: n.key,
                velocity: 0.0,
            },
        });
    }
    inputs.sort_by_key(|i| i.sample);
    inputs
}

/// Asserts that on each of `channels`, every note-on of `outputs` has its note-off, every
/// note-off ends a note, and no note is struck again while it sounds.
pub fn assert_no_stuck_notes(outputs: &[OutEvent], channels: &[u8], who: &str) {
    for &channel in channels {
        let events: Vec<OutEvent> = outputs
            .iter()
            .filter(|e| e.channel == channel)
            .copied()
            .collect();
        let ledger = crate::jam::NoteLedger::new(&events);
        assert!(
            ledger.unpaired_ons.is_empty()
                && ledger.offs_without_on.is_empty()
                && ledger.retriggers.is_empty(),
            "{who}: channel index {channel}: note-ons without note-off {:?}, note-offs without \
             note-on {:?}, notes struck again while sounding {:?}",
            ledger.unpaired_ons,
            ledger.offs_without_on,
            ledger.retriggers
        );
    }
}

/// The note events (normalised like outputs) that were sent into the plugin.
pub fn sent_notes(sent: &[SentInput]) -> Vec<OutEvent> {
    sent.iter()
        .filter_map(|s| match s.kind {
            InputKind::NoteOn {
                channel,
                key,
                velocity,
            } => Some(OutEvent {
                sample: s.sample,
                kind: OutKind::On,
                channel,
                key,
                velocity,
            }),
            InputKind::NoteOff {
                channel,
                key,
                velocity,
            } => Some(OutEvent {
                sample: s.sample,
                kind: OutKind::Off,
                channel,
                key,
                velocity,
            }),
            InputKind::Midi { data } => normalise_midi(s.sample, data),
            InputKind::ParamValue { .. } | InputKind::Transport(_) => None,
        })
        .collect()
}

/// Checks MIDI thru on `channel`: the plugin's note events on that channel are exactly the
/// notes sent in on it, at the same samples, with the same kind and key (as multisets).
/// Returns a description of every difference.
pub fn check_thru(sent: &[SentInput], outputs: &[OutEvent], channel: u8) -> Result<(), String> {
    let key = |e: &OutEvent| (e.sample, e.kind == OutKind::On, e.key);
    let mut expected: Vec<_> = sent_notes(sent)
        .iter()
        .filter(|e| e.channel == channel)
        .map(key)
        .collect();
    let mut got: Vec<_> = outputs
        .iter()
        .filter(|e| e.channel == channel)
        .map(key)
        .collect();
    expected.sort_unstable();
    got.sort_unstable();
    if expected == got {
        return Ok(());
    }
    let missing: Vec<_> = expected.iter().filter(|e| !got.contains(e)).collect();
    let extra: Vec<_> = got.iter().filter(|e| !expected.contains(e)).collect();
    Err(format!(
        "thru on channel {channel}: sent {} note events, got {}; \
         missing (sample, is_on, key) {missing:?}; unexpected {extra:?}",
        expected.len(),
        got.len()
    ))
}

/// One line per event: kind, channel, key, sample and beat.
pub fn describe(events: &[OutEvent], samples_per_beat: f64) -> String {
    events
        .iter()
        .map(|e| {
            format!(
                "  {:?} ch{} key {} vel {:.3} @ sample {} (beat {:.4})\n",
                e.kind,
                e.channel,
                e.key,
                e.velocity,
                e.sample,
                e.sample as f64 / samples_per_beat
            )
        })
        .collect()
}

/// The NICE_LOG file's text followed by the messages the plugin sent through `clap.log`.
pub fn combined_log(nice_log: &Path, plugin: &PluginInstance) -> String {
    let mut text = std::fs::read_to_string(nice_log).unwrap_or_default();
    for m in plugin.host_logs() {
        text.push_str(&format!(
            "[clap.log severity {}] {}\n",
            m.severity, m.message
        ));
    }
    text
}

/// Waits up to `timeout` for [`combined_log`] to satisfy `found`; returns the last text and
/// whether it did.
pub fn wait_for_log(
    nice_log: &Path,
    plugin: &PluginInstance,
    timeout: Duration,
    found: impl Fn(&str) -> bool,
) -> (String, bool) {
    let started = Instant::now();
    loop {
        let text = combined_log(nice_log, plugin);
        if found(&text) {
            return (text, true);
        }
        if started.elapsed() >= timeout {
            return (text, false);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// How long the log may take to show the refusal.
pub const LOG_TIMEOUT: Duration = Duration::from_secs(10);

/// Points the persisted `model_path` of `plugin` at `model` (through a saved state).
pub fn set_model_path(plugin: &mut PluginInstance, model: &Path) {
    let mut state = crate::nice_state::decode(&plugin.save_state().unwrap()).unwrap();
    crate::nice_state::set_persisted_field(
        &mut state,
        "model_path",
        &serde_json::Value::String(model.to_string_lossy().into_owned()),
    )
    .unwrap();
    plugin
        .load_state(&crate::nice_state::encode(&state))
        .unwrap();
}

/// Sets `NICE_LOG` to a file in `dir`; returns the file.
pub fn log_into(dir: &TempDir) -> PathBuf {
    let nice_log = dir.path().join("nice.log");
    // SAFETY: called before the plugin is loaded, while the test's thread is the only one that
    // reads the environment.
    unsafe { std::env::set_var(ENV_NICE_LOG, &nice_log) };
    nice_log
}

/// Waits for a log line that names `model`'s file and says "model".
///
/// # Panics
///
/// When no such line comes within [`LOG_TIMEOUT`]; the message holds the whole log.
pub fn assert_refusal_logged(nice_log: &Path, plugin: &PluginInstance, model: &Path) {
    let file_name = model.file_name().unwrap().to_string_lossy().into_owned();
    let (log, found) = wait_for_log(nice_log, plugin, LOG_TIMEOUT, |t| {
        !lines_with_all(t, &["model", &file_name]).is_empty()
    });
    assert!(
        found,
        "no log line mentions \"model\" and {file_name:?} ({} and clap.log):\n{log}",
        nice_log.display()
    );
    eprintln!(
        "the refusal:\n{}",
        lines_with_all(&log, &["model", &file_name]).join("\n")
    );
}

/// Activates `plugin` (48 kHz, 512-sample blocks), plays the test call in `dialect`, and checks
/// that the call came back unchanged on channel 0 and that no answer came: the situation `why`
/// ("without a runtime", …) leaves the plugin without a model, not without MIDI.
///
/// # Panics
///
/// When any of that does not hold.
pub fn play_call_expect_thru_only(plugin: &mut PluginInstance, dialect: NoteDialect, why: &str) {
    plugin
        .activate(SAMPLE_RATE, 1, BLOCK_SAMPLES)
        .unwrap_or_else(|e| panic!("the plugin must activate {why}: {e}"));
    plugin.start_processing().unwrap();
    let run = play_one_call(plugin, dialect).unwrap();
    eprintln!(
        "stats {:?}; the plugin sent:\n{}",
        run.stats,
        describe(&run.outputs, SAMPLES_PER_BEAT)
    );
    assert_eq!(
        run.stats.error_blocks, 0,
        "process returned CLAP_PROCESS_ERROR"
    );
    check_thru(&run.sent, &run.outputs, CALL_CHANNEL).unwrap();
    let not_thru: Vec<_> = run
        .outputs
        .iter()
        .filter(|e| e.channel != CALL_CHANNEL)
        .collect();
    assert!(
        not_thru.is_empty(),
        "{why} there must be no answer notes, got {not_thru:?}"
    );
}

/// With `ANTIPHON_MODEL` already pointing at the bad `model`: the bundled plugin loads and
/// activates, passes the call through on channel 0 at the same samples, plays no answer, and
/// logs a line naming the model file.
///
/// # Panics
///
/// When any of that does not hold.
pub fn check_refused_model_via_env(dir: &TempDir, model: &Path) {
    let nice_log = log_into(dir);
    let path = crate::bundle::bundle_plugin();
    let mut plugin = PluginInstance::load(&path, PLUGIN_ID)
        .unwrap_or_else(|e| panic!("the plugin must load with a bad model: {e}"));
    configure_channel_2_with_thru(&mut plugin).unwrap();
    play_call_expect_thru_only(&mut plugin, NoteDialect::Clap, "with a refused model");
    assert_refusal_logged(&nice_log, &plugin, model);

    plugin.stop_processing().unwrap();
    plugin.deactivate().unwrap();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_call() {
        let call = one_bar_call(4.0);
        let starts: Vec<f64> = call.iter().map(|n| n.start_beats).collect();
        assert_eq!(starts, vec![4.0, 5.0, 6.0, 7.0]);
        assert!(call.iter().all(|n| n.length_beats == 0.5 && n.channel == 0));
        assert_eq!(
            call.iter().map(|n| n.key).collect::<Vec<_>>(),
            vec![60, 62, 64, 65]
        );
    }

    #[test]
    fn design_window_for_the_test_call() {
        // Ends at 7.5 + 1 = 8.5 → next bar line 12; 3.5 beats → one bar.
        let w = expected_answer_window(&one_bar_call(4.0), 1.0, 4.0);
        assert_eq!(
            w,
            AnswerWindow {
                start_beats: 12.0,
                end_beats: 16.0
            }
        );
        assert_eq!(w.samples(24_000.0), (288_000, 384_000));
        // A retry one bar after that window.
        let w = expected_answer_window(&one_bar_call(20.0), 1.0, 4.0);
        assert_eq!((w.start_beats, w.end_beats), (28.0, 32.0));
    }

    #[test]
    fn window_edge_cases() {
        // A call ending exactly on a bar line answers on that bar line.
        let call = [PhraseNote {
            channel: 0,
            key: 60,
            velocity_midi: 90,
            start_beats: 0.0,
            length_beats: 3.0,
        }];
        let w = expected_answer_window(&call, 1.0, 4.0);
        assert_eq!((w.start_beats, w.end_beats), (4.0, 8.0));
        // A call longer than a bar rounds up to two.
        let call = [
            PhraseNote {
                start_beats: 0.0,
                length_beats: 1.0,
                ..call[0]
            },
            PhraseNote {
                start_beats: 4.0,
                length_beats: 0.5,
                ..call[0]
            },
        ];
        let w = expected_answer_window(&call, 1.0, 4.0);
        assert_eq!((w.start_beats, w.end_beats), (8.0, 16.0));
    }

    fn sent_on(sample: u64, key: u8) -> SentInput {
        SentInput {
            sample,
            kind: InputKind::NoteOn {
                channel: 0,
                key,
                velocity: 0.8,
            },
        }
    }

    fn out(sample: u64, kind: OutKind, channel: u8, key: u8) -> OutEvent {
        OutEvent {
            sample,
            kind,
            channel,
            key,
            velocity: 0.8,
        }
    }

    #[test]
    fn thru_check_accepts_exact_echo_of_both_dialects() {
        let sent = [
            sent_on(100, 60),
            SentInput {
                sample: 200,
                kind: InputKind::Midi {
                    data: [0x80, 60, 0],
                },
            },
            SentInput {
                sample: 300,
                kind: InputKind::Midi {
                    data: [0x90, 62, 100],
                },
            },
            SentInput {
                sample: 300,
                kind: InputKind::ParamValue {
                    param_id: 1,
                    value: 1.0,
                },
            },
        ];
        let outputs = [
            out(300, OutKind::On, 0, 62),
            out(100, OutKind::On, 0, 60),
            out(200, OutKind::Off, 0, 60),
            out(250, OutKind::On, 1, 70),
        ];
        assert_eq!(check_thru(&sent, &outputs, 0), Ok(()));
    }

    #[test]
    fn thru_check_reports_moved_missing_and_extra_notes() {
        let sent = [sent_on(100, 60), sent_on(200, 62)];
        let moved = [out(101, OutKind::On, 0, 60), out(200, OutKind::On, 0, 62)];
        let err = check_thru(&sent, &moved, 0).unwrap_err();
        assert!(
            err.contains("(100, true, 60)") && err.contains("(101, true, 60)"),
            "{err}"
        );
        let missing = [out(200, OutKind::On, 0, 62)];
        assert!(check_thru(&sent, &missing, 0).is_err());
        let doubled = [
            out(100, OutKind::On, 0, 60),
            out(100, OutKind::On, 0, 60),
            out(200, OutKind::On, 0, 62),
        ];
        assert!(check_thru(&sent, &doubled, 0).is_err());
        let wrong_channel = [out(100, OutKind::On, 1, 60), out(200, OutKind::On, 0, 62)];
        assert!(check_thru(&sent, &wrong_channel, 0).is_err());
    }
}
