//! What a host sees of Antiphon.clap before any music: its descriptor, note and audio ports,
//! parameters, parameter changes sent inside a process call, and a state round trip.

use antiphon_tests::antiphon::{BLOCK_SAMPLES, PLUGIN_ID, PLUGIN_NAME, SAMPLE_RATE, param};
use antiphon_tests::bundle::bundle_plugin;
use antiphon_tests::host::PluginInstance;
use antiphon_tests::nice_state;
use clap_sys::ext::note_ports::{CLAP_NOTE_DIALECT_CLAP, CLAP_NOTE_DIALECT_MIDI};
use clap_sys::ext::params::{CLAP_PARAM_IS_AUTOMATABLE, CLAP_PARAM_IS_HIDDEN};

#[test]
fn descriptor_ports_and_parameters_are_as_documented() {
    let path = bundle_plugin();
    let plugin = PluginInstance::load(&path, PLUGIN_ID)
        .unwrap_or_else(|e| panic!("loading {}: {e}", path.display()));
    let descriptor = plugin.descriptor();
    eprintln!("{descriptor:?}");
    assert_eq!(descriptor.id, PLUGIN_ID);
    assert_eq!(descriptor.name, PLUGIN_NAME);

    for is_input in [true, false] {
        let ports = plugin.note_ports(is_input);
        eprintln!("note ports (input {is_input}): {ports:?}");
        assert_eq!(ports.len(), 1, "one note port (input {is_input})");
        let both = CLAP_NOTE_DIALECT_CLAP | CLAP_NOTE_DIALECT_MIDI;
        assert_eq!(
            ports[0].supported_dialects & both,
            both,
            "the note port (input {is_input}) takes CLAP notes and MIDI"
        );
        assert_eq!(
            ports[0].preferred_dialect, CLAP_NOTE_DIALECT_CLAP,
            "a host that is not Carla gets CLAP notes (Note Output = Auto)"
        );
    }
    let outputs = plugin.audio_ports(false);
    eprintln!(
        "audio ports: in {:?}, out {outputs:?}",
        plugin.audio_ports(true)
    );
    assert!(
        outputs.iter().any(|p| p.channel_count == 2),
        "a stereo audio output: {outputs:?}"
    );

    let params = plugin.params().unwrap();
    for p in &params {
        eprintln!(
            "param {:?} id {} range {}..={} default {} ({:?}) flags {:#x}",
            p.name,
            p.id,
            p.min_value,
            p.max_value,
            p.default_value,
            plugin.value_to_text(p.id, p.default_value),
            p.flags
        );
    }
    let names: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        param::ALL,
        "the parameters, in order, are those the tests know"
    );
    let learn = plugin.param(param::MIDI_LEARN).unwrap();
    assert_ne!(
        learn.flags & CLAP_PARAM_IS_HIDDEN,
        0,
        "MIDI Learn is hidden"
    );
    for name in [param::NOTE_OUTPUT, param::MIDI_LEARN] {
        let p = plugin.param(name).unwrap();
        assert_eq!(
            p.flags & CLAP_PARAM_IS_AUTOMATABLE,
            0,
            "{name} is not automatable"
        );
    }
    let channel = plugin.param(param::OUTPUT_CHANNEL).unwrap();
    assert!(channel.is_stepped());
    assert_eq!(
        channel.max_value - channel.min_value,
        15.0,
        "16 output channels"
    );
    for (text, value) in [("1", channel.min_value), ("16", channel.max_value)] {
        assert_eq!(plugin.text_to_value(channel.id, text).unwrap(), value);
        assert_eq!(
            plugin.value_to_text(channel.id, value).unwrap().trim(),
            text
        );
    }
    let thru = plugin.param(param::MIDI_THRU).unwrap();
    assert!(thru.is_stepped());
    assert_eq!((thru.min_value, thru.max_value), (0.0, 1.0));
}

#[test]
fn parameter_changes_in_process_and_state_round_trip() {
    let path = bundle_plugin();
    let mut plugin = PluginInstance::load(&path, PLUGIN_ID)
        .unwrap_or_else(|e| panic!("loading {}: {e}", path.display()));
    plugin.activate(SAMPLE_RATE, 1, BLOCK_SAMPLES).unwrap();
    plugin.start_processing().unwrap();

    // While processing, the change travels as a CLAP_EVENT_PARAM_VALUE in the next block.
    let sent = plugin.set_param_text(param::OUTPUT_CHANNEL, "5").unwrap();
    let channel = plugin.param(param::OUTPUT_CHANNEL).unwrap();
    assert_ne!(plugin.param_value(channel.id).unwrap(), sent);
    // No transport at all: the plugin falls back to its own "Tempo".
    let block = plugin.process(BLOCK_SAMPLES, &[], None).unwrap();
    assert!(!block.is_error(), "process returned CLAP_PROCESS_ERROR");
    assert_eq!(plugin.param_value(channel.id).unwrap(), sent);
    assert_eq!(
        plugin.param_display(param::OUTPUT_CHANNEL).unwrap().trim(),
        "5"
    );

    // Every setting of the jam modes and the note output changes, and the whole lot must come
    // back in a fresh instance.
    let changed = [
        (param::MODE, "Trade"),
        (param::TRADE_BARS, "4"),
        (param::LOOP_ANSWER, "On"),
        (param::MIN_CALL_LENGTH, "2.5"),
        (param::ANSWER_START, "Next Beat"),
        (param::SEED, "1234"),
        (param::NOTE_OUTPUT, "MIDI"),
        (param::MODEL, "Drums"),
        (param::TEMPERATURE, "1.5"),
    ];
    for (name, text) in changed {
        plugin.set_param_text(name, text).unwrap();
    }
    plugin.process(BLOCK_SAMPLES, &[], None).unwrap();
    let shown: Vec<(&str, String)> = changed
        .iter()
        .map(|&(name, _)| (name, plugin.param_display(name).unwrap()))
        .collect();
    for ((name, text), (_, display)) in changed.iter().zip(&shown) {
        assert!(
            display.trim().starts_with(text),
            "{name} shows {display:?} after being set to {text:?}"
        );
    }

    let saved = plugin.save_state().unwrap();
    let state = nice_state::decode(&saved).unwrap();
    eprintln!("state: {state}");
    plugin.stop_processing().unwrap();
    plugin.deactivate().unwrap();

    // A fresh instance takes the saved state and shows the same value.
    let mut other = PluginInstance::load(&path, PLUGIN_ID).unwrap();
    assert_eq!(
        other.param_display(param::OUTPUT_CHANNEL).unwrap().trim(),
        "1",
        "a fresh instance starts on channel 1"
    );
    other.load_state(&saved).unwrap();
    assert_eq!(
        other.param_display(param::OUTPUT_CHANNEL).unwrap().trim(),
        "5"
    );
    for (name, display) in &shown {
        assert_eq!(
            &other.param_display(name).unwrap(),
            display,
            "{name} restored"
        );
    }
    assert_eq!(
        other.save_state().unwrap(),
        saved,
        "state survives a round trip"
    );
}
