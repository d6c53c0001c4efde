//! R14 planted defects.
