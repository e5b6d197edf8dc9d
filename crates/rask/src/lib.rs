//! `rask`: the one crate a user depends on. Dask's task graphs in Rust, with your own functions
//! and types as tasks.
//!
//! What it is: a facade over the engine's crates (re-exported as [`graph`], [`exec`],
//! [`distributed`], [`frame`], [`bag`], [`array`](mod@array)), plus typed tasks: `#[rask::task]` turns a plain
//! function into a constructor of [`Delayed`] values, any `serde` type is a task value
//! ([`to_value`]/[`from_value`]: numbers, strings and numeric vectors take the engine's fast
//! forms, so a large `Vec<f64>` crosses processes in shared memory), and [`executor`] names any
//! scheduler — `sync`, `threads[:N]`, `processes[:N]`, `local[:N]` (an embedded cluster) or
//! `tcp://HOST:PORT`.
//!
//! What it is not: a way to ship code. A task's function is registered under
//! `module_path::name` when the binary is linked; worker processes are the same binary,
//! re-executed (call [`init`] first in `main`), so they resolve the same names.
//!
//! Main types: [`Delayed`] (a typed graph node), [`Future`] (a typed cluster future),
//! [`Error`]; main functions: [`init`], [`executor`], [`lit`], [`compute_all`],
//! [`worker_main_from_args`].
//!
//! ```no_run
//! use rask::prelude::*;
//!
//! #[rask::task]
//! fn square(x: i64) -> i64 { x * x }
//!
//! #[rask::task]
//! fn total(xs: Vec<i64>) -> i64 { xs.iter().sum() }
//!
//! fn main() -> Result<(), rask::Error> {
//!     rask::init();
//!     let squares: Vec<Delayed<i64>> = (1..=4).map(|x| square(lit(x))).collect();
//!     assert_eq!(total(squares).compute(&rask::executor("threads")?)?, 30);
//!     Ok(())
//! }
//! ```

// `#[rask::task]` expands to `::rask::…` paths, which this crate's own tests use too.
extern crate self as rask;

mod de;
mod delayed;
mod ser;
#[cfg(test)]
mod tests;

pub use rask_array as array;
pub use rask_bag as bag;

/// Arrow, at the versions the dataframe uses: build and read record batches with these.
pub mod arrow {
    pub use arrow_array as array;
    pub use arrow_schema as schema;
}

/// A record batch as a text table, a row per line (for printing results).
pub fn pretty(batch: &arrow_array::RecordBatch) -> String {
    let columns: Vec<_> = batch
        .columns()
        .iter()
        .map(|c| arrow_cast::display::ArrayFormatter::try_new(c.as_ref(), &Default::default()))
        .collect();
    let mut out = batch.schema().fields().iter().map(|f| f.name().as_str()).collect::<Vec<_>>().join("\t");
    for row in 0..batch.num_rows() {
        out.push('\n');
        let cells: Vec<String> = columns
            .iter()
            .map(|c| c.as_ref().map_or_else(|e| format!("<{e}>"), |f| f.value(row).to_string()))
            .collect();
        out.push_str(&cells.join("\t"));
    }
    out
}

/// The registered name of a `#[rask::task]` function defined in the calling module, for the
/// APIs that take functions by name (bags, frames' `map_partitions`, a client's `submit`).
#[macro_export]
macro_rules! task_name {
    ($f:ident) => {
        ::core::concat!(::core::module_path!(), "::", ::core::stringify!($f))
    };
}
pub use rask_distributed as distributed;
/// Inside a task on a cluster: a client of the same scheduler, to submit subtasks and wait
/// for them without holding the worker's thread ([`distributed::worker_client`]).
pub use rask_distributed::{rejoin, secede, worker_client};
pub use rask_exec as exec;
pub use rask_frame as frame;
pub use rask_graph as graph;

pub use de::from_value;
pub use delayed::{as_completed, compute_all, lit, Arg, ComputeAll, Delayed, Future, IntoArg};
pub use rask_exec::{ExecError, Executor};
pub use rask_graph::{register, Annotations, Arity, Key, TaskError, Value};
pub use rask_macros::task;
pub use ser::{to_value, ValueError};

/// Arguments are typed: where a task takes a `u32`, a `Delayed<String>` does not compile.
///
/// ```compile_fail
/// use rask::prelude::*;
/// #[rask::task]
/// fn load(part: u32) -> Vec<f64> { vec![part as f64] }
/// #[rask::task]
/// fn name() -> String { "x".into() }
/// let _ = load(name());
/// ```
///
/// (The same with the right type compiles:)
///
/// ```no_run
/// use rask::prelude::*;
/// #[rask::task]
/// fn load(part: u32) -> Vec<f64> { vec![part as f64] }
/// #[rask::task]
/// fn part() -> u32 { 3 }
/// let _ = load(part());
/// ```
///
/// Nor does a `Delayed<T>` where a `Vec<T>` is expected, or a task returning a type that is not
/// a task value (`Serialize`):
///
/// ```compile_fail
/// use rask::prelude::*;
/// #[rask::task]
/// fn total(xs: Vec<f64>) -> f64 { xs.iter().sum() }
/// let _ = total(lit(1.0f64));
/// ```
///
/// ```compile_fail
/// struct Opaque;
/// #[rask::task]
/// fn make() -> Opaque { Opaque }
/// ```
pub mod typed {}

/// Every Rust block of the README, compiled (and run unless marked `no_run`) by `cargo test`.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;

/// What users import: `use rask::prelude::*;`.
pub mod prelude {
    pub use crate::{lit, Delayed, Executor, Future, IntoArg};
}

/// What can go wrong computing a typed value.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The run failed: the error names the key and the function (and the cause).
    #[error(transparent)]
    Exec(#[from] ExecError),
    /// Starting or reaching a cluster failed.
    #[error(transparent)]
    Cluster(#[from] rask_distributed::DistError),
    /// An array operation was invalid, or its file could not be read or written.
    #[error(transparent)]
    Array(#[from] rask_array::ArrayError),
    /// A value could not be converted to or from its Rust type.
    #[error("{key}: {message}")]
    Value { key: Key, message: String },
}

/// Call first in `main`: when this binary was started as a worker (by the process executor or
/// a cluster), it serves as one and never returns; otherwise it returns at once, with rask's
/// logs going to stderr (`RUST_LOG` or `RASK_LOG_LEVEL` set the level; see
/// [`distributed::logging`]) unless the program installed a `tracing` subscriber already.
/// Panics if two functions were registered under one name: which of them a task would call
/// would depend on link order.
pub fn init() {
    let clashes = rask_graph::Registry::clashes();
    assert!(clashes.is_empty(), "rask::init: function names registered twice in this binary: {clashes:?}");
    rask_distributed::worker_main_if_requested();
    rask_distributed::logging::init_from_env();
}

/// Lets this binary serve as a cluster worker from its command line, so your own functions
/// run on a remote cluster: `my-app worker tcp://HOST:PORT [--nthreads N] [--memory-limit
/// BYTES] [--resources GPU=2]` joins the scheduler and serves until it is told to leave (exiting with its
/// status); any other command line returns at once. Call it right after [`init`]. The stock
/// `rask worker` serves only the built-in and collection functions: a task of yours sent to
/// it fails with an error naming the binary that lacks it.
pub fn worker_main_from_args() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) != Some("worker") {
        return;
    }
    rask_distributed::logging::init_from_env();
    let usage = "usage: worker tcp://HOST:PORT|tls://HOST:PORT [--nthreads N] [--memory-limit BYTES] [--resources GPU=2,MEM=64e9]";
    let Some(address) = args.get(1).filter(|a| !a.starts_with("--")) else {
        tracing::error!("{usage}");
        std::process::exit(2);
    };
    let mut options = match rask_distributed::WorkerOptions::new(address, 1) {
        Ok(options) => options,
        Err(e) => std::process::exit(rask_distributed::worker::exit_code(Err(e))),
    };
    let mut rest = args[2..].iter();
    while let Some(flag) = rest.next() {
        let value = rest.next();
        let number = value.and_then(|v| v.parse::<u64>().ok());
        match (flag.as_str(), number, value) {
            ("--nthreads", Some(n), _) if n > 0 => options.nthreads = n as usize,
            ("--memory-limit", Some(bytes), _) => options.memory_limit = bytes,
            ("--resources", _, Some(text)) => match rask_graph::parse_resources(text) {
                Ok(resources) => options.resources = resources,
                Err(e) => {
                    tracing::error!("--resources: {e}; {usage}");
                    std::process::exit(2);
                }
            },
            _ => {
                tracing::error!("bad option {flag:?}; {usage}");
                std::process::exit(2);
            }
        }
    }
    let ended = rask_distributed::worker::run_process(options);
    std::process::exit(rask_distributed::worker::exit_code(ended));
}

/// An executor named as on the command line: `sync`, `threads[:N]`, `processes[:N]`,
/// `local[:N]` (a scheduler and N worker processes of this binary, for as long as the returned
/// executor lives) or `tcp://HOST:PORT`.
pub fn executor(name: &str) -> Result<Box<dyn Executor>, Error> {
    let scheduler: rask_exec::Scheduler = name.parse()?;
    Ok(scheduler.executor()?)
}

/// Argument `i` of a task call as its parameter's type (used by `#[rask::task]`).
#[doc(hidden)]
pub fn from_arg<T: serde::de::DeserializeOwned + 'static>(
    args: &[Value],
    i: usize,
    name: &str,
) -> Result<T, TaskError> {
    let value = args.get(i).ok_or_else(|| TaskError::type_error(format!("missing argument `{name}`")))?;
    from_value(value).map_err(|e| {
        TaskError::type_error(format!(
            "argument `{name}` ({}) cannot be read as {}: {e}",
            value.type_name(),
            std::any::type_name::<T>()
        ))
    })
}
