r"""diffusion_lowdim: ground truth for diffusion models on low-dimensional data, in-process.

The Python face of the Rust crate ``diffusion-lowdim``: exact posterior means, scores,
Jacobians, log-densities and posterior weights of Gaussians, mixtures of low-rank Gaussians
(MoLRG) and empirical distributions; Tweedie conversions; schedules and library presets; the
theorem checks (:func:`check`); and the golden suite (:mod:`diffusion_lowdim.golden`), which
validates a Python function in-process.

Conventions (as the CLI): :math:`x_t = \alpha x_0 + \beta\varepsilon`,
:math:`\varepsilon\sim\mathcal N(0, I_d)`; arrays are batch-first ``(B, d)`` float64 (any
array-like is accepted: numpy arrays, lists, torch CPU tensors; float32 and integers are
promoted to float64; a C-contiguous float64 array is read without a copy). The noise level is
given as ``alpha, beta`` (positional), ``sigma=`` (VE: :math:`\alpha=1, \beta=\sigma`), or
``schedule=, t=`` (a crate schedule such as ``vp-linear`` or a library preset such as
``ddpm-linear``; see :func:`schedule_names` and :func:`presets`).

Errors raise :class:`Error` subclasses carrying the crate's message (see
:mod:`diffusion_lowdim._errors`); long computations release the GIL.

Example::

    import numpy as np, diffusion_lowdim as dl
    U = np.linalg.qr(np.random.default_rng(0).normal(size=(16, 6)))[0]
    model = dl.Molrg([U[:, :3], U[:, 3:]], weights=[0.3, 0.7])
    x = np.random.default_rng(1).normal(size=(4, 16))
    x0_hat = model.posterior_mean(x, 0.8, 0.6)          # E[x0 | x_t = x], (4, 16)
"""

from __future__ import annotations

import json as _json

from . import _native, golden
from ._errors import (
    DtypeError,
    Error,
    FileError,
    GoldenError,
    InputError,
    InternalError,
    NumericalError,
    TooLargeError,
)
from ._native import Model

__version__ = _native.crate_version()

__all__ = [
    "Model",
    "Gaussian",
    "Molrg",
    "Empirical",
    "Pca",
    "KSubspaces",
    "load_model",
    "convert",
    "noise_level",
    "schedule_names",
    "presets",
    "preset_table",
    "check",
    "golden",
    "Error",
    "InputError",
    "DtypeError",
    "TooLargeError",
    "NumericalError",
    "FileError",
    "GoldenError",
    "InternalError",
]


def Gaussian(mean, basis=None, variances=None, covariance=None):
    r"""A Gaussian :math:`\mathcal N(\mu, U\Lambda U^\top)` or :math:`\mathcal N(\mu, \Sigma)`.

    ``mean`` (d,); either ``basis`` U (d, r) with orthonormal columns (checked:
    :math:`\max|U^\top U - I|` within a tolerance, else :class:`InputError`) and ``variances``
    :math:`\lambda` (r,) (default ones), or ``covariance`` Σ (d, d) symmetric PSD.

    Posterior mean (R02):
    :math:`\mathbb E[x_0\mid x_t] = \mu + \Sigma\alpha(\alpha^2\Sigma + \beta^2 I)^{-1}(x_t - \alpha\mu)`.
    """
    return Model.gaussian(mean, basis, variances, covariance)


def Molrg(bases, weights=None, variances=None):
    r"""A mixture of low-rank Gaussians :math:`\sum_k \pi_k\,\mathcal N(0, U_k\Lambda_kU_k^\top)`.

    ``bases``: list of K orthonormal (d, r_k) matrices; ``weights`` π (K,) (default uniform;
    ≥ 0, summing to 1); ``variances``: list of K (r_k,) arrays or ``None`` (default ones).

    Posterior mean (R03): :math:`\mathbb E[x_0\mid x_t] = \sum_k w_k(x_t)\,
    U_k\,\mathrm{diag}\big(\tfrac{\alpha\lambda_{k,i}}{\alpha^2\lambda_{k,i}+\beta^2}\big)U_k^\top x_t`
    with the weights :math:`w_k` a softmax of the components' log-densities, computed with
    log-sum-exp in double-length arithmetic.
    """
    return Model.molrg(list(bases), weights, None if variances is None else list(variances))


def Empirical(points):
    r"""The empirical distribution :math:`\frac1N\sum_i\delta_{x^{(i)}}` of ``points`` (N, d).

    Posterior mean (R04): :math:`\sum_i s_i(x_t)\,x^{(i)}`, with
    :math:`s = \mathrm{softmax}_i\big(-\|x_t - \alpha x^{(i)}\|^2/(2\beta^2)\big)` — the
    memorizing denoiser.
    """
    return Model.empirical(points)


def Pca(basis):
    r"""The learned K = 1 (PCA) denoiser :math:`\frac{\alpha}{\alpha^2+\beta^2}UU^\top x` on
    ``basis`` U (d, r)."""
    return Model.pca(basis)


def KSubspaces(bases):
    """The learned K-subspaces denoiser: a uniform MoLRG on ``bases`` [(d, r_k)]."""
    return Model.k_subspaces(list(bases))


def load_model(path):
    """Load a model file (``model.json`` with its .npy arrays; docs/model-format.md)."""
    import os

    return Model.load(os.fspath(path))


def convert(value, x, from_, to, alpha=None, beta=None, *, sigma=None, schedule=None, t=None):
    r"""Convert predictions ``value`` (B, d) made at ``x`` (B, d) between ``x0``, ``eps``,
    ``v`` and ``score`` (Tweedie, R01):
    :math:`\hat x_0 = (x_t - \beta\hat\varepsilon)/\alpha`, :math:`\hat v = \alpha\hat\varepsilon - \beta\hat x_0`,
    :math:`\hat s = -\hat\varepsilon/\beta`.
    """
    return _native.convert(value, x, from_, to, alpha, beta, sigma=sigma, schedule=schedule, t=t)


def noise_level(schedule=None, t=None, *, alpha=None, beta=None, sigma=None):
    """The noise level ``(alpha, beta)`` of ``schedule`` at ``t`` (or of ``sigma=``)."""
    return _native.noise_level(schedule, t, alpha=alpha, beta=beta, sigma=sigma)


def schedule_names():
    """The names of the crate's schedules (usable as ``schedule=``)."""
    return list(_native.schedule_names())


def presets():
    """The library presets (diffusers, k-diffusion, score_sde tables) as a list of dicts
    (``name``, ``library``, ``summary``, ``time``, ``divergences``)."""
    return _json.loads(_native.presets_json())


def preset_table(name, precision="f64", steps=None, spacing="leading", steps_offset=0):
    """A preset's table as a dict of numpy arrays: ``t``, ``alpha``, ``beta`` and the library's
    native arrays (``alphas_cumprod``, ``sigmas``, …). ``precision="f32"`` reproduces the
    library's float32 computation bit for bit."""
    import numpy as np

    raw = _json.loads(_native.preset_table_json(name, precision, steps, spacing, steps_offset))
    out = {k: np.asarray(raw[k], dtype=np.float64) for k in ("t", "alpha", "beta")}
    for k, v in raw["native"]:
        out[k] = np.asarray(v, dtype=np.float64)
    return out


def check(only=None, cases=200, seed=0):
    """Run the theorem checks; return the report as a dict, the same as the CLI's
    ``diffusion-lowdim check --report FILE`` JSON (``passed``, ``results`` per result id, …).

    ``only``: result ids (e.g. ``["R03"]``); ``cases``: instances per result; ``seed``: the
    master seed (instance i of result R uses the stream (seed, R, i): bit-identical reports).
    """
    if isinstance(only, str):
        only = [only]
    return _json.loads(_native.check_json(None if only is None else list(only), cases, seed))
