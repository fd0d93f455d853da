//! Continuous and discrete draws built from the uniform output of [`SeededRng`], written
//! out here so the numbers depend only on the seed and this code, never on a library's
//! sampling algorithm (which may change between versions and silently alter traces).

use std::f64::consts::TAU;

use crate::core::rng::SeededRng;

/// Resolution of the uniform draws (53 bits: the mantissa of an f64).
const UNIFORM_STEPS: f64 = (1u64 << 53) as f64;

/// A uniform draw in `[0, 1)`.
pub fn uniform(rng: &mut SeededRng) -> f64 {
    (rng.next_u64() >> 11) as f64 / UNIFORM_STEPS
}

/// A uniform draw in `(0, 1]`, safe to take the logarithm of.
fn uniform_open_zero(rng: &mut SeededRng) -> f64 {
    1.0 - uniform(rng)
}

/// An exponential draw with mean `mean`, by inverse CDF: `-mean · ln(U)`.
pub fn exponential(rng: &mut SeededRng, mean: f64) -> f64 {
    -mean * uniform_open_zero(rng).ln()
}

/// A standard normal draw (Box–Muller, cosine branch; always two uniforms).
pub fn standard_normal(rng: &mut SeededRng) -> f64 {
    let radius = (-2.0 * uniform_open_zero(rng).ln()).sqrt();
    let angle = TAU * uniform(rng);
    radius * angle.cos()
}

/// A lognormal draw with the given `mean` and coefficient of variation `cv` (standard
/// deviation / mean) of the draw itself, which is how talk times are usually quoted:
/// `sigma² = ln(1 + cv²)`, `mu = ln(mean) - sigma²/2`.
pub fn lognormal(rng: &mut SeededRng, mean: f64, cv: f64) -> f64 {
    let sigma_squared = (1.0 + cv * cv).ln();
    let mu = mean.ln() - sigma_squared / 2.0;
    (mu + sigma_squared.sqrt() * standard_normal(rng)).exp()
}

/// True with probability `p`.
pub fn bernoulli(rng: &mut SeededRng, p: f64) -> bool {
    uniform(rng) < p
}

/// An index into `weights` with probability proportional to its weight; `None` when the
/// weights sum to zero (or are empty).
pub fn weighted_index(rng: &mut SeededRng, weights: &[f64]) -> Option<usize> {
    let total: f64 = weights.iter().sum();
    if total <= 0.0 {
        return None;
    }
    let mut target = uniform(rng) * total;
    for (index, weight) in weights.iter().enumerate() {
        if target < *weight {
            return Some(index);
        }
        target -= weight;
    }
    // Rounding can leave the target just past the last weight: it belongs there.
    weights.iter().rposition(|weight| *weight > 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mean_and_variance(samples: &[f64]) -> (f64, f64) {
        let n = samples.len() as f64;
        let mean = samples.iter().sum::<f64>() / n;
        let variance = samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
        (mean, variance)
    }

    #[test]
    fn exponential_has_its_mean() {
        let mut rng = SeededRng::fork(3, "test");
        let samples: Vec<f64> = (0..20_000).map(|_| exponential(&mut rng, 90.0)).collect();
        let (mean, _) = mean_and_variance(&samples);
        // Standard error 90/sqrt(20000) = 0.64; allow 5.
        assert!((mean - 90.0).abs() < 3.2, "mean {mean}");
        assert!(samples.iter().all(|x| *x >= 0.0 && x.is_finite()));
    }

    #[test]
    fn lognormal_has_its_mean_and_spread() {
        let mut rng = SeededRng::fork(4, "test");
        let samples: Vec<f64> = (0..40_000).map(|_| lognormal(&mut rng, 200.0, 0.5)).collect();
        let (mean, variance) = mean_and_variance(&samples);
        // Standard error 100/sqrt(40000) = 0.5; allow 5.
        assert!((mean - 200.0).abs() < 2.5, "mean {mean}");
        let cv = variance.sqrt() / mean;
        assert!((cv - 0.5).abs() < 0.03, "cv {cv}");
    }

    #[test]
    fn weighted_index_follows_weights() {
        let mut rng = SeededRng::fork(5, "test");
        let weights = [1.0, 0.0, 3.0];
        let mut counts = [0u32; 3];
        for _ in 0..40_000 {
            counts[weighted_index(&mut rng, &weights).expect("positive weights")] += 1;
        }
        assert_eq!(counts[1], 0);
        // Binomial(40000, 0.25): sd 87; allow 5.
        assert!((counts[0] as i64 - 10_000).abs() < 435, "{counts:?}");
        assert_eq!(weighted_index(&mut rng, &[0.0, 0.0]), None);
    }
}
