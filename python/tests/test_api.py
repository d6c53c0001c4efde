"""The API against independent computations, and hostile inputs raising documented errors."""

import numpy as np
import pytest

import diffusion_lowdim as dl


def orthonormal(rng, d, r):
    return np.linalg.qr(rng.normal(size=(d, r)))[0]


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def test_check_r03_passes_and_matches_cli_structure():
    r = dl.check(only=["R03"], cases=20)
    assert r["passed"] is True
    assert [x["id"] for x in r["results"]] == ["R03"]
    assert r["crate"] == "diffusion-lowdim" and r["version"] == dl.__version__
    assert r["seed"] == 0 and r["cases"] == 20


def test_check_unknown_id():
    with pytest.raises(dl.InputError, match="unknown"):
        dl.check(only=["R99"], cases=1)


def test_gaussian_posterior_mean_against_dense_formula(rng):
    # Independent: mu + S a (a^2 S + b^2 I)^-1 (x - a mu) with numpy's dense solve.
    d, r = 6, 2
    U = orthonormal(rng, d, r)
    lam = np.array([2.0, 0.5])
    mu = rng.normal(size=d)
    S = U @ np.diag(lam) @ U.T
    g = dl.Gaussian(mu, basis=U, variances=lam)
    x = rng.normal(size=(5, d))
    a, b = 0.7, 0.4
    want = mu + (S * a @ np.linalg.solve(a * a * S + b * b * np.eye(d), (x - a * mu).T)).T
    np.testing.assert_allclose(g.posterior_mean(x, a, b), want, rtol=1e-12, atol=1e-12)
    # Full covariance form, same distribution.
    gf = dl.Gaussian(mu, covariance=S)
    np.testing.assert_allclose(gf.posterior_mean(x, a, b), want, rtol=1e-10, atol=1e-10)
    # Tweedie: score = (a E[x0|x] - x) / b^2.
    np.testing.assert_allclose(g.score(x, a, b), (a * want - x) / b**2, rtol=1e-10, atol=1e-10)


def test_molrg_weights_and_mean_against_numpy_mixture(rng):
    d = 8
    U = orthonormal(rng, d, 5)
    bases = [U[:, :2], U[:, 2:5]]
    pi = np.array([0.25, 0.75])
    lam = [np.array([1.5, 0.5]), np.array([1.0, 2.0, 0.3])]
    m = dl.Molrg(bases, weights=pi, variances=lam)
    x = rng.normal(size=(3, d))
    a, b = 0.9, 0.8
    # Independent: dense Gaussian densities with scipy-free numpy.
    logs, means = [], []
    for Uk, lk, pk in zip(bases, lam, pi):
        S = a * a * Uk @ np.diag(lk) @ Uk.T + b * b * np.eye(d)
        _, logdet = np.linalg.slogdet(S)
        q = np.einsum("bi,ij,bj->b", x, np.linalg.inv(S), x)
        logs.append(np.log(pk) - 0.5 * (logdet + q + d * np.log(2 * np.pi)))
        means.append((a * Uk @ np.diag(lk) @ Uk.T @ np.linalg.solve(S, x.T)).T)
    logs = np.array(logs).T
    w = np.exp(logs - logs.max(1, keepdims=True))
    w /= w.sum(1, keepdims=True)
    np.testing.assert_allclose(m.posterior_weights(x, a, b), w, rtol=1e-10)
    want = sum(w[:, [k]] * means[k] for k in range(2))
    np.testing.assert_allclose(m.posterior_mean(x, a, b), want, rtol=1e-9, atol=1e-12)
    lse = logs.max(1) + np.log(np.exp(logs - logs.max(1, keepdims=True)).sum(1))
    np.testing.assert_allclose(m.log_density(x, a, b), lse, rtol=1e-10)


def test_empirical_softmax_and_jacobian_symmetry(rng):
    pts = rng.normal(size=(4, 3))
    e = dl.Empirical(pts)
    x = rng.normal(size=(2, 3))
    a, b = 1.0, 0.9
    logit = -((x[:, None, :] - a * pts[None]) ** 2).sum(-1) / (2 * b * b)
    s = np.exp(logit - logit.max(1, keepdims=True))
    s /= s.sum(1, keepdims=True)
    np.testing.assert_allclose(e.posterior_weights(x, a, b), s, rtol=1e-12)
    np.testing.assert_allclose(e.posterior_mean(x, a, b), s @ pts, rtol=1e-12)
    J = e.jacobian(x, a, b)
    assert J.shape == (2, 3, 3)
    np.testing.assert_allclose(J, np.swapaxes(J, 1, 2), atol=1e-14)


def test_level_forms_agree(rng):
    U = orthonormal(rng, 4, 2)
    g = dl.Pca(U)
    x = rng.normal(size=(3, 4))
    al, be = dl.noise_level("vp-linear", 0.3)
    assert np.array_equal(g.posterior_mean(x, schedule="vp-linear", t=0.3), g.posterior_mean(x, al, be))
    assert np.array_equal(g.posterior_mean(x, sigma=0.5), g.posterior_mean(x, 1.0, 0.5))
    # The PCA denoiser a/(a^2+b^2) U U^T x, independently.
    np.testing.assert_allclose(g.posterior_mean(x, 1.0, 0.5), (x @ U @ U.T) / 1.25, rtol=1e-14)
    with pytest.raises(dl.InputError, match="exactly one of"):
        g.posterior_mean(x, 1.0, 0.5, sigma=0.5)
    with pytest.raises(dl.InputError, match="unknown schedule"):
        g.posterior_mean(x, schedule="nope", t=0.5)


def test_convert_round_trip(rng):
    x = rng.normal(size=(3, 4))
    eps = rng.normal(size=(3, 4))
    a, b = 0.6, 0.8
    x0 = dl.convert(eps, x, "eps", "x0", a, b)
    np.testing.assert_allclose(x0, (x - b * eps) / a, rtol=1e-14)
    np.testing.assert_allclose(dl.convert(x0, x, "x0", "eps", a, b), eps, rtol=1e-12)


def test_array_likes_and_dtypes(rng):
    m = dl.Pca(orthonormal(rng, 3, 1))
    x = rng.normal(size=(2, 3))
    want = m.posterior_mean(x, 1, 1)
    assert np.array_equal(m.posterior_mean(x.tolist(), 1, 1), want)
    assert np.array_equal(m.posterior_mean(np.asfortranarray(x), 1, 1), want)
    assert np.array_equal(m.posterior_mean(x[:, ::-1][:, ::-1], 1, 1), want)

    class Wrapped:
        def __array__(self, dtype=None, copy=None):
            return x

    assert np.array_equal(m.posterior_mean(Wrapped(), 1, 1), want)
    x32 = x.astype(np.float32)
    assert np.array_equal(m.posterior_mean(x32, 1, 1), m.posterior_mean(x32.astype(np.float64), 1, 1))


@pytest.mark.parametrize(
    "bad, exc, match",
    [
        (np.full((2, 3), np.nan), dl.InputError, "non-finite value NaN at index \\[0, 0\\]"),
        (np.array([[0.0, np.inf, 0.0]]), dl.InputError, "non-finite value inf at index \\[0, 1\\]"),
        (np.zeros((2, 4)), dl.InputError, "axis 1 has length 4, expected 3"),
        (np.zeros(3), dl.InputError, "2-dimensional array"),
        (np.zeros((0, 3)), dl.InputError, "empty"),
        (np.zeros((2, 3), dtype=complex), dl.DtypeError, "complex128"),
        (np.zeros((2, 3), dtype=bool), dl.DtypeError, "bool"),
        ([[1, "a", 2]], dl.DtypeError, "dtype"),
        ([[1, 2], [3]], dl.DtypeError, "cannot be read as an array"),
    ],
)
def test_hostile_batches(bad, exc, match):
    m = dl.Empirical(np.eye(3))
    with pytest.raises(exc, match=match):
        m.posterior_mean(bad, 1.0, 1.0)


def test_overflow_is_an_error_not_inf():
    m = dl.Empirical(np.eye(3))
    with pytest.raises(dl.NumericalError, match="overflows"):
        m.score(np.full((1, 3), 1e300), 1.0, 1e-10)
    assert issubclass(dl.NumericalError, ArithmeticError)


def test_hostile_models_and_levels(rng):
    with pytest.raises(dl.InputError, match="orthonormal"):
        dl.Molrg([np.ones((3, 1)), np.eye(3)[:, :1]])
    with pytest.raises(dl.InputError, match="orthonormal"):
        dl.Pca(np.ones((3, 2)) / np.sqrt(3))
    with pytest.raises(dl.InputError, match="mixture weights"):
        dl.Molrg([np.eye(3)[:, :1], np.eye(3)[:, 1:2]], weights=[0.7, 0.7])
    with pytest.raises(dl.InputError, match="PSD|positive semidefinite"):
        dl.Gaussian(np.zeros(2), covariance=[[1.0, 0.0], [0.0, -1.0]])
    with pytest.raises(dl.InputError, match="noise level"):
        dl.Pca(np.eye(2)[:, :1]).posterior_mean(np.ones((1, 2)), 1.0, 0.0)
    with pytest.raises(dl.InputError, match="noise level"):
        dl.Pca(np.eye(2)[:, :1]).posterior_mean(np.ones((1, 2)), float("nan"), 1.0)
    with pytest.raises(dl.TooLargeError, match="too large"):
        dl.Pca(np.eye(2)[:, :1]).sample(2**62)
    with pytest.raises(OverflowError):
        dl.Pca(np.eye(2)[:, :1]).sample(-1)
    with pytest.raises(dl.FileError, match="cannot read"):
        dl.load_model("/nonexistent/model.json")
    # All are diffusion_lowdim.Error and the fitting builtin.
    assert issubclass(dl.InputError, ValueError) and issubclass(dl.FileError, OSError)
    assert issubclass(dl.DtypeError, TypeError) and issubclass(dl.TooLargeError, MemoryError)


def test_huge_jacobian_refused_before_allocating():
    d = 4096
    m = dl.Pca(np.eye(d)[:, :1])
    x = np.zeros((20000, d))
    with pytest.raises(dl.TooLargeError):
        m.jacobian(x, 1.0, 1.0)


def test_model_file_round_trip(suite):
    man = dl.golden.manifest(suite)
    case = next(c for c in man["cases"] if c["family"] == "R03" and c["kind"] == "posterior_mean")
    m = dl.load_model(suite / case["model"])
    assert m.kind in ("molrg", "k-subspaces")
    p = m.parameters()
    again = dl.Molrg(p["bases"], weights=p["weights"], variances=p["variances"])
    x = np.load(suite / case["inputs"]["x"])
    lv = case["level"]
    assert np.array_equal(
        again.posterior_mean(x, lv["alpha"], lv["beta"]), m.posterior_mean(x, lv["alpha"], lv["beta"])
    )


def test_versions_agree():
    import importlib.metadata
    import pathlib
    import re

    root = pathlib.Path(__file__).resolve().parents[2]
    ver = lambda p: re.search(r'(?m)^version = "([^"]+)"', p.read_text()).group(1)  # noqa: E731
    assert ver(root / "Cargo.toml") == ver(root / "python" / "Cargo.toml") == dl.__version__
    assert importlib.metadata.version("diffusion-lowdim") == dl.__version__


def test_help_is_useful():
    for f in (dl.Molrg, dl.Model.posterior_mean, dl.golden.validate, dl.pfd, dl.check):
        assert f.__doc__ and len(f.__doc__) > 40, f
    assert "E[x0 | x_t]" in dl.Model.posterior_mean.__doc__


def test_readonly_and_strided_inputs():
    rng = np.random.default_rng(11)
    m = dl.Molrg([np.eye(4)[:, :2], np.eye(4)[:, 2:]])
    x = rng.normal(size=(3, 4))
    want = m.posterior_mean(x, 0.9, 0.5)
    ro = x.copy()
    ro.setflags(write=False)  # borrowed read-only, not copied
    assert m.posterior_mean(ro, 0.9, 0.5).tobytes() == want.tobytes()
    big = rng.normal(size=(3, 8))
    big[:, ::2] = x  # a strided view: copied to C order first
    assert m.posterior_mean(big[:, ::2], 0.9, 0.5).tobytes() == want.tobytes()
    assert m.posterior_mean(x.astype(">f8"), 0.9, 0.5).tobytes() == want.tobytes()  # big-endian


def test_tensor_like_outputs_in_golden(suite):
    class FakeTensor:
        """What golden.validate sees from torch: detach().cpu() then __array__."""

        def __init__(self, a):
            self.a, self.dtype = a, "torch.float64"

        def detach(self):
            return self

        def cpu(self):
            return self

        def __array__(self, dtype=None, copy=None):
            return self.a

    class T:
        def posterior_mean(self, model, x, a, b):
            return FakeTensor(model.posterior_mean(x, a, b))

    r = dl.golden.validate(suite, candidate=T(), only=["r02-pca"])
    assert r["passed"]
