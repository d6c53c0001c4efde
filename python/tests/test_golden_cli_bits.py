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

# The CLI commands the cases use, each computed here through the Python API. Cases are
# dispatched by their command, not their kind, so a new family using these commands is covered;
# a case with another command makes test_every_command_is_covered fail until it is handled.
COMMANDS = ("posterior-mean", "score", "jacobian", "convert", "flow", "schedule", "pfd")

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


def python_value(argv, suite):
    """The command `argv` (`diffusion-lowdim eval SUB --opt V ...`) computed through Python."""
    sub, kw = argv[2], options(argv[3:])
    kw.pop("out")
    x = np.load(suite / kw.pop("x"))
    if sub == "convert":
        value = np.load(suite / kw.pop("value"))
        return dl.convert(value, x, kw.pop("from"), kw.pop("to"), float(kw.pop("alpha")),
                          float(kw.pop("beta")))
    model = dl.load_model(suite / kw.pop("model"))
    if sub == "flow":
        solver = kw.pop("solver")
        conv = {"steps": int, "t_start": float, "t_end": float, "sigma_max": float,
                "sigma_min": float, "rho": float, "rtol": float, "atol": float}
        return model.flow(x, solver, **{k: conv[k](v) if k in conv else v for k, v in kw.items()})
    level = {k: (v if k == "schedule" else float(v)) for k, v in kw.items()}
    method = getattr(model, sub.replace("-", "_"))
    if "alpha" in level:
        return method(x, level.pop("alpha"), level.pop("beta"), **level)
    return method(x, **level)


def cases(suite):
    got = []

    def collect(case):
        got.append(case)
        return None

    dl.golden.validate(suite, candidate=collect)
    return got


def test_every_command_is_covered(suite):
    subs = {shlex.split(c.command, comments=True)[2] for c in cases(suite)}
    assert subs <= set(COMMANDS), subs - set(COMMANDS)


def test_python_equals_cli_bit_for_bit(suite, cli, tmp_path):
    n = 0
    for case in cases(suite):
        argv = shlex.split(case.command, comments=True)
        assert argv[:2] == ["diffusion-lowdim", "eval"], argv
        if argv[2] == "schedule":
            compare_schedule(case, argv, suite, cli, tmp_path)
            n += 1
            continue
        if argv[2] == "pfd":
            compare_pfd(case, argv, suite, cli, tmp_path)
            n += 1
            continue
        out = tmp_path / f"{case.id}.npy"
        i = argv.index("--out")
        argv[i + 1] = str(out)
        subprocess.run([cli] + argv[1:], cwd=suite, check=True, capture_output=True)
        want = np.load(out)
        got = python_value(argv, suite)
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


def compare_pfd(case, argv, suite, cli, tmp_path):
    """`eval pfd --model P --model2 Q --method exact --t-max T --out-json R --out O`: the (1,) PFD
    equals `dl.pfd(p, q, method="exact", t_max=T)["pfd"]` bit for bit."""
    kw = options(argv[3:])
    assert kw["method"] == "exact" and kw.get("schedule", "ve") == "ve", case.id
    out, report = tmp_path / f"{case.id}.npy", tmp_path / f"{case.id}.json"
    args = [cli, "eval", "pfd"]
    for k, v in {**kw, "out": str(out), "out_json": str(report)}.items():
        args += ["--" + k.replace("_", "-"), v]
    subprocess.run(args, cwd=suite, check=True, capture_output=True)
    want = np.load(out)
    p, q = dl.load_model(suite / kw["model"]), dl.load_model(suite / kw["model2"])
    got = np.array([dl.pfd(p, q, method="exact", t_max=float(kw["t_max"]))["pfd"]], dtype=np.float64)
    assert want.dtype == np.float64 and want.shape == (1,), case.id
    assert got.tobytes() == want.tobytes(), f"{case.id}: differs from the CLI"
