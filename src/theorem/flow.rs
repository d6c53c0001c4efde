//! The probability-flow and generalization results (R10–R13, R15, R16) and the
//! instance pieces they share.

use rand::RngExt;

use super::Theorem;
use super::instance::{BasisKind, log_uniform, orthogonal_bases};
use super::{r10, r11, r12, r13, r15, r16};
use crate::error::Result;
use crate::model::Gaussian;
use crate::rng::SeededRng;
use crate::schedule::{RectifiedFlow, Schedule, SubVp, Ve, VpCosine, VpLinear};

/// The probability-flow area's results.
pub static FLOW: [Theorem; 6] = [
    Theorem {
        id: "R10",
        title: "PF ODE solvers: orders and tolerance vs exact Gaussian flow",
        proof: "proofs/R10-probability-flow.md",
        run_case: r10::run_case,
    },
    Theorem {
        id: "R11",
        title: "PFD: Gaussian closed forms, estimator, CI coverage, solver PFD",
        proof: "proofs/R11-probability-flow-distance.md",
        run_case: r11::run_case,
    },
    Theorem {
        id: "R12",
        title: "Bias-variance identity E[E_gen^2] = E_bias^2 + E_var",
        proof: "proofs/R12-bias-variance.md",
        run_case: r12::run_case,
    },
    Theorem {
        id: "R13",
        title: "RP/GL scores: Clopper-Pearson, low-rank vs memorizing",
        proof: "proofs/R13-reproducibility-generalization.md",
        run_case: r13::run_case,
    },
    Theorem {
        id: "R15",
        title: "Best affine denoiser = empirical Gaussian denoiser",
        proof: "proofs/R15-hidden-gaussian-structure.md",
        run_case: r15::run_case,
    },
    Theorem {
        id: "R16",
        title: "Shallow Diffuse Thm 1: null-space perturbation bound (linear K = 1)",
        proof: "proofs/R16-perturbation-bound.md",
        run_case: r16::run_case,
    },
];

/// The continuous schedules the flow checks draw from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduleKind {
    /// [`Ve`].
    Ve,
    /// [`VpLinear::score_sde`].
    VpLinear,
    /// [`VpCosine::nichol_dhariwal`] ($\alpha_1 \approx 6\cdot10^{-17}$).
    VpCosine,
    /// [`SubVp::score_sde`].
    SubVp,
    /// [`RectifiedFlow`] ($\alpha_1 = 0$).
    RectifiedFlow,
}

impl ScheduleKind {
    /// All kinds.
    pub const ALL: [ScheduleKind; 5] = [
        Self::Ve,
        Self::VpLinear,
        Self::VpCosine,
        Self::SubVp,
        Self::RectifiedFlow,
    ];

    /// A uniformly random kind.
    pub fn sample(rng: &mut SeededRng) -> Self {
        Self::ALL[rng.random_range(0..Self::ALL.len())]
    }

    /// The schedule.
    pub fn build(self) -> Box<dyn Schedule> {
        match self {
            Self::Ve => Box::new(Ve),
            Self::VpLinear => Box::new(VpLinear::score_sde()),
            Self::VpCosine => Box::new(VpCosine::nichol_dhariwal()),
            Self::SubVp => Box::new(SubVp::score_sde()),
            Self::RectifiedFlow => Box::new(RectifiedFlow),
        }
    }

    /// Whether the schedule reaches pure noise ($\alpha = 0$ up to rounding) at $t = 1$.
    pub fn has_pure_noise_end(self) -> bool {
        matches!(self, Self::VpCosine | Self::RectifiedFlow)
    }
}

/// A random Gaussian $\mathcal N(\mu, V\Lambda V^\top)$ in dimension `d` with rank `r`:
/// Haar basis, $\lambda_i$ log-uniform in $[10^{-1}, 10]$, $\mu_i$ uniform in $[-1/2, 1/2]$.
///
/// # Errors
/// [`crate::Error::InvalidCount`] unless $1 \le r \le d$.
pub fn random_gaussian(rng: &mut SeededRng, d: usize, r: usize) -> Result<Gaussian> {
    let v = orthogonal_bases(rng, d, &[r], BasisKind::Haar)?.remove(0);
    let lambda: Vec<f64> = (0..r).map(|_| log_uniform(rng, -1.0, 1.0)).collect();
    let mu: Vec<f64> = (0..d).map(|_| rng.random::<f64>() - 0.5).collect();
    Gaussian::new(&mu, v.as_ref(), &lambda)
}
