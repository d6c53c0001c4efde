//! R02 planted defects.
