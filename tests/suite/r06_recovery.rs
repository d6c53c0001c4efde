//! R06 (Theorem 2(i)): PCA recovery for N ≥ r — exact noise-free, explicit sin-Θ bound with noise;
//! subspace distances accurate for tiny angles; the small-ball rate.

use super::common;

use diffusion_lowdim::Error;
use diffusion_lowdim::linalg::{orthonormality_deviation, random_orthonormal};
use diffusion_lowdim::reduction::{Pca, principal_angles, subspace_distance};
use diffusion_lowdim::rng::seeded;
use diffusion_lowdim::study::small_ball_table;
use diffusion_lowdim::theorem::r06::Instance;
use faer::Mat;
use proptest::prelude::*;

prop_compose! {
    fn instance()(
        d in 1usize..=40,
        r_frac in 0.0f64..1.0,
        extra in 0usize..=12,
        noise in prop_oneof![Just(0.0), (-12.0f64..-0.31).prop_map(|e| 10f64.powf(e))],
        seed in any::<u64>(),
    ) -> Instance {
        let r = 1 + ((r_frac * d as f64) as usize).min(d - 1);
        Instance { d, r, n: r + extra, noise, seed }
    }
}

proptest! {
    #![proptest_config(common::config(128))]
    /// Exact recovery (noise-free) and the proven sin-Θ bound (noisy) on random
    /// instances, including N = r (worst conditioned), r = d and d = 1.
    #[test]
    fn r06_random_instances(inst in instance()) {
        common::check_all(&inst.check().map_err(|e| TestCaseError::fail(e.to_string()))?)?;
    }
}

/// Noise-free N = r = 8 in d = 48: recovery at rounding level even for the
/// worst-conditioned (square) coefficient matrices of 50 seeds.
#[test]
fn r06_noise_free_exact_recovery() {
    for seed in 0..50 {
        let inst = Instance {
            d: 48,
            r: 8,
            n: 8,
            noise: 0.0,
            seed,
        };
        common::assert_all(&inst.check().unwrap());
    }
}

/// Principal angles near 1e-9 (and 1e-14) are computed to high relative
/// accuracy; the naive √(2r − 2‖UᵀV‖²) is off by orders of magnitude.
#[test]
fn r06_subspace_distance_tiny_angles() {
    let mut g = seeded(7);
    let q = random_orthonormal(&mut g, 20, 6).unwrap();
    let u = q.as_ref().subcols(0, 3);
    let w = q.as_ref().subcols(3, 3);
    for &theta in &[1e-5f64, 1e-9, 1e-14] {
        let angles: [f64; 3] = [theta, 2.0 * theta, 0.5 * theta];
        let v = Mat::from_fn(20, 3, |i, j| {
            angles[j].cos() * u[(i, j)] + angles[j].sin() * w[(i, j)]
        });
        let exact = 2f64.sqrt() * angles.iter().map(|a| a.sin() * a.sin()).sum::<f64>().sqrt();
        let delta = orthonormality_deviation(u) + orthonormality_deviation(v.as_ref());
        let dist = subspace_distance(u, v.as_ref()).unwrap();
        // Absolute: the inputs define their subspaces only to ~δ (plus ε per rounded entry of V).
        let tol = 4.0 * delta + 8.0 * f64::EPSILON + 64.0 * f64::EPSILON * exact;
        assert!(
            (dist - exact).abs() <= tol,
            "θ={theta}: {dist} vs {exact} (tol {tol})"
        );
        let mut th = principal_angles(u, v.as_ref()).unwrap();
        th.sort_by(|a, b| a.total_cmp(b));
        let mut want = angles.to_vec();
        want.sort_by(|a, b| a.total_cmp(b));
        for (a, b) in th.iter().zip(&want) {
            assert!((a - b).abs() <= tol, "angle {a} vs {b}");
        }
        if theta == 1e-9 {
            let c = u.transpose() * v.as_ref();
            let naive = (6.0 - 2.0 * c.norm_l2().powi(2)).max(0.0).sqrt();
            assert!((naive - exact).abs() > 100.0 * (dist - exact).abs().max(1e-20));
        }
    }
}

/// Statistical: the empirical probability of σ_r(A) < ε(√N − √(r−1)) never
/// exceeds the proven small-ball bound. Each of the 18 cells uses a
/// Clopper–Pearson interval at confidence 1 − 1e-9; since the bound is a proven
/// upper bound on the true probability, a false failure (lower end above the
/// bound) has probability ≤ 18 · 5e-10 < 1e-8.
#[test]
fn r06_small_ball_rate_table() {
    let mut cells = Vec::new();
    for r in [2usize, 5] {
        for extra in [0usize, 1, 4] {
            for eps in [0.1, 0.3, 0.6] {
                cells.push((r + extra, r, eps));
            }
        }
    }
    let rows = small_ball_table(&cells, 4000, 17, 1.0 - 1e-9).unwrap();
    for row in &rows {
        assert!(row.ci.0 <= row.bound, "{row:?}");
    }
    // The rate has the shape (Cε)^{N−r+1}: one more sample cuts the probability
    // at ε = 0.1 by a large factor (checked on the point estimates' CIs).
    let p = |n: usize, r: usize| {
        rows.iter()
            .find(|x| x.n == n && x.r == r && x.epsilon == 0.1)
            .unwrap()
            .clone()
    };
    assert!(p(5, 5).ci.0 > p(6, 5).ci.1);
}

/// Statistical, against an independent two-sided sandwich: for Gaussian $A \in \mathbb R^{r\times N}$ and
/// $t = \epsilon(\sqrt N - \sqrt{r-1})$,
/// $F_{\chi^2_{N-r+1}}(t^2) \le \mathbb P(\sigma_r(A) < t) \le r\,F_{\chi^2_{N-r+1}}(rt^2)$ (the lower end because
/// $\sigma_r(A) \le \operatorname{dist}(a_j, H_j) \sim \chi_{N-r+1}$; equality for $r = 1$, where $\sigma_1(A) = \|a\|$). The
/// lower end is computed here from statrs, not by crate code. Cells: $r \in \{1, 2, 5\}$,
/// $N - r \in \{0, 1, 4\}$, $\epsilon \in \{0.1, 0.3, (4er)^{-1/2}\}$ (the last is where the proven bound
/// $r(er\epsilon^2)^{(N-r+1)/2}$ reaches the paper's rate $2^{-(N-r+1)}$ up to the factor $r$); 4000 trials
/// per cell (seed 23), Clopper–Pearson at confidence $1 - 10^{-9}$.
///
/// False-failure rate: the test fails only if some cell's interval misses its true probability,
/// $\le 27\cdot10^{-9} < 3\cdot10^{-8}$. Power: the interval's half-width is at most
/// $6.1\cdot\tfrac12/\sqrt{4000} \approx 0.048$, so in the $r = 1$ cells (where the sandwich is an equality) a
/// sampler, event or formula whose probability differs from the stated one by more than $0.1$
/// (e.g. the event $\|a\| < t/\sqrt2$ in the cells $N \ge 2$, $\epsilon = 0.3$ and $(4e)^{-1/2}$) fails with
/// probability $\ge 1 - 10^{-9}$.
#[test]
fn r06_small_ball_exact_sandwich() {
    use statrs::distribution::{ChiSquared, ContinuousCDF};
    let mut cells = Vec::new();
    for r in [1usize, 2, 5] {
        let paper_eps = (4.0 * std::f64::consts::E * r as f64).powf(-0.5);
        for extra in [0usize, 1, 4] {
            for eps in [0.1, 0.3, paper_eps] {
                cells.push((r + extra, r, eps));
            }
        }
    }
    let rows = small_ball_table(&cells, 4000, 23, 1.0 - 1e-9).unwrap();
    for row in &rows {
        let k = (row.n - row.r + 1) as f64;
        let t = row.epsilon * ((row.n as f64).sqrt() - (row.r as f64 - 1.0).sqrt());
        let chi = ChiSquared::new(k).unwrap();
        let lower = chi.cdf(t * t);
        let upper = (row.r as f64 * chi.cdf(row.r as f64 * t * t)).min(1.0);
        println!(
            "N={} r={} eps={:.4}: below={}/{} ci=[{:.4}, {:.4}] exact-lower={lower:.4} bound={:.4} (crate {:.4}) paper 2^-k={:.4}",
            row.n,
            row.r,
            row.epsilon,
            row.below,
            row.trials,
            row.ci.0,
            row.ci.1,
            upper,
            row.bound,
            0.5f64.powf(k)
        );
        assert!(
            row.ci.1 >= lower,
            "below the proven lower end: {row:?} (lower {lower})"
        );
        assert!(
            row.ci.0 <= upper,
            "above the proven upper end: {row:?} (upper {upper})"
        );
        assert!(
            (row.bound - upper).abs() <= 1e-12,
            "crate bound {} vs {upper}",
            row.bound
        );
    }
}

/// Hostile inputs give typed errors.
#[test]
fn r06_hostile_inputs() {
    let x = Mat::<f64>::zeros(3, 0);
    assert!(matches!(Pca::fit(x.as_ref(), 1), Err(Error::Empty { .. })));
    let x = faer::mat![[1.0, 2.0], [3.0, 4.0]];
    assert!(matches!(
        Pca::fit(x.as_ref(), 3),
        Err(Error::InvalidCount { .. })
    ));
    assert!(matches!(
        Pca::fit(x.as_ref(), 0),
        Err(Error::InvalidCount { .. })
    ));
    let nan = faer::mat![[1.0, f64::INFINITY], [3.0, 4.0]];
    assert!(matches!(
        Pca::fit(nan.as_ref(), 1),
        Err(Error::NonFinite { .. })
    ));
    let u = faer::mat![[1.0], [0.0]];
    let not_orth = faer::mat![[0.5], [0.5]];
    assert!(matches!(
        subspace_distance(u.as_ref(), not_orth.as_ref()),
        Err(Error::NotOrthonormal { .. })
    ));
    let u3 = faer::mat![[1.0], [0.0], [0.0]];
    assert!(matches!(
        subspace_distance(u.as_ref(), u3.as_ref()),
        Err(Error::DimensionMismatch { .. })
    ));
}
