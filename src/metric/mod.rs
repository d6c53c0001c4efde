//! Metrics on flows and denoisers: the probability flow distance (R11), the bias–variance
//! decomposition (R12), reproducibility and generalization scores (R13), the hidden
//! Gaussian structure (R15) and the null-space perturbation bound (R16).
//!
//! Metrics see only [`FlowMap`](crate::flow::FlowMap)s (noise $\mapsto$ sample),
//! [`Denoiser`](crate::Denoiser)s and a [`FeatureMap`]; they do not know how a sample was
//! produced. Derivations: `docs/metrics.md`.
//!
//! | result | what | where |
//! |---|---|---|
//! | R11 | $\mathrm{PFD}$, $E_{\mathrm{gen}}$, $E_{\mathrm{mem}}$, Gaussian closed forms | [`Pfd`], [`pfd_gaussians`], [`pfd_subspaces`] |
//! | R12 | $\mathbb E_D[E_{\mathrm{gen}}^2] = E_{\mathrm{bias}}^2 + E_{\mathrm{var}}$ | [`BiasVariance`] |
//! | R13 | RP, GL with Clopper–Pearson intervals | [`Scores`], [`Proportion`] |
//! | R15 | best affine denoiser = empirical Gaussian denoiser; RMSE, linearity | [`optimal_affine`], [`compare_at_edm_levels`] |
//! | R16 | Shallow Diffuse Thm 1 | [`perturbation_test`], [`sphere_projection_tail`] |

mod affine;
mod bias_variance;
mod feature;
mod learned;
mod perturbation;
mod pfd;
mod reproducibility;

pub use crate::stats::{
    Proportion, binomial_lower_tail, binomial_two_sided_p, binomial_upper_tail, clopper_pearson,
};
pub use affine::{
    Affine, AffineFit, EDM_LEVELS, LevelComparison, NormalEquations, compare_at_edm_levels,
    empirical_gaussian, fit_affine, linearity_score, optimal_affine, per_dim_rmse, sample_pairs,
};
pub use bias_variance::BiasVariance;
pub use feature::{FeatureMap, Identity, LinearFeatures};
pub use perturbation::{
    PerturbationTest, perturbation_test, shallow_diffuse_h, sphere_projection_tail, uniform_sphere,
};
pub use pfd::{
    DEFAULT_CONFIDENCE, Pfd, PfdEstimate, generalization_error, memorization_error, pfd_gaussians,
    pfd_subspaces,
};
pub use reproducibility::{DEFAULT_THRESHOLD, Scores, cosine_similarity};

pub(crate) use learned::{pca_denoiser, subspaces_denoiser};
pub(crate) use pfd::squared_distances;
