//! R08 planted defects.
