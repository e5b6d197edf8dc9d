//! loom models of the shared-memory rings and their doorbells: the real `Ring` and `Bell`
//! code over loom's simulated memory, every interleaving (bounded by LOOM_MAX_PREEMPTIONS).
//!
//! Checked: a record is fully written before the consumer can read it (loom's cells flag a
//! read racing the write), free space is never reused before the consumer is done with it
//! (records wrap around a tiny ring), and a consumer that goes to sleep is always woken — a
//! lost wake-up would leave a model thread blocked forever, which loom reports as a deadlock.

use std::sync::Arc;

use loom::cell::UnsafeCell;
use loom::thread;

use super::ring::{Bell, Data, Ring, RingHeader};

/// A ring's memory, as a shared mapping would hold it.
struct Memory {
    header: RingHeader,
    cells: Vec<UnsafeCell<u8>>,
    bell: Bell,
}

impl Memory {
    fn new(cap: usize) -> Arc<Memory> {
        Arc::new(Memory {
            header: RingHeader::new(),
            cells: (0..cap).map(|_| UnsafeCell::new(0)).collect(),
            bell: Bell::new(),
        })
    }

    fn ring(&self) -> Ring<'_> {
        Ring::new(&self.header, Data::new(&self.cells), &self.bell)
    }
}

fn push(ring: &Ring<'_>, record: &[u8]) {
    while !ring.try_push(record) {
        thread::yield_now();
    }
    ring.notify();
}

fn pop(ring: &Ring<'_>, buf: &mut Vec<u8>) {
    while !ring.pop(buf).expect("records are well formed") {
        ring.wait(None);
    }
}

#[test]
fn loom_ring_records_wrap_and_sleepers_wake() {
    loom::model(|| {
        // 8 bytes hold one 3-byte record (4-byte length + 3): the second waits for space and
        // wraps around the end.
        let memory = Memory::new(8);
        let producer = {
            let memory = memory.clone();
            thread::spawn(move || {
                let ring = memory.ring();
                push(&ring, &[1, 2, 3]);
                push(&ring, &[4, 5, 6]);
            })
        };
        let ring = memory.ring();
        let mut buf = Vec::new();
        pop(&ring, &mut buf);
        assert_eq!(buf, [1, 2, 3]);
        pop(&ring, &mut buf);
        assert_eq!(buf, [4, 5, 6]);
        producer.join().unwrap();
    });
}

#[test]
fn loom_ring_round_trip_between_two_sleepers() {
    // The executor's shape: tasks one way, completions back, each side sleeping on its bell.
    loom::model(|| {
        let tasks = Memory::new(8);
        let done = Memory::new(8);
        let worker = {
            let (tasks, done) = (tasks.clone(), done.clone());
            thread::spawn(move || {
                let mut buf = Vec::new();
                pop(&tasks.ring(), &mut buf);
                push(&done.ring(), &[buf[0] + 1]);
            })
        };
        push(&tasks.ring(), &[41]);
        let mut buf = Vec::new();
        pop(&done.ring(), &mut buf);
        assert_eq!(buf, [42]);
        worker.join().unwrap();
    });
}
