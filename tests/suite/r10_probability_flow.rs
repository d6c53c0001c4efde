//! R10: probability-flow ODE solvers against the exact Gaussian flow.

use super::common;

use diffusion_lowdim::flow::{
    Ddim, DormandPrince, DpmSolverPP2M, Euler, FlowMap, GaussianFlow, GridEnd, Heun,
    ProbabilityFlow, Rk4, Solver, TimeGrid,
};
use diffusion_lowdim::linalg::frobenius_distance;
use diffusion_lowdim::schedule::{RectifiedFlow, Schedule, Ve, VpCosine, VpLinear};
use diffusion_lowdim::theorem::instance::{ScheduleKind, random_gaussian};
use diffusion_lowdim::theorem::r10::{GridKind, Instance, SolverKind};
use diffusion_lowdim::{Error, ExactModel, Gaussian, NoiseLevel, rng};
use faer::Mat;
use proptest::prelude::*;

prop_compose! {
    /// A readable R10 instance; ranges as in `Instance::sample` (the order is only
    /// asserted where the module docs say it is observable).
    fn instance()(
        d in 1usize..=6,
        r_frac in 0.0..1.0f64,
        schedule in prop::sample::select(ScheduleKind::ALL.to_vec()),
        grid in prop::sample::select(vec![GridKind::Karras, GridKind::Uniform, GridKind::LogUniform]),
        solver in prop::sample::select(vec![SolverKind::Euler, SolverKind::Heun, SolverKind::Rk4, SolverKind::Ddim, SolverKind::DpmSolverPP2M]),
        u_max in 0.0..1.0f64,
        u_min in 0.0..1.0f64,
        pure in any::<bool>(),
        log_rtol in -10.0..-6.0f64,
        seed in any::<u64>(),
    ) -> Instance {
        let (lo_max, hi_max, lo_min, hi_min) = match grid {
            GridKind::Karras => (0.0, 1.9, -2.7, -1.0),
            GridKind::Uniform => (0.0, 1.0, -1.3, -0.3),
            GridKind::LogUniform => (0.0, 1.3, -2.0, -0.3),
        };
        Instance {
            d,
            r: 1 + ((d - 1) as f64 * r_frac).round() as usize,
            schedule,
            grid,
            solver,
            sigma_max: 10f64.powf(lo_max + (hi_max - lo_max) * u_max),
            sigma_min: 10f64.powf(lo_min + (hi_min - lo_min) * u_min),
            pure_noise_start: pure && grid != GridKind::Karras && schedule.has_pure_noise_end()
                && solver != SolverKind::DpmSolverPP2M,
            steps: 1024,
            rtol: 10f64.powf(log_rtol),
            seed,
        }
    }
}

proptest! {
    #![proptest_config(common::config(48))]
    #[test]
    fn r10_check_on_random_instances(inst in instance()) {
        common::check_all(&inst.check().map_err(|e| TestCaseError::fail(e.to_string()))?)?;
    }
}

fn ve_gaussian(seed: u64, d: usize) -> (Gaussian, Mat<f64>) {
    let mut g = rng::seeded(seed);
    let model = random_gaussian(&mut g, d, d).unwrap();
    let x = rng::standard_normal(&mut g, d, 8) * faer::Scale(80.0);
    (model, x)
}

fn rel_error(a: &Mat<f64>, b: &Mat<f64>) -> f64 {
    frobenius_distance(a.as_ref(), b.as_ref()) / b.norm_l2()
}

/// "Heun with 50 EDM steps reproduces the exact Gaussian flow to the accuracy its order
/// predicts": the error at σ_min is second order (halving the step divides it by 4 within
/// ±0.25 in the exponent), and the Richardson estimate (4/3)‖x₅₀ − x₁₀₀‖ built from the
/// solver alone predicts the true error within 25 %.
#[test]
fn r10_heun_50_edm_steps_matches_exact_flow() {
    let (g, x) = ve_gaussian(10, 8);
    let flow = ProbabilityFlow::new(&Ve, &g);
    let solve = |n: usize, end: GridEnd| {
        let grid = TimeGrid::edm(&Ve, n + 1).unwrap().with_end(end).unwrap();
        (Heun.solve(&flow, &grid, x.as_ref()).unwrap().x, grid)
    };
    let (x50, grid) = solve(50, GridEnd::Last);
    let (x100, _) = solve(100, GridEnd::Last);
    let exact = GaussianFlow::on_grid(&g, &Ve, &grid)
        .unwrap()
        .map(x.as_ref())
        .unwrap();
    let (e50, e100) = (rel_error(&x50, &exact), rel_error(&x100, &exact));
    let richardson = frobenius_distance(x50.as_ref(), x100.as_ref()) / exact.norm_l2() * 4.0 / 3.0;
    println!(
        "Heun EDM to sigma_min: e(50) = {e50:.3e}, e(100) = {e100:.3e}, order {:.3}, Richardson estimate {richardson:.3e}",
        (e50 / e100).log2()
    );
    assert!(((e50 / e100).log2() - 2.0).abs() <= 0.25);
    assert!((richardson - e50).abs() <= 0.25 * e50);
    // To the clean data (EDM's Euler last step): the extra first-order step adds the
    // bias of D(x, σ_min) against √(λ/(λ+σ²)) per direction, ≈ σ_min²/(2λ) relative.
    let (x50c, gridc) = solve(50, GridEnd::Clean);
    let exact_c = GaussianFlow::on_grid(&g, &Ve, &gridc)
        .unwrap()
        .map(x.as_ref())
        .unwrap();
    let lmin = g.variances().iter().cloned().fold(f64::INFINITY, f64::min);
    let e_clean = rel_error(&x50c, &exact_c);
    println!(
        "Heun EDM 50 steps to sigma = 0: relative error {e_clean:.3e} (last-step bias bound {:.3e})",
        0.002f64.powi(2) / (2.0 * lmin)
    );
    assert!(e_clean <= e50 + 0.002f64.powi(2) / (2.0 * lmin));
}

/// "Adaptive Dormand–Prince at rtol = 1e-10 matches it to ~1e-9."
#[test]
fn r10_dopri_rtol_1e10_matches_exact_flow() {
    let (g, x) = ve_gaussian(11, 8);
    let grid = TimeGrid::edm(&Ve, 2)
        .unwrap()
        .with_end(GridEnd::Last)
        .unwrap();
    let sol = DormandPrince::new(1e-10, 1e-12)
        .unwrap()
        .solve(&ProbabilityFlow::new(&Ve, &g), &grid, x.as_ref())
        .unwrap();
    let exact = GaussianFlow::on_grid(&g, &Ve, &grid)
        .unwrap()
        .map(x.as_ref())
        .unwrap();
    let err = rel_error(&sol.x, &exact);
    let abs = (0..x.ncols())
        .map(|j| {
            (0..x.nrows())
                .map(|i| (sol.x[(i, j)] - exact[(i, j)]).abs())
                .fold(0.0, f64::max)
        })
        .fold(0.0, f64::max);
    println!(
        "Dormand-Prince rtol 1e-10: relative error {err:.3e}, max abs error {abs:.3e}, {} steps, {} rejections, {} evaluations",
        sol.info.steps, sol.info.rejections, sol.info.evaluations
    );
    assert!(err <= 1e-9);
}

/// Schedules whose signal vanishes at t = 1 (α = 0 exactly for rectified flow): every
/// solver starts there without dividing by α and converges to the exact flow.
#[test]
fn r10_pure_noise_start_converges() {
    let mut g = rng::seeded(12);
    let model = random_gaussian(&mut g, 3, 2).unwrap();
    let schedules: [&dyn Schedule; 2] = [&RectifiedFlow, &VpCosine::nichol_dhariwal()];
    let solvers: [&dyn Solver; 5] = [&Euler, &Heun, &Rk4, &Ddim, &DpmSolverPP2M];
    for s in schedules {
        let x = rng::standard_normal(&mut g, 3, 4);
        let grid = TimeGrid::uniform(400, 1.0, 0.05).unwrap();
        let exact = GaussianFlow::on_grid(&model, s, &grid)
            .unwrap()
            .map(x.as_ref())
            .unwrap();
        for solver in solvers {
            let got = solver
                .solve(&ProbabilityFlow::new(s, &model), &grid, x.as_ref())
                .unwrap()
                .x;
            let e = rel_error(&got, &exact);
            assert!(e < 5e-3, "{} on {}: {e:e}", solver.name(), s.name());
        }
    }
}

/// Extreme noise ranges: Karras grids over σ ∈ [1e-5, 1e4] in VE and σ ∈ [1e-5, 150] in
/// VP-linear (whose σ_t tops out at ≈ 152 at t = 1); Heun keeps its order.
#[test]
fn r10_extreme_sigma_range_keeps_order() {
    let mut g = rng::seeded(13);
    let model = random_gaussian(&mut g, 4, 4).unwrap();
    for (s, sigma_max) in [(&Ve as &dyn Schedule, 1e4), (&VpLinear::score_sde(), 150.0)] {
        let x = rng::standard_normal(&mut g, 4, 4)
            * faer::Scale(s.level(s.time_at_sigma(sigma_max).unwrap()).unwrap().beta());
        let run = |n: usize| {
            let grid = TimeGrid::karras(s, n + 1, 1e-5, sigma_max, 7.0)
                .unwrap()
                .with_end(GridEnd::Last)
                .unwrap();
            let exact = GaussianFlow::on_grid(&model, s, &grid)
                .unwrap()
                .map(x.as_ref())
                .unwrap();
            let got = Heun
                .solve(&ProbabilityFlow::new(s, &model), &grid, x.as_ref())
                .unwrap()
                .x;
            rel_error(&got, &exact)
        };
        let (e1, e2) = (run(512), run(1024));
        let p = (e1 / e2).log2();
        println!(
            "{}: Heun over sigma in [1e-5, {sigma_max}]: e(512) = {e1:.3e}, e(1024) = {e2:.3e}, order {p:.3}",
            s.name()
        );
        assert!((p - 2.0).abs() <= 0.25, "{}: order {p}", s.name());
    }
}

/// The clean end returns the denoiser's output at the last noise level, bit for bit,
/// for every solver.
#[test]
fn r10_clean_end_is_the_denoiser_at_the_last_level() {
    let (g, x) = ve_gaussian(14, 5);
    let flow = ProbabilityFlow::new(&Ve, &g);
    let clean = TimeGrid::edm(&Ve, 12).unwrap();
    let last = clean.clone().with_end(GridEnd::Last).unwrap();
    let dp = DormandPrince::new(1e-8, 1e-10).unwrap();
    let solvers: [&dyn Solver; 6] = [&Euler, &Heun, &Rk4, &Ddim, &DpmSolverPP2M, &dp];
    for s in solvers {
        let a = s.solve(&flow, &clean, x.as_ref()).unwrap();
        let b = s.solve(&flow, &last, x.as_ref()).unwrap();
        let d = flow.denoise(last.last(), b.x.as_ref()).unwrap();
        assert_eq!(a.x, d, "{}", s.name());
        assert_eq!(a.info.steps, b.info.steps + 1);
        assert_eq!(a.info.evaluations, b.info.evaluations + 1);
    }
}

/// Same bits for one thread and two.
#[test]
fn r10_deterministic_for_any_thread_count() {
    let (g, x) = ve_gaussian(15, 6);
    let x = Mat::from_fn(6, 300, |i, j| x[(i, j % 8)] * (1.0 + j as f64 * 1e-3));
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let grid = TimeGrid::edm(&Ve, 18).unwrap();
            let flow = ProbabilityFlow::new(&Ve, &g);
            let dp = DormandPrince::new(1e-9, 1e-11).unwrap();
            (
                Heun.solve(&flow, &grid, x.as_ref()).unwrap().x,
                dp.solve(&flow, &grid, x.as_ref()).unwrap().x,
            )
        })
    };
    let (a, b) = (run(1), run(2));
    assert_eq!(a.0, b.0);
    assert_eq!(a.1, b.1);
}

#[test]
fn r10_hostile_inputs_give_typed_errors() {
    let g = Gaussian::new(
        &[0.0, 0.0],
        faer::mat![[1.0, 0.0], [0.0, 1.0]].as_ref(),
        &[1.0, 2.0],
    )
    .unwrap();
    let flow = ProbabilityFlow::new(&Ve, &g);
    let grid = TimeGrid::edm(&Ve, 4).unwrap();
    let x = faer::mat![[1.0], [2.0]];
    // Zero steps.
    assert!(matches!(
        TimeGrid::edm(&Ve, 0),
        Err(Error::InvalidCount { .. })
    ));
    assert!(matches!(
        TimeGrid::uniform(0, 1.0, 0.5),
        Err(Error::InvalidCount { .. })
    ));
    // T ≤ 0 (σ_max) and bad grids.
    assert!(matches!(
        TimeGrid::karras(&Ve, 4, 0.002, -1.0, 7.0),
        Err(Error::InvalidParameter { .. })
    ));
    assert!(matches!(
        TimeGrid::new(vec![1.0, 2.0], GridEnd::Last),
        Err(Error::InvalidParameter { .. })
    ));
    // β = 0 inside the grid, times outside the domain.
    let zero = TimeGrid::new(vec![1.0, 0.0], GridEnd::Last).unwrap();
    assert!(matches!(
        Heun.solve(&flow, &zero, x.as_ref()),
        Err(Error::InvalidNoiseLevel { .. })
    ));
    let outside = TimeGrid::new(vec![1.5, 0.5], GridEnd::Last).unwrap();
    let vp = ProbabilityFlow::new(&RectifiedFlow, &g);
    assert!(matches!(
        Euler.solve(&vp, &outside, x.as_ref()),
        Err(Error::TimeOutOfDomain { .. })
    ));
    // The same two grids, refused by `TimeGrid::validate` itself (before any step is taken).
    assert!(matches!(
        outside.validate(&RectifiedFlow),
        Err(Error::TimeOutOfDomain { .. })
    ));
    assert!(matches!(
        zero.validate(&Ve),
        Err(Error::InvalidNoiseLevel { .. })
    ));
    assert!(grid.validate(&Ve).is_ok());
    // Non-finite noise and mismatched dimensions.
    let nan = faer::mat![[f64::NAN], [0.0]];
    let solvers: [&dyn Solver; 5] = [&Euler, &Heun, &Rk4, &Ddim, &DpmSolverPP2M];
    for s in solvers {
        assert!(matches!(
            s.solve(&flow, &grid, nan.as_ref()),
            Err(Error::NonFinite { .. })
        ));
        assert!(matches!(
            s.solve(&flow, &grid, faer::mat![[1.0]].as_ref()),
            Err(Error::DimensionMismatch { .. })
        ));
    }
    // rtol ≤ 0, negative atol, step limits.
    assert!(matches!(
        DormandPrince::new(0.0, 1e-9),
        Err(Error::InvalidParameter { .. })
    ));
    assert!(matches!(
        DormandPrince::new(-1e-6, 1e-9),
        Err(Error::InvalidParameter { .. })
    ));
    assert!(matches!(
        DormandPrince::new(1e-6, -1.0),
        Err(Error::InvalidParameter { .. })
    ));
    let tiny = DormandPrince::new(1e-12, 0.0)
        .unwrap()
        .with_max_steps(3)
        .unwrap();
    assert!(matches!(
        tiny.solve(&flow, &grid, x.as_ref()),
        Err(Error::StepFailure { .. })
    ));
    // Exact-flow targets.
    assert!(matches!(
        GaussianFlow::between(&g, NoiseLevel::ve(1.0).unwrap(), 0.0, 0.0),
        Err(Error::InvalidParameter { .. })
    ));
}

/// The velocity never divides by α: at α = 0 (rectified flow, t = 1) it equals
/// β'/β·x + α'·μ exactly (D is the prior mean there).
#[test]
fn r10_velocity_at_alpha_zero() {
    let g = Gaussian::new(
        &[0.5, -1.0],
        faer::mat![[1.0, 0.0], [0.0, 1.0]].as_ref(),
        &[2.0, 3.0],
    )
    .unwrap();
    let v = ProbabilityFlow::new(&RectifiedFlow, &g)
        .velocity(1.0, faer::mat![[1.0], [2.0]].as_ref())
        .unwrap();
    // α = 0, β = 1, α' = −1, β' = 1: v = x − μ.
    assert_eq!(v, faer::mat![[0.5], [3.0]]);
    let _ = g.sample_x0(&mut rng::seeded(0), 1);
}

/// `Sampler::noise_scale` is $\beta_{t_0}$ at the grid's start: 80 for VE on the EDM grid
/// ($\beta = \sigma = t$), and $\sqrt{1 - e^{-(\beta_{\min} + (\beta_{\max}-\beta_{\min})/2)}}$ at
/// $t = 1$ for the score_sde VP-linear schedule (written here from its closed form).
#[test]
fn r10_sampler_noise_scale_is_beta_at_the_start() {
    use diffusion_lowdim::flow::Sampler;
    let model = random_gaussian(&mut rng::seeded(3), 3, 2).unwrap();
    let edm = TimeGrid::edm(&Ve, 8).unwrap();
    let s = Sampler::new(&Ve, &model, &Heun, edm);
    assert_eq!(s.noise_scale().unwrap(), 80.0);
    let vp = VpLinear::score_sde();
    let s = Sampler::new(
        &vp,
        &model,
        &Euler,
        TimeGrid::uniform(10, 1.0, 1e-3).unwrap(),
    );
    let expected = (-(-(0.1f64 + 0.5 * (20.0 - 0.1))).exp_m1()).sqrt();
    let got = s.noise_scale().unwrap();
    assert!(
        (got - expected).abs() <= 4.0 * f64::EPSILON,
        "{got} vs {expected}"
    );
}

/// Each solver reports its documented order of accuracy (`None` for the adaptive
/// Dormand–Prince pair, whose error is set by its tolerance, not by a step count) and name.
#[test]
fn r10_solver_orders_and_names_are_the_documented_ones() {
    let dopri = DormandPrince::new(1e-8, 1e-10).unwrap();
    let solvers: [(&dyn Solver, Option<u32>, &str); 6] = [
        (&Euler, Some(1), "euler"),
        (&Heun, Some(2), "heun"),
        (&Rk4, Some(4), "rk4"),
        (&Ddim, Some(1), "ddim"),
        (&DpmSolverPP2M, Some(2), "dpm-solver++2m"),
        (&dopri, None, "dopri5"),
    ];
    for (s, order, name) in solvers {
        assert_eq!(s.order(), order, "{}", s.name());
        assert_eq!(s.name(), name);
    }
}

/// Dormand–Prince's step control is the standard one (grow by $0.9\,\mathrm{err}^{-1/5}$ within
/// $[0.2, 5]$ after an accepted step, by 5 only after an exactly zero error estimate): on a
/// Gaussian flow over the EDM range ($T = 80 \to 0.002$, rtol $10^{-8}$) it takes 41 steps with 22
/// rejections (measured; the range's velocity scale changes by $10^4$). A controller that grows
/// by 5 after every accepted step takes 41 steps with 34 rejections (measured by planting). The
/// assertion, rejections $\le \frac23$ steps, separates the two; it is a regression bound on
/// the step controller, not a theorem.
#[test]
fn r10_dopri_step_control_grows_by_the_error_estimate() {
    let model = random_gaussian(&mut rng::seeded(5), 4, 2).unwrap();
    let flow = ProbabilityFlow::new(&Ve, &model);
    let grid = TimeGrid::edm(&Ve, 2).unwrap();
    let x = rng::standard_normal(&mut rng::seeded(6), 4, 3);
    let x = Mat::from_fn(4, 3, |i, j| 80.0 * x[(i, j)]);
    let dp = DormandPrince::new(1e-8, 1e-10).unwrap();
    let sol = dp.solve(&flow, &grid, x.as_ref()).unwrap();
    assert!(
        sol.info.rejections * 3 <= sol.info.steps * 2,
        "steps {} rejections {}",
        sol.info.steps,
        sol.info.rejections
    );
}

/// A grid's step count: $n$ for $n + 1$ times ending at the last level, one more for a clean
/// end (EDM's final step to $\sigma = 0$).
#[test]
fn r10_grid_step_counts() {
    let last = TimeGrid::new(vec![3.0, 2.0, 1.0, 0.5], GridEnd::Last).unwrap();
    assert_eq!(last.steps(), 3);
    let clean = TimeGrid::new(vec![3.0, 2.0, 1.0, 0.5], GridEnd::Clean).unwrap();
    assert_eq!(clean.steps(), 4);
    assert_eq!(TimeGrid::edm(&Ve, 18).unwrap().steps(), 18);
}

/// Each fixed-step solver reports its denoiser evaluations: 1 (Euler, DDIM), 2 (Heun), 4 (RK4)
/// per step on a grid ending at its last level.
#[test]
fn r10_solvers_count_their_evaluations() {
    let model = random_gaussian(&mut rng::seeded(8), 3, 2).unwrap();
    let flow = ProbabilityFlow::new(&Ve, &model);
    let grid = TimeGrid::new(vec![10.0, 5.0, 2.0, 1.0, 0.5], GridEnd::Last).unwrap();
    let x = rng::standard_normal(&mut rng::seeded(9), 3, 2);
    let cases: [(&dyn Solver, usize); 4] = [(&Euler, 1), (&Heun, 2), (&Rk4, 4), (&Ddim, 1)];
    for (s, per_step) in cases {
        let sol = s.solve(&flow, &grid, x.as_ref()).unwrap();
        assert_eq!(sol.info.steps, 4, "{}", s.name());
        assert_eq!(sol.info.evaluations, 4 * per_step, "{}", s.name());
    }
}

/// `FlowMap::columnwise` defaults to `false`: a user's map is treated as coupling its batch
/// (the safe choice) unless it says otherwise.
#[test]
fn r10_flow_maps_are_coupled_by_default() {
    struct Scale;
    impl FlowMap for Scale {
        fn dim(&self) -> usize {
            2
        }
        fn map(&self, x: faer::MatRef<'_, f64>) -> diffusion_lowdim::Result<Mat<f64>> {
            Ok(x.to_owned())
        }
    }
    assert!(!Scale.columnwise());
}

/// A denoiser that records its calls: the noise level and a digest of the input's bits.
struct Recording<'a> {
    inner: &'a Gaussian,
    calls: std::sync::Mutex<Vec<[u64; 3]>>,
}

impl<'a> Recording<'a> {
    fn new(inner: &'a Gaussian) -> Self {
        Self {
            inner,
            calls: std::sync::Mutex::new(Vec::new()),
        }
    }
}

impl diffusion_lowdim::Denoiser for Recording<'_> {
    fn dim(&self) -> usize {
        self.inner.dim()
    }
    fn posterior_mean_into(
        &self,
        x_t: faer::MatRef<'_, f64>,
        level: NoiseLevel,
        out: faer::MatMut<'_, f64>,
    ) -> diffusion_lowdim::Result<()> {
        let mut h = 0u64;
        for j in 0..x_t.ncols() {
            for i in 0..x_t.nrows() {
                h = h.rotate_left(7) ^ x_t[(i, j)].to_bits();
            }
        }
        let key = [level.alpha().to_bits(), level.beta().to_bits(), h];
        self.calls.lock().unwrap().push(key);
        self.inner.posterior_mean_into(x_t, level, out)
    }
}

/// Dormand–Prince's first step is Hairer's starting step size (Hairer, Nørsett & Wanner,
/// *Solving ODEs I*, §II.4, and `HINIT` of `dopri5.f` with order 5), recomputed here from the
/// flow's velocity alone: with $sc = atol + rtol\,|x_0|$, $d_0 = \|x_0/sc\|$,
/// $d_1 = \|f_0/sc\|$ (RMS norms), $h_0 = 0.01\,d_0/d_1$, $x_1 = x_0 - h_0 f_0$,
/// $d_2 = \|(f(t_0 - h_0, x_1) - f_0)/sc\|/h_0$ and
/// $h = \min(100 h_0, (0.01/\max(d_1, d_2))^{1/5}, t_0 - t_{end})$. Observed through a
/// recording denoiser: the first attempt's second stage is evaluated at $t_0 - h/5$ (VE:
/// $\beta = t$).
#[test]
fn r10_dopri_first_step_is_hairers_starting_step() {
    let model = random_gaussian(&mut rng::seeded(31), 3, 2).unwrap();
    let (t0, t_end) = (20.0, 0.5);
    let grid = TimeGrid::new(vec![t0, t_end], GridEnd::Last).unwrap();
    let x0 = rng::standard_normal(&mut rng::seeded(32), 3, 1) * faer::Scale(20.0);
    let (rtol, atol) = (1e-5, 1e-7);
    let rms = |v: &Mat<f64>| -> f64 {
        let s: f64 = (0..3)
            .map(|i| (v[(i, 0)] / (atol + rtol * x0[(i, 0)].abs())).powi(2))
            .sum();
        (s / 3.0).sqrt()
    };
    let flow = ProbabilityFlow::new(&Ve, &model);
    let f0 = flow.velocity(t0, x0.as_ref()).unwrap();
    let (d0, d1) = (rms(&x0), rms(&f0));
    let h0 = 0.01 * d0 / d1;
    let x1 = Mat::from_fn(3, 1, |i, j| x0[(i, j)] - h0 * f0[(i, j)]);
    let f1 = flow.velocity(t0 - h0, x1.as_ref()).unwrap();
    let d2 = rms(&Mat::from_fn(3, 1, |i, j| f1[(i, j)] - f0[(i, j)])) / h0;
    let h = (100.0 * h0)
        .min((0.01 / d1.max(d2)).powf(0.2))
        .min(t0 - t_end);
    assert!(
        h < 0.5 * (t0 - t_end),
        "the first step must not be the whole span: {h}"
    );
    let rec = Recording::new(&model);
    let flow = ProbabilityFlow::new(&Ve, &rec);
    DormandPrince::new(rtol, atol)
        .unwrap()
        .solve(&flow, &grid, x0.as_ref())
        .unwrap();
    let calls = rec.calls.into_inner().unwrap();
    // calls[0]: f0 at t0; calls[1]: the probe at t0 − h0; calls[2]: the first stage at t0 − h/5.
    let stage = f64::from_bits(calls[2][1]);
    let first = 5.0 * (t0 - stage);
    assert!(
        (first - h).abs() <= 1e-12 * h,
        "first step {first:e}, Hairer's starting step {h:e}"
    );
}

/// A rejected Dormand–Prince step is retried with a step at most 0.9 times as long (the
/// controller's shrink factor is $\min(1, 0.9\,\mathrm{err}^{-1/5}) < 0.9$ for err > 1), also
/// when the rejected step was the one clamped to the end of the grid: there the retry must
/// shrink the *clamped* step, not the larger step size the controller had proposed. Observed
/// through a recording denoiser: each attempt evaluates six stages, the first at
/// $t + h/5$ and the last at $t + h$ (VE: $\beta = t$), which give each attempt's start
/// and length; an attempt that starts where the previous one started is a retry. The
/// instances (a rank-one Gaussian of variance λ ∈ [1e-6, 1e-4], so that the flow bends only
/// near t ≈ √λ, integrated from T = 80 to 0.3√λ) reject their final, clamped step (asserted).
#[test]
fn r10_dopri_retries_a_rejected_step_shorter() {
    let mut last_step_rejections = 0;
    for seed in 0..12u64 {
        let mut g = rng::seeded(40 + seed);
        let basis = diffusion_lowdim::linalg::random_orthonormal(&mut g, 3, 1).unwrap();
        let lambda = 10f64.powf(-6.0 + 2.0 * seed as f64 / 11.0);
        let model = Gaussian::new(&[0.0; 3], basis.as_ref(), &[lambda]).unwrap();
        let rec = Recording::new(&model);
        let flow = ProbabilityFlow::new(&Ve, &rec);
        let t_end = 0.3 * lambda.sqrt();
        let grid = TimeGrid::new(vec![80.0, t_end], GridEnd::Last).unwrap();
        let x = rng::standard_normal(&mut g, 3, 2) * faer::Scale(80.0);
        let sol = DormandPrince::new(1e-8, 1e-10)
            .unwrap()
            .solve(&flow, &grid, x.as_ref())
            .unwrap();
        let calls = rec.calls.into_inner().unwrap();
        // f0 at t0 and the starting-step probe, then six stages per attempt.
        let attempts: Vec<(f64, f64)> = calls[2..]
            .chunks(6)
            .map(|a| {
                let (first, last) = (f64::from_bits(a[0][1]), f64::from_bits(a[5][1]));
                let h = 1.25 * (first - last);
                (last + h, h)
            })
            .collect();
        assert_eq!(attempts.len(), sol.info.steps + sol.info.rejections);
        let mut retries = 0;
        for w in attempts.windows(2) {
            let ((t_a, h_a), (t_b, h_b)) = (w[0], w[1]);
            if (t_b - t_a).abs() <= 1e-9 * t_a {
                retries += 1;
                assert!(
                    h_b <= 0.9 * h_a * (1.0 + 1e-9),
                    "seed {seed}: at t = {t_a:e} a rejected step {h_a:e} was retried with {h_b:e}"
                );
                if (t_a - h_a - t_end).abs() <= 1e-9 * t_a {
                    last_step_rejections += 1;
                }
            }
        }
        assert_eq!(retries, sol.info.rejections, "seed {seed}");
    }
    assert!(
        last_step_rejections > 0,
        "no instance rejected its final step"
    );
}
