//! Hostile model files as the Custom File of the real plugin: each is refused with a log line
//! that names it, and the plugin keeps passing MIDI through with no answer and no stuck note.
//!
//! The files are the ones that would have hurt the host, not only the plugin, before the
//! loader's limits: a model declaring a state 2^40 floats wide (the worker would have tried to
//! allocate 4 TiB and aborted the host), a sparse 3 GiB file (read whole into memory), a grid of
//! 4,000,000,000 steps per quarter (an answer of billions of steps), and metadata that lies
//! about the graph (Polyphony's 259 classes on Melody RNN's 38). The files that break ONNX
//! itself (junk, truncated) are `corrupt_model.rs` and `corrupt_model_truncated.rs`.
//!
//! Antiphon.clap (with `assert_process_allocs`) is loaded once per file with "Model" = Custom
//! File and the project's `model_path` pointing at the file; the test call is played in real
//! time at 120 BPM. `NICE_LOG` is set before the first plugin loads; this file holds one test so
//! no other test shares the process.

use std::path::{Path, PathBuf};

use antiphon_models::test_support::hostile::{melody_basic, tiny_melody_with_state, with_metadata};
use antiphon_tests::antiphon::{
    assert_refusal_logged, load_with_channel_2_thru, log_into, param, play_call_expect_thru_only,
    set_model_path,
};
use antiphon_tests::jam::NoteDialect;
use antiphon_tests::util::TempDir;

/// Writes the hostile files into `dir`; returns their paths.
fn hostile_files(dir: &Path) -> Vec<PathBuf> {
    let model = melody_basic();
    let mut files = Vec::new();
    let mut write = |name: &str, bytes: Vec<u8>| {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        files.push(path);
    };
    write("state_2_pow_40_wide.onnx", tiny_melody_with_state(1 << 40));
    write(
        "four_billion_steps_per_quarter.onnx",
        with_metadata(
            model,
            "antiphon.encoding",
            Some(
                r#"{"name":"melody_onehot","min_pitch":48,"max_pitch":84,"steps_per_quarter":4000000000,"transpose_to_key":0}"#,
            ),
        ),
    );
    write(
        "says_polyphony_is_melody.onnx",
        with_metadata(
            &with_metadata(model, "antiphon.family", Some("polyphony")),
            "antiphon.encoding",
            Some(r#"{"name":"polyphony","steps_per_quarter":4}"#),
        ),
    );
    let huge = dir.join("three_gib_sparse.onnx");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(3 << 30)
        .unwrap();
    files.push(huge);
    files
}

#[test]
fn hostile_custom_model_files_are_refused_and_thru_goes_on_without_stuck_notes() {
    let dir = TempDir::new("antiphon-hostile-models").unwrap();
    let nice_log = log_into(&dir);
    for model in hostile_files(dir.path()) {
        eprintln!("--- {}", model.display());
        let mut plugin = load_with_channel_2_thru();
        plugin.set_param_text(param::MODEL, "Custom File").unwrap();
        set_model_path(&mut plugin, &model);
        // Thru only, every note-on with its note-off, no answer, no error block.
        play_call_expect_thru_only(&mut plugin, NoteDialect::Clap, "with a hostile Custom File");
        assert_refusal_logged(&nice_log, &plugin, &model);
        plugin.stop_processing().unwrap();
        plugin.deactivate().unwrap();
    }
}
