//! R11 planted defects.
