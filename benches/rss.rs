//! Peak resident memory of one run of a workload (Linux).
//!
//! `cargo bench --bench rss -- W3` builds W3's inputs (every temporary dropped),
//! resets the kernel's peak-RSS counter (`5` into `/proc/self/clear_refs`), runs
//! the workload once, reads `VmHWM` from `/proc/self/status`, and prints one JSON
//! line. Without a workload id it runs W1…W5, each in a fresh child process, so
//! that no workload sees another's freed-but-resident memory.
//!
//! Before the baseline is read, the workload's code runs once on a tiny instance
//! ([`Workload::warm_up`], at most a few hundred KiB of data): the pages of the
//! executable that the run executes are then part of the baseline, as NumPy's
//! code is after its import, and not counted as workload memory. `--cold`
//! skips that warm-up (then the code pages the run touches first count too;
//! `compare.py` reports both).
//!
//! Printed fields: `workload`, `code_warm_up` (false with `--cold`), `seconds`
//! (this single run), `peak_rss_bytes`
//! (`VmHWM`: the whole process, including the resident inputs), `baseline_rss_bytes`
//! (`VmRSS` before the inputs were built: code, libraries, allocator, the warmed
//! rayon pool and faer's per-thread GEMM workspace), `rss_at_start_bytes` (`VmRSS` when the counter was reset),
//! `input_bytes`, `output_bytes`, `extra_allowance_bytes` (B×N×8 for W2, B×K×8 for
//! W1, 0 otherwise), `budget_bytes` = 1.5 × (inputs + outputs + allowance), and the
//! workload's `result`. What counts as input and output for each workload is
//! documented in `benches/common/mod.rs`.

mod common;

use std::process::Command;
use std::time::Instant;

use common::{Gemm, W1, W2, W3, W4, W5, Workload, run_black_box};
use serde_json::json;

/// A `kB` field of `/proc/self/status`, in bytes.
fn status_bytes(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status (Linux)");
    let line = status
        .lines()
        .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))
        .unwrap_or_else(|| panic!("{field} in /proc/self/status"));
    let kb: u64 = line[field.len() + 1..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .expect("a number of kB");
    kb * 1024
}

fn measure<W: Workload>() {
    // Start the rayon pool first: its threads are process overhead, not workload
    // memory. Likewise faer's GEMM packing workspace: a fixed few MiB per thread,
    // allocated on a thread's first GEMM and kept for the thread's life, whatever
    // the workload (NumPy's baseline likewise holds OpenBLAS's buffers).
    // The warm-up matrices stay alive to the end (`_keep`): freeing them would
    // leave their pages to the workload's own allocations (and move glibc's
    // mmap threshold), hiding workload memory from the count.
    let a = faer::Mat::<f64>::from_fn(768, 768, |i, j| ((i * 7 + j * 13) % 17) as f64);
    let warm = || diffusion_lowdim::linalg::mul(a.as_ref(), a.as_ref());
    let _keep = (rayon::broadcast(|_| warm()), warm());
    let code_warm_up = !std::env::args().any(|a| a == "--cold");
    if code_warm_up {
        W::warm_up();
    }
    let baseline = status_bytes("VmRSS");
    let w = W::build();
    let at_start = status_bytes("VmRSS");
    std::fs::write("/proc/self/clear_refs", "5")
        .expect("reset the peak RSS (/proc/self/clear_refs)");
    let t = Instant::now();
    let out = run_black_box(&w);
    let seconds = t.elapsed().as_secs_f64();
    let peak = status_bytes("VmHWM");
    let (input, output, allowance) = (w.input_bytes(), w.output_bytes(&out), w.allowance_bytes());
    let budget = 1.5 * (input + output + allowance) as f64;
    let line = json!({
        "workload": W::ID,
        "code_warm_up": code_warm_up,
        "group": W::GROUP,
        "seconds": seconds,
        "peak_rss_bytes": peak,
        "baseline_rss_bytes": baseline,
        "rss_at_start_bytes": at_start,
        "input_bytes": input,
        "output_bytes": output,
        "extra_allowance_bytes": allowance,
        "budget_bytes": budget,
        "flops": w.flops(),
        "result": w.result(&out),
    });
    println!("{line}");
}

const IDS: [&str; 6] = [W1::ID, W2::ID, W3::ID, W4::ID, W5::ID, Gemm::ID];

fn main() {
    // `cargo bench` passes `--bench` (and criterion-style flags); the first other
    // argument names the workload.
    let id = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    match id.as_deref() {
        Some("W1") => measure::<W1>(),
        Some("W2") => measure::<W2>(),
        Some("W3") => measure::<W3>(),
        Some("W4") => measure::<W4>(),
        Some("W5") => measure::<W5>(),
        Some("GEMM") => measure::<Gemm>(),
        Some(other) => {
            eprintln!("rss: unknown workload {other:?}; expected one of {IDS:?}");
            std::process::exit(2);
        }
        None => {
            let exe = std::env::current_exe().expect("path of this bench binary");
            for id in &IDS[..5] {
                let status = Command::new(&exe)
                    .arg(id)
                    .args(std::env::args().filter(|a| a == "--cold"))
                    .status()
                    .expect("run the bench binary");
                if !status.success() {
                    std::process::exit(status.code().unwrap_or(1));
                }
            }
        }
    }
}
