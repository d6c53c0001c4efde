"""Flows, PFD, RP/GL, fits, subspace distances and DAE losses against independent numpy."""

import numpy as np
import pytest

import diffusion_lowdim as dl


def orthonormal(rng, d, r):
    return np.linalg.qr(rng.normal(size=(d, r)))[0]


def test_exact_gaussian_flow_matches_a_fine_solver():
    rng = np.random.default_rng(3)
    g = dl.Gaussian(np.zeros(5), basis=orthonormal(rng, 5, 2), variances=[1.0, 0.5])
    x = rng.normal(size=(3, 5)) * 80
    exact = g.flow(x, "exact", steps=40)
    # An adaptive solver at tight tolerances over the same grid (the same clean end).
    dopri = g.flow(x, "dopri5", steps=40, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(dopri, exact, atol=1e-8 * np.abs(exact).max())
    # Heun with 40 steps is within its discretization error (about 1%), not exact.
    heun = g.flow(x, "heun", steps=40)
    assert 1e-4 < np.abs(heun - exact).max() < 2e-2 * np.abs(exact).max()
    # Closed form of the VE flow to sigma_min then D: x0 = U diag(sqrt(l/(l+T^2))) U^T x at
    # sigma_min -> 0 (independent: numpy), up to the O(sigma_min^2) clean end.
    U = g.parameters()["basis"]
    lam = np.array([1.0, 0.5])
    want = (x @ U) * np.sqrt(lam / (lam + 80.0**2)) @ U.T
    np.testing.assert_allclose(exact, want, atol=1e-5)


def test_flow_options_are_checked():
    g = dl.Pca(np.eye(3)[:, :1])
    x = np.ones((1, 3))
    with pytest.raises(dl.InputError, match="needs steps"):
        g.flow(x, "euler")
    with pytest.raises(dl.InputError, match="unknown solver|solver"):
        g.flow(x, "nope", steps=2)
    with pytest.raises(dl.InputError, match="t_start"):
        g.flow(x, "euler", steps=2, t_start=1.0)
    with pytest.raises(dl.TooLargeError):
        g.flow(x, "euler", steps=2**60)
    m = dl.Empirical(np.eye(3))
    with pytest.raises(dl.Error, match="exact"):
        m.flow(x, "exact")


def test_pfd_exact_and_estimate_agree_for_subspaces():
    rng = np.random.default_rng(4)
    U, V = orthonormal(rng, 6, 2), orthonormal(rng, 6, 2)
    p, q = dl.Pca(U), dl.Pca(V)
    ex = dl.pfd(p, q, method="exact", t_max=80.0)
    # Independent: PFD = T ||A_p - A_q||_F with A = sqrt(1/(1+T^2)) U U^T.
    a = np.sqrt(1 / (1 + 80.0**2))
    want = 80.0 * np.linalg.norm(a * (U @ U.T - V @ V.T))
    assert ex["pfd"] == pytest.approx(want, rel=1e-12)
    est = dl.pfd(p, q, "exact", samples=2000, seed=1, steps=2)
    lo, hi = est["interval"]
    assert lo <= want <= hi, (lo, want, hi)
    # E_gen is the PFD against the truth.
    assert dl.generalization_error(p, q, samples=2000, seed=1, steps=2) == est


def test_scores():
    rng = np.random.default_rng(5)
    a = rng.normal(size=(50, 4))
    r = dl.reproducibility(a, a * 2.0)
    assert r["estimate"] == 1.0 and r["successes"] == 50 and r["interval"][1] == 1.0
    r = dl.reproducibility(a, -a)
    assert r["estimate"] == 0.0
    g = dl.generalization(a[:10], a)
    assert g["estimate"] == 0.0  # every sample is a training point: none is novel
    with pytest.raises(dl.InputError):
        dl.reproducibility(a, a[:, :3])
    with pytest.raises(dl.InputError):
        dl.reproducibility(a, a, confidence=1.5)


def test_fits_and_distances():
    rng = np.random.default_rng(6)
    X = rng.normal(size=(200, 5)) * np.array([5.0, 3.0, 0.1, 0.1, 0.1])
    f = dl.fit_pca(X, 2)
    # Independent: numpy's SVD (top right singular vectors of X).
    vt = np.linalg.svd(X, full_matrices=False)[2][:2].T
    assert dl.subspace_distance(f["basis"], vt) < 1e-10
    np.testing.assert_allclose(f["singular_values"][:2], np.linalg.svd(X, compute_uv=False)[:2], rtol=1e-12)
    U, V = orthonormal(rng, 5, 2), orthonormal(rng, 5, 2)
    ang = np.array(dl.principal_angles(U, V))
    want = np.sort(np.arccos(np.clip(np.linalg.svd(U.T @ V, compute_uv=False), -1, 1)))
    np.testing.assert_allclose(ang, want, atol=1e-7)
    assert dl.sin_theta(U, V) == pytest.approx(np.linalg.norm(np.sin(want)), rel=1e-9)
    assert dl.subspace_distance(U, V) == pytest.approx(np.linalg.norm(U @ U.T - V @ V.T), rel=1e-12)
    # K-subspaces on two lines: recovers them.
    e1, e2 = np.eye(4)[:, [0]], np.eye(4)[:, [1]]
    pts = np.vstack([rng.normal(size=(30, 1)) @ e1.T, rng.normal(size=(30, 1)) @ e2.T])
    k = dl.fit_k_subspaces(pts, 2, 1, seed=0)
    dists = sorted(min(dl.subspace_distance(b, e) for e in (e1, e2)) for b in k["bases"])
    assert dists[-1] < 1e-10
    again = dl.fit_k_subspaces(pts, 2, 1, seed=0)  # same seed, same bits
    assert all(a.tobytes() == b.tobytes() for a, b in zip(k["bases"], again["bases"]))
    assert k["labels"] == again["labels"] and k["objective"] == again["objective"]


def test_dae_losses():
    rng = np.random.default_rng(8)
    U = orthonormal(rng, 5, 2)
    X = rng.normal(size=(7, 5))
    a, b = 0.8, 0.6
    g = a / (a * a + b * b)
    # Independent: E||g U U^T (a x + b eps) - x||^2 = ||g a U U^T x - x||^2 + g^2 b^2 r.
    want = sum(np.sum((g * a * U @ U.T @ x - x) ** 2) + g * g * b * b * 2 for x in X)
    assert dl.dae_loss_at_level(U, X, a, b) == pytest.approx(want, rel=1e-12)
    # The integrated loss is lower for the PCA basis than for a random one.
    P = dl.fit_pca(X, 2)["basis"]
    assert dl.dae_loss(P, X) < dl.dae_loss(U, X)
    with pytest.raises(dl.InputError, match="orthonormal"):
        dl.dae_loss(np.ones((5, 2)), X)


def test_measure_on_arrays(suite):
    man = dl.golden.manifest(suite)
    noises = np.load(suite / man["measure"]["noises"])
    ref = np.load(suite / man["measure"]["reference_flow"])
    r = dl.golden.measure(suite, ref)
    assert r["e_gen"]["estimate"] == 0.0 and r["rp"]["estimate"] == 1.0
    r = dl.golden.measure(suite, ref + 0.1 * noises / 80.0, training=man["measure"]["training_sets"][0]["n"])
    assert r["e_gen"]["estimate"] > 0 and r["e_mem"] is not None and r["gl"] is not None
    with pytest.raises(dl.Error):
        dl.golden.measure(suite, ref[:, :-1])
