//! R03 planted defects.
