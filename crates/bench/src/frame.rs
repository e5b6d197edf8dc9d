//! The dataframe queries beside Dask, Polars and DuckDB on the same Parquet files:
//! `../shared/peer/dask_frame.py DATA_DIR` (which also writes the files), then rask's four
//! queries on them, with checksums compared.

use std::collections::BTreeMap;
use std::path::Path;

use rask_exec::{Executor, ProcessExecutor, ThreadedExecutor};
use rask_frame::demo::{run_query, QUERIES};

use crate::median;

/// engine → query → (seconds, checksum)
pub type Table = BTreeMap<String, BTreeMap<String, (f64, f64)>>;

/// A table of a peer script's lines, or an empty one (saying why) when it could not run.
pub fn peer_table(lines: Option<Result<Vec<crate::peer::Timing>, String>>) -> Table {
    let mut table = Table::new();
    match lines {
        Some(Ok(lines)) => {
            for (engine, query, seconds, checksum) in lines {
                table.entry(engine).or_default().insert(query, (seconds, checksum));
            }
        }
        Some(Err(why)) => println!("\n(peer engines absent: {why})"),
        None => {}
    }
    table
}

/// Writes the peer's dataset under `data` unless it is there.
pub fn ensure_data(data: &Path) {
    if !data.join("facts").exists() {
        let rows = 10_000_000;
        eprintln!("writing the dataset ({rows} rows) to {}…", data.display());
        rask_frame::demo::make_data(data, rows, 20, &|_, _| {}).expect("the dataset is written");
    }
}

pub fn queries(data: &Path, runs: usize, dask: bool) {
    let mut table = peer_table(dask.then(|| crate::peer::dask_frame(data)));
    ensure_data(data);
    let cluster = rask_distributed::LocalCluster::new(2, 1).expect("a local cluster");
    let executors: Vec<(&str, Box<dyn Executor>)> = vec![
        ("rask-threads", Box::new(ThreadedExecutor::new(2))),
        ("rask-processes", Box::new(ProcessExecutor::new(2))),
        ("rask-local-cluster", Box::new(cluster.client().expect("connects"))),
    ];
    for (name, ex) in &executors {
        for q in QUERIES {
            let mut checksum = f64::NAN;
            let t = median(runs, || {
                let (t, c) = run_query(q, data, ex.as_ref()).expect("the query runs");
                checksum = c;
                t
            });
            table.entry(name.to_string()).or_default().insert(q.to_string(), (t.as_secs_f64(), checksum));
        }
    }
    println!(
        "\ndataframe queries on {} (10M rows, 20 Parquet files), seconds (rask: median of {runs}):",
        data.display()
    );
    let engines: Vec<&String> = table.keys().collect();
    println!(
        "| query | {} | rask-threads vs Dask threads | vs Polars | vs DuckDB | checksums agree |",
        engines.iter().map(|e| e.as_str()).collect::<Vec<_>>().join(" | ")
    );
    println!("|---|{}---|---|---|---|", "---|".repeat(engines.len()));
    for q in QUERIES {
        let cell = |e: &str| table.get(e).and_then(|m| m.get(q)).copied();
        let cells: Vec<String> =
            engines.iter().map(|e| cell(e).map_or("–".into(), |(s, _)| format!("{s:.3}"))).collect();
        let ours = cell("rask-threads").map(|(s, _)| s);
        let ratio = |e: &str| match (cell(e), ours) {
            (Some((theirs, _)), Some(ours)) if ours > 0.0 => format!("{:.1}×", theirs / ours),
            _ => "–".into(),
        };
        let sums: Vec<f64> = engines.iter().filter_map(|e| cell(e).map(|(_, c)| c)).collect();
        let agree = sums.windows(2).all(|w| (w[0] - w[1]).abs() <= 1e-5 * (1.0 + w[0].abs()));
        println!(
            "| {q} | {} | {} | {} | {} | {} |",
            cells.join(" | "),
            ratio("dask-threads"),
            ratio("polars"),
            ratio("duckdb"),
            if agree { "yes" } else { "NO" }
        );
    }
    println!("(a ratio above 1× means rask-threads is faster)");
}
