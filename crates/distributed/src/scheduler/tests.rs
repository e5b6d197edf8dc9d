//! The state machine's transitions, driven by hand: no sockets, no threads.

use rask_graph::workloads::tree_sum;
use rask_graph::{parse_graph, Key, Plan, Registry};
use rask_protocol::dist::{Dep, DistFailure, NewTask, TaskRecord, ToClient, NO_ID};

use super::state::{State, TaskState, WorkerReport, SATURATION};
use super::Stall;
use crate::client::plan_tasks;
use std::time::Duration;

pub(super) fn tasks(src: &str, wanted: &[&str]) -> (Vec<NewTask>, Vec<Key>) {
    let graph = parse_graph(src).unwrap();
    let wanted: Vec<Key> = wanted.iter().map(|k| Key::from(*k)).collect();
    let plan = Plan::build_with(&graph, &wanted, &Registry::new(), &rask_graph::PlanOptions::unoptimized()).unwrap();
    (plan_tasks(&plan, |_| false).collect(), wanted)
}

/// A state with workers `1..=n` (named `w1`…, one thread each, no memory limit, no
/// resources) and client 7.
fn with_workers(n: u32) -> State {
    let mut s = State::default();
    for w in 1..=n {
        s.add_worker(w, format!("w{w}"), 1, 0, Vec::new());
    }
    s.add_client(7);
    s
}

/// The errors clients were sent so far: each key and message.
fn errors(s: &State) -> Vec<(Key, String)> {
    let erred = s.out.to_clients.iter().filter_map(|(_, m)| match m {
        ToClient::Erred { key, error, .. } => Some((key.clone(), error.clone())),
        _ => None,
    });
    erred.collect()
}

/// A worker's record of finishing `key` with a result of `nbytes`, after running 2 ms.
fn rec(key: Key, nbytes: u64) -> TaskRecord {
    TaskRecord { key, nbytes, start_us: 1_000, stop_us: 3_000, thread: 0, transfers: Vec::new(), id: NO_ID }
}

/// Plays worker: completes every assigned task, in assignment order; returns how many.
fn run_assigned(state: &mut State) -> usize {
    let mut n = 0;
    loop {
        let compute = std::mem::take(&mut state.out.compute);
        if compute.is_empty() {
            return n;
        }
        for (w, batch) in compute {
            for a in batch {
                n += 1;
                state.done(w, vec![rec(a.task.key.into_key(), 8)]);
            }
        }
        state.check_groups();
    }
}

#[test]
fn a_chain_runs_in_order_and_releases_what_is_consumed() {
    let mut s = with_workers(1);
    let (defs, wanted) = tasks("{'a': (inc, 1), 'b': (inc, 'a'), 'c': (inc, 'b')}", &["c"]);
    s.want(7, &wanted);
    s.submit(7, defs);
    assert_eq!(s.state_of(&Key::from("a")), Some(&TaskState::Processing(1)));
    assert_eq!(s.state_of(&Key::from("b")), Some(&TaskState::Waiting));
    assert_eq!(run_assigned(&mut s), 3);
    assert_eq!(s.state_of(&Key::from("c")), Some(&TaskState::Memory));
    assert_eq!(s.out.finished.get(&7), Some(&vec![Key::from("c")]));
    let released: Vec<Key> = s.out.release.values().flatten().map(|k| k.key().into_owned()).collect();
    assert_eq!(released, vec![Key::from("a"), Key::from("b")], "each input released once consumed");
    assert_eq!(
        s.state_of(&Key::from("a")),
        Some(&TaskState::Released),
        "kept as a definition while c may need b again"
    );
    s.release(7, &wanted);
    assert_eq!(s.stats().tasks_known, 0);
    assert_eq!(s.stats().tasks_in_memory, 0);
    s.check_groups();
}

#[test]
fn ready_roots_wait_on_the_scheduler_and_the_order_bounds_memory() {
    let mut s = with_workers(2);
    let (graph, root) = tree_sum(20_000);
    let plan = Plan::build(&graph, std::slice::from_ref(&root), &Registry::new()).unwrap();
    s.want(7, std::slice::from_ref(&root));
    s.submit(7, plan_tasks(&plan, |_| false).collect());
    let assigned: usize = s.out.compute.values().map(Vec::len).sum();
    assert_eq!(assigned, 2 * (1 + SATURATION), "each worker gets its threads plus the saturation, no more");
    run_assigned(&mut s);
    assert_eq!(s.state_of(&root), Some(&TaskState::Memory));
    let peak = s.stats().peak_in_memory;
    assert!(peak <= 200, "a 20k-leaf reduction held {peak} results at once");
    s.check_groups();
}

/// `'x'`, then `n` tasks reading it and `roots` more roots: a plan's tasks, all wanted.
fn fan_out(s: &mut State, n: usize, roots: usize) {
    let readers = (0..n).map(|i| format!("('r', {i}): (inc, 'x')"));
    let others = (0..roots).map(|i| format!("('q', {i}): (inc, {i})"));
    let src = format!("{{'x': (inc, 0), {}}}", readers.chain(others).collect::<Vec<_>>().join(", "));
    let graph = parse_graph(&src).unwrap();
    let wanted: Vec<Key> = graph.keys().cloned().collect();
    let options = rask_graph::PlanOptions::unoptimized();
    let plan = Plan::build_with(&graph, &wanted, &Registry::new(), &options).unwrap();
    s.want(7, &wanted);
    s.submit(7, plan_tasks(&plan, |_| false).collect());
}

/// The keys of the tasks sent to `w` since last asked.
pub(super) fn sent(s: &mut State, w: u32) -> Vec<Key> {
    s.out.compute.remove(&w).unwrap_or_default().into_iter().map(|a| a.task.key.into_key()).collect()
}

/// A record of `key` having run for 4 µs.
fn quick(key: Key) -> TaskRecord {
    TaskRecord { start_us: 10, stop_us: 14, ..rec(key, 8) }
}

fn is_root(key: &Key) -> bool {
    !key.to_string().contains("'r'")
}

#[test]
fn a_worker_whose_tasks_take_microseconds_gets_a_deeper_queue() {
    let mut s = with_workers(1);
    fan_out(&mut s, 200, 1000);
    let first = sent(&mut s, 1);
    assert_eq!(first.len(), 1 + SATURATION, "nothing known of its tasks yet: the usual saturation");
    assert!(first.contains(&Key::from("x")) && first.iter().all(is_root));
    // They took 4 µs each: it is sent 2 ms of them (a thread's worth of queued work): the
    // readers, then roots, since theirs are known to be small.
    s.done(1, first.into_iter().map(quick).collect());
    let second = sent(&mut s, 1);
    assert_eq!(second.len(), 1 + 2000 / 4);
    assert!(second.iter().filter(|k| is_root(k)).count() > 1 + SATURATION);
    // These took 2 ms each: 2 ms of queued work is one of them; the rest wait here for
    // whichever worker frees a thread first.
    s.done(1, second.into_iter().map(|key| rec(key, 8)).collect());
    assert_eq!(sent(&mut s, 1).len(), 1 + 1);
    s.check_groups();
}

/// A queued root's result is made a round trip before its consumers arrive: roots get a
/// deep queue only while their results fit in a megabyte per thread.
#[test]
fn roots_making_large_results_keep_the_usual_queue_however_quick() {
    for (nbytes, depth) in [(8, 2000 / 4), (32 << 10, SATURATION), (256 << 10, SATURATION)] {
        let mut s = with_workers(1);
        fan_out(&mut s, 0, 2000);
        let first = sent(&mut s, 1);
        assert_eq!(first.len(), 1 + SATURATION);
        s.done(1, first.into_iter().map(|key| TaskRecord { nbytes, ..quick(key) }).collect());
        assert_eq!(sent(&mut s, 1).len(), 1 + depth, "roots of {nbytes} bytes");
        s.check_groups();
    }
}

/// Workers that die each time with a deep queue of tiny tasks: a task deep in the queue had
/// not started, so those deaths count against it at half weight — erred after six such
/// deaths, not three (a task that kills its worker is still erred in the end).
#[test]
fn deaths_deep_in_a_worker_s_queue_count_at_half_weight() {
    let mut s = State::default();
    s.add_client(7);
    fan_out(&mut s, 4000, 0);
    for round in 1..=6u32 {
        // A fresh worker runs `'x'` (lost with the last one) in 4 µs and is sent a deep queue;
        // it runs the first 33 of those, the client gathers and releases them, and it dies.
        s.add_worker(round, format!("w{round}"), 1, 0, Vec::new());
        let first = sent(&mut s, round);
        s.done(round, first.into_iter().map(quick).collect());
        let deep = sent(&mut s, round);
        assert!(deep.len() > 1 + SATURATION);
        let ran = &deep[..1 + SATURATION];
        s.done(round, ran.iter().cloned().map(quick).collect());
        s.release(7, ran);
        s.remove_worker(round);
        if round < 6 {
            assert_eq!(errors(&s), [], "round {round}: no task was at the head of a dying worker's queue three times");
        }
    }
    let errors = errors(&s);
    assert!(!errors.is_empty() && errors.iter().all(|(_, e)| e.contains("died 6 times")), "{errors:?}");
}

#[test]
fn a_lost_worker_s_running_tasks_rerun_and_its_needed_results_are_recomputed() {
    let mut s = with_workers(1);
    let (defs, wanted) = tasks("{'a': (inc, 1), 'b': (inc, 2), 'c': (add, 'a', 'b')}", &["c"]);
    s.want(7, &wanted);
    s.submit(7, defs);
    // w1 finishes `a` only, then dies while running `b`.
    let batch = s.out.compute.remove(&1).unwrap();
    assert_eq!(batch.len(), 2);
    s.done(1, vec![rec(Key::from("a"), 8)]);
    s.add_worker(2, "w2".into(), 1, 0, Vec::new());
    s.remove_worker(1);
    assert_eq!(s.state_of(&Key::from("a")), Some(&TaskState::Processing(2)), "a's result was only on w1");
    assert_eq!(s.state_of(&Key::from("b")), Some(&TaskState::Processing(2)));
    assert_eq!(run_assigned(&mut s), 3);
    assert_eq!(s.state_of(&Key::from("c")), Some(&TaskState::Memory));
    assert!(s.stats().tasks_recomputed >= 1 && s.stats().workers_lost == 1);
    s.check_groups();
}

#[test]
fn a_task_that_kills_workers_errs_after_the_allowed_failures() {
    let mut s = State::default();
    s.add_client(7);
    let (defs, wanted) = tasks("{'a': (inc, 1), 'b': (inc, 'a')}", &["b"]);
    s.want(7, &wanted);
    s.submit(7, defs);
    for w in 1..=3 {
        s.add_worker(w, format!("w{w}"), 1, 0, Vec::new());
        assert_eq!(s.state_of(&Key::from("a")), Some(&TaskState::Processing(w)));
        s.remove_worker(w);
    }
    let erred = s.out.to_clients.iter().find_map(|(c, m)| match m {
        ToClient::Erred { key, error, .. } if *c == 7 => Some((key.clone(), error.clone())),
        _ => None,
    });
    let (key, error) = erred.expect("the client is told");
    assert_eq!(key, Key::from("b"));
    assert!(error.contains("'a'") && error.contains("died 3 times"), "{error}");
    s.check_groups();
}

#[test]
fn a_task_that_killed_two_workers_is_not_given_the_last_one() {
    let mut s = State::default();
    s.add_client(7);
    for w in 1..=3 {
        s.add_worker(w, format!("w{w}"), 1, 0, Vec::new());
    }
    let (defs, wanted) = tasks("{'a': (inc, 1)}", &["a"]);
    s.want(7, &wanted);
    s.submit(7, defs);
    for _ in 0..2 {
        let Some(TaskState::Processing(w)) = s.state_of(&Key::from("a")).cloned() else { panic!("a runs") };
        s.remove_worker(w);
    }
    let error = s.error_of(&Key::from("a"));
    assert_eq!(s.state_of(&Key::from("a")), Some(&TaskState::Erred));
    assert!(error.is_some_and(|e| e.contains("died 2 times") && e.contains("last worker")), "{error:?}");
    assert_eq!(s.stats().workers, 1, "the third worker is spared");
    s.check_groups();
}

#[test]
fn the_task_table_reuses_slots_and_returns_to_empty() {
    let mut s = with_workers(1);
    let (mut most, mut per_run) = (0, 0);
    for run in 0..50 {
        let (graph, root) = tree_sum(200);
        let plan = Plan::build_with(
            &graph,
            std::slice::from_ref(&root),
            &Registry::new(),
            &rask_graph::PlanOptions::unoptimized(),
        )
        .unwrap();
        let defs: Vec<NewTask> = plan_tasks(&plan, |_| false)
            .map(|mut d| {
                // Fresh keys for every run, as a client's graphs have (dependencies are named
                // by position in the submission).
                d.key = Key::tuple([Key::from("run"), Key::Int(run), d.key]);
                assert!(d.deps.iter().all(|dep| matches!(dep, Dep::Earlier(_))));
                d
            })
            .collect();
        let want = vec![defs.last().unwrap().key.clone()];
        per_run = defs.len() as u64;
        s.want(7, &want);
        s.submit(7, defs);
        run_assigned(&mut s);
        most = most.max(s.stats().task_slots);
        s.release(7, &want);
        assert_eq!(s.stats().tasks_known, 0, "run {run} forgot everything");
        assert_eq!(s.stats().task_slots, 0, "an idle scheduler keeps no slots");
    }
    assert!(most <= per_run, "one run at a time needs one run's slots ({per_run}), not more ({most})");
    s.check_groups();
}

#[test]
fn a_lost_input_sends_waiting_and_queued_dependents_back_to_waiting() {
    // c needs a and b; a finishes on w1, then w1 dies before b is done: c must wait for a's
    // recomputation as well as for b, not start when b alone finishes.
    let mut s = with_workers(2);
    let (defs, wanted) = tasks("{'a': (inc, 1), 'b': (inc, 2), 'c': (add, 'a', 'b')}", &["c"]);
    s.want(7, &wanted);
    s.submit(7, defs);
    let compute = std::mem::take(&mut s.out.compute);
    let on = |key: &str| {
        compute.iter().find(|(_, b)| b.iter().any(|a| *a.task.key.key() == Key::from(key))).map(|(w, _)| *w)
    };
    let (wa, wb) = (on("a").unwrap(), on("b").unwrap());
    assert_ne!(wa, wb);
    s.done(wa, vec![rec(Key::from("a"), 8)]);
    s.remove_worker(wa);
    assert_eq!(s.state_of(&Key::from("c")), Some(&TaskState::Waiting));
    s.done(wb, vec![rec(Key::from("b"), 8)]);
    assert_eq!(s.state_of(&Key::from("c")), Some(&TaskState::Waiting), "a is still being recomputed");
    s.out.compute.clear();
    s.done(wb, vec![rec(Key::from("a"), 8)]);
    assert_eq!(s.state_of(&Key::from("c")), Some(&TaskState::Processing(wb)));
    s.check_groups();
}

#[test]
fn a_holder_that_does_not_answer_is_dropped_and_its_result_recomputed() {
    let mut s = with_workers(1);
    let (defs, wanted) = tasks("{'a': (inc, 1), 'b': (inc, 'a')}", &["b"]);
    s.want(7, &wanted);
    s.submit(7, defs);
    // w1 pauses before a is done, so b runs on w2, which then cannot reach w1 (stopped, say).
    s.heartbeat(1, WorkerReport { paused: true, ..WorkerReport::default() });
    s.add_worker(2, "w2".into(), 1, 0, Vec::new());
    s.done(1, vec![rec(Key::from("a"), 8)]);
    assert_eq!(s.state_of(&Key::from("b")), Some(&TaskState::Processing(2)));
    s.out.release.clear();
    s.missing(2, &Key::from("b"), &Key::from("a"), &["w1".to_owned()]);
    assert_eq!(s.out.release.get(&1), Some(&vec![Key::from("a").into()]), "w1 is told to drop its copy");
    assert_eq!(s.state_of(&Key::from("a")), Some(&TaskState::Processing(2)), "a is recomputed where it can run");
    assert_eq!(s.state_of(&Key::from("b")), Some(&TaskState::Waiting));
    s.check_groups();
}

#[test]
fn failures_propagate_to_dependents_and_clients_that_leave_release_everything() {
    let mut s = with_workers(1);
    s.add_client(8);
    let (defs, _) = tasks("{'a': (inc, 1), 'b': (inc, 'a'), 'x': (inc, 5)}", &["b", "x"]);
    s.want(7, &[Key::from("b")]);
    s.want(8, &[Key::from("x")]);
    s.submit(7, defs);
    let failure = DistFailure::Unrunnable("no such thing".into());
    s.erred(1, &Key::from("a"), failure);
    assert_eq!(s.state_of(&Key::from("b")), Some(&TaskState::Erred));
    assert!(s.error_of(&Key::from("b")).is_some_and(|e| e.contains("dependency 'a' failed")));
    run_assigned(&mut s);
    assert_eq!(s.state_of(&Key::from("x")), Some(&TaskState::Memory));
    s.remove_client(8);
    assert!(s.state_of(&Key::from("x")).is_none(), "x was wanted only by the client that left");
    s.remove_client(7);
    assert_eq!(s.stats().tasks_known, 0);
    s.check_groups();
}

#[test]
fn a_paused_worker_gets_no_new_tasks_until_it_resumes() {
    let mut s = State::default();
    s.add_worker(1, "w1".into(), 1, 0, Vec::new());
    s.add_worker(2, "w2".into(), 1, 0, Vec::new());
    s.heartbeat(1, WorkerReport { bytes_in_memory: 900, paused: true, ..WorkerReport::default() });
    s.add_client(7);
    let (defs, wanted) = tasks("{'a': (inc, 1), 'b': (inc, 2)}", &["a", "b"]);
    s.want(7, &wanted);
    s.submit(7, defs);
    assert!(!s.out.compute.contains_key(&1), "paused");
    assert_eq!(s.out.compute.get(&2).map(Vec::len), Some(2));
    assert_eq!(s.stats().workers_paused, 1);
    s.heartbeat(1, WorkerReport { bytes_in_memory: 100, bytes_spilled: 800, ..WorkerReport::default() });
    assert_eq!((s.stats().workers_paused, s.stats().bytes_spilled), (0, 800));
    s.check_groups();
}

#[test]
fn a_worker_that_pauses_gives_back_what_it_has_not_started() {
    let mut s = with_workers(1);
    let (defs, wanted) = tasks("{'a': (inc, 1), 'b': (inc, 2), 'c': (inc, 3)}", &["a", "b", "c"]);
    s.want(7, &wanted);
    s.submit(7, defs);
    assert_eq!(s.out.compute.get(&1).map(Vec::len), Some(3));
    s.out.compute.clear();
    s.add_worker(2, "w2".into(), 1, 0, Vec::new());
    s.heartbeat(1, WorkerReport { paused: true, ..WorkerReport::default() });
    let asked: Vec<Key> = s.out.steal.remove(&1).unwrap_or_default();
    assert_eq!(asked.len(), 3, "all of its tasks are asked back: {asked:?}");
    // It had started `a`; `b` and `c` come back and go to the worker that is not paused.
    s.stolen(1, &[Key::from("b"), Key::from("c")]);
    assert_eq!(s.out.compute.get(&2).map(Vec::len), Some(2));
    assert_eq!(s.state_of(&Key::from("a")), Some(&TaskState::Processing(1)));
    s.check_groups();
}

#[test]
fn an_idle_worker_steals_half_of_a_busy_worker_s_backlog() {
    let mut s = with_workers(1);
    let src: String = format!("{{{}}}", (0..20).map(|i| format!("'t{i}': (inc, {i})")).collect::<Vec<_>>().join(", "));
    let names: Vec<String> = (0..20).map(|i| format!("t{i}")).collect();
    let (defs, wanted) = tasks(&src, &names.iter().map(String::as_str).collect::<Vec<_>>());
    s.want(7, &wanted);
    s.submit(7, defs);
    assert_eq!(s.out.compute.remove(&1).map(|b| b.len()), Some(20), "all 20 fit w1's saturation");
    s.add_worker(2, "w2".into(), 1, 0, Vec::new());
    let asked = s.out.steal.remove(&1).expect("w1 is asked for its backlog");
    assert_eq!(asked.len(), 10, "half of what w1 cannot start at once, rounded up");
    assert!(asked.contains(&Key::from("t19")), "the last in priority order go first");
    // w1 had already started one of them; it gives back the rest.
    s.stolen(1, &asked[1..]);
    assert_eq!(s.out.compute.get(&2).map(Vec::len), Some(9));
    assert_eq!(s.state_of(&asked[0]), Some(&TaskState::Processing(1)));
    run_assigned(&mut s);
    s.done(1, (0..20).map(|i| rec(Key::from(format!("t{i}").as_str()), 8)).collect());
    for k in &wanted {
        assert_eq!(s.state_of(k), Some(&TaskState::Memory), "{k}");
    }
    s.check_groups();
}

#[test]
fn a_silent_worker_is_treated_as_dead() {
    use std::time::{Duration, Instant};
    let mut s = State::default();
    s.add_worker(1, "w1".into(), 1, 0, Vec::new());
    s.add_worker(2, "w2".into(), 1, 0, Vec::new());
    let later = Instant::now() + Duration::from_secs(20);
    s.seen(2, later);
    let gone = s.expire_silent_workers(later + Duration::from_secs(15), Duration::from_secs(30));
    assert_eq!(gone, vec![1], "w1 was last heard from 35 s ago, w2 15 s ago");
    assert_eq!((s.stats().workers, s.stats().workers_lost), (1, 1));
    s.check_groups();
}

#[test]
fn a_submission_in_chunks_keeps_what_later_chunks_depend_on() {
    let mut s = with_workers(1);
    let (defs, wanted) = tasks("{'a': (inc, 1), 'b': (inc, 'a'), 'c': (inc, 'b')}", &["c"]);
    s.want(7, &wanted);
    let mut defs = defs.into_iter();
    // `a` arrives and finishes before the chunk with its dependent arrives.
    s.submit_chunk(7, vec![defs.next().unwrap()], false);
    run_assigned(&mut s);
    assert_eq!(s.state_of(&Key::from("a")), Some(&TaskState::Released), "pinned: released but not forgotten");
    s.submit_chunk(7, defs.collect(), true);
    run_assigned(&mut s);
    assert_eq!(s.state_of(&Key::from("c")), Some(&TaskState::Memory));
    assert!(s.out.to_clients.is_empty(), "no error: {:?}", s.out.to_clients.len());
    // The same keys again, while the first graph's results are being released: the known
    // tasks are reused and kept until the submission ends.
    s.release(7, &wanted);
    let (defs, wanted) = tasks("{'a': (inc, 1), 'b': (inc, 'a'), 'c': (inc, 'b')}", &["c"]);
    s.want(7, &wanted);
    let mut defs = defs.into_iter();
    s.submit_chunk(7, vec![defs.next().unwrap(), defs.next().unwrap()], false);
    s.submit_chunk(7, defs.collect(), true);
    run_assigned(&mut s);
    assert_eq!(s.state_of(&Key::from("c")), Some(&TaskState::Memory));
    assert!(s.out.to_clients.is_empty());
    s.check_groups();
}

#[test]
fn groups_and_progress_follow_a_whole_run() {
    let mut s = with_workers(1);
    let (defs, wanted) =
        tasks("{'inc-1': (inc, 1), 'inc-2': (inc, 2), 'total-1': (add, 'inc-1', 'inc-2')}", &["total-1"]);
    s.want(7, &wanted);
    s.submit(7, defs);
    let stats = s.stats();
    let inc = stats.groups.iter().find(|g| g.name == "inc").unwrap();
    assert_eq!((inc.total, inc.states.queued + inc.states.processing), (2, 2));
    assert_eq!(stats.groups.iter().find(|g| g.name == "total").unwrap().dependencies, vec!["inc".to_owned()]);
    assert_eq!(s.progress_of(7), Some((0, 3)));
    s.progress_due(std::time::Instant::now());
    assert_eq!(std::mem::take(&mut s.out.progress), vec![(7, ToClient::Progress { done: 0, total: 3 })]);
    assert_eq!(run_assigned(&mut s), 3);
    assert_eq!(s.progress_of(7), Some((3, 3)));
    // Finished: sent at once, though 100 ms have not passed since the last.
    s.progress_due(std::time::Instant::now());
    assert_eq!(std::mem::take(&mut s.out.progress), vec![(7, ToClient::Progress { done: 3, total: 3 })]);
    s.progress_due(std::time::Instant::now());
    assert!(s.out.progress.is_empty(), "nothing new, nothing sent");
    let stats = s.stats();
    let inc = stats.groups.iter().find(|g| g.name == "inc").unwrap();
    assert_eq!((inc.runs, inc.nbytes, inc.duration_s), (2, 16, 0.004));
    assert_eq!(stats.states.memory, 1, "only the wanted result is kept");
    let (events, next) = s.task_stream(0);
    assert_eq!((events.len(), next), (3, 3));
    assert_eq!(events.iter().map(|e| e.group.as_str()).collect::<Vec<_>>(), ["inc", "inc", "total"]);
    assert!(events.iter().all(|e| e.worker == "w1"));
    s.check_groups();
}

#[test]
fn a_failed_task_counts_as_finished_in_its_clients_progress() {
    let mut s = with_workers(1);
    let (defs, wanted) = tasks("{'a': (inc, 1), 'b': (inc, 'a')}", &["b"]);
    s.want(7, &wanted);
    s.submit(7, defs);
    s.erred(1, &Key::from("a"), DistFailure::Unrunnable("boom".into()));
    assert_eq!(s.progress_of(7), Some((2, 2)), "a and its dependent b are both finished, in error");
    s.check_groups();
}

#[test]
fn roots_with_large_results_wait_for_room_on_the_scheduler() {
    let mut s = with_workers(1);
    let n = 60;
    // One group, `r`: the blocks of one array.
    let src: String =
        format!("{{{}}}", (0..n).map(|i| format!("('r', {i}): (inc, {i})")).collect::<Vec<_>>().join(", "));
    let graph = parse_graph(&src).unwrap();
    let wanted: Vec<Key> = (0..n).map(|i| Key::from(("r", i as i64))).collect();
    let plan = Plan::build_with(&graph, &wanted, &Registry::new(), &rask_graph::PlanOptions::unoptimized()).unwrap();
    s.want(7, &wanted);
    s.submit(7, plan_tasks(&plan, |_| false).collect());
    // Nothing is known of the group yet: the usual saturation.
    let first = s.out.compute.remove(&1).unwrap_or_default();
    assert_eq!(first.len(), 1 + SATURATION);
    // Each makes 8 MB: from now on the worker holds at most nthreads + 1 of them.
    let mut in_flight: Vec<Key> = first.into_iter().map(|a| a.task.key.into_key()).collect();
    let mut done = 0;
    while let Some(key) = in_flight.pop() {
        s.done(1, vec![rec(key, 8 << 20)]);
        done += 1;
        let more: Vec<Key> =
            s.out.compute.remove(&1).unwrap_or_default().into_iter().map(|a| a.task.key.into_key()).collect();
        in_flight.extend(more);
        if done > SATURATION {
            assert!(in_flight.len() <= 2, "at most nthreads + 1 large roots in flight, not {}", in_flight.len());
        }
    }
    assert_eq!(done, n, "every root ran");
    s.check_groups();
}

#[test]
fn scattered_data_lost_with_its_only_holder_is_an_error_not_a_recomputation() {
    let mut s = with_workers(2);
    s.scatter(7, vec![(Key::from("data"), rask_graph::Value::Int(5))], false);
    let (w, items) = s.out.store.drain().next().expect("sent to one worker");
    assert_eq!(s.state_of(&Key::from("data")), Some(&TaskState::Processing(w)), "until the worker has it");
    s.stored(w, vec![(items[0].0.clone(), 8)], &[]);
    assert_eq!(s.state_of(&Key::from("data")), Some(&TaskState::Memory));
    assert_eq!(s.out.finished.get(&7), Some(&vec![Key::from("data")]));
    // A copy on the other worker is asked for; that worker dies before it lands: the
    // replicate is still answered, with the one holder there is.
    let other = 3 - w;
    s.replicate(7, vec![Key::from("data")], 2);
    assert_eq!(s.out.fetch.get(&other).map(Vec::len), Some(1));
    s.out.to_clients.clear();
    s.remove_worker(other);
    let answered = s
        .out
        .to_clients
        .iter()
        .any(|(c, m)| *c == 7 && matches!(m, ToClient::WhoHas { holders } if holders[0].1.len() == 1));
    assert!(answered, "{:?}", s.out.to_clients);
    // The only holder dies: no computation can remake it.
    s.remove_worker(w);
    assert_eq!(s.state_of(&Key::from("data")), Some(&TaskState::Erred));
    let error = s.error_of(&Key::from("data"));
    assert!(error.is_some_and(|e| e.contains("scattered")), "{error:?}");
    s.remove_client(7);
    assert_eq!(s.stats().tasks_known, 0);
}

#[test]
fn resources_are_never_oversubscribed_and_a_task_no_worker_can_serve_waits_for_one() {
    let mut s = State::default();
    s.add_worker(1, "w1".into(), 8, 0, vec![("GPU".into(), 2.0)]);
    s.add_client(7);
    let names: Vec<String> = (0..5).map(|i| format!("g{i}")).chain(["big".into()]).collect();
    let src = format!(
        "{{{}}}",
        names.iter().enumerate().map(|(i, n)| format!("'{n}': (inc, {i})")).collect::<Vec<_>>().join(", ")
    );
    let (mut defs, wanted) = tasks(&src, &names.iter().map(String::as_str).collect::<Vec<_>>());
    for def in &mut defs {
        let gpus = if def.key == Key::from("big") { 3.0 } else { 1.0 };
        def.hints = Some(Box::new(rask_graph::Annotations::new().resource("GPU", gpus)));
    }
    s.want(7, &wanted);
    s.submit(7, defs);
    let mut finished = 0;
    while finished < 5 {
        let batch = s.out.compute.remove(&1).unwrap_or_default();
        assert!(!batch.is_empty(), "work is handed out as GPUs free up");
        let processing = s.stats().worker_status[0].processing;
        assert!(processing <= 2, "two GPUs, {processing} tasks holding them");
        for a in batch {
            finished += 1;
            s.done(1, vec![rec(a.task.key.into_key(), 8)]);
        }
    }
    assert_eq!(s.state_of(&Key::from("big")), Some(&TaskState::Queued), "waits, not erred");
    assert_eq!(s.stats().tasks_no_worker, 1);
    s.add_worker(2, "w2".into(), 1, 0, vec![("GPU".into(), 4.0)]);
    assert_eq!(s.state_of(&Key::from("big")), Some(&TaskState::Processing(2)), "runs where it fits");
    assert_eq!(s.stats().tasks_no_worker, 0);
    s.check_groups();
}

#[test]
fn a_retiring_worker_hands_over_what_only_it_holds_then_leaves_without_counting_as_lost() {
    let mut s = with_workers(2);
    let (defs, wanted) = tasks("{'a': (inc, 1), 'b': (inc, 2)}", &["a", "b"]);
    s.want(7, &wanted);
    s.submit(7, defs);
    for (w, batch) in std::mem::take(&mut s.out.compute) {
        for a in batch {
            s.done(w, vec![rec(a.task.key.into_key(), 8)]);
        }
    }
    let on_w1: Vec<Key> =
        ["a", "b"].into_iter().map(Key::from).filter(|k| s.who_has(std::slice::from_ref(k))[0].1 == ["w1"]).collect();
    s.retire_workers(7, &["w1".to_owned()]);
    s.progress_retirements();
    // Each result only w1 holds is fetched by w2, from w1.
    let fetches = s.out.fetch.remove(&2).unwrap_or_default();
    assert_eq!(fetches.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(), on_w1);
    assert!(s.out.retired.is_empty(), "not before its results are elsewhere");
    let items = fetches.into_iter().map(|(k, _)| (k, 8)).collect();
    s.stored(2, items, &[]);
    s.progress_retirements();
    assert_eq!(s.out.retired, vec![1]);
    let answered = s.out.to_clients.iter().any(|(c, m)| {
        *c == 7 && matches!(m, ToClient::Retired { workers, refused: None } if workers == &["w1".to_owned()])
    });
    assert!(answered, "{:?}", s.out.to_clients);
    let stats = s.stats();
    assert_eq!((stats.workers, stats.workers_retired, stats.workers_lost, stats.tasks_recomputed), (1, 1, 0, 0));
    for k in ["a", "b"] {
        assert_eq!(s.state_of(&Key::from(k)), Some(&TaskState::Memory), "{k} kept, on w2");
    }
    // The last worker cannot be retired by a client.
    s.out.to_clients.clear();
    s.retire_workers(7, &["w2".to_owned()]);
    assert!(
        matches!(&s.out.to_clients[..], [(7, ToClient::Retired { refused: Some(_), .. })]),
        "{:?}",
        s.out.to_clients
    );
    s.check_groups();
}

#[test]
fn a_restart_errs_every_wanted_key_and_forgets_every_task_and_worker() {
    let mut s = with_workers(1);
    let (defs, wanted) = tasks("{'a': (inc, 1), 'b': (inc, 'a')}", &["b"]);
    s.want(7, &wanted);
    s.submit(7, defs);
    s.out.to_clients.clear();
    s.restart(7);
    assert_eq!(s.out.restart, vec![1]);
    let erred: Vec<&Key> = s
        .out
        .to_clients
        .iter()
        .filter_map(|(_, m)| match m {
            ToClient::Erred { key, error, .. } if error.contains("restarted") => Some(key),
            _ => None,
        })
        .collect();
    assert_eq!(erred, [&Key::from("b")]);
    assert!(s.out.to_clients.iter().any(|(c, m)| *c == 7 && matches!(m, ToClient::Restarted { workers: 1 })));
    let stats = s.stats();
    assert_eq!((stats.workers, stats.tasks_known, stats.restarts), (0, 0, 1));
    // Work goes on once a worker joins again.
    s.add_worker(2, "w1b".into(), 1, 0, Vec::new());
    let (defs, wanted) = tasks("{'c': (inc, 1)}", &["c"]);
    s.want(7, &wanted);
    s.submit(7, defs);
    run_assigned(&mut s);
    assert_eq!(s.state_of(&Key::from("c")), Some(&TaskState::Memory));
    s.check_groups();
}

#[test]
fn a_long_gap_between_ticks_is_told_apart_as_a_busy_loop_or_a_stopped_process() {
    let s = Duration::from_secs;
    assert_eq!(Stall::of(s(1), s(0)), None, "ticks on time");
    assert_eq!(Stall::of(s(5), s(4)), Some(Stall::Busy), "the tick waited behind a backlog");
    assert_eq!(Stall::of(s(5), Duration::from_millis(1)), Some(Stall::Stopped), "the tick itself came late");
}

/// A submission streamed in chunks names dependencies in earlier chunks by position; a task
/// whose dependency was refused, or names a position not yet sent, is an error naming it.
#[test]
fn a_submission_names_earlier_tasks_by_position_across_its_chunks() {
    let mut s = with_workers(1);
    let (mut defs, wanted) = tasks("{'a': (inc, 1), 'b': (inc, 'a'), 'c': (add, 'a', 'b'), 'd': (inc, 'c')}", &["d"]);
    assert!(defs.iter().flat_map(|d| &d.deps).all(|dep| matches!(dep, Dep::Earlier(_))));
    let rest = defs.split_off(2);
    s.want(7, &wanted);
    s.submit_chunk(7, defs, false);
    s.submit_chunk(7, rest, true);
    assert_eq!(run_assigned(&mut s), 4);
    assert!(s.out.finished.get(&7).is_some_and(|keys| keys.contains(&Key::from("d"))));

    let mut s = with_workers(1);
    let (mut defs, _) = tasks("{'p': (inc, 1), 'q': (inc, 'p'), 'r': (inc, 'q')}", &["r"]);
    defs[0].deps.push(Dep::Earlier(9));
    defs[1].deps = vec![Dep::Key(Key::from("nowhere"))];
    s.want(7, &[Key::from("r")]);
    s.submit(7, defs);
    let errors = errors(&s);
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(errors[0].1.contains("task 9 of its submission, which has not been sent before it"), "{errors:?}");
    assert!(errors[1].1.contains("'nowhere', which the scheduler does not know"), "{errors:?}");
    assert!(errors[2].1.contains("task 1 of its submission, which was refused"), "{errors:?}");
    assert_eq!(s.stats().tasks_known, 0);
    s.check_groups();
}

/// A record names its task by the assignment's id as well as by key: the id is only a hint.
/// One whose id is out of range or now another task's still finds its task by key.
#[test]
fn a_record_s_id_is_a_hint_checked_against_its_key() {
    let mut s = with_workers(1);
    let (defs, wanted) = tasks("{'a': (inc, 1), 'b': (inc, 2), 'c': (add, 'a', 'b')}", &["c"]);
    s.want(7, &wanted);
    s.submit(7, defs);
    let sent: Vec<_> = s.out.compute.remove(&1).unwrap();
    let id_of = |k: &str| sent.iter().find(|a| *a.task.key.key() == Key::from(k)).map(|a| a.id).unwrap();
    // 'a' reported under 'b''s id, 'b' under an id no task has.
    let a = TaskRecord { id: id_of("b"), ..rec(Key::from("a"), 8) };
    s.done(1, vec![a]);
    assert_eq!(s.state_of(&Key::from("a")), Some(&TaskState::Memory));
    assert_eq!(s.state_of(&Key::from("b")), Some(&TaskState::Processing(1)), "not taken for 'a'");
    s.done(1, vec![TaskRecord { id: 1 << 30, ..rec(Key::from("b"), 8) }]);
    assert_eq!(s.state_of(&Key::from("b")), Some(&TaskState::Memory));
    // 'c' by its own id.
    let c = s.out.compute.remove(&1).unwrap().remove(0);
    s.done(1, vec![TaskRecord { id: c.id, ..rec(c.task.key.into_key(), 8) }]);
    assert!(s.out.finished.get(&7).is_some_and(|keys| keys.contains(&Key::from("c"))));
    s.check_groups();
}
