//! loom models of the threaded executor's state machine: the real `Shared::work` loop, run by
//! loom threads over small plans, every interleaving (bounded by LOOM_MAX_PREEMPTIONS).
//!
//! Checked: results are published before dependents read them and freed only after the last
//! reader (loom's cells flag any race), completion counting ends the run exactly once, sleeping
//! threads are woken, a failure cancels without deadlock. `cargo xtask loom --planted` builds
//! with a weakened ordering and requires these models to fail.

use std::sync::Arc;

use loom::thread;
use rask_graph::{parse_graph, Key, Plan, PlanOptions, Registry, Value};

use super::deque::Worker;
use super::Shared;
use crate::{ExecError, Outcome};

fn plan(src: &str, target: &str) -> &'static Plan {
    let graph = parse_graph(src).expect("model graph parses");
    let plan = Plan::build_with(&graph, &[Key::from(target)], &Registry::new(), &PlanOptions::unoptimized());
    Box::leak(Box::new(plan.expect("model graph is valid")))
}

fn run(plan: &'static Plan, threads: usize) -> Result<Outcome, ExecError> {
    let mut workers: Vec<Worker<u32>> = (0..threads).map(|_| Worker::new_lifo()).collect();
    let shared = Arc::new(Shared::new(plan, workers.iter().map(Worker::stealer).collect(), None));
    let first = workers.remove(0);
    let handles: Vec<_> = workers
        .into_iter()
        .enumerate()
        .map(|(i, w)| {
            let shared = shared.clone();
            thread::spawn(move || shared.work(i + 1, w))
        })
        .collect();
    shared.work(0, first);
    for h in handles {
        h.join().expect("worker thread");
    }
    Arc::try_unwrap(shared).ok().expect("workers are gone").into_outcome()
}

#[test]
fn loom_diamond() {
    let p = plan("{'a': (inc, 1), 'b': (inc, 'a'), 'c': (inc, 'a'), 'd': (add, 'b', 'c')}", "d");
    loom::model(move || {
        let outcome = run(p, 2).expect("runs");
        assert_eq!(outcome.values, vec![Value::Int(6)]);
    });
}

#[test]
fn loom_fan_out_is_stolen_and_sleepers_wake() {
    let p =
        plan("{'a': (inc, 0), 'b': (inc, 'a'), 'c': (inc, 'a'), 'd': (inc, 'a'), 'e': (sum, ['b', 'c', 'd'])}", "e");
    loom::model(move || {
        let outcome = run(p, 2).expect("runs");
        assert_eq!(outcome.values, vec![Value::Int(6)]);
    });
}

#[test]
fn loom_roots_are_claimed_once() {
    let p = plan("{'a': (inc, 1), 'b': (inc, 2), 'c': (inc, 3), 's': (sum, ['a', 'b', 'c'])}", "s");
    loom::model(move || {
        let outcome = run(p, 2).expect("runs");
        assert_eq!(outcome.values, vec![Value::Int(9)]);
        assert_eq!(outcome.stats.tasks, 4);
    });
}

#[test]
fn loom_failure_cancels_without_deadlock() {
    let p = plan("{'a': (div, 1, 0), 'b': (inc, 'a'), 'c': (inc, 1), 'd': (add, 'b', 'c')}", "d");
    loom::model(move || {
        let err = run(p, 2).expect_err("a task fails");
        assert_eq!(err.key(), Some(&Key::from("a")));
    });
}
