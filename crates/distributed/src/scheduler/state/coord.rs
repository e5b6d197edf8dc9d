//! The scheduler's coordination state: named queues, variables, events, semaphores (a lock is
//! a semaphore of one lease) and pub/sub topics, with no I/O — requests in, [`Effects`] out.
//!
//! Requests that cannot be served yet wait here, keyed by (client, request id), until served,
//! cancelled (the client's timeout) or their client leaves. A structure lives while any client
//! that used it is connected: when the last one leaves it is dropped, with the futures it
//! held, and a departed client's leases go to the next waiter — so nothing leaks and a dead
//! holder never blocks the others.

use std::collections::VecDeque;

use rask_graph::{Key, Value};
use rask_protocol::coord::{CoordAnswer, CoordItem, CoordOp};
use rustc_hash::{FxHashMap, FxHashSet};

use super::ClientId;

/// A waiting request: its client and id.
type Waiter = (ClientId, u64);

/// What a batch of requests did, for the scheduler to apply.
#[derive(Debug, Default, PartialEq)]
pub struct Effects {
    pub answers: Vec<(ClientId, u64, CoordAnswer)>,
    /// Futures' keys now held by a structure (kept on the cluster), and no longer held.
    pub hold: Vec<Key>,
    pub unhold: Vec<Key>,
    /// Futures handed to a client: it now wants the key.
    pub hand: Vec<(ClientId, Key)>,
}

impl Effects {
    fn answer(&mut self, (c, id): Waiter, answer: CoordAnswer) {
        self.answers.push((c, id, answer));
    }

    /// Gives `item` to a waiter (a future becomes that client's).
    fn give(&mut self, to: Waiter, item: CoordItem) {
        if let CoordItem::Future(key) = &item {
            self.hand.push((to.0, key.clone()));
        }
        self.answer(to, CoordAnswer::Item(item));
    }

    fn hold(&mut self, item: &CoordItem) {
        if let CoordItem::Future(key) = item {
            self.hold.push(key.clone());
        }
    }

    fn unhold(&mut self, item: &CoordItem) {
        if let CoordItem::Future(key) = item {
            self.unhold.push(key.clone());
        }
    }
}

#[derive(Default)]
struct Queue {
    items: VecDeque<CoordItem>,
    getters: VecDeque<Waiter>,
    /// Puts waiting for room in a full bounded queue, with their items (not yet held).
    putters: VecDeque<(Waiter, CoordItem, u64)>,
}

#[derive(Default)]
struct Variable {
    item: Option<CoordItem>,
    getters: Vec<Waiter>,
}

#[derive(Default)]
struct Event {
    set: bool,
    waiters: Vec<Waiter>,
}

#[derive(Default)]
struct Semaphore {
    max: u32,
    leases: Vec<Waiter>,
    waiters: VecDeque<Waiter>,
}

#[derive(Default)]
struct Topic {
    subscriptions: FxHashMap<u64, Subscription>,
}

struct Subscription {
    client: ClientId,
    messages: VecDeque<Value>,
    waiter: Option<u64>,
}

/// A structure and the clients that have used it.
struct Named<T> {
    value: T,
    users: FxHashSet<ClientId>,
}

struct Table<T>(FxHashMap<String, Named<T>>);

impl<T: Default> Table<T> {
    fn get(&mut self, name: &str, c: ClientId) -> &mut T {
        let entry =
            self.0.entry(name.to_owned()).or_insert_with(|| Named { value: T::default(), users: Default::default() });
        entry.users.insert(c);
        &mut entry.value
    }

    /// Forgets `c` as a user; returns the structures it was the last user of.
    fn leave(&mut self, c: ClientId) -> Vec<T> {
        let orphaned: Vec<String> = self
            .0
            .iter_mut()
            .filter_map(|(name, named)| (named.users.remove(&c) && named.users.is_empty()).then(|| name.clone()))
            .collect();
        orphaned.into_iter().filter_map(|name| self.0.remove(&name)).map(|n| n.value).collect()
    }

    fn values(&mut self) -> impl Iterator<Item = &mut T> {
        self.0.values_mut().map(|n| &mut n.value)
    }
}

impl<T> Default for Table<T> {
    fn default() -> Table<T> {
        Table(FxHashMap::default())
    }
}

/// Every named structure.
#[derive(Default)]
pub struct Coordination {
    queues: Table<Queue>,
    variables: Table<Variable>,
    events: Table<Event>,
    semaphores: Table<Semaphore>,
    topics: Table<Topic>,
    next_subscription: u64,
}

impl Coordination {
    /// Serves request `id` of client `c`.
    pub fn request(&mut self, c: ClientId, id: u64, op: CoordOp, fx: &mut Effects) {
        let me = (c, id);
        match op {
            CoordOp::QueuePut { name, item, maxsize } => {
                let q = self.queues.get(&name, c);
                if let Some(getter) = q.getters.pop_front() {
                    fx.give(getter, item);
                    fx.answer(me, CoordAnswer::Done);
                } else if maxsize > 0 && q.items.len() as u64 >= maxsize {
                    q.putters.push_back((me, item, maxsize));
                } else {
                    fx.hold(&item);
                    q.items.push_back(item);
                    fx.answer(me, CoordAnswer::Done);
                }
            }
            CoordOp::QueueGet { name } => {
                let q = self.queues.get(&name, c);
                match q.items.pop_front() {
                    Some(item) => {
                        fx.unhold(&item);
                        fx.give(me, item);
                        // Room for the first put waiting on a full queue.
                        if let Some((putter, item, maxsize)) = q.putters.pop_front() {
                            debug_assert!((q.items.len() as u64) < maxsize);
                            fx.hold(&item);
                            q.items.push_back(item);
                            fx.answer(putter, CoordAnswer::Done);
                        }
                    }
                    None => q.getters.push_back(me),
                }
            }
            CoordOp::QueueLen { name } => {
                let n = self.queues.get(&name, c).items.len() as u64;
                fx.answer(me, CoordAnswer::Count(n));
            }
            CoordOp::VariableSet { name, item } => {
                let v = self.variables.get(&name, c);
                for getter in std::mem::take(&mut v.getters) {
                    fx.give(getter, item.clone());
                }
                fx.hold(&item);
                if let Some(old) = v.item.replace(item) {
                    fx.unhold(&old);
                }
                fx.answer(me, CoordAnswer::Done);
            }
            CoordOp::VariableGet { name } => {
                let v = self.variables.get(&name, c);
                match &v.item {
                    Some(item) => fx.give(me, item.clone()),
                    None => v.getters.push(me),
                }
            }
            CoordOp::VariableDelete { name } => {
                if let Some(old) = self.variables.get(&name, c).item.take() {
                    fx.unhold(&old);
                }
                fx.answer(me, CoordAnswer::Done);
            }
            CoordOp::EventSet { name } => {
                let e = self.events.get(&name, c);
                e.set = true;
                for w in std::mem::take(&mut e.waiters) {
                    fx.answer(w, CoordAnswer::Done);
                }
                fx.answer(me, CoordAnswer::Done);
            }
            CoordOp::EventClear { name } => {
                self.events.get(&name, c).set = false;
                fx.answer(me, CoordAnswer::Done);
            }
            CoordOp::EventWait { name } => {
                let e = self.events.get(&name, c);
                match e.set {
                    true => fx.answer(me, CoordAnswer::Done),
                    false => e.waiters.push(me),
                }
            }
            CoordOp::EventIsSet { name } => {
                let set = self.events.get(&name, c).set;
                fx.answer(me, CoordAnswer::Flag(set));
            }
            CoordOp::Acquire { name, max_leases } => {
                let s = self.semaphores.get(&name, c);
                if s.max == 0 {
                    s.max = max_leases.max(1);
                }
                if s.max != max_leases.max(1) {
                    let why = format!("{name:?} has {} leases, not {max_leases}", s.max);
                    fx.answer(me, CoordAnswer::Refused(why));
                } else if (s.leases.len() as u32) < s.max {
                    s.leases.push(me);
                    fx.answer(me, CoordAnswer::Done);
                } else {
                    s.waiters.push_back(me);
                }
            }
            CoordOp::Release { name, lease } => {
                let s = self.semaphores.get(&name, c);
                match s.leases.iter().position(|l| *l == (c, lease)) {
                    Some(i) => {
                        s.leases.swap_remove(i);
                        grant(s, fx);
                        fx.answer(me, CoordAnswer::Done);
                    }
                    None => fx.answer(me, CoordAnswer::Refused(format!("{name:?}: this lease is not held"))),
                }
            }
            CoordOp::Subscribe { topic } => {
                self.next_subscription += 1;
                let id = self.next_subscription;
                let sub = Subscription { client: c, messages: VecDeque::new(), waiter: None };
                self.topics.get(&topic, c).subscriptions.insert(id, sub);
                fx.answer(me, CoordAnswer::Count(id));
            }
            CoordOp::Publish { topic, value } => {
                let t = self.topics.get(&topic, c);
                for sub in t.subscriptions.values_mut() {
                    match sub.waiter.take() {
                        Some(id) => fx.answer((sub.client, id), CoordAnswer::Item(CoordItem::Value(value.clone()))),
                        None => sub.messages.push_back(value.clone()),
                    }
                }
                fx.answer(me, CoordAnswer::Count(t.subscriptions.len() as u64));
            }
            CoordOp::Next { topic, subscription } => {
                let t = self.topics.get(&topic, c);
                match t.subscriptions.get_mut(&subscription).filter(|s| s.client == c) {
                    Some(sub) => match sub.messages.pop_front() {
                        Some(v) => fx.answer(me, CoordAnswer::Item(CoordItem::Value(v))),
                        None => sub.waiter = Some(id),
                    },
                    None => fx.answer(me, CoordAnswer::Refused(format!("{topic:?}: no such subscription"))),
                }
            }
            CoordOp::Unsubscribe { topic, subscription } => {
                let t = self.topics.get(&topic, c);
                if let Some(sub) = t.subscriptions.remove(&subscription) {
                    if let Some(id) = sub.waiter {
                        fx.answer((sub.client, id), CoordAnswer::Refused(format!("{topic:?}: unsubscribed")));
                    }
                }
                fx.answer(me, CoordAnswer::Done);
            }
        }
    }

    /// Client `c` stopped waiting for request `id`: if it still waits, it is answered
    /// `TimedOut` (otherwise its answer is on the way already).
    pub fn cancel(&mut self, c: ClientId, id: u64, fx: &mut Effects) {
        let me = (c, id);
        let mut found = false;
        for q in self.queues.values() {
            found |= remove_waiter(&mut q.getters, me);
            let before = q.putters.len();
            q.putters.retain(|(w, _, _)| *w != me);
            found |= q.putters.len() != before;
        }
        for v in self.variables.values() {
            found |= remove_from_vec(&mut v.getters, me);
        }
        for e in self.events.values() {
            found |= remove_from_vec(&mut e.waiters, me);
        }
        for s in self.semaphores.values() {
            found |= remove_waiter(&mut s.waiters, me);
        }
        for t in self.topics.values() {
            for sub in t.subscriptions.values_mut() {
                if sub.client == c && sub.waiter == Some(id) {
                    sub.waiter = None;
                    found = true;
                }
            }
        }
        if found {
            fx.answer(me, CoordAnswer::TimedOut);
        }
    }

    /// Client `c` is gone: its waits end, its leases go to the next waiters, its
    /// subscriptions close, and structures no connected client has used are dropped.
    pub fn remove_client(&mut self, c: ClientId, fx: &mut Effects) {
        for q in self.queues.values() {
            q.getters.retain(|w| w.0 != c);
            q.putters.retain(|(w, _, _)| w.0 != c);
        }
        for v in self.variables.values() {
            v.getters.retain(|w| w.0 != c);
        }
        for e in self.events.values() {
            e.waiters.retain(|w| w.0 != c);
        }
        for s in self.semaphores.values() {
            s.waiters.retain(|w| w.0 != c);
            let before = s.leases.len();
            s.leases.retain(|l| l.0 != c);
            if s.leases.len() != before {
                grant(s, fx);
            }
        }
        for t in self.topics.values() {
            t.subscriptions.retain(|_, sub| sub.client != c);
        }
        for q in self.queues.leave(c) {
            q.items.iter().for_each(|item| fx.unhold(item));
        }
        for v in self.variables.leave(c) {
            v.item.iter().for_each(|item| fx.unhold(item));
        }
        self.events.leave(c);
        self.semaphores.leave(c);
        self.topics.leave(c);
    }

    /// Named structures alive now (none once every client that used one has left).
    pub fn len(&self) -> usize {
        self.queues.0.len()
            + self.variables.0.len()
            + self.events.0.len()
            + self.semaphores.0.len()
            + self.topics.0.len()
    }
}

/// Leases freed: the first waiters take them.
fn grant(s: &mut Semaphore, fx: &mut Effects) {
    while (s.leases.len() as u32) < s.max {
        let Some(w) = s.waiters.pop_front() else { break };
        s.leases.push(w);
        fx.answer(w, CoordAnswer::Done);
    }
}

fn remove_waiter(waiters: &mut VecDeque<Waiter>, w: Waiter) -> bool {
    let before = waiters.len();
    waiters.retain(|x| *x != w);
    waiters.len() != before
}

fn remove_from_vec(waiters: &mut Vec<Waiter>, w: Waiter) -> bool {
    let before = waiters.len();
    waiters.retain(|x| *x != w);
    waiters.len() != before
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(co: &mut Coordination, c: ClientId, id: u64, op: CoordOp) -> Effects {
        let mut fx = Effects::default();
        co.request(c, id, op, &mut fx);
        fx
    }

    fn value(i: i64) -> CoordItem {
        CoordItem::Value(Value::Int(i))
    }

    #[test]
    fn a_bounded_queue_makes_puts_wait_and_gets_wake_them() {
        let mut co = Coordination::default();
        let put = |i| CoordOp::QueuePut { name: "q".into(), item: value(i), maxsize: 1 };
        assert_eq!(run(&mut co, 1, 1, put(1)).answers, vec![(1, 1, CoordAnswer::Done)]);
        assert!(run(&mut co, 1, 2, put(2)).answers.is_empty(), "full: the second put waits");
        let got = run(&mut co, 2, 7, CoordOp::QueueGet { name: "q".into() });
        assert_eq!(got.answers, vec![(2, 7, CoordAnswer::Item(value(1))), (1, 2, CoordAnswer::Done)]);
        let got = run(&mut co, 2, 8, CoordOp::QueueGet { name: "q".into() });
        assert_eq!(got.answers, vec![(2, 8, CoordAnswer::Item(value(2)))]);
        assert!(run(&mut co, 2, 9, CoordOp::QueueGet { name: "q".into() }).answers.is_empty(), "empty: get waits");
        let mut fx = Effects::default();
        co.cancel(2, 9, &mut fx);
        assert_eq!(fx.answers, vec![(2, 9, CoordAnswer::TimedOut)]);
        let mut fx = Effects::default();
        co.cancel(2, 9, &mut fx);
        assert!(fx.answers.is_empty(), "a request answered already is not answered twice");
    }

    #[test]
    fn futures_in_structures_are_held_and_handed_over() {
        let mut co = Coordination::default();
        let f = CoordItem::Future(Key::from("k"));
        let fx = run(&mut co, 1, 1, CoordOp::VariableSet { name: "v".into(), item: f.clone() });
        assert_eq!(fx.hold, vec![Key::from("k")]);
        let fx = run(&mut co, 2, 1, CoordOp::VariableGet { name: "v".into() });
        assert_eq!(fx.hand, vec![(2, Key::from("k"))]);
        let fx = run(&mut co, 1, 2, CoordOp::VariableSet { name: "v".into(), item: value(3) });
        assert_eq!(fx.unhold, vec![Key::from("k")]);
        // A queue's future goes from the structure to the getter.
        run(&mut co, 1, 3, CoordOp::QueuePut { name: "q".into(), item: f, maxsize: 0 });
        let fx = run(&mut co, 2, 4, CoordOp::QueueGet { name: "q".into() });
        assert_eq!((fx.unhold.clone(), fx.hand.clone()), (vec![Key::from("k")], vec![(2, Key::from("k"))]));
    }

    #[test]
    fn a_departed_holder_s_lease_goes_to_the_next_waiter_and_nothing_is_left() {
        let mut co = Coordination::default();
        let acquire = || CoordOp::Acquire { name: "lock".into(), max_leases: 1 };
        assert_eq!(run(&mut co, 1, 1, acquire()).answers.len(), 1);
        assert!(run(&mut co, 2, 1, acquire()).answers.is_empty());
        assert!(run(&mut co, 3, 1, acquire()).answers.is_empty());
        let wrong = run(&mut co, 2, 2, CoordOp::Release { name: "lock".into(), lease: 1 });
        assert!(matches!(wrong.answers[0].2, CoordAnswer::Refused(_)), "only the holder releases");
        let mut fx = Effects::default();
        co.remove_client(1, &mut fx);
        assert_eq!(fx.answers, vec![(2, 1, CoordAnswer::Done)], "the next waiter holds it");
        let fx = run(&mut co, 2, 3, CoordOp::Release { name: "lock".into(), lease: 1 });
        assert_eq!(fx.answers, vec![(3, 1, CoordAnswer::Done), (2, 3, CoordAnswer::Done)]);
        let mismatch = run(&mut co, 2, 4, CoordOp::Acquire { name: "lock".into(), max_leases: 3 });
        assert!(matches!(mismatch.answers[0].2, CoordAnswer::Refused(_)));
        run(&mut co, 2, 5, CoordOp::QueuePut { name: "q".into(), item: CoordItem::Future(Key::from("f")), maxsize: 0 });
        let mut fx = Effects::default();
        co.remove_client(2, &mut fx);
        co.remove_client(3, &mut fx);
        assert_eq!(fx.unhold, vec![Key::from("f")], "the queue's future is let go with the queue");
        assert_eq!(co.len(), 0);
    }

    #[test]
    fn subscribers_get_what_was_published_after_they_subscribed() {
        let mut co = Coordination::default();
        run(&mut co, 1, 1, CoordOp::Publish { topic: "t".into(), value: Value::Int(0) });
        let sub = match run(&mut co, 2, 1, CoordOp::Subscribe { topic: "t".into() }).answers[0].2 {
            CoordAnswer::Count(id) => id,
            ref other => panic!("{other:?}"),
        };
        let next = || CoordOp::Next { topic: "t".into(), subscription: sub };
        assert!(run(&mut co, 2, 2, next()).answers.is_empty(), "nothing yet: it waits");
        let fx = run(&mut co, 1, 2, CoordOp::Publish { topic: "t".into(), value: Value::Int(1) });
        assert_eq!(fx.answers[0], (2, 2, CoordAnswer::Item(value(1))));
        assert_eq!(fx.answers[1], (1, 2, CoordAnswer::Count(1)));
        run(&mut co, 1, 3, CoordOp::Publish { topic: "t".into(), value: Value::Int(2) });
        assert_eq!(run(&mut co, 2, 3, next()).answers, vec![(2, 3, CoordAnswer::Item(value(2)))]);
        let stranger = run(&mut co, 3, 1, next());
        assert!(matches!(stranger.answers[0].2, CoordAnswer::Refused(_)), "a subscription is its client's");
    }
}
