//! The probability flow distance (PFD) and the generalization / memorization errors (R11).

use faer::{Mat, MatRef};
use statrs::distribution::{ContinuousCDF, Normal};

use super::feature::{FeatureMap, Identity, LinearFeatures};
use crate::error::{Error, Result, ensure_dim, ensure_finite};
use crate::flow::{FlowMap, GaussianFlow};
use crate::level::NoiseLevel;
use crate::linalg::{self, check_orthonormal, projection_residual};
use crate::model::{Denoiser, Gaussian};
use crate::rng::{SeededRng, standard_normal};

/// The confidence level used unless set otherwise.
pub const DEFAULT_CONFIDENCE: f64 = 0.95;

pub(crate) use crate::stats::check_confidence;

/// The two-sided standard-normal quantile $z_{1-(1-c)/2}$.
pub(crate) fn normal_quantile(confidence: f64) -> f64 {
    Normal::new(0.0, 1.0)
        .expect("the standard normal is valid")
        .inverse_cdf(0.5 + 0.5 * confidence)
}

/// A PFD estimate with its uncertainty.
///
/// # Definition
/// From $M$ paired squared distances $\delta_m = \|h\circ\Phi_p(x^{(m)}) - h\circ\Phi_q(x^{(m)})\|^2$:
/// $\widehat{\mathrm{PFD}^2} = \bar\delta$, standard error $s_\delta/\sqrt M$ ($s_\delta$ the sample
/// standard deviation, $M - 1$ in the denominator), the CLT interval
/// $\bar\delta \pm z\,s_\delta/\sqrt M$ for $\mathrm{PFD}^2$ clipped at 0 and mapped by $\sqrt\cdot$ to an
/// interval for PFD, and the delta-method standard error $s_\delta/(2\sqrt M\,\widehat{\mathrm{PFD}})$
/// (0 when every distance is 0).
#[derive(Debug, Clone, PartialEq)]
pub struct PfdEstimate {
    /// $\widehat{\mathrm{PFD}} = \sqrt{\bar\delta}$.
    pub estimate: f64,
    /// $\widehat{\mathrm{PFD}^2} = \bar\delta$.
    pub squared: f64,
    /// Delta-method standard error of $\widehat{\mathrm{PFD}}$.
    pub std_error: f64,
    /// Standard error of $\widehat{\mathrm{PFD}^2}$.
    pub std_error_squared: f64,
    /// Confidence interval for PFD (the CLT interval for $\mathrm{PFD}^2$ mapped by $\sqrt\cdot$).
    pub interval: (f64, f64),
    /// Its nominal confidence level.
    pub confidence: f64,
    /// The paired squared distances $\delta_m$.
    pub squared_distances: Vec<f64>,
}

impl PfdEstimate {
    /// Summarizes paired squared distances (at least two, finite, non-negative).
    ///
    /// # Errors
    /// [`Error::InvalidCount`] for fewer than two distances; [`Error::NonFinite`];
    /// [`Error::InvalidParameter`] for a negative distance or a confidence outside $(0, 1)$.
    ///
    /// # Examples
    /// ```
    /// use diffusion_lowdim::metric::PfdEstimate;
    /// let e = PfdEstimate::from_squared_distances(vec![1.0, 3.0], 0.95)?;
    /// assert_eq!(e.squared, 2.0);
    /// assert!((e.std_error_squared - 1.0).abs() < 1e-15); // s = √2, s/√2 = 1
    /// # Ok::<(), diffusion_lowdim::Error>(())
    /// ```
    pub fn from_squared_distances(squared_distances: Vec<f64>, confidence: f64) -> Result<Self> {
        check_confidence(confidence)?;
        let m = squared_distances.len();
        if m < 2 {
            return Err(Error::InvalidCount {
                name: "samples",
                value: m,
                requirement: "at least 2 (a standard error needs two)",
            });
        }
        crate::error::ensure_finite_slice("squared distances", &squared_distances)?;
        if let Some(&v) = squared_distances.iter().find(|&&v| v < 0.0) {
            return Err(Error::InvalidParameter {
                name: "squared distance",
                value: v,
                requirement: "≥ 0",
            });
        }
        let mf = m as f64;
        let mean = squared_distances.iter().sum::<f64>() / mf;
        let var = squared_distances
            .iter()
            .map(|&v| (v - mean) * (v - mean))
            .sum::<f64>()
            / (mf - 1.0);
        let se2 = (var / mf).sqrt();
        let estimate = mean.sqrt();
        let z = normal_quantile(confidence);
        let lo = (mean - z * se2).max(0.0).sqrt();
        let hi = (mean + z * se2).sqrt();
        if ![mean, var, se2, hi].iter().all(|v| v.is_finite()) {
            return Err(Error::Overflow {
                what: "the PFD estimate (mean and variance of the squared distances)",
                cause: "the squared distances are so large that their sum or variance is beyond \
                        f64; use a smaller noise scale T or a feature map that scales them down",
            });
        }
        Ok(Self {
            estimate,
            squared: mean,
            std_error: if se2 == 0.0 {
                0.0
            } else {
                se2 / (2.0 * estimate)
            },
            std_error_squared: se2,
            interval: (lo, hi),
            confidence,
            squared_distances,
        })
    }

    /// Number of noises $M$.
    pub fn samples(&self) -> usize {
        self.squared_distances.len()
    }
}

/// The probability flow distance between two flow maps.
///
/// # Definition
/// $$\mathrm{PFD}(p, q) = \Big(\mathbb E_{x_T\sim\mathcal N(0, T^2I)}\|h\circ\Phi_p(x_T) - h\circ\Phi_q(x_T)\|^2\Big)^{1/2},$$
/// $\Phi$ a flow map from noise to data (a [`FlowMap`]: a solver on a denoiser's PF ODE,
/// or an exact flow), $h$ a [`FeatureMap`] (identity by default). The estimator draws $M$
/// i.i.d. noises and uses the *same* noises for both maps (paired), see [`PfdEstimate`].
/// $T$ is the flows' starting noise scale ($\beta_{t_0}$; in VE, $T = t_0 = \sigma_{\max}$).
/// PFD is a pseudometric; on shared noises the estimate is one exactly (a root-mean-square
/// of differences), see `proofs/R11-probability-flow-distance.md`.
///
/// # Accuracy
/// Besides its sampling error, the estimate carries the rounding of the two flows: each
/// $h\circ\Phi(x^{(m)})$ is computed separately, with error $\eta_m \approx c\,\varepsilon\,\|h\|\,(\|\mu\| + \|x^{(m)}\|)$
/// for an exact Gaussian flow ($c$ a small multiple of $d$; a solver adds its own), and then
/// subtracted. So the rounding error of $\widehat{\mathrm{PFD}}$ is *absolute*,
/// $\lesssim \mathrm{RMS}_m(\eta_{p,m} + \eta_{q,m}) \approx 2c\,\varepsilon\,\|h\|(\|\mu\| + T\sqrt d)$, and it is *relative*
/// only when $\widehat{\mathrm{PFD}}$ is much larger than that: for nearly identical models (a PFD of
/// $10^{-10}$ at $T = 80$, where the flows have size $\sim10$) it loses about
/// $\log_{10}(\varepsilon T\sqrt d/\mathrm{PFD})$ digits. Use [`pfd_gaussians`] or [`pfd_subspaces`]
/// where a closed form exists. Derivation: `docs/metrics.md` §1, "Accuracy of the closed forms".
///
/// # Errors
/// [`Error::InvalidParameter`] unless $0 < T \le 10^{100}$; [`Error::InvalidCount`] for $M < 2$;
/// [`Error::TooLarge`] for $M$ (or $dM$ when estimating) above
/// [`MAX_ELEMENTS`](crate::error::MAX_ELEMENTS); estimating: [`Error::DimensionMismatch`] for maps of different dimensions, and
/// the flows' and feature map's errors.
///
/// # Examples
/// ```
/// use diffusion_lowdim::metric::{Pfd, pfd_subspaces};
/// use diffusion_lowdim::flow::GaussianFlow;
/// use diffusion_lowdim::{Gaussian, NoiseLevel, rng};
/// let u1 = faer::mat![[1.0], [0.0]];
/// let u2 = faer::mat![[0.0], [1.0]];
/// let (g1, g2) = (Gaussian::subspace(u1.as_ref())?, Gaussian::subspace(u2.as_ref())?);
/// let t = 10.0;
/// let (f1, f2) = (GaussianFlow::to_clean(&g1, NoiseLevel::ve(t)?), GaussianFlow::to_clean(&g2, NoiseLevel::ve(t)?));
/// let est = Pfd::new(t, 4000)?.estimate(&f1, &f2, &mut rng::seeded(1))?;
/// let exact = pfd_subspaces(u1.as_ref(), u2.as_ref(), t)?; // (T/√(1+T²))·√2
/// assert!(est.interval.0 < exact && exact < est.interval.1);
/// # Ok::<(), diffusion_lowdim::Error>(())
/// ```
#[derive(Clone, Copy)]
pub struct Pfd<'h> {
    noise_scale: f64,
    samples: usize,
    confidence: f64,
    feature: &'h dyn FeatureMap,
}

impl core::fmt::Debug for Pfd<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Pfd")
            .field("noise_scale", &self.noise_scale)
            .field("samples", &self.samples)
            .field("confidence", &self.confidence)
            .finish()
    }
}

impl Pfd<'static> {
    /// The estimator with noise scale $T$ = `noise_scale`, $M$ = `samples` noises, identity
    /// features and 95% intervals.
    ///
    /// # Errors
    /// See [`Pfd`].
    pub fn new(noise_scale: f64, samples: usize) -> Result<Self> {
        if !(noise_scale > 0.0 && noise_scale <= crate::level::MAX_SCALE) {
            return Err(Error::InvalidParameter {
                name: "T (noise scale)",
                value: noise_scale,
                requirement: "> 0 and ≤ 1e100 (a valid noise level)",
            });
        }
        if samples < 2 {
            return Err(Error::InvalidCount {
                name: "samples",
                value: samples,
                requirement: "at least 2 (a standard error needs two)",
            });
        }
        crate::error::ensure_size("PFD samples", samples)?;
        Ok(Self {
            noise_scale,
            samples,
            confidence: DEFAULT_CONFIDENCE,
            feature: &Identity,
        })
    }
}

impl<'h> Pfd<'h> {
    /// The same estimator with another feature map.
    pub fn with_feature<'g>(self, feature: &'g dyn FeatureMap) -> Pfd<'g> {
        Pfd {
            noise_scale: self.noise_scale,
            samples: self.samples,
            confidence: self.confidence,
            feature,
        }
    }

    /// The same estimator with another confidence level.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] unless `confidence` is in $(0, 1)$.
    pub fn with_confidence(mut self, confidence: f64) -> Result<Self> {
        check_confidence(confidence)?;
        self.confidence = confidence;
        Ok(self)
    }

    /// $T$.
    pub fn noise_scale(&self) -> f64 {
        self.noise_scale
    }

    /// $M$.
    pub fn samples(&self) -> usize {
        self.samples
    }

    /// $M$ noises $x_T = Tz$, $z \sim \mathcal N(0, I_d)$ (a `d × M` matrix, columns drawn in order).
    ///
    /// # Panics
    /// If `d · M` exceeds [`MAX_ELEMENTS`](crate::error::MAX_ELEMENTS) (checked;
    /// [`Pfd::estimate`] returns [`Error::TooLarge`] instead).
    pub fn noises(&self, d: usize, rng: &mut SeededRng) -> Mat<f64> {
        if let Err(e) = crate::error::ensure_size2("PFD noises d × samples", d, self.samples) {
            panic!("{e}");
        }
        let mut z = standard_normal(rng, d, self.samples);
        for j in 0..self.samples {
            for i in 0..d {
                z[(i, j)] *= self.noise_scale;
            }
        }
        z
    }

    /// The features $h\circ\Phi(x_T)$ of one flow map on given noises.
    ///
    /// # Errors
    /// See [`Pfd`].
    pub fn features(&self, flow: &dyn FlowMap, noises: MatRef<'_, f64>) -> Result<Mat<f64>> {
        ensure_dim(
            "rows of the noises vs flow dimension",
            flow.dim(),
            noises.nrows(),
        )?;
        ensure_finite("noises", noises)?;
        self.feature.features(flow.map(noises)?.as_ref())
    }

    /// Estimates $\mathrm{PFD}(p, q)$ on fresh noises from `rng`.
    ///
    /// # Errors
    /// See [`Pfd`].
    pub fn estimate(
        &self,
        p: &dyn FlowMap,
        q: &dyn FlowMap,
        rng: &mut SeededRng,
    ) -> Result<PfdEstimate> {
        ensure_dim("dimension of q vs dimension of p", p.dim(), q.dim())?;
        crate::error::ensure_size2("PFD noises d × samples", p.dim(), self.samples)?;
        let noises = self.noises(p.dim(), rng);
        self.estimate_on(p, q, noises.as_ref())
    }

    /// Estimates $\mathrm{PFD}(p, q)$ on given noises (`d × M'`, any $M' \ge 2$): the
    /// paired estimator on shared noises.
    ///
    /// # Errors
    /// See [`Pfd`]; [`Error::NonFinite`] for non-finite noises.
    pub fn estimate_on(
        &self,
        p: &dyn FlowMap,
        q: &dyn FlowMap,
        noises: MatRef<'_, f64>,
    ) -> Result<PfdEstimate> {
        ensure_dim("dimension of q vs dimension of p", p.dim(), q.dim())?;
        let m = noises.ncols();
        let sq = if p.columnwise() && q.columnwise() && m > NOISE_BLOCK {
            // Blocks of noises through both flows, in parallel: memory of a few
            // blocks instead of whole d × M' states, and (the block boundaries being
            // those of the models' own batch partition) the same bits as one batch.
            use rayon::prelude::*;
            ensure_dim(
                "rows of the noises vs flow dimension",
                p.dim(),
                noises.nrows(),
            )?;
            ensure_finite("noises", noises)?;
            let parts = (0..m)
                .step_by(NOISE_BLOCK)
                .collect::<Vec<_>>()
                .into_par_iter()
                .map(|s| {
                    let block = noises.subcols(s, NOISE_BLOCK.min(m - s));
                    let fp = self.feature.features(p.map(block)?.as_ref())?;
                    let fq = self.feature.features(q.map(block)?.as_ref())?;
                    squared_distances(&fp, &fq)
                })
                .collect::<Result<Vec<_>>>()?;
            parts.concat()
        } else {
            let fp = self.features(p, noises)?;
            let fq = self.features(q, noises)?;
            squared_distances(&fp, &fq)?
        };
        PfdEstimate::from_squared_distances(sq, self.confidence)
    }
}

/// Noises per block in [`Pfd::estimate_on`] for column-wise flows: the column
/// block of the models' batch partition, so the blocks change no bit.
const NOISE_BLOCK: usize = 32;

/// Column-wise squared distances between two feature batches of the same shape.
pub(crate) fn squared_distances(a: &Mat<f64>, b: &Mat<f64>) -> Result<Vec<f64>> {
    ensure_dim("feature rows of q vs p", a.nrows(), b.nrows())?;
    ensure_dim("feature columns of q vs p", a.ncols(), b.ncols())?;
    Ok((0..a.ncols())
        .map(|j| {
            (0..a.nrows())
                .map(|i| {
                    let e = a[(i, j)] - b[(i, j)];
                    e * e
                })
                .sum()
        })
        .collect())
}

/// The generalization error $E_{\mathrm{gen}}(\theta) = \mathrm{PFD}(p_\theta, p_\star)$.
///
/// # Errors
/// As [`Pfd::estimate`].
pub fn generalization_error(
    pfd: &Pfd<'_>,
    learned: &dyn FlowMap,
    truth: &dyn FlowMap,
    rng: &mut SeededRng,
) -> Result<PfdEstimate> {
    pfd.estimate(learned, truth, rng)
}

/// The memorization error $E_{\mathrm{mem}}(\theta) = \mathrm{PFD}(p_\theta, p_{\mathrm{emp}})$,
/// `empirical` being the flow of the training set's empirical distribution.
///
/// # Errors
/// As [`Pfd::estimate`].
pub fn memorization_error(
    pfd: &Pfd<'_>,
    learned: &dyn FlowMap,
    empirical: &dyn FlowMap,
    rng: &mut SeededRng,
) -> Result<PfdEstimate> {
    pfd.estimate(learned, empirical, rng)
}

/// The exact PFD between two Gaussians in VE from noise scale $T$, with a linear feature map.
///
/// # Definition
/// With $\Phi_p(x) = \mu_p + A_p(x - \mu_p)$, $A_p = V_p\operatorname{diag}(\sqrt{\lambda_i/(\lambda_i+T^2)})V_p^\top$
/// (the exact flow to the data, [`GaussianFlow`]), $\Phi_p - \Phi_q = c + (A_p - A_q)x$ with
/// $c = (I - A_p)\mu_p - (I - A_q)\mu_q$, and for $x \sim \mathcal N(0, T^2 I)$:
/// $$\mathrm{PFD}^2 = \|Wc\|^2 + T^2\|W(A_p - A_q)\|_F^2$$
/// ($W = I$ without features): for zero means, $\mathrm{PFD} = T\|A_p - A_q\|_F$.
///
/// # Accuracy
/// *Shared basis* (the two models store the same basis matrix $V$, bit for bit, as two
/// models built from one eigendecomposition do): $A_p - A_q = V\operatorname{diag}(\Delta f)V^\top$ is
/// never formed from the two flow matrices. Each
/// $\Delta f_i = f(\lambda_{p,i}) - f(\lambda_{q,i}) = \frac{T^2(\lambda_{p,i} - \lambda_{q,i})}{(\lambda_{p,i}+T^2)(\lambda_{q,i}+T^2)(f(\lambda_{p,i}) + f(\lambda_{q,i}))}$
/// is computed to $\approx 18\varepsilon$ relative ($\lambda_p - \lambda_q$ is exact when the two are within a
/// factor 2), and $c = (I - VV^\top)\delta\mu + V((1 - f_p)\circ V^\top\delta\mu - \Delta f\circ V^\top\mu_q)$ from
/// $\delta\mu = \mu_p - \mu_q$. For zero means and $W = I$ the result has relative error at most
/// $(24 + r)\varepsilon$ (plus the departure of $V^\top V$ from $I$), *whatever the size of the PFD*:
/// two models whose eigenvalues differ by $10^{-10}$ relative get a PFD accurate to a few ulps.
/// With means or features the bound is multiplied by the condition of the final sums,
/// $\kappa = \big(\||Wc|\text{-terms}\| + T\max_i\||W||v_i|\|\,|\Delta f_i|\big)/\mathrm{PFD}$ (1 when the terms
/// do not cancel). Derivation: `docs/metrics.md` §1, "Accuracy of the closed forms".
///
/// *Different bases*: $A_p - A_q$ is formed entry by entry, with absolute error
/// $\approx d\varepsilon(\|A_p\|_F + \|A_q\|_F)$, so the result is accurate to that absolute error times $T$:
/// relative only when the PFD is not small against $\varepsilon T\sqrt d$. For subspace Gaussians
/// use [`pfd_subspaces`], which is relatively accurate at any angle.
///
/// # Errors
/// [`Error::InvalidParameter`] for $T \le 0$; [`Error::DimensionMismatch`] for models
/// (or $W$) of different dimensions.
///
/// # Examples
/// ```
/// use diffusion_lowdim::metric::pfd_gaussians;
/// use diffusion_lowdim::Gaussian;
/// let u = faer::mat![[1.0]];
/// let (p, q) = (Gaussian::new(&[0.0], u.as_ref(), &[1.0])?, Gaussian::new(&[0.0], u.as_ref(), &[4.0])?);
/// // T = 1: A_p = √(1/2), A_q = √(4/5).
/// let d = pfd_gaussians(&p, &q, 1.0, None)?;
/// assert!((d - (0.8f64.sqrt() - 0.5f64.sqrt())).abs() < 1e-15);
/// # Ok::<(), diffusion_lowdim::Error>(())
/// ```
pub fn pfd_gaussians(
    p: &Gaussian,
    q: &Gaussian,
    t_max: f64,
    feature: Option<&LinearFeatures>,
) -> Result<f64> {
    ensure_dim("dimension of q vs dimension of p", p.dim(), q.dim())?;
    let from = NoiseLevel::ve(t_max).map_err(|_| Error::InvalidParameter {
        name: "T (noise scale)",
        value: t_max,
        requirement: "finite and > 0",
    })?;
    if same_basis(p, q) {
        return pfd_shared_basis(p, q, from, t_max, feature);
    }
    let d = p.dim();
    let ap = GaussianFlow::to_clean(p, from).matrix();
    let aq = GaussianFlow::to_clean(q, from).matrix();
    let c: Vec<f64> = (0..d)
        .map(|i| {
            let mut v = p.mean()[i] - q.mean()[i];
            for j in 0..d {
                v -= ap[(i, j)] * p.mean()[j] - aq[(i, j)] * q.mean()[j];
            }
            v
        })
        .collect();
    let diff = Mat::from_fn(d, d, |i, j| ap[(i, j)] - aq[(i, j)]);
    let cm = Mat::from_fn(d, 1, |i, _| c[i]);
    let (wc, wm) = match feature {
        Some(h) => (h.features(cm.as_ref())?, h.features(diff.as_ref())?),
        None => (cm, diff),
    };
    let nc = wc.norm_l2();
    let nm = wm.norm_l2();
    Ok(nc.hypot(t_max * nm))
}

/// Whether `p` and `q` store the same basis matrix, bit for bit (same shape, every entry
/// the same `f64`). Then $A_p - A_q = V\operatorname{diag}(f_{p,i} - f_{q,i})V^\top$ exactly in the
/// model's own terms, and [`pfd_shared_basis`] applies. A basis equal up to the order or
/// sign of its columns, or up to rounding, is not detected (the general path is used).
fn same_basis(p: &Gaussian, q: &Gaussian) -> bool {
    let (u, v) = (p.basis(), q.basis());
    u.nrows() == v.nrows()
        && u.ncols() == v.ncols()
        && (0..u.ncols())
            .all(|j| (0..u.nrows()).all(|i| u[(i, j)].to_bits() == v[(i, j)].to_bits()))
}

/// $f(a) - f(b)$ for $f(\lambda) = \sqrt{\lambda/(\lambda + T^2)}$, without cancellation:
/// $$f(a) - f(b) = \frac{T^2(a - b)}{(a + T^2)(b + T^2)(f(a) + f(b))}
///   = \frac{a - b}{h_ah_b}\cdot\frac{T}{h_a}\cdot\frac{T}{h_b}\cdot\frac{1}{f(a) + f(b)},\qquad h = \sqrt{\lambda + T^2},$$
/// with `fa`, `fb` the flow's factors $f = \sqrt\lambda/h$ (as [`GaussianFlow`] computes them).
/// $a - b$ is exact when $a/2 \le b \le 2a$ (Sterbenz); every other operation is one
/// rounding of a positive quantity, so the relative error is at most about $18\varepsilon$
/// (docs/metrics.md §1).
fn factor_difference(a: f64, b: f64, fa: f64, fb: f64, t: f64) -> f64 {
    let diff = a - b;
    if diff == 0.0 {
        return 0.0; // a = b (also a = b = 0, where f(a) + f(b) = 0)
    }
    let ha = a.sqrt().hypot(t);
    let hb = b.sqrt().hypot(t);
    (diff / ha / hb) * (t / ha) * (t / hb) / (fa + fb)
}

/// [`pfd_gaussians`] for two Gaussians with the same basis $V$ ([`same_basis`]): with
/// $\Delta f_i = f_{p,i} - f_{q,i}$ from [`factor_difference`], $\delta\mu = \mu_p - \mu_q$,
/// $$A_p - A_q = V\operatorname{diag}(\Delta f)V^\top,\qquad
///   c = (I - VV^\top)\delta\mu + V\big((1 - f_p)\circ V^\top\delta\mu - \Delta f\circ V^\top\mu_q\big),$$
/// ($c = \delta\mu - A_p\delta\mu - (A_p - A_q)\mu_q$, $1 - f = (T/h)^2/(1 + f)$), and
/// $\mathrm{PFD}^2 = \|Wc\|^2 + T^2\sum_i\Delta f_i^2\|Wv_i\|^2$ ($\|WV\operatorname{diag}(\Delta f)V^\top\|_F = \|WV\operatorname{diag}(\Delta f)\|_F$
/// for orthonormal $V$). The residual and the coefficients are accumulated in double
/// length ([`projection_residual`]).
fn pfd_shared_basis(
    p: &Gaussian,
    q: &Gaussian,
    from: NoiseLevel,
    t_max: f64,
    feature: Option<&LinearFeatures>,
) -> Result<f64> {
    let d = p.dim();
    let v = p.basis();
    let r = v.ncols();
    let fp = GaussianFlow::to_clean(p, from);
    let fq = GaussianFlow::to_clean(q, from);
    let (fp, fq) = (fp.factors(), fq.factors());
    let (lp, lq) = (p.variances(), q.variances());
    let df: Vec<f64> = (0..r)
        .map(|i| factor_difference(lp[i], lq[i], fp[i], fq[i], t_max))
        .collect();
    // The mean term.
    let dmu: Vec<f64> = (0..d).map(|i| p.mean()[i] - q.mean()[i]).collect();
    let mut a = vec![0.0; r];
    let mut c = vec![0.0; d];
    projection_residual(v, &dmu, &mut a, &mut c);
    if p.mean().iter().any(|&m| m != 0.0) || q.mean().iter().any(|&m| m != 0.0) {
        let mut b = vec![0.0; r];
        let mut unused = vec![0.0; d];
        projection_residual(v, q.mean(), &mut b, &mut unused);
        let coef: Vec<f64> = (0..r)
            .map(|i| {
                let th = t_max / lp[i].sqrt().hypot(t_max);
                th * th / (1.0 + fp[i]) * a[i] - df[i] * b[i]
            })
            .collect();
        for (i, ci) in c.iter_mut().enumerate() {
            *ci += (0..r).map(|j| v[(i, j)] * coef[j]).sum::<f64>();
        }
    }
    let cm = Mat::from_fn(d, 1, |i, _| c[i]);
    // The linear term: ‖W v_i‖ Δf_i, i = 1..r.
    let lin = match feature {
        Some(h) => {
            let wv = h.features(v)?;
            Mat::from_fn(r, 1, |i, _| wv.col(i).norm_l2() * df[i])
        }
        None => Mat::from_fn(r, 1, |i, _| df[i]),
    };
    let nc = match feature {
        Some(h) => h.features(cm.as_ref())?.norm_l2(),
        None => cm.norm_l2(),
    };
    Ok(nc.hypot(t_max * lin.norm_l2()))
}

/// The exact PFD between two subspace Gaussians $\mathcal N(0, U_1U_1^\top)$, $\mathcal N(0, U_2U_2^\top)$ in VE.
///
/// # Definition
/// $$\mathrm{PFD} = \frac{T}{\sqrt{1+T^2}}\,\|U_1U_1^\top - U_2U_2^\top\|_F,$$
/// the subspace distance of the recovery theorems (R06–R09) up to the factor $T/\sqrt{1+T^2}$.
/// The projector distance is evaluated without cancellation as
/// $\sqrt{\|(I - U_1U_1^\top)U_2\|_F^2 + \|(I - U_2U_2^\top)U_1\|_F^2}$ (residuals in double
/// length), never as $\sqrt{r_1 + r_2 - 2\|U_1^\top U_2\|_F^2}$.
///
/// # Accuracy
/// The residuals $(I - U_1U_1^\top)U_2$ are accumulated in double length, so their error is
/// $\approx\varepsilon\|\text{residual}\| + O(r\varepsilon^2)$ and the result is accurate to a few ulps *relative
/// to itself* for orthonormal bases at any principal angle above $\sim r\varepsilon$: at angles $\sim10^{-9}$
/// the measured relative error is below $10^{-15}$ (test `r11_pfd_subspaces_at_tiny_principal_angles`,
/// bound $10^{-14}$). The bases' own departure from orthonormality ($\|U^\top U - I\|$) perturbs the
/// value by that much absolutely.
///
/// # Errors
/// [`Error::InvalidParameter`] for $T \le 0$; [`Error::DimensionMismatch`];
/// [`Error::NotOrthonormal`], [`Error::NonFinite`].
///
/// # Examples
/// ```
/// use diffusion_lowdim::metric::pfd_subspaces;
/// let u1 = faer::mat![[1.0], [0.0]];
/// let u2 = faer::mat![[0.0], [1.0]];
/// let d = pfd_subspaces(u1.as_ref(), u2.as_ref(), 1.0)?;
/// assert!((d - 1.0).abs() < 1e-15); // (1/√2)·√2
/// # Ok::<(), diffusion_lowdim::Error>(())
/// ```
pub fn pfd_subspaces(u1: MatRef<'_, f64>, u2: MatRef<'_, f64>, t_max: f64) -> Result<f64> {
    if !(t_max.is_finite() && t_max > 0.0) {
        return Err(Error::InvalidParameter {
            name: "T (noise scale)",
            value: t_max,
            requirement: "finite and > 0",
        });
    }
    ensure_dim("rows of U2 vs rows of U1", u1.nrows(), u2.nrows())?;
    check_orthonormal("subspace basis U1", 0, u1)?;
    check_orthonormal("subspace basis U2", 1, u2)?;
    let factor = t_max / 1f64.hypot(t_max);
    Ok(factor * projector_distance(u1, u2))
}

/// $\|U_1U_1^\top - U_2U_2^\top\|_F$ from the two projection residuals.
pub(crate) fn projector_distance(u1: MatRef<'_, f64>, u2: MatRef<'_, f64>) -> f64 {
    let residual_sq = |u: MatRef<'_, f64>, v: MatRef<'_, f64>| -> f64 {
        let d = u.nrows();
        let mut c = vec![0.0; u.ncols()];
        let mut res = vec![0.0; d];
        let mut y = vec![0.0; d];
        let mut s = 0.0;
        for j in 0..v.ncols() {
            linalg::col_to_slice(v, j, &mut y);
            projection_residual(u, &y, &mut c, &mut res);
            s += res.iter().map(|r| r * r).sum::<f64>();
        }
        s
    };
    (residual_sq(u1, u2) + residual_sq(u2, u1)).sqrt()
}
