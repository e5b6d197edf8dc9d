use std::sync::Arc;

use rask_graph::arena::with_arena;
use rask_graph::{Array, Value};

use super::*;

fn names_under(prefix: &str) -> Vec<String> {
    segment::list().into_iter().filter(|n| n.starts_with(prefix)).collect()
}

#[test]
fn a_segment_written_once_is_read_in_place_by_another_mapping() {
    let ns = Namespace::new("t1");
    let mut w = ns.create(4096).unwrap();
    w.bytes_mut()[..5].copy_from_slice(b"hello");
    let name = w.name().to_owned();
    let frozen = w.freeze();
    frozen.hand_over();
    let reader = Segment::open(&name).unwrap();
    assert_eq!(&reader.as_ref()[..5], b"hello");
    assert_ne!(reader.as_ref().as_ptr(), frozen.as_ref().as_ptr(), "a second mapping of the same pages");
    assert_eq!(names_under(ns.prefix()), vec![name.clone()]);
    reader.own_name();
    reader.unlink();
    assert!(names_under(ns.prefix()).is_empty(), "unlink removes the name");
    assert_eq!(&frozen.as_ref()[..5], b"hello", "mappings outlive the name");
    assert!(Segment::open(&name).is_err());
}

#[test]
fn an_owning_handle_removes_the_name_when_dropped_and_others_do_not() {
    let ns = Namespace::new("t2");
    let dropped = ns.create(10).unwrap().freeze().name().to_owned();
    assert!(Segment::open(&dropped).is_err(), "a creator that never hands over removes its segment");
    let made = ns.create(10).unwrap().freeze();
    made.hand_over();
    let name = made.name().to_owned();
    drop(made);
    drop(Segment::open(&name).unwrap());
    assert_eq!(names_under(ns.prefix()).len(), 1, "a reader's drop leaves the name");
    let owner = Segment::open(&name).unwrap();
    owner.own_name();
    drop(owner);
    assert!(names_under(ns.prefix()).is_empty());
}

#[test]
fn bad_names_and_empty_segments_are_errors() {
    assert!(Segment::create("a/b", 8).is_err());
    assert!(Segment::create("", 8).is_err());
    assert!(Namespace::new("t3").create(0).is_err());
    assert!(Segment::open("rask-does-not-exist").is_err());
}

#[test]
fn sweeps_remove_a_prefix_and_the_leftovers_of_dead_processes() {
    let mine = Namespace::new("t4");
    mine.create(8).unwrap().freeze().hand_over();
    mine.create(8).unwrap().freeze().hand_over();
    assert_eq!(mine.sweep(), 2);
    // A pid that cannot be running: above the kernel's pid_max limit (at most 2^22).
    let dead = Namespace::with_pid(9_999_999, "t4");
    dead.create(8).unwrap().freeze().hand_over();
    let live = Namespace::new("t4live");
    live.create(8).unwrap().freeze().hand_over();
    assert!(sweep_orphans() >= 1);
    assert!(names_under(dead.prefix()).is_empty(), "the dead process's segment is gone");
    assert_eq!(names_under(live.prefix()).len(), 1, "ours are left alone");
    live.sweep();
}

#[test]
fn task_functions_allocate_large_arrays_straight_into_segments() {
    let ns = Arc::new(Namespace::new("t5"));
    let arena = Arc::new(ShmArena::new(ns.clone(), 1024));
    let (big, small) =
        with_arena(arena, || (Array::f64_with(1000, |v| v.fill(2.0)).unwrap(), Array::f64_with(10, |_| ()).unwrap()));
    let (segment, range) = big.buffer().owner::<Segment>().expect("8000 bytes go to shared memory");
    assert_eq!(range, 0..8000);
    assert!(big.buffer().owner::<Segment>().is_some() && small.buffer().owner::<Segment>().is_none());
    let reader = Segment::open(segment.name()).unwrap();
    let view = Array::from_buffer(rask_graph::DType::F64, &[1000], Buffer::from_owner(Arc::new(reader))).unwrap();
    assert_eq!(Value::Array(view), Value::Array(big));
    assert_eq!(ns.sweep(), 0, "the arena's block is removed with the array that owns it");
}

#[test]
fn copies_are_counted() {
    let ns = Namespace::new("t6");
    traffic::take();
    let s = put(&ns, &[7u8; 300]).unwrap();
    assert_eq!(s.as_ref(), &[7u8; 300][..]);
    assert_eq!(traffic::take().0, 300);
    ns.sweep();
}

#[test]
fn size_classes_round_up_by_at_most_a_quarter_in_whole_pages() {
    for len in [1usize, 4095, 4096, 4097, 100_000, 400_000, 409_600, 1 << 20, (1 << 20) + 1, 123_456_789] {
        let size = size_class(len);
        assert!(size >= len && size % 4096 == 0, "{len} -> {size}");
        assert!(size <= len.div_ceil(4096) * 4096 * 5 / 4 + 4096, "{len} -> {size}: too much slack");
    }
    // Pieces of about the same size share a class.
    assert_eq!(size_class(395_000), size_class(410_000));
}

#[test]
fn a_pooled_segment_is_written_again_under_its_name_and_create_clears_it() {
    let pool = SegmentPool::new(1 << 20);
    let ns = Namespace::new("t8").with_pool(pool.clone());
    let mut first = ns.create_uninit(10_000).unwrap();
    assert!(!first.recycled());
    first.bytes_mut().fill(7);
    let name = first.name().to_owned();
    let size = size_class(10_000);
    // Dropped by its creator without being handed over: straight back to the pool.
    drop(first.freeze());
    assert_eq!((pool.len(), pool.held()), (1, size));
    assert_eq!(names_under(ns.prefix()), vec![name.clone()], "kept, not removed");
    let mut again = ns.create_uninit(9_000).unwrap();
    assert!(again.recycled());
    assert_eq!(again.name(), name);
    assert_eq!(again.bytes_mut().len(), 9_000);
    assert!(again.bytes_mut().iter().all(|&b| b == 7), "uninit: the old bytes");
    let frozen = again.freeze();
    frozen.hand_over();
    assert_eq!(frozen.len(), 9_000);
    assert_eq!(frozen.size(), size);
    drop(frozen);
    assert!(pool.is_empty(), "handed over: the receiver decides");
    pool.put(name.clone(), size);
    assert_eq!((pool.len(), pool.held()), (1, size), "taken back");
    let mut zeroed = ns.create(8_000).unwrap();
    assert!(zeroed.recycled() && zeroed.bytes_mut().iter().all(|&b| b == 0), "create clears what it recycles");
    drop(zeroed);
    // Too large for the pool's half-waste rule: a new segment.
    let big = ns.create_uninit(3 * size).unwrap();
    assert_ne!(big.name(), name);
    drop(big);
    assert_eq!(pool.clear(), 2, "clear removes what it held: the cleared one and the big one");
    assert!(names_under(ns.prefix()).is_empty());
}

#[test]
fn a_full_pool_refuses_and_a_size_no_longer_asked_for_drains_away() {
    let pool = SegmentPool::new(size_class(50_000));
    let ns = Namespace::new("t9").with_pool(pool.clone());
    let a = ns.create_uninit(50_000).unwrap().freeze();
    let b = ns.create_uninit(50_000).unwrap().freeze();
    let (a_name, b_name) = (a.name().to_owned(), b.name().to_owned());
    drop(a);
    drop(b);
    assert_eq!(pool.len(), 1);
    assert_eq!(names_under(ns.prefix()), vec![a_name.clone()], "the second did not fit: removed");
    assert!(Segment::open(&b_name).is_err());
    // A request the pooled segment cannot serve (it would waste more than half) evicts it.
    let small = ns.create_uninit(10_000).unwrap();
    assert!(!small.recycled());
    assert!(Segment::open(&a_name).is_err(), "the old size made room for the new");
    drop(small);
    assert_eq!((pool.len(), pool.held()), (1, size_class(10_000)));
    drop(pool);
    drop(ns);
    assert!(names_under("rask-").iter().all(|n| !n.contains("-t9-")), "the pool's segments go with it");
}

#[test]
fn a_claimed_name_goes_to_its_listener_or_is_removed_when_no_one_listens() {
    let ns = Namespace::new("t10");
    let made = ns.create(100).unwrap().freeze();
    made.hand_over();
    let name = made.name().to_owned();
    drop(made);
    assert_eq!(crate::size_of(&name).unwrap(), 100);
    let (tx, rx) = std::sync::mpsc::channel();
    drop(crate::Claim::adopt(&name).recycle_to(tx.clone()));
    assert_eq!(rx.try_recv(), Ok(name.clone()));
    assert!(Segment::open(&name).is_ok(), "the listener owns the name now");
    let again = crate::Claim::adopt(&name).recycle_to(tx);
    drop(rx);
    drop(again);
    assert!(Segment::open(&name).is_err(), "no listener: removed as usual");
    let made = ns.create(100).unwrap().freeze();
    made.hand_over();
    let unlinked = crate::Claim::adopt(made.name());
    drop(made);
    assert!(Segment::open(unlinked.name()).is_ok(), "handed over: the claim owns it");
    unlinked.unlink();
    assert!(Segment::open(unlinked.name()).is_err(), "unlinked at once");
}
