//! Generation: from a primer to a continuation, one model step at a time, handing each finished
//! note out as soon as it is known so a player can start before the whole answer is ready.

use std::path::PathBuf;
use std::time::Instant;

use crate::contract::ModelInfo;
use crate::encoding::EncodingSpec;
use crate::encoding::melody::{MelodyEvent, MelodyOneHot, NoteDecoder};
use crate::error::ModelError;
use crate::notes::StepNote;
use crate::sampling::{self, Rng};
use crate::session::{ModelSource, StepModel};

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenerateRequest<'a> {
    /// The primer's notes, in steps from the primer's start (step 0).
    pub primer: &'a [StepNote],
    /// Length of the primer window in steps: the continuation starts at this step, and primer
    /// notes beyond it are cut there.
    pub primer_steps: usize,
    /// Number of steps to generate.
    pub steps: usize,
    /// Softmax temperature (1.0 = the model's own distribution).
    pub temperature: f32,
    /// Velocity of generated notes, for families that don't model velocity.
    pub velocity: u8,
}

/// Whether generation should go on after a note was handed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepControl {
    /// Keep generating.
    Continue,
    /// Stop now (the answer is no longer wanted).
    Stop,
}

/// A generated note, in steps from the continuation's start (step 0 = first generated step).
pub type GeneratedNote = StepNote;

/// What a generation cost.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct GenerateStats {
    /// Steps generated (fewer than asked when stopped).
    pub steps: usize,
    /// Notes handed out.
    pub notes: usize,
    /// Microseconds spent running the primer through the model.
    pub primer_us: u64,
    /// Microseconds spent in single generation steps (model call plus sampling), in total.
    pub steps_us: u64,
    /// Whether the caller stopped it.
    pub stopped: bool,
}

/// A model that continues a primer.
pub trait Generator: Send {
    /// The model behind it.
    fn info(&self) -> &ModelInfo;

    /// Generates `request.steps` steps after the primer, calling `on_note` with each finished
    /// note (start-ordered) as soon as it ends.
    fn generate(
        &mut self,
        request: &GenerateRequest<'_>,
        rng: &mut Rng,
        on_note: &mut dyn FnMut(GeneratedNote) -> StepControl,
    ) -> Result<GenerateStats, ModelError>;
}

/// Loads a model and wraps it in the generator of its encoding.
pub fn load_generator(
    source: &ModelSource,
    runtime_dirs: &[PathBuf],
) -> Result<Box<dyn Generator>, ModelError> {
    let model = StepModel::load(source, runtime_dirs)?;
    match model.info().encoding.clone() {
        EncodingSpec::MelodyOnehot(spec) => Ok(Box::new(MelodyGenerator::new(model, spec))),
    }
}

/// Melody RNN generation with the one-hot encoding.
pub struct MelodyGenerator {
    /// The model.
    model: StepModel,
    /// Its encoding.
    spec: MelodyOneHot,
    /// Reused input buffer.
    inputs: Vec<f32>,
    /// Reused logits buffer.
    logits: Vec<f32>,
}

impl MelodyGenerator {
    /// A generator over a model whose encoding is `spec`.
    pub fn new(model: StepModel, spec: MelodyOneHot) -> Self {
        Self {
            model,
            spec,
            inputs: Vec::new(),
            logits: Vec::new(),
        }
    }
}

impl Generator for MelodyGenerator {
    fn info(&self) -> &ModelInfo {
        self.model.info()
    }

    fn generate(
        &mut self,
        request: &GenerateRequest<'_>,
        rng: &mut Rng,
        on_note: &mut dyn FnMut(GeneratedNote) -> StepControl,
    ) -> Result<GenerateStats, ModelError> {
        let spec = self.spec;
        let classes = spec.num_classes();
        let mut stats = GenerateStats::default();
        let primer_len = request.primer_steps.max(1);
        let encoded = spec.encode(request.primer);
        let mut primer_events = encoded.events;
        primer_events.resize(primer_len, MelodyEvent::NoEvent);

        let mut state = self.model.zero_state(1);
        self.inputs.clear();
        self.inputs.resize(primer_len * classes, 0.0);
        for (row, event) in self.inputs.chunks_mut(classes).zip(&primer_events) {
            spec.write_input(*event, row);
        }
        let started = Instant::now();
        self.model
            .run(&self.inputs, primer_len, &mut state, &mut self.logits)?;
        stats.primer_us = started.elapsed().as_micros() as u64;
        let last = (primer_len - 1) * classes;
        let mut next_logits: Vec<f32> = self.logits[last..last + classes].to_vec();

        let mut decoder = NoteDecoder::new(encoded.shift_semitones, request.velocity);
        self.inputs.resize(classes, 0.0);
        for step in 0..request.steps {
            let started = Instant::now();
            let (class, _) = sampling::sample(&next_logits, request.temperature, |_| true, rng);
            let event = spec.class_to_event(class);
            stats.steps = step + 1;
            if let Some(note) = decoder.push(step as i64, event) {
                stats.notes += 1;
                if on_note(note) == StepControl::Stop {
                    stats.stopped = true;
                    stats.steps_us += started.elapsed().as_micros() as u64;
                    return Ok(stats);
                }
            }
            if step + 1 < request.steps {
                spec.write_input(event, &mut self.inputs[..classes]);
                self.model
                    .run(&self.inputs[..classes], 1, &mut state, &mut self.logits)?;
                next_logits.copy_from_slice(&self.logits[..classes]);
            }
            stats.steps_us += started.elapsed().as_micros() as u64;
        }
        if let Some(note) = decoder.finish(request.steps as i64) {
            stats.notes += 1;
            stats.stopped = on_note(note) == StepControl::Stop;
        }
        Ok(stats)
    }
}
