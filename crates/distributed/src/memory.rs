//! A worker's memory manager: the one place that decides when results go to disk and when the
//! worker stops taking tasks, as fractions of its `--memory-limit` (Dask's thresholds):
//!
//! - past [`SPILL`](crate::store::SPILL) (60%) of *managed* memory — the results the store
//!   holds, shared-memory segments included — the store spills its oldest results as they
//!   arrive;
//! - past [`PROCESS_SPILL`] (70%) of the process's resident memory, the monitor first lets go
//!   of the free segments and kept mappings (`sharing::shed`), then spills oldest results
//!   until resident memory is back under 60%, or nothing is left to spill;
//! - past [`PAUSE`](crate::store::PAUSE) (80%) of resident memory the worker pauses: task
//!   threads start nothing new and the scheduler sends nothing (and takes back what has not
//!   started).
//!
//! A pause always ends: it lasts only while it can help, that is while tasks are running (their
//! results can then be spilled) or results are left to spill. Memory the store cannot see and
//! nothing running will free (a leak, a library's cache) is reported once and does not stop
//! the worker forever.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use crate::store::{resident_bytes, Store, PAUSE, SPILL};

/// Resident memory, as a fraction of the limit, past which the monitor spills.
pub const PROCESS_SPILL: f64 = 0.7;
/// How often the monitor looks.
pub const MONITOR_EVERY: Duration = Duration::from_millis(50);

pub(crate) struct Memory {
    limit: u64,
    paused: AtomicBool,
    running: AtomicUsize,
    warned: AtomicBool,
    stopped: AtomicBool,
}

impl Memory {
    pub(crate) fn new(limit: u64) -> Arc<Memory> {
        Arc::new(Memory {
            limit,
            paused: AtomicBool::new(false),
            running: AtomicUsize::new(0),
            warned: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
        })
    }

    pub(crate) fn paused(&self) -> bool {
        self.paused.load(Relaxed)
    }

    /// Blocks a task thread while the worker is paused (or until the worker stops).
    pub(crate) fn wait_while_paused(&self) {
        while self.paused() && !self.stopped.load(Relaxed) {
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Tasks running now.
    pub(crate) fn executing(&self) -> usize {
        self.running.load(Relaxed)
    }

    /// Runs one task, counted as running (a pause can help while tasks run).
    pub(crate) fn running<R>(&self, task: impl FnOnce() -> R) -> R {
        struct Done<'a>(&'a AtomicUsize);
        impl Drop for Done<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Relaxed);
            }
        }
        self.running.fetch_add(1, Relaxed);
        let _done = Done(&self.running);
        task()
    }

    /// One look: spills until under the target if resident memory is high, then decides
    /// whether the worker should be paused. Returns that decision (also kept for
    /// [`Memory::paused`]).
    pub(crate) fn check(&self, store: &Store) -> bool {
        let paused = self.decide(store, resident_bytes);
        self.paused.store(paused, Relaxed);
        paused
    }

    fn decide(&self, store: &Store, resident: impl Fn() -> u64) -> bool {
        if self.limit == 0 {
            return false;
        }
        let at = |fraction: f64| (self.limit as f64 * fraction) as u64;
        if resident() > at(PROCESS_SPILL) {
            crate::sharing::shed();
            while resident() > at(SPILL) && store.spill_oldest().is_some() {}
        }
        let rss = resident();
        if rss <= at(PAUSE) {
            return false;
        }
        let helps = self.running.load(Relaxed) > 0 || store.spill_oldest().is_some();
        if !helps && !self.warned.swap(true, Relaxed) {
            tracing::warn!(
                "{rss} bytes resident, past the pause threshold ({} of the {}-byte limit), \
                 with no task running and no result left to spill: not pausing (the memory is not \
                 held by results; it may be a leak in a task function)",
                at(PAUSE),
                self.limit
            );
        }
        helps
    }

    pub(crate) fn stop(&self) {
        self.stopped.store(true, Relaxed);
        self.paused.store(false, Relaxed);
    }
}

/// Watches memory every [`MONITOR_EVERY`] on a thread of its own (spilling is file I/O), until
/// the worker stops.
pub(crate) fn start_monitor(memory: Arc<Memory>, store: Arc<Store>) {
    if memory.limit == 0 {
        return;
    }
    let span = tracing::Span::current();
    let spawned = std::thread::Builder::new().name("rask-memory".into()).spawn(move || {
        let _in_worker = span.enter();
        while !memory.stopped.load(Relaxed) {
            memory.check(&store);
            std::thread::sleep(MONITOR_EVERY);
        }
    });
    if let Err(e) = spawned {
        tracing::error!("cannot start the memory monitor ({e}): results spill only as they arrive");
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use rask_graph::{Array, Key, Value};

    use super::*;

    fn store(limit: u64, name: &str) -> Store {
        Store::new(limit, std::env::temp_dir().join(format!("rask-memory-test-{name}-{}", std::process::id())))
    }

    #[test]
    fn a_pause_ends_when_nothing_running_and_nothing_left_to_spill() {
        let memory = Memory::new(1000);
        let empty = store(1000, "empty");
        // Resident memory far past the limit, held by nobody the worker can see.
        assert!(!memory.decide(&empty, || 5000), "pausing cannot help: no pause");
        // While a task runs, its result can yet be spilled: pause.
        memory.running.fetch_add(1, Relaxed);
        assert!(memory.decide(&empty, || 5000));
        memory.running.fetch_sub(1, Relaxed);
        assert!(!memory.decide(&empty, || 100), "under the threshold: no pause");
    }

    #[test]
    fn high_resident_memory_spills_results_until_under_the_target() {
        let memory = Memory::new(100_000);
        let s = store(0, "spill"); // no managed target: only the monitor spills
        for i in 0..10 {
            s.insert(Key::Int(i), Value::Array(Array::from_f64(vec![1.0; 1000])));
        }
        // Resident memory follows what the store holds in memory, plus a fixed 10 kB.
        let rss = Cell::new(0);
        let resident = || {
            rss.set(s.usage().in_memory + 10_000);
            rss.get()
        };
        assert!(!memory.decide(&s, resident), "spilling brought it under the pause threshold");
        assert!(rss.get() <= 60_000, "spilled down to the target: {}", rss.get());
        let usage = s.usage();
        assert!(usage.spilled > 0 && usage.keys == 10, "nothing lost: {usage:?}");
        for i in 0..10 {
            assert_eq!(s.get(&Key::Int(i)).map(|v| v.nbytes() > 0), Some(true));
        }
    }
}
