use super::*;
use crate::parse_graph;

fn plan(src: &str, targets: &[&str], options: &PlanOptions) -> Result<Plan, GraphError> {
    let g = parse_graph(src).expect("test graph parses");
    let targets: Vec<Key> = targets.iter().map(|t| Key::from(*t)).collect();
    Plan::build_with(&g, &targets, &Registry::new(), options)
}

const SEED: &str = "{'x': 1, 'y': 2, 'z': (add, 'x', 'y'), 'w': (sum, ['x', 'y', 'z']), 'v': [(sum, ['w', 'z']), 2]}";

#[test]
fn unoptimized_plan_keeps_every_needed_key_and_orders_dependencies_first() {
    let p = plan(SEED, &["v"], &PlanOptions::unoptimized()).unwrap();
    assert_eq!(p.len(), 5);
    let pos = |k: &str| p.order().iter().position(|&n| p.key(n) == &Key::from(k)).unwrap();
    assert!(pos("x") < pos("z") && pos("y") < pos("z") && pos("z") < pos("w") && pos("w") < pos("v"));
    let z = p.order()[pos("z")];
    assert_eq!(p.dependencies(z).iter().map(|&d| p.key(d).to_string()).collect::<Vec<_>>(), ["'x'", "'y'"]);
}

#[test]
fn cull_drops_what_targets_do_not_need() {
    let p = plan(SEED, &["z"], &PlanOptions::unoptimized()).unwrap();
    let mut keys: Vec<String> = (0..p.len() as u32).map(|n| p.key(n).to_string()).collect();
    keys.sort();
    assert_eq!(keys, ["'x'", "'y'", "'z'"]);
}

#[test]
fn inlining_removes_constants_and_aliases() {
    let p = plan(
        "{'x': 1, 'a': 'x', 'y': (inc, 'a'), 'z': (add, 'y', 'y')}",
        &["z"],
        &PlanOptions { fuse: false, ..PlanOptions::default() },
    )
    .unwrap();
    assert_eq!(p.len(), 2, "x and a are inlined into y");
    let y = p.dependencies(p.targets()[0])[0];
    assert!(matches!(p.op(y), Op::Call(f, args) if f.name() == "inc" && matches!(&args[0], Op::Const(_))));
}

#[test]
fn fusion_merges_linear_chains_but_not_shared_or_target_nodes() {
    let src = "{'a': (inc, 1), 'b': (inc, 'a'), 'c': (inc, 'b'), 'd': (add, 'c', 'e'), 'e': (inc, 2)}";
    let p = plan(src, &["d"], &PlanOptions::default()).unwrap();
    // a→b→c is a chain; d has two dependencies so c is not fused into d.
    assert_eq!(p.len(), 3);
    let c = p.dependencies(p.targets()[0])[0];
    assert_eq!(p.key(c), &Key::from("c"));
    assert_eq!(p.op(c).depth(), 3);

    let p = plan(src, &["d", "b"], &PlanOptions::default()).unwrap();
    assert!((0..p.len() as u32).any(|n| p.key(n) == &Key::from("b")), "a requested key survives fusion");
}

#[test]
fn fusion_depth_is_bounded() {
    let mut src = String::from("{'k0': (inc, 0)");
    for i in 1..200 {
        src.push_str(&format!(", 'k{i}': (inc, 'k{}')", i - 1));
    }
    src.push('}');
    let p = plan(&src, &["k199"], &PlanOptions::default()).unwrap();
    assert!((0..p.len() as u32).all(|n| p.op(n).depth() <= 32));
    assert!(p.len() >= 200 / 32);
}

#[test]
fn validation_errors_name_the_key_and_cause() {
    let o = PlanOptions::default();
    assert_eq!(plan(SEED, &["nope"], &o).unwrap_err(), GraphError::MissingKey(Key::from("nope")));
    assert_eq!(
        plan("{'x': (frobnicate, 1)}", &["x"], &o).unwrap_err(),
        GraphError::UnknownFunction { key: Key::from("x"), function: "frobnicate".into() }
    );
    let e = plan("{'x': (add, 1)}", &["x"], &o).unwrap_err();
    assert_eq!(e.to_string(), "task 'x': `add` takes exactly 2 arguments, but is given 1");
    let e = plan("{'a': (inc, 'b'), 'b': (inc, 'c'), 'c': (inc, 'a'), 'd': (inc, 'a')}", &["d"], &o).unwrap_err();
    match &e {
        GraphError::Cycle(keys) => assert_eq!(keys.len(), 3),
        other => panic!("expected a cycle, got {other}"),
    }
    assert!(
        e.to_string().contains("'a' -> 'b' -> 'c' -> 'a'")
            || e.to_string().contains("'b' -> 'c' -> 'a' -> 'b'")
            || e.to_string().contains("'c' -> 'a' -> 'b' -> 'c'"),
        "{e}"
    );
    let mut g = Graph::new();
    g.insert("x", Expr::call("inc", [Expr::key("ghost")]));
    assert_eq!(
        Plan::build(&g, &[Key::from("x")], &Registry::new()).unwrap_err(),
        GraphError::MissingDependency { key: Key::from("x"), missing: Key::from("ghost") }
    );
}

#[test]
fn self_reference_is_a_cycle() {
    let mut g = Graph::new();
    g.insert("x", Expr::call("inc", [Expr::key("x")]));
    let e = Plan::build(&g, &[Key::from("x")], &Registry::new()).unwrap_err();
    assert_eq!(e.to_string(), "the graph has a cycle: 'x' -> 'x'");
}

#[test]
fn closures_are_refused_by_portable_executors() {
    let mut r = Registry::new();
    r.register_closure("local", crate::Arity::Exact(0), |_| Ok(crate::Value::None));
    let g = parse_graph("{'x': (local,)}").unwrap();
    let p = Plan::build(&g, &[Key::from("x")], &r).unwrap();
    assert!(matches!(p.check_portable("processes"), Err(GraphError::NotPortable { .. })));
}

#[test]
fn an_input_of_two_targets_is_consumed_by_both_before_the_next_input_is_made() {
    // t1 sums a_i = inc(x_i), t2 sums b_i = neg(x_i): each x_i is read in both subtrees.
    let n = 5;
    let mut src = String::from("{");
    for i in 0..n {
        src.push_str(&format!("'x{i}': (inc, {i}), 'a{i}': (inc, 'x{i}'), 'b{i}': (neg, 'x{i}'), "));
    }
    let list = |p: &str| (0..n).map(|i| format!("'{p}{i}'")).collect::<Vec<_>>().join(", ");
    src.push_str(&format!("'t1': (sum, [{}]), 't2': (sum, [{}])}}", list("a"), list("b")));
    let p = plan(&src, &["t1", "t2"], &PlanOptions { fuse: false, ..PlanOptions::default() }).unwrap();
    let pos = |k: &str| p.order().iter().position(|&v| p.key(v) == &Key::from(k)).unwrap();
    for i in 0..n - 1 {
        assert!(pos(&format!("b{i}")) < pos(&format!("x{}", i + 1)), "b{i} waits for no later x");
    }
    assert_eq!(p.order().len(), p.len(), "every node placed once");
}

#[test]
fn annotations_survive_culling_and_fusion_and_stop_fusion_where_they_differ() {
    use crate::{Annotations, Expr};
    let mut g = parse_graph("{'a': (inc, 1), 'b': (inc, 'a'), 'c': (inc, 'b'), 'unused': (inc, 1)}").unwrap();
    let urgent = Annotations::new().priority(9);
    g.annotate(urgent.clone(), |g| {
        g.insert("d", Expr::call("inc", [Expr::key("c")]));
        g.insert("e", Expr::call("inc", [Expr::key("d")]));
    });
    g.set_annotations("unused", Annotations::new().retries(1));
    let p = Plan::build(&g, &[Key::from("e")], &Registry::new()).unwrap();
    // a→b→c fuse into one node; c→d does not (d's hints differ); d fuses into e (same hints).
    let keys: Vec<&Key> = p.order().iter().map(|&n| p.key(n)).collect();
    assert_eq!(keys, vec![&Key::from("c"), &Key::from("e")]);
    let node = |k: &str| (0..p.len() as u32).find(|&n| p.key(n) == &Key::from(k)).unwrap();
    assert_eq!(p.annotations(node("e")), Some(&urgent));
    assert_eq!(p.annotations(node("c")), None);
    let mut bad = Graph::new();
    bad.insert("x", Expr::call("inc", [Expr::from(1)]));
    bad.set_annotations("x", Annotations::new().resource("GPU", f64::NAN));
    let e = Plan::build(&bad, &[Key::from("x")], &Registry::new()).unwrap_err();
    assert!(matches!(e, GraphError::BadAnnotations { .. }) && e.to_string().contains("GPU"), "{e}");
}

/// A plan's per-node vectors, inline parts (ARCHITECTURE.md, "memory layout"): a key, an op,
/// `order` and `priority` and the two CSR offsets (four `u32`s) besides the CSR rows. Growing
/// `Key` or `Op` grows every plan.
#[test]
fn a_plan_node_stays_within_its_documented_size() {
    let (key, op) = (std::mem::size_of::<crate::Key>(), std::mem::size_of::<crate::op::Op>());
    println!("Key {key} bytes, Op {op} bytes");
    assert!(key <= 24, "Key grew to {key} bytes");
    assert!(op <= 32, "Op grew to {op} bytes");
}

/// Numbers, booleans and `None` sit in the op itself; anything else is boxed; either way an
/// op gives back the value it was made from.
#[test]
fn a_literal_holds_small_values_inline_and_gives_back_what_it_was_made_from() {
    use crate::op::Literal;
    use crate::Value;
    assert!(std::mem::size_of::<Literal>() <= 16);
    let values = [
        (Value::None, true),
        (Value::Bool(true), true),
        (Value::Int(-7), true),
        (Value::Float(2.5), true),
        (Value::str("x"), false),
        (Value::list([Value::Int(1), Value::str("a")]), false),
        (Value::tuple([Value::str("k"), Value::Int(1)]), false),
    ];
    for (value, inline) in values {
        let literal = Literal::from(value.clone());
        assert_eq!(!matches!(literal, Literal::Boxed(_)), inline, "{value:?}");
        assert_eq!(literal.value(), value);
        assert_eq!(literal.nbytes(), value.nbytes());
        let op = Op::Const(literal);
        assert_eq!(op.eval(&|_| unreachable!("no inputs")).unwrap(), value);
    }
}

#[test]
fn building_for_the_outputs_is_building_for_graph_outputs() {
    let registry = Registry::new();
    for text in [
        "{'x': 1, 'y': 2, 'z': (add, 'x', 'y'), 'w': (sum, ['x', 'y', 'z']), 'v': [(sum, ['w', 'z']), 2]}",
        "{'a': (inc, 1), 'b': (inc, 'a'), 'c': (inc, 2), ('d', 1): (add, 'a', 'c'), ('d', 0): (inc, 'c')}",
        "{}",
    ] {
        let g = crate::parse_graph(text).unwrap();
        let all = Plan::build_outputs(&g, &registry).unwrap();
        let culled = Plan::build(&g, &g.outputs(), &registry).unwrap();
        let names = |p: &Plan| p.targets().iter().map(|&n| p.key(n).clone()).collect::<Vec<_>>();
        assert_eq!(names(&all), g.outputs(), "{text}");
        assert_eq!(names(&all), names(&culled), "{text}");
        assert_eq!(all.len(), culled.len(), "{text}");
    }
    // A cycle beside an output is an error, not a silently skipped part.
    let g = crate::parse_graph("{'ok': (inc, 1), 'a': (inc, 'b'), 'b': (inc, 'a')}").unwrap();
    assert!(
        matches!(Plan::build_outputs(&g, &registry), Err(GraphError::Cycle(_))),
        "{:?}",
        Plan::build_outputs(&g, &registry).err()
    );
}

#[test]
fn items_read_names_the_picked_positions_and_nothing_when_read_whole() {
    let p = plan(
        "{'l': (identity, [1, 2, 3]), 'one': (getitem, 'l', 1), 'two': (add, (getitem, 'l', 0), (getitem, 'l', -1)), \
         'all': (add, (getitem, 'l', 0), (len, 'l')), 'var': (getitem, 'l', 'one')}",
        &["one", "two", "all", "var"],
        &PlanOptions { fuse: false, ..PlanOptions::default() },
    )
    .unwrap();
    let node = |k: &str| (0..p.len() as u32).find(|&n| p.key(n) == &Key::from(k)).unwrap();
    let l = node("l");
    assert_eq!(p.op(node("one")).items_read(l).as_deref(), Some(&[1][..]));
    assert_eq!(p.op(node("two")).items_read(l).as_deref(), Some(&[0, -1][..]));
    assert_eq!(p.op(node("all")).items_read(l), None, "len reads the whole list");
    assert_eq!(p.op(node("var")).items_read(l), None, "a position not known before running");
    assert_eq!(p.op(node("var")).items_read(node("one")), None);
}
