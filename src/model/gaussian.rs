//! The Gaussian model $\mathcal N(\mu, \Sigma)$ with $\Sigma = U\Lambda U^\top$ (R02).

use faer::reborrow::ReborrowMut;
use faer::{ColRef, Mat, MatMut, MatRef, Side};

use super::{Denoiser, ExactModel, check_batch, check_point, log_norm_const, par_blocks};
use crate::error::{
    Error, Result, ensure_dim, ensure_finite, ensure_finite_output, ensure_finite_output_slice,
    ensure_finite_slice,
};

/// Why a Gaussian evaluation can overflow although its inputs are valid.
const OVERFLOW_CAUSE: &str = "x_t, the mean or the variances are so large (or beta so small) \
     that the exact value is beyond f64; rescale the data or raise the noise level";
use crate::level::NoiseLevel;
use crate::linalg::basis::{coefficients_dd_acc, residual_dd_acc, shifted_dd};
use crate::linalg::compensated::Acc;
use crate::linalg::{self, check_orthonormal};
use crate::prec;
use crate::rng::{SeededRng, standard_normal};

/// A Gaussian $\mathcal N(\mu, U\Lambda U^\top)$, $U \in \mathbb R^{d\times r}$ with
/// orthonormal columns, $\Lambda = \operatorname{diag}(\lambda_1..\lambda_r) \succeq 0$;
/// a full covariance is stored through its eigendecomposition.
///
/// # Definition
/// $p_t = \mathcal N(\alpha\mu, \alpha^2\Sigma + \beta^2 I)$ and, with $y = x_t - \alpha\mu$,
/// $$\mathbb E[x_0\mid x_t] = \mu + \alpha\Sigma(\alpha^2\Sigma+\beta^2I)^{-1}y
///   = \mu + U\operatorname{diag}\!\Big(\frac{\alpha\lambda_i}{\alpha^2\lambda_i+\beta^2}\Big)U^\top y \qquad\text{(R02)}$$
/// $$\nabla\log p_t(x_t) = -U\operatorname{diag}\!\Big(\frac{1}{\alpha^2\lambda_i+\beta^2}\Big)U^\top y -
///   \frac{(I-UU^\top)y}{\beta^2}.$$
/// The residual $(I-UU^\top)y$ is computed with compensated dot products, so the
/// score keeps full relative accuracy at small $\beta$ (where $y$ lies almost in
/// $\operatorname{span}U$ and plain evaluation loses $\log_{10}(\alpha/\beta)$ digits).
///
/// # Accuracy
/// Posterior mean: normwise error $\lesssim (2r+4)\varepsilon\,(\|\mu\| + \max_i g_i\|y\|)$,
/// i.e. relative error $(2r+4)\varepsilon\,\kappa$ with $\kappa = (\|\mu\| + \max_i g_i\|y\|)/\|\hat x_0\|$
/// (the condition number of the affine map). Score and log-density: a few $\varepsilon$ relative to the sum of the
/// magnitudes of their two terms.
///
/// # Examples
/// ```
/// use diffusion_lowdim::{Gaussian, Denoiser, NoiseLevel};
/// // N(0, e₁e₁ᵀ) in R²: E[x0|x_t] = α/(α²+β²)·(x₁, 0).
/// let u = faer::mat![[1.0], [0.0]];
/// let g = Gaussian::subspace(u.as_ref())?;
/// let x = faer::mat![[2.0], [3.0]];
/// let m = g.posterior_mean(x.as_ref(), NoiseLevel::new(0.8, 0.6)?)?;
/// assert!((m[(0, 0)] - 1.6).abs() < 1e-15 && m[(1, 0)] == 0.0);
/// # Ok::<(), diffusion_lowdim::Error>(())
/// ```
///
/// # References
/// SPEC R02; Li, Dai, Qu (NeurIPS 2024) for its role as the optimal linear denoiser.
/// Derivation: `docs/exact-denoisers.md`; proof: `proofs/R02-gaussian-posterior.md`.
#[derive(Debug, Clone)]
pub struct Gaussian {
    mean: Vec<f64>,
    basis: Mat<f64>,
    variances: Vec<f64>,
    /// `basis` spans R^d, so the out-of-span residual is identically zero.
    full: bool,
}

impl Gaussian {
    /// $\mathcal N(\mu, U\operatorname{diag}(\lambda)U^\top)$.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] (mean length, number of variances),
    /// [`Error::NonFinite`], [`Error::NotOrthonormal`], [`Error::Empty`],
    /// [`Error::InvalidParameter`] for a negative variance.
    pub fn new(mean: &[f64], basis: MatRef<'_, f64>, variances: &[f64]) -> Result<Self> {
        check_orthonormal("Gaussian basis U", 0, basis)?;
        ensure_dim("length of mean vs rows of U", basis.nrows(), mean.len())?;
        ensure_dim(
            "number of variances vs columns of U",
            basis.ncols(),
            variances.len(),
        )?;
        ensure_finite_slice("mean", mean)?;
        ensure_finite_slice("variances", variances)?;
        if let Some(&v) = variances.iter().find(|&&v| v < 0.0) {
            return Err(Error::InvalidParameter {
                name: "variance",
                value: v,
                requirement: "≥ 0",
            });
        }
        Ok(Self {
            mean: mean.to_vec(),
            full: basis.ncols() == basis.nrows(),
            basis: basis.to_owned(),
            variances: variances.to_vec(),
        })
    }

    /// $\mathcal N(0, UU^\top)$: the subspace Gaussian of the PCA results (K = 1).
    ///
    /// # Errors
    /// As [`Gaussian::new`].
    pub fn subspace(basis: MatRef<'_, f64>) -> Result<Self> {
        let d = basis.nrows();
        let r = basis.ncols();
        Self::new(&vec![0.0; d], basis, &vec![1.0; r])
    }

    /// $\mathcal N(\mu, \Sigma)$ from a full covariance, via its symmetric eigendecomposition.
    ///
    /// Eigenvalues in $[-\tau, 0)$ with $\tau$ = [`prec::psd_eigenvalue_allowance`] are
    /// rounding and set to 0. Tiny eigenvalues of $\Sigma$ are only known to
    /// $\approx d\varepsilon\|\Sigma\|$ absolutely: construct with [`Gaussian::new`]
    /// when you know the eigendecomposition.
    ///
    /// # Errors
    /// [`Error::Empty`], [`Error::DimensionMismatch`] (non-square or wrong mean length),
    /// [`Error::NonFinite`], [`Error::NotSymmetric`], [`Error::NotPositiveSemidefinite`],
    /// [`Error::NoConvergence`], [`Error::Overflow`] if an eigenvalue exceeds f64.
    pub fn from_covariance(mean: &[f64], cov: MatRef<'_, f64>) -> Result<Self> {
        let d = cov.nrows();
        if d == 0 {
            return Err(Error::Empty {
                what: "covariance",
                unit: "row",
            });
        }
        ensure_dim("columns of covariance vs rows", d, cov.ncols())?;
        ensure_dim("length of mean vs covariance size", d, mean.len())?;
        ensure_finite("covariance", cov)?;
        ensure_finite_slice("mean", mean)?;
        let mut amax = 0.0f64;
        let mut asym = 0.0f64;
        for j in 0..d {
            for i in 0..d {
                amax = amax.max(cov[(i, j)].abs());
                asym = asym.max((cov[(i, j)] - cov[(j, i)]).abs());
            }
        }
        let tol = prec::SYMMETRY_TOL * amax;
        if asym > tol {
            return Err(Error::NotSymmetric {
                what: "covariance",
                deviation: asym,
                tolerance: tol,
            });
        }
        // Symmetrize exactly, rescale exactly by a power of two (tiny or huge
        // covariances then decompose like ordinary ones), decompose, unscale.
        let sym = Mat::from_fn(d, d, |i, j| {
            let (a, b) = (cov[(i, j)], cov[(j, i)]);
            let s = 0.5 * (a + b);
            // a + b overflows for entries near 1.8e308: halve first (the same value).
            if s.is_finite() { s } else { 0.5 * a + 0.5 * b }
        });
        let (sym, k) = linalg::scale_to_unit(sym.as_ref());
        let evd = sym
            .self_adjoint_eigen(Side::Lower)
            .map_err(|_| Error::NoConvergence {
                what: "symmetric eigendecomposition",
            })?;
        let s: Vec<f64> = (0..d)
            .map(|i| linalg::rank::times_pow2(evd.S().column_vector()[i], -k))
            .collect();
        if s.iter().any(|v| !v.is_finite()) {
            return Err(Error::Overflow {
                what: "an eigenvalue of the covariance",
                cause: "the covariance is too large (entries near 1.8e308 give eigenvalues up to d \
                        times larger); rescale the data",
            });
        }
        let lmax = s.iter().map(|v| v.abs()).fold(0.0, f64::max);
        let allow = prec::psd_eigenvalue_allowance(d, lmax);
        let mut variances = Vec::with_capacity(d);
        for &l in &s {
            if l < -allow {
                return Err(Error::NotPositiveSemidefinite {
                    what: "covariance",
                    eigenvalue: l,
                    tolerance: allow,
                });
            }
            variances.push(l.max(0.0));
        }
        Ok(Self {
            mean: mean.to_vec(),
            basis: evd.U().to_owned(),
            variances,
            full: true,
        })
    }

    /// Mean $\mu$.
    pub fn mean(&self) -> &[f64] {
        &self.mean
    }

    /// Basis $U$ ($d \times r$, orthonormal columns).
    pub fn basis(&self) -> MatRef<'_, f64> {
        self.basis.as_ref()
    }

    /// Variances $\lambda_1..\lambda_r$ along the columns of $U$.
    pub fn variances(&self) -> &[f64] {
        &self.variances
    }

    /// Rank $r$ (columns of $U$).
    pub fn rank(&self) -> usize {
        self.basis.ncols()
    }

    /// The dense covariance $U\Lambda U^\top$ (for export and checks).
    pub fn covariance(&self) -> Mat<f64> {
        let (d, r) = (self.dim(), self.rank());
        let scaled = Mat::from_fn(d, r, |i, j| self.basis[(i, j)] * self.variances[j]);
        linalg::mul(scaled.as_ref(), self.basis.transpose())
    }

    /// Per-column score and log-density (accurate path).
    ///
    /// `y = x − αμ` is kept exactly in double length and projected with
    /// double-length accumulation, so neither the coefficients `Uᵀy` nor the
    /// residual `(I − UUᵀ)y` inherit the rounding of the subtraction (which is
    /// `ε‖y‖` absolute, comparable to the residual itself at small β).
    fn column_terms(&self, x: &[f64], level: NoiseLevel, score: Option<&mut [f64]>) -> f64 {
        let (d, r) = (self.dim(), self.rank());
        let ydd = shifted_dd(x, level.alpha(), &self.mean);
        let mut cdd = vec![Acc::default(); r];
        coefficients_dd_acc(self.basis.as_ref(), &ydd, &mut cdd);
        let c: Vec<f64> = cdd.iter().map(|a| a.value()).collect();
        let mut res = vec![0.0; d];
        if !self.full {
            residual_dd_acc(self.basis.as_ref(), &ydd, &cdd, &mut res);
        }
        let inv_b2 = 1.0 / (level.beta() * level.beta());
        let h: Vec<f64> = self
            .variances
            .iter()
            .map(|&l| level.inv_marginal_variance(l))
            .collect();
        if let Some(s) = score {
            for i in 0..d {
                let mut v = res[i] * inv_b2;
                for j in 0..r {
                    v = self.basis[(i, j)].mul_add(h[j] * c[j], v);
                }
                s[i] = -v;
            }
        }
        let quad: f64 = c.iter().zip(&h).map(|(cj, hj)| hj * cj * cj).sum::<f64>()
            + res.iter().map(|v| v * v).sum::<f64>() * inv_b2;
        let logdet: f64 = self
            .variances
            .iter()
            .map(|&l| level.log_marginal_variance(l))
            .sum::<f64>()
            + ((d - r) as f64) * 2.0 * level.beta().ln();
        -0.5 * quad - 0.5 * logdet + log_norm_const(d)
    }
}

impl Denoiser for Gaussian {
    fn dim(&self) -> usize {
        self.basis.nrows()
    }

    fn posterior_mean_into(
        &self,
        x_t: MatRef<'_, f64>,
        level: NoiseLevel,
        out: MatMut<'_, f64>,
    ) -> Result<()> {
        check_batch(self.dim(), x_t, out.as_ref())?;
        let (d, r) = (self.dim(), self.rank());
        let alpha = level.alpha();
        let gains: Vec<f64> = self.variances.iter().map(|&l| level.gain(l)).collect();
        let centered = self.mean.iter().all(|&m| m == 0.0);
        par_blocks(x_t, out, |_, xb, mut o| {
            let w = xb.ncols();
            let mut c = if centered {
                linalg::mul(self.basis.transpose(), xb)
            } else {
                let y = Mat::from_fn(d, w, |i, j| (-alpha).mul_add(self.mean[i], xb[(i, j)]));
                linalg::mul(self.basis.transpose(), y.as_ref())
            };
            for j in 0..w {
                for k in 0..r {
                    c[(k, j)] *= gains[k];
                }
            }
            for j in 0..w {
                for i in 0..d {
                    o[(i, j)] = self.mean[i];
                }
            }
            linalg::gemm_acc(o.rb_mut(), self.basis.as_ref(), c.as_ref(), 1.0);
            ensure_finite_output("the Gaussian posterior mean", OVERFLOW_CAUSE, o.as_ref())
        })
    }

    fn score_into(
        &self,
        x_t: MatRef<'_, f64>,
        level: NoiseLevel,
        out: MatMut<'_, f64>,
    ) -> Result<()> {
        check_batch(self.dim(), x_t, out.as_ref())?;
        let d = self.dim();
        par_blocks(x_t, out, |_, xb, mut o| {
            o.fill(0.0);
            let mut x = vec![0.0; d];
            let mut s = vec![0.0; d];
            for j in 0..xb.ncols() {
                linalg::col_to_slice(xb, j, &mut x);
                self.column_terms(&x, level, Some(&mut s));
                for i in 0..d {
                    o[(i, j)] = s[i];
                }
            }
            ensure_finite_output("the Gaussian score", OVERFLOW_CAUSE, o.as_ref())
        })
    }
}

impl ExactModel for Gaussian {
    fn jacobian(&self, x_t: ColRef<'_, f64>, level: NoiseLevel) -> Result<Mat<f64>> {
        check_point(self.dim(), x_t)?;
        let (d, r) = (self.dim(), self.rank());
        let scaled = Mat::from_fn(d, r, |i, j| {
            self.basis[(i, j)] * level.gain(self.variances[j])
        });
        let j = linalg::mul(scaled.as_ref(), self.basis.transpose());
        ensure_finite_output("the Gaussian Jacobian", OVERFLOW_CAUSE, j.as_ref())?;
        Ok(j)
    }

    fn log_density(&self, x_t: MatRef<'_, f64>, level: NoiseLevel) -> Result<Vec<f64>> {
        ensure_dim("rows of x_t vs model dimension", self.dim(), x_t.nrows())?;
        ensure_finite("x_t", x_t)?;
        let mut x = vec![0.0; self.dim()];
        let out: Vec<f64> = (0..x_t.ncols())
            .map(|j| {
                linalg::col_to_slice(x_t, j, &mut x);
                self.column_terms(&x, level, None)
            })
            .collect();
        ensure_finite_output_slice("the Gaussian log-density", OVERFLOW_CAUSE, &out)?;
        Ok(out)
    }

    fn sample_x0(&self, rng: &mut SeededRng, n: usize) -> Mat<f64> {
        let (d, r) = (self.dim(), self.rank());
        let z = standard_normal(rng, r, n);
        let zs = Mat::from_fn(r, n, |k, j| z[(k, j)] * self.variances[k].sqrt());
        let mut out = Mat::from_fn(d, n, |i, _| self.mean[i]);
        linalg::gemm_acc(out.as_mut(), self.basis.as_ref(), zs.as_ref(), 1.0);
        out
    }
}
