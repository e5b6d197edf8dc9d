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
//! name to anyone, or the one process that adopted it (the executor) drops its last handle and
//! *knows* no task still reads it, and says so to the creator ([`SegmentPool::put`] on its
//! behalf). Mappings readers still hold are never read again, so rewriting the pages under them
//! is harmless. The pool holds at most `cap` bytes: a full pool refuses what comes back (it is
//! removed), and a request nothing fits removes the segments that came back longest ago.

use std::sync::{Arc, Mutex};

use crate::segment::{shm_unlink, Segment, SegmentMut};

/// Free segments of one process, by name and size, up to a cap in bytes.
pub struct SegmentPool {
    cap: usize,
    free: Mutex<Free>,
}

#[derive(Default)]
struct Free {
    /// (size, name), in the order they came back.
    segments: Vec<(usize, String)>,
    bytes: usize,
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
        Arc::new(SegmentPool { cap, free: Mutex::new(Free::default()) })
    }

    pub fn cap(&self) -> usize {
        self.cap
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
        if free.bytes + size > self.cap {
            drop(free);
            let _ = shm_unlink(&name);
            return;
        }
        free.bytes += size;
        free.segments.push((size, name));
    }

    /// Removes every free segment; returns how many.
    pub fn clear(&self) -> usize {
        let segments = std::mem::take(&mut *self.lock()).segments;
        segments.iter().filter(|(_, name)| shm_unlink(name).is_ok()).count()
    }

    /// The smallest free segment that holds `len` bytes without wasting more than its half,
    /// mapped for writing; `None` if there is none (or it is gone: swept by someone else).
    pub(crate) fn take(self: &Arc<Self>, len: usize) -> Option<SegmentMut> {
        loop {
            let (_, name) = {
                let mut free = self.lock();
                let fit = free
                    .segments
                    .iter()
                    .enumerate()
                    .filter(|(_, (size, _))| *size >= len && *size / 2 <= len)
                    .min_by_key(|(_, (size, _))| *size);
                let Some((i, _)) = fit else {
                    // None fits: make room for the segment the caller makes now, removing what
                    // came back longest ago — sizes no longer asked for drain away, while a
                    // pool of the sizes in use keeps what it has (a full pool refuses new ones
                    // rather than churn when a run cycles through more than it holds).
                    let evicted = free.make_room(self.cap, size_class(len));
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
            match Segment::reopen(&name, len, self.clone()) {
                Ok(segment) => return Some(segment),
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
