//! The synchronization primitives the executors use: std's normally, loom's under
//! `--cfg loom` so that `cargo xtask loom` explores every interleaving of the same code.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicBool, AtomicU32, AtomicU64, AtomicUsize};
#[cfg(loom)]
pub(crate) use loom::sync::{Condvar, Mutex};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{fence, AtomicBool, AtomicU32, AtomicU64, AtomicUsize};
#[cfg(not(loom))]
pub(crate) use std::sync::{Condvar, Mutex};

/// A cell written by one thread and read by others only after a happens-before edge through
/// the executor's counters. Loom's version checks that claim on every interleaving.
#[cfg(loom)]
pub(crate) struct Cell<T>(loom::cell::UnsafeCell<T>);

#[cfg(not(loom))]
pub(crate) struct Cell<T>(std::cell::UnsafeCell<T>);

impl<T> Cell<T> {
    pub(crate) fn new(value: T) -> Cell<T> {
        #[cfg(loom)]
        return Cell(loom::cell::UnsafeCell::new(value));
        #[cfg(not(loom))]
        return Cell(std::cell::UnsafeCell::new(value));
    }

    /// # Safety
    /// No other thread may access the cell during the call (the caller holds the only claim).
    pub(crate) unsafe fn with_mut<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        #[cfg(loom)]
        return self.0.with_mut(|p| f(&mut *p));
        #[cfg(not(loom))]
        return f(&mut *self.0.get());
    }

    /// # Safety
    /// No thread may write the cell during the call.
    pub(crate) unsafe fn with<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        #[cfg(loom)]
        return self.0.with(|p| f(&*p));
        #[cfg(not(loom))]
        return f(&*self.0.get());
    }
}

// SAFETY: access is governed by the executor's protocol (see `threaded`), which loom checks.
unsafe impl<T: Send> Sync for Cell<T> {}

pub(crate) fn spin_hint() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    std::hint::spin_loop();
}
