//! Hand-offs between an event loop and task threads that cost a system call only when a
//! thread is waiting: [`JobQueue`], jobs in priority order waiting for a thread, and
//! [`Outbox`], finished work waiting for a writer that is rung only when the first piece
//! goes in. A cluster worker's tiny tasks arrive and finish by the hundred thousand a second,
//! and a wake-up per task (a futex call even with no one waiting) was most of its system time.
//!
//! What it is not: a thread pool (the caller owns the threads) nor a channel (a job queue is
//! ordered, and the caller may take jobs back before a thread starts them).
//!
//! Both are modelled in loom (`loom_tests.rs`, `cargo xtask loom`): no job or record is left
//! behind with every thread asleep.

#[cfg(all(test, loom))]
mod loom_tests;

use std::collections::BinaryHeap;

use crate::shim::{Condvar, Mutex};

/// Jobs waiting for a thread, each pushed with a rank: the greatest rank first and, among
/// equal ranks, the first queued. A thread that finds none waits; pushing wakes only as many
/// waiting threads as there are new jobs.
pub struct JobQueue<R, T> {
    state: Mutex<QueueState<R, T>>,
    ready: Condvar,
}

struct QueueState<R, T> {
    jobs: BinaryHeap<Queued<R, T>>,
    /// Jobs queued so far: the arrival number of the next.
    pushed: u64,
    closed: bool,
    /// Threads waiting in [`JobQueue::pop`]. Only then is the condition variable signalled.
    idle: usize,
}

/// A job, its rank and its arrival: ordered by rank, then first come (the job itself is not
/// compared).
struct Queued<R, T> {
    rank: R,
    arrival: std::cmp::Reverse<u64>,
    job: T,
}

impl<R: Ord, T> PartialEq for Queued<R, T> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == std::cmp::Ordering::Equal
    }
}

impl<R: Ord, T> Eq for Queued<R, T> {}

impl<R: Ord, T> PartialOrd for Queued<R, T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl<R: Ord, T> Ord for Queued<R, T> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.rank.cmp(&other.rank).then(self.arrival.cmp(&other.arrival))
    }
}

impl<R: Ord, T> Default for JobQueue<R, T> {
    fn default() -> Self {
        JobQueue {
            state: Mutex::new(QueueState { jobs: BinaryHeap::new(), pushed: 0, closed: false, idle: 0 }),
            ready: Condvar::new(),
        }
    }
}

impl<R: Ord, T> JobQueue<R, T> {
    /// Queues `jobs`, each with its rank, under one lock, waking as many waiting threads as
    /// there are new jobs.
    pub fn push_all(&self, jobs: impl IntoIterator<Item = (R, T)>) {
        let mut q = self.state.lock().expect("job queue");
        let before = q.jobs.len();
        for (rank, job) in jobs {
            let arrival = std::cmp::Reverse(q.pushed);
            q.pushed += 1;
            q.jobs.push(Queued { rank, arrival, job });
        }
        let wake = (q.jobs.len() - before).min(q.idle);
        drop(q);
        for _ in 0..wake {
            self.ready.notify_one();
        }
    }

    /// The next job, waiting for one if there is none; `None` once closed and empty.
    pub fn pop(&self) -> Option<T> {
        let mut q = self.state.lock().expect("job queue");
        loop {
            if let Some(queued) = q.jobs.pop() {
                return Some(queued.job);
            }
            if q.closed {
                return None;
            }
            // A thread must say it waits before it does, under the same lock as the pushes
            // that read the count: `cargo xtask loom --planted` drops the count and the
            // models must find the thread that sleeps through its job.
            #[cfg(not(rask_planted_bug))]
            {
                q.idle += 1;
                q = self.ready.wait(q).expect("job queue");
                q.idle -= 1;
            }
            #[cfg(rask_planted_bug)]
            {
                q = self.ready.wait(q).expect("job queue");
            }
        }
    }

    /// Removes the queued jobs `take` picks (a thread has not started them) and returns them.
    pub fn take_where(&self, mut take: impl FnMut(&T) -> bool) -> Vec<T> {
        let mut q = self.state.lock().expect("job queue");
        let (taken, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut q.jobs).into_iter().partition(|x| take(&x.job));
        q.jobs = kept.into();
        taken.into_iter().map(|x| x.job).collect()
    }

    /// Jobs waiting for a thread.
    pub fn len(&self) -> usize {
        self.state.lock().expect("job queue").jobs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// No more jobs will come: waiting threads wake, and [`JobQueue::pop`] returns `None` once
    /// the queued jobs are gone.
    pub fn close(&self) {
        self.state.lock().expect("job queue").closed = true;
        self.ready.notify_all();
    }
}

/// Finished work waiting to be sent. [`Outbox::add`] says whether the outbox was empty: only
/// then must the caller ring the writer, which takes everything added by the time it runs —
/// while it wakes and writes, more piles up without a ring each.
pub struct Outbox<T>(Mutex<Vec<T>>);

impl<T> Default for Outbox<T> {
    fn default() -> Self {
        Outbox(Mutex::new(Vec::new()))
    }
}

impl<T> Outbox<T> {
    /// Adds `item`; true if the outbox was empty (the writer must be rung).
    pub fn add(&self, item: T) -> bool {
        // The emptiness test and the push must be one step: `cargo xtask loom --planted`
        // splits them, and a take between them leaves the item with no ring to fetch it.
        #[cfg(not(rask_planted_bug))]
        {
            let mut outbox = self.0.lock().expect("outbox");
            outbox.push(item);
            outbox.len() == 1
        }
        #[cfg(rask_planted_bug)]
        {
            let was_empty = self.0.lock().expect("outbox").is_empty();
            self.0.lock().expect("outbox").push(item);
            was_empty
        }
    }

    /// Everything added since the last take.
    pub fn take(&self) -> Vec<T> {
        std::mem::take(&mut *self.0.lock().expect("outbox"))
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn jobs_leave_greatest_rank_first_and_equal_ranks_in_arrival_order() {
        let queue = JobQueue::default();
        queue.push_all([(1, 'a'), (3, 'b'), (1, 'c')]);
        queue.push_all([(2, 'd'), (1, 'e')]);
        let taken = queue.take_where(|&j| j == 'c');
        assert_eq!(taken, ['c']);
        queue.close();
        let order: String = std::iter::from_fn(|| queue.pop()).collect();
        assert_eq!(order, "bdae");
    }

    #[test]
    fn an_outbox_asks_for_a_ring_only_when_it_was_empty() {
        let outbox = Outbox::default();
        assert!(outbox.add(1));
        assert!(!outbox.add(2));
        assert_eq!(outbox.take(), vec![1, 2]);
        assert!(outbox.add(3), "emptied by the take: ring again");
    }
}
