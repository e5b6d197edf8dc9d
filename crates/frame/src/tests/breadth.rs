//! The types, expressions and operations real data needs, each checked against a direct
//! computation on one batch: nulls, empty partitions, one partition and skewed keys included.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Decimal128Type, Int64Type};
use arrow_array::{Array, ArrayRef, Date32Array, Decimal128Array, Int32Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use proptest::prelude::*;
use rask_exec::{SyncExecutor, ThreadedExecutor};

use crate::*;

/// `rows` of (int32 key, utf8 name, decimal(15,2) price, date) — nulls in every column.
fn table(rows: &[Row]) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("k", DataType::Int32, true),
        Field::new("s", DataType::Utf8, true),
        Field::new("p", DataType::Decimal128(15, 2), true),
        Field::new("d", DataType::Date32, true),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(rows.iter().map(|r| r.0).collect::<Int32Array>()),
        Arc::new(rows.iter().map(|r| r.1.clone()).collect::<StringArray>()),
        Arc::new(
            rows.iter()
                .map(|r| r.2.map(i128::from))
                .collect::<Decimal128Array>()
                .with_precision_and_scale(15, 2)
                .unwrap(),
        ),
        Arc::new(rows.iter().map(|r| r.3).collect::<Date32Array>()),
    ];
    RecordBatch::try_new(schema, columns).unwrap()
}

type Row = (Option<i32>, Option<String>, Option<i64>, Option<i32>);

fn rows() -> impl Strategy<Value = Vec<Row>> {
    // Few distinct keys: skew and duplicates; a tenth of values null.
    let key = prop::option::weighted(0.9, 0..6i32);
    let name = prop::option::weighted(
        0.9,
        prop::sample::select(vec!["ab", "abc", "b%c", "", "xyz", "Ab"]).prop_map(String::from),
    );
    let price = prop::option::weighted(0.9, -5_000i64..5_000);
    let day = prop::option::weighted(0.9, 8_000i32..11_000);
    prop::collection::vec((key, name, price, day), 0..60)
}

/// `rows` in `parts` partitions (some empty).
fn frame(rows: &[Row], parts: usize) -> Frame {
    let per = rows.len().div_ceil(parts.max(1)).max(1);
    let mut batches: Vec<RecordBatch> = rows.chunks(per).map(table).collect();
    batches.push(table(&[]));
    Frame::from_batches(batches)
}

fn ints(b: &RecordBatch, c: &str) -> Vec<Option<i64>> {
    let a = arrow_cast::cast(b.column_by_name(c).unwrap(), &DataType::Int64).unwrap();
    a.as_primitive::<Int64Type>().iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn expressions_agree_with_row_by_row_evaluation(rows in rows(), parts in 1usize..4) {
        let expr = when(col("s").like("a%").and(col("p").gt(lit(decimal("0.00")))))
            .then(col("k").add(lit(100)))
            .when(col("d").lt(lit(date("1995-01-01")).add(lit(months(1)))))
            .then(col("d").year())
            .otherwise(col("s").str_len().fill_null(lit(-1)));
        let out = frame(&rows, parts).with_column("e", expr).compute(&ThreadedExecutor::new(2)).unwrap();
        let got = ints(&out, "e");
        let feb_1995 = days_from_ymd(1995, 2, 1).unwrap();
        let expected: Vec<Option<i64>> = rows.iter().map(|(k, s, p, d)| {
            // SQL: a null condition is not true.
            if s.as_deref().is_some_and(|s| s.starts_with('a')) && p.is_some_and(|p| p > 0) {
                k.map(|k| i64::from(k) + 100)
            } else if d.is_some_and(|d| d < feb_1995) {
                d.map(|d| (chrono_year(d)) as i64)
            } else {
                Some(s.as_ref().map_or(-1, |s| s.chars().count() as i64))
            }
        }).collect();
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn joins_of_every_kind_agree_with_nested_loops(left in rows(), right in rows(), parts in 1usize..4, how in 0usize..6) {
        let how = [How::Inner, How::Left, How::Semi, How::Anti, How::Outer, How::Right][how];
        // An int32 key joined to an int64 one, under a different name.
        let r = frame(&right, parts).with_column("rk", col("k").cast(Type::Int64)).select(&["rk", "p"]);
        let options = MergeOptions { strategy: JoinStrategy::Shuffle, npartitions: Some(3), ..MergeOptions::default() };
        let joined = frame(&left, parts).merge_on_with(&r, &["k"], &["rk"], how, options);
        let out = joined.compute(&SyncExecutor).unwrap();
        let matches = |k: Option<i32>| right.iter().filter(|r| k.is_some() && r.0 == k).count();
        let expected_rows: usize = match how {
            How::Inner => left.iter().map(|l| matches(l.0)).sum(),
            How::Left => left.iter().map(|l| matches(l.0).max(1)).sum(),
            How::Semi => left.iter().filter(|l| matches(l.0) > 0).count(),
            How::Anti => left.iter().filter(|l| matches(l.0) == 0).count(),
            _ => {
                let both: usize = left.iter().map(|l| matches(l.0)).sum();
                let left_only = left.iter().filter(|l| matches(l.0) == 0).count();
                let right_only = right.iter().filter(|r| r.0.is_none() || !left.iter().any(|l| l.0 == r.0)).count();
                both + right_only + if how == How::Outer { left_only } else { 0 }
            }
        };
        prop_assert_eq!(out.num_rows(), expected_rows);
        let columns: Vec<String> = out.schema().fields().iter().map(|f| f.name().clone()).collect();
        if matches!(how, How::Semi | How::Anti) {
            prop_assert_eq!(columns, vec!["k", "s", "p", "d"]);
        } else {
            prop_assert_eq!(columns, vec!["k", "s", "p", "d", "rk", "p_right"]);
        }
    }

    #[test]
    fn multi_key_sorts_and_top_n_agree_with_a_full_sort(rows in rows(), parts in 1usize..4, n in 0usize..10) {
        let keys = [SortKey::desc("k"), SortKey::asc("d").nulls_first(), SortKey::asc("p")];
        let mut expected = rows.clone();
        // Reference: nulls last for k (descending), first for d.
        expected.sort_by(|a, b| {
            let k = match (a.0, b.0) { (None, None) => std::cmp::Ordering::Equal, (None, _) => std::cmp::Ordering::Greater, (_, None) => std::cmp::Ordering::Less, (x, y) => y.cmp(&x) };
            k.then_with(|| a.3.cmp(&b.3)).then_with(|| match (a.2, b.2) { (None, None) => std::cmp::Ordering::Equal, (None, _) => std::cmp::Ordering::Greater, (_, None) => std::cmp::Ordering::Less, (x, y) => x.cmp(&y) })
        });
        let key_of = |b: &RecordBatch| -> Vec<(Option<i64>, Option<i64>, Option<i64>)> {
            let (k, d) = (ints(b, "k"), ints(b, "d"));
            let p: Vec<Option<i64>> =
                b.column_by_name("p").unwrap().as_primitive::<Decimal128Type>().iter().map(|v| v.map(|v| v as i64)).collect();
            (0..b.num_rows()).map(|i| (k[i], d[i], p[i])).collect()
        };
        let reference: Vec<(Option<i64>, Option<i64>, Option<i64>)> =
            expected.iter().map(|r| (r.0.map(i64::from), r.3.map(i64::from), r.2)).collect();
        let f = frame(&rows, parts);
        let sorted = f.sort_by(&keys).compute(&ThreadedExecutor::new(2)).unwrap();
        prop_assert_eq!(key_of(&sorted), reference.clone());
        let top = f.top_n(&keys, n).compute(&SyncExecutor).unwrap();
        prop_assert_eq!(key_of(&top), reference[..n.min(reference.len())].to_vec());
        prop_assert!(f.sort_by(&keys).limit(n).explain().contains("top"));
    }

    #[test]
    fn decimal_and_date_aggregates_are_exact(rows in rows(), parts in 1usize..4) {
        let out = frame(&rows, parts)
            .groupby(&["k"])
            .aggregate(&[("total", col("p"), GroupAgg::Sum), ("first_day", col("d"), GroupAgg::Min), ("names", col("s"), GroupAgg::Count)])
            .compute(&SyncExecutor)
            .unwrap();
        let schema = out.schema();
        prop_assert_eq!(schema.field_with_name("total").unwrap().data_type(), &DataType::Decimal128(38, 2));
        prop_assert_eq!(schema.field_with_name("first_day").unwrap().data_type(), &DataType::Date32);
        let totals = out.column_by_name("total").unwrap().as_primitive::<Decimal128Type>().clone();
        let days = out.column_by_name("first_day").unwrap().as_primitive::<Date32Type>().clone();
        let keys = ints(&out, "k");
        for (i, k) in keys.iter().enumerate() {
            let group: Vec<&Row> = rows.iter().filter(|r| r.0.map(i64::from) == *k).collect();
            let sum: i128 = group.iter().filter_map(|r| r.2).map(i128::from).sum();
            prop_assert_eq!(totals.value(i), sum);
            prop_assert_eq!(days.is_valid(i).then(|| days.value(i)), group.iter().filter_map(|r| r.3).min());
        }
    }
}

fn chrono_year(days: i32) -> i32 {
    // Civil-from-days (Howard Hinnant's algorithm), independent of the code under test.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    yoe + era * 400 + i32::from(month <= 2)
}

#[test]
fn mismatched_join_keys_and_missing_columns_are_refused_before_running() {
    let left = frame(&[(Some(1), Some("a".into()), Some(1), Some(1))], 1);
    let strings = left.select(&["s"]);
    let e = left.merge_on(&strings, &["k"], &["s"], How::Inner).compute(&SyncExecutor).unwrap_err().to_string();
    assert!(e.contains("\"k\" (Int32) and \"s\" (Utf8)"), "{e}");
    let e = left.filter(col("nope").gt(lit(1))).compute(&SyncExecutor).unwrap_err().to_string();
    assert!(e.contains("no column \"nope\"") && e.contains("k, s, p, d"), "{e}");
    let e = left.filter(col("s").matches("(")).compute(&SyncExecutor).unwrap_err().to_string();
    assert!(e.contains("bad regular expression"), "{e}");
    let e = left.filter(col("d").like("x")).compute(&SyncExecutor).unwrap_err().to_string();
    assert!(e.contains("Like needs strings, got Date32"), "{e}");
}

#[test]
fn string_functions_match_their_sql_meaning() {
    let b = table(&[(None, Some("  Hello, World ".into()), None, None), (None, None, None, None)]);
    let f = Frame::from_batches(vec![b]);
    let cases: Vec<(Expr, &str)> = vec![
        (col("s").strip().upper(), "HELLO, WORLD"),
        (col("s").strip().substring(0, Some(5)), "Hello"),
        (col("s").replace("l", "L").strip(), "HeLLo, WorLd"),
        (concat_str([col("s").strip().lower(), lit("!")]), "hello, world!"),
    ];
    for (e, want) in cases {
        let out = f.with_column("e", e.clone()).compute(&SyncExecutor).unwrap();
        let got = out.column_by_name("e").unwrap().as_string::<i32>().clone();
        assert_eq!(got.value(0), want, "{e:?}");
        assert!(got.is_null(1), "{e:?} of null");
    }
    let out = f
        .with_column("a", col("s").like("%World_"))
        .with_column("b", col("s").ilike("%hello%"))
        .with_column("c", col("s").matches(r"W\w+d"))
        .with_column("n", col("s").is_in(["x"]))
        .compute(&SyncExecutor)
        .unwrap();
    for c in ["a", "b", "c"] {
        assert!(out.column_by_name(c).unwrap().as_boolean().value(0), "{c}");
    }
    assert!(!out.column_by_name("n").unwrap().as_boolean().value(0));
    assert!(out.column_by_name("n").unwrap().is_null(1), "null IN (..) is null");
}

#[test]
fn keyless_aggregates_of_nothing_are_one_row() {
    let empty = frame(&[], 1);
    let out = empty
        .groupby(&[])
        .aggregate(&[("n", lit(1), GroupAgg::Count), ("total", col("p"), GroupAgg::Sum)])
        .compute(&SyncExecutor)
        .unwrap();
    assert_eq!(out.num_rows(), 1);
    assert_eq!(out.column(0).as_primitive::<Int64Type>().value(0), 0);
    assert!(out.column(1).is_null(0));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn order_statistics_and_counts_agree_with_a_direct_computation(rows in rows(), parts in 1usize..4, q in 0.0f64..=1.0) {
        let out = frame(&rows, parts)
            .with_column("pos", col("p").gt(lit(decimal("0.00"))))
            .groupby(&["k"])
            .aggregate(&[
                ("median", col("p"), GroupAgg::Median),
                ("q", col("p"), GroupAgg::Quantile(q)),
                ("size", col("p"), GroupAgg::Size),
                ("any", col("pos"), GroupAgg::Any),
                ("all", col("pos"), GroupAgg::All),
                ("var", col("p"), GroupAgg::Var),
            ])
            .compute(&ThreadedExecutor::new(2))
            .unwrap();
        let float = |c: &str| -> Vec<Option<f64>> {
            arrow_cast::cast(out.column_by_name(c).unwrap(), &DataType::Float64).unwrap().as_primitive::<arrow_array::types::Float64Type>().iter().collect()
        };
        let boolean = |c: &str| -> Vec<Option<bool>> { out.column_by_name(c).unwrap().as_boolean().iter().collect() };
        let (median, qs, sizes, any, all, var) = (float("median"), float("q"), ints(&out, "size"), boolean("any"), boolean("all"), float("var"));
        for (i, k) in ints(&out, "k").iter().enumerate() {
            let group: Vec<&Row> = rows.iter().filter(|r| r.0.map(i64::from) == *k).collect();
            let mut values: Vec<f64> = group.iter().filter_map(|r| r.2).map(|p| p as f64 / 100.0).collect();
            values.sort_by(f64::total_cmp);
            let quantile = |q: f64| (!values.is_empty()).then(|| {
                let pos = q * (values.len() - 1) as f64;
                let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
                values[lo] + (values[hi] - values[lo]) * (pos - lo as f64)
            });
            let close = |a: Option<f64>, b: Option<f64>| match (a, b) { (Some(a), Some(b)) => (a - b).abs() <= 1e-9 * (1.0 + b.abs()), (a, b) => a.is_none() && b.is_none() };
            prop_assert!(close(median[i], quantile(0.5)), "median {:?} vs {:?}", median[i], quantile(0.5));
            prop_assert!(close(qs[i], quantile(q)));
            prop_assert_eq!(sizes[i], Some(group.len() as i64));
            let positives: Vec<bool> = group.iter().filter_map(|r| r.2).map(|p| p > 0).collect();
            prop_assert_eq!(any[i], (!positives.is_empty()).then(|| positives.iter().any(|&b| b)));
            prop_assert_eq!(all[i], (!positives.is_empty()).then(|| positives.iter().all(|&b| b)));
            let n = values.len() as f64;
            let mean = values.iter().sum::<f64>() / n;
            let expected_var = (values.len() > 1).then(|| values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0));
            let var_ok = match (var[i], expected_var) {
                (Some(a), Some(b)) => (a - b).abs() <= 1e-6 * (1.0 + b.abs()),
                (a, b) => a.is_none() && b.is_none(),
            };
            prop_assert!(var_ok, "var {:?} vs {:?}", var[i], expected_var);
        }
    }

    #[test]
    fn drop_duplicates_keeps_each_keys_first_row(rows in rows(), parts in 1usize..4) {
        let out = frame(&rows, parts).drop_duplicates(&["k"]).unwrap().compute(&SyncExecutor).unwrap();
        let mut expected: Vec<&Row> = Vec::new();
        for r in &rows {
            if !expected.iter().any(|e| e.0 == r.0) {
                expected.push(r);
            }
        }
        expected.sort_by_key(|r| (r.0.is_none(), r.0));
        let names: Vec<Option<String>> = out.column_by_name("s").unwrap().as_string::<i32>().iter().map(|s| s.map(String::from)).collect();
        prop_assert_eq!(names, expected.iter().map(|r| r.1.clone()).collect::<Vec<_>>());
        prop_assert_eq!(ints(&out, "k"), expected.iter().map(|r| r.0.map(i64::from)).collect::<Vec<_>>());
    }
}

#[test]
fn frame_operations_a_pandas_user_expects() {
    let rows: Vec<Row> = vec![
        (Some(1), Some("a".into()), Some(100), None),
        (Some(1), None, Some(250), Some(9000)),
        (Some(2), Some("b".into()), None, Some(9001)),
        (Some(1), Some("a".into()), Some(100), None),
    ];
    let f = frame(&rows, 2);
    let ex = SyncExecutor;
    let counts = f.value_counts("k").compute(&ex).unwrap();
    assert_eq!((ints(&counts, "k"), ints(&counts, "count")), (vec![Some(1), Some(2)], vec![Some(3), Some(1)]));
    assert_eq!(f.drop_duplicates(&[]).unwrap().len(&ex).unwrap(), 3, "the repeated row once");
    assert_eq!(f.dropna(&[]).unwrap().len(&ex).unwrap(), 0, "every row has a null somewhere");
    assert_eq!(f.dropna(&["s"]).unwrap().len(&ex).unwrap(), 3);
    let filled = f.fillna(&["p"], lit(0)).compute(&ex).unwrap();
    assert_eq!(filled.column_by_name("p").unwrap().null_count(), 0);
    let dropped = f.drop(&["s", "d"]).unwrap().compute(&ex).unwrap();
    assert_eq!(dropped.schema().fields().iter().map(|f| f.name().as_str()).collect::<Vec<_>>(), ["k", "p"]);
    assert!(f.drop(&["nope"]).unwrap_err().to_string().contains("no column \"nope\""));
    let both = Frame::concat(&[f.clone(), f.clone()]);
    assert_eq!((both.npartitions(), both.len(&ex).unwrap()), (6, 8));
    let mismatched = Frame::concat(&[f.clone(), f.select(&["k"])]);
    assert!(mismatched.compute(&ex).unwrap_err().to_string().contains("concat: frame 1 has columns"));
    let described = f.describe(&ex).unwrap();
    let stats: Vec<&str> = described.column(0).as_string::<i32>().iter().flatten().collect();
    assert_eq!(stats, ["count", "mean", "std", "min", "25%", "50%", "75%", "max"]);
    let p: Vec<Option<f64>> =
        described.column_by_name("p").unwrap().as_primitive::<arrow_array::types::Float64Type>().iter().collect();
    assert_eq!(p[0], Some(3.0));
    assert_eq!(p[3], Some(1.0));
    assert_eq!(p[5], Some(1.0), "the median of 1, 2.5, 1");
    assert_eq!(p[7], Some(2.5));
}

#[test]
fn intervals_move_dates_and_timestamps_on_the_calendar() {
    let schema = Arc::new(arrow_schema::Schema::new(vec![
        arrow_schema::Field::new("d", DataType::Date32, true),
        arrow_schema::Field::new("t", DataType::Timestamp(arrow_schema::TimeUnit::Second, None), true),
    ]));
    let jan31 = days_from_ymd(1996, 1, 31).unwrap();
    let noon = i64::from(jan31) * 86_400 + 12 * 3600;
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Date32Array::from(vec![Some(jan31), None])),
            Arc::new(arrow_array::TimestampSecondArray::from(vec![Some(noon), None])),
        ],
    )
    .unwrap();
    let out = Frame::from_batches(vec![batch])
        .with_column("d2", col("d").add(lit(months(1))))
        .with_column("t2", col("t").add(lit(months(1))).add(lit(days(1))))
        .with_column("y", col("d").sub(lit(years(1))).year())
        .compute(&SyncExecutor)
        .unwrap();
    let d2 = out.column_by_name("d2").unwrap().as_primitive::<Date32Type>().clone();
    assert_eq!(d2.value(0), days_from_ymd(1996, 2, 29).unwrap(), "a leap year's end of February");
    assert!(d2.is_null(1));
    let t2 = out.column_by_name("t2").unwrap().as_primitive::<arrow_array::types::TimestampSecondType>().clone();
    assert_eq!(t2.value(0), i64::from(days_from_ymd(1996, 3, 1).unwrap()) * 86_400 + 12 * 3600, "the time of day kept");
    assert_eq!(ints(&out, "y"), vec![Some(1995), None]);
    // An expression as a group key.
    let by_year = frame(
        &[(Some(1), None, Some(5), Some(9000)), (Some(2), None, Some(7), Some(9001)), (None, None, Some(1), None)],
        2,
    )
    .groupby_exprs(&[("year", col("d").year())])
    .aggregate(&[("total", col("p"), GroupAgg::Sum)])
    .compute(&SyncExecutor)
    .unwrap();
    assert_eq!(ints(&by_year, "year"), vec![Some(1994), None]);
    let totals: Vec<i128> = by_year.column_by_name("total").unwrap().as_primitive::<Decimal128Type>().values().to_vec();
    assert_eq!(totals, [12, 1]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Two int keys take a pair-hashing path in group-bys and joins: the same answers as the
    /// general one (nulls a group of their own, matching nothing in a join).
    #[test]
    fn two_int_keys_group_and_join_as_pairs(
        left in prop::collection::vec((prop::option::weighted(0.9, 0..4i64), prop::option::weighted(0.9, 0..3i32)), 0..40),
        right in prop::collection::vec((prop::option::weighted(0.9, 0..4i64), prop::option::weighted(0.9, 0..3i32)), 0..40),
        parts in 1usize..4,
    ) {
        let frame_of = |rows: &[(Option<i64>, Option<i32>)]| {
            let schema = Arc::new(arrow_schema::Schema::new(vec![
                arrow_schema::Field::new("a", DataType::Int64, true),
                arrow_schema::Field::new("b", DataType::Int32, true),
            ]));
            let per = rows.len().div_ceil(parts).max(1);
            let mut batches: Vec<RecordBatch> = rows
                .chunks(per)
                .map(|c| {
                    RecordBatch::try_new(
                        schema.clone(),
                        vec![
                            Arc::new(c.iter().map(|r| r.0).collect::<arrow_array::Int64Array>()) as ArrayRef,
                            Arc::new(c.iter().map(|r| r.1).collect::<Int32Array>()),
                        ],
                    )
                    .unwrap()
                })
                .collect();
            batches.push(RecordBatch::new_empty(schema));
            Frame::from_batches(batches)
        };
        let counts = frame_of(&left).groupby(&["a", "b"]).aggregate(&[("n", lit(1), GroupAgg::Size)]).compute(&SyncExecutor).unwrap();
        let mut expected: std::collections::BTreeMap<(Option<i64>, Option<i64>), i64> = Default::default();
        for r in &left {
            *expected.entry((r.0, r.1.map(i64::from))).or_default() += 1;
        }
        let got: std::collections::BTreeMap<(Option<i64>, Option<i64>), i64> = ints(&counts, "a")
            .into_iter()
            .zip(ints(&counts, "b"))
            .zip(ints(&counts, "n"))
            .map(|((a, b), n)| ((a, b), n.unwrap_or(0)))
            .collect();
        prop_assert_eq!(got, expected);
        let joined = frame_of(&left).merge_with(&frame_of(&right), &["a", "b"], How::Inner, MergeOptions::default()).compute(&SyncExecutor).unwrap();
        let matches: usize = left
            .iter()
            .map(|l| right.iter().filter(|r| l.0.is_some() && l.1.is_some() && r.0 == l.0 && r.1 == l.1).count())
            .sum();
        prop_assert_eq!(joined.num_rows(), matches);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Distinct counts per key, in one partition or spread (rows shuffled once by key, then
    /// both steps in place): the same as counting by hand.
    #[test]
    fn nunique_counts_distinct_values_per_key(rows in rows(), parts in 1usize..4, split_out in 1usize..4) {
        let grouped = frame(&rows, parts).groupby(&["k"]).split_out(split_out);
        let out = grouped.nunique("s", "n").sort_by(&[SortKey::asc("k")]).compute(&ThreadedExecutor::new(2)).unwrap();
        let mut expected: std::collections::BTreeMap<Option<i64>, std::collections::BTreeSet<Option<String>>> = Default::default();
        for r in &rows {
            expected.entry(r.0.map(i64::from)).or_default().insert(r.1.clone());
        }
        // Null values are not counted (pandas' nunique), null keys are a group.
        let mut want: Vec<(Option<i64>, Option<i64>)> =
            expected.into_iter().map(|(k, v)| (k, Some(v.into_iter().filter(Option::is_some).count() as i64))).collect();
        want.sort_by_key(|(k, _)| (k.is_none(), *k));
        let got: Vec<(Option<i64>, Option<i64>)> = ints(&out, "k").into_iter().zip(ints(&out, "n")).collect();
        prop_assert_eq!(got, want);
        if split_out > 1 {
            let plan = grouped.nunique("s", "n").explain();
            prop_assert!(plan.contains("in place"), "{}", plan);
        }
    }
}

/// The key types real data has, each made from small ints (so equal ints are equal keys).
fn key_types() -> Vec<DataType> {
    use arrow_schema::TimeUnit;
    vec![
        DataType::Int8,
        DataType::Int16,
        DataType::Int32,
        DataType::Int64,
        DataType::UInt8,
        DataType::UInt16,
        DataType::UInt32,
        DataType::UInt64,
        DataType::Float32,
        DataType::Float64,
        DataType::Decimal128(15, 2),
        DataType::Utf8,
        DataType::LargeUtf8,
        DataType::Utf8View,
        DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
        DataType::Date32,
        DataType::Timestamp(TimeUnit::Microsecond, None),
        DataType::Boolean,
    ]
}

/// `values` (nulls included) as a column of type `t`.
fn typed_keys(values: &[Option<i64>], t: &DataType) -> ArrayRef {
    let ints: ArrayRef = Arc::new(arrow_array::Int64Array::from(values.to_vec()));
    match t {
        DataType::Utf8View | DataType::Dictionary(..) | DataType::LargeUtf8 => {
            let text = arrow_cast::cast(&ints, &DataType::Utf8).unwrap();
            arrow_cast::cast(&text, t).unwrap()
        }
        DataType::Boolean => {
            let odd: arrow_array::BooleanArray = values.iter().map(|v| v.map(|v| v % 2 == 1)).collect();
            Arc::new(odd)
        }
        _ => arrow_cast::cast(&ints, t).unwrap(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    /// Every key type groups, joins (with itself) and sorts as its values say.
    #[test]
    fn every_key_type_groups_joins_and_sorts(values in prop::collection::vec(prop::option::weighted(0.85, 0..5i64), 1..30), parts in 1usize..3) {
        for t in key_types() {
            let as_keys: Vec<Option<i64>> = if t == DataType::Boolean { values.iter().map(|v| v.map(|v| v % 2)).collect() } else { values.clone() };
            let schema = Arc::new(arrow_schema::Schema::new(vec![
                arrow_schema::Field::new("k", t.clone(), true),
                arrow_schema::Field::new("i", DataType::Int64, false),
            ]));
            let per = values.len().div_ceil(parts).max(1);
            let batches: Vec<RecordBatch> = values
                .chunks(per)
                .enumerate()
                .map(|(c, chunk)| {
                    let ids: arrow_array::Int64Array = (0..chunk.len() as i64).map(|i| i + (c * per) as i64).collect();
                    RecordBatch::try_new(schema.clone(), vec![typed_keys(chunk, &t), Arc::new(ids)]).unwrap()
                })
                .collect();
            let f = Frame::from_batches(batches);
            let counts = f.groupby(&["k"]).aggregate(&[("n", lit(1), GroupAgg::Size)]).compute(&SyncExecutor).unwrap();
            let mut expected: std::collections::BTreeMap<Option<i64>, i64> = Default::default();
            as_keys.iter().for_each(|v| *expected.entry(*v).or_default() += 1);
            let mut want: Vec<i64> = expected.values().copied().collect();
            let mut got = ints(&counts, "n").into_iter().flatten().collect::<Vec<_>>();
            want.sort();
            got.sort();
            prop_assert_eq!(got, want, "group sizes by {}", t);
            let joined = f.merge(&f.select(&["k"]).rename(&[("k", "k")]), &["k"], How::Inner).len(&SyncExecutor).unwrap();
            let pairs: usize = as_keys.iter().map(|a| as_keys.iter().filter(|b| a.is_some() && *b == a).count()).sum();
            prop_assert_eq!(joined, pairs, "self-join on {}", t);
            let sorted = f.sort_by(&[SortKey::asc("k")]).compute(&SyncExecutor).unwrap();
            let order: Vec<Option<i64>> = ints(&sorted, "i").into_iter().map(|i| as_keys[i.unwrap() as usize]).collect();
            let mut expected_order = as_keys.clone();
            expected_order.sort_by_key(|v| (v.is_none(), *v));
            prop_assert_eq!(order, expected_order, "sorted by {}", t);
        }
    }
}
