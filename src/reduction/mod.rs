//! Denoising-loss reductions: the DAE loss of low-rank denoisers is PCA ($K = 1$) and
//! subspace clustering ($K > 1$); recovery, failure and the sample-complexity
//! phase transition (R05–R09, arXiv:2409.02426 Theorems 1–4).
//!
//! | id | result | code |
//! |---|---|---|
//! | R05 | $\ell(U) = -C\|U^\top X\|_F^2 + D$ (Theorem 1) | [`loss`], [`Pca`] |
//! | R06 | $N \ge r$: exact recovery; noisy: explicit sin-Θ bound (Theorem 2(i)) | [`bounds::recovery_bound`], [`subspace_distance`] |
//! | R07 | $N < r$: optimal bases contain $\operatorname{span}X$; error $\sqrt{2\min\{r-N,d-r\}}$ (Theorem 2(ii)) | [`bounds::adversarial_optimal_basis`], [`bounds::failure_lower_bound`] |
//! | R08 | hard-max MoLRG loss $= -C\cdot N J(U) + $ const (Theorem 3); K-subspaces | [`loss::dae_loss_hard_max_quadrature`], [`KSubspaces`], [`MolrgParam`] |
//! | R09 | per-component $N_k \ge r$ recovers, some $N_k < r$ fails (Theorem 4); phase transition | [`phase`] |
//!
//! Derivations: `docs/reductions.md`. Proofs: `proofs/R05-*.md` … `proofs/R09-*.md`.
//!
//! # Example
//! ```
//! use diffusion_lowdim::reduction::{Pca, subspace_distance};
//! use diffusion_lowdim::linalg::random_orthonormal;
//! use diffusion_lowdim::rng::{seeded, standard_normal};
//! let mut g = seeded(2);
//! let u = random_orthonormal(&mut g, 48, 4)?;
//! let few = &u * &standard_normal(&mut g, 4, 3);     // N = 3 < r = 4
//! let pca = Pca::fit(few.as_ref(), 4)?;
//! let u_hat = pca.complete(&mut g)?;                 // an optimal basis, completed at random
//! assert!(subspace_distance(u_hat.as_ref(), u.as_ref())? > 1.0);   // not identifiable
//! # Ok::<(), diffusion_lowdim::Error>(())
//! ```

pub mod bounds;
pub mod ksubspaces;
pub mod loss;
pub mod pca;
pub mod phase;
pub mod quadrature;
pub mod softmax;
pub mod subspace;

pub use ksubspaces::{
    Init, KSubspaces, KSubspacesInfo, KSubspacesSolution, Matching, assign, clustering_objective,
    match_subspaces, residual_energy,
};
pub use loss::{
    LossCoefficients, MonteCarlo, Weight, dae_loss_closed_form, dae_loss_hard_max_quadrature,
    dae_loss_monte_carlo, dae_loss_quadrature, dae_loss_rule, loss_at_level,
};
pub use pca::{Pca, pca_objective};
pub use phase::{CellResult, PhaseConfig, phase_transition};
pub use softmax::MolrgParam;
pub use subspace::{principal_angles, sin_theta_norm, subspace_distance};
