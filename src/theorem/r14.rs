//! R14: Jacobian structure.
//!
//! **What is under test** is the [`Subject`]: the analytic Jacobian of an exact model and
//! its spectral analysis (tolerance and energy ranks). The finite differences, the
//! posterior means and the bases the facets compare with are computed independently of
//! the Jacobian. Facets:
//! - `jacobian_fd`: the analytic Jacobian of every exact model against the
//!   fourth-order central-difference Jacobian of its posterior mean
//!   ([`finite_difference_jacobian`]), step $h = \beta/256$. Tolerance: the
//!   difference's own error estimate $\|J_h - J_{2h}\|_F$ plus its rounding
//!   $3\gamma_{d+r+4}\max\|D\|\sqrt d/h$, relative to $\|J\|_F$ (moderate levels).
//! - `symmetric_psd`: $\|J - J^\top\|_F \le 8\gamma_d\|J\|_F$ and
//!   $\lambda_{\min}(J) \ge -8\gamma_d\|J\|_2$ ($J = \frac\alpha{\beta^2}\operatorname{Cov}[x_0\mid x_t]$).
//! - `k1_rank`: for $\mathcal N(0, UU^\top)$ the tolerance rank of $J$ is exactly $r$.
//! - `energy_rank`: the 0.99-energy rank equals its exact prediction for $r$
//!   equal singular values: the smallest $k$ with $k/r > 0.99^2$.
//! - `energy_rank_spectrum`: for $\mathcal N(0, U\operatorname{diag}(\lambda)U^\top)$ with
//!   $\lambda_j$ log-uniform in $[10^{-3}, 10]$, the energy rank equals the smallest $k$ with
//!   $\sum_{i\le k}g_{(i)}^2 > 0.99^2\sum_ig_i^2$ for the sorted gains $g_i = g(\lambda_i)$ (the
//!   eigenvalues of $J$, R02) — no SVD; instances whose cumulative energy lies within
//!   $64\gamma_d\sum_ig_i^2$ of the threshold are not scored. Unlike `energy_rank` (equal
//!   singular values), this distinguishes a threshold on $\sum\sigma_i^2$ from one on $\sum\sigma_i$
//!   or on $0.99^2$.
//! - `steering`: $D(x + \lambda u) = D(x) + \lambda\sigma u$ for the top singular
//!   pair $(\sigma, u)$ of $J$ and $\lambda \in [-10, 10]$, within
//!   $16\gamma_{d+r}(\|D(x)\| + |\lambda|\sigma + g\|x\|)$.
//! - `null_space`: $D(x + \Delta) = D(x)$ for $\Delta = (I - UU^\top)z$ (computed to
//!   full accuracy), within $8\gamma_{d+r}\,g\,(\|x\| + \|\Delta\|)$.
//! - `molrg_rank_bound`: for a MoLRG with mutually orthogonal components, the
//!   tolerance rank of $J$ is at most $\sum_k r_k$ and $\|(I - P)J\|_F \le 16\gamma_{d+r}\|J\|_F$
//!   with $P$ the projector on $\operatorname{span}\{U_k\}$.

use faer::{ColRef, Mat, MatRef};
use rand::RngExt;

use super::instance::{
    AnyModel, BasisKind, log_uniform, orthogonal_bases, random_model, typical_point,
};
use super::{CaseResult, Measurement, Reference, Theorem, rel};
use crate::error::Result;
use crate::level::NoiseLevel;
use crate::linalg::{
    frobenius_distance, frobenius_norm, mul, projection_residual, symmetric_eigenvalues,
};
use crate::model::ModelKind;
use crate::model::jacobian::{
    ENERGY_THRESHOLD, JacobianStructure, analyze, finite_difference_jacobian,
};
use crate::model::{Denoiser, Gaussian, Molrg};
use crate::prec::gamma;
use crate::rng::{SeededRng, seeded, standard_normal_vec};

/// The computations R14's check exercises, as the implementation under test.
///
/// The default methods call this crate ([`Reference`]); override one to check another
/// implementation (the planted-defect suite does, `tests/suite/planted/r14.rs`).
pub trait Subject: Sync {
    /// The Jacobian $J = \nabla_{x_t}\mathbb E[x_0\mid x_t] = \frac\alpha{\beta^2}\operatorname{Cov}[x_0\mid x_t]$ of `model`'s
    /// posterior mean at the point `x_t` (`d × d`).
    ///
    /// # Errors
    /// Shape or finiteness errors.
    fn jacobian(
        &self,
        model: &AnyModel,
        x_t: ColRef<'_, f64>,
        level: NoiseLevel,
    ) -> Result<Mat<f64>> {
        model.as_exact().jacobian(x_t, level)
    }

    /// The singular values of a square `j` and its ranks: the tolerance rank (count of
    /// $\sigma_i > 8d\varepsilon\sigma_1$) and the energy rank (smallest $k$ with
    /// $\sqrt{\sum_{i\le k}\sigma_i^2} > 0.99\|J\|_F$).
    ///
    /// # Errors
    /// Non-square or non-finite input, no convergence.
    fn analyze(&self, j: MatRef<'_, f64>) -> Result<JacobianStructure> {
        analyze(j)
    }
}

impl Subject for Reference {}

/// One R14 instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// Model for the finite-difference and symmetry facets.
    pub kind: ModelKind,
    /// Dimension.
    pub d: usize,
    /// Component ranks (the K = 1 facets use `ranks[0]`).
    pub ranks: Vec<usize>,
    /// Training points (empirical only).
    pub n_points: usize,
    /// Signal scale.
    pub alpha: f64,
    /// Noise scale.
    pub beta: f64,
    /// Steering amplitude.
    pub lambda: f64,
    /// Seed.
    pub seed: u64,
}

impl Instance {
    /// A random instance (`d ≤ 32`, moderate levels).
    pub fn sample(rng: &mut SeededRng) -> Self {
        let kind = match rng.random_range(0..3) {
            0 => ModelKind::Gaussian,
            1 => ModelKind::Molrg,
            _ => ModelKind::Empirical,
        };
        let k = rng.random_range(1..=3usize);
        let d = rng.random_range(k.max(2)..=32);
        let rmax = (d / k).max(1);
        Self {
            kind,
            d,
            ranks: (0..k).map(|_| rng.random_range(1..=rmax)).collect(),
            n_points: rng.random_range(1..=24),
            alpha: log_uniform(rng, -1.0, 0.0),
            beta: log_uniform(rng, -1.3, 0.7),
            lambda: 20.0 * rng.random::<f64>() - 10.0,
            seed: rng.random(),
        }
    }

    /// Runs the facets on this crate's implementation.
    ///
    /// # Errors
    /// Model construction or evaluation errors (which count as failures).
    pub fn check(&self) -> Result<Vec<Measurement>> {
        self.check_with(&Reference)
    }

    /// Runs the facets on the implementation `s`.
    ///
    /// # Errors
    /// Model construction or evaluation errors (which count as failures).
    pub fn check_with(&self, s: &dyn Subject) -> Result<Vec<Measurement>> {
        let d = self.d;
        let level = NoiseLevel::new(self.alpha, self.beta)?;
        let model = random_model(
            self.seed,
            self.kind,
            d,
            &self.ranks,
            self.n_points,
            BasisKind::Haar,
        )?;
        let m = model.as_exact();
        let x = typical_point(self.seed, &model, level);
        let xm = Mat::from_fn(d, 1, |i, _| x[i]);
        let j = s.jacobian(&model, xm.col(0), level)?;
        let nj = frobenius_norm(j.as_ref());
        let mut out = Vec::new();

        // jacobian_fd
        let h = self.beta / 256.0;
        let jh = finite_difference_jacobian(m, xm.col(0), level, h)?;
        let j2h = finite_difference_jacobian(m, xm.col(0), level, 2.0 * h)?;
        let dmax = m
            .posterior_mean(xm.as_ref(), level)?
            .col(0)
            .iter()
            .fold(0.0f64, |a, v| a.max(v.abs()))
            + x.iter().fold(0.0f64, |a, v| a.max(v.abs()));
        let rsum: usize = self.ranks.iter().sum();
        let est = frobenius_distance(jh.as_ref(), j2h.as_ref())
            + 3.0 * gamma(d + rsum + 4) * dmax * (d as f64).sqrt() / h;
        let scale = nj.max(f64::MIN_POSITIVE);
        out.push(Measurement::new(
            "jacobian_fd",
            rel(frobenius_distance(j.as_ref(), jh.as_ref()), scale),
            (est + 8.0 * gamma(d) * nj) / scale,
        ));

        // symmetric_psd
        let asym = frobenius_distance(j.as_ref(), j.transpose());
        out.push(Measurement::new(
            "symmetric_psd",
            asym,
            8.0 * gamma(d) * nj + f64::MIN_POSITIVE,
        ));
        let sym = Mat::from_fn(d, d, |a, b| 0.5 * (j[(a, b)] + j[(b, a)]));
        let ev = symmetric_eigenvalues(sym.as_ref())?;
        let lmin = ev.iter().cloned().fold(f64::INFINITY, f64::min);
        let lmax = ev.iter().cloned().fold(0.0f64, |a, v| a.max(v.abs()));
        out.push(Measurement::new(
            "symmetric_psd",
            (-lmin).max(0.0),
            8.0 * gamma(d) * lmax + f64::MIN_POSITIVE,
        ));

        // K = 1 facets on N(0, UUᵀ).
        let mut rng = seeded(self.seed ^ 0x0014);
        let r = self.ranks[0];
        let u = orthogonal_bases(&mut rng, d, &[r], BasisKind::Haar)?.remove(0);
        let g1 = Gaussian::subspace(u.as_ref())?;
        let j1 = s.jacobian(&AnyModel::Gaussian(g1.clone()), xm.col(0), level)?;
        let s1 = s.analyze(j1.as_ref())?;
        out.push(Measurement::holds("k1_rank", s1.tolerance_rank == r));
        let predicted = (1..=r)
            .find(|&k| (k as f64) / (r as f64) > ENERGY_THRESHOLD * ENERGY_THRESHOLD)
            .unwrap_or(r);
        out.push(Measurement::holds(
            "energy_rank",
            s1.energy_rank == predicted,
        ));

        // energy_rank_spectrum: N(0, U diag(λ) Uᵀ) with λ spread over four decades; J has
        // eigenvalues g(λ_j) (R02), so both ranks follow from the sorted gains without an SVD.
        let mut srng = seeded(self.seed ^ 0x0e4e_7267_7900);
        let rs = srng.random_range(2..=d.min(16));
        let us = orthogonal_bases(&mut srng, d, &[rs], BasisKind::Haar)?.remove(0);
        let lam: Vec<f64> = (0..rs).map(|_| log_uniform(&mut srng, -3.0, 1.0)).collect();
        let gs = Gaussian::new(&vec![0.0; d], us.as_ref(), &lam)?;
        let js = s.jacobian(&AnyModel::Gaussian(gs), xm.col(0), level)?;
        let ss = s.analyze(js.as_ref())?;
        let mut g: Vec<f64> = lam.iter().map(|&l| level.gain(l)).collect();
        g.sort_by(|a, b| b.total_cmp(a));
        let total: f64 = g.iter().map(|v| v * v).sum();
        let target = ENERGY_THRESHOLD * ENERGY_THRESHOLD * total;
        let mut cum = 0.0;
        let mut predicted = rs;
        let mut clear = true;
        for (k, v) in g.iter().enumerate() {
            cum += v * v;
            // A cumulative energy within the SVD's backward error of the threshold leaves the
            // rank ambiguous: such instances are not scored.
            if (cum - target).abs() <= 64.0 * gamma(d) * total {
                clear = false;
            }
            if cum > target {
                predicted = k + 1;
                break;
            }
        }
        if clear {
            out.push(Measurement::holds(
                "energy_rank_spectrum",
                ss.energy_rank == predicted,
            ));
        }

        // steering along the top singular vector of J.
        let svd = j1
            .thin_svd()
            .map_err(|_| crate::Error::NoConvergence { what: "SVD" })?;
        let sigma = svd.S().column_vector()[0];
        let uvec: Vec<f64> = (0..d).map(|i| svd.U()[(i, 0)]).collect();
        let d0 = g1.posterior_mean(xm.as_ref(), level)?;
        let moved = Mat::from_fn(d, 1, |i, _| x[i] + self.lambda * uvec[i]);
        let d1 = g1.posterior_mean(moved.as_ref(), level)?;
        let pred = Mat::from_fn(d, 1, |i, _| d0[(i, 0)] + self.lambda * sigma * uvec[i]);
        let nd0 = frobenius_norm(d0.as_ref());
        out.push(Measurement::new(
            "steering",
            frobenius_distance(d1.as_ref(), pred.as_ref()),
            16.0 * gamma(d + r)
                * (nd0
                    + self.lambda.abs() * sigma
                    + level.shrinkage() * frobenius_norm(xm.as_ref())),
        ));

        // null_space: Δ = (I − UUᵀ) z.
        let z = standard_normal_vec(&mut rng, d);
        let mut c = vec![0.0; r];
        let mut delta = vec![0.0; d];
        projection_residual(u.as_ref(), &z, &mut c, &mut delta);
        let shifted = Mat::from_fn(d, 1, |i, _| x[i] + delta[i]);
        let d2 = g1.posterior_mean(shifted.as_ref(), level)?;
        let ndelta: f64 = delta.iter().map(|v| v * v).sum::<f64>().sqrt();
        let nx: f64 = x.iter().map(|v| v * v).sum::<f64>().sqrt();
        out.push(Measurement::new(
            "null_space",
            frobenius_distance(d2.as_ref(), d0.as_ref()),
            8.0 * gamma(d + r) * level.shrinkage() * (nx + ndelta) + f64::MIN_POSITIVE,
        ));

        // molrg_rank_bound with mutually orthogonal components.
        let bases = orthogonal_bases(&mut rng, d, &self.ranks, BasisKind::Haar)?;
        let refs: Vec<_> = bases.iter().map(|b| b.as_ref()).collect();
        let mix = Molrg::uniform(&refs)?;
        let any_mix = AnyModel::Molrg(mix);
        let xmix = typical_point(self.seed ^ 2, &any_mix, level);
        let xmm = Mat::from_fn(d, 1, |i, _| xmix[i]);
        let jm = s.jacobian(&any_mix, xmm.col(0), level)?;
        let sm = s.analyze(jm.as_ref())?;
        out.push(Measurement::holds(
            "molrg_rank_bound",
            sm.tolerance_rank <= rsum,
        ));
        let all = Mat::from_fn(d, rsum, |i, c| {
            let mut k = 0;
            let mut cc = c;
            while cc >= bases[k].ncols() {
                cc -= bases[k].ncols();
                k += 1;
            }
            bases[k][(i, cc)]
        });
        let pj = mul(all.as_ref(), mul(all.transpose(), jm.as_ref()).as_ref());
        let njm = frobenius_norm(jm.as_ref());
        out.push(Measurement::new(
            "molrg_rank_bound",
            frobenius_distance(jm.as_ref(), pj.as_ref()),
            16.0 * gamma(d + rsum) * njm + f64::MIN_POSITIVE,
        ));
        Ok(out)
    }
}

/// Registry entry: the check on this crate's implementation.
pub fn run_case(rng: &mut SeededRng) -> CaseResult {
    run_case_with(rng, &Reference)
}

/// R14's entry in the [registry](super::registry): the only place its title is written.
pub const THEOREM: Theorem = Theorem {
    id: "R14",
    title: "Jacobian structure: FD, rank, steering, null space",
    proof: "proofs/R14-jacobian-structure.md",
    run_case,
};

/// The check on the implementation `s`, on the instance drawn from `rng`.
pub fn run_case_with(rng: &mut SeededRng, s: &dyn Subject) -> CaseResult {
    CaseResult::of(Instance::sample(rng), |i| i.check_with(s))
}
