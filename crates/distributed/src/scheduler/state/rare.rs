//! What only some tasks have, kept beside the task table instead of in every [`Task`]: the
//! worker deaths and failed fetches counted against a task, and whether it is scattered
//! data — touched only when something went wrong, or by a client's scatter. A million plain
//! tasks carry none of it. (Annotations stay in the task: a graph annotated throughout would
//! look them up at every placement and state change, 13% slower on the controls bench.)
//!
//! The entry goes with the task (`State::forget`), so a reused slot starts clean. Lookups
//! are skipped while no task has an entry: a run in which no worker died, no fetch failed and
//! nothing was scattered pays nothing.
//!
//! [`Task`]: super::Task

use super::{State, TaskId};

/// The rare facts of one task.
#[derive(Default)]
pub(super) struct Rare {
    /// Deaths of its worker while it may have been running there, and failed fetches of its
    /// inputs: past a limit it is erred.
    pub(super) attempts: u16,
    /// Deaths of its worker while it sat deep in that worker's queue, where it cannot have
    /// started unless the worker ran many tasks it had not yet reported (`forget_worker`).
    pub(super) deaths_queued: u16,
    /// Data a client scattered: it has no computation, so a lost copy cannot be remade.
    pub(super) scattered: bool,
}

impl State {
    /// Task `t`'s rare facts, if it has any.
    pub(super) fn rare(&self, t: TaskId) -> Option<&Rare> {
        if self.rare.is_empty() {
            None
        } else {
            self.rare.get(&t)
        }
    }

    /// Task `t`'s rare facts, made (all default) if it had none.
    pub(super) fn rare_mut(&mut self, t: TaskId) -> &mut Rare {
        self.rare.entry(t).or_default()
    }

    pub(super) fn is_scattered(&self, t: TaskId) -> bool {
        self.rare(t).is_some_and(|r| r.scattered)
    }

    /// Worker deaths and failed fetches counted against `t` (see [`Rare::attempts`]).
    pub(super) fn attempts(&self, t: TaskId) -> u16 {
        self.rare(t).map_or(0, |r| r.attempts)
    }
}
