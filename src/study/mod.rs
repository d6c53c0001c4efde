//! Studies: sweeps over many random instances that reproduce a paper's figure or table,
//! built from the core (`reproduce` commands and their figures are thin shells over them).
//!
//! | study | result | reproduces |
//! |---|---|---|
//! | [`phase_transition`](mod@phase_transition) | R09 | the sample-complexity phase transition (arXiv:2409.02426 Fig. 3) |
//! | [`memorization`](mod@memorization) | R13 | RP / GL of low-rank vs memorizing denoisers over $N$ |
//! | [`small_ball`](mod@small_ball) | R07 | the small-ball probability against its bound |

pub mod memorization;
pub mod phase_transition;
pub mod small_ball;

pub use memorization::{LOW_RANK, MEMORIZING, MemorizationRow, MemorizationStudy};
pub use phase_transition::{CellResult, PhaseConfig, phase_transition, transitions};
pub use small_ball::{SmallBallRow, small_ball_table};
