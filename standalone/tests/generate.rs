//! `antiphon generate` end to end: the built binary on the shipped models, checked through the
//! files it writes (MIDI notes, length and tempo; PNG dimensions and colours; WAV format and
//! sound) and through its errors (one line on stderr, exit status 1, never a panic).
//!
//! The WAV test needs a General MIDI SoundFont (Debian: `apt install timgm6mb-soundfont`, or
//! `$ANTIPHON_SOUNDFONT`); without one it fails unless `ANTIPHON_TEST_WITHOUT_SOUNDFONT=1`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use antiphon_models::midi_file::{self, FileNote, MidiNotes};
use common::{BIN, generate};

/// A fresh, empty folder for one test's files.
fn scratch(test: &str) -> PathBuf {
    common::scratch("generate", test)
}

/// Asserts the run succeeded, showing its output if not.
fn assert_success(output: &Output) {
    assert!(
        output.status.success(),
        "antiphon failed ({:?}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Asserts the run failed cleanly: exit status 1 and one line on stderr, `antiphon: …`
/// containing `expected`.
fn assert_one_line_error(output: &Output, expected: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "stderr: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "not one line: {stderr}");
    assert!(stderr.starts_with("antiphon: "), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains(expected), "{stderr:?} lacks {expected:?}");
}

/// The notes on `channel`.
fn on_channel(midi: &MidiNotes, channel: u8) -> Vec<FileNote> {
    midi.notes
        .iter()
        .filter(|n| n.channel == channel)
        .copied()
        .collect()
}

/// The last note end, in quarter notes.
fn end_quarters(notes: &[FileNote]) -> f64 {
    notes.iter().map(|n| n.end_quarters).fold(0.0, f64::max)
}

/// A decoded PNG: width, height and RGB rows.
struct Picture {
    /// Width, in pixels.
    width: u32,
    /// Height, in pixels.
    height: u32,
    /// RGB bytes, row by row.
    rgb: Vec<u8>,
}

impl Picture {
    /// Reads an 8-bit RGB PNG.
    fn read(path: &Path) -> Self {
        let decoder = png::Decoder::new(std::fs::File::open(path).unwrap());
        let mut reader = decoder.read_info().unwrap();
        let mut rgb = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut rgb).unwrap();
        assert_eq!(info.color_type, png::ColorType::Rgb);
        assert_eq!(info.bit_depth, png::BitDepth::Eight);
        rgb.truncate(info.buffer_size());
        Self {
            width: info.width,
            height: info.height,
            rgb,
        }
    }

    /// The x coordinates of pixels whose colour passes `test`.
    fn columns_where(&self, test: impl Fn([u8; 3]) -> bool) -> Vec<u32> {
        self.rgb
            .chunks_exact(3)
            .enumerate()
            .filter(|(_, p)| test([p[0], p[1], p[2]]))
            .map(|(i, _)| i as u32 % self.width)
            .collect()
    }
}

/// Orange, the primer's colour in the piano roll.
fn is_orange(p: [u8; 3]) -> bool {
    i32::from(p[0]) > i32::from(p[2]) + 80
}

/// Blue, the continuation's colour in the piano roll.
fn is_blue(p: [u8; 3]) -> bool {
    i32::from(p[2]) > i32::from(p[0]) + 80
}

/// The piano roll's designed size for `notes` in a piece `length_quarters` long: 48 px per 4/4
/// bar (narrower only past 3840 px), 6 px per semitone over whole octaves C..B, margins 32 px
/// left, 8 right, 8 top, 16 bottom.
fn designed_size(notes: &[FileNote], length_quarters: f64) -> (u32, u32) {
    let end = end_quarters(notes).max(length_quarters);
    let bars = ((end / 4.0 - 1e-9).ceil() as u32).max(1);
    let px_per_bar = 48f64.min(3840.0 / f64::from(bars));
    let low = notes.iter().map(|n| n.pitch).min().unwrap();
    let high = notes.iter().map(|n| n.pitch).max().unwrap();
    let (low, high) = (low - low % 12, (high - high % 12 + 11).min(127));
    (
        32 + (f64::from(bars) * px_per_bar).ceil() as u32 + 8,
        8 + u32::from(high - low + 1) * 6 + 16,
    )
}

#[test]
fn the_seed_example_from_only_an_output_path_writes_the_notebook_piece_and_its_piano_roll() {
    let dir = scratch("seed");
    let output = generate(&dir, &["seed.mid"]);
    assert_success(&output);
    let midi = midi_file::read(&dir.join("seed.mid")).unwrap();
    assert!((midi.tempo_qpm - 75.0).abs() < 1e-3, "{}", midi.tempo_qpm);
    // The notebook's primer on channel 1: G#5 G#5 D#6 D#6 F6 F6 D#6, eighths and a quarter.
    let primer: Vec<(u8, f64, f64)> = on_channel(&midi, 0)
        .iter()
        .map(|n| (n.pitch, n.start_quarters, n.end_quarters))
        .collect();
    assert_eq!(
        primer,
        [
            (80, 0.0, 0.5),
            (80, 0.5, 1.0),
            (87, 1.0, 1.5),
            (87, 1.5, 2.0),
            (89, 2.0, 2.5),
            (89, 2.5, 3.0),
            (87, 3.0, 4.0)
        ]
    );
    // Polyphony RNN's continuation on channel 2, after the primer, to 180 s (225 quarters).
    let continuation = on_channel(&midi, 1);
    assert_eq!(continuation.len() + 7, midi.notes.len());
    assert!(continuation.len() > 200, "{} notes", continuation.len());
    assert!(continuation.iter().all(|n| n.start_quarters >= 4.0 - 1e-9));
    let end = end_quarters(&continuation);
    assert!(
        (221.0..=225.0 + 1e-6).contains(&end),
        "ends at {end} quarters"
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("polyphony_bach"), "{stdout}");
    // No progress bar when stderr is not a terminal.
    assert!(
        output.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let picture = Picture::read(&dir.join("seed.png"));
    assert_eq!(
        (picture.width, picture.height),
        designed_size(&midi.notes, 225.0)
    );
    assert_eq!(picture.width, 32 + 57 * 48 + 8);
    // The primer (orange) fills bar 1 only; the continuation (blue) starts in bar 2 and goes
    // on to the last bar.
    let orange = picture.columns_where(is_orange);
    let blue = picture.columns_where(is_blue);
    assert!(orange.len() > 100, "{} orange pixels", orange.len());
    assert!(orange.iter().all(|&x| (32..32 + 48).contains(&x)));
    assert!(blue.iter().all(|&x| x >= 32 + 48));
    assert!(blue.iter().any(|&x| x >= 32 + 56 * 48));
    assert!(!dir.join("seed.wav").exists(), "a WAV without --wav");
}

#[test]
fn bars_set_the_length_in_4_4_bars_at_the_tempo() {
    let dir = scratch("bars");
    let output = generate(
        &dir,
        &[
            "--bars",
            "8",
            "--tempo",
            "120",
            "--model",
            "melody_basic",
            "--seed",
            "2",
            "--out",
            "eight.mid",
        ],
    );
    assert_success(&output);
    let midi = midi_file::read(&dir.join("eight.mid")).unwrap();
    assert!((midi.tempo_qpm - 120.0).abs() < 1e-3);
    let end = end_quarters(&midi.notes);
    assert!(end <= 32.0 + 1e-6, "ends at {end} quarters");
    assert!(on_channel(&midi, 1).len() >= 4);
    let picture = Picture::read(&dir.join("eight.png"));
    assert_eq!(picture.width, 32 + 8 * 48 + 8);
    assert_eq!(
        (picture.width, picture.height),
        designed_size(&midi.notes, 32.0)
    );
}

#[test]
fn a_midi_file_primer_is_continued_at_its_own_tempo() {
    let dir = scratch("primer-file");
    let primer: Vec<FileNote> = [60, 62, 64, 65, 67]
        .iter()
        .enumerate()
        .map(|(i, &pitch)| FileNote {
            pitch,
            velocity: 90,
            channel: 0,
            start_quarters: i as f64,
            end_quarters: i as f64 + 1.0,
        })
        .collect();
    std::fs::write(dir.join("call.mid"), midi_file::write(&primer, 100.0)).unwrap();
    let output = generate(
        &dir,
        &[
            "--primer-midi",
            "call.mid",
            "--seconds",
            "12",
            "--model",
            "melody_basic",
            "--seed",
            "5",
            "answer.mid",
        ],
    );
    assert_success(&output);
    let midi = midi_file::read(&dir.join("answer.mid")).unwrap();
    assert!((midi.tempo_qpm - 100.0).abs() < 1e-3, "{}", midi.tempo_qpm);
    assert_eq!(on_channel(&midi, 0), primer);
    let continuation = on_channel(&midi, 1);
    assert!(!continuation.is_empty());
    assert!(continuation.iter().all(|n| n.start_quarters >= 5.0 - 1e-9));
    // 12 s at 100 QPM: 20 quarters.
    assert!(end_quarters(&continuation) <= 20.0 + 1e-6);
}

#[test]
fn a_drum_model_puts_primer_and_continuation_on_channel_10() {
    let dir = scratch("drums");
    let output = generate(
        &dir,
        &[
            "--model",
            "drums_kit",
            "--primer",
            "36@0-0.25 42@0.5-0.75 38@1-1.25 42@1.5-1.75",
            "--bars",
            "4",
            "--seed",
            "6",
            "drums.mid",
        ],
    );
    assert_success(&output);
    let midi = midi_file::read(&dir.join("drums.mid")).unwrap();
    assert!(midi.notes.len() > 4);
    assert!(
        midi.notes.iter().all(|n| n.channel == 9),
        "{:?}",
        midi.notes
    );
}

#[test]
fn beam_options_and_density_reach_the_model() {
    let dir = scratch("beam");
    let beam = generate(
        &dir,
        &[
            "--model",
            "melody_basic",
            "--bars",
            "4",
            "--beam-size",
            "2",
            "--branch-factor",
            "2",
            "--steps-per-iteration",
            "2",
            "--seed",
            "3",
            "beam.mid",
        ],
    );
    assert_success(&beam);
    assert!(!on_channel(&midi_file::read(&dir.join("beam.mid")).unwrap(), 1).is_empty());
    // +4 nats on every note start plays many more notes than −4 from the same seed.
    let count = |density: &str| {
        let out = format!("density{density}.mid");
        assert_success(&generate(
            &dir,
            &[
                "--model",
                "melody_basic",
                "--bars",
                "16",
                "--density",
                density,
                "--seed",
                "3",
                &out,
            ],
        ));
        on_channel(&midi_file::read(&dir.join(&out)).unwrap(), 1).len()
    };
    let (dense, sparse) = (count("4"), count("-4"));
    assert!(
        dense > 2 * sparse,
        "{dense} notes at +4 nats, {sparse} at -4"
    );
}

#[test]
fn wav_renders_the_piece_with_the_installed_soundfont() {
    let dir = scratch("wav");
    let mut command = Command::new(BIN);
    command
        .args([
            "generate",
            "--seconds",
            "12",
            "--seed",
            "4",
            "--wav",
            "song.mid",
        ])
        .current_dir(&dir);
    let output = command.output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    if stderr.contains("no SoundFont")
        && std::env::var_os("ANTIPHON_TEST_WITHOUT_SOUNDFONT").is_some_and(|v| v == "1")
    {
        eprintln!("no SoundFont installed; WAV test not run (ANTIPHON_TEST_WITHOUT_SOUNDFONT=1)");
        return;
    }
    assert!(
        output.status.success(),
        "{stderr}\n(install a GM SoundFont: apt install timgm6mb-soundfont, or set \
         ANTIPHON_SOUNDFONT; ANTIPHON_TEST_WITHOUT_SOUNDFONT=1 skips this test)"
    );
    let midi = midi_file::read(&dir.join("song.mid")).unwrap();
    let wav = std::fs::read(dir.join("song.wav")).unwrap();
    let u16_at = |i: usize| u16::from_le_bytes([wav[i], wav[i + 1]]);
    let u32_at = |i: usize| u32::from_le_bytes([wav[i], wav[i + 1], wav[i + 2], wav[i + 3]]);
    assert_eq!(&wav[0..4], b"RIFF");
    assert_eq!(&wav[8..16], b"WAVEfmt ");
    assert_eq!((u16_at(20), u16_at(22)), (1, 2), "PCM, stereo");
    assert_eq!(u32_at(24), 44_100);
    assert_eq!(u16_at(34), 16);
    assert_eq!(&wav[36..40], b"data");
    let data = &wav[44..];
    assert_eq!(data.len(), u32_at(40) as usize);
    // The piece (12 s, or its last note) and 2 s of tail.
    let seconds_per_quarter = 60.0 / 75.0;
    let piece_seconds = (end_quarters(&midi.notes) * seconds_per_quarter).max(12.0);
    let frames = data.len() / 4;
    assert_eq!(frames, ((piece_seconds + 2.0) * 44_100.0).ceil() as usize);
    let left: Vec<f64> = data
        .chunks_exact(4)
        .map(|f| f64::from(i16::from_le_bytes([f[0], f[1]])))
        .collect();
    let rms = |from_s: f64, to_s: f64| {
        let (a, b) = ((from_s * 44_100.0) as usize, (to_s * 44_100.0) as usize);
        (left[a..b].iter().map(|s| s * s).sum::<f64>() / (b - a) as f64).sqrt()
    };
    // The primer sounds in its 3.2 s, and the continuation's first note sounds too.
    assert!(rms(0.0, 3.2) > 300.0, "primer RMS {}", rms(0.0, 3.2));
    let first = on_channel(&midi, 1)[0];
    let at = first.start_quarters * seconds_per_quarter;
    assert!(
        rms(at, at + 0.3) > 300.0,
        "continuation RMS {}",
        rms(at, at + 0.3)
    );
}

#[test]
fn an_unreadable_primer_file_is_one_line_and_exit_1() {
    let dir = scratch("no-primer");
    let output = generate(&dir, &["--primer-midi", "missing.mid", "out.mid"]);
    assert_one_line_error(&output, "missing.mid");
    assert!(!dir.join("out.mid").exists());
}

#[test]
fn a_corrupt_primer_file_is_one_line_and_exit_1() {
    let dir = scratch("bad-primer");
    std::fs::write(dir.join("bad.mid"), b"RIFF, not a Standard MIDI File").unwrap();
    let output = generate(&dir, &["--primer-midi", "bad.mid", "out.mid"]);
    assert_one_line_error(&output, "bad.mid is not a usable MIDI file");
    std::fs::write(dir.join("empty.mid"), midi_file::write(&[], 120.0)).unwrap();
    let output = generate(&dir, &["--primer-midi", "empty.mid", "out.mid"]);
    assert_one_line_error(&output, "no notes");
}

#[test]
fn an_unknown_model_is_one_line_and_exit_1() {
    let dir = scratch("unknown-model");
    let output = generate(&dir, &["--model", "polyphony_bch", "out.mid"]);
    assert_one_line_error(&output, "unknown model \"polyphony_bch\"");
    let output = generate(&dir, &["--model", "missing.onnx", "out.mid"]);
    assert_one_line_error(&output, "missing.onnx");
    std::fs::write(dir.join("fake.onnx"), b"not a model").unwrap();
    let output = generate(&dir, &["--model", "fake.onnx", "out.mid"]);
    assert_one_line_error(&output, "fake.onnx");
    assert!(!dir.join("out.mid").exists());
}

#[test]
fn a_missing_soundfont_is_one_line_and_exit_1_before_generating() {
    let dir = scratch("no-soundfont");
    let output = generate(&dir, &["--soundfont", "missing.sf2", "out.mid"]);
    assert_one_line_error(
        &output,
        "cannot read SoundFont missing.sf2 (from --soundfont)",
    );
    let output = Command::new(BIN)
        .args(["generate", "--wav", "out.mid"])
        .current_dir(&dir)
        .env("ANTIPHON_SOUNDFONT", "also-missing.sf2")
        .output()
        .unwrap();
    assert_one_line_error(
        &output,
        "cannot read SoundFont also-missing.sf2 (from $ANTIPHON_SOUNDFONT)",
    );
    std::fs::write(dir.join("bad.sf2"), b"RIFF\x04\x00\x00\x00sfbk").unwrap();
    let output = generate(&dir, &["--soundfont", "bad.sf2", "out.mid"]);
    assert_one_line_error(
        &output,
        "bad.sf2 (from --soundfont) is not a usable SoundFont",
    );
    assert!(!dir.join("out.mid").exists());
}

#[test]
fn an_output_path_naming_the_picture_is_one_line_and_exit_1() {
    let dir = scratch("png-out");
    assert_one_line_error(&generate(&dir, &["out.png"]), "names the MIDI file");
}

#[test]
fn a_closed_stdout_does_not_make_either_command_panic() {
    let dir = scratch("pipe");
    for args in [
        &["answer"][..],
        &["generate", "--seconds", "6", "piped.mid"][..],
    ] {
        let mut child = Command::new(BIN)
            .args(args)
            .current_dir(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader goes away before anything is printed (loading the model comes first).
        drop(child.stdout.take());
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(output.status.success(), "{args:?}: {stderr}");
    }
    assert!(dir.join("piped.mid").exists() && dir.join("piped.png").exists());
}
