//! The scheduler: accepts clients and workers over TCP and runs the [`state::State`] machine
//! on one task (an actor), so no lock guards the task table.
//!
//! Each connection has a reader task (decodes frames, forwards them as events) and a writer
//! task (encodes what the actor sends it). The actor handles every event that is waiting,
//! then flushes: one message per worker and per client per round, so a burst of a thousand
//! completions costs a handful of messages. A large submission arrives in chunks (dependencies
//! first), so other clients and workers are served between chunks.

pub(crate) mod dashboard;
#[cfg(test)]
mod placement_tests;
pub mod state;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rask_protocol::dist::{
    ClientMsg, FromDistWorker, NewTask, Role, SchedulerStats, TaskEvent, ToClient, ToDistWorker, WorkerSample,
};
use rask_protocol::frame;
use rustc_hash::FxHashMap;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::sync::{oneshot, OwnedSemaphorePermit};
use tracing::Instrument;

use self::state::{ClientId, State, WorkerId};
use crate::conn::{self, read_msg, write_frames_within, Accepting, MAX_FRAME, MAX_WORKER_FRAME};
use crate::tls::Security;
use crate::{DistError, Timeouts};

/// Tasks per submission chunk: a million-task graph is a few hundred events of a few
/// milliseconds each, with other connections served in between.
const SUBMIT_CHUNK: usize = 4096;
/// A gap between two ticks (sent every second) longer than this means the scheduler itself was
/// stalled (stopped, or its actor busy): workers' messages may be waiting unread.
const STALLED_TICK: Duration = Duration::from_millis(2500);
/// Events handled before the actor flushes its messages.
const EVENTS_PER_ROUND: usize = 4096;

enum Event {
    /// Sent every second, at the instant given (how late it is handled is the event loop's
    /// latency).
    Tick(Instant),
    /// The dashboard asks.
    Observe(Query),
    Joined {
        conn: u32,
        role: Role,
        tx: UnboundedSender<Outgoing>,
    },
    Left {
        conn: u32,
    },
    Client {
        conn: u32,
        msg: ClientMsg,
    },
    /// A chunk of a large submission; the reader sends the next one after `ack` fires, so
    /// other connections' events are handled between chunks.
    Chunk {
        conn: u32,
        tasks: Vec<NewTask>,
        last: bool,
        ack: oneshot::Sender<()>,
    },
    Worker {
        conn: u32,
        msg: FromDistWorker,
    },
}

enum Outgoing {
    Client(ToClient),
    Worker(ToDistWorker),
}

/// What the dashboard may ask the actor (it holds no state of its own).
pub(crate) enum Query {
    Stats(oneshot::Sender<SchedulerStats>),
    Stream { since: u64, reply: oneshot::Sender<(Vec<TaskEvent>, u64)> },
    Samples { since_us: u64, reply: oneshot::Sender<Vec<WorkerSample>> },
}

/// The dashboard's handle on the actor.
#[derive(Clone)]
pub(crate) struct Observer(UnboundedSender<Event>);

impl Observer {
    async fn ask<T>(&self, query: impl FnOnce(oneshot::Sender<T>) -> Query) -> Option<T> {
        let (tx, rx) = oneshot::channel();
        self.0.send(Event::Observe(query(tx))).ok()?;
        rx.await.ok()
    }

    pub(crate) async fn stats(&self) -> Option<SchedulerStats> {
        self.ask(Query::Stats).await
    }

    pub(crate) async fn stream(&self, since: u64) -> Option<(Vec<TaskEvent>, u64)> {
        self.ask(|reply| Query::Stream { since, reply }).await
    }

    pub(crate) async fn samples(&self, since_us: u64) -> Option<Vec<WorkerSample>> {
        self.ask(|reply| Query::Samples { since_us, reply }).await
    }
}

/// Serves on `listener` until the process ends.
pub async fn serve(
    listener: TcpListener,
    security: Security,
    dashboard: Option<TcpListener>,
    timeouts: Timeouts,
) -> Result<(), DistError> {
    if let Some(tls) = security.tls() {
        // Fails now, not at the first connection, if this process cannot serve TLS.
        tls.server()?;
    }
    let (events, inbox) = unbounded_channel();
    if let Some(dashboard) = dashboard {
        let web = security.tls().and_then(|tls| tls.web());
        tokio::spawn(dashboard::serve(dashboard, web, Observer(events.clone())).in_current_span());
    }
    let address = format!("{}{}", security.scheme(), listener.local_addr()?);
    tokio::spawn(actor(inbox, timeouts, address).in_current_span());
    let ticks = events.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(1));
        // After a stall, one tick (which sees the gap), not a burst of them.
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            if ticks.send(Event::Tick(Instant::now())).is_err() {
                return;
            }
        }
    });
    let mut next_conn = 0u32;
    let mut accepting = Accepting::new("rask scheduler");
    loop {
        let Some((stream, peer, permit)) = accepting.next(&listener).await else { continue };
        next_conn += 1;
        let events = events.clone();
        tokio::spawn(connection(stream, peer, next_conn, events, security.clone(), timeouts, permit).in_current_span());
    }
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    conn: u32,
    events: UnboundedSender<Event>,
    security: Security,
    timeouts: Timeouts,
    handshake: OwnedSemaphorePermit,
) {
    let accepted = conn::accept(stream, &security, timeouts.connect).await;
    drop(handshake);
    let (stream, role) = match accepted {
        Ok((_, Role::Peer)) => {
            tracing::warn!("refused {peer}: a data fetch sent to the scheduler");
            return;
        }
        Ok(accepted) => accepted,
        Err(e) => {
            tracing::warn!("refused {peer}: {e}");
            return;
        }
    };
    let is_client = role == Role::Client;
    let (rd, mut wr) = stream.into_split();
    let mut rd = conn::buffered(rd);
    let (tx, mut rx) = unbounded_channel::<Outgoing>();
    if events.send(Event::Joined { conn, role, tx }).is_err() {
        return;
    }
    // When the writer ends (the peer stopped reading, or the actor cut it off), the reader
    // stops too: nothing it would read could be answered.
    let (writer_alive, mut writer_gone) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let _alive = writer_alive;
        let mut frames = Vec::new();
        while let Some(first) = rx.recv().await {
            // The messages queued meanwhile go out in one write (a round's releases and
            // tasks for a worker, say): fewer system calls and wake-ups per task.
            frames.clear();
            let (mut next, mut last) = (Some(first), false);
            while let Some(out) = next.take() {
                let encoded = match &out {
                    Outgoing::Client(m) => frame::encode(m, MAX_FRAME, &mut frames),
                    Outgoing::Worker(m) => {
                        last = matches!(m, ToDistWorker::Exit { .. } | ToDistWorker::Retired | ToDistWorker::Restart);
                        frame::encode(m, MAX_FRAME, &mut frames)
                    }
                };
                if encoded.is_err() {
                    tracing::error!("a message to connection {conn} cannot be encoded: {encoded:?}");
                    return;
                }
                if !last && frames.len() < COALESCE_BYTES {
                    next = rx.try_recv().ok();
                }
            }
            if write_frames_within(&mut wr, &frames, timeouts.write).await.is_err() || last {
                break;
            }
        }
    });
    let why = loop {
        let event = if is_client {
            let read = tokio::select! {
                read = read_msg::<ClientMsg>(&mut rd, MAX_FRAME) => read,
                _ = &mut writer_gone => break None,
            };
            match read {
                Ok(Some(ClientMsg::Submit { tasks, wanted, more })) => {
                    // Wants first, so no result is released before its want arrives.
                    if !wanted.is_empty() {
                        let msg = ClientMsg::Submit { tasks: Vec::new(), wanted, more: false };
                        let _ = events.send(Event::Client { conn, msg });
                    }
                    // Chunks taken from the front as they go: splitting the rest off each
                    // time would copy it once per chunk (quadratic in the submission).
                    let mut tasks = tasks.into_iter();
                    while tasks.len() > 0 {
                        let chunk: Vec<NewTask> = tasks.by_ref().take(SUBMIT_CHUNK).collect();
                        let (ack, done) = oneshot::channel();
                        let last = tasks.len() == 0 && !more;
                        if events.send(Event::Chunk { conn, tasks: chunk, last, ack }).is_err() || done.await.is_err() {
                            return;
                        }
                    }
                    continue;
                }
                Ok(Some(msg)) => Event::Client { conn, msg },
                Ok(None) => break None,
                Err(e) => break dropped_reason(e),
            }
        } else {
            let read = tokio::select! {
                read = read_msg::<FromDistWorker>(&mut rd, MAX_WORKER_FRAME) => read,
                _ = &mut writer_gone => break None,
            };
            match read {
                Ok(Some(msg)) => Event::Worker { conn, msg },
                Ok(None) => break None,
                Err(e) => break dropped_reason(e),
            }
        };
        if events.send(event).is_err() {
            return;
        }
    };
    if let Some(why) = &why {
        tracing::warn!("dropped {peer}: {why}");
    }
    let _ = events.send(Event::Left { conn });
}

/// Why a connection ended, if it deserves a log line: a peer that vanished (reset, broken pipe)
/// is ordinary, a malformed frame is not.
fn dropped_reason(e: DistError) -> Option<String> {
    match &e {
        DistError::Io(io)
            if matches!(io.kind(), std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe) =>
        {
            None
        }
        _ => Some(e.to_string()),
    }
}

async fn actor(mut inbox: UnboundedReceiver<Event>, timeouts: Timeouts, address: String) {
    let mut state = State::default();
    state.address = address;
    let mut clients: FxHashMap<ClientId, UnboundedSender<Outgoing>> = FxHashMap::default();
    let mut workers: FxHashMap<WorkerId, UnboundedSender<Outgoing>> = FxHashMap::default();
    let mut was_idle = true;
    let mut last_tick = Instant::now();
    while let Some(first) = inbox.recv().await {
        let mut event = Some(first);
        let mut handled = 0;
        while let Some(e) = event.take() {
            let heavy = matches!(e, Event::Chunk { .. });
            handle(&mut state, &mut clients, &mut workers, e, &timeouts, &mut last_tick);
            handled += 1;
            // After a chunk of a submission, flush: its first tasks start at once.
            if handled < EVENTS_PER_ROUND && !heavy {
                event = inbox.try_recv().ok();
            }
        }
        flush(&mut state, &clients, &mut workers);
        // Became idle: the task tables were dropped; let the allocator return their pages.
        let idle = state.is_idle();
        if idle && !was_idle {
            crate::release_memory();
        }
        was_idle = idle;
    }
}

/// Why the loop read no tick for a while.
#[derive(Debug, PartialEq, Eq)]
enum Stall {
    /// Ticks were sent on time and waited in the inbox behind other events.
    Busy,
    /// Ticks were not even sent: the whole process stood still.
    Stopped,
}

impl Stall {
    /// Of a `gap` between two handled ticks, the second of which waited `latency` in the
    /// inbox; `None` if the gap is no stall.
    fn of(gap: Duration, latency: Duration) -> Option<Stall> {
        match gap {
            gap if gap <= STALLED_TICK => None,
            gap if latency * 2 > gap => Some(Stall::Busy),
            _ => Some(Stall::Stopped),
        }
    }
}

fn handle(
    state: &mut State,
    clients: &mut FxHashMap<ClientId, UnboundedSender<Outgoing>>,
    workers: &mut FxHashMap<WorkerId, UnboundedSender<Outgoing>>,
    event: Event,
    timeouts: &Timeouts,
    last_tick: &mut Instant,
) {
    match event {
        Event::Observe(Query::Stats(reply)) => {
            let _ = reply.send(state.stats());
        }
        Event::Observe(Query::Stream { since, reply }) => {
            let _ = reply.send(state.task_stream(since));
        }
        Event::Observe(Query::Samples { since_us, reply }) => {
            let _ = reply.send(state.worker_samples(since_us));
        }
        Event::Tick(sent) => {
            let now = Instant::now();
            let latency = now.saturating_duration_since(sent);
            state.set_loop_latency(latency);
            // Ticks come every second. A long gap means the loop could not read its inbox:
            // the workers' heartbeats are waiting unread, so their silence proves nothing.
            // A tick that waited long in the inbox says the loop was busy (a backlog of
            // events: a submission of millions of tasks, say); one sent late, that this
            // process was stopped.
            let gap = now.duration_since(std::mem::replace(last_tick, now));
            if let Some(stall) = Stall::of(gap, latency) {
                match stall {
                    Stall::Busy => tracing::info!(
                        "the event loop was busy for {gap:?} (ticks waited {latency:?} behind other events): \
                         not expiring workers this round"
                    ),
                    Stall::Stopped => tracing::warn!("stalled for {gap:?} (stopped?): not expiring workers this round"),
                }
                state.forgive_silence(now);
            }
            for w in state.expire_silent_workers(now, timeouts.heartbeat) {
                let silence = timeouts.heartbeat;
                tracing::warn!("worker {w} silent for {silence:?}: declared dead, fenced");
                // Fenced: told why, then cut off; anything it sends meanwhile is ignored.
                if let Some(tx) = workers.remove(&w) {
                    let reason = format!(
                        "the scheduler declared this worker dead after {silence:?} without a message \
                         (stopped, hung or cut off); its tasks were given to other workers"
                    );
                    let _ = tx.send(Outgoing::Worker(ToDistWorker::Exit { reason }));
                }
            }
            let erred = state.expire_without_workers(now, timeouts.no_workers);
            if erred > 0 {
                tracing::warn!("no workers for {:?}: {erred} waiting tasks erred", timeouts.no_workers);
            }
            for tx in clients.values() {
                let _ = tx.send(Outgoing::Client(ToClient::Ping));
            }
            for tx in workers.values() {
                let _ = tx.send(Outgoing::Worker(ToDistWorker::Ping));
            }
        }
        Event::Joined { conn, role: Role::Client, tx } => {
            clients.insert(conn, tx);
            state.add_client(conn);
        }
        Event::Joined { conn, role: Role::Worker { data_addr, nthreads, memory_limit, resources }, tx } => {
            workers.insert(conn, tx);
            tracing::info!("worker {conn} joined: {data_addr}, {nthreads} threads");
            state.add_worker(conn, data_addr, nthreads as usize, memory_limit, resources);
        }
        Event::Joined { role: Role::Peer, .. } => {}
        Event::Left { conn, .. } => {
            if clients.remove(&conn).is_some() {
                state.remove_client(conn);
            }
            if workers.remove(&conn).is_some() {
                tracing::info!("worker {conn} left: its connection closed");
                state.remove_worker(conn);
            }
        }
        Event::Chunk { conn, tasks, last, ack } => {
            state.submit_chunk(conn, tasks, last);
            let _ = ack.send(());
        }
        Event::Client { conn, msg } => match msg {
            ClientMsg::Submit { tasks, wanted, .. } => {
                if !wanted.is_empty() {
                    state.want(conn, &wanted);
                }
                if !tasks.is_empty() {
                    state.submit(conn, tasks);
                }
            }
            ClientMsg::Release { keys } => state.release(conn, &keys),
            ClientMsg::Cancel { keys } => state.cancel(conn, &keys),
            ClientMsg::FireAndForget { keys } => state.fire_and_forget(&keys),
            ClientMsg::Coord { id, op } => state.coordinate(conn, id, op),
            ClientMsg::CoordCancel { id } => state.coordinate_cancel(conn, id),
            ClientMsg::Scatter { items, broadcast } => state.scatter(conn, items, broadcast),
            ClientMsg::Replicate { keys, n } => state.replicate(conn, keys, n),
            ClientMsg::Rebalance => state.rebalance(conn),
            ClientMsg::RetireWorkers { addrs } => state.retire_workers(conn, &addrs),
            ClientMsg::Restart => state.restart(conn),
            ClientMsg::HasWhat => {
                let workers = state.has_what();
                state.out.to_clients.push((conn, ToClient::HasWhat { workers }));
            }
            ClientMsg::WhoHas { keys } => {
                let holders = state.who_has(&keys);
                state.out.to_clients.push((conn, ToClient::WhoHas { holders }));
            }
            ClientMsg::Stats => {
                let stats = Box::new(state.stats());
                state.out.to_clients.push((conn, ToClient::Stats(stats)));
            }
            ClientMsg::TaskStream { since } => {
                let (events, next) = state.task_stream(since);
                state.out.to_clients.push((conn, ToClient::TaskStream { events, next }));
            }
            ClientMsg::WorkerSamples { since_us } => {
                let samples = state.worker_samples(since_us);
                state.out.to_clients.push((conn, ToClient::WorkerSamples { samples }));
            }
        },
        // A fenced worker's late messages are ignored: its tasks belong to others now.
        Event::Worker { conn, .. } if !workers.contains_key(&conn) => {}
        Event::Worker { conn, msg } => {
            state.seen(conn, Instant::now());
            worker_message(state, conn, msg)
        }
    }
}

fn worker_message(state: &mut State, conn: WorkerId, msg: FromDistWorker) {
    match msg {
        FromDistWorker::Done { tasks } => state.done(conn, tasks),
        FromDistWorker::Erred { key, failure } => state.erred(conn, &key, failure),
        FromDistWorker::Missing { key, dep, failed } => state.missing(conn, &key, &dep, &failed),
        FromDistWorker::Stolen { keys } => state.stolen(conn, &keys),
        FromDistWorker::Seceded { key } => state.seceded(conn, &key),
        FromDistWorker::Stored { items, failed } => state.stored(conn, items, &failed),
        FromDistWorker::Retire => state.retire_self(conn),
        FromDistWorker::Heartbeat {
            bytes_in_memory,
            bytes_spilled,
            paused,
            fetched_by_reference,
            fetched_by_copy,
            metrics,
            ..
        } => {
            let report = state::WorkerReport {
                bytes_in_memory,
                bytes_spilled,
                paused,
                fetched_by_reference,
                fetched_by_copy,
                metrics,
            };
            state.heartbeat(conn, report)
        }
    }
}

fn flush(
    state: &mut State,
    clients: &FxHashMap<ClientId, UnboundedSender<Outgoing>>,
    workers: &mut FxHashMap<WorkerId, UnboundedSender<Outgoing>>,
) {
    state.progress_due(Instant::now());
    state.progress_retirements();
    let out = std::mem::take(&mut state.out);
    let send = |to: &FxHashMap<u32, UnboundedSender<Outgoing>>, id: u32, msg: Outgoing| {
        if let Some(tx) = to.get(&id) {
            let _ = tx.send(msg);
        }
    };
    // Releases first: a key released and submitted again in the same round must not have its
    // new result dropped by the old release.
    for (w, keys) in out.release {
        send(workers, w, Outgoing::Worker(ToDistWorker::Release { keys }));
    }
    // Retired workers are cut off like fenced ones: told to leave, their late messages ignored.
    for w in out.retired {
        if let Some(tx) = workers.remove(&w) {
            let _ = tx.send(Outgoing::Worker(ToDistWorker::Retired));
        }
    }
    for w in out.restart {
        if let Some(tx) = workers.remove(&w) {
            let _ = tx.send(Outgoing::Worker(ToDistWorker::Restart));
        }
    }
    for (w, items) in out.store {
        for items in conn::in_batches(items, STORE_BATCH) {
            send(workers, w, Outgoing::Worker(ToDistWorker::Store { items }));
        }
    }
    for (w, items) in out.fetch {
        send(workers, w, Outgoing::Worker(ToDistWorker::Fetch { items }));
    }
    for (w, keys) in out.steal {
        send(workers, w, Outgoing::Worker(ToDistWorker::Steal { keys }));
    }
    for (w, tasks) in out.compute {
        send(workers, w, Outgoing::Worker(ToDistWorker::Compute { tasks }));
    }
    // Progress before results: a client's final count arrives before the results it counts.
    for (c, msg) in out.progress.into_iter().chain(out.coord) {
        send(clients, c, Outgoing::Client(msg));
    }
    for (c, keys) in out.finished {
        send(clients, c, Outgoing::Client(ToClient::Finished { keys }));
    }
    for (c, msg) in out.to_clients {
        send(clients, c, Outgoing::Client(msg));
    }
}

/// The most bytes of scattered values sent to a worker in one message.
const STORE_BATCH: usize = 64 << 20;

/// A connection's writer gathers queued messages into one write up to this many bytes.
const COALESCE_BYTES: usize = 1 << 20;

/// Dask's dashboard port: tried first, and a free one taken if it is in use.
pub const DEFAULT_DASHBOARD_PORT: u16 = 8787;

/// How a scheduler is started: its security, its dashboard, its deadlines.
#[derive(Clone, Debug, Default)]
pub struct SchedulerOptions {
    /// The shared secret every client and worker must prove it knows (`RASK_SECRET`), and TLS
    /// (`--tls-cert`/`--tls-key`, and `--tls-ca` for mutual TLS).
    pub security: Security,
    /// `HOST:PORT` for the dashboard, if any. If that port is taken, a free port on the same
    /// host is used instead (as Dask does): [`SchedulerThread::dashboard_addr`] says which.
    pub dashboard: Option<String>,
    pub timeouts: Timeouts,
}

/// A scheduler serving on a thread of its own (for `LocalCluster`, `rask scheduler` and
/// tests). It serves until [`SchedulerThread::stop`] or the end of the process.
pub struct SchedulerThread {
    addr: SocketAddr,
    scheme: &'static str,
    dashboard: Option<SocketAddr>,
    stop: std::sync::Mutex<Option<oneshot::Sender<()>>>,
}

impl SchedulerThread {
    /// Binds `addr` (port 0 for any) and serves in the background, with no dashboard and the
    /// deadlines of the environment ([`Timeouts::from_env`]).
    pub fn start(addr: &str, secret: Option<Vec<u8>>) -> Result<SchedulerThread, DistError> {
        let security = match secret {
            Some(secret) => Security::none().with_secret(secret),
            None => Security::none(),
        };
        SchedulerThread::start_with(
            addr,
            SchedulerOptions { security, dashboard: None, timeouts: Timeouts::from_env() },
        )
    }

    /// Binds `addr` and serves with `options`.
    pub fn start_with(addr: &str, options: SchedulerOptions) -> Result<SchedulerThread, DistError> {
        crate::raise_fd_limit();
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let local = listener.local_addr()?;
        let dashboard = options.dashboard.as_deref().map(bind_or_any).transpose()?;
        let dashboard_addr = dashboard.as_ref().map(|l| l.local_addr()).transpose()?;
        let security = options.security;
        if let Some(tls) = security.tls() {
            tls.server()?;
        }
        let scheme = security.scheme();
        let timeouts = options.timeouts;
        let (stop, stopped) = oneshot::channel::<()>();
        std::thread::Builder::new().name("rask-scheduler".into()).spawn(move || {
            // Two threads: decoding a large submission must not stall the actor.
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a tokio runtime");
            let span = tracing::info_span!("scheduler", addr = %local);
            runtime.block_on(tracing::Instrument::instrument(
                async move {
                    let listener = TcpListener::from_std(listener).expect("a tokio listener");
                    let dashboard = dashboard.map(|l| TcpListener::from_std(l).expect("a tokio listener"));
                    tokio::select! {
                        served = serve(listener, security, dashboard, timeouts) => {
                            if let Err(e) = served {
                                tracing::error!("scheduler stopped: {e}");
                            }
                        }
                        _ = stopped => tracing::debug!("scheduler stopped"),
                    }
                },
                span,
            ));
            // Dropping the runtime ends every connection and closes both listeners.
            runtime.shutdown_background();
        })?;
        Ok(SchedulerThread { addr: local, scheme, dashboard: dashboard_addr, stop: std::sync::Mutex::new(Some(stop)) })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `tcp://HOST:PORT`, or `tls://HOST:PORT` when it serves TLS.
    pub fn address(&self) -> String {
        format!("{}{}", self.scheme, self.addr)
    }

    pub fn dashboard_addr(&self) -> Option<SocketAddr> {
        self.dashboard
    }

    /// `http://HOST:PORT/status` (`https://` when the scheduler serves TLS), if it has a
    /// dashboard.
    pub fn dashboard_url(&self) -> Option<String> {
        let web = if self.scheme == "tls://" { "https" } else { "http" };
        self.dashboard.map(|d| format!("{web}://{d}/status"))
    }

    /// Stops serving: connections close, ports are freed. Idempotent.
    pub fn stop(&self) {
        if let Some(stop) = self.stop.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = stop.send(());
        }
    }
}

/// Binds `HOST:PORT`, or `HOST:0` if that port is taken.
fn bind_or_any(addr: &str) -> Result<std::net::TcpListener, DistError> {
    let listener = match std::net::TcpListener::bind(addr) {
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
            let any = std::net::TcpListener::bind((host.trim_matches(['[', ']']), 0))?;
            tracing::info!("dashboard port of {addr} is taken: serving it on {} instead", any.local_addr()?);
            any
        }
        other => other?,
    };
    listener.set_nonblocking(true)?;
    Ok(listener)
}
