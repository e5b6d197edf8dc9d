//! `rask-frame`: a lazy dataframe of Arrow record batches (partitions) that lowers to task
//! graphs, like Dask DataFrame over pandas.
//!
//! What it is: [`Frame`] — sources (`read_parquet` a partition per file or, with
//! `read_parquet_row_groups`, per row group; `read_csv`; `from_batches`), per-partition
//! operations (`filter`, `with_column`, `select`, `map_partitions`), `repartition`, reductions
//! (`sum`, `mean`, `count`, `min`, `max` as tree reductions), `head`, `persist`, `compute`,
//! `to_parquet` — with an [`Expr`] type that serializes, so an operation
//! travels to any executor and is evaluated there with Arrow's compute kernels. The plan is
//! kept separate from execution (as in polars): operations accumulate in the plan, projection
//! pushdown happens when it lowers, and each partition's chain of operations becomes one task.
//! Record batches are task values through `rask_graph::ext` ([`batch`]).
//!
//! Group-by (`groupby(keys).agg(...)`: count, sum, mean, min, max, first, last, several at
//! once) is a tree reduction of partial states, `split_every` at a time.
//!
//! `merge` joins (inner, left, right, outer) with the cheapest plan it can prove right: aligned
//! partition by partition on a shared sorted index, broadcasting a small right side (a size
//! threshold in [`MergeOptions`]), moving only the right side into the left index's ranges, or
//! hash-shuffling both sides.
//!
//! Moving rows: `shuffle(on, n)` (hash), `sort_values(column)` (numbers or strings; ranges from sampled
//! quantiles, inside the graph) and `set_index(column)` (ranges computed first, so the frame
//! has known [`Divisions`]: `loc` prunes partitions, joins on the index need no shuffle). All
//! three use the staged exchange of `shuffle.rs`, which never builds an `n²` graph.
//!
//! `read_csv(path, blocksize)` reads byte ranges, each line in exactly one partition.
//! `schema()` is known before anything runs (Dask's `meta`), from file metadata and kernels
//! run on empty batches.
//!
//! Main types: [`Frame`], [`Expr`] (built with [`col`] and [`lit`]), [`FrameError`].

pub mod batch;
mod csv;
pub mod demo;
mod describe;
mod expr;
mod frame;
mod groupby;
mod join;
mod kernels;
mod keys;
mod plan;
mod quantile;
mod reduce;
mod shuffle;
mod sort;
mod sources;
#[cfg(test)]
mod tests;

pub use csv::CsvOptions;
pub use expr::{
    coalesce, col, concat_str, date, days, days_from_ymd, decimal, lit, months, when, years, DateFn, DateUnit, Expr,
    Lit, MathFn, Op, StrFn, Then, TimeUnit, Type, When,
};
pub use frame::{Divisions, Frame, JoinStrategy, MergeOptions};
pub use groupby::{AggSpec, GroupAgg};
pub use join::How;
pub use kernels::{Agg, PartitionOp};
pub use reduce::{GroupBy, Reduction};
pub use sort::SortKey;

/// Why a frame operation failed: names the column or file involved.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("no column {column:?} (columns: {})", available.join(", "))]
    MissingColumn { column: String, available: Vec<String> },
    #[error("type error: {0}")]
    Type(String),
    #[error("{path}: {cause}")]
    File { path: String, cause: String },
    #[error("arrow: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    #[error(transparent)]
    Exec(#[from] rask_exec::ExecError),
}

impl FrameError {
    /// `column` is not in `schema`.
    pub(crate) fn missing(column: &str, schema: &arrow_schema::Schema) -> FrameError {
        FrameError::MissingColumn {
            column: column.to_owned(),
            available: schema.fields().iter().map(|f| f.name().clone()).collect(),
        }
    }

    /// The Python exception name a task failure carries.
    pub fn kind(&self) -> &'static str {
        match self {
            FrameError::MissingColumn { .. } => "KeyError",
            FrameError::Type(_) => "TypeError",
            FrameError::File { .. } => "OSError",
            FrameError::Arrow(_) => "ArrowError",
            FrameError::Exec(_) => "ExecError",
        }
    }
}

/// The column `name` of `batch`, or an error listing the columns there are.
pub(crate) fn column(batch: &arrow_array::RecordBatch, name: &str) -> Result<arrow_array::ArrayRef, FrameError> {
    batch.column_by_name(name).cloned().ok_or_else(|| FrameError::missing(name, &batch.schema()))
}
