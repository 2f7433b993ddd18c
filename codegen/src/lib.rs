//! Run-time specialization of elements through LLVM (inkwell).
//!
//! Nothing here yet: the seam it will plug into is the framework's element swap
//! (`sluice::router` replaces an element's implementation behind its trampolines after
//! handing over its state). The LLVM JIT arrives with its own issue.
