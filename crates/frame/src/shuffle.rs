//! Moving rows between partitions: every row gets a *target* output partition (a hash of its
//! key columns, or the range of one column its value falls in), and a task-based all-to-all
//! brings each target's rows together.
//!
//! A direct all-to-all of `n` partitions is `n²` edges. Like Dask's task shuffle, ours runs in
//! stages: the `n` targets are numbered in base `b` (at most [`MAX_BRANCH`]), and stage `s`
//! exchanges rows only among the `b` partitions whose numbers differ in digit `s`. After the
//! last stage every row sits in the partition its target names. Each stage is `n` splits, `n·b`
//! picks and `n` concatenations, so 1,000 partitions take 2 stages of ~32 edges per partition
//! instead of 1,000.
//!
//! The hash is computed alike in every process (a fixed mixer over the key's bytes), so both
//! sides of a join, shuffled separately, put equal keys in partitions of the same number.

use std::hash::Hasher;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, ArrayRef, RecordBatch, UInt32Array};
use arrow_schema::DataType;
use rask_graph::{register, Arity, Expr as Task, Graph, Key, TaskError, Value};
use rustc_hash::FxHasher;
use serde::{Deserialize, Serialize};

use crate::batch::{from_value, to_value};
use crate::kernels::{decode, encode, frame_error};
use crate::{column, FrameError};

/// The most partitions one stage exchanges rows among (Dask's `max_branch`).
pub(crate) const MAX_BRANCH: usize = 32;

/// Which output partition a row goes to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) enum RowTarget {
    /// `hash(on) % n`.
    Hash { on: Vec<String>, n: usize },
    /// The range of `cuts` (given as the split task's third argument) the column's value falls
    /// in: `i` for `cuts[i-1] <= v < cuts[i]`; nulls go to the last partition, or to the first
    /// with `nulls_first`.
    Range { column: String, nulls_first: bool },
}

/// A 64-bit finalizer (splitmix64's): spreads consecutive ints over all buckets.
fn mix(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Each row's target partition in `[0, n)` by a hash of its `on` columns.
pub(crate) fn hash_targets(batch: &RecordBatch, on: &[String], n: usize) -> Result<Vec<u32>, FrameError> {
    // Canonical key types, so that both sides of a join (an int32 key and an int64 one, say)
    // hash equal keys alike.
    let columns: Vec<ArrayRef> =
        on.iter().map(|c| column(batch, c).and_then(|a| crate::keys::canonical(&a))).collect::<Result<_, _>>()?;
    let n = n.max(1) as u64;
    if let [only] = columns.as_slice() {
        if let Some(ints) = only.as_primitive_opt::<Int64Type>() {
            return Ok(ints.iter().map(|v| (mix(v.map_or(u64::MAX, |v| v as u64)) % n) as u32).collect());
        }
    }
    if let [a, b] = columns.as_slice() {
        // Two int keys: their hashes mixed, no row encoding.
        if let (Some(a), Some(b)) = (a.as_primitive_opt::<Int64Type>(), b.as_primitive_opt::<Int64Type>()) {
            let h = |v: Option<i64>| mix(v.map_or(u64::MAX, |v| v as u64));
            return Ok(a.iter().zip(b.iter()).map(|(x, y)| (mix(h(x) ^ h(y).rotate_left(17)) % n) as u32).collect());
        }
    }
    let rows = crate::keys::rows(&columns)?;
    Ok((0..batch.num_rows())
        .map(|row| {
            let mut h = FxHasher::default();
            h.write(rows.row(row).data());
            (mix(h.finish()) % n) as u32
        })
        .collect())
}

/// Each row's range partition: see [`RowTarget::Range`]. A string column compares with string
/// cut points (any other cut point counts as above every string); other columns must be
/// numeric.
pub(crate) fn range_targets(
    batch: &RecordBatch,
    name: &str,
    cuts: &[Value],
    nulls_first: bool,
) -> Result<Vec<u32>, FrameError> {
    let null_target = if nulls_first { 0 } else { cuts.len() as u32 };
    if let Some(strings) = crate::keys::canonical(&column(batch, name)?)?.as_string_opt::<i32>() {
        let below = |d: &Value, v: &str| d.as_str().is_some_and(|d| d <= v);
        return Ok(strings
            .iter()
            .map(|k| match k {
                Some(v) => cuts.partition_point(|d| below(d, v)) as u32,
                None => null_target,
            })
            .collect());
    }
    let cuts: Vec<f64> = cuts.iter().filter_map(Value::as_float).collect();
    let keys = numeric_keys(batch, name)?;
    Ok(keys
        .as_primitive::<Float64Type>()
        .iter()
        .map(|k| match k {
            Some(v) => cuts.partition_point(|d| *d <= v) as u32,
            None => null_target,
        })
        .collect())
}

/// A numeric column as float64 (range partitioning compares positions on the number line);
/// dates and timestamps count as their numbers since the epoch.
pub(crate) fn numeric_keys(batch: &RecordBatch, name: &str) -> Result<ArrayRef, FrameError> {
    let c = column(batch, name)?;
    let c = match c.data_type() {
        DataType::Boolean => arrow_cast::cast(&c, &DataType::Int32)?,
        DataType::Date32 => arrow_cast::cast(&c, &DataType::Int32)?,
        DataType::Date64 | DataType::Timestamp(..) => arrow_cast::cast(&c, &DataType::Int64)?,
        _ => c,
    };
    if !c.data_type().is_numeric() {
        return Err(FrameError::Type(format!(
            "column {name:?} is {}: ranges (sorting, divisions) need a numeric or string column",
            c.data_type()
        )));
    }
    Ok(arrow_cast::cast(&c, &DataType::Float64)?)
}

/// The rows of each of `branch` pieces by `digit(target)` (a piece may have none), in order.
fn rows_by_digit(targets: &[u32], divisor: u32, branch: u32) -> Vec<Vec<u32>> {
    let mut rows: Vec<Vec<u32>> = vec![Vec::new(); branch as usize];
    for (row, t) in targets.iter().enumerate() {
        rows[((t / divisor) % branch) as usize].push(row as u32);
    }
    rows
}

/// `batch`'s rows in pieces, as task values: written straight into shared memory where this
/// thread has an arena (`image.rs`), else taken on the heap.
fn take_pieces(batch: &RecordBatch, rows: Vec<Vec<u32>>) -> Result<Vec<Value>, FrameError> {
    if let Some(pieces) = crate::image::take_pieces(batch, &rows) {
        return pieces.map_err(FrameError::Type);
    }
    rows.into_iter()
        .map(|r| Ok(to_value(arrow_select::take::take_record_batch(batch, &UInt32Array::from(r))?)))
        .collect()
}

/// `(frame_shuffle_split, batch, target, cuts, divisor, branch)`: a list of `branch` pieces.
fn split(args: &[Value]) -> Result<Value, TaskError> {
    const F: &str = "frame_shuffle_split";
    let batch = from_value(F, &args[0])?;
    let target: RowTarget = decode(F, &args[1])?;
    let int = |v: &Value| v.as_int().filter(|&i| i > 0 && i <= u32::MAX as i64).map(|i| i as u32);
    let (Some(divisor), Some(branch)) = (int(&args[3]), int(&args[4])) else {
        return Err(TaskError::value_error(format!("{F}(): divisor and branch must be positive")));
    };
    let targets = match &target {
        RowTarget::Hash { on, n } => hash_targets(batch, on, *n),
        RowTarget::Range { column, nulls_first } => {
            range_targets(batch, column, args[2].as_seq().unwrap_or_default(), *nulls_first)
        }
    }
    .map_err(|e| frame_error(F, e))?;
    let pieces = take_pieces(batch, rows_by_digit(&targets, divisor, branch)).map_err(|e| frame_error(F, e))?;
    Ok(Value::list(pieces))
}

register!("frame_shuffle_split", Arity::Exact(5), split);

/// The stages of a shuffle of `n_in` partitions into `n_out`: `(branch, stages)` with
/// `branch^stages >= max(n_in, n_out)` and `branch <= MAX_BRANCH`.
pub(crate) fn stages(n_in: usize, n_out: usize, max_branch: usize) -> (usize, u32) {
    let widest = n_in.max(n_out).max(1);
    let max_branch = max_branch.max(2);
    let mut stages = 1u32;
    while max_branch.pow(stages) < widest {
        stages += 1;
    }
    // The smallest branch that still covers every partition in that many stages.
    let mut branch = 1usize;
    while branch.pow(stages) < widest {
        branch += 1;
    }
    (branch, stages)
}

/// Adds the tasks moving the rows of `parts` to `n_out` partitions by `target` (`cuts` is the
/// split tasks' third argument: the cut points of a range target, a key or a literal). Returns
/// each output partition's task: the concatenation of its pieces.
pub(crate) fn lower(
    graph: &mut Graph,
    token: &str,
    parts: &[Key],
    target: &RowTarget,
    cuts: Task,
    n_out: usize,
) -> Vec<Task> {
    if parts.is_empty() {
        return (0..n_out).map(|_| crate::plan::lower::no_partitions()).collect();
    }
    let (branch, nstages) = stages(parts.len(), n_out, MAX_BRANCH);
    let slots = branch.pow(nstages);
    // Partition 0 with no rows: the schema for outputs no row goes to.
    let empty = Key::from((format!("{token}-empty").as_str(), 0i64));
    graph
        .insert(empty.clone(), Task::call("frame_head", [Task::list([Task::key(parts[0].clone())]), Task::from(0i64)]));
    let target = encode(target);
    let mut current: Vec<Option<Task>> = (0..slots).map(|p| parts.get(p).cloned().map(Task::key)).collect();
    for stage in 0..nstages {
        let divisor = branch.pow(stage);
        let mut splits: Vec<Option<Key>> = vec![None; slots];
        for (p, input) in current.iter_mut().enumerate() {
            let Some(input) = input.take() else { continue };
            let key = Key::from((format!("{token}-split{stage}").as_str(), p as i64));
            let args =
                [input, target.clone().into(), cuts.clone(), Task::from(divisor as i64), Task::from(branch as i64)];
            graph.insert(key.clone(), Task::call("frame_shuffle_split", args));
            splits[p] = Some(key);
        }
        let last = stage + 1 == nstages;
        current = (0..slots)
            .map(|q| {
                if last && q >= n_out {
                    return None;
                }
                let digit = (q / divisor) % branch;
                let base = q - digit * divisor;
                // Each piece is picked inside the concatenation, not by a task of its own: an
                // executor in another process fetches only the picked item of each split
                // (`Op::items_read`), and a cluster saves a task and a round trip per piece
                // (400 in a 20 × 20 shuffle).
                let pieces: Vec<Task> = (0..branch)
                    .filter_map(|d| splits[base + d * divisor].as_ref())
                    .map(|split| Task::call("getitem", [Task::key(split.clone()), Task::from(digit as i64)]))
                    .collect();
                match (pieces.is_empty(), last) {
                    (true, true) => Some(Task::key(empty.clone())),
                    (true, false) => None,
                    (false, _) => Some(Task::call("frame_concat", [Task::list(pieces)])),
                }
            })
            .collect();
    }
    current.into_iter().take(n_out).map(|t| t.expect("every output partition has a task")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_keep_the_branch_small_and_cover_every_partition() {
        assert_eq!(stages(8, 8, 32), (8, 1));
        assert_eq!(stages(20, 5, 32), (20, 1));
        assert_eq!(stages(1000, 1000, 32), (32, 2));
        assert_eq!(stages(100, 100, 32), (10, 2));
        assert_eq!(stages(1, 1, 32), (1, 1));
        for n in 1..300 {
            let (b, s) = stages(n, n, 8);
            assert!(b <= 8 && b.pow(s) >= n, "{n}: {b}^{s}");
        }
    }

    #[test]
    fn a_staged_shuffle_has_no_quadratic_edges() {
        let mut graph = Graph::new();
        let parts: Vec<Key> = (0..1000).map(|i| Key::from(("in", i as i64))).collect();
        for p in &parts {
            graph.insert(p.clone(), Task::from(0i64));
        }
        let before = graph.len();
        let target = RowTarget::Hash { on: vec!["k".into()], n: 1000 };
        let outputs = lower(&mut graph, "s", &parts, &target, Task::from(Value::None), 1000);
        assert_eq!(outputs.len(), 1000);
        // Two stages of 1000 splits and 1000·32 picks (+1 empty batch), not 10⁶ edges.
        assert!(graph.len() - before <= 2 * (1000 + 32 * 1024) + 1024 + 1, "{}", graph.len() - before);
    }
}
