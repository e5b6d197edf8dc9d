//! Property tests of the graph algorithms: culling, cycle detection, inlining, fusion and
//! ordering preserve meaning; printing and parsing are inverse.

use std::collections::HashMap;
use std::sync::Arc;

use proptest::prelude::*;
use rask_graph::workloads::tree_sum;
use rask_graph::*;

/// A random DAG over `n` nodes: node `i` only refers to nodes `< i`. Keys mix strings and tuples.
fn dag() -> impl Strategy<Value = Graph> {
    (1usize..40)
        .prop_flat_map(|n| {
            let node = |i: usize| {
                let dep = if i == 0 { Just(0usize).boxed() } else { (0..i).boxed() };
                prop_oneof![
                    (0i64..100).prop_map(|v| (0u8, vec![], v)),
                    dep.clone().prop_map(|d| (1u8, vec![d], 0)),
                    (dep.clone(), dep.clone()).prop_map(|(a, b)| (2u8, vec![a, b], 0)),
                    proptest::collection::vec(dep.clone(), 1..4).prop_map(|ds| (3u8, ds, 0)),
                    dep.prop_map(|d| (4u8, vec![d], 0)),
                ]
            };
            let nodes: Vec<_> = (0..n).map(node).collect();
            (nodes, Just((0..n).collect::<Vec<_>>()).prop_shuffle())
        })
        .prop_map(|(nodes, order)| {
            let key = |i: usize| {
                if i % 3 == 0 {
                    Key::from(("t", i as i64))
                } else {
                    Key::from(format!("k{i}"))
                }
            };
            let mut g = Graph::new();
            for &i in &order {
                let (kind, deps, v) = &nodes[i];
                let expr = match (kind, i) {
                    (_, 0) | (0, _) => Expr::from(*v),
                    (1, _) => Expr::call("inc", [Expr::key(key(deps[0]))]),
                    (2, _) => Expr::call("add", [Expr::key(key(deps[0])), Expr::key(key(deps[1]))]),
                    (3, _) => Expr::call("sum", [Expr::list(deps.iter().map(|&d| Expr::key(key(d))))]),
                    _ => Expr::key(key(deps[0])),
                };
                g.insert(key(i), expr);
            }
            g
        })
}

/// Evaluates straight from the graph, recursively, with no plan: the reference semantics.
fn reference(g: &Graph, key: &Key, registry: &Registry, memo: &mut HashMap<Key, Value>) -> Value {
    if let Some(v) = memo.get(key) {
        return v.clone();
    }
    fn eval(e: &Expr, g: &Graph, r: &Registry, memo: &mut HashMap<Key, Value>) -> Value {
        match e {
            Expr::Literal(v) => v.clone(),
            Expr::Ref(k) => reference(g, k, r, memo),
            Expr::List(items) => Value::list(items.iter().map(|i| eval(i, g, r, memo))),
            Expr::Call(c) => {
                let args: Vec<Value> = c.args.iter().map(|a| eval(a, g, r, memo)).collect();
                r.get(&c.func).unwrap().call(&args).unwrap()
            }
        }
    }
    let v = eval(g.get(key).unwrap(), g, registry, memo);
    memo.insert(key.clone(), v.clone());
    v
}

/// Runs a plan in its order on one thread; returns target values and the peak of live results.
fn run(plan: &Plan) -> (Vec<Value>, usize) {
    let mut results: Vec<Option<Value>> = vec![None; plan.len()];
    let mut pending: Vec<u32> = plan.consumer_counts();
    let (mut live, mut peak) = (0, 0);
    for &n in plan.order() {
        let v = plan.op(n).eval(&|i| results[i as usize].clone().expect("dependency ran first")).unwrap();
        results[n as usize] = Some(v);
        live += 1;
        peak = usize::max(peak, live);
        for &d in plan.dependencies(n) {
            pending[d as usize] -= 1;
            if pending[d as usize] == 0 {
                results[d as usize] = None;
                live -= 1;
            }
        }
    }
    (plan.targets().iter().map(|&t| results[t as usize].clone().unwrap()).collect(), peak)
}

fn is_topological(plan: &Plan) -> bool {
    let mut seen = vec![false; plan.len()];
    for &n in plan.order() {
        if plan.dependencies(n).iter().any(|&d| !seen[d as usize]) || seen[n as usize] {
            return false;
        }
        seen[n as usize] = true;
    }
    seen.iter().all(|s| *s)
}

/// Each node's dependencies are its op's distinct inputs in the order it reads them, and its
/// dependents are the nodes that list it: what rewrites that renumber and substitute ops must
/// keep true of the edges they update.
fn edges_match_ops(plan: &Plan) -> bool {
    (0..plan.len() as u32).all(|n| {
        let mut inputs = Vec::new();
        plan.op(n).for_each_input(&mut |i| {
            if !inputs.contains(&i) {
                inputs.push(i);
            }
        });
        let dependents: Vec<u32> = (0..plan.len() as u32).filter(|&m| plan.dependencies(m).contains(&n)).collect();
        plan.dependencies(n) == inputs && plan.dependents(n) == dependents
    })
}

fn targets_of(g: &Graph, picks: &[usize]) -> Vec<Key> {
    let keys: Vec<&Key> = g.keys().collect();
    picks.iter().map(|&p| keys[p % keys.len()].clone()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn optimized_plans_compute_what_the_graph_means(g in dag(), picks in proptest::collection::vec(0usize..100, 1..4)) {
        let registry = Registry::new();
        let targets = targets_of(&g, &picks);
        let mut memo = HashMap::new();
        let want: Vec<Value> = targets.iter().map(|t| reference(&g, t, &registry, &mut memo)).collect();
        for options in [PlanOptions::unoptimized(), PlanOptions::default(), PlanOptions { fuse: false, ..PlanOptions::default() }] {
            let plan = Plan::build_with(&g, &targets, &registry, &options).unwrap();
            prop_assert!(is_topological(&plan));
            prop_assert!(edges_match_ops(&plan));
            prop_assert_eq!(&run(&plan).0, &want);
        }
    }

    #[test]
    fn unoptimized_plans_hold_exactly_the_culled_keys(g in dag(), picks in proptest::collection::vec(0usize..100, 1..4)) {
        let targets = targets_of(&g, &picks);
        let plan = Plan::build_with(&g, &targets, &Registry::new(), &PlanOptions::unoptimized()).unwrap();
        let mut planned: Vec<Key> = (0..plan.len() as u32).map(|n| plan.key(n).clone()).collect();
        planned.sort();
        let mut culled: Vec<Key> = g.cull(&targets).unwrap().keys().cloned().collect();
        culled.sort();
        prop_assert_eq!(planned, culled);
        for (i, &t) in plan.targets().iter().enumerate() {
            prop_assert_eq!(plan.key(t), &targets[i]);
        }
    }

    #[test]
    fn cycles_are_found_and_reported_in_dependency_order(g in dag(), ring in 1usize..8) {
        let mut g = g;
        let ring_key = |j: usize| Key::from(("ring", j as i64));
        for j in 0..ring {
            g.insert(ring_key(j), Expr::call("inc", [Expr::key(ring_key((j + 1) % ring))]));
        }
        let first = g.keys().next().unwrap().clone();
        g.insert("top", Expr::call("add", [Expr::key(first), Expr::key(ring_key(0))]));
        match Plan::build(&g, &[Key::from("top")], &Registry::new()) {
            Err(GraphError::Cycle(keys)) => {
                prop_assert_eq!(keys.len(), ring);
                let deps = g.dependencies();
                for w in 0..keys.len() {
                    let (a, b) = (&keys[w], &keys[(w + 1) % keys.len()]);
                    prop_assert!(deps[a].contains(b), "{} does not depend on {}", a, b);
                }
            }
            other => prop_assert!(false, "expected a cycle, got {:?}", other.map(|p| p.len())),
        }
    }

    #[test]
    fn dask_notation_round_trips(g in dag(), lits in proptest::collection::vec(literal(), 0..6)) {
        let mut g = g;
        for (i, v) in lits.into_iter().enumerate() {
            g.insert(format!("lit{i}"), Expr::Literal(v));
        }
        let text = to_dask_string(&g);
        prop_assert_eq!(parse_graph(&text).unwrap(), g.clone());
        prop_assert_eq!(graph_from_json(&graph_to_json(&g).to_string()).unwrap(), g);
    }

    #[test]
    fn the_parser_never_panics(text in "[{}()\\[\\],:'\" a-z0-9_.#\\\\\n-]{0,60}") {
        let _ = parse_graph(&text);
        let _ = parse_key(&text);
        let _ = parse_graph_auto(&text);
    }
}

/// Literals that cannot be mistaken for keys of [`dag`] (whose strings start with `k`).
fn literal() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::None),
        any::<bool>().prop_map(Value::Bool),
        (-5i64..5).prop_map(|i| Value::Int(i - 1_000_000)),
        any::<f64>().prop_map(Value::Float),
        "v[a-z'\"\\\\\n\t é]{0,8}".prop_map(|s| Value::str(&s)),
        proptest::collection::vec(any::<u8>(), 0..6).prop_map(Value::bytes),
    ];
    let hashable = leaf.clone();
    leaf.prop_recursive(3, 16, 4, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::list),
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::tuple),
            proptest::collection::vec((hashable.clone(), inner), 0..3).prop_map(|pairs| Value::Dict(Arc::new(pairs))),
        ]
    })
}

proptest! {
    #[test]
    fn the_order_finishes_each_subtree_before_the_next(leaves in 2usize..3000) {
        let (g, root) = tree_sum(leaves);
        let plan = Plan::build(&g, &[root], &Registry::new()).unwrap();
        let (values, peak) = run(&plan);
        let n = leaves as i64;
        prop_assert_eq!(&values[0], &Value::Int(n * (n + 1) / 2));
        let depth = (leaves as f64).log2().ceil() as usize;
        prop_assert!(peak <= depth + 2, "peak {} live results for {} leaves (depth {})", peak, leaves, depth);
    }
}
