//! The distributed layer's figures: the peer graph through a LocalCluster of 2 workers × 1
//! thread (Dask's `dask_overhead.py` setup), and a graph whose workers exchange large results.

use std::time::{Duration, Instant};

use rask_distributed::LocalCluster;
use rask_graph::workloads::tree_sum;
use rask_graph::{parse_graph, Key, Value};

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
