//! `antiphon generate`: continue a primer offline for a length in seconds (Magenta's seed
//! workflow), through the same model runtime the plugin's worker uses.
//!
//! The primer's notes (in beats) go onto the model's grid at the tempo (Performance: its 10 ms
//! grid rounded to whole steps per beat); the model continues from the end of the primer's last
//! note until the piece is `seconds` long. With `harmonize` (Polyphony) the primer is not fed as
//! a primer: its notes are the top voice the model harmonises, from step 0.
//!
//! A primer comes from the command line ([`crate::phrase_arg`]) or from a MIDI file
//! ([`primer_from_midi`]).

use std::path::{Path, PathBuf};
use std::time::Instant;

use antiphon_models::contract::Family;
use antiphon_models::error::ModelError;
use antiphon_models::generate::load_generator;
use antiphon_models::midi_file::{self, FileNote};
use antiphon_models::session::ModelSource;
use antiphon_models::{BeamSettings, GenerateRequest, PitchMask, Rng, StepControl, StepNote};

use crate::phrase_arg::ArgNote;

/// Magenta's seed primer: G#5 G#5 D#6 D#6 F6 F6 D#6, 0.4 s each and the last 0.8 s at 75 QPM
/// (eighth notes and a quarter).
pub const SEED_PRIMER: &str = "80@0-0.5 80@0.5-1 87@1-1.5 87@1.5-2 89@2-2.5 89@2.5-3 87@3-4";

/// What to generate.
pub struct GenerateJob {
    /// The primer, in beats from 0.
    pub primer: Vec<ArgNote>,
    /// Tempo in quarter notes per minute.
    pub tempo_qpm: f64,
    /// Length of the whole piece (primer included), in seconds.
    pub seconds: f64,
    /// The model.
    pub model: ModelSource,
    /// Sampling temperature.
    pub temperature: f32,
    /// Random seed (`None`: from the clock).
    pub seed: Option<u64>,
    /// Polyphony: harmonise the primer instead of continuing it.
    pub harmonize: bool,
    /// Pianoroll: choose keys by the 0.5 threshold.
    pub threshold: bool,
    /// Pitches the continuation may use.
    pub mask: PitchMask,
    /// Beam search (Melody, Drums and Improv models; the others sample one sequence).
    pub beam: BeamSettings,
    /// Density: nats added to the log-odds of every note start.
    pub density_nats: f32,
    /// Where ONNX Runtime is looked for.
    pub runtime_dirs: Vec<PathBuf>,
}

/// How far generation has come.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// Fraction of the continuation's steps done, 0..=1.
    pub fraction: f64,
    /// Notes generated so far.
    pub notes: usize,
}

/// The notes of a MIDI file as a primer (every channel, times in quarter notes) and the file's
/// tempo in quarter notes per minute; a file that cannot be read, is not MIDI, or has no notes
/// is an error.
pub fn primer_from_midi(path: &Path) -> Result<(Vec<ArgNote>, f64), String> {
    let file = midi_file::read(path).map_err(|e| match e {
        ModelError::Data(message) => format!("primer: {message}"),
        other => format!("primer: {other}"),
    })?;
    if file.notes.is_empty() {
        return Err(format!(
            "{} has no notes to use as a primer",
            path.display()
        ));
    }
    let notes = file
        .notes
        .iter()
        .map(|n| ArgNote {
            key: n.pitch,
            start_beats: n.start_quarters,
            end_beats: n.end_quarters,
            velocity: n.velocity.clamp(1, 127),
        })
        .collect();
    Ok((notes, file.tempo_qpm))
}

/// The longest primer fed to a model, in 4/4 bars. A longer one (a whole song given to
/// `--primer-midi`, say) is cut to its last bars, from a bar line ([`trim_primer`]): the model
/// continues from the end of it, which is what a musician asks for, and a primer longer than
/// the whole piece would otherwise leave nothing to generate. 64 bars take the shipped models
/// a fraction of a second.
pub const MAX_PRIMER_BARS: u32 = 64;

/// Quarter notes per bar of a primer (4/4, as the piano roll and `--bars`).
const PRIMER_QUARTERS_PER_BAR: f64 = 4.0;

/// What [`trim_primer`] cut.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrimmedPrimer {
    /// The primer's length before the cut, in whole bars (the last one counted when begun).
    pub total_bars: u32,
    /// The first bar kept, counting from 1.
    pub first_bar: u32,
    /// Notes that ended before that bar and were left out.
    pub dropped_notes: usize,
}

/// Cuts a primer longer than [`MAX_PRIMER_BARS`] to its last bars, from the bar line where
/// they start, moved to begin at beat 0: a note that sounds across that bar line starts on it,
/// the notes that ended before it are left out. `None` (and the primer unchanged) when it
/// fits.
pub fn trim_primer(primer: &mut Vec<ArgNote>) -> Option<TrimmedPrimer> {
    let end_beats = primer.iter().map(|n| n.end_beats).fold(0.0, f64::max);
    let bar = PRIMER_QUARTERS_PER_BAR;
    let total_bars = (end_beats / bar - 1e-9).ceil().max(0.0);
    let max_bars = f64::from(MAX_PRIMER_BARS);
    if total_bars <= max_bars {
        return None;
    }
    let cut_beats = (total_bars - max_bars) * bar;
    let before = primer.len();
    primer.retain(|n| n.end_beats > cut_beats + 1e-9);
    for n in primer.iter_mut() {
        n.start_beats = (n.start_beats - cut_beats).max(0.0);
        n.end_beats -= cut_beats;
    }
    Some(TrimmedPrimer {
        total_bars: total_bars.min(f64::from(u32::MAX)) as u32,
        first_bar: (total_bars - max_bars).min(f64::from(u32::MAX - 1)) as u32 + 1,
        dropped_notes: before - primer.len(),
    })
}

/// What came out.
pub struct Generated {
    /// The model's name.
    pub model_name: String,
    /// The model's family.
    pub family: String,
    /// The primer's notes (channel index 0; 9 for drum models), then the generated ones
    /// (channel index 1, or the model's own channel: 9 for drums), in quarter notes.
    pub notes: Vec<FileNote>,
    /// How many of `notes` are the primer's (they come first).
    pub primer_notes: usize,
    /// Whether the model ignored the beam settings (it samples one sequence).
    pub beam_ignored: bool,
    /// How many notes the model generated.
    pub generated_notes: usize,
    /// Model steps generated.
    pub steps: usize,
    /// Model steps per quarter note at the tempo.
    pub steps_per_quarter: u32,
    /// Milliseconds to load the model.
    pub load_ms: f64,
    /// Milliseconds to generate (primer and every step).
    pub generate_ms: f64,
}

/// Runs the job, calling `progress` as notes come.
pub fn run(job: &GenerateJob, progress: &mut dyn FnMut(Progress)) -> Result<Generated, String> {
    if !(job.tempo_qpm > 0.0 && job.tempo_qpm <= 1000.0) {
        return Err(format!(
            "tempo {} is not between 0 and 1000 QPM",
            job.tempo_qpm
        ));
    }
    if !(job.seconds > 0.0 && job.seconds <= 3600.0) {
        return Err(format!("{} s is not between 0 and 3600 s", job.seconds));
    }
    let loading = Instant::now();
    let mut generator = load_generator(&job.model, &job.runtime_dirs).map_err(|e| e.to_string())?;
    let load_ms = loading.elapsed().as_secs_f64() * 1000.0;
    let info = generator.info().clone();
    let steps_per_quarter = info.encoding.steps_per_quarter_at(job.tempo_qpm);
    let spq = f64::from(steps_per_quarter);
    let to_step = |beats: f64| (beats * spq).round() as i64;
    let primer: Vec<StepNote> = job
        .primer
        .iter()
        .map(|n| {
            let start = to_step(n.start_beats);
            StepNote::new(
                n.key,
                n.velocity,
                start,
                to_step(n.end_beats).max(start + 1),
            )
        })
        .collect();
    let primer_steps = primer.iter().map(|n| n.end_step).max().unwrap_or(0).max(0) as usize;
    let total_steps = (job.seconds * job.tempo_qpm / 60.0 * spq).round() as usize;
    if !job.harmonize && primer_steps >= total_steps {
        return Err(format!(
            "the primer lasts {:.1} s, as long as the whole piece ({:.1} s): ask for more \
             --seconds or --bars",
            primer_steps as f64 / spq * 60.0 / job.tempo_qpm,
            job.seconds
        ));
    }
    let (fed, fed_steps, melody, steps) = if job.harmonize {
        (&[][..], 0, &primer[..], total_steps)
    } else {
        (
            &primer[..],
            primer_steps,
            &[][..],
            total_steps.saturating_sub(primer_steps),
        )
    };
    let velocity = (job
        .primer
        .iter()
        .map(|n| u32::from(n.velocity))
        .sum::<u32>()
        / job.primer.len().max(1) as u32)
        .clamp(1, 127) as u8;
    let request = GenerateRequest {
        temperature: job.temperature,
        velocity,
        mask: job.mask,
        melody,
        threshold: job.threshold,
        beam: job.beam,
        density_nats: job.density_nats,
        ..GenerateRequest::new(fed, fed_steps, steps)
    };
    let beam_ignored = job.beam.normalized() != BeamSettings::PLAIN
        && matches!(
            info.family,
            Family::Polyphony | Family::Performance | Family::Pianoroll
        );
    let mut rng = job.seed.map_or_else(Rng::from_entropy, Rng::seeded);
    let mut generated: Vec<StepNote> = Vec::new();
    let started = Instant::now();
    let stats = generator
        .generate(&request, &mut rng, &mut |note| {
            generated.push(note);
            progress(Progress {
                fraction: note.start_step as f64 / steps.max(1) as f64,
                notes: generated.len(),
            });
            StepControl::Continue
        })
        .map_err(|e| e.to_string())?;
    progress(Progress {
        fraction: 1.0,
        notes: generated.len(),
    });
    let generate_ms = started.elapsed().as_secs_f64() * 1000.0;
    let channel = generator.output_channel().unwrap_or(1);
    let offset = fed_steps as i64;
    let quarters = |step: i64| step as f64 / spq;
    // Drum models: the primer is drums too, so it sounds as drums on channel 10.
    let primer_channel = if channel == 9 { 9 } else { 0 };
    let mut notes: Vec<FileNote> = if job.harmonize {
        Vec::new()
    } else {
        job.primer
            .iter()
            .map(|n| n.file_note(primer_channel))
            .collect()
    };
    let primer_notes = notes.len();
    notes.extend(generated.iter().map(|n| FileNote {
        pitch: n.pitch,
        velocity: n.velocity,
        channel,
        start_quarters: quarters(offset + n.start_step),
        end_quarters: quarters(offset + n.end_step),
    }));
    Ok(Generated {
        model_name: info.name.clone(),
        family: info.family.to_string(),
        notes,
        primer_notes,
        beam_ignored,
        generated_notes: generated.len(),
        steps: stats.steps,
        steps_per_quarter,
        load_ms,
        generate_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(key: u8, start_beats: f64, end_beats: f64) -> ArgNote {
        ArgNote {
            key,
            start_beats,
            end_beats,
            velocity: 90,
        }
    }

    #[test]
    fn given_the_seed_primer_text_when_parsed_then_it_is_the_models_crate_seed_primer() {
        // Given the command line's default primer and the copy the benchmarks step from
        let parsed = crate::phrase_arg::parse_notes(SEED_PRIMER).unwrap();
        // Then both are the same notes, so the seed-job benchmark times the seed job
        let parsed: Vec<(u8, f64, f64)> = parsed
            .iter()
            .map(|n| (n.key, n.start_beats, n.end_beats))
            .collect();
        assert_eq!(
            parsed,
            antiphon_models::primers::MAGENTA_SEED_BEATS.to_vec()
        );
    }

    #[test]
    fn given_a_primer_of_at_most_64_bars_when_trimmed_then_it_is_unchanged() {
        let mut primer = vec![note(60, 0.0, 1.0), note(62, 255.0, 256.0)];
        let before = primer.clone();
        assert_eq!(trim_primer(&mut primer), None);
        assert_eq!(primer, before);
    }

    #[test]
    fn given_a_longer_primer_when_trimmed_then_its_last_64_bars_from_a_bar_line_remain() {
        // 100 bars of quarter notes, and a note held across the cut at bar 37 (beat 144).
        let mut primer: Vec<ArgNote> = (0..400)
            .map(|i| note(60 + (i % 12) as u8, f64::from(i), f64::from(i) + 0.5))
            .collect();
        primer.push(note(40, 143.0, 146.0));
        let trimmed = trim_primer(&mut primer).unwrap();
        assert_eq!(
            trimmed,
            TrimmedPrimer {
                total_bars: 100,
                first_bar: 37,
                dropped_notes: 144,
            }
        );
        assert_eq!(primer.len(), 257);
        assert_eq!((primer[0].key, primer[0].start_beats), (60, 0.0));
        let held = primer.last().unwrap();
        assert_eq!((held.key, held.start_beats, held.end_beats), (40, 0.0, 2.0));
        let end = primer.iter().map(|n| n.end_beats).fold(0.0, f64::max);
        assert_eq!(end, 255.5);
    }
}
