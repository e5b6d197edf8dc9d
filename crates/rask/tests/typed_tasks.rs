//! The typed-tasks example, run as a test so that CI fails if it stops working. Own `main`
//! (`harness = false`): the process executor and the local cluster re-execute this binary as
//! their workers, and `rask::init()` must come first.
include!("../examples/typed_tasks.rs");
