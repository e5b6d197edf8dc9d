//! Dask, run beside us: `../shared/peer/dask_overhead.py`'s graph and timing, through the
//! Python named by `RASK_DASK_PYTHON` or `/tmp/daskenv/bin/python`. Never a dependency: when
//! no such Python is found, the table says so and shows rask's column alone.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;

pub struct Peer {
    per_task: HashMap<String, Vec<f64>>,
    note: Option<String>,
}

impl Peer {
    pub fn absent(why: &str) -> Peer {
        Peer { per_task: HashMap::new(), note: Some(format!("Dask column empty: {why}.")) }
    }

    /// Median µs per task Dask's scheduler `name` (`dask-sync`, `dask-threads`, …) took.
    pub fn per_task(&self, name: &str) -> Option<f64> {
        let mut xs = self.per_task.get(name)?.clone();
        xs.sort_by(f64::total_cmp);
        xs.get(xs.len() / 2).copied()
    }

    pub fn note(&self) -> Option<&str> {
        self.note.as_deref()
    }
}

pub fn python() -> Option<String> {
    let candidates = [std::env::var("RASK_DASK_PYTHON").ok(), Some("/tmp/daskenv/bin/python".to_string())];
    candidates
        .into_iter()
        .flatten()
        .find(|py| Command::new(py).args(["-c", "import dask, distributed"]).output().is_ok_and(|o| o.status.success()))
}

fn script_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/peer")
}

/// Runs the peer's schedulers on its graph of `n` leaves, three times each.
pub fn dask_overhead(n: usize) -> Peer {
    let Some(py) = python() else {
        return Peer::absent("no Python with dask (set RASK_DASK_PYTHON, or see the README to make /tmp/daskenv)");
    };
    let dir = script_dir();
    if !dir.join("dask_overhead.py").exists() {
        return Peer::absent(&format!("{} not found", dir.join("dask_overhead.py").display()));
    }
    let schedulers = [
        ("dask-sync", "dask.local.get_sync"),
        ("dask-threads", "dask.threaded.get"),
        ("dask-processes", "lambda d, k: dask.multiprocessing.get(d, k, num_workers=2)"),
    ];
    let mut program = format!("import sys; sys.path.insert(0, {:?})\nimport dask_overhead as peer, dask, dask.local, dask.threaded, dask.multiprocessing\n", dir.display().to_string());
    for _ in 0..3 {
        for (name, get) in &schedulers {
            program.push_str(&format!("peer.run({name:?}, {get}, {n})\n"));
        }
    }
    eprintln!("running Dask's peer harness ({} schedulers × 3 runs at {n} leaves)…", schedulers.len());
    let out = match Command::new(&py).arg("-c").arg(&program).output() {
        Ok(o) if o.status.success() => o,
        Ok(o) => {
            return Peer::absent(&format!(
                "the peer failed: {}",
                String::from_utf8_lossy(&o.stderr).lines().last().unwrap_or("")
            ))
        }
        Err(e) => return Peer::absent(&format!("cannot run {py}: {e}")),
    };
    let mut per_task: HashMap<String, Vec<f64>> = HashMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        if let [name, _tasks, _seconds, us] = fields[..] {
            if let Ok(us) = us.parse() {
                per_task.entry(name.to_string()).or_default().push(us);
            }
        }
    }
    let shown: Vec<String> = per_task.keys().map(|k| k.to_string()).collect();
    let note = format!("Dask: {} via {py}, peer graph at {n} leaves (2n+5 tasks, medians of 3 runs); its per-task figures stand beside both rask sizes.", shown.join(", "));
    Peer { per_task, note: Some(note) }
}

/// Dask's multiprocessing scheduler on `{'a': (np.ones, n), 'b': (np.sum, 'a')}`, unfused:
/// the median wall time of `runs` runs.
pub fn dask_numpy_hop(n: usize, runs: usize) -> Result<std::time::Duration, String> {
    let py = python().ok_or("no Python with dask")?;
    let program = format!(
        "import time, numpy as np, dask.multiprocessing\n\
         dsk = {{'a': (np.ones, {n}), 'b': (np.sum, 'a')}}\n\
         for _ in range({runs}):\n    \
         t = time.perf_counter(); r = dask.multiprocessing.get(dsk, 'b', num_workers=2, optimize_graph=False)\n    \
         assert r == {n}, r\n    \
         print(time.perf_counter() - t, flush=True)\n"
    );
    eprintln!("running Dask's multiprocessing scheduler on a {} MiB NumPy hop…", (n * 8) >> 20);
    let out = Command::new(&py).arg("-c").arg(&program).output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("failed").to_string());
    }
    let mut times: Vec<f64> =
        String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| l.trim().parse().ok()).collect();
    times.sort_by(f64::total_cmp);
    times.get(times.len() / 2).map(|&s| std::time::Duration::from_secs_f64(s)).ok_or_else(|| "no timings".into())
}

/// Dask distributed's µs per task on the peer graph at `n` leaves, through a LocalCluster of
/// 2 workers × 1 thread (the peer script's own setup): the median of 3 runs.
pub fn dask_distributed(n: usize) -> Option<f64> {
    let py = python()?;
    let dir = script_dir();
    let program = format!(
        "import sys; sys.path.insert(0, {:?})\nimport dask_overhead as peer\n\
         from distributed import Client, LocalCluster\n\
         with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as c, Client(c) as cl:\n    \
         for _ in range(3):\n        peer.run('dask-distributed', cl.get, {n})\n",
        dir.display().to_string()
    );
    eprintln!("running Dask distributed on the peer graph at {n} leaves (3 runs)…");
    let out = Command::new(&py).arg("-c").arg(&program).output().ok()?;
    let mut us: Vec<f64> =
        String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| l.split('\t').nth(3)?.parse().ok()).collect();
    us.sort_by(f64::total_cmp);
    us.get(us.len() / 2).copied()
}

/// One line of a peer script: engine, query, seconds, checksum.
pub type Timing = (String, String, f64, f64);

/// `dask_frame.py DATA_DIR`'s lines: (engine, query, seconds, checksum).
pub fn dask_frame(data: &std::path::Path) -> Result<Vec<Timing>, String> {
    let py = python().ok_or("no Python with dask")?;
    let script = script_dir().join("dask_frame.py");
    eprintln!("running {} {} (Dask, Polars, DuckDB)…", script.display(), data.display());
    let out = Command::new(&py).arg(&script).arg(data).output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("failed").to_string());
    }
    Ok(tab_lines(&out.stdout))
}

/// `crates/bench/peer/dask_moves.py DATA_DIR`'s lines: (engine, query, seconds, checksum).
pub fn dask_moves(data: &std::path::Path) -> Result<Vec<Timing>, String> {
    let py = python().ok_or("no Python with dask")?;
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("peer/dask_moves.py");
    eprintln!("running {} {} (Dask)…", script.display(), data.display());
    let out = Command::new(&py).arg(&script).arg(data).output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("failed").to_string());
    }
    Ok(tab_lines(&out.stdout))
}

/// Tab-separated `engine, query, seconds, checksum` lines.
fn tab_lines(stdout: &[u8]) -> Vec<Timing> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            Some((f.first()?.to_string(), f.get(1)?.to_string(), f.get(2)?.parse().ok()?, f.get(3)?.parse().ok()?))
        })
        .collect()
}

/// `crates/bench/peer/tpch_peers.py DATA SF OUT`'s lines: (engine, query, seconds); each
/// engine's answers are written under `out/ENGINE/qNN.csv`.
pub fn tpch(data: &std::path::Path, sf: f64, out: &std::path::Path) -> Result<Vec<(String, String, f64)>, String> {
    let py = python().ok_or("no Python with dask")?;
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("peer/tpch_peers.py");
    eprintln!("running {} (DuckDB, Polars, Dask) at SF {sf}…", script.display());
    let run =
        Command::new(&py).arg(&script).arg(data).arg(sf.to_string()).arg(out).output().map_err(|e| e.to_string())?;
    if !run.status.success() {
        return Err(String::from_utf8_lossy(&run.stderr).lines().last().unwrap_or("failed").to_string());
    }
    Ok(String::from_utf8_lossy(&run.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            Some((f.first()?.to_string(), f.get(1)?.to_string(), f.get(2)?.parse().ok()?))
        })
        .collect())
}
