//! Work stealing: when nothing is queued and a worker has idle threads, the busiest worker is
//! asked for part of its backlog — tasks worth moving, whose inputs an idle worker would fetch
//! in less time than the task takes to run; what it has not started comes back and is queued
//! again, and placement (`placement.rs`) sends it where it starts first.

use std::cmp::Reverse;

use rask_graph::Key;

use super::{State, TaskId, TaskState, WorkerId};

/// Tasks whose inputs total less than this move whatever their running time (unknown yet).
const CHEAP_TO_MOVE: u64 = 1 << 20;

impl State {
    /// Nothing is queued but a worker has idle threads: ask the busiest worker for half of its
    /// backlog (at least one task), of the tasks worth moving.
    pub(super) fn balance(&mut self) {
        let idle: Vec<WorkerId> = self
            .workers
            .iter()
            .filter(|(_, w)| !w.report.paused && !w.retiring && w.occupied() < w.nthreads)
            .map(|(&id, _)| id)
            .collect();
        if idle.is_empty() {
            return;
        }
        let victim = self
            .workers
            .iter()
            .filter(|(_, w)| w.occupied() > w.nthreads)
            .max_by_key(|(id, w)| (w.occupied() - w.nthreads, Reverse(**id)))
            .map(|(&id, w)| (id, (w.occupied() - w.nthreads).div_ceil(2)));
        let Some((victim, count)) = victim else { return };
        let candidates: Vec<TaskId> = self.workers[&victim]
            .processing
            .iter()
            .copied()
            .filter(|t| !self.stealing.contains(t))
            .filter(|&t| self.worth_moving(t, &idle))
            .collect();
        self.ask_back_last(victim, candidates, count);
    }

    /// Whether one of the `idle` workers would fetch `t`'s inputs in less time than `t` is
    /// expected to run (its group's mean); tasks of small inputs always are.
    fn worth_moving(&self, t: TaskId, idle: &[WorkerId]) -> bool {
        let inputs = self.inputs(t);
        if inputs.bytes() < CHEAP_TO_MOVE {
            return true;
        }
        let Some(runs_us) = self.groups.mean_duration_us(self.task(t).group) else { return false };
        idle.iter().any(|&w| self.workers.get(&w).is_some_and(|x| inputs.at(w, x.host).1 < runs_us))
    }

    /// Worker `w`'s tasks turned out long: its queue, filled while nothing was known of them,
    /// is now more than twice as deep as it may be (`saturation.rs`). What it has not started
    /// of the excess comes back, the last in priority order first, so that urgent tasks and
    /// idle workers need not wait behind it.
    pub(super) fn trim_queue(&mut self, w: WorkerId) {
        let Some(worker) = self.workers.get(&w) else { return };
        let allowed = worker.nthreads + worker.saturation();
        if worker.report.paused || worker.occupied() <= 2 * allowed {
            return;
        }
        let excess = worker.occupied() - allowed;
        let queued: Vec<TaskId> = worker.processing.iter().copied().filter(|t| !self.stealing.contains(t)).collect();
        self.ask_back_last(w, queued, excess);
    }

    /// Asks worker `w` back for the `count` of `tasks` last in priority order: the last it
    /// would start.
    fn ask_back_last(&mut self, w: WorkerId, mut tasks: Vec<TaskId>, count: usize) {
        tasks.sort_by_key(|&t| Reverse(self.task(t).priority()));
        tasks.truncate(count);
        self.ask_back(w, tasks);
    }

    /// Asks worker `w` to give back those of `tasks` it has not started (answered by
    /// [`State::stolen`]).
    pub(super) fn ask_back(&mut self, w: WorkerId, tasks: Vec<TaskId>) {
        if tasks.is_empty() {
            return;
        }
        let keys = tasks.iter().map(|&t| self.task(t).key.key()).collect::<Vec<_>>();
        self.stealing.extend(tasks);
        self.out.steal.entry(w).or_default().extend(keys);
    }

    /// Task `key` on worker `w` waits on its own subtasks without holding a thread: the
    /// worker has room for one more.
    pub fn seceded(&mut self, w: WorkerId, key: &Key) {
        let Some(t) = self.index.get(key, &self.tasks) else { return };
        if self.task(t).state == TaskState::Processing(w) {
            self.workers.get_mut(&w).map(|x| x.seceded.insert(t));
            self.schedule();
        }
    }

    /// The worker gave these tasks back: queue them again.
    pub fn stolen(&mut self, w: WorkerId, keys: &[Key]) {
        for key in keys {
            let Some(t) = self.index.get(key, &self.tasks) else { continue };
            if !self.stealing.remove(&t) || self.task(t).state != TaskState::Processing(w) {
                continue;
            }
            self.unassign(w, t);
            self.enqueue(t);
        }
        self.schedule();
        self.run_release_checks();
    }
}
