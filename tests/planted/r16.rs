//! R16 planted defects.
