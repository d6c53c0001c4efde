//! Denoising-loss reductions: the DAE loss of low-rank denoisers is PCA ($K = 1$) and
//! subspace clustering ($K > 1$); recovery, failure and the sample-complexity
//! phase transition (R05–R09, arXiv:2409.02426 Theorems 1–4).
//!
//! | id | result | code |
//! |---|---|---|
//! | R05 | $\ell(U) = -C\|U^\top X\|_F^2 + D$ (Theorem 1) | [`dae_loss_closed_form`], [`Pca`] |
//! | R06 | $N \ge r$: exact recovery; noisy: explicit sin-Θ bound (Theorem 2(i)) | [`recovery_bound`], [`subspace_distance`] |
//! | R07 | $N < r$: optimal bases contain $\operatorname{span}X$; error $\sqrt{2\min\{r-N,d-r\}}$ (Theorem 2(ii)) | [`adversarial_optimal_basis`], [`failure_lower_bound`] |
//! | R08 | hard-max MoLRG loss $= -C\cdot N J(U) + $ const (Theorem 3); K-subspaces | [`dae_loss_hard_max_quadrature`], [`KSubspaces`], [`MolrgParam`] |
//! | R09 | per-component $N_k \ge r$ recovers, some $N_k < r$ fails (Theorem 4); phase transition | [`match_subspaces`], [`crate::study::phase_transition()`] |
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

pub(crate) mod ksubspaces;
pub(crate) mod loss;
pub(crate) mod matching;
pub(crate) mod pca;
pub mod quadrature;
pub(crate) mod recovery;
pub(crate) mod softmax;
pub(crate) mod subspace;

pub use ksubspaces::{
    Init, KSubspaces, KSubspacesInfo, KSubspacesSolution, assign, clustering_objective,
    residual_energy,
};
pub use loss::{
    LossCoefficients, MonteCarlo, ProjectionEnergies, QUAD_MAX_PANELS, QUAD_REL_TOL, Weight,
    dae_loss_closed_form, dae_loss_hard_max_at_level, dae_loss_hard_max_closed_form,
    dae_loss_hard_max_quadrature, dae_loss_monte_carlo, dae_loss_quadrature, dae_loss_rule,
    dae_loss_softmax_at_level, dae_loss_softmax_quadrature, loss_at_level, projection_energies,
};
pub use matching::{
    Matching, match_subspaces, min_cost_assignment, min_cost_assignment_exhaustive,
};
pub use pca::{Pca, pca_objective};
pub use recovery::{
    SMALL_BALL_EXACT_MAX_DOF, adversarial_optimal_basis, failure_lower_bound, product_rounding,
    recovery_bound, recovery_bound_a_priori, small_ball_bound, small_ball_scale,
    svd_backward_error,
};
pub use softmax::MolrgParam;
pub use subspace::{
    principal_angles, principal_sines, residual_matrix, sin_theta_norm, subspace_distance,
};
