//! Random hosts through the built `Antiphon.vst3` (with `assert_process_allocs`): the same
//! random host scripts and the same `OutputChecker` as `random_hosts_clap.rs`, played by our
//! own VST3 host (`antiphon_tests::vst3_host`). See `random_hosts/mod.rs` for the driver.
//!
//! The VST3 side of the mapping:
//! - the transport is a `ProcessContext` with only the flags of what the script's host reports
//!   (`kTempoValid`, `kProjectTimeMusicValid`, `kBarPositionValid`, `kTimeSigValid`,
//!   `kCycleActive`); `projectTimeSamples` is always there, as VST3 has no flag for it: the
//!   position at the current tempo when the script gives both, else the samples the host has
//!   played since the case began. A plugin that gets a tempo but no musical position works its
//!   position out from those samples (nice-plug does), and the model of its clock does the same;
//! - notes are `kNoteOnEvent`/`kNoteOffEvent` (a velocity-0 note-on is sent as it is), CCs are
//!   changes of the plugin's MIDI CC parameters at their sample;
//! - parameters, bypass included (the parameter flagged `kIsBypass`), are `IParameterChanges`
//!   at offset 0; `reset()` is `setProcessing(false)`, `setProcessing(true)`; a reactivation is
//!   `setProcessing(false)`, `setActive(false)`, `setupProcessing` at the new rate,
//!   `setActive(true)`, `setProcessing(true)`;
//! - the plugin renders offline (`kOffline`), waiting for its worker after each block (the host
//!   sets up processing twice before each activation: see `Vst3Scripted::activate`).
//!
//! 256 cases by default (about 40 to 60 s in a debug build); `ANTIPHON_BINARY_CASES` (or
//! `PROPTEST_CASES`) sets another number. A failure prints the shrunk script and is kept in
//! `proptest-regressions/random_hosts_vst3.txt`, replayed first from then on.

mod random_hosts;

use std::collections::HashMap;

use antiphon_engine::HostTransport;
use antiphon_engine::host_script::{HostBlock, ScriptEvent};
use antiphon_tests::bundle::{bundle_vst3, vst3_binary};
use antiphon_tests::vst3_host::{
    ParamPoint, Vst3InputEvent, Vst3InputKind, Vst3Plugin, Vst3Setup, Vst3Transport,
};
use proptest::strategy::Just;
use random_hosts::{MAX_BLOCK_SAMPLES, Param, Processed, ScriptedPlugin};
use vst3::Steinberg::Vst::ParamID;
use vst3::Steinberg::kResultOk;

/// The plugin under our VST3 host, as `drive` uses it.
struct Vst3Scripted {
    /// The instance, active and processing.
    plugin: Vst3Plugin,
    /// Parameter ids by parameter.
    ids: HashMap<Param, ParamID>,
    /// Parameter changes for the next block.
    pending: Vec<ParamPoint>,
    /// The sample rate of the current activation.
    sample_rate_hz: f64,
    /// Samples the host played (transport running) since the case began.
    played_samples: i64,
}

/// The offline setup at `sample_rate_hz`.
fn setup(sample_rate_hz: f64) -> Vst3Setup {
    Vst3Setup {
        sample_rate_hz,
        max_block_samples: MAX_BLOCK_SAMPLES,
        offline: true,
    }
}

impl Vst3Scripted {
    /// Loads the bundle and activates it offline at `sample_rate_hz`.
    fn start(sample_rate_hz: f64) -> Result<Self, String> {
        let plugin = Vst3Plugin::load(&vst3_binary(&bundle_vst3())).map_err(|e| e.0)?;
        let mut ids = HashMap::new();
        for param in Param::ALL {
            ids.insert(param, plugin.param_id(param.name()).map_err(|e| e.0)?);
        }
        let bypass = plugin
            .bypass_param()
            .ok_or("no parameter is flagged kIsBypass")?;
        if bypass.id != ids[&Param::Bypass] {
            return Err(format!(
                "the kIsBypass parameter is {:?}, not \"Bypass\"",
                bypass.title
            ));
        }
        let mut this = Self {
            plugin,
            ids,
            pending: Vec::new(),
            sample_rate_hz,
            played_samples: 0,
        };
        this.activate(sample_rate_hz)?;
        Ok(this)
    }

    /// Activates offline at `sample_rate_hz` (one `setupProcessing`, as a host does:
    /// Antiphon's VST3 entry mends nice-plug's mode lag, see `offline_slow_model.rs`).
    fn activate(&mut self, sample_rate_hz: f64) -> Result<(), String> {
        let setup = setup(sample_rate_hz);
        self.plugin.activate(setup).map_err(|e| e.0)?;
        self.sample_rate_hz = sample_rate_hz;
        Ok(())
    }

    /// The `ProcessContext` content for `block`.
    fn transport(&self, block: &HostBlock) -> Vst3Transport {
        let t = &block.transport;
        let project_time_samples = match (t.pos_beats, t.tempo_bpm) {
            (Some(pos), Some(tempo)) => (pos * 60.0 / tempo * self.sample_rate_hz).round() as i64,
            _ => self.played_samples,
        };
        Vst3Transport {
            playing: t.playing,
            tempo_bpm: t.tempo_bpm,
            position_beats: t.pos_beats,
            bar_start_beats: t.bar_start_beats,
            time_sig: t.time_sig.map(|(n, d)| (n as i32, d as i32)),
            cycle_beats: block.loop_beats.filter(|_| t.pos_beats.is_some()),
            project_time_samples,
        }
    }

    /// What the plugin's engine makes of `t` at the current sample rate (nice-plug derives a
    /// position from `projectTimeSamples` and the tempo when the musical one is missing, with
    /// the sample rate as an `f32`).
    fn transport_seen(&self, t: &Vst3Transport) -> HostTransport {
        let sample_rate = self.sample_rate_hz as f32;
        let pos_beats = match (t.position_beats, t.tempo_bpm) {
            (Some(pos), _) => Some(pos),
            (None, Some(tempo)) => {
                Some(t.project_time_samples as f64 / f64::from(sample_rate) / 60.0 * tempo)
            }
            (None, None) => None,
        };
        HostTransport {
            playing: t.playing,
            tempo_bpm: t.tempo_bpm,
            pos_beats,
            time_sig: t
                .time_sig
                .and_then(|(n, d)| Some((u32::try_from(n).ok()?, u32::try_from(d).ok()?))),
            bar_start_beats: t.bar_start_beats,
        }
    }
}

impl ScriptedPlugin for Vst3Scripted {
    fn queue_param(&mut self, param: Param, plain: f64) -> Result<(), String> {
        self.pending.push(ParamPoint {
            id: self.ids[&param],
            offset_samples: 0,
            value: f64::from(param.normalized(plain)),
        });
        Ok(())
    }

    fn reset(&mut self) -> Result<(), String> {
        self.plugin.reset().map_err(|e| e.0)
    }

    fn reactivate(&mut self, sample_rate_hz: f64) -> Result<(), String> {
        self.plugin.deactivate().map_err(|e| e.0)?;
        self.activate(sample_rate_hz)
    }

    fn process(&mut self, block: &HostBlock) -> Result<Processed, String> {
        let events: Vec<Vst3InputEvent> = block
            .events
            .iter()
            .filter_map(|e| {
                let kind = match e.event {
                    ScriptEvent::NoteOn {
                        channel,
                        key,
                        velocity,
                    } => Vst3InputKind::NoteOn {
                        channel,
                        key,
                        velocity: f32::from(velocity) / 127.0,
                    },
                    ScriptEvent::NoteOff { channel, key } => {
                        Vst3InputKind::NoteOff { channel, key }
                    }
                    ScriptEvent::Cc { channel, cc, value } => {
                        Vst3InputKind::Cc { channel, cc, value }
                    }
                    ScriptEvent::Control(_) => return None,
                };
                Some(Vst3InputEvent {
                    offset_samples: e.offset,
                    kind,
                })
            })
            .collect();
        let transport = self.transport(block);
        let params = std::mem::take(&mut self.pending);
        let out = self
            .plugin
            .process(block.len_samples, &events, &params, &transport)
            .map_err(|e| e.0)?;
        if out.result != kResultOk {
            return Err(format!(
                "block {}: process returned {}",
                block.index, out.result
            ));
        }
        if block.transport.playing {
            self.played_samples += i64::from(block.len_samples);
        }
        Ok(Processed {
            sent: random_hosts::sent(&out.notes, out.block_start_sample),
            transport_seen: self.transport_seen(&transport),
        })
    }
}

#[test]
fn given_random_hosts_and_players_when_the_vst3_binary_answers_then_every_block_keeps_the_invariants()
 {
    // Bundle before the clock starts.
    bundle_vst3();
    random_hosts::run_binary_cases(
        "Antiphon.vst3",
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/proptest-regressions/random_hosts_vst3.txt"
        ),
        Just(()),
        |script, ()| Vst3Scripted::start(script.sample_rate_hz),
    );
}
