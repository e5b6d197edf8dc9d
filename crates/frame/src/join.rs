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
    let (left_rows, right_rows) = match int_key(left, right, &spec.on)? {
        Some((l, r)) => match_rows(l.iter(), r.iter(), spec.how),
        None => {
            let (l, r) = (key_bytes(left, &spec.on)?, key_bytes(right, &spec.on)?);
            match_rows(l.iter().map(|k| k.as_deref()), r.iter().map(|k| k.as_deref()), spec.how)
        }
    };
    let left_take = UInt32Array::from(left_rows);
    let right_take = UInt32Array::from(right_rows);
    let mut fields: Vec<Arc<Field>> = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (f, c) in left.schema().fields().iter().zip(left.columns()) {
        fields.push(f.clone());
        columns.push(arrow_select::take::take(c, &left_take, None)?);
    }
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
        columns.push(arrow_select::take::take(c, &right_take, None)?);
    }
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?)
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
/// order; a null key matches nothing (SQL's and pandas' merge rule).
fn match_rows<K: std::hash::Hash + Eq>(
    left: impl Iterator<Item = Option<K>>,
    right: impl Iterator<Item = Option<K>>,
    how: How,
) -> (Vec<u32>, Vec<Option<u32>>) {
    let mut table: FxHashMap<K, Vec<u32>> = FxHashMap::default();
    for (row, key) in right.enumerate() {
        if let Some(key) = key {
            table.entry(key).or_default().push(row as u32);
        }
    }
    let (mut left_rows, mut right_rows) = (Vec::new(), Vec::<Option<u32>>::new());
    for (row, key) in left.enumerate() {
        match key.and_then(|k| table.get(&k)) {
            Some(matches) => {
                for &m in matches {
                    left_rows.push(row as u32);
                    right_rows.push(Some(m));
                }
            }
            None if how == How::Left => {
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

    register!("frame_join", Arity::Exact(3), join);
}
