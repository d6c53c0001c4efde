#!/usr/bin/env python3
"""A real client of the golden suite, in numpy only (what a PyTorch/JAX user would write).

It exports a golden suite with the diffusion-lowdim binary, computes every case
with its own numpy code (model files read with json + numpy.load), and checks:

1. the float64 run passes the f64 tier (exit 0);
2. a float32 run (inputs, model arrays and levels rounded to float32, arithmetic in
   float32, outputs saved as float32) passes the f32 tier (exit 0);
3. a deliberately wrong output (one entry off by a relative 1e-6) fails (exit 1) and
   the case is named;
4. a missing output is reported by name (exit 1);
5. `--only` restricts validation to one family;
6. flow cases (kind `flow`) are computed with the client's own numpy solvers (Euler,
   Heun, RK4, with the candidate discretization each case states) and sampler-step
   cases (kind `sampler_step`) with the exact one-step formulas: both pass their tiers;
   closed-form PFD cases (kind `pfd`) from the differences dlam, dmu (the naive subtraction
   of two separately rounded flows fails the f64 tier of the nearly identical pairs);
7. the teacher-student check: the client's own numpy Heun sampler (EDM grid, Euler last
   step) with the exact reference denoiser (the MoLRG posterior mean written in numpy)
   runs on the golden noise bank; the client states its discretisation error (Richardson
   extrapolation from n, 2n and 4n steps) and `measure` reports E_gen consistent with 0
   within it, while the memorizing (empirical) denoiser's samples give GL near 0.

Usage: python3 tests/golden_client.py --bin target/release/diffusion-lowdim
Prints "N passed, M failed" and exits non-zero on any failed check.
"""

import argparse
import json
import math
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np


# ---------------------------------------------------------------- model files


def load_array(manifest_dir, ref, dtype):
    """An array field: a path relative to the manifest, or an inline list."""
    if isinstance(ref, str):
        return np.load(manifest_dir / ref).astype(dtype)
    return np.asarray(ref, dtype=dtype)


def load_model(path, dtype):
    m = json.loads(path.read_text())
    assert m["format"] == "diffusion-lowdim/model" and m["schema_version"] == 1, path
    d = path.parent
    kind = m["kind"]
    if kind == "gaussian":
        out = {"kind": "gaussian", "mean": load_array(d, m["mean"], dtype)}
        if "covariance" in m:
            out["cov"] = load_array(d, m["covariance"], dtype)
        else:
            u = load_array(d, m["basis"], dtype)
            lam = load_array(d, m["variances"], dtype) if "variances" in m else np.ones(u.shape[1], dtype)
            out["U"], out["lam"] = u, lam
        return out
    if kind == "pca":
        u = load_array(d, m["basis"], dtype)
        return {"kind": "gaussian", "mean": np.zeros(u.shape[0], dtype), "U": u, "lam": np.ones(u.shape[1], dtype)}
    if kind in ("molrg", "k-subspaces"):
        if kind == "molrg":
            bases = [load_array(d, c["basis"], dtype) for c in m["components"]]
            lams = [
                load_array(d, c["variances"], dtype) if "variances" in c else np.ones(b.shape[1], dtype)
                for c, b in zip(m["components"], bases)
            ]
            pi = load_array(d, m["weights"], dtype)
        else:
            bases = [load_array(d, b, dtype) for b in m["bases"]]
            lams = [np.ones(b.shape[1], dtype) for b in bases]
            pi = np.full(len(bases), 1.0 / len(bases), dtype)
        return {"kind": "molrg", "pi": pi, "bases": bases, "lams": lams}
    if kind == "empirical":
        return {"kind": "empirical", "points": load_array(d, m["points"], dtype)}
    raise ValueError(f"unknown kind {kind}")


# ---------------------------------------------------------------- the formulas


def softmax(logits):
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def gaussian(model, x, a, b, what):
    mu = model["mean"]
    y = x - a * mu
    if "cov" in model:  # full covariance: solve with C = a² Σ + b² I
        S = model["cov"]
        C = a * a * S + b * b * np.eye(S.shape[0], dtype=S.dtype)
        z = np.linalg.solve(C, y.T).T
        if what == "posterior_mean":
            return mu + a * z @ S.T
        if what == "score":
            return -z
        J = a * np.linalg.solve(C, S).T  # a Σ C⁻¹ (Σ, C symmetric)
        return np.broadcast_to(J, (x.shape[0],) + J.shape).copy()
    U, lam = model["U"], model["lam"]
    g = a * lam / (a * a * lam + b * b)
    h = 1 / (a * a * lam + b * b)
    c = y @ U
    if what == "posterior_mean":
        return mu + (c * g) @ U.T
    if what == "score":
        res = y - c @ U.T
        if U.shape[1] == U.shape[0]:
            res = np.zeros_like(res)
        return -(c * h) @ U.T - res / (b * b)
    J = (U * g) @ U.T
    return np.broadcast_to(J, (x.shape[0],) + J.shape).copy()


def log_softmax(logits):
    """Log weights from the logits (never log of a rounded weight: saturated weights keep a finite log)."""
    z = logits - logits.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def molrg(model, x, a, b, what):
    pi, bases, lams = model["pi"], model["bases"], model["lams"]
    logits, means, scores = [], [], []
    for p, U, lam in zip(pi, bases, lams):
        c = x @ U
        kappa = a * a * lam / (2 * b * b * (a * a * lam + b * b))
        logits.append(np.log(p) - 0.5 * np.sum(np.log1p(a * a * lam / (b * b))) + (c * c) @ kappa)
        g = a * lam / (a * a * lam + b * b)
        means.append((c * g) @ U.T)
        res = x - c @ U.T if U.shape[1] < U.shape[0] else np.zeros_like(x)
        scores.append(-(c / (a * a * lam + b * b)) @ U.T - res / (b * b))
    if what == "log_posterior_weights":
        return log_softmax(np.stack(logits, axis=1))
    w = softmax(np.stack(logits, axis=1))  # (B, K)
    if what == "posterior_weights":
        return w
    M = np.stack(means, axis=1)  # (B, K, d)
    m = np.einsum("bk,bkd->bd", w, M)
    if what == "posterior_mean":
        return m
    if what == "score":
        return np.einsum("bk,bkd->bd", w, np.stack(scores, axis=1))
    J = np.zeros((x.shape[0], x.shape[1], x.shape[1]), x.dtype)
    for k, (U, lam) in enumerate(zip(bases, lams)):
        g = a * lam / (a * a * lam + b * b)
        J += w[:, k, None, None] * ((U * g) @ U.T)[None]
        dk = M[:, k] - m
        J += (a / (b * b)) * w[:, k, None, None] * dk[:, :, None] * dk[:, None, :]
    return J


def empirical(model, x, a, b, what):
    P = model["points"]  # (N, d)
    r = x[:, None, :] - a * P[None, :, :]  # (B, N, d)
    if what == "log_posterior_weights":
        return log_softmax(-np.sum(r * r, axis=2) / (2 * b * b))
    s = softmax(-np.sum(r * r, axis=2) / (2 * b * b))  # (B, N)
    if what == "posterior_weights":
        return s
    m = s @ P
    if what == "posterior_mean":
        return m
    if what == "score":
        return -np.einsum("bn,bnd->bd", s, r) / (b * b)
    V = P[None, :, :] - m[:, None, :]
    return (a / (b * b)) * np.einsum("bn,bni,bnj->bij", s, V, V)


def convert(frm, to, v, x, a, b):
    if frm == "x0":
        x0, eps = v, (x - a * v) / b
    elif frm == "eps":
        x0, eps = (x - b * v) / a, v
    elif frm == "score":
        eps = -b * v
        x0 = (x - b * eps) / a
    else:  # v
        h2 = a * a + b * b
        x0, eps = (a * x - b * v) / h2, (b * x + a * v) / h2
    return {"x0": x0, "eps": eps, "score": -eps / b, "v": a * eps - b * x0}[to]


def diffusers_betas(preset, n=1000):
    """The float64 betas of a diffusers beta_schedule (`diffusers-X` or `diffusers-euler-X`)."""
    sched = preset.removeprefix("diffusers-").removeprefix("euler-")
    if sched == "linear":
        return np.linspace(1e-4, 0.02, n)
    if sched == "scaled-linear":
        return np.linspace(0.00085**0.5, 0.012**0.5, n) ** 2
    assert sched == "squaredcos-cap-v2", preset
    f = lambda t: math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2
    return np.array([min(1 - f((i + 1) / n) / f(i / n), 0.999) for i in range(n)])


def euler(params, inputs, dtype):
    """diffusers EulerDiscreteScheduler after set_timesteps: sigmas (without the appended 0) or
    init_noise_sigma, at the timesteps `inputs["t"]`, as the scheduler computes them."""
    ac = np.cumprod(dtype(1) - diffusers_betas(params["preset"]).astype(dtype))
    train = np.sqrt((dtype(1) - ac) / ac)
    t = inputs["t"]
    sigmas = np.interp(t, np.arange(len(train)), train).astype(dtype)
    if params["karras"]:
        rho, n = dtype(7), len(sigmas)
        lo, hi = sigmas[-1] ** (1 / rho), sigmas[0] ** (1 / rho)
        ramp = np.linspace(0, 1, n).astype(dtype)
        sigmas = (hi + ramp * (lo - hi)) ** rho
    if params["column"] == "sigmas":
        return sigmas
    top = sigmas.max()
    return np.array([np.sqrt(top * top + dtype(1)) if params["spacing"] == "leading" else top], dtype=dtype)


def schedule(params, inputs, dtype):
    preset, col = params["preset"], params["column"]
    if preset.startswith("diffusers-euler-"):
        return euler(params, inputs, dtype)
    if preset.startswith("diffusers-"):
        betas = diffusers_betas(preset).astype(dtype)
        return np.cumprod(dtype(1) - betas)
    if preset == "k-diffusion-exponential":
        n = params["steps"]
        return np.exp(np.linspace(np.log(dtype(params["sigma_max"])), np.log(dtype(params["sigma_min"])), n, dtype=dtype))
    if preset == "edm":
        n, rho = 18, dtype(7)
        lo, hi = dtype(0.002) ** (1 / rho), dtype(80) ** (1 / rho)
        i = np.arange(n, dtype=dtype)
        return (hi + i / dtype(n - 1) * (lo - hi)) ** rho
    if preset == "k-diffusion-karras":
        n, rho = params["steps"], dtype(params["rho"])
        lo, hi = dtype(params["sigma_min"]) ** (1 / rho), dtype(params["sigma_max"]) ** (1 / rho)
        i = np.arange(n, dtype=dtype)
        return (hi + i / dtype(n - 1) * (lo - hi)) ** rho
    t = inputs["t"].astype(dtype)
    if preset == "k-diffusion-vp":
        return np.sqrt(np.expm1(dtype(19.9) * t * t / 2 + dtype(0.1) * t))
    if preset == "score-sde-vp":
        L = -0.25 * t * t * dtype(20 - 0.1) - 0.5 * t * dtype(0.1)
        return np.exp(L) if col == "alpha" else np.sqrt(1 - np.exp(2 * L))
    if preset == "score-sde-ve":
        return dtype(0.01) * (dtype(50) / dtype(0.01)) ** t
    raise ValueError(preset)


def posterior_mean(model, x, a, b):
    f = {"gaussian": gaussian, "molrg": molrg, "empirical": empirical}[model["kind"]]
    return f(model, x, a, b, "posterior_mean")


def coefficients(schedule, t, dtype):
    """(alpha, beta, dalpha/dt, dbeta/dt) of the crate schedules used by flow cases."""
    t = dtype(t)
    if schedule == "ve":
        return dtype(1), t, dtype(0), dtype(1)
    if schedule == "rectified-flow":
        return dtype(1) - t, t, dtype(-1), dtype(1)
    if schedule == "vp-linear":  # score_sde VPSDE(beta_min = 0.1, beta_max = 20)
        b0, b1 = dtype(0.1), dtype(20)
        L = -dtype(0.25) * t * t * (b1 - b0) - dtype(0.5) * t * b0
        dL = -dtype(0.5) * t * (b1 - b0) - dtype(0.5) * b0
        a = np.exp(L)
        b = np.sqrt(-np.expm1(2 * L))
        return a, b, a * dL, -a * a * dL / b
    raise ValueError(schedule)


def grid(p, dtype):
    """The times of a flow case's grid (the candidate's steps)."""
    n = p["steps"]
    if p["grid"] == "karras":  # EDM: sigma levels, VE times t = sigma
        smax, smin, rho = dtype(p["sigma_max"]), dtype(p["sigma_min"]), dtype(p["rho"])
        if n == 1:
            return np.array([smax], dtype)
        i = np.arange(n, dtype=dtype)
        return (smax ** (1 / rho) + i / dtype(n - 1) * (smin ** (1 / rho) - smax ** (1 / rho))) ** rho
    if p["grid"] == "uniform":
        return np.linspace(p["t_start"], p["t_end"], n + 1).astype(dtype)
    return np.exp(np.linspace(math.log(p["t_start"]), math.log(p["t_end"]), n + 1)).astype(dtype)


def flow(model, p, x, dtype):
    """The client's own PF-ODE solvers: Euler, Heun, RK4 in the schedule's time."""
    sched = p["schedule"]

    def v(t, y):
        a, b, da, db = coefficients(sched, t, dtype)
        D = posterior_mean(model, y, a, b)
        return (db / b) * (y - a * D) + da * D

    ts = grid(p, dtype)
    for t, s in zip(ts[:-1], ts[1:]):
        h = s - t
        if p["solver"] == "euler":
            x = x + h * v(t, x)
        elif p["solver"] == "heun":
            k1 = v(t, x)
            k2 = v(s, x + h * k1)
            x = x + (h / 2) * (k1 + k2)
        elif p["solver"] == "rk4":
            k1 = v(t, x)
            k2 = v(t + h / 2, x + (h / 2) * k1)
            k3 = v(t + h / 2, x + (h / 2) * k2)
            k4 = v(s, x + h * k3)
            x = x + (h / 6) * (k1 + 2 * k2 + 2 * k3 + k4)
        else:
            raise ValueError(p["solver"])
    if p["end"] == "clean":  # EDM's Euler last step to sigma = 0: D(x, t_n)
        a, b, _, _ = coefficients(sched, ts[-1], dtype)
        x = posterior_mean(model, x, a, b)
    return x


def sampler_step(model, p, x, dtype):
    """One Euler / Heun / DDIM step with the coefficients the case gives."""
    ct = [dtype(p["at_t"][k]) for k in ("alpha", "beta", "dalpha", "dbeta")]
    cs = [dtype(p["at_s"][k]) for k in ("alpha", "beta", "dalpha", "dbeta")]

    def v(c, y):
        a, b, da, db = c
        D = posterior_mean(model, y, a, b)
        return (db / b) * (y - a * D) + da * D

    h = dtype(p["s"]) - dtype(p["t"])
    if p["solver"] == "euler":
        return x + h * v(ct, x)
    if p["solver"] == "heun":
        k1 = v(ct, x)
        return x + (h / 2) * (k1 + v(cs, x + h * k1))
    (at, bt, _, _), (as_, bs, _, _) = ct, cs
    D = posterior_mean(model, x, at, bt)
    return (bs / bt) * x + (as_ - at * bs / bt) * D


def principal(u, v, what):
    """Principal sines from the residual (I - UU^T)V, angles by arcsin below pi/4 and arccos above."""
    if v.shape[1] > u.shape[1]:
        u, v = v, u
    sines = np.sort(np.clip(np.linalg.svd(v - u @ (u.T @ v), compute_uv=False), 0, 1))
    if what == "principal_sines":
        return sines
    cosines = np.sort(np.clip(np.linalg.svd(u.T @ v, compute_uv=False), 0, 1))[::-1]
    return np.where(sines <= np.sqrt(0.5), np.arcsin(sines), np.arccos(cosines))


def dae_loss(bases, x, a, b):
    """The noise-averaged squared error of the linear denoiser(s) a/(a²+b²) U Uᵀ, summed over the
    rows of x; with several bases each row goes to the basis with the largest projection."""
    q = a * a / (a * a + b * b)
    proj = np.stack([np.sum((x @ U) ** 2, axis=1) for U in bases], axis=1)
    k = np.argmax(proj, axis=1)
    total = 0.0
    for j, U in enumerate(bases):
        xs = x[k == j]
        e = q * (xs @ U) @ U.T - xs
        total += np.sum(e * e) + xs.shape[0] * U.shape[1] * q * (b * b / (a * a + b * b))
    return np.array([total], dtype=x.dtype)


def pfd_exact(golden, case, inputs, dtype):
    """The closed-form PFD (VE, x_T = T z to the clean data) of two Gaussian model files.

    Same basis bits in both files and the differences dlam = lam_p - lam_q, dmu = mu_p - mu_q
    given: the stable difference formula (docs/metrics.md §1), computed from the differences,
    never from two separately rounded flows. Zero means and unit variances: the projector
    distance from the residuals (I - P1) U2 and (I - P2) U1. Otherwise the dense definition.
    """
    t = dtype(case["params"]["t_max"])
    p = load_model(golden / case["model"], dtype)
    q = load_model(golden / case["params"]["model2"], dtype)
    if "U" in p and "U" in q and p["U"].shape == q["U"].shape and np.array_equal(p["U"], q["U"]) and "dlam" in inputs:
        v, lq, dl, mq, dm = q["U"], q["lam"], inputs["dlam"], q["mean"], inputs["dmu"]
        lp = lq + dl
        hp, hq = np.hypot(np.sqrt(lp), t), np.hypot(np.sqrt(lq), t)
        fp, fq = np.sqrt(lp) / hp, np.sqrt(lq) / hq
        df = dl / (hp * hq) * (t / hp) * (t / hq) / (fp + fq)
        lin2 = t * t * np.sum(df * df * np.sum(v * v, axis=0))
        one_minus_fp = (t / hp) ** 2 / (1 + fp)
        c = (dm - v @ (v.T @ dm)) + v @ (one_minus_fp * (v.T @ dm) - df * (v.T @ mq))
        return np.array([np.sqrt(np.sum(c * c) + lin2)], dtype=dtype)
    unit = all(np.all(m["mean"] == 0) and np.all(m["lam"] == 1) for m in (p, q) if "U" in m)
    if "U" in p and "U" in q and unit:
        u1, u2 = p["U"], q["U"]
        r1, r2 = u2 - u1 @ (u1.T @ u2), u1 - u2 @ (u2.T @ u1)
        return np.array([t / np.sqrt(1 + t * t) * np.sqrt(np.sum(r1 * r1) + np.sum(r2 * r2))], dtype=dtype)
    d = p["mean"].shape[0]
    a = [m["U"] @ np.diag(np.sqrt(m["lam"] / (m["lam"] + t * t))) @ m["U"].T for m in (p, q)]
    c = (np.eye(d, dtype=dtype) - a[0]) @ p["mean"] - (np.eye(d, dtype=dtype) - a[1]) @ q["mean"]
    return np.array([np.sqrt(np.sum(c * c) + t * t * np.sum((a[0] - a[1]) ** 2))], dtype=dtype)


def pfd_naive(golden, case, dtype):
    """The naive closed form: two separately rounded flow matrices subtracted (must fail the
    f64 tier on nearly identical pairs)."""
    t = dtype(case["params"]["t_max"])
    p = load_model(golden / case["model"], dtype)
    q = load_model(golden / case["params"]["model2"], dtype)
    a = [m["U"] @ np.diag(np.sqrt(m["lam"] / (m["lam"] + t * t))) @ m["U"].T for m in (p, q)]
    d = p["mean"].shape[0]
    c = (np.eye(d, dtype=dtype) - a[0]) @ p["mean"] - (np.eye(d, dtype=dtype) - a[1]) @ q["mean"]
    return np.array([np.sqrt(np.sum(c * c) + t * t * np.sum((a[0] - a[1]) ** 2))], dtype=dtype)


def compute(golden, case, dtype):
    inputs = {k: np.load(golden / p).astype(dtype) for k, p in case["inputs"].items()}
    kind = case["kind"]
    if kind == "schedule":
        return schedule(case["params"], inputs, dtype)
    if kind in ("principal_sines", "principal_angles"):
        return principal(inputs["u"], inputs["v"], kind)
    if kind == "dae_loss":
        a, b = dtype(case["level"]["alpha"]), dtype(case["level"]["beta"])
        return dae_loss([inputs[k] for k in sorted(inputs) if k.startswith("u")], inputs["x"], a, b)
    if kind == "pfd":
        return pfd_exact(golden, case, inputs, dtype)
    if kind in ("flow", "sampler_step"):
        model = load_model(golden / case["model"], dtype)
        f = flow if kind == "flow" else sampler_step
        return f(model, case["params"], inputs["x"], dtype)
    a, b = dtype(case["level"]["alpha"]), dtype(case["level"]["beta"])
    if kind == "convert":
        return convert(case["params"]["from"], case["params"]["to"], inputs["value"], inputs["x"], a, b)
    model = load_model(golden / case["model"], dtype)
    f = {"gaussian": gaussian, "molrg": molrg, "empirical": empirical}[model["kind"]]
    return f(model, inputs["x"], a, b, kind)


# ---------------------------------------------------------------- teacher-student


def heun_edm(model, x, n, fl):
    """The client's own sampler: EDM's Heun on n Karras levels, Euler last step to sigma = 0."""
    smax, smin, rho = fl["sigma_max"], fl["sigma_min"], fl["rho"]
    i = np.arange(n)
    sig = (smax ** (1 / rho) + i / (n - 1) * (smin ** (1 / rho) - smax ** (1 / rho))) ** rho
    sig = np.append(sig, 0.0)
    for s, s2 in zip(sig[:-1], sig[1:]):
        d1 = (x - posterior_mean(model, x, 1.0, s)) / s
        xn = x + (s2 - s) * d1
        if s2 > 0:
            d2 = (xn - posterior_mean(model, xn, 1.0, s2)) / s2
            xn = x + (s2 - s) * (d1 + d2) / 2
        x = xn
    return x


def rms(a):
    return float(np.sqrt(np.mean(np.sum(a * a, axis=1))))


def teacher_student(exe, golden, manifest, tmp, check):
    ms = manifest["measure"]
    fl = ms["flow"]
    assert fl["schedule"] == "ve" and fl["grid"] == "karras" and fl["end"] == "clean", fl
    bank = np.load(golden / ms["noises"])
    truth = load_model(golden / ms["reference_model"], np.float64)
    n = 18  # EDM's default
    xs = [heun_edm(truth, bank, k, fl) for k in (n, 2 * n, 4 * n)]
    d1, d2 = rms(xs[0] - xs[1]), rms(xs[1] - xs[2])
    order = math.log2(d1 / d2)
    stated = d1 / (1 - 2.0**-order)  # Richardson: the error of the n-step samples
    print(
        f"     client's numpy Heun ({n} EDM levels, exact MoLRG denoiser) on the {len(bank)}-noise bank: "
        f"stated discretisation error {stated:.3e} (RMS; Richardson from {n}/{2 * n}/{4 * n} levels, "
        f"observed order {order:.2f})"
    )

    def measure(samples, *extra):
        path = tmp / "samples.npy"
        np.save(path, samples)
        rep = tmp / "measure.json"
        r = subprocess.run(
            [exe, "measure", "--samples", str(path), "--golden", str(golden), "--report", str(rep), *extra],
            capture_output=True,
            text=True,
        )
        print("\n".join("     | " + line for line in r.stdout.splitlines()[1:6]))
        return r, (json.loads(rep.read_text()) if r.returncode == 0 else None)

    small = ms["training_sets"][1]
    r, rep = measure(xs[0], "--n", str(small["n"]))
    ok = rep is not None
    eg = rep["e_gen"] if ok else {"estimate": math.nan, "interval": [math.nan, math.nan]}
    print(f"     measure: E_gen = {eg['estimate']:.3e}, 95% interval [{eg['interval'][0]:.3e}, {eg['interval'][1]:.3e}]")
    check(
        "measure: E_gen of the client's exact-denoiser Heun samples is consistent with 0 within the stated "
        "discretisation error (interval low end <= stated, estimate <= 1.5 x stated)",
        ok and eg["interval"][0] <= stated and eg["estimate"] <= 1.5 * stated,
        r.stderr + r.stdout,
    )
    check(
        "measure: the exact-denoiser samples reproduce the reference (RP >= 0.9) and are not memorized (GL > 0.5)",
        ok and rep["rp"]["estimate"] >= 0.9 and rep["gl"]["estimate"] > 0.5,
        r.stdout,
    )

    # The memorizing denoiser: the empirical distribution of a golden training set.
    emp = load_model(golden / small["model"], np.float64)
    xm = heun_edm(emp, bank, n, fl)
    r, rep = measure(xm, "--n", str(small["n"]))
    ok = rep is not None
    gl = rep["gl"] if ok else {"estimate": math.nan, "interval": [math.nan, math.nan], "successes": -1}
    print(f"     measure: GL of the memorizing denoiser's samples = {gl['estimate']:.3f}, 95% interval [{gl['interval'][0]:.3f}, {gl['interval'][1]:.3f}]")
    check(
        "measure: the memorizing (empirical) denoiser's samples give GL near 0 (estimate <= 0.05)",
        ok and gl["estimate"] <= 0.05,
        r.stderr + r.stdout,
    )
    # Its own training set given as a file: the same GL (E_mem computed by the crate).
    r2, rep2 = measure(xm, "--train", str(golden / small["points"]))
    check(
        "measure --train (the same set as a file) gives the same GL and E_mem",
        rep2 is not None and ok and rep2["gl"] == rep["gl"] and abs(rep2["e_mem"]["estimate"] - rep["e_mem"]["estimate"]) <= 1e-9 * (1 + rep["e_mem"]["estimate"]),
        r2.stderr + r2.stdout,
    )


# ---------------------------------------------------------------- the checks


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True, help="path to the diffusion-lowdim binary")
    args = ap.parse_args()
    exe = str(Path(args.bin).resolve())
    results = []

    def check(name, ok, detail=""):
        results.append(ok)
        print(f"{'ok  ' if ok else 'FAIL'} {name}" + (f": {detail}" if detail and not ok else ""))

    def validate(outputs, tier, *extra):
        return subprocess.run(
            [exe, "golden", "validate", "--golden", str(golden), "--outputs", str(outputs), "--tier", tier, *extra],
            capture_output=True,
            text=True,
        )

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        golden = tmp / "golden"
        r = subprocess.run([exe, "golden", "export", "--out", str(golden)], capture_output=True, text=True)
        check("golden export", r.returncode == 0, r.stderr)
        manifest = json.loads((golden / "manifest.json").read_text())
        cases = manifest["cases"]

        for dtype, tier in [(np.float64, "f64"), (np.float32, "f32")]:
            out = tmp / f"out-{tier}"
            out.mkdir()
            for case in cases:
                y = np.asarray(compute(golden, case, dtype))
                assert y.dtype == dtype, (case["id"], y.dtype)
                assert list(y.shape) == case["shape"], (case["id"], y.shape)
                np.save(out / case["output"], y)
            r = validate(out, tier, "--report", str(tmp / f"report-{tier}.json"))
            check(f"{tier} run ({len(cases)} cases) passes the {tier} tier", r.returncode == 0, r.stdout[-3000:])
            report = json.loads((tmp / f"report-{tier}.json").read_text())
            worst = max(c["ratio"] for c in report["results"])
            print(f"     worst error/tolerance ratio in the {tier} tier: {worst:.3e}")

        # The f32 outputs are not good enough for the f64 tier.
        r = validate(tmp / "out-f32", "f64")
        check("f32 run fails the f64 tier", r.returncode == 1, r.stdout[-500:])

        # A deliberately wrong output: one entry off by a relative 1e-6.
        wrong = tmp / "out-wrong"
        shutil.copytree(tmp / "out-f64", wrong)
        victim = next(c for c in cases if c["family"] == "R03")
        y = np.load(wrong / victim["output"])
        k = np.argmax(np.abs(y))
        y.flat[k] *= 1 + 1e-6
        np.save(wrong / victim["output"], y)
        r = validate(wrong, "f64")
        failing = [line for line in r.stdout.splitlines() if "FAIL" in line]
        check(
            "a 1e-6 perturbation fails with exit 1 and names the case",
            r.returncode == 1 and len(failing) == 1 and victim["id"] in failing[0],
            r.stdout[-1000:],
        )

        # The naive closed form (two separately rounded flows subtracted) fails the f64 tier of
        # the nearly identical PFD pairs; the difference formula above passes.
        naive = tmp / "out-naive"
        shutil.copytree(tmp / "out-f64", naive)
        near = [c for c in cases if c["family"] == "pfd-exact" and c["params"]["closed_form"] == "shared-basis"]
        for c in near:
            np.save(naive / c["output"], pfd_naive(golden, c, np.float64))
        r = validate(naive, "f64", "--only", "pfd-exact")
        failing = [line for line in r.stdout.splitlines() if "FAIL" in line]
        check(
            f"the naive PFD (separately rounded flows) fails the f64 tier on the {len(near)} nearly identical pairs",
            len(near) >= 2 and r.returncode == 1 and len(failing) == len(near),
            r.stdout[-1000:],
        )

        # A missing output is reported by name.
        gone = cases[-1]["output"]
        (wrong / gone).unlink()
        r = validate(wrong, "f64")
        check(
            "a missing output is reported by name",
            r.returncode == 1 and f"missing outputs: {cases[-1]['id']}" in r.stdout,
            r.stdout[-500:],
        )

        # --only: one family.
        r = validate(tmp / "out-f64", "f64", "--only", "R04")
        n04 = sum(1 for c in cases if c["family"] == "R04")
        check("--only R04 validates that family alone", r.returncode == 0 and f"{n04} of {n04} cases passed" in r.stdout, r.stdout)

        # Flow and sampler-step cases alone (the client's own solvers), in both tiers.
        for tier in ("f64", "f32"):
            r = validate(tmp / f"out-{tier}", tier, "--only", "R10,measure", "--report", str(tmp / "flow.json"))
            rep = json.loads((tmp / "flow.json").read_text())
            kinds = sorted({c["kind"] for c in rep["results"]})
            check(
                f"the client's numpy flows and sampler steps pass the {tier} tier ({rep['cases']} cases: {', '.join(kinds)})",
                r.returncode == 0 and rep["cases"] >= 20,
                r.stdout[-2000:],
            )

        teacher_student(exe, golden, manifest, tmp, check)

    passed = sum(results)
    failed = len(results) - passed
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
