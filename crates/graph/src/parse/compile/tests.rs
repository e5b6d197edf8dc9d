//! The direct reader against the two-step path it replaces: the same text must give the same
//! plan (same keys in the same order, ops, dependencies, targets, order) or fail on both.

use proptest::prelude::*;

use crate::error::ReadError;
use crate::shapes::shapes;
use crate::workloads::tree_sum;
use crate::{parse_graph, to_dask_string, GraphError, Plan, Registry};

/// Both paths, the plan printed in full (`Debug` shows every field) or the error.
fn both(src: &str) -> (Result<String, String>, Result<String, String>) {
    let registry = Registry::new();
    let two_step = parse_graph(src)
        .map_err(|e| e.to_string())
        .and_then(|g| Plan::build_outputs(&g, &registry).map_err(|e| e.to_string()))
        .map(|p| format!("{p:?}"));
    let direct = Plan::read_dask(src, &registry).map(|p| format!("{p:?}")).map_err(|e| e.to_string());
    (two_step, direct)
}

fn assert_same(src: &str) {
    let (two_step, direct) = both(src);
    assert_eq!(direct, two_step, "for {src}");
}

#[test]
fn the_seed_graph_and_every_shape_read_to_the_same_plan() {
    assert_same("{'x': 1, 'y': 2, 'z': (add, 'x', 'y'), 'w': (sum, ['x', 'y', 'z']), 'v': [(sum, ['w', 'z']), 2]}");
    assert_same(&to_dask_string(&tree_sum(100).0));
    for shape in shapes() {
        assert_same(&to_dask_string(&shape.graph));
    }
}

#[test]
fn references_before_definitions_and_keys_that_are_never_defined() {
    // 'b' is used before it is defined; ('x', 9) looks like a key of the graph's kind but is
    // none, so it stays a literal tuple.
    assert_same("{('x', 0): (add, ('x', 1), ('x', 9)), ('x', 1): (inc, 1)}");
    assert_same("{'a': (add, 'b', 'zz'), 'b': 1}");
}

#[test]
fn a_kind_of_key_defined_late_turns_earlier_literals_into_references() {
    // When 'a' is read no key is an integer; `1` is defined later, so the `1`s in 'a' (in a
    // task, in a list of constants) are references — but not inside a literal tuple.
    assert_same("{'a': (add, 1, [1, 2, [1]]), 'b': (sum, [(1, 2), 3]), 1: 10, 3: 'b'}");
    assert_same("{1: (inc, 'a'), 'a': 5}");
    assert_same("{'t': [('x', 0), 'x'], ('x', 0): 1}");
}

/// Tuple keys read by the byte scan (`Lexer::plain_key_tuple`) and those it leaves to the token
/// reader give the plans (or errors) the two-step path gives, as keys and as references.
#[test]
fn plain_key_tuples_and_their_near_misses_read_as_the_token_reader_reads_them() {
    for key in [
        "('x', 0)",
        "(\"x\", 0)",
        "('x',)",
        "( 'x' ,  0 , )",
        "('x', -7, 'y')",
        "('', 0)",
        "('x',\n0)",
        "('x', 0 # c\n)",
        "('x\\'', 0)",
        "('x\\', 'y', 0)",
        "('x\n', 0)",
        "(b'x', 0)",
        "('''x''', 0)",
        "('x', 0.0)",
        "('x', 0j)",
        "('x', 00)",
        "('x', 0_0)",
        "('x', 99999999999999999999)",
        "('x', (1, 2))",
        "(0)",
        "()",
    ] {
        assert_same(&format!("{{{key}: 1, 'b': (inc, {key})}}"));
        assert_same(&format!("{{'b': (inc, {key}), {key}: 1}}"));
    }
}

/// Task heads read by the byte scan (`Lexer::plain_task_head`) and those it leaves to the
/// token reader give the plans (or errors) the two-step path gives.
#[test]
fn plain_task_heads_and_their_near_misses_read_as_the_token_reader_reads_them() {
    for task in [
        "(inc, 1)",
        "(inc,1)",
        "( inc , 1)",
        "(inc\n, 1)",
        "(inc, )",
        "(inc,)",
        "(inc)",
        "(add, 1, 2)",
        "(None, 1)",
        "(True, 1)",
        "(nope, 1)",
        "(inc # c\n, 1)",
        "(float('nan'), 1)",
        "(b'x', 1)",
        "(inc, (inc, 1))",
    ] {
        assert_same(&format!("{{'a': {task}, 'b': [{task}, 2]}}"));
    }
}

#[test]
fn errors_name_the_key_and_the_place() {
    let registry = Registry::new();
    let read = |src: &str| Plan::read_dask(src, &registry).expect_err("the graph is refused").to_string();
    assert_eq!(read("{'a': (nope, 1)}"), "task 'a' calls unknown function `nope`");
    assert_eq!(read("{'a': (inc, 1, 2)}"), "task 'a': `inc` takes exactly 1 argument, but is given 2");
    assert_eq!(read("{'a': 1, 'a': 2}"), "line 1, column 10: key 'a' is defined twice");
    assert_eq!(read("{'a': 1,"), "line 1, column 1: this '{' is never closed");
    assert_eq!(read("{[1]: 1}"), "line 1, column 2: a graph's keys must be strings, integers or tuples of them");
    assert_eq!(read("{'a': inc}"), both("{'a': inc}").0.unwrap_err());
    assert!(matches!(
        Plan::read_dask("{'a': (inc, 'b'), 'b': (inc, 'a')}", &registry),
        Err(ReadError::Graph(GraphError::Cycle(_)))
    ));
}

#[test]
fn malformed_text_is_reported_as_the_two_step_path_reports_it() {
    for src in [
        "{'a': (inc)}",
        "{'a': (inc 1)}",
        "{'a': (inc, 1}",
        "{'a': [1, 2}",
        "{'a': (inc,, 1)}",
        "{'a': [inc]}",
        "{'a': (inc, (add, 1 2))}",
        "{'a': (inc, 1)",
        "{'a': (inc, 1)} x",
        "{('x', 'open): 1}",
        "{('x', 1 2): 1}",
        "{('x', 1): (inc, ('x', 1 2))}",
        "{('x', 1): 1, ('x', 1,): 2}",
    ] {
        assert_same(src);
    }
    // Both refuse the same nesting: tasks, lists and tuples around the limit.
    for depth in 195..205 {
        for (open, close) in [("(inc, ", ")"), ("[", "]"), ("(1, ", ")")] {
            let src = format!("{{'a': {}1{}}}", open.repeat(depth), close.repeat(depth));
            let (two_step, direct) = both(&src);
            assert_eq!(direct.is_ok(), two_step.is_ok(), "{depth} levels of {open}…{close}: {direct:?}");
        }
    }
}

/// Text for one value: literals that may or may not equal keys, tasks, lists, tuples, dicts.
fn value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        (0..4i64).prop_map(|i| i.to_string()),
        prop::sample::select(vec![
            "'a'",
            "'b'",
            "'c'",
            "'zz'",
            "2.5",
            "None",
            "('x', 0)",
            "('x', 3)",
            "(1, 'a')",
            "('x',)",
            "('x')",
            "()",
            "(('x', 0), 1)",
            "('x', 0, 2.5)",
            "( 'x' , 1 , )",
            // Spellings the byte scan of plain key tuples must take exactly or leave to the
            // token reader: other quotes, signs, escapes, prefixes, radixes, line breaks.
            "(\"x\", 1)",
            "('x', -0)",
            "('x', +1)",
            "('x\\'', 1)",
            "(r'x', 1)",
            "('x', 0x1)",
            "('x',\n 1)",
            "('''x''', 1)",
            "('', 1)",
        ])
        .prop_map(str::to_owned),
    ];
    leaf.prop_recursive(3, 16, 3, |inner| {
        prop_oneof![
            inner.clone().prop_map(|a| format!("(inc, {a})")),
            // Parentheses around a value, and tuples that start with a name but are no task.
            inner.clone().prop_map(|a| format!("({a})")),
            inner.clone().prop_map(|a| format!("(float('nan'), {a})")),
            inner.clone().prop_map(|a| format!("(None, {a},)")),
            inner.clone().prop_map(|a| format!("( # a comment\n inc , {a} , )")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("(add, {a}, {b})")),
            prop::collection::vec(inner.clone(), 0..3).prop_map(|items| format!("[{}]", items.join(", "))),
            prop::collection::vec(inner.clone(), 0..3).prop_map(|items| format!("(sum, [{}])", items.join(", "))),
            inner.prop_map(|a| format!("{{'k': {a}}}")),
        ]
    })
}

fn graph_text() -> impl Strategy<Value = String> {
    let key = prop::sample::select(vec![
        "0",
        "1",
        "2",
        "'a'",
        "'b'",
        "'c'",
        "('x', 0)",
        "('x', 1)",
        "('x', 3)",
        "('x',)",
        "(('x', 0), 1)",
        "('x')",
        "(\"x\", 1)",
        "('x', -1)",
        "( 'x', 3 ,)",
        "('x', 01)",
        "('x', 1e1)",
        "('x', 9999999999999999999)",
    ]);
    prop::collection::vec((key, value()), 1..8).prop_map(|entries| {
        let body: Vec<String> = entries.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        format!("{{{}}}", body.join(", "))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_graphs_read_to_the_same_plan_or_fail_on_both(src in graph_text()) {
        let (two_step, direct) = both(&src);
        match (&two_step, &direct) {
            (Ok(a), Ok(b)) => prop_assert_eq!(a, b, "for {}", src),
            // The two may report different errors first (the direct reader stops at the first
            // entry it cannot compile; the two-step path reads the whole text first).
            (Err(_), Err(_)) => {}
            _ => prop_assert!(false, "{} gives {:?} directly but {:?} in two steps", src, direct, two_step),
        }
    }
}
