//! Where large results are allocated.
//!
//! A task function that makes a big array asks for its memory through [`Array::f64_with`] /
//! [`Array::i64_with`]. On the heap by default; an executor that moves results between
//! processes installs an [`Arena`] on its worker thread so that the array is written once,
//! straight into memory another process can map, and never copied afterwards.
//!
//! [`Array::f64_with`]: crate::Array::f64_with
//! [`Array::i64_with`]: crate::Array::i64_with

use std::cell::RefCell;
use std::sync::Arc;

use crate::value::Buffer;

/// A source of writable blocks for large payloads.
pub trait Arena: Send + Sync {
    /// A zero-filled, 8-byte-aligned block of exactly `len` bytes, or `None` to let the caller
    /// use the heap (for example because `len` is below the arena's threshold).
    fn allocate(&self, len: usize) -> Option<Box<dyn BlockMut>>;
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
    struct Restore(Option<Arc<dyn Arena>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            ARENA.with(|a| *a.borrow_mut() = self.0.take());
        }
    }
    let _restore = Restore(ARENA.with(|a| a.borrow_mut().replace(arena)));
    f()
}

/// A block from the installed arena, if there is one and it takes `len` bytes.
pub(crate) fn allocate(len: usize) -> Option<Box<dyn BlockMut>> {
    // Cloned out first so an arena may itself allocate values without re-entering the cell.
    let arena = ARENA.with(|a| a.borrow().clone())?;
    arena.allocate(len)
}
