//! The standard element library.
