//! Segments kept for writing again: a worker's pool.
//!
//! Making a segment costs system calls (`shm_open`, `fallocate`, `mmap`), the kernel zeroing
//! every page and one fault per page written, and removing it as much again: on a shuffle of
//! 400 KiB pieces that is most of what the process executor does beyond the threaded one. A
//! pool keeps segments its process made and no one reads any more, so the next result of a
//! similar size is written into pages that already exist.
//!
//! **The rule for returning one**: a segment goes back to its creator's pool only when no
//! process will read it again — either its creator drops it without ever having handed its
//! name to anyone, or the one process that claimed it (the executor) drops its last claim and
//! *knows* no task still reads it, and says so to the creator ([`SegmentPool::put`] on its
//! behalf). Mappings readers still hold are never read again, so rewriting the pages under them
//! is harmless. The pool holds at most `cap` bytes: a full pool refuses what comes back (it is
//! removed), and a request nothing fits removes the segments that came back longest ago.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use memmap2::MmapRaw;

use crate::lease;
use crate::segment::{shm_unlink, Segment, SegmentMut};

/// Free segments of one process, by name and size, up to a cap in bytes.
pub struct SegmentPool {
    cap: AtomicUsize,
    free: Mutex<Free>,
}

#[derive(Default)]
struct Free {
    /// (size, name), in the order they came back.
    segments: Vec<(usize, String)>,
    bytes: usize,
    /// Leased segments whose owner let go while other processes still held them, with the
    /// owner's mapping (to read their counts), in the order they came back.
    lent: Vec<(String, Arc<MmapRaw>)>,
    lent_bytes: usize,
}

impl Free {
    /// Takes out the oldest segments until `size` more bytes fit under `cap`.
    fn make_room(&mut self, cap: usize, size: usize) -> Vec<(usize, String)> {
        let mut evict = 0;
        while evict < self.segments.len() && self.bytes + size > cap {
            self.bytes -= self.segments[evict].0;
            evict += 1;
        }
        self.segments.drain(..evict).collect()
    }
}

/// The size a pooled segment of `len` bytes is made with: `len` rounded up to one of four
/// steps per power of two (at most a quarter more, a whole number of pages), so that results
/// of about the same size share segments.
pub fn size_class(len: usize) -> usize {
    const PAGE: usize = 4096;
    let pages = len.div_ceil(PAGE).max(1);
    let step = (pages.next_power_of_two() / 8).max(1);
    pages.div_ceil(step) * step * PAGE
}

impl SegmentPool {
    /// A pool holding at most `cap` bytes of free segments (0: it keeps none).
    pub fn new(cap: usize) -> Arc<SegmentPool> {
        Arc::new(SegmentPool { cap: AtomicUsize::new(cap), free: Mutex::new(Free::default()) })
    }

    pub fn cap(&self) -> usize {
        self.cap.load(Relaxed)
    }

    /// Holds at most `cap` bytes from now on (a worker told its memory limit); what is over
    /// goes the next time a segment is asked for or comes back.
    pub fn set_cap(&self, cap: usize) {
        self.cap.store(cap, Relaxed);
    }

    /// Bytes of free segments held now.
    pub fn held(&self) -> usize {
        self.lock().bytes
    }

    /// Free segments held now.
    pub fn len(&self) -> usize {
        self.lock().segments.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Takes back segment `name` of `size` bytes, which no one reads any more; removes it if
    /// the pool has no room for it.
    pub fn put(&self, name: String, size: usize) {
        let mut free = self.lock();
        if free.bytes + size > self.cap() {
            drop(free);
            let _ = shm_unlink(&name);
            return;
        }
        free.bytes += size;
        free.segments.push((size, name));
    }

    /// Takes back a leased segment its owner let go of (`map` is the owner's mapping): free at
    /// once if no other process holds it, else kept aside until they are all done (see
    /// `lease.rs`). Lent segments beyond the cap are removed, those that came back longest
    /// ago first: their holders keep their mappings, the pages go when the last one lets go.
    pub(crate) fn put_leased(&self, name: String, map: Arc<MmapRaw>) {
        // SAFETY: the owner's mapping of a leased segment: writable and whole.
        if lease::unread(unsafe { lease::count_of(&map) }) {
            return self.put(name, map.len());
        }
        let mut free = self.lock();
        free.lent_bytes += map.len();
        free.lent.push((name, map));
        let mut evicted = Vec::new();
        while free.lent_bytes > self.cap() {
            let (name, map) = free.lent.remove(0);
            free.lent_bytes -= map.len();
            evicted.push(name);
        }
        drop(free);
        for name in evicted {
            let _ = shm_unlink(&name);
        }
    }

    /// Moves the lent segments no one holds any more to the free list (or removes them, if it
    /// is full).
    fn reclaim(&self) {
        let mut returned = Vec::new();
        {
            let mut free = self.lock();
            if free.lent.is_empty() {
                return;
            }
            let mut i = 0;
            while i < free.lent.len() {
                let map = &free.lent[i].1;
                // SAFETY: as in `put_leased`.
                if lease::unread(unsafe { lease::count_of(map) }) {
                    let (name, map) = free.lent.swap_remove(i);
                    free.lent_bytes -= map.len();
                    returned.push((name, map.len()));
                } else {
                    i += 1;
                }
            }
        }
        for (name, size) in returned {
            self.put(name, size);
        }
    }

    /// Segments set aside until their readers in other processes are done.
    pub fn lent(&self) -> usize {
        self.lock().lent.len()
    }

    /// Removes every free and lent segment; returns how many.
    pub fn clear(&self) -> usize {
        let Free { segments, lent, .. } = std::mem::take(&mut *self.lock());
        let names = segments.into_iter().map(|(_, name)| name).chain(lent.into_iter().map(|(name, _)| name));
        names.filter(|name| shm_unlink(name).is_ok()).count()
    }

    /// The smallest free segment that holds `len` bytes without wasting more than its half,
    /// mapped for writing; `None` if there is none (or it is gone: swept by someone else).
    /// A leased segment's room includes its count.
    pub(crate) fn take(self: &Arc<Self>, len: usize) -> Option<SegmentMut> {
        self.reclaim();
        let room = |name: &str| len + if lease::is_leased(name) { lease::TRAILER } else { 0 };
        loop {
            let (_, name) = {
                let mut free = self.lock();
                let fit = free
                    .segments
                    .iter()
                    .enumerate()
                    .filter(|(_, (size, name))| *size >= room(name) && *size / 2 <= len)
                    .min_by_key(|(_, (size, _))| *size);
                let Some((i, _)) = fit else {
                    // None fits: make room for the segment the caller makes now, removing what
                    // came back longest ago — sizes no longer asked for drain away, while a
                    // pool of the sizes in use keeps what it has (a full pool refuses new ones
                    // rather than churn when a run cycles through more than it holds).
                    let evicted = free.make_room(self.cap(), size_class(len));
                    drop(free);
                    for (_, name) in evicted {
                        let _ = shm_unlink(&name);
                    }
                    return None;
                };
                let taken = free.segments.remove(i);
                free.bytes -= taken.0;
                taken
            };
            // One that cannot be mapped again (removed by a sweep) is dropped from the pool:
            // nothing is lost, the caller makes a new one.
            match Segment::reopen(&name, room(&name), self.clone()) {
                Ok(mut segment) => {
                    segment.truncate(len);
                    return Some(segment);
                }
                Err(_) => drop(shm_unlink(&name)),
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Free> {
        self.free.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for SegmentPool {
    fn drop(&mut self) {
        self.clear();
    }
}
