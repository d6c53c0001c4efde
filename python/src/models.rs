//! The exact models: `Model` (Gaussian, MoLRG, empirical, PCA, K-subspaces), built from arrays
//! through the crate's model-file specification (`ModelSpec::build`, the same validation as a
//! model file) or loaded from a model file.

use std::path::PathBuf;

use diffusion_lowdim::NoiseLevel;
use diffusion_lowdim::io::model_file::{self, ComponentSpec, GaussianCovariance, Model, ModelSpec};
use diffusion_lowdim::model::ExactModel;
use diffusion_lowdim::service::eval::{
    LevelSpec, Quantity, WeightsOutput, evaluate_matrix, posterior_weights_matrix,
};
use faer::Mat;
use pyo3::prelude::*;

use crate::arrays::{self, batch, matrix, vector};
use crate::{detached, errors, guard};

/// The noise level from the Python keywords: `(alpha, beta)`, `sigma=` (VE: `(1, sigma)`) or
/// `schedule=..., t=...` (a crate schedule or a library preset at its own time variable).
pub(crate) fn level(
    alpha: Option<f64>,
    beta: Option<f64>,
    sigma: Option<f64>,
    schedule: Option<&str>,
    t: Option<f64>,
) -> PyResult<NoiseLevel> {
    let spec = match (alpha, beta, sigma, schedule, t) {
        (Some(alpha), Some(beta), None, None, None) => LevelSpec::AlphaBeta { alpha, beta },
        (None, None, Some(s), None, None) => LevelSpec::Sigma(s),
        (None, None, None, Some(name), Some(t)) => LevelSpec::Schedule {
            name: name.to_string(),
            t,
            options: Default::default(),
        },
        _ => {
            return Err(errors::input(
                "give the noise level as exactly one of: alpha and beta (x_t = alpha x0 + beta \
                 eps), sigma= (VE: alpha = 1, beta = sigma), or schedule= and t=",
            ));
        }
    };
    guard(|| spec.resolve().map_err(errors::from_interop))
}

/// An exact model of the noised data x_t = alpha x0 + beta eps, eps ~ N(0, I_d).
///
/// Build one with diffusion_lowdim.Gaussian / Molrg / Empirical / Pca / KSubspaces or
/// load_model(path). Every method takes a batch x of shape (B, d) (one point per row; any
/// array-like, float64 or promoted to it) and the noise level as alpha, beta (positional), or
/// sigma= (VE: alpha = 1, beta = sigma), or schedule=, t= (a crate schedule or library preset).
///
/// Methods: posterior_mean E[x0 | x_t]; score ∇ log p_t = (alpha E[x0|x_t] − x_t) / beta²
/// (Tweedie); jacobian ∂E[x0|x_t]/∂x_t = (alpha / beta²) Cov[x0 | x_t]; log_density
/// log p_t(x_t); posterior_weights (mixtures); flow (probability-flow samplers); sample.
#[pyclass(module = "diffusion_lowdim._native", frozen, name = "Model")]
pub(crate) struct PyModel {
    pub(crate) model: Model,
    pub(crate) kind: &'static str,
    pub(crate) spec: Option<ModelSpec>,
}

impl PyModel {
    pub(crate) fn from_spec(spec: ModelSpec) -> PyResult<Self> {
        let model = guard(|| spec.build().map_err(errors::from_lib))?;
        Ok(Self {
            kind: spec.kind().name(),
            model,
            spec: Some(spec),
        })
    }

    /// Posterior weights or their logs as (B, K) / (B, N), through the CLI's code.
    fn weights<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        lv: NoiseLevel,
        output: WeightsOutput,
    ) -> PyResult<Bound<'py, PyAny>> {
        if let Model::Gaussian(_) = self.model {
            return Err(errors::input(format!(
                "posterior weights are defined for mixtures (molrg, k-subspaces, empirical); \
                 this model is a {} (a single component, weight 1)",
                self.kind
            )));
        }
        let xb = batch(x, "x", Some(self.model.dim()))?;
        let xm = xb.as_batch();
        let w = detached(py, || {
            posterior_weights_matrix(&self.model, xm, lv, output).map_err(errors::from_interop)
        })?;
        // K × B → (B, K).
        arrays::out_batch(py, w.as_ref())
    }

    pub(crate) fn exact(&self) -> &dyn ExactModel {
        self.model.exact()
    }
}

fn bases_of(objs: &[Bound<'_, PyAny>], d: Option<usize>) -> PyResult<Vec<Mat<f64>>> {
    let mut out = Vec::with_capacity(objs.len());
    let mut d = d;
    for (k, o) in objs.iter().enumerate() {
        let m = matrix(o, &format!("bases[{k}]"), d, None)?;
        d = Some(m.shape()[0]);
        out.push(m.to_mat());
    }
    Ok(out)
}

#[pymethods]
impl PyModel {
    /// Gaussian $\mathcal N(\mu, U\Lambda U^\top)$ (``basis`` (d, r) orthonormal, ``variances``
    /// (r,), default ones) or $\mathcal N(\mu, \Sigma)$ (``covariance`` (d, d) symmetric PSD).
    #[staticmethod]
    #[pyo3(signature = (mean, basis=None, variances=None, covariance=None))]
    fn gaussian(
        mean: &Bound<'_, PyAny>,
        basis: Option<&Bound<'_, PyAny>>,
        variances: Option<&Bound<'_, PyAny>>,
        covariance: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let mean = vector(mean, "mean", None)?;
        let d = mean.len();
        let covariance = match (basis, covariance) {
            (Some(b), None) => {
                let b = matrix(b, "basis", Some(d), None)?;
                let r = b.shape()[1];
                let variances = match variances {
                    Some(v) => vector(v, "variances", Some(r))?,
                    None => vec![1.0; r],
                };
                GaussianCovariance::Basis {
                    basis: b.to_mat(),
                    variances,
                }
            }
            (None, Some(c)) => {
                if variances.is_some() {
                    return Err(errors::input(
                        "variances go with basis= (Σ = U diag(λ) Uᵀ), not with covariance=",
                    ));
                }
                GaussianCovariance::Full(matrix(c, "covariance", Some(d), Some(d))?.to_mat())
            }
            _ => {
                return Err(errors::input(
                    "a Gaussian needs exactly one of basis= (d, r) (with optional variances=) or \
                     covariance= (d, d)",
                ));
            }
        };
        Self::from_spec(ModelSpec::Gaussian { mean, covariance })
    }

    /// Mixture of low-rank Gaussians $\sum_k\pi_k\mathcal N(0, U_k\Lambda_kU_k^\top)$.
    #[staticmethod]
    #[pyo3(signature = (bases, weights=None, variances=None))]
    fn molrg(
        bases: Vec<Bound<'_, PyAny>>,
        weights: Option<&Bound<'_, PyAny>>,
        variances: Option<Vec<Option<Bound<'_, PyAny>>>>,
    ) -> PyResult<Self> {
        if bases.is_empty() {
            return Err(errors::input("a MoLRG needs at least one component basis"));
        }
        let k = bases.len();
        let mats = bases_of(&bases, None)?;
        let weights = match weights {
            Some(w) => vector(w, "weights", Some(k))?,
            None => vec![1.0 / k as f64; k],
        };
        if let Some(v) = &variances
            && v.len() != k
        {
            return Err(errors::input(format!(
                "variances has {} entries, one per component is needed ({k})",
                v.len()
            )));
        }
        let mut components = Vec::with_capacity(k);
        for (j, basis) in mats.into_iter().enumerate() {
            let var = match variances.as_ref().and_then(|v| v[j].as_ref()) {
                Some(v) => Some(vector(v, &format!("variances[{j}]"), Some(basis.ncols()))?),
                None => None,
            };
            components.push(ComponentSpec {
                basis,
                variances: var,
            });
        }
        Self::from_spec(ModelSpec::Molrg {
            weights,
            components,
        })
    }

    /// Empirical distribution $\frac1N\sum_i\delta_{x^{(i)}}$ of ``points`` (N, d).
    #[staticmethod]
    fn empirical(points: &Bound<'_, PyAny>) -> PyResult<Self> {
        let p = batch(points, "points", None)?;
        let points = p.as_batch().to_owned();
        Self::from_spec(ModelSpec::Empirical { points })
    }

    /// The learned K = 1 (PCA) denoiser on ``basis`` (d, r).
    #[staticmethod]
    fn pca(basis: &Bound<'_, PyAny>) -> PyResult<Self> {
        let basis = matrix(basis, "basis", None, None)?.to_mat();
        Self::from_spec(ModelSpec::Pca { basis })
    }

    /// The learned K-subspaces denoiser on ``bases`` [(d, r_k)].
    #[staticmethod]
    fn k_subspaces(bases: Vec<Bound<'_, PyAny>>) -> PyResult<Self> {
        if bases.is_empty() {
            return Err(errors::input("k_subspaces needs at least one basis"));
        }
        let bases = bases_of(&bases, None)?;
        Self::from_spec(ModelSpec::KSubspaces { bases })
    }

    /// Loads a model file (docs/model-format.md). ``normalize_weights=True`` divides a
    /// mixture's weights by their sum (the CLI's ``--normalize-weights``); without it, weights
    /// that do not sum to 1 within 1e-12 are refused.
    #[staticmethod]
    #[pyo3(signature = (path, normalize_weights=false))]
    fn load(py: Python<'_>, path: PathBuf, normalize_weights: bool) -> PyResult<Self> {
        let loaded = detached(py, move || {
            model_file::load_with(&path, model_file::LoadOptions { normalize_weights })
                .map_err(errors::from_interop)
        })?;
        Ok(Self {
            kind: loaded.kind.name(),
            model: loaded.model,
            spec: Some(loaded.spec),
        })
    }

    /// The model kind: ``gaussian``, ``molrg``, ``empirical``, ``pca`` or ``k-subspaces``.
    #[getter]
    fn kind(&self) -> &'static str {
        self.kind
    }

    /// The ambient dimension d.
    #[getter]
    fn dim(&self) -> usize {
        self.model.dim()
    }

    /// The model's parameters as arrays (the model-file conventions: a basis is (d, r), one
    /// vector per column; points are (N, d)): ``gaussian``: ``mean``, and ``basis`` +
    /// ``variances`` or ``covariance``; ``molrg``: ``weights``, ``bases`` (list), ``variances``
    /// (list, ones where not given); ``empirical``: ``points``; ``pca``: ``basis``;
    /// ``k-subspaces``: ``bases``.
    fn parameters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyDict>> {
        use arrays::{out_matrix, out_vec};
        let d = pyo3::types::PyDict::new(py);
        let Some(spec) = &self.spec else {
            return Ok(d);
        };
        match spec {
            ModelSpec::Gaussian { mean, covariance } => {
                d.set_item("mean", out_vec(py, mean.clone())?)?;
                match covariance {
                    GaussianCovariance::Basis { basis, variances } => {
                        d.set_item("basis", out_matrix(py, basis.as_ref())?)?;
                        d.set_item("variances", out_vec(py, variances.clone())?)?;
                    }
                    GaussianCovariance::Full(c) => {
                        d.set_item("covariance", out_matrix(py, c.as_ref())?)?;
                    }
                }
            }
            ModelSpec::Molrg {
                weights,
                components,
            } => {
                d.set_item("weights", out_vec(py, weights.clone())?)?;
                let mut bases = Vec::new();
                let mut vars = Vec::new();
                for c in components {
                    bases.push(out_matrix(py, c.basis.as_ref())?);
                    vars.push(out_vec(
                        py,
                        c.variances
                            .clone()
                            .unwrap_or_else(|| vec![1.0; c.basis.ncols()]),
                    )?);
                }
                d.set_item("bases", bases)?;
                d.set_item("variances", vars)?;
            }
            ModelSpec::Empirical { points } => {
                // d × N → (N, d).
                d.set_item("points", arrays::out_batch(py, points.as_ref())?)?;
            }
            ModelSpec::Pca { basis } => {
                d.set_item("basis", out_matrix(py, basis.as_ref())?)?;
            }
            ModelSpec::KSubspaces { bases } => {
                let v: PyResult<Vec<_>> =
                    bases.iter().map(|b| out_matrix(py, b.as_ref())).collect();
                d.set_item("bases", v?)?;
            }
        }
        Ok(d)
    }

    fn __repr__(&self) -> String {
        format!(
            "diffusion_lowdim.Model(kind={:?}, dim={})",
            self.kind,
            self.model.dim()
        )
    }

    /// Posterior mean E[x0 | x_t] of every row of ``x`` (B, d); returns (B, d).
    ///
    /// Gaussian N(mu, U diag(lambda) Uᵀ): mu + U diag(alpha lambda / (alpha² lambda + beta²))
    /// Uᵀ (x − alpha mu). MoLRG: Σ_k w_k(x) U_k diag(alpha λ_k / (alpha² λ_k + beta²)) U_kᵀ x
    /// with softmax weights w_k (log-sum-exp, double-length logits). Empirical:
    /// Σ_i s_i(x) x⁽ⁱ⁾ with s = softmax(−‖x − alpha x⁽ⁱ⁾‖² / (2 beta²)). Errors: InputError
    /// for a wrong shape, NaN/inf or an invalid level; NumericalError if a result overflows.
    #[pyo3(signature = (x, alpha=None, beta=None, *, sigma=None, schedule=None, t=None))]
    #[allow(clippy::too_many_arguments, reason = "the Python keyword signature")]
    fn posterior_mean<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        alpha: Option<f64>,
        beta: Option<f64>,
        sigma: Option<f64>,
        schedule: Option<&str>,
        t: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let lv = level(alpha, beta, sigma, schedule, t)?;
        self.eval_batch(py, x, lv, Quantity::PosteriorMean)
    }

    /// Score ∇ log p_t(x) of every row of ``x`` (B, d): (alpha E[x0|x] − x) / beta²
    /// (Tweedie, R01); returns (B, d).
    #[pyo3(signature = (x, alpha=None, beta=None, *, sigma=None, schedule=None, t=None))]
    #[allow(clippy::too_many_arguments, reason = "the Python keyword signature")]
    fn score<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        alpha: Option<f64>,
        beta: Option<f64>,
        sigma: Option<f64>,
        schedule: Option<&str>,
        t: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let lv = level(alpha, beta, sigma, schedule, t)?;
        self.eval_batch(py, x, lv, Quantity::Score)
    }

    /// Jacobian J = ∂E[x0|x_t]/∂x_t of every row of ``x`` (B, d): (B, d, d), entry [b, i, j] =
    /// ∂x̂0_i/∂x_j. J = (alpha / beta²) Cov[x0 | x_t], symmetric PSD (R14). The CLI's code path.
    #[pyo3(signature = (x, alpha=None, beta=None, *, sigma=None, schedule=None, t=None))]
    #[allow(clippy::too_many_arguments, reason = "the Python keyword signature")]
    fn jacobian<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        alpha: Option<f64>,
        beta: Option<f64>,
        sigma: Option<f64>,
        schedule: Option<&str>,
        t: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let lv = level(alpha, beta, sigma, schedule, t)?;
        self.eval_batch(py, x, lv, Quantity::Jacobian)
    }

    /// log p_t(x) of every row of ``x`` (B, d), p_t the law of alpha x0 + beta eps: (B,).
    /// (An empirical model's p_t is a Gaussian mixture centred at alpha x⁽ⁱ⁾.)
    #[pyo3(signature = (x, alpha=None, beta=None, *, sigma=None, schedule=None, t=None))]
    #[allow(clippy::too_many_arguments, reason = "the Python keyword signature")]
    fn log_density<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        alpha: Option<f64>,
        beta: Option<f64>,
        sigma: Option<f64>,
        schedule: Option<&str>,
        t: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let lv = level(alpha, beta, sigma, schedule, t)?;
        let xb = batch(x, "x", Some(self.model.dim()))?;
        let xm = xb.as_batch();
        let v = detached(py, || {
            self.exact().log_density(xm, lv).map_err(errors::from_lib)
        })?;
        arrays::out_vec(py, v)
    }

    /// Posterior weights of every row of ``x`` (B, d): MoLRG / K-subspaces (B, K), the
    /// softmax w_k(x_t); empirical (B, N), the softmax s_i(x_t) over the training points.
    /// The CLI's ``eval posterior-weights`` (same code, same bits).
    #[pyo3(signature = (x, alpha=None, beta=None, *, sigma=None, schedule=None, t=None))]
    #[allow(clippy::too_many_arguments, reason = "the Python keyword signature")]
    fn posterior_weights<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        alpha: Option<f64>,
        beta: Option<f64>,
        sigma: Option<f64>,
        schedule: Option<&str>,
        t: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let lv = level(alpha, beta, sigma, schedule, t)?;
        self.weights(py, x, lv, WeightsOutput::Weights)
    }

    /// Logs of the posterior weights of every row of ``x`` (B, d), from log-sum-exp-normalized
    /// logits: finite and accurate where a weight underflows to 0 (-inf only for a mixture
    /// component of prior weight 0). MoLRG / K-subspaces (B, K); empirical (B, N). The CLI's
    /// ``eval log-posterior-weights`` (same code, same bits).
    #[pyo3(signature = (x, alpha=None, beta=None, *, sigma=None, schedule=None, t=None))]
    #[allow(clippy::too_many_arguments, reason = "the Python keyword signature")]
    fn posterior_log_weights<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        alpha: Option<f64>,
        beta: Option<f64>,
        sigma: Option<f64>,
        schedule: Option<&str>,
        t: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let lv = level(alpha, beta, sigma, schedule, t)?;
        self.weights(py, x, lv, WeightsOutput::LogWeights)
    }

    /// The probability-flow map of the exact denoiser from every row of ``x`` (B, d): the
    /// CLI's ``eval flow`` (``solver``: euler, heun, rk4, ddim, dpm-solver++2m, dopri5, or
    /// exact for Gaussians; the EDM grid by default, or ``steps`` equal steps from ``t_start``
    /// to ``t_end``, with ``clean=True`` for the final x ↦ D(x, t_n)).
    #[pyo3(signature = (x, solver, *, schedule="ve", steps=None, t_start=None, t_end=None,
        log_spacing=false, clean=false, sigma_max=80.0, sigma_min=0.002, rho=7.0,
        rtol=1e-10, atol=1e-12))]
    #[allow(clippy::too_many_arguments, reason = "the Python keyword signature")]
    fn flow<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        solver: &str,
        schedule: &str,
        steps: Option<usize>,
        t_start: Option<f64>,
        t_end: Option<f64>,
        log_spacing: bool,
        clean: bool,
        sigma_max: f64,
        sigma_min: f64,
        rho: f64,
        rtol: f64,
        atol: f64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let spec = crate::flows::flow_spec(
            solver,
            schedule,
            steps,
            t_start,
            t_end,
            log_spacing,
            clean,
            sigma_max,
            sigma_min,
            rho,
            rtol,
            atol,
        )?;
        crate::flows::model_flow(self, py, x, spec)
    }

    /// ``n`` exact samples of x0 (n, d), from the seeded stream ``seed``.
    #[pyo3(signature = (n, seed=0))]
    fn sample<'py>(&self, py: Python<'py>, n: usize, seed: u64) -> PyResult<Bound<'py, PyAny>> {
        let m = detached(py, || {
            let mut g = diffusion_lowdim::rng::seeded(seed);
            self.exact()
                .try_sample_x0(&mut g, n)
                .map_err(errors::from_lib)
        })?;
        arrays::out_batch(py, m.as_ref())
    }
}

impl PyModel {
    fn eval_batch<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        lv: NoiseLevel,
        q: Quantity,
    ) -> PyResult<Bound<'py, PyAny>> {
        let xb = batch(x, "x", Some(self.model.dim()))?;
        let xm = xb.as_batch();
        let model = self.exact();
        match q {
            Quantity::PosteriorMean | Quantity::Score => {
                // Written straight into the buffer numpy will own: a (B, d) row-major array is
                // the crate's column-major d × B batch (no copy of the output).
                let (d, b) = (xm.nrows(), xm.ncols());
                let mut buf = vec![0.0; d * b];
                detached(py, || {
                    let out = faer::MatMut::from_column_major_slice_mut(&mut buf, d, b);
                    if q == Quantity::Score {
                        model.score_into(xm, lv, out)
                    } else {
                        model.posterior_mean_into(xm, lv, out)
                    }
                    .map_err(errors::from_lib)
                })?;
                arrays::out_shaped(py, buf, &[b, d])
            }
            Quantity::Jacobian => {
                // The CLI's code path (`eval jacobian`): bit-identical outputs.
                let a = detached(py, || {
                    let owned = xm.to_owned();
                    evaluate_matrix(model, &owned, lv, q).map_err(errors::from_interop)
                })?;
                let shape = a.shape().to_vec();
                arrays::out_shaped(py, a.into_data(), &shape)
            }
        }
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyModel>()?;
    Ok(())
}
