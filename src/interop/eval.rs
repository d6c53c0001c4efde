//! Ground truth on the user's inputs: what `diffusion-lowdim eval` computes.
//!
//! Inputs and outputs are batch-first [`Array`]s (`(B, d)`); the crate's
//! models work on `d × B` matrices. Every function here is a thin adapter: the
//! mathematics is in [`crate::model`] and [`crate::tweedie`].
//!
//! # Examples
//! ```
//! use diffusion_lowdim::interop::eval::{Quantity, evaluate};
//! use diffusion_lowdim::interop::npy::Array;
//! use diffusion_lowdim::{Gaussian, NoiseLevel};
//! let g = Gaussian::subspace(faer::mat![[1.0], [0.0]].as_ref())?;
//! let x = Array::new(vec![1, 2], vec![2.0, 3.0])?;               // one point (2, 3)
//! let out = evaluate(&g, &x, "x.npy".as_ref(), NoiseLevel::new(0.8, 0.6)?, Quantity::PosteriorMean)?;
//! assert_eq!(out.shape(), &[1, 2]);
//! assert!((out.data()[0] - 1.6).abs() < 1e-15);
//! # Ok::<(), diffusion_lowdim::interop::InteropError>(())
//! ```

use std::path::Path;

use faer::Mat;
use rayon::prelude::*;

use super::Result;
use super::npy::Array;
use crate::level::NoiseLevel;
use crate::model::ExactModel;
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
/// [`super::InteropError::WrongRank`] / [`super::InteropError::WrongShape`] if `x` is not
/// `(B, d)` with the model's `d`, [`super::InteropError::NonFinite`] for NaN/inf,
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

/// The crate's own schedules by name, for [`LevelSpec::Schedule`].
pub const CRATE_SCHEDULES: &[&str] = &[
    "ve",
    "vp-linear",
    "vp-cosine",
    "sub-vp",
    "rectified-flow",
    "ddpm-linear",
    "ddpm-scaled-linear",
    "ddpm-cosine",
];

/// The crate schedule called `name` (see [`CRATE_SCHEDULES`]).
pub fn crate_schedule(name: &str) -> Option<Box<dyn crate::schedule::Schedule>> {
    use crate::schedule::{DiscreteTable, RectifiedFlow, SubVp, Ve, VpCosine, VpLinear};
    Some(match name {
        "ve" => Box::new(Ve),
        "vp-linear" => Box::new(VpLinear::score_sde()),
        "vp-cosine" => Box::new(VpCosine::nichol_dhariwal()),
        "sub-vp" => Box::new(SubVp::score_sde()),
        "rectified-flow" => Box::new(RectifiedFlow),
        "ddpm-linear" => Box::new(DiscreteTable::ddpm_linear()),
        "ddpm-scaled-linear" => Box::new(DiscreteTable::ddpm_scaled_linear()),
        "ddpm-cosine" => Box::new(DiscreteTable::ddpm_cosine()),
        _ => return None,
    })
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
            Self::Schedule { name, t, options } => match crate_schedule(name) {
                Some(s) => s.level(*t)?,
                None => match super::presets::find(name) {
                    Ok(p) => p.level_at(*t, options)?,
                    Err(_) => {
                        let mut known: Vec<&str> = CRATE_SCHEDULES.to_vec();
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
