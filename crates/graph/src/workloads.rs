//! Graphs of known shape: for benchmarks, tests and examples, and the tree reductions the
//! collections (frame, bag) lower to.

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

/// A graph in Dask's notation: `n` groups of tasks (`entries(i)`, comma-terminated), and
/// `'total'`, the sum of `summed(i)` over them.
pub fn summed_graph(n: usize, entries: impl Fn(usize) -> String, summed: impl Fn(usize) -> String) -> String {
    let mut text = String::from("{");
    (0..n).for_each(|i| text.push_str(&entries(i)));
    text.push_str("'total': (sum, [");
    (0..n).for_each(|i| text.push_str(&format!("{}, ", summed(i))));
    text.push_str("])}");
    text
}

/// A tree reduction over `parts`: `partial` of each, then `combine` of lists of at most
/// `split_every`, level by level (at least `min_levels` of them) until one is left. Returns its
/// key, or `None` when there are no parts.
pub fn tree_reduce(
    graph: &mut Graph,
    token: &str,
    parts: Vec<Key>,
    split_every: usize,
    min_levels: i64,
    partial: impl Fn(Expr) -> Expr,
    combine: impl Fn(Expr) -> Expr,
) -> Option<Key> {
    let mut level: Vec<Key> = parts
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let key = Key::from((format!("{token}-partial").as_str(), i as i64));
            graph.insert(key.clone(), partial(Expr::key(p)));
            key
        })
        .collect();
    let mut depth = 0i64;
    while level.len() > 1 || depth < min_levels {
        depth += 1;
        level = level
            .chunks(split_every)
            .enumerate()
            .map(|(j, group)| {
                let key = Key::from((format!("{token}-combine").as_str(), depth * 1_000_000 + j as i64));
                graph.insert(key.clone(), combine(Expr::list(group.iter().cloned().map(Expr::key))));
                key
            })
            .collect();
    }
    level.pop()
}
