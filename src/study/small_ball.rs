//! The small-ball study behind `reproduce small-ball` (R07): the empirical probability that
//! $\sigma_r(A) < \epsilon(\sqrt N - \sqrt{r-1})$ for Gaussian $A$, against
//! [`small_ball_bound`].

use crate::error::Result;
use crate::reduction::{small_ball_bound, small_ball_scale};
use crate::stats::clopper_pearson;

/// One row of the small-ball table: the empirical probability of
/// $\sigma_r(A) < \epsilon(\sqrt N - \sqrt{r-1})$ against [`small_ball_bound`].
#[derive(Debug, Clone, PartialEq)]
pub struct SmallBallRow {
    /// Columns $N$ of $A$.
    pub n: usize,
    /// Rows $r$ of $A$.
    pub r: usize,
    /// $\epsilon$.
    pub epsilon: f64,
    /// Trials.
    pub trials: usize,
    /// Trials with $\sigma_r(A) < \epsilon(\sqrt N - \sqrt{r-1})$.
    pub below: usize,
    /// Clopper–Pearson interval of the probability of that event.
    pub ci: (f64, f64),
    /// The proven bound [`small_ball_bound`].
    pub bound: f64,
}

/// Estimates $\mathbb P(\sigma_r(A) < \epsilon(\sqrt N - \sqrt{r-1}))$ for Gaussian $A \in \mathbb R^{r\times N}$.
///
/// Trial $j$ of row $c$ draws $A$ from `rng::stream(seed, "small-ball", c·2³² + j)`.
///
/// # Errors
/// As [`small_ball_bound`] and [`clopper_pearson`]; SVD failures.
pub fn small_ball_table(
    cells: &[(usize, usize, f64)],
    trials: usize,
    seed: u64,
    confidence: f64,
) -> Result<Vec<SmallBallRow>> {
    let mut out = Vec::with_capacity(cells.len());
    for (c, &(n, r, epsilon)) in cells.iter().enumerate() {
        let bound = small_ball_bound(n, r, epsilon)?;
        let level = epsilon * small_ball_scale(n, r);
        let mut below = 0;
        for j in 0..trials {
            let mut g = crate::rng::stream(seed, "small-ball", ((c as u64) << 32) | j as u64);
            let a = crate::rng::standard_normal(&mut g, r, n);
            let s = crate::linalg::singular_values(a.as_ref())?;
            if s[r - 1] < level {
                below += 1;
            }
        }
        out.push(SmallBallRow {
            n,
            r,
            epsilon,
            trials,
            below,
            ci: clopper_pearson(below, trials, confidence)?,
            bound,
        });
    }
    Ok(out)
}
