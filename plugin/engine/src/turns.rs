//! When the modes other than plain call and response play, as pure decisions over the bar grid
//! and the playhead: Trade's turns, Accompany's bars, and the repeats of a looped answer. The
//! worker asks each tick; each answers at most once per slot.

use crate::clock::BarGrid;

/// Antiphon's turn in Trade, and the player's turn before it that it answers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Turn {
    /// Where the player's turn began.
    pub player_start_beats: f64,
    /// Where the call is cut: the lead (a grid step, at least a 16th) before the player's turn
    /// ends. Notes after it are not heard in this answer.
    pub cut_beats: f64,
    /// Where Antiphon's turn starts (a bar line).
    pub start_beats: f64,
    /// Where it ends.
    pub end_beats: f64,
}

/// Trade: turns of `trade_bars` bars from the timeline's bar 0 (the grid's first bar line at or
/// after beat 0, whichever bar line the grid names), the player's first (turns 0, 2, …) then
/// Antiphon's (1, 3, …). Returns Antiphon's next turn once the playhead reaches its cut, while
/// that turn has not started yet; `None` otherwise.
pub fn trade_turn_due(
    grid: BarGrid,
    trade_bars: u32,
    step_beats: f64,
    playhead_beats: f64,
) -> Option<Turn> {
    let turn_beats = f64::from(trade_bars.max(1)) * grid.bar_len_beats;
    if turn_beats <= 0.0 || step_beats <= 0.0 {
        return None;
    }
    // The grid's origin is any bar line (hosts report the current bar's start, so it moves every
    // bar): count the turns from the first bar line at or after beat 0, the timeline's bar 0.
    let origin_beats = grid.origin_beats.rem_euclid(grid.bar_len_beats);
    let index = ((playhead_beats + step_beats - origin_beats) / turn_beats + 1e-9).floor();
    if (index as i64).rem_euclid(2) != 1 {
        return None;
    }
    let start_beats = origin_beats + index * turn_beats;
    (playhead_beats < start_beats).then_some(Turn {
        player_start_beats: start_beats - turn_beats,
        cut_beats: start_beats - step_beats,
        start_beats,
        end_beats: start_beats + turn_beats,
    })
}

/// Accompany: Antiphon plays bar after bar while the player plays. The first bar is the first
/// bar line after the player's first note, made just before it starts (so it hears the player's
/// whole first bar); each next bar is made a little ahead of its bar line (a beat, at most a
/// bar), so it hears what the player played up to then.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccompanyBars {
    /// Start of the next bar to generate; `None` while not accompanying.
    next_bar_beats: Option<f64>,
    /// Whether that bar is the first one (due only `first_lead_beats` before it starts).
    first: bool,
}

impl AccompanyBars {
    /// Not accompanying.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stops (a timeline jump, a mode change).
    pub fn stop(&mut self) {
        self.next_bar_beats = None;
    }

    /// Whether accompanying has begun (its first bar may still be waiting).
    pub fn is_playing(&self) -> bool {
        self.next_bar_beats.is_some()
    }

    /// The bar to generate now, as (start, end), if one is due. `player_active`: the player has
    /// played recently; without that, accompanying stops (bars already made still play).
    /// `first_lead_beats` (> 0): how long before the first bar starts it is made — a grid step
    /// (at least a 16th), or a block when blocks are longer. `lead_beats`: how long before each
    /// next bar starts it is made, taken within `first_lead_beats..=` a bar.
    pub fn due(
        &mut self,
        grid: BarGrid,
        playhead_beats: f64,
        player_active: bool,
        first_lead_beats: f64,
        lead_beats: f64,
    ) -> Option<(f64, f64)> {
        if !player_active {
            self.next_bar_beats = None;
            return None;
        }
        let bar = grid.bar_len_beats;
        let next = match self.next_bar_beats {
            Some(next) if next > playhead_beats => next,
            // Starting, or fell behind (the clock jumped ahead, the worker stalled): the first
            // bar line that leaves time to make it.
            _ => {
                self.first = true;
                let next = grid.bar_at_or_after(playhead_beats + first_lead_beats + 1e-6);
                self.next_bar_beats = Some(next);
                next
            }
        };
        let lead = if self.first {
            first_lead_beats
        } else {
            lead_beats.max(first_lead_beats).min(bar)
        };
        if playhead_beats < next - lead {
            return None;
        }
        self.first = false;
        self.next_bar_beats = Some(next + bar);
        Some((next, next + bar))
    }
}

/// A looped answer: it repeats back to back, each repeat sent a while before it starts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Repeats {
    /// Where the next repeat starts.
    pub next_start_beats: f64,
    /// Length of the answer, in beats; positive.
    pub len_beats: f64,
}

impl Repeats {
    /// The repeats of an answer over `[start_beats, end_beats)`.
    pub fn after(start_beats: f64, end_beats: f64) -> Option<Self> {
        (end_beats > start_beats).then_some(Self {
            next_start_beats: end_beats,
            len_beats: end_beats - start_beats,
        })
    }

    /// If the next repeat is due at `playhead_beats` (it starts within `lead_beats`), returns
    /// where it starts, and moves on to the one after it. Repeats whose start has passed are
    /// skipped (the loop was switched on late, or the clock jumped ahead).
    pub fn due(&mut self, playhead_beats: f64, lead_beats: f64) -> Option<f64> {
        if self.next_start_beats < playhead_beats {
            let behind = ((playhead_beats - self.next_start_beats) / self.len_beats).ceil();
            self.next_start_beats += behind * self.len_beats;
        }
        if playhead_beats < self.next_start_beats - lead_beats.min(self.len_beats) {
            return None;
        }
        let start = self.next_start_beats;
        self.next_start_beats += self.len_beats;
        Some(start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRID: BarGrid = BarGrid {
        origin_beats: 0.0,
        bar_len_beats: 4.0,
    };

    #[test]
    fn given_two_bar_turns_when_the_playhead_reaches_the_cut_then_antiphons_turn_is_due_once() {
        // The player plays bars 0-1 (beats 0..8), Antiphon bars 2-3 (8..16).
        assert_eq!(trade_turn_due(GRID, 2, 0.25, 7.5), None, "before the cut");
        let turn = trade_turn_due(GRID, 2, 0.25, 7.75).unwrap();
        assert_eq!(
            turn,
            Turn {
                player_start_beats: 0.0,
                cut_beats: 7.75,
                start_beats: 8.0,
                end_beats: 16.0
            }
        );
        assert_eq!(trade_turn_due(GRID, 2, 0.25, 8.0), None, "it has started");
        assert_eq!(trade_turn_due(GRID, 2, 0.25, 12.0), None, "Antiphon's turn");
        assert_eq!(
            trade_turn_due(GRID, 2, 0.25, 23.9).map(|t| t.start_beats),
            Some(24.0),
            "the next Antiphon turn"
        );
    }

    #[test]
    fn given_the_hosts_current_bar_as_the_grid_origin_when_trading_then_turns_count_from_bar_0() {
        // Hosts report the start of the current bar (CLAP's `bar_start`), so the grid's origin
        // moves every bar; the turns must not move with it. Two-bar turns: Antiphon's turns
        // are beats 8..16 and 24..32, due in the last 16th of bars 1 and 5.
        for bar in 0..8u32 {
            let grid = BarGrid {
                origin_beats: 4.0 * f64::from(bar),
                bar_len_beats: 4.0,
            };
            let due = trade_turn_due(grid, 2, 0.25, 4.0 * f64::from(bar) + 3.75);
            let expected = match bar {
                1 => Some(8.0),
                5 => Some(24.0),
                _ => None,
            };
            assert_eq!(due.map(|t| t.start_beats), expected, "in bar {bar}");
        }
    }

    #[test]
    fn given_three_four_and_a_shifted_grid_when_trading_then_turns_follow_the_bar_lines() {
        let grid = BarGrid {
            origin_beats: 1.0,
            bar_len_beats: 3.0,
        };
        let turn = trade_turn_due(grid, 1, 0.25, 3.8).unwrap();
        assert_eq!((turn.player_start_beats, turn.start_beats), (1.0, 4.0));
        assert_eq!(turn.end_beats, 7.0);
    }

    #[test]
    fn given_a_player_when_accompanying_then_the_first_bar_waits_for_its_line_and_the_rest_come_a_beat_ahead()
     {
        let mut acc = AccompanyBars::new();
        assert_eq!(acc.due(GRID, 1.0, false, 0.25, 1.0), None);
        assert_eq!(
            acc.due(GRID, 1.0, true, 0.25, 1.0),
            None,
            "bar 4 is made at 3.75"
        );
        assert!(acc.is_playing());
        assert_eq!(acc.due(GRID, 3.5, true, 0.25, 1.0), None);
        assert_eq!(acc.due(GRID, 3.75, true, 0.25, 1.0), Some((4.0, 8.0)));
        assert_eq!(acc.due(GRID, 3.8, true, 0.25, 1.0), None);
        assert_eq!(
            acc.due(GRID, 6.9, true, 0.25, 1.0),
            None,
            "bar 8 waits for beat 7"
        );
        assert_eq!(
            acc.due(GRID, 7.0, true, 0.25, 1.0),
            Some((8.0, 12.0)),
            "a beat ahead"
        );
        assert_eq!(acc.due(GRID, 8.0, true, 0.25, 1.0), None);
        assert_eq!(acc.due(GRID, 11.0, true, 0.25, 1.0), Some((12.0, 16.0)));
        assert_eq!(
            acc.due(GRID, 12.5, false, 0.25, 1.0),
            None,
            "the player stopped"
        );
        assert!(!acc.is_playing());
        assert_eq!(
            acc.due(GRID, 13.0, true, 0.25, 1.0),
            None,
            "starts again: bar 16"
        );
        assert_eq!(acc.due(GRID, 15.8, true, 0.25, 1.0), Some((16.0, 20.0)));
    }

    #[test]
    fn given_a_lead_out_of_range_when_accompanying_then_it_is_held_between_the_first_lead_and_a_bar()
     {
        let mut acc = AccompanyBars::new();
        acc.due(GRID, 1.0, true, 0.25, 9.0);
        assert_eq!(acc.due(GRID, 3.75, true, 0.25, 9.0), Some((4.0, 8.0)));
        assert_eq!(
            acc.due(GRID, 4.0, true, 0.25, 9.0),
            Some((8.0, 12.0)),
            "never more than a bar ahead"
        );
        let mut acc = AccompanyBars::new();
        acc.due(GRID, 1.0, true, 0.5, 0.1);
        assert_eq!(acc.due(GRID, 3.5, true, 0.5, 0.1), Some((4.0, 8.0)));
        assert_eq!(acc.due(GRID, 7.4, true, 0.5, 0.1), None);
        assert_eq!(
            acc.due(GRID, 7.5, true, 0.5, 0.1),
            Some((8.0, 12.0)),
            "never later than the first lead"
        );
    }

    #[test]
    fn given_a_bar_line_right_at_the_playhead_when_accompanying_starts_then_it_takes_the_next() {
        let mut acc = AccompanyBars::new();
        assert_eq!(acc.due(GRID, 3.9, true, 0.25, 1.0), None);
        assert_eq!(acc.due(GRID, 7.75, true, 0.25, 1.0), Some((8.0, 12.0)));
    }

    #[test]
    fn given_a_stalled_clock_when_accompanying_then_it_starts_again_ahead_of_the_playhead() {
        let mut acc = AccompanyBars::new();
        acc.due(GRID, 3.8, true, 0.25, 1.0);
        assert_eq!(acc.due(GRID, 30.0, true, 0.25, 1.0), None);
        assert_eq!(acc.due(GRID, 31.9, true, 0.25, 1.0), Some((32.0, 36.0)));
    }

    #[test]
    fn given_a_looped_answer_when_the_playhead_nears_its_end_then_repeats_follow_back_to_back() {
        let mut repeats = Repeats::after(8.0, 12.0).unwrap();
        assert_eq!(repeats.due(7.0, 4.0), None);
        assert_eq!(repeats.due(8.0, 4.0), Some(12.0));
        assert_eq!(repeats.due(9.0, 4.0), None);
        assert_eq!(repeats.due(12.0, 4.0), Some(16.0));
        assert!(Repeats::after(4.0, 4.0).is_none());
        let mut late = Repeats::after(8.0, 12.0).unwrap();
        assert_eq!(late.due(21.0, 4.0), Some(24.0), "switched on long after");
    }
}
