"""Shared fixtures: a golden suite exported once per session, and the CLI binary."""

import os
import pathlib
import shutil

import pytest

import diffusion_lowdim as dl

REPO = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def suite(tmp_path_factory):
    """The default golden suite, exported through Python."""
    d = tmp_path_factory.mktemp("golden") / "suite"
    dl.golden.export(d)
    return d


@pytest.fixture(scope="session")
def cli():
    """The `diffusion-lowdim` binary: $DIFFUSION_LOWDIM_BIN, else the cargo builds of this tree.

    CI sets DIFFUSION_LOWDIM_BIN (the binary `cargo test` built); without a binary the CLI
    comparisons are skipped locally, and fail when DIFFUSION_LOWDIM_REQUIRE_BIN=1.
    """
    cands = [os.environ.get("DIFFUSION_LOWDIM_BIN")]
    tgt = os.environ.get("CARGO_TARGET_DIR", str(REPO / "target"))
    cands += [os.path.join(tgt, p, "diffusion-lowdim") for p in ("debug", "release")]
    for c in cands:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            # Absolute: the CLI comparisons run the binary from inside the golden suite's folder.
            return os.path.abspath(c)
    if os.environ.get("DIFFUSION_LOWDIM_REQUIRE_BIN") == "1":
        pytest.fail("DIFFUSION_LOWDIM_BIN is not an executable diffusion-lowdim binary")
    pytest.skip("no diffusion-lowdim binary (set DIFFUSION_LOWDIM_BIN)")
    return shutil.which("diffusion-lowdim")
