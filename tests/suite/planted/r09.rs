//! R09 planted defects.

use diffusion_lowdim::Result;
use diffusion_lowdim::rng::SeededRng;
use diffusion_lowdim::theorem::r09::{self, Subject};
use faer::{Mat, MatRef};

use super::r08::assert_caught;
use super::r08::{bad_step, wrong_rank};
use super::run;

/// K-subspaces with rank $r - 1$, completed at random.
struct WrongRank;
impl Subject for WrongRank {
    fn k_subspaces(
        &self,
        x: MatRef<'_, f64>,
        k: usize,
        r: usize,
        rng: &mut SeededRng,
    ) -> Result<Vec<Mat<f64>>> {
        wrong_rank(x, k, r, rng)
    }
}

/// K-subspaces whose cluster PCA keeps the smallest singular vectors.
struct SmallestVectors;
impl Subject for SmallestVectors {
    fn k_subspaces(
        &self,
        x: MatRef<'_, f64>,
        k: usize,
        r: usize,
        rng: &mut SeededRng,
    ) -> Result<Vec<Mat<f64>>> {
        bad_step(x, k, r, rng, true, true)
    }
}

/// K-subspaces whose assignment sends each point to the subspace it projects on least.
struct LeastAssignment;
impl Subject for LeastAssignment {
    fn k_subspaces(
        &self,
        x: MatRef<'_, f64>,
        k: usize,
        r: usize,
        rng: &mut SeededRng,
    ) -> Result<Vec<Mat<f64>>> {
        bad_step(x, k, r, rng, false, false)
    }
}

/// The subspace distance without its square root ($\|UU^\top - VV^\top\|_F^2$).
struct DistanceSquared;
impl Subject for DistanceSquared {
    fn subspace_distance(&self, u: MatRef<'_, f64>, v: MatRef<'_, f64>) -> Result<f64> {
        Ok(diffusion_lowdim::reduction::subspace_distance(u, v)?.powi(2))
    }
}

#[test]
fn r09_planted_wrong_rank() {
    let report = run("R09", 20, |rng| r09::run_case_with(rng, &WrongRank));
    assert_caught(&report, "recovers_all");
    assert_caught(&report, "deficient_optimal");
}

#[test]
fn r09_planted_smallest_vectors() {
    let report = run("R09", 20, |rng| r09::run_case_with(rng, &SmallestVectors));
    assert_caught(&report, "recovers_all");
    assert_caught(&report, "noisy_optimal");
}

#[test]
fn r09_planted_least_assignment() {
    let report = run("R09", 20, |rng| r09::run_case_with(rng, &LeastAssignment));
    assert_caught(&report, "recovers_all");
}

#[test]
fn r09_planted_distance_squared() {
    let report = run("R09", 20, |rng| r09::run_case_with(rng, &DistanceSquared));
    assert_caught(&report, "optimal_with_error");
}
