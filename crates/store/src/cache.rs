//! Mappings a process keeps after its handles let go: a worker's cache.
//!
//! Mapping a segment is cheap; touching its pages is not: every page costs a fault the first
//! time a mapping reads or writes it, and unmapping walks them all again. A pooled segment is
//! written and read over and over under the same name by the same few processes, so a process
//! that keeps its mapping of it pays those faults once: the pages, and the page-table entries
//! pointing at them, stay.
//!
//! A name is never reused once removed (names count up), so a cached mapping is always of the
//! segment its name means now — or of one removed since, whose pages it then keeps alive. That
//! is the price: at most `cap` bytes of mappings per process, the least recently used let go
//! first; names this process removes itself are forgotten at once. Off unless a process turns
//! it on ([`cache_mappings`]); the process executor's workers do.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use memmap2::MmapRaw;

static CACHE: Mutex<Option<Cache>> = Mutex::new(None);

struct Cache {
    cap: usize,
    bytes: usize,
    tick: u64,
    by_name: HashMap<String, Entry>,
}

struct Entry {
    map: Arc<MmapRaw>,
    writable: bool,
    used: u64,
}

/// Keeps up to `cap` bytes of this process's segment mappings after their handles are dropped
/// (0 turns it off and lets go of what it holds).
pub fn cache_mappings(cap: usize) {
    let mut cache = lock();
    *cache = (cap > 0).then(|| Cache { cap, bytes: 0, tick: 0, by_name: HashMap::new() });
}

/// Bytes of mappings the cache holds.
pub fn cached_bytes() -> usize {
    lock().as_ref().map_or(0, |c| c.bytes)
}

/// The cached mapping of `name`, if there is one (and, with `writable`, a writable one).
pub(crate) fn get(name: &str, writable: bool) -> Option<Arc<MmapRaw>> {
    let mut guard = lock();
    let cache = guard.as_mut()?;
    cache.tick += 1;
    let tick = cache.tick;
    let entry = cache.by_name.get_mut(name).filter(|e| e.writable || !writable)?;
    entry.used = tick;
    Some(entry.map.clone())
}

/// Remembers `map` as the mapping of `name` (replacing a read-only one by a writable one).
pub(crate) fn put(name: &str, map: &Arc<MmapRaw>, writable: bool) {
    let mut guard = lock();
    let Some(cache) = guard.as_mut() else { return };
    if map.len() > cache.cap {
        return;
    }
    cache.tick += 1;
    let entry = Entry { map: map.clone(), writable, used: cache.tick };
    if let Some(old) = cache.by_name.insert(name.to_owned(), entry) {
        cache.bytes -= old.map.len();
    }
    cache.bytes += map.len();
    while cache.bytes > cache.cap {
        let oldest = cache.by_name.iter().min_by_key(|(_, e)| e.used).map(|(n, _)| n.clone());
        let Some(entry) = oldest.and_then(|n| cache.by_name.remove(&n)) else { break };
        cache.bytes -= entry.map.len();
    }
}

/// Lets go of the mapping of `name` (removed by this process: its pages must go).
pub(crate) fn forget(name: &str) {
    if let Some(cache) = lock().as_mut() {
        if let Some(entry) = cache.by_name.remove(name) {
            cache.bytes -= entry.map.len();
        }
    }
}

fn lock() -> std::sync::MutexGuard<'static, Option<Cache>> {
    CACHE.lock().unwrap_or_else(|e| e.into_inner())
}
