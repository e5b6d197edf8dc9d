//! Joins. With one side small, the small side is *broadcast*: concatenated once and joined to
//! every partition of the large side, with no shuffle (Dask's broadcast join). The kernel is a
//! hash join on the key columns' encoded bytes (the same encoding as group-by keys).

use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, UInt32Array};
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
    let right_keys = key_bytes(right, &spec.on)?;
    let mut table: FxHashMap<&[u8], Vec<u32>> = FxHashMap::default();
    for (row, key) in right_keys.iter().enumerate() {
        // A null key matches nothing (SQL's and pandas' merge rule).
        if let Some(key) = key {
            table.entry(key.as_slice()).or_default().push(row as u32);
        }
    }
    let left_keys = key_bytes(left, &spec.on)?;
    let (mut left_rows, mut right_rows) = (Vec::new(), Vec::<Option<u32>>::new());
    for (row, key) in left_keys.iter().enumerate() {
        match key.as_ref().and_then(|k| table.get(k.as_slice())) {
            Some(matches) => {
                for &m in matches {
                    left_rows.push(row as u32);
                    right_rows.push(Some(m));
                }
            }
            None if spec.how == How::Left => {
                left_rows.push(row as u32);
                right_rows.push(None);
            }
            None => {}
        }
    }
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
