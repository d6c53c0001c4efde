//! The performance workloads W1–W5 of issue 6 and the GEMM reference, one criterion
//! group per workload. Definitions (sizes, seeds, the timed call) live in
//! `benches/common/mod.rs`, shared with the `rss` bench; `benches/numpy_baseline.py`
//! implements the same workloads in NumPy and `python3 benches/compare.py` runs
//! everything side by side.
//!
//! Inputs are built outside the timed closure; inputs and outputs pass through
//! `black_box`. Every workload takes at least tens of milliseconds, so each group
//! uses flat sampling with the minimum of 10 samples.

mod common;

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};

use common::{Gemm, W1, W2, W3, W4, W5, W5_FULL_DIM_FUNCTION, Workload, run_black_box};

fn bench<W: Workload>(c: &mut Criterion) {
    let w = W::build();
    let mut g = c.benchmark_group(W::GROUP);
    g.sample_size(10);
    g.sampling_mode(SamplingMode::Flat);
    g.bench_function(W::FUNCTION, |b| b.iter(|| run_black_box(&w)));
    g.finish();
}

/// W5 once more with the full-dimensional sampler, for comparison (the `W5`
/// group's second function).
fn bench_w5_full_dim(c: &mut Criterion) {
    let w = W5::build();
    let mut g = c.benchmark_group(W5::GROUP);
    g.sample_size(10);
    g.sampling_mode(SamplingMode::Flat);
    g.bench_function(W5_FULL_DIM_FUNCTION, |b| {
        b.iter(|| std::hint::black_box(std::hint::black_box(&w).run_full_dim()))
    });
    g.finish();
}

criterion_group!(
    benches,
    bench::<W1>,
    bench::<W2>,
    bench::<W3>,
    bench::<W4>,
    bench::<W5>,
    bench_w5_full_dim,
    bench::<Gemm>
);
criterion_main!(benches);
