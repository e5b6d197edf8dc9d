//! Compiling a [`Graph`] for execution: everything that can go wrong is found here, before any
//! task runs.
//!
//! `Plan::build` culls the graph to what the requested keys need, resolves every function and
//! checks its arity, finds cycles, inlines cheap constants and aliases, fuses linear chains, and
//! computes the static execution order. The result indexes nodes densely (`u32`), so executors
//! keep per-node state in flat arrays and never hash a key on the hot path.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::annotate::Annotations;
use crate::error::{GraphError, ReadError};
use crate::expr::{Expr, Graph};
use crate::key::Key;
use crate::op::{Csr, Op};
use crate::order::dfs_order;
use crate::registry::Registry;

/// Which optional rewrites [`Plan::build_with`] applies.
#[derive(Clone, Debug)]
pub struct PlanOptions {
    /// Substitute small constant and alias nodes into the tasks that use them.
    pub inline: bool,
    /// Merge a task into its only dependent when that dependent has no other dependency.
    pub fuse: bool,
    /// Constants up to this many bytes count as cheap enough to copy into every user.
    pub inline_max_bytes: usize,
    /// Fused expressions nest no deeper than this (evaluation recurses once per level).
    pub max_fused_depth: usize,
}

impl Default for PlanOptions {
    fn default() -> PlanOptions {
        PlanOptions { inline: true, fuse: true, inline_max_bytes: 1024, max_fused_depth: 32 }
    }
}

impl PlanOptions {
    /// One node per key, as written: for tests and tools that look at every key.
    pub fn unoptimized() -> PlanOptions {
        PlanOptions { inline: false, fuse: false, ..PlanOptions::default() }
    }
}

/// A graph ready to run: dense nodes, resolved functions, dependency lists both ways, the
/// requested targets and a static order.
#[derive(Clone, Debug)]
pub struct Plan {
    keys: Vec<Key>,
    ops: Vec<Op>,
    dependencies: Csr,
    dependents: Csr,
    order: Vec<u32>,
    priority: Vec<u32>,
    targets: Vec<u32>,
    /// Each node's scheduling hints; empty when no key has any.
    annotations: Vec<Option<Arc<Annotations>>>,
}

impl Plan {
    /// Compiles `graph` to compute `targets` with the default rewrites.
    pub fn build(graph: &Graph, targets: &[Key], registry: &Registry) -> Result<Plan, GraphError> {
        Plan::build_with(graph, targets, registry, &PlanOptions::default())
    }

    pub fn build_with(
        graph: &Graph,
        targets: &[Key],
        registry: &Registry,
        options: &PlanOptions,
    ) -> Result<Plan, GraphError> {
        Plan::from_compiled(compile_needed(graph, targets, registry)?, |keys| annotations_of(graph, keys), options)
    }

    /// Compiles all of `graph` to compute its outputs (the keys nothing refers to, in key
    /// order, as [`Graph::outputs`] lists them) with the default rewrites: what `rask run`
    /// does without `--key`, in one pass over the graph instead of one to find the outputs
    /// and another to cull. A cycle anywhere is an error.
    pub fn build_outputs(graph: &Graph, registry: &Registry) -> Result<Plan, GraphError> {
        Plan::from_compiled(compile_all(graph, registry)?, |keys| annotations_of(graph, keys), &PlanOptions::default())
    }

    /// Reads Dask's notation straight into the plan of its outputs: what [`crate::parse_graph`]
    /// and then [`Plan::build_outputs`] give, without building the [`Graph`] in between. Each
    /// key is hashed once where it is defined and once per reference; the plan's nodes are
    /// made as the text is read. What `rask run` does with a file in Dask's notation.
    ///
    /// ```
    /// use rask_graph::{Plan, Registry, Value};
    /// let plan = Plan::read_dask("{'x': 1, 'y': (inc, 'x')}", &Registry::new()).unwrap();
    /// assert_eq!(plan.targets().len(), 1);
    /// assert_eq!(plan.key(plan.targets()[0]).to_string(), "'y'");
    /// ```
    pub fn read_dask(src: &str, registry: &Registry) -> Result<Plan, ReadError> {
        let compiled = crate::parse::compile_dask(src, registry)?;
        Ok(Plan::from_compiled(compiled, |_| Vec::new(), &PlanOptions::default())?)
    }

    /// `annotations` gives each compiled key's hints (or nothing, when no key has any).
    fn from_compiled(
        compiled: Compiled,
        annotations: impl FnOnce(&[Key]) -> Vec<Option<Arc<Annotations>>>,
        options: &PlanOptions,
    ) -> Result<Plan, GraphError> {
        let (keys, ops, targets) = compiled;
        let annotations = annotations(&keys);
        for (key, a) in keys.iter().zip(&annotations) {
            if let Some(message) = a.as_ref().and_then(|a| a.check().err()) {
                return Err(GraphError::BadAnnotations { key: key.clone(), message });
            }
        }
        let mut nodes = Nodes { keys, ops, targets, annotations };
        let mut dependencies = nodes.dependencies();
        let mut dependents = dependencies.transpose(nodes.len());
        let mut topo = nodes.topological_order(&dependencies, &dependents)?;
        // Each rewrite runs only when some node qualifies: most large graphs (maps, trees)
        // have nothing to inline or fuse and should not pay for a pass.
        if options.inline {
            let is_target = nodes.target_mask();
            let max = options.inline_max_bytes;
            let inlinable = |i: usize, op: &Op| {
                !is_target[i]
                    && match op {
                        Op::Const(v) => v.nbytes() <= max,
                        Op::Input(_) => true,
                        _ => false,
                    }
            };
            if nodes.ops.iter().enumerate().any(|(i, op)| inlinable(i, op)) {
                (topo, dependencies, dependents) =
                    nodes.eliminate(&topo, dependencies, dependents, inlinable, Provenance::Drop);
            }
        }
        if options.fuse {
            let is_target = nodes.target_mask();
            // A task fuses into its dependent only when both carry the same hints: the fused
            // task is scheduled by the dependent's.
            let annotations = &nodes.annotations;
            let same_hints = |a: usize, b: usize| annotations.is_empty() || annotations[a] == annotations[b];
            let fusable = |i: usize| {
                !is_target[i]
                    && matches!(dependents.row(i), [d] if dependencies.row(*d as usize).len() == 1
                        && same_hints(i, *d as usize))
            };
            let fusable: Vec<bool> = (0..nodes.len()).map(fusable).collect();
            if fusable.contains(&true) {
                let max_depth = options.max_fused_depth;
                let fuse = |i: usize, op: &Op| fusable[i] && op.depth() < max_depth;
                (_, dependencies, dependents) =
                    nodes.eliminate(&topo, dependencies, dependents, fuse, Provenance::Keep);
            }
        }
        let order = dfs_order(&dependencies, &dependents, &nodes.targets);
        let mut priority = vec![0u32; order.len()];
        for (rank, &node) in order.iter().enumerate() {
            priority[node as usize] = rank as u32;
        }
        Ok(Plan {
            keys: nodes.keys,
            ops: nodes.ops,
            dependencies,
            dependents,
            order,
            priority,
            targets: nodes.targets,
            annotations: nodes.annotations,
        })
    }

    /// Checks every key of `graph` — not only those some output needs — for missing
    /// references, unknown functions, wrong arity and cycles.
    pub fn validate(graph: &Graph, registry: &Registry) -> Result<(), GraphError> {
        let all: Vec<Key> = graph.keys().cloned().collect();
        Plan::build_with(graph, &all, registry, &PlanOptions::unoptimized()).map(drop)
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    pub fn key(&self, node: u32) -> &Key {
        &self.keys[node as usize]
    }

    pub fn op(&self, node: u32) -> &Op {
        &self.ops[node as usize]
    }

    /// Distinct inputs of `node`, in argument order.
    pub fn dependencies(&self, node: u32) -> &[u32] {
        self.dependencies.row(node as usize)
    }

    /// Nodes that take `node` as an input, ascending.
    pub fn dependents(&self, node: u32) -> &[u32] {
        self.dependents.row(node as usize)
    }

    /// Every node, in the order a single thread should run them: dependencies first, each
    /// subtree finished before the next starts (see [`crate::order`]).
    pub fn order(&self) -> &[u32] {
        &self.order
    }

    /// The node's position in [`Plan::order`]: lower runs first.
    pub fn priority(&self, node: u32) -> u32 {
        self.priority[node as usize]
    }

    /// How many reads each node's result awaits: one per dependent and one per request. An
    /// executor frees a result when its count reaches zero; requested results never do. Made
    /// when asked (an executor keeps its own counts), not held: 4 B a node less in every plan.
    pub fn consumer_counts(&self) -> Vec<u32> {
        let mut counts: Vec<u32> = (0..self.len()).map(|i| self.dependents.row(i).len() as u32).collect();
        for &t in &self.targets {
            counts[t as usize] += 1;
        }
        counts
    }

    /// The node computing each requested key, in request order (repeats allowed).
    pub fn targets(&self) -> &[u32] {
        &self.targets
    }

    /// The scheduling hints of `node`'s key ([`Graph::annotate`]), if it has any.
    pub fn annotations(&self, node: u32) -> Option<&Annotations> {
        self.annotations.get(node as usize).and_then(|a| a.as_deref())
    }

    /// Refuses plans that call in-process-only closures, for executors that cross a process
    /// boundary.
    pub fn check_portable(&self, executor: &str) -> Result<(), GraphError> {
        for (i, op) in self.ops.iter().enumerate() {
            let mut bad = None;
            op.for_each_function(&mut |f| {
                if !f.is_portable() && bad.is_none() {
                    bad = Some(f.name().to_owned());
                }
            });
            if let Some(function) = bad {
                return Err(GraphError::NotPortable { key: self.keys[i].clone(), function, executor: executor.into() });
            }
        }
        Ok(())
    }
}

/// Whether an eliminated node's op remembers its key, so that failures inside it name it.
/// Constants and aliases cannot fail; fused tasks can.
#[derive(Clone, Copy)]
enum Provenance {
    Keep,
    Drop,
}

/// The working form while rewriting.
struct Nodes {
    keys: Vec<Key>,
    ops: Vec<Op>,
    targets: Vec<u32>,
    /// Empty, or one entry per node.
    annotations: Vec<Option<Arc<Annotations>>>,
}

impl Nodes {
    fn len(&self) -> usize {
        self.ops.len()
    }

    fn target_mask(&self) -> Vec<bool> {
        let mut mask = vec![false; self.len()];
        for &t in &self.targets {
            mask[t as usize] = true;
        }
        mask
    }

    /// Distinct inputs per node, first occurrence first.
    fn dependencies(&self) -> Csr {
        let mut offsets = Vec::with_capacity(self.len() + 1);
        let mut items = Vec::with_capacity(self.len() * 2);
        offsets.push(0);
        for op in &self.ops {
            push_distinct_inputs(op, &mut items);
            offsets.push(items.len() as u32);
        }
        Csr::from_parts(offsets, items)
    }

    /// Kahn's algorithm; a cycle is reported with its keys in dependency order.
    fn topological_order(&self, deps: &Csr, dependents: &Csr) -> Result<Vec<u32>, GraphError> {
        let mut waiting: Vec<u32> = (0..self.len()).map(|i| deps.row(i).len() as u32).collect();
        let mut order: Vec<u32> = (0..self.len() as u32).filter(|&i| waiting[i as usize] == 0).collect();
        let mut next = 0;
        while next < order.len() {
            let done = order[next] as usize;
            next += 1;
            for &d in dependents.row(done) {
                waiting[d as usize] -= 1;
                if waiting[d as usize] == 0 {
                    order.push(d);
                }
            }
        }
        if order.len() == self.len() {
            return Ok(order);
        }
        // Every node left still waits on another node left, so following dependencies among
        // them must come back to a node already seen.
        let start = waiting.iter().position(|&w| w > 0).expect("some node is left");
        let mut seen_at = vec![usize::MAX; self.len()];
        let mut path = Vec::new();
        let mut at = start;
        while seen_at[at] == usize::MAX {
            seen_at[at] = path.len();
            path.push(at);
            at = *deps
                .row(at)
                .iter()
                .find(|&&d| waiting[d as usize] > 0)
                .expect("a waiting node waits on a waiting node") as usize;
        }
        Err(GraphError::Cycle(path[seen_at[at]..].iter().map(|&i| self.keys[i].clone()).collect()))
    }

    /// Removes every node for which `remove(node, op)` holds (after its own inputs were
    /// substituted), substituting its op into the nodes that use it. `topo` must list
    /// dependencies before dependents, so substitutions compose along chains. Returns `topo`
    /// for the nodes that remain, and the edges among them.
    ///
    /// A pass often removes a handful of a million nodes (the odd ends of a tree's levels
    /// fuse), so what it touches besides is kept to flat arrays read in order: the ops walked
    /// again (a cache miss each, into their boxed arguments) are only those whose inputs were
    /// renumbered or substituted, and the edges of the rest are their old rows renumbered.
    fn eliminate(
        &mut self,
        topo: &[u32],
        dependencies: Csr,
        dependents: Csr,
        remove: impl Fn(usize, &Op) -> bool,
        provenance: Provenance,
    ) -> (Vec<u32>, Csr, Csr) {
        // Replacements by node, only for the nodes removed: a dense table (56 B a node) was
        // fresh memory for the kernel to zero, a tenth of reading the peer graph.
        let mut replacement: FxHashMap<u32, Op> = FxHashMap::default();
        let mut removed = vec![false; self.len()];
        let mut changed = vec![false; self.len()];
        for &i in topo {
            let i = i as usize;
            if dependencies.row(i).iter().any(|&d| removed[d as usize]) {
                self.ops[i].substitute(&|j| replacement.get(&j).cloned());
                changed[i] = true;
            }
            if remove(i, &self.ops[i]) {
                let op = std::mem::replace(&mut self.ops[i], Op::Input(u32::MAX));
                let op = match provenance {
                    Provenance::Keep => Op::Fused(Box::new((self.keys[i].clone(), op))),
                    Provenance::Drop => op,
                };
                replacement.insert(i as u32, op);
                removed[i] = true;
            }
        }
        drop(dependents);
        let mut new_index = vec![u32::MAX; self.len()];
        let mut next = 0u32;
        for (i, r) in removed.iter().enumerate() {
            if !r {
                new_index[i] = next;
                next += 1;
            }
        }
        // Nodes before the first removed one keep their numbers.
        let first_removed = removed.iter().position(|&r| r).unwrap_or(self.len()) as u32;
        for (i, op) in self.ops.iter_mut().enumerate() {
            if !removed[i] && (changed[i] || dependencies.row(i).iter().any(|&d| d >= first_removed)) {
                op.for_each_input_mut(&mut |d| *d = new_index[*d as usize]);
            }
        }
        let mut offsets = Vec::with_capacity(next as usize + 1);
        let mut items = Vec::with_capacity(dependencies.edges());
        offsets.push(0);
        for i in (0..self.len()).filter(|&i| !removed[i]) {
            if changed[i] {
                push_distinct_inputs(&self.ops[i], &mut items);
            } else {
                items.extend(dependencies.row(i).iter().map(|&d| new_index[d as usize]));
            }
            offsets.push(items.len() as u32);
        }
        drop(dependencies);
        self.keys = keep_unremoved(std::mem::take(&mut self.keys), &removed);
        self.ops = keep_unremoved(std::mem::take(&mut self.ops), &removed);
        if !self.annotations.is_empty() {
            self.annotations = keep_unremoved(std::mem::take(&mut self.annotations), &removed);
        }
        for t in &mut self.targets {
            *t = new_index[*t as usize];
        }
        let dependencies = Csr::from_parts(offsets, items);
        let dependents = dependencies.transpose(self.len());
        let topo = topo.iter().map(|&i| new_index[i as usize]).filter(|&i| i != u32::MAX).collect();
        (topo, dependencies, dependents)
    }
}

/// Appends `op`'s inputs to `items` as a new CSR row: each once, in the order first read.
fn push_distinct_inputs(op: &Op, items: &mut Vec<u32>) {
    let row = items.len();
    op.for_each_input(&mut |i| {
        if !items[row..].contains(&i) {
            items.push(i);
        }
    });
}

/// `items` without the removed ones, in place.
fn keep_unremoved<T>(mut items: Vec<T>, removed: &[bool]) -> Vec<T> {
    let mut i = 0;
    // `retain` visits each element once, in order.
    items.retain(|_| {
        i += 1;
        !removed[i - 1]
    });
    items
}

/// The needed keys, their compiled ops, and the targets' node numbers.
pub(crate) type Compiled = (Vec<Key>, Vec<Op>, Vec<u32>);

/// Each key's hints, or nothing when the graph has none.
fn annotations_of(graph: &Graph, keys: &[Key]) -> Vec<Option<Arc<Annotations>>> {
    match graph.has_annotations() {
        true => keys.iter().map(|k| graph.shared_annotations(k).cloned()).collect(),
        false => Vec::new(),
    }
}

/// The keys no op refers to (the graph's outputs), sorted.
pub(crate) fn outputs(keys: &[Key], ops: &[Op]) -> Vec<u32> {
    let mut referenced = vec![false; keys.len()];
    for op in ops {
        op.for_each_input(&mut |i| referenced[i as usize] = true);
    }
    let mut targets: Vec<u32> = (0..keys.len() as u32).filter(|&i| !referenced[i as usize]).collect();
    targets.sort_by(|&a, &b| keys[a as usize].cmp(&keys[b as usize]));
    targets
}

/// Culls to the targets while compiling each needed expression once: one hash lookup per reference.
fn compile_needed(graph: &Graph, targets: &[Key], registry: &Registry) -> Result<Compiled, GraphError> {
    let n = graph.len();
    let mut compiled: Vec<Option<Op>> = vec![None; n];
    let mut target_index = Vec::with_capacity(targets.len());
    let mut stack = Vec::with_capacity(targets.len());
    for t in targets {
        let i = graph.index_of(t).ok_or_else(|| GraphError::MissingKey(t.clone()))?;
        target_index.push(i);
        stack.push(i);
    }
    let mut refs = Vec::new();
    while let Some(i) = stack.pop() {
        if compiled[i].is_some() {
            continue;
        }
        let (key, expr) = graph.entry_at(i);
        refs.clear();
        compiled[i] = Some(compile_expr(expr, key, graph, registry, &mut refs)?);
        stack.extend(refs.iter().map(|&r| r as usize).filter(|&r| compiled[r].is_none()));
    }
    let mut new_index = vec![u32::MAX; n];
    let mut keys = Vec::new();
    let mut ops = Vec::new();
    for (i, op) in compiled.into_iter().enumerate() {
        if let Some(op) = op {
            new_index[i] = ops.len() as u32;
            keys.push(graph.entry_at(i).0.clone());
            ops.push(op);
        }
    }
    for op in &mut ops {
        op.for_each_input_mut(&mut |i| *i = new_index[*i as usize]);
    }
    let targets = target_index.into_iter().map(|i| new_index[i]).collect();
    Ok((keys, ops, targets))
}

/// Every key compiled, in the graph's order (node `i` is the graph's entry `i`), and as
/// targets the keys no expression refers to, sorted.
fn compile_all(graph: &Graph, registry: &Registry) -> Result<Compiled, GraphError> {
    let mut ops = Vec::with_capacity(graph.len());
    let mut refs = Vec::new();
    for (key, expr) in graph.iter() {
        refs.clear();
        ops.push(compile_expr(expr, key, graph, registry, &mut refs)?);
    }
    let keys: Vec<Key> = graph.keys().cloned().collect();
    let targets = outputs(&keys, &ops);
    Ok((keys, ops, targets))
}

/// `Input`s in the result hold graph indices; `refs` collects them.
fn compile_expr(
    expr: &Expr,
    key: &Key,
    graph: &Graph,
    registry: &Registry,
    refs: &mut Vec<u32>,
) -> Result<Op, GraphError> {
    Ok(match expr {
        Expr::Literal(v) => Op::Const(v.clone().into()),
        Expr::Ref(k) => {
            let i = graph
                .index_of(k)
                .ok_or_else(|| GraphError::MissingDependency { key: key.clone(), missing: k.clone() })?
                as u32;
            refs.push(i);
            Op::Input(i)
        }
        Expr::Call(call) => {
            let f = registry
                .get(&call.func)
                .ok_or_else(|| GraphError::UnknownFunction { key: key.clone(), function: call.func.to_string() })?;
            if !f.arity().accepts(call.args.len()) {
                return Err(GraphError::Arity {
                    key: key.clone(),
                    function: call.func.to_string(),
                    expected: f.arity(),
                    given: call.args.len(),
                });
            }
            let args =
                call.args.iter().map(|a| compile_expr(a, key, graph, registry, refs)).collect::<Result<_, _>>()?;
            Op::Call(Arc::clone(f), args)
        }
        Expr::List(items) => {
            Op::List(items.iter().map(|a| compile_expr(a, key, graph, registry, refs)).collect::<Result<_, _>>()?)
        }
    })
}

#[cfg(test)]
mod tests;
