//! R08 (Theorem 3): for $K > 1$ the DAE loss of the MoLRG parameterization reduces
//! to subspace clustering.
//!
//! Facets, on $K \in \{2,3,4\}$ mutually orthogonal rank-$r$ subspaces with $N_k \ge r$
//! noise-free samples each:
//! - `softmax_is_molrg`: the parameterization $x_\theta$ with softmax weights
//!   ([`MolrgParam`], plain projections) equals the crate's exact MoLRG posterior mean
//!   ([`crate::Molrg::uniform`], compensated) at noisy points. Tolerance, relative to
//!   $g\|x_t\|$: $8\gamma_{d+r+4}(K+1) + 4\eta$ with $\eta = (4\sqrt r\gamma_d + 4\varepsilon)\varphi\|x_t\|^2$
//!   the logit rounding (softmax is 2-Lipschitz from logits to $\ell_1$ weights).
//! - `expectation_exact`: $\mathbb E_\varepsilon\|U_k^\top x_t\|^2 = \alpha^2\|U_k^\top x_0\|^2 + \beta^2 r$
//!   against the degree-3 Gaussian cubature $\frac1{2d}\sum_j\sum_\pm\|U_k^\top(\alpha x_0 \pm \beta\sqrt d\,e_j)\|^2$
//!   (Stroud's rule, exact for polynomials of degree $\le 3$ in $\varepsilon$), evaluated on the
//!   actual noisy points. Tolerance $4\sqrt r\gamma_{d+2}(\alpha\|x_0\| + \beta\sqrt d)^2 + 4\gamma_r(\alpha^2\|U_k^\top x_0\|^2 + \beta^2r)$.
//! - `hard_max_identity`: the hard-max loss (quadrature of the per-point denoisers'
//!   exact $\varepsilon$-expectation, [`dae_loss_hard_max_quadrature`]) equals
//!   $-C\cdot NJ(U) + L\|X\|_F^2 + NrG$ with $J$ = [`clustering_objective`], for candidate
//!   bases that are the truth, random, or the K-subspaces solution. Tolerance as
//!   R05's `closed_vs_quadrature` with $(|C| + L)$.
//! - `certified_optimal`: the K-subspaces solution reaches $\frac1N\|X\|_F^2$ to within the
//!   unit roundoff (a fact: `info.certified`).
//! - `equals_truth`: its matched error is at most $\max_k\big[\sqrt2\|\Delta X_k\|_F/\sigma_r(X_k)\big] + 4(\delta_{\hat U} + \delta_U)$
//!   (R06's exact-recovery allowance per cluster; `proofs/R08-subspace-clustering.md`
//!   proves that a feasible solution reaching the bound is the truth).
//! - `feasible`: $\max_{k\ne l}\|\hat U_k^\top\hat U_l\|_2$ is at most twice that allowance.

use faer::Mat;
use rand::RngExt;

use super::instance::{BasisKind, log_uniform, orthogonal_bases};
use super::r05::{ScheduleKind, WeightKind};
use super::{CaseResult, Measurement};
use crate::error::Result;
use crate::level::NoiseLevel;
use crate::linalg::{frobenius_distance, frobenius_norm, mul, orthonormality_deviation};
use crate::model::{Denoiser, Molrg};
use crate::prec::{EPS, gamma};
use crate::reduction::bounds::{product_rounding, recovery_bound, svd_backward_error};
use crate::reduction::{
    KSubspaces, LossCoefficients, MolrgParam, clustering_objective, dae_loss_hard_max_quadrature,
    match_subspaces,
};
use crate::rng::{SeededRng, seeded, standard_normal};

/// Which bases the hard-max loss identity is evaluated at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Candidate {
    /// The true bases.
    Truth,
    /// Independent random orthonormal bases (generally not mutually orthogonal).
    Random,
    /// The K-subspaces solution.
    Solver,
}

/// One R08 instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// Ambient dimension.
    pub d: usize,
    /// Common rank.
    pub r: usize,
    /// Samples per component (each $\ge r$).
    pub n_per: Vec<usize>,
    /// Signal scale for the softmax facet.
    pub alpha: f64,
    /// Noise scale for the softmax facet.
    pub beta: f64,
    /// Schedule of the loss identity.
    pub schedule: ScheduleKind,
    /// Weight of the loss identity.
    pub weight: WeightKind,
    /// Time range.
    pub t0: f64,
    /// Time range.
    pub t1: f64,
    /// Candidate bases for the loss identity.
    pub candidate: Candidate,
    /// Seed.
    pub seed: u64,
}

/// Clustered data: the true bases, the coefficient matrices $A_k$ and $X = [X_1 \dots X_K]$.
pub type Clustered = (Vec<Mat<f64>>, Vec<Mat<f64>>, Mat<f64>);

/// Draws $K$ orthogonal bases and $N_k$ samples $U_ka + \sigma g$ from each ($g$ standard normal).
///
/// # Errors
/// [`crate::Error::InvalidCount`] if $Kr > d$.
pub fn clustered_data(
    d: usize,
    r: usize,
    n_per: &[usize],
    noise: f64,
    seed: u64,
) -> Result<Clustered> {
    let mut g = seeded(seed);
    let bases = orthogonal_bases(&mut g, d, &vec![r; n_per.len()], BasisKind::Haar)?;
    let total: usize = n_per.iter().sum();
    let mut x = Mat::<f64>::zeros(d, total);
    let mut coeffs = Vec::new();
    let mut off = 0;
    for (u, &nk) in bases.iter().zip(n_per) {
        let a = standard_normal(&mut g, r, nk);
        let xk = u * &a;
        x.as_mut().subcols_mut(off, nk).copy_from(xk.as_ref());
        coeffs.push(a);
        off += nk;
    }
    if noise > 0.0 {
        let e = standard_normal(&mut g, d, total);
        for j in 0..total {
            for i in 0..d {
                x[(i, j)] += noise * e[(i, j)];
            }
        }
    }
    Ok((bases, coeffs, x))
}

/// The exact-recovery allowance of one noise-free cluster $X_k = \mathrm{fl}(U_kA_k)$
/// (R06's `exact_recovery`): $\sqrt2(\gamma_r\sqrt r\|A_k\|_F + \gamma_{8dN_k}\|X_k\|_F)/\sigma_r(X_k)$.
///
/// # Errors
/// SVD failure.
pub fn cluster_allowance(a: &Mat<f64>, xk: faer::MatRef<'_, f64>) -> Result<f64> {
    let r = a.nrows();
    let s = crate::linalg::singular_values(xk)?;
    let xf = frobenius_norm(xk);
    let e = product_rounding(r, frobenius_norm(a.as_ref()))
        + svd_backward_error(xk.nrows(), xk.ncols(), xf);
    Ok(recovery_bound(
        e,
        e,
        r,
        s.get(r - 1).copied().unwrap_or(0.0),
    ))
}

impl Instance {
    /// A random instance: $K \in \{2, 3, 4\}$, $Kr \le d \le 40$, $N_k \in [r, r+4]$.
    pub fn sample(rng: &mut SeededRng) -> Self {
        let k = rng.random_range(2..=4usize);
        let r = rng.random_range(1..=(40 / k).min(8));
        let d = rng.random_range(k * r..=40);
        let schedule = match rng.random_range(0..3) {
            0 => ScheduleKind::Ve,
            1 => ScheduleKind::VpLinear,
            _ => ScheduleKind::RectifiedFlow,
        };
        let (t0, t1) = match schedule {
            ScheduleKind::Ve => {
                let t0 = log_uniform(rng, -3.0, 0.0);
                (t0, t0 + log_uniform(rng, -1.0, 1.5))
            }
            _ => {
                let t0 = log_uniform(rng, -3.0, -0.5);
                (t0, t0 + (0.999 - t0) * rng.random_range(0.05..=1.0))
            }
        };
        Self {
            d,
            r,
            n_per: (0..k).map(|_| r + rng.random_range(0..=4)).collect(),
            alpha: log_uniform(rng, -1.3, 0.0),
            beta: log_uniform(rng, -2.0, 1.0),
            schedule,
            weight: match rng.random_range(0..3) {
                0 => WeightKind::Unit,
                1 => WeightKind::InverseNoiseVariance,
                _ => WeightKind::Snr,
            },
            t0,
            t1,
            candidate: match rng.random_range(0..3) {
                0 => Candidate::Truth,
                1 => Candidate::Random,
                _ => Candidate::Solver,
            },
            seed: rng.random(),
        }
    }

    /// Runs the facets.
    ///
    /// # Errors
    /// Construction or evaluation errors (which count as failures).
    pub fn check(&self) -> Result<Vec<Measurement>> {
        let (d, r, k) = (self.d, self.r, self.n_per.len());
        let (bases, coeffs, x) = clustered_data(d, r, &self.n_per, 0.0, self.seed)?;
        let refs: Vec<_> = bases.iter().map(|b| b.as_ref()).collect();
        let n = x.ncols();
        let mut g = seeded(self.seed ^ 0x0008);
        let mut out = Vec::new();
        let level = NoiseLevel::new(self.alpha, self.beta)?;

        // Softmax parameterization = exact MoLRG posterior mean.
        let param = MolrgParam::new(&refs)?;
        let molrg = Molrg::uniform(&refs)?;
        let pts = 4.min(n);
        let e = standard_normal(&mut g, d, pts);
        let xt = Mat::from_fn(d, pts, |i, j| {
            self.alpha * x[(i, j)] + self.beta * e[(i, j)]
        });
        let a = param.posterior_mean(xt.as_ref(), level)?;
        let b = molrg.posterior_mean(xt.as_ref(), level)?;
        let phi = level.logit_coefficient(1.0);
        let gain = level.shrinkage();
        let mut worst = 0.0f64;
        for j in 0..pts {
            let nx = frobenius_norm(xt.as_ref().subcols(j, 1));
            let eta = (4.0 * (r as f64).sqrt() * gamma(d) + 4.0 * EPS) * phi * nx * nx;
            let tol = 8.0 * gamma(d + r + 4) * (k as f64 + 1.0) + 4.0 * eta;
            let err = frobenius_distance(a.as_ref().subcols(j, 1), b.as_ref().subcols(j, 1));
            worst = worst.max(err / (gain * nx + f64::MIN_POSITIVE) / tol);
        }
        out.push(Measurement::new("softmax_is_molrg", worst, 1.0));

        // E‖U_kᵀx_t‖² = α²‖U_kᵀx0‖² + β² r, against Stroud's degree-3 cubature.
        let sd = (d as f64).sqrt();
        let mut worst = 0.0f64;
        for (kk, u) in refs.iter().enumerate() {
            let j0 = self.n_per[..kk].iter().sum::<usize>();
            let x0 = x.as_ref().subcols(j0, 1);
            let c0 = mul(u.transpose(), x0);
            let c0n = frobenius_norm(c0.as_ref());
            let closed = self.alpha * self.alpha * c0n * c0n + self.beta * self.beta * r as f64;
            let mut ys = Mat::<f64>::zeros(d, 2 * d);
            for jj in 0..d {
                for i in 0..d {
                    ys[(i, 2 * jj)] = self.alpha * x0[(i, 0)];
                    ys[(i, 2 * jj + 1)] = self.alpha * x0[(i, 0)];
                }
                ys[(jj, 2 * jj)] += self.beta * sd;
                ys[(jj, 2 * jj + 1)] -= self.beta * sd;
            }
            let cs = mul(u.transpose(), ys.as_ref());
            let cub = (0..2 * d)
                .map(|c| {
                    let v = frobenius_norm(cs.as_ref().subcols(c, 1));
                    v * v
                })
                .sum::<f64>()
                / (2 * d) as f64;
            let x0n = frobenius_norm(x0);
            let scale = self.alpha * x0n + self.beta * sd;
            let tol = 4.0 * (r as f64).sqrt() * gamma(d + 2) * scale * scale
                + 4.0 * gamma(r + 2) * closed;
            worst = worst.max((cub - closed).abs() / tol);
        }
        out.push(Measurement::new("expectation_exact", worst, 1.0));

        // K-subspaces: certified optimal and equal to the truth.
        let sol = KSubspaces::new(k, r).solve(x.as_ref(), &mut g)?;
        out.push(Measurement::holds("certified_optimal", sol.info.certified));
        let est: Vec<_> = sol.bases.iter().map(|b| b.as_ref()).collect();
        let m = match_subspaces(&est, &refs)?;
        let mut allowance = 0.0f64;
        let mut off = 0;
        for (a_k, &nk) in coeffs.iter().zip(&self.n_per) {
            allowance = allowance.max(cluster_allowance(a_k, x.as_ref().subcols(off, nk))?);
            off += nk;
        }
        let delta = est
            .iter()
            .chain(refs.iter())
            .map(|u| orthonormality_deviation(*u))
            .fold(0.0, f64::max);
        let tol = allowance + 8.0 * delta;
        out.push(Measurement::new("equals_truth", m.max_distance, tol));
        out.push(Measurement::new(
            "feasible",
            sol.info.max_cross_coherence,
            2.0 * tol,
        ));

        // Hard-max loss = −C·N·J + const.
        let random;
        let cand: Vec<faer::MatRef<'_, f64>> = match self.candidate {
            Candidate::Truth => refs.clone(),
            Candidate::Solver => est.clone(),
            Candidate::Random => {
                random = (0..k)
                    .map(|_| crate::linalg::random_orthonormal(&mut g, d, r))
                    .collect::<Result<Vec<_>>>()?;
                random.iter().map(|b| b.as_ref()).collect()
            }
        };
        let schedule = self.schedule.build();
        let weight = self.weight.build();
        let coef = LossCoefficients::quadrature(schedule.as_ref(), &weight, self.t0, self.t1)?;
        let hard = dae_loss_hard_max_quadrature(
            &cand,
            x.as_ref(),
            schedule.as_ref(),
            &weight,
            self.t0,
            self.t1,
        )?;
        let j = clustering_objective(&cand, x.as_ref())?;
        let xf = frobenius_norm(x.as_ref());
        let x2 = xf * xf;
        let nr = (n * r) as f64;
        let predicted = -coef.c * n as f64 * j + coef.d(x2, n, r);
        let gg = gamma(d + r + 4);
        let sr = (r as f64).sqrt() + 1.0;
        let tol = hard.error
            + (coef.errors[0] + coef.errors[1]) * x2
            + nr * coef.errors[3]
            + 8.0 * gg * sr * (coef.c.abs() + 2.0 * coef.weight_integral) * x2
            + 16.0 * gg * nr * coef.noise;
        out.push(Measurement::new(
            "hard_max_identity",
            (hard.value - predicted).abs(),
            tol,
        ));
        Ok(out)
    }
}

/// Registry entry.
pub fn run_case(rng: &mut SeededRng) -> CaseResult {
    CaseResult::of(Instance::sample(rng), Instance::check)
}
