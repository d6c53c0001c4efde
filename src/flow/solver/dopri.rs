//! The adaptive Dormand–Prince 5(4) method with FSAL and standard step-size control.

use faer::{Mat, MatRef};

use super::{Observer, Solution, SolveInfo, Solver, combine, finish, prepare};
use crate::error::{Error, Result};
use crate::flow::{ProbabilityFlow, TimeGrid};

// Dormand & Prince (1980), the RK5(4)7M tableau (Hairer, Nørsett, Wanner I, Table 5.2).
const C: [f64; 7] = [0.0, 1.0 / 5.0, 3.0 / 10.0, 4.0 / 5.0, 8.0 / 9.0, 1.0, 1.0];
const A2: [f64; 1] = [1.0 / 5.0];
const A3: [f64; 2] = [3.0 / 40.0, 9.0 / 40.0];
const A4: [f64; 3] = [44.0 / 45.0, -56.0 / 15.0, 32.0 / 9.0];
const A5: [f64; 4] = [
    19372.0 / 6561.0,
    -25360.0 / 2187.0,
    64448.0 / 6561.0,
    -212.0 / 729.0,
];
const A6: [f64; 5] = [
    9017.0 / 3168.0,
    -355.0 / 33.0,
    46732.0 / 5247.0,
    49.0 / 176.0,
    -5103.0 / 18656.0,
];
/// Fifth-order weights (also the last stage's row: FSAL).
const B: [f64; 6] = [
    35.0 / 384.0,
    0.0,
    500.0 / 1113.0,
    125.0 / 192.0,
    -2187.0 / 6784.0,
    11.0 / 84.0,
];
/// $b - \hat b$ (fifth minus embedded fourth order), for the 7 stages.
const E: [f64; 7] = [
    71.0 / 57600.0,
    0.0,
    -71.0 / 16695.0,
    71.0 / 1920.0,
    -17253.0 / 339200.0,
    22.0 / 525.0,
    -1.0 / 40.0,
];

/// Adaptive Dormand–Prince 5(4) (the `ode45` / `dopri5` method).
///
/// # Definition
/// Each step computes the fifth-order solution $x_{n+1}$ (propagated: local
/// extrapolation) and the embedded error estimate $\hat e = h\sum_i(b_i - \hat b_i)k_i$.
/// With $\mathrm{sc}_i = \mathrm{atol} + \mathrm{rtol}\max(|x_{n,i}|, |x_{n+1,i}|)$ the error
/// norm is the largest, over the columns of the batch, of
/// $\sqrt{\frac1d\sum_i(\hat e_i/\mathrm{sc}_i)^2}$; the step is accepted iff it is $\le 1$,
/// and the next step size is $h\cdot\min(5, \max(0.2, 0.9\,\mathrm{err}^{-1/5}))$ (no
/// growth right after a rejection). The initial step follows Hairer, Nørsett,
/// Wanner I, §II.4. Only the grid's first and last times are used (plus its
/// clean end). Six evaluations per step (first-same-as-last).
///
/// A batch shares one step sequence, controlled by its worst column, so every
/// column meets the tolerance.
///
/// # Errors
/// [`Error::InvalidParameter`] unless `rtol > 0` and `atol ≥ 0` (finite);
/// solving: see [`Solver`], and [`Error::StepFailure`] past `max_steps` steps or when
/// the step size underflows.
///
/// # Examples
/// ```
/// use diffusion_lowdim::flow::{DormandPrince, GaussianFlow, FlowMap, ProbabilityFlow, Solver, TimeGrid};
/// use diffusion_lowdim::{schedule::Ve, Gaussian, NoiseLevel};
/// let g = Gaussian::new(&[0.2], faer::mat![[1.0]].as_ref(), &[0.5])?;
/// let x_t = faer::mat![[60.0]];
/// let s = DormandPrince::new(1e-10, 1e-12)?
///     .solve(&ProbabilityFlow::new(&Ve, &g), &TimeGrid::uniform(1, 80.0, 0.002)?, x_t.as_ref())?;
/// let exact = GaussianFlow::between(&g, NoiseLevel::ve(80.0)?, 1.0, 0.002)?.map(x_t.as_ref())?;
/// assert!((s.x[(0, 0)] - exact[(0, 0)]).abs() < 1e-8);
/// assert!(s.info.steps > 0 && s.info.evaluations >= 6 * s.info.steps);
/// assert!(DormandPrince::new(0.0, 1e-12).is_err());
/// # Ok::<(), diffusion_lowdim::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DormandPrince {
    rtol: f64,
    atol: f64,
    max_steps: usize,
}

impl DormandPrince {
    /// Tolerances `rtol > 0`, `atol ≥ 0`; at most 100 000 steps.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for `rtol ≤ 0`, `atol < 0` or non-finite values.
    pub fn new(rtol: f64, atol: f64) -> Result<Self> {
        if !(rtol.is_finite() && rtol > 0.0) {
            return Err(Error::InvalidParameter {
                name: "rtol",
                value: rtol,
                requirement: "finite and > 0",
            });
        }
        if !(atol.is_finite() && atol >= 0.0) {
            return Err(Error::InvalidParameter {
                name: "atol",
                value: atol,
                requirement: "finite and ≥ 0",
            });
        }
        Ok(Self {
            rtol,
            atol,
            max_steps: 100_000,
        })
    }

    /// The same tolerances with another step limit (accepted plus rejected steps).
    ///
    /// # Errors
    /// [`Error::InvalidCount`] for `max_steps = 0`.
    pub fn with_max_steps(mut self, max_steps: usize) -> Result<Self> {
        if max_steps == 0 {
            return Err(Error::InvalidCount {
                name: "max_steps",
                value: 0,
                requirement: "at least 1",
            });
        }
        self.max_steps = max_steps;
        Ok(self)
    }

    /// Relative tolerance.
    pub fn rtol(&self) -> f64 {
        self.rtol
    }

    /// Absolute tolerance.
    pub fn atol(&self) -> f64 {
        self.atol
    }

    /// The largest column RMS of `e / sc`, `sc = atol + rtol·max(|a|, |b|)`.
    /// NaN propagates (and makes the step rejected).
    fn error_norm(&self, e: &Mat<f64>, a: &Mat<f64>, b: &Mat<f64>) -> f64 {
        let d = e.nrows().max(1) as f64;
        let mut worst = 0.0f64;
        for j in 0..e.ncols() {
            let mut s = 0.0;
            for i in 0..e.nrows() {
                let sc = self
                    .rtol
                    .mul_add(a[(i, j)].abs().max(b[(i, j)].abs()), self.atol);
                let q = e[(i, j)] / sc;
                s = q.mul_add(q, s);
            }
            let rms = (s / d).sqrt();
            if rms.is_nan() {
                return f64::NAN;
            }
            worst = worst.max(rms);
        }
        worst
    }

    /// Hairer's starting step size (magnitude), given $f_0 = v(t_0, x_0)$.
    fn initial_step(
        &self,
        flow: &ProbabilityFlow<'_>,
        t0: f64,
        span: f64,
        x0: &Mat<f64>,
        f0: &Mat<f64>,
    ) -> Result<f64> {
        let zero = Mat::<f64>::zeros(x0.nrows(), x0.ncols());
        let d0 = self.error_norm(x0, x0, &zero);
        let d1 = self.error_norm(f0, x0, &zero);
        let h0 = if d0 < 1e-5 || d1 < 1e-5 || !d1.is_finite() {
            1e-6 * span
        } else {
            (0.01 * d0 / d1).min(span)
        };
        let x1 = combine(x0, &[(-h0, f0)]);
        let f1 = flow.velocity(t0 - h0, x1.as_ref())?;
        let df = combine(&f1, &[(-1.0, f0)]);
        let d2 = self.error_norm(&df, x0, &zero) / h0;
        let m = d1.max(d2);
        let h1 = if m <= 1e-15 || !m.is_finite() {
            (h0 * 1e-3).max(1e-6 * span)
        } else {
            (0.01 / m).powf(0.2)
        };
        Ok((100.0 * h0).min(h1).min(span))
    }
}

impl Solver for DormandPrince {
    fn name(&self) -> &'static str {
        "dopri5"
    }

    fn order(&self) -> Option<u32> {
        None
    }

    fn solve_observed(
        &self,
        flow: &ProbabilityFlow<'_>,
        grid: &TimeGrid,
        x_start: MatRef<'_, f64>,
        observer: Observer<'_>,
    ) -> Result<Solution> {
        prepare(flow, grid, x_start)?;
        let (t0, t_end) = (grid.start(), grid.last());
        let mut x = x_start.to_owned();
        let mut info = SolveInfo {
            mesh: vec![t0],
            ..SolveInfo::default()
        };
        observer(0, t0, x.as_ref());
        if grid.times().len() == 1 {
            // Only a clean-end step: nothing to integrate.
            return finish(flow, grid, x, info);
        }
        let span = t0 - t_end;
        let mut k1 = flow.velocity(t0, x.as_ref())?;
        info.evaluations += 1;
        let mut habs = self.initial_step(flow, t0, span, &x, &k1)?;
        info.evaluations += 1;
        let mut t = t0;
        let mut just_rejected = false;
        let fail = |reason: &'static str, t: f64, steps: usize| Error::StepFailure {
            solver: "dopri5",
            reason,
            t,
            steps,
        };
        while t > t_end {
            let taken = info.steps + info.rejections;
            if taken >= self.max_steps {
                return Err(fail("step limit reached", t, taken));
            }
            if habs.is_nan() || habs <= 16.0 * f64::EPSILON * t.abs().max(span) {
                return Err(fail("step size underflow", t, taken));
            }
            let last = t - habs <= t_end;
            let h = if last { t_end - t } else { -habs };
            // Stages 6 and 7 sit at the step's end: exactly t_end on the last step.
            let stage = |i: usize| if last && i >= 5 { t_end } else { t + C[i] * h };
            let k2 = flow.velocity(stage(1), combine(&x, &[(h * A2[0], &k1)]).as_ref())?;
            let k3 = flow.velocity(
                stage(2),
                combine(&x, &[(h * A3[0], &k1), (h * A3[1], &k2)]).as_ref(),
            )?;
            let k4 = flow.velocity(
                stage(3),
                combine(&x, &[(h * A4[0], &k1), (h * A4[1], &k2), (h * A4[2], &k3)]).as_ref(),
            )?;
            let k5 = flow.velocity(
                stage(4),
                combine(
                    &x,
                    &[
                        (h * A5[0], &k1),
                        (h * A5[1], &k2),
                        (h * A5[2], &k3),
                        (h * A5[3], &k4),
                    ],
                )
                .as_ref(),
            )?;
            let k6 = flow.velocity(
                stage(5),
                combine(
                    &x,
                    &[
                        (h * A6[0], &k1),
                        (h * A6[1], &k2),
                        (h * A6[2], &k3),
                        (h * A6[3], &k4),
                        (h * A6[4], &k5),
                    ],
                )
                .as_ref(),
            )?;
            let x_new = combine(
                &x,
                &[
                    (h * B[0], &k1),
                    (h * B[2], &k3),
                    (h * B[3], &k4),
                    (h * B[4], &k5),
                    (h * B[5], &k6),
                ],
            );
            let k7 = flow.velocity(stage(6), x_new.as_ref())?;
            info.evaluations += 6;
            let zero = Mat::<f64>::zeros(x.nrows(), x.ncols());
            let e = combine(
                &zero,
                &[
                    (h * E[0], &k1),
                    (h * E[2], &k3),
                    (h * E[3], &k4),
                    (h * E[4], &k5),
                    (h * E[5], &k6),
                    (h * E[6], &k7),
                ],
            );
            let err = self.error_norm(&e, &x, &x_new);
            if err <= 1.0 {
                t = if last { t_end } else { t + h };
                x = x_new;
                k1 = k7;
                info.steps += 1;
                info.mesh.push(t);
                observer(info.steps, t, x.as_ref());
                let grow = if err == 0.0 {
                    5.0
                } else {
                    (0.9 * err.powf(-0.2)).clamp(0.2, 5.0)
                };
                habs *= if just_rejected { grow.min(1.0) } else { grow };
                just_rejected = false;
            } else {
                info.rejections += 1;
                let shrink = if err.is_finite() {
                    (0.9 * err.powf(-0.2)).clamp(0.2, 1.0)
                } else {
                    0.2
                };
                habs = habs.min(t - t_end) * shrink;
                just_rejected = true;
            }
        }
        finish(flow, grid, x, info)
    }
}
