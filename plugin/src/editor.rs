//! The plugin's editor (egui through nice-plug-egui, OpenGL): a piano roll of the last call and
//! its answer with the playhead, the worker's status, and a few controls.
//!
//! # Threads
//!
//! The editor draws on its own window thread. It never takes a lock the audio thread takes (the
//! audio thread takes none): it reads [`Shared`]'s atomics, and copies the texts and the roll the
//! worker publishes ([`Shared::message`], [`Shared::roll`]) under their locks, which only the
//! worker and the editor take. Parameters change through nice-plug's `ParamSetter`, which queues
//! them for the next process call.

use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use antiphon_engine::roll::{RollNote, RollView};
use antiphon_engine::{Shared, WorkerStatus};
use egui::{Align2, Color32, FontId, Pos2, Rect, Sense, Stroke, StrokeKind, Ui, Vec2};
use nice_plug::editor::dpi::{LogicalSize, NativeSize};
use nice_plug::editor::{HostMethods, SizeConstraints, SpawnedEditor};
use nice_plug::params::persist::PersistentField;
use nice_plug::prelude::*;
use nice_plug_egui::widgets::ParamSlider;
use nice_plug_egui::{
    EguiEditor, EguiEditorHandle, EguiEditorState, EguiNiceSettings, Frame, NiceEguiApp,
    RepaintNotifier, create_egui_editor,
};
use serde::{Deserialize, Serialize};

use crate::params::AntiphonParams;

/// The editor's size when a project has none saved, in logical pixels.
pub const DEFAULT_SIZE: (u32, u32) = (760, 480);

/// The smallest size the editor can be resized to, in logical pixels.
const MIN_SIZE: (f32, f32) = (560.0, 360.0);

/// How often the editor redraws while it is open (the playhead moves), in frames per second.
const FRAMES_PER_SECOND: f64 = 30.0;

/// How long a momentary control button keeps its parameter on at the least, so that at least
/// one process call sees it on.
const MOMENTARY_HOLD: Duration = Duration::from_millis(120);

/// Colour of the call's notes.
pub const CALL_COLOUR: Color32 = Color32::from_rgb(70, 150, 255);
/// Colour of the answer's notes.
pub const ANSWER_COLOUR: Color32 = Color32::from_rgb(255, 140, 30);
/// Colour of the playhead.
const PLAYHEAD_COLOUR: Color32 = Color32::from_rgb(240, 240, 240);
/// Background of the roll's white-key rows.
const ROW_COLOUR: Color32 = Color32::from_rgb(34, 36, 42);
/// Background of the roll's black-key rows.
const BLACK_ROW_COLOUR: Color32 = Color32::from_rgb(26, 27, 32);
/// Tint of the answer's stretch of time.
const ANSWER_TINT: Color32 = Color32::from_rgba_premultiplied(40, 24, 6, 40);
/// Colour of error texts.
const ERROR_COLOUR: Color32 = Color32::from_rgb(255, 90, 90);
/// Colour of a warning line (the worker failed and recovered).
const WARNING_COLOUR: Color32 = Color32::from_rgb(240, 190, 80);

/// The editor's saved size, as the project stores it (`#[persist = "editor-state"]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EditorSize {
    /// Width in logical pixels.
    pub width: u32,
    /// Height in logical pixels.
    pub height: u32,
}

/// The editor's window state, persisted with the project: nice-plug-egui's state (its size
/// follows the window while it is open), replaced by a loaded project's size.
///
/// nice-plug asks for the editor once, before a project's state is loaded, so the editor takes
/// the state from here each time it opens (see [`AntiphonEditor`]).
#[derive(Debug)]
pub struct EditorState {
    /// The state of the window that opens next (or is open).
    egui: RwLock<Arc<EguiEditorState>>,
}

impl Default for EditorState {
    fn default() -> Self {
        Self::with_size(EditorSize {
            width: DEFAULT_SIZE.0,
            height: DEFAULT_SIZE.1,
        })
    }
}

impl EditorState {
    /// A state for a window of `size`.
    fn with_size(size: EditorSize) -> Self {
        Self {
            egui: RwLock::new(egui_state(size)),
        }
    }

    /// The egui state of the window that opens next.
    fn current(&self) -> Arc<EguiEditorState> {
        self.egui
            .read()
            .map(|s| s.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }

    /// The window's size in logical pixels.
    pub fn size(&self) -> EditorSize {
        let size = self.current().logical_size();
        EditorSize {
            width: size.width.round() as u32,
            height: size.height.round() as u32,
        }
    }
}

/// nice-plug-egui's state for a window of `size` at zoom 1.
fn egui_state(size: EditorSize) -> Arc<EguiEditorState> {
    let width = size.width.max(MIN_SIZE.0 as u32) as f32;
    let height = size.height.max(MIN_SIZE.1 as u32) as f32;
    EguiEditorState::from_size(LogicalSize::new(width, height), 1.0)
}

impl<'a> PersistentField<'a, EditorSize> for EditorState {
    fn set(&self, new_value: EditorSize) {
        let state = egui_state(new_value);
        match self.egui.write() {
            Ok(mut s) => *s = state,
            Err(e) => *e.into_inner() = state,
        }
    }

    fn map<F, R>(&self, f: F) -> R
    where
        F: Fn(&EditorSize) -> R,
    {
        f(&self.size())
    }
}

/// The editor nice-plug spawns: each time it opens, an egui editor over the persisted state.
pub struct AntiphonEditor {
    /// The plugin's parameters (and the persisted editor state).
    params: Arc<AntiphonParams>,
    /// What the worker and the audio thread publish.
    shared: Arc<Shared>,
    /// Wakes the window for a redraw when the host changes a parameter.
    repaint: RepaintNotifier,
}

impl AntiphonEditor {
    /// The editor of a plugin with `params` and `shared`.
    pub fn new(params: Arc<AntiphonParams>, shared: Arc<Shared>) -> Self {
        Self {
            params,
            shared,
            repaint: RepaintNotifier::new(),
        }
    }

    /// The egui editor over the current persisted state.
    fn egui_editor(&self) -> EguiEditor<EditorApp> {
        let settings = EguiNiceSettings::new()
            .with_tile("Antiphon")
            .with_resize_hint(resize_hint());
        let app = EditorApp::new(self.params.clone(), self.shared.clone());
        // PANIC: create_egui_editor always returns Some.
        create_egui_editor(
            self.params.editor_state.current(),
            self.repaint.clone(),
            settings,
            app,
        )
        .expect("create_egui_editor returns an editor")
    }
}

/// The editor resizes freely down to [`MIN_SIZE`].
fn resize_hint() -> ResizeHint {
    ResizeHint {
        can_resize: true,
        can_resize_horizontally: true,
        can_resize_vertically: true,
        preserve_aspect_ratio: false,
        aspect_ratio_width: 1,
        aspect_ratio_height: 1,
        size_constraints: SizeConstraints::min_logical_size(LogicalSize::new(
            MIN_SIZE.0, MIN_SIZE.1,
        )),
    }
}

impl Editor for AntiphonEditor {
    type Handle = EguiEditorHandle;

    fn spawn(
        &self,
        parent: Option<ParentWindowHandle>,
        wait_for_parent: bool,
        fallback_scale_factor: Option<f64>,
        gui_context: nice_plug::context::gui::GuiContext,
        host: Option<HostMethods>,
    ) -> Result<SpawnedEditor<Self::Handle>, Box<dyn std::error::Error>> {
        self.egui_editor().spawn(
            parent,
            wait_for_parent,
            fallback_scale_factor,
            gui_context,
            host,
        )
    }

    fn size(&self) -> NativeSize<u32> {
        self.egui_editor().size()
    }

    fn resize_hint(&self) -> ResizeHint {
        resize_hint()
    }
}

/// A momentary control's button: the parameter stays on while the button is held, and for
/// [`MOMENTARY_HOLD`] at the least.
#[derive(Debug, Clone, Copy, Default)]
struct Momentary {
    /// When the parameter was switched on; `None` while it is off.
    on_since: Option<Instant>,
}

/// The egui app: draws one frame at a time.
struct EditorApp {
    /// The plugin's parameters.
    params: Arc<AntiphonParams>,
    /// What the worker and the audio thread publish.
    shared: Arc<Shared>,
    /// The host's GUI context, once the window is built.
    gui: Option<nice_plug::context::gui::GuiContext>,
    /// The roll as last copied from [`Shared::roll`] (its buffers are reused).
    roll: RollView,
    /// The momentary controls' buttons: End Call, Mutate, Continue, Panic.
    momentary: [Momentary; 4],
}

impl EditorApp {
    /// An app over `params` and `shared`.
    fn new(params: Arc<AntiphonParams>, shared: Arc<Shared>) -> Self {
        Self {
            params,
            shared,
            gui: None,
            roll: RollView::default(),
            momentary: [Momentary::default(); 4],
        }
    }

    /// Copies the worker's roll when it changed and the worker is not writing it just now.
    fn refresh_roll(&mut self) {
        if let Ok(roll) = self.shared.roll.try_lock()
            && roll.serial != self.roll.serial
        {
            self.roll.clone_from(&roll);
        }
    }
}

impl NiceEguiApp for EditorApp {
    fn build(
        &mut self,
        egui_ctx: egui::Context,
        gui_context: nice_plug::context::gui::GuiContext,
        _frame: &mut Frame,
    ) -> Result<(), nice_plug_egui::baseview::HandlerError> {
        egui_ctx.set_visuals(egui::Visuals::dark());
        self.gui = Some(gui_context);
        Ok(())
    }

    fn ui(&mut self, ui: &mut Ui, _frame: &mut Frame) {
        ui.ctx()
            .request_repaint_after(Duration::from_secs_f64(1.0 / FRAMES_PER_SECOND));
        self.refresh_roll();
        let Some(gui) = self.gui.clone() else {
            return;
        };
        let setter = gui.param_setter();
        egui::CentralPanel::default().show(ui, |ui| {
            status_lines(ui, &self.shared);
            ui.add_space(4.0);
            controls(ui, &self.params, &setter, &mut self.momentary);
            ui.add_space(6.0);
            piano_roll(ui, &self.roll, &self.shared);
        });
    }

    fn editor_closed(&mut self) {
        self.gui = None;
    }
}

/// The status lines: mode, model and worker state, timing, and any error in words.
fn status_lines(ui: &mut Ui, shared: &Shared) {
    let status = shared.status();
    let text = shared.status_text();
    let mode = shared.settings.mode().as_str();
    let model = if text.model_name.is_empty() {
        "no model"
    } else {
        text.model_name.as_str()
    };
    ui.horizontal(|ui| {
        ui.heading("Antiphon");
        ui.separator();
        ui.label(format!("Mode: {mode}"));
        ui.separator();
        ui.label(format!("Model: {model} ({})", status.as_str()));
    });
    let tempo_bpm = shared.tempo_bpm.load(Ordering::Relaxed);
    let primer_ms = shared.last_primer_us.load(Ordering::Relaxed) / 1000.0;
    let step_ms = shared.last_step_us.load(Ordering::Relaxed) / 1000.0;
    let late = shared.late_notes.load(Ordering::Relaxed);
    let answers = shared.answers_played.load(Ordering::Relaxed);
    ui.label(format!(
        "{tempo_bpm:.1} BPM   inference: primer {primer_ms:.1} ms, {step_ms:.2} ms per step   \
         late notes: {late}   answers played: {answers}"
    ));
    if let Some(error) = error_text(status, &text.error) {
        ui.colored_label(ERROR_COLOUR, error);
    }
    let failures = shared.worker_failures.load(Ordering::Relaxed);
    if let Some(note) = failure_note(status, failures, &text.failure) {
        ui.colored_label(WARNING_COLOUR, note);
    }
}

/// After the worker failed and restarted, a note saying so (how often, and the last failure);
/// `None` if it never failed, or while it waits to restart (the error line says it then).
fn failure_note(status: WorkerStatus, failures: u64, failure: &str) -> Option<String> {
    if failures == 0 || status == WorkerStatus::Failed {
        return None;
    }
    let times = if failures == 1 {
        String::from("once")
    } else {
        format!("{failures} times")
    };
    Some(format!(
        "The worker failed {times} and was restarted. Last: {failure}"
    ))
}

/// The error to show for `status`, in words; `None` when all is well.
fn error_text(status: WorkerStatus, error: &str) -> Option<String> {
    let what = match status {
        WorkerStatus::RuntimeMissing => {
            "ONNX Runtime could not be loaded: MIDI passes through, no answers"
        }
        WorkerStatus::ModelRefused => "The model was refused: MIDI passes through, no answers",
        WorkerStatus::Stopped => "The worker has stopped",
        WorkerStatus::Failed => {
            "The worker failed: answer notes ended, MIDI passes through, it restarts by itself"
        }
        WorkerStatus::Loading | WorkerStatus::Ready => return None,
    };
    Some(if error.is_empty() {
        what.to_string()
    } else {
        format!("{what}. {error}")
    })
}

/// Mode, Model, Temperature and Answer Length, and the momentary controls' buttons.
fn controls(
    ui: &mut Ui,
    params: &AntiphonParams,
    setter: &ParamSetter<'_>,
    momentary: &mut [Momentary; 4],
) {
    egui::Grid::new("controls")
        .num_columns(4)
        .spacing([10.0, 4.0])
        .show(ui, |ui| {
            ui.label("Mode");
            ui.add(ParamSlider::for_param(&params.mode, setter).with_width(150.0));
            ui.label("Model");
            ui.add(ParamSlider::for_param(&params.model, setter).with_width(150.0));
            ui.end_row();
            ui.label("Temperature");
            ui.add(ParamSlider::for_param(&params.temperature, setter).with_width(150.0));
            ui.label("Answer Length");
            ui.add(ParamSlider::for_param(&params.answer_bars, setter).with_width(150.0));
            ui.end_row();
        });
    ui.horizontal(|ui| {
        for ((param, control), button) in params.control_params().into_iter().zip(momentary) {
            let response = ui.add(egui::Button::new(control.as_str()).sense(Sense::click()));
            // A click whose press and release fall in one frame still counts.
            let pressed = response.is_pointer_button_down_on() || response.clicked();
            momentary_button(param, setter, button, pressed);
        }
    });
}

/// Drives a momentary control's parameter from its button: on when pressed, off once released
/// and held for [`MOMENTARY_HOLD`], so the rising edge reaches a process call.
fn momentary_button(
    param: &BoolParam,
    setter: &ParamSetter<'_>,
    button: &mut Momentary,
    pressed: bool,
) {
    match button.on_since {
        None if pressed => {
            setter.begin_set_parameter(param);
            setter.set_parameter(param, true);
            button.on_since = Some(Instant::now());
        }
        Some(since) if !pressed && since.elapsed() >= MOMENTARY_HOLD => {
            setter.set_parameter(param, false);
            setter.end_set_parameter(param);
            button.on_since = None;
        }
        _ => {}
    }
}

/// Maps beats and keys to points of the roll's rectangle.
struct RollGeometry {
    /// The rectangle of the note area.
    rect: Rect,
    /// The first beat shown (left edge).
    start_beats: f64,
    /// The last beat shown (right edge).
    end_beats: f64,
    /// The lowest key shown (bottom row).
    low_key: u8,
    /// The highest key shown (top row).
    high_key: u8,
}

impl RollGeometry {
    /// The x of beat `beats`.
    fn x(&self, beats: f64) -> f32 {
        let t = (beats - self.start_beats) / (self.end_beats - self.start_beats);
        self.rect.left() + t as f32 * self.rect.width()
    }

    /// Height of one key's row.
    fn row_height(&self) -> f32 {
        self.rect.height() / f32::from(self.high_key - self.low_key + 1)
    }

    /// The top y of key `key`'s row.
    fn row_top(&self, key: u8) -> f32 {
        self.rect.top() + f32::from(self.high_key - key) * self.row_height()
    }

    /// The rectangle of a note.
    fn note_rect(&self, note: &RollNote) -> Rect {
        let top = self.row_top(note.key);
        let left = self.x(note.start_beats);
        let right = self.x(note.end_beats).max(left + 2.0);
        Rect::from_min_max(
            Pos2::new(left, top + 1.0),
            Pos2::new(right - 1.0, top + self.row_height() - 1.0),
        )
    }
}

/// The number of the bar that starts at `beats`, counting from bar 1 at beat 0, for bars of
/// `bar_len_beats` with a bar line at `bar_origin_beats`.
fn bar_number(beats: f64, bar_origin_beats: f64, bar_len_beats: f64) -> i64 {
    let from_origin = ((beats - bar_origin_beats) / bar_len_beats).round() as i64;
    let origin_bar = (bar_origin_beats / bar_len_beats + 1e-9).floor() as i64;
    origin_bar + from_origin + 1
}

/// Whether `key` is a black key.
fn is_black_key(key: u8) -> bool {
    matches!(key % 12, 1 | 3 | 6 | 8 | 10)
}

/// The piano roll: key rows, beat and bar lines with bar numbers, the call and the answer in
/// their colours, and the playhead.
fn piano_roll(ui: &mut Ui, roll: &RollView, shared: &Shared) {
    let size = ui.available_size().max(Vec2::new(200.0, 120.0));
    let (response, painter) = ui.allocate_painter(size, Sense::hover());
    let outer = response.rect;
    painter.rect_filled(outer, 4.0, Color32::from_rgb(20, 21, 25));

    let bar_origin = shared.bar_origin_beats.load(Ordering::Relaxed);
    let bar_len = shared.bar_len_beats.load(Ordering::Relaxed).max(0.25);
    let (Some((start_beats, end_beats)), Some((low_key, high_key))) =
        (roll.time_span_beats(bar_origin, bar_len), roll.key_span(24))
    else {
        painter.text(
            outer.center(),
            Align2::CENTER_CENTER,
            "Play a phrase: Antiphon answers it here",
            FontId::proportional(16.0),
            Color32::GRAY,
        );
        return;
    };
    let key_column = 34.0;
    let header = 18.0;
    let geometry = RollGeometry {
        rect: Rect::from_min_max(
            outer.min + Vec2::new(key_column, header),
            outer.max - Vec2::new(4.0, 4.0),
        ),
        start_beats,
        end_beats,
        low_key,
        high_key,
    };
    let rect = geometry.rect;
    let small = FontId::monospace(11.0);

    // Key rows, with the Cs named.
    for key in low_key..=high_key {
        let top = geometry.row_top(key);
        let row = Rect::from_min_max(
            Pos2::new(rect.left(), top),
            Pos2::new(rect.right(), top + geometry.row_height()),
        );
        let colour = if is_black_key(key) {
            BLACK_ROW_COLOUR
        } else {
            ROW_COLOUR
        };
        painter.rect_filled(row, 0.0, colour);
        if key % 12 == 0 {
            let octave = i32::from(key / 12) - 1;
            painter.text(
                Pos2::new(outer.left() + 4.0, row.center().y),
                Align2::LEFT_CENTER,
                format!("C{octave}"),
                small.clone(),
                Color32::LIGHT_GRAY,
            );
            painter.hline(
                rect.x_range(),
                row.bottom(),
                Stroke::new(1.0, Color32::from_gray(60)),
            );
        }
    }

    // The answer's stretch of time.
    let answer_span = Rect::from_min_max(
        Pos2::new(geometry.x(roll.answer_start_beats), rect.top()),
        Pos2::new(geometry.x(roll.answer_end_beats), rect.bottom()),
    );
    painter.rect_filled(answer_span, 0.0, ANSWER_TINT);

    // Beat and bar lines, with bar numbers.
    let mut beat = start_beats.ceil();
    while beat <= end_beats {
        let x = geometry.x(beat);
        let bar_position = (beat - bar_origin) / bar_len;
        let on_bar = (bar_position - bar_position.round()).abs() < 1e-6;
        if on_bar {
            painter.vline(x, rect.y_range(), Stroke::new(1.5, Color32::from_gray(150)));
            if beat < end_beats {
                painter.text(
                    Pos2::new(x + 3.0, outer.top() + 2.0),
                    Align2::LEFT_TOP,
                    format!("bar {}", bar_number(beat, bar_origin, bar_len)),
                    small.clone(),
                    Color32::LIGHT_GRAY,
                );
            }
        } else {
            painter.vline(x, rect.y_range(), Stroke::new(1.0, Color32::from_gray(55)));
        }
        beat += 1.0;
    }

    // The notes.
    for (notes, colour) in [(&roll.call, CALL_COLOUR), (&roll.answer, ANSWER_COLOUR)] {
        for note in notes {
            painter.rect_filled(geometry.note_rect(note), 2.0, colour);
        }
    }
    painter.rect_stroke(
        rect,
        0.0,
        Stroke::new(1.0, Color32::from_gray(90)),
        StrokeKind::Outside,
    );

    // Legend.
    let legend_y = outer.top() + 2.0;
    let mut x = outer.right() - 150.0;
    for (name, colour) in [("call", CALL_COLOUR), ("answer", ANSWER_COLOUR)] {
        painter.rect_filled(
            Rect::from_min_size(Pos2::new(x, legend_y + 2.0), Vec2::new(10.0, 10.0)),
            2.0,
            colour,
        );
        painter.text(
            Pos2::new(x + 14.0, legend_y),
            Align2::LEFT_TOP,
            name,
            small.clone(),
            Color32::LIGHT_GRAY,
        );
        x += 70.0;
    }

    // The playhead, while the timeline is the roll's and inside it.
    let playhead = shared.playhead_beats.load(Ordering::Acquire);
    let same_epoch = shared.epoch.load(Ordering::Acquire) == roll.epoch;
    if same_epoch && (start_beats..=end_beats).contains(&playhead) {
        let x = geometry.x(playhead);
        painter.vline(x, rect.y_range(), Stroke::new(2.0, PLAYHEAD_COLOUR));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_a_saved_size_when_loaded_then_the_editor_opens_at_that_size() {
        let state = EditorState::default();
        assert_eq!(
            state.size(),
            EditorSize {
                width: DEFAULT_SIZE.0,
                height: DEFAULT_SIZE.1
            }
        );
        let saved = EditorSize {
            width: 900,
            height: 600,
        };
        state.set(saved);
        assert_eq!(state.size(), saved);
        assert_eq!(state.map(|s| s.width), 900);
    }

    #[test]
    fn given_a_saved_size_below_the_minimum_when_loaded_then_it_is_raised_to_the_minimum() {
        let state = EditorState::default();
        state.set(EditorSize {
            width: 10,
            height: 10,
        });
        assert_eq!(
            state.size(),
            EditorSize {
                width: MIN_SIZE.0 as u32,
                height: MIN_SIZE.1 as u32
            }
        );
    }

    #[test]
    fn given_each_worker_status_when_shown_then_only_failures_are_errors() {
        assert_eq!(error_text(WorkerStatus::Ready, ""), None);
        assert_eq!(error_text(WorkerStatus::Loading, ""), None);
        let missing = error_text(WorkerStatus::RuntimeMissing, "libonnxruntime.so not found");
        assert!(
            missing
                .as_deref()
                .is_some_and(|t| t.contains("ONNX Runtime") && t.contains("not found")),
            "{missing:?}"
        );
        let refused = error_text(WorkerStatus::ModelRefused, "");
        assert!(refused.is_some_and(|t| t.contains("refused")));
        let failed = error_text(WorkerStatus::Failed, "the worker panicked: boom");
        assert!(
            failed
                .as_deref()
                .is_some_and(|t| t.contains("restarts") && t.contains("boom")),
            "{failed:?}"
        );
    }

    #[test]
    fn given_a_worker_that_failed_and_restarted_when_shown_then_a_note_says_so() {
        assert_eq!(failure_note(WorkerStatus::Ready, 0, ""), None);
        assert_eq!(failure_note(WorkerStatus::Failed, 1, "boom"), None);
        let once = failure_note(WorkerStatus::Ready, 1, "boom");
        assert_eq!(
            once.as_deref(),
            Some("The worker failed once and was restarted. Last: boom")
        );
        let three = failure_note(WorkerStatus::Loading, 3, "boom");
        assert!(three.is_some_and(|t| t.contains("failed 3 times")));
    }

    #[test]
    fn given_bar_lines_when_numbered_then_bar_one_starts_at_beat_zero() {
        // 4/4 with the host's bar line at beat 12: beat 4 starts bar 2, beat 12 bar 4.
        assert_eq!(bar_number(4.0, 12.0, 4.0), 2);
        assert_eq!(bar_number(12.0, 12.0, 4.0), 4);
        assert_eq!(bar_number(0.0, 0.0, 4.0), 1);
        // 3/4 with a bar line at beat 6: bar 3; beat 9 starts bar 4.
        assert_eq!(bar_number(9.0, 6.0, 3.0), 4);
    }

    #[test]
    fn given_a_geometry_when_mapping_then_beats_and_keys_land_in_the_rectangle() {
        let geometry = RollGeometry {
            rect: Rect::from_min_size(Pos2::new(10.0, 20.0), Vec2::new(160.0, 120.0)),
            start_beats: 4.0,
            end_beats: 12.0,
            low_key: 60,
            high_key: 71,
        };
        assert_eq!(geometry.x(4.0), 10.0);
        assert_eq!(geometry.x(8.0), 90.0);
        assert_eq!(geometry.x(12.0), 170.0);
        assert_eq!(geometry.row_height(), 10.0);
        assert_eq!(geometry.row_top(71), 20.0);
        assert_eq!(geometry.row_top(60), 130.0);
        let note = RollNote {
            key: 60,
            start_beats: 4.0,
            end_beats: 5.0,
        };
        let r = geometry.note_rect(&note);
        assert_eq!((r.left(), r.right()), (10.0, 29.0));
        assert_eq!((r.top(), r.bottom()), (131.0, 139.0));
        assert!(is_black_key(61) && !is_black_key(60) && is_black_key(70));
    }
}
