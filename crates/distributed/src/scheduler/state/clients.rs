//! What clients ask of the state machine besides submitting: releasing and cancelling keys,
//! leaving, and where results are.

use rask_graph::Key;

use rask_protocol::coord::CoordOp;
use rask_protocol::dist::ToClient;

use super::coord::Effects;
use super::{ClientId, State, TaskId, TaskState, FIRED};

/// The client that wants the futures held in coordination structures.
const COORDINATION: ClientId = ClientId::MAX - 1;

impl State {
    /// Coordination request `id` of client `c` (a queue put, a lock acquire, …).
    pub fn coordinate(&mut self, c: ClientId, id: u64, op: CoordOp) {
        let mut fx = Effects::default();
        self.coord.request(c, id, op, &mut fx);
        self.apply(fx);
    }

    /// Client `c` stopped waiting for coordination request `id`.
    pub fn coordinate_cancel(&mut self, c: ClientId, id: u64) {
        let mut fx = Effects::default();
        self.coord.cancel(c, id, &mut fx);
        self.apply(fx);
    }

    /// Futures held or let go by structures, handed to clients, and the answers.
    fn apply(&mut self, fx: Effects) {
        self.want(COORDINATION, &fx.hold);
        for (c, key) in fx.hand {
            self.want(c, std::slice::from_ref(&key));
        }
        self.release(COORDINATION, &fx.unhold);
        for (c, id, answer) in fx.answers {
            self.out.coord.push((c, ToClient::Coord { id, answer }));
        }
    }

    /// Named coordination structures alive.
    pub fn coordination_len(&self) -> usize {
        self.coord.len()
    }

    /// Keeps these tasks running until they end though no client wants them (Dask's
    /// `fire_and_forget`): their results are released as soon as they are made.
    pub fn fire_and_forget(&mut self, keys: &[Key]) {
        for key in keys {
            let Some(t) = self.index.get(key, &self.tasks) else { continue };
            let task = self.task_mut(t);
            if task.state.is_active() && !task.wanted_by.contains(&FIRED) {
                task.wanted_by.push(FIRED);
            }
        }
    }

    /// A fired-and-forgotten task ended: nobody wants it any more.
    pub(super) fn drop_fired(&mut self, t: TaskId) {
        let task = self.task_mut(t);
        if let Some(i) = task.wanted_by.iter().position(|c| *c == FIRED) {
            task.wanted_by.swap_remove(i);
            self.release_checks.push(t);
        }
    }
    /// The client released these keys.
    pub fn release(&mut self, c: ClientId, keys: &[Key]) {
        for key in keys {
            let Some(t) = self.index.get(key, &self.tasks) else {
                if let Some(clients) = self.pending_wants.get_mut(key) {
                    clients.retain(|x| *x != c);
                }
                continue;
            };
            let task = self.task_mut(t);
            if let Some(i) = task.wanted_by.iter().position(|x| *x == c) {
                task.wanted_by.swap_remove(i);
                if !task.wanted_by.contains(&c) {
                    self.clients.get_mut(&c).map(|s| s.remove(&t));
                }
                self.release_checks.push(t);
            }
        }
        self.run_release_checks();
    }

    /// Cancels keys the client wants: unfinished ones (and what depends on them) become errors.
    pub fn cancel(&mut self, c: ClientId, keys: &[Key]) {
        for key in keys {
            if let Some(t) = self.index.get(key, &self.tasks) {
                if self.task(t).state.is_active() {
                    self.err(t, format!("task {key} was cancelled").into());
                }
            }
        }
        self.release(c, keys);
        self.schedule();
    }

    /// The client disconnected: everything it wanted is released.
    pub fn remove_client(&mut self, c: ClientId) {
        self.progress.remove(&c);
        self.placement_waiters.retain(|(x, _)| *x != c);
        self.forget_retirement_client(c);
        let mut fx = Effects::default();
        self.coord.remove_client(c, &mut fx);
        self.apply(fx);
        self.end_submission(c);
        let Some(wants) = self.clients.remove(&c) else { return };
        for t in wants {
            if let Some(task) = self.tasks[t].as_mut() {
                task.wanted_by.retain(|x| *x != c);
                self.release_checks.push(t);
            }
        }
        self.pending_wants.retain(|_, clients| {
            clients.retain(|x| *x != c);
            !clients.is_empty()
        });
        self.run_release_checks();
    }

    pub fn who_has(&self, keys: &[Key]) -> Vec<(Key, Vec<String>)> {
        keys.iter()
            .map(|k| {
                let holders = self.index.get(k, &self.tasks).map_or_else(Vec::new, |t| {
                    let task = self.task(t);
                    let in_memory = task.state == TaskState::Memory;
                    task.who_has.iter().filter(|_| in_memory).map(|w| self.workers[w].addr.clone()).collect()
                });
                (k.clone(), holders)
            })
            .collect()
    }
}
