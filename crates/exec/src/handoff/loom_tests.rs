//! loom models of the hand-offs: every interleaving of a few threads (bounded by
//! LOOM_MAX_PREEMPTIONS) ends with each job run once and each record fetched, never with a
//! thread asleep beside work meant for it (loom reports that as a deadlock). The shared
//! structures sit in std's `Arc`: loom's panics again when dropped while a deadlock report
//! unwinds, which aborts the whole test binary.

use std::sync::Arc;

use loom::sync::mpsc::channel;
use loom::thread;

use super::{JobQueue, Outbox};

/// A thread waiting for jobs is woken for each batch: the producer closes the queue only once
/// every job has been reported run, so a lost wake-up leaves both asleep.
#[test]
fn loom_a_waiting_thread_is_woken_for_each_batch() {
    loom::model(|| {
        let queue = Arc::new(JobQueue::default());
        let (ran, reports) = channel();
        let consumer = {
            let queue = queue.clone();
            thread::spawn(move || {
                while let Some(job) = queue.pop() {
                    ran.send(job).expect("the producer listens");
                }
            })
        };
        queue.push_all([(0, 1u32)]);
        queue.push_all([(0, 2u32), (0, 3)]);
        let mut seen: Vec<u32> = (0..3).map(|_| reports.recv().expect("a job ran")).collect();
        queue.close();
        consumer.join().expect("consumer");
        seen.sort_unstable();
        assert_eq!(seen, [1, 2, 3]);
    });
}

/// Jobs taken back and jobs run are disjoint and together all of them.
#[test]
fn loom_jobs_taken_back_are_never_also_run() {
    loom::model(|| {
        let queue = Arc::new(JobQueue::default());
        queue.push_all([(0, 1u32), (0, 2)]);
        let consumer = {
            let queue = queue.clone();
            thread::spawn(move || std::iter::from_fn(|| queue.pop()).collect::<Vec<u32>>())
        };
        let mut all = queue.take_where(|&j| j == 2);
        queue.close();
        all.extend(consumer.join().expect("consumer"));
        all.sort_unstable();
        assert_eq!(all, [1, 2]);
    });
}

/// Two threads add a record each and ring when told to; the writer takes on every ring.
/// Every record is fetched before the rings run out.
#[test]
fn loom_every_record_is_fetched_by_a_ring() {
    loom::model(|| {
        let outbox = Arc::new(Outbox::default());
        let (ring, rings) = channel();
        let producers: Vec<_> = (0..2u32)
            .map(|i| {
                let (outbox, ring) = (outbox.clone(), ring.clone());
                thread::spawn(move || {
                    if outbox.add(i) {
                        ring.send(()).expect("the writer listens");
                    }
                })
            })
            .collect();
        drop(ring);
        let mut fetched = Vec::new();
        while fetched.len() < 2 {
            // A record left with no ring: the writer waits here forever, which loom reports
            // as a deadlock (or, were the channel to say its senders are gone, this fails).
            assert!(rings.recv().is_ok(), "records {:?} of 2 fetched, and no ring left", fetched);
            fetched.extend(outbox.take());
        }
        for p in producers {
            p.join().expect("producer");
        }
        fetched.sort_unstable();
        assert_eq!(fetched, [0, 1]);
    });
}
