//! A task's key as the scheduler holds it: its postcard encoding, inline up to 22 bytes.
//!
//! A key decoded from a message is a tree of allocations — `('s', 3, 12345)` is a 24-byte
//! `Key`, an `Arc<[Key]>` of 88 bytes and an `Arc<str>` for `'s'` — some 120 bytes a task kept
//! for the task's life, each a fresh allocation for the kernel to zero. Its encoding is about
//! ten bytes, held in the task itself; the decoded key is dropped as soon as the task is in.
//! A key is decoded again only for a message that names it, and one a message names is
//! encoded (on the stack, when short) to be looked up. The encoding is canonical — a key has
//! one — so equal bytes are equal keys.

use std::hash::Hasher;

use rask_graph::ids_by_key::hash_with;
use rask_graph::Key;
use rask_protocol::dist::{InlineBytes, WireKey};

#[derive(Clone, PartialEq, Eq)]
pub(super) struct StoredKey(InlineBytes);

impl StoredKey {
    pub(super) fn new(key: &Key) -> StoredKey {
        StoredKey(InlineBytes::encode(key).expect("a key encodes"))
    }

    /// The key, decoded (an allocation: for messages and errors).
    pub(super) fn key(&self) -> Key {
        self.0.decode().expect("the scheduler's own encoding of a key decodes")
    }

    /// The key as it travels to workers, still encoded.
    pub(super) fn wire(&self) -> WireKey {
        WireKey::Encoded(self.0.clone())
    }

    /// The hash the key index files it under.
    pub(super) fn hash(&self) -> u32 {
        hash_with(|h| h.write(&self.0))
    }
}

impl std::fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_survive_storing_and_equal_keys_store_alike() {
        let keys = [
            Key::from("x"),
            Key::Int(-7),
            Key::tuple([Key::from("s"), Key::Int(3), Key::Int(12345)]),
            Key::tuple([Key::from("a much longer name than fits inline"), Key::Int(1)]),
            Key::tuple([Key::tuple([Key::from("nested"), Key::Int(0)]), Key::Int(i64::MAX)]),
        ];
        for key in &keys {
            let stored = StoredKey::new(key);
            assert_eq!(&stored.key(), key);
            assert_eq!(stored, StoredKey::new(&key.clone()), "{key}");
            assert_eq!(stored.hash(), StoredKey::new(key).hash());
        }
        for (i, a) in keys.iter().enumerate() {
            for b in &keys[i + 1..] {
                assert_ne!(StoredKey::new(a), StoredKey::new(b), "{a} and {b}");
            }
        }
        assert!(std::mem::size_of::<StoredKey>() <= 24);
    }
}
