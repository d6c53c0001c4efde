//! The hidden Gaussian structure (R15, Li–Dai–Qu): the best affine denoiser of a training
//! set and the comparison metrics between denoisers.

use faer::{Mat, MatRef};

use crate::error::{Error, Result, ensure_dim, ensure_finite};
use crate::level::NoiseLevel;
use crate::linalg;
use crate::model::{Denoiser, ExactModel, Gaussian};
use crate::rng::{SeededRng, standard_normal};

/// The 10 EDM noise levels at which Li–Dai–Qu compare denoisers (VE, $\alpha = 1$, $\beta = \sigma$).
pub const EDM_LEVELS: [f64; 10] = [
    80.0, 42.415, 21.108, 9.723, 4.06, 1.501, 0.469, 0.116, 0.020, 0.002,
];

fn check_training(train: MatRef<'_, f64>) -> Result<()> {
    if train.nrows() == 0 || train.ncols() == 0 {
        return Err(Error::Empty {
            what: "training set",
            unit: "row and column",
        });
    }
    ensure_finite("training set", train)
}

/// The Gaussian with a training set's mean and $(1/N)$ covariance.
///
/// # Definition
/// $\mu = \frac1N\sum_ix^{(i)}$, $\Sigma = \frac1N\sum_i(x^{(i)}-\mu)(x^{(i)}-\mu)^\top = U\Lambda U^\top$,
/// computed from the thin SVD $X_c = U S V^\top$ of the centred data ($\lambda_i = s_i^2/N$),
/// never from $X_cX_c^\top$ (which would square the condition number). Its posterior mean
/// is the optimal affine denoiser of the training set (R15, [`optimal_affine`]).
///
/// # Errors
/// [`Error::Empty`], [`Error::NonFinite`], [`Error::NoConvergence`].
///
/// # Examples
/// ```
/// use diffusion_lowdim::metric::empirical_gaussian;
/// let g = empirical_gaussian(faer::mat![[1.0, 3.0]].as_ref())?;
/// assert_eq!(g.mean(), &[2.0]);
/// assert!((g.variances()[0] - 1.0).abs() < 1e-15);
/// # Ok::<(), diffusion_lowdim::Error>(())
/// ```
pub fn empirical_gaussian(train: MatRef<'_, f64>) -> Result<Gaussian> {
    check_training(train)?;
    let (d, n) = (train.nrows(), train.ncols());
    let nf = n as f64;
    let mean: Vec<f64> = (0..d)
        .map(|i| (0..n).map(|j| train[(i, j)]).sum::<f64>() / nf)
        .collect();
    let centred = Mat::from_fn(d, n, |i, j| train[(i, j)] - mean[i]);
    let svd = centred
        .thin_svd()
        .map_err(|_| Error::NoConvergence { what: "thin SVD" })?;
    let s = svd.S().column_vector();
    let variances: Vec<f64> = (0..s.nrows()).map(|i| s[i] * s[i] / nf).collect();
    // The thin SVD's U is orthonormal to a few ε·√d, far inside the basis tolerance.
    Gaussian::new(&mean, svd.U(), &variances)
}

/// An affine map $x \mapsto Wx + b$.
#[derive(Debug, Clone, PartialEq)]
pub struct Affine {
    /// $W$ (`d × d`).
    pub w: Mat<f64>,
    /// $b$.
    pub b: Vec<f64>,
}

impl Affine {
    /// $Wx + b$ for every column of `x`.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`].
    pub fn apply(&self, x: MatRef<'_, f64>) -> Result<Mat<f64>> {
        ensure_dim("rows of x vs columns of W", self.w.ncols(), x.nrows())?;
        let mut out = Mat::from_fn(self.w.nrows(), x.ncols(), |i, _| self.b[i]);
        linalg::gemm_acc(out.as_mut(), self.w.as_ref(), x, 1.0);
        Ok(out)
    }
}

/// The minimizer of $\mathbb E\|Wx_t + b - x_0\|^2$, $x_0$ uniform on the training set,
/// $x_t = \alpha x_0 + \beta\varepsilon$.
///
/// # Definition
/// $W = \alpha\Sigma(\alpha^2\Sigma + \beta^2I)^{-1}$, $b = \mu - \alpha W\mu$ (Li–Dai–Qu, Thm 1):
/// the Jacobian and the offset of the posterior mean of [`empirical_gaussian`]. The
/// minimizer is unique for $\beta > 0$ (the Gram matrix of the normal equations is then
/// positive definite), see `proofs/R15-hidden-gaussian-structure.md`.
///
/// # Errors
/// As [`empirical_gaussian`].
///
/// # Examples
/// ```
/// use diffusion_lowdim::metric::optimal_affine;
/// use diffusion_lowdim::NoiseLevel;
/// // Points ±1 (μ = 0, Σ = 1) at α = β = 1: W = 1/2, b = 0.
/// let a = optimal_affine(faer::mat![[1.0, -1.0]].as_ref(), NoiseLevel::new(1.0, 1.0)?)?;
/// assert!((a.w[(0, 0)] - 0.5).abs() < 1e-15 && a.b[0].abs() < 1e-15);
/// # Ok::<(), diffusion_lowdim::Error>(())
/// ```
pub fn optimal_affine(train: MatRef<'_, f64>, level: NoiseLevel) -> Result<Affine> {
    let g = empirical_gaussian(train)?;
    let d = g.dim();
    let w = g.jacobian(Mat::<f64>::zeros(d, 1).col(0), level)?;
    let b0 = g.posterior_mean(Mat::<f64>::zeros(d, 1).as_ref(), level)?;
    Ok(Affine {
        w,
        b: (0..d).map(|i| b0[(i, 0)]).collect(),
    })
}

/// The expected normal equations of the affine denoising problem on a training set.
///
/// # Definition
/// With $\tilde x = (x_t, 1)$ and $\Theta = [W\ b]$, the loss $\mathbb E\|\Theta\tilde x - x_0\|^2$ is
/// minimized where $\Theta\,\mathbb E[\tilde x\tilde x^\top] = \mathbb E[x_0\tilde x^\top]$, and in closed form
/// (with the raw second moment $S = \frac1N\sum_ix^{(i)}x^{(i)\top}$ and the mean $m$):
/// $$\mathbb E[\tilde x\tilde x^\top] = \begin{pmatrix}\alpha^2S + \beta^2I & \alpha m\\ \alpha m^\top & 1\end{pmatrix},\qquad
///   \mathbb E[x_0\tilde x^\top] = \begin{pmatrix}\alpha S & m\end{pmatrix}.$$
/// Both are formed from the raw data (no centring, no eigendecomposition), so they are an
/// independent check of [`optimal_affine`].
#[derive(Debug, Clone, PartialEq)]
pub struct NormalEquations {
    /// $\mathbb E[\tilde x\tilde x^\top]$, $(d+1)\times(d+1)$.
    pub gram: Mat<f64>,
    /// $\mathbb E[x_0\tilde x^\top]$, $d\times(d+1)$.
    pub cross: Mat<f64>,
}

impl NormalEquations {
    /// The expected normal equations of `train` (`d × N`) at `level`.
    ///
    /// # Errors
    /// [`Error::Empty`], [`Error::NonFinite`].
    pub fn new(train: MatRef<'_, f64>, level: NoiseLevel) -> Result<Self> {
        check_training(train)?;
        let (d, n) = (train.nrows(), train.ncols());
        let nf = n as f64;
        let s = linalg::mul(train, train.transpose());
        let m: Vec<f64> = (0..d)
            .map(|i| (0..n).map(|j| train[(i, j)]).sum::<f64>() / nf)
            .collect();
        let (a, b) = (level.alpha(), level.beta());
        let gram = Mat::from_fn(d + 1, d + 1, |i, j| match (i < d, j < d) {
            (true, true) => a * a * s[(i, j)] / nf + if i == j { b * b } else { 0.0 },
            (true, false) => a * m[i],
            (false, true) => a * m[j],
            (false, false) => 1.0,
        });
        let cross = Mat::from_fn(
            d,
            d + 1,
            |i, j| if j < d { a * s[(i, j)] / nf } else { m[i] },
        );
        Ok(Self { gram, cross })
    }

    /// The residual $[W\ b]\,\mathbb E[\tilde x\tilde x^\top] - \mathbb E[x_0\tilde x^\top]$ (`d × (d+1)`).
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`].
    pub fn residual(&self, affine: &Affine) -> Result<Mat<f64>> {
        let d = self.cross.nrows();
        ensure_dim("rows of W vs the normal equations", d, affine.w.nrows())?;
        ensure_dim("columns of W vs the normal equations", d, affine.w.ncols())?;
        let theta = Mat::from_fn(
            d,
            d + 1,
            |i, j| if j < d { affine.w[(i, j)] } else { affine.b[i] },
        );
        let mut r = linalg::mul(theta.as_ref(), self.gram.as_ref());
        for j in 0..=d {
            for i in 0..d {
                r[(i, j)] -= self.cross[(i, j)];
            }
        }
        Ok(r)
    }
}

/// An affine map fitted by least squares, with heteroscedasticity-robust standard errors.
#[derive(Debug, Clone, PartialEq)]
pub struct AffineFit {
    /// The fitted map.
    pub affine: Affine,
    /// Standard errors of $W$ (`d × d`) ...
    pub w_std_error: Mat<f64>,
    /// ... and of $b$ (HC0 sandwich estimator).
    pub b_std_error: Vec<f64>,
}

/// Least squares for $x_0 \approx Wx_t + b$ on pairs (columns of `x_t`, `x0`), with the
/// HC0 (sandwich) standard errors of every coefficient.
///
/// # Definition
/// With $\tilde X^\top = QR$ (thin QR of the $n\times(d+1)$ design, rows $\tilde x_i^\top$),
/// $\hat\Theta^\top = R^{-1}Q^\top X_0^\top$, residuals $e_i = x_0^{(i)} - \hat\Theta\tilde x_i$ and, per output
/// coordinate $k$, $\widehat{\operatorname{Cov}}(\hat\Theta_{k\cdot}) = R^{-1}\big(\sum_ie_{ik}^2q_iq_i^\top\big)R^{-\top}$
/// ($q_i^\top$ the rows of $Q$), the sandwich $(\tilde X\tilde X^\top)^{-1}(\sum_ie_{ik}^2\tilde x_i\tilde x_i^\top)(\tilde X\tilde X^\top)^{-1}$
/// written through the QR factor. HC0 is consistent without assuming constant residual
/// variance, which fails here (the posterior spread depends on $x_t$).
///
/// # Errors
/// [`Error::DimensionMismatch`]; [`Error::InvalidCount`] for fewer than $d + 2$ pairs;
/// [`Error::NonFinite`]; [`Error::NoConvergence`] for a rank-deficient design.
pub fn fit_affine(x_t: MatRef<'_, f64>, x0: MatRef<'_, f64>) -> Result<AffineFit> {
    let (d, n) = (x_t.nrows(), x_t.ncols());
    ensure_dim("rows of x0 vs rows of x_t", d, x0.nrows())?;
    ensure_dim("columns of x0 vs columns of x_t", n, x0.ncols())?;
    ensure_finite("x_t", x_t)?;
    ensure_finite("x0", x0)?;
    let p = d + 1;
    if n < p + 1 {
        return Err(Error::InvalidCount {
            name: "pairs",
            value: n,
            requirement: "at least d + 2",
        });
    }
    let design = Mat::from_fn(n, p, |i, j| if j < d { x_t[(j, i)] } else { 1.0 });
    let qr = design.qr();
    let q = qr.compute_thin_Q();
    let r = qr.thin_R().to_owned();
    for k in 0..p {
        if r[(k, k)] == 0.0 || r[(k, k)].is_nan() {
            return Err(Error::NoConvergence {
                what: "least squares (rank-deficient design)",
            });
        }
    }
    // R⁻¹ by back substitution (p is small).
    let mut rinv = Mat::<f64>::zeros(p, p);
    for col in 0..p {
        for i in (0..p).rev() {
            let mut s = if i == col { 1.0 } else { 0.0 };
            for j in i + 1..p {
                s -= r[(i, j)] * rinv[(j, col)];
            }
            rinv[(i, col)] = s / r[(i, i)];
        }
    }
    let y = x0.transpose().to_owned(); // n × d
    let qty = linalg::mul(q.transpose(), y.as_ref()); // p × d
    let theta_t = linalg::mul(rinv.as_ref(), qty.as_ref()); // p × d
    let fitted = linalg::mul(design.as_ref(), theta_t.as_ref()); // n × d
    let mut w_se = Mat::<f64>::zeros(d, d);
    let mut b_se = vec![0.0; d];
    for k in 0..d {
        let mut meat = Mat::<f64>::zeros(p, p);
        for i in 0..n {
            let e = y[(i, k)] - fitted[(i, k)];
            let e2 = e * e;
            for a in 0..p {
                for b in 0..p {
                    meat[(a, b)] += e2 * q[(i, a)] * q[(i, b)];
                }
            }
        }
        let cov = linalg::mul(
            linalg::mul(rinv.as_ref(), meat.as_ref()).as_ref(),
            rinv.transpose(),
        );
        for j in 0..d {
            w_se[(k, j)] = cov[(j, j)].max(0.0).sqrt();
        }
        b_se[k] = cov[(d, d)].max(0.0).sqrt();
    }
    Ok(AffineFit {
        affine: Affine {
            w: Mat::from_fn(d, d, |i, j| theta_t[(j, i)]),
            b: (0..d).map(|i| theta_t[(d, i)]).collect(),
        },
        w_std_error: w_se,
        b_std_error: b_se,
    })
}

/// `n` pairs $(x_t, x_0)$: $x_0$ uniform over the training columns, $x_t = \alpha x_0 + \beta\varepsilon$.
///
/// # Errors
/// [`Error::Empty`], [`Error::NonFinite`].
pub fn sample_pairs(
    train: MatRef<'_, f64>,
    level: NoiseLevel,
    n: usize,
    rng: &mut SeededRng,
) -> Result<(Mat<f64>, Mat<f64>)> {
    use rand::RngExt;
    check_training(train)?;
    let d = train.nrows();
    let idx: Vec<usize> = (0..n).map(|_| rng.random_range(0..train.ncols())).collect();
    let x0 = Mat::from_fn(d, n, |i, j| train[(i, idx[j])]);
    let e = standard_normal(rng, d, n);
    let xt = Mat::from_fn(d, n, |i, j| {
        level.alpha() * x0[(i, j)] + level.beta() * e[(i, j)]
    });
    Ok((xt, x0))
}

/// Per-dimension RMSE between two denoisers on the columns of `x_t`:
/// $\sqrt{\frac1{dB}\sum_j\|D_1(x_j) - D_2(x_j)\|^2}$.
///
/// # Errors
/// [`Error::DimensionMismatch`], [`Error::Empty`], and the denoisers' errors.
///
/// # Examples
/// ```
/// use diffusion_lowdim::metric::per_dim_rmse;
/// use diffusion_lowdim::{Gaussian, NoiseLevel};
/// let g = Gaussian::new(&[0.0, 0.0], faer::mat![[1.0, 0.0], [0.0, 1.0]].as_ref(), &[1.0, 1.0])?;
/// let x = faer::mat![[1.0, 2.0], [3.0, 4.0]];
/// assert_eq!(per_dim_rmse(&g, &g, x.as_ref(), NoiseLevel::ve(1.0)?)?, 0.0);
/// # Ok::<(), diffusion_lowdim::Error>(())
/// ```
pub fn per_dim_rmse(
    a: &dyn Denoiser,
    b: &dyn Denoiser,
    x_t: MatRef<'_, f64>,
    level: NoiseLevel,
) -> Result<f64> {
    ensure_dim(
        "dimension of the second denoiser vs the first",
        a.dim(),
        b.dim(),
    )?;
    if x_t.ncols() == 0 {
        return Err(Error::Empty {
            what: "x_t",
            unit: "column",
        });
    }
    let da = a.posterior_mean(x_t, level)?;
    let db = b.posterior_mean(x_t, level)?;
    let n = (x_t.nrows() * x_t.ncols()) as f64;
    Ok(linalg::frobenius_distance(da.as_ref(), db.as_ref()) / n.sqrt())
}

/// The linearity score $\mathbb E\,|\cos(D(ax_1 + bx_2),\ aD(x_1) + bD(x_2))|$, $a = b = 1/\sqrt2$,
/// averaged over the column pairs of `x1`, `x2`.
///
/// # Definition
/// 1 for a linear $D$; for an affine $D(x) = Wx + c$ the two arguments differ by
/// $(1 - a - b)c$. Zero vectors have cosine 0 (see [`cosine_similarity`](super::cosine_similarity)).
///
/// # Errors
/// [`Error::DimensionMismatch`], [`Error::Empty`], and the denoiser's errors.
///
/// # Examples
/// ```
/// use diffusion_lowdim::metric::linearity_score;
/// use diffusion_lowdim::{Gaussian, NoiseLevel};
/// let g = Gaussian::subspace(faer::mat![[1.0], [0.0]].as_ref())?; // linear denoiser
/// let (x1, x2) = (faer::mat![[1.0], [2.0]], faer::mat![[-3.0], [1.0]]);
/// let s = linearity_score(&g, x1.as_ref(), x2.as_ref(), NoiseLevel::ve(0.5)?)?;
/// assert!((s - 1.0).abs() < 1e-15);
/// # Ok::<(), diffusion_lowdim::Error>(())
/// ```
pub fn linearity_score(
    denoiser: &dyn Denoiser,
    x1: MatRef<'_, f64>,
    x2: MatRef<'_, f64>,
    level: NoiseLevel,
) -> Result<f64> {
    ensure_dim("rows of x2 vs x1", x1.nrows(), x2.nrows())?;
    ensure_dim("columns of x2 vs x1", x1.ncols(), x2.ncols())?;
    if x1.ncols() == 0 {
        return Err(Error::Empty {
            what: "x1",
            unit: "column",
        });
    }
    let c = core::f64::consts::FRAC_1_SQRT_2;
    let (d, n) = (x1.nrows(), x1.ncols());
    let mix = Mat::from_fn(d, n, |i, j| c * x1[(i, j)] + c * x2[(i, j)]);
    let dm = denoiser.posterior_mean(mix.as_ref(), level)?;
    let d1 = denoiser.posterior_mean(x1, level)?;
    let d2 = denoiser.posterior_mean(x2, level)?;
    let mut total = 0.0;
    let mut u = vec![0.0; d];
    let mut v = vec![0.0; d];
    for j in 0..n {
        for i in 0..d {
            u[i] = dm[(i, j)];
            v[i] = c * d1[(i, j)] + c * d2[(i, j)];
        }
        total += super::cosine_similarity(&u, &v).abs();
    }
    Ok(total / n as f64)
}

/// One row of the Li–Dai–Qu comparison at a noise level.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LevelComparison {
    /// The VE noise level $\sigma$.
    pub sigma: f64,
    /// Per-dimension RMSE between the two denoisers.
    pub rmse: f64,
    /// Linearity score of the first denoiser.
    pub linearity_first: f64,
    /// Linearity score of the second denoiser.
    pub linearity_second: f64,
}

/// Compares two denoisers at the 10 [`EDM_LEVELS`] on noisy versions $x_0 + \sigma\varepsilon$ of
/// the columns of `clean` (RMSE on them; linearity on pairs of them).
///
/// # Errors
/// As [`per_dim_rmse`] and [`linearity_score`]; [`Error::InvalidCount`] for fewer than 2 columns.
pub fn compare_at_edm_levels(
    first: &dyn Denoiser,
    second: &dyn Denoiser,
    clean: MatRef<'_, f64>,
    rng: &mut SeededRng,
) -> Result<Vec<LevelComparison>> {
    let (d, n) = (clean.nrows(), clean.ncols());
    if n < 2 {
        return Err(Error::InvalidCount {
            name: "clean samples",
            value: n,
            requirement: "at least 2",
        });
    }
    ensure_finite("clean samples", clean)?;
    let half = n / 2;
    EDM_LEVELS
        .iter()
        .map(|&sigma| {
            let level = NoiseLevel::ve(sigma)?;
            let e = standard_normal(rng, d, n);
            let xt = Mat::from_fn(d, n, |i, j| clean[(i, j)] + sigma * e[(i, j)]);
            let (x1, x2) = (
                xt.as_ref().subcols(0, half),
                xt.as_ref().subcols(half, half),
            );
            Ok(LevelComparison {
                sigma,
                rmse: per_dim_rmse(first, second, xt.as_ref(), level)?,
                linearity_first: linearity_score(first, x1, x2, level)?,
                linearity_second: linearity_score(second, x1, x2, level)?,
            })
        })
        .collect()
}
