//! The empirical distribution of a training set, R04: the memorizing denoiser.

use faer::{ColRef, Mat, MatMut, MatRef};
use rand::RngExt;

use super::{Denoiser, ExactModel, check_batch, check_point, log_norm_const, par_blocks};
use crate::error::{Error, Result, ensure_dim, ensure_finite};
use crate::level::NoiseLevel;
use crate::linalg::{self, compensated::Acc};
use crate::rng::SeededRng;

/// The empirical distribution $p_{\mathrm{emp}} = \frac1N\sum_{i=1}^N\delta_{x^{(i)}}$.
///
/// # Definition
/// $$\mathbb E[x_0\mid x_t] = \sum_i s_i\,x^{(i)},\qquad
///   s = \operatorname{softmax}_i\Big(-\frac{\|x_t-\alpha x^{(i)}\|^2}{2\beta^2}\Big). \qquad\text{(R04)}$$
/// This is the minimizer of the denoising loss over all functions on a finite
/// training set: it memorizes, and as $\beta \to 0$ it returns the nearest
/// training point.
///
/// # Accuracy
/// The logits reach $10^{16}$ at $\beta = 10^{-8}$. They are never exponentiated
/// directly: with $i_\star$ the nearest point, each candidate's gap
/// $\Delta_i = \|x_t-\alpha x^{(i)}\|^2 - \|x_t-\alpha x^{(i_\star)}\|^2$ is recomputed as
/// $\Delta_i = \alpha\langle x^{(i_\star)} - x^{(i)},\ (x_t - \alpha x^{(i)}) + (x_t-\alpha x^{(i_\star)})\rangle$
/// (a product whose first factor is small when nearly tied points are close to
/// each other; ties between far-apart points are as well conditioned as the
/// data allow) and
/// $s_i = e^{-\Delta_i/2\beta^2}/\sum_l e^{-\Delta_l/2\beta^2}$. Points whose gap
/// provably exceeds $1600\beta^2$ get weight exactly 0 (their true weight is
/// below $e^{-800}$, under the smallest f64). Ties whose computed gaps are equal
/// (duplicated points, a point and its negative at the origin) split evenly. The mean
/// is formed as $x^{(i_\star)} + \sum_i s_i(x^{(i)} - x^{(i_\star)})$, the score as
/// $-\big[(x_t - \alpha x^{(i_\star)}) - \alpha\sum_i s_i(x^{(i)}-x^{(i_\star)})\big]/\beta^2$,
/// so neither cancels when the weights concentrate.
///
/// # Examples
/// ```
/// use diffusion_lowdim::{Empirical, Denoiser, NoiseLevel};
/// let pts = faer::mat![[0.0, 1.0], [0.0, 0.0]]; // two points in R²
/// let emp = Empirical::new(pts.as_ref())?;
/// let x = faer::mat![[0.4], [0.0]];
/// // β → 0: the nearest training point.
/// let e = emp.posterior_mean(x.as_ref(), NoiseLevel::new(1.0, 1e-8)?)?;
/// assert_eq!(e[(0, 0)], 0.0);
/// // Equidistant: the tie splits evenly.
/// let mid = faer::mat![[0.5], [0.0]];
/// let e = emp.posterior_mean(mid.as_ref(), NoiseLevel::new(1.0, 1e-8)?)?;
/// assert_eq!(e[(0, 0)], 0.5);
/// # Ok::<(), diffusion_lowdim::Error>(())
/// ```
///
/// # References
/// SPEC R04. Derivation: `docs/exact-denoisers.md`; proof: `proofs/R04-empirical-posterior.md`.
#[derive(Debug, Clone)]
pub struct Empirical {
    points: Mat<f64>,
}

/// Logit gap (in units of 2β²) beyond which a weight is exactly zero.
const GAP_CUTOFF: f64 = 800.0;

/// Per-column accurate state: the nearest point and the (index, weight) pairs
/// with non-zero weight, sorted by index.
struct Column {
    star: usize,
    weights: Vec<(usize, f64)>,
    /// `log Σ_i exp(−Δ_i/2β²)` over the kept candidates (Δ relative to `star`;
    /// may be positive when the accurate gaps find a nearer point).
    log_mass: f64,
    /// `‖x − α x*‖²`.
    dist_star: f64,
}

impl Empirical {
    /// The empirical distribution of the columns of `points` (`d × N`).
    ///
    /// # Errors
    /// [`Error::Empty`] for no points or `d = 0`, [`Error::NonFinite`].
    pub fn new(points: MatRef<'_, f64>) -> Result<Self> {
        if points.nrows() == 0 {
            return Err(Error::Empty {
                what: "training set",
                unit: "row (dimension d ≥ 1)",
            });
        }
        if points.ncols() == 0 {
            return Err(Error::Empty {
                what: "training set",
                unit: "column (training point)",
            });
        }
        ensure_finite("training set", points)?;
        Ok(Self {
            points: points.to_owned(),
        })
    }

    /// The training points (`d × N`).
    pub fn points(&self) -> MatRef<'_, f64> {
        self.points.as_ref()
    }

    /// Number of training points $N$.
    pub fn len(&self) -> usize {
        self.points.ncols()
    }

    /// Always false (construction requires a point).
    pub fn is_empty(&self) -> bool {
        false
    }

    /// `‖x − α p_i‖²` with one rounding per residual entry.
    fn sq_dist(&self, x: &[f64], alpha: f64, i: usize) -> f64 {
        let p = self.points.col(i);
        let mut s = 0.0;
        for (l, &xl) in x.iter().enumerate() {
            let r = (-alpha).mul_add(p[l], xl);
            s = r.mul_add(r, s);
        }
        s
    }

    /// The accurate weights of one column.
    fn column(&self, x: &[f64], level: NoiseLevel) -> Column {
        let (alpha, beta) = (level.alpha(), level.beta());
        let n = self.len();
        let d = x.len();
        let dist: Vec<f64> = (0..n).map(|i| self.sq_dist(x, alpha, i)).collect();
        let star = (0..n)
            .min_by(|&a, &b| dist[a].total_cmp(&dist[b]))
            .unwrap_or(0);
        let two_b2 = 2.0 * beta * beta;
        // Rounding allowance of each directly computed distance (γ_{d+2}·value).
        let g = crate::prec::gamma(d + 2);
        let p_star = self.points.col(star);
        let r_star: Vec<f64> = (0..d).map(|l| (-alpha).mul_add(p_star[l], x[l])).collect();
        let mut gaps: Vec<(usize, f64)> = Vec::new();
        for i in 0..n {
            if i == star {
                gaps.push((i, 0.0));
                continue;
            }
            let est = dist[i] - dist[star];
            if est - g * (dist[i] + dist[star]) > GAP_CUTOFF * two_b2 {
                continue;
            }
            // Δ_i = α ⟨p* − p_i, r_i + r*⟩, r = x − αp.
            let p = self.points.col(i);
            let mut acc = Acc::default();
            for l in 0..d {
                let diff = p_star[l] - p[l];
                let ri = (-alpha).mul_add(p[l], x[l]);
                acc.add_prod(diff, ri + r_star[l]);
            }
            gaps.push((i, alpha * acc.value()));
        }
        // The accurate gaps may reveal that another candidate is nearer than the
        // f64 choice of `star` (a near tie): shift by the smallest gap instead of
        // clamping, so the weights stay right whatever the reference point.
        let shift = gaps.iter().map(|g| g.1).fold(0.0f64, f64::min);
        let mut total = 0.0;
        let mut weights: Vec<(usize, f64)> = gaps
            .iter()
            .filter(|g| g.1 - shift <= GAP_CUTOFF * two_b2)
            .map(|&(i, delta)| {
                let e = (-(delta - shift) / two_b2).exp();
                total += e;
                (i, e)
            })
            .collect();
        for w in &mut weights {
            w.1 /= total;
        }
        Column {
            star,
            weights,
            log_mass: total.ln() - shift / two_b2,
            dist_star: dist[star],
        }
    }

    /// `Σ_i s_i (p_i − p*)` for one column.
    fn weighted_offset(&self, col: &Column, out: &mut [f64]) {
        out.iter_mut().for_each(|v| *v = 0.0);
        let p_star = self.points.col(col.star);
        for &(i, s) in &col.weights {
            if i == col.star {
                continue;
            }
            let p = self.points.col(i);
            for (l, o) in out.iter_mut().enumerate() {
                *o = s.mul_add(p[l] - p_star[l], *o);
            }
        }
    }

    /// The weights $s_i(x_t)$ of one point, as `(index, weight)` pairs for
    /// every training point with a non-zero weight, sorted by index.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`], [`Error::NonFinite`].
    pub fn posterior_weights(
        &self,
        x_t: ColRef<'_, f64>,
        level: NoiseLevel,
    ) -> Result<Vec<(usize, f64)>> {
        check_point(self.dim(), x_t)?;
        let mut x = vec![0.0; self.dim()];
        linalg::col_to_slice(x_t.as_mat(), 0, &mut x);
        Ok(self.column(&x, level).weights)
    }
}

impl Denoiser for Empirical {
    fn dim(&self) -> usize {
        self.points.nrows()
    }

    fn posterior_mean_into(
        &self,
        x_t: MatRef<'_, f64>,
        level: NoiseLevel,
        out: MatMut<'_, f64>,
    ) -> Result<()> {
        check_batch(self.dim(), x_t, out.as_ref())?;
        let d = self.dim();
        par_blocks(x_t, out, |xb, mut o| {
            o.fill(0.0);
            let mut x = vec![0.0; d];
            let mut off = vec![0.0; d];
            for j in 0..xb.ncols() {
                linalg::col_to_slice(xb, j, &mut x);
                let col = self.column(&x, level);
                self.weighted_offset(&col, &mut off);
                let p_star = self.points.col(col.star);
                for l in 0..d {
                    o[(l, j)] = p_star[l] + off[l];
                }
            }
            Ok(())
        })
    }

    fn score_into(
        &self,
        x_t: MatRef<'_, f64>,
        level: NoiseLevel,
        out: MatMut<'_, f64>,
    ) -> Result<()> {
        check_batch(self.dim(), x_t, out.as_ref())?;
        let d = self.dim();
        let (alpha, beta) = (level.alpha(), level.beta());
        let inv_b2 = 1.0 / (beta * beta);
        par_blocks(x_t, out, |xb, mut o| {
            o.fill(0.0);
            let mut x = vec![0.0; d];
            let mut off = vec![0.0; d];
            for j in 0..xb.ncols() {
                linalg::col_to_slice(xb, j, &mut x);
                let col = self.column(&x, level);
                self.weighted_offset(&col, &mut off);
                let p_star = self.points.col(col.star);
                for l in 0..d {
                    let r_star = (-alpha).mul_add(p_star[l], x[l]);
                    o[(l, j)] = -alpha.mul_add(-off[l], r_star) * inv_b2;
                }
            }
            Ok(())
        })
    }
}

impl ExactModel for Empirical {
    fn jacobian(&self, x_t: ColRef<'_, f64>, level: NoiseLevel) -> Result<Mat<f64>> {
        check_point(self.dim(), x_t)?;
        let d = self.dim();
        let mut x = vec![0.0; d];
        linalg::col_to_slice(x_t.as_mat(), 0, &mut x);
        let col = self.column(&x, level);
        let mut off = vec![0.0; d];
        self.weighted_offset(&col, &mut off);
        let coef = level.alpha() / (level.beta() * level.beta());
        let p_star = self.points.col(col.star);
        let mut j = Mat::<f64>::zeros(d, d);
        if coef == 0.0 {
            return Ok(j);
        }
        // J = (α/β²) Σ_i s_i (p_i − x̂0)(p_i − x̂0)ᵀ, p_i − x̂0 = (p_i − p*) − off.
        let mut v = vec![0.0; d];
        for &(i, s) in &col.weights {
            let p = self.points.col(i);
            for l in 0..d {
                v[l] = (p[l] - p_star[l]) - off[l];
            }
            let cs = coef * s;
            for b in 0..d {
                let vb = cs * v[b];
                if vb == 0.0 {
                    continue;
                }
                for a in 0..d {
                    j[(a, b)] += v[a] * vb;
                }
            }
        }
        Ok(j)
    }

    fn log_density(&self, x_t: MatRef<'_, f64>, level: NoiseLevel) -> Result<Vec<f64>> {
        ensure_dim("rows of x_t vs model dimension", self.dim(), x_t.nrows())?;
        ensure_finite("x_t", x_t)?;
        let d = self.dim();
        let beta = level.beta();
        let mut x = vec![0.0; d];
        Ok((0..x_t.ncols())
            .map(|j| {
                linalg::col_to_slice(x_t, j, &mut x);
                let col = self.column(&x, level);
                -col.dist_star / (2.0 * beta * beta) + col.log_mass
                    - (self.len() as f64).ln()
                    - (d as f64) * beta.ln()
                    + log_norm_const(d)
            })
            .collect())
    }

    fn sample_x0(&self, rng: &mut SeededRng, n: usize) -> Mat<f64> {
        let d = self.dim();
        let mut out = Mat::<f64>::zeros(d, n);
        for j in 0..n {
            let i = rng.random_range(0..self.len());
            for l in 0..d {
                out[(l, j)] = self.points[(l, i)];
            }
        }
        out
    }
}
