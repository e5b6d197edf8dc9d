//! Projection pushdown: walking down from the output, each node is asked only for the columns
//! its consumers read; a scan then reads just those (Parquet reads only their column chunks),
//! and a computed column nobody reads is not computed at all.

use std::sync::Arc;

use crate::plan::logical::{Logical, Scan};

pub(super) fn pass(plan: &Arc<Logical>) -> Arc<Logical> {
    prune(plan, None)
}

fn add(mut to: Vec<String>, more: impl IntoIterator<Item = String>) -> Vec<String> {
    for c in more {
        if !to.contains(&c) {
            to.push(c);
        }
    }
    to
}

/// `plan` narrowed to give `wanted` (`None`: every column).
fn prune(plan: &Arc<Logical>, wanted: Option<Vec<String>>) -> Arc<Logical> {
    let with = |children: Vec<Arc<Logical>>| Arc::new(plan.with_inputs(children));
    let plus = |extra: Vec<String>| wanted.clone().map(|w| add(w, extra));
    match &**plan {
        Logical::Scan(scan) => {
            let mut scan: Scan = scan.clone();
            if let Some(w) = wanted {
                let read = scan.filters.iter().flat_map(|f| f.column_names());
                scan.columns = Some(add(w, read));
            }
            Arc::new(Logical::Scan(scan))
        }
        Logical::Filter { input, predicate } => with(vec![prune(input, plus(predicate.column_names()))]),
        Logical::WithColumn { input, name, value } => match &wanted {
            // Nobody reads it: not computed.
            Some(w) if !w.contains(name) => prune(input, wanted),
            _ => {
                let below =
                    wanted.clone().map(|w| add(w.into_iter().filter(|c| c != name).collect(), value.column_names()));
                with(vec![prune(input, below)])
            }
        },
        Logical::Select { input, columns } => {
            let kept: Vec<String> = match &wanted {
                Some(w) => columns.iter().filter(|c| w.contains(c)).cloned().collect(),
                None => columns.clone(),
            };
            Arc::new(Logical::Select { input: prune(input, Some(kept.clone())), columns: kept })
        }
        Logical::Rename { input, pairs } => {
            let back = |c: String| pairs.iter().find(|(_, new)| *new == c).map_or(c, |(old, _)| old.clone());
            with(vec![prune(input, wanted.map(|w| w.into_iter().map(back).collect()))])
        }
        Logical::Aggregate { input, spec, .. } => {
            let read = add(spec.keys.clone(), spec.aggs.iter().map(|a| a.column.clone()));
            with(vec![prune(input, Some(read))])
        }
        Logical::Join { left, right, spec, .. } => {
            let (Some(ls), Some(rs)) = (super::schema(left), super::schema(right)) else {
                return with(vec![prune(left, None), prune(right, None)]);
            };
            let side = |names: Vec<String>, keys: &[String], output_name: &dyn Fn(&str) -> Option<String>| {
                wanted.as_ref().map(|w| {
                    let read = names.into_iter().filter(|n| output_name(n).is_some_and(|o| w.contains(&o)));
                    add(keys.to_vec(), read)
                })
            };
            let left_wanted = side(super::names(&ls), &spec.left_on, &|n| Some(n.to_owned()));
            let right_wanted = side(super::names(&rs), &spec.right_on, &|n| spec.right_name(n, &ls));
            with(vec![prune(left, left_wanted), prune(right, right_wanted)])
        }
        Logical::Sort { input, keys } | Logical::TopN { input, keys, .. } => {
            with(vec![prune(input, plus(keys.iter().map(|k| k.column.clone()).collect()))])
        }
        Logical::Shuffle { input, on, .. } => with(vec![prune(input, plus(on.clone()))]),
        Logical::SetIndex { input, column } | Logical::Loc { input, column, .. } => {
            with(vec![prune(input, plus(vec![column.clone()]))])
        }
        Logical::Union { inputs } => with(inputs.iter().map(|i| prune(i, wanted.clone())).collect()),
        // A mapped function may read any column.
        Logical::MapPartitions { input, .. } => with(vec![prune(input, None)]),
        Logical::Limit { input, .. }
        | Logical::Repartition { input, .. }
        | Logical::RepartitionBySize { input, .. }
        | Logical::Partitions { input, .. } => with(vec![prune(input, wanted)]),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::plan::optimize::tests::{scan, tree};
    use crate::{col, lit};

    #[test]
    fn scans_read_only_what_is_used_and_unused_columns_are_not_computed() {
        let computed = Arc::new(Logical::WithColumn { input: scan(), name: "c".into(), value: col("s").str_len() });
        let filtered = Arc::new(Logical::Filter { input: computed, predicate: col("b").gt(lit(0)) });
        let plan = Arc::new(Logical::Select { input: filtered, columns: vec!["a".into()] });
        assert_eq!(
            tree(&pass(&plan)),
            "Select [\"a\"]\n  Filter (b > 0)\n    Scan from_batches: 1 batches columns=[\"a\", \"b\"]\n"
        );
    }

    #[test]
    fn a_mapped_function_reads_everything() {
        let mapped = Arc::new(Logical::MapPartitions { input: scan(), function: "f".into(), meta: None });
        let plan = Arc::new(Logical::Select { input: mapped, columns: vec!["a".into()] });
        assert_eq!(tree(&pass(&plan)), "Select [\"a\"]\n  MapPartitions f\n    Scan from_batches: 1 batches\n");
    }
}
