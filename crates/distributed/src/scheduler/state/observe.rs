//! What the state machine tells observers: the stats (counters, tasks by state, workers, task
//! groups), the task stream and worker samples, and each client's progress. Nothing here
//! changes a task's state.

use std::sync::Arc;
use std::time::Instant;

use rask_protocol::dist::{
    key_group, SchedulerStats, StateCounts, TaskEvent, TaskRecord, ToClient, WorkerSample, WorkerStatus,
};

use super::monitor::Recorded;
use super::stored_key::StoredKey;
#[cfg(test)]
use super::ClientId;
use super::{State, WorkerId};

/// Tasks a client's submissions added, and how many of them have finished.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClientProgress {
    pub done: u64,
    pub total: u64,
    /// What was last sent, and when.
    sent: (u64, u64),
    sent_at: Option<Instant>,
}

/// Progress is sent to a client at most this often (except its final update).
pub const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

/// Adaptive scaling aims to drain the queued work in about this long.
pub const TARGET_DRAIN_SECONDS: f64 = 2.0;

impl State {
    /// How many workers the work in hand calls for (Dask's adaptive target): with `pending`
    /// tasks queued or running, enough workers to drain them in about
    /// [`TARGET_DRAIN_SECONDS`] at the throughput of the workers there are; with nothing
    /// pending, the workers still running something. Bounds are the caller's (`adapt`).
    fn workers_wanted(&self, pending: u64, throughput: f64) -> u32 {
        let workers = self.workers.values().filter(|w| !w.retiring).count() as f64;
        let busy = self.workers.values().filter(|w| !w.processing.is_empty()).count() as u32;
        if pending == 0 {
            return busy;
        }
        if throughput <= 0.0 || workers == 0.0 {
            // Nothing finished lately to measure by: one more than now.
            return workers as u32 + 1;
        }
        let drain_seconds = pending as f64 / throughput;
        ((workers * drain_seconds / TARGET_DRAIN_SECONDS).ceil() as u32).max(busy).max(1)
    }

    pub fn stats(&self) -> SchedulerStats {
        let workers = &self.workers;
        let groups = self.groups.status();
        let total_states = groups.iter().fold(StateCounts::default(), |mut all, g| {
            all.released += g.states.released;
            all.waiting += g.states.waiting;
            all.queued += g.states.queued;
            all.processing += g.states.processing;
            all.memory += g.states.memory;
            all.erred += g.states.erred;
            all
        });
        let now = Instant::now();
        let throughput = self.monitor.throughput();
        SchedulerStats {
            workers: workers.len() as u32,
            tasks_known: self.index.len() as u64,
            bytes_in_memory: workers.values().map(|w| w.report.bytes_in_memory).sum(),
            bytes_spilled: workers.values().map(|w| w.report.bytes_spilled).sum(),
            workers_paused: workers.values().filter(|w| w.report.paused).count() as u32,
            bytes_fetched_by_reference: workers.values().map(|w| w.report.fetched_by_reference).sum(),
            bytes_fetched_by_copy: workers.values().map(|w| w.report.fetched_by_copy).sum(),
            task_slots: self.tasks.len() as u64,
            tasks_no_worker: self.no_worker_count(),
            coordination: self.coordination_len() as u64,
            states: total_states,
            throughput,
            workers_wanted: self.workers_wanted(total_states.queued + total_states.processing, throughput),
            event_loop_latency_us: self.monitor.loop_latency_us,
            uptime_s: self.monitor.started.elapsed().as_secs_f64(),
            address: self.address.clone(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            worker_status: self.worker_status(now),
            groups,
            ..self.stats.clone()
        }
    }

    /// Every worker, in the order they joined.
    fn worker_status(&self, now: Instant) -> Vec<WorkerStatus> {
        let mut ids: Vec<&WorkerId> = self.workers.keys().collect();
        ids.sort();
        ids.into_iter()
            .map(|id| {
                let w = &self.workers[id];
                WorkerStatus {
                    addr: w.addr.clone(),
                    nthreads: w.nthreads as u32,
                    memory_limit: w.memory_limit,
                    processing: w.processing.len() as u64,
                    keys_held: w.holds.len() as u64,
                    bytes_in_memory: w.report.bytes_in_memory,
                    bytes_spilled: w.report.bytes_spilled,
                    paused: w.report.paused,
                    resources: w.resources.clone(),
                    resources_free: w.free.clone(),
                    metrics: w.report.metrics,
                    last_seen_s: now.saturating_duration_since(w.seen).as_secs_f64(),
                }
            })
            .collect()
    }

    /// Task events after stream position `since`, and the position of the last.
    pub fn task_stream(&self, since: u64) -> (Vec<TaskEvent>, u64) {
        self.monitor.events_since(since)
    }

    pub fn worker_samples(&self, since_us: u64) -> Vec<WorkerSample> {
        self.monitor.samples_since(since_us)
    }

    /// How late the last once-a-second tick was handled (the event loop's latency).
    pub fn set_loop_latency(&mut self, latency: std::time::Duration) {
        self.monitor.loop_latency_us = latency.as_micros() as u64;
    }

    /// A finished task into the stream and its group's figures; `task` is its slot, if the
    /// scheduler still knows it.
    pub(super) fn record(&mut self, w: WorkerId, task: Option<super::TaskId>, key: StoredKey, record: TaskRecord) {
        let duration = record.stop_us.saturating_sub(record.start_us);
        let group = match task {
            Some(t) => {
                let g = self.task(t).group;
                self.groups.ran(g, duration, record.nbytes);
                self.groups.name(g)
            }
            None => Arc::from(key_group(&record.key)),
        };
        let worker = self.workers.get(&w).map_or_else(|| Arc::from(""), |x| x.name.clone());
        self.monitor.push(Recorded::new(group, worker, key, record));
    }

    /// Progress messages due: for each client whose counts changed, at most every
    /// `PROGRESS_EVERY`, and at once when all its tasks have finished. Called before the
    /// round's results are sent, so the final count arrives first.
    pub fn progress_due(&mut self, now: Instant) {
        for (&c, p) in self.progress.iter_mut() {
            let current = (p.done, p.total);
            let changed = current != p.sent;
            let finished = p.done == p.total;
            let waited = p.sent_at.is_none_or(|at| now.duration_since(at) >= PROGRESS_EVERY);
            if changed && (finished || waited) {
                p.sent = current;
                p.sent_at = Some(now);
                self.out.progress.push((c, ToClient::Progress { done: p.done, total: p.total }));
            }
        }
    }

    /// Checks that every group's counts are the task table's (tests call it after each step).
    #[cfg(test)]
    pub fn check_groups(&self) {
        use rustc_hash::FxHashMap;
        let mut expected: FxHashMap<String, StateCounts> = FxHashMap::default();
        for task in self.tasks.iter().flatten() {
            let counts = expected.entry(self.groups.name(task.group).to_string()).or_default();
            *super::groups::slot(counts, &task.state) += 1;
        }
        for group in self.groups.status() {
            let want = expected.remove(&group.name).unwrap_or_default();
            assert_eq!(group.states, want, "group {}", group.name);
        }
        assert!(expected.is_empty(), "tasks in no group: {expected:?}");
    }

    #[cfg(test)]
    pub fn progress_of(&self, c: ClientId) -> Option<(u64, u64)> {
        self.progress.get(&c).map(|p| (p.done, p.total))
    }
}
