//! Independent reference computations in double-double precision (`faer::fx128`,
//! about 32 significant digits).
//!
//! These are deliberately plain: textbook formulas, dense matrices, explicit
//! loops, no shared code with the models. The theorem checks compare the
//! models' f64 results against them. Inputs are f64 and taken as exact.

#![allow(non_snake_case)]

use faer::{Mat, MatRef, fx128};

/// Double-double scalar.
pub type Q = fx128;

/// Exact embedding of an f64.
#[inline]
pub fn q(x: f64) -> Q {
    Q::from_f64(x)
}

/// Rounds a double-double to the nearest f64.
#[inline]
pub fn f(x: Q) -> f64 {
    x.0 + x.1
}

fn zeros(n: usize) -> Vec<Q> {
    vec![Q::ZERO; n]
}

fn dot(a: &[Q], b: &[Q]) -> Q {
    let mut s = Q::ZERO;
    for (x, y) in a.iter().zip(b) {
        s += *x * *y;
    }
    s
}

fn col(m: MatRef<'_, f64>, j: usize) -> Vec<Q> {
    (0..m.nrows()).map(|i| q(m[(i, j)])).collect()
}

/// `log(exp(a_1) + … + exp(a_n))` in double-double; `-∞` entries are skipped.
pub fn log_sum_exp(a: &[Q]) -> Q {
    let mut m = Q::NEG_INFINITY;
    for &x in a {
        if x.0 > m.0 {
            m = x;
        }
    }
    let mut s = Q::ZERO;
    for &x in a {
        if x.0 > f64::NEG_INFINITY {
            s += (x - m).exp();
        }
    }
    m + s.ln()
}

/// Softmax in double-double.
pub fn softmax(a: &[Q]) -> Vec<Q> {
    let l = log_sum_exp(a);
    a.iter()
        .map(|&x| {
            if x.0 == f64::NEG_INFINITY {
                Q::ZERO
            } else {
                (x - l).exp()
            }
        })
        .collect()
}

/// Log-softmax in double-double: $a_k - \log\sum_j e^{a_j}$ (`-∞` stays `-∞`).
pub fn log_softmax(a: &[Q]) -> Vec<Q> {
    let l = log_sum_exp(a);
    a.iter()
        .map(|&x| if x.0 == f64::NEG_INFINITY { x } else { x - l })
        .collect()
}

/// The logits $-\|x - \alpha x^{(i)}\|^2/2\beta^2$ of the empirical posterior, in double-double.
pub fn empirical_logits(points: MatRef<'_, f64>, x: &[f64], alpha: f64, beta: f64) -> Vec<Q> {
    let (a, b) = (q(alpha), q(beta));
    (0..points.ncols())
        .map(|i| {
            let mut s = Q::ZERO;
            for (l, &xl) in x.iter().enumerate() {
                let r = q(xl) - a * q(points[(l, i)]);
                s += r * r;
            }
            -s / (q(2.0) * b * b)
        })
        .collect()
}

/// The sine of the angle between the line spanned by `v` and the subspace spanned by the
/// orthonormal columns of `U`, $\|(I - UU^\top)v\|/\|v\|$, in double-double (the inputs taken
/// as exact; `U` as orthonormal).
pub fn line_sine(U: MatRef<'_, f64>, v: &[f64]) -> f64 {
    let vq: Vec<Q> = v.iter().map(|&x| q(x)).collect();
    let mut r = vq.clone();
    for j in 0..U.ncols() {
        let u = col(U, j);
        let c = dot(&u, &vq);
        for (ri, ui) in r.iter_mut().zip(&u) {
            *ri -= c * *ui;
        }
    }
    f(dot(&r, &r).sqrt() / dot(&vq, &vq).sqrt())
}

/// The $\varepsilon$-expectation of the squared error of the linear denoiser
/// $x_U(x_t) = \frac{\alpha}{\alpha^2+\beta^2}UU^\top x_t$ at $x_t = \alpha x + \beta\varepsilon$, summed over the
/// columns of `X`, in double-double, from the affine map itself: $\|gα UU^\top x - x\|^2 + \beta^2g^2\|UU^\top\|_F^2$.
pub fn linear_dae_loss(U: MatRef<'_, f64>, X: MatRef<'_, f64>, alpha: f64, beta: f64) -> Q {
    let (a, b) = (q(alpha), q(beta));
    let g = a / (a * a + b * b);
    let d = U.nrows();
    let P: Vec<Vec<Q>> = (0..d)
        .map(|i| {
            (0..d)
                .map(|j| {
                    let mut s = Q::ZERO;
                    for l in 0..U.ncols() {
                        s += q(U[(i, l)]) * q(U[(j, l)]);
                    }
                    s
                })
                .collect()
        })
        .collect();
    let pf2: Q = P.iter().flatten().fold(Q::ZERO, |s, &p| s + p * p);
    let mut total = Q::ZERO;
    for n in 0..X.ncols() {
        let x = col(X, n);
        for i in 0..d {
            let r = g * a * dot(&P[i], &x) - x[i];
            total += r * r;
        }
        total += b * b * g * g * pf2;
    }
    total
}

/// Dense covariance $\sum_j \lambda_j u_j u_j^\top$ of a basis, in double-double.
pub fn dense_covariance(U: MatRef<'_, f64>, lambda: &[f64]) -> Vec<Vec<Q>> {
    let d = U.nrows();
    let mut S = vec![zeros(d); d];
    for (j, &l) in lambda.iter().enumerate() {
        let u = col(U, j);
        for a in 0..d {
            let ua = u[a] * q(l);
            for b in 0..d {
                S[a][b] += ua * u[b];
            }
        }
    }
    S
}

/// Cholesky factor `L` (lower, row-major vectors) of a symmetric positive definite matrix.
fn cholesky(A: &[Vec<Q>]) -> Vec<Vec<Q>> {
    let n = A.len();
    let mut L = vec![zeros(n); n];
    for j in 0..n {
        let mut s = A[j][j];
        for v in &L[j][..j] {
            s -= *v * *v;
        }
        let ljj = s.sqrt();
        L[j][j] = ljj;
        for i in (j + 1)..n {
            let mut t = A[i][j];
            for (a, b) in L[i][..j].iter().zip(&L[j][..j]) {
                t -= *a * *b;
            }
            L[i][j] = t / ljj;
        }
    }
    L
}

/// Solves `L Lᵀ z = y`.
fn chol_solve(L: &[Vec<Q>], y: &[Q]) -> Vec<Q> {
    let n = L.len();
    let mut w = y.to_vec();
    for i in 0..n {
        let mut s = w[i];
        for k in 0..i {
            s -= L[i][k] * w[k];
        }
        w[i] = s / L[i][i];
    }
    for i in (0..n).rev() {
        let mut s = w[i];
        for k in (i + 1)..n {
            s -= L[k][i] * w[k];
        }
        w[i] = s / L[i][i];
    }
    w
}

/// Posterior mean, score and log-density of $\mathcal N(\mu, \Sigma)$ at one
/// point, from the dense formulas
/// $C = \alpha^2\Sigma + \beta^2 I$, $z = C^{-1}(x - \alpha\mu)$,
/// $\hat x_0 = \mu + \alpha\Sigma z$, $s = -z$,
/// $\log p_t = -\tfrac12 (x-\alpha\mu)^\top z - \tfrac12\log\det C - \tfrac d2\log 2\pi$.
#[derive(Debug, Clone)]
pub struct DenseGaussianAt {
    /// Posterior mean.
    pub mean: Vec<Q>,
    /// Score.
    pub score: Vec<Q>,
    /// Log-density of $p_t$.
    pub log_density: Q,
}

/// See [`DenseGaussianAt`].
pub fn dense_gaussian_at(
    mu: &[f64],
    S: &[Vec<Q>],
    x: &[f64],
    alpha: f64,
    beta: f64,
) -> DenseGaussianAt {
    let d = x.len();
    let (a, b) = (q(alpha), q(beta));
    let mut C = S.to_vec();
    for i in 0..d {
        for j in 0..d {
            C[i][j] = a * a * S[i][j];
        }
        C[i][i] += b * b;
    }
    let L = cholesky(&C);
    let y: Vec<Q> = (0..d).map(|i| q(x[i]) - a * q(mu[i])).collect();
    let z = chol_solve(&L, &y);
    let mean: Vec<Q> = (0..d).map(|i| q(mu[i]) + a * dot(&S[i], &z)).collect();
    let score: Vec<Q> = z.iter().map(|v| -*v).collect();
    let mut logdet = Q::ZERO;
    for (i, row) in L.iter().enumerate() {
        logdet += q(2.0) * row[i].ln();
    }
    let log_density =
        -q(0.5) * dot(&y, &z) - q(0.5) * logdet - q(0.5 * d as f64) * (q(2.0) * Q::PI).ln();
    DenseGaussianAt {
        mean,
        score,
        log_density,
    }
}

/// The general Gaussian-mixture posterior with dense covariances:
/// $w_k \propto \pi_k\,\mathcal N(x; \alpha\mu_k, C_k)$ (weights from dense log-densities),
/// $\hat x_0 = \sum_k w_k\hat x_{0,k}$, $s = \sum_k w_k s_k$, $\log p_t = \operatorname{lse}_k(\log\pi_k + \log p_{t,k})$.
pub fn dense_mixture_at(
    pi: &[f64],
    covs: &[Vec<Vec<Q>>],
    x: &[f64],
    alpha: f64,
    beta: f64,
) -> (DenseGaussianAt, Vec<Q>) {
    let d = x.len();
    let zero = vec![0.0; d];
    let comps: Vec<DenseGaussianAt> = covs
        .iter()
        .map(|S| dense_gaussian_at(&zero, S, x, alpha, beta))
        .collect();
    let logits: Vec<Q> = comps
        .iter()
        .zip(pi)
        .map(|(c, &p)| {
            if p == 0.0 {
                Q::NEG_INFINITY
            } else {
                q(p).ln() + c.log_density
            }
        })
        .collect();
    let w = softmax(&logits);
    let mut mean = zeros(d);
    let mut score = zeros(d);
    for (c, &wk) in comps.iter().zip(&w) {
        for i in 0..d {
            mean[i] += wk * c.mean[i];
            score[i] += wk * c.score[i];
        }
    }
    (
        DenseGaussianAt {
            mean,
            score,
            log_density: log_sum_exp(&logits),
        },
        w,
    )
}

/// The MoLRG formula of R03 in projector form, evaluated in double-double.
#[derive(Debug, Clone)]
pub struct MolrgAt {
    /// Posterior mean $\sum_k w_k U_k(g_k\circ c_k)$.
    pub mean: Vec<Q>,
    /// Score $-\sum_k w_k[(x - U_kc_k)/\beta^2 + U_k(h_k\circ c_k)]$.
    pub score: Vec<Q>,
    /// Weights $w_k$.
    pub weights: Vec<Q>,
    /// Logits $\log\pi_k - \tfrac12\sum_j\log(1+\alpha^2\lambda_{kj}/\beta^2) + \sum_j\kappa_{kj}c_{kj}^2$.
    pub logits: Vec<Q>,
    /// Component means $m_k = U_k(g_k\circ c_k)$.
    pub component_means: Vec<Vec<Q>>,
    /// Per component: $\|U_k(h_k\circ c_k)\| + \|x - U_kc_k\|/\beta^2$.
    pub score_magnitudes: Vec<f64>,
}

/// See [`MolrgAt`]. `printed_lemma1 = true` evaluates the paper's printed
/// Lemma 1 instead: logits $\varphi_t\|U_k^\top x\|^2$ only (no $\log\pi_k$, no rank term).
pub fn molrg_formula_at(
    pi: &[f64],
    bases: &[MatRef<'_, f64>],
    variances: &[Vec<f64>],
    x: &[f64],
    alpha: f64,
    beta: f64,
    printed_lemma1: bool,
) -> MolrgAt {
    let d = x.len();
    let (a, b) = (q(alpha), q(beta));
    let (a2, b2) = (a * a, b * b);
    let xq: Vec<Q> = x.iter().map(|&v| q(v)).collect();
    let mut logits = Vec::new();
    let mut coeffs = Vec::new();
    for ((U, lam), &p) in bases.iter().zip(variances).zip(pi) {
        let c: Vec<Q> = (0..U.ncols()).map(|j| dot(&col(*U, j), &xq)).collect();
        let mut l = if printed_lemma1 {
            Q::ZERO
        } else if p == 0.0 {
            Q::NEG_INFINITY
        } else {
            q(p).ln()
        };
        for (cj, &lj) in c.iter().zip(lam) {
            let lq = q(lj);
            if !printed_lemma1 {
                l -= q(0.5) * (Q::ONE + a2 * lq / b2).ln();
            }
            l += a2 * lq / (q(2.0) * b2 * (a2 * lq + b2)) * *cj * *cj;
        }
        logits.push(l);
        coeffs.push(c);
    }
    let w = softmax(&logits);
    let mut mean = zeros(d);
    let mut score = zeros(d);
    let mut component_means = Vec::new();
    let mut score_magnitudes = Vec::new();
    for (((U, lam), c), &wk) in bases.iter().zip(variances).zip(&coeffs).zip(&w) {
        let mut mk = zeros(d);
        let mut hs2 = Q::ZERO;
        let mut res2 = Q::ZERO;
        for i in 0..d {
            let mut m = Q::ZERO;
            let mut proj = Q::ZERO;
            let mut hs = Q::ZERO;
            for (j, (&cj, &lj)) in c.iter().zip(lam).enumerate() {
                let u = q(U[(i, j)]);
                let lq = q(lj);
                m += u * (a * lq / (a2 * lq + b2)) * cj;
                proj += u * cj;
                hs += u * cj / (a2 * lq + b2);
            }
            mk[i] = m;
            mean[i] += wk * m;
            // A square basis spans R^d: its residual is zero by definition.
            let res = if U.ncols() == d {
                Q::ZERO
            } else {
                xq[i] - proj
            };
            score[i] -= wk * (res / b2 + hs);
            hs2 += hs * hs;
            res2 += res * res;
        }
        component_means.push(mk);
        score_magnitudes.push(f(hs2.sqrt()) + f(res2.sqrt() / b2));
    }
    MolrgAt {
        mean,
        score,
        weights: w,
        logits,
        component_means,
        score_magnitudes,
    }
}

/// The empirical posterior of R04 in double-double: distances, softmax, mean
/// $\sum_i s_ix^{(i)}$ and score $\sum_i s_i(\alpha x^{(i)} - x)/\beta^2$. Returns (mean, score, weights).
pub fn empirical_at(
    points: MatRef<'_, f64>,
    x: &[f64],
    alpha: f64,
    beta: f64,
) -> (Vec<Q>, Vec<Q>, Vec<Q>) {
    let d = x.len();
    let n = points.ncols();
    let (a, b) = (q(alpha), q(beta));
    let logits: Vec<Q> = (0..n)
        .map(|i| {
            let mut s = Q::ZERO;
            for l in 0..d {
                let r = q(x[l]) - a * q(points[(l, i)]);
                s += r * r;
            }
            -s / (q(2.0) * b * b)
        })
        .collect();
    let w = softmax(&logits);
    let mut mean = zeros(d);
    let mut score = zeros(d);
    for (i, &wi) in w.iter().enumerate() {
        for l in 0..d {
            let p = q(points[(l, i)]);
            mean[l] += wi * p;
            score[l] += wi * (a * p - q(x[l])) / (b * b);
        }
    }
    (mean, score, w)
}

/// Euclidean norm of a double-double vector, rounded.
pub fn norm(v: &[Q]) -> f64 {
    f(dot(v, v).sqrt())
}

/// `‖a − b‖` for an f64 vector against a double-double one, rounded.
pub fn dist(a: &[f64], b: &[Q]) -> f64 {
    let mut s = Q::ZERO;
    for (x, y) in a.iter().zip(b) {
        let e = q(*x) - *y;
        s += e * e;
    }
    f(s.sqrt())
}

/// Column `j` of an f64 matrix as a vector.
pub fn column(m: &Mat<f64>, j: usize) -> Vec<f64> {
    (0..m.nrows()).map(|i| m[(i, j)]).collect()
}

/// The Gaussian formulas of R02 in projector form, in double-double:
/// $y = x - \alpha\mu$, $c = U^\top y$, $\hat x_0 = \mu + U(g\circ c)$,
/// $s = -U(h\circ c) - (y - Uc)/\beta^2$,
/// $\log p_t = -\tfrac12[\sum_j h_jc_j^2 + \|y-Uc\|^2/\beta^2] - \tfrac12[\sum_j\log(\alpha^2\lambda_j+\beta^2) + (d-r)\log\beta^2] - \tfrac d2\log 2\pi$.
pub fn gaussian_projector_at(
    mu: &[f64],
    U: MatRef<'_, f64>,
    lambda: &[f64],
    x: &[f64],
    alpha: f64,
    beta: f64,
) -> DenseGaussianAt {
    let (d, r) = (U.nrows(), U.ncols());
    let (a, b) = (q(alpha), q(beta));
    let (a2, b2) = (a * a, b * b);
    let y: Vec<Q> = (0..d).map(|i| q(x[i]) - a * q(mu[i])).collect();
    let c: Vec<Q> = (0..r).map(|j| dot(&col(U, j), &y)).collect();
    let mut mean = zeros(d);
    let mut score = zeros(d);
    let mut res2 = Q::ZERO;
    for i in 0..d {
        let mut m = Q::ZERO;
        let mut p = Q::ZERO;
        let mut hs = Q::ZERO;
        for j in 0..r {
            let u = q(U[(i, j)]);
            let l = q(lambda[j]);
            m += u * (a * l / (a2 * l + b2)) * c[j];
            p += u * c[j];
            hs += u * c[j] / (a2 * l + b2);
        }
        // A basis spanning R^d has (I − UUᵀ) = 0 by definition (the model does not
        // evaluate the rounding-level residual of a d × d eigenbasis).
        let res = if r == d { Q::ZERO } else { y[i] - p };
        res2 += res * res;
        mean[i] = q(mu[i]) + m;
        score[i] = -hs - res / b2;
    }
    let mut quad = res2 / b2;
    let mut logdet = q((d - r) as f64) * b2.ln();
    for j in 0..r {
        let v = a2 * q(lambda[j]) + b2;
        quad += c[j] * c[j] / v;
        logdet += v.ln();
    }
    let log_density = -q(0.5) * quad - q(0.5) * logdet - q(0.5 * d as f64) * (q(2.0) * Q::PI).ln();
    DenseGaussianAt {
        mean,
        score,
        log_density,
    }
}

/// Dense matrix from an f64 matrix, in double-double (row vectors).
pub fn dense(m: MatRef<'_, f64>) -> Vec<Vec<Q>> {
    (0..m.nrows())
        .map(|i| (0..m.ncols()).map(|j| q(m[(i, j)])).collect())
        .collect()
}

/// The two magnitudes whose sum bounds a posterior mean's rounding:
/// `‖μ‖ + max_j g_j ‖y‖` (returned as f64).
pub fn mean_scale(mu: &[f64], gmax: f64, x: &[f64], alpha: f64) -> f64 {
    let nm: f64 = mu.iter().map(|v| v * v).sum::<f64>().sqrt();
    let ny: f64 = x
        .iter()
        .zip(mu)
        .map(|(xi, mi)| {
            let y = xi - alpha * mi;
            y * y
        })
        .sum::<f64>()
        .sqrt();
    nm + gmax * ny
}

/// Norms of the two orthogonal parts of a Gaussian score, in double-double:
/// $(\|U(h\circ c)\|, \|y - Uc\|/\beta^2)$ with $y = x - \alpha\mu$, $c = U^\top y$.
pub fn score_parts(
    mu: &[f64],
    U: MatRef<'_, f64>,
    lambda: &[f64],
    x: &[f64],
    alpha: f64,
    beta: f64,
) -> (f64, f64) {
    let (d, r) = (U.nrows(), U.ncols());
    let (a, b) = (q(alpha), q(beta));
    let y: Vec<Q> = (0..d).map(|i| q(x[i]) - a * q(mu[i])).collect();
    let c: Vec<Q> = (0..r).map(|j| dot(&col(U, j), &y)).collect();
    let mut hc2 = Q::ZERO;
    for j in 0..r {
        let h = c[j] / (a * a * q(lambda[j]) + b * b);
        hc2 += h * h;
    }
    let mut res2 = Q::ZERO;
    for i in 0..d {
        let mut p = Q::ZERO;
        for j in 0..r {
            p += q(U[(i, j)]) * c[j];
        }
        let e = if r == d { Q::ZERO } else { y[i] - p };
        res2 += e * e;
    }
    (f(hc2.sqrt()), f(res2.sqrt() / (b * b)))
}

/// The Jacobian of a Gaussian posterior mean, $\alpha\Sigma(\alpha^2\Sigma+\beta^2I)^{-1}$, dense, double-double.
pub fn gaussian_jacobian_dense(S: &[Vec<Q>], alpha: f64, beta: f64) -> Vec<Vec<Q>> {
    let d = S.len();
    let (a, b) = (q(alpha), q(beta));
    let mut C = S.to_vec();
    for i in 0..d {
        for j in 0..d {
            C[i][j] = a * a * S[i][j];
        }
        C[i][i] += b * b;
    }
    let L = cholesky(&C);
    // Z = C⁻¹ Σ, column by column (Σ symmetric).
    let cols: Vec<Vec<Q>> = (0..d).map(|j| chol_solve(&L, &S[j])).collect(); // cols[j] = C⁻¹ Σ e_j
    let mut jac = vec![zeros(d); d];
    for i in 0..d {
        for j in 0..d {
            // (Σ C⁻¹)_{ij} = (C⁻¹ Σ)_{ji} = cols[i][j]
            jac[i][j] = a * cols[i][j];
        }
    }
    jac
}

/// The Jacobian of a Gaussian-mixture posterior mean (zero-mean components),
/// dense, in double-double:
/// $J = \sum_k w_k\,\alpha\Sigma_kC_k^{-1} + \frac{\alpha}{\beta^2}\sum_k w_k(m_k-m)(m_k-m)^\top$,
/// $C_k = \alpha^2\Sigma_k + \beta^2I$, weights and component means from the dense
/// formulas (no projector, no gain formula). (The equivalent covariance form
/// $\frac{\alpha}{\beta^2}\sum_k w_k(\Sigma_k - \alpha^2\Sigma_kC_k^{-1}\Sigma_k) + \dots$ is not used: at small
/// $\beta$ it cancels catastrophically even in double-double.)
pub fn mixture_jacobian_dense(
    pi: &[f64],
    covs: &[Vec<Vec<Q>>],
    x: &[f64],
    alpha: f64,
    beta: f64,
) -> Vec<Vec<Q>> {
    let d = x.len();
    let zero = vec![0.0; d];
    let comps: Vec<DenseGaussianAt> = covs
        .iter()
        .map(|S| dense_gaussian_at(&zero, S, x, alpha, beta))
        .collect();
    let logits: Vec<Q> = comps
        .iter()
        .zip(pi)
        .map(|(c, &p)| {
            if p == 0.0 {
                Q::NEG_INFINITY
            } else {
                q(p).ln() + c.log_density
            }
        })
        .collect();
    let w = softmax(&logits);
    let mut m = zeros(d);
    for (c, &wk) in comps.iter().zip(&w) {
        for (mi, ci) in m.iter_mut().zip(&c.mean) {
            *mi += wk * *ci;
        }
    }
    let s = q(alpha) / (q(beta) * q(beta));
    let mut jac = vec![zeros(d); d];
    for ((c, S), &wk) in comps.iter().zip(covs).zip(&w) {
        let gk = gaussian_jacobian_dense(S, alpha, beta);
        let dk: Vec<Q> = (0..d).map(|i| c.mean[i] - m[i]).collect();
        for i in 0..d {
            for j in 0..d {
                jac[i][j] += wk * (gk[i][j] + s * dk[i] * dk[j]);
            }
        }
    }
    jac
}

/// The Jacobian of the empirical posterior mean, $\frac{\alpha}{\beta^2}\sum_i s_i(x^{(i)}-\hat x_0)(x^{(i)}-\hat x_0)^\top$,
/// with weights and mean from [`empirical_at`], in double-double.
pub fn empirical_jacobian(
    points: MatRef<'_, f64>,
    x: &[f64],
    alpha: f64,
    beta: f64,
) -> Vec<Vec<Q>> {
    let d = x.len();
    let (mean, _, w) = empirical_at(points, x, alpha, beta);
    let mut j = vec![zeros(d); d];
    for (i, &wi) in w.iter().enumerate() {
        if wi.0 == 0.0 {
            continue;
        }
        let v: Vec<Q> = (0..d).map(|l| q(points[(l, i)]) - mean[l]).collect();
        for a in 0..d {
            for b in 0..d {
                j[a][b] += wi * v[a] * v[b];
            }
        }
    }
    let s = q(alpha) / (q(beta) * q(beta));
    j.into_iter()
        .map(|row| row.into_iter().map(|v| s * v).collect())
        .collect()
}

/// Frobenius distance between an f64 matrix and a double-double one, rounded.
pub fn frobenius_dist(a: MatRef<'_, f64>, b: &[Vec<Q>]) -> f64 {
    let mut s = Q::ZERO;
    for (i, row) in b.iter().enumerate() {
        for (j, v) in row.iter().enumerate() {
            let e = q(a[(i, j)]) - *v;
            s += e * e;
        }
    }
    f(s.sqrt())
}

/// The closed-form PFD of two Gaussians $\mathcal N(\mu_j, V_j\operatorname{diag}(\lambda_j)V_j^\top)$ under VE
/// from $x_T = Tz$ to the clean data, from the definition: dense
/// $A_j = V_j\operatorname{diag}(f_j)V_j^\top$ with $f = \sqrt{\lambda/(\lambda+T^2)}$, all in double-double, then
/// $\mathrm{PFD}^2 = \|c\|^2 + T^2\|A_p - A_q\|_F^2$ with $c = (I - A_p)\mu_p - (I - A_q)\mu_q$, entry by entry.
/// No stable-difference formula: the entries of $A_p - A_q$ are subtracted in double-double,
/// where a cancellation of ~10 digits still leaves ~20. The stored bases are used as given
/// (not re-orthonormalized).
pub fn gaussian_pfd(
    Vp: MatRef<'_, f64>,
    lp: &[f64],
    mp: &[f64],
    Vq: MatRef<'_, f64>,
    lq: &[f64],
    mq: &[f64],
    t: f64,
) -> f64 {
    let d = Vp.nrows();
    let t2 = q(t) * q(t);
    let dense_a = |V: MatRef<'_, f64>, l: &[f64]| -> Vec<Vec<Q>> {
        let fs: Vec<Q> = l.iter().map(|&x| (q(x) / (q(x) + t2)).sqrt()).collect();
        (0..d)
            .map(|i| {
                (0..d)
                    .map(|j| {
                        let mut s = Q::ZERO;
                        for (k, fk) in fs.iter().enumerate() {
                            s += q(V[(i, k)]) * *fk * q(V[(j, k)]);
                        }
                        s
                    })
                    .collect()
            })
            .collect()
    };
    let (Ap, Aq) = (dense_a(Vp, lp), dense_a(Vq, lq));
    let mut total = Q::ZERO;
    for i in 0..d {
        let mut c = q(mp[i]) - q(mq[i]);
        for j in 0..d {
            c -= Ap[i][j] * q(mp[j]) - Aq[i][j] * q(mq[j]);
            let m = Ap[i][j] - Aq[i][j];
            total += t2 * m * m;
        }
        total += c * c;
    }
    f(total.sqrt())
}

/// $\bar\alpha_j = \prod_{i \le j}(1 - \beta_i)$ for every $j$, in double-double from the f64
/// betas (taken as exact): the DDPM cumulative product.
pub fn alphas_cumprod(betas: &[f64]) -> Vec<Q> {
    let mut p = Q::ONE;
    betas
        .iter()
        .map(|&b| {
            p *= Q::ONE - q(b);
            p
        })
        .collect()
}

/// The variance-exploding levels $\sigma_j = \sqrt{(1 - \bar\alpha_j)/\bar\alpha_j}$ of a DDPM
/// table (diffusers' `EulerDiscreteScheduler` training sigmas), in double-double.
pub fn ve_sigmas(alphas_cumprod: &[Q]) -> Vec<Q> {
    alphas_cumprod
        .iter()
        .map(|&a| ((Q::ONE - a) / a).sqrt())
        .collect()
}

/// `np.interp(x, arange(len(fp)), fp)` in exact arithmetic: $fp_j + (x - j)(fp_{j+1} - fp_j)$
/// for $j = \lfloor x\rfloor$, clamped to the ends as numpy does. `fp` must not be empty.
pub fn interp_unit(x: f64, fp: &[Q]) -> Q {
    let last = fp.len() - 1;
    if x <= 0.0 {
        return fp[0];
    }
    if x >= last as f64 {
        return fp[last];
    }
    let j = x.floor() as usize;
    let phi = q(x) - q(j as f64);
    fp[j] + phi * (fp[j + 1] - fp[j])
}

/// The real `n`-th root of a double-double $x > 0$ (`n ≥ 1`; Newton from the f64 root).
pub fn nth_root(x: Q, n: i32) -> Q {
    let mut r = q(f(x).powf(1.0 / f64::from(n)));
    for _ in 0..3 {
        let mut p = Q::ONE;
        for _ in 0..n - 1 {
            p *= r;
        }
        // r ← r − (r^n − x)/(n r^{n−1})
        r -= (p * r - x) / (q(f64::from(n)) * p);
    }
    r
}
