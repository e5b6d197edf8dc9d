//! The lazy frame: what users build. Lowering to a task graph is in `lower.rs`, schema and
//! size inference in `meta.rs`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use rask_exec::{Executor, Persisted};
use rask_graph::{Expr as Task, Graph, Key, Registry, Value};

use crate::batch::from_value;
use crate::csv::CsvColumn;
use crate::expr::{col, lit, Expr};
use crate::groupby::{GroupAgg, GroupSpec};
use crate::join::{How, JoinSpec};
use crate::kernels::{Agg, PartitionOp};
use crate::reduce::{GroupBy, Reduction};
use crate::shuffle::RowTarget;
use crate::sort::SortKey;
use crate::FrameError;

/// Partials combined per task in a reduction tree (Dask's `split_every`).
pub(crate) const SPLIT_EVERY: usize = 8;

/// Where a frame's partitions come from.
#[derive(Clone, Debug)]
pub(crate) enum Source {
    /// Files, whole or one row group each (`Some(g)`).
    Parquet(Vec<(PathBuf, Option<usize>)>),
    /// Byte ranges `[start, end)` of CSV files, with the schema inferred from the first file.
    Csv {
        ranges: Vec<(PathBuf, u64, u64)>,
        columns: Vec<CsvColumn>,
    },
    Batches(Vec<RecordBatch>),
    /// Partitions a cluster keeps (see [`Frame::persist`]).
    Held(Held),
    Join {
        left: Box<Frame>,
        right: Box<Frame>,
        spec: JoinSpec,
        plan: JoinPlan,
    },
    /// `input` in `n` partitions: neighbours concatenated, or each split into equal slices.
    Repartitioned {
        input: Box<Frame>,
        n: usize,
    },
    /// `input`'s rows moved to `n` partitions by `target`; with `sort`, each output partition
    /// is then sorted by those keys (and with the first key descending, the partitions come in
    /// reverse order).
    Shuffled {
        input: Box<Frame>,
        target: RowTarget,
        cuts: Cuts,
        n: usize,
        sort: Option<Vec<SortKey>>,
    },
    /// The first `n` rows by `keys`, in one partition: each partition's top `n`, merged in a
    /// tree — nothing sorts every row.
    TopN {
        input: Box<Frame>,
        keys: Vec<SortKey>,
        n: usize,
    },
    /// The first `n` rows, in one partition.
    Limit {
        input: Box<Frame>,
        n: usize,
    },
    /// One row per group, in `split_out` partitions.
    Grouped {
        input: Box<Frame>,
        spec: GroupSpec,
        split_every: usize,
        split_out: usize,
    },
    /// Output partition `i` concatenates the `(input, slice, slices)` pieces `outputs[i]`
    /// lists (see [`Frame::repartition_by_size`]).
    Resized {
        input: Box<Frame>,
        outputs: Vec<Vec<(usize, usize, usize)>>,
    },
    /// Only these partitions of `input`, in this order (the others are never computed).
    Subset {
        input: Box<Frame>,
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

/// A lazy, partitioned frame: nothing is read or computed until `compute` (or a reduction's).
#[derive(Clone, Debug)]
pub struct Frame {
    pub(crate) source: Source,
    pub(crate) ops: Vec<PartitionOp>,
    pub(crate) divisions: Option<Divisions>,
}

/// How [`Frame::merge_with`] plans a join.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinStrategy {
    /// Aligned on a shared index when both sides have one on the key; else broadcast the
    /// right side if it is at most `broadcast_threshold` bytes; else (inner joins) broadcast
    /// the left side if it is; else align the right side to the left's index; else
    /// hash-shuffle both.
    Auto,
    Broadcast,
    /// Hash-shuffle both sides into the same number of partitions.
    Shuffle,
}

#[derive(Clone, Debug)]
pub struct MergeOptions {
    pub strategy: JoinStrategy,
    /// The largest right side (estimated bytes: files on disk, batches in memory) `Auto`
    /// broadcasts.
    pub broadcast_threshold: u64,
    /// Partitions of a hash-shuffled join (default: the larger side's).
    pub npartitions: Option<usize>,
    /// Added to the name of a right column the left side also has (default `_right`).
    pub suffix: String,
}

impl Default for MergeOptions {
    fn default() -> MergeOptions {
        MergeOptions {
            strategy: JoinStrategy::Auto,
            broadcast_threshold: 64 << 20,
            npartitions: None,
            suffix: "_right".to_owned(),
        }
    }
}

static NEXT_TOKEN: AtomicU64 = AtomicU64::new(0);

impl Frame {
    pub(crate) fn new(source: Source) -> Frame {
        Frame { source, ops: Vec::new(), divisions: None }
    }

    /// One partition per Parquet file: `path` is a file, a directory (its `*.parquet` files) or
    /// a glob whose last component holds the `*` (`data/facts/*.parquet`).
    pub fn read_parquet(path: impl AsRef<Path>) -> Result<Frame, FrameError> {
        let files = find(path.as_ref(), ".parquet")?;
        Ok(Frame::new(Source::Parquet(files.into_iter().map(|f| (f, None)).collect())))
    }

    /// As [`Frame::read_parquet`], with a partition per *row group*: smaller partitions from
    /// few large files (the footers are read now to count the groups).
    pub fn read_parquet_row_groups(path: impl AsRef<Path>) -> Result<Frame, FrameError> {
        let mut parts = Vec::new();
        for f in find(path.as_ref(), ".parquet")? {
            let fail = |cause: String| FrameError::File { path: f.display().to_string(), cause };
            let file = std::fs::File::open(&f).map_err(|e| fail(e.to_string()))?;
            let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
                .map_err(|e| fail(e.to_string()))?;
            // A file without row groups still gives one (empty) partition with its schema.
            let groups = builder.metadata().num_row_groups();
            parts.extend((0..groups.max(1)).map(|g| (f.clone(), (groups > 0).then_some(g))));
        }
        Ok(Frame::new(Source::Parquet(parts)))
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
        Ok(Frame::new(Source::Csv { ranges, columns }))
    }

    /// A frame over batches in memory, one partition each.
    pub fn from_batches(batches: Vec<RecordBatch>) -> Frame {
        Frame::new(Source::Batches(batches))
    }

    pub fn npartitions(&self) -> usize {
        match &self.source {
            Source::Parquet(files) => files.len(),
            Source::Csv { ranges, .. } => ranges.len(),
            Source::Batches(b) => b.len(),
            Source::Held(h) => h.keys.len(),
            Source::Join { left, spec, plan: JoinPlan::Broadcast, .. } => {
                left.npartitions() + usize::from(spec.how.keeps_right())
            }
            Source::Join { left, .. } => left.npartitions(),
            Source::Repartitioned { n, .. } | Source::Shuffled { n, .. } => *n,
            Source::Grouped { split_out, .. } => *split_out,
            Source::TopN { .. } | Source::Limit { .. } => 1,
            Source::Subset { keep, .. } => keep.len(),
            Source::Resized { outputs, .. } => outputs.len(),
        }
    }

    /// The sorted index and its partition boundaries, when known (after [`Frame::set_index`]).
    pub fn divisions(&self) -> Option<&Divisions> {
        self.divisions.as_ref()
    }

    /// The same rows in `n` partitions (at least one): fewer by concatenating neighbours, more
    /// by splitting each partition into equal slices. Order is kept, and so are divisions when
    /// partitions are only concatenated.
    pub fn repartition(&self, n: usize) -> Frame {
        let n = n.max(1);
        let m = self.npartitions();
        let divisions = self.divisions.as_ref().filter(|_| n <= m).map(|d| Divisions {
            column: d.column.clone(),
            // Output j ends where input (j+1)*m/n - 1 ends.
            cuts: (0..n - 1).map(|j| d.cuts[(j + 1) * m / n - 1]).collect(),
        });
        Frame { divisions, ..Frame::new(Source::Repartitioned { input: Box::new(self.clone()), n }) }
    }

    /// Rows in ascending order of `column` (numbers, dates or strings; nulls last) across all
    /// partitions: sampled quantiles set the boundaries, computed inside the same graph.
    pub fn sort_values(&self, column: &str) -> Frame {
        self.sort_by(&[SortKey::asc(column)])
    }

    /// Rows ordered by several keys, each ascending or descending, nulls first or last: rows
    /// move to ranges of the first key (sampled quantiles, inside the graph), then each range
    /// is sorted by all the keys.
    pub fn sort_by(&self, keys: &[SortKey]) -> Frame {
        let Some(first) = keys.first() else { return self.clone() };
        // Ranges ascend; a descending first key reads them backwards, so its nulls go to the
        // range read last or first accordingly.
        let nulls_first = first.nulls_first != first.descending;
        Frame::new(Source::Shuffled {
            input: Box::new(self.clone()),
            target: RowTarget::Range { column: first.column.clone(), nulls_first },
            cuts: Cuts::Sampled,
            n: self.npartitions(),
            sort: Some(keys.to_vec()),
        })
    }

    /// The first `n` rows by `keys`, without sorting everything: each partition keeps its own
    /// top `n`, and the tops merge in a tree. One partition.
    pub fn top_n(&self, keys: &[SortKey], n: usize) -> Frame {
        Frame::new(Source::TopN { input: Box::new(self.clone()), keys: keys.to_vec(), n })
    }

    /// The `n` rows with the largest `column` (pandas' `nlargest`).
    pub fn nlargest(&self, n: usize, column: &str) -> Frame {
        self.top_n(&[SortKey::desc(column)], n)
    }

    /// The `n` rows with the smallest `column`.
    pub fn nsmallest(&self, n: usize, column: &str) -> Frame {
        self.top_n(&[SortKey::asc(column)], n)
    }

    /// The first `n` rows, lazily, in one partition. Directly after [`Frame::sort_by`] it is a
    /// [`Frame::top_n`]: no full sort.
    pub fn limit(&self, n: usize) -> Frame {
        if let (Source::Shuffled { input, sort: Some(keys), cuts: Cuts::Sampled, .. }, true) =
            (&self.source, self.ops.is_empty())
        {
            return input.top_n(keys, n);
        }
        Frame::new(Source::Limit { input: Box::new(self.clone()), n })
    }

    /// Rows sorted by `column` into partitions with known boundaries: the boundaries are
    /// computed now (approximate quantiles: of the row groups' statistics when the column comes
    /// straight from Parquet files, else of a sample of every partition, reading only
    /// `column`), then rows move to their partitions when the frame is computed. With known
    /// divisions, [`Frame::loc`] reads only the partitions a range touches and joins on
    /// `column` need no shuffle. Numeric columns only.
    pub fn set_index(&self, column: &str, executor: &dyn Executor) -> Result<Frame, FrameError> {
        let schema = self.schema()?;
        let field = schema.field_with_name(column).map_err(|_| FrameError::missing(column, &schema))?;
        if !field.data_type().is_numeric() {
            return Err(FrameError::Type(format!(
                "set_index({column:?}): the column is {}, and divisions are numbers (sort_values sorts strings)",
                field.data_type()
            )));
        }
        let cuts = self.quantiles(column, self.npartitions(), executor)?;
        let mut out = self.range_shuffled(column, Cuts::Known(cuts.clone()), cuts.len() + 1, true);
        out.divisions = Some(Divisions { column: column.to_owned(), cuts });
        Ok(out)
    }

    fn range_shuffled(&self, column: &str, cuts: Cuts, n: usize, sort: bool) -> Frame {
        Frame::new(Source::Shuffled {
            input: Box::new(self.clone()),
            target: RowTarget::Range { column: column.to_owned(), nulls_first: false },
            cuts,
            n,
            sort: sort.then(|| vec![SortKey::asc(column)]),
        })
    }

    /// Rows whose index lies in `[lo, hi]` (pandas' label slicing: both ends included). With
    /// known divisions, partitions outside the range are never read.
    pub fn loc(&self, lo: f64, hi: f64) -> Result<Frame, FrameError> {
        let Some(d) = &self.divisions else {
            return Err(FrameError::Type("loc needs an index with known divisions: call set_index first".into()));
        };
        let mut keep = d.overlapping(lo, hi);
        if keep.is_empty() {
            // An empty range still has a schema: the filter leaves no row of partition 0.
            keep.push(0);
        }
        let (first, last) = (keep.first().copied().unwrap_or(0), keep.last().copied().unwrap_or(0));
        let divisions = Divisions { column: d.column.clone(), cuts: d.cuts[first..last.max(first)].to_vec() };
        let in_range = col(&d.column).gt_eq(lit(lo)).and(col(&d.column).lt_eq(lit(hi)));
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
        Ok(Frame { divisions: Some(divisions), ..Frame::new(source) }.filter(in_range))
    }

    /// Rows in `n` partitions by a hash of `on`: equal keys end up in the same partition. The
    /// exchange runs in stages of at most 32 partitions each (see `shuffle.rs`).
    pub fn shuffle(&self, on: &[&str], n: usize) -> Frame {
        let on: Vec<String> = on.iter().map(|c| c.to_string()).collect();
        let n = n.max(1);
        Frame::new(Source::Shuffled {
            input: Box::new(self.clone()),
            target: RowTarget::Hash { on, n },
            cuts: Cuts::None,
            n,
            sort: None,
        })
    }

    /// Rows of `self` joined to rows of `right` with equal `on` columns, planned by
    /// [`JoinStrategy::Auto`] with the default threshold.
    pub fn merge(&self, right: &Frame, on: &[&str], how: How) -> Frame {
        self.merge_with(right, on, how, MergeOptions::default())
    }

    /// A join on columns both sides name alike, planned as `options` say. Output columns:
    /// left's, then right's others (a name both sides use gets `options.suffix`).
    pub fn merge_with(&self, right: &Frame, on: &[&str], how: How, options: MergeOptions) -> Frame {
        self.merge_on_with(right, on, on, how, options)
    }

    /// Rows of `self` joined to rows of `right` where `left_on[i]` equals `right_on[i]` for
    /// every `i` (pandas' `left_on`/`right_on`): key columns of different names are both kept.
    /// Key types must meet (see the key table in `keys.rs`: ints of any width meet as int64,
    /// every string type as utf8): an int key joined to a string key is an error, not an empty
    /// result. [`How::Cross`] takes no keys.
    pub fn merge_on(&self, right: &Frame, left_on: &[&str], right_on: &[&str], how: How) -> Frame {
        self.merge_on_with(right, left_on, right_on, how, MergeOptions::default())
    }

    /// [`Frame::merge_on`], planned as `options` say.
    pub fn merge_on_with(
        &self,
        right: &Frame,
        left_on: &[&str],
        right_on: &[&str],
        how: How,
        options: MergeOptions,
    ) -> Frame {
        let names = |on: &[&str]| -> Vec<String> {
            if how == How::Cross {
                Vec::new()
            } else {
                on.iter().map(|c| c.to_string()).collect()
            }
        };
        let spec = JoinSpec { left_on: names(left_on), right_on: names(right_on), how, suffix: options.suffix.clone() };
        let index = |f: &Frame, on: &[String]| f.divisions.clone().filter(|d| on.len() == 1 && d.column == on[0]);
        let (left_index, right_index) = (index(self, &spec.left_on), index(right, &spec.right_on));
        let small_right = right.estimated_bytes().is_some_and(|b| b <= options.broadcast_threshold);
        let n = options.npartitions.unwrap_or(self.npartitions().max(right.npartitions()));
        let aligned = matches!((&left_index, &right_index), (Some(l), Some(r)) if l.cuts == r.cuts);
        let small_left = || self.estimated_bytes().is_some_and(|b| b <= options.broadcast_threshold);
        if options.strategy == JoinStrategy::Auto && how == How::Inner && !aligned && !small_right && small_left() {
            if let Some(swapped) = self.broadcast_left(right, &spec) {
                return swapped;
            }
        }
        let strategy = if how == How::Cross { JoinStrategy::Broadcast } else { options.strategy };
        let (left, right, plan) = match (strategy, left_index) {
            (JoinStrategy::Auto, ..) if aligned => (self.clone(), right.clone(), JoinPlan::Aligned),
            (JoinStrategy::Broadcast, ..) => (self.clone(), right.clone(), JoinPlan::Broadcast),
            (JoinStrategy::Auto, _) if small_right => (self.clone(), right.clone(), JoinPlan::Broadcast),
            (JoinStrategy::Auto, Some(l)) => {
                // Only the right side moves, into the left's ranges.
                let aligned =
                    right.range_shuffled(&spec.right_on[0], Cuts::Known(l.cuts.clone()), l.cuts.len() + 1, false);
                (self.clone(), aligned, JoinPlan::Aligned)
            }
            _ => {
                let shuffled =
                    |f: &Frame, on: &[String]| f.shuffle(&on.iter().map(String::as_str).collect::<Vec<_>>(), n);
                (shuffled(self, &spec.left_on), shuffled(right, &spec.right_on), JoinPlan::Hashed)
            }
        };
        // Partition i of an aligned join holds the left index's range i, right rows included.
        let divisions = match plan {
            JoinPlan::Aligned => left.divisions.clone(),
            JoinPlan::Broadcast if !how.keeps_right() => left.divisions.clone(),
            _ => None,
        };
        let source = Source::Join { left: Box::new(left), right: Box::new(right), spec, plan };
        Frame { divisions, ..Frame::new(source) }
    }

    /// An inner join that broadcasts a small *left* side: `right` joined to `self`, then its
    /// columns put back in `self.merge`'s order and names (left's, then right's output
    /// columns). `None` if a schema is unknown.
    fn broadcast_left(&self, right: &Frame, spec: &JoinSpec) -> Option<Frame> {
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
        let options = MergeOptions { strategy: JoinStrategy::Broadcast, ..MergeOptions::default() };
        let (lo, ro): (Vec<&str>, Vec<&str>) = (
            swapped_spec.left_on.iter().map(String::as_str).collect(),
            swapped_spec.right_on.iter().map(String::as_str).collect(),
        );
        let mut out =
            right.merge_on_with(self, &lo, &ro, How::Inner, MergeOptions { suffix: spec.suffix.clone(), ..options });
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

    fn with(mut self, op: PartitionOp) -> Frame {
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
    pub fn filter(&self, predicate: Expr) -> Frame {
        self.clone().with(PartitionOp::Filter(predicate))
    }

    /// Adds (or replaces) column `name`.
    pub fn with_column(&self, name: &str, value: Expr) -> Frame {
        self.clone().with(PartitionOp::WithColumn(name.to_owned(), value))
    }

    /// Applies the registered function `function` (a record batch in, a record batch out) to
    /// every partition, in every process that runs it: Dask's `map_partitions`. Its output
    /// schema is inferred by calling it on an empty batch (Dask's `meta`); a function that
    /// cannot take one should be given its schema with [`Frame::map_partitions_with_meta`].
    /// The function must keep rows in their partitions (divisions are kept).
    pub fn map_partitions(&self, function: &str) -> Frame {
        self.clone().with(PartitionOp::Map { function: function.to_owned(), meta: None })
    }

    /// [`Frame::map_partitions`] with the output schema given.
    pub fn map_partitions_with_meta(&self, function: &str, meta: SchemaRef) -> Frame {
        self.clone().with(PartitionOp::Map { function: function.to_owned(), meta: Some(meta) })
    }

    /// Columns renamed: `(old, new)` pairs; the others keep their names and places.
    pub fn rename(&self, pairs: &[(&str, &str)]) -> Frame {
        self.clone().with(PartitionOp::Rename(pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()))
    }

    /// The distinct rows of `columns` (SQL's `SELECT DISTINCT`), in one partition sorted by
    /// them (a tree reduction, as a group-by with no aggregates).
    pub fn distinct(&self, columns: &[&str]) -> Frame {
        self.groupby(columns).agg(&[])
    }

    pub fn select(&self, columns: &[&str]) -> Frame {
        self.clone().with(PartitionOp::Select(columns.iter().map(|c| c.to_string()).collect()))
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

    fn reduce(&self, column: &str, agg: Agg) -> Reduction {
        Reduction { frame: self.clone(), column: column.to_owned(), agg }
    }

    /// Rows grouped by the values of `keys`; aggregate with [`GroupBy::agg`].
    pub fn groupby(&self, keys: &[&str]) -> GroupBy {
        GroupBy {
            frame: self.clone(),
            keys: keys.iter().map(|k| k.to_string()).collect(),
            split_every: SPLIT_EVERY,
            split_out: 1,
        }
    }

    /// One row aggregating every numeric column (Dask's `df.sum()`, `df.mean()`, …), named
    /// `column_agg` as a group-by names them.
    pub fn agg(&self, agg: GroupAgg) -> Result<Frame, FrameError> {
        let schema = self.schema()?;
        let numeric: Vec<&str> =
            schema.fields().iter().filter(|f| f.data_type().is_numeric()).map(|f| f.name().as_str()).collect();
        let specs: Vec<(&str, GroupAgg)> = numeric.into_iter().map(|c| (c, agg)).collect();
        Ok(self.groupby(&[]).agg(&specs))
    }

    /// Partitions of about `bytes` each (in memory): large ones split into equal slices,
    /// small neighbours concatenated, order kept. The sizes are measured by computing the frame
    /// once (as Dask does), so persist it first if that is expensive.
    pub fn repartition_by_size(&self, bytes: u64, executor: &dyn Executor) -> Result<Frame, FrameError> {
        let each = |_, p| Task::call("frame_nbytes", [Task::key(p)]);
        let sizes = self.run_gathered("sizes", None, each, |sizes| sizes, executor)?;
        let sizes: Vec<u64> =
            sizes.as_seq().unwrap_or_default().iter().filter_map(Value::as_int).map(|s| s as u64).collect();
        let outputs = size_plan(&sizes, bytes.max(1));
        Ok(Frame::new(Source::Resized { input: Box::new(self.clone()), outputs }))
    }

    /// Rows in the frame: a per-partition count summed in a tree, reading no column it does
    /// not filter on.
    pub fn len(&self, executor: &dyn Executor) -> Result<usize, FrameError> {
        let each = |_, p| Task::call("frame_num_rows", [Task::key(p)]);
        let total = self.run_gathered("len", Some(Vec::new()), each, |counts| Task::call("sum", [counts]), executor)?;
        Ok(total.as_int().unwrap_or(0) as usize)
    }

    /// Writes every partition to `dir/part-NNNNN.parquet` (snappy), in parallel on the executor;
    /// returns the rows written. Reading the directory back gives the same partitions.
    pub fn to_parquet(&self, dir: impl AsRef<Path>, executor: &dyn Executor) -> Result<usize, FrameError> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir)
            .map_err(|e| FrameError::File { path: dir.display().to_string(), cause: e.to_string() })?;
        let write = |i: usize, p| {
            let path = dir.join(format!("part-{i:05}.parquet"));
            Task::call("frame_write_parquet", [Task::key(p), Task::from(Value::str(&path.to_string_lossy()))])
        };
        let rows = self.run_gathered("write", None, write, |rows| Task::call("sum", [rows]), executor)?;
        Ok(rows.as_int().unwrap_or(0) as usize)
    }

    /// Computes every partition once and returns a frame over the results, so later queries
    /// start from them instead of re-reading and re-filtering. In-process executors hand the
    /// batches back; a cluster keeps them on its workers (the returned frame holds them there
    /// while it lives, and runs only on that cluster's client).
    pub fn persist(&self, executor: &dyn Executor) -> Result<Frame, FrameError> {
        self.schema()?;
        let token = fresh_token("persist");
        let mut graph = Graph::new();
        let parts = self.lower(&mut graph, &token, None);
        let source = match executor.persist(&graph, &parts, &Registry::new())? {
            Persisted::Values(values) => {
                Source::Batches(values.iter().map(batch_result).collect::<Result<Vec<_>, _>>()?)
            }
            Persisted::Held { keys, hold } => Source::Held(Held { keys, schema: self.schema().ok(), _hold: hold }),
        };
        Ok(Frame { divisions: self.divisions.clone(), ..Frame::new(source) })
    }

    /// Every partition, concatenated into one batch.
    pub fn compute(&self, executor: &dyn Executor) -> Result<RecordBatch, FrameError> {
        // The whole plan is checked first (columns, types), so a mistake is reported in the
        // plan's words before anything runs.
        self.schema()?;
        let (graph, root) = self.graph();
        batch_result(&executor.get(&graph, &[root], &Registry::new())?[0])
    }

    /// The task graph of [`Frame::compute`] and its output key.
    pub fn graph(&self) -> (Graph, Key) {
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

    /// Runs [`Frame::gathered`]'s graph and returns the root's value.
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

    /// The first `n` rows, computing partitions in order only until there are enough.
    pub fn head(&self, n: usize, executor: &dyn Executor) -> Result<RecordBatch, FrameError> {
        if matches!(self.source, Source::Shuffled { sort: Some(_), cuts: Cuts::Sampled, .. }) && self.ops.is_empty() {
            // The first rows of a sort are a top-N: no full sort.
            return self.limit(n).compute(executor);
        }
        let total = self.npartitions();
        let mut take = 1usize.min(total);
        loop {
            let first = Frame::new(Source::Subset { input: Box::new(self.clone()), keep: (0..take).collect() });
            let batch = first.compute(executor)?;
            if batch.num_rows() >= n || take >= total {
                return Ok(batch.slice(0, n.min(batch.num_rows())));
            }
            take = (take * 2).min(total);
        }
    }

    /// `n - 1` cut points splitting `column`'s values into `n` ranges of about equal rows,
    /// from a sample of every partition.
    fn quantiles(&self, column: &str, n: usize, executor: &dyn Executor) -> Result<Vec<f64>, FrameError> {
        // Straight from Parquet files whose row groups carry statistics (nothing filtered or
        // changed on the way): quantiles of the row groups' ranges, without reading the data.
        if let Source::Parquet(files) = &self.source {
            if self.ops.iter().all(|op| matches!(op, PartitionOp::Select(c) if c.iter().any(|c| c == column))) {
                if let Some(ranges) = crate::kernels::column_ranges(files, column) {
                    return Ok(crate::sort::cuts_from_ranges(&ranges, n));
                }
            }
        }
        let token = fresh_token("quantiles");
        let mut graph = Graph::new();
        let parts = self.lower(&mut graph, &token, Some(vec![column.to_owned()]));
        let root = crate::lower::lower_quantiles(&mut graph, &token, &parts, column, n);
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
