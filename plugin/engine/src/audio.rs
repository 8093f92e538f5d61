//! The audio thread's engine: owned by `process`, it stamps the player's notes in beats and
//! hands them to the worker, passes them through, and turns the worker's answers into note
//! events at exact sample offsets. It allocates nothing after construction, takes no lock and
//! never waits.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::chords::{ChordInput, ChordKeys};
use crate::clock::{BlockTime, HostTransport, MusicalClock};
use crate::input_log::InputLog;
use crate::mode::JamControl;
use crate::output::{Output, OutputEvent, Owner};
use crate::player::{AnswerPlayer, Due};
use crate::queues::{
    AnswerConsumer, AnswerNote, CaptureEvent, CaptureProducer, NoteKind, NoteRole,
};
use crate::shared::Shared;
use crate::tracker::NoteTracker;

/// Capacity of one block's input, in events; more are passed through unseen by the jam.
pub const INPUT_CAPACITY: usize = 4096;

/// A MIDI event from the host, at a sample offset inside the current block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputEvent {
    /// A key went down (a note-on with velocity 0 is a [`InputEvent::NoteOff`]).
    NoteOn {
        /// Sample offset inside the block.
        offset: u32,
        /// MIDI channel, 0..=15.
        channel: u8,
        /// MIDI key.
        key: u8,
        /// MIDI velocity, 1..=127.
        velocity: u8,
    },
    /// A key went up.
    NoteOff {
        /// Sample offset inside the block.
        offset: u32,
        /// MIDI channel, 0..=15.
        channel: u8,
        /// MIDI key.
        key: u8,
    },
    /// All notes off (CC 123) or all sound off (CC 120): a panic on that channel.
    AllNotesOff {
        /// Sample offset inside the block.
        offset: u32,
        /// MIDI channel, 0..=15.
        channel: u8,
    },
    /// A momentary jam control (from a parameter, a learned CC or the editor).
    Control {
        /// Sample offset inside the block.
        offset: u32,
        /// Which control.
        control: JamControl,
    },
}

impl InputEvent {
    /// The same event at another sample offset.
    pub fn with_offset(self, offset: u32) -> Self {
        match self {
            Self::NoteOn {
                channel,
                key,
                velocity,
                ..
            } => Self::NoteOn {
                offset,
                channel,
                key,
                velocity,
            },
            Self::NoteOff { channel, key, .. } => Self::NoteOff {
                offset,
                channel,
                key,
            },
            Self::AllNotesOff { channel, .. } => Self::AllNotesOff { offset, channel },
            Self::Control { control, .. } => Self::Control { offset, control },
        }
    }

    /// The event's sample offset.
    pub fn offset(&self) -> u32 {
        match *self {
            Self::NoteOn { offset, .. }
            | Self::NoteOff { offset, .. }
            | Self::AllNotesOff { offset, .. }
            | Self::Control { offset, .. } => offset,
        }
    }
}

/// The settings the audio side needs for one block.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AudioSettings {
    /// Pass the player's notes through.
    pub midi_thru: bool,
    /// Channel of answer notes, 0..=15.
    pub out_channel: u8,
    /// New input cuts a playing answer short.
    pub interrupt: bool,
    /// Bypassed: input passes unchanged, no answers.
    pub bypassed: bool,
    /// Tempo used when the host gives none, in quarter notes per minute.
    pub fallback_tempo_bpm: f64,
    /// The MIDI channel (0..=15) the jam listens to; `None`: every channel. Notes on other
    /// channels pass through unheard (an Improv model's chord channel is always heard).
    pub listen_channel: Option<u8>,
    /// A key that acts as the Continue control instead of sounding (on any channel).
    pub continue_key: Option<u8>,
}

impl Default for AudioSettings {
    fn default() -> Self {
        Self {
            midi_thru: true,
            out_channel: 0,
            interrupt: false,
            bypassed: false,
            fallback_tempo_bpm: crate::clock::DEFAULT_TEMPO_BPM,
            listen_channel: None,
            continue_key: None,
        }
    }
}

/// What one block produced.
#[derive(Debug)]
pub struct BlockOutput<'a> {
    /// Note events in time order (at equal offsets, in the order they happened).
    pub events: &'a [OutputEvent],
    /// Whether notes sound or wait: the host must keep calling even if the audio is silent.
    pub keep_alive: bool,
    /// Where the block sat on the timeline.
    pub time: BlockTime,
}

/// The audio side of one instance.
pub struct AudioEngine {
    /// Musical time of each block.
    clock: MusicalClock,
    /// Captured input to the worker.
    capture: CaptureProducer,
    /// Answers from the worker.
    answers: AnswerConsumer,
    /// State shared with the worker and editor.
    shared: Arc<Shared>,
    /// Answer scheduling.
    player: AnswerPlayer,
    /// Every emitted note, and the block's events.
    output: Output,
    /// When recent captured events happened.
    log: InputLog,
    /// The player's melody keys that are down (in the current epoch).
    held: NoteTracker,
    /// The player's chord keys that are down (in the current epoch).
    chord_keys: ChordKeys,
    /// Where chord notes come from in this block; `None` when the model reads no chords (every
    /// note is melody).
    chord_input: Option<ChordInput>,
    /// This block's input, sorted by offset; capacity fixed.
    inputs: Vec<InputEvent>,
    /// The current timeline epoch.
    epoch: u32,
    /// End every note and start over at the next block (reset, deactivate, panic).
    release_all_pending: bool,
    /// Whether the previous block was bypassed.
    was_bypassed: bool,
    /// [`Shared::worker_failures`] as last seen: when it changes, the worker failed and was
    /// restarted, so every answer note ends and the jam starts over.
    failures_seen: u64,
}

impl AudioEngine {
    /// The audio side over its ends of the two rings.
    pub fn new(shared: Arc<Shared>, capture: CaptureProducer, answers: AnswerConsumer) -> Self {
        let epoch = shared.epoch.load(Ordering::Acquire);
        let failures_seen = shared.worker_failures.load(Ordering::Acquire);
        Self {
            clock: MusicalClock::new(),
            capture,
            answers,
            shared,
            player: AnswerPlayer::new(),
            output: Output::new(),
            log: InputLog::new(),
            held: NoteTracker::new(),
            chord_keys: ChordKeys::new(),
            chord_input: None,
            inputs: Vec::with_capacity(INPUT_CAPACITY),
            epoch,
            release_all_pending: false,
            was_bypassed: false,
            failures_seen,
        }
    }

    /// Asks for every sounding note (passed-through ones too) to end at the start of the next
    /// block, and for the jam to start over. Real-time safe: call it from `reset()` or when
    /// deactivating, where no events can be sent.
    pub fn release_all_next_block(&mut self) {
        self.release_all_pending = true;
        self.clock.reset();
    }

    /// Number of player events handed to the worker so far.
    pub fn captured_events(&self) -> u64 {
        self.log.count()
    }

    /// Whether any note this engine emitted is still sounding.
    pub fn any_sounding(&self) -> bool {
        self.output.any_sounding()
    }

    /// Processes one block of `len_samples` samples: `input` are the host's note events in this
    /// block. Returns the note events to send, in time order.
    pub fn process_block(
        &mut self,
        transport: &HostTransport,
        len_samples: u32,
        sample_rate: f64,
        settings: &AudioSettings,
        input: impl IntoIterator<Item = InputEvent>,
    ) -> BlockOutput<'_> {
        self.output.begin_block();
        self.inputs.clear();
        let last = len_samples.saturating_sub(1);
        for event in input {
            if self.inputs.len() == INPUT_CAPACITY {
                break;
            }
            let event = match event {
                InputEvent::NoteOn {
                    offset,
                    channel,
                    key,
                    velocity: 0,
                } => InputEvent::NoteOff {
                    offset,
                    channel,
                    key,
                },
                other => other,
            };
            self.inputs
                .push(event.with_offset(event.offset().min(last)));
        }
        // Hosts send events in order; make sure without allocating (stable by construction of
        // the key: offset then arrival index is not needed because equal offsets keep order
        // under insertion sort).
        insertion_sort_by_offset(&mut self.inputs);

        self.chord_input = self
            .shared
            .model_uses_chords
            .load(Ordering::Acquire)
            .then(|| self.shared.settings.chord_input());

        let time = self.clock.advance(
            transport,
            len_samples,
            sample_rate,
            settings.fallback_tempo_bpm,
        );
        // The worker failed since the last block: what it sent (or was sending) is void, and
        // its answer notes end now; the player's notes passing through go on.
        let failures = self.shared.worker_failures.load(Ordering::Acquire);
        let worker_failed = failures != self.failures_seen;
        self.failures_seen = failures;
        if self.release_all_pending {
            self.release_all_pending = false;
            self.output.release(0, Owner::Thru);
            self.restart(0);
        } else if time.jumped || worker_failed {
            self.restart(0);
        }

        if settings.bypassed {
            if !self.was_bypassed {
                self.restart(0);
            }
            self.was_bypassed = true;
            while self.answers.pop().is_some() {}
            for i in 0..self.inputs.len() {
                self.pass_through(self.inputs[i]);
            }
        } else {
            if self.was_bypassed {
                self.restart(0);
                self.was_bypassed = false;
            }
            while let Some(msg) = self.answers.pop() {
                self.player.receive(msg, self.epoch, &self.log);
            }
            self.play_block(&time, settings);
        }

        let shared = &self.shared;
        shared.tempo_bpm.store(time.tempo_bpm, Ordering::Relaxed);
        shared
            .block_len_beats
            .store(time.end_beats - time.start_beats, Ordering::Relaxed);
        shared
            .bar_len_beats
            .store(time.bar_len_beats, Ordering::Relaxed);
        shared
            .bar_origin_beats
            .store(time.bar_origin_beats, Ordering::Relaxed);
        shared
            .host_playing
            .store(time.host_playing, Ordering::Relaxed);
        shared
            .late_notes
            .store(self.player.late_notes(), Ordering::Relaxed);
        shared
            .answers_played
            .store(self.player.answers_played(), Ordering::Relaxed);
        shared.epoch.store(self.epoch, Ordering::Release);
        shared
            .playhead_beats
            .store(time.end_beats, Ordering::Release);

        let keep_alive = self.output.any_sounding() || self.player.is_busy();
        BlockOutput {
            events: self.output.finish_block(),
            keep_alive,
            time,
        }
    }

    /// Ends every answer note at `offset`, forgets every answer and the call in progress, and
    /// starts a new epoch.
    fn restart(&mut self, offset: u32) {
        self.output.release(offset, Owner::Answer);
        self.player.clear();
        self.held = NoteTracker::new();
        self.chord_keys.clear();
        self.epoch = self.epoch.wrapping_add(1);
    }

    /// Interleaves this block's input with the answer notes that fall in it, in time order.
    fn play_block(&mut self, time: &BlockTime, settings: &AudioSettings) {
        self.player.begin_block();
        let mut next_input = 0;
        loop {
            let due = self.player.next_due(time);
            let input = self.inputs.get(next_input).copied();
            // At equal offsets: answer note-offs, then input, then answer note-ons.
            let take_input = match (due, input) {
                (_, None) => false,
                (None, Some(_)) => true,
                (Some(Due::Late), Some(_)) => false,
                (Some(Due::Off { offset, .. }), Some(e)) => e.offset() < offset,
                (Some(Due::On { offset }), Some(e)) => e.offset() <= offset,
            };
            if take_input {
                if let Some(event) = input {
                    self.on_input(event, time, settings);
                }
                next_input += 1;
                continue;
            }
            match due {
                None => break,
                Some(Due::Late) => self.player.skip_first(),
                Some(Due::Off { offset, index }) => {
                    let note = self.player.end_sounding(index);
                    self.output
                        .note_off(offset, Owner::Answer, note.channel, note.key);
                }
                Some(Due::On { offset }) => {
                    if let Some(note) = self.player.take_first() {
                        let channel = resolve_channel(note.channel, settings.out_channel);
                        if self.output.note_on(
                            offset,
                            Owner::Answer,
                            channel,
                            note.key,
                            note.velocity,
                        ) == Some(Owner::Answer)
                        {
                            // An earlier answer note on this key was cut: its off is not ours.
                            self.player.forget_sounding(channel, note.key);
                        }
                        self.player.push_sounding(&note, channel, offset);
                    }
                }
            }
        }
        self.player.retire_finished(time.end_beats);
    }

    /// One input event of the player.
    fn on_input(&mut self, event: InputEvent, time: &BlockTime, settings: &AudioSettings) {
        let beats = time.beats_at(event.offset());
        // Only key-downs are filtered: every key-up takes the usual path below, which ends
        // whatever that key has sounding (thru) and is harmless for a key never heard, so no
        // note hangs when these settings change while a key is down.
        if let InputEvent::NoteOn {
            offset,
            channel,
            key,
            ..
        } = event
        {
            if settings.continue_key == Some(key) {
                self.on_control(offset, JamControl::Continue, beats);
                return;
            }
            let chord_channel = matches!(
                self.chord_input,
                Some(ChordInput::Channel(c)) if c == channel
            );
            if settings.listen_channel.is_some_and(|c| c != channel) && !chord_channel {
                if settings.midi_thru {
                    self.pass_through(event);
                }
                return;
            }
        }
        match event {
            InputEvent::NoteOn {
                offset,
                channel,
                key,
                velocity,
            } => {
                let is_chord = self
                    .chord_input
                    .is_some_and(|input| input.is_chord_note(channel, key))
                    && !self.held.is_on(channel, key);
                if is_chord {
                    let role = if self.chord_keys.press(channel, key) {
                        NoteRole::ChordChange
                    } else {
                        NoteRole::Chord
                    };
                    self.capture(NoteKind::On, channel, key, velocity, beats, role);
                    if role == NoteRole::ChordChange {
                        self.player.chord_changed_at(beats);
                    }
                } else {
                    self.held.note_on(channel, key);
                    self.capture(
                        NoteKind::On,
                        channel,
                        key,
                        velocity,
                        beats,
                        NoteRole::Melody,
                    );
                    self.player.cancel_calls_ending_after(beats);
                    if settings.interrupt {
                        let output = &mut self.output;
                        self.player.interrupt_at(beats, |s| {
                            output.note_off(offset, Owner::Answer, s.channel, s.key);
                        });
                    }
                }
                if settings.midi_thru {
                    self.pass_through(event);
                }
            }
            InputEvent::NoteOff { channel, key, .. } => {
                if let Some(changed) = self.chord_keys.release(channel, key) {
                    let role = if changed {
                        NoteRole::ChordChange
                    } else {
                        NoteRole::Chord
                    };
                    self.capture(NoteKind::Off, channel, key, 0, beats, role);
                    if changed {
                        self.player.chord_changed_at(beats);
                    }
                } else if self.held.note_off(channel, key) {
                    self.capture(NoteKind::Off, channel, key, 0, beats, NoteRole::Melody);
                    self.player.cancel_calls_ending_after(beats);
                }
                self.pass_through(event);
            }
            InputEvent::AllNotesOff { offset, channel } => {
                self.output.release_channel(offset, Owner::Thru, channel);
                self.restart(offset);
            }
            InputEvent::Control { offset, control } => self.on_control(offset, control, beats),
        }
    }

    /// A momentary control at `beats`. Panic ends every note at once (thru notes too) and starts
    /// over; the others go to the worker in order with the notes.
    fn on_control(&mut self, offset: u32, control: JamControl, beats: f64) {
        match control {
            JamControl::Panic => {
                self.output.release(offset, Owner::Thru);
                self.restart(offset);
            }
            JamControl::EndCall | JamControl::Mutate | JamControl::Continue => {
                if control == JamControl::EndCall {
                    // The call ends here: an answer planned for a later end no longer stands.
                    self.player.cancel_calls_ending_after(beats);
                }
                self.capture(
                    NoteKind::Control,
                    0,
                    control as u8,
                    0,
                    beats,
                    NoteRole::Control,
                );
            }
        }
    }

    /// Sends a player's event on unchanged (thru or bypass).
    fn pass_through(&mut self, event: InputEvent) {
        match event {
            InputEvent::NoteOn {
                offset,
                channel,
                key,
                velocity,
            } => {
                if self
                    .output
                    .note_on(offset, Owner::Thru, channel, key, velocity)
                    == Some(Owner::Answer)
                {
                    self.player.forget_sounding(channel, key);
                }
            }
            InputEvent::NoteOff {
                offset,
                channel,
                key,
            } => {
                self.output.note_off(offset, Owner::Thru, channel, key);
            }
            InputEvent::AllNotesOff { offset, channel } => {
                self.output.release_channel(offset, Owner::Thru, channel);
            }
            // Bypassed, a control does nothing but Panic.
            InputEvent::Control {
                offset,
                control: JamControl::Panic,
            } => self.output.release(offset, Owner::Thru),
            InputEvent::Control { .. } => {}
        }
    }

    /// Records a captured event and hands it to the worker.
    fn capture(
        &mut self,
        kind: NoteKind,
        channel: u8,
        key: u8,
        velocity: u8,
        beats: f64,
        role: NoteRole,
    ) {
        let seq = self.log.record(beats, role);
        let event = CaptureEvent {
            kind,
            channel,
            key,
            velocity,
            beats,
            epoch: self.epoch,
            seq,
            role,
        };
        if !self.capture.push(event) {
            self.shared.dropped_events.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The channel an answer note plays on.
fn resolve_channel(channel: u8, out_channel: u8) -> u8 {
    if channel == AnswerNote::OUTPUT_CHANNEL {
        out_channel & 0x0f
    } else {
        channel & 0x0f
    }
}

/// Stable in-place sort by offset; input is almost always sorted already, so this is linear.
fn insertion_sort_by_offset(events: &mut [InputEvent]) {
    for i in 1..events.len() {
        let mut j = i;
        while j > 0 && events[j - 1].offset() > events[j].offset() {
            events.swap(j - 1, j);
            j -= 1;
        }
    }
}
