//! The static execution order, in the spirit of `dask.order`: keep few results alive.
//!
//! A depth-first post-order from the requested keys: to run a node, run its dependencies one
//! after the other — each to completion, in argument order — then the node. On a tree
//! reduction this finishes one subtree before starting the next, so a single thread holds
//! O(depth) results instead of O(leaves); on independent chains it finishes one chain before
//! starting another. Executors with several threads use the position as a priority: among
//! ready tasks, the earliest in this order runs first.
//!
//! One look-ahead, as `dask.order` has: the moment a node is placed, the dependents it makes
//! ready are placed too (and so on) when that costs at most one more live result
//! (`LookAhead`). A result read by two consumers in different subtrees — a block of `x` in
//! `(x + x.T)`, or an input of two requested reductions — is then consumed by both at once
//! instead of waiting, alive, until the traversal reaches the second; without it a cluster,
//! which follows the order strictly, held every such input at once. A result read by many —
//! a partition a shuffle splits into `n` pieces — is not: placing all its readers at once
//! would hold every piece of every partition.
//!
//! Not done (yet) that `dask.order` does: choosing among dependencies the one that frees the
//! most memory soonest. Argument order is the tie-break, which is also what makes the order
//! deterministic.

use crate::op::Csr;

/// Every node reachable from `targets`, dependencies before dependents. The graph must be
/// acyclic (the plan checks first). Iterative, so a chain of a million nodes is fine.
pub(crate) fn dfs_order(dependencies: &Csr, dependents: &Csr, targets: &[u32]) -> Vec<u32> {
    let n = dependencies.len();
    let mut order = Vec::with_capacity(n);
    let mut visited = vec![false; n];
    let mut look_ahead = LookAhead::new(dependencies, dependents);
    // (node, how many of its dependencies have been pushed so far)
    let mut stack: Vec<(u32, u32)> = Vec::new();
    for &t in targets {
        if visited[t as usize] {
            continue;
        }
        visited[t as usize] = true;
        stack.push((t, 0));
        while let Some(top) = stack.last_mut() {
            let (node, next) = *top;
            let deps = dependencies.row(node as usize);
            if let Some(&d) = deps.get(next as usize) {
                top.1 += 1;
                if !visited[d as usize] {
                    visited[d as usize] = true;
                    stack.push((d, 0));
                }
            } else {
                stack.pop();
                look_ahead.place(node, &mut order, &mut visited);
            }
        }
    }
    order
}

/// Placing a node, and the look-ahead: the dependents it makes ready are placed at once too
/// when that costs memory at most one result — when, taken together, they are the last
/// readers of all but at most one fewer results than their number. A chain's next link
/// (frees one, holds one), the two blocks of `x + x.T` that read the same pair (frees two,
/// holds two) and the partials of two reductions over one input (free one, hold two) go at
/// once; the `n` pieces one partition of a shuffle splits into (free one, hold `n`) wait for
/// the traversal to ask for them, one output partition at a time.
struct LookAhead<'g> {
    dependencies: &'g Csr,
    dependents: &'g Csr,
    placed: Vec<bool>,
    /// Dependencies (with repeats, as the rows hold them) not yet placed.
    missing: Vec<u32>,
    /// Readers (with repeats) not yet placed: a result is freed when this reaches zero.
    readers_left: Vec<u32>,
    /// Scratch: reads of each result by the batch being weighed, and which were touched.
    batch_reads: Vec<u32>,
    touched: Vec<u32>,
}

impl<'g> LookAhead<'g> {
    fn new(dependencies: &'g Csr, dependents: &'g Csr) -> LookAhead<'g> {
        let n = dependencies.len();
        LookAhead {
            dependencies,
            dependents,
            placed: vec![false; n],
            missing: (0..n).map(|i| dependencies.row(i).len() as u32).collect(),
            readers_left: (0..n).map(|i| dependents.row(i).len() as u32).collect(),
            batch_reads: vec![0; n],
            touched: Vec::new(),
        }
    }

    fn place(&mut self, v: u32, order: &mut Vec<u32>, visited: &mut [bool]) {
        let mut pending = vec![v];
        let mut ready = Vec::new();
        while let Some(v) = pending.pop() {
            if self.placed[v as usize] {
                continue;
            }
            self.placed[v as usize] = true;
            visited[v as usize] = true;
            order.push(v);
            for &d in self.dependencies.row(v as usize) {
                self.readers_left[d as usize] -= 1;
            }
            ready.clear();
            for &u in self.dependents.row(v as usize) {
                self.missing[u as usize] -= 1;
                if self.missing[u as usize] == 0 && !self.placed[u as usize] {
                    ready.push(u);
                }
            }
            if !ready.is_empty() && ready.len() <= self.freed_by(&ready) + 1 {
                // Reversed, so that they are placed in the order their producer lists them.
                pending.extend(ready.iter().rev());
            }
        }
    }

    /// How many results would have no reader left once every node of `batch` is placed.
    fn freed_by(&mut self, batch: &[u32]) -> usize {
        for &u in batch {
            for &d in self.dependencies.row(u as usize) {
                if self.batch_reads[d as usize] == 0 {
                    self.touched.push(d);
                }
                self.batch_reads[d as usize] += 1;
            }
        }
        let mut freed = 0;
        for d in self.touched.drain(..) {
            if self.batch_reads[d as usize] == self.readers_left[d as usize] {
                freed += 1;
            }
            self.batch_reads[d as usize] = 0;
        }
        freed
    }
}
