//! `rask tpch gen`: the 8 TPC-H tables as Parquet, one folder per table, from `tpchgen` (the
//! Rust port of dbgen, row for row the same data). Types are the generator's (Decimal128(15, 2)
//! money, Date32 dates, Int64/Int32 keys), except strings, written as utf8 rather than utf8 view
//! so that any Parquet reader takes them.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::{RecordBatch, RecordBatchReader};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use tpchgen::generators::{
    CustomerGenerator, LineItemGenerator, NationGenerator, OrderGenerator, PartGenerator, PartSuppGenerator,
    RegionGenerator, SupplierGenerator,
};
use tpchgen_arrow::{
    CustomerArrow, LineItemArrow, NationArrow, OrderArrow, PartArrow, PartSuppArrow, RegionArrow, SupplierArrow,
};

use crate::TpchError;

/// The tables, in the order they are written.
pub const TABLES: [&str; 8] = ["region", "nation", "supplier", "customer", "part", "partsupp", "orders", "lineitem"];

/// Rows per table at scale factor 1 (region and nation do not scale).
fn rows_at_sf1(table: &str) -> f64 {
    match table {
        "lineitem" => 6_000_000.0,
        "orders" => 1_500_000.0,
        "partsupp" => 800_000.0,
        "part" => 200_000.0,
        "customer" => 150_000.0,
        "supplier" => 10_000.0,
        _ => 25.0,
    }
}

/// Files a table is written in: about a million rows each, and at least two for the tables
/// that scale (so that even SF 0.01 has several partitions to join and shuffle).
pub fn files_for(table: &str, sf: f64) -> usize {
    if matches!(table, "region" | "nation" | "supplier") {
        return 1;
    }
    ((rows_at_sf1(table) * sf / 1_000_000.0).ceil() as usize).max(2)
}

/// Writes every table of scale factor `sf` under `dir` (`dir/lineitem/part-0.parquet`, …);
/// returns the rows written per table.
pub fn generate(dir: &Path, sf: f64) -> Result<Vec<(&'static str, usize)>, TpchError> {
    if !(sf > 0.0 && sf.is_finite()) {
        return Err(TpchError::Usage(format!("scale factor must be positive, got {sf}")));
    }
    let mut written = Vec::new();
    for table in TABLES {
        let folder = dir.join(table);
        std::fs::create_dir_all(&folder).map_err(|e| TpchError::io(&folder, e))?;
        let files = files_for(table, sf);
        let mut rows = 0;
        for part in 1..=files {
            let path = folder.join(format!("part-{part}.parquet"));
            rows += write_file(&path, reader(table, sf, part as i32, files as i32))?;
        }
        written.push((table, rows));
    }
    Ok(written)
}

/// The generator of part `part` of `parts` of `table`.
fn reader(table: &str, sf: f64, part: i32, parts: i32) -> Box<dyn RecordBatchReader> {
    const BATCH: usize = 64 * 1024;
    match table {
        "region" => Box::new(RegionArrow::new(RegionGenerator::new(sf, part, parts)).with_batch_size(BATCH)),
        "nation" => Box::new(NationArrow::new(NationGenerator::new(sf, part, parts)).with_batch_size(BATCH)),
        "supplier" => Box::new(SupplierArrow::new(SupplierGenerator::new(sf, part, parts)).with_batch_size(BATCH)),
        "customer" => Box::new(CustomerArrow::new(CustomerGenerator::new(sf, part, parts)).with_batch_size(BATCH)),
        "part" => Box::new(PartArrow::new(PartGenerator::new(sf, part, parts)).with_batch_size(BATCH)),
        "partsupp" => Box::new(PartSuppArrow::new(PartSuppGenerator::new(sf, part, parts)).with_batch_size(BATCH)),
        "orders" => Box::new(OrderArrow::new(OrderGenerator::new(sf, part, parts)).with_batch_size(BATCH)),
        _ => Box::new(LineItemArrow::new(LineItemGenerator::new(sf, part, parts)).with_batch_size(BATCH)),
    }
}

/// The schema with utf8 where the generator gives utf8 view.
fn utf8_schema(schema: &Schema) -> Arc<Schema> {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::Utf8View => f.as_ref().clone().with_data_type(DataType::Utf8),
            _ => f.as_ref().clone(),
        })
        .collect();
    Arc::new(Schema::new(fields))
}

fn write_file(path: &Path, reader: Box<dyn RecordBatchReader>) -> Result<usize, TpchError> {
    let schema = utf8_schema(&reader.schema());
    let file = File::create(path).map_err(|e| TpchError::io(path, e))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(256 * 1024))
        .build();
    let fail = |e: String| TpchError::Io { path: path.display().to_string(), cause: e };
    let mut writer = ArrowWriter::try_new(file, schema.clone(), Some(props)).map_err(|e| fail(e.to_string()))?;
    let mut rows = 0;
    for batch in reader {
        let batch = batch.map_err(|e| fail(e.to_string()))?;
        let columns = batch
            .columns()
            .iter()
            .zip(schema.fields())
            .map(|(c, f)| arrow_cast::cast(c, f.data_type()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| fail(e.to_string()))?;
        let batch = RecordBatch::try_new(schema.clone(), columns).map_err(|e| fail(e.to_string()))?;
        rows += batch.num_rows();
        writer.write(&batch).map_err(|e| fail(e.to_string()))?;
    }
    writer.close().map_err(|e| fail(e.to_string()))?;
    Ok(rows)
}
