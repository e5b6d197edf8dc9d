//! The distributed layer's figures: the peer graph through a LocalCluster of 2 workers × 1
//! thread (Dask's `dask_overhead.py` setup), a graph whose workers exchange large results, and
//! what the cluster controls cost (hinted tasks, tasks that submit tasks).

use std::time::{Duration, Instant};

use rask_distributed::{Arg, LocalCluster};
use rask_graph::workloads::tree_sum;
use rask_graph::{parse_graph, register, Annotations, Arity, Key, TaskError, Value};

use crate::{median, ms};

pub fn throughput(sizes: &[usize], runs: usize, dask_per_task: Option<f64>) {
    let cluster = LocalCluster::new(2, 1).expect("a local cluster starts");
    let client = cluster.client().expect("connects");
    println!("\ndistributed: LocalCluster of 2 workers × 1 thread, peer graph, medians of {runs}:");
    println!("| tasks | rask µs/task | rask tasks/s | Dask distributed µs/task | ratio |");
    println!("|---|---|---|---|---|");
    for &leaves in sizes {
        let (graph, root) = tree_sum(leaves);
        let tasks = graph.len();
        let want = Value::Int((leaves * (leaves + 1) / 2) as i64);
        let t = median(runs, || {
            let start = Instant::now();
            let values = client.compute(&graph, std::slice::from_ref(&root)).expect("runs");
            let t = start.elapsed();
            assert_eq!(values, vec![want.clone()]);
            t
        });
        let us = t.as_secs_f64() * 1e6 / tasks as f64;
        match dask_per_task {
            Some(d) => println!("| {tasks} | {us:.2} | {:.0} | {d:.0} | {:.0}× |", 1e6 / us, d / us),
            None => println!("| {tasks} | {us:.2} | {:.0} | – | – |", 1e6 / us),
        }
    }
    // Submission of a large graph must not stall the scheduler: the time from submit to the
    // first finished task, and the slowest scheduler round trip another client sees meanwhile.
    let (graph, root) = tree_sum(*sizes.last().expect("a size"));
    let other = cluster.client().expect("connects");
    let done_before = other.stats().expect("stats").tasks_done;
    let start = Instant::now();
    let futures = client.persist(&graph, std::slice::from_ref(&root)).expect("submits");
    let submitted = start.elapsed();
    let mut first_done = None;
    let mut worst_round_trip = Duration::ZERO;
    while !futures[0].done() {
        let t = Instant::now();
        let stats = other.stats().expect("the other client is served");
        worst_round_trip = worst_round_trip.max(t.elapsed());
        if first_done.is_none() && stats.tasks_done > done_before {
            first_done = Some(start.elapsed());
        }
    }
    println!(
        "| submit {} tasks: client side {:.0} ms; first task finished after {:.0} ms; whole run {:.0} ms; slowest scheduler round trip of another client meanwhile {:.1} ms |",
        graph.len(),
        ms(submitted),
        first_done.map_or(f64::NAN, ms),
        ms(start.elapsed()),
        ms(worst_round_trip)
    );
}

/// Workers exchange large arrays: each pair of 8 MiB arrays is summed elementwise, wherever
/// the pair's halves were made.
pub fn data_heavy(runs: usize) {
    let cluster = LocalCluster::new(2, 1).expect("a local cluster starts");
    let client = cluster.client().expect("connects");
    let pairs = 16;
    let n = 1 << 20; // 8 MiB of float64
    let text = rask_graph::workloads::summed_graph(
        pairs,
        |i| {
            format!("('a', {i}): (ones, {n}), ('b', {i}): (ones, {n}), ('c', {i}): (add, ('a', {i}), ('b', {i})), ('s', {i}): (sum, ('c', {i})), ")
        },
        |i| format!("('s', {i})"),
    );
    let graph = parse_graph(&text).expect("parses");
    let t = median(runs, || {
        let start = Instant::now();
        let v = client.compute(&graph, &[Key::from("total")]).expect("runs");
        assert_eq!(v, vec![Value::Float((2 * n * pairs) as f64)]);
        start.elapsed()
    });
    println!(
        "| data-heavy: {pairs} × (8 MiB + 8 MiB → add → sum), 2 workers | {:.0} ms | up to {} MiB fetched between workers per run |",
        ms(t),
        pairs * 8
    );
}

/// Inside a task: `n` times, submit `inc` and wait for its result; the latencies in µs.
fn nested_latency(args: &[Value]) -> Result<Value, TaskError> {
    let n = args[0].as_int().unwrap_or(0);
    let client = rask_distributed::worker_client().map_err(|e| TaskError::new("ClusterError", e.to_string()))?;
    let mut micros = Vec::with_capacity(n as usize);
    for i in 0..n {
        let start = Instant::now();
        let f = client.submit("inc", [Arg::from(i)]).map_err(|e| TaskError::new("ClusterError", e.to_string()))?;
        let v = f.result().map_err(|e| TaskError::new("ClusterError", e.to_string()))?;
        micros.push(Value::Float(start.elapsed().as_secs_f64() * 1e6));
        assert_eq!(v, Value::Int(i + 1));
    }
    Ok(Value::list(micros))
}
register!("bench_nested_latency", Arity::Exact(1), nested_latency);

/// The cost of the cluster controls: the peer graph with every task carrying a priority and
/// a resource (on workers with plenty of it, so only the bookkeeping is measured) against the
/// same graph bare; and the latency of a task that submits a task and waits for it.
pub fn controls(leaves: usize, runs: usize) {
    let mut cluster = LocalCluster::new(0, 1).expect("a local cluster starts");
    for _ in 0..2 {
        cluster.add_worker_with(0, &[("SLOT", 1e12)]).expect("a worker starts");
    }
    cluster.wait_for_workers(2).expect("workers join");
    let client = cluster.client().expect("connects");
    let (graph, root) = tree_sum(leaves);
    let tasks = graph.len();
    let want = vec![Value::Int((leaves * (leaves + 1) / 2) as i64)];
    let hints = Annotations::new().priority(5).resource("SLOT", 1.0);
    let time = |annotated: bool| {
        median(runs, || {
            let start = Instant::now();
            let values = if annotated {
                client.compute_with(&graph, std::slice::from_ref(&root), &hints)
            } else {
                client.compute(&graph, std::slice::from_ref(&root))
            };
            let t = start.elapsed();
            assert_eq!(values.expect("runs"), want);
            t
        })
    };
    let (bare, hinted) = (time(false), time(true));
    println!("\ncluster controls: LocalCluster of 2 workers × 1 thread, medians of {runs}:");
    println!("| workload | bare | priority + resource on every task | ratio |");
    println!("|---|---|---|---|");
    println!(
        "| peer graph, {tasks} tasks | {:.0} ms ({:.0} tasks/s) | {:.0} ms ({:.0} tasks/s) | {:.2}× |",
        ms(bare),
        tasks as f64 / bare.as_secs_f64(),
        ms(hinted),
        tasks as f64 / hinted.as_secs_f64(),
        hinted.as_secs_f64() / bare.as_secs_f64()
    );
    let samples = 500;
    let f = client.submit("bench_nested_latency", [Arg::from(samples)]).expect("submits");
    let mut micros: Vec<f64> = match f.result().expect("runs") {
        Value::List(items) => items.iter().filter_map(Value::as_float).collect(),
        other => panic!("expected latencies, got {other}"),
    };
    micros.sort_by(f64::total_cmp);
    let at = |q: f64| micros[((micros.len() - 1) as f64 * q).round() as usize];
    println!(
        "| task submits a task and waits for its result ({samples} in a row) | median {:.0} µs | p99 {:.0} µs | max {:.0} µs |",
        at(0.5),
        at(0.99),
        at(1.0)
    );
}
