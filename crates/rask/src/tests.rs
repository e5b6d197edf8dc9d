//! The value bridge, round trip by round trip, and typed tasks on the in-process executors.

use std::collections::BTreeMap;

use proptest::prelude::*;
use rask_graph::{DType, Value};
use serde::{Deserialize, Serialize};

use crate::prelude::*;
use crate::{from_value, to_value};

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
enum Shape {
    Empty,
    Circle(f64),
    Rect { w: i32, h: i32 },
    Pair(u8, String),
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
struct Record {
    id: u64,
    name: String,
    tags: Vec<String>,
    weights: Vec<f64>,
    counts: Vec<i64>,
    maybe: Option<bool>,
    shape: Shape,
    by_name: BTreeMap<String, u32>,
    pair: (i16, char),
}

fn shape() -> impl Strategy<Value = Shape> {
    prop_oneof![
        Just(Shape::Empty),
        any::<f64>().prop_filter("comparable", |x| !x.is_nan()).prop_map(Shape::Circle),
        (any::<i32>(), any::<i32>()).prop_map(|(w, h)| Shape::Rect { w, h }),
        (any::<u8>(), ".{0,8}").prop_map(|(a, b)| Shape::Pair(a, b)),
    ]
}

fn record() -> impl Strategy<Value = Record> {
    (
        0..i64::MAX as u64,
        ".{0,12}",
        proptest::collection::vec(".{0,4}", 0..4),
        proptest::collection::vec(-1e9f64..1e9, 0..20),
        proptest::collection::vec(any::<i64>(), 0..20),
        any::<Option<bool>>(),
        shape(),
        proptest::collection::btree_map(".{0,4}", any::<u32>(), 0..4),
        (any::<i16>(), any::<char>()),
    )
        .prop_map(|(id, name, tags, weights, counts, maybe, shape, by_name, pair)| Record {
            id,
            name,
            tags,
            weights,
            counts,
            maybe,
            shape,
            by_name,
            pair,
        })
}

proptest! {
    #[test]
    fn any_serde_value_survives_the_round_trip(r in record()) {
        let v = to_value(&r).unwrap();
        prop_assert_eq!(from_value::<Record>(&v).unwrap(), r.clone());
        // A list of them too, as a `Vec<Delayed<Record>>` argument arrives.
        let list = Value::list([v.clone(), v]);
        prop_assert_eq!(from_value::<Vec<Record>>(&list).unwrap(), vec![r.clone(), r]);
    }
}

#[test]
fn numbers_strings_and_numeric_vectors_take_the_engine_s_forms() {
    assert_eq!(to_value(&7u32).unwrap(), Value::Int(7));
    assert_eq!(to_value(&2.5f64).unwrap(), Value::Float(2.5));
    assert_eq!(to_value(&"hi".to_string()).unwrap(), Value::str("hi"));
    let Value::Array(a) = to_value(&vec![1.0f64, 2.0]).unwrap() else { panic!("an array") };
    assert_eq!((a.dtype(), a.as_f64().unwrap()), (DType::F64, &[1.0, 2.0][..]));
    let Value::Array(a) = to_value(&vec![1i64, 2]).unwrap() else { panic!("an array") };
    assert_eq!(a.dtype(), DType::I64);
    // Read leniently, as Python would: an int where a float is asked, an array as a Vec.
    assert_eq!(from_value::<f64>(&Value::Int(3)).unwrap(), 3.0);
    assert_eq!(from_value::<Vec<f64>>(&Value::list([Value::Int(1), Value::Float(2.0)])).unwrap(), vec![1.0, 2.0]);
    let err = from_value::<u32>(&Value::Int(-1)).unwrap_err().to_string();
    assert!(err.contains("-1"), "{err}");
    assert!(to_value(&u64::MAX).is_err(), "too large for a task int");
}

#[rask::task]
fn halve(x: i64) -> Result<i64, String> {
    if x % 2 == 1 {
        return Err(format!("{x} is odd"));
    }
    Ok(x / 2)
}

#[rask::task]
fn sum_of(xs: Vec<f64>) -> f64 {
    xs.iter().sum()
}

#[rask::task]
fn shout(s: String) -> String {
    s.to_uppercase()
}

#[rask::task]
fn explode(x: i64) -> i64 {
    panic!("no {x} today")
}

#[test]
fn a_failing_task_names_its_key_its_function_and_its_message() {
    for name in ["sync", "threads"] {
        let exec = crate::executor(name).unwrap();
        assert_eq!(halve(lit(8)).compute(&exec).unwrap(), 4);
        let odd = halve(lit(7)).named("odd-one");
        let err = odd.compute(&exec).unwrap_err().to_string();
        assert!(err.contains("'odd-one'") && err.contains("halve") && err.contains("7 is odd"), "{name}: {err}");
        let err = explode(lit(3)).compute(&exec).unwrap_err().to_string();
        assert!(err.contains("explode") && err.contains("no 3 today"), "{name}: {err}");
        assert_eq!(shout(lit("hey".to_string())).compute(&exec).unwrap(), "HEY");
    }
}

#[test]
fn shared_inputs_are_one_node_and_graphs_show_their_keys() {
    let x = halve(lit(40));
    let y = halve(x.clone());
    let z = halve(x.clone());
    let both = crate::compute_all((&y, &z), &crate::executor("threads").unwrap()).unwrap();
    assert_eq!(both, (10, 10));
    assert_eq!(y.graph().len(), 2, "x and y: the small literal is written into x's call");
    // A large literal is a node of its own, shared by the calls that take it.
    let big = lit((0..1000).map(f64::from).collect::<Vec<f64>>());
    let (p, q) = (sum_of(&big), sum_of(&big));
    assert_eq!(crate::compute_all((&p, &q), &crate::executor("sync").unwrap()).unwrap(), (499500.0, 499500.0));
    assert_eq!(p.graph().len(), 2, "the literal and the call");
    let dot = y.visualize();
    assert!(dot.contains(&format!("{:?} -> {:?}", x.key().to_string(), y.key().to_string())), "{dot}");
    assert!(x.key().to_string().contains("halve"), "keys name their function: {}", x.key());
}

#[test]
fn executor_names_are_checked() {
    for bad in ["local:0", "local:x", "thread", "processes:-1"] {
        assert!(crate::executor(bad).is_err(), "{bad}");
    }
}

static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

#[rask::task(pure)]
fn counted(x: i64) -> i64 {
    CALLS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    x + 1
}

#[test]
fn identical_pure_calls_are_one_task() {
    let (a, b) = (counted(lit(5)), counted(lit(5)));
    assert_eq!(a.key(), b.key(), "same function, same arguments, same key");
    assert_ne!(counted(lit(6)).key(), a.key());
    assert_ne!(halve(lit(4)).key(), halve(lit(4)).key(), "impure calls are distinct");
    let before = CALLS.load(std::sync::atomic::Ordering::SeqCst);
    let both = crate::compute_all((&a, &b), &crate::executor("sync").unwrap()).unwrap();
    assert_eq!(both, (6, 6));
    assert_eq!(CALLS.load(std::sync::atomic::Ordering::SeqCst) - before, 1, "computed once");
}

/// Run by the next test's worker processes instead of serving: what a binary whose `main`
/// lacks `rask::init()` does.
#[test]
fn nothing() {}

#[test]
fn a_binary_without_init_is_told_so() {
    let exec = rask_exec::ProcessExecutor::new(1).worker_args(["--exact", "tests::nothing", "--quiet"]);
    let err = halve(lit(8)).compute(&exec).unwrap_err().to_string();
    assert!(err.contains("rask::init()"), "{err}");
}
