//! How many tasks a worker is sent beyond one per thread. Enough queued work to hide the
//! round trip to the scheduler — by the tasks' measured running time, so a worker of
//! microsecond tasks is not left idle between assignments — and, for roots, few enough that
//! the results they make ahead of their consumers stay small.

use rask_protocol::dist::TaskRecord;

use super::Worker;

/// Tasks a worker may have beyond one per thread: enough to hide a network round trip behind
/// work, few enough that ready roots stay queued here. A worker whose tasks take microseconds
/// gets more (`Worker::saturation`).
pub const SATURATION: usize = 32;
/// The most a worker may have beyond one per thread, however short its tasks.
pub const MAX_SATURATION: usize = 512;
/// Work a worker keeps queued per thread, by its tasks' mean running time: 32 tasks of a
/// millisecond, or 512 tasks of a few microseconds. 32 tiny tasks last less than a round trip
/// through the scheduler, and the workers sat idle a third of the time between assignments.
const QUEUED_WORK_US: f64 = 2000.0;
/// Results a worker may make ahead of their consumers, per thread, through a deep queue of
/// roots: a root runs as soon as a thread is free, but its consumers arrive a round trip
/// later, so every queued root is a result held (`ready.rs`).
const ROOT_QUEUE_BYTES: u64 = 1 << 20;

impl Worker {
    /// Room for one more task (roots: [`Worker::has_room_for_root`]).
    pub(super) fn has_room(&self) -> bool {
        !self.report.paused && !self.retiring && self.occupied() < self.nthreads + self.saturation()
    }

    /// Room for a root whose group's results average `mean_nbytes` (`ready.rs`).
    pub(super) fn has_room_for_root(&self, mean_nbytes: Option<u64>) -> bool {
        !self.report.paused && !self.retiring && self.occupied() < self.nthreads + self.root_saturation(mean_nbytes)
    }

    /// Roots it may have beyond one per thread: as deep as [`Worker::saturation`] allows while
    /// their results, known to be small, fit in [`ROOT_QUEUE_BYTES`] per thread; [`SATURATION`]
    /// while their size is unknown.
    fn root_saturation(&self, mean_nbytes: Option<u64>) -> usize {
        let Some(nbytes) = mean_nbytes else { return SATURATION };
        let fit = ROOT_QUEUE_BYTES * self.nthreads as u64 / nbytes.max(1);
        self.saturation().min(fit.max(SATURATION as u64) as usize)
    }

    /// Tasks it may have beyond one per thread: [`QUEUED_WORK_US`] of work per thread by its
    /// tasks' mean running time, between one per thread and [`MAX_SATURATION`] ([`SATURATION`]
    /// until one has finished). Tasks of milliseconds and more wait in the scheduler rather
    /// than behind each other on one worker, and go to whichever worker frees a thread first
    /// (a deep queue of 60 ms tasks on one worker left the other idle). If the worker
    /// dies, only the first `nthreads + SATURATION` of its tasks in its running order count the
    /// death as an attempt; the rest had not started (`failures.rs::forget_worker`).
    pub(super) fn saturation(&self) -> usize {
        let Some(mean) = self.mean_task_us else { return SATURATION };
        let tasks = QUEUED_WORK_US * self.nthreads as f64 / mean.max(1.0);
        tasks.clamp(self.nthreads as f64, MAX_SATURATION as f64) as usize
    }

    /// Counts the running times of tasks it finished into its mean.
    pub(super) fn timed(&mut self, records: &[TaskRecord]) {
        for r in records {
            let us = r.stop_us.saturating_sub(r.start_us) as f64;
            self.mean_task_us = Some(self.mean_task_us.map_or(us, |mean| mean + (us - mean) / 16.0));
        }
    }
}
