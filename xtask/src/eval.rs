//! `cargo xtask eval --model FILE --data PATH`: evaluates a shipped or user model through the
//! Rust runtime (the one the plugin uses) and prints one line per split, next to the unigram
//! baseline of the same data.

use std::path::PathBuf;

use antiphon_models::StepModel;
use antiphon_models::encoding::EncodingSpec;
use antiphon_models::eval::{self, FramesPerQuarter};
use antiphon_models::session::ModelSource;
use antiphon_models::shipped;
use anyhow::{Context, Result, bail};

use crate::args::Args;
use crate::fetch_ort::{self, Request};
use crate::platform::Platform;
use crate::workspace::Workspace;

/// The usage line.
const USAGE: &str = "eval --model FILE|NAME --data DIR|FILE.json [--frames-per-quarter N]";

/// Runs `eval`.
pub fn run(ws: &Workspace, args: &[String]) -> Result<()> {
    let mut args = Args::new(args);
    let model = args.value("--model")?;
    let data = args.value("--data")?;
    let frames = args.value("--frames-per-quarter")?;
    args.finish(USAGE)?;
    let (Some(model), Some(data)) = (model, data) else {
        bail!("--model and --data are required; usage: cargo xtask {USAGE}");
    };
    let frames_per_quarter = frames
        .map(|f| f.parse::<u32>().map(FramesPerQuarter))
        .transpose()
        .context("--frames-per-quarter takes a whole number")?;

    let model_path = ws.user_path(&model);
    let source = if model_path.is_file() {
        ModelSource::File(model_path)
    } else if let Some(shipped) = shipped::by_name(&model) {
        shipped
    } else {
        bail!(
            "no model file {} and no shipped model named {model:?}",
            model_path.display()
        );
    };
    let library = fetch_ort::ensure(ws, &Request::default_for(ws, Platform::host()?))?;
    let runtime_dirs: Vec<PathBuf> = library.parent().map(PathBuf::from).into_iter().collect();
    let mut step_model = StepModel::load(&source, &runtime_dirs)?;
    let info = step_model.info().clone();
    // What a model that knows nothing scores: ln(classes) per step, or for a NADE one bit per
    // key per frame.
    let uniform = match info.encoding {
        EncodingSpec::PianorollNade(n) => f64::from(n.num_keys) * std::f64::consts::LN_2,
        _ => (info.classes as f64).ln(),
    };
    println!(
        "model={} family={} encoding={} classes={} uniform_nll={uniform:.4} source={}",
        info.name,
        info.family,
        info.encoding.name(),
        info.classes,
        source.describe()
    );
    let data_path = ws.user_path(&data);
    let splits = eval::load_dataset(
        &data_path,
        info.family,
        info.encoding.steps_per_quarter(),
        frames_per_quarter,
    )?;
    for report in eval::evaluate(&mut step_model, &splits)? {
        println!("{report}");
    }
    Ok(())
}
