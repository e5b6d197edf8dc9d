//! The lazy frame and its lowering to a task graph.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use arrow_array::RecordBatch;
use rask_exec::Executor;
use rask_graph::{Expr as Task, Graph, Key, Registry, Value};

use crate::batch::{from_value, to_value};
use crate::csv::CsvColumn;
use crate::expr::Expr;
use crate::groupby::{AggSpec, GroupAgg, GroupSpec};
use crate::join::{How, JoinSpec};
use crate::kernels::{encode, Agg, PartitionOp};
use crate::FrameError;

/// Partials combined per task in a reduction tree (Dask's `split_every`).
const SPLIT_EVERY: usize = 8;

#[derive(Clone, Debug)]
enum Source {
    Parquet(Vec<PathBuf>),
    /// Byte ranges `[start, end)` of CSV files, with the schema inferred from the first file.
    Csv {
        ranges: Vec<(PathBuf, u64, u64)>,
        columns: Vec<CsvColumn>,
    },
    Batches(Vec<RecordBatch>),
    /// Every partition of `left` joined to all of `right` (broadcast).
    Join {
        left: Box<Frame>,
        right: Box<Frame>,
        spec: JoinSpec,
    },
    /// `input` in `n` partitions: neighbours concatenated, or each split into equal slices.
    Repartitioned {
        input: Box<Frame>,
        n: usize,
    },
    /// `input` sorted by `column`, in as many partitions; only the first `limit` are lowered.
    Sorted {
        input: Box<Frame>,
        column: String,
        limit: Option<usize>,
    },
}

/// A lazy, partitioned frame: nothing is read or computed until `compute` (or a reduction's).
#[derive(Clone, Debug)]
pub struct Frame {
    source: Source,
    ops: Vec<PartitionOp>,
}

/// A reduction of one column, computed on demand.
#[derive(Clone, Debug)]
pub struct Reduction {
    pub(crate) frame: Frame,
    pub(crate) column: String,
    pub(crate) agg: Agg,
}

static NEXT_TOKEN: AtomicU64 = AtomicU64::new(0);

impl Frame {
    /// One partition per Parquet file: `path` is a file, a directory (its `*.parquet` files) or
    /// a glob whose last component holds the `*` (`data/facts/*.parquet`).
    pub fn read_parquet(path: impl AsRef<Path>) -> Result<Frame, FrameError> {
        Ok(Frame { source: Source::Parquet(find(path.as_ref(), ".parquet")?), ops: Vec::new() })
    }

    /// CSV files (a file, a directory's `*.csv`, or a glob) in partitions of about `blocksize`
    /// bytes; the header names the columns and the first 1000 rows set their types.
    pub fn read_csv(path: impl AsRef<Path>, blocksize: u64) -> Result<Frame, FrameError> {
        let files = find(path.as_ref(), ".csv")?;
        let columns = crate::csv::infer(&files[0].to_string_lossy())?;
        let mut ranges = Vec::new();
        for f in files {
            let len = std::fs::metadata(&f)
                .map_err(|e| FrameError::File { path: f.display().to_string(), cause: e.to_string() })?
                .len();
            let block = blocksize.max(1);
            let mut start = 0;
            loop {
                let end = (start + block).min(len);
                ranges.push((f.clone(), start, end));
                if end >= len {
                    break;
                }
                start = end;
            }
        }
        Ok(Frame { source: Source::Csv { ranges, columns }, ops: Vec::new() })
    }

    /// A frame over batches in memory, one partition each.
    pub fn from_batches(batches: Vec<RecordBatch>) -> Frame {
        Frame { source: Source::Batches(batches), ops: Vec::new() }
    }

    pub fn npartitions(&self) -> usize {
        match &self.source {
            Source::Parquet(files) => files.len(),
            Source::Csv { ranges, .. } => ranges.len(),
            Source::Batches(b) => b.len(),
            Source::Join { left, spec, .. } => left.npartitions() + usize::from(spec.how.keeps_right()),
            Source::Sorted { input, limit, .. } => limit.unwrap_or(usize::MAX).min(input.npartitions()),
            Source::Repartitioned { n, .. } => *n,
        }
    }

    /// The same rows in `n` partitions (at least one): fewer by concatenating neighbours, more
    /// by splitting each partition into equal slices. Order is kept.
    pub fn repartition(&self, n: usize) -> Frame {
        Frame { source: Source::Repartitioned { input: Box::new(self.clone()), n: n.max(1) }, ops: Vec::new() }
    }

    /// Rows in ascending order of `column` (nulls last) across all partitions.
    pub fn sort_values(&self, column: &str) -> Frame {
        let source = Source::Sorted { input: Box::new(self.clone()), column: column.to_owned(), limit: None };
        Frame { source, ops: Vec::new() }
    }

    /// Rows of `self` joined to rows of `right` with equal `on` columns. The plan broadcasts
    /// `right` (put the smaller frame there): it is concatenated once and joined to every
    /// partition of `self`, with no shuffle.
    pub fn merge(&self, right: &Frame, on: &[&str], how: How) -> Frame {
        let spec = JoinSpec { on: on.iter().map(|c| c.to_string()).collect(), how };
        Frame {
            source: Source::Join { left: Box::new(self.clone()), right: Box::new(right.clone()), spec },
            ops: Vec::new(),
        }
    }

    fn with(mut self, op: PartitionOp) -> Frame {
        self.ops.push(op);
        self
    }

    /// Rows where `predicate` is true (nulls count as false).
    pub fn filter(self, predicate: Expr) -> Frame {
        self.with(PartitionOp::Filter(predicate))
    }

    /// Adds (or replaces) column `name`.
    pub fn with_column(self, name: &str, value: Expr) -> Frame {
        self.with(PartitionOp::WithColumn(name.to_owned(), value))
    }

    /// Applies the registered function `function` (a record batch in, a record batch out) to
    /// every partition, in every process that runs it: Dask's `map_partitions`.
    pub fn map_partitions(self, function: &str) -> Frame {
        self.with(PartitionOp::Map(function.to_owned()))
    }

    pub fn select(self, columns: &[&str]) -> Frame {
        self.with(PartitionOp::Select(columns.iter().map(|c| c.to_string()).collect()))
    }

    pub fn sum(&self, column: &str) -> Reduction {
        self.reduce(column, Agg::Sum)
    }

    pub fn mean(&self, column: &str) -> Reduction {
        self.reduce(column, Agg::Mean)
    }

    /// Non-null values in `column`.
    pub fn count(&self, column: &str) -> Reduction {
        self.reduce(column, Agg::Count)
    }

    pub fn min(&self, column: &str) -> Reduction {
        self.reduce(column, Agg::Min)
    }

    pub fn max(&self, column: &str) -> Reduction {
        self.reduce(column, Agg::Max)
    }

    /// Rows grouped by the values of `keys`; aggregate with [`GroupBy::agg`].
    pub fn groupby(&self, keys: &[&str]) -> GroupBy {
        GroupBy { frame: self.clone(), keys: keys.iter().map(|k| k.to_string()).collect(), split_every: SPLIT_EVERY }
    }

    fn reduce(&self, column: &str, agg: Agg) -> Reduction {
        Reduction { frame: self.clone(), column: column.to_owned(), agg }
    }

    /// The columns the source must provide for `wanted` output columns (`None`: all):
    /// projection pushdown, computed backwards through the operations.
    fn needed_columns(&self, wanted: Option<Vec<String>>) -> Option<Vec<String>> {
        let mut needed = wanted;
        for op in self.ops.iter().rev() {
            needed = match op {
                PartitionOp::Select(names) => Some(names.clone()),
                // A function may read any column.
                PartitionOp::Map(_) => None,
                PartitionOp::WithColumn(name, e) => needed.map(|mut n| {
                    n.retain(|c| c != name);
                    e.columns(&mut n);
                    n
                }),
                PartitionOp::Filter(e) => needed.map(|mut n| {
                    e.columns(&mut n);
                    n
                }),
            };
        }
        needed
    }

    /// Adds one task per partition to `graph` (source read and the operations chain, which
    /// the plan fuses into one task) and returns their keys.
    fn lower(&self, graph: &mut Graph, token: &str, wanted: Option<Vec<String>>) -> Vec<Key> {
        let columns = self.needed_columns(wanted);
        // A join's inputs are lowered first: left partition by partition, right as one batch.
        let joined = match &self.source {
            Source::Join { left, right, spec } => {
                // Projection pushdown through the join: each side reads the keys and whatever
                // the join's consumers need (a side skips the columns it does not have).
                let wanted_through = columns.clone().map(|mut c| {
                    c.extend(spec.on.iter().cloned());
                    c
                });
                let left_parts = left.lower(graph, &format!("{token}-left"), wanted_through.clone());
                let right_parts = right.lower(graph, &format!("{token}-right"), wanted_through);
                let right_all = Key::from((format!("{token}-right").as_str(), -1i64));
                graph.insert(
                    right_all.clone(),
                    Task::call("frame_concat", [Task::list(right_parts.into_iter().map(Task::key))]),
                );
                let spec_value = encode(spec);
                if spec.how.keeps_right() {
                    // One more partition: the right rows no left partition matched.
                    let bitmaps = left_parts.iter().map(|l| {
                        Task::call(
                            "frame_join_matched",
                            [Task::key(l.clone()), Task::key(right_all.clone()), Task::from(spec_value.clone())],
                        )
                    });
                    let sample =
                        Task::call("frame_head", [Task::list([Task::key(left_parts[0].clone())]), Task::from(0i64)]);
                    let extra = Task::call(
                        "frame_join_unmatched",
                        [sample, Task::list(bitmaps), Task::key(right_all.clone()), Task::from(spec_value.clone())],
                    );
                    Some((left_parts, right_all, spec_value, Some(extra)))
                } else {
                    Some((left_parts, right_all, spec_value, None))
                }
            }
            _ => None,
        };
        let repartitioned = match &self.source {
            Source::Repartitioned { input, n } => Some(lower_repartition(graph, token, input, *n, columns.clone())),
            _ => None,
        };
        let sorted = match &self.source {
            Source::Sorted { input, column, .. } => Some(self.lower_sort(graph, token, input, column, columns.clone())),
            _ => None,
        };
        (0..self.npartitions())
            .map(|i| {
                let source = match (&self.source, &joined) {
                    (Source::Parquet(files), _) => Task::call(
                        "frame_read_parquet",
                        [
                            Task::from(Value::str(&files[i].to_string_lossy())),
                            Task::from(encode(&columns)),
                            Task::from(encode(&self.pushed_bounds())),
                        ],
                    ),
                    (Source::Csv { ranges, columns: schema }, _) => {
                        let (file, start, end) = &ranges[i];
                        Task::call(
                            "frame_read_csv",
                            [
                                Task::from(Value::str(&file.to_string_lossy())),
                                Task::from(*start as i64),
                                Task::from(*end as i64),
                                Task::from(encode(schema)),
                                Task::from(encode(&columns)),
                            ],
                        )
                    }
                    (Source::Batches(batches), _) => Task::from(to_value(batches[i].clone())),
                    (Source::Join { .. }, Some((left, _, _, Some(extra)))) if i == left.len() => extra.clone(),
                    (Source::Join { .. }, Some((left, right, spec, _))) => Task::call(
                        "frame_join",
                        [Task::key(left[i].clone()), Task::key(right.clone()), Task::from(spec.clone())],
                    ),
                    (Source::Join { .. }, None) => unreachable!("joins are lowered above"),
                    (Source::Repartitioned { .. }, _) => {
                        repartitioned.as_ref().expect("repartitions are lowered above")[i].clone()
                    }
                    (Source::Sorted { column, .. }, _) => {
                        let splits = sorted.as_ref().expect("sorts are lowered above");
                        let pieces =
                            splits.iter().map(|s| Task::call("getitem", [Task::key(s.clone()), Task::from(i as i64)]));
                        Task::call("frame_gather_sort", [Task::list(pieces), Task::from(Value::str(column))])
                    }
                };
                let key = Key::from((token, i as i64));
                // Runs of built-in operations become one `frame_apply`; a mapped function is a
                // call of its own (the plan fuses the chain into one task per partition).
                let mut task = source;
                for run in self.ops.split_inclusive(|op| matches!(op, PartitionOp::Map(_))) {
                    let (builtin, map) = match run.split_last() {
                        Some((PartitionOp::Map(f), rest)) => (rest, Some(f)),
                        _ => (run, None),
                    };
                    if !builtin.is_empty() {
                        task = Task::call("frame_apply", [task, Task::from(encode(&builtin.to_vec()))]);
                    }
                    if let Some(f) = map {
                        task = Task::call(f, [task]);
                    }
                }
                graph.insert(key.clone(), task);
                key
            })
            .collect()
    }

    /// Predicates of the filters that come before anything changes a column: the reader may
    /// skip row groups whose statistics exclude them (the filters still run).
    fn pushed_bounds(&self) -> Vec<crate::kernels::Bound> {
        let mut bounds = Vec::new();
        for op in &self.ops {
            match op {
                PartitionOp::Filter(e) => e.bounds(&mut bounds),
                PartitionOp::Select(_) => {}
                PartitionOp::WithColumn(..) | PartitionOp::Map(_) => break,
            }
        }
        bounds
    }

    /// Samples, divisions and splits of a sort; returns the split tasks' keys.
    fn lower_sort(
        &self,
        graph: &mut Graph,
        token: &str,
        input: &Frame,
        column: &str,
        wanted: Option<Vec<String>>,
    ) -> Vec<Key> {
        let wanted = wanted.map(|mut c| {
            if !c.iter().any(|x| x == column) {
                c.push(column.to_owned());
            }
            c
        });
        let parts = input.lower(graph, &format!("{token}-in"), wanted);
        let n = parts.len() as i64;
        let samples: Vec<Key> = parts
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let key = Key::from((format!("{token}-sample").as_str(), i as i64));
                graph.insert(
                    key.clone(),
                    Task::call("frame_sample", [Task::key(p.clone()), Task::from(Value::str(column))]),
                );
                key
            })
            .collect();
        let divisions = Key::from((format!("{token}-divisions").as_str(), 0i64));
        graph.insert(
            divisions.clone(),
            Task::call("frame_divisions", [Task::list(samples.into_iter().map(Task::key)), Task::from(n)]),
        );
        parts
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let key = Key::from((format!("{token}-split").as_str(), i as i64));
                let args = [Task::key(p.clone()), Task::from(Value::str(column)), Task::key(divisions.clone())];
                graph.insert(key.clone(), Task::call("frame_split", args));
                key
            })
            .collect()
    }

    /// The plan, readably: source, pushed-down columns, operations, and the task count.
    pub fn explain(&self) -> String {
        let source = match &self.source {
            Source::Parquet(files) => format!("read_parquet: {} files", files.len()),
            Source::Csv { ranges, .. } => format!("read_csv: {} byte ranges", ranges.len()),
            Source::Batches(b) => format!("from_batches: {} batches", b.len()),
            Source::Join { right, spec, .. } => {
                format!(
                    "merge on {:?} ({:?}), broadcasting a {}-partition right side",
                    spec.on,
                    spec.how,
                    right.npartitions()
                )
            }
            Source::Sorted { input, column, .. } => {
                format!("sort by {column:?}: sample, divide and split {} partitions", input.npartitions())
            }
            Source::Repartitioned { input, n } => format!("repartition {} partitions into {n}", input.npartitions()),
        };
        let columns = match self.needed_columns(None) {
            Some(c) => format!("columns read: {}", c.join(", ")),
            None => "columns read: all".to_owned(),
        };
        let ops: Vec<String> = self.ops.iter().map(|op| format!("  {op:?}")).collect();
        format!(
            "{source}\n{columns}\noperations (one task per partition):\n{}\ntasks: {} (+1 to concatenate)",
            ops.join("\n"),
            self.npartitions()
        )
    }

    /// Writes every partition to `dir/part-NNNNN.parquet` (snappy), in parallel on the executor;
    /// returns the rows written. Reading the directory back gives the same partitions.
    pub fn to_parquet(&self, dir: impl AsRef<Path>, executor: &dyn Executor) -> Result<usize, FrameError> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir)
            .map_err(|e| FrameError::File { path: dir.display().to_string(), cause: e.to_string() })?;
        let token = fresh_token("write");
        let mut graph = Graph::new();
        let parts = self.lower(&mut graph, &token, None);
        let writes: Vec<Task> = parts
            .into_iter()
            .enumerate()
            .map(|(i, p)| {
                let path = dir.join(format!("part-{i:05}.parquet"));
                Task::call("frame_write_parquet", [Task::key(p), Task::from(Value::str(&path.to_string_lossy()))])
            })
            .collect();
        let root = Key::from((token.as_str(), -1i64));
        graph.insert(root.clone(), Task::call("sum", [Task::list(writes)]));
        let rows = executor.get(&graph, &[root], &Registry::new())?.remove(0);
        Ok(rows.as_int().unwrap_or(0) as usize)
    }

    /// Computes every partition once and returns a frame over the results, so later queries
    /// start from them instead of re-reading and re-filtering. The partitions are held by
    /// this process (on a cluster they come back to the client; keeping them on the workers
    /// is a later step).
    pub fn persist(&self, executor: &dyn Executor) -> Result<Frame, FrameError> {
        let token = fresh_token("persist");
        let mut graph = Graph::new();
        let parts = self.lower(&mut graph, &token, None);
        let values = executor.get(&graph, &parts, &Registry::new())?;
        let batches = values.iter().map(batch_result).collect::<Result<Vec<_>, _>>()?;
        Ok(Frame::from_batches(batches))
    }

    /// Every partition, concatenated into one batch.
    pub fn compute(&self, executor: &dyn Executor) -> Result<RecordBatch, FrameError> {
        let token = fresh_token("frame");
        let mut graph = Graph::new();
        let parts = self.lower(&mut graph, &token, None);
        let root = Key::from((token.as_str(), -1i64));
        graph.insert(root.clone(), Task::call("frame_concat", [Task::list(parts.into_iter().map(Task::key))]));
        batch_result(&executor.get(&graph, &[root], &Registry::new())?[0])
    }

    /// The first `n` rows, reading partitions in order only until there are enough.
    pub fn head(&self, n: usize, executor: &dyn Executor) -> Result<RecordBatch, FrameError> {
        let mut take = 1usize;
        loop {
            let first = Frame { source: self.first(take), ops: self.ops.clone() };
            let batch = first.compute(executor)?;
            if batch.num_rows() >= n || take >= self.npartitions() {
                return Ok(batch.slice(0, n.min(batch.num_rows())));
            }
            take = (take * 2).min(self.npartitions());
        }
    }

    fn first(&self, k: usize) -> Source {
        match &self.source {
            Source::Parquet(files) => Source::Parquet(files[..k.min(files.len())].to_vec()),
            Source::Csv { ranges, columns } => {
                Source::Csv { ranges: ranges[..k.min(ranges.len())].to_vec(), columns: columns.clone() }
            }
            Source::Batches(b) => Source::Batches(b[..k.min(b.len())].to_vec()),
            // The unmatched rows of right and outer joins depend on every left partition.
            Source::Join { left, right, spec } if spec.how.keeps_right() => {
                Source::Join { left: left.clone(), right: right.clone(), spec: spec.clone() }
            }
            Source::Join { left, right, spec } => Source::Join {
                left: Box::new(Frame { source: left.first(k), ops: left.ops.clone() }),
                right: right.clone(),
                spec: spec.clone(),
            },
            // Every input partition may hold rows of the first outputs: all are read, only the
            // first `k` outputs are gathered.
            Source::Sorted { input, column, .. } => {
                Source::Sorted { input: input.clone(), column: column.clone(), limit: Some(k) }
            }
            // Output partitions map to input ranges in order; lowering all is simplest and
            // `head` slices the result.
            Source::Repartitioned { input, n } => Source::Repartitioned { input: input.clone(), n: *n },
        }
    }
}

/// A grouped frame: `agg` lists output columns.
#[derive(Clone, Debug)]
pub struct GroupBy {
    frame: Frame,
    keys: Vec<String>,
    split_every: usize,
}

impl GroupBy {
    /// Partials merged per task (Dask's `split_every`; at least 2).
    pub fn split_every(mut self, n: usize) -> GroupBy {
        self.split_every = n.max(2);
        self
    }

    /// One row per group: the key columns, then `(column, agg)` for each spec, named
    /// `column_agg` (`x_sum`), sorted by key.
    pub fn agg(&self, specs: &[(&str, GroupAgg)]) -> GroupedFrame {
        let aggs = specs
            .iter()
            .map(|(c, a)| AggSpec {
                column: c.to_string(),
                agg: *a,
                name: format!("{c}_{}", format!("{a:?}").to_lowercase()),
            })
            .collect();
        GroupedFrame { by: self.clone(), spec: GroupSpec { keys: self.keys.clone(), aggs } }
    }
}

/// A group-by with its aggregates, computed on demand.
#[derive(Clone, Debug)]
pub struct GroupedFrame {
    by: GroupBy,
    spec: GroupSpec,
}

impl GroupedFrame {
    pub fn graph(&self) -> (Graph, Key) {
        let token = fresh_token("groupby");
        let mut graph = Graph::new();
        let mut wanted = self.spec.keys.clone();
        wanted.extend(self.spec.aggs.iter().map(|a| a.column.clone()));
        let parts = self.by.frame.lower(&mut graph, &token, Some(wanted));
        let spec = encode(&self.spec);
        // At least one merge, so that a single partition's partial is still merged into form.
        let top = tree_reduce(
            &mut graph,
            &token,
            parts,
            self.by.split_every,
            1,
            |p| Task::call("frame_groupby_partial", [p, Task::from(spec.clone())]),
            |inputs| Task::call("frame_groupby_merge", [inputs, Task::from(spec.clone())]),
        );
        let root = Key::from((token.as_str(), -1i64));
        let top = top.expect("a frame has at least one partition");
        graph.insert(root.clone(), Task::call("frame_groupby_finish", [Task::key(top), Task::from(spec)]));
        (graph, root)
    }

    pub fn compute(&self, executor: &dyn Executor) -> Result<RecordBatch, FrameError> {
        let (graph, root) = self.graph();
        batch_result(&executor.get(&graph, &[root], &Registry::new())?[0])
    }
}

impl Reduction {
    /// The graph: a partial aggregate per partition, combined `SPLIT_EVERY` at a time.
    pub fn graph(&self) -> (Graph, Key) {
        let token = fresh_token("reduce");
        let mut graph = Graph::new();
        let parts = self.frame.lower(&mut graph, &token, Some(vec![self.column.clone()]));
        let column = Task::from(Value::str(&self.column));
        let top = tree_reduce(
            &mut graph,
            &token,
            parts,
            SPLIT_EVERY,
            0,
            |p| Task::call("frame_partial", [p, column.clone()]),
            |inputs| Task::call("frame_combine", [inputs]),
        );
        let root = Key::from((token.as_str(), -1i64));
        let top = match top {
            Some(k) => Task::key(k),
            None => Task::call("frame_combine", [Task::list([])]),
        };
        graph.insert(root.clone(), Task::call("frame_finish", [top, Task::from(encode(&self.agg))]));
        (graph, root)
    }

    pub fn compute(&self, executor: &dyn Executor) -> Result<Value, FrameError> {
        let (graph, root) = self.graph();
        Ok(executor.get(&graph, &[root], &Registry::new())?.remove(0))
    }
}

/// A tree reduction over `parts`: `partial` of each, then `combine` of lists of at most
/// `split_every`, level by level (at least `min_levels` of them) until one is left. Returns its
/// key, or `None` when there are no parts.
fn tree_reduce(
    graph: &mut Graph,
    token: &str,
    parts: Vec<Key>,
    split_every: usize,
    min_levels: i64,
    partial: impl Fn(Task) -> Task,
    combine: impl Fn(Task) -> Task,
) -> Option<Key> {
    let mut level: Vec<Key> = parts
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let key = Key::from((format!("{token}-partial").as_str(), i as i64));
            graph.insert(key.clone(), partial(Task::key(p)));
            key
        })
        .collect();
    let mut depth = 0i64;
    while level.len() > 1 || depth < min_levels {
        depth += 1;
        level = level
            .chunks(split_every)
            .enumerate()
            .map(|(j, group)| {
                let key = Key::from((format!("{token}-combine").as_str(), depth * 1_000_000 + j as i64));
                graph.insert(key.clone(), combine(Task::list(group.iter().cloned().map(Task::key))));
                key
            })
            .collect();
    }
    level.pop()
}

/// The batch a frame's graph computed.
fn batch_result(value: &Value) -> Result<RecordBatch, FrameError> {
    Ok(from_value("compute", value).map_err(|e| FrameError::Type(e.to_string()))?.clone())
}

/// Tasks for each output partition of a repartition: `Task`s, not keys (the caller names them).
fn lower_repartition(
    graph: &mut Graph,
    token: &str,
    input: &Frame,
    n: usize,
    wanted: Option<Vec<String>>,
) -> Vec<Task> {
    let parts = input.lower(graph, &format!("{token}-in"), wanted);
    let m = parts.len();
    if n <= m {
        // Output j gathers inputs [j*m/n, (j+1)*m/n).
        (0..n)
            .map(|j| {
                let group = &parts[j * m / n..(j + 1) * m / n];
                Task::call("frame_concat", [Task::list(group.iter().cloned().map(Task::key))])
            })
            .collect()
    } else {
        // Each input i gives outputs for j in [i*n/m, (i+1)*n/m), as equal slices.
        (0..n)
            .map(|j| {
                let i = (0..m).find(|&i| j < (i + 1) * n / m).expect("every output has an input");
                let (first, count) = (i * n / m, (i + 1) * n / m - i * n / m);
                Task::call(
                    "frame_slice",
                    [Task::key(parts[i].clone()), Task::from((j - first) as i64), Task::from(count as i64)],
                )
            })
            .collect()
    }
}

fn fresh_token(kind: &str) -> String {
    format!("{kind}-{}", NEXT_TOKEN.fetch_add(1, Relaxed))
}

/// The files `path` names: itself, a directory's files ending in `extension`, or a glob whose
/// last component holds one `*`.
fn find(path: &Path, extension: &str) -> Result<Vec<PathBuf>, FrameError> {
    let text = path.to_string_lossy();
    let files = if text.contains('*') {
        let dir = path.parent().unwrap_or(Path::new("."));
        let pattern = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let (prefix, suffix) = pattern.split_once('*').unwrap_or((&pattern, ""));
        list(dir, |name| {
            name.starts_with(prefix) && name.ends_with(suffix) && name.len() >= prefix.len() + suffix.len()
        })?
    } else if path.is_dir() {
        list(path, |name| name.ends_with(extension))?
    } else {
        vec![path.to_path_buf()]
    };
    if files.is_empty() {
        return Err(FrameError::File { path: text.into_owned(), cause: format!("no {extension} files match") });
    }
    Ok(files)
}

fn list(dir: &Path, keep: impl Fn(&str) -> bool) -> Result<Vec<PathBuf>, FrameError> {
    let err = |e: std::io::Error| FrameError::File { path: dir.display().to_string(), cause: e.to_string() };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(err)?
        .filter_map(|e| e.ok())
        .filter(|e| keep(&e.file_name().to_string_lossy()))
        .map(|e| e.path())
        .collect();
    files.sort();
    Ok(files)
}
