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
//! `--steps 1000000000 needs 22.4 GiB, more than the memory budget of 4.0 GiB; the most
//! that fits: --steps 178956968`.
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

/// A byte count for people, in binary units: `8.0 GiB`, `512.0 MiB`, `17 bytes`.
pub fn human_bytes(bytes: u128) -> String {
    const UNITS: [(&str, u32); 5] = [
        ("EiB", 60),
        ("TiB", 40),
        ("GiB", 30),
        ("MiB", 20),
        ("KiB", 10),
    ];
    let b = bytes as f64;
    if bytes >= 1u128 << 70 {
        return format!("{b:.1e} bytes");
    }
    for (unit, shift) in UNITS {
        let size = (1u128 << shift) as f64;
        if b >= size {
            return format!("{:.1} {unit}", b / size);
        }
    }
    format!("{bytes} bytes")
}

/// A number for messages: plain when moderate, in scientific notation when huge or tiny.
pub fn human_number(x: f64) -> String {
    if x != 0.0 && !(1e-4..1e15).contains(&x.abs()) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

/// Checks that a request for `flag value` fits in the memory budget: it holds
/// `value + extra` units of `bytes_per_unit` bytes, plus `fixed` bytes; `note` is
/// appended to the request in the message (e.g. `" (d = 4)"`).
///
/// # Errors
/// [`InteropError::BudgetExceeded`] naming the flag, what it needs and the largest
/// value that fits.
pub fn ensure_count_fits(
    flag: &str,
    value: u128,
    extra: u128,
    bytes_per_unit: u128,
    fixed: u128,
    note: &str,
) -> Result<()> {
    let budget = memory_budget();
    let per = bytes_per_unit.max(1);
    let needs = value
        .saturating_add(extra)
        .saturating_mul(per)
        .saturating_add(fixed);
    if needs <= u128::from(budget) {
        return Ok(());
    }
    let at_most = (u128::from(budget).saturating_sub(fixed) / per).saturating_sub(extra);
    Err(InteropError::BudgetExceeded {
        what: format!("{flag} {value}{note}"),
        needs: human_bytes(needs),
        at_most: format!("{flag} {at_most}{note}"),
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
        at_most: format!("{} float64 entries", u128::from(budget) / F64_BYTES),
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
        let e = ensure_count_fits("--steps", 1 << 30, 0, 8, 0, "").unwrap_err();
        let m = e.to_string();
        assert!(m.contains("--steps 1073741824 needs 8.0 GiB"), "{m}");
        assert!(m.contains("the most that fits: --steps 536870912"), "{m}");
        assert!(ensure_count_fits("--steps", 10, 1, 8, 0, "").is_ok());
        assert!(ensure_count_fits("x", u128::MAX, u128::MAX, u128::MAX, u128::MAX, "").is_err());
        assert_eq!(human_number(1e300), "1e300");
        assert_eq!(human_number(0.25), "0.25");
        assert!(ensure_f64s_fit("x", &[u128::MAX, 2]).is_err());
    }
}
