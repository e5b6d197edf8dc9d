//! Join strategy: each join gets its method from what is known before running — estimated
//! sizes (files on disk, batches in memory), sorted indexes, hash partitioning:
//!
//! 1. both sides indexed on their key → aligned partition by partition (`Index`);
//! 2. a right side under the broadcast threshold → broadcast it (every join kind);
//! 3. a small left side → broadcast the left (inner, left, right and outer joins: the swapped
//!    join; semi and anti joins keep only left rows, so the right is hashed);
//! 4. the left indexed on its key → move only the right into its ranges (`Index`);
//! 5. else hash both into the same number of partitions — except a side already
//!    hash-partitioned on its join keys, which keeps its partitions (shuffle elimination).
//!
//! `JoinStrategy::Broadcast` and `Shuffle` force 2 and 5; a cross join always broadcasts.

use std::sync::Arc;

use crate::join::How;
use crate::plan::logical::{JoinMethod, JoinOptions, Logical};
use crate::JoinStrategy;

pub(super) fn pass(plan: &Arc<Logical>) -> Arc<Logical> {
    plan.transform_up(&mut |node| match node {
        Logical::Join { left, right, spec, options, method: None } => {
            let method = choose(&left, &right, &spec.left_on, &spec.right_on, spec.how, &options);
            Logical::Join { left, right, spec, options, method: Some(method) }
        }
        other => other,
    })
}

fn choose(
    left: &Logical,
    right: &Logical,
    left_on: &[String],
    right_on: &[String],
    how: How,
    options: &JoinOptions,
) -> JoinMethod {
    let small = |side: &Logical| side.estimated_bytes().is_some_and(|b| b <= options.broadcast_threshold);
    let indexed = |side: &Logical, on: &[String]| on.len() == 1 && side.index().as_deref() == Some(on[0].as_str());
    let hash = || {
        let partitioned = |side: &Logical, on: &[String]| {
            side.hash_partitioning().filter(|(keys, n)| keys == on && options.npartitions.is_none_or(|want| want == *n))
        };
        let (l, r) = (partitioned(left, left_on), partitioned(right, right_on));
        match (l, r) {
            // Both already placed alike: nothing moves.
            (Some((_, a)), Some((_, b))) if a == b => JoinMethod::Hash { shuffle_left: false, shuffle_right: false },
            (Some(_), _) => JoinMethod::Hash { shuffle_left: false, shuffle_right: true },
            (None, Some(_)) => JoinMethod::Hash { shuffle_left: true, shuffle_right: false },
            (None, None) => JoinMethod::Hash { shuffle_left: true, shuffle_right: true },
        }
    };
    match options.strategy {
        _ if how == How::Cross => JoinMethod::Broadcast,
        JoinStrategy::Broadcast => JoinMethod::Broadcast,
        JoinStrategy::Shuffle => hash(),
        JoinStrategy::Auto if indexed(left, left_on) && indexed(right, right_on) => JoinMethod::Index,
        JoinStrategy::Auto if small(right) => JoinMethod::Broadcast,
        JoinStrategy::Auto if matches!(how, How::Inner | How::Left | How::Right | How::Outer) && small(left) => {
            JoinMethod::BroadcastLeft
        }
        JoinStrategy::Auto if indexed(left, left_on) => JoinMethod::Index,
        JoinStrategy::Auto => hash(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::join::JoinSpec;
    use crate::plan::optimize::tests::{scan, tree};

    fn join(left: Arc<Logical>, right: Arc<Logical>, how: How, threshold: u64) -> Arc<Logical> {
        let spec = JoinSpec { left_on: vec!["a".into()], right_on: vec!["a".into()], how, suffix: "_r".into() };
        let options = JoinOptions { strategy: JoinStrategy::Auto, broadcast_threshold: threshold, npartitions: None };
        Arc::new(Logical::Join { left, right, spec, options, method: None })
    }

    fn method(plan: &Arc<Logical>) -> JoinMethod {
        match &*pass(plan) {
            Logical::Join { method: Some(m), .. } => *m,
            other => panic!("not a join: {other:?}"),
        }
    }

    #[test]
    fn small_sides_are_broadcast_and_large_ones_hashed() {
        assert_eq!(method(&join(scan(), scan(), How::Left, 1 << 20)), JoinMethod::Broadcast);
        assert_eq!(
            method(&join(scan(), scan(), How::Left, 0)),
            JoinMethod::Hash { shuffle_left: true, shuffle_right: true }
        );
        let big_right = Arc::new(Logical::Union { inputs: vec![scan(); 64] });
        let threshold = scan().estimated_bytes().unwrap();
        assert_eq!(method(&join(scan(), big_right, How::Inner, threshold)), JoinMethod::BroadcastLeft);
    }

    #[test]
    fn a_side_already_hashed_on_its_keys_is_not_shuffled_again() {
        let hashed = |n| Arc::new(Logical::Shuffle { input: scan(), on: vec!["a".into()], n });
        assert_eq!(
            method(&join(hashed(4), hashed(4), How::Inner, 0)),
            JoinMethod::Hash { shuffle_left: false, shuffle_right: false }
        );
        assert_eq!(
            method(&join(hashed(4), scan(), How::Inner, 0)),
            JoinMethod::Hash { shuffle_left: false, shuffle_right: true }
        );
        assert_eq!(
            method(&join(hashed(4), hashed(3), How::Inner, 0)),
            JoinMethod::Hash { shuffle_left: false, shuffle_right: true }
        );
        let on_other_key = Arc::new(Logical::Shuffle { input: scan(), on: vec!["b".into()], n: 4 });
        assert_eq!(
            method(&join(on_other_key, scan(), How::Inner, 0)),
            JoinMethod::Hash { shuffle_left: true, shuffle_right: true }
        );
        let planned = pass(&join(hashed(4), hashed(4), How::Inner, 0));
        assert!(tree(&planned).contains("shuffle_left: false, shuffle_right: false"));
    }

    #[test]
    fn indexed_sides_align() {
        let indexed = || Arc::new(Logical::SetIndex { input: scan(), column: "a".into() });
        assert_eq!(method(&join(indexed(), indexed(), How::Inner, 0)), JoinMethod::Index);
        assert_eq!(method(&join(indexed(), scan(), How::Inner, 0)), JoinMethod::Index);
    }
}
