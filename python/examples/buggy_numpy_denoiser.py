"""A MoLRG denoiser written in NumPy, with a realistic bug, caught by the golden suite.

The bug: the mixture weights' softmax is computed without subtracting the largest logit
(``exp(logits) / exp(logits).sum()``). At moderate noise it agrees with the exact posterior
mean to the last digits; at small beta the logits reach hundreds or thousands, exp overflows
to inf, and inf / inf = NaN — the "saturated softmax" cases of the suite. The correct version
(``stable=True``) subtracts the max first and passes.

Run: ``python examples/buggy_numpy_denoiser.py [GOLDEN_DIR]`` (exports a suite if none given).
"""

import sys
import tempfile

import numpy as np

import diffusion_lowdim as dl


class NumpyMolrg:
    """posterior_mean / score of Gaussian, MoLRG and K-subspaces models, in NumPy."""

    def __init__(self, stable):
        self.stable = stable

    def posterior_mean(self, model, x, alpha, beta):
        p = model.parameters()
        if model.kind in ("gaussian", "pca"):
            if "basis" not in p:
                raise NotImplementedError("full-covariance Gaussians")
            U = p["basis"]
            lam = p.get("variances", np.ones(U.shape[1]))
            mu = p.get("mean", np.zeros(U.shape[0]))
            g = alpha * lam / (alpha**2 * lam + beta**2)
            return mu + ((x - alpha * mu) @ U) * g @ U.T
        if model.kind not in ("molrg", "k-subspaces"):
            raise NotImplementedError(model.kind)
        bases = p["bases"]
        weights = p.get("weights", np.full(len(bases), 1.0 / len(bases)))
        variances = p.get("variances", [np.ones(U.shape[1]) for U in bases])
        logits, means = [], []
        for U, lam, pi in zip(bases, variances, weights):
            c = x @ U  # (B, r)
            s = alpha**2 * lam + beta**2
            # log N(x; 0, a^2 U L U^T + b^2 I) up to a constant common to all components
            logits.append(
                np.log(pi)
                - 0.5 * np.log(s / beta**2).sum()
                + 0.5 * (c**2 * (alpha**2 * lam / (beta**2 * s))).sum(axis=1)
            )
            means.append((c * (alpha * lam / s)) @ U.T)
        logits = np.stack(logits, axis=1)  # (B, K)
        if self.stable:
            logits = logits - logits.max(axis=1, keepdims=True)
        w = np.exp(logits)
        w = w / w.sum(axis=1, keepdims=True)
        return sum(w[:, [k]] * means[k] for k in range(len(means)))

    def score(self, model, x, alpha, beta):
        return (alpha * self.posterior_mean(model, x, alpha, beta) - x) / beta**2


def main(golden_dir=None):
    if golden_dir is None:
        golden_dir = tempfile.mkdtemp() + "/golden"
        dl.golden.export(golden_dir)
    reports = {}
    for stable in (False, True):
        r = dl.golden.validate(golden_dir, candidate=NumpyMolrg(stable), only=["R02", "R03"])
        name = "stable softmax" if stable else "softmax without max-subtraction (bug)"
        print(f"== {name}")
        print(dl.golden.table(r))
        reports[stable] = r
    return reports


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
