//! Determinism: the same seed gives the same bits, on every run and for any
//! number of threads.

use diffusion_lowdim::linalg::random_orthonormal;
use diffusion_lowdim::model::{Denoiser, ExactModel};
use diffusion_lowdim::rng::{seeded, standard_normal};
use diffusion_lowdim::theorem::{CheckConfig, CheckReport, run};
use diffusion_lowdim::{Empirical, Gaussian, Molrg, NoiseLevel};
use faer::Mat;

fn pool(n: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build()
        .unwrap()
}

/// Everything in a report except wall time, as bit patterns.
fn fingerprint(r: &CheckReport) -> Vec<(String, u64, u64, usize, Option<String>)> {
    r.results
        .iter()
        .flat_map(|res| {
            res.facets.iter().map(move |f| {
                (
                    format!("{}:{}", res.id, f.name),
                    f.max_error.to_bits(),
                    f.tolerance.to_bits(),
                    f.failures,
                    res.worst_instance.clone(),
                )
            })
        })
        .collect()
}

#[test]
fn check_report_is_bit_identical_across_runs_and_thread_counts() {
    let config = CheckConfig {
        seed: 42,
        cases: 40,
        only: None,
    };
    let one = pool(1).install(|| run(&config).unwrap());
    let four = pool(4).install(|| run(&config).unwrap());
    let again = run(&config).unwrap();
    assert_eq!(fingerprint(&one), fingerprint(&four));
    assert_eq!(fingerprint(&one), fingerprint(&again));
    // A different seed gives different instances.
    let other = run(&CheckConfig { seed: 43, ..config }).unwrap();
    assert_ne!(fingerprint(&one), fingerprint(&other));
}

fn bits(m: &Mat<f64>) -> Vec<u64> {
    (0..m.ncols())
        .flat_map(|j| (0..m.nrows()).map(move |i| m[(i, j)].to_bits()))
        .collect()
}

#[test]
fn batch_evaluation_is_bit_identical_for_1_and_4_threads() {
    let mut rng = seeded(9);
    let d = 48;
    let q = random_orthonormal(&mut rng, d, 12).unwrap();
    let molrg = Molrg::uniform(&[q.as_ref().subcols(0, 4), q.as_ref().subcols(4, 8)]).unwrap();
    let gauss = Gaussian::subspace(q.as_ref().subcols(0, 6)).unwrap();
    let emp = Empirical::new(molrg.sample_x0(&mut rng, 300).as_ref()).unwrap();
    // 1000 columns: several parallel blocks.
    let x = standard_normal(&mut rng, d, 1000);
    let level = NoiseLevel::new(0.9, 0.05).unwrap();
    let models: [&dyn Denoiser; 3] = [&molrg, &gauss, &emp];
    for m in models {
        let a = pool(1).install(|| {
            (
                m.posterior_mean(x.as_ref(), level).unwrap(),
                m.score(x.as_ref(), level).unwrap(),
            )
        });
        let b = pool(4).install(|| {
            (
                m.posterior_mean(x.as_ref(), level).unwrap(),
                m.score(x.as_ref(), level).unwrap(),
            )
        });
        assert_eq!(bits(&a.0), bits(&b.0));
        assert_eq!(bits(&a.1), bits(&b.1));
    }
}

#[test]
fn sampling_is_reproducible() {
    let q = random_orthonormal(&mut seeded(1), 10, 3).unwrap();
    let m = Molrg::new(
        &[0.25, 0.75],
        &[q.as_ref().subcols(0, 1), q.as_ref().subcols(1, 2)],
    )
    .unwrap();
    let a = m.sample_x0(&mut seeded(5), 100);
    let b = m.sample_x0(&mut seeded(5), 100);
    let c = m.sample_x0(&mut seeded(6), 100);
    assert_eq!(bits(&a), bits(&b));
    assert_ne!(bits(&a), bits(&c));
}

/// A flow map that hides its column independence, forcing `Pfd` to map all
/// noises as one batch.
struct Coupled<'a>(&'a dyn diffusion_lowdim::flow::FlowMap);

impl diffusion_lowdim::flow::FlowMap for Coupled<'_> {
    fn dim(&self) -> usize {
        self.0.dim()
    }
    fn map(&self, x: faer::MatRef<'_, f64>) -> diffusion_lowdim::Result<Mat<f64>> {
        self.0.map(x)
    }
}

#[test]
fn pfd_in_noise_blocks_gives_the_same_bits_as_one_batch() {
    use diffusion_lowdim::flow::{Euler, FlowMap, GaussianFlow, Heun, Sampler, TimeGrid};
    use diffusion_lowdim::metric::Pfd;
    use diffusion_lowdim::schedule::Ve;
    let mut rng = seeded(17);
    let d = 24;
    let q = random_orthonormal(&mut rng, d, 9).unwrap();
    let a = Molrg::uniform(&[q.as_ref().subcols(0, 3), q.as_ref().subcols(3, 3)]).unwrap();
    let b = Molrg::uniform(&[q.as_ref().subcols(0, 3), q.as_ref().subcols(6, 3)]).unwrap();
    let emp = Empirical::new(a.sample_x0(&mut rng, 40).as_ref()).unwrap();
    let g = Gaussian::subspace(q.as_ref().subcols(0, 4)).unwrap();
    let grid = TimeGrid::edm(&Ve, 12).unwrap();
    let pfd = Pfd::new(80.0, 700).unwrap(); // 700 noises: blocks of 256, 256, 188
    let noises = pfd.noises(d, &mut rng);
    let sa = Sampler::new(&Ve, &a, &Heun, grid.clone());
    let sb = Sampler::new(&Ve, &b, &Heun, grid.clone());
    let se = Sampler::new(&Ve, &emp, &Euler, grid.clone());
    let exact = GaussianFlow::between(&g, NoiseLevel::ve(80.0).unwrap(), 1.0, 0.0).unwrap();
    let pairs: [(&dyn FlowMap, &dyn FlowMap); 3] = [(&sa, &sb), (&sa, &se), (&se, &exact)];
    for (p, r) in pairs {
        assert!(p.columnwise() && r.columnwise());
        let blocked = pool(3).install(|| pfd.estimate_on(p, r, noises.as_ref()).unwrap());
        let whole = pfd
            .estimate_on(&Coupled(p), &Coupled(r), noises.as_ref())
            .unwrap();
        let to_bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(
            to_bits(&blocked.squared_distances),
            to_bits(&whole.squared_distances)
        );
        assert_eq!(blocked.estimate.to_bits(), whole.estimate.to_bits());
    }
}
