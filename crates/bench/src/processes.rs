//! The multiprocess executor's figures: zero-copy large results beside Dask's multiprocessing
//! scheduler with NumPy, and the inline/shared-memory cut-off.

use std::time::{Duration, Instant};

use rask_exec::{Executor, ProcessExecutor, ThreadedExecutor};
use rask_graph::{parse_graph, Key, Plan, PlanOptions, Registry, Value};

use crate::{median, ms, peer};

/// A task makes a float64 array of `bytes`, a task in another process sums it.
pub fn zero_copy(bytes: usize, runs: usize, dask: bool) {
    let n = bytes / 8;
    let graph = parse_graph(&format!("{{'a': (ones, {n}), 'b': (sum, 'a')}}")).expect("parses");
    let registry = Registry::new();
    // Unfused: `a` and `b` stay two tasks, so the array really crosses between them.
    let plan = Plan::build_with(&graph, &[Key::from("b")], &registry, &PlanOptions::unoptimized()).expect("valid");
    let processes = ProcessExecutor::new(2);
    processes.execute(&plan, None).expect("warm-up run");
    let mut copied = 0;
    let mut shared = 0;
    let hop = median(runs, || {
        let start = Instant::now();
        let outcome = processes.execute(&plan, None).expect("runs");
        let t = start.elapsed();
        assert_eq!(outcome.values, vec![Value::Float(n as f64)]);
        (copied, shared) = (outcome.stats.bytes_copied, outcome.stats.bytes_shared);
        t
    });
    let threads = ThreadedExecutor::new(2);
    let in_process = median(runs, || {
        let start = Instant::now();
        std::hint::black_box(threads.execute(&plan, None).expect("runs"));
        start.elapsed()
    });
    let gib = bytes as f64 / (1u64 << 30) as f64;
    println!("\nzero-copy hop: (ones, {n}) → (sum, 'a'), {gib:.2} GiB float64, unfused, medians of {runs}:");
    println!("| engine | wall ms | payload bytes copied | bytes passed by reference |");
    println!("|---|---|---|---|");
    println!("| rask processes (2 workers) | {:.0} | {copied} | {shared} |", ms(hop));
    println!("| rask threads (no process boundary) | {:.0} | 0 | – |", ms(in_process));
    if dask {
        match peer::dask_numpy_hop(n, runs) {
            Ok(t) => println!(
                "| Dask multiprocessing + NumPy (optimize_graph=False) | {:.0} | ≥ {} (pickled to the parent and back) | 0 |",
                ms(t),
                2 * bytes
            ),
            Err(why) => println!("| Dask multiprocessing + NumPy | – ({why}) | | |"),
        }
    }
}

/// Pairs of tasks passing an int64 array of each size, with the value inline in messages or in
/// a segment: where the cut-off between the two belongs.
pub fn inline_cutoff(runs: usize) {
    let pairs = 200;
    println!("\ninline cut-off: {pairs} × ((arange, n) → (sum, 'a')), 2 workers, µs per pair, medians of {runs}:");
    println!("| array bytes | inline in messages | in shared memory | ratio (inline / shm) |");
    println!("|---|---|---|---|");
    let registry = Registry::new();
    let inline = ProcessExecutor::new(2).inline_max(usize::MAX / 2);
    let shm = ProcessExecutor::new(2).inline_max(0);
    for kib in [1usize, 4, 16, 64, 256, 1024] {
        let n = kib * 1024 / 8;
        let text = rask_graph::workloads::summed_graph(
            pairs,
            |i| format!("('a', {i}): (arange, {n}), ('s', {i}): (sum, ('a', {i})), "),
            |i| format!("('s', {i})"),
        );
        let graph = parse_graph(&text).expect("parses");
        let plan = Plan::build_with(&graph, &[Key::from("total")], &registry, &PlanOptions::unoptimized()).expect("ok");
        let time = |executor: &ProcessExecutor| -> Duration {
            executor.execute(&plan, None).expect("warm-up");
            median(runs, || {
                let start = Instant::now();
                std::hint::black_box(executor.execute(&plan, None).expect("runs"));
                start.elapsed()
            })
        };
        let (a, b) = (time(&inline), time(&shm));
        let per = |d: Duration| d.as_secs_f64() * 1e6 / pairs as f64;
        println!("| {} KiB | {:.1} | {:.1} | {:.2} |", kib, per(a), per(b), per(a) / per(b));
    }
}
