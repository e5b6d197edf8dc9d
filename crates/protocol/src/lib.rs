//! `rask-protocol`: the messages rask's processes exchange, and how they are framed.
//!
//! What it is: message types ([`ToWorker`], [`FromWorker`], [`WireValue`], [`OpMsg`]) encoded
//! with serde + postcard, inside frames that carry a length, a version and a hard size limit
//! ([`frame`]). Decoding is total: truncated, corrupt, oversized or wrong-version bytes give a
//! [`FrameError`], never a panic (`cargo xtask fuzz protocol` checks that).
//!
//! What it is not: a transport. Frames go wherever the caller puts them — a shared-memory ring
//! (the multiprocess executor), a pipe, a socket ([`io`] has blocking stream helpers) — so the
//! same messages serve every transport.
//!
//! Main types: [`FrameError`], [`ToWorker`], [`FromWorker`], [`WireValue`], [`OpMsg`], [`OpRef`];
//! the distributed layer's messages are in [`dist`].

pub mod coord;
pub mod dist;
pub mod frame;
pub mod io;
mod messages;
mod task;

pub use frame::{FrameError, DEFAULT_MAX_FRAME, VERSION};
pub use messages::{
    FromWorker, Layout, RunTask, RunTaskRef, SharedRef, TaskDone, TaskFailure, ToWorker, ToWorkerRef, WireValue,
};
pub use task::{OpMsg, OpRef, ResolveError};

#[cfg(test)]
mod tests;
