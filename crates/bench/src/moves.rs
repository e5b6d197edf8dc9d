//! Operations that move rows between partitions, on the peer's 10M-row dataset, beside Dask's
//! threaded scheduler (`crates/bench/peer/dask_moves.py`): a hash shuffle, a hash join of two
//! large sides, a group-by with many groups (`split_out`), and `set_index` + `loc`.

use std::path::Path;
use std::time::{Duration, Instant};

use rask_exec::{Executor, ProcessExecutor, ThreadedExecutor};
use rask_frame::{col, Frame, FrameError, GroupAgg, How, JoinStrategy, MergeOptions};

use crate::median;

pub const QUERIES: [&str; 4] = ["shuffle", "hash_join", "groupby_split_out", "set_index_loc"];

fn float(v: rask_graph::Value) -> f64 {
    v.as_float().unwrap_or(f64::NAN)
}

/// One query: its checksum, computed as the Dask script computes it.
fn run(query: &str, root: &Path, ex: &dyn Executor) -> Result<f64, FrameError> {
    let facts = || Frame::read_parquet(root.join("facts"));
    Ok(match query {
        "shuffle" => float(facts()?.select(&["key", "x"]).shuffle(&["key"], 20).sum("x").compute(ex)?),
        "hash_join" => {
            let a = facts()?.select(&["id", "x"]);
            let b = facts()?.select(&["id", "y"]);
            let options = MergeOptions { strategy: JoinStrategy::Shuffle, ..MergeOptions::default() };
            let joined = a.merge_with(&b, &["id"], How::Inner, options).with_column("z", col("x").mul(col("y")));
            float(joined.sum("z").compute(ex)?)
        }
        "groupby_split_out" => {
            facts()?.select(&["id", "x"]).groupby(&["id"]).split_out(4).agg(&[("x", GroupAgg::Sum)]).len(ex)? as f64
        }
        "set_index_loc" => {
            let indexed = facts()?.select(&["id", "x"]).set_index("id")?;
            float(indexed.loc(1_000_000.0, 2_000_000.0)?.sum("x").compute(ex)?)
        }
        other => return Err(FrameError::Type(format!("no query {other:?}"))),
    })
}

pub fn queries(data: &Path, runs: usize, dask: bool) {
    crate::frame::ensure_data(data);
    let mut table = crate::frame::peer_table(dask.then(|| crate::peer::dask_moves(data)));
    let cluster = rask_distributed::LocalCluster::new(2, 1).expect("a local cluster");
    let executors: Vec<(&str, Box<dyn Executor>)> = vec![
        ("rask-threads", Box::new(ThreadedExecutor::new(2))),
        ("rask-processes", Box::new(ProcessExecutor::new(2))),
        ("rask-local-cluster", Box::new(cluster.client().expect("connects"))),
    ];
    // Run by run, the executors take turns on each query: on a noisy machine, a slow spell
    // then costs each of them a run rather than all the runs of one.
    for q in QUERIES {
        let mut times: Vec<Vec<Duration>> = vec![Vec::with_capacity(runs); executors.len()];
        let mut checksums = vec![f64::NAN; executors.len()];
        for _ in 0..runs {
            for (i, (_, ex)) in executors.iter().enumerate() {
                let start = Instant::now();
                checksums[i] = run(q, data, ex.as_ref()).expect("the query runs");
                times[i].push(start.elapsed());
            }
        }
        for (i, (name, _)) in executors.iter().enumerate() {
            let t = median(runs, || times[i].pop().expect("one time per run"));
            table.entry(name.to_string()).or_default().insert(q.to_string(), (t.as_secs_f64(), checksums[i]));
        }
    }
    println!("\nrows moving between partitions, same dataset, seconds (medians of {runs}, executors taking turns):");
    println!(
        "| query | dask-threads | rask-threads | rask-processes | rask-local-cluster (2 workers × 1 thread) | \
         rask-threads vs Dask | processes / threads | cluster / threads (goal ≤ 1.2 each) | checksums agree |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for q in QUERIES {
        let cell = |e: &str| table.get(e).and_then(|m| m.get(q)).copied();
        let show = |e: &str| cell(e).map_or("–".into(), |(s, _)| format!("{s:.3}"));
        let ratio = match (cell("dask-threads"), cell("rask-threads")) {
            (Some((d, _)), Some((r, _))) if r > 0.0 => format!("{:.1}×", d / r),
            _ => "–".into(),
        };
        let vs_threads = |e: &str| match (cell(e), cell("rask-threads")) {
            (Some((x, _)), Some((t, _))) if t > 0.0 => format!("{:.2}", x / t),
            _ => "–".into(),
        };
        let sums: Vec<f64> = table.values().filter_map(|m| m.get(q).map(|(_, c)| *c)).collect();
        let agree = sums.windows(2).all(|w| (w[0] - w[1]).abs() <= 1e-6 * (1.0 + w[0].abs()));
        println!(
            "| {q} | {} | {} | {} | {} | {ratio} | {} | {} | {} |",
            show("dask-threads"),
            show("rask-threads"),
            show("rask-processes"),
            show("rask-local-cluster"),
            vs_threads("rask-processes"),
            vs_threads("rask-local-cluster"),
            if agree { "yes" } else { "NO" }
        );
    }
}
