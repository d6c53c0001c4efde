"""Every golden case the Python API computes equals the CLI's output bit for bit.

For each case of the default suite, its manifest ``command`` (the CLI command that computes
the crate's value) is run with the binary, and the same quantity is computed through Python
on the same model file, inputs and level; the two arrays must have the same bytes.
"""

import shlex
import subprocess

import numpy as np
import pytest

import diffusion_lowdim as dl

# The kinds the Python API computes (each case kind of the suite is listed: a new kind
# added by a family makes test_every_kind_is_covered fail until it is handled here).
COMPUTED = ("posterior_mean", "score", "jacobian", "convert")
NOT_YET = ("flow", "sampler_step", "schedule")


def python_value(case):
    if case.kind in ("posterior_mean", "score", "jacobian"):
        return getattr(case.model, case.kind)(case.x, case.alpha, case.beta)
    if case.kind == "convert":
        return dl.convert(
            case.inputs["value"], case.x, case.params["from"], case.params["to"],
            case.alpha, case.beta,
        )
    raise AssertionError(case.kind)


def cases(suite):
    got = []

    def collect(case):
        got.append(case)
        return None

    dl.golden.validate(suite, candidate=collect)
    return got


def test_every_kind_is_covered(suite):
    kinds = {c.kind for c in cases(suite)}
    assert kinds <= set(COMPUTED) | set(NOT_YET), kinds - set(COMPUTED) - set(NOT_YET)


def test_python_equals_cli_bit_for_bit(suite, cli, tmp_path):
    n = 0
    for case in cases(suite):
        if case.kind not in COMPUTED:
            continue
        argv = shlex.split(case.command)
        assert argv[0] == "diffusion-lowdim"
        out = tmp_path / f"{case.id}.npy"
        i = argv.index("--out")
        argv[i + 1] = str(out)
        subprocess.run([cli] + argv[1:], cwd=suite, check=True, capture_output=True)
        want = np.load(out)
        got = python_value(case)
        assert got.dtype == np.float64 and got.shape == want.shape, case.id
        assert got.tobytes() == want.tobytes(), f"{case.id}: differs from the CLI"
        n += 1
    assert n >= 30, n
