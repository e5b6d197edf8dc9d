//! The peer's dataframe workload (`../shared/peer/dask_frame.py`): its dataset, made here when
//! missing (same schema and sizes; a different random stream, so checksums match the peer's
//! only on the peer's own files), and its four queries.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use rask_exec::Executor;
use rask_graph::Value;

use crate::{col, lit, Frame, FrameError, GroupAgg, How};

/// splitmix64: a small, fast, reproducible generator (the dataset is the same on every run).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

pub fn facts_dir(root: &Path) -> PathBuf {
    root.join("facts")
}

/// Writes `root/facts/part-NNN.parquet` (`rows` rows in `files` files) and `root/dims.parquet`
/// unless `root/facts` already holds `files` files. `progress(done, files)` after each file.
pub fn make_data(root: &Path, rows: usize, files: usize, progress: &dyn Fn(usize, usize)) -> Result<(), FrameError> {
    let facts = facts_dir(root);
    let io = |e: std::io::Error| FrameError::File { path: facts.display().to_string(), cause: e.to_string() };
    if std::fs::read_dir(&facts).map(|d| d.count() == files).unwrap_or(false) {
        return Ok(());
    }
    std::fs::create_dir_all(&facts).map_err(io)?;
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("key", DataType::Int64, false),
        Field::new("x", DataType::Float64, false),
        Field::new("y", DataType::Float64, false),
        Field::new("name", DataType::Utf8, false),
    ]));
    let words: Vec<String> = (0..50).map(|i| format!("w{i:02}")).collect();
    let per = rows / files;
    let mut rng = Rng(42);
    for f in 0..files {
        let mut ids: Vec<i64> = ((f * per) as i64..((f + 1) * per) as i64).collect();
        for i in (1..ids.len()).rev() {
            ids.swap(i, rng.below(i as u64 + 1) as usize);
        }
        let keys: Vec<i64> = (0..per).map(|_| rng.below(1000) as i64).collect();
        let xs: Vec<f64> = (0..per).map(|_| rng.unit()).collect();
        let ys: Vec<f64> = (0..per).map(|_| rng.unit()).collect();
        let names: Vec<&str> = (0..per).map(|_| words[rng.below(50) as usize].as_str()).collect();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(ids)),
            Arc::new(Int64Array::from(keys)),
            Arc::new(Float64Array::from(xs)),
            Arc::new(Float64Array::from(ys)),
            Arc::new(StringArray::from(names)),
        ];
        let batch = RecordBatch::try_new(schema.clone(), columns)?;
        write(&facts.join(format!("part-{f:03}.parquet")), &batch, per / 4)?;
        progress(f + 1, files);
    }
    let dims_schema = Arc::new(Schema::new(vec![
        Field::new("key", DataType::Int64, false),
        Field::new("label", DataType::Utf8, false),
        Field::new("weight", DataType::Float64, false),
    ]));
    let labels: Vec<String> = (0..1000).map(|i| format!("label{}", i % 7)).collect();
    let dims = RecordBatch::try_new(
        dims_schema,
        vec![
            Arc::new(Int64Array::from((0..1000).collect::<Vec<i64>>())),
            Arc::new(StringArray::from(labels.iter().map(String::as_str).collect::<Vec<_>>())),
            Arc::new(Float64Array::from((0..1000).map(|i| i as f64 / 999.0).collect::<Vec<_>>())),
        ],
    )?;
    write(&root.join("dims.parquet"), &dims, 1000)
}

fn write(path: &Path, batch: &RecordBatch, row_group: usize) -> Result<(), FrameError> {
    let err = |e: String| FrameError::File { path: path.display().to_string(), cause: e };
    let file = std::fs::File::create(path).map_err(|e| err(e.to_string()))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(row_group.max(1)))
        .build();
    let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(props)).map_err(|e| err(e.to_string()))?;
    writer.write(batch).map_err(|e| err(e.to_string()))?;
    writer.close().map_err(|e| err(e.to_string()))?;
    Ok(())
}

/// The four queries' names, in the peer's order.
pub const QUERIES: [&str; 4] = ["groupby_sum", "filter_mean", "join_dims", "set_index"];

/// Runs one query; returns its seconds and checksum (computed as the peer computes it).
pub fn run_query(name: &str, root: &Path, executor: &dyn Executor) -> Result<(Duration, f64), FrameError> {
    let facts = facts_dir(root);
    let start = Instant::now();
    let checksum = match name {
        "groupby_sum" => {
            let grouped =
                Frame::read_parquet(&facts)?.groupby(&["key"]).agg(&[("x", GroupAgg::Sum)]).compute(executor)?;
            let sums = grouped.column_by_name("x_sum").expect("the aggregate column").as_primitive::<Float64Type>();
            sums.iter().flatten().sum()
        }
        "filter_mean" => float(Frame::read_parquet(&facts)?.filter(col("y").gt(lit(0.5))).mean("x").compute(executor)?),
        "join_dims" => {
            let dims = Frame::read_parquet(root.join("dims.parquet"))?;
            float(Frame::read_parquet(&facts)?.merge(&dims, &["key"], How::Inner).sum("weight").compute(executor)?)
        }
        "set_index" => {
            // As the peer does: divisions from a sample of `id`, then rows moved to their ranges;
            // `head` computes only the first output partition.
            let indexed = Frame::read_parquet(&facts)?.select(&["id", "x"]).set_index("id")?;
            let first = indexed.head(1, executor)?;
            first.column_by_name("x").expect("x").as_primitive::<Float64Type>().value(0)
        }
        other => return Err(FrameError::Type(format!("no query named {other:?}"))),
    };
    Ok((start.elapsed(), checksum))
}

fn float(v: Value) -> f64 {
    v.as_float().unwrap_or(f64::NAN)
}
