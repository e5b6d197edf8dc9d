//! The scheduler: accepts clients and workers over TCP and runs the [`state::State`] machine
//! on one task (an actor), so no lock guards the task table.
//!
//! Each connection has a reader task (decodes frames, forwards them as events) and a writer
//! task (encodes what the actor sends it). The actor handles every event that is waiting,
//! then flushes: one message per worker and per client per round, so a burst of a thousand
//! completions costs a handful of messages. A large submission arrives in chunks (dependencies
//! first), so other clients and workers are served between chunks.

pub mod state;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rask_protocol::dist::{ClientMsg, FromDistWorker, Role, SchedulerStats, TaskDef, ToClient, ToDistWorker};
use rustc_hash::FxHashMap;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

use self::state::{ClientId, State, WorkerId};
use crate::conn::{self, read_msg, write_msg_within, Accepting, MAX_FRAME, MAX_UNAUTHENTICATED, MAX_WORKER_FRAME};
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
    Tick,
    /// The dashboard asks for the counters.
    Stats(oneshot::Sender<SchedulerStats>),
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
        tasks: Vec<TaskDef>,
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

/// Serves on `listener` until the process ends.
pub async fn serve(
    listener: TcpListener,
    secret: Option<Arc<[u8]>>,
    dashboard: Option<TcpListener>,
    timeouts: Timeouts,
) -> Result<(), DistError> {
    let (events, inbox) = unbounded_channel();
    if let Some(dashboard) = dashboard {
        tokio::spawn(serve_dashboard(dashboard, events.clone()));
    }
    tokio::spawn(actor(inbox, timeouts));
    let ticks = events.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(1));
        // After a stall, one tick (which sees the gap), not a burst of them.
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            if ticks.send(Event::Tick).is_err() {
                return;
            }
        }
    });
    let mut next_conn = 0u32;
    let handshakes = Arc::new(Semaphore::new(MAX_UNAUTHENTICATED));
    let mut accepting = Accepting::new("rask scheduler");
    loop {
        let Some((stream, peer)) = accepting.next(&listener).await else { continue };
        let Ok(permit) = handshakes.clone().try_acquire_owned() else {
            accepting.refuse(peer, "too many connections are still in their handshake");
            continue;
        };
        let _ = stream.set_nodelay(true);
        next_conn += 1;
        tokio::spawn(connection(stream, peer, next_conn, events.clone(), secret.clone(), timeouts, permit));
    }
}

async fn connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    conn: u32,
    events: UnboundedSender<Event>,
    secret: Option<Arc<[u8]>>,
    timeouts: Timeouts,
    handshake: OwnedSemaphorePermit,
) {
    let accepted = conn::accept(&mut stream, secret.as_deref(), timeouts.connect).await;
    drop(handshake);
    let role = match accepted {
        Ok(Role::Peer) => {
            eprintln!("rask scheduler: refused {peer}: a data fetch sent to the scheduler");
            return;
        }
        Ok(role) => role,
        Err(e) => {
            eprintln!("rask scheduler: refused {peer}: {e}");
            return;
        }
    };
    let is_client = role == Role::Client;
    let (mut rd, mut wr) = stream.into_split();
    let (tx, mut rx) = unbounded_channel::<Outgoing>();
    if events.send(Event::Joined { conn, role, tx }).is_err() {
        return;
    }
    // When the writer ends (the peer stopped reading, or the actor cut it off), the reader
    // stops too: nothing it would read could be answered.
    let (writer_alive, mut writer_gone) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let _alive = writer_alive;
        while let Some(out) = rx.recv().await {
            let (sent, last) = match &out {
                Outgoing::Client(m) => (write_msg_within(&mut wr, m, timeouts.write).await, false),
                Outgoing::Worker(m) => {
                    (write_msg_within(&mut wr, m, timeouts.write).await, matches!(m, ToDistWorker::Exit { .. }))
                }
            };
            if sent.is_err() || last {
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
                Ok(Some(ClientMsg::Submit { tasks, wanted })) => {
                    // Wants first, so no result is released before its want arrives.
                    let _ = events.send(Event::Client { conn, msg: ClientMsg::Submit { tasks: Vec::new(), wanted } });
                    let mut tasks = tasks;
                    while !tasks.is_empty() {
                        let rest = tasks.split_off(tasks.len().min(SUBMIT_CHUNK));
                        let chunk = std::mem::replace(&mut tasks, rest);
                        let (ack, done) = oneshot::channel();
                        let last = tasks.is_empty();
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
        eprintln!("rask scheduler: dropped {peer}: {why}");
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

async fn actor(mut inbox: UnboundedReceiver<Event>, timeouts: Timeouts) {
    let mut state = State::default();
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
        flush(&mut state, &clients, &workers);
        // Became idle: the task tables were dropped; let the allocator return their pages.
        let idle = state.is_idle();
        if idle && !was_idle {
            crate::release_memory();
        }
        was_idle = idle;
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
        Event::Stats(reply) => {
            let _ = reply.send(state.stats());
        }
        Event::Tick => {
            let now = Instant::now();
            // Ticks come every second. A long gap means this process was stopped itself: the
            // workers' heartbeats are waiting unread, so their silence proves nothing.
            let gap = now.duration_since(std::mem::replace(last_tick, now));
            if gap > STALLED_TICK {
                eprintln!("rask scheduler: stalled for {gap:?} (stopped?): not expiring workers this round");
                state.forgive_silence(now);
            }
            for w in state.expire_silent_workers(now, timeouts.heartbeat) {
                let silence = timeouts.heartbeat;
                eprintln!("rask scheduler: worker {w} silent for {silence:?}: declared dead, fenced");
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
                eprintln!("rask scheduler: no workers for {:?}: {erred} waiting tasks erred", timeouts.no_workers);
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
        Event::Joined { conn, role: Role::Worker { data_addr, nthreads, .. }, tx } => {
            workers.insert(conn, tx);
            state.add_worker(conn, data_addr, nthreads as usize);
        }
        Event::Joined { role: Role::Peer, .. } => {}
        Event::Left { conn, .. } => {
            if clients.remove(&conn).is_some() {
                state.remove_client(conn);
            }
            if workers.remove(&conn).is_some() {
                state.remove_worker(conn);
            }
        }
        Event::Chunk { conn, tasks, last, ack } => {
            state.submit_chunk(conn, tasks, last);
            let _ = ack.send(());
        }
        Event::Client { conn, msg } => match msg {
            ClientMsg::Submit { tasks, wanted } => {
                if !wanted.is_empty() {
                    state.want(conn, &wanted);
                }
                if !tasks.is_empty() {
                    state.submit(conn, tasks);
                }
            }
            ClientMsg::Release { keys } => state.release(conn, &keys),
            ClientMsg::Cancel { keys } => state.cancel(conn, &keys),
            ClientMsg::WhoHas { keys } => {
                let holders = state.who_has(&keys);
                state.out.to_clients.push((conn, ToClient::WhoHas { holders }));
            }
            ClientMsg::Stats => {
                let stats = state.stats();
                state.out.to_clients.push((conn, ToClient::Stats(stats)));
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
        FromDistWorker::Heartbeat {
            bytes_in_memory,
            bytes_spilled,
            paused,
            fetched_by_reference,
            fetched_by_copy,
            ..
        } => {
            let report =
                state::WorkerReport { bytes_in_memory, bytes_spilled, paused, fetched_by_reference, fetched_by_copy };
            state.heartbeat(conn, report)
        }
    }
}

fn flush(
    state: &mut State,
    clients: &FxHashMap<ClientId, UnboundedSender<Outgoing>>,
    workers: &FxHashMap<WorkerId, UnboundedSender<Outgoing>>,
) {
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
    for (w, keys) in out.steal {
        send(workers, w, Outgoing::Worker(ToDistWorker::Steal { keys }));
    }
    for (w, tasks) in out.compute {
        send(workers, w, Outgoing::Worker(ToDistWorker::Compute { tasks }));
    }
    for (c, keys) in out.finished {
        send(clients, c, Outgoing::Client(ToClient::Finished { keys }));
    }
    for (c, msg) in out.to_clients {
        send(clients, c, Outgoing::Client(msg));
    }
}

/// A minimal status page: any HTTP request gets the scheduler's counters as JSON (for people
/// and for monitoring; no graphs, no control).
async fn serve_dashboard(listener: TcpListener, events: UnboundedSender<Event>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut accepting = Accepting::new("rask scheduler dashboard");
    loop {
        let Some((mut stream, _)) = accepting.next(&listener).await else { continue };
        let events = events.clone();
        tokio::spawn(async move {
            let mut request = [0u8; 1024];
            let _ = stream.read(&mut request).await;
            let (reply, stats) = oneshot::channel();
            if events.send(Event::Stats(reply)).is_err() {
                return;
            }
            let Ok(stats) = stats.await else { return };
            let body = serde_json::to_string(&stats).unwrap_or_default();
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
        });
    }
}

/// How a scheduler is started: its shared secret, its status page, its deadlines.
#[derive(Clone, Debug, Default)]
pub struct SchedulerOptions {
    /// Every client and worker must prove it knows this secret (`RASK_SECRET`).
    pub secret: Option<Vec<u8>>,
    /// `HOST:PORT` for the JSON status page, if any.
    pub dashboard: Option<String>,
    pub timeouts: Timeouts,
}

/// A scheduler serving on a thread of its own (for `LocalCluster` and tests).
pub struct SchedulerThread {
    addr: SocketAddr,
    dashboard: Option<SocketAddr>,
}

impl SchedulerThread {
    /// Binds `addr` (port 0 for any) and serves in the background until the process exits,
    /// with the deadlines of the environment ([`Timeouts::from_env`]).
    pub fn start(addr: &str, secret: Option<Vec<u8>>) -> Result<SchedulerThread, DistError> {
        SchedulerThread::start_with(addr, SchedulerOptions { secret, dashboard: None, timeouts: Timeouts::from_env() })
    }

    /// As [`SchedulerThread::start`], with the JSON status page on `dashboard` if given.
    pub fn start_with_dashboard(
        addr: &str,
        secret: Option<Vec<u8>>,
        dashboard: Option<&str>,
    ) -> Result<SchedulerThread, DistError> {
        let dashboard = dashboard.map(str::to_owned);
        SchedulerThread::start_with(addr, SchedulerOptions { secret, dashboard, timeouts: Timeouts::from_env() })
    }

    /// Binds `addr` and serves with `options`.
    pub fn start_with(addr: &str, options: SchedulerOptions) -> Result<SchedulerThread, DistError> {
        crate::raise_fd_limit();
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let local = listener.local_addr()?;
        let dashboard = match &options.dashboard {
            Some(d) => {
                let l = std::net::TcpListener::bind(d)?;
                l.set_nonblocking(true)?;
                Some(l)
            }
            None => None,
        };
        let dashboard_addr = dashboard.as_ref().map(|l| l.local_addr()).transpose()?;
        let secret: Option<Arc<[u8]>> = options.secret.map(Into::into);
        let timeouts = options.timeouts;
        std::thread::Builder::new().name("rask-scheduler".into()).spawn(move || {
            // Two threads: decoding a large submission must not stall the actor.
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a tokio runtime");
            runtime.block_on(async move {
                let listener = TcpListener::from_std(listener).expect("a tokio listener");
                let dashboard = dashboard.map(|l| TcpListener::from_std(l).expect("a tokio listener"));
                if let Err(e) = serve(listener, secret, dashboard, timeouts).await {
                    eprintln!("rask scheduler: {e}");
                }
            });
        })?;
        Ok(SchedulerThread { addr: local, dashboard: dashboard_addr })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn dashboard_addr(&self) -> Option<SocketAddr> {
        self.dashboard
    }
}
