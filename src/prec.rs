//! One home for tolerances (as statrs' `prec`).
//!
//! Every tolerance the crate uses to *validate input* or to *judge a theorem
//! check* is defined here, with the reason for its size. Tolerances scale with
//! the unit roundoff [`EPS`] and the problem size or a condition number; none is
//! tuned to make a check pass.

/// Unit roundoff of f64 ($2^{-52}$, the spacing of floats at 1).
pub const EPS: f64 = f64::EPSILON;

/// Orthonormality tolerance for user-supplied bases: `max |UᵀU − I| ≤ 1e-10`.
///
/// A basis orthonormalized by a backward-stable QR in f64 is orthonormal to a
/// few `n·ε` (about 1e-13 for `d = 4096`), far inside this. A basis that misses
/// it was most likely built in f32 or by hand; the formulas of R02–R04 assume
/// exact orthonormality and would be wrong at the level of the deviation, so it
/// is refused with an error saying to orthonormalize first.
///
/// Effect of an accepted deviation $\delta \le$ `ORTHONORMALITY_TOL`: the model the
/// crate evaluates is the one defined by the printed formulas in terms of the
/// given $U$ (e.g. $U U^\top$ as the "projector"), which differ from the
/// orthonormalized basis' model by $O(r\delta)$ relative in the posterior mean and by
/// $O(r\delta\|y\|/\beta^2)$ in the score (where the dense-covariance formula and the
/// projector formula part ways). One exception: a *square* basis ($r = d$) is
/// taken to span $\mathbb R^d$ exactly, so $I - UU^\top$ is set to zero rather than
/// evaluated at rounding level (Gaussian from a full covariance, MoLRG components
/// with $r_k = d$).
pub const ORTHONORMALITY_TOL: f64 = 1e-10;

/// Mixture weights must sum to one within this (absolute): `|Σπ − 1| ≤ 1e-12`.
///
/// Weights read from a text file with 15+ significant digits, or normalized in
/// f64, meet it for any K below 10⁴.
pub const WEIGHT_SUM_TOL: f64 = 1e-12;

/// Symmetry tolerance for a full covariance, relative to its max-abs entry.
pub const SYMMETRY_TOL: f64 = 1e-12;

/// Allowance for negative eigenvalues of a PSD covariance, relative to its
/// largest eigenvalue, scaled by the dimension: `d · 8ε`.
///
/// A symmetric eigensolver is backward stable: computed eigenvalues are exact
/// for a matrix within `c·d·ε·‖Σ‖₂` of the input, so a PSD input can show
/// eigenvalues down to about `−c·d·ε·λ_max`. Those are set to zero; anything
/// more negative is an error.
pub fn psd_eigenvalue_allowance(d: usize, lambda_max: f64) -> f64 {
    8.0 * EPS * (d.max(1) as f64) * lambda_max.abs()
}

/// Higham's $\gamma_n = nu/(1-nu)$ with the unit roundoff $u = 2^{-53}$: for any
/// order of evaluation, with or without FMA, a computed dot product of length
/// $n$ satisfies $|\mathrm{fl}(x^\top y) - x^\top y| \le \gamma_n|x|^\top|y|$
/// (Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed., eq. (3.5)).
/// Used where a rigorous bound decides how much work to do; [`gamma`] is the
/// conservative variant used for tolerances.
pub fn gamma_unit(n: usize) -> f64 {
    let nu = (n.max(1) as f64) * (EPS / 2.0);
    nu / (1.0 - nu)
}

/// Relative accuracy of a well-conditioned sum / dot product of length `n`
/// evaluated in f64 with any summation order: the classical bound $\gamma_n =
/// n\varepsilon/(1-n\varepsilon)$, doubled for safety against FMA-free paths.
pub fn gamma(n: usize) -> f64 {
    let ne = (n.max(1) as f64) * EPS;
    2.0 * ne / (1.0 - ne)
}

/// The batch posterior mean of [`Empirical`](crate::Empirical) forms squared
/// distances (less the common `‖x‖²`) by a GEMM, `α²‖x^{(i)}‖² − 2α⟨x, x^{(i)}⟩`, fast but off by up to
/// $\gamma_{d+4}\,\alpha\max\|x^{(i)}\|(2\|x\| + \alpha\max\|x^{(i)}\|)$, and recomputes the heaviest
/// points' gaps exactly until the error the remaining GEMM logits can cause is at most
/// `EMPIRICAL_BATCH_TOL · max_i ‖x^{(i)} − x̂0‖` (twice this, with the normalizer), or
/// until `MAX_EXACT` points have been recomputed (the remaining bound is then reported).
pub const EMPIRICAL_BATCH_TOL: f64 = 1e-14;

/// The batch posterior mean of [`Molrg`](crate::Molrg) forms its logits from
/// GEMM projections in f64 and recomputes them in double length for every column
/// whose weights the rounding can move by more than this (a rigorous bound on
/// $\sum_k|\delta w_k|$). Its error is then at most
/// `2 · MOLRG_REFINE_TOL · max_k ‖m_k − x̂0‖` on top of the rounding of the
/// GEMMs, where $m_k$ are the component means.
pub const MOLRG_REFINE_TOL: f64 = 5e-14;
