//! For collections' tests (included with `#[path]`): the same questions asked of every kind of
//! executor must get the same answers.

use rask_distributed::LocalCluster;
use rask_exec::{Executor, ProcessExecutor, ThreadedExecutor};

/// Runs `summary` on threads, on worker processes and on a two-worker local cluster, and
/// asserts the answers agree and the cluster's workers leave no segment behind.
pub fn agree_on_every_executor(summary: impl Fn(&dyn Executor) -> Vec<String>) {
    let reference = summary(&ThreadedExecutor::new(2));
    let cluster = LocalCluster::new(2, 1).expect("a local cluster starts");
    let executors: Vec<Box<dyn Executor>> =
        vec![Box::new(ProcessExecutor::new(2)), Box::new(cluster.client().expect("a client connects"))];
    for ex in &executors {
        assert_eq!(summary(ex.as_ref()), reference, "{}", ex.name());
    }
    drop(executors);
    assert_eq!(leftovers_after(cluster), Vec::<String>::new(), "the workers' segments are gone with them");
}

/// Segments the cluster's workers still own, once it is gone: there must be none.
pub fn leftovers_after(cluster: LocalCluster) -> Vec<String> {
    let pids = cluster.worker_pids();
    drop(cluster);
    rask_store::owned_by(&pids)
}
