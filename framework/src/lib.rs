//! Sluice runtime.
pub mod error;
pub mod graph;
pub mod lang;
pub mod args;
