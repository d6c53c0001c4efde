//! # diffusion-lowdim
//!
//! Ground truth for the theory of diffusion models on low-dimensional data.
//!
//! The crate computes, to near full f64 accuracy, the exact objects that the
//! theory of diffusion models on low-dimensional data is about — Tweedie's
//! formula, exact posterior means of Gaussians, mixtures of low-rank Gaussians
//! (MoLRG) and empirical distributions, their scores and Jacobians — and checks
//! the theorems about them on random instances. Every result has an id; the
//! same id names the code, the property tests, the proof in `proofs/` and the
//! line of the `check` report.
//!
//! | id | code | check |
//! |---|---|---|
//! | R01 | [`tweedie`] | [`theorem::r01`] |
//! | R02 | [`Gaussian`] | [`theorem::r02`] |
//! | R03 | [`Molrg`] | [`theorem::r03`] |
//! | R04 | [`Empirical`] | [`theorem::r04`] |
//! | R05 | [`reduction::dae_loss_closed_form`], [`reduction::Pca`] | [`theorem::r05`] |
//! | R06 | [`reduction::recovery_bound`] | [`theorem::r06`] |
//! | R07 | [`reduction::failure_lower_bound`], [`reduction::adversarial_optimal_basis`] | [`theorem::r07`] |
//! | R08 | [`reduction::KSubspaces`], [`reduction::MolrgParam`] | [`theorem::r08`] |
//! | R09 | [`reduction::match_subspaces`], [`study::phase_transition()`] | [`theorem::r09`] |
//! | R10 | [`flow`] | [`theorem::r10`] |
//! | R11 | [`metric::Pfd`] | [`theorem::r11`] |
//! | R12 | [`metric::BiasVariance`] | [`theorem::r12`] |
//! | R13 | [`metric::Scores`] | [`theorem::r13`] |
//! | R14 | [`model::jacobian`] | [`theorem::r14`] |
//! | R15 | [`metric::optimal_affine`] | [`theorem::r15`] |
//! | R16 | [`metric::perturbation_test`] | [`theorem::r16`] |
//!
//! The results' titles and proofs: [`theorem::registry`] (also `docs/README.md`).
//!
//! Conventions (SPEC §0): $x_t = \alpha_t x_0 + \beta_t\varepsilon$,
//! $\varepsilon\sim\mathcal N(0, I_d)$; a batch of points is a `d × B` matrix
//! whose columns are points; all math is f64.
//!
//! # Example
//! ```
//! use diffusion_lowdim::{Molrg, Denoiser, ExactModel, NoiseLevel, rng};
//! use diffusion_lowdim::linalg::random_orthonormal;
//! let mut g = rng::seeded(42);
//! let basis = random_orthonormal(&mut g, 16, 6)?;              // two orthogonal 3-dim subspaces
//! let (u1, u2) = (basis.as_ref().subcols(0, 3), basis.as_ref().subcols(3, 3));
//! let model = Molrg::uniform(&[u1, u2])?;
//! let x0 = model.sample_x0(&mut g, 4);                         // 16 × 4
//! let level = NoiseLevel::new(0.8, 0.6)?;
//! let x_t = &x0 * faer::Scale(level.alpha());                  // (noise-free here)
//! let denoised = model.posterior_mean(x_t.as_ref(), level)?;
//! let score = model.score(x_t.as_ref(), level)?;
//! // Tweedie (R01): E[x0|x_t] = (x_t + β² ∇log p_t)/α.
//! let tweedie = (&x_t + &score * faer::Scale(0.36)) * faer::Scale(1.0 / 0.8);
//! assert!((&denoised - &tweedie).norm_max() < 1e-12);
//! # Ok::<(), diffusion_lowdim::Error>(())
//! ```
//!
//! # Where to read more
//! - `docs/` derives every result step by step; `proofs/Rxx-*.md` proves it.
//! - `diffusion-lowdim check` runs every registered theorem check (see [`theorem`]).

// The one exception, `linalg::fused`, calls FMA-enabled kernels after checking
// that the CPU has FMA (the pattern of `std::arch`'s documentation).
#![deny(unsafe_code)]
#![deny(missing_docs)]
#![deny(clippy::float_cmp)]

pub mod error;
#[cfg(feature = "figures")]
pub mod figure;
pub mod flow;
#[cfg(feature = "io")]
pub mod golden;
#[cfg(feature = "io")]
pub mod io;
pub mod level;
pub mod linalg;
pub mod metric;
pub mod model;
pub mod prec;
pub mod reduction;
pub mod reference;
pub mod rng;
pub mod schedule;
#[cfg(feature = "io")]
pub mod service;
pub mod stats;
pub mod study;
pub mod theorem;
pub mod tweedie;

/// The crate's version, `CARGO_PKG_VERSION` at build time (e.g. `"0.1.0"`); the same string
/// the `check` report's `version` field and the CLI's reports' `crate_version` carry, and the one the
/// Python package's `crate_version()` returns.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub use error::{Error, Result};

/// The README's Rust example runs as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
pub use level::NoiseLevel;
pub use model::{Denoiser, Empirical, ExactModel, Gaussian, Molrg};
