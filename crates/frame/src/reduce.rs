//! The reductions users get from a frame: [`GroupBy`] (keys, then `agg`) and [`Reduction`]
//! (one column, one aggregate). Both lower to tree reductions (`lower.rs`).

use rask_exec::Executor;
use rask_graph::{Expr as Task, Graph, Key, Registry, Value};

use crate::expr::Expr;
use crate::frame::Frame;
use crate::groupby::{AggSpec, GroupAgg, GroupSpec};
use crate::kernels::Agg;
use crate::plan::logical::Logical;
use crate::plan::physical::{fresh_token, Physical, SPLIT_EVERY};
use crate::FrameError;

/// A reduction of one column, computed on demand.
#[derive(Clone, Debug)]
pub struct Reduction {
    pub(crate) frame: Frame,
    pub(crate) column: String,
    pub(crate) agg: Agg,
}

/// A grouped frame: `agg` lists output columns.
#[derive(Clone, Debug)]
pub struct GroupBy {
    pub(crate) frame: Frame,
    pub(crate) keys: Vec<String>,
    pub(crate) split_every: usize,
    pub(crate) split_out: usize,
}

impl GroupBy {
    /// Partials merged per task (Dask's `split_every`; at least 2).
    pub fn split_every(mut self, n: usize) -> GroupBy {
        self.split_every = n.max(2);
        self
    }

    /// Output partitions (Dask's `split_out`): for many groups, each partition's partial is
    /// hash-split by key and every output merges only its share, so no task holds all groups.
    pub fn split_out(mut self, n: usize) -> GroupBy {
        self.split_out = n.max(1);
        self
    }

    /// One row per group: the key columns, then `(column, agg)` for each spec, named
    /// `column_agg` (`x_sum`). With one output partition the groups are sorted by key (null
    /// keys last); with `split_out`, each partition holds a hash range of keys, unsorted.
    pub fn agg(&self, specs: &[(&str, GroupAgg)]) -> Frame {
        let aggs = specs
            .iter()
            .map(|(c, a)| AggSpec {
                column: c.to_string(),
                agg: *a,
                name: format!("{c}_{}", format!("{a:?}").to_lowercase()),
            })
            .collect();
        Frame::from_plan(Logical::Aggregate {
            input: self.frame.plan.clone(),
            spec: GroupSpec { keys: self.keys.clone(), aggs, sorted: self.split_out == 1 },
            split_every: self.split_every,
            split_out: self.split_out,
        })
    }
}

impl GroupBy {
    /// One row per group: the key columns, then each `(name, value, agg)`: `agg` of an
    /// expression over the group's rows (`("revenue", col("p").mul(lit(1).sub(col("d"))),
    /// Sum)`; count rows with `lit(1)` and `Count`).
    pub fn aggregate(&self, outputs: &[(&str, Expr, GroupAgg)]) -> Frame {
        let mut frame = self.frame.clone();
        let mut aggs = Vec::new();
        for (i, (name, value, agg)) in outputs.iter().enumerate() {
            let column = match value {
                Expr::Col(c) => c.clone(),
                e => {
                    let temp = format!("\u{1f}agg{i}");
                    frame = frame.with_column(&temp, e.clone());
                    temp
                }
            };
            aggs.push(AggSpec { column, agg: *agg, name: name.to_string() });
        }
        Frame::from_plan(Logical::Aggregate {
            input: frame.plan.clone(),
            spec: GroupSpec { keys: self.keys.clone(), aggs, sorted: self.split_out == 1 },
            split_every: self.split_every,
            split_out: self.split_out,
        })
    }

    /// Distinct values of `column` per group (exact: the distinct `(keys, column)` rows,
    /// counted), named `name`.
    pub fn nunique(&self, column: &str, name: &str) -> Frame {
        let mut both: Vec<&str> = self.keys.iter().map(String::as_str).collect();
        both.push(column);
        let keys: Vec<&str> = self.keys.iter().map(String::as_str).collect();
        // With split_out, rows move once to their keys' partitions, and both steps below run
        // in place there (no partial of mostly distinct rows, no second exchange).
        let input = if self.split_out > 1 { self.frame.shuffle(&keys, self.split_out) } else { self.frame.clone() };
        let distinct =
            GroupBy { frame: input, keys: both.iter().map(|k| k.to_string()).collect(), ..self.clone() }.agg(&[]);
        GroupBy { frame: distinct, keys: self.keys.clone(), ..self.clone() }
            .aggregate(&[(name, crate::col(column), GroupAgg::Count)])
            .select(&keys.iter().copied().chain([name]).collect::<Vec<_>>())
    }
}

impl Reduction {
    /// The graph: a partial aggregate per partition, combined `SPLIT_EVERY` at a time.
    pub fn graph(&self) -> (Graph, Key) {
        self.graph_of(&crate::plan::planner::unstaged(&crate::plan::optimize::optimize(&self.frame.plan)))
    }

    fn graph_of(&self, physical: &Physical) -> (Graph, Key) {
        let token = fresh_token("reduce");
        let mut graph = Graph::new();
        let parts = physical.lower(&mut graph, &token, Some(vec![self.column.clone()]));
        let column = Task::from(Value::str(&self.column));
        let top = rask_graph::workloads::tree_reduce(
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
        graph.insert(root.clone(), Task::call("frame_finish", [top, Task::from(crate::kernels::encode(&self.agg))]));
        (graph, root)
    }

    pub fn compute(&self, executor: &dyn Executor) -> Result<Value, FrameError> {
        // Not checked as a whole first: a frame with no partitions (no schema) still sums
        // to 0, and the reduction's own column is checked when it runs.
        let optimized = crate::plan::optimize::optimize(&self.frame.plan);
        let physical = crate::plan::planner::physical(&optimized, &crate::plan::planner::RunStages(executor))?;
        let (graph, root) = self.graph_of(&physical);
        Ok(executor.get(&graph, &[root], &Registry::new())?.remove(0))
    }
}
