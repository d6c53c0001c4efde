//! What the probability-flow families share: flow cases with their tolerances,
//! the exact Gaussian flow in double-double, and the exact reduction of an
//! orthogonal MoLRG's flow to one ODE per component.
//!
//! # Flow cases
//! A flow case gives starting points $x_{t_0}$ (rows of `x`), a schedule and a
//! grid, and expects the flow map $\Phi(x_{t_0})$: the solution of the PF ODE at
//! $t_n$, followed for a grid with a clean end by $D(x_{t_n}, t_n)$ (EDM's Euler last
//! step; the limit of every solver on that grid). It also states a *candidate
//! discretization* (`params.solver` with `params.steps` on the grid): the
//! tolerance allows for its discretization error, so a candidate that runs that
//! solver (or a more accurate one) passes. Per point $b$, with $e_b$ the expected output,
//! $$\mathrm{tol}_{T,b}\,\|e_b\| = \epsilon_{\mathrm{ref},b} + 2\,\epsilon_{\mathrm{disc},b} + 8\big(\gamma_T(d + r + 4) + \sqrt{sn}\,\varepsilon_T\big)(\|x_{t_n,b}\| + \|e_b\|) + \tau_{T,b},$$
//! where $\epsilon_{\mathrm{ref},b}$ is the reference's estimated error (0 beyond rounding for
//! the exact Gaussian flow), $\epsilon_{\mathrm{disc},b} = \|c_b - e_b\|$ the measured error of the
//! candidate discretization $c$ (the crate's solver with the stated steps), the third term
//! the rounding of the candidate: one evaluation's ($r$ the number of terms of the
//! posterior mean) plus the accumulation over its $sn$ stages ($s$ stages, $n$ steps) when
//! the flow does not expand errors, with the probabilistic $\sqrt{sn}\,\varepsilon_T$ of
//! Higham & Mary (2019) for independent roundings (the worst case $sn\,\varepsilon_T$ exceeds,
//! for thousands of float32 steps, the discretization error of a coarse sampler), and
//! $\tau_{T,b}$ the tolerance of the final denoiser at $x_{t_n,b}$ (the R02–R04 mean tolerance;
//! clean ends only).

use faer::{Mat, MatMut, MatRef};

use super::{SuiteBuilder, col, mean_at, model_terms, norm, qv};
use crate::golden::Tier;
use crate::golden::export::{CaseOptions, NewCase};
use crate::golden::tolerance::{C, PointTolerance, gamma};
use crate::io::Result;
use crate::io::model_file::Model;
use crate::io::npy::Array;
use crate::level::NoiseLevel;
use crate::model::{Denoiser, Gaussian};
use crate::reference::{self, Q, q};
use crate::service::eval::{FlowSpec, GridSpec, SolverSpec};

/// The reference of a flow case.
pub(super) struct Reference {
    /// The expected output (`d × B`), rounded to f64.
    pub expected: Mat<f64>,
    /// Estimated absolute error of `expected`, per point.
    pub error: Vec<f64>,
    /// The reference state at $t_n$ (before a clean end), `d × B`.
    pub end_state: Mat<f64>,
    /// How it was computed (`params.reference`).
    pub method: serde_json::Value,
}

/// A flow case as the families describe it.
pub(super) struct FlowCase<'a> {
    pub id: String,
    pub family: &'static str,
    pub description: String,
    pub model_path: &'a str,
    pub model: &'a Model,
    /// Schedule and grid of the case; `spec.solver` is the candidate discretization.
    pub spec: FlowSpec,
    /// Starting points, `d × B`.
    pub x: &'a Mat<f64>,
    /// The path of `x` if it is an array shared with other cases.
    pub shared_x: Option<String>,
    pub reference: Reference,
    /// The candidate discretization's output (the crate's solver), `d × B`.
    pub candidate: Mat<f64>,
    /// The crate's value, computed independently of the reference, and the solver of
    /// the `command` that computes it.
    pub crate_value: Mat<f64>,
    pub crate_solver: SolverSpec,
}

/// Whether a grid ends with the clean step.
fn clean_end(grid: &GridSpec) -> bool {
    match grid {
        GridSpec::Karras { .. } => true,
        GridSpec::Times { clean, .. } => *clean,
    }
}

/// The `eval flow` command computing a flow case with `solver`.
pub(super) fn flow_command(
    model: &str,
    x: &str,
    id: &str,
    spec: &FlowSpec,
    solver: SolverSpec,
) -> String {
    let mut c = format!(
        "diffusion-lowdim eval flow --model {model} --x {x} --schedule {} --solver {}",
        spec.schedule,
        solver.name()
    );
    if let SolverSpec::DormandPrince { rtol, atol } = solver {
        c.push_str(&format!(" --rtol {rtol:e} --atol {atol:e}"));
    }
    match spec.grid {
        GridSpec::Karras {
            steps,
            sigma_min,
            sigma_max,
            rho,
        } => {
            let steps = match solver {
                SolverSpec::DormandPrince { .. } | SolverSpec::Exact => 2,
                _ => steps,
            };
            c.push_str(&format!(
                " --steps {steps} --sigma-max {sigma_max} --sigma-min {sigma_min} --rho {rho}"
            ));
        }
        GridSpec::Times {
            steps,
            t_start,
            t_end,
            log,
            clean,
        } => {
            let steps = match solver {
                SolverSpec::DormandPrince { .. } | SolverSpec::Exact => 1,
                _ => steps,
            };
            c.push_str(&format!(
                " --steps {steps} --t-start {t_start} --t-end {t_end}"
            ));
            if log {
                c.push_str(" --log-spacing");
            }
            if clean {
                c.push_str(" --clean");
            }
        }
    }
    c.push_str(&format!(" --out {id}.npy"));
    c
}

/// The `params` of a flow case: schedule, grid and candidate, flat.
fn params(
    spec: &FlowSpec,
    reference: &serde_json::Value,
    disc: f64,
    ref_err: f64,
) -> serde_json::Value {
    let mut p = serde_json::json!({
        "schedule": spec.schedule,
        "solver": spec.solver.name(),
        "steps": spec.grid.steps(),
        "end": if clean_end(&spec.grid) { "clean" } else { "last" },
        "reference": reference,
        "max_reference_error": ref_err,
        "max_discretization_error": disc,
        "tolerance": "per point: (reference error + 2 x the candidate discretization's measured \
                      error + 8 (gamma_T(d + r + 4) + sqrt(stages*steps) eps_T)(|x_tn| + \
                      |expected|) + the final denoiser's tolerance) / |expected|; any solver at \
                      least as accurate as the candidate (solver, steps, grid) passes",
    });
    let o = p.as_object_mut().expect("an object");
    match spec.grid {
        GridSpec::Karras {
            sigma_min,
            sigma_max,
            rho,
            ..
        } => {
            o.insert("grid".into(), "karras".into());
            o.insert("sigma_max".into(), sigma_max.into());
            o.insert("sigma_min".into(), sigma_min.into());
            o.insert("rho".into(), rho.into());
        }
        GridSpec::Times {
            t_start,
            t_end,
            log,
            ..
        } => {
            o.insert(
                "grid".into(),
                if log { "log-uniform" } else { "uniform" }.into(),
            );
            o.insert("t_start".into(), t_start.into());
            o.insert("t_end".into(), t_end.into());
        }
    }
    p
}

/// Adds a flow case (see the module docs for its tolerance).
pub(super) fn add_flow_case(s: &mut SuiteBuilder, c: FlowCase<'_>) -> Result<()> {
    let schedule = c.spec.schedule()?;
    let grid = c.spec.grid.build(schedule.as_ref())?;
    let last = schedule.level(grid.last())?;
    let clean = clean_end(&c.spec.grid);
    let (d, b) = (c.x.nrows(), c.x.ncols());
    let evals = c.spec.solver.stages() * c.spec.grid.steps();
    let terms = model_terms(c.model);
    let r = &c.reference;
    let mut points = Vec::with_capacity(b);
    let (mut worst_disc, mut worst_ref) = (0.0f64, 0.0f64);
    for j in 0..b {
        let e = col(&r.expected, j);
        let ne = norm(&e);
        let scale = ne + f64::MIN_POSITIVE;
        let cand = col(&c.candidate, j);
        let disc = norm(&cand.iter().zip(&e).map(|(a, b)| a - b).collect::<Vec<_>>());
        let end = col(&r.end_state, j);
        let final_tol = if clean {
            Some(mean_at(c.model, &end, last).1)
        } else {
            None
        };
        let nend = norm(&end);
        worst_disc = worst_disc.max(disc / scale);
        worst_ref = worst_ref.max(r.error[j] / scale);
        points.push(PointTolerance::from_fn(scale, |t: Tier| {
            let f = final_tol.map_or(0.0, |p| match t {
                Tier::F64 => p.f64 * p.scale,
                Tier::F32 => p.f32 * p.scale,
            });
            let rounding = gamma(t, d + terms + 4) + (evals as f64).sqrt() * t.eps();
            (r.error[j] + 2.0 * disc + C * rounding * (nend + ne) + f) / scale
        }));
    }
    let x_rel = c
        .shared_x
        .clone()
        .unwrap_or_else(|| format!("cases/{}/x.npy", c.id));
    let command = flow_command(c.model_path, &x_rel, &c.id, &c.spec, c.crate_solver);
    let (inputs, shared) = match &c.shared_x {
        Some(p) => (vec![], vec![("x", p.clone())]),
        None => (vec![("x", Array::from_batch(c.x.as_ref()))], vec![]),
    };
    s.add_case_with(
        NewCase {
            id: c.id,
            family: c.family,
            kind: "flow",
            description: c.description,
            params: params(&c.spec, &r.method, worst_disc, worst_ref),
            model: Some(c.model_path.to_string()),
            level: None,
            inputs,
            expected: Array::from_batch(r.expected.as_ref()),
            crate_value: Array::from_batch(c.crate_value.as_ref()),
            points,
            command,
        },
        CaseOptions {
            shared_inputs: shared,
        },
    )
}

/// The clean end in double-double: $D(x_b, \text{level})$ for every column, rounded.
pub(super) fn clean_end_q(model: &Model, x: &Mat<f64>, level: NoiseLevel) -> Mat<f64> {
    let cols: Vec<Vec<f64>> = (0..x.ncols())
        .map(|j| qv(&mean_at(model, &col(x, j), level).0))
        .collect();
    from_rows(&cols, x.nrows())
}

/// A `d × B` matrix from `B` columns.
pub(super) fn from_rows(cols: &[Vec<f64>], d: usize) -> Mat<f64> {
    Mat::from_fn(d, cols.len(), |i, j| cols[j][i])
}

/// The exact Gaussian flow from level `from` to `to` in double-double (R10):
/// $\alpha_s\mu + V\operatorname{diag}(f)V^\top y + \frac{\beta_s}{\beta_T}(I - VV^\top)y$, $y = x - \alpha_T\mu$,
/// $f_i = \sqrt{(\alpha_s^2\lambda_i + \beta_s^2)/(\alpha_T^2\lambda_i + \beta_T^2)}$; every column, rounded.
pub(super) fn gaussian_flow_q(
    g: &Gaussian,
    x: &Mat<f64>,
    from: NoiseLevel,
    to: NoiseLevel,
) -> Mat<f64> {
    let (d, r) = (g.dim(), g.rank());
    let (at, bt, as_, bs) = (q(from.alpha()), q(from.beta()), q(to.alpha()), q(to.beta()));
    let v = g.basis();
    let f: Vec<Q> = g
        .variances()
        .iter()
        .map(|&l| ((as_ * as_ * q(l) + bs * bs) / (at * at * q(l) + bt * bt)).sqrt())
        .collect();
    let ratio = bs / bt;
    let cols: Vec<Vec<f64>> = (0..x.ncols())
        .map(|j| {
            let y: Vec<Q> = (0..d).map(|i| q(x[(i, j)]) - at * q(g.mean()[i])).collect();
            let c: Vec<Q> = (0..r)
                .map(|k| {
                    let mut s = Q::ZERO;
                    for i in 0..d {
                        s += q(v[(i, k)]) * y[i];
                    }
                    s
                })
                .collect();
            (0..d)
                .map(|i| {
                    let mut proj = Q::ZERO;
                    let mut scaled = Q::ZERO;
                    for k in 0..r {
                        proj += q(v[(i, k)]) * c[k];
                        scaled += q(v[(i, k)]) * f[k] * c[k];
                    }
                    let res = if r == d { Q::ZERO } else { y[i] - proj };
                    reference::f(as_ * q(g.mean()[i]) + scaled + ratio * res)
                })
                .collect()
        })
        .collect();
    from_rows(&cols, d)
}

/// Per-column distances between two `d × B` matrices.
pub(super) fn col_dists(a: &Mat<f64>, b: &Mat<f64>) -> Vec<f64> {
    (0..a.ncols())
        .map(|j| {
            (0..a.nrows())
                .map(|i| (a[(i, j)] - b[(i, j)]).powi(2))
                .sum::<f64>()
                .sqrt()
        })
        .collect()
}

/// An orthogonal MoLRG $\sum_k\pi_k\mathcal N(0, \lambda_kU_kU_k^\top)$ ($U_k^\top U_j = 0$,
/// isotropic variances) in the coordinates $a_k = \|U_k^\top x\|$: its PF ODE is exactly
/// the PF ODE of this $K$-dimensional denoiser.
///
/// # Definition
/// $D(x) = \sum_kw_k\frac{\alpha\lambda_k}{\alpha^2\lambda_k+\beta^2}U_kc_k$ with $c_k = U_k^\top x$ and
/// logits $\log\pi_k - \frac{r_k}2\log(1 + \alpha^2\lambda_k/\beta^2) + \frac{\alpha^2\lambda_k}{2\beta^2(\alpha^2\lambda_k+\beta^2)}\|c_k\|^2$,
/// so the velocity $\frac{\beta'}{\beta}(x - \alpha D) + \alpha'D$ has $U_k^\top$-component parallel to
/// $c_k$ and complement component $\frac{\beta'}{\beta}(I - \sum_kU_kU_k^\top)x$. Each $c_k$ keeps its
/// direction, $a_k$ solves the PF ODE of $\tilde D(a)_k = w_k\frac{\alpha\lambda_k}{\alpha^2\lambda_k+\beta^2}a_k$
/// (this type), and the complement scales by $\beta_t/\beta_{t_0}$. A Runge–Kutta method
/// commutes with this reduction (each stage's increment is parallel to $c_k$), so a
/// solver's discretization error is the same on both systems.
pub(super) struct RadialMolrg {
    pub log_pi: Vec<f64>,
    pub ranks: Vec<f64>,
    pub lambdas: Vec<f64>,
}

impl Denoiser for RadialMolrg {
    fn dim(&self) -> usize {
        self.log_pi.len()
    }

    fn posterior_mean_into(
        &self,
        a: MatRef<'_, f64>,
        level: NoiseLevel,
        mut out: MatMut<'_, f64>,
    ) -> crate::Result<()> {
        crate::error::ensure_dim("rows of the radial state", self.dim(), a.nrows())?;
        crate::error::ensure_finite("radial state", a)?;
        let (al, be) = (level.alpha(), level.beta());
        let k = self.dim();
        let mut logits = vec![0.0; k];
        for j in 0..a.ncols() {
            for i in 0..k {
                let l = self.lambdas[i];
                let v = al * al * l + be * be;
                logits[i] = self.log_pi[i]
                    - 0.5 * self.ranks[i] * (al * al * l / (be * be)).ln_1p()
                    + al * al * l / (2.0 * be * be * v) * a[(i, j)] * a[(i, j)];
            }
            let m = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let w: Vec<f64> = logits.iter().map(|l| (l - m).exp()).collect();
            let total: f64 = w.iter().sum();
            for i in 0..k {
                let l = self.lambdas[i];
                out[(i, j)] = w[i] / total * (al * l / (al * al * l + be * be)) * a[(i, j)];
            }
        }
        Ok(())
    }
}

/// The radial coordinates $a_k = \|U_k^\top x\|$ of every column (`K × B`).
pub(super) fn radial(bases: &[Mat<f64>], x: &Mat<f64>) -> Mat<f64> {
    Mat::from_fn(bases.len(), x.ncols(), |k, j| {
        let u = &bases[k];
        (0..u.ncols())
            .map(|c| {
                (0..u.nrows())
                    .map(|i| u[(i, c)] * x[(i, j)])
                    .sum::<f64>()
                    .powi(2)
            })
            .sum::<f64>()
            .sqrt()
    })
}

/// The full state from the radial one: $\sum_k\frac{a_k}{a_k^0}U_kU_k^\top x_0 + \rho\,(I - \sum_kU_kU_k^\top)x_0$.
pub(super) fn unradial(
    bases: &[Mat<f64>],
    x0: &Mat<f64>,
    a0: &Mat<f64>,
    a: &Mat<f64>,
    complement: f64,
) -> Mat<f64> {
    let (d, b) = (x0.nrows(), x0.ncols());
    let mut out = Mat::<f64>::zeros(d, b);
    for j in 0..b {
        let mut proj = vec![0.0; d];
        for (k, u) in bases.iter().enumerate() {
            let ratio = a[(k, j)] / a0[(k, j)];
            for c in 0..u.ncols() {
                let ck: f64 = (0..d).map(|i| u[(i, c)] * x0[(i, j)]).sum();
                for i in 0..d {
                    out[(i, j)] += ratio * u[(i, c)] * ck;
                    proj[i] += u[(i, c)] * ck;
                }
            }
        }
        for i in 0..d {
            out[(i, j)] += complement * (x0[(i, j)] - proj[i]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::{
        DormandPrince, FlowMap, GaussianFlow, GridEnd, ProbabilityFlow, Rk4, Solver, TimeGrid,
    };
    use crate::linalg::random_orthonormal;
    use crate::model::Molrg;
    use crate::rng::{seeded, standard_normal};
    use crate::schedule::Ve;

    fn max_rel(a: &Mat<f64>, b: &Mat<f64>) -> f64 {
        col_dists(a, b)
            .iter()
            .enumerate()
            .map(|(j, e)| e / b.col(j).norm_l2())
            .fold(0.0, f64::max)
    }

    #[test]
    fn radial_reduction_matches_the_exact_gaussian_flow_and_its_error_estimate_holds() {
        // One component: the MoLRG is N(0, 2 U Uᵀ), whose flow is known exactly.
        let mut rng = seeded(5);
        let u = random_orthonormal(&mut rng, 6, 3).unwrap();
        let g = Gaussian::new(&[0.0; 6], u.as_ref(), &[2.0; 3]).unwrap();
        let x = standard_normal(&mut rng, 6, 8) * faer::Scale(80.0);
        let reduced = RadialMolrg {
            log_pi: vec![0.0],
            ranks: vec![3.0],
            lambdas: vec![2.0],
        };
        let bases = vec![u.clone()];
        let a0 = radial(&bases, &x);
        let ends = TimeGrid::new(vec![80.0, 0.002], GridEnd::Last).unwrap();
        let pf = ProbabilityFlow::new(&Ve, &reduced);
        let solve = |rtol: f64| {
            let a = DormandPrince::new(rtol, rtol * 1e-2)
                .unwrap()
                .solve(&pf, &ends, a0.as_ref())
                .unwrap()
                .x;
            unradial(&bases, &x, &a0, &a, 0.002 / 80.0)
        };
        let (tight, loose) = (solve(1e-13), solve(1e-11));
        let exact = GaussianFlow::between(&g, NoiseLevel::ve(80.0).unwrap(), 1.0, 0.002)
            .unwrap()
            .map(x.as_ref())
            .unwrap();
        let (err, estimate) = (col_dists(&tight, &exact), col_dists(&loose, &tight));
        for j in 0..x.ncols() {
            assert!(
                err[j] <= estimate[j] + 1e-13,
                "{j}: {} > {}",
                err[j],
                estimate[j]
            );
        }
        assert!(max_rel(&tight, &exact) < 1e-11);
    }

    #[test]
    fn radial_reduction_commutes_with_a_runge_kutta_solver() {
        let mut rng = seeded(6);
        let q = random_orthonormal(&mut rng, 8, 6).unwrap();
        let bases: Vec<Mat<f64>> = (0..2)
            .map(|k| q.as_ref().subcols(3 * k, 3).to_owned())
            .collect();
        let refs: Vec<_> = bases.iter().map(|b| b.as_ref()).collect();
        let full = Molrg::new(&[0.3, 0.7], &refs).unwrap();
        let reduced = RadialMolrg {
            log_pi: vec![0.3f64.ln(), 0.7f64.ln()],
            ranks: vec![3.0, 3.0],
            lambdas: vec![1.0, 1.0],
        };
        let x = standard_normal(&mut rng, 8, 6) * faer::Scale(10.0);
        let grid = TimeGrid::uniform(64, 10.0, 0.05).unwrap();
        let y_full = Rk4
            .solve(&ProbabilityFlow::new(&Ve, &full), &grid, x.as_ref())
            .unwrap()
            .x;
        let a0 = radial(&bases, &x);
        let a = Rk4
            .solve(&ProbabilityFlow::new(&Ve, &reduced), &grid, a0.as_ref())
            .unwrap()
            .x;
        let y_red = unradial(&bases, &x, &a0, &a, 0.05 / 10.0);
        assert!(
            max_rel(&y_red, &y_full) < 1e-12,
            "{}",
            max_rel(&y_red, &y_full)
        );
    }
}
