//! The test suite: one binary with a module per result and per component (nalgebra's
//! layout), so that the crate is linked once. `cargo test` runs it; `cargo test -- r10_`
//! runs one result's tests.

mod common;
mod interop_support;
mod planted;

mod architecture;
mod bad_input_files;
mod cli;
mod determinism;
mod eval_quantities;
mod fast_paths;
mod flow_interop;
mod fuzz_api;
mod golden_suite;
mod hostile_input;
mod measure_and_flow_cases;
mod model_files;
mod presets_fixtures;
mod r01_tweedie;
mod r02_r03_gaussian_molrg;
mod r04_empirical;
mod r05_loss;
mod r06_recovery;
mod r07_failure;
mod r08_clustering;
mod r09_phase;
mod r10_probability_flow;
mod r11_pfd;
mod r12_bias_variance;
mod r13_reproduce_memorization_cli;
mod r13_scores;
mod r14_jacobian;
mod r15_hidden_gaussian;
mod r16_perturbation;
mod registry;
mod schedules;
mod subspace_sampler;
