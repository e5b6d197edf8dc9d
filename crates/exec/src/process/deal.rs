//! Dealing ready tasks to the workers: how many each gets ahead, and which worker gets the next.
//!
//! The rings have no work stealing: a task in a worker's ring stays there. So short tasks are
//! dealt a window ahead (the worker never waits for the parent), and a task expected to run
//! for milliseconds only to a worker with nothing queued — it waits in the parent, a ring's
//! round trip (microseconds) from whichever worker frees up first, instead of behind another
//! long task while the other worker idles. A task's expectation is the running time of earlier
//! tasks calling the same function (remembered once one took milliseconds, kept across runs);
//! the run's mean otherwise.

use rask_graph::{Op, Plan};

use super::{Run, QUEUED_WORK_US, WINDOW};

impl Run<'_, '_> {
    /// Sends ready tasks to workers with room, each to the worker with the fewest tasks in
    /// flight (ties in turn), so that a few ready tasks spread over the pool.
    pub(super) fn dispatch(&mut self) -> bool {
        let n = self.pool.slots.len();
        let mut sent = vec![false; n];
        let mut full = vec![false; n];
        while !self.shared.failed() {
            let Some(task) = self.local.pop().or_else(|| self.shared.claim_roots(&self.local)) else { break };
            let window = self.window_for_task(task);
            let emptiest = (0..n)
                .map(|k| (self.next_slot + k) % n)
                .filter(|&s| !full[s] && self.pool.slots[s].child.is_some())
                .filter(|&s| self.pool.slots[s].in_flight.len() < window)
                .min_by_key(|&s| self.pool.slots[s].in_flight.len());
            let Some(s) = emptiest else {
                self.local.push(task);
                break;
            };
            match self.send(s, task) {
                Ok(true) => sent[s] = true,
                Ok(false) => {
                    // Its ring is full: the others may still take tasks this round.
                    self.local.push(task);
                    full[s] = true;
                }
                Err(e) => self.shared.fail(e),
            }
        }
        self.next_slot = (self.next_slot + 1) % n;
        for (s, _) in sent.iter().enumerate().filter(|(_, &sent)| sent) {
            self.pool.control.tasks(s).notify();
        }
        sent.contains(&true)
    }

    /// How many tasks a worker may have in flight for `task` to be sent to it.
    fn window_for_task(&self, task: u32) -> usize {
        // Only functions seen taking milliseconds are remembered: a run of tiny tasks looks
        // nothing up.
        let known = !self.pool.kind_us.is_empty();
        let expected = known.then(|| kind(self.plan, task).and_then(|k| self.pool.kind_us.get(k).copied())).flatten();
        window(expected, self.task_us)
    }

    /// Task `node` ran for `us` in a worker.
    pub(super) fn timed(&mut self, node: u32, us: u64) {
        self.task_us = if self.task_us == 0 { us.max(1) } else { (7 * self.task_us + us) / 8 };
        // A function is remembered once a call of it takes milliseconds, and followed from
        // then on (a million tiny tasks cost no lookups: the parent deals them all).
        if us < QUEUED_WORK_US && self.pool.kind_us.is_empty() {
            return;
        }
        let Some(k) = kind(self.plan, node) else { return };
        match self.pool.kind_us.get_mut(k) {
            Some(mean) => *mean = (3 * *mean + us) / 4,
            None if us >= QUEUED_WORK_US => {
                self.pool.kind_us.insert(k.to_owned(), us);
            }
            None => {}
        }
    }
}

/// The function `node` calls at its top (inside a fused chain, its last).
fn kind(plan: &Plan, node: u32) -> Option<&str> {
    fn of(op: &Op) -> Option<&str> {
        match op {
            Op::Call(f, _) => Some(f.name()),
            Op::Fused(fused) => of(&fused.1),
            _ => None,
        }
    }
    of(plan.op(node))
}

/// How many tasks a worker may have in flight to be sent one expected to run `expected` µs
/// (if its function has run before), when this run's tasks ran `task_us` on average (0: none
/// has finished yet).
fn window(expected: Option<u64>, task_us: u64) -> usize {
    match expected {
        Some(us) if us >= QUEUED_WORK_US => 1,
        // Nothing known of this run's tasks yet: two each, so that a few long ones among the
        // first are not all dealt to one worker before anything has finished; the first
        // completions, microseconds away for tiny tasks, open the window.
        _ if task_us == 0 => 2,
        _ => window_for(task_us),
    }
}

/// How many tasks a worker is dealt ahead when tasks run `task_us` on average: one running
/// and about [`QUEUED_WORK_US`] of work queued behind it; at least two (one waiting, so the
/// worker never waits for the parent) and at most [`WINDOW`].
fn window_for(task_us: u64) -> usize {
    let queued = QUEUED_WORK_US / task_us.max(1);
    (1 + queued as usize).clamp(2, WINDOW)
}

#[cfg(test)]
#[test]
fn long_tasks_are_dealt_two_at_a_time_and_short_ones_a_window_ahead() {
    assert_eq!(window_for(1), WINDOW);
    assert_eq!(window_for(100), 21);
    assert_eq!(window_for(1_000), 3);
    assert_eq!(window_for(200_000), 2);
}

#[cfg(test)]
#[test]
fn a_task_known_to_take_milliseconds_goes_only_to_a_worker_with_nothing_in_flight() {
    // Its function took 16 ms before: it waits for a free worker, whatever the run's mean
    // (dragged to microseconds by tiny tasks, which would deal it 21 deep).
    assert_eq!(window(Some(16_000), 100), 1);
    assert_eq!(window(Some(16_000), 0), 1);
    // Short or unknown functions: the run's window; two before anything has finished.
    assert_eq!(window(Some(50), 100), 21);
    assert_eq!(window(None, 100), 21);
    assert_eq!(window(None, 0), 2);
}
