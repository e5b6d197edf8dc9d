//! From the optimized logical plan to the physical one. Each logical node maps to partition
//! operators; the join's method was chosen by the join pass. Data-dependent steps run here as
//! *stages* when an executor is given (divisions from samples for `SetIndex`, partition sizes
//! for `RepartitionBySize`); without one (`schema`, `explain`, `graph`) the planner uses what
//! needs no data: divisions sampled inside the graph, the input's partitions.

use std::convert::Infallible;

use arrow_array::Array;
use std::sync::Arc;

use rask_exec::Executor;

use super::logical::{JoinMethod, Logical, ScanSource};
use super::physical::{Physical, Source};
use crate::FrameError;

/// What the planner may run before the graph is built.
pub(crate) trait Stages {
    type Error;
    /// `n - 1` cut points of `column` in `input`, or `None` to sample them inside the graph.
    fn quantiles(&self, input: &Physical, column: &str, n: usize) -> Result<Option<Vec<f64>>, Self::Error>;
    /// The bytes of each partition of `input`, or `None` to keep its partitions.
    fn sizes(&self, input: &Physical) -> Result<Option<Vec<u64>>, Self::Error>;
}

/// Runs nothing.
pub(crate) struct NoStages;

impl Stages for NoStages {
    type Error = Infallible;
    fn quantiles(&self, _: &Physical, _: &str, _: usize) -> Result<Option<Vec<f64>>, Infallible> {
        Ok(None)
    }
    fn sizes(&self, _: &Physical) -> Result<Option<Vec<u64>>, Infallible> {
        Ok(None)
    }
}

/// Runs the stages on an executor.
pub(crate) struct RunStages<'a>(pub &'a dyn Executor);

impl Stages for RunStages<'_> {
    type Error = FrameError;
    fn quantiles(&self, input: &Physical, column: &str, n: usize) -> Result<Option<Vec<f64>>, FrameError> {
        input.quantiles(column, n, self.0).map(Some)
    }
    fn sizes(&self, input: &Physical) -> Result<Option<Vec<u64>>, FrameError> {
        input.sizes(self.0).map(Some)
    }
}

/// The physical plan of `plan` without running anything.
pub(crate) fn unstaged(plan: &Logical) -> Physical {
    match physical(plan, &NoStages) {
        Ok(p) => p,
        Err(never) => match never {},
    }
}

pub(crate) fn physical<S: Stages>(plan: &Logical, stages: &S) -> Result<Physical, S::Error> {
    let input = |l: &Arc<Logical>| physical(l, stages);
    Ok(match plan {
        Logical::Scan(scan) => {
            let source = match &scan.source {
                ScanSource::Parquet { parts, hive } => {
                    let (parts, hive) = prune_partitions(parts, hive.as_deref(), &scan.filters);
                    Source::Scan(ScanSource::Parquet { parts, hive })
                }
                other => Source::Scan(other.clone()),
            };
            let mut p = Physical { divisions: scan.divisions.clone(), ..Physical::new(source) };
            // Leading filters: the reader prunes row groups by their bounds.
            for f in &scan.filters {
                p = p.filter(f.clone());
            }
            if let Some(columns) = &scan.columns {
                p = p.select(&columns.iter().map(String::as_str).collect::<Vec<_>>());
            }
            p
        }
        Logical::Filter { input: i, predicate } => input(i)?.filter(predicate.clone()),
        Logical::WithColumn { input: i, name, value } => input(i)?.with_column(name, value.clone()),
        Logical::Select { input: i, columns } => {
            input(i)?.select(&columns.iter().map(String::as_str).collect::<Vec<_>>())
        }
        Logical::Rename { input: i, pairs } => {
            input(i)?.rename(&pairs.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect::<Vec<_>>())
        }
        Logical::MapPartitions { input: i, function, meta } => match meta {
            Some(m) => input(i)?.map_partitions_with_meta(function, m.clone()),
            None => input(i)?.map_partitions(function),
        },
        Logical::Aggregate { input: i, spec, split_every, split_out } => {
            // Partitioned output asked of an input already hash-partitioned on some of the
            // keys: every group lies in one partition, so each is aggregated where it is.
            let local =
                *split_out > 1 && i.hash_partitioning().is_some_and(|(on, _)| on.iter().all(|k| spec.keys.contains(k)));
            Physical::new(Source::Grouped {
                input: Box::new(input(i)?),
                spec: spec.clone(),
                split_every: *split_every,
                split_out: *split_out,
                local,
            })
        }
        Logical::Join { left, right, spec, options, method } => {
            let (l, r) = (input(left)?, input(right)?);
            let n = options.npartitions.unwrap_or(l.npartitions().max(r.npartitions()));
            let method = method.unwrap_or(JoinMethod::Hash { shuffle_left: true, shuffle_right: true });
            l.join(&r, spec, method, n)
        }
        Logical::Sort { input: i, keys } => input(i)?.sort_by(keys),
        Logical::TopN { input: i, keys, n } => input(i)?.top_n(keys, *n),
        Logical::Limit { input: i, n } => input(i)?.limit(*n),
        Logical::Union { inputs } => {
            Physical::new(Source::Union { inputs: inputs.iter().map(input).collect::<Result<Vec<_>, _>>()? })
        }
        Logical::Repartition { input: i, n } => input(i)?.repartition(*n),
        Logical::RepartitionBySize { input: i, bytes } => {
            let p = input(i)?;
            match stages.sizes(&p)? {
                Some(sizes) => p.resized(&sizes, *bytes),
                None => p,
            }
        }
        Logical::Shuffle { input: i, on, n } => input(i)?.shuffle(on, *n),
        Logical::SetIndex { input: i, column } => {
            let p = input(i)?;
            let cuts = stages.quantiles(&p, column, p.npartitions())?;
            p.set_index(column, cuts)
        }
        Logical::Loc { input: i, column, lo, hi } => input(i)?.loc(column, *lo, *hi),
        Logical::Partitions { input: i, keep } => {
            Physical::new(Source::Subset { input: Box::new(input(i)?), keep: keep.clone() })
        }
    })
}

/// A Parquet file, whole or one of its row groups.
type ParquetPart = (std::path::PathBuf, Option<usize>);

/// The files of a hive-partitioned scan whose partition values do not rule out a filter
/// (conjuncts that read only partition columns are evaluated on each file's values); at least
/// one file stays, so the scan keeps its schema (the filters still run on it).
fn prune_partitions(
    parts: &[ParquetPart],
    hive: Option<&crate::sources::Hive>,
    filters: &[crate::Expr],
) -> (Vec<ParquetPart>, Option<Arc<crate::sources::Hive>>) {
    let Some(hive) = hive else { return (parts.to_vec(), None) };
    let names: Vec<&String> = hive.columns.iter().map(|(n, _)| n).collect();
    let deciding: Vec<&crate::Expr> =
        filters.iter().filter(|f| f.column_names().iter().all(|c| names.contains(&c))).collect();
    let passes = |i: usize| {
        let Ok(row) = hive.row(i) else { return true };
        deciding.iter().all(|f| match f.evaluate(&row) {
            // A null or false condition keeps no row of the file; an error is left to the
            // filter itself, where it is reported.
            Ok(mask) => {
                mask.as_any().downcast_ref::<arrow_array::BooleanArray>().is_none_or(|m| m.value(0) && m.is_valid(0))
            }
            Err(_) => true,
        })
    };
    let mut kept: Vec<usize> = (0..parts.len()).filter(|&i| passes(i)).collect();
    if kept.is_empty() {
        kept.push(0);
    }
    let pruned = crate::sources::Hive {
        columns: hive.columns.clone(),
        values: kept.iter().map(|&i| hive.values[i].clone()).collect(),
    };
    (kept.iter().map(|&i| parts[i].clone()).collect(), Some(Arc::new(pruned)))
}
