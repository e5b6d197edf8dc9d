//! The distributed layer with real processes on loopback: a LocalCluster (embedded scheduler,
//! worker processes re-executed from this binary) running the shared corpus and the futures
//! API, a worker killed mid-graph, a task that kills its workers, clients that disconnect,
//! malformed frames, and authentication.
//!
//! Own `main` (`harness = false`): the cluster's workers are this binary, re-executed.

#[path = "../../exec/tests/common/mod.rs"]
mod common;

use std::io::{Read, Write};
use std::time::Duration;

use rask_distributed::{Arg, Client, DistError, LocalCluster, SchedulerThread, Security, WorkerOptions};
use rask_graph::{parse_graph, register, Annotations, Arity, Array, Expr, Graph, Key, TaskError, Value};

fn main() {
    rask_distributed::worker_main_if_requested();
    let tests: &[(&str, fn())] = &[
        ("a_local_cluster_passes_the_shared_corpus", passes_the_shared_corpus),
        ("futures_submit_map_gather_wait_as_completed_cancel_persist", futures_api),
        ("a_killed_worker_s_tasks_and_results_are_recomputed", killed_worker),
        ("a_task_that_kills_its_workers_is_erred_after_three_tries", task_that_kills_workers),
        ("a_task_that_killed_two_of_three_workers_spares_the_last", task_spares_the_last_worker),
        ("a_client_that_disconnects_releases_its_keys_and_others_go_on", client_disconnects),
        ("malformed_frames_and_unknown_peers_are_refused", malformed_frames),
        ("a_shared_secret_is_required_when_configured", shared_secret),
        ("a_wide_reduction_holds_few_results", wide_reduction_memory),
        ("past_its_memory_limit_a_worker_spills_and_loses_nothing", memory_limit_spills),
        ("a_function_the_workers_lack_is_an_error_naming_it", unknown_function_on_workers),
        ("a_failing_task_is_the_same_error_as_on_a_local_executor", same_error_as_local),
        ("workers_on_one_machine_share_large_results_without_copies", shared_memory_between_workers),
        ("a_task_picking_one_item_of_a_peer_s_list_fetches_only_that_item", picks_fetch_only_their_items),
        ("a_worker_over_its_limit_with_nothing_to_free_does_not_stay_paused", worker_over_its_limit),
    ];
    common::run_tests(tests);
}

fn eventually(what: &str, f: impl FnMut() -> bool) {
    common::eventually(what, Duration::from_secs(10), f)
}

fn passes_the_shared_corpus() {
    let cluster = LocalCluster::new(2, 1).unwrap();
    let client = cluster.client().unwrap();
    common::check_corpus(&client);
    // Every key of every run was released when its futures went.
    eventually("all tasks are forgotten", || client.stats().unwrap().tasks_known == 0);
}

fn futures_api() {
    let cluster = LocalCluster::new(2, 2).unwrap();
    let client = cluster.client().unwrap();
    let x = client.submit("inc", [Arg::from(41)]).unwrap();
    assert_eq!(x.result().unwrap(), Value::Int(42));
    let y = client.submit("add", [Arg::from(&x), Arg::from(8)]).unwrap();
    assert_eq!(y.result().unwrap(), Value::Int(50));
    let squares = client.map("inc", (0..100).map(Value::Int)).unwrap();
    let values = client.gather(&squares).unwrap();
    assert_eq!(values, (1..=100).map(Value::Int).collect::<Vec<_>>());
    let order: Vec<Key> = client.as_completed(squares.clone()).map(|f| f.key().clone()).collect();
    assert_eq!(order.len(), 100);
    client.wait(&squares).unwrap();
    // persist: later graphs use the persisted key without recomputing it.
    let graph = parse_graph("{'big': (sum, [1, 2, 3]), 'double': (mul, 'big', 2)}").unwrap();
    let persisted = client.persist(&graph, &[Key::from("big")]).unwrap();
    client.wait(&persisted).unwrap();
    // (In Dask's notation 'big' would be a string here: no key of this graph is named so.)
    let mut later = Graph::new();
    later.insert("plus", Expr::call("add", [Expr::key("big"), Expr::from(100)]));
    assert_eq!(client.compute(&later, &[Key::from("plus")]).unwrap(), vec![Value::Int(106)]);
    // Errors name the key and the function.
    let bad = client.submit("div", [Arg::from(1), Arg::from(0)]).unwrap();
    let err = bad.result().unwrap_err().to_string();
    assert!(err.contains("ZeroDivisionError") && err.contains("`div`"), "{err}");
    // cancel: a slow task becomes an error, and what depends on it too.
    let slow = client.submit("sleep", [Arg::from(5.0), Arg::from(1)]).unwrap();
    let after = client.submit("inc", [Arg::from(&slow)]).unwrap();
    client.cancel(std::slice::from_ref(&slow));
    let err = after.result().unwrap_err().to_string();
    assert!(err.contains("cancelled"), "{err}");
    // Any code that names schedulers gets this cluster from its address.
    let scheduler: rask_exec::Scheduler = cluster.address().parse().unwrap();
    let executor = scheduler.executor().unwrap();
    let g = parse_graph("{'q': (mul, 6, 7)}").unwrap();
    assert_eq!(executor.get(&g, &[Key::from("q")], &rask_graph::Registry::new()).unwrap(), vec![Value::Int(42)]);
    // Release on drop: once every future is gone, the scheduler forgets everything.
    drop((x, y, squares, persisted, bad, slow, after));
    eventually("every key is released", || client.stats().unwrap().tasks_known == 0);
}

fn killed_worker() {
    let mut cluster = LocalCluster::new(2, 1).unwrap();
    let client = cluster.client().unwrap();
    let leaves = 200;
    let (graph, root) = common::slow_tree(leaves, 0.003);
    let victim = cluster.worker_pids()[0];
    let runner = {
        let client = client.clone();
        std::thread::spawn(move || client.compute(&graph, &[root]))
    };
    std::thread::sleep(Duration::from_millis(150));
    // SAFETY: a child process of ours.
    assert_eq!(unsafe { libc::kill(victim as i32, libc::SIGKILL) }, 0);
    cluster.add_worker().unwrap();
    let values = runner.join().unwrap().expect("the graph survives a killed worker");
    assert_eq!(values, vec![Value::Int(leaves * (leaves - 1) / 2)]);
    let stats = client.stats().unwrap();
    assert_eq!(stats.workers_lost, 1);
    assert!(stats.tasks_recomputed >= 1, "results only the dead worker held were recomputed: {stats:?}");
}

fn die(_: &[Value]) -> Result<Value, TaskError> {
    std::process::abort();
}
register!("die", Arity::Exact(1), die);

/// Four float64 arrays of `n` items, the k-th filled with k (a shuffle's split, in small).
fn pieces(args: &[Value]) -> Result<Value, TaskError> {
    let n = args[0].as_int().unwrap_or(0) as usize;
    let arrays = (0..4).map(|k| Array::f64_with(n, |xs| xs.fill(k as f64)).map(Value::Array));
    Ok(Value::list(arrays.collect::<Result<Vec<_>, _>>()?))
}
register!("pieces", Arity::Exact(1), pieces);

fn task_that_kills_workers() {
    let cluster = LocalCluster::new(4, 1).unwrap();
    let client = cluster.client().unwrap();
    let graph = parse_graph("{'fatal': (die, 1), 'fine': (inc, 1)}").unwrap();
    let err = client.compute(&graph, &[Key::from("fatal")]).unwrap_err().to_string();
    assert!(err.contains("'fatal'") && err.contains("died 3 times"), "{err}");
    assert_eq!(client.compute(&graph, &[Key::from("fine")]).unwrap(), vec![Value::Int(2)], "the last worker lives on");
}

fn task_spares_the_last_worker() {
    // Before: it was tried on all three in turn, and the cluster was left with no worker.
    let cluster = LocalCluster::new(3, 1).unwrap();
    let client = cluster.client().unwrap();
    let graph = parse_graph("{'fatal': (die, 1), 'fine': (inc, 1)}").unwrap();
    let err = client.compute(&graph, &[Key::from("fatal")]).unwrap_err().to_string();
    assert!(err.contains("'fatal'") && err.contains("died 2 times") && err.contains("last worker"), "{err}");
    assert_eq!(client.stats().unwrap().workers, 1);
    assert_eq!(client.compute(&graph, &[Key::from("fine")]).unwrap(), vec![Value::Int(2)], "the last worker lives on");
}

fn client_disconnects() {
    let cluster = LocalCluster::new(2, 1).unwrap();
    let observer = cluster.client().unwrap();
    {
        let leaving = cluster.client().unwrap();
        let graph = parse_graph("{'a': (inc, 1), 'b': (sleep, 0.3, 'a')}").unwrap();
        let kept = leaving.persist(&graph, &[Key::from("a"), Key::from("b")]).unwrap();
        leaving.wait(&kept[..1]).unwrap();
        assert!(observer.stats().unwrap().tasks_known >= 2);
        std::mem::forget(kept); // never released: only the disconnect can free them
        leaving.close();
    }
    eventually("the departed client's keys are released", || observer.stats().unwrap().tasks_known == 0);
    let g = parse_graph("{'z': (mul, 6, 7)}").unwrap();
    assert_eq!(observer.compute(&g, &[Key::from("z")]).unwrap(), vec![Value::Int(42)]);
}

fn scheduler_addr(cluster: &LocalCluster) -> String {
    cluster.address().trim_start_matches("tcp://").to_owned()
}

fn malformed_frames() {
    let cluster = LocalCluster::new(1, 1).unwrap();
    let addr = scheduler_addr(&cluster);
    let attacks: Vec<Vec<u8>> = vec![
        vec![0xff, 0xff, 0xff, 0x7f, 1],                // claims a 2 GiB frame
        vec![4, 0, 0, 0, 99, 1, 2, 3, 4],               // unknown version
        vec![6, 0, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef, 9], // garbage payload
        vec![200, 0, 0, 0, 1, 0],                       // truncated, then closed
    ];
    for bytes in attacks {
        let mut stream = std::net::TcpStream::connect(&addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        stream.write_all(&rask_protocol::dist::PREAMBLE).unwrap();
        let mut header = [0u8; 5];
        stream.read_exact(&mut header).unwrap();
        let mut welcome = vec![0u8; u32::from_le_bytes(header[..4].try_into().unwrap()) as usize];
        stream.read_exact(&mut welcome).unwrap();
        stream.write_all(&bytes).unwrap();
        let _ = stream.shutdown(std::net::Shutdown::Write);
        let mut rest = Vec::new();
        // Hung up (a reset when our unread bytes were still in its buffer), nothing answered.
        let closed = stream.read_to_end(&mut rest);
        let hung_up = closed.as_ref().map_or_else(|e| e.kind() == std::io::ErrorKind::ConnectionReset, |_| true);
        assert!(hung_up && rest.is_empty(), "the scheduler answered {closed:?} {rest:?} to {bytes:?}");
    }
    // A data fetch sent to the scheduler is not a scheduler peer.
    let client = cluster.client().unwrap();
    let g = parse_graph("{'ok': (inc, 1)}").unwrap();
    assert_eq!(client.compute(&g, &[Key::from("ok")]).unwrap(), vec![Value::Int(2)], "the scheduler lives on");
}

fn shared_secret() {
    let secret = b"correct horse battery staple".to_vec();
    let scheduler = SchedulerThread::start("127.0.0.1:0", Some(secret.clone())).unwrap();
    let addr = scheduler.addr().to_string();
    let worker = |secret: Option<Vec<u8>>| {
        let security = secret.map_or_else(Security::none, |s| Security::none().with_secret(s));
        let options = WorkerOptions { security, ..WorkerOptions::new(&addr, 1).unwrap() };
        std::thread::spawn(move || rask_distributed::worker::run(options))
    };
    let _good_worker = worker(Some(secret.clone()));
    let bad_worker = worker(Some(b"wrong".to_vec()));
    assert!(bad_worker.join().unwrap().is_err(), "a worker with the wrong secret is refused");
    let err = Client::connect(&addr).unwrap_err();
    assert!(matches!(err, DistError::Auth(_)), "no secret: {err}");
    let wrong = Client::connect_with(&addr, Some(b"guess".to_vec())).and_then(|c| c.stats());
    assert!(wrong.is_err(), "a wrong secret gets nothing");
    let client = Client::connect_with(&addr, Some(secret)).unwrap();
    eventually("the good worker joined", || client.stats().unwrap().workers == 1);
    let g = parse_graph("{'a': (inc, 1), 'b': (add, 'a', 'a')}").unwrap();
    assert_eq!(client.compute(&g, &[Key::from("b")]).unwrap(), vec![Value::Int(4)]);
}

fn wide_reduction_memory() {
    let cluster = LocalCluster::new(2, 1).unwrap();
    let client = cluster.client().unwrap();
    // Leaves of 64 KiB: roots get the usual queue (32 beyond a worker's thread), and few
    // leaves are made before the sums that consume them.
    let (leaves, len) = (4_000, 8192);
    let (mut graph, root) = common::tree_sum(leaves);
    for i in 0..leaves as i64 {
        graph.insert(("x", i), Expr::call("ones", [Expr::from(len)]));
    }
    let result = client.compute(&graph, &[root]).unwrap();
    let Value::Array(sum) = &result[0] else { panic!("an array: {result:?}") };
    assert!(sum.as_f64().unwrap().iter().all(|&x| x == leaves as f64));
    let peak = client.stats().unwrap().peak_in_memory;
    assert!(peak <= 400, "a {leaves}-leaf reduction of arrays held {peak} results at once");
    // Leaves of a few bytes, each made in microseconds: a worker queues up to MAX_SATURATION
    // of them, made ahead of the sums a round trip later, and holds more results (each a few
    // bytes) — but a queue's worth, not the leaves' count.
    let leaves = 20_000;
    let (graph, root) = common::tree_sum(leaves);
    assert_eq!(client.compute(&graph, &[root]).unwrap(), vec![Value::Int((leaves * (leaves + 1) / 2) as i64)]);
    let peak = client.stats().unwrap().peak_in_memory;
    let queues = 2 * (1 + 512); // two workers, a thread and the scheduler's MAX_SATURATION
    assert!(peak <= 2 * queues, "a {leaves}-leaf reduction held {peak} results at once");
}

fn memory_limit_spills() {
    // 256 MiB per worker: results past ~154 MiB go to disk; 200 MiB of arrays are kept. (The
    // pause threshold, 80% of resident memory, stays well out of reach.)
    let cluster = LocalCluster::with_memory_limit(1, 1, 256 << 20).unwrap();
    let client = cluster.client().unwrap();
    let n = 1 << 18; // 2 MiB of float64 each
    let mut graph = Graph::new();
    let keys: Vec<Key> = (0..100i64)
        .map(|i| {
            graph.insert(("arr", i), Expr::call("mul", [Expr::call("ones", [Expr::from(n)]), Expr::from(i)]));
            Key::from(("arr", i))
        })
        .collect();
    let futures = client.persist(&graph, &keys).unwrap();
    client.wait(&futures).unwrap();
    eventually("the worker reports spilled results", || client.stats().unwrap().bytes_spilled > 30 << 20);
    let values = client.gather(&futures).unwrap();
    for (i, v) in values.iter().enumerate() {
        let Value::Array(a) = v else { panic!("an array") };
        assert!(a.len() == n as usize && a.as_f64().unwrap().iter().all(|&x| x == i as f64), "array {i} intact");
    }
}

fn only_in_the_client(_: &[Value]) -> Result<Value, TaskError> {
    Ok(Value::None)
}

fn unknown_function_on_workers() {
    let cluster = LocalCluster::new(1, 1).unwrap();
    // Registered at run time in this process only: the workers' registries do not have it.
    let mut registry = rask_graph::Registry::new();
    registry.register("only_in_the_client", Arity::Exact(1), only_in_the_client);
    let client = Client::connect_with_registry(&cluster.address(), None, registry).unwrap();
    let graph = parse_graph("{'x': (only_in_the_client, 1)}").unwrap();
    let err = client.compute(&graph, &[Key::from("x")]).unwrap_err().to_string();
    assert!(err.contains("unknown function 'only_in_the_client'") && err.contains("'x'"), "{err}");
    assert!(err.contains("this worker runs") && err.contains("cluster"), "names the worker's binary: {err}");
    // A closure cannot reach a worker at all: refused before anything is sent.
    let mut registry = rask_graph::Registry::new();
    registry.register_closure("here_only", Arity::Exact(1), |a| Ok(a[0].clone()));
    let client = Client::connect_with_registry(&cluster.address(), None, registry).unwrap();
    let graph = parse_graph("{'y': (here_only, 1)}").unwrap();
    let err = client.persist(&graph, &[Key::from("y")]).unwrap_err().to_string();
    assert!(err.contains("here_only") && err.contains("distributed"), "{err}");
    assert_eq!(client.stats().unwrap().tasks_known, 0, "nothing was submitted");
}

fn same_error_as_local() {
    use rask_exec::{ExecError, Executor, SyncExecutor};
    let cluster = LocalCluster::new(1, 1).unwrap();
    let client = cluster.client().unwrap();
    let registry = rask_graph::Registry::new();
    // A failing task, a dependent of it, and a panic: key, function and cause, as locally.
    for (src, want) in [
        ("{'a': (div, 1, 0), 'b': (inc, 'a')}", "b"),
        ("{'a': (div, 1, 0)}", "a"),
        ("{'p': (boom, 1), 'q': (inc, 'p')}", "q"),
    ] {
        let graph = parse_graph(src).unwrap();
        let keys = [Key::from(want)];
        let local = SyncExecutor.get(&graph, &keys, &registry).unwrap_err();
        let remote = Executor::get(&client, &graph, &keys, &registry).unwrap_err();
        assert_eq!(remote.to_string(), local.to_string(), "{src}");
        assert!(matches!(remote, ExecError::Task { .. } | ExecError::Panic { .. }), "{remote:?}");
        assert_eq!(remote.key(), local.key(), "{src}");
    }
}

fn shared_memory_between_workers() {
    let cluster = LocalCluster::new(2, 1).unwrap();
    let client = cluster.client().unwrap();
    let n = 1 << 20; // 8 MiB of float64 each
                     // `a` and `b` start on different workers (the emptier one gets the next root), so `c`
                     // needs one of them from the other worker.
    let graph =
        parse_graph(&format!("{{'a': (ones, {n}), 'b': (ones, {n}), 'c': (add, 'a', 'b'), 's': (sum, 'c')}}")).unwrap();
    assert_eq!(client.compute(&graph, &[Key::from("s")]).unwrap(), vec![Value::Float(2.0 * n as f64)]);
    eventually("a heartbeat reports the fetch", || client.stats().unwrap().bytes_fetched_by_reference >= 8 << 20);
    assert_eq!(client.stats().unwrap().bytes_fetched_by_copy, 0, "nothing large crossed as bytes");
    let pids = cluster.worker_pids();
    drop(client);
    drop(cluster);
    assert_eq!(rask_store::owned_by(&pids), Vec::<String>::new(), "the workers' segments are gone with them");
}

fn worker_over_its_limit() {
    let mut cluster = LocalCluster::new(1, 1).unwrap();
    // A 1 MB limit: the process's resident memory is past 80% of it from the start, with no
    // result to spill and no task running. Pausing could never end (it used to, forever):
    // the worker says so once and keeps serving.
    cluster.add_worker_with_limit(1 << 20).unwrap();
    let client = cluster.client().unwrap();
    eventually("the small worker joins", || client.stats().unwrap().workers == 2);
    let futures = client.map("inc", (0..200).map(Value::Int)).unwrap();
    assert_eq!(client.gather(&futures).unwrap(), (1..=200).map(Value::Int).collect::<Vec<_>>());
    eventually("no worker stays paused", || client.stats().unwrap().workers_paused == 0);
}

fn picks_fetch_only_their_items() {
    let cluster = LocalCluster::new(2, 1).unwrap();
    let client = cluster.client().unwrap();
    let stats = client.stats().unwrap();
    let (a, b) = (stats.worker_status[0].addr.clone(), stats.worker_status[1].addr.clone());
    let n = 1 << 20; // 8 MiB a piece, in shared memory
    let parts = client.submit_with("pieces", [Arg::from(n as i64)], &Annotations::new().workers([a])).unwrap();
    let on_b = Annotations::new().workers([b]);
    let third = client.submit_with("getitem", [Arg::from(&parts), Arg::from(-2)], &on_b).unwrap();
    let Value::Array(got) = third.result().unwrap() else { panic!("an array") };
    assert_eq!((got.len(), got.as_f64().unwrap()[0]), (n, 2.0), "the item at -2 of four");
    eventually("a heartbeat reports the fetch", || client.stats().unwrap().bytes_fetched_by_reference >= 8 << 20);
    let fetched = client.stats().unwrap().bytes_fetched_by_reference;
    assert_eq!(fetched, 8 << 20, "one piece of four crossed (mapped by name), not the whole list");
    // Out of range still fails as on the whole list.
    let beyond = client.submit_with("getitem", [Arg::from(&parts), Arg::from(4)], &on_b).unwrap();
    assert!(beyond.result().unwrap_err().to_string().contains("IndexError"), "the error names the cause");
}
