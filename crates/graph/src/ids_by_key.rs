//! Ids found by the key each stands for, the keys held elsewhere: the plan reader's table of
//! keys and the scheduler's index of tasks both use it.
//!
//! A map from [`Key`] to id would hold a second copy of every key (24 bytes) beside the one its
//! owner holds. A slot here is the id and 32 bits of the key's hash (8 bytes); a lookup
//! compares against the owner's key (`is(id)`), and growing widens the kept bits again
//! instead of hashing any key twice.

use std::hash::{BuildHasher, Hash};

use hashbrown::hash_table::Entry;
use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;

use crate::key::Key;

/// See the [module](self).
#[derive(Default)]
pub struct IdsByKey {
    /// (id, low half of its key's hash).
    table: HashTable<(u32, u32)>,
}

/// The 32 bits of `key`'s hash every method takes.
pub fn key_hash(key: &Key) -> u32 {
    hash_with(|state| key.hash(state))
}

/// The same hash of whatever `write` feeds the hasher: text that hashes as the key it spells.
pub fn hash_with(write: impl FnOnce(&mut rustc_hash::FxHasher)) -> u32 {
    let mut state = FxBuildHasher.build_hasher();
    write(&mut state);
    std::hash::Hasher::finish(&state) as u32
}

/// The table's full hash again from the half it keeps.
fn widen(hash: u32) -> u64 {
    (hash as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

impl IdsByKey {
    pub fn with_capacity(n: usize) -> IdsByKey {
        IdsByKey { table: HashTable::with_capacity(n) }
    }

    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// The id of the key hashing to `hash` for which `is(id)` holds.
    pub fn find(&self, hash: u32, is: impl Fn(u32) -> bool) -> Option<u32> {
        self.table.find(widen(hash), |&(id, h)| h == hash && is(id)).map(|&(id, _)| id)
    }

    /// As [`IdsByKey::find`], or else `new()`'s id, entered for that key.
    pub fn find_or_insert(&mut self, hash: u32, is: impl Fn(u32) -> bool, new: impl FnOnce() -> u32) -> u32 {
        match self.table.entry(widen(hash), |&(id, h)| h == hash && is(id), |&(_, h)| widen(h)) {
            Entry::Occupied(found) => found.get().0,
            Entry::Vacant(vacant) => {
                let id = new();
                vacant.insert((id, hash));
                id
            }
        }
    }

    /// Makes `id` the id of the key hashing to `hash`, replacing the id for which `is` holds.
    pub fn insert(&mut self, hash: u32, id: u32, is: impl Fn(u32) -> bool) {
        match self.table.find_mut(widen(hash), |&(other, h)| h == hash && is(other)) {
            Some(entry) => entry.0 = id,
            None => drop(self.table.insert_unique(widen(hash), (id, hash), |&(_, h)| widen(h))),
        }
    }

    /// Forgets `id` as the id of the key hashing to `hash`; whether it was.
    pub fn remove(&mut self, hash: u32, id: u32) -> bool {
        match self.table.find_entry(widen(hash), |&(other, h)| h == hash && other == id) {
            Ok(entry) => {
                entry.remove();
                true
            }
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_found_by_their_owners_keys_across_growth_replaced_and_removed() {
        let keys: Vec<Key> = (0..10_000i64).map(|i| Key::from(("x", i))).collect();
        let mut ids = IdsByKey::default();
        for (i, key) in keys.iter().enumerate() {
            let id = ids.find_or_insert(key_hash(key), |id| keys[id as usize] == *key, || i as u32);
            assert_eq!(id, i as u32);
        }
        assert_eq!(ids.len(), keys.len());
        // Found again, not entered twice.
        let again = ids.find_or_insert(key_hash(&keys[7]), |id| keys[id as usize] == keys[7], || unreachable!());
        assert_eq!(again, 7);
        for (i, key) in keys.iter().enumerate() {
            assert_eq!(ids.find(key_hash(key), |id| keys[id as usize] == *key), Some(i as u32));
        }
        assert_eq!(ids.find(key_hash(&Key::from("y")), |_| true), None, "no slot hashes there");
        // Id 3's key now stands for id 20_000 (an owner that moved the key).
        ids.insert(key_hash(&keys[3]), 20_000, |id| id == 3);
        assert_eq!(ids.find(key_hash(&keys[3]), |id| id == 20_000), Some(20_000));
        assert_eq!(ids.len(), keys.len());
        assert!(!ids.remove(key_hash(&keys[3]), 3), "3 is no longer there");
        assert!(ids.remove(key_hash(&keys[3]), 20_000));
        assert_eq!(ids.find(key_hash(&keys[3]), |_| true), None);
        assert_eq!(ids.len(), keys.len() - 1);
    }

    #[test]
    fn text_hashed_as_the_key_it_spells_hashes_as_the_key() {
        let key = Key::from(("s", 12i64));
        let spelled = hash_with(|state| {
            Key::hash_tuple_len(2, state);
            Key::hash_str("s", state);
            Key::hash_int(12, state);
        });
        assert_eq!(spelled, key_hash(&key));
    }
}
