//! Joins. With one side small, the small side is *broadcast*: concatenated once and joined to
//! every partition of the large side, with no shuffle (Dask's broadcast join). The kernel is a
//! hash join on the key columns' encoded bytes (the same encoding as group-by keys).

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{ArrayRef, RecordBatch, RecordBatchOptions, UInt32Array};
use arrow_schema::{Field, Schema};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::{column, FrameError};

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
    /// The left rows that have a match, once each, with the left's columns only (SQL's
    /// `EXISTS` / `IN (subquery)`).
    Semi,
    /// The left rows that have no match, with the left's columns only (`NOT EXISTS`).
    Anti,
    /// Every left row with every right row; no keys.
    Cross,
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

    /// Whether the output has the right side's columns.
    pub(crate) fn has_right_columns(self) -> bool {
        !matches!(self, How::Semi | How::Anti)
    }
}

/// What a join task needs: the key columns on each side (paired in order), the kind of join,
/// and the suffix a right column gets when the left has a column of its name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct JoinSpec {
    pub left_on: Vec<String>,
    pub right_on: Vec<String>,
    pub how: How,
    pub suffix: String,
}

impl JoinSpec {
    /// Whether right column `name` is left out of the output: a key whose left partner has
    /// the same name (one copy, as pandas keeps).
    fn merged_key(&self, name: &str) -> bool {
        self.left_on.iter().zip(&self.right_on).any(|(l, r)| l == name && r == name)
    }

    /// The output name of right column `name` (`None`: not in the output).
    pub(crate) fn right_name(&self, name: &str, left: &Schema) -> Option<String> {
        if !self.how.has_right_columns() || self.merged_key(name) {
            return None;
        }
        Some(if left.field_with_name(name).is_ok() { format!("{name}{}", self.suffix) } else { name.to_owned() })
    }

    /// The same join with the sides swapped (a left join becomes a right join and back;
    /// semi, anti and cross joins have no swapped form).
    pub(crate) fn swapped(&self) -> JoinSpec {
        let how = match self.how {
            How::Left => How::Right,
            How::Right => How::Left,
            other => other,
        };
        JoinSpec { left_on: self.right_on.clone(), right_on: self.left_on.clone(), how, ..self.clone() }
    }
}

/// `left` joined to `right` on the spec's keys: left's columns, then right's other columns (a
/// name both sides use gets the suffix on the right one). Rows come in left's order; a left row
/// matching several right rows appears once per match, in right's order.
pub(crate) fn join(left: &RecordBatch, right: &RecordBatch, spec: &JoinSpec) -> Result<RecordBatch, FrameError> {
    let (left_rows, right_rows) = pairs(left, right, spec, spec.how)?;
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
    Ok(RecordBatch::try_new_with_options(
        Arc::new(Schema::new(fields)),
        columns,
        &RecordBatchOptions::new().with_row_count(Some(left_take.len())),
    )?)
}

/// (left row, right row or none) pairs of `left` and `right` matched on the spec's keys.
#[allow(clippy::type_complexity)]
fn pairs(
    left: &RecordBatch,
    right: &RecordBatch,
    spec: &JoinSpec,
    how: How,
) -> Result<(Vec<u32>, Vec<Option<u32>>), FrameError> {
    if how == How::Cross {
        let (n, m) = (left.num_rows() as u32, right.num_rows() as u32);
        return Ok((
            (0..n).flat_map(|l| (0..m).map(move |_| l)).collect(),
            (0..n).flat_map(|_| (0..m).map(Some)).collect(),
        ));
    }
    if spec.left_on.len() != spec.right_on.len() || spec.left_on.is_empty() {
        return Err(FrameError::Type(format!(
            "a join needs as many left keys as right keys, at least one: {:?} and {:?}",
            spec.left_on, spec.right_on
        )));
    }
    let raw = |batch: &RecordBatch, names: &[String]| -> Result<Vec<ArrayRef>, FrameError> {
        names.iter().map(|n| column(batch, n)).collect()
    };
    let (mut l, mut r) = (raw(left, &spec.left_on)?, raw(right, &spec.right_on)?);
    for (i, (a, b)) in l.iter_mut().zip(r.iter_mut()).enumerate() {
        // Checked on the columns' own types, so that an error names them as the user knows them.
        let to = crate::keys::join_key_type((&spec.left_on[i], a.data_type()), (&spec.right_on[i], b.data_type()))?;
        for side in [a, b] {
            if side.data_type() != &to {
                *side = arrow_cast::cast(side, &to)?;
            }
        }
    }
    if let ([a], [b]) = (l.as_slice(), r.as_slice()) {
        if let (Some(a), Some(b)) = (a.as_primitive_opt::<Int64Type>(), b.as_primitive_opt::<Int64Type>()) {
            return Ok(match_rows(a.iter(), b.iter(), how));
        }
    }
    if let ([a1, a2], [b1, b2]) = (l.as_slice(), r.as_slice()) {
        // Two int keys: matched as pairs, no row encoding (a null in either matches nothing).
        let ints = |c: &ArrayRef| c.as_primitive_opt::<Int64Type>().cloned();
        if let (Some(a1), Some(a2), Some(b1), Some(b2)) = (ints(a1), ints(a2), ints(b1), ints(b2)) {
            let pairs = |x: &arrow_array::Int64Array, y: &arrow_array::Int64Array| -> Vec<Option<(i64, i64)>> {
                x.iter().zip(y.iter()).map(|(x, y)| x.zip(y)).collect()
            };
            return Ok(match_rows(pairs(&a1, &a2).into_iter(), pairs(&b1, &b2).into_iter(), how));
        }
    }
    let (lrows, rrows) = (crate::keys::rows(&l)?, crate::keys::rows(&r)?);
    // A null in any key column matches nothing.
    fn keyed<'a>(rows: &'a arrow_row::Rows, cols: &[ArrayRef], i: usize) -> Option<&'a [u8]> {
        (!crate::keys::any_null(cols, i)).then(|| rows.row(i).data())
    }
    let left_keys = (0..left.num_rows()).map(|i| keyed(&lrows, &l, i));
    let right_keys: Vec<Option<&[u8]>> = (0..right.num_rows()).map(|i| keyed(&rrows, &r, i)).collect();
    Ok(match_rows(left_keys, right_keys.into_iter(), how))
}

/// Appends right's output columns at `rows` to a join's output (see [`JoinSpec::right_name`]).
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
        let Some(name) = spec.right_name(f.name(), &left_schema) else { continue };
        fields.push(Arc::new(Field::new(name, f.data_type().clone(), true)));
        columns.push(arrow_select::take::take(c, rows, None)?);
    }
    Ok(())
}

/// Which right rows some row of `left` matches (for right and outer joins).
pub(crate) fn matched_right(left: &RecordBatch, right: &RecordBatch, spec: &JoinSpec) -> Result<Vec<bool>, FrameError> {
    let (_, right_rows) = pairs(left, right, spec, How::Inner)?;
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
        let partner = spec.left_on.iter().position(|k| k == f.name()).map(|i| &spec.right_on[i]);
        let column = match partner.and_then(|p| right.column_by_name(p)) {
            Some(key) => arrow_cast::cast(&arrow_select::take::take(key, &rows, None)?, f.data_type())?,
            None => arrow_array::new_null_array(f.data_type(), n),
        };
        fields.push(Arc::new(Field::new(f.name(), f.data_type().clone(), true)));
        columns.push(column);
    }
    append_right(left, right, &rows, spec, &mut fields, &mut columns)?;
    Ok(RecordBatch::try_new_with_options(
        Arc::new(Schema::new(fields)),
        columns,
        &RecordBatchOptions::new().with_row_count(Some(n)),
    )?)
}

/// [`join`], then (right and outer joins) the right rows nothing in `left` matched.
pub(crate) fn join_local(left: &RecordBatch, right: &RecordBatch, spec: &JoinSpec) -> Result<RecordBatch, FrameError> {
    let joined = join(left, right, spec)?;
    if !spec.how.keeps_right() {
        return Ok(joined);
    }
    let rest = unmatched(left, right, &matched_right(left, right, spec)?, spec)?;
    Ok(arrow_select::concat::concat_batches(&joined.schema(), [&joined, &rest])?)
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
        let found = key.as_ref().and_then(|k| first.get(k));
        match (how, found) {
            (How::Semi, Some(_)) | (How::Anti, None) => {
                left_rows.push(row as u32);
                right_rows.push(None);
            }
            (How::Semi | How::Anti, _) => {}
            (_, Some(&start)) => {
                let mut m = start;
                while m != END {
                    left_rows.push(row as u32);
                    right_rows.push(Some(m));
                    m = next[m as usize];
                }
            }
            (_, None) if how.keeps_left() => {
                left_rows.push(row as u32);
                right_rows.push(None);
            }
            (_, None) => {}
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
        let bits = super::matched_right(left, right, &spec).map_err(|e| frame_error("frame_join_matched", e))?;
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
