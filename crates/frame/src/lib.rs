//! `rask-frame`: a lazy dataframe of Arrow record batches (partitions) that lowers to task
//! graphs, like Dask DataFrame over pandas — for real data: decimals, dates, strings, nulls.
//!
//! What it is: [`Frame`], a logical plan built by its methods and run by an action
//! (`compute`, `persist`, `len`, `to_parquet`, `to_csv`, `head`) on any executor. Between the
//! two sit the optimizer's passes (limit, predicate and projection pushdown, join methods),
//! a planner that runs data-dependent stages (a `set_index`'s divisions) on the executor, and
//! lowering to one task per partition (`plan/`). `explain()` shows all three plans.
//!
//! - Sources: Parquet (files, row groups, hive `key=value/` folders), CSV ([`CsvOptions`]),
//!   newline-delimited JSON, batches in memory, `concat`.
//! - Expressions ([`Expr`], built with [`col`], [`lit`], [`when`], [`date`], [`decimal`]):
//!   arithmetic (exact on decimals), comparisons, strings (`like`, regex, `substring`, …),
//!   dates (intervals, parts, truncation), `is_in`, `between`, `coalesce`, casts.
//! - Operations: `filter`, `with_column`, `select`, `rename`, `drop`, `map_partitions` of a
//!   registered function; joins on differently named keys of any kind ([`How`]: inner, left,
//!   right, outer, semi, anti, cross); `sort_by` several keys ([`SortKey`]), `top_n`,
//!   `limit`; `groupby(..).agg/aggregate/nunique` ([`GroupAgg`]: sums, means, std, median,
//!   quantiles, …) as tree reductions; `distinct`, `drop_duplicates`, `value_counts`,
//!   `dropna`, `fillna`, `describe`; `shuffle`, `set_index` + `loc`, `repartition`.
//! - Keys of any Arrow type group, join and sort (`keys.rs`); mismatched join keys are an
//!   error, never an empty result. The whole plan is checked before anything runs.
//!
//! What it is not: a SQL engine, or a single-machine dataframe — partitions are tasks, and
//! record batches cross processes and machines as task values ([`batch`]).
//!
//! Main types: [`Frame`], [`Expr`], [`GroupBy`], [`FrameError`].

pub mod batch;
mod csv;
pub mod demo;
mod describe;
mod expr;
mod frame;
mod groupby;
mod image;
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
