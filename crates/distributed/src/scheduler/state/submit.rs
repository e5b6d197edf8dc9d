//! Submissions: a client's tasks arrive in chunks (a large graph streams in while the client
//! is still planning), dependencies first. A dependency submitted earlier in the same
//! submission is named by its position ([`Dep::Earlier`]) and found in the submission's table
//! of tasks by position — no key to read, hash and look up, which for a large graph is most of
//! its dependencies — while one known from before is named by key.
//!
//! Until the last chunk, every task the submission mentioned is *pinned*: never forgotten
//! (its result may still be released, and is recomputed if a later chunk needs it), because a
//! later chunk may add dependents to it. That also keeps the table's task ids valid.

use rask_graph::Key;
use rask_protocol::dist::{Dep, NewTask, ToClient};

use super::{ClientId, State, TaskId, TaskIds, TaskState};

/// A submission with parts still to come.
#[derive(Default)]
pub(super) struct Submission {
    /// The tasks it pinned.
    pinned: Vec<TaskId>,
    /// The task each of its `NewTask`s became, by position; [`REFUSED`] for one that was not
    /// added (a dependency missing).
    tasks: Vec<TaskId>,
}

const REFUSED: u32 = u32::MAX;

impl State {
    /// Adds tasks (dependencies first, in priority order) and starts what is ready.
    pub fn submit(&mut self, c: ClientId, defs: Vec<NewTask>) {
        self.submit_chunk(c, defs, true);
    }

    /// One chunk of a submission; `last` ends it.
    pub fn submit_chunk(&mut self, c: ClientId, defs: Vec<NewTask>, last: bool) {
        let mut sub = self.submissions.remove(&c).unwrap_or_else(|| {
            self.generation = self.generation.wrapping_add(1);
            self.submitted = 0;
            Submission::default()
        });
        let mut fresh = Vec::with_capacity(defs.len());
        for def in defs {
            let rank = self.submitted;
            self.submitted += 1;
            if let Some(t) = self.index.get(&def.key, &self.tasks) {
                // Keys are identities: a key already known is that task (Dask's rule), unless
                // it failed, in which case the new definition gets a new chance.
                if self.task(t).state != TaskState::Erred {
                    if !last {
                        self.task_mut(t).pins += 1;
                        sub.pinned.push(t);
                    }
                    sub.tasks.push(t);
                    continue;
                }
                self.forget_erred_for_resubmission(t);
            }
            let deps = match self.resolve(&def.deps, &sub) {
                Ok(deps) => deps,
                Err(missing) => {
                    let error = format!("task {} depends on {missing}", def.key);
                    self.out.to_clients.push((c, ToClient::Erred { key: def.key, error, cause: None }));
                    sub.tasks.push(REFUSED);
                    continue;
                }
            };
            let NewTask { key, op, hints, .. } = def;
            let t = self.insert_task(c, key, op, hints, deps, rank);
            if !last {
                self.task_mut(t).pins = 1;
                sub.pinned.push(t);
            }
            sub.tasks.push(t as u32);
            fresh.push(t);
        }
        // Submitted tasks are what the client's wanted keys need (the client culled them).
        for t in fresh {
            self.need(t);
        }
        if last {
            self.unpin(sub.pinned);
        } else {
            self.submissions.insert(c, sub);
        }
        self.schedule();
        self.run_release_checks();
    }

    /// The tasks `deps` name; or what is missing, said for the client.
    fn resolve(&self, deps: &[Dep], sub: &Submission) -> Result<TaskIds, String> {
        let mut ids = TaskIds::new();
        for d in deps {
            let found = match d {
                Dep::Key(k) => self.index.get(k, &self.tasks).ok_or_else(|| unknown(k)),
                Dep::Earlier(i) => match sub.tasks.get(*i as usize) {
                    Some(&REFUSED) => Err(format!("task {i} of its submission, which was refused (see its error)")),
                    Some(&t) => Ok(t),
                    None => Err(format!("task {i} of its submission, which has not been sent before it")),
                },
            };
            ids.push(found?);
        }
        Ok(ids)
    }

    /// The client's submission in progress ends with it (it disconnected).
    pub(super) fn end_submission(&mut self, c: ClientId) {
        if let Some(sub) = self.submissions.remove(&c) {
            self.unpin(sub.pinned);
        }
    }

    /// Ends a submission's pins; checks for release only the tasks a pin may have kept (no
    /// client wants them, no dependent still needs them): at the end of a 10M-task submission
    /// nearly all are still waiting, and queueing every one made the scheduler loop stand
    /// still for seconds.
    fn unpin(&mut self, pinned: Vec<TaskId>) {
        for t in pinned {
            if let Some(task) = self.tasks[t].as_mut() {
                task.pins -= 1;
                if task.wanted_by.is_empty() && task.active_dependents == 0 {
                    self.release_checks.push(t);
                }
            }
        }
    }

    fn forget_erred_for_resubmission(&mut self, t: TaskId) {
        let key = self.task(t).key.clone();
        self.index.remove(&key, t);
        // Its dependents keep pointing at the old (erred) task; they were erred with it.
    }
}

fn unknown(key: &Key) -> String {
    format!("{key}, which the scheduler does not know")
}
