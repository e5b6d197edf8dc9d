//! Any text: the readers return a graph or an error, never panic or hang; whatever reads as a
//! graph prints back to the same graph.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = rask_graph::parse_key(text);
    let _ = rask_graph::graph_from_json(text);
    if let Ok(graph) = rask_graph::parse_graph(text) {
        let printed = rask_graph::to_dask_string(&graph);
        let again = rask_graph::parse_graph(&printed).expect("printed graphs parse");
        assert_eq!(again, graph, "print -> parse changed the graph:\n{printed}");
    }
});
