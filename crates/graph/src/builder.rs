//! Building graphs in code, without writing keys by hand (Dask's `delayed`, Rust-style).
//!
//! ```
//! use rask_graph::{GraphBuilder, Registry};
//!
//! let mut b = GraphBuilder::new();
//! let x = b.value(1);
//! let y = b.value(2);
//! let z = b.add(&x, &y);
//! let w = b.call("sum", [b.list([&x, &y, &z])]);
//! let graph = b.build();
//! assert_eq!(graph.len(), 4);
//! # let _ = (w, Registry::new());
//! ```

use crate::expr::{Expr, Graph};
use crate::key::Key;
use crate::value::Value;

/// A node of the graph being built; pass it (or `&node`) as an argument to later calls.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Node {
    key: Key,
}

impl Node {
    pub fn key(&self) -> &Key {
        &self.key
    }
}

impl From<Node> for Expr {
    fn from(n: Node) -> Expr {
        Expr::Ref(n.key)
    }
}

impl From<&Node> for Expr {
    fn from(n: &Node) -> Expr {
        Expr::Ref(n.key.clone())
    }
}

/// Accumulates a [`Graph`], naming each node `{function}-{n}` like Dask's `delayed` does.
#[derive(Default)]
pub struct GraphBuilder {
    graph: Graph,
    next: u64,
}

impl GraphBuilder {
    pub fn new() -> GraphBuilder {
        GraphBuilder::default()
    }

    fn fresh_key(&mut self, prefix: &str) -> Key {
        loop {
            let key = Key::from(format!("{prefix}-{}", self.next));
            self.next += 1;
            if !self.graph.contains(&key) {
                return key;
            }
        }
    }

    /// A node holding data.
    pub fn value(&mut self, v: impl Into<Value>) -> Node {
        let key = self.fresh_key("value");
        self.named(key, Expr::Literal(v.into()))
    }

    /// A task calling the registered function `func`.
    pub fn call<A: Into<Expr>>(&mut self, func: &str, args: impl IntoIterator<Item = A>) -> Node {
        let key = self.fresh_key(func);
        self.named(key, Expr::call(func, args.into_iter().map(Into::into)))
    }

    /// A node under a key of your choosing (replacing any earlier definition of it).
    pub fn named(&mut self, key: impl Into<Key>, expr: impl Into<Expr>) -> Node {
        let key = key.into();
        self.graph.insert(key.clone(), expr.into());
        Node { key }
    }

    /// A list argument built from nodes or other expressions.
    pub fn list<A: Into<Expr>>(&self, items: impl IntoIterator<Item = A>) -> Expr {
        Expr::list(items.into_iter().map(Into::into))
    }

    pub fn add(&mut self, a: impl Into<Expr>, b: impl Into<Expr>) -> Node {
        self.call("add", [a.into(), b.into()])
    }

    pub fn inc(&mut self, a: impl Into<Expr>) -> Node {
        self.call("inc", [a.into()])
    }

    /// `sum` over the given nodes.
    pub fn sum<'n>(&mut self, items: impl IntoIterator<Item = &'n Node>) -> Node {
        let list = self.list(items);
        self.call("sum", [list])
    }

    /// The graph so far.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    pub fn build(self) -> Graph {
        self.graph
    }
}
