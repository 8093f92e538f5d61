//! Sampling from a model's logits: a small seeded random generator and tempered softmax.

/// A seeded xoshiro256++ generator: fast, reproducible for a given seed, no allocation.
#[derive(Debug, Clone)]
pub struct Rng {
    /// The generator's 256-bit state; never all zero.
    state: [u64; 4],
}

impl Rng {
    /// A generator whose whole sequence is determined by `seed`.
    pub fn seeded(seed: u64) -> Self {
        let mut sm = seed;
        let mut next = || {
            sm = sm.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = sm;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Self {
            state: [next(), next(), next(), next()],
        }
    }

    /// A generator seeded from the clock and the address of a stack value.
    pub fn from_entropy() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let marker = 0u8;
        Self::seeded(nanos ^ (std::ptr::from_ref(&marker) as u64).rotate_left(32))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.state;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// A uniform number in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// Log-softmax of `logits / temperature` into `out` (same length).
pub fn log_softmax(logits: &[f32], temperature: f32, out: &mut [f64]) {
    let t = f64::from(temperature.max(1e-3));
    let max = logits
        .iter()
        .fold(f64::NEG_INFINITY, |m, &x| m.max(f64::from(x) / t));
    let mut sum = 0.0;
    for (o, &x) in out.iter_mut().zip(logits) {
        *o = f64::from(x) / t - max;
        sum += o.exp();
    }
    let log_sum = sum.ln();
    for o in out.iter_mut() {
        *o -= log_sum;
    }
}

/// Draws a class from `softmax(logits / temperature)`, restricted to the classes `allowed`
/// accepts (all when none is allowed). Returns the class and its log-probability under the
/// tempered, restricted distribution.
pub fn sample(
    logits: &[f32],
    temperature: f32,
    allowed: impl Fn(usize) -> bool,
    rng: &mut Rng,
) -> (usize, f64) {
    sample_biased(logits, temperature, allowed, |_| 0.0, rng)
}

/// [`sample`] with `bias(class)` nats added to each tempered logit (a density control leans
/// towards or away from starting notes). The log-probability returned is under the biased
/// distribution.
pub fn sample_biased(
    logits: &[f32],
    temperature: f32,
    allowed: impl Fn(usize) -> bool,
    bias: impl Fn(usize) -> f64,
    rng: &mut Rng,
) -> (usize, f64) {
    let t = f64::from(temperature.max(1e-3));
    let any_allowed = (0..logits.len()).any(&allowed);
    let ok = |i: usize| !any_allowed || allowed(i);
    let max = logits
        .iter()
        .enumerate()
        .filter(|(i, _)| ok(*i))
        .fold(f64::NEG_INFINITY, |m, (i, &x)| {
            m.max(f64::from(x) / t + bias(i))
        });
    let total: f64 = logits
        .iter()
        .enumerate()
        .filter(|(i, _)| ok(*i))
        .map(|(i, &x)| (f64::from(x) / t + bias(i) - max).exp())
        .sum();
    let mut target = rng.next_f64() * total;
    let mut chosen = None;
    for (i, &x) in logits.iter().enumerate() {
        if !ok(i) {
            continue;
        }
        let w = (f64::from(x) / t + bias(i) - max).exp();
        chosen = Some((i, w));
        if target < w {
            break;
        }
        target -= w;
    }
    let (class, weight) = chosen.unwrap_or((0, total));
    (class, (weight / total).ln())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_the_same_seed_when_drawing_then_the_sequences_are_equal() {
        let (mut a, mut b) = (Rng::seeded(7), Rng::seeded(7));
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        assert_ne!(Rng::seeded(7).next_u64(), Rng::seeded(8).next_u64());
    }

    #[test]
    fn given_logits_when_sampled_many_times_then_frequencies_follow_the_softmax() {
        let logits = [0.0f32, (2.0f32).ln(), (5.0f32).ln()]; // probabilities 1/8, 2/8, 5/8
        let mut rng = Rng::seeded(1);
        let mut counts = [0usize; 3];
        let n = 80_000;
        for _ in 0..n {
            counts[sample(&logits, 1.0, |_| true, &mut rng).0] += 1;
        }
        for (count, expected) in counts.iter().zip([1.0 / 8.0, 2.0 / 8.0, 5.0 / 8.0]) {
            let freq = *count as f64 / n as f64;
            assert!((freq - expected).abs() < 0.01, "{freq} vs {expected}");
        }
    }

    #[test]
    fn given_a_low_temperature_when_sampled_then_the_top_class_wins() {
        let logits = [1.0f32, 3.0, 2.9];
        let mut rng = Rng::seeded(3);
        for _ in 0..1000 {
            assert_eq!(sample(&logits, 0.01, |_| true, &mut rng).0, 1);
        }
    }

    #[test]
    fn given_a_mask_when_sampled_then_only_allowed_classes_come_and_log_probs_renormalise() {
        let logits = [5.0f32, 0.0, 0.0];
        let mut rng = Rng::seeded(4);
        for _ in 0..1000 {
            let (c, lp) = sample(&logits, 1.0, |i| i != 0, &mut rng);
            assert_ne!(c, 0);
            assert!((lp - 0.5f64.ln()).abs() < 1e-9);
        }
    }

    #[test]
    fn given_logits_when_log_softmaxed_then_probabilities_sum_to_one() {
        let mut out = [0.0; 4];
        log_softmax(&[1.0, 2.0, -3.0, 0.5], 0.7, &mut out);
        let sum: f64 = out.iter().map(|x| x.exp()).sum();
        assert!((sum - 1.0).abs() < 1e-12);
    }
}
