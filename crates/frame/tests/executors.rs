//! Frames on worker processes and on a cluster: the same graphs, the same answers as threads.
//! Record batches cross process boundaries as Arrow IPC (`rask_graph::ext`).
//!
//! Own `main` (`harness = false`): the executors re-execute this binary as their workers.

#[path = "../../exec/tests/common/mod.rs"]
mod common;

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use rask_distributed::LocalCluster;
use rask_exec::{Executor, ProcessExecutor, ThreadedExecutor};
use rask_frame::{col, lit, Frame, GroupAgg};

fn main() {
    rask_distributed::worker_main_if_requested();
    common::run_tests(&[("frames_give_the_same_answers_on_threads_processes_and_a_cluster", same_answers)]);
}

fn partition(seed: i64, rows: i64) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("key", DataType::Int64, false),
        Field::new("x", DataType::Float64, false),
    ]));
    let keys: Vec<i64> = (0..rows).map(|i| (i * 7 + seed) % 13).collect();
    let xs: Vec<f64> = (0..rows).map(|i| ((i * 31 + seed * 17) % 100) as f64 / 100.0).collect();
    RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(keys)) as ArrayRef, Arc::new(Float64Array::from(xs))])
        .unwrap()
}

fn same_answers() {
    let frame = Frame::from_batches((0..6).map(|s| partition(s, 5_000)).collect()).filter(col("x").gt(lit(0.25)));
    let grouped = frame.groupby(&["key"]).agg(&[("x", GroupAgg::Sum), ("x", GroupAgg::Count)]);
    let reference = (
        frame.sum("x").compute(&ThreadedExecutor::new(2)).unwrap(),
        grouped.compute(&ThreadedExecutor::new(2)).unwrap(),
    );
    let cluster = LocalCluster::new(2, 1).unwrap();
    let executors: Vec<Box<dyn Executor>> =
        vec![Box::new(ProcessExecutor::new(2)), Box::new(cluster.client().unwrap())];
    for ex in &executors {
        let sum = frame.sum("x").compute(ex.as_ref()).unwrap();
        let groups = grouped.compute(ex.as_ref()).unwrap();
        assert_eq!(sum, reference.0, "{}", ex.name());
        assert_eq!(groups, reference.1, "{}", ex.name());
        assert_eq!(groups.num_rows(), 13);
    }
}
