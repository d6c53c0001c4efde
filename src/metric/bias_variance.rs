//! The bias–variance decomposition of the generalization error (R12).

use faer::{Mat, MatRef};

use super::pfd::Pfd;
use crate::error::{Error, Result, ensure_dim};
use crate::flow::FlowMap;
use crate::prec::gamma;

/// $\mathbb E_D[E_{\mathrm{gen}}^2] = E_{\mathrm{bias}}^2 + E_{\mathrm{var}}$ over training sets, on shared noises.
///
/// # Definition
/// With features $F_j = h\circ\Phi_{\theta(D_j)}(x)$ of $m$ learned models and $F_\star$ of the
/// ground truth on the same $M$ noises, the mean map $\bar F = \frac1m\sum_jF_j$ and
/// $\langle u, v\rangle_M = \frac1M\sum_{\text{noises}}u^\top v$:
/// $$E_{\mathrm{gen}}^2(j) = \|F_j - F_\star\|_M^2,\quad
///   E_{\mathrm{bias}}^2 = \|\bar F - F_\star\|_M^2,\quad
///   E_{\mathrm{var}} = \frac1m\sum_j\|F_j - \bar F\|_M^2,$$
/// and $\frac1m\sum_jE_{\mathrm{gen}}^2(j) = E_{\mathrm{bias}}^2 + E_{\mathrm{var}}$ exactly, because
/// $\sum_j(F_j - \bar F) = 0$. In floating point $\bar F$ is rounded to $G$, and the identity
/// holds for the stored $F_j, G$ up to $2\langle\bar F - G, G - F_\star\rangle_M$ and the rounding
/// of the squared norms; [`BiasVariance::residual_bound`] bounds both:
/// $\gamma_{kM+m+4}(\overline{E^2_{\mathrm{gen}}} + E^2_{\mathrm{bias}} + E_{\mathrm{var}}) +
/// 2\gamma_m A\,E_{\mathrm{bias}}$ with $A = \|\frac1m\sum_j|F_j|\|_M$ (derivation:
/// `proofs/R12-bias-variance.md`).
///
/// # Errors
/// [`Error::Empty`] for no learned model; [`Error::DimensionMismatch`] for features of
/// different shapes or models of different dimensions; the flows' errors.
///
/// # Examples
/// ```
/// use diffusion_lowdim::metric::BiasVariance;
/// let truth = faer::mat![[0.0, 0.0]];
/// let fits = [faer::mat![[1.0, 1.0]], faer::mat![[3.0, 3.0]]];
/// let bv = BiasVariance::from_features(&fits, &truth)?;
/// // E_gen² = 1 and 9 (mean 5) = bias² 4 + variance 1.
/// assert_eq!((bv.mean_gen_sq, bv.bias_sq, bv.variance), (5.0, 4.0, 1.0));
/// assert!(bv.residual.abs() <= bv.residual_bound);
/// # Ok::<(), diffusion_lowdim::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct BiasVariance {
    /// $E^2_{\mathrm{gen}}(j)$ for every learned model.
    pub gen_sq: Vec<f64>,
    /// $\frac1m\sum_jE^2_{\mathrm{gen}}(j)$.
    pub mean_gen_sq: f64,
    /// $E^2_{\mathrm{bias}}$.
    pub bias_sq: f64,
    /// $E_{\mathrm{var}}$.
    pub variance: f64,
    /// $\overline{E^2_{\mathrm{gen}}} - (E^2_{\mathrm{bias}} + E_{\mathrm{var}})$ as computed.
    pub residual: f64,
    /// The rounding bound on `|residual|` (see [`BiasVariance`]).
    pub residual_bound: f64,
}

impl BiasVariance {
    /// The decomposition from features: `learned[j]` and `truth` are `k × M`.
    ///
    /// # Errors
    /// See [`BiasVariance`].
    pub fn from_features(learned: &[Mat<f64>], truth: &Mat<f64>) -> Result<Self> {
        if learned.is_empty() {
            return Err(Error::Empty {
                what: "learned models",
                unit: "model",
            });
        }
        let (k, n) = (truth.nrows(), truth.ncols());
        if n == 0 {
            return Err(Error::Empty {
                what: "features",
                unit: "column (noise)",
            });
        }
        for f in learned {
            ensure_dim("feature rows of a learned model vs the truth", k, f.nrows())?;
            ensure_dim(
                "feature columns of a learned model vs the truth",
                n,
                f.ncols(),
            )?;
        }
        let m = learned.len();
        let mf = m as f64;
        let nf = n as f64;
        let mean = Mat::from_fn(k, n, |i, j| {
            learned.iter().map(|f| f[(i, j)]).sum::<f64>() / mf
        });
        let sq = |a: &Mat<f64>, b: &Mat<f64>| -> f64 {
            let mut s = 0.0;
            for j in 0..n {
                for i in 0..k {
                    let e = a[(i, j)] - b[(i, j)];
                    s += e * e;
                }
            }
            s / nf
        };
        let gen_sq: Vec<f64> = learned.iter().map(|f| sq(f, truth)).collect();
        let mean_gen_sq = gen_sq.iter().sum::<f64>() / mf;
        let bias_sq = sq(&mean, truth);
        let variance = learned.iter().map(|f| sq(f, &mean)).sum::<f64>() / mf;
        let abs_mean = Mat::from_fn(k, n, |i, j| {
            learned.iter().map(|f| f[(i, j)].abs()).sum::<f64>() / mf
        });
        let a = (sq(&abs_mean, &Mat::zeros(k, n))).sqrt();
        let residual_bound = gamma(k * n + m + 4) * (mean_gen_sq + bias_sq + variance)
            + 2.0 * gamma(m) * a * bias_sq.sqrt();
        Ok(Self {
            residual: mean_gen_sq - (bias_sq + variance),
            residual_bound,
            gen_sq,
            mean_gen_sq,
            bias_sq,
            variance,
        })
    }

    /// The decomposition for flow maps on shared noises, with `pfd`'s feature map.
    ///
    /// # Errors
    /// See [`BiasVariance`].
    pub fn from_flows(
        pfd: &Pfd<'_>,
        learned: &[&dyn FlowMap],
        truth: &dyn FlowMap,
        noises: MatRef<'_, f64>,
    ) -> Result<Self> {
        let ft = pfd.features(truth, noises)?;
        let fl = learned
            .iter()
            .map(|f| {
                ensure_dim(
                    "dimension of a learned model vs the truth",
                    truth.dim(),
                    f.dim(),
                )?;
                pfd.features(*f, noises)
            })
            .collect::<Result<Vec<_>>>()?;
        Self::from_features(&fl, &ft)
    }
}
