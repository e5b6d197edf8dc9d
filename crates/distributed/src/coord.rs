//! Coordination primitives held by the scheduler, usable from clients and from tasks (through
//! [`crate::worker_client`]): [`Queue`], [`Variable`], [`Event`], [`Lock`], [`Semaphore`] and
//! pub/sub [`Topic`]s with [`Subscription`]s — Dask's `Queue`, `Variable`, `Event`, `Lock`,
//! `Semaphore`, `Pub` and `Sub`.
//!
//! Each is a name plus a client: two handles with the same name, from any clients, are the
//! same structure. Waits take an optional timeout; a wait that times out is withdrawn on the
//! scheduler, so an item is never both handed out and lost. A lease (of a lock or a
//! semaphore) is released when its [`Lease`] is dropped, or when its client disconnects — a
//! dead holder never blocks the others. A structure lives while a client that used it is
//! connected.
//!
//! ```no_run
//! # fn main() -> Result<(), rask_distributed::DistError> {
//! use rask_distributed::{Client, Lock, Queue};
//! use rask_graph::Value;
//! use std::time::Duration;
//!
//! let client = Client::connect("127.0.0.1:8786")?;
//! let jobs = Queue::bounded(&client, "jobs", 100);
//! jobs.put(Value::Int(7), None)?;
//! assert_eq!(jobs.get(Some(Duration::from_secs(1)))?.into_value(), Some(Value::Int(7)));
//! let lock = Lock::new(&client, "db");
//! if let Some(_held) = lock.acquire(Some(Duration::from_secs(5)))? {
//!     // only one holder at a time, across every client and task
//! }
//! # Ok(()) }
//! ```

use std::time::Duration;

use rask_graph::Value;
use rask_protocol::coord::{CoordAnswer, CoordItem, CoordOp};

use crate::{Client, DistError, Future};

/// What queues and variables hold: a value, or a future (its result stays on the cluster while
/// a structure holds it).
#[derive(Debug)]
pub enum Item {
    Value(Value),
    Future(Future),
}

impl Item {
    /// The value, if this is one.
    pub fn into_value(self) -> Option<Value> {
        match self {
            Item::Value(v) => Some(v),
            Item::Future(_) => None,
        }
    }

    /// The future, if this is one.
    pub fn into_future(self) -> Option<Future> {
        match self {
            Item::Future(f) => Some(f),
            Item::Value(_) => None,
        }
    }

    fn to_wire(&self) -> CoordItem {
        match self {
            Item::Value(v) => CoordItem::Value(v.clone()),
            Item::Future(f) => CoordItem::Future(f.key().clone()),
        }
    }
}

impl<T: Into<Value>> From<T> for Item {
    fn from(v: T) -> Item {
        Item::Value(v.into())
    }
}

impl From<&Future> for Item {
    fn from(f: &Future) -> Item {
        Item::Future(f.clone())
    }
}

/// Sends `op`; `Ok(None)` when the wait timed out.
fn ask(client: &Client, op: CoordOp, timeout: Option<Duration>) -> Result<Option<(u64, CoordAnswer)>, DistError> {
    match client.coordinate(op, timeout)? {
        (_, CoordAnswer::TimedOut) => Ok(None),
        (_, CoordAnswer::Refused(why)) => Err(DistError::Protocol(why)),
        answer => Ok(Some(answer)),
    }
}

fn timed_out(what: &str, timeout: Option<Duration>) -> DistError {
    DistError::TimedOut(format!("{what}: nothing within {timeout:?}"))
}

fn item(client: &Client, answer: CoordAnswer) -> Result<Item, DistError> {
    match answer {
        CoordAnswer::Item(CoordItem::Value(v)) => Ok(Item::Value(v)),
        CoordAnswer::Item(CoordItem::Future(key)) => Ok(Item::Future(client.adopt(key))),
        other => Err(DistError::Protocol(format!("expected an item, got {other:?}"))),
    }
}

/// A first-in first-out queue, unbounded or bounded.
#[derive(Clone, Debug)]
pub struct Queue {
    client: Client,
    name: String,
    maxsize: u64,
}

impl Queue {
    pub fn new(client: &Client, name: &str) -> Queue {
        Queue::bounded(client, name, 0)
    }

    /// A queue whose `put`s wait while it holds `maxsize` items (0: unbounded).
    pub fn bounded(client: &Client, name: &str, maxsize: u64) -> Queue {
        Queue { client: client.clone(), name: name.to_owned(), maxsize }
    }

    /// Appends `item`, waiting up to `timeout` (`None`: forever) for room.
    pub fn put(&self, item: impl Into<Item>, timeout: Option<Duration>) -> Result<(), DistError> {
        let op = CoordOp::QueuePut { name: self.name.clone(), item: item.into().to_wire(), maxsize: self.maxsize };
        ask(&self.client, op, timeout)?
            .map(drop)
            .ok_or_else(|| timed_out(&format!("put on queue {}", self.name), timeout))
    }

    /// Takes the oldest item, waiting up to `timeout` (`None`: forever) for one.
    pub fn get(&self, timeout: Option<Duration>) -> Result<Item, DistError> {
        let op = CoordOp::QueueGet { name: self.name.clone() };
        match ask(&self.client, op, timeout)? {
            Some((_, answer)) => item(&self.client, answer),
            None => Err(timed_out(&format!("get on queue {}", self.name), timeout)),
        }
    }

    /// Items in the queue now.
    pub fn len(&self) -> Result<u64, DistError> {
        match ask(&self.client, CoordOp::QueueLen { name: self.name.clone() }, None)? {
            Some((_, CoordAnswer::Count(n))) => Ok(n),
            other => Err(DistError::Protocol(format!("expected a count, got {other:?}"))),
        }
    }

    pub fn is_empty(&self) -> Result<bool, DistError> {
        Ok(self.len()? == 0)
    }
}

/// One shared value (or future) that clients set and read.
#[derive(Clone, Debug)]
pub struct Variable {
    client: Client,
    name: String,
}

impl Variable {
    pub fn new(client: &Client, name: &str) -> Variable {
        Variable { client: client.clone(), name: name.to_owned() }
    }

    pub fn set(&self, item: impl Into<Item>) -> Result<(), DistError> {
        let op = CoordOp::VariableSet { name: self.name.clone(), item: item.into().to_wire() };
        ask(&self.client, op, None).map(drop)
    }

    /// The value, waiting up to `timeout` (`None`: forever) until one is set.
    pub fn get(&self, timeout: Option<Duration>) -> Result<Item, DistError> {
        match ask(&self.client, CoordOp::VariableGet { name: self.name.clone() }, timeout)? {
            Some((_, answer)) => item(&self.client, answer),
            None => Err(timed_out(&format!("get of variable {}", self.name), timeout)),
        }
    }

    /// Unsets it (a future it held is let go).
    pub fn delete(&self) -> Result<(), DistError> {
        ask(&self.client, CoordOp::VariableDelete { name: self.name.clone() }, None).map(drop)
    }
}

/// A flag that clients set, clear and wait for.
#[derive(Clone, Debug)]
pub struct Event {
    client: Client,
    name: String,
}

impl Event {
    pub fn new(client: &Client, name: &str) -> Event {
        Event { client: client.clone(), name: name.to_owned() }
    }

    pub fn set(&self) -> Result<(), DistError> {
        ask(&self.client, CoordOp::EventSet { name: self.name.clone() }, None).map(drop)
    }

    pub fn clear(&self) -> Result<(), DistError> {
        ask(&self.client, CoordOp::EventClear { name: self.name.clone() }, None).map(drop)
    }

    /// Waits until it is set: `true`, or `false` if `timeout` passed first.
    pub fn wait(&self, timeout: Option<Duration>) -> Result<bool, DistError> {
        Ok(ask(&self.client, CoordOp::EventWait { name: self.name.clone() }, timeout)?.is_some())
    }

    pub fn is_set(&self) -> Result<bool, DistError> {
        match ask(&self.client, CoordOp::EventIsSet { name: self.name.clone() }, None)? {
            Some((_, CoordAnswer::Flag(set))) => Ok(set),
            other => Err(DistError::Protocol(format!("expected a flag, got {other:?}"))),
        }
    }
}

/// At most `max_leases` holders at once.
#[derive(Clone, Debug)]
pub struct Semaphore {
    client: Client,
    name: String,
    max_leases: u32,
}

/// A held lease of a [`Semaphore`] or [`Lock`]: released when dropped.
#[derive(Debug)]
pub struct Lease {
    client: Client,
    name: String,
    lease: u64,
}

impl Semaphore {
    /// Every handle of one name must agree on `max_leases`.
    pub fn new(client: &Client, name: &str, max_leases: u32) -> Semaphore {
        Semaphore { client: client.clone(), name: name.to_owned(), max_leases: max_leases.max(1) }
    }

    /// Takes a lease, waiting up to `timeout` (`None`: forever): `None` if it timed out.
    pub fn acquire(&self, timeout: Option<Duration>) -> Result<Option<Lease>, DistError> {
        let op = CoordOp::Acquire { name: self.name.clone(), max_leases: self.max_leases };
        Ok(ask(&self.client, op, timeout)?.map(|(lease, _)| Lease {
            client: self.client.clone(),
            name: self.name.clone(),
            lease,
        }))
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let op = CoordOp::Release { name: self.name.clone(), lease: self.lease };
        if let Err(e) = ask(&self.client, op, None) {
            tracing::debug!("releasing a lease of {}: {e}", self.name);
        }
    }
}

/// Mutual exclusion across clients and tasks: a [`Semaphore`] of one lease.
#[derive(Clone, Debug)]
pub struct Lock(Semaphore);

impl Lock {
    pub fn new(client: &Client, name: &str) -> Lock {
        Lock(Semaphore::new(client, name, 1))
    }

    /// Holds the lock until the lease is dropped; `None` if `timeout` passed first.
    pub fn acquire(&self, timeout: Option<Duration>) -> Result<Option<Lease>, DistError> {
        self.0.acquire(timeout)
    }
}

/// A named topic to publish to (Dask's `Pub`).
#[derive(Clone, Debug)]
pub struct Topic {
    client: Client,
    name: String,
}

impl Topic {
    pub fn new(client: &Client, name: &str) -> Topic {
        Topic { client: client.clone(), name: name.to_owned() }
    }

    /// Sends `value` to every current subscriber; returns how many there were.
    pub fn publish(&self, value: impl Into<Value>) -> Result<u64, DistError> {
        let op = CoordOp::Publish { topic: self.name.clone(), value: value.into() };
        match ask(&self.client, op, None)? {
            Some((_, CoordAnswer::Count(n))) => Ok(n),
            other => Err(DistError::Protocol(format!("expected a count, got {other:?}"))),
        }
    }

    /// Starts receiving what is published from now on (Dask's `Sub`).
    pub fn subscribe(&self) -> Result<Subscription, DistError> {
        match ask(&self.client, CoordOp::Subscribe { topic: self.name.clone() }, None)? {
            Some((_, CoordAnswer::Count(id))) => {
                Ok(Subscription { client: self.client.clone(), topic: self.name.clone(), id })
            }
            other => Err(DistError::Protocol(format!("expected a subscription, got {other:?}"))),
        }
    }
}

/// Messages of a [`Topic`] published since it subscribed; unsubscribes when dropped.
#[derive(Debug)]
pub struct Subscription {
    client: Client,
    topic: String,
    id: u64,
}

impl Subscription {
    /// The next message, waiting up to `timeout` (`None`: forever): `None` if it timed out.
    pub fn next(&self, timeout: Option<Duration>) -> Result<Option<Value>, DistError> {
        let op = CoordOp::Next { topic: self.topic.clone(), subscription: self.id };
        match ask(&self.client, op, timeout)? {
            Some((_, CoordAnswer::Item(CoordItem::Value(v)))) => Ok(Some(v)),
            None => Ok(None),
            other => Err(DistError::Protocol(format!("expected a message, got {other:?}"))),
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let op = CoordOp::Unsubscribe { topic: self.topic.clone(), subscription: self.id };
        let _ = ask(&self.client, op, None);
    }
}
