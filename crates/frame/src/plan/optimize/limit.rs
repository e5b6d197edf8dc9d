//! Limit pushdown: `Limit` over `Sort` is a `TopN` (each partition keeps its top rows, no
//! full sort); limits combine, and move below one-to-one maps so fewer rows are computed.

use std::sync::Arc;

use crate::plan::logical::Logical;

pub(super) fn pass(plan: &Arc<Logical>) -> Arc<Logical> {
    plan.transform_up(&mut |node| match node {
        Logical::Limit { input, n } => limit(&input, n),
        other => other,
    })
}

/// The first `n` rows of `input`, as cheaply as the plan allows.
fn limit(input: &Arc<Logical>, n: usize) -> Logical {
    match &**input {
        Logical::Sort { input, keys } => Logical::TopN { input: input.clone(), keys: keys.clone(), n },
        Logical::TopN { input, keys, n: m } => Logical::TopN { input: input.clone(), keys: keys.clone(), n: n.min(*m) },
        Logical::Limit { input, n: m } => limit(input, n.min(*m)),
        Logical::Select { input: inner, .. }
        | Logical::WithColumn { input: inner, .. }
        | Logical::Rename { input: inner, .. } => input.with_inputs(vec![Arc::new(limit(inner, n))]),
        _ => Logical::Limit { input: input.clone(), n },
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::plan::optimize::tests::{scan, tree};
    use crate::sort::SortKey;

    #[test]
    fn a_limit_over_a_sort_is_a_top_n_below_the_maps() {
        let sorted = Arc::new(Logical::Sort { input: scan(), keys: vec![SortKey::desc("a")] });
        let selected = Arc::new(Logical::Select { input: sorted, columns: vec!["a".into()] });
        let plan = Arc::new(Logical::Limit { input: Arc::new(Logical::Limit { input: selected, n: 5 }), n: 3 });
        assert_eq!(tree(&pass(&plan)), "Select [\"a\"]\n  TopN 3 by a desc\n    Scan from_batches: 1 batches\n");
    }

    #[test]
    fn a_limit_over_a_filter_stays_above_it() {
        let filtered = Arc::new(Logical::Filter { input: scan(), predicate: crate::col("a").gt(crate::lit(1)) });
        let plan = Arc::new(Logical::Limit { input: filtered, n: 2 });
        assert_eq!(tree(&pass(&plan)), "Limit 2\n  Filter (a > 1)\n    Scan from_batches: 1 batches\n");
    }
}
