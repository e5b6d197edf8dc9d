//! The task table's storage: slots in chunks of a fixed size, so the table grows without ever
//! moving. A `Vec` doubles by copying itself into a fresh allocation — at a million tasks a
//! copy of a hundred megabytes into pages the kernel zeroes first, with old and new buffers
//! alive at once (the scheduler's peak memory) — and a tenth of the scheduler's CPU time on
//! the 1M-task peer graph went to that. A chunk here is allocated once, at its full size, and
//! filled in place.

use std::ops::{Index, IndexMut};

/// Slots a chunk holds: a few megabytes of tasks, so that the last chunk's unfilled part is
/// small next to a large table, and a small table still takes one allocation.
const CHUNK_BITS: u32 = 14;
const CHUNK: usize = 1 << CHUNK_BITS;

/// A growable table of `Option<T>` slots indexed by `u32` (a task id: 4 bytes in every list of
/// ids), like a `Vec<Option<T>>` that only grows at its end.
pub(super) struct Slots<T> {
    chunks: Vec<Vec<Option<T>>>,
    len: usize,
}

impl<T> Default for Slots<T> {
    fn default() -> Self {
        Slots { chunks: Vec::new(), len: 0 }
    }
}

impl<T> Slots<T> {
    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The index the next [`Slots::push`] fills. Four billion slots would take hundreds of
    /// gigabytes of tasks before this could overflow.
    pub(super) fn next_index(&self) -> u32 {
        u32::try_from(self.len).expect("fewer than 2^32 task slots")
    }

    /// Adds a slot at the end (index `len()`).
    pub(super) fn push(&mut self, slot: Option<T>) {
        if self.len % CHUNK == 0 {
            self.chunks.push(Vec::with_capacity(CHUNK));
        }
        self.chunks.last_mut().expect("a chunk with room").push(slot);
        self.len += 1;
    }

    /// Slot `i`, or `None` past the end.
    pub(super) fn get(&self, i: u32) -> Option<&Option<T>> {
        let i = i as usize;
        self.chunks.get(i >> CHUNK_BITS)?.get(i & (CHUNK - 1))
    }

    /// Every slot, in index order.
    pub(super) fn iter(&self) -> impl Iterator<Item = &Option<T>> {
        self.chunks.iter().flatten()
    }
}

impl<T> Index<u32> for Slots<T> {
    type Output = Option<T>;
    fn index(&self, i: u32) -> &Option<T> {
        let i = i as usize;
        &self.chunks[i >> CHUNK_BITS][i & (CHUNK - 1)]
    }
}

impl<T> IndexMut<u32> for Slots<T> {
    fn index_mut(&mut self, i: u32) -> &mut Option<T> {
        let i = i as usize;
        &mut self.chunks[i >> CHUNK_BITS][i & (CHUNK - 1)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pushes, overwrites and takes across chunk boundaries, checked against a `Vec`.
    #[test]
    fn slots_behave_like_a_vector_across_chunks() {
        let (mut slots, mut reference) = (Slots::default(), Vec::new());
        let mut seed = 0x9e37_79b9_u64;
        for i in 0..3 * CHUNK + 17 {
            slots.push(Some(i));
            reference.push(Some(i));
            // Now and then, empty or refill an earlier slot, as forgetting and reusing do.
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let j = seed as usize % reference.len();
            if seed % 3 == 0 {
                assert_eq!(slots[j as u32].take(), reference[j].take());
            } else {
                slots[j as u32] = Some(j * 7);
                reference[j] = Some(j * 7);
            }
        }
        assert_eq!(slots.len(), reference.len());
        assert!(!slots.is_empty() && Slots::<u8>::default().is_empty());
        assert!((0..reference.len()).all(|i| slots[i as u32] == reference[i]));
        assert!(slots.iter().eq(reference.iter()));
    }

    #[test]
    #[should_panic]
    fn a_slot_past_the_end_is_out_of_bounds() {
        let mut slots = Slots::default();
        slots.push(Some(1));
        let _ = slots[CHUNK as u32];
    }
}
