//! Where tasks go when their inputs are large and their workers busy: the worker that starts
//! them first, counting what fetching their inputs costs from where they are.

use rask_graph::Key;
use rask_protocol::dist::{TaskRecord, NO_ID};

use super::state::{State, TaskState};
use super::tests::{sent, tasks};

/// `key` finished after `run_us`, making `nbytes`.
fn ran(key: &str, run_us: u64, nbytes: u64) -> TaskRecord {
    TaskRecord {
        key: Key::from(key),
        nbytes,
        start_us: 0,
        stop_us: run_us,
        thread: 0,
        transfers: Vec::new(),
        id: NO_ID,
    }
}

/// Worker 1 at 127.0.0.1, worker 2 at `second`'s host; `'big'` (8 MB, on worker 1) read by
/// `consumers` tasks.
fn two_workers_and_a_big_input(second: &str, consumers: usize) -> State {
    let mut s = State::default();
    s.add_worker(1, "127.0.0.1:4001".into(), 1, 0, Vec::new());
    s.add_client(7);
    let readers: Vec<String> = (0..consumers).map(|i| format!("'c{i}': (inc, 'big')")).collect();
    let names: Vec<String> = (0..consumers).map(|i| format!("c{i}")).collect();
    let (defs, wanted) = tasks(
        &format!("{{'big': (inc, 0), {}}}", readers.join(", ")),
        &names.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    s.want(7, &wanted);
    s.submit(7, defs);
    assert_eq!(sent(&mut s, 1), [Key::from("big")]);
    s.add_worker(2, second.into(), 1, 0, Vec::new());
    s
}

#[test]
fn a_task_goes_where_it_starts_first_counting_the_fetch_of_its_inputs() {
    for (second, near) in [("127.0.0.1:4002", true), ("10.0.0.2:4002", false)] {
        let mut s = two_workers_and_a_big_input(second, 3);
        // `big` took 60 ms: worker 1 is busy that long with each task it queues.
        s.done(1, vec![ran("big", 60_000, 8 << 20)]);
        let (first, second_worker) = (sent(&mut s, 1), sent(&mut s, 2));
        assert!(first.contains(&Key::from("c0")), "the holder starts one at once: {first:?}");
        // The next would wait 60 ms behind it there; a peer on the same host maps the 8 MB in
        // about 2 ms, one across the network would take 80 ms to receive it.
        let c1 = s.state_of(&Key::from("c1")).cloned();
        if near {
            assert_eq!(c1, Some(TaskState::Processing(2)), "sent to the idle peer on this host: {second_worker:?}");
        } else {
            assert_eq!(c1, Some(TaskState::Processing(1)), "kept with its input: {first:?}");
        }
    }
}

#[test]
fn an_idle_worker_steals_long_tasks_whose_inputs_it_can_fetch_sooner_than_they_run() {
    for (second, near) in [("127.0.0.1:4002", true), ("10.0.0.2:4002", false)] {
        let mut s = State::default();
        s.add_worker(1, "127.0.0.1:4001".into(), 1, 0, Vec::new());
        s.add_client(7);
        // One group (`c`), so the first one's running time tells what the others will take.
        let src = "{'big': (inc, 0), ('c', 0): (inc, 'big'), ('c', 1): (inc, 'big'), ('c', 2): (inc, 'big')}";
        let graph = rask_graph::parse_graph(src).unwrap();
        let wanted: Vec<Key> = (0..3).map(|i| Key::from(("c", i as i64))).collect();
        let options = rask_graph::PlanOptions::unoptimized();
        let plan = rask_graph::Plan::build_with(&graph, &wanted, &rask_graph::Registry::new(), &options).unwrap();
        let defs = crate::client::plan_tasks(&plan, |_| false).collect();
        s.want(7, &wanted);
        s.submit(7, defs);
        s.done(1, vec![ran("big", 1_000, 8 << 20)]);
        assert_eq!(sent(&mut s, 1).len(), 4, "a millisecond a task: all three queued on worker 1");
        // The first took 60 ms; the other two wait on worker 1 when a second worker joins.
        s.done(1, vec![TaskRecord { key: wanted[0].clone(), ..ran("c0", 60_000, 8) }]);
        s.add_worker(2, second.into(), 1, 0, Vec::new());
        let asked = s.out.steal.remove(&1).unwrap_or_default();
        if near {
            assert_eq!(asked, [wanted[2].clone()], "the last in order, worth moving: 2 ms to map, 60 ms to run");
            s.stolen(1, &asked);
            assert_eq!(sent(&mut s, 2), [wanted[2].clone()], "and it starts on the idle worker");
        } else {
            assert!(asked.is_empty(), "80 ms to fetch for a 60 ms task: left where it is ({asked:?})");
        }
        s.check_groups();
    }
}

#[test]
fn a_worker_whose_tasks_turn_out_long_gives_back_the_queue_it_was_sent_before() {
    let mut s = State::default();
    s.add_worker(1, "127.0.0.1:4001".into(), 1, 0, Vec::new());
    s.add_client(7);
    let src: String = format!("{{{}}}", (0..40).map(|i| format!("'t{i}': (inc, {i})")).collect::<Vec<_>>().join(", "));
    let names: Vec<String> = (0..40).map(|i| format!("t{i}")).collect();
    let (defs, wanted) = tasks(&src, &names.iter().map(String::as_str).collect::<Vec<_>>());
    s.want(7, &wanted);
    s.submit(7, defs);
    let first = sent(&mut s, 1);
    assert_eq!(first.len(), 1 + super::state::SATURATION, "nothing known yet: the usual depth");
    // The first took a second: one queued task is all it may have now, so all but that one
    // and the running one come back.
    s.done(1, vec![TaskRecord { key: first[0].clone(), ..ran("t0", 1_000_000, 8) }]);
    let asked = s.out.steal.remove(&1).expect("the excess is asked back");
    assert_eq!(asked.len(), super::state::SATURATION - 2);
    assert!(asked.contains(first.last().unwrap()), "the last in priority order first");
    assert!(!asked.contains(&first[1]) && !asked.contains(&first[2]), "it keeps what it will run next");
    s.stolen(1, &asked);
    assert_eq!(s.state_of(&asked[0]), Some(&TaskState::Queued), "waiting here again");
    s.check_groups();
}
