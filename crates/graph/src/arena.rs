//! Where large results are allocated.
//!
//! A task function that makes a big array asks for its memory through [`Array::f64_with`] /
//! [`Array::i64_with`]. On the heap by default; an executor that moves results between
//! processes installs an [`Arena`] on its worker thread so that the array is written once,
//! straight into memory another process can map, and never copied afterwards.
//!
//! [`Array::f64_with`]: crate::Array::f64_with
//! [`Array::i64_with`]: crate::Array::i64_with
//!
//! Every such allocation is *bounded and fallible*: a result larger than
//! [`allocation_limit`] (by default three quarters of the machine's memory; a cluster worker
//! sets its `--memory-limit`) is a `MemoryError` naming the size, and a heap allocation the
//! system refuses is one too — never an abort that takes the process, and every task on it,
//! down.

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use crate::registry::TaskError;
use crate::value::Buffer;

/// 0: not set, use the default.
static LIMIT: AtomicUsize = AtomicUsize::new(0);

/// Sets the largest payload one task result may allocate in this process, in bytes (0 restores
/// the default). Workers with a memory limit set it to that limit.
pub fn set_allocation_limit(bytes: usize) {
    LIMIT.store(bytes, Ordering::Relaxed);
}

/// The largest payload one task result may allocate, in bytes.
pub fn allocation_limit() -> usize {
    match LIMIT.load(Ordering::Relaxed) {
        0 => default_limit(),
        n => n,
    }
}

/// Three quarters of physical memory: a single result larger than that cannot be held anyway.
fn default_limit() -> usize {
    physical_memory() / 4 * 3
}

/// The machine's physical memory in bytes (from `/proc/meminfo`), or 16 GiB where that cannot
/// be read.
pub fn physical_memory() -> usize {
    static TOTAL: OnceLock<usize> = OnceLock::new();
    *TOTAL.get_or_init(|| {
        let total_kib = std::fs::read_to_string("/proc/meminfo").ok().and_then(|info| {
            let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
            line.split_whitespace().nth(1)?.parse::<usize>().ok()
        });
        total_kib.map_or(16 << 30, |kib| kib.saturating_mul(1024))
    })
}

/// Checks that `count` items of `item_size` bytes may be allocated; the error names the size
/// and the limit, so the task that asked is reported with a cause a user can act on.
pub fn check_allocation(count: usize, item_size: usize) -> Result<usize, TaskError> {
    let limit = allocation_limit();
    match count.checked_mul(item_size) {
        Some(bytes) if bytes <= limit => Ok(bytes),
        bytes => Err(TaskError::new(
            "MemoryError",
            format!(
                "a result of {} bytes exceeds this process's limit of {limit} bytes for one result \
                 (a worker's --memory-limit, else 3/4 of physical memory)",
                bytes.map_or_else(|| format!("{count} × {item_size}"), |b| b.to_string())
            ),
        )),
    }
}

/// A zero-filled vector of `len` items on the heap, or a `MemoryError` if the system refuses
/// the memory (instead of aborting the process).
pub fn try_zeroed<T: Copy + Default>(len: usize) -> Result<Vec<T>, TaskError> {
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|e| {
        TaskError::new("MemoryError", format!("cannot allocate {len} items of {} bytes: {e}", size_of::<T>()))
    })?;
    v.resize(len, T::default());
    Ok(v)
}

/// A source of writable blocks for large payloads.
pub trait Arena: Send + Sync {
    /// A zero-filled, 8-byte-aligned block of exactly `len` bytes, or `None` to let the caller
    /// use the heap (for example because `len` is below the arena's threshold).
    fn allocate(&self, len: usize) -> Option<Box<dyn BlockMut>>;

    /// As [`Arena::allocate`], but the bytes may be anything (a recycled block keeps what was
    /// last written in it): for a caller that writes every one of them. Zero-filled unless an
    /// arena saves the clearing.
    fn allocate_for_overwrite(&self, len: usize) -> Option<Box<dyn BlockMut>> {
        self.allocate(len)
    }
}

/// A block being filled by its one writer; [`BlockMut::freeze`] turns it into a read-only,
/// shareable [`Buffer`].
pub trait BlockMut: Send {
    fn bytes_mut(&mut self) -> &mut [u8];
    fn freeze(self: Box<Self>) -> Buffer;
}

thread_local! {
    static ARENA: RefCell<Option<Arc<dyn Arena>>> = const { RefCell::new(None) };
}

/// Runs `f` with `arena` serving this thread's large allocations.
pub fn with_arena<R>(arena: Arc<dyn Arena>, f: impl FnOnce() -> R) -> R {
    with_installed(Some(arena), f)
}

/// Runs `f` with no arena on this thread: what it allocates is an intermediate value (the
/// argument of a nested call), which never leaves the task, so it belongs on the heap, not in
/// memory made to be shared.
pub fn without_arena<R>(f: impl FnOnce() -> R) -> R {
    with_installed(None, f)
}

/// Runs `f` with `arena` (or none) installed, then puts back what was there, even if `f`
/// panics.
fn with_installed<R>(arena: Option<Arc<dyn Arena>>, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Arc<dyn Arena>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            ARENA.with(|a| *a.borrow_mut() = self.0.take());
        }
    }
    let _restore = Restore(ARENA.with(|a| std::mem::replace(&mut *a.borrow_mut(), arena)));
    f()
}

/// A block from the installed arena, if there is one and it takes `len` bytes.
pub(crate) fn allocate(len: usize) -> Option<Box<dyn BlockMut>> {
    installed()?.allocate(len)
}

/// A block of `len` bytes from this thread's arena, its contents unspecified, if an arena is
/// installed and takes it: for a task function that writes a large result whole and in place
/// (an Arrow batch's encoded form, say). `None` means: build it on the heap.
pub fn block_for_overwrite(len: usize) -> Option<Box<dyn BlockMut>> {
    installed()?.allocate_for_overwrite(len)
}

fn installed() -> Option<Arc<dyn Arena>> {
    // Cloned out first so an arena may itself allocate values without re-entering the cell.
    ARENA.with(|a| a.borrow().clone())
}
