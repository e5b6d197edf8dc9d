//! Chaos, bounded in time: a graph of thousands of tasks whose results move between workers
//! runs on a `LocalCluster` while a seeded schedule kills workers (SIGKILL), stops one past
//! the heartbeat timeout (SIGSTOP), and cuts workers' connections to the scheduler (`ss -K`),
//! starting a replacement after each. The result must equal the fault-free run's, and
//! afterwards no shared-memory segment or spill folder of any worker is left and the
//! scheduler's task table is empty. `RASK_CHAOS_SEED=N` replays another schedule.
//!
//! Own `main` (`harness = false`): the cluster's workers are this binary, re-executed.

#[path = "../../exec/tests/common/mod.rs"]
mod common;

use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

use rask_distributed::{ClusterOptions, LocalCluster, Timeouts};
use rask_graph::{register, Arity, Expr, Graph, Key, TaskError, Value};

fn main() {
    rask_distributed::worker_main_if_requested();
    common::run_tests(&[("a_run_under_seeded_faults_gives_the_fault_free_result_and_leaves_nothing", chaos)]);
}

/// `(chaos_leaf, i)`: after 8 ms, 16 KiB derived from `i` (results big enough to be fetched,
/// not inlined).
fn leaf(args: &[Value]) -> Result<Value, TaskError> {
    let i = args[0].as_int().unwrap_or(0);
    std::thread::sleep(Duration::from_millis(8));
    let c = char::from(b'a' + (i % 26) as u8);
    Ok(Value::str(&c.to_string().repeat(16 * 1024 + (i % 7) as usize)))
}
register!("chaos_leaf", Arity::Exact(1), leaf);

/// `(chaos_mix, a, b)`: a checksum of two leaves, wherever they were made.
fn mix(args: &[Value]) -> Result<Value, TaskError> {
    let sum = |v: &Value| match v {
        Value::Str(s) => s.bytes().map(i64::from).sum::<i64>(),
        _ => 0,
    };
    Ok(Value::Int(sum(&args[0]) * 3 + sum(&args[1])))
}
register!("chaos_mix", Arity::Exact(2), mix);

/// Leaves, pairs mixed, then a tree of sums; keys prefixed so two runs share nothing.
fn graph(prefix: &str, leaves: usize) -> (Graph, Key) {
    let mut g = Graph::new();
    let key = |name: &str, i: usize| Key::str(&format!("{prefix}-{name}-{i}"));
    for i in 0..leaves {
        g.insert(key("leaf", i), Expr::call("chaos_leaf", [Expr::from(i as i64)]));
    }
    let mut level: Vec<Key> = (0..leaves / 2)
        .map(|i| {
            let k = key("mix", i);
            g.insert(
                k.clone(),
                Expr::call("chaos_mix", [Expr::key(key("leaf", 2 * i)), Expr::key(key("leaf", 2 * i + 1))]),
            );
            k
        })
        .collect();
    let mut depth = 0;
    while level.len() > 1 {
        depth += 1;
        level = level
            .chunks(2)
            .enumerate()
            .map(|(i, pair)| {
                let k = key(&format!("sum{depth}"), i);
                g.insert(k.clone(), Expr::call("sum", [Expr::list(pair.iter().cloned().map(Expr::key))]));
                k
            })
            .collect();
    }
    (g, level.remove(0))
}

/// xorshift64*: the schedule's only source of chance.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n.max(1)
    }
}

/// A fault injected: its kind and the worker process it hit.
struct Fault(&'static str, u32);

impl std::fmt::Debug for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.0, self.1)
    }
}

fn signal(pid: u32, sig: i32) {
    // SAFETY: a plain signal to a worker process this test's cluster started.
    unsafe { libc::kill(pid as i32, sig) };
}

/// Cuts `pid`'s connection to the scheduler at `port` (both ends see it reset). False if
/// `ss` cannot (not installed, or the kernel lacks socket destruction).
fn cut_scheduler_link(pid: u32, port: u16) -> bool {
    let Ok(out) = Command::new("ss").args(["-tnpH", "state", "established"]).output() else { return false };
    let listing = String::from_utf8_lossy(&out.stdout);
    let local = listing.lines().filter(|l| l.contains(&format!("pid={pid},"))).find_map(|l| {
        let cols: Vec<&str> = l.split_whitespace().collect();
        let (local, peer) = (cols.get(2)?, cols.get(3)?);
        (peer.rsplit(':').next() == Some(&port.to_string())).then(|| local.rsplit(':').next().unwrap_or("").to_owned())
    });
    let Some(local) = local else { return false };
    let filter = ["sport", "=", local.as_str(), "and", "dport", "=", &port.to_string()];
    Command::new("ss").arg("-K").args(filter).output().is_ok_and(|o| o.status.success())
}

fn leftovers(pids: &BTreeSet<u32>) -> Vec<String> {
    let mut left: Vec<String> = std::fs::read_dir("/dev/shm")
        .map(|d| d.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect())
        .unwrap_or_default();
    left.retain(|name| pids.iter().any(|p| name.starts_with(&format!("rask-{p}-"))));
    for &p in pids {
        let spill = rask_distributed::store::spill_dir(p);
        if spill.exists() {
            left.push(spill.display().to_string());
        }
    }
    left
}

fn chaos() {
    let seed = std::env::var("RASK_CHAOS_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(20261204u64);
    let mut rng = Rng(seed.max(1));
    let heartbeat = Duration::from_secs(2);
    let timeouts = Timeouts { heartbeat, ..Timeouts::from_env() };
    let options = ClusterOptions { timeouts, dashboard: None, ..ClusterOptions::new(3, 2) };
    let mut cluster = LocalCluster::with_options(options).unwrap();
    let client = cluster.client().unwrap();
    let port: u16 = cluster.address().rsplit(':').next().unwrap().parse().unwrap();
    let leaves = 1600;

    let (clean_graph, clean_root) = graph("clean", leaves);
    let started = Instant::now();
    let want = client.compute(&clean_graph, std::slice::from_ref(&clean_root)).unwrap();
    let clean = started.elapsed();
    let before = client.stats().unwrap();

    let (graph, root) = graph("chaos", leaves);
    let mut seen: BTreeSet<u32> = cluster.worker_pids().into_iter().collect();
    let started = Instant::now();
    let futures = client.persist(&graph, std::slice::from_ref(&root)).unwrap();
    // Two of each kind, in a seeded order, against seeded workers, 450–750 ms apart.
    let mut kinds = vec![0, 0, 1, 1, 2, 2];
    let mut schedule = Vec::new();
    while !kinds.is_empty() {
        schedule.push(kinds.remove(rng.below(kinds.len())));
    }
    let mut faults: Vec<Fault> = Vec::new();
    let mut stopped: Vec<(u32, Instant)> = Vec::new();
    let mut next = Instant::now() + Duration::from_millis(300);
    while !futures[0].done() {
        let now = Instant::now();
        for (pid, _) in
            stopped.iter().filter(|(_, at)| now.duration_since(*at) > heartbeat + Duration::from_millis(700))
        {
            signal(*pid, libc::SIGCONT); // fenced meanwhile: it learns so and exits
        }
        stopped.retain(|(_, at)| now.duration_since(*at) <= heartbeat + Duration::from_millis(700));
        // Each fault hits a worker no earlier fault has.
        let healthy: Vec<u32> =
            cluster.worker_pids().into_iter().filter(|p| !faults.iter().any(|f| f.1 == *p)).collect();
        if now >= next && faults.len() < schedule.len() && !healthy.is_empty() {
            let victim = healthy[rng.below(healthy.len())];
            let fault = match schedule[faults.len()] {
                0 => {
                    signal(victim, libc::SIGKILL);
                    Fault("SIGKILL", victim)
                }
                1 => {
                    signal(victim, libc::SIGSTOP);
                    stopped.push((victim, now));
                    Fault("SIGSTOP past the heartbeat timeout", victim)
                }
                _ if cut_scheduler_link(victim, port) => Fault("connection to the scheduler cut", victim),
                _ => {
                    eprintln!("chaos: `ss -K` is not available here: killing instead of cutting a connection");
                    signal(victim, libc::SIGKILL);
                    Fault("SIGKILL (no `ss -K`)", victim)
                }
            };
            cluster.add_worker().unwrap();
            seen.extend(cluster.worker_pids());
            faults.push(fault);
            next = now + Duration::from_millis(450 + rng.below(300) as u64);
        }
        assert!(started.elapsed() < Duration::from_secs(120), "the run under faults did not finish");
        std::thread::sleep(Duration::from_millis(10));
    }
    for (pid, _) in stopped.drain(..) {
        signal(pid, libc::SIGCONT);
    }
    let got = client.gather(&futures).unwrap();
    let faulty = started.elapsed();
    assert_eq!(got, want, "the same result as without faults");
    assert!(faults.len() >= 3, "the run outlasted only {} faults: {faults:?}", faults.len());
    let stats = client.stats().unwrap();
    println!(
        "chaos (seed {seed}): {} tasks, {} faults injected and survived: {faults:?}; {} workers lost, {} tasks \
         recomputed; {faulty:?} against {clean:?} without faults",
        graph.len(),
        faults.len(),
        stats.workers_lost - before.workers_lost,
        stats.tasks_recomputed - before.tasks_recomputed,
    );

    // Idle again: the scheduler holds no task and has dropped its tables.
    drop(futures);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let s = client.stats().unwrap();
        if s.tasks_known == 0 && s.task_slots == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the scheduler did not return to idle: {s:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Nothing of any worker is left once the cluster is gone.
    drop(client);
    drop(cluster);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !leftovers(&seen).is_empty() {
        assert!(Instant::now() < deadline, "left behind: {:?}", leftovers(&seen));
        std::thread::sleep(Duration::from_millis(20));
    }
}
