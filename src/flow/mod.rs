//! The probability-flow ODE (R10): solvers, time grids and the exact Gaussian flow.
//!
//! # Definition
//! For the forward process $x_t = \alpha_t x_0 + \beta_t\varepsilon$ the
//! probability-flow ODE, written with the denoiser $D(x, t) = \mathbb E[x_0\mid x_t = x]$, is
//! $$\frac{\mathrm dx}{\mathrm dt} = \frac{\beta'_t}{\beta_t}\,x -
//!   \Big(\frac{\beta'_t}{\beta_t} - \frac{\alpha'_t}{\alpha_t}\Big)\alpha_t\,D(x, t)
//!   = \frac{\beta'_t}{\beta_t}\big(x - \alpha_t D(x,t)\big) + \alpha'_t\,D(x, t).$$
//! The crate evaluates the right-hand form, which never divides by $\alpha_t$, so
//! schedules whose signal scale vanishes at the noisy end (rectified flow and the
//! cosine schedule at $t = 1$) are integrated without special cases. In VE
//! ($\alpha = 1$, $\beta = t$) it is $\mathrm dx/\mathrm dt = (x - D)/t = -t\nabla\log p_t$.
//! Derivation: `docs/flow.md`; proof of the exact Gaussian flow: `proofs/R10-probability-flow.md`.
//!
//! # The model / solver split
//! A [`ProbabilityFlow`] pairs any [`Schedule`] with any [`Denoiser`] (a user's
//! own included) and exposes only the velocity and the denoiser; a [`Solver`]
//! integrates a `ProbabilityFlow` over a [`TimeGrid`] and knows nothing of the
//! model. A [`Sampler`] bundles the three into a [`FlowMap`] (noise $\mapsto$ sample), which is
//! all the metrics of [`crate::metric`] see; [`GaussianFlow`] is the exact
//! flow map of a Gaussian, the oracle of the solvers.
//!
//! # The clean end
//! $\beta = 0$ is not a [`NoiseLevel`]: the posterior mean does not exist there
//! and the velocity has a $0/0$ form. A grid that ends at the clean data takes
//! its last step as EDM does: in the scaled variables $\tilde x = x/\alpha$,
//! $\sigma = \beta/\alpha$ the ODE reads $\mathrm d\tilde x/\mathrm d\sigma = (\tilde x - D)/\sigma$,
//! and one Euler step from $\sigma_n$ to $\sigma = 0$ gives exactly
//! $\tilde x_0 = D(x_{t_n}, t_n)$. Every solver ends this way, so a sample is
//! the denoiser's output at the last noise level of the grid.
//!
//! | solver | order | evaluations per step |
//! |---|---|---|
//! | [`Euler`] | 1 | 1 |
//! | [`Heun`] (EDM) | 2 | 2 |
//! | [`Rk4`] | 4 | 4 |
//! | [`Ddim`] (deterministic, first-order exponential integrator) | 1 | 1 |
//! | [`DpmSolverPP2M`] (second-order multistep exponential integrator) | 2 | 1 |
//! | [`DormandPrince`] (adaptive 5(4)) | 5 | 6 (FSAL) |

mod exact;
mod grid;
mod reduced;
mod sampler;
mod solver;

pub use exact::GaussianFlow;
pub use grid::{EDM_RHO, EDM_SIGMA_MAX, EDM_SIGMA_MIN, GridEnd, TimeGrid};
pub use reduced::SubspaceSampler;
pub use sampler::Sampler;
pub use solver::{
    Ddim, DormandPrince, DpmSolverPP2M, Euler, Heun, NamedSolver, Rk4, SOLVERS, Solution,
    SolveInfo, Solver, find_solver, solver_names,
};

use faer::{Mat, MatRef};

use crate::error::{Result, ensure_dim, ensure_finite};
use crate::level::NoiseLevel;
use crate::model::Denoiser;
use crate::schedule::{Coefficients, Schedule};

/// A map from starting noise to samples, column by column: what the metrics see.
///
/// Implemented by [`Sampler`] (a solver applied to a denoiser's probability
/// flow) and by [`GaussianFlow`] (the exact flow of a Gaussian). Users can
/// implement it for anything that turns a `d × B` batch of starting points into
/// a `d × B` batch of samples (e.g. a trained network with its own sampler).
///
/// # Examples
/// ```
/// use diffusion_lowdim::flow::{FlowMap, GaussianFlow};
/// use diffusion_lowdim::{Gaussian, NoiseLevel};
/// let g = Gaussian::new(&[0.0], faer::mat![[1.0]].as_ref(), &[3.0])?;
/// // VE from T = 1 to the data: x0 = sqrt(λ/(λ+T²)) x_T = (√3/2) x_T.
/// let flow = GaussianFlow::to_clean(&g, NoiseLevel::ve(1.0)?);
/// let x = flow.map(faer::mat![[2.0]].as_ref())?;
/// assert!((x[(0, 0)] - 3f64.sqrt()).abs() < 1e-15);
/// # Ok::<(), diffusion_lowdim::Error>(())
/// ```
pub trait FlowMap: Send + Sync {
    /// Ambient dimension $d$.
    fn dim(&self) -> usize;

    /// Maps every column of `x_start` (`d × B`) to its sample.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`](crate::Error::DimensionMismatch),
    /// [`Error::NonFinite`](crate::Error::NonFinite), and the solver's or model's errors.
    fn map(&self, x_start: MatRef<'_, f64>) -> Result<Mat<f64>>;

    /// `true` if each output column of [`FlowMap::map`] depends only on the same
    /// input column, so that mapping a batch in column blocks gives the same
    /// result (fixed-step solvers over a [`Denoiser`], the exact
    /// Gaussian flow). `false` (the default) where a batch is coupled, e.g. an
    /// adaptive solver choosing one step size for the whole batch.
    fn columnwise(&self) -> bool {
        false
    }
}

/// The probability-flow ODE of a denoiser under a schedule.
///
/// # Definition
/// The velocity $v(t, x) = \frac{\beta'_t}{\beta_t}(x - \alpha_t D) + \alpha'_t D$,
/// $D = D(x, (\alpha_t, \beta_t))$, evaluated on a whole `d × B` batch with one
/// call of the denoiser.
///
/// # Errors
/// Evaluation fails with [`Error::TimeOutOfDomain`](crate::Error::TimeOutOfDomain)
/// outside the schedule's domain, [`Error::InvalidNoiseLevel`](crate::Error::InvalidNoiseLevel)
/// where $\beta_t = 0$, and the denoiser's errors (shapes, non-finite input).
///
/// # Examples
/// ```
/// use diffusion_lowdim::flow::ProbabilityFlow;
/// use diffusion_lowdim::schedule::Ve;
/// use diffusion_lowdim::Gaussian;
/// // N(0, 1) in VE: v(t, x) = (x − D)/t with D = x/(1+t²), so v(2, 5) = 5·(4/5)/2 = 2.
/// let g = Gaussian::new(&[0.0], faer::mat![[1.0]].as_ref(), &[1.0])?;
/// let flow = ProbabilityFlow::new(&Ve, &g);
/// let v = flow.velocity(2.0, faer::mat![[5.0]].as_ref())?;
/// assert!((v[(0, 0)] - 2.0).abs() < 1e-15);
/// # Ok::<(), diffusion_lowdim::Error>(())
/// ```
#[derive(Clone, Copy)]
pub struct ProbabilityFlow<'a> {
    schedule: &'a dyn Schedule,
    denoiser: &'a dyn Denoiser,
}

impl core::fmt::Debug for ProbabilityFlow<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ProbabilityFlow")
            .field("schedule", &self.schedule)
            .field("dim", &self.denoiser.dim())
            .finish()
    }
}

impl<'a> ProbabilityFlow<'a> {
    /// The flow of `denoiser` under `schedule`.
    pub fn new(schedule: &'a dyn Schedule, denoiser: &'a dyn Denoiser) -> Self {
        Self { schedule, denoiser }
    }

    /// The schedule.
    pub fn schedule(&self) -> &'a dyn Schedule {
        self.schedule
    }

    /// The denoiser.
    pub fn denoiser(&self) -> &'a dyn Denoiser {
        self.denoiser
    }

    /// Ambient dimension $d$.
    pub fn dim(&self) -> usize {
        self.denoiser.dim()
    }

    /// Coefficients and noise level at `t`.
    ///
    /// # Errors
    /// As [`Schedule::coefficients`], and [`Error::InvalidNoiseLevel`](crate::Error::InvalidNoiseLevel) where $\beta_t = 0$.
    pub fn at(&self, t: f64) -> Result<(Coefficients, NoiseLevel)> {
        let c = self.schedule.coefficients(t)?;
        let l = c.level()?;
        Ok((c, l))
    }

    /// $D(x, t)$ for every column of `x`.
    ///
    /// # Errors
    /// See [`ProbabilityFlow`].
    pub fn denoise(&self, t: f64, x: MatRef<'_, f64>) -> Result<Mat<f64>> {
        let (_, level) = self.at(t)?;
        self.denoiser.posterior_mean(x, level)
    }

    /// The velocity $v(t, x)$ for every column of `x`.
    ///
    /// # Errors
    /// See [`ProbabilityFlow`].
    pub fn velocity(&self, t: f64, x: MatRef<'_, f64>) -> Result<Mat<f64>> {
        let (c, level) = self.at(t)?;
        let mut v = self.denoiser.posterior_mean(x, level)?;
        // (β'/β)(x − αD) + α'D, with x − αD rounded once.
        crate::linalg::fused::velocity_in_place(c.dbeta / c.beta, c.alpha, c.dalpha, x, &mut v);
        Ok(v)
    }

    /// Checks a batch of starting points: `d` rows, finite entries.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`](crate::Error::DimensionMismatch), [`Error::NonFinite`](crate::Error::NonFinite).
    pub fn check_start(&self, x: MatRef<'_, f64>) -> Result<()> {
        ensure_dim(
            "rows of the starting points vs model dimension",
            self.dim(),
            x.nrows(),
        )?;
        ensure_finite("starting points", x)
    }
}
