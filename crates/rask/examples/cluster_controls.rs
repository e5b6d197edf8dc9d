//! Cluster controls on a local cluster: tasks that submit tasks, retries and priorities,
//! resources, scattered data, a queue shared by the client and its tasks, and the async
//! client. `cargo run --release -p rask --example cluster_controls`
use rask::distributed::{Arg, AsyncClient, LocalCluster, Queue};
use rask::graph::Annotations;
use rask::{Key, Value};

/// Fibonacci by tasks that submit tasks. Each call asks the cluster for its two halves under
/// shared keys (`fib-N`: each N is computed once, by whichever task asks first) and waits for
/// them without holding a worker thread, so two one-thread workers never deadlock.
#[rask::task]
fn fib(n: i64) -> Result<i64, Box<dyn std::error::Error>> {
    if n < 2 {
        return Ok(n);
    }
    let client = rask::worker_client()?;
    let half = |m: i64| {
        let key = Key::str(&format!("fib-{m}"));
        client.submit_as(key, rask::task_name!(fib), [Arg::from(m)], &Annotations::new())
    };
    let (a, b) = (half(n - 1)?, half(n - 2)?);
    let values = client.gather(&[a, b])?;
    Ok(rask::from_value::<i64>(&values[0])? + rask::from_value::<i64>(&values[1])?)
}

/// Fills the queue `jobs` with `n` numbers, from inside a task.
#[rask::task]
fn produce(n: i64) -> Result<i64, Box<dyn std::error::Error>> {
    let client = rask::worker_client()?;
    let jobs = Queue::new(&client, "jobs");
    for i in 0..n {
        jobs.put(i, None)?;
    }
    Ok(n)
}

pub fn main() -> Result<(), rask::Error> {
    rask::init();
    let mut cluster = LocalCluster::new(2, 1)?;
    let client = cluster.client()?;

    let f = client.submit(rask::task_name!(fib), [Arg::from(20)])?;
    println!("fib(20) by tasks that submit tasks: {}", f.result()?);
    assert_eq!(f.result()?, Value::Int(6765));

    // Retried up to twice if it fails; ahead of everything queued with a lower priority.
    let urgent = client.submit_with("inc", [Arg::from(1)], &Annotations::new().retries(2).priority(10))?;
    assert_eq!(urgent.result()?, Value::Int(2));

    // Only the worker that declared a GPU runs this; it waits until one has joined.
    cluster.add_worker_with(0, &[("GPU", 1.0)])?;
    let on_gpu = client.submit_with("inc", [Arg::from(2)], &Annotations::new().resource("GPU", 1.0))?;
    assert_eq!(on_gpu.result()?, Value::Int(3));

    // A large input sent once, on every worker, then used by many tasks.
    let table = client.scatter([Value::str(&"row\n".repeat(10_000))], true)?;
    let sizes = (0..4).map(|_| client.submit("len", [Arg::from(&table[0])])).collect::<Result<Vec<_>, _>>()?;
    assert!(client.gather(&sizes)?.iter().all(|v| *v == Value::Int(40_000)));
    println!("the table is on {} workers", client.who_has(&table)?[0].1.len());

    // A queue filled by a task and drained by the client.
    let produced = client.submit(rask::task_name!(produce), [Arg::from(5)])?;
    let jobs = Queue::new(&client, "jobs");
    let drained: Vec<Value> = (0..5).filter_map(|_| jobs.get(None).ok()?.into_value()).collect();
    assert_eq!(drained, (0..5).map(Value::Int).collect::<Vec<_>>());
    assert_eq!(produced.result()?, Value::Int(5));

    // The same cluster from async code: futures are awaited, not waited on.
    let address = cluster.address();
    let runtime = tokio::runtime::Builder::new_current_thread().build().map_err(rask_io)?;
    let total = runtime.block_on(async {
        let client = AsyncClient::connect(&address).await?;
        let xs = client.map("inc", (0..10).map(Value::Int))?;
        let total = client.submit("sum", [Arg::from(client.gather(&xs).await?)])?;
        total.await
    })?;
    assert_eq!(total, Value::Int(55));
    println!("sum over the async client: {total}");
    Ok(())
}

fn rask_io(e: std::io::Error) -> rask::Error {
    rask::Error::Cluster(e.into())
}
