//! Chunked arrays: Dask's first example, `(x + x.T).sum(axis=0)`, on a 4000×4000 random
//! array in 500×500 chunks (128 MB in all), computed on a local cluster of two worker
//! processes; then the same array written to a `.npy` file by the workers, read back lazily,
//! sliced and reduced.
//! `cargo run --release -p rask --example arrays`
use rask::array::{s, Array, Chunks};

pub fn main() -> Result<(), rask::Error> {
    rask::init();
    let cluster = rask::distributed::LocalCluster::new(2, 1)?;
    let exec = cluster.client()?;

    let x = Array::random_uniform(&[4000, 4000], Chunks::uniform(&[500, 500]), 42);
    let y = (&x + &x.t()).sum_axis(0);
    println!("{y:?}: {} tasks", y.task_count());
    let v: rask::array::ndarray::ArrayD<f64> = y.compute(&exec)?;
    // Each column of x + x.T sums 8000 uniform numbers: about 4000.
    let mean = v.mean().unwrap_or(0.0);
    println!("column sums of x + x.T: {} values, mean {mean:.1}", v.len());
    assert!((mean - 4000.0).abs() < 50.0);

    let path = std::env::temp_dir().join(format!("rask-example-{}.npy", std::process::id()));
    x.to_npy(&path, &exec)?;
    let back = Array::from_npy(&path, Chunks::uniform(&[1000, 1000]))?;
    let z = back.slice(s![..2000, ..;3]).std(None).compute_scalar::<f64>(&exec)?;
    // The standard deviation of uniform numbers: 1/√12.
    println!("std of x[:2000, ::3] read back from {}: {z:.4}", path.display());
    assert!((z - (1.0f64 / 12.0).sqrt()).abs() < 0.01);
    std::fs::remove_file(&path).ok();
    Ok(())
}
