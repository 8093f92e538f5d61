//! A piano-roll picture of a generated piece as a PNG: the primer and the continuation in two
//! colours, time in bars (4/4) with bar lines and bar numbers, pitch in whole octaves with a
//! line and a label at every C.
//!
//! The layout is fixed so pictures of different runs compare: [`PX_PER_SEMITONE`] pixels per
//! semitone and [`MAX_PX_PER_BAR`] pixels per bar, narrowed only when the piece would be wider
//! than [`MAX_PLOT_WIDTH_PX`]. The pixels are drawn here and encoded with the `png` crate.

use antiphon_models::midi_file::FileNote;

/// Height of one semitone row, in pixels.
pub const PX_PER_SEMITONE: u32 = 6;
/// Width of one bar, in pixels, when the piece fits in [`MAX_PLOT_WIDTH_PX`].
pub const MAX_PX_PER_BAR: f64 = 48.0;
/// The plot (bars) is at most this wide, in pixels; longer pieces get narrower bars.
pub const MAX_PLOT_WIDTH_PX: f64 = 3840.0;
/// Left margin (octave labels), in pixels.
pub const LEFT_MARGIN_PX: u32 = 32;
/// Right margin, in pixels.
pub const RIGHT_MARGIN_PX: u32 = 8;
/// Top margin, in pixels.
pub const TOP_MARGIN_PX: u32 = 8;
/// Bottom margin (bar numbers), in pixels.
pub const BOTTOM_MARGIN_PX: u32 = 16;
/// Quarter notes per bar (the picture assumes 4/4).
pub const QUARTERS_PER_BAR: f64 = 4.0;

/// Colour of the primer's notes (orange).
pub const PRIMER_RGB: [u8; 3] = [0xE0, 0x70, 0x20];
/// Colour of the continuation's notes (blue).
pub const CONTINUATION_RGB: [u8; 3] = [0x20, 0x60, 0xD0];
/// Background of white-key rows and of the margins.
const WHITE_KEY_RGB: [u8; 3] = [0xFF, 0xFF, 0xFF];
/// Background of black-key rows.
const BLACK_KEY_RGB: [u8; 3] = [0xF0, 0xF0, 0xF0];
/// Beat lines.
const BEAT_LINE_RGB: [u8; 3] = [0xE6, 0xE6, 0xE6];
/// Bar lines.
const BAR_LINE_RGB: [u8; 3] = [0xA8, 0xA8, 0xA8];
/// Octave lines (below every C).
const OCTAVE_LINE_RGB: [u8; 3] = [0xB8, 0xB8, 0xB8];
/// Labels.
const LABEL_RGB: [u8; 3] = [0x50, 0x50, 0x50];

/// Where everything goes in the picture.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RollLayout {
    /// Bars drawn (the piece's length rounded up to whole bars, at least 1).
    pub bars: u32,
    /// Width of a bar, in pixels (at most [`MAX_PX_PER_BAR`]).
    pub px_per_bar: f64,
    /// Lowest pitch row: the C at or below the lowest note.
    pub low_pitch: u8,
    /// Highest pitch row: the B at or above the highest note (127 at most).
    pub high_pitch: u8,
    /// Width of the picture, in pixels.
    pub width_px: u32,
    /// Height of the picture, in pixels.
    pub height_px: u32,
}

impl RollLayout {
    /// The layout for `notes` in a piece `length_quarters` long (notes past it lengthen it).
    pub fn new(notes: &[FileNote], length_quarters: f64) -> Self {
        let end_quarters = notes
            .iter()
            .map(|n| n.end_quarters)
            .fold(length_quarters.max(0.0), f64::max);
        let bars = ((end_quarters / QUARTERS_PER_BAR - 1e-9).ceil() as u32).max(1);
        let px_per_bar = MAX_PX_PER_BAR.min(MAX_PLOT_WIDTH_PX / f64::from(bars));
        let lowest = notes.iter().map(|n| n.pitch.min(127)).min().unwrap_or(60);
        let highest = notes.iter().map(|n| n.pitch.min(127)).max().unwrap_or(60);
        let low_pitch = lowest - lowest % 12;
        let high_pitch = (highest - highest % 12 + 11).min(127);
        let plot_width = (f64::from(bars) * px_per_bar).ceil() as u32;
        let rows = u32::from(high_pitch - low_pitch) + 1;
        Self {
            bars,
            px_per_bar,
            low_pitch,
            high_pitch,
            width_px: LEFT_MARGIN_PX + plot_width + RIGHT_MARGIN_PX,
            height_px: TOP_MARGIN_PX + rows * PX_PER_SEMITONE + BOTTOM_MARGIN_PX,
        }
    }

    /// The x pixel of a time in quarter notes.
    fn x_of(&self, quarters: f64) -> u32 {
        LEFT_MARGIN_PX + (quarters.max(0.0) / QUARTERS_PER_BAR * self.px_per_bar).floor() as u32
    }

    /// The top y pixel of a pitch's row (pitch within the layout's range).
    fn y_of(&self, pitch: u8) -> u32 {
        TOP_MARGIN_PX + u32::from(self.high_pitch - pitch) * PX_PER_SEMITONE
    }

    /// The x pixel just past the plot.
    fn plot_right(&self) -> u32 {
        self.width_px - RIGHT_MARGIN_PX
    }

    /// The y pixel just below the plot.
    fn plot_bottom(&self) -> u32 {
        self.height_px - BOTTOM_MARGIN_PX
    }

    /// Bars between two bar numbers: the smallest power of two whose labels don't touch.
    fn label_every_bars(&self) -> u32 {
        let digits = self.bars.to_string().len() as f64;
        let needed_px = digits * f64::from(GLYPH_ADVANCE_PX) + 6.0;
        let mut every = 1;
        while f64::from(every) * self.px_per_bar < needed_px && every < self.bars {
            every *= 2;
        }
        every
    }
}

/// An RGB picture being drawn.
struct Canvas {
    /// Width, in pixels.
    width_px: u32,
    /// Height, in pixels.
    height_px: u32,
    /// Rows of RGB pixels, top to bottom.
    rgb: Vec<u8>,
}

impl Canvas {
    /// A picture filled with `rgb`.
    fn new(width_px: u32, height_px: u32, rgb: [u8; 3]) -> Self {
        let pixels = width_px as usize * height_px as usize;
        Self {
            width_px,
            height_px,
            rgb: rgb.iter().copied().cycle().take(pixels * 3).collect(),
        }
    }

    /// Fills the rectangle `[x0, x1) × [y0, y1)` (clipped to the picture).
    fn fill(&mut self, x0: u32, x1: u32, y0: u32, y1: u32, rgb: [u8; 3]) {
        let (x1, y1) = (x1.min(self.width_px), y1.min(self.height_px));
        for y in y0..y1 {
            for x in x0..x1 {
                let i = (y as usize * self.width_px as usize + x as usize) * 3;
                self.rgb[i..i + 3].copy_from_slice(&rgb);
            }
        }
    }

    /// Draws `text` (digits, `C` and `-`) with its top left corner at (x, y).
    fn text(&mut self, x: u32, y: u32, text: &str, rgb: [u8; 3]) {
        for (i, c) in text.chars().enumerate() {
            let Some(bits) = glyph(c) else { continue };
            let left = x + i as u32 * GLYPH_ADVANCE_PX;
            for row in 0..5u32 {
                for col in 0..3u32 {
                    if bits >> (14 - (row * 3 + col)) & 1 == 1 {
                        let (px, py) = (left + col * GLYPH_SCALE, y + row * GLYPH_SCALE);
                        self.fill(px, px + GLYPH_SCALE, py, py + GLYPH_SCALE, rgb);
                    }
                }
            }
        }
    }
}

/// Pixels per dot of the 3×5 label font.
const GLYPH_SCALE: u32 = 2;
/// Horizontal distance between two label characters, in pixels.
const GLYPH_ADVANCE_PX: u32 = 3 * GLYPH_SCALE + 2;

/// A 3×5 bitmap of `c`, rows top to bottom, 3 bits a row, most significant bit first.
fn glyph(c: char) -> Option<u16> {
    Some(match c {
        '0' => 0b111_101_101_101_111,
        '1' => 0b010_110_010_010_111,
        '2' => 0b111_001_111_100_111,
        '3' => 0b111_001_111_001_111,
        '4' => 0b101_101_111_001_001,
        '5' => 0b111_100_111_001_111,
        '6' => 0b111_100_111_101_111,
        '7' => 0b111_001_010_010_010,
        '8' => 0b111_101_111_101_111,
        '9' => 0b111_101_111_001_111,
        'C' => 0b111_100_100_100_111,
        '-' => 0b000_000_111_000_000,
        _ => return None,
    })
}

/// `rgb` faded towards white for a soft note: full colour at velocity 127, 40 % at 1.
fn shade(rgb: [u8; 3], velocity: u8) -> [u8; 3] {
    let strength = 0.4 + 0.6 * f64::from(velocity.min(127)) / 127.0;
    rgb.map(|c| (255.0 - (255.0 - f64::from(c)) * strength).round() as u8)
}

/// Whether a pitch is a black key.
fn is_black_key(pitch: u8) -> bool {
    matches!(pitch % 12, 1 | 3 | 6 | 8 | 10)
}

/// Draws the piano roll of `primer` (in [`PRIMER_RGB`]) and `continuation` (in
/// [`CONTINUATION_RGB`]), a piece `length_quarters` long, and encodes it as a PNG.
pub fn draw_png(
    primer: &[FileNote],
    continuation: &[FileNote],
    length_quarters: f64,
) -> Result<(RollLayout, Vec<u8>), String> {
    let all: Vec<FileNote> = primer.iter().chain(continuation).copied().collect();
    let layout = RollLayout::new(&all, length_quarters);
    let mut canvas = Canvas::new(layout.width_px, layout.height_px, WHITE_KEY_RGB);
    let (left, right) = (LEFT_MARGIN_PX, layout.plot_right());
    for pitch in layout.low_pitch..=layout.high_pitch {
        let y = layout.y_of(pitch);
        if is_black_key(pitch) {
            canvas.fill(left, right, y, y + PX_PER_SEMITONE, BLACK_KEY_RGB);
        }
    }
    // Beat lines when a beat is wide enough to see them, then bar lines.
    let px_per_beat = layout.px_per_bar / QUARTERS_PER_BAR;
    let label_every = layout.label_every_bars();
    let bar_line_every = if layout.px_per_bar >= 4.0 {
        1
    } else {
        label_every
    };
    let (top, bottom) = (TOP_MARGIN_PX, layout.plot_bottom());
    if px_per_beat >= 6.0 {
        for beat in 0..layout.bars * QUARTERS_PER_BAR as u32 {
            let x = layout.x_of(f64::from(beat));
            canvas.fill(x, x + 1, top, bottom, BEAT_LINE_RGB);
        }
    }
    for bar in (0..=layout.bars).step_by(bar_line_every as usize) {
        let x = layout
            .x_of(f64::from(bar) * QUARTERS_PER_BAR)
            .min(right - 1);
        canvas.fill(x, x + 1, top, bottom, BAR_LINE_RGB);
    }
    for bar in (0..layout.bars).step_by(label_every as usize) {
        let x = layout.x_of(f64::from(bar) * QUARTERS_PER_BAR);
        canvas.text(x + 2, bottom + 3, &(bar + 1).to_string(), LABEL_RGB);
    }
    // Octave lines along the bottom of every C row, labelled C-1 … C9 (C4 = 60).
    for pitch in (layout.low_pitch..=layout.high_pitch).filter(|p| p % 12 == 0) {
        let y = layout.y_of(pitch) + PX_PER_SEMITONE;
        canvas.fill(left, right, y - 1, y, OCTAVE_LINE_RGB);
        let octave = i32::from(pitch / 12) - 1;
        canvas.text(
            4,
            y - PX_PER_SEMITONE / 2 - 5,
            &format!("C{octave}"),
            LABEL_RGB,
        );
    }
    // Notes, the continuation first so the primer stays visible where they overlap; a darker
    // first pixel column marks each start, so repeated notes stay apart.
    for (notes, rgb) in [(continuation, CONTINUATION_RGB), (primer, PRIMER_RGB)] {
        for n in notes {
            let x0 = layout.x_of(n.start_quarters);
            let x1 = layout.x_of(n.end_quarters).max(x0 + 1).min(right);
            let y = layout.y_of(n.pitch.min(127)) + 1;
            let colour = shade(rgb, n.velocity);
            canvas.fill(x0, x1, y, y + PX_PER_SEMITONE - 1, colour);
            if x1 - x0 >= 3 {
                canvas.fill(x0, x0 + 1, y, y + PX_PER_SEMITONE - 1, rgb.map(|c| c / 2));
            }
        }
    }
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, canvas.width_px, canvas.height_px);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Best);
    let mut writer = encoder
        .write_header()
        .map_err(|e| format!("cannot encode the PNG: {e}"))?;
    writer
        .write_image_data(&canvas.rgb)
        .map_err(|e| format!("cannot encode the PNG: {e}"))?;
    writer
        .finish()
        .map_err(|e| format!("cannot encode the PNG: {e}"))?;
    Ok((layout, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A note of `pitch` from `start` to `end` quarters.
    fn note(pitch: u8, start: f64, end: f64) -> FileNote {
        FileNote {
            pitch,
            velocity: 127,
            channel: 0,
            start_quarters: start,
            end_quarters: end,
        }
    }

    #[test]
    fn given_the_seed_length_when_laid_out_then_57_bars_of_48_px_and_whole_octaves() {
        // 180 s at 75 QPM: 225 quarters, 56.25 bars.
        let layout = RollLayout::new(&[note(47, 0.0, 1.0), note(89, 4.0, 5.0)], 225.0);
        assert_eq!(layout.bars, 57);
        assert_eq!(layout.px_per_bar, 48.0);
        assert_eq!((layout.low_pitch, layout.high_pitch), (36, 95));
        assert_eq!(layout.width_px, 32 + 57 * 48 + 8);
        assert_eq!(layout.height_px, 8 + 60 * 6 + 16);
    }

    #[test]
    fn given_a_very_long_piece_when_laid_out_then_the_plot_is_capped() {
        let layout = RollLayout::new(&[note(60, 0.0, 1.0)], 4000.0);
        assert_eq!(layout.bars, 1000);
        assert_eq!(layout.width_px, 32 + 3840 + 8);
        assert!(layout.label_every_bars() >= 8);
    }

    #[test]
    fn given_a_note_past_the_length_when_laid_out_then_the_bars_reach_it() {
        let layout = RollLayout::new(&[note(60, 6.0, 9.5)], 8.0);
        assert_eq!(layout.bars, 3);
    }

    #[test]
    fn given_a_primer_and_a_continuation_when_drawn_then_both_colours_appear_in_their_rows() {
        let (layout, bytes) = draw_png(&[note(72, 0.0, 2.0)], &[note(60, 4.0, 8.0)], 8.0).unwrap();
        let decoder = png::Decoder::new(&bytes[..]);
        let mut reader = decoder.read_info().unwrap();
        let mut rgb = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut rgb).unwrap();
        assert_eq!(
            (info.width, info.height),
            (layout.width_px, layout.height_px)
        );
        let pixel = |x: u32, y: u32| {
            let i = (y * info.width + x) as usize * 3;
            [rgb[i], rgb[i + 1], rgb[i + 2]]
        };
        // Middle of each note's row and time span.
        let primer_y = layout.y_of(72) + 3;
        let continuation_y = layout.y_of(60) + 3;
        assert_eq!(pixel(layout.x_of(1.0), primer_y), PRIMER_RGB);
        assert_eq!(pixel(layout.x_of(6.0), continuation_y), CONTINUATION_RGB);
        assert_ne!(pixel(layout.x_of(6.0), primer_y), PRIMER_RGB);
    }

    #[test]
    fn given_a_soft_note_when_shaded_then_it_is_lighter_but_not_white() {
        let soft = shade(CONTINUATION_RGB, 20);
        assert!(soft[0] > CONTINUATION_RGB[0] && soft[0] < 255);
        assert_eq!(shade(CONTINUATION_RGB, 127), CONTINUATION_RGB);
    }
}
