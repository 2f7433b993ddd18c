//! Sluice runtime.
pub mod args;
pub mod batch;
pub mod check;
pub mod element;
pub mod error;
pub mod graph;
pub mod lang;
pub mod packet;
pub mod ports;
pub mod qsbr;
pub mod registry;
pub mod resume;
pub mod router;
pub mod runtime;
pub mod script;

pub use batch::{Batch, MAX_BATCH};
pub use element::{
    BuildCtx, Combine, ConfigError, Ctx, Element, ElementClass, HandlerSpec, InitCtx, State, TaskStatus,
};
pub use packet::Packet;
pub mod control;
pub mod dot;
pub mod drops;
pub mod load;
pub mod plugin;
pub mod reference;
pub mod testing;
