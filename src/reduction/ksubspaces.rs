//! Subspace clustering: the objective of Theorem 3, the K-subspaces solver, and
//! the recovery error of a set of subspaces up to an optimal permutation (R08, R09).
//!
//! # Definition
//! For bases $U_1..U_K \in \mathbb R^{d\times r}$ with orthonormal columns and data
//! $X = [x_1..x_N]$, the subspace-clustering objective is
//! $$J(U) = \frac1N\sum_{k}\sum_{i\in C_k}\|U_k^\top x_i\|^2 = \frac1N\sum_i\max_k\|U_k^\top x_i\|^2,
//! \qquad C_k = \{i : \|U_k^\top x_i\| \ge \|U_l^\top x_i\|\ \forall l\}$$
//! (ties go to the smallest $k$). Since $\|U_k^\top x\| \le \|x\|$, $J(U) \le \frac1N\|X\|_F^2$ for
//! every feasible $U$: a solution with $J = \frac1N\|X\|_F^2$ is globally optimal, and in
//! general $\|X\|_F^2 - NJ(U) = \sum_i\min_k\|(I - U_kU_k^\top)x_i\|^2$ bounds its
//! sub-optimality ([`KSubspacesInfo::relative_gap`]).
//!
//! # Algorithm
//! K-subspaces (Bradley–Mangasarian 2000; Ho et al. 2003): alternate the
//! assignment $i \mapsto \arg\max_k\|U_k^\top x_i\|$ and, per cluster, the PCA of its
//! points (thin SVD; clusters with fewer than $r$ points, or rank-deficient ones,
//! are completed by seeded random orthonormal directions orthogonal to their
//! span), until the assignment no longer changes. Each step does not decrease
//! $J$. Several restarts are run from a seeded initialization and the best $J$
//! is kept; the restarts stop early once the solution is certified optimal to
//! within [`KSubspaces::certify_tol`].
//!
//! The default initialization ([`Init::NeighborSeeding`]) is a k-means++-style
//! seeding for subspaces: a seed point and its $r-1$ most correlated points (by
//! $|\cos|$) span the first subspace; each further seed is drawn with probability
//! proportional to its squared relative residual to the subspaces found so far.
//! On noise-free data from mutually orthogonal subspaces with every $N_k \ge r$,
//! points of different components are orthogonal, so every seed neighbourhood
//! lies in one component and the seeding alone returns the true subspaces.

#![allow(non_snake_case)]

use faer::{Mat, MatRef};
use rand::RngExt;

use super::pca::{check_data, complete_basis};
use super::subspace::residual_matrix;
use crate::error::{Error, Result, ensure_dim};
use crate::linalg::truncated::{Columns, truncated_svd_op};
use crate::linalg::{check_orthonormal, frobenius_norm, mul, random_orthonormal};
use crate::prec::EPS;
use crate::rng::SeededRng;

fn validate_bases(bases: &[MatRef<'_, f64>], d: usize) -> Result<()> {
    if bases.is_empty() {
        return Err(Error::Empty {
            what: "set of subspace bases",
            unit: "basis (K ≥ 1)",
        });
    }
    for (k, u) in bases.iter().enumerate() {
        check_orthonormal("subspace basis U_k", k, *u)?;
        ensure_dim("rows of U_k vs rows of X", d, u.nrows())?;
    }
    Ok(())
}

/// $\|U_k^\top x_i\|^2$ for all $k, i$ (a `K × N` table).
fn projection_table(bases: &[MatRef<'_, f64>], x: MatRef<'_, f64>) -> Vec<Vec<f64>> {
    bases
        .iter()
        .map(|u| {
            let c = mul(u.transpose(), x);
            (0..x.ncols())
                .map(|i| (0..c.nrows()).map(|j| c[(j, i)] * c[(j, i)]).sum())
                .collect()
        })
        .collect()
}

fn argmax_labels(table: &[Vec<f64>], n: usize) -> Vec<usize> {
    (0..n)
        .map(|i| {
            let mut best = 0;
            for k in 1..table.len() {
                if table[k][i] > table[best][i] {
                    best = k;
                }
            }
            best
        })
        .collect()
}

/// The hard assignment $i \mapsto \arg\max_k\|U_k^\top x_i\|$ (smallest $k$ on ties).
///
/// # Errors
/// [`Error::Empty`] (no bases, no samples), [`Error::NonFinite`], [`Error::NotOrthonormal`],
/// [`Error::DimensionMismatch`].
///
/// # Examples
/// ```
/// use diffusion_lowdim::reduction::assign;
/// let u1 = faer::mat![[1.0], [0.0]];
/// let u2 = faer::mat![[0.0], [1.0]];
/// let x = faer::mat![[3.0, 0.1], [1.0, -2.0]];
/// assert_eq!(assign(&[u1.as_ref(), u2.as_ref()], x.as_ref())?, vec![0, 1]);
/// # Ok::<(), diffusion_lowdim::Error>(())
/// ```
pub fn assign(bases: &[MatRef<'_, f64>], x: MatRef<'_, f64>) -> Result<Vec<usize>> {
    check_data(x)?;
    validate_bases(bases, x.nrows())?;
    Ok(argmax_labels(&projection_table(bases, x), x.ncols()))
}

/// The subspace-clustering objective $J(U) = \frac1N\sum_i\max_k\|U_k^\top x_i\|^2$.
///
/// # Errors
/// As [`assign`].
pub fn clustering_objective(bases: &[MatRef<'_, f64>], x: MatRef<'_, f64>) -> Result<f64> {
    check_data(x)?;
    validate_bases(bases, x.nrows())?;
    let t = projection_table(bases, x);
    let n = x.ncols();
    let s: f64 = (0..n)
        .map(|i| t.iter().map(|row| row[i]).fold(f64::NEG_INFINITY, f64::max))
        .sum();
    let v = s / n as f64;
    crate::error::ensure_finite_output_slice(
        "the clustering objective",
        crate::error::DATA_TOO_LARGE,
        &[v],
    )?;
    Ok(v)
}

/// $\sum_i\|(I - U_{k(i)}U_{k(i)}^\top)x_i\|^2$ for the hard assignment $k(i)$, with
/// double-length residuals: the exact gap $\|X\|_F^2 - NJ(U)$ without cancellation
/// (each residual entry accurate to $O(\varepsilon)$ of itself plus $O(\varepsilon^2)\|x_i\|$; their
/// squares summed to within $\gamma_d$ relative, streamed without copying the data).
///
/// # Errors
/// As [`assign`].
pub fn residual_energy(bases: &[MatRef<'_, f64>], x: MatRef<'_, f64>) -> Result<f64> {
    let labels = assign(bases, x)?;
    let v = residual_energy_labels(bases, x, &labels);
    crate::error::ensure_finite_output_slice(
        "the residual energy",
        crate::error::DATA_TOO_LARGE,
        &[v],
    )?;
    Ok(v)
}

fn residual_energy_labels(bases: &[MatRef<'_, f64>], x: MatRef<'_, f64>, labels: &[usize]) -> f64 {
    bases
        .iter()
        .enumerate()
        .map(|(k, u)| {
            let idx: Vec<usize> = (0..x.ncols()).filter(|&i| labels[i] == k).collect();
            crate::linalg::fused::residual_sq_sum(*u, x, &idx)
        })
        .sum()
}

/// How the K-subspaces restarts are initialized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Init {
    /// Independent Haar-random subspaces.
    Random,
    /// k-means++-style seeding from the data (see the module docs).
    #[default]
    NeighborSeeding,
}

/// Configuration of the K-subspaces solver.
///
/// # Examples
/// ```
/// use diffusion_lowdim::reduction::{KSubspaces, subspace_distance};
/// use diffusion_lowdim::linalg::random_orthonormal;
/// use diffusion_lowdim::rng::{seeded, standard_normal};
/// let mut g = seeded(5);
/// let q = random_orthonormal(&mut g, 30, 6)?;              // two orthogonal planes
/// let (u1, u2) = (q.as_ref().subcols(0, 3), q.as_ref().subcols(3, 3));
/// let x1 = u1 * standard_normal(&mut g, 3, 5);
/// let x2 = u2 * standard_normal(&mut g, 3, 5);
/// let x = faer::concat![[x1, x2]];
/// let sol = KSubspaces::new(2, 3).solve(x.as_ref(), &mut g)?;
/// assert!(sol.info.certified);
/// let m = diffusion_lowdim::reduction::match_subspaces(
///     &sol.bases.iter().map(|b| b.as_ref()).collect::<Vec<_>>(), &[u1, u2])?;
/// assert!(m.max_distance < 1e-12);
/// # Ok::<(), diffusion_lowdim::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct KSubspaces {
    /// Number of subspaces $K \ge 1$.
    pub k: usize,
    /// Common rank $r \ge 1$.
    pub r: usize,
    /// Restarts (at least 1).
    pub restarts: usize,
    /// Maximum alternations per restart.
    pub max_iter: usize,
    /// Initialization.
    pub init: Init,
    /// Stop restarting once the relative gap $\sum_i\min_k\|(I-P_k)x_i\|^2/\|X\|_F^2$ is at most this
    /// (default: the unit roundoff, i.e. optimal to working precision).
    pub certify_tol: f64,
}

impl KSubspaces {
    /// Defaults: 10 restarts, 100 alternations, [`Init::NeighborSeeding`], `certify_tol = ε`.
    pub fn new(k: usize, r: usize) -> Self {
        Self {
            k,
            r,
            restarts: 10,
            max_iter: 100,
            init: Init::NeighborSeeding,
            certify_tol: EPS,
        }
    }

    /// Runs the solver on `x` (`d × N`, columns are samples).
    ///
    /// # Errors
    /// [`Error::Empty`] (`N = 0` or `d = 0`), [`Error::NonFinite`],
    /// [`Error::InvalidCount`] for $K = 0$, $K > N$, $r = 0$, $r > d$, zero restarts or
    /// iterations; [`Error::NoConvergence`] if an SVD fails.
    pub fn solve(&self, x: MatRef<'_, f64>, rng: &mut SeededRng) -> Result<KSubspacesSolution> {
        check_data(x)?;
        let (d, n) = (x.nrows(), x.ncols());
        let count = |name, value, requirement| Error::InvalidCount {
            name,
            value,
            requirement,
        };
        if self.k == 0 {
            return Err(count("number of subspaces K", 0, "at least 1"));
        }
        if self.k > n {
            return Err(count(
                "number of subspaces K",
                self.k,
                "at most the number of samples N",
            ));
        }
        if self.r == 0 || self.r > d {
            return Err(count("rank r", self.r, "1 ≤ r ≤ d (the ambient dimension)"));
        }
        if self.restarts == 0 {
            return Err(count("restarts", 0, "at least 1"));
        }
        if self.max_iter == 0 {
            return Err(count("max_iter", 0, "at least 1"));
        }
        let total = {
            let f = frobenius_norm(x);
            f * f
        };
        let mut best: Option<(Run, usize)> = None;
        let mut objectives = Vec::with_capacity(self.restarts);
        for restart in 0..self.restarts {
            let run = self.run_once(x, rng)?;
            objectives.push(run.objective_sum / n as f64);
            let better = best
                .as_ref()
                .is_none_or(|(b, _)| run.objective_sum > b.objective_sum);
            if better {
                best = Some((run, restart));
            }
            let (b, _) = best.as_ref().expect("set above");
            if total == 0.0 || b.residual <= self.certify_tol * total {
                break;
            }
        }
        let (run, best_restart) = best.expect("at least one restart");
        self.finish(x, run, objectives, best_restart)
    }

    /// Certificate, cross-coherence and the solution record of a run.
    fn finish(
        &self,
        x: MatRef<'_, f64>,
        run: Run,
        mut objectives: Vec<f64>,
        best_restart: usize,
    ) -> Result<KSubspacesSolution> {
        let n = x.ncols();
        let total = {
            let f = frobenius_norm(x);
            f * f
        };
        if objectives.is_empty() {
            objectives.push(run.objective_sum / n as f64);
        }
        if !(total.is_finite() && run.objective_sum.is_finite() && run.residual.is_finite()) {
            return Err(Error::Overflow {
                what: "the K-subspaces objective (a squared norm of the data)",
                cause: "the data are so large (entries ≳ 1e154) that their squared norm is beyond \
                        f64; scale them down (the subspaces do not change)",
            });
        }
        let relative_gap = if total > 0.0 {
            run.residual / total
        } else {
            0.0
        };
        let refs: Vec<MatRef<'_, f64>> = run.bases.iter().map(|b| b.as_ref()).collect();
        let mut coherence = 0.0f64;
        for a in 0..refs.len() {
            for b in (a + 1)..refs.len() {
                let c = mul(refs[a].transpose(), refs[b]);
                let s = c
                    .singular_values()
                    .map_err(|_| Error::NoConvergence { what: "SVD" })?;
                coherence = coherence.max(s.first().copied().unwrap_or(0.0));
            }
        }
        Ok(KSubspacesSolution {
            objective: run.objective_sum / n as f64,
            labels: run.labels,
            info: KSubspacesInfo {
                restarts: objectives.len(),
                best_restart,
                iterations: run.iterations,
                converged: run.converged,
                objectives,
                upper_bound: total / n as f64,
                relative_gap,
                certified: relative_gap <= self.certify_tol,
                max_cross_coherence: coherence,
            },
            bases: run.bases,
        })
    }

    fn run_once(&self, x: MatRef<'_, f64>, rng: &mut SeededRng) -> Result<Run> {
        let bases = match self.init {
            Init::Random => (0..self.k)
                .map(|_| random_orthonormal(rng, x.nrows(), self.r))
                .collect::<Result<Vec<_>>>()?,
            Init::NeighborSeeding => self.seed(x, rng)?,
        };
        self.alternate(x, bases, rng)
    }

    /// Alternates assignment and per-cluster PCA from the given bases.
    fn alternate(
        &self,
        x: MatRef<'_, f64>,
        mut bases: Vec<Mat<f64>>,
        rng: &mut SeededRng,
    ) -> Result<Run> {
        let n = x.ncols();
        let mut prev: Option<Vec<usize>> = None;
        let mut iterations = 0;
        let mut converged = false;
        let mut labels;
        loop {
            let refs: Vec<MatRef<'_, f64>> = bases.iter().map(|b| b.as_ref()).collect();
            labels = argmax_labels(&projection_table(&refs, x), n);
            if prev.as_ref() == Some(&labels) {
                converged = true;
                break;
            }
            if iterations >= self.max_iter {
                break;
            }
            bases = self.update(x, &labels, &bases, rng)?;
            iterations += 1;
            prev = Some(labels);
        }
        let refs: Vec<MatRef<'_, f64>> = bases.iter().map(|b| b.as_ref()).collect();
        let table = projection_table(&refs, x);
        let objective_sum: f64 = (0..n).map(|i| table[labels[i]][i]).sum();
        let residual = residual_energy_labels(&refs, x, &labels);
        Ok(Run {
            bases,
            labels,
            objective_sum,
            residual,
            iterations,
            converged,
        })
    }

    /// Runs one alternation sequence (no restarts) from the given initial bases —
    /// e.g. to compare implementations from a fixed initialization.
    ///
    /// # Errors
    /// As [`KSubspaces::solve`]; [`Error::DimensionMismatch`] unless there are `K`
    /// initial bases of size `d × r`; [`Error::NotOrthonormal`] for a basis without
    /// orthonormal columns.
    pub fn solve_from(
        &self,
        x: MatRef<'_, f64>,
        init: &[MatRef<'_, f64>],
        rng: &mut SeededRng,
    ) -> Result<KSubspacesSolution> {
        check_data(x)?;
        crate::error::ensure_dim("number of initial bases vs K", self.k, init.len())?;
        if self.k == 0
            || self.k > x.ncols()
            || self.r == 0
            || self.r > x.nrows()
            || self.max_iter == 0
        {
            return Err(Error::InvalidCount {
                name: "K, r or max_iter",
                value: self.k,
                requirement: "1 ≤ K ≤ N, 1 ≤ r ≤ d, max_iter ≥ 1",
            });
        }
        for (k, b) in init.iter().enumerate() {
            crate::error::ensure_dim("rows of an initial basis vs d", x.nrows(), b.nrows())?;
            crate::error::ensure_dim("columns of an initial basis vs r", self.r, b.ncols())?;
            crate::linalg::check_orthonormal("initial K-subspaces basis", k, *b)?;
        }
        let run = self.alternate(x, init.iter().map(|b| b.to_owned()).collect(), rng)?;
        self.finish(x, run, vec![], 0)
    }

    /// Per-cluster PCA with random completion; an empty cluster is re-seeded at the
    /// worst-fit point. Clusters with at least `r` points use the truncated subspace
    /// iteration on the cluster's columns in place (no copy of the cluster),
    /// warm-started from its previous basis and certified to
    /// $\|\sin\Theta\|_F \le 10^{-12}$ or to the rounding floor of a full SVD (else a
    /// full SVD by TSQR; see [`crate::linalg::truncated_svd`]).
    fn update(
        &self,
        x: MatRef<'_, f64>,
        labels: &[usize],
        old: &[Mat<f64>],
        rng: &mut SeededRng,
    ) -> Result<Vec<Mat<f64>>> {
        let (d, n) = (x.nrows(), x.ncols());
        let mut out = Vec::with_capacity(self.k);
        for k in 0..self.k {
            let idx: Vec<usize> = (0..n).filter(|&i| labels[i] == k).collect();
            let basis = if idx.is_empty() {
                let refs: Vec<MatRef<'_, f64>> = old.iter().map(|b| b.as_ref()).collect();
                let worst = worst_fit(&refs, x, labels);
                span_basis(x.subcols(worst, 1), self.r, rng)?
            } else if self.r <= d.min(idx.len()) {
                // The cluster's columns are never copied as a whole: the iteration
                // gathers them in chunks, and its fallback is a TSQR + SVD.
                let cols = Columns::new(x, &idx);
                let t = truncated_svd_op(&cols, self.r, Some(old[k].as_ref()), 1e-12, rng)?;
                if t.info.fallback {
                    // The fallback is a full SVD already: complete its leading vectors
                    // as `span_basis` would, without a second SVD.
                    span_completion(t.u.as_ref(), &t.singular_values, d, idx.len(), self.r, rng)?
                } else {
                    t.u
                }
            } else {
                let xk = Mat::from_fn(d, idx.len(), |i, j| x[(i, idx[j])]);
                span_basis(xk.as_ref(), self.r, rng)?
            };
            out.push(basis);
        }
        Ok(out)
    }

    /// k-means++-style seeding (module docs).
    fn seed(&self, x: MatRef<'_, f64>, rng: &mut SeededRng) -> Result<Vec<Mat<f64>>> {
        let (d, n) = (x.nrows(), x.ncols());
        let norms: Vec<f64> = (0..n).map(|i| frobenius_norm(x.subcols(i, 1))).collect();
        let y = Mat::from_fn(d, n, |i, j| {
            if norms[j] > 0.0 {
                x[(i, j)] / norms[j]
            } else {
                0.0
            }
        });
        let gram = mul(y.transpose(), y.as_ref());
        let mut bases: Vec<Mat<f64>> = Vec::with_capacity(self.k);
        let mut weights: Vec<f64> = norms
            .iter()
            .map(|&v| if v > 0.0 { 1.0 } else { 0.0 })
            .collect();
        for _ in 0..self.k {
            let s = sample_index(&weights, rng);
            let mut order: Vec<usize> = (0..n).filter(|&j| j != s).collect();
            order.sort_by(|&a, &b| gram[(s, b)].abs().total_cmp(&gram[(s, a)].abs()));
            let m = (self.r - 1).min(order.len());
            let cols: Vec<usize> = std::iter::once(s)
                .chain(order[..m].iter().copied())
                .collect();
            let xs = Mat::from_fn(d, cols.len(), |i, j| x[(i, cols[j])]);
            let u = span_basis(xs.as_ref(), self.r, rng)?;
            // Squared relative residuals of all points to the new subspace.
            let res = residual_matrix(u.as_ref(), y.as_ref());
            for (j, w) in weights.iter_mut().enumerate() {
                let rj = frobenius_norm(res.as_ref().subcols(j, 1));
                *w = w.min(rj * rj);
            }
            bases.push(u);
        }
        Ok(bases)
    }
}

/// One restart's outcome.
struct Run {
    bases: Vec<Mat<f64>>,
    labels: Vec<usize>,
    objective_sum: f64,
    residual: f64,
    iterations: usize,
    converged: bool,
}

/// Index drawn with probability proportional to `w` (uniform if all are zero).
fn sample_index(w: &[f64], rng: &mut SeededRng) -> usize {
    let total: f64 = w.iter().sum();
    if total.is_nan() || total <= 0.0 {
        return rng.random_range(0..w.len());
    }
    let mut u = rng.random::<f64>() * total;
    for (i, &wi) in w.iter().enumerate() {
        if u < wi {
            return i;
        }
        u -= wi;
    }
    // Rounding: the last index with positive weight.
    w.iter().rposition(|&v| v > 0.0).unwrap_or(0)
}

/// The point with the largest residual to its assigned subspace (first on ties).
fn worst_fit(bases: &[MatRef<'_, f64>], x: MatRef<'_, f64>, labels: &[usize]) -> usize {
    let mut best = (0, f64::NEG_INFINITY);
    for i in 0..x.ncols() {
        let r = frobenius_norm(residual_matrix(bases[labels[i]], x.subcols(i, 1)).as_ref());
        if r > best.1 {
            best = (i, r);
        }
    }
    best.0
}

/// Leading `r` left singular vectors of `xs`, completed at random if `xs` has fewer
/// than `r` non-zero singular values.
fn span_basis(xs: MatRef<'_, f64>, r: usize, rng: &mut SeededRng) -> Result<Mat<f64>> {
    let svd = xs
        .thin_svd()
        .map_err(|_| Error::NoConvergence { what: "thin SVD" })?;
    let m = xs.ncols().min(xs.nrows());
    let s: Vec<f64> = (0..m).map(|j| svd.S()[j]).collect();
    let u = svd.U().subcols(0, m.min(r));
    span_completion(u, &s, xs.nrows(), xs.ncols(), r, rng)
}

/// The completion step of [`span_basis`], given the thin SVD of a `rows × cols`
/// matrix: its leading left singular vectors `u` (at least `min(rows, cols, r)`
/// columns) and all its singular values `s`, descending.
fn span_completion(
    u: MatRef<'_, f64>,
    s: &[f64],
    rows: usize,
    cols: usize,
    r: usize,
    rng: &mut SeededRng,
) -> Result<Mat<f64>> {
    let m = rows.min(cols);
    let s0 = if m > 0 { s[0] } else { 0.0 };
    // Singular values at the rounding level of the largest are not directions of the data.
    let keep = (0..m.min(r))
        .take_while(|&j| s[j] > (rows.max(cols) as f64) * EPS * s0)
        .count();
    complete_basis(u.subcols(0, keep), r, rng)
}

/// The result of [`KSubspaces::solve`].
#[derive(Debug, Clone)]
pub struct KSubspacesSolution {
    /// The bases $\hat U_1..\hat U_K$ (`d × r` each).
    pub bases: Vec<Mat<f64>>,
    /// The cluster of each sample (hard assignment for the final bases).
    pub labels: Vec<usize>,
    /// $J(\hat U) = \frac1N\sum_i\max_k\|\hat U_k^\top x_i\|^2$.
    pub objective: f64,
    /// Diagnostics.
    pub info: KSubspacesInfo,
}

/// Diagnostics of a K-subspaces run.
#[derive(Debug, Clone, PartialEq)]
pub struct KSubspacesInfo {
    /// Restarts run (fewer than configured if certified early).
    pub restarts: usize,
    /// Index of the restart kept.
    pub best_restart: usize,
    /// Alternations of the kept restart.
    pub iterations: usize,
    /// Whether its assignment stopped changing before `max_iter`.
    pub converged: bool,
    /// $J$ reached by each restart.
    pub objectives: Vec<f64>,
    /// $\frac1N\|X\|_F^2$, an upper bound of $J$ over all feasible bases.
    pub upper_bound: f64,
    /// $\sum_i\min_k\|(I-\hat U_k\hat U_k^\top)x_i\|^2/\|X\|_F^2$: the kept solution's objective is
    /// at least $(1 - \text{gap})$ times the global optimum.
    pub relative_gap: f64,
    /// `relative_gap ≤ certify_tol`.
    pub certified: bool,
    /// $\max_{k\ne l}\|\hat U_k^\top\hat U_l\|_2$ (0 means the bases are mutually
    /// orthogonal, i.e. feasible for Theorem 3's constraint).
    pub max_cross_coherence: f64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{seeded, standard_normal};

    #[test]
    fn hostile_inputs() {
        let mut g = seeded(1);
        let x = standard_normal(&mut g, 5, 3);
        let err = |k, r| KSubspaces::new(k, r).solve(x.as_ref(), &mut seeded(0));
        assert!(matches!(
            err(4, 1),
            Err(Error::InvalidCount { value: 4, .. })
        ));
        assert!(matches!(err(0, 1), Err(Error::InvalidCount { .. })));
        assert!(matches!(err(1, 0), Err(Error::InvalidCount { .. })));
        assert!(matches!(err(1, 6), Err(Error::InvalidCount { .. })));
        let empty = Mat::<f64>::zeros(5, 0);
        assert!(matches!(
            KSubspaces::new(1, 1).solve(empty.as_ref(), &mut g),
            Err(Error::Empty { .. })
        ));
        let mut nan = x.clone();
        nan[(0, 0)] = f64::NAN;
        assert!(matches!(
            KSubspaces::new(1, 1).solve(nan.as_ref(), &mut g),
            Err(Error::NonFinite { .. })
        ));
        let bad = faer::mat![[1.0], [1.0], [0.0], [0.0], [0.0]];
        assert!(matches!(
            assign(&[bad.as_ref()], x.as_ref()),
            Err(Error::NotOrthonormal { .. })
        ));
    }
}
