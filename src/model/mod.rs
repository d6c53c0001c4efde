//! Exact denoisers: the posterior mean $\mathbb E[x_0\mid x_t]$ of known distributions.
//!
//! Every model implements [`Denoiser`] (posterior mean and score, batch-first on
//! `d × B` matrices whose columns are points) and [`ExactModel`] (analytic
//! Jacobian, log-density of $p_t$, exact sampling of $x_0$). A model sees a
//! [`NoiseLevel`] $(\alpha, \beta)$, never a time: one Gaussian serves VE, VP
//! and rectified-flow users alike.
//!
//! | model | $p_0$ | result |
//! |---|---|---|
//! | [`Gaussian`] | $\mathcal N(\mu, U\Lambda U^\top)$ or $\mathcal N(\mu, \Sigma)$ | R02 |
//! | [`Molrg`] | $\sum_k \pi_k\,\mathcal N(0, U_k\Lambda_kU_k^\top)$ | R03 |
//! | [`Empirical`] | $\frac1N\sum_i\delta_{x^{(i)}}$ | R04 |
//!
//! A user can implement [`Denoiser`] for anything (for example a wrapper around
//! a trained network's outputs) and use it with the crate's samplers and metrics.

mod empirical;
mod gaussian;
pub mod jacobian;
mod molrg;

pub use empirical::Empirical;
pub use gaussian::Gaussian;
pub use molrg::Molrg;

use faer::reborrow::ReborrowMut;
use faer::{ColRef, Mat, MatMut, MatRef};

use crate::error::{Result, ensure_dim, ensure_finite};
use crate::level::NoiseLevel;
use crate::rng::SeededRng;

/// The kinds of model the crate evaluates, by name: the one list that model files, the CLI
/// and the theorem instances use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    /// A Gaussian $\mathcal N(\mu, U\Lambda U^\top)$ or $\mathcal N(\mu, \Sigma)$ ([`Gaussian`]).
    Gaussian,
    /// A mixture of low-rank Gaussians ([`Molrg`]).
    Molrg,
    /// The empirical distribution of a training set ([`Empirical`]).
    Empirical,
    /// The learned K = 1 (PCA) denoiser $\frac{\alpha}{\alpha^2+\beta^2}UU^\top x$ (a
    /// [`Gaussian`] on the learned basis).
    Pca,
    /// The learned K-subspaces denoiser (a uniform [`Molrg`] on the learned bases).
    KSubspaces,
}

impl ModelKind {
    /// Every kind, in the order messages list them.
    pub const ALL: [ModelKind; 5] = [
        Self::Gaussian,
        Self::Molrg,
        Self::Empirical,
        Self::Pca,
        Self::KSubspaces,
    ];

    /// The name used in model files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Gaussian => "gaussian",
            Self::Molrg => "molrg",
            Self::Empirical => "empirical",
            Self::Pca => "pca",
            Self::KSubspaces => "k-subspaces",
        }
    }

    /// The kind called `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The names of all kinds, in order.
    pub fn names() -> Vec<&'static str> {
        Self::ALL.iter().map(|k| k.name()).collect()
    }
}

/// A denoiser: the map $x_t \mapsto \mathbb E[x_0 \mid x_t]$ at a noise level.
///
/// Required: [`dim`](Denoiser::dim) and [`posterior_mean_into`](Denoiser::posterior_mean_into).
/// The score has a default implementation by Tweedie's formula (R01),
/// $s = (\alpha\hat x_0 - x_t)/\beta^2$, which loses about
/// $\log_{10}(\|x_t\|/\|x_t-\alpha\hat x_0\|)$ digits at small $\beta$; the exact
/// models override it with cancellation-free forms.
///
/// # Examples
/// A user-defined denoiser (here: the optimal denoiser of $\mathcal N(0, I)$):
/// ```
/// use diffusion_lowdim::{Denoiser, NoiseLevel, Result};
/// use faer::{MatMut, MatRef};
/// struct StdNormal(usize);
/// impl Denoiser for StdNormal {
///     fn dim(&self) -> usize { self.0 }
///     fn posterior_mean_into(&self, x: MatRef<'_, f64>, l: NoiseLevel, mut out: MatMut<'_, f64>) -> Result<()> {
///         diffusion_lowdim::model::check_batch(self.0, x, out.as_ref())?;
///         let g = l.shrinkage();
///         for j in 0..x.ncols() { for i in 0..x.nrows() { out[(i, j)] = g * x[(i, j)]; } }
///         Ok(())
///     }
/// }
/// let x = faer::mat![[2.0], [0.0]];
/// let s = StdNormal(2).score(x.as_ref(), NoiseLevel::new(1.0, 1.0)?)?;
/// assert!((s[(0, 0)] + 1.0).abs() < 1e-15); // score of N(0, 2I) at x = (2, 0)
/// # Ok::<(), diffusion_lowdim::Error>(())
/// ```
///
/// # Contract
/// Columns are independent: the output for a column depends only on that
/// column (and the noise level), as for every posterior mean. Batch consumers
/// rely on it (a fixed-step sampler's output column depends only on its
/// starting column, and [`Pfd`](crate::metric::Pfd) may split its noises into blocks).
pub trait Denoiser: Send + Sync {
    /// Ambient dimension $d$.
    fn dim(&self) -> usize;

    /// Writes $\mathbb E[x_0\mid x_t]$ for every column of `x_t` (`d × B`) into `out` (`d × B`).
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`](crate::Error::DimensionMismatch) for wrong shapes,
    /// [`Error::NonFinite`](crate::Error::NonFinite) for NaN/inf in `x_t`.
    fn posterior_mean_into(
        &self,
        x_t: MatRef<'_, f64>,
        level: NoiseLevel,
        out: MatMut<'_, f64>,
    ) -> Result<()>;

    /// $\mathbb E[x_0\mid x_t]$ for every column of `x_t`, as a new `d × B` matrix.
    ///
    /// # Errors
    /// As [`posterior_mean_into`](Denoiser::posterior_mean_into).
    fn posterior_mean(&self, x_t: MatRef<'_, f64>, level: NoiseLevel) -> Result<Mat<f64>> {
        let mut out = Mat::<f64>::zeros(self.dim(), x_t.ncols());
        self.posterior_mean_into(x_t, level, out.as_mut())?;
        Ok(out)
    }

    /// Writes the score $\nabla\log p_t(x_t)$ of every column into `out`.
    ///
    /// # Errors
    /// As [`posterior_mean_into`](Denoiser::posterior_mean_into).
    fn score_into(
        &self,
        x_t: MatRef<'_, f64>,
        level: NoiseLevel,
        mut out: MatMut<'_, f64>,
    ) -> Result<()> {
        self.posterior_mean_into(x_t, level, out.rb_mut())?;
        let (a, b2) = (level.alpha(), level.beta() * level.beta());
        for j in 0..x_t.ncols() {
            for i in 0..x_t.nrows() {
                out[(i, j)] = a.mul_add(out[(i, j)], -x_t[(i, j)]) / b2;
            }
        }
        Ok(())
    }

    /// The score of every column, as a new `d × B` matrix.
    ///
    /// # Errors
    /// As [`posterior_mean_into`](Denoiser::posterior_mean_into).
    fn score(&self, x_t: MatRef<'_, f64>, level: NoiseLevel) -> Result<Mat<f64>> {
        let mut out = Mat::<f64>::zeros(self.dim(), x_t.ncols());
        self.score_into(x_t, level, out.as_mut())?;
        Ok(out)
    }
}

/// A distribution whose noised marginals $p_t$ are known in closed form.
pub trait ExactModel: Denoiser {
    /// The Jacobian $J = \nabla_{x_t}\mathbb E[x_0\mid x_t]$ at one point (`d × d`).
    ///
    /// For every model, $J = \frac{\alpha}{\beta^2}\operatorname{Cov}[x_0\mid x_t]$,
    /// symmetric positive semidefinite.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`](crate::Error::DimensionMismatch), [`Error::NonFinite`](crate::Error::NonFinite).
    fn jacobian(&self, x_t: ColRef<'_, f64>, level: NoiseLevel) -> Result<Mat<f64>>;

    /// $\log p_t(x_t)$ for every column of `x_t`, where $p_t$ is the law of
    /// $\alpha x_0 + \beta\varepsilon$.
    ///
    /// # Errors
    /// As [`Denoiser::posterior_mean_into`].
    fn log_density(&self, x_t: MatRef<'_, f64>, level: NoiseLevel) -> Result<Vec<f64>>;

    /// `n` independent exact samples of $x_0$ (a `d × n` matrix).
    ///
    /// # Panics
    /// If the `d × n` matrix cannot be allocated; use
    /// [`try_sample_x0`](ExactModel::try_sample_x0) when `n` comes from a user.
    fn sample_x0(&self, rng: &mut SeededRng, n: usize) -> Mat<f64>;

    /// [`sample_x0`](ExactModel::sample_x0) with the size checked first.
    ///
    /// # Errors
    /// [`Error::TooLarge`](crate::Error::TooLarge) if `d · n` exceeds
    /// [`MAX_ELEMENTS`](crate::error::MAX_ELEMENTS).
    fn try_sample_x0(&self, rng: &mut SeededRng, n: usize) -> Result<Mat<f64>> {
        crate::error::ensure_size2("samples of x0 (d × n)", self.dim(), n)?;
        Ok(self.sample_x0(rng, n))
    }
}

/// Checks a batch evaluation's shapes and the finiteness of `x_t`.
///
/// # Errors
/// [`Error::DimensionMismatch`](crate::Error::DimensionMismatch) unless `x_t` is
/// `dim × B` and `out` is `dim × B`; [`Error::NonFinite`](crate::Error::NonFinite)
/// for NaN/inf entries of `x_t`.
pub fn check_batch(dim: usize, x_t: MatRef<'_, f64>, out: MatRef<'_, f64>) -> Result<()> {
    ensure_dim("rows of x_t vs model dimension", dim, x_t.nrows())?;
    ensure_dim("rows of output vs model dimension", dim, out.nrows())?;
    ensure_dim(
        "columns of output vs columns of x_t",
        x_t.ncols(),
        out.ncols(),
    )?;
    ensure_finite("x_t", x_t)
}

/// Checks one point for a Jacobian.
pub(crate) fn check_point(dim: usize, x_t: ColRef<'_, f64>) -> Result<()> {
    ensure_dim("length of x_t vs model dimension", dim, x_t.nrows())?;
    ensure_finite("x_t", x_t.as_mat())
}

/// Columns per parallel task. Fixed (not derived from the thread count) so that
/// results are bit-identical for any number of threads.
pub(crate) const BLOCK: usize = 256;

/// Runs `f(first_column, x_block, out_block)` on fixed column blocks of `x_t`
/// and `out` in parallel; each task writes its own disjoint block of `out` in place.
pub(crate) fn par_blocks<F>(x_t: MatRef<'_, f64>, out: MatMut<'_, f64>, f: F) -> Result<()>
where
    F: Fn(usize, MatRef<'_, f64>, MatMut<'_, f64>) -> Result<()> + Sync,
{
    use rayon::prelude::*;
    let mut chunks: Vec<(usize, MatMut<'_, f64>)> = Vec::new();
    let mut rest = out;
    let mut start = 0;
    while rest.ncols() > 0 {
        let w = BLOCK.min(rest.ncols());
        let (head, tail) = rest.split_at_col_mut(w);
        chunks.push((start, head));
        rest = tail;
        start += w;
    }
    chunks
        .into_par_iter()
        .map(|(s, o)| f(s, x_t.subcols(s, o.ncols()), o))
        .collect::<Result<Vec<()>>>()
        .map(|_| ())
}

/// Numerically stable softmax in place; returns `log Σ exp(v)`.
/// Entries equal to `-∞` get weight exactly 0.
pub(crate) fn softmax_in_place(v: &mut [f64]) -> f64 {
    let m = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let mut s = 0.0;
    for x in v.iter_mut() {
        *x = (*x - m).exp();
        s += *x;
    }
    for x in v.iter_mut() {
        *x /= s;
    }
    m + s.ln()
}

/// Log-softmax of logit differences: $\log w_k = v_k - \log\sum_j e^{v_j}$, computed as
/// $(v_k - m) - \operatorname{log1p}\big(\sum_{j \ne j^*} e^{v_j - m}\big)$ with $m = v_{j^*}$
/// the largest entry, so a weight that underflows ($e^{-800}$) or is tiny still has an
/// accurate finite log. Entries equal to `-∞` stay `-∞` (weight exactly 0).
pub(crate) fn log_softmax(v: &[f64]) -> Vec<f64> {
    let Some(top) = (0..v.len()).max_by(|&a, &b| v[a].total_cmp(&v[b])) else {
        return Vec::new();
    };
    let m = v[top];
    if m == f64::NEG_INFINITY {
        return v.to_vec();
    }
    let rest: f64 = v
        .iter()
        .enumerate()
        .filter(|&(j, _)| j != top)
        .map(|(_, &x)| (x - m).exp())
        .sum();
    let lse = rest.ln_1p();
    v.iter().map(|&x| (x - m) - lse).collect()
}

/// `-(d/2) log(2π)`.
pub(crate) fn log_norm_const(d: usize) -> f64 {
    -0.5 * (d as f64) * (2.0 * core::f64::consts::PI).ln()
}
