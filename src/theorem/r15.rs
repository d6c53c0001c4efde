//! R15: the best affine denoiser of a training set is the Gaussian denoiser with the
//! set's mean and $(1/N)$ covariance (Li–Dai–Qu, Theorem 1), and the comparison metrics.
//!
//! Every instance draws a training set of $N$ points in dimension $d \le 8$ — from a
//! Gaussian with random scales and mean, from a MoLRG, or with $N \le d$ (singular
//! covariance) — and a noise level $(\alpha, \beta)$, extreme half of the time
//! ($\beta \in [10^{-4}, 10^2]$, $\alpha \in [10^{-3}, 1]$).
//!
//! **What is under test** is the [`Subject`]: the best affine denoiser, the RMSE metric and
//! the linearity score. Facets:
//! - `normal_equations`: $[W\ b]$ of [`optimal_affine`] satisfies the expected normal
//!   equations $[W\ b]\,\mathbb E[\tilde x\tilde x^\top] = \mathbb E[x_0\tilde x^\top]$ built from the raw data
//!   ([`NormalEquations`]). $W$ is exact for the covariance $\hat\Sigma$ the thin SVD
//!   represents, $\|\hat\Sigma - \Sigma\|_F \le 8\gamma_{dN}\|X\|_F^2/N$ (backward stability), and the
//!   residual is linear in that perturbation: tolerance
//!   $8\gamma_{dN+d}\big((\alpha^2\|W\|_F + \alpha)\|S\|_F + \|W\|_F\beta^2\sqrt d + \alpha\|b\|\|m\| + \|m\|\big)$ with
//!   $S$ the raw second moment; relative to the size of the equations' terms.
//! - `dense_formula`: $W$ against $\alpha\Sigma(\alpha^2\Sigma + \beta^2I)^{-1}$ with $\Sigma$ formed densely
//!   from the centred data and the solve done by a Cholesky factorization in double-double
//!   ([`reference`](crate::reference)-style, independent of the SVD path); tolerance
//!   $8\gamma_{dN}\kappa\|\Sigma\|_F\alpha/\beta^2$ with $\kappa = (\alpha^2\lambda_{\max} + \beta^2)/\beta^2$.
//! - `least_squares` (moderate levels, $N \ge d + 2$ points of a full-rank Gaussian): an
//!   ordinary least-squares fit on $n = 3000$ sampled pairs $(x_t, x_0)$ with HC0 standard
//!   errors; every coefficient's $z$-score $|\hat\theta - \theta|/\widehat{\mathrm{se}}$ is at most 6. Under
//!   asymptotic normality each exceeds 6 with probability $2\bar\Phi(6) = 1.97\cdot10^{-9}$, so by
//!   the union bound over $d(d+1) \le 72$ coefficients the false-failure rate is
//!   $\le 1.5\cdot10^{-7}$ per instance.
//! - `linearity_linear`: the linearity score of a linear denoiser (the zero-mean Gaussian
//!   denoiser of the centred set) is 1 within $8\gamma_d$.
//! - `linearity_affine`: the implementation's linearity score of the set's Gaussian denoiser
//!   $D(x) = Wx + b$ (affine, $b \ne 0$ in general, so the score is below 1) on 16 pairs equals
//!   $\frac1{16}\sum_j|\cos(u_j, v_j)|$ evaluated in the check from $D$'s outputs,
//!   $u_j = D(cx_{1j} + cx_{2j})$, $v_j = cD(x_{1j}) + cD(x_{2j})$, $c = 1/\sqrt2$. Per pair the tolerance is
//!   $2(\delta_u/\|u\| + \delta_v/\|v\|) + 8\gamma_d$ (at most 2) with $\delta_u = 4\gamma_d(\|W\|_F\|cx_1 + cx_2\| + \|u\|)$,
//!   $\delta_v = 4\gamma_d(\|D(x_1)\| + \|D(x_2)\|)$: the rounding of the mixed input propagated through $D$
//!   and of the cosines. Fails for $a = b = \frac12$ (then the score of an affine map is 1), a
//!   missing absolute value, a wrong average.
//! - `rmse_metric`: the implementation's per-dimension RMSE between the set's Gaussian
//!   denoiser and its empirical (memorizing) denoiser on 16 points equals
//!   $\sqrt{\sum_j\|D_1(x_j) - D_2(x_j)\|^2/(16d)}$ evaluated in the check from the two denoisers'
//!   outputs, within $4\gamma_{16d+2}$ relative. Fails for a missing square root, a
//!   normalization by $B$ or $d$ only, a single column.

use faer::{Mat, MatRef};
use rand::RngExt;

use super::instance::{BasisKind, log_uniform, orthogonal_bases};
use super::{CaseResult, Measurement, Reference, Theorem};
use crate::error::{Error, Result};
use crate::level::NoiseLevel;
use crate::linalg::{self, frobenius_norm};
use crate::metric::{
    Affine, NormalEquations, empirical_gaussian, fit_affine, linearity_score, optimal_affine,
    per_dim_rmse, sample_pairs,
};
use crate::model::{Denoiser, Empirical, ExactModel, Gaussian, Molrg};
use crate::prec::gamma;
use crate::reference::{Q, f, q};
use crate::rng::{SeededRng, seeded, standard_normal};

/// Pairs of the least-squares facet.
pub const PAIRS: usize = 3000;
/// The $z$-score threshold of the least-squares facet.
pub const Z_MAX: f64 = 6.0;

/// The computations R15's check exercises, as the implementation under test.
///
/// The default methods call this crate ([`Reference`]); override one to check another
/// implementation (the planted-defect suite does, `tests/suite/planted/r15.rs`).
pub trait Subject: Sync {
    /// The minimizer $x \mapsto Wx + b$ of $\mathbb E\|Wx_t + b - x_0\|^2$, $x_0$ uniform on the columns of
    /// `train`, $x_t = \alpha x_0 + \beta\varepsilon$: $W = \alpha\Sigma(\alpha^2\Sigma + \beta^2I)^{-1}$, $b = \mu - \alpha W\mu$ with
    /// the set's mean $\mu$ and $(1/N)$ covariance $\Sigma$.
    ///
    /// # Errors
    /// Empty or non-finite training sets.
    fn optimal_affine(&self, train: MatRef<'_, f64>, level: NoiseLevel) -> Result<Affine> {
        optimal_affine(train, level)
    }

    /// The per-dimension RMSE $\sqrt{\frac1{dB}\sum_j\|D_1(x_j) - D_2(x_j)\|^2}$ over the `B` columns of `x_t`.
    ///
    /// # Errors
    /// Shape errors and the denoisers' errors.
    fn per_dim_rmse(
        &self,
        a: &dyn Denoiser,
        b: &dyn Denoiser,
        x_t: MatRef<'_, f64>,
        level: NoiseLevel,
    ) -> Result<f64> {
        per_dim_rmse(a, b, x_t, level)
    }

    /// The linearity score $\frac1B\sum_j|\cos(D(cx_{1j} + cx_{2j}),\ cD(x_{1j}) + cD(x_{2j}))|$, $c = 1/\sqrt2$,
    /// over the column pairs of `x1`, `x2` (cosine 0 for a zero vector).
    ///
    /// # Errors
    /// Shape errors and the denoiser's errors.
    fn linearity_score(
        &self,
        denoiser: &dyn Denoiser,
        x1: MatRef<'_, f64>,
        x2: MatRef<'_, f64>,
        level: NoiseLevel,
    ) -> Result<f64> {
        linearity_score(denoiser, x1, x2, level)
    }
}

impl Subject for Reference {}

/// Where the training set comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataKind {
    /// A full-rank Gaussian with random mean and scales.
    Gaussian,
    /// A MoLRG with two orthogonal components.
    Molrg,
}

/// One R15 instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// Dimension.
    pub d: usize,
    /// Training points.
    pub n: usize,
    /// Data model.
    pub data: DataKind,
    /// Signal scale.
    pub alpha: f64,
    /// Noise scale.
    pub beta: f64,
    /// Seed.
    pub seed: u64,
}

impl Instance {
    /// A random instance.
    pub fn sample(rng: &mut SeededRng) -> Self {
        let d = rng.random_range(1..=8);
        let extreme = rng.random::<bool>();
        Self {
            d,
            n: if rng.random::<f64>() < 0.25 {
                rng.random_range(1..=d)
            } else {
                rng.random_range(d + 2..=40)
            },
            data: if d >= 2 && rng.random::<bool>() {
                DataKind::Molrg
            } else {
                DataKind::Gaussian
            },
            alpha: if extreme {
                log_uniform(rng, -3.0, 0.0)
            } else {
                log_uniform(rng, -0.5, 0.0)
            },
            beta: if extreme {
                log_uniform(rng, -4.0, 2.0)
            } else {
                log_uniform(rng, -0.7, 0.3)
            },
            seed: rng.random(),
        }
    }

    /// The training set (`d × N`).
    ///
    /// # Errors
    /// Construction errors.
    pub fn training(&self) -> Result<Mat<f64>> {
        let mut rng = seeded(self.seed);
        let d = self.d;
        match self.data {
            DataKind::Gaussian => {
                let scale: Vec<f64> = (0..d).map(|_| log_uniform(&mut rng, -1.0, 1.0)).collect();
                let mean: Vec<f64> = (0..d).map(|_| 2.0 * rng.random::<f64>() - 1.0).collect();
                let z = standard_normal(&mut rng, d, self.n);
                Ok(Mat::from_fn(d, self.n, |i, j| {
                    mean[i] + scale[i] * z[(i, j)]
                }))
            }
            DataKind::Molrg => {
                let r = (d / 2).max(1);
                let bases = orthogonal_bases(&mut rng, d, &[r, r], BasisKind::Haar)?;
                let refs: Vec<_> = bases.iter().map(|b| b.as_ref()).collect();
                Ok(Molrg::uniform(&refs)?.sample_x0(&mut rng, self.n))
            }
        }
    }

    /// Whether the least-squares facet applies (moderate level, full-rank data, N ≥ d + 2).
    pub fn least_squares_applies(&self) -> bool {
        self.data == DataKind::Gaussian
            && self.n >= self.d + 2
            && self.alpha >= 0.3
            && self.beta >= 0.1
    }

    /// Runs the facets on this crate's implementation.
    ///
    /// # Errors
    /// Model or fit errors (which count as failures).
    pub fn check(&self) -> Result<Vec<Measurement>> {
        self.check_with(&Reference)
    }

    /// Runs the facets on the implementation `s`.
    ///
    /// # Errors
    /// Model or fit errors (which count as failures).
    pub fn check_with(&self, s: &dyn Subject) -> Result<Vec<Measurement>> {
        let x = self.training()?;
        let (d, n) = (self.d, self.n);
        let level = NoiseLevel::new(self.alpha, self.beta)?;
        let (a, b) = (self.alpha, self.beta);
        let affine = s.optimal_affine(x.as_ref(), level)?;
        let eq = NormalEquations::new(x.as_ref(), level)?;
        let res = eq.residual(&affine)?;
        let raw = linalg::mul(x.as_ref(), x.transpose());
        let ns = frobenius_norm(raw.as_ref()) / n as f64;
        let nw = frobenius_norm(affine.w.as_ref());
        let nb = affine.b.iter().map(|v| v * v).sum::<f64>().sqrt();
        let m: Vec<f64> = (0..d)
            .map(|i| (0..n).map(|j| x[(i, j)]).sum::<f64>() / n as f64)
            .collect();
        let nm = m.iter().map(|v| v * v).sum::<f64>().sqrt();
        let tol = 8.0
            * gamma(d * n + d)
            * ((a * a * nw + a) * ns + nw * b * b * (d as f64).sqrt() + a * nb * nm + nm);
        let mut out = vec![Measurement::new(
            "normal_equations",
            frobenius_norm(res.as_ref()),
            tol + f64::MIN_POSITIVE,
        )];

        // Dense formula in double-double.
        let sigma = centred_covariance(&x);
        let w_dd = dense_affine_gain(&sigma, a, b)?;
        let lmax = empirical_gaussian(x.as_ref())?
            .variances()
            .iter()
            .cloned()
            .fold(0.0, f64::max);
        let kappa = (a * a * lmax + b * b) / (b * b);
        let nsig = sigma
            .iter()
            .flatten()
            .map(|v| f(*v) * f(*v))
            .sum::<f64>()
            .sqrt();
        let diff = (0..d)
            .flat_map(|i| (0..d).map(move |j| (i, j)))
            .map(|(i, j)| (affine.w[(i, j)] - w_dd[i][j]).powi(2))
            .sum::<f64>()
            .sqrt();
        out.push(Measurement::new(
            "dense_formula",
            diff,
            8.0 * gamma(d * n) * kappa * (nsig * a / (b * b)).max(nw) + f64::MIN_POSITIVE,
        ));

        // Least squares on sampled pairs.
        if self.least_squares_applies() {
            let mut rng = seeded(self.seed ^ 0x0015);
            let (xt, x0) = sample_pairs(x.as_ref(), level, PAIRS, &mut rng)?;
            let fit = fit_affine(xt.as_ref(), x0.as_ref())?;
            let mut zmax = 0.0f64;
            for i in 0..d {
                for j in 0..d {
                    let z =
                        (fit.affine.w[(i, j)] - affine.w[(i, j)]).abs() / fit.w_std_error[(i, j)];
                    zmax = zmax.max(z);
                }
                zmax = zmax.max((fit.affine.b[i] - affine.b[i]).abs() / fit.b_std_error[i]);
            }
            out.push(Measurement::new("least_squares", zmax, Z_MAX));
        }

        // Metrics.
        let centred = Mat::from_fn(d, n, |i, j| x[(i, j)] - m[i]);
        let g0 = empirical_gaussian(centred.as_ref())?;
        let lin = Gaussian::new(&vec![0.0; d], g0.basis(), g0.variances())?;
        let mut rng = seeded(self.seed ^ 0x1515);
        let x1 = standard_normal(&mut rng, d, 16);
        let x2 = standard_normal(&mut rng, d, 16);
        let score = s.linearity_score(&lin, x1.as_ref(), x2.as_ref(), level)?;
        let all_zero = lin.variances().iter().all(|&v| v == 0.0);
        out.push(Measurement::new(
            "linearity_linear",
            if all_zero { 0.0 } else { (1.0 - score).abs() },
            8.0 * gamma(d + 4),
        ));

        // linearity_affine: the set's (affine) Gaussian denoiser, score evaluated here.
        let g = empirical_gaussian(x.as_ref())?;
        let c = core::f64::consts::FRAC_1_SQRT_2;
        let mix = Mat::from_fn(d, x1.ncols(), |i, j| c * x1[(i, j)] + c * x2[(i, j)]);
        let (dm, d1, d2) = (
            g.posterior_mean(mix.as_ref(), level)?,
            g.posterior_mean(x1.as_ref(), level)?,
            g.posterior_mean(x2.as_ref(), level)?,
        );
        let nw_dd = w_dd.iter().flatten().map(|v| v * v).sum::<f64>().sqrt();
        let col_norm =
            |m: &Mat<f64>, j: usize| (0..d).map(|i| m[(i, j)].powi(2)).sum::<f64>().sqrt();
        let (mut want, mut tol) = (0.0, 0.0);
        for j in 0..x1.ncols() {
            let v: Vec<f64> = (0..d).map(|i| c * d1[(i, j)] + c * d2[(i, j)]).collect();
            let (nu, nv) = (
                col_norm(&dm, j),
                v.iter().map(|t| t * t).sum::<f64>().sqrt(),
            );
            let dot: f64 = (0..d).map(|i| dm[(i, j)] * v[i]).sum();
            if nu > 0.0 && nv > 0.0 {
                want += (dot / (nu * nv)).abs();
                let du = 4.0 * gamma(d) * (nw_dd * col_norm(&mix, j) + nu);
                let dv = 4.0 * gamma(d) * (col_norm(&d1, j) + col_norm(&d2, j));
                tol += (2.0 * (du / nu + dv / nv) + 8.0 * gamma(d)).min(2.0);
            } else {
                tol += 2.0;
            }
        }
        let pairs = x1.ncols() as f64;
        let got = s.linearity_score(&g, x1.as_ref(), x2.as_ref(), level)?;
        out.push(Measurement::new(
            "linearity_affine",
            (got - want / pairs).abs(),
            tol / pairs,
        ));

        // rmse_metric: Gaussian vs empirical denoiser, RMSE evaluated here.
        let emp = Empirical::new(x.as_ref())?;
        let (dg, de) = (
            g.posterior_mean(x1.as_ref(), level)?,
            emp.posterior_mean(x1.as_ref(), level)?,
        );
        let mut sq = 0.0;
        for j in 0..x1.ncols() {
            for i in 0..d {
                sq += (dg[(i, j)] - de[(i, j)]).powi(2);
            }
        }
        let cells = d * x1.ncols();
        let want = (sq / cells as f64).sqrt();
        let got = s.per_dim_rmse(&g, &emp, x1.as_ref(), level)?;
        out.push(Measurement::new(
            "rmse_metric",
            (got - want).abs(),
            4.0 * gamma(cells + 2) * want + f64::MIN_POSITIVE,
        ));
        Ok(out)
    }
}

/// $\Sigma = \frac1N\sum_i(x_i - \mu)(x_i - \mu)^\top$ in double-double.
fn centred_covariance(x: &Mat<f64>) -> Vec<Vec<Q>> {
    let (d, n) = (x.nrows(), x.ncols());
    let nq = q(n as f64);
    let mean: Vec<Q> = (0..d)
        .map(|i| {
            let mut s = Q::ZERO;
            for j in 0..n {
                s += q(x[(i, j)]);
            }
            s / nq
        })
        .collect();
    (0..d)
        .map(|i| {
            (0..d)
                .map(|k| {
                    let mut s = Q::ZERO;
                    for j in 0..n {
                        s += (q(x[(i, j)]) - mean[i]) * (q(x[(k, j)]) - mean[k]);
                    }
                    s / nq
                })
                .collect()
        })
        .collect()
}

/// $\alpha\Sigma(\alpha^2\Sigma + \beta^2I)^{-1}$ by a double-double Cholesky solve (Σ symmetric PSD,
/// so $C = \alpha^2\Sigma + \beta^2I$ is SPD and $W = \alpha\Sigma C^{-1} = (C^{-1}\alpha\Sigma)^\top$).
fn dense_affine_gain(sigma: &[Vec<Q>], alpha: f64, beta: f64) -> Result<Vec<Vec<f64>>> {
    let d = sigma.len();
    let (aq, bq) = (q(alpha), q(beta));
    let mut c: Vec<Vec<Q>> = (0..d)
        .map(|i| {
            (0..d)
                .map(|j| aq * aq * sigma[i][j] + if i == j { bq * bq } else { Q::ZERO })
                .collect()
        })
        .collect();
    // In-place Cholesky C = LLᵀ (lower).
    for j in 0..d {
        let mut s = c[j][j];
        for v in &c[j][..j] {
            s -= *v * *v;
        }
        if s.0 <= 0.0 || s.0.is_nan() {
            return Err(Error::NoConvergence {
                what: "double-double Cholesky",
            });
        }
        let l = s.sqrt();
        c[j][j] = l;
        for i in j + 1..d {
            let mut t = c[i][j];
            for (a, b) in c[i][..j].iter().zip(&c[j][..j]) {
                t -= *a * *b;
            }
            c[i][j] = t / l;
        }
    }
    // Solve C Y = αΣ column by column; W = Yᵀ.
    let mut w = vec![vec![0.0; d]; d];
    for col in 0..d {
        let mut y: Vec<Q> = (0..d).map(|i| aq * sigma[i][col]).collect();
        for i in 0..d {
            let mut t = y[i];
            for k in 0..i {
                t -= c[i][k] * y[k];
            }
            y[i] = t / c[i][i];
        }
        for i in (0..d).rev() {
            let mut t = y[i];
            for k in i + 1..d {
                t -= c[k][i] * y[k];
            }
            y[i] = t / c[i][i];
        }
        for i in 0..d {
            w[col][i] = f(y[i]);
        }
    }
    Ok(w)
}

/// Registry entry: the check on this crate's implementation.
pub fn run_case(rng: &mut SeededRng) -> CaseResult {
    run_case_with(rng, &Reference)
}

/// R15's entry in the [registry](super::registry): the only place its title is written.
pub const THEOREM: Theorem = Theorem {
    id: "R15",
    title: "Best affine denoiser = empirical Gaussian denoiser",
    proof: "proofs/R15-hidden-gaussian-structure.md",
    run_case,
};

/// The check on the implementation `s`, on the instance drawn from `rng`.
pub fn run_case_with(rng: &mut SeededRng, s: &dyn Subject) -> CaseResult {
    CaseResult::of(Instance::sample(rng), |i| i.check_with(s))
}
