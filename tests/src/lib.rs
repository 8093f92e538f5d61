//! Test host.
