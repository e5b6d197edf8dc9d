//! Sorting a frame by a column: every partition contributes a sample of the column, the
//! samples' quantiles become the boundaries ("divisions") of the output partitions, every
//! partition splits its rows by those boundaries, and each output partition gathers its pieces
//! and sorts them. One graph, no pass over the data just to find the boundaries.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_array::{Array, RecordBatch, UInt32Array};
use arrow_schema::{DataType, SortOptions};
use rask_graph::{register, Arity, TaskError, Value};

use crate::batch::{from_value, to_value};
use crate::kernels::frame_error;
use crate::FrameError;

/// Samples each partition contributes.
pub(crate) const SAMPLES: usize = 64;

fn keys_as_f64(batch: &RecordBatch, column: &str) -> Result<Arc<dyn Array>, FrameError> {
    let c = crate::column(batch, column)?;
    if !c.data_type().is_numeric() {
        return Err(FrameError::Type(format!("sorting by a column of {} is not supported yet", c.data_type())));
    }
    Ok(arrow_cast::cast(&c, &DataType::Float64)?)
}

fn str_arg<'a>(func: &str, v: &'a Value) -> Result<&'a str, TaskError> {
    v.as_str().ok_or_else(|| TaskError::type_error(format!("{func}(): column must be a str")))
}

/// `(frame_sample, batch, column)`: evenly spaced order statistics of the column.
fn sample(args: &[Value]) -> Result<Value, TaskError> {
    let batch = from_value("frame_sample", &args[0])?;
    let keys = keys_as_f64(batch, str_arg("frame_sample", &args[1])?).map_err(|e| frame_error("frame_sample", e))?;
    let mut values: Vec<f64> = keys.as_primitive::<Float64Type>().iter().flatten().collect();
    values.sort_by(f64::total_cmp);
    let picked: Vec<Value> = if values.len() <= SAMPLES {
        values.into_iter().map(Value::Float).collect()
    } else {
        (0..SAMPLES).map(|i| Value::Float(values[i * (values.len() - 1) / (SAMPLES - 1)])).collect()
    };
    Ok(Value::list(picked))
}

/// `(frame_divisions, [samples], n)`: `n - 1` boundaries splitting the samples evenly.
fn divisions(args: &[Value]) -> Result<Value, TaskError> {
    let lists = args[0].as_seq().ok_or_else(|| TaskError::type_error("frame_divisions(): expected a list"))?;
    let n = args[1]
        .as_int()
        .filter(|&n| n > 0)
        .ok_or_else(|| TaskError::value_error("frame_divisions(): n must be positive"))? as usize;
    let mut all: Vec<f64> =
        lists.iter().flat_map(|l| l.as_seq().unwrap_or_default().iter().filter_map(Value::as_float)).collect();
    all.sort_by(f64::total_cmp);
    let bounds =
        (1..n).map(|j| Value::Float(all.get(j * all.len() / n).copied().unwrap_or(f64::INFINITY))).collect::<Vec<_>>();
    Ok(Value::list(bounds))
}

/// `(frame_split, batch, column, divisions)`: the rows of each output partition, in a list
/// (nulls go to the last one, as pandas sorts them last).
fn split(args: &[Value]) -> Result<Value, TaskError> {
    let batch = from_value("frame_split", &args[0])?;
    let keys = keys_as_f64(batch, str_arg("frame_split", &args[1])?).map_err(|e| frame_error("frame_split", e))?;
    let bounds: Vec<f64> = args[2].as_seq().unwrap_or_default().iter().filter_map(Value::as_float).collect();
    let keys = keys.as_primitive::<Float64Type>();
    let mut buckets: Vec<Vec<u32>> = vec![Vec::new(); bounds.len() + 1];
    for (row, k) in keys.iter().enumerate() {
        let b = match k {
            Some(v) => bounds.partition_point(|d| *d <= v),
            None => bounds.len(),
        };
        buckets[b].push(row as u32);
    }
    let pieces = buckets
        .into_iter()
        .map(|rows| arrow_select::take::take_record_batch(batch, &UInt32Array::from(rows)).map(to_value))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TaskError::value_error(format!("frame_split(): {e}")))?;
    Ok(Value::list(pieces))
}

/// `(frame_gather_sort, [pieces], column)`: one output partition, sorted.
fn gather_sort(args: &[Value]) -> Result<Value, TaskError> {
    let pieces = args[0].as_seq().ok_or_else(|| TaskError::type_error("frame_gather_sort(): expected a list"))?;
    let column = str_arg("frame_gather_sort", &args[1])?;
    let batches = pieces.iter().map(|v| from_value("frame_gather_sort", v).cloned()).collect::<Result<Vec<_>, _>>()?;
    let first = batches.first().ok_or_else(|| TaskError::value_error("frame_gather_sort(): no pieces"))?;
    let all = arrow_select::concat::concat_batches(&first.schema(), &batches)
        .map_err(|e| TaskError::value_error(format!("frame_gather_sort(): {e}")))?;
    let keys = all
        .column_by_name(column)
        .ok_or_else(|| TaskError::key_error(format!("frame_gather_sort(): no column {column:?}")))?;
    let options = SortOptions { descending: false, nulls_first: false };
    let order = arrow_ord::sort::sort_to_indices(keys, Some(options), None)
        .map_err(|e| TaskError::value_error(format!("frame_gather_sort(): {e}")))?;
    arrow_select::take::take_record_batch(&all, &order)
        .map(to_value)
        .map_err(|e| TaskError::value_error(format!("frame_gather_sort(): {e}")))
}

register!("frame_sample", Arity::Exact(2), sample);
register!("frame_divisions", Arity::Exact(2), divisions);
register!("frame_split", Arity::Exact(3), split);
register!("frame_gather_sort", Arity::Exact(2), gather_sort);
