//! Size limits: every size that comes from a user (a count on the command line,
//! a shape in a `.npy` header, a JSON file) is checked against these *before*
//! anything of that size is allocated.
//!
//! # The memory budget
//! One number bounds what a single request may allocate: [`memory_budget`],
//! [`DEFAULT_MEMORY_BUDGET`] (4 GiB) unless the environment variable
//! `DIFFUSION_LOWDIM_MEMORY_BUDGET` gives another number of bytes (a plain
//! integer, or with a `K`, `M`, `G` or `T` suffix for powers of 1024). A request
//! whose estimated footprint exceeds it is refused with
//! [`InteropError::BudgetExceeded`], which says what was asked, what it needs and
//! the largest value that fits, e.g.
//! `--steps 1000000000 needs 24.0 GB; at most 178956970 fit in the memory budget of 4.3 GB`.
//!
//! The estimates count the arrays whose length is the requested count (8 bytes
//! per `f64`); they are lower bounds on the real footprint, so a request that
//! passes may still need a little more, never orders of magnitude more.
//!
//! # Files
//! `.npy` data sections are bounded by the memory budget (the size is derived
//! from the header before the data is read), `.npy` headers by
//! [`MAX_NPY_HEADER_BYTES`], JSON manifests by [`MAX_JSON_BYTES`].

use super::{InteropError, Result};

/// The default memory budget of one request: 4 GiB.
pub const DEFAULT_MEMORY_BUDGET: u64 = 4 << 30;

/// The environment variable that overrides [`DEFAULT_MEMORY_BUDGET`].
pub const MEMORY_BUDGET_ENV: &str = "DIFFUSION_LOWDIM_MEMORY_BUDGET";

/// The largest JSON file read (model manifests, golden manifests): 64 MiB.
pub const MAX_JSON_BYTES: u64 = 64 << 20;

/// The largest `.npy` header read: 1 MiB (`numpy.load` refuses headers beyond 10 000
/// bytes by default).
pub const MAX_NPY_HEADER_BYTES: u64 = 1 << 20;

/// Bytes per `f64`.
pub const F64_BYTES: u128 = 8;

/// Parses a budget: bytes, optionally with a `K`, `M`, `G`, `T` suffix (powers of 1024).
pub fn parse_budget(s: &str) -> Option<u64> {
    let s = s.trim();
    let (digits, shift) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let shift = match c.to_ascii_uppercase() {
                'K' => 10,
                'M' => 20,
                'G' => 30,
                'T' => 40,
                _ => return None,
            };
            (&s[..i], shift)
        }
        _ => (s, 0),
    };
    let n: u64 = digits.trim().parse().ok()?;
    n.checked_mul(1u64 << shift).filter(|&b| b > 0)
}

/// The memory budget of one request in bytes (see the module docs).
pub fn memory_budget() -> u64 {
    std::env::var(MEMORY_BUDGET_ENV)
        .ok()
        .and_then(|v| parse_budget(&v))
        .unwrap_or(DEFAULT_MEMORY_BUDGET)
}

/// A byte count for people: `8.0 GB`, `512.0 MB`, `17 bytes`.
pub fn human_bytes(bytes: u128) -> String {
    const UNITS: [(&str, f64); 4] = [("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)];
    let b = bytes as f64;
    for (unit, size) in UNITS {
        if b >= size {
            return format!("{:.1} {unit}", b / size);
        }
    }
    format!("{bytes} bytes")
}

/// Checks that `count` units of `bytes_per_unit` bytes (plus `fixed` bytes) fit in the
/// memory budget; `what` names the request for the message (e.g. `"--steps 1000000000"`).
///
/// # Errors
/// [`InteropError::BudgetExceeded`] with the largest count that fits.
pub fn ensure_count_fits(
    what: &str,
    count: u128,
    bytes_per_unit: u128,
    fixed: u128,
) -> Result<()> {
    let budget = memory_budget();
    let needs = count
        .saturating_mul(bytes_per_unit.max(1))
        .saturating_add(fixed);
    if needs <= u128::from(budget) {
        return Ok(());
    }
    let at_most = u128::from(budget).saturating_sub(fixed) / bytes_per_unit.max(1);
    Err(InteropError::BudgetExceeded {
        what: what.to_string(),
        needs: human_bytes(needs),
        at_most: at_most.to_string(),
        budget: human_bytes(u128::from(budget)),
    })
}

/// Checks a product of dimensions (`dims`, e.g. `[B, d, d]`) of `f64` entries against the
/// budget, without overflow; `what` names the request.
///
/// # Errors
/// [`InteropError::BudgetExceeded`].
pub fn ensure_f64s_fit(what: &str, dims: &[u128]) -> Result<()> {
    let n = dims.iter().fold(1u128, |a, &d| a.saturating_mul(d));
    let budget = memory_budget();
    let needs = n.saturating_mul(F64_BYTES);
    if needs <= u128::from(budget) {
        return Ok(());
    }
    Err(InteropError::BudgetExceeded {
        what: what.to_string(),
        needs: human_bytes(needs),
        at_most: format!("{} entries", u128::from(budget) / F64_BYTES),
        budget: human_bytes(u128::from(budget)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_parse_with_suffixes() {
        assert_eq!(parse_budget("1024"), Some(1024));
        assert_eq!(parse_budget("2K"), Some(2048));
        assert_eq!(parse_budget("3g"), Some(3 << 30));
        assert_eq!(parse_budget("0"), None);
        assert_eq!(parse_budget("-1"), None);
        assert_eq!(parse_budget("1X"), None);
        assert_eq!(parse_budget("99999999999T"), None);
    }

    #[test]
    fn a_count_beyond_the_budget_says_what_fits() {
        let e = ensure_count_fits("--steps 1000000000", 1_000_000_000, 8, 0).unwrap_err();
        let m = e.to_string();
        assert!(m.contains("--steps 1000000000 needs 8.0 GB"), "{m}");
        assert!(m.contains("at most 536870912"), "{m}");
        assert!(ensure_count_fits("--steps 10", 10, 8, 0).is_ok());
        assert!(ensure_count_fits("x", u128::MAX, u128::MAX, u128::MAX).is_err());
        assert!(ensure_f64s_fit("x", &[u128::MAX, 2]).is_err());
    }
}
