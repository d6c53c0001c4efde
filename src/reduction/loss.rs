//! The denoising-autoencoder (DAE) loss of the low-rank linear denoiser, three ways (R05).
//!
//! # Definition
//! For data $X = [x_1 \dots x_N] \in \mathbb R^{d\times N}$, a schedule
//! $t \mapsto (\alpha_t, \beta_t)$, a weight $\lambda_t \ge 0$ and a time range $[t_0, t_1]$,
//! $$\ell(U) = \sum_{i=1}^N \int_{t_0}^{t_1} \lambda_t\,\mathbb E_{\varepsilon}\big\|x_U(\alpha_t x_i + \beta_t\varepsilon) - x_i\big\|^2\,dt,
//! \qquad x_U(x_t) = \frac{\alpha_t}{\alpha_t^2+\beta_t^2}UU^\top x_t,$$
//! with $U^\top U = I_r$ ($x_U$ is the posterior mean of $\mathcal N(0, UU^\top)$).
//! With $a_t = \alpha_t^2/(\alpha_t^2+\beta_t^2)$ the expectation over $\varepsilon$ is exact
//! (`docs/reductions.md` §1):
//! $$\mathbb E_\varepsilon\|x_U - x\|^2 = \|(I - UU^\top)x\|^2 + (1-a_t)^2\|U^\top x\|^2 + r\,a_t(1-a_t)
//!  = \|x\|^2 - (2a_t - a_t^2)\|U^\top x\|^2 + r\frac{\alpha_t^2\beta_t^2}{(\alpha_t^2+\beta_t^2)^2},$$
//! hence $\ell(U) = -C\|U^\top X\|_F^2 + D$ with
//! $C = \int\lambda_t(2a_t - a_t^2)\,dt$, $D = \|X\|_F^2\int\lambda_t\,dt + Nr\int\lambda_t a_t(1-a_t)\,dt$.
//!
//! The crate evaluates $\ell$ three independent ways:
//! 1. [`dae_loss_closed_form`]: the identity above with the scalar coefficients
//!    [`LossCoefficients`] (in closed form for VE, [`LossCoefficients::ve_analytic`], or by
//!    adaptive quadrature of scalar integrands, [`LossCoefficients::quadrature`]),
//!    evaluated in the cancellation-free form $L\|(I-UU^\top)X\|_F^2 + C'\|U^\top X\|_F^2 + NrG$;
//! 2. [`dae_loss_quadrature`]: adaptive Gauss–Legendre in $t$ of the exact
//!    $\varepsilon$-expectation of the *actual denoiser* ([`crate::Gaussian::subspace`]),
//!    $\|x_U(\alpha x) - x\|^2 + \beta^2\|J_U\|_F^2$ (bias + variance of an affine map),
//!    with a stated error;
//! 3. [`dae_loss_monte_carlo`]: Monte Carlo in $\varepsilon$ at the nodes of a fixed
//!    Gauss–Legendre rule, with a standard error.

use faer::{Mat, MatRef};

use super::pca::check_data;
use super::quadrature::{Integral, integrate};
use super::subspace::residual_matrix;
use crate::error::{Error, Result, ensure_dim};
use crate::level::NoiseLevel;
use crate::linalg::{check_orthonormal, frobenius_norm, mul};
use crate::model::{Denoiser, ExactModel, Gaussian};
use crate::prec::EPS;
use crate::rng::{SeededRng, standard_normal};
use crate::schedule::{Coefficients, Schedule};

/// Relative tolerance of the adaptive quadratures of this module.
pub const QUAD_REL_TOL: f64 = 1e-12;

/// Panel limit of the adaptive quadratures of this module.
pub const QUAD_MAX_PANELS: usize = 2048;

/// The weight $\lambda_t \ge 0$ of the DAE loss.
#[derive(Debug, Clone, Copy)]
pub enum Weight {
    /// $\lambda_t = 1$.
    Unit,
    /// $\lambda_t = 1/\beta_t^2$ (VE: $1/\sigma^2$).
    InverseNoiseVariance,
    /// $\lambda_t = \alpha_t^2/\beta_t^2$ (the SNR).
    Snr,
    /// A user function of $t$ and the schedule's coefficients at $t$.
    Custom(fn(f64, &Coefficients) -> f64),
}

impl Weight {
    /// $\lambda_t$.
    ///
    /// # Errors
    /// [`Error::InvalidUserFunction`] unless the value is finite and $\ge 0$.
    pub fn at(&self, t: f64, c: &Coefficients) -> Result<f64> {
        let v = match self {
            Self::Unit => 1.0,
            Self::InverseNoiseVariance => 1.0 / (c.beta * c.beta),
            Self::Snr => (c.alpha / c.beta) * (c.alpha / c.beta),
            Self::Custom(f) => f(t, c),
        };
        if v.is_finite() && v >= 0.0 {
            Ok(v)
        } else {
            Err(Error::InvalidUserFunction {
                what: "loss weight lambda_t",
                t,
                value: v,
                requirement: "finite and ≥ 0",
            })
        }
    }
}

/// Weight and noise level at time `t`.
fn weight_and_level(schedule: &dyn Schedule, weight: &Weight, t: f64) -> Result<(f64, NoiseLevel)> {
    let c = schedule.coefficients(t)?;
    let level = c.level()?;
    Ok((weight.at(t, &c)?, level))
}

/// The scalar coefficients of the K = 1 loss identity.
///
/// # Definition
/// With $a_t = \alpha_t^2/(\alpha_t^2+\beta_t^2)$, over $[t_0, t_1]$:
/// $L = \int\lambda_t$, $C = \int\lambda_t(2a_t - a_t^2)$, $C' = \int\lambda_t(1-a_t)^2 = L - C$,
/// $G = \int\lambda_t a_t(1-a_t) = \int\lambda_t\frac{\alpha_t^2\beta_t^2}{(\alpha_t^2+\beta_t^2)^2}$.
/// Then $D = L\|X\|_F^2 + NrG$ and
/// $\ell(U) = -C\|U^\top X\|_F^2 + D = L\|(I-UU^\top)X\|_F^2 + C'\|U^\top X\|_F^2 + NrG$.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LossCoefficients {
    /// $L = \int\lambda_t\,dt$.
    pub weight_integral: f64,
    /// $C = \int\lambda_t(2a_t - a_t^2)\,dt > 0$.
    pub c: f64,
    /// $C' = \int\lambda_t(1-a_t)^2\,dt$.
    pub c_complement: f64,
    /// $G = \int\lambda_t a_t(1-a_t)\,dt$.
    pub noise: f64,
    /// Stated absolute errors of $(L, C, C', G)$.
    pub errors: [f64; 4],
}

impl LossCoefficients {
    /// The coefficients by adaptive Gauss–Legendre quadrature of the scalar integrands.
    ///
    /// # Errors
    /// Schedule errors for times outside its domain or with $\beta_t = 0$ at a node,
    /// weight errors, [`Error::InvalidParameter`] unless $t_0 < t_1$, [`Error::Overflow`]
    /// if a coefficient exceeds f64.
    pub fn quadrature(schedule: &dyn Schedule, weight: &Weight, t0: f64, t1: f64) -> Result<Self> {
        check_range(schedule, t0, t1)?;
        let f = |which: usize| {
            move |t: f64| -> Result<f64> {
                let (lam, level) = weight_and_level(schedule, weight, t)?;
                let (a, b) = level.fractions();
                Ok(lam
                    * match which {
                        0 => 1.0,
                        1 => a * (1.0 + b),
                        2 => b * b,
                        _ => a * b,
                    })
            }
        };
        let q: Vec<Integral> = (0..4)
            .map(|w| integrate(f(w), t0, t1, QUAD_REL_TOL, QUAD_MAX_PANELS))
            .collect::<Result<_>>()?;
        Self {
            weight_integral: q[0].value,
            c: q[1].value,
            c_complement: q[2].value,
            noise: q[3].value,
            errors: [q[0].error, q[1].error, q[2].error, q[3].error],
        }
        .checked()
    }

    /// The coefficients in closed form for the VE schedule ($\alpha = 1$, $\beta = t$)
    /// with $\lambda = 1$ or $\lambda = 1/\beta^2$.
    ///
    /// # Definition
    /// With $A = \arctan t_1 - \arctan t_0 = \arctan\frac{t_1-t_0}{1+t_0t_1}$ and
    /// $H = \frac{t_1}{2(1+t_1^2)} - \frac{t_0}{2(1+t_0^2)} = \frac{(t_1-t_0)(1-t_0t_1)}{2(1+t_0^2)(1+t_1^2)}$:
    /// - $\lambda = 1$: $L = t_1 - t_0$, $C = \tfrac32A - H$, $C' = L - \tfrac32A + H$, $G = \tfrac12A - H$;
    /// - $\lambda = 1/t^2$: $L = \frac{t_1-t_0}{t_0t_1}$, $C = L - \tfrac12A + H$, $C' = \tfrac12A - H$, $G = \tfrac12A + H$.
    ///
    /// (Partial fractions, `docs/reductions.md` §2.) The stated errors are
    /// $8\varepsilon$ times the sum of the magnitudes of the terms.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] unless $0 \le t_0 < t_1 < \infty$ ($t_0 > 0$ for
    /// $\lambda = 1/t^2$) or if the weight is neither `Unit` nor `InverseNoiseVariance`;
    /// [`Error::Overflow`] if a coefficient exceeds f64.
    ///
    /// # Examples
    /// ```
    /// use diffusion_lowdim::reduction::{LossCoefficients, Weight};
    /// use diffusion_lowdim::schedule::Ve;
    /// let a = LossCoefficients::ve_analytic(&Weight::Unit, 0.01, 5.0)?;
    /// let q = LossCoefficients::quadrature(&Ve, &Weight::Unit, 0.01, 5.0)?;
    /// assert!((a.c - q.c).abs() <= a.errors[1] + q.errors[1]);
    /// assert!((a.c + a.c_complement - a.weight_integral).abs() < 1e-14);
    /// # Ok::<(), diffusion_lowdim::Error>(())
    /// ```
    pub fn ve_analytic(weight: &Weight, t0: f64, t1: f64) -> Result<Self> {
        Self::ve_analytic_unchecked(weight, t0, t1)?.checked()
    }

    /// `Ok(self)` if every coefficient and error is finite, else [`Error::Overflow`].
    fn checked(self) -> Result<Self> {
        let v = [self.weight_integral, self.c, self.c_complement, self.noise];
        crate::error::ensure_finite_output_slice(
            "a loss coefficient",
            "the interval [t0, t1] is so long (or t0 so small) that an integral of the weight \
             is beyond f64; shorten it",
            &v,
        )?;
        crate::error::ensure_finite_output_slice(
            "a loss coefficient's error bound",
            "the interval [t0, t1] is so long that the bound is beyond f64; shorten it",
            &self.errors,
        )?;
        Ok(self)
    }

    fn ve_analytic_unchecked(weight: &Weight, t0: f64, t1: f64) -> Result<Self> {
        if !(t0.is_finite() && t1.is_finite() && t0 >= 0.0 && t0 < t1) {
            return Err(Error::InvalidParameter {
                name: "VE time range [t0, t1]",
                value: if t0 >= 0.0 { t1 } else { t0 },
                requirement: "0 ≤ t0 < t1 < ∞",
            });
        }
        let a = ((t1 - t0) / (1.0 + t0 * t1)).atan();
        let h = (t1 - t0) * (1.0 - t0 * t1) / (2.0 * (1.0 + t0 * t0) * (1.0 + t1 * t1));
        let e = |terms: &[f64]| 8.0 * EPS * terms.iter().map(|v| v.abs()).sum::<f64>();
        match weight {
            Weight::Unit => {
                let l = t1 - t0;
                Ok(Self {
                    weight_integral: l,
                    c: 1.5 * a - h,
                    c_complement: l - 1.5 * a + h,
                    noise: 0.5 * a - h,
                    errors: [e(&[l]), e(&[a, h]), e(&[l, a, h]), e(&[a, h])],
                })
            }
            Weight::InverseNoiseVariance => {
                if t0.is_nan() || t0 <= 0.0 {
                    return Err(Error::InvalidParameter {
                        name: "t0",
                        value: t0,
                        requirement: "> 0 for the weight 1/beta^2 (the integral diverges at 0)",
                    });
                }
                let l = (t1 - t0) / (t0 * t1);
                Ok(Self {
                    weight_integral: l,
                    c: l - 0.5 * a + h,
                    c_complement: 0.5 * a - h,
                    noise: 0.5 * a + h,
                    errors: [e(&[l]), e(&[l, a, h]), e(&[a, h]), e(&[a, h])],
                })
            }
            _ => Err(Error::InvalidParameter {
                name: "weight (closed form exists for Unit and InverseNoiseVariance)",
                value: f64::NAN,
                requirement: "Weight::Unit or Weight::InverseNoiseVariance",
            }),
        }
    }

    /// $D = L\|X\|_F^2 + NrG$.
    pub fn d(&self, data_energy: f64, n: usize, r: usize) -> f64 {
        self.weight_integral * data_energy + (n * r) as f64 * self.noise
    }
}

fn check_range(schedule: &dyn Schedule, t0: f64, t1: f64) -> Result<()> {
    if t0.is_nan() || t1.is_nan() || t0 >= t1 {
        return Err(Error::InvalidParameter {
            name: "t1",
            value: t1,
            requirement: "greater than t0 (and both finite)",
        });
    }
    let dom = schedule.domain();
    // The quadrature evaluates only interior points, so closed ends suffice.
    for t in [t0, t1] {
        if !(t.is_finite() && t >= dom.lo && t <= dom.hi) {
            return Err(Error::TimeOutOfDomain {
                schedule: schedule.name(),
                t,
                lo: dom.lo,
                hi: dom.hi,
                lo_open: dom.lo_open,
                hi_open: dom.hi_open,
            });
        }
    }
    Ok(())
}

/// $\|U^\top X\|_F^2$ and $\|(I - UU^\top)X\|_F^2$, the second from double-length residuals.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProjectionEnergies {
    /// $\|U^\top X\|_F^2$.
    pub in_span: f64,
    /// $\|(I - UU^\top)X\|_F^2$ (cancellation-free).
    pub residual: f64,
}

/// Validates `(U, X)` for the loss functions: `U` orthonormal, `X` non-empty, finite, same rows.
pub(crate) fn check_basis_data(u: MatRef<'_, f64>, x: MatRef<'_, f64>) -> Result<()> {
    check_data(x)?;
    check_orthonormal("basis U", 0, u)?;
    ensure_dim("rows of U vs rows of X", x.nrows(), u.nrows())
}

/// The energies of `X` in and out of $\operatorname{span}U$.
///
/// # Errors
/// As [`dae_loss_closed_form`].
pub fn projection_energies(u: MatRef<'_, f64>, x: MatRef<'_, f64>) -> Result<ProjectionEnergies> {
    check_basis_data(u, x)?;
    let c = mul(u.transpose(), x);
    let res = residual_matrix(u, x);
    let (a, b) = (frobenius_norm(c.as_ref()), frobenius_norm(res.as_ref()));
    crate::error::ensure_finite_output_slice(
        "the projection energies ‖UᵀX‖², ‖(I − UUᵀ)X‖²",
        crate::error::DATA_TOO_LARGE,
        &[a * a, b * b],
    )?;
    Ok(ProjectionEnergies {
        in_span: a * a,
        residual: b * b,
    })
}

/// The exact $\varepsilon$-expectation of the loss at one noise level,
/// $\sum_i\mathbb E_\varepsilon\|x_U(\alpha x_i + \beta\varepsilon) - x_i\|^2$.
///
/// # Definition
/// $\|(I-UU^\top)X\|_F^2 + (1-a)^2\|U^\top X\|_F^2 + N r\,a(1-a)$, $a = \frac{\alpha^2}{\alpha^2+\beta^2}$.
///
/// # Errors
/// As [`dae_loss_closed_form`].
pub fn loss_at_level(u: MatRef<'_, f64>, x: MatRef<'_, f64>, level: NoiseLevel) -> Result<f64> {
    let e = projection_energies(u, x)?;
    finite_loss(level_loss(&e, u.ncols(), x.ncols(), level))
}

/// `Ok(v)` for a finite loss, else [`Error::Overflow`](crate::Error::Overflow).
fn finite_loss(v: f64) -> Result<f64> {
    crate::error::ensure_finite_output_slice("the DAE loss", crate::error::DATA_TOO_LARGE, &[v])?;
    Ok(v)
}

fn level_loss(e: &ProjectionEnergies, r: usize, n: usize, level: NoiseLevel) -> f64 {
    let (a, b) = level.fractions();
    e.residual + b * b * e.in_span + (n * r) as f64 * a * b
}

/// The DAE loss $\ell(U)$ from the K = 1 identity (closed form).
///
/// # Definition
/// $\ell(U) = L\|(I-UU^\top)X\|_F^2 + C'\|U^\top X\|_F^2 + NrG$, algebraically equal to
/// $-C\|U^\top X\|_F^2 + D$ (see [`LossCoefficients`]); the first form has no
/// cancellation when $\|U^\top X\|_F \approx \|X\|_F$.
///
/// # Errors
/// [`Error::Empty`] (no samples or `d = 0`), [`Error::NonFinite`], [`Error::NotOrthonormal`],
/// [`Error::InvalidCount`] (`r > d`), [`Error::DimensionMismatch`].
///
/// # Examples
/// ```
/// use diffusion_lowdim::reduction::{LossCoefficients, Weight, dae_loss_closed_form};
/// let u = faer::mat![[1.0], [0.0]];
/// let x = faer::mat![[3.0], [0.0]];                // on the line: only the noise term
/// let k = LossCoefficients::ve_analytic(&Weight::Unit, 0.0, 1.0)?;
/// let l = dae_loss_closed_form(u.as_ref(), x.as_ref(), &k)?;
/// assert!((l - (k.c_complement * 9.0 + k.noise)).abs() < 1e-15);
/// # Ok::<(), diffusion_lowdim::Error>(())
/// ```
pub fn dae_loss_closed_form(
    u: MatRef<'_, f64>,
    x: MatRef<'_, f64>,
    coefficients: &LossCoefficients,
) -> Result<f64> {
    let e = projection_energies(u, x)?;
    let k = coefficients;
    finite_loss(
        k.weight_integral * e.residual
            + k.c_complement * e.in_span
            + (x.ncols() * u.ncols()) as f64 * k.noise,
    )
}

/// The exact $\varepsilon$-expectation of the loss of the linear denoiser $x_U$ at one level, from its outputs.
///
/// For affine $D$, $D(\alpha x + \beta\varepsilon) = D(\alpha x) + \beta J\varepsilon$, so
/// $\mathbb E\|D(\alpha x+\beta\varepsilon) - x\|^2 = \|D(\alpha x) - x\|^2 + \beta^2\|J\|_F^2$. The family
/// $x_U = g_t UU^\top$ has $J_t = g_t UU^\top$ with $g_t$ = [`NoiseLevel::shrinkage`]; $\|UU^\top\|_F^2$ is
/// taken once from the model's Jacobian at the reference level $(1, 1)$ (where $g = 1/2$).
struct AffineLoss {
    model: Gaussian,
    projector_fro2: f64,
}

impl AffineLoss {
    fn new(u: MatRef<'_, f64>) -> Result<Self> {
        let model = Gaussian::subspace(u)?;
        let zero = Mat::<f64>::zeros(u.nrows(), 1);
        let jac = model.jacobian(zero.col(0), NoiseLevel::new(1.0, 1.0)?)?;
        let jf = 2.0 * frobenius_norm(jac.as_ref());
        Ok(Self {
            model,
            projector_fro2: jf * jf,
        })
    }

    fn at(&self, x: MatRef<'_, f64>, level: NoiseLevel) -> Result<f64> {
        let (d, n) = (x.nrows(), x.ncols());
        let xa = Mat::from_fn(d, n, |i, j| level.alpha() * x[(i, j)]);
        let out = self.model.posterior_mean(xa.as_ref(), level)?;
        let bias = crate::linalg::frobenius_distance(out.as_ref(), x);
        let gb = level.shrinkage() * level.beta();
        Ok(bias * bias + n as f64 * gb * gb * self.projector_fro2)
    }
}

/// The DAE loss by adaptive Gauss–Legendre quadrature in $t$ of the exact
/// $\varepsilon$-expectation of the actual denoiser's outputs.
///
/// # Definition
/// $\int_{t_0}^{t_1}\lambda_t\big(\sum_i\|x_U(\alpha_tx_i) - x_i\|^2 + N\beta_t^2\|J_U\|_F^2\big)dt$
/// with $x_U$ = [`Gaussian::subspace`]`(U)`'s posterior mean and $J_U = g_tUU^\top$ its Jacobian;
/// `Integral::error` is the stated quadrature error (see [`super::quadrature`]).
///
/// # Errors
/// As [`dae_loss_closed_form`] and [`LossCoefficients::quadrature`].
pub fn dae_loss_quadrature(
    u: MatRef<'_, f64>,
    x: MatRef<'_, f64>,
    schedule: &dyn Schedule,
    weight: &Weight,
    t0: f64,
    t1: f64,
) -> Result<Integral> {
    check_basis_data(u, x)?;
    check_range(schedule, t0, t1)?;
    let model = AffineLoss::new(u)?;
    integrate(
        |t| {
            let (lam, level) = weight_and_level(schedule, weight, t)?;
            if lam == 0.0 {
                return Ok(0.0);
            }
            Ok(lam * model.at(x, level)?)
        },
        t0,
        t1,
        QUAD_REL_TOL,
        QUAD_MAX_PANELS,
    )
}

/// The hard-max MoLRG loss (Theorem 3's second step) by quadrature in $t$ of the
/// exact $\varepsilon$-expectation of the actual per-point denoisers.
///
/// # Definition
/// Each sample $x_i$ is denoised by the component with the largest clean
/// projection, $k(i) = \arg\max_k\|U_k^\top x_i\|$ (first on ties), i.e. by
/// $x_{U_{k(i)}}$:
/// $\sum_i\int\lambda_t\,\mathbb E_\varepsilon\|x_{U_{k(i)}}(\alpha_tx_i + \beta_t\varepsilon) - x_i\|^2dt$.
///
/// # Errors
/// [`Error::Empty`] for no bases; as [`dae_loss_quadrature`] for each basis.
pub fn dae_loss_hard_max_quadrature(
    bases: &[MatRef<'_, f64>],
    x: MatRef<'_, f64>,
    schedule: &dyn Schedule,
    weight: &Weight,
    t0: f64,
    t1: f64,
) -> Result<Integral> {
    let labels = super::ksubspaces::assign(bases, x)?;
    check_range(schedule, t0, t1)?;
    let mut groups: Vec<(AffineLoss, Mat<f64>)> = Vec::new();
    for (k, u) in bases.iter().enumerate() {
        let idx: Vec<usize> = (0..x.ncols()).filter(|&i| labels[i] == k).collect();
        if idx.is_empty() {
            continue;
        }
        let xk = Mat::from_fn(x.nrows(), idx.len(), |i, j| x[(i, idx[j])]);
        groups.push((AffineLoss::new(*u)?, xk));
    }
    integrate(
        |t| {
            let (lam, level) = weight_and_level(schedule, weight, t)?;
            if lam == 0.0 {
                return Ok(0.0);
            }
            let mut s = 0.0;
            for (m, xk) in &groups {
                s += m.at(xk.as_ref(), level)?;
            }
            Ok(lam * s)
        },
        t0,
        t1,
        QUAD_REL_TOL,
        QUAD_MAX_PANELS,
    )
}

/// The value of a fixed rule $\sum_j w_j\lambda_{t_j}\,\ell_{t_j}$ with the exact per-level loss
/// [`loss_at_level`]: the quantity [`dae_loss_monte_carlo`] estimates without bias.
///
/// # Errors
/// As [`dae_loss_closed_form`]; schedule and weight errors at the nodes.
pub fn dae_loss_rule(
    u: MatRef<'_, f64>,
    x: MatRef<'_, f64>,
    schedule: &dyn Schedule,
    weight: &Weight,
    rule: &[(f64, f64)],
) -> Result<f64> {
    let e = projection_energies(u, x)?;
    let mut s = 0.0;
    for &(t, w) in rule {
        let (lam, level) = weight_and_level(schedule, weight, t)?;
        s += w * lam * level_loss(&e, u.ncols(), x.ncols(), level);
    }
    finite_loss(s)
}

/// A Monte Carlo estimate with its standard error.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MonteCarlo {
    /// The estimate.
    pub value: f64,
    /// Its estimated standard error (from the sample variances at each node).
    pub std_error: f64,
    /// Noise draws per node (each draw is one $\varepsilon$ per sample).
    pub samples_per_node: usize,
}

/// The DAE loss by Monte Carlo in $\varepsilon$ on a fixed rule in $t$.
///
/// # Definition
/// $\hat\ell = \sum_j w_j\lambda_{t_j}\frac1M\sum_{m=1}^M S_{jm}$,
/// $S_{jm} = \sum_i\|x_U(\alpha_{t_j}x_i + \beta_{t_j}\varepsilon_{ijm}) - x_i\|^2$ with independent
/// $\varepsilon_{ijm}\sim\mathcal N(0, I_d)$, drawn node by node, draw by draw, column by column
/// from `rng`. It is unbiased for [`dae_loss_rule`] on the same rule; the
/// standard error is $\big(\sum_j (w_j\lambda_{t_j})^2 s_j^2/M\big)^{1/2}$ with $s_j^2$
/// the sample variance of $S_{j\cdot}$.
///
/// # Errors
/// As [`dae_loss_closed_form`]; [`Error::InvalidCount`] for `samples_per_node < 2`.
pub fn dae_loss_monte_carlo(
    u: MatRef<'_, f64>,
    x: MatRef<'_, f64>,
    schedule: &dyn Schedule,
    weight: &Weight,
    rule: &[(f64, f64)],
    samples_per_node: usize,
    rng: &mut SeededRng,
) -> Result<MonteCarlo> {
    check_basis_data(u, x)?;
    if samples_per_node < 2 {
        return Err(Error::InvalidCount {
            name: "samples_per_node",
            value: samples_per_node,
            requirement: "at least 2 (for a standard error)",
        });
    }
    let model = Gaussian::subspace(u)?;
    let (d, n) = (x.nrows(), x.ncols());
    let m = samples_per_node as f64;
    let mut value = 0.0;
    let mut var = 0.0;
    let mut draws = vec![0.0; samples_per_node];
    for &(t, w) in rule {
        let (lam, level) = weight_and_level(schedule, weight, t)?;
        for s in draws.iter_mut() {
            let e = standard_normal(rng, d, n);
            let xt = Mat::from_fn(d, n, |i, j| {
                level.alpha() * x[(i, j)] + level.beta() * e[(i, j)]
            });
            let out = model.posterior_mean(xt.as_ref(), level)?;
            let dist = crate::linalg::frobenius_distance(out.as_ref(), x);
            *s = dist * dist;
        }
        let mean = draws.iter().sum::<f64>() / m;
        let sv = draws.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (m - 1.0);
        let c = w * lam;
        value += c * mean;
        var += c * c * sv / m;
    }
    crate::error::ensure_finite_output_slice(
        "the Monte Carlo DAE loss",
        crate::error::DATA_TOO_LARGE,
        &[value, var],
    )?;
    Ok(MonteCarlo {
        value,
        std_error: var.sqrt(),
        samples_per_node,
    })
}

/// The hard-max loss of $K$ bases at one noise level: each sample is denoised by the
/// component with the largest clean projection $k(i) = \arg\max_k\|U_k^\top x_i\|$ (first
/// on ties), with the exact $\varepsilon$-expectation of [`loss_at_level`].
///
/// # Definition
/// $\sum_k\big[\|(I-U_kU_k^\top)X_k\|_F^2 + (1-a)^2\|U_k^\top X_k\|_F^2 + N_kr_k\,a(1-a)\big]$, $X_k$ the
/// samples assigned to $k$, $a = \frac{\alpha^2}{\alpha^2+\beta^2}$. For $K = 1$ it is [`loss_at_level`].
///
/// # Errors
/// As [`crate::reduction::assign`] and [`loss_at_level`].
pub fn dae_loss_hard_max_at_level(
    bases: &[MatRef<'_, f64>],
    x: MatRef<'_, f64>,
    level: NoiseLevel,
) -> Result<f64> {
    let mut total = 0.0;
    for (u, xk) in hard_max_groups(bases, x)? {
        total += loss_at_level(u, xk.as_ref(), level)?;
    }
    finite_loss(total)
}

/// The hard-max loss of $K$ bases integrated over $[t_0, t_1]$: the K = 1 identity per
/// cluster, $\sum_k \big[L\|(I-U_kU_k^\top)X_k\|_F^2 + C'\|U_k^\top X_k\|_F^2 + N_kr_kG\big]$ with the
/// coefficients of [`LossCoefficients`] (the assignment does not depend on $t$).
///
/// # Errors
/// As [`crate::reduction::assign`] and [`dae_loss_closed_form`].
pub fn dae_loss_hard_max_closed_form(
    bases: &[MatRef<'_, f64>],
    x: MatRef<'_, f64>,
    coefficients: &LossCoefficients,
) -> Result<f64> {
    let mut total = 0.0;
    for (u, xk) in hard_max_groups(bases, x)? {
        total += dae_loss_closed_form(u, xk.as_ref(), coefficients)?;
    }
    finite_loss(total)
}

/// The samples of each non-empty hard-max cluster, with its basis.
fn hard_max_groups<'a>(
    bases: &[MatRef<'a, f64>],
    x: MatRef<'_, f64>,
) -> Result<Vec<(MatRef<'a, f64>, Mat<f64>)>> {
    let labels = super::ksubspaces::assign(bases, x)?;
    let mut groups = Vec::new();
    for (k, u) in bases.iter().enumerate() {
        let idx: Vec<usize> = (0..x.ncols()).filter(|&i| labels[i] == k).collect();
        if idx.is_empty() {
            continue;
        }
        groups.push((
            *u,
            Mat::from_fn(x.nrows(), idx.len(), |i, j| x[(i, idx[j])]),
        ));
    }
    Ok(groups)
}

/// The softmax loss of $K$ bases at one noise level, with the $\varepsilon$-expectation
/// moved inside the softmax (the first approximation of Theorem 3, `docs/reductions.md` §6).
///
/// # Definition
/// Per sample $x$, the weights $w_k = \operatorname{softmax}_k\big(\varphi(\alpha^2\|U_k^\top x\|^2 + \beta^2r_k)\big)$,
/// $\varphi = \frac{\alpha^2}{2\beta^2(\alpha^2+\beta^2)}$ (the logits of the MoLRG parameterization at
/// $\mathbb E_\varepsilon\|U_k^\top x_t\|^2$), are held fixed; the denoiser
/// $x_w(x_t) = g\sum_kw_kU_kU_k^\top x_t$ is then linear and its $\varepsilon$-expectation is exact:
/// $$\mathbb E_\varepsilon\|x_w(\alpha x + \beta\varepsilon) - x\|^2 = \Big\|\sum_kw_k\big((I-U_kU_k^\top)x + (1-a)U_kU_k^\top x\big)\Big\|^2 + a(1-a)\sum_{k,l}w_kw_l\|U_k^\top U_l\|_F^2,$$
/// with $a = \frac{\alpha^2}{\alpha^2+\beta^2}$ (so $g\alpha = a$, $g^2\beta^2 = a(1-a)$), with the residuals
/// $(I-U_kU_k^\top)x$ in double length: no cancellation at high SNR. For $K = 1$ it is
/// [`loss_at_level`]. Summed over the samples.
///
/// # Errors
/// As [`crate::reduction::assign`]; [`Error::Overflow`] for data beyond f64.
pub fn dae_loss_softmax_at_level(
    bases: &[MatRef<'_, f64>],
    x: MatRef<'_, f64>,
    level: NoiseLevel,
) -> Result<f64> {
    super::ksubspaces::assign(bases, x)?; // validation
    let (a, b) = level.fractions();
    let phi = level.logit_coefficient(1.0);
    let (alpha, beta) = (level.alpha(), level.beta());
    let kk = bases.len();
    let gram: Vec<f64> = (0..kk * kk)
        .map(|kl| {
            let f = frobenius_norm(mul(bases[kl / kk].transpose(), bases[kl % kk]).as_ref());
            f * f
        })
        .collect();
    let coeffs: Vec<Mat<f64>> = bases.iter().map(|u| mul(u.transpose(), x)).collect();
    let residuals: Vec<Mat<f64>> = bases.iter().map(|u| residual_matrix(*u, x)).collect();
    let d = x.nrows();
    let mut total = 0.0;
    for j in 0..x.ncols() {
        let q: Vec<f64> = coeffs
            .iter()
            .map(|c| (0..c.nrows()).map(|i| c[(i, j)] * c[(i, j)]).sum::<f64>())
            .collect();
        let mut w: Vec<f64> = q
            .iter()
            .zip(bases)
            .map(|(qk, u)| phi * (alpha * alpha * qk + beta * beta * u.ncols() as f64))
            .collect();
        crate::model::softmax_in_place(&mut w);
        let mut v = vec![0.0; d];
        for (k, u) in bases.iter().enumerate() {
            for (i, vi) in v.iter_mut().enumerate() {
                let p: f64 = (0..u.ncols()).map(|l| u[(i, l)] * coeffs[k][(l, j)]).sum();
                *vi += w[k] * (residuals[k][(i, j)] + b * p);
            }
        }
        let bias: f64 = v.iter().map(|t| t * t).sum();
        let mut var = 0.0;
        for k in 0..kk {
            for l in 0..kk {
                var += w[k] * w[l] * gram[k * kk + l];
            }
        }
        total += bias + a * b * var;
    }
    finite_loss(total)
}

/// The softmax loss of [`dae_loss_softmax_at_level`] integrated over $[t_0, t_1]$ with the
/// weight $\lambda_t$ by adaptive Gauss–Legendre quadrature (the weights depend on $t$).
///
/// # Errors
/// As [`dae_loss_softmax_at_level`] and [`dae_loss_quadrature`].
pub fn dae_loss_softmax_quadrature(
    bases: &[MatRef<'_, f64>],
    x: MatRef<'_, f64>,
    schedule: &dyn Schedule,
    weight: &Weight,
    t0: f64,
    t1: f64,
) -> Result<Integral> {
    super::ksubspaces::assign(bases, x)?;
    check_range(schedule, t0, t1)?;
    integrate(
        |t| {
            let (lam, level) = weight_and_level(schedule, weight, t)?;
            if lam == 0.0 {
                return Ok(0.0);
            }
            Ok(lam * dae_loss_softmax_at_level(bases, x, level)?)
        },
        t0,
        t1,
        QUAD_REL_TOL,
        QUAD_MAX_PANELS,
    )
}
