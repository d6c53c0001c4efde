//! Random instances for the theorem checks: bases, models, noise levels, points.
//!
//! Instances are small parameter structs plus a seed; the matrices are
//! generated deterministically from the seed. That keeps property-test
//! counterexamples readable (`d: 3, ranks: [1, 2], log10_beta: -8.0, …`).

use faer::Mat;
use rand::RngExt;

use crate::error::Result;
use crate::level::NoiseLevel;
use crate::linalg::{mul, random_orthonormal};
use crate::model::ModelKind;
use crate::model::{Empirical, Gaussian, Molrg};
use crate::rng::{SeededRng, seeded, standard_normal};
use crate::schedule::Schedule;

/// How a random orthonormal basis is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BasisKind {
    /// Haar-distributed (QR of a Gaussian matrix): orthonormal to ~1e-16.
    Haar,
    /// Exactly orthonormal in f64: signed, permuted, block-diagonal normalized
    /// Hadamard blocks (entries ±1/4, ±1/2, ±1). Removes any ambiguity between
    /// formulas that agree only for exactly orthonormal bases.
    ExactHadamard,
}

/// A `d × d` orthogonal matrix whose entries are exact in f64 (see [`BasisKind::ExactHadamard`]).
fn exact_orthogonal(rng: &mut SeededRng, d: usize) -> Mat<f64> {
    // Sylvester Hadamard of order 16 and 4, normalized by 1/4 and 1/2.
    let had = |n: usize, i: usize, j: usize| -> f64 {
        let sign = if (i & j).count_ones().is_multiple_of(2) {
            1.0
        } else {
            -1.0
        };
        sign / (n as f64).sqrt()
    };
    let mut m = Mat::<f64>::zeros(d, d);
    let mut start = 0;
    while start < d {
        let n = if d - start >= 16 {
            16
        } else if d - start >= 4 {
            4
        } else {
            1
        };
        for i in 0..n {
            for j in 0..n {
                m[(start + i, start + j)] = had(n, i, j);
            }
        }
        start += n;
    }
    // Random signed row permutation and column permutation keep exactness.
    let mut rows: Vec<usize> = (0..d).collect();
    let mut cols: Vec<usize> = (0..d).collect();
    shuffle(rng, &mut rows);
    shuffle(rng, &mut cols);
    let signs: Vec<f64> = (0..d)
        .map(|_| if rng.random::<bool>() { 1.0 } else { -1.0 })
        .collect();
    Mat::from_fn(d, d, |i, j| signs[i] * m[(rows[i], cols[j])])
}

/// Fisher–Yates shuffle with the crate's generator.
pub fn shuffle<T>(rng: &mut SeededRng, v: &mut [T]) {
    for i in (1..v.len()).rev() {
        let j = rng.random_range(0..=i);
        v.swap(i, j);
    }
}

/// `K` mutually orthogonal bases with the given ranks (`Σ r_k ≤ d`).
///
/// # Errors
/// [`crate::Error::InvalidCount`] if `Σ r_k > d` or some `r_k = 0`.
pub fn orthogonal_bases(
    rng: &mut SeededRng,
    d: usize,
    ranks: &[usize],
    kind: BasisKind,
) -> Result<Vec<Mat<f64>>> {
    let total: usize = ranks.iter().sum();
    if ranks.contains(&0) || total > d || total == 0 {
        return Err(crate::Error::InvalidCount {
            name: "sum of ranks",
            value: total,
            requirement: "between 1 and d, each rank ≥ 1",
        });
    }
    let q = match kind {
        BasisKind::Haar => random_orthonormal(rng, d, total)?,
        BasisKind::ExactHadamard => exact_orthogonal(rng, d),
    };
    let mut out = Vec::with_capacity(ranks.len());
    let mut s = 0;
    for &r in ranks {
        out.push(q.as_ref().subcols(s, r).to_owned());
        s += r;
    }
    Ok(out)
}

/// `K` independent (generally non-orthogonal) Haar bases.
///
/// # Errors
/// [`crate::Error::InvalidCount`] if some `r_k` is 0 or exceeds `d`.
pub fn independent_bases(rng: &mut SeededRng, d: usize, ranks: &[usize]) -> Result<Vec<Mat<f64>>> {
    ranks
        .iter()
        .map(|&r| random_orthonormal(rng, d, r))
        .collect()
}

/// A log-uniform draw on `[10^lo, 10^hi]`.
pub fn log_uniform(rng: &mut SeededRng, lo: f64, hi: f64) -> f64 {
    10f64.powf(lo + (hi - lo) * rng.random::<f64>())
}

/// `x_t = α x0 + β ε` for the columns of `x0`.
pub fn noisy(rng: &mut SeededRng, x0: &Mat<f64>, level: NoiseLevel) -> Mat<f64> {
    let e = standard_normal(rng, x0.nrows(), x0.ncols());
    Mat::from_fn(x0.nrows(), x0.ncols(), |i, j| {
        level.alpha() * x0[(i, j)] + level.beta() * e[(i, j)]
    })
}

/// One exact model of each kind, built from a seed.
#[derive(Debug, Clone)]
pub enum AnyModel {
    /// A Gaussian.
    Gaussian(Gaussian),
    /// A MoLRG.
    Molrg(Molrg),
    /// An empirical distribution.
    Empirical(Empirical),
}

impl AnyModel {
    /// The model as a trait object.
    pub fn as_exact(&self) -> &dyn crate::model::ExactModel {
        match self {
            Self::Gaussian(m) => m,
            Self::Molrg(m) => m,
            Self::Empirical(m) => m,
        }
    }
}

/// Builds a random model of the given kind in dimension `d` with component
/// ranks `ranks` (Gaussian: `ranks[0]`; empirical: `n_points` points drawn from
/// a MoLRG with those ranks).
///
/// # Errors
/// [`crate::Error::InvalidCount`] for inconsistent sizes.
pub fn random_model(
    seed: u64,
    kind: ModelKind,
    d: usize,
    ranks: &[usize],
    n_points: usize,
    basis: BasisKind,
) -> Result<AnyModel> {
    let mut rng = seeded(seed);
    let bases = orthogonal_bases(&mut rng, d, ranks, basis)?;
    let variances: Vec<Vec<f64>> = ranks
        .iter()
        .map(|&r| (0..r).map(|_| log_uniform(&mut rng, -1.0, 1.0)).collect())
        .collect();
    Ok(match kind {
        ModelKind::Gaussian => {
            let mean: Vec<f64> = (0..d).map(|_| rng.random::<f64>() - 0.5).collect();
            AnyModel::Gaussian(Gaussian::new(&mean, bases[0].as_ref(), &variances[0])?)
        }
        ModelKind::Molrg => {
            let raw: Vec<f64> = ranks.iter().map(|_| 0.2 + rng.random::<f64>()).collect();
            let s: f64 = raw.iter().sum();
            let mut pi: Vec<f64> = raw.iter().map(|w| w / s).collect();
            let tail: f64 = pi[1..].iter().sum();
            pi[0] = 1.0 - tail;
            let refs: Vec<_> = bases.iter().map(|b| b.as_ref()).collect();
            AnyModel::Molrg(Molrg::with_variances(&pi, &refs, &variances)?)
        }
        ModelKind::Empirical => {
            let refs: Vec<_> = bases.iter().map(|b| b.as_ref()).collect();
            let k = ranks.len() as f64;
            let m = Molrg::with_variances(&vec![1.0 / k; ranks.len()], &refs, &variances)?;
            use crate::model::ExactModel;
            let pts = m.sample_x0(&mut rng, n_points.max(1));
            AnyModel::Empirical(Empirical::new(pts.as_ref())?)
        }
        ModelKind::Pca | ModelKind::KSubspaces => {
            return Err(crate::Error::Unknown {
                kind: "exact model kind of an instance",
                name: kind.name().to_string(),
                known: "gaussian, molrg, empirical".to_string(),
            });
        }
    })
}

/// A random point near the model's typical set at this level: `α x0 + β ε`
/// for an exact sample `x0`.
pub fn typical_point(seed: u64, model: &AnyModel, level: NoiseLevel) -> Vec<f64> {
    let mut rng = seeded(seed ^ 0x05ee_d0f7_0010);
    let x0 = model.as_exact().sample_x0(&mut rng, 1);
    let x = noisy(&mut rng, &x0, level);
    (0..x.nrows()).map(|i| x[(i, 0)]).collect()
}

/// A random vector with `d` standard normal entries.
pub fn gaussian_vector(rng: &mut SeededRng, d: usize) -> Vec<f64> {
    crate::rng::standard_normal_vec(rng, d)
}

/// `U Uᵀ v` for a basis (plain f64, for building test points).
pub fn project(u: &Mat<f64>, v: &[f64]) -> Vec<f64> {
    let vm = Mat::from_fn(v.len(), 1, |i, _| v[i]);
    let c = mul(u.transpose(), vm.as_ref());
    let p = mul(u.as_ref(), c.as_ref());
    (0..v.len()).map(|i| p[(i, 0)]).collect()
}

/// The continuous schedules the flow checks draw from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduleKind {
    /// [`Ve`](crate::schedule::Ve).
    Ve,
    /// [`VpLinear::score_sde`](crate::schedule::VpLinear::score_sde).
    VpLinear,
    /// [`VpCosine::nichol_dhariwal`](crate::schedule::VpCosine::nichol_dhariwal) ($\alpha_1 \approx 6\cdot10^{-17}$).
    VpCosine,
    /// [`SubVp::score_sde`](crate::schedule::SubVp::score_sde).
    SubVp,
    /// [`RectifiedFlow`](crate::schedule::RectifiedFlow) ($\alpha_1 = 0$).
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

    /// The name in the schedule list ([`crate::schedule::SCHEDULES`]).
    pub fn name(self) -> &'static str {
        match self {
            Self::Ve => "ve",
            Self::VpLinear => "vp-linear",
            Self::VpCosine => "vp-cosine",
            Self::SubVp => "sub-vp",
            Self::RectifiedFlow => "rectified-flow",
        }
    }

    /// The schedule, from the schedule list.
    pub fn build(self) -> Box<dyn Schedule> {
        crate::schedule::by_name(self.name()).expect("every kind is in the schedule list")
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
