//! `rask-exec`: executors that run a compiled [`Plan`] and return the requested values.
//!
//! What it is: the [`Executor`] trait, the single-threaded [`SyncExecutor`], the
//! [`ThreadedExecutor`] (lock-free counters, work stealing, loom-checked), the
//! `ProcessExecutor` (worker processes, shared-memory rings and results), the scheduler
//! names that the CLI and library accept ([`Scheduler`]), and the [`get`] entry points that
//! parse nothing: they take a [`Graph`], compile it and run it.
//!
//! What it is not: a graph model or optimizer (that is `rask-graph`, which every executor
//! shares, so all of them agree on order, culling and errors), nor a network service.
//!
//! Main types: [`Executor`], [`Scheduler`], [`ExecError`], [`Outcome`], [`RunStats`]; and
//! [`handoff`], the wake-on-demand job queue and outbox a cluster worker's threads share.

mod duration;
mod error;
pub mod handoff;
#[cfg(not(loom))]
mod process;
/// Under loom, only the shared-memory rings: the state the models check.
#[cfg(loom)]
#[allow(dead_code)]
mod process {
    mod ring;
    #[cfg(test)]
    mod ring_loom;
}
mod retry;
mod shim;
mod sync;
mod threaded;

use std::fmt;
use std::str::FromStr;

pub use duration::parse_duration;
pub use error::ExecError;
#[cfg(not(loom))]
pub use process::{
    worker_main_if_requested, ProcessExecutor, DEFAULT_INLINE_MAX, DEFAULT_SEGMENT_POOL_FRACTION,
    DEFAULT_STALL_TIMEOUT, MAX_ATTEMPTS, WINDOW,
};

/// Values to and from `rask_protocol::WireValue`: large arrays and bytes by shared-memory
/// segment name, the rest inline (used by the process executor and by cluster workers on one
/// machine).
#[cfg(not(loom))]
pub mod wire {
    pub use crate::process::wire::{by_reference, from_wire, only_items, park_encoded};
}
use rask_graph::{Graph, Key, Plan, Registry, Value};
pub use sync::SyncExecutor;
pub use threaded::ThreadedExecutor;

/// Receives progress: `done` of `total` tasks have finished. Called from executor threads, a
/// few hundred times per run at most.
pub trait Progress: Sync {
    fn update(&self, done: usize, total: usize);
}

impl<F: Fn(usize, usize) + Sync> Progress for F {
    fn update(&self, done: usize, total: usize) {
        self(done, total)
    }
}

/// Counters of one run, for tests and benchmarks (never asserted as times).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunStats {
    /// Tasks run.
    pub tasks: usize,
    /// The most results held in memory at once.
    pub peak_live: usize,
    /// Payload bytes copied into or out of shared memory (process executors).
    pub bytes_copied: u64,
    /// Payload bytes passed between processes by reference, without copying.
    pub bytes_shared: u64,
    /// Worker processes that died and were replaced during the run.
    pub workers_replaced: usize,
}

/// The requested values, in request order, and the run's counters.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub values: Vec<Value>,
    pub stats: RunStats,
}

/// Something that runs plans.
pub trait Executor {
    /// A short name: `sync`, `threads`, ….
    fn name(&self) -> &str;

    fn execute(&self, plan: &Plan, progress: Option<&dyn Progress>) -> Result<Outcome, ExecError>;

    /// Compiles `graph` for `keys` and runs it: Dask's `get`.
    fn get(&self, graph: &Graph, keys: &[Key], registry: &Registry) -> Result<Vec<Value>, ExecError> {
        self.get_with_progress(graph, keys, registry, None)
    }

    /// As [`Executor::get`], reporting progress to `progress` if given.
    fn get_with_progress(
        &self,
        graph: &Graph,
        keys: &[Key],
        registry: &Registry,
        progress: Option<&dyn Progress>,
    ) -> Result<Vec<Value>, ExecError> {
        let plan = Plan::build(graph, keys, registry)?;
        Ok(self.execute(&plan, progress)?.values)
    }

    /// Computes `keys` and keeps their results for later graphs (Dask's `persist`). In-process
    /// executors hand the values back; a cluster keeps them on its workers, and later graphs
    /// given to the same executor may refer to them by key.
    fn persist(&self, graph: &Graph, keys: &[Key], registry: &Registry) -> Result<Persisted, ExecError> {
        self.get(graph, keys, registry).map(Persisted::Values)
    }
}

/// What [`Executor::persist`] kept.
#[derive(Clone)]
pub enum Persisted {
    /// The values themselves, here.
    Values(Vec<Value>),
    /// The keys, held where they were computed for as long as `hold` lives.
    Held { keys: Vec<Key>, hold: std::sync::Arc<dyn std::any::Any + Send + Sync> },
}

impl std::fmt::Debug for Persisted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Persisted::Values(v) => write!(f, "Persisted::Values({} values)", v.len()),
            Persisted::Held { keys, .. } => write!(f, "Persisted::Held({} keys)", keys.len()),
        }
    }
}

/// Runs `graph` on one thread and returns the values of `keys`.
pub fn get(graph: &Graph, keys: &[Key], registry: &Registry) -> Result<Vec<Value>, ExecError> {
    SyncExecutor.get(graph, keys, registry)
}

/// A boxed executor is an executor (what [`Scheduler::executor`] returns can be passed
/// wherever one is taken).
impl<E: Executor + ?Sized> Executor for Box<E> {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn execute(&self, plan: &Plan, progress: Option<&dyn Progress>) -> Result<Outcome, ExecError> {
        (**self).execute(plan, progress)
    }
    fn get(&self, graph: &Graph, keys: &[Key], registry: &Registry) -> Result<Vec<Value>, ExecError> {
        (**self).get(graph, keys, registry)
    }
    fn get_with_progress(
        &self,
        graph: &Graph,
        keys: &[Key],
        registry: &Registry,
        progress: Option<&dyn Progress>,
    ) -> Result<Vec<Value>, ExecError> {
        (**self).get_with_progress(graph, keys, registry, progress)
    }
    fn persist(&self, graph: &Graph, keys: &[Key], registry: &Registry) -> Result<Persisted, ExecError> {
        (**self).persist(graph, keys, registry)
    }
}

/// An executor that reports every run's progress to one callback: give it to anything that
/// computes through an executor (`Delayed::compute`, a frame's `compute`, a bag) to watch it.
/// See [`with_progress`].
pub struct WithProgress<'a, E: ?Sized> {
    inner: &'a E,
    progress: &'a dyn Progress,
}

/// `executor`, reporting (tasks done, tasks in total) of each run to `progress` — on threads,
/// processes and clusters alike.
///
/// ```
/// use rask_exec::{with_progress, Executor, ThreadedExecutor};
/// use rask_graph::{parse_graph, Key, Registry};
///
/// let graph = parse_graph("{'a': 1, 'b': (inc, 'a'), 'c': (inc, 'b')}").unwrap();
/// let last = std::sync::Mutex::new((0, 0));
/// let report = |done: usize, total: usize| *last.lock().unwrap() = (done, total);
/// let threads = ThreadedExecutor::new(2);
/// let watched = with_progress(&threads, &report);
/// watched.get(&graph, &[Key::from("c")], &Registry::new()).unwrap();
/// let (done, total) = *last.lock().unwrap();
/// assert!(total > 0 && done == total);
/// ```
pub fn with_progress<'a, E: Executor + ?Sized>(executor: &'a E, progress: &'a dyn Progress) -> WithProgress<'a, E> {
    WithProgress { inner: executor, progress }
}

impl<E: Executor + ?Sized> Executor for WithProgress<'_, E> {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn execute(&self, plan: &Plan, progress: Option<&dyn Progress>) -> Result<Outcome, ExecError> {
        self.inner.execute(plan, Some(progress.unwrap_or(self.progress)))
    }
    fn get(&self, graph: &Graph, keys: &[Key], registry: &Registry) -> Result<Vec<Value>, ExecError> {
        self.inner.get_with_progress(graph, keys, registry, Some(self.progress))
    }
    fn get_with_progress(
        &self,
        graph: &Graph,
        keys: &[Key],
        registry: &Registry,
        progress: Option<&dyn Progress>,
    ) -> Result<Vec<Value>, ExecError> {
        self.inner.get_with_progress(graph, keys, registry, Some(progress.unwrap_or(self.progress)))
    }
    fn persist(&self, graph: &Graph, keys: &[Key], registry: &Registry) -> Result<Persisted, ExecError> {
        self.inner.persist(graph, keys, registry)
    }
}

/// How `tcp://HOST:PORT` becomes an executor: the distributed layer sits above this crate and
/// registers itself here at link time, so [`Scheduler::executor`] works for every scheduler
/// name in any binary that links it.
pub struct RemoteExecutor {
    pub connect: fn(&str) -> Result<Box<dyn Executor>, ExecError>,
    /// An embedded cluster of this many worker processes (`local[:N]`), alive as long as the
    /// executor.
    pub local: fn(usize) -> Result<Box<dyn Executor>, ExecError>,
}

rask_graph::inventory::collect!(RemoteExecutor);

/// A scheduler named the way Dask users name them: `sync`, `threads`, `threads:8`,
/// `processes`, `local`, `local:2` (an embedded cluster), `tcp://HOST:PORT`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scheduler {
    Sync,
    /// A thread pool; `None` means one thread per available core.
    Threads(Option<usize>),
    Processes(Option<usize>),
    /// A scheduler and worker processes of this binary, for as long as the executor lives;
    /// `None` means one worker per available core.
    Local(Option<usize>),
    Distributed(String),
}

impl FromStr for Scheduler {
    type Err = ExecError;

    fn from_str(s: &str) -> Result<Scheduler, ExecError> {
        let remote = ["tcp://", "tls://"].into_iter().find(|scheme| s.starts_with(scheme));
        let (name, count) = match s.split_once(':') {
            Some((name, n)) if remote.is_none() => {
                let n: usize =
                    n.parse().ok().filter(|&n| n > 0).ok_or_else(|| ExecError::UnknownScheduler(s.into()))?;
                (name, Some(n))
            }
            _ => (s, None),
        };
        match name {
            "sync" | "synchronous" | "single-threaded" if count.is_none() => Ok(Scheduler::Sync),
            "threads" | "threading" => Ok(Scheduler::Threads(count)),
            "processes" | "multiprocessing" => Ok(Scheduler::Processes(count)),
            "local" => Ok(Scheduler::Local(count)),
            _ if remote.is_some_and(|scheme| s.len() > scheme.len()) => Ok(Scheduler::Distributed(s.into())),
            _ => Err(ExecError::UnknownScheduler(s.into())),
        }
    }
}

impl fmt::Display for Scheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scheduler::Sync => f.write_str("sync"),
            Scheduler::Threads(None) => f.write_str("threads"),
            Scheduler::Threads(Some(n)) => write!(f, "threads:{n}"),
            Scheduler::Processes(None) => f.write_str("processes"),
            Scheduler::Processes(Some(n)) => write!(f, "processes:{n}"),
            Scheduler::Local(None) => f.write_str("local"),
            Scheduler::Local(Some(n)) => write!(f, "local:{n}"),
            Scheduler::Distributed(addr) => f.write_str(addr),
        }
    }
}

impl Scheduler {
    /// An executor for this scheduler, or an error if this build does not have it yet.
    pub fn executor(&self) -> Result<Box<dyn Executor>, ExecError> {
        match self {
            Scheduler::Sync => Ok(Box::new(SyncExecutor)),
            Scheduler::Threads(None) => Ok(Box::new(ThreadedExecutor::with_available_cores())),
            Scheduler::Threads(Some(n)) => Ok(Box::new(ThreadedExecutor::new(*n))),
            #[cfg(not(loom))]
            Scheduler::Processes(None) => Ok(Box::new(ProcessExecutor::with_available_cores())),
            #[cfg(not(loom))]
            Scheduler::Processes(Some(n)) => Ok(Box::new(ProcessExecutor::new(*n))),
            Scheduler::Distributed(addr) => match rask_graph::inventory::iter::<RemoteExecutor>.into_iter().next() {
                Some(remote) => (remote.connect)(addr),
                None => Err(ExecError::Unavailable(self.to_string())),
            },
            Scheduler::Local(n) => match rask_graph::inventory::iter::<RemoteExecutor>.into_iter().next() {
                Some(remote) => {
                    (remote.local)(n.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())))
                }
                None => Err(ExecError::Unavailable(self.to_string())),
            },
            #[cfg(loom)]
            other => Err(ExecError::Unavailable(other.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Scheduler;

    #[test]
    fn scheduler_names_parse_and_print_back() {
        for (name, expected) in [
            ("sync", Scheduler::Sync),
            ("threads", Scheduler::Threads(None)),
            ("threads:3", Scheduler::Threads(Some(3))),
            ("processes:2", Scheduler::Processes(Some(2))),
            ("local", Scheduler::Local(None)),
            ("local:2", Scheduler::Local(Some(2))),
            ("tcp://127.0.0.1:8786", Scheduler::Distributed("tcp://127.0.0.1:8786".into())),
            ("tls://10.0.0.1:8786", Scheduler::Distributed("tls://10.0.0.1:8786".into())),
        ] {
            let parsed: Scheduler = name.parse().unwrap();
            assert_eq!(parsed, expected, "{name}");
            assert_eq!(parsed.to_string(), name);
        }
        for bad in ["", "local:0", "local:x", "thread", "sync:2", "tcp://", "tls://"] {
            let err = bad.parse::<Scheduler>().unwrap_err().to_string();
            assert!(err.contains("local[:N]"), "{bad}: {err}");
        }
    }
}
