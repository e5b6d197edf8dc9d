//! The scheduler's state machine, with no I/O: events in, messages out (an [`Outbox`]), so
//! every transition is testable without a socket.
//!
//! A task moves through these states (Dask's, minus `fetch`/`flight`, which are workers'):
//!
//! ```text
//!   (new) ──► Waiting ──(deps in memory)──► Queued ──(assigned)──► Processing ──► Memory
//!                ▲                            ▲                         │           │
//!                │                            └──(worker died, retry)───┘           │
//!                └────────(needed again after its result was lost)── Released ◄─────┘
//!   any active state ──(it or a dependency failed, or cancelled)──► Erred
//!   Released/Erred, unwanted, no dependents ──► forgotten (removed)
//! ```
//!
//! Ready tasks wait on the scheduler in priority order (submission, then the graph's static
//! order) and each worker gets only `nthreads + SATURATION` at a time, and only `nthreads + 1`
//! roots whose results are large (`roots.rs`): roots are not handed out faster than their
//! consumers reduce them (dask/distributed #5555), and the graph's order decides what runs next. A result is released as soon as no active task needs it and no
//! client wants it; its definition is kept until all its dependents are forgotten, so a result
//! lost with a worker can be recomputed.

mod clients;
pub(crate) mod coord;
mod data;
mod dispatch;
mod failures;
pub(crate) mod groups;
mod id_list;
mod key_index;
pub(crate) mod monitor;
mod observe;
mod placement;
mod rare;
mod ready;
mod retire;
mod roots;
mod saturation;
mod size;
mod slots;
mod steal;
mod stored_key;
mod submit;

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::time::Instant;

use rask_graph::{Annotations, Key};
use rask_protocol::dist::{Assignment, EncodedOp, SchedulerStats, TaskCause, TaskRecord, ToClient, WireKey};

use self::groups::{GroupId, Groups};
use self::id_list::{IdList, RareIdList};
use self::key_index::KeyIndex;
use self::monitor::Monitor;
pub use self::observe::ClientProgress;
use self::ready::Ready;
pub use self::saturation::SATURATION;
use self::slots::Slots;
use self::stored_key::StoredKey;
use rustc_hash::{FxHashMap, FxHashSet};
use smallvec::SmallVec;

pub type WorkerId = u32;
/// The task whose function failed, how, and its earlier attempts.
pub(crate) type Cause = Arc<TaskCause>;
pub type ClientId = u32;
type TaskId = u32;
/// Ready tasks run in this order, smallest first: the user's priority (higher first), then
/// the submission, then the rank in the graph's order.
type Priority = (Reverse<i32>, u32, u32);

/// The client that wants a fired-and-forgotten task until it ends (none listens).
const FIRED: ClientId = ClientId::MAX;
/// In place of a task's client once its progress counted it (`Task::uncounted_for`).
const COUNTED: ClientId = ClientId::MAX - 2;
/// Worker deaths a task may cause before it is erred (Dask's `allowed-failures`).
pub const ALLOWED_FAILURES: u32 = 3;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TaskState {
    Released,
    Waiting,
    Queued,
    Processing(WorkerId),
    Memory,
    /// Failed: the error is in `State::errors`, not here (a task is a few words smaller).
    Erred,
}

impl TaskState {
    /// Active tasks still need their dependencies' results.
    fn is_active(&self) -> bool {
        matches!(self, TaskState::Waiting | TaskState::Queued | TaskState::Processing(_))
    }
}

/// Dependency and dependent lists: most tasks have one or two of each, held inline.
type TaskIds = IdList<TaskId>;

struct Task {
    /// Its definition as submitted, less the dependency keys (those are `deps`' tasks' keys,
    /// put back by `assign`). The key is held encoded (`stored_key.rs`).
    key: StoredKey,
    op: EncodedOp,
    /// Its annotations, as submitted (resources, workers, retries, priority).
    hints: Option<Box<Annotations>>,
    deps: TaskIds,
    dependents: TaskIds,
    state: TaskState,
    /// Dependencies not in memory, while waiting.
    waiting: u32,
    /// Dependents in an active state: while non-zero, the result must be kept.
    active_dependents: u32,
    who_has: IdList<WorkerId>,
    size: size::Size,
    wanted_by: RareIdList<ClientId>,
    /// Its submission and its rank in that submission's order: with the user's priority (in
    /// `hints`), its [`Task::priority`].
    order: (u32, u32),
    /// Submissions in progress that include this task: until they end it is not forgotten,
    /// because their later chunks may add dependents (its result may still be released, and
    /// is recomputed if a later chunk needs it).
    pins: u32,
    group: GroupId,
    /// The client whose submission added it, while its progress has yet to count this task
    /// as done; [`COUNTED`] once it has (a recomputation is not counted again).
    uncounted_for: ClientId,
}

impl Task {
    /// Ready tasks run in this order, smallest first.
    fn priority(&self) -> Priority {
        let user = self.hints.as_ref().map_or(0, |h| h.priority);
        (Reverse(user), self.order.0, self.order.1)
    }

    /// Its result's size, once it has one.
    fn nbytes(&self) -> u64 {
        self.size.bytes()
    }
}

struct Worker {
    addr: String,
    /// Its host, hashed: workers on one host fetch from each other through shared memory.
    host: u64,
    /// The address again, shared by every task-stream entry of this worker.
    name: Arc<str>,
    nthreads: usize,
    memory_limit: u64,
    /// When the worker was last heard from.
    seen: Instant,
    report: WorkerReport,
    processing: FxHashSet<TaskId>,
    holds: FxHashSet<TaskId>,
    /// Abstract resources it declared (`--resources GPU=2`), and how much of each is free.
    resources: Vec<(String, f64)>,
    free: Vec<f64>,
    /// Its tasks that wait on subtasks they submitted and gave their thread back.
    seceded: FxHashSet<TaskId>,
    /// Leaving gracefully (`retire.rs`): no new tasks, its results moved elsewhere first.
    retiring: bool,
    /// Its tasks' running time, a moving average (µs); `None` until one has finished.
    mean_task_us: Option<f64>,
    /// How many of the tasks it is processing each group has (`placement.rs`: what its
    /// queue is expected to take).
    work: SmallVec<[(GroupId, u32); 4]>,
}

/// What a worker's heartbeat says about it.
#[derive(Clone, Copy, Debug, Default)]
pub struct WorkerReport {
    pub bytes_in_memory: u64,
    pub bytes_spilled: u64,
    /// Past its pause threshold: it gets no new tasks until it resumes.
    pub paused: bool,
    pub fetched_by_reference: u64,
    pub fetched_by_copy: u64,
    pub metrics: rask_protocol::dist::WorkerMetrics,
}

impl Worker {
    /// Tasks holding or waiting for one of its threads (seceded ones hold none).
    fn occupied(&self) -> usize {
        self.processing.len() - self.seceded.len()
    }
}

/// Messages produced by a batch of events, one per destination when flushed.
#[derive(Default)]
pub struct Outbox {
    pub compute: FxHashMap<WorkerId, Vec<Assignment>>,
    pub release: FxHashMap<WorkerId, Vec<WireKey>>,
    pub steal: FxHashMap<WorkerId, Vec<Key>>,
    /// Workers retired: to be told to leave, and cut off.
    pub retired: Vec<WorkerId>,
    /// Workers to start afresh (a restart): told so, and cut off.
    pub restart: Vec<WorkerId>,
    /// Values a client scattered, for the worker to keep.
    pub store: FxHashMap<WorkerId, Vec<(Key, rask_graph::Value)>>,
    /// Results to copy from other workers (replication, rebalancing).
    pub fetch: FxHashMap<WorkerId, Vec<(Key, Vec<String>)>>,
    pub finished: FxHashMap<ClientId, Vec<Key>>,
    pub to_clients: Vec<(ClientId, ToClient)>,
    /// `ToClient::Progress` messages, sent before the round's results.
    pub progress: Vec<(ClientId, ToClient)>,
    /// Coordination answers, sent before the round's results too: a future handed over in
    /// one is known to its client when the future's `Finished` arrives.
    pub coord: Vec<(ClientId, ToClient)>,
}

#[derive(Default)]
pub struct State {
    /// The task table: a slot per task known, reused once the task is forgotten (`free`), so
    /// its size follows the most tasks known at once, not how many were ever submitted.
    tasks: Slots<Task>,
    free: Vec<TaskId>,
    index: KeyIndex,
    ready: Ready,
    /// Constrained ready tasks waiting for an allowed worker's room or resources.
    blocked: BinaryHeap<Reverse<(Priority, TaskId)>>,
    /// Constrained ready tasks no connected worker could run (retried when one joins).
    unrunnable: Vec<(Priority, TaskId)>,
    /// Per task with retries, the errors of its failed runs so far.
    retry_log: FxHashMap<TaskId, Vec<String>>,
    /// What only some tasks have (`rare.rs`).
    rare: FxHashMap<TaskId, rare::Rare>,
    workers: FxHashMap<WorkerId, Worker>,
    clients: FxHashMap<ClientId, FxHashSet<TaskId>>,
    /// Wants registered before their task arrived (a submission in several chunks).
    pending_wants: FxHashMap<Key, SmallVec<[ClientId; 1]>>,
    /// Submissions so far (wrapping: only neighbouring submissions are ever compared in earnest).
    generation: u32,
    /// Tasks of the current generation so far: the rank of the next.
    submitted: u32,
    stats: SchedulerStats,
    /// Tasks whose result may have become unneeded; examined at the end of each event.
    release_checks: Vec<TaskId>,
    /// Tasks asked back from their worker and not yet answered for.
    stealing: FxHashSet<TaskId>,
    /// Per client, its submission in progress (`submit.rs`).
    submissions: FxHashMap<ClientId, submit::Submission>,
    /// Since when tasks have been waiting with no worker connected to run them.
    workerless_since: Option<Instant>,
    /// Per erred task, its error, and where the failure began in a task's function (that task
    /// and its failure) if it did.
    errors: FxHashMap<TaskId, (Arc<str>, Option<Cause>)>,
    groups: Groups,
    monitor: Monitor,
    /// Per client, its submissions' tasks: how many, how many finished.
    progress: FxHashMap<ClientId, ClientProgress>,
    /// Copies in flight, (result, to) → the worker to drop its copy once this one lands
    /// (`rebalance`), or none (`replicate`).
    copying: FxHashMap<(TaskId, WorkerId), Option<WorkerId>>,
    /// Clients waiting for `copying` to empty: with keys (`replicate`, answered `WhoHas`) or
    /// without (`rebalance`, answered `HasWhat`).
    placement_waiters: Vec<(ClientId, Option<Vec<Key>>)>,
    /// Retirements under way (`retire.rs`).
    retirements: Vec<retire::Retirement>,
    /// Queues, variables, events, semaphores and topics (`coord.rs`).
    coord: coord::Coordination,
    /// `tcp://HOST:PORT`, for the stats.
    pub address: String,
    pub out: Outbox,
}

impl State {
    fn task(&self, t: TaskId) -> &Task {
        self.tasks[t].as_ref().expect("live task id")
    }

    fn task_mut(&mut self, t: TaskId) -> &mut Task {
        self.tasks[t].as_mut().expect("live task id")
    }

    /// No task is known (the tables hold nothing).
    pub fn is_idle(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Any message from worker `w` shows it alive.
    pub fn seen(&mut self, w: WorkerId, now: Instant) {
        if let Some(worker) = self.workers.get_mut(&w) {
            worker.seen = now;
        }
    }

    /// A worker's report: a paused worker gets no new tasks until it resumes, and gives back
    /// the tasks it has not started, so they run elsewhere instead of waiting on it.
    pub fn heartbeat(&mut self, w: WorkerId, report: WorkerReport) {
        let Some(worker) = self.workers.get_mut(&w) else { return };
        self.monitor.sample(rask_protocol::dist::WorkerSample {
            time_us: crate::metrics::unix_us(),
            worker: worker.addr.clone(),
            bytes_in_memory: report.bytes_in_memory,
            bytes_spilled: report.bytes_spilled,
            rss: report.metrics.rss,
            cpu_percent: report.metrics.cpu_percent,
            executing: report.metrics.executing,
        });
        let resumed = worker.report.paused && !report.paused;
        let paused = !worker.report.paused && report.paused;
        worker.report = report;
        if paused {
            let unstarted: Vec<TaskId> =
                worker.processing.iter().copied().filter(|t| !self.stealing.contains(t)).collect();
            self.ask_back(w, unstarted);
        }
        if resumed {
            self.schedule();
        }
    }

    pub fn state_of(&self, key: &Key) -> Option<&TaskState> {
        self.index.get(key, &self.tasks).map(|t| &self.task(t).state)
    }

    /// The error of an erred task.
    pub fn error_of(&self, key: &Key) -> Option<&str> {
        self.index.get(key, &self.tasks).and_then(|t| self.errors.get(&t)).map(|(e, _)| &**e)
    }

    /// Every state change goes through here: it keeps dependencies' counts of active
    /// dependents (which decide when a result may be released) and the memory counters.
    fn set_state(&mut self, t: TaskId, new: TaskState) {
        let old = std::mem::replace(&mut self.task_mut(t).state, new);
        let task = self.tasks[t].as_ref().expect("live task id");
        self.groups.moved(task.group, &old, &task.state);
        if matches!(task.state, TaskState::Memory | TaskState::Erred) && task.uncounted_for != COUNTED {
            let owner = std::mem::replace(&mut self.task_mut(t).uncounted_for, COUNTED);
            if let Some(p) = self.progress.get_mut(&owner) {
                p.done += 1;
            }
        }
        if let TaskState::Processing(w) = old {
            self.stealing.remove(&t);
            let hints = self.tasks[t].as_ref().and_then(|task| task.hints.as_deref());
            if let Some(worker) = self.workers.get_mut(&w) {
                worker.seceded.remove(&t);
                if let Some(hints) = hints {
                    worker.account(hints, 1.0);
                }
            }
        }
        let new_active = self.task(t).state.is_active();
        if old.is_active() != new_active {
            for i in 0..self.task(t).deps.len() {
                let d = self.task(t).deps[i];
                let dep = self.task_mut(d);
                if new_active {
                    dep.active_dependents += 1;
                } else {
                    dep.active_dependents -= 1;
                    if dep.active_dependents == 0 {
                        self.release_checks.push(d);
                    }
                }
            }
        }
        let now_memory = self.task(t).state == TaskState::Memory;
        if (old == TaskState::Memory) != now_memory {
            if now_memory {
                self.stats.tasks_in_memory += 1;
                self.stats.peak_in_memory = self.stats.peak_in_memory.max(self.stats.tasks_in_memory);
            } else {
                self.stats.tasks_in_memory -= 1;
                self.result_lost(t);
            }
        }
        if matches!(old, TaskState::Processing(_)) || !new_active {
            self.release_checks.push(t);
        }
    }

    /// `t`'s result is no longer in memory (lost with its holders, or released): dependents
    /// waiting for inputs wait for it again, and a queued one goes back to waiting. (Running
    /// dependents find it missing and say so.)
    fn result_lost(&mut self, t: TaskId) {
        for i in 0..self.task(t).dependents.len() {
            let d = self.task(t).dependents[i];
            let Some(dep) = self.tasks[d].as_mut() else { continue };
            match dep.state {
                TaskState::Waiting => dep.waiting += 1,
                // Both active: no dependency counts change. Its heap entry goes stale.
                TaskState::Queued => {
                    dep.state = TaskState::Waiting;
                    dep.waiting = 1;
                    let group = dep.group;
                    self.groups.moved(group, &TaskState::Queued, &TaskState::Waiting);
                }
                _ => {}
            }
        }
    }

    pub fn add_worker(
        &mut self,
        id: WorkerId,
        addr: String,
        nthreads: usize,
        memory_limit: u64,
        resources: Vec<(String, f64)>,
    ) {
        let worker = Worker {
            free: resources.iter().map(|(_, amount)| *amount).collect(),
            seceded: FxHashSet::default(),
            retiring: false,
            resources,
            name: Arc::from(addr.as_str()),
            host: placement::host_of(&addr),
            addr,
            nthreads: nthreads.max(1),
            memory_limit,
            seen: Instant::now(),
            report: WorkerReport::default(),
            processing: FxHashSet::default(),
            holds: FxHashSet::default(),
            mean_task_us: None,
            work: SmallVec::new(),
        };
        self.workers.insert(id, worker);
        self.retry_unrunnable();
        self.schedule();
    }

    pub fn add_client(&mut self, id: ClientId) {
        self.clients.insert(id, FxHashSet::default());
        self.progress.insert(id, ClientProgress::default());
    }

    /// Registers that client `c` wants `keys`, before or after they are submitted.
    pub fn want(&mut self, c: ClientId, keys: &[Key]) {
        for key in keys {
            match self.index.get(key, &self.tasks) {
                Some(t) => self.attach_want(c, t),
                None => self.pending_wants.entry(key.clone()).or_default().push(c),
            }
        }
    }

    fn attach_want(&mut self, c: ClientId, t: TaskId) {
        self.task_mut(t).wanted_by.push(c);
        self.clients.entry(c).or_default().insert(t);
        let key = self.task(t).key.key();
        match &self.task(t).state {
            TaskState::Memory => self.out.finished.entry(c).or_default().push(key),
            TaskState::Erred => {
                let (error, cause) = self.errors.get(&t).expect("an erred task's error");
                let (error, cause) = (error.to_string(), cause.as_ref().map(|c| (**c).clone()));
                self.out.to_clients.push((c, ToClient::Erred { key, error, cause }))
            }
            TaskState::Released => self.need(t),
            _ => {}
        }
    }

    /// A new task (state `Released`) in a free slot, indexed, with the wants registered for
    /// its key before it arrived.
    fn insert_task(
        &mut self,
        c: ClientId,
        key: Key,
        op: EncodedOp,
        hints: Option<Box<Annotations>>,
        deps: TaskIds,
        rank: u32,
    ) -> TaskId {
        let t = self.free.pop().unwrap_or(self.tasks.next_index());
        for &d in &deps {
            self.task_mut(d).dependents.push(t);
        }
        let group = self.groups.add_task(&key, deps.iter().map(|&d| self.tasks[d].as_ref().map_or(0, |x| x.group)));
        if let Some(p) = self.progress.get_mut(&c) {
            p.total += 1;
        }
        let stored = StoredKey::new(&key);
        let task = Some(Task {
            key: stored.clone(),
            op,
            hints,
            deps,
            dependents: IdList::new(),
            state: TaskState::Released,
            waiting: 0,
            active_dependents: 0,
            who_has: IdList::new(),
            size: size::Size::default(),
            wanted_by: RareIdList::new(),
            order: (self.generation, rank),
            pins: 0,
            group,
            uncounted_for: c,
        });
        if t == self.tasks.next_index() {
            self.tasks.push(task);
        } else {
            self.tasks[t] = task;
        }
        self.index.insert(&stored, t, &self.tasks);
        // (Most submissions come with no wants ahead of them: no key to hash then.)
        let pending = if self.pending_wants.is_empty() { None } else { self.pending_wants.remove(&key) };
        if let Some(clients) = pending {
            for c in clients {
                self.task_mut(t).wanted_by.push(c);
                self.clients.entry(c).or_default().insert(t);
            }
        }
        t
    }

    /// Makes sure `t`'s result will exist: revives it and, transitively, any released
    /// dependencies whose results are gone (the recomputation after a lost worker).
    fn need(&mut self, t: TaskId) {
        let mut revive = Vec::new();
        let mut stack = vec![t];
        let mut seen = FxHashSet::default();
        while let Some(x) = stack.pop() {
            if self.task(x).state != TaskState::Released || !seen.insert(x) {
                continue;
            }
            revive.push(x);
            stack.extend(self.task(x).deps.iter().copied());
        }
        // Dependencies first, so that a revived task counts its revived dependencies as waiting.
        for &x in revive.iter().rev() {
            if self.is_scattered(x) {
                let key = self.task(x).key.key();
                self.err(x, format!("{key} was scattered data, lost with every worker that held it").into());
                continue;
            }
            let waiting = self.task(x).deps.iter().filter(|&&d| self.task(d).state != TaskState::Memory).count();
            if self.task(x).nbytes() > 0 || self.attempts(x) > 0 {
                self.stats.tasks_recomputed += 1;
            }
            self.task_mut(x).waiting = waiting as u32;
            let erred_dep = self.task(x).deps.iter().find_map(|&d| match self.task(d).state {
                TaskState::Erred => {
                    let (e, cause) = self.errors.get(&d).expect("an erred task's error");
                    Some((self.task(d).key.key(), e.clone(), cause.clone()))
                }
                _ => None,
            });
            if let Some((dep, e, cause)) = erred_dep {
                let error: Arc<str> = format!("dependency {dep} failed: {e}").into();
                self.set_state(x, TaskState::Waiting);
                self.err_caused(x, error, cause);
            } else if waiting == 0 {
                self.enqueue(x);
            } else {
                self.set_state(x, TaskState::Waiting);
            }
        }
    }

    /// Worker `w` finished these tasks: each goes into the task stream, then to memory.
    pub fn done(&mut self, w: WorkerId, records: Vec<TaskRecord>) {
        self.monitor.count_done(records.len() as u64);
        if let Some(worker) = self.workers.get_mut(&w) {
            worker.timed(&records);
        }
        for record in records {
            let (key, nbytes) = (record.key.clone(), record.nbytes);
            let stored = StoredKey::new(&key);
            let known = self.task_of(record.id, &stored);
            self.record(w, known, stored, record);
            let Some(t) = known else {
                self.out.release.entry(w).or_default().push(key.into());
                continue;
            };
            if self.task(t).state != TaskState::Processing(w) {
                // Stale (cancelled, or re-assigned after a suspected loss): keep a copy only if
                // the result is in memory anyway and this worker is now a holder.
                if self.task(t).state != TaskState::Memory {
                    self.out.release.entry(w).or_default().push(key.into());
                    continue;
                }
            } else {
                self.unassign(w, t);
            }
            self.stats.tasks_done += 1;
            let task = self.task_mut(t);
            task.size = size::Size::new(nbytes);
            if !task.who_has.contains(&w) {
                task.who_has.push(w);
            }
            self.workers.get_mut(&w).map(|x| x.holds.insert(t));
            if self.task(t).state == TaskState::Memory {
                continue;
            }
            self.set_state(t, TaskState::Memory);
            for i in 0..self.task(t).wanted_by.len() {
                let c = self.task(t).wanted_by[i];
                self.out.finished.entry(c).or_default().push(key.clone());
            }
            self.drop_fired(t);
            for i in 0..self.task(t).dependents.len() {
                let d = self.task(t).dependents[i];
                if self.task(d).state == TaskState::Waiting {
                    let dep = self.task_mut(d);
                    dep.waiting -= 1;
                    if dep.waiting == 0 {
                        self.enqueue(d);
                    }
                }
            }
        }
        self.trim_queue(w);
        self.schedule();
        self.run_release_checks();
    }

    /// The task a worker's record is about: the one its assignment named, if that slot still
    /// holds the key (no hashing), else by key.
    fn task_of(&self, id: u32, key: &StoredKey) -> Option<TaskId> {
        match self.tasks.get(id) {
            Some(Some(task)) if task.key == *key => Some(id),
            _ => self.index.get_stored(key, &self.tasks),
        }
    }

    /// Releases results nobody needs any more and forgets tasks nothing can need again.
    fn run_release_checks(&mut self) {
        while let Some(t) = self.release_checks.pop() {
            let Some(task) = self.tasks[t].as_ref() else { continue };
            if !task.wanted_by.is_empty() || task.active_dependents > 0 {
                continue;
            }
            if matches!(task.state, TaskState::Waiting | TaskState::Queued) && task.pins == 0 {
                // Nobody wants it any more and it has not started: it need not run (a task
                // waiting for a worker that may never come would otherwise wait forever).
                // Its dependencies are checked in turn.
                self.set_state(t, TaskState::Released);
            }
            if self.task(t).state == TaskState::Memory {
                let holders = std::mem::take(&mut self.task_mut(t).who_has);
                let key = self.task(t).key.wire();
                for &w in &holders {
                    if let Some(worker) = self.workers.get_mut(&w) {
                        worker.holds.remove(&t);
                        self.out.release.entry(w).or_default().push(key.clone());
                    }
                }
                self.set_state(t, TaskState::Released);
            }
            let task = self.task(t);
            let forgettable = matches!(task.state, TaskState::Released | TaskState::Erred)
                && task.pins == 0
                && task.dependents.iter().all(|&d| self.tasks[d].is_none());
            if forgettable {
                self.forget(t);
            }
        }
        if self.free.len() == self.tasks.len() && !self.tasks.is_empty() {
            self.compact();
        }
    }

    /// Removes task `t` and frees its slot for reuse.
    fn forget(&mut self, t: TaskId) {
        let task = self.tasks[t].take().expect("a live task");
        self.groups.forgotten(task.group, &task.state);
        // Released before it finished (its futures dropped): no longer pending for its
        // client, so its progress still reaches its total. (`COUNTED` has no progress.)
        if let Some(p) = self.progress.get_mut(&task.uncounted_for) {
            p.done += 1;
        }
        self.errors.remove(&t);
        self.retry_log.remove(&t);
        if !self.rare.is_empty() {
            self.rare.remove(&t);
        }
        if !self.copying.is_empty() {
            self.copying.retain(|&(x, _), _| x != t);
            self.settle_copies();
        }
        // Only the entry naming `t`: a resubmitted key may name a newer task by now.
        self.index.remove(&task.key, t);
        for w in &task.who_has {
            self.workers.get_mut(w).map(|x| x.holds.remove(&t));
        }
        for &d in &task.deps {
            if let Some(dep) = self.tasks[d].as_mut() {
                dep.dependents.retain(|x| *x != t);
                self.release_checks.push(d);
            }
        }
        self.free.push(t);
    }

    /// Nothing is known any more: give the tables' memory back, so an idle scheduler is as
    /// small after a million tasks as before them. (Entries left in `ready` are all stale.)
    fn compact(&mut self) {
        self.tasks = Slots::default();
        self.free = Vec::new();
        self.ready = Ready::default();
        self.blocked = BinaryHeap::new();
        self.unrunnable = Vec::new();
        self.retry_log = FxHashMap::default();
        self.rare = FxHashMap::default();
        self.index = KeyIndex::default();
        self.stealing = FxHashSet::default();
        self.errors = FxHashMap::default();
        self.copying = FxHashMap::default();
        self.monitor.compact();
    }
}

#[cfg(test)]
mod layout_tests {
    /// The scheduler's per-task record, inline part (its `TaskDef`'s key, op and dependency
    /// keys, and the id vectors, live on the heap besides): documented in ARCHITECTURE.md
    /// ("memory layout"); growing it is a memory regression for every task of every graph.
    #[test]
    fn a_task_record_stays_within_its_documented_size() {
        let task = std::mem::size_of::<super::Task>();
        println!("Task {task} bytes");
        assert!(task <= 152, "Task grew to {task} bytes");
    }
}
