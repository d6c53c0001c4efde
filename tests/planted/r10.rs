//! R10 planted defects.
