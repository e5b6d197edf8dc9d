//! The multiprocess executor: a plan's tasks in worker processes, results in shared memory.
//!
//! - **Workers are this executable, re-executed** with `RASK_WORKER` set; the first line of
//!   `main` ([`worker_main_if_requested`]) turns such a process into a worker. Re-executing
//!   (rather than forking) gives each worker a clean single-threaded process with the same
//!   link-time function registry, whatever threads the parent had running — forking a
//!   multi-threaded process may copy a lock some other thread held.
//! - **The parent schedules with the threaded executor's state machine** (`threaded::Shared`:
//!   the same dependency counters, priority-ordered root claiming, release of results after
//!   their last consumer, error cancellation), driven from one thread that keeps each worker a
//!   few dozen tasks ahead ([`WINDOW`]) when tasks are short, two when they run for
//!   milliseconds, and a task whose function is known to take milliseconds only to a worker
//!   with nothing in flight (`deal.rs`; the rings have no work stealing: a long queue on one
//!   worker would leave the other idle at the end).
//! - **Tasks and completions travel through shared-memory rings** (see `ring.rs`), batched: a
//!   worker wakes the parent once per [`worker::ANNOUNCE_EVERY`] completions or when it runs
//!   dry, and nobody makes a system call while the other side is busy.
//! - **Results never pass through the parent's hands**: small ones are inline in messages;
//!   large ones are written once into a `/dev/shm` segment (task functions allocate their big
//!   outputs there directly, see [`rask_graph::arena`]) and every later reader maps it. The
//!   parent holds such a result by its name without mapping it (`held.rs`) and maps only the
//!   results the caller asked for. A task that only picks items of a list input is sent those
//!   items alone.
//! - **Segments are recycled**: when the parent lets go of a worker's segment (its result
//!   released, no running task reading it), the name goes back to that worker, whose pool
//!   writes its next results there instead of making new segments.
//! - **Failure**: a worker that dies is replaced; its unfinished tasks run again elsewhere; a
//!   task that kills [`MAX_ATTEMPTS`] workers fails the run naming its key. A worker that is
//!   stopped or wedged (its heartbeat thread's counter stands still for the stall timeout,
//!   [`DEFAULT_STALL_TIMEOUT`] or `RASK_WORKER_STALL_TIMEOUT`) while it has tasks is killed and
//!   replaced the same way. Workers die with the parent (`PR_SET_PDEATHSIG`, and a parent
//!   check while idle). Segment names carry the
//!   owner's pid, so a crashed run's leftovers are swept when the next executor starts.

mod control;
mod deal;
mod held;
mod recycle;
mod ring;
#[cfg(all(test, loom))]
mod ring_loom;
mod spawner;
pub(crate) mod wire;
mod worker;

use std::ffi::OsString;
use std::io;
use std::os::fd::RawFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::sync::{mpsc, Arc, Mutex, Once, Weak};
use std::time::{Duration, Instant};

use rask_graph::{Plan, Value};
use rask_protocol::{frame, FromWorker, Layout, SharedRef, TaskFailure, ToWorker, ToWorkerRef, WireValue};
use rask_store::{Claim, Namespace, Segment};
use rustc_hash::{FxHashMap, FxHashSet};

use self::control::Control;
use self::spawner::Spawner;
pub use self::wire::DEFAULT_INLINE_MAX;
use self::wire::{only_items, to_wire};
use crate::threaded::deque::Worker as Deque;
use crate::threaded::Shared;
use crate::{ExecError, Executor, Outcome, Progress};

/// Bytes of free shared-memory segments the workers keep for their next results together,
/// by default, as a fraction of physical memory: a sixteenth (see
/// [`ProcessExecutor::segment_pool`]). Measured on the frame `moves` bench (2 workers, 24 GiB):
/// a hash join of two 10M-row sides cycles through about 1.5 GB of segments a run; with 256 MiB
/// a worker most were made anew each run (0.68–0.71 s), with 768 MiB almost none (0.56–0.57 s).
pub const DEFAULT_SEGMENT_POOL_FRACTION: usize = 16;
/// Names sent in one [`ToWorker::Recycle`] message, at most.
const RECYCLE_BATCH: usize = 256;
/// Names of pooled segments the executor remembers before it checks which still exist.
const PRUNE_POOLED: usize = 1 << 14;
/// Tasks sent to a worker and not yet completed, at most: for tasks of microseconds, enough
/// that a worker never waits for the parent. Tasks known to run longer are dealt fewer at a
/// time (see `window_for`), so that one worker is not left with a queue of long tasks while
/// the other has nothing — the rings have no work stealing.
pub const WINDOW: usize = 32;
/// Work queued on a worker beyond what it runs, at most, once task times are known.
const QUEUED_WORK_US: u64 = 2_000;
/// Worker deaths a task may cause before it fails the run (Dask's `allowed-failures` is 3).
pub const MAX_ATTEMPTS: u32 = 3;
pub(crate) const MAX_FRAME: usize = 64 << 20;
const ENV: &str = "RASK_WORKER";
/// Idle polls of the completion rings before the parent sleeps.
const SPINS: usize = 100;
/// How often the parent checks its workers are alive while busy; and its longest sleep.
const HEALTH_EVERY: Duration = Duration::from_millis(10);
/// A worker with tasks whose heartbeat stands still this long is stopped or wedged.
pub const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(30);
const STALL_ENV: &str = "RASK_WORKER_STALL_TIMEOUT";

/// If this process was started as a worker by a [`ProcessExecutor`], serves as one and exits;
/// otherwise returns at once. Call it first thing in `main` of any binary that uses the
/// process executor (the `rask` CLI does).
pub fn worker_main_if_requested() {
    let Some(spec) = std::env::var_os(ENV) else { return };
    // Not inherited by anything a task might start.
    std::env::remove_var(ENV);
    let code = match spec.to_str().and_then(Spec::parse) {
        Some(spec) => worker::serve(&spec),
        None => {
            tracing::error!("malformed {ENV}={spec:?}");
            2
        }
    };
    std::process::exit(code);
}

/// What a worker is told through its environment.
pub(crate) struct Spec {
    fd: RawFd,
    inline_max: usize,
    pool_cap: usize,
    slots: usize,
    slot: usize,
    parent: u32,
    tag: String,
}

impl Spec {
    fn encode(&self) -> String {
        let Spec { fd, inline_max, pool_cap, slots, slot, parent, tag } = self;
        format!("{fd}:{inline_max}:{pool_cap}:{slots}:{slot}:{parent}:{tag}")
    }

    fn parse(s: &str) -> Option<Spec> {
        let mut parts = s.splitn(7, ':');
        let spec = Spec {
            fd: parts.next()?.parse().ok()?,
            inline_max: parts.next()?.parse().ok()?,
            pool_cap: parts.next()?.parse().ok()?,
            slots: parts.next()?.parse().ok()?,
            slot: parts.next()?.parse().ok()?,
            parent: parts.next()?.parse().ok()?,
            tag: parts.next()?.to_owned(),
        };
        (spec.slot < spec.slots && !spec.tag.is_empty()).then_some(spec)
    }
}

static NEXT_EXECUTOR: AtomicU32 = AtomicU32::new(0);
static SWEEP_ORPHANS: Once = Once::new();

/// Runs plans in a pool of worker processes (by default one per core), started on first use
/// and kept until the executor is dropped.
pub struct ProcessExecutor {
    workers: usize,
    inline_max: usize,
    pool_cap: usize,
    stall_timeout: Duration,
    worker_args: Vec<OsString>,
    id: u32,
    pool: Mutex<Option<Pool>>,
}

struct Pool {
    spawner: Spawner,
    control: Control,
    slots: Vec<Slot>,
    namespace: Namespace,
    next_run: u64,
    /// Workers' segments the executor dropped its last claim to, on their way back to the
    /// worker that made them.
    released: mpsc::Sender<String>,
    released_rx: mpsc::Receiver<String>,
    /// Names sent back to workers and not seen in a result since: what their pools hold
    /// (or removed, if full).
    pooled: FxHashSet<String>,
    prune_pooled_at: usize,
    /// Running time by the function a task calls, a moving average in microseconds, kept
    /// across runs (`deal.rs`).
    kind_us: FxHashMap<String, u64>,
}

struct Slot {
    child: Option<Child>,
    incarnation: u32,
    in_flight: Vec<InFlight>,
    /// Its segments no one reads any more, not yet sent back to it.
    recycle: Vec<String>,
    /// The worker's heartbeat count when last seen to change, and when.
    beat: (u64, Instant),
}

struct InFlight {
    node: u32,
    /// Segments made to send this task (a spilled message, a copied input), registered with
    /// the run's segments: unlinked when done, unless the result lives in one of them (a task
    /// that returns its input as it is shares the mapping).
    _keep: Vec<Arc<Segment>>,
    /// The inputs sent by segment name, held so that none is recycled under a running task.
    _inputs: Vec<Value>,
}

impl ProcessExecutor {
    pub fn new(workers: usize) -> ProcessExecutor {
        ProcessExecutor {
            workers: workers.max(1),
            inline_max: DEFAULT_INLINE_MAX,
            pool_cap: rask_graph::arena::physical_memory() / DEFAULT_SEGMENT_POOL_FRACTION / workers.max(1),
            stall_timeout: stall_timeout_from_env(),
            worker_args: Vec::new(),
            id: NEXT_EXECUTOR.fetch_add(1, Relaxed),
            pool: Mutex::new(None),
        }
    }

    pub fn with_available_cores() -> ProcessExecutor {
        ProcessExecutor::new(std::thread::available_parallelism().map_or(1, |n| n.get()))
    }

    /// Arguments for the re-executed workers: for binaries whose `main` is not theirs to edit
    /// (a test harness that must be told which test calls [`worker_main_if_requested`]).
    pub fn worker_args(mut self, args: impl IntoIterator<Item = impl Into<OsString>>) -> ProcessExecutor {
        self.worker_args = args.into_iter().map(Into::into).collect();
        self
    }

    /// Values of up to `bytes` travel inside messages, larger ones in shared-memory segments
    /// (and task functions allocate arrays above it in shared memory directly). Takes effect
    /// when the workers start. Default [`DEFAULT_INLINE_MAX`].
    pub fn inline_max(mut self, bytes: usize) -> ProcessExecutor {
        self.inline_max = bytes;
        self
    }

    /// Each worker keeps up to `bytes` of shared-memory segments whose results no one reads
    /// any more, and writes its next large results into them instead of making new ones (no
    /// system calls, no pages to zero and fault in): the executor hands a segment back to the
    /// worker that made it once it has dropped the result and no running task reads it. 0
    /// turns recycling off. Takes effect when the workers start. Default: a
    /// [sixteenth](DEFAULT_SEGMENT_POOL_FRACTION) of physical memory split between the workers.
    /// The pools' segments stay in `/dev/shm` while the executor lives and go with it.
    pub fn segment_pool(mut self, bytes: usize) -> ProcessExecutor {
        self.pool_cap = bytes;
        self
    }

    /// A worker that has tasks and whose heartbeat stands still this long (stopped with
    /// SIGSTOP, or wedged) is killed, replaced, and its tasks re-run. Default
    /// [`DEFAULT_STALL_TIMEOUT`], or `RASK_WORKER_STALL_TIMEOUT` (`500ms`, `10s`, …).
    pub fn stall_timeout(mut self, timeout: Duration) -> ProcessExecutor {
        self.stall_timeout = timeout;
        self
    }

    pub fn workers(&self) -> usize {
        self.workers
    }

    /// The most bytes each worker's pool of segments keeps (see [`ProcessExecutor::segment_pool`]).
    pub fn segment_pool_cap(&self) -> usize {
        self.pool_cap
    }

    /// The live workers' process ids (empty before the first run).
    pub fn worker_pids(&self) -> Vec<u32> {
        let pool = self.pool.lock().unwrap_or_else(|e| e.into_inner());
        pool.iter().flat_map(|p| p.slots.iter().filter_map(|s| s.child.as_ref().map(Child::id))).collect()
    }

    /// Segments the workers' pools hold for reuse (see [`ProcessExecutor::segment_pool`]), as
    /// far as this executor knows: the names it handed back and has not seen in a result since.
    pub fn pooled_segments(&self) -> Vec<String> {
        let pool = self.pool.lock().unwrap_or_else(|e| e.into_inner());
        let pooled = pool.iter().flat_map(|p| p.pooled.iter().cloned());
        let existing: FxHashSet<String> = rask_store::list().into_iter().collect();
        pooled.filter(|name| existing.contains(name)).collect()
    }

    /// The prefix of every shared-memory segment this executor and its workers create.
    pub fn segment_prefix(&self) -> String {
        format!("rask-{}-e{}.", std::process::id(), self.id)
    }

    fn worker_tag(&self, slot: usize, incarnation: u32) -> String {
        format!("e{}.w{slot}.{incarnation}", self.id)
    }

    fn start_pool(&self) -> Result<Pool, ExecError> {
        SWEEP_ORPHANS.call_once(|| {
            rask_store::sweep_orphans();
        });
        let control = Control::create(self.workers).map_err(|e| ExecError::Workers(format!("control block: {e}")))?;
        let spawner = Spawner::start().map_err(|e| ExecError::Workers(format!("spawner thread: {e}")))?;
        let (released, released_rx) = mpsc::channel();
        let mut pool = Pool {
            spawner,
            control,
            slots: Vec::new(),
            namespace: Namespace::new(&format!("e{}.p", self.id)),
            next_run: 0,
            released,
            released_rx,
            pooled: FxHashSet::default(),
            prune_pooled_at: PRUNE_POOLED,
            kind_us: FxHashMap::default(),
        };
        for slot in 0..self.workers {
            let child = self.spawn(&pool.spawner, &pool.control, slot, 0);
            let child = child.map_err(|e| ExecError::Workers(format!("spawn: {e}")))?;
            pool.slots.push(Slot {
                child: Some(child),
                incarnation: 0,
                in_flight: Vec::new(),
                recycle: Vec::new(),
                beat: (0, Instant::now()),
            });
        }
        Ok(pool)
    }

    fn spawn(&self, spawner: &Spawner, control: &Control, slot: usize, incarnation: u32) -> io::Result<Child> {
        let spec = Spec {
            fd: control.fd(),
            inline_max: self.inline_max,
            pool_cap: self.pool_cap,
            slots: control.slots(),
            slot,
            parent: std::process::id(),
            tag: self.worker_tag(slot, incarnation),
        };
        let mut command = Command::new(std::env::current_exe()?);
        command.args(&self.worker_args).env(ENV, spec.encode()).stdin(Stdio::null()).stdout(Stdio::null());
        let fd = control.fd();
        // SAFETY: between fork and exec only async-signal-safe calls (prctl, fcntl).
        unsafe {
            command.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(io::Error::last_os_error());
                }
                let flags = libc::fcntl(fd, libc::F_GETFD);
                if flags < 0 || libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        spawner.spawn(command)
    }
}

impl Default for ProcessExecutor {
    fn default() -> ProcessExecutor {
        ProcessExecutor::with_available_cores()
    }
}

impl Drop for ProcessExecutor {
    fn drop(&mut self) {
        let Some(mut pool) = self.pool.get_mut().unwrap_or_else(|e| e.into_inner()).take() else { return };
        let exit = frame::to_frame(&ToWorker::Exit, MAX_FRAME).expect("a tiny message encodes");
        for (i, slot) in pool.slots.iter().enumerate() {
            if slot.child.is_some() {
                let ring = pool.control.tasks(i);
                // A full ring means a busy worker: it is killed below instead.
                ring.try_push(&exit);
                ring.notify();
            }
        }
        let deadline = Instant::now() + Duration::from_millis(500);
        for slot in &mut pool.slots {
            if let Some(child) = slot.child.as_mut() {
                while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
                    std::thread::sleep(Duration::from_millis(1));
                }
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        rask_store::sweep(&self.segment_prefix());
    }
}

impl Executor for ProcessExecutor {
    fn name(&self) -> &str {
        "processes"
    }

    fn execute(&self, plan: &Plan, progress: Option<&dyn Progress>) -> Result<Outcome, ExecError> {
        plan.check_portable(self.name())?;
        let mut guard = self.pool.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            *guard = Some(self.start_pool()?);
        }
        let pool = guard.as_mut().expect("started above");
        pool.next_run += 1;
        Run::new(self, pool, plan, progress).drive()
    }
}

/// One run's parent-side state.
struct Run<'a, 'p> {
    exec: &'a ProcessExecutor,
    pool: &'a mut Pool,
    plan: &'p Plan,
    shared: Shared<'p>,
    local: Deque<u32>,
    run: u64,
    /// Workers' result segments held (`held.rs`), by name: one claim per name, however many
    /// results lie in it.
    claims: FxHashMap<String, Weak<Claim>>,
    /// Segments made here to send inputs, by name: a result that comes back by one of these
    /// names (say, `identity` of a big array) shares the mapping and its single owner.
    made: FxHashMap<String, Weak<Segment>>,
    /// [`ProcessExecutor::segment_prefix`], made once (it asks the system for our pid).
    prefix: String,
    attempts: FxHashMap<u32, u32>,
    /// Each retried task's earlier errors (its `retries` annotation).
    retried: FxHashMap<u32, Vec<String>>,
    bytes_copied: u64,
    bytes_shared: u64,
    replaced: usize,
    frame: Vec<u8>,
    record: Vec<u8>,
    last_health: Instant,
    next_slot: usize,
    /// Tasks' running time in the workers, a moving average in microseconds (0: none yet).
    task_us: u64,
}

impl<'a, 'p> Run<'a, 'p> {
    fn new(exec: &'a ProcessExecutor, pool: &'a mut Pool, plan: &'p Plan, progress: Option<&'p dyn Progress>) -> Self {
        let run = pool.next_run;
        Run {
            exec,
            pool,
            plan,
            shared: Shared::new(plan, Vec::new(), progress),
            local: Deque::new_lifo(),
            run,
            claims: FxHashMap::default(),
            made: FxHashMap::default(),
            prefix: exec.segment_prefix(),
            attempts: FxHashMap::default(),
            retried: FxHashMap::default(),
            bytes_copied: 0,
            bytes_shared: 0,
            replaced: 0,
            frame: Vec::new(),
            record: Vec::new(),
            last_health: Instant::now(),
            next_slot: 0,
            task_us: 0,
        }
    }

    fn in_flight(&self) -> usize {
        self.pool.slots.iter().map(|s| s.in_flight.len()).sum()
    }

    fn drive(mut self) -> Result<Outcome, ExecError> {
        // Workers lost between runs (killed while idle) are replaced before we count on them;
        // segments let go of after the last run's end go back before the first task.
        self.check_health();
        self.recycle();
        let mut idle = 0usize;
        loop {
            let sent = self.dispatch();
            let got = self.collect();
            self.recycle();
            if self.shared.finished() && self.in_flight() == 0 {
                break;
            }
            if self.last_health.elapsed() >= HEALTH_EVERY {
                self.check_health();
            }
            if sent || got {
                idle = 0;
                continue;
            }
            idle += 1;
            if idle < SPINS {
                std::hint::spin_loop();
                continue;
            }
            let control = &self.pool.control;
            let slots = self.pool.slots.len();
            control.parent_bell().wait(|| (0..slots).any(|s| !control.done(s).is_empty()), Some(HEALTH_EVERY));
            self.check_health();
        }
        let (bytes_copied, bytes_shared, replaced) = (self.bytes_copied, self.bytes_shared, self.replaced);
        let (shared, claims, made) = (self.shared, std::mem::take(&mut self.claims), std::mem::take(&mut self.made));
        let mut held = Vec::new();
        let outcome = shared.into_outcome().and_then(|mut outcome| {
            held = std::mem::take(&mut outcome.values);
            outcome.values = held::materialize(self.plan, &held)?;
            Ok(outcome)
        });
        // Results handed back to the caller keep their mappings; the names go now, so nothing
        // of this run remains in /dev/shm whatever the caller does with the values.
        for claim in claims.values().filter_map(Weak::upgrade) {
            claim.unlink();
        }
        for segment in made.values().filter_map(Weak::upgrade) {
            segment.unlink();
        }
        drop(held);
        let mut outcome = outcome?;
        outcome.stats.bytes_copied = bytes_copied;
        outcome.stats.bytes_shared = bytes_shared;
        outcome.stats.workers_replaced = replaced;
        Ok(outcome)
    }

    /// Encodes `task` with its inputs into slot `s`'s ring; false if the ring is full.
    pub(super) fn send(&mut self, s: usize, task: u32) -> Result<bool, ExecError> {
        let plan = self.plan;
        let unrunnable = |cause: String| ExecError::Unrunnable { key: plan.key(task).clone(), cause };
        let mut keep = Vec::new();
        let mut inputs = Vec::with_capacity(plan.dependencies(task).len());
        let mut values = Vec::new();
        for &i in plan.dependencies(task) {
            // SAFETY: `task` is ready (every dependency finished) and not yet complete.
            let mut value: Value = unsafe { self.shared.result(i) };
            if let Value::List(items) = &value {
                if let Some(read) = plan.op(task).items_read(i) {
                    value = only_items(items, &read);
                }
            }
            let (wire, made) = to_wire(&value, &self.pool.namespace, self.exec.inline_max, false)
                .map_err(|e| unrunnable(e.to_string()))?;
            for segment in made {
                let segment = Arc::new(segment);
                self.made.insert(segment.name().to_owned(), Arc::downgrade(&segment));
                keep.push(segment);
            }
            if !matches!(wire, WireValue::Inline(_)) {
                values.push(value);
            }
            inputs.push((i, wire));
        }
        self.frame.clear();
        frame::encode(&ToWorkerRef::run(self.run, task, plan.op(task), &inputs), MAX_FRAME, &mut self.frame)
            .map_err(|e| unrunnable(e.to_string()))?;
        let ring = self.pool.control.tasks(s);
        if self.frame.len() > ring.max_record() {
            let (r, spill) = wire::park(&self.pool.namespace, &self.frame, Layout::Encoded, false)
                .map_err(|e| unrunnable(e.to_string()))?;
            self.frame = frame::to_frame(&ToWorker::Spilled(r), MAX_FRAME).map_err(|e| unrunnable(e.to_string()))?;
            keep.push(Arc::new(spill));
        }
        if !ring.try_push(&self.frame) {
            return Ok(false);
        }
        self.pool.slots[s].in_flight.push(InFlight { node: task, _keep: keep, _inputs: values });
        Ok(true)
    }

    /// Takes every completion waiting in every ring.
    fn collect(&mut self) -> bool {
        let mut got = false;
        for s in 0..self.pool.slots.len() {
            got |= self.collect_slot(s);
        }
        got
    }

    fn collect_slot(&mut self, s: usize) -> bool {
        let mut got = false;
        loop {
            let popped = self.pool.control.done(s).pop(&mut self.record);
            match popped {
                Ok(true) => got = true,
                Ok(false) => return got,
                Err(_) => {
                    self.kill(s, "it wrote a corrupt record");
                    return got;
                }
            }
            let message = match frame::from_frame::<FromWorker>(&self.record, MAX_FRAME) {
                Ok(FromWorker::Spilled(r)) => self.unspill(&r),
                other => other.map_err(|e| e.to_string()),
            };
            match message {
                Ok(FromWorker::Done(done)) => self.on_done(s, done),
                Ok(FromWorker::Spilled(_)) => {
                    self.kill(s, "it spilled a spilled message");
                    return got;
                }
                Err(e) => {
                    self.kill(s, &format!("it sent a bad message ({e})"));
                    return got;
                }
            }
        }
    }

    /// The completion a worker parked in a segment; the segment goes once it is read.
    fn unspill(&mut self, r: &SharedRef) -> Result<FromWorker, String> {
        let _claim = self.claim(&r.segment).map_err(|e| e.to_string())?;
        let segment = Segment::open(&r.segment).map_err(|e| e.to_string())?;
        wire::spilled(&segment, r)
    }

    fn on_done(&mut self, s: usize, done: rask_protocol::TaskDone) {
        let slot = &mut self.pool.slots[s];
        let position = slot.in_flight.iter().position(|f| f.node == done.node);
        let (Some(position), true) = (position, done.run == self.run) else {
            // A result of an earlier run (which failed before it came back): claim its segment
            // only to let it go.
            if let Ok(wire) = &done.result {
                for r in wire.shared_refs() {
                    let _ = self.claim(&r.segment);
                }
            }
            return;
        };
        // Kept until the result is held: a result living in one of its segments shares it.
        let flight = slot.in_flight.swap_remove(position);
        self.bytes_copied += done.bytes_copied;
        self.bytes_shared += done.bytes_shared;
        self.timed(done.node, done.elapsed_us);
        let node = done.node;
        let plan = self.plan;
        let key = plan.key(node);
        let value = match done.result {
            Ok(wire) => self.hold(wire).map_err(|cause| ExecError::Unrunnable { key: key.clone(), cause }),
            Err(TaskFailure::Failed(f)) => Err(ExecError::from_failure(key, f)),
            Err(TaskFailure::Unrunnable(cause)) => Err(ExecError::Unrunnable { key: key.clone(), cause }),
        };
        drop(flight);
        match value {
            Ok(value) => {
                self.shared.complete(node, value);
                if let Some(next) = self.shared.release_dependents(node, &self.local) {
                    self.local.push(next);
                }
                self.shared.report(1);
            }
            Err(e @ (ExecError::Task { .. } | ExecError::Panic { .. })) => {
                let earlier = self.retried.entry(node).or_default();
                match crate::retry::give_up(self.plan, node, e, earlier) {
                    None => self.local.push(node),
                    Some(e) => self.shared.fail(e),
                }
            }
            Err(e) => self.shared.fail(e),
        }
    }

    fn check_health(&mut self) {
        self.last_health = Instant::now();
        for s in 0..self.pool.slots.len() {
            let status = match self.pool.slots[s].child.as_mut().map(Child::try_wait) {
                None => Some("it could not be started".to_owned()),
                // A worker that exits cleanly on its own was never a worker: the binary ran its
                // own `main` instead of serving.
                Some(Ok(Some(status))) if status.success() => Some(format!(
                    "{status}: it ran the program instead of serving as a worker; `main` must begin \
                     with `rask::init()` (or `rask_exec::worker_main_if_requested()`)"
                )),
                Some(Ok(Some(status))) => Some(status.to_string()),
                Some(Ok(None)) => None,
                Some(Err(e)) => Some(e.to_string()),
            };
            if let Some(cause) = status {
                self.replace(s, &cause);
            } else if let Some(silence) = self.stalled(s) {
                let why = format!("no heartbeat for {silence:?} while it had tasks (stopped or wedged)");
                self.kill(s, &why);
            }
        }
    }

    /// How long worker `s` has had tasks without a heartbeat, if past the stall timeout.
    fn stalled(&mut self, s: usize) -> Option<Duration> {
        let now = Instant::now();
        let count = self.pool.control.beat(s).load(Relaxed);
        let slot = &mut self.pool.slots[s];
        if count != slot.beat.0 || slot.in_flight.is_empty() {
            slot.beat = (count, now);
            return None;
        }
        let silence = now.duration_since(slot.beat.1);
        (silence > self.exec.stall_timeout).then_some(silence)
    }

    fn kill(&mut self, s: usize, why: &str) {
        if let Some(child) = self.pool.slots[s].child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.replace(s, &format!("killed by the executor: {why}"));
    }

    /// Replaces the dead worker in slot `s`: keeps what it finished, re-queues what it was
    /// running, removes its half-made segments, starts a new worker on clean rings.
    fn replace(&mut self, s: usize, cause: &str) {
        let running = self.pool.slots[s].in_flight.len();
        tracing::warn!("worker process {s} lost ({cause}): replacing it, its {running} unfinished tasks run again");
        if self.pool.slots[s].child.is_some() {
            // Completions it published before dying are whole: use them.
            self.collect_slot(s);
        }
        let lost = std::mem::take(&mut self.pool.slots[s].in_flight);
        for task in lost {
            if self.shared.failed() {
                continue;
            }
            let attempts = self.attempts.entry(task.node).or_insert(0);
            *attempts += 1;
            if *attempts >= MAX_ATTEMPTS {
                let key = self.plan.key(task.node).clone();
                self.shared.fail(ExecError::WorkerLost { key, attempts: *attempts, cause: cause.to_owned() });
            } else {
                self.local.push(task.node);
            }
        }
        let slot = &mut self.pool.slots[s];
        // Its pool dies with it: the names go with the rest of its segments below.
        slot.recycle.clear();
        let dead_prefix = format!("rask-{}-{}-", std::process::id(), self.exec.worker_tag(s, slot.incarnation));
        for name in rask_store::list().into_iter().filter(|n| n.starts_with(&dead_prefix)) {
            if self.claims.get(&name).is_none_or(|w| w.strong_count() == 0) {
                let _ = rask_store::remove(&name);
            }
        }
        self.pool.control.tasks(s).reset();
        self.pool.control.done(s).reset();
        slot.incarnation += 1;
        slot.beat = (self.pool.control.beat(s).load(Relaxed), Instant::now());
        self.replaced += 1;
        match self.exec.spawn(&self.pool.spawner, &self.pool.control, s, slot.incarnation) {
            Ok(child) => slot.child = Some(child),
            Err(e) => {
                slot.child = None;
                self.shared.fail(ExecError::Workers(format!("cannot replace a dead worker: {e}")));
            }
        }
    }
}

fn stall_timeout_from_env() -> Duration {
    let Ok(text) = std::env::var(STALL_ENV) else { return DEFAULT_STALL_TIMEOUT };
    crate::parse_duration(&text).unwrap_or_else(|e| {
        tracing::warn!("ignoring {STALL_ENV}={text:?}: {e}");
        DEFAULT_STALL_TIMEOUT
    })
}
