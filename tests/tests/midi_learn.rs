//! A momentary control learns a MIDI CC, and the CC then acts at its own sample offset.
//!
//! The host arms learning through the hidden, non-automatable "MIDI Learn" parameter (the
//! editor arms it through `AntiphonParams::arm_learn`): switching it to "Panic" makes the next
//! CC the plugin receives, on any channel, Panic's. That CC is then a control, not MIDI: it is
//! not passed on, and rising through 64 it ends every sounding note at its offset. Other CCs
//! still pass through. The assignment is saved with the project.

use antiphon_tests::antiphon::{BLOCK_SAMPLES, PLUGIN_ID, SAMPLE_RATE, TEMPO_BPM, param};
use antiphon_tests::bundle::bundle_plugin;
use antiphon_tests::events::InputKind;
use antiphon_tests::host::PluginInstance;
use antiphon_tests::jam::{JamConfig, JamDriver, PairedNote};
use antiphon_tests::nice_state;

/// The CC the test teaches Panic.
const LEARNED_CC: u8 = 20;
/// A CC nobody learned.
const OTHER_CC: u8 = 21;
/// Where the learned CC rises through 64 and Panic acts (inside a block, not at its start).
const PANIC_SAMPLE: u64 = 10_250;

/// A MIDI control change on channel index `channel`.
fn cc(channel: u8, number: u8, value: u8) -> InputKind {
    InputKind::Midi {
        data: [0xb0 | channel, number, value],
    }
}

/// Middle C on channel 1, held.
fn c4_on() -> InputKind {
    InputKind::NoteOn {
        channel: 0,
        key: 60,
        velocity: 100.0 / 127.0,
    }
}

/// A processing plugin with MIDI thru on (its default), in a host that runs unpaced.
fn open(plugin: &mut PluginInstance) -> JamDriver<'_> {
    plugin.activate(SAMPLE_RATE, 1, BLOCK_SAMPLES).unwrap();
    plugin.start_processing().unwrap();
    let config = JamConfig::unpaced(SAMPLE_RATE, BLOCK_SAMPLES, TEMPO_BPM);
    let mut jam = JamDriver::new(plugin, config).unwrap();
    jam.play_from(0.0);
    jam
}

/// The thru notes of channel 1 the plugin ended.
fn ended_thru_notes(jam: &JamDriver<'_>) -> Vec<PairedNote> {
    jam.ledger(0).notes
}

#[test]
fn a_learned_cc_triggers_panic_at_its_offset_and_is_saved() {
    let path = bundle_plugin();
    let mut plugin = PluginInstance::load(&path, PLUGIN_ID).unwrap();
    let learn = plugin.param(param::MIDI_LEARN).unwrap();
    assert_eq!(
        plugin.text_to_value(learn.id, "Panic").unwrap(),
        4.0,
        "Off, End Call, Mutate, Continue, Panic"
    );
    let mut jam = open(&mut plugin);
    jam.schedule_param(1_000, learn.id, 4.0).unwrap();
    // Learned on channel 5; the learning press itself does nothing.
    jam.schedule_at(3_000, cc(4, LEARNED_CC, 127)).unwrap();
    jam.schedule_at(4_000, cc(4, LEARNED_CC, 0)).unwrap();
    jam.schedule_at(6_000, c4_on()).unwrap();
    jam.schedule_at(7_000, cc(0, OTHER_CC, 127)).unwrap();
    // Any channel: the control acts on channel 1 too.
    jam.schedule_at(PANIC_SAMPLE, cc(0, LEARNED_CC, 100))
        .unwrap();
    jam.run_until_sample(20_000).unwrap();

    let stats = jam.stats();
    assert_eq!(
        stats.other_midi, 1,
        "only the unlearned CC {OTHER_CC} passes through: {stats:?}"
    );
    let ended = ended_thru_notes(&jam);
    assert_eq!(
        ended.len(),
        1,
        "the held C4 ended by Panic, nothing else: {ended:?}, {:?}",
        jam.outputs()
    );
    assert_eq!((ended[0].key, ended[0].on_sample), (60, 6_000));
    assert_eq!(
        ended[0].off_sample, PANIC_SAMPLE,
        "Panic acts at the CC's sample offset"
    );
    assert!(jam.ledger(0).is_balanced());
    drop(jam);

    // The assignment is saved with the project…
    let saved = plugin.save_state().unwrap();
    let state = nice_state::decode(&saved).unwrap();
    assert_eq!(
        nice_state::persisted_field(&state, "cc_panic").unwrap(),
        Some(serde_json::json!(LEARNED_CC))
    );
    for field in ["cc_end_call", "cc_mutate", "cc_continue"] {
        assert_eq!(
            nice_state::persisted_field(&state, field).unwrap(),
            Some(serde_json::json!(255)),
            "{field}: nothing learned"
        );
    }
    drop(plugin);

    // … and restored: the CC is Panic at once, and "MIDI Learn" restored as "Panic" does not
    // arm learning again (CC 22 passes through).
    let mut other = PluginInstance::load(&path, PLUGIN_ID).unwrap();
    other.load_state(&saved).unwrap();
    assert_eq!(other.param_display(param::MIDI_LEARN).unwrap(), "Panic");
    let mut jam = open(&mut other);
    jam.schedule_at(500, cc(2, 22, 127)).unwrap();
    jam.schedule_at(1_000, c4_on()).unwrap();
    jam.schedule_at(3_333, cc(9, LEARNED_CC, 127)).unwrap();
    jam.run_until_sample(6_000).unwrap();
    assert_eq!(jam.stats().other_midi, 1, "CC 22 passes through");
    let ended = ended_thru_notes(&jam);
    assert_eq!(
        ended.iter().map(|n| n.off_sample).collect::<Vec<_>>(),
        vec![3_333],
        "{:?}",
        jam.outputs()
    );
}
