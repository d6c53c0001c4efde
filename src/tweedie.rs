//! Tweedie's formula and conversions among prediction types (R01).
//!
//! # Definition
//! For $x_t = \alpha x_0 + \beta\varepsilon$ and any $p_0$ with a finite second moment,
//! $$\mathbb E[x_0\mid x_t] = \frac{x_t + \beta^2\nabla\log p_t(x_t)}{\alpha}. \qquad\text{(R01)}$$
//! A network may predict any of four equivalent quantities, related pointwise by
//! $x_t = \alpha\hat x_0 + \beta\hat\varepsilon$, $\hat\varepsilon = -\beta\,\hat s$ (the score),
//! and $\hat v = \alpha\hat\varepsilon - \beta\hat x_0$ (v-prediction). [`convert`] maps
//! any one to any other; the maps are exact inverses of each other in exact arithmetic
//! and are evaluated so that no step divides by $\alpha$ unless the target is $\hat x_0$
//! (or $\hat v$, which needs $\hat x_0$) from $\hat\varepsilon$ or $\hat s$: undefined at
//! $\alpha = 0$, where it is an error.
//!
//! Derivation: `docs/tweedie.md`; proof: `proofs/R01-tweedie.md`.
//!
//! # Examples
//! ```
//! use diffusion_lowdim::{NoiseLevel, tweedie::{convert, Prediction}};
//! let level = NoiseLevel::new(0.6, 0.8)?;
//! let x_t = faer::mat![[1.0], [2.0]];
//! let x0 = faer::mat![[0.5], [-1.0]];
//! let eps = convert(Prediction::X0, x0.as_ref(), x_t.as_ref(), level, Prediction::Eps)?;
//! let back = convert(Prediction::Eps, eps.as_ref(), x_t.as_ref(), level, Prediction::X0)?;
//! assert!((back[(1, 0)] + 1.0).abs() < 1e-15);
//! # Ok::<(), diffusion_lowdim::Error>(())
//! ```

use faer::{Mat, MatRef};

use crate::error::{Error, Result, ensure_dim, ensure_finite};
use crate::level::NoiseLevel;

/// What a denoising network outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Prediction {
    /// The clean data $\hat x_0 = \mathbb E[x_0\mid x_t]$.
    X0,
    /// The noise $\hat\varepsilon = (x_t - \alpha\hat x_0)/\beta$.
    Eps,
    /// The velocity $\hat v = \alpha\hat\varepsilon - \beta\hat x_0$.
    V,
    /// The score $\hat s = \nabla\log p_t(x_t) = -\hat\varepsilon/\beta$.
    Score,
}

impl Prediction {
    /// All four, in a fixed order.
    pub const ALL: [Prediction; 4] = [Self::X0, Self::Eps, Self::V, Self::Score];

    /// Lower-case name (`"x0"`, `"eps"`, `"v"`, `"score"`).
    pub fn name(self) -> &'static str {
        match self {
            Self::X0 => "x0",
            Self::Eps => "eps",
            Self::V => "v",
            Self::Score => "score",
        }
    }
}

/// Converts one prediction at one entry to the pair $(\hat x_0, \hat\varepsilon)$.
/// `x0` is `None` when it is undefined ($\alpha = 0$ from ε or score).
#[inline]
fn to_pair(from: Prediction, value: f64, x: f64, alpha: f64, beta: f64) -> (Option<f64>, f64) {
    match from {
        Prediction::X0 => (Some(value), (-alpha).mul_add(value, x) / beta),
        Prediction::Eps => {
            let x0 = (alpha > 0.0).then(|| (-beta).mul_add(value, x) / alpha);
            (x0, value)
        }
        Prediction::Score => {
            let eps = -beta * value;
            let x0 = (alpha > 0.0).then(|| (-beta).mul_add(eps, x) / alpha);
            (x0, eps)
        }
        Prediction::V => {
            // [α β; −β α][x0; ε] = [x; v]  ⇒  x0 = (αx − βv)/h², ε = (βx + αv)/h².
            let h = alpha.hypot(beta);
            let (a, b) = (alpha / h, beta / h);
            (Some((a * x - b * value) / h), (b * x + a * value) / h)
        }
    }
}

/// Converts a batch of predictions (`d × B`, columns are points) made at `x_t`.
///
/// # Definition
/// See the module docs. Each entry is converted independently.
///
/// # Errors
/// [`Error::DimensionMismatch`] if `value` and `x_t` differ in shape,
/// [`Error::NonFinite`] for NaN/inf inputs, [`Error::UndefinedAtLevel`] for
/// `to = X0` (or `V`) from `Eps`/`Score` at $\alpha = 0$, [`Error::Overflow`] if a converted
/// value exceeds f64.
pub fn convert(
    from: Prediction,
    value: MatRef<'_, f64>,
    x_t: MatRef<'_, f64>,
    level: NoiseLevel,
    to: Prediction,
) -> Result<Mat<f64>> {
    ensure_dim("prediction rows vs x_t rows", x_t.nrows(), value.nrows())?;
    ensure_dim(
        "prediction columns vs x_t columns",
        x_t.ncols(),
        value.ncols(),
    )?;
    ensure_finite("prediction", value)?;
    ensure_finite("x_t", x_t)?;
    let (alpha, beta) = (level.alpha(), level.beta());
    let mut out = Mat::<f64>::zeros(x_t.nrows(), x_t.ncols());
    for j in 0..x_t.ncols() {
        for i in 0..x_t.nrows() {
            let v = value[(i, j)];
            if from == to {
                out[(i, j)] = v;
                continue;
            }
            let (x0, eps) = to_pair(from, v, x_t[(i, j)], alpha, beta);
            let undefined = || Error::UndefinedAtLevel {
                what: "x0 from an eps or score prediction",
                alpha,
                hint: "at alpha = 0 the noisy sample carries no signal; use a level with alpha > 0",
            };
            out[(i, j)] = match to {
                Prediction::Eps => eps,
                Prediction::Score => -eps / beta,
                Prediction::X0 => x0.ok_or_else(undefined)?,
                Prediction::V => {
                    // v = αε − βx0; at α = 0 this is −βx0, still undefined without x0.
                    alpha.mul_add(eps, -beta * x0.ok_or_else(undefined)?)
                }
            };
        }
    }
    crate::error::ensure_finite_output(
        "a converted prediction",
        "the prediction or x_t is so large (or alpha so small) that the converted value is \
         beyond f64; rescale the inputs",
        out.as_ref(),
    )?;
    Ok(out)
}

/// $\mathbb E[x_0 \mid x_t]$ from a score by Tweedie's formula (R01):
/// $(x_t + \beta^2 s)/\alpha$.
///
/// # Errors
/// As [`convert`].
pub fn posterior_mean_from_score(
    score: MatRef<'_, f64>,
    x_t: MatRef<'_, f64>,
    level: NoiseLevel,
) -> Result<Mat<f64>> {
    convert(Prediction::Score, score, x_t, level, Prediction::X0)
}

/// The score from a posterior mean by Tweedie's formula: $(\alpha\hat x_0 - x_t)/\beta^2$.
///
/// Loses about $\log_{10}(\|x_t\|/\|x_t - \alpha\hat x_0\|)$ digits to cancellation when
/// $x_t \approx \alpha\hat x_0$ (small $\beta$); the exact models compute their
/// scores without this cancellation.
///
/// # Errors
/// As [`convert`].
pub fn score_from_posterior_mean(
    x0: MatRef<'_, f64>,
    x_t: MatRef<'_, f64>,
    level: NoiseLevel,
) -> Result<Mat<f64>> {
    convert(Prediction::X0, x0, x_t, level, Prediction::Score)
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // exact values are the claim
mod tests {
    use super::*;

    #[test]
    fn alpha_zero_x0_is_an_error() {
        let level = NoiseLevel::new(0.0, 1.0).unwrap();
        let x = faer::mat![[1.0]];
        let e = convert(
            Prediction::Eps,
            x.as_ref(),
            x.as_ref(),
            level,
            Prediction::X0,
        );
        assert!(matches!(e, Err(Error::UndefinedAtLevel { .. })));
        // v → x0 is fine at α = 0: x0 = −v.
        let v = convert(Prediction::V, x.as_ref(), x.as_ref(), level, Prediction::X0).unwrap();
        assert_eq!(v[(0, 0)].to_bits(), (-1.0f64).to_bits());
    }
}
