//! `rask-graph`: the task-graph model — keys, values, tasks, the function registry — with
//! parsing, validation and the graph algorithms that run before any task does.
//!
//! What it is: plain data plus pure algorithms. A [`Graph`] maps [`Key`]s to [`Expr`]s (a
//! literal, a reference to another key, a call of a registered function, or a list of those).
//! [`Plan::build`] compiles it for the requested keys — culling, resolving functions through a
//! [`Registry`], rejecting cycles, missing keys, unknown functions and wrong arity, inlining,
//! fusing and ordering — into a dense form that executors run.
//!
//! What it is not: an executor (see `rask-exec`), a wire format (see `rask-protocol`), or a home
//! for heavy dependencies: collections that need Arrow live higher up.
//!
//! Main types: [`Key`], [`Value`], [`Expr`], [`Graph`], [`Registry`], [`Plan`], [`Op`],
//! [`GraphBuilder`]; readers [`parse_graph`] (Dask's notation) and [`graph_from_json`].

pub mod annotate;
pub mod arena;
pub mod builder;
pub mod builtins;
mod error;
mod expr;
pub mod ext;
pub mod ids_by_key;
pub mod json;
mod key;
mod op;
pub mod order;
mod parse;
mod plan;
mod print;
mod registry;
mod repr;
pub mod shapes;
mod value;
pub mod workloads;

pub use annotate::{parse_resources, Annotations};
pub use builder::{GraphBuilder, Node};
pub use error::{GraphError, ParseError, ReadError};
pub use expr::{Call, Expr, Graph};
pub use json::{graph_from_json, graph_to_json, value_to_json};
pub use key::Key;
pub use op::{panic_message, Csr, Failure, FailureCause, Literal, Op};
pub use parse::{parse_graph, parse_key, MAX_DEPTH};
pub use plan::{Plan, PlanOptions};
pub use print::to_dask_string;
pub use registry::{Arity, Function, NativeFn, Registration, Registry, TaskError};
pub use value::{deserialize_nested, Array, Buffer, BufferOwner, DType, Element, Value};

#[doc(hidden)]
pub use inventory;

/// Reads a graph from text, choosing the notation by its first character: JSON graphs made by
/// programs start with `[` or `{"`, Dask's notation with `{'` (or a comment).
pub fn parse_graph_auto(src: &str) -> Result<Graph, ParseError> {
    if is_json(src) {
        graph_from_json(src)
    } else {
        parse_graph(src)
    }
}

/// Reads a graph from text in either notation, as [`parse_graph_auto`] chooses, into the plan
/// of its outputs ([`Plan::build_outputs`]); Dask's notation goes straight to the plan
/// ([`Plan::read_dask`]).
pub fn read_plan_auto(src: &str, registry: &Registry) -> Result<Plan, ReadError> {
    if is_json(src) {
        Ok(Plan::build_outputs(&graph_from_json(src)?, registry)?)
    } else {
        Plan::read_dask(src, registry)
    }
}

/// JSON graphs start with `[` or `{"`. Dask's notation accepts double-quoted strings too, so
/// `{"x": 1}` is both; JSON is chosen when the whole text is valid JSON.
fn is_json(src: &str) -> bool {
    let start = src.trim_start();
    start.starts_with('[') || (start.starts_with('{') && serde_json::from_str::<serde::de::IgnoredAny>(src).is_ok())
}
