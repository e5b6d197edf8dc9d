//! The 22 TPC-H queries at a scale factor (default 1) on rask (threads, a local cluster)
//! beside Dask (threads), Polars and DuckDB (`peer/tpch_peers.py`), on the same Parquet files
//! (`/tmp/rask-tpch-sfSF`, generated when missing). One table: seconds per query and engine,
//! the geometric means, and an answer check of every engine against DuckDB's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rask_exec::{Executor, ThreadedExecutor};
use rask_tpch::{differences, query, to_csv, Tables};

use crate::median;

/// The tables at `sf` (`/tmp/rask-tpch-sfSF`), generated when missing.
fn data(sf: f64) -> PathBuf {
    let data = PathBuf::from(format!("/tmp/rask-tpch-sf{sf}"));
    if !data.join("lineitem").exists() {
        eprintln!("generating TPC-H SF {sf} in {}…", data.display());
        rask_tpch::generate(&data, sf).expect("the tables are written");
    }
    data
}

pub fn queries(sf: f64, runs: usize, peers: bool) {
    let data = data(sf);
    let answers = data.join("answers");
    // engine → query → seconds
    let mut table: BTreeMap<String, BTreeMap<usize, f64>> = BTreeMap::new();
    if peers {
        match crate::peer::tpch(&data, sf, &answers) {
            Ok(lines) => {
                for (engine, q, seconds) in lines {
                    if let Some(n) = q.strip_prefix('q').and_then(|n| n.parse().ok()) {
                        table.entry(engine).or_default().insert(n, seconds);
                    }
                }
            }
            Err(why) => println!("(peer engines absent: {why})"),
        }
    }
    let tables = Tables::new(&data, sf);
    let cluster = rask_distributed::LocalCluster::new(2, 1).expect("a local cluster");
    let executors: Vec<(&str, Box<dyn Executor>)> = vec![
        ("rask-threads", Box::new(ThreadedExecutor::new(2))),
        ("rask-local-cluster", Box::new(cluster.client().expect("connects"))),
    ];
    for (name, ex) in &executors {
        for n in 1..=22 {
            let mut csv = String::new();
            let t = median(runs, || {
                let start = std::time::Instant::now();
                let batch = query(n, &tables).and_then(|f| Ok(f.compute(ex.as_ref())?));
                let elapsed = start.elapsed();
                csv = batch.map_or_else(|e| format!("failed: {e}"), |b| to_csv(&b));
                elapsed
            });
            write_answer(&answers, name, n, &csv);
            table.entry(name.to_string()).or_default().insert(n, t.as_secs_f64());
        }
    }
    print(&table, &answers, sf, runs);
}

fn write_answer(dir: &Path, engine: &str, n: usize, csv: &str) {
    let dir = dir.join(engine);
    std::fs::create_dir_all(&dir).expect("the answers folder is writable");
    std::fs::write(dir.join(format!("q{n:02}.csv")), csv).expect("an answer is written");
}

/// Whether `engine`'s answer to query `n` matches DuckDB's (values only, to 1e-6: Dask and
/// Polars compute money in float64).
fn agrees(answers: &Path, engine: &str, n: usize) -> Option<bool> {
    let read = |e: &str| std::fs::read_to_string(answers.join(e).join(format!("q{n:02}.csv"))).ok();
    Some(differences(&read(engine)?, &read("duckdb")?, 1e-6, false).is_none())
}

fn print(table: &BTreeMap<String, BTreeMap<usize, f64>>, answers: &Path, sf: f64, runs: usize) {
    let order = ["rask-threads", "rask-local-cluster", "dask-threads", "polars", "duckdb"];
    let engines: Vec<&str> = order.iter().copied().filter(|e| table.contains_key(*e)).collect();
    println!("\nTPC-H SF {sf}, seconds per query (rask: median of {runs}; peers: median of 3), 2 cores:");
    println!("| query | {} | rask-threads vs Dask | vs Polars | answers = DuckDB's |", engines.join(" | "));
    println!("|---|{}---|---|---|", "---|".repeat(engines.len()));
    let cell = |e: &str, n: usize| table.get(e).and_then(|m| m.get(&n)).copied();
    let ratio = |theirs: Option<f64>, ours: Option<f64>| match (theirs, ours) {
        (Some(t), Some(o)) if o > 0.0 => format!("{:.1}×", t / o),
        _ => "–".into(),
    };
    for n in 1..=22 {
        let cells: Vec<String> = engines.iter().map(|e| cell(e, n).map_or("–".into(), |s| format!("{s:.3}"))).collect();
        let wrong: Vec<&str> =
            engines.iter().copied().filter(|e| *e != "duckdb" && agrees(answers, e, n) == Some(false)).collect();
        let check = if wrong.is_empty() { "all".to_string() } else { format!("not {}", wrong.join(", ")) };
        let ours = cell("rask-threads", n);
        println!(
            "| q{n:02} | {} | {} | {} | {check} |",
            cells.join(" | "),
            ratio(cell("dask-threads", n), ours),
            ratio(cell("polars", n), ours)
        );
    }
    let geomean = |e: &str| -> Option<f64> {
        let xs: Vec<f64> = (1..=22).filter_map(|n| cell(e, n)).collect();
        (xs.len() == 22).then(|| (xs.iter().map(|x| x.max(1e-6).ln()).sum::<f64>() / 22.0).exp())
    };
    let means: Vec<String> = engines.iter().map(|e| geomean(e).map_or("–".into(), |g| format!("{g:.3}"))).collect();
    let ours = geomean("rask-threads");
    println!(
        "| geometric mean | {} | {} | {} | |",
        means.join(" | "),
        ratio(geomean("dask-threads"), ours),
        ratio(geomean("polars"), ours)
    );
    println!("(a ratio above 1× means rask-threads is faster; answers in {})", answers.display());
}

/// The 22 queries at `sf` on a local cluster of 2 workers limited to `memory_limit` bytes each:
/// seconds per query, the most bytes the workers had spilled at once during it, and every
/// process's peak resident memory (from the OS).
pub fn spilling(sf: f64, memory_limit: u64) {
    let data = data(sf);
    let tables = Tables::new(&data, sf);
    let cluster = rask_distributed::LocalCluster::with_memory_limit(2, 1, memory_limit).expect("a local cluster");
    let client = cluster.client().expect("connects");
    println!("\nTPC-H SF {sf} on a local cluster of 2 workers × 1 thread, {} MiB each:", memory_limit >> 20);
    println!("| query | seconds | rows | most bytes spilled at once |");
    println!("|---|---|---|---|");
    let mut failed = Vec::new();
    for n in 1..=22 {
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let watcher = {
            let (done, client) = (done.clone(), cluster.client().expect("connects"));
            std::thread::spawn(move || {
                let mut most = 0u64;
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    if let Ok(stats) = client.stats() {
                        most = most.max(stats.bytes_spilled);
                    }
                    std::thread::sleep(std::time::Duration::from_millis(200));
                }
                most
            })
        };
        let start = std::time::Instant::now();
        let result = query(n, &tables).and_then(|f| Ok(f.compute(&client)?));
        let seconds = start.elapsed().as_secs_f64();
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        let spilled = watcher.join().unwrap_or(0);
        match result {
            Ok(batch) => println!("| q{n:02} | {seconds:.2} | {} | {} MiB |", batch.num_rows(), spilled >> 20),
            Err(e) => {
                println!("| q{n:02} | failed: {e} | | |");
                failed.push(n);
            }
        }
    }
    let peak = |pid: u32| -> String {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines().find(|l| l.starts_with("VmHWM:")).map(|l| l.trim_start_matches("VmHWM:").trim().to_owned())
            })
            .unwrap_or_else(|| "?".into())
    };
    println!("peak RSS: client (this process) {}", peak(std::process::id()));
    for pid in cluster.worker_pids() {
        println!("peak RSS: worker {pid} {}", peak(pid));
    }
    if !failed.is_empty() {
        println!("FAILED: {failed:?}");
    }
}
