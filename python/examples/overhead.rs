//! The Rust side of the overhead measurement (python/examples/overhead.py): the time of the
//! crate's own `posterior_mean` on the same model files and inputs as the Python calls.
//!
//! `DIR` holds `small/model.json` with `small_x.npy` (1, 16) and `large/model.json` with
//! `large_x.npy` (4096, 1024), at alpha = 0.8, beta = 0.6. Prints JSON: seconds per call.

use std::path::PathBuf;
use std::time::Instant;

use diffusion_lowdim::NoiseLevel;
use diffusion_lowdim::io::{model_file, npy};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(std::env::args().nth(1).ok_or("usage: overhead DIR")?);
    let level = NoiseLevel::new(0.8, 0.6)?;
    let small = model_file::load(&dir.join("small/model.json"))?;
    let xs_path = dir.join("small_x.npy");
    let xs = npy::read(&xs_path)?.to_batch(&xs_path, "x", Some(16))?;
    let m = small.model.exact();
    let calls = 10_000;
    // Warm-up, then the timed loop (the result is kept so the call is not optimized away).
    let mut sink = 0.0;
    for _ in 0..100 {
        sink += m.posterior_mean(xs.as_ref(), level)?[(0, 0)];
    }
    let t = Instant::now();
    for _ in 0..calls {
        sink += m.posterior_mean(xs.as_ref(), level)?[(0, 0)];
    }
    let per_small = t.elapsed().as_secs_f64() / calls as f64;
    let large = model_file::load(&dir.join("large/model.json"))?;
    let xl_path = dir.join("large_x.npy");
    let xl = npy::read(&xl_path)?.to_batch(&xl_path, "x", Some(1024))?;
    let ml = large.model.exact();
    sink += ml.posterior_mean(xl.as_ref(), level)?[(0, 0)];
    let t = Instant::now();
    sink += ml.posterior_mean(xl.as_ref(), level)?[(0, 0)];
    let large_call = t.elapsed().as_secs_f64();
    println!(
        "{{\"small_per_call\": {per_small:e}, \"large_call\": {large_call:e}, \"sink\": {}}}",
        sink.is_finite()
    );
    Ok(())
}
