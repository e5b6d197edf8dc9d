//! Tasks that submit tasks (Dask's `worker_client`, Ray's nested tasks).
//!
//! Inside a task running on a cluster worker, [`worker_client`] returns a [`Client`] of the
//! same scheduler (one per worker process, shared by its tasks) and *secedes* the task's
//! thread: the worker starts a replacement thread, so a task waiting on its subtasks does not
//! hold one of the worker's `nthreads`, and a recursion of tasks waiting on tasks cannot
//! deadlock a small cluster. The scheduler is told too, and stops counting the task against
//! the worker's room. Dropping the [`WorkerClient`] *rejoins*: the thread counts against the
//! pool again and one surplus thread retires after its current task (until then the pool runs
//! one thread over, never under).

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use rask_graph::{Key, Registry};

use crate::tls::Security;
use crate::{Client, DistError, Timeouts};

/// How a task thread of this worker process reaches its scheduler and its pool.
pub(crate) struct WorkerContext {
    pub scheduler: String,
    pub security: Security,
    pub timeouts: Timeouts,
    client: Mutex<Option<Client>>,
}

static CONTEXT: OnceLock<WorkerContext> = OnceLock::new();

/// Called once by a worker when it has joined its scheduler.
pub(crate) fn set_worker_context(scheduler: String, security: Security, timeouts: Timeouts) {
    let _ = CONTEXT.set(WorkerContext { scheduler, security, timeouts, client: Mutex::new(None) });
}

/// What a pool thread can ask of its pool.
pub(crate) trait Pool: Send + Sync {
    /// Starts one more task thread (the seceding one leaves the pool's count).
    fn add_thread(&self);
    /// Threads over the pool's size, to retire as they finish their tasks.
    fn surplus(&self) -> &AtomicUsize;
    /// Tells the scheduler task `key` no longer holds a thread.
    fn seceded(&self, key: &Key);
}

/// The pool thread's current task and whether it has seceded.
struct Seat {
    pool: Arc<dyn Pool>,
    key: Key,
}

thread_local! {
    static SEAT: std::cell::RefCell<Option<Seat>> = const { std::cell::RefCell::new(None) };
    static SECEDED: Cell<bool> = const { Cell::new(false) };
}

/// Runs `task` as pool thread work for `key`; returns whether the thread seceded during it
/// (and so must leave the pool when the task ends).
pub(crate) fn run_seated<R>(pool: Arc<dyn Pool>, key: &Key, task: impl FnOnce() -> R) -> (R, bool) {
    SEAT.with(|s| *s.borrow_mut() = Some(Seat { pool, key: key.clone() }));
    SECEDED.with(|s| s.set(false));
    let out = task();
    SEAT.with(|s| *s.borrow_mut() = None);
    (out, SECEDED.with(|s| s.replace(false)))
}

/// Whether a pool thread should retire now (the pool is over its size after a rejoin).
pub(crate) fn should_retire(surplus: &AtomicUsize) -> bool {
    surplus.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1)).is_ok()
}

/// Releases this task's thread from the worker's pool: a replacement starts, and the
/// scheduler stops counting the task against the worker. Does nothing outside a cluster task
/// or when already seceded. [`worker_client`] calls it for you.
pub fn secede() {
    if SECEDED.with(Cell::get) {
        return;
    }
    SEAT.with(|s| {
        if let Some(seat) = s.borrow().as_ref() {
            SECEDED.with(|x| x.set(true));
            seat.pool.add_thread();
            seat.pool.seceded(&seat.key);
        }
    });
}

/// Takes a seceded task's thread back into the pool (one surplus thread retires after its
/// current task). Does nothing if the thread has not seceded.
pub fn rejoin() {
    if !SECEDED.with(Cell::get) {
        return;
    }
    SEAT.with(|s| {
        if let Some(seat) = s.borrow().as_ref() {
            SECEDED.with(|x| x.set(false));
            seat.pool.surplus().fetch_add(1, Ordering::AcqRel);
        }
    });
}

/// A client of the scheduler this task's worker serves, for submitting subtasks and waiting
/// on them; the task is seceded while it lives (see the module docs).
pub struct WorkerClient {
    client: Client,
}

impl std::ops::Deref for WorkerClient {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

impl AsRef<Client> for WorkerClient {
    fn as_ref(&self) -> &Client {
        &self.client
    }
}

impl Drop for WorkerClient {
    fn drop(&mut self) {
        rejoin();
    }
}

/// Inside a task on a cluster worker: a client of the same scheduler, with the task seceded
/// from the worker's pool until the returned guard is dropped.
///
/// ```no_run
/// use rask_distributed::{worker_client, Arg};
/// use rask_graph::{Annotations, Key, TaskError, Value};
///
/// fn fib(args: &[Value]) -> Result<Value, TaskError> {
///     let n = args[0].as_int().unwrap_or(0);
///     if n < 2 {
///         return Ok(Value::Int(n));
///     }
///     let client = worker_client().map_err(|e| TaskError::new("RuntimeError", e.to_string()))?;
///     let sub = |m: i64| client.submit_as(Key::str(&format!("fib-{m}")), "fib", [Arg::from(m)], &Annotations::new());
///     let (a, b) = (sub(n - 1), sub(n - 2));
///     let values = client.gather(&[a.unwrap(), b.unwrap()]).map_err(|e| TaskError::new("RuntimeError", e.to_string()))?;
///     Ok(Value::Int(values.iter().filter_map(Value::as_int).sum()))
/// }
/// ```
pub fn worker_client() -> Result<WorkerClient, DistError> {
    let context = CONTEXT.get().ok_or_else(|| {
        DistError::Protocol("worker_client() is available only inside a task running on a cluster worker".into())
    })?;
    let client = {
        let mut slot = context.client.lock().expect("worker client");
        match slot.as_ref() {
            Some(c) if !c.is_closed() => c.clone(),
            _ => {
                let c = Client::connect_with_timeouts(
                    &context.scheduler,
                    context.security.clone(),
                    Registry::new(),
                    context.timeouts,
                )?;
                *slot = Some(c.clone());
                c
            }
        }
    };
    secede();
    Ok(WorkerClient { client })
}
