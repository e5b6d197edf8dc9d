//! Lowering a frame's plan to tasks: one task per output partition, each the source's task with
//! the chain of per-partition operations wrapped around it (the graph's plan then fuses the
//! chain into one task). Projection pushdown happens here: every source is asked only for the
//! columns its consumers read.

use rask_graph::{Expr as Task, Graph, Key, Value};

use crate::groupby::GroupSpec;
use crate::join::JoinSpec;
use crate::kernels::{encode, PartitionOp};
use crate::plan::logical::ScanSource;
use crate::plan::physical::{Cuts, JoinPlan, Physical, Source};
use crate::shuffle::{self, RowTarget};

impl Physical {
    /// The columns the source must provide for `wanted` output columns (`None`: all):
    /// projection pushdown, computed backwards through the operations.
    pub(crate) fn needed_columns(&self, wanted: Option<Vec<String>>) -> Option<Vec<String>> {
        self.pushdown(wanted).0
    }

    /// Projection pushdown, backwards through the operations: the columns the source must
    /// provide for `wanted` output columns (`None`: all), and the operations narrowed to them
    /// (a select keeps only what is read after it; a column nobody reads is not computed).
    fn pushdown(&self, wanted: Option<Vec<String>>) -> (Option<Vec<String>>, Vec<PartitionOp>) {
        let mut needed = wanted;
        let mut ops = Vec::with_capacity(self.ops.len());
        for op in self.ops.iter().rev() {
            match (op, needed.take()) {
                (PartitionOp::Select(names), Some(n)) => {
                    let kept: Vec<String> = names.iter().filter(|c| n.contains(c)).cloned().collect();
                    ops.push(PartitionOp::Select(kept.clone()));
                    needed = Some(kept);
                }
                (PartitionOp::Select(names), None) => {
                    ops.push(op.clone());
                    needed = Some(names.clone());
                }
                (PartitionOp::WithColumn(name, _), Some(n)) if !n.contains(name) => needed = Some(n),
                (PartitionOp::WithColumn(name, e), n) => {
                    ops.push(op.clone());
                    needed = n.map(|mut n| {
                        n.retain(|c| c != name);
                        e.columns(&mut n);
                        n
                    });
                }
                (PartitionOp::Filter(e), n) => {
                    ops.push(op.clone());
                    needed = n.map(|mut n| {
                        e.columns(&mut n);
                        n
                    });
                }
                (PartitionOp::Rename(pairs), n) => {
                    ops.push(op.clone());
                    // What is read after the rename, by the names it had before.
                    needed = n.map(|n| {
                        n.into_iter()
                            .map(|c| pairs.iter().find(|(_, new)| *new == c).map_or(c, |(old, _)| old.clone()))
                            .collect()
                    });
                }
                // A function may read any column.
                (PartitionOp::Map { .. }, _) => ops.push(op.clone()),
            }
        }
        ops.reverse();
        (needed, ops)
    }

    /// Adds one task per partition to `graph` and returns their keys.
    pub(crate) fn lower(&self, graph: &mut Graph, token: &str, wanted: Option<Vec<String>>) -> Vec<Key> {
        let (columns, ops) = self.pushdown(wanted);
        let sources = self.lower_source(graph, token, columns);
        sources
            .into_iter()
            .enumerate()
            .map(|(i, source)| {
                let key = Key::from((token, i as i64));
                graph.insert(key.clone(), chain(&ops, source));
                key
            })
            .collect()
    }

    /// The task giving each partition of the source, before the operations.
    fn lower_source(&self, graph: &mut Graph, token: &str, columns: Option<Vec<String>>) -> Vec<Task> {
        let input_token = format!("{token}-in");
        match &self.source {
            Source::Scan(ScanSource::Parquet { parts, hive }) => parts
                .iter()
                .enumerate()
                .map(|(i, (f, row_group))| {
                    let partition: Vec<(String, crate::Type, crate::Lit)> = hive.as_ref().map_or_else(Vec::new, |h| {
                        h.columns.iter().zip(&h.values[i]).map(|((n, t), v)| (n.clone(), *t, v.clone())).collect()
                    });
                    Task::call(
                        "frame_read_parquet",
                        [
                            Task::from(Value::str(&f.to_string_lossy())),
                            Task::from(encode(&columns)),
                            Task::from(encode(&self.pushed_filters())),
                            Task::from(row_group.map_or(Value::None, |g| Value::Int(g as i64))),
                            Task::from(encode(&partition)),
                        ],
                    )
                })
                .collect(),
            Source::Scan(ScanSource::Csv { ranges, spec }) => ranges
                .iter()
                .map(|(file, start, end)| {
                    Task::call(
                        "frame_read_csv",
                        [
                            Task::from(Value::str(&file.to_string_lossy())),
                            Task::from(*start as i64),
                            Task::from(*end as i64),
                            Task::from(encode(spec)),
                            Task::from(encode(&columns)),
                        ],
                    )
                })
                .collect(),
            Source::Scan(ScanSource::Batches(batches)) => {
                batches.iter().map(|b| Task::from(crate::batch::to_value(b.clone()))).collect()
            }
            Source::Scan(ScanSource::Held(held)) => held.keys.iter().cloned().map(Task::key).collect(),
            Source::Subset { input, keep } => {
                let parts = input.lower(graph, &input_token, columns);
                keep.iter().map(|&i| Task::key(parts[i].clone())).collect()
            }
            Source::Resized { input, outputs } => {
                let parts = input.lower(graph, &input_token, columns);
                outputs
                    .iter()
                    .map(|pieces| {
                        let slices = pieces.iter().map(|&(i, j, k)| {
                            Task::call(
                                "frame_slice",
                                [Task::key(parts[i].clone()), Task::from(j as i64), Task::from(k as i64)],
                            )
                        });
                        Task::call("frame_concat", [Task::list(slices)])
                    })
                    .collect()
            }
            Source::Union { inputs } => inputs
                .iter()
                .enumerate()
                .flat_map(|(i, input)| input.lower(graph, &format!("{token}-u{i}"), columns.clone()))
                .map(Task::key)
                .collect(),
            Source::Repartitioned { input, n } => lower_repartition(&input.lower(graph, &input_token, columns), *n),
            Source::Shuffled { input, target, cuts, n, sort } => {
                let wanted = columns.map(|mut c| {
                    match target {
                        RowTarget::Hash { on, .. } => c.extend(on.iter().cloned()),
                        RowTarget::Range { column, .. } => c.push(column.clone()),
                    }
                    c.extend(sort.iter().flatten().map(|k| k.column.clone()));
                    c
                });
                let parts = input.lower(graph, &input_token, wanted);
                let cuts = match (cuts, target) {
                    (Cuts::Known(c), _) => {
                        Task::from(Value::list(c.iter().map(|&x| Value::Float(x)).collect::<Vec<_>>()))
                    }
                    (Cuts::Sampled, RowTarget::Range { column, .. }) => {
                        Task::key(lower_quantiles(graph, token, &parts, column, *n))
                    }
                    _ => Task::from(Value::None),
                };
                let outputs = shuffle::lower(graph, token, &parts, target, cuts, *n);
                match sort {
                    Some(keys) => {
                        let encoded = encode(keys);
                        let mut sorted: Vec<Task> = outputs
                            .into_iter()
                            .map(|t| Task::call("frame_sort_partition", [t, Task::from(encoded.clone())]))
                            .collect();
                        if keys[0].descending {
                            sorted.reverse();
                        }
                        sorted
                    }
                    None => outputs,
                }
            }
            Source::TopN { input, keys, n } => {
                let wanted = columns.map(|mut c| {
                    c.extend(keys.iter().map(|k| k.column.clone()));
                    c
                });
                let parts = input.lower(graph, &input_token, wanted);
                let (keys, n) = (Task::from(encode(keys)), Task::from(*n as i64));
                let top = |inputs: Task| Task::call("frame_top_n", [inputs, keys.clone(), n.clone()]);
                let root = rask_graph::workloads::tree_reduce(
                    graph,
                    token,
                    parts,
                    crate::plan::physical::SPLIT_EVERY,
                    1,
                    top,
                    top,
                );
                vec![root.map_or_else(no_partitions, Task::key)]
            }
            Source::Limit { input, n } => {
                let parts = input.lower(graph, &input_token, columns);
                let heads = parts
                    .into_iter()
                    .map(|p| Task::call("frame_head", [Task::list([Task::key(p)]), Task::from(*n as i64)]));
                vec![Task::call("frame_head", [Task::list(heads), Task::from(*n as i64)])]
            }
            Source::Grouped { input, spec, split_every, split_out, local } => {
                lower_groupby(graph, token, input, spec, *split_every, if *local { 0 } else { *split_out })
            }
            Source::Join { left, right, spec, plan } => lower_join(graph, token, left, right, spec, *plan, columns),
        }
    }

    /// The conjuncts of the filters that come before anything changes a column: the reader
    /// skips row groups whose statistics rule them out and decodes the other columns only for
    /// rows that pass them (the filters still run after).
    fn pushed_filters(&self) -> Vec<crate::Expr> {
        let mut filters = Vec::new();
        for op in &self.ops {
            match op {
                PartitionOp::Filter(e) => filters.extend(e.clone().conjuncts()),
                PartitionOp::Select(_) => {}
                PartitionOp::WithColumn(..) | PartitionOp::Map { .. } | PartitionOp::Rename(_) => break,
            }
        }
        filters
    }

    /// The plan, readably: the tree of sources with their partition counts, the columns read,
    /// the operations, and the size of the graph `compute` runs.
    pub fn explain(&self) -> String {
        let mut out = String::new();
        self.describe(0, &mut out);
        let (graph, _) = self.graph();
        out.push_str(&format!("graph: {} tasks before fusion\n", graph.len()));
        out
    }

    fn describe(&self, depth: usize, out: &mut String) {
        let pad = "  ".repeat(depth);
        let n = self.npartitions();
        let line = match &self.source {
            Source::Scan(scan) => scan.describe(),
            Source::Subset { keep, .. } => format!("partitions {keep:?} only"),
            Source::Repartitioned { .. } => format!("repartition into {n}"),
            Source::Resized { .. } => format!("repartition by size into {n}"),
            Source::Shuffled { target: RowTarget::Hash { on, .. }, .. } => {
                format!("shuffle by hash of {on:?} into {n} (staged, at most {} per stage)", shuffle::MAX_BRANCH)
            }
            Source::Union { inputs } => format!("concat of {} frames", inputs.len()),
            Source::TopN { keys, n, .. } => format!("top {n} by {keys:?} (a tree of partial tops, no full sort)"),
            Source::Limit { n, .. } => format!("first {n} rows"),
            Source::Shuffled { target: RowTarget::Range { column, .. }, cuts, sort, .. } => format!(
                "{} by {column:?} into {n} ranges ({})",
                if sort.is_some() { "sort" } else { "move rows" },
                if matches!(cuts, Cuts::Known(_)) { "known divisions" } else { "divisions from samples" }
            ),
            Source::Grouped { spec, local: true, .. } => format!(
                "groupby {:?} -> {:?}: in place, the input is hash-partitioned on its keys",
                spec.keys,
                spec.aggs.iter().map(|a| a.name.as_str()).collect::<Vec<_>>()
            ),
            Source::Grouped { spec, split_out, split_every, .. } => format!(
                "groupby {:?} -> {:?}: tree of {split_every}, split_out {split_out}",
                spec.keys,
                spec.aggs.iter().map(|a| a.name.as_str()).collect::<Vec<_>>()
            ),
            Source::Join { spec, plan, .. } => {
                format!(
                    "merge on {:?} = {:?} ({:?}): {}",
                    spec.left_on,
                    spec.right_on,
                    spec.how,
                    match plan {
                        JoinPlan::Broadcast => "broadcast the right side",
                        JoinPlan::Aligned => "aligned on the index, partition by partition",
                        JoinPlan::Hashed => "both sides hash-shuffled, partition by partition",
                    }
                )
            }
        };
        out.push_str(&format!("{pad}{line} [{n} partitions]\n"));
        if let Some(d) = &self.divisions {
            out.push_str(&format!("{pad}  index {:?}, {} known divisions\n", d.column, d.cuts.len()));
        }
        if depth == 0 {
            match self.needed_columns(None) {
                Some(c) => out.push_str(&format!("{pad}  columns read: {}\n", c.join(", "))),
                None => out.push_str(&format!("{pad}  columns read: all\n")),
            }
        }
        for op in &self.ops {
            out.push_str(&format!("{pad}  then {op:?}\n"));
        }
        match &self.source {
            Source::Join { left, right, .. } => {
                left.describe(depth + 1, out);
                right.describe(depth + 1, out);
            }
            Source::Union { inputs } => inputs.iter().for_each(|i| i.describe(depth + 1, out)),
            Source::Subset { input, .. }
            | Source::Repartitioned { input, .. }
            | Source::Resized { input, .. }
            | Source::Shuffled { input, .. }
            | Source::TopN { input, .. }
            | Source::Limit { input, .. }
            | Source::Grouped { input, .. } => input.describe(depth + 1, out),
            _ => {}
        }
    }
}

/// `source` with `ops` around it: runs of built-in operations become one `frame_apply`; a
/// mapped function is a call of its own.
fn chain(ops: &[PartitionOp], source: Task) -> Task {
    let mut task = source;
    for run in ops.split_inclusive(|op| matches!(op, PartitionOp::Map { .. })) {
        let (builtin, map) = match run.split_last() {
            Some((PartitionOp::Map { function, .. }, rest)) => (rest, Some(function)),
            _ => (run, None),
        };
        if !builtin.is_empty() {
            task = Task::call("frame_apply", [task, Task::from(encode(&builtin.to_vec()))]);
        }
        if let Some(f) = map {
            task = Task::call(f, [task]);
        }
    }
    task
}

/// A key computing `n - 1` cut points from samples of `parts`' `column`.
pub(crate) fn lower_quantiles(graph: &mut Graph, token: &str, parts: &[Key], column: &str, n: usize) -> Key {
    let samples: Vec<Task> = parts
        .iter()
        .map(|p| Task::call("frame_sample", [Task::key(p.clone()), Task::from(Value::str(column))]))
        .collect();
    let key = Key::from((format!("{token}-divisions").as_str(), 0i64));
    graph.insert(key.clone(), Task::call("frame_divisions", [Task::list(samples), Task::from(n as i64)]));
    key
}

/// Group-by partials per partition, hash-split into `split_out` shares when there are several,
/// each share merged in a tree and finished.
fn lower_groupby(
    graph: &mut Graph,
    token: &str,
    input: &Physical,
    spec: &GroupSpec,
    split_every: usize,
    split_out: usize,
) -> Vec<Task> {
    let mut wanted = spec.keys.clone();
    wanted.extend(spec.aggs.iter().map(|a| a.column.clone()));
    let parts = input.lower(graph, &format!("{token}-in"), Some(wanted));
    let encoded = encode(spec);
    let partial = |p: Task| Task::call("frame_groupby_partial", [p, Task::from(encoded.clone())]);
    let merge = |inputs: Task| Task::call("frame_groupby_merge", [inputs, Task::from(encoded.clone())]);
    let finish = |top: Key| Task::call("frame_groupby_finish", [Task::key(top), Task::from(encoded.clone())]);
    if split_out == 0 {
        // Local: each partition holds whole groups, so its partial is already complete.
        return parts
            .into_iter()
            .map(|p| Task::call("frame_groupby_finish", [partial(Task::key(p)), Task::from(encoded.clone())]))
            .collect();
    }
    if split_out == 1 {
        // At least one merge, so that a single partition's partial is still merged into form.
        let top = rask_graph::workloads::tree_reduce(graph, token, parts, split_every, 1, partial, merge);
        return vec![top.map_or_else(no_partitions, finish)];
    }
    let target = encode(&RowTarget::Hash { on: spec.keys.clone(), n: split_out });
    let splits: Vec<Key> = parts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let key = Key::from((format!("{token}-split").as_str(), i as i64));
            let args = [
                partial(Task::key(p.clone())),
                Task::from(target.clone()),
                Task::from(Value::None),
                Task::from(1i64),
                Task::from(split_out as i64),
            ];
            graph.insert(key.clone(), Task::call("frame_shuffle_split", args));
            key
        })
        .collect();
    (0..split_out)
        .map(|j| {
            let share = |s: Task| Task::call("getitem", [s, Task::from(j as i64)]);
            let top = rask_graph::workloads::tree_reduce(
                graph,
                &format!("{token}-out{j}"),
                splits.clone(),
                split_every,
                1,
                share,
                merge,
            );
            top.map_or_else(no_partitions, &finish)
        })
        .collect()
}

fn lower_join(
    graph: &mut Graph,
    token: &str,
    left: &Physical,
    right: &Physical,
    spec: &JoinSpec,
    plan: JoinPlan,
    columns: Option<Vec<String>>,
) -> Vec<Task> {
    // Projection pushdown through the join: each side reads the keys and whatever the join's
    // consumers need (a side skips the columns it does not have).
    let wanted = columns.map(|mut c| {
        // A right column a left one shadows is read under its own name, `x` for `x_right`.
        let shadowed: Vec<String> =
            c.iter().filter_map(|n| n.strip_suffix(spec.suffix.as_str())).map(str::to_owned).collect();
        c.extend(shadowed);
        c.extend(spec.left_on.iter().cloned());
        c.extend(spec.right_on.iter().cloned());
        c
    });
    let left_parts = left.lower(graph, &format!("{token}-left"), wanted.clone());
    let right_parts = right.lower(graph, &format!("{token}-right"), wanted);
    let spec_value = Task::from(encode(spec));
    if plan != JoinPlan::Broadcast {
        return left_parts
            .iter()
            .zip(&right_parts)
            .map(|(l, r)| {
                Task::call("frame_join_local", [Task::key(l.clone()), Task::key(r.clone()), spec_value.clone()])
            })
            .collect();
    }
    let right_all = Key::from((format!("{token}-right").as_str(), -1i64));
    graph.insert(right_all.clone(), Task::call("frame_concat", [Task::list(right_parts.into_iter().map(Task::key))]));
    let mut out: Vec<Task> = left_parts
        .iter()
        .map(|l| Task::call("frame_join", [Task::key(l.clone()), Task::key(right_all.clone()), spec_value.clone()]))
        .collect();
    if spec.how.keeps_right() {
        // One more partition: the right rows no left partition matched.
        let bitmaps = left_parts.iter().map(|l| {
            Task::call("frame_join_matched", [Task::key(l.clone()), Task::key(right_all.clone()), spec_value.clone()])
        });
        let sample =
            Task::call("frame_head", [Task::list(left_parts.first().cloned().map(Task::key)), Task::from(0i64)]);
        out.push(Task::call("frame_join_unmatched", [sample, Task::list(bitmaps), Task::key(right_all), spec_value]));
    }
    out
}

/// What stands for a partition of a frame that has none: a task that fails saying so (there is
/// no schema to make an empty batch from).
pub(crate) fn no_partitions() -> Task {
    Task::call("frame_concat", [Task::list([])])
}

/// Each output partition of a repartition of `parts` into `n`.
fn lower_repartition(parts: &[Key], n: usize) -> Vec<Task> {
    let m = parts.len();
    if n <= m {
        // Output j gathers inputs [j*m/n, (j+1)*m/n).
        (0..n)
            .map(|j| {
                let group = &parts[j * m / n..(j + 1) * m / n];
                Task::call("frame_concat", [Task::list(group.iter().cloned().map(Task::key))])
            })
            .collect()
    } else {
        // Each input i gives outputs for j in [i*n/m, (i+1)*n/m), as equal slices.
        (0..n)
            .map(|j| {
                let i = (0..m).find(|&i| j < (i + 1) * n / m).expect("every output has an input");
                let (first, count) = (i * n / m, (i + 1) * n / m - i * n / m);
                Task::call(
                    "frame_slice",
                    [Task::key(parts[i].clone()), Task::from((j - first) as i64), Task::from(count as i64)],
                )
            })
            .collect()
    }
}
