//! A model file of random bytes is refused with a message naming it; the plugin keeps
//! passing MIDI through and plays no answer.
//!
//! `ANTIPHON_MODEL` points to 4 KiB of reproducible junk and `NICE_LOG` to a file, both set
//! before the plugin is loaded; this file holds one test so that no other test shares the
//! process. (A truncated real model is `corrupt_model_truncated.rs`, the state route is
//! `corrupt_model_state.rs`.)

use antiphon_tests::antiphon::{ENV_MODEL, check_refused_model_via_env};
use antiphon_tests::util::{TempDir, pseudo_random_bytes};

#[test]
fn a_model_of_random_bytes_is_refused_and_thru_still_works() {
    let dir = TempDir::new("antiphon-corrupt-model").unwrap();
    let model = dir.path().join("random_junk_model.onnx");
    std::fs::write(&model, pseudo_random_bytes(0x5eed, 4096)).unwrap();
    // SAFETY: set before the plugin is loaded, while this process's only test is the only
    // thread that reads the environment.
    unsafe { std::env::set_var(ENV_MODEL, &model) };

    check_refused_model_via_env(&dir, &model);
}
