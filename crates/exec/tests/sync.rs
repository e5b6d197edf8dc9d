//! The sync executor on the shared corpus, plus what only it guarantees exactly.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};

use rask_exec::{get, Executor, SyncExecutor};
use rask_graph::{Key, Plan, Registry, Value};

#[test]
fn passes_the_shared_corpus() {
    common::check_corpus(&SyncExecutor);
}

#[test]
fn tree_reduction_holds_results_for_one_path_not_every_leaf() {
    let leaves = 1 << 14;
    let (graph, root) = common::tree_sum(leaves);
    let plan = Plan::build(&graph, &[root], &Registry::new()).unwrap();
    let outcome = SyncExecutor.execute(&plan, None).unwrap();
    assert_eq!(outcome.values, vec![Value::Int((leaves * (leaves + 1) / 2) as i64)]);
    // 14 levels: one pending result per level plus the one being produced.
    assert!(outcome.stats.peak_live <= 16, "peak {} live results", outcome.stats.peak_live);
    assert_eq!(outcome.stats.tasks, plan.len());
}

#[test]
fn progress_reaches_the_total() {
    let (graph, root) = common::tree_sum(1000);
    let plan = Plan::build(&graph, &[root], &Registry::new()).unwrap();
    let last = AtomicUsize::new(0);
    let calls = AtomicUsize::new(0);
    let progress = |done: usize, total: usize| {
        assert_eq!(total, plan.len());
        assert!(done >= last.swap(done, Ordering::Relaxed), "progress never goes back");
        calls.fetch_add(1, Ordering::Relaxed);
    };
    SyncExecutor.execute(&plan, Some(&progress)).unwrap();
    assert_eq!(last.load(Ordering::Relaxed), plan.len());
    assert!(calls.load(Ordering::Relaxed) <= 101, "progress is throttled");
}

#[test]
fn requested_keys_come_back_in_request_order_with_repeats() {
    let graph = rask_graph::parse_graph("{'a': 1, 'b': (inc, 'a')}").unwrap();
    let keys = [Key::from("b"), Key::from("a"), Key::from("b")];
    let values = get(&graph, &keys, &Registry::new()).unwrap();
    assert_eq!(values, vec![Value::Int(2), Value::Int(1), Value::Int(2)]);
}

#[test]
fn closures_run_in_process() {
    let mut registry = Registry::new();
    let offset = 40;
    registry.register_closure("add_offset", rask_graph::Arity::Exact(1), move |args| {
        Ok(Value::Int(args[0].as_int().unwrap() + offset))
    });
    let graph = rask_graph::parse_graph("{'a': (add_offset, 2)}").unwrap();
    assert_eq!(get(&graph, &[Key::from("a")], &registry).unwrap(), vec![Value::Int(42)]);
}
