//! Reproducibility (RP) and generalization (GL) scores (R13).

use faer::{Mat, MatRef};

use super::feature::{FeatureMap, Identity};
use super::pfd::{DEFAULT_CONFIDENCE, check_confidence};
use crate::error::{Error, Result, ensure_dim, ensure_finite};
use crate::linalg;
use crate::stats::Proportion;

/// The similarity threshold of the reproducibility paper ($\tau = 0.6$).
pub const DEFAULT_THRESHOLD: f64 = 0.6;

/// The cosine similarity $\langle a, b\rangle/(\|a\|\|b\|)$, 0 if either vector is zero.
///
/// # Examples
/// ```
/// use diffusion_lowdim::metric::cosine_similarity;
/// assert!((cosine_similarity(&[1.0, 0.0], &[1.0, 1.0]) - 0.5f64.sqrt()).abs() < 1e-15);
/// assert_eq!(cosine_similarity(&[0.0, 0.0], &[1.0, 1.0]), 0.0);
/// ```
pub fn cosine_similarity(a: &[f64], b: &[f64]) -> f64 {
    let na = a.iter().map(|v| v * v).sum::<f64>().sqrt();
    let nb = b.iter().map(|v| v * v).sum::<f64>().sqrt();
    if na == 0.0 || nb == 0.0 {
        return 0.0;
    }
    let dot: f64 = a.iter().zip(b).map(|(x, y)| (x / na) * (y / nb)).sum();
    dot.clamp(-1.0, 1.0)
}

/// Columns scaled to unit norm (zero columns stay zero).
fn normalized(f: &Mat<f64>) -> Mat<f64> {
    let norms: Vec<f64> = (0..f.ncols())
        .map(|j| {
            (0..f.nrows())
                .map(|i| f[(i, j)] * f[(i, j)])
                .sum::<f64>()
                .sqrt()
        })
        .collect();
    Mat::from_fn(f.nrows(), f.ncols(), |i, j| {
        if norms[j] == 0.0 {
            0.0
        } else {
            f[(i, j)] / norms[j]
        }
    })
}

/// Similarity scores on features: RP between two models and GL against a training set.
///
/// # Definition
/// With the cosine similarity $M(a, b) = \cos(h(a), h(b))$ and threshold $\tau$:
/// - $\mathrm{RP} = \mathbb P(M(x_1, x_2) > \tau)$ over samples $x_1, x_2$ of two models from
///   the same noise (column $j$ of each batch);
/// - $\mathrm{GL} = 1 - \mathbb P(\max_i M(x, x^{(i)}) > \tau)$ over samples $x$ of one model
///   and its training set $\{x^{(i)}\}$.
///
/// Both are reported as a [`Proportion`] with an exact Clopper–Pearson interval. The
/// defaults are the paper's threshold 0.6 with identity features (the paper uses SSCD
/// descriptors on images; plug a [`FeatureMap`] in to do the same) and 95% intervals.
///
/// # Errors
/// [`Error::InvalidParameter`] for a threshold outside $[-1, 1]$ or a confidence outside
/// $(0, 1)$; scoring: [`Error::DimensionMismatch`], [`Error::NonFinite`], [`Error::Empty`].
///
/// # Examples
/// ```
/// use diffusion_lowdim::metric::Scores;
/// let a = faer::mat![[1.0, 1.0], [0.0, 0.0]];
/// let b = faer::mat![[1.0, 0.0], [0.1, 1.0]];
/// let rp = Scores::new().reproducibility(a.as_ref(), b.as_ref())?;
/// assert_eq!((rp.successes, rp.trials), (1, 2)); // cos ≈ 0.995 and 0
/// # Ok::<(), diffusion_lowdim::Error>(())
/// ```
#[derive(Clone, Copy)]
pub struct Scores<'h> {
    feature: &'h dyn FeatureMap,
    threshold: f64,
    confidence: f64,
}

impl core::fmt::Debug for Scores<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Scores")
            .field("threshold", &self.threshold)
            .field("confidence", &self.confidence)
            .finish()
    }
}

impl Default for Scores<'static> {
    fn default() -> Self {
        Self::new()
    }
}

impl Scores<'static> {
    /// Identity features, $\tau = 0.6$, 95% intervals.
    pub fn new() -> Self {
        Self {
            feature: &Identity,
            threshold: DEFAULT_THRESHOLD,
            confidence: DEFAULT_CONFIDENCE,
        }
    }
}

impl<'h> Scores<'h> {
    /// Another feature map.
    pub fn with_feature<'g>(self, feature: &'g dyn FeatureMap) -> Scores<'g> {
        Scores {
            feature,
            threshold: self.threshold,
            confidence: self.confidence,
        }
    }

    /// Another threshold $\tau \in [-1, 1]$.
    ///
    /// # Errors
    /// See [`Scores`].
    pub fn with_threshold(mut self, threshold: f64) -> Result<Self> {
        if !(threshold.is_finite() && (-1.0..=1.0).contains(&threshold)) {
            return Err(Error::InvalidParameter {
                name: "threshold",
                value: threshold,
                requirement: "in [-1, 1]",
            });
        }
        self.threshold = threshold;
        Ok(self)
    }

    /// Another confidence level.
    ///
    /// # Errors
    /// See [`Scores`].
    pub fn with_confidence(mut self, confidence: f64) -> Result<Self> {
        check_confidence(confidence)?;
        self.confidence = confidence;
        Ok(self)
    }

    /// $\tau$.
    pub fn threshold(&self) -> f64 {
        self.threshold
    }

    fn unit_features(&self, what: &'static str, x: MatRef<'_, f64>) -> Result<Mat<f64>> {
        if x.ncols() == 0 {
            return Err(Error::Empty {
                what,
                unit: "column",
            });
        }
        ensure_finite(what, x)?;
        Ok(normalized(&self.feature.features(x)?))
    }

    /// $M(a_j, b_j)$ for every column pair.
    ///
    /// # Errors
    /// See [`Scores`].
    pub fn paired_similarities(&self, a: MatRef<'_, f64>, b: MatRef<'_, f64>) -> Result<Vec<f64>> {
        ensure_dim(
            "rows of the second batch vs the first",
            a.nrows(),
            b.nrows(),
        )?;
        ensure_dim(
            "columns of the second batch vs the first",
            a.ncols(),
            b.ncols(),
        )?;
        let fa = self.unit_features("samples", a)?;
        let fb = self.unit_features("samples", b)?;
        Ok((0..fa.ncols())
            .map(|j| {
                (0..fa.nrows())
                    .map(|i| fa[(i, j)] * fb[(i, j)])
                    .sum::<f64>()
                    .clamp(-1.0, 1.0)
            })
            .collect())
    }

    /// $\max_i M(x_j, x^{(i)})$ for every sample $x_j$ (column of `samples`) against the
    /// columns of `training`.
    ///
    /// # Errors
    /// See [`Scores`].
    pub fn nearest_similarities(
        &self,
        samples: MatRef<'_, f64>,
        training: MatRef<'_, f64>,
    ) -> Result<Vec<f64>> {
        ensure_dim(
            "rows of the training set vs the samples",
            samples.nrows(),
            training.nrows(),
        )?;
        let fs = self.unit_features("samples", samples)?;
        let ft = self.unit_features("training set", training)?;
        let cos = linalg::mul(fs.transpose(), ft.as_ref());
        Ok((0..cos.nrows())
            .map(|j| {
                (0..cos.ncols())
                    .map(|i| cos[(j, i)])
                    .fold(-1.0f64, f64::max)
                    .clamp(-1.0, 1.0)
            })
            .collect())
    }

    /// The reproducibility score $\mathrm{RP}$ of two batches of samples from the same noises.
    ///
    /// # Errors
    /// See [`Scores`].
    pub fn reproducibility(&self, a: MatRef<'_, f64>, b: MatRef<'_, f64>) -> Result<Proportion> {
        let s = self.paired_similarities(a, b)?;
        let k = s.iter().filter(|&&c| c > self.threshold).count();
        Proportion::new(k, s.len(), self.confidence)
    }

    /// The generalization score $\mathrm{GL}$ of samples against their model's training set.
    ///
    /// # Errors
    /// See [`Scores`].
    pub fn generalization(
        &self,
        samples: MatRef<'_, f64>,
        training: MatRef<'_, f64>,
    ) -> Result<Proportion> {
        let s = self.nearest_similarities(samples, training)?;
        let novel = s
            .iter()
            .filter(|&&c| c <= self.threshold || c.is_nan())
            .count();
        Proportion::new(novel, s.len(), self.confidence)
    }
}
