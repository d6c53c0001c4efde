//! R04 planted defects.
