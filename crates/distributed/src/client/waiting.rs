//! Everything a client waits for, written once as `async` code: futures finishing, replies to
//! requests, coordination answers, results fetched from workers. The blocking [`Client`]
//! runs these on its own runtime (`block_on`); [`crate::AsyncClient`] awaits them from the
//! caller's executor, spawned onto that same runtime, so the caller needs no particular
//! runtime (timers and sockets are the client's).
//!
//! The connection's reader task updates the [`Board`] and bumps its version; waiters hold a
//! `watch` receiver and look again at each bump, so no wake-up is lost between a look and
//! the wait.

use std::time::Duration;

use rask_graph::{Key, Value};
use rask_protocol::coord::{CoordAnswer, CoordItem, CoordOp};
use rask_protocol::dist::{ClientMsg, ToClient};
use rustc_hash::FxHashMap;
use tokio::sync::{oneshot, watch};

use super::{task_error, AsCompleted, Board, Client, Future, Inner, Outgoing, Shared, Status};
use crate::DistError;

impl Board {
    pub(super) fn new() -> Board {
        Board {
            shared: std::sync::Mutex::new(Shared::default()),
            version: watch::Sender::new(0),
            tx: std::sync::OnceLock::new(),
        }
    }

    fn bump(&self) {
        self.version.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// The connection ended: every wait fails with `why` from now on.
    pub(super) fn close(&self, why: String) {
        let mut shared = self.shared.lock().unwrap_or_else(|e| e.into_inner());
        shared.closed = Some(why);
        // Dropping the senders fails the requests waiting for replies.
        shared.reply_waiters.clear();
        drop(shared);
        self.bump();
    }

    pub(super) fn receive(&self, msg: ToClient) {
        let mut shared = self.shared.lock().expect("client state");
        match msg {
            ToClient::Finished { keys } => {
                for k in keys {
                    if let Some(s) = shared.status.get_mut(&k) {
                        *s = Status::Finished;
                    }
                }
            }
            ToClient::Erred { key, error, cause } => {
                if let Some(s) = shared.status.get_mut(&key) {
                    *s = Status::Erred(error, cause);
                }
            }
            ToClient::Ping => {}
            ToClient::Progress { done, total } => shared.progress = (done, total),
            ToClient::Coord { id, answer } => {
                // A future handed over: this client now wants it (the scheduler registered
                // that before answering). If it held the key already, one want is enough.
                if let CoordAnswer::Item(CoordItem::Future(key)) = &answer {
                    let held = shared.refs.contains_key(key);
                    *shared.refs.entry(key.clone()).or_insert(0) += 1;
                    shared.status.entry(key.clone()).or_insert(Status::Pending);
                    if held || shared.detached.contains(&id) {
                        let release = ClientMsg::Release { keys: vec![key.clone()] };
                        let _ = self.tx.get().map(|tx| tx.send(Outgoing::Msg(release)));
                    }
                }
                if !shared.detached.remove(&id) {
                    shared.coord_answers.insert(id, answer);
                }
            }
            reply => match shared.reply_waiters.pop_front() {
                Some(waiter) => {
                    let _ = waiter.send(reply);
                }
                None => tracing::warn!("a reply nobody asked for: {reply:?}"),
            },
        }
        drop(shared);
        self.bump();
    }

    /// Waits until `ready` finds what it looks for in the shared state.
    async fn until<T>(&self, mut ready: impl FnMut(&mut Shared) -> Option<T>) -> T {
        let mut version = self.version.subscribe();
        loop {
            if let Some(found) = ready(&mut self.shared.lock().expect("client state")) {
                return found;
            }
            // The sender lives as long as the board, which outlives this borrow.
            let _ = version.changed().await;
        }
    }
}

impl Inner {
    pub(super) fn rt(&self) -> &tokio::runtime::Runtime {
        self.runtime.as_ref().expect("the runtime lives until the last handle is dropped")
    }

    /// Waits until every key has finished; the first error, if any, is returned.
    /// `on_progress` sees (done, total) of this client whenever the scheduler reports it.
    pub(super) async fn wait_keys(
        &self,
        keys: &[Key],
        mut on_progress: impl FnMut((u64, u64)),
    ) -> Result<(), DistError> {
        let mut reported = None;
        for key in keys {
            self.board
                .until(|shared| {
                    if reported != Some(shared.progress) {
                        reported = Some(shared.progress);
                        on_progress(shared.progress);
                    }
                    match shared.status.get(key) {
                        Some(Status::Finished) => Some(Ok(())),
                        Some(Status::Erred(e, cause)) => Some(Err(task_error(e, cause.clone()))),
                        _ => shared.closed.as_ref().map(|why| Err(DistError::Closed(why.clone()))),
                    }
                })
                .await?;
        }
        Ok(())
    }

    /// Sends `msg` and waits for its reply (the scheduler answers requests in order).
    pub(super) async fn request(&self, msg: ClientMsg) -> Result<ToClient, DistError> {
        let reply = {
            let mut shared = self.board.shared.lock().expect("client state");
            if let Some(why) = &shared.closed {
                return Err(DistError::Closed(why.clone()));
            }
            let (tx, rx) = oneshot::channel();
            // Queued and sent under one lock, so waiters are in the order of their requests.
            shared.reply_waiters.push_back(tx);
            if self.tx.send(Outgoing::Msg(msg)).is_err() {
                shared.reply_waiters.pop_back();
                return Err(DistError::Closed("client writer stopped".into()));
            }
            rx
        };
        reply.await.map_err(|_| {
            let why = self.board.shared.lock().expect("client state").closed.clone();
            DistError::Closed(why.unwrap_or_else(|| "the connection ended".into()))
        })
    }

    /// The scheduler's stats.
    pub(super) async fn stats(&self) -> Result<rask_protocol::dist::SchedulerStats, DistError> {
        match self.request(ClientMsg::Stats).await? {
            ToClient::Stats(s) => Ok(*s),
            other => Err(DistError::Protocol(format!("expected stats, got {other:?}"))),
        }
    }

    /// Sends coordination request `op` and waits for its answer; past `timeout` the request
    /// is withdrawn (the answer is then `TimedOut`, unless it was served meanwhile). Runs on
    /// the client's runtime (it needs its timer).
    pub(super) async fn coordinate(
        &self,
        op: CoordOp,
        timeout: Option<Duration>,
    ) -> Result<(u64, CoordAnswer), DistError> {
        let id = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut version = self.board.version.subscribe();
        self.tx
            .send(Outgoing::Msg(ClientMsg::Coord { id, op }))
            .map_err(|_| DistError::Closed("client writer stopped".into()))?;
        let mut deadline = timeout.map(|t| tokio::time::Instant::now() + t);
        loop {
            {
                let mut shared = self.board.shared.lock().expect("client state");
                if let Some(answer) = shared.coord_answers.remove(&id) {
                    return Ok((id, answer));
                }
                if let Some(why) = &shared.closed {
                    return Err(DistError::Closed(why.clone()));
                }
            }
            match deadline {
                Some(at) => tokio::select! {
                    _ = version.changed() => {}
                    _ = tokio::time::sleep_until(at) => {
                        // Withdrawn; the scheduler still answers, with `TimedOut` or the item
                        // it handed out just before.
                        deadline = None;
                        let _ = self.tx.send(Outgoing::Msg(ClientMsg::CoordCancel { id }));
                    }
                },
                None => {
                    let _ = version.changed().await;
                }
            }
        }
    }

    /// Sends coordination request `op` without waiting: its answer is dropped on arrival.
    pub(super) fn coordinate_detached(&self, op: CoordOp) {
        let id = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.board.shared.lock().expect("client state").detached.insert(id);
        let _ = self.tx.send(Outgoing::Msg(ClientMsg::Coord { id, op }));
    }

    /// Waits for `keys`, then fetches their values from the workers that hold them.
    pub(super) async fn gather(&self, keys: Vec<Key>) -> Result<Vec<Value>, DistError> {
        self.wait_keys(&keys, |_| {}).await?;
        let holders = match self.request(ClientMsg::WhoHas { keys: keys.clone() }).await? {
            ToClient::WhoHas { holders } => holders,
            other => return Err(DistError::Protocol(format!("expected who-has, got {other:?}"))),
        };
        let mut by_worker: FxHashMap<String, Vec<Key>> = FxHashMap::default();
        for (key, addrs) in holders {
            let addr = addrs.into_iter().next().ok_or_else(|| DistError::Task(format!("no worker holds {key}")))?;
            by_worker.entry(addr).or_default().push(key);
        }
        let mut values: FxHashMap<Key, Value> = FxHashMap::default();
        for (addr, keys) in by_worker {
            for (key, value) in self.peers.fetch(&addr, keys).await? {
                let value = value.ok_or_else(|| DistError::Task(format!("{addr} no longer holds {key}")))?;
                values.insert(key, value);
            }
        }
        Ok(keys.iter().map(|k| values[k].clone()).collect())
    }

    /// The position in `pending` of a finished future (the first, if the connection ended).
    pub(super) async fn next_finished(&self, pending: &[Future]) -> usize {
        self.board
            .until(|shared| {
                let done =
                    pending.iter().position(|f| !matches!(shared.status.get(&f.key), Some(Status::Pending) | None));
                done.or(shared.closed.as_ref().map(|_| 0))
            })
            .await
    }
}

/// Inside a runtime, dropping one blocks on its threads: the last handle dropped from async
/// code (an `AsyncClient`'s caller, or the client's own reader) lets them finish on their own.
impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            if tokio::runtime::Handle::try_current().is_ok() {
                runtime.shutdown_background();
            }
        }
    }
}

impl Client {
    /// Runs `work` to the end on the client's runtime, from a thread outside any runtime.
    pub(crate) fn block_on<T>(&self, work: impl std::future::Future<Output = T>) -> T {
        self.inner.rt().block_on(work)
    }

    /// Runs `work` on the client's runtime; the returned future may be awaited anywhere.
    pub(crate) fn on_runtime<T: Send + 'static>(
        &self,
        work: impl std::future::Future<Output = T> + Send + 'static,
    ) -> impl std::future::Future<Output = T> + Send + 'static {
        let task = self.inner.rt().spawn(work);
        async move {
            match task.await {
                Ok(out) => out,
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(e) => panic!("the client's runtime stopped: {e}"),
            }
        }
    }

    /// Waits for every future, then fetches the values from the workers that hold them.
    pub fn gather(&self, futures: &[Future]) -> Result<Vec<Value>, DistError> {
        self.block_on(self.inner.gather(futures.iter().map(|f| f.key.clone()).collect()))
    }

    /// Blocks until every future has finished; the first error, if any, is returned.
    pub fn wait(&self, futures: &[Future]) -> Result<(), DistError> {
        let keys: Vec<Key> = futures.iter().map(|f| f.key.clone()).collect();
        self.block_on(self.inner.wait_keys(&keys, |_| {}))
    }

    /// [`Client::wait`], reporting this client's progress since `start` as it arrives.
    pub(super) fn wait_reporting(
        &self,
        futures: &[Future],
        start: (u64, u64),
        progress: &dyn rask_exec::Progress,
    ) -> Result<(), DistError> {
        let keys: Vec<Key> = futures.iter().map(|f| f.key.clone()).collect();
        let report = |(done, total): (u64, u64)| {
            progress.update(done.saturating_sub(start.0) as usize, total.saturating_sub(start.1) as usize)
        };
        self.block_on(self.inner.wait_keys(&keys, report))
    }

    /// Sends coordination request `op` and waits for its answer (see [`Inner::coordinate`]);
    /// awaitable from any executor.
    pub(crate) fn coordinate_async(
        &self,
        op: CoordOp,
        timeout: Option<Duration>,
    ) -> impl std::future::Future<Output = Result<(u64, CoordAnswer), DistError>> + Send + 'static {
        let inner = self.inner.clone();
        self.on_runtime(async move { inner.coordinate(op, timeout).await })
    }

    /// Sends `op` and forgets it (releasing a lease from `Drop`, where nothing may block).
    pub(crate) fn coordinate_detached(&self, op: CoordOp) {
        self.inner.coordinate_detached(op)
    }
}

impl Iterator for AsCompleted {
    type Item = Future;

    fn next(&mut self) -> Option<Future> {
        if self.pending.is_empty() {
            return None;
        }
        let i = self.client.block_on(self.client.inner.next_finished(&self.pending));
        Some(self.pending.remove(i))
    }
}
