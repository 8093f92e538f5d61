//! Wiring one jam instance: the shared state, both rings, the audio side and the worker, made
//! together so each end goes to the thread that owns it.

use std::sync::Arc;

use crate::audio::AudioEngine;
use crate::queues::{answer_queue, capture_queue};
use crate::shared::Shared;
use crate::worker::fault::FaultPlan;
use crate::worker::{WorkerConfig, WorkerHandle};

/// One running instance: the audio side for `process`, the worker thread, and what they share.
pub struct Instance {
    /// Owned by the audio thread.
    pub audio: AudioEngine,
    /// Owns the worker thread (dropping it joins the thread).
    pub worker: WorkerHandle,
    /// Atomics shared by all sides.
    pub shared: Arc<Shared>,
}

/// Starts an instance: makes the rings and shared state and spawns the worker. Failures are
/// injected only if [`crate::worker::fault::FAULT_ENV`] asks for them (tests).
pub fn start(shared: Arc<Shared>, config: WorkerConfig) -> std::io::Result<Instance> {
    start_with_faults(shared, config, FaultPlan::from_env().map(Arc::new))
}

/// [`start`] with the failures `faults` plans injected into the worker (tests; `None`: none).
pub fn start_with_faults(
    shared: Arc<Shared>,
    config: WorkerConfig,
    faults: Option<Arc<FaultPlan>>,
) -> std::io::Result<Instance> {
    let (capture_tx, capture_rx) = capture_queue();
    let (answer_tx, answer_rx) = answer_queue();
    let worker =
        WorkerHandle::spawn_with_faults(shared.clone(), capture_rx, answer_tx, config, faults)?;
    Ok(Instance {
        audio: AudioEngine::new(shared.clone(), capture_tx, answer_rx),
        worker,
        shared,
    })
}
