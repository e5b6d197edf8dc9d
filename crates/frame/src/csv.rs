//! CSV and newline-delimited JSON in byte-range partitions (Dask's `blocksize`): each task
//! reads one range of one file,
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
use crate::{FrameError, Type};

/// How a text source is read: its format and its columns, as tasks carry them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct TextSpec {
    pub format: TextFormat,
    pub columns: Vec<(String, Type)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum TextFormat {
    Csv {
        delimiter: u8,
        header: bool,
    },
    /// Newline-delimited JSON: one object per line.
    Json,
}

/// How to read CSV files ([`crate::Frame::read_csv_with`]).
#[derive(Clone, Debug)]
pub struct CsvOptions {
    /// The field separator (default `,`).
    pub delimiter: u8,
    /// Whether the first line names the columns (default yes); without one, columns are
    /// `column_1`, `column_2`, … unless declared.
    pub header: bool,
    /// The columns and their types, declared (dates as `Type::Date32` read `YYYY-MM-DD`);
    /// by default inferred from the first 1000 rows of the first file.
    pub columns: Option<Vec<(String, Type)>>,
    /// Bytes per partition (default 64 MiB).
    pub blocksize: u64,
}

impl Default for CsvOptions {
    fn default() -> CsvOptions {
        CsvOptions { delimiter: b',', header: true, columns: None, blocksize: 64 << 20 }
    }
}

/// The type a column of inferred type `t` is read as (nested and exotic types as text).
fn readable(t: &DataType) -> Type {
    match t {
        DataType::Boolean => Type::Bool,
        DataType::Int64 | DataType::Int32 => Type::Int64,
        DataType::Float64 | DataType::Float32 => Type::Float64,
        DataType::Date32 => Type::Date32,
        DataType::Timestamp(unit, _) => Type::Timestamp(match unit {
            arrow_schema::TimeUnit::Second => crate::TimeUnit::Second,
            arrow_schema::TimeUnit::Millisecond => crate::TimeUnit::Millisecond,
            arrow_schema::TimeUnit::Microsecond => crate::TimeUnit::Microsecond,
            arrow_schema::TimeUnit::Nanosecond => crate::TimeUnit::Nanosecond,
        }),
        _ => Type::Utf8,
    }
}

/// The columns of a CSV file: declared, or inferred from its first 1000 rows.
pub(crate) fn infer_csv(path: &str, options: &CsvOptions) -> Result<Vec<(String, Type)>, FrameError> {
    if let Some(columns) = &options.columns {
        return Ok(columns.clone());
    }
    let file = File::open(path).map_err(|e| FrameError::File { path: path.to_owned(), cause: e.to_string() })?;
    let format = arrow_csv::reader::Format::default().with_header(options.header).with_delimiter(options.delimiter);
    let (schema, _) = format
        .infer_schema(file, Some(1000))
        .map_err(|e| FrameError::File { path: path.to_owned(), cause: e.to_string() })?;
    Ok(schema.fields().iter().map(|f| (f.name().clone(), readable(f.data_type()))).collect())
}

/// The columns of a newline-delimited JSON file, inferred from its first 1000 lines.
pub(crate) fn infer_json(path: &str) -> Result<Vec<(String, Type)>, FrameError> {
    let fail = |cause: String| FrameError::File { path: path.to_owned(), cause };
    let file = File::open(path).map_err(|e| fail(e.to_string()))?;
    let (schema, _) = arrow_json::reader::infer_json_schema(std::io::BufReader::new(file), Some(1000))
        .map_err(|e| fail(e.to_string()))?;
    schema
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::List(_) | DataType::Struct(_) | DataType::Map(..) => Err(fail(format!(
                "column {:?} holds nested values ({}), which frames do not read",
                f.name(),
                f.data_type()
            ))),
            t => Ok((f.name().clone(), readable(t))),
        })
        .collect()
}

pub(crate) fn schema(columns: &[(String, Type)]) -> SchemaRef {
    Arc::new(Schema::new(columns.iter().map(|(name, t)| Field::new(name, t.arrow(), true)).collect::<Vec<_>>()))
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

/// `(frame_read_csv, path, start, end, spec, projection)`: one byte range of a CSV or JSON file.
fn read_csv(args: &[Value]) -> Result<Value, TaskError> {
    let path = args[0].as_str().ok_or_else(|| TaskError::type_error("frame_read_csv(): path must be a str"))?;
    let (start, end) = match (args[1].as_int(), args[2].as_int()) {
        (Some(s), Some(e)) if 0 <= s && s <= e => (s as u64, e as u64),
        _ => return Err(TaskError::value_error("frame_read_csv(): want 0 <= start <= end")),
    };
    let spec: TextSpec = decode("frame_read_csv", &args[3])?;
    let projection: Option<Vec<String>> = decode("frame_read_csv", &args[4])?;
    read_range(path, start, end, &spec, projection.as_deref())
        .map(to_value)
        .map_err(|e| frame_error("frame_read_csv", e))
}

pub(crate) fn read_range(
    path: &str,
    start: u64,
    end: u64,
    spec: &TextSpec,
    projection: Option<&[String]>,
) -> Result<RecordBatch, FrameError> {
    let fail = |cause: String| FrameError::File { path: path.to_owned(), cause };
    let bytes = range_bytes(path, start, end).map_err(|e| fail(e.to_string()))?;
    let schema = schema(&spec.columns);
    let batches = match spec.format {
        TextFormat::Csv { delimiter, header } => {
            let builder = arrow_csv::ReaderBuilder::new(schema.clone())
                .with_header(header && start == 0)
                .with_delimiter(delimiter)
                .with_batch_size(1 << 16);
            let reader = builder.build(std::io::Cursor::new(bytes)).map_err(|e| fail(e.to_string()))?;
            reader.collect::<Result<Vec<_>, _>>().map_err(|e| fail(e.to_string()))?
        }
        TextFormat::Json => {
            let reader = arrow_json::ReaderBuilder::new(schema.clone())
                .with_batch_size(1 << 16)
                .build(std::io::Cursor::new(bytes))
                .map_err(|e| fail(e.to_string()))?;
            reader.collect::<Result<Vec<_>, _>>().map_err(|e| fail(e.to_string()))?
        }
    };
    let whole = arrow_select::concat::concat_batches(&schema, &batches)?;
    Ok(match projection {
        Some(names) => {
            let indices: Vec<usize> = names.iter().filter_map(|n| schema.index_of(n).ok()).collect();
            whole.project(&indices)?
        }
        None => whole,
    })
}

register!("frame_read_csv", Arity::Exact(5), read_csv);
