//! The memorization-to-generalization study (R11, R13): RP, GL, $E_{\mathrm{gen}}$ and
//! $E_{\mathrm{mem}}$ of a low-rank and a memorizing denoiser against $N/r$.

use faer::Mat;

use crate::error::{Error, Result};
use crate::flow::{FlowMap, Heun, Sampler, TimeGrid};
use crate::linalg::{self, random_orthonormal};
use crate::metric::Scores;
use crate::metric::subspaces_denoiser;
use crate::metric::{Pfd, PfdEstimate};
use crate::model::{Denoiser, Empirical, Molrg};
use crate::rng::{standard_normal, stream};
use crate::schedule::Ve;
use crate::stats::Proportion;

/// Which denoiser a row describes.
pub const LOW_RANK: &str = "low-rank";
/// See [`LOW_RANK`].
pub const MEMORIZING: &str = "memorizing";

/// The configuration of the memorization study.
///
/// # Definition
/// Ground truth: the MoLRG $\frac1K\sum_k\mathcal N(0, U_kU_k^\top)$ with mutually orthogonal
/// $U_k \in \mathbb R^{d\times r}$. For each ratio $N/r$, two *disjoint* training sets $D_1, D_2$
/// with $N = \lceil (N/r)\,r\rceil$ points per component. Per training set, the low-rank
/// denoiser is the K-subspaces denoiser (per-component PCA, labels known; $K = 1$: the
/// PCA denoiser) and the memorizing denoiser is the empirical one (R04). Samples come
/// from Heun with `steps` EDM steps ($\sigma \in [0.002, 80]$, VE), on `samples` shared noises
/// $x_T \sim \mathcal N(0, 80^2I)$. Reported per model (fitted on $D_1$):
/// $\mathrm{RP}$ (against the same model kind fitted on $D_2$), $\mathrm{GL}$ (against $D_1$),
/// $E_{\mathrm{gen}} = \mathrm{PFD}(p_\theta, p_\star)$ and $E_{\mathrm{mem}} = \mathrm{PFD}(p_\theta, p_{\mathrm{emp}}(D_1))$.
///
/// The theory's prediction (SPEC §6): for $N \ge r$ the two low-rank denoisers coincide
/// (RP $= 1$) and sample off the training set (GL near 1 when $r$ is large enough that
/// random directions of $\mathbb R^r$ rarely have cosine above $\tau$); the memorizing
/// denoiser returns training points (GL $= 0$) and two of them disagree (RP near 0).
///
/// # Errors
/// [`Error::InvalidCount`] for $d < Kr$, $r = 0$, $K = 0$, no ratio, fewer than 2 samples or
/// no step; [`Error::InvalidParameter`] for a ratio that is not finite and positive.
#[derive(Debug, Clone, PartialEq)]
pub struct MemorizationStudy {
    /// Ambient dimension $d$.
    pub d: usize,
    /// Intrinsic dimension $r$ of each component.
    pub r: usize,
    /// Number of components $K$.
    pub components: usize,
    /// The ratios $N/r$ (points per component over $r$).
    pub ratios: Vec<f64>,
    /// Shared noises per ratio $M$.
    pub samples: usize,
    /// Heun EDM steps.
    pub steps: usize,
}

impl Default for MemorizationStudy {
    /// $d = 96$, $r = 24$, $K = 2$, $N/r \in \{1/4, 1/2, 3/4, 1, 3/2, 2, 3, 4\}$, $M = 200$, 18 steps (EDM's default).
    fn default() -> Self {
        Self {
            d: 96,
            r: 24,
            components: 2,
            ratios: vec![0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0],
            samples: 200,
            steps: 18,
        }
    }
}

/// One row of the study: one model kind at one ratio.
#[derive(Debug, Clone, PartialEq)]
pub struct MemorizationRow {
    /// $N/r$ as configured.
    pub ratio: f64,
    /// Points per component $N$.
    pub points_per_component: usize,
    /// [`LOW_RANK`] or [`MEMORIZING`].
    pub denoiser: &'static str,
    /// Reproducibility against the same kind of model on the disjoint set.
    pub rp: Proportion,
    /// Generalization against its own training set.
    pub gl: Proportion,
    /// $E_{\mathrm{gen}}$.
    pub e_gen: PfdEstimate,
    /// $E_{\mathrm{mem}}$.
    pub e_mem: PfdEstimate,
}

impl MemorizationStudy {
    /// Validates the configuration.
    ///
    /// # Errors
    /// See [`MemorizationStudy`].
    pub fn validate(&self) -> Result<()> {
        let count = |name: &'static str, value: usize, ok: bool, requirement: &'static str| {
            if ok {
                Ok(())
            } else {
                Err(Error::InvalidCount {
                    name,
                    value,
                    requirement,
                })
            }
        };
        count("r", self.r, self.r >= 1, "at least 1")?;
        count(
            "components",
            self.components,
            self.components >= 1,
            "at least 1",
        )?;
        count(
            "d",
            self.d,
            self.d >= self.components * self.r,
            "at least components × r (orthogonal subspaces)",
        )?;
        count(
            "ratios",
            self.ratios.len(),
            !self.ratios.is_empty(),
            "at least 1",
        )?;
        count("samples", self.samples, self.samples >= 2, "at least 2")?;
        count("steps", self.steps, self.steps >= 1, "at least 1")?;
        if let Some(&v) = self.ratios.iter().find(|v| !(v.is_finite() && **v > 0.0)) {
            return Err(Error::InvalidParameter {
                name: "ratio N/r",
                value: v,
                requirement: "finite and > 0",
            });
        }
        Ok(())
    }

    /// Number of progress units [`run`](Self::run) reports (one per ratio).
    pub fn work(&self) -> usize {
        self.ratios.len()
    }

    /// Runs the study; `progress(done)` is called after each ratio. Deterministic for a
    /// seed (independent streams per ratio; fixed-partition parallelism).
    ///
    /// # Errors
    /// See [`MemorizationStudy`]; solver and model errors.
    pub fn run(&self, seed: u64, progress: &mut dyn FnMut(usize)) -> Result<Vec<MemorizationRow>> {
        self.validate()?;
        let (d, r, k) = (self.d, self.r, self.components);
        let basis = random_orthonormal(&mut stream(seed, "memorization/basis", 0), d, k * r)?;
        let bases: Vec<Mat<f64>> = (0..k)
            .map(|c| basis.as_ref().subcols(c * r, r).to_owned())
            .collect();
        let refs: Vec<_> = bases.iter().map(|b| b.as_ref()).collect();
        let truth = Molrg::uniform(&refs)?;
        let grid = TimeGrid::edm(&Ve, self.steps)?;
        let pfd = Pfd::new(crate::flow::EDM_SIGMA_MAX, self.samples)?;
        let scores = Scores::new();
        let mut rows = Vec::with_capacity(2 * self.ratios.len());
        for (index, &ratio) in self.ratios.iter().enumerate() {
            let n = ((ratio * r as f64).ceil() as usize).max(1);
            let mut rng = stream(seed, "memorization/data", index as u64);
            // Two disjoint training sets: independent draws, labelled by component.
            let mut draw = || -> Vec<Mat<f64>> {
                bases
                    .iter()
                    .map(|u| linalg::mul(u.as_ref(), standard_normal(&mut rng, r, n).as_ref()))
                    .collect()
            };
            let (parts1, parts2) = (draw(), draw());
            let stack =
                |parts: &[Mat<f64>]| Mat::from_fn(d, k * n, |i, j| parts[j / n][(i, j % n)]);
            let (train1, train2) = (stack(&parts1), stack(&parts2));
            let low = |parts: &[Mat<f64>]| {
                let p: Vec<_> = parts.iter().map(|m| m.as_ref()).collect();
                subspaces_denoiser(&p, r)
            };
            let (low1, low2) = (low(&parts1)?, low(&parts2)?);
            let (emp1, emp2) = (
                Empirical::new(train1.as_ref())?,
                Empirical::new(train2.as_ref())?,
            );
            let noises = pfd.noises(d, &mut stream(seed, "memorization/noise", index as u64));
            let sample = |m: &dyn Denoiser| -> Result<Mat<f64>> {
                Sampler::new(&Ve, m, &Heun, grid.clone()).map(noises.as_ref())
            };
            let x_truth = sample(&truth)?;
            let x_low1 = sample(&low1)?;
            let x_low2 = sample(&low2)?;
            let x_emp1 = sample(&emp1)?;
            let x_emp2 = sample(&emp2)?;
            let dist = |a: &Mat<f64>, b: &Mat<f64>| -> Result<PfdEstimate> {
                PfdEstimate::from_squared_distances(
                    crate::metric::squared_distances(a, b)?,
                    crate::metric::DEFAULT_CONFIDENCE,
                )
            };
            for (name, x1, x2) in [(LOW_RANK, &x_low1, &x_low2), (MEMORIZING, &x_emp1, &x_emp2)] {
                rows.push(MemorizationRow {
                    ratio,
                    points_per_component: n,
                    denoiser: name,
                    rp: scores.reproducibility(x1.as_ref(), x2.as_ref())?,
                    gl: scores.generalization(x1.as_ref(), train1.as_ref())?,
                    e_gen: dist(x1, &x_truth)?,
                    e_mem: dist(x1, &x_emp1)?,
                });
            }
            progress(index + 1);
        }
        Ok(rows)
    }
}
