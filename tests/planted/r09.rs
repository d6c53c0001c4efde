//! R09 planted defects.
