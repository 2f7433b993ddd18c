//! The control plane: Click's ControlSocket protocol over Unix and TCP sockets, served by
//! actix actors, acting on a running router through a [`RouterHost`].
//!
//! `protocol` parses command lines and formats replies, `commands` carries a command out on
//! the host, `host` owns the running router (handlers, swaps, hot-swaps), `server` is the
//! actix side (an actor owning the host, one task per connection), and `element` is the
//! `ControlSocket` element through which a graph asks for a socket, as in Click.

pub mod client;
pub mod commands;
pub mod element;
pub mod host;
pub mod protocol;
pub mod server;

pub use element::CONTROL_SOCKET;
pub use host::RouterHost;
pub use server::{ControlPlane, Endpoint, ListenerSpec};
