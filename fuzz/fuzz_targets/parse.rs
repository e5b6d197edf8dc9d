//! Any text: the readers return a graph or an error, never panic or hang; whatever reads as a
//! graph prints back to the same graph; and Dask's notation read straight into a plan
//! (`Plan::read_dask`) gives the plan the two-step path gives, or fails where it fails.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use rask_graph::{Plan, Registry};

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Registry::new)
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = rask_graph::parse_key(text);
    let _ = rask_graph::graph_from_json(text);
    let two_step = rask_graph::parse_graph(text).ok().map(|graph| {
        let printed = rask_graph::to_dask_string(&graph);
        let again = rask_graph::parse_graph(&printed).expect("printed graphs parse");
        assert_eq!(again, graph, "print -> parse changed the graph:\n{printed}");
        Plan::build_outputs(&graph, registry()).map(|plan| format!("{plan:?}"))
    });
    let direct = Plan::read_dask(text, registry()).map(|plan| format!("{plan:?}"));
    match (two_step, direct) {
        (Some(Ok(a)), Ok(b)) => assert_eq!(a, b, "the direct reader's plan differs for {text:?}"),
        (Some(Ok(_)), Err(e)) => panic!("only the direct reader refused {text:?}: {e}"),
        (Some(Err(_)) | None, Ok(_)) => panic!("only the direct reader accepted {text:?}"),
        _ => {}
    }
});
