//! The crate error type.
//!
//! Every fallible public function returns [`Result<T>`](Result). Variants carry
//! the offending values and say what to fix; none carries a free-form string.

use thiserror::Error;

/// Convenience alias for `core::result::Result<T, Error>`.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// Everything that can go wrong in `diffusion-lowdim`.
///
/// The enum is `#[non_exhaustive]`: new failure modes may be added in minor
/// releases, so match with a wildcard arm.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum Error {
    /// Two sizes that must agree do not.
    #[error(
        "dimension mismatch in {what}: expected {expected}, found {found} (check the shapes of your inputs)"
    )]
    DimensionMismatch {
        /// Which quantity (e.g. `"x_t rows vs model dimension"`).
        what: &'static str,
        /// The size required.
        expected: usize,
        /// The size given.
        found: usize,
    },

    /// An input that must be non-empty is empty.
    #[error("{what} is empty: it needs at least one {unit}")]
    Empty {
        /// Which input.
        what: &'static str,
        /// What it must contain at least one of (e.g. `"column"`).
        unit: &'static str,
    },

    /// A NaN or infinite value where a finite one is required.
    #[error("{what} has a non-finite entry ({}) at row {row}, column {col}", Num(*value))]
    NonFinite {
        /// Which input.
        what: &'static str,
        /// Row index of the first offending entry.
        row: usize,
        /// Column index of the first offending entry.
        col: usize,
        /// The value found (NaN or ±inf).
        value: f64,
    },

    /// A basis that must have orthonormal columns does not.
    #[error(
        "{what} (component {component}) does not have orthonormal columns: \
         max |UᵀU − I| = {deviation:.3e} exceeds the tolerance {tolerance:.1e}{}; \
         orthonormalize it first (e.g. diffusion_lowdim::linalg::orthonormalize)",
        if deviation.is_finite() { "" } else { " (an entry is so large that UᵀU overflows)" }
    )]
    NotOrthonormal {
        /// Which input.
        what: &'static str,
        /// Index of the component (0 for a single basis).
        component: usize,
        /// The measured `max_{ij} |(UᵀU − I)_{ij}|`.
        deviation: f64,
        /// The tolerance it was checked against.
        tolerance: f64,
    },

    /// A matrix that must be symmetric is not.
    #[error("{what} is not symmetric: max |Σ − Σᵀ| = {deviation:.3e} exceeds {tolerance:.1e}")]
    NotSymmetric {
        /// Which input.
        what: &'static str,
        /// `max_{ij} |Σ_ij − Σ_ji|`.
        deviation: f64,
        /// Allowed deviation.
        tolerance: f64,
    },

    /// A covariance with a clearly negative eigenvalue.
    #[error(
        "{what} is not positive semidefinite: eigenvalue {eigenvalue:.3e} is below \
         −{tolerance:.1e} (a covariance must be PSD)"
    )]
    NotPositiveSemidefinite {
        /// Which input.
        what: &'static str,
        /// The most negative eigenvalue.
        eigenvalue: f64,
        /// The rounding allowance (values in `[−tolerance, 0)` are set to 0).
        tolerance: f64,
    },

    /// A scalar parameter outside its admissible range.
    #[error("invalid {name} = {}: must be {requirement}", Num(*value))]
    InvalidParameter {
        /// Parameter name, as in the docs (e.g. `"beta"`, `"pi[2]"`).
        name: &'static str,
        /// The value given.
        value: f64,
        /// The admissible range in words (e.g. `"finite and > 0"`).
        requirement: &'static str,
    },

    /// An integer parameter outside its admissible range.
    #[error("invalid {name} = {value}: must be {requirement}")]
    InvalidCount {
        /// Parameter name (e.g. `"rank"`, `"steps"`).
        name: &'static str,
        /// The value given.
        value: usize,
        /// The admissible range in words.
        requirement: &'static str,
    },

    /// Mixture weights that are negative or do not sum to one.
    #[error(
        "mixture weights must be ≥ 0 and sum to 1 (within {tolerance:.0e}): \
         weight {index} is {}, sum is {}",
        Num(*value),
        Num(*sum)
    )]
    InvalidWeights {
        /// Index of the first offending weight (or 0 if only the sum is wrong).
        index: usize,
        /// Its value.
        value: f64,
        /// The sum of all weights.
        sum: f64,
        /// Allowed deviation of the sum from one.
        tolerance: f64,
    },

    /// A time outside the schedule's domain.
    #[error(
        "time t = {} is outside the domain of the {schedule} schedule, {}{}, {}{} \
         (pick t inside it{})",
        Num(*t),
        if *lo_open { "(" } else { "[" },
        Num(*lo),
        Num(*hi),
        if *hi_open { ")" } else { "]" },
        if *lo_open && *lo == 0.0 { "; t = 0 is excluded because a derivative is infinite or beta = 0 there" } else { "" }
    )]
    TimeOutOfDomain {
        /// Schedule name.
        schedule: &'static str,
        /// The time given.
        t: f64,
        /// Lower end of the domain.
        lo: f64,
        /// Upper end of the domain.
        hi: f64,
        /// Whether `lo` itself is excluded.
        lo_open: bool,
        /// Whether `hi` itself is excluded.
        hi_open: bool,
    },

    /// A noise level `(α, β)` outside `0 ≤ α ≤ 1e100`, `1e-100 ≤ β ≤ 1e100`.
    #[error(
        "invalid noise level (alpha = {}, beta = {}): need 0 ≤ alpha ≤ 1e100 and \
         1e-100 ≤ beta ≤ 1e100 (beta = 0 is the clean data, where the posterior mean is x itself)",
        Num(*alpha),
        Num(*beta)
    )]
    InvalidNoiseLevel {
        /// Signal scale given.
        alpha: f64,
        /// Noise scale given.
        beta: f64,
    },

    /// A quantity that is undefined at this noise level (e.g. dividing by `α = 0`).
    #[error("{what} is undefined at alpha = {}: {hint}", Num(*alpha))]
    UndefinedAtLevel {
        /// The quantity.
        what: &'static str,
        /// Signal scale.
        alpha: f64,
        /// What to do instead.
        hint: &'static str,
    },

    /// A user-supplied function returned an invalid value.
    #[error(
        "user-supplied {what} returned {} at t = {}: it must be {requirement}",
        Num(*value),
        Num(*t)
    )]
    InvalidUserFunction {
        /// Which function (e.g. `"alpha"`).
        what: &'static str,
        /// Where it was evaluated.
        t: f64,
        /// What it returned.
        value: f64,
        /// What it must satisfy.
        requirement: &'static str,
    },

    /// A dense decomposition failed to converge.
    #[error("{what} failed to converge")]
    NoConvergence {
        /// Which decomposition.
        what: &'static str,
    },

    /// An unknown identifier (result id, schedule name, ...).
    #[error("unknown {kind} '{name}'; known: {known}")]
    Unknown {
        /// What kind of identifier.
        kind: &'static str,
        /// The name given.
        name: String,
        /// The accepted names, comma separated.
        known: String,
    },

    // reductions
    /// A figure could not be rendered by the SVG backend.
    #[error("could not render the {figure} figure (the SVG backend reported an error)")]
    Render {
        /// Which figure.
        figure: &'static str,
    },

    /// A combination of parts that an operation does not support.
    #[error("{what} does not support {given}: it needs {requirement}")]
    Unsupported {
        /// The operation (e.g. `"SubspaceSampler"`).
        what: &'static str,
        /// The part given (e.g. a solver's name).
        given: &'static str,
        /// What it needs instead, and the alternative.
        requirement: &'static str,
    },

    /// A result (or an intermediate that has no rescaled form) whose magnitude
    /// exceeds the largest finite `f64`, about 1.8e308.
    #[error("{what} overflows f64 (its magnitude exceeds 1.8e308): {cause}")]
    Overflow {
        /// The quantity that overflowed.
        what: &'static str,
        /// Which input makes it overflow, and what to change.
        cause: &'static str,
    },

    /// A size or count whose memory would exceed [`MAX_ELEMENTS`] `f64` values
    /// (or that overflows `usize` when multiplied out), refused before allocating.
    #[error(
        "{what} = {requested} is too large: it needs {} of memory; at most {limit} is allowed",
        Bytes(*requested, *bytes_each)
    )]
    TooLarge {
        /// The size asked for (e.g. `"steps"`, `"samples × dimension"`).
        what: &'static str,
        /// The number of elements requested.
        requested: usize,
        /// Bytes per element.
        bytes_each: usize,
        /// The largest accepted number of elements.
        limit: usize,
    },

    // flow
    /// An adaptive ODE solver could not reach the end of its interval.
    #[error(
        "{solver} stopped at t = {} after {steps} steps: {reason} (loosen rtol/atol, \
         raise max_steps, or end the interval further from a singular point)",
        Num(*t)
    )]
    StepFailure {
        /// The solver (e.g. `"dopri5"`).
        solver: &'static str,
        /// Why it stopped (step limit reached, step size underflow).
        reason: &'static str,
        /// The time reached.
        t: f64,
        /// Steps taken (accepted and rejected).
        steps: usize,
    },
}

/// The largest number of `f64` values (or other 8-byte elements) that one array
/// built from a user-supplied size may hold: $2^{28}$, i.e. 2 GiB. Sizes are
/// checked against it *before* allocating, so a hostile size (`usize::MAX`,
/// `1e12` samples) is a [`Error::TooLarge`] instead of an abort.
pub const MAX_ELEMENTS: usize = 1 << 28;

/// `Ok(n)` if an array of `n` elements is within [`MAX_ELEMENTS`].
///
/// # Errors
/// [`Error::TooLarge`] otherwise.
pub fn ensure_size(what: &'static str, n: usize) -> Result<usize> {
    if n <= MAX_ELEMENTS {
        Ok(n)
    } else {
        Err(Error::TooLarge {
            what,
            requested: n,
            bytes_each: 8,
            limit: MAX_ELEMENTS,
        })
    }
}

/// `Ok(rows · cols)` if a `rows × cols` array is within [`MAX_ELEMENTS`]
/// (the product is checked for `usize` overflow too).
///
/// # Errors
/// [`Error::TooLarge`] otherwise.
pub fn ensure_size2(what: &'static str, rows: usize, cols: usize) -> Result<usize> {
    ensure_size(what, rows.saturating_mul(cols))
}

/// A float formatted for a message: the plain shortest representation when it is
/// short (`0.5`, `80`, `0.00001`), the shortest exponent form otherwise (`1e150`,
/// `9.999999999999804e149`, `5e-324`), never a 150-digit integer.
#[derive(Debug, Clone, Copy)]
pub struct Num(pub f64);

impl core::fmt::Display for Num {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let v = self.0;
        let a = v.abs();
        if !v.is_finite() || a == 0.0 || (1e-5..1e16).contains(&a) {
            write!(f, "{v}")
        } else {
            write!(f, "{v:e}")
        }
    }
}

/// A memory size in readable units (`8 GB`, `2.1 TB`).
struct Bytes(usize, usize);

impl core::fmt::Display for Bytes {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let b = self.0 as f64 * self.1 as f64;
        let units = ["bytes", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
        let mut v = b;
        let mut u = 0;
        while v >= 1000.0 && u + 1 < units.len() {
            v /= 1000.0;
            u += 1;
        }
        if u == 0 {
            write!(f, "{b} bytes")
        } else {
            write!(f, "{v:.1} {}", units[u])
        }
    }
}

/// The cause of an [`Error::Overflow`] of a squared norm of user data.
pub(crate) const DATA_TOO_LARGE: &str = "the data are so large (entries ≳ 1e154) that a squared \
     norm is beyond f64; scale them down";

/// Returns an error if any entry of a result is not finite: the guard that keeps a
/// non-finite value from ever being returned as a success.
pub(crate) fn ensure_finite_output(
    what: &'static str,
    cause: &'static str,
    m: faer::MatRef<'_, f64>,
) -> Result<()> {
    for j in 0..m.ncols() {
        for i in 0..m.nrows() {
            if !m[(i, j)].is_finite() {
                return Err(Error::Overflow { what, cause });
            }
        }
    }
    Ok(())
}

/// [`ensure_finite_output`] for a slice.
pub(crate) fn ensure_finite_output_slice(
    what: &'static str,
    cause: &'static str,
    v: &[f64],
) -> Result<()> {
    if v.iter().all(|x| x.is_finite()) {
        Ok(())
    } else {
        Err(Error::Overflow { what, cause })
    }
}

/// Returns an error if any entry of `m` is not finite.
pub(crate) fn ensure_finite(what: &'static str, m: faer::MatRef<'_, f64>) -> Result<()> {
    for j in 0..m.ncols() {
        for i in 0..m.nrows() {
            let v = m[(i, j)];
            if !v.is_finite() {
                return Err(Error::NonFinite {
                    what,
                    row: i,
                    col: j,
                    value: v,
                });
            }
        }
    }
    Ok(())
}

/// Returns an error if any entry of `v` is not finite.
pub(crate) fn ensure_finite_slice(what: &'static str, v: &[f64]) -> Result<()> {
    match v.iter().position(|x| !x.is_finite()) {
        Some(i) => Err(Error::NonFinite {
            what,
            row: i,
            col: 0,
            value: v[i],
        }),
        None => Ok(()),
    }
}

/// Returns an error unless `found == expected`.
pub(crate) fn ensure_dim(what: &'static str, expected: usize, found: usize) -> Result<()> {
    if expected == found {
        Ok(())
    } else {
        Err(Error::DimensionMismatch {
            what,
            expected,
            found,
        })
    }
}
