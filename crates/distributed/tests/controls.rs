//! Cluster controls on a real `LocalCluster` (worker processes on loopback): retries,
//! priorities, resources, worker restrictions, annotated graphs, tasks that submit tasks,
//! coordination primitives, data placement.
//!
//! Own `main` (`harness = false`): the cluster's workers are this binary, re-executed.

#[path = "../../exec/tests/common/mod.rs"]
mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rask_distributed::{
    Arg, AsyncClient, Client, DistError, Event, Future, LocalCluster, Lock, Queue, Semaphore, Topic, Variable,
};
use rask_exec::ExecError;
use rask_graph::{graph_from_json, register, Annotations, Arity, Expr, Graph, Key, TaskError, Value};

fn main() {
    rask_distributed::worker_main_if_requested();
    let tests: &[(&str, fn())] = &[
        ("a_flaky_task_is_retried_and_a_hopeless_one_reports_every_attempt", retries),
        ("urgent_tasks_jump_the_queue_and_ties_keep_the_graph_order", priorities),
        ("resources_limit_where_and_how_many_tasks_run_and_missing_ones_wait", resources),
        ("restrictions_pin_tasks_to_workers_or_only_prefer_them", restrictions),
        ("annotated_graphs_from_rust_and_json_carry_their_hints", annotated_graphs),
        ("tasks_that_submit_tasks_recurse_twenty_deep_on_two_one_thread_workers", recursive_fibonacci),
        ("fire_and_forget_runs_to_the_end_with_no_future_held", fire_and_forget),
        ("queues_and_variables_shared_by_racing_clients_lose_and_duplicate_nothing", queues_and_variables),
        ("locks_and_semaphores_exclude_and_a_dead_holder_s_lease_is_freed", locks_and_semaphores),
        ("events_and_topics_wake_every_waiter_and_leave_nothing_behind", events_and_topics),
        ("scattered_data_is_shared_replicated_rebalanced_and_released", data_placement),
        ("the_async_client_awaits_on_a_bare_single_threaded_executor", async_client),
    ];
    common::run_tests(tests);
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rask-controls-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn text(v: &Value) -> Result<&str, TaskError> {
    match v {
        Value::Str(s) => Ok(s),
        other => Err(TaskError::new("TypeError", format!("expected a path, got {other}"))),
    }
}

/// Appends a byte to the file at `path`: the number of calls so far, across processes.
fn count_call(path: &Path) -> usize {
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap();
    f.write_all(b"x").unwrap();
    drop(f);
    std::fs::metadata(path).unwrap().len() as usize
}

/// `(flaky, path, n)`: fails its first `n - 1` calls (counted in the file), then returns the
/// number of calls.
fn flaky(args: &[Value]) -> Result<Value, TaskError> {
    let calls = count_call(Path::new(text(&args[0])?));
    let n = args[1].as_int().unwrap_or(0) as usize;
    if calls < n {
        return Err(TaskError::new("ConnectionError", format!("flaky input, call {calls}")));
    }
    Ok(Value::Int(calls as i64))
}
register!("flaky", Arity::Exact(2), flaky);

/// `(record, path, tag)`: appends `tag` as a line of the file, returns it.
fn record(args: &[Value]) -> Result<Value, TaskError> {
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(text(&args[0])?).unwrap();
    writeln!(f, "{}", args[1]).unwrap();
    Ok(args[1].clone())
}
register!("record", Arity::Exact(2), record);

/// `(record_then_nap, path, tag, seconds)`: `record`, then a nap.
fn record_then_nap(args: &[Value]) -> Result<Value, TaskError> {
    let out = record(&args[..2])?;
    std::thread::sleep(Duration::from_secs_f64(args[2].as_float().unwrap_or(0.0)));
    Ok(out)
}
register!("record_then_nap", Arity::Exact(3), record_then_nap);

/// `(occupy, dir, seconds)`: holds a file in `dir` for `seconds`; returns how many were there
/// at once (itself included) and this process's id.
fn occupy(args: &[Value]) -> Result<Value, TaskError> {
    let dir = Path::new(text(&args[0])?);
    let me = dir.join(format!("{}-{:?}", std::process::id(), std::thread::current().id()));
    std::fs::write(&me, b"").unwrap();
    let seconds = args[1].as_float().unwrap_or(0.1);
    let mut most = 0;
    let until = Instant::now() + Duration::from_secs_f64(seconds);
    while Instant::now() < until {
        most = most.max(std::fs::read_dir(dir).unwrap().count());
        std::thread::sleep(Duration::from_millis(5));
    }
    std::fs::remove_file(&me).unwrap();
    Ok(Value::tuple([Value::Int(most as i64), Value::Int(std::process::id() as i64)]))
}
register!("occupy", Arity::Exact(2), occupy);

fn pid(_: &[Value]) -> Result<Value, TaskError> {
    Ok(Value::Int(std::process::id() as i64))
}
register!("pid", Arity::Exact(0), pid);

fn ints(v: &Value) -> Vec<i64> {
    match v {
        Value::Tuple(items) | Value::List(items) => items.iter().filter_map(Value::as_int).collect(),
        other => panic!("expected a tuple, got {other}"),
    }
}

fn eventually(what: &str, f: impl FnMut() -> bool) {
    common::eventually(what, Duration::from_secs(10), f)
}

fn retries() {
    let cluster = LocalCluster::new(2, 1).unwrap();
    let client = cluster.client().unwrap();
    let dir = scratch("retries");
    let path = |name: &str| Value::str(dir.join(name).to_str().unwrap());
    // Fails twice, succeeds on the third run: retries(3) is enough.
    let ok = client.submit_with("flaky", [Arg::from(path("a")), Arg::from(3)], &Annotations::new().retries(3)).unwrap();
    assert_eq!(ok.result().unwrap(), Value::Int(3));
    assert_eq!(client.stats().unwrap().tasks_retried, 2);
    // Needs five runs, may have two: the error has every attempt.
    let hopeless =
        client.submit_with("flaky", [Arg::from(path("b")), Arg::from(5)], &Annotations::new().retries(1)).unwrap();
    match hopeless.result() {
        Err(DistError::Exec(ExecError::Retried { last, earlier })) => {
            assert_eq!(earlier.len(), 1);
            assert!(earlier[0].contains("flaky input, call 1") && earlier[0].contains("`flaky`"), "{earlier:?}");
            let last = last.to_string();
            assert!(last.contains("call 2") && last.contains("ConnectionError"), "{last}");
        }
        other => panic!("expected a retried error, got {other:?}"),
    }
    let message = client.submit_with("flaky", [Arg::from(path("c")), Arg::from(9)], &Annotations::new().retries(2));
    let message = message.unwrap().result().unwrap_err().to_string();
    assert!(
        message.contains("failed 3 times") && message.contains("call 1") && message.contains("call 3"),
        "{message}"
    );
    // Without retries, one run.
    let once = client.submit("flaky", [Arg::from(path("d")), Arg::from(2)]).unwrap();
    assert!(matches!(once.result(), Err(DistError::Exec(ExecError::Task { .. }))));
    assert_eq!(std::fs::metadata(dir.join("d")).unwrap().len(), 1);
}

fn priorities() {
    let cluster = LocalCluster::new(1, 1).unwrap();
    let client = cluster.client().unwrap();
    let dir = scratch("priorities");
    let log = Value::str(dir.join("log").to_str().unwrap());
    // The one thread is busy while 60 ordinary tasks queue (on the worker and the scheduler),
    // then one urgent task arrives.
    let blocker = client.submit("sleep", [Arg::from(0.5), Arg::from(0)]).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let ordinary: Vec<_> = (0..60)
        .map(|i| {
            let args = [Arg::from(log.clone()), Arg::from(format!("low-{i}")), Arg::from(0.01)];
            client.submit("record_then_nap", args).unwrap()
        })
        .collect();
    let urgent = client
        .submit_with("record", [Arg::from(log.clone()), Arg::from("urgent")], &Annotations::new().priority(10))
        .unwrap();
    client.wait(&ordinary).unwrap();
    urgent.result().unwrap();
    blocker.result().unwrap();
    let lines: Vec<String> = std::fs::read_to_string(dir.join("log")).unwrap().lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 61);
    // The worker's one thread may have started an ordinary task before the urgent one arrived.
    let at = lines.iter().position(|l| l == "'urgent'").unwrap();
    assert!(at <= 1, "the urgent task ran first: {lines:?}");
    let lows: Vec<&String> = lines.iter().filter(|l| *l != "'urgent'").collect();
    let expected: Vec<String> = (0..60).map(|i| format!("'low-{i}'")).collect();
    assert_eq!(lows, expected.iter().collect::<Vec<_>>(), "equal priorities keep submission order");
}

fn resources() {
    let mut cluster = LocalCluster::new(1, 2).unwrap();
    let client = cluster.client().unwrap();
    let dir = scratch("resources");
    let gpu = Annotations::new().resource("GPU", 1.0);
    let job = |i: i64| [Arg::from(Value::str(dir.to_str().unwrap())), Arg::from(0.15 + i as f64 * 0.0)];
    // No worker has a GPU: the tasks wait, counted, instead of failing.
    let futures: Vec<_> = (0..4).map(|i| client.submit_with("occupy", job(i), &gpu).unwrap()).collect();
    eventually("the GPU tasks are counted as waiting for a worker", || client.stats().unwrap().tasks_no_worker == 4);
    std::thread::sleep(Duration::from_millis(300));
    assert!(futures.iter().all(|f| !f.done()), "nothing ran without a GPU worker");
    // A worker with one GPU joins: they all run there, one at a time, though it has 2 threads.
    cluster.add_worker_with(0, &[("GPU", 1.0)]).unwrap();
    cluster.wait_for_workers(2).unwrap();
    let stats = client.stats().unwrap();
    let gpu_worker = stats.worker_status.iter().find(|w| !w.resources.is_empty()).unwrap().clone();
    assert_eq!(gpu_worker.resources, vec![("GPU".to_owned(), 1.0)]);
    let results: Vec<Vec<i64>> = client.gather(&futures).unwrap().iter().map(ints).collect();
    let gpu_pid = *cluster.worker_pids().last().unwrap() as i64;
    for r in &results {
        assert_eq!(r[0], 1, "never two GPU tasks at once: {results:?}");
        assert_eq!(r[1], gpu_pid, "GPU tasks ran only on the GPU worker: {results:?}");
    }
    assert_eq!(client.stats().unwrap().tasks_no_worker, 0);
    // Ordinary tasks still use both workers; GPU=2 on a 1-GPU worker never runs.
    let plain = client.map("pid", (0..0).map(Value::Int)).unwrap();
    assert!(plain.is_empty());
    let too_big = client.submit_with("pid", [], &Annotations::new().resource("GPU", 2.0)).unwrap();
    eventually("the GPU=2 task waits for a worker", || client.stats().unwrap().tasks_no_worker == 1);
    drop(too_big);
    eventually("a released waiting task is forgotten", || client.stats().unwrap().tasks_no_worker == 0);
    let free = client.stats().unwrap().worker_status.iter().find(|w| !w.resources.is_empty()).unwrap().clone();
    assert_eq!(free.resources_free, vec![1.0], "every GPU given back");
}

fn restrictions() {
    let cluster = LocalCluster::new(2, 1).unwrap();
    let client = cluster.client().unwrap();
    let stats = client.stats().unwrap();
    let (a, b) = (stats.worker_status[0].addr.clone(), stats.worker_status[1].addr.clone());
    let pids_of = |hints: &Annotations| -> Vec<i64> {
        let futures: Vec<_> = (0..12).map(|_| client.submit_with("pid", [], hints).unwrap()).collect();
        client.gather(&futures).unwrap().iter().filter_map(Value::as_int).collect()
    };
    let on_a = pids_of(&Annotations::new().workers([a.clone()]));
    assert!(on_a.windows(2).all(|w| w[0] == w[1]), "all on one worker: {on_a:?}");
    let on_b = pids_of(&Annotations::new().workers([b.clone()]));
    assert!(on_b.windows(2).all(|w| w[0] == w[1]) && on_a[0] != on_b[0], "{on_a:?} {on_b:?}");
    // A host names every worker on it.
    let host = a.rsplit_once(':').unwrap().0.to_owned();
    assert_eq!(pids_of(&Annotations::new().workers([host])).len(), 12);
    // A worker that does not exist: strict waits, loose runs elsewhere.
    let nowhere = Annotations::new().workers(["10.255.255.1:1"]);
    let strict = client.submit_with("pid", [], &nowhere).unwrap();
    eventually("the strictly restricted task waits", || client.stats().unwrap().tasks_no_worker == 1);
    let loose = client.submit_with("pid", [], &nowhere.clone().allow_other_workers(true)).unwrap();
    assert!(loose.result().is_ok());
    assert!(!strict.done());
}

fn annotated_graphs() {
    let cluster = LocalCluster::new(1, 1).unwrap();
    let client = cluster.client().unwrap();
    let dir = scratch("annotated");
    let counter = Value::str(dir.join("n").to_str().unwrap());
    let mut graph = Graph::new();
    graph.insert("x", Expr::call("inc", [Expr::from(1)]));
    graph.annotate(Annotations::new().retries(4), |g| {
        g.insert("y", Expr::call("flaky", [Expr::from(counter.clone()), Expr::key("x")]));
    });
    // y fails once (x = 2 calls needed), is retried, and its result flows on.
    let out = client.compute(&graph, &[Key::from("y")]).unwrap();
    assert_eq!(out, vec![Value::Int(2)]);
    // compute_with: the hints reach tasks with none of their own.
    let counter2 = dir.join("m");
    let mut plain = Graph::new();
    plain.insert("z", Expr::call("flaky", [Expr::from(Value::str(counter2.to_str().unwrap())), Expr::from(3)]));
    let out = client.compute_with(&plain, &[Key::from("z")], &Annotations::new().retries(2)).unwrap();
    assert_eq!(out, vec![Value::Int(3)]);
    // The JSON form's annotations field.
    let src = format!(
        r#"{{"w": {{"task": "flaky", "args": ["{}", 2], "annotations": {{"retries": 1, "priority": 5}}}}}}"#,
        dir.join("j").display()
    );
    let json = graph_from_json(&src).unwrap();
    assert_eq!(client.compute(&json, &[Key::from("w")]).unwrap(), vec![Value::Int(2)]);
}

fn failed(e: DistError) -> TaskError {
    TaskError::new("RuntimeError", e.to_string())
}

/// `(fib, n)`, by submitting `fib(n - 1)` and `fib(n - 2)` from inside the task under shared
/// keys (`fib-M`), so each subproblem runs once however many tasks ask for it.
fn fib(args: &[Value]) -> Result<Value, TaskError> {
    let n = args[0].as_int().unwrap_or(0);
    if n < 2 {
        return Ok(Value::Int(n));
    }
    let client = rask_distributed::worker_client().map_err(failed)?;
    let sub = |m: i64| client.submit_as(Key::str(&format!("fib-{m}")), "fib", [Arg::from(m)], &Annotations::new());
    let futures = [sub(n - 1).map_err(failed)?, sub(n - 2).map_err(failed)?];
    let values = client.gather(&futures).map_err(failed)?;
    Ok(Value::Int(values.iter().filter_map(Value::as_int).sum()))
}
register!("fib", Arity::Exact(1), fib);

fn recursive_fibonacci() {
    let cluster = LocalCluster::new(2, 1).unwrap();
    let client = cluster.client().unwrap();
    // Every level waits on the next: without seceding, two threads would deadlock at once.
    let top = client.submit_as(Key::str("fib-20"), "fib", [Arg::from(20)], &Annotations::new()).unwrap();
    assert_eq!(top.result().unwrap(), Value::Int(6765));
    // Outside a task there is no worker client.
    let outside = rask_distributed::worker_client().err().expect("no worker here").to_string();
    assert!(outside.contains("inside a task"), "{outside}");
    // Seceded threads rejoined: the workers still run ordinary work on their threads.
    let plain = client.map("inc", (0..50).map(Value::Int)).unwrap();
    assert_eq!(client.gather(&plain).unwrap().len(), 50);
}

fn fire_and_forget() {
    // One worker with one SLOT: while `slow` holds it, the other two wait on the scheduler.
    let mut cluster = LocalCluster::new(0, 1).unwrap();
    cluster.add_worker_with(0, &[("SLOT", 1.0)]).unwrap();
    cluster.wait_for_workers(1).unwrap();
    let client = cluster.client().unwrap();
    let dir = scratch("fire");
    let log = Value::str(dir.join("log").to_str().unwrap());
    let slot = Annotations::new().resource("SLOT", 1.0);
    let args = |tag: &str, nap: f64| [Arg::from(log.clone()), Arg::from(tag), Arg::from(nap)];
    let slow = client.submit_with("record_then_nap", args("slow", 0.3), &slot).unwrap();
    let fired = client.submit_with("record_then_nap", args("fired", 0.0), &slot).unwrap();
    let dropped = client.submit_with("record_then_nap", args("dropped", 0.0), &slot).unwrap();
    client.fire_and_forget(std::slice::from_ref(&fired));
    drop((fired, dropped));
    slow.result().unwrap();
    eventually("the fired task ran", || std::fs::read_to_string(dir.join("log")).unwrap().contains("fired"));
    drop(slow);
    eventually("everything is forgotten", || client.stats().unwrap().tasks_known == 0);
    let log = std::fs::read_to_string(dir.join("log")).unwrap();
    assert!(!log.contains("dropped"), "a released task that had not started never runs: {log}");
}

fn secs(s: f64) -> Option<Duration> {
    Some(Duration::from_secs_f64(s))
}

fn queues_and_variables() {
    let cluster = LocalCluster::new(1, 1).unwrap();
    let observer = cluster.client().unwrap();
    let (producers, consumers, each) = (3, 3, 40);
    let mut got: Vec<i64> = std::thread::scope(|s| {
        for p in 0..producers {
            let client = cluster.client().unwrap();
            s.spawn(move || {
                // Bounded: producers wait for the consumers to make room.
                let q = Queue::bounded(&client, "work", 5);
                for i in 0..each {
                    q.put(Value::Int(p * 1000 + i), secs(10.0)).unwrap();
                }
            });
        }
        let handles: Vec<_> = (0..consumers)
            .map(|_| {
                let client = cluster.client().unwrap();
                s.spawn(move || {
                    let q = Queue::new(&client, "work");
                    let mut mine = Vec::new();
                    for _ in 0..each {
                        mine.push(q.get(secs(10.0)).unwrap().into_value().unwrap().as_int().unwrap());
                    }
                    mine
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    got.sort();
    let mut want: Vec<i64> = (0..producers).flat_map(|p| (0..each).map(move |i| p * 1000 + i)).collect();
    want.sort();
    assert_eq!(got, want, "every item exactly once");
    // An empty queue's get times out, and the withdrawn get does not swallow a later put.
    let q = Queue::new(&observer, "work");
    let started = Instant::now();
    assert!(matches!(q.get(secs(0.2)), Err(DistError::TimedOut(_))));
    assert!(started.elapsed() >= Duration::from_millis(200));
    q.put(Value::Int(5), None).unwrap();
    assert_eq!(q.len().unwrap(), 1);
    assert_eq!(q.get(None).unwrap().into_value(), Some(Value::Int(5)));
    // A variable holds a future whose maker let go of it: another client gathers it.
    {
        let maker = cluster.client().unwrap();
        let f = maker.submit("inc", [Arg::from(41)]).unwrap();
        Variable::new(&maker, "answer").set(&f).unwrap();
        let taker = cluster.client().unwrap();
        drop(f);
        let got = Variable::new(&taker, "answer").get(secs(5.0)).unwrap().into_future().unwrap();
        assert_eq!(got.result().unwrap(), Value::Int(42));
        // A queue hands a future over, and a variable waits until it is set.
        let queue = Queue::new(&maker, "futures");
        queue.put(&maker.submit("inc", [Arg::from(1)]).unwrap(), None).unwrap();
        let f = Queue::new(&taker, "futures").get(None).unwrap().into_future().unwrap();
        assert_eq!(f.result().unwrap(), Value::Int(2));
        let late = Variable::new(&taker, "late");
        let setter = std::thread::spawn({
            let maker = maker.clone();
            move || {
                std::thread::sleep(Duration::from_millis(100));
                Variable::new(&maker, "late").set(Value::str("now")).unwrap();
            }
        });
        assert_eq!(late.get(secs(5.0)).unwrap().into_value(), Some(Value::str("now")));
        setter.join().unwrap();
        assert!(matches!(Variable::new(&taker, "never").get(secs(0.1)), Err(DistError::TimedOut(_))));
    }
    // Every client that used them is gone: nothing is left on the scheduler.
    drop(q);
    observer.close();
    let last = cluster.client().unwrap();
    eventually("every structure and held future is gone", || {
        let s = last.stats().unwrap();
        s.coordination == 0 && s.tasks_known == 0
    });
}

fn counter_bump(client: &Client, lock: &Lock) {
    let _held = lock.acquire(secs(20.0)).unwrap().expect("the lock within 20 s");
    let v = Variable::new(client, "counter");
    let n = v.get(None).unwrap().into_value().unwrap().as_int().unwrap();
    std::thread::sleep(Duration::from_millis(1));
    v.set(Value::Int(n + 1)).unwrap();
}

/// `(guarded_occupy, dir)`: `occupy` for 0.1 s while holding a lease of the 2-lease
/// semaphore "gpu", taken through the task's worker client.
fn guarded_occupy(args: &[Value]) -> Result<Value, TaskError> {
    let client = rask_distributed::worker_client().map_err(failed)?;
    let _lease = Semaphore::new(&client, "gpu", 2).acquire(None).map_err(failed)?;
    occupy(&[args[0].clone(), Value::Float(0.1)])
}
register!("guarded_occupy", Arity::Exact(1), guarded_occupy);

fn locks_and_semaphores() {
    let cluster = LocalCluster::new(2, 2).unwrap();
    let first = cluster.client().unwrap();
    Variable::new(&first, "counter").set(Value::Int(0)).unwrap();
    // Four clients read-modify-write one variable under one lock: no update is lost.
    std::thread::scope(|s| {
        for _ in 0..4 {
            let client = cluster.client().unwrap();
            s.spawn(move || {
                let lock = Lock::new(&client, "counter-lock");
                for _ in 0..15 {
                    counter_bump(&client, &lock);
                }
            });
        }
    });
    let total = Variable::new(&first, "counter").get(None).unwrap().into_value();
    assert_eq!(total, Some(Value::Int(60)));
    // A holder that dies without releasing: its lease is freed when its connection goes.
    let doomed = cluster.client().unwrap();
    let lease = Lock::new(&doomed, "l").acquire(None).unwrap().unwrap();
    assert!(Lock::new(&first, "l").acquire(secs(0.2)).unwrap().is_none(), "held elsewhere");
    std::mem::forget(lease);
    doomed.close();
    assert!(Lock::new(&first, "l").acquire(secs(5.0)).unwrap().is_some(), "freed with its holder");
    // Tasks on 4 threads share a 2-lease semaphore: never more than 2 inside.
    let dir = scratch("semaphore");
    let futures: Vec<_> = (0..8)
        .map(|_| first.submit("guarded_occupy", [Arg::from(Value::str(dir.to_str().unwrap()))]).unwrap())
        .collect();
    let most = first.gather(&futures).unwrap().iter().map(|v| ints(v)[0]).max().unwrap();
    assert!(most <= 2, "at most two leases at once: {most}");
}

fn events_and_topics() {
    let cluster = LocalCluster::new(1, 1).unwrap();
    let client = cluster.client().unwrap();
    let start = Event::new(&client, "go");
    assert!(!start.is_set().unwrap());
    assert!(!start.wait(secs(0.1)).unwrap(), "times out while clear");
    let woken: Vec<bool> = std::thread::scope(|s| {
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let c = cluster.client().unwrap();
                s.spawn(move || Event::new(&c, "go").wait(secs(10.0)).unwrap())
            })
            .collect();
        std::thread::sleep(Duration::from_millis(100));
        start.set().unwrap();
        waiters.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(woken, vec![true; 3]);
    start.clear().unwrap();
    assert!(!start.is_set().unwrap());
    // Pub/sub: each subscriber gets what was published after it subscribed, in order.
    let topic = Topic::new(&client, "news");
    assert_eq!(topic.publish(0).unwrap(), 0, "nobody listening yet");
    let other = cluster.client().unwrap();
    let (a, b) = (topic.subscribe().unwrap(), Topic::new(&other, "news").subscribe().unwrap());
    for i in 1..=3 {
        assert_eq!(topic.publish(i).unwrap(), 2);
    }
    for sub in [&a, &b] {
        let got: Vec<Value> = (0..3).map(|_| sub.next(secs(5.0)).unwrap().unwrap()).collect();
        assert_eq!(got, vec![Value::Int(1), Value::Int(2), Value::Int(3)]);
    }
    assert_eq!(a.next(secs(0.1)).unwrap(), None);
    drop((a, b));
    // Dropping sends the unsubscribe without waiting (a drop may not block), so the other
    // client's may land a moment later.
    eventually("dropped subscriptions unsubscribe", || topic.publish(4).unwrap() == 0);
    drop((topic, start));
    client.close();
    other.close();
    let last = cluster.client().unwrap();
    eventually("nothing is left", || last.stats().unwrap().coordination == 0);
}

/// `(blob, n)`: a string of `n` bytes.
fn blob(args: &[Value]) -> Result<Value, TaskError> {
    Ok(Value::str(&"x".repeat(args[0].as_int().unwrap_or(0) as usize)))
}
register!("blob", Arity::Exact(1), blob);

/// `(size, s)`: the length of string `s`, read on whichever worker runs it.
fn size(args: &[Value]) -> Result<Value, TaskError> {
    Ok(Value::Int(text(&args[0])?.len() as i64))
}
register!("size", Arity::Exact(1), size);

fn holders(client: &Client, f: &rask_distributed::Future) -> usize {
    client.who_has(std::slice::from_ref(f)).unwrap()[0].1.len()
}

fn data_placement() {
    let cluster = LocalCluster::new(3, 1).unwrap();
    let client = cluster.client().unwrap();
    let workers: Vec<String> = client.has_what().unwrap().into_iter().map(|(addr, _)| addr).collect();
    assert_eq!(workers.len(), 3);

    // Scattered once, used by many tasks; each value on one worker, spread over all three.
    let values = (1..=3).map(|n| Value::str(&"s".repeat(n * 10_000)));
    let scattered = client.scatter(values, false).unwrap();
    assert!(scattered.iter().all(|f| holders(&client, f) == 1));
    let spread = client.has_what().unwrap();
    assert!(spread.iter().all(|(_, keys)| keys.len() == 1), "one value per worker: {spread:?}");
    let sizes: Vec<Future> =
        scattered.iter().cycle().take(9).map(|f| client.submit("size", [Arg::from(f)]).unwrap()).collect();
    let got: Vec<i64> = client.gather(&sizes).unwrap().iter().filter_map(Value::as_int).collect();
    assert_eq!(got, [10_000, 20_000, 30_000].repeat(3));
    assert_eq!(client.gather(&scattered[..1]).unwrap()[0], Value::str(&"s".repeat(10_000)));

    // Broadcast: on every worker; replicate: on as many as asked.
    let everywhere = client.scatter([Value::str(&"b".repeat(5_000))], true).unwrap();
    eventually("the broadcast lands everywhere", || holders(&client, &everywhere[0]) == 3);
    let placed = client.replicate(&scattered[..1], 2).unwrap();
    assert_eq!(placed[0].1.len(), 2, "two holders after replicate: {placed:?}");
    assert_eq!(holders(&client, &scattered[0]), 2);

    // Rebalance: six results made on the first worker move until the load is even.
    let first = Annotations::new().workers([workers[0].clone()]);
    let heavy: Vec<Future> = (0..6).map(|_| client.submit_with("blob", [Arg::from(50_000)], &first).unwrap()).collect();
    client.wait(&heavy).unwrap();
    let before = client.has_what().unwrap();
    let on_first = |placement: &[(String, Vec<Key>)]| {
        let held = &placement.iter().find(|(a, _)| *a == workers[0]).unwrap().1;
        heavy.iter().filter(|f| held.contains(f.key())).count()
    };
    assert_eq!(on_first(&before), 6);
    let after = client.rebalance().unwrap();
    assert!((1..=3).contains(&on_first(&after)), "moved off the first worker: {after:?}");
    for (_, keys) in &after {
        assert!(heavy.iter().any(|f| keys.contains(f.key())), "every worker got some: {after:?}");
    }
    assert!(heavy.iter().all(|f| holders(&client, f) == 1), "moved, not copied");
    let blobs = client.gather(&heavy).unwrap();
    assert!(blobs.iter().all(|b| *b == Value::str(&"x".repeat(50_000))));

    // Nothing stays once the futures go.
    drop((scattered, everywhere, sizes, heavy));
    eventually("every worker is empty", || client.has_what().unwrap().iter().all(|(_, keys)| keys.is_empty()));
    eventually("the scheduler forgot it all", || client.stats().unwrap().tasks_known == 0);
}

/// On a current-thread runtime with neither timers nor sockets: a call that blocked its thread
/// would deadlock the other branch of a `join!`, and one needing the caller's timer would
/// panic. Everything here must come from the client's own runtime.
fn async_client() {
    let cluster = LocalCluster::new(2, 1).unwrap();
    let addr = cluster.address();
    let bare = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let outcome = bare.block_on(async move {
        let client = AsyncClient::connect(&addr).await.unwrap();
        let x = client.submit("inc", [Arg::from(1)]).unwrap();
        let y = client.submit("inc", [Arg::from(&x)]).unwrap();
        assert_eq!((&x).await.unwrap(), Value::Int(2));
        assert_eq!(y.await.unwrap(), Value::Int(3));

        // as_completed as a Stream: every future once, each done when handed out.
        let many = client.map("inc", (0..20).map(Value::Int)).unwrap();
        let mut stream = client.as_completed(many.clone());
        let mut seen = Vec::new();
        while let Some(f) = stream.next().await {
            assert!(f.done());
            seen.push(f.key().clone());
        }
        assert_eq!(seen.len(), 20);
        let values = client.gather(&many).await.unwrap();
        assert_eq!(values, (1..=20).map(Value::Int).collect::<Vec<_>>());

        // The same typed error as the blocking client's.
        let dir = scratch("async");
        let path = Value::str(dir.join("calls").to_str().unwrap());
        let failing = client.submit("flaky", [Arg::from(path), Arg::from(5)]).unwrap();
        let awaited = (&failing).await.unwrap_err();
        assert!(matches!(awaited, DistError::Exec(ExecError::Task { .. })), "{awaited:?}");
        assert!(awaited.to_string().contains(&failing.key().to_string()), "names the key: {awaited}");

        // Data placement and stats.
        let scattered = client.scatter([Value::str("shared")], true).await.unwrap();
        let sized = client.submit("size", [Arg::from(&scattered[0])]).unwrap();
        assert_eq!(sized.await.unwrap(), Value::Int(6));
        assert!(!client.who_has(&scattered).await.unwrap()[0].1.is_empty());
        assert_eq!(client.has_what().await.unwrap().len(), 2);
        assert_eq!(client.stats().await.unwrap().workers, 2);

        // A get that waits while a put, on the same thread, feeds it.
        let queue = Queue::new(&client, "async-jobs");
        let (got, put) = tokio::join!(queue.get_async(None), queue.put_async(Value::Int(7), None));
        put.unwrap();
        assert_eq!(got.unwrap().into_value(), Some(Value::Int(7)));
        // Timeouts run on the client's timer: a held lock times out, then is had.
        let lock = Lock::new(&client, "async-lock");
        let held = lock.acquire_async(None).await.unwrap().expect("free");
        assert!(lock.acquire_async(secs(0.1)).await.unwrap().is_none());
        drop(held);
        assert!(lock.acquire_async(secs(5.0)).await.unwrap().is_some());
        let event = Event::new(&client, "async-go");
        let (waited, set) = tokio::join!(event.wait_async(None), event.set_async());
        set.unwrap();
        assert!(waited.unwrap());

        drop((x, many, values, scattered));
        let mut known = u64::MAX;
        for _ in 0..500 {
            known = client.stats().await.unwrap().tasks_known;
            if known == 1 {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(known, 1, "released once the futures went, but for the failed one still held");
        // The last handle dropped inside async code must not take the runtime down with it.
        drop(client);
        (awaited.to_string(), failing)
    });
    let (awaited, failing) = outcome;
    let blocking = failing.result().unwrap_err().to_string();
    assert_eq!(awaited, blocking, "the blocking client reports the same error");
}
