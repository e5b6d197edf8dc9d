//! Operations that move rows between partitions (shuffle, set_index, joins by every plan,
//! split_out) and what a frame knows before it runs (schema, divisions, len): each checked
//! against a single-batch evaluation of the same rows.

use arrow_cast::display::{ArrayFormatter, FormatOptions};

use super::*;
use crate::plan::logical::{Logical, Scan, ScanSource};

/// Every row as text, sorted: equal multisets of rows compare equal whatever the partitioning
/// (floats to 6 decimals: sums in another order differ in the last bits).
fn rows(b: &RecordBatch) -> Vec<String> {
    let options = FormatOptions::default().with_null("null");
    let rounded: Vec<ArrayRef> = b
        .columns()
        .iter()
        .map(|c| match c.as_any().downcast_ref::<Float64Array>() {
            Some(f) => Arc::new(f.unary::<_, arrow_array::types::Float64Type>(|v| (v * 1e6).round() / 1e6)) as ArrayRef,
            None => c.clone(),
        })
        .collect();
    let formatters: Vec<ArrayFormatter> =
        rounded.iter().map(|c| ArrayFormatter::try_new(c.as_ref(), &options).unwrap()).collect();
    let names: Vec<String> = b.schema().fields().iter().map(|f| f.name().clone()).collect();
    let mut out: Vec<String> = (0..b.num_rows())
        .map(|r| {
            names.iter().zip(&formatters).map(|(n, f)| format!("{n}={}", f.value(r))).collect::<Vec<_>>().join(" ")
        })
        .collect();
    out.sort();
    out
}

/// The first line of the physical plan an `explain` shows.
fn physical_root(text: &str) -> String {
    text.lines().skip_while(|l| *l != "physical plan:").nth(1).unwrap_or_default().to_owned()
}

/// The frame's partitions, computed.
fn partitions(frame: &Frame) -> Vec<RecordBatch> {
    match &*frame.persist(&ThreadedExecutor::new(2)).unwrap().plan {
        Logical::Scan(Scan { source: ScanSource::Batches(b), .. }) => b.clone(),
        other => panic!("an in-process persist gives batches, not {other:?}"),
    }
}

fn ints(b: &RecordBatch, name: &str) -> Vec<Option<i64>> {
    b.column_by_name(name).unwrap().as_any().downcast_ref::<Int64Array>().unwrap().iter().collect()
}

/// No key value appears in two partitions.
fn keys_are_together(parts: &[RecordBatch], name: &str) -> bool {
    let mut home: std::collections::HashMap<Option<i64>, usize> = Default::default();
    parts.iter().enumerate().all(|(i, p)| ints(p, name).into_iter().all(|k| *home.entry(k).or_insert(i) == i))
}

fn right_side() -> impl Strategy<Value = Vec<RecordBatch>> {
    (proptest::collection::vec(proptest::option::of(-50i64..50), 0..30), 1usize..4).prop_map(|(keys, n)| {
        let w: Vec<f64> = (0..keys.len()).map(|i| i as f64).collect();
        let whole = dims(keys, w);
        let rows = whole.num_rows();
        (0..n).map(|i| whole.slice(i * rows / n, (i + 1) * rows / n - i * rows / n)).collect()
    })
}

fn any_how() -> impl Strategy<Value = How> {
    prop_oneof![Just(How::Inner), Just(How::Left), Just(How::Right), Just(How::Outer)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// A hash shuffle keeps every row and brings equal keys (nulls included) together.
    #[test]
    fn shuffle_keeps_rows_and_brings_equal_keys_together((parts, whole) in frame_strategy(), n in 1usize..7) {
        let shuffled = Frame::from_batches(parts).shuffle(&["k"], n);
        let out = partitions(&shuffled);
        prop_assert_eq!(out.len(), n);
        prop_assert!(keys_are_together(&out, "k"));
        let all = arrow_select::concat::concat_batches(&whole.schema(), &out).unwrap();
        prop_assert_eq!(rows(&all), rows(&whole));
    }

    /// Every join plan gives the rows of the join of the whole left side to the whole right one.
    #[test]
    fn every_join_plan_gives_the_same_rows(
        (parts, whole) in frame_strategy(),
        right in right_side(),
        how in any_how(),
        n in 1usize..5,
    ) {
        let right_whole = arrow_select::concat::concat_batches(&right[0].schema(), &right).unwrap();
        let expected = Frame::from_batches(vec![whole])
            .merge_with(&Frame::from_batches(vec![right_whole]), &["k"], how, MergeOptions { strategy: JoinStrategy::Broadcast, ..MergeOptions::default() })
            .compute(&SyncExecutor)
            .unwrap();
        let left = Frame::from_batches(parts);
        let right = Frame::from_batches(right);
        let ex = ThreadedExecutor::new(2);
        for strategy in [JoinStrategy::Broadcast, JoinStrategy::Shuffle] {
            let options = MergeOptions { strategy, npartitions: Some(n), ..MergeOptions::default() };
            let got = left.merge_with(&right, &["k"], how, options).compute(&ex).unwrap();
            prop_assert_eq!(rows(&got), rows(&expected), "{:?}", strategy);
        }
        // Left indexed on the key: the right side moves into its ranges.
        let indexed = left.set_index("k").unwrap();
        let aligned = indexed.merge_with(&right, &["k"], how, MergeOptions { broadcast_threshold: 0, ..MergeOptions::default() });
        let planned = aligned.explain_staged(&ex).unwrap();
        prop_assert!(planned.contains("aligned on the index"), "{}", planned);
        prop_assert_eq!(rows(&aligned.compute(&ex).unwrap()), rows(&expected));
    }

    /// set_index sorts by the column into partitions that hold their ranges; loc gives the
    /// rows a filter gives.
    #[test]
    fn set_index_partitions_by_range_and_loc_matches_a_filter(
        (parts, whole) in frame_strategy(),
        lo in -60i64..60,
        width in 0i64..40,
    ) {
        let ex = ThreadedExecutor::new(2);
        let indexed = Frame::from_batches(parts).set_index("k").unwrap();
        let d = indexed.divisions(&ex).unwrap().unwrap();
        prop_assert_eq!(d.cuts.len() + 1, indexed.npartitions());
        let out = partitions(&indexed);
        for (i, p) in out.iter().enumerate() {
            for k in ints(p, "k") {
                match k {
                    Some(k) => prop_assert!(
                        (i == 0 || d.cuts[i - 1] <= k as f64) && (i == d.cuts.len() || (k as f64) < d.cuts[i]),
                        "key {} in partition {} of {:?}", k, i, d.cuts
                    ),
                    None => prop_assert_eq!(i, d.cuts.len(), "nulls go last"),
                }
            }
        }
        let all = arrow_select::concat::concat_batches(&whole.schema(), &out).unwrap();
        let mut want = ints(&whole, "k");
        want.sort_by_key(|v| (v.is_none(), *v));
        prop_assert_eq!(ints(&all, "k"), want);
        let (lo, hi) = (lo as f64, (lo + width) as f64);
        let ranged = indexed.loc(lo, hi).unwrap();
        let filtered = Frame::from_batches(vec![whole]).filter(col("k").gt_eq(lit(lo)).and(col("k").lt_eq(lit(hi))));
        prop_assert_eq!(rows(&ranged.compute(&ex).unwrap()), rows(&filtered.compute(&SyncExecutor).unwrap()));
    }

    /// split_out spreads the groups over partitions without changing them.
    #[test]
    fn split_out_spreads_groups_without_changing_them((parts, _whole) in frame_strategy(), split_out in 2usize..5) {
        let frame = Frame::from_batches(parts);
        let specs = [("x", GroupAgg::Sum), ("y", GroupAgg::Max), ("x", GroupAgg::Count)];
        let one = frame.groupby(&["k"]).agg(&specs).compute(&SyncExecutor).unwrap();
        let spread = frame.groupby(&["k"]).split_out(split_out).split_every(2).agg(&specs);
        prop_assert_eq!(spread.npartitions(), split_out);
        let out = partitions(&spread);
        prop_assert!(keys_are_together(&out, "k"));
        let all = arrow_select::concat::concat_batches(&one.schema(), &out).unwrap();
        prop_assert_eq!(rows(&all), rows(&one));
    }
}

#[test]
fn a_shuffle_of_many_partitions_runs_in_stages_and_keeps_string_keys_together() {
    let schema =
        Arc::new(Schema::new(vec![Field::new("s", DataType::Utf8, true), Field::new("v", DataType::Int64, false)]));
    let parts: Vec<RecordBatch> = (0..40)
        .map(|p| {
            let names: Vec<Option<String>> =
                (0..25).map(|i| (i % 11 != 0).then(|| format!("name{}", (p * 7 + i) % 53))).collect();
            let values: Vec<i64> = (0..25).map(|i| p * 100 + i).collect();
            let columns: Vec<ArrayRef> = vec![Arc::new(StringArray::from(names)), Arc::new(Int64Array::from(values))];
            RecordBatch::try_new(schema.clone(), columns).unwrap()
        })
        .collect();
    let frame = Frame::from_batches(parts.clone()).shuffle(&["s"], 40);
    // 40 partitions take two stages of 7 (49 slots): splits, picks and the empty-batch task.
    let (graph, _) = frame.graph();
    assert!(graph.len() < 2 * (49 + 49 * 7) + 100, "{} tasks", graph.len());
    let out = partitions(&frame);
    assert_eq!(out.len(), 40);
    let mut home: std::collections::HashMap<Option<String>, usize> = Default::default();
    for (i, p) in out.iter().enumerate() {
        let names = p.column(0).as_any().downcast_ref::<StringArray>().unwrap();
        for name in names.iter() {
            assert_eq!(*home.entry(name.map(str::to_owned)).or_insert(i), i, "{name:?} in two partitions");
        }
    }
    let whole = arrow_select::concat::concat_batches(&schema, &parts).unwrap();
    let all = arrow_select::concat::concat_batches(&schema, &out).unwrap();
    assert_eq!(rows(&all), rows(&whole));
    assert!(frame.explain().contains("shuffle by hash of [\"s\"] into 40"), "{}", frame.explain());
}

#[test]
fn merge_picks_the_cheapest_plan_it_can_prove_right() {
    let ex = ThreadedExecutor::new(2);
    let left = Frame::from_batches(
        (0..4).map(|i| batch(vec![Some(i), Some(i + 4)], vec![1.0, 2.0], vec![0.0, 1.0])).collect(),
    );
    let small = Frame::from_batches(vec![dims(vec![Some(1), Some(5)], vec![10.0, 50.0])]);
    let plan = |f: &Frame| physical_root(&f.explain_staged(&ex).unwrap());
    assert!(plan(&left.merge(&small, &["k"], How::Inner)).contains("broadcast"));
    let no_broadcast = MergeOptions { broadcast_threshold: 0, ..MergeOptions::default() };
    assert!(plan(&left.merge_with(&small, &["k"], How::Inner, no_broadcast)).contains("hash-shuffled"));
    let indexed = left.set_index("k").unwrap();
    let self_join = indexed.merge(&indexed.clone().select(&["k", "y"]), &["k"], How::Inner);
    assert!(plan(&self_join).contains("aligned"), "equal divisions: no movement at all");
    assert_eq!(self_join.divisions(&ex).unwrap(), indexed.divisions(&ex).unwrap(), "an aligned join keeps the index");
    let joined = self_join.compute(&ex).unwrap();
    assert_eq!(joined.num_rows(), 8);
    assert_eq!(f64s(&joined, "y"), f64s(&joined, "y_right"));
}

#[test]
fn loc_reads_only_the_partitions_its_range_touches() {
    let ex = ThreadedExecutor::new(2);
    let frame = Frame::from_batches(
        (0..8).map(|p| batch((0..50).map(|i| Some(p * 50 + i)).collect(), vec![1.0; 50], vec![0.5; 50])).collect(),
    );
    let indexed = frame.set_index("k").unwrap();
    assert_eq!(indexed.npartitions(), 8);
    let narrow = indexed.loc(100.0, 120.0).unwrap();
    let planned = narrow.explain_staged(&ex).unwrap();
    assert!(planned.contains("partitions [2] only") || planned.contains("partitions [2, 3] only"), "{planned}");
    assert_eq!(planned.matches("then Filter").count(), 2, "the range is also applied before rows move: {planned}");
    assert_eq!(narrow.len(&ex).unwrap(), 21);
    assert!(frame.loc(0.0, 1.0).is_err(), "no index, no loc");
    let dropped = indexed.clone().with_column("k", col("k").mul(lit(2i64)));
    assert!(dropped.divisions(&ex).unwrap().is_none(), "changing the index column forgets the divisions");
    assert!(indexed.clone().filter(col("x").gt(lit(0.0))).divisions(&ex).unwrap().is_some());
}

#[test]
fn schemas_are_known_before_compute_and_name_what_is_wrong() {
    let frame = Frame::from_batches(vec![batch(vec![Some(1)], vec![1.0], vec![0.5])]);
    let derived = frame.clone().with_column("z", col("x").mul(lit(2i64))).select(&["k", "z"]);
    let names: Vec<String> = derived.schema().unwrap().fields().iter().map(|f| f.name().clone()).collect();
    assert_eq!(names, ["k", "z"]);
    let err = frame.clone().filter(col("nope").gt(lit(1i64))).schema().unwrap_err().to_string();
    assert!(err.contains("\"nope\""), "{err}");
    // A mapped function's schema: inferred from an empty batch, or given.
    assert_eq!(frame.clone().map_partitions("double_x").schema().unwrap(), frame.schema().unwrap());
    let meta = Arc::new(Schema::new(vec![Field::new("only", DataType::Int64, false)]));
    assert_eq!(frame.clone().map_partitions_with_meta("double_x", meta.clone()).schema().unwrap(), meta);
    let err = frame.clone().map_partitions("no_such_fn").schema().unwrap_err().to_string();
    assert!(err.contains("no_such_fn"), "{err}");
    let grouped = frame.groupby(&["k"]).agg(&[("x", GroupAgg::Mean)]);
    let names: Vec<String> = grouped.schema().unwrap().fields().iter().map(|f| f.name().clone()).collect();
    assert_eq!(names, ["k", "x_mean"]);
    let joined = frame.merge(&Frame::from_batches(vec![dims(vec![Some(1)], vec![2.0])]), &["k"], How::Left);
    assert_eq!(joined.schema().unwrap(), joined.compute(&SyncExecutor).unwrap().schema());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// Repartitioning by size keeps every row in order and keeps partitions near the size.
    #[test]
    fn repartition_by_size_keeps_rows_in_order((parts, whole) in frame_strategy(), rows_per_part in 1usize..20) {
        let ex = ThreadedExecutor::new(2);
        let frame = Frame::from_batches(parts);
        let row_bytes = (whole.get_array_memory_size() / whole.num_rows().max(1)).max(1);
        let resized = frame.repartition_by_size((rows_per_part * row_bytes) as u64);
        prop_assert_eq!(resized.compute(&ex).unwrap(), whole.clone());
        prop_assert!(resized.npartitions() >= 1);
    }

    /// Whole-frame aggregates equal the column reductions.
    #[test]
    fn frame_aggregates_equal_column_reductions((parts, whole) in frame_strategy()) {
        prop_assume!(whole.num_rows() > 0);
        let frame = Frame::from_batches(parts);
        let sums = frame.agg(GroupAgg::Sum).unwrap().compute(&SyncExecutor).unwrap();
        prop_assert_eq!(sums.num_rows(), 1);
        let names: Vec<String> = sums.schema().fields().iter().map(|f| f.name().clone()).collect();
        prop_assert_eq!(names, ["k_sum", "x_sum", "y_sum"]);
        for c in ["x", "y"] {
            let want = frame.sum(c).compute(&SyncExecutor).unwrap();
            let got = Value::Float(f64s(&sums, &format!("{c}_sum"))[0].unwrap());
            prop_assert!(close(&got, &want), "{c}: {got} vs {want}");
        }
    }
}

#[test]
fn repartition_by_size_splits_large_partitions_and_joins_small_ones() {
    let ex = ThreadedExecutor::new(2);
    let big = batch((0..10_000).map(Some).collect(), vec![1.0; 10_000], vec![0.5; 10_000]);
    let small = |n: i64| batch((0..n).map(Some).collect(), vec![1.0; n as usize], vec![0.5; n as usize]);
    let frame = Frame::from_batches(vec![big.clone(), small(10), small(10), small(10)]);
    let target = big.get_array_memory_size() as u64 / 4;
    let resized = frame.repartition_by_size(target);
    let sizes: Vec<usize> = partitions(&resized).iter().map(|p| p.num_rows()).collect();
    assert_eq!(&sizes[..4], &[2500, 2500, 2500, 2500], "the large one in quarters: {sizes:?}");
    assert_eq!(sizes.len(), 5, "the small ones together: {sizes:?}");
    assert_eq!(resized.len(&ex).unwrap(), 10_030);
}

#[test]
fn a_frame_without_partitions_is_an_error_not_a_panic() {
    let none = Frame::from_batches(Vec::new());
    let one = Frame::from_batches(vec![batch(vec![Some(1)], vec![1.0], vec![0.5])]);
    let ex = SyncExecutor;
    let errors = [
        none.compute(&ex).err(),
        none.shuffle(&["k"], 3).compute(&ex).err(),
        none.groupby(&["k"]).agg(&[("x", GroupAgg::Sum)]).compute(&ex).err(),
        none.groupby(&["k"]).split_out(2).agg(&[("x", GroupAgg::Sum)]).compute(&ex).err(),
        none.merge(&one, &["k"], How::Outer).compute(&ex).err(),
        none.sort_values("k").compute(&ex).err(),
    ];
    for e in errors {
        let e = e.expect("an error").to_string();
        assert!(e.contains("no partitions"), "{e}");
    }
    assert_eq!(none.sum("x").compute(&ex).unwrap(), Value::Int(0), "the sum of nothing is 0");
}

#[test]
fn cuts_from_statistics_split_values_evenly() {
    use crate::sort::cuts_from_ranges;
    // 100 values over [0, 99] and 300 over [100, 399]: 100 per part.
    let cuts = cuts_from_ranges(&[(100, 0.0, 99.0), (300, 100.0, 399.0)], 4);
    for (cut, want) in cuts.iter().zip([99.0, 199.0, 299.0]) {
        assert!((cut - want).abs() <= 1.0, "{cuts:?}");
    }
    assert_eq!(cuts_from_ranges(&[(10, 5.0, 5.0)], 2), vec![5.0], "a single value is one point");
    assert_eq!(cuts_from_ranges(&[], 3), vec![f64::INFINITY; 2], "no values: everything in the first part");
    assert!(cuts_from_ranges(&[(5, 0.0, 1.0)], 1).is_empty());
}

#[test]
fn a_small_left_side_is_broadcast_with_columns_as_merge_orders_them() {
    let ex = ThreadedExecutor::new(2);
    let big: Vec<RecordBatch> = (0..4)
        .map(|p| batch((0..50).map(|i| Some((i * 7 + p) % 20)).collect(), vec![p as f64; 50], vec![0.5; 50]))
        .collect();
    // Both sides have a `w`: the right one must come out as `w_right`.
    let right = Frame::from_batches(big).with_column("w", col("x").add(lit(100i64)));
    let left = Frame::from_batches(vec![dims(vec![Some(1), Some(3), None, Some(3)], vec![10.0, 30.0, 0.0, 31.0])]);
    let threshold = left.plan.estimated_bytes().unwrap();
    let options = MergeOptions { broadcast_threshold: threshold, ..MergeOptions::default() };
    let shuffled = MergeOptions { strategy: JoinStrategy::Shuffle, ..MergeOptions::default() };
    // Every kind that has a swapped form: left becomes right and back.
    for how in [How::Left, How::Right, How::Outer] {
        let swapped = left.merge_with(&right, &["k"], how, options.clone());
        assert!(swapped.explain().contains("BroadcastLeft"), "{how:?}: {}", swapped.explain());
        let expected = left.merge_with(&right, &["k"], how, shuffled.clone()).compute(&ex).unwrap();
        let got = swapped.compute(&ex).unwrap();
        assert_eq!(got.schema(), expected.schema(), "{how:?}");
        assert_eq!(rows(&got), rows(&expected), "{how:?}");
    }
    let swapped = left.merge_with(&right, &["k"], How::Inner, options);
    assert!(swapped.explain().contains("broadcast"), "{}", swapped.explain());
    let expected = left.merge_with(&right, &["k"], How::Inner, shuffled).compute(&ex).unwrap();
    let got = swapped.compute(&ex).unwrap();
    assert_eq!(got.schema(), expected.schema(), "left's columns, then right's, suffixed");
    assert_eq!(rows(&got), rows(&expected));
    // Reading one column reads only what it needs, through the renaming.
    for c in ["w", "w_right"] {
        let want = f64s(&expected, c).iter().flatten().sum::<f64>();
        assert_eq!(swapped.sum(c).compute(&ex).unwrap(), Value::Float(want), "{c}");
    }
}

#[test]
fn selects_narrow_to_what_is_read_after_them() {
    let frame = Frame::from_batches(vec![batch(vec![Some(1), Some(2)], vec![1.0, 2.0], vec![0.9, 0.1])])
        .select(&["k", "x", "y"])
        .with_column("unused", col("k").div(lit(0i64)));
    // Only x is read: the select keeps x alone and the unused column is never computed (its
    // expression divides by zero, which fails when it runs).
    assert_eq!(frame.sum("x").compute(&SyncExecutor).unwrap(), Value::Float(3.0));
    assert_eq!(frame.len(&SyncExecutor).unwrap(), 2);
    assert!(frame.compute(&SyncExecutor).is_err(), "all columns: the bad one is computed and fails");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// Sorting by a string column puts every row in order (nulls last), whatever the partitioning.
    #[test]
    fn sort_values_orders_strings(
        names in proptest::collection::vec(proptest::option::of("[a-e]{0,3}"), 0..60),
        mut cuts in proptest::collection::vec(0usize..60, 0..4),
    ) {
        let schema = Arc::new(Schema::new(vec![Field::new("s", DataType::Utf8, true), Field::new("i", DataType::Int64, false)]));
        let column: ArrayRef = Arc::new(StringArray::from(names.clone()));
        let ids: ArrayRef = Arc::new(Int64Array::from((0..names.len() as i64).collect::<Vec<_>>()));
        let whole = RecordBatch::try_new(schema, vec![column, ids]).unwrap();
        let sorted = Frame::from_batches(slices(&whole, &mut cuts)).sort_values("s").compute(&ThreadedExecutor::new(2)).unwrap();
        let got: Vec<Option<String>> =
            sorted.column(0).as_any().downcast_ref::<StringArray>().unwrap().iter().map(|s| s.map(str::to_owned)).collect();
        let mut want = names;
        want.sort_by(|a, b| (a.is_none(), a).cmp(&(b.is_none(), b)));
        prop_assert_eq!(got, want);
        prop_assert_eq!(rows(&sorted), rows(&whole));
    }
}

#[test]
fn set_index_on_a_string_column_says_why_not() {
    let schema = Arc::new(Schema::new(vec![Field::new("s", DataType::Utf8, true)]));
    let names: ArrayRef = Arc::new(StringArray::from(vec!["b", "a"]));
    let frame = Frame::from_batches(vec![RecordBatch::try_new(schema, vec![names]).unwrap()]);
    let err = frame.set_index("s").unwrap_err().to_string();
    assert!(err.contains("divisions are numbers") && err.contains("sort_values"), "{err}");
    let flags =
        Frame::from_batches(vec![batch(vec![Some(1)], vec![1.0], vec![0.5])]).with_column("b", col("x").gt(lit(0.0)));
    // Booleans sort (false first), as every key type does.
    let sorted = flags.sort_values("b").compute(&SyncExecutor).unwrap();
    assert_eq!(sorted.num_rows(), 1);
}
