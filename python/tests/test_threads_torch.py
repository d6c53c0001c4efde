"""The GIL is released during long computations; torch tensors are accepted (if installed)."""

import threading
import time

import numpy as np
import pytest

import diffusion_lowdim as dl


def test_gil_released_during_a_long_posterior_mean():
    rng = np.random.default_rng(0)
    # An empirical model on 2000 points in d = 256: a (1000, 256) batch takes ~0.1 s or more.
    m = dl.Empirical(rng.normal(size=(2000, 256)))
    x = rng.normal(size=(1000, 256))
    done = threading.Event()
    result = {}

    def work():
        t0 = time.perf_counter()
        result["out"] = m.posterior_mean(x, 1.0, 1.0)
        result["ms"] = 1e3 * (time.perf_counter() - t0)
        done.set()

    ticks = 0
    th = threading.Thread(target=work)
    th.start()
    # The main thread keeps running Python while the worker computes: with the GIL held for
    # the whole call it would get no tick in between (the worker holds it from start to end).
    while not done.is_set():
        ticks += 1
        time.sleep(0.001)
    th.join()
    assert result["out"].shape == (1000, 256)
    assert result["ms"] > 20, "the computation is too short to tell"
    assert ticks >= min(50, result["ms"] / 5), (ticks, result["ms"])


def test_threads_give_identical_results():
    rng = np.random.default_rng(1)
    U = np.linalg.qr(rng.normal(size=(32, 8)))[0]
    m = dl.Molrg([U[:, :4], U[:, 4:]])
    x = rng.normal(size=(512, 32))
    want = m.posterior_mean(x, 0.5, 0.5)
    outs = [None] * 4

    def run(i):
        outs[i] = m.posterior_mean(x, 0.5, 0.5)

    ths = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    assert all(o.tobytes() == want.tobytes() for o in outs)


def test_torch_tensors_and_autograd_jacobian(suite):
    torch = pytest.importorskip("torch")

    class TorchExact:
        """A torch implementation of the PCA / low-rank Gaussian denoiser, Jacobian by autograd."""

        def posterior_mean(self, model, x, a, b):
            p = model.parameters()
            if model.kind not in ("pca", "gaussian") or "basis" not in p:
                raise NotImplementedError
            U = torch.tensor(p["basis"], dtype=torch.float64)
            lam = torch.tensor(p.get("variances", np.ones(U.shape[1])), dtype=torch.float64)
            mu = torch.tensor(p.get("mean", np.zeros(U.shape[0])), dtype=torch.float64)
            xt = torch.as_tensor(x)
            g = a * lam / (a * a * lam + b * b)
            return mu + ((xt - a * mu) @ U) * g @ U.T

        def jacobian(self, model, x, a, b):
            return torch.stack([
                torch.autograd.functional.jacobian(
                    lambda v: self.posterior_mean(model, v[None, :], a, b)[0],
                    torch.as_tensor(xi),
                )
                for xi in x
            ])

    r = dl.golden.validate(suite, candidate=TorchExact(), only=["r02", "r14"])
    assert r["failed_cases"] == 0 and r["passed_cases"] >= 4
    m = dl.Pca(np.eye(3)[:, :1])
    t = torch.ones(2, 3)
    assert np.array_equal(m.posterior_mean(t, 1, 1), m.posterior_mean(np.ones((2, 3)), 1, 1))
