//! Frames on worker processes and on a cluster: the same graphs, the same answers as threads.
//! Record batches cross process boundaries as Arrow IPC (`rask_graph::ext`).
//!
//! Own `main` (`harness = false`): the executors re-execute this binary as their workers.

#[path = "../../distributed/tests/alike/mod.rs"]
mod alike;
#[path = "../../exec/tests/common/mod.rs"]
mod common;

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use rask_distributed::LocalCluster;
use rask_exec::{Executor, ProcessExecutor, ThreadedExecutor};
use rask_frame::{col, lit, Frame, GroupAgg, How, JoinStrategy, MergeOptions};

fn main() {
    rask_distributed::worker_main_if_requested();
    common::run_tests(&[
        ("frames_give_the_same_answers_on_threads_processes_and_a_cluster", same_answers),
        ("rows_move_alike_on_threads_processes_and_a_cluster", moves),
        ("a_cluster_keeps_persisted_partitions_on_its_workers", persisted_on_cluster),
        ("large_batches_cross_processes_in_shared_memory", batches_in_shared_memory),
        ("workers_on_one_machine_map_each_others_batches", cluster_batches_by_reference),
    ]);
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
    alike::agree_on_every_executor(|ex| {
        let groups = grouped.compute(ex).unwrap();
        assert_eq!(groups.num_rows(), 13);
        vec![format!("{:?}", frame.sum("x").compute(ex).unwrap()), format!("{groups:?}")]
    });
}

fn dims() -> Frame {
    let schema = Arc::new(Schema::new(vec![
        Field::new("key", DataType::Int64, false),
        Field::new("w", DataType::Float64, false),
    ]));
    let keys: Vec<i64> = (0..13).filter(|k| k % 3 != 0).collect();
    let ws: Vec<f64> = keys.iter().map(|&k| k as f64 * 10.0).collect();
    let batch = RecordBatch::try_new(
        schema,
        vec![Arc::new(Int64Array::from(keys)) as ArrayRef, Arc::new(Float64Array::from(ws))],
    )
    .unwrap();
    Frame::from_batches(vec![batch.slice(0, 4), batch.slice(4, 4)])
}

/// One number per moving operation, so executors can be compared exactly.
fn summary(ex: &dyn Executor) -> Vec<String> {
    let frame = Frame::from_batches((0..6).map(|s| partition(s, 2_000)).collect());
    let hashed = MergeOptions { strategy: JoinStrategy::Shuffle, npartitions: Some(3), ..MergeOptions::default() };
    let joined = frame.merge_with(&dims(), &["key"], How::Outer, hashed);
    let indexed = frame.clone().with_column("id", col("x").mul(lit(1000i64))).set_index("id").unwrap();
    let spread = frame.groupby(&["key"]).split_out(3).agg(&[("x", GroupAgg::Max)]);
    vec![
        format!("shuffled rows {}", frame.shuffle(&["key"], 5).len(ex).unwrap()),
        format!("joined rows {}", joined.len(ex).unwrap()),
        format!("joined w {:?}", joined.sum("w").compute(ex).unwrap()),
        format!("loc rows {}", indexed.loc(250.0, 500.0).unwrap().len(ex).unwrap()),
        format!(
            "first id {:?}",
            indexed.head(1, ex).unwrap().column_by_name("id").map(|c| c
                .as_any()
                .downcast_ref::<Float64Array>()
                .unwrap()
                .value(0))
        ),
        format!("groups {}", spread.len(ex).unwrap()),
        format!("max of maxes {:?}", spread.max("x_max").compute(ex).unwrap()),
    ]
}

fn moves() {
    alike::agree_on_every_executor(summary);
}

fn persisted_on_cluster() {
    let cluster = LocalCluster::new(2, 1).unwrap();
    let client = cluster.client().unwrap();
    let frame = Frame::from_batches((0..6).map(|s| partition(s, 5_000)).collect()).filter(col("x").gt(lit(0.25)));
    let want = frame.sum("x").compute(&ThreadedExecutor::new(2)).unwrap();
    let kept = frame.persist(&client).unwrap();
    assert!(kept.explain().contains("physical plan:\npersisted on the cluster: 6 partitions"), "{}", kept.explain());
    let held = client.stats().unwrap();
    assert!(held.tasks_in_memory >= 6, "the partitions stay on the workers: {held:?}");
    // Later graphs start from the held partitions: only the reduction's tasks run.
    let done_before = client.stats().unwrap().tasks_done;
    assert_eq!(kept.sum("x").compute(&client).unwrap(), want);
    let ran = client.stats().unwrap().tasks_done - done_before;
    assert!(ran < 6 + 6, "the filter did not run again: {ran} tasks");
    assert_eq!(kept.groupby(&["key"]).agg(&[("x", GroupAgg::Count)]).len(&client).unwrap(), 13);
    drop(kept);
    // Dropping the frame releases its partitions.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while client.stats().unwrap().tasks_in_memory > 0 {
        assert!(std::time::Instant::now() < deadline, "persisted partitions were never released");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

fn batches_in_shared_memory() {
    // Four partitions of 3.2 MB, far over the inline limit: workers hand them on as segments.
    let frame =
        Frame::from_batches((0..4).map(|s| partition(s, 200_000)).collect()).with_column("y", col("x").mul(lit(2i64)));
    let (graph, root) = frame.graph();
    let plan = rask_graph::Plan::build(&graph, std::slice::from_ref(&root), &rask_graph::Registry::new()).unwrap();
    let want = frame.compute(&ThreadedExecutor::new(2)).unwrap();
    let executor = ProcessExecutor::new(2);
    let outcome = executor.execute(&plan, None).unwrap();
    assert_eq!(rask_frame::batch::from_value("test", &outcome.values[0]).unwrap(), &want);
    // A shuffle's pieces go by reference too, and picks hand back segments they only mapped.
    let shuffled = frame.shuffle(&["key"], 3);
    let sum = |ex: &dyn Executor, f: &Frame| f.sum("x").compute(ex).unwrap().as_float().unwrap();
    let (got, total) = (sum(&executor, &shuffled), sum(&ThreadedExecutor::new(2), &frame));
    assert!((got - total).abs() < 1e-6 * total, "{got} vs {total}");
    let (prefix, pooled) = (executor.segment_prefix(), executor.pooled_segments());
    let leftovers: Vec<String> =
        rask_store::list().into_iter().filter(|n| n.starts_with(&prefix) && !pooled.contains(n)).collect();
    assert_eq!(leftovers, Vec::<String>::new(), "every segment of the runs is gone, or pooled for reuse");
    assert!(!pooled.is_empty(), "the workers keep segments no one reads for their next results");
    // Each mapped partition is written to a segment once, then read in place by the worker
    // that concatenates them (and the result by the parent): nothing is decoded by copying.
    let partitions = 4 * 200_000 * 24;
    assert!(outcome.stats.bytes_shared as usize >= partitions, "{:?}", outcome.stats);
    assert!(
        (outcome.stats.bytes_copied as usize) < 2 * partitions + want.get_array_memory_size(),
        "{:?}",
        outcome.stats
    );
}

fn cluster_batches_by_reference() {
    let cluster = LocalCluster::new(2, 1).unwrap();
    let client = cluster.client().unwrap();
    // Partitions of 2.4 MB, shuffled: every output gathers pieces made on both workers.
    let frame = Frame::from_batches((0..4).map(|s| partition(s, 100_000)).collect()).shuffle(&["key"], 4);
    let want = frame.sum("x").compute(&ThreadedExecutor::new(2)).unwrap();
    assert_eq!(frame.sum("x").compute(&client).unwrap(), want);
    // The counters arrive with the workers' heartbeats (every second): wait for one after
    // the work.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let stats = client.stats().unwrap();
    // Pieces under 256 KiB (uneven hash buckets) are sent as bytes; the rest are mapped.
    assert!(stats.bytes_fetched_by_reference > 1 << 20, "pieces were mapped, not sent: {stats:?}");
    drop(client);
    assert_eq!(alike::leftovers_after(cluster), Vec::<String>::new(), "the workers' segments are gone with them");
}
