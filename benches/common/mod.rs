//! The performance workloads W1–W5 of issue 6 (and the GEMM reference), shared by
//! the criterion bench `workloads` and the peak-memory bench `rss`.
//!
//! Each workload is a [`Workload`]: [`Workload::build`] makes its inputs (outside
//! any timing; every temporary is dropped before it returns), [`Workload::run`]
//! is the one call that is timed, and [`Workload::result`] turns the output into
//! a few numbers that say the run computed the right thing (recomputing any
//! reference it needs, so that no reference is resident while memory is measured).
//!
//! Definitions are identical in `benches/numpy_baseline.py` (sizes, seeds per
//! role, algorithms); the random streams differ between the languages, so results
//! agree statistically, not bit for bit.
//!
//! # What counts as input, output and allowance (the memory budget)
//! The budget of the issue is 1.5 × (inputs + outputs + allowance) bytes, counted
//! as the *logical* sizes of the data a user hands in and gets back (f64, 8 bytes
//! per entry, no padding), not whatever a type stores internally:
//!
//! | workload | inputs | outputs | allowance |
//! |---|---|---|---|
//! | W1 | `x_t` (d × B), bases (d × Kr), weights (K) | posterior means (d × B) | one B × K logit block |
//! | W2 | training points (d × N), queries (d × B) | posterior means (d × B) | one B × N logit block |
//! | W3 | X (d × N) | basis (d × r), the min(d, N) singular values | 0 |
//! | W4 | X (d × N), initial bases (K · d × r) | bases (K · d × r), labels (N) | 0 |
//! | W5 | noises (d × M), both models' bases (2 · d × Kr) and weights | the M paired squared distances and the 5 summary scalars | 0 |
//!
//! W5's outputs are the PFD estimate, not the two flows' samples: an implementation
//! that materialises both `d × M` sample matrices at once already needs 2× the
//! noises' bytes on top of the noises.

// Each bench binary uses a different subset of these items.
#![allow(dead_code)]

use std::hint::black_box;

use diffusion_lowdim::flow::{Heun, Sampler, SubspaceSampler, TimeGrid};
use diffusion_lowdim::linalg::TruncatedInfo;
use diffusion_lowdim::linalg::{orthonormalize, random_orthonormal};
use diffusion_lowdim::metric::{Pfd, PfdEstimate};
use diffusion_lowdim::model::{Denoiser, ExactModel};
use diffusion_lowdim::reduction::{
    KSubspaces, KSubspacesSolution, Pca, match_subspaces, subspace_distance,
};
use diffusion_lowdim::rng::{seeded, standard_normal};
use diffusion_lowdim::schedule::Ve;
use diffusion_lowdim::{Empirical, Molrg, NoiseLevel};
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};
use serde_json::{Value, json};

/// Bytes of `n` f64 values.
pub const fn f64_bytes(n: usize) -> usize {
    8 * n
}

/// One workload: inputs built once, one timed call, a checkable result.
pub trait Workload: Sized {
    /// Short id (`W1`…`W5`, `GEMM`), as used on the command line of the `rss` bench.
    const ID: &'static str;
    /// The criterion group name (what it computes and its sizes).
    const GROUP: &'static str;
    /// The criterion function name inside the group.
    const FUNCTION: &'static str;
    /// What the timed call returns.
    type Output;

    /// Builds the inputs (deterministic: fixed seeds).
    fn build() -> Self;
    /// The timed call.
    fn run(&self) -> Self::Output;
    /// Logical bytes of the inputs (see the module docs).
    fn input_bytes(&self) -> usize;
    /// Logical bytes of the outputs (see the module docs).
    fn output_bytes(&self, out: &Self::Output) -> usize;
    /// The extra block the issue allows (B × K for W1, B × N for W2).
    fn allowance_bytes(&self) -> usize {
        0
    }
    /// FLOPs of the call, where the count is clear.
    fn flops(&self) -> Option<f64> {
        None
    }
    /// Numbers that show the output is right (may recompute references; not timed).
    fn result(&self, out: &Self::Output) -> Value;

    /// Runs the code of the timed call once on a tiny instance of the same
    /// workload (at most a few hundred KiB of data), so that the executable's code
    /// pages it needs are resident before the `rss` bench reads its baseline, as
    /// NumPy's code is after its import. Does nothing by default.
    fn warm_up() {}
}

/// Runs the workload's timed call with its inputs and output through `black_box`.
pub fn run_black_box<W: Workload>(w: &W) -> W::Output {
    black_box(black_box(w).run())
}

// ---------------------------------------------------------------------------
// W1 / W2: the MoLRG of W1 and noisy inputs.

/// W1's sizes.
pub const W1_D: usize = 1024;
/// See [`W1_D`].
pub const W1_K: usize = 8;
/// See [`W1_D`].
pub const W1_R: usize = 16;
/// See [`W1_D`].
pub const W1_B: usize = 4096;
/// W2's sizes (d, K, r as W1).
pub const W2_N: usize = 8192;
/// See [`W2_N`].
pub const W2_B: usize = 1024;
/// The noise level of W1 and W2: $x_t = 0.8x_0 + 0.6\varepsilon$.
pub const ALPHA: f64 = 0.8;
/// See [`ALPHA`].
pub const BETA: f64 = 0.6;

/// Seeds, one per role (the NumPy baseline uses the same numbers for the same roles).
pub mod seeds {
    /// W1/W2 bases.
    pub const MOLRG_BASES: u64 = 1;
    /// W1 inputs (x0 drawn first, then ε, from one stream).
    pub const W1_INPUTS: u64 = 2;
    /// W2 training set.
    pub const W2_TRAIN: u64 = 3;
    /// W2 queries.
    pub const W2_QUERIES: u64 = 4;
    /// W3 data (U, then A, then G).
    pub const W3_DATA: u64 = 5;
    /// W4 bases, then data.
    pub const W4_DATA: u64 = 6;
    /// W4 initialization perturbation.
    pub const W4_INIT: u64 = 7;
    /// W5 bases of A.
    pub const W5_BASES: u64 = 8;
    /// W5 perturbation of B's bases.
    pub const W5_PERTURB: u64 = 9;
    /// W5 noises.
    pub const W5_NOISES: u64 = 10;
    /// GEMM operands.
    pub const GEMM: u64 = 11;
    /// The tiny instances of the code warm-ups.
    pub const WARM_UP: u64 = 12;
}

/// The W1 MoLRG: d = 1024, K = 8, r = 16, bases the Q of the QR of a d × (Kr) Gaussian
/// matrix split into K blocks, π uniform.
pub fn w1_model() -> Molrg {
    let q = random_orthonormal(&mut seeded(seeds::MOLRG_BASES), W1_D, W1_K * W1_R)
        .expect("valid sizes");
    let bases: Vec<_> = (0..W1_K)
        .map(|i| q.as_ref().subcols(i * W1_R, W1_R))
        .collect();
    Molrg::uniform(&bases).expect("orthonormal bases")
}

/// `n` clean samples of `model` and the noisy `α x0 + β ε` from one seeded stream (x0 first).
fn clean_and_noisy(model: &Molrg, n: usize, seed: u64) -> (Mat<f64>, Mat<f64>) {
    let mut rng = seeded(seed);
    let x0 = model.sample_x0(&mut rng, n);
    let e = standard_normal(&mut rng, model.dim(), n);
    let xt = Mat::from_fn(model.dim(), n, |i, j| ALPHA * x0[(i, j)] + BETA * e[(i, j)]);
    (x0, xt)
}

/// $\|D - x_0\|_F^2 / B$: the denoising error per sample.
fn mse_per_sample(out: MatRef<'_, f64>, x0: MatRef<'_, f64>) -> f64 {
    let mut s = 0.0;
    for j in 0..out.ncols() {
        for i in 0..out.nrows() {
            let e = out[(i, j)] - x0[(i, j)];
            s += e * e;
        }
    }
    s / out.ncols() as f64
}

/// W1: the MoLRG posterior mean of B = 4096 noisy inputs.
pub struct W1 {
    pub model: Molrg,
    pub x: Mat<f64>,
    pub level: NoiseLevel,
}

impl Workload for W1 {
    const ID: &'static str = "W1";
    const GROUP: &'static str = "W1_molrg_posterior_mean_d1024_K8_r16_B4096";
    const FUNCTION: &'static str = "posterior_mean";
    type Output = Mat<f64>;

    fn build() -> Self {
        let model = w1_model();
        let (_, x) = clean_and_noisy(&model, W1_B, seeds::W1_INPUTS);
        Self {
            model,
            x,
            level: NoiseLevel::new(ALPHA, BETA).expect("valid level"),
        }
    }

    fn run(&self) -> Mat<f64> {
        self.model
            .posterior_mean(self.x.as_ref(), self.level)
            .expect("valid inputs")
    }

    fn input_bytes(&self) -> usize {
        f64_bytes(W1_D * W1_B + W1_D * W1_K * W1_R + W1_K)
    }

    fn output_bytes(&self, _: &Mat<f64>) -> usize {
        f64_bytes(W1_D * W1_B)
    }

    fn allowance_bytes(&self) -> usize {
        f64_bytes(W1_B * W1_K)
    }

    fn flops(&self) -> Option<f64> {
        Some(4.0 * (W1_B * W1_D * W1_K * W1_R) as f64)
    }

    fn result(&self, out: &Mat<f64>) -> Value {
        let (x0, _) = clean_and_noisy(&self.model, W1_B, seeds::W1_INPUTS);
        json!({ "mse_per_sample": mse_per_sample(out.as_ref(), x0.as_ref()) })
    }

    fn warm_up() {
        let m = tiny_molrg();
        let (_, x) = clean_and_noisy(&m, 64, seeds::WARM_UP);
        let level = NoiseLevel::new(ALPHA, BETA).expect("valid level");
        black_box(m.posterior_mean(x.as_ref(), level).expect("valid inputs"));
    }
}

/// The MoLRG of the warm-ups: d = 32, K = 2, r = 4.
fn tiny_molrg() -> Molrg {
    let q = random_orthonormal(&mut seeded(seeds::WARM_UP), 32, 8).expect("valid sizes");
    Molrg::uniform(&[q.as_ref().subcols(0, 4), q.as_ref().subcols(4, 4)]).expect("orthonormal")
}

/// W2: the empirical posterior mean over N = 8192 training points of W1's MoLRG,
/// B = 1024 queries.
pub struct W2 {
    pub model: Empirical,
    pub x: Mat<f64>,
    pub level: NoiseLevel,
}

impl Workload for W2 {
    const ID: &'static str = "W2";
    const GROUP: &'static str = "W2_empirical_posterior_mean_d1024_N8192_B1024";
    const FUNCTION: &'static str = "posterior_mean";
    type Output = Mat<f64>;

    fn build() -> Self {
        let molrg = w1_model();
        let model = {
            let train = molrg.sample_x0(&mut seeded(seeds::W2_TRAIN), W2_N);
            Empirical::new(train.as_ref()).expect("finite points")
        };
        let (_, x) = clean_and_noisy(&molrg, W2_B, seeds::W2_QUERIES);
        Self {
            model,
            x,
            level: NoiseLevel::new(ALPHA, BETA).expect("valid level"),
        }
    }

    fn run(&self) -> Mat<f64> {
        self.model
            .posterior_mean(self.x.as_ref(), self.level)
            .expect("valid inputs")
    }

    fn input_bytes(&self) -> usize {
        f64_bytes(W1_D * W2_N + W1_D * W2_B)
    }

    fn output_bytes(&self, _: &Mat<f64>) -> usize {
        f64_bytes(W1_D * W2_B)
    }

    fn allowance_bytes(&self) -> usize {
        f64_bytes(W2_B * W2_N)
    }

    fn flops(&self) -> Option<f64> {
        Some(4.0 * (W2_B * W2_N * W1_D) as f64)
    }

    fn result(&self, out: &Mat<f64>) -> Value {
        let (x0, _) = clean_and_noisy(&w1_model(), W2_B, seeds::W2_QUERIES);
        json!({ "mse_per_sample": mse_per_sample(out.as_ref(), x0.as_ref()) })
    }

    fn warm_up() {
        let m = tiny_molrg();
        let train = m.sample_x0(&mut seeded(seeds::WARM_UP), 64);
        let model = Empirical::new(train.as_ref()).expect("finite points");
        let (_, x) = clean_and_noisy(&m, 16, seeds::WARM_UP);
        let level = NoiseLevel::new(ALPHA, BETA).expect("valid level");
        black_box(
            model
                .posterior_mean(x.as_ref(), level)
                .expect("valid inputs"),
        );
    }
}

// ---------------------------------------------------------------------------
// W3: PCA of a noisy rank-16 matrix.

/// W3's sizes.
pub const W3_D: usize = 1024;
/// See [`W3_D`].
pub const W3_N: usize = 2048;
/// See [`W3_D`].
pub const W3_R: usize = 16;
/// The isotropic noise scale of W3.
pub const W3_NOISE: f64 = 1e-3;

/// W3: the top-16 left singular subspace of X = U A + 1e-3 G (1024 × 2048), by
/// `Pca::fit_truncated` (truncated subspace iteration, certified, full-SVD fallback).
pub struct W3 {
    pub x: Mat<f64>,
    pub truth: Mat<f64>,
}

impl Workload for W3 {
    const ID: &'static str = "W3";
    const GROUP: &'static str = "W3_pca_fit_d1024_N2048_r16";
    const FUNCTION: &'static str = "pca_fit";
    type Output = (Pca, TruncatedInfo);

    fn build() -> Self {
        let mut rng = seeded(seeds::W3_DATA);
        let truth = random_orthonormal(&mut rng, W3_D, W3_R).expect("valid sizes");
        let x = {
            let a = standard_normal(&mut rng, W3_R, W3_N);
            let g = standard_normal(&mut rng, W3_D, W3_N);
            let mut x = &truth * &a;
            for j in 0..W3_N {
                for i in 0..W3_D {
                    x[(i, j)] += W3_NOISE * g[(i, j)];
                }
            }
            x
        };
        Self { x, truth }
    }

    fn run(&self) -> (Pca, TruncatedInfo) {
        Pca::fit_truncated(self.x.as_ref(), W3_R).expect("valid data")
    }

    fn input_bytes(&self) -> usize {
        f64_bytes(W3_D * W3_N)
    }

    fn output_bytes(&self, (pca, _): &(Pca, TruncatedInfo)) -> usize {
        f64_bytes(pca.basis().nrows() * pca.basis().ncols() + pca.singular_values().len())
    }

    fn result(&self, (pca, info): &(Pca, TruncatedInfo)) -> Value {
        // The reference: the full thin SVD (`Pca::fit`), computed after the measurement.
        let full = Pca::fit(self.x.as_ref(), W3_R).expect("valid data");
        json!({
            "distance_to_truth": subspace_distance(pca.basis(), self.truth.as_ref()).expect("bases"),
            "distance_to_full_svd": subspace_distance(pca.basis(), full.basis()).expect("bases"),
            "iterations": info.iterations,
            "fallback": info.fallback,
            "sin_theta_bound": info.sin_theta_bound,
        })
    }

    fn warm_up() {
        let mut rng = seeded(seeds::WARM_UP);
        let u = random_orthonormal(&mut rng, 64, 4).expect("valid sizes");
        let a = standard_normal(&mut rng, 4, 128);
        let g = standard_normal(&mut rng, 64, 128);
        let x = &u * &a + &g * faer::Scale(W3_NOISE);
        black_box(Pca::fit_truncated(x.as_ref(), 4).expect("valid data"));
    }
}

// ---------------------------------------------------------------------------
// W4: K-subspaces from a fixed initialization.

/// W4's sizes.
pub const W4_D: usize = 256;
/// See [`W4_D`].
pub const W4_K: usize = 4;
/// See [`W4_D`].
pub const W4_R: usize = 8;
/// See [`W4_D`].
pub const W4_N: usize = 4000;
/// See [`W4_D`].
pub const W4_ITERS: usize = 20;
/// The perturbation of the initialization: $\mathrm{orth}(U_k + 0.3\,G_k)$.
pub const W4_INIT_SCALE: f64 = 0.3;

/// `K` orthonormal `d × r` bases from the QR of one `d × Kr` Gaussian matrix.
fn split_bases(seed: u64, d: usize, k: usize, r: usize) -> Vec<Mat<f64>> {
    let q = random_orthonormal(&mut seeded(seed), d, k * r).expect("valid sizes");
    (0..k)
        .map(|i| q.as_ref().subcols(i * r, r).to_owned())
        .collect()
}

/// `orth(U_k + scale · G_k)` for every basis, the G_k drawn in order from one stream.
fn perturbed_bases(bases: &[Mat<f64>], scale: f64, seed: u64) -> Vec<Mat<f64>> {
    let mut rng = seeded(seed);
    bases
        .iter()
        .map(|u| {
            let g = standard_normal(&mut rng, u.nrows(), u.ncols());
            let a = Mat::from_fn(u.nrows(), u.ncols(), |i, j| u[(i, j)] + scale * g[(i, j)]);
            orthonormalize(a.as_ref()).expect("full rank")
        })
        .collect()
}

fn refs(v: &[Mat<f64>]) -> Vec<MatRef<'_, f64>> {
    v.iter().map(|m| m.as_ref()).collect()
}

/// W4: K-subspaces (1 restart, ≤ 20 alternations) on N = 4000 noise-free MoLRG
/// samples with balanced labels (sample i from component i mod K).
pub struct W4 {
    pub x: Mat<f64>,
    pub truth: Vec<Mat<f64>>,
    pub init: Vec<Mat<f64>>,
}

impl Workload for W4 {
    const ID: &'static str = "W4";
    const GROUP: &'static str = "W4_ksubspaces_d256_K4_r8_N4000_iter20";
    const FUNCTION: &'static str = "ksubspaces";
    type Output = KSubspacesSolution;

    fn build() -> Self {
        let truth = split_bases(seeds::W4_DATA, W4_D, W4_K, W4_R);
        let x = {
            // A separate stream for the coefficients: a_i ~ N(0, I_r), x_i = U_{i mod K} a_i.
            let a = standard_normal(&mut seeded(seeds::W4_DATA + 100), W4_R, W4_N);
            Mat::from_fn(W4_D, W4_N, |i, j| {
                let u = &truth[j % W4_K];
                (0..W4_R).map(|l| u[(i, l)] * a[(l, j)]).sum()
            })
        };
        let init = perturbed_bases(&truth, W4_INIT_SCALE, seeds::W4_INIT);
        Self { x, truth, init }
    }

    fn run(&self) -> KSubspacesSolution {
        let solver = KSubspaces {
            restarts: 1,
            max_iter: W4_ITERS,
            ..KSubspaces::new(W4_K, W4_R)
        };
        // The generator only completes rank-deficient clusters (never needed here).
        solver
            .solve_from(
                self.x.as_ref(),
                &refs(&self.init),
                &mut seeded(seeds::W4_INIT),
            )
            .expect("valid data")
    }

    fn input_bytes(&self) -> usize {
        f64_bytes(W4_D * W4_N + W4_K * W4_D * W4_R)
    }

    fn output_bytes(&self, _: &KSubspacesSolution) -> usize {
        f64_bytes(W4_K * W4_D * W4_R + W4_N)
    }

    fn warm_up() {
        // d = 48, K = 4, r = 2, N = 400: mixed first clusters, as in W4.
        let truth = split_bases(seeds::WARM_UP, 48, W4_K, 2);
        let a = standard_normal(&mut seeded(seeds::WARM_UP), 2, 400);
        let x = Mat::from_fn(48, 400, |i, j| {
            let u = &truth[j % W4_K];
            (0..2).map(|l| u[(i, l)] * a[(l, j)]).sum()
        });
        let init = perturbed_bases(&truth, W4_INIT_SCALE, seeds::WARM_UP);
        let solver = KSubspaces {
            restarts: 1,
            max_iter: W4_ITERS,
            ..KSubspaces::new(W4_K, 2)
        };
        let mut rng = seeded(seeds::WARM_UP);
        black_box(
            solver
                .solve_from(x.as_ref(), &refs(&init), &mut rng)
                .expect("valid data"),
        );
    }

    fn result(&self, out: &KSubspacesSolution) -> Value {
        let m = match_subspaces(&refs(&out.bases), &refs(&self.truth)).expect("bases");
        json!({
            "recovery_error": m.max_distance,
            "iterations": out.info.iterations,
            "converged": out.info.converged,
        })
    }
}

// ---------------------------------------------------------------------------
// W5: PFD between two MoLRGs with EDM Heun.

/// W5's sizes.
pub const W5_D: usize = 256;
/// See [`W5_D`].
pub const W5_K: usize = 4;
/// See [`W5_D`].
pub const W5_R: usize = 8;
/// See [`W5_D`].
pub const W5_M: usize = 2000;
/// See [`W5_D`].
pub const W5_STEPS: usize = 50;
/// The starting noise scale $T = \sigma_{\max}$.
pub const W5_T: f64 = 80.0;
/// B's bases are $\mathrm{orth}(U_k + 0.05\,G_k)$.
pub const W5_PERTURB: f64 = 0.05;

/// The criterion function name of W5 with the full-dimensional sampler.
pub const W5_FULL_DIM_FUNCTION: &str = "pfd_estimate_full_dim_sampler";

/// W5: PFD between MoLRG A and a perturbed MoLRG B, VE, EDM Heun 50 steps, M = 2000.
pub struct W5 {
    pub a: Molrg,
    pub b: Molrg,
    pub grid: TimeGrid,
    pub pfd: Pfd<'static>,
    pub noises: Mat<f64>,
}

impl W5 {
    /// W5 with the full-dimensional [`Sampler`] (the reference of `run`, and a
    /// criterion function of its own).
    pub fn run_full_dim(&self) -> PfdEstimate {
        let sa = Sampler::new(&Ve, &self.a, &Heun, self.grid.clone());
        let sb = Sampler::new(&Ve, &self.b, &Heun, self.grid.clone());
        self.pfd
            .estimate_on(&sa, &sb, self.noises.as_ref())
            .expect("valid flows")
    }
}

impl Workload for W5 {
    const ID: &'static str = "W5";
    const GROUP: &'static str = "W5_pfd_d256_K4_r8_M2000_heun50";
    const FUNCTION: &'static str = "pfd_estimate";
    type Output = PfdEstimate;

    fn build() -> Self {
        let ua = split_bases(seeds::W5_BASES, W5_D, W5_K, W5_R);
        let ub = perturbed_bases(&ua, W5_PERTURB, seeds::W5_PERTURB);
        let a = Molrg::uniform(&refs(&ua)).expect("orthonormal bases");
        let b = Molrg::uniform(&refs(&ub)).expect("orthonormal bases");
        let pfd = Pfd::new(W5_T, W5_M).expect("valid estimator");
        let noises = pfd.noises(W5_D, &mut seeded(seeds::W5_NOISES));
        Self {
            a,
            b,
            grid: TimeGrid::edm(&Ve, W5_STEPS).expect("valid grid"),
            pfd,
            noises,
        }
    }

    /// Heun on both flows in the span of each model's components
    /// ([`SubspaceSampler`]: the same solver and grid, exactly equivalent in exact
    /// arithmetic; see `docs/flow.md` §4.1). [`W5::run_full_dim`] is the same
    /// estimate with the full-dimensional [`Sampler`].
    fn run(&self) -> PfdEstimate {
        let sa = SubspaceSampler::molrg(&Ve, &self.a, &Heun, self.grid.clone()).expect("Heun");
        let sb = SubspaceSampler::molrg(&Ve, &self.b, &Heun, self.grid.clone()).expect("Heun");
        self.pfd
            .estimate_on(&sa, &sb, self.noises.as_ref())
            .expect("valid flows")
    }

    fn input_bytes(&self) -> usize {
        f64_bytes(W5_D * W5_M + 2 * (W5_D * W5_K * W5_R + W5_K))
    }

    fn output_bytes(&self, out: &PfdEstimate) -> usize {
        f64_bytes(out.squared_distances.len() + 5)
    }

    fn warm_up() {
        let m = tiny_molrg();
        let grid = TimeGrid::edm(&Ve, 5).expect("valid grid");
        let s = SubspaceSampler::molrg(&Ve, &m, &Heun, grid).expect("Heun");
        let pfd = Pfd::new(W5_T, 100).expect("valid estimator");
        let noises = pfd.noises(32, &mut seeded(seeds::WARM_UP));
        black_box(
            pfd.estimate_on(&s, &s, noises.as_ref())
                .expect("valid flows"),
        );
    }

    fn result(&self, out: &PfdEstimate) -> Value {
        // The reference: the same estimate with the full-dimensional samplers.
        let full = self.run_full_dim();
        let dims = [&self.a, &self.b].map(|m| {
            SubspaceSampler::molrg(&Ve, m, &Heun, self.grid.clone())
                .expect("Heun")
                .reduced_dim()
        });
        let max_diff = out
            .squared_distances
            .iter()
            .zip(&full.squared_distances)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        json!({
            "pfd": out.estimate,
            "std_error": out.std_error,
            "interval": [out.interval.0, out.interval.1],
            "reduced_dims": dims,
            "pfd_full_dim": full.estimate,
            "max_abs_squared_distance_diff_vs_full_dim": max_diff,
        })
    }
}

// ---------------------------------------------------------------------------
// GEMM reference.

/// GEMM size.
pub const GEMM_N: usize = 2048;

/// The machine's f64 GEMM rate as this crate reaches it: C = A·B, 2048³, faer's
/// sequential kernel on the two column halves of B and C in parallel (rayon), the
/// crate's own way of using two cores (faer is built without its `rayon` feature).
pub struct Gemm {
    pub a: Mat<f64>,
    pub b: Mat<f64>,
}

impl Workload for Gemm {
    const ID: &'static str = "GEMM";
    const GROUP: &'static str = "GEMM_f64_2048";
    const FUNCTION: &'static str = "matmul_2_halves";
    type Output = Mat<f64>;

    fn build() -> Self {
        let mut rng = seeded(seeds::GEMM);
        let a = standard_normal(&mut rng, GEMM_N, GEMM_N);
        let b = standard_normal(&mut rng, GEMM_N, GEMM_N);
        Self { a, b }
    }

    fn run(&self) -> Mat<f64> {
        let mut c = Mat::<f64>::zeros(GEMM_N, GEMM_N);
        let half = GEMM_N / 2;
        let (c_left, c_right) = c.as_mut().split_at_col_mut(half);
        let (b_left, b_right) = self.b.as_ref().split_at_col(half);
        let a = self.a.as_ref();
        rayon::join(
            || matmul(c_left, Accum::Replace, a, b_left, 1.0, Par::Seq),
            || matmul(c_right, Accum::Replace, a, b_right, 1.0, Par::Seq),
        );
        c
    }

    fn input_bytes(&self) -> usize {
        f64_bytes(2 * GEMM_N * GEMM_N)
    }

    fn output_bytes(&self, _: &Mat<f64>) -> usize {
        f64_bytes(GEMM_N * GEMM_N)
    }

    fn flops(&self) -> Option<f64> {
        Some(2.0 * (GEMM_N as f64).powi(3))
    }

    fn result(&self, out: &Mat<f64>) -> Value {
        // Spot check one entry against a compensated-free dot product.
        let (i, j) = (7, 1500);
        let direct: f64 = (0..GEMM_N).map(|l| self.a[(i, l)] * self.b[(l, j)]).sum();
        json!({ "spot_check_abs_error": (out[(i, j)] - direct).abs() })
    }
}
