//! [`AsyncClient`]: the client for async Rust. Calls that wait are `async fn`s, a
//! [`Future`] is `.await`able (its value), and [`AsyncClient::as_completed`] is a `Stream`.
//! Calls that never wait (submitting, cancelling, releasing) stay plain functions, as in
//! Dask's asynchronous client.
//!
//! It shares the blocking [`Client`]'s connection and state; work that needs a timer or a
//! socket runs on the client's own small runtime and is awaited from the caller's, so any
//! executor can drive it (tokio's current-thread runtime included) and no call blocks an
//! executor thread.
//!
//! ```no_run
//! # async fn demo() -> Result<(), rask_distributed::DistError> {
//! use rask_distributed::AsyncClient;
//! use rask_graph::Value;
//!
//! let client = AsyncClient::connect("127.0.0.1:8786").await?;
//! let x = client.submit("inc", [Value::Int(1).into()])?;
//! let y = client.submit("inc", [(&x).into()])?;
//! assert_eq!(y.await?, Value::Int(3));
//! # Ok(()) }
//! ```

use std::future::IntoFuture;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::Stream;
use rask_graph::{Annotations, Graph, Key, Value};
use rask_protocol::dist::{SchedulerStats, TaskEvent, WorkerSample};

use super::{Arg, Client, Future};
use crate::DistError;

/// A connection to a scheduler for async code: see the module docs (`rask_distributed::client::aio`).
#[derive(Clone, Debug)]
pub struct AsyncClient {
    client: Client,
}

type Boxed<T> = Pin<Box<dyn std::future::Future<Output = T> + Send + 'static>>;

impl AsyncClient {
    /// Connects to the scheduler at `HOST:PORT`, `tcp://HOST:PORT` or `tls://HOST:PORT`, with
    /// the secret and TLS files of the environment (as [`Client::connect`]).
    pub async fn connect(addr: &str) -> Result<AsyncClient, DistError> {
        AsyncClient::connect_secure(addr, crate::Security::from_env()?).await
    }

    /// As [`AsyncClient::connect`], proving the shared `secret` (if any), without TLS.
    pub async fn connect_with(addr: &str, secret: Option<Vec<u8>>) -> Result<AsyncClient, DistError> {
        let security = secret.map_or_else(crate::Security::none, |s| crate::Security::none().with_secret(s));
        AsyncClient::connect_secure(addr, security).await
    }

    /// As [`AsyncClient::connect`], with `security` (a secret, TLS, or both).
    pub async fn connect_secure(addr: &str, security: crate::Security) -> Result<AsyncClient, DistError> {
        // Connecting starts the client's runtime, which may not happen inside another one.
        let addr = addr.to_owned();
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("rask-connect".into())
            .spawn(move || drop(tx.send(Client::connect_secure(&addr, security))))?;
        let client = rx.await.map_err(|_| DistError::Closed("the connecting thread ended".into()))??;
        Ok(AsyncClient { client })
    }

    /// The blocking client on the same connection (for threads, and for the coordination
    /// primitives' constructors); futures from either work with both.
    pub fn blocking(&self) -> &Client {
        &self.client
    }

    /// Runs the registered function `func` on `args`; see [`Client::submit`].
    pub fn submit(&self, func: &str, args: impl IntoIterator<Item = Arg>) -> Result<Future, DistError> {
        self.client.submit(func, args)
    }

    /// As [`AsyncClient::submit`], with scheduling hints; see [`Client::submit_with`].
    pub fn submit_with(
        &self,
        func: &str,
        args: impl IntoIterator<Item = Arg>,
        hints: &Annotations,
    ) -> Result<Future, DistError> {
        self.client.submit_with(func, args, hints)
    }

    /// Under a key of the caller's choosing; see [`Client::submit_as`].
    pub fn submit_as(
        &self,
        key: Key,
        func: &str,
        args: impl IntoIterator<Item = Arg>,
        hints: &Annotations,
    ) -> Result<Future, DistError> {
        self.client.submit_as(key, func, args, hints)
    }

    pub fn map(&self, func: &str, items: impl IntoIterator<Item = Value>) -> Result<Vec<Future>, DistError> {
        self.client.map(func, items)
    }

    pub fn map_with(
        &self,
        func: &str,
        items: impl IntoIterator<Item = Value>,
        hints: &Annotations,
    ) -> Result<Vec<Future>, DistError> {
        self.client.map_with(func, items, hints)
    }

    /// Starts computing `keys`; see [`Client::persist`].
    pub fn persist(&self, graph: &Graph, keys: &[Key]) -> Result<Vec<Future>, DistError> {
        self.client.persist(graph, keys)
    }

    pub fn persist_with(&self, graph: &Graph, keys: &[Key], hints: &Annotations) -> Result<Vec<Future>, DistError> {
        self.client.persist_with(graph, keys, hints)
    }

    pub fn cancel(&self, futures: &[Future]) {
        self.client.cancel(futures)
    }

    pub fn fire_and_forget(&self, futures: &[Future]) {
        self.client.fire_and_forget(futures)
    }

    pub fn close(&self) {
        self.client.close()
    }

    /// Computes `keys` of `graph` and returns their values.
    pub async fn compute(&self, graph: &Graph, keys: &[Key]) -> Result<Vec<Value>, DistError> {
        let futures = self.client.persist(graph, keys)?;
        self.gather(&futures).await
    }

    pub async fn compute_with(
        &self,
        graph: &Graph,
        keys: &[Key],
        hints: &Annotations,
    ) -> Result<Vec<Value>, DistError> {
        let futures = self.client.persist_with(graph, keys, hints)?;
        self.gather(&futures).await
    }

    /// Waits for every future, then fetches the values from the workers holding them.
    pub async fn gather(&self, futures: &[Future]) -> Result<Vec<Value>, DistError> {
        gather(futures.to_vec()).await
    }

    /// Waits until every future has finished; the first error, if any, is returned.
    pub async fn wait(&self, futures: &[Future]) -> Result<(), DistError> {
        let keys: Vec<Key> = futures.iter().map(|f| f.key.clone()).collect();
        self.client.inner.wait_keys(&keys, |_| {}).await
    }

    /// The futures as they finish (successfully or not), as a `Stream`.
    pub fn as_completed(&self, futures: Vec<Future>) -> AsCompletedStream {
        let stream = futures_util::stream::unfold(futures, |mut pending| async move {
            let first = pending.first()?;
            let inner = first.inner.clone();
            let i = inner.next_finished(&pending).await;
            let done = pending.remove(i);
            Some((done, pending))
        });
        AsCompletedStream { stream: Box::pin(stream) }
    }

    /// Places `values` on workers; see [`Client::scatter`].
    pub async fn scatter(
        &self,
        values: impl IntoIterator<Item = Value>,
        broadcast: bool,
    ) -> Result<Vec<Future>, DistError> {
        self.client.scatter_async(values, broadcast).await
    }

    /// See [`Client::replicate`].
    pub async fn replicate(&self, futures: &[Future], n: u32) -> Result<Vec<(Key, Vec<String>)>, DistError> {
        self.client.replicate_async(futures, n).await
    }

    /// See [`Client::rebalance`].
    pub async fn rebalance(&self) -> Result<Vec<(String, Vec<Key>)>, DistError> {
        self.client.rebalance_async().await
    }

    /// See [`Client::restart`].
    pub async fn restart(&self) -> Result<(), DistError> {
        self.client.restart_async().await
    }

    /// See [`Client::retire_workers`].
    pub async fn retire_workers(&self, addrs: &[String]) -> Result<Vec<String>, DistError> {
        self.client.retire_workers_async(addrs).await
    }

    pub async fn who_has(&self, futures: &[Future]) -> Result<Vec<(Key, Vec<String>)>, DistError> {
        self.client.who_has_async(futures).await
    }

    pub async fn has_what(&self) -> Result<Vec<(String, Vec<Key>)>, DistError> {
        self.client.has_what_async().await
    }

    /// See [`Client::stats`].
    pub async fn stats(&self) -> Result<SchedulerStats, DistError> {
        self.client.stats_async().await
    }

    /// See [`Client::task_stream`].
    pub async fn task_stream(&self, since: u64) -> Result<(Vec<TaskEvent>, u64), DistError> {
        self.client.task_stream_async(since).await
    }

    /// See [`Client::worker_samples`].
    pub async fn worker_samples(&self, since_us: u64) -> Result<Vec<WorkerSample>, DistError> {
        self.client.worker_samples_async(since_us).await
    }
}

impl From<Client> for AsyncClient {
    fn from(client: Client) -> AsyncClient {
        AsyncClient { client }
    }
}

impl AsRef<Client> for AsyncClient {
    fn as_ref(&self) -> &Client {
        &self.client
    }
}

/// Fetches on the client's runtime (the sockets are its), holding the futures meanwhile so
/// their results are not released under the fetch.
fn gather(futures: Vec<Future>) -> Boxed<Result<Vec<Value>, DistError>> {
    let Some(first) = futures.first() else { return Box::pin(async { Ok(Vec::new()) }) };
    let client = Client { inner: first.inner.clone() };
    let inner = first.inner.clone();
    Box::pin(client.on_runtime(async move {
        let keys = futures.iter().map(|f| f.key.clone()).collect();
        inner.gather(keys).await
    }))
}

/// `future.await` is its value (the result fetched from the worker holding it).
impl IntoFuture for Future {
    type Output = Result<Value, DistError>;
    type IntoFuture = Boxed<Self::Output>;

    fn into_future(self) -> Self::IntoFuture {
        let values = gather(vec![self]);
        Box::pin(async move { values.await.map(|mut v| v.remove(0)) })
    }
}

impl IntoFuture for &Future {
    type Output = Result<Value, DistError>;
    type IntoFuture = Boxed<Self::Output>;

    fn into_future(self) -> Self::IntoFuture {
        self.clone().into_future()
    }
}

/// Futures in the order they finish: see [`AsyncClient::as_completed`].
pub struct AsCompletedStream {
    stream: Pin<Box<dyn Stream<Item = Future> + Send>>,
}

impl AsCompletedStream {
    /// The next future to finish; `None` when all have been given out.
    pub async fn next(&mut self) -> Option<Future> {
        std::future::poll_fn(|cx| self.stream.as_mut().poll_next(cx)).await
    }
}

impl Stream for AsCompletedStream {
    type Item = Future;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Future>> {
        self.stream.as_mut().poll_next(cx)
    }
}
