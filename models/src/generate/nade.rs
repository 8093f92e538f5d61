//! Generation for Pianoroll RNN-NADE models: the primer's frames (after an empty start frame) go
//! through the model in one call; then each frame is drawn key by key from the NADE
//! ([`crate::encoding::pianoroll`]) and fed back. Notes (a key held over consecutive frames) are
//! handed out as soon as they end. The pitch mask keeps refused keys off; `threshold` in the
//! request picks Magenta's 0.5 threshold instead of temperature sampling.

use std::time::Instant;

use crate::contract::{ModelInfo, NADE_WEIGHTS};
use crate::encoding::EncodingSpec;
use crate::encoding::pianoroll::{Frame, FrameDecoder, KeySampling, NadeSpec, NadeWeights};
use crate::error::ModelError;
use crate::notes::StepNote;
use crate::sampling::Rng;
use crate::session::{RnnState, StepModel};

use super::beam::{Stepper, hand_out};
use super::{GenerateRequest, GenerateStats, GeneratedNote, Generator, StepControl};

/// A Pianoroll RNN-NADE model and its NADE weights.
pub struct NadeModel<M> {
    /// The recurrent part.
    model: M,
    /// The encoding.
    spec: NadeSpec,
    /// The NADE's weights.
    weights: NadeWeights,
    /// Input rows.
    inputs: Vec<f32>,
    /// Biases of the last call.
    biases: Vec<f32>,
    /// NADE activations.
    activations: Vec<f64>,
}

/// The encoding and NADE weights of a loaded `pianoroll_nade` model (read from its graph).
pub fn nade_of(model: &mut StepModel) -> Result<(NadeSpec, NadeWeights), ModelError> {
    let EncodingSpec::PianorollNade(spec) = model.info().encoding else {
        return Err(ModelError::Inference(format!(
            "{} is not a pianoroll_nade model",
            model.info().name
        )));
    };
    let (dims, values) = model.constant_output(NADE_WEIGHTS)?;
    let weights = NadeWeights::from_tensor(&spec, &dims, &values).map_err(|message| {
        ModelError::Contract {
            model: model.info().name.clone(),
            message,
        }
    })?;
    Ok((spec, weights))
}

impl NadeModel<StepModel> {
    /// The NADE model of a loaded `pianoroll_nade` model.
    pub fn new(mut model: StepModel) -> Result<Self, ModelError> {
        let (spec, weights) = nade_of(&mut model)?;
        Ok(Self::with_weights(model, spec, weights))
    }
}

impl<M: Stepper> NadeModel<M> {
    /// A NADE model over a recurrent `model` with `weights`.
    pub fn with_weights(model: M, spec: NadeSpec, weights: NadeWeights) -> Self {
        Self {
            model,
            spec,
            weights,
            inputs: Vec::new(),
            biases: Vec::new(),
            activations: Vec::new(),
        }
    }

    /// Runs `frames` from the zero state after the empty start frame. Returns the state and
    /// leaves in `self.biases` the biases of the frame after each input (`1 + frames.len()`
    /// rows).
    fn run_from_start(&mut self, frames: &[Frame]) -> Result<RnnState, ModelError> {
        let keys = self.spec.num_keys as usize;
        self.inputs.clear();
        self.inputs.resize((1 + frames.len()) * keys, 0.0);
        for (row, &frame) in self.inputs.chunks_mut(keys).skip(1).zip(frames) {
            self.spec.write_input(frame, row);
        }
        let mut state = self.model.zero_state(1);
        self.model
            .run(&self.inputs, 1 + frames.len(), &mut state, &mut self.biases)?;
        Ok(state)
    }

    /// Scores `frames` in one model call (from the zero state, after the empty start frame):
    /// `ln P` of each frame, and whether the 0.5-threshold draw gets it exactly right given the
    /// true frames before it.
    pub fn score(&mut self, frames: &[Frame]) -> Result<Vec<(f64, bool)>, ModelError> {
        if frames.is_empty() {
            return Ok(Vec::new());
        }
        self.run_from_start(&frames[..frames.len() - 1])?;
        let width = self.spec.bias_width();
        let mut rng = Rng::seeded(0);
        Ok(frames
            .iter()
            .zip(self.biases.chunks(width))
            .map(|(&f, b)| {
                let log_p = self.weights.log_prob(b, f, &mut self.activations);
                let guess = self.weights.sample(
                    b,
                    KeySampling::Threshold,
                    |_| true,
                    &mut rng,
                    &mut self.activations,
                );
                (log_p, guess == f)
            })
            .collect())
    }

    /// The frames of a primer: its notes cut to `primer_steps` frames.
    fn primer_frames(&self, primer: &[StepNote], primer_steps: usize) -> Vec<Frame> {
        let mut frames = self.spec.notes_to_frames(primer);
        frames.resize(primer_steps, 0);
        frames
    }

    /// Generates after the primer (see the module doc).
    fn generate_frames(
        &mut self,
        request: &GenerateRequest<'_>,
        rng: &mut Rng,
        on_note: &mut dyn FnMut(GeneratedNote) -> StepControl,
    ) -> Result<GenerateStats, ModelError> {
        let mut stats = GenerateStats::default();
        let frames = self.primer_frames(request.primer, request.primer_steps);
        let started = Instant::now();
        let mut state = self.run_from_start(&frames)?;
        stats.primer_us = started.elapsed().as_micros() as u64;
        let width = self.spec.bias_width();
        let last = self.biases.len() - width;
        self.biases.drain(..last);
        let sampling = if request.threshold {
            KeySampling::Threshold
        } else {
            KeySampling::Temperature(request.temperature)
        };
        let spec = self.spec;
        let mask = request.mask;
        let mut decoder = FrameDecoder::new(spec, request.velocity);
        let mut notes = Vec::new();
        let keys = spec.num_keys as usize;
        for step in 0..request.steps {
            let started = Instant::now();
            let frame = self.weights.sample_biased(
                &self.biases,
                sampling,
                |key| mask.allows(spec.pitch_of(key)),
                f64::from(request.density_nats),
                rng,
                &mut self.activations,
            );
            decoder.push(step as i64, frame, &mut notes);
            if step + 1 < request.steps {
                self.inputs.resize(keys, 0.0);
                spec.write_input(frame, &mut self.inputs);
                self.model
                    .run(&self.inputs, 1, &mut state, &mut self.biases)?;
            }
            stats.steps = step + 1;
            stats.steps_us += started.elapsed().as_micros() as u64;
            if hand_out(&mut notes, &mut stats, on_note) {
                return Ok(stats);
            }
        }
        decoder.finish(request.steps as i64, &mut notes);
        notes.sort_by_key(|n| (n.start_step, std::cmp::Reverse(n.pitch)));
        hand_out(&mut notes, &mut stats, on_note);
        Ok(stats)
    }
}

impl Generator for NadeModel<StepModel> {
    fn info(&self) -> &ModelInfo {
        self.model.info()
    }

    fn generate(
        &mut self,
        request: &GenerateRequest<'_>,
        rng: &mut Rng,
        on_note: &mut dyn FnMut(GeneratedNote) -> StepControl,
    ) -> Result<GenerateStats, ModelError> {
        self.generate_frames(request, rng, on_note)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::PitchMask;
    use crate::generate::beam::RowModel;

    const SPEC: NadeSpec = NadeSpec {
        min_pitch: 60,
        num_keys: 3,
        nade_hidden: 1,
        steps_per_quarter: 1,
    };

    /// Biases that make key k on exactly when it was off in the input frame (a strong
    /// alternation), NADE weights zero.
    fn alternating() -> NadeModel<RowModel<impl Fn(&[f32]) -> Vec<f32>>> {
        let model = RowModel::new(3, |row: &[f32]| {
            let mut biases = vec![0.0];
            biases.extend(row.iter().map(|&v| if v > 0.5 { -20.0 } else { 20.0 }));
            biases
        });
        let weights = NadeWeights::from_tensor(&SPEC, &[2, 3, 1], &[0.0; 6]).unwrap();
        NadeModel::with_weights(model, SPEC, weights)
    }

    #[test]
    fn given_a_model_that_alternates_when_generating_then_frames_flip_and_notes_follow() {
        let mut nade = alternating();
        // Given a primer holding key 0 (C4) in its one frame
        let primer = [StepNote::new(60, 100, 0, 1)];
        let mut request = GenerateRequest::new(&primer, 1, 4);
        request.velocity = 70;
        let mut notes = Vec::new();
        // When 4 frames are generated
        let stats = nade
            .generate_frames(&request, &mut Rng::seeded(3), &mut |n| {
                notes.push(n);
                StepControl::Continue
            })
            .unwrap();
        // Then the frames alternate between keys {1, 2} and key {0}
        assert_eq!(stats.steps, 4);
        notes.sort_by_key(|n| (n.start_step, n.pitch));
        assert_eq!(
            notes,
            vec![
                StepNote::new(61, 70, 0, 1),
                StepNote::new(62, 70, 0, 1),
                StepNote::new(60, 70, 1, 2),
                StepNote::new(61, 70, 2, 3),
                StepNote::new(62, 70, 2, 3),
                StepNote::new(60, 70, 3, 4),
            ]
        );
    }

    #[test]
    fn given_a_mask_when_generating_then_refused_keys_stay_off() {
        let mut nade = alternating();
        let mut request = GenerateRequest::new(&[], 1, 3);
        request.mask = PitchMask::range(60, 61);
        request.threshold = true;
        let mut notes = Vec::new();
        nade.generate_frames(&request, &mut Rng::seeded(3), &mut |n| {
            notes.push(n);
            StepControl::Continue
        })
        .unwrap();
        assert!(!notes.is_empty());
        assert!(notes.iter().all(|n| n.pitch <= 61), "{notes:?}");
    }

    #[test]
    fn given_frames_when_scored_then_each_gets_the_nade_probability_after_the_one_before() {
        let mut nade = alternating();
        // After the empty start frame every key is on; after {all} every key is off.
        let scores = nade.score(&[0b111, 0b000, 0b001]).unwrap();
        let lp: Vec<f64> = scores.iter().map(|s| s.0).collect();
        // The threshold draw after the start frame is all keys, then none, then all again.
        assert_eq!(
            scores.iter().map(|s| s.1).collect::<Vec<_>>(),
            [true, true, false]
        );
        assert!(lp[0] > -1e-6 && lp[1] > -1e-6, "{lp:?}");
        assert!(lp[2] < -19.0, "{lp:?}");
    }
}
