//! Planning an answer: which bars of the call become the model's primer, where the answer starts
//! and how long it lasts.
//!
//! The primer is the call on the model's grid, from the bar line at or before its first note to
//! the bar line at or after its last note's end, so its metric position is kept. The answer
//! starts on the first bar line at or after the call's end and, to the model, directly follows
//! the primer (the silence that ended the call is not fed to it). Its length is the call's length
//! (first note to last note end) rounded up to whole bars, or a fixed number of bars.

use antiphon_models::StepNote;

use crate::clock::BarGrid;
use crate::phrase::Call;

/// The longest answer, in bars.
pub const MAX_ANSWER_BARS: u32 = 16;

/// Where and how long to answer, and what to prime the model with.
#[derive(Debug, Clone, PartialEq)]
pub struct AnswerPlan {
    /// The call's notes in steps from `primer_start_beats`.
    pub primer: Vec<StepNote>,
    /// Where the primer window starts (a bar line).
    pub primer_start_beats: f64,
    /// Length of the primer window in steps (whole bars).
    pub primer_steps: usize,
    /// Where the answer starts (a bar line at or after the call's end).
    pub answer_start_beats: f64,
    /// Length of the answer in steps (whole bars).
    pub answer_steps: usize,
    /// Where the answer ends.
    pub answer_end_beats: f64,
    /// Length of one step in beats.
    pub step_beats: f64,
    /// Velocity for answer notes: the call's mean velocity.
    pub velocity: u8,
}

impl AnswerPlan {
    /// The beat position of answer step `step`.
    pub fn answer_step_beats(&self, step: i64) -> f64 {
        self.answer_start_beats + step as f64 * self.step_beats
    }
}

/// Where an answer starts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AnswerStart {
    /// On the first bar line at or after the call's end; the primer ends on the bar line at or
    /// after the call's last note.
    NextBar,
    /// On the first beat at or after the call's end; the primer ends on the beat at or after
    /// the call's last note.
    NextBeat,
    /// At a given place (Trade's turn, Accompany's bar, a mutation or continuation), with the
    /// primer window ending where the model should take the answer to begin.
    At {
        /// Where the answer starts.
        answer_beats: f64,
        /// Where the primer window ends (the answer follows it directly, to the model);
        /// `None`: the bar line at or after the call's last note.
        primer_end_beats: Option<f64>,
    },
}

/// Plans the answer to `call`. `answer_bars` is the fixed answer length (0: as long as the call,
/// at most `max_call_bars`). Returns `None` for a call without notes.
pub fn plan_answer(
    call: &Call,
    grid: BarGrid,
    steps_per_quarter: u32,
    answer_bars: u32,
    max_call_bars: u32,
) -> Option<AnswerPlan> {
    plan_answer_from(
        call,
        grid,
        steps_per_quarter,
        answer_bars,
        max_call_bars,
        AnswerStart::NextBar,
    )
}

/// [`plan_answer`] with the answer starting where `start` says.
pub fn plan_answer_from(
    call: &Call,
    grid: BarGrid,
    steps_per_quarter: u32,
    answer_bars: u32,
    max_call_bars: u32,
    start: AnswerStart,
) -> Option<AnswerPlan> {
    if call.notes.is_empty() || grid.bar_len_beats <= 0.0 || steps_per_quarter == 0 {
        return None;
    }
    let step_beats = 1.0 / f64::from(steps_per_quarter);
    let quantise =
        |b: f64| grid.origin_beats + ((b - grid.origin_beats) / step_beats).round() * step_beats;
    let first_start = call
        .notes
        .iter()
        .map(|n| quantise(n.start_beats))
        .fold(f64::INFINITY, f64::min);
    let last_end = call
        .notes
        .iter()
        .map(|n| quantise(n.end_beats.unwrap_or(call.end_beats).min(call.end_beats)))
        .fold(f64::NEG_INFINITY, f64::max)
        .max(first_start + step_beats);
    let bar = grid.bar_len_beats;
    let call_bars = (((last_end - first_start) / bar) - 1e-6).ceil().max(1.0) as u32;
    let call_bars = call_bars.min(max_call_bars.max(1));
    let bars = if answer_bars == 0 {
        call_bars
    } else {
        answer_bars
    }
    .clamp(1, MAX_ANSWER_BARS);

    let primer_start = grid.bar_at_or_before(first_start);
    let (primer_end, answer_start) = match start {
        AnswerStart::NextBar => (
            grid.bar_at_or_after(last_end).max(primer_start + bar),
            grid.bar_at_or_after(call.end_beats),
        ),
        AnswerStart::NextBeat => (
            grid.beat_at_or_after(last_end).max(primer_start + 1.0),
            grid.beat_at_or_after(call.end_beats),
        ),
        AnswerStart::At {
            answer_beats,
            primer_end_beats,
        } => (
            primer_end_beats
                .unwrap_or_else(|| grid.bar_at_or_after(last_end))
                .max(primer_start + step_beats),
            answer_beats,
        ),
    };
    let to_step = |b: f64| ((b - primer_start) / step_beats).round() as i64;
    let primer_steps = to_step(primer_end).max(1) as usize;
    let primer = call
        .notes
        .iter()
        .map(|n| {
            let start = to_step(n.start_beats);
            let end = to_step(n.end_beats.unwrap_or(call.end_beats)).min(primer_steps as i64);
            StepNote::new(n.key, n.velocity, start, end)
        })
        .filter(|n| n.start_step >= 0 && n.start_step < primer_steps as i64)
        .collect();
    let velocity_sum: u32 = call.notes.iter().map(|n| u32::from(n.velocity)).sum();
    let velocity = (velocity_sum / call.notes.len() as u32).clamp(1, 127) as u8;

    let answer_len = f64::from(bars) * bar;
    Some(AnswerPlan {
        primer,
        primer_start_beats: primer_start,
        primer_steps,
        answer_start_beats: answer_start,
        answer_steps: (answer_len / step_beats).round() as usize,
        answer_end_beats: answer_start + answer_len,
        step_beats,
        velocity,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phrase::CallNote;

    const GRID: BarGrid = BarGrid {
        origin_beats: 0.0,
        bar_len_beats: 4.0,
    };

    fn call(notes: &[(u8, f64, f64)], end: f64) -> Call {
        Call {
            notes: notes
                .iter()
                .map(|&(key, s, e)| CallNote {
                    key,
                    velocity: 100,
                    channel: 0,
                    start_beats: s,
                    end_beats: Some(e),
                })
                .collect(),
            start_beats: notes[0].1,
            end_beats: end,
        }
    }

    #[test]
    fn given_a_one_bar_call_when_planned_then_the_answer_is_one_bar_from_the_next_bar_line() {
        let c = call(
            &[
                (60, 4.0, 4.5),
                (62, 5.0, 5.5),
                (64, 6.0, 6.5),
                (65, 7.0, 7.5),
            ],
            8.5,
        );
        let plan = plan_answer(&c, GRID, 4, 0, 8).unwrap();
        assert_eq!(plan.answer_start_beats, 12.0);
        assert_eq!(plan.answer_end_beats, 16.0);
        assert_eq!(plan.answer_steps, 16);
        assert_eq!(plan.primer_start_beats, 4.0);
        assert_eq!(plan.primer_steps, 16);
        assert_eq!(plan.primer[0], StepNote::new(60, 100, 0, 2));
        assert_eq!(plan.primer[3], StepNote::new(65, 100, 12, 14));
        assert_eq!(plan.velocity, 100);
    }

    #[test]
    fn given_a_call_with_a_pickup_when_planned_then_the_primer_keeps_its_place_in_the_bar() {
        let c = call(&[(60, 2.0, 3.0), (62, 3.0, 6.0)], 7.0);
        let plan = plan_answer(&c, GRID, 4, 0, 8).unwrap();
        assert_eq!(plan.primer_start_beats, 0.0);
        assert_eq!(plan.primer_steps, 32);
        assert_eq!(plan.primer[0].start_step, 8);
        assert_eq!(plan.answer_start_beats, 8.0);
        assert_eq!(
            plan.answer_steps, 16,
            "four beats of call → one bar of answer"
        );
    }

    #[test]
    fn given_a_slightly_late_last_release_when_planned_then_it_still_rounds_to_one_bar() {
        let c = call(&[(60, 0.0, 1.0), (62, 3.0, 4.04)], 5.04);
        assert_eq!(plan_answer(&c, GRID, 4, 0, 8).unwrap().answer_steps, 16);
    }

    #[test]
    fn given_a_fixed_answer_length_when_planned_then_it_wins_over_the_call_length() {
        let c = call(&[(60, 0.0, 1.0)], 2.0);
        let plan = plan_answer(&c, GRID, 4, 3, 8).unwrap();
        assert_eq!(plan.answer_steps, 48);
        assert_eq!(plan.answer_start_beats, 4.0);
    }

    #[test]
    fn given_a_long_call_when_planned_then_the_answer_is_capped_at_the_maximum() {
        let c = call(&[(60, 0.0, 47.0)], 48.0);
        assert_eq!(plan_answer(&c, GRID, 4, 0, 8).unwrap().answer_steps, 8 * 16);
    }

    #[test]
    fn given_three_four_time_when_planned_then_bars_are_twelve_steps() {
        let grid = BarGrid {
            origin_beats: 0.0,
            bar_len_beats: 3.0,
        };
        let c = call(&[(60, 3.0, 4.0), (62, 4.0, 5.5)], 6.5);
        let plan = plan_answer(&c, grid, 4, 0, 8).unwrap();
        assert_eq!(plan.answer_start_beats, 9.0);
        assert_eq!(plan.answer_steps, 12);
        assert_eq!(plan.primer_steps, 12);
    }

    #[test]
    fn given_answers_on_the_beat_when_planned_then_primer_and_answer_end_and_start_on_beats() {
        let c = call(&[(60, 4.0, 5.0), (62, 5.0, 5.75)], 6.75);
        let plan = plan_answer_from(&c, GRID, 4, 0, 8, AnswerStart::NextBeat).unwrap();
        assert_eq!(plan.answer_start_beats, 7.0);
        assert_eq!(plan.primer_start_beats, 4.0);
        assert_eq!(plan.primer_steps, 8, "4..6: the beat after the last note");
        assert_eq!(plan.answer_steps, 16);
    }

    #[test]
    fn given_a_place_to_start_when_planned_then_the_answer_is_there_after_the_primer_window() {
        let c = call(&[(60, 0.5, 1.0), (62, 6.0, 7.75)], 7.75);
        let at = AnswerStart::At {
            answer_beats: 8.0,
            primer_end_beats: Some(8.0),
        };
        let plan = plan_answer_from(&c, GRID, 4, 2, 8, at).unwrap();
        assert_eq!((plan.primer_start_beats, plan.primer_steps), (0.0, 32));
        assert_eq!(
            (plan.answer_start_beats, plan.answer_end_beats),
            (8.0, 16.0)
        );
    }

    #[test]
    fn given_a_call_ending_exactly_on_a_bar_line_when_planned_then_the_answer_starts_there() {
        let c = call(&[(60, 0.0, 3.0)], 4.0);
        assert_eq!(
            plan_answer(&c, GRID, 4, 0, 8).unwrap().answer_start_beats,
            4.0
        );
    }
}
