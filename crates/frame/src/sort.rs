//! Sorting kernels: every partition contributes a sample of the column, the samples' quantiles
//! become the boundaries ("divisions") of the output partitions, rows move to their range's
//! partition (the exchange of `shuffle.rs`), and each output partition sorts its rows. For
//! `sort_values` it is one graph, no pass over the data just to find the boundaries.

use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_array::{Array, RecordBatch, UInt32Array};
use arrow_ord::sort::{lexsort_to_indices, SortColumn};
use arrow_schema::SortOptions;
use rask_graph::{register, Arity, TaskError, Value};
use serde::{Deserialize, Serialize};

use crate::batch::{from_value, to_value};
use crate::kernels::{decode, frame_error};
use crate::FrameError;

/// Samples each partition contributes.
pub(crate) const SAMPLES: usize = 64;

fn str_arg<'a>(func: &str, v: &'a Value) -> Result<&'a str, TaskError> {
    v.as_str().ok_or_else(|| TaskError::type_error(format!("{func}(): column must be a str")))
}

/// `SAMPLES` evenly spaced order statistics of sorted `values` (all of them if fewer).
fn spaced<T: Clone>(values: &[T]) -> Vec<T> {
    if values.len() <= SAMPLES {
        return values.to_vec();
    }
    (0..SAMPLES).map(|i| values[i * (values.len() - 1) / (SAMPLES - 1)].clone()).collect()
}

/// `(frame_sample, batch, column)`: evenly spaced order statistics of (a sample of) the column:
/// floats for a numeric column, strs for a string one.
fn sample(args: &[Value]) -> Result<Value, TaskError> {
    const F: &str = "frame_sample";
    let batch = from_value(F, &args[0])?;
    let name = str_arg(F, &args[1])?;
    // Quantiles of a strided sample of at most 16 × SAMPLES rows: sorting the whole column
    // would cost more than moving it.
    let stride = |len: usize| (len / (16 * SAMPLES)).max(1);
    let column = crate::column(batch, name).and_then(|c| crate::keys::canonical(&c)).map_err(|e| frame_error(F, e))?;
    if let Some(strings) = column.as_string_opt::<i32>() {
        let mut values: Vec<&str> = strings.iter().step_by(stride(strings.len())).flatten().collect();
        values.sort_unstable();
        return Ok(Value::list(spaced(&values).into_iter().map(Value::str).collect::<Vec<_>>()));
    }
    let keys = crate::shuffle::numeric_keys(batch, name).map_err(|e| frame_error(F, e))?;
    let keys = keys.as_primitive::<Float64Type>();
    let mut values: Vec<f64> = keys.iter().step_by(stride(keys.len())).flatten().collect();
    values.sort_by(f64::total_cmp);
    Ok(Value::list(spaced(&values).into_iter().map(Value::Float).collect::<Vec<_>>()))
}

/// `(frame_divisions, [samples], n)`: `n - 1` boundaries splitting the samples evenly.
fn divisions(args: &[Value]) -> Result<Value, TaskError> {
    let lists = args[0].as_seq().ok_or_else(|| TaskError::type_error("frame_divisions(): expected a list"))?;
    let n = args[1]
        .as_int()
        .filter(|&n| n > 0)
        .ok_or_else(|| TaskError::value_error("frame_divisions(): n must be positive"))? as usize;
    let samples = || lists.iter().flat_map(|l| l.as_seq().unwrap_or_default().iter());
    let mut strings: Vec<&str> = samples().filter_map(Value::as_str).collect();
    if !strings.is_empty() {
        strings.sort_unstable();
        let cut = |j: usize| Value::str(strings[j * strings.len() / n]);
        return Ok(Value::list((1..n).map(cut).collect::<Vec<_>>()));
    }
    let mut all: Vec<f64> = samples().filter_map(Value::as_float).collect();
    all.sort_by(f64::total_cmp);
    // No samples (no values at all): every cut above everything, all rows in one partition.
    let cut = |j: usize| Value::Float(all.get(j * all.len() / n).copied().unwrap_or(f64::INFINITY));
    Ok(Value::list((1..n).map(cut).collect::<Vec<_>>()))
}

/// One key of a sort: a column, its direction, and where its nulls go.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SortKey {
    pub column: String,
    pub descending: bool,
    /// Nulls before every value (default: after, in either direction, as pandas' `na_position="last"`).
    pub nulls_first: bool,
}

impl SortKey {
    pub fn asc(column: &str) -> SortKey {
        SortKey { column: column.to_owned(), descending: false, nulls_first: false }
    }

    pub fn desc(column: &str) -> SortKey {
        SortKey { column: column.to_owned(), descending: true, nulls_first: false }
    }

    pub fn nulls_first(mut self) -> SortKey {
        self.nulls_first = true;
        self
    }
}

/// The row order of `batch` sorted by `keys` (its first `limit` rows).
pub(crate) fn order(batch: &RecordBatch, keys: &[SortKey], limit: Option<usize>) -> Result<UInt32Array, FrameError> {
    let columns = keys
        .iter()
        .map(|k| {
            Ok(SortColumn {
                values: crate::column(batch, &k.column)?,
                options: Some(SortOptions { descending: k.descending, nulls_first: k.nulls_first }),
            })
        })
        .collect::<Result<Vec<_>, FrameError>>()?;
    if columns.is_empty() {
        let n = limit.unwrap_or(usize::MAX).min(batch.num_rows());
        return Ok(UInt32Array::from_iter_values(0..n as u32));
    }
    // With a limit, Arrow partially sorts: the top rows without ordering the rest.
    Ok(lexsort_to_indices(&columns, limit)?)
}

/// `batch` sorted by `keys`, only its first `limit` rows if given.
pub(crate) fn sorted(batch: &RecordBatch, keys: &[SortKey], limit: Option<usize>) -> Result<RecordBatch, FrameError> {
    let order = order(batch, keys, limit)?;
    Ok(arrow_select::take::take_record_batch(batch, &order)?)
}

/// `(frame_sort_partition, batch, keys)`: one output partition, sorted.
fn sort_partition(args: &[Value]) -> Result<Value, TaskError> {
    const F: &str = "frame_sort_partition";
    let batch = from_value(F, &args[0])?;
    let keys: Vec<SortKey> = decode(F, &args[1])?;
    sorted(batch, &keys, None).map(to_value).map_err(|e| frame_error(F, e))
}

/// `(frame_top_n, [batches], keys, n)`: the first `n` rows of the batches together, by `keys`
/// — a partition's top, or a merge of tops.
fn top_n(args: &[Value]) -> Result<Value, TaskError> {
    const F: &str = "frame_top_n";
    let items: Vec<Value> = match &args[0] {
        v if v.as_seq().is_some() => v.as_seq().unwrap_or_default().to_vec(),
        v => vec![v.clone()],
    };
    let batches = items.iter().map(|v| from_value(F, v).cloned()).collect::<Result<Vec<_>, _>>()?;
    let keys: Vec<SortKey> = decode(F, &args[1])?;
    let n =
        args[2].as_int().filter(|&n| n >= 0).ok_or_else(|| TaskError::value_error(format!("{F}(): n must be >= 0")))?;
    let Some(first) = batches.first() else {
        return Err(TaskError::value_error(format!("{F}(): no batches")));
    };
    let all = arrow_select::concat::concat_batches(&first.schema(), &batches).map_err(|e| frame_error(F, e.into()))?;
    sorted(&all, &keys, Some(n as usize)).map(to_value).map_err(|e| frame_error(F, e))
}

/// `n - 1` cut points splitting values spread over `(count, min, max)` ranges into `n` parts of
/// about equal counts, taking each range's values as spread evenly across it (row-group
/// statistics give no more).
pub(crate) fn cuts_from_ranges(ranges: &[(u64, f64, f64)], n: usize) -> Vec<f64> {
    let total: u64 = ranges.iter().map(|r| r.0).sum();
    // Values at or below `v`.
    let below = |v: f64| -> f64 {
        ranges
            .iter()
            .map(|&(count, lo, hi)| {
                let share = if hi > lo { ((v - lo) / (hi - lo)).clamp(0.0, 1.0) } else { f64::from(u8::from(v >= lo)) };
                count as f64 * share
            })
            .sum()
    };
    let lo = ranges.iter().map(|r| r.1).fold(f64::INFINITY, f64::min);
    let hi = ranges.iter().map(|r| r.2).fold(f64::NEG_INFINITY, f64::max);
    if total == 0 || lo.partial_cmp(&hi).is_none_or(|o| o.is_gt()) {
        return vec![f64::INFINITY; n.saturating_sub(1)];
    }
    (1..n)
        .map(|j| {
            let rank = (j as u64 * total / n as u64) as f64;
            let (mut a, mut b) = (lo, hi);
            for _ in 0..64 {
                let mid = a + (b - a) / 2.0;
                if below(mid) < rank {
                    a = mid;
                } else {
                    b = mid;
                }
            }
            b
        })
        .collect()
}

register!("frame_sample", Arity::Exact(2), sample);
register!("frame_divisions", Arity::Exact(2), divisions);
register!("frame_sort_partition", Arity::Exact(2), sort_partition);
register!("frame_top_n", Arity::Exact(3), top_n);
