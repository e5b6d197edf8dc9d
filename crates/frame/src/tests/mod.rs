use std::sync::Arc;

use arrow_array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use proptest::prelude::*;
use rask_exec::{Executor, SyncExecutor, ThreadedExecutor};
use rask_graph::Value;

use crate::batch::to_value;
use crate::kernels::{apply_ops, Partial};
use crate::*;

mod breadth;
mod io;
mod moves;

fn batch(k: Vec<Option<i64>>, x: Vec<f64>, y: Vec<f64>) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("k", DataType::Int64, true),
        Field::new("x", DataType::Float64, false),
        Field::new("y", DataType::Float64, false),
    ]));
    let columns: Vec<ArrayRef> =
        vec![Arc::new(Int64Array::from(k)), Arc::new(Float64Array::from(x)), Arc::new(Float64Array::from(y))];
    RecordBatch::try_new(schema, columns).unwrap()
}

fn executors() -> Vec<Box<dyn Executor>> {
    vec![Box::new(SyncExecutor), Box::new(ThreadedExecutor::new(2))]
}

#[test]
fn batches_travel_as_values_and_round_trip_through_ipc() {
    let b = batch(vec![Some(1), None], vec![0.5, 1.5], vec![2.0, 3.0]);
    let v = to_value(b.clone());
    assert_eq!(v.to_string(), "RecordBatch(rows=2, columns=[k: Int64, x: Float64, y: Float64])");
    let bytes = postcard::to_stdvec(&v).unwrap();
    let back: Value = postcard::from_bytes(&bytes).unwrap();
    assert_eq!(back, v);
    assert_eq!(crate::batch::from_value("t", &back).unwrap(), &b);
}

#[test]
fn expressions_follow_numeric_coercion_and_name_missing_columns() {
    let b = batch(vec![Some(1), None, Some(3)], vec![0.5, 1.5, 2.5], vec![0.1, 0.9, 0.6]);
    let z = col("x").mul(lit(2i64)).add(col("k")).evaluate(&b).unwrap();
    let z = z.as_any().downcast_ref::<Float64Array>().unwrap();
    assert_eq!((z.value(0), z.is_null(1), z.value(2)), (2.0, true, 8.0), "int meets float at float64; nulls propagate");
    let mask = col("y").gt(lit(0.5)).and(col("k").is_null().not()).evaluate(&b).unwrap();
    let mask = mask.as_any().downcast_ref::<arrow_array::BooleanArray>().unwrap();
    assert_eq!(mask.iter().collect::<Vec<_>>(), vec![Some(false), Some(false), Some(true)]);
    let constant = lit(7i64).evaluate(&b).unwrap();
    assert_eq!(constant.len(), 3, "a constant fills the column");
    let err = col("nope").evaluate(&b).unwrap_err();
    assert!(err.to_string().contains("\"nope\"") && err.to_string().contains("k, x, y"), "{err}");
    let names = Arc::new(StringArray::from(vec!["a", "b", "c"])) as ArrayRef;
    let with_names =
        RecordBatch::try_new(Arc::new(Schema::new(vec![Field::new("s", DataType::Utf8, false)])), vec![names]).unwrap();
    assert!(matches!(col("s").add(lit(1i64)).evaluate(&with_names), Err(FrameError::Type(_))));
    assert_eq!(col("s").eq(lit("b")).evaluate(&with_names).unwrap().len(), 3);
}

#[test]
fn reductions_and_compute_run_on_every_executor() {
    let parts = vec![
        batch(vec![Some(1), Some(2)], vec![1.0, 2.0], vec![0.9, 0.1]),
        batch(vec![], vec![], vec![]),
        batch(vec![None, Some(4)], vec![3.0, 4.0], vec![0.7, 0.8]),
    ];
    let frame = Frame::from_batches(parts).filter(col("y").gt(lit(0.5))).with_column("z", col("x").add(col("k")));
    for ex in executors() {
        let ex = ex.as_ref();
        let out = frame.compute(ex).unwrap();
        assert_eq!(out.num_rows(), 3, "{}", ex.name());
        assert_eq!(frame.sum("x").compute(ex).unwrap(), Value::Float(8.0));
        assert_eq!(frame.sum("k").compute(ex).unwrap(), Value::Int(5));
        assert_eq!(frame.count("k").compute(ex).unwrap(), Value::Int(2));
        assert_eq!(frame.mean("x").compute(ex).unwrap(), Value::Float(8.0 / 3.0));
        assert_eq!(frame.min("z").compute(ex).unwrap(), Value::Float(2.0));
        assert_eq!(frame.max("k").compute(ex).unwrap(), Value::Int(4));
        assert_eq!(frame.head(2, ex).unwrap().num_rows(), 2);
    }
    let empty = Frame::from_batches(vec![batch(vec![], vec![], vec![])]);
    assert_eq!(empty.sum("x").compute(&SyncExecutor).unwrap(), Value::Int(0), "pandas: the sum of nothing is 0");
    assert_eq!(empty.mean("x").compute(&SyncExecutor).unwrap(), Value::None);
    let err = Frame::from_batches(vec![batch(vec![Some(1)], vec![1.0], vec![1.0])])
        .sum("w")
        .compute(&SyncExecutor)
        .unwrap_err();
    assert!(err.to_string().contains("KeyError") && err.to_string().contains("\"w\""), "{err}");
}

#[test]
fn parquet_sources_push_projections_down_and_report_bad_files() {
    let dir = std::env::temp_dir().join(format!("rask-frame-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for i in 0..3 {
        let b = batch(vec![Some(i), Some(10 + i)], vec![i as f64, 1.0], vec![0.2, 0.8]);
        let file = std::fs::File::create(dir.join(format!("part-{i}.parquet"))).unwrap();
        let mut w = parquet::arrow::ArrowWriter::try_new(file, b.schema(), None).unwrap();
        w.write(&b).unwrap();
        w.close().unwrap();
    }
    let frame = Frame::read_parquet(dir.join("part-*.parquet")).unwrap().filter(col("y").gt(lit(0.5)));
    assert_eq!(frame.npartitions(), 3);
    assert!(frame.sum("x").frame.explain().contains("columns read: all"));
    let narrowed = frame.clone().select(&["x"]);
    assert!(narrowed.explain().contains("columns read: x, y"), "{}", narrowed.explain());
    for ex in executors() {
        assert_eq!(frame.sum("x").compute(ex.as_ref()).unwrap(), Value::Float(3.0));
        assert_eq!(narrowed.compute(ex.as_ref()).unwrap().num_columns(), 1);
    }
    // Written back out, partition by partition, it reads back the same.
    let out = dir.join("out");
    assert_eq!(frame.to_parquet(&out, &ThreadedExecutor::new(2)).unwrap(), 3, "one row per file passes y > 0.5");
    let back = Frame::read_parquet(&out).unwrap();
    assert_eq!(back.npartitions(), 3);
    assert_eq!(back.compute(&SyncExecutor).unwrap(), frame.compute(&SyncExecutor).unwrap());
    std::fs::write(dir.join("part-9.parquet"), b"not parquet at all").unwrap();
    let err = Frame::read_parquet(&dir).unwrap().compute(&SyncExecutor).unwrap_err().to_string();
    assert!(err.contains("part-9.parquet"), "{err}");
    assert!(Frame::read_parquet(dir.join("none-*.parquet")).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

fn frame_strategy() -> impl Strategy<Value = (Vec<RecordBatch>, RecordBatch)> {
    let row = (proptest::option::of(-50i64..50), -10.0f64..10.0, 0.0f64..1.0);
    (proptest::collection::vec(row, 0..60), proptest::collection::vec(0usize..60, 0..5)).prop_map(|(rows, mut cuts)| {
        let whole = batch(
            rows.iter().map(|r| r.0).collect(),
            rows.iter().map(|r| r.1).collect(),
            rows.iter().map(|r| r.2).collect(),
        );
        (slices(&whole, &mut cuts), whole)
    })
}

/// `whole` cut at `cuts` (clamped to its rows, in any order) into consecutive partitions, some
/// perhaps empty.
fn slices(whole: &RecordBatch, cuts: &mut [usize]) -> Vec<RecordBatch> {
    let rows = whole.num_rows();
    cuts.iter_mut().for_each(|c| *c = (*c).min(rows));
    cuts.sort();
    let mut parts = Vec::new();
    let mut start = 0;
    for &c in cuts.iter().chain([&rows]) {
        parts.push(whole.slice(start, c - start));
        start = c;
    }
    parts
}

fn close(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => (x - y).abs() <= 1e-9 * (1.0 + x.abs().max(y.abs())),
        _ => a == b,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Partitioning never changes a result: every operation and reduction on the partitioned
    /// frame equals the same on one batch holding every row (empty and single partitions included).
    #[test]
    fn partitioning_never_changes_a_result((parts, whole) in frame_strategy(), threshold in 0.0f64..1.0) {
        let ops = vec![
            PartitionOp::Filter(col("y").gt(lit(threshold))),
            PartitionOp::WithColumn("z".into(), col("x").mul(lit(2i64)).add(col("k"))),
        ];
        let frame = Frame::from_batches(parts).filter(col("y").gt(lit(threshold))).with_column("z", col("x").mul(lit(2i64)).add(col("k")));
        let expected = apply_ops(whole, &ops).unwrap();
        let ex = ThreadedExecutor::new(2);
        prop_assert_eq!(frame.compute(&ex).unwrap(), expected.clone());
        for column in ["k", "x", "z"] {
            let whole_partial = Partial::of(expected.column_by_name(column).unwrap().as_ref()).unwrap();
            for agg in [Agg::Count, Agg::Sum, Agg::Mean, Agg::Min, Agg::Max] {
                let reduction = Reduction { frame: frame.clone(), column: column.into(), agg };
                let got = reduction.compute(&ex).unwrap();
                let want = whole_partial.finish(agg);
                prop_assert!(close(&got, &want), "{agg:?}({column}): {got} vs {want}");
            }
        }
    }
}

/// The plain reading of a group-by over `k` of `x`: group rows in a map, aggregate in loops.
/// Key, count, sum, mean, min, max, first.
type GroupRow = (Option<i64>, i64, f64, Option<f64>, Option<f64>, Option<f64>, Option<f64>);

fn reference_groupby(whole: &RecordBatch) -> Vec<GroupRow> {
    let k = whole.column_by_name("k").unwrap().as_any().downcast_ref::<Int64Array>().unwrap();
    let x = whole.column_by_name("x").unwrap().as_any().downcast_ref::<Float64Array>().unwrap();
    let mut groups: std::collections::BTreeMap<Option<i64>, Vec<f64>> = Default::default();
    for i in 0..whole.num_rows() {
        groups.entry(k.is_valid(i).then(|| k.value(i))).or_default().push(x.value(i));
    }
    groups
        .into_iter()
        .map(|(key, xs)| {
            let sum: f64 = xs.iter().sum();
            let min = xs.iter().cloned().fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.min(v))));
            let max = xs.iter().cloned().fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
            (key, xs.len() as i64, sum, Some(sum / xs.len() as f64), min, max, xs.first().copied())
        })
        .collect()
}

fn f64s(batch: &RecordBatch, name: &str) -> Vec<Option<f64>> {
    batch.column_by_name(name).unwrap().as_any().downcast_ref::<Float64Array>().unwrap().iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// A group-by over any partitioning (and any split_every) equals the plain reading of it.
    #[test]
    fn groupby_matches_the_plain_reading((parts, whole) in frame_strategy(), split_every in 2usize..5) {
        prop_assume!(whole.num_rows() > 0);
        let grouped = Frame::from_batches(parts).groupby(&["k"]).split_every(split_every).agg(&[
            ("x", GroupAgg::Count),
            ("x", GroupAgg::Sum),
            ("x", GroupAgg::Mean),
            ("x", GroupAgg::Min),
            ("x", GroupAgg::Max),
            ("x", GroupAgg::First),
        ]);
        let out = grouped.compute(&ThreadedExecutor::new(2)).unwrap();
        let want = reference_groupby(&whole);
        let keys: Vec<Option<i64>> = out.column(0).as_any().downcast_ref::<Int64Array>().unwrap().iter().collect();
        // Group-bys put the null key last (as pandas' dropna=False); the BTreeMap puts it first.
        let mut want = want;
        want.sort_by_key(|w| (w.0.is_none(), w.0));
        prop_assert_eq!(keys, want.iter().map(|w| w.0).collect::<Vec<_>>());
        let counts: Vec<i64> = out.column_by_name("x_count").unwrap().as_any().downcast_ref::<Int64Array>().unwrap().values().to_vec();
        prop_assert_eq!(counts, want.iter().map(|w| w.1).collect::<Vec<_>>());
        let near = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => (a - b).abs() <= 1e-9 * (1.0 + a.abs().max(b.abs())),
            (a, b) => a == b,
        };
        for (name, pick) in [("x_sum", 2usize), ("x_mean", 3), ("x_min", 4), ("x_max", 5), ("x_first", 6)] {
            let got = f64s(&out, name);
            for (g, w) in got.iter().zip(&want) {
                let w = match pick { 2 => Some(w.2), 3 => w.3, 4 => w.4, 5 => w.5, _ => w.6 };
                prop_assert!(near(*g, w), "{name}: {g:?} vs {w:?}");
            }
        }
    }
}

#[test]
fn groupby_takes_string_and_several_keys_and_names_missing_columns() {
    let schema = Arc::new(Schema::new(vec![
        Field::new("name", DataType::Utf8, true),
        Field::new("k", DataType::Int64, false),
        Field::new("x", DataType::Float64, false),
    ]));
    let b = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from(vec![Some("a"), Some("b"), None, Some("a")])),
            Arc::new(Int64Array::from(vec![1, 1, 2, 1])),
            Arc::new(Float64Array::from(vec![1.0, 2.0, 3.0, 4.0])),
        ],
    )
    .unwrap();
    let frame = Frame::from_batches(vec![b.slice(0, 2), b.slice(2, 2)]);
    let out = frame
        .groupby(&["name", "k"])
        .agg(&[("x", GroupAgg::Sum), ("x", GroupAgg::Last)])
        .compute(&SyncExecutor)
        .unwrap();
    assert_eq!(out.num_rows(), 3, "('a', 1), ('b', 1), (None, 2): null keys last");
    assert_eq!(f64s(&out, "x_sum"), vec![Some(5.0), Some(2.0), Some(3.0)]);
    assert_eq!(f64s(&out, "x_last"), vec![Some(4.0), Some(2.0), Some(3.0)]);
    let err = frame.groupby(&["nope"]).agg(&[("x", GroupAgg::Sum)]).compute(&SyncExecutor).unwrap_err();
    assert!(err.to_string().contains("\"nope\""), "{err}");
}

fn dims(keys: Vec<Option<i64>>, w: Vec<f64>) -> RecordBatch {
    let schema =
        Arc::new(Schema::new(vec![Field::new("k", DataType::Int64, true), Field::new("w", DataType::Float64, false)]));
    RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(keys)) as ArrayRef, Arc::new(Float64Array::from(w))])
        .unwrap()
}

#[test]
fn merges_match_keys_skip_nulls_multiply_duplicates_and_keep_left_rows() {
    let left = batch(vec![Some(1), Some(2), None, Some(3)], vec![1.0, 2.0, 3.0, 4.0], vec![0.0; 4]);
    let right = dims(vec![Some(1), Some(1), Some(3), None], vec![10.0, 11.0, 30.0, 99.0]);
    let frame = Frame::from_batches(vec![left.slice(0, 2), left.slice(2, 2)]);
    let small = Frame::from_batches(vec![right.slice(0, 1), right.slice(1, 3)]);
    let inner = frame.merge(&small, &["k"], How::Inner).compute(&SyncExecutor).unwrap();
    assert_eq!(
        f64s(&inner, "x"),
        vec![Some(1.0), Some(1.0), Some(4.0)],
        "k=1 twice, k=3 once; null keys match nothing"
    );
    assert_eq!(f64s(&inner, "w"), vec![Some(10.0), Some(11.0), Some(30.0)]);
    let left_join = frame.merge(&small, &["k"], How::Left).compute(&SyncExecutor).unwrap();
    assert_eq!(f64s(&left_join, "w"), vec![Some(10.0), Some(11.0), None, None, Some(30.0)]);
    // Right and outer joins add the right rows nobody matched (k=None here), keys from the right.
    let right_join = frame.merge(&small, &["k"], How::Right).compute(&SyncExecutor).unwrap();
    assert_eq!(f64s(&right_join, "w"), vec![Some(10.0), Some(11.0), Some(30.0), Some(99.0)]);
    assert_eq!(f64s(&right_join, "x"), vec![Some(1.0), Some(1.0), Some(4.0), None]);
    let outer = frame.merge(&small, &["k"], How::Outer).compute(&SyncExecutor).unwrap();
    assert_eq!(f64s(&outer, "w"), vec![Some(10.0), Some(11.0), None, None, Some(30.0), Some(99.0)]);
    let only_right = Frame::from_batches(vec![left.clone()]).merge(
        &Frame::from_batches(vec![dims(vec![Some(7)], vec![70.0])]),
        &["k"],
        How::Outer,
    );
    let only_right = only_right.compute(&SyncExecutor).unwrap();
    let keys: Vec<Option<i64>> =
        only_right.column_by_name("k").unwrap().as_any().downcast_ref::<Int64Array>().unwrap().iter().collect();
    assert_eq!(keys, vec![Some(1), Some(2), None, Some(3), Some(7)], "an unmatched right row keeps its key");
    let total = frame.merge(&small, &["k"], How::Inner).sum("w").compute(&ThreadedExecutor::new(2)).unwrap();
    assert_eq!(total, Value::Float(51.0));
    // A column name on both sides (other than the key) gets a suffix on the right one.
    let clash = frame.merge(&Frame::from_batches(vec![batch(vec![Some(1)], vec![7.0], vec![0.5])]), &["k"], How::Inner);
    let clash = clash.compute(&SyncExecutor).unwrap();
    assert_eq!(f64s(&clash, "x_right"), vec![Some(7.0)]);
    assert!(frame
        .merge(&small, &["nope"], How::Inner)
        .compute(&SyncExecutor)
        .unwrap_err()
        .to_string()
        .contains("\"nope\""));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// A broadcast merge over any partitioning equals the join of the whole left side.
    #[test]
    fn merges_do_not_depend_on_partitioning(
        (parts, whole) in frame_strategy(),
        right_keys in proptest::collection::vec(proptest::option::of(-50i64..50), 0..20),
        how in prop_oneof![Just(How::Inner), Just(How::Left), Just(How::Right), Just(How::Outer)],
    ) {
        let w: Vec<f64> = (0..right_keys.len()).map(|i| i as f64).collect();
        let right = dims(right_keys, w);
        let small = Frame::from_batches(vec![right]);
        let expected = Frame::from_batches(vec![whole]).merge(&small, &["k"], how).compute(&SyncExecutor).unwrap();
        let got = Frame::from_batches(parts).merge(&small, &["k"], how).compute(&ThreadedExecutor::new(2)).unwrap();
        prop_assert_eq!(got, expected);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// A sort over any partitioning puts every row in order (nulls last) and loses none.
    #[test]
    fn sort_values_orders_every_row((parts, whole) in frame_strategy()) {
        let sorted = Frame::from_batches(parts.clone()).sort_values("k").compute(&ThreadedExecutor::new(2)).unwrap();
        prop_assert_eq!(sorted.num_rows(), whole.num_rows());
        let got: Vec<Option<i64>> = sorted.column_by_name("k").unwrap().as_any().downcast_ref::<Int64Array>().unwrap().iter().collect();
        let mut want: Vec<Option<i64>> = whole.column_by_name("k").unwrap().as_any().downcast_ref::<Int64Array>().unwrap().iter().collect();
        want.sort_by_key(|v| (v.is_none(), *v));
        prop_assert_eq!(got, want);
        // Rows move whole: the sum of x is unchanged.
        let xs = |b: &RecordBatch| f64s(b, "x").into_iter().flatten().sum::<f64>();
        prop_assert!((xs(&sorted) - xs(&whole)).abs() < 1e-9);
        if whole.num_rows() > 0 {
            let first = Frame::from_batches(parts).sort_values("x").head(1, &SyncExecutor).unwrap();
            let min = f64s(&whole, "x").into_iter().flatten().fold(f64::INFINITY, f64::min);
            prop_assert_eq!(f64s(&first, "x"), vec![Some(min)]);
        }
    }
}

/// A user function for `map_partitions`: doubles column x.
fn double_x(args: &[Value]) -> Result<Value, rask_graph::TaskError> {
    let b = crate::batch::from_value("double_x", &args[0])?;
    let doubled = col("x").mul(lit(2i64)).evaluate(b).map_err(|e| rask_graph::TaskError::value_error(e.to_string()))?;
    let mut columns = b.columns().to_vec();
    let i = b.schema().index_of("x").unwrap();
    columns[i] = doubled;
    Ok(crate::batch::to_value(RecordBatch::try_new(b.schema(), columns).unwrap()))
}
rask_graph::register!("double_x", rask_graph::Arity::Exact(1), double_x);

#[test]
fn map_partitions_runs_a_registered_function_inside_the_chain() {
    let parts =
        vec![batch(vec![Some(1), Some(2)], vec![1.0, 2.0], vec![0.9, 0.1]), batch(vec![Some(3)], vec![3.0], vec![0.7])];
    let frame = Frame::from_batches(parts)
        .filter(col("y").gt(lit(0.5)))
        .map_partitions("double_x")
        .with_column("z", col("x").add(lit(1i64)));
    for ex in executors() {
        assert_eq!(frame.sum("x").compute(ex.as_ref()).unwrap(), Value::Float(8.0), "rows 1 and 3, doubled");
        assert_eq!(frame.sum("z").compute(ex.as_ref()).unwrap(), Value::Float(10.0));
    }
    let unknown = Frame::from_batches(vec![batch(vec![Some(1)], vec![1.0], vec![1.0])]).map_partitions("no_such_fn");
    let err = unknown.compute(&SyncExecutor).unwrap_err().to_string();
    assert!(err.contains("no_such_fn"), "{err}");
}

#[test]
fn filters_on_parquet_skip_row_groups_their_statistics_exclude() {
    let dir = std::env::temp_dir().join(format!("rask-frame-prune-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // x runs 0..400 in 4 row groups of 100: [0, 99], [100, 199], ...
    let b = batch((0..400).map(Some).collect(), (0..400).map(|i| i as f64).collect(), vec![0.5; 400]);
    let props = parquet::file::properties::WriterProperties::builder().set_max_row_group_row_count(Some(100)).build();
    let mut w = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(dir.join("sorted.parquet")).unwrap(),
        b.schema(),
        Some(props),
    )
    .unwrap();
    w.write(&b).unwrap();
    w.close().unwrap();
    let frame = Frame::read_parquet(dir.join("sorted.parquet")).unwrap();
    // The sync executor reads on this thread, whose counter no other test touches.
    let before = crate::kernels::ROW_GROUPS_READ.get();
    let high = frame.clone().filter(col("x").gt_eq(lit(300.0)).and(lit(390i64).gt(col("k"))));
    assert_eq!(high.count("x").compute(&SyncExecutor).unwrap(), Value::Int(90), "x in [300, 390)");
    let read = crate::kernels::ROW_GROUPS_READ.get() - before;
    assert_eq!(read, 1, "only the last row group can hold x >= 300");
    assert_eq!(frame.len(&SyncExecutor).unwrap(), 400, "len reads no column");
    let groups = Frame::read_parquet_row_groups(dir.join("sorted.parquet")).unwrap();
    assert_eq!(groups.npartitions(), 4, "a partition per row group");
    assert_eq!(groups.compute(&SyncExecutor).unwrap(), frame.compute(&SyncExecutor).unwrap());
    let before = crate::kernels::ROW_GROUPS_READ.get();
    assert_eq!(groups.clone().filter(col("x").gt_eq(lit(300.0))).len(&SyncExecutor).unwrap(), 100);
    assert_eq!(crate::kernels::ROW_GROUPS_READ.get() - before, 1, "three partitions read nothing");
    // Divisions straight from the row groups' statistics: no data read.
    let before = crate::kernels::ROW_GROUPS_READ.get();
    let indexed = groups.clone().select(&["x", "k"]).set_index("x").unwrap();
    assert_eq!(crate::kernels::ROW_GROUPS_READ.get(), before, "the footers were enough");
    let cuts = &indexed.divisions(&SyncExecutor).unwrap().unwrap().cuts;
    assert_eq!(cuts.len(), 3);
    for (cut, want) in cuts.iter().zip([99.0, 199.0, 299.0]) {
        assert!((cut - want).abs() <= 1.5, "{cuts:?}");
    }
    assert_eq!(indexed.loc(150.0, 249.0).unwrap().len(&SyncExecutor).unwrap(), 100);
    assert_eq!(high.len(&SyncExecutor).unwrap(), 90);
    // A filter after a column changes is not pushed (it may name the new column).
    let derived = frame.with_column("x", col("x").mul(lit(-1i64))).filter(col("x").gt(lit(-10i64)));
    assert_eq!(derived.count("x").compute(&SyncExecutor).unwrap(), Value::Int(10));
    std::fs::remove_dir_all(&dir).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Repartitioning to any count keeps every row, in order.
    #[test]
    fn repartition_keeps_rows_in_order((parts, whole) in frame_strategy(), n in 1usize..9) {
        let frame = Frame::from_batches(parts).repartition(n);
        prop_assert_eq!(frame.npartitions(), n);
        let got = frame.with_column("w", col("x").add(lit(1i64))).compute(&ThreadedExecutor::new(2)).unwrap();
        let want = apply_ops(whole, &[PartitionOp::WithColumn("w".into(), col("x").add(lit(1i64)))]).unwrap();
        prop_assert_eq!(got, want);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// However a CSV file is cut into byte ranges, every line is read once, in order.
    #[test]
    fn csv_byte_ranges_read_every_line_once(
        rows in proptest::collection::vec((-1000i64..1000, -100.0f64..100.0, "[a-z]{0,6}"), 1..80),
        blocksize in 1u64..300,
    ) {
        let dir = std::env::temp_dir().join(format!("rask-frame-csv-{}-{blocksize}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("data.csv");
        let mut text = String::from("k,x,s\n");
        for (k, x, s) in &rows {
            text.push_str(&format!("{k},{x:.3},{s}\n"));
        }
        std::fs::write(&path, &text).unwrap();
        let frame = Frame::read_csv(&path, blocksize).unwrap();
        prop_assert!(frame.npartitions() as u64 >= (text.len() as u64 / blocksize).max(1));
        let got = frame.compute(&ThreadedExecutor::new(2)).unwrap();
        prop_assert_eq!(got.num_rows(), rows.len());
        let ks: Vec<i64> = got.column_by_name("k").unwrap().as_any().downcast_ref::<Int64Array>().unwrap().values().to_vec();
        prop_assert_eq!(ks, rows.iter().map(|r| r.0).collect::<Vec<_>>());
        let whole = Frame::read_csv(&path, u64::MAX / 2).unwrap().compute(&SyncExecutor).unwrap();
        prop_assert_eq!(got, whole);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn csv_projection_and_errors() {
    let dir = std::env::temp_dir().join(format!("rask-frame-csv-proj-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("a.csv"), "k,x\n1,0.5\n2,1.5\n3,2.5\n").unwrap();
    let frame = Frame::read_csv(dir.join("a.csv"), 8).unwrap();
    assert_eq!(
        frame.clone().filter(col("k").gt(lit(1i64))).sum("x").compute(&SyncExecutor).unwrap(),
        Value::Float(4.0)
    );
    assert!(frame.clone().select(&["x"]).explain().contains("columns read: x"));
    assert!(Frame::read_csv(dir.join("missing.csv"), 8).unwrap_err().to_string().contains("missing.csv"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn persisted_frames_answer_from_their_computed_partitions() {
    let parts =
        vec![batch(vec![Some(1), Some(2)], vec![1.0, 2.0], vec![0.9, 0.1]), batch(vec![Some(3)], vec![3.0], vec![0.7])];
    let frame = Frame::from_batches(parts).filter(col("y").gt(lit(0.5)));
    for ex in executors() {
        let kept = frame.persist(ex.as_ref()).unwrap();
        assert_eq!(kept.npartitions(), 2);
        let physical = kept.explain();
        let physical = physical.split("physical plan:\n").nth(1).unwrap_or_default();
        assert!(
            physical.starts_with("from_batches: 2 batches") && !physical.contains("then"),
            "the filter ran already: {physical}"
        );
        assert_eq!(kept.sum("x").compute(ex.as_ref()).unwrap(), frame.sum("x").compute(ex.as_ref()).unwrap());
    }
}

#[test]
fn decoded_batches_read_their_encoded_bytes_in_place() {
    let b = batch((0..1000).map(Some).collect(), (0..1000).map(f64::from).collect(), vec![0.5; 1000]);
    let Value::Ext(e) = to_value(b.clone()) else { unreachable!("a batch is an extension value") };
    assert!(e.encoded_source().is_none(), "a batch made here has no encoded form yet");
    let bytes = rask_graph::Buffer::from_vec(e.encode().unwrap());
    let range = bytes.as_slice().as_ptr_range();
    let back = rask_graph::ext::Ext::decode("arrow.RecordBatch", bytes).unwrap();
    let decoded = &back.downcast_ref::<crate::batch::Batch>().unwrap().0;
    assert_eq!(decoded, &b);
    let x = decoded.column(1).to_data().buffers()[0].as_ptr();
    assert!(range.contains(&x), "the column points into the encoded bytes: no copy");
    assert!(back.encoded_source().is_some(), "so it can be passed on by reference");
}
