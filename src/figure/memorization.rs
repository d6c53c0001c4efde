//! The memorization-to-generalization figure (R11, R13): CSV and SVG of RP, GL, E_gen and
//! E_mem against $N/r$, as pure functions of the study's rows.

use std::fmt::Write as _;

use plotters::prelude::*;

use crate::error::{Error, Result};
use crate::study::{LOW_RANK, MEMORIZING, MemorizationRow, MemorizationStudy};

/// The CSV header (one row per model kind and ratio).
pub const CSV_HEADER: &str = "ratio,points_per_component,denoiser,rp,rp_lo,rp_hi,gl,gl_lo,gl_hi,\
e_gen,e_gen_se,e_gen_lo,e_gen_hi,e_mem,e_mem_se,e_mem_lo,e_mem_hi";

/// The rows as CSV text (header first; numbers in Rust's shortest round-trip form, with an
/// exponent for very small or large values, so the text is identical wherever the
/// computation is).
///
/// # Examples
/// ```
/// use diffusion_lowdim::figure::memorization::{csv, CSV_HEADER};
/// assert_eq!(csv(&[]), format!("{CSV_HEADER}\n"));
/// ```
pub fn csv(rows: &[MemorizationRow]) -> String {
    let mut s = String::with_capacity(160 * (rows.len() + 1));
    s.push_str(CSV_HEADER);
    s.push('\n');
    for r in rows {
        let _ = writeln!(
            s,
            "{:?},{},{},{:?},{:?},{:?},{:?},{:?},{:?},{:?},{:?},{:?},{:?},{:?},{:?},{:?},{:?}",
            r.ratio,
            r.points_per_component,
            r.denoiser,
            r.rp.estimate,
            r.rp.interval.0,
            r.rp.interval.1,
            r.gl.estimate,
            r.gl.interval.0,
            r.gl.interval.1,
            r.e_gen.estimate,
            r.e_gen.std_error,
            r.e_gen.interval.0,
            r.e_gen.interval.1,
            r.e_mem.estimate,
            r.e_mem.std_error,
            r.e_mem.interval.0,
            r.e_mem.interval.1,
        );
    }
    s
}

/// One plotted quantity: value and interval of a row.
type Pick = fn(&MemorizationRow) -> (f64, f64, f64);

fn plot_error(e: impl std::fmt::Display) -> Error {
    // Plotting into an in-memory string cannot fail for I/O reasons; a failure here
    // means an empty or degenerate range, reported as a parameter error.
    let _ = e;
    Error::InvalidParameter {
        name: "figure data",
        value: f64::NAN,
        requirement: "non-empty, with finite values",
    }
}

/// The four-panel SVG (RP, GL, $E_{\mathrm{gen}}$, $E_{\mathrm{mem}}$ against $N/r$ on a log axis,
/// with the Clopper–Pearson and CLT intervals as bars and a line at $N = r$). Text is SVG
/// `<text>`; no fonts are read.
///
/// # Errors
/// [`Error::Empty`] for no rows; [`Error::InvalidParameter`] for non-finite values.
pub fn svg(rows: &[MemorizationRow], study: &MemorizationStudy) -> Result<String> {
    if rows.is_empty() {
        return Err(Error::Empty {
            what: "memorization rows",
            unit: "row",
        });
    }
    let xs: Vec<f64> = rows.iter().map(|r| r.ratio).collect();
    // Ticks at the study's own ratios (a log axis alone labels only 1, 2, 3, …).
    let mut ticks = xs.clone();
    ticks.sort_by(f64::total_cmp);
    ticks.dedup();
    let xmin = xs.iter().cloned().fold(f64::INFINITY, f64::min) / 1.25;
    let xmax = xs.iter().cloned().fold(0.0, f64::max) * 1.25;
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (1000, 760)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let title = format!(
            "Memorization to generalization on MoLRG (d = {}, r = {}, K = {}; {} noises, Heun {} EDM steps)",
            study.d, study.r, study.components, study.samples, study.steps
        );
        let root = root
            .titled(&title, ("sans-serif", 18))
            .map_err(plot_error)?;
        let panels = root.split_evenly((2, 2));
        let emax = rows
            .iter()
            .map(|r| r.e_gen.interval.1.max(r.e_mem.interval.1))
            .fold(0.0f64, f64::max)
            .max(1e-12)
            * 1.1;
        let specs: [(&str, f64, Pick); 4] = [
            ("RP (reproducibility)", 1.05, |r| {
                (r.rp.estimate, r.rp.interval.0, r.rp.interval.1)
            }),
            ("GL (generalization)", 1.05, |r| {
                (r.gl.estimate, r.gl.interval.0, r.gl.interval.1)
            }),
            ("E_gen = PFD(model, truth)", emax, |r| {
                (r.e_gen.estimate, r.e_gen.interval.0, r.e_gen.interval.1)
            }),
            ("E_mem = PFD(model, empirical)", emax, |r| {
                (r.e_mem.estimate, r.e_mem.interval.0, r.e_mem.interval.1)
            }),
        ];
        for (area, (name, ymax, pick)) in panels.iter().zip(specs) {
            if rows.iter().any(|r| {
                let (v, lo, hi) = pick(r);
                !(v.is_finite() && lo.is_finite() && hi.is_finite())
            }) {
                return Err(plot_error("non-finite"));
            }
            let mut chart = ChartBuilder::on(area)
                .caption(name, ("sans-serif", 16))
                .margin(12)
                .x_label_area_size(36)
                .y_label_area_size(48)
                .build_cartesian_2d(
                    (xmin..xmax).log_scale().with_key_points(ticks.clone()),
                    0.0..ymax,
                )
                .map_err(plot_error)?;
            chart
                .configure_mesh()
                .x_desc("N / r (points per component over intrinsic dimension)")
                .x_label_formatter(&|v| format!("{v:.2}"))
                .draw()
                .map_err(plot_error)?;
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(1.0, 0.0), (1.0, ymax)],
                    BLACK.mix(0.4),
                )))
                .map_err(plot_error)?;
            for (kind, color) in [(LOW_RANK, BLUE), (MEMORIZING, RED)] {
                let pts: Vec<(f64, f64, f64, f64)> = rows
                    .iter()
                    .filter(|r| r.denoiser == kind)
                    .map(|r| {
                        let (v, lo, hi) = pick(r);
                        (r.ratio, v, lo, hi)
                    })
                    .collect();
                chart
                    .draw_series(LineSeries::new(
                        pts.iter().map(|p| (p.0, p.1)),
                        color.stroke_width(2),
                    ))
                    .map_err(plot_error)?
                    .label(kind)
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                    });
                chart
                    .draw_series(
                        pts.iter()
                            .map(|p| Circle::new((p.0, p.1), 3, color.filled())),
                    )
                    .map_err(plot_error)?;
                chart
                    .draw_series(
                        pts.iter()
                            .map(|p| PathElement::new(vec![(p.0, p.2), (p.0, p.3)], color)),
                    )
                    .map_err(plot_error)?;
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .position(SeriesLabelPosition::LowerRight)
                .draw()
                .map_err(plot_error)?;
        }
        root.present().map_err(plot_error)?;
    }
    Ok(out)
}
