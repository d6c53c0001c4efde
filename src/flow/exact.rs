//! The exact probability flow of a Gaussian: the oracle of the solvers (R10).

use faer::{Mat, MatRef};

use super::{FlowMap, GridEnd, TimeGrid};
use crate::error::{Error, Result, ensure_dim, ensure_finite};
use crate::level::NoiseLevel;
use crate::linalg;
use crate::model::{Denoiser, Gaussian};
use crate::schedule::Schedule;

/// The exact probability-flow map of $\mathcal N(\mu, V\Lambda V^\top)$ between two noise levels.
///
/// # Definition
/// With $C_t = \alpha_t^2\Sigma + \beta_t^2I$ (the covariance of $p_t$) and $y = x_T - \alpha_T\mu$,
/// $$x_s = \alpha_s\mu + C_s^{1/2}C_T^{-1/2}y
///   = \alpha_s\mu + V\operatorname{diag}\!\Big(\sqrt{\tfrac{\alpha_s^2\lambda_i+\beta_s^2}{\alpha_T^2\lambda_i+\beta_T^2}}\Big)V^\top y +
///   \frac{\beta_s}{\beta_T}(I - VV^\top)y \qquad\text{(R10)}.$$
/// The target may be the clean end $(\alpha_s, \beta_s) = (1, 0)$, where the map is
/// $\mu + V\operatorname{diag}(\sqrt{\lambda_i/(\alpha_T^2\lambda_i+\beta_T^2)})V^\top y$ (in VE:
/// $\sqrt{\lambda_i/(\lambda_i+T^2)}$). It is linear in $x_T$, transports $p_T$ to $p_s$, and
/// solves the PF ODE for every schedule passing through the two levels
/// (`proofs/R10-probability-flow.md`). Each factor is a ratio of two `hypot`s, so
/// nothing over- or underflows.
///
/// # Errors
/// [`Error::InvalidParameter`] unless $\alpha_s \ge 0$, $\beta_s \ge 0$, finite and not both zero;
/// mapping: [`Error::DimensionMismatch`], [`Error::NonFinite`].
///
/// # Examples
/// ```
/// use diffusion_lowdim::flow::{FlowMap, GaussianFlow};
/// use diffusion_lowdim::{Gaussian, NoiseLevel};
/// // N(0, e₁e₁ᵀ) in R², VE from T = 2 to σ = 1: factor √(2/5) in span, 1/2 outside.
/// let g = Gaussian::subspace(faer::mat![[1.0], [0.0]].as_ref())?;
/// let f = GaussianFlow::between(&g, NoiseLevel::ve(2.0)?, 1.0, 1.0)?;
/// let x = f.map(faer::mat![[1.0], [1.0]].as_ref())?;
/// assert!((x[(0, 0)] - 0.4f64.sqrt()).abs() < 1e-15 && (x[(1, 0)] - 0.5).abs() < 1e-15);
/// # Ok::<(), diffusion_lowdim::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct GaussianFlow {
    model: Gaussian,
    from: NoiseLevel,
    to_alpha: f64,
    factors: Vec<f64>,
    complement: f64,
}

impl GaussianFlow {
    /// The flow of `model` from the level `from` to $(\alpha_s, \beta_s)$ = (`to_alpha`, `to_beta`).
    ///
    /// # Errors
    /// See [`GaussianFlow`].
    pub fn between(
        model: &Gaussian,
        from: NoiseLevel,
        to_alpha: f64,
        to_beta: f64,
    ) -> Result<Self> {
        for (name, v) in [("to_alpha", to_alpha), ("to_beta", to_beta)] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(Error::InvalidParameter {
                    name,
                    value: v,
                    requirement: "finite and ≥ 0",
                });
            }
        }
        if to_alpha == 0.0 && to_beta == 0.0 {
            return Err(Error::InvalidParameter {
                name: "to_beta",
                value: 0.0,
                requirement: "> 0 when to_alpha = 0",
            });
        }
        let factors = model
            .variances()
            .iter()
            .map(|&l| {
                let s = l.sqrt();
                (to_alpha * s).hypot(to_beta) / (from.alpha() * s).hypot(from.beta())
            })
            .collect();
        Ok(Self {
            model: model.clone(),
            from,
            to_alpha,
            factors,
            complement: to_beta / from.beta(),
        })
    }

    /// The flow from `from` to the clean data $(\alpha, \beta) = (1, 0)$.
    pub fn to_clean(model: &Gaussian, from: NoiseLevel) -> Self {
        Self::between(model, from, 1.0, 0.0).expect("(1, 0) is a valid target")
    }

    /// The flow over a grid of a schedule: from $t_0$ to $t_n$, or to the clean data.
    ///
    /// # Errors
    /// The schedule's errors at the grid's times.
    pub fn on_grid(model: &Gaussian, schedule: &dyn Schedule, grid: &TimeGrid) -> Result<Self> {
        let from = schedule.level(grid.start())?;
        match grid.end() {
            GridEnd::Clean => Ok(Self::to_clean(model, from)),
            GridEnd::Last => {
                let l = schedule.level(grid.last())?;
                Self::between(model, from, l.alpha(), l.beta())
            }
        }
    }

    /// The linear part $A = V\operatorname{diag}(f_i)V^\top + \frac{\beta_s}{\beta_T}(I - VV^\top)$ as a `d × d` matrix.
    pub fn matrix(&self) -> Mat<f64> {
        let d = self.model.dim();
        let v = self.model.basis();
        let scaled = Mat::from_fn(d, v.ncols(), |i, j| {
            v[(i, j)] * (self.factors[j] - self.complement)
        });
        let mut a = linalg::mul(scaled.as_ref(), v.transpose());
        for i in 0..d {
            a[(i, i)] += self.complement;
        }
        a
    }

    /// The per-direction factors $f_i = \sqrt{(\alpha_s^2\lambda_i+\beta_s^2)/(\alpha_T^2\lambda_i+\beta_T^2)}$.
    pub fn factors(&self) -> &[f64] {
        &self.factors
    }

    /// The factor $\beta_s/\beta_T$ outside $\operatorname{span}V$.
    pub fn complement_factor(&self) -> f64 {
        self.complement
    }
}

impl FlowMap for GaussianFlow {
    fn dim(&self) -> usize {
        self.model.dim()
    }

    fn columnwise(&self) -> bool {
        true
    }

    fn map(&self, x_start: MatRef<'_, f64>) -> Result<Mat<f64>> {
        let d = self.model.dim();
        ensure_dim(
            "rows of the starting points vs model dimension",
            d,
            x_start.nrows(),
        )?;
        ensure_finite("starting points", x_start)?;
        let mu = self.model.mean();
        let v = self.model.basis();
        let (alpha_from, g) = (self.from.alpha(), self.complement);
        let y = Mat::from_fn(d, x_start.ncols(), |i, j| {
            (-alpha_from).mul_add(mu[i], x_start[(i, j)])
        });
        let mut c = linalg::mul(v.transpose(), y.as_ref());
        for j in 0..c.ncols() {
            for k in 0..c.nrows() {
                c[(k, j)] *= self.factors[k] - g;
            }
        }
        let mut out = Mat::from_fn(d, x_start.ncols(), |i, j| {
            self.to_alpha.mul_add(mu[i], g * y[(i, j)])
        });
        linalg::gemm_acc(out.as_mut(), v, c.as_ref(), 1.0);
        Ok(out)
    }
}
