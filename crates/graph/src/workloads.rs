//! Graphs of known shape for benchmarks, tests and examples.

use crate::expr::{Expr, Graph};
use crate::key::Key;

/// The peer benchmark's graph (`../shared/peer/dask_overhead.py`): `n` independent tasks
/// `('x', i) = inc(i)`, then a binary tree of `add` keyed `('s', level, j)` (an odd one out is
/// added to 0). Returns the graph and its root, whose value is `n (n + 1) / 2`.
pub fn tree_sum(n: usize) -> (Graph, Key) {
    assert!(n > 0, "a tree sum needs at least one leaf");
    let mut g = Graph::with_capacity(2 * n);
    let mut level: Vec<Key> = (0..n as i64).map(|i| Key::from(("x", i))).collect();
    for (i, k) in level.iter().enumerate() {
        g.insert(k.clone(), Expr::call("inc", [Expr::from(i as i64)]));
    }
    let mut depth = 0i64;
    while level.len() > 1 {
        depth += 1;
        let mut next = Vec::with_capacity(level.len() / 2 + 1);
        for (j, pair) in level.chunks(2).enumerate() {
            let key = Key::from(("s", depth, j as i64));
            let second = pair.get(1).map_or(Expr::from(0), |k| Expr::key(k.clone()));
            g.insert(key.clone(), Expr::call("add", [Expr::key(pair[0].clone()), second]));
            next.push(key);
        }
        level = next;
    }
    (g, level.pop().expect("n > 0"))
}
