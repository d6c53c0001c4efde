//! "Learned" low-rank denoisers fitted to a training set: the PCA denoiser (the global
//! optimum of the K = 1 denoising loss, R05) and, per labelled component, the K-subspaces
//! denoiser.

use faer::{Mat, MatRef};

use crate::error::Result;
use crate::model::{Gaussian, Molrg};
use crate::reduction::Pca;

/// The PCA basis of a training matrix (`d × N`, uncentred, as in the DAE ↔ PCA
/// equivalence), from [`Pca`]: the leading $\min(r, N)$ left singular vectors of a thin
/// SVD of $X$. For $N < r$ the optimum of the loss is not identifiable beyond
/// $\operatorname{span}X$ (R07); this returns that span alone, a rank-$N$ basis (the
/// memorization study's denoiser for $N < r$).
pub(crate) fn pca_basis(train: MatRef<'_, f64>, r: usize) -> Result<Mat<f64>> {
    Ok(Pca::fit(train, r)?.basis().to_owned())
}

/// The PCA denoiser $\mathcal N(0, \hat U\hat U^\top)$ of a training set.
pub(crate) fn pca_denoiser(train: MatRef<'_, f64>, r: usize) -> Result<Gaussian> {
    Gaussian::subspace(pca_basis(train, r)?.as_ref())
}

/// The K-subspaces denoiser $\frac1K\sum_k\mathcal N(0, \hat U_k\hat U_k^\top)$ from labelled
/// training sets (one `d × N_k` matrix per component), each basis by [`pca_basis`].
pub(crate) fn subspaces_denoiser(parts: &[MatRef<'_, f64>], r: usize) -> Result<Molrg> {
    let bases = parts
        .iter()
        .map(|p| pca_basis(*p, r))
        .collect::<Result<Vec<_>>>()?;
    let refs: Vec<_> = bases.iter().map(|b| b.as_ref()).collect();
    Molrg::uniform(&refs)
}
