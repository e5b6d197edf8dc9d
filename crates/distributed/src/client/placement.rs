//! Data placement from the client: values scattered onto workers without a task, results
//! copied (`replicate`) or moved (`rebalance`, `retire_workers`), where everything is
//! (`who_has`, `has_what`), and `restart`, which drops it all. The scheduler decides where
//! (`scheduler/state/data.rs`); workers copy from each other directly, so the bytes never
//! pass through the scheduler after the scatter.

use rask_graph::{Key, Value};
use rask_protocol::dist::{ClientMsg, ToClient};

use super::{Client, Future, Outgoing};
use crate::DistError;

impl Client {
    /// Places `values` on workers without a task — each on the worker holding least, or with
    /// `broadcast` on every worker — and returns their futures once they are stored. Pass
    /// the futures to tasks like any result: a large input is sent once, not with each task.
    /// The values pass through the scheduler once, so each must fit a frame.
    pub fn scatter(&self, values: impl IntoIterator<Item = Value>, broadcast: bool) -> Result<Vec<Future>, DistError> {
        self.block_on(self.scatter_async(values, broadcast))
    }

    /// Copies these (finished) results until each is held by `n` workers (every worker, if
    /// there are fewer), and returns once the copies have landed: where each is now.
    pub fn replicate(&self, futures: &[Future], n: u32) -> Result<Vec<(Key, Vec<String>)>, DistError> {
        self.block_on(self.replicate_async(futures, n))
    }

    /// Moves results from workers holding more bytes than the mean to those holding less
    /// (results an unfinished task is reading stay put), and returns once the moves have
    /// landed: each worker's keys afterwards.
    pub fn rebalance(&self) -> Result<Vec<(String, Vec<Key>)>, DistError> {
        self.block_on(self.rebalance_async())
    }

    /// The data addresses of the workers holding each future's result (none while it is not
    /// computed).
    pub fn who_has(&self, futures: &[Future]) -> Result<Vec<(Key, Vec<String>)>, DistError> {
        self.block_on(self.who_has_async(futures))
    }

    /// Every worker's data address and the keys it holds, in the order the workers joined.
    pub fn has_what(&self) -> Result<Vec<(String, Vec<Key>)>, DistError> {
        self.block_on(self.has_what_async())
    }

    /// Retires the workers at these data addresses (or on these hosts) gracefully: they get
    /// no new tasks, finish what they run, hand their results to the other workers, then
    /// leave — nothing is lost or recomputed. Returns the addresses retired, once they are
    /// gone; an error if no other worker would be left to take their results.
    pub fn retire_workers(&self, addrs: &[String]) -> Result<Vec<String>, DistError> {
        self.block_on(self.retire_workers_async(addrs))
    }

    /// Restarts the cluster (Dask's `Client.restart`): every task is dropped — the futures of
    /// every client err, saying so — and every worker starts afresh (a worker process
    /// re-executes itself, same pid, and joins again). Returns once as many workers have
    /// joined as before; an error if they have not within a minute.
    pub fn restart(&self) -> Result<(), DistError> {
        self.block_on(self.restart_async())
    }

    pub(super) fn restart_async(&self) -> impl std::future::Future<Output = Result<(), DistError>> + Send + 'static {
        const DEADLINE: std::time::Duration = std::time::Duration::from_secs(60);
        let inner = self.inner.clone();
        self.on_runtime(async move {
            let before = match inner.request(ClientMsg::Restart).await? {
                ToClient::Restarted { workers } => workers,
                other => return Err(DistError::Protocol(format!("expected restarted, got {other:?}"))),
            };
            let deadline = tokio::time::Instant::now() + DEADLINE;
            loop {
                let joined = inner.stats().await?.workers;
                if joined >= before {
                    return Ok(());
                }
                if tokio::time::Instant::now() >= deadline {
                    return Err(DistError::TimedOut(format!(
                        "restart: {joined} of {before} workers joined again within {DEADLINE:?}"
                    )));
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        })
    }

    pub(super) async fn retire_workers_async(&self, addrs: &[String]) -> Result<Vec<String>, DistError> {
        match self.inner.request(ClientMsg::RetireWorkers { addrs: addrs.to_vec() }).await? {
            ToClient::Retired { workers, refused: None } => Ok(workers),
            ToClient::Retired { refused: Some(why), .. } => Err(DistError::Protocol(format!("retire_workers: {why}"))),
            other => Err(DistError::Protocol(format!("expected retired, got {other:?}"))),
        }
    }

    pub(super) async fn scatter_async(
        &self,
        values: impl IntoIterator<Item = Value>,
        broadcast: bool,
    ) -> Result<Vec<Future>, DistError> {
        let items: Vec<(Key, Value)> = values.into_iter().map(|v| (self.fresh_key("scatter"), v)).collect();
        // A value too large for one message is refused here, not by the scheduler (which
        // would drop the connection); the rest go in messages of a few tens of MiB.
        if let Some((i, (_, v))) = items.iter().enumerate().find(|(_, (_, v))| v.nbytes() > SCATTER_LIMIT) {
            return Err(DistError::Protocol(format!(
                "scatter: value {i} is {} MiB, over the {} MiB a message may carry; write it to a file \
                 and load it in a task instead",
                v.nbytes() >> 20,
                SCATTER_LIMIT >> 20
            )));
        }
        let keys: Vec<Key> = items.iter().map(|(k, _)| k.clone()).collect();
        let futures = self.hold(&keys);
        for items in crate::conn::in_batches(items, SCATTER_BATCH) {
            self.send_msg(ClientMsg::Scatter { items, broadcast })?;
        }
        self.inner.wait_keys(&keys, |_| {}).await?;
        Ok(futures)
    }

    pub(super) async fn replicate_async(
        &self,
        futures: &[Future],
        n: u32,
    ) -> Result<Vec<(Key, Vec<String>)>, DistError> {
        let keys: Vec<Key> = futures.iter().map(|f| f.key.clone()).collect();
        self.inner.wait_keys(&keys, |_| {}).await?;
        holders(self.inner.request(ClientMsg::Replicate { keys, n }).await?)
    }

    pub(super) async fn rebalance_async(&self) -> Result<Vec<(String, Vec<Key>)>, DistError> {
        placement(self.inner.request(ClientMsg::Rebalance).await?)
    }

    pub(super) async fn who_has_async(&self, futures: &[Future]) -> Result<Vec<(Key, Vec<String>)>, DistError> {
        let keys = futures.iter().map(|f| f.key.clone()).collect();
        holders(self.inner.request(ClientMsg::WhoHas { keys }).await?)
    }

    pub(super) async fn has_what_async(&self) -> Result<Vec<(String, Vec<Key>)>, DistError> {
        placement(self.inner.request(ClientMsg::HasWhat).await?)
    }
}

/// The largest value `scatter` takes: a worker reads messages of up to 512 MiB.
const SCATTER_LIMIT: usize = 448 << 20;
/// Scattered values are sent in messages of about this many bytes.
const SCATTER_BATCH: usize = 32 << 20;

impl Client {
    fn send_msg(&self, msg: ClientMsg) -> Result<(), DistError> {
        self.inner.tx.send(Outgoing::Msg(msg)).map_err(|_| DistError::Closed("client writer stopped".into()))
    }
}

fn holders(reply: ToClient) -> Result<Vec<(Key, Vec<String>)>, DistError> {
    match reply {
        ToClient::WhoHas { holders } => Ok(holders),
        other => Err(DistError::Protocol(format!("expected who-has, got {other:?}"))),
    }
}

fn placement(reply: ToClient) -> Result<Vec<(String, Vec<Key>)>, DistError> {
    match reply {
        ToClient::HasWhat { workers } => Ok(workers),
        other => Err(DistError::Protocol(format!("expected has-what, got {other:?}"))),
    }
}
