//! The jam engine: everything between a player's notes and Antiphon's answer, with no plugin
//! framework, so the plugin and the standalone share it and it tests without a host.
//!
//! The thread split is in the types: [`audio::AudioEngine`] is owned by the audio callback and
//! never allocates, locks or waits; [`shared::Shared`] holds atomics every side reads; the
//! [`worker`] thread owns the model. Captured input and answers travel through the SPSC rings of
//! [`queues`]; control goes to the worker over a channel.

pub mod audio;
pub mod choice;
pub mod chords;
pub mod clock;
pub mod history;
#[cfg(feature = "host-script")]
pub mod host_script;
pub mod input_log;
pub mod instance;
pub mod mode;
pub mod output;
pub mod phrase;
pub mod plan;
pub mod player;
pub mod queues;
pub mod roll;
pub mod shared;
pub mod tracker;
pub mod turns;
pub mod worker;

pub use audio::{AudioEngine, AudioSettings, BlockOutput, InputEvent};
pub use choice::{ModelChoice, ModelPick};
pub use chords::ChordInput;
pub use clock::{BarGrid, BlockTime, HostTransport, MusicalClock};
pub use instance::{Instance, start};
pub use mode::{JamControl, JamMode};
pub use output::{OutKind, OutputEvent};
pub use shared::{Shared, WorkerStatus};
pub use worker::{WorkerConfig, WorkerHandle};
