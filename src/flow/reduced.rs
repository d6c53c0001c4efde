//! The probability flow of a MoLRG in the span of its components: the same
//! solver, the same grid, in $m = \dim\operatorname{span}(U_1..U_K)$ coordinates.
//!
//! # Definition
//! Let $Q \in \mathbb R^{d\times m}$ have orthonormal columns spanning
//! $\operatorname{span}(U_1, \dots, U_K)$ and $V_k = Q^\top U_k$, so $U_k = QV_k$. The
//! MoLRG denoiser sees $x$ only through $U_k^\top x = V_k^\top(Q^\top x)$ (the common
//! $\|x\|^2/(2\beta^2)$ of its Gaussian log-densities cancels in the softmax) and
//! returns a vector of $\operatorname{span} Q$:
//! $$D(x) = Q\,\tilde D(Q^\top x),$$
//! where $\tilde D$ is the denoiser of the MoLRG in $\mathbb R^m$ with bases $V_k$ and
//! the same weights and variances. A [linear](Solver::linear) solver builds every
//! stage and its result as $a\,x_{\text{start}} + \sum_i b_i\,D(\xi_i)$ with scalars
//! $a, b_i$ fixed by the grid and the schedule, so for $x_{\text{start}} = Qc + x_\perp$
//! ($Q^\top x_\perp = 0$) its result is exactly
//! $$\Phi(x_{\text{start}}) = Q\,\tilde\Phi(c) + s\,x_\perp,$$
//! with $\tilde\Phi$ the same solver on the flow of $\tilde D$ and $s$ the same solver
//! on the scalar flow of the zero denoiser started at 1 ($s = 0$ on a grid with a
//! clean end, whose last step returns $D$). Proof: `proofs/R10-probability-flow.md`
//! (Lemma "Subspace reduction"); derivation: `docs/flow.md`.
//!
//! # Accuracy
//! In exact arithmetic the two computations are the same numbers. In floating
//! point they differ by rounding: $Q^\top x$ and $V_k$ carry $O(\varepsilon)$ relative
//! errors, and the full-dimensional solver carries its own $O(\varepsilon)$ errors
//! in the directions orthogonal to the span (its $D$ is only numerically in
//! $\operatorname{span} Q$). Both are propagated by the same flow; the tests compare the two
//! samplers on random models, schedules, solvers and grids
//! (`tests/suite/subspace_sampler.rs`).
//!
//! # Cost
//! Every denoiser evaluation works on $m$-vectors instead of $d$-vectors: for
//! W5 of the performance issue ($d = 256$, $m = Kr = 32$) one eighth of the
//! GEMM work, plus one projection and one reconstruction per batch.

use faer::{Mat, MatMut, MatRef};

use super::{FlowMap, ProbabilityFlow, Solution, Solver, TimeGrid};
use crate::error::{Error, Result, ensure_dim, ensure_finite};
use crate::level::NoiseLevel;
use crate::linalg::{self, col_slice_mut};
use crate::model::{Denoiser, Molrg, check_batch};
use crate::prec::EPS;
use crate::schedule::Schedule;

/// Columns per task of [`SubspaceSampler::run`]: fixed (not derived from the
/// thread count), so results are bit-identical for any number of threads and
/// for any split of a batch at multiples of 32 columns.
const BLOCK: usize = 32;

/// A [`Sampler`](super::Sampler) for a [`Molrg`] that integrates its flow in the
/// $m$-dimensional span of the components (module docs) — the same solver and
/// grid, an $m/d$ fraction of the work per step.
///
/// # Examples
/// ```
/// use diffusion_lowdim::flow::{FlowMap, Heun, Sampler, SubspaceSampler, TimeGrid};
/// use diffusion_lowdim::{linalg::random_orthonormal, rng::{seeded, standard_normal}, schedule::Ve, Molrg};
/// let mut rng = seeded(1);
/// let (u1, u2) = (random_orthonormal(&mut rng, 40, 3)?, random_orthonormal(&mut rng, 40, 3)?);
/// let model = Molrg::uniform(&[u1.as_ref(), u2.as_ref()])?;
/// let grid = TimeGrid::karras(&Ve, 20, 0.5, 10.0, 7.0)?;
/// let reduced = SubspaceSampler::molrg(&Ve, &model, &Heun, grid.clone())?;
/// assert_eq!(reduced.reduced_dim(), 6);
/// let noise = standard_normal(&mut rng, 40, 4) * faer::Scale(10.0);
/// let fast = reduced.map(noise.as_ref())?;
/// let full = Sampler::new(&Ve, &model, &Heun, grid).map(noise.as_ref())?;
/// assert!((&fast - &full).norm_max() < 1e-12 * full.norm_max());
/// # Ok::<(), diffusion_lowdim::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct SubspaceSampler<'a> {
    schedule: &'a dyn Schedule,
    solver: &'a dyn Solver,
    grid: TimeGrid,
    /// $Q$ (`d × m`, orthonormal columns).
    basis: Mat<f64>,
    /// The MoLRG in $\mathbb R^m$ with bases $V_k = Q^\top U_k$.
    reduced: Molrg,
    /// $s$: the factor of the component orthogonal to the span.
    complement: f64,
}

impl<'a> SubspaceSampler<'a> {
    /// The reduced sampler of `model` (module docs).
    ///
    /// $Q$ holds the left singular vectors of $[U_1 \cdots U_K]$ whose singular
    /// values exceed $\max(d, \sum_k r_k)\,\varepsilon$ times the largest (so components
    /// that share directions give $m < \sum_k r_k$).
    ///
    /// # Errors
    /// [`Error::Unsupported`] for a solver that is not [linear](Solver::linear)
    /// (the adaptive [`DormandPrince`](super::DormandPrince) chooses its steps from
    /// the whole state: use [`Sampler`](super::Sampler)); the grid's errors under
    /// `schedule` ([`TimeGrid::validate`]); [`Error::NoConvergence`] if the SVD fails.
    pub fn molrg(
        schedule: &'a dyn Schedule,
        model: &Molrg,
        solver: &'a dyn Solver,
        grid: TimeGrid,
    ) -> Result<Self> {
        if !solver.linear() {
            return Err(Error::Unsupported {
                what: "SubspaceSampler",
                given: solver.name(),
                requirement: "a solver that is linear in the state and the denoiser outputs \
                              (Euler, Heun, RK4, DDIM, DPM-Solver++(2M)); use Sampler for \
                              adaptive solvers",
            });
        }
        grid.validate(schedule)?;
        let d = model.dim();
        let kk = model.num_components();
        let total: usize = model.ranks().iter().sum();
        let mut stacked = Mat::<f64>::zeros(d, total);
        let mut at = 0;
        for k in 0..kk {
            let u = model.basis(k);
            stacked.as_mut().subcols_mut(at, u.ncols()).copy_from(u);
            at += u.ncols();
        }
        let svd = stacked
            .thin_svd()
            .map_err(|_| Error::NoConvergence { what: "thin SVD" })?;
        let s0 = svd.S()[0];
        let floor = d.max(total) as f64 * EPS * s0;
        let m = (0..d.min(total))
            .take_while(|&j| svd.S()[j] > floor)
            .count();
        let basis = svd.U().subcols(0, m).to_owned();
        let bases: Vec<Mat<f64>> = (0..kk)
            .map(|k| linalg::mul(basis.transpose(), model.basis(k)))
            .collect();
        let refs: Vec<MatRef<'_, f64>> = bases.iter().map(|b| b.as_ref()).collect();
        let variances: Vec<Vec<f64>> = (0..kk).map(|k| model.variances(k).to_vec()).collect();
        let reduced = Molrg::with_variances(model.weights(), &refs, &variances)?;
        let one = Mat::<f64>::from_fn(1, 1, |_, _| 1.0);
        let complement = solver
            .solve(&ProbabilityFlow::new(schedule, &Zero), &grid, one.as_ref())?
            .x[(0, 0)];
        Ok(Self {
            schedule,
            solver,
            grid,
            basis,
            reduced,
            complement,
        })
    }

    /// $m$, the dimension of the span of the components.
    pub fn reduced_dim(&self) -> usize {
        self.basis.ncols()
    }

    /// $Q$ (`d × m`, orthonormal columns spanning the components).
    pub fn basis(&self) -> MatRef<'_, f64> {
        self.basis.as_ref()
    }

    /// The MoLRG in $\mathbb R^m$ whose flow is integrated.
    pub fn reduced_model(&self) -> &Molrg {
        &self.reduced
    }

    /// $s$: the solver's factor on the component orthogonal to the span
    /// ($0$ on a grid with a clean end).
    pub fn complement_factor(&self) -> f64 {
        self.complement
    }

    /// The grid.
    pub fn grid(&self) -> &TimeGrid {
        &self.grid
    }

    /// Solves from `x_start` (`d × B`): the samples in $\mathbb R^d$ and the
    /// diagnostics of the reduced solve (steps, evaluations and mesh are those of
    /// the full-dimensional solve).
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`], [`Error::NonFinite`] for bad starting points;
    /// the solver's errors.
    pub fn run(&self, x_start: MatRef<'_, f64>) -> Result<Solution> {
        use rayon::prelude::*;
        let d = self.basis.nrows();
        ensure_dim(
            "rows of the starting points vs model dimension",
            d,
            x_start.nrows(),
        )?;
        ensure_finite("starting points", x_start)?;
        let b = x_start.ncols();
        let starts: Vec<usize> = if b == 0 {
            vec![0]
        } else {
            (0..b).step_by(BLOCK).collect()
        };
        let parts = starts
            .into_par_iter()
            .map(|s| self.run_block(x_start.subcols(s, BLOCK.min(b - s))))
            .collect::<Result<Vec<_>>>()?;
        let mut x = Mat::<f64>::zeros(d, b);
        let mut info = None;
        for (s, part) in (0..).step_by(BLOCK).zip(parts) {
            x.as_mut()
                .subcols_mut(s, part.x.ncols())
                .copy_from(part.x.as_ref());
            info.get_or_insert(part.info);
        }
        Ok(Solution {
            x,
            info: info.expect("at least one block"),
        })
    }

    /// One block: project, solve in $\mathbb R^m$, reconstruct.
    fn run_block(&self, xb: MatRef<'_, f64>) -> Result<Solution> {
        let q = self.basis.as_ref();
        let c = linalg::mul(q.transpose(), xb);
        let flow = ProbabilityFlow::new(self.schedule, &self.reduced);
        let sol = self.solver.solve(&flow, &self.grid, c.as_ref())?;
        let s = self.complement;
        let x = if s == 0.0 {
            linalg::mul(q, sol.x.as_ref())
        } else {
            // Q c_T + s (x − Q c) = Q (c_T − s c) + s x.
            let diff = Mat::from_fn(c.nrows(), c.ncols(), |i, j| {
                (-s).mul_add(c[(i, j)], sol.x[(i, j)])
            });
            let mut out = linalg::mul(q, diff.as_ref());
            for j in 0..out.ncols() {
                let o = col_slice_mut(&mut out, j);
                for (i, oi) in o.iter_mut().enumerate() {
                    *oi = s.mul_add(xb[(i, j)], *oi);
                }
            }
            out
        };
        Ok(Solution { x, info: sol.info })
    }
}

impl FlowMap for SubspaceSampler<'_> {
    fn dim(&self) -> usize {
        self.basis.nrows()
    }

    fn map(&self, x_start: MatRef<'_, f64>) -> Result<Mat<f64>> {
        Ok(self.run(x_start)?.x)
    }

    fn columnwise(&self) -> bool {
        self.solver.columnwise()
    }
}

/// The denoiser $D \equiv 0$ in $\mathbb R^1$: its flow is the solver's action on
/// directions the model never sees.
#[derive(Debug)]
struct Zero;

impl Denoiser for Zero {
    fn dim(&self) -> usize {
        1
    }

    fn posterior_mean_into(
        &self,
        x_t: MatRef<'_, f64>,
        _level: NoiseLevel,
        mut out: MatMut<'_, f64>,
    ) -> Result<()> {
        check_batch(1, x_t, out.as_ref())?;
        out.fill(0.0);
        Ok(())
    }
}
