//! Events in and out of a process call.
//!
//! - [`InputEvent`]: what a test sends in one block (notes in the CLAP dialect, raw MIDI, parameter
//!   values), with its sample offset inside the block.
//! - [`InputEventList`]: those events laid out as CLAP structs, sorted by sample offset, behind a
//!   `clap_input_events` vtable.
//! - [`OutputEventList`]: the `clap_output_events` the plugin pushes into. CLAP note on/off events
//!   and MIDI `0x9n`/`0x8n` messages are normalised into one stream of [`OutEvent`]s (a MIDI note-on
//!   with velocity 0 is a note-off); parameter values the plugin reports are kept apart; anything
//!   else is counted.

use std::ffi::c_void;

use clap_sys::events::{
    CLAP_CORE_EVENT_SPACE_ID, CLAP_EVENT_MIDI, CLAP_EVENT_NOTE_OFF, CLAP_EVENT_NOTE_ON,
    CLAP_EVENT_PARAM_VALUE, CLAP_EVENT_TRANSPORT, clap_event_header, clap_event_midi,
    clap_event_note, clap_event_param_value, clap_event_transport, clap_input_events,
    clap_output_events,
};
use clap_sys::id::clap_id;

/// One event a test sends into the plugin within a block.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InputEvent {
    /// The sample offset inside the block (0 = the block's first sample).
    pub offset_samples: u32,
    /// What happens at that sample.
    pub kind: InputKind,
}

/// The kinds of input events this host can send.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum InputKind {
    /// `CLAP_EVENT_NOTE_ON` on note port 0.
    NoteOn {
        /// MIDI channel index, 0..=15.
        channel: u8,
        /// MIDI key, 0..=127.
        key: u8,
        /// Velocity, 0.0..=1.0.
        velocity: f32,
    },
    /// `CLAP_EVENT_NOTE_OFF` on note port 0.
    NoteOff {
        /// MIDI channel index, 0..=15.
        channel: u8,
        /// MIDI key, 0..=127.
        key: u8,
        /// Release velocity, 0.0..=1.0.
        velocity: f32,
    },
    /// `CLAP_EVENT_MIDI` on note port 0 with these three bytes.
    Midi {
        /// Status byte and two data bytes.
        data: [u8; 3],
    },
    /// `CLAP_EVENT_PARAM_VALUE` for one parameter (value in the plugin's CLAP range).
    ParamValue {
        /// The parameter's CLAP id.
        param_id: clap_id,
        /// The new value, within the parameter's `min_value..=max_value`.
        value: f64,
    },
    /// `CLAP_EVENT_TRANSPORT` inside the block: from this sample on, the transport is this one
    /// (a seek, a stop or a tempo change in the middle of a block).
    Transport(crate::transport::TransportInfo),
}

impl InputEvent {
    /// A CLAP note-on at `offset_samples` with a MIDI-style velocity (0..=127, scaled to 0..1).
    pub fn note_on(offset_samples: u32, channel: u8, key: u8, velocity_midi: u8) -> Self {
        Self {
            offset_samples,
            kind: InputKind::NoteOn {
                channel,
                key,
                velocity: f32::from(velocity_midi) / 127.0,
            },
        }
    }

    /// A CLAP note-off at `offset_samples` (release velocity 0).
    pub fn note_off(offset_samples: u32, channel: u8, key: u8) -> Self {
        Self {
            offset_samples,
            kind: InputKind::NoteOff {
                channel,
                key,
                velocity: 0.0,
            },
        }
    }

    /// A raw MIDI message at `offset_samples`.
    pub fn midi(offset_samples: u32, data: [u8; 3]) -> Self {
        Self {
            offset_samples,
            kind: InputKind::Midi { data },
        }
    }

    /// A parameter value change at `offset_samples`.
    pub fn param_value(offset_samples: u32, param_id: clap_id, value: f64) -> Self {
        Self {
            offset_samples,
            kind: InputKind::ParamValue { param_id, value },
        }
    }
}

/// Whether a normalised output event starts or ends a note.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutKind {
    /// A note starts (CLAP note-on, or MIDI `0x9n` with velocity > 0).
    On,
    /// A note ends (CLAP note-off, MIDI `0x8n`, or MIDI `0x9n` with velocity 0).
    Off,
}

/// A note event the plugin sent, normalised from either dialect.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OutEvent {
    /// Absolute sample index since activation (block start + the event's offset in the block).
    pub sample: u64,
    /// Note-on or note-off.
    pub kind: OutKind,
    /// MIDI channel index 0..=15; [`WILDCARD_CHANNEL`] when a CLAP event had channel -1.
    pub channel: u8,
    /// MIDI key 0..=127; [`WILDCARD_KEY`] when a CLAP event had key -1.
    pub key: u8,
    /// Velocity 0.0..=1.0 (MIDI bytes are divided by 127).
    pub velocity: f32,
}

/// The channel an [`OutEvent`] carries when the plugin sent a CLAP note with channel -1.
pub const WILDCARD_CHANNEL: u8 = u8::MAX;
/// The key an [`OutEvent`] carries when the plugin sent a CLAP note with key -1.
pub const WILDCARD_KEY: u8 = u8::MAX;

/// A parameter value the plugin reported through its output events.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OutParamValue {
    /// Absolute sample index since activation.
    pub sample: u64,
    /// The parameter's CLAP id.
    pub param_id: clap_id,
    /// The value in the parameter's CLAP range.
    pub value: f64,
}

/// Storage big enough and aligned for every event type this host sends.
#[repr(C)]
#[derive(Clone, Copy)]
union EventSlot {
    /// The common header (every CLAP event starts with it).
    header: clap_event_header,
    /// `CLAP_EVENT_NOTE_ON` / `CLAP_EVENT_NOTE_OFF`.
    note: clap_event_note,
    /// `CLAP_EVENT_MIDI`.
    midi: clap_event_midi,
    /// `CLAP_EVENT_PARAM_VALUE`.
    param: clap_event_param_value,
    /// `CLAP_EVENT_TRANSPORT` inside a block ([`InputKind::Transport`]; the block's own
    /// transport goes in `clap_process`).
    transport: clap_event_transport,
}

/// Input events for one block, laid out as CLAP structs and sorted by sample offset.
///
/// The list allocates only when it grows; [`InputEventList::clear`] keeps the capacity so a host
/// that reuses it does not allocate per block.
pub struct InputEventList {
    /// The events, in the order the plugin will read them.
    slots: Vec<EventSlot>,
}

impl Default for InputEventList {
    fn default() -> Self {
        Self::with_capacity(256)
    }
}

impl InputEventList {
    /// An empty list with room for `capacity` events.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            slots: Vec::with_capacity(capacity),
        }
    }

    /// Removes all events, keeping the capacity.
    pub fn clear(&mut self) {
        self.slots.clear();
    }

    /// The number of events in the list.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Replaces the list's content with `events`, stably sorted by sample offset (events at the
    /// same offset keep the order they were given in).
    pub fn set(&mut self, events: &[InputEvent]) {
        self.clear();
        let mut sorted: Vec<&InputEvent> = events.iter().collect();
        sorted.sort_by_key(|e| e.offset_samples);
        for event in sorted {
            self.slots.push(encode(event));
        }
    }

    /// The header of event `index` (for tests of the list itself).
    pub fn header(&self, index: usize) -> Option<clap_event_header> {
        // SAFETY: every slot was written through one of the union's variants, all of which start
        // with a `clap_event_header`.
        self.slots.get(index).map(|slot| unsafe { slot.header })
    }

    /// The `clap_input_events` vtable over this list. The returned struct points into `self` and
    /// is valid while `self` is neither moved nor changed.
    pub fn as_clap(&self) -> clap_input_events {
        clap_input_events {
            ctx: self as *const Self as *mut c_void,
            size: Some(input_size),
            get: Some(input_get),
        }
    }
}

/// Encodes one input event as its CLAP struct.
fn encode(event: &InputEvent) -> EventSlot {
    let header = |size: usize, type_| clap_event_header {
        size: size as u32,
        time: event.offset_samples,
        space_id: CLAP_CORE_EVENT_SPACE_ID,
        type_,
        flags: 0,
    };
    match event.kind {
        InputKind::NoteOn {
            channel,
            key,
            velocity,
        }
        | InputKind::NoteOff {
            channel,
            key,
            velocity,
        } => {
            let type_ = if matches!(event.kind, InputKind::NoteOn { .. }) {
                CLAP_EVENT_NOTE_ON
            } else {
                CLAP_EVENT_NOTE_OFF
            };
            EventSlot {
                note: clap_event_note {
                    header: header(std::mem::size_of::<clap_event_note>(), type_),
                    note_id: -1,
                    port_index: 0,
                    channel: i16::from(channel),
                    key: i16::from(key),
                    velocity: f64::from(velocity),
                },
            }
        }
        InputKind::Midi { data } => EventSlot {
            midi: clap_event_midi {
                header: header(std::mem::size_of::<clap_event_midi>(), CLAP_EVENT_MIDI),
                port_index: 0,
                data,
            },
        },
        InputKind::ParamValue { param_id, value } => EventSlot {
            param: clap_event_param_value {
                header: header(
                    std::mem::size_of::<clap_event_param_value>(),
                    CLAP_EVENT_PARAM_VALUE,
                ),
                param_id,
                cookie: std::ptr::null_mut(),
                note_id: -1,
                port_index: -1,
                channel: -1,
                key: -1,
                value,
            },
        },
        InputKind::Transport(info) => EventSlot {
            transport: clap_event_transport {
                header: header(
                    std::mem::size_of::<clap_event_transport>(),
                    CLAP_EVENT_TRANSPORT,
                ),
                ..info.to_clap()
            },
        },
    }
}

/// `clap_input_events.size`.
unsafe extern "C" fn input_size(list: *const clap_input_events) -> u32 {
    // SAFETY: `ctx` was set by `InputEventList::as_clap` and the list outlives the call.
    let this = unsafe { &*((*list).ctx as *const InputEventList) };
    this.slots.len() as u32
}

/// `clap_input_events.get`.
unsafe extern "C" fn input_get(
    list: *const clap_input_events,
    index: u32,
) -> *const clap_event_header {
    // SAFETY: as in `input_size`.
    let this = unsafe { &*((*list).ctx as *const InputEventList) };
    match this.slots.get(index as usize) {
        // The header is the first field of every variant, so the slot's address is the header's.
        Some(slot) => slot as *const EventSlot as *const clap_event_header,
        None => std::ptr::null(),
    }
}

/// Collects what the plugin pushes during one process (or flush) call.
pub struct OutputEventList {
    /// Absolute sample index of the current block's first sample.
    block_start_sample: u64,
    /// Normalised note events, in the order they were pushed.
    pub notes: Vec<OutEvent>,
    /// Parameter values the plugin reported.
    pub params: Vec<OutParamValue>,
    /// MIDI messages that were neither note-on nor note-off (CC, pitch bend, …), with their
    /// absolute sample index.
    pub other_midi: Vec<(u64, [u8; 3])>,
    /// The number of pushed events of any other type (gestures, note-end, sysex, …).
    pub other_events: usize,
    /// Pushed note events whose offset was at or past the end of the block (a plugin bug).
    pub out_of_block_events: usize,
    /// The length of the current block in samples (for the out-of-block check).
    block_len_samples: u32,
}

impl Default for OutputEventList {
    fn default() -> Self {
        Self {
            block_start_sample: 0,
            notes: Vec::with_capacity(1024),
            params: Vec::with_capacity(64),
            other_midi: Vec::with_capacity(64),
            other_events: 0,
            out_of_block_events: 0,
            block_len_samples: 0,
        }
    }
}

impl OutputEventList {
    /// Prepares for a block that starts at absolute sample `block_start_sample` and lasts
    /// `block_len_samples`; what was collected before is kept.
    pub fn begin_block(&mut self, block_start_sample: u64, block_len_samples: u32) {
        self.block_start_sample = block_start_sample;
        self.block_len_samples = block_len_samples;
    }

    /// The `clap_output_events` vtable over this list, valid while `self` is neither moved nor
    /// dropped.
    pub fn as_clap(&mut self) -> clap_output_events {
        clap_output_events {
            ctx: self as *mut Self as *mut c_void,
            try_push: Some(output_try_push),
        }
    }

    /// Records one event the plugin pushed (what `try_push` does).
    ///
    /// # Safety
    ///
    /// `event` must point to a valid CLAP event whose `header.size` matches its type.
    pub unsafe fn push_raw(&mut self, event: *const clap_event_header) {
        // SAFETY: the caller guarantees a valid header.
        let header = unsafe { &*event };
        if header.space_id != CLAP_CORE_EVENT_SPACE_ID {
            self.other_events += 1;
            return;
        }
        if header.time >= self.block_len_samples && self.block_len_samples > 0 {
            self.out_of_block_events += 1;
        }
        let sample = self.block_start_sample + u64::from(header.time);
        match header.type_ {
            CLAP_EVENT_NOTE_ON | CLAP_EVENT_NOTE_OFF => {
                // SAFETY: the type says this is a `clap_event_note`.
                let note = unsafe { &*(event as *const clap_event_note) };
                let kind = if header.type_ == CLAP_EVENT_NOTE_ON {
                    OutKind::On
                } else {
                    OutKind::Off
                };
                self.notes.push(OutEvent {
                    sample,
                    kind,
                    channel: u8::try_from(note.channel).unwrap_or(WILDCARD_CHANNEL),
                    key: u8::try_from(note.key).unwrap_or(WILDCARD_KEY),
                    velocity: note.velocity as f32,
                });
            }
            CLAP_EVENT_MIDI => {
                // SAFETY: the type says this is a `clap_event_midi`.
                let midi = unsafe { &*(event as *const clap_event_midi) };
                match normalise_midi(sample, midi.data) {
                    Some(note) => self.notes.push(note),
                    None => self.other_midi.push((sample, midi.data)),
                }
            }
            CLAP_EVENT_PARAM_VALUE => {
                // SAFETY: the type says this is a `clap_event_param_value`.
                let param = unsafe { &*(event as *const clap_event_param_value) };
                self.params.push(OutParamValue {
                    sample,
                    param_id: param.param_id,
                    value: param.value,
                });
            }
            _ => self.other_events += 1,
        }
    }
}

/// Turns a MIDI note-on/note-off message into an [`OutEvent`]; `None` for any other message.
/// `0x9n` with velocity 0 is a note-off, as MIDI defines it.
pub fn normalise_midi(sample: u64, data: [u8; 3]) -> Option<OutEvent> {
    let channel = data[0] & 0x0f;
    let key = data[1] & 0x7f;
    let velocity_byte = data[2] & 0x7f;
    let kind = match data[0] & 0xf0 {
        0x90 if velocity_byte > 0 => OutKind::On,
        0x90 | 0x80 => OutKind::Off,
        _ => return None,
    };
    Some(OutEvent {
        sample,
        kind,
        channel,
        key,
        velocity: f32::from(velocity_byte) / 127.0,
    })
}

/// `clap_output_events.try_push`.
unsafe extern "C" fn output_try_push(
    list: *const clap_output_events,
    event: *const clap_event_header,
) -> bool {
    if list.is_null() || event.is_null() {
        return false;
    }
    // SAFETY: `ctx` was set by `OutputEventList::as_clap`, which holds a unique borrow for the
    // duration of the process call; the plugin passes a valid event.
    unsafe {
        let this = &mut *((*list).ctx as *mut OutputEventList);
        this.push_raw(event);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_events_are_sorted_stably_by_offset() {
        let mut list = InputEventList::default();
        list.set(&[
            InputEvent::note_on(300, 0, 60, 100),
            InputEvent::note_off(10, 0, 62),
            InputEvent::param_value(10, 7, 0.5),
            InputEvent::midi(0, [0x90, 64, 1]),
        ]);
        assert_eq!(list.len(), 4);
        let times: Vec<u32> = (0..4).map(|i| list.header(i).unwrap().time).collect();
        assert_eq!(times, vec![0, 10, 10, 300]);
        let types: Vec<u16> = (0..4).map(|i| list.header(i).unwrap().type_).collect();
        assert_eq!(
            types,
            vec![
                CLAP_EVENT_MIDI,
                CLAP_EVENT_NOTE_OFF,
                CLAP_EVENT_PARAM_VALUE,
                CLAP_EVENT_NOTE_ON
            ]
        );
    }

    #[test]
    fn input_vtable_reads_back_the_structs() {
        let mut list = InputEventList::default();
        list.set(&[
            InputEvent::note_on(5, 3, 61, 127),
            InputEvent::param_value(6, 42, 1.0),
        ]);
        let vtable = list.as_clap();
        unsafe {
            assert_eq!((vtable.size.unwrap())(&vtable), 2);
            let first = (vtable.get.unwrap())(&vtable, 0);
            assert_eq!(
                (*first).size as usize,
                std::mem::size_of::<clap_event_note>()
            );
            let note = &*(first as *const clap_event_note);
            assert_eq!((note.channel, note.key, note.velocity), (3, 61, 1.0));
            assert_eq!(note.port_index, 0);
            let second = (vtable.get.unwrap())(&vtable, 1);
            let param = &*(second as *const clap_event_param_value);
            assert_eq!((param.param_id, param.value), (42, 1.0));
            assert!((vtable.get.unwrap())(&vtable, 2).is_null());
        }
    }

    #[test]
    fn midi_note_messages_normalise() {
        let on = normalise_midi(7, [0x91, 60, 100]).unwrap();
        assert_eq!(
            (on.kind, on.channel, on.key, on.sample),
            (OutKind::On, 1, 60, 7)
        );
        assert!((on.velocity - 100.0 / 127.0).abs() < 1e-6);
        let zero_velocity = normalise_midi(8, [0x92, 61, 0]).unwrap();
        assert_eq!(
            (zero_velocity.kind, zero_velocity.channel),
            (OutKind::Off, 2)
        );
        let off = normalise_midi(9, [0x8f, 62, 64]).unwrap();
        assert_eq!((off.kind, off.channel, off.key), (OutKind::Off, 15, 62));
        assert_eq!(normalise_midi(0, [0xb0, 7, 100]), None);
        assert_eq!(normalise_midi(0, [0xe0, 0, 64]), None);
    }

    #[test]
    fn output_list_normalises_both_dialects_with_absolute_samples() {
        let mut out = OutputEventList::default();
        out.begin_block(1024, 512);
        let note = clap_event_note {
            header: clap_event_header {
                size: std::mem::size_of::<clap_event_note>() as u32,
                time: 17,
                space_id: CLAP_CORE_EVENT_SPACE_ID,
                type_: CLAP_EVENT_NOTE_ON,
                flags: 0,
            },
            note_id: -1,
            port_index: 0,
            channel: 1,
            key: 67,
            velocity: 0.5,
        };
        let midi_off = clap_event_midi {
            header: clap_event_header {
                size: std::mem::size_of::<clap_event_midi>() as u32,
                time: 100,
                space_id: CLAP_CORE_EVENT_SPACE_ID,
                type_: CLAP_EVENT_MIDI,
                flags: 0,
            },
            port_index: 0,
            data: [0x91, 67, 0],
        };
        let cc = clap_event_midi {
            data: [0xb1, 1, 2],
            ..midi_off
        };
        let vtable = out.as_clap();
        unsafe {
            assert!((vtable.try_push.unwrap())(&vtable, &note.header));
            assert!((vtable.try_push.unwrap())(&vtable, &midi_off.header));
            assert!((vtable.try_push.unwrap())(&vtable, &cc.header));
        }
        assert_eq!(out.notes.len(), 2);
        assert_eq!(
            (out.notes[0].sample, out.notes[0].kind, out.notes[0].channel),
            (1041, OutKind::On, 1)
        );
        assert_eq!(
            (out.notes[1].sample, out.notes[1].kind, out.notes[1].key),
            (1124, OutKind::Off, 67)
        );
        assert_eq!(out.other_midi, vec![(1124, [0xb1, 1, 2])]);
        assert_eq!(out.out_of_block_events, 0);
    }

    #[test]
    fn wildcard_channel_and_late_events_are_flagged() {
        let mut out = OutputEventList::default();
        out.begin_block(0, 64);
        let note = clap_event_note {
            header: clap_event_header {
                size: std::mem::size_of::<clap_event_note>() as u32,
                time: 64,
                space_id: CLAP_CORE_EVENT_SPACE_ID,
                type_: CLAP_EVENT_NOTE_OFF,
                flags: 0,
            },
            note_id: -1,
            port_index: 0,
            channel: -1,
            key: 60,
            velocity: 0.0,
        };
        unsafe { out.push_raw(&note.header) };
        assert_eq!(out.notes[0].channel, WILDCARD_CHANNEL);
        assert_eq!(out.out_of_block_events, 1);
    }
}
