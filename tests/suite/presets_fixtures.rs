//! Library schedule presets against tables generated once by the real libraries
//! (diffusers 0.42.1, torch 2.15.0 on a CPU, k-diffusion 0.1.1.post1; NVlabs EDM and
//! score_sde transcribed from their source): see tests/fixtures/presets/README.md.
//! float32 tables must match bit for bit, float64 tables to 1 ulp.

use std::path::{Path, PathBuf};

use diffusion_lowdim::io::npy;
use diffusion_lowdim::service::presets::{
    Precision, Spacing, TableOptions, diffusers_timesteps, find, torch_linspace_f32,
    torch_linspace_f64,
};

fn fixture(name: &str) -> Vec<f64> {
    let p: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/presets")
        .join(format!("{name}.npy"));
    npy::read(&p).unwrap().into_data()
}

fn native(preset: &str, o: &TableOptions, column: &str) -> Vec<f64> {
    let t = find(preset).unwrap().table(o).unwrap();
    t.native
        .iter()
        .find(|(k, _)| *k == column)
        .unwrap_or_else(|| panic!("{preset} has no column {column}"))
        .1
        .clone()
}

fn f32_options(steps: Option<usize>) -> TableOptions {
    TableOptions {
        precision: Precision::F32,
        steps,
        ..TableOptions::default()
    }
}

#[track_caller]
fn assert_bits(name: &str, ours: &[f64], theirs: &[f64]) {
    assert_eq!(ours.len(), theirs.len(), "{name}: length");
    let bad: Vec<usize> = (0..ours.len())
        .filter(|&i| ours[i].to_bits() != theirs[i].to_bits())
        .collect();
    assert!(
        bad.is_empty(),
        "{name}: {} of {} entries differ, first at {}: {:e} vs {:e}",
        bad.len(),
        ours.len(),
        bad[0],
        ours[bad[0]],
        theirs[bad[0]]
    );
}

/// Distance in units in the last place between two f64 of the same sign.
fn ulps(a: f64, b: f64) -> u64 {
    (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs()
}

#[track_caller]
fn assert_ulps(name: &str, ours: &[f64], theirs: &[f64], max: u64) {
    assert_eq!(ours.len(), theirs.len(), "{name}: length");
    for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
        assert!(
            ulps(*a, *b) <= max,
            "{name}[{i}]: {a:e} vs {b:e} ({} ulps)",
            ulps(*a, *b)
        );
    }
}

#[test]
fn diffusers_float32_betas_and_alphas_cumprod_are_bit_identical() {
    for (preset, tag) in [
        ("diffusers-linear", "linear"),
        ("diffusers-scaled-linear", "scaled_linear"),
        ("diffusers-squaredcos-cap-v2", "squaredcos_cap_v2"),
    ] {
        let o = f32_options(None);
        assert_bits(
            &format!("{preset} betas"),
            &native(preset, &o, "betas"),
            &fixture(&format!("diffusers_{tag}_betas")),
        );
        assert_bits(
            &format!("{preset} alphas_cumprod"),
            &native(preset, &o, "alphas_cumprod"),
            &fixture(&format!("diffusers_{tag}_alphas_cumprod")),
        );
    }
}

#[test]
fn diffusers_f64_tables_differ_from_float32_by_float32_rounding_only() {
    // The f64 ground truth and diffusers' float32 table differ by the float32
    // roundings of 1000 betas and products. Measured maxima: 3.6e-7 (linear), 9.3e-7
    // (scaled_linear), 1.3e-5 (squaredcos_cap_v2, at t = 999 where alphas_cumprod ≈ 2e-9
    // and betas are clipped at 0.999). Bound: 1e-6 before t = 990, 1e-4 after.
    for (preset, tag) in [
        ("diffusers-linear", "linear"),
        ("diffusers-scaled-linear", "scaled_linear"),
        ("diffusers-squaredcos-cap-v2", "squaredcos_cap_v2"),
    ] {
        let ours = native(preset, &TableOptions::default(), "alphas_cumprod");
        let theirs = fixture(&format!("diffusers_{tag}_alphas_cumprod"));
        for (t, (a, b)) in ours.iter().zip(&theirs).enumerate() {
            let rel = ((a - b) / a).abs();
            let bound = if t < 990 { 1e-6 } else { 1e-4 };
            assert!(rel < bound, "{preset}[{t}]: relative difference {rel:e}");
        }
    }
}

#[test]
fn diffusers_timesteps_match_set_timesteps() {
    for (steps, spacing, offset, name) in [
        (50, Spacing::Leading, 1, "leading_50_offset1"),
        (50, Spacing::Leading, 0, "leading_50_offset0"),
        (50, Spacing::Trailing, 0, "trailing_50_offset0"),
        (50, Spacing::Linspace, 0, "linspace_50_offset0"),
        (7, Spacing::Trailing, 0, "trailing_7_offset0"),
        (13, Spacing::Linspace, 0, "linspace_13_offset0"),
        (999, Spacing::Linspace, 0, "linspace_999_offset0"),
    ] {
        let ours: Vec<f64> = diffusers_timesteps(1000, steps, spacing, offset)
            .unwrap()
            .into_iter()
            .map(|t| t as f64)
            .collect();
        assert_bits(
            name,
            &ours,
            &fixture(&format!("diffusers_timesteps_{name}")),
        );
    }
}

/// Distance in float32 ulps.
fn ulps32(a: f64, b: f64) -> u32 {
    ((a as f32).to_bits() as i64 - (b as f32).to_bits() as i64).unsigned_abs() as u32
}

#[test]
fn k_diffusion_sigma_grids_match_in_float32_and_to_one_ulp_in_float64() {
    // PyTorch evaluates `** rho` and `.exp()` on float32 tensors with SLEEF's vectorized
    // pow/exp (error ≤ 1 ulp); the crate rounds correctly. The 18-step grids agree bit for
    // bit; longer grids differ by 1 float32 ulp in about 1% of the entries (measured: 1 of
    // 51 and 8 (karras) / 13 (exponential) of 1001 entries).
    for n in [18usize, 50, 1000] {
        for (preset, tag) in [
            ("k-diffusion-karras", "karras"),
            ("k-diffusion-exponential", "exponential"),
        ] {
            let ours = native(preset, &f32_options(Some(n)), "sigmas");
            let theirs = fixture(&format!("kdiffusion_{tag}_{n}_f32"));
            if n == 18 {
                assert_bits(&format!("{preset} n={n} f32"), &ours, &theirs);
            }
            assert_eq!(ours.len(), theirs.len());
            let differ = ours
                .iter()
                .zip(&theirs)
                .filter(|(a, b)| ulps32(**a, **b) > 0)
                .count();
            assert!(
                ours.iter().zip(&theirs).all(|(a, b)| ulps32(*a, *b) <= 1),
                "{preset} n={n}: more than 1 float32 ulp apart"
            );
            assert!(
                differ * 50 <= n + 1,
                "{preset} n={n}: {differ} entries differ"
            );
            if n <= 50 {
                let o = TableOptions {
                    steps: Some(n),
                    ..TableOptions::default()
                };
                assert_ulps(
                    &format!("{preset} n={n} f64"),
                    &native(preset, &o, "sigmas"),
                    &fixture(&format!("kdiffusion_{tag}_{n}_f64")),
                    1,
                );
            }
        }
    }
}

#[test]
fn edm_grid_matches_the_float64_transcription_to_one_ulp() {
    let ours = native("edm", &TableOptions::default(), "sigmas");
    assert_eq!(ours.len(), 19);
    assert_eq!(ours[18], 0.0);
    assert_ulps("edm", &ours, &fixture("edm_sigmas_18_f64"), 1);
}

#[test]
fn torch_linspace_reproduction_matches_score_sde_time_grids() {
    for (eps, tag) in [(1e-3, "vp"), (1e-5, "ve")] {
        let f32s: Vec<f64> = torch_linspace_f32(1.0, eps, 1000)
            .into_iter()
            .map(f64::from)
            .collect();
        assert_bits(
            &format!("{tag} f32"),
            &f32s,
            &fixture(&format!("score_sde_{tag}_timesteps_1000_f32")),
        );
        assert_bits(
            &format!("{tag} f64"),
            &torch_linspace_f64(1.0, eps, 1000),
            &fixture(&format!("score_sde_{tag}_timesteps_1000_f64")),
        );
    }
}

/// Options of a σ grid in float32 with a range and ρ.
fn grid_options(n: usize, smin: f64, smax: f64, rho: Option<f64>) -> TableOptions {
    TableOptions {
        precision: Precision::F32,
        steps: Some(n),
        sigma_min: Some(smin),
        sigma_max: Some(smax),
        rho,
        ..TableOptions::default()
    }
}

/// Counts entries more than 0 float32 ulps apart; asserts none is more than `max`.
#[track_caller]
fn f32_ulps_at_most(name: &str, ours: &[f64], theirs: &[f64], max: u32) -> usize {
    assert_eq!(ours.len(), theirs.len(), "{name}: length");
    for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
        assert!(
            ulps32(*a, *b) <= max,
            "{name}[{i}]: {a:e} vs {b:e} ({} float32 ulps)",
            ulps32(*a, *b)
        );
    }
    ours.iter()
        .zip(theirs)
        .filter(|(a, b)| ulps32(**a, **b) > 0)
        .count()
}

/// Issue 14's k-diffusion grids: other σ ranges and ρ (including ρ = 3, where PyTorch's `pow`
/// takes its `x*x*x` special case, and n = 1 and σ_min = σ_max, which k-diffusion accepts) and
/// `get_sigmas_vp`, against the real k-diffusion 0.1.1.post1 on torch 2.15.0 (CPU, AVX512).
/// The Karras and exponential grids agree bit for bit (159 entries). The float32 VP grids agree to
/// 1 ulp: 180 of 1 084 entries differ, because torch's float32 `sqrt` and `exp` are not correctly
/// rounded and the crate's are: the crate's grid equals, bit for bit, a correctly rounded
/// `sqrt(exp(x) − 1)` of torch's own float32 `x` (the `_correctly_rounded` fixtures). The f64 VP grids
/// within k-diffusion's own cancellation error.
#[test]
fn k_diffusion_grids_with_other_ranges_match_to_one_float32_ulp() {
    let mut differing = 0;
    for (n, smin, smax, rho) in [
        (1, 0.002, 80.0, 7.0),
        (10, 0.0292, 14.6146, 3.0),
        (18, 0.0292, 14.6146, 7.0),
        (25, 0.03, 120.0, 2.0),
        (40, 0.002, 80.0, 5.5),
        (5, 1.0, 1.0, 7.0),
    ] {
        let name = format!("kdiffusion_karras_{n}_{smin:?}_{smax:?}_rho{rho:?}_f32");
        let ours = native(
            "k-diffusion-karras",
            &grid_options(n, smin, smax, Some(rho)),
            "sigmas",
        );
        let theirs = fixture(&name);
        differing += f32_ulps_at_most(&name, &ours, &theirs, 1);
    }
    for (n, smin, smax) in [(1, 0.002, 80.0), (10, 0.0292, 14.6146), (40, 0.03, 120.0)] {
        let name = format!("kdiffusion_exponential_{n}_{smin:?}_{smax:?}_f32");
        let ours = native(
            "k-diffusion-exponential",
            &grid_options(n, smin, smax, None),
            "sigmas",
        );
        differing += f32_ulps_at_most(&name, &ours, &fixture(&name), 1);
    }
    assert_eq!(
        differing, 0,
        "Karras / exponential grids: {differing} entries differ"
    );
    for n in [1, 10, 18, 50, 1000] {
        let name = format!("kdiffusion_vp_{n}_f32");
        let ours = native("k-diffusion-vp", &f32_options(Some(n)), "sigmas");
        let correct = format!("{name}_correctly_rounded");
        assert_bits(&correct, &ours, &fixture(&correct));
        f32_ulps_at_most(&name, &ours, &fixture(&name), 1);
    }
    // f64: the crate's VP grid is the ground truth √(expm1(x)); k-diffusion's √(exp(x) − 1) in
    // float64 loses accuracy where x is small, by ε·eˣ/(eˣ − 1) relative (plus a few roundings).
    for n in [10, 50] {
        let o = TableOptions {
            steps: Some(n),
            ..TableOptions::default()
        };
        let ours = native("k-diffusion-vp", &o, "sigmas");
        let theirs = fixture(&format!("kdiffusion_vp_{n}_f64"));
        let t = torch_linspace_f64(1.0, 1e-3, n);
        for i in 0..n {
            let x = 19.9 * t[i] * t[i] / 2.0 + 0.1 * t[i];
            let bound = 4.0 * f64::EPSILON * (2.0 - 1.0 / (-x).exp_m1());
            let rel = ((ours[i] - theirs[i]) / ours[i]).abs();
            assert!(
                rel <= bound,
                "k-diffusion-vp n={n} f64[{i}]: relative {rel:e} > {bound:e}"
            );
        }
        assert_eq!(theirs[n], 0.0);
    }
}

/// diffusers' `EulerDiscreteScheduler` sigmas and `init_noise_sigma` (float32), with and without
/// `use_karras_sigmas`, every spacing, 1 to 50 steps and `steps_offset`, for the three beta
/// schedules, against the real diffusers 0.42.1.
///
/// diffusers computes the training sigmas with torch's float32 `((1 − ᾱ)/ᾱ) ** 0.5`, which is not
/// correctly rounded (182 of the 1000 squaredcos entries differ from the correctly rounded square
/// root); the crate rounds correctly. The fixtures therefore hold each table twice: as diffusers
/// computes it, and as diffusers computes it with that one `** 0.5` replaced by a correctly
/// rounded square root (`_crsqrt`). The crate must equal the second **bit for bit** — so every
/// difference from the first is torch's square root — and is then within 1 float32 ulp of
/// diffusers, or 2 ulps for Karras grids, whose ends are table entries that torch may have
/// rounded 1 ulp off and whose interior inherits that relative error before its own rounding.
#[test]
fn diffusers_euler_sigmas_match_up_to_torchs_square_root() {
    let spacing = |s: &str| match s {
        "linspace" => Spacing::Linspace,
        "leading" => Spacing::Leading,
        _ => Spacing::Trailing,
    };
    let mut cases: Vec<(Option<usize>, &str, bool, usize)> = vec![(None, "linspace", false, 0)];
    for steps in [1, 10, 25] {
        for sp in ["linspace", "leading", "trailing"] {
            for karras in [false, true] {
                cases.push((Some(steps), sp, karras, 0));
            }
        }
    }
    cases.push((Some(50), "leading", false, 1));
    cases.push((Some(50), "leading", true, 1));
    for (preset, tag) in [
        ("diffusers-euler-linear", "linear"),
        ("diffusers-euler-scaled-linear", "scaled_linear"),
        ("diffusers-euler-squaredcos-cap-v2", "squaredcos_cap_v2"),
    ] {
        for &(steps, sp, karras, offset) in &cases {
            let mut name = match steps {
                None => "train".to_string(),
                Some(n) => format!("{n}_{sp}_{}", if karras { "karras" } else { "plain" }),
            };
            if offset > 0 {
                name.push_str(&format!("_offset{offset}"));
            }
            let o = TableOptions {
                precision: Precision::F32,
                steps,
                spacing: spacing(sp),
                steps_offset: offset,
                karras,
                ..TableOptions::default()
            };
            for column in ["sigmas", "init_noise_sigma"] {
                let fx = format!("diffusers_euler_{tag}_{name}_{column}");
                let ours = native(preset, &o, column);
                assert_bits(
                    &format!("{fx} (correct sqrt)"),
                    &ours,
                    &fixture(&format!("{fx}_crsqrt")),
                );
                f32_ulps_at_most(&fx, &ours, &fixture(&fx), if karras { 2 } else { 1 });
            }
        }
    }
}
