//! Data placement without tasks: scattering a client's values onto workers, replicating
//! results, rebalancing memory between workers, and the `who_has`/`has_what` views.
//!
//! A scattered value becomes a task with no computation (`scattered`), `Processing` on the
//! worker it was sent to until that worker says it holds it (`Stored`), then `Memory` like any
//! result. Copies (replication, rebalancing) are fetched by the receiving worker from a holder;
//! when one lands the receiver becomes a holder, and for a move the sender then drops its copy.
//! A scattered value lost with every holder cannot be recomputed: it is an error naming it.
//!
//! Copies in flight are kept in `State::copying`; `replicate` and `rebalance` are answered
//! (with `WhoHas` and `HasWhat`) once none is left — landed, failed, or lost with a worker.

use std::time::{SystemTime, UNIX_EPOCH};

use rask_graph::{Key, Value};
use rask_protocol::dist::{EncodedOp, TaskRecord, ToClient, NO_ID};
use rask_protocol::OpMsg;

use super::{ClientId, State, TaskId, TaskState, WorkerId};

impl State {
    /// Client `c` scatters `items`: each goes to the least loaded worker (with `broadcast`,
    /// to every worker), wanted by `c`.
    pub fn scatter(&mut self, c: ClientId, items: Vec<(Key, Value)>, broadcast: bool) {
        let keys: Vec<Key> = items.iter().map(|(k, _)| k.clone()).collect();
        self.want(c, &keys);
        let mut loads = self.loads();
        for (key, value) in items {
            if self.index.get(&key, &self.tasks).is_some() {
                continue; // keys are identities: already known, already placed
            }
            let Some(w) = loads.take(&[], value.nbytes() as u64) else {
                let error = format!("scatter of {key}: no worker is connected");
                self.out.to_clients.push((c, ToClient::Erred { key, error, cause: None }));
                continue;
            };
            let op = EncodedOp::new(&OpMsg::Const(Value::None));
            let rank = self.submitted;
            self.submitted += 1;
            let t = self.insert_task(c, key.clone(), op, None, Default::default(), rank);
            self.rare_mut(t).scattered = true;
            self.set_state(t, TaskState::Processing(w));
            let group = self.task(t).group;
            self.workers.get_mut(&w).expect("chosen worker").take_on(t, group);
            if broadcast {
                let others: Vec<WorkerId> = self.workers.keys().copied().filter(|&x| x != w).collect();
                for x in others {
                    self.out.store.entry(x).or_default().push((key.clone(), value.clone()));
                }
            }
            self.out.store.entry(w).or_default().push((key, value));
        }
        self.run_release_checks();
    }

    /// Copies each of `keys` (if in memory) until it is on `n` workers (all, at most); client
    /// `c` is answered when the copies are done.
    pub fn replicate(&mut self, c: ClientId, keys: Vec<Key>, n: u32) {
        let mut loads = self.loads();
        for key in &keys {
            let Some(t) = self.index.get(key, &self.tasks) else { continue };
            if self.task(t).state != TaskState::Memory {
                continue;
            }
            let source = self.task(t).who_has.clone();
            let want = (n as usize).min(self.workers.len());
            let mut taken: Vec<WorkerId> = source.to_vec();
            while taken.len() < want {
                let Some(to) = loads.take(&taken, self.task(t).nbytes()) else { break };
                taken.push(to);
                self.copying.insert((t, to), None);
                let from = source.iter().map(|h| self.workers[h].addr.clone()).collect();
                self.out.fetch.entry(to).or_default().push((key.clone(), from));
            }
        }
        self.placement_waiters.push((c, Some(keys)));
        self.settle_copies();
    }

    /// Moves results from workers holding more bytes than the mean to those holding less,
    /// largest first, until each sender is near the mean. Results being read by a running
    /// task stay where they are. Client `c` is answered when the moves are done.
    pub fn rebalance(&mut self, c: ClientId) {
        self.placement_waiters.push((c, None));
        if self.workers.len() < 2 {
            self.settle_copies();
            return;
        }
        let mut load: Vec<(WorkerId, u64)> =
            self.workers.iter().filter(|(_, w)| !w.retiring).map(|(&w, _)| (w, self.held_bytes(w))).collect();
        let mean = load.iter().map(|(_, b)| b).sum::<u64>() / load.len() as u64;
        load.sort_by_key(|&(w, b)| (std::cmp::Reverse(b), w));
        for i in 0..load.len() {
            let (from, mut bytes) = load[i];
            if bytes <= mean {
                break;
            }
            let mut movable: Vec<TaskId> = self.workers[&from]
                .holds
                .iter()
                .copied()
                .filter(|&t| self.task(t).state == TaskState::Memory && self.task(t).active_dependents == 0)
                .filter(|&t| self.task(t).who_has.len() == 1)
                .collect();
            movable.sort_by_key(|&t| (std::cmp::Reverse(self.task(t).nbytes()), t));
            for t in movable {
                if bytes <= mean {
                    break;
                }
                let Some(slot) = load
                    .iter()
                    .position(|&(w, b)| w != from && b + self.task(t).nbytes() <= mean + self.task(t).nbytes() / 2)
                else {
                    continue;
                };
                let to = load[slot].0;
                let nbytes = self.task(t).nbytes();
                load[slot].1 += nbytes;
                bytes -= nbytes;
                self.copying.insert((t, to), Some(from));
                let key = self.task(t).key.key();
                let addr = self.workers[&from].addr.clone();
                self.out.fetch.entry(to).or_default().push((key, vec![addr]));
            }
        }
        self.settle_copies();
    }

    /// Worker `w` holds these results now (a scatter, or a copy it fetched); it could not
    /// copy those `failed`.
    pub fn stored(&mut self, w: WorkerId, items: Vec<(Key, u64)>, failed: &[Key]) {
        for key in failed {
            if let Some(t) = self.index.get(key, &self.tasks) {
                self.copying.remove(&(t, w));
            }
        }
        for (key, nbytes) in items {
            let Some(t) = self.index.get(&key, &self.tasks) else {
                self.out.release.entry(w).or_default().push(key.into());
                continue;
            };
            match self.task(t).state {
                TaskState::Processing(p) if p == w && self.is_scattered(t) => {
                    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64);
                    let record = TaskRecord {
                        key,
                        nbytes,
                        start_us: now,
                        stop_us: now,
                        thread: 0,
                        transfers: Vec::new(),
                        id: NO_ID,
                    };
                    self.done(w, vec![record]);
                }
                // A broadcast copy that landed before the first: a holder already.
                TaskState::Processing(_) if self.is_scattered(t) => {
                    self.task_mut(t).who_has.push(w);
                    self.workers.get_mut(&w).map(|x| x.holds.insert(t));
                }
                TaskState::Memory => {
                    let task = self.task_mut(t);
                    if !task.who_has.contains(&w) {
                        task.who_has.push(w);
                    }
                    self.workers.get_mut(&w).map(|x| x.holds.insert(t));
                    if let Some(Some(from)) = self.copying.remove(&(t, w)) {
                        self.task_mut(t).who_has.retain(|h| *h != from);
                        if let Some(worker) = self.workers.get_mut(&from) {
                            worker.holds.remove(&t);
                            self.out.release.entry(from).or_default().push(key.into());
                        }
                    }
                }
                _ => self.out.release.entry(w).or_default().push(key.into()),
            }
        }
        self.settle_copies();
    }

    /// With no copy in flight, answers the clients waiting on `replicate` and `rebalance`.
    pub(super) fn settle_copies(&mut self) {
        if !self.copying.is_empty() {
            return;
        }
        for (c, keys) in std::mem::take(&mut self.placement_waiters) {
            let answer = match keys {
                Some(keys) => ToClient::WhoHas { holders: self.who_has(&keys) },
                None => ToClient::HasWhat { workers: self.has_what() },
            };
            self.out.to_clients.push((c, answer));
        }
    }

    /// Every worker's address and the keys it holds, in the order workers joined.
    pub fn has_what(&self) -> Vec<(String, Vec<Key>)> {
        let mut ids: Vec<&WorkerId> = self.workers.keys().collect();
        ids.sort();
        ids.into_iter()
            .map(|w| {
                let worker = &self.workers[w];
                let mut keys: Vec<Key> = worker.holds.iter().map(|&t| self.task(t).key.key()).collect();
                keys.sort();
                (worker.addr.clone(), keys)
            })
            .collect()
    }

    /// Bytes of results worker `w` holds, by the scheduler's count.
    fn held_bytes(&self, w: WorkerId) -> u64 {
        self.workers[&w].holds.iter().map(|&t| self.task(t).nbytes()).sum()
    }

    /// Each worker's load (bytes held, plus one per task it runs), retiring ones left out:
    /// counted once for a batch of placements, so placing n values costs O(workers · n).
    pub(super) fn loads(&self) -> Loads {
        let mut loads: Vec<(WorkerId, u64)> = self
            .workers
            .iter()
            .filter(|(_, w)| !w.retiring)
            .map(|(&id, w)| (id, self.held_bytes(id) + w.processing.len() as u64))
            .collect();
        loads.sort_unstable();
        Loads(loads)
    }
}

/// Workers' loads during a batch of placements (see [`State::loads`]).
pub(super) struct Loads(Vec<(WorkerId, u64)>);

impl Loads {
    /// The least loaded worker not in `except`, charged `nbytes` for what it will take.
    pub(super) fn take(&mut self, except: &[WorkerId], nbytes: u64) -> Option<WorkerId> {
        let slot = self.0.iter_mut().filter(|(w, _)| !except.contains(w)).min_by_key(|(w, load)| (*load, *w))?;
        slot.1 += nbytes.max(1);
        Some(slot.0)
    }
}
