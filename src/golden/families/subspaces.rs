//! Principal angles and their sines (`eval subspaces --out-angles / --out-sines`; issue 14),
//! down to angles of 1e-9.
//!
//! Inputs: $U = [e_{\pi(1)} \dots e_{\pi(p)}]$ and $V$ with columns
//! $v_j = \cos\theta_j\,e_{\pi(j)} + \sin\theta_j\,e_{\pi(p+j)}$ for a seeded coordinate permutation
//! $\pi$: every column pair has disjoint supports, so the stored f64 bases are exactly
//! orthogonal and the principal sines of the stored pair are the normalized
//! $|\mathrm{fl}(\sin\theta_j)|/\|v_j\|$, computed in double-double
//! ([`reference::line_sine`]); the angles are their arcsines (or the arccosines of the
//! normalized cosines above $\pi/4$).
//!
//! Conditioning: under componentwise relative perturbations $\varepsilon_T$ of the inputs
//! (zeros stay zero, as for every family) each sine and angle moves by a relative
//! $O(\varepsilon_T)$: the tolerance is $8\gamma_T(d + q)$ relative to the value itself (an
//! implementation through $\sqrt{1 - \cos^2}$ or $\sin(\arccos c)$ fails by 1e-7 at 1e-9).

use rand::seq::SliceRandom;

use super::SuiteBuilder;
use crate::golden::export::NewCase;
use crate::golden::tolerance::{C, PointTolerance, gamma};
use crate::io::Result;
use crate::io::npy::Array;
use crate::reference;
use crate::service::eval::compare_subspaces;

pub(super) fn build(s: &mut SuiteBuilder) -> Result<()> {
    let mut rng = s.rng("subspaces");
    let sets: [(&str, Vec<f64>); 3] = [
        ("tiny", vec![1e-9, 3e-9, 1e-7]),
        ("mixed", vec![1e-9, 1e-4, 0.3, 1.2]),
        (
            "orthogonal",
            vec![
                0.0,
                std::f64::consts::FRAC_PI_2,
                std::f64::consts::FRAC_PI_4,
            ],
        ),
    ];
    for (tag, thetas) in sets {
        let q = thetas.len();
        let p = q + 1;
        let d = p + q + 2;
        let mut perm: Vec<usize> = (0..d).collect();
        perm.shuffle(&mut rng);
        let mut u = faer::Mat::<f64>::zeros(d, p);
        for j in 0..p {
            u[(perm[j], j)] = 1.0;
        }
        let mut v = faer::Mat::<f64>::zeros(d, q);
        for (j, th) in thetas.iter().enumerate() {
            v[(perm[j], j)] = th.cos();
            v[(perm[p + j], j)] = th.sin();
        }
        // The oracle: sines of the stored columns (disjoint supports: the principal sines).
        let mut sines: Vec<f64> = (0..q)
            .map(|j| {
                let vj: Vec<f64> = (0..d).map(|i| v[(i, j)]).collect();
                reference::line_sine(u.as_ref(), &vj)
            })
            .collect();
        let mut angles: Vec<f64> = (0..q)
            .map(|j| {
                let (c, sn) = (
                    reference::q(v[(perm[j], j)]),
                    reference::q(v[(perm[p + j], j)]),
                );
                let norm = (c * c + sn * sn).sqrt();
                if sines[j] <= std::f64::consts::FRAC_1_SQRT_2 {
                    sines[j].asin()
                } else {
                    reference::f(c.abs() / norm).acos()
                }
            })
            .collect();
        sines.sort_by(f64::total_cmp);
        angles.sort_by(f64::total_cmp);
        let c = compare_subspaces(u.as_ref(), v.as_ref())?;
        // Relative to the value; an exactly zero angle absolutely (scale 1).
        let tol = |value: f64| {
            let scale = if value > 0.0 { value } else { 1.0 };
            PointTolerance::from_fn(scale, |t| C * gamma(t, d + q))
        };
        let desc =
            format!("bases U (d = {d}, p = {p}) and V (q = {q}) at principal angles {thetas:?}");
        for (kind, flag, expected, got) in [
            (
                "principal_sines",
                "--out-sines",
                sines.clone(),
                c.sines.clone(),
            ),
            (
                "principal_angles",
                "--out-angles",
                angles.clone(),
                c.principal_angles.clone(),
            ),
        ] {
            let id = format!("subspaces-{}-{tag}", kind.replace('_', "-"));
            s.add_case(NewCase {
                command: format!(
                    "diffusion-lowdim eval subspaces --u cases/{id}/u.npy --v cases/{id}/v.npy {flag} {id}.npy"
                ),
                description: format!("{} of {desc}", kind.replace('_', " ")),
                points: expected.iter().map(|&e| tol(e)).collect(),
                expected: Array::from_vec(expected),
                crate_value: Array::from_vec(got),
                id,
                family: "subspaces",
                kind,
                params: serde_json::json!({}),
                model: None,
                level: None,
                inputs: vec![
                    ("u", Array::from_batch(u.transpose())),
                    ("v", Array::from_batch(v.transpose())),
                ],
            })?;
        }
    }
    Ok(())
}
