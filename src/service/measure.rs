//! `diffusion-lowdim measure`: a trained network's samples against the golden reference
//! (the PFD paper's teacher–student protocol, without writing Rust).
//!
//! A golden suite ([`crate::golden`]) holds a reference MoLRG $p_\star$, a bank of noises
//! $x_T$ ($M \times d$, VE with $T = 80$), the flow outputs $\Phi_{p_\star}(x_T)$ and, for
//! training sets of a few sizes $N$, the flow outputs $\Phi_{p_{\mathrm{emp}}}(x_T)$ of their
//! empirical distributions (manifest field `measure`). A researcher trains a network on
//! a training set, runs their own sampler from the *same* noises (row $m$ of the samples
//! comes from row $m$ of the bank) and measures, with features $h$ (identity, or
//! $h(x) = Wx$ from a `.npy` matrix):
//!
//! | metric | definition | interval |
//! |---|---|---|
//! | $E_{\mathrm{gen}}$ | $\mathrm{PFD}(p_\theta, p_\star) = (\frac1M\sum_m\|h(s_m) - h(\Phi_{p_\star}(x_T^{(m)}))\|^2)^{1/2}$ | CLT on the paired squared distances (R11) |
//! | $E_{\mathrm{mem}}$ | the same against $\Phi_{p_{\mathrm{emp}}}(x_T^{(m)})$ | CLT |
//! | RP | $\frac1M\#\{m: \cos(h(s_m), h(\Phi_{p_\star}(x_T^{(m)}))) > \tau\}$ | Clopper–Pearson (R13) |
//! | GL | $\frac1M\#\{m: \max_i\cos(h(s_m), h(x^{(i)})) \le \tau\}$ over the training set | Clopper–Pearson |
//!
//! With a training set of the user's own (`--train`), $\Phi_{p_{\mathrm{emp}}}(x_T)$ is
//! computed here: the crate's Dormand–Prince (rtol $10^{-6}$) on the bank over the
//! suite's grid, then the exact posterior mean at its last level (the flow of an
//! empirical distribution ends at a training point).
//!
//! Samples of a finite-step sampler with the exact denoiser differ from $\Phi_{p_\star}$
//! by the sampler's discretization error, so their $E_{\mathrm{gen}}$ is that error, not 0.

use std::path::PathBuf;

use faer::Mat;
use serde::Serialize;

use super::eval::{FlowSpec, GridSpec, PfdSummary, SolverSpec, flow_of, read_features};
use crate::golden::suite::Suite;
use crate::golden::{MeasureEntry, TrainingSetEntry};
use crate::io::model_file::Model;
use crate::io::npy;
use crate::io::{InteropError, Result};
use crate::metric::{FeatureMap, Identity, LinearFeatures, PfdEstimate, Proportion, Scores};
use crate::model::Empirical;

/// Which training set $E_{\mathrm{mem}}$ and GL refer to.
#[derive(Debug, Clone, PartialEq)]
pub enum TrainingSet {
    /// None: only $E_{\mathrm{gen}}$ and RP are measured.
    None,
    /// The golden training set with $N$ points.
    Golden(usize),
    /// A training set of the user's own, `(N, d)`.
    File(PathBuf),
}

/// What to measure.
#[derive(Debug, Clone)]
pub struct MeasureConfig {
    /// The samples, `(M, d)`, row $m$ from noise $m$ of the bank.
    pub samples: PathBuf,
    /// The golden suite directory.
    pub golden: PathBuf,
    /// The training set.
    pub training: TrainingSet,
    /// A linear feature matrix $W$ `(k, d)` (`None`: identity).
    pub features: Option<PathBuf>,
    /// Confidence level of every interval.
    pub confidence: f64,
    /// The similarity threshold $\tau$ of RP and GL.
    pub threshold: f64,
}

impl MeasureConfig {
    /// Defaults: no training set, identity features, 95% intervals, $\tau = 0.6$.
    pub fn new(samples: impl Into<PathBuf>, golden: impl Into<PathBuf>) -> Self {
        Self {
            samples: samples.into(),
            golden: golden.into(),
            training: TrainingSet::None,
            features: None,
            confidence: crate::metric::DEFAULT_CONFIDENCE,
            threshold: crate::metric::DEFAULT_THRESHOLD,
        }
    }
}

/// A proportion as written to reports.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ProportionSummary {
    /// $k/n$.
    pub estimate: f64,
    /// $k$.
    pub successes: usize,
    /// $n$.
    pub trials: usize,
    /// The Clopper–Pearson interval.
    pub interval: (f64, f64),
    /// Its confidence level.
    pub confidence: f64,
}

impl From<Proportion> for ProportionSummary {
    fn from(p: Proportion) -> Self {
        Self {
            estimate: p.estimate,
            successes: p.successes,
            trials: p.trials,
            interval: p.interval,
            confidence: p.confidence,
        }
    }
}

/// The feature map used.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeaturesEntry {
    /// `identity` or `linear`.
    pub kind: &'static str,
    /// The matrix file (linear features).
    pub file: Option<PathBuf>,
    /// Its shape `(k, d)`.
    pub shape: Option<(usize, usize)>,
}

/// The training set a report refers to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainingReport {
    /// `golden` or `file`.
    pub source: &'static str,
    /// Number of points $N$.
    pub n: usize,
    /// The points' file.
    pub points: PathBuf,
    /// Where $\Phi_{p_{\mathrm{emp}}}(x_T)$ comes from.
    pub flow: String,
}

/// The result of [`measure`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MeasureReport {
    /// `diffusion-lowdim/measure-report`.
    pub format: &'static str,
    /// The crate version that measured.
    pub crate_version: &'static str,
    /// The golden suite.
    pub golden: PathBuf,
    /// The crate version that exported it.
    pub golden_crate_version: String,
    /// Its seed.
    pub golden_seed: u64,
    /// The samples file.
    pub samples: PathBuf,
    /// Number of noises $M$.
    pub noises: usize,
    /// Dimension $d$.
    pub dim: usize,
    /// The features.
    pub features: FeaturesEntry,
    /// The threshold $\tau$ of RP and GL.
    pub threshold: f64,
    /// The reference model file (relative to the suite).
    pub reference_model: String,
    /// How accurate the reference flow outputs are.
    pub reference_accuracy: String,
    /// The training set, if any.
    pub training_set: Option<TrainingReport>,
    /// $E_{\mathrm{gen}} = \mathrm{PFD}(p_\theta, p_\star)$.
    pub e_gen: PfdSummary,
    /// $E_{\mathrm{mem}} = \mathrm{PFD}(p_\theta, p_{\mathrm{emp}})$ (with a training set).
    pub e_mem: Option<PfdSummary>,
    /// RP against the reference flow outputs.
    pub rp: ProportionSummary,
    /// GL against the training set (with a training set).
    pub gl: Option<ProportionSummary>,
}

/// Reads a golden array of shape `(rows, d)` (finite), as `d × rows`; `rows`, when
/// given, is the required number of rows (the bank's $M$).
fn golden_batch(
    suite: &Suite,
    field: &str,
    rel: &str,
    what: &'static str,
    d: Option<usize>,
    rows: Option<(usize, &'static str)>,
) -> Result<Mat<f64>> {
    let (a, path) = suite.array(field, rel, None)?;
    let m = a.to_batch(&path, what, d)?;
    if let Some((n, reason)) = rows {
        a.expect_axis(&path, what, 0, n, reason)?;
    }
    Ok(m)
}

/// A library error of a computation on a user's file, with the file and its flag.
fn on_file(e: InteropError, path: &std::path::Path, flag: &'static str) -> InteropError {
    match e {
        InteropError::Lib(source) => InteropError::InputFile {
            path: path.to_path_buf(),
            flag,
            source,
        },
        other => other,
    }
}

/// Column-wise squared distances of two feature batches.
fn squared_distances(a: &Mat<f64>, b: &Mat<f64>) -> Vec<f64> {
    (0..a.ncols())
        .map(|j| {
            (0..a.nrows())
                .map(|i| (a[(i, j)] - b[(i, j)]).powi(2))
                .sum()
        })
        .collect()
}

/// The flow outputs of a training set's empirical distribution on the bank, computed
/// with the crate (see the module docs).
///
/// # Errors
/// The flow's errors.
pub fn empirical_flow(points: &Mat<f64>, noises: &Mat<f64>, m: &MeasureEntry) -> Result<Mat<f64>> {
    let num = |k: &str, default: f64| m.flow.get(k).and_then(|v| v.as_f64()).unwrap_or(default);
    let spec = FlowSpec {
        schedule: m
            .flow
            .get("schedule")
            .and_then(|v| v.as_str())
            .unwrap_or("ve")
            .to_string(),
        solver: SolverSpec::DormandPrince {
            rtol: 1e-6,
            atol: 1e-8,
        },
        grid: GridSpec::Karras {
            steps: 2,
            sigma_min: num("sigma_min", crate::flow::EDM_SIGMA_MIN),
            sigma_max: num("sigma_max", crate::flow::EDM_SIGMA_MAX),
            rho: num("rho", crate::flow::EDM_RHO),
        },
    };
    let model = Model::Empirical(Empirical::new(points.as_ref())?);
    Ok(flow_of(&model, noises.as_ref(), &spec)?.x)
}

/// Measures samples against a golden suite's reference (see the module docs).
///
/// # Errors
/// Unusable input, naming the file: the suite's manifest and arrays
/// ([`InteropError::InvalidGolden`] for a suite without a `measure` reference or an
/// unknown `--n`), the samples (`.npy` errors, NaN/inf, a shape other than the bank's
/// `(M, d)`), the training set and the feature matrix (`.npy` errors, width $\ne d$).
pub fn measure(c: &MeasureConfig) -> Result<MeasureReport> {
    let suite = Suite::open(&c.golden)?;
    let manifest = suite.manifest().clone();
    let Some(m) = manifest.measure.clone() else {
        return Err(InteropError::InvalidGolden {
            path: c.golden.join("manifest.json"),
            problem: "this golden suite has no measure reference (field \"measure\"); export it \
                      with this version",
            detail: manifest.crate_version.clone(),
        });
    };
    let noises = golden_batch(
        &suite,
        "measure.noises",
        &m.noises,
        "noise bank",
        None,
        None,
    )?;
    let (d, bank) = (noises.nrows(), noises.ncols());
    const ONE_PER_NOISE: &str = "the number of noises M of the golden noise bank";
    let reference = golden_batch(
        &suite,
        "measure.reference_flow",
        &m.reference_flow,
        "reference flow",
        Some(d),
        Some((bank, ONE_PER_NOISE)),
    )?;
    let samples_arr = npy::read_finite(&c.samples)?;
    let samples = samples_arr.to_batch(&c.samples, "samples", Some(d))?;
    samples_arr.expect_axis(
        &c.samples,
        "samples",
        0,
        bank,
        "the number of noises M of the golden noise bank (one sample per noise, in its order)",
    )?;
    let linear: Option<LinearFeatures> = match &c.features {
        Some(p) => Some(read_features(p, d)?),
        None => None,
    };
    let h: &dyn FeatureMap = match &linear {
        Some(w) => w,
        None => &Identity,
    };
    let scores = Scores::new()
        .with_feature(h)
        .with_threshold(c.threshold)?
        .with_confidence(c.confidence)?;
    let pfd = |other: &Mat<f64>| -> Result<PfdSummary> {
        let (fs, fo) = (h.features(samples.as_ref())?, h.features(other.as_ref())?);
        let e = PfdEstimate::from_squared_distances(squared_distances(&fs, &fo), c.confidence)?;
        Ok(PfdSummary::from(&e))
    };
    let e_gen = pfd(&reference).map_err(|e| on_file(e, &c.samples, "--samples"))?;
    let rp = scores
        .reproducibility(samples.as_ref(), reference.as_ref())
        .map_err(|e| on_file(e.into(), &c.samples, "--samples"))?;
    let training: Option<(TrainingReport, Mat<f64>, Mat<f64>)> = match &c.training {
        TrainingSet::None => None,
        TrainingSet::Golden(n) => {
            let t: &TrainingSetEntry =
                m.training_sets.iter().find(|t| t.n == *n).ok_or_else(|| {
                    InteropError::InvalidGolden {
                        path: c.golden.join("manifest.json"),
                        problem: "no golden training set of that size (--n); sizes available",
                        detail: m
                            .training_sets
                            .iter()
                            .map(|t| t.n.to_string())
                            .collect::<Vec<_>>()
                            .join(", "),
                    }
                })?;
            let points = golden_batch(
                &suite,
                "measure.training_sets.points",
                &t.points,
                "training set",
                Some(d),
                None,
            )?;
            let flow = golden_batch(
                &suite,
                "measure.training_sets.flow",
                &t.flow,
                "empirical flow",
                Some(d),
                Some((bank, ONE_PER_NOISE)),
            )?;
            Some((
                TrainingReport {
                    source: "golden",
                    n: *n,
                    points: t.points.clone().into(),
                    flow: format!("golden case {}", t.case),
                },
                points,
                flow,
            ))
        }
        TrainingSet::File(p) => {
            let points = npy::read_finite(p)?.to_batch(p, "training set", Some(d))?;
            let flow =
                empirical_flow(&points, &noises, &m).map_err(|e| on_file(e, p, "--train"))?;
            Some((
                TrainingReport {
                    source: "file",
                    n: points.ncols(),
                    points: p.clone(),
                    flow: "computed: Dormand-Prince (rtol 1e-6) on the noise bank over the \
                           suite's grid, then the exact posterior mean at its last level"
                        .into(),
                },
                points,
                flow,
            ))
        }
    };
    let (training_set, e_mem, gl) = match training {
        None => (None, None, None),
        Some((report, points, flow)) => (
            Some(report),
            Some(pfd(&flow).map_err(|e| on_file(e, &c.samples, "--samples"))?),
            Some(
                scores
                    .generalization(samples.as_ref(), points.as_ref())
                    .map_err(|e| on_file(e.into(), &c.samples, "--samples"))?
                    .into(),
            ),
        ),
    };
    Ok(MeasureReport {
        format: "diffusion-lowdim/measure-report",
        crate_version: env!("CARGO_PKG_VERSION"),
        golden: c.golden.clone(),
        golden_crate_version: manifest.crate_version,
        golden_seed: manifest.seed,
        samples: c.samples.clone(),
        noises: bank,
        dim: d,
        features: match (&c.features, &linear) {
            (Some(p), Some(w)) => FeaturesEntry {
                kind: "linear",
                file: Some(p.clone()),
                shape: Some((w.matrix().nrows(), w.matrix().ncols())),
            },
            _ => FeaturesEntry {
                kind: "identity",
                file: None,
                shape: None,
            },
        },
        threshold: c.threshold,
        reference_model: m.reference_model,
        reference_accuracy: m.accuracy,
        training_set,
        e_gen,
        e_mem,
        rp: rp.into(),
        gl,
    })
}

impl MeasureReport {
    /// A plain-text table of the four metrics with their intervals.
    pub fn table(&self) -> String {
        let features = match (&self.features.file, self.features.shape) {
            (Some(p), Some((k, d))) => {
                format!("features h(x) = W x, W {k} x {d} from {}", p.display())
            }
            _ => "identity features".to_string(),
        };
        let conf = 100.0 * self.e_gen.confidence;
        let mut s = format!(
            "diffusion-lowdim {} measure  (golden {} seed {}; M = {} noises, d = {}; {features}; \
             {conf:.0}% intervals)\n",
            self.crate_version, self.golden_crate_version, self.golden_seed, self.noises, self.dim
        );
        s.push_str(&format!(
            "{:<7} {:>11}  {:<27} {}\n",
            "metric", "estimate", "interval", "meaning"
        ));
        let pfd_line = |name: &str, e: &PfdSummary, what: &str| {
            let interval = format!("[{:.4e}, {:.4e}]", e.interval.0, e.interval.1);
            format!("{name:<7} {:>11.4e}  {interval:<27} {what}\n", e.estimate)
        };
        let prop_line = |name: &str, p: &ProportionSummary, what: &str| {
            let interval = format!("[{:.4}, {:.4}]", p.interval.0, p.interval.1);
            format!(
                "{name:<7} {:>11.4}  {interval:<27} {what} ({}/{})\n",
                p.estimate, p.successes, p.trials
            )
        };
        s.push_str(&pfd_line(
            "E_gen",
            &self.e_gen,
            "PFD(samples, reference flow Phi_p*(x_T))",
        ));
        let tau = self.threshold;
        match (&self.training_set, &self.e_mem, &self.gl) {
            (Some(t), Some(e_mem), Some(gl)) => {
                s.push_str(&pfd_line(
                    "E_mem",
                    e_mem,
                    &format!("PFD(samples, empirical flow Phi_p_emp(x_T)), N = {}", t.n),
                ));
                s.push_str(&prop_line(
                    "RP",
                    &self.rp,
                    &format!("P(cos(sample, reference) > {tau})"),
                ));
                s.push_str(&prop_line(
                    "GL",
                    gl,
                    &format!("P(max cos(sample, training set) <= {tau}), N = {}", t.n),
                ));
                s.push_str(&format!(
                    "training set: {} ({}, N = {}); empirical flow: {}\n",
                    t.points.display(),
                    t.source,
                    t.n,
                    t.flow
                ));
            }
            _ => {
                s.push_str(&prop_line(
                    "RP",
                    &self.rp,
                    &format!("P(cos(sample, reference) > {tau})"),
                ));
                s.push_str(
                    "E_mem and GL need a training set: --n N (a golden training set) or --train X.npy\n",
                );
            }
        }
        s.push_str(&format!("reference: {}\n", self.reference_accuracy));
        s
    }
}
