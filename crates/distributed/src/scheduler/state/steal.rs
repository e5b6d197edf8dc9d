//! Work stealing: when nothing is queued and a worker has idle threads, the busiest worker is
//! asked for part of its backlog; what it has not started comes back and is queued again.

use std::cmp::Reverse;

use rask_graph::Key;

use super::{State, TaskId, TaskState, WorkerId};

impl State {
    /// Nothing is queued but a worker has idle threads: ask the busiest worker for half of its
    /// backlog (tasks whose inputs are small, so moving them costs little).
    pub(super) fn balance(&mut self) {
        const CHEAP_TO_MOVE: u64 = 1 << 20;
        let idle = self.workers.values().any(|w| !w.report.paused && !w.retiring && w.occupied() < w.nthreads);
        if !idle {
            return;
        }
        let victim = self
            .workers
            .iter()
            .filter(|(_, w)| w.occupied() > w.nthreads + 1)
            .max_by_key(|(id, w)| (w.occupied() - w.nthreads, Reverse(**id)))
            .map(|(&id, w)| (id, (w.occupied() - w.nthreads) / 2));
        let Some((victim, count)) = victim else { return };
        let mut candidates: Vec<TaskId> = self.workers[&victim]
            .processing
            .iter()
            .copied()
            .filter(|t| !self.stealing.contains(t))
            .filter(|&t| self.task(t).deps.iter().map(|&d| self.task(d).nbytes).sum::<u64>() < CHEAP_TO_MOVE)
            .collect();
        // The last in priority order are the last the victim would start.
        candidates.sort_by_key(|&t| Reverse(self.task(t).priority));
        candidates.truncate(count);
        self.ask_back(victim, candidates);
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
            self.workers.get_mut(&w).map(|x| x.processing.remove(&t));
            self.enqueue(t);
        }
        self.schedule();
        self.run_release_checks();
    }
}
