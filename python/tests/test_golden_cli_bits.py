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
COMPUTED = ("posterior_mean", "score", "jacobian", "convert", "flow", "sampler_step", "schedule")
NOT_YET = ()

FLAGS = ("--clean", "--log-spacing")


def options(argv):
    """`--foo-bar V` pairs (and bare flags) of a CLI command as Python keywords."""
    kw, i = {}, 0
    while i < len(argv):
        a = argv[i]
        assert a.startswith("--"), argv
        key = a[2:].replace("-", "_")
        if a in FLAGS:
            kw[key] = True
            i += 1
        else:
            kw[key] = argv[i + 1]
            i += 2
    return kw


def python_value(case, argv, suite):
    if case.kind in ("flow", "sampler_step"):
        kw = options(argv[3:])
        model = dl.load_model(suite / kw.pop("model"))
        x = np.load(suite / kw.pop("x"))
        kw.pop("out")
        solver = kw.pop("solver")
        conv = {"steps": int, "t_start": float, "t_end": float, "sigma_max": float,
                "sigma_min": float, "rho": float, "rtol": float, "atol": float}
        kw = {k: conv[k](v) if k in conv else v for k, v in kw.items()}
        return model.flow(x, solver, **kw)
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
        argv = shlex.split(case.command, comments=True)
        assert argv[0] == "diffusion-lowdim"
        if case.kind == "schedule":
            compare_schedule(case, argv, suite, cli, tmp_path)
            n += 1
            continue
        out = tmp_path / f"{case.id}.npy"
        i = argv.index("--out")
        argv[i + 1] = str(out)
        subprocess.run([cli] + argv[1:], cwd=suite, check=True, capture_output=True)
        want = np.load(out)
        got = python_value(case, argv, suite)
        assert got.dtype == np.float64 and got.shape == want.shape, case.id
        assert got.tobytes() == want.tobytes(), f"{case.id}: differs from the CLI"
        n += 1
    assert n >= 55, n


def compare_schedule(case, argv, suite, cli, tmp_path):
    """`eval schedule --schedule P [...] --out-dir table`: every column of the table."""
    kw = options(argv[3:])
    out = tmp_path / f"table-{case.id}"
    kw["out_dir"] = str(out)
    args = [cli, "eval", "schedule"]
    for k, v in kw.items():
        args += ["--" + k.replace("_", "-"), v]
    subprocess.run(args, cwd=suite, check=True, capture_output=True)
    table = dl.preset_table(
        kw["schedule"], precision=kw.get("precision", "f64"),
        steps=int(kw["steps"]) if "steps" in kw else None,
        spacing=kw.get("spacing", "leading"), steps_offset=int(kw.get("steps_offset", 0)),
    )
    files = sorted(p.stem for p in out.glob("*.npy"))
    assert files and set(files) <= set(table), (files, list(table))
    for col in files:
        want = np.load(out / f"{col}.npy")
        assert table[col].tobytes() == want.astype(np.float64).tobytes(), (case.id, col)
