//! R07 planted defects.
