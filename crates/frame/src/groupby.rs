//! Group-by as a tree reduction: each partition is grouped into a *partial* batch (keys plus
//! count/sum/min/max/first/last states per aggregated column), partials are merged `SPLIT_EVERY`
//! at a time by grouping them again, and the root turns states into the requested columns.
//!
//! Grouping hashes each row's key columns encoded as bytes (a one-column int64 key takes a
//! faster path), so any mix of int, float, bool and string keys works, nulls included (a null
//! key is a group of its own, as with pandas' `dropna=False`).

use std::sync::Arc;

use arrow_array::builder::{Float64Builder, Int64Builder};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, ArrayRef, Int64Array, RecordBatch, UInt32Array};
use arrow_schema::{DataType, Field, Schema};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::kernels::Agg;
use crate::{column, FrameError};

/// One output column: `agg` of input `column`, named `name`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AggSpec {
    pub column: String,
    pub agg: GroupAgg,
    pub name: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GroupAgg {
    Count,
    Sum,
    Mean,
    Min,
    Max,
    First,
    Last,
}

impl From<Agg> for GroupAgg {
    fn from(a: Agg) -> GroupAgg {
        match a {
            Agg::Count => GroupAgg::Count,
            Agg::Sum => GroupAgg::Sum,
            Agg::Mean => GroupAgg::Mean,
            Agg::Min => GroupAgg::Min,
            Agg::Max => GroupAgg::Max,
        }
    }
}

/// Row numbers grouped by key: `groups[g]` lists group g's rows, in row order.
fn group_rows(batch: &RecordBatch, keys: &[String]) -> Result<(Vec<Vec<u32>>, Vec<ArrayRef>), FrameError> {
    let columns: Vec<ArrayRef> = keys.iter().map(|k| column(batch, k)).collect::<Result<_, _>>()?;
    let mut groups: Vec<Vec<u32>> = Vec::new();
    if let [only] = columns.as_slice() {
        if let Some(ints) = only.as_primitive_opt::<Int64Type>() {
            let mut index: FxHashMap<Option<i64>, usize> = FxHashMap::default();
            for (row, key) in ints.iter().enumerate() {
                let g = *index.entry(key).or_insert_with(|| {
                    groups.push(Vec::new());
                    groups.len() - 1
                });
                groups[g].push(row as u32);
            }
            return Ok((groups, columns));
        }
    }
    let mut index: FxHashMap<Box<[u8]>, usize> = FxHashMap::default();
    let mut buf = Vec::new();
    for row in 0..batch.num_rows() {
        buf.clear();
        for c in &columns {
            encode_key(c.as_ref(), row, &mut buf)?;
        }
        let g = match index.get(buf.as_slice()) {
            Some(&g) => g,
            None => {
                groups.push(Vec::new());
                index.insert(buf.clone().into_boxed_slice(), groups.len() - 1);
                groups.len() - 1
            }
        };
        groups[g].push(row as u32);
    }
    Ok((groups, columns))
}

/// Each row's key columns as bytes, or `None` if any key is null (for joins, where a null key
/// matches nothing).
pub(crate) fn key_bytes(batch: &RecordBatch, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, FrameError> {
    let columns: Vec<ArrayRef> = keys.iter().map(|k| column(batch, k)).collect::<Result<_, _>>()?;
    (0..batch.num_rows())
        .map(|row| {
            if columns.iter().any(|c| c.is_null(row)) {
                return Ok(None);
            }
            let mut buf = Vec::new();
            for c in &columns {
                encode_key(c.as_ref(), row, &mut buf)?;
            }
            Ok(Some(buf))
        })
        .collect()
}

pub(crate) fn encode_key(c: &dyn Array, row: usize, out: &mut Vec<u8>) -> Result<(), FrameError> {
    if c.is_null(row) {
        out.push(0);
        return Ok(());
    }
    out.push(1);
    match c.data_type() {
        DataType::Int64 => out.extend_from_slice(&c.as_primitive::<Int64Type>().value(row).to_le_bytes()),
        DataType::Float64 => out.extend_from_slice(&c.as_primitive::<Float64Type>().value(row).to_bits().to_le_bytes()),
        DataType::Boolean => out.push(c.as_boolean().value(row) as u8),
        DataType::Utf8 => {
            let s = c.as_string::<i32>().value(row);
            out.extend_from_slice(&(s.len() as u64).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        other => return Err(FrameError::Type(format!("cannot group by a column of {other}"))),
    }
    Ok(())
}

/// The state columns a partial batch carries for one aggregated input column.
const STATES: [&str; 6] = ["count", "sum", "min", "max", "first", "last"];

fn state_name(column: &str, state: &str) -> String {
    format!("{column}\u{1f}{state}")
}

/// The columns whose states a spec list needs, each once.
fn inputs(specs: &[AggSpec]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in specs {
        if !out.contains(&s.column) {
            out.push(s.column.clone());
        }
    }
    out
}

/// One partition grouped into its partial states.
pub(crate) fn partial(batch: &RecordBatch, keys: &[String], specs: &[AggSpec]) -> Result<RecordBatch, FrameError> {
    let (groups, key_columns) = group_rows(batch, keys)?;
    let mut fields = Vec::new();
    let mut out: Vec<ArrayRef> = Vec::new();
    let firsts = UInt32Array::from(groups.iter().map(|g| g[0]).collect::<Vec<_>>());
    for (k, c) in keys.iter().zip(&key_columns) {
        fields.push(Field::new(k, c.data_type().clone(), true));
        out.push(arrow_select::take::take(c, &firsts, None)?);
    }
    for input in inputs(specs) {
        let values = numeric(&column(batch, &input)?)?;
        let states = fold(&groups, &values)?;
        // pandas' first/last skip nulls.
        let ends = [pick_non_null(&groups, &values, false)?, pick_non_null(&groups, &values, true)?];
        for (state, array) in STATES.iter().zip(states.into_iter().chain(ends)) {
            fields.push(Field::new(state_name(&input, state), array.data_type().clone(), true));
            out.push(array);
        }
    }
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), out)?)
}

/// Int64 stays int64 (pandas' integer sums); other numbers compute as float64.
fn numeric(a: &ArrayRef) -> Result<ArrayRef, FrameError> {
    match a.data_type() {
        DataType::Int64 | DataType::Float64 => Ok(a.clone()),
        t if t.is_numeric() => Ok(arrow_cast::cast(a, &DataType::Float64)?),
        t => Err(FrameError::Type(format!("cannot aggregate a column of {t}"))),
    }
}

/// count (of non-null values), sum, min, max per group over `values`.
fn fold(groups: &[Vec<u32>], values: &ArrayRef) -> Result<Vec<ArrayRef>, FrameError> {
    let mut count = Int64Builder::with_capacity(groups.len());
    macro_rules! per_type {
        ($t:ty, $builder:ty, $add:expr) => {{
            let v = values.as_primitive::<$t>();
            let (mut sum, mut min, mut max) = (
                <$builder>::with_capacity(groups.len()),
                <$builder>::with_capacity(groups.len()),
                <$builder>::with_capacity(groups.len()),
            );
            for rows in groups {
                let (mut n, mut s, mut lo, mut hi) = (0i64, None, None, None);
                for &r in rows {
                    let r = r as usize;
                    if v.is_null(r) {
                        continue;
                    }
                    let x = v.value(r);
                    n += 1;
                    s = Some(match s {
                        Some(acc) => $add(acc, x)?,
                        None => x,
                    });
                    lo = Some(match lo {
                        Some(m) if m <= x => m,
                        _ => x,
                    });
                    hi = Some(match hi {
                        Some(m) if m >= x => m,
                        _ => x,
                    });
                }
                count.append_value(n);
                sum.append_option(s);
                min.append_option(lo);
                max.append_option(hi);
            }
            vec![
                Arc::new(count.finish()) as ArrayRef,
                Arc::new(sum.finish()),
                Arc::new(min.finish()),
                Arc::new(max.finish()),
            ]
        }};
    }
    Ok(match values.data_type() {
        DataType::Int64 => per_type!(Int64Type, Int64Builder, |a: i64, b: i64| a
            .checked_add(b)
            .ok_or_else(|| FrameError::Type("int64 sum overflowed".into()))),
        _ => per_type!(Float64Type, Float64Builder, |a: f64, b: f64| Ok::<f64, FrameError>(a + b)),
    })
}

/// Partials (in partition order) merged into one partial.
pub(crate) fn merge(partials: &[RecordBatch], keys: &[String], specs: &[AggSpec]) -> Result<RecordBatch, FrameError> {
    let Some(first) = partials.first() else {
        return Err(FrameError::Type("nothing to merge".into()));
    };
    let all = arrow_select::concat::concat_batches(&first.schema(), partials)?;
    let (groups, key_columns) = group_rows(&all, keys)?;
    let firsts = UInt32Array::from(groups.iter().map(|g| g[0]).collect::<Vec<_>>());
    let mut fields = Vec::new();
    let mut out: Vec<ArrayRef> = Vec::new();
    for (k, c) in keys.iter().zip(&key_columns) {
        fields.push(Field::new(k, c.data_type().clone(), true));
        out.push(arrow_select::take::take(c, &firsts, None)?);
    }
    for input in inputs(specs) {
        let state = |s: &str| column(&all, &state_name(&input, s));
        let counts: Int64Array = state("count")?.as_primitive::<Int64Type>().clone();
        let count = Int64Array::from(
            groups.iter().map(|rows| rows.iter().map(|&r| counts.value(r as usize)).sum::<i64>()).collect::<Vec<_>>(),
        );
        // Sums of sums, mins of mins, maxes of maxes: `fold` over each state column.
        let sums = fold(&groups, &state("sum")?)?;
        let mins = fold(&groups, &state("min")?)?;
        let maxes = fold(&groups, &state("max")?)?;
        // First non-null first and last non-null last, in partition order.
        let first = pick_non_null(&groups, &state("first")?, false)?;
        let last = pick_non_null(&groups, &state("last")?, true)?;
        let columns: [ArrayRef; 6] = [Arc::new(count), sums[1].clone(), mins[2].clone(), maxes[3].clone(), first, last];
        for (s, array) in STATES.iter().zip(columns) {
            fields.push(Field::new(state_name(&input, s), array.data_type().clone(), true));
            out.push(array);
        }
    }
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), out)?)
}

fn pick_non_null(groups: &[Vec<u32>], values: &ArrayRef, last: bool) -> Result<ArrayRef, FrameError> {
    let picks: Vec<Option<u32>> = groups
        .iter()
        .map(|rows| {
            let mut it: Box<dyn Iterator<Item = &u32>> =
                if last { Box::new(rows.iter().rev()) } else { Box::new(rows.iter()) };
            it.find(|&&r| !values.is_null(r as usize)).copied()
        })
        .collect();
    Ok(arrow_select::take::take(values, &UInt32Array::from(picks), None)?)
}

/// The requested columns from a merged partial, rows sorted by key for a stable result.
pub(crate) fn finish(merged: &RecordBatch, keys: &[String], specs: &[AggSpec]) -> Result<RecordBatch, FrameError> {
    let mut fields = Vec::new();
    let mut out: Vec<ArrayRef> = Vec::new();
    for k in keys {
        let c = column(merged, k)?;
        fields.push(Field::new(k, c.data_type().clone(), true));
        out.push(c);
    }
    for spec in specs {
        let state = |s: &str| column(merged, &state_name(&spec.column, s));
        let array: ArrayRef = match spec.agg {
            GroupAgg::Count => state("count")?,
            GroupAgg::Sum => {
                // The sum of no values is 0, as in pandas.
                let sum = state("sum")?;
                arrow_cast::cast(&fill_zero(&sum)?, sum.data_type())?
            }
            GroupAgg::Mean => {
                let sum = arrow_cast::cast(&state("sum")?, &DataType::Float64)?;
                let count = arrow_cast::cast(&state("count")?, &DataType::Float64)?;
                arrow_arith::numeric::div(&sum, &count)?
            }
            GroupAgg::Min => state("min")?,
            GroupAgg::Max => state("max")?,
            GroupAgg::First => state("first")?,
            GroupAgg::Last => state("last")?,
        };
        fields.push(Field::new(&spec.name, array.data_type().clone(), true));
        out.push(array);
    }
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), out)?;
    sort_by_keys(&batch, keys.len())
}

fn fill_zero(sum: &ArrayRef) -> Result<ArrayRef, FrameError> {
    Ok(match sum.data_type() {
        DataType::Int64 => Arc::new(Int64Array::from(
            sum.as_primitive::<Int64Type>().iter().map(|v| v.unwrap_or(0)).collect::<Vec<_>>(),
        )),
        _ => Arc::new(arrow_array::Float64Array::from(
            sum.as_primitive::<Float64Type>().iter().map(|v| v.unwrap_or(0.0)).collect::<Vec<_>>(),
        )),
    })
}

fn sort_by_keys(batch: &RecordBatch, nkeys: usize) -> Result<RecordBatch, FrameError> {
    if nkeys == 0 {
        return Ok(batch.clone());
    }
    let columns: Vec<arrow_ord::sort::SortColumn> = batch
        .columns()
        .iter()
        .take(nkeys)
        .map(|c| arrow_ord::sort::SortColumn { values: c.clone(), options: None })
        .collect();
    let order = arrow_ord::sort::lexsort_to_indices(&columns, None)?;
    Ok(arrow_select::take::take_record_batch(batch, &order)?)
}

/// What a group-by task needs to know: the key columns and the output columns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct GroupSpec {
    pub keys: Vec<String>,
    pub aggs: Vec<AggSpec>,
}

mod tasks {
    use rask_graph::{register, Arity, TaskError, Value};

    use super::GroupSpec;
    use crate::batch::{from_value, to_value};
    use crate::kernels::{decode, frame_error};

    fn partial(args: &[Value]) -> Result<Value, TaskError> {
        let batch = from_value("frame_groupby_partial", &args[0])?;
        let spec: GroupSpec = decode("frame_groupby_partial", &args[1])?;
        super::partial(batch, &spec.keys, &spec.aggs).map(to_value).map_err(|e| frame_error("frame_groupby_partial", e))
    }

    fn merge(args: &[Value]) -> Result<Value, TaskError> {
        let items = args[0].as_seq().ok_or_else(|| TaskError::type_error("frame_groupby_merge(): expected a list"))?;
        let spec: GroupSpec = decode("frame_groupby_merge", &args[1])?;
        let batches =
            items.iter().map(|v| from_value("frame_groupby_merge", v).cloned()).collect::<Result<Vec<_>, _>>()?;
        super::merge(&batches, &spec.keys, &spec.aggs).map(to_value).map_err(|e| frame_error("frame_groupby_merge", e))
    }

    fn finish(args: &[Value]) -> Result<Value, TaskError> {
        let batch = from_value("frame_groupby_finish", &args[0])?;
        let spec: GroupSpec = decode("frame_groupby_finish", &args[1])?;
        super::finish(batch, &spec.keys, &spec.aggs).map(to_value).map_err(|e| frame_error("frame_groupby_finish", e))
    }

    register!("frame_groupby_partial", Arity::Exact(2), partial);
    register!("frame_groupby_merge", Arity::Exact(2), merge);
    register!("frame_groupby_finish", Arity::Exact(2), finish);
}
