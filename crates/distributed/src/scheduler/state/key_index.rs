//! Task ids by key: the scheduler's index from a key a message names to its task.
//!
//! A map from `Key` to id would hold a second copy of every key and an 8-byte id per slot; at
//! ten million tasks its table is half a gigabyte. This one is an [`IdsByKey`]: a 4-byte id and
//! 32 bits of the stored key's hash per slot, compared against the key the task itself holds
//! (`stored_key.rs`: keys as their encoded bytes, hashed and compared as bytes).

use rask_graph::ids_by_key::IdsByKey;
use rask_graph::Key;

use super::stored_key::StoredKey;
use super::{Slots, Task, TaskId};

#[derive(Default)]
pub(super) struct KeyIndex(IdsByKey);

/// Whether slot `id` holds a live task whose key is `key`.
fn holds(tasks: &Slots<Task>, id: u32, key: &StoredKey) -> bool {
    tasks[id].as_ref().is_some_and(|task| &task.key == key)
}

impl KeyIndex {
    pub(super) fn len(&self) -> usize {
        self.0.len()
    }

    /// The task whose key is `key` (a key a message names).
    pub(super) fn get(&self, key: &Key, tasks: &Slots<Task>) -> Option<TaskId> {
        self.get_stored(&StoredKey::new(key), tasks)
    }

    /// The task whose key is `key`, already encoded.
    pub(super) fn get_stored(&self, key: &StoredKey, tasks: &Slots<Task>) -> Option<TaskId> {
        self.0.find(key.hash(), |id| holds(tasks, id, key))
    }

    /// Makes `t` (already in `tasks`, holding `key`) the task of `key`, replacing any other.
    pub(super) fn insert(&mut self, key: &StoredKey, t: TaskId, tasks: &Slots<Task>) {
        self.0.insert(key.hash(), t, |other| other != t && holds(tasks, other, key));
    }

    /// Forgets that `t` is the task of `key` (`t`'s slot may be empty already).
    pub(super) fn remove(&mut self, key: &StoredKey, t: TaskId) {
        self.0.remove(key.hash(), t);
    }
}
