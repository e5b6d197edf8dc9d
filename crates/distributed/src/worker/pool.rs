//! The worker's task threads and what they share with the network side: [`Jobs`], the
//! tasks whose inputs are here, waiting for a thread; and [`Completions`], the tasks finished
//! and not yet reported to the scheduler.
//!
//! Tiny tasks arrive and finish by the hundred thousand a second, so both are built on
//! `rask_exec::handoff` (loom-checked), which wakes a thread only when one is waiting: the
//! queue signals its condition variable only for idle threads, and the outbox rings the
//! connection's writer only when its first record goes in.

use std::cmp::Reverse;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

use rask_exec::handoff::{JobQueue, Outbox};
use rask_graph::arena::with_arena;
use rask_graph::Annotations;
use rask_graph::{Key, Registry, Value};
use rask_protocol::dist::{Assignment, DistFailure, EncodedOp, FromDistWorker, TaskDef, TaskRecord, Transfer, WireKey};
use rask_store::ShmArena;
use tokio::sync::mpsc::UnboundedSender;

use crate::memory::Memory;
use crate::store::Store;

/// A task assigned to this worker, its keys decoded (they travel encoded: `WireKey`).
pub(super) struct Assigned {
    pub(super) key: Key,
    pub(super) deps: Vec<Key>,
    pub(super) op: EncodedOp,
    pub(super) hints: Option<Box<Annotations>>,
    /// Per dependency, the addresses of workers holding it.
    pub(super) holders: Vec<Vec<String>>,
    pub(super) order: u64,
    pub(super) id: u32,
}

impl From<Assignment> for Assigned {
    fn from(a: Assignment) -> Assigned {
        let TaskDef { key, op, deps, hints } = a.task;
        let deps = deps.into_iter().map(WireKey::into_key).collect();
        Assigned { key: key.into_key(), deps, op, hints, holders: a.holders, order: a.order, id: a.id }
    }
}

pub(super) struct Job {
    pub(super) assignment: Assigned,
    pub(super) inputs: Vec<Value>,
    /// Inputs fetched from peers for this task.
    pub(super) transfers: Vec<Transfer>,
}

/// Tasks with their inputs, waiting for a thread, run in the scheduler's priority order (the
/// user's priority, then the graph's order, then arrival): a task that consumes results jumps
/// ahead of roots queued before it, as the order intends — with a deep queue run first come,
/// first served, a wide reduction's leaves ran hundreds ahead of the sums that free them. The
/// scheduler may take back jobs not started (work stealing). The queue wakes a thread only
/// when one waits (`rask_exec::handoff`, loom-checked).
#[derive(Default)]
pub(super) struct Jobs(JobQueue<(i32, Reverse<u64>), Job>);

impl Jobs {
    /// Queues `jobs` under one lock, waking as many idle threads as there are new jobs.
    pub(super) fn push_all(&self, jobs: impl IntoIterator<Item = Job>) {
        // Highest user priority first, then lowest order.
        self.0.push_all(jobs.into_iter().map(|job| {
            let user = job.assignment.hints.as_ref().map_or(0, |h| h.priority);
            ((user, Reverse(job.assignment.order)), job)
        }));
    }

    /// The next job; `None` once closed.
    fn pop(&self) -> Option<Job> {
        self.0.pop()
    }

    /// Removes the queued jobs among `keys`; returns their keys.
    pub(super) fn steal(&self, keys: &[Key]) -> Vec<Key> {
        let wanted: rustc_hash::FxHashSet<&Key> = keys.iter().collect();
        let stolen = self.0.take_where(|job| wanted.contains(&job.assignment.key));
        stolen.into_iter().map(|job| job.assignment.key).collect()
    }

    /// Jobs waiting for a thread.
    pub(super) fn len(&self) -> usize {
        self.0.len()
    }

    pub(super) fn close(&self) {
        self.0.close();
    }
}

/// Tasks finished and not yet reported. A task thread rings the connection's writer (an
/// empty `Done` on its channel) only when it puts the first record in: while the writer wakes
/// and writes, more completions pile up without a wake-up each — one `Done` for all of them.
pub(super) type Completions = Outbox<TaskRecord>;

/// The worker's task threads: `nthreads` of them, plus one for each task seceded (waiting on
/// its own subtasks) until it rejoins ([`crate::nested`]).
struct TaskPool {
    jobs: Arc<Jobs>,
    store: Arc<Store>,
    memory: Arc<Memory>,
    out: UnboundedSender<FromDistWorker>,
    completions: Arc<Completions>,
    surplus: AtomicUsize,
    /// Threads started so far: the next one's number.
    started: AtomicUsize,
    span: tracing::Span,
    this: std::sync::Weak<TaskPool>,
}

impl crate::nested::Pool for TaskPool {
    fn add_thread(&self) {
        if let Some(pool) = self.this.upgrade() {
            pool.spawn_thread();
        }
    }

    fn surplus(&self) -> &AtomicUsize {
        &self.surplus
    }

    fn seceded(&self, key: &Key) {
        let _ = self.out.send(FromDistWorker::Seceded { key: key.clone() });
    }
}

impl TaskPool {
    fn spawn_thread(self: Arc<Self>) {
        let i = self.started.fetch_add(1, Relaxed);
        std::thread::Builder::new()
            .name(format!("rask-task-{i}"))
            .spawn(move || self.serve(i))
            .expect("spawning a task thread");
    }

    /// One task thread: runs jobs until the queue closes, it retires (surplus after a
    /// rejoin), or its task seceded (a replacement took its place).
    fn serve(self: Arc<Self>, i: usize) {
        let _in_worker = self.span.enter();
        let registry = Registry::new();
        // Large arrays a task makes go straight into shared memory, where workers on this
        // machine map them instead of receiving a copy; other large values are moved there
        // once made.
        let namespace = Arc::new(crate::sharing::namespace(&format!("dw{i}")));
        let arena = Arc::new(ShmArena::new(namespace.clone(), crate::sharing::SHARE_MIN));
        let pool: Arc<dyn crate::nested::Pool> = self.clone();
        with_arena(arena, || loop {
            if crate::nested::should_retire(&self.surplus) {
                return;
            }
            self.memory.wait_while_paused();
            let Some(mut job) = self.jobs.pop() else { return };
            let (key, id) = (job.assignment.key.clone(), job.assignment.id);
            let transfers = std::mem::take(&mut job.transfers);
            let start_us = crate::metrics::unix_us();
            let (result, seceded) =
                crate::nested::run_seated(pool.clone(), &key, || self.memory.running(|| run_job(job, &registry)));
            let message = match result {
                Ok(value) => {
                    // Moved into shared memory now, on this thread, while the next task waits
                    // its turn rather than a peer on this machine (answering it later, on the
                    // data server, put the copy on that peer's critical path: the shuffle of
                    // the `moves` bench 0.25-0.33 s now, 0.33-0.37 s that way).
                    let value = crate::sharing::into_shared(&value, &namespace).unwrap_or(value);
                    let nbytes = value.nbytes() as u64;
                    self.store.insert(key.clone(), value);
                    let stop_us = crate::metrics::unix_us();
                    let record = TaskRecord { key, nbytes, start_us, stop_us, thread: i as u32, transfers, id };
                    self.completions.add(record).then(|| FromDistWorker::Done { tasks: Vec::new() })
                }
                Err(failure) => Some(FromDistWorker::Erred { key, failure }),
            };
            if message.is_some_and(|m| self.out.send(m).is_err()) || seceded {
                return;
            }
        })
    }
}

pub(super) fn start_pool(
    nthreads: usize,
    store: Arc<Store>,
    memory: Arc<Memory>,
    out: UnboundedSender<FromDistWorker>,
    completions: Arc<Completions>,
) -> Arc<Jobs> {
    let jobs = Arc::new(Jobs::default());
    let pool = Arc::new_cyclic(|this| TaskPool {
        jobs: jobs.clone(),
        store,
        memory,
        out,
        completions,
        surplus: AtomicUsize::new(0),
        started: AtomicUsize::new(0),
        span: tracing::Span::current(),
        this: this.clone(),
    });
    for _ in 0..nthreads {
        pool.clone().spawn_thread();
    }
    jobs
}

fn run_job(job: Job, registry: &Registry) -> Result<Value, DistFailure> {
    let op = job.assignment.op.decode().map_err(|e| {
        DistFailure::Unrunnable(format!(
            "the task's op could not be read ({e}): is its client a different rask version?"
        ))
    })?;
    let op = op.resolve(registry).map_err(|e| {
        // Functions travel by name: say which binary lacks it, so the user knows which
        // program to run as the worker.
        let exe = std::env::current_exe().map_or_else(|_| "?".into(), |p| p.display().to_string());
        DistFailure::Unrunnable(format!(
            "{e} (this worker runs {exe}; start your own binary as the worker to serve its functions)"
        ))
    })?;
    let inputs = job.inputs;
    let input = |i: u32| inputs.get(i as usize).cloned().unwrap_or(Value::None);
    op.eval(&input).map_err(DistFailure::Failed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rask_protocol::OpMsg;

    fn job(key: &str, priority: i32, order: u64) -> Job {
        let hints = (priority != 0).then(|| Box::new(Annotations { priority, ..Annotations::default() }));
        let op = EncodedOp::new(&OpMsg::Const(Value::Int(0)));
        let assignment =
            Assigned { key: Key::from(key), deps: Vec::new(), op, hints, holders: Vec::new(), order, id: 0 };
        Job { assignment, inputs: Vec::new(), transfers: Vec::new() }
    }

    fn drain(jobs: &Jobs) -> Vec<String> {
        jobs.close();
        std::iter::from_fn(|| jobs.pop()).map(|j| j.assignment.key.to_string().trim_matches('\'').to_owned()).collect()
    }

    #[test]
    fn queued_jobs_run_by_user_priority_then_the_graph_s_order_then_arrival() {
        let jobs = Jobs::default();
        // Roots sent first, a consumer later but earlier in the graph's order, one urgent
        // task, and two of equal order (arrival decides).
        jobs.push_all([job("root-7", 0, 7), job("root-8", 0, 8), job("twin-a", 0, 9)]);
        jobs.push_all([job("sum-3", 0, 3), job("urgent", 5, 100), job("twin-b", 0, 9), job("late", -1, 0)]);
        assert_eq!(drain(&jobs), ["urgent", "sum-3", "root-7", "root-8", "twin-a", "twin-b", "late"]);
    }

    #[test]
    fn stolen_jobs_leave_the_queue_and_the_rest_keep_their_order() {
        let jobs = Jobs::default();
        jobs.push_all((0..6).map(|i| job(&format!("t{i}"), 0, 5 - i)));
        let stolen = jobs.steal(&[Key::from("t1"), Key::from("t4"), Key::from("absent")]);
        assert_eq!(stolen.len(), 2);
        assert_eq!(jobs.len(), 4);
        assert_eq!(drain(&jobs), ["t5", "t3", "t2", "t0"]);
    }
}
