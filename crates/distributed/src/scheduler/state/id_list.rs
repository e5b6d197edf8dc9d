//! Short lists of 4-byte ids kept in every task: its dependencies and dependents, the workers
//! holding its result, the clients wanting it.
//!
//! A `SmallVec<[u32; 2]>` takes 24 bytes (its capacity word beside the inline items or the
//! heap pointer and length); this takes 16 — two ids inline, a boxed `Vec` past that, which
//! few tasks need (most have one or two dependencies, one dependent, one holder, and no or
//! one client) — four lists, 32 bytes a task off the scheduler's table. The clients' list is
//! a [`RareIdList`], 8 bytes, boxed only while some client wants the task.

use std::fmt;
use std::ops::Deref;

/// See the [module](self). Reads as a slice (`Deref<Target = [T]>`).
#[derive(Clone)]
pub(crate) struct IdList<T: Copy>(Repr<T>);

#[derive(Clone)]
enum Repr<T> {
    Inline {
        len: u8,
        items: [T; 2],
    },
    // A `Vec` is three words; boxed it is one, which is what keeps the list at 16 bytes.
    #[allow(clippy::box_collection)]
    Heap(Box<Vec<T>>),
}

impl<T: Copy + Default> Default for IdList<T> {
    fn default() -> Self {
        IdList(Repr::Inline { len: 0, items: [T::default(); 2] })
    }
}

impl<T: Copy + Default> IdList<T> {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn push(&mut self, id: T) {
        match &mut self.0 {
            Repr::Inline { len, items } if (*len as usize) < items.len() => {
                items[*len as usize] = id;
                *len += 1;
            }
            Repr::Inline { items, .. } => {
                let mut heap = Vec::with_capacity(4);
                heap.extend_from_slice(items);
                heap.push(id);
                self.0 = Repr::Heap(Box::new(heap));
            }
            Repr::Heap(heap) => heap.push(id),
        }
    }

    /// Keeps the ids for which `keep` holds, in order.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        match &mut self.0 {
            Repr::Inline { len, items } => {
                let mut kept = 0;
                for i in 0..*len as usize {
                    if keep(&items[i]) {
                        items[kept] = items[i];
                        kept += 1;
                    }
                }
                *len = kept as u8;
            }
            Repr::Heap(heap) => heap.retain(keep),
        }
    }

    /// Removes the id at `i`, replacing it with the last (order not kept); panics past the end.
    pub(crate) fn swap_remove(&mut self, i: usize) -> T {
        match &mut self.0 {
            Repr::Inline { len, items } => {
                assert!(i < *len as usize, "swap_remove index {i} past the end ({len})");
                let id = items[i];
                items[i] = items[*len as usize - 1];
                *len -= 1;
                id
            }
            Repr::Heap(heap) => heap.swap_remove(i),
        }
    }
}

/// An [`IdList`] that is empty for most tasks (the clients wanting a task's result: only the
/// requested keys' tasks have any): one word, boxed only while it holds ids.
#[derive(Clone, Default)]
pub(crate) struct RareIdList<T: Copy>(Option<Box<IdList<T>>>);

impl<T: Copy + Default> RareIdList<T> {
    pub(crate) fn new() -> Self {
        RareIdList(None)
    }

    pub(crate) fn push(&mut self, id: T) {
        self.0.get_or_insert_with(Box::default).push(id);
    }

    /// As [`IdList::retain`]; the box goes once nothing is left.
    pub(crate) fn retain(&mut self, keep: impl FnMut(&T) -> bool) {
        if let Some(list) = &mut self.0 {
            list.retain(keep);
            if list.is_empty() {
                self.0 = None;
            }
        }
    }

    /// As [`IdList::swap_remove`]; the box goes once nothing is left.
    pub(crate) fn swap_remove(&mut self, i: usize) -> T {
        let list = self.0.as_mut().expect("swap_remove from an empty list");
        let id = list.swap_remove(i);
        if list.is_empty() {
            self.0 = None;
        }
        id
    }
}

impl<T: Copy> Deref for RareIdList<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        self.0.as_deref().map_or(&[], |list| list)
    }
}

impl<'a, T: Copy> IntoIterator for &'a RareIdList<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<T: Copy + fmt::Debug> fmt::Debug for RareIdList<T> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<T: Copy> Deref for IdList<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        match &self.0 {
            Repr::Inline { len, items } => &items[..*len as usize],
            Repr::Heap(heap) => heap,
        }
    }
}

impl<'a, T: Copy> IntoIterator for &'a IdList<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<T: Copy + Default> FromIterator<T> for IdList<T> {
    fn from_iter<I: IntoIterator<Item = T>>(ids: I) -> Self {
        let mut list = IdList::new();
        ids.into_iter().for_each(|id| list.push(id));
        list
    }
}

impl<T: Copy + fmt::Debug> fmt::Debug for IdList<T> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_list_is_sixteen_bytes_and_a_rare_one_eight() {
        assert_eq!(std::mem::size_of::<IdList<u32>>(), 16);
        assert_eq!(std::mem::size_of::<RareIdList<u32>>(), 8);
    }

    /// The same operations on a rare list, checked against a `Vec`; emptied, it holds no box.
    #[test]
    fn a_rare_id_list_behaves_like_a_vector_and_drops_its_box_when_empty() {
        let (mut list, mut reference) = (RareIdList::<u32>::new(), Vec::new());
        for id in 0..5 {
            list.push(id);
            reference.push(id);
        }
        list.retain(|&x| x % 2 == 0);
        reference.retain(|&x| x % 2 == 0);
        assert_eq!(list.swap_remove(0), reference.swap_remove(0));
        assert_eq!(&*list, reference.as_slice());
        list.retain(|_| false);
        assert!(list.0.is_none() && list.is_empty());
        list.push(7);
        assert_eq!(list.swap_remove(0), 7);
        assert!(list.0.is_none());
    }

    /// Pushes, retains and swap-removes across the inline/heap boundary, checked against a
    /// `Vec` doing the same.
    #[test]
    fn an_id_list_behaves_like_a_vector() {
        let mut seed = 0x2545_f491_u64;
        for _ in 0..200 {
            let (mut list, mut reference) = (IdList::<u32>::new(), Vec::new());
            for step in 0..12u32 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                match seed % 5 {
                    0 if !reference.is_empty() => {
                        let i = (seed >> 8) as usize % reference.len();
                        assert_eq!(list.swap_remove(i), reference.swap_remove(i));
                    }
                    1 => {
                        let drop = (seed >> 8) as u32 % 4;
                        list.retain(|&x| x % 4 != drop);
                        reference.retain(|&x| x % 4 != drop);
                    }
                    _ => {
                        list.push(step);
                        reference.push(step);
                    }
                }
                assert_eq!(&*list, reference.as_slice());
            }
            let collected: IdList<u32> = reference.iter().copied().collect();
            assert_eq!(&*collected, reference.as_slice());
            assert_eq!(format!("{collected:?}"), format!("{reference:?}"));
        }
    }
}
