//! `--only scale`: the scale goals of a million-task graph (and ten million, without
//! `--quick`), each beside its goal and the figure measured when the goal was set. The graph
//! is the peer's: `N inc` and a binary tree of `add` over them, as Dask notation in a file.
//! Times are medians; memory is the operating system's count (resident set, peak), never an
//! estimate.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rask_graph::workloads::tree_sum;
use rask_graph::{to_dask_string, Plan, Registry};

use crate::{median, ms};

/// One row: what, the goal, the figure when the goal was set, and now.
struct Row {
    what: String,
    goal: &'static str,
    before: &'static str,
    now: String,
}

pub fn table(quick: bool) {
    let Some(rask) = rask_binary() else {
        eprintln!("scale: no `rask` binary beside this one (cargo xtask bench builds it)");
        return;
    };
    let runs = if quick { 3 } else { 5 };
    let mut rows = Vec::new();
    let (file, tasks) = graph_file(500_000);
    ingestion(&file, tasks, runs, &mut rows);
    for (scheduler, goal, before) in
        [("threads", "≤ 1.0 s", "2.8 s"), ("processes", "≤ 1.5 s", "4.2 s"), ("local:2", "≤ 3 s", "13.0 s")]
    {
        let (wall, peak) = end_to_end(&rask, &file, scheduler, runs.min(3));
        rows.push(Row { what: format!("1M tasks, `rask run --scheduler {scheduler}`"), goal, before, now: secs(wall) });
        if scheduler == "threads" {
            rows.push(Row {
                what: "  its peak RSS per task".into(),
                goal: "≤ 400 B",
                before: "1.3 KB",
                now: per_task(peak, tasks),
            });
        }
        if scheduler == "local:2" {
            rows.push(Row {
                what: "  its peak RSS (client + scheduler) per task".into(),
                goal: "",
                before: "2.1 KB",
                now: per_task(peak, tasks),
            });
        }
    }
    scheduler_state(&rask, &file, tasks, runs.min(3), &mut rows);
    let _ = std::fs::remove_file(&file);
    if !quick {
        let (file, _) = graph_file(5_000_000);
        for scheduler in ["threads", "local:2"] {
            let (wall, peak) = end_to_end(&rask, &file, scheduler, 1);
            rows.push(Row {
                what: format!("10M tasks, `rask run --scheduler {scheduler}`: time, peak RSS"),
                goal: "within 8 GiB",
                before: "",
                now: format!("{}, {:.2} GiB", secs(wall), peak as f64 / (1u64 << 30) as f64),
            });
        }
        let _ = std::fs::remove_file(&file);
    }
    println!("\nscale: the peer graph (`N inc` + a binary tree of `add`), medians of {runs} runs");
    println!("| measure | goal | when set | now |");
    println!("|---|---|---|---|");
    for row in rows {
        println!("| {} | {} | {} | {} |", row.what, row.goal, row.before, row.now);
    }
    println!(
        "(distributed throughput: `--only distributed`; shared memory against threads: `--only moves`, `--only array`)"
    );
}

/// The `rask` command built beside this binary (`target/release/rask`).
fn rask_binary() -> Option<PathBuf> {
    let path = std::env::current_exe().ok()?.parent()?.join("rask");
    path.exists().then_some(path)
}

/// The peer graph of `leaves` leaves written as Dask notation; its file and task count.
fn graph_file(leaves: usize) -> (PathBuf, usize) {
    let (graph, _) = tree_sum(leaves);
    let path = std::env::temp_dir().join(format!("rask-scale-{leaves}.graph"));
    std::fs::write(&path, to_dask_string(&graph)).expect("the graph file is written");
    (path, graph.len())
}

fn ingestion(file: &Path, tasks: usize, runs: usize, rows: &mut Vec<Row>) {
    let text = std::fs::read_to_string(file).expect("the graph file");
    let registry = Registry::new();
    let mut plan_bytes = 0;
    let total = median(runs, || {
        release_free_memory();
        let before = rss();
        let start = Instant::now();
        let plan = Plan::read_dask(&text, &registry).expect("the printed graph is a valid graph");
        let took = start.elapsed();
        // What the plan holds: resident memory with the plan alone, the reader's working
        // memory freed and the allocator's free pages given back.
        release_free_memory();
        plan_bytes = rss().saturating_sub(before);
        assert!(plan.len() <= tasks, "the plan has no more nodes than the graph has tasks");
        drop(plan);
        took
    });
    rows.push(Row {
        what: "1M tasks parsed + planned (validated, fused, ordered)".into(),
        goal: "≤ 0.5 s",
        before: "2.2 s",
        now: secs(total),
    });
    rows.push(Row {
        what: "  the plan's memory per task (RSS it holds once read)".into(),
        goal: "≤ 250 B",
        before: "",
        now: per_task(plan_bytes, tasks),
    });
}

/// Wall time (median) and the peak RSS of `rask run FILE --scheduler S`.
fn end_to_end(rask: &Path, file: &Path, scheduler: &str, runs: usize) -> (Duration, u64) {
    let mut peak = 0;
    let wall = median(runs, || {
        let start = Instant::now();
        let child = Command::new(rask)
            .args(["run", file.to_str().expect("a UTF-8 path"), "--scheduler", scheduler, "-q"])
            .stdout(Stdio::null())
            .spawn()
            .expect("rask runs");
        let (ok, max_rss) = wait_with_peak(child);
        assert!(ok, "rask run --scheduler {scheduler} failed");
        peak = max_rss;
        start.elapsed()
    });
    (wall, peak)
}

/// Waits for `child`; whether it succeeded, and its peak resident set in bytes, read from its
/// `VmHWM` every few milliseconds until it exits. Not `wait4`'s `ru_maxrss`: a child started
/// with `posix_spawn` (a `vfork`) counts the high-water mark of the memory it shared with this
/// process until its `exec`, so the row read this bench's own peak (the text and plan it had
/// read) whenever that was larger — 494 B a task where the run itself held 407.
fn wait_with_peak(mut child: Child) -> (bool, u64) {
    let pid = child.id();
    let mut peak = 0;
    loop {
        peak = peak.max(status_bytes(pid, "VmHWM:"));
        match child.try_wait() {
            Ok(Some(status)) => return (status.success(), peak),
            Ok(None) => std::thread::sleep(Duration::from_millis(2)),
            Err(_) => return (false, peak),
        }
    }
}

/// A scheduler process and two workers, fresh for each of `runs` runs: the run's wall time
/// and the scheduler's peak resident memory over its idle one, medians (the peak moves with
/// how far the submission gets ahead of the work, by tens of megabytes from run to run).
fn scheduler_state(rask: &Path, file: &Path, tasks: usize, runs: usize, rows: &mut Vec<Row>) {
    let mut peaks = Vec::new();
    let wall = median(runs, || {
        let (wall, peak) = one_scheduler_run(rask, file);
        peaks.push(peak);
        wall
    });
    peaks.sort();
    rows.push(Row {
        what: "1M tasks through a scheduler process and 2 workers (`rask run --scheduler tcp://…`)".into(),
        goal: "≥ 250k tasks/s",
        before: "126k/s",
        now: format!("{}, {:.0}k tasks/s", secs(wall), tasks as f64 / wall.as_secs_f64() / 1e3),
    });
    rows.push(Row {
        what: "  the scheduler's peak RSS over idle, per task".into(),
        goal: "≤ 250 B",
        before: "",
        now: per_task(peaks[peaks.len() / 2], tasks),
    });
}

/// One run on a fresh scheduler process and two workers: its wall time and the scheduler's
/// peak resident memory over idle.
fn one_scheduler_run(rask: &Path, file: &Path) -> (Duration, u64) {
    let mut scheduler = Command::new(rask)
        .args(["scheduler", "--port", "0", "--no-dashboard"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("rask scheduler runs");
    let mut line = String::new();
    std::io::BufReader::new(scheduler.stdout.take().expect("its stdout")).read_line(&mut line).expect("it announces");
    let address = line.trim().rsplit(' ').next().expect("an address").to_owned();
    let mut workers: Vec<Child> = (0..2)
        .map(|_| {
            Command::new(rask)
                .args(["worker", &address, "--nthreads", "1"])
                .stderr(Stdio::null())
                .spawn()
                .expect("rask worker runs")
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let idle = status_bytes(scheduler.id(), "VmRSS:");
    let start = Instant::now();
    let ran = Command::new(rask)
        .args(["run", file.to_str().expect("a UTF-8 path"), "--scheduler", &address, "-q"])
        .stdout(Stdio::null())
        .status()
        .expect("rask run runs");
    let wall = start.elapsed();
    let peak = status_bytes(scheduler.id(), "VmHWM:");
    for child in workers.iter_mut().chain(std::iter::once(&mut scheduler)) {
        let _ = child.kill();
        let _ = child.wait();
    }
    assert!(ran.success(), "the run on the scheduler failed");
    (wall, peak.saturating_sub(idle))
}

/// A `/proc/PID/status` figure (kB) in bytes.
fn status_bytes(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Gives the allocator's free pages back to the operating system, so that RSS counts live
/// data.
fn release_free_memory() {
    // SAFETY: mi_collect has no preconditions; it only frees what mimalloc holds unused.
    unsafe { libmimalloc_sys::mi_collect(true) };
}

/// This process's resident set, in bytes.
fn rss() -> u64 {
    status_bytes(std::process::id(), "VmRSS:")
}

fn secs(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{:.0} ms", ms(d))
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

fn per_task(bytes: u64, tasks: usize) -> String {
    format!("{:.0} B", bytes as f64 / tasks as f64)
}
