//! Where a task may run: the worker holding most of its inputs, then the least loaded; and
//! worker restrictions (`workers`, `allow_other_workers`) and abstract resources (`GPU=1`),
//! from the task's hints.
//!
//! A constrained task that cannot be placed now is *blocked*: it leaves the ready heap for
//! `blocked` (some worker could run it once something finishes) or `unrunnable` (no connected
//! worker could ever run it: it waits, counted in the stats as `no_worker`, until such a
//! worker joins). Each round retries blocked tasks in priority order but gives up after a few
//! consecutive failures, so a long line of tasks waiting for one GPU costs a few heap
//! operations per event, not a scan of the line.

use std::cmp::Reverse;

use smallvec::SmallVec;

use rask_graph::Annotations;

use super::{Priority, State, TaskId, TaskState, Worker, WorkerId};

/// Blocked tasks tried in one round after the last one placed.
const BLOCKED_TRIES: usize = 16;

/// Why a constrained task was not placed.
enum Blocked {
    /// Some worker could run it, once it has room or the resources are free.
    Busy,
    /// No connected worker has the resources or is allowed.
    Nowhere,
}

impl Worker {
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
    /// Of the workers `eligible` accepts, the one holding most of `t`'s inputs, then the least
    /// loaded.
    /// The worker for `t` among those with room (`schedule` checked that one has).
    pub(super) fn choose_worker(&self, t: TaskId) -> WorkerId {
        self.choose_worker_among(t, Worker::has_room).expect("schedule checked that some worker has room")
    }

    pub(super) fn choose_worker_among(&self, t: TaskId, eligible: impl Fn(&Worker) -> bool) -> Option<WorkerId> {
        let mut local_bytes: SmallVec<[(WorkerId, u64); 4]> = SmallVec::new();
        for &d in &self.task(t).deps {
            let dep = self.task(d);
            for &w in &dep.who_has {
                match local_bytes.iter_mut().find(|(x, _)| *x == w) {
                    Some((_, b)) => *b += dep.nbytes.max(1),
                    None => local_bytes.push((w, dep.nbytes.max(1))),
                }
            }
        }
        self.workers
            .iter()
            .filter(|(_, w)| eligible(w))
            .max_by_key(|(id, w)| {
                let local = local_bytes.iter().find(|(x, _)| x == *id).map_or(0, |(_, b)| *b);
                // More local bytes first; then the emptier worker (relative to its threads);
                // then the lower id, for determinism.
                (local, Reverse(w.processing.len() * 64 / w.nthreads), Reverse(**id))
            })
            .map(|(&id, _)| id)
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
