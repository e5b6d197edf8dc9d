//! `rask-bag`: Dask's bag — a lazy, partitioned sequence of [`Value`]s (records, lines, numbers)
//! with `map`, `filter`, `flatten`, `map_partitions`, folds, `frequencies`, `distinct`,
//! `foldby` and `groupby`, lowered to task graphs that run on any executor.
//!
//! What it is: a plan (a source plus a chain of per-partition operations) kept apart from its
//! execution, as the dataframe's is. Each partition's chain becomes nested calls the graph's
//! plan fuses into one task; reductions are trees of at most `split_every` partials per task;
//! `groupby` hash-partitions items so equal keys meet. Functions are *registered names*,
//! resolved in the registry of whichever process runs the task.
//!
//! What it is not: a dataframe (see `rask-frame` for columnar data), nor a place for closures:
//! in-process closures cannot cross to worker processes, so bags take registered functions only.
//!
//! Main types: [`Bag`], [`BagError`].

mod kernels;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use rask_exec::{ExecError, Executor};
use rask_graph::workloads::tree_reduce;
use rask_graph::{Expr as Task, Graph, Key, Registry, Value};

/// Partials combined per task in a reduction tree (Dask's `split_every`).
const SPLIT_EVERY: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum BagError {
    #[error(transparent)]
    Exec(#[from] ExecError),
    #[error("bag: {0}")]
    Invalid(String),
}

#[derive(Clone, Debug)]
enum Source {
    /// Each partition's items, in the graph as literals.
    Items(Vec<Vec<Value>>),
    /// `[start, end)` per partition.
    Range(Vec<(i64, i64)>),
    /// One partition per text file: its lines.
    Text(Vec<PathBuf>),
    /// `[key, [items]]` pairs, hash-partitioned by key into `n` partitions.
    Grouped { input: Box<Bag>, key: String, n: usize },
}

#[derive(Clone, Debug)]
enum Step {
    Map(String),
    Filter(String),
    MapPartitions(String),
    Flatten,
}

/// A lazy, partitioned sequence of values.
#[derive(Clone, Debug)]
pub struct Bag {
    source: Source,
    steps: Vec<Step>,
    /// The first function this bag names that is not registered, or takes another number of
    /// arguments: reported before anything runs, as a task graph's would be.
    invalid: Option<String>,
}

static NEXT_TOKEN: AtomicU64 = AtomicU64::new(0);

fn fresh_token(kind: &str) -> String {
    format!("bag-{kind}-{}-{}", std::process::id(), NEXT_TOKEN.fetch_add(1, Relaxed))
}

impl Bag {
    /// `items` in `npartitions` partitions of about equal length (at least one).
    pub fn from_sequence(items: Vec<Value>, npartitions: usize) -> Bag {
        let n = npartitions.clamp(1, items.len().max(1));
        let len = items.len();
        let mut rest = items.into_iter();
        let parts = (0..n).map(|i| rest.by_ref().take((i + 1) * len / n - i * len / n).collect()).collect();
        Bag { source: Source::Items(parts), steps: Vec::new(), invalid: None }
    }

    /// The ints `0..n` in `npartitions` partitions, each made by its own task.
    pub fn range(n: i64, npartitions: usize) -> Bag {
        let k = npartitions.max(1) as i64;
        let n = n.max(0);
        let ranges = (0..k).map(|i| (i * n / k, (i + 1) * n / k)).collect();
        Bag { source: Source::Range(ranges), steps: Vec::new(), invalid: None }
    }

    /// The lines of text files (one partition each): a file or a directory's files, sorted.
    pub fn read_text(path: impl Into<PathBuf>) -> Result<Bag, BagError> {
        let path = path.into();
        if !path.exists() {
            return Err(BagError::Invalid(format!("{}: no such file or directory", path.display())));
        }
        let files = if path.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(&path)
                .map_err(|e| BagError::Invalid(format!("{}: {e}", path.display())))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect();
            files.sort();
            files
        } else {
            vec![path]
        };
        Ok(Bag { source: Source::Text(files), steps: Vec::new(), invalid: None })
    }

    pub fn npartitions(&self) -> usize {
        match &self.source {
            Source::Items(p) => p.len(),
            Source::Range(r) => r.len(),
            Source::Text(f) => f.len(),
            Source::Grouped { n, .. } => *n,
        }
    }

    fn then(mut self, step: Step) -> Bag {
        if let Step::Map(f) | Step::Filter(f) | Step::MapPartitions(f) = &step {
            self.invalid = self.invalid.or_else(|| check_function(f, 1).err());
        }
        self.steps.push(step);
        self
    }

    /// Refuses to run a bag (or reduce it with `functions`, each taking the given number of
    /// arguments) that names a function this binary cannot call.
    fn check(&self, functions: &[(&str, usize)]) -> Result<(), BagError> {
        if let Some(why) = &self.invalid {
            return Err(BagError::Invalid(why.clone()));
        }
        functions.iter().try_for_each(|&(f, n)| check_function(f, n)).map_err(BagError::Invalid)
    }

    /// `f(item)` for every item.
    pub fn map(self, f: &str) -> Bag {
        self.then(Step::Map(f.to_owned()))
    }

    /// The items for which `predicate(item)` is true (in Python's sense of truth).
    pub fn filter(self, predicate: &str) -> Bag {
        self.then(Step::Filter(predicate.to_owned()))
    }

    /// `f(partition)` for every partition: a list in, a list out.
    pub fn map_partitions(self, f: &str) -> Bag {
        self.then(Step::MapPartitions(f.to_owned()))
    }

    /// The items of items (each item must be a list).
    pub fn flatten(self) -> Bag {
        self.then(Step::Flatten)
    }

    /// Items grouped by `key(item)`: a bag of `[key, [items]]` pairs in `npartitions`
    /// partitions. Every item moves (a full shuffle): prefer [`Bag::foldby`] when the groups
    /// are only reduced.
    pub fn groupby(&self, key: &str, npartitions: usize) -> Bag {
        let invalid = self.invalid.clone().or_else(|| check_function(key, 1).err());
        let source = Source::Grouped { input: Box::new(self.clone()), key: key.to_owned(), n: npartitions.max(1) };
        Bag { source, steps: Vec::new(), invalid }
    }

    /// One task per partition; returns their keys.
    fn lower(&self, graph: &mut Graph, token: &str) -> Vec<Key> {
        let sources: Vec<Task> = match &self.source {
            Source::Items(parts) => parts.iter().map(|p| Task::from(Value::list(p.clone()))).collect(),
            Source::Range(ranges) => {
                ranges.iter().map(|&(a, b)| Task::call("bag_range", [Task::from(a), Task::from(b)])).collect()
            }
            Source::Text(files) => files
                .iter()
                .map(|f| Task::call("bag_read_text", [Task::from(Value::str(&f.to_string_lossy()))]))
                .collect(),
            Source::Grouped { input, key, n } => {
                let parts = input.lower(graph, &format!("{token}-in"));
                let splits: Vec<Key> = parts
                    .iter()
                    .enumerate()
                    .map(|(i, p)| {
                        let split = Key::from((format!("{token}-split").as_str(), i as i64));
                        let args = [Task::key(p.clone()), Task::from(Value::str(key)), Task::from(*n as i64)];
                        graph.insert(split.clone(), Task::call("bag_hash_split", args));
                        split
                    })
                    .collect();
                (0..*n)
                    .map(|j| {
                        let pieces =
                            splits.iter().map(|s| Task::call("getitem", [Task::key(s.clone()), Task::from(j as i64)]));
                        Task::call("bag_group", [Task::list(pieces), Task::from(Value::str(key))])
                    })
                    .collect()
            }
        };
        sources
            .into_iter()
            .enumerate()
            .map(|(i, source)| {
                let task = self.steps.iter().fold(source, |task, step| match step {
                    Step::Map(f) => Task::call("bag_map", [task, Task::from(Value::str(f))]),
                    Step::Filter(f) => Task::call("bag_filter", [task, Task::from(Value::str(f))]),
                    Step::MapPartitions(f) => Task::call("bag_map_partition", [task, Task::from(Value::str(f))]),
                    Step::Flatten => Task::call("bag_flatten", [task]),
                });
                let key = Key::from((token, i as i64));
                graph.insert(key.clone(), task);
                key
            })
            .collect()
    }

    /// A tree over the partitions: `leaf` of each, `combine` of at most `SPLIT_EVERY` results at
    /// a time, then `finish` of the last one. Runs it and returns the value.
    fn reduce(
        &self,
        executor: &dyn Executor,
        leaf: impl Fn(Task) -> Task,
        combine: impl Fn(Task) -> Task,
        finish: impl Fn(Task) -> Task,
    ) -> Result<Value, BagError> {
        self.check(&[])?;
        let token = fresh_token("reduce");
        let mut graph = Graph::new();
        let parts = self.lower(&mut graph, &token);
        // At least one combine, so that a single partition's partial is still combined.
        let top = tree_reduce(&mut graph, &token, parts, SPLIT_EVERY, 1, leaf, &combine)
            .map_or_else(|| combine(Task::list([])), Task::key);
        let root = Key::from((token.as_str(), -1i64));
        graph.insert(root.clone(), finish(top));
        Ok(executor.get(&graph, &[root], &Registry::new())?.remove(0))
    }

    /// `binop` folded over the items from `initial` (or from the first item), then the
    /// partitions' results folded by `combine` (default: `binop`): Dask's `fold`.
    pub fn fold(
        &self,
        binop: &str,
        combine: Option<&str>,
        initial: Option<Value>,
        executor: &dyn Executor,
    ) -> Result<Value, BagError> {
        self.check(&[(binop, 2), (combine.unwrap_or(binop), 2)])?;
        let start = Task::from(Value::list(initial.into_iter().collect::<Vec<_>>()));
        let combine = Task::from(Value::str(combine.unwrap_or(binop)));
        self.reduce(
            executor,
            |p| Task::call("bag_fold", [p, Task::from(Value::str(binop)), start.clone()]),
            |partials| Task::call("bag_combine", [partials, combine.clone()]),
            |top| Task::call("bag_unwrap", [top]),
        )
    }

    pub fn sum(&self, executor: &dyn Executor) -> Result<Value, BagError> {
        self.fold("add", None, Some(Value::Int(0)), executor)
    }

    pub fn min(&self, executor: &dyn Executor) -> Result<Value, BagError> {
        self.fold("min", None, None, executor)
    }

    pub fn max(&self, executor: &dyn Executor) -> Result<Value, BagError> {
        self.fold("max", None, None, executor)
    }

    /// The number of items.
    pub fn count(&self, executor: &dyn Executor) -> Result<usize, BagError> {
        let counted =
            self.reduce(executor, |p| Task::call("len", [p]), |counts| Task::call("sum", [counts]), |top| top)?;
        Ok(counted.as_int().unwrap_or(0) as usize)
    }

    /// The arithmetic mean of the items (numbers), as a float.
    pub fn mean(&self, executor: &dyn Executor) -> Result<f64, BagError> {
        let n = self.count(executor)?;
        if n == 0 {
            return Err(BagError::Invalid("mean of an empty bag".into()));
        }
        let total = self.sum(executor)?;
        let total = total.as_float().or_else(|| total.as_int().map(|i| i as f64));
        total.map(|t| t / n as f64).ok_or_else(|| BagError::Invalid("mean of non-numbers".into()))
    }

    /// Each distinct item with its count, most frequent first (ties in order of first
    /// appearance): Dask's `frequencies(sort=True)`.
    pub fn frequencies(&self, executor: &dyn Executor) -> Result<Vec<(Value, i64)>, BagError> {
        let pairs = self.reduce(
            executor,
            |p| Task::call("bag_frequencies", [p]),
            |lists| Task::call("bag_merge_counts", [lists]),
            |top| top,
        )?;
        let mut out = pairs_of(&pairs)?
            .into_iter()
            .map(|(k, v)| Ok((k, v.as_int().ok_or_else(|| BagError::Invalid("a count that is not an int".into()))?)))
            .collect::<Result<Vec<_>, BagError>>()?;
        out.sort_by_key(|(_, count)| std::cmp::Reverse(*count));
        Ok(out)
    }

    /// Each item once, in order of first appearance.
    pub fn distinct(&self, executor: &dyn Executor) -> Result<Vec<Value>, BagError> {
        let unique = self.reduce(
            executor,
            |p| Task::call("bag_distinct", [Task::list([p])]),
            |lists| Task::call("bag_distinct", [lists]),
            |top| top,
        )?;
        Ok(unique.as_seq().unwrap_or_default().to_vec())
    }

    /// Items reduced per `key(item)`: within a partition by `binop(total, item)` from `initial`
    /// (or the first item), across partitions by `combine(total, total)`. No item moves,
    /// only one total per key and partition: Dask's `foldby`. Pairs in order of first
    /// appearance.
    pub fn foldby(
        &self,
        key: &str,
        binop: &str,
        initial: Option<Value>,
        combine: &str,
        executor: &dyn Executor,
    ) -> Result<Vec<(Value, Value)>, BagError> {
        self.check(&[(key, 1), (binop, 2), (combine, 2)])?;
        let start = Task::from(Value::list(initial.into_iter().collect::<Vec<_>>()));
        let pairs = self.reduce(
            executor,
            |p| {
                let args = [p, Task::from(Value::str(key)), Task::from(Value::str(binop)), start.clone()];
                Task::call("bag_foldby", args)
            },
            |lists| Task::call("bag_merge_foldby", [lists, Task::from(Value::str(combine))]),
            |top| top,
        )?;
        pairs_of(&pairs)
    }

    /// The first `n` items, computing partitions in order only until there are enough.
    pub fn take(&self, n: usize, executor: &dyn Executor) -> Result<Vec<Value>, BagError> {
        self.check(&[])?;
        let token = fresh_token("take");
        let mut graph = Graph::new();
        let parts = self.lower(&mut graph, &token);
        let mut out = Vec::new();
        let mut next = 0;
        let mut batch = 1;
        while out.len() < n && next < parts.len() {
            let wanted = &parts[next..(next + batch).min(parts.len())];
            for v in executor.get(&graph, wanted, &Registry::new())? {
                out.extend(v.as_seq().unwrap_or_default().iter().cloned());
            }
            next += wanted.len();
            batch *= 2;
        }
        out.truncate(n);
        Ok(out)
    }

    /// Every item, in partition order.
    pub fn compute(&self, executor: &dyn Executor) -> Result<Vec<Value>, BagError> {
        self.check(&[])?;
        let (graph, root) = self.graph();
        let all = executor.get(&graph, &[root], &Registry::new())?.remove(0);
        Ok(all.as_seq().unwrap_or_default().to_vec())
    }

    /// The graph of [`Bag::compute`] and its output key.
    pub fn graph(&self) -> (Graph, Key) {
        let token = fresh_token("compute");
        let mut graph = Graph::new();
        let parts = self.lower(&mut graph, &token);
        let root = Key::from((token.as_str(), -1i64));
        graph.insert(root.clone(), Task::call("bag_concat", [Task::list(parts.into_iter().map(Task::key))]));
        (graph, root)
    }
}

/// Whether `name` is a function of this binary that takes `arguments` arguments.
fn check_function(name: &str, arguments: usize) -> Result<(), String> {
    static REGISTRY: std::sync::OnceLock<Registry> = std::sync::OnceLock::new();
    let registry = REGISTRY.get_or_init(Registry::new);
    match registry.get(name) {
        None => Err(format!("unknown function {name:?}: not a built-in, and not registered in this binary")),
        Some(f) if !f.arity().accepts(arguments) => {
            Err(format!("function {name:?} takes {:?} arguments; the bag calls it with {arguments}", f.arity()))
        }
        Some(_) => Ok(()),
    }
}

fn pairs_of(v: &Value) -> Result<Vec<(Value, Value)>, BagError> {
    v.as_seq()
        .unwrap_or_default()
        .iter()
        .map(|p| match p.as_seq() {
            Some([k, v]) => Ok((k.clone(), v.clone())),
            _ => Err(BagError::Invalid(format!("expected a [key, value] pair, got {p}"))),
        })
        .collect()
}

#[cfg(test)]
mod tests;
