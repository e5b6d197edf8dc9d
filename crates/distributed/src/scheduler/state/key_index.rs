//! Task ids by key: the scheduler's index from a key a message names to its task.
//!
//! A map from `Key` to id would hold a second copy of every key (24 bytes) and an 8-byte id
//! per slot; at ten million tasks its table is half a gigabyte. This one holds a 4-byte id
//! and 32 bits of the key's hash per slot, and compares against the key the task itself
//! holds: growing never hashes a key again, and a lookup reads the task it finds.

use std::hash::BuildHasher;

use hashbrown::HashTable;
use rask_graph::Key;
use rustc_hash::FxBuildHasher;

use super::{Task, TaskId};

#[derive(Default)]
pub(super) struct KeyIndex {
    /// (task id, low half of its key's hash).
    table: HashTable<(u32, u32)>,
}

fn hash_of(key: &Key) -> u32 {
    FxBuildHasher.hash_one(key) as u32
}

/// The table's full hash again from the half it keeps.
fn widen(hash: u32) -> u64 {
    (hash as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Whether slot `id` holds a live task whose key is `key`.
fn holds(tasks: &[Option<Task>], id: u32, key: &Key) -> bool {
    tasks[id as usize].as_ref().is_some_and(|task| &task.key == key)
}

impl KeyIndex {
    pub(super) fn len(&self) -> usize {
        self.table.len()
    }

    /// The task whose key is `key`.
    pub(super) fn get(&self, key: &Key, tasks: &[Option<Task>]) -> Option<TaskId> {
        let hash = hash_of(key);
        let &(id, _) = self.table.find(widen(hash), |&(id, h)| h == hash && holds(tasks, id, key))?;
        Some(id as TaskId)
    }

    /// Makes `t` (already in `tasks`, holding `key`) the task of `key`, replacing any other.
    pub(super) fn insert(&mut self, key: &Key, t: TaskId, tasks: &[Option<Task>]) {
        let hash = hash_of(key);
        let id = u32::try_from(t).expect("fewer than 2^32 task slots");
        let found =
            self.table.find_mut(widen(hash), |&(other, h)| h == hash && other != id && holds(tasks, other, key));
        match found {
            Some(entry) => entry.0 = id,
            None => {
                self.table.insert_unique(widen(hash), (id, hash), |&(_, h)| widen(h));
            }
        }
    }

    /// Forgets that `t` is the task of `key` (`t`'s slot may be empty already).
    pub(super) fn remove(&mut self, key: &Key, t: TaskId) {
        let hash = hash_of(key);
        if let Ok(entry) = self.table.find_entry(widen(hash), |&(id, h)| h == hash && id as TaskId == t) {
            entry.remove();
        }
    }
}
