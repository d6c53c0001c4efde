//! Exponential integrators in the half log-SNR $\lambda = \log(\alpha/\beta)$:
//! DDIM (first order) and DPM-Solver++(2M) (second order, multistep).

use faer::{Mat, MatRef};

use super::{Observer, Solution, SolveInfo, Solver, finish, half_log_snr, prepare, run_one_step};
use crate::error::Result;
use crate::flow::{ProbabilityFlow, TimeGrid};

/// One data-prediction exponential-integrator step from $t$ to $s$ with the
/// denoised estimate `d`: $x_s = \frac{\beta_s}{\beta_t}x_t - \alpha_s(e^{-h}-1)\,d$,
/// $h = \lambda_s - \lambda_t$. Returns `(x_s, h)`.
fn exp_step(
    flow: &ProbabilityFlow<'_>,
    t: f64,
    s: f64,
    x: &Mat<f64>,
    d: &Mat<f64>,
) -> Result<(Mat<f64>, f64)> {
    let (ct, _) = flow.at(t)?;
    let (cs, _) = flow.at(s)?;
    let h = half_log_snr(cs.alpha, cs.beta) - half_log_snr(ct.alpha, ct.beta);
    let ratio = cs.beta / ct.beta;
    // −α_s·expm1(−h) ∈ [0, α_s]; h = +∞ (α_t = 0) gives α_s.
    let gain = -cs.alpha * (-h).exp_m1();
    let out = Mat::from_fn(x.nrows(), x.ncols(), |i, j| {
        ratio.mul_add(x[(i, j)], gain * d[(i, j)])
    });
    Ok((out, h))
}

/// Deterministic DDIM (Song, Meng, Ermon 2021), the first-order exponential integrator.
///
/// # Definition
/// $x_{i+1} = \frac{\beta_{i+1}}{\beta_i}x_i + \big(\alpha_{i+1} - \alpha_i\frac{\beta_{i+1}}{\beta_i}\big)D(x_i, t_i)$,
/// evaluated as $\frac{\beta_{i+1}}{\beta_i}x_i - \alpha_{i+1}\operatorname{expm1}(-h_i)D$ with
/// $h_i = \lambda_{i+1} - \lambda_i$, so it never divides by $\alpha_i$ (which may be 0).
/// Exact when $D$ is constant along the step; order 1, one evaluation per step.
///
/// # Examples
/// ```
/// use diffusion_lowdim::flow::{Ddim, ProbabilityFlow, Solver, TimeGrid, GridEnd};
/// use diffusion_lowdim::{schedule::RectifiedFlow, Gaussian};
/// // A point mass at 1 (variance 0): D ≡ 1, so DDIM is exact: x_s = (β_s/β_t) x_t + (α_s − α_t β_s/β_t).
/// let g = Gaussian::new(&[1.0], faer::mat![[1.0]].as_ref(), &[0.0])?;
/// let grid = TimeGrid::new(vec![1.0, 0.5], GridEnd::Last)?; // from pure noise (α = 0)
/// let s = Ddim.solve(&ProbabilityFlow::new(&RectifiedFlow, &g), &grid, faer::mat![[3.0]].as_ref())?;
/// assert!((s.x[(0, 0)] - 2.0).abs() < 1e-15); // 0.5·3 + 0.5
/// # Ok::<(), diffusion_lowdim::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ddim;

impl Solver for Ddim {
    fn name(&self) -> &'static str {
        "ddim"
    }

    fn order(&self) -> Option<u32> {
        Some(1)
    }

    fn columnwise(&self) -> bool {
        true
    }

    fn linear(&self) -> bool {
        true
    }

    fn solve_observed(
        &self,
        flow: &ProbabilityFlow<'_>,
        grid: &TimeGrid,
        x_start: MatRef<'_, f64>,
        observer: Observer<'_>,
    ) -> Result<Solution> {
        run_one_step(flow, grid, x_start, 1, observer, |t, s, x| {
            let d = flow.denoise(t, x.as_ref())?;
            Ok(exp_step(flow, t, s, x, &d)?.0)
        })
    }
}

/// DPM-Solver++(2M) (Lu et al. 2022, Alg. 2; k-diffusion's `sample_dpmpp_2m`).
///
/// # Definition
/// With $D_i = D(x_i, t_i)$, $h_i = \lambda_{i+1} - \lambda_i$ and $r_i = h_{i-1}/h_i$,
/// $$x_{i+1} = \frac{\beta_{i+1}}{\beta_i}x_i - \alpha_{i+1}(e^{-h_i} - 1)\Big[\big(1 + \tfrac1{2r_i}\big)D_i - \tfrac1{2r_i}D_{i-1}\Big],$$
/// the first step being DDIM's. Order 2, one evaluation per step (the previous
/// denoised value is reused); the clean end returns $D(x_n, t_n)$ as k-diffusion does.
///
/// # Examples
/// ```
/// use diffusion_lowdim::flow::{DpmSolverPP2M, GaussianFlow, FlowMap, ProbabilityFlow, Solver, TimeGrid};
/// use diffusion_lowdim::{schedule::Ve, Gaussian, NoiseLevel};
/// let g = Gaussian::new(&[0.0], faer::mat![[1.0]].as_ref(), &[1.0])?;
/// let grid = TimeGrid::log_uniform(40, 20.0, 0.05)?;
/// let x_t = faer::mat![[15.0]];
/// let s = DpmSolverPP2M.solve(&ProbabilityFlow::new(&Ve, &g), &grid, x_t.as_ref())?;
/// let exact = GaussianFlow::between(&g, NoiseLevel::ve(20.0)?, 1.0, 0.05)?.map(x_t.as_ref())?;
/// assert!((s.x[(0, 0)] - exact[(0, 0)]).abs() < 2e-3); // one evaluation per step: 40 in all
/// assert_eq!(s.info.evaluations, 40);
/// # Ok::<(), diffusion_lowdim::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DpmSolverPP2M;

impl Solver for DpmSolverPP2M {
    fn name(&self) -> &'static str {
        "dpm-solver++2m"
    }

    fn order(&self) -> Option<u32> {
        Some(2)
    }

    fn columnwise(&self) -> bool {
        true
    }

    fn linear(&self) -> bool {
        true
    }

    fn solve_observed(
        &self,
        flow: &ProbabilityFlow<'_>,
        grid: &TimeGrid,
        x_start: MatRef<'_, f64>,
        observer: Observer<'_>,
    ) -> Result<Solution> {
        prepare(flow, grid, x_start)?;
        let times = grid.times();
        let mut x = x_start.to_owned();
        let mut info = SolveInfo {
            mesh: vec![times[0]],
            ..SolveInfo::default()
        };
        let mut previous: Option<(Mat<f64>, f64)> = None; // (D_{i−1}, h_{i−1})
        observer(0, times[0], x.as_ref());
        for (k, w) in times.windows(2).enumerate() {
            let d = flow.denoise(w[0], x.as_ref())?;
            let corrected = match &previous {
                // h_{i−1} = ∞ only after a first step from α = 0; then 1/(2r) = 0.
                Some((d_old, h_old)) => {
                    let (ct, _) = flow.at(w[0])?;
                    let (cs, _) = flow.at(w[1])?;
                    let h = half_log_snr(cs.alpha, cs.beta) - half_log_snr(ct.alpha, ct.beta);
                    let c = 0.5 * h / h_old; // 1/(2r)
                    Mat::from_fn(d.nrows(), d.ncols(), |i, j| {
                        c.mul_add(d[(i, j)] - d_old[(i, j)], d[(i, j)])
                    })
                }
                None => d.clone(),
            };
            let (xn, h) = exp_step(flow, w[0], w[1], &x, &corrected)?;
            x = xn;
            previous = Some((d, h));
            info.steps += 1;
            info.evaluations += 1;
            info.mesh.push(w[1]);
            observer(k + 1, w[1], x.as_ref());
        }
        finish(flow, grid, x, info)
    }
}
