//! Hostile files given to `antiphon generate`: a model (`--model FILE.onnx`) or a primer
//! (`--primer-midi FILE.mid`) that is truncated, corrupt, lying about itself or huge ends the
//! command with exit status 1 and exactly one line on stderr that names the file, and writes
//! nothing. A primer of 100,000 notes is continued from its last 64 bars, and says so.
//!
//! The files are made at test time from the shipped Melody RNN and from small MIDI files
//! (`antiphon_models::test_support`); the huge ones are sparse.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use antiphon_models::midi_file::{self, FileNote};
use antiphon_models::test_support::hostile::{
    bit_flipped, melody_basic, tiny_melody_with_state, truncated, with_metadata,
};
use antiphon_models::test_support::identity_model_bytes;
use antiphon_models::test_support::midi::{
    chunk, header, honest_chunk, sixteenths, small_format_1,
};
use common::generate;

/// A fresh, empty folder for one test's files.
fn scratch(test: &str) -> PathBuf {
    common::scratch("hostile", test)
}

/// Checks a failed run: exit status 1, exactly one line on stderr, `antiphon: …`, naming
/// `file` and containing every one of `needles`, no panic, and no output file.
fn check_one_line_error(
    dir: &Path,
    output: &Output,
    file: &str,
    needles: &[&str],
) -> Result<(), String> {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let problems = [
        (output.status.code() != Some(1), "exit status is not 1"),
        (stderr.lines().count() != 1, "not exactly one line"),
        (
            !stderr.starts_with("antiphon: "),
            "does not start with `antiphon: `",
        ),
        (stderr.contains("panicked"), "a panic"),
        (!stderr.contains(file), "does not name the file"),
        (
            !needles
                .iter()
                .all(|n| stderr.to_lowercase().contains(&n.to_lowercase())),
            "lacks what it should say",
        ),
        (dir.join("out.mid").exists(), "out.mid was written"),
    ];
    let wrong: Vec<&str> = problems.iter().filter(|p| p.0).map(|p| p.1).collect();
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{file}: {} (status {:?}, needles {needles:?}); stderr: {stderr:?}",
            wrong.join(", "),
            output.status
        ))
    }
}

#[test]
fn every_hostile_model_file_is_one_line_and_exit_1() {
    let dir = scratch("models");
    let model = melody_basic();
    let cases: Vec<(&str, Vec<u8>, &[&str])> = vec![
        ("empty.onnx", Vec::new(), &["not a valid ONNX model"]),
        (
            "junk.onnx",
            bit_flipped(&[0u8; 4096], 3, 16_384).0,
            &["not a valid ONNX model"],
        ),
        (
            "half.onnx",
            truncated(model, model.len() / 2),
            &["not a valid ONNX model"],
        ),
        (
            "last_byte_cut.onnx",
            truncated(model, model.len() - 1),
            &["model refused"],
        ),
        (
            "not_contract.onnx",
            identity_model_bytes(),
            &["antiphon.contract", "missing"],
        ),
        (
            "no_family.onnx",
            with_metadata(model, "antiphon.family", None),
            &["antiphon.family", "missing"],
        ),
        (
            "says_polyphony.onnx",
            with_metadata(
                &with_metadata(model, "antiphon.family", Some("polyphony")),
                "antiphon.encoding",
                Some(r#"{"name":"polyphony","steps_per_quarter":4}"#),
            ),
            &["38", "259"],
        ),
        (
            "encoding_garbage.onnx",
            with_metadata(model, "antiphon.encoding", Some("{{{")),
            &["antiphon.encoding"],
        ),
        (
            "absurd_grid.onnx",
            with_metadata(
                model,
                "antiphon.encoding",
                Some(
                    r#"{"name":"melody_onehot","min_pitch":48,"max_pitch":84,"steps_per_quarter":4000000000,"transpose_to_key":0}"#,
                ),
            ),
            &["steps_per_quarter"],
        ),
        (
            "state_2_pow_40.onnx",
            tiny_melody_with_state(1 << 40),
            &["state_in.0"],
        ),
        (
            "a_midi_file.onnx",
            small_format_1(),
            &["not a valid ONNX model"],
        ),
    ];
    let mut failures = Vec::new();
    for (name, bytes, needles) in &cases {
        std::fs::write(dir.join(name), bytes).unwrap();
        let output = generate(&dir, &["--model", name, "--seconds", "5", "out.mid"]);
        eprintln!(
            "{name}: {}",
            String::from_utf8_lossy(&output.stderr).trim_end()
        );
        if let Err(e) = check_one_line_error(&dir, &output, name, needles) {
            failures.push(e);
        }
    }
    // Huge: a sparse file over the limit is refused before it is read.
    let huge = dir.join("huge.onnx");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(3 << 30)
        .unwrap();
    let output = generate(&dir, &["--model", "huge.onnx", "out.mid"]);
    eprintln!(
        "huge.onnx: {}",
        String::from_utf8_lossy(&output.stderr).trim_end()
    );
    if let Err(e) = check_one_line_error(&dir, &output, "huge.onnx", &["3072 MiB", "512 MiB"]) {
        failures.push(e);
    }
    std::fs::create_dir_all(dir.join("folder.onnx")).unwrap();
    let output = generate(&dir, &["--model", "folder.onnx", "out.mid"]);
    if let Err(e) = check_one_line_error(&dir, &output, "folder.onnx", &["cannot read model file"])
    {
        failures.push(e);
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_hostile_primer_file_is_one_line_and_exit_1() {
    let dir = scratch("primers");
    let small = small_format_1();
    let track = [
        0x00, 0x90, 0x3c, 0x40, 0x60, 0x80, 0x3c, 0x00, 0x00, 0xff, 0x2f, 0x00,
    ];
    let cases: Vec<(&str, Vec<u8>, &[&str])> = vec![
        ("empty.mid", Vec::new(), &["not a usable MIDI file"]),
        ("header_only.mid", header(0, 1, 480), &["no notes"]),
        (
            "cut_in_header.mid",
            small[..9].to_vec(),
            &["not a usable MIDI file"],
        ),
        (
            "cut_in_first_track.mid",
            small[..30].to_vec(),
            &["no notes"],
        ),
        (
            "smpte.mid",
            [header(0, 1, 0xe728), honest_chunk(b"MTrk", &track)].concat(),
            &["SMPTE"],
        ),
        (
            "smpte_minus_128_fps.mid",
            [header(0, 1, 0x8034), honest_chunk(b"MTrk", &track)].concat(),
            &["SMPTE"],
        ),
        (
            "zero_ticks.mid",
            [header(0, 1, 0), honest_chunk(b"MTrk", &track)].concat(),
            &["zero ticks per quarter"],
        ),
        (
            "track_says_4_gib_of_nothing.mid",
            [header(0, 1, 480), chunk(b"MTrk", u32::MAX, &[])].concat(),
            &["no notes"],
        ),
        (
            "tempo_too_fast.mid",
            [
                header(0, 1, 480),
                honest_chunk(
                    b"MTrk",
                    &[&[0x00, 0xff, 0x51, 0x03, 0, 0, 1][..], &track].concat(),
                ),
            ]
            .concat(),
            &["60000000 QPM", "--tempo"],
        ),
        (
            "a_model.mid",
            truncated(melody_basic(), 4096),
            &["not a usable MIDI file"],
        ),
    ];
    let mut failures = Vec::new();
    for (name, bytes, needles) in &cases {
        std::fs::write(dir.join(name), bytes).unwrap();
        let output = generate(&dir, &["--primer-midi", name, "--seconds", "5", "out.mid"]);
        eprintln!(
            "{name}: {}",
            String::from_utf8_lossy(&output.stderr).trim_end()
        );
        if let Err(e) = check_one_line_error(&dir, &output, name, needles) {
            failures.push(e);
        }
    }
    let huge = dir.join("huge.mid");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(1 << 40)
        .unwrap();
    let output = generate(&dir, &["--primer-midi", "huge.mid", "out.mid"]);
    eprintln!(
        "huge.mid: {}",
        String::from_utf8_lossy(&output.stderr).trim_end()
    );
    if let Err(e) = check_one_line_error(&dir, &output, "huge.mid", &["64 MiB"]) {
        failures.push(e);
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_primer_of_100k_notes_is_continued_from_its_last_64_bars_and_says_so() {
    let dir = scratch("100k");
    // 100,000 sixteenths: 25,000 beats, 6,250 bars, 3.5 hours at 120 QPM.
    std::fs::write(
        dir.join("long.mid"),
        midi_file::write(&sixteenths(100_000), 120.0),
    )
    .unwrap();
    let output = generate(
        &dir,
        &[
            "--primer-midi",
            "long.mid",
            "--model",
            "melody_basic",
            "--seconds",
            "150",
            "--seed",
            "3",
            "out.mid",
        ],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(
        stderr
            .lines()
            .filter(|l| l.starts_with("antiphon: note:"))
            .collect::<Vec<_>>(),
        [
            "antiphon: note: the primer is 6250 bars long; its last 64 bars (from bar 6187) are \
          the primer, 98976 notes that ended before them are left out"
        ],
        "{stderr}"
    );
    let midi = midi_file::read(&dir.join("out.mid")).unwrap();
    let primer: Vec<&FileNote> = midi.notes.iter().filter(|n| n.channel == 0).collect();
    let continuation = midi.notes.iter().filter(|n| n.channel == 1).count();
    assert_eq!(primer.len(), 64 * 16, "the last 64 bars of sixteenths");
    let primer_end = primer.iter().map(|n| n.end_quarters).fold(0.0, f64::max);
    assert_eq!(primer_end, 256.0);
    assert!(continuation > 0, "no continuation: {stderr}");
    assert!(
        midi.notes
            .iter()
            .filter(|n| n.channel == 1)
            .all(|n| n.start_quarters >= 256.0 && n.end_quarters <= 300.0 + 1e-9),
        "the continuation fills 256..300 beats (150 s at 120 QPM)"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_primer_of_100k_notes_in_64_bars_is_continued_by_the_default_model() {
    let dir = scratch("100k-dense");
    // 100,000 notes in 64 bars: chords of about 98 keys on every sixteenth, each a sixteenth
    // long; the default Polyphony RNN reads them as an event stream of about 100,000 events.
    let notes: Vec<FileNote> = (0..100_000)
        .map(|i| {
            let step = i / 98;
            FileNote {
                pitch: 16 + (i % 98) as u8,
                velocity: 80,
                channel: 0,
                start_quarters: step as f64 * 0.25,
                end_quarters: (step + 1) as f64 * 0.25,
            }
        })
        .collect();
    std::fs::write(dir.join("dense.mid"), midi_file::write(&notes, 120.0)).unwrap();
    let output = generate(
        &dir,
        &[
            "--primer-midi",
            "dense.mid",
            "--seconds",
            "140",
            "--seed",
            "3",
            "out.mid",
        ],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        !stderr.contains("note: the primer is"),
        "64 bars are not cut: {stderr}"
    );
    let midi = midi_file::read(&dir.join("out.mid")).unwrap();
    assert_eq!(
        midi.notes.iter().filter(|n| n.channel == 0).count(),
        100_000
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_small_real_primer_file_still_works() {
    let dir = scratch("small");
    std::fs::write(dir.join("small.mid"), small_format_1()).unwrap();
    let output = generate(
        &dir,
        &[
            "--primer-midi",
            "small.mid",
            "--seconds",
            "10",
            "--seed",
            "1",
            "out.mid",
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(dir.join("out.mid").exists());
    let _ = std::fs::remove_dir_all(&dir);
}
