//! R13: reproducibility (RP) and generalization (GL) scores with exact Clopper–Pearson
//! intervals, and the theory's predictions on MoLRG data.
//!
//! The implementation under test is a [`Subject`]: the Clopper–Pearson interval and the
//! two scores.
//!
//! Facets:
//! - `clopper_pearson_tails`: for $k$ successes in $n \le 400$ trials at confidence
//!   $1 - a \in \{0.9, 0.95, 0.99\}$, the interval's ends solve their defining equations
//!   $\mathbb P_{p_\ell}(X \ge k) = a/2$ and $\mathbb P_{p_u}(X \le k) = a/2$, with the tails summed term
//!   by term in log space (`ln_gamma`; an oracle independent of the incomplete Beta
//!   function behind statrs' inverse). Tolerance: an end accurate to $64\varepsilon$ relative
//!   moves the tail by $64\varepsilon\,p\,|F'(p)|$ ($F'(p) = \mp n\,\mathrm{pmf}_{n-1}$), plus the
//!   oracle's rounding, $8\varepsilon$ times the magnitudes of the log-pmf terms, relative.
//! - `clopper_pearson_coverage`: the exact coverage $\sum_k\mathrm{pmf}(k)\,\mathbf 1\{p \in \mathrm{CI}(k)\}$ at a
//!   random $p$ and $n \le 200$ is at least $1 - a$ (less the oracle's rounding): the
//!   theorem that makes the interval exact (`proofs/R13-reproducibility-generalization.md`).
//! - `rp_lowrank_one`: two low-rank denoisers (per-component PCA) fitted on disjoint
//!   noise-free MoLRG training sets with $N \ge r$ points per component produce, from the
//!   same $M = 64$ noises through Heun (12 EDM steps), samples with cosine above
//!   $\tau = 0.6$ for every noise: $\mathrm{RP} = 1$. Both fits recover the true subspaces, so the two
//!   models coincide up to the rounding of the fits ($\approx \kappa(X)\varepsilon$), far inside the
//!   margin $1 - \tau$.
//! - `gl_memorizing_zero`: every sample of the memorizing (empirical) denoiser, through the
//!   same solver, has cosine above $\tau$ with a training point: $\mathrm{GL} = 0$. This is the
//!   theory's prediction for the exact flow, which maps almost every noise to a training
//!   point; for the 12-step solver it is an observation with an argument, not a theorem
//!   (`proofs/R13-reproducibility-generalization.md`): the last step returns
//!   $D(x, 0.002)$, a convex combination concentrated on training points within about
//!   $40\sigma_{\min} = 0.08$ of the trajectory's end (weights of farther points are below
//!   $e^{-800}$), and the PF ODE of $p_{\mathrm{emp}}$ pushes trajectories away from the bisectors
//!   between training points at a rate $e^{\|x_i - x_j\|^2/(2\sigma^2)}$ as $\sigma \to 0$. In $10^4$
//!   instances every sample was a training point bit for bit, except for rank-1 sets with
//!   two points closer than $0.08$, where it was a mixture of those two (cosine $\pm1$ with both,
//!   same sign in every case observed).
//! - `scores_recount`: the check recounts both scores from the same samples with its own
//!   cosine $a^\top b/(\|a\|\|b\|)$ — RP counts the noises whose two samples have cosine
//!   $> \tau$, GL the samples whose largest cosine with a training point is $\le \tau$ — and the
//!   reported successes and trials must equal those counts (the cosines here are within
//!   rounding of 1, far from $\tau = 0.6$, so no count depends on rounding).

use faer::{Mat, MatRef};
use rand::RngExt;
use statrs::function::gamma::ln_gamma;

use super::instance::{BasisKind, log_uniform, orthogonal_bases};
use super::{CaseResult, Measurement, Reference, Theorem};
use crate::error::Result;
use crate::flow::{FlowMap, Heun, Sampler, TimeGrid};
use crate::linalg;
use crate::metric::{DEFAULT_THRESHOLD, Pfd, Proportion, Scores, subspaces_denoiser};
use crate::model::Empirical;
use crate::prec::EPS;
use crate::rng::{SeededRng, seeded, standard_normal};
use crate::schedule::Ve;

/// Noises per instance.
pub const SAMPLES: usize = 64;

/// The computations the R13 check exercises, as the implementation under test.
pub trait Subject: Sync {
    /// The exact (Clopper–Pearson) interval $(p_\ell, p_u)$ for $k$ successes in $n$ trials at
    /// confidence $1 - a$: $\mathbb P_{p_\ell}(X \ge k) = a/2$ ($p_\ell = 0$ for $k = 0$) and
    /// $\mathbb P_{p_u}(X \le k) = a/2$ ($p_u = 1$ for $k = n$), $X \sim \mathrm{Bin}(n, p)$.
    ///
    /// # Errors
    /// As [`crate::metric::clopper_pearson`].
    fn clopper_pearson(&self, k: usize, n: usize, confidence: f64) -> Result<(f64, f64)> {
        crate::metric::clopper_pearson(k, n, confidence)
    }

    /// The reproducibility score of two batches (`d × M`) from the same noises: the number of
    /// columns $j$ with $\cos(a_j, b_j) > \tau$ ($\tau$ = [`DEFAULT_THRESHOLD`]) out of $M$.
    ///
    /// # Errors
    /// As [`Scores::reproducibility`].
    fn reproducibility(&self, a: MatRef<'_, f64>, b: MatRef<'_, f64>) -> Result<Proportion> {
        Scores::new().reproducibility(a, b)
    }

    /// The generalization score of samples (`d × M`) against the training set (`d × N`): the
    /// number of samples whose largest cosine with a training point is $\le \tau$, out of $M$.
    ///
    /// # Errors
    /// As [`Scores::generalization`].
    fn generalization(
        &self,
        samples: MatRef<'_, f64>,
        training: MatRef<'_, f64>,
    ) -> Result<Proportion> {
        Scores::new().generalization(samples, training)
    }
}

impl Subject for Reference {}

/// One R13 instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// Dimension.
    pub d: usize,
    /// Intrinsic dimension per component.
    pub r: usize,
    /// MoLRG components (1 or 2).
    pub components: usize,
    /// Training points per component ($\ge r$).
    pub points: usize,
    /// Clopper–Pearson: trials.
    pub trials: usize,
    /// Clopper–Pearson: successes.
    pub successes: usize,
    /// Clopper–Pearson: confidence level.
    pub confidence: f64,
    /// Coverage: the true proportion.
    pub p: f64,
    /// Seed.
    pub seed: u64,
}

impl Instance {
    /// A random instance.
    pub fn sample(rng: &mut SeededRng) -> Self {
        let components = rng.random_range(1..=2);
        let r = rng.random_range(1..=6);
        let d = rng.random_range(components * r..=24.max(components * r));
        let trials = rng.random_range(1..=400);
        Self {
            d,
            r,
            components,
            points: rng.random_range(r..=3 * r),
            trials,
            successes: rng.random_range(0..=trials),
            confidence: [0.9, 0.95, 0.99][rng.random_range(0..3)],
            p: if rng.random::<f64>() < 0.2 {
                log_uniform(rng, -4.0, -1.0)
            } else {
                rng.random::<f64>()
            },
            seed: rng.random(),
        }
    }

    /// Runs the facets.
    ///
    /// # Errors
    /// Model, flow or estimator errors (which count as failures).
    pub fn check(&self) -> Result<Vec<Measurement>> {
        self.check_with(&Reference)
    }

    /// Runs the facets on the implementation `s`.
    ///
    /// # Errors
    /// Model, flow or estimator errors (which count as failures).
    pub fn check_with(&self, s: &dyn Subject) -> Result<Vec<Measurement>> {
        let mut out = self.clopper_pearson(s)?;
        out.extend(self.scores(s)?);
        Ok(out)
    }

    fn clopper_pearson(&self, s: &dyn Subject) -> Result<Vec<Measurement>> {
        let (k, n) = (self.successes, self.trials);
        let half = 0.5 * (1.0 - self.confidence);
        let (lo, hi) = s.clopper_pearson(k, n, self.confidence)?;
        let mut out = Vec::new();
        if k > 0 {
            let (tail, scale) = upper_tail(k, n, lo);
            let slope = n as f64 * pmf(k - 1, n - 1, lo).0;
            out.push(Measurement::new(
                "clopper_pearson_tails",
                (tail - half).abs(),
                64.0 * EPS * lo * slope + 8.0 * EPS * scale * half,
            ));
        }
        if k < n {
            let (tail, scale) = lower_tail(k, n, hi);
            let slope = n as f64 * pmf(k, n - 1, hi).0;
            out.push(Measurement::new(
                "clopper_pearson_tails",
                (tail - half).abs(),
                64.0 * EPS * hi * slope + 8.0 * EPS * scale * half,
            ));
        }
        // Exact coverage at p for n' ≤ 200 trials.
        let nc = 1 + (self.trials - 1) % 200;
        let mut coverage = 0.0;
        let mut rounding = 0.0f64;
        for kk in 0..=nc {
            let (lo, hi) = s.clopper_pearson(kk, nc, self.confidence)?;
            let (w, scale) = pmf(kk, nc, self.p);
            rounding = rounding.max(scale);
            if lo <= self.p && self.p <= hi {
                coverage += w;
            }
        }
        out.push(Measurement::new(
            "clopper_pearson_coverage",
            (self.confidence - coverage).max(0.0),
            8.0 * EPS * rounding + (nc as f64 + 2.0) * EPS,
        ));
        Ok(out)
    }

    fn scores(&self, s: &dyn Subject) -> Result<Vec<Measurement>> {
        let mut rng = seeded(self.seed);
        let (d, r, k, n) = (self.d, self.r, self.components, self.points);
        let bases = orthogonal_bases(&mut rng, d, &vec![r; k], BasisKind::Haar)?;
        let mut draw = || -> Vec<Mat<f64>> {
            bases
                .iter()
                .map(|u| linalg::mul(u.as_ref(), standard_normal(&mut rng, r, n).as_ref()))
                .collect()
        };
        let (parts1, parts2) = (draw(), draw());
        let fit = |parts: &[Mat<f64>]| {
            let p: Vec<_> = parts.iter().map(|m| m.as_ref()).collect();
            subspaces_denoiser(&p, r)
        };
        let (low1, low2) = (fit(&parts1)?, fit(&parts2)?);
        let train1 = Mat::from_fn(d, k * n, |i, j| parts1[j / n][(i, j % n)]);
        let emp = Empirical::new(train1.as_ref())?;
        let grid = TimeGrid::edm(&Ve, 12)?;
        let noises = Pfd::new(80.0, SAMPLES)?.noises(d, &mut rng);
        let x1 = Sampler::new(&Ve, &low1, &Heun, grid.clone()).map(noises.as_ref())?;
        let x2 = Sampler::new(&Ve, &low2, &Heun, grid.clone()).map(noises.as_ref())?;
        let xe = Sampler::new(&Ve, &emp, &Heun, grid).map(noises.as_ref())?;
        let rp = s.reproducibility(x1.as_ref(), x2.as_ref())?;
        let gl = s.generalization(xe.as_ref(), train1.as_ref())?;
        // The check's own count of both scores.
        let col =
            |x: MatRef<'_, f64>, j: usize| -> Vec<f64> { (0..d).map(|i| x[(i, j)]).collect() };
        let cos = |a: &[f64], b: &[f64]| -> f64 {
            let dot: f64 = a.iter().zip(b).map(|(u, v)| u * v).sum();
            let na: f64 = a.iter().map(|u| u * u).sum::<f64>().sqrt();
            let nb: f64 = b.iter().map(|u| u * u).sum::<f64>().sqrt();
            dot / (na * nb)
        };
        let m = noises.ncols();
        let rp_count = (0..m)
            .filter(|&j| cos(&col(x1.as_ref(), j), &col(x2.as_ref(), j)) > DEFAULT_THRESHOLD)
            .count();
        let gl_count = (0..m)
            .filter(|&j| {
                let x = col(xe.as_ref(), j);
                let best = (0..train1.ncols())
                    .map(|i| cos(&x, &col(train1.as_ref(), i)))
                    .fold(f64::NEG_INFINITY, f64::max);
                best <= DEFAULT_THRESHOLD || best.is_nan()
            })
            .count();
        Ok(vec![
            Measurement::holds("rp_lowrank_one", rp.successes == rp.trials),
            Measurement::holds("gl_memorizing_zero", gl.successes == 0),
            Measurement::holds(
                "scores_recount",
                (rp.successes, rp.trials, gl.successes, gl.trials) == (rp_count, m, gl_count, m),
            ),
        ])
    }
}

/// $(\mathrm{pmf}(k; n, p),\ \text{the magnitude of its log terms})$, by `ln_gamma` in log space.
fn pmf(k: usize, n: usize, p: f64) -> (f64, f64) {
    let (kf, nf) = (k as f64, n as f64);
    let terms = [
        ln_gamma(nf + 1.0),
        -ln_gamma(kf + 1.0),
        -ln_gamma(nf - kf + 1.0),
        if k == 0 { 0.0 } else { kf * p.ln() },
        if k == n {
            0.0
        } else {
            (nf - kf) * (-p).ln_1p()
        },
    ];
    let log = terms.iter().sum::<f64>();
    (log.exp(), terms.iter().map(|t| t.abs()).sum::<f64>() + 1.0)
}

/// $\mathbb P_p(X \ge k)$ summed term by term, with the largest log-term magnitude.
fn upper_tail(k: usize, n: usize, p: f64) -> (f64, f64) {
    (k..=n).fold((0.0, 0.0f64), |(s, m), i| {
        let (w, sc) = pmf(i, n, p);
        (s + w, m.max(sc))
    })
}

/// $\mathbb P_p(X \le k)$ summed term by term, with the largest log-term magnitude.
fn lower_tail(k: usize, n: usize, p: f64) -> (f64, f64) {
    (0..=k).fold((0.0, 0.0f64), |(s, m), i| {
        let (w, sc) = pmf(i, n, p);
        (s + w, m.max(sc))
    })
}

/// Registry entry: [`run_case_with`] on this crate's implementation.
pub fn run_case(rng: &mut SeededRng) -> CaseResult {
    run_case_with(rng, &Reference)
}

/// R13's entry in the [registry](super::registry): the only place its title is written.
pub const THEOREM: Theorem = Theorem {
    id: "R13",
    title: "RP/GL scores: Clopper-Pearson, low-rank vs memorizing",
    proof: "proofs/R13-reproducibility-generalization.md",
    run_case,
};

/// Draws one instance from `rng` and checks the implementation `s` on it.
pub fn run_case_with(rng: &mut SeededRng, s: &dyn Subject) -> CaseResult {
    CaseResult::of(Instance::sample(rng), |i| i.check_with(s))
}
