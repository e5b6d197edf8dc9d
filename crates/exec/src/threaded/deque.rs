//! Per-worker ready queues: crossbeam's work-stealing deques normally; under loom, a
//! mutex-guarded stand-in with the same surface (crossbeam's deque is not loom-instrumented,
//! so the models check our protocol around it, not its internals).

#[cfg(not(loom))]
pub(crate) use crossbeam_deque::{Steal, Stealer, Worker};

#[cfg(loom)]
pub(crate) use model::{Steal, Stealer, Worker};

#[cfg(loom)]
mod model {
    use std::collections::VecDeque;

    use loom::sync::{Arc, Mutex};

    pub(crate) enum Steal<T> {
        Empty,
        Success(T),
        #[allow(dead_code)]
        Retry,
    }

    pub(crate) struct Worker<T>(Arc<Mutex<VecDeque<T>>>);
    pub(crate) struct Stealer<T>(Arc<Mutex<VecDeque<T>>>);

    impl<T> Worker<T> {
        pub(crate) fn new_lifo() -> Worker<T> {
            Worker(Arc::new(Mutex::new(VecDeque::new())))
        }
        pub(crate) fn push(&self, t: T) {
            self.0.lock().unwrap().push_back(t)
        }
        pub(crate) fn pop(&self) -> Option<T> {
            self.0.lock().unwrap().pop_back()
        }
        pub(crate) fn stealer(&self) -> Stealer<T> {
            Stealer(self.0.clone())
        }
    }

    impl<T> Stealer<T> {
        pub(crate) fn steal(&self) -> Steal<T> {
            match self.0.lock().unwrap().pop_front() {
                Some(t) => Steal::Success(t),
                None => Steal::Empty,
            }
        }
        pub(crate) fn is_empty(&self) -> bool {
            self.0.lock().unwrap().is_empty()
        }
    }
}
