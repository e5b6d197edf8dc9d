//! The worker's task threads and what they share with the network side: [`Jobs`], the
//! tasks whose inputs are here, waiting for a thread; and [`Completions`], the tasks finished
//! and not yet reported to the scheduler.
//!
//! Tiny tasks arrive and finish by the hundred thousand a second, so both are built to wake a
//! thread only when one is waiting: a queue signals its condition variable only for idle
//! threads, and the outbox rings the connection's writer only when its first record goes in.

use std::cmp::Reverse;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use rask_graph::arena::with_arena;
use rask_graph::{Key, Registry, Value};
use rask_protocol::dist::{Assignment, DistFailure, FromDistWorker, TaskRecord, Transfer};
use rask_store::{Namespace, ShmArena};
use tokio::sync::mpsc::UnboundedSender;

use crate::memory::Memory;
use crate::store::Store;

pub(super) struct Job {
    pub(super) assignment: Assignment,
    pub(super) inputs: Vec<Value>,
    /// Inputs fetched from peers for this task.
    pub(super) transfers: Vec<Transfer>,
}

/// Tasks with their inputs, waiting for a thread; the scheduler may take back those not
/// started (work stealing).
#[derive(Default)]
pub(super) struct Jobs {
    queue: Mutex<Queue>,
    ready: std::sync::Condvar,
}

#[derive(Default)]
struct Queue {
    jobs: std::collections::VecDeque<Job>,
    closed: bool,
    /// Queued jobs with a user priority: while there are any, the highest goes first.
    prioritized: usize,
    /// Task threads waiting for a job. Only then is the condition variable signalled: a
    /// signal is a system call even with no one waiting, and tiny tasks arrive by the thousand.
    idle: usize,
}

fn user_priority(job: &Job) -> i32 {
    job.assignment.task.hints.as_ref().map_or(0, |h| h.priority)
}

impl Jobs {
    /// Queues `jobs` under one lock, waking as many idle threads as there are new jobs.
    pub(super) fn push_all(&self, jobs: impl IntoIterator<Item = Job>) {
        let mut q = self.queue.lock().expect("job queue");
        let before = q.jobs.len();
        for job in jobs {
            q.prioritized += usize::from(user_priority(&job) != 0);
            q.jobs.push_back(job);
        }
        let wake = (q.jobs.len() - before).min(q.idle);
        drop(q);
        for _ in 0..wake {
            self.ready.notify_one();
        }
    }

    /// The next job (the first of the highest user priority); `None` once closed.
    fn pop(&self) -> Option<Job> {
        let mut q = self.queue.lock().expect("job queue");
        loop {
            let next = match q.prioritized {
                0 => q.jobs.pop_front(),
                _ => {
                    let best = q.jobs.iter().enumerate().max_by_key(|(i, j)| (user_priority(j), Reverse(*i)));
                    let i = best.map(|(i, _)| i);
                    i.and_then(|i| q.jobs.remove(i))
                }
            };
            if let Some(job) = next {
                q.prioritized -= usize::from(user_priority(&job) != 0);
                return Some(job);
            }
            if q.closed {
                return None;
            }
            q.idle += 1;
            q = self.ready.wait(q).expect("job queue");
            q.idle -= 1;
        }
    }

    /// Removes the queued jobs among `keys`; returns their keys.
    pub(super) fn steal(&self, keys: &[Key]) -> Vec<Key> {
        let wanted: rustc_hash::FxHashSet<&Key> = keys.iter().collect();
        let mut q = self.queue.lock().expect("job queue");
        let mut stolen = Vec::new();
        let mut prioritized = 0;
        q.jobs.retain(|job| {
            let take = wanted.contains(&job.assignment.task.key);
            if take {
                stolen.push(job.assignment.task.key.clone());
                prioritized += usize::from(user_priority(job) != 0);
            }
            !take
        });
        q.prioritized -= prioritized;
        stolen
    }

    /// Jobs waiting for a thread.
    pub(super) fn len(&self) -> usize {
        self.queue.lock().expect("job queue").jobs.len()
    }

    pub(super) fn close(&self) {
        self.queue.lock().expect("job queue").closed = true;
        self.ready.notify_all();
    }
}

/// Tasks finished and not yet reported. A task thread rings the connection's writer (an
/// empty `Done` on its channel) only when it puts the first record in: while the writer wakes
/// and writes, more completions pile up without a wake-up each — one `Done` for all of them.
#[derive(Default)]
pub(super) struct Completions(Mutex<Vec<TaskRecord>>);

impl Completions {
    /// Adds a record; true if the outbox was empty (the writer must be rung).
    fn add(&self, record: TaskRecord) -> bool {
        let mut outbox = self.0.lock().expect("completions");
        outbox.push(record);
        outbox.len() == 1
    }

    /// Everything added since the last take.
    pub(super) fn take(&self) -> Vec<TaskRecord> {
        std::mem::take(&mut *self.0.lock().expect("completions"))
    }
}

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
        let namespace = Arc::new(Namespace::new(&format!("dw{i}")));
        let arena = Arc::new(ShmArena::new(namespace.clone(), crate::sharing::SHARE_MIN));
        let pool: Arc<dyn crate::nested::Pool> = self.clone();
        with_arena(arena, || loop {
            if crate::nested::should_retire(&self.surplus) {
                return;
            }
            self.memory.wait_while_paused();
            let Some(mut job) = self.jobs.pop() else { return };
            let key = job.assignment.task.key.clone();
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
                    let record = TaskRecord { key, nbytes, start_us, stop_us, thread: i as u32, transfers };
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
    let op = job.assignment.task.op.decode().map_err(|e| {
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

