//! Task groups: tasks counted by the name part of their key (Dask's `key_split`), per state,
//! with what running them cost. The dashboard's progress bars and graph are drawn from these.
//!
//! Kept by `State::set_state` on every transition, so the counts are always the task table's
//! (the state-machine tests check them against it). A group whose tasks are all forgotten stays
//! for the dashboard until more than [`MAX_GROUPS`] exist; then such groups are dropped.

use std::sync::Arc;

use rask_graph::Key;
use rask_protocol::dist::{key_group, GroupStatus, StateCounts};
use rustc_hash::FxHashMap;
use smallvec::SmallVec;

use super::TaskState;

pub(crate) type GroupId = u32;

/// Groups kept at most: past this, groups with no live task are dropped.
pub const MAX_GROUPS: usize = 10_000;

#[derive(Default)]
struct Group {
    name: Arc<str>,
    states: StateCounts,
    total: u64,
    runs: u64,
    duration_us: u64,
    max_duration_us: u64,
    nbytes: u64,
    dependencies: SmallVec<[GroupId; 2]>,
}

impl Group {
    fn live(&self) -> u64 {
        let s = &self.states;
        s.released + s.waiting + s.queued + s.processing + s.memory + s.erred
    }
}

#[derive(Default)]
pub(crate) struct Groups {
    index: FxHashMap<String, GroupId>,
    slots: Vec<Option<Group>>,
    free: Vec<GroupId>,
}

/// The count of `state` among `counts`.
pub(crate) fn slot<'a>(counts: &'a mut StateCounts, state: &TaskState) -> &'a mut u64 {
    match state {
        TaskState::Released => &mut counts.released,
        TaskState::Waiting => &mut counts.waiting,
        TaskState::Queued => &mut counts.queued,
        TaskState::Processing(_) => &mut counts.processing,
        TaskState::Memory => &mut counts.memory,
        TaskState::Erred => &mut counts.erred,
    }
}

impl Groups {
    fn group(&mut self, g: GroupId) -> &mut Group {
        self.slots[g as usize].as_mut().expect("a live group")
    }

    /// The group of a new task with key `key` (created if new), counted as released.
    pub(crate) fn add_task(&mut self, key: &Key, dependencies: impl Iterator<Item = GroupId>) -> GroupId {
        let name = key_group(key);
        let g = match self.index.get(&name) {
            Some(&g) => g,
            None => self.create(name),
        };
        let group = self.group(g);
        group.total += 1;
        group.states.released += 1;
        for d in dependencies {
            if d != g && !group.dependencies.contains(&d) {
                group.dependencies.push(d);
            }
        }
        g
    }

    fn create(&mut self, name: String) -> GroupId {
        if self.index.len() >= MAX_GROUPS {
            self.drop_finished();
        }
        let group = Group { name: Arc::from(name.as_str()), ..Group::default() };
        let g = match self.free.pop() {
            Some(g) => {
                self.slots[g as usize] = Some(group);
                g
            }
            None => {
                self.slots.push(Some(group));
                (self.slots.len() - 1) as GroupId
            }
        };
        self.index.insert(name, g);
        g
    }

    /// Drops every group none of whose tasks is known any more.
    fn drop_finished(&mut self) {
        let finished: Vec<GroupId> = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.as_ref().is_some_and(|g| g.live() == 0))
            .map(|(i, _)| i as GroupId)
            .collect();
        for &g in &finished {
            let group = self.slots[g as usize].take().expect("a live group");
            self.index.remove(&*group.name);
            self.free.push(g);
        }
        for group in self.slots.iter_mut().flatten() {
            group.dependencies.retain(|d| !finished.contains(d));
        }
    }

    /// A task of group `g` moved from `old` to `new`.
    pub(crate) fn moved(&mut self, g: GroupId, old: &TaskState, new: &TaskState) {
        let counts = &mut self.group(g).states;
        *slot(counts, old) -= 1;
        *slot(counts, new) += 1;
    }

    /// A task of group `g`, in `state`, was forgotten.
    pub(crate) fn forgotten(&mut self, g: GroupId, state: &TaskState) {
        *slot(&mut self.group(g).states, state) -= 1;
    }

    /// A task of group `g` ran for `duration_us` and made `nbytes` of result.
    pub(crate) fn ran(&mut self, g: GroupId, duration_us: u64, nbytes: u64) {
        let group = self.group(g);
        group.runs += 1;
        group.duration_us += duration_us;
        group.max_duration_us = group.max_duration_us.max(duration_us);
        group.nbytes += nbytes;
    }

    /// The mean result size of group `g`'s tasks so far, once one has run.
    pub(crate) fn mean_nbytes(&self, g: GroupId) -> Option<u64> {
        let group = self.slots.get(g as usize)?.as_ref()?;
        (group.runs > 0).then(|| group.nbytes / group.runs)
    }

    /// The mean running time of group `g`'s tasks so far (µs), once one has run.
    pub(crate) fn mean_duration_us(&self, g: GroupId) -> Option<f64> {
        let group = self.slots.get(g as usize)?.as_ref()?;
        (group.runs > 0).then(|| group.duration_us as f64 / group.runs as f64)
    }

    pub(crate) fn name(&self, g: GroupId) -> Arc<str> {
        self.slots[g as usize].as_ref().map_or_else(|| Arc::from(""), |group| group.name.clone())
    }

    /// Every group, in the order they were first seen (slots reused after a drop aside).
    pub(crate) fn status(&self) -> Vec<GroupStatus> {
        self.slots
            .iter()
            .flatten()
            .map(|g| GroupStatus {
                name: g.name.to_string(),
                states: g.states,
                total: g.total,
                runs: g.runs,
                duration_s: g.duration_us as f64 / 1e6,
                max_duration_s: g.max_duration_us as f64 / 1e6,
                nbytes: g.nbytes,
                dependencies: g.dependencies.iter().map(|&d| self.name(d).to_string()).collect(),
            })
            .collect()
    }

    /// The counts of group `g` (tests compare them with the task table).
    #[cfg(test)]
    pub(crate) fn counts(&self, name: &str) -> Option<StateCounts> {
        self.index.get(name).and_then(|&g| self.slots[g as usize].as_ref()).map(|g| g.states)
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_move_between_state_counts() {
        let mut groups = Groups::default();
        let a = groups.add_task(&Key::str("inc-1"), std::iter::empty());
        let b = groups.add_task(&Key::str("inc-2"), std::iter::empty());
        assert_eq!(a, b);
        let s = groups.add_task(&Key::str("sum-9"), [a].into_iter());
        groups.moved(a, &TaskState::Released, &TaskState::Queued);
        groups.moved(a, &TaskState::Queued, &TaskState::Processing(3));
        groups.moved(a, &TaskState::Processing(3), &TaskState::Memory);
        groups.ran(a, 1500, 8);
        let inc = groups.counts("inc").unwrap();
        assert_eq!((inc.released, inc.processing, inc.memory), (1, 0, 1));
        let status = groups.status();
        assert_eq!(status[0].runs, 1);
        assert_eq!(status[0].max_duration_s, 0.0015);
        assert_eq!(status[1].dependencies, vec!["inc".to_owned()]);
        groups.forgotten(s, &TaskState::Released);
        assert_eq!(groups.counts("sum").unwrap(), StateCounts::default());
    }

    #[test]
    fn past_the_cap_finished_groups_are_dropped_and_live_ones_kept() {
        let mut groups = Groups::default();
        let live = groups.add_task(&Key::str("live"), std::iter::empty());
        for i in 0..MAX_GROUPS - 1 {
            let g = groups.add_task(&Key::tuple([Key::str(&format!("g{i}")), Key::Int(0)]), [live].into_iter());
            groups.forgotten(g, &TaskState::Released);
        }
        assert_eq!(groups.len(), MAX_GROUPS);
        groups.add_task(&Key::str("new"), std::iter::empty());
        assert_eq!(groups.len(), 2, "every finished group dropped, the live and the new kept");
        assert!(groups.counts("live").is_some() && groups.counts("new").is_some());
    }
}
