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
//! Every call has an `async` twin, `…_async`, for async code (with an
//! [`crate::AsyncClient`]: `Queue::new(&async_client, "jobs")`); it may be awaited from any
//! executor, and blocks no thread.
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
async fn ask(client: &Client, op: CoordOp, timeout: Option<Duration>) -> Result<Option<(u64, CoordAnswer)>, DistError> {
    match client.coordinate_async(op, timeout).await? {
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

fn count(answer: Option<(u64, CoordAnswer)>) -> Result<u64, DistError> {
    match answer {
        Some((_, CoordAnswer::Count(n))) => Ok(n),
        other => Err(DistError::Protocol(format!("expected a count, got {other:?}"))),
    }
}

/// Each blocking call runs its `…_async` twin on the client's runtime.
macro_rules! blocking {
    ($(#[$doc:meta])* $name:ident => $twin:ident($($arg:ident: $ty:ty),*) -> $out:ty) => {
        $(#[$doc])*
        pub fn $name(&self, $($arg: $ty),*) -> Result<$out, DistError> {
            self.client.block_on(self.$twin($($arg),*))
        }
    };
}

/// A first-in first-out queue, unbounded or bounded.
#[derive(Clone, Debug)]
pub struct Queue {
    client: Client,
    name: String,
    maxsize: u64,
}

impl Queue {
    pub fn new(client: &impl AsRef<Client>, name: &str) -> Queue {
        Queue::bounded(client, name, 0)
    }

    /// A queue whose `put`s wait while it holds `maxsize` items (0: unbounded).
    pub fn bounded(client: &impl AsRef<Client>, name: &str, maxsize: u64) -> Queue {
        Queue { client: client.as_ref().clone(), name: name.to_owned(), maxsize }
    }

    /// Appends `item`, waiting up to `timeout` (`None`: forever) for room.
    pub fn put(&self, item: impl Into<Item>, timeout: Option<Duration>) -> Result<(), DistError> {
        self.client.block_on(self.put_async(item, timeout))
    }

    pub async fn put_async(&self, item: impl Into<Item>, timeout: Option<Duration>) -> Result<(), DistError> {
        let op = CoordOp::QueuePut { name: self.name.clone(), item: item.into().to_wire(), maxsize: self.maxsize };
        ask(&self.client, op, timeout)
            .await?
            .map(drop)
            .ok_or_else(|| timed_out(&format!("put on queue {}", self.name), timeout))
    }

    blocking!(
        /// Takes the oldest item, waiting up to `timeout` (`None`: forever) for one.
        get => get_async(timeout: Option<Duration>) -> Item
    );

    pub async fn get_async(&self, timeout: Option<Duration>) -> Result<Item, DistError> {
        let op = CoordOp::QueueGet { name: self.name.clone() };
        match ask(&self.client, op, timeout).await? {
            Some((_, answer)) => item(&self.client, answer),
            None => Err(timed_out(&format!("get on queue {}", self.name), timeout)),
        }
    }

    blocking!(
        /// Items in the queue now.
        len => len_async() -> u64
    );

    pub async fn len_async(&self) -> Result<u64, DistError> {
        count(ask(&self.client, CoordOp::QueueLen { name: self.name.clone() }, None).await?)
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
    pub fn new(client: &impl AsRef<Client>, name: &str) -> Variable {
        Variable { client: client.as_ref().clone(), name: name.to_owned() }
    }

    pub fn set(&self, item: impl Into<Item>) -> Result<(), DistError> {
        self.client.block_on(self.set_async(item))
    }

    pub async fn set_async(&self, item: impl Into<Item>) -> Result<(), DistError> {
        let op = CoordOp::VariableSet { name: self.name.clone(), item: item.into().to_wire() };
        ask(&self.client, op, None).await.map(drop)
    }

    blocking!(
        /// The value, waiting up to `timeout` (`None`: forever) until one is set.
        get => get_async(timeout: Option<Duration>) -> Item
    );

    pub async fn get_async(&self, timeout: Option<Duration>) -> Result<Item, DistError> {
        match ask(&self.client, CoordOp::VariableGet { name: self.name.clone() }, timeout).await? {
            Some((_, answer)) => item(&self.client, answer),
            None => Err(timed_out(&format!("get of variable {}", self.name), timeout)),
        }
    }

    blocking!(
        /// Unsets it (a future it held is let go).
        delete => delete_async() -> ()
    );

    pub async fn delete_async(&self) -> Result<(), DistError> {
        ask(&self.client, CoordOp::VariableDelete { name: self.name.clone() }, None).await.map(drop)
    }
}

/// A flag that clients set, clear and wait for.
#[derive(Clone, Debug)]
pub struct Event {
    client: Client,
    name: String,
}

impl Event {
    pub fn new(client: &impl AsRef<Client>, name: &str) -> Event {
        Event { client: client.as_ref().clone(), name: name.to_owned() }
    }

    blocking!(set => set_async() -> ());
    blocking!(clear => clear_async() -> ());
    blocking!(
        /// Waits until it is set: `true`, or `false` if `timeout` passed first.
        wait => wait_async(timeout: Option<Duration>) -> bool
    );
    blocking!(is_set => is_set_async() -> bool);

    pub async fn set_async(&self) -> Result<(), DistError> {
        ask(&self.client, CoordOp::EventSet { name: self.name.clone() }, None).await.map(drop)
    }

    pub async fn clear_async(&self) -> Result<(), DistError> {
        ask(&self.client, CoordOp::EventClear { name: self.name.clone() }, None).await.map(drop)
    }

    pub async fn wait_async(&self, timeout: Option<Duration>) -> Result<bool, DistError> {
        Ok(ask(&self.client, CoordOp::EventWait { name: self.name.clone() }, timeout).await?.is_some())
    }

    pub async fn is_set_async(&self) -> Result<bool, DistError> {
        match ask(&self.client, CoordOp::EventIsSet { name: self.name.clone() }, None).await? {
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
    pub fn new(client: &impl AsRef<Client>, name: &str, max_leases: u32) -> Semaphore {
        Semaphore { client: client.as_ref().clone(), name: name.to_owned(), max_leases: max_leases.max(1) }
    }

    blocking!(
        /// Takes a lease, waiting up to `timeout` (`None`: forever): `None` if it timed out.
        acquire => acquire_async(timeout: Option<Duration>) -> Option<Lease>
    );

    pub async fn acquire_async(&self, timeout: Option<Duration>) -> Result<Option<Lease>, DistError> {
        let op = CoordOp::Acquire { name: self.name.clone(), max_leases: self.max_leases };
        Ok(ask(&self.client, op, timeout).await?.map(|(lease, _)| Lease {
            client: self.client.clone(),
            name: self.name.clone(),
            lease,
        }))
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let op = CoordOp::Release { name: self.name.clone(), lease: self.lease };
        self.client.coordinate_detached(op);
    }
}

/// Mutual exclusion across clients and tasks: a [`Semaphore`] of one lease.
#[derive(Clone, Debug)]
pub struct Lock(Semaphore);

impl Lock {
    pub fn new(client: &impl AsRef<Client>, name: &str) -> Lock {
        Lock(Semaphore::new(client, name, 1))
    }

    /// Holds the lock until the lease is dropped; `None` if `timeout` passed first.
    pub fn acquire(&self, timeout: Option<Duration>) -> Result<Option<Lease>, DistError> {
        self.0.acquire(timeout)
    }

    pub async fn acquire_async(&self, timeout: Option<Duration>) -> Result<Option<Lease>, DistError> {
        self.0.acquire_async(timeout).await
    }
}

/// A named topic to publish to (Dask's `Pub`).
#[derive(Clone, Debug)]
pub struct Topic {
    client: Client,
    name: String,
}

impl Topic {
    pub fn new(client: &impl AsRef<Client>, name: &str) -> Topic {
        Topic { client: client.as_ref().clone(), name: name.to_owned() }
    }

    /// Sends `value` to every current subscriber; returns how many there were.
    pub fn publish(&self, value: impl Into<Value>) -> Result<u64, DistError> {
        self.client.block_on(self.publish_async(value))
    }

    pub async fn publish_async(&self, value: impl Into<Value>) -> Result<u64, DistError> {
        let op = CoordOp::Publish { topic: self.name.clone(), value: value.into() };
        count(ask(&self.client, op, None).await?)
    }

    blocking!(
        /// Starts receiving what is published from now on (Dask's `Sub`).
        subscribe => subscribe_async() -> Subscription
    );

    pub async fn subscribe_async(&self) -> Result<Subscription, DistError> {
        let id = count(ask(&self.client, CoordOp::Subscribe { topic: self.name.clone() }, None).await?)?;
        Ok(Subscription { client: self.client.clone(), topic: self.name.clone(), id })
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
    blocking!(
        /// The next message, waiting up to `timeout` (`None`: forever): `None` if it timed out.
        next => next_async(timeout: Option<Duration>) -> Option<Value>
    );

    pub async fn next_async(&self, timeout: Option<Duration>) -> Result<Option<Value>, DistError> {
        let op = CoordOp::Next { topic: self.topic.clone(), subscription: self.id };
        match ask(&self.client, op, timeout).await? {
            Some((_, CoordAnswer::Item(CoordItem::Value(v)))) => Ok(Some(v)),
            None => Ok(None),
            other => Err(DistError::Protocol(format!("expected a message, got {other:?}"))),
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let op = CoordOp::Unsubscribe { topic: self.topic.clone(), subscription: self.id };
        self.client.coordinate_detached(op);
    }
}
