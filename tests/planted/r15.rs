//! R15 planted defects.
