"""The golden suite: reference cases for your implementation, and their validation.

A suite (``export``) is a folder of cases: inputs, a model file, a noise level, the expected
output from double-double oracles, and per-point tolerances in two tiers (``f64``, ``f32``).
Point ``b`` of a case passes iff ``‖o_b − e_b‖₂ ≤ tol_b · scale_b`` (the norm over the
remaining axes); a case passes iff every point passes.

``validate`` compares either a folder of ``<id>.npy`` outputs (as the CLI's
``golden validate``) or a Python candidate, in-process and without writing any file:

* a function ``f(case) -> array | None`` receiving a :class:`Case`, or
* an object with methods named after the case kinds, e.g.
  ``posterior_mean(model, x, alpha, beta)``, ``score(model, x, alpha, beta)``,
  ``jacobian(model, x, alpha, beta)`` (arrays ``(B, d)`` in, ``(B, d)`` / ``(B, d, d)`` out);
  any other kind ``k`` is asked as ``k(case)``.

A case the candidate does not compute (no such method, ``None`` returned, or
``NotImplementedError`` raised) is reported ``missing`` — exactly as a missing output file —
and the verdicts are the CLI's (one code path in the Rust crate). float32 outputs are judged
as float32 files are (``stored: "f32"``); use ``tier="f32"`` for a float32 implementation.
"""

from __future__ import annotations

import io as _io
import json as _json
import os as _os

import numpy as _np

from . import _native
from ._errors import InputError

__all__ = ["Case", "export", "manifest", "validate", "measure", "table", "DEFAULT_SEED"]

#: The master seed of the default suite.
DEFAULT_SEED = 20_250_611

#: Case kinds whose method form is ``method(model, x, alpha, beta)``.
MODEL_KINDS = ("posterior_mean", "score", "jacobian")


class Case:
    """One golden case, as a candidate sees it.

    Attributes: ``id``, ``family``, ``kind`` (``posterior_mean``, ``score``, ``jacobian``,
    ``convert``, ``schedule``, ``sampler_step``, ``flow``, …), ``description``, ``params``
    (dict), ``model`` (a :class:`diffusion_lowdim.Model` or ``None``; its parameters in
    ``model.parameters()``), ``inputs`` (dict of float64 arrays, e.g. ``x`` of shape
    ``(B, d)``), ``x`` (``inputs.get("x")``), ``alpha``, ``beta`` (or ``None``), ``shape`` (the
    expected output's shape) and ``command`` (the CLI command computing the crate's value).
    """

    __slots__ = (
        "id", "family", "kind", "description", "params", "model", "inputs", "x", "alpha",
        "beta", "shape", "command",
    )

    def __init__(self, d):
        self.id = d["id"]
        self.family = d["family"]
        self.kind = d["kind"]
        self.description = d["description"]
        self.params = _json.loads(d["params_json"])
        self.model = d["model"]
        self.inputs = d["inputs"]
        self.x = self.inputs.get("x")
        level = d["level"]
        self.alpha, self.beta = (None, None) if level is None else level
        self.shape = tuple(d["shape"])
        self.command = d["command"]

    def __repr__(self):
        return f"Case(id={self.id!r}, kind={self.kind!r}, shape={self.shape})"


def export(dir, seed=DEFAULT_SEED, replace=False):
    """Export the golden suite to ``dir`` (atomically); return a summary dict
    (``families``: ``[{id, cases}]``, ``files``, ``bytes``)."""
    return _json.loads(_native.golden_export(_os.fspath(dir), seed, replace))


def manifest(golden_dir):
    """The suite's ``manifest.json`` as a dict (after checking every file's SHA-256)."""
    return _json.loads(_native.golden_manifest(_os.fspath(golden_dir)))


def _to_npy_bytes(out):
    """A candidate's output as the bytes of a .npy file (float64, or float32 kept as such)."""
    if hasattr(out, "detach") and hasattr(out, "cpu"):  # a torch tensor
        out = out.detach().cpu()
        if str(out.dtype) in ("torch.bfloat16", "torch.float16"):
            out = out.float()  # exact in float32 (numpy has no bfloat16)
    a = _np.asarray(out)
    name = a.dtype.name
    if a.dtype.kind == "f" and a.dtype.itemsize in (4, 8):
        pass
    elif (a.dtype.kind == "f" and a.dtype.itemsize < 4) or (
        a.dtype.itemsize <= 2 and (name.startswith("bfloat") or name.startswith("float"))
    ):
        a = a.astype(_np.float32)  # float16, bfloat16 (ml_dtypes / JAX): exact in float32
    elif a.dtype.kind in "iu":
        a = a.astype(_np.float64)
    else:
        raise InputError(
            f"the candidate returned an array of dtype {a.dtype}: outputs must be real "
            "(float64 or float32)"
        )
    buf = _io.BytesIO()
    _np.save(buf, _np.ascontiguousarray(a), allow_pickle=False)
    return buf.getvalue()


def _adapter(candidate):
    methods = not callable(candidate) or any(
        callable(getattr(candidate, k, None)) for k in MODEL_KINDS
    )

    def ask(d):
        case = Case(d)
        try:
            if methods:
                f = getattr(candidate, case.kind, None)
                if not callable(f):
                    return f"not provided by the candidate (no method {case.kind})"
                if case.kind in MODEL_KINDS:
                    out = f(case.model, case.x, case.alpha, case.beta)
                else:
                    out = f(case)
            else:
                out = candidate(case)
        except NotImplementedError as e:
            return f"not provided by the candidate (NotImplementedError: {e})"
        if out is None:
            return None
        return _to_npy_bytes(out)

    return ask


def validate(golden_dir, outputs=None, *, candidate=None, tier="f64", only=None):
    """Validate outputs against the golden suite in ``golden_dir``; return the report dict.

    Give exactly one of ``outputs`` (a folder of ``<id>.npy`` files, as the CLI's
    ``golden validate``) or ``candidate`` (a function or an object, see the module
    docstring). ``tier`` is ``"f64"`` or ``"f32"``; ``only`` restricts to the cases whose id or
    family starts with one of the given prefixes.

    The report is the CLI's ``--report`` JSON: ``passed``, ``cases``, ``passed_cases``,
    ``failed_cases``, ``missing`` (ids) and ``results`` (per case: ``id``, ``family``, ``kind``,
    ``status`` in ``pass``/``fail``/``missing``/``shape_mismatch``/``non_finite``,
    ``max_abs_error``, ``max_rel_error``, ``tolerance``, ``ratio``, ``worst_point``,
    ``message``).

    Raises :class:`~diffusion_lowdim.GoldenError` for an invalid or altered suite, and lets
    the candidate's own exceptions (other than ``NotImplementedError``) propagate.
    """
    if isinstance(only, str):
        only = [only]
    only = [] if only is None else list(only)
    if (outputs is None) == (candidate is None):
        raise InputError("give exactly one of outputs= (a folder) or candidate= (a callable)")
    if outputs is not None:
        return _json.loads(
            _native.golden_validate_dir(_os.fspath(golden_dir), _os.fspath(outputs), tier, only)
        )
    label = f"<python: {getattr(candidate, '__qualname__', type(candidate).__qualname__)}>"
    return _json.loads(
        _native.golden_validate_callable(
            _os.fspath(golden_dir), _adapter(candidate), tier, only, label
        )
    )


def table(report):
    """The report as the CLI's plain-text table (one line per case, then a summary)."""
    lines = []
    for r in report["results"]:
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.2e}"
        lines.append(f"{r['id']:<52} {r['kind']:<14} {ratio:>9}  {r['status']}")
        if r["status"] != "pass" and r.get("message"):
            lines.append(f"    {r['message']}")
    lines.append(
        f"{report['passed_cases']} of {report['cases']} cases passed, "
        f"{report['failed_cases']} failed, {len(report['missing'])} missing"
    )
    return "\n".join(lines)


def measure(golden_dir, samples, *, training=None, features=None, confidence=0.95, threshold=0.6):
    r"""Measure a trained network's ``samples`` (M, d) — row m generated from noise m of the
    suite's noise bank (``measure/noises.npy``) — against the suite's teacher–student
    reference: :math:`E_{\mathrm{gen}} = \mathrm{PFD}(p_\theta, p_\star)` and RP, and with a
    training set (``training=N``: the golden set of N points; or an (N, d) array of your own)
    :math:`E_{\mathrm{mem}} = \mathrm{PFD}(p_\theta, p_{\mathrm{emp}})` and GL, all with
    intervals. ``features``: a linear feature map W (k, d). Returns the CLI's ``measure``
    report as a dict.
    """
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        def save(name, a):
            path = _os.path.join(tmp, name)
            if hasattr(a, "detach") and hasattr(a, "cpu"):
                a = a.detach().cpu()
            a = _np.asarray(a)
            if a.dtype.kind not in "fiu":
                raise InputError(f"{name}: dtype {a.dtype} is not real")
            _np.save(path, _np.ascontiguousarray(a, dtype=_np.float64 if a.dtype.kind in "iu" else a.dtype))
            return path

        golden_n, training_file = None, None
        if isinstance(training, int):
            golden_n = training
        elif training is not None:
            training_file = save("training.npy", training)
        feats = None if features is None else save("features.npy", features)
        return _json.loads(
            _native.measure_json(
                save("samples.npy", samples), _os.fspath(golden_dir), golden_n, training_file,
                feats, confidence, threshold,
            )
        )
