//! R01 planted defects.
