//! The task functions frames lower to, registered by name so every executor (threads,
//! processes, a cluster's workers) runs them the same way. Arguments that describe work (which
//! columns, which operations, which aggregates) travel as postcard bytes.

use std::fs::File;
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;
use rask_graph::{register, Arity, TaskError, Value};
use serde::{Deserialize, Serialize};

use crate::batch::{from_value, to_value};
use crate::expr::Expr;
use crate::FrameError;

/// A per-partition operation; a chain of them runs as one task per partition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum PartitionOp {
    Filter(Expr),
    WithColumn(String, Expr),
    Select(Vec<String>),
    /// Columns renamed, `(old, new)` pairs; the others kept.
    Rename(Vec<(String, String)>),
    /// A registered function from batch to batch (Dask's `map_partitions`); it runs as a task
    /// of its own in the chain, which the plan then fuses with its neighbours. `meta` is its
    /// output schema when the user gave it (it stays in the plan; tasks do not need it).
    Map {
        function: String,
        #[serde(skip)]
        meta: Option<arrow_schema::SchemaRef>,
    },
}

/// A whole-frame reduction of one column (or of rows, for `Count` of `None`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Agg {
    Count,
    Sum,
    Mean,
    Min,
    Max,
}

pub(crate) fn encode<T: Serialize>(what: &T) -> Value {
    Value::bytes(postcard::to_stdvec(what).expect("plan pieces encode"))
}

pub(crate) fn decode<T: for<'de> Deserialize<'de>>(func: &str, v: &Value) -> Result<T, TaskError> {
    match v {
        Value::Bytes(b) => {
            postcard::from_bytes(b.as_slice()).map_err(|e| TaskError::value_error(format!("{func}(): {e}")))
        }
        other => Err(TaskError::type_error(format!("{func}(): expected encoded arguments, got {}", other.type_name()))),
    }
}

pub(crate) fn frame_error(func: &str, e: FrameError) -> TaskError {
    TaskError::new(e.kind(), format!("{func}(): {e}"))
}

/// `column op value` from a leading filter: what row-group statistics can rule out. The value
/// is a number (dates as day numbers) or, with `text`, a string.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Bound {
    pub column: String,
    pub op: crate::expr::Op,
    pub value: f64,
    pub text: Option<String>,
}

impl Bound {
    /// Whether a row group whose strings lie in `[min, max]` may hold a matching row.
    fn may_match_text(&self, min: &str, max: &str) -> bool {
        self.text.as_deref().is_none_or(|v| in_range(self.op, v, min, max))
    }

    /// Whether a row group whose column lies in `[min, max]` may hold a matching row.
    fn may_match(&self, min: f64, max: f64) -> bool {
        in_range(self.op, &self.value, &min, &max)
    }
}

/// Whether `column op v` may hold for some value in `[min, max]`.
fn in_range<T: PartialOrd + ?Sized>(op: crate::expr::Op, v: &T, min: &T, max: &T) -> bool {
    use crate::expr::Op;
    match op {
        Op::Gt => max > v,
        Op::GtEq => max >= v,
        Op::Lt => min < v,
        Op::LtEq => min <= v,
        Op::Eq => min <= v && v <= max,
        _ => true,
    }
}

thread_local! {
    /// Row groups read on this thread (tests check that pruning happened).
    pub(crate) static ROW_GROUPS_READ: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// `(frame_read_parquet, path, columns, filters, row_group, partition)`: one file (or its row
/// group `row_group`, an int) as one partition; `columns` (encoded `Option<Vec<String>>`) is
/// the projection, `filters` the conjuncts pushed down from the plan (row groups whose
/// statistics exclude them are not read, other columns decoded only for rows that pass), and
/// `partition` the file's hive partition values, added as constant columns.
fn read_parquet(args: &[Value]) -> Result<Value, TaskError> {
    let path = args[0].as_str().ok_or_else(|| TaskError::type_error("frame_read_parquet(): path must be a str"))?;
    let columns: Option<Vec<String>> = decode("frame_read_parquet", &args[1])?;
    let filters: Vec<Expr> = decode("frame_read_parquet", &args[2])?;
    let only = match &args[3] {
        Value::None => None,
        v => Some(
            v.as_int()
                .and_then(|g| usize::try_from(g).ok())
                .ok_or_else(|| TaskError::type_error("frame_read_parquet(): row_group must be an int"))?,
        ),
    };
    let partition: Vec<(String, crate::Type, crate::Lit)> = decode("frame_read_parquet", &args[4])?;
    read_file(path, columns.as_deref(), &filters, only)
        .and_then(|batch| with_partition(batch, columns.as_deref(), &partition))
        .map(to_value)
        .map_err(|e| frame_error("frame_read_parquet", e))
}

/// `batch` with the constant columns of its hive partition (those `columns` asks for).
fn with_partition(
    batch: RecordBatch,
    columns: Option<&[String]>,
    partition: &[(String, crate::Type, crate::Lit)],
) -> Result<RecordBatch, FrameError> {
    if partition.is_empty() {
        return Ok(batch);
    }
    let mut fields: Vec<Arc<Field>> = batch.schema().fields().iter().cloned().collect();
    let mut arrays: Vec<ArrayRef> = batch.columns().to_vec();
    let zeros = arrow_array::UInt32Array::from(vec![0u32; batch.num_rows()]);
    for (name, t, value) in partition {
        if columns.is_some_and(|c| !c.contains(name)) {
            continue;
        }
        let one = crate::expr::literal_array(value, *t)?;
        arrays.push(arrow_select::take::take(&one, &zeros, None)?);
        fields.push(Arc::new(Field::new(name, t.arrow(), true)));
    }
    let options = arrow_array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    Ok(RecordBatch::try_new_with_options(Arc::new(Schema::new(fields)), arrays, &options)?)
}

/// Row groups whose min/max statistics do not rule out every bound.
fn row_groups(metadata: &parquet::file::metadata::ParquetMetaData, bounds: &[Bound]) -> Vec<usize> {
    (0..metadata.num_row_groups())
        .filter(|&g| {
            let group = metadata.row_group(g);
            bounds.iter().all(|b| {
                let Some(chunk) =
                    (0..group.num_columns()).find(|&c| group.column(c).column_path().string() == b.column)
                else {
                    return true;
                };
                let chunk = group.column(chunk);
                if b.text.is_some() {
                    return text_range(chunk).is_none_or(|(min, max)| b.may_match_text(&min, &max));
                }
                chunk_range(chunk).is_none_or(|(min, max)| b.may_match(min, max))
            })
        })
        .collect()
}

/// A column chunk's `[min, max]` from its statistics, as the numbers the column's values
/// are: a decimal's stored integers are scaled back (`12.50`, not `1250`).
fn chunk_range(chunk: &parquet::file::metadata::ColumnChunkMetaData) -> Option<(f64, f64)> {
    let (min, max) = stats_range(chunk.statistics()?)?;
    let descr = chunk.column_descr();
    let decimal = matches!(descr.logical_type_ref(), Some(parquet::basic::LogicalType::Decimal { .. }))
        || descr.converted_type() == parquet::basic::ConvertedType::DECIMAL;
    if decimal {
        let unit = 10f64.powi(descr.type_scale());
        return Some((min / unit, max / unit));
    }
    Some((min, max))
}

/// A string column chunk's `[min, max]` from its statistics (byte order, which is the order of
/// the strings; a truncated max or min is still a bound).
fn text_range(chunk: &parquet::file::metadata::ColumnChunkMetaData) -> Option<(String, String)> {
    match chunk.statistics()? {
        parquet::file::statistics::Statistics::ByteArray(v) => {
            let text = |b: &parquet::data_type::ByteArray| std::str::from_utf8(b.data()).ok().map(str::to_owned);
            Some((text(v.min_opt()?)?, text(v.max_opt()?)?))
        }
        _ => None,
    }
}

/// A numeric column chunk's `[min, max]` from its statistics (decimals unscaled).
fn stats_range(s: &parquet::file::statistics::Statistics) -> Option<(f64, f64)> {
    use parquet::file::statistics::Statistics as S;
    match s {
        S::Int32(v) => Some((*v.min_opt()? as f64, *v.max_opt()? as f64)),
        S::Int64(v) => Some((*v.min_opt()? as f64, *v.max_opt()? as f64)),
        S::Float(v) => Some((*v.min_opt()? as f64, *v.max_opt()? as f64)),
        S::Double(v) => Some((*v.min_opt()?, *v.max_opt()?)),
        _ => None,
    }
}

/// `(rows, min, max)` of `column` in each row group of `files` (a file's partition may be one
/// of its row groups), or `None` if any group lacks statistics for it.
pub(crate) fn column_ranges(
    files: &[(std::path::PathBuf, Option<usize>)],
    column: &str,
) -> Option<Vec<(u64, f64, f64)>> {
    let mut out = Vec::new();
    for (path, only) in files {
        let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(path).ok()?).ok()?;
        let metadata = builder.metadata();
        for g in (0..metadata.num_row_groups()).filter(|g| only.is_none_or(|o| o == *g)) {
            let group = metadata.row_group(g);
            let chunk = (0..group.num_columns()).find(|&c| group.column(c).column_path().string() == column)?;
            let stats = group.column(chunk).statistics()?;
            // Nulls go to the last partition whatever the cuts; only values are placed.
            let nulls = stats.null_count_opt().unwrap_or(0);
            let (min, max) = chunk_range(group.column(chunk))?;
            out.push((group.num_rows().max(0) as u64 - nulls.min(group.num_rows().max(0) as u64), min, max));
        }
    }
    Some(out)
}

/// One Parquet file (or one of its row groups): `columns` of it (all when `None`), row groups
/// that `filters`' bounds rule out skipped, and the other columns decoded only for rows that
/// pass the filters (late materialization).
pub(crate) fn read_file(
    path: &str,
    columns: Option<&[String]>,
    filters: &[Expr],
    only: Option<usize>,
) -> Result<RecordBatch, FrameError> {
    let io = |e: std::io::Error| FrameError::File { path: path.to_owned(), cause: e.to_string() };
    let pq = |e: parquet::errors::ParquetError| FrameError::File { path: path.to_owned(), cause: e.to_string() };
    let mut bounds = Vec::new();
    filters.iter().for_each(|f| f.bounds(&mut bounds));
    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(path).map_err(io)?).map_err(pq)?;
    let builder = match row_filter(&builder, filters) {
        Some(filter) => builder.with_row_filter(filter),
        None => builder,
    };
    let builder = match columns {
        Some(columns) => {
            // Columns this file lacks are skipped: a join asks both sides for the union of
            // what it needs, and a column that is really missing is reported by the operation
            // that reads it.
            let schema = builder.schema().clone();
            let indices: Vec<usize> = columns.iter().filter_map(|c| schema.index_of(c).ok()).collect();
            let mask = ProjectionMask::roots(builder.parquet_schema(), indices);
            builder.with_projection(mask)
        }
        None => builder,
    };
    let schema = builder.schema().clone();
    let groups = builder.metadata().num_row_groups();
    if only.is_some_and(|g| g >= groups) {
        return Err(FrameError::File { path: path.to_owned(), cause: format!("no row group {only:?} of {groups}") });
    }
    let kept: Vec<usize> = if bounds.is_empty() && only.is_none() {
        (0..groups).collect()
    } else {
        let mut kept = row_groups(builder.metadata(), &bounds);
        kept.retain(|g| only.is_none_or(|o| o == *g));
        kept
    };
    ROW_GROUPS_READ.set(ROW_GROUPS_READ.get() + kept.len());
    // One batch for the whole partition: the columns come out of the decoder as they are,
    // with no concatenation (a copy of everything read) after.
    let rows: i64 = kept.iter().map(|&g| builder.metadata().row_group(g).num_rows()).sum();
    let builder = builder.with_row_groups(kept).with_batch_size((rows.max(1) as usize).min(1 << 24));
    let reader = builder.build().map_err(pq)?;
    let batches = reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| FrameError::File { path: path.to_owned(), cause: e.to_string() })?;
    let schema = batches.first().map_or(schema, |b| b.schema());
    Ok(arrow_select::concat::concat_batches(&schema, &batches)?)
}

/// The filters the reader can evaluate itself (those reading only the file's own top-level
/// columns), as a row filter.
fn row_filter(
    builder: &ParquetRecordBatchReaderBuilder<File>,
    filters: &[Expr],
) -> Option<parquet::arrow::arrow_reader::RowFilter> {
    use parquet::arrow::arrow_reader::{ArrowPredicate, ArrowPredicateFn, RowFilter};
    let schema = builder.schema().clone();
    let predicates: Vec<Box<dyn ArrowPredicate>> = filters
        .iter()
        .filter_map(|f| {
            let indices: Vec<usize> =
                f.column_names().iter().map(|c| schema.index_of(c).ok()).collect::<Option<Vec<_>>>()?;
            // A constant predicate is left to the filter (it would read no column).
            if indices.is_empty() {
                return None;
            }
            let mask = ProjectionMask::roots(builder.parquet_schema(), indices);
            let f = f.clone();
            let predicate = ArrowPredicateFn::new(mask, move |batch: RecordBatch| {
                let mask = f.evaluate(&batch).map_err(|e| arrow_schema::ArrowError::ComputeError(e.to_string()))?;
                mask.as_any().downcast_ref::<arrow_array::BooleanArray>().cloned().ok_or_else(|| {
                    arrow_schema::ArrowError::ComputeError(format!("filter needs booleans, got {}", mask.data_type()))
                })
            });
            Some(Box::new(predicate) as Box<dyn ArrowPredicate>)
        })
        .collect();
    (!predicates.is_empty()).then(|| RowFilter::new(predicates))
}

/// `(frame_apply, batch, ops)`: a chain of per-partition operations.
fn apply(args: &[Value]) -> Result<Value, TaskError> {
    let batch = from_value("frame_apply", &args[0])?;
    let ops: Vec<PartitionOp> = decode("frame_apply", &args[1])?;
    apply_ops(batch.clone(), &ops).map(to_value).map_err(|e| frame_error("frame_apply", e))
}

pub(crate) fn apply_ops(mut batch: RecordBatch, ops: &[PartitionOp]) -> Result<RecordBatch, FrameError> {
    for op in ops {
        batch = match op {
            PartitionOp::Filter(e) => {
                let mask = e.evaluate(&batch)?;
                let mask = mask.as_any().downcast_ref::<arrow_array::BooleanArray>().ok_or_else(|| {
                    FrameError::Type(format!("filter needs a boolean expression, got {}", mask.data_type()))
                })?;
                arrow_select::filter::filter_record_batch(&batch, mask)?
            }
            PartitionOp::WithColumn(name, e) => {
                let values = e.evaluate(&batch)?;
                let mut fields: Vec<Arc<Field>> = batch.schema().fields().iter().cloned().collect();
                let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
                let field = Arc::new(Field::new(name, values.data_type().clone(), true));
                match fields.iter().position(|f| f.name() == name) {
                    Some(i) => {
                        fields[i] = field;
                        columns[i] = values;
                    }
                    None => {
                        fields.push(field);
                        columns.push(values);
                    }
                }
                RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?
            }
            PartitionOp::Map { function, .. } => {
                return Err(FrameError::Type(format!(
                    "map_partitions({function}) runs as its own task, not inside a chain"
                )))
            }
            PartitionOp::Rename(pairs) => {
                let schema = batch.schema();
                for (old, _) in pairs {
                    schema.index_of(old).map_err(|_| FrameError::missing(old, &schema))?;
                }
                let fields: Vec<Arc<Field>> = schema
                    .fields()
                    .iter()
                    .map(|f| match pairs.iter().find(|(old, _)| old == f.name()) {
                        Some((_, new)) => Arc::new(f.as_ref().clone().with_name(new)),
                        None => f.clone(),
                    })
                    .collect();
                RecordBatch::try_new(Arc::new(Schema::new(fields)), batch.columns().to_vec())?
            }
            PartitionOp::Select(names) => {
                let schema = batch.schema();
                let indices = names
                    .iter()
                    .map(|c| schema.index_of(c).map_err(|_| FrameError::missing(c, &schema)))
                    .collect::<Result<Vec<_>, _>>()?;
                batch.project(&indices)?
            }
        };
    }
    Ok(batch)
}

/// A partial aggregate: what combining needs (a sum and a count give a mean).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Partial {
    pub count: i64,
    /// Float sums stay float; int sums stay int until a float joins them.
    pub sum: Option<Num>,
    pub min: Option<Num>,
    pub max: Option<Num>,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) enum Num {
    Int(i64),
    Float(f64),
}

impl Num {
    fn f(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(x) => x,
        }
    }

    fn add(self, o: Num) -> Result<Num, FrameError> {
        match (self, o) {
            (Num::Int(a), Num::Int(b)) => {
                a.checked_add(b).map(Num::Int).ok_or(FrameError::Type("int64 sum overflowed".into()))
            }
            (a, b) => Ok(Num::Float(a.f() + b.f())),
        }
    }

    fn value(self) -> Value {
        match self {
            Num::Int(i) => Value::Int(i),
            Num::Float(x) => Value::Float(x),
        }
    }
}

fn pick(a: Option<Num>, b: Option<Num>, keep_first: impl Fn(f64, f64) -> bool) -> Option<Num> {
    match (a, b) {
        (Some(x), Some(y)) => Some(if keep_first(x.f(), y.f()) { x } else { y }),
        (x, None) => x,
        (None, y) => y,
    }
}

impl Partial {
    pub(crate) fn of(array: &dyn Array) -> Result<Partial, FrameError> {
        let count = (array.len() - array.null_count()) as i64;
        match array.data_type() {
            DataType::Int64 => {
                let a = array.as_any().downcast_ref::<Int64Array>().expect("int64");
                let mut sum = 0i64;
                for v in a.iter().flatten() {
                    sum = sum.checked_add(v).ok_or(FrameError::Type("int64 sum overflowed".into()))?;
                }
                let min = arrow_arith::aggregate::min(a).map(Num::Int);
                let max = arrow_arith::aggregate::max(a).map(Num::Int);
                Ok(Partial { count, sum: (count > 0).then_some(Num::Int(sum)), min, max })
            }
            DataType::Float64 => {
                let a = array.as_any().downcast_ref::<Float64Array>().expect("float64");
                let sum = arrow_arith::aggregate::sum(a).map(Num::Float);
                let min = arrow_arith::aggregate::min(a).map(Num::Float);
                let max = arrow_arith::aggregate::max(a).map(Num::Float);
                Ok(Partial { count, sum, min, max })
            }
            _ if array.data_type().is_numeric() => {
                let cast = arrow_cast::cast(array, &DataType::Float64)?;
                Partial::of(&cast)
            }
            other => Err(FrameError::Type(format!("cannot aggregate a column of {other}"))),
        }
    }

    pub(crate) fn combine(self, o: Partial) -> Result<Partial, FrameError> {
        let sum = match (self.sum, o.sum) {
            (Some(a), Some(b)) => Some(a.add(b)?),
            (a, None) => a,
            (None, b) => b,
        };
        Ok(Partial {
            count: self.count + o.count,
            sum,
            min: pick(self.min, o.min, |a, b| a <= b),
            max: pick(self.max, o.max, |a, b| a >= b),
        })
    }

    /// The final value, in pandas' terms: the sum of nothing is 0, the mean/min/max of nothing
    /// is None (NaN in pandas).
    pub(crate) fn finish(&self, agg: Agg) -> Value {
        match agg {
            Agg::Count => Value::Int(self.count),
            Agg::Sum => self.sum.map_or(Value::Int(0), Num::value),
            Agg::Mean => {
                self.sum.filter(|_| self.count > 0).map_or(Value::None, |s| Value::Float(s.f() / self.count as f64))
            }
            Agg::Min => self.min.map_or(Value::None, Num::value),
            Agg::Max => self.max.map_or(Value::None, Num::value),
        }
    }
}

/// `(frame_partial, batch, column)`: one partition's partial aggregate of a column.
fn partial(args: &[Value]) -> Result<Value, TaskError> {
    let batch = from_value("frame_partial", &args[0])?;
    let column = args[1].as_str().ok_or_else(|| TaskError::type_error("frame_partial(): column must be a str"))?;
    let array = crate::column(batch, column).map_err(|e| frame_error("frame_partial", e))?;
    Partial::of(&array).map(|p| encode(&p)).map_err(|e| frame_error("frame_partial", e))
}

/// `(frame_combine, [partials])`: a level of the reduction tree.
fn combine(args: &[Value]) -> Result<Value, TaskError> {
    let items = args[0].as_seq().ok_or_else(|| TaskError::type_error("frame_combine(): expected a list"))?;
    let mut acc: Option<Partial> = None;
    for item in items {
        let p: Partial = decode("frame_combine", item)?;
        acc = Some(match acc {
            Some(a) => a.combine(p).map_err(|e| frame_error("frame_combine", e))?,
            None => p,
        });
    }
    Ok(encode(&acc.unwrap_or(Partial { count: 0, sum: None, min: None, max: None })))
}

/// `(frame_finish, partial, agg)`: the reduction's value.
fn finish(args: &[Value]) -> Result<Value, TaskError> {
    let p: Partial = decode("frame_finish", &args[0])?;
    let agg: Agg = decode("frame_finish", &args[1])?;
    Ok(p.finish(agg))
}

/// `(frame_concat, [batches])`: partitions into one batch (a frame's `compute`).
fn concat(args: &[Value]) -> Result<Value, TaskError> {
    let items = args[0].as_seq().ok_or_else(|| TaskError::type_error("frame_concat(): expected a list"))?;
    let batches = items.iter().map(|v| from_value("frame_concat", v).cloned()).collect::<Result<Vec<_>, _>>()?;
    let Some(first) = batches.first() else { return Err(TaskError::value_error("frame_concat(): no partitions")) };
    arrow_select::concat::concat_batches(&first.schema(), &batches)
        .map(to_value)
        .map_err(|e| TaskError::value_error(format!("frame_concat(): {e}")))
}

/// `(frame_head, [batches], n)`: the first `n` rows.
fn head(args: &[Value]) -> Result<Value, TaskError> {
    let n = args[1]
        .as_int()
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| TaskError::value_error("frame_head(): n must be a non-negative int"))?;
    let whole = concat(&args[..1])?;
    let batch = from_value("frame_head", &whole)?;
    Ok(to_value(batch.slice(0, n.min(batch.num_rows()))))
}

/// `(frame_write_parquet, batch, path)`: one partition to one file; returns the rows written.
fn write_parquet(args: &[Value]) -> Result<Value, TaskError> {
    let batch = from_value("frame_write_parquet", &args[0])?;
    let path = args[1].as_str().ok_or_else(|| TaskError::type_error("frame_write_parquet(): path must be a str"))?;
    let fail = |e: String| frame_error("frame_write_parquet", FrameError::File { path: path.to_owned(), cause: e });
    let file = File::create(path).map_err(|e| fail(e.to_string()))?;
    let props = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::SNAPPY)
        .build();
    let mut writer =
        parquet::arrow::ArrowWriter::try_new(file, batch.schema(), Some(props)).map_err(|e| fail(e.to_string()))?;
    writer.write(batch).map_err(|e| fail(e.to_string()))?;
    writer.close().map_err(|e| fail(e.to_string()))?;
    Ok(Value::Int(batch.num_rows() as i64))
}

/// `(frame_write_csv, batch, path)`: one partition to one CSV file (a header row; dates ISO);
/// returns the rows written.
fn write_csv(args: &[Value]) -> Result<Value, TaskError> {
    let batch = from_value("frame_write_csv", &args[0])?;
    let path = args[1].as_str().ok_or_else(|| TaskError::type_error("frame_write_csv(): path must be a str"))?;
    let fail = |e: String| frame_error("frame_write_csv", FrameError::File { path: path.to_owned(), cause: e });
    let file = File::create(path).map_err(|e| fail(e.to_string()))?;
    let mut writer = arrow_csv::WriterBuilder::new().with_header(true).build(std::io::BufWriter::new(file));
    writer.write(batch).map_err(|e| fail(e.to_string()))?;
    Ok(Value::Int(batch.num_rows() as i64))
}

register!("frame_read_parquet", Arity::Exact(5), read_parquet);
register!("frame_write_csv", Arity::Exact(2), write_csv);
register!("frame_write_parquet", Arity::Exact(2), write_parquet);
register!("frame_apply", Arity::Exact(2), apply);
register!("frame_partial", Arity::Exact(2), partial);
register!("frame_combine", Arity::Exact(1), combine);
register!("frame_finish", Arity::Exact(2), finish);
register!("frame_concat", Arity::Exact(1), concat);
register!("frame_head", Arity::Exact(2), head);
register!("frame_num_rows", Arity::Exact(1), num_rows);
register!("frame_nbytes", Arity::Exact(1), nbytes);

/// `(frame_nbytes, batch)`: its size in memory.
fn nbytes(args: &[Value]) -> Result<Value, TaskError> {
    Ok(Value::Int(from_value("frame_nbytes", &args[0])?.get_array_memory_size() as i64))
}

/// `(frame_num_rows, batch)`.
fn num_rows(args: &[Value]) -> Result<Value, TaskError> {
    Ok(Value::Int(from_value("frame_num_rows", &args[0])?.num_rows() as i64))
}
register!("frame_slice", Arity::Exact(3), slice);

/// `(frame_slice, batch, i, k)`: the `i`-th of `k` equal slices (the last takes the rest).
fn slice(args: &[Value]) -> Result<Value, TaskError> {
    let batch = from_value("frame_slice", &args[0])?;
    let (i, k) = match (args[1].as_int(), args[2].as_int()) {
        (Some(i), Some(k)) if k > 0 && (0..k).contains(&i) => (i as usize, k as usize),
        _ => return Err(TaskError::value_error("frame_slice(): want 0 <= i < k")),
    };
    let rows = batch.num_rows();
    let start = i * rows / k;
    let end = if i + 1 == k { rows } else { (i + 1) * rows / k };
    Ok(to_value(batch.slice(start, end - start)))
}
