//! The static execution order, in the spirit of `dask.order`: keep few results alive.
//!
//! A depth-first post-order from the requested keys: to run a node, run its dependencies one
//! after the other — each to completion, in argument order — then the node. On a tree
//! reduction this finishes one subtree before starting the next, so a single thread holds
//! O(depth) results instead of O(leaves); on independent chains it finishes one chain before
//! starting another. Executors with several threads use the position as a priority: among
//! ready tasks, the earliest in this order runs first.
//!
//! One look-ahead, as `dask.order` has: the moment a node is placed, every dependent of it
//! whose dependencies are now all placed is placed too (and so on). A result read by two
//! consumers in different subtrees — a block of `x` in `(x + x.T)`, or an input of two
//! requested reductions — is then consumed by both at once instead of waiting, alive, until
//! the traversal reaches the second; without it a cluster, which follows the order strictly,
//! held every such input at once.
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
    let mut placed = vec![false; n];
    // Dependencies (with repeats, as the rows hold them) not yet placed.
    let mut missing: Vec<u32> = (0..n).map(|i| dependencies.row(i).len() as u32).collect();
    let mut unlocked: Vec<u32> = Vec::new();
    let mut place = |v: u32, order: &mut Vec<u32>, visited: &mut [bool], placed: &mut [bool]| {
        unlocked.push(v);
        while let Some(v) = unlocked.pop() {
            if placed[v as usize] {
                continue;
            }
            placed[v as usize] = true;
            visited[v as usize] = true;
            order.push(v);
            for &u in dependents.row(v as usize) {
                missing[u as usize] -= 1;
                if missing[u as usize] == 0 && !placed[u as usize] {
                    unlocked.push(u);
                }
            }
        }
    };
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
                place(node, &mut order, &mut visited, &mut placed);
            }
        }
    }
    order
}
