//! Plugin SDK: elements as shared objects and Lua scripts.
//!
//! Nothing here yet: plugins will implement `sluice::element::Element` behind a C ABI and
//! be swapped in through the framework's element swap. They arrive with their own issue.
