//! Ordering: the most results held at once when each of Dask's collection shapes
//! (`rask_graph::shapes`) runs in our order and in `dask.order`'s, on one thread. A count, not
//! a time; lower means less memory. Dask's column needs a Python with dask (the peer setup).

use std::io::Write;
use std::process::{Command, Stdio};

use rask_graph::shapes::{dependencies, peak_live, shapes};
use rask_graph::{Plan, PlanOptions, Registry};

/// The peak under `dask.order` of the graph whose dependencies are `deps`.
fn dask_peak(python: &str, deps: &str) -> Option<usize> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/peer/dask_order_peak.py");
    let mut child = Command::new(python).arg(script).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().ok()?;
    child.stdin.take()?.write_all(deps.as_bytes()).ok()?;
    let out = child.wait_with_output().ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

pub fn table(dask: bool) {
    let python = if dask { crate::peer::python() } else { None };
    println!("\nordering: peak results held at once, one thread, unfused graphs (lower is better):");
    println!("| shape | tasks | rask | dask.order | rask / dask |");
    println!("|---|---|---|---|---|");
    for shape in shapes() {
        let plan = Plan::build_with(&shape.graph, &shape.targets, &Registry::new(), &PlanOptions::unoptimized())
            .expect("a shape plans");
        let ours = peak_live(&plan);
        let theirs = python.as_deref().and_then(|py| dask_peak(py, &dependencies(&plan)));
        match theirs {
            Some(d) => println!("| {} | {} | {ours} | {d} | {:.2} |", shape.name, plan.len(), ours as f64 / d as f64),
            None => println!("| {} | {} | {ours} | – | – |", shape.name, plan.len()),
        }
    }
    if python.is_none() {
        println!("(dask.order column empty: no Python with dask; see the README's peer setup)");
    }
}
