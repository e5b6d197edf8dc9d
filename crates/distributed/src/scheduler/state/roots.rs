//! Roots with large results wait on the scheduler: a worker holds at most `nthreads + 1` of
//! them at a time (Dask's worker-saturation for root tasks). Without it, a worker given
//! `nthreads + SATURATION` roots that each make a block of data (a random array's chunks)
//! made them all before their consumers ran, and held them: on `(x + x.T).sum(axis=0)` the
//! cluster's memory grew to half the data while threads, following the order, kept a tenth.
//! Roots whose group is known to make small results (or not known yet) are handed out as
//! before, so graphs of many tiny tasks keep their throughput.

use super::{State, TaskId, WorkerId};

/// Results at least this large on average make a group's roots wait for room.
pub const LARGE_RESULT: u64 = 1 << 20;

impl State {
    /// A task with no dependencies whose group's results are large.
    pub(super) fn is_large_root(&self, t: TaskId) -> bool {
        let task = self.task(t);
        task.deps.is_empty() && self.groups.mean_nbytes(task.group).is_some_and(|b| b >= LARGE_RESULT)
    }

    /// The worker with room for another large root (fewer than `nthreads + 1` in progress),
    /// the least loaded first.
    pub(super) fn root_worker(&self) -> Option<WorkerId> {
        self.workers
            .iter()
            .filter(|(_, w)| w.has_room())
            .filter(|(_, w)| w.processing.iter().filter(|&&p| self.is_large_root(p)).count() < w.nthreads + 1)
            .min_by_key(|(id, w)| (w.processing.len() * 64 / w.nthreads, **id))
            .map(|(&id, _)| id)
    }
}
