//! The multiprocess executor, with real worker processes: the shared corpus, a worker killed
//! with SIGKILL mid-run, a task that keeps killing its worker, zero-copy large results, and no
//! shared-memory segment left behind.
//!
//! This binary has its own `main` (`harness = false` in Cargo.toml) because the executor
//! re-executes it as its workers: `main` must first ask whether it is one.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use rask_exec::{ExecError, Executor, ProcessExecutor, MAX_ATTEMPTS};
use rask_graph::{parse_graph, register, Arity, Key, Plan, PlanOptions, Registry, TaskError, Value};

fn main() {
    rask_exec::worker_main_if_requested();
    let tests: &[(&str, fn())] = &[
        ("passes_the_shared_corpus", passes_the_shared_corpus),
        ("a_killed_worker_is_replaced_and_the_answer_is_right", a_killed_worker_is_replaced_and_the_answer_is_right),
        ("a_stopped_worker_is_replaced_after_the_stall_timeout", a_stopped_worker_is_replaced),
        ("a_task_that_kills_its_worker_fails_after_the_allowed_attempts", a_task_that_kills_its_worker_fails),
        ("large_results_cross_processes_without_copies", large_results_cross_processes_without_copies),
        ("lists_of_large_results_cross_item_by_item", lists_of_large_results_cross_item_by_item),
        ("an_input_returned_as_it_is_outlives_its_task", an_input_returned_as_it_is_outlives_its_task),
        ("messages_too_large_for_a_ring_still_arrive", messages_too_large_for_a_ring_still_arrive),
        ("closures_are_refused", closures_are_refused),
        ("segments_no_one_reads_are_written_again", segments_no_one_reads_are_written_again),
        ("the_parent_maps_only_the_results_it_returns", the_parent_maps_only_the_results_it_returns),
        ("the_executor_runs_many_plans_and_leaves_no_segments", many_plans_and_no_segments_left),
    ];
    common::run_tests(tests);
}

/// Names of this executor's segments still in /dev/shm, but for those its workers' pools hold
/// for reuse (which must fit the pools' caps).
fn leftovers(executor: &ProcessExecutor) -> Vec<String> {
    let prefix = executor.segment_prefix();
    let pooled = executor.pooled_segments();
    let pooled_bytes: u64 =
        pooled.iter().map(|n| std::fs::metadata(format!("/dev/shm/{n}")).map_or(0, |m| m.len())).sum();
    assert!(pooled_bytes <= (executor.workers() * executor.segment_pool_cap()) as u64, "{pooled_bytes} bytes pooled");
    rask_store::list().into_iter().filter(|n| n.starts_with(&prefix) && !pooled.contains(n)).collect()
}

/// Segments made by this executor's workers so far: their names count up from 0 per worker.
fn segments_made(executor: &ProcessExecutor) -> usize {
    let prefix = executor.segment_prefix();
    let mut highest = std::collections::BTreeMap::new();
    for name in rask_store::list().into_iter().filter(|n| n.starts_with(&prefix)) {
        let (worker, n) = name.rsplit_once('-').unwrap();
        let n: usize = n.parse().unwrap();
        let top = highest.entry(worker.to_owned()).or_insert(0);
        *top = (*top).max(n + 1);
    }
    highest.values().sum()
}

fn passes_the_shared_corpus() {
    let executor = ProcessExecutor::new(2);
    common::check_corpus(&executor);
    assert_eq!(leftovers(&executor), Vec::<String>::new());
}

fn a_killed_worker_is_replaced_and_the_answer_is_right() {
    let leaves = 300;
    let (graph, root) = common::slow_tree(leaves, 0.002);
    let plan = Plan::build(&graph, &[root], &Registry::new()).unwrap();
    let executor = Arc::new(ProcessExecutor::new(2));
    executor.execute(&plan, None).unwrap(); // starts the pool
    for round in 0..3 {
        let before = executor.worker_pids();
        let runner = {
            let (executor, plan) = (executor.clone(), plan.clone());
            std::thread::spawn(move || executor.execute(&plan, None))
        };
        // Somewhere inside the ~300 ms run, different each round.
        let nanos = Instant::now().elapsed().subsec_nanos() as u64 ^ std::process::id() as u64;
        std::thread::sleep(Duration::from_millis(30 + (nanos + round * 37) % 150));
        let victim = before[round as usize % before.len()];
        // SAFETY: sending a signal to a child process of ours.
        let r = unsafe { libc::kill(victim as i32, libc::SIGKILL) };
        assert_eq!(r, 0, "round {round}: kill {victim} ({before:?}): {}", std::io::Error::last_os_error());
        let outcome = runner.join().unwrap().expect("the run survives a killed worker");
        assert_eq!(outcome.values, vec![Value::Int(leaves * (leaves - 1) / 2)]);
        assert!(outcome.stats.workers_replaced >= 1, "round {round}: the dead worker was noticed");
        let after = executor.worker_pids();
        assert_eq!(after.len(), 2);
        assert!(!after.contains(&victim), "round {round}: {victim} was replaced: {after:?}");
    }
    assert_eq!(leftovers(&executor), Vec::<String>::new());
}

fn a_stopped_worker_is_replaced() {
    // A worker stopped with SIGSTOP keeps its tasks and never dies: before stall detection the
    // run waited for it forever. Now its silent heartbeat gives it away.
    let leaves = 200;
    let (graph, root) = common::slow_tree(leaves, 0.005);
    let plan = Plan::build(&graph, &[root], &Registry::new()).unwrap();
    let stall = Duration::from_millis(1500);
    let executor = Arc::new(ProcessExecutor::new(2).stall_timeout(stall));
    executor.execute(&plan, None).unwrap(); // starts the pool
    let victim = executor.worker_pids()[0];
    let runner = {
        let (executor, plan) = (executor.clone(), plan.clone());
        std::thread::spawn(move || executor.execute(&plan, None))
    };
    std::thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    // SAFETY: signals to a child process of ours.
    assert_eq!(unsafe { libc::kill(victim as i32, libc::SIGSTOP) }, 0);
    let outcome = runner.join().unwrap().expect("the run survives a stopped worker");
    let took = started.elapsed();
    assert_eq!(outcome.values, vec![Value::Int(leaves * (leaves - 1) / 2)]);
    assert!(outcome.stats.workers_replaced >= 1, "the stopped worker was replaced");
    assert!(took < stall + Duration::from_secs(10), "recovered in {took:?}");
    assert!(!executor.worker_pids().contains(&victim), "{victim} is gone");
    // The stopped worker was killed (SIGKILL works on a stopped process): nothing to continue.
    assert_ne!(unsafe { libc::kill(victim as i32, 0) }, 0, "{victim} no longer exists");
    println!("  stopped worker replaced; run finished {took:?} after the stop (stall timeout {stall:?})");
}

fn die(_: &[Value]) -> Result<Value, TaskError> {
    std::process::abort();
}
register!("die", Arity::Exact(1), die);

fn a_task_that_kills_its_worker_fails() {
    let executor = ProcessExecutor::new(2);
    let graph = parse_graph("{'ok': (inc, 1), 'fatal': (die, 'ok'), 'after': (inc, 'fatal')}").unwrap();
    // Unfused, so that `fatal` is a task of its own (fused, the error names the task it is in).
    let plan = Plan::build_with(&graph, &[Key::from("after")], &Registry::new(), &PlanOptions::unoptimized()).unwrap();
    let err = executor.execute(&plan, None).unwrap_err();
    match &err {
        ExecError::WorkerLost { key, attempts, .. } => {
            assert_eq!(key, &Key::from("fatal"));
            assert_eq!(*attempts, MAX_ATTEMPTS);
        }
        other => panic!("expected a lost-worker error, got {other:?}"),
    }
    assert!(err.to_string().contains("task 'fatal'") && err.to_string().contains("died 3 times"), "{err}");
    // The pool is whole again and runs the next graph.
    let g = parse_graph("{'a': (inc, 41)}").unwrap();
    assert_eq!(executor.get(&g, &[Key::from("a")], &Registry::new()).unwrap(), vec![Value::Int(42)]);
    assert_eq!(executor.worker_pids().len(), 2);
}

fn large_results_cross_processes_without_copies() {
    let n = 8 << 20; // 64 MiB of float64
    let graph = parse_graph(&format!("{{'a': (ones, {n}), 'b': (sum, 'a'), 'c': (mul, 'a', 2)}}")).unwrap();
    // Unfused, so `a` is its own task and its result really crosses to the tasks that read it.
    let plan = Plan::build_with(
        &graph,
        &[Key::from("b"), Key::from("a"), Key::from("c")],
        &Registry::new(),
        &PlanOptions::unoptimized(),
    )
    .unwrap();
    let executor = ProcessExecutor::new(2);
    let outcome = executor.execute(&plan, None).unwrap();
    assert_eq!(outcome.values[0], Value::Float(n as f64));
    let (Value::Array(a), Value::Array(c)) = (&outcome.values[1], &outcome.values[2]) else { panic!("arrays") };
    assert_eq!(a.len(), n);
    assert!(a.as_f64().unwrap().iter().all(|&x| x == 1.0));
    assert!(c.as_f64().unwrap().iter().all(|&x| x == 2.0));
    assert_eq!(outcome.stats.bytes_copied, 0, "written once in place, read in place");
    assert!(outcome.stats.bytes_shared >= 2 * 8 * n as u64, "passed by reference: {}", outcome.stats.bytes_shared);
    assert_eq!(leftovers(&executor), Vec::<String>::new(), "names are gone even while we hold the arrays");
}

fn lists_of_large_results_cross_item_by_item() {
    // A task returning a list of large arrays (as a shuffle's split returns pieces): each item
    // goes by reference on its own, and a task reading one item maps only that one.
    let n = 1 << 20;
    let graph =
        parse_graph(&format!("{{'parts': [(ones, {n}), (arange, {n}), 7], 'b': (sum, (getitem, 'parts', 1))}}"))
            .unwrap();
    let plan =
        Plan::build_with(&graph, &[Key::from("b"), Key::from("parts")], &Registry::new(), &PlanOptions::unoptimized())
            .unwrap();
    let executor = ProcessExecutor::new(2);
    let outcome = executor.execute(&plan, None).unwrap();
    assert_eq!(outcome.values[0], Value::Int((n as i64) * (n as i64 - 1) / 2));
    let Value::List(items) = &outcome.values[1] else { panic!("a list: {}", outcome.values[1]) };
    assert_eq!(items[2], Value::Int(7), "small items travel inline beside the shared ones");
    assert_eq!(outcome.stats.bytes_copied, 0, "no item was encoded into the message");
    // Both arrays handed over by reference once, and `b` mapped only the item it picks.
    assert_eq!(outcome.stats.bytes_shared, 3 * 8 * n as u64, "{:?}", outcome.stats);
    assert_eq!(leftovers(&executor), Vec::<String>::new());
}

/// An extension value larger in memory once decoded than encoded (as an Arrow batch is): made
/// in a worker it travels inline, but the parent then holds a "large" value in no segment.
struct Swelling {
    bytes: rask_graph::Buffer,
    decoded: bool,
}

impl rask_graph::ext::ExtValue for Swelling {
    fn type_name(&self) -> &'static str {
        "test.Swelling"
    }
    fn nbytes(&self) -> usize {
        if self.decoded {
            1 << 20
        } else {
            self.bytes.len()
        }
    }
    fn encode(&self) -> Result<Vec<u8>, String> {
        Ok(self.bytes.as_slice().to_vec())
    }
    fn eq_ext(&self, other: &dyn rask_graph::ext::ExtValue) -> bool {
        other.as_any().downcast_ref::<Swelling>().is_some_and(|o| o.bytes.as_slice() == self.bytes.as_slice())
    }
    fn fmt_repr(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Swelling({})", self.bytes.len())
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
    fn encoded_source(&self) -> Option<&rask_graph::Buffer> {
        self.decoded.then_some(&self.bytes)
    }
}

fn decode_swelling(bytes: rask_graph::Buffer) -> Result<rask_graph::ext::Ext, String> {
    Ok(rask_graph::ext::Ext::new(Swelling { bytes, decoded: true }))
}
rask_graph::register_ext!("test.Swelling", decode_swelling);

fn swelling(args: &[Value]) -> Result<Value, TaskError> {
    let n = args[0].as_int().unwrap_or(0) as usize;
    Ok(Value::Ext(rask_graph::ext::Ext::new(Swelling {
        bytes: rask_graph::Buffer::from_vec(vec![7u8; n]),
        decoded: false,
    })))
}
register!("swelling", Arity::Exact(1), swelling);

fn an_input_returned_as_it_is_outlives_its_task() {
    // A value the parent holds in no segment goes to a worker in a segment the parent makes
    // for that task; `identity` returns it as it is, by that segment's name. The segment must
    // pass to the result, not go with the task (it did: the result could not be mapped).
    let graph = parse_graph("{'a': (swelling, 1000), 'b': (identity, 'a'), 'c': (identity, 'b')}").unwrap();
    let plan = Plan::build_with(&graph, &[Key::from("c")], &Registry::new(), &PlanOptions::unoptimized()).unwrap();
    let executor = ProcessExecutor::new(2);
    let outcome = executor.execute(&plan, None).expect("the identities run");
    assert_eq!(outcome.values[0].to_string(), "Swelling(1000)");
    drop(outcome);
    assert_eq!(leftovers(&executor), Vec::<String>::new(), "and the segment goes with its last holder");
}

fn messages_too_large_for_a_ring_still_arrive() {
    // A literal far larger than a ring record: the task message goes through a segment.
    let items: Vec<String> = (0..200_000).map(|i| i.to_string()).collect();
    let graph = parse_graph(&format!("{{'xs': [{}], 'n': (len, 'xs'), 's': (sum, 'xs')}}", items.join(", "))).unwrap();
    let executor = ProcessExecutor::new(2);
    let values = executor.get(&graph, &[Key::from("n"), Key::from("s")], &Registry::new()).unwrap();
    assert_eq!(values, vec![Value::Int(200_000), Value::Int(199_999 * 200_000 / 2)]);
    assert_eq!(leftovers(&executor), Vec::<String>::new());
    // And results: with everything inline, a 2.4 MB array cannot fit a completion ring either.
    let everything_inline = ProcessExecutor::new(2).inline_max(usize::MAX / 2);
    let graph = parse_graph("{'a': (arange, 300000), 'b': (mul, 'a', 2), 's': (sum, 'b')}").unwrap();
    let plan =
        Plan::build_with(&graph, &[Key::from("s"), Key::from("a")], &Registry::new(), &PlanOptions::unoptimized())
            .unwrap();
    let outcome = everything_inline.execute(&plan, None).unwrap();
    assert_eq!(outcome.values[0], Value::Int(299_999 * 300_000));
    assert!(matches!(&outcome.values[1], Value::Array(a) if a.len() == 300_000));
    assert_eq!(leftovers(&everything_inline), Vec::<String>::new());
}

fn closures_are_refused() {
    let mut registry = Registry::new();
    registry.register_closure("local", Arity::Exact(1), |a| Ok(a[0].clone()));
    let graph = parse_graph("{'a': (local, 1)}").unwrap();
    let err = ProcessExecutor::new(1).get(&graph, &[Key::from("a")], &registry).unwrap_err();
    assert!(err.to_string().contains("local"), "{err}");
}

fn many_plans_and_no_segments_left() {
    let executor = ProcessExecutor::new(2);
    let registry = Registry::new();
    for i in 0..20i64 {
        let g =
            parse_graph(&format!("{{'a': (arange, {}), 'b': (sum, 'a'), 'bad': (div, 'b', 0)}}", 20_000 + i)).unwrap();
        let n = 20_000 + i;
        assert_eq!(executor.get(&g, &[Key::from("b")], &registry).unwrap(), vec![Value::Int(n * (n - 1) / 2)]);
        assert!(executor.get(&g, &[Key::from("bad")], &registry).is_err());
    }
    assert_eq!(leftovers(&executor), Vec::<String>::new());
    let pids = executor.worker_pids();
    assert_eq!(pids.len(), 2);
    drop(executor);
    for pid in pids {
        assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "worker {pid} exited and was reaped");
    }
}

fn segments_no_one_reads_are_written_again() {
    // Twenty 800 KB arrays, each read by one task and then let go of, five times over: with
    // recycling the workers write the later ones into the segments of the first.
    let tasks: Vec<String> = (0..20).map(|i| format!("'a{i}': (arange, 100000), 'b{i}': (sum, 'a{i}')")).collect();
    let graph = parse_graph(&format!("{{{}}}", tasks.join(", "))).unwrap();
    let targets: Vec<Key> = (0..20).map(|i| Key::from(format!("b{i}").as_str())).collect();
    let plan = Plan::build_with(&graph, &targets, &Registry::new(), &PlanOptions::unoptimized()).unwrap();
    let made_in_five_runs = |executor: &ProcessExecutor| {
        for _ in 0..5 {
            let outcome = executor.execute(&plan, None).unwrap();
            assert!(outcome.values.iter().all(|v| *v == Value::Int(99_999 * 100_000 / 2)), "{:?}", outcome.values);
        }
        segments_made(executor)
    };
    let recycling = ProcessExecutor::new(2);
    let made = made_in_five_runs(&recycling);
    // At most one run's worth per worker (which worker runs what varies), not one per array.
    assert!(made <= 40, "{made} segments made for 100 arrays: the later runs wrote into the first runs'");
    assert!(!recycling.pooled_segments().is_empty(), "the pools hold the segments between runs");
    assert_eq!(leftovers(&recycling), Vec::<String>::new());
    let prefix = recycling.segment_prefix();
    drop(recycling);
    assert!(rask_store::list().iter().all(|n| !n.starts_with(&prefix)), "the pools go with the executor");
    // Without pools each array has a segment of its own, removed once read.
    let not_recycling = ProcessExecutor::new(2).segment_pool(0);
    made_in_five_runs(&not_recycling);
    assert!(not_recycling.pooled_segments().is_empty());
    assert_eq!(leftovers(&not_recycling), Vec::<String>::new());
}

/// This process's mappings of `executor`'s segments, from the kernel's list of its mappings.
fn mapped_segments(executor: &ProcessExecutor) -> Vec<String> {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let prefix = executor.segment_prefix();
    maps.lines().filter_map(|l| l.rsplit('/').next().filter(|n| n.starts_with(&prefix)).map(str::to_owned)).collect()
}

fn the_parent_maps_only_the_results_it_returns() {
    // Four 8 MB arrays, each read by two tasks: 'gate', which reads them all, and a sum that
    // runs after it. While they are held, and as they are sent on by name, the parent maps
    // none of them.
    let n = 1 << 20;
    let arrays: Vec<String> =
        (0..4).map(|i| format!("'a{i}': (ones, {n}), 's{i}': (add, (sum, 'a{i}'), 'gate')")).collect();
    let gate = "'gate': (sum, [(sum, 'a0'), (sum, 'a1'), (sum, 'a2'), (sum, 'a3')])";
    let graph = parse_graph(&format!("{{{gate}, {}}}", arrays.join(", "))).unwrap();
    let targets: Vec<Key> = ["s0", "s1", "s2", "s3", "a3"].into_iter().map(Key::from).collect();
    let plan = Plan::build_with(&graph, &targets, &Registry::new(), &PlanOptions::unoptimized()).unwrap();
    let executor = ProcessExecutor::new(2);
    let most = std::sync::atomic::AtomicUsize::new(0);
    let watch = |_: usize, _: usize| {
        most.fetch_max(mapped_segments(&executor).len(), std::sync::atomic::Ordering::Relaxed);
    };
    let outcome = executor.execute(&plan, Some(&watch)).unwrap();
    assert_eq!(outcome.values[..4], vec![Value::Float(5.0 * n as f64); 4]);
    assert_eq!(most.into_inner(), 0, "no result was mapped while the run went on");
    let Value::Array(a3) = &outcome.values[4] else { panic!("an array: {}", outcome.values[4]) };
    assert!(a3.as_f64().unwrap().iter().all(|&x| x == 1.0));
    assert_eq!(mapped_segments(&executor).len(), 1, "the one array returned is mapped, for its caller");
    drop(outcome);
    assert_eq!(mapped_segments(&executor), Vec::<String>::new());
    assert_eq!(leftovers(&executor), Vec::<String>::new());
}
