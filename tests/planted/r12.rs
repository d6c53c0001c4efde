//! R12 planted defects.
