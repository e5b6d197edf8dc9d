//! The client: submits graphs, holds futures, gathers results from the workers directly.
//!
//! Blocking API over a small tokio runtime of its own (from async code, use [`AsyncClient`]:
//! the blocking calls must not run on an async executor's thread). A [`Future`] names a key on the cluster;
//! while any clone of it lives the result is kept, and the last one dropped releases it
//! (Dask's reference counting). Graphs are compiled here (`Plan::build`: validated, culled,
//! fused, ordered) and sent as tasks in priority order, so the scheduler never parses text.

mod aio;
mod placement;
mod waiting;

pub use aio::{AsCompletedStream, AsyncClient};

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use rask_exec::{ExecError, Executor, Outcome, Persisted, Progress, RunStats};
use rask_graph::{Annotations, Expr, Graph, Key, Plan, Registry, Value};
use rask_protocol::coord::CoordAnswer;
use rask_protocol::dist::{
    ClientMsg, Dep, EncodedOp, NewTask, Role, SchedulerStats, TaskCause, TaskEvent, ToClient, WorkerSample,
};
use rask_protocol::OpMsg;
use rustc_hash::{FxHashMap, FxHashSet};
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};
use tokio::sync::{oneshot, watch};

use crate::conn::{self, read_msg_idle, write_msg, MAX_FRAME};
use crate::peers::Peers;
use crate::tls::Security;
use crate::{DistError, Timeouts};

/// Tasks per `Submit` message of a large submission: about a megabyte on the wire, so the
/// scheduler starts on the first part while the client is still encoding the rest.
const SUBMIT_PART: usize = 16_384;

#[derive(Clone, Debug, PartialEq)]
enum Status {
    Pending,
    Finished,
    /// The error, and the failed task's key and failure when a function failed.
    Erred(String, Option<TaskCause>),
}

#[derive(Default)]
struct Shared {
    status: FxHashMap<Key, Status>,
    refs: FxHashMap<Key, usize>,
    /// Requests awaiting their reply, in the order they were sent (replies come in order).
    reply_waiters: VecDeque<oneshot::Sender<ToClient>>,
    closed: Option<String>,
    /// The scheduler's last word on this client's progress: (done, total) tasks.
    progress: (u64, u64),
    /// Coordination answers not yet taken by their request.
    coord_answers: FxHashMap<u64, CoordAnswer>,
    /// Coordination requests whose answers nobody waits for (a lease dropped).
    detached: FxHashSet<u64>,
}

/// What the connection's reader task updates; kept apart from [`Inner`] so that the task never
/// holds the runtime it runs on (dropping a runtime inside itself is an error).
struct Board {
    shared: Mutex<Shared>,
    /// Bumped at every change of `shared`: blocking and async waiters alike look again.
    version: watch::Sender<u64>,
    /// The connection's outbox, for the few messages the reader sends itself.
    tx: std::sync::OnceLock<UnboundedSender<Outgoing>>,
}

enum Outgoing {
    Msg(ClientMsg),
    Close,
}

struct Inner {
    /// Taken only when the last handle goes (see `Drop`).
    runtime: Option<tokio::runtime::Runtime>,
    tx: UnboundedSender<Outgoing>,
    board: Arc<Board>,
    peers: Arc<Peers>,
    registry: Registry,
    token: String,
    next: AtomicU64,
    /// Held while a submission's parts are sent, so that two threads' submissions do not
    /// interleave (the scheduler ends a submission at its part without `more`).
    submitting: Mutex<()>,
}

/// A connection to a scheduler.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

/// A key being computed (or computed) on the cluster.
pub struct Future {
    key: Key,
    inner: Arc<Inner>,
}

/// An argument of [`Client::submit`]: a value, or the result of another future.
pub enum Arg {
    Value(Value),
    Future(Future),
}

impl<T: Into<Value>> From<T> for Arg {
    fn from(v: T) -> Arg {
        Arg::Value(v.into())
    }
}

impl From<&Future> for Arg {
    fn from(f: &Future) -> Arg {
        Arg::Future(f.clone())
    }
}

impl Client {
    /// Connects to the scheduler at `HOST:PORT`, `tcp://HOST:PORT` or `tls://HOST:PORT`, with
    /// the secret and TLS files of the environment ([`Security::from_env`]).
    pub fn connect(addr: &str) -> Result<Client, DistError> {
        Client::connect_secure(addr, Security::from_env()?)
    }

    /// As [`Client::connect`], proving `secret` (if any) and without TLS.
    pub fn connect_with(addr: &str, secret: Option<Vec<u8>>) -> Result<Client, DistError> {
        Client::connect_with_registry(addr, secret, Registry::new())
    }

    /// As [`Client::connect`], with `security` (a secret, TLS, or both).
    pub fn connect_secure(addr: &str, security: Security) -> Result<Client, DistError> {
        Client::connect_with_timeouts(addr, security, Registry::new(), Timeouts::from_env())
    }

    /// As [`Client::connect_with`], validating graphs against `registry` (the workers resolve
    /// every name again in their own).
    pub fn connect_with_registry(addr: &str, secret: Option<Vec<u8>>, registry: Registry) -> Result<Client, DistError> {
        let security = secret.map_or_else(Security::none, |s| Security::none().with_secret(s));
        Client::connect_with_timeouts(addr, security, registry, Timeouts::from_env())
    }

    /// As [`Client::connect_with_registry`], with explicit deadlines: connecting, fetching
    /// results, and how long the scheduler may stay silent (it pings every second) before
    /// every wait fails with an error instead of hanging.
    pub fn connect_with_timeouts(
        addr: &str,
        security: Security,
        registry: Registry,
        timeouts: Timeouts,
    ) -> Result<Client, DistError> {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
        let addr = security.host_port(addr)?.to_owned();
        let stream = runtime.block_on(conn::dial(&addr, Role::Client, &security, timeouts.connect))?;
        tracing::debug!("client connected to the scheduler at {addr}");
        let (tx, mut rx) = unbounded_channel::<Outgoing>();
        let board = Arc::new(Board::new());
        let _ = board.tx.set(tx.clone());
        let inner = Arc::new(Inner {
            runtime: Some(runtime),
            tx,
            board: board.clone(),
            peers: Arc::new(Peers::new(security, timeouts)),
            registry,
            token: crate::auth::nonce()?.iter().take(6).map(|b| format!("{b:02x}")).collect(),
            next: AtomicU64::new(0),
            submitting: Mutex::new(()),
        });
        let (rd, mut wr) = stream.into_split();
        let mut rd = conn::buffered(rd);
        inner.rt().spawn(async move {
            while let Some(out) = rx.recv().await {
                let msg = match out {
                    Outgoing::Msg(msg) => msg,
                    Outgoing::Close => break,
                };
                if write_msg(&mut wr, &msg).await.is_err() {
                    break;
                }
            }
            let _ = tokio::io::AsyncWriteExt::shutdown(&mut wr).await;
        });
        inner.rt().spawn(async move {
            let silence = timeouts.scheduler;
            let why = loop {
                match read_msg_idle::<ToClient>(&mut rd, MAX_FRAME, Some(silence)).await {
                    Ok(Some(msg)) => board.receive(msg),
                    Ok(None) => break format!("the scheduler at {addr} closed the connection"),
                    Err(DistError::TimedOut(_)) => {
                        break format!(
                            "nothing from the scheduler at {addr} for {silence:?} (it pings every second): \
                             it is stopped, hung or unreachable"
                        )
                    }
                    Err(e) => break format!("the scheduler at {addr}: {e}"),
                }
            };
            tracing::debug!("client connection ended: {why}");
            board.close(why);
        });
        Ok(Client { inner })
    }

    /// Whether the connection to the scheduler has ended.
    pub fn is_closed(&self) -> bool {
        self.inner.board.shared.lock().expect("client state").closed.is_some()
    }

    /// Closes the connection: the scheduler releases every key this client wanted. Futures
    /// still held fail from then on.
    pub fn close(&self) {
        let _ = self.inner.tx.send(Outgoing::Close);
    }

    /// Computes `keys` of `graph` on the cluster and returns their values (Dask's `get`).
    pub fn compute(&self, graph: &Graph, keys: &[Key]) -> Result<Vec<Value>, DistError> {
        let futures = self.persist(graph, keys)?;
        self.gather(&futures)
    }

    /// As [`Client::compute`], every task without annotations of its own taking `hints`
    /// (priority, retries, resources, worker restrictions).
    pub fn compute_with(&self, graph: &Graph, keys: &[Key], hints: &Annotations) -> Result<Vec<Value>, DistError> {
        let futures = self.persist_with(graph, keys, hints)?;
        self.gather(&futures)
    }

    /// As [`Client::persist`], every task without annotations of its own taking `hints`.
    pub fn persist_with(&self, graph: &Graph, keys: &[Key], hints: &Annotations) -> Result<Vec<Future>, DistError> {
        let mut graph = graph.clone();
        graph.annotate_unannotated(hints.clone());
        self.persist(&graph, keys)
    }

    /// Starts computing `keys`; their results stay on the workers while the futures live, and
    /// later graphs may refer to them by key. Keys keep their [`Graph::annotate`] hints.
    pub fn persist(&self, graph: &Graph, keys: &[Key]) -> Result<Vec<Future>, DistError> {
        // Keys the graph refers to but does not define, which this client holds futures for:
        // they are on the cluster already.
        let held: FxHashSet<Key> = {
            let shared = self.inner.board.shared.lock().expect("client state");
            let mut external = FxHashSet::default();
            for (_, expr) in graph.iter() {
                expr.for_each_ref(&mut |k| {
                    if !graph.contains(k) && shared.refs.contains_key(k) {
                        external.insert(k.clone());
                    }
                });
            }
            external
        };
        let mut full = graph.clone();
        for k in &held {
            full.insert(k.clone(), Expr::from(Value::None));
        }
        // External keys are targets, so the plan neither inlines nor fuses their placeholders.
        let targets: Vec<Key> = keys.iter().cloned().chain(held.iter().cloned()).collect();
        let plan = Plan::build(&full, &targets, &self.inner.registry)?;
        // A closure lives in this process only: refused here, not found missing on a worker.
        plan.check_portable("distributed")?;
        let tasks = plan_tasks(&plan, |k| held.contains(k));
        Ok(self.send_tasks(tasks, keys))
    }

    /// Runs the registered function `func` on `args` (values or other futures' results).
    pub fn submit(&self, func: &str, args: impl IntoIterator<Item = Arg>) -> Result<Future, DistError> {
        self.submit_as(self.fresh_key(func), func, args, &Annotations::new())
    }

    /// As [`Client::submit`], with scheduling hints: `Annotations::new().retries(3)`,
    /// `.priority(10)`, `.resource("GPU", 1.0)`, `.workers([addr])`.
    pub fn submit_with(
        &self,
        func: &str,
        args: impl IntoIterator<Item = Arg>,
        hints: &Annotations,
    ) -> Result<Future, DistError> {
        self.submit_as(self.fresh_key(func), func, args, hints)
    }

    /// As [`Client::submit_with`], under a key of the caller's choosing. Keys are identities
    /// (Dask's rule): submitting a key the cluster already knows, from any client, shares that
    /// task and its result instead of running it again — tasks that submit tasks use this to
    /// compute a shared subproblem once.
    pub fn submit_as(
        &self,
        key: Key,
        func: &str,
        args: impl IntoIterator<Item = Arg>,
        hints: &Annotations,
    ) -> Result<Future, DistError> {
        let mut graph = Graph::new();
        let mut keep = Vec::new();
        let args: Vec<Expr> = args
            .into_iter()
            .map(|a| match a {
                Arg::Value(v) => Expr::from(v),
                Arg::Future(f) => {
                    let e = Expr::key(f.key.clone());
                    keep.push(f);
                    e
                }
            })
            .collect();
        graph.insert(key.clone(), Expr::call(func, args));
        graph.set_annotations(key.clone(), hints.clone());
        let mut futures = self.persist(&graph, std::slice::from_ref(&key))?;
        drop(keep);
        Ok(futures.pop().expect("one key, one future"))
    }

    /// `func` applied to each item, as one submission.
    pub fn map(&self, func: &str, items: impl IntoIterator<Item = Value>) -> Result<Vec<Future>, DistError> {
        self.map_with(func, items, &Annotations::new())
    }

    /// As [`Client::map`], each task with the scheduling `hints`.
    pub fn map_with(
        &self,
        func: &str,
        items: impl IntoIterator<Item = Value>,
        hints: &Annotations,
    ) -> Result<Vec<Future>, DistError> {
        let mut graph = Graph::new();
        let mut keys = Vec::new();
        for item in items {
            let key = self.fresh_key(func);
            graph.insert(key.clone(), Expr::call(func, [Expr::from(item)]));
            keys.push(key);
        }
        graph.annotate_unannotated(hints.clone());
        self.persist(&graph, &keys)
    }

    /// The futures in the order they finish (successfully or not).
    pub fn as_completed(&self, futures: Vec<Future>) -> AsCompleted {
        AsCompleted { client: self.clone(), pending: futures }
    }

    /// Cancels unfinished futures: they (and what depends on them) become errors.
    pub fn cancel(&self, futures: &[Future]) {
        let keys = futures.iter().map(|f| f.key.clone()).collect();
        let _ = self.inner.tx.send(Outgoing::Msg(ClientMsg::Cancel { keys }));
    }

    /// Lets these futures' tasks run to the end even after every future is dropped (Dask's
    /// `fire_and_forget`): for side effects nobody waits on. Their results are dropped.
    pub fn fire_and_forget(&self, futures: &[Future]) {
        let keys = futures.iter().map(|f| f.key.clone()).collect();
        let _ = self.inner.tx.send(Outgoing::Msg(ClientMsg::FireAndForget { keys }));
    }

    /// What the scheduler knows of itself: counters, tasks by state, each worker's figures
    /// and each task group's progress and durations.
    pub fn stats(&self) -> Result<SchedulerStats, DistError> {
        self.block_on(self.stats_async())
    }

    /// Finished tasks after position `since` of the scheduler's task stream (0: all it still
    /// keeps, the last 100k), and the position to ask from next time. `u64::MAX` asks for
    /// none: only the current position.
    pub fn task_stream(&self, since: u64) -> Result<(Vec<TaskEvent>, u64), DistError> {
        self.block_on(self.task_stream_async(since))
    }

    /// The workers' once-a-second samples (memory, RSS, CPU) taken since `since_us` (Unix
    /// microseconds).
    pub fn worker_samples(&self, since_us: u64) -> Result<Vec<WorkerSample>, DistError> {
        self.block_on(self.worker_samples_async(since_us))
    }

    async fn stats_async(&self) -> Result<SchedulerStats, DistError> {
        self.inner.stats().await
    }

    async fn task_stream_async(&self, since: u64) -> Result<(Vec<TaskEvent>, u64), DistError> {
        match self.inner.request(ClientMsg::TaskStream { since }).await? {
            ToClient::TaskStream { events, next } => Ok((events, next)),
            other => Err(DistError::Protocol(format!("expected the task stream, got {other:?}"))),
        }
    }

    async fn worker_samples_async(&self, since_us: u64) -> Result<Vec<WorkerSample>, DistError> {
        match self.inner.request(ClientMsg::WorkerSamples { since_us }).await? {
            ToClient::WorkerSamples { samples } => Ok(samples),
            other => Err(DistError::Protocol(format!("expected worker samples, got {other:?}"))),
        }
    }

    /// As [`Client::compute`], calling `progress` with (tasks done, tasks submitted) of this
    /// computation as the scheduler reports them (about every 100 ms, and once at the end).
    pub fn compute_with_progress(
        &self,
        graph: &Graph,
        keys: &[Key],
        progress: &dyn Progress,
    ) -> Result<Vec<Value>, DistError> {
        let start = self.inner.board.shared.lock().expect("client state").progress;
        let futures = self.persist(graph, keys)?;
        self.wait_reporting(&futures, start, progress)?;
        self.gather(&futures)
    }

    /// The future for `key`, which a coordination answer already counted as held.
    pub(crate) fn adopt(&self, key: Key) -> Future {
        Future { key, inner: self.inner.clone() }
    }

    fn fresh_key(&self, func: &str) -> Key {
        Key::str(&format!("{func}-{}-{}", self.inner.token, self.inner.next.fetch_add(1, Relaxed)))
    }

    /// Sends tasks, in parts of [`SUBMIT_PART`] made as the previous one is on its way, and
    /// returns futures for `wanted`.
    fn send_tasks(&self, tasks: impl Iterator<Item = NewTask>, wanted: &[Key]) -> Vec<Future> {
        let futures = self.hold(wanted);
        let _one_at_a_time = self.inner.submitting.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut tasks = tasks.peekable();
        let mut wanted = wanted.to_vec();
        loop {
            let part: Vec<NewTask> = tasks.by_ref().take(SUBMIT_PART).collect();
            let more = tasks.peek().is_some();
            let msg = ClientMsg::Submit { tasks: part, wanted: std::mem::take(&mut wanted), more };
            if self.inner.tx.send(Outgoing::Msg(msg)).is_err() || !more {
                break;
            }
        }
        futures
    }

    /// Futures for `keys`, counted as held before the scheduler hears of them.
    fn hold(&self, keys: &[Key]) -> Vec<Future> {
        let mut shared = self.inner.board.shared.lock().expect("client state");
        keys.iter()
            .map(|k| {
                *shared.refs.entry(k.clone()).or_insert(0) += 1;
                shared.status.entry(k.clone()).or_insert(Status::Pending);
                Future { key: k.clone(), inner: self.inner.clone() }
            })
            .collect()
    }
}

impl AsRef<Client> for Client {
    fn as_ref(&self) -> &Client {
        self
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Client")
    }
}

/// The tasks of `plan` in priority order, minus `external` keys (already on the cluster); each
/// op reads its inputs by position in its task's `deps`.
pub(crate) fn plan_tasks<'p>(
    plan: &'p Plan,
    external: impl Fn(&Key) -> bool + 'p,
) -> impl Iterator<Item = NewTask> + 'p {
    // Each node's position among the tasks sent: a dependency sent before is named by it.
    let mut position = vec![u32::MAX; plan.len()];
    let mut sent = 0u32;
    plan.order().iter().filter(move |&&n| !external(plan.key(n))).map(move |&n| {
        let deps = plan.dependencies(n);
        let mut op = OpMsg::from(plan.op(n));
        renumber(&mut op, deps);
        let task = NewTask {
            key: plan.key(n).clone(),
            op: EncodedOp::new(&op),
            deps: deps
                .iter()
                .map(|&d| match position[d as usize] {
                    u32::MAX => Dep::Key(plan.key(d).clone()),
                    earlier => Dep::Earlier(earlier),
                })
                .collect(),
            hints: plan.annotations(n).map(|a| Box::new(a.clone())),
        };
        position[n as usize] = sent;
        sent += 1;
        task
    })
}

fn renumber(op: &mut OpMsg, deps: &[u32]) {
    match op {
        OpMsg::Input(i) => *i = deps.iter().position(|d| d == i).expect("an input is a dependency") as u32,
        OpMsg::Const(_) => {}
        OpMsg::Call(_, args) | OpMsg::List(args) => args.iter_mut().for_each(|a| renumber(a, deps)),
        OpMsg::Fused(_, inner) => renumber(inner, deps),
    }
}

impl Future {
    pub fn key(&self) -> &Key {
        &self.key
    }

    /// Whether it has finished (successfully or not).
    pub fn done(&self) -> bool {
        let shared = self.inner.board.shared.lock().expect("client state");
        !matches!(shared.status.get(&self.key), Some(Status::Pending) | None)
    }

    /// Waits for the value.
    pub fn result(&self) -> Result<Value, DistError> {
        let client = Client { inner: self.inner.clone() };
        Ok(client.gather(std::slice::from_ref(self))?.remove(0))
    }
}

impl Clone for Future {
    fn clone(&self) -> Future {
        *self.inner.board.shared.lock().expect("client state").refs.entry(self.key.clone()).or_insert(0) += 1;
        Future { key: self.key.clone(), inner: self.inner.clone() }
    }
}

impl Drop for Future {
    fn drop(&mut self) {
        let mut shared = self.inner.board.shared.lock().unwrap_or_else(|e| e.into_inner());
        let last = match shared.refs.get_mut(&self.key) {
            Some(n) if *n > 1 => {
                *n -= 1;
                false
            }
            _ => true,
        };
        if last {
            shared.refs.remove(&self.key);
            shared.status.remove(&self.key);
            drop(shared);
            let _ = self.inner.tx.send(Outgoing::Msg(ClientMsg::Release { keys: vec![self.key.clone()] }));
        }
    }
}

impl std::fmt::Debug for Future {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Future({})", self.key)
    }
}

/// Futures in the order they finish: see [`Client::as_completed`].
pub struct AsCompleted {
    client: Client,
    pending: Vec<Future>,
}

/// `Client` as an executor: `--scheduler tcp://HOST:PORT` anywhere a scheduler is named.
impl Executor for Client {
    fn name(&self) -> &str {
        "distributed"
    }

    /// Progress counts the tasks this run added to the scheduler: while they are still being
    /// submitted the total is below the plan's size (keys the cluster holds already count in
    /// neither).
    fn execute(&self, plan: &Plan, progress: Option<&dyn Progress>) -> Result<Outcome, ExecError> {
        plan.check_portable(self.name())?;
        let wanted: Vec<Key> = plan.targets().iter().map(|&t| plan.key(t).clone()).collect();
        let start = self.inner.board.shared.lock().expect("client state").progress;
        let futures = self.send_tasks(plan_tasks(plan, |_| false), &wanted);
        if let Some(progress) = progress {
            self.wait_reporting(&futures, start, progress).map_err(exec_error)?;
        }
        let values = self.gather(&futures).map_err(exec_error)?;
        Ok(Outcome { values, stats: RunStats { tasks: plan.len(), ..RunStats::default() } })
    }

    /// As [`Client::compute`]: the graph may refer to keys this client persisted.
    fn get(&self, graph: &Graph, keys: &[Key], _registry: &Registry) -> Result<Vec<Value>, ExecError> {
        self.compute(graph, keys).map_err(exec_error)
    }

    fn get_with_progress(
        &self,
        graph: &Graph,
        keys: &[Key],
        _registry: &Registry,
        progress: Option<&dyn Progress>,
    ) -> Result<Vec<Value>, ExecError> {
        match progress {
            Some(progress) => self.compute_with_progress(graph, keys, progress).map_err(exec_error),
            None => self.compute(graph, keys).map_err(exec_error),
        }
    }

    /// The results stay on the workers while the returned handle (the futures) lives.
    fn persist(&self, graph: &Graph, keys: &[Key], _registry: &Registry) -> Result<Persisted, ExecError> {
        let futures = Client::persist(self, graph, keys).map_err(exec_error)?;
        self.wait(&futures).map_err(exec_error)?;
        Ok(Persisted::Held { keys: keys.to_vec(), hold: Arc::new(futures) })
    }
}

fn connect_executor(addr: &str) -> Result<Box<dyn Executor>, ExecError> {
    let client = Client::connect(addr).map_err(|e| ExecError::Remote(format!("{addr}: {e}")))?;
    Ok(Box::new(client))
}

/// An embedded cluster of `workers` processes and a client of it, as one executor: the
/// cluster stops when it is dropped.
struct LocalExecutor {
    client: Client,
    _cluster: crate::LocalCluster,
}

impl Executor for LocalExecutor {
    fn name(&self) -> &str {
        "local"
    }
    fn execute(&self, plan: &Plan, progress: Option<&dyn Progress>) -> Result<Outcome, ExecError> {
        self.client.execute(plan, progress)
    }
    fn get(&self, graph: &Graph, keys: &[Key], registry: &Registry) -> Result<Vec<Value>, ExecError> {
        Executor::get(&self.client, graph, keys, registry)
    }
    fn get_with_progress(
        &self,
        graph: &Graph,
        keys: &[Key],
        registry: &Registry,
        progress: Option<&dyn Progress>,
    ) -> Result<Vec<Value>, ExecError> {
        self.client.get_with_progress(graph, keys, registry, progress)
    }
    fn persist(&self, graph: &Graph, keys: &[Key], registry: &Registry) -> Result<Persisted, ExecError> {
        Executor::persist(&self.client, graph, keys, registry)
    }
}

fn local_executor(workers: usize) -> Result<Box<dyn Executor>, ExecError> {
    let cluster =
        crate::LocalCluster::new(workers, 1).map_err(|e| ExecError::Workers(format!("local cluster: {e}")))?;
    let client = cluster.client().map_err(|e| ExecError::Remote(format!("local cluster: {e}")))?;
    Ok(Box::new(LocalExecutor { client, _cluster: cluster }))
}

rask_graph::inventory::submit! {
    rask_exec::RemoteExecutor { connect: connect_executor, local: local_executor }
}

/// A failed task: the same error a local executor gives when a function failed, else the text.
fn task_error(text: &str, cause: Option<TaskCause>) -> DistError {
    match cause {
        Some(c) => {
            DistError::Exec(ExecError::after_attempts(ExecError::from_failure(&c.key, c.failure), c.earlier_attempts))
        }
        None => DistError::Task(text.to_owned()),
    }
}

/// A client failure as an executor's: graph and task errors keep their type, the rest name
/// their cause.
fn exec_error(e: DistError) -> ExecError {
    match e {
        DistError::Graph(g) => ExecError::Graph(g),
        DistError::Exec(e) => e,
        other => ExecError::Remote(other.to_string()),
    }
}
