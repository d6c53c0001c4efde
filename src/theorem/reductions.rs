//! The denoising-loss reduction results (R05–R09): Theorems 1–4 of arXiv:2409.02426.

use super::{Theorem, r05, r06, r07, r08, r09};

/// R05–R09, registered by [`super::registry`].
pub static REDUCTIONS: [Theorem; 5] = [
    Theorem {
        id: "R05",
        title: "K=1 DAE loss = -C||U^T X||^2 + D (PCA), three ways",
        proof: "proofs/R05-dae-loss-pca.md",
        run_case: r05::run_case,
    },
    Theorem {
        id: "R06",
        title: "PCA recovery N >= r: exact; noisy sin-theta bound",
        proof: "proofs/R06-pca-recovery.md",
        run_case: r06::run_case,
    },
    Theorem {
        id: "R07",
        title: "PCA failure N < r: error sqrt(2 min(r-N, d-r))",
        proof: "proofs/R07-pca-failure.md",
        run_case: r07::run_case,
    },
    Theorem {
        id: "R08",
        title: "K>1 DAE loss = subspace clustering; K-subspaces",
        proof: "proofs/R08-subspace-clustering.md",
        run_case: r08::run_case,
    },
    Theorem {
        id: "R09",
        title: "Sample complexity: N_k >= r recovers, N_k < r fails",
        proof: "proofs/R09-sample-complexity.md",
        run_case: r09::run_case,
    },
];
