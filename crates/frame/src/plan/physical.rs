//! The physical plan: partitions and the operators that make them — a source (files, batches,
//! a shuffle, a join by a chosen method, a group-by tree) with a chain of per-partition
//! operations. The planner (`planner.rs`) builds it from the optimized logical plan; lowering
//! to tasks is in `lower.rs`, the schema and size estimates in `meta.rs`. Data-dependent
//! stages (divisions from samples, partition sizes) run here, given an executor.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use rask_exec::{Executor, Persisted};
use rask_graph::{Expr as Task, Graph, Key, Registry, Value};

use crate::batch::from_value;
use crate::expr::{col, lit, Expr};
use crate::groupby::GroupSpec;
use crate::join::JoinSpec;
use crate::kernels::PartitionOp;
use crate::plan::logical::{JoinMethod, ScanSource};
use crate::shuffle::RowTarget;
use crate::sort::SortKey;
use crate::FrameError;

/// Partials combined per task in a reduction tree (Dask's `split_every`).
pub(crate) const SPLIT_EVERY: usize = 8;

/// Where a frame's partitions come from.
#[derive(Clone, Debug)]
pub(crate) enum Source {
    /// Rows from files, batches or a cluster (the logical plan's scan sources).
    Scan(ScanSource),
    Join {
        left: Box<Physical>,
        right: Box<Physical>,
        spec: JoinSpec,
        plan: JoinPlan,
    },
    /// `input` in `n` partitions: neighbours concatenated, or each split into equal slices.
    Repartitioned {
        input: Box<Physical>,
        n: usize,
    },
    /// `input`'s rows moved to `n` partitions by `target`; with `sort`, each output partition
    /// is then sorted by those keys (and with the first key descending, the partitions come in
    /// reverse order).
    Shuffled {
        input: Box<Physical>,
        target: RowTarget,
        cuts: Cuts,
        n: usize,
        sort: Option<Vec<SortKey>>,
    },
    /// The first `n` rows by `keys`, in one partition: each partition's top `n`, merged in a
    /// tree — nothing sorts every row.
    TopN {
        input: Box<Physical>,
        keys: Vec<SortKey>,
        n: usize,
    },
    /// The first `n` rows, in one partition.
    Limit {
        input: Box<Physical>,
        n: usize,
    },
    /// One row per group, in `split_out` partitions.
    Grouped {
        input: Box<Physical>,
        spec: GroupSpec,
        split_every: usize,
        split_out: usize,
        /// The input is already hash-partitioned on (some of) the keys: each partition is
        /// aggregated on its own, no tree, no exchange (as many outputs as inputs).
        local: bool,
    },
    /// Output partition `i` concatenates the `(input, slice, slices)` pieces `outputs[i]`
    /// lists (see [`Physical::repartition_by_size`]).
    Resized {
        input: Box<Physical>,
        outputs: Vec<Vec<(usize, usize, usize)>>,
    },
    /// Every input's partitions, in order (`concat`).
    Union {
        inputs: Vec<Physical>,
    },
    /// Only these partitions of `input`, in this order (the others are never computed).
    Subset {
        input: Box<Physical>,
        keep: Vec<usize>,
    },
}

/// The cut points of a range target.
#[derive(Clone, Debug)]
pub(crate) enum Cuts {
    /// Not a range target.
    None,
    Known(Vec<f64>),
    /// Computed in the graph from samples of the input (a sort).
    Sampled,
}

/// How a join brings matching rows together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum JoinPlan {
    /// The right side whole, joined to every left partition.
    Broadcast,
    /// Partition `i` of each side holds the same keys: on a shared index's divisions.
    Aligned,
    /// Partition `i` of each side holds the same keys: both were hash-shuffled.
    Hashed,
}

/// Keys of persisted partitions on a cluster, kept there while `hold` lives.
#[derive(Clone)]
pub(crate) struct Held {
    pub keys: Vec<Key>,
    pub schema: Option<SchemaRef>,
    /// Never read: the cluster keeps the keys while this lives.
    _hold: Arc<dyn std::any::Any + Send + Sync>,
}

impl std::fmt::Debug for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Held({} partitions)", self.keys.len())
    }
}

/// A sorted index: partition `i` holds the rows whose `column` lies in `[cuts[i-1], cuts[i])`
/// (the first partition is open below, the last above and holds the nulls).
#[derive(Clone, Debug, PartialEq)]
pub struct Divisions {
    pub column: String,
    pub cuts: Vec<f64>,
}

impl Divisions {
    /// Partitions that may hold values in `[lo, hi]`.
    fn overlapping(&self, lo: f64, hi: f64) -> Vec<usize> {
        (0..=self.cuts.len())
            .filter(|&i| (i == 0 || self.cuts[i - 1] <= hi) && (i == self.cuts.len() || self.cuts[i] > lo))
            .collect()
    }
}

/// A physical plan: a source of partitions, a chain of per-partition operations, and the
/// sorted index when known.
#[derive(Clone, Debug)]
pub(crate) struct Physical {
    pub(crate) source: Source,
    pub(crate) ops: Vec<PartitionOp>,
    pub(crate) divisions: Option<Divisions>,
}

static NEXT_TOKEN: AtomicU64 = AtomicU64::new(0);

impl Physical {
    pub(crate) fn new(source: Source) -> Physical {
        Physical { source, ops: Vec::new(), divisions: None }
    }

    pub(crate) fn npartitions(&self) -> usize {
        match &self.source {
            Source::Scan(scan) => scan.npartitions(),
            Source::Join { left, spec, plan: JoinPlan::Broadcast, .. } => {
                left.npartitions() + usize::from(spec.how.keeps_right())
            }
            Source::Join { left, .. } => left.npartitions(),
            Source::Repartitioned { n, .. } | Source::Shuffled { n, .. } => *n,
            Source::Grouped { input, local: true, .. } => input.npartitions(),
            Source::Grouped { split_out, .. } => *split_out,
            Source::TopN { .. } | Source::Limit { .. } => 1,
            Source::Union { inputs } => inputs.iter().map(Physical::npartitions).sum(),
            Source::Subset { keep, .. } => keep.len(),
            Source::Resized { outputs, .. } => outputs.len(),
        }
    }

    /// The same rows in `n` partitions (at least one): fewer by concatenating neighbours, more
    /// by splitting each partition into equal slices. Order is kept, and so are divisions when
    /// partitions are only concatenated.
    pub(crate) fn repartition(&self, n: usize) -> Physical {
        let n = n.max(1);
        let m = self.npartitions();
        let divisions = self.divisions.as_ref().filter(|_| n <= m).map(|d| Divisions {
            column: d.column.clone(),
            // Output j ends where input (j+1)*m/n - 1 ends.
            cuts: (0..n - 1).map(|j| d.cuts[(j + 1) * m / n - 1]).collect(),
        });
        Physical { divisions, ..Physical::new(Source::Repartitioned { input: Box::new(self.clone()), n }) }
    }

    /// Rows ordered by several keys: rows move to ranges of the first key (sampled quantiles,
    /// inside the graph), then each range is sorted by all the keys.
    pub(crate) fn sort_by(&self, keys: &[SortKey]) -> Physical {
        let Some(first) = keys.first() else { return self.clone() };
        // Ranges ascend; a descending first key reads them backwards, so its nulls go to the
        // range read last or first accordingly.
        let nulls_first = first.nulls_first != first.descending;
        Physical::new(Source::Shuffled {
            input: Box::new(self.clone()),
            target: RowTarget::Range { column: first.column.clone(), nulls_first },
            cuts: Cuts::Sampled,
            n: self.npartitions(),
            sort: Some(keys.to_vec()),
        })
    }

    /// The first `n` rows by `keys`: a tree of partial tops, one partition.
    pub(crate) fn top_n(&self, keys: &[SortKey], n: usize) -> Physical {
        Physical::new(Source::TopN { input: Box::new(self.clone()), keys: keys.to_vec(), n })
    }

    /// The first `n` rows, one partition.
    pub(crate) fn limit(&self, n: usize) -> Physical {
        Physical::new(Source::Limit { input: Box::new(self.clone()), n })
    }

    /// Rows sorted by `column` into ranges: with `cuts` known (a stage computed them) the
    /// frame has divisions; without, the ranges come from samples inside the graph.
    pub(crate) fn set_index(&self, column: &str, cuts: Option<Vec<f64>>) -> Physical {
        match cuts {
            Some(cuts) => {
                let mut out = self.range_shuffled(column, Cuts::Known(cuts.clone()), cuts.len() + 1, true);
                out.divisions = Some(Divisions { column: column.to_owned(), cuts });
                out
            }
            None => self.range_shuffled(column, Cuts::Sampled, self.npartitions(), true),
        }
    }

    fn range_shuffled(&self, column: &str, cuts: Cuts, n: usize, sort: bool) -> Physical {
        Physical::new(Source::Shuffled {
            input: Box::new(self.clone()),
            target: RowTarget::Range { column: column.to_owned(), nulls_first: false },
            cuts,
            n,
            sort: sort.then(|| vec![SortKey::asc(column)]),
        })
    }

    /// Rows whose `column` lies in `[lo, hi]`. With known divisions on it, partitions outside
    /// the range are never read; without, it is a filter.
    pub(crate) fn loc(&self, column: &str, lo: f64, hi: f64) -> Physical {
        let in_range = col(column).gt_eq(lit(lo)).and(col(column).lt_eq(lit(hi)));
        let Some(d) = self.divisions.as_ref().filter(|d| d.column == column) else {
            return self.filter(in_range);
        };
        let mut keep = d.overlapping(lo, hi);
        if keep.is_empty() {
            // An empty range still has a schema: the filter leaves no row of partition 0.
            keep.push(0);
        }
        let (first, last) = (keep.first().copied().unwrap_or(0), keep.last().copied().unwrap_or(0));
        let divisions = Divisions { column: d.column.clone(), cuts: d.cuts[first..last.max(first)].to_vec() };
        // Rows still to be moved into their ranges are filtered before they move (and the
        // reader may skip row groups), unless a mapped function sits between.
        let mut narrowed = self.clone();
        let no_map = !self.ops.iter().any(|op| matches!(op, PartitionOp::Map { .. }));
        if let Source::Shuffled { input, target: RowTarget::Range { column, .. }, cuts: Cuts::Known(_), .. } =
            &mut narrowed.source
        {
            if *column == d.column && no_map {
                **input = input.as_ref().clone().filter(in_range.clone());
            }
        }
        let source = Source::Subset { input: Box::new(narrowed), keep };
        Physical { divisions: Some(divisions), ..Physical::new(source) }.filter(in_range)
    }

    /// Rows in `n` partitions by a hash of `on`: equal keys end up in the same partition. The
    /// exchange runs in stages of at most 32 partitions each (see `shuffle.rs`).
    pub(crate) fn shuffle(&self, on: &[String], n: usize) -> Physical {
        let n = n.max(1);
        Physical::new(Source::Shuffled {
            input: Box::new(self.clone()),
            target: RowTarget::Hash { on: on.to_vec(), n },
            cuts: Cuts::None,
            n,
            sort: None,
        })
    }

    /// The join `spec` by the method `method` (chosen by the optimizer's join pass); `n`
    /// partitions for a hash join.
    pub(crate) fn join(&self, right: &Physical, spec: &JoinSpec, method: JoinMethod, n: usize) -> Physical {
        let plan_of = |left: Physical, right: Physical, plan: JoinPlan| {
            // Partition i of an aligned join holds the left index's range i, right rows included.
            let divisions = match plan {
                JoinPlan::Aligned => left.divisions.clone(),
                JoinPlan::Broadcast if !spec.how.keeps_right() => left.divisions.clone(),
                _ => None,
            };
            let source = Source::Join { left: Box::new(left), right: Box::new(right), spec: spec.clone(), plan };
            Physical { divisions, ..Physical::new(source) }
        };
        let index = |f: &Physical, on: &[String]| f.divisions.clone().filter(|d| on.len() == 1 && d.column == on[0]);
        match method {
            JoinMethod::BroadcastLeft => match self.broadcast_left(right, spec) {
                Some(swapped) => swapped,
                None => plan_of(self.clone(), right.clone(), JoinPlan::Broadcast),
            },
            JoinMethod::Broadcast => plan_of(self.clone(), right.clone(), JoinPlan::Broadcast),
            JoinMethod::Index => match (index(self, &spec.left_on), index(right, &spec.right_on)) {
                (Some(l), Some(r)) if l.cuts == r.cuts => plan_of(self.clone(), right.clone(), JoinPlan::Aligned),
                (Some(l), _) => {
                    // Only the right side moves, into the left's ranges.
                    let moved =
                        right.range_shuffled(&spec.right_on[0], Cuts::Known(l.cuts.clone()), l.cuts.len() + 1, false);
                    plan_of(self.clone(), moved, JoinPlan::Aligned)
                }
                _ => self.join(right, spec, JoinMethod::Hash { shuffle_left: true, shuffle_right: true }, n),
            },
            JoinMethod::Hash { shuffle_left, shuffle_right } => {
                // A side already hash-partitioned on its keys keeps its partitions; the other
                // side is shuffled into as many.
                let n = if !shuffle_left {
                    self.npartitions()
                } else if !shuffle_right {
                    right.npartitions()
                } else {
                    n
                };
                let left = if shuffle_left { self.shuffle(&spec.left_on, n) } else { self.clone() };
                let right = if shuffle_right { right.shuffle(&spec.right_on, n) } else { right.clone() };
                plan_of(left, right, JoinPlan::Hashed)
            }
        }
    }

    /// A join that broadcasts a small *left* side: `right` joined to `self` by the swapped join
    /// (inner, right for left, left for right, outer), then its columns put back in the
    /// left-first order and names. `None` if a schema is unknown.
    fn broadcast_left(&self, right: &Physical, spec: &JoinSpec) -> Option<Physical> {
        let (ls, rs) = (self.schema().ok()?, right.schema().ok()?);
        let swapped_spec = spec.swapped();
        // (wanted name, its name in the swapped join's output)
        let mut columns: Vec<(String, String)> = Vec::new();
        for f in ls.fields() {
            let name = f.name();
            // A key merged away in the swapped join is the right side's key of the same name.
            let swapped = swapped_spec.right_name(name, &rs).unwrap_or_else(|| name.clone());
            columns.push((name.clone(), swapped));
        }
        for f in rs.fields() {
            if let Some(wanted) = spec.right_name(f.name(), &ls) {
                columns.push((wanted, f.name().clone()));
            }
        }
        let mut out = right.join(self, &swapped_spec, JoinMethod::Broadcast, 1);
        // Through temporary names, since a wanted name may be another column's swapped name.
        let temp = |i: usize| format!("\u{1f}{i}");
        for (i, (_, swapped)) in columns.iter().enumerate() {
            out = out.with_column(&temp(i), col(swapped));
        }
        for (i, (wanted, _)) in columns.iter().enumerate() {
            out = out.with_column(wanted, col(&temp(i)));
        }
        let names: Vec<&str> = columns.iter().map(|(wanted, _)| wanted.as_str()).collect();
        out.divisions = None;
        Some(out.select(&names))
    }

    fn with(mut self, op: PartitionOp) -> Physical {
        // An index survives what keeps its column and its rows' partitions.
        let index_lost = match (&op, &self.divisions) {
            (PartitionOp::Select(names), Some(d)) => !names.contains(&d.column),
            (PartitionOp::WithColumn(name, _), Some(d)) => *name == d.column,
            (PartitionOp::Rename(pairs), Some(d)) => pairs.iter().any(|(old, _)| *old == d.column),
            _ => false,
        };
        if index_lost {
            self.divisions = None;
        }
        self.ops.push(op);
        self
    }

    /// Rows where `predicate` is true (nulls count as false). Frames are values: this one is
    /// left as it is, and a new frame is returned (the same for every operation).
    pub(crate) fn filter(&self, predicate: Expr) -> Physical {
        self.clone().with(PartitionOp::Filter(predicate))
    }

    /// Adds (or replaces) column `name`.
    pub(crate) fn with_column(&self, name: &str, value: Expr) -> Physical {
        self.clone().with(PartitionOp::WithColumn(name.to_owned(), value))
    }

    /// Applies the registered function `function` (a record batch in, a record batch out) to
    /// every partition, in every process that runs it: Dask's `map_partitions`. Its output
    /// schema is inferred by calling it on an empty batch (Dask's `meta`); a function that
    /// cannot take one should be given its schema with [`Physical::map_partitions_with_meta`].
    /// The function must keep rows in their partitions (divisions are kept).
    pub(crate) fn map_partitions(&self, function: &str) -> Physical {
        self.clone().with(PartitionOp::Map { function: function.to_owned(), meta: None })
    }

    /// [`Physical::map_partitions`] with the output schema given.
    pub(crate) fn map_partitions_with_meta(&self, function: &str, meta: SchemaRef) -> Physical {
        self.clone().with(PartitionOp::Map { function: function.to_owned(), meta: Some(meta) })
    }

    /// Columns renamed: `(old, new)` pairs; the others keep their names and places.
    pub(crate) fn rename(&self, pairs: &[(&str, &str)]) -> Physical {
        self.clone().with(PartitionOp::Rename(pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()))
    }

    pub(crate) fn select(&self, columns: &[&str]) -> Physical {
        self.clone().with(PartitionOp::Select(columns.iter().map(|c| c.to_string()).collect()))
    }

    /// Partitions of about `bytes` each from inputs of `sizes` (measured by a stage): large
    /// ones split into equal slices, small neighbours concatenated, order kept.
    pub(crate) fn resized(&self, sizes: &[u64], bytes: u64) -> Physical {
        let outputs = size_plan(sizes, bytes.max(1));
        Physical::new(Source::Resized { input: Box::new(self.clone()), outputs })
    }

    /// Each partition's bytes in memory: a stage of `repartition_by_size`.
    pub(crate) fn sizes(&self, executor: &dyn Executor) -> Result<Vec<u64>, FrameError> {
        let each = |_, p| Task::call("frame_nbytes", [Task::key(p)]);
        let sizes = self.run_gathered("sizes", None, each, |sizes| sizes, executor)?;
        Ok(sizes.as_seq().unwrap_or_default().iter().filter_map(Value::as_int).map(|s| s as u64).collect())
    }

    /// Rows in the frame: a per-partition count summed in a tree, reading no column it does
    /// not filter on.
    pub(crate) fn len(&self, executor: &dyn Executor) -> Result<usize, FrameError> {
        let each = |_, p| Task::call("frame_num_rows", [Task::key(p)]);
        let total = self.run_gathered("len", Some(Vec::new()), each, |counts| Task::call("sum", [counts]), executor)?;
        Ok(total.as_int().unwrap_or(0) as usize)
    }

    /// Writes every partition to `dir/part-NNNNN.parquet` (snappy), in parallel on the executor;
    /// returns the rows written. Reading the directory back gives the same partitions.
    /// Every partition written to `dir/part-NNNNN.{extension}` (`parquet` or `csv`) by its own
    /// task; the rows written.
    pub(crate) fn to_files(&self, dir: &Path, extension: &str, executor: &dyn Executor) -> Result<usize, FrameError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| FrameError::File { path: dir.display().to_string(), cause: e.to_string() })?;
        let function = if extension == "csv" { "frame_write_csv" } else { "frame_write_parquet" };
        let write = |i: usize, p| {
            let path = dir.join(format!("part-{i:05}.{extension}"));
            Task::call(function, [Task::key(p), Task::from(Value::str(&path.to_string_lossy()))])
        };
        let rows = self.run_gathered("write", None, write, |rows| Task::call("sum", [rows]), executor)?;
        Ok(rows.as_int().unwrap_or(0) as usize)
    }

    /// Computes every partition once and returns a frame over the results, so later queries
    /// start from them instead of re-reading and re-filtering. In-process executors hand the
    /// batches back; a cluster keeps them on its workers (the returned frame holds them there
    /// while it lives, and runs only on that cluster's client).
    pub(crate) fn persist(&self, executor: &dyn Executor) -> Result<(ScanSource, Option<Divisions>), FrameError> {
        let token = fresh_token("persist");
        let mut graph = Graph::new();
        let parts = self.lower(&mut graph, &token, None);
        let source = match executor.persist(&graph, &parts, &Registry::new())? {
            Persisted::Values(values) => {
                ScanSource::Batches(values.iter().map(batch_result).collect::<Result<Vec<_>, _>>()?)
            }
            Persisted::Held { keys, hold } => ScanSource::Held(Held { keys, schema: self.schema().ok(), _hold: hold }),
        };
        Ok((source, self.divisions.clone()))
    }

    /// Every partition, concatenated into one batch.
    pub(crate) fn compute(&self, executor: &dyn Executor) -> Result<RecordBatch, FrameError> {
        let (graph, root) = self.graph();
        batch_result(&executor.get(&graph, &[root], &Registry::new())?[0])
    }

    /// The task graph of [`Physical::compute`] and its output key.
    pub(crate) fn graph(&self) -> (Graph, Key) {
        self.gathered("frame", None, |_, p| Task::key(p), |parts| Task::call("frame_concat", [parts]))
    }

    /// A graph of one task per partition, `each(i, partition)`, and a root that `gather`s the
    /// list of them; `wanted` columns as for lowering.
    fn gathered(
        &self,
        kind: &str,
        wanted: Option<Vec<String>>,
        each: impl Fn(usize, Key) -> Task,
        gather: impl FnOnce(Task) -> Task,
    ) -> (Graph, Key) {
        let token = fresh_token(kind);
        let mut graph = Graph::new();
        let parts = self.lower(&mut graph, &token, wanted);
        let root = Key::from((token.as_str(), -1i64));
        graph.insert(root.clone(), gather(Task::list(parts.into_iter().enumerate().map(|(i, p)| each(i, p)))));
        (graph, root)
    }

    /// Runs [`Physical::gathered`]'s graph and returns the root's value.
    fn run_gathered(
        &self,
        kind: &str,
        wanted: Option<Vec<String>>,
        each: impl Fn(usize, Key) -> Task,
        gather: impl FnOnce(Task) -> Task,
        executor: &dyn Executor,
    ) -> Result<Value, FrameError> {
        let (graph, root) = self.gathered(kind, wanted, each, gather);
        Ok(executor.get(&graph, &[root], &Registry::new())?.remove(0))
    }

    /// `n - 1` cut points splitting `column`'s values into `n` ranges of about equal rows,
    /// from a sample of every partition.
    pub(crate) fn quantiles(&self, column: &str, n: usize, executor: &dyn Executor) -> Result<Vec<f64>, FrameError> {
        // Straight from Parquet files whose row groups carry statistics (nothing filtered or
        // changed on the way): quantiles of the row groups' ranges, without reading the data.
        if let Source::Scan(ScanSource::Parquet { parts: files, .. }) = &self.source {
            if self.ops.iter().all(|op| matches!(op, PartitionOp::Select(c) if c.iter().any(|c| c == column))) {
                if let Some(ranges) = crate::kernels::column_ranges(files, column) {
                    return Ok(crate::sort::cuts_from_ranges(&ranges, n));
                }
            }
        }
        let token = fresh_token("quantiles");
        let mut graph = Graph::new();
        let parts = self.lower(&mut graph, &token, Some(vec![column.to_owned()]));
        let root = crate::plan::lower::lower_quantiles(&mut graph, &token, &parts, column, n);
        let cuts = executor.get(&graph, &[root], &Registry::new())?.remove(0);
        Ok(cuts.as_seq().unwrap_or_default().iter().filter_map(Value::as_float).collect())
    }
}

/// Output partitions of about `target` bytes from inputs of `sizes`: each `(input, slice,
/// slices)` is slice `slice` of `slices` equal slices of an input.
fn size_plan(sizes: &[u64], target: u64) -> Vec<Vec<(usize, usize, usize)>> {
    let mut outputs = Vec::new();
    let (mut current, mut filled) = (Vec::new(), 0u64);
    for (i, &size) in sizes.iter().enumerate() {
        let slices = size.div_ceil(target).max(1) as usize;
        let piece = size / slices as u64;
        for j in 0..slices {
            if filled + piece > target && !current.is_empty() {
                outputs.push(std::mem::take(&mut current));
                filled = 0;
            }
            current.push((i, j, slices));
            filled += piece;
        }
    }
    if !current.is_empty() || outputs.is_empty() {
        outputs.push(current);
    }
    outputs
}

/// The batch a frame's graph computed.
fn batch_result(value: &Value) -> Result<RecordBatch, FrameError> {
    Ok(from_value("compute", value).map_err(|e| FrameError::Type(e.to_string()))?.clone())
}

/// A key prefix no other graph of this process, or (likely) of another client of the same
/// cluster, uses.
pub(crate) fn fresh_token(kind: &str) -> String {
    static PROCESS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let process = PROCESS.get_or_init(|| {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        (nanos as u64 ^ (u64::from(std::process::id()) << 32)) & 0xffff_ffff_ffff
    });
    format!("{kind}-{process:x}-{}", NEXT_TOKEN.fetch_add(1, Relaxed))
}
