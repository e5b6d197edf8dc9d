//! Coordination messages: queues, variables, events, locks, semaphores and pub/sub topics held
//! by the scheduler for clients and tasks (Dask's `Queue`, `Variable`, `Event`, `Lock`,
//! `Semaphore`, `Pub`/`Sub`). Each request carries an id chosen by the client; its answer
//! ([`CoordAnswer`]) comes back with the same id, possibly much later (a `get` on an empty
//! queue waits for a `put`). A client that stops waiting sends `CoordCancel` for the id: the
//! scheduler answers `TimedOut` if the request was still waiting, so an item is never both
//! handed out and abandoned.

use rask_graph::{Key, Value};
use serde::{Deserialize, Serialize};

/// What a queue or variable holds: a value, or a future's key (the result stays on the cluster
/// while it is held).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum CoordItem {
    Value(Value),
    Future(Key),
}

/// A request to the scheduler's coordination state, on the named structure.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum CoordOp {
    /// Appends to the queue; with `maxsize` > 0, waits while it holds that many.
    QueuePut {
        name: String,
        item: CoordItem,
        maxsize: u64,
    },
    /// Takes the oldest item; waits while the queue is empty.
    QueueGet {
        name: String,
    },
    QueueLen {
        name: String,
    },
    VariableSet {
        name: String,
        item: CoordItem,
    },
    /// The value; waits until one is set.
    VariableGet {
        name: String,
    },
    VariableDelete {
        name: String,
    },
    EventSet {
        name: String,
    },
    EventClear {
        name: String,
    },
    /// Waits until the event is set.
    EventWait {
        name: String,
    },
    EventIsSet {
        name: String,
    },
    /// Takes one of `max_leases` leases (a lock has one); waits while all are taken. The
    /// lease is this request's id.
    Acquire {
        name: String,
        max_leases: u32,
    },
    /// Gives back a lease taken by this client.
    Release {
        name: String,
        lease: u64,
    },
    /// Starts receiving the topic's messages; answered with the subscription's id.
    Subscribe {
        topic: String,
    },
    /// Sends to every subscriber; answered with how many there were.
    Publish {
        topic: String,
        value: Value,
    },
    /// The subscription's next message; waits for one.
    Next {
        topic: String,
        subscription: u64,
    },
    Unsubscribe {
        topic: String,
        subscription: u64,
    },
}

/// The answer to a [`CoordOp`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum CoordAnswer {
    Done,
    Item(CoordItem),
    Count(u64),
    Flag(bool),
    /// The request was cancelled while it waited (the client's timeout passed).
    TimedOut,
    /// The request cannot be served (say, a release of a lease this client does not hold).
    Refused(String),
}
