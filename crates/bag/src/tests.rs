use proptest::prelude::*;
use rask_exec::{SyncExecutor, ThreadedExecutor};
use rask_graph::{register, Arity, TaskError, Value};

use crate::*;

fn int(v: &Value) -> Result<i64, TaskError> {
    v.as_int().ok_or_else(|| TaskError::type_error(format!("expected an int, got {v}")))
}

fn is_even(args: &[Value]) -> Result<Value, TaskError> {
    Ok(Value::Bool(int(&args[0])? % 2 == 0))
}

fn mod3(args: &[Value]) -> Result<Value, TaskError> {
    Ok(Value::Int(int(&args[0])?.rem_euclid(3)))
}

fn square(args: &[Value]) -> Result<Value, TaskError> {
    Ok(Value::Int(int(&args[0])? * int(&args[0])?))
}

fn words(args: &[Value]) -> Result<Value, TaskError> {
    let line = args[0].as_str().ok_or_else(|| TaskError::type_error("words(): a str"))?;
    Ok(Value::list(line.split_whitespace().map(Value::str).collect::<Vec<_>>()))
}

register!("test_is_even", Arity::Exact(1), is_even);
register!("test_mod3", Arity::Exact(1), mod3);
register!("test_square", Arity::Exact(1), square);
register!("test_words", Arity::Exact(1), words);

fn ints(v: &[i64]) -> Vec<Value> {
    v.iter().map(|&i| Value::Int(i)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Partitioning never changes a result: every operation equals the plain loop over the items.
    #[test]
    fn partitioning_never_changes_a_result(items in proptest::collection::vec(-100i64..100, 0..80), n in 1usize..9) {
        let ex = ThreadedExecutor::new(2);
        let bag = Bag::from_sequence(ints(&items), n);
        let evens: Vec<i64> = items.iter().copied().filter(|i| i % 2 == 0).map(|i| i * i).collect();
        let mapped = bag.clone().filter("test_is_even").map("test_square");
        prop_assert_eq!(mapped.compute(&ex).unwrap(), ints(&evens));
        prop_assert_eq!(mapped.sum(&ex).unwrap(), Value::Int(evens.iter().sum()));
        prop_assert_eq!(bag.count(&ex).unwrap(), items.len());
        match items.iter().min() {
            Some(&m) => prop_assert_eq!(bag.min(&ex).unwrap(), Value::Int(m)),
            None => prop_assert!(bag.min(&ex).is_err(), "the min of nothing is an error"),
        }
        // frequencies: counts as a map, most frequent first.
        let freq = bag.clone().map("test_mod3").frequencies(&ex).unwrap();
        let mut want: std::collections::BTreeMap<i64, i64> = Default::default();
        for i in &items { *want.entry(i.rem_euclid(3)).or_default() += 1; }
        let got: std::collections::BTreeMap<i64, i64> = freq.iter().map(|(k, c)| (k.as_int().unwrap(), *c)).collect();
        prop_assert_eq!(&got, &want);
        prop_assert!(freq.windows(2).all(|w| w[0].1 >= w[1].1));
        // distinct: first appearances, in order.
        let mut seen = std::collections::HashSet::new();
        let firsts: Vec<i64> = items.iter().copied().filter(|i| seen.insert(*i)).collect();
        prop_assert_eq!(bag.distinct(&ex).unwrap(), ints(&firsts));
        // foldby (sum per key mod 3) and groupby agree with the loop.
        let totals = bag.foldby("test_mod3", "add", Some(Value::Int(0)), "add", &ex).unwrap();
        let mut sums: std::collections::BTreeMap<i64, i64> = Default::default();
        for i in &items { *sums.entry(i.rem_euclid(3)).or_default() += i; }
        let got: std::collections::BTreeMap<i64, i64> = totals.iter().map(|(k, v)| (k.as_int().unwrap(), v.as_int().unwrap())).collect();
        prop_assert_eq!(&got, &sums);
        let groups = bag.groupby("test_mod3", 2).compute(&ex).unwrap();
        prop_assert_eq!(groups.len(), sums.len());
        for g in &groups {
            let [k, members] = g.as_seq().unwrap() else { panic!("pairs") };
            let members: Vec<i64> = members.as_seq().unwrap().iter().map(|v| v.as_int().unwrap()).collect();
            let want: Vec<i64> = items.iter().copied().filter(|i| i.rem_euclid(3) == k.as_int().unwrap()).collect();
            prop_assert_eq!(members, want, "a group keeps its items in order");
        }
        prop_assert_eq!(bag.take(5, &SyncExecutor).unwrap(), ints(&items[..items.len().min(5)]));
    }
}

#[test]
fn text_files_flatten_into_words_and_count() {
    let dir = std::env::temp_dir().join(format!("rask-bag-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("a.txt"), "the cat\nthe dog\n").unwrap();
    std::fs::write(dir.join("b.txt"), "a cat\n").unwrap();
    let words = Bag::read_text(&dir).unwrap().map("test_words").flatten();
    assert_eq!(words.npartitions(), 2);
    let freq = words.frequencies(&SyncExecutor).unwrap();
    assert_eq!(freq[..2], [(Value::str("the"), 2), (Value::str("cat"), 2)]);
    assert_eq!(words.count(&ThreadedExecutor::new(2)).unwrap(), 6);
    std::fs::remove_dir_all(&dir).unwrap();
    // A missing path is an error when the bag is made, not when it is first computed.
    let missing = Bag::read_text(dir.join("gone.txt")).unwrap_err();
    assert!(missing.to_string().contains("gone.txt") && missing.to_string().contains("no such file"), "{missing}");
}

#[test]
fn unknown_functions_and_bad_items_are_errors_naming_them() {
    let bag = Bag::range(10, 3);
    assert_eq!(bag.mean(&SyncExecutor).unwrap(), 4.5);
    let err = bag.clone().map("no_such_function").compute(&SyncExecutor).unwrap_err().to_string();
    assert!(err.contains("no_such_function"), "{err}");
    let err = Bag::from_sequence(vec![Value::str("x")], 1).map("test_square").compute(&SyncExecutor).unwrap_err();
    assert!(err.to_string().contains("expected an int"), "{err}");
    let err = bag.flatten().compute(&SyncExecutor).unwrap_err();
    assert!(err.to_string().contains("bag_flatten"), "{err}");
}

#[test]
fn functions_are_checked_before_anything_runs() {
    let exec = rask_exec::SyncExecutor;
    let typo = Bag::range(10, 2).map("incc");
    let err = typo.compute(&exec).unwrap_err().to_string();
    assert!(err.contains("unknown function \"incc\""), "{err}");
    // `add` takes two arguments; a map calls it with one.
    let err = Bag::range(10, 2).map("add").sum(&exec).unwrap_err().to_string();
    assert!(err.contains("\"add\"") && err.contains("with 1"), "{err}");
    let err = Bag::range(10, 2).fold("inc", None, None, &exec).unwrap_err().to_string();
    assert!(err.contains("\"inc\""), "{err}");
    let err = Bag::range(10, 2).groupby("nope", 2).count(&exec).unwrap_err().to_string();
    assert!(err.contains("\"nope\""), "{err}");
    assert_eq!(Bag::range(10, 2).map("inc").sum(&exec).unwrap(), Value::Int(55), "right names still run");
}
