//! Figures and tables of the reproduction studies: pure functions from
//! computed data to CSV text and SVG documents (plotters' SVG backend, no
//! system fonts). Writing files is the caller's job (the CLI writes them
//! atomically).

pub mod memorization;
pub mod phase_transition;
