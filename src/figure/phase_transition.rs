//! The phase-transition figure (R09): CSV and SVG heat map of recovery rates.
//!
//! Both functions are pure: they turn the cells computed by
//! [`crate::study::phase_transition()`] into text. The CSV has one row per cell
//! with the columns `K,r,N,trials,successes,rate,ci_low,ci_high,median_error`
//! (rates and interval ends with 6 decimals, the median error in `%.6e` form),
//! so equal cells give byte-identical files. The SVG draws one heat map of the
//! success rate over $N \times r$ per $K$ (white = 0, dark blue = 1) with the line
//! $N = r$ in red.

use plotters::prelude::*;

use crate::error::{Error, Result};
use crate::study::{CellResult, PhaseConfig};

/// The CSV header.
pub const CSV_HEADER: &str = "K,r,N,trials,successes,rate,ci_low,ci_high,median_error";

/// The table as CSV text (header + one line per cell, `\n` line ends).
///
/// # Examples
/// ```
/// use diffusion_lowdim::figure::phase_transition::{csv, CSV_HEADER};
/// use diffusion_lowdim::study::CellResult;
/// let c = CellResult { k: 1, r: 2, n: 3, trials: 4, successes: 4, ci_low: 0.4, ci_high: 1.0, median_error: 1e-15 };
/// let text = csv(&[c]);
/// assert!(text.starts_with(CSV_HEADER));
/// assert_eq!(text.lines().nth(1), Some("1,2,3,4,4,1.000000,0.400000,1.000000,1.000000e-15"));
/// ```
pub fn csv(cells: &[CellResult]) -> String {
    let mut out = String::with_capacity(64 * (cells.len() + 1));
    out.push_str(CSV_HEADER);
    out.push('\n');
    for c in cells {
        out.push_str(&format!(
            "{},{},{},{},{},{:.6},{:.6},{:.6},{:.6e}\n",
            c.k,
            c.r,
            c.n,
            c.trials,
            c.successes,
            c.rate(),
            c.ci_low,
            c.ci_high,
            c.median_error
        ));
    }
    out
}

/// White (rate 0) to dark blue (rate 1).
fn shade(rate: f64) -> RGBColor {
    let t = rate.clamp(0.0, 1.0);
    let mix = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
    RGBColor(mix(247.0, 8.0), mix(251.0, 48.0), mix(255.0, 107.0))
}

/// The heat map as an SVG document.
///
/// # Errors
/// [`Error::Empty`] for no cells; [`Error::Render`] if the SVG backend fails.
pub fn svg(cells: &[CellResult], config: &PhaseConfig) -> Result<String> {
    if cells.is_empty() {
        return Err(Error::Empty {
            what: "phase-transition table",
            unit: "cell",
        });
    }
    let render = |_| Error::Render {
        figure: "phase-transition",
    };
    let mut ks: Vec<usize> = cells.iter().map(|c| c.k).collect();
    ks.dedup();
    let (n_lo, n_hi) = min_max(cells.iter().map(|c| c.n));
    let (r_lo, r_hi) = min_max(cells.iter().map(|c| c.r));
    let panel_w = 60 + 24 * (n_hi - n_lo + 1) as u32;
    let width = 40 + panel_w * ks.len() as u32;
    let height = 120 + 24 * (r_hi - r_lo + 1) as u32;
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (width.max(320), height.max(240)))
            .into_drawing_area();
        root.fill(&WHITE).map_err(render)?;
        let title = format!(
            "Recovery rate, d = {}, {} trials/cell, noise {}, threshold {} (white 0, blue 1; red: N = r)",
            config.dim, config.trials, config.noise, config.threshold
        );
        let root = root.titled(&title, ("sans-serif", 14)).map_err(render)?;
        let panels = root.split_evenly((1, ks.len()));
        for (panel, &k) in panels.iter().zip(&ks) {
            let (x0, x1) = (n_lo as f64 - 0.5, n_hi as f64 + 0.5);
            let (y0, y1) = (r_lo as f64 - 0.5, r_hi as f64 + 0.5);
            let mut chart = ChartBuilder::on(panel)
                .caption(format!("K = {k}"), ("sans-serif", 16))
                .margin(8)
                .x_label_area_size(36)
                .y_label_area_size(36)
                .build_cartesian_2d(x0..x1, y0..y1)
                .map_err(render)?;
            chart
                .configure_mesh()
                .disable_mesh()
                .x_desc("N per component")
                .y_desc("r")
                .x_labels(n_hi - n_lo + 1)
                .y_labels(r_hi - r_lo + 1)
                .x_label_formatter(&|v| format!("{:.0}", v))
                .y_label_formatter(&|v| format!("{:.0}", v))
                .draw()
                .map_err(render)?;
            chart
                .draw_series(cells.iter().filter(|c| c.k == k).map(|c| {
                    let (n, r) = (c.n as f64, c.r as f64);
                    Rectangle::new(
                        [(n - 0.5, r - 0.5), (n + 0.5, r + 0.5)],
                        shade(c.rate()).filled(),
                    )
                }))
                .map_err(render)?;
            let lo = x0.max(y0);
            let hi = x1.min(y1);
            if lo < hi {
                chart
                    .draw_series(LineSeries::new(
                        vec![(lo, lo), (hi, hi)],
                        RED.stroke_width(2),
                    ))
                    .map_err(render)?;
            }
        }
        root.present().map_err(render)?;
    }
    Ok(buf)
}

fn min_max(it: impl Iterator<Item = usize>) -> (usize, usize) {
    it.fold((usize::MAX, 0), |(a, b), v| (a.min(v), b.max(v)))
}
