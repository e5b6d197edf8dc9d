//! The graph shapes Dask's collections make, for judging an execution order by the memory it
//! needs: array reductions and transposes, rechunks, map-overlap, dataframe shuffles, tree
//! reductions and diamond-heavy graphs. [`peak_live`] runs a plan's order on paper and counts
//! the most results held at once; the bench compares it with `dask.order` on the same shapes
//! (exported by [`dependencies`]).

use crate::expr::{Expr, Graph};
use crate::key::Key;
use crate::plan::Plan;
use crate::workloads::tree_reduce;

/// A graph of one shape and the keys a user would ask of it.
pub struct Shape {
    pub name: &'static str,
    pub graph: Graph,
    pub targets: Vec<Key>,
}

fn key(name: &str, i: usize) -> Key {
    Key::from((name, i as i64))
}

fn key2(name: &str, i: usize, j: usize) -> Key {
    Key::from((name, i as i64, j as i64))
}

fn sum_of(keys: impl IntoIterator<Item = Key>) -> Expr {
    Expr::call("sum", [Expr::list(keys.into_iter().map(Expr::key))])
}

/// A tree of sums over `parts`, 4 at a time (Dask's `split_every` for arrays).
fn reduce(g: &mut Graph, token: &str, parts: Vec<Key>) -> Key {
    let root = tree_reduce(g, token, parts, 4, 1, |e| Expr::call("sum", [Expr::list([e])]), |l| Expr::call("sum", [l]));
    root.expect("some parts")
}

/// `x.sum()` of an `n × n`-block array: the blocks, then a tree of partial sums.
pub fn array_sum(n: usize) -> Shape {
    let mut g = Graph::new();
    let blocks: Vec<Key> = (0..n * n).map(|b| key2("x", b / n, b % n)).collect();
    for (b, k) in blocks.iter().enumerate() {
        g.insert(k.clone(), Expr::call("inc", [Expr::from(b as i64)]));
    }
    let root = reduce(&mut g, "sum", blocks);
    Shape { name: "array_sum", graph: g, targets: vec![root] }
}

/// `(x + x.T).sum()`: block `(i, j)` of the sum reads blocks `(i, j)` and `(j, i)`.
pub fn transpose_add(n: usize) -> Shape {
    let mut g = Graph::new();
    for b in 0..n * n {
        g.insert(key2("x", b / n, b % n), Expr::call("inc", [Expr::from(b as i64)]));
    }
    let sums: Vec<Key> = (0..n * n)
        .map(|b| {
            let (i, j) = (b / n, b % n);
            let k = key2("xt", i, j);
            g.insert(k.clone(), Expr::call("add", [Expr::key(key2("x", i, j)), Expr::key(key2("x", j, i))]));
            k
        })
        .collect();
    let root = reduce(&mut g, "sum", sums);
    Shape { name: "transpose_add", graph: g, targets: vec![root] }
}

/// A rechunk by half a chunk: each old chunk splits in two, each new chunk joins the second
/// half of one old chunk with the first half of the next; then a sum.
pub fn rechunk(n: usize) -> Shape {
    let mut g = Graph::new();
    for i in 0..n {
        g.insert(key("old", i), Expr::call("inc", [Expr::from(i as i64)]));
        for half in 0..2 {
            g.insert(key2("split", i, half), Expr::call("add", [Expr::key(key("old", i)), Expr::from(half as i64)]));
        }
    }
    let new: Vec<Key> = (0..n - 1)
        .map(|i| {
            let k = key("new", i);
            g.insert(k.clone(), sum_of([key2("split", i, 1), key2("split", i + 1, 0)]));
            k
        })
        .collect();
    let root = reduce(&mut g, "sum", new);
    Shape { name: "rechunk", graph: g, targets: vec![root] }
}

/// `map_overlap` with depth one: each output reads its chunk and both neighbours.
pub fn map_overlap(n: usize) -> Shape {
    let mut g = Graph::new();
    for i in 0..n {
        g.insert(key("chunk", i), Expr::call("inc", [Expr::from(i as i64)]));
    }
    let out: Vec<Key> = (0..n)
        .map(|i| {
            let k = key("overlap", i);
            g.insert(k.clone(), sum_of((i.saturating_sub(1)..(i + 2).min(n)).map(|j| key("chunk", j))));
            k
        })
        .collect();
    let root = reduce(&mut g, "sum", out);
    Shape { name: "map_overlap", graph: g, targets: vec![root] }
}

/// A dataframe shuffle: `n` input partitions each split `n` ways, output partition `j` the
/// concatenation of every input's piece `j`; then a tree reduction of the outputs.
pub fn shuffle(n: usize) -> Shape {
    let mut g = Graph::new();
    for i in 0..n {
        g.insert(key("part", i), Expr::call("inc", [Expr::from(i as i64)]));
        for j in 0..n {
            g.insert(key2("piece", i, j), Expr::call("add", [Expr::key(key("part", i)), Expr::from(j as i64)]));
        }
    }
    let out: Vec<Key> = (0..n)
        .map(|j| {
            let k = key("shuffled", j);
            g.insert(k.clone(), sum_of((0..n).map(|i| key2("piece", i, j))));
            k
        })
        .collect();
    let root = reduce(&mut g, "agg", out);
    Shape { name: "shuffle", graph: g, targets: vec![root] }
}

/// A dataframe tree reduction (`df.x.sum()`): a partial per partition, combined 8 at a time.
pub fn tree_reduction(n: usize) -> Shape {
    let mut g = Graph::new();
    let parts: Vec<Key> = (0..n)
        .map(|i| {
            let k = key("partition", i);
            g.insert(k.clone(), Expr::call("inc", [Expr::from(i as i64)]));
            k
        })
        .collect();
    let root = tree_reduce(&mut g, "total", parts, 8, 1, |e| Expr::call("inc", [e]), |l| Expr::call("sum", [l]));
    Shape { name: "tree_reduction", graph: g, targets: vec![root.expect("some parts")] }
}

/// Diamonds: `n` chains, each a run of diamonds (`a → b, c → d → …`), joined at the end.
pub fn diamonds(n: usize, length: usize) -> Shape {
    let mut g = Graph::new();
    let mut ends = Vec::new();
    for c in 0..n {
        let mut top = key2("top", c, 0);
        g.insert(top.clone(), Expr::call("inc", [Expr::from(c as i64)]));
        for d in 0..length {
            let (left, right, bottom) = (key2("left", c, d), key2("right", c, d), key2("top", c, d + 1));
            g.insert(left.clone(), Expr::call("inc", [Expr::key(top.clone())]));
            g.insert(right.clone(), Expr::call("add", [Expr::key(top.clone()), Expr::from(1)]));
            g.insert(bottom.clone(), Expr::call("add", [Expr::key(left), Expr::key(right)]));
            top = bottom;
        }
        ends.push(top);
    }
    g.insert("joined", sum_of(ends));
    Shape { name: "diamonds", graph: g, targets: vec![Key::from("joined")] }
}

/// Every shape, at the sizes the tests and the bench use.
pub fn shapes() -> Vec<Shape> {
    vec![
        array_sum(16),
        transpose_add(12),
        rechunk(64),
        map_overlap(64),
        shuffle(16),
        tree_reduction(256),
        diamonds(16, 8),
    ]
}

/// The most results held at once when `plan` runs in its order on one thread: a result is
/// held from when its task runs until its last dependent has (targets until the end).
pub fn peak_live(plan: &Plan) -> usize {
    let mut remaining: Vec<u32> = vec![0; plan.len()];
    for node in 0..plan.len() as u32 {
        for &d in plan.dependencies(node) {
            remaining[d as usize] += 1;
        }
    }
    let targets: std::collections::HashSet<u32> = plan.targets().iter().copied().collect();
    let (mut live, mut peak) = (0usize, 0usize);
    for &node in plan.order() {
        live += 1;
        peak = peak.max(live);
        for &d in plan.dependencies(node) {
            remaining[d as usize] -= 1;
            if remaining[d as usize] == 0 && !targets.contains(&d) {
                live -= 1;
            }
        }
    }
    peak
}

/// `plan`'s graph as `(key, dependency keys)` lines, for ordering it elsewhere (the bench
/// hands it to `dask.order`): `key<TAB>dep<TAB>dep…`, keys in Dask's repr.
pub fn dependencies(plan: &Plan) -> String {
    let mut out = String::new();
    for node in 0..plan.len() as u32 {
        out.push_str(&plan.key(node).to_string());
        for &d in plan.dependencies(node) {
            out.push('\t');
            out.push_str(&plan.key(d).to_string());
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{PlanOptions, Registry};

    fn plan(shape: &Shape) -> Plan {
        Plan::build_with(&shape.graph, &shape.targets, &Registry::new(), &PlanOptions::unoptimized()).unwrap()
    }

    /// A straightforward reference: results live from their task to their last reader among
    /// the tasks run, on the graph itself (not the plan's node numbers).
    fn reference_peak(shape: &Shape, order: &[Key]) -> usize {
        let mut readers: std::collections::HashMap<Key, usize> = Default::default();
        for k in order {
            let mut deps = std::collections::HashSet::new();
            shape.graph.get(k).unwrap().for_each_ref(&mut |k| {
                deps.insert(k.clone());
            });
            for d in deps {
                *readers.entry(d).or_default() += 1;
            }
        }
        let (mut live, mut peak) = (0usize, 0usize);
        for k in order {
            live += 1;
            peak = peak.max(live);
            let mut deps = std::collections::HashSet::new();
            shape.graph.get(k).unwrap().for_each_ref(&mut |d| {
                deps.insert(d.clone());
            });
            for d in deps {
                let r = readers.get_mut(&d).unwrap();
                *r -= 1;
                if *r == 0 && !shape.targets.contains(&d) {
                    live -= 1;
                }
            }
        }
        peak
    }

    #[test]
    fn peaks_under_our_order_match_the_reference_and_are_recorded() {
        // Our order's peak on each shape: a regression here is a memory regression. Beside
        // each, `dask.order`'s on the same graph (`cargo xtask bench --only order` measures it
        // again; these are its figures of 2026-12-04): ours must stay at most Dask's.
        let expected = [
            ("array_sum", 14, 14),
            ("transpose_add", 35, 77),
            ("rechunk", 12, 13),
            ("map_overlap", 12, 16),
            ("shuffle", 38, 38),
            ("tree_reduction", 19, 19),
            ("diamonds", 18, 18),
        ];
        for (name, ours, dask) in expected {
            assert!(ours <= dask, "{name}: the recorded peak {ours} is above Dask's {dask}");
        }
        let expected: Vec<(&str, usize)> = expected.iter().map(|&(name, ours, _)| (name, ours)).collect();
        let mut got = Vec::new();
        for shape in shapes() {
            let plan = plan(&shape);
            let peak = peak_live(&plan);
            let order: Vec<Key> = plan.order().iter().map(|&n| plan.key(n).clone()).collect();
            assert_eq!(peak, reference_peak(&shape, &order), "{}", shape.name);
            assert!(peak <= plan.len(), "{}", shape.name);
            got.push((shape.name, peak));
        }
        assert_eq!(got, expected);
    }

    #[test]
    fn the_exported_dependencies_name_every_task_once() {
        for shape in shapes() {
            let plan = plan(&shape);
            let text = dependencies(&plan);
            assert_eq!(text.lines().count(), plan.len(), "{}", shape.name);
            let edges: usize = text.lines().map(|l| l.split('\t').count() - 1).sum();
            let want: usize = (0..plan.len() as u32).map(|n| plan.dependencies(n).len()).sum();
            assert_eq!(edges, want, "{}", shape.name);
        }
    }
}
