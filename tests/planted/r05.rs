//! R05 planted defects.
