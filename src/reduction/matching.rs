//! Matching estimated subspaces to true ones up to the best permutation (R08, R09): the
//! minimum-cost assignment (Hungarian algorithm, $O(K^3)$) and an exhaustive check.

use faer::MatRef;

use super::subspace::subspace_distance;
use crate::error::{Error, Result, ensure_dim};

/// The recovery error of a set of subspaces up to the best permutation.
#[derive(Debug, Clone, PartialEq)]
pub struct Matching {
    /// `estimate_of[k]` = index of the estimated basis matched to true basis `k`.
    pub estimate_of: Vec<usize>,
    /// $\|\hat U_{\pi(k)}\hat U_{\pi(k)}^\top - U_kU_k^\top\|_F$ for each true `k`.
    pub distances: Vec<f64>,
    /// $\max_k$ of `distances`.
    pub max_distance: f64,
    /// $\sum_k$ `distances[k]`$^2$, the minimized cost.
    pub total_squared: f64,
}

/// Matches estimated subspaces to true ones by the permutation minimizing
/// $\sum_k\|\hat U_{\pi(k)}\hat U_{\pi(k)}^\top - U_kU_k^\top\|_F^2$ (Hungarian algorithm; optimal, not greedy).
///
/// # Errors
/// [`Error::Empty`], [`Error::DimensionMismatch`] (different counts or ambient
/// dimensions), and the basis errors of [`subspace_distance`].
pub fn match_subspaces(
    estimated: &[MatRef<'_, f64>],
    truth: &[MatRef<'_, f64>],
) -> Result<Matching> {
    if truth.is_empty() {
        return Err(Error::Empty {
            what: "set of true subspaces",
            unit: "basis",
        });
    }
    ensure_dim(
        "number of estimated vs true subspaces",
        truth.len(),
        estimated.len(),
    )?;
    let k = truth.len();
    let mut dist = vec![vec![0.0; k]; k];
    for (a, t) in truth.iter().enumerate() {
        for (b, e) in estimated.iter().enumerate() {
            dist[a][b] = subspace_distance(*e, *t)?;
        }
    }
    let cost: Vec<Vec<f64>> = dist
        .iter()
        .map(|row| row.iter().map(|v| v * v).collect())
        .collect();
    let estimate_of = min_cost_assignment(&cost);
    let distances: Vec<f64> = (0..k).map(|a| dist[a][estimate_of[a]]).collect();
    Ok(Matching {
        max_distance: distances.iter().cloned().fold(0.0, f64::max),
        total_squared: (0..k).map(|a| cost[a][estimate_of[a]]).sum(),
        distances,
        estimate_of,
    })
}

/// The assignment `row → column` minimizing the total cost of a square matrix
/// (Hungarian algorithm with potentials, $O(n^3)$; Kuhn 1955, Munkres 1957).
///
/// Entries that are missing (short rows) or not finite are treated as a cost of
/// $10^{150}$ (larger ones are clamped to it), so the result is always a permutation.
///
/// # Examples
/// ```
/// use diffusion_lowdim::reduction::min_cost_assignment;
/// let c = vec![vec![4.0, 1.0, 3.0], vec![2.0, 0.0, 5.0], vec![3.0, 2.0, 2.0]];
/// assert_eq!(min_cost_assignment(&c), vec![1, 0, 2]); // total 1 + 2 + 2 = 5
/// ```
pub fn min_cost_assignment(cost: &[Vec<f64>]) -> Vec<usize> {
    let n = cost.len();
    if n == 0 {
        return Vec::new();
    }
    // Non-finite costs become a large finite value so the potentials stay finite.
    let cost: Vec<Vec<f64>> = cost
        .iter()
        .map(|row| {
            (0..n)
                .map(|j| match row.get(j) {
                    Some(v) if v.is_finite() => v.clamp(-1e150, 1e150),
                    _ => 1e150,
                })
                .collect()
        })
        .collect();
    // 1-based arrays as in the classical formulation.
    let inf = f64::INFINITY;
    let mut u = vec![0.0; n + 1];
    let mut v = vec![0.0; n + 1];
    let mut p = vec![0usize; n + 1]; // p[j] = row matched to column j
    let mut way = vec![0usize; n + 1];
    for i in 1..=n {
        p[0] = i;
        let mut j0 = 0;
        let mut minv = vec![inf; n + 1];
        let mut used = vec![false; n + 1];
        loop {
            used[j0] = true;
            let i0 = p[j0];
            let mut delta = inf;
            let mut j1 = 0;
            for j in 1..=n {
                if !used[j] {
                    let cur = cost[i0 - 1][j - 1] - u[i0] - v[j];
                    if cur < minv[j] {
                        minv[j] = cur;
                        way[j] = j0;
                    }
                    if minv[j] < delta {
                        delta = minv[j];
                        j1 = j;
                    }
                }
            }
            if j1 == 0 {
                // Unreachable with finite costs (some unused column always has finite minv).
                break;
            }
            for j in 0..=n {
                if used[j] {
                    u[p[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
            if p[j0] == 0 {
                break;
            }
        }
        loop {
            let j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
            if j0 == 0 {
                break;
            }
        }
    }
    let mut out = vec![usize::MAX; n];
    for j in 1..=n {
        if p[j] > 0 {
            out[p[j] - 1] = j - 1;
        }
    }
    // Fill any row left unmatched (NaN input only) with the unused columns in order.
    let mut free: Vec<usize> = (0..n).filter(|c| !out.contains(c)).collect();
    for o in out.iter_mut() {
        if *o == usize::MAX {
            *o = free.remove(0);
        }
    }
    out
}

/// The same minimization by exhaustive search over all $n!$ permutations (for testing; $n \le 8$).
///
/// # Errors
/// [`Error::InvalidCount`] for $n > 8$; [`Error::DimensionMismatch`] unless every row has
/// $n$ entries; [`Error::NonFinite`] for a NaN or infinite cost.
pub fn min_cost_assignment_exhaustive(cost: &[Vec<f64>]) -> Result<(Vec<usize>, f64)> {
    let n = cost.len();
    if n > 8 {
        return Err(Error::InvalidCount {
            name: "size for exhaustive matching",
            value: n,
            requirement: "at most 8",
        });
    }
    for row in cost {
        crate::error::ensure_dim("length of a cost row vs number of rows", n, row.len())?;
        crate::error::ensure_finite_slice("cost matrix", row)?;
    }
    let mut perm: Vec<usize> = (0..n).collect();
    let mut best = (perm.clone(), f64::INFINITY);
    permute(&mut perm, 0, cost, &mut best);
    Ok(best)
}

fn permute(perm: &mut Vec<usize>, start: usize, cost: &[Vec<f64>], best: &mut (Vec<usize>, f64)) {
    if start == perm.len() {
        let c: f64 = perm.iter().enumerate().map(|(i, &j)| cost[i][j]).sum();
        if c < best.1 {
            *best = (perm.clone(), c);
        }
        return;
    }
    for i in start..perm.len() {
        perm.swap(start, i);
        permute(perm, start + 1, cost, best);
        perm.swap(start, i);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::seeded;
    use rand::RngExt;

    #[test]
    fn hungarian_matches_exhaustive() {
        let mut g = seeded(11);
        for n in 1..=6 {
            for _ in 0..50 {
                let c: Vec<Vec<f64>> = (0..n)
                    .map(|_| (0..n).map(|_| g.random::<f64>()).collect())
                    .collect();
                let h = min_cost_assignment(&c);
                let hc: f64 = h.iter().enumerate().map(|(i, &j)| c[i][j]).sum();
                let (_, ec) = min_cost_assignment_exhaustive(&c).unwrap();
                assert!((hc - ec).abs() <= 1e-12, "{n}: {hc} vs {ec}");
            }
        }
    }
}
