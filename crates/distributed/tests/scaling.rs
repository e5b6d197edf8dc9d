//! A cluster that shrinks without losing work, on a real `LocalCluster` (worker processes on
//! loopback): workers retired by a client or by SIGTERM hand their results to the others
//! first, so nothing is recomputed.
//!
//! Own `main` (`harness = false`): the cluster's workers are this binary, re-executed.

#[path = "../../exec/tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use rask_distributed::adapt::Scaled;
use rask_distributed::{Arg, Client, Future, LocalCluster};
use rask_graph::{register, Annotations, Arity, TaskError, Value};

fn main() {
    rask_distributed::worker_main_if_requested();
    let tests: &[(&str, fn())] = &[
        ("a_retired_worker_hands_over_its_results_and_nothing_is_recomputed", retire_by_client),
        ("sigterm_retires_a_worker_gracefully", retire_by_sigterm),
        ("a_restart_drops_every_task_and_starts_every_worker_afresh", restart),
        ("adapt_adds_workers_while_work_queues_and_retires_them_when_idle", adaptive),
    ];
    common::run_tests(tests);
}

/// `(blob, n, tag)`: a string of `n` bytes (`tag` makes each call its own task).
fn blob(args: &[Value]) -> Result<Value, TaskError> {
    Ok(Value::str(&"x".repeat(args[0].as_int().unwrap_or(0) as usize)))
}
register!("blob", Arity::Exact(2), blob);

/// Calls of `calls` in this process so far: 1 on a fresh process.
fn calls(_: &[Value]) -> Result<Value, TaskError> {
    static CALLS: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);
    Ok(Value::Int(CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1))
}
register!("calls", Arity::Exact(1), calls);

fn pid(_: &[Value]) -> Result<Value, TaskError> {
    Ok(Value::Int(std::process::id() as i64))
}
register!("pid", Arity::Exact(0), pid);

fn eventually(what: &str, f: impl FnMut() -> bool) {
    common::eventually(what, Duration::from_secs(20), f)
}

fn addresses(client: &Client) -> Vec<String> {
    client.has_what().unwrap().into_iter().map(|(addr, _)| addr).collect()
}

/// `n` results made on the worker at `addr`.
fn made_on(client: &Client, addr: &str, n: usize) -> Vec<Future> {
    let there = Annotations::new().workers([addr.to_owned()]);
    let futures: Vec<Future> =
        (0..n).map(|i| client.submit_with("blob", [Arg::from(20_000), Arg::from(i as i64)], &there).unwrap()).collect();
    client.wait(&futures).unwrap();
    futures
}

fn retire_by_client() {
    let cluster = LocalCluster::new(3, 1).unwrap();
    let client = cluster.client().unwrap();
    let workers = addresses(&client);
    let leaving = workers[0].clone();
    let held = made_on(&client, &leaving, 12);
    let elsewhere = made_on(&client, &workers[1], 4);
    // A task still running on it when it is retired finishes there first.
    let there = Annotations::new().workers([leaving.clone()]);
    let running = client.submit_with("sleep", [Arg::from(0.5), Arg::from(7)], &there).unwrap();
    std::thread::sleep(Duration::from_millis(100));

    let retired = client.retire_workers(std::slice::from_ref(&leaving)).unwrap();
    assert_eq!(retired, vec![leaving.clone()]);
    assert!(running.done(), "its running task finished before it left");
    assert_eq!(running.result().unwrap(), Value::Int(7));
    let placement = client.has_what().unwrap();
    assert!(placement.iter().all(|(addr, _)| *addr != leaving), "{placement:?}");
    let holders = client.who_has(&held).unwrap();
    assert!(holders.iter().all(|(_, h)| h.len() == 1 && h[0] != leaving), "moved to the others: {holders:?}");
    let values = client.gather(&held).unwrap();
    assert!(values.iter().all(|v| *v == Value::str(&"x".repeat(20_000))));
    assert_eq!(client.gather(&elsewhere).unwrap().len(), 4);
    let stats = client.stats().unwrap();
    assert_eq!((stats.workers, stats.workers_retired, stats.workers_lost), (2, 1, 0), "{stats:?}");
    assert_eq!(stats.tasks_recomputed, 0, "handed over, not recomputed");
    // Work goes on, on the workers left; the last ones cannot all go.
    let more = client.map("inc", (0..20).map(Value::Int)).unwrap();
    assert_eq!(client.gather(&more).unwrap().len(), 20);
    let refused = client.retire_workers(&addresses(&client)).unwrap_err().to_string();
    assert!(refused.contains("no worker"), "{refused}");
    assert_eq!(client.stats().unwrap().workers, 2);
}

fn retire_by_sigterm() {
    let cluster = LocalCluster::new(2, 1).unwrap();
    let client = cluster.client().unwrap();
    let workers = addresses(&client);
    // Which process serves which address.
    let pid_of = |addr: &str| {
        let there = Annotations::new().workers([addr.to_owned()]);
        client.submit_with("pid", [], &there).unwrap().result().unwrap().as_int().unwrap()
    };
    let (leaving, staying) = (workers[0].clone(), workers[1].clone());
    let leaving_pid = pid_of(&leaving);
    assert!(cluster.worker_pids().contains(&(leaving_pid as u32)));
    let held = made_on(&client, &leaving, 8);
    // SAFETY: a plain signal to a worker process this test started.
    unsafe { libc::kill(leaving_pid as i32, libc::SIGTERM) };
    eventually("the worker has retired", || client.stats().unwrap().workers_retired == 1);
    let holders = client.who_has(&held).unwrap();
    assert!(holders.iter().all(|(_, h)| *h == vec![staying.clone()]), "{holders:?}");
    assert!(client.gather(&held).unwrap().iter().all(|v| *v == Value::str(&"x".repeat(20_000))));
    let stats = client.stats().unwrap();
    assert_eq!((stats.workers, stats.workers_lost, stats.tasks_recomputed), (1, 0, 0), "{stats:?}");
    // The process is gone (or a zombie awaiting its parent): it exited on its own.
    eventually("the process exited", || {
        std::fs::read_to_string(format!("/proc/{leaving_pid}/stat"))
            .map_or(true, |s| s.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z')))
    });
}

fn restart() {
    let cluster = LocalCluster::new(2, 1).unwrap();
    let client = cluster.client().unwrap();
    let other = cluster.client().unwrap();
    let pids = cluster.worker_pids();
    // Each worker process has run `calls` a few times.
    for addr in addresses(&client) {
        let there = Annotations::new().workers([addr]);
        for i in 0..3 {
            client.submit_with("calls", [Arg::from(i)], &there).unwrap().result().unwrap();
        }
    }
    let held = made_on(&client, &addresses(&client)[0], 3);
    let others = other.map("inc", (0..5).map(Value::Int)).unwrap();
    other.wait(&others).unwrap();
    let slow = client.submit("sleep", [Arg::from(30.0)]).unwrap();

    let started = Instant::now();
    client.restart().unwrap();
    println!("restart took {:?}", started.elapsed());
    // Every future of every client errs, saying why; the scheduler knows no task.
    for f in held.iter().chain(&others).chain([&slow]) {
        let e = f.result().unwrap_err().to_string();
        assert!(e.contains("restarted"), "{e}");
    }
    let stats = client.stats().unwrap();
    assert_eq!((stats.workers, stats.tasks_known, stats.restarts), (2, 0, 1), "{stats:?}");
    // The same processes, started afresh: `calls` counts from 1 again on each.
    assert_eq!(cluster.worker_pids(), pids);
    for addr in addresses(&client) {
        let there = Annotations::new().workers([addr]);
        assert_eq!(client.submit_with("calls", [Arg::from(9)], &there).unwrap().result().unwrap(), Value::Int(1));
    }
    assert_eq!(other.gather(&other.map("inc", [Value::Int(1)]).unwrap()).unwrap(), vec![Value::Int(2)]);
}

fn adaptive() {
    let cluster = LocalCluster::new(1, 1).unwrap();
    let client = cluster.client().unwrap();
    let adaptive = cluster.adapt(1, 3).unwrap();
    // 40 naps of 0.1 s: four seconds for one worker, so more are wanted.
    let naps = client.map("sleep", std::iter::repeat_n(Value::Float(0.1), 40)).unwrap();
    let started = Instant::now();
    eventually("it scales up to three workers", || client.stats().unwrap().workers == 3);
    println!("three workers after {:?}", started.elapsed());
    client.wait(&naps).unwrap();
    let kept: Vec<Future> = (0..6).map(|i| client.submit("blob", [Arg::from(10_000), Arg::from(i)]).unwrap()).collect();
    client.wait(&kept).unwrap();
    // Idle for the cool-down: back to the minimum, the results handed over, not recomputed.
    eventually("it scales back down to one worker", || client.stats().unwrap().workers == 1);
    println!("one worker again after {:?}", started.elapsed());
    assert!(client.gather(&kept).unwrap().iter().all(|v| *v == Value::str(&"x".repeat(10_000))));
    let stats = client.stats().unwrap();
    assert_eq!((stats.workers_retired, stats.workers_lost, stats.tasks_recomputed), (2, 0, 0), "{stats:?}");
    let history = adaptive.history();
    assert!(matches!(history.first(), Some(Scaled::Up { .. })), "{history:?}");
    assert!(history.iter().any(|s| matches!(s, Scaled::Down { retired, .. } if !retired.is_empty())), "{history:?}");
    eventually("the retired processes are gone", || cluster.worker_pids().len() == 1);
    drop(adaptive);
}
