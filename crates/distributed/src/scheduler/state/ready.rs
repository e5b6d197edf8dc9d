//! Tasks ready to run, in priority order, in two heaps: roots (no dependencies) and the rest.
//!
//! A worker may queue hundreds of tasks when they take microseconds (`Worker::saturation`),
//! but a deep queue of roots is made ahead of its consumers, which arrive a round trip later,
//! and held: a 20k-leaf reduction on two workers held 1,573 results instead of a few hundred,
//! while the tasks that consume results free them. So roots get a deep queue only when their
//! group's results are known to be small (`Worker::root_saturation`: a megabyte per thread),
//! and the usual 32 otherwise — Dask holds every root back on the scheduler. Two heaps let the
//! scheduler skip the roots when no worker has room for the first of them without popping
//! them all.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::{Priority, TaskId};

type Heap = BinaryHeap<Reverse<(Priority, TaskId)>>;

#[derive(Default)]
pub(super) struct Ready {
    roots: Heap,
    others: Heap,
}

impl Ready {
    pub(super) fn push(&mut self, priority: Priority, t: TaskId, root: bool) {
        let heap = if root { &mut self.roots } else { &mut self.others };
        heap.push(Reverse((priority, t)));
    }

    /// The first task in priority order if its user priority is above the default (it goes
    /// to a worker whether or not one has room: `State::place_urgent`).
    pub(super) fn pop_urgent(&mut self) -> Option<(Priority, TaskId)> {
        let urgent = |heap: &Heap| heap.peek().filter(|Reverse(((Reverse(user), _, _), _))| *user > 0).copied();
        let heap = match (urgent(&self.roots), urgent(&self.others)) {
            (Some(r), Some(o)) if r > o => &mut self.roots,
            (Some(_), None) => &mut self.roots,
            (_, Some(_)) => &mut self.others,
            (None, None) => return None,
        };
        heap.pop().map(|Reverse(entry)| entry)
    }

    /// The root `pop` would return if roots were allowed and came first.
    pub(super) fn first_root(&self) -> Option<TaskId> {
        self.roots.peek().map(|Reverse((_, t))| *t)
    }

    /// The first task in priority order, among roots only if `roots` allows them.
    pub(super) fn pop(&mut self, roots: bool) -> Option<(Priority, TaskId)> {
        let root_first = match (self.roots.peek(), self.others.peek()) {
            (Some(r), Some(o)) => roots && r > o,
            (Some(_), None) => roots,
            (None, _) => false,
        };
        let heap = if root_first { &mut self.roots } else { &mut self.others };
        heap.pop().map(|Reverse(entry)| entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_in_priority_order_and_skips_roots_when_asked() {
        let mut ready = Ready::default();
        let p = |rank: u32| (Reverse(0), 1, rank);
        for (rank, root) in [(3, true), (1, false), (2, true), (5, false), (4, true)] {
            ready.push(p(rank), rank, root);
        }
        assert_eq!(ready.pop(true), Some((p(1), 1)));
        assert_eq!(ready.pop(false), Some((p(5), 5)), "roots skipped: the next other task");
        assert_eq!(ready.pop(false), None, "only roots left");
        let rest: Vec<TaskId> = std::iter::from_fn(|| ready.pop(true)).map(|(_, t)| t).collect();
        assert_eq!(rest, vec![2, 3, 4]);
    }
}
