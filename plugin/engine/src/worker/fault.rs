//! Failures on purpose, for tests only: a [`FaultPlan`] makes the worker panic or its model
//! fail at a chosen point, so the supervisor's recovery (report, end the answer notes, restart)
//! can be tested through the real worker thread and the built plugin; or makes the model slow
//! (`slow-notes:MS`), so a test can show what a render does with a model that cannot keep up.
//!
//! Nothing fails unless asked: the engine tests hand a plan to
//! [`crate::instance::start_with_faults`]; a host-level test sets the environment variable
//! [`FAULT_ENV`] before the plugin starts its worker (it is read once per instance). Without
//! either, the worker runs its model unwrapped.

use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};

use antiphon_models::generate::GenerateStats;
use antiphon_models::{
    GenerateRequest, GeneratedNote, Generator, ModelError, ModelInfo, Rng, StepControl,
};

/// The environment variable read once when an instance starts its worker: a [`FaultPlan`] in
/// the form [`FaultPlan::parse`] reads (`panic-in-answer:N`, `error-in-answer:N`,
/// `panic-on-start:K`, `slow-notes:MS`). Unset or empty: no faults.
pub const FAULT_ENV: &str = "ANTIPHON_FAULT";

/// What goes wrong in the chosen answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Fault {
    /// The worker panics while sampling (right after the answer's first note went out, or at
    /// its end when it has none).
    Panic = 1,
    /// The model's run fails like an ONNX Runtime error ([`ModelError::Inference`]), at the
    /// same point.
    InferenceError = 2,
}

impl Fault {
    /// The fault stored as `value` (0 or unknown: none).
    fn from_u8(value: u8) -> Option<Self> {
        match value {
            1 => Some(Self::Panic),
            2 => Some(Self::InferenceError),
            _ => None,
        }
    }
}

/// When the worker fails on purpose: at most one armed answer fault (fires once), and a number
/// of starts that panic. Shared by every run of one instance's worker, so a restarted worker
/// does not fail again unless asked.
#[derive(Debug, Default)]
pub struct FaultPlan {
    /// The armed answer fault, a [`Fault`] as `u8` (0: none).
    fault: AtomicU8,
    /// Number of the answer that fails (1 = the first generated through this plan).
    at_answer: AtomicU64,
    /// Answers generated through this plan so far.
    answers: AtomicU64,
    /// Worker starts that still panic (each start takes one).
    start_panics: AtomicU32,
    /// Faults that fired so far (starts included).
    fired: AtomicU64,
    /// Milliseconds the model takes on top of its own time for every note it generates (0:
    /// none): a model too slow for real time, not a failure.
    note_delay_ms: AtomicU32,
}

impl FaultPlan {
    /// A plan with nothing armed.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads a plan: `panic-in-answer:N` (the N-th answer, N ≥ 1, panics), `error-in-answer:N`
    /// (its model run fails), `panic-on-start:K` (the first K starts of the worker panic),
    /// `slow-notes:MS` (every generated note takes MS ms longer, MS ≥ 1).
    pub fn parse(spec: &str) -> Result<Self, String> {
        let plan = Self::new();
        let (what, count) = spec
            .trim()
            .split_once(':')
            .ok_or_else(|| format!("{FAULT_ENV}: expected WHAT:N, got {spec:?}"))?;
        let count: u64 = count
            .trim()
            .parse()
            .ok()
            .filter(|&n| n >= 1)
            .ok_or_else(|| format!("{FAULT_ENV}: {count:?} is not a count ≥ 1"))?;
        match what.trim() {
            "panic-in-answer" => plan.arm_answer(Fault::Panic, count),
            "error-in-answer" => plan.arm_answer(Fault::InferenceError, count),
            "panic-on-start" => plan
                .start_panics
                .store(u32::try_from(count).unwrap_or(u32::MAX), Ordering::Release),
            "slow-notes" => plan
                .note_delay_ms
                .store(u32::try_from(count).unwrap_or(u32::MAX), Ordering::Release),
            other => {
                return Err(format!(
                    "{FAULT_ENV}: unknown fault {other:?} (panic-in-answer, error-in-answer, \
                     panic-on-start, slow-notes)"
                ));
            }
        }
        Ok(plan)
    }

    /// The plan [`FAULT_ENV`] names, if it is set and not empty; a spec it cannot read is
    /// logged and ignored.
    pub fn from_env() -> Option<Self> {
        let spec = std::env::var(FAULT_ENV)
            .ok()
            .filter(|s| !s.trim().is_empty())?;
        match Self::parse(&spec) {
            Ok(plan) => {
                tracing::warn!("Antiphon: fault injection armed ({FAULT_ENV}={spec})");
                Some(plan)
            }
            Err(error) => {
                tracing::error!("Antiphon: {error}; no faults injected");
                None
            }
        }
    }

    /// Arms `fault` for the `n`-th answer generated through this plan, counted from its start
    /// (n ≥ 1). Replaces an armed answer fault.
    fn arm_answer(&self, fault: Fault, n: u64) {
        self.at_answer.store(n, Ordering::Release);
        self.fault.store(fault as u8, Ordering::Release);
    }

    /// Arms `fault` for the next answer the worker generates (a speculative one included).
    pub fn fail_next_answer(&self, fault: Fault) {
        self.arm_answer(fault, self.answers.load(Ordering::Acquire) + 1);
    }

    /// How much longer every generated note takes (`slow-notes`); zero when the model runs at
    /// its own speed.
    pub fn note_delay(&self) -> std::time::Duration {
        std::time::Duration::from_millis(u64::from(self.note_delay_ms.load(Ordering::Acquire)))
    }

    /// Faults that fired so far.
    pub fn fired(&self) -> u64 {
        self.fired.load(Ordering::Acquire)
    }

    /// Called as a worker run starts: panics if a start panic is left.
    pub(crate) fn on_start(&self) {
        let took = self
            .start_panics
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
        if took.is_ok() {
            self.fired.fetch_add(1, Ordering::AcqRel);
            panic!("injected fault: the worker panics as it starts ({FAULT_ENV})");
        }
    }

    /// Counts an answer; the fault to inject in it, if it is the armed one (then disarmed).
    fn next_answer(&self) -> Option<Fault> {
        let n = self.answers.fetch_add(1, Ordering::AcqRel) + 1;
        if n != self.at_answer.load(Ordering::Acquire) {
            return None;
        }
        let fault = Fault::from_u8(self.fault.swap(0, Ordering::AcqRel))?;
        self.fired.fetch_add(1, Ordering::AcqRel);
        Some(fault)
    }

    /// Wraps a loaded model so its armed answer fails.
    pub(crate) fn wrap(
        plan: std::sync::Arc<Self>,
        inner: Box<dyn Generator>,
    ) -> Box<dyn Generator> {
        Box::new(FaultyGenerator { inner, plan })
    }
}

/// A model that fails in the answer its [`FaultPlan`] chose, and runs normally otherwise (slowed
/// down note by note when the plan says so).
struct FaultyGenerator {
    /// The real model.
    inner: Box<dyn Generator>,
    /// When to fail.
    plan: std::sync::Arc<FaultPlan>,
}

impl FaultyGenerator {
    /// Text of an injected failure.
    const WHAT: &'static str = "injected fault";
}

impl Generator for FaultyGenerator {
    fn info(&self) -> &ModelInfo {
        self.inner.info()
    }

    fn output_channel(&self) -> Option<u8> {
        self.inner.output_channel()
    }

    fn generate(
        &mut self,
        request: &GenerateRequest<'_>,
        rng: &mut Rng,
        on_note: &mut dyn FnMut(GeneratedNote) -> StepControl,
    ) -> Result<GenerateStats, ModelError> {
        let Some(fault) = self.plan.next_answer() else {
            let delay = self.plan.note_delay();
            if delay.is_zero() {
                return self.inner.generate(request, rng, on_note);
            }
            let mut slow = |note: GeneratedNote| {
                std::thread::sleep(delay);
                on_note(note)
            };
            return self.inner.generate(request, rng, &mut slow);
        };
        // The answer's first note goes out (it is in the answer ring when the fault hits);
        // then the fault hits inside the model's own loop.
        let mut failing = |note: GeneratedNote| {
            let _ = on_note(note);
            if fault == Fault::Panic {
                panic!("{} ({FAULT_ENV}): panic while sampling", Self::WHAT);
            }
            StepControl::Stop
        };
        let result = self.inner.generate(request, rng, &mut failing);
        if fault == Fault::Panic {
            panic!("{} ({FAULT_ENV}): panic after sampling", Self::WHAT);
        }
        result.and_then(|_| {
            Err(ModelError::Inference(format!(
                "{} ({FAULT_ENV}): the model's run failed",
                Self::WHAT
            )))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_specs_when_parsed_then_each_arms_its_fault() {
        let plan = FaultPlan::parse("panic-in-answer:3").unwrap();
        assert_eq!(plan.next_answer(), None);
        assert_eq!(plan.next_answer(), None);
        assert_eq!(plan.next_answer(), Some(Fault::Panic));
        assert_eq!(plan.next_answer(), None, "a fault fires once");
        assert_eq!(plan.fired(), 1);

        let plan = FaultPlan::parse(" error-in-answer : 1 ").unwrap();
        assert_eq!(plan.next_answer(), Some(Fault::InferenceError));

        let plan = FaultPlan::parse("slow-notes:20").unwrap();
        assert_eq!(plan.note_delay(), std::time::Duration::from_millis(20));
        assert_eq!(plan.next_answer(), None, "a slow model does not fail");
        assert_eq!(FaultPlan::new().note_delay(), std::time::Duration::ZERO);

        let plan = FaultPlan::parse("panic-on-start:2").unwrap();
        for _ in 0..2 {
            let panicked = std::panic::catch_unwind(|| plan.on_start()).is_err();
            assert!(panicked);
        }
        plan.on_start();
        assert_eq!(plan.fired(), 2);
    }

    #[test]
    fn given_bad_specs_when_parsed_then_they_are_refused() {
        for spec in [
            "",
            "panic-in-answer",
            "panic-in-answer:0",
            "explode:1",
            "x:y",
        ] {
            assert!(FaultPlan::parse(spec).is_err(), "{spec:?}");
        }
    }

    #[test]
    fn given_a_plan_when_the_next_answer_is_armed_then_only_that_one_fails() {
        let plan = FaultPlan::new();
        assert_eq!(plan.next_answer(), None);
        plan.fail_next_answer(Fault::InferenceError);
        assert_eq!(plan.next_answer(), Some(Fault::InferenceError));
        assert_eq!(plan.next_answer(), None);
    }
}
