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
