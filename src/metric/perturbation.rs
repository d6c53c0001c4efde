//! The null-space perturbation bound of Shallow Diffuse, Theorem 1 (R16).

use faer::Mat;
use statrs::distribution::{Beta, ContinuousCDF};

use crate::error::{Error, Result, ensure_dim, ensure_finite_slice};
use crate::level::NoiseLevel;
use crate::model::Denoiser;
use crate::rng::{SeededRng, standard_normal};
use crate::stats::Proportion;

/// $h(r) = \sqrt{r/d + \sqrt{\tfrac{18\pi^3}{d-2}\log(2r)}}$ of Shallow Diffuse, Theorem 1.
///
/// # Errors
/// [`Error::InvalidCount`] unless $d \ge 3$ and $1 \le r \le d$.
///
/// # Examples
/// ```
/// use diffusion_lowdim::metric::shallow_diffuse_h;
/// let h = shallow_diffuse_h(4, 4096)?;
/// assert!(h > 0.72 && h < 0.74);
/// # Ok::<(), diffusion_lowdim::Error>(())
/// ```
pub fn shallow_diffuse_h(r: usize, d: usize) -> Result<f64> {
    if d < 3 {
        return Err(Error::InvalidCount {
            name: "d",
            value: d,
            requirement: "at least 3 (h(r) divides by d − 2)",
        });
    }
    if r == 0 || r > d {
        return Err(Error::InvalidCount {
            name: "r",
            value: r,
            requirement: "1 ≤ r ≤ d",
        });
    }
    let (rf, df) = (r as f64, d as f64);
    let pi3 = core::f64::consts::PI.powi(3);
    Ok((rf / df + (18.0 * pi3 / (df - 2.0) * (2.0 * rf).ln()).sqrt()).sqrt())
}

/// `m` independent points uniform on the unit sphere $S^{d-1}$ (normalized Gaussians), as columns.
///
/// # Panics
/// If the `d × m` matrix cannot be allocated (check sizes from users with
/// [`ensure_size2`](crate::error::ensure_size2) first, as [`perturbation_test`] does).
pub fn uniform_sphere(rng: &mut SeededRng, d: usize, m: usize) -> Mat<f64> {
    let mut z = standard_normal(rng, d, m);
    for j in 0..m {
        let n = (0..d).map(|i| z[(i, j)] * z[(i, j)]).sum::<f64>().sqrt();
        for i in 0..d {
            z[(i, j)] /= n;
        }
    }
    z
}

/// For $\Delta$ uniform on $S^{d-1}$ and an orthonormal $U \in \mathbb R^{d\times r}$:
/// $\mathbb P(\|U^\top\Delta\| > c)$.
///
/// # Definition
/// $\|U^\top\Delta\|^2 \sim \mathrm{Beta}(r/2, (d-r)/2)$ for $r < d$ (a ratio of independent
/// $\chi^2_r$ and $\chi^2_r + \chi^2_{d-r}$), so the probability is the Beta survival function at
/// $c^2$ (statrs); for $r = d$, $\|U^\top\Delta\| = 1$. This is the exact violation probability of
/// Theorem 1 for the $K = 1$ denoiser $f(x) = \frac{\alpha}{\alpha^2+\beta^2}UU^\top x$, whose
/// Lipschitz constant is $L = \frac{\alpha}{\alpha^2+\beta^2}$, with $c = h(r)$.
///
/// # Errors
/// [`Error::InvalidCount`] unless $1 \le r \le d$; [`Error::InvalidParameter`] for $c$ not finite.
///
/// # Examples
/// ```
/// use diffusion_lowdim::metric::sphere_projection_tail;
/// // d = 3, r = 1: ‖UᵀΔ‖² ~ Beta(1/2, 1), so P(|Δ₁| > 1/2) = 1/2 (Archimedes).
/// assert!((sphere_projection_tail(1, 3, 0.5)? - 0.5).abs() < 1e-12);
/// # Ok::<(), diffusion_lowdim::Error>(())
/// ```
pub fn sphere_projection_tail(r: usize, d: usize, c: f64) -> Result<f64> {
    if r == 0 || r > d {
        return Err(Error::InvalidCount {
            name: "r",
            value: r,
            requirement: "1 ≤ r ≤ d",
        });
    }
    if !c.is_finite() {
        return Err(Error::InvalidParameter {
            name: "c",
            value: c,
            requirement: "finite",
        });
    }
    if c < 0.0 {
        return Ok(1.0);
    }
    if r == d {
        return Ok(if 1.0 > c { 1.0 } else { 0.0 });
    }
    let x = c * c;
    if x >= 1.0 {
        return Ok(0.0);
    }
    let beta = Beta::new(0.5 * r as f64, 0.5 * (d - r) as f64).expect("positive shapes");
    Ok(beta.sf(x))
}

/// The outcome of [`perturbation_test`].
#[derive(Debug, Clone, PartialEq)]
pub struct PerturbationTest {
    /// The bound $\lambda L h(r)$.
    pub bound: f64,
    /// $\|f(x + \lambda\Delta_m) - f(x)\|$ for every perturbation.
    pub changes: Vec<f64>,
    /// Perturbations whose change exceeds the bound, with a Clopper–Pearson interval.
    pub violations: Proportion,
}

/// Shallow Diffuse, Theorem 1, on a denoiser: draws `samples` perturbations $\Delta$ uniform
/// on the sphere and counts the violations of $\|f(x+\lambda\Delta) - f(x)\| \le \lambda L h(r)$.
///
/// # Definition
/// The theorem claims a violation probability at most $1/r$ when $f$ is (exactly) linear of
/// rank $r$ with Lipschitz constant $L$; for the $K = 1$ model the exact probability is
/// [`sphere_projection_tail`]$(r, d, h(r))$. For a MoLRG denoiser $f$ is only approximately
/// linear, and the rate measured here (with a user-chosen $L$, e.g. $\|J(x)\|_2$) is a
/// report, not a theorem.
///
/// # Errors
/// As [`shallow_diffuse_h`]; [`Error::InvalidParameter`] for $\lambda$ or $L$ not finite and
/// positive; [`Error::DimensionMismatch`]; [`Error::InvalidCount`] for no samples;
/// [`Error::TooLarge`] for more than [`MAX_ELEMENTS`](crate::error::MAX_ELEMENTS) sample
/// entries; [`Error::Overflow`] if a distance exceeds f64; the denoiser's errors.
#[allow(clippy::too_many_arguments)]
pub fn perturbation_test(
    denoiser: &dyn Denoiser,
    x: &[f64],
    level: NoiseLevel,
    lambda: f64,
    lipschitz: f64,
    rank: usize,
    samples: usize,
    confidence: f64,
    rng: &mut SeededRng,
) -> Result<PerturbationTest> {
    let d = denoiser.dim();
    ensure_dim("length of x vs denoiser dimension", d, x.len())?;
    ensure_finite_slice("x", x)?;
    for (name, v) in [("lambda", lambda), ("L", lipschitz)] {
        if !(v.is_finite() && v > 0.0) {
            return Err(Error::InvalidParameter {
                name,
                value: v,
                requirement: "finite and > 0",
            });
        }
    }
    if samples == 0 {
        return Err(Error::InvalidCount {
            name: "samples",
            value: 0,
            requirement: "at least 1",
        });
    }
    crate::error::ensure_size2("perturbation samples (d × samples)", d, samples)?;
    let bound = lambda * lipschitz * shallow_diffuse_h(rank, d)?;
    let delta = uniform_sphere(rng, d, samples);
    let moved = Mat::from_fn(d, samples, |i, j| x[i] + lambda * delta[(i, j)]);
    let base = denoiser.posterior_mean(Mat::from_fn(d, 1, |i, _| x[i]).as_ref(), level)?;
    let out = denoiser.posterior_mean(moved.as_ref(), level)?;
    let changes: Vec<f64> = (0..samples)
        .map(|j| {
            (0..d)
                .map(|i| (out[(i, j)] - base[(i, 0)]).powi(2))
                .sum::<f64>()
                .sqrt()
        })
        .collect();
    crate::error::ensure_finite_output_slice(
        "a perturbation bound or change",
        "lambda, L or the denoiser's outputs are so large that a distance is beyond f64; \
         scale them down",
        &[&[bound][..], &changes].concat(),
    )?;
    let k = changes.iter().filter(|&&c| c > bound).count();
    Ok(PerturbationTest {
        bound,
        violations: Proportion::new(k, samples, confidence)?,
        changes,
    })
}
