//! Reading and writing Standard MIDI Files as notes with times in quarter notes.

use std::path::Path;

use midly::{Format, Header, MetaMessage, MidiMessage, Smf, Timing, TrackEvent, TrackEventKind};

use crate::error::ModelError;

/// A note read from or written to a MIDI file.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FileNote {
    /// MIDI key number.
    pub pitch: u8,
    /// MIDI velocity, 1..=127.
    pub velocity: u8,
    /// MIDI channel, 0..=15 (9 is General MIDI drums).
    pub channel: u8,
    /// Start, in quarter notes from the start of the file.
    pub start_quarters: f64,
    /// End, in quarter notes from the start of the file; after `start_quarters`.
    pub end_quarters: f64,
}

/// A marker meta event (FF 06): a text at a point in time (Antiphon's evaluation files put chord
/// symbols there).
#[derive(Debug, Clone, PartialEq)]
pub struct FileMarker {
    /// When, in quarter notes from the start of the file.
    pub quarters: f64,
    /// The marker's text (invalid UTF-8 replaced).
    pub text: String,
}

/// The notes of a MIDI file, its markers and its first tempo.
#[derive(Debug, Clone, PartialEq)]
pub struct MidiNotes {
    /// Every note of every track, sorted by start then pitch.
    pub notes: Vec<FileNote>,
    /// Every marker of every track, sorted by time (file order within a time).
    pub markers: Vec<FileMarker>,
    /// The first tempo in the file, in quarter notes per minute (120 when none is set).
    pub tempo_qpm: f64,
}

/// The largest MIDI file read, in bytes (64 MiB). A file of 100,000 notes takes under 1 MiB;
/// the limit is checked before reading, so a huge file (or a wrong path to a disk image)
/// costs no memory.
pub const MAX_MIDI_BYTES: u64 = 64 * 1024 * 1024;

/// Reads a MIDI file's notes. Notes still on at the end of their track end there. A file
/// larger than [`MAX_MIDI_BYTES`] is refused unread.
pub fn read(path: &Path) -> Result<MidiNotes, ModelError> {
    let cannot_read =
        |e: std::io::Error| ModelError::Data(format!("cannot read {}: {e}", path.display()));
    let size = std::fs::metadata(path).map_err(cannot_read)?.len();
    if size > MAX_MIDI_BYTES {
        return Err(ModelError::Data(format!(
            "{} is {} MiB, larger than the {} MiB a MIDI file may have",
            path.display(),
            size.div_ceil(1024 * 1024),
            MAX_MIDI_BYTES / (1024 * 1024)
        )));
    }
    let bytes = std::fs::read(path).map_err(cannot_read)?;
    parse(&bytes)
        .map_err(|e| ModelError::Data(format!("{} is not a usable MIDI file: {e}", path.display())))
}

/// The error for a file timed in SMPTE frames.
const SMPTE_REFUSED: &str = "SMPTE timecode timing is not supported";

/// Whether a header chunk (`MThd` anywhere: midly also reads RIFF-wrapped files) declares
/// SMPTE timing at -128 frames per second (division high byte 0x80). midly 0.5.3 negates that
/// frame rate as an `i8`, which overflows: a panic in builds with overflow checks (found by
/// `models/fuzz`). SMPTE timing is refused anyway, so such a file is refused before midly
/// reads it. (A false positive needs those 13 bytes inside another chunk; it is then refused
/// as SMPTE-timed.)
fn has_minus_128_fps_division(bytes: &[u8]) -> bool {
    bytes
        .windows(4)
        .enumerate()
        .any(|(at, tag)| tag == b"MThd" && bytes.get(at + 12) == Some(&0x80))
}

/// Parses MIDI file bytes into notes.
pub fn parse(bytes: &[u8]) -> Result<MidiNotes, String> {
    if has_minus_128_fps_division(bytes) {
        return Err(SMPTE_REFUSED.into());
    }
    let smf = Smf::parse(bytes).map_err(|e| e.to_string())?;
    let ticks_per_quarter = match smf.header.timing {
        Timing::Metrical(t) => f64::from(t.as_int()),
        Timing::Timecode(..) => return Err(SMPTE_REFUSED.into()),
    };
    if ticks_per_quarter <= 0.0 {
        return Err("zero ticks per quarter note".into());
    }
    let mut notes = Vec::new();
    let mut markers = Vec::new();
    let mut tempo_qpm = None;
    for track in &smf.tracks {
        let mut tick: u64 = 0;
        // (channel, key) → (start tick, velocity) of the sounding note.
        let mut open: std::collections::HashMap<(u8, u8), (u64, u8)> = Default::default();
        let mut close = |open: &mut std::collections::HashMap<(u8, u8), (u64, u8)>,
                         ch: u8,
                         key: u8,
                         end: u64| {
            if let Some((start, velocity)) = open.remove(&(ch, key)) {
                notes.push(FileNote {
                    pitch: key,
                    velocity,
                    channel: ch,
                    start_quarters: start as f64 / ticks_per_quarter,
                    end_quarters: end.max(start) as f64 / ticks_per_quarter,
                });
            }
        };
        for event in track {
            tick += u64::from(event.delta.as_int());
            match event.kind {
                TrackEventKind::Midi { channel, message } => {
                    let ch = channel.as_int();
                    match message {
                        MidiMessage::NoteOn { key, vel } if vel.as_int() > 0 => {
                            close(&mut open, ch, key.as_int(), tick);
                            open.insert((ch, key.as_int()), (tick, vel.as_int()));
                        }
                        MidiMessage::NoteOn { key, .. } | MidiMessage::NoteOff { key, .. } => {
                            close(&mut open, ch, key.as_int(), tick);
                        }
                        _ => {}
                    }
                }
                TrackEventKind::Meta(MetaMessage::Tempo(us_per_quarter)) if tempo_qpm.is_none() => {
                    let us = f64::from(us_per_quarter.as_int());
                    if us > 0.0 {
                        tempo_qpm = Some(60_000_000.0 / us);
                    }
                }
                TrackEventKind::Meta(MetaMessage::Marker(text)) => markers.push(FileMarker {
                    quarters: tick as f64 / ticks_per_quarter,
                    text: String::from_utf8_lossy(text).into_owned(),
                }),
                _ => {}
            }
        }
        let keys: Vec<(u8, u8)> = open.keys().copied().collect();
        for (ch, key) in keys {
            close(&mut open, ch, key, tick);
        }
    }
    notes.sort_by(|a, b| {
        a.start_quarters
            .total_cmp(&b.start_quarters)
            .then(a.pitch.cmp(&b.pitch))
    });
    markers.sort_by(|a, b| a.quarters.total_cmp(&b.quarters));
    Ok(MidiNotes {
        notes,
        markers,
        tempo_qpm: tempo_qpm.unwrap_or(120.0),
    })
}

/// Encodes notes as a single-track MIDI file (format 0) at `tempo_qpm`, 480 ticks per quarter.
pub fn write(notes: &[FileNote], tempo_qpm: f64) -> Vec<u8> {
    write_with_markers(notes, &[], tempo_qpm)
}

/// Like [`write`], with marker meta events; a marker comes before the notes at its tick.
pub fn write_with_markers(notes: &[FileNote], markers: &[FileMarker], tempo_qpm: f64) -> Vec<u8> {
    const TICKS: f64 = 480.0;
    // (tick, order, event): note-offs sort before note-ons at the same tick.
    let mut timed: Vec<(u64, u8, TrackEventKind<'_>)> =
        Vec::with_capacity(notes.len() * 2 + markers.len() + 1);
    let us_per_quarter = (60_000_000.0 / tempo_qpm.max(1.0))
        .round()
        .clamp(1.0, 16_777_215.0) as u32;
    timed.push((
        0,
        0,
        TrackEventKind::Meta(MetaMessage::Tempo(us_per_quarter.into())),
    ));
    for m in markers {
        timed.push((
            (m.quarters.max(0.0) * TICKS).round() as u64,
            0,
            TrackEventKind::Meta(MetaMessage::Marker(m.text.as_bytes())),
        ));
    }
    for n in notes {
        let on = (n.start_quarters.max(0.0) * TICKS).round() as u64;
        let off = ((n.end_quarters.max(0.0) * TICKS).round() as u64).max(on + 1);
        let channel = (n.channel & 0x0f).into();
        timed.push((
            on,
            2,
            TrackEventKind::Midi {
                channel,
                message: MidiMessage::NoteOn {
                    key: (n.pitch & 0x7f).into(),
                    vel: n.velocity.clamp(1, 127).into(),
                },
            },
        ));
        timed.push((
            off,
            1,
            TrackEventKind::Midi {
                channel,
                message: MidiMessage::NoteOff {
                    key: (n.pitch & 0x7f).into(),
                    vel: 0.into(),
                },
            },
        ));
    }
    timed.sort_by_key(|(tick, order, _)| (*tick, *order));
    let mut track: Vec<TrackEvent<'_>> = Vec::with_capacity(timed.len() + 1);
    let mut last = 0u64;
    for (tick, _, kind) in timed {
        let delta = u32::try_from(tick - last)
            .unwrap_or(u32::MAX)
            .min(0x0FFF_FFFF);
        track.push(TrackEvent {
            delta: delta.into(),
            kind,
        });
        last = tick;
    }
    track.push(TrackEvent {
        delta: 0.into(),
        kind: TrackEventKind::Meta(MetaMessage::EndOfTrack),
    });
    let smf = Smf {
        header: Header::new(Format::SingleTrack, Timing::Metrical(480.into())),
        tracks: vec![track],
    };
    let mut out = Vec::new();
    // PANIC-FREE: writing into a Vec cannot fail for a well-formed in-memory Smf.
    smf.write_std(&mut out).expect("writing MIDI to memory");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_notes_when_written_and_read_back_then_they_are_the_same() {
        let notes = vec![
            FileNote {
                pitch: 60,
                velocity: 90,
                channel: 0,
                start_quarters: 0.0,
                end_quarters: 0.5,
            },
            FileNote {
                pitch: 64,
                velocity: 80,
                channel: 0,
                start_quarters: 0.5,
                end_quarters: 1.75,
            },
            FileNote {
                pitch: 36,
                velocity: 100,
                channel: 9,
                start_quarters: 1.0,
                end_quarters: 1.25,
            },
        ];
        let back = parse(&write(&notes, 75.0)).unwrap();
        assert!((back.tempo_qpm - 75.0).abs() < 1e-3);
        let mut expected = notes.clone();
        expected.sort_by(|a, b| a.start_quarters.total_cmp(&b.start_quarters));
        assert_eq!(back.notes, expected);
    }

    #[test]
    fn given_markers_when_written_and_read_back_then_their_times_and_texts_are_the_same() {
        let notes = [FileNote {
            pitch: 60,
            velocity: 90,
            channel: 0,
            start_quarters: 0.0,
            end_quarters: 1.0,
        }];
        let markers = [
            FileMarker {
                quarters: 0.0,
                text: "C".into(),
            },
            FileMarker {
                quarters: 4.0,
                text: "G7".into(),
            },
        ];
        let back = parse(&write_with_markers(&notes, &markers, 120.0)).unwrap();
        assert_eq!(back.markers, markers.to_vec());
        assert_eq!(back.notes, notes.to_vec());
    }

    #[test]
    fn given_garbage_when_parsed_then_an_error_says_why() {
        assert!(parse(b"MThd\x00\x00").is_err());
        assert!(parse(b"").is_err());
    }

    #[test]
    fn given_a_note_on_with_velocity_zero_when_parsed_then_it_ends_the_note() {
        let notes = vec![FileNote {
            pitch: 60,
            velocity: 90,
            channel: 0,
            start_quarters: 0.0,
            end_quarters: 1.0,
        }];
        let mut bytes = write(&notes, 120.0);
        // Turn the note-off (0x80) into a note-on with velocity 0 (0x90 .. 0x00).
        let pos = bytes.windows(2).position(|w| w == [0x80, 60]).unwrap();
        bytes[pos] = 0x90;
        assert_eq!(parse(&bytes).unwrap().notes, notes);
    }
}
