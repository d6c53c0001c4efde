"""Independent 50-digit references (mpmath) for the CLI's posterior weights, principal angles,
DAE losses and closed-form PFD (issue 14), computed from the inputs as written (f64) and fed
through the command line only.

    python3 tests/reference_cases.py --bin target/debug/diffusion-lowdim

Every well-conditioned quantity must be within MAX_ULPS of its reference (measured: at most 1.3
ulps); the integrated losses within their stated integration error. Exit status 1 otherwise.
"""
import json, subprocess, sys, os, tempfile
import numpy as np
import mpmath as mp
mp.mp.dps = 50
import argparse
ap = argparse.ArgumentParser()
ap.add_argument("--bin", required=True)
BIN = ap.parse_args().bin
D = tempfile.mkdtemp()
MAX_ULPS = 4.0
failures = []
rng = np.random.default_rng(12345)
results = []

def run(*args):
    r = subprocess.run([BIN, *map(str, args)], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{args}: {r.stderr}")

def save(name, a):
    p = os.path.join(D, name); np.save(p, np.asarray(a, dtype=np.float64)); return p

def orth(d, r):
    q, _ = np.linalg.qr(rng.standard_normal((d, r))); return q

def ulps(got, ref):
    ref = mp.mpf(ref)
    if ref == 0:
        return 0.0 if got == 0 else float('inf')
    return float(abs(mp.mpf(got) - ref) / abs(ref) / mp.mpf(2) ** -52)

def record(name, got, ref):
    u = ulps(got, ref); results.append((name, u)); return u

def M(a):
    return mp.matrix(np.asarray(a).tolist())

# ---------- posterior weights: MoLRG ----------
def molrg_logw(y, alpha, beta, pis, bases, lams):
    y = M(y).T if M(y).cols > 1 else M(y)
    a2, b2 = mp.mpf(alpha) ** 2, mp.mpf(beta) ** 2
    logits = []
    for pi, U, lam in zip(pis, bases, lams):
        Um = M(U); d, r = Um.rows, Um.cols
        uy = Um.T * y
        ld = d * mp.log(b2)
        quad = sum(v ** 2 for v in y) / b2
        for j in range(r):
            l = a2 * mp.mpf(lam[j])
            ld += mp.log1p(l / b2)
            quad -= (l / (l + b2)) * uy[j] ** 2 / b2
        logits.append(mp.log(mp.mpf(pi)) - ld / 2 - quad / 2)
    m = max(logits)
    lse = m + mp.log(sum(mp.exp(l - m) for l in logits))
    return [l - lse for l in logits]

def molrg_case(name, d, ranks, pis, x_rows, alpha, beta, bases=None, lams=None):
    bases = bases or [orth(d, r) for r in ranks]
    lams = lams or [list(rng.uniform(0.5, 2.0, r)) for r in ranks]
    mdir = os.path.join(D, name); os.makedirs(mdir)
    comps = []
    for k, (U, lam) in enumerate(zip(bases, lams)):
        np.save(os.path.join(mdir, f"U{k}.npy"), U)
        comps.append({"basis": f"U{k}.npy", "variances": [float(v) for v in lam]})
    json.dump({"format": "diffusion-lowdim/model", "schema_version": 1, "kind": "molrg",
               "weights": pis, "components": comps}, open(os.path.join(mdir, "model.json"), "w"))
    x = np.asarray(x_rows(bases), dtype=np.float64)
    xp = save(name + "_x.npy", x)
    for cmd, log in (("posterior-weights", False), ("log-posterior-weights", True)):
        out = os.path.join(D, f"{name}_{cmd}.npy")
        run("eval", cmd, "--model", os.path.join(mdir, "model.json"), "--x", xp,
            "--alpha", repr(alpha), "--beta", repr(beta), "--out", out)
        got = np.load(out)
        worst = 0.0
        for b in range(x.shape[0]):
            ref = molrg_logw(x[b], alpha, beta, pis, bases, lams)
            for k in range(len(pis)):
                r = ref[k] if log else mp.exp(ref[k])
                if not log and mp.exp(ref[k]) < mp.mpf(2) ** -1022:
                    continue  # subnormal/underflowed weights: compared in the log version
                worst = max(worst, ulps(got[b, k], r))
        results.append((f"{name} {cmd}", worst))

third = [1/3, 1/3, 1/3]
# saturated: beta small, x near component 0
molrg_case("molrg_sat_b1e-3", 6, [2, 2, 1], [0.5, 0.3, 0.2],
           lambda B: [B[0] @ rng.standard_normal(2) for _ in range(4)], 1.0, 1e-3)
molrg_case("molrg_sat_b1e-6", 6, [2, 2, 1], [0.5, 0.3, 0.2],
           lambda B: [B[0] @ rng.standard_normal(2) + 1e-7 * rng.standard_normal(6) for _ in range(4)], 1.0, 1e-6)
molrg_case("molrg_alpha1e-3", 5, [1, 2], [0.6, 0.4],
           lambda B: [rng.standard_normal(5) for _ in range(3)], 1e-3, 1.0)
# tie: two components with identical spectra, x equidistant (x = e1+e2, U0 = e1, U1 = e2)
e = np.eye(4)
molrg_case("molrg_tie", 4, [1, 1], [0.5, 0.5],
           lambda B: [e[0] + e[1], 3 * (e[0] + e[1]) + e[2]], 1.0, 1e-2,
           bases=[e[:, :1], e[:, 1:2]], lams=[[1.0], [1.0]])

# ---------- posterior weights: empirical ----------
def emp_case(name, N, d, alpha, beta, near):
    pts = rng.standard_normal((N, d))
    mdir = os.path.join(D, name); os.makedirs(mdir)
    np.save(os.path.join(mdir, "train.npy"), pts)
    json.dump({"format": "diffusion-lowdim/model", "schema_version": 1, "kind": "empirical",
               "points": "train.npy"}, open(os.path.join(mdir, "model.json"), "w"))
    x = np.array([alpha * pts[i] + near * rng.standard_normal(d) for i in range(min(3, N))])
    xp = save(name + "_x.npy", x)
    for cmd, log in (("posterior-weights", False), ("log-posterior-weights", True)):
        out = os.path.join(D, f"{name}_{cmd}.npy")
        run("eval", cmd, "--model", os.path.join(mdir, "model.json"), "--x", xp,
            "--alpha", repr(alpha), "--beta", repr(beta), "--out", out)
        got = np.load(out); worst = 0.0
        for b in range(x.shape[0]):
            lg = [-sum((mp.mpf(x[b, j]) - mp.mpf(alpha) * mp.mpf(pts[i, j])) ** 2 for j in range(d)) / (2 * mp.mpf(beta) ** 2) for i in range(N)]
            m = max(lg); lse = m + mp.log(sum(mp.exp(l - m) for l in lg))
            for i in range(N):
                r = lg[i] - lse
                if not log:
                    r = mp.exp(r)
                    if r < mp.mpf(2) ** -1022:
                        continue
                worst = max(worst, ulps(got[b, i], r))
        results.append((f"{name} {cmd}", worst))

emp_case("emp_sat", 20, 5, 1.0, 1e-3, 1e-4)
emp_case("emp_beta1e-6", 10, 3, 0.9, 1e-6, 1e-7)
emp_case("emp_broad", 10, 3, 0.5, 3.0, 1.0)

# ---------- subspaces: principal angles down to 1e-9 ----------
def subspace_case(name, thetas, d):
    # U = [e_0..e_{k-1}], V_j = cos θ_j e_j + sin θ_j e_{k+j}: floats as given, reference from them
    k = len(thetas)
    U = np.zeros((d, k)); V = np.zeros((d, k))
    for j, t in enumerate(thetas):
        U[j, j] = 1.0; V[j, j] = np.cos(t); V[k + j, j] = np.sin(t)
    up, vp = save(name + "_u.npy", U), save(name + "_v.npy", V)
    out = os.path.join(D, name + ".json")
    run("eval", "subspaces", "--u", up, "--v", vp, "--out-json", out)
    rep = json.load(open(out)); rep = rep.get("result", rep)
    # exact: sines of the given float columns: s_j / sqrt(c_j² + s_j²) (columns of V normalized)
    sines = sorted([mp.mpf(V[k + j, j]) / mp.sqrt(mp.mpf(V[j, j]) ** 2 + mp.mpf(V[k + j, j]) ** 2) for j in range(k)])
    got = sorted(rep["sines"])
    results.append((name + " sines", max(ulps(g, r) for g, r in zip(got, sines))))
    angles = sorted(mp.asin(s) for s in sines)
    results.append((name + " angles", max(ulps(g, r) for g, r in zip(sorted(rep["principal_angles"]), angles))))
    dist = mp.sqrt(2 * sum(s ** 2 for s in sines))
    results.append((name + " distance", ulps(rep["distance"], dist)))
    return rep

rep = subspace_case("angles_1e-9", [1e-9, 3e-9], 6)
subspace_case("angles_mixed", [1e-9, 0.3, 1.2], 8)
subspace_case("angles_1e-12", [1e-12], 3)

# ---------- DAE loss at a level (K = 1) ----------
def dae_case(name, d, r, N, alpha, beta):
    U = orth(d, r); X = rng.standard_normal((N, d))
    up, xp = save(name + "_u.npy", U), save(name + "_x.npy", X)
    out = os.path.join(D, name + ".json")
    run("eval", "dae-loss", "--basis", up, "--data", xp, "--alpha", repr(alpha), "--beta", repr(beta), "--out-json", out)
    rep = json.load(open(out)); rep = rep.get("result", rep)
    Um = M(U); a2, b2 = mp.mpf(alpha) ** 2, mp.mpf(beta) ** 2
    a = a2 / (a2 + b2); tot = mp.mpf(0)
    for i in range(N):
        x = M(X[i]).T if M(X[i]).cols > 1 else M(X[i])
        ux = Um.T * x; px = Um * ux
        res = sum((x[j] - px[j]) ** 2 for j in range(d)); inspan = sum(v ** 2 for v in ux)
        tot += res + (1 - a) ** 2 * inspan + r * a2 * b2 / (a2 + b2) ** 2
    results.append((name, ulps(rep["loss"]["value"], tot)))
    return rep

dae_case("dae_beta1e-4", 6, 2, 5, 1.0, 1e-4)
dae_case("dae_alpha1e-3", 6, 2, 5, 1e-3, 1.0)
dae_case("dae_mid", 8, 3, 7, 0.8, 0.6)

# ---------- closed-form PFD of nearly identical models ----------
def gauss_model(name, mean, basis, variances):
    mdir = os.path.join(D, name); os.makedirs(mdir)
    np.save(os.path.join(mdir, "mean.npy"), np.asarray(mean, dtype=np.float64))
    np.save(os.path.join(mdir, "basis.npy"), basis)
    json.dump({"format": "diffusion-lowdim/model", "schema_version": 1, "kind": "gaussian",
               "mean": "mean.npy", "basis": "basis.npy", "variances": [float(v) for v in variances]},
              open(os.path.join(mdir, "model.json"), "w"))
    return os.path.join(mdir, "model.json")

def pfd_exact(p, q, T):
    out = os.path.join(D, os.path.basename(os.path.dirname(p)) + "_pfd.json")
    run("eval", "pfd", "--model", p, "--model2", q, "--method", "exact", "--solver", "exact",
        "--t-max", repr(T), "--out-json", out)
    rep = json.load(open(out))
    r = rep.get("result", rep)
    for k in ("pfd", "estimate", "value"):
        if k in r: return (r[k]["exact"] if isinstance(r[k], dict) else r[k]), rep
    raise KeyError(json.dumps(rep)[:400])

def pfd_dense_ref(V, lp, lq, T, mp_=None, mq=None):
    T = mp.mpf(T); Vm = M(V); d, r = Vm.rows, Vm.cols
    f = lambda l: mp.sqrt(mp.mpf(l) / (mp.mpf(l) + T ** 2))
    Ap = Vm * mp.diag([f(l) for l in lp]) * Vm.T
    Aq = Vm * mp.diag([f(l) for l in lq]) * Vm.T
    return T * mp.sqrt(sum((Ap[i, j] - Aq[i, j]) ** 2 for i in range(d) for j in range(d)))

d = 6
V = orth(d, d)
lam = rng.uniform(0.5, 3.0, d)
lam2 = lam * (1 + 1e-10)
p = gauss_model("pfd_full_p", np.zeros(d), V, lam); q = gauss_model("pfd_full_q", np.zeros(d), V, lam2)
got, rep = pfd_exact(p, q, 80.0)
results.append(("pfd full rank, eigenvalues 1e-10 apart", ulps(got, pfd_dense_ref(V, lam, lam2, 80.0))))
# low rank: subspaces at principal angles 1e-9 (exactly built floats), unit variances
U = np.zeros((5, 2)); U[0, 0] = U[1, 1] = 1.0
W = np.zeros((5, 2)); W[0, 0] = np.cos(1e-9); W[2, 0] = np.sin(1e-9); W[1, 1] = np.cos(2e-9); W[3, 1] = np.sin(2e-9)
p = gauss_model("pfd_sub_p", np.zeros(5), U, [1, 1]); q = gauss_model("pfd_sub_q", np.zeros(5), W, [1, 1])
got, rep = pfd_exact(p, q, 80.0)
sines = [mp.mpf(W[2, 0]) / mp.sqrt(mp.mpf(W[0, 0]) ** 2 + mp.mpf(W[2, 0]) ** 2), mp.mpf(W[3, 1]) / mp.sqrt(mp.mpf(W[1, 1]) ** 2 + mp.mpf(W[3, 1]) ** 2)]
T = mp.mpf(80)
ref = T / mp.sqrt(1 + T ** 2) * mp.sqrt(2 * sum(s ** 2 for s in sines))
results.append(("pfd subspaces, angles 1e-9", ulps(got, ref)))

# ---------- integrated DAE loss (VE) ----------
def dae_int_case(name, d, r, N, weighting, t0, t1, scale=1.0, off=1.0):
    U = orth(d, r); A = rng.standard_normal((N, r)); E = rng.standard_normal((N, d))
    X = scale * (A @ U.T + off * E)
    up, xp = save(name + "_u.npy", U), save(name + "_x.npy", X)
    out = os.path.join(D, name + ".json")
    run("eval", "dae-loss", "--basis", up, "--data", xp, "--loss-schedule", "ve", "--t0", repr(t0),
        "--t1", repr(t1), "--weighting", weighting, "--out-json", out)
    rep = json.load(open(out))["loss"]
    Um = M(U); res = mp.mpf(0); ins = mp.mpf(0)
    for i in range(N):
        x = M(X[i]) if M(X[i]).cols == 1 else M(X[i]).T
        ux = Um.T * x; px = Um * ux
        res += sum((x[j] - px[j]) ** 2 for j in range(d)); ins += sum(v ** 2 for v in ux)
    lam = {"unit": lambda t: 1, "inverse-noise-variance": lambda t: 1 / t ** 2, "snr": lambda t: 1 / t ** 2}[weighting]
    def f(t):
        a = 1 / (1 + t ** 2)
        return lam(t) * (res + (1 - a) ** 2 * ins + N * r * a * (1 - a))
    ref = mp.quad(f, [mp.mpf(t0), mp.mpf(t0) * 10, mp.mpf(t0) * 100, mp.mpf(t1)] if t1 > 100 * t0 else [mp.mpf(t0), mp.mpf(t1)])
    err = abs(mp.mpf(rep["value"]) - ref)
    ratio = float(err / mp.mpf(rep["integration_error"]))
    print(f"{name:45s} actual/stated integration error {ratio:.3f}")
    if not ratio <= 1.0:
        failures.append(f"{name}: actual error above the stated one ({ratio:.3f})")

dae_int_case("dae_int_snr_t0_1e-3", 8, 3, 9, "snr", 1.449e-3, 3.6468, scale=0.0294, off=1e-6)
dae_int_case("dae_int_inv_t0_1e-3", 6, 2, 5, "inverse-noise-variance", 1e-3, 80.0)
dae_int_case("dae_int_unit", 6, 2, 5, "unit", 0.002, 80.0)

for n, u in results:
    print(f"{n:45s} {u:10.2f} ulp")
    if not u <= MAX_ULPS:
        failures.append(f"{n}: {u:.2f} ulps (at most {MAX_ULPS})")
print(f"{len(results)} quantities, worst {max(u for _, u in results):.2f} ulps")
if failures:
    print("FAILED:\n  " + "\n  ".join(failures))
    sys.exit(1)
