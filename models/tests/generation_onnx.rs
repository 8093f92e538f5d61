//! Generation and evaluation through ONNX Runtime for every encoding: the shipped Melody RNN and
//! tiny contract models written by `test_support` (ONNX Runtime from `ANTIPHON_ORT_LIB` or
//! `target/onnxruntime`; `cargo xtask fetch-ort` puts it there).

use std::path::PathBuf;

use antiphon_models::encoding::chords::parse_symbol;
use antiphon_models::encoding::drums::DRUM_CLASS_PITCHES;
use antiphon_models::eval::{self, Piece, Split};
use antiphon_models::generate::load_generator;
use antiphon_models::midi_file::{self, FileMarker, FileNote};
use antiphon_models::session::ModelSource;
use antiphon_models::test_support::{
    DRUM_KIT, IMPROV_PITCH, IMPROV_TRIAD, KEY_MELODY, MELODY_LOOKBACK, TinyEncoding,
};
use antiphon_models::{
    BeamSettings, ChordChange, Family, GenerateRequest, ModelError, PitchMask, Rng, Scale,
    StepControl, StepModel, StepNote, shipped,
};

fn runtime_dirs() -> Vec<PathBuf> {
    vec![PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/onnxruntime")]
}

/// A tiny model of each new encoding: (name, encoding).
const TINY: [(&str, TinyEncoding); 5] = [
    ("tiny_lookback", MELODY_LOOKBACK),
    ("tiny_key_melody", KEY_MELODY),
    ("tiny_drum_kit", DRUM_KIT),
    ("tiny_improv_pitch", IMPROV_PITCH),
    ("tiny_improv_triad", IMPROV_TRIAD),
];

/// The tiny model `name` of [`TINY`], written into the temporary folder.
fn tiny(name: &str) -> ModelSource {
    let (name, encoding) = TINY.into_iter().find(|t| t.0 == name).unwrap();
    ModelSource::File(encoding.write(env!("CARGO_TARGET_TMPDIR"), name))
}

/// C4 E4 G4 C5 in quarter notes: one bar.
fn melody_primer() -> Vec<StepNote> {
    [60, 64, 67, 72]
        .iter()
        .enumerate()
        .map(|(i, &p)| StepNote::new(p, 90, 4 * i as i64, 4 * i as i64 + 4))
        .collect()
}

/// Kick on 1 and 3, snare on 2 and 4, closed hat on eighths: one bar.
fn drum_primer() -> Vec<StepNote> {
    let mut notes = Vec::new();
    for step in (0..16).step_by(2) {
        notes.push(StepNote::new(42, 90, step, step + 1));
    }
    for step in [0, 8] {
        notes.push(StepNote::new(36, 90, step, step + 1));
    }
    for step in [4, 12] {
        notes.push(StepNote::new(38, 90, step, step + 1));
    }
    notes
}

fn chords() -> Vec<ChordChange> {
    ["C", "G7", "Am", "F"]
        .iter()
        .enumerate()
        .map(|(i, s)| ChordChange {
            start_step: 16 * i as i64,
            chord: parse_symbol(s).unwrap(),
        })
        .collect()
}

#[test]
fn given_a_tiny_model_of_every_encoding_when_generating_then_notes_fit_the_family() {
    let plain = BeamSettings::PLAIN;
    let beam = BeamSettings::new(3, 2, 4);
    for (name, encoding) in TINY {
        // Given a model of the encoding
        let mut generator = load_generator(&tiny(name), &runtime_dirs()).unwrap();
        let info = generator.info().clone();
        assert_eq!(info.family.as_str(), encoding.family, "{name}");
        assert_eq!(
            (info.input_size, info.classes),
            (encoding.input_size, encoding.classes),
            "{name}"
        );
        let drums = info.family == Family::Drums;
        assert_eq!(generator.output_channel(), drums.then_some(9), "{name}");
        let primer = if drums {
            drum_primer()
        } else {
            melody_primer()
        };
        let chords = chords();
        for settings in [plain, beam] {
            // When 3 bars are generated after the bar of primer, plainly and with beams
            let request = GenerateRequest {
                beam: settings,
                chords: &chords,
                temperature: 1.5,
                ..GenerateRequest::new(&primer, 16, 48)
            };
            let mut notes = Vec::new();
            let stats = generator
                .generate(&request, &mut Rng::seeded(3), &mut |n| {
                    notes.push(n);
                    StepControl::Continue
                })
                .unwrap();
            // Then every step ran and the notes lie in the answer, in start order
            assert_eq!(stats.steps, 48, "{name}");
            assert_eq!(stats.notes, notes.len(), "{name}");
            assert!(!notes.is_empty(), "{name}: no notes");
            assert!(
                notes.windows(2).all(|w| w[0].start_step <= w[1].start_step),
                "{name}"
            );
            for n in &notes {
                assert!(
                    0 <= n.start_step && n.start_step < n.end_step && n.end_step <= 48,
                    "{name}: {n:?}"
                );
                if drums {
                    assert!(DRUM_CLASS_PITCHES.iter().any(|c| c[0] == n.pitch), "{n:?}");
                } else if info.family == Family::Improv {
                    // Not transposed: the model's own range.
                    assert!((48..84).contains(&n.pitch), "{name}: {n:?}");
                } else {
                    // The primer was moved down an octave to reach 48: answers come back up.
                    assert!((60..96).contains(&n.pitch), "{name}: {n:?}");
                }
            }
        }
    }
}

#[test]
fn given_a_mask_when_generating_then_no_note_outside_the_range_and_scale_comes() {
    // Given a range of C4..=C5 and D minor pentatonic (D F G A C), and a primer with notes
    // outside both (lookback labels can copy primer notes)
    let mask = PitchMask::range(60, 72).with_scale(Scale::parse("D:minor").unwrap());
    let mut primer = melody_primer();
    primer.push(StepNote::new(47, 90, 14, 16));
    primer.push(StepNote::new(71, 90, 15, 16));
    for source in [
        shipped::MELODY_BASIC,
        tiny("tiny_lookback"),
        tiny("tiny_key_melody"),
    ] {
        let mut generator = load_generator(&source, &runtime_dirs()).unwrap();
        for beam in [BeamSettings::PLAIN, BeamSettings::new(2, 3, 2)] {
            // (a beam may prefer silence to the few notes the mask leaves)
            let mut total = 0;
            for seed in 0..8 {
                // When answers are sampled hot
                let request = GenerateRequest {
                    mask,
                    beam,
                    temperature: 2.0,
                    ..GenerateRequest::new(&primer, 16, 64)
                };
                let mut notes = Vec::new();
                generator
                    .generate(&request, &mut Rng::seeded(seed), &mut |n| {
                        notes.push(n);
                        StepControl::Continue
                    })
                    .unwrap();
                // Then every note is in range and scale
                total += notes.len();
                for n in &notes {
                    assert!(mask.allows(n.pitch), "{}: {n:?}", source.describe());
                }
            }
            assert!(total > 0, "{} {beam:?}: no notes", source.describe());
        }
    }
}

#[test]
fn given_density_when_every_shipped_family_generates_then_more_density_means_more_notes() {
    // Given every shipped model and the same seeds
    for source in shipped::ALL {
        let mut generator = load_generator(source, &runtime_dirs()).unwrap();
        let primer = if generator.output_channel().is_some() {
            drum_primer()
        } else {
            melody_primer()
        };
        let mut count = |density_nats: f32| {
            let mut total = 0;
            for seed in 0..4 {
                // When 32 steps are generated at a density
                let request = GenerateRequest {
                    density_nats,
                    ..GenerateRequest::new(&primer, 16, 32)
                };
                generator
                    .generate(&request, &mut Rng::seeded(seed), &mut |_| {
                        total += 1;
                        StepControl::Continue
                    })
                    .unwrap();
            }
            total
        };
        let (sparse, dense) = (count(-3.0), count(3.0));
        // Then leaning towards note starts gives more notes than leaning away
        assert!(
            dense > sparse,
            "{}: {dense} notes dense vs {sparse} sparse",
            source.describe()
        );
    }
}

#[test]
fn given_the_shipped_model_when_a_beam_search_streams_then_stopping_ends_it_at_once() {
    let mut generator = load_generator(&shipped::MELODY_BASIC, &runtime_dirs()).unwrap();
    let primer = melody_primer();
    let request = GenerateRequest {
        beam: BeamSettings::new(4, 2, 1),
        ..GenerateRequest::new(&primer, 16, 128)
    };
    let mut notes = 0;
    let stats = generator
        .generate(&request, &mut Rng::seeded(1), &mut |_| {
            notes += 1;
            if notes == 2 {
                StepControl::Stop
            } else {
                StepControl::Continue
            }
        })
        .unwrap();
    assert!(stats.stopped);
    assert_eq!(notes, 2);
    assert!(stats.steps < 128, "{stats:?}");
}

#[test]
fn given_a_family_that_does_not_fit_the_encoding_when_loaded_then_it_is_refused() {
    let drums_called_melody = TinyEncoding {
        family: "melody",
        ..DRUM_KIT
    };
    let path = drums_called_melody.write(env!("CARGO_TARGET_TMPDIR"), "drums_called_melody");
    let err = StepModel::load(&ModelSource::File(path), &runtime_dirs()).unwrap_err();
    assert!(matches!(err, ModelError::Contract { .. }), "{err}");
    assert!(err.to_string().contains("\"drums\""), "{err}");
}

/// A folder of MIDI files under the temporary folder, by split.
fn midi_folder(name: &str, files: &[(&str, Vec<FileNote>, Vec<FileMarker>)]) -> PathBuf {
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("eval-{name}"));
    let _ = std::fs::remove_dir_all(&root);
    for (path, notes, markers) in files {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, midi_file::write_with_markers(notes, markers, 120.0)).unwrap();
    }
    root
}

fn file_note(pitch: u8, channel: u8, start: f64, end: f64) -> FileNote {
    FileNote {
        pitch,
        velocity: 90,
        channel,
        start_quarters: start,
        end_quarters: end,
    }
}

/// A C major scale up and down, `bars` times, in eighth notes.
fn scales(bars: usize) -> Vec<FileNote> {
    let pitches = [
        60, 62, 64, 65, 67, 69, 71, 72, 71, 69, 67, 65, 64, 62, 60, 62,
    ];
    (0..bars * 8)
        .map(|i| {
            let t = i as f64 * 0.5;
            file_note(pitches[i % pitches.len()], 0, t, t + 0.5)
        })
        .collect()
}

#[test]
fn given_melody_data_with_a_train_split_when_evaluated_then_the_bigram_baseline_is_reported() {
    let root = midi_folder(
        "melody",
        &[
            ("train/a.mid", scales(64), vec![]),
            ("valid/b.mid", scales(8), vec![]),
        ],
    );
    let mut model = StepModel::load(&shipped::MELODY_BASIC, &runtime_dirs()).unwrap();
    let splits = eval::load_dataset(&root, Family::Melody, 4, None).unwrap();
    let reports = eval::evaluate(&mut model, &splits).unwrap();
    assert_eq!(reports.len(), 2);
    for r in &reports {
        assert!(r.nll_per_step.is_finite() && r.steps > 0);
        // A scale is predictable from the event before: the bigram beats the unigram.
        assert!(
            r.bigram_nll_per_step < r.unigram_nll_per_step,
            "{r}: bigram should beat unigram"
        );
        let line = r.to_string();
        let bigram = line.find(" bigram_nll_per_step=").unwrap();
        assert!(line.find(" unigram_nll_per_step=").unwrap() < bigram);
        assert!(bigram < line.find(" pieces=").unwrap());
    }
    // The lookback and key-melody models score the same steps through their own labels.
    for name in ["tiny_lookback", "tiny_key_melody"] {
        let mut model = StepModel::load(&tiny(name), &runtime_dirs()).unwrap();
        let other = eval::evaluate(&mut model, &splits).unwrap();
        for (a, b) in reports.iter().zip(&other) {
            assert_eq!((a.steps, a.pieces), (b.steps, b.pieces), "{name}");
            assert!(b.nll_per_step.is_finite() && b.bigram_nll_per_step.is_finite());
            // Repeat labels make a repeated scale even more predictable from the label before.
            assert!(b.bigram_nll_per_step < a.bigram_nll_per_step, "{name}: {b}");
        }
    }
}

#[test]
fn given_drum_and_improv_data_when_evaluated_then_each_family_reads_its_part_of_the_files() {
    // Drums: the channel-10 notes count, the bass line on channel 1 does not.
    let mut drum_file: Vec<FileNote> = (0..32)
        .map(|i| {
            file_note(
                if i % 4 == 0 { 36 } else { 42 },
                9,
                i as f64 * 0.25,
                i as f64 * 0.25 + 0.1,
            )
        })
        .collect();
    drum_file.push(file_note(40, 0, 0.0, 20.0));
    let root = midi_folder("drums", &[("train/d.mid", drum_file, vec![])]);
    let splits = eval::load_dataset(&root, Family::Drums, 4, None).unwrap();
    assert_eq!(splits[0].pieces[0].notes.len(), 32);
    let mut model = StepModel::load(&tiny("tiny_drum_kit"), &runtime_dirs()).unwrap();
    let reports = eval::evaluate(&mut model, &splits).unwrap();
    assert_eq!(reports[0].steps, 31);
    assert!(reports[0].nll_per_step.is_finite());

    // Improv: melody from every channel, chords from the markers (other markers ignored).
    let markers = vec![
        FileMarker {
            quarters: 0.0,
            text: "C".into(),
        },
        FileMarker {
            quarters: 2.0,
            text: "Verse".into(),
        },
        FileMarker {
            quarters: 4.0,
            text: "G7".into(),
        },
        FileMarker {
            quarters: 8.0,
            text: "N.C.".into(),
        },
    ];
    let mut melody = scales(3);
    melody[1].channel = 9;
    let root = midi_folder("improv", &[("all.mid", melody, markers)]);
    let splits = eval::load_dataset(&root, Family::Improv, 4, None).unwrap();
    assert_eq!(splits[0].name, "all");
    let piece: &Piece = &splits[0].pieces[0];
    assert_eq!(piece.notes.len(), 24);
    let starts: Vec<(i64, bool)> = piece
        .chords
        .iter()
        .map(|c| (c.start_step, c.chord.is_some()))
        .collect();
    assert_eq!(starts, vec![(0, true), (16, true), (32, false)]);
    for name in ["tiny_improv_pitch", "tiny_improv_triad"] {
        let mut model = StepModel::load(&tiny(name), &runtime_dirs()).unwrap();
        let reports = eval::evaluate(&mut model, &splits).unwrap();
        assert_eq!(reports[0].steps, 47, "{name}");
        assert!(reports[0].bigram_nll_per_step.is_finite());
    }
    // Chords change what an Improv model predicts.
    let mut model = StepModel::load(&tiny("tiny_improv_triad"), &runtime_dirs()).unwrap();
    let without = vec![Split {
        name: "all".into(),
        pieces: vec![Piece::of_notes(piece.notes.clone())],
    }];
    let a = eval::evaluate(&mut model, &splits).unwrap()[0].nll_per_step;
    let b = eval::evaluate(&mut model, &without).unwrap()[0].nll_per_step;
    assert!((a - b).abs() > 1e-6, "{a} vs {b}");
}
