"""Issue 14's library functions through Python, against independent numpy formulas: log
posterior weights, principal sines, the DAE losses (K = 1, softmax, hard max; at a level and
integrated), preset tables with sigma_min / sigma_max / rho / karras, and load_model's
normalize_weights."""

import json
import shutil

import numpy as np
import pytest

import diffusion_lowdim as dl


@pytest.fixture
def rng():
    return np.random.default_rng(14)


def orthonormal(rng, d, r):
    return np.linalg.qr(rng.normal(size=(d, r)))[0]


def molrg_log_weights(bases, lam, pi, x, a, b):
    """log w_k(x) from dense Gaussian densities N(0, a² U Λ Uᵀ + b² I), log-sum-exp normalized."""
    d = x.shape[1]
    logs = []
    for Uk, lk, pk in zip(bases, lam, pi):
        S = a * a * Uk @ np.diag(lk) @ Uk.T + b * b * np.eye(d)
        _, logdet = np.linalg.slogdet(S)
        q = np.einsum("bi,ij,bj->b", x, np.linalg.inv(S), x)
        logs.append(np.log(pk) - 0.5 * (logdet + q))
    logs = np.array(logs).T
    m = logs.max(1, keepdims=True)
    return logs - (m + np.log(np.exp(logs - m).sum(1, keepdims=True)))


def test_molrg_log_weights_match_dense_formula_and_stay_finite(rng):
    d = 6
    bases = [orthonormal(rng, d, 2), orthonormal(rng, d, 3)]
    lam = [np.array([1.5, 0.5]), np.array([1.0, 2.0, 0.3])]
    pi = [0.35, 0.65]
    m = dl.Molrg(bases, weights=pi, variances=lam)
    x = rng.normal(size=(3, d))
    want = molrg_log_weights(bases, lam, pi, x, 0.9, 0.8)
    got = m.posterior_log_weights(x, 0.9, 0.8)
    assert got.shape == (3, 2)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.exp(got), m.posterior_weights(x, 0.9, 0.8), rtol=1e-12)
    # Saturated: far along component 0 at small noise, w_1 underflows to 0 but its log is
    # finite and equals the dense formula's (about -1e4).
    xs = 60.0 * bases[0][:, 0][None, :]
    lw = m.posterior_log_weights(xs, 1.0, 0.05)
    assert np.all(np.isfinite(lw)) and lw[0, 1] < -800
    assert m.posterior_weights(xs, 1.0, 0.05)[0, 1] == 0.0
    np.testing.assert_allclose(lw, molrg_log_weights(bases, lam, pi, xs, 1.0, 0.05),
                               rtol=1e-9)


def test_empirical_and_k_subspaces_log_weights(rng):
    pts = rng.normal(size=(5, 3))
    x = rng.normal(size=(2, 3))
    a, b = 0.7, 0.4
    logit = -((x[:, None, :] - a * pts[None]) ** 2).sum(-1) / (2 * b * b)
    want = logit - (logit.max(1, keepdims=True)
                    + np.log(np.exp(logit - logit.max(1, keepdims=True)).sum(1, keepdims=True)))
    np.testing.assert_allclose(dl.Empirical(pts).posterior_log_weights(x, a, b), want,
                               rtol=1e-12, atol=1e-12)
    bases = [orthonormal(rng, 3, 1), orthonormal(rng, 3, 1)]
    ks = dl.KSubspaces(bases)
    np.testing.assert_allclose(
        ks.posterior_log_weights(x, a, b),
        molrg_log_weights(bases, [np.ones(1)] * 2, [0.5, 0.5], x, a, b), rtol=1e-10)
    with pytest.raises(dl.InputError, match="single component"):
        dl.Gaussian(np.zeros(3), basis=bases[0]).posterior_log_weights(x, a, b)
    with pytest.raises(dl.Error):
        ks.posterior_log_weights(np.full((1, 3), np.nan), a, b)


def test_principal_sines(rng):
    d = 7
    U, V = orthonormal(rng, d, 3), orthonormal(rng, d, 2)
    # Moderate angles: the sines of the angles from the SVD of UᵀV.
    want = np.sort(np.sqrt(np.clip(1 - np.linalg.svd(U.T @ V, compute_uv=False) ** 2, 0, 1)))
    np.testing.assert_allclose(dl.principal_sines(U, V), want, rtol=1e-10)
    # A tiny angle 1e-9 between two lines: exact to full relative accuracy (arccos of the
    # cosine gives 0 or ~1.5e-8 here).
    e = np.eye(d)
    th = 1e-9
    u = e[:, :1]
    v = (np.cos(th) * e[:, 0] + np.sin(th) * e[:, 1])[:, None]
    s = dl.principal_sines(u, v)
    assert s[0] == pytest.approx(np.sin(th), rel=1e-12)
    with pytest.raises(dl.Error):
        dl.principal_sines(2.0 * U, V)


def linear_loss(U, X, a):
    P = X @ U
    return ((X - P @ U.T) ** 2).sum() + (1 - a) ** 2 * (P ** 2).sum() + X.shape[0] * U.shape[1] * a * (1 - a)


def test_dae_loss_forms_at_a_level(rng):
    d, n = 6, 9
    U0, U1 = orthonormal(rng, d, 2), orthonormal(rng, d, 3)
    X = rng.normal(size=(n, d))
    al, be = 0.9, 0.5
    a = al * al / (al * al + be * be)
    assert dl.dae_loss_at_level(U0, X, al, be) == pytest.approx(linear_loss(U0, X, a), rel=1e-12)
    # Hard max: each clean x_i denoised by the linear denoiser of argmax_k ||U_kᵀ x_i||.
    want = 0.0
    for xi in X:
        k = int(np.argmax([np.sum((xi @ U) ** 2) for U in (U0, U1)]))
        want += linear_loss((U0, U1)[k], xi[None, :], a)
    got = dl.dae_loss_at_level([U0, U1], X, al, be, form="hard-max")
    assert got == pytest.approx(want, rel=1e-12)
    # Softmax with K equal bases: every weight is 1/K, the denoiser is x_U, the loss K = 1's.
    assert dl.dae_loss_at_level([U0, U0, U0], X, al, be, form="softmax") == pytest.approx(
        linear_loss(U0, X, a), rel=1e-12)
    with pytest.raises(dl.InputError, match="form"):
        dl.dae_loss_at_level([U0, U1], X, al, be, form="hardmax")
    with pytest.raises(dl.Error):
        dl.dae_loss_at_level([U0, orthonormal(rng, d + 1, 2)], X, al, be)


@pytest.mark.parametrize("schedule,weighting", [
    ("ve", "unit"), ("ve", "inverse-noise-variance"), ("vp-linear", "snr"),
    ("vp-cosine", "unit"), ("rectified-flow", "inverse-noise-variance"),
])
def test_integrated_dae_loss_against_gauss_legendre(rng, schedule, weighting):
    """∫ λ_t L(t) dt over [t0, t1] by 200-node Gauss-Legendre in numpy of the at-level loss
    (checked above against the formula), with λ_t from noise_level."""
    d, n = 5, 7
    U0, U1 = orthonormal(rng, d, 2), orthonormal(rng, d, 1)
    X = rng.normal(size=(n, d))
    t0, t1 = 0.1, 0.9
    nodes, w = np.polynomial.legendre.leggauss(200)
    ts = 0.5 * (t1 - t0) * nodes + 0.5 * (t1 + t0)

    def lam(t):
        al, be = dl.noise_level(schedule, t)
        return {"unit": 1.0, "inverse-noise-variance": 1 / be ** 2, "snr": al ** 2 / be ** 2}[weighting]

    for bases, form in (([U0], "softmax"), ([U0, U1], "hard-max"), ([U0, U1], "softmax")):
        want = 0.5 * (t1 - t0) * sum(
            wi * lam(t) * dl.dae_loss_at_level(bases, X, schedule=schedule, t=t, form=form)
            for wi, t in zip(w, ts))
        value, err, method = dl.dae_loss(bases, X, t0, t1, schedule=schedule,
                                         weighting=weighting, form=form, report=True)
        assert value == pytest.approx(want, rel=1e-9), (form, method)
        assert 0 <= err < 1e-6 * abs(value)
    # The old VE + unit signature is unchanged.
    assert dl.dae_loss(U0, X, 0.2, 1.5) == pytest.approx(
        dl.dae_loss([U0], X, 0.2, 1.5, schedule="ve", weighting="unit"), rel=0)
    with pytest.raises(dl.Error, match="weighting"):
        dl.dae_loss(U0, X, t0, t1, weighting="snr2")
    with pytest.raises(dl.Error, match="schedule"):
        dl.dae_loss(U0, X, t0, t1, schedule="no-such")


def test_preset_table_options():
    n, smin, smax, rho = 10, 0.0292, 14.6146, 3.0
    t = dl.preset_table("k-diffusion-karras", steps=n, sigma_min=smin, sigma_max=smax, rho=rho)
    ramp = np.linspace(0, 1, n)
    want = (smax ** (1 / rho) + ramp * (smin ** (1 / rho) - smax ** (1 / rho))) ** rho
    np.testing.assert_allclose(t["sigmas"][:n], want, rtol=1e-14)
    assert t["sigmas"][n] == 0.0
    # diffusers Euler: init_noise_sigma = sqrt(max sigma² + 1) for leading spacing, max sigma
    # otherwise; Karras sigmas start at the table's largest sigma.
    for spacing in ("leading", "trailing"):
        e = dl.preset_table("diffusers-euler-linear", steps=n, spacing=spacing)
        smax_e = e["sigmas"].max()
        want = np.sqrt(smax_e ** 2 + 1) if spacing == "leading" else smax_e
        assert e["init_noise_sigma"].shape == (1,)
        assert e["init_noise_sigma"][0] == pytest.approx(want, rel=1e-15)
    k = dl.preset_table("diffusers-euler-linear", steps=n, karras=True)
    s = k["sigmas"][:n]
    ramp = np.linspace(0, 1, n)
    want = (s[0] ** (1 / 7) + ramp * (s[-1] ** (1 / 7) - s[0] ** (1 / 7))) ** 7
    np.testing.assert_allclose(s, want, rtol=1e-12)
    with pytest.raises(dl.InputError, match="rho"):
        dl.preset_table("diffusers-linear", rho=3.0)
    with pytest.raises(dl.Error):
        dl.preset_table("k-diffusion-karras", steps=n, sigma_min=float("nan"))


def test_load_model_normalize_weights(suite, tmp_path):
    src = suite / "models" / "weights-molrg"
    dst = tmp_path / "m"
    shutil.copytree(src, dst)
    w = np.load(dst / "weights.npy")
    np.save(dst / "weights.npy", 1.01 * w)
    with pytest.raises(dl.FileError, match="normalize"):
        dl.load_model(dst / "model.json")
    m = dl.load_model(dst / "model.json", normalize_weights=True)
    ref = dl.load_model(src / "model.json")
    x = np.random.default_rng(3).normal(size=(4, ref.dim))
    np.testing.assert_allclose(m.posterior_mean(x, 0.8, 0.6), ref.posterior_mean(x, 0.8, 0.6),
                               rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(np.asarray(m.parameters()["weights"]), w, rtol=1e-15)
    assert json.loads((dst / "model.json").read_text())["kind"] == "molrg"
