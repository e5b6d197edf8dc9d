//! The 22 TPC-H queries with the `Frame` API, each with the specification's validation
//! parameters (Q1 DELTA 90 days; Q2 SIZE 15, TYPE BRASS, REGION EUROPE; Q3 BUILDING
//! 1995-03-15; … Q22 country codes 13, 31, 23, 29, 30, 18, 17).
//!
//! How SQL maps to frames here: a join is `merge_on` (`How::Semi` for `EXISTS`/`IN`,
//! `How::Anti` for `NOT EXISTS`/`NOT IN`); `GROUP BY … SUM(expr)` is
//! `groupby(..).aggregate(&[(name, expr, Sum)])`; a scalar subquery is a one-row aggregate
//! crossed with the rows it filters (`How::Cross`); `ORDER BY … LIMIT n` is
//! `sort_by(..).limit(n)`, a top-N that never sorts every row. Filters come before joins, as
//! an optimizer would push them.

mod a;
mod b;

use rask_frame::{col, lit, Expr, Frame, FrameError, SortKey};

pub use a::{q01, q02, q03, q04, q05, q06, q07, q08, q09, q10, q11};
pub use b::{q12, q13, q14, q15, q16, q17, q18, q19, q20, q21, q22};

use crate::Tables;

/// A query's builder.
pub type Query = fn(&Tables) -> Result<Frame, FrameError>;

/// Queries 1 to 22, in order.
pub const ALL: [Query; 22] =
    [q01, q02, q03, q04, q05, q06, q07, q08, q09, q10, q11, q12, q13, q14, q15, q16, q17, q18, q19, q20, q21, q22];

/// `l_extendedprice * (1 - l_discount)`: the revenue of a line.
fn revenue() -> Expr {
    col("l_extendedprice").mul(lit(1).sub(col("l_discount")))
}

fn asc(column: &str) -> SortKey {
    SortKey::asc(column)
}

fn desc(column: &str) -> SortKey {
    SortKey::desc(column)
}
