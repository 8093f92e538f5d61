//! Hostile model files: every one is refused with a message that names the file and says what
//! is wrong, or (a bit flip in the weights) loads and generates; none panics or hangs.
//!
//! The files are made at test time (nothing big is committed): from the shipped Melody RNN
//! (`shipped::MELODY_BASIC`) truncated at many lengths, bit-flipped at seeded positions, with
//! metadata removed or lying, with tensor declarations that lie about their shapes; from a tiny
//! contract model whose graph computes 40 classes while it declares 38; and sparse files larger
//! than the loader's limit (`session::MAX_MODEL_BYTES`). Each case runs on a thread of its own
//! with a generous limit, so a hang fails the test instead of stalling it. ONNX Runtime comes
//! from `ANTIPHON_ORT_LIB` or `target/onnxruntime` (`cargo xtask fetch-ort`).

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use antiphon_models::generate::load_generator;
use antiphon_models::midi_file::{self, FileNote};
use antiphon_models::session::{MAX_MODEL_BYTES, ModelSource};
use antiphon_models::test_support::hostile::{
    self, GraphIo, bit_flipped, melody_basic, tiny_melody_with_state, truncated,
    with_declared_last_dim, with_extra_metadata, with_metadata, with_output_renamed,
};
use antiphon_models::test_support::{MELODY_ONEHOT, TinyEncoding, identity_model_bytes};
use antiphon_models::{GenerateRequest, ModelError, Rng, StepControl, StepNote};

/// The longest a case may take before it counts as a hang.
const CASE_LIMIT: Duration = Duration::from_secs(120);

/// Steps generated after the primer when a model loads.
const GENERATED_STEPS: usize = 32;

fn runtime_dirs() -> Vec<PathBuf> {
    vec![PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/onnxruntime")]
}

/// What a hostile file must give.
#[derive(Debug, Clone)]
enum Expect {
    /// Loading fails; the message names the file and contains every needle (any case).
    Refused(&'static [&'static str]),
    /// Loading fails, or loading works and generating fails; the message contains every needle.
    RefusedByLoadOrRun(&'static [&'static str]),
    /// Loads and generates: the file is odd but the model is sound (ONNX Runtime takes an
    /// output's shape from the graph, not from a declaration that lies about it; a card without a
    /// text name is named after the file).
    Works,
    /// Anything but a panic or a hang: a refusal with a clear message, or a model that loads
    /// and generates (a flipped bit in the weights is still a model).
    NoPanic,
}

/// One hostile file.
struct Case {
    /// Short name, also the file's stem.
    name: String,
    /// The file's content, or `None` when the file is made another way (see `prepare`).
    bytes: Option<Vec<u8>>,
    /// What must happen.
    expect: Expect,
}

impl Case {
    fn new(name: impl Into<String>, bytes: Vec<u8>, expect: Expect) -> Self {
        Self {
            name: name.into(),
            bytes: Some(bytes),
            expect,
        }
    }
}

/// What happened to one case.
#[derive(Debug)]
enum Outcome {
    /// Loading failed.
    LoadFailed(ModelError),
    /// Loading worked; generating failed.
    RunFailed(ModelError),
    /// Loading and generating worked: notes generated.
    Generated(usize),
}

/// C4 E4 G4 C5, a quarter note each: one bar at 4 steps per quarter.
fn primer() -> Vec<StepNote> {
    [60, 64, 67, 72]
        .iter()
        .enumerate()
        .map(|(i, &p)| StepNote::new(p, 90, 4 * i as i64, 4 * i as i64 + 4))
        .collect()
}

/// Loads `path` as the CLI and the plugin do, and generates a little if it loads.
fn load_and_generate(path: &Path) -> Outcome {
    let mut generator =
        match load_generator(&ModelSource::File(path.to_path_buf()), &runtime_dirs()) {
            Ok(g) => g,
            Err(e) => return Outcome::LoadFailed(e),
        };
    let primer = primer();
    let request = GenerateRequest::new(&primer, 16, GENERATED_STEPS);
    let mut notes = 0;
    match generator.generate(&request, &mut Rng::seeded(5), &mut |_| {
        notes += 1;
        StepControl::Continue
    }) {
        Ok(_) => Outcome::Generated(notes),
        Err(e) => Outcome::RunFailed(e),
    }
}

/// Runs one case on its own thread; `Err` says what went wrong (a panic, a hang).
fn run_case(path: PathBuf) -> Result<Outcome, String> {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("hostile-case".into())
        .spawn(move || {
            let outcome = std::panic::catch_unwind(|| load_and_generate(&path));
            let _ = tx.send(outcome);
        })
        .map_err(|e| format!("cannot start a thread: {e}"))?;
    match rx.recv_timeout(CASE_LIMIT) {
        Ok(Ok(outcome)) => Ok(outcome),
        Ok(Err(panic)) => Err(format!(
            "PANICKED: {}",
            panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_string()))
                .unwrap_or_default()
        )),
        Err(_) => Err(format!("did not finish within {CASE_LIMIT:?} (a hang)")),
    }
}

/// Whether `message` contains every needle, ignoring case.
fn contains_all(message: &str, needles: &[&str]) -> bool {
    let lower = message.to_lowercase();
    needles.iter().all(|n| lower.contains(&n.to_lowercase()))
}

/// Whether an error's text is one a musician can act on: it says what kind of failure it is,
/// names the file (load errors), and is one line.
fn is_clear(error: &ModelError, path: &Path, at_load: bool) -> bool {
    let text = error.to_string();
    let kind = [
        "model refused",
        "cannot read model file",
        "inference failed",
    ]
    .iter()
    .any(|k| text.starts_with(k));
    let names_file = !at_load || text.contains(&path.display().to_string());
    kind && names_file && !text.contains('\n')
}

/// Judges an outcome; `Err` explains the failure.
fn judge(expect: &Expect, outcome: &Outcome, path: &Path) -> Result<(), String> {
    match (expect, outcome) {
        (_, Outcome::LoadFailed(e)) if !is_clear(e, path, true) => {
            Err(format!("unclear load error: {e}"))
        }
        (_, Outcome::RunFailed(e)) if !is_clear(e, path, false) => {
            Err(format!("unclear run error: {e}"))
        }
        (Expect::Refused(needles), Outcome::LoadFailed(e))
        | (Expect::RefusedByLoadOrRun(needles), Outcome::LoadFailed(e) | Outcome::RunFailed(e)) => {
            if contains_all(&e.to_string(), needles) {
                Ok(())
            } else {
                Err(format!("the message lacks {needles:?}: {e}"))
            }
        }
        (Expect::Refused(_) | Expect::RefusedByLoadOrRun(_), other) => {
            Err(format!("expected a refusal, got {other:?}"))
        }
        (Expect::Works, Outcome::Generated(_)) => Ok(()),
        (Expect::Works, other) => Err(format!("expected it to work, got {other:?}")),
        (Expect::NoPanic, _) => Ok(()),
    }
}

/// The cases made from bytes.
fn byte_cases() -> Vec<Case> {
    let model = melody_basic();
    let len = model.len();
    let mut cases = vec![
        Case::new("empty", Vec::new(), Expect::Refused(&["not a valid onnx"])),
        Case::new(
            "text",
            b"this is not a model\n".to_vec(),
            Expect::Refused(&["not a valid onnx"]),
        ),
        Case::new(
            "midi_file",
            midi_file::write(
                &[FileNote {
                    pitch: 60,
                    velocity: 90,
                    channel: 0,
                    start_quarters: 0.0,
                    end_quarters: 1.0,
                }],
                120.0,
            ),
            Expect::Refused(&["not a valid onnx"]),
        ),
        Case::new(
            "identity_without_contract",
            identity_model_bytes(),
            Expect::Refused(&["antiphon.contract", "missing"]),
        ),
    ];
    let mut lengths = vec![1, 2, 3, 16, 64, 256, 1024, 4096];
    lengths.extend((1..8).map(|eighth| len * eighth / 8));
    lengths.extend([len - 4096, len - 256, len - 64, len - 16, len - 2, len - 1]);
    for cut in lengths {
        cases.push(Case::new(
            format!("truncated_{cut}_of_{len}"),
            truncated(model, cut),
            Expect::Refused(&[]),
        ));
    }
    let keys: [(&str, &'static [&'static str]); 4] = [
        ("antiphon.contract", &["antiphon.contract", "missing"]),
        ("antiphon.family", &["antiphon.family", "missing"]),
        ("antiphon.encoding", &["antiphon.encoding", "missing"]),
        ("antiphon.card", &["antiphon.card", "missing"]),
    ];
    for (key, needles) in keys {
        cases.push(Case::new(
            format!("without_{key}"),
            with_metadata(model, key, None),
            Expect::Refused(needles),
        ));
    }
    let lying: [(&str, &str, &str, &'static [&'static str]); 12] = [
        (
            "contract_2",
            "antiphon.contract",
            "2",
            &["contract version"],
        ),
        (
            "family_kazoo",
            "antiphon.family",
            "kazoo",
            &["unknown family"],
        ),
        (
            "family_drums",
            "antiphon.family",
            "drums",
            &["drums", "melody"],
        ),
        (
            "encoding_polyphony",
            "antiphon.encoding",
            r#"{"name":"polyphony","steps_per_quarter":4}"#,
            &["polyphony", "melody"],
        ),
        (
            "encoding_garbage",
            "antiphon.encoding",
            "{\"name\": melody_onehot",
            &["antiphon.encoding"],
        ),
        (
            "encoding_empty",
            "antiphon.encoding",
            "",
            &["antiphon.encoding"],
        ),
        (
            "encoding_40_classes",
            "antiphon.encoding",
            r#"{"name":"melody_onehot","min_pitch":48,"max_pitch":86,"steps_per_quarter":4,"transpose_to_key":0}"#,
            &["38", "40"],
        ),
        (
            "encoding_absurd_grid",
            "antiphon.encoding",
            r#"{"name":"melody_onehot","min_pitch":48,"max_pitch":84,"steps_per_quarter":4294967295,"transpose_to_key":0}"#,
            &["steps_per_quarter"],
        ),
        (
            "encoding_pitch_overflow",
            "antiphon.encoding",
            r#"{"name":"melody_onehot","min_pitch":250,"max_pitch":288,"steps_per_quarter":4,"transpose_to_key":0}"#,
            &["antiphon.encoding"],
        ),
        (
            "encoding_negative_key",
            "antiphon.encoding",
            r#"{"name":"melody_onehot","min_pitch":48,"max_pitch":84,"steps_per_quarter":4,"transpose_to_key":-3}"#,
            &["antiphon.encoding"],
        ),
        (
            "card_not_json",
            "antiphon.card",
            "a fine model",
            &["antiphon.card"],
        ),
        ("card_array", "antiphon.card", "[1, 2]", &["antiphon.card"]),
    ];
    for (name, key, value, needles) in lying {
        cases.push(Case::new(
            format!("lying_{name}"),
            with_metadata(model, key, Some(value)),
            Expect::Refused(needles),
        ));
    }
    // Says Polyphony RNN (259 classes) in both keys; the graph has Melody RNN's 38.
    cases.push(Case::new(
        "lying_polyphony_259_classes",
        with_metadata(
            &with_metadata(model, "antiphon.family", Some("polyphony")),
            "antiphon.encoding",
            Some(r#"{"name":"polyphony","steps_per_quarter":4}"#),
        ),
        Expect::Refused(&["38", "259"]),
    ));
    cases.push(Case::new(
        "card_name_not_text",
        with_metadata(model, "antiphon.card", Some(r#"{"name": 12}"#)),
        Expect::Works,
    ));
    cases.push(Case::new(
        "family_twice",
        with_extra_metadata(model, "antiphon.family", "drums"),
        Expect::Refused(&["antiphon.family"]),
    ));
    cases.push(Case::new(
        "declares_259_classes",
        with_declared_last_dim(model, GraphIo::Output, "logits", 259),
        Expect::Works,
    ));
    cases.push(Case::new(
        "declares_40_input_features",
        with_declared_last_dim(model, GraphIo::Input, "inputs", 40),
        Expect::RefusedByLoadOrRun(&["inputs"]),
    ));
    let state_64 = with_declared_last_dim(
        &with_declared_last_dim(model, GraphIo::Input, "state_in.0", 64),
        GraphIo::Output,
        "state_out.0",
        64,
    );
    cases.push(Case::new(
        "declares_state_64_of_128",
        state_64,
        Expect::RefusedByLoadOrRun(&["state"]),
    ));
    cases.push(Case::new(
        "state_out_declared_127",
        with_declared_last_dim(model, GraphIo::Output, "state_out.1", 127),
        Expect::Works,
    ));
    // A tiny model passes its state through: declaring the input 2^40 wide makes the output
    // as wide, and the contract must refuse it before anything allocates that much.
    cases.push(Case::new(
        "declares_state_2_pow_40",
        tiny_melody_with_state(1 << 40),
        Expect::Refused(&["state_in.0", "1099511627776"]),
    ));
    cases.push(Case::new(
        "declares_state_2_pow_62",
        tiny_melody_with_state(1 << 62),
        Expect::Refused(&["state_in.0"]),
    ));
    cases.push(Case::new(
        "declares_state_40000",
        tiny_melody_with_state(40_000),
        Expect::Refused(&["state_in.0", "32768"]),
    ));
    cases.push(Case::new(
        "tiny_melody",
        MELODY_ONEHOT.model_bytes("tiny_melody"),
        Expect::Works,
    ));
    cases.push(Case::new(
        "logits_renamed",
        with_output_renamed(model, "logits", "scores"),
        Expect::Refused(&["logits", "missing"]),
    ));
    // A tiny model that computes 40 classes and declares 38: only running it shows the lie.
    let computes_40 = TinyEncoding {
        classes: 40,
        ..MELODY_ONEHOT
    }
    .model_bytes("computes_40");
    cases.push(Case::new(
        "computes_40_declares_38",
        with_declared_last_dim(&computes_40, GraphIo::Output, "logits", 38),
        Expect::RefusedByLoadOrRun(&["logits"]),
    ));
    // Junk and bit flips: seeded, the same on every run.
    for seed in 1..=8u64 {
        let junk = bit_flipped(&vec![0u8; 4096], seed, 4096 * 4).0;
        cases.push(Case::new(
            format!("junk_{seed}"),
            junk,
            Expect::Refused(&[]),
        ));
    }
    for seed in 1..=48u64 {
        let flips = [1, 3, 16][(seed % 3) as usize];
        let (bytes, _) = bit_flipped(model, seed, flips);
        cases.push(Case::new(
            format!("bit_flipped_{flips}_seed_{seed}"),
            bytes,
            Expect::NoPanic,
        ));
    }
    cases
}

/// Makes the files of every case in `dir`; returns (case, path).
fn prepare(dir: &Path) -> Vec<(Case, PathBuf)> {
    std::fs::create_dir_all(dir).unwrap();
    let mut prepared = Vec::new();
    for case in byte_cases() {
        let path = dir.join(format!("{}.onnx", case.name));
        std::fs::write(&path, case.bytes.as_ref().unwrap()).unwrap();
        prepared.push((case, path));
    }
    // Sparse files: as large as they say, without the disk space.
    for (name, size) in [
        ("huge_just_over_the_limit", MAX_MODEL_BYTES + 1),
        ("huge_64_gib", 64 << 30),
    ] {
        let path = dir.join(format!("{name}.onnx"));
        let file = std::fs::File::create(&path).unwrap();
        file.set_len(size).unwrap();
        prepared.push((
            Case {
                name: name.into(),
                bytes: None,
                expect: Expect::Refused(&["MiB", "larger than"]),
            },
            path,
        ));
    }
    let folder = dir.join("a_folder.onnx");
    std::fs::create_dir_all(&folder).unwrap();
    prepared.push((
        Case {
            name: "a_folder".into(),
            bytes: None,
            expect: Expect::Refused(&["cannot read model file"]),
        },
        folder,
    ));
    prepared.push((
        Case {
            name: "missing".into(),
            bytes: None,
            expect: Expect::Refused(&["cannot read model file"]),
        },
        dir.join("no_such_model.onnx"),
    ));
    prepared
}

#[test]
fn every_hostile_model_file_is_refused_clearly_or_still_works_and_none_panics() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("hostile_models");
    let _ = std::fs::remove_dir_all(&dir);
    let prepared = prepare(&dir);
    let mut failures = Vec::new();
    let (mut refused, mut run_failed, mut generated) = (0, 0, 0);
    for (case, path) in &prepared {
        let verdict = run_case(path.clone()).and_then(|outcome| {
            let line = match &outcome {
                Outcome::LoadFailed(e) => {
                    refused += 1;
                    format!("refused: {e}")
                }
                Outcome::RunFailed(e) => {
                    run_failed += 1;
                    format!("loaded, then: {e}")
                }
                Outcome::Generated(n) => {
                    generated += 1;
                    format!("loaded and generated {n} notes")
                }
            };
            eprintln!("{:<40} {line}", case.name);
            judge(&case.expect, &outcome, path)
        });
        if let Err(why) = verdict {
            eprintln!("{:<40} FAILED: {why}", case.name);
            failures.push(format!("{}: {why}", case.name));
        }
    }
    eprintln!(
        "{} cases: {refused} refused on load, {run_failed} refused when run, {generated} \
         loaded and generated",
        prepared.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} hostile files went wrong:\n{}",
        failures.len(),
        prepared.len(),
        failures.join("\n")
    );
    // The shipped model itself still loads and generates (the cases are hostile, not the
    // harness).
    let intact = dir.join("intact.onnx");
    std::fs::write(&intact, melody_basic()).unwrap();
    assert!(matches!(run_case(intact), Ok(Outcome::Generated(_))));
    let families: Vec<(String, String)> = hostile::metadata(melody_basic())
        .into_iter()
        .filter(|(k, _)| k == "antiphon.family")
        .collect();
    assert_eq!(families, [("antiphon.family".into(), "melody".into())]);
    let _ = std::fs::remove_dir_all(&dir);
}
