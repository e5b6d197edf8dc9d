//! `Delayed<T>`: a typed node of a task graph (Dask's `delayed`), built by calling a
//! `#[rask::task]` function and computed on any executor.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};

use rask_exec::Executor;
use rask_graph::{Expr, Graph, Key, Registry};
use rustc_hash::FxHashSet;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::Error;

/// One node and, through its inputs, everything it needs.
struct Node {
    key: Key,
    expr: Expr,
    inputs: Vec<Arc<Node>>,
    /// A literal that could not become a task value: the error `compute` reports.
    error: Option<String>,
    /// Cluster results this node reads by key: kept while the node lives.
    held: Vec<rask_distributed::Future>,
    /// A small literal: written into the calls that take it instead of being a node of its
    /// own (as a literal argument is in Dask's notation), so the plan has nothing to resolve.
    inline: bool,
}

/// Literals up to this size go inline into the calls that take them; larger ones are nodes,
/// so that a call site does not copy them.
const INLINE_LITERAL: usize = 1 << 10;

/// What a call puts where it reads `node`: the literal itself, or a reference to its key
/// (and then the node is an input).
fn reference(node: Arc<Node>) -> (Expr, Option<Arc<Node>>) {
    if node.inline {
        (node.expr.clone(), None)
    } else {
        (Expr::key(node.key.clone()), Some(node))
    }
}

/// A value of type `T` that a task graph will compute: the result of calling a
/// `#[rask::task]` function, or [`lit`]. Nothing runs until [`Delayed::compute`].
pub struct Delayed<T> {
    node: Arc<Node>,
    _type: PhantomData<fn() -> T>,
}

impl<T> Clone for Delayed<T> {
    fn clone(&self) -> Self {
        Delayed { node: self.node.clone(), _type: PhantomData }
    }
}

impl<T> std::fmt::Debug for Delayed<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Delayed({}: {})", self.node.key, std::any::type_name::<T>())
    }
}

/// One argument of a task call: an expression over the keys of its inputs.
pub struct Arg {
    expr: Expr,
    inputs: Vec<Arc<Node>>,
    held: Vec<rask_distributed::Future>,
}

/// What may be passed where a task takes a `T`: a `Delayed<T>` (or a reference to one), and,
/// where it takes a `Vec<T>`, a `Vec<Delayed<T>>`. Anything else — a `Delayed<String>` where a
/// `u32` is expected — does not compile.
pub trait IntoArg<T> {
    fn into_arg(self) -> Arg;
}

impl<T> IntoArg<T> for Delayed<T> {
    fn into_arg(self) -> Arg {
        let (expr, input) = reference(self.node);
        Arg { expr, inputs: input.into_iter().collect(), held: Vec::new() }
    }
}

impl<T> IntoArg<T> for &Delayed<T> {
    fn into_arg(self) -> Arg {
        self.clone().into_arg()
    }
}

impl<T> IntoArg<Vec<T>> for Vec<Delayed<T>> {
    fn into_arg(self) -> Arg {
        let (exprs, inputs): (Vec<Expr>, Vec<Option<Arc<Node>>>) = self.into_iter().map(|d| reference(d.node)).unzip();
        Arg { expr: Expr::list(exprs), inputs: inputs.into_iter().flatten().collect(), held: Vec::new() }
    }
}

/// A value being computed on a cluster, typed: [`Delayed::persist`] makes one. Its result
/// stays on the workers while any clone of it lives; tasks given it as an argument read it
/// there (on the same client).
pub struct Future<T> {
    inner: rask_distributed::Future,
    _type: PhantomData<fn() -> T>,
}

impl<T> Clone for Future<T> {
    fn clone(&self) -> Self {
        Future { inner: self.inner.clone(), _type: PhantomData }
    }
}

impl<T: DeserializeOwned + 'static> Future<T> {
    pub fn key(&self) -> &Key {
        self.inner.key()
    }

    /// Whether it has finished (successfully or not).
    pub fn done(&self) -> bool {
        self.inner.done()
    }

    /// Waits for the value and fetches it from the worker holding it.
    pub fn result(&self) -> Result<T, Error> {
        decode(self.inner.key(), &self.inner.result()?)
    }
}

/// `futures` in the order they finish, successfully or not (Dask's `as_completed`).
pub fn as_completed<T>(client: &rask_distributed::Client, futures: Vec<Future<T>>) -> impl Iterator<Item = Future<T>> {
    client
        .as_completed(futures.into_iter().map(|f| f.inner).collect())
        .map(|inner| Future { inner, _type: PhantomData })
}

impl<T> IntoArg<T> for &Future<T> {
    fn into_arg(self) -> Arg {
        Arg { expr: Expr::key(self.inner.key().clone()), inputs: Vec::new(), held: vec![self.inner.clone()] }
    }
}

impl<T> IntoArg<Vec<T>> for &[Future<T>] {
    fn into_arg(self) -> Arg {
        let expr = Expr::list(self.iter().map(|f| Expr::key(f.inner.key().clone())));
        Arg { expr, inputs: Vec::new(), held: self.iter().map(|f| f.inner.clone()).collect() }
    }
}

/// A literal, Dask's `delayed(value)`: small ones are written into the calls that take them,
/// larger ones are nodes of their own.
pub fn lit<T: Serialize + 'static>(value: T) -> Delayed<T> {
    let (expr, error, size) = match crate::to_value(&value) {
        Ok(v) => {
            let size = v.nbytes();
            (Expr::Literal(v), None, size)
        }
        Err(e) => (Expr::Literal(rask_graph::Value::None), Some(format!("lit(): {e}")), 0),
    };
    let inline = error.is_none() && size <= INLINE_LITERAL;
    // A node is named by content: equal large literals are one node, and pure calls on them
    // hash alike (an inline literal is hashed as part of its call).
    let key = if inline {
        fresh_key("lit")
    } else {
        Key::str(&format!("lit-{:016x}", fnv1a(format!("{expr:?}").as_bytes())))
    };
    Delayed::from_node(Node { key, expr, inputs: Vec::new(), error, held: Vec::new(), inline })
}

/// FNV-1a, 64 bits: a hash that is the same in every process and build, for pure keys.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100000001b3))
}

/// A key unique to this process's run: `name-<token>-<n>`.
fn fresh_key(name: &str) -> Key {
    static TOKEN: OnceLock<String> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let token = TOKEN.get_or_init(|| {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        format!("{:08x}", h.finish() as u32)
    });
    Key::str(&format!("{name}-{token}-{}", NEXT.fetch_add(1, Relaxed)))
}

impl<T> Delayed<T> {
    fn from_node(node: Node) -> Delayed<T> {
        Delayed { node: Arc::new(node), _type: PhantomData }
    }

    /// A call of the registered function `func` (what `#[rask::task]` functions return); a
    /// `pure` call is keyed by a hash of `func` and its arguments.
    #[doc(hidden)]
    pub fn call_with(pure: bool, func: &'static str, args: Vec<Arg>) -> Delayed<T> {
        let short = func.rsplit("::").next().unwrap_or(func);
        let (mut inputs, mut held) = (Vec::new(), Vec::new());
        let exprs: Vec<Expr> = args
            .into_iter()
            .map(|a| {
                inputs.extend(a.inputs);
                held.extend(a.held);
                a.expr
            })
            .collect();
        let expr = Expr::call(func, exprs);
        let key = if pure {
            Key::str(&format!("{short}-{:016x}", fnv1a(format!("{expr:?}").as_bytes())))
        } else {
            fresh_key(short)
        };
        Delayed::from_node(Node { key, expr, inputs, error: None, held, inline: false })
    }

    /// The key this value will have in the graph.
    pub fn key(&self) -> &Key {
        &self.node.key
    }

    /// The same computation under the key `key` (Dask's `dask_key_name`).
    pub fn named(self, key: impl Into<Key>) -> Delayed<T> {
        let node = &self.node;
        let renamed = Node {
            key: key.into(),
            expr: node.expr.clone(),
            inputs: node.inputs.clone(),
            error: node.error.clone(),
            held: node.held.clone(),
            // A named literal is a node: its key is asked for by name.
            inline: false,
        };
        Delayed::from_node(renamed)
    }

    /// Every node this value needs, as a task graph (shared inputs once).
    pub fn graph(&self) -> Graph {
        let mut graph = Graph::new();
        collect(&self.node, &mut graph, &mut FxHashSet::default());
        graph
    }

    /// The graph in Graphviz's DOT language, an edge from each input to its consumer.
    pub fn visualize(&self) -> String {
        let mut dot = String::from("digraph {\n");
        let mut seen = FxHashSet::default();
        let mut stack = vec![self.node.clone()];
        while let Some(n) = stack.pop() {
            if !seen.insert(Arc::as_ptr(&n)) {
                continue;
            }
            dot.push_str(&format!("  {:?};\n", n.key.to_string()));
            for i in &n.inputs {
                dot.push_str(&format!("  {:?} -> {:?};\n", i.key.to_string(), n.key.to_string()));
                stack.push(i.clone());
            }
        }
        dot.push_str("}\n");
        dot
    }
}

impl<T: DeserializeOwned + 'static> Delayed<T> {
    /// Runs the graph on `executor` and returns the value.
    pub fn compute<E: Executor + ?Sized>(&self, executor: &E) -> Result<T, Error> {
        let values = run(&[&self.node], executor)?;
        decode(&self.node.key, &values[0])
    }

    /// Starts computing on the cluster `client` is connected to and returns at once (Dask's
    /// `client.compute(delayed)`): the result stays on the workers while the future lives.
    pub fn persist(&self, client: &rask_distributed::Client) -> Result<Future<T>, Error> {
        if let Some(e) = first_error(&self.node) {
            return Err(Error::Value { key: self.node.key.clone(), message: e });
        }
        let mut futures = client.persist(&self.graph(), std::slice::from_ref(&self.node.key))?;
        let inner = futures.pop().expect("one key, one future");
        Ok(Future { inner, _type: PhantomData })
    }
}

/// The registry of this binary: built-ins and every registered function (built once).
fn registry() -> Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Registry::new).clone()
}

fn collect(node: &Arc<Node>, graph: &mut Graph, seen: &mut FxHashSet<*const Node>) {
    let mut stack = vec![node.clone()];
    while let Some(n) = stack.pop() {
        if !seen.insert(Arc::as_ptr(&n)) {
            continue;
        }
        graph.insert(n.key.clone(), n.expr.clone());
        stack.extend(n.inputs.iter().cloned());
    }
}

fn first_error(node: &Arc<Node>) -> Option<String> {
    let mut seen = FxHashSet::default();
    let mut stack = vec![node.clone()];
    while let Some(n) = stack.pop() {
        if let Some(e) = &n.error {
            return Some(e.clone());
        }
        if seen.insert(Arc::as_ptr(&n)) {
            stack.extend(n.inputs.iter().cloned());
        }
    }
    None
}

/// Several values computed as one graph (their shared inputs once): Dask's
/// `dask.compute(a, b)`. Takes a tuple of references, `compute_all((&a, &b), &exec)`.
pub fn compute_all<C: ComputeAll, E: Executor + ?Sized>(values: C, executor: &E) -> Result<C::Output, Error> {
    values.compute_all(executor)
}

/// Tuples of `&Delayed` that [`compute_all`] takes.
pub trait ComputeAll {
    type Output;
    fn compute_all<E: Executor + ?Sized>(self, executor: &E) -> Result<Self::Output, Error>;
}

macro_rules! compute_all_tuple {
    ($($t:ident $v:ident $i:tt),+) => {
        impl<$($t: DeserializeOwned + 'static),+> ComputeAll for ($(&Delayed<$t>,)+) {
            type Output = ($($t,)+);
            fn compute_all<E: Executor + ?Sized>(self, executor: &E) -> Result<Self::Output, Error> {
                let values = run(&[$(&self.$i.node),+], executor)?;
                $(let $v = decode::<$t>(&self.$i.node.key, &values[$i])?;)+
                Ok(($($v,)+))
            }
        }
    };
}

compute_all_tuple!(A a 0, B b 1);
compute_all_tuple!(A a 0, B b 1, C c 2);
compute_all_tuple!(A a 0, B b 1, C c 2, D d 3);

/// Runs `nodes` as one graph (shared inputs once); their values, in order.
fn run<E: Executor + ?Sized>(nodes: &[&Arc<Node>], executor: &E) -> Result<Vec<rask_graph::Value>, Error> {
    let mut graph = Graph::new();
    let mut seen = FxHashSet::default();
    for node in nodes {
        if let Some(e) = first_error(node) {
            return Err(Error::Value { key: node.key.clone(), message: e });
        }
        collect(node, &mut graph, &mut seen);
    }
    let keys: Vec<Key> = nodes.iter().map(|n| n.key.clone()).collect();
    Ok(executor.get(&graph, &keys, &registry())?)
}

fn decode<T: DeserializeOwned + 'static>(key: &Key, value: &rask_graph::Value) -> Result<T, Error> {
    crate::from_value::<T>(value).map_err(|e| Error::Value {
        key: key.clone(),
        message: format!("the result cannot be read as {}: {e}", std::any::type_name::<T>()),
    })
}
