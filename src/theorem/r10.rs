//! R10: the probability-flow ODE, its solvers, and the exact Gaussian flow.
//!
//! Every instance draws a Gaussian $\mathcal N(\mu, V\Lambda V^\top)$ ($d \le 6$, rank
//! $r \le d$, $\lambda_i \in [0.1, 10]$), a schedule (VE, VP-linear, VP-cosine, sub-VP,
//! rectified flow), a grid kind and one fixed-step solver, and starts from three
//! exact draws of $p_{t_0}$. The oracle is [`GaussianFlow`], a closed form that
//! shares no code with the solvers.
//!
//! Facets:
//! - `order_<solver>`: the measured order $\hat p = \log_2(e_{n/2}/e_n)$ is within $0.25$ of
//!   the solver's order $p$ (1 for Euler and DDIM, 2 for Heun and DPM-Solver++(2M), 4
//!   for RK4). $e_n$ is the global error of the textbook definition: the largest, over
//!   the solver's mesh, of $\|x_k - x(t_k)\|_F$, relative to the largest exact state.
//!   (The error at the last time alone can have a leading coefficient that nearly
//!   vanishes for a particular end time; the maximum over the mesh cannot, and the
//!   order statement holds for it.) The grids refine exactly ($n/2$ and $n$ intervals of
//!   the same uniform, log-uniform or Karras parametrization), so $e_n = Ch^p(1 + O(h))$
//!   and $\hat p = p + O(h)$; [`measured_order`] uses the finest pair with
//!   $n \le n_{\max} = 1024$ whose error is above $10^4\varepsilon$ (below it the ratio would
//!   measure rounding). Exponential integrators in $\lambda = \log(\alpha/\beta)$ starting
//!   at $\alpha = 0$ are excluded: their first step has infinite length in $\lambda$, the
//!   next ones stay $O(1)$ long however fine the grid in $t$ is, and the global error is
//!   $O(h^2\log(1/h))$ — the measured "order" creeps up (1.65 at $n = 128$, 1.8 at
//!   $n = 2048$), so no $\pm0.25$ window holds at any affordable $n$. They are checked
//!   from pure noise for convergence in `tests/suite/r10_probability_flow.rs`, and the
//!   $t$-space solvers cover the $\alpha = 0$ start here.
//! - `dopri_tolerance`: adaptive Dormand–Prince at $\mathrm{rtol} \in [10^{-10}, 10^{-6}]$,
//!   $\mathrm{atol} = 10^{-3}\mathrm{rtol}$. For a linear ODE the global error is exactly
//!   $e_N = \sum_k \Phi(t_N, t_k)\ell_k$ (local errors $\ell_k$ propagated by the exact
//!   flow), and $\|\Phi(t_N, t_k)\|_2 = A_k = \max(\max_i f_i, \beta_N/\beta_{t_k})$ is
//!   known in closed form. The controller accepts a step only if its embedded
//!   estimate has scaled RMS $\le 1$, i.e. $\|\hat e_k\|_2 \le \sqrt d\,\mathrm{sc}_k$; under
//!   the standard hypothesis that the propagated fifth-order local error is below
//!   the fourth-order estimate ($\|\ell_k\| \le \|\hat e_k\|$, the basis of local
//!   extrapolation), each column's error is at most
//!   $\sum_k A_k\sqrt d(\mathrm{atol} + \mathrm{rtol}\max(\|x(t_{k-1})\|_\infty, \|x(t_k)\|_\infty)) + 8N\varepsilon\max_k\|x(t_k)\|_2$.
//!   The facet reports the largest column's error over that bound (tolerance 1).
//! - `dopri_info`: evaluations $= 6(\text{steps} + \text{rejections}) + 2$ and a mesh that runs
//!   monotonically from $t_0$ to $t_n$.
//! - `exact_ode`: the exact flow solves the ODE: its fourth-order central
//!   difference in $t$ at an interior time equals the [`ProbabilityFlow`] velocity
//!   (R02's posterior mean and the schedule's analytic derivatives). Tolerance: the
//!   difference's own estimate $\|\delta_h - \delta_{2h}\|$ plus its rounding
//!   $3\varepsilon\max\|x\|/h$ plus $8\gamma_{d+r}\|v\|$ for the velocity.
//! - `exact_transport`: $AC_{t_0}A^\top = C_{t_n}$ for the flow matrix $A$ and the marginal
//!   covariances $C_t = \alpha_t^2\Sigma + \beta_t^2I$, within
//!   $8\gamma_{3d}(\|A\|_F^2\|C_{t_0}\|_F + \|C_{t_n}\|_F)$.
//! - `solver_mesh`: in every solve of the order measurement, the solver reports the
//!   state at exactly the grid's times $t_0, \dots, t_n$ (one observation per time, in
//!   order, bit-equal times), its [`SolveInfo`](crate::flow::SolveInfo) mesh is that grid with
//!   $n$ steps, and its returned state is the last observed one. (The order facet
//!   compares observed states with the exact flow at the grid's times; a solver that
//!   stopped one step short would otherwise go unnoticed.)
//!
//! The check is generic over the implementation under test ([`Subject`]: the solvers,
//! the velocity, the exact flow). The expected order comes from the instance's
//! [`SolverKind`], not from the solver's own [`Solver::order`]. The oracle of the
//! solver facets is the crate's [`GaussianFlow`], whose closed form is itself checked by
//! `exact_ode` and `exact_transport` (and independently by R11's eigenvalue form).

use faer::{Mat, MatRef};
use rand::RngExt;

use super::instance::log_uniform;
use super::instance::{ScheduleKind, random_gaussian};
use super::{CaseResult, Measurement, Theorem};
use crate::error::Result;
use crate::flow::{
    Ddim, DormandPrince, DpmSolverPP2M, Euler, FlowMap, GaussianFlow, GridEnd, Heun,
    ProbabilityFlow, Rk4, Solver, TimeGrid,
};
use crate::level::NoiseLevel;
use crate::linalg::{frobenius_distance, frobenius_norm, mul};
use crate::model::{ExactModel, Gaussian};
use crate::prec::{EPS, gamma};
use crate::rng::{SeededRng, seeded};
use crate::schedule::Schedule;

/// How the grid is spaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GridKind {
    /// EDM / Karras ($\rho = 7$) between `sigma_min` and `sigma_max`.
    Karras,
    /// Equal steps in $t$.
    Uniform,
    /// Equal steps in $\log t$.
    LogUniform,
}

/// Which fixed-step solver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SolverKind {
    /// [`Euler`], order 1.
    Euler,
    /// [`Heun`], order 2.
    Heun,
    /// [`Rk4`], order 4.
    Rk4,
    /// [`Ddim`], order 1.
    Ddim,
    /// [`DpmSolverPP2M`], order 2.
    DpmSolverPP2M,
}

impl SolverKind {
    /// The solver.
    pub fn build(self) -> Box<dyn Solver> {
        match self {
            Self::Euler => Box::new(Euler),
            Self::Heun => Box::new(Heun),
            Self::Rk4 => Box::new(Rk4),
            Self::Ddim => Box::new(Ddim),
            Self::DpmSolverPP2M => Box::new(DpmSolverPP2M),
        }
    }

    /// Its order of convergence $p$ (what the check expects, whatever the solver claims).
    pub fn order(self) -> f64 {
        match self {
            Self::Euler | Self::Ddim => 1.0,
            Self::Heun | Self::DpmSolverPP2M => 2.0,
            Self::Rk4 => 4.0,
        }
    }

    /// The facet name of its order check.
    pub fn facet(self) -> &'static str {
        match self {
            Self::Euler => "order_euler",
            Self::Heun => "order_heun",
            Self::Rk4 => "order_rk4",
            Self::Ddim => "order_ddim",
            Self::DpmSolverPP2M => "order_dpmpp2m",
        }
    }
}

/// The computations R10's check exercises, as the implementation under test.
///
/// The default methods call this crate ([`super::Reference`]).
pub trait Subject: Sync {
    /// The fixed-step solver of kind `kind` (Euler, Heun, RK4, DDIM, DPM-Solver++(2M)),
    /// integrating the probability-flow ODE $\dot x = v(t, x)$ over a [`TimeGrid`].
    fn solver(&self, kind: SolverKind) -> Box<dyn Solver> {
        kind.build()
    }

    /// The adaptive solver at relative tolerance `rtol` and absolute tolerance `atol`
    /// (the check's bound assumes an embedded-error controller accepting a step iff its
    /// scaled RMS error estimate is $\le 1$, as [`DormandPrince`]).
    ///
    /// # Errors
    /// Invalid tolerances.
    fn adaptive(&self, rtol: f64, atol: f64) -> Result<Box<dyn Solver>> {
        Ok(Box::new(DormandPrince::new(rtol, atol)?))
    }

    /// The probability-flow velocity
    /// $v(t, x) = \frac{\dot\beta_t}{\beta_t}(x - \alpha_tD(x, t)) + \dot\alpha_tD(x, t)$ at every column of `x`.
    ///
    /// # Errors
    /// Evaluation errors (counted as failures).
    fn velocity(&self, flow: &ProbabilityFlow<'_>, t: f64, x: MatRef<'_, f64>) -> Result<Mat<f64>> {
        flow.velocity(t, x)
    }

    /// The exact flow of $\mathcal N(\mu, V\Lambda V^\top)$ from level `from` to $(\alpha, \beta)$,
    /// applied to the columns of `x`:
    /// $\alpha\mu + V\operatorname{diag}(f)V^\top(x - \alpha_0\mu) + \frac{\beta}{\beta_0}(I - VV^\top)(x - \alpha_0\mu)$,
    /// $f_i = \sqrt{(\alpha^2\lambda_i + \beta^2)/(\alpha_0^2\lambda_i + \beta_0^2)}$.
    ///
    /// # Errors
    /// Invalid levels.
    fn exact_map(
        &self,
        model: &Gaussian,
        from: NoiseLevel,
        alpha: f64,
        beta: f64,
        x: MatRef<'_, f64>,
    ) -> Result<Mat<f64>> {
        GaussianFlow::between(model, from, alpha, beta)?.map(x)
    }

    /// The linear part $A = V\operatorname{diag}(f)V^\top + \frac{\beta}{\beta_0}(I - VV^\top)$ of
    /// [`Subject::exact_map`].
    ///
    /// # Errors
    /// Invalid levels.
    fn exact_matrix(
        &self,
        model: &Gaussian,
        from: NoiseLevel,
        alpha: f64,
        beta: f64,
    ) -> Result<Mat<f64>> {
        Ok(GaussianFlow::between(model, from, alpha, beta)?.matrix())
    }
}

impl Subject for super::Reference {}

/// One R10 instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// Dimension.
    pub d: usize,
    /// Rank of the covariance.
    pub r: usize,
    /// Schedule.
    pub schedule: ScheduleKind,
    /// Grid spacing.
    pub grid: GridKind,
    /// Solver whose order is measured.
    pub solver: SolverKind,
    /// Largest noise level $\sigma = \beta/\alpha$ of the grid.
    pub sigma_max: f64,
    /// Smallest noise level.
    pub sigma_min: f64,
    /// Start at $t = 1$ (pure noise, $\alpha \approx 0$) instead of `sigma_max`
    /// (cosine and rectified-flow schedules, non-Karras grids).
    pub pure_noise_start: bool,
    /// Finest step count $n_{\max}$ of the order measurement.
    pub steps: usize,
    /// Dormand–Prince relative tolerance.
    pub rtol: f64,
    /// Seed for the model and the starting points.
    pub seed: u64,
}

impl Instance {
    /// A random instance.
    pub fn sample(rng: &mut SeededRng) -> Self {
        let d = rng.random_range(1..=6);
        let schedule = ScheduleKind::sample(rng);
        let solver = match rng.random_range(0..5) {
            0 => SolverKind::Euler,
            1 => SolverKind::Heun,
            2 => SolverKind::Rk4,
            3 => SolverKind::Ddim,
            _ => SolverKind::DpmSolverPP2M,
        };
        let grid = match rng.random_range(0..3) {
            0 => GridKind::Karras,
            1 => GridKind::Uniform,
            _ => GridKind::LogUniform,
        };
        // Karras spans EDM's range; equal steps in t need a narrower one.
        let (sigma_max, sigma_min) = match grid {
            GridKind::Karras => (log_uniform(rng, 0.0, 1.9), log_uniform(rng, -2.7, -1.0)),
            GridKind::Uniform => (log_uniform(rng, 0.0, 1.0), log_uniform(rng, -1.3, -0.3)),
            GridKind::LogUniform => (log_uniform(rng, 0.0, 1.3), log_uniform(rng, -2.0, -0.3)),
        };
        Self {
            d,
            r: rng.random_range(1..=d),
            schedule,
            grid,
            solver,
            sigma_max,
            sigma_min,
            pure_noise_start: grid != GridKind::Karras
                && schedule.has_pure_noise_end()
                && solver != SolverKind::DpmSolverPP2M
                && rng.random::<f64>() < 0.5,
            steps: 1024,
            rtol: log_uniform(rng, -10.0, -6.0),
            seed: rng.random(),
        }
    }

    /// The grid with `n` intervals, ending at its last time.
    ///
    /// # Errors
    /// Grid construction errors.
    pub fn time_grid(&self, s: &dyn Schedule, n: usize) -> Result<TimeGrid> {
        let t_lo = s.time_at_sigma(self.sigma_min)?;
        let t_hi = if self.pure_noise_start {
            1.0
        } else {
            s.time_at_sigma(self.sigma_max)?
        };
        match self.grid {
            GridKind::Karras => TimeGrid::karras(s, n + 1, self.sigma_min, self.sigma_max, 7.0)?
                .with_end(GridEnd::Last),
            GridKind::Uniform => TimeGrid::uniform(n, t_hi, t_lo),
            GridKind::LogUniform => TimeGrid::log_uniform(n, t_hi, t_lo),
        }
    }

    /// Model and three exact draws of $p_{t_0}$.
    fn setup(&self, s: &dyn Schedule, t0: f64) -> Result<(Gaussian, Mat<f64>)> {
        let mut rng = seeded(self.seed);
        let g = random_gaussian(&mut rng, self.d, self.r.clamp(1, self.d))?;
        let l0 = s.level(t0)?;
        let x0 = g.sample_x0(&mut rng, 3);
        let e = crate::rng::standard_normal(&mut rng, self.d, 3);
        let x = Mat::from_fn(self.d, 3, |i, j| {
            l0.alpha() * x0[(i, j)] + l0.beta() * e[(i, j)]
        });
        Ok((g, x))
    }

    /// Runs the facets.
    ///
    /// # Errors
    /// Model, grid or solver errors (which count as failures).
    pub fn check(&self) -> Result<Vec<Measurement>> {
        self.check_with(&super::Reference)
    }

    /// Runs the facets on the implementation `sub`.
    ///
    /// # Errors
    /// Model, grid or solver errors (which count as failures).
    pub fn check_with(&self, sub: &dyn Subject) -> Result<Vec<Measurement>> {
        let s = self.schedule.build();
        let s = s.as_ref();
        let coarse = self.time_grid(s, self.steps)?;
        let (g, x_start) = self.setup(s, coarse.start())?;
        let flow = ProbabilityFlow::new(s, &g);
        let solver = sub.solver(self.solver);
        let order = self.solver.order();
        let l0 = s.level(coarse.start())?;
        let mesh_ok = std::cell::Cell::new(true);
        // Global error: max over the solver's mesh of the distance to the exact flow,
        // relative to the largest exact state.
        let run = |n: usize| -> Result<f64> {
            let grid = self.time_grid(s, n)?;
            let mut states = Vec::with_capacity(n + 1);
            let mut times = Vec::with_capacity(n + 1);
            let sol = solver.solve_observed(&flow, &grid, x_start.as_ref(), &mut |_, t, x| {
                times.push(t);
                states.push(x.to_owned())
            })?;
            let same = |a: &[f64], b: &[f64]| {
                a.len() == b.len() && a.iter().zip(b).all(|(u, v)| u.to_bits() == v.to_bits())
            };
            let last_ok = states.last().is_some_and(|x| {
                x.nrows() == sol.x.nrows()
                    && x.ncols() == sol.x.ncols()
                    && (0..x.ncols()).all(|j| {
                        (0..x.nrows()).all(|i| x[(i, j)].to_bits() == sol.x[(i, j)].to_bits())
                    })
            });
            if !(same(&times, grid.times())
                && same(&sol.info.mesh, grid.times())
                && sol.info.steps == n
                && last_ok)
            {
                mesh_ok.set(false);
            }
            let (mut err, mut scale) = (0.0f64, 0.0f64);
            for (x, &t) in states.iter().zip(grid.times()) {
                let l = s.level(t)?;
                let exact =
                    GaussianFlow::between(&g, l0, l.alpha(), l.beta())?.map(x_start.as_ref())?;
                err = err.max(frobenius_distance(x.as_ref(), exact.as_ref()));
                scale = scale.max(frobenius_norm(exact.as_ref()));
            }
            Ok(err / scale)
        };
        let (measured, _) = measured_order(run, self.steps)?;
        let mut out = vec![
            Measurement::new(self.solver.facet(), (measured - order).abs(), 0.25),
            Measurement::holds("solver_mesh", mesh_ok.get()),
        ];
        out.extend(self.dopri(sub, s, &g, &coarse, &x_start)?);
        out.extend(self.exact_facets(sub, s, &g, &coarse, &x_start)?);
        Ok(out)
    }

    fn dopri(
        &self,
        sub: &dyn Subject,
        s: &dyn Schedule,
        g: &Gaussian,
        grid: &TimeGrid,
        x_start: &Mat<f64>,
    ) -> Result<Vec<Measurement>> {
        let atol = 1e-3 * self.rtol;
        let dp = sub.adaptive(self.rtol, atol)?;
        let sol = dp.solve(&ProbabilityFlow::new(s, g), grid, x_start.as_ref())?;
        let info = &sol.info;
        let l0 = s.level(grid.start())?;
        let ln = s.level(grid.last())?;
        let exact_end =
            GaussianFlow::between(g, l0, ln.alpha(), ln.beta())?.map(x_start.as_ref())?;
        // Exact states at the mesh points and the propagation norms A_k.
        let mut states = Vec::with_capacity(info.mesh.len());
        let mut amp = Vec::with_capacity(info.mesh.len());
        for &t in &info.mesh {
            let lt = s.level(t)?;
            states
                .push(GaussianFlow::between(g, l0, lt.alpha(), lt.beta())?.map(x_start.as_ref())?);
            let f = GaussianFlow::between(g, lt, ln.alpha(), ln.beta())?;
            let a = f
                .factors()
                .iter()
                .fold(f.complement_factor(), |m, &v| m.max(v));
            amp.push(a);
        }
        let d = self.d as f64;
        let mut worst = 0.0f64;
        for j in 0..x_start.ncols() {
            let inf = |m: &Mat<f64>| (0..m.nrows()).fold(0.0f64, |a, i| a.max(m[(i, j)].abs()));
            let two = |m: &Mat<f64>| {
                (0..m.nrows())
                    .map(|i| m[(i, j)] * m[(i, j)])
                    .sum::<f64>()
                    .sqrt()
            };
            let mut bound = 0.0;
            let mut xmax = 0.0f64;
            for k in 1..states.len() {
                let sc = atol + self.rtol * inf(&states[k - 1]).max(inf(&states[k]));
                bound += amp[k] * d.sqrt() * sc;
                xmax = xmax.max(two(&states[k]));
            }
            bound += 8.0 * (states.len() as f64) * EPS * xmax;
            let err = (0..self.d)
                .map(|i| (sol.x[(i, j)] - exact_end[(i, j)]).powi(2))
                .sum::<f64>()
                .sqrt();
            worst = worst.max(err / bound);
        }
        let monotone = info.mesh.windows(2).all(|w| w[1] < w[0])
            && info.mesh.first() == Some(&grid.start())
            && info.mesh.last() == Some(&grid.last());
        Ok(vec![
            Measurement::new("dopri_tolerance", worst, 1.0),
            Measurement::holds(
                "dopri_info",
                monotone
                    && info.evaluations == 6 * (info.steps + info.rejections) + 2
                    && info.steps + 1 == info.mesh.len(),
            ),
        ])
    }

    fn exact_facets(
        &self,
        sub: &dyn Subject,
        s: &dyn Schedule,
        g: &Gaussian,
        grid: &TimeGrid,
        x_start: &Mat<f64>,
    ) -> Result<Vec<Measurement>> {
        let (t0, tn) = (grid.start(), grid.last());
        let l0 = s.level(t0)?;
        let mut rng = seeded(self.seed ^ 0x0010);
        // exact_ode at an interior time.
        let t = tn + (t0 - tn) * (0.25 + 0.5 * rng.random::<f64>());
        let h = (t - tn).min(t0 - t) / 64.0;
        let at = |tt: f64| -> Result<Mat<f64>> {
            let l = s.level(tt)?;
            sub.exact_map(g, l0, l.alpha(), l.beta(), x_start.as_ref())
        };
        let fd = |h: f64| -> Result<Mat<f64>> {
            let (p2, p1, m1, m2) = (at(t + 2.0 * h)?, at(t + h)?, at(t - h)?, at(t - 2.0 * h)?);
            Ok(Mat::from_fn(self.d, x_start.ncols(), |i, j| {
                (-p2[(i, j)] + 8.0 * p1[(i, j)] - 8.0 * m1[(i, j)] + m2[(i, j)]) / (12.0 * h)
            }))
        };
        let (dh, d2h) = (fd(h)?, fd(2.0 * h)?);
        let xt = at(t)?;
        let v = sub.velocity(&ProbabilityFlow::new(s, g), t, xt.as_ref())?;
        let xmax = [t - 2.0 * h, t + 2.0 * h, t - 4.0 * h, t + 4.0 * h]
            .iter()
            .map(|&tt| at(tt).map(|m| m.norm_max()))
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .fold(0.0f64, f64::max);
        let ncols = (x_start.ncols() * self.d) as f64;
        let tol = frobenius_distance(dh.as_ref(), d2h.as_ref())
            + 3.0 * EPS * xmax * ncols.sqrt() / h
            + 8.0 * gamma(self.d + self.r) * frobenius_norm(v.as_ref());
        let mut out = vec![Measurement::new(
            "exact_ode",
            frobenius_distance(dh.as_ref(), v.as_ref()),
            tol,
        )];
        // exact_transport: A C_0 Aᵀ = C_n.
        let ln = s.level(tn)?;
        let a = sub.exact_matrix(g, l0, ln.alpha(), ln.beta())?;
        let sigma = g.covariance();
        let cov = |l: crate::NoiseLevel| {
            Mat::from_fn(self.d, self.d, |i, j| {
                l.alpha() * l.alpha() * sigma[(i, j)]
                    + if i == j { l.beta() * l.beta() } else { 0.0 }
            })
        };
        let (c0, cn) = (cov(l0), cov(ln));
        let lhs = mul(mul(a.as_ref(), c0.as_ref()).as_ref(), a.transpose());
        let na = frobenius_norm(a.as_ref());
        out.push(Measurement::new(
            "exact_transport",
            frobenius_distance(lhs.as_ref(), cn.as_ref()),
            8.0 * gamma(3 * self.d)
                * (na * na * frobenius_norm(c0.as_ref()) + frobenius_norm(cn.as_ref())),
        ));
        Ok(out)
    }
}

/// Errors below this (relative to the solution) are too close to rounding for a ratio.
const ORDER_FLOOR: f64 = 1e4 * EPS;

/// The measured order of convergence at the finest clean resolution.
///
/// Solves with $n$ and $n/2$ steps give $\hat p = \log_2(e_{n/2}/e_n)$. Starting from
/// $n = n_{\max}$, $n$ is halved while $e_n \le 10^4\varepsilon$ (the ratio would then
/// measure rounding, which is $O(\sqrt n\,\varepsilon)$, not truncation); the first pair
/// with $e_n$ above that floor is used, since the relative size $O(h)$ of the
/// higher-order terms is smallest at the finest such pair. Returns $(\hat p, n)$; $\hat p$
/// is NaN (a failure) if even $e_{n_{\min}}$ is at the floor.
///
/// # Errors
/// The solver's errors.
pub fn measured_order<F>(run: F, n_max: usize) -> Result<(f64, usize)>
where
    F: Fn(usize) -> Result<f64>,
{
    let mut n = n_max;
    let mut fine = run(n)?;
    while n >= 4 {
        let coarse = run(n / 2)?;
        if fine > ORDER_FLOOR {
            return Ok(((coarse / fine).log2(), n));
        }
        n /= 2;
        fine = coarse;
    }
    Ok((f64::NAN, n))
}

/// Draws one instance from `rng` and checks the implementation `s` on it.
pub fn run_case_with(rng: &mut SeededRng, s: &dyn Subject) -> CaseResult {
    CaseResult::of(Instance::sample(rng), |i| i.check_with(s))
}

/// Registry entry.
pub fn run_case(rng: &mut SeededRng) -> CaseResult {
    run_case_with(rng, &super::Reference)
}

/// R10's entry in the [registry](super::registry): the only place its title is written.
pub const THEOREM: Theorem = Theorem {
    id: "R10",
    title: "PF ODE solvers: orders and tolerance vs exact Gaussian flow",
    proof: "proofs/R10-probability-flow.md",
    run_case,
};
