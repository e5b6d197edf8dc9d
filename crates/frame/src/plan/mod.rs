//! A frame's plan, in the shape polars and DataFusion give theirs:
//!
//! ```text
//! Frame API ──builds──▶ logical plan ──optimize/ passes──▶ optimized logical plan
//!   ──planner (stages run here)──▶ physical plan ──lower──▶ task graph
//! ```
//!
//! - `logical.rs`: what the user asked (`Scan`, `Filter`, `Join`, `Aggregate`, `Sort`, …), pure
//!   data, built by the `Frame` API and nothing else.
//! - `optimize/`: passes, each a small module with plan-in/plan-out tests (limit, predicate,
//!   projection pushdown; join strategy with shuffle elimination).
//! - `planner.rs`: logical → physical; the data-dependent steps run here as stages.
//! - `physical.rs`: partition-level operators (a source and a chain of per-partition
//!   operations); `lower.rs` turns them into tasks, `meta.rs` knows their schema.

pub(crate) mod logical;
pub(crate) mod lower;
pub(crate) mod meta;
pub(crate) mod optimize;
pub(crate) mod physical;
pub(crate) mod planner;
