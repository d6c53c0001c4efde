//! R06–R07: explicit-constant bounds for Theorem 2 (recovery for $N \ge r$, failure for
//! $N < r$) and Theorem 4 (R09), the small-ball rate, and the rounding allowances of the checks.
//!
//! All bounds are proven in `proofs/R06-pca-recovery.md` and
//! `proofs/R07-pca-failure.md`; the statements are repeated on each function.

#![allow(non_snake_case)]

use faer::{Mat, MatRef};
use statrs::distribution::{ChiSquared, ContinuousCDF};

use super::pca::check_data;
use crate::error::{Error, Result, ensure_dim};
use crate::linalg::check_orthonormal;
use crate::prec::{EPS, gamma};

/// Recovery side (R06): for $\tilde X = U_gA + E$ with $U_g^\top U_g = I_r$ and
/// $\sigma_r(\tilde X) > 0$, **every** optimal PCA basis $\hat U$ satisfies
/// $$\|\hat U\hat U^\top - U_gU_g^\top\|_F \le \frac{\sqrt2\,\min(\|E\|_F, \sqrt r\,\|E\|_2)}{\sigma_r(\tilde X)} .$$
/// Returns $+\infty$ if `sigma_r` $\le 0$.
///
/// # Examples
/// ```
/// use diffusion_lowdim::reduction::recovery_bound;
/// assert!((recovery_bound(0.3, 0.1, 4, 2.0) - 2f64.sqrt() * 0.2 / 2.0).abs() < 1e-15);
/// ```
pub fn recovery_bound(e_fro: f64, e_op: f64, r: usize, sigma_r: f64) -> f64 {
    if sigma_r.is_nan() || sigma_r <= 0.0 {
        return f64::INFINITY;
    }
    core::f64::consts::SQRT_2 * e_fro.min((r as f64).sqrt() * e_op) / sigma_r
}

/// The a-priori form of [`recovery_bound`]: by Weyl, $\sigma_r(\tilde X) \ge \sigma_r(A) - \|E\|_2$, so
/// $$\|\hat U\hat U^\top - U_gU_g^\top\|_F \le \frac{\sqrt2\,\min(\|E\|_F, \sqrt r\|E\|_2)}{\sigma_r(A) - \|E\|_2}$$
/// whenever $\|E\|_2 < \sigma_r(A)$ (else $+\infty$).
///
/// # Relation to Theorem 2(i) of arXiv:2409.02426
/// For Gaussian $A$ ($N \ge r$), on the small-ball event $\sigma_r(A) \ge \epsilon(\sqrt N - \sqrt{r-1})$, of
/// probability $\ge 1 - r(er\epsilon^2)^{(N-r+1)/2}$ ([`small_ball_bound`]), this gives what is proven:
/// $$\|\hat U\hat U^\top - U_gU_g^\top\|_F \le \frac{\sqrt2\,\min(\|E\|_F, \sqrt r\|E\|_2)}{\epsilon(\sqrt N - \sqrt{r-1}) - \|E\|_2}
///   \quad\text{if } \|E\|_2 < \epsilon(\sqrt N - \sqrt{r-1}).$$
/// The paper's form $c_1\|E\|_F/(\sqrt N - \sqrt{r-1})$ with probability $1 - 2^{-(N-r+1)}$ needs
/// $\epsilon \lesssim (4er)^{-1/2}$ and the extra assumption $\|E\|_2 \le \theta\,\epsilon(\sqrt N - \sqrt{r-1})$, $\theta < 1$:
/// at $\epsilon = (4er)^{-1/2}$ it holds with probability $\ge 1 - r\,2^{-(N-r+1)}$ and
/// $c_1 = 2\sqrt{2er}/(1-\theta)$ (exactly $1 - 2^{-(N-r+1)}$ at $\epsilon = (4er)^{-1/2}r^{-1/(N-r+1)}$, with $c_1$
/// multiplied by $r^{1/(N-r+1)}$). So $c_1$ grows like $\sqrt r$; it is not $\sqrt2$.
pub fn recovery_bound_a_priori(e_fro: f64, e_op: f64, r: usize, sigma_r_a: f64) -> f64 {
    recovery_bound(e_fro, e_op, r, sigma_r_a - e_op)
}

/// Failure side (R07): for $\tilde X = U_gA + E$ of rank $k < r$ with $\sigma_k(\tilde X) > 0$, the
/// optimal basis $\hat U = [Q_{\tilde X}, W]$ built by [`adversarial_optimal_basis`] satisfies
/// $$\|\hat U\hat U^\top - U_gU_g^\top\|_F \ge \sqrt2\,\Big(m - \frac{\min(\|E\|_F^2, m\|E\|_2^2)}{\sigma_k(\tilde X)^2}\Big)_+^{1/2}
///  \ge \sqrt{2m} - \frac{\sqrt2\min(\|E\|_F, \sqrt m\|E\|_2)}{\sigma_k(\tilde X)},\qquad m = \min\{r-k, d-r\}.$$
///
/// # Relation to Theorem 2(ii) of arXiv:2409.02426
/// For Gaussian $A$ ($N < r$, $k = N$), $\sigma_N(\tilde X) \ge \sigma_N(A) - \|E\|_2$ (Weyl) and the small-ball bound applied
/// to $A^\top$ gives $\sigma_N(A) \ge \epsilon(\sqrt r - \sqrt{N-1})$ with probability $\ge 1 - N(eN\epsilon^2)^{(r-N+1)/2}$. The
/// paper's form $\sqrt{2m} - c_1'\|E\|_F/(\sqrt r - \sqrt{N-1})$ with probability $1 - 2^{-(r-N+1)}$ needs
/// $\epsilon \lesssim (4eN)^{-1/2}$ and $\|E\|_2 \le \theta\,\epsilon(\sqrt r - \sqrt{N-1})$: at $\epsilon = (4eN)^{-1/2}$ it holds with
/// probability $\ge 1 - N\,2^{-(r-N+1)}$ and $c_1' = 2\sqrt{2eN}/(1-\theta)$.
pub fn failure_lower_bound(e_fro: f64, e_op: f64, m: usize, sigma_k: f64) -> f64 {
    if m == 0 {
        return 0.0;
    }
    if sigma_k.is_nan() || sigma_k <= 0.0 {
        return 0.0;
    }
    let mf = m as f64;
    let loss = (e_fro * e_fro).min(mf * e_op * e_op) / (sigma_k * sigma_k);
    core::f64::consts::SQRT_2 * (mf - loss).max(0.0).sqrt()
}

/// The explicit small-ball bound for a Gaussian matrix proven in `proofs/R06-pca-recovery.md`:
/// for $A \in \mathbb R^{r\times N}$ with i.i.d. $\mathcal N(0,1)$ entries, $N \ge r$, $\epsilon > 0$,
/// $$\mathbb P\big(\sigma_r(A) < \epsilon(\sqrt N - \sqrt{r-1})\big) \le
///   \min\Big\{1,\ r\,F_{\chi^2_{N-r+1}}\big(r\epsilon^2(\sqrt N - \sqrt{r-1})^2\big)\Big\}
///   \le r\,(e\,r\,\epsilon^2)^{(N-r+1)/2} ,$$
/// the shape $(C\epsilon)^{N-r+1}$ of Rudelson–Vershynin (2009) with $C = \sqrt{e r}$ and prefactor $r$.
/// It is at most $r\,2^{-(N-r+1)}$ iff $\epsilon \le (4er)^{-1/2}$ (the paper's rate $2^{-(N-r+1)}$ up to the
/// factor $r$). A lower bound on the same probability is $F_{\chi^2_{N-r+1}}\big(\epsilon^2(\sqrt N - \sqrt{r-1})^2\big)$
/// ($\sigma_r(A) \le \operatorname{dist}(a_j, H_j)$; `proofs/R06-pca-recovery.md`).
///
/// # Errors
/// [`Error::InvalidCount`] unless $1 \le r \le N$; [`Error::InvalidParameter`] unless $\epsilon \ge 0$ is finite.
///
/// Above [`SMALL_BALL_EXACT_MAX_DOF`] degrees of freedom the explicit second bound is
/// returned (bounded time for any $N$).
pub fn small_ball_bound(n: usize, r: usize, epsilon: f64) -> Result<f64> {
    if r == 0 || r > n {
        return Err(Error::InvalidCount {
            name: "rank r",
            value: r,
            requirement: "1 ≤ r ≤ N",
        });
    }
    if !(epsilon.is_finite() && epsilon >= 0.0) {
        return Err(Error::InvalidParameter {
            name: "epsilon",
            value: epsilon,
            requirement: "finite and ≥ 0",
        });
    }
    let k = (n - r + 1) as f64;
    let s = small_ball_scale(n, r);
    let x = r as f64 * epsilon * epsilon * s * s;
    if k > SMALL_BALL_EXACT_MAX_DOF {
        // statrs' incomplete gamma series needs ~√k terms near its mode: the explicit
        // bound r (e r ε²)^{k/2} instead (in logs; it dominates r·F_{χ²_k}, see above).
        let log_bound = (r as f64).ln() + 0.5 * k * (1.0 + (r as f64).ln() + 2.0 * epsilon.ln());
        return Ok(if log_bound.is_nan() {
            0.0
        } else {
            log_bound.exp().min(1.0)
        });
    }
    if x > 0.0 && x < f64::MIN_POSITIVE {
        // statrs' incomplete gamma refuses a subnormal argument: the series' first term
        // F(x) = (x/2)^{k/2}/Γ(k/2 + 1) · (1 + O(x)), exact to f64 here.
        let half = 0.5 * k;
        let log_f = half * (0.5 * x).ln() - statrs::function::gamma::ln_gamma(half + 1.0);
        return Ok((r as f64 * log_f.exp()).min(1.0));
    }
    let chi = ChiSquared::new(k).map_err(|_| Error::InvalidParameter {
        name: "degrees of freedom",
        value: k,
        requirement: "> 0",
    })?;
    Ok((r as f64 * chi.cdf(x)).min(1.0))
}

/// Degrees of freedom $N - r + 1$ above which [`small_ball_bound`] returns its explicit
/// form $\min\{1, r(e r\epsilon^2)^{(N-r+1)/2}\}$ (still an upper bound on the probability)
/// instead of $r F_{\chi^2}$, whose evaluation by statrs takes $\sim\sqrt{N}$ steps.
pub const SMALL_BALL_EXACT_MAX_DOF: f64 = 1e7;

/// $\sqrt N - \sqrt{r-1} = (N - r + 1)/(\sqrt N + \sqrt{r-1})$, evaluated without cancellation.
pub fn small_ball_scale(n: usize, r: usize) -> f64 {
    let k = n as f64 - (r as f64 - 1.0);
    k / ((n as f64).sqrt() + (r as f64 - 1.0).max(0.0).sqrt())
}

/// The optimal PCA basis of the failure side with the largest error (R07).
///
/// # Definition
/// For data $X$ of numerical rank $k < r$ and a true basis $U_g$: $Q$ = an orthonormal
/// basis of $\operatorname{span}X$, $B$ = one of $(\operatorname{span}X)^\perp$, and $W = BY$ where the
/// columns of $Y$ are the left singular vectors of $G = B^\top U_g$ with the $r - k$
/// **smallest** singular values (including those of its left null space). Then
/// $\hat U = [Q, W]$ is optimal ($\|\hat U^\top X\|_F = \|X\|_F$) and maximizes
/// $\|(I - U_gU_g^\top)\hat U\|_F$ among all optimal bases; noise-free its error is exactly
/// $\sqrt{2\min\{r-k, d-r\}}$. Returns `(Û, k, σ_k(X))`.
///
/// # Errors
/// [`Error::InvalidCount`] unless $k < r \le d$; data and basis validation errors;
/// [`Error::NoConvergence`] if an SVD fails.
pub fn adversarial_optimal_basis(
    x: MatRef<'_, f64>,
    u_g: MatRef<'_, f64>,
) -> Result<(Mat<f64>, usize, f64)> {
    check_data(x)?;
    check_orthonormal("true basis U_g", 0, u_g)?;
    ensure_dim("rows of U_g vs rows of X", x.nrows(), u_g.nrows())?;
    let (d, r) = (x.nrows(), u_g.ncols());
    let svd = x.svd().map_err(|_| Error::NoConvergence { what: "SVD" })?;
    let m = d.min(x.ncols());
    let s0 = if m > 0 { svd.S()[0] } else { 0.0 };
    let tol = (d.max(x.ncols()) as f64) * EPS * s0;
    let k = (0..m).take_while(|&j| svd.S()[j] > tol).count();
    if k >= r {
        return Err(Error::InvalidCount {
            name: "numerical rank of X",
            value: k,
            requirement: "less than r (the failure side needs fewer data directions than the rank)",
        });
    }
    let sigma_k = if k > 0 { svd.S()[k - 1] } else { 0.0 };
    let q = svd.U().subcols(0, k);
    let b = svd.U().subcols(k, d - k);
    let g = crate::linalg::mul(b.transpose(), u_g);
    let gs = g.svd().map_err(|_| Error::NoConvergence { what: "SVD" })?;
    // Left singular vectors of G ordered by ascending singular value: the columns
    // beyond min(d−k, r) (singular value 0) first, then min(d−k, r)−1 down to 0.
    let rows = d - k;
    let nsv = rows.min(r);
    let mut order: Vec<usize> = (nsv..rows).collect();
    order.extend((0..nsv).rev());
    let need = r - k;
    let mut out = Mat::<f64>::zeros(d, r);
    out.as_mut().subcols_mut(0, k).copy_from(q);
    for (c, &j) in order.iter().take(need).enumerate() {
        let w = crate::linalg::mul(b, gs.U().subcols(j, 1));
        for i in 0..d {
            out[(i, k + c)] = w[(i, 0)];
        }
    }
    Ok((out, k, sigma_k))
}

/// $\|\mathrm{fl}(UA) - UA\|_F \le \gamma_r\sqrt r\,\|A\|_F$ for $U$ with orthonormal columns
/// ($|{\rm fl}(UA) - UA| \le \gamma_r|U||A|$ entrywise, any summation order; Higham 2002, §3.5).
pub fn product_rounding(r: usize, a_fro: f64) -> f64 {
    gamma(r) * (r as f64).sqrt() * a_fro
}

/// Backward error allowance of a dense SVD of an `m × n` matrix:
/// $\|\Delta X\|_F \le \gamma_{8mn}\|X\|_F$ (Householder bidiagonalization, Higham 2002
/// Thm 19.4 with Lemma 19.3, followed by a backward-stable bidiagonal SVD; the
/// constant 8 covers both stages and the accumulation of the singular vectors).
pub fn svd_backward_error(m: usize, n: usize, x_fro: f64) -> f64 {
    gamma(8 * m.max(1) * n.max(1)) * x_fro
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::clopper_pearson;

    #[test]
    fn small_ball_scale_is_cancellation_free() {
        let s = small_ball_scale(10, 3);
        assert!((s - (10f64.sqrt() - 2f64.sqrt())).abs() < 1e-15);
        assert!(small_ball_bound(5, 6, 0.1).is_err());
        assert!(small_ball_bound(5, 2, -1.0).is_err());
        let b = small_ball_bound(20, 2, 1e-3).unwrap();
        assert!((0.0..1e-40).contains(&b));
    }

    #[test]
    fn clopper_pearson_full_successes() {
        let (lo, hi) = clopper_pearson(10, 10, 0.95).unwrap();
        assert!((hi - 1.0).abs() <= 0.0);
        assert!((lo - 0.025f64.powf(0.1)).abs() < 1e-9);
        assert!(clopper_pearson(3, 2, 0.9).is_err());
        assert!(clopper_pearson(1, 2, 1.0).is_err());
    }
}
