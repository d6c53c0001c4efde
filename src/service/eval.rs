//! Ground truth on the user's inputs: what `diffusion-lowdim eval` computes.
//!
//! Inputs and outputs are batch-first [`Array`]s (`(B, d)`); the crate's
//! models work on `d × B` matrices. Every function here is a thin adapter: the
//! mathematics is in [`crate::model`] and [`crate::tweedie`].
//!
//! # Examples
//! ```
//! use diffusion_lowdim::service::eval::{Quantity, evaluate};
//! use diffusion_lowdim::io::npy::Array;
//! use diffusion_lowdim::{Gaussian, NoiseLevel};
//! let g = Gaussian::subspace(faer::mat![[1.0], [0.0]].as_ref())?;
//! let x = Array::new(vec![1, 2], vec![2.0, 3.0])?;               // one point (2, 3)
//! let out = evaluate(&g, &x, "x.npy".as_ref(), NoiseLevel::new(0.8, 0.6)?, Quantity::PosteriorMean)?;
//! assert_eq!(out.shape(), &[1, 2]);
//! assert!((out.data()[0] - 1.6).abs() < 1e-15);
//! # Ok::<(), diffusion_lowdim::io::InteropError>(())
//! ```

use std::path::Path;

use faer::{Mat, MatRef};
use rayon::prelude::*;

use crate::flow::{FlowMap, GaussianFlow, GridEnd, ProbabilityFlow, SolveInfo, Solver, TimeGrid};
use crate::io::Result;
use crate::io::model_file::{LoadedModel, Model};
use crate::io::npy::Array;
use crate::level::NoiseLevel;
use crate::metric::{FeatureMap, LinearFeatures, Pfd, PfdEstimate};
use crate::model::{Denoiser, ExactModel, Gaussian};
use crate::schedule::Schedule;
use crate::tweedie::{self, Prediction};

/// What to evaluate at each point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Quantity {
    /// $\mathbb E[x_0\mid x_t]$, output `(B, d)`.
    PosteriorMean,
    /// $\nabla\log p_t(x_t)$, output `(B, d)`.
    Score,
    /// $\nabla_{x_t}\mathbb E[x_0\mid x_t]$, output `(B, d, d)` (row `i`, column `j` = $\partial\hat x_{0,i}/\partial x_{t,j}$).
    Jacobian,
}

impl Quantity {
    /// The name used on the command line and in golden manifests.
    pub fn name(self) -> &'static str {
        match self {
            Self::PosteriorMean => "posterior_mean",
            Self::Score => "score",
            Self::Jacobian => "jacobian",
        }
    }
}

/// Evaluates `quantity` of `model` at every row of `x` (`(B, d)`), at `level`.
///
/// `x_path` names the input in errors.
///
/// # Errors
/// [`crate::io::InteropError::WrongRank`] / [`crate::io::InteropError::WrongShape`] if `x` is not
/// `(B, d)` with the model's `d`, [`crate::io::InteropError::NonFinite`] for NaN/inf,
/// and the model's own errors.
pub fn evaluate(
    model: &dyn ExactModel,
    x: &Array,
    x_path: &Path,
    level: NoiseLevel,
    quantity: Quantity,
) -> Result<Array> {
    x.ensure_finite(x_path)?;
    let xt = x.to_batch(x_path, "x", Some(model.dim()))?;
    evaluate_matrix(model, &xt, level, quantity)
}

/// As [`evaluate`], on a `d × B` matrix.
///
/// # Errors
/// The model's errors.
pub fn evaluate_matrix(
    model: &dyn ExactModel,
    xt: &Mat<f64>,
    level: NoiseLevel,
    quantity: Quantity,
) -> Result<Array> {
    Ok(match quantity {
        Quantity::PosteriorMean => {
            Array::from_batch(model.posterior_mean(xt.as_ref(), level)?.as_ref())
        }
        Quantity::Score => Array::from_batch(model.score(xt.as_ref(), level)?.as_ref()),
        Quantity::Jacobian => {
            let (d, b) = (xt.nrows() as u128, xt.ncols() as u128);
            // The matrices and their batch-first copy.
            crate::io::limits::ensure_f64s_fit(
                &format!("the Jacobians of {b} points in dimension {d}"),
                &[b, d, d, 2],
            )?;
            // One point per task; results collected in order (deterministic).
            let js: Vec<crate::Result<Mat<f64>>> = (0..xt.ncols())
                .into_par_iter()
                .map(|j| model.jacobian(xt.col(j), level))
                .collect();
            let js: Vec<Mat<f64>> = js.into_iter().collect::<crate::Result<_>>()?;
            Array::from_matrices(&js)?
        }
    })
}

/// Parses a prediction-type name: `x0`, `eps`, `v`, `score`.
pub fn parse_prediction(name: &str) -> Option<Prediction> {
    Prediction::ALL.into_iter().find(|p| p.name() == name)
}

/// Converts predictions `value` (`(B, d)`) made at `x` (`(B, d)`) from one type to another.
///
/// # Errors
/// Shape errors naming the files, NaN/inf, and [`crate::Error::UndefinedAtLevel`]
/// for conversions to $\hat x_0$ or $\hat v$ at $\alpha = 0$.
pub fn convert(
    from: Prediction,
    value: &Array,
    value_path: &Path,
    x: &Array,
    x_path: &Path,
    level: NoiseLevel,
    to: Prediction,
) -> Result<Array> {
    x.ensure_finite(x_path)?;
    value.ensure_finite(value_path)?;
    let xt = x.to_batch(x_path, "x", None)?;
    let v = value.to_batch(value_path, "prediction", Some(xt.nrows()))?;
    value.expect_axis(
        value_path,
        "prediction",
        0,
        xt.ncols(),
        "the number of points B in x",
    )?;
    let out = tweedie::convert(from, v.as_ref(), xt.as_ref(), level, to)?;
    Ok(Array::from_batch(out.as_ref()))
}

/// How a noise level is given on the command line.
#[derive(Debug, Clone, PartialEq)]
pub enum LevelSpec {
    /// `--alpha A --beta B`.
    AlphaBeta {
        /// Signal scale.
        alpha: f64,
        /// Noise scale.
        beta: f64,
    },
    /// `--sigma S`: the VE level $(1, \sigma)$ (EDM, k-diffusion).
    Sigma(f64),
    /// `--schedule NAME --t T`: a crate schedule or a library preset at its own time variable.
    Schedule {
        /// Schedule or preset name.
        name: String,
        /// Time in that schedule's coordinates.
        t: f64,
        /// Options of library presets (precision, steps, spacing).
        options: super::presets::TableOptions,
    },
}

impl LevelSpec {
    /// The noise level.
    ///
    /// # Errors
    /// [`crate::Error::InvalidNoiseLevel`], [`crate::Error::TimeOutOfDomain`], and
    /// [`crate::Error::Unknown`] for an unknown schedule name (listing the known ones).
    pub fn resolve(&self) -> Result<NoiseLevel> {
        Ok(match self {
            Self::AlphaBeta { alpha, beta } => NoiseLevel::new(*alpha, *beta)?,
            Self::Sigma(s) => NoiseLevel::ve(*s)?,
            Self::Schedule { name, t, options } => match crate::schedule::find_schedule(name) {
                Some(s) => s.build().level(*t)?,
                None => match super::presets::find(name) {
                    Ok(p) => p.level_at(*t, options)?,
                    Err(_) => {
                        let mut known = crate::schedule::schedule_names();
                        known.extend(super::presets::PRESETS.iter().map(|p| p.name));
                        return Err(crate::Error::Unknown {
                            kind: "schedule",
                            name: name.clone(),
                            known: known.join(", "),
                        }
                        .into());
                    }
                },
            },
        })
    }
}

// ---------------------------------------------------------------- probability flow

/// A probability-flow solver by name (see [`crate::flow`]).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(tag = "name", rename_all = "kebab-case")]
pub enum SolverSpec {
    /// [`crate::flow::Euler`] (order 1).
    Euler,
    /// [`crate::flow::Heun`], EDM's sampler (order 2).
    Heun,
    /// [`crate::flow::Rk4`] (order 4).
    Rk4,
    /// [`crate::flow::Ddim`], deterministic DDIM (order 1).
    Ddim,
    /// [`crate::flow::DpmSolverPP2M`] (order 2, multistep).
    #[serde(rename = "dpm-solver++2m")]
    DpmSolverPP2M,
    /// [`crate::flow::DormandPrince`], adaptive 5(4); uses only the grid's ends.
    #[serde(rename = "dopri5")]
    DormandPrince {
        /// Relative tolerance.
        rtol: f64,
        /// Absolute tolerance.
        atol: f64,
    },
    /// The exact flow of a Gaussian model ([`GaussianFlow`]): no discretization.
    Exact,
}

impl SolverSpec {
    /// Parses a solver name (`rtol`, `atol` are used by `dopri5` only).
    ///
    /// # Errors
    /// [`crate::Error::Unknown`] listing the solver list ([`crate::flow::SOLVERS`]).
    pub fn parse(name: &str, rtol: f64, atol: f64) -> Result<Self> {
        let entry = crate::flow::find_solver(name)?;
        Ok(match entry.name {
            "euler" => Self::Euler,
            "heun" => Self::Heun,
            "rk4" => Self::Rk4,
            "ddim" => Self::Ddim,
            "dpm-solver++2m" => Self::DpmSolverPP2M,
            "dopri5" => Self::DormandPrince { rtol, atol },
            _ => Self::Exact,
        })
    }

    /// Its entry in the solver list.
    pub fn entry(&self) -> &'static crate::flow::NamedSolver {
        crate::flow::find_solver(self.name()).expect("every variant is in the solver list")
    }

    /// The name used on the command line and in golden manifests.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Euler => "euler",
            Self::Heun => "heun",
            Self::Rk4 => "rk4",
            Self::Ddim => "ddim",
            Self::DpmSolverPP2M => "dpm-solver++2m",
            Self::DormandPrince { .. } => "dopri5",
            Self::Exact => "exact",
        }
    }

    /// Denoiser evaluations per step of a fixed-step solver (1 for the others).
    pub fn stages(&self) -> usize {
        self.entry().stages
    }

    /// The crate's solver (`None` for [`SolverSpec::Exact`]).
    ///
    /// # Errors
    /// [`crate::Error::InvalidParameter`] for invalid Dormand–Prince tolerances.
    pub fn solver(&self) -> Result<Option<Box<dyn Solver>>> {
        let (rtol, atol) = match *self {
            Self::DormandPrince { rtol, atol } => (rtol, atol),
            _ => (0.0, 0.0),
        };
        Ok(self.entry().build(rtol, atol)?)
    }
}

/// Bytes per step of a flow's grid: its times, its noise levels and the solver's mesh
/// (an estimate, see [`crate::io::limits`]).
pub const GRID_BYTES_PER_STEP: u128 = 24;

/// Bytes per noise and per dimension of [`pfd`] with drawn noises: the noises, two flow
/// outputs, the solvers' stage states and the features (an estimate).
pub const PFD_BYTES_PER_ENTRY: u128 = 8 * 8;

/// The time grid of a flow.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(tag = "grid", rename_all = "kebab-case")]
pub enum GridSpec {
    /// The EDM / Karras grid: `steps` noise levels $\sigma_i$ from `sigma_max` down to
    /// `sigma_min` (exponent `rho`), mapped to the schedule's times
    /// ($\sigma = \beta/\alpha$), then the clean end (EDM's Euler last step, whose result
    /// is $D(x_{t_n}, t_n)$).
    Karras {
        /// Number of noise levels (`steps = 1`: the single level `sigma_max`).
        steps: usize,
        /// Smallest level (EDM: 0.002).
        sigma_min: f64,
        /// Largest level (EDM: 80).
        sigma_max: f64,
        /// Exponent (EDM: 7).
        rho: f64,
    },
    /// `steps` equal steps in $t$ (or in $\log t$) from `t_start` down to `t_end`,
    /// optionally followed by the clean end.
    Times {
        /// Number of steps.
        steps: usize,
        /// First time $t_0$.
        t_start: f64,
        /// Last time $t_n$.
        t_end: f64,
        /// Equal steps in $\log t$ instead of $t$.
        log: bool,
        /// Add the clean-end step ($x \mapsto D(x_{t_n}, t_n)$).
        clean: bool,
    },
}

impl GridSpec {
    /// EDM's default grid with `steps` levels ($\sigma \in [0.002, 80]$, $\rho = 7$).
    pub fn edm(steps: usize) -> Self {
        Self::Karras {
            steps,
            sigma_min: crate::flow::EDM_SIGMA_MIN,
            sigma_max: crate::flow::EDM_SIGMA_MAX,
            rho: crate::flow::EDM_RHO,
        }
    }

    /// The grid for a schedule.
    ///
    /// # Errors
    /// [`crate::io::InteropError::BudgetExceeded`] for a number of steps whose grid does not
    /// fit in the memory budget (checked first); the errors of [`TimeGrid::karras`],
    /// [`TimeGrid::uniform`], [`TimeGrid::log_uniform`].
    pub fn build(&self, schedule: &dyn Schedule) -> Result<TimeGrid> {
        let steps = self.steps();
        crate::io::limits::ensure_count_fits(
            "--steps",
            steps as u128,
            2,
            GRID_BYTES_PER_STEP,
            0,
            "",
        )?;
        Ok(match *self {
            Self::Karras {
                steps,
                sigma_min,
                sigma_max,
                rho,
            } => TimeGrid::karras(schedule, steps, sigma_min, sigma_max, rho)?,
            Self::Times {
                steps,
                t_start,
                t_end,
                log,
                clean,
            } => {
                let g = if log {
                    TimeGrid::log_uniform(steps, t_start, t_end)?
                } else {
                    TimeGrid::uniform(steps, t_start, t_end)?
                };
                if clean {
                    g.with_end(GridEnd::Clean)?
                } else {
                    g
                }
            }
        })
    }

    /// Number of steps as given (without the clean end).
    pub fn steps(&self) -> usize {
        match *self {
            Self::Karras { steps, .. } | Self::Times { steps, .. } => steps,
        }
    }
}

/// A probability flow to run: schedule, solver and grid.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FlowSpec {
    /// A crate schedule ([`crate::schedule::SCHEDULES`]): the ODE needs $\alpha'_t, \beta'_t$.
    pub schedule: String,
    /// The solver.
    pub solver: SolverSpec,
    /// The grid.
    pub grid: GridSpec,
}

impl FlowSpec {
    /// The schedule.
    ///
    /// # Errors
    /// [`crate::Error::Unknown`] listing [`crate::schedule::SCHEDULES`] (library presets are
    /// tables without derivatives; use `ve` for EDM / k-diffusion σ grids and
    /// `ddpm-linear`, `ddpm-scaled-linear`, `ddpm-cosine` for diffusers' tables).
    pub fn schedule(&self) -> Result<Box<dyn Schedule>> {
        crate::schedule::find_schedule(&self.schedule)
            .map(|s| s.build())
            .ok_or_else(|| {
                crate::Error::Unknown {
                    kind: "flow schedule (a crate schedule; presets are tables without \
                       derivatives: use ve for EDM/k-diffusion sigma grids, ddpm-* for \
                       diffusers tables)",
                    name: self.schedule.clone(),
                    known: crate::schedule::schedule_names().join(", "),
                }
                .into()
            })
    }

    /// The starting noise scale $\beta_{t_0}$ (the $T$ of $x_T \sim \mathcal N(0, T^2I)$ in VE).
    ///
    /// # Errors
    /// The schedule's and the grid's errors.
    pub fn noise_scale(&self) -> Result<f64> {
        let s = self.schedule()?;
        let g = self.grid.build(s.as_ref())?;
        Ok(s.level(g.start())?.beta())
    }
}

/// The result of [`flow_matrix`]: the end states and the solver's diagnostics.
#[derive(Debug, Clone)]
pub struct FlowOutput {
    /// The states at the end of the grid (`d × B`); samples if the grid ends clean.
    pub x: Mat<f64>,
    /// Steps, evaluations, mesh (empty for the exact flow).
    pub info: SolveInfo,
}

/// The flow map of `model` under `spec` applied to every column of `x` (`d × B`).
///
/// With [`SolverSpec::Exact`] (Gaussian models only) the result is the exact
/// flow from $t_0$ to $t_n$ ([`GaussianFlow::between`]) followed, for a grid with a
/// clean end, by $D(\cdot, t_n)$ — the limit of every solver on that grid as the
/// steps shrink (EDM's convention), which differs from the exact flow to $\beta = 0$
/// by $O(\sigma_n^2/\lambda)$.
///
/// # Errors
/// [`crate::io::InteropError::Unsupported`] naming the model file for `exact` with a
/// non-Gaussian model; the schedule's, grid's and solver's errors.
pub fn flow_matrix(model: &LoadedModel, x: MatRef<'_, f64>, spec: &FlowSpec) -> Result<FlowOutput> {
    check_solver(model, spec)?;
    flow_of(&model.model, x, spec)
}

/// As [`flow_matrix`], for a model without a file.
///
/// # Errors
/// As [`flow_matrix`]; `exact` with a non-Gaussian model is [`crate::Error::Unknown`].
pub fn flow_of(model: &Model, x: MatRef<'_, f64>, spec: &FlowSpec) -> Result<FlowOutput> {
    let f = ModelFlow::new(model, spec)?;
    Ok(f.run(x)?)
}

/// Checks that `spec`'s solver can run on `model` (`exact` needs a Gaussian).
///
/// # Errors
/// [`crate::io::InteropError::Unsupported`] naming the model file.
pub fn check_solver(model: &LoadedModel, spec: &FlowSpec) -> Result<()> {
    if spec.solver == SolverSpec::Exact && !matches!(model.model, Model::Gaussian(_)) {
        return Err(crate::io::InteropError::Unsupported {
            path: model.path.clone(),
            problem: format!(
                "--solver exact needs a Gaussian model (kinds gaussian, pca); this is a {} \
                 model: use a solver ({})",
                model.kind.name(),
                crate::flow::solver_names().join(", ")
            ),
        });
    }
    Ok(())
}

/// The exact Gaussian flow over a grid, with the solvers' clean end (see [`flow_matrix`]).
///
/// # Errors
/// The schedule's errors at the grid's times; [`crate::Error::DimensionMismatch`], [`crate::Error::NonFinite`].
pub fn exact_gaussian_flow(
    g: &Gaussian,
    schedule: &dyn Schedule,
    grid: &TimeGrid,
    x: MatRef<'_, f64>,
) -> crate::Result<Mat<f64>> {
    let from = schedule.level(grid.start())?;
    // The end may be the clean data itself (β = 0, e.g. VE at t = 0), which is no noise
    // level but a valid target of the exact flow (its limit exists: the projection onto
    // the support); so take the raw coefficients there.
    let end = schedule.coefficients(grid.last())?;
    let moved = if grid.times().len() > 1 {
        GaussianFlow::between(g, from, end.alpha, end.beta)?.map(x)?
    } else {
        crate::error::ensure_dim(
            "rows of the starting points vs model dimension",
            g.dim(),
            x.nrows(),
        )?;
        crate::error::ensure_finite("starting points", x)?;
        x.to_owned()
    };
    match grid.end() {
        // At β = 0, D(x, t) = x/α exactly (x_t = α x_0).
        #[allow(clippy::float_cmp, reason = "exactly the clean end")]
        GridEnd::Clean if end.beta == 0.0 && end.alpha > 0.0 => {
            Ok(Mat::from_fn(moved.nrows(), moved.ncols(), |i, j| {
                moved[(i, j)] / end.alpha
            }))
        }
        GridEnd::Clean => g.posterior_mean(moved.as_ref(), end.level()?),
        GridEnd::Last => Ok(moved),
    }
}

/// [`flow_matrix`] on a batch-first `(B, d)` array (`x_path` names it in errors).
///
/// # Errors
/// As [`evaluate`] for the input, and as [`flow_matrix`].
pub fn flow(
    model: &LoadedModel,
    x: &Array,
    x_path: &Path,
    spec: &FlowSpec,
) -> Result<(Array, SolveInfo)> {
    x.ensure_finite(x_path)?;
    let xt = x.to_batch(x_path, "x", Some(model.model.dim()))?;
    let out = flow_matrix(model, xt.as_ref(), spec)?;
    Ok((Array::from_batch(out.x.as_ref()), out.info))
}

/// The flow map of a loaded model under a [`FlowSpec`]: a [`FlowMap`] for the metrics.
struct ModelFlow<'a> {
    model: &'a Model,
    schedule: Box<dyn Schedule>,
    grid: TimeGrid,
    solver: Option<Box<dyn Solver>>,
}

impl<'a> ModelFlow<'a> {
    fn new(model: &'a Model, spec: &FlowSpec) -> Result<Self> {
        if spec.solver == SolverSpec::Exact && !matches!(model, Model::Gaussian(_)) {
            return Err(crate::Error::Unknown {
                kind: "solver for a non-Gaussian model",
                name: "exact".into(),
                known: "euler, heun, rk4, ddim, dpm-solver++2m, dopri5".into(),
            }
            .into());
        }
        let schedule = spec.schedule()?;
        let grid = spec.grid.build(schedule.as_ref())?;
        Ok(Self {
            model,
            schedule,
            grid,
            solver: spec.solver.solver()?,
        })
    }

    fn run(&self, x: MatRef<'_, f64>) -> crate::Result<FlowOutput> {
        match (&self.solver, self.model) {
            (Some(solver), m) => {
                let flow = ProbabilityFlow::new(self.schedule.as_ref(), m.denoiser());
                let s = solver.solve(&flow, &self.grid, x)?;
                Ok(FlowOutput {
                    x: s.x,
                    info: s.info,
                })
            }
            (None, Model::Gaussian(g)) => Ok(FlowOutput {
                x: exact_gaussian_flow(g, self.schedule.as_ref(), &self.grid, x)?,
                info: SolveInfo::default(),
            }),
            (None, _) => unreachable!("ModelFlow::new refuses exact for non-Gaussian models"),
        }
    }
}

impl FlowMap for ModelFlow<'_> {
    fn dim(&self) -> usize {
        self.model.dim()
    }

    fn map(&self, x_start: MatRef<'_, f64>) -> crate::Result<Mat<f64>> {
        Ok(self.run(x_start)?.x)
    }

    fn columnwise(&self) -> bool {
        self.solver.as_ref().is_none_or(|s| s.columnwise())
    }
}

/// Where the noises of [`pfd`] come from.
#[derive(Debug, Clone)]
pub enum Noises {
    /// Given noises $x_T$ (`d × M`).
    Given(Mat<f64>),
    /// `samples` noises $x_T = Tz$, $z \sim \mathcal N(0, I)$, from `rng::seeded(seed)`.
    Drawn {
        /// $M$.
        samples: usize,
        /// Seed.
        seed: u64,
        /// $T$ (`None`: the flow's starting noise scale $\beta_{t_0}$).
        noise_scale: Option<f64>,
    },
}

/// Which closed form [`pfd_exact`] used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClosedForm {
    /// [`crate::metric::pfd_subspaces`]: two subspace Gaussians $\mathcal N(0, UU^\top)$
    /// (zero mean, unit variances) with the identity feature map, through principal angles.
    Subspaces,
    /// [`crate::metric::pfd_gaussians`]: any two Gaussians, from stable differences of the
    /// flow factors where the models store the same basis.
    Gaussians,
}

/// The exact PFD of the VE probability flows of two Gaussian models from $x_T = Tz$,
/// $z \sim \mathcal N(0, I)$, to the clean data (no sampling, no solver): `eval pfd --method exact`.
///
/// # Errors
/// [`crate::io::InteropError::Unsupported`] naming the model file if a model is not a Gaussian
/// (kinds `gaussian`, `pca`): mixtures and empirical distributions have no closed form;
/// [`crate::Error::DimensionMismatch`], [`crate::Error::InvalidParameter`] for $T \le 0$.
pub fn pfd_exact(
    p: &LoadedModel,
    q: &LoadedModel,
    t_max: f64,
    features: Option<&LinearFeatures>,
) -> Result<(f64, ClosedForm)> {
    let gaussian = |m: &LoadedModel| -> Result<Gaussian> {
        match &m.model {
            Model::Gaussian(g) => Ok(g.clone()),
            _ => Err(crate::io::InteropError::Unsupported {
                path: m.path.clone(),
                problem: format!(
                    "--method exact needs two Gaussian models (kinds gaussian, pca); a {} model \
                     has no closed-form PFD: use --method estimate",
                    m.kind.name()
                ),
            }),
        }
    };
    let (gp, gq) = (gaussian(p)?, gaussian(q)?);
    crate::error::ensure_dim(
        "dimension of --model2 vs dimension of --model",
        gp.dim(),
        gq.dim(),
    )?;
    // Exactly zero mean and unit variances (as a `pca` model file stores them): anything else
    // takes the general closed form, which is exact as well.
    #[allow(clippy::float_cmp)]
    let subspace = |g: &Gaussian| {
        g.mean().iter().all(|&m| m == 0.0) && g.variances().iter().all(|&v| v == 1.0)
    };
    if features.is_none() && subspace(&gp) && subspace(&gq) {
        let d = crate::metric::pfd_subspaces(gp.basis(), gq.basis(), t_max)?;
        Ok((d, ClosedForm::Subspaces))
    } else {
        let d = crate::metric::pfd_gaussians(&gp, &gq, t_max, features)?;
        Ok((d, ClosedForm::Gaussians))
    }
}

/// The probability flow distance between two models' flows (same schedule, solver and grid)
/// on shared noises, with features $h$ (`None`: identity).
///
/// # Errors
/// [`crate::Error::DimensionMismatch`] for models of different dimensions or features
/// of the wrong width; the flows' errors; [`crate::Error::InvalidCount`] for fewer than 2 noises.
pub fn pfd(
    p: &LoadedModel,
    q: &LoadedModel,
    spec: &FlowSpec,
    noises: &Noises,
    features: Option<&LinearFeatures>,
    confidence: f64,
) -> Result<(PfdEstimate, Mat<f64>)> {
    crate::error::ensure_dim(
        "dimension of --model2 vs dimension of --model",
        p.model.dim(),
        q.model.dim(),
    )?;
    check_solver(p, spec)?;
    check_solver(q, spec)?;
    let (fp, fq) = (
        ModelFlow::new(&p.model, spec)?,
        ModelFlow::new(&q.model, spec)?,
    );
    let d = p.model.dim();
    let (x, scale) = match noises {
        Noises::Given(x) => (x.clone(), spec.noise_scale()?),
        Noises::Drawn {
            samples,
            seed,
            noise_scale,
        } => {
            let t = match noise_scale {
                Some(t) => *t,
                None => spec.noise_scale()?,
            };
            crate::io::limits::ensure_count_fits(
                "--samples",
                *samples as u128,
                0,
                PFD_BYTES_PER_ENTRY * d as u128,
                0,
                &format!(" (d = {d})"),
            )?;
            let est = Pfd::new(t, *samples)?;
            (est.noises(d, &mut crate::rng::seeded(*seed)), t)
        }
    };
    let mut est = Pfd::new(scale, x.ncols().max(2))?.with_confidence(confidence)?;
    let identity = crate::metric::Identity;
    let h: &dyn FeatureMap = match features {
        Some(w) => w,
        None => &identity,
    };
    est = est.with_feature(h);
    Ok((est.estimate_on(&fp, &fq, x.as_ref())?, x))
}

/// A PFD estimate as written to JSON reports.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PfdSummary {
    /// $\widehat{\mathrm{PFD}}$.
    pub estimate: f64,
    /// The confidence interval for PFD.
    pub interval: (f64, f64),
    /// Its confidence level.
    pub confidence: f64,
    /// Delta-method standard error of the estimate.
    pub std_error: f64,
    /// $\widehat{\mathrm{PFD}^2}$.
    pub squared: f64,
    /// Standard error of $\widehat{\mathrm{PFD}^2}$.
    pub std_error_squared: f64,
    /// Number of noises $M$.
    pub samples: usize,
}

impl From<&PfdEstimate> for PfdSummary {
    fn from(e: &PfdEstimate) -> Self {
        Self {
            estimate: e.estimate,
            interval: e.interval,
            confidence: e.confidence,
            std_error: e.std_error,
            squared: e.squared,
            std_error_squared: e.std_error_squared,
            samples: e.samples(),
        }
    }
}

/// Reads a linear feature matrix $W$ (`(k, d)` `.npy`) for a model of dimension `d`.
///
/// # Errors
/// The `.npy` errors, NaN/inf, [`crate::io::InteropError::WrongRank`] and
/// [`crate::io::InteropError::WrongShape`] naming the file.
pub fn read_features(path: &Path, d: usize) -> Result<LinearFeatures> {
    let a = crate::io::npy::read_finite(path)?;
    a.expect_rank(path, "feature matrix W", "(k, d): one feature per row", 2)?;
    a.expect_axis(
        path,
        "feature matrix W",
        1,
        d,
        "the dimension d of the samples",
    )?;
    let w = a.to_matrix(path, "feature matrix W", "(k, d): one feature per row")?;
    Ok(LinearFeatures::new(w.as_ref())?)
}

// ---------------------------------------------------------------- posterior weights

/// Which posterior weights [`posterior_weights`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WeightsOutput {
    /// The weights $w_k(x_t)$ (MoLRG) or $s_i(x_t)$ (empirical).
    Weights,
    /// Their logs, from log-sum-exp-normalized logits (finite where a weight underflows).
    LogWeights,
}

/// Bytes per output entry of [`posterior_weights`]: the `K × B` (or `N × B`) result and its
/// batch-first copy.
pub const WEIGHTS_BYTES_PER_ENTRY: u128 = 16;

/// The posterior (softmax) weights of a mixture or empirical model at every row of `x`
/// (`(B, d)`): `(B, K)` for a MoLRG (kinds `molrg`, `k-subspaces`,
/// [`crate::Molrg::posterior_weights`]), `(B, N)` for an empirical model
/// ([`crate::Empirical::posterior_weights`], zeros where the library omits a point), or their
/// logs ([`crate::Molrg::posterior_log_weights`], [`crate::Empirical::posterior_log_weights`]):
/// normalized logits, never $\log$ of a rounded weight.
///
/// # Errors
/// [`crate::io::InteropError::Unsupported`] naming the model file for a Gaussian (one
/// component: no weights); [`crate::io::InteropError::BudgetExceeded`] if the output does not
/// fit in the memory budget; as [`evaluate`] for the input.
pub fn posterior_weights(
    model: &LoadedModel,
    x: &Array,
    x_path: &Path,
    level: NoiseLevel,
    output: WeightsOutput,
) -> Result<Array> {
    x.ensure_finite(x_path)?;
    let xt = x.to_batch(x_path, "x", Some(model.model.dim()))?;
    if let Model::Gaussian(_) = model.model {
        return Err(crate::io::InteropError::Unsupported {
            path: model.path.clone(),
            problem: format!(
                "posterior weights need a mixture (kinds molrg, k-subspaces) or an \
                 empirical model; a {} model has a single component",
                model.kind.name()
            ),
        });
    }
    Ok(Array::from_batch(
        posterior_weights_matrix(&model.model, xt.as_ref(), level, output)?.as_ref(),
    ))
}

/// As [`posterior_weights`], on a `d × B` matrix: the `K × B` (or `N × B`) weights.
///
/// # Errors
/// [`crate::Error::Unknown`] for a Gaussian model; as [`posterior_weights`].
pub fn posterior_weights_matrix(
    model: &Model,
    xt: MatRef<'_, f64>,
    level: NoiseLevel,
    output: WeightsOutput,
) -> Result<Mat<f64>> {
    let b = xt.ncols();
    Ok(match model {
        Model::Molrg(m) => {
            let k = m.num_components();
            crate::io::limits::ensure_f64s_fit(
                &format!("the posterior weights of {b} points over {k} components"),
                &[b as u128, k as u128, 2],
            )?;
            match output {
                WeightsOutput::Weights => m.posterior_weights(xt.as_ref(), level)?,
                WeightsOutput::LogWeights => m.posterior_log_weights(xt.as_ref(), level)?,
            }
        }
        Model::Empirical(e) => {
            let n = e.len();
            crate::io::limits::ensure_f64s_fit(
                &format!("the posterior weights of {b} points over {n} training points"),
                &[b as u128, n as u128, 2],
            )?;
            let cols: Vec<crate::Result<Vec<f64>>> = (0..b)
                .into_par_iter()
                .map(|j| match output {
                    WeightsOutput::Weights => {
                        let mut w = vec![0.0; n];
                        for (i, v) in e.posterior_weights(xt.col(j), level)? {
                            w[i] = v;
                        }
                        Ok(w)
                    }
                    WeightsOutput::LogWeights => e.posterior_log_weights(xt.col(j), level),
                })
                .collect();
            let cols: Vec<Vec<f64>> = cols.into_iter().collect::<crate::Result<_>>()?;
            Mat::from_fn(n, b, |i, j| cols[j][i])
        }
        Model::Gaussian(_) => {
            return Err(crate::Error::Unknown {
                kind: "model kind for posterior weights (a Gaussian has one component)",
                name: "gaussian".into(),
                known: "molrg, k-subspaces, empirical".into(),
            }
            .into());
        }
    })
}

// ---------------------------------------------------------------- subspaces

/// Reads an orthonormal basis: a `(d, r)` `.npy` matrix, one basis vector per column.
///
/// # Errors
/// The `.npy` errors, NaN/inf, [`crate::io::InteropError::WrongRank`] naming the file.
/// (Orthonormality is checked by the functions that use it.)
pub fn read_basis(path: &Path, what: &'static str) -> Result<Mat<f64>> {
    let a = crate::io::npy::read_finite(path)?;
    a.to_matrix(path, what, "(d, r): one basis vector per column")
}

/// Subspace distance, principal angles and their sines for two bases (`eval subspaces`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SubspaceComparison {
    /// Ambient dimension $d$.
    pub dim: usize,
    /// Columns $p$ of $U$.
    pub rank_u: usize,
    /// Columns $q$ of $V$.
    pub rank_v: usize,
    /// $\|UU^\top - VV^\top\|_F$ ([`crate::reduction::subspace_distance`]).
    pub distance: f64,
    /// $\|\sin\Theta\|_F = \|(I - UU^\top)V\|_F$ over the $\min(p, q)$ angles.
    pub sin_theta_norm: f64,
    /// Principal angles, ascending, in radians ([`crate::reduction::principal_angles`]).
    pub principal_angles: Vec<f64>,
    /// Their sines, ascending ([`crate::reduction::principal_sines`]).
    pub sines: Vec<f64>,
}

/// Compares two subspaces given by orthonormal bases `u` (`d × p`) and `v` (`d × q`).
///
/// # Errors
/// [`crate::Error::NotOrthonormal`] naming the basis, [`crate::Error::DimensionMismatch`],
/// [`crate::Error::InvalidCount`] (more columns than rows), [`crate::Error::NoConvergence`].
pub fn compare_subspaces(u: MatRef<'_, f64>, v: MatRef<'_, f64>) -> Result<SubspaceComparison> {
    let distance = crate::reduction::subspace_distance(u, v)?;
    let (big, small) = if v.ncols() <= u.ncols() {
        (u, v)
    } else {
        (v, u)
    };
    Ok(SubspaceComparison {
        dim: u.nrows(),
        rank_u: u.ncols(),
        rank_v: v.ncols(),
        distance,
        sin_theta_norm: crate::reduction::sin_theta_norm(big, small)?,
        principal_angles: crate::reduction::principal_angles(u, v)?,
        sines: crate::reduction::principal_sines(u, v)?,
    })
}

// ---------------------------------------------------------------- DAE loss

/// How $K > 1$ bases denoise in [`dae_loss`] (for $K = 1$ both are the linear denoiser $x_U$).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LossForm {
    /// Softmax weights with the $\varepsilon$-expectation inside the softmax
    /// ([`crate::reduction::dae_loss_softmax_at_level`]).
    Softmax,
    /// Hard max on clean data ([`crate::reduction::dae_loss_hard_max_at_level`]).
    HardMax,
}

impl LossForm {
    /// Parses `softmax` or `hard-max`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "softmax" => Some(Self::Softmax),
            "hard-max" => Some(Self::HardMax),
            _ => None,
        }
    }
}

/// The loss weights $\lambda_t$ the library has ([`crate::reduction::Weight`]), by name.
pub const LOSS_WEIGHTINGS: [(&str, &str); 3] = [
    ("unit", "lambda_t = 1"),
    (
        "inverse-noise-variance",
        "lambda_t = 1/beta_t^2 (VE: 1/sigma^2)",
    ),
    ("snr", "lambda_t = alpha_t^2/beta_t^2"),
];

/// Parses a weighting name of [`LOSS_WEIGHTINGS`].
///
/// # Errors
/// [`crate::Error::Unknown`] listing the names.
pub fn parse_weighting(name: &str) -> Result<crate::reduction::Weight> {
    use crate::reduction::Weight;
    Ok(match name {
        "unit" => Weight::Unit,
        "inverse-noise-variance" => Weight::InverseNoiseVariance,
        "snr" => Weight::Snr,
        _ => {
            return Err(crate::Error::Unknown {
                kind: "loss weighting",
                name: name.into(),
                known: LOSS_WEIGHTINGS.map(|w| w.0).join(", "),
            }
            .into());
        }
    })
}

/// Where [`dae_loss`] evaluates the loss.
#[derive(Debug, Clone, PartialEq)]
pub enum LossRange {
    /// At one noise level: the exact $\varepsilon$-expectation.
    Level(NoiseLevel),
    /// Integrated over $[t_0, t_1]$ of a crate schedule with a weighting.
    Integrated {
        /// A crate schedule ([`crate::schedule::SCHEDULES`]).
        schedule: String,
        /// A name of [`LOSS_WEIGHTINGS`].
        weighting: String,
        /// Start of the range.
        t0: f64,
        /// End of the range.
        t1: f64,
    },
}

/// The value of [`dae_loss`].
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct LossValue {
    /// The loss, summed over the samples.
    pub value: f64,
    /// A stated bound on the absolute error of the integration (0 at one level: only
    /// rounding): the coefficients' quadrature errors times the energies for the closed
    /// forms, the adaptive quadrature's error for the softmax form.
    pub integration_error: f64,
    /// How it was computed.
    pub method: &'static str,
}

/// The DAE loss of bases `bases` (each `d × r_k`, orthonormal) on the data `x` (`d × N`).
///
/// At one level: $K = 1$ [`crate::reduction::loss_at_level`]; $K > 1$ the form's at-level loss.
/// Integrated: $K = 1$ and hard max by the closed form with [`crate::reduction::LossCoefficients`]
/// (in closed form for VE with the unit or inverse-noise-variance weighting, by quadrature of
/// scalar integrands otherwise); softmax by adaptive quadrature.
///
/// # Errors
/// [`crate::Error::Empty`] for no bases; the reductions' errors (orthonormality, shapes,
/// schedule domain, weights); [`crate::Error::Unknown`] for a schedule or weighting name.
pub fn dae_loss(
    bases: &[Mat<f64>],
    x: MatRef<'_, f64>,
    form: LossForm,
    range: &LossRange,
) -> Result<LossValue> {
    use crate::reduction::{self as red, LossCoefficients};
    if bases.is_empty() {
        return Err(crate::Error::Empty {
            what: "DAE loss",
            unit: "basis (--basis)",
        }
        .into());
    }
    let refs: Vec<MatRef<'_, f64>> = bases.iter().map(|b| b.as_ref()).collect();
    let k1 = refs.len() == 1;
    Ok(match range {
        LossRange::Level(level) => {
            let value = match (k1, form) {
                (true, _) => red::loss_at_level(refs[0], x, *level)?,
                (false, LossForm::HardMax) => red::dae_loss_hard_max_at_level(&refs, x, *level)?,
                (false, LossForm::Softmax) => red::dae_loss_softmax_at_level(&refs, x, *level)?,
            };
            LossValue {
                value,
                integration_error: 0.0,
                method: "exact expectation at the level",
            }
        }
        LossRange::Integrated {
            schedule,
            weighting,
            t0,
            t1,
        } => {
            let weight = parse_weighting(weighting)?;
            let entry =
                crate::schedule::find_schedule(schedule).ok_or_else(|| crate::Error::Unknown {
                    kind: "schedule",
                    name: schedule.clone(),
                    known: crate::schedule::schedule_names().join(", "),
                })?;
            let s = entry.build();
            if !k1 && form == LossForm::Softmax {
                let q = red::dae_loss_softmax_quadrature(&refs, x, s.as_ref(), &weight, *t0, *t1)?;
                LossValue {
                    value: q.value,
                    integration_error: q.error,
                    method: "adaptive Gauss-Legendre quadrature of the at-level loss",
                }
            } else {
                let analytic = schedule == "ve"
                    && matches!(
                        weight,
                        red::Weight::Unit | red::Weight::InverseNoiseVariance
                    );
                let c = if analytic {
                    LossCoefficients::ve_analytic(&weight, *t0, *t1)?
                } else {
                    LossCoefficients::quadrature(s.as_ref(), &weight, *t0, *t1)?
                };
                let value = red::dae_loss_hard_max_closed_form(&refs, x, &c)?;
                let energy = crate::linalg::frobenius_norm(x);
                let rank: usize = refs.iter().map(|u| u.ncols()).max().unwrap_or(0);
                let integration_error = c.errors[0] * energy * energy
                    + c.errors[2] * energy * energy
                    + (x.ncols() * rank) as f64 * c.errors[3];
                LossValue {
                    value,
                    integration_error,
                    method: if analytic {
                        "closed form (VE coefficients in closed form)"
                    } else {
                        "closed form (coefficients by quadrature)"
                    },
                }
            }
        }
    })
}
