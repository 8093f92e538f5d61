//! A corrupt model named in saved state is refused when the state is loaded back.
//!
//! The plugin starts with its default model; its state is saved, the persisted field
//! `model_path` in nice-plug's JSON state is pointed at a file of random bytes, and the state is
//! loaded back. The plugin must log a line naming that file and saying "model", and keep
//! passing MIDI through. `NICE_LOG` is set before the plugin is loaded, in a process of its own.

use antiphon_tests::antiphon::{
    PLUGIN_ID, assert_refusal_logged, configure_channel_2_with_thru, log_into,
    play_call_expect_thru_only,
};
use antiphon_tests::bundle::bundle_plugin;
use antiphon_tests::host::PluginInstance;
use antiphon_tests::jam::NoteDialect;
use antiphon_tests::nice_state;
use antiphon_tests::util::{TempDir, pseudo_random_bytes};
use serde_json::Value;

/// The persisted field that names the model file.
const MODEL_PATH_FIELD: &str = "model_path";

#[test]
fn a_corrupt_model_named_in_state_is_refused() {
    let dir = TempDir::new("antiphon-corrupt-state").unwrap();
    let model = dir.path().join("state_junk_model.onnx");
    std::fs::write(&model, pseudo_random_bytes(0xbad_5747e, 4096)).unwrap();
    let nice_log = log_into(&dir);

    let path = bundle_plugin();
    let mut plugin = PluginInstance::load(&path, PLUGIN_ID)
        .unwrap_or_else(|e| panic!("loading {}: {e}", path.display()));
    configure_channel_2_with_thru(&mut plugin).unwrap();

    let saved = plugin.save_state().unwrap();
    let mut state = nice_state::decode(&saved).unwrap();
    let before = nice_state::persisted_field(&state, MODEL_PATH_FIELD).unwrap();
    eprintln!(
        "saved state has fields {:?}; {MODEL_PATH_FIELD} = {before:?}",
        nice_state::field_names(&state)
    );
    assert!(
        before.is_some(),
        "the saved state has no persisted field {MODEL_PATH_FIELD:?}; it has {:?}",
        nice_state::field_names(&state)
    );
    nice_state::set_persisted_field(
        &mut state,
        MODEL_PATH_FIELD,
        &Value::String(model.to_string_lossy().into_owned()),
    )
    .unwrap();
    plugin
        .load_state(&nice_state::encode(&state))
        .unwrap_or_else(|e| panic!("loading the edited state: {e}"));

    play_call_expect_thru_only(&mut plugin, NoteDialect::Clap, "after the edited state");
    assert_refusal_logged(&nice_log, &plugin, &model);

    plugin.stop_processing().unwrap();
    let after = nice_state::decode(&plugin.save_state().unwrap()).unwrap();
    eprintln!(
        "after the refusal the plugin saves {MODEL_PATH_FIELD} = {:?}",
        nice_state::persisted_field(&after, MODEL_PATH_FIELD)
    );
    plugin.deactivate().unwrap();
}
