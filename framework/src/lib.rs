//! Sluice runtime.
pub mod error;
pub mod graph;
pub mod lang;
pub mod args;
pub mod packet;
pub mod batch;
pub mod element;
pub mod ports;
pub mod registry;
pub mod check;
pub mod router;
pub mod qsbr;
pub mod runtime;

pub use batch::{Batch, MAX_BATCH};
pub use element::{BuildCtx, Combine, ConfigError, Ctx, Element, ElementClass, HandlerSpec, InitCtx, State, TaskStatus};
pub use packet::Packet;
pub mod testing;
// pub mod load; (enabled when lang lands)
pub mod dot;
pub mod reference;
