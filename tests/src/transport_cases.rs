//! The transport cases of the jam (issue 5, items 2 and 8), each run against the bundled plugin
//! in each jam mode: playing, stopped (own clock at the host's tempo), loop wrap, seek, tempo
//! change and tempo ramp in the middle of Antiphon's playing, 3/4 and 7/8, a sample-rate change
//! (reactivation at another rate), random block sizes 1..=4096, bypass, and deactivate /
//! reactivate.
//!
//! Every case drives a short, realistic jam through a [`Session`] (48 kHz, 512-sample blocks,
//! 120 BPM, 4/4 unless the case is about one of those), applies its transport event while an
//! answer note of Antiphon sounds, goes on jamming, ends by stopping the transport, and checks:
//! - no stuck note: on every channel every note-on got its note-off and every note-off ended a
//!   note, and no answer note was struck again while it sounded;
//! - every block's events in non-decreasing time order and inside the block;
//! - every answer note-on on the Melody model's 16th grid of the clock the plugin must follow
//!   (the host's position in beats while the transport plays, the own clock while it is
//!   stopped), to half a sample; and inside the windows where the mode has Antiphon play, whose
//!   bar lines are those of the host's time signature;
//! - answer notes sounding at a jump (stop, seek, loop wrap, bypass, reactivation) end exactly at
//!   the jump, and Antiphon plays again afterwards;
//! - MIDI thru exact (bypass: with thru off, the input passes unchanged only while bypassed).
//!
//! The plugin is built with `assert_process_allocs`, so any allocation in `process` aborts.
//!
//! How each mode is made to play, one "round" from a bar line `b0` (bar length `L`; rounds start
//! on multiples of the mode's round length, [`Mode::round_bars`]):
//! - Call and Response: a call of eighth notes from `b0`; the answer follows the call's end plus
//!   one beat of silence on the next bar line, as many bars as the call (one).
//! - Trade ("Trade Bars" at its default, 2): turns of two bars from the timeline's bar 0, the
//!   player's first; the player plays right up to the end of the turn `b0..b0+2L`, Antiphon
//!   answers in its turn `b0+2L..b0+4L`.
//! - Accompany: the player plays in bars `b0` and `b0+L`; Antiphon plays bar after bar from the
//!   first bar line after the player's first note for as long as the player played within "Max
//!   Call Length" bars (8), so up to the next jump of the transport.
//! - Continue: the call, then the Continue button half a beat after its last note; the
//!   continuation starts on the next bar line, as long as the phrase (one bar).
//!
//! A window where Antiphon may play holds from where its round was placed until the next jump;
//! a loop's windows hold again after each wrap. A model may rest through a whole answer, so a
//! case plays up to [`ATTEMPTS`] rounds to get an answer note sounding before its event, and as
//! many to get an answer after it.

use crate::antiphon::{
    ANSWER_CHANNEL, CALL_CHANNEL, PLUGIN_ID, check_thru, configure_channel_2_with_thru, param,
};
use crate::events::{InputKind, OutEvent, OutKind};
use crate::host::PluginInstance;
use crate::jam::PhraseNote;
use crate::session::{BlockSizes, Session, TempoRamp};

/// Grid steps per quarter note of the default Melody model (16th notes).
pub const STEPS_PER_QUARTER: f64 = 4.0;
/// The silence that ends a call ("Silence" at its default), in beats.
pub const SILENCE_BEATS: f64 = 1.0;
/// How far an answer note-on may be from its grid line, in samples (rounding to a sample).
pub const GRID_TOLERANCE_SAMPLES: f64 = 0.5 + 1e-6;
/// Rounds a case plays to get Antiphon to answer before it gives up (a model may rest through a
/// whole answer).
pub const ATTEMPTS: usize = 3;
/// "Trade Bars" at its default.
pub const TRADE_BARS: f64 = 2.0;

/// A jam mode, as the "Mode" parameter names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// "Call and Response".
    CallResponse,
    /// "Trade".
    Trade,
    /// "Accompany".
    Accompany,
    /// "Continue".
    Continue,
}

impl Mode {
    /// The "Mode" parameter's text for this mode.
    pub fn param_text(self) -> &'static str {
        match self {
            Self::CallResponse => "Call and Response",
            Self::Trade => "Trade",
            Self::Accompany => "Accompany",
            Self::Continue => "Continue",
        }
    }

    /// Sets the mode on a plugin that is not active (every other parameter at its default).
    fn configure(self, plugin: &mut PluginInstance) {
        plugin
            .set_param_text("Mode", self.param_text())
            .unwrap_or_else(|e| panic!("setting Mode to {:?}: {e}", self.param_text()));
    }

    /// Bars of one round: the player's part and Antiphon's (Trade: two turns of two bars).
    pub fn round_bars(self) -> f64 {
        match self {
            Self::Trade => 2.0 * TRADE_BARS,
            _ => 2.0,
        }
    }
}

/// A transport case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    /// The transport plays throughout: two rounds.
    Playing,
    /// The transport stops while Antiphon plays; the player goes on with the transport stopped
    /// (host tempo 150 BPM): the own clock runs at the host's tempo.
    Stopped,
    /// A loop whose end falls in the middle of Antiphon's bar, three passes.
    LoopWrap,
    /// A seek forward while Antiphon plays, and a round at the new position.
    Seek,
    /// 120 → 150 BPM at once while Antiphon plays.
    TempoChange,
    /// 120 → 150 BPM over two bars, a new tempo every block, from the middle of Antiphon's bar.
    TempoRamp,
    /// 3/4: the answer's bar lines are those of 3/4 (the 4/4 ones would be a bar later).
    ThreeFour,
    /// 7/8: likewise.
    SevenEight,
    /// Deactivate at 44.1 kHz while Antiphon plays, reactivate at 96 kHz.
    SampleRateChange,
    /// Random block sizes 1..=4096, one-sample blocks included.
    BlockSizes,
    /// Bypass on while Antiphon plays, the player plays while bypassed, bypass off.
    Bypass,
    /// Deactivate and reactivate (same rate) while Antiphon plays.
    DeactivateReactivate,
}

/// One exchange between the player and Antiphon.
#[derive(Debug, Clone, PartialEq)]
pub struct Round {
    /// What the player plays.
    pub notes: Vec<PhraseNote>,
    /// When the player presses Continue (Continue mode), in beats.
    pub pulse_beats: Option<f64>,
    /// Where Antiphon plays in answer, in beats: `start..end`.
    pub window: (f64, f64),
}

/// `count` eighth notes from `start_beats`, each 0.4 beats long, on channel index 0.
pub fn eighths(start_beats: f64, count: usize) -> Vec<PhraseNote> {
    const KEYS: [u8; 8] = [60, 62, 64, 65, 67, 65, 64, 62];
    (0..count)
        .map(|i| PhraseNote {
            channel: CALL_CHANNEL,
            key: KEYS[i % KEYS.len()],
            velocity_midi: 100,
            start_beats: start_beats + 0.5 * i as f64,
            length_beats: 0.4,
        })
        .collect()
}

/// The first bar line at or after `beats` (bar lines at multiples of `bar_len_beats`).
pub fn bar_at_or_after(beats: f64, bar_len_beats: f64) -> f64 {
    (beats / bar_len_beats - 1e-9).ceil() * bar_len_beats
}

/// One round of `mode` from bar line `b0`, bars of `bar_len_beats`; `call_notes` eighths make
/// the call of Call and Response and Continue.
pub fn round(mode: Mode, b0: f64, bar_len_beats: f64, call_notes: usize) -> Round {
    let bar = bar_len_beats;
    match mode {
        Mode::CallResponse | Mode::Continue => {
            let notes = eighths(b0, call_notes);
            let last_off = b0 + 0.5 * (call_notes - 1) as f64 + 0.4;
            let (from, pulse_beats) = match mode {
                Mode::Continue => (last_off + 0.5, Some(last_off + 0.5)),
                _ => (last_off + SILENCE_BEATS, None),
            };
            let start = bar_at_or_after(from, bar);
            let bars = ((last_off - b0) / bar).ceil().max(1.0);
            Round {
                notes,
                pulse_beats,
                window: (start, start + bars * bar),
            }
        }
        Mode::Trade => {
            let turn = TRADE_BARS * bar;
            let count = ((turn - 0.4) / 0.5).floor() as usize + 1;
            Round {
                notes: eighths(b0, count),
                pulse_beats: None,
                window: (b0 + turn, b0 + 2.0 * turn),
            }
        }
        Mode::Accompany => {
            let mut notes = eighths(b0, 4);
            notes.extend(eighths(b0 + bar, 4));
            Round {
                notes,
                pulse_beats: None,
                window: (b0 + bar, f64::INFINITY),
            }
        }
    }
}

/// Where Antiphon may play: `start_beats..end_beats` of the reference clock, from session sample
/// `from_sample` until the next jump.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Window {
    /// First beat.
    start_beats: f64,
    /// End beat (exclusive).
    end_beats: f64,
    /// Where it starts to hold.
    from_sample: u64,
}

/// Where a jump made answer notes end: the session sample of the first block after it, and what
/// sounded just before.
#[derive(Debug, Clone, PartialEq)]
struct Cut {
    /// What happened.
    what: String,
    /// Session sample of the first block after the jump.
    sample: u64,
    /// Answer notes sounding just before: (channel, key, on sample).
    sounding: Vec<(u8, u8, u64)>,
}

/// A case being run: the session and what the checks need.
struct Run<'p> {
    /// The jam.
    session: Session<'p>,
    /// The mode.
    mode: Mode,
    /// Eighths in a Call and Response or Continue call.
    call_notes: usize,
    /// Where Antiphon may play.
    windows: Vec<Window>,
    /// Jumps whose sounding answer notes must end at once.
    cuts: Vec<Cut>,
    /// What went wrong.
    problems: Vec<String>,
    /// The param id of the Continue button.
    continue_id: u32,
}

impl Run<'_> {
    /// Places a round from bar line `b0` on the timeline.
    fn clip_round(&mut self, b0: f64) -> Round {
        let bar = self.session.bar_len_beats();
        let r = round(self.mode, b0, bar, self.call_notes);
        self.session.add_clip_notes(&r.notes);
        if let Some(p) = r.pulse_beats {
            self.session.add_clip_pulse(p, self.continue_id);
        }
        self.push_window(r.window, self.session.now_sample());
        r
    }

    /// Plays a round from bar line `b0` of the reference clock live (transport stopped).
    fn live_round(&mut self, b0: f64) -> Round {
        let bar = self.session.bar_len_beats();
        let r = round(self.mode, b0, bar, self.call_notes);
        self.session.schedule_live_notes(&r.notes).unwrap();
        if let Some(p) = r.pulse_beats {
            let sample = self.session.sample_at_clock(p);
            self.session.schedule_live_pulse(sample, self.continue_id);
        }
        self.push_window(r.window, self.session.now_sample());
        r
    }

    /// Lets Antiphon play in `window` from session sample `from_sample` until the next jump.
    fn push_window(&mut self, window: (f64, f64), from_sample: u64) {
        self.windows.push(Window {
            start_beats: window.0,
            end_beats: window.1,
            from_sample,
        });
    }

    /// One round's length in beats.
    fn round_beats(&self) -> f64 {
        self.mode.round_bars() * self.session.bar_len_beats()
    }

    /// Plays rounds on the timeline from `b0` (each next one at [`Self::next_round_start`]) until
    /// an answer note sounds in the first bar of a round's window (Accompany: its first two
    /// bars), at a block boundary with no player key down and at least half a beat before that
    /// range ends; there `what` is to happen. A model may rest through a whole answer, so up to
    /// [`ATTEMPTS`] rounds; a problem if none sounds (`what` then happens anyway).
    fn sound_from(&mut self, mut b0: f64, what: &str) {
        let bar = self.session.bar_len_beats();
        let bars = if self.mode == Mode::Accompany {
            2.0
        } else {
            1.0
        };
        for attempt in 1..=ATTEMPTS {
            let r = self.clip_round(b0);
            let (from, to) = (r.window.0, (r.window.0 + bars * bar).min(r.window.1) - 0.5);
            if self
                .session
                .run_until_sounding(ANSWER_CHANNEL, from, to)
                .unwrap()
            {
                return;
            }
            eprintln!("no answer note sounded in beats {from}..{to} (round {attempt})");
            b0 = self.next_round_start();
        }
        self.problems.push(format!(
            "no answer note sounded in {ATTEMPTS} rounds before {what} (it happens anyway)"
        ));
    }

    /// Plays rounds from `b0` (on the timeline while the transport plays, live while it is
    /// stopped) until one is answered in its window (up to [`ATTEMPTS`] rounds; each next one
    /// `period_beats` later, or at [`Self::next_round_start`]); a problem if none is.
    fn play_until_answered(&mut self, mut b0: f64, period_beats: Option<f64>, what: &str) {
        for attempt in 1..=ATTEMPTS {
            let from = self.session.now_sample();
            let r = if self.session.is_playing() {
                self.clip_round(b0)
            } else {
                self.live_round(b0)
            };
            let end = self.observe_end(&r);
            self.session.run_until_clock(end).unwrap();
            if answer_ons(&self.session, from)
                .iter()
                .any(|&(_, beats)| beats >= r.window.0 - 1e-6 && beats < r.window.1)
            {
                return;
            }
            eprintln!(
                "{what}: no answer note-on in beats {}..{} (round {attempt})",
                r.window.0, r.window.1
            );
            b0 = match period_beats {
                Some(period) => b0 + period,
                None => self.next_round_start(),
            };
        }
        self.problems
            .push(format!("{what}: no answer in {ATTEMPTS} rounds"));
    }

    /// Records a jump at the next block: the answer notes sounding now must end there.
    fn cut(&mut self, what: &str) {
        self.cuts.push(Cut {
            what: what.to_string(),
            sample: self.session.now_sample(),
            sounding: self.session.sounding_now(ANSWER_CHANNEL),
        });
    }

    /// The next round's start (a player's turn in Trade) at least a beat ahead of the clock.
    fn next_round_start(&self) -> f64 {
        bar_at_or_after(self.session.clock_now() + 1.0, self.round_beats())
    }

    /// After a jump: Accompany goes on from the first bar line after it while the player
    /// counts as active (notes from before the jump still do).
    fn jumped(&mut self) {
        if self.mode == Mode::Accompany {
            let bar = self.session.bar_len_beats();
            let start = bar_at_or_after(self.session.clock_now(), bar);
            self.push_window((start, f64::INFINITY), self.session.now_sample());
        }
    }

    /// Where to stop looking at round `r`: half a beat into the bar after its window's first bar
    /// (Accompany: the bar after its second bar).
    fn observe_end(&self, r: &Round) -> f64 {
        let bars = if self.mode == Mode::Accompany {
            2.0
        } else {
            1.0
        };
        r.window.0 + bars * self.session.bar_len_beats() + 0.5
    }

    /// Ends the jam: stops the transport (if it plays) and runs a quarter of a second more.
    /// What still sounds then (Accompany goes on while the player counts as active, up to "Max
    /// Call Length" bars) ends when the host deactivates and reactivates the plugin: at the
    /// start of the first block after.
    fn finish(&mut self) {
        if self.session.is_playing() {
            self.session.stop();
        }
        self.session.run_for_seconds(0.25).unwrap();
        if !self.session.sounding_now(ANSWER_CHANNEL).is_empty() {
            self.cut("deactivation at the end");
            let (rate, max_block) = (self.session.sample_rate(), self.session.max_block_samples());
            self.session.reactivate(rate, max_block).unwrap();
            self.session.run_block().unwrap();
        }
    }
}

/// Answer note-ons at or after session sample `from_sample`, with their reference-clock beats.
fn answer_ons(session: &Session<'_>, from_sample: u64) -> Vec<(OutEvent, f64)> {
    session
        .outputs()
        .iter()
        .filter(|e| e.channel == ANSWER_CHANNEL && e.kind == OutKind::On)
        .filter(|e| e.sample >= from_sample)
        .filter_map(|e| session.clock_beats_at(e.sample).map(|b| (*e, b)))
        .collect()
}

/// Loads the bundled plugin with "Output Channel" 2, thru on, the mode set, activates it at
/// `sample_rate` with blocks of up to `max_block_samples` and starts processing.
fn open(mode: Mode, sample_rate: f64, max_block_samples: u32, thru: bool) -> PluginInstance {
    let path = crate::bundle::bundle_plugin();
    let mut plugin = PluginInstance::load(&path, PLUGIN_ID)
        .unwrap_or_else(|e| panic!("loading {}: {e}", path.display()));
    configure_channel_2_with_thru(&mut plugin).unwrap();
    if !thru {
        plugin.set_param_by_name(param::MIDI_THRU, 0.0).unwrap();
    }
    mode.configure(&mut plugin);
    plugin.activate(sample_rate, 1, max_block_samples).unwrap();
    plugin.start_processing().unwrap();
    plugin
}

/// Runs `case` in `mode` and panics with every problem found.
pub fn run_case(mode: Mode, case: Case) {
    let (rate, max_block) = match case {
        Case::SampleRateChange => (44_100.0, 512),
        Case::BlockSizes => (48_000.0, 4_096),
        _ => (48_000.0, 512),
    };
    let thru = case != Case::Bypass;
    let mut plugin = open(mode, rate, max_block, thru);
    let continue_id = plugin.param("Continue").unwrap().id;
    let bypass_id = plugin.param("Bypass").unwrap().id;
    let tempo = if case == Case::Stopped { 150.0 } else { 120.0 };
    let session = Session::new(&mut plugin, rate, max_block, tempo).unwrap();
    let mut run = Run {
        session,
        mode,
        call_notes: 4,
        windows: Vec::new(),
        cuts: Vec::new(),
        problems: Vec::new(),
        continue_id,
    };
    let mut bypassed: Option<(u64, u64)> = None;
    let mut ramp_from_sample = None;
    let mut min_one_sample_blocks = 0;

    match case {
        Case::Playing => {
            run.session.play_from(0.0);
            run.play_until_answered(0.0, None, "first round");
            let b0 = run.next_round_start();
            run.play_until_answered(b0, None, "second round");
        }
        Case::Stopped => {
            run.session.play_from(0.0);
            run.sound_from(0.0, "the stop");
            run.cut("transport stop");
            run.session.stop();
            run.jumped();
            // The player goes on with the transport stopped, on the own clock's bars.
            let b0 = run.next_round_start();
            run.play_until_answered(b0, None, "with the transport stopped");
        }
        Case::LoopWrap => {
            let bar = run.session.bar_len_beats();
            let first = round(mode, 0.0, bar, run.call_notes);
            // In the middle of Antiphon's first bar (Accompany: of its second).
            let loop_end = if mode == Mode::Accompany {
                first.window.0 + 1.5 * bar
            } else {
                first.window.0 + 0.5 * bar
            };
            run.session.set_loop(Some((0.0, loop_end)));
            run.session.play_from(0.0);
            let a = run.clip_round(0.0);
            let seconds_per_beat = 60.0 / run.session.tempo_bpm();
            run.session
                .run_for_seconds(3.2 * loop_end * seconds_per_beat)
                .unwrap();
            run.session.set_loop(None);
            // Every wrap is a jump.
            let wraps: Vec<u64> = run
                .session
                .blocks()
                .iter()
                .skip(1)
                .filter(|b| b.jumped && b.transport.playing)
                .map(|b| b.start_sample)
                .collect();
            for &wrap in &wraps {
                run.push_window(a.window, wrap);
                if mode == Mode::Accompany {
                    run.push_window((0.0, f64::INFINITY), wrap);
                }
                let ledger = run.session.ledger(ANSWER_CHANNEL);
                run.cuts.push(Cut {
                    what: "loop wrap".to_string(),
                    sample: wrap,
                    sounding: ledger.sounding_before(wrap),
                });
            }
            if wraps.len() < 3 {
                run.problems
                    .push(format!("the loop wrapped {} times, not 3", wraps.len()));
            }
            if run.cuts.iter().all(|c| c.sounding.is_empty()) {
                run.problems
                    .push("no answer note was sounding at any loop wrap".to_string());
            }
            // The jam goes on after a wrap.
            if let Some(&first_wrap) = wraps.first()
                && answer_ons(&run.session, first_wrap).is_empty()
            {
                run.problems
                    .push("no answer note-on after the loop wrapped".to_string());
            }
        }
        Case::Seek => {
            run.session.play_from(0.0);
            run.sound_from(0.0, "the seek");
            run.cut("seek");
            let target = bar_at_or_after(
                run.session.clock_now() + 2.0 * run.session.bar_len_beats(),
                run.round_beats(),
            );
            run.session.seek(target);
            run.jumped();
            run.play_until_answered(target, None, "after the seek");
        }
        Case::TempoChange | Case::TempoRamp => {
            let bar = run.session.bar_len_beats();
            run.session.play_from(0.0);
            run.sound_from(0.0, "the tempo change");
            let from = run.session.now_sample();
            let b0 = run.next_round_start();
            if case == Case::TempoChange {
                run.session.set_tempo(150.0);
            } else {
                // Until the first bar of the next round's answer is over.
                let now = run.session.clock_now();
                let to_beats = round(mode, b0, bar, run.call_notes).window.0 + bar;
                run.session.set_ramp(TempoRamp {
                    from_beats: now,
                    to_beats,
                    from_bpm: 120.0,
                    to_bpm: 150.0,
                });
                ramp_from_sample = Some((from, to_beats));
            }
            run.play_until_answered(b0, None, "after the tempo change");
        }
        Case::ThreeFour | Case::SevenEight => {
            // Chosen so that the bar line of the signature and the 4/4 one differ: in 3/4 a call
            // from beat 6 ends at 8.9 (answer 9..12; 4/4 would be 12..16); in 7/8 a call from
            // beat 21 ends at 24.4 (answer 24.5..28; 4/4 would be 28..32). The same holds every
            // 12 (3/4) or 28 (7/8) beats.
            let (num, den, b0, period) = if case == Case::ThreeFour {
                (3, 4, 6.0, 12.0)
            } else {
                run.call_notes = 5;
                (7, 8, 21.0, 28.0)
            };
            run.session.set_time_signature(num, den);
            let bar = run.session.bar_len_beats();
            // Trade's rounds start on the player's turns.
            let b0 = bar_at_or_after(b0, run.round_beats());
            run.session.play_from(b0 - bar);
            let period = bar_at_or_after(period, run.round_beats());
            run.play_until_answered(b0, Some(period), "on the signature's bar line");
        }
        Case::SampleRateChange | Case::DeactivateReactivate => {
            run.session.play_from(0.0);
            run.sound_from(0.0, "the deactivation");
            run.cut("deactivate and reactivate");
            let (new_rate, what) = if case == Case::SampleRateChange {
                (96_000.0, "at 96 kHz")
            } else {
                (48_000.0, "after reactivation")
            };
            run.session.reactivate(new_rate, 512).unwrap();
            run.jumped();
            let b0 = run.next_round_start();
            run.play_until_answered(b0, None, what);
        }
        Case::BlockSizes => {
            run.session
                .set_block_sizes(BlockSizes::Random { seed: 0x5eed });
            run.session.play_from(0.0);
            run.play_until_answered(0.0, None, "first round");
            let b0 = run.next_round_start();
            run.play_until_answered(b0, None, "second round");
            min_one_sample_blocks = 10;
        }
        Case::Bypass => {
            run.session.play_from(0.0);
            run.sound_from(0.0, "bypass");
            run.cut("bypass on");
            run.session.set_param_next_block(bypass_id, 1.0).unwrap();
            let on_sample = run.session.now_sample();
            // The player plays four eighths (an octave up) while bypassed, from the next half
            // beat a quarter beat on; bypass goes off after them, when no key is down.
            let first = ((run.session.clock_now() + 0.25) * 2.0).ceil() / 2.0;
            let extra: Vec<PhraseNote> = eighths(first, 4)
                .into_iter()
                .map(|n| PhraseNote {
                    key: n.key + 12,
                    ..n
                })
                .collect();
            run.session.add_clip_notes(&extra);
            run.session.run_until_clock(first + 2.0).unwrap();
            while run.session.player_keys_down() {
                run.session.run_block().unwrap();
            }
            run.session.set_param_next_block(bypass_id, 0.0).unwrap();
            let off_sample = run.session.now_sample();
            run.jumped();
            bypassed = Some((on_sample, off_sample));
            let b0 = run.next_round_start();
            run.play_until_answered(b0, None, "after bypass");
        }
    }
    run.finish();

    check(&mut run, bypassed, ramp_from_sample, min_one_sample_blocks);
    let Run {
        session,
        problems,
        cuts,
        windows,
        ..
    } = run;
    let cut_summary: Vec<String> = cuts
        .iter()
        .map(|c| format!("{} at {} ({} sounding)", c.what, c.sample, c.sounding.len()))
        .collect();
    eprintln!(
        "{case:?} in {mode:?}: {} blocks, {} answer notes, windows {windows:?}, jumps {cut_summary:?}",
        session.stats().blocks,
        answer_ons(&session, 0).len(),
    );
    if !problems.is_empty() {
        let outputs = describe(&session);
        panic!(
            "{:?} in {:?}: {} problem(s):\n- {}\n\nthe plugin sent (session sample, reference \
             beats):\n{outputs}",
            case,
            mode,
            problems.len(),
            problems.join("\n- ")
        );
    }
}

/// Every output event with its reference-clock beat, one per line.
fn describe(session: &Session<'_>) -> String {
    session
        .outputs()
        .iter()
        .map(|e| {
            format!(
                "  {:?} ch{} key {} @ {} (beat {:.4})\n",
                e.kind,
                e.channel,
                e.key,
                e.sample,
                session.clock_beats_at(e.sample).unwrap_or(f64::NAN)
            )
        })
        .collect()
}

/// The checks every case shares (see the module docs); adds to `run.problems`.
fn check(
    run: &mut Run<'_>,
    bypassed: Option<(u64, u64)>,
    ramp: Option<(u64, f64)>,
    min_one_sample_blocks: usize,
) {
    let session = &run.session;
    let problems = &mut run.problems;
    let stats = session.stats();
    if stats.error_blocks > 0 {
        problems.push(format!(
            "{} blocks returned CLAP_PROCESS_ERROR",
            stats.error_blocks
        ));
    }
    if stats.out_of_block_events > 0 {
        problems.push(format!(
            "{} events pushed past their block",
            stats.out_of_block_events
        ));
    }
    if !stats.unordered_blocks.is_empty() {
        problems.push(format!(
            "events out of time order in the blocks at session samples {:?}",
            stats.unordered_blocks
        ));
    }

    // No stuck note, on any channel.
    let mut channels: Vec<u8> = session.outputs().iter().map(|e| e.channel).collect();
    channels.sort_unstable();
    channels.dedup();
    for channel in channels {
        let ledger = session.ledger(channel);
        if !ledger.is_balanced() {
            problems.push(format!(
                "channel index {channel}: note-ons without note-off {:?}, note-offs without \
                 note-on {:?}",
                ledger.unpaired_ons, ledger.offs_without_on
            ));
        }
        if channel == ANSWER_CHANNEL && !ledger.retriggers.is_empty() {
            problems.push(format!(
                "answer notes struck while sounding: {:?}",
                ledger.retriggers
            ));
        }
    }

    // Answer notes on the grid, in the mode's windows.
    for (event, beats) in answer_ons(session, 0) {
        // PANIC: answer_ons only returns events inside a recorded block.
        let block = session.block_at(event.sample).unwrap();
        let step = (beats * STEPS_PER_QUARTER).round() / STEPS_PER_QUARTER;
        let error_samples = (beats - step).abs() * block.samples_per_beat();
        if error_samples > GRID_TOLERANCE_SAMPLES {
            problems.push(format!(
                "answer note-on {event:?} at beat {beats:.6} is {error_samples:.2} samples off \
                 the 16th grid ({} BPM, {} Hz)",
                block.transport.tempo_bpm, block.sample_rate
            ));
        }
        // On the grid line the note is meant for (within rounding to a sample), in a window
        // that holds at its sample.
        let in_window = run.windows.iter().any(|w| {
            let until = run
                .cuts
                .iter()
                .map(|c| c.sample)
                .filter(|&c| c > w.from_sample)
                .min()
                .unwrap_or(u64::MAX);
            event.sample >= w.from_sample
                && event.sample < until
                && step >= w.start_beats - 1e-9
                && step < w.end_beats - 1e-9
        });
        if !in_window {
            problems.push(format!(
                "answer note-on {event:?} at beat {beats:.4} is outside the windows {:?} \
                 (jumps at {:?})",
                run.windows,
                run.cuts.iter().map(|c| c.sample).collect::<Vec<_>>()
            ));
        }
        if let Some((on, off)) = bypassed
            && event.sample >= on
            && event.sample < off
        {
            problems.push(format!("answer note-on {event:?} while bypassed"));
        }
    }

    // Notes sounding at a jump end there.
    for cut in &run.cuts {
        for &(channel, key, on_sample) in &cut.sounding {
            let ended_at = session.outputs().iter().find(|e| {
                e.kind == OutKind::Off
                    && e.channel == channel
                    && e.key == key
                    && e.sample >= cut.sample
            });
            match ended_at {
                Some(off) if off.sample == cut.sample => {}
                Some(off) => problems.push(format!(
                    "{}: answer note ch{channel} key {key} (on at {on_sample}) ended at session \
                     sample {}, not at the jump ({})",
                    cut.what, off.sample, cut.sample
                )),
                None => problems.push(format!(
                    "{}: answer note ch{channel} key {key} (on at {on_sample}) never ended",
                    cut.what
                )),
            }
        }
    }

    // Thru: exact; with bypass and thru off, exactly the input while bypassed.
    match bypassed {
        None => {
            if let Err(e) = check_thru(session.sent(), session.outputs(), CALL_CHANNEL) {
                problems.push(e);
            }
        }
        Some((on, off)) => {
            let sent_while: Vec<_> = session
                .sent()
                .iter()
                .filter(|s| s.sample >= on && s.sample < off)
                .filter(|s| !matches!(s.kind, InputKind::ParamValue { .. }))
                .copied()
                .collect();
            if sent_while.is_empty() {
                problems.push("the player played nothing while bypassed".to_string());
            }
            let out_while: Vec<OutEvent> = session
                .outputs()
                .iter()
                .filter(|e| e.channel == CALL_CHANNEL)
                .copied()
                .collect();
            if let Err(e) = check_thru(&sent_while, &out_while, CALL_CHANNEL) {
                problems.push(format!(
                    "bypassed with thru off, the input must pass unchanged while bypassed and \
                     not otherwise: {e}"
                ));
            }
        }
    }

    // The test's own premises.
    if let Some((from, to_beats)) = ramp {
        let tempos: Vec<f64> = session
            .blocks()
            .iter()
            .filter(|b| b.start_sample >= from && b.clock_beats < to_beats)
            .map(|b| b.transport.tempo_bpm)
            .collect();
        if tempos.windows(2).any(|w| w[1] <= w[0]) || tempos.len() < 100 {
            problems.push(format!(
                "the ramp did not raise the tempo every block ({} blocks)",
                tempos.len()
            ));
        }
        if answer_ons(session, from).iter().all(|&(e, _)| {
            session
                .block_at(e.sample)
                .is_none_or(|b| b.clock_beats >= to_beats)
        }) {
            problems.push("no answer note-on during the ramp".to_string());
        }
    }
    if min_one_sample_blocks > 0 {
        let ones = session.blocks().iter().filter(|b| b.frames == 1).count();
        if ones < min_one_sample_blocks {
            problems.push(format!("only {ones} one-sample blocks"));
        }
    }
}

/// Defines one `#[test]` per transport case for `$mode` (a [`Mode`] variant).
#[macro_export]
macro_rules! transport_case_tests {
    ($mode:expr) => {
        $crate::transport_case_tests!(@case $mode,
            playing => Playing,
            stopped => Stopped,
            loop_wrap => LoopWrap,
            seek => Seek,
            tempo_change => TempoChange,
            tempo_ramp => TempoRamp,
            three_four => ThreeFour,
            seven_eight => SevenEight,
            sample_rate_change => SampleRateChange,
            block_sizes => BlockSizes,
            bypass => Bypass,
            deactivate_reactivate => DeactivateReactivate
        );
    };
    (@case $mode:expr, $($name:ident => $case:ident),*) => {
        $(
            #[doc = concat!("The transport case `", stringify!($case), "` in this file's mode.")]
            #[test]
            fn $name() {
                $crate::transport_cases::run_case($mode, $crate::transport_cases::Case::$case);
            }
        )*
    };
}
