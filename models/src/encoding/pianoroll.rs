//! Magenta's Pianoroll RNN-NADE (`pianoroll_nade`): binary key frames, and the NADE that gives
//! the probability of a whole frame key by key.
//!
//! - **Frames.** `num_keys` keys from `min_pitch` (88 from A0 = 21 for the piano); a frame is the
//!   set of keys sounding during one step ([`Frame`], bit `k` = key `k`). A note sounds in the
//!   frames `start..max(end, start + 1)`; a key present in consecutive frames is one held note.
//! - **Input row.** The frame as 0/1 per key (`num_keys` wide). Every sequence starts with an
//!   empty frame, so the model predicts the first real frame too.
//! - **Output.** The model's `logits` row is the NADE's biases for the next frame: `b_enc`
//!   (`nade_hidden`) then `b_dec` (`num_keys`). The NADE's weights come from the graph's constant
//!   output `nade_weights` `[2, num_keys, nade_hidden]`: `W_enc` (row `k` = key `k`) and `W_dec`
//!   transposed (row `k` = key `k`'s decoder weights).
//! - **NADE.** Keys go low to high: `a = b_enc`; for key `k`: `h = sigmoid(a)`,
//!   `P(key k on | keys below) = sigmoid(b_dec[k] + W_dec[k] · h)`, then `a += W_enc[k]` when
//!   key `k` is on.

use serde::{Deserialize, Serialize};

use crate::notes::StepNote;
use crate::sampling::Rng;

/// The keys sounding in one frame: bit `k` is key `k` (so at most 128 keys).
pub type Frame = u128;

/// Parameters of the `pianoroll_nade` encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NadeSpec {
    /// MIDI pitch of key 0 (21 for an 88-key piano).
    pub min_pitch: u8,
    /// Number of keys (88).
    pub num_keys: u32,
    /// Hidden units of the NADE.
    pub nade_hidden: u32,
    /// Frames per quarter note.
    pub steps_per_quarter: u32,
}

impl NadeSpec {
    /// Width of the model's output row: encoder biases then decoder biases.
    pub fn bias_width(&self) -> usize {
        (self.nade_hidden + self.num_keys) as usize
    }

    /// Checks the parameters.
    pub fn validate(&self) -> Result<(), String> {
        if self.num_keys == 0 || u32::from(self.min_pitch) + self.num_keys > 128 {
            return Err(format!(
                "keys {}..{} do not fit MIDI pitches 0..128",
                self.min_pitch,
                u32::from(self.min_pitch) + self.num_keys
            ));
        }
        if self.nade_hidden == 0 || self.steps_per_quarter == 0 {
            return Err("nade_hidden and steps_per_quarter must be positive".into());
        }
        Ok(())
    }

    /// The key of a MIDI pitch, if the model has it.
    pub fn key_of(&self, pitch: u8) -> Option<usize> {
        let key = usize::from(pitch.checked_sub(self.min_pitch)?);
        (key < self.num_keys as usize).then_some(key)
    }

    /// The MIDI pitch of key `key`.
    pub fn pitch_of(&self, key: usize) -> u8 {
        self.min_pitch + key as u8
    }

    /// The frames of notes from step 0 (pitches outside the keys are dropped); as many frames as
    /// the last note's end.
    pub fn notes_to_frames(&self, notes: &[StepNote]) -> Vec<Frame> {
        let len = notes
            .iter()
            .filter(|n| n.start_step >= 0)
            .map(|n| n.end_step.max(n.start_step + 1))
            .max()
            .unwrap_or(0);
        let mut frames = vec![0; len.max(0) as usize];
        for n in notes.iter().filter(|n| n.start_step >= 0) {
            let Some(key) = self.key_of(n.pitch) else {
                continue;
            };
            let end = n.end_step.max(n.start_step + 1) as usize;
            for frame in &mut frames[n.start_step as usize..end] {
                *frame |= 1 << key;
            }
        }
        frames
    }

    /// Writes the input row of `frame` (0/1 per key).
    pub fn write_input(&self, frame: Frame, row: &mut [f32]) {
        for (key, value) in row.iter_mut().enumerate() {
            *value = if key < 128 && frame >> key & 1 == 1 {
                1.0
            } else {
                0.0
            };
        }
    }
}

/// Turns frames into notes as they come: a key in consecutive frames is one held note.
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    /// The encoding.
    spec: NadeSpec,
    /// Start step of the open note of each key.
    open: Vec<Option<i64>>,
    /// Velocity of the notes.
    velocity: u8,
}

impl FrameDecoder {
    /// Nothing sounding; notes get `velocity`.
    pub fn new(spec: NadeSpec, velocity: u8) -> Self {
        Self {
            spec,
            open: vec![None; spec.num_keys as usize],
            velocity,
        }
    }

    /// Takes the frame of `step` and appends the notes it ends to `notes`.
    pub fn push(&mut self, step: i64, frame: Frame, notes: &mut Vec<StepNote>) {
        for (key, slot) in self.open.iter_mut().enumerate() {
            let on = frame >> key & 1 == 1;
            match (*slot, on) {
                (Some(start), false) => {
                    notes.push(StepNote::new(
                        self.spec.pitch_of(key),
                        self.velocity,
                        start,
                        step,
                    ));
                    *slot = None;
                }
                (None, true) => *slot = Some(step),
                _ => {}
            }
        }
    }

    /// Ends every open note at `end_step`.
    pub fn finish(&mut self, end_step: i64, notes: &mut Vec<StepNote>) {
        self.push(end_step, 0, notes);
    }
}

/// How a frame is drawn from the NADE.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum KeySampling {
    /// Each key from its probability sharpened or flattened by a temperature (1 = the model's
    /// own): `P = sigmoid(logit / t)`.
    Temperature(f32),
    /// Magenta's choice: a key is on when its probability is at least 0.5 (no randomness).
    Threshold,
}

/// The NADE's shared weights.
#[derive(Debug, Clone, PartialEq)]
pub struct NadeWeights {
    /// Number of keys.
    keys: usize,
    /// Hidden units.
    hidden: usize,
    /// `W_enc`, `keys × hidden`, row-major.
    enc: Vec<f32>,
    /// `W_dec` transposed, `keys × hidden`, row-major.
    dec: Vec<f32>,
}

impl NadeWeights {
    /// The weights of the `nade_weights` tensor (`[2, keys, hidden]`), checked against `spec`.
    pub fn from_tensor(spec: &NadeSpec, dims: &[i64], values: &[f32]) -> Result<Self, String> {
        let (keys, hidden) = (spec.num_keys as usize, spec.nade_hidden as usize);
        if dims != [2, keys as i64, hidden as i64] || values.len() != 2 * keys * hidden {
            return Err(format!(
                "`nade_weights` must have shape [2, {keys}, {hidden}], found {dims:?}"
            ));
        }
        let (enc, dec) = values.split_at(keys * hidden);
        Ok(Self {
            keys,
            hidden,
            enc: enc.to_vec(),
            dec: dec.to_vec(),
        })
    }

    /// Runs the NADE over the keys with `biases` (`b_enc` then `b_dec`); `choose(key, logit)`
    /// says whether the key is on. Returns the frame.
    fn walk(
        &self,
        biases: &[f32],
        activations: &mut Vec<f64>,
        mut choose: impl FnMut(usize, f64) -> bool,
    ) -> Frame {
        let (b_enc, b_dec) = biases.split_at(self.hidden);
        activations.clear();
        activations.extend(b_enc.iter().map(|&b| f64::from(b)));
        let mut frame: Frame = 0;
        for (key, &bias) in b_dec.iter().enumerate().take(self.keys) {
            let row = key * self.hidden;
            let dec = &self.dec[row..row + self.hidden];
            let logit = f64::from(bias)
                + activations
                    .iter()
                    .zip(dec)
                    .map(|(&a, &w)| sigmoid(a) * f64::from(w))
                    .sum::<f64>();
            if choose(key, logit) {
                frame |= 1 << key;
                let enc = &self.enc[row..row + self.hidden];
                for (a, &w) in activations.iter_mut().zip(enc) {
                    *a += f64::from(w);
                }
            }
        }
        frame
    }

    /// `ln P(frame)` under `biases`.
    pub fn log_prob(&self, biases: &[f32], frame: Frame, activations: &mut Vec<f64>) -> f64 {
        let mut total = 0.0;
        self.walk(biases, activations, |key, logit| {
            let on = frame >> key & 1 == 1;
            total += log_sigmoid(if on { logit } else { -logit });
            on
        });
        total
    }

    /// Draws a frame under `biases`; keys `allowed` refuses stay off.
    pub fn sample(
        &self,
        biases: &[f32],
        sampling: KeySampling,
        allowed: impl Fn(usize) -> bool,
        rng: &mut Rng,
        activations: &mut Vec<f64>,
    ) -> Frame {
        self.sample_biased(biases, sampling, allowed, 0.0, rng, activations)
    }

    /// [`NadeWeights::sample`] with `density_nats` added to every key's log-odds of sounding
    /// (positive: fuller frames; negative: sparser).
    pub fn sample_biased(
        &self,
        biases: &[f32],
        sampling: KeySampling,
        allowed: impl Fn(usize) -> bool,
        density_nats: f64,
        rng: &mut Rng,
        activations: &mut Vec<f64>,
    ) -> Frame {
        self.walk(biases, activations, |key, logit| {
            if !allowed(key) {
                return false;
            }
            match sampling {
                KeySampling::Threshold => logit + density_nats >= 0.0,
                KeySampling::Temperature(t) => {
                    let t = f64::from(t.max(1e-3));
                    rng.next_f64() < sigmoid(logit / t + density_nats)
                }
            }
        })
    }
}

/// The logistic function.
fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// `ln sigmoid(x)`, stable for large `|x|`.
fn log_sigmoid(x: f64) -> f64 {
    -((-x).max(0.0) + (-x.abs()).exp().ln_1p())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: NadeSpec = NadeSpec {
        min_pitch: 60,
        num_keys: 3,
        nade_hidden: 2,
        steps_per_quarter: 1,
    };

    fn weights() -> NadeWeights {
        // W_enc rows (keys 0..3), then W_dec rows.
        let values = [
            0.5, -1.0, 2.0, 0.25, -0.5, 1.5, //
            1.0, 0.5, -2.0, 1.0, 0.75, -0.25,
        ];
        NadeWeights::from_tensor(&SPEC, &[2, 3, 2], &values).unwrap()
    }

    #[test]
    fn given_a_nade_when_every_frame_is_scored_then_the_probabilities_sum_to_one() {
        let w = weights();
        let biases = [0.3, -0.2, 0.1, -1.0, 0.4];
        let mut scratch = Vec::new();
        let total: f64 = (0..8u128)
            .map(|f| w.log_prob(&biases, f, &mut scratch).exp())
            .sum();
        assert!((total - 1.0).abs() < 1e-9, "{total}");
    }

    #[test]
    fn given_threshold_sampling_when_drawn_then_each_key_follows_its_conditional() {
        let w = weights();
        let biases = [0.3, -0.2, 0.1, -1.0, 0.4];
        let mut scratch = Vec::new();
        let mut rng = Rng::seeded(1);
        let frame = w.sample(
            &biases,
            KeySampling::Threshold,
            |_| true,
            &mut rng,
            &mut scratch,
        );
        // Key by key, the chosen value is the likelier one given the keys below.
        let mut below: Frame = 0;
        for key in 0..3 {
            let on = frame >> key & 1 == 1;
            let p_on = (0..8u128)
                .filter(|f| f & ((1 << key) - 1) == below && f >> key & 1 == 1)
                .map(|f| w.log_prob(&biases, f, &mut scratch).exp())
                .sum::<f64>();
            let p_prefix = (0..8u128)
                .filter(|f| f & ((1 << key) - 1) == below)
                .map(|f| w.log_prob(&biases, f, &mut scratch).exp())
                .sum::<f64>();
            assert_eq!(on, p_on / p_prefix >= 0.5, "key {key}");
            below |= u128::from(on) << key;
        }
        // And a refused key stays off.
        let masked = w.sample(
            &biases,
            KeySampling::Temperature(1.0),
            |k| k != 2,
            &mut rng,
            &mut scratch,
        );
        assert_eq!(masked >> 2 & 1, 0);
    }

    #[test]
    fn given_temperature_sampling_when_drawn_often_then_frequencies_follow_the_probabilities() {
        let w = weights();
        let biases = [0.3, -0.2, 0.1, -1.0, 0.4];
        let mut scratch = Vec::new();
        let mut rng = Rng::seeded(7);
        let mut counts = [0usize; 8];
        let n = 40_000;
        for _ in 0..n {
            let f = w.sample(
                &biases,
                KeySampling::Temperature(1.0),
                |_| true,
                &mut rng,
                &mut scratch,
            );
            counts[f as usize] += 1;
        }
        for (f, &c) in counts.iter().enumerate() {
            let p = w.log_prob(&biases, f as u128, &mut scratch).exp();
            assert!(
                (c as f64 / n as f64 - p).abs() < 0.01,
                "frame {f}: {c} vs {p}"
            );
        }
    }

    #[test]
    fn given_notes_when_framed_and_decoded_then_held_keys_come_back_as_one_note() {
        let notes = [
            StepNote::new(60, 100, 0, 2),
            StepNote::new(62, 100, 1, 1), // zero length: one frame
            StepNote::new(20, 100, 0, 3), // below the keys: dropped
        ];
        let frames = SPEC.notes_to_frames(&notes);
        assert_eq!(frames, vec![0b001, 0b101, 0]);
        let mut row = [9.0; 3];
        SPEC.write_input(frames[1], &mut row);
        assert_eq!(row, [1.0, 0.0, 1.0]);
        let mut decoder = FrameDecoder::new(SPEC, 90);
        let mut out = Vec::new();
        for (step, &f) in frames.iter().enumerate() {
            decoder.push(step as i64, f, &mut out);
        }
        decoder.finish(3, &mut out);
        out.sort_by_key(|n| (n.start_step, n.pitch));
        assert_eq!(
            out,
            vec![StepNote::new(60, 90, 0, 2), StepNote::new(62, 90, 1, 2)]
        );
        assert_eq!(
            NadeWeights::from_tensor(&SPEC, &[2, 2, 3], &[0.0; 12]).unwrap_err(),
            "`nade_weights` must have shape [2, 3, 2], found [2, 2, 3]"
        );
    }
}
