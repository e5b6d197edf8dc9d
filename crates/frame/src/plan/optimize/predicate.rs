//! Predicate pushdown: a filter moves as close to the data as it can — below maps that do not
//! make the columns it reads, renames (its columns renamed back), sorts and shuffles, a
//! group-by's keys, into the side of a join that owns its columns — and into the scan, whose
//! reader prunes row groups (and partitions) by it. A filter splits into its conjuncts, so
//! each part goes as far as it may.

use std::sync::Arc;

use crate::expr::Expr;
use crate::join::How;
use crate::plan::logical::{Logical, Scan};

pub(super) fn pass(plan: &Arc<Logical>) -> Arc<Logical> {
    plan.transform_up(&mut |node| match node {
        Logical::Filter { input, predicate } => (*push(&input, predicate)).clone(),
        other => other,
    })
}

/// `predicate` applied to `input`, pushed as far down as it may go.
fn push(input: &Arc<Logical>, predicate: Expr) -> Arc<Logical> {
    let over = |child: &Arc<Logical>, pushed: Arc<Logical>| Arc::new(child.with_inputs(vec![pushed]));
    match &**input {
        Logical::Scan(scan) => {
            let mut scan: Scan = scan.clone();
            scan.filters.extend(predicate.conjuncts());
            Arc::new(Logical::Scan(scan))
        }
        Logical::Filter { input: inner, predicate: first } => push(inner, first.clone().and(predicate)),
        // Row order and placement do not change which rows pass.
        Logical::Select { input: inner, .. }
        | Logical::Sort { input: inner, .. }
        | Logical::Repartition { input: inner, .. }
        | Logical::Shuffle { input: inner, .. }
        | Logical::SetIndex { input: inner, .. }
        | Logical::Loc { input: inner, .. } => over(input, push(inner, predicate)),
        Logical::Rename { input: inner, pairs } => {
            let back = |c: &str| pairs.iter().find(|(_, new)| new == c).map_or(c.to_owned(), |(old, _)| old.clone());
            over(input, push(inner, predicate.map_columns(&back)))
        }
        Logical::WithColumn { input: inner, name, .. } => {
            split(input, predicate, |e| !e.column_names().contains(name), |below| over(input, push(inner, below)))
        }
        Logical::Aggregate { input: inner, spec, .. } => split(
            input,
            predicate,
            |e| e.column_names().iter().all(|c| spec.keys.contains(c)),
            |below| over(input, push(inner, below)),
        ),
        Logical::Union { inputs } => {
            Arc::new(Logical::Union { inputs: inputs.iter().map(|i| push(i, predicate.clone())).collect() })
        }
        Logical::Join { left, right, spec, .. } => {
            let (Some(ls), Some(rs)) = (super::schema(left), super::schema(right)) else {
                return stay(input, predicate);
            };
            let left_names = super::names(&ls);
            // Right columns that keep their names in the output (no suffix, not a merged key).
            let right_names: Vec<String> = super::names(&rs)
                .into_iter()
                .filter(|n| spec.right_name(n, &ls).as_deref() == Some(n.as_str()))
                .collect();
            let to_left = matches!(spec.how, How::Inner | How::Left | How::Semi | How::Anti | How::Cross);
            let to_right = matches!(spec.how, How::Inner | How::Right | How::Cross);
            let (mut lefts, mut rights, mut above) = (Vec::new(), Vec::new(), Vec::new());
            for c in predicate.conjuncts() {
                let cols = c.column_names();
                if to_left && cols.iter().all(|n| left_names.contains(n)) {
                    lefts.push(c);
                } else if to_right && cols.iter().all(|n| right_names.contains(n)) {
                    rights.push(c);
                } else {
                    above.push(c);
                }
            }
            let side = |plan: &Arc<Logical>, conjuncts: Vec<Expr>| match Expr::all_of(conjuncts) {
                Some(p) => push(plan, p),
                None => plan.clone(),
            };
            let joined = Arc::new(input.with_inputs(vec![side(left, lefts), side(right, rights)]));
            match Expr::all_of(above) {
                Some(p) => stay(&joined, p),
                None => joined,
            }
        }
        // A limit, a top-N, a mapped function or a partition subset decides which rows there
        // are: the filter stays above.
        _ => stay(input, predicate),
    }
}

fn stay(input: &Arc<Logical>, predicate: Expr) -> Arc<Logical> {
    Arc::new(Logical::Filter { input: input.clone(), predicate })
}

/// The conjuncts `may_pass` allows go below (through `below`), the rest stay above.
fn split(
    input: &Arc<Logical>,
    predicate: Expr,
    may_pass: impl Fn(&Expr) -> bool,
    below: impl FnOnce(Expr) -> Arc<Logical>,
) -> Arc<Logical> {
    let (pass, keep): (Vec<Expr>, Vec<Expr>) = predicate.conjuncts().into_iter().partition(|c| may_pass(c));
    let lowered = match Expr::all_of(pass) {
        Some(p) => below(p),
        None => input.clone(),
    };
    match Expr::all_of(keep) {
        Some(p) => stay(&lowered, p),
        None => lowered,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::join::JoinSpec;
    use crate::plan::logical::JoinOptions;
    use crate::plan::optimize::tests::{scan, tree};
    use crate::{col, lit, JoinStrategy};

    fn filter(input: Arc<Logical>, predicate: Expr) -> Arc<Logical> {
        Arc::new(Logical::Filter { input, predicate })
    }

    #[test]
    fn filters_reach_the_scan_through_renames_and_computed_columns() {
        let renamed = Arc::new(Logical::Rename { input: scan(), pairs: vec![("a".into(), "x".into())] });
        let computed = Arc::new(Logical::WithColumn { input: renamed, name: "c".into(), value: col("x").add(lit(1)) });
        let plan = filter(computed, col("x").gt(lit(1)).and(col("c").lt(lit(5))));
        assert_eq!(
            tree(&pass(&plan)),
            "Filter (c < 5)\n  WithColumn c = (x + 1)\n    Rename [(\"a\", \"x\")]\n      Scan from_batches: 1 batches filter=(a > 1)\n"
        );
    }

    #[test]
    fn join_conjuncts_go_to_the_side_that_owns_their_columns() {
        let right = Arc::new(Logical::Rename {
            input: scan(),
            pairs: vec![("a".into(), "ra".into()), ("b".into(), "rb".into()), ("s".into(), "rs".into())],
        });
        let spec =
            JoinSpec { left_on: vec!["a".into()], right_on: vec!["ra".into()], how: How::Inner, suffix: "_r".into() };
        let options = JoinOptions { strategy: JoinStrategy::Auto, broadcast_threshold: 0, npartitions: None };
        let join = Arc::new(Logical::Join { left: scan(), right, spec, options, method: None });
        let plan = filter(join, col("b").gt(lit(1)).and(col("rb").lt(lit(2))).and(col("b").lt(col("rb"))));
        let out = tree(&pass(&plan));
        assert!(out.starts_with("Filter (b < rb)\n  Join Inner"), "{out}");
        assert!(out.contains("Scan from_batches: 1 batches filter=(b > 1)"), "{out}");
        assert!(out.contains("Scan from_batches: 1 batches filter=(b < 2)"), "the right's rb is its b: {out}");
    }

    #[test]
    fn a_filter_stays_above_a_limit_and_on_the_kept_side_of_an_outer_join() {
        let limited = Arc::new(Logical::Limit { input: scan(), n: 1 });
        let plan = filter(limited, col("a").gt(lit(1)));
        assert_eq!(tree(&pass(&plan)), "Filter (a > 1)\n  Limit 1\n    Scan from_batches: 1 batches\n");
        let spec =
            JoinSpec { left_on: vec!["a".into()], right_on: vec!["a".into()], how: How::Left, suffix: "_r".into() };
        let options = JoinOptions { strategy: JoinStrategy::Auto, broadcast_threshold: 0, npartitions: None };
        let join = Arc::new(Logical::Join { left: scan(), right: scan(), spec, options, method: None });
        let out = tree(&pass(&filter(join, col("b_r").gt(lit(1)))));
        assert!(out.starts_with("Filter (b_r > 1)"), "a right column of a left join is null-extended: {out}");
    }
}
