//! `SubspaceSampler` (the MoLRG flow integrated in the span of the components)
//! against the full-dimensional `Sampler`: the same numbers up to rounding, on
//! random models, schedules, solvers and grids (proof: the "Subspace reduction"
//! lemma of `proofs/R10-probability-flow.md`).

use super::common;

use diffusion_lowdim::flow::{
    DormandPrince, Euler, FlowMap, GridEnd, Heun, Sampler, SubspaceSampler, TimeGrid,
};
use diffusion_lowdim::linalg::random_orthonormal;
use diffusion_lowdim::metric::Pfd;
use diffusion_lowdim::rng::{seeded, standard_normal};
use diffusion_lowdim::schedule::Ve;
use diffusion_lowdim::theorem::instance::ScheduleKind;
use diffusion_lowdim::theorem::r10::SolverKind;
use diffusion_lowdim::{Error, Molrg};
use faer::{Mat, MatRef};
use proptest::prelude::*;
use rand::RngExt;

/// A random MoLRG: `k` components of rank `r` in `R^d`, independent Haar bases
/// (not mutually orthogonal; with `shared`, component 1 repeats component 0's
/// basis, so the span has dimension < Σ r_k), random weights and variances.
fn random_molrg(seed: u64, d: usize, k: usize, r: usize, shared: bool) -> Molrg {
    let mut g = seeded(seed);
    let bases: Vec<Mat<f64>> = (0..k)
        .map(|_| random_orthonormal(&mut g, d, r).unwrap())
        .map(|b| b.to_owned())
        .collect();
    let bases: Vec<Mat<f64>> = bases
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if shared && i == 1 {
                bases[0].clone()
            } else {
                b.clone()
            }
        })
        .collect();
    let raw: Vec<f64> = (0..k).map(|_| 0.2 + g.random::<f64>()).collect();
    let total: f64 = raw.iter().sum();
    let weights: Vec<f64> = raw.iter().map(|w| w / total).collect();
    let variances: Vec<Vec<f64>> = (0..k)
        .map(|_| (0..r).map(|_| 0.5 + 1.5 * g.random::<f64>()).collect())
        .collect();
    let refs: Vec<MatRef<'_, f64>> = bases.iter().map(|b| b.as_ref()).collect();
    Molrg::with_variances(&weights, &refs, &variances).unwrap()
}

/// A readable instance of the comparison.
#[derive(Debug, Clone)]
struct Case {
    d: usize,
    k: usize,
    r: usize,
    shared: bool,
    schedule: ScheduleKind,
    solver: SolverKind,
    steps: usize,
    sigma_min: f64,
    sigma_max: f64,
    clean: bool,
    seed: u64,
}

prop_compose! {
    fn case()(
        d in 1usize..=24,
        k in 1usize..=3,
        r_frac in 0.0..1.0f64,
        shared in any::<bool>(),
        schedule in prop::sample::select(ScheduleKind::ALL.to_vec()),
        solver in prop::sample::select(vec![SolverKind::Euler, SolverKind::Heun, SolverKind::Rk4, SolverKind::Ddim, SolverKind::DpmSolverPP2M]),
        steps in 2usize..=12,
        sigma_min in 0.3..1.0f64,
        sigma_max in 2.0..20.0f64,
        clean in any::<bool>(),
        seed in any::<u64>(),
    ) -> Case {
        let r = 1 + ((d - 1) as f64 * r_frac).round() as usize;
        Case { d, k, r, shared: shared && k >= 2, schedule, solver, steps, sigma_min, sigma_max, clean, seed }
    }
}

proptest! {
    #![proptest_config(common::config(64))]
    /// Both samplers map the same noises to the same samples, to 1e-11 relative to
    /// the largest start (the grid stays at σ ≥ 0.3, where the flow is smooth: a
    /// wrong basis, reduced model or complement factor gives O(1) errors).
    #[test]
    fn reduced_and_full_samplers_agree(c in case()) {
        let model = random_molrg(c.seed, c.d, c.k, c.r, c.shared);
        let schedule = c.schedule.build();
        let solver = c.solver.build();
        let end = if c.clean { GridEnd::Clean } else { GridEnd::Last };
        let grid = TimeGrid::karras(schedule.as_ref(), c.steps, c.sigma_min, c.sigma_max, 7.0)
            .unwrap()
            .with_end(end)
            .unwrap();
        let reduced = SubspaceSampler::molrg(schedule.as_ref(), &model, solver.as_ref(), grid.clone()).unwrap();
        let m = reduced.reduced_dim();
        prop_assert!(m <= c.d && m <= c.k * c.r);
        if c.shared {
            prop_assert!(m <= (c.k - 1) * c.r);
        }
        let full = Sampler::new(schedule.as_ref(), &model, solver.as_ref(), grid.clone());
        let scale = full.noise_scale().unwrap();
        let x = standard_normal(&mut seeded(c.seed ^ 0x5eed), c.d, 40) * faer::Scale(scale);
        let want = full.run(x.as_ref()).unwrap();
        let got = reduced.run(x.as_ref()).unwrap();
        prop_assert_eq!(&got.info, &want.info);
        let err = (&got.x - &want.x).norm_max();
        let tol = 1e-11 * x.norm_max().max(1.0);
        prop_assert!(err <= tol, "max |Φ_reduced − Φ_full| = {err:e} > {tol:e} (m = {m})");
    }
}

/// The complement factor against an independent closed form: with D ≡ 0 the VE
/// flow is dx/dt = x/t, and Euler's step x ↦ x(1 + (t_{i+1} − t_i)/t_i) =
/// x·t_{i+1}/t_i telescopes to s = t_n/t_0; a clean end gives s = 0.
#[test]
fn complement_factor_matches_its_closed_form() {
    let model = random_molrg(1, 12, 2, 3, false);
    let grid = TimeGrid::karras(&Ve, 15, 0.4, 30.0, 7.0).unwrap();
    let clean = SubspaceSampler::molrg(&Ve, &model, &Euler, grid.clone()).unwrap();
    assert_eq!(clean.complement_factor(), 0.0);
    let last = grid.with_end(GridEnd::Last).unwrap();
    let times = last.times().to_vec();
    let s = SubspaceSampler::molrg(&Ve, &model, &Euler, last)
        .unwrap()
        .complement_factor();
    let want = times[times.len() - 1] / times[0];
    assert!(
        ((s - want) / want).abs() < 1e-13,
        "s = {s:e}, t_n/t_0 = {want:e}"
    );
}

/// EDM's full range (σ from 80 to 0.002, Heun, 50 steps), where the weights are
/// nearly hard: on this fixed instance (d = 64, K = 4, r = 4, 64 noises) the two
/// samplers agree to 1e-10 relative to the samples' size.
#[test]
fn reduced_sampler_matches_in_the_edm_regime() {
    let model = random_molrg(7, 64, 4, 4, false);
    let grid = TimeGrid::edm(&Ve, 50).unwrap();
    let reduced = SubspaceSampler::molrg(&Ve, &model, &Heun, grid.clone()).unwrap();
    assert_eq!(reduced.reduced_dim(), 16);
    let x = standard_normal(&mut seeded(8), 64, 64) * faer::Scale(80.0);
    let want = Sampler::new(&Ve, &model, &Heun, grid)
        .map(x.as_ref())
        .unwrap();
    let got = reduced.map(x.as_ref()).unwrap();
    let err = (&got - &want).norm_max();
    assert!(err <= 1e-10 * want.norm_max(), "{err:e}");
}

/// PFD in noise blocks of 32 over reduced samplers gives the same bits as mapping
/// all noises in one batch (the samplers are column-wise), for any thread count.
#[test]
fn pfd_over_reduced_samplers_is_blockwise_exact() {
    let a = random_molrg(11, 40, 3, 4, false);
    let b = random_molrg(12, 40, 3, 4, false);
    let grid = TimeGrid::edm(&Ve, 12).unwrap();
    let sa = SubspaceSampler::molrg(&Ve, &a, &Heun, grid.clone()).unwrap();
    let sb = SubspaceSampler::molrg(&Ve, &b, &Heun, grid).unwrap();
    assert!(sa.columnwise());
    let pfd = Pfd::new(80.0, 100).unwrap();
    let noises = pfd.noises(40, &mut seeded(13));
    let est = pfd.estimate_on(&sa, &sb, noises.as_ref()).unwrap();
    let (xa, xb) = (
        sa.map(noises.as_ref()).unwrap(),
        sb.map(noises.as_ref()).unwrap(),
    );
    for (j, got) in est.squared_distances.iter().enumerate() {
        let want: f64 = (0..40).map(|i| (xa[(i, j)] - xb[(i, j)]).powi(2)).sum();
        assert_eq!(got.to_bits(), want.to_bits(), "noise {j}");
    }
}

#[test]
fn unsupported_solvers_and_bad_starts_are_typed_errors() {
    let model = random_molrg(3, 10, 2, 2, false);
    let grid = TimeGrid::edm(&Ve, 10).unwrap();
    let dopri = DormandPrince::new(1e-8, 1e-10).unwrap();
    let e = SubspaceSampler::molrg(&Ve, &model, &dopri, grid.clone()).unwrap_err();
    assert!(matches!(e, Error::Unsupported { .. }), "{e}");
    assert!(e.to_string().contains("use Sampler"), "{e}");
    let s = SubspaceSampler::molrg(&Ve, &model, &Heun, grid).unwrap();
    let e = s.map(Mat::<f64>::zeros(9, 2).as_ref()).unwrap_err();
    assert!(matches!(e, Error::DimensionMismatch { .. }), "{e}");
    let mut x = Mat::<f64>::zeros(10, 2);
    x[(3, 1)] = f64::NAN;
    let e = s.map(x.as_ref()).unwrap_err();
    assert!(matches!(e, Error::NonFinite { .. }), "{e}");
    // An empty batch maps to an empty batch.
    assert_eq!(s.map(Mat::<f64>::zeros(10, 0).as_ref()).unwrap().ncols(), 0);
}
