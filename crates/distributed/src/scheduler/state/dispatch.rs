//! Handing ready tasks out: each round pops the ready heap in priority order while some worker
//! has room, places each task (`placement.rs`) and sends it as an [`Assignment`] with the
//! addresses of the peers holding the inputs its worker lacks. Tasks a user marked urgent may
//! go past a worker's saturation; the rest wait here, so the graph's order decides what runs
//! next.

use rask_protocol::dist::{Assignment, TaskDef};

use super::{State, TaskId, TaskState, Worker, WorkerId};

impl State {
    /// Hands queued tasks to workers with room, best data locality first, then least loaded.
    pub fn schedule(&mut self) {
        if !self.blocked.is_empty() {
            self.schedule_blocked();
        }
        let mut waiting_roots = Vec::new();
        loop {
            if !self.workers.values().any(Worker::has_room) {
                self.place_urgent();
                break;
            }
            let root_bytes = self.ready.first_root().and_then(|t| self.root_mean_nbytes(t));
            let roots = self.workers.values().any(|w| w.has_room_for_root(root_bytes));
            let Some((p, t)) = self.ready.pop(roots) else {
                self.balance();
                break;
            };
            if self.tasks[t].as_ref().is_none_or(|task| task.state != TaskState::Queued) {
                continue; // stale entry: cancelled, erred, forgotten or re-queued since
            }
            if self.constraints(t).is_some() {
                self.place_constrained(p, t);
                continue;
            }
            let w = match self.task(t).deps.is_empty() {
                true if self.is_large_root(t) => self.root_worker(),
                true => {
                    let nbytes = self.root_mean_nbytes(t);
                    self.choose_worker_among(t, |w| w.has_room_for_root(nbytes))
                }
                false => Some(self.choose_worker(t)),
            };
            w.map_or_else(|| waiting_roots.push((p, t)), |w| self.assign(t, w));
        }
        for (p, t) in waiting_roots {
            self.ready.push(p, t, true);
        }
    }

    /// Tasks a user marked urgent (priority above 0) go to a worker even when none has room
    /// by its saturation — up to twice it, so that a whole graph marked urgent is still
    /// queued here: queues are short for long tasks, and the worker runs the urgent one next
    /// instead of the scheduler holding it until a queued task finishes.
    fn place_urgent(&mut self) {
        while let Some((p, t)) = self.ready.pop_urgent() {
            if self.tasks[t].as_ref().is_none_or(|task| task.state != TaskState::Queued) {
                continue;
            }
            if self.constraints(t).is_some() {
                self.place_constrained(p, t);
                continue;
            }
            let room = |w: &Worker| w.occupied() < 2 * (w.nthreads + w.saturation());
            match self.choose_worker_among(t, |w| !w.report.paused && !w.retiring && room(w)) {
                Some(w) => self.assign(t, w),
                None => {
                    self.ready.push(p, t, self.task(t).deps.is_empty());
                    return;
                }
            }
        }
    }

    /// The mean result of `t`'s group, if `t` is still known (a ready entry may be stale).
    pub(super) fn root_mean_nbytes(&self, t: TaskId) -> Option<u64> {
        self.tasks[t].as_ref().and_then(|task| self.groups.mean_nbytes(task.group))
    }

    /// Makes `t` ready: queued here until a worker has room for it.
    pub(super) fn enqueue(&mut self, t: TaskId) {
        self.set_state(t, TaskState::Queued);
        let task = self.task(t);
        self.ready.push(task.priority(), t, task.deps.is_empty());
    }

    pub(super) fn assign(&mut self, t: TaskId, w: WorkerId) {
        self.set_state(t, TaskState::Processing(w));
        let group = self.task(t).group;
        let worker = self.workers.get_mut(&w).expect("chosen worker");
        worker.take_on(t, group);
        if let Some(hints) = self.tasks[t].as_ref().and_then(|x| x.hints.as_deref()) {
            worker.account(hints, -1.0);
        }
        let holders = self
            .task(t)
            .deps
            .iter()
            .map(|&d| {
                let dep = self.task(d);
                if dep.who_has.contains(&w) {
                    Vec::new()
                } else {
                    dep.who_has.iter().map(|h| self.workers[h].addr.clone()).collect()
                }
            })
            .collect();
        let own = self.task(t);
        // Keys go out as the bytes held: a worker decodes them, the scheduler need not.
        let deps = own.deps.iter().map(|&d| self.task(d).key.wire()).collect();
        let task = TaskDef { key: own.key.wire(), op: own.op.clone(), deps, hints: own.hints.clone() };
        let (generation, rank) = own.order;
        let order = u64::from(generation) << 32 | u64::from(rank);
        self.out.compute.entry(w).or_default().push(Assignment { task, holders, order, id: t });
    }
}
