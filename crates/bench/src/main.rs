//! `rask-bench`: the figures behind `cargo xtask bench`, with Dask's beside them in one run.
//!
//! Workloads mirror `../shared/peer/dask_overhead.py`: N trivial `inc` tasks, then a binary tree
//! of `add` (2N tasks in all). Times are medians of several runs; per-task figures include
//! compiling the plan (cull, validate, order), as Dask's `get` includes its own.
//!
//! usage: rask-bench [--quick] [--no-dask] [--only zero-copy|inline|distributed|controls|order|scale|frame|moves|typed|array|tpch [--sf SF] [--memory-limit BYTES]]

/// Task graphs allocate many small values; mimalloc frees them far faster than glibc's malloc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod array;
mod distributed;
mod frame;
mod moves;
mod order;
mod peer;
mod processes;
mod scale;
mod tpch;
mod typed;

use std::time::{Duration, Instant};

use rask_exec::{Executor, ProcessExecutor, SyncExecutor, ThreadedExecutor};
use rask_graph::workloads::tree_sum;
use rask_graph::{parse_graph, register, to_dask_string, Arity, Expr, Graph, Key, Plan, Registry, TaskError, Value};

/// Burns about the given number of microseconds of CPU: the coarse-grained workload's task.
fn spin_us(args: &[Value]) -> Result<Value, TaskError> {
    let micros = args[0].as_int().ok_or_else(|| TaskError::type_error("spin_us wants an int"))?;
    let until = Instant::now() + Duration::from_micros(micros as u64);
    let mut x = 0u64;
    while Instant::now() < until {
        for _ in 0..256 {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
    }
    Ok(Value::Int((x & 1) as i64))
}
register!("spin_us", Arity::Exact(1), spin_us);

pub struct Options {
    pub quick: bool,
    pub dask: bool,
}

fn main() {
    // The process executor's and the LocalCluster's workers are this binary, re-executed.
    rask_distributed::worker_main_if_requested();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "--array-gemm") {
        return array::gemm();
    }
    if let [flag, engine, workload, n] = &args[..] {
        if flag == "--array-parts" {
            return array::parts(engine.parse().expect("a size"));
        }
        if flag == "--array-one" {
            return array::one(engine, workload, n.parse().expect("a size"));
        }
    }
    let options = Options { quick: args.iter().any(|a| a == "--quick"), dask: !args.iter().any(|a| a == "--no-dask") };
    if let Some(only) = args.iter().position(|a| a == "--only").and_then(|i| args.get(i + 1)) {
        let runs = if options.quick { 3 } else { 5 };
        match only.as_str() {
            "zero-copy" => processes::zero_copy(if options.quick { 1 << 28 } else { 1 << 30 }, runs, options.dask),
            "inline" => processes::inline_cutoff(runs),
            "distributed" => {
                let dask = if options.dask { peer::dask_distributed(5000) } else { None };
                let sizes: &[usize] = if options.quick { &[20_000, 100_000] } else { &[20_000, 500_000] };
                distributed::throughput(sizes, runs, dask);
                distributed::data_heavy(runs);
                distributed::controls(*sizes.last().expect("a size"), runs);
            }
            "order" => order::table(options.dask),
            "scale" => scale::table(options.quick),
            "controls" => distributed::controls(if options.quick { 100_000 } else { 500_000 }, runs),
            "frame" => frame::queries(&frame_data(), runs, options.dask),
            "moves" => moves::queries(&frame_data(), runs.max(5), options.dask),
            "tpch" => {
                let sf = args
                    .iter()
                    .position(|a| a == "--sf")
                    .and_then(|i| args.get(i + 1))
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(1.0);
                let limit = args.iter().position(|a| a == "--memory-limit").and_then(|i| args.get(i + 1));
                match limit.and_then(|s| s.parse().ok()) {
                    Some(bytes) => tpch::spilling(sf, bytes),
                    None => tpch::queries(sf, 3, options.dask),
                }
            }
            "array" => array::table(options.quick, options.dask, runs.min(3)),
            "typed" => {
                typed::overhead(if options.quick { 100_000 } else { 500_000 }, runs);
                typed::large_vector(runs);
            }
            other => {
                eprintln!(
                    "unknown section {other:?}: zero-copy, inline, distributed, controls, order, scale, frame, moves, tpch, array or typed"
                )
            }
        }
        return;
    }
    let registry = Registry::new();
    let small = 20_000;
    let large = if options.quick { 100_000 } else { 500_000 };
    let runs = if options.quick { 3 } else { 5 };

    println!(
        "rask-bench on {} cores; medians of {runs} runs\n",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    graph_pipeline(large, runs.min(3), &registry);

    let dask = if options.dask { peer::dask_overhead(small) } else { peer::Peer::absent("--no-dask") };
    let processes = ProcessExecutor::with_available_cores();
    println!();
    println!("| workload | tasks | rask µs/task | Dask µs/task | ratio (Dask / rask) |");
    println!("|---|---|---|---|---|");
    for n in [small, large] {
        let (graph, root) = tree_sum(n);
        let tasks = graph.len();
        let sync = median_per_task(runs, tasks, || run(&SyncExecutor, &graph, &root, &registry));
        row(&format!("sync, inc + tree sum ({})", human(tasks)), tasks, sync, dask.per_task("dask-sync"));
        let threaded = ThreadedExecutor::with_available_cores();
        let threads = median_per_task(runs, tasks, || run(&threaded, &graph, &root, &registry));
        row(&format!("threads, inc + tree sum ({})", human(tasks)), tasks, threads, dask.per_task("dask-threads"));
        let plan = Plan::build(&graph, std::slice::from_ref(&root), &registry).expect("valid");
        let run_only = median_per_task(runs, tasks, || {
            let start = Instant::now();
            std::hint::black_box(threaded.execute(&plan, None).expect("runs"));
            start.elapsed()
        });
        row(&format!("threads, run only, plan prebuilt ({})", human(tasks)), tasks, run_only, None);
        let procs = median_per_task(runs, tasks, || run(&processes, &graph, &root, &registry));
        let name = format!("processes ({} workers), inc + tree sum ({})", processes.workers(), human(tasks));
        row(&name, tasks, procs, dask.per_task("dask-processes"));
    }
    coarse(&registry, runs);
    processes::zero_copy(
        if options.quick { 1 << 28 } else { 1 << 30 },
        if options.quick { 3 } else { 5 },
        options.dask,
    );
    processes::inline_cutoff(if options.quick { 3 } else { 5 });
    let dask_distributed = if options.dask { peer::dask_distributed(5000) } else { None };
    let sizes: &[usize] = if options.quick { &[20_000, 100_000] } else { &[20_000, 500_000] };
    distributed::throughput(sizes, runs, dask_distributed);
    distributed::data_heavy(runs);
    distributed::controls(large, runs);
    order::table(options.dask);
    frame::queries(&frame_data(), 3, options.dask);
    moves::queries(&frame_data(), runs.max(5), options.dask);
    array::table(options.quick, options.dask, 3);
    if let Some(note) = dask.note() {
        println!("\n{note}");
    }
}

/// Parse, validate and order the peer graph at `n` leaves (about 2n tasks): the foundation's
/// "1M tasks in well under a second" figure.
fn graph_pipeline(n: usize, runs: usize, registry: &Registry) {
    let (graph, root) = tree_sum(n);
    let text = to_dask_string(&graph);
    let tasks = graph.len();
    let parse = median(runs, || {
        let start = Instant::now();
        let g = parse_graph(&text).expect("the printed graph parses");
        let t = start.elapsed();
        assert_eq!(g.len(), tasks);
        t
    });
    let plan = median(runs, || {
        let start = Instant::now();
        let p = Plan::build(&graph, std::slice::from_ref(&root), registry).expect("valid");
        let t = start.elapsed();
        assert_eq!(p.order().len(), p.len());
        t
    });
    println!("graph pipeline on {} tasks ({:.1} MB of Dask notation):", human(tasks), text.len() as f64 / 1e6);
    println!("  parse                     {:>8.1} ms  ({:.0} ns/task)", ms(parse), ns_per(parse, tasks));
    println!("  validate + cull + order   {:>8.1} ms  ({:.0} ns/task)", ms(plan), ns_per(plan, tasks));
    println!("  total                     {:>8.1} ms", ms(parse + plan));
}

/// Tasks of ~1 ms CPU each: how well the executors use the cores.
fn coarse(registry: &Registry, runs: usize) {
    let tasks = 400;
    let mut g = Graph::new();
    for i in 0..tasks as i64 {
        g.insert(("spin", i), Expr::call("spin_us", [Expr::from(1000)]));
    }
    g.insert("total", Expr::call("sum", [Expr::list((0..tasks as i64).map(|i| Expr::key(("spin", i))))]));
    let root = Key::from("total");
    let sync = median(runs, || run(&SyncExecutor, &g, &root, registry));
    let threaded = ThreadedExecutor::with_available_cores();
    let threads = median(runs, || run(&threaded, &g, &root, registry));
    println!(
        "| coarse: {tasks} tasks of 1 ms, sync | {} | {:.0} | | wall {:.0} ms |",
        tasks + 1,
        us_per(sync, tasks + 1),
        ms(sync)
    );
    println!(
        "| coarse: {tasks} tasks of 1 ms, {} threads | {} | {:.0} | | wall {:.0} ms, speedup {:.2}× |",
        threaded.threads(),
        tasks + 1,
        us_per(threads, tasks + 1),
        ms(threads),
        sync.as_secs_f64() / threads.as_secs_f64()
    );
}

pub fn run(executor: &dyn Executor, graph: &Graph, root: &Key, registry: &Registry) -> Duration {
    let start = Instant::now();
    let values = executor.get(graph, std::slice::from_ref(root), registry).expect("the benchmark graph runs");
    let t = start.elapsed();
    std::hint::black_box(values);
    t
}

fn row(name: &str, tasks: usize, rask: f64, dask: Option<f64>) {
    match dask {
        Some(d) => println!("| {name} | {tasks} | {rask:.3} | {d:.1} | {:.0}× |", d / rask),
        None => println!("| {name} | {tasks} | {rask:.3} | – | – |"),
    }
}

/// Where the dataframe benchmark's files live: `RASK_FRAME_DATA`, or a directory under /tmp
/// shared with the peer harness.
fn frame_data() -> std::path::PathBuf {
    std::env::var_os("RASK_FRAME_DATA").map_or_else(|| std::path::PathBuf::from("/tmp/rask-frame-data"), Into::into)
}

pub fn median(runs: usize, mut f: impl FnMut() -> Duration) -> Duration {
    let mut times: Vec<Duration> = (0..runs).map(|_| f()).collect();
    times.sort();
    times[times.len() / 2]
}

fn median_per_task(runs: usize, tasks: usize, f: impl FnMut() -> Duration) -> f64 {
    us_per(median(runs, f), tasks)
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn us_per(d: Duration, tasks: usize) -> f64 {
    d.as_secs_f64() * 1e6 / tasks as f64
}

fn ns_per(d: Duration, tasks: usize) -> f64 {
    d.as_secs_f64() * 1e9 / tasks as f64
}

fn human(n: usize) -> String {
    if n >= 1_000_000 {
        format!("{:.1}M", n as f64 / 1e6)
    } else {
        format!("{}k", n / 1000)
    }
}
