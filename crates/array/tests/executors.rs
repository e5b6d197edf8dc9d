//! Arrays on threads, worker processes and a local cluster: the same answers everywhere,
//! files written by the workers, persisted blocks kept on the cluster, and no shared-memory
//! segment left behind.
//!
//! Own `main` (`harness = false`): the executors re-execute this binary as their workers.

#[path = "../../distributed/tests/alike/mod.rs"]
mod alike;
#[path = "../../exec/tests/common/mod.rs"]
mod common;

use rask_array::{s, Array, Chunks, DType};
use rask_exec::Executor;
use rask_graph::{register, Arity, TaskError, Value};

fn main() {
    rask_distributed::worker_main_if_requested();
    common::run_tests(&[
        ("arrays_give_the_same_answers_on_threads_processes_and_a_cluster", same_answers),
        ("npy_and_zarr_files_round_trip_through_the_workers", files_round_trip),
        ("corrupt_files_are_errors_naming_them", corrupt_files),
    ]);
}

/// A user's block function: each element squared, plus the block's first element.
fn square_plus_first(args: &[Value]) -> Result<Value, TaskError> {
    let Value::Array(a) = &args[0] else { return Err(TaskError::type_error("a block")) };
    let xs = a.as_f64().ok_or_else(|| TaskError::type_error("float64 blocks"))?;
    let first = xs.first().copied().unwrap_or(0.0);
    let out: Vec<f64> = xs.iter().map(|x| x * x + first).collect();
    Ok(Value::Array(rask_graph::Array::from_shape_vec(a.shape(), out).map_err(TaskError::value_error)?))
}
register!("array_test_square_plus_first", Arity::Exact(1), square_plus_first);

fn summary(ex: &dyn Executor) -> Vec<String> {
    let x = Array::random_uniform(&[300, 240], Chunks::uniform(&[70, 50]), 7);
    let col = |a: &Array| {
        format!("{:?}", a.compute::<f64>(ex).unwrap().iter().map(|v| (v * 1e9).round() / 1e9).collect::<Vec<_>>())
    };
    let one = |a: &Array| format!("{:.9}", a.compute_scalar::<f64>(ex).unwrap());
    let square = x.slice(s![..240, ..]);
    let persisted = (&x * 2.0).persist(ex).unwrap();
    vec![
        col(&(&square + &square.t()).sum_axis(0)),
        col(&x.mean(Some(0))),
        one(&x.std(None)),
        one(&x.slice(s![..200;2, 10..;3]).sum(None)),
        col(&x.matmul(&x.t()).slice(s![..5, ..5])),
        one(&x.rechunk(Chunks::uniform(&[300, 17])).max(None)),
        one(&((&x * &x + 1.0).sqrt() * 2.0 - &x).sum(None)),
        one(&x.map_blocks("array_test_square_plus_first", DType::F64).sum(None)),
        one(&x.mask(&x.gt(0.9)).sum(None)),
        format!("{}", x.argmax(None).compute_scalar::<i64>(ex).unwrap()),
        one(&persisted.sum(None)),
        one(&(&persisted - &x).sum(None)),
        format!("{:?}", Array::arange(0, 50, 3, 4).astype(DType::I32).compute::<i32>(ex).unwrap().iter().sum::<i32>()),
    ]
}

fn same_answers() {
    alike::agree_on_every_executor(summary);
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("rask-array-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn files_round_trip() {
    let dir = scratch("files");
    let x = Array::random_normal(&[130, 90], Chunks::uniform(&[40, 25]), 3);
    let want = x.compute::<f64>(&rask_exec::SyncExecutor).unwrap();
    let cluster = rask_distributed::LocalCluster::new(2, 1).expect("a local cluster starts");
    let client = cluster.client().expect("a client connects");
    let executors: Vec<Box<dyn Executor>> = vec![Box::new(rask_exec::ProcessExecutor::new(2)), Box::new(client)];
    for ex in &executors {
        let npy = dir.join("x.npy");
        x.to_npy(&npy, ex.as_ref()).unwrap();
        // The bytes are NumPy's: a 128-byte header, then the elements in C order.
        let bytes = std::fs::read(&npy).unwrap();
        assert_eq!(&bytes[..6], b"\x93NUMPY");
        let data: Vec<f64> = bytes[128..].chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect();
        assert_eq!(data, want.iter().copied().collect::<Vec<_>>(), "{}: .npy bytes", ex.name());
        let back = Array::from_npy(&npy, Chunks::uniform(&[33, 90])).unwrap();
        assert_eq!(back.compute::<f64>(ex.as_ref()).unwrap(), want, "{}: .npy read back", ex.name());

        for v3 in [false, true] {
            let zarr = dir.join(if v3 { "x3.zarr" } else { "x2.zarr" });
            let _ = std::fs::remove_dir_all(&zarr);
            let ints = x.gt(0.0).astype(DType::I32);
            if v3 { ints.to_zarr_v3(&zarr, ex.as_ref()) } else { ints.to_zarr(&zarr, ex.as_ref()) }.unwrap();
            let chunk0 = zarr.join(if v3 { "c/0/0" } else { "0.0" });
            assert_eq!(std::fs::metadata(&chunk0).unwrap().len(), 40 * 25 * 4, "whole chunks, edges padded");
            let back = Array::from_zarr(&zarr, Some(Chunks::uniform(&[50, 50]))).unwrap();
            assert_eq!(back.dtype(), DType::I32);
            assert_eq!(
                back.compute::<i32>(ex.as_ref()).unwrap(),
                want.mapv(|v| (v > 0.0) as i32),
                "{}: zarr v3={v3}",
                ex.name()
            );
        }
    }
    drop(executors);
    assert_eq!(alike::leftovers_after(cluster), Vec::<String>::new());
    std::fs::remove_dir_all(&dir).unwrap();
}

fn corrupt_files() {
    let dir = scratch("corrupt");
    let npy = dir.join("x.npy");
    Array::ones(&[10, 10], [5]).to_npy(&npy, &rask_exec::SyncExecutor).unwrap();
    let full = std::fs::read(&npy).unwrap();
    std::fs::write(&npy, &full[..full.len() - 8]).unwrap();
    let err = Array::from_npy(&npy, [5]).unwrap_err().to_string();
    assert!(err.contains("x.npy") && err.contains("header promises"), "{err}");
    std::fs::write(&npy, b"not numpy at all").unwrap();
    assert!(Array::from_npy(&npy, [5]).unwrap_err().to_string().contains("no \\x93NUMPY magic"));
    // A file that shrinks after the graph was built: the reading task's error names it.
    std::fs::write(&npy, &full).unwrap();
    let lazy = Array::from_npy(&npy, [5]).unwrap();
    std::fs::write(&npy, &full[..200]).unwrap();
    let err = lazy.sum(None).compute::<f64>(&rask_exec::ThreadedExecutor::new(2)).unwrap_err().to_string();
    assert!(err.contains("array_read_npy") && err.contains("truncated"), "{err}");

    let zarr = dir.join("z.zarr");
    Array::ones(&[10], [4]).to_zarr(&zarr, &rask_exec::SyncExecutor).unwrap();
    std::fs::write(zarr.join("1"), b"short").unwrap();
    let err = Array::from_zarr(&zarr, None).unwrap().compute::<f64>(&rask_exec::SyncExecutor).unwrap_err().to_string();
    assert!(err.contains("corrupt Zarr chunk"), "{err}");
    let meta = std::fs::read_to_string(zarr.join(".zarray"))
        .unwrap()
        .replace("\"compressor\": null", "\"compressor\": {\"id\": \"blosc\"}");
    std::fs::write(zarr.join(".zarray"), meta).unwrap();
    assert!(Array::from_zarr(&zarr, None).unwrap_err().to_string().contains("compressor \"blosc\" is not supported"));
    std::fs::remove_dir_all(&dir).unwrap();
}
