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

FLAGS = ("--clean", "--log-spacing", "--karras")

# The flags a command writes its .npy output with (the test points them to a temporary file).
OUT_FLAGS = ("--out", "--out-sines", "--out-angles")


def options(argv, repeated=()):
    """`--foo-bar V` pairs (and bare flags) of a CLI command as Python keywords; a flag in
    `repeated` (e.g. `--basis`) collects its values in a list."""
    kw, i = {}, 0
    while i < len(argv):
        a = argv[i]
        assert a.startswith("--"), argv
        key = a[2:].replace("-", "_")
        if a in FLAGS:
            kw[key] = True
            i += 1
        elif a in repeated:
            kw.setdefault(key, []).append(argv[i + 1])
            i += 2
        else:
            kw[key] = argv[i + 1]
            i += 2
    return kw


def level_of(kw):
    """The noise level options (`--alpha/--beta`, `--sigma`, `--schedule/--t`) as keywords."""
    return {k: (v if k == "schedule" else float(v)) for k, v in kw.items()}


def convert_value(argv, suite):
    """`eval convert`."""
    kw = options(argv[3:])
    kw.pop("out")
    x = np.load(suite / kw.pop("x"))
    value = np.load(suite / kw.pop("value"))
    return dl.convert(value, x, kw.pop("from"), kw.pop("to"), float(kw.pop("alpha")),
                      float(kw.pop("beta")))


def flow_value(argv, suite):
    """`eval flow`."""
    kw = options(argv[3:])
    kw.pop("out")
    x = np.load(suite / kw.pop("x"))
    model = dl.load_model(suite / kw.pop("model"))
    solver = kw.pop("solver")
    conv = {"steps": int, "t_start": float, "t_end": float, "sigma_max": float,
            "sigma_min": float, "rho": float, "rtol": float, "atol": float}
    return model.flow(x, solver, **{k: conv[k](v) if k in conv else v for k, v in kw.items()})


def model_value(argv, suite):
    """`eval posterior-mean | score | jacobian | posterior-weights | log-posterior-weights`:
    the Model method of the command's name (log-posterior-weights: posterior_log_weights)."""
    sub, kw = argv[2], options(argv[3:])
    kw.pop("out")
    x = np.load(suite / kw.pop("x"))
    model = dl.load_model(suite / kw.pop("model"),
                          normalize_weights=kw.pop("normalize_weights", False))
    name = "posterior_log_weights" if sub == "log-posterior-weights" else sub.replace("-", "_")
    level = level_of(kw)
    method = getattr(model, name)
    if "alpha" in level:
        return method(x, level.pop("alpha"), level.pop("beta"), **level)
    return method(x, **level)


def subspaces_value(argv, suite):
    """`eval subspaces --out-sines | --out-angles`: principal_sines / principal_angles."""
    kw = options(argv[3:])
    u, v = np.load(suite / kw.pop("u")), np.load(suite / kw.pop("v"))
    if "out_sines" in kw:
        return np.array(dl.principal_sines(u, v), dtype=np.float64)
    assert "out_angles" in kw, argv
    return np.array(dl.principal_angles(u, v), dtype=np.float64)


def dae_loss_value(argv, suite):
    """`eval dae-loss --basis U_1 [--basis U_2 ...] --data X [level | --loss-schedule S --t0
    --t1 --weighting W] [--form F] --out`: a (1,) array."""
    kw = options(argv[3:], repeated=("--basis",))
    kw.pop("out")
    bases = [np.load(suite / p) for p in kw.pop("basis")]
    data = np.load(suite / kw.pop("data"))
    form = kw.pop("form", "softmax")
    if "loss_schedule" in kw:
        v = dl.dae_loss(bases, data, float(kw.pop("t0")), float(kw.pop("t1")),
                        schedule=kw.pop("loss_schedule"),
                        weighting=kw.pop("weighting", "unit"), form=form)
    else:
        level = level_of(kw)
        if "alpha" in level:
            v = dl.dae_loss_at_level(bases, data, level.pop("alpha"), level.pop("beta"),
                                     form=form, **level)
        else:
            v = dl.dae_loss_at_level(bases, data, form=form, **level)
    return np.array([v], dtype=np.float64)


# The CLI commands the cases use, each computed here through the Python API. Cases are
# dispatched by their command, not their kind, so a new family using these commands is covered;
# a case with another command makes test_every_command_is_covered fail until it is handled.
# `eval schedule` writes a table directory and is compared by compare_schedule.
VALUES = {
    "posterior-mean": model_value,
    "score": model_value,
    "jacobian": model_value,
    "posterior-weights": model_value,
    "log-posterior-weights": model_value,
    "convert": convert_value,
    "flow": flow_value,
    "subspaces": subspaces_value,
    "dae-loss": dae_loss_value,
}
COMMANDS = tuple(VALUES) + ("schedule", "pfd")


def python_value(argv, suite):
    """The command `argv` (`diffusion-lowdim eval SUB --opt V ...`) computed through Python."""
    return VALUES[argv[2]](argv, suite)


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
        (flag,) = [f for f in OUT_FLAGS if f in argv]
        argv[argv.index(flag) + 1] = str(out)
        subprocess.run([cli] + argv[1:], cwd=suite, check=True, capture_output=True)
        want = np.load(out)
        got = python_value(argv, suite)
        assert got.dtype == np.float64 and got.shape == want.shape, case.id
        assert got.tobytes() == want.tobytes(), f"{case.id}: differs from the CLI"
        n += 1
    assert n >= 101, n


def compare_schedule(case, argv, suite, cli, tmp_path):
    """`eval schedule --schedule P [...] --out-dir table`: every column of the table."""
    kw = options(argv[3:])
    out = tmp_path / f"table-{case.id}"
    kw["out_dir"] = str(out)
    # preset_table's spacing defaults to leading; the CLI's to the scheduler's own (linspace
    # for diffusers Euler): Euler cases must state it.
    assert not kw["schedule"].startswith("diffusers-euler-") or "spacing" in kw, case.id
    args = [cli, "eval", "schedule"]
    for k, v in kw.items():
        args += ["--" + k.replace("_", "-")] + ([] if v is True else [v])
    subprocess.run(args, cwd=suite, check=True, capture_output=True)
    table = dl.preset_table(
        kw["schedule"], precision=kw.get("precision", "f64"),
        steps=int(kw["steps"]) if "steps" in kw else None,
        spacing=kw.get("spacing", "leading"), steps_offset=int(kw.get("steps_offset", 0)),
        sigma_min=float(kw["sigma_min"]) if "sigma_min" in kw else None,
        sigma_max=float(kw["sigma_max"]) if "sigma_max" in kw else None,
        rho=float(kw["rho"]) if "rho" in kw else None,
        karras=bool(kw.get("karras", False)),
    )
    files = sorted(p.stem for p in out.glob("*.npy"))
    assert files and set(files) <= set(table), (files, list(table))
    # The case's column (e.g. diffusers Euler's init_noise_sigma) is among the files compared.
    assert case.params["column"] in files, (case.id, files)
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
