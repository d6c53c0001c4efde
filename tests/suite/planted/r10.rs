//! R10 planted defects: each overrides one method of [`r10::Subject`].

use diffusion_lowdim::error::Result;
use diffusion_lowdim::flow::{
    Ddim, Euler, GridEnd, ProbabilityFlow, Solution, SolveInfo, Solver, TimeGrid,
};
use diffusion_lowdim::level::NoiseLevel;
use diffusion_lowdim::model::Gaussian;
use diffusion_lowdim::theorem::r10::{self, SolverKind};
use faer::{Mat, MatRef};

use super::{assert_caught, run};

/// `(facet, failed instances, measured instances)` for every failed facet (shown with `--nocapture`).
fn failure_counts(
    r: &diffusion_lowdim::theorem::ResultReport,
) -> Vec<(&'static str, usize, usize)> {
    r.facets
        .iter()
        .filter(|f| f.failures > 0)
        .map(|f| (f.name, f.failures, f.instances))
        .collect()
}

/// Heun's corrector dropped: Euler returned for Heun.
struct HeunIsEuler;
impl r10::Subject for HeunIsEuler {
    fn solver(&self, kind: SolverKind) -> Box<dyn Solver> {
        match kind {
            SolverKind::Heun => Box::new(Euler),
            k => k.build(),
        }
    }
}

#[test]
fn r10_planted_heun_is_euler() {
    let report = run("R10", 12, |rng| r10::run_case_with(rng, &HeunIsEuler));
    eprintln!("{:?}", failure_counts(&report));
    assert_caught(&report, "order_heun");
}

/// DPM-Solver++(2M) without its second-order multistep correction (first-order only: DDIM).
struct DpmFirstOrderOnly;
impl r10::Subject for DpmFirstOrderOnly {
    fn solver(&self, kind: SolverKind) -> Box<dyn Solver> {
        match kind {
            SolverKind::DpmSolverPP2M => Box::new(Ddim),
            k => k.build(),
        }
    }
}

#[test]
fn r10_planted_dpm_first_order_only() {
    let report = run("R10", 24, |rng| r10::run_case_with(rng, &DpmFirstOrderOnly));
    eprintln!("{:?}", failure_counts(&report));
    assert_caught(&report, "order_dpmpp2m");
}

/// DDIM with $\hat\varepsilon$ and $\hat x_0$ swapped in the update:
/// $x_s = \alpha_s\hat\varepsilon + \beta_s\hat x_0$ instead of $\alpha_s\hat x_0 + \beta_s\hat\varepsilon$.
#[derive(Debug)]
struct DdimSwapped;
impl Solver for DdimSwapped {
    fn name(&self) -> &'static str {
        "ddim-swapped"
    }
    fn order(&self) -> Option<u32> {
        Some(1)
    }
    fn solve_observed(
        &self,
        flow: &ProbabilityFlow<'_>,
        grid: &TimeGrid,
        x_start: MatRef<'_, f64>,
        observer: &mut dyn FnMut(usize, f64, MatRef<'_, f64>),
    ) -> Result<Solution> {
        let times = grid.times();
        let mut x = x_start.to_owned();
        observer(0, times[0], x.as_ref());
        for k in 0..times.len() - 1 {
            let (t, s) = (times[k], times[k + 1]);
            let (_, lt) = flow.at(t)?;
            let (_, ls) = flow.at(s)?;
            let d = flow.denoise(t, x.as_ref())?;
            x = Mat::from_fn(x.nrows(), x.ncols(), |i, j| {
                let eps = (x[(i, j)] - lt.alpha() * d[(i, j)]) / lt.beta();
                ls.alpha() * eps + ls.beta() * d[(i, j)]
            });
            observer(k + 1, s, x.as_ref());
        }
        let n = times.len() - 1;
        Ok(Solution {
            x,
            info: SolveInfo {
                steps: n,
                rejections: 0,
                evaluations: n,
                mesh: times.to_vec(),
            },
        })
    }
}

struct DdimEpsX0Swapped;
impl r10::Subject for DdimEpsX0Swapped {
    fn solver(&self, kind: SolverKind) -> Box<dyn Solver> {
        match kind {
            SolverKind::Ddim => Box::new(DdimSwapped),
            k => k.build(),
        }
    }
}

#[test]
fn r10_planted_ddim_eps_x0_swapped() {
    let report = run("R10", 12, |rng| r10::run_case_with(rng, &DdimEpsX0Swapped));
    eprintln!("{:?}", failure_counts(&report));
    assert_caught(&report, "order_ddim");
}

/// A solver whose step loop stops one step short (`for k in 0..n - 1`): it integrates
/// the grid without its last time.
#[derive(Debug)]
struct OneStepShort(Box<dyn Solver>);
impl Solver for OneStepShort {
    fn name(&self) -> &'static str {
        "one-step-short"
    }
    fn order(&self) -> Option<u32> {
        self.0.order()
    }
    fn solve_observed(
        &self,
        flow: &ProbabilityFlow<'_>,
        grid: &TimeGrid,
        x_start: MatRef<'_, f64>,
        observer: &mut dyn FnMut(usize, f64, MatRef<'_, f64>),
    ) -> Result<Solution> {
        let times = grid.times();
        let short = TimeGrid::new(times[..times.len() - 1].to_vec(), GridEnd::Last)?;
        let mut sol = self.0.solve_observed(flow, &short, x_start, observer)?;
        sol.info.mesh.push(grid.last());
        sol.info.steps += 1;
        Ok(sol)
    }
}

struct GridOffByOne;
impl r10::Subject for GridOffByOne {
    fn solver(&self, kind: SolverKind) -> Box<dyn Solver> {
        Box::new(OneStepShort(kind.build()))
    }
}

#[test]
fn r10_planted_grid_off_by_one() {
    let report = run("R10", 4, |rng| r10::run_case_with(rng, &GridOffByOne));
    eprintln!("{:?}", failure_counts(&report));
    assert_caught(&report, "solver_mesh");
}

/// The exact Gaussian flow with the variance ratio in place of its square root:
/// $f_i = (\alpha^2\lambda_i+\beta^2)/(\alpha_0^2\lambda_i+\beta_0^2)$, and $\beta/\beta_0$ squared off the span.
struct ExactFlowMissingSqrt;
impl ExactFlowMissingSqrt {
    fn parts(g: &Gaussian, from: NoiseLevel, a: f64, b: f64) -> (Vec<f64>, f64) {
        let f = g
            .variances()
            .iter()
            .map(|&l| (a * a * l + b * b) / (from.alpha().powi(2) * l + from.beta().powi(2)))
            .collect();
        (f, (b / from.beta()).powi(2))
    }
}
impl r10::Subject for ExactFlowMissingSqrt {
    fn exact_matrix(&self, g: &Gaussian, from: NoiseLevel, a: f64, b: f64) -> Result<Mat<f64>> {
        let (f, c) = Self::parts(g, from, a, b);
        let v = g.basis();
        let d = v.nrows();
        Ok(Mat::from_fn(d, d, |i, j| {
            (0..v.ncols())
                .map(|k| v[(i, k)] * (f[k] - c) * v[(j, k)])
                .sum::<f64>()
                + if i == j { c } else { 0.0 }
        }))
    }
    fn exact_map(
        &self,
        g: &Gaussian,
        from: NoiseLevel,
        a: f64,
        b: f64,
        x: MatRef<'_, f64>,
    ) -> Result<Mat<f64>> {
        let m = self.exact_matrix(g, from, a, b)?;
        let mu = g.mean();
        let d = mu.len();
        Ok(Mat::from_fn(d, x.ncols(), |i, j| {
            a * mu[i]
                + (0..d)
                    .map(|k| m[(i, k)] * (x[(k, j)] - from.alpha() * mu[k]))
                    .sum::<f64>()
        }))
    }
}

#[test]
fn r10_planted_exact_flow_missing_sqrt() {
    let report = run("R10", 8, |rng| {
        r10::run_case_with(rng, &ExactFlowMissingSqrt)
    });
    eprintln!("{:?}", failure_counts(&report));
    assert_caught(&report, "exact_ode");
    assert_caught(&report, "exact_transport");
}

/// The velocity without its $\dot\alpha_tD$ term.
struct VelocityMissingDalpha;
impl r10::Subject for VelocityMissingDalpha {
    fn velocity(&self, flow: &ProbabilityFlow<'_>, t: f64, x: MatRef<'_, f64>) -> Result<Mat<f64>> {
        let v = flow.velocity(t, x)?;
        let (c, _) = flow.at(t)?;
        let d = flow.denoise(t, x)?;
        Ok(Mat::from_fn(v.nrows(), v.ncols(), |i, j| {
            v[(i, j)] - c.dalpha * d[(i, j)]
        }))
    }
}

#[test]
fn r10_planted_velocity_missing_dalpha() {
    let report = run("R10", 8, |rng| {
        r10::run_case_with(rng, &VelocityMissingDalpha)
    });
    eprintln!("{:?}", failure_counts(&report));
    assert_caught(&report, "exact_ode");
}
