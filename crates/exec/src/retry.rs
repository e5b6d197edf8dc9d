//! Retries on the local executors, as on a cluster: a task whose annotations ask for
//! `retries` runs again after an error of its own, and if every attempt fails the error is
//! [`ExecError::Retried`] with each earlier attempt's message — the same text a cluster gives.

use rask_graph::{Plan, Value};

use crate::ExecError;

/// After `node` failed with `error`: `None` to run it again (the attempt is logged in
/// `earlier`), or the error to report (with the earlier attempts, if any).
pub(crate) fn give_up(plan: &Plan, node: u32, error: ExecError, earlier: &mut Vec<String>) -> Option<ExecError> {
    let retries = plan.annotations(node).map_or(0, |a| a.retries);
    if (earlier.len() as u32) < retries {
        earlier.push(error.to_string());
        return None;
    }
    Some(ExecError::after_attempts(error, std::mem::take(earlier)))
}

/// Evaluates `node`, again while its retries last.
pub(crate) fn eval(plan: &Plan, node: u32, input: &impl Fn(u32) -> Value) -> Result<Value, ExecError> {
    let mut earlier = Vec::new();
    loop {
        match plan.op(node).eval(input) {
            Ok(value) => return Ok(value),
            Err(failure) => {
                if let Some(error) = give_up(plan, node, ExecError::from_failure(plan.key(node), failure), &mut earlier)
                {
                    return Err(error);
                }
            }
        }
    }
}
