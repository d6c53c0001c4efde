//! The MoLRG network parameterization of Theorem 3 (softmax weights).
//!
//! # Definition
//! For bases $U_1..U_K \in \mathbb R^{d\times r}$ (orthonormal columns, equal ranks),
//! $$x_\theta(x_t) = \frac{\alpha}{\alpha^2+\beta^2}\sum_k w_k(x_t)\,U_kU_k^\top x_t,\qquad
//!   w = \operatorname{softmax}_k\big(\varphi\,\|U_k^\top x_t\|^2\big),\quad \varphi = \frac{\alpha^2}{2\beta^2(\alpha^2+\beta^2)} .$$
//! With equal ranks this is exactly the posterior mean of the MoLRG
//! $\frac1K\sum_k\mathcal N(0, U_kU_k^\top)$ (SPEC R03, the crate's [`crate::Molrg::uniform`]): the
//! log-volume terms $-\frac r2\log(1+\alpha^2/\beta^2)$ are equal for all $k$ and cancel
//! in the softmax. This module evaluates the parameterization directly (plain
//! projections and a log-sum-exp), independently of [`crate::Molrg`], so R08 can check
//! the identity.

use faer::{Mat, MatMut, MatRef};

use crate::error::{Error, Result, ensure_dim};
use crate::level::NoiseLevel;
use crate::linalg::{check_orthonormal, mul};
use crate::model::{Denoiser, check_batch};

/// The softmax-weighted low-rank denoiser $x_\theta$ of Theorem 3.
///
/// # Examples
/// ```
/// use diffusion_lowdim::reduction::MolrgParam;
/// use diffusion_lowdim::{Denoiser, Molrg, NoiseLevel};
/// let u1 = faer::mat![[1.0], [0.0], [0.0]];
/// let u2 = faer::mat![[0.0], [1.0], [0.0]];
/// let p = MolrgParam::new(&[u1.as_ref(), u2.as_ref()])?;
/// let m = Molrg::uniform(&[u1.as_ref(), u2.as_ref()])?;
/// let x = faer::mat![[0.7], [-0.4], [2.0]];
/// let l = NoiseLevel::new(0.9, 0.5)?;
/// let a = p.posterior_mean(x.as_ref(), l)?;
/// let b = m.posterior_mean(x.as_ref(), l)?;
/// assert!((&a - &b).norm_max() < 1e-15);
/// # Ok::<(), diffusion_lowdim::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct MolrgParam {
    bases: Vec<Mat<f64>>,
}

impl MolrgParam {
    /// Validates and stores the bases.
    ///
    /// # Errors
    /// [`Error::Empty`] for no bases; [`Error::NotOrthonormal`], [`Error::NonFinite`],
    /// [`Error::DimensionMismatch`] (different heights or unequal ranks).
    pub fn new(bases: &[MatRef<'_, f64>]) -> Result<Self> {
        if bases.is_empty() {
            return Err(Error::Empty {
                what: "MoLRG parameterization",
                unit: "basis",
            });
        }
        for (k, u) in bases.iter().enumerate() {
            check_orthonormal("parameter basis U_k", k, *u)?;
            ensure_dim("rows of U_k vs rows of U_0", bases[0].nrows(), u.nrows())?;
            ensure_dim("rank of U_k vs rank of U_0", bases[0].ncols(), u.ncols())?;
        }
        Ok(Self {
            bases: bases.iter().map(|u| u.to_owned()).collect(),
        })
    }

    /// The bases.
    pub fn bases(&self) -> &[Mat<f64>] {
        &self.bases
    }
}

impl Denoiser for MolrgParam {
    fn dim(&self) -> usize {
        self.bases[0].nrows()
    }

    fn posterior_mean_into(
        &self,
        x_t: MatRef<'_, f64>,
        level: NoiseLevel,
        mut out: MatMut<'_, f64>,
    ) -> Result<()> {
        check_batch(self.dim(), x_t, out.as_ref())?;
        let g = level.shrinkage();
        let phi = level.logit_coefficient(1.0);
        let coeffs: Vec<Mat<f64>> = self.bases.iter().map(|u| mul(u.transpose(), x_t)).collect();
        let (d, b) = (x_t.nrows(), x_t.ncols());
        for j in 0..b {
            let logits: Vec<f64> = coeffs
                .iter()
                .map(|c| phi * (0..c.nrows()).map(|i| c[(i, j)] * c[(i, j)]).sum::<f64>())
                .collect();
            let m = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = logits.iter().map(|l| (l - m).exp()).collect();
            let s: f64 = e.iter().sum();
            for i in 0..d {
                out[(i, j)] = 0.0;
            }
            for ((u, c), ek) in self.bases.iter().zip(&coeffs).zip(&e) {
                let w = ek / s;
                for i in 0..d {
                    let mut v = 0.0;
                    for l in 0..u.ncols() {
                        v += u[(i, l)] * c[(l, j)];
                    }
                    out[(i, j)] += g * w * v;
                }
            }
        }
        Ok(())
    }
}
