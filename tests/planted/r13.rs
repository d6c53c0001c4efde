//! R13 planted defects.
