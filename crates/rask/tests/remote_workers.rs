//! Your own functions on a cluster: this binary is its own worker (`my-app worker tcp://…`,
//! through `rask::worker_main_from_args`), joins a scheduler, and serves this binary's typed
//! tasks, which a stock worker could not. Own `main` (`harness = false`): the workers are this
//! binary, run again with `worker ADDR`.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rask::prelude::*;

#[rask::task]
fn cube(x: i64) -> i64 {
    x * x * x
}

#[rask::task]
fn total(xs: Vec<i64>) -> i64 {
    xs.iter().sum()
}

fn main() {
    rask::init();
    rask::worker_main_from_args();
    let scheduler = rask::distributed::SchedulerThread::start("127.0.0.1:0", None).unwrap();
    let address = format!("tcp://{}", scheduler.addr());
    let mut workers: Vec<_> = (0..2)
        .map(|_| {
            Command::new(std::env::current_exe().unwrap())
                .args(["worker", &address, "--nthreads", "2"])
                .stdin(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let client = rask::distributed::Client::connect(&address).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while client.stats().unwrap().workers < 2 {
        assert!(Instant::now() < deadline, "the workers did not join");
        std::thread::sleep(Duration::from_millis(20));
    }
    let cubes: Vec<Delayed<i64>> = (1..=10).map(|x| cube(lit(x))).collect();
    let exec = rask::executor(&address).unwrap();
    assert_eq!(total(cubes).compute(&exec).unwrap(), 3025);
    // Typed futures: start at once, read their results, feed them to later tasks by key.
    let futures: Vec<Future<i64>> = (1..=10).map(|x| cube(lit(x)).persist(&client)).collect::<Result<_, _>>().unwrap();
    assert_eq!(futures[2].result().unwrap(), 27);
    let mut finished: Vec<i64> = rask::as_completed(&client, futures.clone()).map(|f| f.result().unwrap()).collect();
    finished.sort();
    assert_eq!(finished, (1..=10).map(|x| x * x * x).collect::<Vec<_>>());
    let sum = total(&futures[..]);
    assert_eq!(sum.compute(&client).unwrap(), 3025);
    let later = cube(&futures[1]).persist(&client).unwrap();
    assert_eq!(later.result().unwrap(), 512);
    drop((futures, sum, later));
    let deadline = Instant::now() + Duration::from_secs(10);
    while client.stats().unwrap().tasks_known > 0 {
        assert!(Instant::now() < deadline, "dropped futures release their results");
        std::thread::sleep(Duration::from_millis(20));
    }
    println!("remote workers of this binary served its typed tasks and futures: 1 passed, 0 failed");
    for w in &mut workers {
        let _ = w.kill();
        let _ = w.wait();
    }
}
