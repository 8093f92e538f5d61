//! Truncated and corrupt MIDI files through the reader `antiphon generate --primer-midi` and
//! evaluation use (`midi_file::read` → `midi_file::parse`): each gives an error with a message,
//! or notes that satisfy `test_support::midi::check_notes`; none panics.
//!
//! One table of hand-made files (empty, header only, lying chunk lengths, running status
//! without a status, huge declared lengths, SMPTE timing, 65,535 declared tracks, a track of
//! 100,000 notes, …), every truncation of a small real file, seeded junk after a real header,
//! the fuzzer's seed files (`models/fuzz/seeds/midi_read`) and any crash the fuzzer
//! found (`models/fuzz/regressions`), and sparse files over `MAX_MIDI_BYTES` through `read`.

use std::path::{Path, PathBuf};

use antiphon_models::midi_file::{self, MAX_MIDI_BYTES, MidiNotes};
use antiphon_models::test_support::hostile::bit_flipped;
use antiphon_models::test_support::midi::{
    check_notes, chunk, header, honest_chunk, note_events, sixteenths, small_format_1, vlq,
};

/// What a file must give.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// An error whose message contains this text (any case).
    Error(&'static str),
    /// Notes: exactly this many.
    Notes(usize),
    /// Either an error or notes that satisfy `check_notes` (a lenient reader may read what is
    /// there).
    Either,
}

/// Parses `bytes` without letting a panic escape; `Err` describes a failed expectation.
fn check(name: &str, bytes: &[u8], expect: Expect) -> Result<(), String> {
    let parsed = std::panic::catch_unwind(|| midi_file::parse(bytes))
        .map_err(|_| format!("{name}: PANICKED"))?;
    if let Ok(midi) = &parsed {
        check_notes(midi).map_err(|e| format!("{name}: {e}"))?;
    }
    match (expect, &parsed) {
        (Expect::Error(needle), Err(message)) => {
            if message.trim().is_empty() || message.contains('\n') {
                Err(format!("{name}: the message is not one line: {message:?}"))
            } else if message.to_lowercase().contains(&needle.to_lowercase()) {
                Ok(())
            } else {
                Err(format!("{name}: the message lacks {needle:?}: {message}"))
            }
        }
        (Expect::Error(_), Ok(midi)) => Err(format!(
            "{name}: expected an error, got {} notes",
            midi.notes.len()
        )),
        (Expect::Notes(n), Ok(midi)) if midi.notes.len() == n => Ok(()),
        (Expect::Notes(n), other) => Err(format!(
            "{name}: expected {n} notes, got {:?}",
            other.as_ref().map(|m| m.notes.len())
        )),
        (Expect::Either, Err(message)) if message.trim().is_empty() => {
            Err(format!("{name}: an empty error message"))
        }
        (Expect::Either, _) => Ok(()),
    }
}

/// One track of `events` in a format-0 file at 480 ticks per quarter.
fn one_track(events: &[u8]) -> Vec<u8> {
    let mut file = header(0, 1, 480);
    file.extend(honest_chunk(b"MTrk", events));
    file
}

/// The hand-made cases.
fn table() -> Vec<(String, Vec<u8>, Expect)> {
    let small = small_format_1();
    let track = note_events(0, &[(0, 60, 480)]);
    let mut cases: Vec<(&str, Vec<u8>, Expect)> = vec![
        ("empty", Vec::new(), Expect::Error("")),
        (
            "text",
            b"not a MIDI file at all\n".to_vec(),
            Expect::Error(""),
        ),
        (
            "riff",
            b"RIFF\x24\0\0\0WAVEfmt ".to_vec(),
            Expect::Error(""),
        ),
        ("header_only", header(0, 1, 480), Expect::Either),
        ("header_no_tracks", header(1, 0, 480), Expect::Notes(0)),
        (
            "header_cut",
            header(0, 1, 480)[..10].to_vec(),
            Expect::Error(""),
        ),
        (
            "header_declares_4_gib",
            [
                chunk(b"MThd", u32::MAX, &[0, 0, 0, 1, 1, 0xe0]),
                track.clone(),
            ]
            .concat(),
            Expect::Either,
        ),
        (
            "header_declares_2_bytes",
            [chunk(b"MThd", 2, &[0, 0]), honest_chunk(b"MTrk", &track)].concat(),
            Expect::Error(""),
        ),
        (
            "smpte",
            one_track_with(header(0, 1, 0xe728), &track),
            Expect::Error("SMPTE"),
        ),
        (
            "smpte_minus_128_fps",
            one_track_with(header(0, 1, 0x8034), &track),
            Expect::Error("SMPTE"),
        ),
        (
            "riff_smpte_minus_128_fps",
            [
                b"RIFF".to_vec(),
                40u32.to_le_bytes().to_vec(),
                b"RMIDdata".to_vec(),
                28u32.to_le_bytes().to_vec(),
                one_track_with(header(0, 1, 0x8000), &[0x00, 0xff, 0x2f, 0x00]),
            ]
            .concat(),
            Expect::Error("SMPTE"),
        ),
        (
            "zero_ticks_per_quarter",
            one_track_with(header(0, 1, 0), &track),
            Expect::Either,
        ),
        (
            "format_7",
            one_track_with(header(7, 1, 480), &track),
            Expect::Either,
        ),
        (
            "track_declares_more_than_there_is",
            [
                header(0, 1, 480),
                chunk(b"MTrk", track.len() as u32 + 1000, &track),
            ]
            .concat(),
            Expect::Either,
        ),
        (
            "track_declares_4_gib",
            [header(0, 1, 480), chunk(b"MTrk", u32::MAX, &track)].concat(),
            Expect::Either,
        ),
        (
            "track_declares_less_than_there_is",
            [header(0, 1, 480), chunk(b"MTrk", 5, &track)].concat(),
            Expect::Either,
        ),
        (
            "track_declares_0",
            [header(0, 1, 480), chunk(b"MTrk", 0, &track)].concat(),
            Expect::Either,
        ),
        (
            "unknown_chunk_first",
            [
                header(0, 1, 480),
                honest_chunk(b"XFIH", b"some vendor data"),
                honest_chunk(b"MTrk", &track),
            ]
            .concat(),
            Expect::Notes(1),
        ),
        (
            "65535_tracks_declared_one_there",
            one_track_with(header(1, u16::MAX, 480), &track),
            Expect::Either,
        ),
        (
            "running_status_without_status",
            one_track(&[0x00, 0x3c, 0x40, 0x00, 0xff, 0x2f, 0x00]),
            Expect::Either,
        ),
        (
            "running_status_garbage",
            one_track(
                &[
                    &[0x00, 0x90, 0x3c, 0x40][..],
                    &[0x00, 0x3e, 0x40, 0x7f, 0x7f, 0x7f, 0x05, 0x3c],
                    &[0x00, 0xff, 0x2f, 0x00],
                ]
                .concat(),
            ),
            Expect::Either,
        ),
        (
            "status_bytes_only",
            one_track(&[0x00, 0x90, 0x80, 0xa0, 0xb0, 0xc0, 0xd0, 0xe0, 0xf8, 0xf9]),
            Expect::Either,
        ),
        (
            "meta_declares_256_mib",
            one_track(&[&[0x00, 0xff, 0x01][..], &vlq(0x0fff_ffff), b"short"].concat()),
            Expect::Either,
        ),
        (
            "sysex_declares_256_mib",
            one_track(&[&[0x00, 0xf0][..], &vlq(0x0fff_ffff), &[0x7e, 0xf7]].concat()),
            Expect::Either,
        ),
        (
            "delta_of_five_bytes",
            one_track(&[0xff, 0xff, 0xff, 0xff, 0x7f, 0x90, 0x3c, 0x40]),
            Expect::Either,
        ),
        (
            "tempo_zero",
            one_track(&[&[0x00, 0xff, 0x51, 0x03, 0, 0, 0][..], &track].concat()),
            Expect::Notes(1),
        ),
        (
            "tempo_one_microsecond",
            one_track(&[&[0x00, 0xff, 0x51, 0x03, 0, 0, 1][..], &track].concat()),
            Expect::Notes(1),
        ),
        (
            "tempo_cut_short",
            one_track(&[&[0x00, 0xff, 0x51, 0x01, 0x07][..], &track].concat()),
            Expect::Either,
        ),
        (
            "note_never_released",
            one_track(&[0x00, 0x90, 0x3c, 0x40, 0x83, 0x60, 0xff, 0x2f, 0x00]),
            Expect::Notes(1),
        ),
        (
            "largest_deltas",
            one_track(&note_events(0, &[(0x0fff_ffff, 60, 0x0fff_ffff); 1000])),
            Expect::Notes(1000),
        ),
        (
            "one_tick_per_quarter_largest_deltas",
            one_track_with(
                header(0, 1, 1),
                &note_events(0, &[(0x0fff_ffff, 60, 0x0fff_ffff); 1000]),
            ),
            Expect::Notes(1000),
        ),
        (
            "100k_notes",
            midi_file::write(&sixteenths(100_000), 120.0),
            Expect::Notes(100_000),
        ),
        (
            "100k_note_ons_one_key_no_offs",
            one_track(
                &[
                    [0x00, 0x90, 0x3c, 0x40].to_vec(),
                    [0x01, 0x3c, 0x40].repeat(99_999),
                    vec![0x00, 0xff, 0x2f, 0x00],
                ]
                .concat(),
            ),
            Expect::Notes(100_000),
        ),
        ("small_format_1", small.clone(), Expect::Notes(6)),
    ];
    cases.sort_by_key(|c| c.0);
    let mut out: Vec<(String, Vec<u8>, Expect)> = cases
        .into_iter()
        .map(|(name, bytes, expect)| (name.to_string(), bytes, expect))
        .collect();
    // Every truncation of the small real file.
    for len in 0..small.len() {
        out.push((
            format!("small_format_1_cut_at_{len}"),
            small[..len].to_vec(),
            Expect::Either,
        ));
    }
    // Seeded bit flips of the small file, and junk after a real header.
    for seed in 1..=200u64 {
        let (flipped, _) = bit_flipped(&small, seed, 1 + (seed % 8) as usize);
        out.push((
            format!("small_format_1_flipped_{seed}"),
            flipped,
            Expect::Either,
        ));
        let junk = bit_flipped(&vec![0u8; 256], seed, 1024).0;
        out.push((
            format!("junk_track_{seed}"),
            one_track_with(header(0, 1, 96), &junk),
            Expect::Either,
        ));
    }
    out
}

/// `header` followed by one honest track of `events`.
fn one_track_with(header: Vec<u8>, events: &[u8]) -> Vec<u8> {
    [header, honest_chunk(b"MTrk", events)].concat()
}

/// The files in `dir` (none when it does not exist), sorted.
fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| Some(e.ok()?.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.is_file());
    files.sort();
    files
}

#[test]
fn every_corrupt_midi_file_gives_an_error_or_sane_notes_and_none_panics() {
    let cases = table();
    let generated = ["_cut_at_", "_flipped_", "junk_track_"];
    for (name, bytes, _) in cases
        .iter()
        .filter(|c| !generated.iter().any(|g| c.0.contains(g)))
    {
        match midi_file::parse(bytes) {
            Ok(midi) => eprintln!("{name:<40} {} notes", midi.notes.len()),
            Err(e) => eprintln!("{name:<40} error: {e}"),
        }
    }
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(name, bytes, expect)| check(name, bytes, *expect).err())
        .collect();
    let refused = cases
        .iter()
        .filter(|(_, bytes, _)| midi_file::parse(bytes).is_err())
        .count();
    eprintln!(
        "{} MIDI files: {refused} refused, {} read",
        cases.len(),
        cases.len() - refused
    );
    assert!(
        failures.is_empty(),
        "{} of {} files went wrong:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn the_fuzz_corpus_and_its_regressions_replay_without_a_panic() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let files: Vec<PathBuf> = ["seeds/midi_read", "regressions/midi_read"]
        .iter()
        .flat_map(|d| files_in(&fuzz.join(d)))
        .collect();
    assert!(
        !files.is_empty(),
        "no seed files under {}/seeds/midi_read",
        fuzz.display()
    );
    let failures: Vec<String> = files
        .iter()
        .filter_map(|path| {
            let bytes = std::fs::read(path).unwrap();
            check(&path.display().to_string(), &bytes, Expect::Either).err()
        })
        .collect();
    eprintln!("replayed {} files of the fuzz corpus", files.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_100k_note_file_reads_back_note_for_note() {
    let notes = sixteenths(100_000);
    let back: MidiNotes = midi_file::parse(&midi_file::write(&notes, 96.0)).unwrap();
    assert_eq!(back.notes.len(), notes.len());
    assert_eq!(back.notes.first(), notes.first());
    assert_eq!(back.notes.last(), notes.last());
    assert!((back.tempo_qpm - 96.0).abs() < 1e-3);
}

#[test]
fn a_file_over_the_size_limit_is_refused_unread_and_a_missing_one_named() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("hostile_midi");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, size) in [("over.mid", MAX_MIDI_BYTES + 1), ("huge.mid", 1 << 40)] {
        let path = dir.join(name);
        std::fs::File::create(&path).unwrap().set_len(size).unwrap();
        let err = midi_file::read(&path).unwrap_err().to_string();
        assert!(
            err.contains(name) && err.contains("64 MiB"),
            "{name}: {err}"
        );
        std::fs::remove_file(&path).unwrap();
    }
    let err = midi_file::read(&dir.join("absent.mid"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("absent.mid") && err.contains("cannot read"),
        "{err}"
    );
    let folder = dir.join("folder.mid");
    std::fs::create_dir_all(&folder).unwrap();
    assert!(midi_file::read(&folder).is_err());
}
