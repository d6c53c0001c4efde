//! R09 (Theorem 4): sample complexity per component, $N_k \ge r$.
//!
//! Instances: $K \in \{2,3,4\}$ mutually orthogonal rank-$r$ subspaces in $\mathbb R^d$
//! ($r \ge 2$, $Kr \le d \le 40$), drawn counts $N_k \in [r-3, r+2]$. Each instance checks
//! both sides of $N_k = r$: case (i) with every $N_k$ raised to $\max(N_k, r)$, case (ii)
//! with $N_1$ lowered to $\min(N_1, r-1)$. The implementation under test ([`Subject`]) is the
//! K-subspaces solver and the subspace distance; it runs on noise-free, noisy and deficient
//! data. Matching, assignment, objective and residuals are computed by the check itself
//! (plain loops, exhaustive matching over the $K!$ permutations).
//!
//! Case (i), all $N_k \ge r$:
//! - `recovers_all` (noise-free): the solver's matched error is within R06's exact-recovery
//!   allowance (see R08's `equals_truth`).
//! - `noisy_optimal` (noise $\sigma \in [10^{-12}, 10^{-2}]$ per entry): the solver's objective
//!   $\sum_i\max_k\|\hat U_k^\top x_i\|^2$ is at least that of the true partition's PCAs,
//!   $\sum_k\sum_{j\le r}\sigma_j(\tilde X_k)^2$ (a feasible value, so a solver below it did not
//!   optimize). Tolerance $(8\gamma_{d+r} + 10^{-24})\|\tilde X\|_F^2$.
//! - `per_component_bound` (same noisy data, whenever the solver's assignment is the true
//!   partition): each solver basis is then the PCA of its cluster, and
//!   $\|\hat U_k\hat U_k^\top - U_kU_k^\top\|_F \le \sqrt2\min(\|E_k\|_F, \sqrt r\|E_k\|_2)/\sigma_r(\tilde X_k)$
//!   for every $k$ — the deterministic sin-Θ bound of `proofs/R09-sample-complexity.md` (i)
//!   (reported as the largest ratio error / (bound + allowance); the allowance adds the rounding
//!   of $E$, the orthonormality defects and $\sqrt2\cdot10^{-12}$, the accuracy the solver must
//!   reach for each cluster's PCA, see [`Subject::k_subspaces`]).
//!
//! Case (ii), some $N_k < r$ (noise-free):
//! - `deficient_optimal`: the solver reaches the optimum $J = \frac1N\|X\|_F^2$ that the proof's
//!   construction attains (relative gap $\sum_i\min_k\|(I-\hat P_k)x_i\|^2/\|X\|_F^2$ within the
//!   SVDs' backward errors); and a solver basis that contains $\operatorname{span}X_1$ (when one does:
//!   an unconstrained optimum may split $X_1$, any $\le r$ points fit one basis) is within
//!   $\sqrt{2\min\{r-N_1, d-r\}}$ of $U_1$ (the proof's upper bound: at most $\min\{r-N_1, d-r\}$ of its
//!   directions leave $\operatorname{span}U_1$).
//! - `optimal_with_error`: the solution built in `proofs/R09-sample-complexity.md`
//!   ($\hat U_l$ = the PCA of $X_l$ for complete components; for a deficient
//!   one $\hat U_k = [Q_{X_k}, W_k, Z_k]$ with $W_k$ from the common orthogonal complement of all
//!   $U_l$ and $Z_k$ from $U_k\ominus\operatorname{span}X_k$) is optimal (relative gap within the SVDs'
//!   backward errors), feasible (mutually orthogonal within the same allowance) and its
//!   distances, measured by [`Subject::subspace_distance`], equal the theorem's values computed
//!   from $(d, r, K, N_k)$ alone: $\sqrt{2w_k}$ with $w_k = \min\{r - N_k, d - Kr - \sum_{l<k}w_l\}$ for
//!   deficient $k$ (for the first, $\min\{r - N_k, d - Kr\}$), $0$ for complete ones.
//!   Allowances as R07's `adversarial_error_exact`.

use faer::{Mat, MatRef};
use rand::RngExt;

use super::instance::log_uniform;
use super::r08::{
    best_permutation, cluster_allowance, clustered_data, cross_coherence, labels_of, projection_sq,
    residual_sq, residual_sum,
};
use super::{CaseResult, Measurement, Reference, Theorem};
use crate::error::Result;
use crate::linalg::{frobenius_norm, orthonormality_deviation};
use crate::prec::gamma;
use crate::reduction::pca::Pca;
use crate::reduction::subspace::residual_matrix;
use crate::reduction::{KSubspaces, residual_energy};
use crate::reduction::{product_rounding, recovery_bound, svd_backward_error};
use crate::rng::{SeededRng, seeded};

/// The computations R09's check exercises, as the implementation under test.
///
/// The default methods call this crate ([`Reference`]); a planted defect or a user's own
/// implementation overrides them. The check's oracles (the true subspaces, the matching,
/// the assignment and objective of a set of bases, the singular values of the clusters, the
/// proof's construction for $N_k < r$) stay in the check.
pub trait Subject: Sync {
    /// Subspace clustering of `x` ($d\times N$, columns are samples): $K$ bases
    /// $\hat U_1..\hat U_K \in \mathbb R^{d\times r}$ with orthonormal columns maximizing
    /// $J(U) = \frac1N\sum_i\max_k\|U_k^\top x_i\|^2$ (the crate's [`KSubspaces`] with its
    /// defaults). At a solution whose clusters have at least $r$ points each basis must be the
    /// PCA of its cluster to within $\|\sin\Theta\|_F \le 10^{-12}$ (the accuracy of the crate's
    /// truncated cluster PCA); `rng` is the only source of randomness.
    ///
    /// # Errors
    /// Any error counts as a failure of the check.
    fn k_subspaces(
        &self,
        x: MatRef<'_, f64>,
        k: usize,
        r: usize,
        rng: &mut SeededRng,
    ) -> Result<Vec<Mat<f64>>> {
        Ok(KSubspaces::new(k, r).solve(x, rng)?.bases)
    }

    /// The subspace distance $\|UU^\top - VV^\top\|_F$ of two orthonormal bases
    /// ([`crate::reduction::subspace_distance`]).
    ///
    /// # Errors
    /// Any error counts as a failure of the check.
    fn subspace_distance(&self, u: MatRef<'_, f64>, v: MatRef<'_, f64>) -> Result<f64> {
        crate::reduction::subspace_distance(u, v)
    }
}

impl Subject for Reference {}

/// One R09 instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// Ambient dimension.
    pub d: usize,
    /// Common rank ($\ge 2$).
    pub r: usize,
    /// Samples per component (case (i) raises each to $r$; case (ii) lowers the first to $r - 1$).
    pub n_per: Vec<usize>,
    /// Noise standard deviation per entry for the noisy case (i) facet.
    pub noise: f64,
    /// Seed.
    pub seed: u64,
}

/// The errors of the proof's construction for $N_k < r$ computed from $(d, r, K, N_k)$ alone:
/// $\sqrt{2w_k}$ with $w_k = \min\{r - N_k, d - Kr - \sum_{l<k,\,N_l<r}w_l\}$ for deficient $k$, $0$ for
/// complete ones.
pub fn construction_errors(d: usize, r: usize, n_per: &[usize]) -> Vec<f64> {
    let mut left = d - n_per.len() * r;
    n_per
        .iter()
        .map(|&nk| {
            if nk >= r {
                0.0
            } else {
                let w = (r - nk).min(left);
                left -= w;
                (2.0 * w as f64).sqrt()
            }
        })
        .collect()
}

/// Distances `dist[k][l]` $= \|\hat U_l\hat U_l^\top - U_kU_k^\top\|_F$ (true $k$, estimate $l$) by the subject.
fn distance_table(
    s: &dyn Subject,
    est: &[MatRef<'_, f64>],
    refs: &[MatRef<'_, f64>],
) -> Result<Vec<Vec<f64>>> {
    refs.iter()
        .map(|t| est.iter().map(|e| s.subspace_distance(*e, *t)).collect())
        .collect()
}

impl Instance {
    /// A random instance (see the module docs).
    pub fn sample(rng: &mut SeededRng) -> Self {
        let k = rng.random_range(2..=4usize);
        let r = rng.random_range(2..=(40 / k).min(8));
        let d = rng.random_range(k * r..=40);
        let n_per: Vec<usize> = (0..k)
            .map(|_| (r as i64 + rng.random_range(-3..=2i64)).max(1) as usize)
            .collect();
        Self {
            d,
            r,
            noise: log_uniform(rng, -12.0, -2.0),
            n_per,
            seed: rng.random(),
        }
    }

    /// Runs the facets on this crate's implementation.
    ///
    /// # Errors
    /// Construction or evaluation errors (which count as failures).
    pub fn check(&self) -> Result<Vec<Measurement>> {
        self.check_with(&Reference)
    }

    /// Runs the facets on the implementation `s`.
    ///
    /// # Errors
    /// Construction or evaluation errors, including the subject's (which count as failures).
    pub fn check_with(&self, s: &dyn Subject) -> Result<Vec<Measurement>> {
        let (d, r, k) = (self.d, self.r, self.n_per.len());
        let mut out = Vec::new();
        let mut g = seeded(self.seed ^ 0x0009);
        // Case (i): every N_k raised to at least r.
        let complete: Vec<usize> = self.n_per.iter().map(|&v| v.max(r)).collect();
        let starts = offsets(&complete);
        let (bases, coeffs, x) = clustered_data(d, r, &complete, 0.0, self.seed)?;
        let refs: Vec<_> = bases.iter().map(|b| b.as_ref()).collect();
        let delta_truth = refs
            .iter()
            .map(|u| orthonormality_deviation(*u))
            .fold(0.0, f64::max);
        let sol = s.k_subspaces(x.as_ref(), k, r, &mut g)?;
        let est: Vec<_> = sol.iter().map(|b| b.as_ref()).collect();
        let dist = distance_table(s, &est, &refs)?;
        let perm = best_permutation(&dist);
        let max_distance = (0..k).map(|c| dist[c][perm[c]]).fold(0.0, f64::max);
        let delta = est
            .iter()
            .map(|u| orthonormality_deviation(*u))
            .fold(delta_truth, f64::max);
        let mut allowance = 0.0f64;
        for (c, a_k) in coeffs.iter().enumerate() {
            let xk = x.as_ref().subcols(starts[c], complete[c]);
            allowance = allowance.max(cluster_allowance(a_k, xk)?);
        }
        out.push(Measurement::new(
            "recovers_all",
            max_distance,
            allowance + 8.0 * delta,
        ));

        // Case (i) with noise, solved by the subject: at least the true partition's
        // objective, and, on the true partition, the per-component sin-Θ bound.
        let (_, _, xn) = clustered_data(d, r, &complete, self.noise, self.seed)?;
        out.extend(self.noisy_side(s, &complete, &starts, &bases, &coeffs, &xn, delta_truth)?);

        // Case (ii): the first component (at least) has fewer than r samples.
        let mut deficient = self.n_per.clone();
        deficient[0] = deficient[0].min(r - 1);
        let starts = offsets(&deficient);
        let (bases, _, x) = clustered_data(d, r, &deficient, 0.0, self.seed)?;
        let refs: Vec<_> = bases.iter().map(|b| b.as_ref()).collect();
        out.extend(self.failure_side(s, &deficient, &refs, &x, &starts, delta_truth, &mut g)?);
        out.extend(self.deficient_solver(s, &deficient, &refs, &x, &starts, delta_truth)?);
        Ok(out)
    }

    /// Case (i) with noise: the subject's K-subspaces on $\tilde X = X + E$.
    #[allow(clippy::too_many_arguments)]
    fn noisy_side(
        &self,
        s: &dyn Subject,
        complete: &[usize],
        starts: &[usize],
        bases: &[Mat<f64>],
        coeffs: &[Mat<f64>],
        xn: &Mat<f64>,
        delta_truth: f64,
    ) -> Result<Vec<Measurement>> {
        let (d, r, k) = (self.d, self.r, complete.len());
        let refs: Vec<_> = bases.iter().map(|b| b.as_ref()).collect();
        let mut g = seeded(self.seed ^ 0x0019);
        let sol = s.k_subspaces(xn.as_ref(), k, r, &mut g)?;
        let est: Vec<_> = sol.iter().map(|b| b.as_ref()).collect();
        let n = xn.ncols();
        let xf = frobenius_norm(xn.as_ref());
        // Objective of the subject's bases vs the true partition's PCA optimum.
        let j_solver: f64 = labels_of(&est, xn.as_ref())
            .iter()
            .enumerate()
            .map(|(i, &l)| projection_sq(est[l], xn.as_ref(), i))
            .sum();
        let mut j_truth = 0.0;
        let mut sv = Vec::with_capacity(k);
        for c in 0..k {
            let sc = crate::linalg::singular_values(xn.as_ref().subcols(starts[c], complete[c]))?;
            j_truth += sc.iter().take(r).map(|v| v * v).sum::<f64>();
            sv.push(sc);
        }
        let mut out = vec![Measurement::new(
            "noisy_optimal",
            (j_truth - j_solver).max(0.0),
            (8.0 * gamma(d + r) + 1e-24) * xf * xf,
        )];
        // The bound applies when the subject's assignment is the true partition.
        let dist = distance_table(s, &est, &refs)?;
        let perm = best_permutation(&dist);
        let labels = labels_of(&est, xn.as_ref());
        let truth_label = |i: usize| (0..k).rev().find(|&c| i >= starts[c]).unwrap_or(0);
        if (0..n).all(|i| labels[i] == perm[truth_label(i)]) {
            let delta = est
                .iter()
                .map(|u| orthonormality_deviation(*u))
                .fold(delta_truth, f64::max);
            let mut worst = 0.0f64;
            for c in 0..k {
                let xk = xn.as_ref().subcols(starts[c], complete[c]);
                let clean = &bases[c] * &coeffs[c];
                let e = Mat::from_fn(d, complete[c], |i, j| xk[(i, j)] - clean[(i, j)]);
                let ef = frobenius_norm(e.as_ref());
                let e2 = crate::linalg::singular_values(e.as_ref())?[0];
                let xkf = frobenius_norm(xk);
                // Forming E from X̃ − fl(UA), the rounding of fl(UA) and the SVD.
                let extra = gamma(r + 2) * xkf
                    + product_rounding(r, frobenius_norm(coeffs[c].as_ref()))
                    + svd_backward_error(d, complete[c], xkf);
                let dc = dist[c][perm[c]];
                let round = 4.0 * delta + 8.0 * gamma(d + r) * dc + 2f64.sqrt() * 1e-12;
                let bound = recovery_bound(ef + extra, e2 + extra, r, sv[c][r - 1]);
                worst = worst.max(dc / (bound + round));
            }
            out.push(Measurement::new("per_component_bound", worst, 1.0));
        }
        Ok(out)
    }

    /// Case (ii): the subject's K-subspaces on data with $N_1 < r$.
    fn deficient_solver(
        &self,
        s: &dyn Subject,
        n_per: &[usize],
        refs: &[MatRef<'_, f64>],
        x: &Mat<f64>,
        starts: &[usize],
        delta_truth: f64,
    ) -> Result<Vec<Measurement>> {
        let (d, r, k) = (self.d, self.r, n_per.len());
        let mut g = seeded(self.seed ^ 0x0029);
        let sol = s.k_subspaces(x.as_ref(), k, r, &mut g)?;
        let est: Vec<_> = sol.iter().map(|b| b.as_ref()).collect();
        let delta = est
            .iter()
            .map(|u| orthonormality_deviation(*u))
            .fold(delta_truth, f64::max);
        let xf = frobenius_norm(x.as_ref());
        let gap = residual_sum(&est, x.as_ref());
        let mut allowed = 0.0;
        for c in 0..k {
            let xk = x.as_ref().subcols(starts[c], n_per[c]);
            let f = frobenius_norm(xk);
            let e = svd_backward_error(d, n_per[c], f) + (4.0 * delta + 1e-12) * f;
            allowed += e * e;
        }
        let mut out = vec![Measurement::new(
            "deficient_optimal",
            gap / (xf * xf),
            4.0 * allowed / (xf * xf) + 8.0 * gamma(d * r),
        )];
        // A basis that contains span X_1 ⊂ span U_1 (N_1 directions of U_1) has at most
        // min{r − N_1, d − r} directions outside U_1, so its distance to U_1 is at most
        // √(2 min{r − N_1, d − r}). (An unconstrained optimum need not put X_1 in one basis:
        // any ≤ r points fit one; then nothing is measured.)
        let xk = x.as_ref().subcols(starts[0], n_per[0]);
        let x1f = frobenius_norm(xk);
        let sv = crate::linalg::singular_values(xk)?;
        let within = svd_backward_error(d, n_per[0], x1f) * 4.0 + (4.0 * delta + 1e-12) * x1f;
        let holder = est.iter().find_map(|e| {
            let res: f64 = (0..n_per[0]).map(|j| residual_sq(*e, xk, j)).sum();
            (res.sqrt() <= within).then_some((*e, res.sqrt()))
        });
        if let Some((e, res)) = holder {
            let m = (r - n_per[0]).min(d - r) as f64;
            let dist = s.subspace_distance(e, refs[0])?;
            out.push(Measurement::new(
                "deficient_optimal",
                (dist - (2.0 * m).sqrt()).max(0.0),
                4.0 * (res + within) / sv[n_per[0] - 1]
                    + 8.0 * delta
                    + 8.0 * gamma(d + r) * (2.0 * m).sqrt(),
            ));
        }
        Ok(out)
    }

    /// Case (ii): the constructed optimal solution with the largest error.
    #[allow(clippy::too_many_arguments)]
    fn failure_side(
        &self,
        s: &dyn Subject,
        n_per: &[usize],
        refs: &[MatRef<'_, f64>],
        x: &Mat<f64>,
        starts: &[usize],
        delta_truth: f64,
        g: &mut SeededRng,
    ) -> Result<Vec<Measurement>> {
        let (d, r, k) = (self.d, self.r, n_per.len());
        // Orthonormal basis of the common complement of all U_l.
        let stacked = Mat::from_fn(d, k * r, |i, j| refs[j / r][(i, j % r)]);
        let full = crate::reduction::pca::complete_basis(stacked.as_ref(), d, g)?;
        let far = full.as_ref().subcols(k * r, d - k * r);
        let mut far_used = 0;
        let mut est: Vec<Mat<f64>> = Vec::with_capacity(k);
        let mut slack_sq: Vec<Option<f64>> = Vec::with_capacity(k);
        for c in 0..k {
            let nk = n_per[c];
            let xk = x.as_ref().subcols(starts[c], nk);
            let pca = Pca::fit(xk, r)?;
            if nk >= r {
                est.push(pca.basis().to_owned());
                slack_sq.push(None);
                continue;
            }
            let q = pca.basis(); // d × N_k, spans X_k
            let need = r - nk;
            let w = need.min(d - k * r - far_used);
            // Directions of U_k outside span X_k: the leading r − N_k left singular
            // vectors of (I − QQᵀ)U_k (its other singular values are at rounding level).
            let inner = residual_matrix(q, refs[c])
                .thin_svd()
                .map_err(|_| crate::Error::NoConvergence { what: "thin SVD" })?
                .U()
                .subcols(0, need)
                .to_owned();
            let mut u = Mat::<f64>::zeros(d, r);
            u.as_mut().subcols_mut(0, nk).copy_from(q);
            u.as_mut()
                .subcols_mut(nk, w)
                .copy_from(far.subcols(far_used, w));
            u.as_mut()
                .subcols_mut(nk + w, need - w)
                .copy_from(inner.as_ref().subcols(0, need - w));
            far_used += w;
            let sv = pca.singular_values();
            let xf = frobenius_norm(xk);
            let sigma = sv[nk.min(sv.len()) - 1];
            slack_sq.push(Some((svd_backward_error(d, nk, xf) / sigma).powi(2)));
            est.push(u);
        }
        let mut out = Vec::new();
        let est_refs: Vec<_> = est.iter().map(|b| b.as_ref()).collect();
        let delta = est_refs
            .iter()
            .map(|u| orthonormality_deviation(*u))
            .fold(delta_truth, f64::max);
        // Optimality: relative gap within the SVDs' backward errors.
        let xf = frobenius_norm(x.as_ref());
        let gap = residual_energy(&est_refs, x.as_ref())?;
        let mut allowed = 0.0;
        for c in 0..k {
            let xk = x.as_ref().subcols(starts[c], n_per[c]);
            let f = frobenius_norm(xk);
            let e = svd_backward_error(d, n_per[c], f) + 4.0 * delta * f;
            allowed += e * e;
        }
        out.push(Measurement::new(
            "optimal_with_error",
            gap / (xf * xf),
            4.0 * allowed / (xf * xf) + 8.0 * gamma(d * r),
        ));
        // Feasibility: mutually orthogonal.
        let coh = cross_coherence(&est_refs)?;
        // Data directions are within the SVD allowance of U_l; far directions are exact.
        let mut allowance = 0.0f64;
        for c in 0..k {
            let xk = x.as_ref().subcols(starts[c], n_per[c]);
            let sv = crate::linalg::singular_values(xk)?;
            let m = n_per[c].min(r);
            let e = svd_backward_error(d, n_per[c], frobenius_norm(xk));
            allowance = allowance.max(e / sv[m - 1]);
        }
        out.push(Measurement::new(
            "optimal_with_error",
            coh,
            4.0 * allowance + 8.0 * delta,
        ));
        // Exact errors, against the theorem's values from (d, r, K, N_k) alone.
        let targets = construction_errors(d, r, n_per);
        for (c, slack) in slack_sq.iter().enumerate() {
            let dist = s.subspace_distance(est_refs[c], refs[c])?;
            let target = targets[c];
            match slack {
                Some(a) => {
                    let m = target * target / 2.0;
                    let slack = if m > 0.5 {
                        core::f64::consts::SQRT_2 * a / m.sqrt()
                    } else {
                        (2.0 * a).sqrt()
                    };
                    out.push(Measurement::new(
                        "optimal_with_error",
                        (dist - target).abs(),
                        slack + 8.0 * delta + 8.0 * gamma(d + r) * target,
                    ));
                }
                None => out.push(Measurement::new(
                    "optimal_with_error",
                    (dist - target).abs(),
                    4.0 * allowance + 8.0 * delta,
                )),
            }
        }
        Ok(out)
    }
}

fn offsets(n_per: &[usize]) -> Vec<usize> {
    n_per
        .iter()
        .scan(0, |s, &v| {
            let o = *s;
            *s += v;
            Some(o)
        })
        .collect()
}

/// Draws one instance from `rng` and checks the implementation `s`.
pub fn run_case_with(rng: &mut SeededRng, s: &dyn Subject) -> CaseResult {
    CaseResult::of(Instance::sample(rng), |i| i.check_with(s))
}

/// Registry entry.
pub fn run_case(rng: &mut SeededRng) -> CaseResult {
    run_case_with(rng, &Reference)
}

/// R09's entry in the [registry](super::registry): the only place its title is written.
pub const THEOREM: Theorem = Theorem {
    id: "R09",
    title: "Sample complexity: N_k >= r recovers, N_k < r fails",
    proof: "proofs/R09-sample-complexity.md",
    run_case,
};
