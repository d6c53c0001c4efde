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


def load_model(path, normalize_weights=False):
    """Load a model file (``model.json`` with its .npy arrays; docs/model-format.md).

    ``normalize_weights=True`` divides a mixture's weights by their sum (the CLI's
    ``--normalize-weights``); without it, weights that do not sum to 1 within 1e-12 raise
    :class:`FileError` naming the manifest."""
    import os

    return Model.load(os.fspath(path), normalize_weights)


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


def preset_table(name, precision="f64", steps=None, spacing="leading", steps_offset=0, *,
                 sigma_min=None, sigma_max=None, rho=None, karras=False):
    """A preset's table as a dict of numpy arrays: ``t``, ``alpha``, ``beta`` and the library's
    native arrays (``alphas_cumprod``, ``sigmas``, ``timesteps``, ``init_noise_sigma`` (a
    (1,) array), …). The CLI's ``eval schedule`` with the same options:

    - ``steps``: diffusers inference steps (``None``: the whole training table), the length
      of a σ grid or a score_sde time grid; ``spacing`` (``linspace``, ``leading``,
      ``trailing``) and ``steps_offset``: diffusers' ``timestep_spacing`` / ``steps_offset``;
    - ``sigma_min``, ``sigma_max``, ``rho``: σ grids (k-diffusion Karras / exponential, EDM:
      defaults 0.002, 80, 7) and diffusers Euler with Karras sigmas (its config's bounds);
    - ``karras=True``: diffusers Euler's ``use_karras_sigmas=True``.

    ``precision="f32"`` reproduces the library's float32 computation bit for bit. Options a
    preset does not take raise :class:`InputError` naming them."""
    import numpy as np

    raw = _json.loads(_native.preset_table_json(
        name, precision, steps, spacing, steps_offset, sigma_min, sigma_max, rho, karras))
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


# ---------------------------------------------------------------- probability flows, PFD, metrics

_FLOW_DOC = """Flow keywords (the CLI's ``eval flow`` options): ``solver`` (euler, heun, rk4, ddim,
dpm-solver++2m, dopri5, or exact for two Gaussians), ``schedule`` (a crate schedule, default
``ve``), and either the EDM grid (``steps`` noise levels from ``sigma_max`` = 80 to
``sigma_min`` = 0.002 with exponent ``rho`` = 7, then the clean end) or ``steps`` equal steps
from ``t_start`` to ``t_end`` (``log_spacing=True`` for equal steps in log t, ``clean=True``
for the final x ↦ D(x, t_n)); ``rtol``/``atol`` for dopri5."""


def pfd(p, q, solver="exact", *, method="estimate", noises=None, samples=256, seed=0,
        t_max=None, features=None, confidence=0.95, **flow):
    r"""The probability flow distance between the flows of models ``p`` and ``q`` (R11):
    :math:`\mathrm{PFD}(p, q) = \big(\mathbb E_{x_T}\|h(\Phi_p(x_T)) - h(\Phi_q(x_T))\|^2\big)^{1/2}`.

    ``method="estimate"``: the estimator on ``noises`` (M, d) or ``samples`` drawn noises
    :math:`x_T = Tz` (seeded; ``t_max`` = T, default the flow's starting β), with the
    delta-method interval at ``confidence``; returns ``estimate``, ``interval``, ``std_error``,
    ``squared``, ``std_error_squared``, ``samples``. ``method="exact"``: the closed form for two
    Gaussians in VE from ``t_max`` (default ``sigma_max`` = 80) to the clean data (principal
    angles for subspace Gaussians); returns ``pfd`` and ``closed_form``. ``features``: a linear
    feature map W (k, d).
    """
    return _json.loads(
        _native.pfd_json(p, q, solver, noises=noises, samples=samples, seed=seed, t_max=t_max,
                         features=features, confidence=confidence, method=method, **flow)
    )


pfd.__doc__ += "\n" + _FLOW_DOC


def generalization_error(learned, truth, solver="exact", **kw):
    r""":math:`E_{\mathrm{gen}}(\theta) = \mathrm{PFD}(p_\theta, p_\star)`: :func:`pfd` of the
    learned model against the ground truth."""
    return pfd(learned, truth, solver, **kw)


def memorization_error(learned, training_points, solver="dopri5", **kw):
    r""":math:`E_{\mathrm{mem}}(\theta) = \mathrm{PFD}(p_\theta, p_{\mathrm{emp}})`: :func:`pfd`
    of the learned model against the empirical distribution of its training set (N, d)."""
    return pfd(learned, Empirical(training_points), solver, **kw)


def reproducibility(a, b, threshold=None, confidence=0.95):
    r"""Reproducibility score RP (R13) of paired samples ``a``, ``b`` (B, d): the fraction of
    pairs with cosine similarity > ``threshold`` (default 0.6), with its Clopper–Pearson
    interval (``estimate``, ``interval``, ``successes``, ``trials``, ``confidence``)."""
    return _native.reproducibility(a, b, threshold, confidence)


def generalization(samples, training, threshold=None, confidence=0.95):
    r"""Generalization score GL (R13): the fraction of ``samples`` (B, d) whose nearest
    training point (N, d), by cosine similarity, is at most ``threshold``, with its
    Clopper–Pearson interval."""
    return _native.generalization(samples, training, threshold, confidence)


def fit_pca(points, r):
    r"""PCA of ``points`` (N, d): the top-``r`` basis (d, r) maximizing
    :math:`\|U^\top X\|_F^2`, the singular values and the objective (R05–R07)."""
    return _native.fit_pca(points, r)


def fit_k_subspaces(points, k, r, seed=0):
    r"""K-subspaces (R08): ``k`` bases (d, ``r``) maximizing
    :math:`\frac1N\sum_i\max_k\|U_k^\top x_i\|^2`, with labels, objective, convergence and the
    certified relative gap. Seeded: same seed, same bits."""
    return _native.fit_k_subspaces(points, k, r, seed)


def subspace_distance(u, v):
    r""":math:`\|UU^\top - VV^\top\|_F` of two orthonormal bases (d, r)."""
    return _native.subspace_distance(u, v)


def principal_angles(u, v):
    """Principal angles (radians, ascending) between the spans of two orthonormal bases."""
    return _native.principal_angles(u, v)


def sin_theta(u, v):
    r""":math:`\|\sin\Theta(U, V)\|_F` of two orthonormal bases."""
    return _native.sin_theta(u, v)


def principal_sines(u, v):
    r"""The sines of the principal angles (ascending) between the spans of two orthonormal
    bases ``u`` (d, p), ``v`` (d, q): the singular values of :math:`(I - UU^\top)V` (for
    :math:`q \le p`), computed directly, so tiny angles keep full relative accuracy (where
    ``np.sin(principal_angles(u, v))`` loses digits). The CLI's ``eval subspaces
    --out-sines``."""
    return _native.principal_sines(u, v)


def _bases(u):
    """One basis (d, r) or a sequence of K bases [(d, r_k)] as a list of bases."""
    import numpy as np

    if isinstance(u, (list, tuple)) and len(u) > 0 and np.ndim(u[0]) == 2:
        return list(u)
    return [u]


def dae_loss_at_level(u, points, alpha=None, beta=None, *, sigma=None, schedule=None, t=None,
                      form="softmax"):
    r"""The DAE loss on ``points`` (N, d), summed over the points, at one level, exactly (the
    expectation over ε in closed form; the CLI's ``eval dae-loss`` at a level, same bits).

    ``u``: one basis (d, r) — the linear denoiser
    :math:`x_U = \frac{\alpha}{\alpha^2+\beta^2}UU^\top x_t`, with loss
    :math:`\|(I-UU^\top)X\|_F^2 + (1-a)^2\|U^\top X\|_F^2 + Nr\,a(1-a)`,
    :math:`a = \alpha^2/(\alpha^2+\beta^2)` — or a list of K bases [(d, r_k)] with
    ``form="softmax"`` (weights :math:`w_k \propto \exp(\frac{\alpha^2}{2\beta^2(\alpha^2+\beta^2)}\|U_k^\top x_t\|^2)`,
    Theorem 3's ε-expectation inside the softmax) or ``form="hard-max"`` (the component
    :math:`\arg\max_k \|U_k^\top x_i\|` chosen on clean data)."""
    return _native.dae_loss_value(_bases(u), points, form, alpha, beta, sigma, schedule, t)[0]


def dae_loss(u, points, t0=0.0, t1=1.0, *, schedule="ve", weighting="unit", form="softmax",
             report=False):
    r"""The DAE loss on ``points`` (N, d) integrated over :math:`t \in [t_0, t_1]` of the crate
    schedule ``schedule`` with weight :math:`\lambda_t`: ``weighting="unit"`` (1),
    ``"inverse-noise-variance"`` (:math:`1/\beta_t^2`) or ``"snr"``
    (:math:`\alpha_t^2/\beta_t^2`); the CLI's ``eval dae-loss --loss-schedule``, same bits.

    ``u``: one basis (d, r) or a list of K bases with ``form`` as in :func:`dae_loss_at_level`.
    K = 1 and the hard max are in closed form (R05: :math:`-C\|U^\top X\|_F^2 + D`, with the
    coefficients analytic for VE unit / inverse-noise-variance, by quadrature otherwise); the
    K > 1 softmax form by adaptive Gauss-Legendre quadrature of the at-level loss.
    ``report=True`` returns ``(value, integration_error, method)``: a stated bound on the
    integration's absolute error and how it was computed."""
    r = _native.dae_loss_value(_bases(u), points, form, loss_schedule=schedule, t0=t0, t1=t1,
                               weighting=weighting)
    return r if report else r[0]


__all__ += [
    "pfd", "generalization_error", "memorization_error", "reproducibility", "generalization",
    "fit_pca", "fit_k_subspaces", "subspace_distance", "principal_angles", "sin_theta",
    "principal_sines", "dae_loss_at_level", "dae_loss",
]
