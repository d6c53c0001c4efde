"""Overhead of the Python package against the Rust call and the CLI round trip.

Writes two MoLRG model files (d = 16: K = 2 components of rank 3; d = 1024: K = 4 of rank 16)
and inputs (1, 16) and (4096, 1024), then times, at alpha = 0.8, beta = 0.6:

* Python: 10 000 calls of ``model.posterior_mean`` on the (1, 16) input, one call on
  (4096, 1024) (best of 3);
* Rust: the same calls from Rust (``--rust BIN``: the `overhead` example, built with
  ``cargo build --release -p diffusion-lowdim-python --example overhead``);
* CLI: ``diffusion-lowdim eval posterior-mean`` on the same files (``--cli BIN``), 20 runs
  for the small input, 1 for the large one (process start, reading and writing .npy files).

Run: ``python examples/overhead.py --rust target/release/examples/overhead --cli target/release/diffusion-lowdim``
"""

import argparse
import json
import os
import subprocess
import tempfile
import time

import numpy as np

import diffusion_lowdim as dl


def write_molrg(dir, d, k, r, seed):
    os.makedirs(dir)
    rng = np.random.default_rng(seed)
    q = np.linalg.qr(rng.normal(size=(d, k * r)))[0]
    comps = []
    for j in range(k):
        np.save(os.path.join(dir, f"U{j}.npy"), np.ascontiguousarray(q[:, j * r:(j + 1) * r]))
        comps.append({"basis": f"U{j}.npy"})
    man = {"format": "diffusion-lowdim/model", "schema_version": 1, "kind": "molrg",
           "weights": [1.0 / k] * k, "components": comps}
    with open(os.path.join(dir, "model.json"), "w") as f:
        json.dump(man, f)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rust")
    ap.add_argument("--cli")
    ap.add_argument("--calls", type=int, default=10_000)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp()
    write_molrg(os.path.join(tmp, "small"), 16, 2, 3, 0)
    write_molrg(os.path.join(tmp, "large"), 1024, 4, 16, 1)
    rng = np.random.default_rng(2)
    xs, xl = rng.normal(size=(1, 16)), rng.normal(size=(4096, 1024))
    np.save(os.path.join(tmp, "small_x.npy"), xs)
    np.save(os.path.join(tmp, "large_x.npy"), xl)
    small = dl.load_model(os.path.join(tmp, "small/model.json"))
    large = dl.load_model(os.path.join(tmp, "large/model.json"))
    out = {}
    for _ in range(100):
        small.posterior_mean(xs, 0.8, 0.6)
    t = time.perf_counter()
    for _ in range(args.calls):
        small.posterior_mean(xs, 0.8, 0.6)
    out["python_small_per_call"] = (time.perf_counter() - t) / args.calls
    large.posterior_mean(xl, 0.8, 0.6)
    best = []
    for _ in range(3):
        t = time.perf_counter()
        large.posterior_mean(xl, 0.8, 0.6)
        best.append(time.perf_counter() - t)
    out["python_large_call"] = min(best)
    if args.rust:
        r = json.loads(subprocess.run([args.rust, tmp], check=True, capture_output=True, text=True).stdout)
        out["rust_small_per_call"] = r["small_per_call"]
        out["rust_large_call"] = r["large_call"]
    if args.cli:
        def cli(name, n):
            cmd = [args.cli, "eval", "posterior-mean", "--model", f"{name}/model.json",
                   "--x", f"{name}_x.npy", "--alpha", "0.8", "--beta", "0.6",
                   "--out", f"out_{name}.npy"]
            if os.path.exists(os.path.join(tmp, f"out_{name}.npy")):
                os.remove(os.path.join(tmp, f"out_{name}.npy"))
            times = []
            for _ in range(n):
                if os.path.exists(os.path.join(tmp, f"out_{name}.npy")):
                    os.remove(os.path.join(tmp, f"out_{name}.npy"))
                t = time.perf_counter()
                subprocess.run(cmd, cwd=tmp, check=True, capture_output=True)
                times.append(time.perf_counter() - t)
            return float(np.median(times))
        out["cli_small_per_call"] = cli("small", 20)
        out["cli_large_call"] = cli("large", 1)
        # Same numbers through both paths.
        assert np.load(os.path.join(tmp, "out_small.npy")).tobytes() == small.posterior_mean(xs, 0.8, 0.6).tobytes()
    print(json.dumps(out, indent=1))
    if "rust_small_per_call" in out:
        print(f"python overhead per small call: {1e6 * (out['python_small_per_call'] - out['rust_small_per_call']):.2f} us")
        print(f"python overhead on the large call: {1e3 * (out['python_large_call'] - out['rust_large_call']):.2f} ms")
    return out


if __name__ == "__main__":
    main()
