//! Antiphon's test host: a small CLAP host library that the binary-level tests in `tests/tests/`
//! use to drive the built plugin exactly as a DAW would.
//!
//! - [`host`]: load a `.clap` file, create the plugin, host extensions (log capture,
//!   thread-check, params, state, latency, note and audio ports), lifecycle, process calls,
//!   parameters and state.
//! - [`events`]: input events (CLAP notes, raw MIDI, parameter values) and the normalised output
//!   note stream ([`events::OutEvent`]).
//! - [`transport`]: the transport and CLAP's fixed-point beat and second times.
//! - [`jam`]: a block-by-block driver over a musical timeline, and a note ledger.
//! - [`session`]: a DAW-like session for the transport tests: loops, seeks, tempo ramps, time
//!   signatures, random block sizes, reactivation at another sample rate, a log of every block.
//! - [`transport_cases`]: the transport cases, each run in each jam mode.
//! - [`antiphon`]: what the tests know about Antiphon (id, parameter names, the test call,
//!   the answer window the design implies, MIDI thru and log checks).
//! - [`bundle`]: building `Antiphon.clap` from a test.
//! - [`nice_state`]: reading and editing nice-plug's saved state.
//! - [`util`]: temp dirs, junk bytes, waiting for log files, the process's resident memory.
//! - [`x11`]: a host window for the plugin's editor, and its pixels as a PNG.
//! - [`vst3_host`]: a VST3 host of the same kind for the `.vst3` bundle (module, factory,
//!   component, processor, controller, event lists, parameter changes, process context).
//!
//! A typical test:
//!
//! ```no_run
//! use antiphon_tests::{bundle, host::PluginInstance, jam::*};
//!
//! let path = bundle::bundle_plugin();
//! let mut plugin = PluginInstance::load(&path, "dev.antiphon.antiphon").unwrap();
//! plugin.set_param_text("Output Channel", "2").unwrap();
//! plugin.activate(48_000.0, 1, 512).unwrap();
//! plugin.start_processing().unwrap();
//! let mut jam = JamDriver::new(&mut plugin, JamConfig::new(48_000.0, 512, 120.0)).unwrap();
//! jam.play_from(0.0);
//! jam.schedule_note(
//!     PhraseNote { channel: 0, key: 60, velocity_midi: 100, start_beats: 4.0, length_beats: 0.5 },
//!     NoteDialect::Clap,
//! ).unwrap();
//! jam.run_until_beats(16.0).unwrap();
//! let answer = jam.ledger(1);
//! assert!(answer.is_balanced());
//! ```

pub mod antiphon;
pub mod bundle;
pub mod events;
pub mod host;
pub mod jam;
pub mod nice_state;
pub mod session;
pub mod transport;
pub mod transport_cases;
pub mod util;
pub mod vst3_host;
pub mod x11;
