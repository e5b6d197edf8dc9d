//! Leases: how a segment whose name went to other processes comes back to its creator's pool.
//!
//! A leased segment (made by a [`Namespace::leased`](crate::Namespace::leased) namespace, its
//! name ending in [`SUFFIX`]) keeps a count in its last [`TRAILER`] bytes: the handles other
//! processes hold, or are about to hold, on it. The rule has three parts:
//!
//! - **whoever sends the name lends first** ([`Segment::lend`](crate::Segment::lend)): the
//!   count goes up before the name leaves the process, so there is no moment between the send
//!   and the receiver's mapping at which the segment looks unread;
//! - **a receiver's handle gives its lease back when dropped** (every [`Segment::open`](
//!   crate::Segment::open) of a leased name consumes one lease, so each name received must be
//!   opened once; one never opened keeps its lease, which errs toward "still read");
//! - **the creator rewrites a segment only at a count of zero**, read with acquire ordering
//!   after its own handle is gone: every reader's last read happened before its give-back.
//!
//! Nothing is sent back to the creator: the count lives in the pages every holder maps, so a
//! chain of holders (a peer serving what it fetched to a third) needs no bookkeeping of who
//! has what. A holder that dies with a lease leaves its segment counted as read: the creator's
//! pool keeps it aside ("lent") up to its cap and then removes the name, as it would have
//! without leases.

#[cfg(loom)]
use loom::sync::atomic::AtomicU64;
#[cfg(not(loom))]
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use memmap2::MmapRaw;

/// A leased segment's count of the processes holding it.
pub(crate) type Count = AtomicU64;

/// Bytes at the end of a leased segment that hold its count (a cache line of its own).
pub(crate) const TRAILER: usize = 64;
/// How a leased segment's name ends: readers know from the name alone that it has a count.
pub(crate) const SUFFIX: &str = ".l";

/// Whether `name` is that of a leased segment.
pub(crate) fn is_leased(name: &str) -> bool {
    name.ends_with(SUFFIX)
}

/// One more process will hold the segment: called before its name is sent. Relaxed: the send
/// itself (a system call) orders it before anything the receiver does.
pub(crate) fn lend(count: &AtomicU64) {
    count.fetch_add(1, Relaxed);
}

/// A holder's reads are over. Release: they happen before the creator, seeing the count it
/// leaves, writes the pages again. Never below zero (a name received twice but opened once,
/// or a hostile peer, must not make the count claim fewer readers than there are).
pub(crate) fn give_back(count: &AtomicU64) {
    #[cfg(not(rask_planted_bug))]
    let ordering = Release;
    // The planted bug (`cargo xtask loom --planted`): a give-back that does not publish the
    // holder's reads, which the model must catch as the creator's rewrite racing them.
    #[cfg(rask_planted_bug)]
    let ordering = Relaxed;
    let _ = count.fetch_update(ordering, Relaxed, |n| n.checked_sub(1));
}

/// No one else holds the segment (acquire: their reads happened before).
pub(crate) fn unread(count: &AtomicU64) -> bool {
    count.load(Acquire) == 0
}

/// The count of the leased segment `map` maps.
///
/// # Safety
/// `map` must be a writable mapping of a whole leased segment (at least [`TRAILER`] bytes,
/// whole pages). (Under `--cfg loom` only the models run.)
pub(crate) unsafe fn count_of(map: &MmapRaw) -> &AtomicU64 {
    // SAFETY: the trailer is inside the mapping and 8-aligned (the size is whole pages);
    // every process touches it only through atomics.
    unsafe { &*map.as_mut_ptr().add(map.len() - TRAILER).cast::<AtomicU64>() }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::cell::UnsafeCell;
    use loom::sync::atomic::AtomicBool;
    use loom::sync::Arc;

    /// A segment's pages as the model sees them: a count and contents.
    struct Pages {
        count: AtomicU64,
        contents: UnsafeCell<u64>,
    }

    /// A creator lends its segment to a reader and sends the name; the reader maps it, reads,
    /// and gives the lease back; meanwhile the creator's own handle goes and its pool rewrites
    /// the pages the first time it sees them unread. The rewrite must never race the read.
    #[test]
    fn loom_a_lent_segment_is_rewritten_only_after_its_reader_is_done() {
        loom::model(|| {
            let pages = Arc::new(Pages { count: AtomicU64::new(0), contents: UnsafeCell::new(1) });
            let sent = Arc::new(AtomicBool::new(false));
            lend(&pages.count);
            sent.store(true, Release); // the name on the wire
            let reader = {
                let (pages, sent) = (pages.clone(), sent.clone());
                loom::thread::spawn(move || {
                    if sent.load(Acquire) {
                        let seen = pages.contents.with(|p| unsafe { *p });
                        assert_eq!(seen, 1, "read the value it was sent");
                        give_back(&pages.count);
                    }
                })
            };
            // The creator's pool, polling its lent segments.
            for _ in 0..2 {
                if unread(&pages.count) {
                    pages.contents.with_mut(|p| unsafe { *p = 2 });
                    break;
                }
                loom::thread::yield_now();
            }
            reader.join().unwrap();
        });
    }

    /// A reader passes the name on to a third process before dropping its own handle: the
    /// count never reaches zero while either holds it.
    #[test]
    fn loom_a_name_passed_on_keeps_the_segment_read() {
        loom::model(|| {
            let pages = Arc::new(Pages { count: AtomicU64::new(0), contents: UnsafeCell::new(1) });
            let (to_first, to_second) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
            lend(&pages.count);
            to_first.store(true, Release);
            let first = {
                let (pages, to_first, to_second) = (pages.clone(), to_first.clone(), to_second.clone());
                loom::thread::spawn(move || {
                    if to_first.load(Acquire) {
                        lend(&pages.count);
                        to_second.store(true, Release);
                        give_back(&pages.count);
                    }
                })
            };
            let second = {
                let (pages, to_second) = (pages.clone(), to_second.clone());
                loom::thread::spawn(move || {
                    if to_second.load(Acquire) {
                        let seen = pages.contents.with(|p| unsafe { *p });
                        assert_eq!(seen, 1);
                        give_back(&pages.count);
                    }
                })
            };
            if unread(&pages.count) {
                pages.contents.with_mut(|p| unsafe { *p = 2 });
            }
            first.join().unwrap();
            second.join().unwrap();
        });
    }
}
