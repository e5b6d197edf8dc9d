//! The static execution order, in the spirit of `dask.order`: keep few results alive.
//!
//! A depth-first post-order from the requested keys: to run a node, run its dependencies one
//! after the other — each to completion, in argument order — then the node. On a tree
//! reduction this finishes one subtree before starting the next, so a single thread holds
//! O(depth) results instead of O(leaves); on independent chains it finishes one chain before
//! starting another. Executors with several threads use the position as a priority: among
//! ready tasks, the earliest in this order runs first.
//!
//! Not done (yet) that `dask.order` does: choosing among dependencies the one that frees the
//! most memory soonest, and look-ahead for dependents that share inputs. Argument order is the
//! tie-break, which is also what makes the order deterministic.

use crate::op::Csr;

/// Every node reachable from `targets`, dependencies before dependents. The graph must be
/// acyclic (the plan checks first). Iterative, so a chain of a million nodes is fine.
pub(crate) fn dfs_order(dependencies: &Csr, targets: &[u32]) -> Vec<u32> {
    let n = dependencies.len();
    let mut order = Vec::with_capacity(n);
    let mut visited = vec![false; n];
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
                order.push(node);
                stack.pop();
            }
        }
    }
    order
}
