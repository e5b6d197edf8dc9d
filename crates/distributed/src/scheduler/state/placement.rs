//! Where a task may run: the worker expected to *start* it first — the work queued ahead of it
//! there, plus fetching the inputs it lacks (a round trip, and bytes at shared-memory speed
//! from a peer on the same host, at network speed from elsewhere) — then the one holding most
//! of its inputs, then the least loaded (Dask's `worker_objective`); and worker restrictions
//! (`workers`, `allow_other_workers`) and abstract resources (`GPU=1`), from the task's hints.
//!
//! A constrained task that cannot be placed now is *blocked*: it leaves the ready heap for
//! `blocked` (some worker could run it once something finishes) or `unrunnable` (no connected
//! worker could ever run it: it waits, counted in the stats as `no_worker`, until such a
//! worker joins). Each round retries blocked tasks in priority order but gives up after a few
//! consecutive failures, so a long line of tasks waiting for one GPU costs a few heap
//! operations per event, not a scan of the line.

use std::cmp::Reverse;

use rask_graph::Annotations;
use smallvec::SmallVec;

use super::groups::GroupId;
use super::{Priority, State, TaskId, TaskState, Worker, WorkerId};

/// Blocked tasks tried in one round after the last one placed.
const BLOCKED_TRIES: usize = 16;
/// A fetch's round trip to a peer, µs, whatever it carries.
const FETCH_US: f64 = 100.0;
/// Bytes a µs a worker receives from a peer on its host (it maps the peer's segment) and from
/// one elsewhere (Dask's default bandwidth estimate, 100 MB/s).
const SAME_HOST_BYTES_PER_US: f64 = 4000.0;
const NETWORK_BYTES_PER_US: f64 = 100.0;

/// The host part of a worker's address, hashed (`tcp://10.0.0.5:4000` → `10.0.0.5`).
pub(super) fn host_of(addr: &str) -> u64 {
    use std::hash::BuildHasher;
    let rest = addr.split_once("://").map_or(addr, |(_, rest)| rest);
    let host = rest.rsplit_once(':').map_or(rest, |(host, _)| host);
    rustc_hash::FxBuildHasher.hash_one(host)
}

/// Why a constrained task was not placed.
enum Blocked {
    /// Some worker could run it, once it has room or the resources are free.
    Busy,
    /// No connected worker has the resources or is allowed.
    Nowhere,
}

impl Worker {
    /// `t`, of group `group`, is sent here.
    pub(super) fn take_on(&mut self, t: TaskId, group: GroupId) {
        if !self.processing.insert(t) {
            return;
        }
        match self.work.iter_mut().find(|(g, _)| *g == group) {
            Some((_, n)) => *n += 1,
            None => self.work.push((group, 1)),
        }
    }

    /// `t`, of group `group`, is done here (finished, failed, given back).
    fn let_go(&mut self, t: TaskId, group: GroupId) {
        if !self.processing.remove(&t) {
            return;
        }
        if let Some(i) = self.work.iter().position(|(g, _)| *g == group) {
            self.work[i].1 -= 1;
            if self.work[i].1 == 0 {
                self.work.swap_remove(i);
            }
        }
    }

    /// Whether this worker has `hints`' resources in total (free or not).
    fn could_hold(&self, hints: &Annotations) -> bool {
        hints.resources.iter().all(|(name, amount)| self.resource(name).is_some_and(|(total, _)| total >= *amount))
    }

    /// Whether `hints`' resources are free here now.
    fn has_free(&self, hints: &Annotations) -> bool {
        hints.resources.iter().all(|(name, amount)| self.resource(name).is_some_and(|(_, free)| free >= *amount))
    }

    /// (total, free) of one resource.
    fn resource(&self, name: &str) -> Option<(f64, f64)> {
        let i = self.resources.iter().position(|(n, _)| n == name)?;
        Some((self.resources[i].1, self.free[i]))
    }

    /// Takes (`sign` -1) or gives back (+1) `hints`' resources.
    pub(super) fn account(&mut self, hints: &Annotations, sign: f64) {
        for (name, amount) in &hints.resources {
            if let Some(i) = self.resources.iter().position(|(n, _)| n == name) {
                self.free[i] += sign * amount;
            }
        }
    }
}

impl State {
    /// How long until a task sent to worker `w` now would start there (µs): 0 while a thread
    /// is free, else the work it is processing spread over its threads — each task at its
    /// group's mean running time (the worker's mean for a group none of which has run yet),
    /// not at the worker's mean, which a run of tiny tasks drags to nothing while long ones
    /// queue.
    pub(super) fn backlog_us(&self, w: &Worker) -> f64 {
        if w.occupied() < w.nthreads {
            return 0.0;
        }
        let fallback = w.mean_task_us.unwrap_or(0.0);
        let work: f64 =
            w.work.iter().map(|&(g, n)| f64::from(n) * self.groups.mean_duration_us(g).unwrap_or(fallback)).sum();
        work / w.nthreads as f64
    }

    /// `t` leaves worker `w`'s processing set.
    pub(super) fn unassign(&mut self, w: WorkerId, t: TaskId) {
        let group = self.task(t).group;
        if let Some(worker) = self.workers.get_mut(&w) {
            worker.let_go(t, group);
        }
    }

    /// The worker for `t` among those with room (`schedule` checked that one has).
    pub(super) fn choose_worker(&self, t: TaskId) -> WorkerId {
        self.choose_worker_among(t, Worker::has_room).expect("schedule checked that some worker has room")
    }

    /// Of the workers `eligible` accepts, the one expected to start `t` first (see above).
    pub(super) fn choose_worker_among(&self, t: TaskId, eligible: impl Fn(&Worker) -> bool) -> Option<WorkerId> {
        let inputs = self.inputs(t);
        self.workers
            .iter()
            .filter(|(_, w)| eligible(w))
            .min_by_key(|(&id, w)| {
                let (local, fetch_us) = inputs.at(id, w.host);
                // Soonest start first; then more local bytes; then the emptier worker (relative
                // to its threads); then the lower id, for determinism.
                let start_us = (self.backlog_us(w) + fetch_us) as u64;
                (start_us, Reverse(local), w.processing.len() * 64 / w.nthreads, id)
            })
            .map(|(&id, _)| id)
    }

    /// Where `t`'s inputs are: one pass over its dependencies and their holders, so that
    /// weighing every worker costs a lookup each, not another pass.
    pub(super) fn inputs(&self, t: TaskId) -> Inputs {
        let mut inputs = Inputs::default();
        for &d in &self.task(t).deps {
            let dep = self.task(d);
            inputs.count += 1;
            inputs.bytes += dep.nbytes();
            let mut hosts: SmallVec<[u64; 2]> = SmallVec::new();
            for &w in dep.who_has.iter() {
                add(&mut inputs.by_worker, w, dep.nbytes());
                let host = self.workers.get(&w).map_or(0, |x| x.host);
                if !hosts.contains(&host) {
                    hosts.push(host);
                    add(&mut inputs.by_host, host, dep.nbytes());
                }
            }
        }
        inputs
    }

    /// The task's hints, when they restrict where it runs.
    pub(super) fn constraints(&self, t: TaskId) -> Option<&Annotations> {
        self.task(t).hints.as_deref().filter(|h| !h.resources.is_empty() || !h.workers.is_empty())
    }

    /// Places a constrained ready task, or sets it aside as blocked.
    pub(super) fn place_constrained(&mut self, p: Priority, t: TaskId) {
        match self.constrained_worker(t) {
            Ok(w) => self.assign(t, w),
            Err(Blocked::Busy) => self.blocked.push(Reverse((p, t))),
            Err(Blocked::Nowhere) => self.unrunnable.push((p, t)),
        }
    }

    fn constrained_worker(&self, t: TaskId) -> Result<WorkerId, Blocked> {
        let hints = self.constraints(t).expect("a constrained task");
        let allowed = |w: &Worker| hints.names_worker(&w.addr);
        let strict = self.choose_worker_among(t, |w| allowed(w) && w.has_room() && w.has_free(hints));
        if let Some(w) = strict {
            return Ok(w);
        }
        let ever = |w: &Worker| w.could_hold(hints) && (hints.allow_other_workers || allowed(w));
        if hints.allow_other_workers {
            if let Some(w) = self.choose_worker_among(t, |w| w.has_room() && w.has_free(hints)) {
                return Ok(w);
            }
        }
        if self.workers.values().any(ever) {
            Err(Blocked::Busy)
        } else {
            Err(Blocked::Nowhere)
        }
    }

    /// Retries blocked tasks, best priority first, until `BLOCKED_TRIES` in a row stay blocked.
    pub(super) fn schedule_blocked(&mut self) {
        let mut aside = Vec::new();
        let mut misses = 0;
        while misses < BLOCKED_TRIES {
            if !self.workers.values().any(Worker::has_room) {
                break;
            }
            let Some(Reverse((p, t))) = self.blocked.pop() else { break };
            if self.tasks[t].as_ref().is_none_or(|task| task.state != TaskState::Queued) {
                continue; // stale
            }
            match self.constrained_worker(t) {
                Ok(w) => {
                    self.assign(t, w);
                    misses = 0;
                }
                Err(Blocked::Busy) => {
                    aside.push(Reverse((p, t)));
                    misses += 1;
                }
                Err(Blocked::Nowhere) => self.unrunnable.push((p, t)),
            }
        }
        self.blocked.extend(aside);
    }

    /// A worker joined: tasks no worker could run may run now.
    pub(super) fn retry_unrunnable(&mut self) {
        let unrunnable = std::mem::take(&mut self.unrunnable);
        self.blocked.extend(unrunnable.into_iter().map(Reverse));
    }

    /// Tasks waiting for a worker that has their resources or is allowed to run them.
    pub(super) fn no_worker_count(&self) -> u64 {
        let live = |t: TaskId| self.tasks[t].as_ref().is_some_and(|x| x.state == TaskState::Queued);
        let tasks: rustc_hash::FxHashSet<TaskId> =
            self.unrunnable.iter().map(|&(_, t)| t).filter(|&t| live(t)).collect();
        tasks.len() as u64
    }
}

/// A task's inputs by where they are (`State::inputs`).
#[derive(Default)]
pub(super) struct Inputs {
    count: u32,
    bytes: u64,
    /// (worker, inputs it holds, their bytes).
    by_worker: SmallVec<[(WorkerId, u32, u64); 4]>,
    /// (host, inputs some worker there holds, their bytes).
    by_host: SmallVec<[(u64, u32, u64); 4]>,
}

fn add<K: PartialEq>(sums: &mut SmallVec<[(K, u32, u64); 4]>, key: K, nbytes: u64) {
    match sums.iter_mut().find(|(k, _, _)| *k == key) {
        Some((_, n, b)) => {
            *n += 1;
            *b += nbytes;
        }
        None => sums.push((key, 1, nbytes)),
    }
}

/// (count, bytes) summed under `key`.
fn sum_of<K: PartialEq>(sums: &SmallVec<[(K, u32, u64); 4]>, key: K) -> (u32, u64) {
    sums.iter().find(|(k, _, _)| *k == key).map_or((0, 0), |&(_, n, b)| (n, b))
}

impl Inputs {
    /// Bytes of all the inputs.
    pub(super) fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Bytes of the inputs worker `w` (on `host`) holds (each at least 1), and how long
    /// fetching the rest would take it (µs).
    pub(super) fn at(&self, w: WorkerId, host: u64) -> (u64, f64) {
        let (held, held_bytes) = sum_of(&self.by_worker, w);
        let (_, near_bytes) = sum_of(&self.by_host, host);
        let near = near_bytes - held_bytes;
        let far = self.bytes - near_bytes;
        let fetch_us = near as f64 / SAME_HOST_BYTES_PER_US + far as f64 / NETWORK_BYTES_PER_US;
        let lacks = held < self.count;
        (held_bytes.max(u64::from(held)), fetch_us + if lacks { FETCH_US } else { 0.0 })
    }
}
