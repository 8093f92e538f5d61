//! Random hosts through the built `Antiphon.clap` (with `assert_process_allocs`): the engine's
//! random host scripts (`antiphon_engine::host_script`), played by our own CLAP host, every
//! block checked by the engine's `OutputChecker` (see `random_hosts/mod.rs` for how a script
//! becomes parameter changes, resets and reactivations, and how the plugin's timeline is
//! known).
//!
//! The CLAP side of the mapping:
//! - the transport is a `clap_event_transport` with only the flags of what the script's host
//!   reports (tempo, beats and seconds timelines, time signature, loop);
//! - notes go in as CLAP note events or as raw MIDI (`0x9n`/`0x8n`, a velocity-0 note-on as
//!   `0x9n … 0`), per the case's dialect; CCs as raw MIDI `0xBn`;
//! - parameters as `CLAP_EVENT_PARAM_VALUE` at offset 0; `reset()` is `clap_plugin.reset`;
//!   a reactivation is `stop_processing`, `deactivate`, `activate` at the new rate,
//!   `start_processing`;
//! - the plugin renders offline (`clap.render`), waiting for its worker after each block.
//!
//! 256 cases by default (about 40 to 60 s in a debug build; each case loads the model and runs
//! real inference with `melody_basic`); `ANTIPHON_BINARY_CASES` (or `PROPTEST_CASES`) sets
//! another number, e.g. for a long nightly run. A failure prints the shrunk script and is kept in
//! `proptest-regressions/random_hosts_clap.txt`, replayed first from then on.

mod random_hosts;

use std::collections::HashMap;

use antiphon_engine::HostTransport;
use antiphon_engine::host_script::{HostBlock, ScriptEvent};
use antiphon_tests::antiphon::PLUGIN_ID;
use antiphon_tests::bundle::bundle_plugin;
use antiphon_tests::events::InputEvent;
use antiphon_tests::host::PluginInstance;
use antiphon_tests::transport::{beats_to_beattime, beattime_to_beats, seconds_to_sectime};
use clap_sys::events::{
    CLAP_CORE_EVENT_SPACE_ID, CLAP_EVENT_TRANSPORT, CLAP_TRANSPORT_HAS_BEATS_TIMELINE,
    CLAP_TRANSPORT_HAS_SECONDS_TIMELINE, CLAP_TRANSPORT_HAS_TEMPO,
    CLAP_TRANSPORT_HAS_TIME_SIGNATURE, CLAP_TRANSPORT_IS_LOOP_ACTIVE, CLAP_TRANSPORT_IS_PLAYING,
    clap_event_header, clap_event_transport,
};
use clap_sys::id::clap_id;
use proptest::prelude::*;
use random_hosts::{MAX_BLOCK_SAMPLES, Param, Processed, ScriptedPlugin};

/// How the host sends notes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    /// `CLAP_EVENT_NOTE_ON`/`OFF` (a velocity-0 note-on stays a note-on of velocity 0).
    Clap,
    /// Raw MIDI 1.0 bytes.
    Midi,
}

/// The plugin under our CLAP host, as `drive` uses it.
struct ClapScripted {
    /// The instance, active and processing.
    plugin: PluginInstance,
    /// Parameter ids by parameter.
    ids: HashMap<Param, clap_id>,
    /// How notes are sent.
    dialect: Dialect,
}

impl ClapScripted {
    /// Loads the bundle, switches to offline rendering, activates at `sample_rate_hz` and
    /// starts processing.
    fn start(sample_rate_hz: f64, dialect: Dialect) -> Result<Self, String> {
        let path = bundle_plugin();
        let mut plugin = PluginInstance::load(&path, PLUGIN_ID).map_err(|e| e.0)?;
        let mut ids = HashMap::new();
        for param in Param::ALL {
            ids.insert(param, plugin.param(param.name()).map_err(|e| e.0)?.id);
        }
        if !plugin.set_render_offline(true).map_err(|e| e.0)? {
            return Err("the plugin refused offline rendering".into());
        }
        plugin
            .activate(sample_rate_hz, 1, MAX_BLOCK_SAMPLES)
            .map_err(|e| e.0)?;
        plugin.start_processing().map_err(|e| e.0)?;
        Ok(Self {
            plugin,
            ids,
            dialect,
        })
    }
}

/// The CLAP transport a host that reports what `block`'s host reports sends.
fn clap_transport(block: &HostBlock) -> clap_event_transport {
    let t = &block.transport;
    let mut flags = 0;
    if t.playing {
        flags |= CLAP_TRANSPORT_IS_PLAYING;
    }
    if t.tempo_bpm.is_some() {
        flags |= CLAP_TRANSPORT_HAS_TEMPO;
    }
    let (num, den) = t.time_sig.unwrap_or((4, 4));
    if t.time_sig.is_some() {
        flags |= CLAP_TRANSPORT_HAS_TIME_SIGNATURE;
    }
    let bar_len_beats = f64::from(num) * 4.0 / f64::from(den);
    let pos = t.pos_beats.unwrap_or(0.0);
    // CLAP has no flag for the bar start: a host with a beat timeline always fills it in.
    let bar_start = t
        .bar_start_beats
        .unwrap_or_else(|| (pos / bar_len_beats).floor() * bar_len_beats);
    let seconds = |beats: f64| beats * 60.0 / t.tempo_bpm.unwrap_or(120.0);
    if t.pos_beats.is_some() {
        flags |= CLAP_TRANSPORT_HAS_BEATS_TIMELINE;
        if t.tempo_bpm.is_some() {
            flags |= CLAP_TRANSPORT_HAS_SECONDS_TIMELINE;
        }
    }
    let (loop_start, loop_end) = block.loop_beats.unwrap_or((0.0, 0.0));
    if block.loop_beats.is_some() && t.pos_beats.is_some() {
        flags |= CLAP_TRANSPORT_IS_LOOP_ACTIVE;
    }
    clap_event_transport {
        header: clap_event_header {
            size: std::mem::size_of::<clap_event_transport>() as u32,
            time: 0,
            space_id: CLAP_CORE_EVENT_SPACE_ID,
            type_: CLAP_EVENT_TRANSPORT,
            flags: 0,
        },
        flags,
        song_pos_beats: beats_to_beattime(pos),
        song_pos_seconds: seconds_to_sectime(seconds(pos)),
        tempo: t.tempo_bpm.unwrap_or(0.0),
        tempo_inc: 0.0,
        loop_start_beats: beats_to_beattime(loop_start),
        loop_end_beats: beats_to_beattime(loop_end),
        loop_start_seconds: seconds_to_sectime(seconds(loop_start)),
        loop_end_seconds: seconds_to_sectime(seconds(loop_end)),
        bar_start: beats_to_beattime(bar_start),
        bar_number: (bar_start / bar_len_beats).round() as i32,
        tsig_num: num as u16,
        tsig_denom: den as u16,
    }
}

/// What the plugin's engine makes of `clap` (nice-plug reads the beat position from the
/// fixed-point beat time; the rest passes as it is).
fn transport_seen(clap: &clap_event_transport) -> HostTransport {
    let has = |flag| clap.flags & flag != 0;
    HostTransport {
        playing: has(CLAP_TRANSPORT_IS_PLAYING),
        tempo_bpm: has(CLAP_TRANSPORT_HAS_TEMPO).then_some(clap.tempo),
        pos_beats: has(CLAP_TRANSPORT_HAS_BEATS_TIMELINE)
            .then(|| beattime_to_beats(clap.song_pos_beats)),
        time_sig: has(CLAP_TRANSPORT_HAS_TIME_SIGNATURE)
            .then_some((u32::from(clap.tsig_num), u32::from(clap.tsig_denom))),
        bar_start_beats: Some(beattime_to_beats(clap.bar_start)),
    }
}

impl ScriptedPlugin for ClapScripted {
    fn queue_param(&mut self, param: Param, plain: f64) -> Result<(), String> {
        self.plugin
            .set_param(self.ids[&param], param.clap_value(plain))
            .map_err(|e| e.0)
    }

    fn reset(&mut self) -> Result<(), String> {
        self.plugin.reset().map_err(|e| e.0)
    }

    fn reactivate(&mut self, sample_rate_hz: f64) -> Result<(), String> {
        let p = &mut self.plugin;
        p.stop_processing().map_err(|e| e.0)?;
        p.deactivate().map_err(|e| e.0)?;
        p.activate(sample_rate_hz, 1, MAX_BLOCK_SAMPLES)
            .map_err(|e| e.0)?;
        p.start_processing().map_err(|e| e.0)
    }

    fn process(&mut self, block: &HostBlock) -> Result<Processed, String> {
        let mut events = Vec::with_capacity(block.events.len());
        for e in &block.events {
            let offset = e.offset;
            let event = match (e.event, self.dialect) {
                (
                    ScriptEvent::NoteOn {
                        channel,
                        key,
                        velocity,
                    },
                    Dialect::Clap,
                ) => InputEvent::note_on(offset, channel, key, velocity),
                (ScriptEvent::NoteOff { channel, key }, Dialect::Clap) => {
                    InputEvent::note_off(offset, channel, key)
                }
                (
                    ScriptEvent::NoteOn {
                        channel,
                        key,
                        velocity,
                    },
                    Dialect::Midi,
                ) => InputEvent::midi(offset, [0x90 | channel, key, velocity]),
                (ScriptEvent::NoteOff { channel, key }, Dialect::Midi) => {
                    InputEvent::midi(offset, [0x80 | channel, key, 0])
                }
                (ScriptEvent::Cc { channel, cc, value }, _) => {
                    InputEvent::midi(offset, [0xb0 | channel, cc, value])
                }
                (ScriptEvent::Control(_), _) => continue,
            };
            events.push(event);
        }
        let transport = clap_transport(block);
        let out = self
            .plugin
            .process_with_clap_transport(block.len_samples, &events, Some(&transport))
            .map_err(|e| e.0)?;
        if out.is_error() {
            return Err(format!(
                "block {}: process returned CLAP_PROCESS_ERROR",
                block.index
            ));
        }
        Ok(Processed {
            sent: random_hosts::sent(&out.notes, out.block_start_sample),
            transport_seen: transport_seen(&transport),
        })
    }
}

#[test]
fn given_random_hosts_and_players_when_the_clap_binary_answers_then_every_block_keeps_the_invariants()
 {
    // Bundle before the clock starts.
    bundle_plugin();
    random_hosts::run_binary_cases(
        "Antiphon.clap",
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/proptest-regressions/random_hosts_clap.txt"
        ),
        prop_oneof![Just(Dialect::Clap), Just(Dialect::Midi)],
        |script, dialect| ClapScripted::start(script.sample_rate_hz, dialect),
    );
}
