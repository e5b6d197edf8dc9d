//! The distributed layer's messages: client ↔ scheduler ↔ worker, and worker ↔ worker (or
//! client) for data. Every connection starts with [`Welcome`] from the side that accepted it and
//! [`Hello`] from the side that connected, which names its role and proves it knows the shared
//! secret when one is configured (an HMAC of the welcome's nonce: the secret never travels).

use rask_graph::{Failure, Key};
use serde::{Deserialize, Serialize};

use crate::messages::WireValue;
use crate::task::OpMsg;

/// First frame on every connection, from the accepting side.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Welcome {
    pub nonce: [u8; 32],
    pub auth_required: bool,
}

/// The connecting side's answer: who it is, and `HMAC-SHA256(secret, nonce)` if asked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    pub role: Role,
    pub proof: Option<[u8; 32]>,
}

/// The accepting side's verdict on a [`Hello`]: `Err` carries the reason it was refused.
pub type Verdict = Result<(), String>;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    Client,
    /// A worker, with the address where it serves its results and its thread count.
    Worker {
        data_addr: String,
        nthreads: u32,
        memory_limit: u64,
    },
    /// A worker or client fetching results from a worker.
    Peer,
}

/// One task, as the scheduler and workers know it: its op reads its inputs by position in
/// `deps` (`OpMsg::Input(i)` is the value of `deps[i]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskDef {
    pub key: Key,
    pub op: OpMsg,
    pub deps: Vec<Key>,
}

/// Client → scheduler.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ClientMsg {
    /// New tasks, in priority order (earlier runs first when both are ready), and the keys the
    /// client wants kept until it releases them. Tasks may depend on keys submitted before.
    Submit { tasks: Vec<TaskDef>, wanted: Vec<Key> },
    /// The client no longer wants these keys.
    Release { keys: Vec<Key> },
    /// Stop these keys (and what only they need) if not finished; they become errors.
    Cancel { keys: Vec<Key> },
    /// Which workers hold these keys (to fetch them from the workers directly).
    WhoHas { keys: Vec<Key> },
    /// The scheduler's counters.
    Stats,
}

/// Scheduler → client.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ToClient {
    /// Wanted keys now in memory on some worker.
    Finished {
        keys: Vec<Key>,
    },
    /// A wanted key failed (or a key it needs did), with the error as text and, when a task's
    /// function failed, that task's key and failure, so the client reports exactly what a
    /// local executor would.
    Erred {
        key: Key,
        error: String,
        cause: Option<(Key, Failure)>,
    },
    WhoHas {
        holders: Vec<(Key, Vec<String>)>,
    },
    Stats(SchedulerStats),
    /// Sent every second: a client that hears nothing for its scheduler timeout knows the
    /// scheduler is gone or hung, even while the connection stays open.
    Ping,
}

/// Counters a client can ask for (tests read them; nothing else should depend on them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchedulerStats {
    pub workers: u32,
    pub tasks_known: u64,
    pub tasks_in_memory: u64,
    pub peak_in_memory: u64,
    pub tasks_done: u64,
    pub tasks_recomputed: u64,
    pub workers_lost: u64,
    /// Totals of the workers' last heartbeats.
    pub bytes_in_memory: u64,
    pub bytes_spilled: u64,
    pub workers_paused: u32,
    pub bytes_fetched_by_reference: u64,
    pub bytes_fetched_by_copy: u64,
    /// Slots of the task table, live or free for reuse: bounded by the most tasks known at
    /// once, not by how many were ever submitted.
    pub task_slots: u64,
    /// Workers declared dead for silence and cut off (their late messages are ignored).
    pub workers_fenced: u64,
    /// Tasks erred because no worker existed for the no-workers timeout.
    pub tasks_erred_no_workers: u64,
}

/// Scheduler → worker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ToDistWorker {
    /// Run these tasks; `holders[i]` lists data addresses holding `deps[i]` (empty when the
    /// worker holds it itself).
    Compute { tasks: Vec<Assignment> },
    /// Drop these results.
    Release { keys: Vec<Key> },
    /// Give back those of these tasks that have not started (work stealing); answered by
    /// [`FromDistWorker::Stolen`].
    Steal { keys: Vec<Key> },
    /// Sent every second, so a worker can tell a hung scheduler from a quiet one.
    Ping,
    /// Leave now, for this reason (say, the scheduler declared this worker dead after a
    /// silence: its results have been recomputed elsewhere, so it must not rejoin as if
    /// nothing happened).
    Exit { reason: String },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Assignment {
    pub task: TaskDef,
    pub holders: Vec<Vec<String>>,
}

/// Worker → scheduler.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum FromDistWorker {
    /// Tasks finished, with their results' sizes in bytes.
    Done {
        tasks: Vec<(Key, u64)>,
    },
    Erred {
        key: Key,
        failure: DistFailure,
    },
    /// The tasks of a `Steal` request that had not started and will not run here.
    Stolen {
        keys: Vec<Key>,
    },
    /// The worker could not fetch input `dep` of `key` from any holder; `failed` lists the
    /// holders that did not answer in time or did not have it (the scheduler stops counting
    /// them as holders, and recomputes `dep` if none is left).
    Missing {
        key: Key,
        dep: Key,
        failed: Vec<String>,
    },
    /// Memory in use, results spilled to disk, and whether the worker has paused (its
    /// memory is past the pause threshold: it takes no new tasks until it falls).
    /// Also the bytes it has fetched from peers by segment name (same machine, no copy) and
    /// as bytes over the connection, since it started.
    Heartbeat {
        keys_held: u64,
        bytes_in_memory: u64,
        bytes_spilled: u64,
        paused: bool,
        fetched_by_reference: u64,
        fetched_by_copy: u64,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum DistFailure {
    Failed(Failure),
    Unrunnable(String),
}

/// Peer → worker, on a data connection.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum DataRequest {
    /// With `by_value`, every value comes as bytes, never as a segment name (asked again when a
    /// named segment was gone by the time the peer mapped it: spilled or released meanwhile).
    Get { keys: Vec<Key>, by_value: bool },
}

/// Worker → peer: each requested key's value, or `None` if the worker does not hold it. A
/// peer on the same machine gets large arrays as the name of the segment that holds them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DataReply {
    pub values: Vec<(Key, Option<WireValue>)>,
    /// Requested keys left out to keep this reply small (a worker answers with a bounded
    /// number of bytes at a time): ask for them again.
    pub deferred: Vec<Key>,
}
