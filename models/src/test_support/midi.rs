//! Hostile MIDI files for robustness tests, and the properties every MIDI file that
//! [`crate::midi_file::parse`] accepts must have. The fuzz target (`models/fuzz`) and the
//! table test (`models/tests/hostile_midi.rs`) check the same properties.

use crate::midi_file::{FileNote, MidiNotes};

/// `count` sixteenth notes cycling over two octaves from C3, back to back from beat 0 (a
/// primer as long as a test needs, e.g. 100,000 notes).
pub fn sixteenths(count: usize) -> Vec<FileNote> {
    (0..count)
        .map(|i| FileNote {
            pitch: 48 + (i % 24) as u8,
            velocity: 80,
            channel: 0,
            start_quarters: i as f64 * 0.25,
            end_quarters: (i + 1) as f64 * 0.25,
        })
        .collect()
}

/// A MIDI variable-length quantity (up to 28 bits; larger values are written with as many
/// 7-bit groups as they need, which is not valid MIDI: a hostile file may have that).
pub fn vlq(value: u64) -> Vec<u8> {
    let mut groups = vec![(value & 0x7f) as u8];
    let mut rest = value >> 7;
    while rest > 0 {
        groups.push(0x80 | (rest & 0x7f) as u8);
        rest >>= 7;
    }
    groups.reverse();
    groups
}

/// A chunk: four-byte tag, a declared length (which may lie), then `body`.
pub fn chunk(tag: &[u8; 4], declared_len: u32, body: &[u8]) -> Vec<u8> {
    let mut out = tag.to_vec();
    out.extend_from_slice(&declared_len.to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// A chunk whose declared length is its body's.
pub fn honest_chunk(tag: &[u8; 4], body: &[u8]) -> Vec<u8> {
    chunk(tag, body.len() as u32, body)
}

/// An `MThd` chunk: format, declared track count, division (ticks per quarter, or SMPTE when
/// the top bit is set).
pub fn header(format: u16, tracks: u16, division: u16) -> Vec<u8> {
    let mut body = Vec::new();
    for v in [format, tracks, division] {
        body.extend_from_slice(&v.to_be_bytes());
    }
    honest_chunk(b"MThd", &body)
}

/// Track events: a note-on/note-off pair per (delta, key, length) on channel `channel`, at
/// velocity 90, closed by an end-of-track meta event.
pub fn note_events(channel: u8, notes: &[(u64, u8, u64)]) -> Vec<u8> {
    let mut out = Vec::new();
    for &(delta, key, length) in notes {
        out.extend(vlq(delta));
        out.extend([0x90 | (channel & 0x0f), key & 0x7f, 90]);
        out.extend(vlq(length));
        out.extend([0x80 | (channel & 0x0f), key & 0x7f, 0]);
    }
    out.extend([0x00, 0xff, 0x2f, 0x00]);
    out
}

/// A small real file, format 1: a tempo track (100 QPM, a marker) and two tracks of notes on
/// channels 1 and 10; 480 ticks per quarter. It holds 6 notes.
pub fn small_format_1() -> Vec<u8> {
    let mut tempo = Vec::new();
    tempo.extend([0x00, 0xff, 0x51, 0x03, 0x09, 0x27, 0xc0]); // 600,000 µs per quarter
    tempo.extend([0x00, 0xff, 0x06, 0x01, b'C']);
    tempo.extend([0x00, 0xff, 0x2f, 0x00]);
    let melody = note_events(0, &[(0, 60, 240), (0, 64, 240), (240, 67, 480)]);
    let drums = note_events(9, &[(0, 36, 60), (420, 38, 60), (420, 42, 60)]);
    let mut file = header(1, 3, 480);
    for track in [tempo, melody, drums] {
        file.extend(honest_chunk(b"MTrk", &track));
    }
    file
}

/// Checks what every parsed file must satisfy, whatever its bytes were: notes with MIDI keys,
/// channels and velocities in range, finite non-negative times, each ending at or after its
/// start, sorted by start; markers at finite non-negative times, sorted; a finite positive
/// tempo.
pub fn check_notes(midi: &MidiNotes) -> Result<(), String> {
    for (i, n) in midi.notes.iter().enumerate() {
        let times_ok = n.start_quarters.is_finite()
            && n.end_quarters.is_finite()
            && n.start_quarters >= 0.0
            && n.end_quarters >= n.start_quarters;
        if n.pitch > 127 || n.channel > 15 || !(1..=127).contains(&n.velocity) || !times_ok {
            return Err(format!("note {i} is out of range: {n:?}"));
        }
    }
    if midi
        .notes
        .windows(2)
        .any(|w| w[0].start_quarters > w[1].start_quarters)
    {
        return Err("notes are not sorted by start".into());
    }
    if midi
        .markers
        .iter()
        .any(|m| !m.quarters.is_finite() || m.quarters < 0.0)
        || midi
            .markers
            .windows(2)
            .any(|w| w[0].quarters > w[1].quarters)
    {
        return Err("markers are out of range or out of order".into());
    }
    if !(midi.tempo_qpm.is_finite() && midi.tempo_qpm > 0.0) {
        return Err(format!("tempo {} QPM", midi.tempo_qpm));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::midi_file::parse;

    #[test]
    fn the_small_file_reads_back_as_six_notes_at_100_qpm() {
        let midi = parse(&small_format_1()).unwrap();
        assert_eq!(midi.notes.len(), 6);
        assert!((midi.tempo_qpm - 100.0).abs() < 1e-9);
        assert_eq!(midi.markers.len(), 1);
        assert_eq!(check_notes(&midi), Ok(()));
        let drums = midi.notes.iter().filter(|n| n.channel == 9).count();
        assert_eq!(drums, 3);
    }

    #[test]
    fn vlq_writes_midi_quantities() {
        assert_eq!(vlq(0), [0x00]);
        assert_eq!(vlq(0x7f), [0x7f]);
        assert_eq!(vlq(0x80), [0x81, 0x00]);
        assert_eq!(vlq(0x0fff_ffff), [0xff, 0xff, 0xff, 0x7f]);
        assert_eq!(vlq(0x1000_0000).len(), 5);
    }
}
