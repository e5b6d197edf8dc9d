//! The messages between a multiprocess executor and its worker processes.
//!
//! Values travel inline when small and as [`SharedRef`]s — the name of a shared-memory segment
//! and where in it the bytes lie — when large, so a big array is never in a message at all.

use rask_graph::{DType, Failure, Op, Value};
use serde::{Deserialize, Serialize};

use crate::task::{OpMsg, OpRef};

/// A value as it crosses a process boundary.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum WireValue {
    Inline(Value),
    Shared(SharedRef),
    /// A list sent item by item, so that its large items go by reference (a shuffle's split
    /// of a partition into many pieces, say). Nesting is depth-guarded like values'.
    List(#[serde(deserialize_with = "rask_graph::deserialize_nested")] Vec<WireValue>),
}

impl WireValue {
    /// Every segment reference inside, in order.
    pub fn shared_refs(&self) -> Vec<&SharedRef> {
        match self {
            WireValue::Inline(_) => Vec::new(),
            WireValue::Shared(r) => vec![r],
            WireValue::List(items) => items.iter().flat_map(WireValue::shared_refs).collect(),
        }
    }
}

/// Bytes in a shared-memory segment, and how to read them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedRef {
    pub segment: String,
    pub offset: u64,
    pub len: u64,
    pub layout: Layout,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Layout {
    /// A `bytes` value: the range itself.
    Bytes,
    /// A numeric array over the range, read in place.
    Array { dtype: DType, shape: Vec<usize> },
    /// Any other value, postcard-encoded (read by decoding: one copy).
    Encoded,
    /// An extension value (`rask_graph::ext`) in its own encoding, which its codec reads in
    /// place: an Arrow record batch's columns point into the mapping.
    Ext { type_name: String },
}

/// Executor → worker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ToWorker {
    Run(RunTask),
    /// A message too large for the ring, parked in a segment (for example a task with a huge
    /// literal); the worker reads the frame from there.
    Spilled(SharedRef),
    Exit,
    /// Segments the worker made whose results no one reads any more: it may write them
    /// again (see `rask_store::SegmentPool`).
    Recycle(Vec<String>),
}

/// Run node `node`'s op of run `run`, with these inputs (node index, value).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunTask {
    pub run: u64,
    pub node: u32,
    pub op: OpMsg,
    pub inputs: Vec<(u32, WireValue)>,
}

/// Worker → executor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum FromWorker {
    Done(TaskDone),
    /// A completion too large for the ring (a big inline value), parked in a segment that the
    /// executor adopts.
    Spilled(SharedRef),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskDone {
    pub run: u64,
    pub node: u32,
    pub result: Result<WireValue, TaskFailure>,
    /// Payload bytes this task's result and inputs cost in copies (heap → shared memory, or
    /// decoding an encoded value), and bytes it passed or read by reference.
    pub bytes_copied: u64,
    pub bytes_shared: u64,
    /// How long the task ran in the worker, in microseconds.
    pub elapsed_us: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum TaskFailure {
    /// The task's function failed or panicked.
    Failed(Failure),
    /// The task could not start here: an unknown function, a segment that cannot be mapped.
    Unrunnable(String),
}

/// [`ToWorker::Run`] encoded straight from a compiled op (see [`OpRef`]).
#[derive(Serialize)]
pub enum ToWorkerRef<'a> {
    Run(RunTaskRef<'a>),
}

#[derive(Serialize)]
pub struct RunTaskRef<'a> {
    pub run: u64,
    pub node: u32,
    pub op: OpRef<'a>,
    pub inputs: &'a [(u32, WireValue)],
}

impl<'a> ToWorkerRef<'a> {
    pub fn run(run: u64, node: u32, op: &'a Op, inputs: &'a [(u32, WireValue)]) -> ToWorkerRef<'a> {
        ToWorkerRef::Run(RunTaskRef { run, node, op: OpRef(op), inputs })
    }
}
