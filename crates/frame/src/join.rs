//! Joins. With one side small, the small side is *broadcast*: concatenated once and joined to
//! every partition of the large side, with no shuffle (Dask's broadcast join). The kernel is a
//! hash join on the key columns' encoded bytes (the same encoding as group-by keys).

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{ArrayRef, Int64Array, RecordBatch, UInt32Array};
use arrow_schema::{Field, Schema};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::groupby::key_bytes;
use crate::FrameError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum How {
    Inner,
    /// Every row of the large (left) side, with nulls where the right side has no match.
    Left,
    /// Every row of the right side: the matches, then right rows no left row matched (their
    /// left columns null, their keys from the right).
    Right,
    /// Every row of both sides: `Left`, then the right rows no left row matched.
    Outer,
}

impl How {
    /// Whether a left row without a match is kept.
    fn keeps_left(self) -> bool {
        matches!(self, How::Left | How::Outer)
    }

    /// Whether right rows no left row matched are kept (one extra partition).
    pub(crate) fn keeps_right(self) -> bool {
        matches!(self, How::Right | How::Outer)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct JoinSpec {
    pub on: Vec<String>,
    pub how: How,
}

/// `left` joined to `right` on `spec.on`: left's columns, then right's other columns (a name
/// both sides use gets `_right` on the right one). Rows come in left's order; a left row
/// matching several right rows appears once per match, in right's order.
pub(crate) fn join(left: &RecordBatch, right: &RecordBatch, spec: &JoinSpec) -> Result<RecordBatch, FrameError> {
    let (left_rows, right_rows) = pairs(left, right, &spec.on, spec.how)?;
    let left_take = UInt32Array::from(left_rows);
    let right_take = UInt32Array::from(right_rows);
    let mut fields: Vec<Arc<Field>> = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (f, c) in left.schema().fields().iter().zip(left.columns()) {
        // Nullable: every partition of a join has the same schema, and right and outer joins
        // add rows whose left columns are null.
        fields.push(Arc::new(Field::new(f.name(), f.data_type().clone(), true)));
        columns.push(arrow_select::take::take(c, &left_take, None)?);
    }
    append_right(left, right, &right_take, spec, &mut fields, &mut columns)?;
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?)
}

/// (left row, right row or none) pairs of `left` and `right` matched on `on`.
#[allow(clippy::type_complexity)]
fn pairs(
    left: &RecordBatch,
    right: &RecordBatch,
    on: &[String],
    how: How,
) -> Result<(Vec<u32>, Vec<Option<u32>>), FrameError> {
    Ok(match int_key(left, right, on)? {
        Some((l, r)) => match_rows(l.iter(), r.iter(), how),
        None => {
            let (l, r) = (key_bytes(left, on)?, key_bytes(right, on)?);
            match_rows(l.iter().map(|k| k.as_deref()), r.iter().map(|k| k.as_deref()), how)
        }
    })
}

/// Appends right's non-key columns at `rows` to a join's output; a name the left side also
/// has gets `_right`.
fn append_right(
    left: &RecordBatch,
    right: &RecordBatch,
    rows: &UInt32Array,
    spec: &JoinSpec,
    fields: &mut Vec<Arc<Field>>,
    columns: &mut Vec<ArrayRef>,
) -> Result<(), FrameError> {
    let left_schema = left.schema();
    for (f, c) in right.schema().fields().iter().zip(right.columns()) {
        if spec.on.contains(f.name()) {
            continue;
        }
        let name = if left_schema.field_with_name(f.name()).is_ok() {
            format!("{}_right", f.name())
        } else {
            f.name().clone()
        };
        fields.push(Arc::new(Field::new(name, f.data_type().clone(), true)));
        columns.push(arrow_select::take::take(c, rows, None)?);
    }
    Ok(())
}

/// Which right rows some row of `left` matches (for right and outer joins).
pub(crate) fn matched_right(left: &RecordBatch, right: &RecordBatch, on: &[String]) -> Result<Vec<bool>, FrameError> {
    let (_, right_rows) = pairs(left, right, on, How::Inner)?;
    let mut matched = vec![false; right.num_rows()];
    for r in right_rows.into_iter().flatten() {
        matched[r as usize] = true;
    }
    Ok(matched)
}

/// The right rows nobody matched, shaped like the join's output: left columns null except the
/// keys, which come from the right. `left` gives the left side's schema (it may be empty).
pub(crate) fn unmatched(
    left: &RecordBatch,
    right: &RecordBatch,
    matched: &[bool],
    spec: &JoinSpec,
) -> Result<RecordBatch, FrameError> {
    let rows = UInt32Array::from((0..right.num_rows() as u32).filter(|&r| !matched[r as usize]).collect::<Vec<_>>());
    let n = rows.len();
    let mut fields: Vec<Arc<Field>> = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for f in left.schema().fields() {
        let column = match right.column_by_name(f.name()) {
            Some(key) if spec.on.contains(f.name()) => {
                arrow_cast::cast(&arrow_select::take::take(key, &rows, None)?, f.data_type())?
            }
            _ => arrow_array::new_null_array(f.data_type(), n),
        };
        fields.push(Arc::new(Field::new(f.name(), f.data_type().clone(), true)));
        columns.push(column);
    }
    append_right(left, right, &rows, spec, &mut fields, &mut columns)?;
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?)
}

/// [`join`], then (right and outer joins) the right rows nothing in `left` matched.
pub(crate) fn join_local(left: &RecordBatch, right: &RecordBatch, spec: &JoinSpec) -> Result<RecordBatch, FrameError> {
    let joined = join(left, right, spec)?;
    if !spec.how.keeps_right() {
        return Ok(joined);
    }
    let rest = unmatched(left, right, &matched_right(left, right, &spec.on)?, spec)?;
    Ok(arrow_select::concat::concat_batches(&joined.schema(), [&joined, &rest])?)
}

/// Both sides' key, when it is one int64 column: the fast path, hashing the ints themselves.
fn int_key<'a>(
    left: &'a RecordBatch,
    right: &'a RecordBatch,
    on: &[String],
) -> Result<Option<(&'a Int64Array, &'a Int64Array)>, FrameError> {
    let [key] = on else { return Ok(None) };
    let (Some(l), Some(r)) = (left.column_by_name(key), right.column_by_name(key)) else {
        // Let the general path name the missing column.
        return Ok(None);
    };
    Ok(l.as_primitive_opt::<Int64Type>().zip(r.as_primitive_opt::<Int64Type>()))
}

/// (left row, right row or none) pairs: left rows in order, each with its matches in right's
/// order; a null key matches nothing (SQL's and pandas' merge rule). The table maps a key to
/// its first right row and chains the others (`next`), so a side of unique keys costs no
/// allocation per key.
fn match_rows<K: std::hash::Hash + Eq>(
    left: impl Iterator<Item = Option<K>>,
    right: impl Iterator<Item = Option<K>>,
    how: How,
) -> (Vec<u32>, Vec<Option<u32>>) {
    const END: u32 = u32::MAX;
    let right: Vec<Option<K>> = right.collect();
    let mut first: FxHashMap<&K, u32> = FxHashMap::default();
    first.reserve(right.len());
    let mut next = vec![END; right.len()];
    // Backwards, so that each chain runs in right's order.
    for (row, key) in right.iter().enumerate().rev() {
        if let Some(key) = key {
            if let Some(old) = first.insert(key, row as u32) {
                next[row] = old;
            }
        }
    }
    let (mut left_rows, mut right_rows) = (Vec::new(), Vec::<Option<u32>>::new());
    for (row, key) in left.enumerate() {
        match key.as_ref().and_then(|k| first.get(k)) {
            Some(&start) => {
                let mut m = start;
                while m != END {
                    left_rows.push(row as u32);
                    right_rows.push(Some(m));
                    m = next[m as usize];
                }
            }
            None if how.keeps_left() => {
                left_rows.push(row as u32);
                right_rows.push(None);
            }
            None => {}
        }
    }
    (left_rows, right_rows)
}

mod tasks {
    use rask_graph::{register, Arity, TaskError, Value};

    use super::JoinSpec;
    use crate::batch::{from_value, to_value};
    use crate::kernels::{decode, frame_error};

    /// `(frame_join, left_partition, right_whole, spec)`.
    fn join(args: &[Value]) -> Result<Value, TaskError> {
        let left = from_value("frame_join", &args[0])?;
        let right = from_value("frame_join", &args[1])?;
        let spec: JoinSpec = decode("frame_join", &args[2])?;
        super::join(left, right, &spec).map(to_value).map_err(|e| frame_error("frame_join", e))
    }

    /// `(frame_join_matched, left_partition, right_whole, spec)`: which right rows it matches.
    fn matched(args: &[Value]) -> Result<Value, TaskError> {
        let left = from_value("frame_join_matched", &args[0])?;
        let right = from_value("frame_join_matched", &args[1])?;
        let spec: JoinSpec = decode("frame_join_matched", &args[2])?;
        let bits = super::matched_right(left, right, &spec.on).map_err(|e| frame_error("frame_join_matched", e))?;
        Ok(Value::bytes(bits.into_iter().map(u8::from).collect::<Vec<u8>>()))
    }

    /// `(frame_join_unmatched, left_sample, [matched], right_whole, spec)`: the extra partition
    /// of right and outer joins.
    fn unmatched(args: &[Value]) -> Result<Value, TaskError> {
        let sample = from_value("frame_join_unmatched", &args[0])?;
        let right = from_value("frame_join_unmatched", &args[2])?;
        let spec: JoinSpec = decode("frame_join_unmatched", &args[3])?;
        let mut matched = vec![false; right.num_rows()];
        for bits in args[1].as_seq().unwrap_or_default() {
            let Value::Bytes(b) = bits else {
                return Err(TaskError::type_error("frame_join_unmatched(): expected bitmaps"));
            };
            for (m, &bit) in matched.iter_mut().zip(b.as_slice()) {
                *m |= bit != 0;
            }
        }
        super::unmatched(sample, right, &matched, &spec)
            .map(to_value)
            .map_err(|e| frame_error("frame_join_unmatched", e))
    }

    /// `(frame_join_local, left_partition, right_partition, spec)`: partitions holding the same
    /// keys (aligned or hash-shuffled), joined whole: right and outer joins add the right rows
    /// no left row matched.
    fn join_local(args: &[Value]) -> Result<Value, TaskError> {
        const F: &str = "frame_join_local";
        let left = from_value(F, &args[0])?;
        let right = from_value(F, &args[1])?;
        let spec: JoinSpec = decode(F, &args[2])?;
        super::join_local(left, right, &spec).map(to_value).map_err(|e| frame_error(F, e))
    }

    register!("frame_join", Arity::Exact(3), join);
    register!("frame_join_local", Arity::Exact(3), join_local);
    register!("frame_join_matched", Arity::Exact(3), matched);
    register!("frame_join_unmatched", Arity::Exact(4), unmatched);
}
