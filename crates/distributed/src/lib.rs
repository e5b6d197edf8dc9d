//! `rask-distributed`: a scheduler, workers and a client that talk over TCP.
//!
//! What it is: the [`scheduler`] (an actor over a pure state machine, `scheduler::state`),
//! the [`worker`] (a thread pool that keeps results and serves them to peers), the [`Client`]
//! (futures: `submit`, `map`, `gather`, `wait`, `as_completed`, `cancel`, `persist`; and an
//! [`Executor`](rask_exec::Executor), so `--scheduler tcp://HOST:PORT` works wherever a
//! scheduler is named), and [`LocalCluster`] (a scheduler plus worker processes in one call).
//! Cluster controls: scheduling hints ([`rask_graph::Annotations`]: priority, retries,
//! resources, worker restrictions) on `submit_with`/`map_with`/`compute_with` and graph
//! annotations; tasks that submit tasks ([`worker_client`], [`secede`], [`rejoin`],
//! `fire_and_forget`); coordination held by the scheduler ([`Queue`], [`Variable`], [`Event`],
//! [`Lock`], [`Semaphore`], [`Topic`]).
//! Seeing a run: the scheduler's dashboard (live pages, `/metrics`, JSON), the task stream and
//! stats on the [`Client`], [`performance_report`]s, and [`logging`] through `tracing`.
//! Messages are `rask_protocol::dist` frames; connections authenticate with a shared secret
//! when one is configured ([`auth`]) and run over TLS when that is ([`Security`], `tls://`
//! addresses, mutual TLS with the cluster's CA); functions are resolved by name in each
//! worker's registry.
//!
//! What it is not: a second executor model. The scheduler reuses the graph crate's `Plan` on
//! the client (validation, culling, fusion, order) and workers evaluate the same `Op`s.
//!
//! One crate, not three: scheduler, worker and client share the connection code, the handshake
//! and the message types, and each is a few hundred lines; they are separate modules with no
//! dependencies between them beyond `conn`, `peers` and `auth`.

pub mod adapt;
pub mod auth;
mod client;
mod cluster;
mod conn;
mod coord;
#[doc(hidden)]
pub mod fuzzing;
pub mod logging;
mod memory;
pub mod metrics;
mod nested;
mod peers;
mod report;
pub mod scheduler;
mod sharing;
pub mod store;
mod stream;
pub mod timeouts;
pub mod tls;
pub mod worker;

pub use client::{Arg, AsCompleted, AsCompletedStream, AsyncClient, Client, Future};
pub use cluster::{worker_main_if_requested, ClusterOptions, LocalCluster};
pub use coord::{Event, Item, Lease, Lock, Queue, Semaphore, Subscription, Topic, Variable};
pub use nested::{rejoin, secede, worker_client, WorkerClient};
pub use rask_protocol::dist::{
    GroupStatus, SchedulerStats, StateCounts, TaskEvent, Transfer, WorkerMetrics, WorkerSample, WorkerStatus,
};
pub use report::{performance_report, PerformanceReport};
pub use scheduler::{SchedulerOptions, SchedulerThread};
pub use timeouts::Timeouts;
pub use tls::{Security, TlsFiles};
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
    /// TLS could not be set up or was refused: a bad PEM file, a certificate the peer's CA
    /// did not sign or that has expired, TLS on one side only. The text says which.
    #[error("TLS: {0}")]
    Tls(String),
    #[error("protocol: {0}")]
    Protocol(String),
    #[error(transparent)]
    Graph(#[from] rask_graph::GraphError),
    /// A task failed; the text names its key and the cause.
    #[error("{0}")]
    Task(String),
    /// A task's function failed: the very error a local executor reports (key, function,
    /// cause).
    #[error(transparent)]
    Exec(#[from] rask_exec::ExecError),
    #[error("the scheduler connection is closed: {0}")]
    Closed(String),
    /// A deadline of [`Timeouts`] passed: the text says which wait and how long.
    #[error("timed out: {0}")]
    TimedOut(String),
}

/// Raises this process's soft limit on open files to its hard limit: a scheduler or worker
/// holds a descriptor per connection, and the usual soft limit (1024) is far below what the
/// kernel allows. Returns the limit now in force.
pub fn raise_fd_limit() -> u64 {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: plain system calls on a struct we own.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 0;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit { rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                return raised.rlim_cur;
            }
        }
    }
    limit.rlim_cur
}

static RELEASE_MEMORY: std::sync::OnceLock<fn()> = std::sync::OnceLock::new();

/// Registers how this process gives freed memory back to the system (an allocator's collect,
/// glibc's `malloc_trim`): the scheduler calls it each time it becomes idle, so that an idle
/// scheduler is as small after a million tasks as before them. Binaries that choose their
/// allocator set it; the first call wins.
pub fn set_release_memory(release: fn()) {
    let _ = RELEASE_MEMORY.set(release);
}

pub(crate) fn release_memory() {
    if let Some(release) = RELEASE_MEMORY.get() {
        release();
    }
}
