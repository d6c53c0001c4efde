//! R13: reproducibility and generalization scores, Clopper–Pearson intervals, and the
//! memorization study.

use super::common;

use diffusion_lowdim::Error;
use diffusion_lowdim::metric::{
    Proportion, Scores, binomial_lower_tail, binomial_upper_tail, clopper_pearson,
    cosine_similarity,
};
use diffusion_lowdim::study::{LOW_RANK, MEMORIZING, MemorizationStudy};
use diffusion_lowdim::theorem::r13::Instance;
use proptest::prelude::*;

prop_compose! {
    fn instance()(
        components in 1usize..=2,
        r in 1usize..=6,
        extra in 0usize..=12,
        pf in 0.0..1.0f64,
        trials in 1usize..=400,
        kf in 0.0..=1.0f64,
        confidence in prop::sample::select(vec![0.9, 0.95, 0.99]),
        p in prop_oneof![0.0001..0.1f64, 0.0..1.0f64],
        seed in any::<u64>(),
    ) -> Instance {
        Instance {
            d: components * r + extra, r, components,
            points: r + ((2 * r) as f64 * pf).round() as usize,
            trials, successes: (trials as f64 * kf).round() as usize, confidence, p, seed,
        }
    }
}

proptest! {
    #![proptest_config(common::config(32))]
    #[test]
    fn r13_check_on_random_instances(inst in instance()) {
        common::check_all(&inst.check().map_err(|e| TestCaseError::fail(e.to_string()))?)?;
    }

    /// The ends solve their defining tail equations, evaluated with statrs' incomplete
    /// Beta function, up to that function's own relative error (≤ 2nε from its log-space
    /// prefactor, see `r13_clopper_pearson_boundary_closed_forms`) plus the Newton stopping
    /// rule (2ε relative in the end, times the tail's slope): tolerance (8n + 64)ε·a/2.
    /// Extreme n and k at both ends.
    #[test]
    fn r13_clopper_pearson_solves_its_equations(n in 1usize..=100_000, kf in 0.0..=1.0f64, conf in 0.5..0.999f64) {
        let k = (n as f64 * kf).round() as usize;
        let (lo, hi) = clopper_pearson(k, n, conf).unwrap();
        let half = 0.5 * (1.0 - conf);
        let tol = (8.0 * n as f64 + 64.0) * f64::EPSILON * half;
        prop_assert!(0.0 <= lo && lo <= k as f64 / n as f64 && k as f64 / n as f64 <= hi && hi <= 1.0);
        if k > 0 {
            prop_assert!((binomial_upper_tail(k, n, lo).unwrap() - half).abs() <= tol);
        }
        if k < n {
            prop_assert!((binomial_lower_tail(k, n, hi).unwrap() - half).abs() <= tol);
        }
    }
}

/// Closed forms at the boundaries: k = 0 gives [0, 1 − (a/2)^{1/n}], k = n gives
/// [(a/2)^{1/n}, 1] (references by expm1/exp of ln(a/2)/n, without cancellation). The
/// ends are as accurate as statrs' regularized incomplete Beta function, whose prefactor
/// exp(… + a ln x + b ln(1 − x)) carries a relative error of about (a|ln x| + b|ln(1−x)|)·ε
/// ≤ 2nε here; the tolerance is 8nε.
#[test]
fn r13_clopper_pearson_boundary_closed_forms() {
    for n in [1usize, 7, 100, 10_000] {
        let tol = 8.0 * n as f64 * f64::EPSILON;
        let log_half = 0.025f64.ln() / n as f64;
        let (lo, hi) = clopper_pearson(0, n, 0.95).unwrap();
        assert_eq!(lo, 0.0);
        let want = -log_half.exp_m1();
        assert!((hi - want).abs() <= tol * want, "n = {n}: {hi} vs {want}");
        let (lo, hi) = clopper_pearson(n, n, 0.95).unwrap();
        assert_eq!(hi, 1.0);
        let want = log_half.exp();
        assert!((lo - want).abs() <= tol * want, "n = {n}: {lo} vs {want}");
    }
}

#[test]
fn r13_scores_on_hand_made_samples() {
    let a = faer::mat![[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
    let b = faer::mat![[2.0, 0.0, 0.0], [0.1, 1.0, -1.0]];
    let s = Scores::new();
    let rp = s.reproducibility(a.as_ref(), b.as_ref()).unwrap();
    assert_eq!((rp.successes, rp.trials), (1, 3)); // cosines ≈ 0.999, 0, −1
    let train = faer::mat![[1.0], [0.1]];
    let gl = s.generalization(a.as_ref(), train.as_ref()).unwrap();
    assert_eq!(gl.successes, 1); // only the third sample is novel
    let strict = s.with_threshold(0.999).unwrap();
    assert_eq!(
        strict
            .generalization(a.as_ref(), train.as_ref())
            .unwrap()
            .successes,
        3
    );
    assert_eq!(cosine_similarity(&[0.0], &[1.0]), 0.0);
}

#[test]
fn r13_hostile_inputs_give_typed_errors() {
    assert!(matches!(
        clopper_pearson(1, 0, 0.95),
        Err(Error::InvalidCount { .. })
    ));
    assert!(matches!(
        clopper_pearson(3, 2, 0.95),
        Err(Error::InvalidCount { .. })
    ));
    assert!(matches!(
        Proportion::new(1, 2, 1.5),
        Err(Error::InvalidParameter { .. })
    ));
    assert!(matches!(
        Scores::new().with_threshold(1.5),
        Err(Error::InvalidParameter { .. })
    ));
    let a = faer::mat![[1.0], [0.0]];
    let b = faer::mat![[1.0], [0.0], [0.0]];
    assert!(matches!(
        Scores::new().reproducibility(a.as_ref(), b.as_ref()),
        Err(Error::DimensionMismatch { .. })
    ));
    let nan = faer::mat![[f64::NAN], [0.0]];
    assert!(matches!(
        Scores::new().generalization(nan.as_ref(), a.as_ref()),
        Err(Error::NonFinite { .. })
    ));
    let bad = MemorizationStudy {
        d: 3,
        r: 2,
        components: 2,
        ..MemorizationStudy::default()
    };
    assert!(matches!(bad.validate(), Err(Error::InvalidCount { .. })));
    let bad = MemorizationStudy {
        ratios: vec![0.0],
        ..MemorizationStudy::default()
    };
    assert!(matches!(
        bad.validate(),
        Err(Error::InvalidParameter { .. })
    ));
}

/// The study reproduces the theory's predictions at a small size: for N ≥ r the two
/// low-rank denoisers agree on every noise (RP = 1) and match the truth (E_gen at rounding
/// level), the memorizing denoiser returns training points (GL = 0, E_mem = 0), and the
/// run is deterministic for a seed.
#[test]
fn r13_memorization_study_small() {
    let study = MemorizationStudy {
        d: 24,
        r: 6,
        components: 2,
        ratios: vec![0.5, 1.0, 2.0],
        samples: 64,
        steps: 12,
    };
    let rows = study.run(3, &mut |_| {}).unwrap();
    assert_eq!(rows.len(), 6);
    for r in &rows {
        if r.denoiser == LOW_RANK && r.ratio >= 1.0 {
            assert_eq!(r.rp.successes, r.rp.trials);
            assert!(r.e_gen.estimate <= 1e-9 * r.e_mem.estimate, "{r:?}");
        }
        if r.denoiser == MEMORIZING {
            assert_eq!(r.gl.successes, 0);
            assert_eq!(r.e_mem.estimate, 0.0);
        }
    }
    let again = study.run(3, &mut |_| {}).unwrap();
    assert_eq!(rows, again);
}

/// `MemorizationStudy::run` reports progress 1, 2, …, one call per ratio, ending at
/// `work()`.
#[test]
fn r13_memorization_progress_counts_ratios() {
    let study = MemorizationStudy {
        d: 6,
        r: 2,
        components: 1,
        ratios: vec![1.0, 2.0, 3.0],
        samples: 4,
        steps: 3,
    };
    let mut seen = Vec::new();
    study.run(1, &mut |k| seen.push(k)).unwrap();
    assert_eq!(seen, vec![1, 2, 3]);
    assert_eq!(study.work(), 3);
}
