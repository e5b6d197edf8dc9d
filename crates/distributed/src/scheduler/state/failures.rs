//! What the state machine does when things go wrong: a task fails, an input cannot be
//! fetched, a worker dies or falls silent, or there is no worker at all. Every path ends in a
//! retry, a recomputation or an error a client hears — never a task left waiting forever.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rask_graph::Key;
use rask_protocol::dist::{DistFailure, TaskCause, ToClient};

use super::{Cause, State, TaskId, TaskState, WorkerId, ALLOWED_FAILURES, SATURATION};

impl State {
    /// Workers silent for longer than `timeout` (hung, or cut off without the connection
    /// closing): removed as if they had died. Returns them, so their connections are closed.
    pub fn expire_silent_workers(&mut self, now: Instant, timeout: Duration) -> Vec<WorkerId> {
        let silent: Vec<WorkerId> =
            self.workers.iter().filter(|(_, w)| now.duration_since(w.seen) > timeout).map(|(&id, _)| id).collect();
        for &w in &silent {
            self.remove_worker(w);
        }
        self.stats.workers_fenced += silent.len() as u64;
        silent
    }

    /// Counts every worker as heard from at `now` (after the scheduler itself was stalled,
    /// when their silence says nothing about them).
    pub fn forgive_silence(&mut self, now: Instant) {
        for worker in self.workers.values_mut() {
            worker.seen = now;
        }
    }

    /// Tasks that have waited for `timeout` with no worker connected are erred (each wanted
    /// key's client hears why), so a client of an empty cluster is not left waiting forever.
    /// Returns how many were erred.
    pub fn expire_without_workers(&mut self, now: Instant, timeout: Duration) -> usize {
        if !self.workers.is_empty() {
            self.workerless_since = None;
            return 0;
        }
        let waiting: Vec<TaskId> = (0..self.tasks.next_index())
            .filter(|&t| self.tasks[t].as_ref().is_some_and(|task| task.state.is_active()))
            .collect();
        if waiting.is_empty() {
            self.workerless_since = None;
            return 0;
        }
        let since = *self.workerless_since.get_or_insert(now);
        if now.duration_since(since) < timeout {
            return 0;
        }
        let error: Arc<str> = format!(
            "no worker was connected to the scheduler for {timeout:?} while this task waited to run \
             (start workers with `rask worker tcp://SCHEDULER`, or raise RASK_NO_WORKERS_TIMEOUT)"
        )
        .into();
        let mut erred = 0;
        for t in waiting {
            if self.tasks[t].as_ref().is_some_and(|task| task.state.is_active()) {
                erred += 1;
                self.err(t, error.clone());
            }
        }
        self.stats.tasks_erred_no_workers += erred as u64;
        self.workerless_since = None;
        self.run_release_checks();
        erred
    }

    /// A task failed: it and everything active that depends on it are erred.
    pub fn erred(&mut self, w: WorkerId, key: &Key, failure: DistFailure) {
        let Some(t) = self.index.get(key, &self.tasks) else { return };
        if self.task(t).state != TaskState::Processing(w) {
            return;
        }
        self.unassign(w, t);
        let (error, cause): (Arc<str>, _) = match failure {
            DistFailure::Failed(f) => {
                let error = rask_exec::ExecError::from_failure(key, f.clone());
                let retries = self.task(t).hints.as_ref().map_or(0, |h| h.retries);
                if retries > 0 {
                    let log = self.retry_log.entry(t).or_default();
                    if (log.len() as u32) < retries {
                        log.push(error.to_string());
                        self.stats.tasks_retried += 1;
                        self.enqueue(t);
                        self.schedule();
                        self.run_release_checks();
                        return;
                    }
                }
                let earlier_attempts = self.retry_log.remove(&t).unwrap_or_default();
                let error = rask_exec::ExecError::after_attempts(error, earlier_attempts.clone());
                let cause = TaskCause { key: key.clone(), failure: f, earlier_attempts };
                (error.to_string().into(), Some(Arc::new(cause)))
            }
            DistFailure::Unrunnable(why) => (format!("task {key} could not run on a worker: {why}").into(), None),
        };
        self.err_caused(t, error, cause);
        self.schedule();
        self.run_release_checks();
    }

    pub(super) fn err(&mut self, t: TaskId, error: Arc<str>) {
        self.err_caused(t, error, None);
    }

    /// Errs `t` and everything active that depends on it, each remembering `cause`.
    pub(super) fn err_caused(&mut self, t: TaskId, error: Arc<str>, cause: Option<Cause>) {
        let mut stack = vec![(t, error)];
        while let Some((x, e)) = stack.pop() {
            if matches!(self.task(x).state, TaskState::Erred | TaskState::Memory) {
                continue;
            }
            if let TaskState::Processing(w) = self.task(x).state {
                self.unassign(w, x);
            }
            self.errors.insert(x, (e.clone(), cause.clone()));
            self.set_state(x, TaskState::Erred);
            let key = self.task(x).key.key();
            for i in 0..self.task(x).wanted_by.len() {
                let c = self.task(x).wanted_by[i];
                let cause = cause.as_ref().map(|c| (**c).clone());
                self.out.to_clients.push((c, ToClient::Erred { key: key.clone(), error: e.to_string(), cause }));
            }
            self.drop_fired(x);
            let downstream: Arc<str> = if x == t { format!("dependency {key} failed: {e}").into() } else { e.clone() };
            for &d in &self.task(x).dependents {
                stack.push((d, downstream.clone()));
            }
        }
    }

    /// A worker could not fetch `dep` for `key` from the holders `failed` (they did not answer
    /// in time, or did not have it): they stop counting as holders (and are told to drop any
    /// copy), `dep` is recomputed if nobody else holds it, and the task runs again once `dep`
    /// is available.
    pub fn missing(&mut self, w: WorkerId, key: &Key, dep: &Key, failed: &[String]) {
        let (Some(t), Some(d)) = (self.index.get(key, &self.tasks), self.index.get(dep, &self.tasks)) else { return };
        if self.task(t).state != TaskState::Processing(w) {
            return;
        }
        for addr in failed {
            let Some((&h, _)) = self.workers.iter().find(|(_, x)| &x.addr == addr) else { continue };
            if let Some(i) = self.task(d).who_has.iter().position(|x| *x == h) {
                self.task_mut(d).who_has.swap_remove(i);
                self.workers.get_mut(&h).map(|x| x.holds.remove(&d));
                self.out.release.entry(h).or_default().push(dep.clone().into());
            }
        }
        if self.task(d).state == TaskState::Memory && self.task(d).who_has.is_empty() {
            // Lost: recomputed for `t` and for any other task that still needs it.
            self.set_state(d, TaskState::Released);
            self.need(d);
        }
        self.unassign(w, t);
        self.rare_mut(t).attempts += 1;
        if u32::from(self.attempts(t)) > ALLOWED_FAILURES * 4 {
            self.err(t, format!("task {key}: input {dep} could not be fetched from any holder").into());
        } else if self.task(d).state == TaskState::Memory {
            self.enqueue(t);
        } else {
            self.set_state(t, TaskState::Released);
            self.need(t);
        }
        self.schedule();
        self.run_release_checks();
    }

    /// A worker is gone: its running tasks go back to the queue (or err after too many
    /// deaths), results only it held are recomputed if still needed.
    pub fn remove_worker(&mut self, w: WorkerId) {
        if self.workers.contains_key(&w) {
            self.stats.workers_lost += 1;
            self.forget_worker(w);
        }
    }

    /// Worker `w` is gone (dead, or retired with nothing of its own left): what it ran is
    /// queued again and what only it held is recomputed if still needed.
    pub(super) fn forget_worker(&mut self, w: WorkerId) {
        let Some(worker) = self.workers.remove(&w) else { return };
        self.copying.retain(|&(_, to), from| to != w && *from != Some(w));
        // In priority order, the order the worker starts its tasks in: one deep in its queue
        // had not started — unless the worker finished as many as were ahead of it and died
        // before reporting them. Such a death counts against it only as a queued one.
        let mut running: Vec<TaskId> = worker.processing.into_iter().collect();
        running.sort_by_key(|&t| self.task(t).priority());
        let window = worker.nthreads + SATURATION;
        for (position, t) in running.into_iter().enumerate() {
            if self.task(t).state != TaskState::Processing(w) {
                continue;
            }
            let rare = self.rare_mut(t);
            if position < window {
                rare.attempts += 1;
            } else {
                rare.deaths_queued += 1;
            }
            let (attempts, deaths) = (rare.attempts, rare.attempts + rare.deaths_queued);
            let scattered = rare.scattered;
            // A task that has killed two workers is not handed the last one left.
            let last_worker_at_risk = attempts >= 2 && self.workers.len() == 1;
            if scattered {
                let key = self.task(t).key.key();
                self.err(t, format!("{key} was scattered to a worker that died before it was stored").into());
            } else if attempts >= ALLOWED_FAILURES as u16
                || deaths >= 2 * ALLOWED_FAILURES as u16
                || last_worker_at_risk
            {
                // Deaths while queued count too, at half weight: a task that kills its worker
                // is erred even if it always started deep in a queue.
                let key = self.task(t).key.key();
                let spared = if last_worker_at_risk { " (the last worker left is not risked on it)" } else { "" };
                self.err(
                    t,
                    format!("task {key}: its worker died {deaths} times running it or with it queued{spared}").into(),
                );
            } else {
                self.enqueue(t);
            }
        }
        let mut lost = Vec::new();
        for t in worker.holds {
            let Some(task) = self.tasks[t].as_mut() else { continue };
            task.who_has.retain(|x| *x != w);
            if task.who_has.is_empty() && task.state == TaskState::Memory {
                lost.push(t);
            }
        }
        lost.sort_by_key(|&t| self.task(t).priority());
        for &t in &lost {
            self.set_state(t, TaskState::Released);
        }
        for t in lost {
            let needed = !self.task(t).wanted_by.is_empty() || self.task(t).active_dependents > 0;
            if needed {
                self.need(t);
            }
        }
        self.schedule();
        self.run_release_checks();
        self.settle_copies();
    }
}
