//! The lazy frame users build: every method adds a node to a logical plan (`plan/logical.rs`)
//! and nothing runs until an action (`compute`, `persist`, `len`, `to_parquet`, `head`, a
//! reduction's `compute`). An action optimizes the plan, plans it physically (running any
//! data-dependent stage on the executor it was given), lowers it to tasks and runs them.

use std::path::Path;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use rask_exec::Executor;
use rask_graph::{Graph, Key};

use crate::csv::{CsvOptions, TextFormat, TextSpec};
use crate::expr::Expr;
use crate::groupby::GroupAgg;
use crate::join::{How, JoinSpec};
use crate::kernels::Agg;
use crate::plan::logical::{JoinOptions, Logical, Scan, ScanSource};
use crate::plan::optimize::optimize;
pub use crate::plan::physical::Divisions;
use crate::plan::physical::{Physical, SPLIT_EVERY};
use crate::plan::planner::{self, RunStages};
use crate::reduce::{GroupBy, Reduction};
use crate::sort::SortKey;
use crate::sources::find;
use crate::FrameError;

/// How a join is executed, when the user has a say (see the join pass, `optimize/join.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinStrategy {
    /// Aligned on a shared index when both sides have one on the key; else broadcast the
    /// right side if it is at most `broadcast_threshold` bytes; else (inner joins) broadcast
    /// the left side if it is; else align the right side to the left's index; else
    /// hash-partition both (a side already hash-partitioned on its keys is not moved).
    Auto,
    Broadcast,
    /// Hash-partition both sides into the same number of partitions.
    Shuffle,
}

/// A join's options: [`Frame::merge_with`], [`Frame::merge_on_with`].
#[derive(Clone, Debug)]
pub struct MergeOptions {
    pub strategy: JoinStrategy,
    /// The largest side (estimated bytes: files on disk, batches in memory) `Auto`
    /// broadcasts.
    pub broadcast_threshold: u64,
    /// Partitions of a hash join (default: the larger side's).
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

/// A lazy, partitioned frame: a logical plan. Frames are values: every operation returns a
/// new frame and leaves this one as it is.
#[derive(Clone, Debug)]
pub struct Frame {
    pub(crate) plan: Arc<Logical>,
}

impl Frame {
    pub(crate) fn from_plan(plan: Logical) -> Frame {
        Frame { plan: Arc::new(plan) }
    }

    fn scan(source: ScanSource) -> Frame {
        Frame::from_plan(Logical::Scan(Scan { source, filters: Vec::new(), columns: None, divisions: None }))
    }

    fn then(&self, node: impl FnOnce(Arc<Logical>) -> Logical) -> Frame {
        Frame::from_plan(node(self.plan.clone()))
    }

    /// One partition per Parquet file: `path` is a file, a directory (its `*.parquet` files) or
    /// a glob whose last component holds the `*` (`data/facts/*.parquet`). A directory of
    /// hive partition folders (`year=1995/region=EU/*.parquet`) gives each folder level a
    /// column (int64 when every value is an integer, else utf8), and a filter on those columns
    /// skips the files it rules out before anything is read.
    pub fn read_parquet(path: impl AsRef<Path>) -> Result<Frame, FrameError> {
        if let Some((files, hive)) = crate::sources::find_hive(path.as_ref())? {
            let parts = files.into_iter().map(|f| (f, None)).collect();
            return Ok(Frame::scan(ScanSource::Parquet { parts, hive: Some(Arc::new(hive)) }));
        }
        let files = find(path.as_ref(), ".parquet")?;
        Ok(Frame::scan(ScanSource::Parquet { parts: files.into_iter().map(|f| (f, None)).collect(), hive: None }))
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
        Ok(Frame::scan(ScanSource::Parquet { parts, hive: None }))
    }

    /// CSV files (a file, a directory's `*.csv`, or a glob) in partitions of about `blocksize`
    /// bytes; the header names the columns and the first 1000 rows set their types.
    pub fn read_csv(path: impl AsRef<Path>, blocksize: u64) -> Result<Frame, FrameError> {
        Frame::read_csv_with(path, &CsvOptions { blocksize, ..CsvOptions::default() })
    }

    /// CSV files read as `options` say: delimiter, header, declared column types (dates
    /// included), partition size.
    pub fn read_csv_with(path: impl AsRef<Path>, options: &CsvOptions) -> Result<Frame, FrameError> {
        let files = find(path.as_ref(), ".csv")?;
        let columns = crate::csv::infer_csv(&files[0].to_string_lossy(), options)?;
        let format = TextFormat::Csv { delimiter: options.delimiter, header: options.header };
        Frame::text(files, TextSpec { format, columns }, options.blocksize)
    }

    /// Newline-delimited JSON files (a file, a directory's `*.json`/`*.jsonl`, or a glob), one
    /// object per line, in partitions of about `blocksize` bytes; the first 1000 lines of the
    /// first file set the columns and their types.
    pub fn read_json(path: impl AsRef<Path>, blocksize: u64) -> Result<Frame, FrameError> {
        let files = find(path.as_ref(), ".json").or_else(|_| find(path.as_ref(), ".jsonl"))?;
        let columns = crate::csv::infer_json(&files[0].to_string_lossy())?;
        Frame::text(files, TextSpec { format: TextFormat::Json, columns }, blocksize)
    }

    /// Files split into byte ranges of about `blocksize`, each line in exactly one.
    fn text(files: Vec<std::path::PathBuf>, spec: TextSpec, blocksize: u64) -> Result<Frame, FrameError> {
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
        Ok(Frame::scan(ScanSource::Csv { ranges, spec }))
    }

    /// A frame over batches in memory, one partition each.
    pub fn from_batches(batches: Vec<RecordBatch>) -> Frame {
        Frame::scan(ScanSource::Batches(batches))
    }

    /// The rows of every frame, in order, their partitions side by side (pandas' `concat`).
    /// The frames must have the same columns, of the same types.
    pub fn concat(frames: &[Frame]) -> Frame {
        Frame::from_plan(Logical::Union { inputs: frames.iter().map(|f| f.plan.clone()).collect() })
    }

    /// Partitions, as planned without running anything (a `repartition_by_size` counts its
    /// input's until its stage runs).
    pub fn npartitions(&self) -> usize {
        self.unstaged().npartitions()
    }

    /// The sorted index and its partition boundaries, when the plan has one (after
    /// [`Frame::set_index`]): computing them runs the plan's stages on `executor`.
    pub fn divisions(&self, executor: &dyn Executor) -> Result<Option<Divisions>, FrameError> {
        Ok(self.physical(executor)?.divisions)
    }

    /// The same rows in `n` partitions (at least one): fewer by concatenating neighbours, more
    /// by splitting each partition into equal slices. Order is kept, and so are divisions when
    /// partitions are only concatenated.
    pub fn repartition(&self, n: usize) -> Frame {
        self.then(|input| Logical::Repartition { input, n: n.max(1) })
    }

    /// Partitions of about `bytes` each (in memory): large ones split into equal slices,
    /// small neighbours concatenated, order kept. The sizes are measured by a stage that
    /// computes the input once (as Dask does), so persist it first if that is expensive.
    pub fn repartition_by_size(&self, bytes: u64) -> Frame {
        self.then(|input| Logical::RepartitionBySize { input, bytes })
    }

    /// Rows in ascending order of `column` (numbers, dates or strings; nulls last).
    pub fn sort_values(&self, column: &str) -> Frame {
        self.sort_by(&[SortKey::asc(column)])
    }

    /// Rows ordered by several keys, each ascending or descending, nulls first or last: rows
    /// move to ranges of the first key (sampled quantiles, inside the graph), then each range
    /// is sorted by all the keys.
    pub fn sort_by(&self, keys: &[SortKey]) -> Frame {
        if keys.is_empty() {
            return self.clone();
        }
        self.then(|input| Logical::Sort { input, keys: keys.to_vec() })
    }

    /// The first `n` rows by `keys`, without sorting everything: each partition keeps its own
    /// top `n`, and the tops merge in a tree. One partition.
    pub fn top_n(&self, keys: &[SortKey], n: usize) -> Frame {
        self.then(|input| Logical::TopN { input, keys: keys.to_vec(), n })
    }

    /// The `n` rows with the largest `column` (pandas' `nlargest`).
    pub fn nlargest(&self, n: usize, column: &str) -> Frame {
        self.top_n(&[SortKey::desc(column)], n)
    }

    /// The `n` rows with the smallest `column`.
    pub fn nsmallest(&self, n: usize, column: &str) -> Frame {
        self.top_n(&[SortKey::asc(column)], n)
    }

    /// The first `n` rows, in one partition. After a sort it is a top-N (the optimizer's
    /// limit pass): no full sort.
    pub fn limit(&self, n: usize) -> Frame {
        self.then(|input| Logical::Limit { input, n })
    }

    /// Rows sorted by `column` into partitions with known boundaries. The boundaries are
    /// computed by a stage when the frame is computed (approximate quantiles: of the row
    /// groups' statistics when the column comes straight from Parquet files, else of a sample
    /// of every partition, reading only `column`). With known divisions, [`Frame::loc`] reads
    /// only the partitions a range touches and joins on `column` need no shuffle. Numeric
    /// columns only.
    pub fn set_index(&self, column: &str) -> Result<Frame, FrameError> {
        let schema = self.schema()?;
        let field = schema.field_with_name(column).map_err(|_| FrameError::missing(column, &schema))?;
        if !field.data_type().is_numeric() {
            return Err(FrameError::Type(format!(
                "set_index({column:?}): the column is {}, and divisions are numbers (sort_values sorts strings)",
                field.data_type()
            )));
        }
        Ok(self.then(|input| Logical::SetIndex { input, column: column.to_owned() }))
    }

    /// Rows whose index lies in `[lo, hi]` (pandas' label slicing: both ends included). With
    /// known divisions, partitions outside the range are never read.
    pub fn loc(&self, lo: f64, hi: f64) -> Result<Frame, FrameError> {
        let Some(column) = self.plan.index() else {
            return Err(FrameError::Type("loc needs an index with known divisions: call set_index first".into()));
        };
        Ok(self.then(|input| Logical::Loc { input, column, lo, hi }))
    }

    /// Rows in `n` partitions by a hash of `on`: equal keys end up in the same partition. The
    /// exchange runs in stages of at most 32 partitions each (see `shuffle.rs`).
    pub fn shuffle(&self, on: &[&str], n: usize) -> Frame {
        self.then(|input| Logical::Shuffle { input, on: strings(on), n: n.max(1) })
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
    /// Key types must meet (ints of any width meet as int64, every string type as utf8): an
    /// int key joined to a string key is an error, not an empty result. [`How::Cross`] takes
    /// no keys.
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
        let keys = |on: &[&str]| if how == How::Cross { Vec::new() } else { strings(on) };
        let spec = JoinSpec { left_on: keys(left_on), right_on: keys(right_on), how, suffix: options.suffix.clone() };
        let options = JoinOptions {
            strategy: options.strategy,
            broadcast_threshold: options.broadcast_threshold,
            npartitions: options.npartitions,
        };
        Frame::from_plan(Logical::Join {
            left: self.plan.clone(),
            right: right.plan.clone(),
            spec,
            options,
            method: None,
        })
    }

    /// Rows where `predicate` is true (nulls count as false).
    pub fn filter(&self, predicate: Expr) -> Frame {
        self.then(|input| Logical::Filter { input, predicate })
    }

    /// Adds (or replaces) column `name`.
    pub fn with_column(&self, name: &str, value: Expr) -> Frame {
        self.then(|input| Logical::WithColumn { input, name: name.to_owned(), value })
    }

    /// Applies the registered function `function` (a record batch in, a record batch out) to
    /// every partition, in every process that runs it: Dask's `map_partitions`. Its output
    /// schema is inferred by calling it on an empty batch (Dask's `meta`); a function that
    /// cannot take one should be given its schema with [`Frame::map_partitions_with_meta`].
    /// The function must keep rows in their partitions (divisions are kept).
    pub fn map_partitions(&self, function: &str) -> Frame {
        self.then(|input| Logical::MapPartitions { input, function: function.to_owned(), meta: None })
    }

    /// [`Frame::map_partitions`] with the output schema given.
    pub fn map_partitions_with_meta(&self, function: &str, meta: SchemaRef) -> Frame {
        self.then(|input| Logical::MapPartitions { input, function: function.to_owned(), meta: Some(meta) })
    }

    /// Columns renamed: `(old, new)` pairs; the others keep their names and places.
    pub fn rename(&self, pairs: &[(&str, &str)]) -> Frame {
        let pairs = pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        self.then(|input| Logical::Rename { input, pairs })
    }

    /// The distinct rows of `columns` (SQL's `SELECT DISTINCT`), in one partition sorted by
    /// them (a tree reduction, as a group-by with no aggregates).
    pub fn distinct(&self, columns: &[&str]) -> Frame {
        self.groupby(columns).agg(&[])
    }

    /// Rows per distinct value of `column`, most frequent first (pandas' `value_counts`):
    /// columns `column` and `count`; nulls are a value of their own.
    pub fn value_counts(&self, column: &str) -> Frame {
        self.groupby(&[column])
            .aggregate(&[("count", crate::lit(1), GroupAgg::Size)])
            .sort_by(&[SortKey::desc("count"), SortKey::asc(column)])
    }

    /// The first row of each distinct combination of `subset` (every column when empty):
    /// pandas' `drop_duplicates(keep="first")`, in one partition sorted by `subset`.
    pub fn drop_duplicates(&self, subset: &[&str]) -> Result<Frame, FrameError> {
        let schema = self.schema()?;
        let all: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        if subset.is_empty() || all.iter().all(|c| subset.contains(c)) {
            return Ok(self.distinct(&all).select(&all));
        }
        let others: Vec<(&str, Expr, GroupAgg)> =
            all.iter().filter(|c| !subset.contains(c)).map(|c| (*c, crate::col(c), GroupAgg::FirstRow)).collect();
        Ok(self.groupby(subset).aggregate(&others).select(&all))
    }

    /// Rows without a null in `subset` (in any column when empty): pandas' `dropna`.
    pub fn dropna(&self, subset: &[&str]) -> Result<Frame, FrameError> {
        let schema = self.schema()?;
        let columns: Vec<&str> = if subset.is_empty() {
            schema.fields().iter().map(|f| f.name().as_str()).collect()
        } else {
            subset.to_vec()
        };
        let present = columns.iter().map(|c| crate::col(c).is_not_null()).reduce(Expr::and);
        Ok(match present {
            Some(p) => self.filter(p),
            None => self.clone(),
        })
    }

    /// `value` where `columns` are null: pandas' `fillna`.
    pub fn fillna(&self, columns: &[&str], value: Expr) -> Frame {
        columns.iter().fold(self.clone(), |f, c| f.with_column(c, crate::col(c).fill_null(value.clone())))
    }

    /// Every column but `columns` (each must exist).
    pub fn drop(&self, columns: &[&str]) -> Result<Frame, FrameError> {
        let schema = self.schema()?;
        for c in columns {
            schema.index_of(c).map_err(|_| FrameError::missing(c, &schema))?;
        }
        let kept: Vec<&str> =
            schema.fields().iter().map(|f| f.name().as_str()).filter(|n| !columns.contains(n)).collect();
        Ok(self.select(&kept))
    }

    /// Summary statistics of every numeric column, as pandas' `describe`: a `statistic` column
    /// (count, mean, std, min, 25%, 50%, 75%, max) and a float64 column per numeric column.
    pub fn describe(&self, executor: &dyn Executor) -> Result<RecordBatch, FrameError> {
        crate::describe::describe(self, executor)
    }

    pub fn select(&self, columns: &[&str]) -> Frame {
        self.then(|input| Logical::Select { input, columns: strings(columns) })
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

    /// Rows grouped by the values of `keys`; aggregate with [`GroupBy::agg`] or
    /// [`GroupBy::aggregate`].
    pub fn groupby(&self, keys: &[&str]) -> GroupBy {
        GroupBy { frame: self.clone(), keys: strings(keys), split_every: SPLIT_EVERY, split_out: 1 }
    }

    /// Rows grouped by the values of expressions, each named: `groupby_exprs(&[("year",
    /// col("o_orderdate").year())])` groups by the year of a date (the key column is named
    /// `year` in the output).
    pub fn groupby_exprs(&self, keys: &[(&str, Expr)]) -> GroupBy {
        let with_keys = keys.iter().fold(self.clone(), |f, (name, e)| f.with_column(name, e.clone()));
        let names: Vec<&str> = keys.iter().map(|(n, _)| *n).collect();
        with_keys.groupby(&names)
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

    /// The schema every partition has, known without computing: from file metadata and the
    /// operations. A missing column or a type error in an expression shows up here, before
    /// anything runs. A mapped function without a given `meta` is called on an empty batch.
    pub fn schema(&self) -> Result<SchemaRef, FrameError> {
        self.unstaged().schema()
    }

    /// The physical plan without running anything (no stages).
    fn unstaged(&self) -> Physical {
        planner::unstaged(&optimize(&self.plan))
    }

    /// The physical plan, its stages run on `executor`, after checking the whole plan.
    pub(crate) fn physical(&self, executor: &dyn Executor) -> Result<Physical, FrameError> {
        let optimized = optimize(&self.plan);
        // The whole plan is checked first (columns, types), so a mistake is reported in the
        // plan's words before anything runs.
        planner::unstaged(&optimized).schema()?;
        planner::physical(&optimized, &RunStages(executor))
    }

    /// Rows in the frame: a per-partition count summed in a tree, reading no column it does
    /// not filter on.
    pub fn len(&self, executor: &dyn Executor) -> Result<usize, FrameError> {
        self.physical(executor)?.len(executor)
    }

    /// Writes every partition to `dir/part-NNNNN.csv` (a header row each), in parallel on the
    /// executor; returns the rows written.
    pub fn to_csv(&self, dir: impl AsRef<Path>, executor: &dyn Executor) -> Result<usize, FrameError> {
        self.physical(executor)?.to_files(dir.as_ref(), "csv", executor)
    }

    /// Writes every partition to `dir/part-NNNNN.parquet` (snappy), in parallel on the executor;
    /// returns the rows written. Reading the directory back gives the same partitions.
    pub fn to_parquet(&self, dir: impl AsRef<Path>, executor: &dyn Executor) -> Result<usize, FrameError> {
        self.physical(executor)?.to_files(dir.as_ref(), "parquet", executor)
    }

    /// Computes every partition once and returns a frame over the results, so later queries
    /// start from them instead of re-reading and re-filtering. In-process executors hand the
    /// batches back; a cluster keeps them on its workers (the returned frame holds them there
    /// while it lives, and runs only on that cluster's client).
    pub fn persist(&self, executor: &dyn Executor) -> Result<Frame, FrameError> {
        let (source, divisions) = self.physical(executor)?.persist(executor)?;
        Ok(Frame::from_plan(Logical::Scan(Scan { source, filters: Vec::new(), columns: None, divisions })))
    }

    /// Every partition, concatenated into one batch.
    pub fn compute(&self, executor: &dyn Executor) -> Result<RecordBatch, FrameError> {
        self.physical(executor)?.compute(executor)
    }

    /// The task graph of [`Frame::compute`] and its output key (planned without stages: a
    /// `set_index` samples its divisions inside the graph).
    pub fn graph(&self) -> (Graph, Key) {
        self.unstaged().graph()
    }

    /// The first `n` rows, computing partitions in order only until there are enough (after a
    /// sort, a top-N).
    pub fn head(&self, n: usize, executor: &dyn Executor) -> Result<RecordBatch, FrameError> {
        if matches!(*self.plan, Logical::Sort { .. }) {
            return self.limit(n).compute(executor);
        }
        let total = self.physical(executor)?.npartitions();
        let mut take = 1usize.min(total);
        loop {
            let first = self.then(|input| Logical::Partitions { input, keep: (0..take).collect() });
            let batch = first.compute(executor)?;
            if batch.num_rows() >= n || take >= total {
                return Ok(batch.slice(0, n.min(batch.num_rows())));
            }
            take = (take * 2).min(total);
        }
    }

    /// The plan, readably: the logical plan as built, as optimized, and the physical plan
    /// (sources with their partition counts, columns read, operations, join methods) with the
    /// size of the graph `compute` runs. Data-dependent stages are shown, not run.
    pub fn explain(&self) -> String {
        let optimized = optimize(&self.plan);
        let mut out = String::from("logical plan:\n");
        self.plan.tree(1, &mut out);
        out.push_str("optimized plan:\n");
        optimized.tree(1, &mut out);
        out.push_str("physical plan:\n");
        out.push_str(&planner::unstaged(&optimized).explain());
        out
    }

    /// [`Frame::explain`]'s physical plan with its stages run on `executor` (known divisions,
    /// measured partition sizes): the plan `compute` would run.
    pub fn explain_staged(&self, executor: &dyn Executor) -> Result<String, FrameError> {
        Ok(format!("physical plan:\n{}", self.physical(executor)?.explain()))
    }
}

fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|c| c.to_string()).collect()
}
