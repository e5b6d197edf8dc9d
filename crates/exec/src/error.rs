//! What can go wrong running a graph.

use rask_graph::{Failure, FailureCause, GraphError, Key, TaskError};

/// A run that did not produce every requested value. Task failures name the key and the
/// function (the innermost one, when tasks were nested or fused).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ExecError {
    #[error(transparent)]
    Graph(#[from] GraphError),
    #[error("task {key} failed in `{function}`: {error}")]
    Task { key: Key, function: String, error: TaskError },
    #[error("task {key} panicked in `{function}`: {message}")]
    Panic { key: Key, function: String, message: String },
    #[error("unknown scheduler {0:?}: expected sync, threads[:N], processes[:N], local[:N] or tcp://HOST:PORT")]
    UnknownScheduler(String),
    #[error("the {0} scheduler is not available in this build yet")]
    Unavailable(String),
    /// Worker processes died running this task, `attempts` times (Dask's allowed-failures).
    #[error("task {key}: its worker process died {attempts} times running it (last: {cause})")]
    WorkerLost { key: Key, attempts: u32, cause: String },
    /// The task could not be started in a worker (an input that cannot be mapped, a result
    /// that cannot be stored).
    #[error("task {key} could not run in a worker process: {cause}")]
    Unrunnable { key: Key, cause: String },
    /// The worker processes themselves: they cannot be started or misbehave.
    #[error("worker processes: {0}")]
    Workers(String),
    /// A task allowed retries failed on every attempt: the last attempt's error, then the
    /// earlier attempts' messages, oldest first.
    #[error("{last} (it failed {} times; earlier attempts: {})", .earlier.len() + 1, .earlier.join(" | "))]
    Retried { last: Box<ExecError>, earlier: Vec<String> },
    /// A run on a distributed cluster failed; the text names the key and the cause.
    #[error("{0}")]
    Remote(String),
}

impl ExecError {
    /// A failure while running `node_key`; a fused key inside it takes precedence.
    pub fn from_failure(node_key: &Key, failure: Failure) -> ExecError {
        let key = failure.key.as_ref().unwrap_or(node_key);
        match failure.cause {
            FailureCause::Error(error) => ExecError::Task { key: key.clone(), function: failure.function, error },
            FailureCause::Panic(message) => ExecError::Panic { key: key.clone(), function: failure.function, message },
        }
    }

    /// `last` after `earlier` failed attempts (itself when there were none).
    pub fn after_attempts(last: ExecError, earlier: Vec<String>) -> ExecError {
        match earlier.is_empty() {
            true => last,
            false => ExecError::Retried { last: Box::new(last), earlier },
        }
    }

    /// The key of the task that failed, if a task failed.
    pub fn key(&self) -> Option<&Key> {
        match self {
            ExecError::Task { key, .. }
            | ExecError::Panic { key, .. }
            | ExecError::WorkerLost { key, .. }
            | ExecError::Unrunnable { key, .. } => Some(key),
            ExecError::Retried { last, .. } => last.key(),
            _ => None,
        }
    }
}
