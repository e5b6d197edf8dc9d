//! Single-producer, single-consumer byte rings in memory shared between two processes, and the
//! doorbell a consumer sleeps on when its ring is empty.
//!
//! A message per task through a pipe costs a system call on each side (≈ 58 µs per round trip
//! on this class of machine); through a ring it costs a few stores. Records are a 4-byte
//! length and the bytes, written at `tail` by the producer and published with a release store
//! of `tail`; the consumer reads at `head` and publishes its progress the same way, which is
//! all the producer needs to know about free space.
//!
//! The [`Bell`] is the sleep protocol: a consumer about to sleep registers (`sleepers += 1`),
//! re-checks its ring, then waits on a futex word (`seq`) that the producer bumps after
//! publishing — but only when it sees a sleeper, so a busy consumer costs the producer no
//! system call. A SeqCst fence on each side makes "the producer missed the sleeper and the
//! sleeper missed the data" impossible; the loom models in `ring_loom.rs` check exactly that.
//!
//! Everything here is plain atomics over zero-initialized memory (`#[repr(C)]`), so the same
//! code runs over a shared mapping (here) and over loom's simulated memory (the models).

use std::sync::atomic::Ordering::{Acquire, Relaxed, Release, SeqCst};

use crate::shim::{fence, AtomicU32, AtomicU64};

/// How a record's publication is ordered; `cargo xtask loom --planted` weakens it.
#[cfg(not(rask_planted_bug))]
const PUBLISH: std::sync::atomic::Ordering = Release;
#[cfg(rask_planted_bug)]
const PUBLISH: std::sync::atomic::Ordering = Relaxed;

/// A futex-backed doorbell. All-zero memory is a valid, idle bell.
#[repr(C, align(64))]
pub(crate) struct Bell {
    sleepers: AtomicU32,
    seq: AtomicU32,
    #[cfg(loom)]
    futex: loom_futex::Futex,
}

impl Bell {
    #[cfg(loom)]
    pub(crate) fn new() -> Bell {
        Bell { sleepers: AtomicU32::new(0), seq: AtomicU32::new(0), futex: loom_futex::Futex::default() }
    }

    /// Sleeps until rung, unless `ready()` is already true after registering; returns early
    /// after `timeout` (the caller's chance to look at the world: is the peer still alive?).
    pub(crate) fn wait(&self, ready: impl Fn() -> bool, timeout: Option<std::time::Duration>) {
        self.sleepers.fetch_add(1, SeqCst);
        fence(SeqCst);
        let seq = self.seq.load(SeqCst);
        if !ready() {
            self.futex_wait(seq, timeout);
        }
        self.sleepers.fetch_sub(1, SeqCst);
    }

    /// Wakes the sleepers, if any; a no-op store-and-load when there are none.
    pub(crate) fn ring(&self) {
        fence(SeqCst);
        if self.sleepers.load(SeqCst) > 0 {
            self.seq.fetch_add(1, SeqCst);
            self.futex_wake();
        }
    }

    #[cfg(not(loom))]
    fn futex_wait(&self, expected: u32, timeout: Option<std::time::Duration>) {
        let ts = timeout.map(|t| libc::timespec { tv_sec: t.as_secs() as _, tv_nsec: t.subsec_nanos() as _ });
        let ts_ptr = ts.as_ref().map_or(std::ptr::null(), |t| t as *const libc::timespec);
        // SAFETY: `seq` is a live, aligned u32 (in a shared mapping, hence no FUTEX_PRIVATE_FLAG);
        // the kernel sleeps only if it still holds `expected`. EINTR/ETIMEDOUT/EAGAIN all mean
        // "look again", which every caller does.
        unsafe {
            libc::syscall(libc::SYS_futex, self.seq.as_ptr(), libc::FUTEX_WAIT, expected, ts_ptr, 0usize, 0u32);
        }
    }

    #[cfg(not(loom))]
    fn futex_wake(&self) {
        // SAFETY: as above; waking has no memory effects beyond the syscall.
        unsafe {
            libc::syscall(libc::SYS_futex, self.seq.as_ptr(), libc::FUTEX_WAKE, i32::MAX, 0usize, 0usize, 0u32);
        }
    }

    #[cfg(loom)]
    fn futex_wait(&self, expected: u32, _timeout: Option<std::time::Duration>) {
        self.futex.wait(&self.seq, expected)
    }

    #[cfg(loom)]
    fn futex_wake(&self) {
        self.futex.wake()
    }
}

/// The futex's contract, modelled: the value check and going to sleep are atomic with respect
/// to a wake.
#[cfg(loom)]
mod loom_futex {
    use crate::shim::{AtomicU32, Condvar, Mutex};
    use std::sync::atomic::Ordering::SeqCst;

    #[derive(Default)]
    pub(crate) struct Futex {
        lock: Mutex<()>,
        cv: Condvar,
    }

    impl Futex {
        pub(crate) fn wait(&self, word: &AtomicU32, expected: u32) {
            let guard = self.lock.lock().expect("futex lock");
            if word.load(SeqCst) == expected {
                drop(self.cv.wait(guard).expect("futex lock"));
            }
        }

        pub(crate) fn wake(&self) {
            let _guard = self.lock.lock().expect("futex lock");
            self.cv.notify_all();
        }
    }
}

/// A ring's two cursors, on separate cache lines so producer and consumer do not false-share.
#[repr(C, align(64))]
pub(crate) struct Cursor(AtomicU64);

#[repr(C)]
pub(crate) struct RingHeader {
    head: Cursor,
    tail: Cursor,
}

impl RingHeader {
    #[cfg(loom)]
    pub(crate) fn new() -> RingHeader {
        RingHeader { head: Cursor(AtomicU64::new(0)), tail: Cursor(AtomicU64::new(0)) }
    }
}

/// The ring's data bytes: raw shared memory normally, loom-checked cells in the models.
pub(crate) struct Data<'a> {
    #[cfg(not(loom))]
    ptr: *mut u8,
    #[cfg(not(loom))]
    _life: std::marker::PhantomData<&'a [u8]>,
    #[cfg(loom)]
    cells: &'a [loom::cell::UnsafeCell<u8>],
    cap: usize,
}

impl<'a> Data<'a> {
    /// # Safety
    /// `ptr..ptr + cap` must stay mapped for `'a` and be accessed only through one ring view
    /// per side (one producer, one consumer).
    #[cfg(not(loom))]
    pub(crate) unsafe fn new(ptr: *mut u8, cap: usize) -> Data<'a> {
        assert!(cap.is_power_of_two());
        Data { ptr, _life: std::marker::PhantomData, cap }
    }

    #[cfg(loom)]
    pub(crate) fn new(cells: &'a [loom::cell::UnsafeCell<u8>]) -> Data<'a> {
        assert!(cells.len().is_power_of_two());
        Data { cells, cap: cells.len() }
    }

    /// Copies `bytes` in at ring position `pos`, wrapping around the end.
    fn write(&self, pos: u64, bytes: &[u8]) {
        let start = (pos as usize) & (self.cap - 1);
        let first = bytes.len().min(self.cap - start);
        self.write_at(start, &bytes[..first]);
        self.write_at(0, &bytes[first..]);
    }

    fn read(&self, pos: u64, out: &mut [u8]) {
        let start = (pos as usize) & (self.cap - 1);
        let first = out.len().min(self.cap - start);
        let (a, b) = out.split_at_mut(first);
        self.read_at(start, a);
        self.read_at(0, b);
    }

    #[cfg(not(loom))]
    fn write_at(&self, at: usize, bytes: &[u8]) {
        // SAFETY: in bounds (callers split at the end); the producer owns [tail, head + cap).
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.ptr.add(at), bytes.len()) }
    }

    #[cfg(not(loom))]
    fn read_at(&self, at: usize, out: &mut [u8]) {
        // SAFETY: in bounds; the consumer owns [head, tail), published by the producer.
        unsafe { std::ptr::copy_nonoverlapping(self.ptr.add(at), out.as_mut_ptr(), out.len()) }
    }

    #[cfg(loom)]
    fn write_at(&self, at: usize, bytes: &[u8]) {
        for (i, b) in bytes.iter().enumerate() {
            // SAFETY: loom checks that no read of this cell races with the write.
            self.cells[at + i].with_mut(|p| unsafe { *p = *b });
        }
    }

    #[cfg(loom)]
    fn read_at(&self, at: usize, out: &mut [u8]) {
        for (i, o) in out.iter_mut().enumerate() {
            // SAFETY: as above.
            *o = self.cells[at + i].with(|p| unsafe { *p });
        }
    }
}

/// A bad record: the peer wrote garbage into shared memory (a bug or a hostile process).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Corrupt;

/// One ring, seen from either end. `bell` is the consumer's doorbell.
pub(crate) struct Ring<'a> {
    header: &'a RingHeader,
    data: Data<'a>,
    bell: &'a Bell,
}

impl<'a> Ring<'a> {
    pub(crate) fn new(header: &'a RingHeader, data: Data<'a>, bell: &'a Bell) -> Ring<'a> {
        Ring { header, data, bell }
    }

    /// The largest record that always fits in an empty ring.
    pub(crate) fn max_record(&self) -> usize {
        self.data.cap / 2
    }

    /// Producer: appends a record if there is room. Does not wake the consumer: call
    /// [`Ring::notify`] once after a batch.
    pub(crate) fn try_push(&self, record: &[u8]) -> bool {
        let need = 4 + record.len() as u64;
        let tail = self.header.tail.0.load(Relaxed);
        let head = self.header.head.0.load(Acquire);
        if self.data.cap as u64 - (tail - head) < need {
            return false;
        }
        self.data.write(tail, &(record.len() as u32).to_le_bytes());
        self.data.write(tail + 4, record);
        self.header.tail.0.store(tail + need, PUBLISH);
        true
    }

    pub(crate) fn notify(&self) {
        self.bell.ring();
    }

    /// Consumer: takes the next record into `out`; false if the ring is empty.
    pub(crate) fn pop(&self, out: &mut Vec<u8>) -> Result<bool, Corrupt> {
        let head = self.header.head.0.load(Relaxed);
        let tail = self.header.tail.0.load(Acquire);
        if head == tail {
            return Ok(false);
        }
        let mut len = [0u8; 4];
        self.data.read(head, &mut len);
        let len = u32::from_le_bytes(len) as u64;
        if tail < head || tail - head > self.data.cap as u64 || len + 4 > tail - head {
            return Err(Corrupt);
        }
        out.clear();
        out.resize(len as usize, 0);
        self.data.read(head + 4, out);
        self.header.head.0.store(head + 4 + len, Release);
        Ok(true)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.header.head.0.load(Relaxed) == self.header.tail.0.load(Acquire)
    }

    /// Consumer: sleeps until the ring has a record, the producer rings, or `timeout` passes.
    pub(crate) fn wait(&self, timeout: Option<std::time::Duration>) {
        self.bell.wait(|| !self.is_empty(), timeout)
    }

    /// Empties the ring. Only while neither end is in use (a dead worker's slot).
    #[cfg(not(loom))]
    pub(crate) fn reset(&self) {
        self.header.head.0.store(0, SeqCst);
        self.header.tail.0.store(0, SeqCst);
    }
}
