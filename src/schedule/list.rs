//! The schedules by name: the one list from which the CLI parses `--schedule`, prints its
//! help and lists the choices in errors, the eval service resolves names, golden manifests
//! name schedules, and the theorem checks draw their instances.
//!
//! Library presets (diffusers, k-diffusion, … tables, see `crate::service::presets`) are
//! tables without derivatives and are listed separately.

use super::{DiscreteTable, RectifiedFlow, Schedule, SubVp, Ve, VpCosine, VpLinear};
use crate::error::{Error, Result};

/// One entry of the schedule list.
#[derive(Debug, Clone, Copy)]
pub struct NamedSchedule {
    /// The name used on the command line, in golden manifests and in model files.
    pub name: &'static str,
    /// What it is, in a few words (for `--help`).
    pub about: &'static str,
    build: fn() -> Box<dyn Schedule>,
}

impl NamedSchedule {
    /// A new instance of the schedule.
    pub fn build(&self) -> Box<dyn Schedule> {
        (self.build)()
    }
}

/// Every schedule the crate defines with its parameters fixed, in the order the help lists
/// them.
pub static SCHEDULES: [NamedSchedule; 8] = [
    NamedSchedule {
        name: "ve",
        about: "variance exploding (EDM, k-diffusion), alpha = 1, beta = t",
        build: || Box::new(Ve),
    },
    NamedSchedule {
        name: "vp-linear",
        about: "variance preserving, linear beta(s) (score_sde)",
        build: || Box::new(VpLinear::score_sde()),
    },
    NamedSchedule {
        name: "vp-cosine",
        about: "variance preserving, cosine (Nichol-Dhariwal)",
        build: || Box::new(VpCosine::nichol_dhariwal()),
    },
    NamedSchedule {
        name: "sub-vp",
        about: "sub-VP (score_sde)",
        build: || Box::new(SubVp::score_sde()),
    },
    NamedSchedule {
        name: "rectified-flow",
        about: "rectified flow, alpha = 1 - t, beta = t",
        build: || Box::new(RectifiedFlow),
    },
    NamedSchedule {
        name: "ddpm-linear",
        about: "DDPM's 1000-step linear beta table, interpolated",
        build: || Box::new(DiscreteTable::ddpm_linear()),
    },
    NamedSchedule {
        name: "ddpm-scaled-linear",
        about: "Stable Diffusion's scaled-linear beta table, interpolated",
        build: || Box::new(DiscreteTable::ddpm_scaled_linear()),
    },
    NamedSchedule {
        name: "ddpm-cosine",
        about: "the cosine (squaredcos_cap_v2) beta table, interpolated",
        build: || Box::new(DiscreteTable::ddpm_cosine()),
    },
];

/// The names of [`SCHEDULES`], in order.
pub fn schedule_names() -> Vec<&'static str> {
    SCHEDULES.iter().map(|s| s.name).collect()
}

/// The schedule called `name`, if there is one.
pub fn find_schedule(name: &str) -> Option<&'static NamedSchedule> {
    SCHEDULES.iter().find(|s| s.name == name)
}

/// A new instance of the schedule called `name`.
///
/// # Errors
/// [`Error::Unknown`] listing the names of [`SCHEDULES`].
///
/// # Examples
/// ```
/// let ve = diffusion_lowdim::schedule::by_name("ve")?;
/// assert_eq!(ve.level(2.0)?.beta(), 2.0);
/// assert!(diffusion_lowdim::schedule::by_name("edm").is_err());
/// # Ok::<(), diffusion_lowdim::Error>(())
/// ```
pub fn by_name(name: &str) -> Result<Box<dyn Schedule>> {
    find_schedule(name)
        .map(NamedSchedule::build)
        .ok_or_else(|| Error::Unknown {
            kind: "schedule",
            name: name.to_string(),
            known: schedule_names().join(", "),
        })
}
