//! A worker: runs the tasks the scheduler assigns on a pool of threads, keeps their results,
//! fetches missing inputs directly from the peers that hold them, and serves its own results
//! to peers and clients.
//!
//! The network side is a tokio runtime; the tasks run on plain threads (a task may compute for
//! seconds and must not block the runtime). Completions are sent in batches: whatever finished
//! since the last message.

mod pool;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rask_graph::{Key, Registry, Value};
use rask_protocol::dist::{
    Assignment, DataRequest, FromDistWorker, Role, ToDistWorker, Transfer, WireKey, WorkerMetrics,
};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use tokio::net::TcpListener;
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};
use tracing::Instrument;

use crate::conn::{self, read_msg, read_msg_idle, write_msg_within, Accepting, MAX_FRAME, MAX_REQUEST_FRAME};

use crate::memory::{self, Memory};
use crate::peers::Peers;
use crate::store::Store;
use crate::stream::Stream;
use crate::tls::Security;
use crate::{DistError, Timeouts};
use pool::{start_pool, Assigned, Completions, Job, Jobs};

/// How a worker joins a cluster.
#[derive(Clone, Debug)]
pub struct WorkerOptions {
    /// `HOST:PORT` of the scheduler (a `tcp://` prefix is accepted).
    pub scheduler: String,
    pub nthreads: usize,
    /// Bytes of results the worker may hold (0: no limit). Reported to the scheduler.
    pub memory_limit: u64,
    /// The shared secret and TLS (the same as the scheduler's: a TLS cluster's workers need
    /// a certificate, its key and the CA).
    pub security: Security,
    /// Deadlines for the scheduler connection, fetches and connects.
    pub timeouts: Timeouts,
    /// Abstract resources this worker offers (`rask worker --resources GPU=2,MEM=64e9`).
    pub resources: Vec<(String, f64)>,
}

impl WorkerOptions {
    /// A worker of `nthreads` threads for `scheduler`, with no memory limit, and the
    /// security ([`Security::from_env`]) and deadlines of the environment.
    pub fn new(scheduler: &str, nthreads: usize) -> Result<WorkerOptions, DistError> {
        Ok(WorkerOptions {
            scheduler: scheduler.to_owned(),
            nthreads,
            memory_limit: 0,
            security: Security::from_env()?,
            timeouts: Timeouts::from_env(),
            resources: Vec::new(),
        })
    }
}

/// Variables this process was started with and took out of its environment (so that what
/// it starts does not inherit them), put back when it re-executes itself.
static RESTORE_ON_RESTART: Mutex<Vec<(std::ffi::OsString, std::ffi::OsString)>> = Mutex::new(Vec::new());

/// Puts `name=value` back in the environment of this process's re-execution on a restart.
pub(crate) fn restore_on_restart(name: &str, value: &std::ffi::OsStr) {
    RESTORE_ON_RESTART.lock().expect("restart environment").push((name.into(), value.to_owned()));
}

/// How a worker's time with its scheduler ended, when it ended well.
enum Ending {
    /// Asked to leave (a signal, or retired).
    Left,
    /// The cluster restarts: start afresh.
    Restart,
}

/// Runs a worker until the scheduler goes away or tells it to leave (an error saying why).
/// Blocks the calling thread. A restart of the cluster starts it afresh in place (a new
/// store, new task threads, joining again).
pub fn run(options: WorkerOptions) -> Result<(), DistError> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    // No signals here: the sender lives as long as the worker, and never sends.
    let (_never, mut stop) = unbounded_channel();
    loop {
        match runtime.block_on(serve(options.clone(), &mut stop))? {
            Ending::Left => return Ok(()),
            Ending::Restart => tracing::info!("the cluster restarts: joining again"),
        }
    }
}

/// [`run`] for a process that is a worker and nothing else (`rask worker`, a `LocalCluster`'s
/// workers): SIGTERM and SIGINT end it cleanly, its results and spill folder removed, and it
/// raises its descriptor limit first.
pub fn run_process(options: WorkerOptions) -> Result<(), DistError> {
    crate::raise_fd_limit();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let ending = runtime.block_on(async {
        use tokio::signal::unix::{signal, SignalKind};
        let (mut term, mut int) = (signal(SignalKind::terminate())?, signal(SignalKind::interrupt())?);
        let (signals, stop) = unbounded_channel();
        tokio::spawn(async move {
            loop {
                let name = tokio::select! {
                    _ = term.recv() => "SIGTERM",
                    _ = int.recv() => "SIGINT",
                };
                if signals.send(name).is_err() {
                    return;
                }
            }
        });
        let mut stop = stop;
        serve(options, &mut stop).await
    });
    match ending? {
        Ending::Left => Ok(()),
        // A fresh process: memory, threads and globals as at the start, the same pid (so a
        // `LocalCluster` keeps its handle), the same command line and environment.
        Ending::Restart => {
            drop(runtime);
            tracing::info!("the cluster restarts: this worker starts afresh");
            let mut args = std::env::args_os();
            let mut command = std::process::Command::new("/proc/self/exe");
            command.envs(RESTORE_ON_RESTART.lock().expect("restart environment").iter().cloned());
            if let Some(arg0) = args.next() {
                std::os::unix::process::CommandExt::arg0(&mut command, arg0);
            }
            Err(DistError::Io(std::os::unix::process::CommandExt::exec(command.args(args))))
        }
    }
}

/// `stop` brings the signals asking the worker to leave: the first retires it gracefully (its
/// results move to other workers first), a second (or the retirement taking longer than
/// [`RETIRE_DEADLINE`]) makes it leave at once.
async fn serve(options: WorkerOptions, stop: &mut Signals) -> Result<Ending, DistError> {
    let timeouts = options.timeouts;
    let security = options.security.clone();
    let scheduler_addr = security.host_port(&options.scheduler)?.to_owned();
    if let Some(tls) = security.tls() {
        // A worker serves its results to peers and clients: it needs a certificate too.
        tls.server()?;
    }
    let nthreads = options.nthreads.max(1);
    // Segments and spill folders of workers on this machine that died without cleaning up,
    // swept before joining: once the scheduler counts this worker, they are gone.
    rask_store::sweep_orphans();
    crate::store::sweep_spill_orphans();
    let (stream, data) = tokio::time::timeout(timeouts.connect, async {
        let mut stream = conn::open(&scheduler_addr, &security, true).await?;
        // Serve data on the interface that reaches the scheduler.
        let host = stream.local_addr()?.ip();
        let data = TcpListener::bind((host, 0)).await?;
        let data_addr = data.local_addr()?.to_string();
        let role = Role::Worker {
            data_addr,
            nthreads: nthreads as u32,
            memory_limit: options.memory_limit,
            resources: options.resources.clone(),
        };
        conn::connect(&mut stream, role, security.secret()).await.map_err(|e| conn::tls_refusal(&scheduler_addr, e))?;
        Ok::<_, DistError>((stream, data))
    })
    .await
    .map_err(|_| {
        DistError::TimedOut(format!(
            "joining the scheduler at {scheduler_addr} took longer than {:?}",
            timeouts.connect
        ))
    })??;
    // Every line this worker logs names it by its data address.
    let span = tracing::info_span!("worker", addr = %data.local_addr()?);
    serve_joined(options, stream, data, stop).instrument(span).await
}

/// The worker's life once it has joined: its data server, task threads, heartbeats, and the
/// scheduler's messages until it leaves.
async fn serve_joined(
    options: WorkerOptions,
    stream: Stream,
    data: TcpListener,
    stop: &mut Signals,
) -> Result<Ending, DistError> {
    let timeouts = options.timeouts;
    let security = options.security.clone();
    let scheduler_addr = security.host_port(&options.scheduler)?.to_owned();
    let nthreads = options.nthreads.max(1);
    crate::nested::set_worker_context(options.scheduler.clone(), security.clone(), timeouts);
    let store = Arc::new(Store::new(options.memory_limit, crate::store::spill_dir(std::process::id())));
    let memory = Memory::new(options.memory_limit);
    memory::start_monitor(memory.clone(), store.clone());
    crate::sharing::start(options.memory_limit);
    if options.memory_limit > 0 {
        // No single result may be larger than the whole limit: it is a MemoryError naming
        // the task, not a worker killed by the kernel.
        rask_graph::arena::set_allocation_limit(options.memory_limit as usize);
    }
    let peers = Arc::new(Peers::new(security.clone(), timeouts));
    let served = Arc::new(AtomicU64::new(0));
    tokio::spawn(serve_data(data, store.clone(), security, timeouts, served.clone()).in_current_span());

    let (out_tx, mut out_rx) = unbounded_channel::<FromDistWorker>();
    let completions = Arc::new(Completions::default());
    let jobs = start_pool(nthreads, store.clone(), memory.clone(), out_tx.clone(), completions.clone());

    let (rd, mut wr) = stream.into_split();
    let mut rd = conn::buffered(rd);
    tokio::spawn(async move {
        while let Some(first) = out_rx.recv().await {
            // Everything finished since the last message goes in one `Done` (task threads
            // ring with an empty one when they fill an empty outbox).
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
            done.extend(completions.take());
            if !done.is_empty()
                && write_msg_within(&mut wr, &FromDistWorker::Done { tasks: done }, timeouts.write).await.is_err()
            {
                break;
            }
            for msg in others {
                if write_msg_within(&mut wr, &msg, timeouts.write).await.is_err() {
                    return;
                }
            }
        }
    });
    {
        let (out, store, memory, peers, jobs) =
            (out_tx.clone(), store.clone(), memory.clone(), peers.clone(), jobs.clone());
        tokio::spawn(async move {
            // At once (the dashboard shows a new worker's figures), then every second, and
            // whenever the worker pauses or resumes.
            let mut tick = tokio::time::interval(Duration::from_millis(50));
            let mut last: Option<(Instant, bool)> = None;
            let mut cpu = crate::metrics::CpuMeter::new();
            loop {
                tick.tick().await;
                let paused = memory.paused();
                if last.is_some_and(|(at, was)| paused == was && at.elapsed() < Duration::from_secs(1)) {
                    continue;
                }
                last = Some((Instant::now(), paused));
                let u = store.usage();
                let (by_reference, by_copy) = (peers.by_reference.load(Relaxed), peers.by_copy.load(Relaxed));
                let metrics = WorkerMetrics {
                    rss: crate::store::resident_bytes(),
                    cpu_percent: cpu.sample(),
                    executing: memory.executing() as u32,
                    ready: jobs.len() as u32,
                    bytes_received: by_reference + by_copy,
                    bytes_sent: served.load(Relaxed),
                };
                let beat = FromDistWorker::Heartbeat {
                    keys_held: u.keys,
                    bytes_in_memory: u.in_memory,
                    bytes_spilled: u.spilled,
                    paused,
                    fetched_by_reference: by_reference,
                    fetched_by_copy: by_copy,
                    metrics,
                };
                if out.send(beat).is_err() {
                    return;
                }
            }
        });
    }
    let mut retiring: Option<tokio::time::Instant> = None;
    let ended = loop {
        // The scheduler pings every second: silence past the deadline means it is gone.
        let read = tokio::select! {
            read = read_msg_idle::<ToDistWorker>(&mut rd, MAX_FRAME, Some(timeouts.scheduler)) => read,
            Some(signal) = stop.recv() => {
                if retiring.is_some() {
                    tracing::info!("{signal} again: leaving now (results dropped, spill folder removed)");
                    break Ok(Ending::Left);
                }
                tracing::info!("{signal}: retiring (results move to other workers first; signal again to leave at once)");
                let _ = out_tx.send(FromDistWorker::Retire);
                retiring = Some(tokio::time::Instant::now() + RETIRE_DEADLINE);
                continue;
            }
            _ = tokio::time::sleep_until(retiring.unwrap_or_else(tokio::time::Instant::now)), if retiring.is_some() => {
                tracing::warn!("not retired within {RETIRE_DEADLINE:?}: leaving (results dropped)");
                break Ok(Ending::Left);
            }
        };
        match read {
            Ok(Some(ToDistWorker::Compute { tasks })) => dispatch(tasks, &store, &peers, &jobs, &out_tx),
            Ok(Some(ToDistWorker::Release { keys })) => {
                let keys: Vec<Key> = keys.into_iter().map(WireKey::into_key).collect();
                store.remove(&keys)
            }
            Ok(Some(ToDistWorker::Store { items })) => {
                let items = items
                    .into_iter()
                    .map(|(key, value)| {
                        let nbytes = value.nbytes() as u64;
                        store.insert(key.clone(), value);
                        (key, nbytes)
                    })
                    .collect();
                let _ = out_tx.send(FromDistWorker::Stored { items, failed: Vec::new() });
            }
            Ok(Some(ToDistWorker::Fetch { items })) => copy_from_peers(items, &store, &peers, &out_tx),
            Ok(Some(ToDistWorker::Steal { keys })) => {
                let keys = jobs.steal(&keys);
                let _ = out_tx.send(FromDistWorker::Stolen { keys });
            }
            Ok(Some(ToDistWorker::Ping)) => {}
            Ok(Some(ToDistWorker::Retired)) => {
                tracing::info!("retired: what it held is on other workers; leaving");
                break Ok(Ending::Left);
            }
            Ok(Some(ToDistWorker::Restart)) => break Ok(Ending::Restart),
            Ok(Some(ToDistWorker::Exit { reason })) => break Err(DistError::Closed(reason)),
            Ok(None) => {
                break Err(DistError::Closed(format!("the scheduler at {scheduler_addr} closed the connection")))
            }
            Err(DistError::TimedOut(_)) => {
                break Err(DistError::TimedOut(format!(
                    "nothing from the scheduler at {scheduler_addr} for {:?} (it pings every second): \
                     it is hung or unreachable",
                    timeouts.scheduler
                )))
            }
            Err(e) => break Err(DistError::Closed(format!("the scheduler at {scheduler_addr}: {e}"))),
        }
    };
    // Every way out cleans up: no task starts, results go (their segments with them), and the
    // spill folder is removed even while task threads still hold the store.
    jobs.close();
    memory.stop();
    store.close();
    // The segments its results gave back to the pool (a task still running when the worker
    // left may return one later: a sweep of dead workers' segments removes it).
    crate::sharing::finish();
    ended
}

/// Signals asking the worker to leave, by name.
type Signals = tokio::sync::mpsc::UnboundedReceiver<&'static str>;

/// How long a worker asked to leave waits for the scheduler to move its results off it.
pub const RETIRE_DEADLINE: Duration = Duration::from_secs(60);

/// Starts a task whose inputs are all here at once; otherwise fetches them first.
fn dispatch(
    tasks: Vec<Assignment>,
    store: &Arc<Store>,
    peers: &Arc<Peers>,
    jobs: &Arc<Jobs>,
    out: &UnboundedSender<FromDistWorker>,
) {
    let mut waiting = Vec::new();
    let mut runnable = Vec::with_capacity(tasks.len());
    for assignment in tasks.into_iter().map(Assigned::from) {
        let local: Option<Vec<Value>> = assignment.deps.iter().map(|d| store.get(d)).collect();
        match local {
            Some(inputs) => runnable.push(Job { assignment, inputs, transfers: Vec::new() }),
            None => waiting.push(assignment),
        }
    }
    jobs.push_all(runnable);
    if waiting.is_empty() {
        return;
    }
    let (store, peers, jobs, out) = (store.clone(), peers.clone(), jobs.clone(), out.clone());
    tokio::spawn(async move {
        // Every input these tasks lack, asked of its holders in one request each (many tiny
        // tasks reading each other's results would otherwise cost a round trip per input).
        let mut asked = rustc_hash::FxHashSet::default();
        let wanted = waiting
            .iter()
            .flat_map(|a| a.deps.iter().zip(&a.holders))
            .filter(|(dep, _)| store.size_of(dep).is_none() && asked.insert(*dep))
            .map(|(dep, holders)| (dep.clone(), holders.as_slice()))
            .collect();
        let picks = picks(&waiting, &store);
        let mut fetched = peers.fetch_many(wanted, &picks).await;
        // Queued together (one wake-up), except before a wait for a peer.
        let mut ready = Vec::new();
        for assignment in waiting {
            let mut inputs = Vec::with_capacity(assignment.deps.len());
            let mut transfers = Vec::new();
            for (dep, holders) in assignment.deps.iter().zip(&assignment.holders) {
                if let Some(v) = store.get(dep) {
                    inputs.push(v);
                    continue;
                }
                // The transfer is recorded by the first task reading the input.
                if let Some((v, transfer)) = fetched.get_mut(dep) {
                    inputs.push(v.clone());
                    transfers.extend(transfer.take());
                    continue;
                }
                // Not in the batch's answers: its holders one by one, as for a single task.
                jobs.push_all(ready.drain(..));
                let start_us = crate::metrics::unix_us();
                match peers.fetch_one(dep, holders).await {
                    Ok((v, from)) => {
                        let nbytes = v.nbytes() as u64;
                        transfers.push(Transfer { from, nbytes, start_us, stop_us: crate::metrics::unix_us() });
                        inputs.push(v);
                    }
                    Err(failed) => {
                        let (key, dep) = (assignment.key.clone(), dep.clone());
                        let _ = out.send(FromDistWorker::Missing { key, dep, failed });
                        inputs.clear();
                        break;
                    }
                }
            }
            if inputs.len() == assignment.deps.len() {
                ready.push(Job { assignment, inputs, transfers });
            }
        }
        jobs.push_all(ready);
    });
}

/// The list positions to fetch of inputs the `waiting` tasks lack, where every task reading
/// such an input only picks items of it (a shuffle's concatenation of `getitem` picks): the
/// rest of each list stays with its holder. An input any of them reads whole is fetched whole.
fn picks(waiting: &[Assigned], store: &Store) -> crate::peers::Picks {
    static REGISTRY: std::sync::OnceLock<Registry> = std::sync::OnceLock::new();
    let mut picks = crate::peers::Picks::default();
    let mut whole = rustc_hash::FxHashSet::default();
    for assignment in waiting {
        let missing = |i: usize| store.size_of(&assignment.deps[i]).is_none();
        // Names travel as text: an op that cannot call `getitem` is not decoded here.
        let op = assignment.op.may_call("getitem").then(|| assignment.op.decode().ok()).flatten();
        let op = op.and_then(|op| op.resolve(REGISTRY.get_or_init(Registry::new)).ok());
        for (i, dep) in assignment.deps.iter().enumerate().filter(|&(i, _)| missing(i)) {
            match op.as_ref().and_then(|op| op.items_read(i as u32)) {
                Some(read) if !whole.contains(dep) => picks.entry(dep.clone()).or_insert_with(Vec::new).extend(read),
                _ => {
                    whole.insert(dep.clone());
                    picks.remove(dep);
                }
            }
        }
    }
    picks
}

/// Copies results from other workers (replication, rebalancing) and says which landed; one
/// that no holder could give is left out (the scheduler keeps its copies where they are).
fn copy_from_peers(
    items: Vec<(Key, Vec<String>)>,
    store: &Arc<Store>,
    peers: &Arc<Peers>,
    out: &UnboundedSender<FromDistWorker>,
) {
    let (store, peers, out) = (store.clone(), peers.clone(), out.clone());
    tokio::spawn(async move {
        let (mut stored, mut failed) = (Vec::with_capacity(items.len()), Vec::new());
        for (key, holders) in items {
            if let Some(nbytes) = store.size_of(&key) {
                stored.push((key, nbytes));
                continue;
            }
            match peers.fetch_one(&key, &holders).await {
                Ok((value, _)) => {
                    let nbytes = value.nbytes() as u64;
                    store.insert(key.clone(), value);
                    stored.push((key, nbytes));
                }
                Err(holders) => {
                    tracing::warn!("could not copy {key} from {holders:?}");
                    failed.push(key);
                }
            }
        }
        let _ = out.send(FromDistWorker::Stored { items: stored, failed });
    });
}

/// Answers peers' and clients' requests for results; `served` counts the payload bytes sent.
async fn serve_data(
    listener: TcpListener,
    store: Arc<Store>,
    security: Security,
    timeouts: Timeouts,
    served: Arc<AtomicU64>,
) {
    let mut accepting = Accepting::new("rask worker data server");
    let namespace = Arc::new(crate::sharing::namespace("dwdata"));
    loop {
        let Some((stream, peer, permit)) = accepting.next(&listener).await else { continue };
        let (store, security, served) = (store.clone(), security.clone(), served.clone());
        let namespace = namespace.clone();
        // Refusals and drops are logged in the worker's span.
        tokio::spawn(Instrument::in_current_span(async move {
            let accepted = conn::accept(stream, &security, timeouts.connect).await;
            drop(permit);
            let mut stream = match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!("refused {peer}: {e}");
                    return;
                }
            };
            let same_host = stream.local_addr().is_ok_and(|me| me.ip() == peer.ip());
            loop {
                match read_msg::<DataRequest>(&mut stream, MAX_REQUEST_FRAME).await {
                    Ok(Some(DataRequest::Get { keys, by_value, picks })) => {
                        let same_host = same_host && !by_value;
                        // Small values in memory are answered here; others off the event loop
                        // (read back from disk, or encoded into shared memory for a peer on
                        // this machine). A hop to the blocking pool costs more than a tree
                        // reduction's tiny task.
                        let reply = if store.in_memory_below(&keys, crate::sharing::SHARE_MIN as u64) {
                            crate::sharing::answer(&store, keys, &picks, same_host, &namespace)
                        } else {
                            let (store, namespace) = (store.clone(), namespace.clone());
                            let answered = tokio::task::spawn_blocking(move || {
                                crate::sharing::answer(&store, keys, &picks, same_host, &namespace)
                            })
                            .await;
                            let Ok(reply) = answered else { return };
                            reply
                        };
                        served.fetch_add(crate::sharing::reply_bytes(&reply), Relaxed);
                        if write_msg_within(&mut stream, &reply, timeouts.write).await.is_err() {
                            return;
                        }
                    }
                    Ok(None) => return,
                    Err(e) => {
                        tracing::warn!("dropped {peer}: {e}");
                        return;
                    }
                }
            }
        }));
    }
}

/// How a worker process ends: 0 when asked to (a signal), else 1 with the reason on stderr —
/// a worker whose scheduler vanished or fenced it says so instead of exiting quietly.
pub fn exit_code(ended: Result<(), DistError>) -> i32 {
    match ended {
        Ok(()) => 0,
        Err(e) => {
            tracing::error!("exiting: {e}");
            1
        }
    }
}
