//! Futures on a cluster, Dask's `client.submit` / `client.map` / `as_completed`: tasks start as
//! soon as they are submitted, results are taken in the order they finish, and what depends on
//! a future waits for it on the cluster, not in the client.
//! `cargo run --release -p rask --example futures`
use rask::distributed::{Arg, LocalCluster};
use rask::Value;

pub fn main() -> Result<(), rask::Error> {
    rask::init();
    let cluster = LocalCluster::new(2, 1)?;
    let client = cluster.client()?;
    // Sleeps of different lengths: they finish out of submission order.
    let naps = client.map("sleep", [0.3, 0.1, 0.2].into_iter().map(Value::Float))?;
    let order: Vec<String> = client.as_completed(naps).map(|f| f.key().to_string()).collect();
    println!("finished in this order: {order:?}");
    let x = client.submit("inc", [Arg::from(41)])?;
    let y = client.submit("mul", [Arg::from(&x), Arg::from(2)])?;
    assert_eq!(y.result()?, Value::Int(84));
    let squares = client.map("inc", (0..10).map(Value::Int))?;
    assert_eq!(client.gather(&squares)?, (1..=10).map(Value::Int).collect::<Vec<_>>());
    println!("y = {}", y.result()?);
    Ok(())
}
