//! Graphviz output, drawn the way Dask's `visualize` draws: a box per key (data), a circle per
//! function, edges in the direction data flows.

use std::io::{self, Write};

use rask_graph::{Expr, Graph};

pub fn write(graph: &Graph, out: &mut impl Write) -> io::Result<()> {
    let index: std::collections::HashMap<_, _> = graph.keys().enumerate().map(|(i, k)| (k, i)).collect();
    let deps = graph.dependencies();
    writeln!(out, "digraph rask {{")?;
    writeln!(out, "  rankdir=BT;")?;
    for (i, (key, expr)) in graph.iter().enumerate() {
        writeln!(out, "  k{i} [label=\"{}\", shape=box];", escape(&key.to_string()))?;
        let target = match function_label(expr) {
            Some(func) => {
                writeln!(out, "  f{i} [label=\"{}\", shape=circle];", escape(&func))?;
                writeln!(out, "  f{i} -> k{i};")?;
                format!("f{i}")
            }
            None => format!("k{i}"),
        };
        for d in &deps[key] {
            writeln!(out, "  k{} -> {target};", index[d])?;
        }
    }
    writeln!(out, "}}")
}

/// The function a key's definition calls, if it is a task.
fn function_label(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Call(call) => Some(call.func.to_string()),
        Expr::List(items) if expr.is_task() => {
            let funcs: Vec<String> = items.iter().filter_map(function_label).collect();
            Some(format!("[{}]", funcs.join(", ")))
        }
        _ => None,
    }
}

fn escape(label: &str) -> String {
    label.replace('\\', "\\\\").replace('"', "\\\"")
}
