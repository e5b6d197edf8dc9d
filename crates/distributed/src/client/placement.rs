//! Data placement from the client: values scattered onto workers without a task, results
//! copied (`replicate`) or moved (`rebalance`), and where everything is (`who_has`,
//! `has_what`). The scheduler decides where (`scheduler/state/data.rs`); workers copy from
//! each other directly, so the bytes never pass through the scheduler after the scatter.

use rask_graph::{Key, Value};
use rask_protocol::dist::{ClientMsg, ToClient};

use super::{Client, Future, Outgoing, Status};
use crate::DistError;

impl Client {
    /// Places `values` on workers without a task — each on the worker holding least, or with
    /// `broadcast` on every worker — and returns their futures once they are stored. Pass
    /// the futures to tasks like any result: a large input is sent once, not with each task.
    /// The values pass through the scheduler once, so each must fit a frame.
    pub fn scatter(&self, values: impl IntoIterator<Item = Value>, broadcast: bool) -> Result<Vec<Future>, DistError> {
        let items: Vec<(Key, Value)> = values.into_iter().map(|v| (self.fresh_key("scatter"), v)).collect();
        let futures: Vec<Future> = {
            let mut shared = self.inner.board.shared.lock().expect("client state");
            items
                .iter()
                .map(|(k, _)| {
                    *shared.refs.entry(k.clone()).or_insert(0) += 1;
                    shared.status.entry(k.clone()).or_insert(Status::Pending);
                    Future { key: k.clone(), inner: self.inner.clone() }
                })
                .collect()
        };
        self.inner
            .tx
            .send(Outgoing::Msg(ClientMsg::Scatter { items, broadcast }))
            .map_err(|_| DistError::Closed("client writer stopped".into()))?;
        self.wait(&futures)?;
        Ok(futures)
    }

    /// Copies these (finished) results until each is held by `n` workers (every worker, if
    /// there are fewer), and returns once the copies have landed: where each is now.
    pub fn replicate(&self, futures: &[Future], n: u32) -> Result<Vec<(Key, Vec<String>)>, DistError> {
        self.wait(futures)?;
        let keys = futures.iter().map(|f| f.key.clone()).collect();
        match self.request(ClientMsg::Replicate { keys, n })? {
            ToClient::WhoHas { holders } => Ok(holders),
            other => Err(DistError::Protocol(format!("expected who-has, got {other:?}"))),
        }
    }

    /// Moves results from workers holding more bytes than the mean to those holding less
    /// (results an unfinished task is reading stay put), and returns once the moves have
    /// landed: each worker's keys afterwards.
    pub fn rebalance(&self) -> Result<Vec<(String, Vec<Key>)>, DistError> {
        match self.request(ClientMsg::Rebalance)? {
            ToClient::HasWhat { workers } => Ok(workers),
            other => Err(DistError::Protocol(format!("expected has-what, got {other:?}"))),
        }
    }

    /// The data addresses of the workers holding each future's result (none while it is not
    /// computed).
    pub fn who_has(&self, futures: &[Future]) -> Result<Vec<(Key, Vec<String>)>, DistError> {
        let keys = futures.iter().map(|f| f.key.clone()).collect();
        match self.request(ClientMsg::WhoHas { keys })? {
            ToClient::WhoHas { holders } => Ok(holders),
            other => Err(DistError::Protocol(format!("expected who-has, got {other:?}"))),
        }
    }

    /// Every worker's data address and the keys it holds, in the order the workers joined.
    pub fn has_what(&self) -> Result<Vec<(String, Vec<Key>)>, DistError> {
        match self.request(ClientMsg::HasWhat)? {
            ToClient::HasWhat { workers } => Ok(workers),
            other => Err(DistError::Protocol(format!("expected has-what, got {other:?}"))),
        }
    }
}
