//! CSV in byte-range partitions (Dask's `blocksize`): each task reads one range of one file,
//! starting after the first line break in its range (unless at the file's start) and ending
//! at the first line break at or after the range's end, so every line is read exactly once.
//! The schema is inferred once, at plan time, from the start of the first file.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use rask_graph::{register, Arity, TaskError, Value};
use serde::{Deserialize, Serialize};

use crate::batch::to_value;
use crate::kernels::{decode, frame_error};
use crate::FrameError;

/// A column of a CSV schema, as tasks carry it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct CsvColumn {
    pub name: String,
    /// `bool`, `int64`, `float64` or `utf8` (anything else inferred is read as text).
    pub kind: String,
}

pub(crate) fn infer(path: &str) -> Result<Vec<CsvColumn>, FrameError> {
    let file = File::open(path).map_err(|e| FrameError::File { path: path.to_owned(), cause: e.to_string() })?;
    let format = arrow_csv::reader::Format::default().with_header(true);
    let (schema, _) = format
        .infer_schema(file, Some(1000))
        .map_err(|e| FrameError::File { path: path.to_owned(), cause: e.to_string() })?;
    Ok(schema
        .fields()
        .iter()
        .map(|f| {
            let kind = match f.data_type() {
                DataType::Boolean => "bool",
                DataType::Int64 => "int64",
                DataType::Float64 => "float64",
                _ => "utf8",
            };
            CsvColumn { name: f.name().clone(), kind: kind.into() }
        })
        .collect())
}

pub(crate) fn schema(columns: &[CsvColumn]) -> SchemaRef {
    Arc::new(Schema::new(
        columns
            .iter()
            .map(|c| {
                let t = match c.kind.as_str() {
                    "bool" => DataType::Boolean,
                    "int64" => DataType::Int64,
                    "float64" => DataType::Float64,
                    _ => DataType::Utf8,
                };
                Field::new(&c.name, t, true)
            })
            .collect::<Vec<_>>(),
    ))
}

/// The bytes of the lines whose first byte lies in `[start, end)` (every line belongs to
/// exactly one range).
fn range_bytes(path: &str, start: u64, end: u64) -> std::io::Result<Vec<u8>> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let end = end.min(len);
    if start >= end {
        return Ok(Vec::new());
    }
    // From the byte before `start`: if it is a line break, a line starts exactly at `start`.
    let base = start.saturating_sub(1);
    let mut extra = 64 * 1024;
    loop {
        let stop_at = (end + extra).min(len);
        file.seek(SeekFrom::Start(base))?;
        let mut buf = vec![0u8; (stop_at - base) as usize];
        file.read_exact(&mut buf)?;
        let at_eof = stop_at == len;
        let body = if start == 0 {
            0
        } else {
            match buf.iter().position(|&b| b == b'\n') {
                Some(p) => p + 1,
                None if at_eof => return Ok(Vec::new()),
                None => {
                    extra *= 4;
                    continue;
                }
            }
        };
        let rel_end = (end - base) as usize;
        if body >= rel_end {
            return Ok(Vec::new()); // no line starts in this range
        }
        // The last line starting before `end` ends at the first break at or after `end - 1`.
        let stop = match buf[rel_end - 1..].iter().position(|&b| b == b'\n') {
            Some(p) => rel_end - 1 + p + 1,
            None if at_eof => buf.len(),
            None => {
                extra *= 4;
                continue;
            }
        };
        return Ok(buf[body..stop].to_vec());
    }
}

/// `(frame_read_csv, path, start, end, columns, projection)`.
fn read_csv(args: &[Value]) -> Result<Value, TaskError> {
    let path = args[0].as_str().ok_or_else(|| TaskError::type_error("frame_read_csv(): path must be a str"))?;
    let (start, end) = match (args[1].as_int(), args[2].as_int()) {
        (Some(s), Some(e)) if 0 <= s && s <= e => (s as u64, e as u64),
        _ => return Err(TaskError::value_error("frame_read_csv(): want 0 <= start <= end")),
    };
    let columns: Vec<CsvColumn> = decode("frame_read_csv", &args[3])?;
    let projection: Option<Vec<String>> = decode("frame_read_csv", &args[4])?;
    read_range(path, start, end, &columns, projection.as_deref())
        .map(to_value)
        .map_err(|e| frame_error("frame_read_csv", e))
}

pub(crate) fn read_range(
    path: &str,
    start: u64,
    end: u64,
    columns: &[CsvColumn],
    projection: Option<&[String]>,
) -> Result<RecordBatch, FrameError> {
    let fail = |cause: String| FrameError::File { path: path.to_owned(), cause };
    let bytes = range_bytes(path, start, end).map_err(|e| fail(e.to_string()))?;
    let schema = schema(columns);
    let mut builder = arrow_csv::ReaderBuilder::new(schema.clone()).with_header(start == 0).with_batch_size(1 << 16);
    let out_schema = match projection {
        Some(names) => {
            let indices: Vec<usize> = names.iter().filter_map(|n| schema.index_of(n).ok()).collect();
            builder = builder.with_projection(indices.clone());
            Arc::new(schema.project(&indices)?)
        }
        None => schema.clone(),
    };
    let reader = builder.build(std::io::Cursor::new(bytes)).map_err(|e| fail(e.to_string()))?;
    let batches = reader.collect::<Result<Vec<_>, _>>().map_err(|e| fail(e.to_string()))?;
    Ok(arrow_select::concat::concat_batches(&out_schema, &batches)?)
}

register!("frame_read_csv", Arity::Exact(5), read_csv);
