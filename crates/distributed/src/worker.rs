//! A worker: runs the tasks the scheduler assigns on a pool of threads, keeps their results,
//! fetches missing inputs directly from the peers that hold them, and serves its own results
//! to peers and clients.
//!
//! The network side is a tokio runtime; the tasks run on plain threads (a task may compute for
//! seconds and must not block the runtime). Completions are sent in batches: whatever finished
//! since the last message.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rask_graph::{Key, Registry, Value};
use rask_protocol::dist::{Assignment, DataReply, DataRequest, DistFailure, FromDistWorker, Role, ToDistWorker};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};

use crate::conn::{self, read_msg, write_msg};
use rask_graph::arena::with_arena;
use rask_protocol::WireValue;
use rask_store::{Namespace, ShmArena};

use crate::peers::Peers;
use crate::store::Store;
use crate::DistError;

/// How a worker joins a cluster.
#[derive(Clone, Debug)]
pub struct WorkerOptions {
    /// `HOST:PORT` of the scheduler (a `tcp://` prefix is accepted).
    pub scheduler: String,
    pub nthreads: usize,
    /// Bytes of results the worker may hold (0: no limit). Reported to the scheduler.
    pub memory_limit: u64,
    pub secret: Option<Vec<u8>>,
}

struct Job {
    assignment: Assignment,
    inputs: Vec<Value>,
}

/// Tasks with their inputs, waiting for a thread; the scheduler may take back those not
/// started (work stealing).
#[derive(Default)]
struct Jobs {
    queue: Mutex<(std::collections::VecDeque<Job>, bool)>,
    ready: std::sync::Condvar,
}

impl Jobs {
    fn push(&self, job: Job) {
        self.queue.lock().expect("job queue").0.push_back(job);
        self.ready.notify_one();
    }

    /// The next job; `None` once closed.
    fn pop(&self) -> Option<Job> {
        let mut q = self.queue.lock().expect("job queue");
        loop {
            if let Some(job) = q.0.pop_front() {
                return Some(job);
            }
            if q.1 {
                return None;
            }
            q = self.ready.wait(q).expect("job queue");
        }
    }

    /// Removes the queued jobs among `keys`; returns their keys.
    fn steal(&self, keys: &[Key]) -> Vec<Key> {
        let wanted: rustc_hash::FxHashSet<&Key> = keys.iter().collect();
        let mut q = self.queue.lock().expect("job queue");
        let mut stolen = Vec::new();
        q.0.retain(|job| {
            let take = wanted.contains(&job.assignment.task.key);
            if take {
                stolen.push(job.assignment.task.key.clone());
            }
            !take
        });
        stolen
    }

    fn close(&self) {
        self.queue.lock().expect("job queue").1 = true;
        self.ready.notify_all();
    }
}

/// Runs a worker until the scheduler goes away. Blocks the calling thread.
pub fn run(options: WorkerOptions) -> Result<(), DistError> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
    runtime.block_on(serve(options))
}

async fn serve(options: WorkerOptions) -> Result<(), DistError> {
    let scheduler_addr = options.scheduler.trim_start_matches("tcp://").to_owned();
    let mut stream = TcpStream::connect(&scheduler_addr).await?;
    stream.set_nodelay(true)?;
    // Serve data on the interface that reaches the scheduler.
    let host = stream.local_addr()?.ip();
    let data = TcpListener::bind((host, 0)).await?;
    let data_addr = data.local_addr()?.to_string();
    let secret: Option<Arc<[u8]>> = options.secret.clone().map(Into::into);
    let nthreads = options.nthreads.max(1);
    let role = Role::Worker { data_addr, nthreads: nthreads as u32, memory_limit: options.memory_limit };
    conn::connect(&mut stream, role, secret.as_deref()).await?;

    // Segments of workers on this machine that died without cleaning up.
    rask_store::sweep_orphans();
    let spill_dir = std::env::temp_dir().join(format!("rask-worker-{}", std::process::id()));
    let store = Arc::new(Store::new(options.memory_limit, spill_dir));
    let pause = Arc::new(Pause::new(options.memory_limit));
    let peers = Arc::new(Peers::new(secret.clone()));
    tokio::spawn(serve_data(data, store.clone(), secret));

    let (out_tx, mut out_rx) = unbounded_channel::<FromDistWorker>();
    let jobs = start_pool(nthreads, store.clone(), pause.clone(), out_tx.clone());

    let (mut rd, mut wr) = stream.into_split();
    tokio::spawn(async move {
        while let Some(first) = out_rx.recv().await {
            // Everything finished since the last message goes in one `Done`.
            let mut done = Vec::new();
            let mut others = Vec::new();
            let mut next = Some(first);
            while let Some(msg) = next.take() {
                match msg {
                    FromDistWorker::Done { tasks } => done.extend(tasks),
                    other => others.push(other),
                }
                next = out_rx.try_recv().ok();
            }
            if !done.is_empty() && write_msg(&mut wr, &FromDistWorker::Done { tasks: done }).await.is_err() {
                break;
            }
            for msg in others {
                if write_msg(&mut wr, &msg).await.is_err() {
                    return;
                }
            }
        }
    });
    {
        let (out, store, pause, peers) = (out_tx.clone(), store.clone(), pause.clone(), peers.clone());
        tokio::spawn(async move {
            // Every second, or at once when the worker pauses or resumes.
            let mut tick = tokio::time::interval(Duration::from_millis(50));
            let mut last = (Instant::now(), false);
            loop {
                tick.tick().await;
                let paused = pause.check();
                if paused == last.1 && last.0.elapsed() < Duration::from_secs(1) {
                    continue;
                }
                last = (Instant::now(), paused);
                let u = store.usage();
                let beat = FromDistWorker::Heartbeat {
                    keys_held: u.keys,
                    bytes_in_memory: u.in_memory,
                    bytes_spilled: u.spilled,
                    paused,
                    fetched_by_reference: peers.by_reference.load(std::sync::atomic::Ordering::Relaxed),
                    fetched_by_copy: peers.by_copy.load(std::sync::atomic::Ordering::Relaxed),
                };
                if out.send(beat).is_err() {
                    return;
                }
            }
        });
    }
    loop {
        match read_msg::<ToDistWorker>(&mut rd).await {
            Ok(Some(ToDistWorker::Compute { tasks })) => {
                for assignment in tasks {
                    dispatch(assignment, &store, &peers, &jobs, &out_tx);
                }
            }
            Ok(Some(ToDistWorker::Release { keys })) => store.remove(&keys),
            Ok(Some(ToDistWorker::Steal { keys })) => {
                let keys = jobs.steal(&keys);
                let _ = out_tx.send(FromDistWorker::Stolen { keys });
            }
            Ok(Some(ToDistWorker::Exit)) | Ok(None) => {
                jobs.close();
                store.clear();
                return Ok(());
            }
            Err(e) => {
                jobs.close();
                store.clear();
                return Err(e);
            }
        }
    }
}

/// Starts a task whose inputs are all here at once; otherwise fetches them first.
fn dispatch(
    assignment: Assignment,
    store: &Arc<Store>,
    peers: &Arc<Peers>,
    jobs: &Arc<Jobs>,
    out: &UnboundedSender<FromDistWorker>,
) {
    let local: Option<Vec<Value>> = assignment.task.deps.iter().map(|d| store.get(d)).collect();
    if let Some(inputs) = local {
        jobs.push(Job { assignment, inputs });
        return;
    }
    let (store, peers, jobs, out) = (store.clone(), peers.clone(), jobs.clone(), out.clone());
    tokio::spawn(async move {
        let mut inputs = Vec::with_capacity(assignment.task.deps.len());
        for (dep, holders) in assignment.task.deps.iter().zip(&assignment.holders) {
            let value = match store.get(dep) {
                Some(v) => Some(v),
                None => peers.fetch_one(dep, holders).await,
            };
            match value {
                Some(v) => inputs.push(v),
                None => {
                    let _ = out.send(FromDistWorker::Missing { key: assignment.task.key.clone(), dep: dep.clone() });
                    return;
                }
            }
        }
        jobs.push(Job { assignment, inputs });
    });
}

/// Whether the process is past the pause threshold of its memory limit.
struct Pause {
    threshold: Option<u64>,
}

impl Pause {
    fn new(memory_limit: u64) -> Pause {
        let threshold = (memory_limit > 0).then_some((memory_limit as f64 * crate::store::PAUSE) as u64);
        Pause { threshold }
    }

    /// Measures resident memory against the threshold.
    fn check(&self) -> bool {
        self.threshold.is_some_and(|t| crate::store::resident_bytes() > t)
    }

    /// Blocks a task thread while the worker is paused.
    fn wait(&self) {
        while self.threshold.is_some() && self.check() {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn start_pool(
    nthreads: usize,
    store: Arc<Store>,
    pause: Arc<Pause>,
    out: UnboundedSender<FromDistWorker>,
) -> Arc<Jobs> {
    let jobs = Arc::new(Jobs::default());
    for i in 0..nthreads {
        let (jobs, store, out, pause) = (jobs.clone(), store.clone(), out.clone(), pause.clone());
        std::thread::Builder::new()
            .name(format!("rask-task-{i}"))
            .spawn(move || {
                let registry = Registry::new();
                // Large arrays a task makes go straight into shared memory, where workers on
                // this machine map them instead of receiving a copy.
                let namespace = Arc::new(Namespace::new(&format!("dw{i}")));
                let arena = Arc::new(ShmArena::new(namespace.clone(), SHARE_MIN));
                with_arena(arena, || loop {
                    pause.wait();
                    let Some(job) = jobs.pop() else { return };
                    let key = job.assignment.task.key.clone();
                    let message = match run_job(job, &registry) {
                        Ok(value) => {
                            let value = into_shared(value, &namespace);
                            let nbytes = value.nbytes() as u64;
                            store.insert(key.clone(), value);
                            FromDistWorker::Done { tasks: vec![(key, nbytes)] }
                        }
                        Err(failure) => FromDistWorker::Erred { key, failure },
                    };
                    if out.send(message).is_err() {
                        return;
                    }
                })
            })
            .expect("spawning a task thread");
    }
    jobs
}

fn run_job(job: Job, registry: &Registry) -> Result<Value, DistFailure> {
    let op = job.assignment.task.op.resolve(registry).map_err(|e| DistFailure::Unrunnable(e.to_string()))?;
    let inputs = job.inputs;
    let input = |i: u32| inputs.get(i as usize).cloned().unwrap_or(Value::None);
    op.eval(&input).map_err(DistFailure::Failed)
}

/// Arrays and bytes from this size up are made in shared memory.
const SHARE_MIN: usize = 256 << 10;

/// A value for a peer: by segment name if the peer is on this machine and the value lives in
/// shared memory (it maps the same pages; a list item by item), else the value itself.
fn share(value: Value, same_host: bool) -> WireValue {
    if same_host {
        if let Some((_, r)) = rask_exec::wire::by_reference(&value) {
            return WireValue::Shared(r);
        }
        if let Value::List(items) = &value {
            if items.iter().any(|v| rask_exec::wire::by_reference(v).is_some()) {
                return WireValue::List(items.iter().map(|v| share(v.clone(), true)).collect());
            }
        }
    }
    WireValue::Inline(value)
}

/// A large extension value (an Arrow batch), or a list holding some, moved into shared memory:
/// encoded once into a segment and read in place from then on, so that peers on this machine
/// map it as they map arrays made in the arena. Anything that cannot be moved stays as it is.
fn into_shared(value: Value, namespace: &Namespace) -> Value {
    match &value {
        Value::Ext(e) if e.nbytes() >= SHARE_MIN && e.encoded_source().is_none() => {
            let moved = e.encode().ok().and_then(|bytes| {
                let segment = rask_store::put(namespace, &bytes).ok()?;
                let buffer = rask_graph::Buffer::from_owner(Arc::new(segment)).slice(0, bytes.len());
                rask_graph::ext::Ext::decode(e.type_name(), buffer).ok()
            });
            moved.map_or(value, Value::Ext)
        }
        Value::List(items) if value.nbytes() >= SHARE_MIN => {
            Value::list(items.iter().map(|v| into_shared(v.clone(), namespace)).collect::<Vec<_>>())
        }
        _ => value,
    }
}

/// Answers peers' and clients' requests for results.
async fn serve_data(listener: TcpListener, store: Arc<Store>, secret: Option<Arc<[u8]>>) {
    loop {
        let Ok((mut stream, peer)) = listener.accept().await else { continue };
        let _ = stream.set_nodelay(true);
        let (store, secret) = (store.clone(), secret.clone());
        tokio::spawn(async move {
            if let Err(e) = conn::accept(&mut stream, secret.as_deref()).await {
                eprintln!("rask worker: refused {peer}: {e}");
                return;
            }
            let same_host = stream.local_addr().is_ok_and(|me| me.ip() == peer.ip());
            loop {
                match read_msg::<DataRequest>(&mut stream).await {
                    Ok(Some(DataRequest::Get { keys })) => {
                        let values =
                            keys.into_iter().map(|k| (k.clone(), store.get(&k).map(|v| share(v, same_host)))).collect();
                        if write_msg(&mut stream, &DataReply { values }).await.is_err() {
                            return;
                        }
                    }
                    Ok(None) => return,
                    Err(e) => {
                        eprintln!("rask worker: dropped {peer}: {e}");
                        return;
                    }
                }
            }
        });
    }
}
