//! How a worker hands its results to whoever asks: by segment name to a peer on the same
//! machine when the value lives in shared memory (moved there when made, or the first time
//! such a peer asks), by value otherwise; within a byte budget per reply.

use std::sync::Arc;

use rask_graph::{Key, Value};
use rask_protocol::dist::DataReply;
use rask_protocol::WireValue;
use rask_store::Namespace;

use crate::store::Store;

/// The segments a worker made and no process reads any more, kept to be written again
/// (`rask_store::SegmentPool`). Its segments are leased: one whose name went to peers comes
/// back once every peer has let go of it (`rask_store::Segment::lend`).
pub(crate) fn segment_pool() -> Arc<rask_store::SegmentPool> {
    static POOL: std::sync::OnceLock<Arc<rask_store::SegmentPool>> = std::sync::OnceLock::new();
    POOL.get_or_init(|| rask_store::SegmentPool::new(pool_cap(0))).clone()
}

/// Bytes a worker keeps in its pool, and again in mappings it keeps (of segments it made or
/// fetched, see `rask_store::cache_mappings`): a thirty-second of physical memory, a worker
/// process's share when a machine runs a few (the process executor splits a sixteenth between
/// its workers); at most an eighth of the worker's memory limit, if it has one — both count in
/// its resident memory.
fn pool_cap(memory_limit: u64) -> usize {
    let share = rask_graph::arena::physical_memory() / 32;
    if memory_limit == 0 {
        return share;
    }
    share.min((memory_limit / 8) as usize)
}

/// A namespace for a worker's segments (`tag` tells its task threads and data server apart),
/// served from its pool.
pub(crate) fn namespace(tag: &str) -> Namespace {
    Namespace::new(tag).with_pool(segment_pool()).leased()
}

/// Set up as a worker joins: its pool's cap, and mappings kept so that segments written and
/// read again under the same names cost no page faults the second time.
pub(crate) fn start(memory_limit: u64) {
    segment_pool().set_cap(pool_cap(memory_limit));
    rask_store::cache_mappings(pool_cap(memory_limit));
}

/// Memory given back under pressure, before any result is spilled: the pooled segments, and
/// the mappings kept of segments no handle holds (their pages, if their names are gone).
pub(crate) fn shed() {
    let pool = segment_pool();
    pool.clear();
    rask_store::cache_mappings(pool.cap());
}

/// Undone as a worker leaves: its pooled segments are removed, its kept mappings let go.
pub(crate) fn finish() {
    segment_pool().clear();
    rask_store::cache_mappings(0);
}

/// Arrays and bytes from this size up are made in shared memory.
pub(crate) const SHARE_MIN: usize = 256 << 10;

/// A value for a peer: by segment name if the peer is on this machine and the value lives in
/// shared memory (it maps the same pages; a list item by item), else the value itself.
fn share(value: Value, same_host: bool) -> WireValue {
    if same_host {
        if let Some((segment, r)) = rask_exec::wire::by_reference(&value) {
            // The peer maps it and may keep it: lent, so that the segment goes back to its
            // creator's pool only once the peer is done with it.
            segment.lend();
            return WireValue::Shared(r);
        }
        if let Value::List(items) = &value {
            if items.iter().any(|v| rask_exec::wire::by_reference(v).is_some()) {
                return WireValue::List(items.iter().map(|v| share(v.clone(), true)).collect());
            }
        }
    }
    WireValue::Inline(value)
}

/// A large value on the heap — an array or bytes a function made there (a user's own, or an
/// intermediate returned whole), an extension value (an Arrow batch), or a list holding some —
/// moved into shared memory: copied or encoded once into a segment and read in place from then
/// on, so that peers on this machine map it as they map arrays made in the arena. Anything that
/// cannot be moved stays as it is. Task threads move their results as they make them; a value
/// still on the heap when a peer on this machine asks (read back after a spill, say) is moved
/// then, and kept moved.
pub(crate) fn into_shared(value: &Value, namespace: &Namespace) -> Option<Value> {
    let on_heap = |b: &rask_graph::Buffer| b.len() >= SHARE_MIN && b.owner::<rask_store::Segment>().is_none();
    match value {
        Value::Array(a) if on_heap(a.buffer()) => {
            let buffer = copied_into_segment(a.buffer(), namespace)?;
            rask_graph::Array::from_buffer(a.dtype(), a.shape(), buffer).ok().map(Value::Array)
        }
        Value::Bytes(b) if on_heap(b) => copied_into_segment(b, namespace).map(Value::Bytes),
        Value::Ext(e) if e.nbytes() >= SHARE_MIN && e.encoded_source().is_none() => {
            // Encoded straight into the segment, which this worker's store then owns.
            let layout = rask_protocol::Layout::Ext { type_name: e.type_name().to_owned() };
            let (r, segment) = rask_exec::wire::park_encoded(namespace, e, layout, false).ok()?;
            let buffer = rask_graph::Buffer::from_owner(Arc::new(segment)).slice(0, r.len as usize);
            rask_graph::ext::Ext::decode(e.type_name(), buffer).ok().map(Value::Ext)
        }
        Value::List(items) if value.nbytes() >= SHARE_MIN => {
            let moved: Vec<Option<Value>> = items.iter().map(|v| into_shared(v, namespace)).collect();
            moved
                .iter()
                .any(Option::is_some)
                .then(|| Value::list(moved.into_iter().zip(items.iter()).map(|(m, v)| m.unwrap_or_else(|| v.clone()))))
        }
        _ => None,
    }
}

/// `bytes` copied into a segment of `namespace`, as a buffer over it.
fn copied_into_segment(bytes: &rask_graph::Buffer, namespace: &Namespace) -> Option<rask_graph::Buffer> {
    let segment = rask_store::put(namespace, bytes.as_slice()).ok()?;
    Some(rask_graph::Buffer::from_owner(Arc::new(segment)))
}

/// Bytes of results one data reply carries, about: past it the rest of the request is
/// deferred, so serving a large gather never loads every spilled result at once nor builds
/// one frame of gigabytes.
pub const REPLY_BUDGET: u64 = 64 << 20;

/// The reply to a request for `keys`; of a list in `picks`, only the items at those positions
/// (the others `None`), so a task picking one piece of a shuffle's split is sent that piece.
pub(crate) fn answer(
    store: &Store,
    keys: Vec<Key>,
    picks: &[(Key, Vec<i64>)],
    same_host: bool,
    namespace: &Namespace,
) -> DataReply {
    let mut values = Vec::new();
    let mut deferred = Vec::new();
    let mut budget = REPLY_BUDGET;
    for key in keys {
        let size = store.size_of(&key).unwrap_or(0);
        if !values.is_empty() && size > budget {
            deferred.push(key);
            budget = 0;
            continue;
        }
        budget = budget.saturating_sub(size);
        let value = store.get(&key).map(|v| {
            // The whole value is moved and kept moved (the next peer maps the same segments);
            // only then are the picked items taken out of it for this reply.
            let v = match same_host.then(|| into_shared(&v, namespace)).flatten() {
                Some(shared) => {
                    store.reform(&key, shared.clone());
                    shared
                }
                None => v,
            };
            let v = match (&v, picks.iter().find(|(k, _)| *k == key)) {
                (Value::List(items), Some((_, read))) => rask_exec::wire::only_items(items, read),
                _ => v,
            };
            share(v, same_host)
        });
        values.push((key, value));
    }
    DataReply { values, deferred }
}

/// Payload bytes of a reply (by reference or not: what the peer receives).
pub(crate) fn reply_bytes(reply: &DataReply) -> u64 {
    let wire_bytes = |w: &WireValue| match w {
        WireValue::Inline(v) => v.nbytes() as u64,
        shared => shared.shared_refs().iter().map(|r| r.len).sum(),
    };
    reply.values.iter().filter_map(|(_, v)| v.as_ref()).map(wire_bytes).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rask_graph::ext::{Ext, ExtValue};
    use rask_graph::Buffer;

    /// Bytes as an extension value; decoded in place from whatever holds them.
    struct Blob(Buffer);

    impl ExtValue for Blob {
        fn type_name(&self) -> &'static str {
            "test.Blob"
        }
        fn nbytes(&self) -> usize {
            self.0.len()
        }
        fn encode(&self) -> Result<Vec<u8>, String> {
            Ok(self.0.as_slice().to_vec())
        }
        fn eq_ext(&self, other: &dyn ExtValue) -> bool {
            other.as_any().downcast_ref::<Blob>().is_some_and(|o| o.0.as_slice() == self.0.as_slice())
        }
        fn fmt_repr(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "Blob({})", self.0.len())
        }
        fn as_any(&self) -> &dyn std::any::Any {
            self
        }
        fn encoded_source(&self) -> Option<&Buffer> {
            // Only a blob decoded from a segment: one made on the heap has no source yet.
            self.0.owner::<rask_store::Segment>().map(|_| &self.0)
        }
    }

    fn decode_blob(bytes: Buffer) -> Result<Ext, String> {
        Ok(Ext::new(Blob(bytes)))
    }

    rask_graph::register_ext!("test.Blob", decode_blob);

    fn blob(n: usize) -> Value {
        Value::Ext(Ext::new(Blob(Buffer::from_vec((0..n).map(|i| i as u8).collect()))))
    }

    /// A task thread's result goes back to the worker's pool when released: at once if no
    /// peer mapped it, only once the peer let go of it if one did (its lease, given back when
    /// its handle drops). Until then it is set aside, never written again.
    #[test]
    fn a_segment_lent_to_a_peer_goes_back_to_the_pool_once_the_peer_lets_go() {
        let dir = std::env::temp_dir().join(format!("rask-sharing-pool-{}", std::process::id()));
        let store = Store::new(0, dir);
        let pool = rask_store::SegmentPool::new(64 << 20);
        let namespace = Namespace::new("sharing2").with_pool(pool.clone()).leased();
        let (mine, theirs) = (Key::from("mine"), Key::from("theirs"));
        for key in [&mine, &theirs] {
            let value = into_shared(&blob(SHARE_MIN * 2), &namespace).expect("moved into a segment");
            store.insert(key.clone(), value);
        }
        let reply = answer(&store, vec![theirs.clone()], &[], true, &namespace);
        let Some(WireValue::Shared(r)) = &reply.values[0].1 else { panic!("{:?}", reply.values[0].1) };
        // The peer maps what it was sent (as `Peers::materialize` does).
        let peer_copy = rask_store::Segment::open(&r.segment).expect("the peer maps it");
        store.remove(&[mine, theirs]);
        assert_eq!((pool.len(), pool.lent()), (1, 1), "the unshared segment is pooled, the lent one set aside");
        drop(peer_copy);
        let names: Vec<String> = (0..2)
            .map(|_| {
                let again = namespace.create_uninit(SHARE_MIN * 2).unwrap();
                assert!(again.recycled(), "both came back");
                let name = again.name().to_owned();
                std::mem::forget(again.freeze());
                name
            })
            .collect();
        assert!(names.contains(&r.segment), "{names:?}");
        for name in names {
            rask_store::remove(&name).unwrap();
        }
        pool.clear();
        assert!(rask_store::list().iter().all(|n| !n.starts_with(namespace.prefix())));
    }

    #[test]
    fn a_large_value_still_on_the_heap_moves_into_shared_memory_when_a_peer_on_this_machine_asks() {
        let dir = std::env::temp_dir().join(format!("rask-sharing-test-{}", std::process::id()));
        let store = Store::new(0, dir);
        let namespace = Namespace::new("sharing1");
        let (big, small) = (Key::from("big"), Key::from("small"));
        store.insert(big.clone(), blob(SHARE_MIN * 2));
        store.insert(small.clone(), blob(100));
        let in_shm = |key: &Key| rask_exec::wire::by_reference(&store.get(key).unwrap()).is_some();
        assert!(!in_shm(&big), "made on the heap, and left there while no one asks");

        // A peer on another machine gets the value itself; nothing moves.
        let reply = answer(&store, vec![big.clone()], &[], false, &namespace);
        assert!(matches!(&reply.values[0].1, Some(WireValue::Inline(_))));
        assert!(!in_shm(&big) && rask_store::list().iter().all(|n| !n.starts_with(namespace.prefix())));

        // A peer on this machine: the value moves once, and both peers get its name.
        let counted = store.usage().in_memory;
        let first = answer(&store, vec![big.clone(), small.clone()], &[], true, &namespace);
        let Some(WireValue::Shared(r)) = &first.values[0].1 else { panic!("{:?}", first.values[0].1) };
        assert_eq!(r.len as usize, SHARE_MIN * 2);
        assert!(matches!(&first.values[1].1, Some(WireValue::Inline(_))), "small values travel as they are");
        assert!(in_shm(&big), "kept in its shared form");
        assert_eq!(store.get(&big).unwrap(), blob(SHARE_MIN * 2), "the same value");
        let again = answer(&store, vec![big.clone()], &[], true, &namespace);
        assert_eq!(again.values[0].1, first.values[0].1, "the second peer maps the same segment");
        assert_eq!(store.usage().in_memory, counted, "its counted size is unchanged");

        store.remove(&[big]);
        assert!(rask_store::list().iter().all(|n| !n.starts_with(namespace.prefix())), "its segment goes with it");
    }

    /// An array or bytes a function made on the heap (not in the task thread's arena) is
    /// copied into a segment once, so peers on this machine map it instead of receiving it
    /// through a socket; small ones stay where they are.
    #[test]
    fn large_arrays_and_bytes_made_on_the_heap_move_into_shared_memory() {
        let namespace = Namespace::new("sharing3");
        let n = SHARE_MIN / 8 * 2;
        let heap = Value::Array(rask_graph::Array::from_vec((0..n).map(|i| i as f64).collect::<Vec<_>>()));
        let bytes = Value::Bytes(Buffer::from_vec(vec![7u8; SHARE_MIN]));
        for value in [heap, bytes] {
            assert!(rask_exec::wire::by_reference(&value).is_none(), "made on the heap");
            let moved = into_shared(&value, &namespace).expect("moved");
            assert!(rask_exec::wire::by_reference(&moved).is_some(), "now in a segment");
            assert_eq!(moved, value, "the same value");
            assert!(into_shared(&moved, &namespace).is_none(), "moved once");
        }
        let small = Value::Array(rask_graph::Array::from_vec(vec![1.0f64; 16]));
        assert!(into_shared(&small, &namespace).is_none());
        assert!(rask_store::list().iter().all(|n| !n.starts_with(namespace.prefix())), "gone with the values");
    }

    #[test]
    fn a_peer_picking_items_of_a_heap_list_gets_those_and_the_store_keeps_the_whole_list() {
        let dir = std::env::temp_dir().join(format!("rask-sharing-test-picks-{}", std::process::id()));
        let store = Store::new(0, dir);
        let namespace = Namespace::new("sharing2");
        let parts = Key::from("parts");
        let whole = Value::list([blob(SHARE_MIN), blob(SHARE_MIN + 1), blob(SHARE_MIN + 2)]);
        store.insert(parts.clone(), whole.clone());
        let reply = answer(&store, vec![parts.clone()], &[(parts.clone(), vec![-1])], true, &namespace);
        let Some(WireValue::List(items)) = &reply.values[0].1 else { panic!("{:?}", reply.values[0].1) };
        assert!(
            matches!(&items[..], [WireValue::Inline(Value::None), WireValue::Inline(Value::None), WireValue::Shared(r)]
            if r.len as usize == SHARE_MIN + 2)
        );
        assert_eq!(store.get(&parts).unwrap(), whole, "every item is still held, now in shared memory");
        let again = answer(&store, vec![parts.clone()], &[], true, &namespace);
        let Some(WireValue::List(items)) = &again.values[0].1 else { panic!("{:?}", again.values[0].1) };
        assert!(items.iter().all(|w| matches!(w, WireValue::Shared(_))), "{items:?}");
        store.remove(&[parts]);
    }
}
