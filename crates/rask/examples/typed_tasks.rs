//! The typed-tasks program: plain Rust functions and a user struct as tasks, computed on every
//! executor — one thread, a thread pool, worker processes and a local cluster.
//! `cargo run --release -p rask --example typed_tasks`
use rask::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
struct Stats {
    n: u64,
    total: f64,
}

#[rask::task]
fn load(part: u32) -> Vec<f64> {
    (0..1000).map(|i| (part * 1000 + i) as f64).collect()
}

#[rask::task]
fn summarize(xs: Vec<f64>) -> Stats {
    Stats { n: xs.len() as u64, total: xs.iter().sum() }
}

#[rask::task]
fn combine(parts: Vec<Stats>) -> Result<Stats, String> {
    if parts.is_empty() {
        return Err("nothing to combine".into());
    }
    Ok(Stats { n: parts.iter().map(|s| s.n).sum(), total: parts.iter().map(|s| s.total).sum() })
}

pub fn main() -> Result<(), rask::Error> {
    rask::init(); // first line: makes this binary its own worker process when re-executed
    let parts: Vec<Delayed<Stats>> = (0..8).map(|p| summarize(load(lit(p)))).collect();
    let total: Delayed<Stats> = combine(parts);
    for scheduler in ["sync", "threads", "processes", "local:2"] {
        let exec = rask::executor(scheduler)?;
        assert_eq!(total.compute(&exec)?, Stats { n: 8000, total: 31996000.0 });
        println!("{scheduler}: {:?}", total.compute(&exec)?);
    }
    Ok(())
}
