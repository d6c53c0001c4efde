//! R11: the probability flow distance (PFD): the Gaussian closed forms, the estimator and its
//! interval, and the PFD of a solver, each against an independent derivation.
//!
//! Every instance draws two Gaussians in dimension $d \le 8$ — either subspace Gaussians
//! $\mathcal N(0, U_jU_j^\top)$ of ranks $r_1, r_2$ or general ones (means, variances in
//! $[0.1, 10]$) — a noise scale $T \in [0.5, 80]$ and, half of the time, a random linear
//! feature map $h(x) = Wx$ ($W$ is $k \times d$ Gaussian, $k \le d$). The implementation under
//! test is a [`Subject`].
//!
//! # The oracle
//! The check derives the exact flow from the probability-flow ODE itself, not from the
//! library's flow matrices: in VE, $\dot x = t\,(\Sigma + t^2I)^{-1}(x - \mu)$, so along an
//! eigenvector $v_i$ of $\Sigma = V\Lambda V^\top$ the coordinate $y_i = v_i^\top(x - \mu)$ solves
//! $\dot y_i = t\,y_i/(\lambda_i + t^2)$, i.e. $y_i(t) \propto \sqrt{\lambda_i + t^2}$, and the
//! component outside $\operatorname{span}V$ scales like $t$ (it vanishes at $t = 0$). Hence
//! $\Phi_p(x) = \mu_p + \sum_i f_i v_iv_i^\top(x - \mu_p)$, $f_i = \sqrt{\lambda_i/(\lambda_i + T^2)}$, and for
//! $x = Tz$: $\Phi_p - \Phi_q = c + T(A_p - A_q)z$ with the eigen-sum trace form
//! $$\mathrm{PFD}^2 = \|Wc\|^2 + T^2\Big(\sum_i f_i^2\|Wv_i\|^2 + \sum_j g_j^2\|Wu_j\|^2 -
//!   2\sum_{i,j} f_ig_j\,(v_i^\top u_j)\,(Wv_i)^\top(Wu_j)\Big),$$
//! $c = (\mu_p - \mu_q) - \sum_i f_iv_i v_i^\top\mu_p + \sum_j g_ju_ju_j^\top\mu_q$ ($u_j, g_j$ those of $q$). Its
//! rounding is bounded by $\tau = 16\gamma_{4d+2k}\|W\|_F^2\big(T(\|f\| + \|g\|) + 2(\|\mu_p\| + \|\mu_q\|)\big)^2$ on
//! the squared scale (each term is a sum of at most $d^2$ products of factors bounded by that scale).
//!
//! Facets (all comparisons on the squared scale, $|a^2 - b^2|$):
//! - `closed_form`: [`Subject::pfd_gaussians`] against the oracle, within $\tau$.
//! - `closed_form_subspace` (subspace instances, identity features): [`Subject::pfd_subspaces`]
//!   against the oracle, within $\tau$.
//! - `estimator_mean`: the estimate ([`Subject::estimate`]) on $N = RM$ noises through the
//!   oracle's exact flows against the oracle's $\mathrm{PFD}^2$. With $B = TW(A_p - A_q)$, $b = Wc$,
//!   $Q = B^\top B$: $\delta = \|b + Bz\|^2$ and $\delta - \mathbb E\delta = (z^\top Qz - \operatorname{tr}Q) + 2b^\top Bz$. By
//!   Laurent & Massart (2000, Lemma 1) for the quadratic part (applied to the $N$ samples as one
//!   block-diagonal form) and the Gaussian tail for the linear part, with $t = \ln(4/\alpha)$,
//!   $$\Big|\bar\delta_N - \mathrm{PFD}^2\Big| \le \frac{2\sqrt{tN\operatorname{tr}Q^2} + 2\|Q\|_Ft + 2\sqrt{2tN}\,\|B^\top b\|}{N}$$
//!   with probability $\ge 1 - \alpha$; $\alpha = 10^{-8}$ (`ESTIMATOR_LEVEL`), plus the rounding
//!   $16\gamma_{N+4d+2k}(1 + d)\,s^2$ of the $N$-term mean ($s^2$ the scale of $\tau$). False-failure
//!   rate $\le 10^{-8}$ per instance (the seed is fixed, so the outcome is deterministic). Power:
//!   an estimator reporting $c\cdot\widehat{\mathrm{PFD}}$ fails with probability $\ge 1 - 10^{-8}$ whenever
//!   $|c^2 - 1|\,\mathrm{PFD}^2$ exceeds twice that bound plus the rounding; with $N = 102\,400$ the
//!   bound is at most $2\sqrt{t/N}\approx 2.8\%$ of $\mathrm{PFD}^2$ plus $O(t/N)$ terms, so a factor 2, a
//!   missing square root ($c^2 = \mathrm{PFD}^2$, caught unless $|\mathrm{PFD}^2 - 1| \lesssim 6\%$) or unpaired
//!   noises (adds $2T^2\operatorname{tr}(WA_pA_q^\top W^\top)$) are caught.
//! - `coverage`: $R = 400$ intervals, each from $M = 256$ of those noises. $K$ of them cover the
//!   oracle (widened by $\tau$ and the interval's own rounding). The CLT interval for a mean is
//!   not exact: by the Edgeworth expansion of the studentized mean (Hall 1992, §2.6) the
//!   two-sided coverage error is $-2q_2(z)\varphi(z)/M + O(M^{-2})$, largest for the most skewed
//!   squared distance, a central $\chi^2_1$, where it is $2.18/M = 0.0085$ at $M = 256$. The test
//!   is one-sided at level $10^{-6}$ against a coverage of $p_0 = 0.92$: it fails iff
//!   $\mathbb P(\mathrm{Bin}(R, p_0) \le K) < 10^{-6}$. False-failure rate $\le 10^{-6}$ per instance
//!   whenever the true coverage is $\ge p_0$. Reported as $-\log_{10}$ of that probability,
//!   tolerance 6. Power per instance (exact binomial; the test rejects for $K \le 338$): $0.41$
//!   against a true coverage of $0.85$, $0.99$ against $0.80$, $0.0037$ against $0.89$ (so a 90%
//!   interval is caught on one of 200 instances with probability $0.53$ only; an interval at
//!   $z = 1$, coverage $\approx 0.68$, is caught on every instance).
//! - `solver_error`: for each of $p, q$, the PFD between the solver's flow
//!   ([`Subject::solver`] on the 18-step EDM grid from $T$, then the clean end) and the
//!   oracle's exact flow, on $M$ noises, is at most Heun's discretization error computed a priori:
//!   Heun's step applied to the scalar ODE $\dot y = \varphi_i(t)y$, $\varphi_i(t) = t/(\lambda_i + t^2)$, multiplies
//!   $y_i$ by $1 + \frac h2(\varphi_i(t) + \varphi_i(s)(1 + h\varphi_i(t)))$ per step $t \to s$ ($h = s - t$), and the
//!   clean end (the denoiser at $\sigma_{\min}$) by $\lambda_i/(\lambda_i + \sigma_{\min}^2)$ (0 outside
//!   $\operatorname{span}V$), so Heun's map is $\mu + \sum_i \hat g_iv_iv_i^\top(x - \mu)$ and its deviation from the
//!   exact flow on the noises is $e_p = \mathrm{RMS}_m\|W\sum_i(\hat g_i - f_i)v_iv_i^\top(x^{(m)} - \mu)\|$. Tolerance
//!   $e_p$ plus the solver's rounding $\gamma_{19(8d+16)}\|W\|_F(\mathrm{RMS}\|x\| + 2\|\mu\|)$. Euler (order 1) exceeds it. For
//!   Heun itself the ratio is 1 up to rounding (the bound is Heun's own deviation): the facet
//!   asserts that the solver is no less accurate than Heun on these Gaussians.
//! - `solver_pfd`: the PFD between the two solver flows against the PFD between the exact flows
//!   on the same noises: $|\widehat{\mathrm{PFD}}_{\mathrm{solver}} - \widehat{\mathrm{PFD}}_{\mathrm{exact}}| \le e_p + e_q$ (Minkowski in
//!   $L^2$ of the empirical measure, with the a-priori $e_p, e_q$ above, not the solver's own
//!   deviations) plus both rounding terms.

use faer::{Mat, MatRef};
use rand::RngExt;

use super::instance::random_gaussian;
use super::instance::{BasisKind, log_uniform, orthogonal_bases};
use super::{CaseResult, Measurement, Reference, Theorem};
use crate::error::Result;
use crate::flow::{FlowMap, Heun, Sampler, Solver, TimeGrid};
use crate::metric::{FeatureMap, LinearFeatures, Pfd, PfdEstimate, binomial_lower_tail};
use crate::model::Gaussian;
use crate::prec::gamma;
use crate::rng::{SeededRng, seeded, standard_normal};
use crate::schedule::Ve;

/// Repetitions of the coverage facet.
pub const REPETITIONS: usize = 400;
/// Noises per repetition.
pub const SAMPLES: usize = 256;
/// The coverage the interval is tested against (see the module docs).
pub const COVERAGE_FLOOR: f64 = 0.92;
/// Level of the one-sided coverage test.
pub const TEST_LEVEL: f64 = 1e-6;
/// False-failure rate $\alpha$ of the `estimator_mean` facet.
pub const ESTIMATOR_LEVEL: f64 = 1e-8;
/// Steps of the EDM grid of the solver facets.
pub const SOLVER_STEPS: usize = 18;

/// The computations the R11 check exercises, as the implementation under test.
///
/// The default methods call this crate; [`Reference`] overrides none. The oracle (the exact
/// flows and the trace form of the PFD, derived from the ODE in the module docs) stays in the
/// check.
pub trait Subject: Sync {
    /// The exact PFD between two Gaussians in VE from noise scale $T$, features $h(x) = Wx$
    /// ($W = I$ for `None`): $\big(\|Wc\|^2 + T^2\|W(A_p - A_q)\|_F^2\big)^{1/2}$ (module docs).
    ///
    /// # Errors
    /// As [`crate::metric::pfd_gaussians`].
    fn pfd_gaussians(
        &self,
        p: &Gaussian,
        q: &Gaussian,
        t_max: f64,
        feature: Option<&LinearFeatures>,
    ) -> Result<f64> {
        crate::metric::pfd_gaussians(p, q, t_max, feature)
    }

    /// The exact PFD between $\mathcal N(0, U_1U_1^\top)$ and $\mathcal N(0, U_2U_2^\top)$ in VE:
    /// $\frac{T}{\sqrt{1 + T^2}}\|U_1U_1^\top - U_2U_2^\top\|_F$.
    ///
    /// # Errors
    /// As [`crate::metric::pfd_subspaces`].
    fn pfd_subspaces(&self, u1: MatRef<'_, f64>, u2: MatRef<'_, f64>, t_max: f64) -> Result<f64> {
        crate::metric::pfd_subspaces(u1, u2, t_max)
    }

    /// The paired PFD estimate of `p` and `q` on the noises (columns $x^{(m)}$):
    /// $\widehat{\mathrm{PFD}} = (\frac1M\sum_m\|h\Phi_p(x^{(m)}) - h\Phi_q(x^{(m)})\|^2)^{1/2}$ and the
    /// interval $[\sqrt{\max(0, \bar\delta - zs_\delta/\sqrt M)}, \sqrt{\bar\delta + zs_\delta/\sqrt M}]$
    /// at the confidence of `pfd` ([`PfdEstimate`]).
    ///
    /// # Errors
    /// As [`Pfd::estimate_on`].
    fn estimate(
        &self,
        pfd: &Pfd<'_>,
        p: &dyn FlowMap,
        q: &dyn FlowMap,
        noises: MatRef<'_, f64>,
    ) -> Result<PfdEstimate> {
        pfd.estimate_on(p, q, noises)
    }

    /// The solver whose flow the solver facets measure: Heun's method (EDM, Alg. 1) or one
    /// at least as accurate on Gaussian flows.
    fn solver(&self) -> &dyn Solver {
        &Heun
    }
}

impl Subject for Reference {}

/// One R11 instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// Dimension.
    pub d: usize,
    /// Rank of the first model.
    pub r1: usize,
    /// Rank of the second model.
    pub r2: usize,
    /// Subspace Gaussians $\mathcal N(0, UU^\top)$ (otherwise means and unequal variances).
    pub subspace: bool,
    /// Rows of a linear feature map (0: identity features).
    pub features: usize,
    /// Noise scale $T$.
    pub t_max: f64,
    /// Seed.
    pub seed: u64,
}

/// The oracle's affine map $x \mapsto \mu + \sum_i f_iv_iv_i^\top(x - \mu)$ (module docs), with the
/// dense $A = \sum_i f_iv_iv_i^\top$ assembled from the eigenpairs for mapping batches.
struct Affine {
    mu: Vec<f64>,
    v: Mat<f64>,
    f: Vec<f64>,
    a: Mat<f64>,
}

impl Affine {
    fn new(mu: Vec<f64>, v: Mat<f64>, f: Vec<f64>) -> Self {
        let d = mu.len();
        let a = Mat::from_fn(d, d, |r, c| {
            f.iter()
                .enumerate()
                .map(|(i, fi)| fi * v[(r, i)] * v[(c, i)])
                .sum::<f64>()
        });
        Self { mu, v, f, a }
    }

    /// $\sum_i f_iv_iv_i^\top y$ for one vector $y$.
    fn apply(&self, y: &[f64]) -> Vec<f64> {
        let d = self.mu.len();
        let mut out = vec![0.0; d];
        for (i, &fi) in self.f.iter().enumerate() {
            let c: f64 = (0..d).map(|a| self.v[(a, i)] * y[a]).sum::<f64>() * fi;
            for (a, o) in out.iter_mut().enumerate() {
                *o += c * self.v[(a, i)];
            }
        }
        out
    }
}

impl FlowMap for Affine {
    fn dim(&self) -> usize {
        self.mu.len()
    }

    fn map(&self, x: MatRef<'_, f64>) -> Result<Mat<f64>> {
        let d = self.mu.len();
        crate::error::ensure_dim("rows of the noises", d, x.nrows())?;
        let y = Mat::from_fn(d, x.ncols(), |r, j| x[(r, j)] - self.mu[r]);
        let mut out = &self.a * &y;
        for j in 0..x.ncols() {
            for r in 0..d {
                out[(r, j)] += self.mu[r];
            }
        }
        Ok(out)
    }

    fn columnwise(&self) -> bool {
        true
    }
}

/// The exact flow of `g` in VE from $T$ to the data, from the ODE (module docs).
fn exact_flow(g: &Gaussian, t: f64) -> Affine {
    Affine::new(
        g.mean().to_vec(),
        g.basis().to_owned(),
        g.variances()
            .iter()
            .map(|&l| (l / (l + t * t)).sqrt())
            .collect(),
    )
}

/// Heun's multipliers on the scalar ODE $\dot y = t y/(\lambda + t^2)$ over `times` (descending),
/// then the clean end $\lambda/(\lambda + t_n^2)$ (module docs, `solver_error`).
fn heun_factor(lambda: f64, times: &[f64]) -> f64 {
    let phi = |t: f64| t / (lambda + t * t);
    let mut g = 1.0;
    for w in times.windows(2) {
        let (t, s) = (w[0], w[1]);
        let h = s - t;
        g *= 1.0 + 0.5 * h * (phi(t) + phi(s) * (1.0 + h * phi(t)));
    }
    let last = times[times.len() - 1];
    g * lambda / (lambda + last * last)
}

/// $W$ as a `k × d` matrix ($I$ without features).
fn w_matrix(w: Option<&LinearFeatures>, d: usize) -> Mat<f64> {
    match w {
        Some(h) => h.matrix().to_owned(),
        None => Mat::identity(d, d),
    }
}

/// The oracle: $\mathrm{PFD}^2$ by the eigen-sum trace form, $b = Wc$ and $B = TW(A_p - A_q)$.
struct Oracle {
    squared: f64,
    b: Vec<f64>,
    big_b: Mat<f64>,
}

fn oracle(p: &Affine, q: &Affine, w: MatRef<'_, f64>, t: f64) -> Oracle {
    let d = p.mu.len();
    let k = w.nrows();
    let wv = |v: &Mat<f64>, i: usize| -> Vec<f64> {
        (0..k)
            .map(|a| (0..d).map(|c| w[(a, c)] * v[(c, i)]).sum())
            .collect()
    };
    let dot = |x: &[f64], y: &[f64]| -> f64 { x.iter().zip(y).map(|(a, b)| a * b).sum() };
    let (wp, wq): (Vec<Vec<f64>>, Vec<Vec<f64>>) = (
        (0..p.f.len()).map(|i| wv(&p.v, i)).collect(),
        (0..q.f.len()).map(|j| wv(&q.v, j)).collect(),
    );
    let sp: f64 = p.f.iter().zip(&wp).map(|(f, a)| f * f * dot(a, a)).sum();
    let sq: f64 = q.f.iter().zip(&wq).map(|(g, a)| g * g * dot(a, a)).sum();
    let mut cross = 0.0;
    for (i, fi) in p.f.iter().enumerate() {
        for (j, gj) in q.f.iter().enumerate() {
            let vu: f64 = (0..d).map(|c| p.v[(c, i)] * q.v[(c, j)]).sum();
            cross += fi * gj * vu * dot(&wp[i], &wq[j]);
        }
    }
    let (ap_mu, aq_mu) = (p.apply(&p.mu), q.apply(&q.mu));
    let c: Vec<f64> = (0..d)
        .map(|a| (p.mu[a] - q.mu[a]) - (ap_mu[a] - aq_mu[a]))
        .collect();
    let b: Vec<f64> = (0..k)
        .map(|a| (0..d).map(|e| w[(a, e)] * c[e]).sum())
        .collect();
    let squared = dot(&b, &b) + t * t * (sp + sq - 2.0 * cross).max(0.0);
    // B = T·W·(A_p − A_q), for the estimator's variance bound only.
    let mut diff = Mat::<f64>::zeros(d, d);
    for e in 0..d {
        let mut unit = vec![0.0; d];
        unit[e] = 1.0;
        let (a1, a2) = (p.apply(&unit), q.apply(&unit));
        for a in 0..d {
            diff[(a, e)] = a1[a] - a2[a];
        }
    }
    let big_b = Mat::from_fn(k, d, |a, e| {
        t * (0..d).map(|c| w[(a, c)] * diff[(c, e)]).sum::<f64>()
    });
    Oracle { squared, b, big_b }
}

/// The Laurent–Massart deviation bound of `estimator_mean` (module docs) for the mean of `n`.
fn mean_deviation_bound(o: &Oracle, n: usize, alpha: f64) -> f64 {
    let (k, d) = (o.big_b.nrows(), o.big_b.ncols());
    let q = Mat::from_fn(d, d, |i, j| {
        (0..k)
            .map(|a| o.big_b[(a, i)] * o.big_b[(a, j)])
            .sum::<f64>()
    });
    let q_fro = q.norm_l2();
    let btb: f64 = (0..d)
        .map(|e| {
            let v: f64 = (0..k).map(|a| o.big_b[(a, e)] * o.b[a]).sum();
            v * v
        })
        .sum::<f64>()
        .sqrt();
    let t = (4.0 / alpha).ln();
    let nf = n as f64;
    (2.0 * (t * nf).sqrt() * q_fro + 2.0 * q_fro * t + 2.0 * (2.0 * t * nf).sqrt() * btb) / nf
}

/// $\mathrm{RMS}_m\|W\sum_i(\hat g_i - f_i)v_iv_i^\top(x^{(m)} - \mu)\|$: Heun's a-priori deviation.
fn heun_deviation(exact: &Affine, heun: &[f64], w: MatRef<'_, f64>, x: MatRef<'_, f64>) -> f64 {
    let dev = Affine::new(
        exact.mu.clone(),
        exact.v.clone(),
        heun.iter().zip(&exact.f).map(|(g, f)| g - f).collect(),
    );
    let d = exact.mu.len();
    let m = x.ncols();
    let mut sum = 0.0;
    for j in 0..m {
        let y: Vec<f64> = (0..d).map(|a| x[(a, j)] - exact.mu[a]).collect();
        let e = dev.apply(&y);
        for a in 0..w.nrows() {
            let v: f64 = (0..d).map(|c| w[(a, c)] * e[c]).sum();
            sum += v * v;
        }
    }
    (sum / m as f64).sqrt()
}

/// Root-mean-square column norm.
fn rms_norm(x: MatRef<'_, f64>) -> f64 {
    let m = x.ncols();
    let s: f64 = (0..m)
        .map(|j| (0..x.nrows()).map(|a| x[(a, j)] * x[(a, j)]).sum::<f64>())
        .sum();
    (s / m as f64).sqrt()
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

impl Instance {
    /// A random instance.
    pub fn sample(rng: &mut SeededRng) -> Self {
        let d = rng.random_range(1..=8);
        let subspace = rng.random::<bool>();
        Self {
            d,
            r1: rng.random_range(1..=d),
            r2: rng.random_range(1..=d),
            subspace,
            features: if rng.random::<bool>() {
                rng.random_range(1..=d)
            } else {
                0
            },
            t_max: log_uniform(rng, -0.3, 1.9),
            seed: rng.random(),
        }
    }

    /// The two models.
    ///
    /// # Errors
    /// Construction errors.
    pub fn models(&self) -> Result<[Gaussian; 2]> {
        let mut rng = seeded(self.seed);
        let d = self.d;
        let mut one = |r: usize| -> Result<Gaussian> {
            if self.subspace {
                let u = orthogonal_bases(&mut rng, d, &[r], BasisKind::Haar)?.remove(0);
                Gaussian::subspace(u.as_ref())
            } else {
                random_gaussian(&mut rng, d, r)
            }
        };
        Ok([one(self.r1)?, one(self.r2)?])
    }

    /// Runs the facets on this crate's implementation.
    ///
    /// # Errors
    /// Model, flow or estimator errors (which count as failures).
    pub fn check(&self) -> Result<Vec<Measurement>> {
        self.check_with(&Reference)
    }

    /// Runs the facets on the implementation `s`.
    ///
    /// # Errors
    /// Model, flow or estimator errors (which count as failures).
    pub fn check_with(&self, s: &dyn Subject) -> Result<Vec<Measurement>> {
        let [p, q] = self.models()?;
        let (d, t) = (self.d, self.t_max);
        let mut rng = seeded(self.seed ^ 0x0011);
        let w = (self.features > 0).then(|| {
            LinearFeatures::new(standard_normal(&mut rng, self.features, self.d).as_ref())
        });
        let w = w.transpose()?;
        let wm = w_matrix(w.as_ref(), d);
        let k = wm.nrows();
        let (fp, fq) = (exact_flow(&p, t), exact_flow(&q, t));
        let o = oracle(&fp, &fq, wm.as_ref(), t);
        let scale =
            wm.norm_l2() * (t * (norm(&fp.f) + norm(&fq.f)) + 2.0 * (norm(&fp.mu) + norm(&fq.mu)));
        let tau = 16.0 * gamma(4 * d + 2 * k) * scale * scale + f64::MIN_POSITIVE;
        let mut out = Vec::new();

        let closed = s.pfd_gaussians(&p, &q, t, w.as_ref())?;
        out.push(Measurement::new(
            "closed_form",
            (closed * closed - o.squared).abs(),
            tau,
        ));
        if self.subspace && w.is_none() {
            let sub = s.pfd_subspaces(p.basis(), q.basis(), t)?;
            out.push(Measurement::new(
                "closed_form_subspace",
                (sub * sub - o.squared).abs(),
                tau,
            ));
        }

        // The estimator on N = RM noises through the oracle's exact flows.
        let identity = crate::metric::Identity;
        let feature: &dyn FeatureMap = match &w {
            Some(h) => h,
            None => &identity,
        };
        let n = REPETITIONS * SAMPLES;
        let pooled = Pfd::new(t, n)?.with_feature(feature);
        let noises = pooled.noises(d, &mut rng);
        let all = s.estimate(&pooled, &fp, &fq, noises.as_ref())?;
        let rounding = 16.0 * gamma(n + 4 * d + 2 * k) * (1.0 + d as f64) * scale * scale;
        out.push(Measurement::new(
            "estimator_mean",
            (all.estimate * all.estimate - o.squared).abs(),
            mean_deviation_bound(&o, n, ESTIMATOR_LEVEL) + tau + rounding,
        ));

        // Coverage of the interval over R disjoint blocks of M noises.
        let pfd = Pfd::new(t, SAMPLES)?.with_feature(feature);
        let round = gamma(k * SAMPLES + 4);
        let truth = o.squared.sqrt();
        let slack_truth = tau.sqrt();
        let mut covered = 0;
        for r in 0..REPETITIONS {
            let x = noises.subcols(r * SAMPLES, SAMPLES);
            let e = s.estimate(&pfd, &fp, &fq, x)?;
            let slack = slack_truth + round * e.interval.1;
            if e.interval.0 - slack <= truth && truth <= e.interval.1 + slack {
                covered += 1;
            }
        }
        let tail = binomial_lower_tail(covered, REPETITIONS, COVERAGE_FLOOR)?;
        out.push(Measurement::new(
            "coverage",
            0.0 - tail.max(f64::MIN_POSITIVE).log10(),
            -TEST_LEVEL.log10(),
        ));

        // The solver's flows against the exact ones, on the first M noises.
        let grid = TimeGrid::karras(&Ve, SOLVER_STEPS, 0.002, t.max(0.004), 7.0)?;
        let x = noises.subcols(0, SAMPLES);
        let solver = s.solver();
        let (sp, sq) = (
            Sampler::new(&Ve, &p, solver, grid.clone()),
            Sampler::new(&Ve, &q, solver, grid.clone()),
        );
        let rms_x = rms_norm(x);
        let mut bounds = [0.0; 2];
        let mut worst: Option<(f64, f64)> = None;
        for (i, (g, exact, sampler)) in [(&p, &fp, &sp), (&q, &fq, &sq)].into_iter().enumerate() {
            let heun: Vec<f64> = g
                .variances()
                .iter()
                .map(|&l| heun_factor(l, grid.times()))
                .collect();
            let e = heun_deviation(exact, &heun, wm.as_ref(), x);
            let solver_round = gamma((SOLVER_STEPS + 1) * (8 * d + 16))
                * wm.norm_l2()
                * (rms_x + 2.0 * norm(&exact.mu));
            bounds[i] = e + solver_round;
            let dev = s.estimate(&pfd, sampler, exact, x)?.estimate;
            let tol = bounds[i] + f64::MIN_POSITIVE;
            if worst.is_none_or(|(err, tl)| dev / tol > err / tl) {
                worst = Some((dev, tol));
            }
        }
        let (err, tol) = worst.expect("two models");
        out.push(Measurement::new("solver_error", err, tol));
        let solved = s.estimate(&pfd, &sp, &sq, x)?;
        let exact = s.estimate(&pfd, &fp, &fq, x)?;
        out.push(Measurement::new(
            "solver_pfd",
            (solved.estimate - exact.estimate).abs(),
            bounds[0] + bounds[1] + round * (solved.estimate + exact.estimate) + f64::MIN_POSITIVE,
        ));
        Ok(out)
    }
}

/// Registry entry: [`run_case_with`] on this crate's implementation.
pub fn run_case(rng: &mut SeededRng) -> CaseResult {
    run_case_with(rng, &Reference)
}

/// R11's entry in the [registry](super::registry): the only place its title is written.
pub const THEOREM: Theorem = Theorem {
    id: "R11",
    title: "PFD: Gaussian closed forms, estimator, CI coverage, solver PFD",
    proof: "proofs/R11-probability-flow-distance.md",
    run_case,
};

/// Draws one instance from `rng` and checks the implementation `s` on it.
pub fn run_case_with(rng: &mut SeededRng, s: &dyn Subject) -> CaseResult {
    CaseResult::of(Instance::sample(rng), |i| i.check_with(s))
}
