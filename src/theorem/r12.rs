//! R12: the bias–variance identity $\mathbb E_D[E_{\mathrm{gen}}^2] = E_{\mathrm{bias}}^2 + E_{\mathrm{var}}$.
//!
//! Every instance draws a ground truth — a subspace Gaussian ($K = 1$) or a MoLRG with
//! $K = 2$ orthogonal components — in dimension $d \le 12$, $m \in [1, 6]$ independent
//! training sets of $N$ points per component ($N$ below or above $r$), fits the low-rank
//! denoiser to each (PCA per labelled component), and maps $M = 64$ shared noises
//! ($T = 80$) through every model: exact Gaussian flows for $K = 1$, Heun on a 12-step EDM
//! grid for $K = 2$. Identity or random linear features.
//!
//! Facets:
//! The implementation under test is a [`Subject`] (the decomposition from flows).
//!
//! - `identity`: the reported components satisfy
//!   $|\overline{E^2_{\mathrm{gen}}} - (E^2_{\mathrm{bias}} + E_{\mathrm{var}})| \le
//!   \gamma_{kM+m+4}(\overline{E^2_{\mathrm{gen}}} + E^2_{\mathrm{bias}} + E_{\mathrm{var}}) + 2\gamma_mA\,E_{\mathrm{bias}}$,
//!   the rounding bound derived in `proofs/R12-bias-variance.md`, with the residual and $A$
//!   computed by the check from the reported components and the features (not the
//!   implementation's own `residual` and `residual_bound`). A variance with $1/(m-1)$, or a
//!   bias not taken at the mean map, breaks it.
//! - `components_dd`: $\overline{E^2_{\mathrm{gen}}}$, $E^2_{\mathrm{bias}}$ and $E_{\mathrm{var}}$ against a
//!   double-double evaluation from the same features, relative error within
//!   $\gamma_{kM+m+4}$; for the bias and the variance add the effect of the mean map's
//!   rounding $\delta = \gamma_mA$ on a squared norm, $2\|u\|\delta + \delta^2$ with
//!   $\|u\| = E_{\mathrm{bias}}$, resp. $\sqrt{E_{\mathrm{var}}}$ (Cauchy–Schwarz over the sets).
//! - `matches_pfd`: each $E^2_{\mathrm{gen}}(j)$ equals the PFD estimator's $\widehat{\mathrm{PFD}^2}$ on the
//!   same noises (a different summation order) within $\gamma_{kM+4}$ relative.

use faer::{Mat, MatRef};
use rand::RngExt;

use super::instance::{BasisKind, orthogonal_bases};
use super::{CaseResult, Measurement, Reference, Theorem};
use crate::error::Result;
use crate::flow::{FlowMap, GaussianFlow, Heun, Sampler, TimeGrid};
use crate::level::NoiseLevel;
use crate::linalg;
use crate::metric::{
    BiasVariance, Identity, LinearFeatures, Pfd, pca_denoiser, subspaces_denoiser,
};
use crate::model::{Gaussian, Molrg};
use crate::prec::gamma;
use crate::reference::{Q, f, q};
use crate::rng::{SeededRng, seeded, standard_normal};
use crate::schedule::Ve;

/// Noises per instance.
pub const SAMPLES: usize = 64;
/// Noise scale $T$.
pub const T_MAX: f64 = 80.0;

/// The computation the R12 check exercises, as the implementation under test.
pub trait Subject: Sync {
    /// The bias–variance decomposition of `learned` against `truth` on the shared `noises`,
    /// with `pfd`'s feature map: $E^2_{\mathrm{gen}}(j) = \|F_j - F_\star\|_M^2$, their mean,
    /// $E^2_{\mathrm{bias}} = \|\bar F - F_\star\|_M^2$ and $E_{\mathrm{var}} = \frac1m\sum_j\|F_j - \bar F\|_M^2$
    /// ([`BiasVariance`]).
    ///
    /// # Errors
    /// As [`BiasVariance::from_flows`].
    fn bias_variance(
        &self,
        pfd: &Pfd<'_>,
        learned: &[&dyn FlowMap],
        truth: &dyn FlowMap,
        noises: MatRef<'_, f64>,
    ) -> Result<BiasVariance> {
        BiasVariance::from_flows(pfd, learned, truth, noises)
    }
}

impl Subject for Reference {}

/// One R12 instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// Dimension.
    pub d: usize,
    /// Intrinsic dimension per component.
    pub r: usize,
    /// Components of the ground truth (1 or 2).
    pub components: usize,
    /// Training sets.
    pub sets: usize,
    /// Points per component in each set.
    pub points: usize,
    /// Rows of a linear feature map (0: identity).
    pub features: usize,
    /// Seed.
    pub seed: u64,
}

impl Instance {
    /// A random instance.
    pub fn sample(rng: &mut SeededRng) -> Self {
        let components = rng.random_range(1..=2);
        let r = rng.random_range(1..=4);
        let d = rng.random_range(components * r..=12.max(components * r));
        Self {
            d,
            r,
            components,
            sets: rng.random_range(1..=6),
            points: rng.random_range(1..=2 * r),
            features: if rng.random::<bool>() {
                rng.random_range(1..=d)
            } else {
                0
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
        let mut rng = seeded(self.seed);
        let (d, r, k) = (self.d, self.r, self.components);
        let bases = orthogonal_bases(&mut rng, d, &vec![r; k], BasisKind::Haar)?;
        let refs: Vec<_> = bases.iter().map(|b| b.as_ref()).collect();
        let truth = Molrg::uniform(&refs)?;
        let truth_g = Gaussian::subspace(bases[0].as_ref())?;
        let training: Vec<Vec<Mat<f64>>> = (0..self.sets)
            .map(|_| {
                bases
                    .iter()
                    .map(|u| {
                        linalg::mul(
                            u.as_ref(),
                            standard_normal(&mut rng, r, self.points).as_ref(),
                        )
                    })
                    .collect()
            })
            .collect();
        let w = (self.features > 0)
            .then(|| LinearFeatures::new(standard_normal(&mut rng, self.features, d).as_ref()))
            .transpose()?;
        let pfd = Pfd::new(T_MAX, SAMPLES)?;
        let pfd = match &w {
            Some(h) => pfd.with_feature(h),
            None => pfd.with_feature(&Identity),
        };
        let noises = pfd.noises(d, &mut rng);
        // Flow maps: exact for K = 1 (the fitted models are then Gaussians), Heun otherwise.
        let grid = TimeGrid::edm(&Ve, 12)?;
        let level = NoiseLevel::ve(T_MAX)?;
        let mut gaussians = Vec::new();
        let mut mixtures = Vec::new();
        let mut flows: Vec<Box<dyn FlowMap + '_>> = Vec::new();
        if k == 1 {
            for parts in &training {
                gaussians.push(pca_denoiser(parts[0].as_ref(), r)?);
            }
            for g in &gaussians {
                flows.push(Box::new(GaussianFlow::to_clean(g, level)));
            }
            flows.push(Box::new(GaussianFlow::to_clean(&truth_g, level)));
        } else {
            for parts in &training {
                let p: Vec<_> = parts.iter().map(|m| m.as_ref()).collect();
                mixtures.push(subspaces_denoiser(&p, r)?);
            }
            for m in &mixtures {
                flows.push(Box::new(Sampler::new(&Ve, m, &Heun, grid.clone())));
            }
            flows.push(Box::new(Sampler::new(&Ve, &truth, &Heun, grid.clone())));
        }
        let truth_flow = flows.pop().expect("truth pushed last");
        let learned: Vec<&dyn FlowMap> = flows.iter().map(|b| b.as_ref() as &dyn FlowMap).collect();
        let bv = s.bias_variance(&pfd, &learned, truth_flow.as_ref(), noises.as_ref())?;

        // Double-double oracle from the same features.
        let ft = pfd.features(truth_flow.as_ref(), noises.as_ref())?;
        let fl = learned
            .iter()
            .map(|fm| pfd.features(*fm, noises.as_ref()))
            .collect::<Result<Vec<_>>>()?;
        let (kk, n, m) = (ft.nrows(), ft.ncols(), fl.len());
        let mq = q(m as f64);
        let nq = q(n as f64);
        let mean: Vec<Q> = (0..kk * n)
            .map(|idx| {
                let (i, j) = (idx % kk, idx / kk);
                let mut s = Q::ZERO;
                for fj in &fl {
                    s += q(fj[(i, j)]);
                }
                s / mq
            })
            .collect();
        let sq = |a: &dyn Fn(usize, usize) -> Q, b: &dyn Fn(usize, usize) -> Q| -> Q {
            let mut s = Q::ZERO;
            for j in 0..n {
                for i in 0..kk {
                    let e = a(i, j) - b(i, j);
                    s += e * e;
                }
            }
            s / nq
        };
        let truth_at = |i: usize, j: usize| q(ft[(i, j)]);
        let mean_at = |i: usize, j: usize| mean[j * kk + i];
        let mut gen_dd = Q::ZERO;
        let mut var_dd = Q::ZERO;
        for fj in &fl {
            let at = |i: usize, j: usize| q(fj[(i, j)]);
            gen_dd += sq(&at, &truth_at);
            var_dd += sq(&at, &mean_at);
        }
        let (gen_dd, var_dd) = (f(gen_dd / mq), f(var_dd / mq));
        let bias_dd = f(sq(&mean_at, &truth_at));
        let g = gamma(kk * n + m + 4);
        let abs_mean = (0..n)
            .map(|j| {
                (0..kk)
                    .map(|i| {
                        let a = fl.iter().map(|fj| fj[(i, j)].abs()).sum::<f64>() / m as f64;
                        a * a
                    })
                    .sum::<f64>()
            })
            .sum::<f64>()
            / n as f64;
        let a = abs_mean.sqrt();
        let gm = gamma(m);
        // The mean map is rounded by at most δ = γ_m·A (RMS), which moves a squared
        // norm ‖u‖² by at most 2‖u‖δ + δ².
        let delta = gm * a;
        let mut out = vec![Measurement::new(
            "identity",
            (bv.mean_gen_sq - (bv.bias_sq + bv.variance)).abs(),
            g * (bv.mean_gen_sq + bv.bias_sq + bv.variance)
                + 2.0 * gm * a * bv.bias_sq.max(0.0).sqrt()
                + f64::MIN_POSITIVE,
        )];
        let ok = |x: f64, y: f64, shift: f64| (x - y).abs() <= g * x.max(y) + shift;
        out.push(Measurement::holds(
            "components_dd",
            ok(bv.mean_gen_sq, gen_dd, f64::MIN_POSITIVE)
                && ok(
                    bv.bias_sq,
                    bias_dd,
                    delta * (2.0 * bias_dd.sqrt() + delta) + f64::MIN_POSITIVE,
                )
                && ok(
                    bv.variance,
                    var_dd,
                    delta * (2.0 * var_dd.sqrt() + delta) + f64::MIN_POSITIVE,
                ),
        ));
        for (j, fm) in learned.iter().enumerate() {
            let e = pfd.estimate_on(*fm, truth_flow.as_ref(), noises.as_ref())?;
            let gen_j = bv.gen_sq.get(j).copied().unwrap_or(f64::NAN);
            out.push(Measurement::new(
                "matches_pfd",
                (e.squared - gen_j).abs(),
                gamma(kk * n + 4) * (e.squared + gen_j) + f64::MIN_POSITIVE,
            ));
        }
        Ok(out)
    }
}

/// Registry entry: [`run_case_with`] on this crate's implementation.
pub fn run_case(rng: &mut SeededRng) -> CaseResult {
    run_case_with(rng, &Reference)
}

/// R12's entry in the [registry](super::registry): the only place its title is written.
pub const THEOREM: Theorem = Theorem {
    id: "R12",
    title: "Bias-variance identity E[E_gen^2] = E_bias^2 + E_var",
    proof: "proofs/R12-bias-variance.md",
    run_case,
};

/// Draws one instance from `rng` and checks the implementation `s` on it.
pub fn run_case_with(rng: &mut SeededRng, s: &dyn Subject) -> CaseResult {
    CaseResult::of(Instance::sample(rng), |i| i.check_with(s))
}
