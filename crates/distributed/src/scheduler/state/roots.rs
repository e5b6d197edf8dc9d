//! Roots with large results wait on the scheduler: a worker holds at most `nthreads + 1` of
//! them at a time (Dask's worker-saturation for root tasks). Without it, a worker given
//! `nthreads + SATURATION` roots that each make a block of data (a random array's chunks)
//! made them all before their consumers ran, and held them: on `(x + x.T).sum(axis=0)` the
//! cluster's memory grew to half the data while threads, following the order, kept a tenth.
//! Roots whose group is known to make small results (or not known yet) are handed out as
//! before, so graphs of many tiny tasks keep their throughput.

//!
//! The other way round, tasks known to run short may be handed out more generously: see
//! [`State::saturation`].

use super::{State, TaskId, WorkerId, SATURATION};

/// Results at least this large on average make a group's roots wait for room.
pub const LARGE_RESULT: u64 = 1 << 20;

/// For tasks known to be short (their group's mean run time so far), a worker may be given
/// more than [`SATURATION`]: about this much queued work a thread, so that a round trip to
/// the scheduler hides behind work however small the tasks are…
const QUEUED_WORK_US: u64 = 2_000;
/// …up to this many beyond one per thread,
pub const MAX_SATURATION: usize = 1024;
/// …and this many for roots (tasks without inputs).
pub const MAX_ROOT_SATURATION: usize = 64;

impl State {
    /// Tasks beyond one per thread a worker may hold when the next is `t`: [`SATURATION`],
    /// or for tasks of a group known to run short, enough for [`QUEUED_WORK_US`] a thread —
    /// up to [`MAX_SATURATION`], and up to [`MAX_ROOT_SATURATION`] for roots: handed out
    /// faster than their consumers reduce them, roots would fill the workers' memory (a task
    /// with inputs frees them as it makes its result).
    pub(super) fn saturation(&self, t: TaskId) -> usize {
        let task = self.task(t);
        let most = if task.deps.is_empty() { MAX_ROOT_SATURATION } else { MAX_SATURATION };
        match self.groups.mean_duration_us(task.group) {
            Some(mean) => ((QUEUED_WORK_US / mean.max(1)) as usize).clamp(SATURATION, most),
            None => SATURATION,
        }
    }

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
