//! R06 planted defects.
