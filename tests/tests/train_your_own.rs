//! Training your own model from a folder of MIDI files works end to end: the trainer the README's
//! `cargo xtask train --family melody --data DIR --out my.onnx` runs reads the folder, shows its
//! progress bar, writes checkpoints, a summary and a model the Rust runtime (the one the plugin
//! uses) loads and plays; `--resume` continues from the checkpoint.
//!
//! The folder is real music made at test time: the soprano lines of 40 Bach chorales from the JSB
//! set at `../shared/data/jsb/jsb-chorales-16th.train-valid.json` (relative to the workspace
//! root), one small MIDI file each, some in a subfolder and some named `.midi` so the recursive
//! reading is exercised. The trainer is `python -m antiphon_train` run by the Python named by
//! `ANTIPHON_TRAIN_PYTHON` (`cargo xtask test` sets it to its venv's), else by the venv's
//! `target/train-venv/bin/python`; without PyTorch the test fails and says to run
//! `cargo xtask test`. ONNX Runtime comes from `ANTIPHON_ORT_LIB` or `target/onnxruntime/`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use antiphon_models::generate::load_generator;
use antiphon_models::midi_file::{self, FileNote};
use antiphon_models::session::ModelSource;
use antiphon_models::{Family, GenerateRequest, Rng, StepControl, StepNote};
use antiphon_tests::bundle::workspace_root;
use antiphon_tests::util::TempDir;
use serde_json::Value;

/// Environment variable naming the Python that trains (set by `cargo xtask test`).
const TRAIN_PYTHON_ENV: &str = "ANTIPHON_TRAIN_PYTHON";

/// The JSB chorales, one frame per 16th note, relative to the workspace root.
const JSB_16TH: &str = "../shared/data/jsb/jsb-chorales-16th.train-valid.json";

/// How many chorales go into the folder.
const CHORALES: usize = 40;

/// 16th-note steps per quarter note (the JSB frames and the model grid).
const STEPS_PER_QUARTER: f64 = 4.0;

/// A piece of the JSB set: frames of sounding MIDI pitches, one per 16th note.
type Piece = Vec<Vec<u8>>;

/// Reads one split ("train" or "valid") of the JSB chorales.
fn jsb_split(split: &str) -> Vec<Piece> {
    let path = workspace_root().join(JSB_16TH);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "the JSB chorales are needed at {} ({e}); they are the shared training data",
            path.display()
        )
    });
    let json: Value = serde_json::from_str(&text).expect("JSB file is JSON");
    // Pitches are numbers, some written as floats (67.0).
    let pieces: Vec<Vec<Vec<f64>>> =
        serde_json::from_value(json[split].clone()).expect("a JSB split is a list of frame lists");
    pieces
        .iter()
        .map(|piece| {
            piece
                .iter()
                .map(|frame| {
                    frame
                        .iter()
                        .map(|&p| {
                            assert!(p.fract() == 0.0 && (0.0..128.0).contains(&p), "pitch {p}");
                            p as u8
                        })
                        .collect()
                })
                .collect()
        })
        .collect()
}

/// The soprano (highest pitch of each frame) as notes on the 16th grid: a run of frames with the
/// same top pitch is one held note, an empty frame a rest.
fn soprano(piece: &Piece) -> Vec<StepNote> {
    let mut notes: Vec<StepNote> = Vec::new();
    let mut previous = None;
    for (step, frame) in piece.iter().enumerate() {
        let top = frame.iter().copied().max();
        let step = step as i64;
        if top.is_some() && top == previous {
            notes.last_mut().expect("a held note").end_step = step + 1;
        } else if let Some(pitch) = top {
            notes.push(StepNote::new(pitch, 80, step, step + 1));
        }
        previous = top;
    }
    notes
}

/// A format-0 MIDI file (480 ticks per quarter, 120 per 16th) of notes on the 16th grid.
fn midi_bytes(notes: &[StepNote]) -> Vec<u8> {
    let notes: Vec<FileNote> = notes
        .iter()
        .map(|n| FileNote {
            pitch: n.pitch,
            velocity: n.velocity,
            channel: 0,
            start_quarters: n.start_step as f64 / STEPS_PER_QUARTER,
            end_quarters: n.end_step as f64 / STEPS_PER_QUARTER,
        })
        .collect();
    midi_file::write(&notes, 100.0)
}

/// Writes the soprano lines of the first [`CHORALES`] training chorales into `dir`; returns the
/// number of files.
fn write_chorale_folder(dir: &Path) -> usize {
    let pieces = jsb_split("train");
    assert!(
        pieces.len() >= CHORALES,
        "JSB has {} chorales",
        pieces.len()
    );
    std::fs::create_dir_all(dir.join("bach")).unwrap();
    for (i, piece) in pieces.iter().take(CHORALES).enumerate() {
        let line = soprano(piece);
        assert!(line.len() >= 8, "chorale {i} has a soprano line");
        // Half the files in a subfolder, every fifth one named .midi.
        let folder = if i % 2 == 1 { "bach/" } else { "" };
        let ext = if i % 5 == 4 { "midi" } else { "mid" };
        let path = dir.join(format!("{folder}chorale_{i:03}.{ext}"));
        let bytes = midi_bytes(&line);
        // The file reads back to the line (the writer and the grid agree).
        let back = midi_file::parse(&bytes).unwrap().notes;
        assert_eq!(back.len(), line.len(), "{}", path.display());
        std::fs::write(&path, bytes).unwrap();
    }
    CHORALES
}

/// The Python that trains: `ANTIPHON_TRAIN_PYTHON`, else the training venv's. Fails (no silent
/// skip) when it cannot import PyTorch, ONNX and ONNX Runtime.
fn train_python() -> PathBuf {
    let venv = workspace_root().join("target").join("train-venv");
    let python = match std::env::var_os(TRAIN_PYTHON_ENV).filter(|p| !p.is_empty()) {
        Some(python) => PathBuf::from(python),
        None if cfg!(windows) => venv.join("Scripts").join("python.exe"),
        None => venv.join("bin").join("python"),
    };
    let check = Command::new(&python)
        .args(["-c", "import torch, onnx, onnxruntime"])
        .output();
    match check {
        Ok(out) if out.status.success() => python,
        Ok(out) => panic!(
            "{} cannot import torch, onnx and onnxruntime ({}): run `cargo xtask test` (it \
             provisions the training venv target/train-venv and sets {TRAIN_PYTHON_ENV}), or \
             set {TRAIN_PYTHON_ENV} to a Python that has models/python/requirements.txt",
            python.display(),
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ),
        Err(e) => panic!(
            "no Python to train with at {} ({e}): run `cargo xtask test` (it provisions the \
             training venv target/train-venv and sets {TRAIN_PYTHON_ENV}), or set \
             {TRAIN_PYTHON_ENV} to a Python that has models/python/requirements.txt",
            python.display()
        ),
    }
}

/// Runs `python -m antiphon_train melody …` from the workspace root, as `cargo xtask train`
/// does; echoes its output (shown with `--nocapture` or on failure) and fails unless it exits 0.
fn train(python: &Path, data: &Path, out: &Path, work: &Path, extra: &[&str]) -> Output {
    let root = workspace_root();
    let mut command = Command::new(python);
    command
        .args(["-m", "antiphon_train", "melody", "--data"])
        .arg(data)
        .arg("--out")
        .arg(out)
        .arg("--work")
        .arg(work)
        .args([
            "--max-minutes",
            "0.3",
            "--hidden",
            "32",
            "--batch-size",
            "8",
            "--threads",
            "1",
            "--eval-every",
            "0",
            "--log-seconds",
            "0",
        ])
        .args(extra)
        .env("PYTHONPATH", root.join("models").join("python"))
        .current_dir(&root);
    let started = std::time::Instant::now();
    let output = command.output().expect("the trainer starts");
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!(
        "--- antiphon_train {extra:?}: {:?} in {:.1}s\n{}{stderr}",
        output.status,
        started.elapsed().as_secs_f64(),
        String::from_utf8_lossy(&output.stdout)
    );
    assert!(
        output.status.success(),
        "antiphon_train {extra:?} failed ({}):\n{stderr}",
        output.status
    );
    output
}

/// The ONNX Runtime folders to search (the environment variable wins).
fn runtime_dirs() -> Vec<PathBuf> {
    vec![workspace_root().join("target").join("onnxruntime")]
}

/// The number of training steps (batches) the model card in the ONNX file says were trained.
fn steps_trained(card: &Value) -> u64 {
    card["hyperparameters"]["steps_trained"]
        .as_u64()
        .unwrap_or_else(|| panic!("card without hyperparameters.steps_trained: {card}"))
}

/// Reads a JSON file.
fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{} is missing: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The first two bars of a chorale the model never saw (JSB's validation split), as a primer.
fn unseen_primer() -> Vec<StepNote> {
    let piece = &jsb_split("valid")[0];
    soprano(piece)
        .into_iter()
        .filter(|n| n.start_step < 32)
        .map(|n| StepNote {
            end_step: n.end_step.min(32),
            ..n
        })
        .collect()
}

#[test]
fn given_a_folder_of_midi_files_when_training_and_resuming_then_the_model_plays() {
    let python = train_python();
    let tmp = TempDir::new("antiphon-train-your-own").unwrap();
    let data = tmp.path().join("my midi");
    let out = tmp.path().join("my.onnx");
    let work = tmp.path().join("work");

    // Given a folder of real music: 40 chorale soprano lines as MIDI files
    let files = write_chorale_folder(&data);

    // When a melody model is trained on it for 2 epochs
    let first = train(&python, &data, &out, &work, &["--epochs", "2"]);

    // Then the trainer showed a progress bar, checkpointed, and summed up a finite validation
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("[train] epoch 1 [") && l.contains("batch ")),
        "no progress bar in:\n{stderr}"
    );
    for checkpoint in ["last.pt", "best.pt"] {
        assert!(
            work.join("checkpoints").join(checkpoint).is_file(),
            "{checkpoint}"
        );
    }
    let summary = read_json(&work.join("summary.json"));
    let nll = summary["valid"]["nll_per_step"]
        .as_f64()
        .unwrap_or_else(|| panic!("summary without valid.nll_per_step: {summary}"));
    assert!(nll.is_finite() && nll > 0.0, "valid nll {nll}");
    assert!(summary["valid"]["steps"].as_u64().unwrap() > 0, "{summary}");
    // every file was read, from the subfolder too, into both splits
    let counts = &summary["counts"];
    let tunes = |split: &str| counts[split]["tunes"].as_u64().unwrap();
    assert_eq!(tunes("train") + tunes("valid"), files as u64, "{counts}");
    assert!(tunes("train") >= 1 && tunes("valid") >= 1, "{counts}");

    // And the model loads in the Rust runtime and continues an unseen chorale's first 2 bars
    let mut generator = load_generator(&ModelSource::File(out.clone()), &runtime_dirs())
        .unwrap_or_else(|e| panic!("the trained model does not load: {e}"));
    let info = generator.info().clone();
    assert_eq!(info.family, Family::Melody);
    assert_eq!(
        info.card["training_data"][0]["source"].as_str(),
        data.to_str(),
        "the card names the user's folder"
    );
    let steps_first = steps_trained(&info.card);
    assert!(steps_first > 0);
    // it learned something: better than guessing every class alike
    let uniform = (info.classes as f64).ln();
    assert!(nll < uniform, "valid nll {nll}, uniform {uniform}");
    let primer = unseen_primer();
    assert!(!primer.is_empty());
    let request = GenerateRequest::new(&primer, 32, 64);
    let mut notes = Vec::new();
    let stats = generator
        .generate(&request, &mut Rng::seeded(7), &mut |n| {
            notes.push(n);
            StepControl::Continue
        })
        .expect("generation runs");
    assert_eq!(stats.steps, 64);
    assert!(!notes.is_empty(), "the trained model played no note");
    assert!(
        notes
            .iter()
            .all(|n| 0 <= n.start_step && n.start_step < n.end_step && n.end_step <= 64),
        "{notes:?}"
    );
    drop(generator);

    // When training resumes from the checkpoint up to 3 epochs
    let second = train(&python, &data, &out, &work, &["--epochs", "3", "--resume"]);

    // Then it continued where it stopped: more steps trained, both runs in the card
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains("[train] resumed from"), "{stderr}");
    let model = load_generator(&ModelSource::File(out.clone()), &runtime_dirs())
        .unwrap_or_else(|e| panic!("the resumed model does not load: {e}"));
    let card = &model.info().card;
    let steps_second = steps_trained(card);
    assert!(
        steps_second > steps_first,
        "resumed training trained {steps_second} steps in all, the first run {steps_first}"
    );
    assert_eq!(
        card["invocations"].as_array().map(Vec::len),
        Some(2),
        "{}",
        card["invocations"]
    );
    // and the exported model is the best one so far (the first run's best still counts)
    let summary = read_json(&work.join("summary.json"));
    let nll_second = summary["valid"]["nll_per_step"].as_f64().unwrap();
    assert!(
        nll_second.is_finite() && nll_second <= nll + 1e-9,
        "{nll_second} after {nll}"
    );
}
