//! Hosts that take only raw MIDI from a CLAP plugin (Carla) still hear Antiphon.
//!
//! The test host plays Carla ([`HostProfile::CarlaLike`]): named "Carla", MIDI-only note ports,
//! and every CLAP note event the plugin pushes is dropped. With "Note Output" at Auto the plugin
//! must send its answer and its thru as `CLAP_EVENT_MIDI` note messages there, and CLAP note
//! events to every other host.

use antiphon_tests::antiphon::{
    ANSWER_CHANNEL, BEATS_PER_BAR, BLOCK_SAMPLES, CALL_CHANNEL, DEFAULT_SILENCE_BEATS, PLUGIN_ID,
    SAMPLE_RATE, SAMPLES_PER_BEAT, TEMPO_BPM, assert_balanced, assert_clean_blocks, check_thru,
    configure_channel_2_with_thru, describe, expected_answer_window, one_bar_call, ons_from, param,
    start_jam,
};
use antiphon_tests::bundle::bundle_plugin;
use antiphon_tests::events::{InputEvent, OutKind};
use antiphon_tests::host::{BlockOutput, HostProfile, PluginInstance};
use antiphon_tests::jam::NoteDialect;
use antiphon_tests::transport::TransportInfo;
use clap_sys::ext::note_ports::{CLAP_NOTE_DIALECT_CLAP, CLAP_NOTE_DIALECT_MIDI};

/// How many calls the jam plays before it gives up on an answer with notes.
const MAX_CALLS: usize = 5;

/// Loads the plugin into a host of `profile`, with "Output Channel" 2, "MIDI Thru" on and
/// "Note Output" set to `note_output` (its display text), activated and processing.
fn open(profile: HostProfile, note_output: &str) -> PluginInstance {
    let path = bundle_plugin();
    let mut plugin = PluginInstance::load_as(&path, PLUGIN_ID, profile)
        .unwrap_or_else(|e| panic!("loading {}: {e}", path.display()));
    configure_channel_2_with_thru(&mut plugin).unwrap();
    plugin
        .set_param_text(param::NOTE_OUTPUT, note_output)
        .unwrap();
    assert_eq!(
        plugin.param_display(param::NOTE_OUTPUT).unwrap(),
        note_output
    );
    plugin.activate(SAMPLE_RATE, 1, BLOCK_SAMPLES).unwrap();
    plugin.start_processing().unwrap();
    plugin
}

/// One block with a MIDI note-on (C4, channel 1) at offset 0 and the transport playing.
fn one_thru_note(plugin: &mut PluginInstance) -> BlockOutput {
    let transport = TransportInfo::playing(TEMPO_BPM, 0.0);
    plugin
        .process(
            BLOCK_SAMPLES,
            &[InputEvent::midi(0, [0x90, 60, 100])],
            Some(&transport),
        )
        .unwrap()
}

#[test]
fn a_carla_like_host_gets_answer_and_thru_as_raw_midi() {
    let mut plugin = open(HostProfile::CarlaLike, "Auto");
    let out_port = plugin.note_ports(false);
    assert_eq!(
        out_port[0].preferred_dialect, CLAP_NOTE_DIALECT_MIDI,
        "the note output prefers MIDI for Carla: {out_port:?}"
    );

    let mut jam = start_jam(&mut plugin).unwrap();
    let mut call_start = 4.0;
    let mut answered = None;
    for attempt in 1..=MAX_CALLS {
        let call = one_bar_call(call_start);
        let from = jam.sample_at_beats(call_start).unwrap();
        jam.schedule_phrase(&call, NoteDialect::Midi).unwrap();
        let window = expected_answer_window(&call, DEFAULT_SILENCE_BEATS, BEATS_PER_BAR);
        jam.run_until_beats(window.end_beats + BEATS_PER_BAR)
            .unwrap();
        if !ons_from(jam.outputs(), ANSWER_CHANNEL, from).is_empty() {
            answered = Some(window);
            break;
        }
        eprintln!("call {attempt} got an answer without notes");
        call_start = window.end_beats + BEATS_PER_BAR;
    }
    let outputs = jam.outputs().to_vec();
    eprintln!(
        "the plugin sent (as MIDI, CLAP notes being dropped):\n{}",
        describe(&outputs, SAMPLES_PER_BEAT)
    );
    let window = answered.expect("an answer with notes reached the Carla-like host");
    assert_clean_blocks(&jam.stats());
    assert_balanced(&jam, &[CALL_CHANNEL, ANSWER_CHANNEL], "Carla-like host");
    check_thru(jam.sent(), &outputs, CALL_CHANNEL).unwrap();
    let (start, end) = window.samples(SAMPLES_PER_BEAT);
    let ons = ons_from(&outputs, ANSWER_CHANNEL, 0);
    assert!(
        ons.iter().any(|e| (start..end).contains(&e.sample)),
        "answer notes in samples {start}..{end}: {ons:?}"
    );
}

#[test]
fn note_output_picks_clap_notes_or_midi_and_a_carla_like_host_drops_clap_notes() {
    // Forced CLAP notes: Carla drops them, so the thru note never arrives.
    let mut plugin = open(HostProfile::CarlaLike, "CLAP Notes");
    assert_eq!(
        plugin.note_ports(false)[0].preferred_dialect,
        CLAP_NOTE_DIALECT_CLAP
    );
    let block = one_thru_note(&mut plugin);
    assert!(block.notes.is_empty(), "{block:?}");
    assert_eq!(
        block.dropped_clap_notes, 1,
        "the thru note-on went out as a CLAP note event: {block:?}"
    );
    drop(plugin);

    // Auto in a host that is not Carla: CLAP notes, as nice-plug sends them.
    let mut plugin = open(HostProfile::Standard, "Auto");
    assert_eq!(
        plugin.note_ports(false)[0].preferred_dialect,
        CLAP_NOTE_DIALECT_CLAP
    );
    let block = one_thru_note(&mut plugin);
    assert_eq!(block.notes.len(), 1, "{block:?}");
    assert_eq!(block.notes[0].kind, OutKind::On);
    drop(plugin);

    // Forced MIDI: the note port prefers MIDI and the note reaches Carla as a MIDI note-on…
    let mut plugin = open(HostProfile::CarlaLike, "MIDI");
    assert_eq!(
        plugin.note_ports(false)[0].preferred_dialect,
        CLAP_NOTE_DIALECT_MIDI
    );
    let block = one_thru_note(&mut plugin);
    assert_eq!(block.dropped_clap_notes, 0, "{block:?}");
    assert_eq!(block.notes.len(), 1, "{block:?}");
    let note = block.notes[0];
    assert_eq!(
        (note.kind, note.channel, note.key, note.velocity),
        (OutKind::On, 0, 60, 100.0 / 127.0),
        "the thru note as a MIDI note-on"
    );
    drop(plugin);

    // … and any other host, which takes MIDI too.
    let mut plugin = open(HostProfile::Standard, "MIDI");
    assert_eq!(
        plugin.note_ports(false)[0].preferred_dialect,
        CLAP_NOTE_DIALECT_MIDI
    );
    let block = one_thru_note(&mut plugin);
    assert_eq!(block.notes.len(), 1, "{block:?}");
}
