//! Connections to workers' data servers, kept open and shared, for fetching results.
//!
//! Every fetch has a deadline ([`Timeouts::fetch`](crate::Timeouts)): a holder that is stopped,
//! hung or cut off costs that long, its connection is dropped, and the caller moves on to the
//! next holder or tells the scheduler which holders failed.

use std::sync::Arc;

use rask_graph::{Key, Value};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use rask_exec::wire::from_wire;
use rask_protocol::dist::{DataReply, DataRequest, Role, Transfer};
use rask_protocol::WireValue;
use rask_store::Segment;
use rustc_hash::FxHashMap;
use tokio::sync::Mutex;

use crate::conn::{self, read_msg_idle, write_msg, MAX_FRAME};
use crate::stream::Stream;
use crate::tls::Security;
use crate::{DistError, Timeouts};

/// List positions wanted of some keys (see [`DataRequest::Get`]).
pub(crate) type Picks = FxHashMap<Key, Vec<i64>>;

/// The most results one batched request asks a holder for: its answer stays a bounded frame
/// (by reference on one machine, a few names; by value, a few values).
const BATCH_KEYS: usize = 64;

pub(crate) struct Peers {
    security: Security,
    timeouts: Timeouts,
    conns: Mutex<FxHashMap<String, Arc<Mutex<Stream>>>>,
    /// Payload bytes received as segment names (mapped, not copied) and as bytes.
    pub(crate) by_reference: AtomicU64,
    pub(crate) by_copy: AtomicU64,
}

impl Peers {
    pub(crate) fn new(security: Security, timeouts: Timeouts) -> Peers {
        Peers {
            security,
            timeouts,
            conns: Mutex::new(FxHashMap::default()),
            by_reference: AtomicU64::new(0),
            by_copy: AtomicU64::new(0),
        }
    }

    async fn conn(&self, addr: &str) -> Result<Arc<Mutex<Stream>>, DistError> {
        if let Some(c) = self.conns.lock().await.get(addr) {
            return Ok(c.clone());
        }
        let stream = conn::dial(addr, Role::Peer, &self.security, self.timeouts.connect).await?;
        let c = Arc::new(Mutex::new(stream));
        self.conns.lock().await.insert(addr.to_owned(), c.clone());
        Ok(c)
    }

    /// Fetches `keys` from the worker at `addr`; `None` for keys it does not hold. Fails
    /// with [`DistError::TimedOut`] if a step of the exchange misses the fetch timeout.
    pub(crate) async fn fetch(&self, addr: &str, keys: Vec<Key>) -> Result<Vec<(Key, Option<Value>)>, DistError> {
        self.fetch_picked(addr, keys, &Picks::default()).await
    }

    /// [`Peers::fetch`], asking of the keys in `picks` only those list positions (the other
    /// items arrive as `None`): what a task that picks items of its input needs.
    pub(crate) async fn fetch_picked(
        &self,
        addr: &str,
        keys: Vec<Key>,
        picks: &Picks,
    ) -> Result<Vec<(Key, Option<Value>)>, DistError> {
        let mut values = Vec::with_capacity(keys.len());
        let mut vanished = Vec::new();
        for (key, wire) in self.request(addr, keys, false, picks).await? {
            match wire.map(|w| self.materialize(w)) {
                Some(None) => vanished.push(key),
                other => values.push((key, other.flatten())),
            }
        }
        // A segment named in the reply was gone before we mapped it (the holder spilled or
        // released it meanwhile): ask for those values as bytes.
        if !vanished.is_empty() {
            for (key, wire) in self.request(addr, vanished, true, picks).await? {
                values.push((key, wire.and_then(|w| self.materialize(w))));
            }
        }
        Ok(values)
    }

    /// Each step of the exchange has its own deadline: connecting, waiting for the shared
    /// connection, sending the request, and silence while the reply arrives (a large reply
    /// over a slow link is fine; a peer that stops sending is not).
    async fn request(
        &self,
        addr: &str,
        keys: Vec<Key>,
        by_value: bool,
        picks: &Picks,
    ) -> Result<Vec<(Key, Option<WireValue>)>, DistError> {
        let limit = self.timeouts.fetch;
        let timed_out = || DistError::TimedOut(format!("{addr} did not answer a fetch within {limit:?}"));
        let exchange = async {
            let conn = self.conn(addr).await?;
            let mut stream = tokio::time::timeout(limit, conn.lock()).await.map_err(|_| timed_out())?;
            let mut values = Vec::with_capacity(keys.len());
            let mut keys = keys;
            // A holder answers a bounded number of bytes at a time: ask again for the rest.
            while !keys.is_empty() {
                let picks = keys.iter().filter_map(|k| Some((k.clone(), picks.get(k)?.clone()))).collect();
                tokio::time::timeout(limit, write_msg(&mut *stream, &DataRequest::Get { keys, by_value, picks }))
                    .await
                    .map_err(|_| timed_out())??;
                let reply: DataReply = read_msg_idle(&mut *stream, MAX_FRAME, Some(limit))
                    .await
                    .map_err(|e| match e {
                        DistError::TimedOut(_) => timed_out(),
                        other => other,
                    })?
                    .ok_or(DistError::Protocol(format!("{addr} closed")))?;
                if reply.values.is_empty() && !reply.deferred.is_empty() {
                    return Err(DistError::Protocol(format!("{addr} deferred every key it was asked for")));
                }
                values.extend(reply.values);
                keys = reply.deferred;
            }
            Ok::<_, DistError>(values)
        };
        let result = exchange.await;
        if result.is_err() {
            // A broken or stalled connection is not reused (a stalled one may yet deliver a
            // late reply, which would answer the next request).
            self.conns.lock().await.remove(addr);
        }
        result
    }

    /// A received value: mapped in place if it names a segment (a holder on this machine),
    /// else as sent; `None` if the named segment is already gone.
    fn materialize(&self, wire: WireValue) -> Option<Value> {
        match wire {
            WireValue::Inline(v) => {
                self.by_copy.fetch_add(v.nbytes() as u64, Relaxed);
                Some(v)
            }
            shared => {
                let len: u64 = shared.shared_refs().iter().map(|r| r.len).sum();
                let value = from_wire(shared, &mut |name| Segment::open(name).map(Arc::new)).ok()?;
                self.by_reference.fetch_add(len, Relaxed);
                Some(value)
            }
        }
    }

    /// One key from the first holder that has it, and that holder; otherwise the holders that
    /// failed (did not answer in time, or did not have it).
    /// Fetches many results at once: one request per holder (the first each result lists),
    /// all holders at the same time, at most [`BATCH_KEYS`] keys a request. Returns what
    /// arrived, each with its transfer (where from, when) for the first reader to take; a
    /// result missing from the answer is for the caller to fetch again ([`Peers::fetch_one`]
    /// tries its other holders).
    pub(crate) async fn fetch_many(
        &self,
        wanted: Vec<(Key, &[String])>,
        picks: &Picks,
    ) -> FxHashMap<Key, (Value, Option<Transfer>)> {
        let mut by_holder: FxHashMap<&str, Vec<Key>> = FxHashMap::default();
        for (key, holders) in wanted {
            if let Some(first) = holders.first() {
                by_holder.entry(first.as_str()).or_default().push(key);
            }
        }
        let requests = by_holder
            .into_iter()
            .flat_map(|(addr, keys)| keys.chunks(BATCH_KEYS).map(|keys| (addr, keys.to_vec())).collect::<Vec<_>>());
        let answers = futures_util::future::join_all(requests.map(|(addr, keys)| async move {
            let start_us = crate::metrics::unix_us();
            let values = self.fetch_picked(addr, keys, picks).await.unwrap_or_default();
            (addr, start_us, crate::metrics::unix_us(), values)
        }))
        .await;
        let mut got = FxHashMap::default();
        for (addr, start_us, stop_us, values) in answers {
            for (key, value) in values {
                if let Some(value) = value {
                    let transfer = Transfer { from: addr.to_owned(), nbytes: value.nbytes() as u64, start_us, stop_us };
                    got.insert(key, (value, Some(transfer)));
                }
            }
        }
        got
    }

    pub(crate) async fn fetch_one(&self, key: &Key, holders: &[String]) -> Result<(Value, String), Vec<String>> {
        let mut failed = Vec::new();
        for addr in holders {
            if let Ok(values) = self.fetch(addr, vec![key.clone()]).await {
                if let Some((_, Some(v))) = values.into_iter().next() {
                    return Ok((v, addr.clone()));
                }
            }
            failed.push(addr.clone());
        }
        Err(failed)
    }
}
