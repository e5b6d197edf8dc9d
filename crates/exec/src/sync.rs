//! The single-threaded executor: for debugging, for tiny graphs, and as the reference the other
//! executors are tested against.

use rask_graph::{Plan, Value};

use crate::{ExecError, Executor, Outcome, Progress, RunStats};

/// Runs a plan's tasks one at a time in the plan's static order, freeing each result as soon as
/// its last dependent has run.
#[derive(Clone, Copy, Debug, Default)]
pub struct SyncExecutor;

impl Executor for SyncExecutor {
    fn name(&self) -> &str {
        "sync"
    }

    fn execute(&self, plan: &Plan, progress: Option<&dyn Progress>) -> Result<Outcome, ExecError> {
        let n = plan.len();
        let mut results: Vec<Option<Value>> = vec![None; n];
        let mut pending: Vec<u32> = plan.consumer_counts();
        let mut live = 0usize;
        let mut stats = RunStats::default();
        let report_every = n.div_ceil(100).max(1);
        for (done, &node) in plan.order().iter().enumerate() {
            let value = crate::retry::eval(plan, node, &|i| {
                results[i as usize].clone().expect("the static order computes dependencies first")
            })?;
            results[node as usize] = Some(value);
            live += 1;
            stats.peak_live = stats.peak_live.max(live);
            for &d in plan.dependencies(node) {
                pending[d as usize] -= 1;
                if pending[d as usize] == 0 {
                    results[d as usize] = None;
                    live -= 1;
                }
            }
            if let Some(p) = progress {
                if (done + 1) % report_every == 0 || done + 1 == n {
                    p.update(done + 1, n);
                }
            }
        }
        stats.tasks = n;
        let values = plan.targets().iter().map(|&t| results[t as usize].clone().expect("targets are kept")).collect();
        Ok(Outcome { values, stats })
    }
}
