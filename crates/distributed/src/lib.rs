//! `rask-distributed`: a scheduler, workers and a client that talk over TCP.
//!
//! What it is: the [`scheduler`] (an actor over a pure state machine, `scheduler::state`),
//! the [`worker`] (a thread pool that keeps results and serves them to peers), the [`Client`]
//! (futures: `submit`, `map`, `gather`, `wait`, `as_completed`, `cancel`, `persist`; and an
//! [`Executor`](rask_exec::Executor), so `--scheduler tcp://HOST:PORT` works wherever a
//! scheduler is named), and [`LocalCluster`] (a scheduler plus worker processes in one call).
//! Messages are `rask_protocol::dist` frames; connections authenticate with a shared secret
//! when one is configured ([`auth`]); functions are resolved by name in each worker's registry.
//!
//! What it is not: a second executor model. The scheduler reuses the graph crate's `Plan` on
//! the client (validation, culling, fusion, order) and workers evaluate the same `Op`s.
//!
//! One crate, not three: scheduler, worker and client share the connection code, the handshake
//! and the message types, and each is a few hundred lines; they are separate modules with no
//! dependencies between them beyond `conn`, `peers` and `auth`.

pub mod auth;
mod client;
mod cluster;
mod conn;
mod peers;
pub mod scheduler;
pub mod store;
pub mod worker;

pub use client::{Arg, AsCompleted, Client, Future};
pub use cluster::{worker_main_if_requested, LocalCluster};
pub use rask_protocol::dist::SchedulerStats;
pub use scheduler::SchedulerThread;
pub use worker::WorkerOptions;

/// What can go wrong talking to a cluster.
#[derive(Debug, thiserror::Error)]
pub enum DistError {
    #[error("network: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Frame(#[from] rask_protocol::FrameError),
    #[error("authentication failed: {0}")]
    Auth(String),
    #[error("protocol: {0}")]
    Protocol(String),
    #[error(transparent)]
    Graph(#[from] rask_graph::GraphError),
    /// A task failed; the text names its key and the cause.
    #[error("{0}")]
    Task(String),
    #[error("the scheduler connection is closed: {0}")]
    Closed(String),
}

/// The shared secret from `RASK_SECRET`, if set.
pub fn secret_from_env() -> Option<Vec<u8>> {
    std::env::var_os("RASK_SECRET").map(|s| s.into_encoded_bytes())
}
