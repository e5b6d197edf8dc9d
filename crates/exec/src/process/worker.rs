//! The worker side: a process that serves one slot of a control block — takes tasks from its
//! ring, maps their inputs, runs them, writes each result where the parent can read it.
//!
//! A worker keeps nothing between tasks but its open mappings' names: every result is either
//! inside the completion message or in a segment the parent claims. So a worker that dies takes
//! no finished result with it, only the tasks it was running.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use rask_graph::arena::with_arena;
use rask_graph::{Failure, Registry, Value};
use rask_protocol::{frame, FromWorker, SharedRef, TaskDone, TaskFailure, ToWorker, WireValue};
use rask_store::{traffic, Namespace, Segment, SegmentPool, ShmArena};

use super::control::Control;
use super::wire::{from_wire, park, spilled, to_wire};
use super::{Spec, MAX_FRAME};

/// Idle polls of the task ring before sleeping on the bell.
const SPINS: usize = 200;
/// Completions a worker sends before it rings the parent, when it has more work queued.
const ANNOUNCE_EVERY: usize = 16;
/// How long a worker sleeps before checking that its parent is still there.
const PARENT_CHECK: Duration = Duration::from_millis(200);
/// How often a worker's heartbeat thread counts up.
pub(crate) const HEARTBEAT_EVERY: Duration = Duration::from_millis(100);
/// Error messages are truncated to this, so a completion always fits its ring.
const MESSAGE_MAX: usize = 16 << 10;

/// Runs the worker loop for `spec` until told to exit or orphaned; returns the exit code.
pub(crate) fn serve(spec: &Spec) -> i32 {
    // SAFETY: the parent passed us this descriptor for exactly this purpose.
    let control = match unsafe { Control::from_fd(spec.fd, spec.slots) } {
        // Lives as long as the process: the heartbeat thread reads it until the very end.
        Ok(c) => &*Box::leak(Box::new(c)),
        Err(e) => {
            tracing::error!("cannot map the control block: {e}");
            return 2;
        }
    };
    let slot = spec.slot;
    let beating = std::thread::Builder::new().name("rask-heartbeat".into()).spawn(move || loop {
        control.beat(slot).fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        std::thread::sleep(HEARTBEAT_EVERY);
    });
    if let Err(e) = beating {
        tracing::error!("cannot start the heartbeat thread: {e}");
        return 2;
    }
    let mut namespace = Namespace::with_pid(spec.parent, &spec.tag);
    if spec.pool_cap > 0 {
        namespace = namespace.with_pool(SegmentPool::new(spec.pool_cap));
        // The same budget again for mappings kept after use: a pooled segment read or written
        // here again costs no page faults.
        rask_store::cache_mappings(spec.pool_cap);
    }
    let namespace = Arc::new(namespace);
    let arena = Arc::new(ShmArena::new(namespace.clone(), spec.inline_max + 1));
    let mut worker =
        Worker { control, slot: spec.slot, namespace, inline_max: spec.inline_max, registry: Registry::new() };
    with_arena(arena, || worker.run(spec.parent))
}

struct Worker<'c> {
    control: &'c Control,
    slot: usize,
    namespace: Arc<Namespace>,
    inline_max: usize,
    registry: Registry,
}

impl Worker<'_> {
    fn run(&mut self, parent: u32) -> i32 {
        let tasks = self.control.tasks(self.slot);
        let (mut record, mut out) = (Vec::new(), Vec::new());
        let mut unannounced = 0usize;
        let mut idle = 0usize;
        loop {
            match tasks.pop(&mut record) {
                Ok(true) => {
                    idle = 0;
                    match frame::from_frame::<ToWorker>(&record, MAX_FRAME) {
                        Ok(ToWorker::Exit) => return 0,
                        Ok(ToWorker::Recycle(segments)) => self.recycle(segments),
                        Ok(message) => {
                            let Some(done) = self.handle(message) else { return 3 };
                            self.send(&done, &mut out);
                            unannounced += 1;
                            if unannounced >= ANNOUNCE_EVERY {
                                self.control.parent_bell().ring();
                                unannounced = 0;
                            }
                        }
                        Err(e) => {
                            tracing::error!("bad message from the executor: {e}");
                            return 3;
                        }
                    }
                }
                Ok(false) => {
                    if unannounced > 0 {
                        self.control.parent_bell().ring();
                        unannounced = 0;
                    }
                    idle += 1;
                    if idle < SPINS {
                        std::hint::spin_loop();
                        continue;
                    }
                    tasks.wait(Some(PARENT_CHECK));
                    // SAFETY: getppid has no preconditions.
                    if unsafe { libc::getppid() } as u32 != parent {
                        return 0; // orphaned: PR_SET_PDEATHSIG's backstop
                    }
                }
                Err(_) => {
                    tracing::error!("corrupt record in the task ring");
                    return 3;
                }
            }
        }
    }

    /// Takes back segments of ours the executor says no one reads any more (the pool removes
    /// those it has no room for), and ignores names that are not ours.
    fn recycle(&self, segments: Vec<String>) {
        let Some(pool) = self.namespace.pool() else { return };
        for name in segments.into_iter().filter(|name| name.starts_with(self.namespace.prefix())) {
            // Its size from our own mapping of it, kept since we wrote it (else the file's).
            match rask_store::size_of(&name) {
                Ok(size) => pool.put(name, size),
                Err(_) => drop(rask_store::remove(&name)),
            }
        }
    }

    /// The completion for one message; `None` if the message cannot be a task at all.
    fn handle(&mut self, message: ToWorker) -> Option<TaskDone> {
        match message {
            ToWorker::Run(task) => Some(self.run_task(task)),
            ToWorker::Spilled(r) => {
                let inner = read_spilled(&r).ok()?;
                match inner {
                    ToWorker::Run(task) => Some(self.run_task(task)),
                    _ => None,
                }
            }
            ToWorker::Exit | ToWorker::Recycle(_) => None,
        }
    }

    fn run_task(&mut self, task: rask_protocol::RunTask) -> TaskDone {
        traffic::take();
        let start = std::time::Instant::now();
        let result = self.evaluate(task.op, task.inputs);
        let elapsed_us = start.elapsed().as_micros() as u64;
        let (bytes_copied, bytes_shared) = traffic::take();
        TaskDone { run: task.run, node: task.node, result, bytes_copied, bytes_shared, elapsed_us }
    }

    fn evaluate(&mut self, op: rask_protocol::OpMsg, inputs: Vec<(u32, WireValue)>) -> Result<WireValue, TaskFailure> {
        let op = op.resolve(&self.registry).map_err(|e| TaskFailure::Unrunnable(e.to_string()))?;
        let mut open = |name: &str| Segment::open(name).map(Arc::new);
        let inputs: Vec<(u32, Value)> = inputs
            .into_iter()
            .map(|(i, w)| from_wire(w, &mut open).map(|v| (i, v)))
            .collect::<Result<_, _>>()
            .map_err(TaskFailure::Unrunnable)?;
        let input = |i: u32| {
            inputs.iter().find(|(j, _)| *j == i).map(|(_, v)| v.clone()).expect("the executor sends every input")
        };
        let value = op.eval(&input).map_err(|f| TaskFailure::Failed(truncate(f)))?;
        match to_wire(&value, &self.namespace, self.inline_max, true) {
            // The segment's name passes to the parent with the message; our mapping goes. A
            // segment made for an intermediate value that is not sent is removed with it.
            Ok((wire, _segment)) => Ok(wire),
            Err(e) => Err(TaskFailure::Unrunnable(format!("cannot store the result in shared memory: {e}"))),
        }
    }

    /// Appends a completion to the done ring, waiting for room if the parent is behind.
    fn send(&self, done: &TaskDone, out: &mut Vec<u8>) {
        out.clear();
        let message = FromWorker::Done(done.clone());
        if let Err(e) = frame::encode(&message, MAX_FRAME, out) {
            let failed = TaskDone {
                result: Err(TaskFailure::Unrunnable(format!("cannot encode the result: {e}"))),
                ..done.clone()
            };
            out.clear();
            frame::encode(&FromWorker::Done(failed), MAX_FRAME, out).expect("a small message encodes");
        }
        let ring = self.control.done(self.slot);
        if out.len() > ring.max_record() {
            match spill(&self.namespace, out) {
                Ok(frame) => *out = frame,
                Err(e) => {
                    let failed = TaskDone {
                        result: Err(TaskFailure::Unrunnable(format!("cannot spill a large result: {e}"))),
                        ..done.clone()
                    };
                    out.clear();
                    frame::encode(&FromWorker::Done(failed), MAX_FRAME, out).expect("a small message encodes");
                }
            }
        }
        while !ring.try_push(out) {
            ring.notify();
            std::thread::yield_now();
        }
    }
}

/// Parks a frame in a segment handed to the executor; returns the small frame that names it.
fn spill(namespace: &Namespace, frame_bytes: &[u8]) -> io::Result<Vec<u8>> {
    // The segment goes with this function; its name now belongs to the executor.
    let (r, _segment) = park(namespace, frame_bytes, rask_protocol::Layout::Encoded, true)?;
    frame::to_frame(&FromWorker::Spilled(r), MAX_FRAME).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

fn read_spilled(r: &SharedRef) -> Result<ToWorker, String> {
    let segment = Segment::open(&r.segment).map_err(|e| e.to_string())?;
    spilled(&segment, r)
}

fn truncate(mut failure: Failure) -> Failure {
    let cut = |s: &mut String| {
        if s.len() > MESSAGE_MAX {
            let mut end = MESSAGE_MAX;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            s.truncate(end);
            s.push_str("… (truncated)");
        }
    };
    match &mut failure.cause {
        rask_graph::FailureCause::Error(e) => cut(&mut e.message),
        rask_graph::FailureCause::Panic(m) => cut(m),
    }
    failure
}
