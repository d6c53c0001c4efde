//! Services for users outside Rust: what the CLI's `eval`, `presets` and `measure` commands
//! do, as a library (the CLI is a thin shell over it).
//!
//! | file | job |
//! |---|---|
//! | [`eval`] | posterior mean, score, Jacobian, prediction-type conversions, flow maps and PFD on a user's inputs |
//! | [`presets`] | other libraries' schedules reproduced bit for bit (diffusers, k-diffusion, NVlabs EDM, score_sde) and their documented divergences |
//! | [`measure`] | a trained network's samples against the golden teacher–student reference: $E_{\mathrm{gen}}$, $E_{\mathrm{mem}}$, RP, GL |
//!
//! `presets` lives here rather than in [`crate::schedule`]: it emulates *other* libraries'
//! float32 arithmetic and enforces the I/O memory budget ([`crate::io::limits`]), so it belongs
//! to the interoperability ring, not to the core.

pub mod eval;
pub mod measure;
pub mod presets;
