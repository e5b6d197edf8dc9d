//! Optimizer passes: each rewrites a logical plan into an equivalent one that does less
//! work, and each is its own module with its own plan-in/plan-out tests.
//!
//! | pass          | what it does |
//! |---------------|--------------|
//! | `limit`       | `Limit` over `Sort` becomes `TopN`; limits move below one-to-one maps |
//! | `predicate`   | filters move towards the scans (through maps, renames, sorts, shuffles, group keys, into either side of a join) and into the scans, which prune row groups by them |
//! | `projection`  | each scan reads only the columns the plan uses; columns nobody reads are not computed |
//! | `join`        | each join gets its method: aligned on an index, broadcast either side, or hash — skipping the shuffle of a side already hash-partitioned on its keys |

mod join;
mod limit;
mod predicate;
mod projection;

use std::sync::Arc;

use arrow_schema::SchemaRef;

use super::logical::Logical;

/// All passes, in order.
pub(crate) fn optimize(plan: &Arc<Logical>) -> Arc<Logical> {
    let plan = limit::pass(plan);
    let plan = predicate::pass(&plan);
    let plan = projection::pass(&plan);
    join::pass(&plan)
}

/// A subtree's output schema (planned without running anything), for passes that must know
/// which side of a join a column comes from.
fn schema(plan: &Arc<Logical>) -> Option<SchemaRef> {
    super::planner::unstaged(plan).schema().ok()
}

fn names(schema: &SchemaRef) -> Vec<String> {
    schema.fields().iter().map(|f| f.name().clone()).collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
    use arrow_schema::{DataType, Field, Schema};

    use crate::plan::logical::{Logical, Scan, ScanSource};

    /// A scan of one batch with int64 columns `a`, `b` and a string column `s`.
    pub fn scan() -> Arc<Logical> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int64, true),
            Field::new("b", DataType::Int64, true),
            Field::new("s", DataType::Utf8, true),
        ]));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(vec![1, 2])),
            Arc::new(Int64Array::from(vec![3, 4])),
            Arc::new(StringArray::from(vec!["x", "y"])),
        ];
        let batch = RecordBatch::try_new(schema, columns).unwrap();
        Arc::new(Logical::Scan(Scan {
            source: ScanSource::Batches(vec![batch]),
            filters: Vec::new(),
            columns: None,
            divisions: None,
        }))
    }

    /// The plan's tree, as `explain` prints it.
    pub fn tree(plan: &Logical) -> String {
        let mut out = String::new();
        plan.tree(0, &mut out);
        out
    }
}
