//! A dataframe query: two partitions of an Arrow table, a filter and a group-by, lowered to a
//! task graph and computed on a thread pool.
//! `cargo run --release -p rask --example dataframe`
use std::sync::Arc;

use rask::arrow::array::{Float64Array, Int64Array, RecordBatch};
use rask::arrow::schema::{DataType, Field, Schema};
use rask::frame::{col, lit, Frame, GroupAgg};

fn part(keys: Vec<i64>, xs: Vec<f64>) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("key", DataType::Int64, false),
        Field::new("x", DataType::Float64, false),
    ]));
    RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(keys)), Arc::new(Float64Array::from(xs))])
        .expect("columns match the schema")
}

pub fn main() -> Result<(), Box<dyn std::error::Error>> {
    rask::init();
    let facts =
        Frame::from_batches(vec![part(vec![1, 2, 1], vec![1.0, 2.0, 3.0]), part(vec![2, 3, 3], vec![4.0, 0.5, 6.0])]);
    let by_key = facts.filter(col("x").gt(lit(0.9))).groupby(&["key"]).agg(&[("x", GroupAgg::Sum)]);
    let result = by_key.compute(&rask::executor("threads")?)?;
    println!("{} groups:\n{}", result.num_rows(), rask::pretty(&result));
    let keys = result.column(0).as_any().downcast_ref::<Int64Array>().expect("int64 keys");
    let sums = result.column(1).as_any().downcast_ref::<Float64Array>().expect("float64 sums");
    let mut rows: Vec<(i64, f64)> = keys.values().iter().copied().zip(sums.values().iter().copied()).collect();
    rows.sort_by_key(|r| r.0);
    assert_eq!(rows, vec![(1, 4.0), (2, 6.0), (3, 6.0)], "x = 0.5 was filtered out");
    Ok(())
}
