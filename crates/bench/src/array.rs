//! The array workloads beside Dask Array (threads) and NumPy, one process per run so each
//! peak RSS belongs to one workload: `crates/bench/peer/dask_array.py` for the peers, this
//! binary re-executed (`--array-one ENGINE WORKLOAD N`) for rask on threads and on a local
//! cluster of two single-threaded workers.

use std::process::Command;
use std::time::Instant;

use rask::array::{s, Array, Chunks};
use rask_exec::{Executor, ThreadedExecutor};

const WORKLOADS: [(&str, &str); 6] = [
    ("xT", "(x + x.T).sum(axis=0)"),
    ("mean-std", "x.mean(axis=0), x.std()"),
    ("slice", "x[::2, ::3].sum()"),
    ("matmul", "(a @ b).sum()"),
    ("rechunk", "x.rechunk((n, 1000)).sum(), from (1000, n)"),
    ("chain", "(sqrt(x*x + 1) * 2 - x).sum()"),
];

const ENGINES: [&str; 4] = ["rask-threads", "rask-local-cluster", "dask-threads", "numpy"];

/// The arrays a workload computes, at side `n`, with 1000² chunks.
fn workload(name: &str, n: usize) -> Vec<Array> {
    let c = 1000;
    let x = || Array::random_uniform(&[n, n], Chunks::uniform(&[c, c]), 42);
    match name {
        "xT" => {
            let x = x();
            vec![(&x + &x.t()).sum_axis(0)]
        }
        "mean-std" => {
            let x = x();
            vec![x.mean(Some(0)), x.std(None)]
        }
        "slice" => vec![x().slice(s![..;2, ..;3]).sum(None)],
        "matmul" => {
            let b = Array::random_uniform(&[n, n], Chunks::uniform(&[c, c]), 7);
            vec![x().matmul(&b).sum(None)]
        }
        "rechunk" => {
            let rows = Array::random_uniform(&[n, n], Chunks::uniform(&[c, n]), 42);
            vec![rows.rechunk(Chunks::uniform(&[n, c])).sum(None)]
        }
        "chain" => {
            let x = x();
            vec![((&x * &x + 1.0).sqrt() * 2.0 - &x).sum(None)]
        }
        other => panic!("unknown workload {other}"),
    }
}

fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

/// One run in this process (a child of the bench): prints engine, workload, seconds, the
/// peak RSS (for the cluster, this process's plus each worker's) and the result's sum.
pub fn one(engine: &str, name: &str, n: usize) {
    let arrays = workload(name, n);
    let refs: Vec<&Array> = arrays.iter().collect();
    let (seconds, total, peak) = match engine {
        "rask-threads" => {
            let ex = ThreadedExecutor::new(2);
            let start = Instant::now();
            let out = Array::compute_all(&refs, &ex).expect("the workload runs");
            (start.elapsed().as_secs_f64(), sum(&out), peak_rss(std::process::id()))
        }
        "rask-local-cluster" => {
            let cluster = rask_distributed::LocalCluster::new(2, 1).expect("a local cluster");
            let client = cluster.client().expect("connects");
            let start = Instant::now();
            let out = Array::compute_all(&refs, &client as &dyn Executor).expect("the workload runs");
            let t = start.elapsed().as_secs_f64();
            let peak = peak_rss(std::process::id()) + cluster.worker_pids().into_iter().map(peak_rss).sum::<u64>();
            (t, sum(&out), peak)
        }
        other => panic!("unknown engine {other}"),
    };
    println!("{engine}\t{name}\t{seconds:.4}\t{peak}\t{total:.6}");
}

fn sum(out: &[rask_graph::Array]) -> f64 {
    out.iter().flat_map(|a| a.as_f64().unwrap_or_default().iter().copied()).sum()
}

/// (seconds, peak bytes) of one run of `engine` on `name`, each in a process of its own.
fn run_once(engine: &str, name: &str, n: usize) -> Option<(f64, f64)> {
    let out = if engine.starts_with("rask") {
        let me = std::env::current_exe().ok()?;
        Command::new(me).args(["--array-one", engine, name, &n.to_string()]).output().ok()?
    } else {
        let py = crate::peer::python()?;
        let script = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("peer/dask_array.py");
        Command::new(py).arg(script).args([engine, name, &n.to_string()]).output().ok()?
    };
    if !out.status.success() {
        eprintln!("{engine} {name}: {}", String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("failed"));
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last()?;
    let f: Vec<&str> = line.split('\t').collect();
    Some((f.get(2)?.parse().ok()?, f.get(3)?.parse().ok()?))
}

fn median(mut xs: Vec<f64>) -> Option<f64> {
    xs.sort_by(f64::total_cmp);
    xs.get(xs.len() / 2).copied()
}

pub fn table(quick: bool, peers: bool, runs: usize) {
    let n = if quick { 8000 } else { 20_000 };
    let m = if quick { 4000 } else { 8000 };
    println!(
        "\narrays: n = {n} (matmul {m}), 1000² chunks, 2 cores; seconds and peak RSS (GB), median of {runs} runs, \
         each run its own process"
    );
    println!(
        "| workload | {} | rask-threads vs Dask | rask-cluster vs Dask |",
        ENGINES.map(|e| format!("{e} s | GB")).join(" | ")
    );
    println!("|---|{}---|---|", "---|---|".repeat(ENGINES.len()));
    for (name, what) in WORKLOADS {
        let side = if name == "matmul" { m } else { n };
        let mut cells = Vec::new();
        let mut secs = std::collections::HashMap::new();
        for engine in ENGINES {
            if !engine.starts_with("rask") && !peers {
                cells.push("– | –".to_string());
                continue;
            }
            let results: Vec<(f64, f64)> = (0..runs).filter_map(|_| run_once(engine, name, side)).collect();
            let t = median(results.iter().map(|r| r.0).collect());
            let gb = median(results.iter().map(|r| r.1 / 1e9).collect());
            if let Some(t) = t {
                secs.insert(engine, t);
            }
            cells.push(match (t, gb) {
                (Some(t), Some(gb)) => format!("{t:.2} | {gb:.2}"),
                _ => "– | –".into(),
            });
        }
        let ratio = |ours: &str| match (secs.get(ours), secs.get("dask-threads")) {
            (Some(o), Some(d)) => format!("{:.1}×", d / o),
            _ => "–".into(),
        };
        println!("| {what} | {} | {} | {} |", cells.join(" | "), ratio("rask-threads"), ratio("rask-local-cluster"));
    }
    println!("(data: {:.1} GB per n×n float64 array)", (n * n * 8) as f64 / 1e9);
}

/// Timings of a workload's parts, for profiling (`--array-parts N`).
pub fn parts(n: usize) {
    let ex = ThreadedExecutor::new(2);
    let x = Array::random_uniform(&[n, n], Chunks::uniform(&[1000, 1000]), 42);
    let time = |what: &str, a: Array| {
        let start = Instant::now();
        let v = a.compute::<f64>(&ex).unwrap();
        println!("{what}: {:.3} s ({} values)", start.elapsed().as_secs_f64(), v.len());
    };
    time("x.sum()", x.sum(None));
    time("x.sum(axis=0)", x.sum_axis(0));
    time("x.T.sum()", x.t().sum(None));
    time("(x + x).sum(axis=0)", (&x + &x).sum_axis(0));
    time("(x + x.T).sum(axis=0)", (&x + &x.t()).sum_axis(0));
}

/// GFLOP/s of one 1000² block product (`--array-gemm`).
pub fn gemm() {
    let a = Array::random_uniform(&[1000, 1000], Chunks::Whole, 1).persist(&rask_exec::SyncExecutor).unwrap();
    let b = Array::random_uniform(&[1000, 1000], Chunks::Whole, 2).persist(&rask_exec::SyncExecutor).unwrap();
    let p = a.matmul(&b);
    for _ in 0..3 {
        let start = Instant::now();
        p.compute::<f64>(&rask_exec::SyncExecutor).unwrap();
        let t = start.elapsed().as_secs_f64();
        println!("1000² × 1000²: {:.3} s, {:.1} GFLOP/s", t, 2e9 / t / 1e9);
    }
}
