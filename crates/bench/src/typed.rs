//! Typed tasks (`#[rask::task]`) against untyped `Value` tasks on the peer graph's shape, and
//! a large `Vec<f64>` result crossing processes (`--only typed`).

use std::time::{Duration, Instant};

use rask::prelude::*;
use rask_exec::{Executor, ProcessExecutor, ThreadedExecutor};
use rask_graph::workloads::tree_sum;
use rask_graph::{Plan, Registry};

use crate::median;

#[rask::task]
fn inc(x: i64) -> i64 {
    x + 1
}

#[rask::task]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

#[rask::task]
fn big(n: u64) -> Vec<f64> {
    (0..n).map(|i| i as f64).collect()
}

#[rask::task]
fn total(xs: Vec<f64>) -> f64 {
    xs.iter().sum()
}

/// The peer's shape with typed tasks: `n` `inc`s, then a binary tree of `add` (an odd one out
/// added to 0, as `tree_sum` does).
fn typed_tree(n: usize) -> Delayed<i64> {
    let mut level: Vec<Delayed<i64>> = (0..n as i64).map(|i| inc(lit(i))).collect();
    while level.len() > 1 {
        level = level.chunks(2).map(|pair| add(&pair[0], pair.get(1).cloned().unwrap_or_else(|| lit(0)))).collect();
    }
    level.pop().expect("n > 0")
}

pub fn overhead(n: usize, runs: usize) {
    let threads = ThreadedExecutor::with_available_cores();
    let registry = Registry::new();
    let (graph, root) = tree_sum(n);
    let tasks = 2 * n - 1;
    let expected = (n * (n + 1) / 2) as i64;
    let untyped = median(runs, || {
        let start = Instant::now();
        let v = threads.get(&graph, std::slice::from_ref(&root), &registry).unwrap();
        assert_eq!(v, vec![rask_graph::Value::Int(expected)]);
        start.elapsed()
    });
    let (mut built, mut collected) = (Vec::new(), Vec::new());
    let typed = median(runs, || {
        let start = Instant::now();
        let root = typed_tree(n);
        built.push(start.elapsed());
        let start = Instant::now();
        let graph = root.graph();
        collected.push(start.elapsed());
        // The same call the untyped row makes, on the typed graph: plan + run.
        let start = Instant::now();
        let v = threads.get(&graph, std::slice::from_ref(root.key()), &registry).unwrap();
        let took = start.elapsed();
        assert_eq!(rask::from_value::<i64>(&v[0]).unwrap(), expected);
        took
    });
    // Running alone, plans built beforehand: the typed tasks' own cost (decoding arguments,
    // encoding results), apart from planning, where longer keys and names cost more to hash.
    let untyped_plan = Plan::build(&graph, std::slice::from_ref(&root), &registry).unwrap();
    let typed_root = typed_tree(n);
    let typed_plan = Plan::build(&typed_root.graph(), std::slice::from_ref(typed_root.key()), &registry).unwrap();
    let run = |plan: &Plan| {
        median(runs, || {
            let start = Instant::now();
            threads.execute(plan, None).unwrap();
            start.elapsed()
        })
    };
    let (untyped_run, typed_run) = (run(&untyped_plan), run(&typed_plan));
    let mid = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let per = |d: Duration| d.as_secs_f64() * 1e6 / tasks as f64;
    println!("| {tasks} tasks, threads | µs/task | against untyped |");
    println!("|---|---|---|");
    println!("| untyped `Value` tasks: plan + run | {:.3} | 1.00 |", per(untyped));
    println!("| typed tasks: plan + run | {:.3} | {:.2} |", per(typed), typed.as_secs_f64() / untyped.as_secs_f64());
    println!("| untyped: run (plan built) | {:.3} | 1.00 |", per(untyped_run));
    println!(
        "| typed: run (plan built) | {:.3} | {:.2} |",
        per(typed_run),
        typed_run.as_secs_f64() / untyped_run.as_secs_f64()
    );
    println!("| typed: building the `Delayed` values | {:.3} | |", per(mid(built)));
    println!("| typed: collecting them into a graph | {:.3} | |", per(mid(collected)));
}

pub fn large_vector(runs: usize) {
    let n = 8 << 20; // 64 MiB of f64
    let processes = ProcessExecutor::new(2);
    // Two consumers, so the vector is a result of its own (not fused into its reader) and
    // crosses from the worker that made it to the workers that read it.
    let xs = big(lit(n as u64));
    let (a, b) = (total(&xs), total(&xs).named("total-again"));
    let mut graph = a.graph();
    for (key, expr) in b.graph().iter() {
        graph.insert(key.clone(), expr.clone());
    }
    let plan = Plan::build(&graph, &[a.key().clone(), b.key().clone()], &Registry::new()).unwrap();
    let mut stats = None;
    let took = median(runs, || {
        let start = Instant::now();
        let outcome = processes.execute(&plan, None).unwrap();
        stats = Some(outcome.stats);
        start.elapsed()
    });
    let stats = stats.expect("ran");
    println!();
    println!("| a 64 MiB Vec<f64> made in one worker process, read by two tasks | seconds | bytes copied between processes | bytes passed by reference |");
    println!("|---|---|---|---|");
    println!("| processes:2 | {:.3} | {} | {} |", took.as_secs_f64(), stats.bytes_copied, stats.bytes_shared);
}
