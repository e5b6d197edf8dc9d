//! The mapping cache is per process, so it is tested in a binary of its own: turning it on here
//! cannot change what the unit tests see.

use rask_store::{cache_mappings, cached_bytes, size_class, Namespace, Segment, SegmentPool};

#[test]
fn mappings_outlive_their_handles_within_the_cap_and_go_with_their_names() {
    let size = size_class(100_000);
    cache_mappings(3 * size);
    let pool = SegmentPool::new(16 * size);
    let ns = Namespace::new("cache1").with_pool(pool.clone());

    let mut made = ns.create_uninit(100_000).unwrap();
    made.bytes_mut().fill(1);
    let (name, written_at) = (made.name().to_owned(), made.bytes_mut().as_ptr());
    let made = made.freeze();
    made.hand_over();
    drop(made);
    assert_eq!(cached_bytes(), size, "the maker's mapping stays");
    let read = Segment::open(&name).unwrap();
    assert_eq!(read.as_ref().as_ptr(), written_at, "read through the same mapping: no new page faults");
    assert!(read.as_ref()[..100_000].iter().all(|&b| b == 1));
    drop(read);

    // Back in the pool and taken again: written through the mapping it had.
    pool.put(name.clone(), size);
    assert_eq!((pool.len(), pool.held()), (1, size), "taken back");
    let mut again = ns.create_uninit(90_000).unwrap();
    assert!(again.recycled());
    assert_eq!(again.name(), name);
    assert_eq!(again.bytes_mut().as_ptr(), written_at);
    drop(again);

    // Least recently used go first past the cap; a name removed here is forgotten at once.
    let others: Vec<_> = (0..3).map(|_| ns.create_uninit(300_000).unwrap().freeze()).collect();
    assert!(cached_bytes() <= 3 * size, "{} bytes cached", cached_bytes());
    for segment in &others {
        segment.hand_over();
    }
    let names: Vec<String> = others.iter().map(|s| s.name().to_owned()).collect();
    drop(others);
    for name in &names {
        rask_store::remove(name).unwrap();
        assert!(Segment::open(name).is_err(), "a removed name is not served from the cache");
    }
    pool.clear();
    assert_eq!(cached_bytes(), 0, "every name this process removed was forgotten");
    cache_mappings(0);
}
