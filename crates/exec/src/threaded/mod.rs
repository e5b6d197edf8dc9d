//! The threaded executor: a plan's tasks on N threads, with no lock and no wake-up per task.
//!
//! Why it looks like this: on this class of machine a blocking hand-off between two threads
//! costs 8–14 µs, so anything that signals per task cannot approach 1 µs per task. Instead:
//!
//! - **State per node in flat atomic arrays.** `waiting[n]` counts dependencies not yet done;
//!   the task whose completion takes it to zero makes `n` ready. `consumers[n]` counts dependents
//!   not yet run (plus one per request); the consumer that takes it to zero frees the result.
//!   Each event is O(1) and touches only the nodes involved.
//! - **Ready tasks stay local.** A finished task's first newly-ready dependent runs next on the
//!   same thread (no queue at all); the others go on the thread's LIFO deque, where idle threads
//!   steal them. Root tasks (no dependencies) are claimed in priority order, a batch at a time,
//!   through one atomic cursor, so the graph's static order decides which subtree starts next
//!   and a tree reduction holds O(threads × depth) results.
//! - **Completions are counted in batches.** Termination needs a shared count, but each thread
//!   reports its finished tasks in batches, and always before it looks for work elsewhere.
//! - **Spin, then sleep.** An idle thread looks for work a few dozen times before it sleeps on
//!   a condvar; a thread that publishes work wakes a sleeper only if one is registered. The
//!   sleep protocol (register, re-check, wait) is what the loom models check for lost wake-ups.
//! - **Errors cancel.** The first failure is kept; no task starts after it; running ones finish;
//!   every thread exits; the executor can run the next plan.
//!
//! Worker threads live for one run (scoped), with the calling thread as worker 0.

pub(crate) mod deque;
#[cfg(all(test, loom))]
mod loom_tests;

use rask_graph::{Plan, Value};

use self::deque::{Steal, Stealer, Worker};
use crate::shim::{fence, spin_hint, AtomicBool, AtomicU32, AtomicUsize, Cell, Condvar, Mutex};
use crate::{ExecError, Executor, Outcome, Progress, RunStats};
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release, SeqCst};

/// Runs plans on a number of threads (by default, one per available core).
#[derive(Clone, Copy, Debug)]
pub struct ThreadedExecutor {
    threads: usize,
}

impl ThreadedExecutor {
    pub fn new(threads: usize) -> ThreadedExecutor {
        ThreadedExecutor { threads: threads.max(1) }
    }

    pub fn with_available_cores() -> ThreadedExecutor {
        ThreadedExecutor::new(std::thread::available_parallelism().map_or(1, |n| n.get()))
    }

    pub fn threads(&self) -> usize {
        self.threads
    }
}

impl Default for ThreadedExecutor {
    fn default() -> ThreadedExecutor {
        ThreadedExecutor::with_available_cores()
    }
}

impl Executor for ThreadedExecutor {
    fn name(&self) -> &str {
        "threads"
    }

    fn execute(&self, plan: &Plan, progress: Option<&dyn Progress>) -> Result<Outcome, ExecError> {
        let threads = self.threads.min(plan.len()).max(1);
        let mut workers: Vec<Worker<u32>> = (0..threads).map(|_| Worker::new_lifo()).collect();
        let shared = Shared::new(plan, workers.iter().map(Worker::stealer).collect(), progress);
        let first = workers.remove(0);
        #[cfg(not(loom))]
        std::thread::scope(|scope| {
            for (i, worker) in workers.into_iter().enumerate() {
                let shared = &shared;
                std::thread::Builder::new()
                    .name(format!("rask-worker-{}", i + 1))
                    .spawn_scoped(scope, move || shared.work(i + 1, worker))
                    .expect("spawning a worker thread");
            }
            shared.work(0, first);
        });
        #[cfg(loom)]
        {
            drop((workers, first, shared));
            unreachable!("under loom, models drive `Shared::work` directly");
        }
        #[cfg(not(loom))]
        shared.into_outcome()
    }
}

/// How a finished task publishes its result to the dependent it makes ready. `cargo xtask loom
/// --planted` weakens it to `Relaxed` and expects the models to catch the data race.
#[cfg(not(rask_planted_bug))]
const READY_ORDERING: std::sync::atomic::Ordering = AcqRel;
#[cfg(rask_planted_bug)]
const READY_ORDERING: std::sync::atomic::Ordering = Relaxed;

/// Tasks a thread finishes before it reports them to the shared count.
const REPORT_BATCH: usize = 64;
/// Root tasks claimed per visit to the shared cursor.
const ROOT_BATCH: usize = 8;
/// Looks for work before sleeping.
#[cfg(not(loom))]
const SPINS: usize = 64;
#[cfg(loom)]
const SPINS: usize = 1;

/// One run's state, shared by its worker threads.
pub(crate) struct Shared<'p> {
    plan: &'p Plan,
    waiting: Box<[AtomicU32]>,
    consumers: Box<[AtomicU32]>,
    results: Box<[Cell<Option<Value>>]>,
    /// Nodes without dependencies, in priority order; `next_root` is the claim cursor.
    roots: Vec<u32>,
    next_root: AtomicUsize,
    stealers: Vec<Stealer<u32>>,
    /// Tasks not yet reported finished; zero means the run is complete.
    unreported: AtomicUsize,
    failed: AtomicBool,
    error: Mutex<Option<ExecError>>,
    sleepers: AtomicUsize,
    sleep_lock: Mutex<()>,
    wake: Condvar,
    live: AtomicUsize,
    peak: AtomicUsize,
    progress: Option<&'p dyn Progress>,
    last_progress: Mutex<usize>,
}

impl<'p> Shared<'p> {
    pub(crate) fn new(plan: &'p Plan, stealers: Vec<Stealer<u32>>, progress: Option<&'p dyn Progress>) -> Shared<'p> {
        let n = plan.len();
        Shared {
            plan,
            waiting: (0..n as u32).map(|i| AtomicU32::new(plan.dependencies(i).len() as u32)).collect(),
            consumers: plan.consumer_counts().into_iter().map(AtomicU32::new).collect(),
            results: (0..n).map(|_| Cell::new(None)).collect(),
            roots: plan.order().iter().copied().filter(|&i| plan.dependencies(i).is_empty()).collect(),
            next_root: AtomicUsize::new(0),
            stealers,
            unreported: AtomicUsize::new(n),
            failed: AtomicBool::new(false),
            error: Mutex::new(None),
            sleepers: AtomicUsize::new(0),
            sleep_lock: Mutex::new(()),
            wake: Condvar::new(),
            live: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            progress,
            last_progress: Mutex::new(0),
        }
    }

    pub(crate) fn finished(&self) -> bool {
        self.unreported.load(Acquire) == 0 || self.failed.load(Acquire)
    }

    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn failed(&self) -> bool {
        self.failed.load(Acquire)
    }

    /// One worker's loop; returns when the run is complete or has failed.
    pub(crate) fn work(&self, me: usize, local: Worker<u32>) {
        let mut unreported = 0usize;
        let mut next: Option<u32> = None;
        loop {
            let task = match next.take().or_else(|| local.pop()) {
                Some(task) => task,
                None => {
                    // Report before looking elsewhere: the last task's report ends the run.
                    if unreported > 0 && self.report(std::mem::take(&mut unreported)) {
                        return;
                    }
                    match self.find_work(me, &local) {
                        Some(task) => task,
                        None => return,
                    }
                }
            };
            if self.failed.load(Relaxed) {
                return;
            }
            if let Err(e) = self.run(task) {
                self.fail(e);
                return;
            }
            unreported += 1;
            if unreported == REPORT_BATCH && self.report(std::mem::take(&mut unreported)) {
                return;
            }
            next = self.release_dependents(task, &local);
        }
    }

    /// Evaluates one task, stores its result, and frees inputs whose last consumer it was.
    fn run(&self, task: u32) -> Result<(), ExecError> {
        let plan = self.plan;
        // SAFETY: the op reads only its own dependencies, all finished (we were made ready by
        // the last of them) and not freed before this task completes.
        let input = |i: u32| unsafe { self.result(i) };
        let value = crate::retry::eval(plan, task, &input)?;
        self.complete(task, value);
        Ok(())
    }

    /// The result of `i`.
    ///
    /// # Safety
    /// `i` must be a finished dependency of a task that has not completed yet: then its result
    /// was stored before that task became ready (release/acquire through `waiting`), and it is
    /// not freed before that task's `complete`.
    pub(crate) unsafe fn result(&self, i: u32) -> Value {
        self.results[i as usize].with(|v| v.clone().expect("a finished dependency has a result"))
    }

    /// Stores `task`'s result for its consumers and frees inputs whose last consumer it was.
    pub(crate) fn complete(&self, task: u32, value: Value) {
        let plan = self.plan;
        if self.consumers[task as usize].load(Relaxed) > 0 {
            // SAFETY: only this task writes its own slot, and no consumer reads it before we
            // release the dependents (after this write).
            unsafe { self.results[task as usize].with_mut(|slot| *slot = Some(value)) };
            let live = self.live.fetch_add(1, Relaxed) + 1;
            if live > self.peak.load(Relaxed) {
                self.peak.fetch_max(live, Relaxed);
            }
        }
        for &d in plan.dependencies(task) {
            if self.consumers[d as usize].fetch_sub(1, AcqRel) == 1 {
                // SAFETY: every consumer has read the value (each read precedes its decrement).
                unsafe { self.results[d as usize].with_mut(|slot| *slot = None) };
                self.live.fetch_sub(1, Relaxed);
            }
        }
    }

    /// Makes dependents whose last dependency was `task` ready: returns the one to run next
    /// (the earliest in the static order), pushes the rest where idle threads can steal them.
    pub(crate) fn release_dependents(&self, task: u32, local: &Worker<u32>) -> Option<u32> {
        let mut next: Option<u32> = None;
        let mut pushed = false;
        for &m in self.plan.dependents(task) {
            if self.waiting[m as usize].fetch_sub(1, READY_ORDERING) == 1 {
                match next {
                    Some(n) if self.plan.priority(n) <= self.plan.priority(m) => {
                        local.push(m);
                        pushed = true;
                    }
                    Some(n) => {
                        local.push(n);
                        pushed = true;
                        next = Some(m);
                    }
                    None => next = Some(m),
                }
            }
        }
        if pushed {
            self.wake_one();
        }
        next
    }

    /// Claims roots or steals; spins a little, then sleeps. `None` once the run is over.
    fn find_work(&self, me: usize, local: &Worker<u32>) -> Option<u32> {
        loop {
            for _ in 0..SPINS {
                if self.finished() {
                    return None;
                }
                if let Some(task) = self.claim_roots(local) {
                    return Some(task);
                }
                if let Some(task) = self.steal(me) {
                    return Some(task);
                }
                spin_hint();
            }
            self.sleep();
        }
    }

    pub(crate) fn claim_roots(&self, local: &Worker<u32>) -> Option<u32> {
        if self.next_root.load(Relaxed) >= self.roots.len() {
            return None;
        }
        let start = self.next_root.fetch_add(ROOT_BATCH, Relaxed);
        let batch = self.roots.get(start..(start + ROOT_BATCH).min(self.roots.len()))?;
        let (&first, rest) = batch.split_first()?;
        // Pushed last-first so that the thread pops them in priority order.
        for &r in rest.iter().rev() {
            local.push(r);
        }
        if !rest.is_empty() {
            self.wake_one();
        }
        Some(first)
    }

    fn steal(&self, me: usize) -> Option<u32> {
        let n = self.stealers.len();
        for k in 1..n {
            loop {
                match self.stealers[(me + k) % n].steal() {
                    Steal::Success(task) => return Some(task),
                    Steal::Empty => break,
                    Steal::Retry => continue,
                }
            }
        }
        None
    }

    fn work_visible(&self) -> bool {
        self.next_root.load(Relaxed) < self.roots.len() || self.stealers.iter().any(|s| !s.is_empty())
    }

    /// Sleeps unless work or the end of the run is visible after registering as a sleeper;
    /// whoever publishes work afterwards sees the registration and wakes us.
    fn sleep(&self) {
        let guard = self.sleep_lock.lock().expect("sleep lock");
        self.sleepers.fetch_add(1, SeqCst);
        fence(SeqCst);
        if self.finished() || self.work_visible() {
            self.sleepers.fetch_sub(1, SeqCst);
            return;
        }
        let guard = self.wake.wait(guard).expect("sleep lock");
        self.sleepers.fetch_sub(1, SeqCst);
        drop(guard);
    }

    fn wake_one(&self) {
        fence(SeqCst);
        if self.sleepers.load(SeqCst) > 0 {
            let _guard = self.sleep_lock.lock().expect("sleep lock");
            self.wake.notify_one();
        }
    }

    fn wake_all(&self) {
        let _guard = self.sleep_lock.lock().expect("sleep lock");
        self.wake.notify_all();
    }

    /// Reports `count` finished tasks; true if they were the last ones (then everyone is woken).
    pub(crate) fn report(&self, count: usize) -> bool {
        let before = self.unreported.fetch_sub(count, AcqRel);
        let total = self.plan.len();
        let done = total - (before - count);
        if let Some(progress) = self.progress {
            if done * 100 / total != (done - count) * 100 / total || done == total {
                let mut last = self.last_progress.lock().expect("progress lock");
                if done > *last {
                    *last = done;
                    progress.update(done, total);
                }
            }
        }
        if before == count {
            self.wake_all();
            return true;
        }
        false
    }

    pub(crate) fn fail(&self, error: ExecError) {
        let mut first = self.error.lock().expect("error lock");
        if first.is_none() {
            *first = Some(error);
        }
        self.failed.store(true, Release);
        drop(first);
        self.wake_all();
    }

    pub(crate) fn into_outcome(self) -> Result<Outcome, ExecError> {
        if let Some(error) = self.error.lock().expect("error lock").take() {
            return Err(error);
        }
        let values = self
            .plan
            .targets()
            .iter()
            .map(|&t| {
                // SAFETY: every worker has exited; this thread is the only one left.
                unsafe { self.results[t as usize].with(|v| v.clone().expect("requested results are kept")) }
            })
            .collect();
        let stats = RunStats { tasks: self.plan.len(), peak_live: self.peak.load(Relaxed), ..RunStats::default() };
        Ok(Outcome { values, stats })
    }
}
