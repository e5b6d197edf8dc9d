//! `rask-frame`: a lazy dataframe of Arrow record batches (partitions) that lowers to task
//! graphs, like Dask DataFrame over pandas.
//!
//! What it is: [`Frame`] — sources (`read_parquet`, `read_csv`, `from_batches`), per-partition
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
//! `merge` joins (inner, left, right, outer) by broadcasting the smaller side to every
//! partition of the larger one.
//!
//! `sort_values(column)` sorts globally: sampled quantiles set the output partitions'
//! boundaries and rows move to their partition in one graph.
//!
//! `read_csv(path, blocksize)` reads byte ranges, each line in exactly one partition.
//!
//! What it is not (yet): hash-shuffle joins, index/divisions, shuffles,
//! `split_out`; those are the next steps of the dataframe issue.
//!
//! Main types: [`Frame`], [`Expr`] (built with [`col`] and [`lit`]), [`FrameError`].

pub mod batch;
mod csv;
pub mod demo;
mod expr;
mod frame;
mod groupby;
mod join;
mod kernels;
mod sort;
#[cfg(test)]
mod tests;

pub use expr::{col, lit, Expr, Lit, Op, Type};
pub use frame::{Frame, GroupBy, GroupedFrame, Reduction};
pub use groupby::{AggSpec, GroupAgg};
pub use join::How;
pub use kernels::{Agg, PartitionOp};

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
