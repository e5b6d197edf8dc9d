//! What the scheduler remembers of past work, bounded: the task stream (the last
//! [`STREAM_EVENTS`] finished tasks, numbered so readers ask for what is new), per-worker
//! samples (the last [`SAMPLES`]), and completions per second for the throughput.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use rask_protocol::dist::{TaskEvent, TaskRecord, Transfer, WorkerSample};

use super::stored_key::StoredKey;

/// Task events kept (Dask keeps 100k too).
pub const STREAM_EVENTS: usize = 100_000;
/// Worker samples kept: an hour of one worker, a few minutes of many.
pub const SAMPLES: usize = 3_600;
/// Seconds over which throughput is averaged.
const THROUGHPUT_WINDOW: u64 = 5;

/// A finished task as the ring keeps it: cheap to record (reference-counted names, the key
/// as its encoded bytes — inline for most keys, where a decoded tuple key is an allocation of
/// its own, a hundred thousand of them in a full ring), turned into a [`TaskEvent`] only when
/// someone reads it.
pub(crate) struct Recorded {
    seq: u64,
    group: Arc<str>,
    worker: Arc<str>,
    key: StoredKey,
    nbytes: u64,
    start_us: u64,
    stop_us: u64,
    thread: u32,
    transfers: Vec<Transfer>,
}

impl Recorded {
    /// `record`'s event; `key` is its key, stored.
    pub(super) fn new(group: Arc<str>, worker: Arc<str>, key: StoredKey, record: TaskRecord) -> Recorded {
        let TaskRecord { nbytes, start_us, stop_us, thread, transfers, .. } = record;
        Recorded { seq: 0, group, worker, key, nbytes, start_us, stop_us, thread, transfers }
    }

    fn event(&self) -> TaskEvent {
        TaskEvent {
            seq: self.seq,
            key: self.key.key().to_string(),
            group: self.group.to_string(),
            worker: self.worker.to_string(),
            thread: self.thread,
            start_us: self.start_us,
            stop_us: self.stop_us,
            nbytes: self.nbytes,
            transfers: self.transfers.clone(),
        }
    }
}

pub(crate) struct Monitor {
    pub(crate) started: Instant,
    events: VecDeque<Recorded>,
    /// The `seq` the next event gets.
    next_seq: u64,
    samples: VecDeque<WorkerSample>,
    /// (second since start, tasks finished in it), newest last.
    per_second: VecDeque<(u64, u64)>,
    /// How late the last tick was handled.
    pub(crate) loop_latency_us: u64,
    /// Events recorded since the ring's newest keys were last copied together
    /// ([`Monitor::compact`]).
    since_compacted: usize,
}

impl Default for Monitor {
    fn default() -> Monitor {
        Monitor {
            started: Instant::now(),
            // Its full size at once (pages are only touched as it fills): grown by doubling it
            // would copy itself into 131,072 slots, both copies alive during the move.
            events: VecDeque::with_capacity(STREAM_EVENTS),
            next_seq: 1,
            samples: VecDeque::new(),
            per_second: VecDeque::new(),
            loop_latency_us: 0,
            since_compacted: 0,
        }
    }
}

impl Monitor {
    /// Appends a finished task's event (its `seq` is assigned here).
    pub(crate) fn push(&mut self, mut event: Recorded) {
        event.seq = self.next_seq;
        self.next_seq += 1;
        if self.events.len() == STREAM_EVENTS {
            self.events.pop_front();
        }
        self.events.push_back(event);
        self.since_compacted += 1;
    }

    /// Called when the scheduler becomes idle: the newest records may point at allocations
    /// made while their tasks ran (keys too long to keep inline, transfer lists), scattered
    /// among the freed task tables, and those few live objects would keep whole pages from
    /// being returned to the system. Copying them together lets an idle scheduler shrink
    /// back. Only records new since the last call are copied (older ones were copied then),
    /// so each record is copied once.
    pub(crate) fn compact(&mut self) {
        let new = std::mem::take(&mut self.since_compacted).min(self.events.len());
        let start = self.events.len() - new;
        for event in self.events.range_mut(start..) {
            // A copy of inline bytes, a fresh allocation for long ones.
            event.key = event.key.clone();
            if !event.transfers.is_empty() {
                event.transfers = event.transfers.clone();
            }
        }
    }

    /// `n` tasks finished now.
    pub(crate) fn count_done(&mut self, n: u64) {
        let second = self.started.elapsed().as_secs();
        match self.per_second.back_mut() {
            Some((s, count)) if *s == second => *count += n,
            _ => {
                self.per_second.push_back((second, n));
                while self.per_second.front().is_some_and(|(s, _)| *s + THROUGHPUT_WINDOW < second) {
                    self.per_second.pop_front();
                }
            }
        }
    }

    /// Tasks per second over the last [`THROUGHPUT_WINDOW`] seconds (or since the start, if
    /// younger), the current second included.
    pub(crate) fn throughput(&self) -> f64 {
        let elapsed = self.started.elapsed().as_secs_f64();
        let first = (elapsed as u64).saturating_sub(THROUGHPUT_WINDOW - 1);
        let done: u64 = self.per_second.iter().filter(|(s, _)| *s >= first).map(|(_, n)| n).sum();
        done as f64 / (elapsed - first as f64).max(1.0)
    }

    /// Events after position `since` (`u64::MAX`: none), and the position after the last.
    pub(crate) fn events_since(&self, since: u64) -> (Vec<TaskEvent>, u64) {
        let first = self.events.front().map_or(self.next_seq, |e| e.seq);
        let skip = since.saturating_add(1).saturating_sub(first).min(self.events.len() as u64) as usize;
        (self.events.iter().skip(skip).map(Recorded::event).collect(), self.next_seq - 1)
    }

    pub(crate) fn sample(&mut self, sample: WorkerSample) {
        if self.samples.len() == SAMPLES {
            self.samples.pop_front();
        }
        self.samples.push_back(sample);
    }

    pub(crate) fn samples_since(&self, since_us: u64) -> Vec<WorkerSample> {
        let start = self.samples.partition_point(|s| s.time_us < since_us);
        self.samples.range(start..).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rask_graph::Key;

    fn record(key: &Key) -> (StoredKey, TaskRecord) {
        let record = TaskRecord {
            key: key.clone(),
            nbytes: 8,
            start_us: 1,
            stop_us: 2,
            thread: 0,
            transfers: Vec::new(),
            id: 0,
        };
        (StoredKey::new(key), record)
    }

    fn event(key: &str) -> Recorded {
        let (key, record) = record(&Key::str(key));
        Recorded::new("g".into(), "w".into(), key, record)
    }

    #[test]
    fn readers_get_what_is_new_and_the_ring_keeps_the_last() {
        let mut m = Monitor::default();
        assert_eq!(m.events_since(0), (Vec::new(), 0));
        for i in 0..3 {
            m.push(event(&format!("k{i}")));
        }
        let (all, next) = m.events_since(0);
        assert_eq!((all.len(), next, all[0].seq), (3, 3, 1));
        let (new, next) = m.events_since(2);
        assert_eq!((new.len(), new[0].key.as_str(), next), (1, "'k2'", 3));
        assert_eq!(m.events_since(u64::MAX), (Vec::new(), 3), "from now on: nothing, and the position");
        for i in 3..STREAM_EVENTS + 10 {
            m.push(event(&format!("k{i}")));
        }
        let (kept, next) = m.events_since(0);
        assert_eq!(kept.len(), STREAM_EVENTS);
        assert_eq!((kept[0].seq, next), (11, (STREAM_EVENTS + 10) as u64), "the oldest ten wrapped out");
        assert_eq!(m.events_since(next - 1).0.len(), 1);
    }

    #[test]
    fn throughput_counts_the_current_second_and_a_young_scheduler_by_its_age() {
        let mut m = Monitor::default();
        assert_eq!(m.throughput(), 0.0);
        m.count_done(30);
        m.count_done(20);
        assert_eq!(m.throughput(), 50.0, "50 tasks in the first second");
    }

    #[test]
    fn compaction_copies_new_records_allocations_apart_and_keeps_the_stream() {
        let mut m = Monitor::default();
        let long = Key::tuple([Key::str("a key too long to be kept inline by its bytes"), Key::Int(1)]);
        let transfer = Transfer { from: "tcp://peer".into(), nbytes: 8, start_us: 1, stop_us: 2 };
        for _ in 0..STREAM_EVENTS / 2 {
            let (key, mut record) = record(&long);
            record.transfers = vec![transfer.clone()];
            m.push(Recorded::new("x".into(), "w".into(), key, record));
        }
        let before = m.events_since(0);
        let first = m.events[0].transfers.as_ptr();
        m.compact();
        assert_eq!(m.events_since(0), before, "the same stream");
        let copied = m.events[0].transfers.as_ptr();
        assert_ne!(copied, first, "the ring's transfer list is a copy of its own");
        m.push(event("one more"));
        m.compact();
        assert_eq!(m.events[0].transfers.as_ptr(), copied, "an old record is copied once, not again");
        assert_eq!(m.events_since(0).0[0].key, long.to_string());
    }

    #[test]
    fn samples_are_read_by_time() {
        let mut m = Monitor::default();
        for t in [10, 20, 30] {
            m.sample(WorkerSample {
                time_us: t,
                worker: "w".into(),
                bytes_in_memory: 0,
                bytes_spilled: 0,
                rss: 0,
                cpu_percent: 0.0,
                executing: 0,
            });
        }
        assert_eq!(m.samples_since(15).iter().map(|s| s.time_us).collect::<Vec<_>>(), vec![20, 30]);
        assert_eq!(m.samples_since(0).len(), 3);
    }
}
