//! What the editor's piano roll shows: the last call and the answer the worker made for it, in
//! beats of the host timeline.
//!
//! The audio thread can't publish notes (it neither allocates nor locks), so the worker does:
//! after it generates an answer it writes a [`RollView`] into [`Shared::roll`], and the editor
//! copies it out on the GUI thread. The audio thread never touches it.
//!
//! [`Shared::roll`]: crate::shared::Shared::roll

use crate::phrase::Call;

/// One note of the roll, in beats.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RollNote {
    /// MIDI key.
    pub key: u8,
    /// Start, in beats.
    pub start_beats: f64,
    /// End, in beats; after `start_beats`.
    pub end_beats: f64,
}

/// The last call and its answer, in beats.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RollView {
    /// The call's notes (notes that were still down end where the call ended).
    pub call: Vec<RollNote>,
    /// The answer's notes, inside `answer_start_beats..answer_end_beats`.
    pub answer: Vec<RollNote>,
    /// Where the call's first note started.
    pub call_start_beats: f64,
    /// Where the call ended.
    pub call_end_beats: f64,
    /// Where the answer starts.
    pub answer_start_beats: f64,
    /// Where the answer ends.
    pub answer_end_beats: f64,
    /// The timeline epoch of these positions (see [`Shared::epoch`]); positions of another
    /// epoch don't compare with them.
    ///
    /// [`Shared::epoch`]: crate::shared::Shared::epoch
    pub epoch: u32,
    /// How many answers were published (0: nothing to show yet).
    pub serial: u64,
}

impl RollView {
    /// Replaces the view with `call` and its answer: `notes` are (key, start, end) in beats,
    /// kept to the answer window `answer_start_beats..answer_end_beats` (a note reaching past
    /// it is cut at its end; one outside it is left out). Reuses the note buffers.
    pub fn set(
        &mut self,
        call: &Call,
        answer_start_beats: f64,
        answer_end_beats: f64,
        epoch: u32,
        notes: impl Iterator<Item = (u8, f64, f64)>,
    ) {
        self.call.clear();
        self.call.extend(call.notes.iter().map(|n| RollNote {
            key: n.key,
            start_beats: n.start_beats,
            end_beats: n.end_beats.unwrap_or(call.end_beats).max(n.start_beats),
        }));
        self.answer.clear();
        self.answer
            .extend(notes.filter_map(|(key, start_beats, end_beats)| {
                let end_beats = end_beats.min(answer_end_beats);
                (start_beats >= answer_start_beats && start_beats < end_beats).then_some(RollNote {
                    key,
                    start_beats,
                    end_beats,
                })
            }));
        self.call_start_beats = call.start_beats;
        self.call_end_beats = call.end_beats;
        self.answer_start_beats = answer_start_beats;
        self.answer_end_beats = answer_end_beats;
        self.epoch = epoch;
        self.serial += 1;
    }

    /// Whether an answer was published.
    pub fn is_empty(&self) -> bool {
        self.serial == 0
    }

    /// The stretch of time to draw: from the bar line at or before the call's start to the bar
    /// line at or after the answer's end (bars of `bar_len_beats` from `bar_origin_beats`).
    /// `None` before the first answer.
    pub fn time_span_beats(&self, bar_origin_beats: f64, bar_len_beats: f64) -> Option<(f64, f64)> {
        if self.is_empty() {
            return None;
        }
        let bar = bar_len_beats.max(f64::EPSILON);
        let first = self.call_start_beats.min(self.answer_start_beats);
        let last = self.answer_end_beats.max(self.call_end_beats);
        let start = bar_origin_beats + ((first - bar_origin_beats) / bar).floor() * bar;
        let end = bar_origin_beats + ((last - bar_origin_beats) / bar).ceil() * bar;
        Some((start, end.max(start + bar)))
    }

    /// The keys to draw, lowest and highest (inclusive): every note's key with two keys of room
    /// on each side, at least `min_keys` keys in all, within 0..=127. `None` without notes.
    pub fn key_span(&self, min_keys: u8) -> Option<(u8, u8)> {
        let keys = self.call.iter().chain(&self.answer).map(|n| n.key);
        let low = keys.clone().min()?;
        let high = keys.max()?;
        let mut low = i32::from(low) - 2;
        let mut high = i32::from(high) + 2;
        let missing = i32::from(min_keys) - (high - low + 1);
        if missing > 0 {
            low -= missing / 2;
            high += missing - missing / 2;
        }
        if low < 0 {
            high -= low;
            low = 0;
        }
        if high > 127 {
            low = (low - (high - 127)).max(0);
            high = 127;
        }
        // PANIC: both are clamped to 0..=127 above.
        Some((u8::try_from(low).unwrap(), u8::try_from(high).unwrap()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phrase::CallNote;

    /// A call note on channel 0 at velocity 100.
    fn call_note(key: u8, start_beats: f64, end_beats: Option<f64>) -> CallNote {
        CallNote {
            key,
            velocity: 100,
            channel: 0,
            start_beats,
            end_beats,
        }
    }

    /// A call of two notes at beats 4 and 5, the second still down when the call ended at 6.5.
    fn call() -> Call {
        Call {
            notes: vec![call_note(60, 4.0, Some(4.5)), call_note(64, 5.0, None)],
            start_beats: 4.0,
            end_beats: 6.5,
        }
    }

    #[test]
    fn given_a_call_with_a_held_note_when_set_then_the_held_note_ends_with_the_call() {
        let mut view = RollView::default();
        view.set(&call(), 8.0, 12.0, 3, std::iter::empty());
        assert_eq!(
            view.call,
            vec![
                RollNote {
                    key: 60,
                    start_beats: 4.0,
                    end_beats: 4.5
                },
                RollNote {
                    key: 64,
                    start_beats: 5.0,
                    end_beats: 6.5
                },
            ]
        );
        assert_eq!((view.call_start_beats, view.call_end_beats), (4.0, 6.5));
        assert_eq!((view.epoch, view.serial), (3, 1));
        assert!(!view.is_empty());
    }

    #[test]
    fn given_answer_notes_past_the_window_when_set_then_they_are_cut_or_left_out() {
        let mut view = RollView::default();
        let notes = [
            (67, 8.0, 8.5),   // inside
            (69, 11.5, 13.0), // reaches past the end: cut at 12
            (71, 12.0, 12.5), // starts at the end: left out
            (72, 7.5, 8.5),   // starts before the window: left out
        ];
        view.set(&call(), 8.0, 12.0, 0, notes.into_iter());
        assert_eq!(
            view.answer,
            vec![
                RollNote {
                    key: 67,
                    start_beats: 8.0,
                    end_beats: 8.5
                },
                RollNote {
                    key: 69,
                    start_beats: 11.5,
                    end_beats: 12.0
                },
            ]
        );
    }

    #[test]
    fn given_a_view_when_set_again_then_the_old_notes_are_replaced() {
        let mut view = RollView::default();
        view.set(&call(), 8.0, 12.0, 0, [(67, 8.0, 9.0)].into_iter());
        view.set(&call(), 16.0, 20.0, 1, [(70, 16.0, 17.0)].into_iter());
        assert_eq!(view.answer.len(), 1);
        assert_eq!(view.answer[0].key, 70);
        assert_eq!(view.call.len(), 2);
        assert_eq!((view.serial, view.epoch), (2, 1));
    }

    #[test]
    fn given_nothing_published_when_asked_for_spans_then_there_are_none() {
        let view = RollView::default();
        assert!(view.is_empty());
        assert_eq!(view.time_span_beats(0.0, 4.0), None);
        assert_eq!(view.key_span(12), None);
    }

    #[test]
    fn given_a_call_and_answer_when_asked_for_the_time_span_then_it_runs_bar_line_to_bar_line() {
        let mut view = RollView::default();
        view.set(&call(), 8.0, 12.0, 0, std::iter::empty());
        assert_eq!(view.time_span_beats(0.0, 4.0), Some((4.0, 12.0)));
        // Bars of 3 beats from beat 1: bar lines at 1, 4, 7, 10, 13.
        assert_eq!(view.time_span_beats(1.0, 3.0), Some((4.0, 13.0)));
    }

    #[test]
    fn given_close_keys_when_asked_for_the_key_span_then_it_is_widened_to_the_minimum() {
        let mut view = RollView::default();
        view.set(&call(), 8.0, 12.0, 0, [(62, 8.0, 9.0)].into_iter());
        // Keys 60..=64 with room: 58..=66 (9 keys), widened to 24.
        let (low, high) = view.key_span(24).unwrap();
        assert_eq!(high - low + 1, 24);
        assert!(low <= 58 && high >= 66, "{low}..={high}");
        // Already wide enough: just the room.
        assert_eq!(view.key_span(5), Some((58, 66)));
    }

    #[test]
    fn given_keys_at_the_edges_when_asked_for_the_key_span_then_it_stays_in_midi_range() {
        let mut view = RollView::default();
        let call = Call {
            notes: vec![call_note(1, 0.0, Some(1.0)), call_note(126, 1.0, Some(2.0))],
            start_beats: 0.0,
            end_beats: 3.0,
        };
        view.set(&call, 4.0, 8.0, 0, std::iter::empty());
        assert_eq!(view.key_span(12), Some((0, 127)));
        let low_only = Call {
            notes: vec![call_note(0, 0.0, Some(1.0))],
            ..call
        };
        view.set(&low_only, 4.0, 8.0, 0, std::iter::empty());
        assert_eq!(view.key_span(12), Some((0, 11)));
    }
}
