//! Generation: from a primer to a continuation, one model step at a time, handing each finished
//! note out as soon as it is known so a player can start before the whole answer is ready.
//!
//! Every encoding runs through one loop ([`beam::generate`]) over its [`StepCodec`]; a request
//! can ask for Magenta's beam search ([`BeamSettings`]), a [`PitchMask`] (range and scale of the
//! answer) and, for Improv models, the chords to play over ([`ChordChange`]).

pub mod beam;
pub mod codec;
pub mod mask;
pub mod nade;
pub mod stream;

use std::path::PathBuf;

use crate::contract::ModelInfo;
use crate::encoding::EncodingSpec;
use crate::error::ModelError;
use crate::notes::StepNote;
use crate::sampling::Rng;
use crate::session::{ModelSource, StepModel};

pub use beam::BeamSettings;
pub use codec::{ChordChange, StepCodec};
pub use mask::{PitchMask, Scale};

use codec::{CodecVisitor, visit_codec};

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenerateRequest<'a> {
    /// The primer's notes, in steps from the primer's start (step 0). Encodings that count bars
    /// (lookback, key-melody, drums) count them from step 0: it should be a bar line.
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
    /// Beam search; [`BeamSettings::PLAIN`] is plain ancestral sampling. Polyphony, Performance
    /// and Pianoroll models always sample one sequence ([`stream`], [`nade`]).
    pub beam: BeamSettings,
    /// Which note-ons may be chosen, in real output pitches; [`PitchMask::ALL`] allows every
    /// pitch. Drum models ignore it.
    pub mask: PitchMask,
    /// Chords for Improv models, in steps from the primer's start (any order; the last one lasts
    /// to the end; before the first, and when empty, there is no chord). Other models ignore them.
    pub chords: &'a [ChordChange],
    /// A melody for Polyphony models to harmonise, in steps from the continuation's start: its
    /// notes are the top voice of every step they sound in and the model writes the voices
    /// below (empty: continue freely). Other models ignore it.
    pub melody: &'a [StepNote],
    /// Pianoroll models: a key is on when its probability is at least 0.5 (Magenta's sampling)
    /// instead of being drawn at `temperature`. Other models ignore it.
    pub threshold: bool,
    /// Density, in nats added to the log-odds of every choice that starts a note (a note-on, a
    /// drum hit, a key of a Pianoroll frame): positive plays more notes, negative fewer, 0 the
    /// model's own.
    pub density_nats: f32,
}

impl<'a> GenerateRequest<'a> {
    /// A request for `steps` steps after `primer_steps` steps of `primer`, with temperature 1,
    /// velocity 100, plain sampling, no mask and no chords; set the other fields as needed.
    pub fn new(primer: &'a [StepNote], primer_steps: usize, steps: usize) -> Self {
        Self {
            primer,
            primer_steps,
            steps,
            temperature: 1.0,
            velocity: 100,
            beam: BeamSettings::PLAIN,
            mask: PitchMask::ALL,
            chords: &[],
            melody: &[],
            threshold: false,
            density_nats: 0.0,
        }
    }
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
    /// Microseconds spent in generation steps (model call plus sampling for every candidate), in
    /// total.
    pub steps_us: u64,
    /// Whether the caller stopped it.
    pub stopped: bool,
}

/// A model that continues a primer.
pub trait Generator: Send {
    /// The model behind it.
    fn info(&self) -> &ModelInfo;

    /// The MIDI channel index the notes belong on when the model fixes one (`Some(9)`, GM drums,
    /// for drum models); `None`: the player's output channel.
    fn output_channel(&self) -> Option<u8> {
        self.info().encoding.output_channel()
    }

    /// Generates `request.steps` steps after the primer, calling `on_note` with each finished
    /// note (start-ordered) as soon as it is certain.
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
    generator_for(model)
}

/// The generator of a loaded model's encoding.
pub fn generator_for(model: StepModel) -> Result<Box<dyn Generator>, ModelError> {
    /// Builds the generator once the codec is known.
    struct Build(StepModel);
    impl CodecVisitor for Build {
        type Output = Box<dyn Generator>;
        fn visit<C: StepCodec + 'static>(self, codec: C) -> Box<dyn Generator> {
            Box::new(CodecGenerator::new(self.0, codec))
        }
    }
    let spec = model.info().encoding.clone();
    match spec {
        EncodingSpec::Polyphony(_) => Ok(Box::new(stream::StreamGenerator::new(
            model,
            codec::EventKind::Polyphony,
        ))),
        EncodingSpec::Performance(_) => Ok(Box::new(stream::StreamGenerator::new(
            model,
            codec::EventKind::Performance,
        ))),
        EncodingSpec::PianorollNade(_) => Ok(Box::new(nade::NadeModel::new(model)?)),
        _ => visit_codec(&spec, Build(model)).ok_or_else(|| {
            ModelError::Inference(format!("no generator for encoding {}", spec.name()))
        }),
    }
}

/// A model stepped through the codec of its encoding.
pub struct CodecGenerator<C> {
    /// The model.
    model: StepModel,
    /// Its encoding.
    codec: C,
    /// Reused buffers.
    buffers: beam::Buffers,
}

impl<C: StepCodec> CodecGenerator<C> {
    /// A generator over `model`, whose encoding `codec` implements.
    pub fn new(model: StepModel, codec: C) -> Self {
        Self {
            model,
            codec,
            buffers: beam::Buffers::default(),
        }
    }
}

impl<C: StepCodec> Generator for CodecGenerator<C> {
    fn info(&self) -> &ModelInfo {
        self.model.info()
    }

    fn generate(
        &mut self,
        request: &GenerateRequest<'_>,
        rng: &mut Rng,
        on_note: &mut dyn FnMut(GeneratedNote) -> StepControl,
    ) -> Result<GenerateStats, ModelError> {
        beam::generate(
            &self.codec,
            &mut self.model,
            request,
            rng,
            on_note,
            &mut self.buffers,
        )
        .map(|outcome| outcome.stats)
    }
}
