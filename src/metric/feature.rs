//! Feature maps $h$ applied to samples before they are compared.

use faer::{Mat, MatRef};

use crate::error::{Error, Result, ensure_dim, ensure_finite};
use crate::linalg;

/// A feature map $h: \mathbb R^d \to \mathbb R^k$, applied column by column to a `d × B` batch.
///
/// PFD, RP and GL compare samples through a feature map: the identity by
/// default ([`Identity`]), a fixed linear map ([`LinearFeatures`]), or anything a
/// user implements (e.g. a descriptor network such as SSCD, as the papers use on images).
///
/// # Examples
/// ```
/// use diffusion_lowdim::metric::{FeatureMap, Identity};
/// let x = faer::mat![[1.0], [2.0]];
/// assert_eq!(Identity.features(x.as_ref())?, x);
/// # Ok::<(), diffusion_lowdim::Error>(())
/// ```
pub trait FeatureMap: Send + Sync {
    /// The features of every column (`k × B`).
    ///
    /// # Errors
    /// Shape or finiteness errors of the implementation.
    fn features(&self, x: MatRef<'_, f64>) -> Result<Mat<f64>>;
}

/// The identity feature map $h(x) = x$ (the crate's default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Identity;

impl FeatureMap for Identity {
    fn features(&self, x: MatRef<'_, f64>) -> Result<Mat<f64>> {
        Ok(x.to_owned())
    }
}

/// A linear feature map $h(x) = Wx$, $W \in \mathbb R^{k\times d}$.
///
/// # Errors
/// [`Error::Empty`] for an empty $W$; [`Error::NonFinite`]; at evaluation,
/// [`Error::DimensionMismatch`] if the samples do not have $d$ rows,
/// [`Error::NonFinite`] for non-finite samples and [`Error::Overflow`] if $Wx$ overflows.
///
/// # Examples
/// ```
/// use diffusion_lowdim::metric::{FeatureMap, LinearFeatures};
/// let h = LinearFeatures::new(faer::mat![[1.0, 1.0]].as_ref())?; // R² → R
/// let f = h.features(faer::mat![[1.0], [2.0]].as_ref())?;
/// assert_eq!(f[(0, 0)], 3.0);
/// # Ok::<(), diffusion_lowdim::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct LinearFeatures {
    w: Mat<f64>,
}

impl LinearFeatures {
    /// The map $x \mapsto Wx$.
    ///
    /// # Errors
    /// See [`LinearFeatures`].
    pub fn new(w: MatRef<'_, f64>) -> Result<Self> {
        if w.nrows() == 0 || w.ncols() == 0 {
            return Err(Error::Empty {
                what: "feature matrix W",
                unit: "row and column",
            });
        }
        ensure_finite("feature matrix W", w)?;
        Ok(Self { w: w.to_owned() })
    }

    /// The matrix $W$.
    pub fn matrix(&self) -> MatRef<'_, f64> {
        self.w.as_ref()
    }
}

impl FeatureMap for LinearFeatures {
    fn features(&self, x: MatRef<'_, f64>) -> Result<Mat<f64>> {
        ensure_dim(
            "rows of the samples vs columns of W",
            self.w.ncols(),
            x.nrows(),
        )?;
        crate::error::ensure_finite("samples", x)?;
        let h = linalg::mul(self.w.as_ref(), x);
        crate::error::ensure_finite_output(
            "a linear feature Wx",
            "W or the samples are so large that Wx is beyond f64; rescale W",
            h.as_ref(),
        )?;
        Ok(h)
    }
}
