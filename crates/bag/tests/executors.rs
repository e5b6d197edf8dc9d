//! Bags on worker processes and on a cluster: the same answers as on threads. Functions travel
//! by registered name, so the workers (this binary, re-executed) resolve them themselves.
//!
//! Own `main` (`harness = false`): the executors re-execute this binary as their workers.

#[path = "../../distributed/tests/alike/mod.rs"]
mod alike;
#[path = "../../exec/tests/common/mod.rs"]
mod common;

use rask_bag::Bag;
use rask_exec::Executor;
use rask_graph::{register, Arity, TaskError, Value};

fn main() {
    rask_distributed::worker_main_if_requested();
    common::run_tests(&[("bags_give_the_same_answers_on_threads_processes_and_a_cluster", same_answers)]);
}

fn last_digit(args: &[Value]) -> Result<Value, TaskError> {
    Ok(Value::Int(args[0].as_int().ok_or_else(|| TaskError::type_error("an int"))? % 10))
}

register!("exec_test_last_digit", Arity::Exact(1), last_digit);

fn summary(ex: &dyn Executor) -> Vec<String> {
    let bag = Bag::range(10_000, 7);
    vec![
        format!("{:?}", bag.sum(ex).unwrap()),
        format!("{:?}", bag.clone().map("exec_test_last_digit").frequencies(ex).unwrap()),
        format!("{:?}", bag.foldby("exec_test_last_digit", "add", Some(Value::Int(0)), "add", ex).unwrap()),
        format!("{:?}", bag.groupby("exec_test_last_digit", 3).map("len").compute(ex).unwrap()),
    ]
}

fn same_answers() {
    alike::agree_on_every_executor(summary);
}
