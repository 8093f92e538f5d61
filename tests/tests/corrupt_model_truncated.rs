//! A truncated copy of the shipped model is refused with a message naming it; the plugin keeps
//! passing MIDI through and plays no answer.
//!
//! `ANTIPHON_MODEL` points to the first half of `models/onnx/melody_basic.onnx` and `NICE_LOG`
//! to a file, both set before the plugin is loaded, in a process of its own.

use antiphon_tests::antiphon::{ENV_MODEL, check_refused_model_via_env};
use antiphon_tests::bundle::workspace_root;
use antiphon_tests::util::TempDir;

#[test]
fn a_truncated_model_is_refused_and_thru_still_works() {
    let source = workspace_root()
        .join("models")
        .join("onnx")
        .join("melody_basic.onnx");
    let bytes = std::fs::read(&source)
        .unwrap_or_else(|e| panic!("the shipped model {} is needed: {e}", source.display()));
    assert!(
        bytes.len() > 1024,
        "{} is only {} bytes",
        source.display(),
        bytes.len()
    );
    let dir = TempDir::new("antiphon-truncated-model").unwrap();
    let model = dir.path().join("truncated_melody_basic.onnx");
    std::fs::write(&model, &bytes[..bytes.len() / 2]).unwrap();
    // SAFETY: set before the plugin is loaded, while this process's only test is the only
    // thread that reads the environment.
    unsafe { std::env::set_var(ENV_MODEL, &model) };

    check_refused_model_via_env(&dir, &model);
}
