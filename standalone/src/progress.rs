//! A one-line text progress bar on stderr, redrawn in place while a long job runs.
//!
//! It draws only when stderr is a terminal: piped or captured stderr (scripts, tests, CI logs)
//! stays free of carriage-return noise and holds only real messages.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Characters of the bar between its brackets.
const BAR_WIDTH_CHARS: usize = 30;
/// The bar is redrawn when its percentage changes, or after this long for the detail.
const REDRAW_EVERY: Duration = Duration::from_millis(100);

/// The text of the bar for `fraction` done (clamped to 0..=1), e.g.
/// `generating [#########.....................]  30%  54/180 s, 210 notes`.
pub fn bar_line(label: &str, fraction: f64, detail: &str) -> String {
    let fraction = if fraction.is_finite() {
        fraction.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let filled = ((fraction * BAR_WIDTH_CHARS as f64).floor() as usize).min(BAR_WIDTH_CHARS);
    let percent = (fraction * 100.0).floor() as u32;
    format!(
        "{label} [{}{}] {percent:>3}%  {detail}",
        "#".repeat(filled),
        ".".repeat(BAR_WIDTH_CHARS - filled)
    )
}

/// A progress bar for one job.
pub struct ProgressBar {
    /// What the job is ("generating", "rendering").
    label: &'static str,
    /// Whether to draw at all (stderr is a terminal).
    enabled: bool,
    /// The last line drawn (empty before the first).
    last_line: String,
    /// The most done so far: the bar never goes back (notes can be handed out out of order).
    most_fraction: f64,
    /// The percentage last drawn.
    last_percent: u32,
    /// When the bar was last drawn.
    last_draw: Instant,
}

impl ProgressBar {
    /// A bar labelled `label`, drawn only when stderr is a terminal.
    pub fn new(label: &'static str) -> Self {
        Self {
            label,
            enabled: std::io::stderr().is_terminal(),
            last_line: String::new(),
            most_fraction: 0.0,
            last_percent: 0,
            last_draw: Instant::now(),
        }
    }

    /// Shows `fraction` done with `detail` after the percentage.
    pub fn update(&mut self, fraction: f64, detail: &str) {
        if !self.enabled {
            return;
        }
        if fraction > self.most_fraction {
            self.most_fraction = fraction.min(1.0);
        }
        let percent = (self.most_fraction * 100.0).floor() as u32;
        if !self.last_line.is_empty()
            && percent == self.last_percent
            && self.last_draw.elapsed() < REDRAW_EVERY
        {
            return;
        }
        let line = bar_line(self.label, self.most_fraction, detail);
        // A closed or broken stderr only loses the bar.
        let _ = write!(std::io::stderr().lock(), "\r{line}\x1b[K");
        self.last_line = line;
        self.last_percent = percent;
        self.last_draw = Instant::now();
    }

    /// Clears the bar's line.
    pub fn finish(&mut self) {
        if self.enabled && !self.last_line.is_empty() {
            let _ = write!(std::io::stderr().lock(), "\r\x1b[K");
            self.last_line.clear();
        }
    }
}

impl Drop for ProgressBar {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_nothing_done_when_drawn_then_the_bar_is_empty_at_zero_percent() {
        assert_eq!(
            bar_line("generating", 0.0, "0 notes"),
            format!("generating [{}]   0%  0 notes", ".".repeat(30))
        );
    }

    #[test]
    fn given_a_third_done_when_drawn_then_ten_of_thirty_cells_are_filled() {
        let line = bar_line("rendering", 1.0 / 3.0, "x");
        assert_eq!(line.matches('#').count(), 10);
        assert!(line.contains(" 33%"), "{line}");
    }

    #[test]
    fn given_a_fraction_outside_zero_to_one_when_drawn_then_it_is_clamped() {
        assert_eq!(bar_line("a", 1.7, ""), bar_line("a", 1.0, ""));
        assert_eq!(bar_line("a", -0.2, ""), bar_line("a", 0.0, ""));
        assert_eq!(bar_line("a", f64::NAN, ""), bar_line("a", 0.0, ""));
        assert!(bar_line("a", 1.0, "").contains("100%"));
    }
}
