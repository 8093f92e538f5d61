//! Evaluation of a model on a data set, through the same runtime the plugin uses: negative
//! log-likelihood per step, accuracy, and two baselines of the same data (unigram and bigram).
//!
//! Every encoding is scored through its [`StepCodec`]: a piece's notes become events, the model
//! reads the rows of events `0..T-1` and is scored on the labels of events `1..T` (the classes it
//! should predict, e.g. lookback repeat labels).

use std::fmt;
use std::path::{Path, PathBuf};

use crate::contract::Family;
use crate::encoding::EncodingSpec;
use crate::encoding::chords::parse_symbol;
use crate::encoding::performance;
use crate::encoding::pianoroll::{Frame, NadeSpec};
use crate::error::ModelError;
use crate::generate::ChordChange;
use crate::generate::beam::Stepper;
use crate::generate::codec::{ChordTrack, CodecVisitor, StepCodec, visit_codec};
use crate::generate::nade::{NadeModel, nade_of};
use crate::midi_file::{self, MidiNotes};
use crate::notes::{StepNote, quarters_to_step};
use crate::sampling::log_softmax;
use crate::session::StepModel;

/// The name of the split the bigram baseline is counted on when a data set has it.
pub const TRAIN_SPLIT: &str = "train";

/// One piece of a data set: notes on the model's step grid, and the chords (Improv).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Piece {
    /// The notes, from step 0.
    pub notes: Vec<StepNote>,
    /// Chord changes, in steps from step 0 (empty: no chords).
    pub chords: Vec<ChordChange>,
}

impl Piece {
    /// A piece of notes without chords.
    pub fn of_notes(notes: Vec<StepNote>) -> Self {
        Self {
            notes,
            chords: Vec::new(),
        }
    }
}

/// One split of a data set: pieces of notes on the model's step grid.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// The split's name (`train`, `valid`, a folder name, or `all`).
    pub name: String,
    /// The pieces.
    pub pieces: Vec<Piece>,
}

/// The figures of one split.
#[derive(Debug, Clone, PartialEq)]
pub struct SplitReport {
    /// The split's name.
    pub name: String,
    /// Pieces that contributed at least one prediction.
    pub pieces: usize,
    /// Number of predictions (model steps scored).
    pub steps: usize,
    /// Mean negative log-likelihood per step, in nats.
    pub nll_per_step: f64,
    /// Fraction of steps whose most likely class was the true one.
    pub accuracy: f64,
    /// The unigram baseline: entropy of the split's own class frequencies (add-one smoothed).
    pub unigram_nll_per_step: f64,
    /// The bigram baseline: mean NLL of each label given the one before, with add-one smoothed
    /// pair counts of the `train` split (of this split when the data set has no `train`).
    pub bigram_nll_per_step: f64,
    /// Time frames scored, for encodings whose steps are not time frames (Polyphony: its
    /// STEP_END events) or whose step is a whole frame (Pianoroll); `nll_per_frame` is the
    /// split's total NLL over this.
    pub frames: Option<usize>,
}

impl SplitReport {
    /// Mean NLL per time frame, when the encoding has frames.
    pub fn nll_per_frame(&self) -> Option<f64> {
        self.frames
            .map(|f| self.nll_per_step * self.steps as f64 / f.max(1) as f64)
    }
}

impl fmt::Display for SplitReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "split={} nll_per_step={:.4} steps={} accuracy={:.4} unigram_nll_per_step={:.4} \
             bigram_nll_per_step={:.4} pieces={}",
            self.name,
            self.nll_per_step,
            self.steps,
            self.accuracy,
            self.unigram_nll_per_step,
            self.bigram_nll_per_step,
            self.pieces
        )?;
        if let (Some(frames), Some(per_frame)) = (self.frames, self.nll_per_frame()) {
            write!(f, " frames={frames} nll_per_frame={per_frame:.4}")?;
        }
        Ok(())
    }
}

/// Where the piano-roll frames of a JSON data set sit on the quarter-note grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FramesPerQuarter(pub u32);

/// Loads a data set: a folder of MIDI files (each first-level subfolder is a split; files directly
/// inside form the split `all`), or a JSON file of piano-roll pieces by split (`{"train": [piece,
/// …], "valid": …}`, a piece a list of frames, a frame a list of MIDI pitches).
///
/// Which notes of a MIDI file count depends on the family: drums take the notes on channel index
/// 9 (all notes when a file has none there); Improv takes every note as melody and the chords
/// from marker meta events whose text is a chord symbol (`N.C.` = no chord; other markers are
/// ignored), each starting where its marker is; the other families take every note off channel
/// index 9; Performance takes every note in absolute time, on its 10 ms grid at the file's first
/// tempo. For a monophonic `family` the JSON frames become their top line. `frames_per_quarter`
/// is needed for JSON (guessed from a file name containing `16th` or `quarter` when absent).
/// Unreadable MIDI files are reported on stderr and skipped.
pub fn load_dataset(
    path: &Path,
    family: Family,
    steps_per_quarter: u32,
    frames_per_quarter: Option<FramesPerQuarter>,
) -> Result<Vec<Split>, ModelError> {
    if path.is_dir() {
        load_midi_folder(path, family, steps_per_quarter)
    } else if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
    {
        let fpq = match frames_per_quarter {
            Some(f) => f,
            None => guess_frames_per_quarter(path).ok_or_else(|| {
                ModelError::Data(format!(
                    "{}: say how many piano-roll frames make a quarter note (--frames-per-quarter)",
                    path.display()
                ))
            })?,
        };
        load_pianoroll_json(path, family, steps_per_quarter, fpq)
    } else {
        Err(ModelError::Data(format!(
            "{} is neither a folder of MIDI files nor a .json piano-roll file",
            path.display()
        )))
    }
}

/// Frames per quarter from a file name: `16th` → 4, `quarter` → 1.
fn guess_frames_per_quarter(path: &Path) -> Option<FramesPerQuarter> {
    let name = path.file_name()?.to_str()?.to_ascii_lowercase();
    if name.contains("16th") {
        Some(FramesPerQuarter(4))
    } else if name.contains("quarter") {
        Some(FramesPerQuarter(1))
    } else {
        None
    }
}

/// Whether a family's pieces are one line of notes.
fn is_monophonic(family: Family) -> bool {
    matches!(family, Family::Melody | Family::Improv)
}

/// Every MIDI file under `root`, grouped by first-level subfolder.
fn load_midi_folder(
    root: &Path,
    family: Family,
    steps_per_quarter: u32,
) -> Result<Vec<Split>, ModelError> {
    let mut files = Vec::new();
    collect_midi_files(root, &mut files)
        .map_err(|e| ModelError::Data(format!("cannot list {}: {e}", root.display())))?;
    files.sort();
    if files.is_empty() {
        return Err(ModelError::Data(format!(
            "no MIDI files (.mid, .midi) under {}",
            root.display()
        )));
    }
    let mut splits: Vec<Split> = Vec::new();
    for file in files {
        let rel = file.strip_prefix(root).unwrap_or(&file);
        let split_name = if rel.components().count() > 1 {
            rel.components().next().map_or("all".into(), |c| {
                c.as_os_str().to_string_lossy().into_owned()
            })
        } else {
            "all".to_string()
        };
        let midi = match midi_file::read(&file) {
            Ok(m) => m,
            Err(e) => {
                eprintln!("skipped: {e}");
                continue;
            }
        };
        let piece = piece_of_midi(&midi, family, steps_per_quarter);
        match splits.iter_mut().find(|s| s.name == split_name) {
            Some(split) => split.pieces.push(piece),
            None => splits.push(Split {
                name: split_name,
                pieces: vec![piece],
            }),
        }
    }
    Ok(splits)
}

/// The piece a family reads from a MIDI file (see [`load_dataset`]).
pub fn piece_of_midi(midi: &MidiNotes, family: Family, steps_per_quarter: u32) -> Piece {
    let on_grid = |n: &midi_file::FileNote| {
        StepNote::new(
            n.pitch,
            n.velocity,
            quarters_to_step(n.start_quarters, steps_per_quarter),
            quarters_to_step(n.end_quarters, steps_per_quarter),
        )
    };
    let seconds_per_quarter = 60.0 / midi.tempo_qpm.max(1e-6);
    let in_seconds = |n: &midi_file::FileNote| {
        let (start, end) = (
            performance::quantize(n.start_quarters * seconds_per_quarter),
            performance::quantize(n.end_quarters * seconds_per_quarter),
        );
        StepNote::new(n.pitch, n.velocity, start, end)
    };
    let notes: Vec<StepNote> = match family {
        // Absolute time on the 10 ms grid, at the file's first tempo.
        Family::Performance => midi.notes.iter().map(in_seconds).collect(),
        Family::Drums => {
            let drums: Vec<StepNote> = midi
                .notes
                .iter()
                .filter(|n| n.channel == 9)
                .map(on_grid)
                .collect();
            if drums.is_empty() {
                midi.notes.iter().map(on_grid).collect()
            } else {
                drums
            }
        }
        Family::Improv => midi.notes.iter().map(on_grid).collect(),
        _ => midi
            .notes
            .iter()
            .filter(|n| n.channel != 9)
            .map(on_grid)
            .collect(),
    };
    let chords = if family == Family::Improv {
        midi.markers
            .iter()
            .filter_map(|m| {
                let chord = parse_symbol(&m.text).ok()?;
                Some(ChordChange {
                    start_step: quarters_to_step(m.quarters, steps_per_quarter),
                    chord,
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    Piece { notes, chords }
}

/// Recursively collects `.mid`/`.midi` files.
fn collect_midi_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_midi_files(&path, out)?;
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("mid") || e.eq_ignore_ascii_case("midi"))
        {
            out.push(path);
        }
    }
    Ok(())
}

/// A JSON piano-roll data set (the format of `shared/data/jsb`).
fn load_pianoroll_json(
    path: &Path,
    family: Family,
    steps_per_quarter: u32,
    frames_per_quarter: FramesPerQuarter,
) -> Result<Vec<Split>, ModelError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ModelError::Data(format!("cannot read {}: {e}", path.display())))?;
    let parsed: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&text).map_err(|e| {
            ModelError::Data(format!(
                "{} is not a JSON object of splits: {e}",
                path.display()
            ))
        })?;
    if frames_per_quarter.0 == 0 || !steps_per_quarter.is_multiple_of(frames_per_quarter.0) {
        return Err(ModelError::Data(format!(
            "{} frames per quarter do not divide the model's {steps_per_quarter} steps per quarter",
            frames_per_quarter.0
        )));
    }
    let steps_per_frame = i64::from(steps_per_quarter / frames_per_quarter.0);
    let mut splits = Vec::new();
    for (name, pieces) in parsed {
        let bad = |what: String| {
            ModelError::Data(format!(
                "split {name} of {}: pieces must be lists of frames of MIDI pitches: {what}",
                path.display()
            ))
        };
        let raw: Vec<Vec<Vec<f64>>> =
            serde_json::from_value(pieces).map_err(|e| bad(e.to_string()))?;
        let mut pieces: Vec<Vec<Vec<u8>>> = Vec::with_capacity(raw.len());
        for frames in raw {
            let mut piece = Vec::with_capacity(frames.len());
            for frame in frames {
                let mut pitches = Vec::with_capacity(frame.len());
                for p in frame {
                    if !(0.0..128.0).contains(&p) || p.fract() != 0.0 {
                        return Err(bad(format!("{p} is not a MIDI pitch")));
                    }
                    pitches.push(p as u8);
                }
                piece.push(pitches);
            }
            pieces.push(piece);
        }
        let pieces = pieces
            .iter()
            .map(|frames| {
                Piece::of_notes(if is_monophonic(family) {
                    let top: Vec<Vec<u8>> = frames
                        .iter()
                        .map(|f| f.iter().max().map(|&p| vec![p]).unwrap_or_default())
                        .collect();
                    frames_to_notes(&top, steps_per_frame)
                } else {
                    frames_to_notes(frames, steps_per_frame)
                })
            })
            .collect();
        splits.push(Split { name, pieces });
    }
    Ok(splits)
}

/// Turns piano-roll frames into notes: a pitch present in consecutive frames is one held note
/// (the frames cannot tell held from re-struck).
pub fn frames_to_notes(frames: &[Vec<u8>], steps_per_frame: i64) -> Vec<StepNote> {
    let mut notes = Vec::new();
    let mut open: Vec<(u8, i64)> = Vec::new();
    for (i, frame) in frames.iter().enumerate() {
        let t = i as i64 * steps_per_frame;
        open.retain(|&(pitch, start)| {
            let held = frame.contains(&pitch);
            if !held {
                notes.push(StepNote::new(pitch, 100, start, t));
            }
            held
        });
        for &pitch in frame {
            if !open.iter().any(|&(p, _)| p == pitch) {
                open.push((pitch, t));
            }
        }
    }
    let end = frames.len() as i64 * steps_per_frame;
    notes.extend(
        open.into_iter()
            .map(|(pitch, start)| StepNote::new(pitch, 100, start, end)),
    );
    notes.sort_by_key(|n| (n.start_step, n.pitch));
    notes
}

/// The labels of one piece under an encoding: the class of each event from step 0.
pub fn labels_of<C: StepCodec>(codec: &C, notes: &[StepNote]) -> Vec<usize> {
    let (events, _) = codec.encode(notes);
    (0..events.len()).map(|t| codec.label(&events, t)).collect()
}

/// Add-one-smoothed bigram counts of label pairs `(y[t-1], y[t])`.
#[derive(Debug, Clone, PartialEq)]
pub struct Bigrams {
    /// Number of classes `C`.
    classes: usize,
    /// `pairs[a * C + b]` = n(a, b).
    pairs: Vec<u32>,
    /// `firsts[a]` = n(a) = Σ_b n(a, b).
    firsts: Vec<u64>,
}

impl Bigrams {
    /// No pairs counted yet, over `classes` classes.
    pub fn new(classes: usize) -> Self {
        Self {
            classes,
            pairs: vec![0; classes * classes],
            firsts: vec![0; classes],
        }
    }

    /// Counts the pairs of one label sequence.
    pub fn count(&mut self, labels: &[usize]) {
        for pair in labels.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            if a < self.classes && b < self.classes {
                self.pairs[a * self.classes + b] += 1;
                self.firsts[a] += 1;
            }
        }
    }

    /// `-ln P(b | a)` with `P(b | a) = (n(a, b) + 1) / (n(a) + C)`.
    pub fn nll(&self, a: usize, b: usize) -> f64 {
        let (n_ab, n_a) = if a < self.classes && b < self.classes {
            (self.pairs[a * self.classes + b], self.firsts[a])
        } else {
            (0, 0)
        };
        -((f64::from(n_ab) + 1.0) / (n_a as f64 + self.classes as f64)).ln()
    }
}

/// Evaluates `model` on every split.
pub fn evaluate(model: &mut StepModel, splits: &[Split]) -> Result<Vec<SplitReport>, ModelError> {
    /// Runs the evaluation once the codec is known.
    struct Run<'a>(&'a mut StepModel, &'a [Split]);
    impl CodecVisitor for Run<'_> {
        type Output = Result<Vec<SplitReport>, ModelError>;
        fn visit<C: StepCodec + 'static>(self, codec: C) -> Self::Output {
            evaluate_with(&codec, self.0, self.1)
        }
    }
    let encoding = model.info().encoding.clone();
    if let EncodingSpec::PianorollNade(_) = encoding {
        let (spec, weights) = nade_of(model)?;
        return evaluate_nade(
            &mut NadeModel::with_weights(model, spec, weights),
            spec,
            splits,
        );
    }
    visit_codec(&encoding, Run(model, splits)).unwrap_or_else(|| {
        Err(ModelError::Data(format!(
            "no evaluation for encoding {}",
            encoding.name()
        )))
    })
}

/// Evaluates a Pianoroll RNN-NADE model: NLL per frame of every piece's frames from the zero
/// state (after the empty start frame); accuracy = frames whose 0.5-threshold draw is exactly
/// the true frame; unigram = independent keys at the split's own frequencies (add-one);
/// bigram = each key given its own state in the frame before, counted on `train` (add-one).
pub fn evaluate_nade<M: Stepper>(
    nade: &mut NadeModel<M>,
    spec: NadeSpec,
    splits: &[Split],
) -> Result<Vec<SplitReport>, ModelError> {
    let keys = spec.num_keys as usize;
    let frames_of = |piece: &Piece| spec.notes_to_frames(&piece.notes);
    // Per key: counts of (previous, now) in {off, on}².
    let transitions = |pieces: &[Piece]| {
        let mut t = vec![[[0u64; 2]; 2]; keys];
        for piece in pieces {
            let mut prev: Frame = 0;
            for f in frames_of(piece) {
                for (k, counts) in t.iter_mut().enumerate() {
                    counts[(prev >> k & 1) as usize][(f >> k & 1) as usize] += 1;
                }
                prev = f;
            }
        }
        t
    };
    let train_transitions = splits
        .iter()
        .find(|s| s.name == TRAIN_SPLIT)
        .map(|s| transitions(&s.pieces));
    let mut reports = Vec::new();
    for split in splits {
        let (mut nll, mut frames, mut exact, mut pieces) = (0.0, 0usize, 0usize, 0usize);
        let mut on = vec![0u64; keys];
        for piece in &split.pieces {
            let truth = frames_of(piece);
            if truth.is_empty() {
                continue;
            }
            for (log_p, hit) in nade.score(&truth)? {
                nll -= log_p;
                exact += usize::from(hit);
            }
            for f in &truth {
                for (k, n) in on.iter_mut().enumerate() {
                    *n += (f >> k & 1) as u64;
                }
            }
            frames += truth.len();
            pieces += 1;
        }
        if frames == 0 {
            return Err(ModelError::Data(format!(
                "split {} has no piece with a frame for this model",
                split.name
            )));
        }
        let n = frames as f64;
        let unigram: f64 = on
            .iter()
            .map(|&c| {
                let p = (c as f64 + 1.0) / (n + 2.0);
                -(c as f64 * p.ln() + (n - c as f64) * (1.0 - p).ln())
            })
            .sum::<f64>()
            / n;
        let own;
        let t = match &train_transitions {
            Some(t) => t,
            None => {
                own = transitions(&split.pieces);
                &own
            }
        };
        let mut bigram = 0.0;
        for piece in &split.pieces {
            let mut prev: Frame = 0;
            for f in frames_of(piece) {
                for (k, counts) in t.iter().enumerate() {
                    let row = counts[(prev >> k & 1) as usize];
                    let now = (f >> k & 1) as usize;
                    bigram -= ((row[now] as f64 + 1.0) / ((row[0] + row[1]) as f64 + 2.0)).ln();
                }
                prev = f;
            }
        }
        reports.push(SplitReport {
            name: split.name.clone(),
            pieces,
            steps: frames,
            nll_per_step: nll / n,
            accuracy: exact as f64 / n,
            unigram_nll_per_step: unigram,
            bigram_nll_per_step: bigram / n,
            frames: Some(frames),
        });
    }
    Ok(reports)
}

/// Evaluates a model read through `codec` on every split (see the module doc). The bigram
/// baseline is counted on the split named [`TRAIN_SPLIT`] when there is one, else on each split
/// itself.
pub fn evaluate_with<C: StepCodec, M: Stepper>(
    codec: &C,
    model: &mut M,
    splits: &[Split],
) -> Result<Vec<SplitReport>, ModelError> {
    let classes = codec.num_classes();
    let train_bigrams = splits.iter().find(|s| s.name == TRAIN_SPLIT).map(|train| {
        let mut bigrams = Bigrams::new(classes);
        for piece in &train.pieces {
            bigrams.count(&labels_of(codec, &piece.notes));
        }
        bigrams
    });
    let mut reports = Vec::new();
    let mut inputs = Vec::new();
    let mut logits = Vec::new();
    let mut log_probs = vec![0.0f64; classes];
    for split in splits {
        let mut nll = 0.0;
        let mut steps = 0usize;
        let mut correct = 0usize;
        let mut pieces = 0usize;
        let mut counts = vec![0usize; classes];
        let mut frames = 0usize;
        let mut sequences: Vec<Vec<usize>> = Vec::new();
        for piece in &split.pieces {
            let (events, _) = codec.encode(&piece.notes);
            if events.len() < 2 {
                continue;
            }
            let labels: Vec<usize> = (0..events.len()).map(|t| codec.label(&events, t)).collect();
            let chords = ChordTrack::new(&piece.chords);
            let time = events.len() - 1;
            codec.write_rows(&events, time, &chords, &mut inputs);
            let mut state = model.zero_state(1);
            model.run(&inputs, time, &mut state, &mut logits)?;
            for (t, &target) in labels[1..].iter().enumerate() {
                let row = &logits[t * classes..(t + 1) * classes];
                log_softmax(row, 1.0, &mut log_probs);
                nll -= log_probs[target];
                let best = row
                    .iter()
                    .enumerate()
                    .max_by(|a, b| a.1.total_cmp(b.1))
                    .map_or(0, |(i, _)| i);
                correct += usize::from(best == target);
                counts[target] += 1;
                frames += usize::from(codec.frame_class() == Some(target));
            }
            steps += time;
            pieces += 1;
            sequences.push(labels);
        }
        if steps == 0 {
            return Err(ModelError::Data(format!(
                "split {} has no piece with at least two steps for this model",
                split.name
            )));
        }
        let own_bigrams;
        let bigrams = match &train_bigrams {
            Some(b) => b,
            None => {
                let mut b = Bigrams::new(classes);
                for labels in &sequences {
                    b.count(labels);
                }
                own_bigrams = b;
                &own_bigrams
            }
        };
        let bigram_nll: f64 = sequences
            .iter()
            .flat_map(|labels| labels.windows(2))
            .map(|pair| bigrams.nll(pair[0], pair[1]))
            .sum();
        reports.push(SplitReport {
            name: split.name.clone(),
            pieces,
            steps,
            nll_per_step: nll / steps as f64,
            accuracy: correct as f64 / steps as f64,
            unigram_nll_per_step: unigram_entropy(&counts),
            bigram_nll_per_step: bigram_nll / steps as f64,
            frames: codec.frame_class().map(|_| frames),
        });
    }
    Ok(reports)
}

/// Mean NLL of the classes under their own add-one-smoothed frequencies.
pub fn unigram_entropy(counts: &[usize]) -> f64 {
    let total: usize = counts.iter().sum();
    if total == 0 {
        return 0.0;
    }
    let denom = (total + counts.len()) as f64;
    -counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| c as f64 * ((c + 1) as f64 / denom).ln())
        .sum::<f64>()
        / total as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::beam::RowModel;

    #[test]
    fn given_frames_when_turned_into_notes_then_runs_of_a_pitch_are_one_note() {
        let frames = vec![vec![60, 64], vec![60, 65], vec![], vec![60]];
        let notes = frames_to_notes(&frames, 4);
        assert_eq!(
            notes,
            vec![
                StepNote::new(60, 100, 0, 8),
                StepNote::new(64, 100, 0, 4),
                StepNote::new(65, 100, 4, 8),
                StepNote::new(60, 100, 12, 16),
            ]
        );
    }

    #[test]
    fn given_label_pairs_when_counted_then_the_bigram_probability_is_add_one_smoothed() {
        let mut b = Bigrams::new(3);
        b.count(&[0, 1, 0, 1]);
        // n(0, 1) = 2, n(0) = 2, C = 3: P(1 | 0) = 3 / 5; P(2 | 0) = 1 / 5; n(2) = 0: 1 / 3.
        assert!((b.nll(0, 1) + (3.0f64 / 5.0).ln()).abs() < 1e-12);
        assert!((b.nll(0, 2) + (1.0f64 / 5.0).ln()).abs() < 1e-12);
        assert!((b.nll(2, 0) - 3f64.ln()).abs() < 1e-12);
    }

    #[test]
    fn given_a_train_split_when_evaluated_then_the_bigram_is_counted_on_train_only() {
        use crate::encoding::melody::MelodyOneHot;
        use crate::generate::codec::{MelodyCodec, OneHotFeatures};
        let spec = MelodyOneHot {
            transpose_to_key: None,
            ..MelodyOneHot::BASIC
        };
        let codec = MelodyCodec {
            pipeline: spec,
            features: OneHotFeatures(spec),
        };
        let piece = |pitches: &[u8]| {
            Piece::of_notes(
                pitches
                    .iter()
                    .enumerate()
                    .map(|(i, &p)| StepNote::new(p, 100, i as i64, i as i64 + 1))
                    .collect(),
            )
        };
        // Train: C D C D …; valid: D C D C … (the same pairs) and E F E F … (unseen pairs).
        let train = Split {
            name: TRAIN_SPLIT.into(),
            pieces: vec![piece(&[60, 62, 60, 62, 60, 62, 60, 62])],
        };
        let seen = Split {
            name: "seen".into(),
            pieces: vec![piece(&[62, 60, 62, 60])],
        };
        let unseen = Split {
            name: "unseen".into(),
            pieces: vec![piece(&[64, 65, 64, 65])],
        };
        // A model that gives every class the same logit.
        let mut model = RowModel::new(38, |_| vec![0.0; 38]);
        let reports = evaluate_with(&codec, &mut model, &[train, seen, unseen]).unwrap();
        // The uniform model scores ln 38 everywhere.
        assert!((reports[0].nll_per_step - 38f64.ln()).abs() < 1e-9);
        assert_eq!(reports[1].steps, 3);
        // Seen pairs: (3 + 1) / (3 + 38) or (4 + 1) / (4 + 38); unseen pairs: 1 / 38.
        assert!(reports[1].bigram_nll_per_step < 2.5, "{}", reports[1]);
        assert!((reports[2].bigram_nll_per_step - 38f64.ln()).abs() < 1e-9);
        // Without a train split, each split counts its own pairs.
        let alone = Split {
            name: "valid".into(),
            pieces: vec![piece(&[64, 65, 64, 65])],
        };
        let report = &evaluate_with(&codec, &mut model, &[alone]).unwrap()[0];
        assert!(report.bigram_nll_per_step < 38f64.ln());
    }

    #[test]
    fn given_a_drum_file_without_channel_10_when_read_as_drums_then_all_its_notes_count() {
        let note = |channel| midi_file::FileNote {
            pitch: 36,
            velocity: 100,
            channel,
            start_quarters: 0.0,
            end_quarters: 0.25,
        };
        let midi = MidiNotes {
            notes: vec![note(0), note(1)],
            markers: Vec::new(),
            tempo_qpm: 120.0,
        };
        assert_eq!(piece_of_midi(&midi, Family::Drums, 4).notes.len(), 2);
        let midi = MidiNotes {
            notes: vec![note(0), note(9)],
            ..midi
        };
        assert_eq!(piece_of_midi(&midi, Family::Drums, 4).notes.len(), 1);
        assert_eq!(piece_of_midi(&midi, Family::Melody, 4).notes.len(), 1);
        assert_eq!(piece_of_midi(&midi, Family::Improv, 4).notes.len(), 2);
    }

    #[test]
    fn given_uniform_counts_when_the_unigram_entropy_is_taken_then_it_approaches_ln_k() {
        let h = unigram_entropy(&[1000, 1000, 1000, 1000]);
        assert!((h - 4f64.ln()).abs() < 1e-3, "{h}");
        assert_eq!(unigram_entropy(&[5, 0]), -(6.0f64 / 7.0).ln());
    }

    #[test]
    fn given_a_file_name_when_guessing_frames_per_quarter_then_16th_and_quarter_are_known() {
        assert_eq!(
            guess_frames_per_quarter(Path::new("jsb-chorales-16th.train-valid.json")),
            Some(FramesPerQuarter(4))
        );
        assert_eq!(
            guess_frames_per_quarter(Path::new("x-quarter.json")),
            Some(FramesPerQuarter(1))
        );
        assert_eq!(guess_frames_per_quarter(Path::new("x.json")), None);
    }
}
