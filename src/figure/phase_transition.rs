//! The phase-transition figure (R09): CSV and SVG heat map of recovery rates.
