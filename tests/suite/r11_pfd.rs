//! R11: the probability flow distance.

use super::common;

use diffusion_lowdim::flow::{FlowMap, GaussianFlow, Heun, Sampler, TimeGrid};
use diffusion_lowdim::metric::{
    Pfd, PfdEstimate, binomial_lower_tail, binomial_upper_tail, generalization_error,
    memorization_error, pfd_gaussians, pfd_subspaces,
};
use diffusion_lowdim::schedule::Ve;
use diffusion_lowdim::theorem::r11::Instance;
use diffusion_lowdim::{Empirical, Error, ExactModel, Gaussian, NoiseLevel, rng};
use proptest::prelude::*;

prop_compose! {
    fn instance()(
        d in 1usize..=8,
        r1f in 0.0..1.0f64,
        r2f in 0.0..1.0f64,
        subspace in any::<bool>(),
        ff in prop::option::of(0.0..1.0f64),
        log_t in -0.3..1.9f64,
        seed in any::<u64>(),
    ) -> Instance {
        let rank = |f: f64| 1 + ((d - 1) as f64 * f).round() as usize;
        Instance { d, r1: rank(r1f), r2: rank(r2f), subspace, features: ff.map_or(0, rank), t_max: 10f64.powf(log_t), seed }
    }
}

proptest! {
    #![proptest_config(common::config(24))]
    #[test]
    fn r11_check_on_random_instances(inst in instance()) {
        common::check_all(&inst.check().map_err(|e| TestCaseError::fail(e.to_string()))?)?;
    }
}

/// Two orthogonal lines in R²: PFD = (T/√(1+T²))·√2, by both closed forms.
#[test]
fn r11_closed_forms_for_orthogonal_lines() {
    let (u1, u2) = (faer::mat![[1.0], [0.0]], faer::mat![[0.0], [1.0]]);
    for t in [0.5f64, 1.0, 80.0] {
        let expected = t / (1.0 + t * t).sqrt() * 2f64.sqrt();
        let sub = pfd_subspaces(u1.as_ref(), u2.as_ref(), t).unwrap();
        let g1 = Gaussian::subspace(u1.as_ref()).unwrap();
        let g2 = Gaussian::subspace(u2.as_ref()).unwrap();
        let general = pfd_gaussians(&g1, &g2, t, None).unwrap();
        assert!((sub - expected).abs() <= 4.0 * f64::EPSILON * expected);
        assert!((general - expected).abs() <= 8.0 * f64::EPSILON * expected);
    }
}

/// Coverage of the 95% interval over 2000 independent repetitions (M = 256 noises each)
/// for two rank-2 subspaces of R⁵ at T = 80. The CLT interval's coverage is 0.95 up to an
/// O(1/M) Edgeworth term (≤ 0.0085 here, see the R11 module docs). Statistical test, two
/// one-sided binomial tests at level 1e-6 each: coverage not below 0.92 and not above
/// 0.97. False-failure rate ≤ 2e-6 (fixed seed: the outcome is deterministic).
#[test]
fn r11_interval_covers_closed_form_at_nominal_rate() {
    let mut g = rng::seeded(20);
    let u1 = diffusion_lowdim::linalg::random_orthonormal(&mut g, 5, 2).unwrap();
    let u2 = diffusion_lowdim::linalg::random_orthonormal(&mut g, 5, 2).unwrap();
    let t = 80.0;
    let (g1, g2) = (
        Gaussian::subspace(u1.as_ref()).unwrap(),
        Gaussian::subspace(u2.as_ref()).unwrap(),
    );
    let from = NoiseLevel::ve(t).unwrap();
    let (f1, f2) = (
        GaussianFlow::to_clean(&g1, from),
        GaussianFlow::to_clean(&g2, from),
    );
    let exact = pfd_subspaces(u1.as_ref(), u2.as_ref(), t).unwrap();
    let pfd = Pfd::new(t, 256).unwrap();
    let reps = 2000;
    let mut covered = 0;
    for _ in 0..reps {
        let e = pfd.estimate(&f1, &f2, &mut g).unwrap();
        if e.interval.0 <= exact && exact <= e.interval.1 {
            covered += 1;
        }
    }
    println!("PFD 95% interval coverage: {covered}/{reps}");
    assert!(binomial_lower_tail(covered, reps, 0.92).unwrap() >= 1e-6);
    assert!(binomial_upper_tail(covered, reps, 0.97).unwrap() >= 1e-6);
}

/// E_gen and E_mem on a small MoLRG-free example: the true model has E_gen = 0; the
/// empirical model has E_mem = 0; both via a solver (Heun, EDM grid).
#[test]
fn r11_generalization_and_memorization_errors() {
    let mut g = rng::seeded(21);
    let u = diffusion_lowdim::linalg::random_orthonormal(&mut g, 6, 2).unwrap();
    let truth = Gaussian::subspace(u.as_ref()).unwrap();
    let train = truth.sample_x0(&mut g, 10);
    let emp = Empirical::new(train.as_ref()).unwrap();
    let grid = TimeGrid::edm(&Ve, 18).unwrap();
    let s_truth = Sampler::new(&Ve, &truth, &Heun, grid.clone());
    let s_emp = Sampler::new(&Ve, &emp, &Heun, grid);
    let pfd = Pfd::new(80.0, 64).unwrap();
    let e0 = generalization_error(&pfd, &s_truth, &s_truth, &mut rng::seeded(1)).unwrap();
    let m0 = memorization_error(&pfd, &s_emp, &s_emp, &mut rng::seeded(1)).unwrap();
    assert_eq!((e0.estimate, m0.estimate), (0.0, 0.0));
    let e = generalization_error(&pfd, &s_emp, &s_truth, &mut rng::seeded(1)).unwrap();
    let m = memorization_error(&pfd, &s_truth, &s_emp, &mut rng::seeded(1)).unwrap();
    // Same noises: PFD is symmetric, so these two are the same number.
    assert_eq!(e.estimate.to_bits(), m.estimate.to_bits());
    assert!(e.estimate > 0.0 && e.interval.0 <= e.estimate && e.estimate <= e.interval.1);
}

#[test]
fn r11_hostile_inputs_give_typed_errors() {
    assert!(matches!(
        Pfd::new(0.0, 10),
        Err(Error::InvalidParameter { .. })
    ));
    assert!(matches!(
        Pfd::new(-1.0, 10),
        Err(Error::InvalidParameter { .. })
    ));
    assert!(matches!(
        Pfd::new(f64::NAN, 10),
        Err(Error::InvalidParameter { .. })
    ));
    assert!(matches!(Pfd::new(1.0, 1), Err(Error::InvalidCount { .. })));
    assert!(matches!(
        Pfd::new(1.0, 10).unwrap().with_confidence(1.0),
        Err(Error::InvalidParameter { .. })
    ));
    let g2 = Gaussian::subspace(faer::mat![[1.0], [0.0]].as_ref()).unwrap();
    let g3 = Gaussian::subspace(faer::mat![[1.0], [0.0], [0.0]].as_ref()).unwrap();
    let l = NoiseLevel::ve(1.0).unwrap();
    let (f2, f3) = (
        GaussianFlow::to_clean(&g2, l),
        GaussianFlow::to_clean(&g3, l),
    );
    let pfd = Pfd::new(1.0, 10).unwrap();
    assert!(matches!(
        pfd.estimate(&f2, &f3, &mut rng::seeded(0)),
        Err(Error::DimensionMismatch { .. })
    ));
    assert!(matches!(
        pfd_gaussians(&g2, &g3, 1.0, None),
        Err(Error::DimensionMismatch { .. })
    ));
    assert!(matches!(
        pfd_gaussians(&g2, &g2, 0.0, None),
        Err(Error::InvalidParameter { .. })
    ));
    let nan = faer::mat![[1.0, f64::NAN], [0.0, 0.0]];
    assert!(matches!(
        pfd.estimate_on(&f2, &f2, nan.as_ref()),
        Err(Error::NonFinite { .. })
    ));
    assert!(matches!(
        PfdEstimate::from_squared_distances(vec![1.0, -1.0], 0.95),
        Err(Error::InvalidParameter { .. })
    ));
    assert!(matches!(
        pfd_subspaces(
            faer::mat![[1.0], [1.0]].as_ref(),
            faer::mat![[1.0], [0.0]].as_ref(),
            1.0
        ),
        Err(Error::NotOrthonormal { .. })
    ));
    let _ = f2.dim();
}

/// The estimator reports the noise scale and sample count it was built with.
#[test]
fn r11_pfd_reports_its_parameters() {
    let p = Pfd::new(80.0, 37).unwrap();
    assert_eq!(p.samples(), 37);
    assert_eq!(p.noise_scale(), 80.0);
}

// ---------------------------------------------------------------------------
// Accuracy of the closed forms for nearly identical models (issue 14).
// ---------------------------------------------------------------------------

use diffusion_lowdim::Denoiser;
use diffusion_lowdim::metric::LinearFeatures;
use diffusion_lowdim::reference::{Q, f as qf, q};

/// The exact PFD of two Gaussians (VE from `t`, to the clean data, features `w` or the
/// identity) in double-double, from the definition: dense $A = V\operatorname{diag}(f)V^\top$ with
/// $f = \sqrt{\lambda/(\lambda+T^2)}$ evaluated in double-double, then
/// $\mathrm{PFD}^2 = \|Wc\|^2 + T^2\|W(A_p - A_q)\|_F^2$, $c = (I - A_p)\mu_p - (I - A_q)\mu_q$, entry by entry.
/// No stable-difference formula is used: the entries of $A_p - A_q$ are subtracted in
/// double-double, where the cancellation of ~10 digits still leaves ~20.
fn reference_pfd(p: &Gaussian, q_: &Gaussian, t: f64, w: Option<&faer::Mat<f64>>) -> f64 {
    let d = p.dim();
    let t2 = q(t) * q(t);
    let dense_a = |g: &Gaussian| -> Vec<Vec<Q>> {
        let v = g.basis();
        let f: Vec<Q> = g
            .variances()
            .iter()
            .map(|&l| (q(l) / (q(l) + t2)).sqrt())
            .collect();
        (0..d)
            .map(|i| {
                (0..d)
                    .map(|j| {
                        let mut s = Q::ZERO;
                        for (k, fk) in f.iter().enumerate() {
                            s += q(v[(i, k)]) * *fk * q(v[(j, k)]);
                        }
                        s
                    })
                    .collect()
            })
            .collect()
    };
    let (ap, aq) = (dense_a(p), dense_a(q_));
    let (mp, mq) = (p.mean(), q_.mean());
    let c: Vec<Q> = (0..d)
        .map(|i| {
            let mut s = q(mp[i]) - q(mq[i]);
            for j in 0..d {
                s -= ap[i][j] * q(mp[j]) - aq[i][j] * q(mq[j]);
            }
            s
        })
        .collect();
    let m: Vec<Vec<Q>> = (0..d)
        .map(|i| (0..d).map(|j| ap[i][j] - aq[i][j]).collect())
        .collect();
    // Apply W (k × d) or the identity.
    let apply = |x: &dyn Fn(usize) -> Q| -> Vec<Q> {
        match w {
            None => (0..d).map(x).collect(),
            Some(w) => (0..w.nrows())
                .map(|a| {
                    let mut s = Q::ZERO;
                    for i in 0..d {
                        s += q(w[(a, i)]) * x(i);
                    }
                    s
                })
                .collect(),
        }
    };
    let sq = |v: &[Q]| -> Q {
        let mut s = Q::ZERO;
        for x in v {
            s += *x * *x;
        }
        s
    };
    // Column j of W(A_p - A_q) is W applied to column j of m.
    let total = (0..d).fold(sq(&apply(&|i| c[i])), |acc, j| {
        acc + t2 * sq(&apply(&|i| m[i][j]))
    });
    qf(total.sqrt())
}

fn rel_err(got: f64, want: f64) -> f64 {
    (got - want).abs() / want.abs()
}

/// Issue 14's first reproducer, full rank: two Gaussians on R⁴ with the same (bitwise)
/// random eigenbasis, eigenvalues differing by 1e-10 relative, zero means, T = 80
/// (PFD ≈ 6e-10 while the flow matrices have entries ≈ 1e-2). Against the double-double
/// reference: relative error ≤ 8ε. The shared-basis bound (docs/metrics.md) is
/// (24 + r)ε plus the basis' departure from orthonormality (≤ 1e-15 here), which the
/// reference includes and the library's eigen-sum does not: 8ε leaves that room.
#[test]
fn r11_pfd_gaussians_nearly_identical_full_rank() {
    let v = diffusion_lowdim::linalg::random_orthonormal(&mut rng::seeded(140), 4, 4).unwrap();
    let lp = [0.5, 1.0, 2.0, 3.0];
    let lq: Vec<f64> = lp.iter().map(|l| l * (1.0 + 1e-10)).collect();
    let p = Gaussian::new(&[0.0; 4], v.as_ref(), &lp).unwrap();
    let g = Gaussian::new(&[0.0; 4], v.as_ref(), &lq).unwrap();
    let want = reference_pfd(&p, &g, 80.0, None);
    let got = pfd_gaussians(&p, &g, 80.0, None).unwrap();
    let e = rel_err(got, want);
    println!("full rank: PFD {got:e}, reference {want:e}, relative error {e:e}");
    assert!(want > 1e-11 && want < 1e-8);
    assert!(e <= 8.0 * f64::EPSILON, "relative error {e:e}");
}

/// Issue 14's first reproducer, low rank (rank 2 in R⁶, shared basis), with nearly
/// identical means (1e-9 relative) and a linear feature map: relative error ≤ 16ε
/// against the double-double reference (the mean term adds the rounding of the
/// coefficients $V^\top(\mu_p-\mu_q)$, $V^\top\mu_q$ and of $W$'s products; the terms
/// are of one sign here, so no condition number enters).
#[test]
fn r11_pfd_gaussians_nearly_identical_low_rank_with_means() {
    let v = diffusion_lowdim::linalg::random_orthonormal(&mut rng::seeded(141), 6, 2).unwrap();
    let lp = [1.5, 4.0];
    let lq: Vec<f64> = lp.iter().map(|l| l * (1.0 - 1e-10)).collect();
    let mp = [1.0, -2.0, 0.5, 3.0, 0.25, -1.0];
    let mq: Vec<f64> = mp.iter().map(|m| m * (1.0 + 1e-9)).collect();
    let p = Gaussian::new(&mp, v.as_ref(), &lp).unwrap();
    let g = Gaussian::new(&mq, v.as_ref(), &lq).unwrap();
    for t in [80.0, 0.5] {
        let want = reference_pfd(&p, &g, t, None);
        let got = pfd_gaussians(&p, &g, t, None).unwrap();
        let e = rel_err(got, want);
        println!("low rank, means, T = {t}: PFD {got:e}, reference {want:e}, relative error {e:e}");
        assert!(e <= 16.0 * f64::EPSILON, "relative error {e:e}");
    }
    let w = faer::mat![
        [1.0, 0.5, 0.0, 0.0, 0.0, 0.0],
        [0.0, 0.0, 2.0, 0.0, 0.0, 1.0]
    ];
    let h = LinearFeatures::new(w.as_ref()).unwrap();
    let want = reference_pfd(&p, &g, 80.0, Some(&w));
    let got = pfd_gaussians(&p, &g, 80.0, Some(&h)).unwrap();
    let e = rel_err(got, want);
    println!("low rank, means, features: PFD {got:e}, reference {want:e}, relative error {e:e}");
    assert!(e <= 16.0 * f64::EPSILON, "relative error {e:e}");
}

/// Issue 14's second reproducer: rank-3 subspaces of R⁶ at principal angles
/// θ = (1, 2, 3)·1e-9, built exactly in coordinates ($u_i = e_i$, $u'_i = \cos\theta_i e_i + \sin\theta_i e_{i+3}$,
/// $\cos\theta_i$ rounds to 1, so the stored sines are the sines of the stored angles to
/// 1e-18 relative). Reference: $\frac{T}{\sqrt{1+T^2}}\sqrt2\,\|\sin\theta\|_2$ in double-double from the
/// stored sines; `pfd_subspaces` within 1e-14 relative at T = 80.
#[test]
fn r11_pfd_subspaces_at_tiny_principal_angles() {
    let th: [f64; 3] = [1e-9, 2e-9, 3e-9];
    let u1 = faer::Mat::from_fn(6, 3, |i, j| if i == j { 1.0 } else { 0.0 });
    let u2 = faer::Mat::from_fn(6, 3, |i, j| {
        if i == j {
            th[j].cos()
        } else if i == j + 3 {
            th[j].sin()
        } else {
            0.0
        }
    });
    let t = 80.0;
    let mut s2 = Q::ZERO;
    for x in th {
        s2 += q(x.sin()) * q(x.sin());
    }
    let want = qf(q(t) / (Q::ONE + q(t) * q(t)).sqrt() * (q(2.0) * s2).sqrt());
    let got = pfd_subspaces(u1.as_ref(), u2.as_ref(), t).unwrap();
    let e = rel_err(got, want);
    println!("subspaces at 1e-9: PFD {got:e}, reference {want:e}, relative error {e:e}");
    assert!(e <= 1e-14, "relative error {e:e}");
}

prop_compose! {
    /// Nearly identical Gaussians with a shared basis: d ≤ 8, rank r ≤ d, eigenvalues in
    /// [1e-3, 1e3] perturbed by a relative 1e-14..1e-2 (each with a random sign), zero
    /// means, T in [1e-2, 1e3].
    fn near_pair()(
        d in 1usize..=8,
        rf in 0.0..1.0f64,
        log_t in -2.0..3.0f64,
        log_pert in -14.0..-2.0f64,
        seed in any::<u64>(),
    ) -> (Gaussian, Gaussian, f64) {
        use rand::RngExt;
        let r = 1 + ((d - 1) as f64 * rf).round() as usize;
        let mut g = rng::seeded(seed);
        let v = diffusion_lowdim::linalg::random_orthonormal(&mut g, d, r).unwrap();
        let lp: Vec<f64> = (0..r).map(|_| 10f64.powf(g.random_range(-3.0..3.0))).collect();
        let pert = 10f64.powf(log_pert);
        let lq: Vec<f64> = lp
            .iter()
            .map(|l| l * (1.0 + pert * g.random_range(-1.0..1.0)))
            .collect();
        let zero = vec![0.0; d];
        (
            Gaussian::new(&zero, v.as_ref(), &lp).unwrap(),
            Gaussian::new(&zero, v.as_ref(), &lq).unwrap(),
            10f64.powf(log_t),
        )
    }
}

proptest! {
    #![proptest_config(common::config(64))]
    /// `pfd_gaussians` on nearly identical shared-basis pairs against the double-double
    /// reference. Tolerance $(24 + r)\varepsilon + 4d\varepsilon$: the first term is the shared-basis
    /// bound derived in docs/metrics.md §1 (each factor difference to $18\varepsilon$, the sum
    /// of squares and the square root to $(r/2 + 3)\varepsilon$); the second covers the reference's
    /// use of the stored basis as given, whose Gram matrix departs from $I$ by at most
    /// $2d\varepsilon$ (`random_orthonormal`), changing $\|V D V^\top\|_F$ relative to $\|D\|_F$ by at most that.
    #[test]
    fn r11_pfd_gaussians_nearly_identical_random((p, g, t) in near_pair()) {
        let want = reference_pfd(&p, &g, t, None);
        let got = pfd_gaussians(&p, &g, t, None).unwrap();
        let (d, r) = (p.dim() as f64, p.basis().ncols() as f64);
        let tol = (24.0 + r + 4.0 * d) * f64::EPSILON;
        if want == 0.0 {
            prop_assert_eq!(got, 0.0);
        } else {
            let e = rel_err(got, want);
            prop_assert!(e <= tol, "relative error {:e} > {:e} (PFD {:e})", e, tol, want);
        }
    }
}
