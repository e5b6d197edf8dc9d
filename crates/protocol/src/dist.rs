//! The distributed layer's messages: client ↔ scheduler ↔ worker, and worker ↔ worker (or
//! client) for data. Every connection starts (after a 4-byte preamble from the side that
//! connected, and inside TLS when there is TLS) with a [`Greeting`] from the side that accepted
//! it — a [`Welcome`], or the reason it refuses — and [`Hello`] from the side that connected,
//! which names its role and proves it knows the shared secret when one is configured (an HMAC of
//! the welcome's nonce: the secret never travels).

use rask_graph::{Annotations, Failure, Key};
use serde::{Deserialize, Serialize};

use crate::coord::{CoordAnswer, CoordOp};
use crate::messages::WireValue;
use crate::task::OpMsg;

/// First frame on every connection, from the accepting side.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Welcome {
    pub nonce: [u8; 32],
    pub auth_required: bool,
}

/// The first bytes the connecting side sends (inside TLS, when there is TLS): they tell the
/// accepting side at once whether a rask peer, a TLS client hello or a stranger is there.
pub const PREAMBLE: [u8; 4] = *b"rask";

/// The accepting side's first frame: a welcome, or why it refuses the connection (a
/// plaintext peer on a port that takes TLS only).
pub type Greeting = Result<Welcome, String>;

/// The connecting side's answer: who it is, and `HMAC-SHA256(secret, nonce)` if asked.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    pub role: Role,
    pub proof: Option<[u8; 32]>,
}

/// The accepting side's verdict on a [`Hello`]: `Err` carries the reason it was refused.
pub type Verdict = Result<(), String>;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Role {
    Client,
    /// A worker, with the address where it serves its results and its thread count.
    Worker {
        data_addr: String,
        nthreads: u32,
        memory_limit: u64,
        /// Abstract resources it offers (`GPU=2`): tasks asking for them run only here.
        resources: Vec<(String, f64)>,
    },
    /// A worker or client fetching results from a worker.
    Peer,
}

/// One task, as the scheduler and workers know it: its op reads its inputs by position in
/// `deps` (`OpMsg::Input(i)` is the value of `deps[i]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskDef {
    pub key: WireKey,
    pub op: EncodedOp,
    pub deps: Vec<WireKey>,
    /// Scheduling hints (priority, retries, resources, restrictions); `None` for most tasks,
    /// which costs a byte on the wire.
    pub hints: Option<Box<Annotations>>,
}

/// A task as a client submits it: a [`TaskDef`] whose dependencies submitted earlier in the
/// same submission are named by their position in it ([`Dep::Earlier`]) instead of by key.
/// The scheduler then finds them in a table of the submission's tasks instead of reading,
/// hashing and looking up a key per dependency — most of a large graph's dependencies.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewTask {
    pub key: Key,
    pub op: EncodedOp,
    pub deps: Vec<Dep>,
    pub hints: Option<Box<Annotations>>,
}

/// A dependency of a [`NewTask`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Dep {
    /// A key the scheduler knows from before this submission.
    Key(Key),
    /// The `n`-th task of this submission (counted from 0 across all its parts); it comes
    /// before its dependents.
    Earlier(u32),
}

/// A key the scheduler sends a worker: on the wire, its own postcard encoding as bytes, so
/// the scheduler, which holds its tasks' keys encoded, copies them into an assignment without
/// decoding them (a task's key and its dependencies', for each of a million assignments). A
/// receiver reads it decoded ([`WireKey::Key`]).
#[derive(Clone, Debug)]
pub enum WireKey {
    Key(Key),
    /// The key's encoding (what `postcard` makes of it).
    Encoded(InlineBytes),
}

impl WireKey {
    /// The key, decoded if it is still encoded.
    pub fn key(&self) -> std::borrow::Cow<'_, Key> {
        match self {
            WireKey::Key(key) => std::borrow::Cow::Borrowed(key),
            // Only a sender holds one encoded: it encoded the key itself.
            WireKey::Encoded(bytes) => {
                std::borrow::Cow::Owned(bytes.decode().expect("a key this process encoded decodes"))
            }
        }
    }

    /// The key, decoded if it is still encoded.
    pub fn into_key(self) -> Key {
        match self {
            WireKey::Key(key) => key,
            encoded => encoded.key().into_owned(),
        }
    }
}

impl From<Key> for WireKey {
    fn from(key: Key) -> WireKey {
        WireKey::Key(key)
    }
}

impl PartialEq for WireKey {
    fn eq(&self, other: &WireKey) -> bool {
        self.key() == other.key()
    }
}

impl Serialize for WireKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            WireKey::Key(key) => {
                let bytes = InlineBytes::encode(key).map_err(serde::ser::Error::custom)?;
                serializer.serialize_bytes(&bytes)
            }
            WireKey::Encoded(bytes) => serializer.serialize_bytes(bytes),
        }
    }
}

impl<'de> Deserialize<'de> for WireKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<WireKey, D::Error> {
        struct Bytes;
        impl serde::de::Visitor<'_> for Bytes {
            type Value = WireKey;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an encoded key (bytes)")
            }
            fn visit_bytes<E: serde::de::Error>(self, bytes: &[u8]) -> Result<WireKey, E> {
                postcard::from_bytes(bytes).map(WireKey::Key).map_err(E::custom)
            }
        }
        deserializer.deserialize_bytes(Bytes)
    }
}

/// A task's op as its client encoded it (an [`OpMsg`], in postcard): the scheduler keeps and
/// forwards these bytes without reading them — a few bytes a task instead of a tree of
/// allocations held for every task it knows — and the worker that runs the task decodes them.
/// Most ops (a function name and a few references) fit inline: no allocation to keep, copy
/// into an assignment or free, for each of a million tasks.
#[derive(Clone, PartialEq, Eq)]
pub struct EncodedOp(InlineBytes);

/// A short byte string held inline up to [`INLINE_BYTES`] (the whole value stays 24 bytes), a
/// longer one on the heap: encoded ops, and the keys the scheduler holds.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct InlineBytes(Repr);

#[derive(Clone, PartialEq, Eq, Hash, Debug)]
enum Repr {
    Inline { len: u8, bytes: [u8; INLINE_BYTES] },
    Heap(Box<[u8]>),
}

/// The longest byte string held without an allocation.
pub const INLINE_BYTES: usize = 22;

impl InlineBytes {
    pub fn new(bytes: &[u8]) -> InlineBytes {
        if bytes.len() <= INLINE_BYTES {
            let mut inline = [0; INLINE_BYTES];
            inline[..bytes.len()].copy_from_slice(bytes);
            InlineBytes(Repr::Inline { len: bytes.len() as u8, bytes: inline })
        } else {
            InlineBytes(Repr::Heap(bytes.into()))
        }
    }

    /// `value` in postcard, inline when it fits.
    pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<InlineBytes, postcard::Error> {
        let mut buffer = [0u8; INLINE_BYTES];
        match postcard::to_slice(value, &mut buffer) {
            Ok(used) => Ok(InlineBytes::new(used)),
            Err(postcard::Error::SerializeBufferFull) => {
                Ok(InlineBytes(Repr::Heap(postcard::to_allocvec(value)?.into_boxed_slice())))
            }
            Err(e) => Err(e),
        }
    }

    /// The value these bytes encode in postcard (what [`InlineBytes::encode`] made).
    pub fn decode<T: serde::de::DeserializeOwned>(&self) -> Result<T, postcard::Error> {
        postcard::from_bytes(self)
    }

    fn from_vec(bytes: Vec<u8>) -> InlineBytes {
        match bytes.len() <= INLINE_BYTES {
            true => InlineBytes::new(&bytes),
            false => InlineBytes(Repr::Heap(bytes.into_boxed_slice())),
        }
    }
}

impl std::ops::Deref for InlineBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, bytes } => &bytes[..*len as usize],
            Repr::Heap(bytes) => bytes,
        }
    }
}

impl EncodedOp {
    pub fn new(op: &OpMsg) -> EncodedOp {
        EncodedOp(InlineBytes::encode(op).expect("an op encodes"))
    }

    /// The op, or why these bytes are none (a peer that sent something else).
    pub fn decode(&self) -> Result<OpMsg, postcard::Error> {
        self.0.decode()
    }

    /// Bytes, as encoded.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether the op may call `name`: false for certain when the name's bytes are nowhere in
    /// the encoding (function names travel as text), without decoding it.
    pub fn may_call(&self, name: &str) -> bool {
        self.0.windows(name.len()).any(|w| w == name.as_bytes())
    }
}

impl std::fmt::Debug for EncodedOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.decode() {
            Ok(op) => write!(f, "{op:?}"),
            Err(e) => write!(f, "EncodedOp({} bytes: {e})", self.0.len()),
        }
    }
}

impl Serialize for EncodedOp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for EncodedOp {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<EncodedOp, D::Error> {
        struct Bytes;
        impl<'de> serde::de::Visitor<'de> for Bytes {
            type Value = EncodedOp;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an encoded op (bytes)")
            }
            fn visit_bytes<E: serde::de::Error>(self, bytes: &[u8]) -> Result<EncodedOp, E> {
                Ok(EncodedOp(InlineBytes::new(bytes)))
            }
            fn visit_byte_buf<E: serde::de::Error>(self, bytes: Vec<u8>) -> Result<EncodedOp, E> {
                Ok(EncodedOp(InlineBytes::from_vec(bytes)))
            }
        }
        deserializer.deserialize_byte_buf(Bytes)
    }
}

/// Client → scheduler.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ClientMsg {
    /// New tasks, in priority order (earlier runs first when both are ready), and the keys the
    /// client wants kept until it releases them. Tasks may depend on keys submitted before.
    /// With `more`, further `Submit`s continue this submission (a large one is streamed in
    /// parts, so the scheduler starts on the first while the rest is on its way): until the
    /// part without `more` arrives, its tasks are kept for the parts still to come.
    Submit { tasks: Vec<NewTask>, wanted: Vec<Key>, more: bool },
    /// The client no longer wants these keys.
    Release { keys: Vec<Key> },
    /// Stop these keys (and what only they need) if not finished; they become errors.
    Cancel { keys: Vec<Key> },
    /// A coordination request ([`crate::coord`]), answered by [`ToClient::Coord`] with `id`.
    Coord { id: u64, op: CoordOp },
    /// The client stopped waiting for request `id`.
    CoordCancel { id: u64 },
    /// Run these keys to the end even when no client wants them any more.
    FireAndForget { keys: Vec<Key> },
    /// Place these values on workers without a task: on one each, or with `broadcast` on
    /// every worker. The keys are wanted by this client.
    Scatter { items: Vec<(Key, rask_graph::Value)>, broadcast: bool },
    /// Copy these results until each is on `n` workers; answered by `WhoHas` for these keys
    /// once the copies have landed (or failed).
    Replicate { keys: Vec<Key>, n: u32 },
    /// Move results from workers holding more bytes than the mean to those holding less;
    /// answered by `HasWhat` once the moves have landed (or failed).
    Rebalance,
    /// Which keys each worker holds.
    HasWhat,
    /// Retire the workers at these addresses (or hosts): no new tasks, their results moved
    /// to other workers, then they leave. Answered by `Retired`.
    RetireWorkers { addrs: Vec<String> },
    /// Drop every task (each client's futures err) and restart every worker; answered by
    /// `Restarted`.
    Restart,
    /// Which workers hold these keys (to fetch them from the workers directly).
    WhoHas { keys: Vec<Key> },
    /// The scheduler's figures: counters, tasks by state, workers, task groups.
    Stats,
    /// Task events after position `since` of the scheduler's task stream (0: all it keeps;
    /// `u64::MAX`: none, only the current position).
    TaskStream { since: u64 },
    /// Per-worker samples taken since `since_us` (Unix microseconds).
    WorkerSamples { since_us: u64 },
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
        cause: Option<TaskCause>,
    },
    WhoHas {
        holders: Vec<(Key, Vec<String>)>,
    },
    /// Each worker's address and the keys it holds.
    HasWhat {
        workers: Vec<(String, Vec<Key>)>,
    },
    /// A `Restart` was done: `workers` were told to start afresh (they join again).
    Restarted {
        workers: u32,
    },
    /// The workers a `RetireWorkers` retired, once they have left; or why it was refused.
    Retired {
        workers: Vec<String>,
        refused: Option<String>,
    },
    Stats(Box<SchedulerStats>),
    /// The task events asked for, and the stream's position after the last of them.
    TaskStream {
        events: Vec<TaskEvent>,
        next: u64,
    },
    WorkerSamples {
        samples: Vec<WorkerSample>,
    },
    /// Of the tasks this client's submissions added, how many exist and how many have
    /// finished (successfully or not). Sent at most every 100 ms, and at once when
    /// `done == total`, before the results that completes.
    Progress {
        done: u64,
        total: u64,
    },
    /// Sent every second: a client that hears nothing for its scheduler timeout knows the
    /// scheduler is gone or hung, even while the connection stays open.
    Ping,
    /// The answer to coordination request `id`.
    Coord {
        id: u64,
        answer: CoordAnswer,
    },
}

/// The task whose function failed (`key` may be a dependency of the key that erred), how, and
/// the errors of its earlier attempts when it was retried.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskCause {
    pub key: Key,
    pub failure: Failure,
    pub earlier_attempts: Vec<String>,
}

/// What the scheduler knows of itself: counters, tasks by state, each worker and each task
/// group (`Client::stats`, the dashboard's `/api/stats`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SchedulerStats {
    pub workers: u32,
    pub tasks_known: u64,
    pub tasks_in_memory: u64,
    pub peak_in_memory: u64,
    pub tasks_done: u64,
    pub tasks_recomputed: u64,
    /// Failed runs of tasks with retries left, run again.
    pub tasks_retried: u64,
    pub workers_lost: u64,
    /// Workers that left gracefully, their results moved first (`retire_workers`, SIGTERM).
    pub workers_retired: u64,
    /// Times the cluster was restarted (`Client::restart`).
    pub restarts: u64,
    /// Workers the work in hand calls for: queued and running tasks drained in about two
    /// seconds at the current throughput (what `LocalCluster::adapt` scales to).
    pub workers_wanted: u32,
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
    /// Named coordination structures alive (queues, variables, events, locks, topics).
    pub coordination: u64,
    /// Ready tasks that no connected worker may run (their resources or allowed workers are
    /// missing): they wait for such a worker to join.
    pub tasks_no_worker: u64,
    /// Tasks by state, now.
    pub states: StateCounts,
    /// Tasks finished per second over the last few seconds.
    pub throughput: f64,
    /// How late the scheduler's once-a-second tick was handled, last time: how busy its
    /// event loop is.
    pub event_loop_latency_us: u64,
    pub uptime_s: f64,
    /// `tcp://HOST:PORT`, and this build's version.
    pub address: String,
    pub version: String,
    pub worker_status: Vec<WorkerStatus>,
    pub groups: Vec<GroupStatus>,
}

/// Tasks by state: Dask's names.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateCounts {
    pub released: u64,
    pub waiting: u64,
    pub queued: u64,
    pub processing: u64,
    pub memory: u64,
    pub erred: u64,
}

/// One worker as the scheduler sees it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkerStatus {
    /// The address it serves results on: its name everywhere.
    pub addr: String,
    pub nthreads: u32,
    pub memory_limit: u64,
    /// Tasks the scheduler has given it and not heard back about.
    pub processing: u64,
    /// Results it holds, by the scheduler's count.
    pub keys_held: u64,
    pub bytes_in_memory: u64,
    pub bytes_spilled: u64,
    pub paused: bool,
    pub metrics: WorkerMetrics,
    /// The abstract resources it offers, and how much of each is not held by running tasks.
    pub resources: Vec<(String, f64)>,
    pub resources_free: Vec<f64>,
    /// Seconds since its last message.
    pub last_seen_s: f64,
}

/// A task group (the key's name part: `('x', 3)` → `x`, `inc-17` → `inc`): how many of its
/// tasks are in each state and what running them cost.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupStatus {
    pub name: String,
    pub states: StateCounts,
    /// Tasks ever added to the group, and finished runs (recomputations included).
    pub total: u64,
    pub runs: u64,
    pub duration_s: f64,
    pub max_duration_s: f64,
    pub nbytes: u64,
    /// The groups this one's tasks read from.
    pub dependencies: Vec<String>,
}

/// Per worker, every second: what its process costs and does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkerMetrics {
    pub rss: u64,
    /// Of one core: 200 means two cores busy.
    pub cpu_percent: f32,
    pub executing: u32,
    /// Tasks with their inputs, waiting for a thread.
    pub ready: u32,
    pub bytes_received: u64,
    pub bytes_sent: u64,
}

/// How one task ran: reported by its worker with its completion.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskRecord {
    pub key: Key,
    pub nbytes: u64,
    /// Unix microseconds, by the worker's clock.
    pub start_us: u64,
    pub stop_us: u64,
    /// The worker's task thread that ran it.
    pub thread: u32,
    /// Inputs fetched from peers for it.
    pub transfers: Vec<Transfer>,
    /// Its assignment's [`Assignment::id`] (a hint, checked against the key; [`NO_ID`] for
    /// a record not made from an assignment).
    pub id: u32,
}

/// [`TaskRecord::id`] of a record not made from an assignment.
pub const NO_ID: u32 = u32::MAX;

/// One input fetched from a peer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    /// The holder's data address.
    pub from: String,
    pub nbytes: u64,
    pub start_us: u64,
    pub stop_us: u64,
}

/// An entry of the scheduler's task stream: a finished task, where and when it ran.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskEvent {
    /// Position in the stream (`ClientMsg::TaskStream { since }`).
    pub seq: u64,
    /// The key as Python prints it, and its group.
    pub key: String,
    pub group: String,
    pub worker: String,
    pub thread: u32,
    pub start_us: u64,
    pub stop_us: u64,
    pub nbytes: u64,
    pub transfers: Vec<Transfer>,
}

/// A worker's figures at one moment (the dashboard's and reports' memory over time).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkerSample {
    pub time_us: u64,
    pub worker: String,
    pub bytes_in_memory: u64,
    pub bytes_spilled: u64,
    pub rss: u64,
    pub cpu_percent: f32,
    pub executing: u32,
}

/// Scheduler → worker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ToDistWorker {
    /// Run these tasks; `holders[i]` lists data addresses holding `deps[i]` (empty when the
    /// worker holds it itself).
    Compute { tasks: Vec<Assignment> },
    /// Drop these results (keys as the scheduler holds them: [`WireKey`]).
    Release { keys: Vec<WireKey> },
    /// Keep these values a client scattered; answered by [`FromDistWorker::Stored`].
    Store { items: Vec<(Key, rask_graph::Value)> },
    /// Copy these results from the workers listed (data addresses); answered by
    /// [`FromDistWorker::Stored`] for those fetched.
    Fetch { items: Vec<(Key, Vec<String>)> },
    /// Retired: leave now (status 0); everything it held is elsewhere or unneeded.
    Retired,
    /// The cluster restarts: drop everything and start afresh (a new process, joining again).
    Restart,
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
    /// Its place in the graph's order (the submission, then the rank): a worker runs its
    /// queued tasks in this order, after the user's priority.
    pub order: u64,
    /// The scheduler's number for the task, echoed in its [`TaskRecord`] so the scheduler
    /// finds it without a lookup by key.
    pub id: u32,
}

/// Worker → scheduler.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum FromDistWorker {
    /// Tasks finished: their results' sizes, and when, where and with which transfers they ran.
    Done {
        tasks: Vec<TaskRecord>,
    },
    Erred {
        key: Key,
        failure: DistFailure,
    },
    /// This worker was asked to stop (SIGTERM): retire it gracefully.
    Retire,
    /// Results now held here (scattered to it, or copied from a peer), with their sizes;
    /// `failed`: copies asked for that no holder could give.
    Stored {
        items: Vec<(Key, u64)>,
        failed: Vec<Key>,
    },
    /// Task `key` waits on tasks it submitted and gave its thread back (`secede`): it no
    /// longer counts against the worker's threads.
    Seceded {
        key: Key,
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
        metrics: WorkerMetrics,
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
    /// `picks` names keys of which only some list positions are wanted (a task that picks
    /// items of its input, as a shuffle's do): the other items come back as `None`.
    Get { keys: Vec<Key>, by_value: bool, picks: Vec<(Key, Vec<i64>)> },
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

/// The task group of a key, by Dask's rule (`key_split`): a tuple's first element; of a string,
/// the leading words of its `-`-separated parts, up to the first part that is not purely
/// alphabetic or looks like an 8-digit hex token — `inc-17` → `inc`,
/// `sum-partial-3f2a9c-7` → `sum-partial`, `('x', 3)` → `x`. Integer keys form the group `int`.
pub fn key_group(key: &Key) -> String {
    match key {
        Key::Tuple(parts) => parts.first().map_or_else(|| "tuple".to_owned(), key_group),
        Key::Int(_) => "int".to_owned(),
        Key::Str(s) => string_group(s),
    }
}

fn string_group(s: &str) -> String {
    let mut words = s.split('-');
    let first = words.next().unwrap_or_default();
    if first.is_empty() {
        return "other".to_owned();
    }
    let mut group = first.to_owned();
    for word in words {
        let alphabetic = !word.is_empty() && word.chars().all(char::is_alphabetic);
        let hex_token = word.len() == 8 && word.chars().all(|c| c.is_ascii_hexdigit());
        if !alphabetic || hex_token {
            break;
        }
        group.push('-');
        group.push_str(word);
    }
    // A bare token (a 32-digit hash) is anonymous data.
    if group.len() == 32 && group.chars().all(|c| c.is_ascii_hexdigit()) {
        return "data".to_owned();
    }
    group
}

#[cfg(test)]
mod group_tests {
    use super::key_group;
    use rask_graph::Key;

    #[test]
    fn groups_follow_dasks_key_split() {
        let cases = [
            (Key::str("inc-17"), "inc"),
            (Key::str("sum-partial-3f2a9c-7"), "sum-partial"),
            (Key::str("read-parquet-deadbeef-3"), "read-parquet"),
            (Key::str("x"), "x"),
            (Key::tuple([Key::str("x"), Key::Int(3)]), "x"),
            (Key::tuple([Key::str("add-tree-a1"), Key::Int(0), Key::Int(1)]), "add-tree"),
            (Key::Int(7), "int"),
            (Key::str("0123456789abcdef0123456789abcdef"), "data"),
            (Key::str("-x"), "other"),
        ];
        for (key, group) in cases {
            assert_eq!(key_group(&key), group, "{key}");
        }
    }
}
