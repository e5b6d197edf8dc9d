//! Connections to workers' data servers, kept open and shared, for fetching results.

use std::sync::Arc;

use rask_graph::{Key, Value};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use rask_exec::wire::from_wire;
use rask_protocol::dist::{DataReply, DataRequest, Role};
use rask_protocol::WireValue;
use rask_store::Segment;
use rustc_hash::FxHashMap;
use tokio::net::TcpStream;
use tokio::sync::Mutex;

use crate::conn::{self, read_msg, write_msg};
use crate::DistError;

pub(crate) struct Peers {
    secret: Option<Arc<[u8]>>,
    conns: Mutex<FxHashMap<String, Arc<Mutex<TcpStream>>>>,
    /// Payload bytes received as segment names (mapped, not copied) and as bytes.
    pub(crate) by_reference: AtomicU64,
    pub(crate) by_copy: AtomicU64,
}

impl Peers {
    pub(crate) fn new(secret: Option<Arc<[u8]>>) -> Peers {
        Peers {
            secret,
            conns: Mutex::new(FxHashMap::default()),
            by_reference: AtomicU64::new(0),
            by_copy: AtomicU64::new(0),
        }
    }

    async fn conn(&self, addr: &str) -> Result<Arc<Mutex<TcpStream>>, DistError> {
        if let Some(c) = self.conns.lock().await.get(addr) {
            return Ok(c.clone());
        }
        let mut stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        conn::connect(&mut stream, Role::Peer, self.secret.as_deref()).await?;
        let c = Arc::new(Mutex::new(stream));
        self.conns.lock().await.insert(addr.to_owned(), c.clone());
        Ok(c)
    }

    /// Fetches `keys` from the worker at `addr`; `None` for keys it does not hold.
    pub(crate) async fn fetch(&self, addr: &str, keys: Vec<Key>) -> Result<Vec<(Key, Option<Value>)>, DistError> {
        let conn = self.conn(addr).await?;
        let mut stream = conn.lock().await;
        let result = async {
            write_msg(&mut *stream, &DataRequest::Get { keys }).await?;
            let reply: DataReply =
                read_msg(&mut *stream).await?.ok_or(DistError::Protocol(format!("{addr} closed")))?;
            Ok::<_, DistError>(reply.values)
        }
        .await;
        if result.is_err() {
            // A broken connection is not reused.
            self.conns.lock().await.remove(addr);
        }
        let values: Vec<(Key, Option<WireValue>)> = result?;
        Ok(values.into_iter().map(|(k, w)| (k, w.and_then(|w| self.materialize(w)))).collect())
    }

    /// A received value: mapped in place if it names a segment (a holder on this machine; if
    /// the segment is already gone the key counts as not held), else as sent.
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

    /// One key from the first holder that has it.
    pub(crate) async fn fetch_one(&self, key: &Key, holders: &[String]) -> Option<Value> {
        for addr in holders {
            if let Ok(values) = self.fetch(addr, vec![key.clone()]).await {
                if let Some((_, Some(v))) = values.into_iter().next() {
                    return Some(v);
                }
            }
        }
        None
    }
}
