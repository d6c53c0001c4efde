#!/usr/bin/env python3
"""NumPy / SciPy baseline of the performance workloads W1-W5 of issue 6.

The same five workloads as `benches/common/mod.rs` (sizes, noise level, seeds per
role, algorithms), written the way a careful researcher would write them in
NumPy: batched GEMMs, a max-subtracted (stable) softmax, in-place updates where
they save a full-size temporary, and for W3 the fastest SciPy routine that is
accurate. The random streams differ from the crate's (PCG64 vs ChaCha8), so
results agree statistically, not bit for bit.

    python3 benches/numpy_baseline.py            # all workloads: JSON on stdout, a summary on stderr
    python3 benches/numpy_baseline.py --quick    # fewer repetitions
    python3 benches/numpy_baseline.py --rss W3   # one cold run in this process, peak RSS as one JSON line

Timing: each workload is run once as a warm-up, then REPEATS times; the median is
reported (REPEATS below; --quick uses QUICK_REPEATS). Inputs are built outside the
timed region. Peak RSS: every workload is re-run once in a fresh subprocess
(`--rss`) that builds its inputs, resets the kernel's peak-RSS counter (`5` into
/proc/self/clear_refs, Linux), runs once and reads VmHWM from /proc/self/status;
input / output / allowance bytes are counted as in benches/common/mod.rs.

BLAS threads are left at NumPy's default (all cores); the crate uses rayon's
default (all cores).
"""

import argparse
import gc
import json
import os
import platform
import subprocess
import sys
import time

try:
    import numpy as np
    import scipy  # noqa: F401  (W3 and W4 use scipy.linalg, scipy.sparse.linalg, scipy.optimize)
except ImportError as e:  # pragma: no cover
    sys.exit(f"numpy_baseline.py: {e}; install with `python3 -m pip install numpy scipy`")

# ---------------------------------------------------------------------------
# Definitions (identical to benches/common/mod.rs)

ALPHA, BETA = 0.8, 0.6
W1_D, W1_K, W1_R, W1_B = 1024, 8, 16, 4096
W2_N, W2_B = 8192, 1024
W3_D, W3_N, W3_R, W3_NOISE = 1024, 2048, 16, 1e-3
W3_TOL = 1e-10  # accuracy a W3 method must reach against the full-SVD answer
W4_D, W4_K, W4_R, W4_N, W4_ITERS, W4_INIT_SCALE = 256, 4, 8, 4000, 20, 0.3
W5_D, W5_K, W5_R, W5_M, W5_STEPS, W5_T, W5_PERTURB = 256, 4, 8, 2000, 50, 80.0, 0.05
EDM_SIGMA_MIN, EDM_SIGMA_MAX, EDM_RHO = 0.002, 80.0, 7.0
GEMM_N = 2048

SEEDS = dict(
    MOLRG_BASES=1, W1_INPUTS=2, W2_TRAIN=3, W2_QUERIES=4, W3_DATA=5, W4_DATA=6,
    W4_INIT=7, W5_BASES=8, W5_PERTURB=9, W5_NOISES=10, GEMM=11,
)

REPEATS = dict(W1=7, W2=5, W3=5, W4=7, W5=3, GEMM=7)
QUICK_REPEATS = dict(W1=3, W2=3, W3=3, W4=3, W5=3, GEMM=3)


def rng(seed):
    return np.random.default_rng(seed)


def orth(a):
    """Sign-fixed Q of the thin QR (diag(R) > 0), as the crate's `orthonormalize`."""
    q, r = np.linalg.qr(a)
    return q * np.where(np.diag(r) < 0.0, -1.0, 1.0)


def split_bases(seed, d, k, r):
    q = orth(rng(seed).standard_normal((d, k * r)))
    return [np.ascontiguousarray(q[:, i * r:(i + 1) * r]) for i in range(k)]


def perturbed_bases(bases, scale, seed):
    g = rng(seed)
    return [orth(u + scale * g.standard_normal(u.shape)) for u in bases]


def f64_bytes(n):
    return 8 * int(n)


# ---------------------------------------------------------------------------
# The MoLRG posterior mean (Lambda_k = I, common rank r), vectorised over a batch.

class Molrg:
    def __init__(self, bases, weights=None):
        self.k = len(bases)
        self.r = bases[0].shape[1]
        self.d = bases[0].shape[0]
        self.U = np.ascontiguousarray(np.hstack(bases))  # d x Kr
        w = np.full(self.k, 1.0 / self.k) if weights is None else np.asarray(weights, float)
        self.weights = w
        self.log_pi = np.log(w)

    def sample_x0(self, g, n):
        labels = g.choice(self.k, size=n, p=self.weights)
        a = g.standard_normal((self.r, n))
        c = np.zeros((self.k * self.r, n))
        for k in range(self.k):
            idx = labels == k
            c[k * self.r:(k + 1) * self.r, idx] = a[:, idx]
        return self.U @ c

    def posterior_mean(self, x, alpha, beta):
        """E[x0 | x_t = x] for every column of x (d x B).

        logit_k = log pi_k - r/2 log((a^2+b^2)/b^2) + a^2 ||U_k^T x||^2 / (2 b^2 (a^2+b^2))
        (the terms common to all k dropped), w = softmax(logits) with the max
        subtracted, E[x0|x] = sum_k w_k a/(a^2+b^2) U_k U_k^T x.
        """
        a2, b2 = alpha * alpha, beta * beta
        kappa = a2 / (2.0 * b2 * (a2 + b2))
        gain = alpha / (a2 + b2)
        offset = self.log_pi - 0.5 * self.r * np.log((a2 + b2) / b2)
        c = self.U.T @ x  # Kr x B, one GEMM
        cb = c.reshape(self.k, self.r, -1)
        logits = np.einsum("krb,krb->kb", cb, cb)  # K x B, no Kr x B temporary
        logits *= kappa
        logits += offset[:, None]
        logits -= logits.max(axis=0, keepdims=True)
        np.exp(logits, out=logits)
        logits *= gain / logits.sum(axis=0, keepdims=True)
        cb *= logits[:, None, :]  # in place: c <- w_k g c
        return self.U @ c  # one GEMM


def w1_model():
    q = orth(rng(SEEDS["MOLRG_BASES"]).standard_normal((W1_D, W1_K * W1_R)))
    return Molrg([q[:, i * W1_R:(i + 1) * W1_R] for i in range(W1_K)])


def clean_and_noisy(model, n, seed):
    g = rng(seed)
    x0 = model.sample_x0(g, n)
    e = g.standard_normal((model.d, n))
    return x0, ALPHA * x0 + BETA * e


def mse_per_sample(out, x0):
    return float(np.sum((out - x0) ** 2) / out.shape[1])


# ---------------------------------------------------------------------------
# Workloads: build() -> state; run(state) -> output; result(state, output) -> dict.

class W1:
    ID = "W1"

    def build(self):
        self.model = w1_model()
        _, self.x = clean_and_noisy(self.model, W1_B, SEEDS["W1_INPUTS"])

    def run(self):
        return self.model.posterior_mean(self.x, ALPHA, BETA)

    def input_bytes(self):
        return f64_bytes(W1_D * W1_B + W1_D * W1_K * W1_R + W1_K)

    def output_bytes(self, out):
        return f64_bytes(out.size)

    def allowance_bytes(self):
        return f64_bytes(W1_B * W1_K)

    def flops(self):
        return 4.0 * W1_B * W1_D * W1_K * W1_R

    def result(self, out):
        x0, _ = clean_and_noisy(self.model, W1_B, SEEDS["W1_INPUTS"])
        return {"mse_per_sample": mse_per_sample(out, x0)}


class W2:
    ID = "W2"

    def build(self):
        molrg = w1_model()
        self.points = molrg.sample_x0(rng(SEEDS["W2_TRAIN"]), W2_N)  # d x N
        # Part of the model, as in the crate's Empirical::new (not timed).
        self.sq_norms = np.einsum("ij,ij->j", self.points, self.points)
        _, self.x = clean_and_noisy(molrg, W2_B, SEEDS["W2_QUERIES"])

    def run(self):
        """E[x0|x_t] = sum_i w_i x_i, w = softmax_i(-||x_t - a x_i||^2 / (2 b^2)).

        GEMM expansion ||x_t - a x_i||^2 = ||x_t||^2 - 2a x_i^T x_t + a^2 ||x_i||^2; the first
        term is common to every i and cancels in the softmax. One N x B block, updated
        in place.
        """
        a, b2 = ALPHA, BETA * BETA
        logits = self.points.T @ self.x  # N x B, one GEMM
        logits *= a / b2
        logits -= (a * a / (2.0 * b2)) * self.sq_norms[:, None]
        logits -= logits.max(axis=0, keepdims=True)
        np.exp(logits, out=logits)
        logits /= logits.sum(axis=0, keepdims=True)
        return self.points @ logits  # one GEMM

    def input_bytes(self):
        return f64_bytes(W1_D * W2_N + W1_D * W2_B)

    def output_bytes(self, out):
        return f64_bytes(out.size)

    def allowance_bytes(self):
        return f64_bytes(W2_B * W2_N)

    def flops(self):
        return 4.0 * W2_B * W2_N * W1_D

    def result(self, out):
        x0, _ = clean_and_noisy(w1_model(), W2_B, SEEDS["W2_QUERIES"])
        return {"mse_per_sample": mse_per_sample(out, x0)}


def subspace_distance(u, v):
    """||U U^T - V V^T||_F from the residuals (no cancellation for close subspaces)."""
    ru = v - u @ (u.T @ v)
    rv = u - v @ (v.T @ u)
    return float(np.sqrt(np.sum(ru * ru) + np.sum(rv * rv)))


def w3_numpy_svd(x):
    return np.linalg.svd(x, full_matrices=False)[0][:, :W3_R]


def w3_scipy_gesdd(x):
    import scipy.linalg
    return scipy.linalg.svd(x, full_matrices=False, lapack_driver="gesdd",
                            check_finite=False)[0][:, :W3_R]


def w3_scipy_svds(x):
    import scipy.sparse.linalg
    u, s, _ = scipy.sparse.linalg.svds(x, k=W3_R, random_state=0)
    return u[:, np.argsort(s)[::-1]]


def w3_randomized(x, oversample=8, power=2):
    """Randomized subspace iteration (Halko, Martinsson, Tropp 2011, Alg. 4.4) with
    QR re-orthonormalisation after every product, then a small SVD."""
    g = rng(12)
    q, _ = np.linalg.qr(x @ g.standard_normal((x.shape[1], W3_R + oversample)))
    for _ in range(power):
        z, _ = np.linalg.qr(x.T @ q)
        q, _ = np.linalg.qr(x @ z)
    ub = np.linalg.svd(q.T @ x, full_matrices=False)[0]
    return q @ ub[:, :W3_R]


def w3_gram_eigh(x):
    """Eigenvectors of X X^T: squares the condition number (not accurate in general);
    timed for information only, never chosen as the baseline."""
    import scipy.linalg
    s = x @ x.T
    _, v = scipy.linalg.eigh(s, subset_by_index=[W3_D - W3_R, W3_D - 1], check_finite=False)
    return v[:, ::-1]


W3_METHODS = {
    "numpy.linalg.svd": (w3_numpy_svd, True),
    "scipy.linalg.svd(gesdd)": (w3_scipy_gesdd, True),
    "scipy.sparse.linalg.svds(k=16)": (w3_scipy_svds, True),
    "randomized_subspace_iteration(p=8,q=2)": (w3_randomized, True),
    "gram_eigh(X X^T) [info only]": (w3_gram_eigh, False),
}


class W3:
    ID = "W3"
    method = "numpy.linalg.svd"

    def build(self):
        g = rng(SEEDS["W3_DATA"])
        self.truth = orth(g.standard_normal((W3_D, W3_R)))
        a = g.standard_normal((W3_R, W3_N))
        self.x = self.truth @ a
        self.x += W3_NOISE * g.standard_normal((W3_D, W3_N))

    def run(self):
        return W3_METHODS[self.method][0](self.x)

    def input_bytes(self):
        return f64_bytes(W3_D * W3_N)

    def output_bytes(self, out):
        # The basis and the min(d, N) singular values, as the crate's Pca.
        return f64_bytes(out.size + min(W3_D, W3_N))

    def allowance_bytes(self):
        return 0

    def flops(self):
        return None

    def result(self, out, reference=None):
        if reference is None:
            reference = w3_numpy_svd(self.x)
        return {
            "distance_to_truth": subspace_distance(out, self.truth),
            "distance_to_full_svd": subspace_distance(out, reference),
        }


def hungarian_max_distance(est, truth):
    from scipy.optimize import linear_sum_assignment
    dist = np.array([[subspace_distance(e, t) for e in est] for t in truth])
    rows, cols = linear_sum_assignment(dist ** 2)
    return float(dist[rows, cols].max())


class W4:
    ID = "W4"

    def build(self):
        self.truth = split_bases(SEEDS["W4_DATA"], W4_D, W4_K, W4_R)
        a = rng(SEEDS["W4_DATA"] + 100).standard_normal((W4_R, W4_N))
        labels = np.arange(W4_N) % W4_K  # balanced: sample i from component i mod K
        c = np.zeros((W4_K * W4_R, W4_N))
        for k in range(W4_K):
            c[k * W4_R:(k + 1) * W4_R, labels == k] = a[:, labels == k]
        self.x = np.hstack(self.truth) @ c
        self.init = perturbed_bases(self.truth, W4_INIT_SCALE, SEEDS["W4_INIT"])

    def run(self):
        """K-subspaces: assign by max_k ||U_k^T x||^2 (one GEMM for all k), per-cluster
        thin SVD; stop when the labels repeat or after W4_ITERS updates."""
        x, k, r = self.x, W4_K, W4_R
        bases = list(self.init)
        prev, iterations, converged = None, 0, False
        g = rng(SEEDS["W4_INIT"] + 100)
        while True:
            c = np.hstack(bases).T @ x
            cb = c.reshape(k, r, -1)
            proj = np.einsum("krn,krn->kn", cb, cb)
            labels = proj.argmax(axis=0)
            if prev is not None and np.array_equal(labels, prev):
                converged = True
                break
            if iterations >= W4_ITERS:
                break
            new = []
            for j in range(k):
                xk = x[:, labels == j]
                if xk.shape[1] == 0:  # empty cluster: re-seed at the worst-fit point
                    res = np.sum(x * x, axis=0) - proj[labels, np.arange(x.shape[1])]
                    xk = x[:, [int(np.argmax(res))]]
                u = np.linalg.svd(xk, full_matrices=False)[0][:, :r]
                if u.shape[1] < r:  # fewer points than r: complete at random
                    extra = g.standard_normal((x.shape[0], r - u.shape[1]))
                    extra -= u @ (u.T @ extra)
                    u = np.hstack([u, orth(extra)])
                new.append(u)
            bases, prev, iterations = new, labels, iterations + 1
        objective = float(proj[labels, np.arange(x.shape[1])].sum() / x.shape[1])
        return bases, labels, objective, iterations, converged

    def input_bytes(self):
        return f64_bytes(W4_D * W4_N + W4_K * W4_D * W4_R)

    def output_bytes(self, out):
        return f64_bytes(W4_K * W4_D * W4_R + W4_N)

    def allowance_bytes(self):
        return 0

    def flops(self):
        return None

    def result(self, out):
        bases, _, _, iterations, converged = out
        return {
            "recovery_error": hungarian_max_distance(bases, self.truth),
            "iterations": iterations,
            "converged": converged,
        }


def edm_sigmas(steps):
    """Karras et al. 2022 grid: `steps` levels from sigma_max to sigma_min, then 0."""
    i = np.arange(steps)
    lo, hi = EDM_SIGMA_MIN ** (1 / EDM_RHO), EDM_SIGMA_MAX ** (1 / EDM_RHO)
    s = (hi + i / (steps - 1) * (lo - hi)) ** EDM_RHO
    return np.append(s, 0.0)


def heun_ve(model, x, sigmas):
    """EDM Heun in VE (dx/dsigma = (x - D(x, sigma))/sigma), Euler last step to 0,
    whose result is D(x, sigma_n)."""
    x = x.copy()
    for s, s_next in zip(sigmas[:-1], sigmas[1:]):
        den = model.posterior_mean(x, 1.0, s)
        if s_next == 0.0:
            return den
        h = s_next - s
        d1 = (x - den) / s
        xe = x + h * d1
        d2 = (xe - model.posterior_mean(xe, 1.0, s_next)) / s_next
        x += (0.5 * h) * (d1 + d2)
    return x


class W5:
    ID = "W5"

    def build(self):
        ua = split_bases(SEEDS["W5_BASES"], W5_D, W5_K, W5_R)
        ub = perturbed_bases(ua, W5_PERTURB, SEEDS["W5_PERTURB"])
        self.a, self.b = Molrg(ua), Molrg(ub)
        self.sigmas = edm_sigmas(W5_STEPS)
        self.noises = W5_T * rng(SEEDS["W5_NOISES"]).standard_normal((W5_D, W5_M))

    def run(self):
        fa = heun_ve(self.a, self.noises, self.sigmas)
        fb = heun_ve(self.b, self.noises, self.sigmas)
        fa -= fb
        delta = np.einsum("ij,ij->j", fa, fa)
        m = delta.size
        mean = float(delta.mean())
        se2 = float(np.sqrt(delta.var(ddof=1) / m))
        est = float(np.sqrt(mean))
        z = 1.959963984540054
        return {
            "squared_distances": delta,
            "estimate": est,
            "std_error": 0.0 if se2 == 0.0 else se2 / (2.0 * est),
            "interval": [float(np.sqrt(max(mean - z * se2, 0.0))), float(np.sqrt(mean + z * se2))],
        }

    def input_bytes(self):
        return f64_bytes(W5_D * W5_M + 2 * (W5_D * W5_K * W5_R + W5_K))

    def output_bytes(self, out):
        return f64_bytes(out["squared_distances"].size + 5)

    def allowance_bytes(self):
        return 0

    def flops(self):
        return None

    def result(self, out):
        return {"pfd": out["estimate"], "std_error": out["std_error"], "interval": out["interval"]}


class Gemm:
    ID = "GEMM"

    def build(self):
        g = rng(SEEDS["GEMM"])
        self.a = g.standard_normal((GEMM_N, GEMM_N))
        self.b = g.standard_normal((GEMM_N, GEMM_N))

    def run(self):
        return self.a @ self.b

    def input_bytes(self):
        return f64_bytes(2 * GEMM_N * GEMM_N)

    def output_bytes(self, out):
        return f64_bytes(out.size)

    def allowance_bytes(self):
        return 0

    def flops(self):
        return 2.0 * GEMM_N ** 3

    def result(self, out):
        i, j = 7, 1500
        return {"spot_check_abs_error": float(abs(out[i, j] - np.dot(self.a[i], self.b[:, j])))}


WORKLOADS = {c.ID: c for c in (W1, W2, W3, W4, W5, Gemm)}

# ---------------------------------------------------------------------------
# Measurement


def status_bytes(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def timed(fn, repeats):
    fn()  # warm-up (BLAS threads, page faults, lazy imports)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times)), times


def rss_child(wid, w3_method):
    """One cold run in this process; print one JSON line."""
    if wid in ("W3", "W4"):
        import scipy.linalg  # noqa: F401  (imports are process overhead, not workload memory)
        import scipy.optimize  # noqa: F401
        import scipy.sparse.linalg  # noqa: F401
    baseline = status_bytes("VmRSS")
    w = WORKLOADS[wid]()
    if w3_method:
        w.method = w3_method
    w.build()
    gc.collect()
    at_start = status_bytes("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    t = time.perf_counter()
    out = w.run()
    seconds = time.perf_counter() - t
    peak = status_bytes("VmHWM")
    inp, outb, allow = w.input_bytes(), w.output_bytes(out), w.allowance_bytes()
    print(json.dumps({
        "workload": wid,
        "seconds": seconds,
        "peak_rss_bytes": peak,
        "baseline_rss_bytes": baseline,
        "rss_at_start_bytes": at_start,
        "input_bytes": inp,
        "output_bytes": outb,
        "extra_allowance_bytes": allow,
        "budget_bytes": 1.5 * (inp + outb + allow),
        "method": w3_method,
        "result": w.result(out),
    }))


def measure_rss(wid, w3_method=None):
    cmd = [sys.executable, os.path.abspath(__file__), "--rss", wid]
    if w3_method:
        cmd += ["--w3-method", w3_method]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    ap.add_argument("--rss", metavar="ID", choices=sorted(WORKLOADS), help="one cold run with peak RSS")
    ap.add_argument("--w3-method", choices=sorted(W3_METHODS), help="W3 method for --rss")
    ap.add_argument("--only", nargs="*", choices=sorted(WORKLOADS), help="run only these workloads")
    args = ap.parse_args()
    if args.rss:
        rss_child(args.rss, args.w3_method)
        return

    repeats = QUICK_REPEATS if args.quick else REPEATS
    import scipy
    report = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "processor": platform.processor(),
                    "blas_threads_env": {k: os.environ.get(k) for k in
                                         ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}},
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "timing": "median of `repeats` runs after one warm-up run",
        "workloads": {},
    }
    ids = args.only or list(WORKLOADS)
    for wid in ids:
        w = WORKLOADS[wid]()
        w.build()
        n = repeats[wid]
        entry = {"repeats": n}
        if wid == "W3":
            reference = w3_numpy_svd(w.x)
            methods = {}
            for name, (fn, eligible) in W3_METHODS.items():
                med, times = timed(lambda: fn(w.x), n)
                res = w.result(fn(w.x), reference)
                ok = eligible and res["distance_to_full_svd"] <= W3_TOL
                methods[name] = {"median_seconds": med, "times": times, "eligible": eligible,
                                 "accurate": res["distance_to_full_svd"] <= W3_TOL, **res}
                log(f"W3  {name:42s} {med:9.4f} s  dist(full SVD) {res['distance_to_full_svd']:.2e}"
                    f"  dist(truth) {res['distance_to_truth']:.2e}  {'candidate' if ok else 'not eligible'}")
            best = min((m for m in methods if methods[m]["eligible"] and methods[m]["accurate"]),
                       key=lambda m: methods[m]["median_seconds"])
            entry.update(methods=methods, method=best,
                         median_seconds=methods[best]["median_seconds"], times=methods[best]["times"],
                         result={k: methods[best][k] for k in ("distance_to_truth", "distance_to_full_svd")})
            w.method = best
        else:
            med, times = timed(w.run, n)
            entry.update(median_seconds=med, times=times, result=w.result(w.run()))
        flops = w.flops()
        entry["flops"] = flops
        entry["gflops"] = flops / entry["median_seconds"] / 1e9 if flops else None
        del w
        gc.collect()
        entry["rss"] = measure_rss(wid, entry.get("method"))
        report["workloads"][wid] = entry
        g = f"  {entry['gflops']:6.1f} GFLOP/s" if entry["gflops"] else ""
        log(f"{wid:4s} median {entry['median_seconds']:9.4f} s over {n}{g}"
            f"  peak RSS {entry['rss']['peak_rss_bytes'] / 2**20:7.1f} MiB"
            f" (budget {entry['rss']['budget_bytes'] / 2**20:7.1f} MiB)  {json.dumps(entry['result'])}")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
