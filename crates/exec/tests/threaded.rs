//! The threaded executor on the shared corpus, plus what only concurrency can break.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};

use rask_exec::{ExecError, Executor, ThreadedExecutor};
use rask_graph::{parse_graph, register, Arity, Expr, Graph, Key, Plan, Registry, TaskError, Value};

#[test]
fn passes_the_shared_corpus_on_one_two_and_four_threads() {
    for threads in [1, 2, 4] {
        common::check_corpus(&ThreadedExecutor::new(threads));
    }
}

#[test]
fn tree_reduction_holds_few_results() {
    let leaves = 1 << 15;
    let (graph, root) = common::tree_sum(leaves);
    let plan = Plan::build(&graph, &[root], &Registry::new()).unwrap();
    for threads in [2, 4] {
        let outcome = ThreadedExecutor::new(threads).execute(&plan, None).unwrap();
        assert_eq!(outcome.values, vec![Value::Int((leaves * (leaves + 1) / 2) as i64)]);
        // One path per thread, and the batch of roots each thread claims: far below 32k leaves.
        let bound = threads * (16 + 8) + 16;
        assert!(
            outcome.stats.peak_live <= bound,
            "{threads} threads held {} results (bound {bound})",
            outcome.stats.peak_live
        );
    }
}

static STARTED_AFTER_FAILURE: AtomicUsize = AtomicUsize::new(0);

fn fail_now(_: &[Value]) -> Result<Value, TaskError> {
    Err(TaskError::value_error("planned failure"))
}
register!("fail_now", Arity::Exact(1), fail_now);

fn count_start(args: &[Value]) -> Result<Value, TaskError> {
    STARTED_AFTER_FAILURE.fetch_add(1, Ordering::SeqCst);
    Ok(args[0].clone())
}
register!("count_start", Arity::Exact(1), count_start);

#[test]
fn a_failure_stops_the_run_and_the_executor_is_reusable() {
    // A chain whose first task fails: nothing downstream may start.
    let mut g = Graph::new();
    g.insert(("c", 0i64), Expr::call("fail_now", [Expr::from(0)]));
    for i in 1..1000i64 {
        g.insert(("c", i), Expr::call("count_start", [Expr::key(("c", i - 1))]));
    }
    let executor = ThreadedExecutor::new(2);
    let registry = Registry::new();
    let plan =
        Plan::build_with(&g, &[Key::from(("c", 999i64))], &registry, &rask_graph::PlanOptions::unoptimized()).unwrap();
    let err = executor.execute(&plan, None).unwrap_err();
    assert!(
        matches!(&err, ExecError::Task { key, function, .. } if key == &Key::from(("c", 0i64)) && function == "fail_now"),
        "{err}"
    );
    assert_eq!(STARTED_AFTER_FAILURE.load(Ordering::SeqCst), 0, "no dependent of a failed task starts");
    // Same executor, next run.
    let ok = parse_graph("{'a': (inc, 1)}").unwrap();
    assert_eq!(executor.get(&ok, &[Key::from("a")], &registry).unwrap(), vec![Value::Int(2)]);
}

#[test]
fn many_failures_at_once_return_one_error_without_deadlock() {
    let mut g = Graph::new();
    for i in 0..2000i64 {
        g.insert(("bad", i), Expr::call("div", [Expr::from(1), Expr::from(0)]));
    }
    g.insert("all", Expr::call("sum", [Expr::list((0..2000i64).map(|i| Expr::key(("bad", i))))]));
    for threads in [2, 8] {
        let err = ThreadedExecutor::new(threads).get(&g, &[Key::from("all")], &Registry::new()).unwrap_err();
        assert!(err.to_string().contains("ZeroDivisionError"), "{err}");
    }
}

#[test]
fn progress_is_monotonic_and_complete() {
    let (graph, root) = common::tree_sum(20_000);
    let plan = Plan::build(&graph, &[root], &Registry::new()).unwrap();
    let last = AtomicUsize::new(0);
    let progress = |done: usize, total: usize| {
        assert_eq!(total, plan.len());
        let before = last.swap(done, Ordering::SeqCst);
        assert!(done > before, "progress went from {before} to {done}");
    };
    ThreadedExecutor::new(4).execute(&plan, Some(&progress)).unwrap();
    assert_eq!(last.load(Ordering::SeqCst), plan.len());
}

#[test]
fn repeated_small_runs_never_hang() {
    let executor = ThreadedExecutor::new(4);
    let registry = Registry::new();
    let g = parse_graph("{'a': 1, 'b': (inc, 'a'), 'c': (inc, 'a'), 'd': (add, 'b', 'c')}").unwrap();
    for _ in 0..2000 {
        assert_eq!(executor.get(&g, &[Key::from("d")], &registry).unwrap(), vec![Value::Int(4)]);
    }
}
