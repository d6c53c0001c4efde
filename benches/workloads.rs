//! The performance workloads W1–W5 of the performance issue, one criterion
//! group per workload. Sizes and seeds match `benches/numpy_baseline.py`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use diffusion_lowdim::linalg::random_orthonormal;
use diffusion_lowdim::model::{Denoiser, ExactModel};
use diffusion_lowdim::rng::{seeded, standard_normal};
use diffusion_lowdim::{Empirical, Molrg, NoiseLevel};
use faer::Mat;

/// W1's MoLRG: d = 1024, K = 8, r = 16, bases from the QR of a d × (Kr) Gaussian matrix.
fn w1_model() -> Molrg {
    let (d, k, r) = (1024, 8, 16);
    let q = random_orthonormal(&mut seeded(1), d, k * r).unwrap();
    let bases: Vec<_> = (0..k).map(|i| q.as_ref().subcols(i * r, r)).collect();
    Molrg::uniform(&bases).unwrap()
}

fn noisy(model: &Molrg, n: usize, seed: u64, alpha: f64, beta: f64) -> Mat<f64> {
    let mut rng = seeded(seed);
    let x0 = model.sample_x0(&mut rng, n);
    let e = standard_normal(&mut rng, model.dim(), n);
    Mat::from_fn(model.dim(), n, |i, j| alpha * x0[(i, j)] + beta * e[(i, j)])
}

fn w1_molrg_posterior_mean(c: &mut Criterion) {
    let model = w1_model();
    let x = noisy(&model, 4096, 2, 0.8, 0.6);
    let level = NoiseLevel::new(0.8, 0.6).unwrap();
    let mut g = c.benchmark_group("W1_molrg_posterior_mean_d1024_K8_r16_B4096");
    g.sample_size(10);
    g.bench_function("posterior_mean", |b| {
        b.iter(|| black_box(model.posterior_mean(black_box(x.as_ref()), level).unwrap()))
    });
    g.finish();
}

fn w2_empirical_posterior_mean(c: &mut Criterion) {
    let model = w1_model();
    let train = model.sample_x0(&mut seeded(3), 8192);
    let emp = Empirical::new(train.as_ref()).unwrap();
    let x = noisy(&model, 1024, 4, 0.8, 0.6);
    let level = NoiseLevel::new(0.8, 0.6).unwrap();
    let mut g = c.benchmark_group("W2_empirical_posterior_mean_d1024_N8192_B1024");
    g.sample_size(10);
    g.bench_function("posterior_mean", |b| {
        b.iter(|| black_box(emp.posterior_mean(black_box(x.as_ref()), level).unwrap()))
    });
    g.finish();
}

criterion_group!(
    benches,
    w1_molrg_posterior_mean,
    w2_empirical_posterior_mean
);
criterion_main!(benches);
