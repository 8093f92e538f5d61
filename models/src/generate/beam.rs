//! The generation loop shared by every encoding: ancestral sampling, or Magenta's beam search
//! over sampled continuations, with all candidates of a step in one batched model call.
//!
//! Beam search (`magenta/common/beam_search.py`): the beam starts as `beam_size` copies of the
//! primed state; each iteration every entry is copied `branch_factor` times and each copy is
//! extended by `steps_per_iteration` *sampled* events; an entry's score is the running sum of the
//! log-probabilities of its sampled events (tempered, masked softmax); then the best `beam_size`
//! entries survive. The first iteration is `(steps - 1) % steps_per_iteration + 1` steps long so
//! the later ones are whole; the answer is the best entry at the end. (Magenta also adds the
//! primer's log-likelihood to every score; all entries share the primer, so that changes no
//! ranking and is left out here.)
//!
//! Notes are handed out as soon as they are certain: once every surviving entry shares the events
//! up to a note's end. With the plain settings (all 1) that is at every step, as in ancestral
//! sampling.

use std::time::Instant;

use crate::error::ModelError;
use crate::notes::StepNote;
use crate::sampling::{self, Rng};
use crate::session::{RnnState, StepModel};

use super::codec::{ChordTrack, StepCodec};
use super::{GenerateRequest, GenerateStats, GeneratedNote, StepControl};

/// Beam-search settings; all 1 is plain ancestral sampling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BeamSettings {
    /// Entries kept after each iteration (≥ 1).
    pub beam_size: usize,
    /// Copies made of each entry at the start of an iteration (≥ 1).
    pub branch_factor: usize,
    /// Steps each copy is extended by per iteration (≥ 1).
    pub steps_per_iteration: usize,
}

impl BeamSettings {
    /// Plain ancestral sampling: one sequence, one sampled event per step.
    pub const PLAIN: Self = Self {
        beam_size: 1,
        branch_factor: 1,
        steps_per_iteration: 1,
    };

    /// The settings with every zero raised to 1.
    pub fn normalized(self) -> Self {
        Self {
            beam_size: self.beam_size.max(1),
            branch_factor: self.branch_factor.max(1),
            steps_per_iteration: self.steps_per_iteration.max(1),
        }
    }

    /// Keeps `beam_size` entries per iteration, copies each `branch_factor` times and extends
    /// the copies by `steps_per_iteration` steps.
    pub const fn new(beam_size: usize, branch_factor: usize, steps_per_iteration: usize) -> Self {
        Self {
            beam_size,
            branch_factor,
            steps_per_iteration,
        }
    }

    /// Sequences run through the model per step: `beam_size × branch_factor`.
    pub fn batch(self) -> usize {
        let s = self.normalized();
        s.beam_size * s.branch_factor
    }
}

impl Default for BeamSettings {
    fn default() -> Self {
        Self::PLAIN
    }
}

/// A recurrent model that runs batches of steps: [`StepModel`], or a fake in tests.
pub trait Stepper {
    /// The all-zero state of `batch` fresh sequences.
    fn zero_state(&self, batch: usize) -> RnnState;

    /// Runs `time` steps for `state.batch` sequences: `inputs` is `batch × time × input_size`,
    /// `logits` receives `batch × time × classes`, `state` is advanced.
    fn run(
        &mut self,
        inputs: &[f32],
        time: usize,
        state: &mut RnnState,
        logits: &mut Vec<f32>,
    ) -> Result<(), ModelError>;
}

impl<S: Stepper + ?Sized> Stepper for &mut S {
    fn zero_state(&self, batch: usize) -> RnnState {
        (**self).zero_state(batch)
    }

    fn run(
        &mut self,
        inputs: &[f32],
        time: usize,
        state: &mut RnnState,
        logits: &mut Vec<f32>,
    ) -> Result<(), ModelError> {
        (**self).run(inputs, time, state, logits)
    }
}

impl Stepper for StepModel {
    fn zero_state(&self, batch: usize) -> RnnState {
        StepModel::zero_state(self, batch)
    }

    fn run(
        &mut self,
        inputs: &[f32],
        time: usize,
        state: &mut RnnState,
        logits: &mut Vec<f32>,
    ) -> Result<(), ModelError> {
        StepModel::run(self, inputs, time, state, logits)
    }
}

/// The most steps of a primer run in one model call. A primer runs in calls of at most this
/// many steps, the state carried from one call to the next, so the memory it takes stays
/// bounded however long it is: a Performance primer of 100,000 notes in one call took 2.4 GB.
pub const PRIMER_CHUNK_STEPS: usize = 2048;

/// Runs `time` steps of one sequence from `state` in calls of at most [`PRIMER_CHUNK_STEPS`];
/// `fill(position, row)` writes the input row of step `position` (`row` is zeroed first).
/// Leaves in `logits` the logits of the last step only (`classes` values). `time` must be at
/// least 1.
pub fn run_primer<M: Stepper + ?Sized>(
    model: &mut M,
    time: usize,
    width: usize,
    state: &mut RnnState,
    inputs: &mut Vec<f32>,
    logits: &mut Vec<f32>,
    mut fill: impl FnMut(usize, &mut [f32]),
) -> Result<(), ModelError> {
    let classes_of = |logits: &Vec<f32>, steps: usize| logits.len() / steps.max(1);
    let mut start = 0;
    loop {
        let end = (start + PRIMER_CHUNK_STEPS).min(time);
        let steps = end - start;
        inputs.clear();
        inputs.resize(steps * width, 0.0);
        for (offset, row) in inputs.chunks_mut(width).enumerate() {
            fill(start + offset, row);
        }
        model.run(inputs, steps, state, logits)?;
        start = end;
        if start >= time {
            let classes = classes_of(logits, steps);
            logits.drain(..(steps - 1) * classes);
            return Ok(());
        }
    }
}

/// A model without state for the crate's tests: the logits of each input row are
/// `logits_of(row)`, whatever came before.
#[cfg(test)]
pub(crate) struct RowModel<F> {
    /// Width of an input row.
    width: usize,
    /// The logits of one input row.
    logits_of: F,
    /// (batch, time) of every call.
    pub(crate) calls: Vec<(usize, usize)>,
}

#[cfg(test)]
impl<F: Fn(&[f32]) -> Vec<f32>> RowModel<F> {
    /// A model over rows of `width` inputs.
    pub(crate) fn new(width: usize, logits_of: F) -> Self {
        Self {
            width,
            logits_of,
            calls: Vec::new(),
        }
    }
}

#[cfg(test)]
impl<F: Fn(&[f32]) -> Vec<f32>> Stepper for RowModel<F> {
    fn zero_state(&self, batch: usize) -> RnnState {
        RnnState::zeros(batch, &[])
    }

    fn run(
        &mut self,
        inputs: &[f32],
        time: usize,
        state: &mut RnnState,
        logits: &mut Vec<f32>,
    ) -> Result<(), ModelError> {
        assert_eq!(inputs.len(), state.batch * time * self.width);
        self.calls.push((state.batch, time));
        logits.clear();
        for row in inputs.chunks(self.width) {
            logits.extend((self.logits_of)(row));
        }
        Ok(())
    }
}

/// Reused buffers of a generator.
#[derive(Debug, Default)]
pub struct Buffers {
    /// Input rows.
    pub inputs: Vec<f32>,
    /// Logits the model wrote last.
    pub logits: Vec<f32>,
    /// Logits of the step being sampled, one row per candidate.
    pub next: Vec<f32>,
    /// Per class: may it be sampled (masked generation).
    pub allowed: Vec<bool>,
    /// Per class: nats added to its logit (density).
    pub bias: Vec<f64>,
    /// Notes decoded and not yet handed out.
    pub notes: Vec<StepNote>,
}

/// What [`generate`] leaves behind besides the notes it handed out.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome<E> {
    /// What it cost.
    pub stats: GenerateStats,
    /// The generated events of the chosen sequence (fewer than asked when stopped).
    pub events: Vec<E>,
    /// The chosen sequence's score: the sum of the log-probabilities of its sampled events.
    pub score: f64,
}

/// Generates `request.steps` events after the primer with `codec` over `model`, handing notes to
/// `on_note` as soon as they are certain (see the module doc).
pub fn generate<C: StepCodec, M: Stepper>(
    codec: &C,
    model: &mut M,
    request: &GenerateRequest<'_>,
    rng: &mut Rng,
    on_note: &mut dyn FnMut(GeneratedNote) -> StepControl,
    buffers: &mut Buffers,
) -> Result<Outcome<C::Event>, ModelError> {
    let width = codec.input_size();
    let classes = codec.num_classes();
    let settings = request.beam.normalized();
    let mut stats = GenerateStats::default();
    let chords = ChordTrack::new(request.chords);

    // The primer, from the zero state, in calls of at most PRIMER_CHUNK_STEPS steps.
    let primer_len = request.primer_steps.max(1);
    let (mut primer_events, shift) = codec.encode(request.primer);
    primer_events.resize(primer_len, codec.silence());
    let mut primer_state = model.zero_state(1);
    let started = Instant::now();
    run_primer(
        model,
        primer_len,
        width,
        &mut primer_state,
        &mut buffers.inputs,
        &mut buffers.logits,
        |position, row| codec.write_input(&primer_events, position, &chords, row),
    )?;
    stats.primer_us = started.elapsed().as_micros() as u64;
    let steps = request.steps;
    let mut outcome = Outcome {
        stats,
        events: Vec::new(),
        score: 0.0,
    };
    if steps == 0 {
        return Ok(outcome);
    }

    // Candidates: entry j's copies sit at j * branch_factor ..; all start as the primer.
    let batch = settings.beam_size * settings.branch_factor;
    buffers.next.clear();
    for _ in 0..batch {
        buffers.next.extend_from_slice(&buffers.logits[..classes]);
    }
    let mut state = if batch == 1 {
        primer_state
    } else {
        let mut state = model.zero_state(batch);
        for row in 0..batch {
            state.copy_row(row, &primer_state, 0);
        }
        state
    };
    let mut spare_state = (batch > 1).then(|| model.zero_state(batch));
    // Right after the survivors are copied, the `branch_factor` copies of each share their
    // history and state, so the model runs once per survivor (`beam_size` rows, not `batch`)
    // and its logits and state go to every copy.
    let mut copies_alike = false;
    let mut survivor_state: Option<RnnState> = None;
    let mut histories: Vec<Vec<C::Event>> = (0..batch)
        .map(|_| {
            let mut h = Vec::with_capacity(primer_len + steps);
            h.extend_from_slice(&primer_events);
            h
        })
        .collect();
    let mut spare_histories: Vec<Vec<C::Event>> = Vec::new();
    let mut scores = vec![0.0f64; batch];
    let mut order: Vec<usize> = (0..batch).collect();
    let masked = codec.pitched() && !request.mask.is_all();
    let density_nats = f64::from(request.density_nats);
    let density = density_nats != 0.0;
    buffers.allowed.clear();
    buffers.allowed.resize(classes, true);
    let mut decoder = codec.decoder(shift, request.velocity);
    let mut certain = primer_len;
    let mut generated = 0usize;
    let mut iteration = (steps - 1) % settings.steps_per_iteration + 1;

    loop {
        for _ in 0..iteration {
            let started = Instant::now();
            if generated > 0 {
                let stride = if copies_alike {
                    settings.branch_factor
                } else {
                    1
                };
                let rows = batch / stride;
                buffers.inputs.clear();
                buffers.inputs.resize(rows * width, 0.0);
                let distinct = histories.iter().step_by(stride);
                for (row, history) in buffers.inputs.chunks_mut(width).zip(distinct) {
                    codec.write_input(history, history.len() - 1, &chords, row);
                }
                if stride == 1 {
                    model.run(&buffers.inputs, 1, &mut state, &mut buffers.logits)?;
                    std::mem::swap(&mut buffers.next, &mut buffers.logits);
                } else {
                    let compact = survivor_state.get_or_insert_with(|| model.zero_state(rows));
                    for row in 0..rows {
                        compact.copy_row(row, &state, row * stride);
                    }
                    model.run(&buffers.inputs, 1, compact, &mut buffers.logits)?;
                    buffers.next.clear();
                    for n in 0..batch {
                        state.copy_row(n, compact, n / stride);
                        let row = n / stride;
                        buffers
                            .next
                            .extend_from_slice(&buffers.logits[row * classes..(row + 1) * classes]);
                    }
                }
                copies_alike = false;
            }
            for (i, history) in histories.iter_mut().enumerate() {
                let logits = &buffers.next[i * classes..(i + 1) * classes];
                if masked || density {
                    // Each class's event once, for the mask and the density bias together.
                    buffers.bias.clear();
                    buffers.bias.resize(classes, 0.0);
                    let per_class = buffers.allowed.iter_mut().zip(&mut buffers.bias);
                    for (class, (ok, bias)) in per_class.enumerate() {
                        let event = codec.class_to_event(history, class);
                        if masked {
                            *ok = codec.allows(event, shift, &request.mask);
                        }
                        if density && codec.is_onset(event) {
                            *bias = density_nats;
                        }
                    }
                }
                let (allowed, bias) = (&buffers.allowed, &buffers.bias);
                let (class, log_p) = sampling::sample_biased(
                    logits,
                    request.temperature,
                    |c| !masked || allowed[c],
                    |c| if density { bias[c] } else { 0.0 },
                    rng,
                );
                let event = codec.class_to_event(history, class);
                history.push(event);
                scores[i] += log_p;
            }
            generated += 1;
            outcome.stats.steps = generated;
            outcome.stats.steps_us += started.elapsed().as_micros() as u64;
        }

        // Prune to the best entries (stable: the earlier candidate wins a tie).
        order.clear();
        order.extend(0..batch);
        if batch > 1 {
            order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
        }
        let survivors = &order[..settings.beam_size];

        // Hand out what every survivor agrees on.
        let best = &histories[survivors[0]];
        let agreed = survivors[1..].iter().fold(best.len(), |len, &s| {
            let other = &histories[s];
            certain
                + best[certain..len]
                    .iter()
                    .zip(&other[certain..len])
                    .take_while(|(a, b)| a == b)
                    .count()
        });
        let done = generated == steps;
        let until = if done { best.len() } else { agreed };
        for position in certain..until {
            let step = (position - primer_len) as i64;
            codec.decode(&mut decoder, step, best[position], &mut buffers.notes);
            if hand_out(&mut buffers.notes, &mut outcome.stats, on_note) {
                outcome.events = best[primer_len..=position].to_vec();
                outcome.score = scores[survivors[0]];
                return Ok(outcome);
            }
        }
        certain = until;
        if done {
            codec.finish(&mut decoder, steps as i64, &mut buffers.notes);
            hand_out(&mut buffers.notes, &mut outcome.stats, on_note);
            outcome.events = best[primer_len..].to_vec();
            outcome.score = scores[survivors[0]];
            return Ok(outcome);
        }

        // Copy each survivor branch_factor times for the next iteration.
        let identity = (0..batch).all(|n| survivors[n / settings.branch_factor] == n);
        if !identity {
            spare_histories.resize_with(batch, Vec::new);
            let new_scores: Vec<f64> = (0..batch)
                .map(|n| scores[survivors[n / settings.branch_factor]])
                .collect();
            for (n, target) in spare_histories.iter_mut().enumerate() {
                target.clone_from(&histories[survivors[n / settings.branch_factor]]);
            }
            if let Some(spare) = spare_state.as_mut() {
                for n in 0..batch {
                    spare.copy_row(n, &state, survivors[n / settings.branch_factor]);
                }
                std::mem::swap(spare, &mut state);
            }
            // The logits are recomputed from the state at the next step, so only states,
            // histories and scores move.
            std::mem::swap(&mut histories, &mut spare_histories);
            scores = new_scores;
            copies_alike = settings.branch_factor > 1;
        }
        iteration = settings.steps_per_iteration;
    }
}

/// Hands the decoded notes out in order; returns whether the caller asked to stop.
pub(crate) fn hand_out(
    notes: &mut Vec<StepNote>,
    stats: &mut GenerateStats,
    on_note: &mut dyn FnMut(GeneratedNote) -> StepControl,
) -> bool {
    let mut stop = false;
    for &note in notes.iter() {
        stats.notes += 1;
        if on_note(note) == StepControl::Stop {
            stats.stopped = true;
            stop = true;
            break;
        }
    }
    notes.clear();
    stop
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::codec::ChordTrack;
    use crate::generate::mask::PitchMask;

    /// Classes of the fake encoding.
    const N: usize = 8;

    /// Events are classes; event `e > 0` is a one-step note of pitch `60 + e`.
    struct FakeCodec;

    impl StepCodec for FakeCodec {
        type Event = usize;
        type Decoder = ();
        fn input_size(&self) -> usize {
            N
        }
        fn num_classes(&self) -> usize {
            N
        }
        fn encode(&self, notes: &[StepNote]) -> (Vec<usize>, i32) {
            (notes.iter().map(|n| usize::from(n.pitch - 60)).collect(), 0)
        }
        fn silence(&self) -> usize {
            0
        }
        fn write_input(&self, h: &[usize], position: usize, _: &ChordTrack, row: &mut [f32]) {
            row.fill(0.0);
            row[h[position]] = 1.0;
        }
        fn label(&self, events: &[usize], position: usize) -> usize {
            events[position]
        }
        fn class_to_event(&self, _: &[usize], class: usize) -> usize {
            class
        }
        fn pitched(&self) -> bool {
            true
        }
        fn allows(&self, event: usize, _: i32, mask: &PitchMask) -> bool {
            event == 0 || mask.allows(60 + event as u8)
        }

        fn is_onset(&self, event: usize) -> bool {
            event != 0
        }
        fn decoder(&self, _: i32, _: u8) {}
        fn decode(&self, _: &mut (), step: i64, event: usize, notes: &mut Vec<StepNote>) {
            if event > 0 {
                notes.push(StepNote::new(60 + event as u8, 100, step, step + 1));
            }
        }
        fn finish(&self, _: &mut (), _: i64, _: &mut Vec<StepNote>) {}
    }

    /// A first-order Markov "model": `table[fed]` = probabilities of the event after the one fed.
    type FakeModel = RowModel<Box<dyn Fn(&[f32]) -> Vec<f32>>>;

    /// The Markov model of `table`.
    fn markov(table: [[f32; N]; N]) -> FakeModel {
        RowModel::new(
            N,
            Box::new(move |row| {
                let fed = row.iter().position(|&v| v == 1.0).unwrap();
                table[fed].iter().map(|p| p.max(1e-12).ln()).collect()
            }),
        )
    }

    /// The table whose row `i`, column `j` is `p(i, j)`.
    fn table(p: impl Fn(usize, usize) -> f32) -> [[f32; N]; N] {
        std::array::from_fn(|i| std::array::from_fn(|j| p(i, j)))
    }

    /// From 0: 1 (0.6) or 2 (0.4); from 1 anything; from 2 almost surely 3; 3 holds.
    fn trap() -> [[f32; N]; N] {
        let mut t = [[1.0 / N as f32; N]; N];
        t[0] = [0.0, 0.6, 0.4, 0.0, 0.0, 0.0, 0.0, 0.0];
        t[2] = [0.0, 0.0, 0.0, 0.99, 0.01, 0.0, 0.0, 0.0];
        t[3] = [0.0, 0.0, 0.0, 0.99, 0.0, 0.01, 0.0, 0.0];
        t
    }

    fn run(
        model: &mut FakeModel,
        request: &GenerateRequest,
        seed: u64,
        on_note: &mut dyn FnMut(StepNote) -> StepControl,
    ) -> Outcome<usize> {
        let mut rng = Rng::seeded(seed);
        generate(
            &FakeCodec,
            model,
            request,
            &mut rng,
            on_note,
            &mut Buffers::default(),
        )
        .unwrap()
    }

    fn primer() -> Vec<StepNote> {
        // Event 0 is silence: a primer of one silent step.
        Vec::new()
    }

    /// A model whose state counts the inputs' sums and whose logits of a step are the step's
    /// index since the zero state, then the state: it shows whether state carries across calls.
    struct Counting {
        /// Calls made.
        calls: usize,
    }

    impl Stepper for Counting {
        fn zero_state(&self, batch: usize) -> RnnState {
            RnnState::zeros(batch, &[2])
        }

        fn run(
            &mut self,
            inputs: &[f32],
            time: usize,
            state: &mut RnnState,
            logits: &mut Vec<f32>,
        ) -> Result<(), ModelError> {
            self.calls += 1;
            logits.clear();
            for row in inputs.chunks(inputs.len() / time) {
                state.tensors[0][0] += 1.0;
                state.tensors[0][1] += row.iter().sum::<f32>();
                logits.extend_from_slice(&state.tensors[0]);
            }
            Ok(())
        }
    }

    #[test]
    fn given_a_long_primer_when_run_then_it_runs_in_chunks_and_the_state_carries_across() {
        for time in [
            1,
            5,
            PRIMER_CHUNK_STEPS,
            PRIMER_CHUNK_STEPS + 1,
            3 * PRIMER_CHUNK_STEPS + 7,
        ] {
            let mut model = Counting { calls: 0 };
            let mut state = model.zero_state(1);
            let (mut inputs, mut logits) = (Vec::new(), Vec::new());
            run_primer(
                &mut model,
                time,
                3,
                &mut state,
                &mut inputs,
                &mut logits,
                |p, row| {
                    row[p % 3] = 1.0;
                },
            )
            .unwrap();
            assert_eq!(model.calls, time.div_ceil(PRIMER_CHUNK_STEPS), "{time}");
            assert_eq!(
                logits,
                vec![time as f32, time as f32],
                "{time}: the last step only"
            );
            assert_eq!(state.tensors[0], vec![time as f32, time as f32]);
            assert!(inputs.len() <= PRIMER_CHUNK_STEPS * 3);
        }
    }

    #[test]
    fn given_beam_size_1_when_generating_then_it_equals_plain_ancestral_sampling() {
        // Given a Markov table with every transition possible
        let table = table(|i, j| 1.0 + ((i * 7 + j * 3) % 5) as f32);
        let primer = primer();
        let request = GenerateRequest {
            temperature: 0.8,
            ..GenerateRequest::new(&primer, 1, 40)
        };
        for seed in 0..5 {
            // When generated through the beam loop with the plain settings
            let mut model = markov(table);
            let outcome = run(&mut model, &request, seed, &mut |_| StepControl::Continue);
            // Then the events are those of plain sampling with the same seed
            let mut rng = Rng::seeded(seed);
            let mut fed = 0;
            let mut plain = Vec::new();
            for _ in 0..40 {
                let logits: Vec<f32> = table[fed].iter().map(|p| p.ln()).collect();
                fed = sampling::sample(&logits, 0.8, |_| true, &mut rng).0;
                plain.push(fed);
            }
            assert_eq!(outcome.events, plain, "seed {seed}");
            // And each step after the first is one model call of batch 1
            assert_eq!(model.calls.len(), 40);
            assert!(model.calls[1..].iter().all(|&c| c == (1, 1)));
        }
    }

    #[test]
    fn given_a_likelier_path_behind_a_less_likely_first_step_when_beam_searched_then_it_wins() {
        let primer = primer();
        let plain = GenerateRequest::new(&primer, 1, 2);
        let beam = GenerateRequest {
            beam: BeamSettings::new(1, 16, 2),
            ..plain.clone()
        };
        let mut greedy_traps = 0;
        for seed in 0..20 {
            // Given plain sampling, which often takes the likelier first step into the trap
            let sampled = run(&mut markov(trap()), &plain, seed, &mut |_| {
                StepControl::Continue
            });
            greedy_traps += usize::from(sampled.events[0] == 1);
            // When 16 sampled two-step continuations compete
            let mut model = markov(trap());
            let outcome = run(&mut model, &beam, seed, &mut |_| StepControl::Continue);
            // Then the likelier whole path 2, 3 (0.396 against at most 0.075) is the answer
            assert_eq!(outcome.events, vec![2, 3], "seed {seed}");
            assert!((outcome.score - (0.4f64 * 0.99).ln()).abs() < 1e-4);
            // And every candidate ran in one batched call per step
            assert_eq!(model.calls, vec![(1, 1), (16, 1)]);
        }
        assert!(
            greedy_traps >= 6,
            "plain sampling fell into the trap {greedy_traps} times"
        );
    }

    #[test]
    fn given_beams_when_notes_stream_then_they_are_the_best_sequences_notes_in_order() {
        let table = table(|i, j| 1.0 + ((i * 5 + j * 3) % 7) as f32);
        let primer = primer();
        let request = GenerateRequest {
            beam: BeamSettings::new(3, 2, 4),
            ..GenerateRequest::new(&primer, 1, 30)
        };
        let mut model = markov(table);
        let mut streamed = Vec::new();
        let outcome = run(&mut model, &request, 9, &mut |n| {
            streamed.push(n);
            StepControl::Continue
        });
        // First iteration (30 - 1) % 4 + 1 = 2 steps, then 7 of 4.
        assert_eq!(outcome.events.len(), 30);
        assert_eq!(model.calls.len(), 30);
        // The first step of each later iteration runs the 3 survivors (their copies alike), the
        // others all 6 candidates, each in one call.
        assert_eq!(model.calls[1], (6, 1));
        for (k, &call) in model.calls.iter().enumerate().skip(2) {
            let rows = if (k - 2) % 4 == 0 { 3 } else { 6 };
            assert_eq!(call, (rows, 1), "call {k}");
        }
        let expected: Vec<StepNote> = outcome
            .events
            .iter()
            .enumerate()
            .filter(|(_, e)| **e > 0)
            .map(|(s, &e)| StepNote::new(60 + e as u8, 100, s as i64, s as i64 + 1))
            .collect();
        assert_eq!(streamed, expected);
        assert_eq!(outcome.stats.notes, expected.len());
    }

    #[test]
    fn given_a_caller_that_stops_when_a_note_comes_then_generation_stops_there() {
        let primer = primer();
        let request = GenerateRequest::new(&primer, 1, 50);
        let mut model = markov(trap());
        let outcome = run(&mut model, &request, 1, &mut |_| StepControl::Stop);
        assert!(outcome.stats.stopped);
        assert_eq!(outcome.stats.notes, 1);
        assert_eq!(outcome.stats.steps, 1);
        assert_eq!(model.calls.len(), 1, "only the primer ran");
    }

    #[test]
    fn given_a_mask_when_generating_with_beams_then_only_allowed_pitches_come() {
        let table = table(|_, _| 1.0);
        let primer = primer();
        let request = GenerateRequest {
            mask: PitchMask::range(61, 63).with_scale(crate::generate::Scale::new(0, &[1, 3])),
            beam: BeamSettings::new(2, 3, 2),
            ..GenerateRequest::new(&primer, 1, 200)
        };
        let outcome = run(&mut markov(table), &request, 5, &mut |_| {
            StepControl::Continue
        });
        // 61 and 63 are in range and scale; 62 is in range only.
        assert!(outcome.events.iter().all(|&e| e == 0 || e == 1 || e == 3));
        assert!(outcome.events.contains(&1) && outcome.events.contains(&3));
    }
}
