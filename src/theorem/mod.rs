//! The result registry: one runnable check per result id.
//!
//! Each result (R01, R02, …) has a title, a proof file and a check that draws a
//! random instance from a seeded generator and returns named *measurements*
//! (an error and the tolerance it must not exceed). The `check` command runs
//! every registered result on many seeded instances; the property tests under
//! `tests/` draw instances from proptest strategies and call the same
//! `check` functions. A measurement passes iff `error ≤ tolerance` (NaN fails).
//!
//! Tolerances are derived from the problem (unit roundoff × size × a
//! condition number, or an a-posteriori error estimate of an independent
//! computation), never tuned to pass; each check documents its own.
//!
//! # Examples
//! ```
//! use diffusion_lowdim::theorem::{CheckConfig, run};
//! let report = run(&CheckConfig { seed: 1, cases: 3, only: Some(vec!["R02".into()]) })?;
//! assert_eq!(report.results.len(), 1);
//! assert!(report.passed);
//! # Ok::<(), diffusion_lowdim::Error>(())
//! ```

pub mod instance;
pub mod r01;
pub mod r02;
pub mod r03;
pub mod r04;
pub mod r05;
pub mod r06;
pub mod r07;
pub mod r08;
pub mod r09;
pub mod r10;
pub mod r11;
pub mod r12;
pub mod r13;
pub mod r14;
pub mod r15;
pub mod r16;

use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::rng::{SeededRng, stream};

/// One named comparison within a check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measurement {
    /// Facet name (e.g. `"tweedie_fd"`).
    pub facet: &'static str,
    /// The measured error (non-negative; NaN means failure).
    pub error: f64,
    /// The tolerance it must not exceed.
    pub tolerance: f64,
}

impl Measurement {
    /// Builds a measurement.
    pub fn new(facet: &'static str, error: f64, tolerance: f64) -> Self {
        Self {
            facet,
            error,
            tolerance,
        }
    }

    /// A yes/no fact as a measurement: error 0 if it holds, 1 otherwise (tolerance 0).
    pub fn holds(facet: &'static str, ok: bool) -> Self {
        Self::new(facet, if ok { 0.0 } else { 1.0 }, 0.0)
    }

    /// `error ≤ tolerance` (false for NaN).
    pub fn passed(&self) -> bool {
        self.error <= self.tolerance
    }

    /// `error / tolerance` (∞ for a failed zero-tolerance fact, 0 for a held one).
    pub fn ratio(&self) -> f64 {
        if self.tolerance > 0.0 {
            self.error / self.tolerance
        } else if self.error == 0.0 {
            0.0
        } else {
            f64::INFINITY
        }
    }
}

/// The outcome of one instance.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// The instance, as `Debug` text (reported for the worst case).
    pub instance: String,
    /// Its measurements, or the error its check returned (a failure).
    pub outcome: std::result::Result<Vec<Measurement>, Error>,
}

impl CaseResult {
    /// Runs `check` on `instance`, keeping the instance's text with any error.
    pub fn of<I: core::fmt::Debug>(
        instance: I,
        check: impl FnOnce(&I) -> Result<Vec<Measurement>>,
    ) -> Self {
        Self {
            outcome: check(&instance),
            instance: format!("{instance:?}"),
        }
    }
}

/// A registered result.
#[derive(Debug, Clone, Copy)]
pub struct Theorem {
    /// Result id, e.g. `"R03"`.
    pub id: &'static str,
    /// Short title.
    pub title: &'static str,
    /// Path of its proof, relative to the repository root.
    pub proof: &'static str,
    /// Draws one random instance and checks it.
    pub run_case: fn(&mut SeededRng) -> CaseResult,
}

/// Every result, in id order. Each `rNN.rs` declares its own entry (`rNN::THEOREM`).
pub static REGISTRY: [Theorem; 16] = [
    r01::THEOREM,
    r02::THEOREM,
    r03::THEOREM,
    r04::THEOREM,
    r05::THEOREM,
    r06::THEOREM,
    r07::THEOREM,
    r08::THEOREM,
    r09::THEOREM,
    r10::THEOREM,
    r11::THEOREM,
    r12::THEOREM,
    r13::THEOREM,
    r14::THEOREM,
    r15::THEOREM,
    r16::THEOREM,
];

/// All results, sorted by id.
pub fn registry() -> &'static [Theorem] {
    &REGISTRY
}

/// Looks up a result by id (case-insensitive).
///
/// # Errors
/// [`Error::Unknown`] with the list of known ids.
pub fn find(id: &str) -> Result<&'static Theorem> {
    registry()
        .iter()
        .find(|t| t.id.eq_ignore_ascii_case(id.trim()))
        .ok_or_else(|| Error::Unknown {
            kind: "result id",
            name: id.to_string(),
            known: registry()
                .iter()
                .map(|t| t.id)
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// What to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckConfig {
    /// Master seed; instance `i` of result `R` uses the stream `(seed, R, i)`.
    pub seed: u64,
    /// Instances per result.
    pub cases: usize,
    /// Restrict to these ids (all if `None`).
    pub only: Option<Vec<String>>,
}

impl Default for CheckConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            cases: 200,
            only: None,
        }
    }
}

/// `"pass"` or `"fail"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Every measurement of every instance passed.
    Pass,
    /// Some measurement failed or an instance returned an error.
    Fail,
}

/// Statistics of one facet over all instances.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FacetReport {
    /// Facet name.
    pub name: &'static str,
    /// Instances that measured it.
    pub instances: usize,
    /// How many failed.
    pub failures: usize,
    /// Error at the worst instance (largest error/tolerance).
    pub max_error: f64,
    /// Tolerance at that instance.
    pub tolerance: f64,
    /// `max_error / tolerance` there.
    pub ratio: f64,
}

/// The report of one result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResultReport {
    /// Result id.
    pub id: &'static str,
    /// Title.
    pub title: &'static str,
    /// Pass / fail.
    pub status: Status,
    /// Instances run.
    pub instances: usize,
    /// Instances with at least one failed measurement or an error.
    pub failures: usize,
    /// Error at the worst measurement over all facets and instances.
    pub max_error: f64,
    /// Its tolerance.
    pub tolerance: f64,
    /// Their ratio (≤ 1 means pass).
    pub ratio: f64,
    /// Wall time in seconds.
    pub seconds: f64,
    /// Per-facet statistics.
    pub facets: Vec<FacetReport>,
    /// The worst instance (`Debug` text), to reproduce it.
    pub worst_instance: Option<String>,
    /// Errors returned by instances, with the instance (at most 5 shown).
    pub errors: Vec<String>,
    /// Path of the proof.
    pub proof: &'static str,
}

/// The report of a `check` run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckReport {
    /// `"diffusion-lowdim"`.
    #[serde(rename = "crate")]
    pub crate_name: &'static str,
    /// Crate version.
    pub version: &'static str,
    /// Master seed.
    pub seed: u64,
    /// Instances per result.
    pub cases: usize,
    /// True iff every result passed.
    pub passed: bool,
    /// One entry per result.
    pub results: Vec<ResultReport>,
}

/// Runs `cases` instances of one result (in parallel, bit-identically for any thread count).
pub fn run_theorem(t: &Theorem, seed: u64, cases: usize) -> ResultReport {
    run_cases(t, seed, cases, t.run_case)
}

/// Runs `cases` instances of result `t` with another case function — typically the same
/// check run on another implementation, `|rng| r11::run_case_with(rng, &mine)` — on the
/// same instance streams `(seed, t.id, i)` as [`run_theorem`].
///
/// This is how the planted-defect suite (`tests/suite/planted/`) shows that each check fails on a
/// wrong implementation, and how a user checks their own implementation of a result's
/// [`Subject`](r11::Subject) trait: every `rNN` module has a `Subject` trait whose default
/// methods call this crate ([`Reference`]) and a `run_case_with`.
///
/// # Examples
/// ```
/// use diffusion_lowdim::theorem::{Reference, find, r02, run_cases};
/// let report = run_cases(find("R02")?, 1, 3, |rng| r02::run_case_with(rng, &Reference));
/// assert!(report.failures == 0);
/// # Ok::<(), diffusion_lowdim::Error>(())
/// ```
pub fn run_cases(
    t: &Theorem,
    seed: u64,
    cases: usize,
    case: impl Fn(&mut SeededRng) -> CaseResult + Sync,
) -> ResultReport {
    let start = Instant::now();
    let outcomes: Vec<CaseResult> = (0..cases as u64)
        .into_par_iter()
        .map(|i| {
            let mut rng = stream(seed, t.id, i);
            case(&mut rng)
        })
        .collect();
    summarize(t, outcomes, start.elapsed().as_secs_f64())
}

/// The implementation the `check` command certifies: this crate's.
///
/// Every result module `rNN` declares a `Subject` trait — the computations its check
/// exercises — whose default methods call this crate, and implements it for `Reference`
/// with no overrides. A deliberately wrong implementation overrides one method; a user's
/// implementation overrides all of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reference;

impl ResultReport {
    /// Names of the facets that failed on at least one instance, with `"error"` first if
    /// some instance returned an error instead of measurements.
    pub fn failed_facets(&self) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = Vec::new();
        if !self.errors.is_empty() {
            out.push("error");
        }
        out.extend(
            self.facets
                .iter()
                .filter(|f| f.failures > 0)
                .map(|f| f.name),
        );
        out
    }
}

fn summarize(t: &Theorem, outcomes: Vec<CaseResult>, seconds: f64) -> ResultReport {
    let mut facets: Vec<FacetReport> = Vec::new();
    let mut failures = 0;
    let mut errors = Vec::new();
    let mut worst: Option<(f64, f64, f64, String)> = None; // (ratio, err, tol, instance)
    let instances = outcomes.len();
    for case in outcomes {
        match &case.outcome {
            Err(e) => {
                failures += 1;
                if errors.len() < 5 {
                    errors.push(format!("{e} (instance: {})", case.instance));
                }
            }
            Ok(measurements) => {
                let mut failed = false;
                for m in measurements {
                    // A failure always ranks above every pass (NaN errors or
                    // tolerances included).
                    let ratio = if !m.passed() && (m.ratio().is_nan() || m.ratio() <= 1.0) {
                        f64::INFINITY
                    } else {
                        m.ratio()
                    };
                    if !m.passed() {
                        failed = true;
                    }
                    let f = match facets.iter_mut().find(|f| f.name == m.facet) {
                        Some(f) => f,
                        None => {
                            facets.push(FacetReport {
                                name: m.facet,
                                instances: 0,
                                failures: 0,
                                max_error: 0.0,
                                tolerance: m.tolerance,
                                ratio: f64::NEG_INFINITY,
                            });
                            facets.last_mut().expect("just pushed")
                        }
                    };
                    f.instances += 1;
                    if !m.passed() {
                        f.failures += 1;
                    }
                    if ratio > f.ratio {
                        f.ratio = ratio;
                        f.max_error = m.error;
                        f.tolerance = m.tolerance;
                    }
                    if worst.as_ref().is_none_or(|w| ratio > w.0) {
                        worst = Some((ratio, m.error, m.tolerance, case.instance.clone()));
                    }
                }
                if failed {
                    failures += 1;
                }
            }
        }
    }
    for f in &mut facets {
        if f.ratio == f64::NEG_INFINITY {
            f.ratio = 0.0;
        }
    }
    let (ratio, max_error, tolerance, worst_instance) = match worst {
        Some((r, e, t, i)) => (r, e, t, Some(i)),
        None => (0.0, 0.0, 0.0, None),
    };
    ResultReport {
        id: t.id,
        title: t.title,
        status: if failures == 0 && instances > 0 {
            Status::Pass
        } else {
            Status::Fail
        },
        instances,
        failures,
        max_error,
        tolerance,
        ratio,
        seconds,
        facets,
        worst_instance,
        errors,
        proof: t.proof,
    }
}

/// Runs the configured results.
///
/// # Errors
/// [`Error::Unknown`] for an unknown id in `only`; [`Error::InvalidCount`] for `cases = 0`.
pub fn run(config: &CheckConfig) -> Result<CheckReport> {
    if config.cases == 0 {
        return Err(Error::InvalidCount {
            name: "cases",
            value: 0,
            requirement: "at least 1",
        });
    }
    let selected: Vec<&Theorem> = match &config.only {
        None => registry().iter().collect(),
        Some(ids) => ids.iter().map(|id| find(id)).collect::<Result<_>>()?,
    };
    let results: Vec<ResultReport> = selected
        .into_iter()
        .map(|t| run_theorem(t, config.seed, config.cases))
        .collect();
    Ok(CheckReport {
        crate_name: "diffusion-lowdim",
        version: env!("CARGO_PKG_VERSION"),
        seed: config.seed,
        cases: config.cases,
        passed: results.iter().all(|r| r.status == Status::Pass),
        results,
    })
}

/// Helper for checks: relative error `‖a − b‖ / scale` (0 if both vanish).
pub(crate) fn rel(err: f64, scale: f64) -> f64 {
    if err == 0.0 { 0.0 } else { err / scale }
}
