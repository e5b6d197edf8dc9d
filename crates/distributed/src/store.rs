//! A worker's results: in memory up to a target, spilled to disk past it (oldest first), so a
//! memory limit slows a worker down instead of killing it. Spilled results are read back from
//! disk when a task or a peer needs them; nothing is lost.
//!
//! Fractions of the worker's memory limit, as in Dask: past `SPILL` of it, results go to disk;
//! past `PAUSE` of it (the process's resident memory, which counts what the store cannot see),
//! the worker stops taking tasks until memory falls again (see `memory.rs`, which decides).

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Mutex;

use rask_graph::{Key, Value};
use rustc_hash::FxHashMap;

pub const SPILL: f64 = 0.6;
pub const PAUSE: f64 = 0.8;

enum Slot {
    /// The value, its size, and its stamp in the spill order.
    Memory(Value, u64, u64),
    Disk(PathBuf, u64),
}

#[derive(Default)]
struct Inner {
    slots: FxHashMap<Key, Slot>,
    /// Keys put in memory, oldest first, with the stamp they were given: the spill order. An
    /// entry whose key has since gone (removed, spilled, replaced: its slot no longer holds
    /// that stamp) is skipped when met, and dropped in bulk once they are half the entries.
    /// Finding a removed key's entry was a scan of all of them — with a deep queue of tiny
    /// tasks, a quarter of the worker's event loop.
    order: VecDeque<(u64, Key)>,
    next_stamp: u64,
    /// Results in memory (their entries in `order` are live).
    held: usize,
    in_memory: u64,
    spilled: u64,
    next_file: u64,
    /// A spill failed (disk full): said once.
    spill_failed: bool,
}

/// The results one worker holds.
pub struct Store {
    inner: Mutex<Inner>,
    /// Bytes of results kept in memory before spilling; `None`: no limit.
    target: Option<u64>,
    dir: PathBuf,
}

/// What a heartbeat reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub keys: u64,
    pub in_memory: u64,
    pub spilled: u64,
}

impl Store {
    /// A store for a worker with `memory_limit` bytes (0: none), spilling under `dir`.
    pub fn new(memory_limit: u64, dir: PathBuf) -> Store {
        let target = (memory_limit > 0).then_some((memory_limit as f64 * SPILL) as u64);
        Store { inner: Mutex::new(Inner::default()), target, dir }
    }

    pub fn get(&self, key: &Key) -> Option<Value> {
        let inner = self.inner.lock().expect("store lock");
        match inner.slots.get(key)? {
            Slot::Memory(v, ..) => Some(v.clone()),
            Slot::Disk(path, _) => {
                let path = path.clone();
                drop(inner);
                let bytes = std::fs::read(&path).ok()?;
                postcard::from_bytes(&bytes).ok()
            }
        }
    }

    /// The size of a held result, in memory or on disk.
    pub fn size_of(&self, key: &Key) -> Option<u64> {
        match self.inner.lock().expect("store lock").slots.get(key)? {
            Slot::Memory(_, n, _) | Slot::Disk(_, n) => Some(*n),
        }
    }

    /// Whether every one of `keys` that is held is in memory, together under `limit` bytes:
    /// answering for them reads no disk and moves nothing into shared memory.
    pub fn in_memory_below(&self, keys: &[Key], limit: u64) -> bool {
        let inner = self.inner.lock().expect("store lock");
        let mut total = 0;
        keys.iter().all(|key| match inner.slots.get(key) {
            Some(Slot::Memory(_, n, _)) => {
                total += n;
                total < limit
            }
            Some(Slot::Disk(..)) => false,
            None => true,
        })
    }

    pub fn insert(&self, key: Key, value: Value) {
        let nbytes = value.nbytes() as u64;
        let mut inner = self.inner.lock().expect("store lock");
        inner.keep(key, value, nbytes);
        if let Some(target) = self.target {
            let mut tries = inner.held;
            while inner.in_memory > target && tries > 0 {
                let Some(oldest) = inner.pop_oldest() else { break };
                self.spill(&mut inner, oldest);
                tries -= 1;
            }
        }
    }

    /// Moves the oldest result in memory to disk; its bytes, or `None` if nothing is left in
    /// memory or the write failed.
    pub fn spill_oldest(&self) -> Option<u64> {
        let mut inner = self.inner.lock().expect("store lock");
        let key = inner.pop_oldest()?;
        let before = inner.spilled;
        self.spill(&mut inner, key);
        (inner.spilled > before).then(|| inner.spilled - before)
    }

    /// Streams the value to its file (no copy of it in memory: a spill must lower memory, not
    /// double it) and drops it, which unmaps and removes its shared-memory segment.
    fn spill(&self, inner: &mut Inner, key: Key) {
        let Some(Slot::Memory(value, nbytes, _)) = inner.slots.remove(&key) else { return };
        // Out of memory's accounts now; a failed write puts it back (`keep`).
        inner.held -= 1;
        inner.in_memory -= nbytes;
        let path = self.dir.join(format!("{}.spill", inner.next_file));
        inner.next_file += 1;
        let written = std::fs::create_dir_all(&self.dir).and_then(|()| {
            let mut file = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&path)?);
            postcard::to_io(&value, &mut file).map_err(std::io::Error::other)?;
            std::io::Write::flush(&mut file)
        });
        match written {
            Ok(()) => {
                inner.spilled += nbytes;
                inner.slots.insert(key, Slot::Disk(path, nbytes));
            }
            // A full disk: keep it in memory rather than lose it (the pause threshold is the
            // next line of defence).
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                if !inner.spill_failed {
                    tracing::error!("cannot spill to {}: {e}; keeping results in memory", self.dir.display());
                }
                inner.spill_failed = true;
                inner.keep(key, value, nbytes);
            }
        }
    }

    /// Replaces the in-memory value of `key` with `value`, the same result in another form
    /// (moved into shared memory for a peer); its place in the spill order and its counted
    /// size stay. Nothing happens if the result has gone or been spilled meanwhile.
    pub fn reform(&self, key: &Key, value: Value) {
        if let Some(Slot::Memory(held, ..)) = self.inner.lock().expect("store lock").slots.get_mut(key) {
            *held = value;
        }
    }

    pub fn remove(&self, keys: &[Key]) {
        let mut inner = self.inner.lock().expect("store lock");
        for k in keys {
            if let Some(slot) = inner.slots.remove(k) {
                inner.forget(slot);
            }
        }
    }

    /// Drops every result (their segments' names go with them).
    pub fn clear(&self) {
        let keys: Vec<Key> = self.inner.lock().expect("store lock").slots.keys().cloned().collect();
        self.remove(&keys);
    }

    /// Drops every result and removes the spill folder now (the worker is leaving; task
    /// threads may still hold the store, so its `Drop` may never run).
    pub fn close(&self) {
        self.clear();
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    pub fn usage(&self) -> Usage {
        let inner = self.inner.lock().expect("store lock");
        Usage { keys: inner.slots.len() as u64, in_memory: inner.in_memory, spilled: inner.spilled }
    }
}

impl Inner {
    /// Holds `value` in memory as the newest in the spill order (replacing what `key` held).
    fn keep(&mut self, key: Key, value: Value, nbytes: u64) {
        let stamp = self.next_stamp;
        self.next_stamp += 1;
        if let Some(old) = self.slots.insert(key.clone(), Slot::Memory(value, nbytes, stamp)) {
            self.forget(old);
        }
        self.in_memory += nbytes;
        self.held += 1;
        self.order.push_back((stamp, key));
    }

    /// Accounts for a slot that has left the store. Its entry in the spill order stays until
    /// met or swept.
    fn forget(&mut self, slot: Slot) {
        match slot {
            Slot::Memory(_, n, _) => {
                self.in_memory -= n;
                self.held -= 1;
                if self.order.len() > 2 * self.held + 64 {
                    let slots = &self.slots;
                    self.order.retain(|(stamp, key)| is_live(slots, key, *stamp));
                }
            }
            Slot::Disk(path, n) => {
                self.spilled -= n;
                let _ = std::fs::remove_file(path);
            }
        }
    }

    /// The oldest key held in memory, taken out of the spill order (its slot stays).
    fn pop_oldest(&mut self) -> Option<Key> {
        while let Some((stamp, key)) = self.order.pop_front() {
            if is_live(&self.slots, &key, stamp) {
                return Some(key);
            }
        }
        None
    }
}

/// Whether `key` is in memory under the spill-order entry `stamp`.
fn is_live(slots: &FxHashMap<Key, Slot>, key: &Key, stamp: u64) -> bool {
    matches!(slots.get(key), Some(Slot::Memory(_, _, s)) if *s == stamp)
}

impl Drop for Store {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

const SPILL_PREFIX: &str = "rask-worker-";

/// Where the worker with process id `pid` spills: `$TMPDIR/rask-worker-<pid>`.
pub fn spill_dir(pid: u32) -> PathBuf {
    std::env::temp_dir().join(format!("{SPILL_PREFIX}{pid}"))
}

/// Removes spill folders whose worker process is gone (killed before it could clean up), as
/// `rask_store::sweep_orphans` does for shared-memory segments. Returns how many.
pub fn sweep_spill_orphans() -> usize {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else { return 0 };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(SPILL_PREFIX)).and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        // SAFETY: signal 0 only asks whether the process exists.
        let gone =
            unsafe { libc::kill(pid, 0) } != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
        if gone && std::fs::remove_dir_all(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// This process's resident memory in bytes (Linux), for the pause threshold.
pub fn resident_bytes() -> u64 {
    let pages = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .unwrap_or(0);
    pages * 4096
}

#[cfg(test)]
mod tests {
    use super::*;
    use rask_graph::Array;

    fn array(n: usize, x: f64) -> Value {
        Value::Array(Array::from_f64(vec![x; n]))
    }

    #[test]
    fn past_the_target_the_oldest_results_go_to_disk_and_come_back_intact() {
        let dir = std::env::temp_dir().join(format!("rask-store-test-{}", std::process::id()));
        let store = Store::new(10_000, dir.clone()); // spill past 6000 bytes
        for i in 0..10 {
            store.insert(Key::Int(i), array(100, i as f64)); // ~816 bytes each
        }
        let usage = store.usage();
        assert!(usage.in_memory <= 6000, "{usage:?}");
        assert!(usage.spilled >= 2000, "{usage:?}");
        assert_eq!(usage.keys, 10);
        for i in 0..10 {
            assert_eq!(store.get(&Key::Int(i)), Some(array(100, i as f64)), "key {i} survives");
        }
        store.remove(&[Key::Int(0), Key::Int(9)]);
        assert_eq!(store.usage().keys, 8);
        drop(store);
        assert!(!dir.exists(), "spill files go with the store");
    }

    /// Against a plain list scanned on every removal (what the store did before): the same
    /// results spill, oldest first, through removals and replacements, and the order's stale
    /// entries stay bounded.
    #[test]
    fn the_spill_order_is_oldest_first_through_removals_and_replacements() {
        let dir = std::env::temp_dir().join(format!("rask-store-order-{}", std::process::id()));
        let store = Store::new(0, dir);
        let mut reference: VecDeque<i64> = VecDeque::new();
        let mut seed = 0x2545_f491_u64;
        for step in 0..20_000i64 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let k = (seed % 500) as i64;
            if seed % 3 == 0 {
                store.remove(&[Key::Int(k)]);
                reference.retain(|&x| x != k);
            } else {
                store.insert(Key::Int(k), Value::Int(step));
                reference.retain(|&x| x != k);
                reference.push_back(k);
            }
            let inner = store.inner.lock().unwrap();
            assert_eq!(inner.held, reference.len());
            assert!(inner.order.len() <= 2 * inner.held + 64, "{} entries for {} held", inner.order.len(), inner.held);
        }
        let spilled: Vec<i64> = std::iter::from_fn(|| {
            let key = store.inner.lock().unwrap().pop_oldest()?;
            store.remove(std::slice::from_ref(&key));
            Some(match key {
                Key::Int(k) => k,
                other => panic!("{other:?}"),
            })
        })
        .collect();
        assert_eq!(spilled, Vec::from(reference));
    }

    #[test]
    fn without_a_limit_nothing_spills() {
        let store = Store::new(0, std::env::temp_dir().join("rask-store-never"));
        for i in 0..100 {
            store.insert(Key::Int(i), array(1000, 1.0));
        }
        assert_eq!(store.usage().spilled, 0);
        assert!(resident_bytes() > 0);
    }
}
