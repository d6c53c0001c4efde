"""golden.validate with a Python candidate: same verdicts as the CLI on the same outputs."""

import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import diffusion_lowdim as dl

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "examples"))
import buggy_numpy_denoiser  # noqa: E402


class Exact:
    """The crate's own models through the Python API."""

    def posterior_mean(self, model, x, a, b):
        return model.posterior_mean(x, a, b)

    def score(self, model, x, a, b):
        return model.score(x, a, b)

    def jacobian(self, model, x, a, b):
        return model.jacobian(x, a, b)

    def convert(self, case):
        p = case.params
        return dl.convert(case.inputs["value"], case.x, p["from"], p["to"], case.alpha, case.beta)


def test_exact_candidate_passes_every_case_it_provides(suite):
    r = dl.golden.validate(suite, candidate=Exact())
    kinds = {x["kind"] for x in r["results"] if x["status"] == "pass"}
    assert kinds == {"posterior_mean", "score", "jacobian", "convert"}
    assert r["failed_cases"] == 0
    # Kinds without a method are missing, as missing files are.
    for x in r["results"]:
        if x["kind"] not in kinds:
            assert x["status"] == "missing" and x["id"] in r["missing"]
            assert "no method" in x["message"]


def test_function_form_and_not_implemented(suite):
    def f(case):
        if case.kind != "posterior_mean":
            raise NotImplementedError
        return case.model.posterior_mean(case.x, case.alpha, case.beta)

    r = dl.golden.validate(suite, candidate=f, only=["R02"])
    st = {x["kind"]: x["status"] for x in r["results"]}
    assert st == {"posterior_mean": "pass", "score": "missing"}


def test_buggy_example_is_singled_out(suite):
    reports = buggy_numpy_denoiser.main(str(suite))
    bad = [x["id"] for x in reports[False]["results"] if x["status"] not in ("pass", "missing")]
    assert bad == ["r03-molrg-paper-posterior-mean-saturated"]
    assert reports[False]["results"][[x["id"] for x in reports[False]["results"]].index(bad[0])]["status"] == "non_finite"
    assert reports[True]["failed_cases"] == 0


def alpha_beta_swapped(model, x, a, b):
    return model.posterior_mean(x, b, a)


class Swapped:
    def posterior_mean(self, model, x, a, b):
        return alpha_beta_swapped(model, x, a, b)


def write_outputs(suite, candidate, outdir, only):
    """The candidate's outputs as files, for the file-based and CLI validations."""
    outdir.mkdir()

    def f(case):
        try:
            out = getattr(candidate, case.kind)(case.model, case.x, case.alpha, case.beta)
        except AttributeError:
            return None
        np.save(outdir / f"{case.id}.npy", out)
        return None

    dl.golden.validate(suite, candidate=f, only=only)


@pytest.mark.parametrize("candidate", [Swapped(), buggy_numpy_denoiser.NumpyMolrg(False)])
def test_same_verdicts_as_file_validation_and_cli(suite, tmp_path, candidate):
    only = ["R02", "R03", "R04"]
    mem = dl.golden.validate(suite, candidate=candidate, only=only)
    outdir = tmp_path / "out"
    write_outputs(suite, candidate, outdir, only)
    files = dl.golden.validate(suite, outdir, only=only)
    strip = lambda r: [{k: v for k, v in x.items() if k != "message" or x["status"] != "missing"} for x in r["results"]]  # noqa: E731
    assert strip(mem) == strip(files)
    assert mem["passed_cases"] == files["passed_cases"] and mem["missing"] == files["missing"]
    assert mem["failed_cases"] > 0


def test_same_verdicts_as_cli(suite, tmp_path, cli):
    only = ["R02", "R03", "R04"]
    cand = buggy_numpy_denoiser.NumpyMolrg(False)
    mem = dl.golden.validate(suite, candidate=cand, only=only)
    outdir = tmp_path / "out"
    write_outputs(suite, cand, outdir, only)
    rep = tmp_path / "report.json"
    subprocess.run(
        [cli, "golden", "validate", "--golden", str(suite), "--outputs", str(outdir),
         "--only", ",".join(only), "--report", str(rep)],
        capture_output=True,
    )
    c = json.loads(rep.read_text())
    assert [(x["id"], x["status"], x["ratio"]) for x in c["results"]] == [
        (x["id"], x["status"], x["ratio"]) for x in mem["results"]
    ]


def test_float32_candidate_judged_in_its_tier(suite):
    class F32(Exact):
        def posterior_mean(self, model, x, a, b):
            x32 = x.astype(np.float32).astype(np.float64)
            return model.posterior_mean(x32, a, b).astype(np.float32)

    only = ["r02-gaussian-lowrank-posterior", "r03-molrg-general-posterior"]
    r32 = dl.golden.validate(suite, candidate=F32(), only=only, tier="f32")
    assert all(x["stored"] == "f32" for x in r32["results"])
    assert r32["passed"] and r32["cases"] >= 4
    r64 = dl.golden.validate(suite, candidate=F32(), only=only, tier="f64")
    assert not r64["passed"]
    assert {x["status"] for x in r64["results"]} <= {"pass", "fail"}


def test_wrong_shape_and_errors(suite):
    class WrongShape(Exact):
        def posterior_mean(self, model, x, a, b):
            return model.posterior_mean(x, a, b)[:, :-1]

    r = dl.golden.validate(suite, candidate=WrongShape(), only=["r02-pca"])
    assert [x["status"] for x in r["results"]] == ["shape_mismatch"]

    class Boom(Exact):
        def posterior_mean(self, model, x, a, b):
            raise KeyError("my bug")

    with pytest.raises(KeyError, match="my bug"):
        dl.golden.validate(suite, candidate=Boom(), only=["r02-pca"])
    with pytest.raises(dl.GoldenError, match="selects no case"):
        dl.golden.validate(suite, candidate=Exact(), only=["nothing-like-this"])
    with pytest.raises(dl.InputError, match="exactly one"):
        dl.golden.validate(suite)


def test_tampered_suite_is_refused(suite, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(suite, copy)
    man = dl.golden.manifest(copy)
    c = man["cases"][0]
    e = np.load(copy / c["expected"])
    e.flat[0] += 1.0
    np.save(copy / c["expected"], e)
    with pytest.raises(dl.GoldenError, match="altered since export"):
        dl.golden.validate(copy, candidate=Exact())


def test_reduced_precision_outputs_are_judged_as_float32(suite):
    class F16(Exact):
        def posterior_mean(self, model, x, a, b):
            return model.posterior_mean(x, a, b).astype(np.float16)

    r = dl.golden.validate(suite, candidate=F16(), only=["r02-pca"], tier="f32")
    (x,) = r["results"]
    # float16 carries ~3 digits: stored as float32 (exactly), and beyond the f32 tolerance.
    assert x["stored"] == "f32" and x["status"] == "fail"

    class Complex(Exact):
        def posterior_mean(self, model, x, a, b):
            return model.posterior_mean(x, a, b).astype(complex)

    with pytest.raises(dl.InputError, match="complex128"):
        dl.golden.validate(suite, candidate=Complex(), only=["r02-pca"])


def test_jax_style_functional_candidate(suite):
    """A pure function of the case with a Jacobian by central differences (as autograd would
    give it up to rounding): the Jacobian cases fail in f64 only by the differencing error."""

    def candidate(case):
        if case.kind == "posterior_mean":
            return case.model.posterior_mean(case.x, case.alpha, case.beta)
        if case.kind == "jacobian":
            h = 1e-5
            f = lambda v: case.model.posterior_mean(v, case.alpha, case.beta)  # noqa: E731
            out = np.empty(case.shape)
            for bi, xb in enumerate(case.x):
                for j in range(xb.size):
                    e = np.zeros_like(xb)
                    e[j] = h
                    out[bi, :, j] = (f((xb + e)[None]) - f((xb - e)[None]))[0] / (2 * h)
            return out
        return None

    # Differencing error ~1e-11 relative: within every f32 tolerance, beyond every f64 one.
    r32 = dl.golden.validate(suite, candidate=candidate, only=["R14"], tier="f32")
    assert r32["cases"] == 4 and r32["passed"]
    r64 = dl.golden.validate(suite, candidate=candidate, only=["R14"], tier="f64")
    assert [x["status"] for x in r64["results"]] == ["fail"] * 4
