//! The logical plan: what the user asked for, as pure data. Only the `Frame` API builds it;
//! the optimizer's passes rewrite it (`optimize/`); the planner turns it into a physical plan
//! (`planner.rs`). Nothing here reads data or chooses how work is done, except that a
//! `Join` carries the method the join pass chose.

use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::RecordBatch;

use crate::csv::TextSpec;
use crate::expr::Expr;
use crate::groupby::GroupSpec;
use crate::join::JoinSpec;
use crate::plan::physical::{Divisions, Held};
use crate::sort::SortKey;

/// A node of the logical plan. Children are shared (`Arc`): frames are values, and a plan
/// reused twice (a self-join, a scalar subquery) is one subtree.
#[derive(Clone, Debug)]
pub(crate) enum Logical {
    Scan(Scan),
    Filter {
        input: Arc<Logical>,
        predicate: Expr,
    },
    WithColumn {
        input: Arc<Logical>,
        name: String,
        value: Expr,
    },
    Select {
        input: Arc<Logical>,
        columns: Vec<String>,
    },
    Rename {
        input: Arc<Logical>,
        pairs: Vec<(String, String)>,
    },
    /// A registered function from batch to batch, per partition (it may read any column).
    MapPartitions {
        input: Arc<Logical>,
        function: String,
        meta: Option<arrow_schema::SchemaRef>,
    },
    Aggregate {
        input: Arc<Logical>,
        spec: GroupSpec,
        split_every: usize,
        split_out: usize,
    },
    Join {
        left: Arc<Logical>,
        right: Arc<Logical>,
        spec: JoinSpec,
        options: JoinOptions,
        method: Option<JoinMethod>,
    },
    Sort {
        input: Arc<Logical>,
        keys: Vec<SortKey>,
    },
    /// The first `n` rows by `keys` (the limit pass makes it from `Limit` over `Sort`).
    TopN {
        input: Arc<Logical>,
        keys: Vec<SortKey>,
        n: usize,
    },
    Limit {
        input: Arc<Logical>,
        n: usize,
    },
    /// The partitions of every input, in order (`concat`).
    Union {
        inputs: Vec<Arc<Logical>>,
    },
    Repartition {
        input: Arc<Logical>,
        n: usize,
    },
    /// Partitions of about `bytes`: a stage measures the input's partitions first.
    RepartitionBySize {
        input: Arc<Logical>,
        bytes: u64,
    },
    /// Rows in `n` partitions by a hash of `on`.
    Shuffle {
        input: Arc<Logical>,
        on: Vec<String>,
        n: usize,
    },
    /// Rows sorted by `column` into ranges with known divisions: a stage computes them.
    SetIndex {
        input: Arc<Logical>,
        column: String,
    },
    /// Rows whose index lies in `[lo, hi]`.
    Loc {
        input: Arc<Logical>,
        column: String,
        lo: f64,
        hi: f64,
    },
    /// Only these partitions, in this order (for `head`).
    Partitions {
        input: Arc<Logical>,
        keep: Vec<usize>,
    },
}

/// Where rows come from, with what the optimizer pushed into the reader.
#[derive(Clone, Debug)]
pub(crate) struct Scan {
    pub source: ScanSource,
    /// Filters the reader applies (and prunes row groups and partitions by).
    pub filters: Vec<Expr>,
    /// Columns the plan reads (`None`: all), set by projection pushdown.
    pub columns: Option<Vec<String>>,
    /// A persisted frame's known index.
    pub divisions: Option<Divisions>,
}

#[derive(Clone, Debug)]
pub(crate) enum ScanSource {
    /// Files, whole or one row group each (`Some(g)`).
    Parquet {
        parts: Vec<(PathBuf, Option<usize>)>,
        hive: Option<Arc<crate::sources::Hive>>,
    },
    /// Byte ranges `[start, end)` of CSV files, with the declared or inferred columns.
    Csv {
        ranges: Vec<(PathBuf, u64, u64)>,
        spec: TextSpec,
    },
    Batches(Vec<RecordBatch>),
    /// Partitions a cluster keeps.
    Held(Held),
}

/// What the user said about a join (see `MergeOptions`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct JoinOptions {
    pub strategy: crate::JoinStrategy,
    pub broadcast_threshold: u64,
    pub npartitions: Option<usize>,
}

/// How a join is executed: the join pass's choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum JoinMethod {
    /// The right side whole, joined to every left partition.
    Broadcast,
    /// An inner join with a small left side: the left side broadcast instead.
    BroadcastLeft,
    /// Both sides indexed on their key: aligned partition by partition (the right moved into
    /// the left's ranges if their divisions differ).
    Index,
    /// Hash partitions of the same number on each side; a side already hash-partitioned on
    /// its keys is not shuffled again.
    Hash { shuffle_left: bool, shuffle_right: bool },
}

impl ScanSource {
    pub fn npartitions(&self) -> usize {
        match self {
            ScanSource::Parquet { parts, .. } => parts.len(),
            ScanSource::Csv { ranges, .. } => ranges.len(),
            ScanSource::Batches(b) => b.len(),
            ScanSource::Held(h) => h.keys.len(),
        }
    }

    /// What the source reads, for `explain`.
    pub fn describe(&self) -> String {
        match self {
            ScanSource::Parquet { parts, .. } if parts.iter().any(|(_, g)| g.is_some()) => {
                format!("read_parquet: {} row groups", parts.len())
            }
            ScanSource::Parquet { parts, hive: Some(h) } => format!(
                "read_parquet: {} files of partition folders {:?}",
                parts.len(),
                h.columns.iter().map(|c| &c.0).collect::<Vec<_>>()
            ),
            ScanSource::Parquet { parts, .. } => format!("read_parquet: {} files", parts.len()),
            ScanSource::Csv { ranges, spec } => format!(
                "read_{}: {} byte ranges",
                if spec.format == crate::csv::TextFormat::Json { "json" } else { "csv" },
                ranges.len()
            ),
            ScanSource::Batches(b) => format!("from_batches: {} batches", b.len()),
            ScanSource::Held(h) => format!("persisted on the cluster: {} partitions", h.keys.len()),
        }
    }
}

impl Logical {
    /// The node's inputs (shared: cloning an `Arc`).
    pub fn inputs(&self) -> Vec<Arc<Logical>> {
        self.clone().inputs_mut().into_iter().map(|i| i.clone()).collect()
    }

    /// The same node over new inputs (in [`Logical::inputs`]' order).
    pub fn with_inputs(&self, new: Vec<Arc<Logical>>) -> Logical {
        let mut node = self.clone();
        for (slot, input) in node.inputs_mut().into_iter().zip(new) {
            *slot = input;
        }
        node
    }

    fn inputs_mut(&mut self) -> Vec<&mut Arc<Logical>> {
        match self {
            Logical::Scan(_) => Vec::new(),
            Logical::Join { left, right, .. } => vec![left, right],
            Logical::Union { inputs } => inputs.iter_mut().collect(),
            Logical::Filter { input, .. }
            | Logical::WithColumn { input, .. }
            | Logical::Select { input, .. }
            | Logical::Rename { input, .. }
            | Logical::MapPartitions { input, .. }
            | Logical::Aggregate { input, .. }
            | Logical::Sort { input, .. }
            | Logical::TopN { input, .. }
            | Logical::Limit { input, .. }
            | Logical::Repartition { input, .. }
            | Logical::RepartitionBySize { input, .. }
            | Logical::Shuffle { input, .. }
            | Logical::SetIndex { input, .. }
            | Logical::Loc { input, .. }
            | Logical::Partitions { input, .. } => vec![input],
        }
    }

    /// `f` applied bottom-up: every node rebuilt over its rewritten inputs, then rewritten.
    pub fn transform_up(self: &Arc<Logical>, f: &mut impl FnMut(Logical) -> Logical) -> Arc<Logical> {
        let inputs: Vec<Arc<Logical>> = self.inputs().into_iter().map(|i| i.transform_up(f)).collect();
        Arc::new(f(self.with_inputs(inputs)))
    }

    /// An upper bound of the output's bytes when one is cheap to know (files on disk, batches
    /// in memory; operations are assumed to shrink nothing).
    pub fn estimated_bytes(&self) -> Option<u64> {
        match self {
            Logical::Scan(scan) => match &scan.source {
                ScanSource::Parquet { parts, .. } => {
                    let mut files: Vec<&PathBuf> = parts.iter().map(|(f, _)| f).collect();
                    files.dedup();
                    files.iter().map(|f| std::fs::metadata(f).ok().map(|m| m.len())).sum()
                }
                ScanSource::Csv { ranges, .. } => Some(ranges.iter().map(|(_, start, end)| end - start).sum()),
                ScanSource::Batches(b) => Some(b.iter().map(|b| b.get_array_memory_size() as u64).sum()),
                ScanSource::Held(_) => None,
            },
            Logical::Join { left, right, .. } => Some(left.estimated_bytes()? + right.estimated_bytes()?),
            Logical::Union { inputs } => inputs.iter().map(|i| i.estimated_bytes()).sum(),
            other => other.inputs().first().and_then(|i| i.estimated_bytes()),
        }
    }

    /// The column the output is indexed by (sorted into ranges with divisions), if any.
    pub fn index(&self) -> Option<String> {
        match self {
            Logical::Scan(scan) => scan.divisions.as_ref().map(|d| d.column.clone()),
            Logical::SetIndex { column, .. } => Some(column.clone()),
            Logical::Filter { input, .. }
            | Logical::Loc { input, .. }
            | Logical::MapPartitions { input, .. }
            | Logical::Repartition { input, .. }
            | Logical::Partitions { input, .. } => input.index(),
            Logical::WithColumn { input, name, .. } => input.index().filter(|c| c != name),
            Logical::Select { input, columns } => input.index().filter(|c| columns.contains(c)),
            Logical::Rename { input, pairs } => input.index().filter(|c| !pairs.iter().any(|(old, _)| old == c)),
            Logical::Join { left, spec, method: Some(JoinMethod::Index), .. } if !spec.how.keeps_right() => {
                left.index()
            }
            _ => None,
        }
    }

    /// `(keys, n)` when the output's partition `i` holds exactly the rows whose keys hash to
    /// `i` of `n` (so a hash join on those keys need not shuffle it again).
    pub fn hash_partitioning(&self) -> Option<(Vec<String>, usize)> {
        let kept =
            |p: Option<(Vec<String>, usize)>, ok: &dyn Fn(&String) -> bool| p.filter(|(keys, _)| keys.iter().all(ok));
        match self {
            Logical::Shuffle { on, n, .. } => Some((on.clone(), *n)),
            Logical::Aggregate { input, spec, split_out, .. } if *split_out > 1 => match input.hash_partitioning() {
                // Aggregated where it lies (see the planner): the input's partitioning stays.
                Some((on, n)) if on.iter().all(|k| spec.keys.contains(k)) => Some((on, n)),
                _ => Some((spec.keys.clone(), *split_out)),
            },
            Logical::Filter { input, .. } => input.hash_partitioning(),
            Logical::Select { input, columns } => kept(input.hash_partitioning(), &|k| columns.contains(k)),
            Logical::WithColumn { input, name, .. } => kept(input.hash_partitioning(), &|k| k != name),
            Logical::Join { spec, method: Some(JoinMethod::Hash { .. }), options, left, right, .. }
                if !spec.how.keeps_right() =>
            {
                let n = match (left.hash_partitioning(), right.hash_partitioning()) {
                    (Some((k, n)), _) if k == spec.left_on => n,
                    (_, Some((k, n))) if k == spec.right_on => n,
                    _ => options.npartitions?,
                };
                Some((spec.left_on.clone(), n))
            }
            _ => None,
        }
    }

    /// One line saying what the node does (for `explain`).
    pub fn describe(&self) -> String {
        match self {
            Logical::Scan(scan) => {
                let what = scan.source.describe();
                let mut line = format!("Scan {what}");
                if let Some(c) = &scan.columns {
                    line.push_str(&format!(" columns={c:?}"));
                }
                for f in &scan.filters {
                    line.push_str(&format!(" filter={}", f));
                }
                line
            }
            Logical::Filter { predicate, .. } => format!("Filter {predicate}"),
            Logical::WithColumn { name, value, .. } => format!("WithColumn {name} = {value}"),
            Logical::Select { columns, .. } => format!("Select {columns:?}"),
            Logical::Rename { pairs, .. } => format!("Rename {pairs:?}"),
            Logical::MapPartitions { function, .. } => format!("MapPartitions {function}"),
            Logical::Aggregate { spec, split_out, .. } => format!(
                "Aggregate keys={:?} {:?} split_out={split_out}",
                spec.keys,
                spec.aggs.iter().map(|a| format!("{}={:?}({})", a.name, a.agg, a.column)).collect::<Vec<_>>()
            ),
            Logical::Join { spec, method, .. } => format!(
                "Join {:?} {:?} = {:?}{}",
                spec.how,
                spec.left_on,
                spec.right_on,
                method.map_or(String::new(), |m| format!(" method={m:?}"))
            ),
            Logical::Sort { keys, .. } => format!("Sort {}", sort_keys(keys)),
            Logical::TopN { keys, n, .. } => format!("TopN {n} by {}", sort_keys(keys)),
            Logical::Limit { n, .. } => format!("Limit {n}"),
            Logical::Union { inputs } => format!("Union of {}", inputs.len()),
            Logical::Repartition { n, .. } => format!("Repartition {n}"),
            Logical::RepartitionBySize { bytes, .. } => format!("RepartitionBySize {bytes} bytes (a stage measures)"),
            Logical::Shuffle { on, n, .. } => format!("Shuffle {on:?} into {n}"),
            Logical::SetIndex { column, .. } => format!("SetIndex {column} (a stage computes divisions)"),
            Logical::Loc { column, lo, hi, .. } => format!("Loc {column} in [{lo}, {hi}]"),
            Logical::Partitions { keep, .. } => format!("Partitions {keep:?}"),
        }
    }

    /// The plan as an indented tree.
    pub fn tree(&self, depth: usize, out: &mut String) {
        out.push_str(&format!("{}{}\n", "  ".repeat(depth), self.describe()));
        for input in self.inputs() {
            input.tree(depth + 1, out);
        }
    }
}

fn sort_keys(keys: &[SortKey]) -> String {
    keys.iter()
        .map(|k| {
            format!(
                "{} {}{}",
                k.column,
                if k.descending { "desc" } else { "asc" },
                if k.nulls_first { " nulls first" } else { "" }
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}
