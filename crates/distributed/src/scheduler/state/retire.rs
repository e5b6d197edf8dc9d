//! Graceful retirement, and restarting the cluster.
//!
//! Retirement: a worker leaves without losing work. It stops getting tasks and gives
//! back those it has not started; once its running tasks end, every result only it holds is
//! copied to another worker (worker to worker, as `rebalance` moves them); when it holds
//! nothing unique and runs nothing, it is told to leave (`out.retired`) and forgotten — no
//! recomputation. Asked by a client (`retire_workers`, answered `Retired` with the addresses
//! gone) or by the worker itself on SIGTERM.
//!
//! Restart (`Client::restart`): every task is dropped — each client hears its wanted keys
//! err — and every worker is told to start afresh (`out.restart`; a worker process re-executes
//! itself and joins again as a new worker).

use rask_protocol::dist::ToClient;
use rustc_hash::FxHashSet;

use super::{ClientId, State, TaskId, TaskState, WorkerId};

/// What a client's futures say after a restart.
const RESTARTED: &str = "the cluster was restarted: its results and running tasks were dropped";

/// Workers being retired for one request, and who asked (none: the worker itself).
pub(super) struct Retirement {
    client: Option<ClientId>,
    workers: Vec<WorkerId>,
    addrs: Vec<String>,
}

impl State {
    /// Retires the workers at these addresses (or whose host is one of them); client `c` is
    /// answered with the addresses retired once they are gone. An error if no other worker
    /// would be left to take their results.
    pub fn retire_workers(&mut self, c: ClientId, addrs: &[String]) {
        let chosen: Vec<WorkerId> = self
            .workers
            .iter()
            .filter(|(_, w)| addrs.iter().any(|a| *a == w.addr || w.addr.rsplit_once(':').is_some_and(|(h, _)| h == a)))
            .map(|(&id, _)| id)
            .collect();
        self.retire(Some(c), chosen);
    }

    /// Worker `w` asks to leave (it was sent SIGTERM).
    pub fn retire_self(&mut self, w: WorkerId) {
        if self.workers.contains_key(&w) {
            self.retire(None, vec![w]);
        }
    }

    fn retire(&mut self, c: Option<ClientId>, chosen: Vec<WorkerId>) {
        let staying = self.workers.values().filter(|w| !w.retiring).count()
            - chosen.iter().filter(|w| !self.workers[w].retiring).count();
        if staying == 0 && !chosen.is_empty() {
            match c {
                Some(c) => {
                    let why = "retiring them would leave no worker to take their results".to_owned();
                    self.out.to_clients.push((c, ToClient::Retired { workers: Vec::new(), refused: Some(why) }));
                }
                // The last worker leaving on its own: nowhere to move its results. With none,
                // it is retired; with some, it goes as a lost worker would (what is still
                // wanted is recomputed when a worker joins).
                None => {
                    for w in chosen {
                        self.out.retired.push(w);
                        let worker = &self.workers[&w];
                        if worker.holds.is_empty() && worker.processing.is_empty() {
                            self.stats.workers_retired += 1;
                            self.forget_worker(w);
                        } else {
                            self.remove_worker(w);
                        }
                    }
                }
            }
            return;
        }
        for &w in &chosen {
            let worker = self.workers.get_mut(&w).expect("chosen above");
            worker.retiring = true;
            let unstarted: Vec<TaskId> =
                worker.processing.iter().copied().filter(|t| !self.stealing.contains(t)).collect();
            self.ask_back(w, unstarted);
        }
        let addrs = chosen.iter().map(|w| self.workers[w].addr.clone()).collect();
        self.retirements.push(Retirement { client: c, workers: chosen, addrs });
        self.progress_retirements();
    }

    /// Moves retiring workers on: copies out what only they hold, and lets go those with
    /// nothing left. Called after every batch of events while a retirement is under way.
    pub fn progress_retirements(&mut self) {
        if self.retirements.is_empty() {
            return;
        }
        let retiring: Vec<WorkerId> = self.workers.iter().filter(|(_, w)| w.retiring).map(|(&id, _)| id).collect();
        let in_flight: FxHashSet<TaskId> = self.copying.keys().map(|&(t, _)| t).collect();
        let mut loads = self.loads();
        for w in retiring {
            if !self.workers[&w].processing.is_empty() {
                continue; // running tasks finish here first (their results are copied after)
            }
            let unique: Vec<TaskId> = self.workers[&w]
                .holds
                .iter()
                .copied()
                .filter(|&t| self.task(t).state == TaskState::Memory && self.task(t).who_has[..] == [w])
                .collect();
            if unique.is_empty() {
                self.stats.workers_retired += 1;
                self.out.retired.push(w);
                self.forget_worker(w);
                continue;
            }
            let addr = self.workers[&w].addr.clone();
            for t in unique.into_iter().filter(|t| !in_flight.contains(t)) {
                let Some(to) = loads.take(&[], self.task(t).nbytes()) else { continue };
                self.copying.insert((t, to), Some(w));
                let key = self.task(t).key.key();
                self.out.fetch.entry(to).or_default().push((key, vec![addr.clone()]));
            }
        }
        // Requests whose workers are all gone (retired, or lost meanwhile) are answered.
        let mut i = 0;
        while i < self.retirements.len() {
            if self.retirements[i].workers.iter().any(|w| self.workers.contains_key(w)) {
                i += 1;
                continue;
            }
            let done = self.retirements.swap_remove(i);
            if let Some(c) = done.client {
                self.out.to_clients.push((c, ToClient::Retired { workers: done.addrs, refused: None }));
            }
        }
    }
}

impl State {
    /// A client gone: its retirements go on, unanswered.
    pub(super) fn forget_retirement_client(&mut self, c: ClientId) {
        for r in &mut self.retirements {
            if r.client == Some(c) {
                r.client = None;
            }
        }
    }
}

impl State {
    /// Drops every task and restarts every worker; client `c` is answered with how many
    /// workers there were (the client waits for as many to join again).
    pub fn restart(&mut self, c: ClientId) {
        for task in self.tasks.iter().flatten() {
            for &w in &task.wanted_by {
                let key = task.key.key();
                self.out.to_clients.push((w, ToClient::Erred { key, error: RESTARTED.into(), cause: None }));
            }
        }
        let workers = self.workers.len() as u32;
        self.out.restart.extend(self.workers.keys().copied());
        let old = std::mem::take(self);
        // Kept: who is connected, the coordination structures, the counters and the task
        // stream; everything about tasks and workers starts empty.
        *self = State {
            clients: old.clients.keys().map(|&id| (id, Default::default())).collect(),
            progress: old.progress.keys().map(|&id| (id, Default::default())).collect(),
            coord: old.coord,
            monitor: old.monitor,
            stats: old.stats,
            generation: old.generation + 1,
            address: old.address,
            out: old.out,
            ..State::default()
        };
        self.stats.restarts += 1;
        self.out.to_clients.push((c, ToClient::Restarted { workers }));
    }
}
