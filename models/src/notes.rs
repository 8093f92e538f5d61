//! Notes on the model grid.

/// A note placed on a model's step grid (16th notes for the metric families).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepNote {
    /// MIDI key number, 0..=127.
    pub pitch: u8,
    /// MIDI velocity, 1..=127.
    pub velocity: u8,
    /// Step at which the note starts.
    pub start_step: i64,
    /// Step at which the note ends; always greater than `start_step`.
    pub end_step: i64,
}

impl StepNote {
    /// A note from `start_step` to `end_step`; a note that would not end after its start lasts
    /// one step.
    pub fn new(pitch: u8, velocity: u8, start_step: i64, end_step: i64) -> Self {
        Self {
            pitch,
            velocity,
            start_step,
            end_step: end_step.max(start_step + 1),
        }
    }
}

/// Puts a time given in quarter notes on a grid of `steps_per_quarter` steps per quarter note,
/// rounding to the nearest step (halves round away from zero).
pub fn quarters_to_step(quarters: f64, steps_per_quarter: u32) -> i64 {
    (quarters * f64::from(steps_per_quarter)).round() as i64
}
