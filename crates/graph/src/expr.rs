//! Graphs as users write them: keys mapped to expressions.

use std::sync::Arc;

use indexmap::IndexMap;
use rustc_hash::{FxBuildHasher, FxHashMap};
use serde::{Deserialize, Serialize};

use crate::annotate::Annotations;
use crate::error::GraphError;
use crate::key::Key;
use crate::value::Value;

/// What a key is defined as, and what a task's argument can be.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Expr {
    /// A constant.
    Literal(Value),
    /// The value of another key (an alias when it is a whole definition).
    Ref(Key),
    /// A function applied to arguments.
    Call(Call),
    /// A list whose items are evaluated; built by [`Expr::list`], which keeps all-constant lists
    /// as one literal so that equal graphs compare equal however they were made.
    List(Vec<Expr>),
}

/// A task: a registered function's name and its arguments.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Call {
    pub func: Arc<str>,
    pub args: Vec<Expr>,
}

impl Expr {
    pub fn call(func: &str, args: impl IntoIterator<Item = Expr>) -> Expr {
        Expr::Call(Call { func: Arc::from(func), args: args.into_iter().collect() })
    }

    pub fn key(key: impl Into<Key>) -> Expr {
        Expr::Ref(key.into())
    }

    /// A list of expressions; a list of constants becomes one constant list.
    pub fn list(items: impl IntoIterator<Item = Expr>) -> Expr {
        let items: Vec<Expr> = items.into_iter().collect();
        if items.iter().all(|e| matches!(e, Expr::Literal(_))) {
            let values = items.into_iter().map(|e| match e {
                Expr::Literal(v) => v,
                _ => unreachable!("checked above"),
            });
            Expr::Literal(Value::list(values))
        } else {
            Expr::List(items)
        }
    }

    /// Calls `f` on every key this expression refers to, in argument order (with repeats).
    pub fn for_each_ref(&self, f: &mut impl FnMut(&Key)) {
        match self {
            Expr::Literal(_) => {}
            Expr::Ref(k) => f(k),
            Expr::Call(call) => call.args.iter().for_each(|a| a.for_each_ref(f)),
            Expr::List(items) => items.iter().for_each(|a| a.for_each_ref(f)),
        }
    }

    /// Whether this is a task (a function call), as opposed to data or an alias.
    pub fn is_task(&self) -> bool {
        match self {
            Expr::Call(_) => true,
            Expr::List(items) => items.iter().any(Expr::is_task),
            _ => false,
        }
    }

    /// Bytes of the largest constant embedded in this expression.
    pub fn largest_literal(&self) -> usize {
        match self {
            Expr::Literal(v) => v.nbytes(),
            Expr::Ref(_) => 0,
            Expr::Call(call) => call.args.iter().map(Expr::largest_literal).max().unwrap_or(0),
            Expr::List(items) => items.iter().map(Expr::largest_literal).max().unwrap_or(0),
        }
    }
}

impl<T: Into<Value>> From<T> for Expr {
    fn from(v: T) -> Expr {
        Expr::Literal(v.into())
    }
}

/// A task graph: keys in insertion order, each with its definition.
///
/// This is the user-facing form (Dask's dict). Executors run a [`crate::Plan`] compiled from it,
/// where keys are dense indices and functions are resolved.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Graph {
    defs: IndexMap<Key, Expr, FxBuildHasher>,
    /// Scheduling hints by key ([`Graph::annotate`]); empty for most graphs.
    #[serde(default)]
    annotations: FxHashMap<Key, Arc<Annotations>>,
    /// The hints of the [`Graph::annotate`] scope being built, given to each key inserted.
    #[serde(skip)]
    scope: Option<Arc<Annotations>>,
}

impl Graph {
    pub fn new() -> Graph {
        Graph::default()
    }

    pub fn with_capacity(n: usize) -> Graph {
        Graph { defs: IndexMap::with_capacity_and_hasher(n, FxBuildHasher), ..Graph::default() }
    }

    /// Defines `key`, returning its previous definition. Inside [`Graph::annotate`] the key
    /// takes that scope's annotations.
    pub fn insert(&mut self, key: impl Into<Key>, expr: impl Into<Expr>) -> Option<Expr> {
        let key = key.into();
        if let Some(scope) = &self.scope {
            self.annotations.insert(key.clone(), scope.clone());
        }
        self.defs.insert(key, expr.into())
    }

    /// Runs `build` with `annotations` in force: every key it inserts carries them (Dask's
    /// `with dask.annotate(...)`). Scopes nest; an inner one overrides the fields it sets.
    pub fn annotate<R>(&mut self, annotations: Annotations, build: impl FnOnce(&mut Graph) -> R) -> R {
        let inner = match &self.scope {
            Some(outer) => outer.overlaid_with(&annotations),
            None => annotations,
        };
        let saved = self.scope.replace(Arc::new(inner));
        let out = build(self);
        self.scope = saved;
        out
    }

    /// Sets (or, with empty annotations, clears) the hints of one key.
    pub fn set_annotations(&mut self, key: impl Into<Key>, annotations: Annotations) {
        let key = key.into();
        if annotations.is_empty() {
            self.annotations.remove(&key);
        } else {
            self.annotations.insert(key, Arc::new(annotations));
        }
    }

    /// Gives `annotations` to every key that has none of its own.
    pub fn annotate_unannotated(&mut self, annotations: Annotations) {
        if annotations.is_empty() {
            return;
        }
        let shared = Arc::new(annotations);
        for key in self.defs.keys() {
            self.annotations.entry(key.clone()).or_insert_with(|| shared.clone());
        }
    }

    /// The hints given to `key`, if any.
    pub fn annotations(&self, key: &Key) -> Option<&Annotations> {
        self.annotations.get(key).map(|a| &**a)
    }

    /// Whether any key carries hints.
    pub fn has_annotations(&self) -> bool {
        !self.annotations.is_empty()
    }

    pub(crate) fn shared_annotations(&self, key: &Key) -> Option<&Arc<Annotations>> {
        self.annotations.get(key)
    }

    pub fn get(&self, key: &Key) -> Option<&Expr> {
        self.defs.get(key)
    }

    pub fn contains(&self, key: &Key) -> bool {
        self.defs.contains_key(key)
    }

    pub fn len(&self) -> usize {
        self.defs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.defs.is_empty()
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&Key, &Expr)> {
        self.defs.iter()
    }

    pub fn keys(&self) -> impl ExactSizeIterator<Item = &Key> {
        self.defs.keys()
    }

    /// The graph's own copy of `key`: a reference that clones it shares its allocation.
    pub(crate) fn stored_key(&self, key: &Key) -> Option<&Key> {
        self.defs.get_key_value(key).map(|(k, _)| k)
    }

    pub(crate) fn index_of(&self, key: &Key) -> Option<usize> {
        self.defs.get_index_of(key)
    }

    /// Replaces the definition of the `i`th key, without hashing it again.
    pub(crate) fn set_at(&mut self, i: usize, expr: Expr) {
        *self.defs.get_index_mut(i).expect("index in range").1 = expr;
    }

    pub(crate) fn entry_at(&self, i: usize) -> (&Key, &Expr) {
        self.defs.get_index(i).expect("index in range")
    }

    /// Number of keys whose definition is a task rather than data or an alias.
    pub fn task_count(&self) -> usize {
        self.defs.values().filter(|e| e.is_task()).count()
    }

    /// Each key's distinct dependencies that exist in the graph, in argument order.
    pub fn dependencies(&self) -> FxHashMap<Key, Vec<Key>> {
        self.defs
            .iter()
            .map(|(k, e)| {
                let mut deps: Vec<Key> = Vec::new();
                e.for_each_ref(&mut |d| {
                    if self.contains(d) && !deps.contains(d) {
                        deps.push(d.clone());
                    }
                });
                (k.clone(), deps)
            })
            .collect()
    }

    /// Each key's dependents (every key appears, with an empty list if nothing needs it).
    pub fn dependents(&self) -> FxHashMap<Key, Vec<Key>> {
        let mut out: FxHashMap<Key, Vec<Key>> = self.keys().map(|k| (k.clone(), Vec::new())).collect();
        for (k, deps) in self.dependencies() {
            for d in deps {
                out.get_mut(&d).expect("dependencies exist").push(k.clone());
            }
        }
        for v in out.values_mut() {
            v.sort();
        }
        out
    }

    /// Keys nothing else depends on, sorted: what `rask run` prints when no key is asked for.
    pub fn outputs(&self) -> Vec<Key> {
        let mut needed = vec![false; self.len()];
        for (_, e) in self.iter() {
            e.for_each_ref(&mut |d| {
                if let Some(i) = self.index_of(d) {
                    needed[i] = true;
                }
            });
        }
        let mut outs: Vec<Key> = self.keys().zip(&needed).filter(|(_, n)| !**n).map(|(k, _)| k.clone()).collect();
        outs.sort();
        outs
    }

    /// The subgraph needed to compute `targets`, in the original key order.
    pub fn cull(&self, targets: &[Key]) -> Result<Graph, GraphError> {
        let keep = self.needed(targets)?;
        let mut out = Graph::with_capacity(keep.iter().filter(|k| **k).count());
        for ((k, e), _) in self.iter().zip(&keep).filter(|(_, keep)| **keep) {
            out.insert(k.clone(), e.clone());
            if let Some(a) = self.annotations.get(k) {
                out.annotations.insert(k.clone(), a.clone());
            }
        }
        Ok(out)
    }

    /// Which keys (by position, as [`Graph::iter`] lists them) computing `targets` needs —
    /// what [`Graph::cull`] keeps, without copying it; or the first missing reference.
    pub fn needed(&self, targets: &[Key]) -> Result<Vec<bool>, GraphError> {
        let mut keep = vec![false; self.len()];
        let mut stack = Vec::with_capacity(targets.len());
        for t in targets {
            stack.push(self.index_of(t).ok_or_else(|| GraphError::MissingKey(t.clone()))?);
        }
        while let Some(i) = stack.pop() {
            if std::mem::replace(&mut keep[i], true) {
                continue;
            }
            let (key, expr) = self.entry_at(i);
            let mut missing = None;
            expr.for_each_ref(&mut |d| match self.index_of(d) {
                Some(j) => stack.push(j),
                None => missing = Some(d.clone()),
            });
            if let Some(missing) = missing {
                return Err(GraphError::MissingDependency { key: key.clone(), missing });
            }
        }
        Ok(keep)
    }
}

impl<K: Into<Key>, E: Into<Expr>> FromIterator<(K, E)> for Graph {
    fn from_iter<I: IntoIterator<Item = (K, E)>>(iter: I) -> Graph {
        let mut g = Graph::new();
        for (k, e) in iter {
            g.insert(k, e);
        }
        g
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed() -> Graph {
        Graph::from_iter([
            ("x", Expr::from(1)),
            ("y", Expr::from(2)),
            ("z", Expr::call("add", [Expr::key("x"), Expr::key("y")])),
            ("w", Expr::call("sum", [Expr::list([Expr::key("x"), Expr::key("y"), Expr::key("z")])])),
            ("v", Expr::list([Expr::call("sum", [Expr::list([Expr::key("w"), Expr::key("z")])]), Expr::from(2)])),
        ])
    }

    #[test]
    fn dependency_maps() {
        let g = seed();
        let deps = g.dependencies();
        assert_eq!(deps[&Key::from("w")], vec![Key::from("x"), Key::from("y"), Key::from("z")]);
        assert!(deps[&Key::from("x")].is_empty());
        let dependents = g.dependents();
        assert_eq!(dependents[&Key::from("z")], vec![Key::from("v"), Key::from("w")]);
        assert_eq!(g.outputs(), vec![Key::from("v")]);
        assert_eq!(g.task_count(), 3);
    }

    #[test]
    fn cull_keeps_only_what_targets_need() {
        let g = seed();
        let c = g.cull(&[Key::from("z")]).unwrap();
        assert_eq!(c.keys().cloned().collect::<Vec<_>>(), vec![Key::from("x"), Key::from("y"), Key::from("z")]);
        assert_eq!(g.cull(&[Key::from("nope")]), Err(GraphError::MissingKey(Key::from("nope"))));
        // `needed` marks exactly the keys `cull` keeps, by position.
        let marked: Vec<Key> =
            g.keys().zip(g.needed(&[Key::from("z")]).unwrap()).filter(|(_, n)| *n).map(|(k, _)| k.clone()).collect();
        assert_eq!(marked, c.keys().cloned().collect::<Vec<_>>());
        assert!(g.needed(&[Key::from("v")]).unwrap().iter().all(|n| *n), "the output needs everything");
    }

    #[test]
    fn constant_lists_are_literals() {
        assert_eq!(Expr::list([Expr::from(1), Expr::from(2)]), Expr::Literal(Value::list([1.into(), 2.into()])));
        assert!(matches!(Expr::list([Expr::key("x")]), Expr::List(_)));
    }
}
