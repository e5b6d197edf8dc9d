//! Reading and writing real files: hive-partitioned Parquet folders, CSV with options,
//! newline-delimited JSON, `to_csv`.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Int64Type};
use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use rask_exec::{SyncExecutor, ThreadedExecutor};

use crate::*;

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("rask-frame-io-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn numbers(ids: std::ops::Range<i64>) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("x", DataType::Float64, false),
    ]));
    let xs: Vec<f64> = ids.clone().map(|i| i as f64 / 2.0).collect();
    RecordBatch::try_new(
        schema,
        vec![Arc::new(Int64Array::from_iter_values(ids)) as ArrayRef, Arc::new(Float64Array::from(xs))],
    )
    .unwrap()
}

#[test]
fn hive_folders_become_columns_and_filters_on_them_skip_files() {
    let root = temp_dir("hive");
    let ex = ThreadedExecutor::new(2);
    let mut start = 0;
    for year in [1994, 1995, 1996] {
        for region in ["EU", "US"] {
            let dir = root.join(format!("year={year}")).join(format!("region={region}"));
            Frame::from_batches(vec![numbers(start..start + 10)]).to_parquet(&dir, &ex).unwrap();
            start += 10;
        }
    }
    let frame = Frame::read_parquet(&root).unwrap();
    let schema = frame.schema().unwrap();
    let columns: Vec<(&str, &DataType)> = schema.fields().iter().map(|f| (f.name().as_str(), f.data_type())).collect();
    assert_eq!(
        columns,
        [("id", &DataType::Int64), ("x", &DataType::Float64), ("year", &DataType::Int64), ("region", &DataType::Utf8)]
    );
    assert_eq!(frame.npartitions(), 6);
    let eu_95 = frame.filter(col("year").eq(lit(1995)).and(col("region").eq(lit("EU"))));
    let planned = eu_95.explain_staged(&ex).unwrap();
    assert!(planned.contains("read_parquet: 1 files"), "partition pruning: {planned}");
    let out = eu_95.compute(&ex).unwrap();
    let ids: Vec<i64> = out.column_by_name("id").unwrap().as_primitive::<Int64Type>().values().to_vec();
    assert_eq!(ids, (20..30).collect::<Vec<_>>());
    let per_year = frame.groupby(&["year"]).aggregate(&[("n", lit(1), GroupAgg::Count)]).compute(&ex).unwrap();
    assert_eq!(per_year.column_by_name("n").unwrap().as_primitive::<Int64Type>().values().to_vec(), [20, 20, 20]);
    // Nothing matches: still a schema, no rows.
    assert_eq!(frame.filter(col("year").eq(lit(2001))).len(&ex).unwrap(), 0);
    // Folders that disagree on their keys are an error naming the file.
    let odd = root.join("year=1997");
    Frame::from_batches(vec![numbers(0..1)]).to_parquet(&odd, &ex).unwrap();
    let e = Frame::read_parquet(&root).unwrap_err().to_string();
    assert!(e.contains("year=1997") && e.contains("partition folders"), "{e}");
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn csv_options_declare_delimiters_headers_and_types() {
    let dir = temp_dir("csv");
    let path = dir.join("t.csv");
    std::fs::write(&path, "1|1995-03-15|a\n2|1996-01-02|b\n3||c\n").unwrap();
    let options = CsvOptions {
        delimiter: b'|',
        header: false,
        columns: Some(vec![("id".into(), Type::Int64), ("day".into(), Type::Date32), ("s".into(), Type::Utf8)]),
        blocksize: 10,
    };
    let frame = Frame::read_csv_with(&path, &options).unwrap();
    assert!(frame.npartitions() >= 2);
    let late = frame.filter(col("day").gt(lit(date("1995-12-31")))).compute(&SyncExecutor).unwrap();
    assert_eq!(late.column_by_name("id").unwrap().as_primitive::<Int64Type>().values().to_vec(), [2]);
    let all = frame.compute(&SyncExecutor).unwrap();
    assert_eq!(all.num_rows(), 3);
    assert!(arrow_array::Array::is_null(all.column_by_name("day").unwrap().as_primitive::<Date32Type>(), 2));
    // Inferred without a header: column_1, column_2, … with dates found.
    let inferred =
        Frame::read_csv_with(&path, &CsvOptions { delimiter: b'|', header: false, ..CsvOptions::default() }).unwrap();
    let schema = inferred.schema().unwrap();
    assert_eq!(schema.field(1).name(), "column_2");
    assert_eq!(schema.field(1).data_type(), &DataType::Date32);
    // A value that is not of its declared type is an error naming the file.
    std::fs::write(&path, "x|1995-03-15|a\n").unwrap();
    let e = Frame::read_csv_with(&path, &options).unwrap().compute(&SyncExecutor).unwrap_err().to_string();
    assert!(e.contains("t.csv"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn json_lines_read_in_ranges_and_frames_write_csv() {
    let dir = temp_dir("json");
    let path = dir.join("t.json");
    let lines: String =
        (0..100).map(|i| format!("{{\"id\": {i}, \"name\": \"n{i}\", \"score\": {}.5}}\n", i % 7)).collect();
    std::fs::write(&path, lines).unwrap();
    let frame = Frame::read_json(&path, 300).unwrap();
    assert!(frame.npartitions() > 3);
    let ex = ThreadedExecutor::new(2);
    assert_eq!(frame.len(&ex).unwrap(), 100, "each line in exactly one range");
    let total = frame.sum("id").compute(&ex).unwrap();
    assert_eq!(total, rask_graph::Value::Int(4950));
    let out = dir.join("out");
    assert_eq!(frame.filter(col("score").gt(lit(5.0))).to_csv(&out, &ex).unwrap(), 28, "scores 5.5 and 6.5");
    let back = Frame::read_csv(&out, 1 << 20).unwrap();
    assert_eq!(back.len(&SyncExecutor).unwrap(), 28);
    std::fs::write(dir.join("nested.json"), "{\"a\": {\"b\": 1}}\n").unwrap();
    let e = Frame::read_json(dir.join("nested.json"), 100).unwrap_err().to_string();
    assert!(e.contains("nested"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn filters_on_strings_and_dates_skip_row_groups_by_their_statistics() {
    let dir = temp_dir("stats");
    let path = dir.join("sorted.parquet");
    let names: Vec<String> = (0..400).map(|i| format!("name{i:04}")).collect();
    let days: Vec<i32> = (0..400).map(|i| 9000 + i).collect();
    let schema =
        Arc::new(Schema::new(vec![Field::new("s", DataType::Utf8, false), Field::new("d", DataType::Date32, false)]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(arrow_array::StringArray::from(names)) as ArrayRef,
            Arc::new(arrow_array::Date32Array::from(days)),
        ],
    )
    .unwrap();
    let props = parquet::file::properties::WriterProperties::builder().set_max_row_group_row_count(Some(100)).build();
    let mut writer =
        parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), schema, Some(props)).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    let frame = Frame::read_parquet(&path).unwrap();
    let groups_read = |f: Frame| {
        let before = crate::kernels::ROW_GROUPS_READ.get();
        let rows = f.len(&SyncExecutor).unwrap();
        (rows, crate::kernels::ROW_GROUPS_READ.get() - before)
    };
    assert_eq!(groups_read(frame.filter(col("s").eq(lit("name0250")))), (1, 1), "one of four row groups");
    assert_eq!(groups_read(frame.filter(col("s").lt(lit("name0100")))), (100, 1));
    assert_eq!(
        groups_read(frame.filter(col("d").gt_eq(lit(date("1995-04-10"))))),
        (170, 2),
        "day 9230 on: two of four"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
