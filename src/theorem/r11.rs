//! R11: the probability flow distance (PFD): pseudometric, Gaussian closed forms and the
//! coverage of its confidence interval.
//!
//! Every instance draws two (or three) Gaussians in dimension $d \le 8$ — either subspace
//! Gaussians $\mathcal N(0, U_jU_j^\top)$ of ranks $r_1, r_2$ or general ones (means, variances
//! in $[0.1, 10]$) — a noise scale $T \in [0.5, 80]$ and, half of the time, a random linear
//! feature map $h(x) = Wx$ ($W$ is $k \times d$ Gaussian, $k \le d$).
//!
//! Facets:
//! - `self_zero`: $\widehat{\mathrm{PFD}}(p, p) = 0$ with interval $[0, 0]$, exactly.
//! - `symmetry`: $\widehat{\mathrm{PFD}}(p, q) = \widehat{\mathrm{PFD}}(q, p)$ bit for bit
//!   ($(a - b)^2$ and $(b - a)^2$ round identically).
//! - `triangle`: on shared noises the estimate is a root-mean-square of differences, a
//!   seminorm: $\widehat{\mathrm{PFD}}(p, s) \le \widehat{\mathrm{PFD}}(p, q) + \widehat{\mathrm{PFD}}(q, s)$
//!   up to the rounding of the three estimates, $\gamma_{kM+4}$ relative each.
//! - `closed_form_subspace` (subspace instances): [`pfd_subspaces`] (principal-angle
//!   residuals) equals [`pfd_gaussians`] ($T\|A_1 - A_2\|_F$ from the exact flow matrices), two
//!   independent formulas, within the closed form's rounding
//!   $\delta = 8\gamma_{2d+k}(\|W\|_F(T(\|A_1\|_F + \|A_2\|_F) + 2(\|\mu_1\| + \|\mu_2\|)) + \mathrm{PFD})$.
//! - `coverage`: $R = 100$ repetitions, each on $M = 256$ fresh noises through the exact
//!   flows, of the 95% interval; $K$ of them cover the closed form (known to $\pm\delta$, so
//!   an interval covers it if it does after widening by $\delta$ plus its own rounding;
//!   this matters only when $p = q$ as distributions, e.g. two full-rank subspace
//!   Gaussians, where PFD and the interval are both at rounding level). The CLT interval for a
//!   mean is not exact: by the Edgeworth expansion of the studentized mean (Hall 1992,
//!   §2.6) the two-sided coverage error is $-2q_2(z)\varphi(z)/M + O(M^{-2})$, largest for the
//!   most skewed squared distance, a central $\chi^2_1$ (skewness $2\sqrt2$, excess kurtosis 12),
//!   where it is $2.18/M = 0.0085$ at $M = 256$. The test is one-sided at level $10^{-6}$
//!   against a coverage of $p_0 = 0.92$ (the 0.9415 worst case less room for the $O(M^{-2})$
//!   term): it fails iff $\mathbb P(\mathrm{Bin}(R, p_0) \le K) < 10^{-6}$. False-failure rate
//!   $\le 10^{-6}$ per instance whenever the true coverage is $\ge p_0$. Reported as
//!   $-\log_{10}$ of that probability, tolerance 6.
//! - `solver_consistency`: PFD from Heun flows (EDM grid from $T$, 18 steps) against the
//!   exact flows on the same noises: $|\widehat{\mathrm{PFD}}_{\mathrm{Heun}} - \widehat{\mathrm{PFD}}_{\mathrm{exact}}|
//!   \le \mathrm{RMS}(h\Phi^{\mathrm{H}}_p - h\Phi_p) + \mathrm{RMS}(h\Phi^{\mathrm H}_q - h\Phi_q)$ (the triangle
//!   inequality of the seminorm, exact) plus $\gamma_{kM+4}$ rounding of each term.

use rand::RngExt;

use super::flow::random_gaussian;
use super::instance::{BasisKind, log_uniform, orthogonal_bases};
use super::{CaseResult, Measurement};
use crate::error::Result;
use crate::flow::{FlowMap, GaussianFlow, Heun, Sampler, TimeGrid};
use crate::level::NoiseLevel;
use crate::metric::{LinearFeatures, Pfd, binomial_lower_tail, pfd_gaussians, pfd_subspaces};
use crate::model::Gaussian;
use crate::prec::gamma;
use crate::rng::{SeededRng, seeded, standard_normal};
use crate::schedule::Ve;

/// Repetitions of the coverage facet.
pub const REPETITIONS: usize = 100;
/// Noises per repetition.
pub const SAMPLES: usize = 256;
/// The coverage the interval is tested against (see the module docs).
pub const COVERAGE_FLOOR: f64 = 0.92;
/// Level of the one-sided coverage test.
pub const TEST_LEVEL: f64 = 1e-6;

/// One R11 instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// Dimension.
    pub d: usize,
    /// Rank of the first model.
    pub r1: usize,
    /// Rank of the second model.
    pub r2: usize,
    /// Subspace Gaussians $\mathcal N(0, UU^\top)$ (otherwise means and unequal variances).
    pub subspace: bool,
    /// Rows of a linear feature map (0: identity features).
    pub features: usize,
    /// Noise scale $T$.
    pub t_max: f64,
    /// Seed.
    pub seed: u64,
}

impl Instance {
    /// A random instance.
    pub fn sample(rng: &mut SeededRng) -> Self {
        let d = rng.random_range(1..=8);
        let subspace = rng.random::<bool>();
        Self {
            d,
            r1: rng.random_range(1..=d),
            r2: rng.random_range(1..=d),
            subspace,
            features: if rng.random::<bool>() {
                rng.random_range(1..=d)
            } else {
                0
            },
            t_max: log_uniform(rng, -0.3, 1.9),
            seed: rng.random(),
        }
    }

    /// The three models (the third for the triangle inequality).
    ///
    /// # Errors
    /// Construction errors.
    pub fn models(&self) -> Result<[Gaussian; 3]> {
        let mut rng = seeded(self.seed);
        let d = self.d;
        let mut one = |r: usize| -> Result<Gaussian> {
            if self.subspace {
                let u = orthogonal_bases(&mut rng, d, &[r], BasisKind::Haar)?.remove(0);
                Gaussian::subspace(u.as_ref())
            } else {
                random_gaussian(&mut rng, d, r)
            }
        };
        Ok([one(self.r1)?, one(self.r2)?, one(self.r1.max(self.r2))?])
    }

    /// Runs the facets.
    ///
    /// # Errors
    /// Model, flow or estimator errors (which count as failures).
    pub fn check(&self) -> Result<Vec<Measurement>> {
        let [p, q, s] = self.models()?;
        let from = NoiseLevel::ve(self.t_max)?;
        let flows = [&p, &q, &s].map(|g| GaussianFlow::to_clean(g, from));
        let mut rng = seeded(self.seed ^ 0x0011);
        let w = (self.features > 0).then(|| {
            LinearFeatures::new(standard_normal(&mut rng, self.features, self.d).as_ref())
        });
        let w = w.transpose()?;
        let base = Pfd::new(self.t_max, SAMPLES)?;
        let pfd = match &w {
            Some(h) => base.with_feature(h),
            None => base.with_feature(&crate::metric::Identity),
        };
        let k = if self.features > 0 {
            self.features
        } else {
            self.d
        };
        let round = gamma(k * SAMPLES + 4);
        let noises = pfd.noises(self.d, &mut rng);
        let est = |a: &dyn FlowMap, b: &dyn FlowMap| pfd.estimate_on(a, b, noises.as_ref());
        let mut out = Vec::new();

        let pp = est(&flows[0], &flows[0])?;
        out.push(Measurement::holds(
            "self_zero",
            pp.estimate == 0.0 && pp.interval == (0.0, 0.0),
        ));
        let pq = est(&flows[0], &flows[1])?;
        let qp = est(&flows[1], &flows[0])?;
        out.push(Measurement::holds(
            "symmetry",
            pq.estimate.to_bits() == qp.estimate.to_bits(),
        ));
        let qs = est(&flows[1], &flows[2])?;
        let ps = est(&flows[0], &flows[2])?;
        out.push(Measurement::new(
            "triangle",
            (ps.estimate - pq.estimate - qs.estimate).max(0.0),
            round * (ps.estimate + pq.estimate + qs.estimate) + f64::MIN_POSITIVE,
        ));

        let closed = pfd_gaussians(&p, &q, self.t_max, w.as_ref())?;
        let (a1, a2) = (flows[0].matrix(), flows[1].matrix());
        let wnorm = w.as_ref().map_or(1.0, |h| h.matrix().norm_l2());
        // Rounding of the closed form: δ = 8γ_{2d}·‖W‖·(T(‖A_p‖ + ‖A_q‖) + ‖c‖-terms) + ….
        let mean_scale: f64 = [&p, &q]
            .iter()
            .map(|g| g.mean().iter().map(|v| v * v).sum::<f64>().sqrt())
            .sum();
        let delta = 8.0
            * gamma(2 * self.d + k)
            * (wnorm * (self.t_max * (a1.norm_l2() + a2.norm_l2()) + 2.0 * mean_scale) + closed);
        if self.subspace && w.is_none() {
            let sub = pfd_subspaces(p.basis(), q.basis(), self.t_max)?;
            out.push(Measurement::new(
                "closed_form_subspace",
                (sub - closed).abs(),
                delta + f64::MIN_POSITIVE,
            ));
        }

        // Coverage of the interval over independent repetitions.
        let mut covered = 0;
        for _ in 0..REPETITIONS {
            let x = pfd.noises(self.d, &mut rng);
            let e = pfd.estimate_on(&flows[0], &flows[1], x.as_ref())?;
            // The closed form is known to ±δ (and the estimate to its own rounding).
            let slack = delta + round * e.interval.1;
            if e.interval.0 - slack <= closed && closed <= e.interval.1 + slack {
                covered += 1;
            }
        }
        let tail = binomial_lower_tail(covered, REPETITIONS, COVERAGE_FLOOR);
        out.push(Measurement::new(
            "coverage",
            0.0 - tail.max(f64::MIN_POSITIVE).log10(),
            -TEST_LEVEL.log10(),
        ));

        // Any solver: Heun on the EDM grid from T, against the exact flows.
        let grid = TimeGrid::karras(&Ve, 18, 0.002, self.t_max.max(0.004), 7.0)?;
        let heun_p = Sampler::new(&Ve, &p, &Heun, grid.clone());
        let heun_q = Sampler::new(&Ve, &q, &Heun, grid);
        let hp = est(&heun_p, &heun_q)?;
        let dev_p = est(&heun_p, &flows[0])?;
        let dev_q = est(&heun_q, &flows[1])?;
        out.push(Measurement::new(
            "solver_consistency",
            (hp.estimate - pq.estimate).abs(),
            dev_p.estimate
                + dev_q.estimate
                + round * (hp.estimate + pq.estimate + dev_p.estimate + dev_q.estimate)
                + f64::MIN_POSITIVE,
        ));
        Ok(out)
    }
}

/// Registry entry.
pub fn run_case(rng: &mut SeededRng) -> CaseResult {
    CaseResult::of(Instance::sample(rng), Instance::check)
}
