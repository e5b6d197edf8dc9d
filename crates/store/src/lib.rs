//! `rask-store`: task results in shared memory, written once and read in place.
//!
//! What it is: [`Segment`]s — POSIX shared-memory objects (`/dev/shm/rask-…`) that one process
//! creates and fills and others map read-only, so a 1 GiB array crosses a process boundary as
//! a name, not as bytes; a [`ShmArena`] that makes task functions allocate their large outputs
//! directly in a segment; [`Namespace`]s that name segments after the process and executor that
//! own them, so leftovers of a crashed run are found and removed ([`sweep_orphans`]); a
//! [`SegmentPool`] that keeps segments no one reads any more for the next results of their
//! process, and [leased](Namespace::leased) segments that count the other processes holding
//! them, so that a pool gets back even those whose names went out; [`Claim`]s, which own a
//! name without mapping it (for a process that only passes results along); and [`traffic`] counters
//! of the payload bytes copied versus passed by reference.
//!
//! What it is not: a scheduler of who needs what. Executors own the reference counts: a
//! segment is unlinked when its owning handle is dropped or [`Segment::unlink`]ed, and its
//! mappings stay valid until their last reader lets go (POSIX semantics).
//!
//! Why POSIX shm with memmap2 rather than the `shared_memory` or `ipc-channel` crates: names in
//! `/dev/shm` are what makes crash cleanup possible (a memfd vanishes with its creator, taking
//! a finished result with it), `shared_memory` is unmaintained and `ipc-channel` moves bytes
//! through sockets — the copy this crate exists to avoid. The libc calls used are four.

mod cache;
mod claim;
mod lease;
mod pool;
mod segment;

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

pub use cache::{cache_mappings, cached_bytes};
pub use claim::{size_of, Claim};
pub use pool::{size_class, SegmentPool};
pub use segment::{list, owned_by, remove, sweep, sweep_orphans, Namespace, Segment, SegmentMut};

use rask_graph::arena::{Arena, BlockMut};
use rask_graph::Buffer;

/// Payload bytes this process copied into or out of shared memory, and bytes it handed over
/// or read by reference: what "zero-copy" claims, counted.
pub mod traffic {
    use super::*;

    static COPIED: AtomicU64 = AtomicU64::new(0);
    static SHARED: AtomicU64 = AtomicU64::new(0);

    pub fn copied(bytes: usize) {
        COPIED.fetch_add(bytes as u64, Relaxed);
    }

    pub fn shared(bytes: usize) {
        SHARED.fetch_add(bytes as u64, Relaxed);
    }

    /// The counts since the last call (copied, shared), resetting them.
    pub fn take() -> (u64, u64) {
        (COPIED.swap(0, Relaxed), SHARED.swap(0, Relaxed))
    }
}

/// Serves large allocations of task functions from new segments of `namespace`; smaller ones
/// (below `threshold` bytes) stay on the heap, where they are cheaper.
pub struct ShmArena {
    namespace: Arc<Namespace>,
    threshold: usize,
}

impl ShmArena {
    pub fn new(namespace: Arc<Namespace>, threshold: usize) -> ShmArena {
        ShmArena { namespace, threshold: threshold.max(1) }
    }
}

impl Arena for ShmArena {
    fn allocate(&self, len: usize) -> Option<Box<dyn BlockMut>> {
        if len < self.threshold {
            return None;
        }
        // A full /dev/shm is not a task failure: the heap still works, and the value will be
        // copied into a segment later if it must cross (and counted then).
        self.namespace.create(len).ok().map(|s| Box::new(s) as Box<dyn BlockMut>)
    }

    fn allocate_for_overwrite(&self, len: usize) -> Option<Box<dyn BlockMut>> {
        if len < self.threshold {
            return None;
        }
        self.namespace.create_uninit(len).ok().map(|s| Box::new(s) as Box<dyn BlockMut>)
    }
}

impl BlockMut for SegmentMut {
    fn bytes_mut(&mut self) -> &mut [u8] {
        SegmentMut::bytes_mut(self)
    }

    fn freeze(self: Box<Self>) -> Buffer {
        Buffer::from_owner(Arc::new((*self).freeze()))
    }
}

/// Copies `bytes` into a new segment of `namespace` (counted as copied).
pub fn put(namespace: &Namespace, bytes: &[u8]) -> std::io::Result<Segment> {
    let mut segment = namespace.create_uninit(bytes.len())?;
    segment.bytes_mut().copy_from_slice(bytes);
    traffic::copied(bytes.len());
    Ok(segment.freeze())
}

#[cfg(test)]
mod tests;
