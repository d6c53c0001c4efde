//! Library fuzz suite (issue 12): proptest properties over the public constructors and
//! methods of the library core, fed hostile values — NaN, ±inf, ±0, subnormals,
//! 1e±155, 1e±300, `f64::MAX`, `usize::MAX`, empty and mismatched shapes — with every
//! call under `std::panic::catch_unwind`. Each property asserts that
//!
//! 1. no call panics (a hang shows as the test timing out: every size is bounded), and
//! 2. a call that returns `Ok` returns only finite numbers (whatever the input: a
//!    non-finite input must be refused, and a finite one must give a finite answer or a
//!    typed error such as [`Error::Overflow`]).
//!
//! The default run makes ≥ 100 000 calls (counted, and checked by `zz_call_count`
//! when the whole binary runs); `FUZZ_CALLS=<n>` scales the case counts to about `n` calls.
//! The generator seed is fixed (`tests/common`); `PROPTEST_RNG_SEED=<u64>` explores others.
//! See `docs/hardening.md`, "library fuzz suite".

use super::common;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};

use diffusion_lowdim::error::MAX_ELEMENTS;
use diffusion_lowdim::flow::{
    Ddim, DormandPrince, DpmSolverPP2M, Euler, GaussianFlow, GridEnd, Heun, Rk4, Sampler, Solver,
    SubspaceSampler, TimeGrid,
};
use diffusion_lowdim::linalg::{
    check_orthonormal, numerical_rank_energy, numerical_rank_tol, orthonormality_deviation,
    orthonormalize, random_orthonormal, singular_values, symmetric_eigenvalues, truncated_svd,
};
use diffusion_lowdim::metric::{
    FeatureMap, LinearFeatures, Pfd, Proportion, binomial_lower_tail, binomial_two_sided_p,
    binomial_upper_tail, clopper_pearson, cosine_similarity, empirical_gaussian, fit_affine,
    optimal_affine, pfd_gaussians, pfd_subspaces, shallow_diffuse_h, sphere_projection_tail,
};
use diffusion_lowdim::model::ExactModel;
use diffusion_lowdim::reduction::{
    KSubspaces, assign, clustering_objective, match_subspaces, min_cost_assignment,
    min_cost_assignment_exhaustive, residual_energy,
};
use diffusion_lowdim::reduction::{
    Pca, pca_objective, principal_angles, sin_theta_norm, subspace_distance,
};
use diffusion_lowdim::reduction::{loss_at_level, projection_energies};
use diffusion_lowdim::rng::seeded;
use diffusion_lowdim::schedule::{
    DiscreteTable, RectifiedFlow, Schedule, SubVp, Ve, VpCosine, VpLinear, cosine_betas,
    karras_sigmas, linear_betas, log_uniform_grid, scaled_linear_betas, uniform_grid,
};
use diffusion_lowdim::tweedie::{Prediction, convert};
use diffusion_lowdim::{Denoiser, Empirical, Error, Gaussian, Molrg, NoiseLevel};
use faer::{Mat, MatRef};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

/// Calls made so far (all properties of this binary).
static CALLS: AtomicUsize = AtomicUsize::new(0);

/// Cases for a property whose share of the default run is `base` cases, scaled by
/// `FUZZ_CALLS / 100 000`.
fn cases(base: u32) -> u32 {
    let scale = std::env::var("FUZZ_CALLS")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .map_or(1.0, |n| n / 100_000.0);
    ((base as f64 * scale).ceil() as u32).max(1)
}

fn cfg(base: u32) -> ProptestConfig {
    common::config(cases(base))
}

/// Values whose every number must be finite when returned as `Ok`.
trait Finite {
    fn finite(&self) -> bool;
}

impl Finite for f64 {
    fn finite(&self) -> bool {
        self.is_finite()
    }
}
impl Finite for usize {
    fn finite(&self) -> bool {
        true
    }
}
impl Finite for () {
    fn finite(&self) -> bool {
        true
    }
}
impl<T: Finite> Finite for Vec<T> {
    fn finite(&self) -> bool {
        self.iter().all(Finite::finite)
    }
}
impl<A: Finite, B: Finite> Finite for (A, B) {
    fn finite(&self) -> bool {
        self.0.finite() && self.1.finite()
    }
}
impl Finite for Mat<f64> {
    fn finite(&self) -> bool {
        self.col_iter().all(|c| c.iter().all(|v| v.is_finite()))
    }
}
impl Finite for NoiseLevel {
    fn finite(&self) -> bool {
        self.alpha().is_finite() && self.beta().is_finite()
    }
}
impl Finite for Gaussian {
    fn finite(&self) -> bool {
        self.mean().to_vec().finite()
            && self.variances().to_vec().finite()
            && self.basis().to_owned().finite()
    }
}
impl Finite for Molrg {
    fn finite(&self) -> bool {
        self.weights().to_vec().finite()
    }
}
impl Finite for Empirical {
    fn finite(&self) -> bool {
        true
    }
}
impl Finite for TimeGrid {
    fn finite(&self) -> bool {
        self.times().to_vec().finite()
    }
}
impl Finite for diffusion_lowdim::schedule::Coefficients {
    fn finite(&self) -> bool {
        [self.alpha, self.beta, self.dalpha, self.dbeta]
            .to_vec()
            .finite()
    }
}
impl Finite for Pca {
    fn finite(&self) -> bool {
        self.basis().to_owned().finite() && self.singular_values().to_vec().finite()
    }
}
impl Finite for Proportion {
    fn finite(&self) -> bool {
        self.estimate.is_finite() && self.interval.finite()
    }
}
impl Finite for diffusion_lowdim::flow::Solution {
    fn finite(&self) -> bool {
        self.x.finite()
    }
}
impl Finite for diffusion_lowdim::reduction::KSubspacesSolution {
    fn finite(&self) -> bool {
        self.bases.iter().all(Finite::finite) && self.objective.is_finite()
    }
}
impl Finite for diffusion_lowdim::reduction::Matching {
    fn finite(&self) -> bool {
        self.distances.finite() && self.max_distance.is_finite() && self.total_squared.is_finite()
    }
}
impl Finite for diffusion_lowdim::linalg::TruncatedSvd {
    fn finite(&self) -> bool {
        self.u.finite() && self.singular_values.finite()
    }
}
impl Finite for diffusion_lowdim::metric::PfdEstimate {
    fn finite(&self) -> bool {
        self.estimate.is_finite() && self.std_error.is_finite() && self.interval.finite()
    }
}
impl Finite for diffusion_lowdim::reduction::ProjectionEnergies {
    fn finite(&self) -> bool {
        self.in_span.is_finite() && self.residual.is_finite()
    }
}
impl Finite for GaussianFlow {
    fn finite(&self) -> bool {
        self.factors().to_vec().finite() && self.complement_factor().is_finite()
    }
}
impl Finite for diffusion_lowdim::metric::Affine {
    fn finite(&self) -> bool {
        true
    }
}
impl Finite for diffusion_lowdim::metric::AffineFit {
    fn finite(&self) -> bool {
        true
    }
}
impl Finite for LinearFeatures {
    fn finite(&self) -> bool {
        self.matrix().to_owned().finite()
    }
}
impl Finite for DormandPrince {
    fn finite(&self) -> bool {
        self.rtol().is_finite() && self.atol().is_finite()
    }
}
impl Finite for VpLinear {
    fn finite(&self) -> bool {
        true
    }
}
impl Finite for SubVp {
    fn finite(&self) -> bool {
        true
    }
}
impl Finite for VpCosine {
    fn finite(&self) -> bool {
        true
    }
}
impl<T: Finite> Finite for Box<T> {
    fn finite(&self) -> bool {
        (**self).finite()
    }
}
impl<T> Finite for SubspaceSamplerOk<T> {
    fn finite(&self) -> bool {
        true
    }
}
/// Marker for results checked by a later call instead.
struct SubspaceSamplerOk<T>(#[allow(dead_code)] T);

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "(non-string panic)".into())
}

/// With `FUZZ_TRACE` set, prints each call's name before making it (to find a hang).
fn trace(name: &str) {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if *ON.get_or_init(|| std::env::var_os("FUZZ_TRACE").is_some()) {
        eprintln!("call {name}");
    }
}

/// Runs `f` under `catch_unwind`: fails the case on a panic, or on an `Ok` holding a
/// non-finite number; returns the value of an `Ok` otherwise.
fn call<T: Finite>(
    name: &str,
    f: impl FnOnce() -> Result<T, Error>,
) -> Result<Option<T>, TestCaseError> {
    CALLS.fetch_add(1, Ordering::Relaxed);
    trace(name);
    match catch_unwind(AssertUnwindSafe(f)) {
        Err(p) => Err(TestCaseError::fail(format!(
            "{name} panicked: {}",
            panic_message(p)
        ))),
        Ok(Ok(v)) if !v.finite() => Err(TestCaseError::fail(format!(
            "{name} returned Ok with a non-finite value"
        ))),
        Ok(r) => Ok(r.ok()),
    }
}

/// [`call`] for a function without a `Result` (only "never panics" is checked, and
/// finiteness when `check` is set).
fn call_plain<T: Finite>(
    name: &str,
    check: bool,
    f: impl FnOnce() -> T,
) -> Result<T, TestCaseError> {
    CALLS.fetch_add(1, Ordering::Relaxed);
    trace(name);
    match catch_unwind(AssertUnwindSafe(f)) {
        Err(p) => Err(TestCaseError::fail(format!(
            "{name} panicked: {}",
            panic_message(p)
        ))),
        Ok(v) if check && !v.finite() => Err(TestCaseError::fail(format!(
            "{name} returned a non-finite value"
        ))),
        Ok(v) => Ok(v),
    }
}

// ------------------------------------------------------------------ strategies

const SPECIAL: [f64; 26] = [
    f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    0.0,
    -0.0,
    5e-324,
    -5e-324,
    1e-310,
    f64::MIN_POSITIVE,
    1e-300,
    1e-155,
    1e-100,
    1e-20,
    1.0,
    -1.0,
    0.5,
    2.0,
    1e20,
    1e100,
    1.3e154,
    1e155,
    -1e155,
    1e300,
    -1e300,
    f64::MAX,
    f64::MIN,
];

/// A hostile float: special values, ordinary values, and random magnitudes.
fn hf() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => proptest::sample::select(SPECIAL.to_vec()),
        3 => -3.0..3.0f64,
        2 => (-320i32..309, any::<bool>())
            .prop_map(|(e, neg)| if neg { -(10f64.powi(e)) } else { 10f64.powi(e) }),
        1 => any::<f64>(),
    ]
}

/// A hostile non-negative float (variances, scales).
fn hpos() -> impl Strategy<Value = f64> {
    hf().prop_map(|v| if v.is_nan() { v } else { v.abs() })
}

/// A hostile count: tiny, huge, or at the size limit.
fn hu() -> impl Strategy<Value = usize> {
    prop_oneof![
        4 => 0usize..6,
        1 => proptest::sample::select(vec![
            usize::MAX,
            usize::MAX / 2,
            1usize << 40,
            MAX_ELEMENTS + 1,
            1_000_000_000_000,
        ]),
    ]
}

/// A hostile `rows × cols` matrix with `rows, cols ≤ max`.
fn hmat(max: usize) -> impl Strategy<Value = Mat<f64>> {
    (0..=max, 0..=max).prop_flat_map(|(r, c)| {
        proptest::collection::vec(hf(), r * c)
            .prop_map(move |v| Mat::from_fn(r, c, |i, j| v[i + r * j]))
    })
}

/// A `d × r` basis: mostly orthonormal (random), sometimes scaled by a hostile
/// factor or poisoned in one entry.
fn hbasis(d: usize, r: usize) -> impl Strategy<Value = Mat<f64>> {
    (any::<u64>(), 0u8..6, hf()).prop_map(move |(seed, kind, v)| {
        let mut u = if r >= 1 && r <= d {
            random_orthonormal(&mut seeded(seed), d, r).unwrap()
        } else {
            Mat::zeros(d, r)
        };
        if d > 0 && r > 0 {
            match kind {
                0 => u[(0, 0)] = v,
                1 => u = Mat::from_fn(d, r, |i, j| u[(i, j)] * v),
                _ => {}
            }
        }
        u
    })
}

/// A noise level drawn from hostile scales (may be invalid: then evaluations are skipped).
fn hlevel() -> impl Strategy<Value = (f64, f64)> {
    prop_oneof![
        3 => (0.0..2.0f64, 1e-3..3.0f64),
        2 => (hpos(), hpos()),
    ]
}

// ------------------------------------------------------------------ models

/// Posterior mean, score, Jacobian, log-density (and posterior weights) of a model.
fn evaluate<M: ExactModel>(
    name: &str,
    m: &M,
    x: MatRef<'_, f64>,
    l: NoiseLevel,
) -> Result<(), TestCaseError> {
    call(&format!("{name}::posterior_mean"), || {
        m.posterior_mean(x, l)
    })?;
    call(&format!("{name}::score"), || m.score(x, l))?;
    call(&format!("{name}::log_density"), || m.log_density(x, l))?;
    if x.ncols() > 0 {
        call(&format!("{name}::jacobian"), || m.jacobian(x.col(0), l))?;
    }
    let mut out = Mat::<f64>::zeros(m.dim() + 1, x.ncols());
    call(
        &format!("{name}::posterior_mean_into (wrong shape)"),
        || m.posterior_mean_into(x, l, out.as_mut()),
    )?;
    Ok(())
}

/// A data matrix: hostile, or a valid one scaled by a hostile factor.
fn hdata(d: usize, n: usize) -> impl Strategy<Value = Mat<f64>> {
    (proptest::collection::vec(-2.0..2.0f64, d * n), hf(), 0u8..4).prop_map(move |(v, s, kind)| {
        Mat::from_fn(d, n, |i, j| {
            let x = v[i + d * j];
            match kind {
                0 => x * s,
                1 if i == 0 && j == 0 => s,
                _ => x,
            }
        })
    })
}

proptest! {
    #![proptest_config(cfg(1500))]

    fn fuzz_gaussian(
        (d, r) in (1usize..5).prop_flat_map(|d| (Just(d), 1..=d)),
        seed in any::<u64>(),
        mean_scale in hf(),
        var in proptest::collection::vec(hpos(), 1..5),
        kind in 0u8..4,
        xs in hdata(4, 3),
        lv in hlevel(),
    ) {
        let mut u = random_orthonormal(&mut seeded(seed), d, r).unwrap();
        match kind {
            0 => u[(0, 0)] = mean_scale,
            1 => u = Mat::from_fn(d, r, |i, j| u[(i, j)] * var[0]),
            _ => {}
        }
        let mean: Vec<f64> = (0..d).map(|i| if i == 0 { mean_scale } else { 0.1 * i as f64 }).collect();
        let var: Vec<f64> = (0..r).map(|j| var[j % var.len()]).collect();
        let g = match kind {
            0 => call("Gaussian::new", || Gaussian::new(&mean, u.as_ref(), &var))?,
            1 => call("Gaussian::subspace", || Gaussian::subspace(u.as_ref()))?,
            _ => {
                let c = Mat::from_fn(d, d, |i, j| if i == j { var[i % r] } else { mean_scale * 1e-3 });
                call("Gaussian::from_covariance", || Gaussian::from_covariance(&mean, c.as_ref()))?
            }
        };
        let x = xs.as_ref().subrows(0, d);
        let l = call("NoiseLevel::new", || NoiseLevel::new(lv.0, lv.1))?;
        if let (Some(g), Some(l)) = (g, l) {
            evaluate("Gaussian", &g, x, l)?;
            call_plain("Gaussian::sample_x0", true, || g.sample_x0(&mut seeded(1), 2))?;
            call("Gaussian::try_sample_x0", || g.try_sample_x0(&mut seeded(1), usize::MAX))?;
            let to = (lv.0 * 0.5, lv.1 * 0.5);
            call("GaussianFlow::between", || GaussianFlow::between(&g, l, to.0, to.1))?;
            call_plain("GaussianFlow::to_clean", true, || GaussianFlow::to_clean(&g, l))?;
        }
    }

    fn fuzz_molrg(
        d in 1usize..5,
        k in 0usize..4,
        seed in any::<u64>(),
        w in proptest::collection::vec(hpos(), 0..5),
        var in hpos(),
        poison in hf(),
        kind in 0u8..5,
        xs in hdata(4, 3),
        lv in hlevel(),
    ) {
        let bases: Vec<Mat<f64>> = (0..k)
            .map(|i| {
                let r = 1 + (i % d);
                let mut u = random_orthonormal(&mut seeded(seed ^ i as u64), d, r).unwrap();
                if kind == 0 && i == 0 {
                    u[(0, 0)] = poison;
                }
                u
            })
            .collect();
        let refs: Vec<MatRef<'_, f64>> = bases.iter().map(|b| b.as_ref()).collect();
        let m = match kind {
            1 => call("Molrg::new", || Molrg::new(&w, &refs))?,
            2 => {
                let vars: Vec<Vec<f64>> = bases.iter().map(|b| vec![var; b.ncols()]).collect();
                let pi = vec![1.0 / k.max(1) as f64; k];
                call("Molrg::with_variances", || Molrg::with_variances(&pi, &refs, &vars))?
            }
            _ => call("Molrg::uniform", || Molrg::uniform(&refs))?,
        };
        let x = xs.as_ref().subrows(0, d);
        let l = call("NoiseLevel::new", || NoiseLevel::new(lv.0, lv.1))?;
        if let (Some(m), Some(l)) = (m, l) {
            evaluate("Molrg", &m, x, l)?;
            call("Molrg::posterior_weights", || m.posterior_weights(x, l))?;
            call_plain("Molrg::sample_x0", true, || m.sample_x0(&mut seeded(2), 2))?;
        }
    }

    fn fuzz_empirical(
        pts in hmat(4),
        good in hdata(3, 4),
        kind in 0u8..2,
        xs in hdata(4, 3),
        lv in hlevel(),
    ) {
        let p = if kind == 0 { pts } else { good };
        let e = call("Empirical::new", || Empirical::new(p.as_ref()))?;
        let l = call("NoiseLevel::new", || NoiseLevel::new(lv.0, lv.1))?;
        if let (Some(e), Some(l)) = (e, l) {
            let d = e.dim().min(4);
            let x = if e.dim() <= 4 { xs.as_ref().subrows(0, d) } else { xs.as_ref() };
            evaluate("Empirical", &e, x, l)?;
            call("Empirical::posterior_mean_with_bounds", || e.posterior_mean_with_bounds(x, l))?;
            if x.ncols() > 0 {
                call("Empirical::posterior_weights", || {
                    e.posterior_weights(x.col(0), l).map(|w| w.into_iter().map(|p| p.1).collect::<Vec<f64>>())
                })?;
            }
        }
    }

    fn fuzz_levels_and_tweedie(
        a in hf(), b in hf(), lam in hpos(),
        v in hmat(3), x in hmat(3),
        from in 0usize..4, to in 0usize..4,
    ) {
        let l = call("NoiseLevel::new", || NoiseLevel::new(a, b))?;
        call("NoiseLevel::ve", || NoiseLevel::ve(b))?;
        if let Some(l) = l {
            if lam.is_finite() {
                for (name, f) in [
                    ("gain", NoiseLevel::gain as fn(&NoiseLevel, f64) -> f64),
                    ("half_log1p_snr", NoiseLevel::half_log1p_snr),
                    ("logit_coefficient", NoiseLevel::logit_coefficient),
                    ("inv_marginal_variance", NoiseLevel::inv_marginal_variance),
                    ("log_marginal_variance", NoiseLevel::log_marginal_variance),
                ] {
                    call_plain(name, true, || f(&l, lam))?;
                }
                call_plain("fractions", true, || l.fractions())?;
            }
            let preds = [Prediction::Eps, Prediction::Score, Prediction::X0, Prediction::V];
            call("tweedie::convert", || convert(preds[from], v.as_ref(), x.as_ref(), l, preds[to]))?;
        }
    }
}

// ------------------------------------------------------------------ schedules, grids

fn schedules(p: f64, q: f64) -> Vec<Result<Box<dyn Schedule>, Error>> {
    vec![
        Ok(Box::new(Ve) as Box<dyn Schedule>),
        Ok(Box::new(RectifiedFlow)),
        Ok(Box::new(VpLinear::score_sde())),
        Ok(Box::new(SubVp::score_sde())),
        Ok(Box::new(VpCosine::nichol_dhariwal())),
        Ok(Box::new(DiscreteTable::ddpm_linear())),
        VpLinear::new(p, q).map(|s| Box::new(s) as Box<dyn Schedule>),
        SubVp::new(p, q).map(|s| Box::new(s) as Box<dyn Schedule>),
        VpCosine::new(p).map(|s| Box::new(s) as Box<dyn Schedule>),
        DiscreteTable::from_betas("fuzz", &[p.abs().min(0.5), q.abs().min(0.9), 0.5])
            .map(|s| Box::new(s) as Box<dyn Schedule>),
        DiscreteTable::from_alphas_cumprod("fuzz", &[p, q])
            .map(|s| Box::new(s) as Box<dyn Schedule>),
    ]
}

impl Finite for Box<dyn Schedule> {
    fn finite(&self) -> bool {
        true
    }
}

proptest! {
    #![proptest_config(cfg(1500))]

    fn fuzz_schedules(p in hf(), q in hf(), t in hf(), sigma in hf(), unit in 0.0..=1.0f64) {
        call("VpLinear::new", || VpLinear::new(p, q))?;
        call("SubVp::new", || SubVp::new(p, q))?;
        call("VpCosine::new", || VpCosine::new(p))?;
        for s in schedules(p, q) {
            let Ok(s) = s else { continue };
            let dom = s.domain();
            let inside = if dom.hi.is_finite() { dom.lo + unit * (dom.hi - dom.lo) } else { dom.lo + unit * 100.0 };
            for tt in [t, inside, dom.lo, dom.hi] {
                call("Schedule::coefficients", || s.coefficients(tt))?;
                call("Schedule::level", || s.level(tt))?;
            }
            call("Schedule::time_at_sigma", || s.time_at_sigma(sigma))?;
            call("Schedule::time_at_sigma", || s.time_at_sigma(sigma.abs()))?;
        }
    }

    fn fuzz_grids(n in hu(), a in hf(), b in hf(), rho in hf(), steps in hu()) {
        call("karras_sigmas", || karras_sigmas(n, a, b, rho))?;
        call("karras_sigmas (EDM ends)", || karras_sigmas(n.min(50), 0.002, b, rho))?;
        call("uniform_grid", || uniform_grid(n, a, b))?;
        call("log_uniform_grid", || log_uniform_grid(n, a, b))?;
        call("linear_betas", || linear_betas(n, a, b))?;
        call("scaled_linear_betas", || scaled_linear_betas(n, a, b))?;
        call("cosine_betas", || cosine_betas(n.min(1 << 12).max(if n > 1 << 12 { n } else { 0 })))?;
        call("TimeGrid::uniform", || TimeGrid::uniform(steps, a, b))?;
        call("TimeGrid::log_uniform", || TimeGrid::log_uniform(steps, a, b))?;
        call("TimeGrid::new", || TimeGrid::new(vec![a, b], GridEnd::Last))?;
        for s in schedules(a, b).into_iter().flatten() {
            call("TimeGrid::karras", || TimeGrid::karras(s.as_ref(), steps, 0.002, b, rho))?;
            call("TimeGrid::edm", || TimeGrid::edm(s.as_ref(), steps))?;
        }
    }
}

// ------------------------------------------------------------------ flows

proptest! {
    #![proptest_config(cfg(400))]

    fn fuzz_flows(
        seed in any::<u64>(),
        var in hpos(),
        steps in 0usize..5,
        x in hdata(2, 2),
        rtol in hf(), atol in hf(),
        which in 0usize..6,
        sched in 0usize..5,
    ) {
        let u = random_orthonormal(&mut seeded(seed), 2, 1).unwrap();
        let Some(g) = call("Gaussian::new", || Gaussian::new(&[0.0, 0.0], u.as_ref(), &[var]))? else {
            return Ok(());
        };
        let m = Molrg::uniform(&[u.as_ref()]).unwrap();
        let s = schedules(0.1, 20.0).into_iter().nth(sched).unwrap().unwrap();
        let dp = call("DormandPrince::new", || DormandPrince::new(rtol, atol))?;
        let solvers: Vec<Box<dyn Solver>> = vec![
            Box::new(Euler), Box::new(Heun), Box::new(Rk4), Box::new(Ddim), Box::new(DpmSolverPP2M),
            Box::new(dp.unwrap_or_else(|| DormandPrince::new(1e-6, 1e-9).unwrap())),
        ];
        let solver = solvers[which].as_ref();
        let Some(grid) = call("TimeGrid::edm", || TimeGrid::edm(s.as_ref(), steps))? else {
            return Ok(());
        };
        let sampler = Sampler::new(s.as_ref(), &g, solver, grid.clone());
        call("Sampler::run", || sampler.run(x.as_ref()))?;
        call("Sampler::noise_scale", || sampler.noise_scale())?;
        if let Some(sub) = call("SubspaceSampler::molrg", || {
            SubspaceSampler::molrg(s.as_ref(), &m, solver, grid.clone()).map(SubspaceSamplerOk)
        })? {
            call("SubspaceSampler::run", || sub.0.run(x.as_ref()))?;
        }
        call("GaussianFlow::on_grid", || GaussianFlow::on_grid(&g, s.as_ref(), &grid))?;
    }
}

// ------------------------------------------------------------------ reduction, linalg

proptest! {
    #![proptest_config(cfg(700))]

    fn fuzz_reduction(
        x in hdata(3, 5),
        raw in hmat(4),
        r in hu(),
        k in hu(),
        seed in any::<u64>(),
        lv in hlevel(),
        costs in proptest::collection::vec(proptest::collection::vec(hf(), 0..4), 0..4),
        v in hbasis(3, 1),
    ) {
        let data = if seed % 3 == 0 { raw.clone() } else { x.clone() };
        let u = random_orthonormal(&mut seeded(seed), 3, 1).unwrap();
        let rr = r.min(6);
        call("Pca::fit", || Pca::fit(data.as_ref(), r))?;
        call("pca_objective", || pca_objective(u.as_ref(), data.as_ref()))?;
        call("pca_objective (hostile basis)", || pca_objective(v.as_ref(), data.as_ref()))?;
        call("truncated_svd", || {
            truncated_svd(data.as_ref(), rr, None, 1e-12, &mut seeded(seed)).map(|t| t.singular_values)
        })?;
        call("singular_values", || singular_values(data.as_ref()))?;
        call("symmetric_eigenvalues", || symmetric_eigenvalues(raw.as_ref()))?;
        call("orthonormalize", || orthonormalize(data.as_ref()))?;
        call("random_orthonormal", || random_orthonormal(&mut seeded(seed), r, k))?;
        call("check_orthonormal", || check_orthonormal("U", 0, v.as_ref()))?;
        call_plain("orthonormality_deviation", false, || orthonormality_deviation(v.as_ref()))?;
        let sv = [1.0, 0.5, 1e-20];
        call_plain("numerical_rank_energy", false, || numerical_rank_energy(&sv, 0.99))?;
        call_plain("numerical_rank_tol", false, || numerical_rank_tol(&sv, 1e-10))?;
        call("subspace_distance", || subspace_distance(u.as_ref(), v.as_ref()))?;
        call("sin_theta_norm", || sin_theta_norm(u.as_ref(), v.as_ref()))?;
        call("principal_angles", || principal_angles(u.as_ref(), v.as_ref()))?;
        call("projection_energies", || projection_energies(u.as_ref(), data.as_ref()))?;
        if let Ok(l) = NoiseLevel::new(lv.0, lv.1) {
            call("loss_at_level", || loss_at_level(u.as_ref(), data.as_ref(), l))?;
        }
        let bases = [u.as_ref(), v.as_ref()];
        call("assign", || assign(&bases, data.as_ref()))?;
        call("clustering_objective", || clustering_objective(&bases, data.as_ref()))?;
        call("residual_energy", || residual_energy(&bases, data.as_ref()))?;
        call("match_subspaces", || match_subspaces(&bases, &bases[..1]))?;
        call_plain("min_cost_assignment", false, || min_cost_assignment(&costs))?;
        call("min_cost_assignment_exhaustive", || min_cost_assignment_exhaustive(&costs).map(|p| p.0))?;
        let mut ks = KSubspaces::new(k, r);
        ks.restarts = 1;
        ks.max_iter = 5;
        call("KSubspaces::solve", || ks.solve(data.as_ref(), &mut seeded(seed)))?;
        let init: Vec<MatRef<'_, f64>> = vec![u.as_ref(); k.min(3)];
        call("KSubspaces::solve_from", || ks.solve_from(data.as_ref(), &init, &mut seeded(seed)))?;
    }
}

// ------------------------------------------------------------------ metrics, stats

proptest! {
    #![proptest_config(cfg(1500))]

    fn fuzz_stats(k in hu(), n in hu(), p in hf(), conf in hf(), kk in 0usize..2000, nn in 1usize..2000) {
        call("clopper_pearson", || clopper_pearson(k, n, conf))?;
        call("clopper_pearson", || clopper_pearson(kk.min(nn), nn, conf))?;
        call("clopper_pearson (large n)", || clopper_pearson(k.min(n), n, 0.95))?;
        call("Proportion::new", || Proportion::new(k, n, conf))?;
        call("binomial_upper_tail", || binomial_upper_tail(k, n, p))?;
        call("binomial_lower_tail", || binomial_lower_tail(k, n, p))?;
        call("binomial_two_sided_p", || binomial_two_sided_p(kk, nn, p))?;
        call("shallow_diffuse_h", || shallow_diffuse_h(k, n))?;
        call("sphere_projection_tail", || sphere_projection_tail(k.min(50), n.min(50), p))?;
    }

    fn fuzz_metrics(
        t in hf(), m in hu(), seed in any::<u64>(),
        var in hpos(),
        x in hdata(2, 4), x0 in hdata(2, 4),
        a in proptest::collection::vec(hf(), 0..4),
        b in proptest::collection::vec(hf(), 0..4),
        w in hmat(3),
        lv in hlevel(),
    ) {
        call("Pfd::new", || Pfd::new(t, m).map(|p| p.samples()))?;
        let u = random_orthonormal(&mut seeded(seed), 2, 1).unwrap();
        let v = random_orthonormal(&mut seeded(seed ^ 1), 2, 1).unwrap();
        call("pfd_subspaces", || pfd_subspaces(u.as_ref(), v.as_ref(), t))?;
        if let (Ok(g1), Ok(g2)) = (Gaussian::new(&[0.0, 0.0], u.as_ref(), &[var]), Gaussian::subspace(v.as_ref())) {
            call("pfd_gaussians", || pfd_gaussians(&g1, &g2, t, None))?;
            if let Ok(l) = NoiseLevel::new(lv.0, lv.1) {
                let (f1, f2) = (GaussianFlow::to_clean(&g1, l), GaussianFlow::to_clean(&g2, l));
                if let Ok(pfd) = Pfd::new(1.0, m.clamp(2, 8)) {
                    call("Pfd::estimate", || pfd.estimate(&f1, &f2, &mut seeded(seed)))?;
                    call("Pfd::estimate_on", || pfd.estimate_on(&f1, &f2, x.as_ref()))?;
                }
            }
        }
        call_plain("cosine_similarity", false, || cosine_similarity(&a, &b))?;
        call("LinearFeatures::new", || LinearFeatures::new(w.as_ref()))?;
        if let Ok(f) = LinearFeatures::new(w.as_ref()) {
            call("FeatureMap::features", || f.features(x.as_ref()))?;
        }
        call("empirical_gaussian", || empirical_gaussian(x.as_ref()))?;
        if let Ok(l) = NoiseLevel::new(lv.0, lv.1) {
            call("optimal_affine", || optimal_affine(x.as_ref(), l))?;
        }
        call("fit_affine", || fit_affine(x.as_ref(), x0.as_ref()))?;
    }
}

impl Finite for diffusion_lowdim::reduction::LossCoefficients {
    fn finite(&self) -> bool {
        [self.weight_integral, self.c, self.c_complement, self.noise]
            .to_vec()
            .finite()
    }
}
impl Finite for diffusion_lowdim::reduction::quadrature::Integral {
    fn finite(&self) -> bool {
        self.value.is_finite() && self.error.is_finite()
    }
}
impl Finite for diffusion_lowdim::reduction::MonteCarlo {
    fn finite(&self) -> bool {
        self.value.is_finite() && self.std_error.is_finite()
    }
}
impl Finite for diffusion_lowdim::metric::PerturbationTest {
    fn finite(&self) -> bool {
        self.bound.is_finite() && self.changes.finite() && self.violations.finite()
    }
}

proptest! {
    #![proptest_config(cfg(400))]

    fn fuzz_losses(
        t0 in hf(), t1 in hf(), x in hdata(2, 3), seed in any::<u64>(),
        which in 0usize..6, wsel in 0usize..3, panels in hu(), eps in hf(),
        lam in hf(), lip in hf(), samples in hu(), lv in hlevel(),
    ) {
        use diffusion_lowdim::reduction::{LossCoefficients, Weight, dae_loss_closed_form,
            dae_loss_monte_carlo, dae_loss_quadrature, dae_loss_rule};
        use diffusion_lowdim::reduction::quadrature::{composite_rule, integrate};
        use diffusion_lowdim::reduction::small_ball_bound;
        use diffusion_lowdim::metric::perturbation_test;
        let weight = [Weight::Unit, Weight::InverseNoiseVariance, Weight::Snr][wsel];
        let u = random_orthonormal(&mut seeded(seed), 2, 1).unwrap();
        let s = schedules(0.1, 20.0).into_iter().nth(which).unwrap().unwrap();
        let k = call("LossCoefficients::ve_analytic", || LossCoefficients::ve_analytic(&weight, t0, t1))?;
        call("LossCoefficients::quadrature", || LossCoefficients::quadrature(s.as_ref(), &weight, t0, t1))?;
        if let Some(k) = k {
            call("dae_loss_closed_form", || dae_loss_closed_form(u.as_ref(), x.as_ref(), &k))?;
        }
        call("dae_loss_quadrature", || dae_loss_quadrature(u.as_ref(), x.as_ref(), s.as_ref(), &weight, t0, t1))?;
        let rule = call("composite_rule", || composite_rule(t0, t1, panels.min(64)))?;
        call("composite_rule (hostile panels)", || composite_rule(t0, t1, panels).map(|r| r.len()))?;
        if let Some(rule) = rule {
            call("dae_loss_rule", || dae_loss_rule(u.as_ref(), x.as_ref(), s.as_ref(), &weight, &rule))?;
            call("dae_loss_monte_carlo", || {
                dae_loss_monte_carlo(u.as_ref(), x.as_ref(), s.as_ref(), &weight, &rule[..rule.len().min(2)], 2, &mut seeded(seed))
            })?;
        }
        call("integrate", || integrate(|t| Ok(lam * t.exp()), t0, t1, 1e-10, panels.min(1 << 10)))?;
        call("small_ball_bound", || small_ball_bound(samples, panels, eps))?;
        if let (Ok(g), Ok(l)) = (Gaussian::subspace(u.as_ref()), NoiseLevel::new(lv.0, lv.1)) {
            let x0 = [x[(0, 0)], x[(1, 0)]];
            call("perturbation_test", || {
                perturbation_test(&g, &x0, l, lam, lip, 1, samples.min(20), 0.95, &mut seeded(seed))
            })?;
            call("perturbation_test (hostile samples)", || {
                perturbation_test(&g, &x0, l, lam, lip, panels, samples, 0.95, &mut seeded(seed))
            })?;
        }
    }
}

/// Runs every property (two threads, the CI machine's cores) and checks the number
/// of calls made: at least 10^5 in the default run, or `FUZZ_CALLS` when set.
#[test]
fn fuzz_library_api() {
    let groups: [(&str, fn()); 11] = [
        ("fuzz_losses", fuzz_losses),
        ("fuzz_gaussian", fuzz_gaussian),
        ("fuzz_molrg", fuzz_molrg),
        ("fuzz_empirical", fuzz_empirical),
        ("fuzz_levels_and_tweedie", fuzz_levels_and_tweedie),
        ("fuzz_schedules", fuzz_schedules),
        ("fuzz_grids", fuzz_grids),
        ("fuzz_flows", fuzz_flows),
        ("fuzz_reduction", fuzz_reduction),
        ("fuzz_stats", fuzz_stats),
        ("fuzz_metrics", fuzz_metrics),
    ];
    let start = std::time::Instant::now();
    let next = AtomicUsize::new(0);
    let failures: Vec<String> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..2)
            .map(|_| {
                scope.spawn(|| {
                    let mut failed = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some((name, f)) = groups.get(i) else {
                            break;
                        };
                        if let Err(p) = catch_unwind(f) {
                            failed.push(format!("{name}: {}", panic_message(p)));
                        }
                    }
                    failed
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    let calls = CALLS.load(Ordering::Relaxed);
    println!(
        "fuzz_api: {calls} library calls in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let wanted = std::env::var("FUZZ_CALLS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(100_000);
    assert!(calls >= wanted, "only {calls} calls (wanted {wanted})");
}
