//! Without its ONNX Runtime library the plugin still loads, passes MIDI through and says why it
//! cannot answer.
//!
//! `Antiphon.clap` is copied alone (without the runtime library the bundle puts beside it) into
//! a temp dir, and `ANTIPHON_ORT_LIB` points to a file that does not exist, so the plugin finds
//! no runtime either way. `NICE_LOG` sends nice-plug's log to a file. Both are set before the
//! plugin is loaded; this file holds one test so that no other test shares the process.

use std::time::Duration;

use antiphon_tests::antiphon::{
    ENV_NICE_LOG, ENV_ORT_LIB, PLUGIN_ID, configure_channel_2_with_thru,
    play_call_expect_thru_only, wait_for_log,
};
use antiphon_tests::bundle::{CLAP_BUNDLE_NAME, bundle_plugin};
use antiphon_tests::host::PluginInstance;
use antiphon_tests::jam::NoteDialect;
use antiphon_tests::util::TempDir;

#[test]
fn without_onnx_runtime_the_plugin_passes_midi_through_and_logs_why() {
    let bundled = bundle_plugin();
    let dir = TempDir::new("antiphon-missing-runtime").unwrap();
    let lonely = dir.path().join(CLAP_BUNDLE_NAME);
    std::fs::copy(&bundled, &lonely).unwrap();
    let nice_log = dir.path().join("nice.log");
    // SAFETY: set before the plugin is loaded, while this process's only test is the only
    // thread that reads the environment.
    unsafe {
        std::env::set_var(ENV_ORT_LIB, "/nonexistent/libonnxruntime.so");
        std::env::set_var(ENV_NICE_LOG, &nice_log);
    }
    let beside: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    eprintln!("{} holds {beside:?}", dir.path().display());

    let mut plugin = PluginInstance::load(&lonely, PLUGIN_ID)
        .unwrap_or_else(|e| panic!("the plugin must load without its runtime: {e}"));
    configure_channel_2_with_thru(&mut plugin).unwrap();
    // The call goes in as raw MIDI here (the grid test uses CLAP note events).
    play_call_expect_thru_only(&mut plugin, NoteDialect::Midi, "without a runtime");

    let (log, found) = wait_for_log(&nice_log, &plugin, Duration::from_secs(10), |t| {
        t.contains("ONNX Runtime")
    });
    assert!(
        found,
        "neither {} nor clap.log mentions \"ONNX Runtime\"; the log is:\n{log}",
        nice_log.display()
    );
    eprintln!(
        "log lines about the runtime:\n{}",
        log.lines()
            .filter(|l| l.contains("ONNX Runtime"))
            .collect::<Vec<_>>()
            .join("\n")
    );

    plugin.stop_processing().unwrap();
    plugin.deactivate().unwrap();
}
